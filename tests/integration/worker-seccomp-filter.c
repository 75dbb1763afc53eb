/* SPDX-License-Identifier: MIT */
/*
 * worker-seccomp-filter - the seccomp allow-list of hostrpcd's workers
 * (hostrpc/daemon/sandbox.c), installed by the same function the worker
 * calls, in a child per system call: what a worker needs still works (a
 * thread, a socket, a write, its own name), and what an attacker who owns a
 * worker wants is refused - the child is killed with SIGSYS (EPERM in a
 * sanitizer build, whose filter answers instead of killing: sandbox.h).
 * No test hook exists in the daemon: the integration test worker-sandboxed
 * checks that real workers run under this filter (Seccomp: 2).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/tap.h"
#include "hostrpc/daemon/sandbox.h"

enum { ALLOWED = 0, REFUSED = 1, ERRNO = 2 /* refused with an errno, not killed */ };

static void *thread_fn(void *arg)
{
	return arg;
}

/* In the child, after the filter: the call's outcome as an exit code.
 * 0 = it worked, 1 = it failed with EPERM/ENOSYS, 2 = other failure. */
static int outcome(long rc)
{
	if (rc >= 0)
		return 0;
	return (errno == EPERM || errno == ENOSYS || errno == EACCES) ? 1 : 2;
}

static int try(int which)
{
	char buf[16];
	struct iovec l = { buf, sizeof(buf) }, r = { buf, sizeof(buf) };

	switch (which) {
	/* what a worker does */
	case 0: return outcome(write(STDERR_FILENO, "", 0));
	case 1: {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0)
			close(fd);
		return outcome(fd);
	}
	case 2: {
		pthread_t t;
		int e = pthread_create(&t, NULL, thread_fn, NULL);

		if (!e)
			pthread_join(t, NULL);
		errno = e;
		return outcome(e ? -1 : 0);
	}
	case 3: return outcome(prctl(PR_SET_NAME, "hrpcd-test"));
	case 4: return outcome(getpid());
	/* what it must not */
	case 5: return outcome(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	case 6: return outcome(mount("none", "/tmp", "tmpfs", 0, NULL));
	case 7: return outcome(syscall(SYS_kexec_load, 0, 0, NULL, 0));
	case 8: return outcome(unshare(CLONE_NEWUSER));
	case 9: return outcome(setns(0, 0));
	case 10: return outcome(execl("/bin/true", "true", (char *)NULL));
	case 11: {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		return outcome(p);
	}
	case 12: return outcome(setuid(0));
	case 13: return outcome(kill(1, 0));
	case 14: return outcome(syscall(SYS_process_vm_readv, getppid(), &l, 1, &r, 1, 0));
	case 15: return outcome(syscall(SYS_bpf, 0, NULL, 0));
	case 16: return outcome(prctl(PR_SET_DUMPABLE, 1));
	case 17: return outcome(syscall(SYS_init_module, NULL, 0, ""));
	case 18: return outcome(syscall(SYS_keyctl, 0, 0, 0, 0, 0));
	case 19: return outcome(chroot("/"));
	case 20: {
		int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd >= 0)
			close(fd);
		return outcome(fd);
	}
	case 21: return socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EAFNOSUPPORT ? 1 : 2;
	case 22: return outcome(socket(AF_NETLINK, SOCK_RAW, 0));
	case 23: return outcome(socket(AF_PACKET, SOCK_RAW, 0));
	/* A worker writes no file: the supervisor asks it (worker-ctl.h). */
	case 24: return outcome(unlink("/nonexistent-hostrpc-worker-file"));
	case 25: return outcome(rename("/nonexistent-hostrpc-a", "/nonexistent-hostrpc-b"));
	}
	return 2;
}

static const struct {
	const char *what;
	int expect;
} cases[] = {
	{ "write", ALLOWED }, { "socket(AF_INET)", ALLOWED }, { "a thread", ALLOWED },
	{ "prctl(PR_SET_NAME)", ALLOWED }, { "getpid", ALLOWED },
	{ "ptrace(PTRACE_TRACEME)", REFUSED }, { "mount", REFUSED }, { "kexec_load", REFUSED },
	{ "unshare(CLONE_NEWUSER)", REFUSED }, { "setns", REFUSED }, { "execve", REFUSED },
	{ "fork", REFUSED }, { "setuid(0)", REFUSED }, { "kill(1)", REFUSED },
	{ "process_vm_readv on the parent", REFUSED }, { "bpf", REFUSED },
	{ "prctl(PR_SET_DUMPABLE)", REFUSED }, { "init_module", REFUSED }, { "keyctl", REFUSED },
	{ "chroot", REFUSED }, { "socket(AF_INET6)", ALLOWED },
	{ "socket(AF_UNIX): EAFNOSUPPORT, no abstract sockets of the host", ERRNO },
	{ "socket(AF_NETLINK)", REFUSED }, { "socket(AF_PACKET)", REFUSED },
	{ "unlink", REFUSED }, { "rename", REFUSED },
};

int main(void)
{
	int n = (int)(sizeof(cases) / sizeof(cases[0]));

	tap_plan(n + 1);
	tap_diag("filter: %s", hrpcd_sandbox_relaxed() ? "sanitizer build (refusals answer EPERM)"
						       : "refusals kill the process (SIGSYS)");
	{
		pid_t p = fork();
		int st = 0;

		if (p == 0) {
			char err[256] = "";
			int rc = hrpcd_sandbox_seccomp(err, sizeof(err));
			FILE *f;
			char line[256];
			int seccomp = -1, nnp = -1;

			if (rc < 0) {
				fprintf(stderr, "# %s\n", err);
				_exit(3);
			}
			/* stdio's fopen works under the filter (reading:
			 * GLib and /proc/self) */
			f = fopen("/proc/self/status", "r");
			while (f && fgets(line, sizeof(line), f)) {
				sscanf(line, "Seccomp: %d", &seccomp);
				sscanf(line, "NoNewPrivs: %d", &nnp);
			}
			_exit(seccomp == 2 && nnp == 1 ? 0 : 4);
		}
		waitpid(p, &st, 0);
		tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "the filter installs: NoNewPrivs 1, Seccomp 2 (wait status 0x%x)", st);
	}
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		int st = 0;
		bool ok;

		if (p == 0) {
			char err[256] = "";

			if (hrpcd_sandbox_seccomp(err, sizeof(err)) < 0)
				_exit(3);
			_exit(try(i));
		}
		waitpid(p, &st, 0);
		if (cases[i].expect == ALLOWED)
			ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		else if (cases[i].expect == ERRNO)
			ok = WIFEXITED(st) && WEXITSTATUS(st) == 1;
		else if (hrpcd_sandbox_relaxed())
			ok = (WIFEXITED(st) && WEXITSTATUS(st) == 1) ||
			     (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
		else
			ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
		tap_ok(ok, "%s: %s (wait status 0x%x)", cases[i].what,
		       cases[i].expect == ALLOWED ? "allowed" : "refused", st);
	}
	return tap_done();
}
