/* SPDX-License-Identifier: MIT */
/*
 * test-tcp-repair - outsource/sock/tcprepair.c on real TCP connections of
 * this host (loopback): an established connection with bytes unread on our
 * side and bytes unacknowledged and unsent on its way out is frozen into
 * an image (include/hostrpc/sockstate.h), its socket closed in repair mode
 * (no FIN, no RST), and made again from the image in a new socket; every
 * byte both ways arrives, in order, and the connection goes on.  A frozen
 * socket thawed goes on too (a migration that fails before the switch).
 * Hostile images are refused before anything is made from them.
 *
 * Needs CAP_NET_ADMIN (TCP_REPAIR): skips (77) without it.
 *
 * Across network namespaces (tests/integration/sock/tcp-move-netns.sh sets
 * them up and the environment names them): TCP_MOVE_NS="W A B" - the peer
 * listens in W at TCP_MOVE_PEER (an IPv4 address), our socket connects from
 * A, and after the freeze TCP_MOVE_SWITCH (a shell command) moves the
 * guest's address (and MAC) from A to B, where the connection is made
 * again: a migration's network switch, with the peer on another "host".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/sockstate.h"
#include "outsource/sock/tcprepair.h"
#include "tests/tap.h"

static void bail(const char *why)
{
	printf("Bail out! %s: %s\n", why, strerror(errno));
	exit(1);
}

static uint8_t pat(uint64_t i, uint8_t salt)
{
	return (uint8_t)(i * 131u + (i >> 9) + salt);
}

/* TCP_MOVE_NS: the namespaces of the peer (0), our socket (1) and where
 * it moves (2); -1: stay in ours. */
static int ns_fd[3] = { -1, -1, -1 };

static void enter(int which)
{
	if (ns_fd[which] >= 0 && setns(ns_fd[which], CLONE_NEWNET) < 0)
		bail("setns");
}

/* A connected pair: *ours (non-blocking) and *peer, on 127.0.0.1 or, across
 * namespaces, from A to the peer's address in W. */
static int pair(int *ours, int *peer)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	const char *pa = getenv("TCP_MOVE_PEER");
	int l;

	if (ns_fd[0] >= 0 && pa && inet_pton(AF_INET, pa, &a.sin_addr) != 1)
		return -1;
	enter(0);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0)
		return -1;
	enter(1);
	*ours = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*ours < 0 || connect(*ours, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	*peer = accept(l, NULL, NULL);
	close(l);
	if (*peer < 0)
		return -1;
	fcntl(*ours, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Read exactly `len` bytes of pattern `salt` from offset *off. */
static int read_check(int fd, uint64_t *off, uint64_t len, uint8_t salt)
{
	static uint8_t buf[65536];
	uint64_t end = *off + len;

	while (*off < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		size_t want = end - *off < sizeof(buf) ? (size_t)(end - *off) : sizeof(buf);
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			return -ETIMEDOUT;
		n = recv(fd, buf, want, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(*off + (uint64_t)i, salt))
				return -EILSEQ;
		*off += (uint64_t)n;
	}
	return 0;
}

/* Send pattern `salt` from offset *off until the socket takes no more. */
static uint64_t send_fill(int fd, uint64_t *off, uint8_t salt)
{
	static uint8_t buf[65536];
	uint64_t start = *off;

	for (;;) {
		ssize_t n;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(*off + i, salt);
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		*off += (uint64_t)n;
	}
	return *off - start;
}

static void send_all(int fd, uint64_t *off, uint64_t len, uint8_t salt)
{
	static uint8_t buf[4096];

	while (len) {
		size_t k = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n;

		for (size_t i = 0; i < k; i++)
			buf[i] = pat(*off + i, salt);
		n = send(fd, buf, k, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		*off += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

static void test_move(void)
{
	int ours = -1, peer = -1, fresh = -1, rc;
	uint64_t a_sent = 0, a_read = 0, b_sent = 0, b_read = 0;
	struct hrpc_tcp_image h;
	void *img = NULL;
	size_t len = 0;

	if (pair(&ours, &peer) < 0)
		bail("cannot make a loopback connection");
	/* the peer's bytes wait unread in our receive queue; ours fill the
	 * peer's receive buffer and our send queue (unacknowledged, unsent) */
	send_all(peer, &a_sent, 100000, 0xa5);
	usleep(50000);
	send_fill(ours, &b_sent, 0x5a);
	usleep(100000);
	rc = sock_tcp_freeze(ours, &img, &len);
	memset(&h, 0, sizeof(h));
	if (!rc)
		memcpy(&h, img, sizeof(h));
	tap_ok(rc == 0 && hrpc_tcp_image_check(img, len) == 0 && h.inq_len == 100000 &&
	       h.outq_len > 0 && h.unsq_len > 0,
	       "freeze: %zu bytes of image, %u unread, %u in the send queue (%u never sent), "
	       "options %#x, wscale %u/%u (%s)", len, h.inq_len, h.outq_len, h.unsq_len, h.opts,
	       h.snd_wscale, h.rcv_wscale, rc ? strerror(-rc) : "ok");
	close(ours);	/* in repair mode: no FIN, no RST */
	if (ns_fd[2] >= 0) {
		/* the network switch: the guest's address and MAC move */
		const char *sw = getenv("TCP_MOVE_SWITCH");

		if (sw && system(sw) != 0)
			tap_diag("the switch command failed: %s", sw);
		enter(2);
	}
	rc = sock_tcp_restore(img, len, &fresh);
	tap_ok(rc == 0 && fresh >= 0, "restore: a new socket has the connection (%s)",
	       rc ? strerror(-rc) : "ok");
	if (rc)
		return;
	fcntl(fresh, F_SETFL, O_NONBLOCK);
	rc = read_check(fresh, &a_read, a_sent, 0xa5);
	tap_ok(rc == 0, "the %lu bytes the peer sent before the freeze are read from the new socket, "
	       "in order (%s)", (unsigned long)a_sent, rc ? strerror(-rc) : "ok");
	rc = read_check(peer, &b_read, b_sent, 0x5a);
	tap_ok(rc == 0, "the peer reads all %lu bytes sent before the freeze, acknowledged or not, "
	       "sent or not (%s)", (unsigned long)b_sent, rc ? strerror(-rc) : "ok");
	/* and it goes on, both ways */
	send_all(peer, &a_sent, 300000, 0xa5);
	rc = read_check(fresh, &a_read, 300000, 0xa5);
	{
		int rc2;

		fcntl(fresh, F_SETFL, 0);
		send_all(fresh, &b_sent, 300000, 0x5a);
		rc2 = read_check(peer, &b_read, 300000, 0x5a);
		tap_ok(rc == 0 && rc2 == 0, "after the move 300000 bytes each way arrive intact (%s, %s)",
		       rc ? strerror(-rc) : "ok", rc2 ? strerror(-rc2) : "ok");
	}
	{
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		char c;

		close(fresh);
		getsockopt(peer, IPPROTO_TCP, TCP_INFO, &ti, &tl);
		tap_ok(recv(peer, &c, 1, 0) == 0, "closing the new socket ends the peer's stream with a "
		       "clean EOF (no reset)");
	}
	close(peer);
	free(img);
}

static void test_thaw(void)
{
	int ours, peer, rc;

	if (ns_fd[2] >= 0) {
		/* back where the guest is now: the peer in W, ours from B */
		ns_fd[1] = ns_fd[2];
	}
	uint64_t a_sent = 0, a_read = 0;
	void *img = NULL;
	size_t len = 0;

	if (pair(&ours, &peer) < 0)
		bail("cannot make a loopback connection");
	send_all(peer, &a_sent, 5000, 0x11);
	usleep(20000);
	rc = sock_tcp_freeze(ours, &img, &len);
	rc = rc ? rc : sock_tcp_thaw(ours);
	send_all(peer, &a_sent, 5000, 0x11);
	rc = rc ? rc : read_check(ours, &a_read, a_sent, 0x11);
	tap_ok(rc == 0, "a frozen socket thawed goes on where it was: 10000 bytes in order (%s)",
	       rc ? strerror(-rc) : "ok");
	free(img);
	close(ours);
	close(peer);
	{
		int l = socket(AF_INET, SOCK_STREAM, 0);

		rc = sock_tcp_freeze(l, &img, &len);
		tap_ok(rc == -EINVAL && !img, "a socket that is not connected is not frozen (%s)",
		       strerror(-rc));
		close(l);
	}
}

/* Hostile images: each refused by the check and by restore. */
static void test_hostile(void)
{
	struct {
		struct hrpc_tcp_image h;
		uint8_t q[16];
	} good, bad;
	static const char *what[] = {
		"a wrong magic", "a size that is not the image's", "a queue longer than the image",
		"more unsent than queued", "an unknown option", "a window scale of 15",
		"a port 0", "families that differ", "an IPv4 address with bytes past 4",
		"a state other than established", "an MSS of 10",
	};
	int ok = 1, fd = -1;

	memset(&good, 0, sizeof(good));
	good.h.magic = HRPC_TCP_IMAGE_MAGIC;
	good.h.size = sizeof(good);
	good.h.state = HRPC_TCP_ESTABLISHED;
	good.h.inq_len = 6;
	good.h.outq_len = 10;
	good.h.unsq_len = 4;
	good.h.mss = 1460;
	good.h.opts = HRPC_TCP_OPT_WSCALE;
	good.h.snd_wscale = good.h.rcv_wscale = 7;
	good.h.local.family = good.h.peer.family = HRPC_AF_INET;
	good.h.local.port = 40000;
	good.h.peer.port = 80;
	tap_ok(hrpc_tcp_image_check(&good, sizeof(good)) == 0, "a sane image passes the check");
	for (unsigned i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		bad = good;
		switch (i) {
		case 0: bad.h.magic ^= 1; break;
		case 1: bad.h.size += 8; break;
		case 2: bad.h.inq_len = 100; break;
		case 3: bad.h.unsq_len = 11; break;
		case 4: bad.h.opts |= 0x80; break;
		case 5: bad.h.snd_wscale = 15; break;
		case 6: bad.h.peer.port = 0; break;
		case 7: bad.h.peer.family = HRPC_AF_INET6; break;
		case 8: bad.h.local.addr[9] = 1; break;
		case 9: bad.h.state = 7; break;
		case 10: bad.h.mss = 10; break;
		}
		if (hrpc_tcp_image_check(&bad, sizeof(bad)) != -EPROTO ||
		    sock_tcp_restore(&bad, sizeof(bad), &fd) != -EPROTO || fd != -1) {
			ok = 0;
			tap_diag("not refused: %s", what[i]);
		}
	}
	tap_ok(ok, "forged images are refused before anything is made (%zu kinds)",
	       sizeof(what) / sizeof(what[0]));
	tap_ok(hrpc_tcp_image_check(&good, sizeof(good.h) - 1) == -EPROTO,
	       "an image shorter than its header is refused");
}

int main(void)
{
	const char *ns = getenv("TCP_MOVE_NS");
	int fd, one = 1;

	if (ns && *ns) {
		char names[3][64];

		if (sscanf(ns, "%63s %63s %63s", names[0], names[1], names[2]) != 3)
			bail("TCP_MOVE_NS is not \"W A B\"");
		for (int i = 0; i < 3; i++) {
			char path[128];

			snprintf(path, sizeof(path), "/var/run/netns/%s", names[i]);
			ns_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
			if (ns_fd[i] < 0)
				bail(path);
		}
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) < 0)
		tap_skip_all("TCP_REPAIR needs CAP_NET_ADMIN (%s): run as root",
			     strerror(errno));
	close(fd);
	tap_plan(11);
	test_move();
	test_thaw();
	test_hostile();
	return tap_done();
}
