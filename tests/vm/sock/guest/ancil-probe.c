/* SPDX-License-Identifier: MIT */
/*
 * ancil-probe - UDP ancillary data in a guest whose sockets are outsourced
 * (tests/vm/sock/sock-ancillary.sh).  Two guest sockets on the host's
 * loopback, one sending to the other; the receiver asks for:
 *
 *   pktinfo4   IP_PKTINFO: ipi_addr and ipi_spec_dst 127.0.0.1, ifindex > 0
 *   pktinfo6   IPV6_RECVPKTINFO: ipi6_addr ::1, ifindex > 0
 *   tstamp     SO_TIMESTAMP: a timeval within 5 s of the guest's clock
 *   tstampns   SO_TIMESTAMPNS: a timespec, likewise, with IP_PKTINFO too
 *   ctrunc     a control buffer too short for the timestamp: MSG_CTRUNC
 *   peek       MSG_PEEK gives the control messages too, and the datagram
 *              stays for the next recvmsg
 *   srcinfo    sendmsg with IP_PKTINFO's ipi_spec_dst 127.0.0.3 to a
 *              receiver on 127.0.0.2: it sees the datagram come from
 *              127.0.0.3 (and IPV6_PKTINFO on an IPv4 socket is ignored,
 *              as Linux does)
 *
 * Prints "RESULT name PASS|FAIL detail" per probe; exit 0 when all pass.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void result(const char *name, int ok, const char *fmt, const char *detail)
{
	printf("RESULT %s %s %s\n", name, ok ? "PASS" : "FAIL", detail ? detail : fmt);
	if (!ok)
		failed = 1;
	fflush(stdout);
}

/* A bound receiver and a sender aimed at it; 0 or -1. */
static int pair(int family, int *rx, int *tx)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct timeval tv = { 5, 0 };

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	}
	*rx = socket(family, SOCK_DGRAM, 0);
	*tx = socket(family, SOCK_DGRAM, 0);
	if (*rx < 0 || *tx < 0 || bind(*rx, (struct sockaddr *)&ss, sl) < 0)
		return -1;
	sl = sizeof(ss);
	if (getsockname(*rx, (struct sockaddr *)&ss, &sl) < 0 ||
	    connect(*tx, (struct sockaddr *)&ss, sl) < 0)
		return -1;
	return setsockopt(*rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static ssize_t recv_ctl(int fd, char *data, size_t dlen, void *ctl, size_t clen, int flags,
			int *mflags)
{
	struct iovec iov = { data, dlen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = clen };
	ssize_t n = recvmsg(fd, &mh, flags);

	*mflags = mh.msg_flags;
	return n < 0 ? n : (ssize_t)mh.msg_controllen;
}

/* Walk a control buffer of `len` bytes. */
static struct cmsghdr *find(void *ctl, size_t len, int level, int type)
{
	struct msghdr mh = { .msg_control = ctl, .msg_controllen = len };

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == level && c->cmsg_type == type)
			return c;
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	union { struct cmsghdr a; char b[512]; } ctl;
	char buf[64], d[256];
	int rx, tx, one = 1, mf;
	ssize_t cl;

	/* pktinfo4 */
	if (pair(AF_INET, &rx, &tx) < 0 ||
	    setsockopt(rx, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    send(tx, "v4", 2, 0) != 2 ||
	    (cl = recv_ctl(rx, buf, sizeof(buf), &ctl, sizeof(ctl), 0, &mf)) < 0) {
		snprintf(d, sizeof(d), "set-up or recvmsg failed: %s", strerror(errno));
		result("pktinfo4", 0, d, NULL);
	} else {
		struct cmsghdr *c = find(&ctl, (size_t)cl, IPPROTO_IP, IP_PKTINFO);
		struct in_pktinfo pi;
		char a[INET_ADDRSTRLEN] = "?", s[INET_ADDRSTRLEN] = "?";

		memset(&pi, 0, sizeof(pi));
		if (c)
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		inet_ntop(AF_INET, &pi.ipi_addr, a, sizeof(a));
		inet_ntop(AF_INET, &pi.ipi_spec_dst, s, sizeof(s));
		snprintf(d, sizeof(d), "cmsg=%s addr=%s spec_dst=%s ifindex=%d",
			 c ? "yes" : "no", a, s, pi.ipi_ifindex);
		result("pktinfo4", c && pi.ipi_addr.s_addr == htonl(INADDR_LOOPBACK) &&
		       pi.ipi_spec_dst.s_addr == htonl(INADDR_LOOPBACK) && pi.ipi_ifindex > 0, d, NULL);
	}
	/* tstampns (on the same receiver: IP_PKTINFO and SO_TIMESTAMPNS together) */
	if (setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
	    send(tx, "ns", 2, 0) != 2 ||
	    (cl = recv_ctl(rx, buf, sizeof(buf), &ctl, sizeof(ctl), 0, &mf)) < 0) {
		snprintf(d, sizeof(d), "set-up or recvmsg failed: %s", strerror(errno));
		result("tstampns", 0, d, NULL);
	} else {
		struct cmsghdr *c = find(&ctl, (size_t)cl, SOL_SOCKET, SCM_TIMESTAMPNS);
		struct cmsghdr *p = find(&ctl, (size_t)cl, IPPROTO_IP, IP_PKTINFO);
		struct timespec ts = { 0, 0 };
		double diff;

		if (c)
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		diff = now_s() - (ts.tv_sec + ts.tv_nsec / 1e9);
		snprintf(d, sizeof(d), "cmsg=%s pktinfo=%s age=%.3fs", c ? "yes" : "no",
			 p ? "yes" : "no", diff);
		result("tstampns", c && p && diff > -5 && diff < 5 && ts.tv_nsec < 1000000000, d, NULL);
	}
	/* ctrunc: room for the pktinfo only, not the timestamp after it */
	if (send(tx, "ct", 2, 0) != 2 ||
	    (cl = recv_ctl(rx, buf, sizeof(buf), &ctl, CMSG_SPACE(sizeof(struct in_pktinfo)), 0,
			   &mf)) < 0) {
		snprintf(d, sizeof(d), "recvmsg failed: %s", strerror(errno));
		result("ctrunc", 0, d, NULL);
	} else {
		snprintf(d, sizeof(d), "msg_flags=%#x controllen=%zd", mf, cl);
		result("ctrunc", (mf & MSG_CTRUNC) != 0, d, NULL);
	}
	/* peek */
	if (send(tx, "pk", 2, 0) != 2 ||
	    (cl = recv_ctl(rx, buf, sizeof(buf), &ctl, sizeof(ctl), MSG_PEEK, &mf)) < 0) {
		snprintf(d, sizeof(d), "recvmsg(MSG_PEEK) failed: %s", strerror(errno));
		result("peek", 0, d, NULL);
	} else {
		int peeked = find(&ctl, (size_t)cl, IPPROTO_IP, IP_PKTINFO) != NULL;
		ssize_t n = recv(rx, buf, sizeof(buf), 0);

		snprintf(d, sizeof(d), "pktinfo-on-peek=%d then recv=%zd '%.2s'", peeked, n,
			 n > 0 ? buf : "");
		result("peek", peeked && n == 2 && !memcmp(buf, "pk", 2), d, NULL);
	}
	close(rx);
	close(tx);

	/* tstamp: SO_TIMESTAMP alone, a timeval */
	if (pair(AF_INET, &rx, &tx) < 0 ||
	    setsockopt(rx, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) < 0 ||
	    send(tx, "tv", 2, 0) != 2 ||
	    (cl = recv_ctl(rx, buf, sizeof(buf), &ctl, sizeof(ctl), 0, &mf)) < 0) {
		snprintf(d, sizeof(d), "set-up or recvmsg failed: %s", strerror(errno));
		result("tstamp", 0, d, NULL);
	} else {
		struct cmsghdr *c = find(&ctl, (size_t)cl, SOL_SOCKET, SCM_TIMESTAMP);
		struct timeval tv = { 0, 0 };
		double diff;

		if (c)
			memcpy(&tv, CMSG_DATA(c), sizeof(tv));
		diff = now_s() - (tv.tv_sec + tv.tv_usec / 1e6);
		snprintf(d, sizeof(d), "cmsg=%s age=%.3fs", c ? "yes" : "no", diff);
		result("tstamp", c && diff > -5 && diff < 5 && tv.tv_usec < 1000000, d, NULL);
	}
	close(rx);
	close(tx);

	/* srcinfo: the source address chosen per datagram */
	{
		struct sockaddr_in ra = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002) };
		struct sockaddr_in from;
		socklen_t rl = sizeof(ra), fl = sizeof(from);
		union { struct cmsghdr a; char b[CMSG_SPACE(sizeof(struct in6_pktinfo)) * 2]; } sc;
		struct in_pktinfo pi;
		struct in6_pktinfo pi6;
		struct iovec iov = { "si", 2 };
		struct msghdr mh = { .msg_name = &ra, .msg_namelen = sizeof(ra), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = sc.b };
		struct cmsghdr *c;
		struct timeval tv = { 5, 0 };
		char fa[INET_ADDRSTRLEN] = "?";
		ssize_t n = -1, sent = -1;

		rx = socket(AF_INET, SOCK_DGRAM, 0);
		tx = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		memset(&sc, 0, sizeof(sc));
		memset(&pi, 0, sizeof(pi));
		memset(&pi6, 0, sizeof(pi6));
		pi.ipi_spec_dst.s_addr = htonl(0x7f000003);
		pi6.ipi6_addr = in6addr_loopback;
		mh.msg_controllen = CMSG_SPACE(sizeof(pi)) + CMSG_SPACE(sizeof(pi6));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		c = CMSG_NXTHDR(&mh, c);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi6));
		memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
		if (rx >= 0 && tx >= 0 && bind(rx, (struct sockaddr *)&ra, sizeof(ra)) == 0 &&
		    getsockname(rx, (struct sockaddr *)&ra, &rl) == 0) {
			sent = sendmsg(tx, &mh, 0);
			if (sent < 0)
				snprintf(fa, sizeof(fa), "sendmsg: %d", errno);
			n = recvfrom(rx, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			if (n >= 0)
				inet_ntop(AF_INET, &from.sin_addr, fa, sizeof(fa));
		}
		snprintf(d, sizeof(d), "sendmsg=%zd recv=%zd from %s (%s)", sent, n, fa,
			 n < 0 ? strerror(errno) : "");
		result("srcinfo", sent == 2 && n == 2 && from.sin_addr.s_addr == htonl(0x7f000003),
		       d, NULL);
		close(rx);
		close(tx);
	}

	/* pktinfo6 */
	if (pair(AF_INET6, &rx, &tx) < 0 ||
	    setsockopt(rx, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
	    send(tx, "v6", 2, 0) != 2 ||
	    (cl = recv_ctl(rx, buf, sizeof(buf), &ctl, sizeof(ctl), 0, &mf)) < 0) {
		snprintf(d, sizeof(d), "set-up or recvmsg failed: %s", strerror(errno));
		result("pktinfo6", 0, d, NULL);
	} else {
		struct cmsghdr *c = find(&ctl, (size_t)cl, IPPROTO_IPV6, IPV6_PKTINFO);
		struct in6_pktinfo pi;
		char a[INET6_ADDRSTRLEN] = "?";

		memset(&pi, 0, sizeof(pi));
		if (c)
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		inet_ntop(AF_INET6, &pi.ipi6_addr, a, sizeof(a));
		snprintf(d, sizeof(d), "cmsg=%s addr=%s ifindex=%u", c ? "yes" : "no", a,
			 pi.ipi6_ifindex);
		result("pktinfo6", c && IN6_IS_ADDR_LOOPBACK(&pi.ipi6_addr) && pi.ipi6_ifindex > 0,
		       d, NULL);
	}
	close(rx);
	close(tx);
	return failed;
}
