/* SPDX-License-Identifier: MIT */
/*
 * services.h - the services a worker offers its guest.  One table
 * (services.c); an outsourced service (sock, fs, mem) plugs in by adding a
 * row.  Services are started in table order and stopped in reverse.
 */
#ifndef HOSTRPCD_SERVICES_H
#define HOSTRPCD_SERVICES_H

#include <glib.h>

#include "hostrpc/hostrpc.h"

typedef struct _HrpcdWorkerSpec HrpcdWorkerSpec;

typedef struct {
	const char *name;
	/* Register handlers on `srv` for the guest of `spec`; may keep per-guest
	 * state in *state (passed to stop).  Runs in the worker process. */
	gboolean (*start)(hrpc_server *srv, const HrpcdWorkerSpec *spec, gpointer *state,
			  GError **error);
	/* Release what start made; NULL if nothing to release. */
	void (*stop)(gpointer state);
} HrpcdService;

typedef struct _HrpcdServices HrpcdServices;

/* Start every service of the table on `srv`.  NULL with `error` set if one
 * failed (those already started are stopped again). */
HrpcdServices *hrpcd_services_start(hrpc_server *srv, const HrpcdWorkerSpec *spec,
				    GError **error);
void hrpcd_services_stop(HrpcdServices *svcs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdServices, hrpcd_services_stop)

/* The socket service's listing (its effective policy, then the sockets),
 * as text or JSON, for the supervisor's request (worker-ctl.h).  0 with
 * `*text` (g_free) and `*len`, or -ENODATA when no socket service runs. */
/* The socket service, for a migration (NULL: not started). */
typedef struct _OutsourceSockService OutsourceSockService;
OutsourceSockService *hrpcd_services_sock(HrpcdServices *svcs);

int hrpcd_services_list_sockets(HrpcdServices *svcs, gboolean json, char **text, gsize *len);
/* The same for the filesystem service: its exports and open files. */
int hrpcd_services_list_files(HrpcdServices *svcs, gboolean json, char **text, gsize *len);
/* How many exports the guest's filesystem policy gives it (the sandbox
 * keeps what serving them takes only for such guests), and in *allow what
 * they allow together (FSS_ALLOW_*). */
guint hrpcd_services_fs_exports(HrpcdServices *svcs, guint32 *allow);
/* The filesystem service, for a migration (NULL: not started). */
typedef struct _OutsourceFsService OutsourceFsService;
OutsourceFsService *hrpcd_services_fs(HrpcdServices *svcs);
/* The guest's memory service (hostrpcctl memory), or NULL. */
typedef struct _OutsourceMemService OutsourceMemService;
OutsourceMemService *hrpcd_services_mem(HrpcdServices *svcs);

#endif /* HOSTRPCD_SERVICES_H */
