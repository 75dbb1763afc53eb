/* SPDX-License-Identifier: MIT */
/*
 * crashed-guest - process guests that kill -9 themselves with calls in
 * flight cost only their own worker: the worker sees the hang-up and exits,
 * the supervisor reaps it and frees the guest, guests served meanwhile see
 * no error, and the supervisor ends with the descriptors it started with.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "tests/tap.h"
#include "itest.h"

#define NGOOD     4
#define NCRASH    3
#define INFLIGHT  48

static void call_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
}

/* Keep calling until `stop_fd` reads EOF (one round at least); exit status 0
 * if nothing failed. */
static int good_guest(const char *sock, int i, int stop_fd)
{
	struct pollfd p = { .fd = stop_fd, .events = POLLIN };
	unsigned int seed = 1000u * (unsigned int)i, rounds = 0;
	hrpc_client *c;
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "steady-%d", i);
	rc = itest_guest_connect(sock, name, &c);
	if (rc < 0) {
		printf("# %s: cannot connect: %s\n", name, strerror(-rc));
		return 1;
	}
	/* At least one round, however late this guest got going on a busy
	 * host (the crashers may all be done by then). */
	do {
		rc = itest_echo_workload(c, seed++, 200, 4);
		if (rc < 0) {
			printf("# %s: round %u failed: %s\n", name, rounds, strerror(-rc));
			return 1;
		}
		rounds++;
	} while (poll(&p, 1, 0) == 0);
	printf("# %s: %u rounds of 200 pings + 4 bulk calls, all intact\n", name, rounds);
	hrpc_client_free(c);
	return rounds ? 0 : 1;
}

/* Connect, say ready, wait for go, put INFLIGHT bulk calls on the ring and
 * die without waiting for any reply. */
static int crasher(const char *sock, int k, int ready_fd, int go_fd)
{
	static struct hrpc_call calls[INFLIGHT];
	static struct hrpc_bulk bulk[INFLIGHT];
	static struct hrpc_echo_sum sums[INFLIGHT];
	hrpc_client *c;
	char name[32], b;
	int rc;

	snprintf(name, sizeof(name), "crasher-%d", k);
	rc = itest_guest_connect(sock, name, &c);
	if (rc < 0 || itest_echo_workload(c, 7u + (unsigned int)k, 100, 2) < 0)
		return 1;
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &b, 1) < 0)
		return 1;
	for (int i = 0; i < INFLIGHT; i++) {
		if (hrpc_client_bulk_alloc(c, 128 << 10, &bulk[i]) < 0)
			break;
		memset(bulk[i].ptr, i, 64 << 10);
		calls[i] = (struct hrpc_call){
			.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
			.bulk = &bulk[i], .bulk_len = 64 << 10,
			.rep = &sums[i], .rep_cap = sizeof(sums[i]), .timeout_ms = -1,
		};
		if (hrpc_client_call_async(c, &calls[i], call_done, NULL) < 0)
			break;
	}
	raise(SIGKILL);
	return 1;
}

int main(void)
{
	pid_t good[NGOOD];
	struct itest_daemon d;
	int stop[2], baseline, rc;

	itest_watchdog(120);
	tap_plan(4 + 5 * NCRASH + NGOOD);
	rc = itest_daemon_start(&d, NULL);
	if (!tap_ok(rc == 0, "hostrpcd starts"))
		return 1;
	baseline = itest_fd_baseline(d.pid);
	tap_diag("supervisor pid %ld holds %d descriptors", (long)d.pid, baseline);

	if (pipe(stop) < 0)
		return 1;
	for (int i = 0; i < NGOOD; i++) {
		fflush(stdout);
		good[i] = fork();
		if (good[i] == 0) {
			close(stop[1]);
			rc = good_guest(d.guest_sock, i, stop[0]);
			fflush(stdout);
			_exit(rc);
		}
	}
	close(stop[0]);

	for (int k = 0; k < NCRASH; k++) {
		struct hrpc_admin_guest g = { 0 };
		int ready[2], go[2], status = 0;
		char name[32], b, pidstr[16];
		bool listed;
		pid_t pid;

		snprintf(name, sizeof(name), "crasher-%d", k);
		if (pipe(ready) < 0 || pipe(go) < 0)
			return 1;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(stop[1]);
			close(ready[0]);
			close(go[1]);
			rc = crasher(d.guest_sock, k, ready[1], go[0]);
			fflush(stdout);
			_exit(rc);
		}
		close(ready[1]);
		close(go[0]);
		rc = read(ready[0], &b, 1) == 1 ? itest_admin_find(d.admin_sock, name, &g) : -EIO;
		tap_ok(rc == 0 && g.worker_pid && g.state == HRPC_ADMIN_STATE_NEGOTIATED,
		       "%s is served by worker %u", name, g.worker_pid);
		close(go[1]);
		waitpid(pid, &status, 0);
		close(ready[0]);
		tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		       "%s killed itself with %d calls in flight", name, INFLIGHT);
		tap_ok(g.worker_pid && itest_pid_gone((pid_t)g.worker_pid, 5000),
		       "its worker %u is gone and reaped", g.worker_pid);
		snprintf(pidstr, sizeof(pidstr), "worker %u ", g.worker_pid);
		tap_ok(itest_log_wait(&d, 2000, name, pidstr, "exited", NULL),
		       "the supervisor logged how worker %u ended", g.worker_pid);
		listed = true;
		for (int i = 0; i < 100 && (listed = itest_admin_listed(d.admin_sock, name)); i++)
			usleep(20000);
		tap_ok(!listed, "%s is no longer listed", name);
	}

	close(stop[1]);
	for (int i = 0; i < NGOOD; i++) {
		int status = -1;

		waitpid(good[i], &status, 0);
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "steady-%d was served throughout without an error", i);
	}
	rc = itest_fd_count_wait(d.pid, baseline, 5000);
	tap_ok(rc == baseline, "supervisor is back to %d descriptors (%d)", baseline, rc);
	tap_ok(itest_daemon_alive(&d), "hostrpcd still runs");
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly on SIGTERM");
	return tap_done();
}
