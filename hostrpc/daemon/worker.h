/* SPDX-License-Identifier: MIT */
/*
 * worker.h - one process per guest (the MRM principle: a guest can at worst
 * break its own worker).
 *
 * The supervisor forks a worker with exactly the descriptors of that guest's
 * channel and the guest's status page; the child drops everything else it
 * inherited (other guests' fds and pages, the listening sockets), builds the
 * channel, registers the services of services.c and serves the guest on its
 * own GLib main context until the guest hangs up, says BYE or is fenced.
 *
 * Fork safety: the child is forked from a GLib program, not exec'd (it must
 * inherit the MAP_SHARED status page).  It therefore uses only a fresh
 * GMainContext of its own, never the default context, GLib's worker thread,
 * child watches or unix signal sources, and it leaves with _exit().
 */
#ifndef HOSTRPCD_WORKER_H
#define HOSTRPCD_WORKER_H

#include <sys/types.h>

#include <glib.h>

#include "hostrpc/admin.h"
#include "hostrpc/ivshmem.h"
#include "hostrpc/daemon/guest-status.h"

/* Exit codes of a worker process. */
enum {
	HRPCD_WORKER_EXIT_DONE   = 0, /* guest hung up or said BYE */
	HRPCD_WORKER_EXIT_SETUP  = 1, /* the channel could not be set up */
	HRPCD_WORKER_EXIT_FENCED = 3, /* guest broke the protocol */
	HRPCD_WORKER_EXIT_IO     = 4, /* transport error */
};

struct _HrpcdWorkerSpec {
	guint32 guest_id;
	char name[64];
	enum hrpc_admin_transport transport;
	/* memfd: size of the channel to create (0: default).
	 * ivshmem: size of shm_fd. */
	gsize shm_size;
	int sock;                                 /* memfd: the guest's connection */
	int shm_fd;                               /* ivshmem: the shared memfd */
	int host_fd[HRPC_IVSHMEM_NR_VECTORS];     /* ivshmem: the guest rings these */
	int guest_fd[HRPC_IVSHMEM_NR_VECTORS];    /* ivshmem: we ring these */
	struct hrpcd_status *status;
	const char *workdir;                      /* NULL: stay where we are */
};
typedef struct _HrpcdWorkerSpec HrpcdWorkerSpec;

/* Fill in the "no descriptor" defaults. */
void hrpcd_worker_spec_init(HrpcdWorkerSpec *spec, guint32 guest_id, const char *name,
			    enum hrpc_admin_transport transport, struct hrpcd_status *status);

/* Fork the worker.  Returns its pid, or 0 with `error` set.  The caller keeps
 * its own copies of the descriptors and must close what it does not need. */
pid_t hrpcd_worker_spawn(const HrpcdWorkerSpec *spec, GError **error);

/* "exited with status 3 (guest fenced)", "killed by signal 9 (Killed)". */
char *hrpcd_worker_describe_exit(int wait_status);

#endif /* HOSTRPCD_WORKER_H */
