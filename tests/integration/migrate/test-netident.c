/* SPDX-License-Identifier: MIT */
/*
 * test-netident - drive migrate/netident.h from a shell test
 * (tests/integration/migrate/netident.sh).  It acts in whatever netns it
 * runs in (ip netns exec puts it there):
 *
 *   read IFNAME               print IFNAME's identity as hex
 *   format HEX                print an identity as netident_format() does
 *   apply IFNAME HEX          give IFNAME the identity
 *   announce IFNAME HEX       announce it on IFNAME
 *   down IFNAME | up IFNAME   take IFNAME down / up
 *   in-netns PATH OP IFNAME   down/up/read in the netns at PATH, through
 *                             netident_in_netns(), and check that this
 *                             process's own netns did not change
 *   ping ADDR                 one ICMP echo to ADDR; 0 if answered in 2 s
 *
 * Exit 0, or 1 with "test-netident: OP: message (-errno)" on stderr.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "migrate/netident.h"

static int fail(const char *op, int err)
{
	fprintf(stderr, "test-netident: %s: %s (%d)\n", op, strerror(-err), err);
	return 1;
}

static int parse_hex(const char *s, struct hrpc_netident *id)
{
	unsigned char *p = (unsigned char *)id;
	size_t i;

	if (strlen(s) != 2 * sizeof(*id))
		return -EINVAL;
	for (i = 0; i < sizeof(*id); i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		p[i] = b;
	}
	return 0;
}

static void print_hex(const struct hrpc_netident *id)
{
	const unsigned char *p = (const unsigned char *)id;
	size_t i;

	for (i = 0; i < sizeof(*id); i++)
		printf("%02x", p[i]);
	printf("\n");
}

struct ns_op {
	const char *op, *ifname;
	struct hrpc_netident id;
};

static int ns_op_run(void *arg)
{
	struct ns_op *o = arg;

	if (!strcmp(o->op, "read"))
		return netident_read(o->ifname, &o->id);
	return netident_set_up(o->ifname, !strcmp(o->op, "up"));
}

static int in_netns(const char *path, const char *op, const char *ifname)
{
	struct ns_op o = { .op = op, .ifname = ifname };
	struct stat before, after;
	int fd, err;

	if (stat("/proc/thread-self/ns/net", &before) < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = netident_in_netns(fd, ns_op_run, &o);
	close(fd);
	if (stat("/proc/thread-self/ns/net", &after) < 0)
		return -errno;
	if (before.st_ino != after.st_ino) {
		fprintf(stderr, "test-netident: in-netns: the caller's netns changed\n");
		return -EPERM;
	}
	if (!err && !strcmp(op, "read"))
		print_hex(&o.id);
	return err;
}

static unsigned short icmp_csum(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	unsigned int sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* One echo request, raw socket (needs no ping(8), no ping_group_range). */
static int ping(const char *addr)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned short ident = getpid() & 0xffff;
	unsigned char pkt[64] = { 0 }, ans[1500];
	bool v6 = strchr(addr, ':');
	struct timespec t0, t;
	int fd, ms;

	if (v6) {
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return -EINVAL;
		pkt[0] = ICMP6_ECHO_REQUEST;      /* the kernel sums ICMPv6 */
		fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	} else {
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return -EINVAL;
		pkt[0] = ICMP_ECHO;
		fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	}
	if (fd < 0)
		return -errno;
	memcpy(pkt + 4, &ident, 2);
	if (!v6)
		memcpy(pkt + 2, (unsigned short[]){ icmp_csum(pkt, sizeof(pkt)) }, 2);
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sizeof(ss)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		const unsigned char *icmp = ans;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = 2000 - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms <= 0 || poll(&p, 1, ms) <= 0)
			break;
		n = recvfrom(fd, ans, sizeof(ans), 0, (struct sockaddr *)&from, &fl);
		if (!v6 && n >= 20) {          /* IPv4 raw sockets see the IP header */
			icmp = ans + (ans[0] & 0xf) * 4;
			n -= (ans[0] & 0xf) * 4;
		}
		if (n < 8 || icmp[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) ||
		    memcmp(icmp + 4, &ident, 2))
			continue;
		if (v6 ? memcmp(&((struct sockaddr_in6 *)&from)->sin6_addr, &sin6->sin6_addr, 16) :
			 ((struct sockaddr_in *)&from)->sin_addr.s_addr != sin->sin_addr.s_addr)
			continue;
		close(fd);
		return 0;
	}
	close(fd);
	return -ETIMEDOUT;
}

int main(int argc, char **argv)
{
	struct hrpc_netident id;
	const char *op = argc > 1 ? argv[1] : "";
	char line[256];
	int err;

	if (!strcmp(op, "read") && argc == 3) {
		err = netident_read(argv[2], &id);
		if (!err)
			print_hex(&id);
	} else if (!strcmp(op, "format") && argc == 3) {
		err = parse_hex(argv[2], &id);
		if (!err) {
			netident_format(&id, line, sizeof(line));
			printf("%s\n", line);
		}
	} else if ((!strcmp(op, "apply") || !strcmp(op, "announce")) && argc == 4) {
		err = parse_hex(argv[3], &id);
		if (!err)
			err = op[1] == 'p' ? netident_apply(argv[2], &id) : netident_announce(argv[2], &id);
	} else if ((!strcmp(op, "down") || !strcmp(op, "up")) && argc == 3) {
		err = netident_set_up(argv[2], op[0] == 'u');
	} else if (!strcmp(op, "in-netns") && argc == 5) {
		err = in_netns(argv[2], argv[3], argv[4]);
	} else if (!strcmp(op, "ping") && argc == 3) {
		err = ping(argv[2]);
	} else {
		fprintf(stderr, "usage: test-netident read|format|apply|announce|down|up|in-netns|ping ...\n");
		return 2;
	}
	return err ? fail(op, err) : 0;
}
