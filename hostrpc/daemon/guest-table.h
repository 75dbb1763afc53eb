/* SPDX-License-Identifier: MIT */
/*
 * guest-table.h - the supervisor's guests.
 *
 * A guest is one process-guest connection or one QEMU attached to an ivshmem
 * endpoint.  It has a small integer id (assigned here, ascending, not reused
 * while the daemon runs), a name, a status page its worker publishes in, and
 * at most one worker process at a time.  The table is the supervisor's own
 * memory: nothing in it comes from a guest except the name, which is copied
 * out of the status page and sanitised.
 *
 * Lifetime.  A guest is reference-counted.  The table holds one reference
 * from hrpcd_guest_table_add() to hrpcd_guest_table_remove(); whoever keeps
 * a guest beyond the current main-loop callback (a GLib source's closure,
 * an endpoint's link to its attached guest) holds one of its own and drops
 * it with hrpcd_guest_unref() - for a source, in its GDestroyNotify.  The
 * status page is unmapped and its fd closed with the last reference, so a
 * holder may always read it.  Once removed, a guest is no longer in the
 * table (hrpcd_guest_removed()): callbacks still holding it must leave it
 * alone.  The table is reached only through lookups and id-ordered
 * iteration; it never lends out its container.
 */
#ifndef HOSTRPCD_GUEST_TABLE_H
#define HOSTRPCD_GUEST_TABLE_H

#include <sys/types.h>

#include <glib.h>

#include "hostrpc/admin.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/daemon/guest-status.h"

#define HRPCD_GUEST_NAME_MAX 64

typedef struct _HrpcdGuest HrpcdGuest;
typedef struct _HrpcdGuestTable HrpcdGuestTable;
struct _HrpcdGuest {
	guint32 id;
	char name[HRPCD_GUEST_NAME_MAX];
	gboolean named;              /* name is final: endpoint name or HELLO label */
	enum hrpc_admin_transport transport;
	struct hrpcd_status *status; /* written by the worker: untrusted */
	int status_fd;               /* handed to each worker of this guest */
	gint64 connected_us;         /* g_get_monotonic_time() */
	pid_t peer_pid;              /* SO_PEERCRED of the guest process / QEMU */

	/* the worker (supervisor.c keeps these) */
	pid_t worker_pid;            /* 0: none running */
	guint child_watch;
	gint64 worker_started_us;
	guint restarts;              /* workers started after the first */
	guint quick_failures;        /* consecutive workers that died young */
	guint respawn_timer;
	gboolean stopping;           /* guest gone: free it once the worker is reaped */
	gpointer endpoint;           /* ivshmem: the endpoint this guest is attached to */
	struct hrpc_xen_chan_spec xen; /* xen: its checked handshake (xen-domains.h) */
	guint32 xen_reset_port;      /* xen: the guest's reset event channel */

	guint hello_timer;           /* process guest: its HELLO deadline (supervisor.c) */

	/* a live migration (supervisor.c, migrate-doors.c) */
	int mig_fd;                  /* an incoming link for the next worker; -1: none */
	char *mig_intro;             /* its intro, hex */
	gboolean mig_worker;         /* the running worker took an incoming migration */
	gboolean migrated;           /* the guest moved away: no more workers */
	gboolean remnant;            /* moved away; its worker relays connections that
	                              * stayed here (issue 14) until they end */
	gboolean fwd_connecting;     /* the remnant's link to the guest's next host is
	                              * being made (supervisor.c, fwd_connect) */

	/* guest-table.c keeps these */
	guint refs;
	gboolean removed;            /* out of the table: callbacks leave it alone */
	HrpcdGuestTable *table;      /* while in it */
};

HrpcdGuest *hrpcd_guest_ref(HrpcdGuest *g);
/* Drop a reference; the last one unmaps the status page and frees `g`.
 * NULL-safe. */
void hrpcd_guest_unref(HrpcdGuest *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdGuest, hrpcd_guest_unref)
/* Has it left the table? */
gboolean hrpcd_guest_removed(const HrpcdGuest *g);

HrpcdGuestTable *hrpcd_guest_table_new(guint max_guests);
/* A new limit (SIGHUP): guests beyond it stay, new ones are refused. */
void hrpcd_guest_table_set_max(HrpcdGuestTable *t, guint max_guests);
/* Removes the remaining guests too (their workers must be gone). */
void hrpcd_guest_table_free(HrpcdGuestTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdGuestTable, hrpcd_guest_table_free)

/* New guest with the next id and a fresh status page.  `name` NULL: the
 * guest is called "guest-ID" until its worker reports a HELLO label.  NULL
 * with `error` set when the table is full or the page cannot be mapped.
 * The guest is borrowed from the table: take a reference to keep it. */
HrpcdGuest *hrpcd_guest_table_add(HrpcdGuestTable *t, enum hrpc_admin_transport transport,
				  const char *name, pid_t peer_pid, GError **error);
/* Take `g` out of the table and drop the table's reference (the guest
 * lives on while others hold references, marked removed). */
void hrpcd_guest_table_remove(HrpcdGuestTable *t, HrpcdGuest *g);

/* Lookups return a borrowed guest: valid until the table changes. */
HrpcdGuest *hrpcd_guest_table_lookup(HrpcdGuestTable *t, guint32 id);
/* The guest with the smallest id >= first_id, or NULL (for paging and for
 * iterating: next(t, 0), then next(t, g->id + 1) while g->id < G_MAXUINT32). */
HrpcdGuest *hrpcd_guest_table_next(HrpcdGuestTable *t, guint32 first_id);
/* The guest with the smallest id whose name is `name`, or NULL. */
/* The guest of that name; one that runs (or waits for its QEMU) before the
 * remnant of one that moved away and came back (supervisor.c). */
HrpcdGuest *hrpcd_guest_table_find_name(HrpcdGuestTable *t, const char *name);
guint hrpcd_guest_table_count(HrpcdGuestTable *t);

/*
 * Names.  A name belongs to one guest: its policy, network namespace, audit
 * log and admin listing go by it.  VM (ivshmem) guests are named by the
 * configuration: their endpoint names are reserved here for as long as the
 * endpoint exists, whether or not a QEMU is attached.  A process guest is
 * "guest-ID" until its HELLO, then its sanitised label - unless that label
 * is reserved, is the name of a VM guest in the table, or is "guest-N" for
 * another guest's id N: then it stays "guest-ID" (a warning says why) and
 * is served as before.  Two process guests may say the same label (the id
 * tells them apart; neither gets a VM's name).  Reserving a name a process
 * guest holds takes it back: that guest becomes "guest-ID" again.
 */
void hrpcd_guest_table_reserve_name(HrpcdGuestTable *t, const char *name);
void hrpcd_guest_table_release_name(HrpcdGuestTable *t, const char *name);
/* Would `name` be refused as a process guest's HELLO label (for guest `id`)?
 * Returns why (static text), or NULL if it is free. */
const char *hrpcd_guest_table_name_taken(HrpcdGuestTable *t, const char *name, guint32 id);
/* Is `name` of the form process guests get before their HELLO ("guest-N",
 * N a canonical decimal)?  Such names cannot be endpoint names. */
gboolean hrpcd_guest_name_is_default(const char *name);

/* Copy out the worker's status page (sanitised) and settle the guest's name
 * from the HELLO label the first time there is one (see Names above).  Returns the guest's
 * state as the supervisor sees it: its own knowledge (stopping, no worker)
 * overrides what the worker claims. */
enum hrpc_admin_state hrpcd_guest_read_status(HrpcdGuest *g, struct hrpcd_status *out);

#endif /* HOSTRPCD_GUEST_TABLE_H */
