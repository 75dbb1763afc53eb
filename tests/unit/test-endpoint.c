/* SPDX-License-Identifier: MIT */
/*
 * test-endpoint - client and server endpoints over both transports (memfd
 * rings and vport stream): HELLO, inline echo at the size limits, bulk echo
 * with integrity, sink/source, events, stats, many asynchronous calls in
 * flight (ring-full back-pressure), reply truncation.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostrpc/echo.h"
#include "tests/tap.h"
#include "tests/unit/testutil.h"

static int ev_count;

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *p, void *o)
{
	uint64_t seq;

	memcpy(&seq, p, sizeof(seq));
	if (h->service == HRPC_SVC_ECHO && h->proc == HRPC_ECHO_EV_TICK && seq == (uint64_t)ev_count)
		ev_count++;
}

static int async_done;

static void on_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	uint32_t *want = opaque;

	if (call->status == 0 && call->rep_len == 4 && !memcmp(call->rep, want, 4))
		async_done++;
}

static void run(bool vport)
{
	const char *t = vport ? "vport" : "memfd";
	static uint8_t in[HRPC_MSG_MAX_PAYLOAD], out[HRPC_MSG_MAX_PAYLOAD];
	struct tpair p;
	struct hrpc_bulk b;
	struct hrpc_echo_sum sum;
	int ok, rc;

	rc = tpair_start(&p, vport, 20000);
	tap_ok(rc == 0 && hrpc_client_guest_id(p.cli) == 7, "%s: HELLO negotiated, guest id passed (%d)", t, rc);
	if (rc)
		exit(1);

	ok = 1;
	for (uint32_t len = 0; len <= HRPC_MSG_MAX_PAYLOAD; len = len ? len * 4 : 1) {
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = in, .req_len = len, .rep = out, .rep_cap = sizeof(out), .timeout_ms = 5000 };

		for (uint32_t i = 0; i < len; i++)
			in[i] = (uint8_t)(i ^ len);
		ok &= hrpc_client_call(p.cli, &c) == 0 && c.rep_len == len && !memcmp(in, out, len);
		if (len == HRPC_MSG_MAX_PAYLOAD / 4) {
			c.req_len = len = HRPC_MSG_MAX_PAYLOAD;
			ok &= hrpc_client_call(p.cli, &c) == 0 && c.rep_len == len && !memcmp(in, out, len);
			break;
		}
	}
	tap_ok(ok, "%s: inline echo 0 B .. 64 KiB intact", t);

	{
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = in, .req_len = 100, .rep = out, .rep_cap = 10, .timeout_ms = 5000 };

		tap_ok(hrpc_client_call(p.cli, &c) == -EMSGSIZE && c.rep_len == 10,
		       "%s: reply larger than the buffer: EMSGSIZE, truncated", t);
	}

	ok = 1;
	for (uint32_t len = 1; len <= (vport ? 512u << 10 : 1u << 20); len *= 8) {
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
			.rep = &sum, .rep_cap = sizeof(sum), .bulk = &b, .bulk_len = len, .timeout_ms = 5000 };
		uint8_t *src;

		if (hrpc_client_bulk_alloc(p.cli, 2 * len, &b) < 0) {
			ok = 0;
			break;
		}
		src = b.ptr;
		for (uint32_t i = 0; i < len; i++)
			src[i] = (uint8_t)(i * 31 + len);
		rc = hrpc_client_call(p.cli, &c);
		ok &= rc == 0 && c.rep_bulk_len == len && sum.len == len &&
		      sum.sum == hrpc_echo_sum(src, len) &&
		      !memcmp(src, (uint8_t *)b.ptr + c.rep_bulk_pos, len);
		hrpc_client_bulk_free(p.cli, &b);
		if (len * 8 > (vport ? 512u << 10 : 1u << 20) && len != (vport ? 512u << 10 : 1u << 20))
			len = (vport ? 512u << 10 : 1u << 20) / 8;
	}
	tap_ok(ok, "%s: bulk echo 1 B .. %s intact (checksum and bytes)", t, vport ? "512 KiB" : "1 MiB");

	{
		struct hrpc_echo_source_req sr = { .seed = 99, .len = 300000 };
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_SOURCE,
			.req = &sr, .req_len = sizeof(sr), .rep = &sum, .rep_cap = sizeof(sum),
			.bulk = &b, .timeout_ms = 5000 };

		ok = hrpc_client_bulk_alloc(p.cli, 300000, &b) == 0 && hrpc_client_call(p.cli, &c) == 0 &&
		     c.rep_bulk_len == 300000;
		for (uint32_t i = 0; ok && i < 300000; i++)
			ok = ((uint8_t *)b.ptr)[c.rep_bulk_pos + i] == hrpc_echo_pattern(99, i);
		tap_ok(ok, "%s: server-written bulk (SOURCE) arrives intact", t);
		c.proc = HRPC_ECHO_SINK;
		c.req = NULL;
		c.req_len = 0;
		c.bulk_len = 300000;
		ok = hrpc_client_call(p.cli, &c) == 0 && sum.sum == hrpc_echo_sum(b.ptr, 300000);
		tap_ok(ok, "%s: SINK checksum matches", t);
		hrpc_client_bulk_free(p.cli, &b);
	}

	{
		struct hrpc_echo_events_req er = { .count = 100 };
		uint32_t sent = 0;
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_EVENTS,
			.req = &er, .req_len = sizeof(er), .rep = &sent, .rep_cap = 4, .timeout_ms = 5000 };

		ev_count = 0;
		hrpc_client_set_event_handler(p.cli, on_event, NULL);
		rc = hrpc_client_call(p.cli, &c);
		tap_ok(rc == 0 && sent == 100 && ev_count == 100, "%s: 100 events delivered in order before the reply", t);
	}

	{
		static struct hrpc_call calls[600];
		static uint32_t vals[600];
		static uint8_t pad[1024];
		static uint32_t reps[600];
		int n = 0;

		async_done = 0;
		for (int i = 0; i < 600; i++) {
			vals[i] = (uint32_t)i * 2654435761u;
			memcpy(pad, &vals[i], 4);
			calls[i] = (struct hrpc_call){ .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
				.req = pad, .req_len = 4, .rep = &reps[i], .rep_cap = 4 };
			calls[i].req = &vals[i];
			rc = hrpc_client_call_async(p.cli, &calls[i], on_done, &vals[i]);
			if (rc == 0)
				n++;
			else if (n == i)
				tap_diag("async call %d: %s", i, strerror(-rc));
		}
		for (int tries = 0; async_done < n && tries < 1000; tries++)
			hrpc_client_process(p.cli, 10);
		tap_ok(n == 600 && async_done == 600, "%s: 600 asynchronous calls in flight all complete (%d/%d)", t, async_done, n);
	}

	{
		struct hrpc_stats st;
		struct hrpc_call c = { .service = HRPC_SVC_STATS, .proc = HRPC_STATS_GET,
			.rep = &st, .rep_cap = sizeof(st), .timeout_ms = 5000 };

		rc = hrpc_client_call(p.cli, &c);
		tap_ok(rc == 0 && st.calls > 600 && st.guest_id == 7 && st.events == 100,
		       "%s: stats service reports this channel (calls %llu, events %llu)", t,
		       (unsigned long long)st.calls, (unsigned long long)st.events);
	}
	{
		struct hrpc_call c = { .service = 999, .proc = 1, .timeout_ms = 5000 };

		tap_ok(hrpc_client_call(p.cli, &c) == -ENOENT, "%s: unknown service: ENOENT", t);
		c.service = HRPC_SVC_ECHO;
		c.proc = 77;
		tap_ok(hrpc_client_call(p.cli, &c) == -ENOSYS, "%s: unknown procedure: ENOSYS", t);
	}
	tpair_stop(&p);
}

int main(void)
{
	tap_plan(22);
	run(false);
	run(true);
	return tap_done();
}
