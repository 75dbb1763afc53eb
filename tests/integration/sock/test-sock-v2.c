/* SPDX-License-Identifier: MIT */
/*
 * test-sock-v2 - the socket service's version 2 data path (sock.h "Version
 * 2", sockring.h) with a process guest against the host's real TCP/IP
 * stack: bytes move through each socket's rings, not through calls.
 * Checks: negotiation; a send larger than the out ring is short; bytes
 * reach the host peer intact; back-pressure from a host peer that does not
 * read (the guest's sends stop, nothing is lost once it reads); receive
 * through a small in ring with peek; a guest that never reads makes the
 * host buffer no more than its ring (the peer's sends stop); the peer's EOF
 * after its bytes; SHUT_WR from the guest after its bytes; a reset peer is
 * an error for the guest; UDP both ways with the sender's address; SEND
 * and RECV refused on an area socket; doorbells only when asked (far fewer
 * KICKs than sends); a forged ring index fences the guest's channel.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>

#include "tests/tap.h"
#include "outsource/sock/sockguest.h"

#define RING 4096u

static struct sguest g;

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 10));
}

/* A host listener on 127.0.0.1 and its port. */
static int host_listener(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (type == SOCK_STREAM)
		listen(fd, 4);
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Read from `fd` (non-blocking) until `n` bytes or `ms` pass, checking the
 * pattern from `*pos`.  Returns the bytes read, -1 on a wrong byte. */
static long peer_read(int fd, uint64_t *pos, uint64_t n, int ms)
{
	static uint8_t buf[65536];
	uint64_t got = 0, deadline = hrpc_now_ns() + (uint64_t)ms * 1000000ull;

	while (got < n && hrpc_now_ns() < deadline) {
		ssize_t r = recv(fd, buf, sizeof(buf) < n - got ? sizeof(buf) : n - got, MSG_DONTWAIT);

		if (r <= 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (r == 0)
				break;
			poll(&p, 1, 10);
			continue;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pat(*pos + (uint64_t)i))
				return -1;
		*pos += (uint64_t)r;
		got += (uint64_t)r;
	}
	return (long)got;
}

static void test_stream(void)
{
	static uint8_t buf[1 << 20];
	struct hrpc_sock_addr a;
	struct sg_area ar;
	uint64_t h = 0, rpos = 0, sent = 0, sends = 0;
	uint16_t port;
	long n;
	int lfd, pfd, ok = 1;

	for (uint32_t i = 0; i < sizeof(buf); i++)
		buf[i] = pat(i);
	lfd = host_listener(SOCK_STREAM, &port);
	tap_ok(sg_socket_area(&g, AF_INET, SOCK_STREAM, RING, RING, &ar, &h) == 0,
	       "SOCKET with a 4 KiB + 4 KiB area");
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	tap_ok(sg_connect(&g, h, &a, 5000) == 0, "connect to the host's listener");
	pfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	n = sg_area_send(&g, h, &ar, buf, 10000);
	tap_ok(n == RING, "a send larger than the out ring is short (%ld of 10000)", n);
	sent = n > 0 ? (uint64_t)n : 0;
	sends = 1;
	/* the rest, in small sends as a program would make them */
	while (sent < 300000) {
		n = sg_area_send_all(&g, h, &ar, buf + sent, 1000, 5000);
		if (n <= 0)
			break;
		sent += (uint64_t)n;
		sends++;
		if (sent % 40000 < 1000)
			peer_read(pfd, &rpos, UINT64_MAX, 5);
	}
	n = peer_read(pfd, &rpos, sent - rpos, 5000);
	tap_ok(sent >= 300000 && rpos == sent, "%" PRIu64 " bytes in %" PRIu64 " sends reach the "
	       "host peer intact", rpos, sends);
	/* Doorbells only while the host sleeps.  Over the sends above that
	 * depends on speeds (under ASan, or on a loaded machine, this guest
	 * may be slower than the worker drains and every send ring: seen in
	 * CI, 297 of 297); what holds whatever the speeds is at most one per
	 * send.  A burst of sends back to back shows the suppression: the
	 * first rings, and until the host has woken, drained and re-armed,
	 * the next ones do not. */
	{
		uint64_t k0 = ar.kicks, bsends = 0, bkicks;

		for (int i = 0; i < 64; i++) {
			n = sg_area_send(&g, h, &ar, buf + sent, 16);
			if (n <= 0)
				break;
			sent += (uint64_t)n;
			bsends++;
		}
		bkicks = ar.kicks - k0;
		n = peer_read(pfd, &rpos, sent - rpos, 5000);
		tap_ok(k0 <= sends && bsends == 64 && bkicks >= 1 && bkicks < bsends && rpos == sent,
		       "doorbells only while the host sleeps: %" PRIu64 " KICKs for %" PRIu64
		       " sends (at most one each); a burst of %" PRIu64 " sends back to back rang %"
		       PRIu64 " times", k0, sends, bsends, bkicks);
	}

	/* back-pressure: the peer stops reading */
	{
		static uint8_t chunk[4096];
		uint64_t before = sent, kicks = ar.kicks, tries = 0;

		/* until no byte is taken for 200 ms */
		for (int stalled = 0, i = 0; i < 100000 && stalled < 200; i++) {
			for (uint32_t k = 0; k < sizeof(chunk); k++)
				chunk[k] = pat(sent + k);
			n = sg_area_send(&g, h, &ar, chunk, sizeof(chunk));
			if (n < 0)
				break;
			sent += (uint64_t)n;
			tries += n > 0;
			stalled = n ? 0 : stalled + 1;
			if (n == 0)
				hrpc_client_process(g.cli, 1);
		}
		tap_ok(n == 0 && hrpc_ring_space(&ar.out) == 0 && sent - before < (64u << 20),
		       "a host peer that does not read stops the guest's sends (%" PRIu64
		       " bytes taken, out ring full)", sent - before);
		tap_ok(ar.kicks - kicks <= (sent - before) / RING + 2,
		       "at most one doorbell per ring-full: %" PRIu64 " KICKs for %" PRIu64
		       " sends of %" PRIu64 " bytes", ar.kicks - kicks, tries, sent - before);
	}
	/* read it all: nothing lost, in order */
	{
		uint64_t deadline = hrpc_now_ns() + 20000000000ull;

		while (rpos < sent && hrpc_now_ns() < deadline) {
			n = peer_read(pfd, &rpos, sent - rpos, 10);
			if (n < 0)
				break;
			hrpc_client_process(g.cli, 1);
		}
		tap_ok(rpos == sent, "once the peer reads, every byte arrives, in order (%" PRIu64
		       " of %" PRIu64 ")", rpos, sent);
	}

	/* host -> guest through a 4 KiB in ring */
	{
		static uint8_t rb[8192], chunk[65536];
		uint64_t got = 0, w = 0;
		uint8_t pk[16];

		fcntl(pfd, F_SETFL, O_NONBLOCK);
		/* the peer sends until the host stops taking (or 64 MiB) */
		for (int stalled = 0; stalled < 100 && w < (64u << 20);) {
			ssize_t r;

			for (uint32_t k = 0; k < sizeof(chunk); k++)
				chunk[k] = pat(w + k);
			r = send(pfd, chunk, sizeof(chunk), MSG_DONTWAIT);
			if (r > 0) {
				w += (uint64_t)r;
				stalled = 0;
			} else {
				stalled++;
				hrpc_client_process(g.cli, 2);
			}
		}
		n = sg_area_recv(&g, h, &ar, pk, sizeof(pk), true, 5000);
		ok = n == sizeof(pk);
		for (uint32_t k = 0; k < sizeof(pk) && ok; k++)
			ok = pk[k] == pat(k);
		tap_ok(ok && hrpc_sring_avail(&ar.in) == RING,
		       "MSG_PEEK: the first bytes, left in the ring");
		tap_ok(w < (64u << 20), "a guest that does not read: its in ring is full and the "
		       "peer's sends stopped after %" PRIu64 " bytes (the host socket's buffers)", w);
		ok = 1;
		while (got < w && ok) {
			n = sg_area_recv(&g, h, &ar, rb, sizeof(rb), false, 5000);
			if (n <= 0)
				break;
			for (long k = 0; k < n && ok; k++)
				ok = rb[k] == pat(got + (uint64_t)k);
			got += (uint64_t)n;
		}
		tap_ok(ok && got == w, "then all %" PRIu64 " bytes through the 4 KiB in ring, intact, "
		       "in order (%" PRIu64 ")", w, got);
	}
	/* EOF after the bytes */
	send(pfd, "end", 3, 0);
	shutdown(pfd, SHUT_WR);
	{
		char e[8];

		n = sg_area_recv(&g, h, &ar, e, sizeof(e), false, 5000);
		tap_ok(n == 3 && !memcmp(e, "end", 3) && sg_area_recv(&g, h, &ar, e, sizeof(e),
								       false, 5000) == 0,
		       "the peer's EOF comes after its last bytes (recv 3, then 0)");
	}
	/* SHUT_WR from the guest, after its bytes */
	sg_area_send(&g, h, &ar, "bye", 3);
	hrpc_write_once(ar.hdr->guest_flags, HRPC_SOCK_AREA_G_SHUTWR);
	sg_kick(&g, h);
	{
		char e[8];
		uint64_t d = hrpc_now_ns() + 5000000000ull;
		ssize_t r = -1;

		while (hrpc_now_ns() < d && (r = recv(pfd, e, sizeof(e), MSG_DONTWAIT)) < 0)
			usleep(1000);
		if (r == 3 && !memcmp(e, "bye", 3)) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			r = poll(&p, 1, 5000) == 1 ? recv(pfd, e, sizeof(e), MSG_DONTWAIT) : -1;
		} else {
			r = -1;
		}
		tap_ok(r == 0, "SHUT_WR from the guest reaches the peer after its last bytes");
	}
	/* SEND and RECV are not for area sockets */
	tap_ok(sg_send(&g, h, "x", 1, NULL, 0, NULL) == -EINVAL &&
	       sg_recv(&g, h, buf, 10, NULL, 0, NULL) == -EINVAL,
	       "SEND and RECV on an area socket are -EINVAL");
	/* a reset peer */
	{
		struct linger lg = { 1, 0 };

		setsockopt(pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(pfd);
		n = 0;
		for (int i = 0; i < 200 && n >= 0; i++) {
			n = sg_area_send(&g, h, &ar, buf, 1000);
			hrpc_client_process(g.cli, 5);
		}
		tap_ok(n == -ECONNRESET || n == -EPIPE, "a reset peer is the guest's error (%ld)", n);
	}
	sg_close(&g, h);
	sg_area_free(&g, &ar);
	close(lfd);
}

static void test_udp(void)
{
	struct hrpc_sock_addr a, me;
	struct hrpc_sock_dgram d;
	struct sg_area ar;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint16_t port;
	uint64_t h = 0;
	char buf[2048];
	long n;
	int pfd = host_listener(SOCK_DGRAM, &port), ok = 1;

	tap_ok(sg_socket_area(&g, AF_INET, SOCK_DGRAM, RING, 4 * RING, &ar, &h) == 0,
	       "UDP: SOCKET with an area");
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		sg_print(&g, f, false);
		fclose(f);
		tap_ok(text && strstr(text, " 4/16\n") && strstr(text, "protocol version 2, 1 with "
								    "data rings (20 KiB"),
		       "the listing shows the socket's rings and the guest's ring memory");
		free(text);
	}
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, h, &a);
	sg_getname(&g, h, false, &me);
	to.sin_port = htons(me.port);
	for (int i = 0; i < 5; i++) {
		snprintf(buf, sizeof(buf), "datagram %d", i);
		sendto(pfd, buf, strlen(buf) + 1, 0, (struct sockaddr *)&to, sizeof(to));
	}
	for (int i = 0; i < 5 && ok; i++) {
		char want[32];

		n = sg_area_recvfrom(&g, h, &ar, buf, sizeof(buf), &d, 5000);
		snprintf(want, sizeof(want), "datagram %d", i);
		ok = n == (long)strlen(want) + 1 && !strcmp(buf, want) && d.addr.port == port &&
		     d.addr.family == HRPC_AF_INET;
	}
	tap_ok(ok, "UDP: five datagrams from the host arrive whole, with the sender");
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	ok = sg_area_sendto(&g, h, &ar, "to the host", 12, &a) == 0;
	{
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		ok = ok && poll(&p, 1, 5000) == 1 && recv(pfd, buf, sizeof(buf), 0) == 12 &&
		     !strcmp(buf, "to the host");
	}
	tap_ok(ok, "UDP: a datagram from the out ring reaches the host with its address");
	sg_close(&g, h);
	sg_area_free(&g, &ar);
	close(pfd);
}

static void test_forged(void)
{
	struct sg_area ar;
	struct hrpc_sock_addr a;
	uint64_t h = 0;
	int pfd = host_listener(SOCK_DGRAM, &(uint16_t){ 0 });

	sg_socket_area(&g, AF_INET, SOCK_DGRAM, RING, RING, &ar, &h);
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, h, &a);
	hrpc_write_once(ar.hdr->out.prod, 3 * RING);   /* a forged producer index */
	sg_kick(&g, h);
	/* The conn's state is the host thread's: read once it has stopped
	 * serving (sg_conn_result() orders it), not while it may fence. */
	for (int i = 0; i < 50 && !sg_conn_result(&g); i++)
		usleep(10000);
	tap_ok(hrpc_conn_fenced(g.conn) && strstr(hrpc_conn_fence_reason(g.conn), "data ring"),
	       "a forged ring index fences the guest's channel (%s)",
	       hrpc_conn_fenced(g.conn) ? hrpc_conn_fence_reason(g.conn) : "not fenced");
	/* The fence came inside the KICK: serving must end there (a worker
	 * exits and is restarted), not wait for a doorbell the guest, seeing
	 * FENCED, never rings. */
	tap_ok(sg_conn_result(&g) == -EPROTO, "the conn stops being served at once, fenced (%d)",
	       sg_conn_result(&g));
	close(pfd);
}

/* A forgery the service finds in its own event loop, not in a call: the
 * guest's in ring consumer index is impossible when a datagram arrives.
 * The conn's source must still learn of the fence and end (the guest,
 * seeing FENCED, rings no more). */
static void test_forged_event(void)
{
	struct sguest g2;
	struct sg_area ar;
	struct hrpc_sock_addr a, me;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint64_t h = 0;
	int pfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&g2, 0, sizeof(g2));
	if (sg_start(&g2, SG_LOOPBACK_POLICY, -1) < 0 ||
	    sg_init(&g2, HRPC_SOCK_VERSION_2, 1024, NULL) < 0 ||
	    sg_socket_area(&g2, AF_INET, SOCK_DGRAM, RING, RING, &ar, &h) < 0) {
		tap_ok(0, "event loop: a second guest starts");
		tap_ok(0, "event loop: (skipped)");
		return;
	}
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g2, HRPC_SOCK_BIND, h, &a);
	sg_getname(&g2, h, false, &me);
	hrpc_write_once(ar.hdr->in.cons, ar.in.pvt + 3 * RING);	/* forged */
	to.sin_port = htons(me.port);
	sendto(pfd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
	for (int i = 0; i < 100 && !sg_conn_result(&g2); i++)
		usleep(10000);
	tap_ok(hrpc_conn_fenced(g2.conn) && strstr(hrpc_conn_fence_reason(g2.conn), "ring"),
	       "event loop: a forged in ring index found while pushing a datagram fences (%s)",
	       hrpc_conn_fenced(g2.conn) ? hrpc_conn_fence_reason(g2.conn) : "not fenced");
	tap_ok(sg_conn_result(&g2) == -EPROTO,
	       "event loop: the conn stops being served at once, no doorbell needed (%d)",
	       sg_conn_result(&g2));
	close(pfd);
	sg_stop(&g2);
}

int main(void)
{
	struct hrpc_sock_init_rep o;

	tap_plan(25);
	if (sg_start(&g, SG_LOOPBACK_POLICY, -1) < 0) {
		printf("Bail out! cannot start the service\n");
		return 1;
	}
	tap_ok(sg_init(&g, HRPC_SOCK_VERSION_2, 1024, &o) == 0 && o.version == 2 &&
	       (o.features & HRPC_SOCK_FEAT_AREAS), "INIT version 2: the host offers data rings");
	{
		uint64_t h;
		struct sg_area ar;

		tap_ok(sg_init(&g, HRPC_SOCK_VERSION, 1024, NULL) == 0 &&
		       sg_socket_area(&g, AF_INET, SOCK_STREAM, RING, RING, &ar, &h) == -EINVAL,
		       "a version 1 guest cannot give a socket an area (-EINVAL)");
		sg_init(&g, HRPC_SOCK_VERSION_2, 1024, NULL);
	}
	test_stream();
	test_udp();
	test_forged();
	test_forged_event();
	sg_stop(&g);
	return tap_done();
}
