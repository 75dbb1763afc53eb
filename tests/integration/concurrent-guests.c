/* SPDX-License-Identifier: MIT */
/*
 * concurrent-guests - one hostrpcd serves many process guests at once, each
 * by its own worker, with every byte of every reply intact; when they leave,
 * every worker is reaped and the supervisor holds no more descriptors than
 * before they came.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/stats.h"
#include "tests/tap.h"
#include "itest.h"

#define NGUESTS 10
#define PINGS   20000
#define BULKS   300

static int guest_main(const char *sock, int i, int ready_fd, int go_fd)
{
	struct hrpc_stats st;
	struct hrpc_call call = {
		.service = HRPC_SVC_STATS, .proc = HRPC_STATS_GET,
		.rep = &st, .rep_cap = sizeof(st), .timeout_ms = 10000,
	};
	hrpc_client *c;
	char name[32], b;
	int rc;

	snprintf(name, sizeof(name), "guest-%02d", i);
	rc = itest_guest_connect(sock, name, &c);
	if (rc < 0) {
		printf("# %s: cannot connect: %s\n", name, strerror(-rc));
		return 1;
	}
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &b, 1) != 0)
		return 1;
	rc = itest_echo_workload(c, (unsigned int)i + 1, PINGS, BULKS);
	if (rc < 0) {
		printf("# %s: workload failed: %s\n", name, strerror(-rc));
		return 1;
	}
	/* The worker's own count of what it served this guest. */
	rc = hrpc_client_call(c, &call);
	if (rc < 0 || st.calls != 1 + PINGS + BULKS + 1 || st.errors) {
		printf("# %s: stats: rc %d, calls %llu, errors %llu\n", name, rc,
		       (unsigned long long)st.calls, (unsigned long long)st.errors);
		return 1;
	}
	hrpc_client_free(c);
	return 0;
}

int main(void)
{
	struct hrpc_admin_guest g[NGUESTS + 4];
	pid_t kids[NGUESTS], workers[NGUESTS];
	struct itest_daemon d;
	int ready[2], go[2], baseline, n, good, rc;
	char buf[NGUESTS];
	ssize_t got = 0;

	itest_watchdog(180);
	tap_plan(10 + NGUESTS);
	rc = itest_daemon_start(&d, NULL);
	if (!tap_ok(rc == 0, "hostrpcd starts"))
		return 1;
	baseline = itest_fd_baseline(d.pid);
	tap_diag("supervisor pid %ld holds %d descriptors", (long)d.pid, baseline);

	if (pipe(ready) < 0 || pipe(go) < 0)
		return 1;
	for (int i = 0; i < NGUESTS; i++) {
		fflush(stdout);
		kids[i] = fork();
		if (kids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			rc = guest_main(d.guest_sock, i, ready[1], go[0]);
			fflush(stdout);
			_exit(rc);
		}
	}
	close(ready[1]);
	close(go[0]);
	while (got < NGUESTS) {
		ssize_t r = read(ready[0], buf, sizeof(buf));

		if (r <= 0)
			break;
		got += r;
	}
	tap_ok(got == NGUESTS, "%d process guests connected and negotiated", NGUESTS);

	/* All of them at once: one worker each, none of them the supervisor.
	 * (Workers publish when their loop goes idle: allow a moment.) */
	for (int t = 0; t < 100; t++) {
		n = itest_admin_guests(d.admin_sock, g, NGUESTS + 4);
		good = n == NGUESTS;
		for (int i = 0; good && i < n; i++)
			good = g[i].state == HRPC_ADMIN_STATE_NEGOTIATED &&
			       g[i].transport == HRPC_ADMIN_TRANSPORT_MEMFD && g[i].worker_pid > 0 &&
			       (pid_t)g[i].worker_pid != d.pid && !strncmp(g[i].name, "guest-", 6);
		for (int i = 0; good && i < n; i++)
			for (int k = 0; good && k < i; k++)
				good = g[k].worker_pid != g[i].worker_pid && g[k].guest_id != g[i].guest_id;
		if (good)
			break;
		usleep(20000);
	}
	for (int i = 0; i < NGUESTS; i++)
		workers[i] = i < n ? (pid_t)g[i].worker_pid : 0;
	tap_ok(good, "admin lists %d negotiated memfd guests with distinct ids and workers (got %d)",
	       NGUESTS, n);

	close(go[1]);    /* go */
	for (int i = 0; i < NGUESTS; i++) {
		int status = -1;

		waitpid(kids[i], &status, 0);
		tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "guest-%02d: %d pings and %d bulk calls came back intact, stats agree",
		       i, PINGS, BULKS);
	}

	good = true;
	for (int i = 0; i < NGUESTS; i++)
		good &= workers[i] > 0 && itest_pid_gone(workers[i], 5000);
	tap_ok(good && n == NGUESTS, "every worker was reaped");
	for (int i = 0; i < 250 && (n = itest_admin_guests(d.admin_sock, g, NGUESTS)) > 0; i++)
		usleep(20000);
	tap_ok(n == 0, "admin lists no guests after they left (%d)", n);
	rc = itest_fd_count_wait(d.pid, baseline, 5000);
	tap_ok(rc == baseline, "supervisor is back to %d descriptors (%d)", baseline, rc);
	tap_ok(itest_log_wait(&d, 0, "channel negotiated", "guest-09", NULL),
	       "workers logged the negotiation with the guest's name");
	tap_ok(!itest_log_wait(&d, 0, "fenced", NULL) && !itest_log_wait(&d, 0, "critical", NULL),
	       "nothing was fenced, nothing critical");
	tap_ok(itest_daemon_alive(&d), "hostrpcd still runs");
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly on SIGTERM");
	return tap_done();
}
