/* SPDX-License-Identifier: MIT */
/*
 * ivshmem-daemon-restart - QEMU never reconnects to its ivshmem server, so
 * hostrpcd keeps every endpoint's listening socket and every attached QEMU's
 * connection, memfd and eventfds in its fd holder, a separate process that
 * outlives the daemon.  Killed outright (SIGKILL) or stopped (SIGTERM) while
 * a fake QEMU is attached and calling, a restarted hostrpcd on the same
 * state directory adopts them: the guest gets its reset vector, a new
 * host_gen on the same memory, and is served again on the same connection;
 * the endpoint keeps its socket inode.  A QEMU that left while the daemon
 * was down is cleaned up at start-up.  The holder leaks no descriptor,
 * forgets a QEMU that detaches, is replaced (and refilled) when it dies under
 * a running daemon, lets go on request and exits by itself once it holds
 * nothing and no daemon comes back.
 *
 *   test process                     hostrpcd (restarted)     fd holder
 *   fake QEMU "vm"  ---- vm.ivshmem ----> worker ...         listen, conn, shm,
 *   fake QEMU "vm2" ---- vm2.ivshmem ---> (leaves while       eventfds of both
 *                                          the daemon is down)
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/ring.h"
#include "tests/tap.h"
#include "itest.h"

/* What the holder holds per attached QEMU: connection, memfd, 2 x 2 eventfds. */
#define PER_QEMU (2 + 2 * HRPC_IVSHMEM_NR_VECTORS)

static const char *const args[] = {
	"--ivshmem", "vm=@DIR@/vm.ivshmem", "--ivshmem", "vm2=@DIR@/vm2.ivshmem",
	"--fdstore-idle", "2", NULL
};
static struct itest_daemon d;
static struct itest_qemu q, q2;

/* Warnings in the daemon's log other than the one about the holder we kill. */
static int unexpected_warnings(void)
{
	char *log = itest_log(&d), *p = log;
	int n = 0;

	while (*p) {
		char *nl = strchrnul(p, '\n'), save = *nl;

		*nl = 0;
		if (strstr(p, "warning") && !strstr(p, "lost the fd holder")) {
			tap_diag("unexpected: %s", p);
			n++;
		}
		*nl = save;
		p = *nl ? nl + 1 : nl;
	}
	free(log);
	return n;
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* ---- a guest that keeps calling ------------------------------------------------ */

struct caller {
	pthread_t thread;
	hrpc_client *c;
	atomic_bool stop;
	atomic_uint ok, failed;
};

static void *caller_run(void *arg)
{
	struct caller *k = arg;
	uint8_t buf[64];

	while (!atomic_load(&k->stop)) {
		struct hrpc_call call = {
			.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = buf, .req_len = sizeof(buf), .rep = buf, .rep_cap = sizeof(buf),
			.timeout_ms = 200,
		};

		if (hrpc_client_call(k->c, &call) == 0)
			atomic_fetch_add(&k->ok, 1);
		else
			atomic_fetch_add(&k->failed, 1);
	}
	return NULL;
}

static void caller_start(struct caller *k, hrpc_client *c)
{
	k->c = c;
	atomic_store(&k->stop, false);
	atomic_store(&k->ok, 0);
	atomic_store(&k->failed, 0);
	pthread_create(&k->thread, NULL, caller_run, k);
}

/* Wait (up to 5 s) until the caller has had `n` calls answered: the daemon
 * then goes down with calls in flight, not before the first was made. */
static bool caller_wait_ok(struct caller *k, unsigned int n)
{
	for (int ms = 0; atomic_load(&k->ok) < n; ms++) {
		if (ms >= 5000)
			return false;
		usleep(1000);
	}
	return true;
}

static void caller_stop(struct caller *k)
{
	atomic_store(&k->stop, true);
	pthread_join(k->thread, NULL);
}

/* ---- the restart ------------------------------------------------------------------ */

/*
 * While `c` calls: stop the daemon with `sig`, let `before_restart` run while
 * it is down, start it again.  Then the guest must get its reset vector and
 * a channel of generation `gen` on the same memory, and a new client on the
 * same connection is served.
 */
static bool restart_under_calls(int sig, hrpc_client **c, uint32_t gen, pid_t holder,
				void (*before_restart)(void))
{
	struct hrpc_admin_guest g;
	struct caller k;
	uint32_t worker;
	int status, rc;
	bool good = true;

	rc = itest_admin_find(d.admin_sock, "vm", &g);
	worker = rc == 0 ? g.worker_pid : 0;
	caller_start(&k, *c);
	good &= caller_wait_ok(&k, 20);
	status = itest_daemon_kill(&d, sig);
	tap_diag("%s: %u calls answered before, wait status 0x%x", strsignal(sig),
		 atomic_load(&k.ok), status);
	good &= atomic_load(&k.ok) > 0;
	good &= sig == SIGKILL ? (status >= 0 && WIFSIGNALED(status)) :
				 (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	good &= worker && itest_pid_gone((pid_t)worker, 5000);
	good &= kill(holder, 0) == 0;
	if (!good)
		tap_diag("daemon did not stop as expected, or its worker %u or the holder %ld "
			 "did not behave", worker, (long)holder);
	if (before_restart)
		before_restart();
	rc = itest_daemon_restart(&d, args);
	good &= rc == 0;
	rc = itest_qemu_wait_vector(&q, HRPC_IVSHMEM_VEC_RESET, 5000);
	caller_stop(&k);
	tap_diag("reset vector: %s; %u calls failed meanwhile (no daemon to answer)",
		 rc ? strerror(-rc) : "rung", atomic_load(&k.failed));
	good &= rc == 0;
	if (itest_qemu_host_gen(&q) != gen) {
		tap_diag("host_gen is %u, expected %u", itest_qemu_host_gen(&q), gen);
		good = false;
	}
	/* The guest side of the old generation is dead: attach anew. */
	hrpc_client_free(*c);
	*c = NULL;
	rc = itest_qemu_client(&q, "guest-again", c);
	if (rc == 0)
		rc = itest_echo_workload(*c, gen, 300, 4);
	if (rc < 0)
		tap_diag("calls after the restart: %s", strerror(-rc));
	return good && rc == 0;
}

static void vm2_leaves(void)
{
	itest_qemu_disconnect(&q2);
}

int main(void)
{
	struct hrpc_admin_guest g;
	char path[400], path2[400], state[400], cmd[1200];
	hrpc_client *c = NULL, *c2 = NULL;
	pid_t holder, holder2;
	ino_t ino;
	int base, n, rc;

	itest_watchdog(150);
	tap_plan(22);
	rc = itest_daemon_start(&d, args);
	if (!tap_ok(rc == 0, "hostrpcd starts with two ivshmem endpoints"))
		return 1;
	holder = itest_holder_pid(&d);
	if (holder > 0)
		itest_kill_on_bailout(holder);
	tap_ok(holder > 0 && getsid(holder) > 0 && getsid(holder) != getsid(d.pid) &&
	       getsid(holder) != getsid(0) && getpgid(holder) != getpgid(d.pid) &&
	       itest_log_wait(&d, 0, "fd holder pid", "started", NULL),
	       "it started an fd holder (pid %ld) in a session of its own", (long)holder);
	/* holder: std fds, its socket, the daemon's session, 2 listening sockets */
	base = itest_fd_count(holder) - 2;

	snprintf(path, sizeof(path), "%s/vm.ivshmem", d.dir);
	snprintf(path2, sizeof(path2), "%s/vm2.ivshmem", d.dir);
	ino = inode_of(path);
	rc = itest_qemu_attach(path, "guest-gen1", &q, &c);
	if (rc == 0)
		rc = itest_qemu_attach(path2, "other-gen1", &q2, &c2);
	tap_ok(rc == 0 && itest_qemu_host_gen(&q) == 1 && itest_echo_workload(c, 1, 300, 4) == 0 &&
	       itest_echo_workload(c2, 2, 50, 1) == 0,
	       "two fake QEMUs attach and are served (generation 1)");
	hrpc_client_free(c2);
	c2 = NULL;
	n = itest_fd_count_wait(holder, base + 2 + 2 * PER_QEMU, 2000);
	tap_ok(n == base + 2 + 2 * PER_QEMU,
	       "the holder got both listening sockets and each QEMU's %d descriptors (%d = %d + %d)",
	       PER_QEMU, n, base, 2 + 2 * PER_QEMU);

	/* 1. SIGKILL; vm2's QEMU leaves while no daemon runs. */
	tap_ok(restart_under_calls(SIGKILL, &c, 2, holder, vm2_leaves),
	       "hostrpcd killed (SIGKILL) while the guest calls, restarted: reset vector, "
	       "generation 2, calls work again on the same connection");
	tap_ok(itest_log_wait(&d, 0, "fd holder pid", "found", NULL) && itest_holder_pid(&d) == holder &&
	       itest_log_wait(&d, 0, "(vm): QEMU pid", "still attached, adopted", NULL),
	       "the new daemon found the same holder and adopted the attached QEMU");
	tap_ok(itest_log_wait(&d, 0, "ivshmem vm2:", "left while hostrpcd was down", NULL) &&
	       !itest_admin_listed(d.admin_sock, "vm2"),
	       "the QEMU that left while hostrpcd was down is cleaned up at once");
	n = itest_fd_count_wait(holder, base + 2 + PER_QEMU, 3000);
	tap_ok(n == base + 2 + PER_QEMU, "the holder dropped its descriptors (%d = %d + %d)",
	       n, base, 2 + PER_QEMU);
	tap_ok(inode_of(path) == ino && ino != 0,
	       "the endpoint was adopted, not bound again (same socket inode)");
	rc = itest_qemu_attach(path2, "other-again", &q2, &c2);
	tap_ok(rc == 0 && itest_qemu_host_gen(&q2) == 1 && itest_echo_workload(c2, 3, 50, 1) == 0,
	       "a new QEMU attaches to the adopted endpoint vm2 and is served");
	rc = itest_admin_find(d.admin_sock, "vm", &g);
	tap_ok(rc == 0 && g.transport == HRPC_ADMIN_TRANSPORT_IVSHMEM && g.peer_pid == (uint32_t)getpid() &&
	       g.worker_pid && g.state == HRPC_ADMIN_STATE_NEGOTIATED,
	       "hostrpcctl's view: guest vm, QEMU pid %u, worker %u, negotiated", g.peer_pid,
	       g.worker_pid);

	/* 2. SIGTERM: an orderly stop leaves everything with the holder too. */
	tap_ok(restart_under_calls(SIGTERM, &c, 3, holder, NULL),
	       "hostrpcd stopped (SIGTERM) while the guest calls, restarted: reset vector, "
	       "generation 3, calls work again on the same connection");
	rc = itest_qemu_wait_vector(&q2, HRPC_IVSHMEM_VEC_RESET, 2000);
	hrpc_client_free(c2);
	c2 = NULL;
	if (rc == 0 && itest_qemu_host_gen(&q2) == 2)
		rc = itest_qemu_client(&q2, "other-gen2", &c2);
	tap_ok(itest_log_wait(&d, 0, "(vm2): QEMU pid", "still attached, adopted", NULL) &&
	       rc == 0 && itest_echo_workload(c2, 4, 50, 1) == 0,
	       "the second guest was adopted as well (reset vector, generation 2, served)");
	hrpc_client_free(c2);
	c2 = NULL;
	itest_qemu_disconnect(&q2);
	n = itest_fd_count_wait(holder, base + 2 + PER_QEMU, 3000);
	tap_ok(n == base + 2 + PER_QEMU, "no descriptor leaked in the holder (%d = %d + %d)",
	       n, base, 2 + PER_QEMU);

	/* 3. The holder dies under a running daemon: a new one gets it all again. */
	kill(holder, SIGKILL);
	n = 0;
	if (itest_pid_gone(holder, 3000) &&
	    itest_log_wait(&d, 3000, "holds the 2 endpoint(s) again", NULL)) {
		holder = itest_holder_pid(&d);
		itest_kill_on_bailout(holder);
		n = itest_fd_count_wait(holder, base + 2 + PER_QEMU, 3000);
	}
	tap_ok(itest_log_wait(&d, 0, "warning: lost the fd holder", NULL) &&
	       n == base + 2 + PER_QEMU,
	       "the holder killed under a running daemon: a new one (pid %ld) holds it all "
	       "again (%d = %d + %d)", (long)holder, n, base, 2 + PER_QEMU);

	/* 4. QEMU detaches while the daemon runs: the holder forgets it. */
	hrpc_client_free(c);
	c = NULL;
	itest_qemu_disconnect(&q);
	n = itest_fd_count_wait(holder, base + 2, 3000);
	tap_ok(n == base + 2, "both QEMUs gone: the holder keeps just the listening sockets (%d)", n);
	if (n != base + 2)
		itest_fd_dump(holder);
	tap_ok(itest_daemon_alive(&d) && !itest_log_wait(&d, 0, "critical", NULL) &&
	       unexpected_warnings() == 0,
	       "hostrpcd still runs; nothing critical, no warning but the lost holder's logged");
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_daemon_kill(&d, SIGTERM) == 0 && kill(holder, 0) == 0 && inode_of(path) == ino,
	       "hostrpcd exits cleanly; the holder keeps its endpoints (socket in place)");
	tap_ok(itest_pid_gone(holder, 6000),
	       "no daemon and no guest attached for --fdstore-idle (2 s): the holder lets go of "
	       "the listening sockets and exits");

	/* 5. Explicit release; a holder that holds nothing goes by itself. */
	{
		static const char *const keep[] = { "--ivshmem", "vm=@DIR@/vm.ivshmem", NULL };

		rc = itest_daemon_restart(&d, keep);
	}
	holder = rc == 0 ? itest_holder_pid(&d) : 0;
	if (holder > 0)
		itest_kill_on_bailout(holder);
	snprintf(state, sizeof(state), "%s", d.state_dir);
	{
		char *prog = itest_build_path("hostrpc/daemon/hostrpcd");

		snprintf(cmd, sizeof(cmd),
			 "%s --config /dev/null --fdstore-release --state-dir %s | sed 's/^/# /'",
			 prog, state);
		free(prog);
	}
	rc = holder > 0 && itest_daemon_kill(&d, SIGTERM) == 0 && kill(holder, 0) == 0 ? system(cmd) : -1;
	tap_ok(rc == 0 && itest_pid_gone(holder, 3000),
	       "--fdstore-release: a holder with an endpoint (default idle time) exits at once");
	{
		static const char *const none[] = { "--fdstore-idle", "1", NULL };

		rc = itest_daemon_restart(&d, none);
	}
	holder2 = rc == 0 ? itest_holder_pid(&d) : 0;
	if (holder2 > 0)
		itest_kill_on_bailout(holder2);
	tap_ok(holder2 > 0 && holder2 != holder &&
	       itest_log_wait(&d, 0, "fd holder pid", "started", "0 descriptor(s)", NULL),
	       "a daemon without endpoints starts a fresh holder (pid %ld)", (long)holder2);
	rc = itest_daemon_kill(&d, SIGTERM);
	tap_ok(rc == 0 && kill(holder2, 0) == 0 && itest_pid_gone(holder2, 5000),
	       "that holder, holding nothing and without a daemon, exits by itself");
	if (tap_failed)
		itest_log_dump(&d);
	itest_daemon_stop(&d);
	return tap_done();
}
