/* SPDX-License-Identifier: MIT */
/*
 * xlat-probe - guest test program for the host's IPv4/IPv6 translation
 * (tests/vm/sock/sock-translate-vm.sh).  Runs inside a NIC-less guest whose
 * sockets are the host's.  The host's services greet each client with
 * "v6 <peer>" or "v4 <peer>", then echo (TCP) or answer each datagram
 * with the greeting (UDP).  Each check prints "RESULT <name> PASS|FAIL
 * <detail>":
 *
 *   tcp4    AF_INET client -> 10.64.0.1:P6 reaches the IPv6-only service
 *   udp4    AF_INET sendto 10.64.0.1:P6, the answer from 10.64.0.1:P6
 *   tcp6    IPV6_V6ONLY client -> [64:ff9b::7f00:1]:P4, the IPv4-only service
 *   udp6    IPV6_V6ONLY sendto [64:ff9b::7f00:1]:P4, the answer from there
 *   mapped  IPV6_V6ONLY client -> [::ffff:127.0.0.1]:P4
 *   denied  AF_INET client -> 10.66.0.5:P6, translated into a denied network
 *
 *   xlat-probe -4 P4 -6 P6 CHECK...
 * Every check also wants getpeername/getsockname (or recvfrom) in the
 * family and form the program used.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int p4 = 0, p6 = 0;
static int failures;

static void result(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	printf("RESULT %s %s ", name, ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static socklen_t mk(struct sockaddr_storage *ss, int family, const char *ip, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, ip, &in->sin_addr);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &in6->sin6_addr);
	return sizeof(*in6);
}

/* "family ip port" of an address, for the detail. */
static const char *show(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, len, "AF_INET %s:%u", a, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "AF_INET6 [%s]:%u", a, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "family %d", ss->ss_family);
	}
	return buf;
}

/* Is `ss` family/ip (port: that one, or any but 0 when port is 0)? */
static int same(const struct sockaddr_storage *ss, int family, const char *ip, int port)
{
	struct sockaddr_storage w;

	mk(&w, family, ip, port);
	if (ss->ss_family != family)
		return 0;
	if (family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		const struct sockaddr_in *b = (const struct sockaddr_in *)&w;

		return a->sin_addr.s_addr == b->sin_addr.s_addr &&
		       (port ? a->sin_port == b->sin_port : a->sin_port != 0);
	}
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&w;

	return !memcmp(&a->sin6_addr, &b->sin6_addr, 16) &&
	       (port ? a->sin6_port == b->sin6_port : a->sin6_port != 0);
}

static void timeouts(int fd)
{
	struct timeval tv = { 10, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* One line from a stream socket (without the newline). */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = recv(fd, buf + n, 1, 0);

		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return (int)n;
}

/* A TCP client of `family` (IPV6_V6ONLY for IPv6) to ip:port: the host's
 * greeting must start with `want`; then an echo; then the names. */
static void check_tcp(const char *name, int family, const char *ip, int port, const char *want)
{
	struct sockaddr_storage to, peer, me;
	socklen_t tl = mk(&to, family, ip, port), pl = sizeof(peer), ml = sizeof(me);
	int fd = socket(family, SOCK_STREAM, 0), one = 1, v6only = -1, rc, ok;
	socklen_t vl = sizeof(v6only);
	char greet[128] = "", echo[16] = "", s1[96], s2[96];

	memset(&peer, 0, sizeof(peer));
	memset(&me, 0, sizeof(me));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	timeouts(fd);
	rc = connect(fd, (struct sockaddr *)&to, tl);
	if (rc < 0) {
		result(name, 0, "connect %s:%d: %s", ip, port, strerror(errno));
		close(fd);
		return;
	}
	ok = read_line(fd, greet, sizeof(greet)) > 0 && !strncmp(greet, want, strlen(want));
	ok = ok && send(fd, "echo", 4, 0) == 4 && recv(fd, echo, 4, MSG_WAITALL) == 4 &&
	     !memcmp(echo, "echo", 4);
	getpeername(fd, (struct sockaddr *)&peer, &pl);
	getsockname(fd, (struct sockaddr *)&me, &ml);
	ok = ok && same(&peer, family, ip, port) && me.ss_family == family;
	/* A /32 -> /128 rule or the NAT64 prefix maps the host's local
	 * address back to the guest's address too. */
	ok = ok && same(&me, family, ip, 0);
	if (family == AF_INET6) {
		getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vl);
		ok = ok && v6only == 1;
	}
	result(name, ok, "host said '%s'; getpeername %s, getsockname %s%s", greet,
	       show(&peer, s1, sizeof(s1)), show(&me, s2, sizeof(s2)),
	       family == AF_INET6 ? (v6only == 1 ? ", IPV6_V6ONLY 1" : ", IPV6_V6ONLY lost") : "");
	close(fd);
}

static void check_udp(const char *name, int family, const char *ip, int port, const char *want)
{
	struct sockaddr_storage to, from;
	socklen_t tl = mk(&to, family, ip, port), fl = sizeof(from);
	int fd = socket(family, SOCK_DGRAM, 0), one = 1, ok = 0;
	char buf[128] = "", s1[96];
	ssize_t n = -1;

	memset(&from, 0, sizeof(from));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	timeouts(fd);
	/* UDP may lose a datagram: up to three tries. */
	for (int i = 0; i < 3 && n < 0; i++) {
		if (sendto(fd, "hello", 5, 0, (struct sockaddr *)&to, tl) != 5)
			break;
		n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
	}
	if (n >= 0) {
		buf[n] = 0;
		ok = !strncmp(buf, want, strlen(want)) && same(&from, family, ip, port);
	}
	result(name, ok, "host said '%s'; recvfrom %s%s%s", buf, show(&from, s1, sizeof(s1)),
	       n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
	close(fd);
}

static void check_denied(void)
{
	struct sockaddr_storage to;
	socklen_t tl = mk(&to, AF_INET, "10.66.0.5", p6);
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc, e;

	rc = connect(fd, (struct sockaddr *)&to, tl);
	e = errno;
	close(fd);
	result("denied", rc < 0 && e == EACCES, "connect 10.66.0.5 (-> 2001:db8:66::5, denied by "
	       "the host's policy): %s", rc < 0 ? strerror(e) : "connected!");
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "4:6:")) != -1) {
		switch (opt) {
		case '4': p4 = atoi(optarg); break;
		case '6': p6 = atoi(optarg); break;
		default: return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		const char *c = argv[i];

		if (!strcmp(c, "tcp4"))
			check_tcp("tcp4", AF_INET, "10.64.0.1", p6, "v6 ::1");
		else if (!strcmp(c, "udp4"))
			check_udp("udp4", AF_INET, "10.64.0.1", p6, "v6 ::1");
		else if (!strcmp(c, "tcp6"))
			check_tcp("tcp6", AF_INET6, "64:ff9b::7f00:1", p4, "v4 127.0.0.1");
		else if (!strcmp(c, "udp6"))
			check_udp("udp6", AF_INET6, "64:ff9b::7f00:1", p4, "v4 127.0.0.1");
		else if (!strcmp(c, "mapped"))
			check_tcp("mapped", AF_INET6, "::ffff:127.0.0.1", p4, "v4 127.0.0.1");
		else if (!strcmp(c, "denied"))
			check_denied();
		else
			result(c, 0, "unknown check");
	}
	return failures ? 1 : 0;
}
