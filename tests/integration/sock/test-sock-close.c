/* SPDX-License-Identifier: MIT */
/*
 * test-sock-close - how the socket service closes a guest's TCP sockets,
 * with a process guest against the host's real TCP/IP stack.
 * Checks: a guest server restarts on its port right after a connection
 * (SO_REUSEADDR over the old connection's TIME_WAIT, IPv4 and IPv6), and
 * without SO_REUSEADDR the same bind is EADDRINUSE; SO_LINGER {1, 0}: the
 * CLOSE resets the connection (the host peer reads ECONNRESET); SO_LINGER
 * with a timeout never makes the worker wait: CLOSE of a socket whose peer
 * does not read returns at once, and the peer still gets every byte, then
 * EOF (the host closes in the background); after SHUTDOWN(SHUT_WR) the
 * host socket's TCP state (TCP_INFO, what a lingering guest close polls)
 * leaves FIN_WAIT1 once the peer acknowledged the FIN.
 */
#include "config.h"

#include <inttypes.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>

#include "tests/tap.h"
#include "outsource/sock/sockguest.h"

static struct sguest g;

static int host_connect(int family, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A guest server round on `*port` (0: any; the port is returned): listen
 * (with SO_REUSEADDR when `reuse`), take a host client's connection,
 * exchange, close the connection first, the client closes, close the
 * listener.  0, or the -errno of the first step that failed. */
static int server_round(int family, uint16_t *port, int reuse)
{
	struct hrpc_sock_addr a, nm;
	uint64_t lh, h;
	char b[4];
	int c = -1, rc;

	rc = sg_socket(&g, family, SOCK_STREAM, &lh);
	if (rc < 0)
		return rc;
	if (reuse)
		sg_setopt_int(&g, lh, SOL_SOCKET, SO_REUSEADDR, 1);
	sg_addr(&a, family, family == AF_INET ? "127.0.0.1" : "::1", *port);
	rc = sg_addrcall(&g, HRPC_SOCK_BIND, lh, &a);
	if (!rc)
		rc = sg_simple(&g, HRPC_SOCK_LISTEN, lh, 4);
	if (!rc)
		rc = sg_getname(&g, lh, false, &nm);
	if (!rc) {
		*port = nm.port;
		c = host_connect(family, nm.port);
		rc = c < 0 ? -errno : sg_accept(&g, lh, &h, NULL, 5000);
	}
	if (!rc) {
		rc = send(c, "hi", 2, 0) == 2 && sg_recv_all(&g, h, (uint8_t *)b, 2, NULL, 5000) == 0 &&
		     sg_send(&g, h, "ho", 2, NULL, 0, NULL) == 2 && recv(c, b, 2, MSG_WAITALL) == 2 ?
		     0 : -EIO;
		sg_close(&g, h);	/* the server closes first: TIME_WAIT is ours */
		if (!rc)
			rc = recv(c, b, 1, 0) == 0 ? 0 : -EIO;
	}
	if (c >= 0)
		close(c);
	sg_close(&g, lh);
	return rc;
}

static void test_rebind(int family, const char *name)
{
	uint16_t p = 0, p2;
	int r1, r2, r3;

	r1 = server_round(family, &p, 1);
	p2 = p;
	r3 = server_round(family, &p2, 0);
	r2 = server_round(family, &p, 1);
	tap_ok(r1 == 0 && r2 == 0, "%s: a server with SO_REUSEADDR restarts on its port %u "
	       "right after a connection it closed first (%s, %s)", name, p, strerror(-r1),
	       strerror(-r2));
	tap_ok(r3 == -EADDRINUSE, "%s: without SO_REUSEADDR that bind is EADDRINUSE (%s)", name,
	       strerror(-r3));
}

/* A guest socket connected to a host peer: *peer the host's end. */
static int guest_to_host(uint64_t *h, int *peer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	struct hrpc_sock_addr to;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listen(lfd, 1);
	getsockname(lfd, (struct sockaddr *)&a, &l);
	*peer = -1;
	rc = sg_socket(&g, AF_INET, SOCK_STREAM, h);
	sg_addr(&to, AF_INET, "127.0.0.1", ntohs(a.sin_port));
	if (!rc)
		rc = sg_connect(&g, *h, &to, 5000);
	if (!rc)
		*peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return rc ? rc : *peer < 0 ? -errno : 0;
}

static int set_linger(uint64_t h, int on, int secs)
{
	struct hrpc_sock_opt r = { .handle = h, .level = SOL_SOCKET, .name = SO_LINGER,
				   .len = sizeof(struct linger) };
	struct linger lg = { .l_onoff = on, .l_linger = secs };
	struct hrpc_sock_opt o;

	memcpy(r.val, &lg, sizeof(lg));
	return sg_call(&g, HRPC_SOCK_SETSOCKOPT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
}

static void test_linger(void)
{
	static uint8_t buf[60000];
	uint64_t h, total = 0, got = 0;
	double t = -1;
	int peer, rc, n, st = -1;
	ssize_t r = -2;

	/* l_linger 0: the CLOSE resets */
	rc = guest_to_host(&h, &peer);
	if (!rc) {
		rc = set_linger(h, 1, 0);
		sg_send(&g, h, "x", 1, NULL, 0, NULL);
		sg_close(&g, h);
		do
			r = recv(peer, buf, sizeof(buf), 0);
		while (r > 0);
		close(peer);
	}
	tap_ok(!rc && r < 0 && errno == ECONNRESET,
	       "SO_LINGER {1, 0}: the CLOSE resets the connection (the host peer: %s)",
	       r < 0 ? strerror(errno) : "EOF");

	/* l_linger 5 and a peer that does not read: the worker does not wait */
	rc = guest_to_host(&h, &peer);
	if (!rc) {
		for (int i = 0; i < 4096; i++) {
			n = sg_send(&g, h, buf, sizeof(buf), NULL, 0, NULL);
			if (n <= 0)
				break;
			total += (uint64_t)n;
		}
		rc = set_linger(h, 1, 5);
		t = (double)hrpc_now_ns();
		sg_close(&g, h);
		t = ((double)hrpc_now_ns() - t) / 1e9;
		while ((r = recv(peer, buf, sizeof(buf), 0)) > 0)
			got += (uint64_t)r;
		close(peer);
	}
	tap_ok(!rc && t < 0.5 && total > 0 && got == total && r == 0,
	       "SO_LINGER {1, 5}: CLOSE with %" PRIu64 " bytes unread by the peer took %.3f s; "
	       "the host closed in the background: the peer got %" PRIu64 " bytes, then %s",
	       total, t, got, r == 0 ? "EOF" : strerror(errno));

	/* what a lingering guest close polls: the FIN acknowledged */
	rc = guest_to_host(&h, &peer);
	if (!rc) {
		rc = sg_simple(&g, HRPC_SOCK_SHUTDOWN, h, SHUT_WR);
		for (int i = 0; i < 500 && !rc; i++) {
			rc = sg_getopt_int(&g, h, IPPROTO_TCP, TCP_INFO, &st);
			st &= 0xff;	/* tcpi_state, the first byte */
			if (st != TCP_FIN_WAIT1)
				break;
			usleep(1000);
		}
		sg_close(&g, h);
		close(peer);
	}
	tap_ok(!rc && st == TCP_FIN_WAIT2,
	       "after SHUTDOWN(SHUT_WR) TCP_INFO's state goes from FIN_WAIT1 to FIN_WAIT2 (%d)", st);
}

int main(void)
{
	tap_plan(7);
	if (sg_start(&g, "bind allow loopback\n" SG_LOOPBACK_POLICY, -1) < 0) {
		printf("Bail out! cannot start the service\n");
		return 1;
	}
	test_rebind(AF_INET, "IPv4");
	test_rebind(AF_INET6, "IPv6");
	test_linger();
	sg_stop(&g);
	return tap_done();
}
