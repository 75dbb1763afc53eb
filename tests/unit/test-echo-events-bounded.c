/* SPDX-License-Identifier: MIT */
/*
 * test-echo-events-bounded - a guest asking ECHO_EVENTS for more events
 * than its response ring holds, and not draining meanwhile, does not get
 * its own channel fenced: the server stops sending events while the reply
 * still fits (the reply says how many went out), never overflows the ring,
 * and the channel keeps serving.  A count above HRPC_ECHO_MAX_EVENTS or a
 * non-zero reserved field is -EINVAL.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostrpc/echo.h"
#include "tests/tap.h"
#include "tests/unit/testutil.h"

static uint64_t ev_seen;

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *p, void *o)
{
	if (h->service == HRPC_SVC_ECHO && h->proc == HRPC_ECHO_EV_TICK)
		ev_seen++;
}

#define NCALLS 4

static int done;

static void on_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	done++;
}

static int events_call(hrpc_client *cli, uint32_t count, uint32_t reserved, uint32_t *sent)
{
	struct hrpc_echo_events_req req = { .count = count, .reserved = reserved };
	struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_EVENTS,
		.req = &req, .req_len = sizeof(req), .rep = sent, .rep_cap = sizeof(*sent),
		.timeout_ms = 5000 };

	return hrpc_client_call(cli, &c);
}

/* NCALLS requests for the maximum, pipelined, and the server left running
 * for a while with nothing drained: the worst a guest can do.  `sent`
 * totals what the replies say went out. */
static int flood(struct tpair *p, uint32_t *sent, int *bad_status)
{
	static struct hrpc_echo_events_req req = { .count = HRPC_ECHO_MAX_EVENTS };
	static struct hrpc_call c[NCALLS];
	static uint32_t rep[NCALLS];
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	int rc;

	done = 0;
	memset(rep, 0, sizeof(rep));
	for (int i = 0; i < NCALLS; i++) {
		c[i] = (struct hrpc_call){ .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_EVENTS,
			.req = &req, .req_len = sizeof(req), .rep = &rep[i], .rep_cap = sizeof(rep[i]),
			.timeout_ms = 5000 };
		rc = hrpc_client_call_async(p->cli, &c[i], on_done, NULL);
		if (rc < 0)
			return rc;
	}
	nanosleep(&ts, NULL);
	for (int i = 0; i < 100000 && done < NCALLS; i++) {
		rc = hrpc_client_process(p->cli, 10);
		if (rc < 0)
			return rc;
	}
	*sent = 0;
	*bad_status = 0;
	for (int i = 0; i < NCALLS; i++) {
		if (c[i].status || rep[i] > HRPC_ECHO_MAX_EVENTS)
			*bad_status = c[i].status ? c[i].status : -ERANGE;
		else
			*sent += rep[i];
	}
	return done == NCALLS ? 0 : -ETIMEDOUT;
}

static void run(bool vport)
{
	const char *t = vport ? "vport" : "memfd";
	uint32_t sent = 0;
	int rc, status = -1;
	struct tpair p;

	rc = tpair_start(&p, vport, 0);
	if (rc) {
		tap_diag("%s: cannot start the pair: %d", t, rc);
		exit(1);
	}
	hrpc_client_set_event_handler(p.cli, on_event, NULL);

	rc = events_call(p.cli, HRPC_ECHO_MAX_EVENTS + 1, 0, &sent);
	tap_ok(rc == -EINVAL, "%s: more than HRPC_ECHO_MAX_EVENTS is -EINVAL (%d)", t, rc);
	rc = events_call(p.cli, 1, 1, &sent);
	tap_ok(rc == -EINVAL, "%s: a non-zero reserved field is -EINVAL (%d)", t, rc);

	ev_seen = 0;
	rc = flood(&p, &sent, &status);
	tap_ok(rc == 0 && status == 0,
	       "%s: %d pipelined floods the guest does not drain are all answered (rc %d status %d, %u sent)",
	       t, NCALLS, rc, status, sent);
	for (int i = 0; i < 50 && ev_seen < sent; i++)
		hrpc_client_process(p.cli, 10);
	tap_ok(ev_seen == sent, "%s: exactly the events the replies count arrived (%llu of %u)", t,
	       (unsigned long long)ev_seen, sent);
	tap_ok(!hrpc_conn_fenced(p.conn), "%s: the channel is not fenced (%s)", t,
	       hrpc_conn_fenced(p.conn) ? hrpc_conn_fence_reason(p.conn) : "ok");
	rc = events_call(p.cli, 3, 0, &sent);
	tap_ok(rc == 0 && sent == 3, "%s: the channel still serves (%d, %u sent)", t, rc, sent);
	tpair_stop(&p);
}

int main(void)
{
	tap_plan(12);
	run(false);
	run(true);
	return tap_done();
}
