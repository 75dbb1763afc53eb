/* SPDX-License-Identifier: MIT */
/*
 * test-sock-area - the host's pumps of a sockets v2 socket area
 * (outsource/sock/sockarea.h) between a real socket and the guest's rings:
 * a socketpair stands for the host socket and its peer, the test plays the
 * guest with sockring.h.  Checks: bytes both ways across wraps, partial
 * writes into a full ring, back-pressure that leaves data in the socket, a
 * guest that never reads, EOF and EPIPE as the host's words, MSG_MORE and
 * SHUT_WR from the guest's words, notifications only when the guest asked
 * (event index), datagrams with their sizes (cut to the ring, full_len
 * kept), a destination the service refuses, and forged indexes and
 * references (-EPROTO / -EINVAL, nothing moved).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outsource/sock/sockarea.h"
#include "tests/tap.h"

#define RING HRPC_SOCK_RING_MIN
#define DATA (64u * 1024)

static uint8_t data[DATA] __attribute__((aligned(64)));

struct guest {
	struct hrpc_ring out, in;   /* the guest produces out, consumes in */
	struct hrpc_sock_area_hdr *hdr;
};

static void guest_bind(struct guest *g, const struct hrpc_sock_area *ref)
{
	g->hdr = (struct hrpc_sock_area_hdr *)(data + ref->off);
	hrpc_sock_area_bind(&g->out, &g->in, data + ref->off, ref, 1);
}

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

static void pair(int type, int sv[2])
{
	socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
}

static void test_refs(void)
{
	struct hrpc_sock_area ref = { .off = 64, .out_size = RING, .in_size = RING };
	struct sock_area a;

	tap_ok(sock_area_bind(&a, data, DATA, &ref, false) == 0, "bind: a good reference binds");
	ref.off = DATA - 64;
	tap_ok(sock_area_bind(&a, data, DATA, &ref, false) == -EINVAL,
	       "bind: an area past the data area is -EINVAL (the call fails, the channel lives)");
	ref.off = 32;
	tap_ok(sock_area_bind(&a, data, DATA, &ref, false) == -EINVAL,
	       "bind: an area off its alignment is -EINVAL");
}

static void test_stream(void)
{
	static uint8_t buf[256 * 1024];
	struct hrpc_sock_area ref = { .off = 0, .out_size = RING, .in_size = RING };
	struct sock_area a;
	struct guest g;
	uint64_t sent = 0, got = 0;
	uint32_t ev;
	long n;
	int sv[2], ok = 1;

	pair(SOCK_STREAM, sv);
	sock_area_bind(&a, data, DATA, &ref, false);
	guest_bind(&g, &ref);

	/* guest -> host: more than the ring, in rounds, across wraps */
	while (sent < 100000 && ok) {
		for (uint32_t i = 0; i < 3000; i++)
			buf[i] = pat(sent + i);
		n = hrpc_sring_write(&g.out, buf, 3000);
		ok = n > 0 && sock_area_drain(&a, sv[0], NULL, NULL, &ev) == n;
		sent += (uint64_t)n;
		while (ok && (n = read(sv[1], buf, sizeof(buf))) > 0) {
			for (long i = 0; i < n; i++)
				ok &= buf[i] == pat(got + (uint64_t)i);
			got += (uint64_t)n;
		}
	}
	tap_ok(ok && got == sent, "drain: %llu bytes from the out ring reach the peer intact",
	       (unsigned long long)got);
	tap_ok(ev & SOCK_AREA_EV_IDLE, "drain: an emptied out ring asks the guest for a doorbell");
	{
		uint32_t old = g.out.pvt;

		hrpc_sring_write(&g.out, "x", 1);
		tap_ok(hrpc_ring_need_notify(&g.out, old),
		       "drain: ... so the guest's next write rings it");
		sock_area_drain(&a, sv[0], NULL, NULL, &ev);
		read(sv[1], buf, 1);
	}

	/* host -> guest with back-pressure: 200000 bytes, a ring of 4096 */
	for (uint32_t i = 0; i < 200000; i++)
		buf[i] = pat(i);
	n = write(sv[1], buf, 200000);
	tap_ok(n == 200000, "the peer sends 200000 bytes");
	n = sock_area_push(&a, sv[0], NULL, NULL, &ev);
	tap_ok(n == RING && (ev & SOCK_AREA_EV_IDLE) && !(ev & SOCK_AREA_EV_WANT_IN),
	       "push: a full in ring stops the push (%ld bytes) and leaves the rest in the socket", n);
	tap_ok(ev & SOCK_AREA_EV_NOTIFY,
	       "push: the first bytes into a fresh in ring wake the guest (armed at 0)");
	n = sock_area_push(&a, sv[0], NULL, NULL, &ev);
	tap_ok(n == 0 && !(ev & SOCK_AREA_EV_NOTIFY),
	       "push: a guest that never reads gets nothing more, and no notification");
	got = 0;
	ok = 1;
	while (got < 200000 && ok) {
		n = hrpc_sring_read(&g.in, buf, 1500);
		for (long i = 0; i < n; i++)
			ok &= buf[i] == pat(got + (uint64_t)i);
		got += (uint64_t)(n > 0 ? n : 0);
		if (n == 0) {
			/* the guest sleeps: asks for a wake-up, the host pushes */
			if (hrpc_ring_arm(&g.in) && sock_area_push(&a, sv[0], NULL, NULL, &ev) > 0)
				ok &= (ev & SOCK_AREA_EV_NOTIFY) != 0;
			else
				ok = 0;
		}
	}
	tap_ok(ok && got == 200000,
	       "push: reading and pushing in turns moves all 200000 bytes intact, with a "
	       "notification for each sleeping reader");

	/* EOF: after the bytes, the host's words say so */
	hrpc_sring_write(&g.out, "", 0);
	write(sv[1], "tail", 4);
	shutdown(sv[1], SHUT_WR);
	n = sock_area_push(&a, sv[0], NULL, NULL, &ev);
	tap_ok(n == 4 && (a.host_flags & HRPC_SOCK_AREA_H_EOF) && (ev & SOCK_AREA_EV_NOTIFY) &&
	       (hrpc_load_acquire(&g.hdr->host_flags) & HRPC_SOCK_AREA_H_EOF) &&
	       (g.hdr->host_mask & HRPC_POLLRDHUP),
	       "push: the peer's FIN comes after its last bytes, published as EOF and RDHUP");

	/* the guest's SHUT_WR once its bytes are out */
	hrpc_sring_write(&g.out, "bye", 3);
	hrpc_write_once(g.hdr->guest_flags, HRPC_SOCK_AREA_G_SHUTWR);
	sock_area_drain(&a, sv[0], NULL, NULL, &ev);
	n = read(sv[1], buf, sizeof(buf));
	tap_ok(n == 3 && read(sv[1], buf, sizeof(buf)) == 0,
	       "drain: SHUTWR from the guest reaches the peer after its last bytes");
	close(sv[0]);
	close(sv[1]);
	/* the same memory for a new socket: no flag of the old one survives */
	pair(SOCK_STREAM, sv);
	sock_area_bind(&a, data, DATA, &ref, false);
	guest_bind(&g, &ref);
	hrpc_sring_write(&g.out, "new", 3);
	sock_area_drain(&a, sv[0], NULL, NULL, &ev);
	n = read(sv[1], buf, sizeof(buf));
	tap_ok(n == 3 && g.hdr->guest_flags == 0 && a.host_flags == 0 &&
	       recv(sv[1], buf, 1, MSG_DONTWAIT) < 0,
	       "bind: an area reused after SHUTWR starts with no flags (no stray shutdown)");
	close(sv[0]);
	close(sv[1]);
}

static void test_errors(void)
{
	static uint8_t buf[RING];
	struct hrpc_sock_area ref = { .off = 4096, .out_size = RING, .in_size = RING };
	struct sock_area a;
	struct guest g;
	uint32_t ev;
	long n;
	int sv[2];

	pair(SOCK_STREAM, sv);
	sock_area_bind(&a, data, DATA, &ref, false);
	guest_bind(&g, &ref);
	close(sv[1]);
	hrpc_sring_write(&g.out, "lost", 4);
	n = sock_area_drain(&a, sv[0], NULL, NULL, &ev);
	tap_ok(n == 0 && a.host_err == -EPIPE && (ev & SOCK_AREA_EV_NOTIFY) &&
	       g.hdr->host_err == -EPIPE && (g.hdr->host_mask & HRPC_POLLERR) &&
	       hrpc_sring_avail(&a.out) == 0,
	       "drain: a closed peer is EPIPE for the guest, its bytes dropped (%ld)",
	       (long)a.host_err);
	close(sv[0]);

	pair(SOCK_STREAM, sv);
	sock_area_bind(&a, data, DATA, &ref, false);
	guest_bind(&g, &ref);
	g.hdr->out.prod = RING + 10;   /* a forged producer index */
	n = sock_area_drain(&a, sv[0], NULL, NULL, &ev);
	tap_ok(n == -EPROTO && read(sv[1], buf, sizeof(buf)) < 0,
	       "drain: a forged out index is -EPROTO and nothing was sent");
	g.hdr->out.prod = 0;
	write(sv[1], "abc", 3);
	g.hdr->in.cons = 7;            /* the guest "consumed" what never came */
	n = sock_area_push(&a, sv[0], NULL, NULL, &ev);
	tap_ok(n == -EPROTO, "push: a forged in index is -EPROTO");
	close(sv[0]);
	close(sv[1]);
}

static int dest_only_port_9(void *ctx, const struct hrpc_sock_addr *w,
			    const struct hrpc_sock_dgram_meta *m, struct sockaddr_storage *ss,
			    socklen_t *len, int *fd)
{
	(void)ctx;
	(void)m;
	(void)ss;
	(void)fd;
	*len = 0;   /* a connected socketpair: no address to give */
	return w->port == 9 ? 0 : -EACCES;
}

static int src_fixed(void *ctx, const struct sockaddr_storage *ss, socklen_t len,
		     struct hrpc_sock_addr *out)
{
	(void)ctx;
	(void)ss;
	(void)len;
	memset(out, 0, sizeof(*out));
	out->family = HRPC_AF_INET;
	out->port = 4242;
	return 0;
}

static void test_dgram(void)
{
	static uint8_t buf[70000];
	struct hrpc_sock_area ref = { .off = 0, .out_size = RING, .in_size = 2 * RING };
	struct hrpc_sock_dgram h;
	struct sock_area a;
	struct guest g;
	uint32_t ev;
	long n;
	int sv[2], ok = 1;

	pair(SOCK_DGRAM, sv);
	sock_area_bind(&a, data, DATA, &ref, true);
	guest_bind(&g, &ref);
	for (uint32_t i = 0; i < sizeof(buf); i++)
		buf[i] = pat(i);
	/* the peer sends 5 datagrams, one larger than the ring can hold */
	for (int i = 0; i < 4; i++)
		send(sv[1], buf + i, 100 + (size_t)i, 0);
	send(sv[1], buf, 20000, 0);
	n = sock_area_push(&a, sv[0], src_fixed, NULL, &ev);
	for (int i = 0; i < 4 && ok; i++) {
		static uint8_t got[RING];

		ok = hrpc_dring_get(&g.in, &h, got, sizeof(got), 0) == 100 + i &&
		     h.full_len == 100u + (uint32_t)i && h.addr.port == 4242 &&
		     !memcmp(got, buf + i, 100 + (size_t)i);
	}
	tap_ok(ok, "push: datagrams arrive whole with their sizes and the sender src() gave");
	tap_ok(sock_area_push(&a, sv[0], src_fixed, NULL, &ev) > 0,
	       "push: the big datagram waited in the socket until the ring had room for it");
	{
		static uint8_t got[2 * RING];

		n = hrpc_dring_get(&g.in, &h, got, sizeof(got), 0);
		tap_ok(n == (long)hrpc_dring_max_payload(2 * RING) && h.full_len == 20000 &&
		       !memcmp(got, buf, (size_t)n),
		       "push: a datagram larger than the ring is cut to it, full_len says 20000 (%ld)",
		       n);
	}
	/* guest -> host: one allowed destination, one refused */
	memset(&h, 0, sizeof(h));
	h.len = h.full_len = 64;
	h.addr.family = HRPC_AF_INET;
	h.addr.port = 9;
	hrpc_dring_put(&g.out, &h, buf);
	h.addr.port = 10;
	hrpc_dring_put(&g.out, &h, buf);
	n = sock_area_drain(&a, sv[0], dest_only_port_9, NULL, &ev);
	tap_ok(n == 64 && recv(sv[1], buf + 1000, 1000, 0) == 64 && recv(sv[1], buf, 1, 0) < 0 &&
	       a.dropped == 1 && a.host_err == -EACCES && (ev & SOCK_AREA_EV_NOTIFY),
	       "drain: dest() lets one datagram out and refuses the other: dropped, EACCES pending");
	/* a forged record length */
	h.addr.port = 9;
	hrpc_dring_put(&g.out, &h, buf);
	((struct hrpc_sock_dgram *)(g.out.buf + (a.out.pvt & a.out.mask)))->len = 3 * RING;
	tap_ok(sock_area_drain(&a, sv[0], dest_only_port_9, NULL, &ev) == -EPROTO,
	       "drain: a forged datagram length is -EPROTO");
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	tap_plan(22);
	test_refs();
	test_stream();
	test_errors();
	test_dgram();
	return tap_done();
}
