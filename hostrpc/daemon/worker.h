/* SPDX-License-Identifier: MIT */
/*
 * worker.h - one process per guest (the MRM principle: a guest can at worst
 * break its own worker).
 *
 * The supervisor starts a worker with exactly the descriptors of that
 * guest's channel and the guest's status page.  The child does nothing
 * between fork() and execve() but async-signal-safe calls (reset signals,
 * ask for SIGKILL when the supervisor dies, renumber its descriptors and
 * close all others) and then runs hostrpcd again as `hostrpcd --worker ...`:
 * a fresh image, no copy of the supervisor's heap (other guests' state), no
 * GLib state inherited from a threaded process (GLib's helper thread and the
 * libvirt thread hold GLib's global locks at times; a forked-only child could
 * deadlock on them).  The worker maps its status page, builds the channel,
 * registers the services of services.c and serves the guest with
 * hrpc_glib_conn_attach() until the guest hangs up, says BYE or is fenced,
 * or (ivshmem) rings the reset request: the supervisor's next worker lays
 * out a fresh channel, so nothing of the guest's previous life survives.
 *
 * Descriptors of a worker (fixed numbers, so nothing about them needs to be
 * parsed):
 *   3  status page (guest-status.h)
 *   memfd:   4 the guest's connection
 *   ivshmem: 4 the shared memfd, 5-6 the daemon's vectors 0-1 (the guest
 *            rings these), 7-8 the guest's vectors 0-1 (we ring these)
 *   9  the audit channel (audit-sink.h), both transports
 *  10  the control channel (worker-ctl.h): the supervisor's requests
 *  11  the workers' mount namespace (sandbox.h), when the daemon has one
 *  12  the spinner count page (polling, below), when the daemon polls
 *
 * Polling (hostrpcd --poll): after serving calls a worker spins on its
 * guest's rings for an adaptive budget (HrpcGlibPolling, hostrpc-glib.h)
 * before it arms the doorbell and sleeps, so a guest in a request/response
 * loop finds the worker awake: no doorbell exit, no wake-up.  All workers
 * share one count of spinners (a page the supervisor made) and spin only
 * while it is below poll_spinners, so spinning takes spare cores only.
 *
 * Once the channel and services are set up the worker confines itself
 * (sandbox.h): the workers' mount namespace, the guest's own uid, no
 * capabilities, no_new_privs, a seccomp allow-list.
 */
#ifndef HOSTRPCD_WORKER_H
#define HOSTRPCD_WORKER_H

#include <limits.h>
#include <sys/types.h>

#include <glib.h>

#include "hostrpc/admin.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/ivshmem.h"
#include "hostrpc/daemon/guest-policy.h"
#include "hostrpc/daemon/guest-status.h"

/* Exit codes of a worker process. */
enum {
	HRPCD_WORKER_EXIT_DONE   = 0, /* guest hung up or said BYE */
	HRPCD_WORKER_EXIT_SETUP  = 1, /* the channel could not be set up */
	HRPCD_WORKER_EXIT_FENCED = 3, /* guest broke the protocol */
	HRPCD_WORKER_EXIT_IO     = 4, /* transport error */
	HRPCD_WORKER_EXIT_RESET  = 5, /* ivshmem guest asked for a fresh channel */
	HRPCD_WORKER_EXIT_MIGRATED = 6, /* the guest runs on another host now */
};

/* The spinner count page (one u32 used) and the largest budget. */
#define HRPCD_GATE_SIZE   4096u
#define HRPCD_POLL_MAX_NS (10u * 1000 * 1000)

struct _HrpcdWorkerSpec {
	guint32 guest_id;
	char name[64];
	enum hrpc_admin_transport transport;
	/* memfd: size of the channel to create (0: default).
	 * ivshmem: size of shm_fd. */
	gsize shm_size;
	int status_fd;                            /* the guest's status page */
	int sock;                                 /* memfd: the guest's connection */
	int shm_fd;                               /* ivshmem: the shared memfd */
	struct hrpc_xen_chan_spec xen;            /* xen: the domU's grants and ring port */
	guint32 xen_reset_port;                   /* xen: the domU's reset port */
	int host_fd[HRPC_IVSHMEM_NR_VECTORS];     /* ivshmem: the guest rings these */
	int guest_fd[HRPC_IVSHMEM_NR_VECTORS];    /* ivshmem: we ring these */
	const char *workdir;                      /* NULL: stay where we are */
	const char *sock_policy_dir;              /* socket policies; NULL: default */
	const char *fs_policy_dir;                /* filesystem exports; NULL: default */
	const char *mem_policy_dir;               /* memory regions; NULL: default */
	const char *guest_policy_dir;             /* guests/NAME.conf (guest-policy.h), which
						   * when there decides over the three above;
						   * NULL: default */
	const HrpcdGuestPolicy *guest_policy;     /* in the worker: what it found there */
	gboolean mem_adopt;                       /* the same running guest had a worker
						   * before: keep its memory (outsource-mem.h) */
	int audit_fd;                             /* audit-sink.h; -1: none */
	int ctl_fd;                               /* worker-ctl.h; -1: none */
	int mntns_fd;                             /* sandbox.h's shared namespace; -1: own */
	int gate_fd;                              /* the spinner count page; -1: none */
	guint32 poll_max_ns;                      /* adaptive polling; 0: off */
	guint32 poll_spinners;                    /* the gate's limit */
	uid_t uid;                                /* sandbox.h; (uid_t)-1: keep */
	int nice;                                 /* run at this nice (the guest's own,
						   * hrpcd_worker_guest_nice());
						   * HRPCD_NICE_KEEP: the supervisor's */
	int mig_fd;                               /* incoming migration link; -1: none */
	const char *mig_intro;                    /* its intro (hex), read by the supervisor */
	const char *mig_key;                      /* the per-pair key file */
	int remnant_fd;                           /* with mig_fd: to this host's remnant of
						   * the guest (worker-priv.h); -1: none */
	struct hrpcd_status *status;              /* in the worker: status_fd mapped */
};
typedef struct _HrpcdWorkerSpec HrpcdWorkerSpec;

#define HRPCD_NICE_KEEP INT_MIN

/*
 * The nice a worker for the guest process (or QEMU) `pid` runs at: the
 * guest's own when it is lower priority (a larger nice) than ours, else
 * HRPCD_NICE_KEEP - never higher priority than the supervisor's.  A guest
 * cannot buy through its worker CPU it would not get itself: the
 * process-guest analogue of charging a VM's vhost thread to the VM.  Read
 * once, when the worker starts.  pid 0 (a Xen domU, not known): KEEP.
 */
int hrpcd_worker_guest_nice(pid_t pid);

/* Fill in the "no descriptor" defaults. */
void hrpcd_worker_spec_init(HrpcdWorkerSpec *spec, guint32 guest_id, const char *name,
			    enum hrpc_admin_transport transport, int status_fd);

/* Start the worker.  Returns its pid, or 0 with `error` set.  The caller keeps
 * its own copies of the descriptors and closes what it does not need. */
pid_t hrpcd_worker_spawn(const HrpcdWorkerSpec *spec, GError **error);

/* `hostrpcd --worker ...`: the worker process.  Returns its exit code. */
int hrpcd_worker_main(int argc, char **argv);

/* "exited with status 3 (guest fenced)", "killed by signal 9 (Killed)". */
char *hrpcd_worker_describe_exit(int wait_status);

#endif /* HOSTRPCD_WORKER_H */
