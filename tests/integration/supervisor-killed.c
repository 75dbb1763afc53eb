/* SPDX-License-Identifier: MIT */
/*
 * supervisor-killed - when hostrpcd's supervisor is killed outright, no
 * worker outlives it (they hold guests' channels nobody could supervise),
 * and a libhostrpc client whose stream peer vanished gets -EPIPE from its
 * next call instead of being killed by SIGPIPE (this process does not
 * ignore SIGPIPE).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/admin.h"
#include "tests/tap.h"
#include "itest.h"

#define NGUESTS 3

int main(void)
{
	struct hrpc_admin_guest g[NGUESTS + 2];
	struct hrpc_admin_info info;
	struct hrpc_call call = {
		.service = HRPC_SVC_ADMIN, .proc = HRPC_ADMIN_INFO,
		.rep = &info, .rep_cap = sizeof(info), .timeout_ms = 5000,
	};
	hrpc_client *guests[NGUESTS] = { NULL }, *admin = NULL;
	struct itest_daemon d;
	hrpc_chan *ch;
	int rc, n, gone;

	itest_watchdog(60);
	signal(SIGPIPE, SIG_DFL);   /* itest_watchdog() ignores it; this test must not */
	tap_plan(6);
	rc = itest_daemon_start(&d, NULL);
	if (!tap_ok(rc == 0, "hostrpcd starts"))
		return 1;
	for (int i = 0; i < NGUESTS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "g%d", i);
		rc = itest_guest_connect(d.guest_sock, name, &guests[i]);
		if (rc < 0)
			break;
	}
	n = itest_admin_guests(d.admin_sock, g, NGUESTS + 2);
	tap_ok(rc == 0 && n == NGUESTS, "%d process guests, each with a worker", n);
	rc = hrpc_vport_connect(d.admin_sock, &ch);
	if (rc == 0)
		rc = hrpc_client_new(ch, "doomed-admin", 5000, &admin);
	tap_ok(rc == 0 && hrpc_client_call(admin, &call) == 0 && info.guests == NGUESTS,
	       "an admin client is connected and answered");

	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	/* Only a listing of every guest can show that no worker was left:
	 * with fewer (n < 0 when the admin call failed) this check fails. */
	gone = 0;
	for (int i = 0; i < n; i++)
		if (g[i].worker_pid > 0 && itest_pid_gone((pid_t)g[i].worker_pid, 5000))
			gone++;
	tap_ok(n == NGUESTS && gone == NGUESTS, "supervisor killed: every worker died with it "
	       "(%d of %d gone)", gone, n);

	/* Several calls: the first may still be written into the socket
	 * buffer before the hang-up is seen. */
	rc = -EINVAL;
	for (int i = 0; admin && i < 3; i++) {
		rc = hrpc_client_call(admin, &call);
		if (rc < 0)
			break;
	}
	tap_ok(rc == -EPIPE || rc == -ECONNRESET,
	       "the admin client's next call fails with %s, and this process lives", strerror(-rc));
	hrpc_client_free(admin);
	for (int i = 0; i < NGUESTS; i++)
		hrpc_client_free(guests[i]);
	d.pid = 0;   /* reaped above */
	tap_ok(itest_daemon_stop(&d) != -2, "no sanitizer report in the daemon's or workers' logs");
	return tap_done();
}
