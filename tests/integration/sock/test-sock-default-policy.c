/* SPDX-License-Identifier: MIT */
/*
 * test-sock-default-policy - a hostile guest with no policy file, in the
 * host's network namespace, gets nothing of the host:
 *   - no server on a port below 1024 (a rogue DHCP or DNS server on :67/:53);
 *   - no connection, datagram or UDP association to the host's loopback,
 *     link-local (metadata), unspecified, multicast/broadcast or own
 *     addresses, in any spelling (0.0.0.0 and :: reach loopback; IPv4-mapped,
 *     IPv4-compatible and NAT64 forms; a scope id);
 *   - no share of a host service's port: SO_REUSEPORT, SO_REUSEADDR on UDP
 *     and the binding options (IP_FREEBIND, IP_TRANSPARENT, ...) are -EPERM,
 *     and a host UDP/TCP service that allows sharing still gets every
 *     datagram and connection;
 *   - a connected UDP socket is checked again at every send (an address that
 *     became the host's after the connect);
 * what a policy file allows comes first, the built-in rules after; and the
 * effective policy is printed with the socket listing.
 */
#include "config.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "tests/tap.h"
#include "outsource/sock/sockguest.h"

#define PLAN 32

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

static struct sguest g;

static int host_socket(int family, int type, const char *ip, uint16_t port, bool share,
		       uint16_t *bound)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t sl = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;

	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	}
	if (share) {
		/* a host service that allows sharing (as many DNS servers do) */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (bound)
		*bound = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
			       ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

struct dest {
	int family;
	const char *ip;
	uint32_t scope;
	const char *what;
};

/* Destinations a guest without a policy must not reach; `port` is a live
 * host listener on 127.0.0.1 and ::1, so today's code would connect. */
static const struct dest denied[] = {
	{ AF_INET, "127.0.0.1", 0, "loopback" },
	{ AF_INET, "127.0.0.2", 0, "loopback /8" },
	{ AF_INET6, "::1", 0, "IPv6 loopback" },
	{ AF_INET, "169.254.169.254", 0, "the metadata service (link-local)" },
	{ AF_INET, "0.0.0.0", 0, "0.0.0.0 (Linux connects it to loopback)" },
	{ AF_INET6, "::", 0, ":: (Linux connects it to ::1)" },
	{ AF_INET6, "::ffff:127.0.0.1", 0, "IPv4-mapped loopback" },
	{ AF_INET6, "::127.0.0.1", 0, "IPv4-compatible loopback" },
	{ AF_INET6, "::ffff:0.0.0.0", 0, "IPv4-mapped 0.0.0.0" },
	{ AF_INET6, "fe80::1", 1, "fe80::1%1 (link-local with a scope id)" },
	{ AF_INET6, "64:ff9b::a9fe:a9fe", 0, "NAT64 form of 169.254.169.254" },
	{ AF_INET, "224.0.0.1", 0, "multicast" },
	{ AF_INET, "255.255.255.255", 0, "broadcast" },
};
#define NDENIED (sizeof(denied) / sizeof(denied[0]))

static void guest_addr(struct hrpc_sock_addr *a, const struct dest *d, uint16_t port)
{
	sg_addr(a, d->family, d->ip, port);
	a->scope_id = d->scope;
}

static void test_connect(uint16_t port)
{
	for (size_t i = 0; i < NDENIED; i++) {
		struct hrpc_sock_addr a;
		uint64_t h;
		int rc;

		sg_socket(&g, denied[i].family, SOCK_STREAM, &h);
		guest_addr(&a, &denied[i], port);
		rc = sg_connect(&g, h, &a, 2000);
		tap_ok(rc == -EACCES, "TCP connect to %s -> -EACCES (%d)", denied[i].what, rc);
		sg_close(&g, h);
	}
}

/* Datagrams: sendto, and connect-then-send, to every denied destination;
 * the host's UDP servers on 127.0.0.1/::1 must get nothing. */
static void test_udp(int ufd4, int ufd6, uint16_t port4, uint16_t port6)
{
	int sendto_bad = 0, connect_bad = 0, send_bad = 0;
	char buf[64];

	for (size_t i = 0; i < NDENIED; i++) {
		struct hrpc_sock_addr a;
		uint64_t h;
		int rc;

		sg_socket(&g, denied[i].family, SOCK_DGRAM, &h);
		guest_addr(&a, &denied[i], denied[i].family == AF_INET ? port4 : port6);
		rc = sg_send(&g, h, "leak", 4, NULL, 0, &a);
		if (rc != -EACCES) {
			sendto_bad++;
			tap_diag("sendto %s: %d", denied[i].what, rc);
		}
		rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
		if (rc != -EACCES) {
			connect_bad++;
			tap_diag("UDP connect %s: %d", denied[i].what, rc);
		}
		rc = sg_send(&g, h, "leak", 4, NULL, 0, NULL);
		if (rc >= 0) {
			send_bad++;
			tap_diag("send after connect %s: %d", denied[i].what, rc);
		}
		sg_close(&g, h);
	}
	tap_ok(!sendto_bad, "UDP sendto every denied destination -> -EACCES (%d wrong)", sendto_bad);
	tap_ok(!connect_bad, "UDP connect to every denied destination -> -EACCES (%d wrong)",
	       connect_bad);
	tap_ok(!send_bad, "UDP send after a refused connect sends nothing (%d wrong)", send_bad);
	tap_ok(recv(ufd4, buf, sizeof(buf), MSG_DONTWAIT) < 0 &&
	       (ufd6 < 0 || recv(ufd6, buf, sizeof(buf), MSG_DONTWAIT) < 0),
	       "the host's UDP servers on 127.0.0.1 and ::1 got no datagram");
}

static void test_bind(void)
{
	static const struct { int family, type; const char *ip; uint16_t port; } low[] = {
		{ AF_INET, SOCK_DGRAM, "0.0.0.0", 67 },
		{ AF_INET, SOCK_DGRAM, "0.0.0.0", 53 },
		{ AF_INET, SOCK_STREAM, "0.0.0.0", 53 },
		{ AF_INET6, SOCK_DGRAM, "::", 547 },
		{ AF_INET6, SOCK_STREAM, "::", 22 },
		{ AF_INET, SOCK_STREAM, "127.0.0.1", 80 },
	};
	struct hrpc_sock_addr a;
	uint64_t h;
	int bad = 0, rc;

	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		sg_socket(&g, low[i].family, low[i].type, &h);
		sg_addr(&a, low[i].family, low[i].ip, low[i].port);
		rc = sg_addrcall(&g, HRPC_SOCK_BIND, h, &a);
		if (rc != -EACCES) {
			bad++;
			tap_diag("bind %s:%u: %d", low[i].ip, low[i].port, rc);
		}
		sg_close(&g, h);
	}
	tap_ok(!bad, "bind below 1024 (:67 DHCP, :53 DNS, :547, :22, :80) -> -EACCES (%d wrong)", bad);

	sg_socket(&g, AF_INET, SOCK_DGRAM, &h);
	sg_addr(&a, AF_INET, "224.0.0.251", 5353);
	rc = sg_addrcall(&g, HRPC_SOCK_BIND, h, &a);
	sg_close(&g, h);
	tap_ok(rc == -EACCES, "bind to a multicast group address -> -EACCES (%d)", rc);

	/* what a guest may still do: a server on the wildcard, a high port */
	sg_socket(&g, AF_INET6, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET6, "::", 0);
	rc = sg_addrcall(&g, HRPC_SOCK_BIND, h, &a);
	if (!rc)
		rc = sg_simple(&g, HRPC_SOCK_LISTEN, h, 4);
	sg_close(&g, h);
	tap_ok(rc == 0, "bind [::]:0 (dual-stack) and listen still work (%d)", rc);
}

static void test_options(void)
{
	static const struct { int type, level, name; const char *what; } refused[] = {
		{ SOCK_STREAM, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT (TCP)" },
		{ SOCK_DGRAM, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT (UDP)" },
		{ SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR (UDP)" },
		{ SOCK_STREAM, SOL_SOCKET, SO_BINDTOIFINDEX, "SO_BINDTOIFINDEX" },
		{ SOCK_DGRAM, IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND" },
		{ SOCK_STREAM, IPPROTO_IP, IP_TRANSPARENT, "IP_TRANSPARENT" },
	};
	uint64_t h;
	int bad = 0, rc;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		sg_socket(&g, AF_INET, refused[i].type, &h);
		rc = sg_setopt_int(&g, h, refused[i].level, refused[i].name, 1);
		if (rc != -EPERM) {
			bad++;
			tap_diag("%s: %d", refused[i].what, rc);
		}
		sg_close(&g, h);
	}
	sg_socket(&g, AF_INET6, SOCK_DGRAM, &h);
	rc = sg_setopt_int(&g, h, IPPROTO_IPV6, IPV6_FREEBIND, 1);
	bad += rc != -EPERM;
	rc = sg_setopt_int(&g, h, IPPROTO_IPV6, IPV6_TRANSPARENT, 1);
	bad += rc != -EPERM;
	sg_close(&g, h);
	tap_ok(!bad, "SO_REUSEPORT, SO_REUSEADDR on UDP, SO_BINDTOIFINDEX, IP(V6)_FREEBIND, "
	       "IP(V6)_TRANSPARENT -> -EPERM (%d wrong)", bad);

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	rc = sg_setopt_int(&g, h, SOL_SOCKET, SO_REUSEADDR, 1);
	sg_close(&g, h);
	tap_ok(rc == 0, "SO_REUSEADDR on TCP (cannot take a listening port) still works (%d)", rc);
}

/* A host UDP service that shares its port (SO_REUSEADDR + SO_REUSEPORT on
 * 0.0.0.0): the guest tries the same options and binds; every datagram
 * sent to the port still reaches the host service. */
static void test_steal_udp(void)
{
	uint16_t port;
	int hfd = host_socket(AF_INET, SOCK_DGRAM, "0.0.0.0", 0, true, &port);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct hrpc_sock_addr a;
	uint64_t h4, h6;
	int rc4, rc6, got = 0;
	char buf[16];

	sg_socket(&g, AF_INET, SOCK_DGRAM, &h4);
	sg_setopt_int(&g, h4, SOL_SOCKET, SO_REUSEADDR, 1);
	sg_setopt_int(&g, h4, SOL_SOCKET, SO_REUSEPORT, 1);
	sg_addr(&a, AF_INET, "0.0.0.0", port);
	rc4 = sg_addrcall(&g, HRPC_SOCK_BIND, h4, &a);
	sg_socket(&g, AF_INET6, SOCK_DGRAM, &h6);
	sg_setopt_int(&g, h6, SOL_SOCKET, SO_REUSEADDR, 1);
	sg_setopt_int(&g, h6, SOL_SOCKET, SO_REUSEPORT, 1);
	sg_addr(&a, AF_INET6, "::", port);
	rc6 = sg_addrcall(&g, HRPC_SOCK_BIND, h6, &a);
	tap_ok(rc4 < 0 && rc6 < 0, "guest cannot bind a port a host UDP service shares "
	       "(0.0.0.0: %d, dual-stack ::: %d)", rc4, rc6);

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	for (int i = 0; i < 32; i++) {
		int c = socket(AF_INET, SOCK_DGRAM, 0); /* a new source port each */

		sendto(c, "dns?", 4, 0, (struct sockaddr *)&to, sizeof(to));
		close(c);
	}
	for (int i = 0; i < 32; i++) {
		struct pollfd p = { .fd = hfd, .events = POLLIN };

		if (poll(&p, 1, 1000) != 1 || recv(hfd, buf, sizeof(buf), 0) != 4)
			break;
		got++;
	}
	tap_ok(got == 32, "all 32 datagrams to the host service's port reached it (%d)", got);
	sg_close(&g, h4);
	sg_close(&g, h6);
	close(hfd);
}

/* The same for a TCP service listening with SO_REUSEPORT. */
static void test_steal_tcp(void)
{
	uint16_t port;
	int hfd = host_socket(AF_INET, SOCK_STREAM, "0.0.0.0", 0, true, &port);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct hrpc_sock_addr a;
	uint64_t h;
	int rc, got = 0;

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_setopt_int(&g, h, SOL_SOCKET, SO_REUSEADDR, 1);
	sg_setopt_int(&g, h, SOL_SOCKET, SO_REUSEPORT, 1);
	sg_addr(&a, AF_INET, "0.0.0.0", port);
	rc = sg_addrcall(&g, HRPC_SOCK_BIND, h, &a);
	if (!rc)
		rc = sg_simple(&g, HRPC_SOCK_LISTEN, h, 64);
	tap_ok(rc < 0, "guest cannot bind+listen on a port a host TCP service shares (%d)", rc);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	for (int i = 0; i < 16; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0), a_;

		if (connect(c, (struct sockaddr *)&to, sizeof(to)) == 0) {
			struct pollfd p = { .fd = hfd, .events = POLLIN };

			if (poll(&p, 1, 1000) == 1 && (a_ = accept(hfd, NULL, NULL)) >= 0) {
				got++;
				close(a_);
			}
		}
		close(c);
	}
	tap_ok(got == 16, "all 16 connections to the host service's port reached it (%d)", got);
	sg_close(&g, h);
	close(hfd);
}

/* A policy file's rules come first: it may open one loopback port; the
 * built-in rules still hold for the rest. */
static void test_file_first(uint16_t port)
{
	char pol[128];
	struct hrpc_sock_addr a;
	uint64_t h;
	int rc1, rc2;

	snprintf(pol, sizeof(pol), "connect allow 127.0.0.1 %u\n", port);
	if (sg_start(&g, pol, -1) < 0) {
		printf("Bail out! cannot start the service\n");
		exit(1);
	}
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	rc1 = sg_connect(&g, h, &a, 5000);
	sg_close(&g, h);
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "127.0.0.1", port == 65535 ? 65534 : port + 1);
	rc2 = sg_connect(&g, h, &a, 5000);
	sg_close(&g, h);
	tap_ok(rc1 == 0 && rc2 == -EACCES, "a policy file opens 127.0.0.1:%u (%d); the built-in "
	       "rules still deny the next port (%d)", port, rc1, rc2);
	sg_stop(&g);
}

/* The host's own non-loopback addresses (whatever this machine has). */
static void test_own_addresses(uint16_t port)
{
	struct ifaddrs *ifa, *i;
	int bad = 0, n = 0;

	if (getifaddrs(&ifa) < 0)
		ifa = NULL;
	for (i = ifa; i; i = i->ifa_next) {
		char ip[INET6_ADDRSTRLEN];
		struct hrpc_sock_addr a;
		uint64_t h;
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : 0, rc;

		if ((fam != AF_INET && fam != AF_INET6) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		inet_ntop(fam, fam == AF_INET ? (void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
			  (void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ip, sizeof(ip));
		sg_socket(&g, fam, SOCK_STREAM, &h);
		sg_addr(&a, fam, ip, port);
		if (fam == AF_INET6)
			a.scope_id = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_scope_id;
		rc = sg_connect(&g, h, &a, 2000);
		sg_close(&g, h);
		n++;
		if (rc != -EACCES) {
			bad++;
			tap_diag("connect to the host's %s: %d", ip, rc);
		}
	}
	if (ifa)
		freeifaddrs(ifa);
	tap_ok(!bad, "TCP connect to each of the host's own %d non-loopback addresses -> -EACCES "
	       "(%d wrong)", n, bad);
}

/* ---- a namespace whose addresses change: `host` is decided at send time ---- */

static int ifaddr_add(const char *label, const char *ip, const char *mask)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", label);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
		rc = -errno;
	inet_pton(AF_INET, mask, &sin->sin_addr);
	if (!rc && ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags = IFF_UP;
	if (!rc && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* 192.0.2.0/24 routed out of lo: reachable, not local (an address with a
 * prefix on lo would make the whole prefix local). */
static int route_add(void)
{
	struct rtentry rt = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc = 0;

	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.0", &((struct sockaddr_in *)&rt.rt_dst)->sin_addr);
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	inet_pton(AF_INET, "255.255.255.0", &((struct sockaddr_in *)&rt.rt_genmask)->sin_addr);
	rt.rt_flags = RTF_UP;
	rt.rt_dev = (char *)"lo";
	if (ioctl(fd, SIOCADDRT, &rt) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* A child in a new network namespace: lo up, 192.0.2.1/32 on it and
 * 192.0.2.0/24 routed out of it; a byte written to cmd[1] adds
 * 192.0.2.77/32 as well. */
static pid_t ns_child(int *cmd, bool *ok)
{
	int rp[2], cp[2];
	pid_t pid;

	*ok = false;
	if (pipe(rp) < 0 || pipe(cp) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char r = 'n', c;

		close(rp[0]);
		close(cp[1]);
		if (unshare(CLONE_NEWNET) == 0 && ifaddr_add("lo", "127.0.0.1", "255.0.0.0") == 0 &&
		    ifaddr_add("lo:1", "192.0.2.1", "255.255.255.255") == 0 && route_add() == 0)
			r = 'y';
		if (write(rp[1], &r, 1) != 1)
			_exit(1);
		if (read(cp[0], &c, 1) == 1) {
			r = ifaddr_add("lo:2", "192.0.2.77", "255.255.255.255") == 0 ? 'y' : 'n';
			if (write(rp[1], &r, 1) != 1)
				_exit(1);
		}
		pause();
		_exit(0);
	}
	close(rp[1]);
	close(cp[0]);
	if (pid > 0) {
		char r = 0;

		*ok = read(rp[0], &r, 1) == 1 && r == 'y';
		cmd[0] = rp[0];
		cmd[1] = cp[1];
	}
	return pid;
}

static void test_netns_host(void)
{
	int cmd[2] = { -1, -1 }, rc1, rc2, rc3 = 0;
	bool ok;
	pid_t pid = ns_child(cmd, &ok);
	char pol[64], r = 0;
	struct hrpc_sock_addr a;
	uint64_t h, u;

	if (pid <= 0 || !ok) {
		for (int i = 0; i < 2; i++)
			printf("ok %d # SKIP cannot set up a network namespace (needs CAP_SYS_ADMIN "
			       "and CAP_NET_ADMIN)\n", ++tap_n);
		goto out;
	}
	snprintf(pol, sizeof(pol), "netns /proc/%d/ns/net\n", (int)pid);
	if (sg_start(&g, pol, -1) < 0) {
		printf("Bail out! cannot start the service in a namespace\n");
		exit(1);
	}
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "192.0.2.1", 9);
	rc1 = sg_connect(&g, h, &a, 2000);
	sg_close(&g, h);
	tap_ok(rc1 == -EACCES, "netns: connect to the namespace's own 192.0.2.1 -> -EACCES (%d)", rc1);

	sg_socket(&g, AF_INET, SOCK_DGRAM, &u);
	sg_addr(&a, AF_INET, "192.0.2.77", 9);
	rc2 = sg_addrcall(&g, HRPC_SOCK_CONNECT, u, &a);
	if (!rc2)
		rc2 = sg_send(&g, u, "a", 1, NULL, 0, NULL);
	if (write(cmd[1], "x", 1) == 1 && read(cmd[0], &r, 1) == 1 && r == 'y')
		rc3 = sg_send(&g, u, "b", 1, NULL, 0, NULL);
	tap_ok(rc2 == 1 && rc3 == -EACCES, "netns: UDP connected to 192.0.2.77 sends (%d); once "
	       "192.0.2.77 is the host's, the next send -> -EACCES (%d)", rc2, rc3);
	sg_close(&g, u);
	sg_stop(&g);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (cmd[0] >= 0)
		close(cmd[0]);
	if (cmd[1] >= 0)
		close(cmd[1]);
}

int main(void)
{
	char path[] = "/tmp/sock-default-audit.XXXXXX";
	int afd = mkstemp(path), lfd4, lfd6, ufd4, ufd6, rc;
	uint16_t port, uport4, uport6 = 0;
	static char log[1 << 20];
	char *listing = NULL;
	size_t llen = 0;
	FILE *f;
	ssize_t n;

	tap_plan(PLAN);
	signal(SIGPIPE, SIG_IGN);
	lfd4 = host_socket(AF_INET, SOCK_STREAM, "127.0.0.1", 0, false, &port);
	lfd6 = host_socket(AF_INET6, SOCK_STREAM, "::1", port, false, NULL);
	ufd4 = host_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", 0, false, &uport4);
	ufd6 = host_socket(AF_INET6, SOCK_DGRAM, "::1", 0, false, &uport6);
	if (lfd4 < 0 || ufd4 < 0) {
		printf("Bail out! cannot make the host's loopback servers\n");
		return 1;
	}

	/* no policy at all: the built-in default */
	rc = sg_start(&g, NULL, afd);
	if (rc < 0) {
		printf("Bail out! cannot start the service: %s\n", strerror(-rc));
		return 1;
	}
	test_connect(port);
	test_udp(ufd4, ufd6, uport4, uport6);
	test_bind();
	test_options();
	test_steal_udp();
	test_steal_tcp();
	test_own_addresses(port);

	f = open_memstream(&listing, &llen);
	sg_print(&g, f, false);
	fclose(f);
	tap_diag("listing:\n%s", listing);
	tap_ok(strstr(listing, "POLICY built-in default (no policy file)") &&
	       strstr(listing, "connect deny  127.0.0.0/8") &&
	       strstr(listing, "connect deny  host") && strstr(listing, "bind    deny  any") &&
	       strstr(listing, "connect allow any"),
	       "the socket listing starts with the effective policy and its source");
	free(listing);
	sg_stop(&g);

	n = pread(afd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = 0;
	tap_ok(strstr(log, "rules=0 builtin-rules=") && strstr(log, "connect [::ffff:127.0.0.1]:") &&
	       strstr(log, "bind 0.0.0.0:67 denied by policy") && strstr(log, "denied by policy"),
	       "the denials are in the audit log, in the guest's own spelling");

	test_file_first(port);
	test_netns_host();

	close(lfd4);
	if (lfd6 >= 0)
		close(lfd6);
	close(ufd4);
	if (ufd6 >= 0)
		close(ufd6);
	close(afd);
	unlink(path);
	return tap_done();
}
