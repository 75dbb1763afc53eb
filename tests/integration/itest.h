/* SPDX-License-Identifier: MIT */
/*
 * itest.h - helpers for the integration tests: run a private hostrpcd,
 * connect process guests and fake QEMU peers, query the admin service,
 * drive echo workloads with integrity checks.
 *
 * Every test starts its own hostrpcd on sockets in a fresh temporary
 * directory and must never hang: itest_watchdog() arms an alarm that kills
 * the daemons this process started and bails out.  Helpers return 0 / -errno
 * and print details as TAP diagnostics ("# ...").
 */
#ifndef HOSTRPC_ITEST_H
#define HOSTRPC_ITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "hostrpc/admin.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/ivshmem.h"
#include "hostrpc/memfd.h"
#include "hostrpc/ring.h"

struct itest_daemon {
	char dir[256];          /* private temporary directory */
	char guest_sock[320];
	char admin_sock[320];
	char state_dir[320];
	char log[320];          /* hostrpcd's stderr (of the latest start) */
	pid_t pid;
	int starts;
};

/* Abort the test (TAP "Bail out!") after `seconds`, killing our daemons. */
void itest_watchdog(unsigned int seconds);

/* Path of a program in the build tree ($top_builddir, else "."). */
char *itest_build_path(const char *rel);

/*
 * Start hostrpcd --foreground --verbose on private sockets, with the extra
 * arguments `extra` (NULL-terminated, may be NULL).  "@DIR@" in an extra
 * argument is replaced by the private directory.  Returns once the admin
 * socket answers, or -errno.
 */
int itest_daemon_start(struct itest_daemon *d, const char *const *extra);
/* Start it again after itest_daemon_kill(), on the same sockets and state
 * directory; its log goes to a new file (d->log). */
int itest_daemon_restart(struct itest_daemon *d, const char *const *extra);
/* Send `sig` and reap it (SIGKILL after 5 s); the directory stays.  Returns
 * the wait status, -1 if it had to be killed. */
int itest_daemon_kill(struct itest_daemon *d, int sig);
/* The watchdog kills `pid` too (a process the daemon started that outlives
 * it, such as its fd holder). */
void itest_kill_on_bailout(pid_t pid);
/* SIGTERM (SIGKILL after 5 s), reap, remove the directory (kept if
 * ITEST_KEEP is set).  Returns the wait status, -1 if it had to be killed,
 * -2 if its logs hold sanitizer reports (of the daemon or a worker). */
int itest_daemon_stop(struct itest_daemon *d);
/* ASan/UBSan reports in the logs of every start of `d` (printed as
 * diagnostics); 0 in a build without sanitizers. */
int itest_sanitizer_reports(struct itest_daemon *d);
/* Is the daemon still running (not exited, not a zombie)? */
bool itest_daemon_alive(struct itest_daemon *d);

/* The daemon's log so far (malloc'd, NUL-terminated). */
char *itest_log(struct itest_daemon *d);
/* Wait until one log line contains every needle (NULL-terminated list). */
bool itest_log_wait(struct itest_daemon *d, int timeout_ms, ...);
void itest_log_dump(struct itest_daemon *d);

/* Open descriptors of `pid`, or -errno. */
int itest_fd_count(pid_t pid);
/* Those whose /proc link target contains `target_part` ("pidfd"). */
int itest_fd_count_like(pid_t pid, const char *target_part);
/* A process guest that keeps its own view of the memory it was offered
 * (the memfd and both doorbells), to write what a libhostrpc client never
 * would: forged ring indexes, headers, doorbells for nothing. */
struct itest_raw_guest {
	char name[32];
	int sock;
	int fds[HRPC_MEMFD_NR_FDS];    /* memfd, to-server eventfd, to-client eventfd */
	struct hrpc_shm_hdr *shm;
	size_t size;
	hrpc_client *c;                /* its client, HELLO done */
	struct hrpc_admin_guest info;  /* as the daemon listed it, where a test asks */
};
/* Connect to the guest socket, map the offer and say HELLO as `name`;
 * 0 or -errno (then itest_raw_close() what was set up). */
int itest_raw_connect(const char *guest_sock, const char *name, struct itest_raw_guest *g);
void itest_raw_close(struct itest_raw_guest *g);
/* Ring the worker's doorbell once. */
int itest_raw_kick(struct itest_raw_guest *g);
/* Did the peer close `sock` within `ms`?  What it sends meanwhile is read
 * and dropped. */
bool itest_hung_up(int sock, int ms);
/* VmRSS of a process in KiB, -1 if it cannot be read. */
long itest_rss_kib(pid_t pid);
/* The fd holder's pid, from the daemon's latest log line naming it; 0 if
 * none was logged yet. */
pid_t itest_holder_pid(struct itest_daemon *d);
/* Wait until the count less GLib's pidfds (one per child it watches, on
 * GLib versions that use them) is `want`; returns the last such count. */
int itest_fd_held_wait(pid_t pid, int want, int timeout_ms);
/* List them as TAP diagnostics. */
void itest_fd_dump(pid_t pid);
/* The count once it stopped moving (for a baseline). */
int itest_fd_baseline(pid_t pid);
/* Wait until the count is `want`; returns the last count seen. */
int itest_fd_count_wait(pid_t pid, int want, int timeout_ms);
/* Has `pid` been reaped (no /proc entry or not our zombie)? */
bool itest_pid_gone(pid_t pid, int timeout_ms);

/* A connected unix stream socket, or -errno. */
int itest_unix_connect(const char *path);

/* Process guest: connect to the guest socket and say HELLO as `name`. */
int itest_guest_connect(const char *sock, const char *name, hrpc_client **out);

/*
 * `pings` PING calls (random sizes 0..4096) and `bulks` BULK calls (random
 * sizes up to 256 KiB), each checked byte for byte.  0 or -errno (-EILSEQ
 * for a corrupted reply).
 */
int itest_echo_workload(hrpc_client *c, unsigned int seed, int pings, int bulks);

/* Admin service: all guests / channels (at most `max`); returns the count. */
int itest_admin_guests(const char *admin_sock, struct hrpc_admin_guest *out, int max);
int itest_admin_channels(const char *admin_sock, struct hrpc_admin_channel *out, int max);
/* The guest called `name` (waiting up to 2 s for it to appear), or -ENOENT. */
int itest_admin_find(const char *admin_sock, const char *name, struct hrpc_admin_guest *out);
/* Is a guest called `name` listed right now?  (No waiting.) */
bool itest_admin_listed(const char *admin_sock, const char *name);
int itest_admin_find_channel(const char *admin_sock, const char *name,
			     struct hrpc_admin_channel *out);

/* A fake QEMU: the ivshmem client side, as QEMU's ivshmem-doorbell does it. */
struct itest_qemu {
	int sock;
	int64_t version, id;
	int shm_fd;
	size_t shm_size;
	void *map;
	/* eventfds of the host peer (we write them to ring it) and our own
	 * (they become readable when the host rings us) */
	int host_fd[HRPC_IVSHMEM_NR_VECTORS];
	int own_fd[HRPC_IVSHMEM_NR_VECTORS];
	int64_t host_id;
};

/* Connect to an ivshmem server socket and take the whole set-up, checking
 * the order and ids.  0 or -errno. */
int itest_qemu_connect(const char *path, struct itest_qemu *q);
/* Wait until the host rings our vector `v` (drains it). 0, -ETIMEDOUT. */
int itest_qemu_wait_vector(struct itest_qemu *q, unsigned int v, int timeout_ms);
/* The channel generation the host published (host_gen), or 0. */
uint32_t itest_qemu_host_gen(struct itest_qemu *q);
/* A libhostrpc client on the shared memory, named `name`. */
int itest_qemu_client(struct itest_qemu *q, const char *name, hrpc_client **out);
/* All three: connect, wait for the host's reset vector, start a client. */
int itest_qemu_attach(const char *path, const char *name, struct itest_qemu *q,
		      hrpc_client **out);
void itest_qemu_disconnect(struct itest_qemu *q);

#endif /* HOSTRPC_ITEST_H */
