/* SPDX-License-Identifier: MIT */
/*
 * supervisor.h - the long-lived part of hostrpcd.
 *
 * The supervisor accepts guests and forks one worker per guest (worker.h);
 * it never maps a guest's memory or parses a guest's message.  It owns:
 *   - the process-guest listening socket (each accepted connection goes to
 *     its worker and is closed here right after the fork);
 *   - the ivshmem endpoints: per named guest a listening socket and, while
 *     QEMU is attached, the guest's memfd and eventfds.  QEMU never
 *     reconnects, so these outlive workers: a worker that dies (crash,
 *     fence, BYE) is replaced by a fresh one on the same memory, which
 *     re-initialises the channel and rings the guest's reset vector;
 *   - the guest table and every worker's status page.
 * Endpoints can be added and removed while the daemon runs (the libvirt
 * integration will do so on domain start/stop).
 */
#ifndef HOSTRPCD_SUPERVISOR_H
#define HOSTRPCD_SUPERVISOR_H

#include <glib.h>

#include "hostrpc/daemon/guest-table.h"

typedef struct {
	const char *socket_path;  /* process guests; NULL: do not listen */
	const char *state_dir;    /* workers run in it; NULL: stay put */
	guint max_guests;         /* 0: default */
	gsize memfd_size;         /* process guests' channel size; 0: default */
} HrpcdSupervisorConfig;

#define HRPCD_DEFAULT_MAX_GUESTS 256

typedef struct _HrpcdSupervisor HrpcdSupervisor;

HrpcdSupervisor *hrpcd_supervisor_new(const HrpcdSupervisorConfig *cfg, GError **error);
/* Removes the endpoints, stops every worker (SIGTERM, then SIGKILL after a
 * grace period), reaps them and frees all guests. */
void hrpcd_supervisor_free(HrpcdSupervisor *sup);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdSupervisor, hrpcd_supervisor_free)

/* Create an ivshmem endpoint for the guest `name` listening on `path`
 * (`shm_size` 0: default). */
gboolean hrpcd_supervisor_add_endpoint(HrpcdSupervisor *sup, const char *name,
				       const char *path, gsize shm_size, GError **error);
/* Remove it.  If QEMU is attached, the endpoint stays until QEMU detaches
 * (QEMU never reconnects: removing it under a running guest would strand
 * the guest); adding the same name and path again meanwhile keeps it. */
gboolean hrpcd_supervisor_remove_endpoint(HrpcdSupervisor *sup, const char *name,
					  GError **error);
guint hrpcd_supervisor_endpoint_count(HrpcdSupervisor *sup);

HrpcdGuestTable *hrpcd_supervisor_guests(HrpcdSupervisor *sup);

#endif /* HOSTRPCD_SUPERVISOR_H */
