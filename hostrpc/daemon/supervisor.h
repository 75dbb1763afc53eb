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
 *
 * With an fd holder (cfg.fdstore_path, fdstore.h) the supervisor also
 * stores a duplicate of each endpoint's listening socket and of each
 * attached QEMU's connection, memfd and eventfds there the moment it has
 * them, and forgets them when the endpoint or QEMU goes.  On start-up it
 * fetches what an earlier daemon left there and adopts it: the endpoints
 * come back on the same listening sockets, and each QEMU still attached gets
 * a worker on its memory that re-initialises the channel and rings the
 * guest's reset vector.  When the daemon stops, everything stays with the
 * holder.
 */
#ifndef HOSTRPCD_SUPERVISOR_H
#define HOSTRPCD_SUPERVISOR_H

#include <glib.h>

#include "hostrpc/daemon/audit-sink.h"
#include "hostrpc/daemon/guest-table.h"

typedef struct {
	const char *socket_path;  /* process guests; NULL: do not listen */
	const char *state_dir;    /* workers run in it; NULL: stay put */
	guint max_guests;         /* 0: default */
	gsize memfd_size;         /* process guests' channel size; 0: default */
	const char *fdstore_path; /* the fd holder's socket (fdstore.h); NULL: none */
	guint fdstore_idle_s;     /* a holder we start: its --idle-exit (0: default) */
	gboolean fdstore_syslog;  /* a holder we start logs to syslog */
	guint32 worker_uid_base;  /* workers' uids (sandbox.h); 0: the daemon's */
	gsize audit_max_bytes;    /* socket audit log cap (audit-sink.h); 0: default */
	guint audit_rate;         /* audit lines a second per guest; 0: default */
	const char *sock_policy_dir; /* socket policies; NULL: SYSCONFDIR/hostrpc/sock */
	const char *fs_policy_dir;   /* filesystem exports; NULL: SYSCONFDIR/hostrpc/fs */
	const char *mem_policy_dir;  /* memory regions; NULL: SYSCONFDIR/hostrpc/mem */
	const char *guest_policy_dir; /* guests/NAME.conf (guest-policy.h), which decides
				       * over the three above when there; NULL:
				       * SYSCONFDIR/hostrpc/guests */
	const char *sock_audit_dir;  /* socket audit logs; NULL: <state_dir>/sock-audit */
	guint worker_ctl_timeout_ms; /* a worker's answer (worker-ctl.h); 0: default */
	guint hello_timeout_s;    /* process guests' HELLO deadline (0: default, 10 s) */
	gid_t endpoint_gid;       /* new ivshmem endpoints: 0660 for this group (0: 0600) */
	guint32 poll_max_ns;      /* workers' adaptive polling (worker.h); 0: off */
	guint32 poll_spinners;    /* most workers spinning at once (with poll_max_ns) */
	const char *migrate_key;  /* incoming migrations' per-pair key file; NULL: none */
	gboolean xen;             /* serve this Xen host's domUs (xen-domains.h) */
} HrpcdSupervisorConfig;

#define HRPCD_DEFAULT_MAX_GUESTS 256

typedef struct _HrpcdSupervisor HrpcdSupervisor;

HrpcdSupervisor *hrpcd_supervisor_new(const HrpcdSupervisorConfig *cfg, GError **error);
/* hostrpcd's SIGHUP: what applies to what comes next, from `cfg`: the
 * policy directories (workers started from now on read them), max_guests,
 * hello_timeout_s, audit_max_bytes and audit_rate, poll_max_ns and
 * poll_spinners (for workers started from now on).  Every other field is
 * ignored (hostrpcd says which need a restart).  Guests and workers stay.
 * FALSE (nothing changed) only when polling cannot be turned on. */
gboolean hrpcd_supervisor_reconfigure(HrpcdSupervisor *sup, const HrpcdSupervisorConfig *cfg,
				      GError **error);
/* Removes the endpoints, stops every worker (SIGTERM, then SIGKILL after a
 * grace period), reaps them and frees all guests.  What the fd holder holds
 * stays there (and the endpoints' socket files stay in place) for the next
 * daemon. */
void hrpcd_supervisor_free(HrpcdSupervisor *sup);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdSupervisor, hrpcd_supervisor_free)

/* Create an ivshmem endpoint for the guest `name` listening on `path`
 * (`shm_size` 0: default).  An endpoint adopted from the fd holder with the
 * same name and path is kept instead (claimed). */
gboolean hrpcd_supervisor_add_endpoint(HrpcdSupervisor *sup, const char *name,
				       const char *path, gsize shm_size, GError **error);
/* Remove it.  If QEMU is attached, the endpoint stays until QEMU detaches
 * (QEMU never reconnects: removing it under a running guest would strand
 * the guest); adding the same name and path again meanwhile keeps it. */
gboolean hrpcd_supervisor_remove_endpoint(HrpcdSupervisor *sup, const char *name,
					  GError **error);
guint hrpcd_supervisor_endpoint_count(HrpcdSupervisor *sup);
/* The socket path of the endpoint for guest `name`, or NULL if there is none
 * (or it goes when its QEMU detaches).  Valid until the endpoint changes. */
const char *hrpcd_supervisor_endpoint_path(HrpcdSupervisor *sup, const char *name);
/* Start-up is over: endpoints adopted from the fd holder that no
 * configuration claimed (hrpcd_supervisor_add_endpoint()) are removed, as by
 * hrpcd_supervisor_remove_endpoint(). */
void hrpcd_supervisor_adoption_done(HrpcdSupervisor *sup);
/* The fd holder's pid, 0 if there is none. */
pid_t hrpcd_supervisor_fdstore_pid(HrpcdSupervisor *sup);

HrpcdGuestTable *hrpcd_supervisor_guests(HrpcdSupervisor *sup);

/* The directory workers run in (NULL: the daemon's working directory). */
const char *hrpcd_supervisor_state_dir(HrpcdSupervisor *sup);

/* An incoming migration for ivshmem guest `g` (whose QEMU, started with
 * -incoming, is attached and never ran the guest here): its next worker
 * gets the link `fd` (ours on success) and the intro (hex) the door read. */
/* hostrpcctl migrations: a record per migration (migrate-doors.c begins
 * one when it hands a connection on; the worker's news and exit end it). */
struct hrpc_admin_migration;
void hrpcd_supervisor_migration_begin(HrpcdSupervisor *sup, HrpcdGuest *g, gboolean incoming);
guint hrpcd_supervisor_migrations(HrpcdSupervisor *sup, struct hrpc_admin_migration *out,
				  guint max);

gboolean hrpcd_supervisor_migrate_in(HrpcdSupervisor *sup, HrpcdGuest *g, int fd,
				     const char *intro_hex, GError **error);
/* The workers' control channels (worker-ctl.h), for the admin service. */
typedef struct _HrpcdWorkerCtl HrpcdWorkerCtl;
HrpcdWorkerCtl *hrpcd_supervisor_worker_ctl(HrpcdSupervisor *sup);
/* The socket audit logs (audit-sink.h), the supervisor's. */
HrpcdAuditSinks *hrpcd_supervisor_audit_sinks(HrpcdSupervisor *sup);

#endif /* HOSTRPCD_SUPERVISOR_H */
