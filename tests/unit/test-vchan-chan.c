/* SPDX-License-Identifier: MIT */
/*
 * test-vchan-chan - libhostrpc's vchan transport (hostrpc/chan-vchan.c) on
 * an in-process libxenvchan (vchan-mock.c), as guestrpcd and the host's
 * Guest RPC session use it: a server loop that polls wait_fd and never
 * acks, a reader thread beside calls that send.  Proves argument checks,
 * echo integrity over small rings, that no wake-up is lost when a send
 * waiting for room takes the event that meant "data for you", that an idle
 * channel does not keep wait_fd readable (no busy loop), that the hang-up
 * fd ends a blocked wait at once, and that hang-ups and fences reach the
 * other end.  The real Xen run is tests/vm/xen/.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "hostrpc/echo.h"
#include "hostrpc/hostrpc.h"
#include "tests/tap.h"
#include "tests/unit/vchan-mock.h"

#define PATH "/local/domain/5/data/hostrpc-guestrpc/0"

/* ---- a server loop as guestrpcd's: poll wait_fd, process, no ack ---------------- */

struct srv {
	hrpc_server *srv;
	hrpc_conn *conn;
	pthread_t thread;
	int stop_fd;
	unsigned long wakeups;   /* atomic: the test reads it while serve() runs */
	int rc;
};

static void *serve(void *arg)
{
	struct srv *s = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = hrpc_conn_wait_fd(s->conn), .events = POLLIN },
			{ .fd = s->stop_fd, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			return NULL;
		__atomic_add_fetch(&s->wakeups, 1, __ATOMIC_RELAXED);
		s->rc = hrpc_conn_process(s->conn);
		if (s->rc < 0)
			return NULL;
	}
}

static int srv_start(struct srv *s, const char *path)
{
	hrpc_chan *ch;
	int rc;

	memset(s, 0, sizeof(*s));
	s->srv = hrpc_server_new("vchan-test");
	hrpc_server_register_builtins(s->srv);
	rc = hrpc_vchan_server_new(0, path, 0, &ch);
	if (rc < 0)
		return rc;
	rc = hrpc_conn_new(s->srv, ch, 3, &s->conn);
	if (rc < 0)
		return rc;
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	return -pthread_create(&s->thread, NULL, serve, s);
}

static void srv_stop(struct srv *s)
{
	(void)eventfd_write(s->stop_fd, 1);
	pthread_join(s->thread, NULL);
}

static void srv_free(struct srv *s)
{
	hrpc_conn_free(s->conn);
	hrpc_server_free(s->srv);
	close(s->stop_fd);
}

/* ---- a client with a reader thread, as guestrpc/session.c ---------------------- */

struct cli {
	hrpc_client *c;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t reader;
	int stop_fd;
	int done, good;
};

static void *reader(void *arg)
{
	struct cli *c = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = hrpc_client_wait_fd(c->c), .events = POLLIN },
			{ .fd = c->stop_fd, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			return NULL;
		pthread_mutex_lock(&c->mu);
		if (hrpc_client_process(c->c, 0) < 0) {
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->mu);
			return NULL;
		}
		pthread_mutex_unlock(&c->mu);
	}
}

static void bulk_done(hrpc_client *hc, struct hrpc_call *call, void *opaque)
{
	struct cli *c = opaque;
	const struct hrpc_echo_sum *sum = call->rep;

	c->done++;
	if (call->status == 0 && call->rep_bulk_len == call->bulk_len &&
	    sum->sum == hrpc_echo_sum(call->bulk->ptr, call->bulk_len) &&
	    !memcmp(call->bulk->ptr, (uint8_t *)call->bulk->ptr + call->rep_bulk_pos, call->bulk_len))
		c->good++;
	pthread_cond_broadcast(&c->cond);
}

struct hang {
	int fd;
};

static void *hang_up_soon(void *arg)
{
	struct hang *h = arg;

	/* Whether before or during the wait, the hang-up must end it. */
	usleep(100000);
	(void)eventfd_write(h->fd, 1);
	return NULL;
}

int main(void)
{
	static uint8_t in[HRPC_MSG_MAX_PAYLOAD], out[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_echo_sum sum;
	struct hrpc_bulk b;
	struct srv s;
	struct cli c = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	hrpc_chan *ch;
	int ok, rc, sv[2];

	tap_plan(15);

	tap_ok(hrpc_vchan_server_new(0, "/local/domain/32751/data/hostrpc-guestrpc/0/much-too-long",
				     0, &ch) == -ENAMETOOLONG &&
	       hrpc_vchan_server_new(0x7ff0, PATH, 0, &ch) == -EINVAL &&
	       hrpc_vchan_server_new(0, PATH, (1u << 20) + 1, &ch) == -EINVAL &&
	       hrpc_vchan_client_new(5, "", &ch) == -EINVAL,
	       "xs_path longer than libxenvchan's buffers, reserved domain ids, rings over 1 MiB: refused");
	tap_ok(hrpc_vchan_client_new(5, PATH, &ch) < 0, "client of a path nobody published: an error");
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	hrpc_vport_chan_new(HRPC_ROLE_CLIENT, sv[0], &ch);
	tap_ok(hrpc_vchan_set_hangup_fd(ch, sv[1]) == -EINVAL, "hang-up fd on a vport channel: EINVAL");
	hrpc_chan_free(ch);
	close(sv[1]);

	/* ---- a served vchan ---- */
	rc = srv_start(&s, PATH);
	if (rc == 0)
		rc = hrpc_vchan_client_new(5, PATH, &ch);
	if (rc == 0)
		rc = hrpc_client_new(ch, "vchan-test", 5000, &c.c);
	tap_ok(rc == 0 && hrpc_client_guest_id(c.c) == 3, "HELLO over the vchan (%d)", rc);
	if (rc)
		return tap_done();

	ok = 1;
	for (uint32_t len = 0; len <= HRPC_MSG_MAX_PAYLOAD; len = len ? len * 4 : 1) {
		struct hrpc_call call = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = in, .req_len = len, .rep = out, .rep_cap = sizeof(out), .timeout_ms = 5000 };

		for (uint32_t i = 0; i < len; i++)
			in[i] = (uint8_t)(i ^ len);
		ok &= hrpc_client_call(c.c, &call) == 0 && call.rep_len == len && !memcmp(in, out, len);
		if (len == HRPC_MSG_MAX_PAYLOAD / 4) {
			call.req_len = len = HRPC_MSG_MAX_PAYLOAD;
			ok &= hrpc_client_call(c.c, &call) == 0 && call.rep_len == len &&
			      !memcmp(in, out, len);
			break;
		}
	}
	tap_ok(ok, "inline echo 0 B .. 64 KiB intact");

	ok = 1;
	for (uint32_t len = 1; len <= 512u << 10; len *= 8) {
		struct hrpc_call call = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
			.rep = &sum, .rep_cap = sizeof(sum), .bulk = &b, .bulk_len = len, .timeout_ms = 10000 };

		if (hrpc_client_bulk_alloc(c.c, 2 * len, &b) < 0) {
			ok = 0;
			break;
		}
		for (uint32_t i = 0; i < len; i++)
			((uint8_t *)b.ptr)[i] = (uint8_t)(i * 13 + len);
		ok &= hrpc_client_call(c.c, &call) == 0 && call.rep_bulk_len == len &&
		      sum.sum == hrpc_echo_sum(b.ptr, len) &&
		      !memcmp(b.ptr, (uint8_t *)b.ptr + call.rep_bulk_pos, len);
		hrpc_client_bulk_free(c.c, &b);
		if (len * 8 > 512u << 10 && len != 512u << 10)
			len = (512u << 10) / 8;
	}
	tap_ok(ok, "bulk echo 1 B .. 512 KiB intact");

	/* Calls sent under the lock while a reader thread polls wait_fd: the
	 * sends wait for room and take events meant for the reader. */
	{
		enum { N = 8, LEN = 256u << 10 };
		static struct hrpc_call calls[N];
		static struct hrpc_bulk bulks[N];
		static struct hrpc_echo_sum sums[N];
		struct timespec dl;

		c.stop_fd = eventfd(0, EFD_CLOEXEC);
		pthread_create(&c.reader, NULL, reader, &c);
		ok = 1;
		for (int i = 0; i < N; i++) {
			pthread_mutex_lock(&c.mu);
			ok &= hrpc_client_bulk_alloc(c.c, 2 * LEN, &bulks[i]) == 0;
			for (uint32_t k = 0; ok && k < LEN; k++)
				((uint8_t *)bulks[i].ptr)[k] = (uint8_t)(k * 3 + i);
			calls[i] = (struct hrpc_call){ .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
				.rep = &sums[i], .rep_cap = sizeof(sums[i]), .bulk = &bulks[i],
				.bulk_len = LEN, .timeout_ms = -1 };
			ok &= ok && hrpc_client_call_async(c.c, &calls[i], bulk_done, &c) == 0;
			/* As the session does: the send may have read replies. */
			hrpc_client_process(c.c, 0);
			pthread_mutex_unlock(&c.mu);
		}
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 20;
		pthread_mutex_lock(&c.mu);
		while (ok && c.done < N)
			if (pthread_cond_timedwait(&c.cond, &c.mu, &dl) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&c.mu);
		tap_ok(ok && c.good == N, "%d bulk calls of 256 KiB sent beside a reader thread: "
		       "all answered intact, no wake-up lost (%d/%d)", N, c.good, N);
		(void)eventfd_write(c.stop_fd, 1);
		pthread_join(c.reader, NULL);
		close(c.stop_fd);
		for (int i = 0; ok && i < N; i++)
			hrpc_client_bulk_free(c.c, &bulks[i]);
	}

	/* Idle: the server's wait_fd goes quiet (events are taken in recv),
	 * so a poll loop that never acks does not spin. */
	{
		unsigned long w0 = __atomic_load_n(&s.wakeups, __ATOMIC_RELAXED), w;
		unsigned long e0 = vchan_mock_events();
		struct pollfd p = { .fd = hrpc_client_wait_fd(c.c), .events = POLLIN };
		int cr;

		hrpc_client_process(c.c, 0);
		cr = poll(&p, 1, 0);
		usleep(300000);
		w = __atomic_load_n(&s.wakeups, __ATOMIC_RELAXED) - w0;
		tap_ok(w <= 2 && vchan_mock_events() == e0 && cr == 0,
		       "idle for 300 ms: %lu server wake-ups, client wait_fd %s",
		       w, cr ? "readable" : "quiet");
	}

	/* The client goes: the server sees the end of the stream, and its
	 * vchan is unpublished once freed. */
	hrpc_client_free(c.c);
	pthread_join(s.thread, NULL);
	tap_ok(s.rc == -EPIPE && !hrpc_conn_fenced(s.conn),
	       "client hung up: the server's conn ends with EPIPE, not fenced (%d)", s.rc);
	tap_ok(vchan_mock_published(PATH), "the vchan stays published until the server frees it");
	srv_free(&s);
	tap_ok(!vchan_mock_published(PATH), "freeing the server channel unpublishes it");

	/* The hang-up fd ends a wait for an answer that never comes. */
	{
		struct hang h = { .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
		hrpc_chan *sch;
		hrpc_client *cl = NULL;
		pthread_t t;
		uint64_t t0 = hrpc_now_ns();

		hrpc_vchan_server_new(0, PATH, 0, &sch);   /* nobody serves it */
		hrpc_vchan_client_new(5, PATH, &ch);
		rc = hrpc_vchan_set_hangup_fd(ch, h.fd);
		pthread_create(&t, NULL, hang_up_soon, &h);
		if (rc == 0)
			rc = hrpc_client_new(ch, "vchan-test", -1, &cl);
		pthread_join(t, NULL);
		tap_ok(rc == -EPIPE && hrpc_now_ns() - t0 < 5000000000ull,
		       "HELLO waiting forever ends with EPIPE when another thread hangs up (%d)", rc);
		hrpc_client_free(cl);
		close(h.fd);
		hrpc_chan_free(sch);
	}

	/* The server goes while the client waits for its answer. */
	{
		struct hrpc_call call = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = in, .req_len = 8, .rep = out, .rep_cap = sizeof(out), .timeout_ms = 10000 };

		srv_start(&s, PATH);
		hrpc_vchan_client_new(5, PATH, &ch);
		rc = hrpc_client_new(ch, "vchan-test", 5000, &c.c);
		srv_stop(&s);
		srv_free(&s);
		if (rc == 0)
			rc = hrpc_client_call(c.c, &call);
		tap_ok(rc == -EPIPE, "server gone: the client's call fails with EPIPE at once (%d)", rc);
		hrpc_client_free(c.c);
	}

	/* A peer that breaks the framing is fenced, and sees it: the vchan
	 * is closed at once, not when the conn is freed. */
	{
		struct libxenvchan *raw;
		uint8_t junk[2048];

		srv_start(&s, PATH);
		raw = libxenvchan_client_init(NULL, 5, PATH);
		raw->blocking = 0;
		for (unsigned int i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 151 + 7);
		for (size_t off = 0; off < sizeof(junk);)
			off += (size_t)libxenvchan_write(raw, junk + off, sizeof(junk) - off);
		pthread_join(s.thread, NULL);
		tap_ok(s.rc == -EPROTO && hrpc_conn_fenced(s.conn), "garbage from the peer: fenced (%d)",
		       s.rc);
		tap_ok(libxenvchan_is_open(raw) == 0, "the fenced end closed its vchan: the peer sees it");
		libxenvchan_close(raw);
		srv_free(&s);
	}
	return tap_done();
}
