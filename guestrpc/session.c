/* SPDX-License-Identifier: MIT */
/*
 * session.c - see session.h.
 *
 * Lifetimes: a call's state (struct pending) is referenced by the thread
 * that waits for it and by libhostrpc's client slot until the reply (or
 * the channel's end) completes it; whoever drops the last reference frees
 * it.  So a call that timed out leaves its buffers alive for a reply that
 * may still come, exactly as hostrpc.h asks.  Everything in the session is
 * protected by `lock`; completion callbacks run with it held.  The event
 * queue has its own lock (ev_lock, taken under `lock`), so a thread waiting
 * for events never waits on `lock`.
 *
 * Deadlines.  A call has one absolute deadline, set when it starts, that
 * covers all of it: taking `lock`, the send, the wait for the reply.  A
 * guest cannot extend it by trickling: libhostrpc's send restarts its own
 * time-out whenever the peer takes a byte, and its HELLO loop checks its
 * deadline only between messages, so both run under the watchdog - a
 * thread that shuts the socket down when the deadline armed for them
 * passes, which fails the send (or the read) at once.  A partly sent frame
 * leaves the stream unusable anyway, so this always kills the session.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/hostrpc.h"
#include "guestrpc/session.h"
#include "guestrpc/vchan.h"

#define DEFAULT_TIMEOUT_MS 30000
#define MAX_EV_SERVICES 4

struct pending {
	guestrpc_session *s;
	struct hrpc_call call;
	struct hrpc_bulk bulk;
	uint8_t *rep;
	int refs;
	bool done;
	pthread_cond_t cond;
};

struct evq {
	struct evq *next;
	struct guestrpc_event *ev;
};

struct guestrpc_session {
	pthread_mutex_t lock;
	pthread_mutex_t ev_lock;  /* the event queue: ev_*, below */
	/* Calls wait for their reply on wait_lock, not on `lock`: a thread
	 * whose send blocks (a guest that stopped reading) holds `lock`, and a
	 * waiter's time-out must still fire - it shuts the socket down without
	 * any lock, which fails the blocked send.  Order: lock, then wait_lock. */
	pthread_mutex_t wait_lock;
	/* To hang the channel up from any thread, without `lock` (hang_up):
	 * a dup of a vport channel's socket, or the eventfd a vchan channel
	 * watches (hrpc_vchan_set_hangup_fd).  -1 if not that kind. */
	int wd_fd;
	int hup_fd;
	int lock_fd;             /* flock on the channel (-1: none) */
	hrpc_client *cli;
	pthread_t reader;
	bool reader_started;
	int stop_pipe[2];
	bool dead;
	char error[200];
	int timeout_ms;          /* atomic: read before taking `lock` */
	bool timeout_fatal;      /* atomic */
	uint16_t ev_services[MAX_EV_SERVICES];  /* under `lock` */
	int n_ev_services;
	struct evq *ev_head, **ev_tail;
	size_t ev_bytes;         /* payload bytes queued */
	size_t ev_limit;
	bool ev_dead;            /* `dead`, as the event queue sees it */
	pthread_cond_t ev_cond;
	/* The watchdog (see the top): one deadline armed at a time - sends
	 * run under `lock`, HELLO before anyone else uses the session. */
	pthread_mutex_t wd_lock;
	pthread_cond_t wd_cond;
	pthread_t wd_thread;
	bool wd_started;
	bool wd_stop;
	bool wd_armed;
	bool wd_fired;           /* it shut the socket down */
	struct timespec wd_dl;
	char wd_why[160];        /* what kill_why says if it fires */
	char kill_why[160];      /* why the socket was shut down without `lock` */
};

static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static struct timespec deadline_after(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static bool passed(const struct timespec *dl)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > dl->tv_sec || (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

/*
 * Take `m` before the monotonic deadline `dl`: 0 or ETIMEDOUT.  (timedlock
 * wants CLOCK_REALTIME: convert, and re-check against the monotonic clock so
 * that a jump of the wall clock can only shorten the wait, never extend it.)
 */
static int lock_until(pthread_mutex_t *m, const struct timespec *dl)
{
	for (;;) {
		struct timespec now, rt;
		long long ns;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ns = (long long)(dl->tv_sec - now.tv_sec) * 1000000000LL + (dl->tv_nsec - now.tv_nsec);
		if (ns <= 0)
			return pthread_mutex_trylock(m) == 0 ? 0 : ETIMEDOUT;
		if (ns > 1000000000LL)
			ns = 1000000000LL;  /* re-check once a second */
		clock_gettime(CLOCK_REALTIME, &rt);
		rt.tv_sec += ns / 1000000000LL;
		rt.tv_nsec += ns % 1000000000LL;
		if (rt.tv_nsec >= 1000000000L) {
			rt.tv_sec++;
			rt.tv_nsec -= 1000000000L;
		}
		rc = pthread_mutex_timedlock(m, &rt);
		if (rc != ETIMEDOUT)
			return rc;
	}
}

/*
 * Hang the channel up, from any thread, `lock` held or not: a blocked send
 * fails at once, the reader sees the end of the stream.
 */
static void hang_up(guestrpc_session *s)
{
	if (s->wd_fd >= 0)
		shutdown(s->wd_fd, SHUT_RDWR);
	if (s->hup_fd >= 0)
		(void)eventfd_write(s->hup_fd, 1);
}

/*
 * Shut the channel down without holding `lock` (a time-out, the watchdog):
 * the reader then sees the end of the stream and every call in flight
 * fails.  `why` is what mark_dead reports.
 */
static void kill_unlocked(guestrpc_session *s, const char *why)
{
	pthread_mutex_lock(&s->wd_lock);
	if (!s->kill_why[0])
		snprintf(s->kill_why, sizeof(s->kill_why), "%s", why);
	pthread_mutex_unlock(&s->wd_lock);
	hang_up(s);
}

static void *watchdog_main(void *arg)
{
	guestrpc_session *s = arg;

	pthread_mutex_lock(&s->wd_lock);
	while (!s->wd_stop) {
		if (!s->wd_armed) {
			pthread_cond_wait(&s->wd_cond, &s->wd_lock);
			continue;
		}
		if (!passed(&s->wd_dl)) {
			pthread_cond_timedwait(&s->wd_cond, &s->wd_lock, &s->wd_dl);
			continue;
		}
		s->wd_armed = false;
		s->wd_fired = true;
		if (!s->kill_why[0])
			snprintf(s->kill_why, sizeof(s->kill_why), "%s", s->wd_why);
		hang_up(s);
	}
	pthread_mutex_unlock(&s->wd_lock);
	return NULL;
}

__attribute__((format(printf, 3, 4)))
static void wd_arm(guestrpc_session *s, const struct timespec *dl, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->wd_lock);
	va_start(ap, fmt);
	vsnprintf(s->wd_why, sizeof(s->wd_why), fmt, ap);
	va_end(ap);
	s->wd_dl = *dl;
	s->wd_armed = true;
	pthread_cond_signal(&s->wd_cond);
	pthread_mutex_unlock(&s->wd_lock);
}

/* Returns whether the deadline passed (the socket is shut down then). */
static bool wd_disarm(guestrpc_session *s)
{
	bool fired;

	pthread_mutex_lock(&s->wd_lock);
	s->wd_armed = false;
	fired = s->wd_fired;
	pthread_mutex_unlock(&s->wd_lock);
	return fired;
}

/* Caller holds the lock. */
static void pending_put(guestrpc_session *s, struct pending *p)
{
	if (--p->refs)
		return;
	hrpc_client_bulk_free(s->cli, &p->bulk);
	pthread_cond_destroy(&p->cond);
	free(p->rep);
	free(p);
}

/*
 * Caller holds the lock.  Shutting the socket down makes the reader see the
 * end of the stream, and libhostrpc then completes every call in flight
 * (with -EPIPE): nobody keeps waiting on a guest that will not answer.
 */
static void mark_dead(guestrpc_session *s, const char *why)
{
	if (s->dead)
		return;
	s->dead = true;
	/* If the socket was shut down without the lock, that is the cause;
	 * the end of stream the reader saw after it is only its effect. */
	pthread_mutex_lock(&s->wd_lock);
	snprintf(s->error, sizeof(s->error), "%s", s->kill_why[0] ? s->kill_why : why);
	pthread_mutex_unlock(&s->wd_lock);
	if (s->cli)
		hang_up(s);
	pthread_mutex_lock(&s->ev_lock);
	s->ev_dead = true;
	pthread_cond_broadcast(&s->ev_cond);
	pthread_mutex_unlock(&s->ev_lock);
}

static void call_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	struct pending *p = opaque;

	pthread_mutex_lock(&p->s->wait_lock);
	p->done = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->s->wait_lock);
	/* The slot's reference; the session lock is held by our caller. */
	if (--p->refs == 0) {
		hrpc_client_bulk_free(c, &p->bulk);
		pthread_cond_destroy(&p->cond);
		free(p->rep);
		free(p);
	}
}

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
		     void *opaque)
{
	guestrpc_session *s = opaque;
	struct guestrpc_event *ev;
	struct evq *q;
	bool want = false, over;

	for (int i = 0; i < s->n_ev_services; i++)
		want |= s->ev_services[i] == h->service;
	if (!want || s->dead)
		return;
	/* A guest that ignores flow control must not make us buffer without
	 * end: past the limit the session is dead. */
	pthread_mutex_lock(&s->ev_lock);
	over = s->ev_bytes + h->len > s->ev_limit;
	pthread_mutex_unlock(&s->ev_lock);
	if (over) {
		mark_dead(s, "the guest sent more events than flow control allows");
		return;
	}
	ev = malloc(sizeof(*ev) + h->len);
	q = malloc(sizeof(*q));
	if (!ev || !q) {
		free(ev);
		free(q);
		mark_dead(s, "out of memory queueing a guest event");
		return;
	}
	ev->service = h->service;
	ev->proc = h->proc;
	ev->len = h->len;
	memcpy(ev->payload, payload, h->len);
	q->ev = ev;
	q->next = NULL;
	pthread_mutex_lock(&s->ev_lock);
	*s->ev_tail = q;
	s->ev_tail = &q->next;
	s->ev_bytes += h->len;
	pthread_cond_broadcast(&s->ev_cond);
	pthread_mutex_unlock(&s->ev_lock);
}

/* Caller holds the lock. */
static int process(guestrpc_session *s)
{
	int rc = hrpc_client_process(s->cli, 0);

	if (rc < 0) {
		char why[160];

		snprintf(why, sizeof(why), rc == -EPIPE ? "the guest closed the channel" :
			 rc == -EPROTO ? "the guest broke the protocol (channel fenced)" :
			 "channel error: %s", strerror(-rc));
		mark_dead(s, why);
	}
	return rc;
}

static void *reader_main(void *arg)
{
	guestrpc_session *s = arg;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = hrpc_client_wait_fd(s->cli), .events = POLLIN },
			{ .fd = s->stop_pipe[0], .events = POLLIN },
		};
		bool dead;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		pthread_mutex_lock(&s->lock);
		if (pfd[0].revents)
			process(s);
		/* Once dead the client fails every call itself: stop polling a
		 * socket that stays readable (hung up) forever. */
		dead = s->dead;
		if (dead)
			process(s);
		pthread_mutex_unlock(&s->lock);
		if (dead)
			break;
	}
	return NULL;
}

/*
 * A session over `ch` (a stream channel), which it takes, with `wd_fd` and
 * `hup_fd` (see the struct; closed by the session, also on failure).
 */
static int session_new(hrpc_chan *ch, int wd_fd, int hup_fd, int hello_ms,
		       guestrpc_session **out)
{
	guestrpc_session *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (!s) {
		hrpc_chan_free(ch);
		if (wd_fd >= 0)
			close(wd_fd);
		if (hup_fd >= 0)
			close(hup_fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wait_lock, NULL);
	pthread_mutex_init(&s->ev_lock, NULL);
	pthread_mutex_init(&s->wd_lock, NULL);
	cond_init(&s->wd_cond);
	cond_init(&s->ev_cond);
	s->ev_tail = &s->ev_head;
	s->timeout_ms = DEFAULT_TIMEOUT_MS;
	s->timeout_fatal = true;
	s->ev_limit = 256u << 20;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->lock_fd = -1;
	s->wd_fd = wd_fd;
	s->hup_fd = hup_fd;
	rc = -pthread_create(&s->wd_thread, NULL, watchdog_main, s);
	if (rc < 0) {
		hrpc_chan_free(ch);
		goto err;
	}
	s->wd_started = true;
	/* HELLO as a whole within hello_ms, however the guest trickles it. */
	if (hello_ms > 0) {
		struct timespec dl = deadline_after(hello_ms);

		wd_arm(s, &dl, "the guest did not finish HELLO within %d ms", hello_ms);
	}
	rc = hrpc_client_new(ch, "hostrpc-guestsource", hello_ms, &s->cli);
	if (wd_disarm(s)) {
		if (rc >= 0)
			hrpc_client_free(s->cli);
		rc = -ETIMEDOUT;
	}
	if (rc < 0) {
		s->cli = NULL;
		goto err;
	}
	hrpc_client_set_event_handler(s->cli, on_event, s);
	if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto err;
	}
	rc = -pthread_create(&s->reader, NULL, reader_main, s);
	if (rc < 0)
		goto err;
	s->reader_started = true;
	*out = s;
	return 0;
err:
	guestrpc_session_free(s);
	return rc;
}

int guestrpc_session_new_fd(int fd, int hello_ms, guestrpc_session **out)
{
	hrpc_chan *ch;
	int wd_fd, rc;

	rc = hrpc_vport_chan_new(HRPC_ROLE_CLIENT, fd, &ch);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	wd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (wd_fd < 0) {
		rc = -errno;
		hrpc_chan_free(ch);
		return rc;
	}
	return session_new(ch, wd_fd, -1, hello_ms, out);
}

void guestrpc_session_free(guestrpc_session *s)
{
	struct evq *q;

	if (!s)
		return;
	if (s->reader_started) {
		/* If this fails the reader still stops on the dead channel.  The
		 * shutdown ends a reader busy with a guest that floods us. */
		(void)!write(s->stop_pipe[1], "x", 1);
		hang_up(s);
		pthread_join(s->reader, NULL);
	}
	if (s->wd_started) {
		pthread_mutex_lock(&s->wd_lock);
		s->wd_stop = true;
		pthread_cond_signal(&s->wd_cond);
		pthread_mutex_unlock(&s->wd_lock);
		pthread_join(s->wd_thread, NULL);
	}
	if (s->wd_fd >= 0)
		close(s->wd_fd);
	pthread_mutex_lock(&s->lock);
	/* Completes (and frees) every call still in flight. */
	hrpc_client_free(s->cli);
	s->cli = NULL;
	pthread_mutex_unlock(&s->lock);
	/* After the channel, which watches it. */
	if (s->hup_fd >= 0)
		close(s->hup_fd);
	while ((q = s->ev_head)) {
		s->ev_head = q->next;
		free(q->ev);
		free(q);
	}
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->stop_pipe[0] >= 0)
		close(s->stop_pipe[0]);
	if (s->stop_pipe[1] >= 0)
		close(s->stop_pipe[1]);
	pthread_cond_destroy(&s->ev_cond);
	pthread_cond_destroy(&s->wd_cond);
	pthread_mutex_destroy(&s->wd_lock);
	pthread_mutex_destroy(&s->ev_lock);
	pthread_mutex_destroy(&s->wait_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void guestrpc_session_set_timeout(guestrpc_session *s, int timeout_ms, bool fatal)
{
	__atomic_store_n(&s->timeout_ms, timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->timeout_fatal, fatal, __ATOMIC_RELAXED);
}

void guestrpc_session_set_event_limit(guestrpc_session *s, size_t bytes)
{
	pthread_mutex_lock(&s->ev_lock);
	s->ev_limit = bytes;
	pthread_mutex_unlock(&s->ev_lock);
}

void guestrpc_session_want_events(guestrpc_session *s, uint16_t service)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_ev_services < MAX_EV_SERVICES)
		s->ev_services[s->n_ev_services++] = service;
	pthread_mutex_unlock(&s->lock);
}

bool guestrpc_session_dead(guestrpc_session *s)
{
	bool d;

	/* Not under `lock`: a caller must not wait on a busy channel for this. */
	pthread_mutex_lock(&s->ev_lock);
	d = s->ev_dead;
	pthread_mutex_unlock(&s->ev_lock);
	return d;
}

const char *guestrpc_session_error(guestrpc_session *s)
{
	return s->error;
}

int guestrpc_session_call(guestrpc_session *s, struct guestrpc_call *c)
{
	uint32_t cap = c->bulk_out_len > c->bulk_in_cap ? c->bulk_out_len : c->bulk_in_cap;
	int timeout = c->timeout_ms > 0 ? c->timeout_ms : __atomic_load_n(&s->timeout_ms, __ATOMIC_RELAXED);
	bool fatal = __atomic_load_n(&s->timeout_fatal, __ATOMIC_RELAXED);
	struct timespec dl = deadline_after(timeout);
	struct pending *p;
	int rc;

	c->rep_len = c->bulk_in_len = 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->rep = c->rep_cap ? malloc(c->rep_cap) : NULL;
	if (c->rep_cap && !p->rep) {
		free(p);
		return -ENOMEM;
	}
	cond_init(&p->cond);
	p->s = s;
	p->refs = 1;
	/* `lock` is held by a send (bounded by the watchdog) or by the reader
	 * (bounded by the socket's buffer once it is shut down): wait for it
	 * no longer than for the reply. */
	if (lock_until(&s->lock, &dl) != 0) {
		char why[160];

		snprintf(why, sizeof(why), "the channel stayed busy for %d ms", timeout);
		if (fatal)
			kill_unlocked(s, why);
		pthread_mutex_lock(&s->lock);
		rc = -ETIMEDOUT;
		if (fatal)
			mark_dead(s, why);
		goto out;
	}
	if (s->dead) {
		rc = -ENOTCONN;
		goto out;
	}
	if (cap) {
		rc = hrpc_client_bulk_alloc(s->cli, cap, &p->bulk);
		if (rc < 0)
			goto out;
		if (c->bulk_out_len)
			memcpy(p->bulk.ptr, c->bulk_out, c->bulk_out_len);
	}
	p->call = (struct hrpc_call){
		.service = c->service, .proc = c->proc,
		.req = c->req, .req_len = c->req_len,
		.rep = p->rep, .rep_cap = c->rep_cap,
		.bulk = cap ? &p->bulk : NULL, .bulk_len = c->bulk_out_len,
		.timeout_ms = -1,
	};
	p->refs = 2;
	wd_arm(s, &dl, "the guest did not take a request within %d ms", timeout);
	rc = hrpc_client_call_async(s->cli, &p->call, call_done, p);
	if (wd_disarm(s)) {
		char why[160];

		snprintf(why, sizeof(why), "the guest did not take a request within %d ms", timeout);
		mark_dead(s, why);
		if (rc >= 0) {
			/* Sent in the nick of time; the reply cannot come now. */
			rc = -ETIMEDOUT;
			process(s);
			goto out;
		}
		p->refs = 1;
		rc = -ETIMEDOUT;
		goto out;
	}
	if (rc < 0) {
		p->refs = 1;
		if (rc != -EBUSY && rc != -EMSGSIZE && rc != -EINVAL) {
			mark_dead(s, "cannot send to the guest");
			/* As for a call the channel's end failed after its send:
			 * a dead session answers ENOTCONN, whichever of the
			 * reader (end of stream) and this send saw it first. */
			rc = -ENOTCONN;
		}
		goto out;
	}
	/* The send may have read replies off the stream while it waited. */
	process(s);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->wait_lock);
	while (!p->done && rc != -ETIMEDOUT)
		if (pthread_cond_timedwait(&p->cond, &s->wait_lock, &dl) == ETIMEDOUT && !p->done)
			rc = -ETIMEDOUT;
	pthread_mutex_unlock(&s->wait_lock);
	if (rc == -ETIMEDOUT && fatal) {
		char why[160];

		/* Unblocks a send stuck under `lock`, at once. */
		snprintf(why, sizeof(why), "the guest did not answer within %d ms", timeout);
		kill_unlocked(s, why);
	}
	pthread_mutex_lock(&s->lock);
	if (rc == -ETIMEDOUT) {
		if (fatal) {
			char why[160];

			snprintf(why, sizeof(why), "the guest did not answer within %d ms", timeout);
			mark_dead(s, why);
		}
		goto out;
	}
	rc = p->call.status;
	if (s->dead && (rc == -EPIPE || rc == -ECONNABORTED || rc == -EPROTO || rc == -ECONNRESET))
		rc = -ENOTCONN;
	if (rc < 0 && rc != -EMSGSIZE)
		goto out;
	c->rep_len = p->call.rep_len;
	if (c->rep_len)
		memcpy(c->rep, p->rep, c->rep_len);
	if (p->call.rep_bulk_len) {
		if (p->call.rep_bulk_len > c->bulk_in_cap) {
			rc = -EPROTO;
			goto out;
		}
		memcpy(c->bulk_in, (uint8_t *)p->bulk.ptr + p->call.rep_bulk_pos, p->call.rep_bulk_len);
		c->bulk_in_len = p->call.rep_bulk_len;
	}
out:
	pending_put(s, p);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int guestrpc_session_send(guestrpc_session *s, const struct guestrpc_call *c)
{
	struct timespec dl;
	struct pending *p;
	int timeout, rc;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	cond_init(&p->cond);
	p->s = s;
	p->refs = 1;  /* the client slot's only: call_done frees it */
	timeout = c->timeout_ms > 0 ? c->timeout_ms : __atomic_load_n(&s->timeout_ms, __ATOMIC_RELAXED);
	/* Nobody waits for the answer, but taking the lock and the send itself
	 * are bounded as a call's are. */
	dl = deadline_after(timeout);
	if (lock_until(&s->lock, &dl) != 0) {
		kill_unlocked(s, "the channel stayed busy past a send's deadline");
		pthread_mutex_lock(&s->lock);
		mark_dead(s, "the channel stayed busy past a send's deadline");
		rc = -ETIMEDOUT;
		goto err;
	}
	if (s->dead) {
		rc = -ENOTCONN;
		goto err;
	}
	if (c->bulk_out_len) {
		rc = hrpc_client_bulk_alloc(s->cli, c->bulk_out_len, &p->bulk);
		if (rc < 0)
			goto err;
		memcpy(p->bulk.ptr, c->bulk_out, c->bulk_out_len);
	}
	p->call = (struct hrpc_call){
		.service = c->service, .proc = c->proc,
		.req = c->req, .req_len = c->req_len,
		.bulk = c->bulk_out_len ? &p->bulk : NULL, .bulk_len = c->bulk_out_len,
		.timeout_ms = -1,
	};
	wd_arm(s, &dl, "the guest did not take a request within %d ms", timeout);
	rc = hrpc_client_call_async(s->cli, &p->call, call_done, p);
	if (wd_disarm(s)) {
		mark_dead(s, "the guest did not take a request in time");
		if (rc >= 0) {
			process(s);
			pthread_mutex_unlock(&s->lock);
			return -ETIMEDOUT;
		}
		rc = -ETIMEDOUT;
		goto err;
	}
	if (rc < 0) {
		if (rc != -EBUSY && rc != -EMSGSIZE && rc != -EINVAL) {
			mark_dead(s, "cannot send to the guest");
			rc = -ENOTCONN;  /* as in guestrpc_session_call() */
		}
		goto err;
	}
	process(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
err:
	pending_put(s, p);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int guestrpc_session_next_event(guestrpc_session *s, int timeout_ms, struct guestrpc_event **ev)
{
	struct timespec dl = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
	struct evq *q;
	int rc = 0;

	pthread_mutex_lock(&s->ev_lock);
	while (!s->ev_head && !s->ev_dead) {
		rc = timeout_ms < 0 ? pthread_cond_wait(&s->ev_cond, &s->ev_lock)
				    : pthread_cond_timedwait(&s->ev_cond, &s->ev_lock, &dl);
		if (rc == ETIMEDOUT)
			break;
	}
	if ((q = s->ev_head)) {
		s->ev_head = q->next;
		if (!s->ev_head)
			s->ev_tail = &s->ev_head;
		*ev = q->ev;
		s->ev_bytes -= q->ev->len;
		free(q);
		rc = 0;
	} else {
		rc = s->ev_dead ? -ENOTCONN : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&s->ev_lock);
	return rc;
}

/* ---- opening ------------------------------------------------------------------- */

/*
 * A QEMU chardev serves one connection at a time and leaves a second one
 * unanswered: the host tools mark the domain channel they hold with a lock file
 * so that the next tool skips it at once instead of waiting for HELLO.
 * (A holder that does not lock is still detected by the HELLO timeout.)
 *
 * The lock lives only in a directory that no one else can write (root's
 * /run/hostrpc, or the caller's own XDG_RUNTIME_DIR), never in /tmp: there
 * another user could plant the predictable name as a symlink (a file created
 * where it points) or hold the lock to keep the tools off a channel.
 * O_NOFOLLOW refuses a symlink even there.
 */
static bool lock_dir_private(const char *dir)
{
	struct stat st;

	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       (st.st_uid == 0 || st.st_uid == geteuid()) &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

static int channel_lock(const char *path)
{
	const char *dirs[] = { "/run/hostrpc", getenv("XDG_RUNTIME_DIR") };
	uint64_t h = 0xcbf29ce484222325ull;
	char lp[512];
	int fd;

	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || dirs[i][0] != '/')
			continue;
		if (i == 0 && geteuid() == 0)
			mkdir(dirs[i], 0755);
		if (!lock_dir_private(dirs[i]))
			continue;
		snprintf(lp, sizeof(lp), "%s/guestrpc-channel-%016llx.lock", dirs[i],
			 (unsigned long long)h);
		fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return -EBUSY;
		}
		return fd;
	}
	return -1;  /* nowhere private to lock: rely on the HELLO timeout */
}

/*
 * The callers try a channel whose HELLO timed out once more, on a fresh
 * connection, because our hang-up is what unsticks a port QEMU left stuck
 * after a live migration: if the source's host tool had not read all the
 * guest wrote (the port throttled, part of a buffer sent) when the device
 * state was saved, the destination QEMU restores the port throttled with
 * no host to unthrottle it, and a host that connects there gets nothing
 * the guest writes - its HELLO answer included.  When that host hangs up,
 * QEMU discards the stale output and resets the throttle
 * (virtio_serial_close), and the next host is served.  A channel that is
 * merely busy or an agent that is not running costs a second time-out.
 * Before that second try, wait a little: the guest should see the hang-up
 * (the port's "host closed") before the next "host open", or its agent may
 * take the next host for the one that left (guestrpc/agent-main.c,
 * port_keep_fd).
 */
#define RETRY_PAUSE_MS 300

static void retry_pause(void)
{
	struct timespec ts = { 0, RETRY_PAUSE_MS * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int connect_path(const char *path, int hello_ms, bool use_lock, guestrpc_session **out)
{
	hrpc_chan *ch;
	int fd, lock = -1, rc;

	if (use_lock)
		lock = channel_lock(path);
	if (lock == -EBUSY)
		return -EBUSY;
	rc = hrpc_vport_connect(path, &ch);
	if (rc < 0)
		goto err;
	/* Hand the fd over to a session (the chan only wrapped it). */
	fd = dup(hrpc_chan_wait_fd(ch));
	hrpc_chan_free(ch);
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
	rc = guestrpc_session_new_fd(fd, hello_ms, out);
	if (rc < 0)
		goto err;
	(*out)->lock_fd = lock;
	return 0;
err:
	if (lock >= 0)
		close(lock);
	return rc;
}

static char *strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/*
 * Xen: channel `path` (a xenstore directory, vchan.h) of domain `domid`,
 * locked as a domain's channel sockets are.  *setup says whether the
 * vchan itself could be mapped (then a failure is the HELLO's).
 */
static int connect_vchan(uint32_t domid, const char *path, int hello_ms, bool *setup,
			 guestrpc_session **out)
{
#ifdef HAVE_XEN
	char key[128];
	hrpc_chan *ch;
	int lock, hup, rc;

	*setup = false;
	snprintf(key, sizeof(key), GUESTRPC_XEN_PREFIX "%u:%s", domid, path);
	lock = channel_lock(key);
	if (lock == -EBUSY)
		return -EBUSY;
	rc = hrpc_vchan_client_new(domid, path, &ch);
	if (rc < 0)
		goto err;
	*setup = true;
	hup = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hup < 0) {
		rc = -errno;
		hrpc_chan_free(ch);
		goto err;
	}
	rc = hrpc_vchan_set_hangup_fd(ch, hup);
	if (rc < 0) {
		hrpc_chan_free(ch);
		close(hup);
		goto err;
	}
	rc = session_new(ch, -1, hup, hello_ms, out);
	if (rc < 0)
		goto err;
	(*out)->lock_fd = lock;
	return 0;
err:
	if (lock >= 0)
		close(lock);
	return rc;
#else
	*setup = false;
	return -ENOTSUP;
#endif
}

/*
 * DOMAIN "xen:NAME" / "xen:ID": the channels the domain's agent publishes,
 * in order, as for a libvirt domain's.  A channel whose agent is making it
 * anew - its last host just left - is briefly absent, or closes under a
 * host that mapped the old one before the agent removed it from xenstore
 * (libxenvchan has no way to refuse a second client): such failures get
 * another look, twice.
 */
#define XEN_PASSES 3

static int open_xen(const char *target, int hello_ms, guestrpc_session **out, char **err)
{
	const char *spec = target + strlen(GUESTRPC_XEN_PREFIX);
	int n = 0, rc, nbusy = 0, nsetup_fail = 0;
	int setup_rc = 0;
	uint32_t domid;

	rc = guestrpc_xen_resolve(spec, &domid, err);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (int pass = 0; pass < XEN_PASSES; pass++) {
		bool again = false;
		char **paths = NULL;

		if (pass)
			retry_pause();
		n = guestrpc_xen_channels(domid, &paths, err);
		if (n < 0)
			return n;
		nbusy = nsetup_fail = 0;
		again = n == 0;
		rc = -ENOENT;
		for (int i = 0; i < n; i++) {
			bool setup;

			/* A busy channel that is not locked never answers: do not
			 * wait long for it while another channel is left to try. */
			rc = connect_vchan(domid, paths[i],
					   i + 1 < n && hello_ms > 3000 ? 3000 : hello_ms, &setup, out);
			if (rc == 0)
				break;
			if (rc == -EBUSY)
				nbusy++;
			else if (!setup) {
				nsetup_fail++;
				setup_rc = rc;
			}
			/* -EPROTO too: a host that mapped a vchan its agent was
			 * tearing down may read what the last host left unread. */
			again |= rc == -EPIPE || rc == -ECONNRESET || rc == -ECONNABORTED ||
				 rc == -EPROTO || (!setup && rc != -EBUSY);
		}
		for (int i = 0; i < n; i++)
			free(paths[i]);
		free(paths);
		if (rc == 0 || !again)
			break;
	}
	if (rc == 0)
		return 0;
	if (!err)
		return rc;
	free(*err);
	if (n == 0)
		*err = strdupf("%s: domain %u publishes no Guest RPC channel (xenstore "
			       "/local/domain/%u/" GUESTRPC_VCHAN_DIR "/N): is guestrpcd --vchan "
			       "running in it?", target, domid, domid);
	else if (nbusy == n)
		*err = strdupf("%s: all %d Guest RPC channel(s) of domain %u are in use by other "
			       "hostrpc tools", target, n, domid);
	else if (nsetup_fail + nbusy == n)
		*err = strdupf("%s: cannot map the Guest RPC vchan of domain %u: %s (its guestrpcd "
			       "died without removing it? or dom0 lacks /dev/xen/gntdev, "
			       "/dev/xen/evtchn - modules xen-gntdev, xen-evtchn - or root)",
			       target, domid, strerror(-setup_rc));
	else
		*err = strdupf("%s: none of the %d Guest RPC channel(s) of domain %u answered: %s",
			       target, n, domid, rc == -ETIMEDOUT ?
			       "busy (another tool holds it) or the agent is not running" :
			       rc == -EPIPE || rc == -ECONNRESET ?
			       "the guest agent closed the channel (is guestrpcd --vchan running?)" :
			       strerror(-rc));
	return rc;
}

int guestrpc_session_open(const char *target, const char *uri, int hello_ms,
			  guestrpc_session **out, char **err)
{
	char **paths = NULL;
	bool *timed_out;
	int n, rc = -ENOENT;

	if (err)
		*err = NULL;
	if (!strncmp(target, GUESTRPC_XEN_PREFIX, strlen(GUESTRPC_XEN_PREFIX)))
		return open_xen(target, hello_ms, out, err);
	if (strchr(target, '/')) {
		rc = connect_path(target, hello_ms, false, out);
		if (rc == -ETIMEDOUT) {
			retry_pause();  /* see connect_path */
			rc = connect_path(target, hello_ms, false, out);
		}
		if (rc < 0 && err)
			*err = strdupf("%s: %s", target, rc == -ETIMEDOUT ?
				       "no answer from the guest agent (channel busy or agent not running)" :
					       strerror(-rc));
		return rc;
	}
	n = guestrpc_domain_channels(target, uri, &paths, err);
	if (n < 0)
		return n;
	if (n == 0) {
		if (err)
			*err = strdupf("domain %s has no <channel type='unix'> named org.hostrpc.guest.N", target);
		return -ENOENT;
	}
	/* Channels whose HELLO timed out get a second pass (see connect_path). */
	timed_out = calloc((size_t)n, sizeof(*timed_out));
	for (int pass = 0; pass < 2 && rc < 0 && timed_out; pass++) {
		bool paused = false;

		for (int i = 0; i < n; i++) {
			if (pass && !timed_out[i])
				continue;
			if (pass && !paused) {
				retry_pause();
				paused = true;
			}
			/* A busy channel that is not locked never answers: do not
			 * wait long for it while another channel is left to try. */
			rc = connect_path(paths[i], i + 1 < n && hello_ms > 3000 ? 3000 : hello_ms,
					  true, out);
			if (rc == 0)
				break;
			timed_out[i] = rc == -ETIMEDOUT;
		}
	}
	if (!timed_out)
		rc = -ENOMEM;
	free(timed_out);
	if (rc < 0 && err)
		*err = strdupf("domain %s: none of its %d org.hostrpc.guest channel(s) answered: %s",
			       target, n, rc == -ETIMEDOUT ?
			       "busy (another tool holds it) or the agent is not running" :
			       rc == -EBUSY ? "all in use by other hostrpc tools" : strerror(-rc));
	for (int i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}
