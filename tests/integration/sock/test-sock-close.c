/* SPDX-License-Identifier: MIT */
/*
 * test-sock-close - how the socket service closes a guest's TCP sockets,
 * with a process guest against the host's real TCP/IP stack.
 * Checks: a guest server restarts on its port right after a connection
 * (SO_REUSEADDR over the old connection's TIME_WAIT, IPv4 and IPv6), and
 * without SO_REUSEADDR the same bind is EADDRINUSE.
 */
#include "config.h"

#include <inttypes.h>
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

int main(void)
{
	tap_plan(4);
	if (sg_start(&g, "bind allow loopback\n" SG_LOOPBACK_POLICY, -1) < 0) {
		printf("Bail out! cannot start the service\n");
		return 1;
	}
	test_rebind(AF_INET, "IPv4");
	test_rebind(AF_INET6, "IPv6");
	sg_stop(&g);
	return tap_done();
}
