/* SPDX-License-Identifier: MIT */
/*
 * test-stream-framing - the vport framing core (hostrpc/chan-stream.h) on a
 * transport other than a file descriptor: an in-process byte ring with the
 * manners of libxenvchan (chan-vchan.c) - a small ring each way, reads that
 * return a few bytes at a time, writes that take what fits, a doorbell
 * that a send waiting for room consumes, and a hang-up that still lets the
 * reader have what was sent before it.  Proves that frames survive any
 * split, that two sides writing into full rings do not deadlock, that a
 * hang-up is -EPIPE (at once for a blocked send), and that the limits of
 * vport.h fence a bad frame on this transport as on a socket.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hostrpc/chan-stream.h"
#include "hostrpc/echo.h"
#include "hostrpc/vport.h"
#include "tests/tap.h"

/* ---- the ring transport ----------------------------------------------------- */

#define RING_CAP 997          /* odd: frames wrap anywhere */
#define READ_CHUNK_MAX 61     /* reads bring 1..61 bytes */

struct dir {
	uint8_t buf[RING_CAP];
	size_t head, len;
	bool writer_gone;     /* the writing end hung up */
};

struct link {
	pthread_mutex_t mu;
	struct dir dir[2];    /* dir[e]: written by end e, read by end !e */
	int bell[2];          /* end e's doorbell (its wait_fd) */
	int refs;
	unsigned int seed;
};

struct ring_end {
	struct hrpc_stream s;
	struct link *l;
	int e;
};

#define RE(s) ((struct ring_end *)(s))

static void ring_bell(struct link *l, int e)
{
	(void)eventfd_write(l->bell[e], 1);
}

static ssize_t ring_read(struct hrpc_stream *s, void *buf, size_t len)
{
	struct link *l = RE(s)->l;
	struct dir *d = &l->dir[!RE(s)->e];
	size_t n, chunk;

	pthread_mutex_lock(&l->mu);
	chunk = 1 + rand_r(&l->seed) % READ_CHUNK_MAX;
	n = d->len < len ? d->len : len;
	n = n < chunk ? n : chunk;
	for (size_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = d->buf[(d->head + i) % RING_CAP];
	d->head = (d->head + n) % RING_CAP;
	d->len -= n;
	if (!n) {
		bool gone = d->writer_gone;

		pthread_mutex_unlock(&l->mu);
		return gone ? 0 : -EAGAIN;
	}
	pthread_mutex_unlock(&l->mu);
	ring_bell(l, !RE(s)->e);   /* room for the writer */
	return (ssize_t)n;
}

static ssize_t ring_writev(struct hrpc_stream *s, const struct iovec *iov, int n)
{
	struct link *l = RE(s)->l;
	int e = RE(s)->e;
	struct dir *d = &l->dir[e];
	size_t total = 0;

	pthread_mutex_lock(&l->mu);
	if (d->writer_gone || l->dir[!e].writer_gone) {
		pthread_mutex_unlock(&l->mu);
		return -EPIPE;
	}
	for (int i = 0; i < n && d->len < RING_CAP; i++) {
		for (size_t k = 0; k < iov[i].iov_len && d->len < RING_CAP; k++) {
			d->buf[(d->head + d->len) % RING_CAP] = ((const uint8_t *)iov[i].iov_base)[k];
			d->len++;
			total++;
		}
	}
	pthread_mutex_unlock(&l->mu);
	if (!total)
		return -EAGAIN;
	ring_bell(l, !e);
	return (ssize_t)total;
}

static int ring_wait_out(struct hrpc_stream *s, bool want_in, int timeout_ms)
{
	struct link *l = RE(s)->l;
	int e = RE(s)->e, rc = 0;
	struct pollfd p = { .fd = l->bell[e], .events = POLLIN };
	eventfd_t v;

	pthread_mutex_lock(&l->mu);
	if (l->dir[!e].writer_gone)
		rc = -EPIPE;
	else if (l->dir[e].len < RING_CAP)
		rc = HRPC_STREAM_OUT;
	else if (want_in && l->dir[!e].len)
		rc = HRPC_STREAM_IN;
	pthread_mutex_unlock(&l->mu);
	if (rc)
		return rc;
	rc = poll(&p, 1, timeout_ms);
	if (rc <= 0)
		return rc < 0 ? -errno : 0;
	/* Consumes the doorbell - as a vchan's send does with the event
	 * channel: input_ready() must cover what it said. */
	(void)eventfd_read(l->bell[e], &v);
	return HRPC_STREAM_OUT | (want_in ? HRPC_STREAM_IN : 0);
}

static int ring_input_ready(struct hrpc_stream *s)
{
	struct link *l = RE(s)->l;
	struct dir *d = &l->dir[!RE(s)->e];
	int r;

	pthread_mutex_lock(&l->mu);
	r = d->len > 0 || d->writer_gone;
	pthread_mutex_unlock(&l->mu);
	return r;
}

static void ring_ack(struct hrpc_stream *s)
{
	eventfd_t v;

	(void)eventfd_read(RE(s)->l->bell[RE(s)->e], &v);
}

static void ring_hang_up(struct hrpc_stream *s)
{
	struct link *l = RE(s)->l;

	pthread_mutex_lock(&l->mu);
	l->dir[RE(s)->e].writer_gone = true;
	pthread_mutex_unlock(&l->mu);
	ring_bell(l, !RE(s)->e);
}

static void ring_destroy(struct hrpc_stream *s)
{
	struct link *l = RE(s)->l;
	int refs;

	ring_hang_up(s);
	pthread_mutex_lock(&l->mu);
	refs = --l->refs;
	pthread_mutex_unlock(&l->mu);
	if (!refs) {
		close(l->bell[0]);
		close(l->bell[1]);
		pthread_mutex_destroy(&l->mu);
		free(l);
	}
	free(RE(s));
}

static const struct hrpc_stream_io ring_io = {
	.name = "test-ring",
	.read = ring_read,
	.writev = ring_writev,
	.wait_out = ring_wait_out,
	.input_ready = ring_input_ready,
	.ack = ring_ack,
	.shutdown = ring_hang_up,
	.destroy = ring_destroy,
};

/* Two connected ends: [0] server, [1] client. */
static int ring_pair(hrpc_chan **srv, hrpc_chan **cli, unsigned int seed)
{
	struct link *l = calloc(1, sizeof(*l));
	struct ring_end *end[2];

	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->mu, NULL);
	l->bell[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->bell[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->refs = 2;
	l->seed = seed;
	for (int e = 0; e < 2; e++) {
		end[e] = calloc(1, sizeof(*end[e]));
		if (!end[e] || hrpc_stream_init(&end[e]->s, &ring_io,
						e ? HRPC_ROLE_CLIENT : HRPC_ROLE_SERVER) < 0)
			return -ENOMEM;
		end[e]->l = l;
		end[e]->e = e;
		end[e]->s.base.wait_fd = l->bell[e];
	}
	*srv = &end[0]->s.base;
	*cli = &end[1]->s.base;
	return 0;
}

/* ---- a served pair ------------------------------------------------------------ */

struct pair {
	hrpc_server *srv;
	hrpc_conn *conn;
	hrpc_client *cli;
	pthread_t thread;
	volatile bool stop;
	int serve_rc;
};

static void *serve(void *arg)
{
	struct pair *p = arg;

	p->serve_rc = hrpc_conn_serve(p->conn, &p->stop);
	return NULL;
}

static int pair_start(struct pair *p, unsigned int seed)
{
	hrpc_chan *sch, *cch;
	int rc;

	p->stop = false;
	p->srv = hrpc_server_new("test");
	hrpc_server_register_builtins(p->srv);
	rc = ring_pair(&sch, &cch, seed);
	if (rc < 0)
		return rc;
	rc = hrpc_conn_new(p->srv, sch, 7, &p->conn);
	if (rc < 0)
		return rc;
	pthread_create(&p->thread, NULL, serve, p);
	return hrpc_client_new(cch, "stream-test", 5000, &p->cli);
}

static int async_ok, async_done;

static void bulk_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	const struct hrpc_echo_sum *sum = call->rep;

	async_done++;
	if (call->status == 0 && call->rep_bulk_len == call->bulk_len &&
	    sum->sum == hrpc_echo_sum(call->bulk->ptr, call->bulk_len) &&
	    !memcmp(call->bulk->ptr, (uint8_t *)call->bulk->ptr + call->rep_bulk_pos, call->bulk_len))
		async_ok++;
}

/* ---- raw frames into a served end ----------------------------------------------- */

/* The server end of a pair, and the client end for the test to write raw
 * bytes with (through the transport, below the framing). */
static hrpc_conn *raw_conn(hrpc_server *srv, struct ring_end **raw)
{
	hrpc_chan *sch, *cch;
	hrpc_conn *c;

	ring_pair(&sch, &cch, 1);
	hrpc_conn_new(srv, sch, 2, &c);
	*raw = RE(cch);
	return c;
}

static void raw_write(struct ring_end *r, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	while (iov.iov_len) {
		ssize_t w = ring_writev(&r->s, &iov, 1);

		if (w < 0)
			return;
		iov.iov_base = (uint8_t *)iov.iov_base + w;
		iov.iov_len -= (size_t)w;
	}
}

/* Serve until the conn fails (or 2 s pass). */
static int serve_until_error(hrpc_conn *c)
{
	for (int i = 0; i < 2000; i++) {
		int rc = hrpc_conn_process(c);

		if (rc < 0)
			return rc;
		usleep(1000);
	}
	return 0;
}

/* Send one frame on a stream end from another thread (the ring is small:
 * the send waits while the main thread receives). */
struct big_send {
	hrpc_chan *ch;
	struct hrpc_msg_hdr h;
	const void *payload, *bulk;
	int rc;
};

static void *big_send_main(void *arg)
{
	struct big_send *b = arg;

	b->rc = hrpc_chan_send(b->ch, &b->h, b->payload, b->bulk);
	return NULL;
}

/* Free the server end once the client's send filled the ring and waits. */
struct hang {
	struct link *l;
	hrpc_conn *conn;
};

static void *hang_up_when_full(void *arg)
{
	struct hang *h = arg;

	for (;;) {
		bool full;

		pthread_mutex_lock(&h->l->mu);
		full = h->l->dir[1].len == RING_CAP;
		pthread_mutex_unlock(&h->l->mu);
		if (full)
			break;
		usleep(1000);
	}
	hrpc_conn_free(h->conn);
	return NULL;
}

int main(void)
{
	static uint8_t in[HRPC_MSG_MAX_PAYLOAD], out[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_echo_sum sum;
	struct hrpc_bulk b;
	struct pair p;
	int ok, rc;

	tap_plan(11);

	rc = pair_start(&p, 42);
	tap_ok(rc == 0 && hrpc_client_guest_id(p.cli) == 7,
	       "HELLO over a %u-byte ring read %u bytes at a time at most (%d)", RING_CAP,
	       READ_CHUNK_MAX, rc);
	if (rc)
		return tap_done();

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
	tap_ok(ok, "inline echo 0 B .. 64 KiB intact across split frames");

	ok = 1;
	for (uint32_t len = 1; len <= 512u << 10; len *= 8) {
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
			.rep = &sum, .rep_cap = sizeof(sum), .bulk = &b, .bulk_len = len, .timeout_ms = 10000 };

		if (hrpc_client_bulk_alloc(p.cli, 2 * len, &b) < 0) {
			ok = 0;
			break;
		}
		for (uint32_t i = 0; i < len; i++)
			((uint8_t *)b.ptr)[i] = (uint8_t)(i * 31 + len);
		rc = hrpc_client_call(p.cli, &c);
		ok &= rc == 0 && c.rep_bulk_len == len && sum.sum == hrpc_echo_sum(b.ptr, len) &&
		      !memcmp(b.ptr, (uint8_t *)b.ptr + c.rep_bulk_pos, len);
		hrpc_client_bulk_free(p.cli, &b);
		if (len * 8 > 512u << 10 && len != 512u << 10)
			len = (512u << 10) / 8;
	}
	tap_ok(ok, "bulk echo 1 B .. 512 KiB intact (the largest reply: 1 MiB frame limit)");

	/* Both ends write at once into full rings: each reads while its send
	 * waits (absorb), or the two would wait on each other until the send
	 * time-out. */
	{
		enum { N = 6, LEN = 200u << 10 };
		struct hrpc_call calls[N];
		struct hrpc_bulk bulks[N];
		struct hrpc_echo_sum sums[N];
		uint64_t t0 = hrpc_now_ns();

		async_ok = async_done = 0;
		ok = 1;
		for (int i = 0; i < N; i++) {
			ok &= hrpc_client_bulk_alloc(p.cli, 2 * LEN, &bulks[i]) == 0;
			if (!ok)
				break;
			for (uint32_t k = 0; k < LEN; k++)
				((uint8_t *)bulks[i].ptr)[k] = (uint8_t)(k * 7 + i);
			calls[i] = (struct hrpc_call){ .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
				.rep = &sums[i], .rep_cap = sizeof(sums[i]), .bulk = &bulks[i],
				.bulk_len = LEN, .timeout_ms = -1 };
			ok &= hrpc_client_call_async(p.cli, &calls[i], bulk_done, NULL) == 0;
		}
		while (ok && async_done < N && hrpc_now_ns() - t0 < 20000000000ull)
			if (hrpc_client_process(p.cli, 1000) < 0)
				break;
		tap_ok(ok && async_ok == N, "%d bulk calls of 200 KiB in flight, replies crossing them: "
		       "all intact, no deadlock (%d/%d in %.1f s)", N, async_ok, N,
		       (double)(hrpc_now_ns() - t0) / 1e9);
		for (int i = 0; i < N && ok; i++)
			hrpc_client_bulk_free(p.cli, &bulks[i]);
	}

	/* The server end goes away while a send waits for room: -EPIPE at
	 * once, not after the 30 s send time-out. */
	{
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_SINK,
			.rep = &sum, .rep_cap = sizeof(sum), .bulk = &b, .bulk_len = 512u << 10,
			.timeout_ms = 10000 };
		struct hang h = { .l = RE(hrpc_client_chan(p.cli))->l };
		pthread_t t;
		uint64_t t0;

		__atomic_store_n(&p.stop, true, __ATOMIC_RELEASE);
		pthread_join(p.thread, NULL);  /* nobody reads the server end now */
		h.conn = p.conn;
		p.conn = NULL;
		hrpc_client_bulk_alloc(p.cli, 512u << 10, &b);
		memset(b.ptr, 0x5a, 512u << 10);
		pthread_create(&t, NULL, hang_up_when_full, &h);
		t0 = hrpc_now_ns();
		rc = hrpc_client_call(p.cli, &c);
		pthread_join(t, NULL);
		tap_ok(rc == -EPIPE && hrpc_now_ns() - t0 < 5000000000ull,
		       "peer hangs up while our send waits for room: EPIPE at once (%d, %.2f s)", rc,
		       (double)(hrpc_now_ns() - t0) / 1e9);
		hrpc_client_bulk_free(p.cli, &b);
		hrpc_client_free(p.cli);
		hrpc_server_free(p.srv);
	}

	/* Raw bytes from a hostile peer, below the framing. */
	{
		hrpc_server *srv = hrpc_server_new("raw");
		struct hrpc_msg_hdr h;
		struct ring_end *raw;
		static uint8_t junk[4096];
		size_t left;
		hrpc_conn *c;

		hrpc_server_register_builtins(srv);

		c = raw_conn(srv, &raw);
		hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 0x7fffffff);
		raw_write(raw, &h, sizeof(h));
		raw_write(raw, junk, 900);
		rc = serve_until_error(c);
		pthread_mutex_lock(&raw->l->mu);
		left = raw->l->dir[1].len;
		pthread_mutex_unlock(&raw->l->mu);
		tap_ok(rc == -EPROTO && left + sizeof(h) + READ_CHUNK_MAX >= sizeof(h) + 900,
		       "2 GiB payload length: fenced before its bytes are taken (%d, %zu left)", rc, left);
		hrpc_conn_free(c);
		hrpc_chan_free(&raw->s.base);

		c = raw_conn(srv, &raw);
		hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_SINK, 1, 0);
		h.flags = HRPC_MSG_F_BULK;
		h.bulk_len = h.bulk_cap = 64u << 20;
		raw_write(raw, &h, sizeof(h));
		rc = serve_until_error(c);
		tap_ok(rc == -EPROTO && hrpc_conn_fenced(c), "64 MiB bulk length: fenced (%d)", rc);
		hrpc_conn_free(c);
		hrpc_chan_free(&raw->s.base);

		c = raw_conn(srv, &raw);
		hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 100);
		raw_write(raw, &h, 20);
		hrpc_chan_free(&raw->s.base);  /* half a header, then hang up */
		rc = serve_until_error(c);
		tap_ok(rc == -EPIPE && !hrpc_conn_fenced(c), "truncated frame, then hang-up: EPIPE, "
		       "not fenced (%d)", rc);
		hrpc_conn_free(c);

		for (unsigned int i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 151 + 7);
		c = raw_conn(srv, &raw);
		raw_write(raw, junk, sizeof(junk));
		rc = serve_until_error(c);
		tap_ok(rc == -EPROTO, "random bytes: fenced (%d)", rc);
		hrpc_conn_free(c);
		hrpc_chan_free(&raw->s.base);
		hrpc_server_free(srv);
	}

	/* What the peer sent before it hung up is still read, then EPIPE
	 * (libxenvchan_is_open() == 0 with data left in the ring). */
	{
		hrpc_chan *sch, *cch;
		struct hrpc_msg_hdr h, got;
		const void *bulk;
		int rc1, rc2;

		ring_pair(&sch, &cch, 7);
		hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 9, 5);
		raw_write(RE(cch), &h, sizeof(h));
		raw_write(RE(cch), "hello", 5);
		hrpc_chan_free(cch);
		memset(out, 0, 8);
		do
			rc1 = hrpc_chan_recv(sch, &got, out, &bulk);
		while (rc1 == -EAGAIN);
		rc2 = hrpc_chan_recv(sch, &got, out + 8, &bulk);
		tap_ok(rc1 == 0 && got.call_id == 9 && got.len == 5 && !memcmp(out, "hello", 5) &&
		       rc2 == -EPIPE, "a whole frame, then hang-up: the frame is delivered, then EPIPE "
		       "(%d, %d)", rc1, rc2);
		hrpc_chan_free(sch);
	}
	/* The receive buffer starts small and grows only for a frame that
	 * needs it: a maximal frame (64 KiB payload, 1 MiB bulk) arrives
	 * whole on a channel that carried small frames before. */
	{
		hrpc_chan *sch, *cch;
		struct hrpc_msg_hdr got;
		struct big_send b = { 0 };
		static uint8_t pay[HRPC_MSG_MAX_PAYLOAD], blk[HRPC_VPORT_MAX_BULK], in[HRPC_MSG_MAX_PAYLOAD];
		const void *bulk = NULL;
		size_t cap0, cap1, cap2;
		pthread_t t;
		int rc1 = -1, rc2 = -1;

		ring_pair(&sch, &cch, 11);
		cap0 = ((struct hrpc_stream *)sch)->rcap;
		b.ch = cch;
		hrpc_msg_init(&b.h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 5);
		b.payload = "small";
		pthread_create(&t, NULL, big_send_main, &b);
		do
			rc1 = hrpc_chan_recv(sch, &got, in, &bulk);
		while (rc1 == -EAGAIN);
		pthread_join(t, NULL);
		cap1 = ((struct hrpc_stream *)sch)->rcap;
		for (size_t i = 0; i < sizeof(pay); i++)
			pay[i] = (uint8_t)(i * 7);
		for (size_t i = 0; i < sizeof(blk); i++)
			blk[i] = (uint8_t)(i * 13 + 1);
		hrpc_msg_init(&b.h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_BULK, 2, sizeof(pay));
		b.h.flags |= HRPC_MSG_F_BULK;
		b.h.bulk_len = b.h.bulk_cap = sizeof(blk);
		b.payload = pay;
		b.bulk = blk;
		pthread_create(&t, NULL, big_send_main, &b);
		do
			rc2 = hrpc_chan_recv(sch, &got, in, &bulk);
		while (rc2 == -EAGAIN);
		pthread_join(t, NULL);
		cap2 = ((struct hrpc_stream *)sch)->rcap;
		tap_ok(rc1 == 0 && cap0 <= 16384 && cap1 == cap0 && rc2 == 0 && b.rc == 0 &&
		       got.call_id == 2 && got.len == sizeof(pay) && got.bulk_len == sizeof(blk) &&
		       bulk && !memcmp(in, pay, sizeof(pay)) && !memcmp(bulk, blk, sizeof(blk)) &&
		       cap2 >= sizeof(got) + sizeof(pay) + sizeof(blk),
		       "receive buffer: %zu B fresh, %zu B after a small frame, %zu B after a maximal "
		       "frame (64 KiB + 1 MiB bulk), delivered intact (%d, %d)", cap0, cap1, cap2, rc1, rc2);
		hrpc_chan_free(cch);
		hrpc_chan_free(sch);
	}
	return tap_done();
}
