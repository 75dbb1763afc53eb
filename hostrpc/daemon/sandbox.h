/* SPDX-License-Identifier: MIT */
/*
 * sandbox.h - confine a guest's worker (the virtiofsd model).
 *
 * A worker parses everything its guest sends, so it is treated as the
 * guest's: once its channel and services are set up it keeps nothing that
 * a compromised worker could turn against the host or another guest.  In
 * order, after set-up and before its main loop (hostrpcd --worker, worker.c):
 *
 *  1. hrpcd_sandbox_mount_enter() (root only): the workers' mount namespace,
 *     made once by the daemon (hrpcd_sandbox_mount_ns_new(); a worker
 *     started alone makes its own, hrpcd_sandbox_mount()).  The
 *     state directory - or, if the guest's uid could not pass through one
 *     of its parents (a private 0700 directory around it), the highest such
 *     parent - is covered by an empty, read-only tmpfs: the fd holder's
 *     socket, the daemon's sockets, every guest's audit log (when the
 *     audit directory is below it, as by default) are gone, and nothing
 *     there is writable: a worker keeps no file of its own (the supervisor
 *     asks it for its socket listing over its control channel,
 *     worker-ctl.h; it writes its audit log, audit-sink.h).  This comes
 *     after the services have read their configuration (which may live
 *     under the covered directory) and opened their network namespace.
 *  2. hrpcd_sandbox_drop() (after set-up): every capability out of the
 *     bounding and ambient sets, then the guest's own uid and gid
 *     (hrpcd_sandbox_guest_uid(); supplementary groups cleared), which
 *     empties the permitted and effective sets.  The parent-death signal,
 *     which a uid change clears, is armed again.
 *  3. hrpcd_sandbox_seccomp(): no_new_privs and the allow-list in sandbox.c;
 *     any other system call kills the worker (SIGSYS; the supervisor logs
 *     it like any crash).  A sanitizer build (configure
 *     --enable-sanitizers, or --enable-tsan) allows what ASan/UBSan's
 *     reports need as well, and answers EPERM instead of killing, so a
 *     report (or TSan's own calls) is not cut short.  The filter binds
 *     every thread of the worker (TSYNC).
 *
 * A hostrpcd that does not run as root cannot change uid or mount anything:
 * its workers keep its uid and mount namespace and still get 2 and 3.
 *
 * Error convention: 0 or -errno, with a message in `err` (non-GLib core).
 */
#ifndef HOSTRPCD_SANDBOX_H
#define HOSTRPCD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Default first uid of the workers' range (0x7f000000: above systemd's
 * DynamicUser and container ranges, below its "foreign" range) and its
 * length.  Guest N runs as base + N % HRPCD_SANDBOX_UID_SPAN, gid the same
 * number; ids are not reused while the daemon runs, so two live guests
 * share a uid only if one of them outlived 65535 later guests. */
#define HRPCD_SANDBOX_UID_BASE 0x7f000000u
#define HRPCD_SANDBOX_UID_SPAN 65536u

/* The worker uid of guest `guest_id`; (uid_t)-1 when `base` is 0 (keep the
 * daemon's uid). */
uid_t hrpcd_sandbox_guest_uid(uint32_t base, uint32_t guest_id);

/* A guest's file name in the socket audit directory (audit-sink.h) and its
 * policy's (outsource/sock/sock-glib.c): `name`, or "guest<ID>" when it is empty,
 * "." or ".."; '/', '\\' and blanks become '_'. */
void hrpcd_sandbox_file_name(const char *name, uint32_t guest_id, char *out, size_t len);

/* Step 1 in the calling process.  `state_dir` absolute. */
int hrpcd_sandbox_mount(const char *state_dir, uid_t uid, char *err, size_t errlen);
/*
 * Step 1 made once, for every worker of a daemon: a short-lived child does
 * hrpcd_sandbox_mount() and the caller keeps its namespace.  Returns an
 * O_CLOEXEC descriptor of that namespace or -errno.  A worker then only
 * enters it (hrpcd_sandbox_mount_enter()): starting or ending a worker
 * mounts and unmounts nothing.  (The last process of a private mount
 * namespace tears it down as it exits and waits for an expedited RCU grace
 * period there, seconds on a loaded host, while its guest stays listed.)
 * `uid`: any worker uid; the cover point is the same for all of them, as
 * none owns a directory above the state directory.
 */
int hrpcd_sandbox_mount_ns_new(const char *state_dir, uid_t uid, char *err, size_t errlen);
/* Enter such a namespace (setns) and the state directory, `state_dir`
 * absolute, as hrpcd_sandbox_mount() leaves a worker. */
int hrpcd_sandbox_mount_enter(int ns_fd, const char *state_dir, char *err, size_t errlen);
/* Step 2; `uid` (uid_t)-1: keep the uid, only drop what can be dropped. */
int hrpcd_sandbox_drop(uid_t uid, pid_t parent, char *err, size_t errlen);
/* Step 2 for a worker that serves filesystem exports (outsource/fs): it
 * acts as its guest's callers, so it stays uid 0 with CAP_CHOWN,
 * CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETUID and CAP_SETGID
 * (and CAP_MKNOD when an export allows device nodes) and nothing else, the
 * securebits locked so no set*id brings the rest back (virtiofsd's model;
 * what guest callers may do is fs-server's id policy).  Not root: as
 * hrpcd_sandbox_drop() with the uid kept. */
int hrpcd_sandbox_drop_fs(bool mknod, char *err, size_t errlen);
/* Before it, for such a worker (root only; else nothing): a mount
 * namespace of its own whose root is an empty read-only tmpfs with /proc
 * bound in, the old root detached - the exports stay reachable through the
 * descriptors opened at set-up, nothing else of the host's tree is. */
int hrpcd_sandbox_fs_root(char *err, size_t errlen);
/* Step 3. */
int hrpcd_sandbox_seccomp(char *err, size_t errlen);
/* Step 3 with, for `fs`, the calls fs-server makes (writing files,
 * xattrs, setfsuid/setfsgid/setgroups, inotify). */
int hrpcd_sandbox_seccomp_fs(bool fs, char *err, size_t errlen);
/* Did hrpcd_sandbox_seccomp() build the relaxed (sanitizer) filter? */
bool hrpcd_sandbox_relaxed(void);

#endif /* HOSTRPCD_SANDBOX_H */
