/* SPDX-License-Identifier: MIT */
/*
 * test-deferred - a handler that answers later (hrpc_conn_defer(),
 * hrpc_conn_reply_deferred()): the replies reach the right callers in the
 * order they are given, not the calls', with their payload and reply bulk;
 * a reply longer than the handler promised, or an out-of-range status, is
 * -EIO; a token answers once; past 64 deferred calls, -EBUSY; deferring
 * outside a handler is -EINVAL; a stream channel is -EOPNOTSUPP.  The
 * server is driven by hand (hrpc_conn_process()) once the HELLO is done.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "tests/unit/testutil.h"

#define SVC 200
#define NCALLS 8

static uint64_t tokens[80];
static unsigned int ntokens;
static int defer_rc;

/* Defers every call (payload: one u32, the caller's index). */
static int handler(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	uint64_t t;

	(void)opaque, (void)rep;
	defer_rc = hrpc_conn_defer(req, 64, &t);
	if (defer_rc < 0)
		return defer_rc;
	tokens[ntokens++] = t;
	return HRPC_DEFERRED;
}

static int done;

static void on_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	(void)c, (void)call, (void)opaque;
	done++;
}

static void pump(struct tpair *p, int want)
{
	for (int i = 0; i < 20000 && done < want; i++) {
		hrpc_conn_process(p->conn);
		hrpc_client_process(p->cli, 1);
	}
}

int main(void)
{
	struct tpair p;
	struct hrpc_call c[NCALLS];
	uint32_t req[NCALLS], rep[NCALLS][32];
	struct hrpc_bulk bulk;
	uint8_t big[128] = { 0 };
	int rc, ok;

	tap_plan(12);
	rc = tpair_start(&p, false, 0);
	if (rc == 0)
		rc = hrpc_server_register(p.srv, SVC, "deferred", handler, NULL);
	p.stop = true;   /* HELLO done: we serve by hand from here */
	pthread_join(p.thread, NULL);
	if (rc == 0)
		rc = hrpc_client_bulk_alloc(p.cli, 4096, &bulk);
	tap_ok(rc == 0, "memfd pair, service, bulk buffer");

	/* NCALLS calls, all deferred. */
	for (int i = 0; i < NCALLS; i++) {
		req[i] = (uint32_t)i;
		c[i] = (struct hrpc_call){ .service = SVC, .proc = 1, .req = &req[i],
			.req_len = sizeof(req[i]), .rep = rep[i], .rep_cap = sizeof(rep[i]),
			.bulk = i == 3 ? &bulk : NULL, .timeout_ms = 5000 };
		hrpc_client_call_async(p.cli, &c[i], on_done, NULL);
	}
	for (int i = 0; i < 200 && ntokens < NCALLS; i++) {
		hrpc_conn_process(p.conn);
		hrpc_client_process(p.cli, 0);
	}
	tap_ok(ntokens == NCALLS && done == 0, "%u calls deferred, none answered yet", ntokens);

	/* Answer in reverse order, each with its index doubled. */
	ok = 1;
	for (int i = NCALLS - 1; i >= 0; i--) {
		uint32_t v = req[i] * 2;

		if (i == 3)
			rc = hrpc_conn_reply_deferred(p.conn, tokens[i], 0, &v, sizeof(v), "bulk!", 5);
		else
			rc = hrpc_conn_reply_deferred(p.conn, tokens[i], 0, &v, sizeof(v), NULL, 0);
		ok &= rc == 0;
	}
	pump(&p, NCALLS);
	for (int i = 0; i < NCALLS; i++)
		ok &= c[i].status == 0 && c[i].rep_len == 4 && rep[i][0] == (uint32_t)i * 2;
	tap_ok(ok && done == NCALLS, "the replies reach their callers, out of order");
	tap_ok(c[3].rep_bulk_len == 5 && !memcmp((uint8_t *)bulk.ptr + c[3].rep_bulk_pos, "bulk!", 5),
	       "reply bulk lands in the call's bulk region");
	tap_ok(hrpc_conn_reply_deferred(p.conn, tokens[0], 0, NULL, 0, NULL, 0) == -ENOENT,
	       "a token answers once");

	/* Longer than promised, a positive status, bulk for a call without. */
	done = 0;
	ntokens = 0;
	for (int i = 0; i < 3; i++)
		hrpc_client_call_async(p.cli, &c[i], on_done, NULL);
	for (int i = 0; i < 200 && ntokens < 3; i++) {
		hrpc_conn_process(p.conn);
		hrpc_client_process(p.cli, 0);
	}
	hrpc_conn_reply_deferred(p.conn, tokens[0], 0, big, sizeof(big), NULL, 0);
	hrpc_conn_reply_deferred(p.conn, tokens[1], 5, NULL, 0, NULL, 0);
	hrpc_conn_reply_deferred(p.conn, tokens[2], 0, NULL, 0, "x", 1);
	pump(&p, 3);
	tap_ok(done == 3 && c[0].status == -EIO && c[0].rep_len == 0, "a reply past max_len: -EIO");
	tap_ok(c[1].status == -EIO, "a positive status: -EIO");
	tap_ok(c[2].status == -EIO, "reply bulk for a call that has none: -EIO");

	/* 64 at most. */
	{
		static struct hrpc_call many[65];
		static uint32_t r[65];
		int busy = 0;

		done = 0;
		ntokens = 0;
		for (int i = 0; i < 65; i++) {
			many[i] = (struct hrpc_call){ .service = SVC, .proc = 1, .req = &req[0],
				.req_len = sizeof(req[0]), .rep = &r[i], .rep_cap = sizeof(r[i]),
				.timeout_ms = 5000 };
			hrpc_client_call_async(p.cli, &many[i], on_done, NULL);
		}
		pump(&p, 1);
		for (int i = 0; i < 65; i++)
			busy += many[i].status == -EBUSY;
		tap_ok(ntokens == 64 && done == 1 && busy == 1, "64 deferred at once, the 65th -EBUSY");
		for (unsigned int i = 0; i < ntokens; i++)
			hrpc_conn_reply_deferred(p.conn, tokens[i], -ENOENT, NULL, 0, NULL, 0);
		pump(&p, 65);
		busy = 0;
		for (int i = 0; i < 65; i++)
			busy += many[i].status == -ENOENT;
		tap_ok(done == 65 && busy == 64, "and all 64 answered later");
	}
	{
		struct hrpc_req fake = { .conn = p.conn };
		uint64_t t;

		tap_ok(hrpc_conn_defer(&fake, 8, &t) == -EINVAL, "outside a handler: -EINVAL");
	}
	hrpc_client_bulk_free(p.cli, &bulk);
	hrpc_client_free(p.cli);
	hrpc_conn_free(p.conn);
	hrpc_server_free(p.srv);

	{
		struct tpair v;
		uint32_t one = 1, out;
		struct hrpc_call vc = { .service = SVC, .proc = 1, .req = &one,
			.req_len = sizeof(one), .rep = &out, .rep_cap = sizeof(out), .timeout_ms = 5000 };

		rc = tpair_start(&v, true, 0);
		if (rc == 0)
			rc = hrpc_server_register(v.srv, SVC, "deferred", handler, NULL);
		if (rc == 0)
			rc = hrpc_client_call(v.cli, &vc);
		tap_ok(rc == -EOPNOTSUPP, "a stream channel: -EOPNOTSUPP (%d)", rc);
		tpair_stop(&v);
	}
	return tap_done();
}
