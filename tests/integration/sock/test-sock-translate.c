/* SPDX-License-Identifier: MIT */
/*
 * test-sock-translate - IPv4/IPv6 translation in the socket service (policy
 * `translate` rules, outsource/sock/translate.h), with a process guest
 * against the host's real stack on loopback:
 *
 *   guest AF_INET  -- 10.64.0.1 ------> [::1]      host services that listen on
 *                                                  IPv6 only (IPV6_V6ONLY)
 *   guest AF_INET6 -- 64:ff9b::7f00:1 -> 127.0.0.1 host services that listen on
 *                  -- ::ffff:127.0.0.1              IPv4 only
 *
 * TCP and UDP both ways, with IPV6_V6ONLY set by the guest for the IPv6
 * side; getpeername/getsockname/recvfrom show the guest's family and the
 * addresses it used; options set before the host re-made the socket
 * survive; the policy decides on the translated address (a rule to ::1
 * does not open the host's loopback); an IPv4 socket bound already is
 * refused; a sender the guest's family cannot show is dropped; every
 * translated connection and UDP destination (once) is in the audit log;
 * the listing shows the rules.
 */
#include "config.h"

#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/time.h>

#include "tests/tap.h"
#include "outsource/sock/sockguest.h"

static struct sguest g;

/* The main guest: services on the host's loopback are allowed. */
static const char policy_a[] =
	"translate 10.64.0.1 -> ::1\n"
	"translate 10.65.0.0/16 -> 2001:db8:65::/112\n"
	"translate nat64\n"
	"translate mapped\n"
	"connect deny 2001:db8:65::/48\n"
	"connect allow ::1\n"
	"connect allow 127.0.0.1\n";

/* Rules to the host's loopback, and no rule allowing it. */
static const char policy_b[] =
	"translate 10.64.0.1 -> ::1\n"
	"translate nat64\n";

/* IPv4 loopback allowed, no `translate mapped`, ::1 outside every rule. */
static const char policy_c[] =
	"translate 10.70.0.0/16 -> 2001:db8:70::/112\n"
	"connect allow 127.0.0.1\n";

static bool have_ipv6(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A host socket on 127.0.0.1 or [::1] (IPv6 only), port chosen by the
 * host; reads time out after 5 s. */
static int host_sock(int family, int type, uint16_t *port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t sl = sizeof(ss);
	struct timeval tv = { 5, 0 };
	int fd = socket(family, type, 0), one = 1;

	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	} else {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&ss, family == AF_INET ? sizeof(struct sockaddr_in) :
		 sizeof(struct sockaddr_in6)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 8) < 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		printf("Bail out! host socket: %s\n", strerror(errno));
		exit(1);
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		      ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port :
		     ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Is the guest's address `a` family/ip/port (port 0: any but 0)? */
static bool is(const struct hrpc_sock_addr *a, int family, const char *ip, uint16_t port)
{
	struct hrpc_sock_addr w;

	sg_addr(&w, family, ip, port);
	return a->family == family && (port ? a->port == port : a->port != 0) &&
	       !memcmp(a->addr, w.addr, 16);
}

static const char *show(const struct hrpc_sock_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->addr, ip, sizeof(ip));
	snprintf(buf, len, "family %u %s port %u", a->family, ip, a->port);
	return buf;
}

/* Guest receives one datagram (waiting for it). */
static int udp_recv(uint64_t h, char *buf, uint32_t cap, struct hrpc_sock_io_rep *io)
{
	int rc;

	for (int i = 0; i < 50; i++) {
		rc = sg_recv(&g, h, buf, cap, NULL, 0, io);
		if (rc != -EAGAIN)
			return rc;
		sg_wait(&g, h, HRPC_POLLIN, 100);
	}
	return -ETIMEDOUT;
}

static int audit_fd;
static char audit_path[] = "/tmp/sock-translate-audit.XXXXXX";

static void start(const char *policy)
{
	int rc = sg_start(&g, policy, audit_fd);

	if (rc < 0) {
		printf("Bail out! cannot start the service: %s\n", strerror(-rc));
		exit(1);
	}
}

/* IPv4-only guest programs reach IPv6-only host services. */
static void test_4to6(void)
{
	uint16_t tport, uport, peerport = 0;
	int lfd = host_sock(AF_INET6, SOCK_STREAM, &tport);
	int ufd = host_sock(AF_INET6, SOCK_DGRAM, &uport);
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	struct hrpc_sock_addr a, name;
	struct hrpc_sock_io_rep io;
	char buf[64] = "", s1[96], s2[96];
	uint64_t h, u;
	int rc, afd = -1, v1 = 0, v2 = 0, dom = 0;
	ssize_t n;

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_setopt_int(&g, h, IPPROTO_TCP, TCP_NODELAY, 1);
	sg_setopt_int(&g, h, SOL_SOCKET, SO_KEEPALIVE, 1);
	sg_addr(&a, AF_INET, "10.64.0.1", tport);
	rc = sg_connect(&g, h, &a, 5000);
	if (!rc) {
		afd = accept(lfd, (struct sockaddr *)&from, &fl);
		peerport = ss_port(&from);
	}
	tap_ok(rc == 0 && afd >= 0 && from.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&from)->sin6_addr),
	       "tcp 4->6: an AF_INET guest socket connects to 10.64.0.1 and the IPv6-only host "
	       "service on [::1] accepts it from [::1] (%d)", rc);
	rc = sg_send(&g, h, "ping4", 5, NULL, HRPC_MSG_NOSIGNAL, NULL);
	n = afd >= 0 ? recv(afd, buf, sizeof(buf), 0) : -1;
	if (afd >= 0)
		send(afd, "pong6", 5, MSG_NOSIGNAL);
	memset(s1, 0, sizeof(s1));
	rc = sg_recv_all(&g, h, (uint8_t *)s1, 5, NULL, 5000);
	tap_ok(n == 5 && !memcmp(buf, "ping4", 5) && rc == 0 && !memcmp(s1, "pong6", 5),
	       "tcp 4->6: data both ways");
	sg_getname(&g, h, true, &a);
	sg_getname(&g, h, false, &name);
	tap_ok(is(&a, AF_INET, "10.64.0.1", tport) && is(&name, AF_INET, "10.64.0.1", peerport),
	       "tcp 4->6: getpeername %s, getsockname %s: IPv4, as the guest used it",
	       show(&a, s1, sizeof(s1)), show(&name, s2, sizeof(s2)));
	sg_getopt_int(&g, h, IPPROTO_TCP, TCP_NODELAY, &v1);
	sg_getopt_int(&g, h, SOL_SOCKET, SO_KEEPALIVE, &v2);
	sg_getopt_int(&g, h, SOL_SOCKET, SO_DOMAIN, &dom);
	tap_ok(v1 == 1 && v2 == 1 && dom == AF_INET,
	       "tcp 4->6: TCP_NODELAY and SO_KEEPALIVE set before survive the IPv6 host socket, "
	       "SO_DOMAIN reads AF_INET (%d %d %d)", v1, v2, dom);
	sg_close(&g, h);
	if (afd >= 0)
		close(afd);

	/* UDP: two datagrams, one audit line. */
	sg_socket(&g, AF_INET, SOCK_DGRAM, &u);
	sg_addr(&a, AF_INET, "10.64.0.1", uport);
	rc = sg_send(&g, u, "dg1", 3, NULL, 0, &a);
	rc = rc == 3 ? sg_send(&g, u, "dg2", 3, NULL, 0, &a) : rc;
	fl = sizeof(from);
	n = recvfrom(ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	n = n == 3 ? recvfrom(ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) : -1;
	if (n == 3)
		sendto(ufd, "back6", 5, 0, (struct sockaddr *)&from, fl);
	rc = rc == 3 ? udp_recv(u, buf, sizeof(buf), &io) : rc;
	tap_ok(n == 3 && from.ss_family == AF_INET6 && rc == 5 && !memcmp(buf, "back6", 5) &&
	       is(&io.addr, AF_INET, "10.64.0.1", uport),
	       "udp 4->6: sendto 10.64.0.1 reaches [::1], the reply comes from %s",
	       show(&io.addr, s1, sizeof(s1)));
	sg_close(&g, u);

	/* The policy decides on the address the host uses. */
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "10.65.0.7", 80);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
	tap_ok(rc == -EACCES, "a destination translated into a denied network (2001:db8:65::7) "
	       "-> -EACCES (%d)", rc);
	sg_close(&g, h);

	/* An IPv4 socket that is bound cannot turn IPv6. */
	sg_socket(&g, AF_INET, SOCK_DGRAM, &u);
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, u, &a);
	sg_addr(&a, AF_INET, "10.64.0.1", uport);
	rc = sg_send(&g, u, "x", 1, NULL, 0, &a);
	tap_ok(rc == -ENETUNREACH, "udp 4->6 from a socket bound to 127.0.0.1 -> -ENETUNREACH (%d)",
	       rc);
	sg_close(&g, u);
	close(lfd);
	close(ufd);
}

/* IPv6-only guest programs (IPV6_V6ONLY) reach IPv4-only host services. */
static void test_6to4(void)
{
	uint16_t tport, uport, peerport = 0;
	int lfd = host_sock(AF_INET, SOCK_STREAM, &tport);
	int ufd = host_sock(AF_INET, SOCK_DGRAM, &uport);
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	struct hrpc_sock_addr a, name;
	struct hrpc_sock_io_rep io;
	char buf[64] = "", s1[96], s2[96];
	uint64_t h, u;
	int rc, afd = -1, v6only = 0;
	ssize_t n;

	sg_socket(&g, AF_INET6, SOCK_STREAM, &h);
	sg_setopt_int(&g, h, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	sg_addr(&a, AF_INET6, "64:ff9b::7f00:1", tport);
	rc = sg_connect(&g, h, &a, 5000);
	if (!rc) {
		afd = accept(lfd, (struct sockaddr *)&from, &fl);
		peerport = ss_port(&from);
	}
	tap_ok(rc == 0 && afd >= 0 && from.ss_family == AF_INET,
	       "tcp 6->4: an IPV6_V6ONLY guest socket connects to 64:ff9b::7f00:1 and the "
	       "IPv4-only host service on 127.0.0.1 accepts it (%d)", rc);
	rc = sg_send(&g, h, "ping6", 5, NULL, HRPC_MSG_NOSIGNAL, NULL);
	n = afd >= 0 ? recv(afd, buf, sizeof(buf), 0) : -1;
	if (afd >= 0)
		send(afd, "pong4", 5, MSG_NOSIGNAL);
	memset(s1, 0, sizeof(s1));
	rc = sg_recv_all(&g, h, (uint8_t *)s1, 5, NULL, 5000);
	tap_ok(n == 5 && !memcmp(buf, "ping6", 5) && rc == 0 && !memcmp(s1, "pong4", 5),
	       "tcp 6->4: data both ways");
	sg_getname(&g, h, true, &a);
	sg_getname(&g, h, false, &name);
	sg_getopt_int(&g, h, IPPROTO_IPV6, IPV6_V6ONLY, &v6only);
	tap_ok(is(&a, AF_INET6, "64:ff9b::7f00:1", tport) &&
	       is(&name, AF_INET6, "64:ff9b::7f00:1", peerport) && v6only == 1,
	       "tcp 6->4: getpeername %s, getsockname %s: NAT64 form; IPV6_V6ONLY still reads %d",
	       show(&a, s1, sizeof(s1)), show(&name, s2, sizeof(s2)), v6only);
	sg_close(&g, h);
	if (afd >= 0)
		close(afd);

	/* IPv4-mapped on a V6ONLY socket (translate mapped). */
	sg_socket(&g, AF_INET6, SOCK_STREAM, &h);
	sg_setopt_int(&g, h, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	sg_addr(&a, AF_INET6, "::ffff:127.0.0.1", tport);
	rc = sg_connect(&g, h, &a, 5000);
	afd = rc ? -1 : accept(lfd, NULL, NULL);
	sg_getname(&g, h, true, &a);
	tap_ok(rc == 0 && afd >= 0 && is(&a, AF_INET6, "::ffff:127.0.0.1", tport),
	       "tcp mapped: an IPV6_V6ONLY guest socket reaches 127.0.0.1 as ::ffff:127.0.0.1, "
	       "getpeername %s (%d)", show(&a, s1, sizeof(s1)), rc);
	sg_close(&g, h);
	if (afd >= 0)
		close(afd);

	/* UDP through the NAT64 prefix. */
	sg_socket(&g, AF_INET6, SOCK_DGRAM, &u);
	sg_setopt_int(&g, u, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	sg_addr(&a, AF_INET6, "64:ff9b::7f00:1", uport);
	rc = sg_send(&g, u, "dg6", 3, NULL, 0, &a);
	fl = sizeof(from);
	n = recvfrom(ufd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	if (n == 3)
		sendto(ufd, "back4", 5, 0, (struct sockaddr *)&from, fl);
	rc = rc == 3 ? udp_recv(u, buf, sizeof(buf), &io) : rc;
	tap_ok(n == 3 && from.ss_family == AF_INET && rc == 5 && !memcmp(buf, "back4", 5) &&
	       is(&io.addr, AF_INET6, "64:ff9b::7f00:1", uport),
	       "udp 6->4: sendto 64:ff9b::7f00:1 reaches 127.0.0.1, the reply comes from %s",
	       show(&io.addr, s1, sizeof(s1)));
	sg_close(&g, u);
	close(lfd);
	close(ufd);
}

static void test_listing(void)
{
	char *listing = NULL;
	size_t llen = 0;
	FILE *f = open_memstream(&listing, &llen);

	sg_print(&g, f, false);
	fclose(f);
	tap_ok(listing && strstr(listing, "translate 10.64.0.1/32 -> ::1/128") &&
	       strstr(listing, "translate 64:ff9b::/96 -> 0.0.0.0/0") && strstr(listing, "(nat64)") &&
	       strstr(listing, "translate ::ffff:0.0.0.0/96 -> 0.0.0.0/0"),
	       "the listing shows the translate rules");
	if (listing && !strstr(listing, "(nat64)"))
		tap_diag("%s", listing);
	free(listing);
	f = open_memstream(&listing, &llen);
	sg_print(&g, f, true);
	fclose(f);
	tap_ok(listing && strstr(listing, "\"translate\":[{\"rule\":\"10.64.0.1/32 -> ::1/128\""),
	       "the JSON listing has the translate rules");
	free(listing);
}

/* No way around the built-in rules; what the host cannot show is dropped. */
static void test_guards(void)
{
	uint16_t tport;
	int lfd = host_sock(AF_INET6, SOCK_STREAM, &tport);
	int hfd4, hfd6;
	struct hrpc_sock_addr a, name;
	struct hrpc_sock_io_rep io;
	struct sockaddr_in to4 = { .sin_family = AF_INET };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	char buf[64] = "", s1[96];
	uint64_t h, u;
	int rc, rc2;

	start(policy_b);
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "10.64.0.1", tport);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
	sg_close(&g, h);
	sg_socket(&g, AF_INET6, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET6, "64:ff9b::7f00:1", tport);
	rc2 = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
	sg_close(&g, h);
	tap_ok(rc == -EACCES && rc2 == -EACCES,
	       "without a rule allowing it, 10.64.0.1 -> ::1 and 64:ff9b::7f00:1 -> 127.0.0.1 are "
	       "the host's loopback: -EACCES (%d, %d)", rc, rc2);
	sg_stop(&g);

	start(policy_c);
	sg_socket(&g, AF_INET6, SOCK_STREAM, &h);
	sg_setopt_int(&g, h, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	sg_addr(&a, AF_INET6, "::ffff:127.0.0.1", tport);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
	sg_close(&g, h);
	tap_ok(rc == -ENETUNREACH, "without `translate mapped` an IPV6_V6ONLY socket cannot use "
	       "::ffff:127.0.0.1, as on Linux (%d)", rc);

	/* An AF_INET guest socket the host made IPv6 (bound to ::): an IPv6
	 * sender no rule maps is dropped, an IPv4 one is shown as IPv4. */
	sg_socket(&g, AF_INET, SOCK_DGRAM, &u);
	sg_addr(&a, AF_INET, "10.70.0.1", 9);
	sg_send(&g, u, "x", 1, NULL, 0, &a); /* may fail (no route): it binds all the same */
	sg_getname(&g, u, false, &name);
	hfd4 = socket(AF_INET, SOCK_DGRAM, 0);
	hfd6 = socket(AF_INET6, SOCK_DGRAM, 0);
	to4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to4.sin_port = htons(name.port);
	to6.sin6_port = htons(name.port);
	sendto(hfd6, "from6", 5, 0, (struct sockaddr *)&to6, sizeof(to6));
	sg_wait(&g, u, HRPC_POLLIN, 5000);
	rc = sg_recv(&g, u, buf, sizeof(buf), NULL, 0, &io);
	sendto(hfd4, "from4", 5, 0, (struct sockaddr *)&to4, sizeof(to4));
	rc2 = udp_recv(u, buf, sizeof(buf), &io);
	tap_ok(name.family == AF_INET && name.port && rc == -EAGAIN && rc2 == 5 &&
	       !memcmp(buf, "from4", 5) && is(&io.addr, AF_INET, "127.0.0.1", 0),
	       "udp: a datagram from [::1] (no rule maps it) is dropped, one from 127.0.0.1 arrives "
	       "from %s (%d, %d)", show(&io.addr, s1, sizeof(s1)), rc, rc2);
	close(hfd4);
	close(hfd6);
	sg_close(&g, u);
	sg_stop(&g);
	close(lfd);
}

int main(void)
{
	static char log[1 << 20];
	ssize_t n;

	if (!have_ipv6())
		tap_skip_all("no IPv6 loopback (::1) on this host");
	tap_plan(21);
	audit_fd = mkstemp(audit_path);
	start(policy_a);
	test_4to6();
	test_6to4();
	test_listing();
	sg_stop(&g);
	test_guards();

	n = pread(audit_fd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = 0;
	tap_ok(strstr(log, "translate tcp connect 10.64.0.1:") &&
	       strstr(log, "-> [::1]:") && strstr(log, "rule 10.64.0.1/32 -> ::1/128"),
	       "audit: the translated TCP connection 10.64.0.1 -> [::1]");
	{
		const char *p = strstr(log, "translate udp sendto 10.64.0.1:");

		tap_ok(p && !strstr(p + 1, "translate udp sendto 10.64.0.1:"),
		       "audit: the UDP destination 10.64.0.1 -> [::1], once for two datagrams");
	}
	tap_ok(strstr(log, "translate tcp connect [64:ff9b::7f00:1]:") &&
	       strstr(log, "-> [::ffff:127.0.0.1]:") && strstr(log, "rule 64:ff9b::/96 -> 0.0.0.0/0") &&
	       strstr(log, "translate udp sendto [64:ff9b::7f00:1]:") &&
	       strstr(log, "translate tcp connect [::ffff:127.0.0.1]:"),
	       "audit: the NAT64 and IPv4-mapped connections and the NAT64 UDP destination");
	tap_ok(strstr(log, "translated to [2001:db8:65::7]:80 denied by policy") && strstr(log, "refused: the socket is bound already") &&
	       strstr(log, "connect 10.64.0.1:") && strstr(log, "translated to [::1]:"),
	       "audit: denials name the guest's and the translated address, refusals say why");
	if (tap_failed)
		tap_diag("audit log:\n%s", log);
	close(audit_fd);
	unlink(audit_path);
	return tap_done();
}
