/* SPDX-License-Identifier: MIT */
/*
 * test-sock-procs - a process guest drives every procedure of the socket
 * service (include/hostrpc/sock.h) against the host's real TCP/IP stack on
 * loopback: TCP and UDP, IPv4 and IPv6, inline and bulk data, non-blocking
 * connect with SO_ERROR, readiness events and credits, options, ioctls,
 * shutdown, getname, and the audit log.
 */
#include "config.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "tests/tap.h"
#include "outsource/sock/sockguest.h"
#include "hostrpc/echo.h"

static struct sguest g;

static bool have_ipv6(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A listener and a connected pair, all through the service. */
static int tcp_pair(int family, const char *ip, uint64_t *lh, uint64_t *ch, uint64_t *ah)
{
	struct hrpc_sock_addr a, name;
	int rc;

	if ((rc = sg_socket(&g, family, SOCK_STREAM, lh)) < 0)
		return rc;
	sg_setopt_int(&g, *lh, SOL_SOCKET, SO_REUSEADDR, 1);
	sg_addr(&a, family, ip, 0);
	if ((rc = sg_addrcall(&g, HRPC_SOCK_BIND, *lh, &a)) < 0)
		return rc;
	if ((rc = sg_simple(&g, HRPC_SOCK_LISTEN, *lh, 16)) < 0)
		return rc;
	if ((rc = sg_getname(&g, *lh, false, &name)) < 0)
		return rc;
	if ((rc = sg_socket(&g, family, SOCK_STREAM, ch)) < 0)
		return rc;
	if ((rc = sg_connect(&g, *ch, &name, 5000)) < 0)
		return rc;
	return sg_accept(&g, *lh, ah, NULL, 5000);
}

static void test_tcp(int family, const char *ip, const char *tag)
{
	uint64_t lh = 0, ch = 0, ah = 0;
	struct hrpc_sock_addr l, p, cl, cp;
	struct hrpc_bulk b1, b2;
	const uint32_t big = 4u << 20;
	uint8_t *src = malloc(big), *dst = malloc(big);
	char buf[64];
	int rc, v;

	rc = tcp_pair(family, ip, &lh, &ch, &ah);
	tap_ok(rc == 0, "%s: socket/bind/listen/connect/accept through the host (%d)", tag, rc);
	if (rc)
		goto out;
	sg_getname(&g, ah, false, &l);
	sg_getname(&g, ah, true, &p);
	sg_getname(&g, ch, false, &cl);
	sg_getname(&g, ch, true, &cp);
	tap_ok(l.family == family && l.port == cp.port && p.port == cl.port &&
	       !memcmp(l.addr, cp.addr, 16) && !memcmp(p.addr, cl.addr, 16),
	       "%s: getsockname/getpeername agree on both ends (port %u<->%u)", tag, l.port, p.port);

	rc = sg_send(&g, ch, "hello", 5, NULL, HRPC_MSG_NOSIGNAL, NULL);
	memset(buf, 0, sizeof(buf));
	sg_wait(&g, ah, HRPC_POLLIN, 2000);
	rc = sg_recv(&g, ah, buf, 2, NULL, HRPC_MSG_PEEK, NULL);
	tap_ok(rc == 2 && !memcmp(buf, "he", 2), "%s: MSG_PEEK sees data without taking it", tag);
	{
		struct hrpc_sock_handle_req r = { .handle = ah, .arg = HRPC_SIOCINQ };
		struct hrpc_sock_ioctl_rep o;

		rc = sg_call(&g, HRPC_SOCK_IOCTL, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
		tap_ok(rc == 0 && o.value == 5, "%s: FIONREAD = %llu", tag, (unsigned long long)o.value);
	}
	rc = sg_recv(&g, ah, buf, sizeof(buf), NULL, 0, NULL);
	tap_ok(rc == 5 && !memcmp(buf, "hello", 5), "%s: inline send/recv (%d)", tag, rc);
	rc = sg_recv(&g, ah, buf, sizeof(buf), NULL, 0, NULL);
	tap_ok(rc == -EAGAIN && !(sg_mask(&g, ah) & HRPC_POLLIN),
	       "%s: recv on an empty socket: -EAGAIN, IN off in the reply", tag);

	/* 4 MiB each way through bulk buffers, checksummed. */
	for (uint32_t i = 0; i < big; i++)
		src[i] = hrpc_echo_pattern(42, i);
	hrpc_client_bulk_alloc(g.cli, 256 << 10, &b1);
	hrpc_client_bulk_alloc(g.cli, 256 << 10, &b2);
	{
		uint32_t sent = 0, got = 0;
		uint64_t t0 = hrpc_now_ns();

		rc = 0;
		while (got < big && rc >= 0) {
			if (sent < big) {
				uint32_t n = big - sent < b1.cap ? big - sent : b1.cap;

				rc = sg_send(&g, ch, src + sent, n, &b1, 0, NULL);
				if (rc > 0)
					sent += (uint32_t)rc;
				else if (rc == -EAGAIN)
					rc = 0;
			}
			rc = sg_recv(&g, ah, dst + got, b2.cap, &b2, 0, NULL);
			if (rc > 0)
				got += (uint32_t)rc;
			else if (rc == -EAGAIN)
				rc = sent < big ? 0 : (sg_wait(&g, ah, HRPC_POLLIN, 2000) ? 0 : -ETIMEDOUT);
		}
		tap_ok(got == big && !memcmp(src, dst, big),
		       "%s: 4 MiB guest->guest through bulk buffers intact (%.1f MB/s)", tag,
		       big / ((hrpc_now_ns() - t0) / 1e3));
	}
	memset(dst, 0, big);
	rc = sg_send_all(&g, ah, src, 1 << 20, &b1, 5000);
	if (!rc)
		rc = sg_recv_all(&g, ch, dst, 1 << 20, NULL, 5000);
	tap_ok(rc == 0 && !memcmp(src, dst, 1 << 20),
	       "%s: 1 MiB back, received inline (64 KiB replies) (%d)", tag, rc);

	rc = sg_setopt_int(&g, ch, IPPROTO_TCP, TCP_NODELAY, 1);
	v = 0;
	if (!rc)
		rc = sg_getopt_int(&g, ch, IPPROTO_TCP, TCP_NODELAY, &v);
	tap_ok(rc == 0 && v == 1, "%s: TCP_NODELAY set and read back", tag);
	rc = sg_setopt_int(&g, ch, SOL_SOCKET, SO_KEEPALIVE, 1);
	if (!rc)
		rc = sg_setopt_int(&g, ch, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	v = 0;
	if (!rc)
		rc = sg_getopt_int(&g, ch, IPPROTO_TCP, TCP_KEEPIDLE, &v);
	tap_ok(rc == 0 && v == 77, "%s: SO_KEEPALIVE + TCP_KEEPIDLE", tag);
	rc = sg_setopt_int(&g, ch, SOL_SOCKET, SO_RCVBUF, 65536);
	v = 0;
	if (!rc)
		rc = sg_getopt_int(&g, ch, SOL_SOCKET, SO_RCVBUF, &v);
	tap_ok(rc == 0 && v >= 65536, "%s: SO_RCVBUF (kernel doubles: %d)", tag, v);
	{
		struct hrpc_sock_opt r = { .handle = ch, .level = SOL_SOCKET, .name = SO_LINGER,
					   .len = sizeof(struct linger) };
		struct hrpc_sock_opt o;
		struct linger lg = { 1, 5 };

		memcpy(r.val, &lg, sizeof(lg));
		rc = sg_call(&g, HRPC_SOCK_SETSOCKOPT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
		r.len = sizeof(lg);
		if (!rc)
			rc = sg_call(&g, HRPC_SOCK_GETSOCKOPT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
		memcpy(&lg, o.val, sizeof(lg));
		tap_ok(rc == 0 && o.len == sizeof(lg) && lg.l_onoff == 1 && lg.l_linger == 5,
		       "%s: SO_LINGER set and read back", tag);
	}
	v = -1;
	rc = sg_getopt_int(&g, lh, SOL_SOCKET, SO_ACCEPTCONN, &v);
	tap_ok(rc == 0 && v == 1, "%s: SO_ACCEPTCONN on the listener", tag);
	if (family == AF_INET6) {
		rc = sg_setopt_int(&g, lh, IPPROTO_IPV6, IPV6_V6ONLY, 1);
		tap_ok(rc == -EINVAL || rc == 0, "%s: IPV6_V6ONLY reaches the host (%d)", tag, rc);
	} else {
		rc = sg_setopt_int(&g, lh, IPPROTO_IPV6, IPV6_V6ONLY, 1);
		tap_ok(rc == -EOPNOTSUPP, "%s: IPV6_V6ONLY on an IPv4 socket: -EOPNOTSUPP", tag);
	}

	/* shutdown(WR) on one side: the other sees RDHUP/IN and EOF. */
	rc = sg_simple(&g, HRPC_SOCK_SHUTDOWN, ch, SHUT_WR);
	{
		uint32_t m = sg_wait(&g, ah, HRPC_POLLRDHUP, 2000);
		int n = sg_recv(&g, ah, buf, sizeof(buf), NULL, 0, NULL);

		tap_ok(rc == 0 && (m & HRPC_POLLRDHUP) && n == 0,
		       "%s: shutdown(SHUT_WR) -> peer gets an RDHUP event and EOF (mask %#x)", tag, m);
	}
	rc = sg_send(&g, ch, "x", 1, NULL, HRPC_MSG_NOSIGNAL, NULL);
	tap_ok(rc == -EPIPE, "%s: send after shutdown: -EPIPE (%d)", tag, rc);

	hrpc_client_bulk_free(g.cli, &b1);
	hrpc_client_bulk_free(g.cli, &b2);
out:
	if (ah)
		sg_close(&g, ah);
	if (ch)
		sg_close(&g, ch);
	if (lh)
		sg_close(&g, lh);
	free(src);
	free(dst);
}

static void test_udp(int family, const char *ip, const char *tag)
{
	uint64_t a = 0, b = 0;
	struct hrpc_sock_addr any, na, nb;
	struct hrpc_sock_io_rep io;
	uint8_t buf[2048], msg[1000];
	int rc;

	for (unsigned int i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	rc = sg_socket(&g, family, SOCK_DGRAM, &a);
	if (!rc)
		rc = sg_socket(&g, family, SOCK_DGRAM, &b);
	sg_addr(&any, family, ip, 0);
	if (!rc)
		rc = sg_addrcall(&g, HRPC_SOCK_BIND, a, &any);
	if (!rc)
		rc = sg_addrcall(&g, HRPC_SOCK_BIND, b, &any);
	if (!rc)
		rc = sg_getname(&g, a, false, &na);
	if (!rc)
		rc = sg_getname(&g, b, false, &nb);
	tap_ok(rc == 0 && na.port && nb.port, "%s: two UDP sockets bound (%u, %u)", tag, na.port, nb.port);
	rc = sg_send(&g, a, msg, sizeof(msg), NULL, 0, &nb);
	tap_ok(rc == (int)sizeof(msg), "%s: sendto %zu bytes", tag, sizeof(msg));
	sg_wait(&g, b, HRPC_POLLIN, 2000);
	rc = sg_recv(&g, b, buf, sizeof(buf), NULL, 0, &io);
	tap_ok(rc == (int)sizeof(msg) && !memcmp(buf, msg, sizeof(msg)) && io.addr.port == na.port &&
	       io.addr.family == family, "%s: recvfrom: data and sender address (port %u)", tag,
	       io.addr.port);
	sg_send(&g, a, msg, sizeof(msg), NULL, 0, &nb);
	sg_wait(&g, b, HRPC_POLLIN, 2000);
	rc = sg_recv(&g, b, buf, 10, NULL, 0, &io);
	tap_ok(rc == 10 && io.full_len == sizeof(msg) && (io.msg_flags & HRPC_MSG_TRUNC) &&
	       !memcmp(buf, msg, 10), "%s: short read of a datagram: MSG_TRUNC, full_len %u", tag,
	       io.full_len);
	rc = sg_recv(&g, b, buf, sizeof(buf), NULL, 0, NULL);
	tap_ok(rc == -EAGAIN, "%s: the rest of a truncated datagram is gone", tag);
	/* connected UDP */
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, a, &nb);
	if (!rc)
		rc = sg_send(&g, a, "ping", 4, NULL, 0, NULL);
	sg_wait(&g, b, HRPC_POLLIN, 2000);
	if (rc == 4)
		rc = sg_recv(&g, b, buf, sizeof(buf), NULL, 0, NULL);
	tap_ok(rc == 4 && !memcmp(buf, "ping", 4), "%s: connect + send on UDP", tag);
	{
		struct hrpc_sock_addr un = { .family = 0 }, pa;

		rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, a, &un);
		if (!rc)
			rc = sg_getname(&g, a, true, &pa);
		tap_ok(rc == -ENOTCONN, "%s: connect(AF_UNSPEC) dissolves the association (%d)", tag, rc);
	}
	rc = sg_send(&g, a, "x", 1, NULL, 0, NULL);
	tap_ok(rc == -EDESTADDRREQ, "%s: send without a destination: -EDESTADDRREQ", tag);
	sg_close(&g, a);
	sg_close(&g, b);
}

static void test_refused(void)
{
	uint64_t h, probe;
	struct hrpc_sock_addr a, closed;
	int rc, err = 0;
	uint32_t m;

	/* a port nobody listens on: bind a socket, note its port, close it */
	sg_socket(&g, AF_INET, SOCK_STREAM, &probe);
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, probe, &a);
	sg_getname(&g, probe, false, &closed);
	sg_close(&g, probe);

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &closed);
	m = sg_wait(&g, h, HRPC_POLLERR | HRPC_POLLHUP, 3000);
	if (rc == -EINPROGRESS)
		rc = sg_getopt_int(&g, h, SOL_SOCKET, SO_ERROR, &err);
	tap_ok((rc == 0 && err == ECONNREFUSED) || rc == -ECONNREFUSED,
	       "non-blocking connect to a closed port: EINPROGRESS then SO_ERROR = ECONNREFUSED "
	       "(rc %d, err %d, mask %#x)", rc, err, m);
	rc = sg_getopt_int(&g, h, SOL_SOCKET, SO_ERROR, &err);
	tap_ok(rc == 0 && err == 0, "SO_ERROR is cleared once read");
	sg_close(&g, h);
}

static void test_events_credit(void)
{
	struct hrpc_sock_credit cr = { .credit = 1 }, co;
	struct hrpc_sock_init_req r = { .version = HRPC_SOCK_VERSION, .credit = 0 };
	struct hrpc_sock_init_rep o;
	struct hrpc_sock_addr a, name;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint64_t lh, ch, ah, ev0;
	int rc, hfd;

	g.no_auto_credit = true;	/* this test counts credits itself */
	g.credit_due = 0;
	rc = tcp_pair(AF_INET, "127.0.0.1", &lh, &ch, &ah);
	/* INIT again, with no credit: the guest "rebooted". */
	rc = sg_call(&g, HRPC_SOCK_INIT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
	tap_ok(rc == 0 && o.max_credit == HRPC_SOCK_MAX_CREDIT && o.max_io == HRPC_SOCK_MAX_IO,
	       "INIT again: accepted, limits reported");
	rc = sg_simple(&g, HRPC_SOCK_POLL, lh, 0);
	tap_ok(rc == -EBADF, "INIT closed the guest's old sockets (stale handle: %d)", rc);

	/* No credit: readiness is kept, not sent. */
	sg_socket(&g, AF_INET, SOCK_STREAM, &lh);
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, lh, &a);
	sg_simple(&g, HRPC_SOCK_LISTEN, lh, 4);
	sg_getname(&g, lh, false, &name);
	sa.sin_port = htons(name.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	hfd = socket(AF_INET, SOCK_STREAM, 0);
	rc = connect(hfd, (struct sockaddr *)&sa, sizeof(sa));
	ev0 = g.events;
	sg_wait(&g, lh, HRPC_POLLIN, 300);
	tap_ok(rc == 0 && g.events == ev0 && !(sg_mask(&g, lh) & HRPC_POLLIN),
	       "no credit: no READY event for a pending connection");
	rc = sg_call(&g, HRPC_SOCK_CREDIT, &cr, sizeof(cr), &co, sizeof(co), NULL, 0, NULL);
	sg_wait(&g, lh, HRPC_POLLIN, 2000);
	tap_ok(rc == 0 && g.events == ev0 + 1 && (sg_mask(&g, lh) & HRPC_POLLIN),
	       "one credit granted: the kept state arrives as one event");
	cr.credit = 0;
	rc = sg_call(&g, HRPC_SOCK_CREDIT, &cr, sizeof(cr), &co, sizeof(co), NULL, 0, NULL);
	tap_ok(rc == 0 && co.credit == 0, "credit accounting: the event spent it (held %u)",
	       co.credit);
	cr.credit = HRPC_SOCK_MAX_CREDIT + 1;
	rc = sg_call(&g, HRPC_SOCK_CREDIT, &cr, sizeof(cr), &co, sizeof(co), NULL, 0, NULL);
	tap_ok(rc == -EINVAL && co.credit == 0, "credit beyond the maximum: -EINVAL, nothing granted");
	cr.credit = 1024;
	rc = sg_call(&g, HRPC_SOCK_CREDIT, &cr, sizeof(cr), &co, sizeof(co), NULL, 0, NULL);
	tap_ok(rc == 0 && co.credit == 1024, "credit restored");
	rc = sg_accept(&g, lh, &ah, NULL, 2000);
	tap_ok(rc == 0, "accept after the event");
	close(hfd);
	sg_close(&g, ah);
	sg_close(&g, lh);
	g.no_auto_credit = false;
}

static void test_many(void)
{
	enum { N = 200 };
	uint64_t lh, c[N], a[N];
	struct hrpc_sock_addr any, name;
	int ok = 0, rc;

	sg_socket(&g, AF_INET, SOCK_STREAM, &lh);
	sg_addr(&any, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, lh, &any);
	sg_simple(&g, HRPC_SOCK_LISTEN, lh, 256);
	sg_getname(&g, lh, false, &name);
	for (int i = 0; i < N; i++) {
		rc = sg_socket(&g, AF_INET, SOCK_STREAM, &c[i]);
		if (!rc)
			rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, c[i], &name);
		if (rc && rc != -EINPROGRESS)
			break;
	}
	for (int i = 0; i < N; i++) {
		char m[8];

		if (sg_accept(&g, lh, &a[i], NULL, 5000))
			break;
		snprintf(m, sizeof(m), "%d", i);
		if (sg_connect(&g, c[i], &name, 5000) == 0 &&
		    sg_send(&g, c[i], m, (uint32_t)strlen(m), NULL, 0, NULL) > 0)
			ok++;
	}
	rc = 0;
	for (int i = 0; i < N && i < ok; i++) {
		char r[8] = "";

		if (sg_recv_all(&g, a[i], (uint8_t *)r, 1, NULL, 2000) == 0)
			rc++;
	}
	tap_ok(ok == N && rc == N, "%d concurrent connections through one guest (%d sent, %d read)",
	       N, ok, rc);
	for (int i = 0; i < N; i++) {
		sg_close(&g, c[i]);
		if (i < ok)
			sg_close(&g, a[i]);
	}
	sg_close(&g, lh);
}

static void test_host_peer(void)
{
	/* A host program talks to a guest socket: the guest is a real client of
	 * a host server (a plain socket in this process). */
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct hrpc_sock_addr to;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd;
	uint64_t h;
	char buf[32] = "";
	int rc;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(lfd, 1);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&to, AF_INET, "127.0.0.1", ntohs(sa.sin_port));
	rc = sg_connect(&g, h, &to, 5000);
	cfd = accept(lfd, NULL, NULL);
	if (!rc)
		rc = sg_send(&g, h, "GET /\r\n", 7, NULL, 0, NULL);
	if (rc == 7)
		rc = (int)recv(cfd, buf, sizeof(buf), 0);
	if (rc == 7)
		rc = (int)send(cfd, "200 OK", 6, 0);
	memset(buf, 0, sizeof(buf));
	if (rc == 6)
		rc = sg_recv_all(&g, h, (uint8_t *)buf, 6, NULL, 2000);
	tap_ok(rc == 0 && !strcmp(buf, "200 OK"), "guest client <-> host server (plain socket)");
	close(cfd);
	{
		uint32_t m = sg_wait(&g, h, HRPC_POLLRDHUP | HRPC_POLLHUP, 2000);

		rc = sg_recv(&g, h, buf, sizeof(buf), NULL, 0, NULL);
		tap_ok((m & HRPC_POLLRDHUP) && rc == 0, "host peer closes: RDHUP event, EOF (%#x)", m);
	}
	sg_close(&g, h);
	close(lfd);
}

int main(void)
{
	char path[] = "/tmp/sock-audit.XXXXXX";
	int afd = mkstemp(path), rc;
	bool v6 = have_ipv6();

	tap_plan(63);
	rc = sg_start(&g, SG_LOOPBACK_POLICY, afd);
	if (rc < 0) {
		printf("Bail out! cannot start the service: %s\n", strerror(-rc));
		return 1;
	}
	test_tcp(AF_INET, "127.0.0.1", "tcp4");
	if (v6)
		test_tcp(AF_INET6, "::1", "tcp6");
	else
		for (int i = 0; i < 17; i++)
			printf("ok %d # SKIP no IPv6 loopback\n", ++tap_n);
	test_udp(AF_INET, "127.0.0.1", "udp4");
	if (v6)
		test_udp(AF_INET6, "::1", "udp6");
	else
		for (int i = 0; i < 8; i++)
			printf("ok %d # SKIP no IPv6 loopback\n", ++tap_n);
	test_refused();
	test_host_peer();
	test_many();
	test_events_credit();
	{
		static char buf[4 << 20];
		ssize_t n = pread(afd, buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = 0;
		tap_ok(strstr(buf, " listen 127.0.0.1:") && strstr(buf, " connect 127.0.0.1:") &&
		       strstr(buf, " accept on sock=") && strstr(buf, " close tcp local=") &&
		       strstr(buf, "name=test-guest") && strstr(buf, "Connection refused"),
		       "audit log has listen/connect/accept/close with addresses, and the refusal");
		tap_ok(strstr(buf, " sent=4194309 received=1048576") != NULL,
		       "audit log has byte counts");
	}
	sg_stop(&g);
	close(afd);
	if (getenv("KEEP_AUDIT")) printf("# audit log kept: %s\n", path); else unlink(path);
	return tap_done();
}
