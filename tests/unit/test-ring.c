/* SPDX-License-Identifier: MIT */
/*
 * test-ring - the SPSC record rings of ring.h: empty/full, wrap-around,
 * event-index notification decisions, and two threads hammering
 * producer/consumer with integrity checks on every record.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/ring.h"
#include "tests/tap.h"

#define RING HRPC_RING_MIN_SIZE

struct pair {
	struct hrpc_ring_ctl ctl __attribute__((aligned(64)));
	uint8_t *buf;
	struct hrpc_ring prod, cons;
};

static void pair_init(struct pair *p)
{
	memset(&p->ctl, 0, sizeof(p->ctl));
	p->buf = calloc(1, RING);
	hrpc_ring_bind(&p->prod, &p->ctl, p->buf, RING, 1);
	hrpc_ring_bind(&p->cons, &p->ctl, p->buf, RING, 0);
}

static void mk(struct hrpc_msg_hdr *h, uint64_t id, uint32_t len)
{
	hrpc_msg_init(h, HRPC_KIND_CALL, 1, 1, id, len);
}

static void fill(uint8_t *b, uint32_t len, uint64_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7);
}

static int check(const uint8_t *b, uint32_t len, uint64_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		if (b[i] != (uint8_t)(seed * 131 + i * 7))
			return 0;
	return 1;
}

static void test_empty_full(void)
{
	static uint8_t pay[HRPC_MSG_MAX_PAYLOAD], out[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr h, g;
	struct pair p;
	int n = 0, rc;

	pair_init(&p);
	tap_ok(hrpc_ring_get(&p.cons, &g, out, sizeof(out)) == -EAGAIN, "empty ring: get says EAGAIN");
	tap_ok(hrpc_ring_space(&p.prod) == RING, "empty ring: all bytes free");
	mk(&h, 1, 1000);
	fill(pay, 1000, 1);
	while ((rc = hrpc_ring_put(&p.prod, &h, pay)) == 0)
		n++;
	tap_ok(rc == -EAGAIN && n == RING / HRPC_RECORD_SIZE(1000), "full ring: put says EAGAIN after %d records", n);
	mk(&h, 1, HRPC_MSG_MAX_PAYLOAD + 1);
	tap_ok(hrpc_ring_put(&p.prod, &h, pay) == -EMSGSIZE, "oversized payload refused by producer");
	for (int i = 0; i < n; i++) {
		rc = hrpc_ring_get(&p.cons, &g, out, sizeof(out));
		if (rc || g.len != 1000 || !check(out, 1000, 1))
			break;
		if (i == n - 1)
			n = -1;
	}
	tap_ok(n == -1, "every record comes back intact");
	tap_ok(hrpc_ring_get(&p.cons, &g, out, sizeof(out)) == -EAGAIN, "drained ring is empty again");
	free(p.buf);
}

static void test_wrap(void)
{
	static uint8_t pay[HRPC_MSG_MAX_PAYLOAD], out[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr h, g;
	struct pair p;
	int ok = 1, wrapped = 0;

	pair_init(&p);
	/* Start just below the u32 wrap so both the slot offset and the
	 * free-running index wrap during the test. */
	p.ctl.prod = p.ctl.cons = 0xffffffffu - 3 * RING / 2 + 8;
	p.ctl.prod &= ~7u;
	p.ctl.cons = p.ctl.prod;
	hrpc_ring_bind(&p.prod, &p.ctl, p.buf, RING, 1);
	hrpc_ring_bind(&p.cons, &p.ctl, p.buf, RING, 0);
	for (uint64_t i = 0; i < 5000 && ok; i++) {
		uint32_t len = (uint32_t)((i * 7919) % 70000) % (HRPC_MSG_MAX_PAYLOAD + 1);
		uint32_t before = p.prod.pvt;

		mk(&h, i, len);
		fill(pay, len, i);
		ok &= hrpc_ring_put(&p.prod, &h, pay) == 0;
		ok &= hrpc_ring_get(&p.cons, &g, out, sizeof(out)) == 0;
		ok &= g.call_id == i && g.len == len && check(out, len, i);
		if (p.prod.pvt < before)
			wrapped = 1;
	}
	tap_ok(ok, "5000 records of 0..64 KiB across the slot and index wrap-around");
	tap_ok(wrapped, "the u32 index actually wrapped");
	free(p.buf);
}

static void test_events(void)
{
	static uint8_t out[64];
	struct hrpc_msg_hdr h, g;
	struct pair p;
	uint32_t old;

	pair_init(&p);
	mk(&h, 1, 0);
	tap_ok(hrpc_ring_arm(&p.cons) == 1, "consumer arms on an empty ring");
	old = p.prod.pvt;
	hrpc_ring_put(&p.prod, &h, NULL);
	tap_ok(hrpc_ring_need_notify(&p.prod, old), "first publish after arming rings the doorbell");
	old = p.prod.pvt;
	hrpc_ring_put(&p.prod, &h, NULL);
	tap_ok(!hrpc_ring_need_notify(&p.prod, old), "second publish is suppressed");
	tap_ok(hrpc_ring_arm(&p.cons) == 0, "arming with unread records says: don't sleep");
	hrpc_ring_get(&p.cons, &g, out, sizeof(out));
	hrpc_ring_get(&p.cons, &g, out, sizeof(out));
	tap_ok(hrpc_ring_arm(&p.cons) == 1, "armed again once drained");
	old = p.prod.pvt;
	hrpc_ring_put(&p.prod, &h, NULL);
	tap_ok(hrpc_ring_need_notify(&p.prod, old), "and the next publish rings again");
	free(p.buf);
}

static void test_forged(void)
{
	static uint8_t out[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr h, g;
	struct pair p;

	pair_init(&p);
	p.ctl.prod = RING + 8;
	tap_ok(hrpc_ring_get(&p.cons, &g, out, sizeof(out)) == -EPROTO, "producer index beyond ring size: EPROTO");
	p.ctl.prod = 12;
	tap_ok(hrpc_ring_get(&p.cons, &g, out, sizeof(out)) == -EPROTO, "unaligned/partial record: EPROTO");
	p.ctl.prod = 0;
	mk(&h, 1, 100);
	hrpc_ring_put(&p.prod, &h, out);
	h.len = HRPC_MSG_MAX_PAYLOAD + 8;  /* rewrite the record in place */
	memcpy(p.buf, &h, sizeof(h));
	tap_ok(hrpc_ring_get(&p.cons, &g, out, sizeof(out)) == -EPROTO, "record length above the maximum: EPROTO");
	h.len = 4096;
	memcpy(p.buf, &h, sizeof(h));
	tap_ok(hrpc_ring_get(&p.cons, &g, out, sizeof(out)) == -EPROTO, "record longer than what was published: EPROTO");
	p.ctl.cons = p.prod.pvt + 64;
	tap_ok(hrpc_ring_space(&p.prod) == -EPROTO, "consumer index ahead of producer: EPROTO");
	tap_ok(hrpc_ring_put(&p.prod, &h, out) == -EPROTO, "and put refuses to write");
	free(p.buf);
}

/* ---- two threads --------------------------------------------------------- */

#define HAMMER_N 400000

static struct pair hp;
static volatile int hammer_bad;

static void *consumer(void *arg)
{
	static uint8_t out[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr g;
	uint64_t next = 0;

	while (next < HAMMER_N) {
		int rc = hrpc_ring_get(&hp.cons, &g, out, sizeof(out));

		if (rc == -EAGAIN)
			continue;
		if (rc || g.call_id != next || g.len != (uint32_t)(next % 301) ||
		    !check(out, g.len, next)) {
			hammer_bad = 1;
			break;
		}
		next++;
	}
	return NULL;
}

static void test_threads(void)
{
	static uint8_t pay[512];
	struct hrpc_msg_hdr h;
	pthread_t t;
	uint64_t full = 0;

	pair_init(&hp);
	pthread_create(&t, NULL, consumer, NULL);
	for (uint64_t i = 0; i < HAMMER_N && !hammer_bad; i++) {
		uint32_t len = (uint32_t)(i % 301);

		mk(&h, i, len);
		fill(pay, len, i);
		while (hrpc_ring_put(&hp.prod, &h, pay) == -EAGAIN && !hammer_bad)
			full++;
	}
	pthread_join(t, NULL);
	tap_ok(!hammer_bad, "producer and consumer threads: %d records in order and intact (%llu full retries)",
	       HAMMER_N, (unsigned long long)full);
	free(hp.buf);
}

int main(void)
{
	tap_plan(21);
	test_empty_full();
	test_wrap();
	test_events();
	test_forged();
	test_threads();
	return tap_done();
}
