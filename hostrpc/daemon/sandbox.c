/* SPDX-License-Identifier: MIT */
/* sandbox.c - confining a guest's worker (sandbox.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/securebits.h>
#include <seccomp.h>

#include "hostrpc/daemon/sandbox.h"

#define FAIL(rc_, ...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); \
		return (rc_); } while (0)

uid_t hrpcd_sandbox_guest_uid(uint32_t base, uint32_t guest_id)
{
	if (!base)
		return (uid_t)-1;
	return (uid_t)(base + guest_id % HRPCD_SANDBOX_UID_SPAN);
}

void hrpcd_sandbox_file_name(const char *name, uint32_t guest_id, char *out, size_t len)
{
	size_t i;

	if (!name || !*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(out, len, "guest%u", guest_id);
		return;
	}
	for (i = 0; name[i] && i + 1 < len; i++)
		out[i] = strchr("/\\ \t\n", name[i]) ? '_' : name[i];
	out[i] = 0;
}

/* ---- 1. mount namespace ------------------------------------------------ */

/* Where the tmpfs goes: the state directory, or its highest ancestor that
 * `uid` could not pass through (a private 0700 directory around it, as in
 * the tests): the guest's directory must be reachable by its path once the
 * worker has its own uid.  `out` gets a prefix of `state_dir`. */
static void cover_point(const char *state_dir, uid_t uid, char *out, size_t len)
{
	size_t n = strlen(state_dir);

	snprintf(out, len, "%s", state_dir);
	if (uid == (uid_t)-1 || n >= len)
		return;
	for (size_t i = 1; i <= n; i++) {
		struct stat st;

		if (state_dir[i] != '/' && state_dir[i] != 0)
			continue;
		out[i] = 0;
		if (stat(out, &st) == 0 && !(st.st_mode & S_IXOTH) &&
		    !(st.st_uid == uid && (st.st_mode & S_IXUSR)) &&
		    !(st.st_gid == (gid_t)uid && (st.st_mode & S_IXGRP)))
			return;
		out[i] = state_dir[i];
	}
}

/* mkdir -p below a fresh tmpfs (only there: everything else exists). */
static int mkdirs(const char *path)
{
	char p[4096];
	size_t n = strlen(path);

	if (n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, path, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int hrpcd_sandbox_mount(const char *state_dir, uid_t uid, char *err, size_t errlen)
{
	char cover[4096];
	int rc;

	if (unshare(CLONE_NEWNS) < 0)
		FAIL(-errno, "cannot make a mount namespace: %s", strerror(errno));
	/* Nothing we mount goes back to the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		FAIL(-errno, "cannot make / private: %s", strerror(errno));
	cover_point(state_dir, uid, cover, sizeof(cover));
	if (mount("hostrpc-worker", cover, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=64k") < 0)
		FAIL(-errno, "cannot cover %s: %s", cover, strerror(errno));
	if ((rc = mkdirs(state_dir)) < 0)
		FAIL(rc, "cannot make %s: %s", state_dir, strerror(-rc));
	if (mount(NULL, cover, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=64k") < 0)
		FAIL(-errno, "cannot make %s read-only: %s", cover, strerror(errno));
	/* Our working directory still is the host's state directory, under
	 * the tmpfs: enter the covered one. */
	if (chdir(state_dir) < 0)
		FAIL(-errno, "cannot enter %s: %s", state_dir, strerror(errno));
	return 0;
}

struct ns_verdict {
	int rc;
	char err[256];
};

int hrpcd_sandbox_mount_ns_new(const char *state_dir, uid_t uid, char *err, size_t errlen)
{
	struct ns_verdict v = { .rc = -EIO };
	int up[2], down[2], fd = -1, status;
	char path[64];
	ssize_t n;
	pid_t pid;

	if (pipe2(up, O_CLOEXEC) < 0)
		FAIL(-errno, "cannot make a pipe: %s", strerror(errno));
	if (pipe2(down, O_CLOEXEC) < 0) {
		int e = errno;

		close(up[0]);
		close(up[1]);
		FAIL(-e, "cannot make a pipe: %s", strerror(e));
	}
	pid = fork();
	if (pid == 0) {
		/* Mounts, then wait until the parent holds the namespace. */
		char c;

		close(up[0]);
		close(down[1]);
		v.rc = hrpcd_sandbox_mount(state_dir, uid, v.err, sizeof(v.err));
		if (write(up[1], &v, sizeof(v)) == (ssize_t)sizeof(v) && v.rc == 0)
			while (read(down[0], &c, 1) < 0 && errno == EINTR)
				;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0) {
		v.rc = -errno;
		snprintf(v.err, sizeof(v.err), "cannot fork: %s", strerror(errno));
	} else {
		do
			n = read(up[0], &v, sizeof(v));
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof(v)) {
			v.rc = -EIO;
			snprintf(v.err, sizeof(v.err), "the namespace's maker died");
		}
		v.err[sizeof(v.err) - 1] = 0;
		if (v.rc == 0) {
			snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", (long)pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				v.rc = -errno;
				snprintf(v.err, sizeof(v.err), "cannot open %s: %s", path,
					 strerror(errno));
			}
		}
	}
	close(down[1]);   /* the child exits; the namespace stays with fd */
	close(up[0]);
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (v.rc < 0)
		FAIL(v.rc, "%s", v.err);
	return fd;
}

int hrpcd_sandbox_mount_enter(int ns_fd, const char *state_dir, char *err, size_t errlen)
{
	if (setns(ns_fd, CLONE_NEWNS) < 0)
		FAIL(-errno, "cannot enter the workers' mount namespace: %s", strerror(errno));
	if (chdir(state_dir) < 0)
		FAIL(-errno, "cannot enter %s: %s", state_dir, strerror(errno));
	return 0;
}

/* ---- 2. capabilities and uid ------------------------------------------- */

int hrpcd_sandbox_drop(uid_t uid, pid_t parent, char *err, size_t errlen)
{
	bool root = geteuid() == 0;

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		FAIL(-errno, "cannot clear the ambient capabilities: %s", strerror(errno));
	for (int cap = 0; cap <= CAP_LAST_CAP + 8; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL && root)
			FAIL(-errno, "cannot drop capability %d: %s", cap, strerror(errno));
	if (uid != (uid_t)-1 && root) {
		gid_t gid = (gid_t)uid;

		/* Groups first: setresuid() takes CAP_SETGID with the rest. */
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			FAIL(-errno, "cannot become uid %u: %s", (unsigned)uid, strerror(errno));
		if (getuid() != uid || geteuid() != uid || getegid() != gid)
			FAIL(-EPERM, "still not uid %u", (unsigned)uid);
		/* A uid change clears the parent-death signal. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			FAIL(-errno, "cannot arm the parent-death signal: %s", strerror(errno));
		if (getppid() != parent)
			FAIL(-ESRCH, "the supervisor is gone");
	} else {
		/* Same uid (--worker-uid-base=0): at least no capability. */
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

		if (syscall(SYS_capset, &h, none) < 0)
			FAIL(-errno, "cannot drop the capabilities: %s", strerror(errno));
	}
	return 0;
}

/* A worker that serves filesystem exports keeps CAP_DAC_OVERRIDE: what it
 * can see is only what it must.  A mount namespace of its own whose root is
 * an empty tmpfs holding /proc (fs-server names its descriptors through
 * /proc/self/fd; sanitizer reports read /proc/self/maps), the old root
 * detached: the exports stay reachable through the descriptors opened
 * before, nothing else of the host's tree is.  The mount point of the new
 * root is /tmp of the old tree, covered in this namespace only. */
int hrpcd_sandbox_fs_root(char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	if (unshare(CLONE_NEWNS) < 0)
		FAIL(-errno, "cannot make the worker's own mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		FAIL(-errno, "cannot make the mounts private: %s", strerror(errno));
	if (mount("hostrpc-fs-root", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,mode=0755") < 0)
		FAIL(-errno, "cannot mount the new root: %s", strerror(errno));
	if (mkdir("/tmp/proc", 0555) < 0 || mkdir("/tmp/old", 0700) < 0)
		FAIL(-errno, "cannot make the new root's directories: %s", strerror(errno));
	if (mount("/proc", "/tmp/proc", NULL, MS_BIND | MS_REC, NULL) < 0)
		FAIL(-errno, "cannot bind /proc into the new root: %s", strerror(errno));
	if (syscall(SYS_pivot_root, "/tmp", "/tmp/old") < 0)
		FAIL(-errno, "cannot pivot to the new root: %s", strerror(errno));
	if (chdir("/") < 0 || umount2("/old", MNT_DETACH) < 0 || rmdir("/old") < 0)
		FAIL(-errno, "cannot let go of the old root: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		FAIL(-errno, "cannot make the new root read-only: %s", strerror(errno));
	return 0;
}

/* A worker that serves filesystem exports (outsource/fs) acts as each of
 * its guest's callers (fs-server's setfsuid/setfsgid/setgroups per call), as
 * virtiofsd does: it stays uid 0 with these capabilities only.  The kernel
 * drops the file ones from the effective set while the fsuid is not 0. */
static const int fs_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETUID, CAP_SETGID,
};

int hrpcd_sandbox_drop_fs(bool mknod, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
	uint64_t keep = 0;

	if (geteuid() != 0)
		return hrpcd_sandbox_drop((uid_t)-1, getppid(), err, errlen);
	for (size_t i = 0; i < sizeof(fs_caps) / sizeof(fs_caps[0]); i++)
		keep |= 1ull << fs_caps[i];
	if (mknod)
		keep |= 1ull << CAP_MKNOD;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		FAIL(-errno, "cannot clear the ambient capabilities: %s", strerror(errno));
	for (int cap = 0; cap <= CAP_LAST_CAP + 8; cap++)
		if (!(cap < 64 && (keep & (1ull << cap))) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			FAIL(-errno, "cannot drop capability %d: %s", cap, strerror(errno));
	/* Groups of its own: none (the callers' come per call). */
	if (setgroups(0, NULL) < 0)
		FAIL(-errno, "cannot clear the groups: %s", strerror(errno));
	/* The bounding set caps what any transition could give back; uid 0
	 * grants nothing more at an execve (which step 3 forbids anyway).
	 * The set*id fixups stay on: they are what takes CAP_DAC_OVERRIDE
	 * and the other file capabilities away while a caller's fsuid is not
	 * 0.  (Before capset: it takes CAP_SETPCAP.) */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0) < 0)
		FAIL(-errno, "cannot lock the securebits: %s", strerror(errno));
	d[0].permitted = d[0].effective = (uint32_t)keep;
	d[1].permitted = d[1].effective = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		FAIL(-errno, "cannot keep only the filesystem capabilities: %s", strerror(errno));
	return 0;
}

/* ---- 3. seccomp -------------------------------------------------------- */

/*
 * What a worker does after set-up (collected with strace -f over the
 * integration tests and a VM guest; README.md lists it too):
 *  - its loop: poll/ppoll, epoll (the socket service), eventfds and timerfds,
 *    futex, clocks, GLib's wakeups;
 *  - memory: mmap/munmap/mremap/mprotect/madvise/brk (malloc, bulk buffers);
 *  - the socket service: socket (AF_INET and AF_INET6 only), connect, bind,
 *    listen, accept4, send/recv families, socket options, shutdown, ioctl
 *    (SIOCINQ and friends, checked in sock.c), getsockname/getpeername;
 *  - files: openat, getdents64, access, readlink, getcwd to read (GLib,
 *    /proc/self); no rename, unlink, fsync, fchmod, ftruncate: no worker
 *    writes a file (the supervisor asks it for its socket listing,
 *    worker-ctl.h, and writes its audit log, audit-sink.h);
 *  - logging: write to stderr, or sendto on the syslog socket connected
 *    before the filter;
 *  - exit, signals to itself (abort), prctl (GLib thread names).
 * Everything else - ptrace, mount, setns, unshare, clone of a new process,
 * execve, kexec_load, bpf, keyctl, perf_event_open, module loading,
 * process_vm_*, setuid... - kills the worker.
 */
static const char *const allowed[] = {
	/* I/O on what we hold */
	"read", "readv", "write", "writev", "pread64", "pwrite64", "close", "lseek",
	"dup", "dup2", "dup3", "fcntl", "fstat", "newfstatat", "statx", "stat", "lstat",
	"ioctl", "pipe2", "eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"poll", "ppoll", "select", "pselect6",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	/* reading files (GLib, /proc/self); nothing is writable to a worker */
	"openat", "open", "getdents64",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "memfd_create",
	/* the guest's memory region (outsource/mem): punch what it gave back,
	 * pin what it asks, find what it refilled */
	"fallocate", "mlock", "munlock",
	/* threads, time, identity */
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"sched_yield", "sched_getaffinity", "clock_gettime", "clock_getres", "clock_nanosleep",
	"nanosleep", "gettimeofday", "time", "getrandom", "uname", "sysinfo",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
	"getresuid", "getresgid", "getrlimit", "prlimit64", "getrusage", "times",
	"restart_syscall", "exit", "exit_group",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
	/* sockets (outsource/sock; syslog); socket() itself below */
	"connect", "bind", "listen", "accept", "accept4", "shutdown",
	"getsockname", "getpeername", "getsockopt", "setsockopt",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
};

/* Extra for a worker that serves filesystem exports (fs-server acting as
 * its callers on the export trees it opened before the filter). */
static const char *const allowed_fs[] = {
	"mkdirat", "mknodat", "unlinkat", "renameat2", "linkat", "symlinkat", "chmod",
	"fchmodat", "fchownat", "truncate", "ftruncate", "utimensat", "fsync", "fdatasync",
	"fgetxattr", "flistxattr", "fsetxattr", "fremovexattr", "fstatfs",
	"statfs", "openat2", "umask", "setfsuid", "setfsgid", "setgroups", "flock",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch", "name_to_handle_at",
};

/* Extra for ASan/UBSan (configure --enable-sanitizers): a report reads
 * /proc/self/maps and the binary (openat, read, mmap: allowed anyway) and
 * probes memory; the relaxed filter answers EPERM to everything else
 * instead of killing, so a report is never cut short - and no more is
 * allowed than in production.  LeakSanitizer cannot run in a worker (it
 * ptraces its own threads, and a worker is not dumpable after its uid
 * change): the tests' environment sets detect_leaks=0. */
static const char *const allowed_sanitizers[] = {
	"msync", "mincore",
};

#ifdef HRPC_SANITIZERS
static const bool relaxed = true;
#else
static const bool relaxed = false;
#endif

bool hrpcd_sandbox_relaxed(void)
{
	return relaxed;
}

static int allow(scmp_filter_ctx ctx, const char *const *names, size_t n,
		 char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (nr == __NR_SCMP_ERROR)
			continue;   /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0)
			FAIL(rc, "seccomp: cannot allow %s: %s", names[i], strerror(-rc));
	}
	return 0;
}

int hrpcd_sandbox_seccomp(char *err, size_t errlen)
{
	return hrpcd_sandbox_seccomp_fs(false, err, errlen);
}

int hrpcd_sandbox_seccomp_fs(bool fs, char *err, size_t errlen)
{
	uint32_t deny = relaxed ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		FAIL(-errno, "cannot set no_new_privs: %s", strerror(errno));
	ctx = seccomp_init(deny);
	if (!ctx)
		FAIL(-ENOMEM, "seccomp: cannot build the filter");
	/* Every thread of the process, not only the caller: a filter binds
	 * only the thread that loads it and those it creates later, and a
	 * thread started before (by GLib, or ThreadSanitizer's own, which
	 * let setuid(0) succeed there while it failed here, and glibc abort)
	 * would run unfiltered. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0) {
		seccomp_release(ctx);
		FAIL(rc, "seccomp: cannot ask for every thread (TSYNC): %s", strerror(-rc));
	}
	rc = allow(ctx, allowed, sizeof(allowed) / sizeof(allowed[0]), err, errlen);
	/* Signals to ourselves only (abort(), raise()): tgkill with our pid. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	/* GLib names its threads; nothing else of prctl. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
	/* New sockets: the guest's, IPv4 and IPv6 only.  Not AF_UNIX: in
	 * the host's namespaces a worker could reach abstract sockets of
	 * host services.  The syslog socket is connected before the filter
	 * (worker.c); should syslog need a new one, it fails, not the worker. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_INET));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* A thread, never a process (GLib's worker threads, if any). */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* clone3 passes its flags in memory, out of the filter's reach: say
	 * it does not exist, and glibc falls back to clone. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (!rc && fs)
		rc = allow(ctx, allowed_fs, sizeof(allowed_fs) / sizeof(allowed_fs[0]), err, errlen);
	if (!rc && relaxed)
		rc = allow(ctx, allowed_sanitizers,
			   sizeof(allowed_sanitizers) / sizeof(allowed_sanitizers[0]), err, errlen);
	if (rc < 0) {
		seccomp_release(ctx);
		if (err && errlen && !*err)
			snprintf(err, errlen, "seccomp: cannot build the filter: %s", strerror(-rc));
		return rc;
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		FAIL(rc, "seccomp: cannot load the filter: %s", strerror(-rc));
	return 0;
}
