/* SPDX-License-Identifier: MIT */
/*
 * hostile-guest-fenced - a guest that writes garbage into its shared memory
 * (a forged ring index, a malformed message header, an impossible consumer
 * index) or onto its set-up socket is fenced: its worker logs why, with the
 * guest's id and name, and exits; broken frames on the admin socket cost
 * only that admin connection.  A well-behaved guest is served throughout,
 * and the supervisor ends with the descriptors it started with.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/memfd.h"
#include "hostrpc/ring.h"
#include "tests/tap.h"
#include "itest.h"

/* A raw guest (itest.h) that has made a few calls and been listed. */
static int raw_connect(struct itest_daemon *d, const char *name, struct itest_raw_guest *g)
{
	int rc = itest_raw_connect(d->guest_sock, name, g);

	if (rc < 0)
		return rc;
	rc = itest_echo_workload(g->c, 99, 20, 1);
	if (rc < 0)
		return rc;
	return itest_admin_find(d->admin_sock, name, &g->info);
}

static void expect_fenced(struct itest_daemon *d, struct itest_raw_guest *g, const char *reason,
			  uint32_t shm_state)
{
	char who[96], pidstr[32];

	tap_ok(itest_hung_up(g->sock, 5000), "%s: its worker dropped the connection", g->name);
	tap_ok(hrpc_load_acquire(&g->shm->host_state) == shm_state,
	       "%s: the shared header says %s", g->name,
	       shm_state == HRPC_SHM_STATE_FENCED ? "FENCED" : "CLOSED");
	/* The worker logs under the name it started with (guest-ID): a
	 * process guest's HELLO label is the supervisor's to accept. */
	snprintf(who, sizeof(who), "guest %u (guest-%u): fenced:", g->info.guest_id,
		 g->info.guest_id);
	tap_ok(itest_log_wait(d, 2000, who, reason, NULL), "%s: the worker logged \"%s %s\"",
	       g->name, who, reason);
	snprintf(pidstr, sizeof(pidstr), "worker %u exited", g->info.worker_pid);
	tap_ok(itest_log_wait(d, 2000, pidstr, "status 3 (guest fenced)", NULL),
	       "%s: the supervisor logged that worker %u exited fenced", g->name,
	       g->info.worker_pid);
	tap_ok(itest_pid_gone((pid_t)g->info.worker_pid, 5000), "%s: worker %u was reaped",
	       g->name, g->info.worker_pid);
	itest_raw_close(g);
}

/* ---- the attacks on a process guest's own channel ------------------------------ */

static void forged_producer_index(struct itest_daemon *d)
{
	struct itest_raw_guest g;
	int rc = raw_connect(d, "forger", &g);

	if (!tap_ok(rc == 0, "forger connected, negotiated and was served (%d)", rc))
		return;
	/* Claim twice the ring's size of unread requests. */
	hrpc_store_release(&g.shm->req.prod,
			   hrpc_read_once(g.shm->req.cons) + 2 * hrpc_read_once(g.shm->req_size));
	itest_raw_kick(&g);
	expect_fenced(d, &g, "guest broke the ring or frame format", HRPC_SHM_STATE_FENCED);
}

static void malformed_header(struct itest_daemon *d)
{
	struct itest_raw_guest g;
	struct hrpc_msg_hdr h;
	struct hrpc_ring r;
	int rc = raw_connect(d, "scribbler", &g);

	if (!tap_ok(rc == 0, "scribbler connected, negotiated and was served (%d)", rc))
		return;
	/* A well-published record whose header is not a Host RPC header. */
	hrpc_ring_bind(&r, &g.shm->req, (uint8_t *)g.shm + g.shm->req_off, g.shm->req_size, 1);
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 0);
	h.magic = 0xdeadbeef;
	rc = hrpc_ring_put(&r, &h, NULL);
	tap_diag("bad record put: %d", rc);
	itest_raw_kick(&g);
	expect_fenced(d, &g, "malformed message header", HRPC_SHM_STATE_FENCED);
}

static void forged_consumer_index(struct itest_daemon *d)
{
	struct itest_raw_guest g;
	int rc = raw_connect(d, "thief", &g);

	if (!tap_ok(rc == 0, "thief connected, negotiated and was served (%d)", rc))
		return;
	/* Say we consumed replies the server never produced. */
	hrpc_store_release(&g.shm->rsp.cons, hrpc_read_once(g.shm->rsp.prod) + 4096);
	itest_raw_kick(&g);
	expect_fenced(d, &g, "guest forged the response ring's consumer index",
		      HRPC_SHM_STATE_FENCED);
}

static void chatty_setup_socket(struct itest_daemon *d)
{
	struct itest_raw_guest g;
	int rc = raw_connect(d, "chatter", &g);

	if (!tap_ok(rc == 0, "chatter connected, negotiated and was served (%d)", rc))
		return;
	/* After the offer the socket carries nothing. */
	if (write(g.sock, "hello?", 6) != 6)
		tap_diag("write: %s", strerror(errno));
	expect_fenced(d, &g, "guest wrote on the set-up socket", HRPC_SHM_STATE_CLOSED);
}

/* ---- the admin socket ------------------------------------------------------------ */

static int admin_raw(struct itest_daemon *d)
{
	return itest_unix_connect(d->admin_sock);
}

static void admin_attacks(struct itest_daemon *d)
{
	struct hrpc_msg_hdr h;
	uint8_t junk[64];
	int s;

	/* A truncated frame, then the hang-up: nothing to fence, nothing to
	 * crash; the connection is simply gone. */
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ADMIN, HRPC_ADMIN_INFO, 1, 0);
	s = admin_raw(d);
	tap_ok(s >= 0 && write(s, &h, 20) == 20, "admin: sent 20 bytes of a 40-byte header");
	if (s >= 0)
		close(s);

	/* Garbage where a header should be: the connection is fenced. */
	memset(junk, 0xa5, sizeof(junk));
	s = admin_raw(d);
	tap_ok(s >= 0 && write(s, junk, sizeof(junk)) == (ssize_t)sizeof(junk),
	       "admin: sent 64 bytes of garbage");
	tap_ok(s >= 0 && itest_hung_up(s, 5000), "admin: the daemon dropped the garbage connection");
	if (s >= 0)
		close(s);

	/* A header announcing more than any frame may carry. */
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ADMIN, HRPC_ADMIN_INFO, 2, 0);
	h.len = 0x80000000u;
	s = admin_raw(d);
	tap_ok(s >= 0 && write(s, &h, sizeof(h)) == (ssize_t)sizeof(h) && itest_hung_up(s, 5000),
	       "admin: a 2 GiB frame is refused before anything is buffered");
	if (s >= 0)
		close(s);
	tap_ok(itest_log_wait(d, 2000, "admin connection fenced", NULL),
	       "admin: the daemon logged the fenced admin connection");
}

/* ---- a guest that behaves ----------------------------------------------------------- */

static int steady_guest(const char *sock, int stop_fd)
{
	struct pollfd p = { .fd = stop_fd, .events = POLLIN };
	unsigned int rounds = 0;
	hrpc_client *c;
	int rc = itest_guest_connect(sock, "steady", &c);

	if (rc < 0)
		return 1;
	while (poll(&p, 1, 0) == 0) {
		rc = itest_echo_workload(c, rounds, 100, 2);
		if (rc < 0) {
			printf("# steady: round %u failed: %s\n", rounds, strerror(-rc));
			return 1;
		}
		rounds++;
	}
	printf("# steady: %u rounds of 100 pings + 2 bulk calls, all intact\n", rounds);
	hrpc_client_free(c);
	return 0;
}

int main(void)
{
	struct hrpc_admin_guest g[8];
	struct itest_daemon d;
	int stop[2], baseline, status = -1, rc;
	pid_t steady;

	itest_watchdog(120);
	tap_plan(1 + 4 * 6 + 5 + 6);
	rc = itest_daemon_start(&d, NULL);
	if (!tap_ok(rc == 0, "hostrpcd starts"))
		return 1;
	baseline = itest_fd_baseline(d.pid);

	if (pipe(stop) < 0)
		return 1;
	fflush(stdout);
	steady = fork();
	if (steady == 0) {
		close(stop[1]);
		rc = steady_guest(d.guest_sock, stop[0]);
		fflush(stdout);
		_exit(rc);
	}
	close(stop[0]);

	forged_producer_index(&d);
	malformed_header(&d);
	forged_consumer_index(&d);
	chatty_setup_socket(&d);
	admin_attacks(&d);

	rc = itest_admin_guests(d.admin_sock, g, 8);
	tap_ok(rc == 1 && !strcmp(g[0].name, "steady") &&
	       g[0].state == HRPC_ADMIN_STATE_NEGOTIATED,
	       "admin still answers; only the steady guest is left (%d)", rc);
	close(stop[1]);
	waitpid(steady, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the steady guest was served throughout without an error");
	rc = itest_fd_count_wait(d.pid, baseline, 5000);
	tap_ok(rc == baseline, "supervisor is back to %d descriptors (%d)", baseline, rc);
	tap_ok(!itest_log_wait(&d, 0, "critical", NULL), "nothing critical was logged");
	tap_ok(itest_daemon_alive(&d), "hostrpcd still runs");
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly on SIGTERM");
	return tap_done();
}
