/* SPDX-License-Identifier: MIT */
/*
 * test-sockring - the sockets v2 data rings of sockring.h: area checks,
 * stream bytes (partial writes when full, wrap-around, peek, in-place
 * spans), datagram records (round trip, cut, peek, full), every forged
 * index and record a hostile peer can publish, and two threads moving
 * bytes and datagrams through one area with integrity checks.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/sockring.h"
#include "tests/tap.h"

#define RING HRPC_SOCK_RING_MIN

struct area {
	struct hrpc_sock_area a;
	uint8_t *base;
	struct hrpc_ring g_out, g_in;   /* the guest's view */
	struct hrpc_ring h_out, h_in;   /* the host's view */
};

static void area_init(struct area *x, uint32_t out_size, uint32_t in_size)
{
	x->a = (struct hrpc_sock_area){ .off = 0, .out_size = out_size, .in_size = in_size };
	x->base = aligned_alloc(64, hrpc_sock_area_bytes(&x->a));
	memset(x->base, 0, hrpc_sock_area_bytes(&x->a));
	hrpc_sock_area_bind(&x->g_out, &x->g_in, x->base, &x->a, 1);
	hrpc_sock_area_bind(&x->h_out, &x->h_in, x->base, &x->a, 0);
}

static struct hrpc_sock_area_hdr *hdr(struct area *x)
{
	return (struct hrpc_sock_area_hdr *)x->base;
}

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7);
}

static void test_area_check(void)
{
	struct hrpc_sock_area a = { .off = 4096, .out_size = RING, .in_size = 2 * RING };
	const uint32_t data = 1u << 20;

	tap_ok(hrpc_sock_area_check(&a, data) == 0, "area: a good reference passes");
	a.off = 4100;
	tap_ok(hrpc_sock_area_check(&a, data) == -EINVAL, "area: an offset off a cache line fails");
	a.off = data - hrpc_sock_area_bytes(&a) + 64;
	tap_ok(hrpc_sock_area_check(&a, data) == -EINVAL, "area: a span past the data area fails");
	a.off = 0xffffffc0u;
	tap_ok(hrpc_sock_area_check(&a, 0xffffffffu) == -EINVAL,
	       "area: an offset whose end wraps 2^32 fails");
	a.off = 0;
	a.out_size = RING + 64;
	tap_ok(hrpc_sock_area_check(&a, data) == -EINVAL, "area: a size not a power of two fails");
	a.out_size = RING / 2;
	tap_ok(hrpc_sock_area_check(&a, data) == -EINVAL, "area: a ring below the minimum fails");
	a.out_size = HRPC_SOCK_RING_MAX * 2;
	tap_ok(hrpc_sock_area_check(&a, 0xffffffffu) == -EINVAL,
	       "area: a ring above the maximum fails");
	a.out_size = RING;
	a.reserved = 1;
	tap_ok(hrpc_sock_area_check(&a, data) == -EINVAL, "area: a non-zero reserved word fails");
}

static void test_stream(void)
{
	static uint8_t src[3 * RING], dst[3 * RING];
	struct area x;
	const void *c0, *c1;
	void *p0, *p1;
	uint32_t n0, n1;
	long n;
	int ok = 1;

	for (uint32_t i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	area_init(&x, RING, RING);
	tap_ok(hrpc_sring_avail(&x.h_out) == 0, "stream: a fresh out ring is empty");
	tap_ok(hrpc_sring_read(&x.h_out, dst, 10) == 0, "stream: reading an empty ring gets 0 bytes");
	n = hrpc_sring_write(&x.g_out, src, RING + 100);
	tap_ok(n == RING, "stream: a write larger than the ring is short (%ld of %u)", n, RING + 100);
	tap_ok(hrpc_sring_write(&x.g_out, src, 1) == 0, "stream: a full ring takes 0 bytes");
	n = hrpc_sring_peek(&x.h_out, 100, dst, 50);
	tap_ok(n == 50 && !memcmp(dst, src + 100, 50), "stream: peek at an offset copies without consuming");
	tap_ok(hrpc_sring_avail(&x.h_out) == RING, "stream: peek left every byte");
	n = hrpc_sring_read(&x.h_out, dst, RING - 1000);
	tap_ok(n == RING - 1000 && !memcmp(dst, src, n), "stream: read consumes in order");
	/* now 1000 bytes wait at the ring's end; a write wraps */
	n = hrpc_sring_write(&x.g_out, src + RING, 3000);
	tap_ok(n == 3000, "stream: the freed bytes take a wrapping write");
	n = hrpc_sring_data_spans(&x.h_out, 1u << 30, &c0, &n0, &c1, &n1);
	tap_ok(n == 4000 && n0 == 1000 && n1 == 3000 && c1 == x.h_out.buf &&
	       !memcmp(c0, src + RING - 1000, 1000) && !memcmp(c1, src + RING, 3000),
	       "stream: data spans split at the wrap (%u + %u)", n0, n1);
	n = hrpc_sring_data_spans(&x.h_out, 500, &c0, &n0, &c1, &n1);
	tap_ok(n == 500 && n0 == 500 && n1 == 0, "stream: data spans honour the maximum");
	hrpc_sring_consume(&x.h_out, 4000);
	n = hrpc_sring_free_spans(&x.g_out, &p0, &n0, &p1, &n1);
	tap_ok(n == RING && n0 + n1 == RING && n0 == RING - (x.g_out.pvt & x.g_out.mask),
	       "stream: free spans cover the whole empty ring from the producer index");
	memcpy(p0, src, n0);
	memcpy(p1, src + n0, n1);
	hrpc_sring_produce(&x.g_out, RING);
	n = hrpc_sring_read(&x.h_out, dst, RING);
	tap_ok(n == RING && !memcmp(dst, src, RING), "stream: bytes written in place arrive intact");

	/* the in ring the other way, many odd-sized rounds across wraps */
	for (uint32_t off = 0, k = 1; off < sizeof(src) - 2000 && ok; off += k, k = k * 7 % 1999 + 1) {
		ok = hrpc_sring_write(&x.h_in, src + off, k) == (long)k &&
		     hrpc_sring_read(&x.g_in, dst, k) == (long)k && !memcmp(dst, src + off, k);
	}
	tap_ok(ok, "stream: the in ring moves odd sizes across many wraps intact");
	free(x.base);
}

static void test_stream_forged(void)
{
	uint8_t buf[64];
	struct area x;

	area_init(&x, RING, RING);
	hrpc_sring_write(&x.g_out, "abc", 3);
	hdr(&x)->out.prod = x.h_out.pvt + RING + 1;
	tap_ok(hrpc_sring_avail(&x.h_out) == -EPROTO && hrpc_sring_read(&x.h_out, buf, 1) == -EPROTO,
	       "forged: a producer index more than a ring ahead is -EPROTO");
	hdr(&x)->out.prod = x.h_out.pvt - 1;
	tap_ok(hrpc_sring_avail(&x.h_out) == -EPROTO,
	       "forged: a producer index behind the consumer is -EPROTO");
	hdr(&x)->in.cons = x.h_in.pvt + 1;
	tap_ok(hrpc_sring_write(&x.h_in, "x", 1) == -EPROTO,
	       "forged: a consumer index ahead of the producer is -EPROTO for the writer");
	{
		void *p0, *p1;
		uint32_t n0, n1;

		tap_ok(hrpc_sring_free_spans(&x.h_in, &p0, &n0, &p1, &n1) == -EPROTO && !n0 && !n1,
		       "forged: free spans of a forged ring are empty and -EPROTO");
	}
	free(x.base);
}

static void dgram(struct hrpc_sock_dgram *h, uint32_t len, uint16_t port)
{
	memset(h, 0, sizeof(*h));
	h->len = h->full_len = len;
	h->addr.family = HRPC_AF_INET;
	h->addr.port = port;
	h->addr.addr[0] = 127;
	h->addr.addr[3] = 1;
}

static void test_dgram(void)
{
	static uint8_t src[HRPC_SOCK_DGRAM_MAX], dst[HRPC_SOCK_DGRAM_MAX];
	struct hrpc_sock_dgram h, g;
	struct area x;
	int put = 0, ok = 1;
	long n;

	for (uint32_t i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	area_init(&x, RING, RING);
	tap_ok(hrpc_dring_get(&x.h_out, &g, dst, sizeof(dst), 0) == -EAGAIN,
	       "dgram: an empty ring says EAGAIN");
	dgram(&h, 100, 53);
	tap_ok(hrpc_dring_put(&x.g_out, &h, src) == 0, "dgram: a datagram goes in");
	n = hrpc_dring_get(&x.h_out, &g, dst, 40, 1);
	tap_ok(n == 40 && g.len == 100 && g.addr.port == 53 && !memcmp(dst, src, 40),
	       "dgram: a short buffer gets the head, the header says how long (peek)");
	n = hrpc_dring_get(&x.h_out, &g, dst, sizeof(dst), 0);
	tap_ok(n == 100 && !memcmp(dst, src, 100) && g.addr.addr[0] == 127,
	       "dgram: peek left it; get takes it whole with its address");
	dgram(&h, hrpc_dring_max_payload(RING) + 8, 1);
	tap_ok(hrpc_dring_put(&x.g_out, &h, src) == -EMSGSIZE,
	       "dgram: a payload larger than the ring can hold is the caller's error");
	dgram(&h, 10, 1);
	h.full_len = 5;
	tap_ok(hrpc_dring_put(&x.g_out, &h, src) == -EMSGSIZE, "dgram: full_len below len is refused");
	/* fill up, then records of many sizes across the wrap */
	dgram(&h, 1000, 9);
	while (hrpc_dring_put(&x.g_out, &h, src) == 0)
		put++;
	tap_ok(put == (int)(RING / HRPC_SOCK_DGRAM_REC(1000)), "dgram: a full ring says EAGAIN (%d fit)",
	       put);
	while (hrpc_dring_get(&x.h_out, &g, dst, sizeof(dst), 0) >= 0)
		;
	for (int i = 0; i < 300 && ok; i++) {
		uint32_t len = (uint32_t)(i * 37 % 1500);

		dgram(&h, len, (uint16_t)i);
		ok = hrpc_dring_put(&x.g_out, &h, src + i) == 0 &&
		     hrpc_dring_get(&x.h_out, &g, dst, sizeof(dst), 0) == (long)len &&
		     g.addr.port == (uint16_t)i && !memcmp(dst, src + i, len);
	}
	tap_ok(ok && hrpc_sring_avail(&x.h_out) == 0,
	       "dgram: records of many sizes wrap around intact and drain to empty");
	free(x.base);
}

static void test_dgram_forged(void)
{
	uint8_t buf[2048];
	struct hrpc_sock_dgram h, g;
	struct area x;

	area_init(&x, RING, RING);
	dgram(&h, 64, 1);
	hrpc_dring_put(&x.g_out, &h, buf);
	((struct hrpc_sock_dgram *)(x.base + HRPC_SOCK_AREA_HDR))->len = 4000;
	tap_ok(hrpc_dring_get(&x.h_out, &g, buf, sizeof(buf), 0) == -EPROTO,
	       "forged: a record longer than the bytes published is -EPROTO");
	((struct hrpc_sock_dgram *)(x.base + HRPC_SOCK_AREA_HDR))->len = RING;
	tap_ok(hrpc_dring_get(&x.h_out, &g, buf, sizeof(buf), 0) == -EPROTO,
	       "forged: a record longer than the ring is -EPROTO");
	((struct hrpc_sock_dgram *)(x.base + HRPC_SOCK_AREA_HDR))->len = 64;
	((struct hrpc_sock_dgram *)(x.base + HRPC_SOCK_AREA_HDR))->full_len = 10;
	tap_ok(hrpc_dring_get(&x.h_out, &g, buf, sizeof(buf), 0) == -EPROTO,
	       "forged: full_len below len is -EPROTO");
	((struct hrpc_sock_dgram *)(x.base + HRPC_SOCK_AREA_HDR))->full_len = 64;
	((struct hrpc_sock_dgram *)(x.base + HRPC_SOCK_AREA_HDR))->flags = 2;
	tap_ok(hrpc_dring_get(&x.h_out, &g, buf, sizeof(buf), 0) == -EPROTO,
	       "forged: unknown flags are -EPROTO");
	((struct hrpc_sock_dgram *)(x.base + HRPC_SOCK_AREA_HDR))->flags = 0;
	hdr(&x)->out.prod = x.h_out.pvt + 20;
	tap_ok(hrpc_dring_get(&x.h_out, &g, buf, sizeof(buf), 0) == -EPROTO,
	       "forged: a producer index short of one header is -EPROTO");
	hdr(&x)->out.prod = x.h_out.pvt + 60;
	tap_ok(hrpc_dring_get(&x.h_out, &g, buf, sizeof(buf), 0) == -EPROTO,
	       "forged: a producer index off the 8-byte grid is -EPROTO");
	hdr(&x)->out.prod = x.h_out.pvt + HRPC_SOCK_DGRAM_REC(64);
	tap_ok(hrpc_dring_get(&x.h_out, &g, buf, sizeof(buf), 0) == 64,
	       "forged: the repaired record is read again");
	free(x.base);
}

/* Datagrams with ancillary data (HRPC_SOCK_DGRAM_F_META). */
static void test_dgram_meta(void)
{
	static uint8_t src[4096], dst[4096];
	struct hrpc_sock_dgram h, g;
	struct hrpc_sock_dgram_meta m, mg;
	struct hrpc_sock_dgram_meta *shared;
	uint32_t max = hrpc_dring_max_payload(RING);
	struct area x;
	long n;

	for (uint32_t i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	area_init(&x, RING, RING);
	memset(&m, 0, sizeof(m));
	m.have = HRPC_SOCK_META_PKTINFO | HRPC_SOCK_META_TSTAMP;
	m.ifindex = 7;
	m.ts_ns = 1234567890123456789ull;
	m.dst.family = HRPC_AF_INET;
	m.dst.addr[0] = 10;
	dgram(&h, 300, 99);
	tap_ok(hrpc_dring_put_meta(&x.g_out, &h, &m, src) == 0, "meta: a datagram with meta goes in");
	n = hrpc_dring_get_meta(&x.h_out, &g, &mg, dst, sizeof(dst), 1);
	tap_ok(n == 300 && (g.flags & HRPC_SOCK_DGRAM_F_META) && !memcmp(&mg, &m, sizeof(m)) &&
	       !memcmp(dst, src, 300) && hrpc_sock_dgram_rec(&g) == HRPC_SOCK_DGRAM_REC(300) + sizeof(m),
	       "meta: peek gives header, meta and payload; the record counts the meta");
	n = hrpc_dring_get(&x.h_out, &g, dst, sizeof(dst), 0);
	tap_ok(n == 300 && !memcmp(dst, src, 300) && hrpc_sring_avail(&x.h_out) == 0,
	       "meta: a reader that does not want it still gets the payload, and the whole record goes");
	dgram(&h, max, 1);
	tap_ok(hrpc_dring_put_meta(&x.g_out, &h, &m, src) == -EMSGSIZE &&
	       (dgram(&h, max - (uint32_t)sizeof(m), 1),
		hrpc_dring_put_meta(&x.g_out, &h, &m, src) == 0) &&
	       hrpc_dring_get_meta(&x.h_out, &g, &mg, NULL, 0, 0) == 0 && g.len == h.len,
	       "meta: it takes its size off the largest payload");
	/* forged: F_META with nothing in it, or with unknown bits */
	dgram(&h, 16, 1);
	hrpc_dring_put_meta(&x.g_out, &h, &m, src);
	shared = (struct hrpc_sock_dgram_meta *)(x.base + HRPC_SOCK_AREA_HDR +
						 (x.h_out.pvt & (RING - 1)) + sizeof(h));
	shared->have = 0;
	n = hrpc_dring_get_meta(&x.h_out, &g, &mg, dst, sizeof(dst), 0);
	shared->have = 8;
	tap_ok(n == -EPROTO && hrpc_dring_get_meta(&x.h_out, &g, &mg, dst, sizeof(dst), 0) == -EPROTO,
	       "forged: meta announced but empty, or with unknown bits, is -EPROTO");
	free(x.base);
}

/* ---- two threads ---------------------------------------------------------------- */

#define STREAM_BYTES (16u << 20)
#define DGRAMS 100000

static struct area tx;
static int t_dgram;
static volatile int t_failed;

static void *producer(void *arg)
{
	static uint8_t chunk[5000];
	uint64_t sent = 0;
	uint32_t k = 1;

	(void)arg;
	if (t_dgram) {
		struct hrpc_sock_dgram h;

		for (uint32_t i = 0; i < DGRAMS;) {
			uint32_t len = (i * 2654435761u) % 1400;

			for (uint32_t j = 0; j < len; j++)
				chunk[j] = pat(i + j);
			dgram(&h, len, (uint16_t)i);
			int rc = hrpc_dring_put(&tx.g_out, &h, chunk);

			if (rc == 0)
				i++;
			else if (rc != -EAGAIN || t_failed)
				return t_failed = 1, (void *)1;
		}
		return NULL;
	}
	while (sent < STREAM_BYTES) {
		long n;

		k = k * 7 % 4999 + 1;
		for (uint32_t j = 0; j < k; j++)
			chunk[j] = pat(sent + j);
		for (uint32_t off = 0; off < k; off += (uint32_t)n) {
			n = hrpc_sring_write(&tx.g_out, chunk + off, k - off);
			if (n < 0 || t_failed)
				return t_failed = 1, (void *)1;
		}
		sent += k;
	}
	return NULL;
}

static int consume_all_(void);

static int consume_all(void)
{
	int ok = consume_all_();

	if (!ok)
		t_failed = 1;
	return ok;
}

static int consume_all_(void)
{
	static uint8_t buf[8192];
	uint64_t got = 0;

	if (t_dgram) {
		struct hrpc_sock_dgram g;

		for (uint32_t i = 0; i < DGRAMS;) {
			long n = hrpc_dring_get(&tx.h_out, &g, buf, sizeof(buf), 0);

			if (n == -EAGAIN && !t_failed)
				continue;
			if (n < 0 || g.addr.port != (uint16_t)i ||
			    g.len != (i * 2654435761u) % 1400)
				return 0;
			for (long j = 0; j < n; j++)
				if (buf[j] != pat(i + (uint64_t)j))
					return 0;
			i++;
		}
		return 1;
	}
	while (got < STREAM_BYTES) {
		long n = hrpc_sring_read(&tx.h_out, buf, sizeof(buf));

		if (n < 0 || (n == 0 && t_failed))
			return 0;
		for (long j = 0; j < n; j++)
			if (buf[j] != pat(got + (uint64_t)j))
				return 0;
		got += (uint64_t)n;
	}
	return 1;
}

static void test_threads(int dgram_mode)
{
	pthread_t t;
	void *res = NULL;
	int ok;

	t_dgram = dgram_mode;
	area_init(&tx, RING, RING);
	pthread_create(&t, NULL, producer, NULL);
	ok = consume_all();
	pthread_join(t, &res);
	tap_ok(ok && !res, dgram_mode ? "threads: %d datagrams arrive whole and in order"
				       : "threads: %u MiB of stream bytes arrive intact",
	       dgram_mode ? DGRAMS : STREAM_BYTES >> 20);
	free(tx.base);
}

int main(void)
{
	tap_plan(47);
	test_area_check();
	test_stream();
	test_stream_forged();
	test_dgram();
	test_dgram_forged();
	test_dgram_meta();
	test_threads(0);
	test_threads(1);
	return tap_done();
}
