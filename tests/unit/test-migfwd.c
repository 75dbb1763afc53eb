/* SPDX-License-Identifier: MIT */
/*
 * test-migfwd - the two ends of a forward link (migrate/forward.h, wire:
 * include/hostrpc/migfwd.h) over a real authenticated link on 127.0.0.1,
 * relaying real TCP connections, on one main context:
 *
 *   app_a <-TCP-> [fwd A] ==link== [fwd B] <-TCP-> app_b
 *
 *   - 4 MiB each way at once on two objects: every byte in order;
 *   - a half-close travels (shutdown -> end of file at the far end, the
 *     other way still works) and a clean close both ways ends the object
 *     at both ends;
 *   - a reset travels: the far program reads ECONNRESET;
 *   - a reader that stops: the writer is held back (bounded buffers), and
 *     everything arrives once it reads again;
 *   - the link cut: both ends report it, every forwarded connection reads
 *     ECONNRESET, nothing hangs;
 *   - the guest moves on: HOLD (the guest's end rests; the remnant reads
 *     nothing more and answers HELD), what came is at the program or
 *     pending, RESUME goes on byte-exact, a take at the remnant hands
 *     over the live socket, a cut during a hold reaches the callback;
 *     a SHUT that came during the hold reaches the program at RESUME;
 *     RESUME before HELD keeps the link (the late HELD answers nothing,
 *     the next hold waits for its own); an object added while held rests;
 *   - the guest moves on to a third host (MOVE): R's owner refuses once,
 *     then moves the object onto a new link to C; C starts it with the
 *     bytes under way at G; every byte arrives in order both ways;
 *   - a hostile peer (a HELLO for another guest, DATA past the window, a
 *     bad frame, HELD or RESUME unasked, HOLD twice, MOVE not held, MOVED
 *     unasked): the link ends with -EPROTO, the objects are reset;
 *   - listeners (ACCEPT, RENAME): R keeps a copy of a listener; a client
 *     that connects to it reaches the program at G through G's accept
 *     function (told the listener, the new object and both addresses),
 *     byte-exact both ways; RENAME names it at both ends; a refusal at G
 *     resets the client; G forgetting the listener closes R's copy; a
 *     take hands the listening socket over; a hostile peer (ACCEPT of a
 *     name in use, ACCEPT of the listener itself, a bad address, RENAME
 *     to a name in use) breaks the link with -EPROTO.
 *   - calls (CALL, REPLY, EVENT): the remnant's call function answers each
 *     call, the reply (payload and 1 MiB of bulk) reaches the guest's end
 *     under its id; a one-way call gets none; an EVENT arrives; 16 calls
 *     under way at most (-EBUSY), an id twice -EEXIST; an answer out of
 *     range is -EIO; the link cut fails every call under way (-EIO) before
 *     the end is reported; a REPLY to no call, or with more bulk than the
 *     call had room for, breaks the link (-EPROTO), as does a caller that
 *     goes on calling while 16 replies wait for it to read them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/migfwd.h"
#include "migrate/forward.h"
#include "tests/tap.h"

#define TMO 5000

static uint8_t key[MIG_KEY_SIZE];
static int lfd;
static uint16_t lport;
static GMainContext *ctx;

static int listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		tap_skip_all("no TCP on 127.0.0.1: %s", strerror(errno));
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A connected TCP pair on 127.0.0.1: *a the program's, *b the forwarder's. */
static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(lport),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(*a, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		tap_skip_all("connect: %s", strerror(errno));
	*b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	fcntl(*a, F_SETFL, O_NONBLOCK);
}

/* The same with little room in the kernel toward the program: its
 * receive buffer set before connect (so the window it offers is small
 * from the start), the forwarder's send buffer small. */
static void tcp_pair_small(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(lport),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int small = 4096;

	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(*a, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (connect(*a, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		tap_skip_all("connect: %s", strerror(errno));
	*b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	setsockopt(*b, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fcntl(*a, F_SETFL, O_NONBLOCK);
}

struct srv {
	mig_link *link;
	int rc;
	GThread *th;
};

static gpointer srv_main(gpointer p)
{
	struct srv *s = p;
	struct hrpc_mig_intro in;
	int fd = accept(lfd, NULL, NULL);

	s->rc = mig_link_read_intro(fd, &in, TMO);
	if (!s->rc)
		s->rc = mig_link_accept(fd, &in, key, TMO, &s->link);
	return NULL;
}

static void link_pair(mig_link **c, mig_link **s)
{
	struct srv sv = { 0 };
	char hp[32];
	int rc;

	sv.th = g_thread_new("srv", srv_main, &sv);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", lport);
	rc = mig_link_connect(hp, key, "g1", TMO, c);
	g_thread_join(sv.th);
	if (rc < 0 || sv.rc < 0)
		tap_skip_all("no link: %s / %s", strerror(-rc), strerror(-sv.rc));
	*s = sv.link;
}

struct end_seen {
	int n;
	int err;
};

static void on_end(void *data, int err)
{
	struct end_seen *e = data;

	e->n++;
	e->err = err;
}

static void spin(int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;

	while (g_get_monotonic_time() < until)
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(200);
}

/* Move `total` bytes of a pattern from w to r (both non-blocking), the
 * main loop turning; checks every byte.  Returns bytes that arrived right. */
struct flow {
	int w, r;
	size_t total, sent, got;
	unsigned seed;
	bool bad;
};

static uint8_t pat(unsigned seed, size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13 ^ seed);
}

static void flow_step(struct flow *fl)
{
	uint8_t buf[65536];
	ssize_t n;

	if (fl->sent < fl->total) {
		size_t k = MIN(sizeof(buf), fl->total - fl->sent);

		for (size_t i = 0; i < k; i++)
			buf[i] = pat(fl->seed, fl->sent + i);
		n = send(fl->w, buf, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			fl->sent += (size_t)n;
	}
	while ((n = recv(fl->r, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(fl->seed, fl->got + (size_t)i))
				fl->bad = true;
		fl->got += (size_t)n;
	}
}

static bool flows_run(struct flow *fl, int n, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;

	while (g_get_monotonic_time() < until) {
		bool done = true;

		for (int i = 0; i < n; i++) {
			flow_step(&fl[i]);
			done = done && fl[i].got == fl[i].total;
		}
		if (done)
			return true;
		g_main_context_iteration(ctx, FALSE);
	}
	return false;
}

/* Read until end of file or error within ms: 0 EOF, -errno, -ETIMEDOUT. */
static int read_end(int fd, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;
	char buf[4096];

	while (g_get_monotonic_time() < until) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(200);
	}
	return -ETIMEDOUT;
}

/* The HOLD callback (mig_fwd_hold). */
struct held_seen {
	int n;
	int err;
};

static void on_held(void *data, int err)
{
	struct held_seen *h = data;

	h->n++;
	h->err = err;
}

/* Turn the loop until *n is non-zero or ms pass. */
static bool spin_until(const int *n, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;

	while (!*n && g_get_monotonic_time() < until)
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(200);
	return *n != 0;
}

/* One object's listing entry. */
static bool fwd_info(mig_fwd *f, uint64_t object, struct mig_fwd_info *info)
{
	uint32_t pos = 0;

	while (mig_fwd_next(f, &pos, info))
		if (info->object == object)
			return true;
	return false;
}

/* Turn the loop until f has sent `bytes` of object from its descriptor. */
static bool wait_out(mig_fwd *f, uint64_t object, uint64_t bytes, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;
	struct mig_fwd_info info;

	while (g_get_monotonic_time() < until) {
		if (fwd_info(f, object, &info) && info.bytes_out == bytes)
			return true;
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(200);
	}
	return false;
}

/* Bytes [off, off + len) of a flow's pattern into fd (small: the kernel
 * takes them at once).  true when all went. */
static bool send_pat(int fd, unsigned seed, size_t off, size_t len)
{
	uint8_t buf[16384];

	while (len) {
		size_t k = MIN(sizeof(buf), len);
		ssize_t n;

		for (size_t i = 0; i < k; i++)
			buf[i] = pat(seed, off + i);
		n = send(fd, buf, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		off += (size_t)n;
		len -= (size_t)n;
	}
	return true;
}

static bool is_pat(const uint8_t *p, size_t n, unsigned seed, size_t off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(seed, off + i))
			return false;
	return true;
}

/* A fresh link whose raw client end lc plays the peer; fb the forwarder
 * under test, after the peer's HELLO. */
static mig_fwd *hostile_pair(mig_link **lc, struct end_seen *e)
{
	struct hrpc_fwd_hello h = { .magic = HRPC_FWD_MAGIC, .version = HRPC_FWD_VERSION,
				    .guest = "g1" };
	mig_link *ls;
	mig_fwd *f;

	link_pair(lc, &ls);
	memset(e, 0, sizeof(*e));
	f = mig_fwd_new(ls, "g1", ctx, on_end, e);
	mig_link_send(*lc, HRPC_FWD_HELLO, &h, sizeof(h));
	return f;
}

/* The raw peer: turn the loop a little (the forwarder writes what it
 * sealed), then read frames, skipping others, until one of `type`; its
 * payload in *p (g_free) where p is not NULL.  true when it came. */
static bool raw_expect(mig_link *l, uint32_t type, void **p, size_t *len)
{
	for (int i = 0; i < 16; i++) {
		uint32_t t = 0;
		void *b = NULL;
		size_t n = 0;

		spin(20);
		if (mig_link_recv(l, &t, &b, &n, HRPC_FWD_FRAME_MAX, TMO) < 0)
			return false;
		if (t == type) {
			if (p)
				*p = b;
			else
				g_free(b);
			if (len)
				*len = n;
			return true;
		}
		g_free(b);
	}
	return false;
}

/* Exactly n bytes from fd within ms, the loop turning.  true when all came. */
static bool recv_exact(int fd, void *buf, size_t n, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;
	size_t got = 0;

	while (got < n && g_get_monotonic_time() < until) {
		ssize_t k = recv(fd, (uint8_t *)buf + got, n - got, MSG_DONTWAIT);

		if (k > 0)
			got += (size_t)k;
		else if (k == 0 || errno != EAGAIN)
			return false;
		else if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(200);
	}
	return got == n;
}

/* Nothing readable on fd for ms (the loop turning). */
static bool quiet_for(int fd, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;
	char c;

	while (g_get_monotonic_time() < until) {
		if (recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) != -1 || errno != EAGAIN)
			return false;
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(1000);
	}
	return true;
}

/* The MOVED callback (mig_fwd_move). */
struct moved_seen {
	int n;
	int status;
	uint32_t nobj;
};

static void on_moved(void *data, int status, uint32_t nobj)
{
	struct moved_seen *m = data;

	m->n++;
	m->status = status;
	m->nobj = nobj;
}

/* R's owner (mig_fwd_set_move_fn): refuse, or make the new link to C on
 * 127.0.0.1 (fr2 R's end, fc C's), start the object at C with the bytes
 * under way at G, move R's objects onto fr2, answer MOVED. */
struct move_ctx {
	int calls;
	char host[64];
	uint16_t port;
	int refuse;                /* answer this (< 0) instead */
	mig_fwd *from;             /* R's old forwarder */
	mig_fwd *fr2, *fc;
	struct end_seen er2, ec;
	uint64_t object;
	int fd_c;                  /* C's forwarder's end of app_c's connection */
	const uint8_t *in, *out;
	size_t in_len, out_len;
	int add_rc;
	uint32_t moved;
	uint64_t r_in;             /* R's bytes written to app_b at the move */
};

static void on_move(void *data, const char *host, uint16_t port)
{
	struct move_ctx *m = data;
	struct mig_fwd_info info;
	mig_link *l2c, *l2s;

	m->calls++;
	g_strlcpy(m->host, host, sizeof(m->host));
	m->port = port;
	if (m->refuse) {
		mig_fwd_moved(m->from, m->refuse, 0);
		return;
	}
	if (fwd_info(m->from, m->object, &info))
		m->r_in = info.bytes_in;
	link_pair(&l2c, &l2s);
	m->fr2 = mig_fwd_new(l2c, "g1", ctx, on_end, &m->er2);
	m->fc = mig_fwd_new(l2s, "g1", ctx, on_end, &m->ec);
	/* C knows the guest's objects before R's frames come. */
	m->add_rc = mig_fwd_add_moved(m->fc, m->object, m->fd_c, m->in, m->in_len, m->out,
				      m->out_len);
	m->moved = mig_fwd_transfer(m->from, m->fr2);
	mig_fwd_moved(m->from, 0, m->moved);
}

/* Send what the flows have left to send (their readers idle). */
static bool flows_send(struct flow *fl, int n, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;

	while (g_get_monotonic_time() < until) {
		bool done = true;

		for (int i = 0; i < n; i++) {
			flow_step(&fl[i]);
			done = done && fl[i].sent == fl[i].total;
		}
		if (done)
			return true;
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(200);
	}
	return false;
}

/* ---- listeners ------------------------------------------------------------------- */

/* Turn the loop until cond holds or ms pass; the value of cond then. */
#define SPIN_COND(cond, ms)                                                              \
	({                                                                               \
		gint64 until_ = g_get_monotonic_time() + (gint64)(ms) * 1000;            \
		while (!(cond) && g_get_monotonic_time() < until_)                       \
			if (!g_main_context_iteration(ctx, FALSE))                       \
				g_usleep(200);                                           \
		(bool)(cond);                                                            \
	})

/* A client of 127.0.0.1:port, non-blocking once connected (its own port
 * in *cport); -errno when the connect fails. */
static int tcp_connect(uint16_t port, uint16_t *cport)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (cport) {
		*cport = 0;
		if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
			*cport = ntohs(sa.sin_port);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* The wire's 127.0.0.1:port (sock.h: the port a plain number). */
static bool addr_is(const struct hrpc_sock_addr *a, uint16_t port)
{
	static const uint8_t lo[16] = { 127, 0, 0, 1 };

	return a->family == HRPC_AF_INET && a->port == port && port && !a->flowinfo &&
	       !a->scope_id && !a->reserved && !memcmp(a->addr, lo, sizeof(lo));
}

static struct hrpc_sock_addr wire_lo(uint16_t port)
{
	struct hrpc_sock_addr a = { .family = HRPC_AF_INET, .port = port,
				    .addr = { 127, 0, 0, 1 } };

	return a;
}

/* G's accept function (mig_fwd_set_accept_fn): records what it was told;
 * refuses with `refuse` (< 0), else makes a TCP pair whose program end is
 * app and returns the forwarder's end. */
struct acc_ctx {
	int calls;
	int refuse;
	uint64_t listener, object;
	struct hrpc_sock_addr local, peer;
	int app;
};

/* Calls: the remnant's side answers with the payload reversed and the
 * request's bulk followed by "!" (or, for proc 9, a status out of range). */
struct calls_seen {
	int calls, oneway, replies, events, eio;
	uint64_t last_id;
	int last_status;
	uint8_t payload[64];
	uint32_t len, bulk_len;
	bool bulk_ok;
	int ended_before;          /* replies that came after the end was reported */
	struct end_seen *end;
};

static void on_call(void *data, const struct mig_fwd_callmsg *m, struct mig_fwd_answer *a)
{
	struct calls_seen *c = data;
	static uint8_t rev[64];

	c->calls++;
	if (m->oneway) {
		c->oneway++;
		return;
	}
	for (uint32_t i = 0; i < m->len && i < sizeof(rev); i++)
		rev[i] = ((const uint8_t *)m->payload)[m->len - 1 - i];
	a->status = m->proc == 9 ? 5 : 0;
	a->payload = rev;
	a->len = m->len < sizeof(rev) ? m->len : sizeof(rev);
	if (m->bulk && m->bulk_len < m->bulk_cap) {
		m->bulk[m->bulk_len] = '!';
		a->bulk = m->bulk;
		a->bulk_len = m->proc == 5 ? m->bulk_cap : m->bulk_len + 1;   /* 5: all of it */
	}
}

static void on_reply(void *data, uint64_t id, int status, const void *payload, uint32_t len,
		     const void *bulk, uint32_t bulk_len)
{
	struct calls_seen *c = data;
	const uint8_t *b = bulk;

	c->replies++;
	c->last_id = id;
	c->last_status = status;
	c->eio += status == -EIO;
	c->len = len;
	if (len)
		memcpy(c->payload, payload, len < sizeof(c->payload) ? len : sizeof(c->payload));
	c->bulk_len = bulk_len;
	c->bulk_ok = true;
	for (uint32_t i = 0; bulk_len && i + 1 < bulk_len; i++)
		if (b[i] != pat(7, i))
			c->bulk_ok = false;
	if (bulk_len && b[bulk_len - 1] != '!')
		c->bulk_ok = false;
	if (c->end && c->end->n)
		c->ended_before++;
}

static void on_event(void *data, uint16_t service, uint16_t proc, const void *payload,
		     uint32_t len)
{
	struct calls_seen *c = data;

	(void)payload;
	if (service == 17 && proc == 1 && len == 4)
		c->events++;
}

static bool spin_calls(const int *n, int want, int ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;

	while (*n < want && g_get_monotonic_time() < until)
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(200);
	return *n >= want;
}

static int on_accept(void *data, uint64_t listener, uint64_t object,
		     const struct hrpc_sock_addr *local, const struct hrpc_sock_addr *peer)
{
	struct acc_ctx *a = data;
	int fwd;

	a->calls++;
	a->listener = listener;
	a->object = object;
	a->local = *local;
	a->peer = *peer;
	a->app = -1;
	if (a->refuse)
		return a->refuse;
	tcp_pair(&a->app, &fwd);
	return fwd;
}

int main(void)
{
	struct end_seen ea = { 0 }, eb = { 0 };
	mig_link *lc, *ls;
	mig_fwd *fa, *fb;
	int a1, fa1, b1, fb1, a2, fa2, b2, fb2;
	struct flow fl[4];
	bool ok;

	tap_plan(82);
	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		tap_skip_all("getrandom");
	ctx = g_main_context_new();
	lfd = listener(&lport);
	link_pair(&lc, &ls);
	fa = mig_fwd_new(lc, "g1", ctx, on_end, &ea);
	fb = mig_fwd_new(ls, "g1", ctx, on_end, &eb);

	/* Two objects, 4 MiB each way on each, all at once. */
	tcp_pair(&a1, &fa1);
	tcp_pair(&b1, &fb1);
	tcp_pair(&a2, &fa2);
	tcp_pair(&b2, &fb2);
	tap_ok(mig_fwd_add(fa, 0x101, fa1) == 0 && mig_fwd_add(fb, 0x101, fb1) == 0 &&
	       mig_fwd_add(fa, 0x202, fa2) == 0 && mig_fwd_add(fb, 0x202, fb2) == 0 &&
	       mig_fwd_count(fa) == 2, "two objects forwarded at both ends");
	{
		int dup[2];

		socketpair(AF_UNIX, SOCK_STREAM, 0, dup);
		tap_ok(mig_fwd_add(fa, 0x101, dup[0]) == -EEXIST && mig_fwd_add(fa, 0, -1) == -EINVAL,
		       "an object twice: -EEXIST; object 0: -EINVAL");
		close(dup[1]);
	}
	fl[0] = (struct flow){ .w = a1, .r = b1, .total = 4u << 20, .seed = 1 };
	fl[1] = (struct flow){ .w = b1, .r = a1, .total = 4u << 20, .seed = 2 };
	fl[2] = (struct flow){ .w = a2, .r = b2, .total = 4u << 20, .seed = 3 };
	fl[3] = (struct flow){ .w = b2, .r = a2, .total = 4u << 20, .seed = 4 };
	ok = flows_run(fl, 4, 30000);
	tap_ok(ok && !fl[0].bad && !fl[1].bad && !fl[2].bad && !fl[3].bad,
	       "4 MiB each way on two objects at once, every byte in order (%zu %zu %zu %zu)",
	       fl[0].got, fl[1].got, fl[2].got, fl[3].got);
	{
		struct mig_fwd_info info;
		uint32_t pos = 0;

		ok = mig_fwd_next(fa, &pos, &info) == 1;
		tap_ok(ok && info.object == 0x101 &&
		       info.bytes_in == 4u << 20 && info.bytes_out == 4u << 20,
		       "the listing counts the bytes each way (%" G_GUINT64_FORMAT " in, %"
		       G_GUINT64_FORMAT " out)", info.bytes_in, info.bytes_out);
	}

	/* Half-close: a1 shuts down its writing; b1 reads the end; b1 can
	 * still write to a1; then b1 closes: a1 reads the end, object gone. */
	shutdown(a1, SHUT_WR);
	tap_ok(read_end(b1, TMO) == 0, "a shutdown travels: the far end reads end of file");
	fl[0] = (struct flow){ .w = b1, .r = a1, .total = 100000, .seed = 5 };
	ok = flows_run(fl, 1, TMO);
	tap_ok(ok && !fl[0].bad, "the other way still carries data (%zu)",
	       fl[0].got);
	close(b1);
	tap_ok(read_end(a1, TMO) == 0, "a close at the far end: end of file here");
	spin(100);
	tap_ok(mig_fwd_count(fa) == 1 && mig_fwd_count(fb) == 1,
	       "closed both ways: the object ended at both ends (%u %u left)", mig_fwd_count(fa),
	       mig_fwd_count(fb));
	close(a1);

	/* A reader that stops: the writer is held back; then all arrives. */
	{
		uint8_t buf[65536];
		size_t wrote = 0;
		gint64 until = g_get_monotonic_time() + 2000000;

		memset(buf, 'x', sizeof(buf));
		while (g_get_monotonic_time() < until) {
			ssize_t n = send(a2, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0)
				wrote += (size_t)n;
			g_main_context_iteration(ctx, FALSE);
		}
		tap_ok(wrote < (64u << 20),
		       "a reader that stops holds the writer back: %zu KiB taken in 2 s",
		       wrote >> 10);
		fl[0] = (struct flow){ .w = -1, .r = b2, .total = wrote };
		{
			gint64 u2 = g_get_monotonic_time() + 10000000;

			while (fl[0].got < wrote && g_get_monotonic_time() < u2) {
				ssize_t n = recv(b2, buf, sizeof(buf), MSG_DONTWAIT);

				if (n > 0)
					fl[0].got += (size_t)n;
				g_main_context_iteration(ctx, FALSE);
			}
		}
		tap_ok(fl[0].got == wrote, "once it reads, everything arrives (%zu of %zu)",
		       fl[0].got, wrote);
	}

	/* A reset travels. */
	{
		struct linger lg = { 1, 0 };

		setsockopt(b2, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(b2);
		tap_ok(read_end(a2, TMO) == -ECONNRESET, "a reset travels: the far end reads "
		       "ECONNRESET");
		close(a2);
		spin(50);
		tap_ok(mig_fwd_count(fa) == 0 && mig_fwd_count(fb) == 0,
		       "and the object ended at both ends");
	}

	/* The link cut under two live objects. */
	tcp_pair(&a1, &fa1);
	tcp_pair(&b1, &fb1);
	mig_fwd_add(fa, 0x303, fa1);
	mig_fwd_add(fb, 0x303, fb1);
	fl[0] = (struct flow){ .w = a1, .r = b1, .total = 1000, .seed = 6 };
	flows_run(fl, 1, TMO);
	shutdown(mig_link_fd(mig_fwd_link(fa)), SHUT_RDWR);
	spin(200);
	tap_ok(ea.n == 1 && eb.n == 1 && ea.err < 0 && eb.err < 0,
	       "the link cut: both ends report it (%s / %s)", g_strerror(-ea.err),
	       g_strerror(-eb.err));
	{
		int ra = read_end(a1, TMO), rb = read_end(b1, TMO);

		tap_ok(ra == -ECONNRESET && rb == -ECONNRESET,
		       "every forwarded connection reads ECONNRESET (%s, %s)", g_strerror(-ra),
		       g_strerror(-rb));
	}
	tap_ok(mig_fwd_add(fa, 0x404, socket(AF_INET, SOCK_STREAM, 0)) < 0,
	       "a dead link takes no new object");
	close(a1);
	close(b1);
	mig_fwd_free(fa);
	mig_fwd_free(fb);

	/* The guest moves on: fa is its end (G), fb the remnant (R). */
	{
		struct held_seen hs = { 0 };
		struct mig_fwd_pending pd;
		struct mig_fwd_info info;
		uint8_t buf[65536];
		size_t k = 0, m = 0;
		bool quiet = true;
		int a3, fa3, b3, fb3, tfd = -1, rc;
		GByteArray *tpend = NULL;
		ssize_t n;

		memset(&ea, 0, sizeof(ea));
		memset(&eb, 0, sizeof(eb));
		link_pair(&lc, &ls);
		fa = mig_fwd_new(lc, "g1", ctx, on_end, &ea);
		fb = mig_fwd_new(ls, "g1", ctx, on_end, &eb);
		tcp_pair(&a1, &fa1);
		tcp_pair(&b1, &fb1);
		mig_fwd_add(fa, 0x606, fa1);
		mig_fwd_add(fb, 0x606, fb1);

		/* app_b's first 6000 bytes reach app_a (unread there), the
		 * next 4000 are read and sent by R; then G holds, and app_b
		 * writes 5000 more while the HOLD travels. */
		ok = send_pat(b1, 7, 0, 6000) && wait_out(fb, 0x606, 6000, TMO);
		for (int i = 0; ok && i < 1000 && (!fwd_info(fa, 0x606, &info) || info.bytes_in < 6000);
		     i++)
			spin(5);
		ok = ok && info.bytes_in == 6000 && send_pat(b1, 7, 6000, 4000) &&
		     wait_out(fb, 0x606, 10000, TMO);
		rc = mig_fwd_hold(fa, on_held, &hs);
		tap_ok(ok && rc == 0 && mig_fwd_hold(fa, on_held, &hs) == -EBUSY &&
		       !mig_fwd_held(fa) && mig_fwd_pending(fa, 0x606, &pd) == -EBUSY,
		       "hold: 0, a second one -EBUSY, not held before HELD (%d)", rc);
		ok = send_pat(b1, 7, 10000, 5000) && send_pat(a1, 8, 0, 7000);
		spin_until(&hs.n, TMO);
		tap_ok(ok && hs.n == 1 && hs.err == 0 && mig_fwd_held(fa) && !mig_fwd_held_by_peer(fa) &&
		       mig_fwd_held_by_peer(fb) && !mig_fwd_held(fb) && mig_fwd_hold(fb, on_held, &hs) == -EBUSY,
		       "HELD: the callback says 0 (n %d, %s), G held, R held by its peer", hs.n,
		       g_strerror(-hs.err));
		/* What R sent is at app_a or pending at G: a prefix of what
		 * app_b wrote, at least what R had sent before the hold. */
		spin(50);
		while ((n = recv(a1, buf + k, sizeof(buf) - k, MSG_DONTWAIT)) > 0)
			k += (size_t)n;
		rc = mig_fwd_pending(fa, 0x606, &pd);
		if (rc == 0)
			m = pd.pend_len;
		tap_ok(rc == 0 && k >= 6000 && k + m >= 10000 && k + m <= 15000 && is_pat(buf, k, 7, 0) &&
		       (!m || is_pat(pd.pend, m, 7, k)) && pd.fd == fa1 && !pd.shut,
		       "held: app_b's bytes at app_a (%zu) and pending at G (%zu), in order", k, m);
		tap_ok(mig_fwd_pending(fa, 0x999, &pd) == -ENOENT &&
		       mig_fwd_pending(fb, 0x606, &pd) == -EBUSY,
		       "pending: -ENOENT for an unknown object, -EBUSY at the end not holding");
		/* While held nothing moves: app_a's bytes stay, R reads no more. */
		{
			gint64 until = g_get_monotonic_time() + 200000;

			while (g_get_monotonic_time() < until) {
				if (recv(b1, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN)
					quiet = false;
				if (!g_main_context_iteration(ctx, FALSE))
					g_usleep(1000);
			}
		}
		tap_ok(quiet && mig_fwd_pending(fa, 0x606, &pd) == 0 && pd.pend_len == m &&
		       fwd_info(fb, 0x606, &info) && info.bytes_in == 0 && mig_fwd_held(fa),
		       "held for 200 ms: app_b reads nothing of app_a's, nothing more comes from R");

		/* RESUME: both go on where they were, byte-exact. */
		mig_fwd_resume(fa);
		fl[0] = (struct flow){ .w = a1, .r = b1, .total = 7000 + 300000, .sent = 7000,
				       .seed = 8 };
		fl[1] = (struct flow){ .w = b1, .r = a1, .total = 15000 + 300000, .sent = 15000,
				       .got = k, .seed = 7 };
		ok = flows_run(fl, 2, TMO);
		tap_ok(ok && !fl[0].bad && !fl[1].bad && !mig_fwd_held(fa) &&
		       !mig_fwd_held_by_peer(fb) && ea.n == 0 && eb.n == 0,
		       "resume: both flows complete, every byte in order (%zu, %zu)", fl[0].got,
		       fl[1].got);

		/* A half-closed object, then a second hold, and the take. */
		tcp_pair(&a3, &fa3);
		tcp_pair(&b3, &fb3);
		mig_fwd_add(fa, 0x707, fa3);
		mig_fwd_add(fb, 0x707, fb3);
		shutdown(a3, SHUT_WR);
		ok = read_end(b3, TMO) == 0;
		memset(&hs, 0, sizeof(hs));
		rc = mig_fwd_hold(fa, on_held, &hs);
		spin_until(&hs.n, TMO);
		tap_ok(ok && rc == 0 && hs.n == 1 && hs.err == 0 && mig_fwd_held_by_peer(fb) &&
		       mig_fwd_pending(fa, 0x707, &pd) == 0 && pd.shut &&
		       mig_fwd_pending(fa, 0x606, &pd) == 0 && !pd.shut && pd.pend_len == 0,
		       "a second hold after RESUME: HELD again; the half-closed object says so");
		tap_ok(mig_fwd_take(fa, 0x606, &tfd, &tpend) == -EBUSY &&
		       mig_fwd_take(fb, 0x999, &tfd, &tpend) == -ENOENT &&
		       mig_fwd_take(fb, 0x707, &tfd, &tpend) == -ESHUTDOWN && mig_fwd_count(fb) == 2,
		       "take: -EBUSY where the peer holds nothing, -ENOENT unknown, "
		       "-ESHUTDOWN half closed");
		rc = mig_fwd_take(fb, 0x606, &tfd, &tpend);
		tap_ok(rc == 0 && tfd == fb1 && tpend && tpend->len == 0 && mig_fwd_count(fb) == 1 &&
		       mig_fwd_take(fb, 0x606, &tfd, &tpend) == -ENOENT,
		       "take: 0, the descriptor and nothing pending; the object is gone (%d)", rc);
		/* The taken socket is still app_b's peer, and R no longer reads it. */
		ok = false;
		if (rc == 0) {
			char c[8] = { 0 };
			int got = 0;

			ok = send(tfd, "taken", 5, MSG_NOSIGNAL) == 5 && send(b1, "back", 4, 0) == 4;
			spin(100);
			for (int i = 0; ok && i < 100 && got < 5; i++) {
				n = recv(b1, c + got, sizeof(c) - 1 - (size_t)got, MSG_DONTWAIT);
				if (n > 0)
					got += (int)n;
				else
					g_usleep(1000);
			}
			ok = ok && got == 5 && !memcmp(c, "taken", 5);
			memset(c, 0, sizeof(c));
			ok = ok && recv(tfd, c, sizeof(c), MSG_DONTWAIT) == 4 && !memcmp(c, "back", 4);
		}
		tap_ok(ok, "the taken descriptor is still connected to app_b both ways");
		if (tpend)
			g_byte_array_unref(tpend);
		if (tfd >= 0)
			close(tfd);

		/* The link cut before HELD: the callback gets the error. */
		mig_fwd_resume(fa);
		spin(50);
		memset(&hs, 0, sizeof(hs));
		rc = mig_fwd_hold(fa, on_held, &hs);
		shutdown(mig_link_fd(mig_fwd_link(fa)), SHUT_RDWR);
		spin_until(&hs.n, TMO);
		spin(50);
		tap_ok(rc == 0 && hs.n == 1 && hs.err < 0 && !mig_fwd_held(fa) && ea.n == 1 &&
		       mig_fwd_hold(fa, on_held, &hs) < 0 && hs.n == 1,
		       "the link cut during a hold: the callback says %s, a new hold fails",
		       g_strerror(-hs.err));
		close(a1);
		close(b1);
		close(a3);
		close(b3);
		mig_fwd_free(fa);
		mig_fwd_free(fb);
	}

	/* A SHUT that comes while G holds reaches app_a at RESUME (the raw
	 * peer plays R: the SHUT is under way when the HOLD arrives). */
	{
		struct end_seen e;
		struct held_seen hs = { 0 };
		struct mig_fwd_pending pd;
		struct mig_fwd_info info;
		uint64_t obj = 0x909;
		uint8_t d[8 + 3];
		char c[8] = { 0 };
		void *p = NULL;
		size_t len = 0;
		bool quiet;
		int rc;

		fa = hostile_pair(&lc, &e);
		tcp_pair(&a1, &fa1);
		mig_fwd_add(fa, obj, fa1);
		memcpy(d, &obj, 8);
		memcpy(d + 8, "abc", 3);
		mig_link_send(lc, HRPC_FWD_DATA, d, sizeof(d));
		ok = recv_exact(a1, c, 3, TMO) && !memcmp(c, "abc", 3);
		rc = mig_fwd_hold(fa, on_held, &hs);
		ok = ok && rc == 0 && raw_expect(lc, HRPC_FWD_HOLD, NULL, NULL);
		mig_link_send(lc, HRPC_FWD_SHUT, &obj, sizeof(obj));
		mig_link_send(lc, HRPC_FWD_HELD, NULL, 0);
		spin_until(&hs.n, TMO);
		quiet = quiet_for(a1, 100);
		tap_ok(ok && hs.n == 1 && hs.err == 0 && quiet && mig_fwd_pending(fa, obj, &pd) == 0 &&
		       pd.shut && pd.pend_len == 0 && fwd_info(fa, obj, &info) && info.shut_in &&
		       !info.shut_out && e.n == 0,
		       "a SHUT during the hold: app_a sees nothing while held, pending says shut");
		mig_fwd_resume(fa);
		rc = read_end(a1, TMO);
		ok = send(a1, "xyz", 3, MSG_NOSIGNAL) == 3 &&
		     raw_expect(lc, HRPC_FWD_RESUME, NULL, NULL) &&
		     raw_expect(lc, HRPC_FWD_DATA, &p, &len) && len == 11 &&
		     !memcmp((uint8_t *)p, &obj, 8) && !memcmp((uint8_t *)p + 8, "xyz", 3);
		tap_ok(rc == 0 && ok && e.n == 0 && mig_fwd_count(fa) == 1,
		       "RESUME: the SHUT reaches app_a (%s), the other way still carries data",
		       rc ? g_strerror(-rc) : "end of file");
		g_free(p);
		mig_fwd_free(fa);
		mig_link_free(lc);
		close(a1);
	}

	/* RESUME before HELD came (the move failed at once): the link stays
	 * up; HELD answers each HOLD in order, a stale one is no answer. */
	{
		struct held_seen h1 = { 0 }, h2 = { 0 };
		int a4, fa4, b4, fb4, rc1, rc2, nd = 0;
		char c[8] = { 0 };
		bool quiet;

		memset(&ea, 0, sizeof(ea));
		memset(&eb, 0, sizeof(eb));
		link_pair(&lc, &ls);
		fa = mig_fwd_new(lc, "g1", ctx, on_end, &ea);
		fb = mig_fwd_new(ls, "g1", ctx, on_end, &eb);
		tcp_pair(&a1, &fa1);
		tcp_pair(&b1, &fb1);
		mig_fwd_add(fa, 0xa0a, fa1);
		mig_fwd_add(fb, 0xa0a, fb1);
		fl[0] = (struct flow){ .w = a1, .r = b1, .total = 1000, .seed = 30 };
		fl[1] = (struct flow){ .w = b1, .r = a1, .total = 1000, .seed = 31 };
		ok = flows_run(fl, 2, TMO);
		rc1 = mig_fwd_hold(fa, on_held, &h1);
		mig_fwd_resume(fa);
		spin(200);
		tap_ok(ok && rc1 == 0 && h1.n == 0 && ea.n == 0 && eb.n == 0 && !mig_fwd_held(fa) &&
		       !mig_fwd_held_by_peer(fb),
		       "RESUME before HELD: the link stays up, the late HELD runs no callback");
		fl[0].total += 200000;
		fl[1].total += 200000;
		ok = flows_run(fl, 2, TMO);
		tap_ok(ok && !fl[0].bad && !fl[1].bad && ea.n == 0 && eb.n == 0,
		       "and the object goes on both ways, every byte in order (%zu, %zu)", fl[0].got,
		       fl[1].got);

		/* Hold, resume, hold, with no turn of the loop between. */
		memset(&h1, 0, sizeof(h1));
		rc1 = mig_fwd_hold(fa, on_held, &h1);
		mig_fwd_resume(fa);
		rc2 = mig_fwd_hold(fa, on_held, &h2);
		spin_until(&h2.n, TMO);
		spin(50);
		tap_ok(rc1 == 0 && rc2 == 0 && h1.n == 0 && h2.n == 1 && h2.err == 0 &&
		       mig_fwd_held(fa) && mig_fwd_held_by_peer(fb) && ea.n == 0 && eb.n == 0,
		       "hold, resume, hold at once: one callback, the second hold's, 0 (n %d/%d)",
		       h1.n, h2.n);

		/* An object added while held rests (no busy loop), at both ends. */
		tcp_pair(&a4, &fa4);
		tcp_pair(&b4, &fb4);
		send(a4, "early", 5, MSG_NOSIGNAL);
		spin(20);
		rc1 = mig_fwd_add(fa, 0xb0b, fa4);
		rc2 = mig_fwd_add(fb, 0xb0b, fb4);
		{
			gint64 until = g_get_monotonic_time() + 100000;

			while (g_get_monotonic_time() < until) {
				if (g_main_context_iteration(ctx, FALSE))
					nd++;
				else
					g_usleep(1000);
			}
		}
		quiet = quiet_for(b4, 50);
		tap_ok(rc1 == 0 && rc2 == 0 && nd < 20 && quiet && mig_fwd_held(fa),
		       "an object added while held rests: %d dispatches in 100 ms, nothing sent", nd);
		mig_fwd_resume(fa);
		ok = recv_exact(b4, c, 5, TMO) && !memcmp(c, "early", 5) &&
		     send(b4, "late", 4, MSG_NOSIGNAL) == 4 && recv_exact(a4, c, 4, TMO) &&
		     !memcmp(c, "late", 4);
		fl[0].total += 100000;
		fl[1].total += 100000;
		ok = ok && flows_run(fl, 2, TMO) && !fl[0].bad && !fl[1].bad;
		tap_ok(ok && !mig_fwd_held(fa) && !mig_fwd_held_by_peer(fb) && ea.n == 0 && eb.n == 0,
		       "RESUME: the object added while held and the old one go on");
		close(a4);
		close(b4);
		close(a1);
		close(b1);
		mig_fwd_free(fa);
		mig_fwd_free(fb);
	}
	{
		struct end_seen e;
		struct held_seen h1 = { 0 }, h2 = { 0 };
		bool seen, early;
		int rc1, rc2;

		fa = hostile_pair(&lc, &e);
		rc1 = mig_fwd_hold(fa, on_held, &h1);
		mig_fwd_resume(fa);
		rc2 = mig_fwd_hold(fa, on_held, &h2);
		seen = raw_expect(lc, HRPC_FWD_HOLD, NULL, NULL) &&
		       raw_expect(lc, HRPC_FWD_RESUME, NULL, NULL) &&
		       raw_expect(lc, HRPC_FWD_HOLD, NULL, NULL);
		mig_link_send(lc, HRPC_FWD_HELD, NULL, 0);
		spin(100);
		early = h1.n == 0 && h2.n == 0 && !mig_fwd_held(fa) && e.n == 0;
		mig_link_send(lc, HRPC_FWD_HELD, NULL, 0);
		spin_until(&h2.n, TMO);
		tap_ok(rc1 == 0 && rc2 == 0 && seen && early && h1.n == 0 && h2.n == 1 && h2.err == 0 &&
		       mig_fwd_held(fa) && e.n == 0,
		       "HOLD RESUME HOLD to a raw peer: its first HELD is the resumed hold's (no "
		       "callback), the second runs the callback (0)");
		mig_link_send(lc, HRPC_FWD_HELD, NULL, 0);
		spin(200);
		tap_ok(e.n == 1 && e.err == -EPROTO && h2.n == 1, "a third HELD, unasked: -EPROTO (%s)",
		       g_strerror(-e.err));
		mig_fwd_free(fa);
		mig_link_free(lc);
	}

	/* The guest moves on to a third host.  G (fa, the guest's end, its
	 * program app_a) holds R (fb, the remnant, the service app_b); G says
	 * MOVE; R's owner opens a new link to C (fr2 its end, fc C's) and
	 * moves the object there; the program goes on at C as app_c. */
	{
		struct held_seen hs = { 0 };
		struct moved_seen ms = { 0 };
		struct move_ctx mc = { 0 };
		struct mig_fwd_pending pd;
		struct mig_fwd_info info;
		uint64_t obj = 0xc0c, sa = 0, sb = 0, k = 0;
		size_t ta, tb, in_len = 0, out_len = 0;
		uint8_t *in = NULL, *out = NULL, *buf = NULL;
		int c1, fc1, rc, rc2, rc3;

		memset(&ea, 0, sizeof(ea));
		memset(&eb, 0, sizeof(eb));
		link_pair(&lc, &ls);
		fa = mig_fwd_new(lc, "g1", ctx, on_end, &ea);
		fb = mig_fwd_new(ls, "g1", ctx, on_end, &eb);
		mig_fwd_set_move_fn(fb, on_move, &mc);
		/* Little room in the kernel toward each program: what they do
		 * not read stays under way in the forwarders. */
		tcp_pair_small(&a1, &fa1);
		tcp_pair_small(&b1, &fb1);
		mig_fwd_add(fa, obj, fa1);
		mig_fwd_add(fb, obj, fb1);

		/* 2000 bytes each way, read; then each program writes what
		 * the kernel takes in a second (more than the window and the
		 * kernel's buffers hold: the forwarders stop reading) and
		 * neither reads. */
		fl[0] = (struct flow){ .w = a1, .r = b1, .total = 2000, .seed = 20 };
		fl[1] = (struct flow){ .w = b1, .r = a1, .total = 2000, .seed = 21 };
		ok = flows_run(fl, 2, TMO) && !fl[0].bad && !fl[1].bad;
		fl[0].r = fl[1].r = -1;
		fl[0].total = fl[1].total = 4u << 20;
		(void)flows_send(fl, 2, 1000);
		fl[0].total = fl[0].sent;
		fl[1].total = tb = fl[1].sent;
		spin(200);
		rc = mig_fwd_hold(fa, on_held, &hs);
		spin_until(&hs.n, TMO);

		/* At HELD: G wrote k bytes to app_a (app_a reads them all), the
		 * rest of what R sent (sb) is pending at G (in); app_a writes
		 * 5000 more, which G does not read; what G never sent of
		 * app_a's is the guest's bytes under way (out), read from G's
		 * descriptor as a forward image would have them. */
		if (fwd_info(fa, obj, &info)) {
			sa = info.bytes_out;
			k = info.bytes_in;
		}
		if (fwd_info(fb, obj, &info))
			sb = info.bytes_out;
		rc2 = mig_fwd_pending(fa, obj, &pd);
		if (rc2 == 0 && pd.pend_len) {
			in_len = pd.pend_len;
			in = g_memdup2(pd.pend, in_len);
		}
		buf = g_malloc(k > 2000 ? k - 2000 : 1);
		ok = ok && rc == 0 && hs.n == 1 && hs.err == 0 && rc2 == 0 && k > 2000 &&
		     recv_exact(a1, buf, k - 2000, TMO) && is_pat(buf, k - 2000, 21, 2000) &&
		     quiet_for(a1, 50);
		g_free(buf);
		fl[0].total = ta = fl[0].sent + 5000;
		ok = ok && flows_send(fl, 1, TMO) && sa > 2000 && sa < ta;
		out_len = ta - sa;
		out = g_malloc(out_len);
		ok = ok && recv_exact(fa1, out, out_len, TMO) && is_pat(out, out_len, 20, sa);
		tap_ok(ok && in_len > 0 && k + in_len == sb && sb < tb && is_pat(in, in_len, 21, k) &&
		       mig_fwd_held(fa) && mig_fwd_held_by_peer(fb),
		       "held: app_a read %" G_GUINT64_FORMAT ", %zu pending at G (R sent %"
		       G_GUINT64_FORMAT " of %zu), %zu of app_a's %zu never sent by G", k, in_len, sb,
		       tb, out_len, ta);

		rc = mig_fwd_move(fa, "localhost", lport, on_moved, &ms);
		rc2 = mig_fwd_move(fa, "127.0.0.1", 0, on_moved, &ms);
		rc3 = mig_fwd_move(fb, "127.0.0.1", lport, on_moved, &ms);
		spin(50);
		tap_ok(rc == -EINVAL && rc2 == -EINVAL && rc3 == -EBUSY && ms.n == 0 && mc.calls == 0,
		       "move: -EINVAL for a name or port 0, -EBUSY where not held (%d %d %d)", rc, rc2,
		       rc3);

		/* R's owner refuses once. */
		mc.from = fb;
		mc.object = obj;
		mc.refuse = -ECONNREFUSED;
		rc = mig_fwd_move(fa, "127.0.0.1", lport, on_moved, &ms);
		rc2 = mig_fwd_move(fa, "127.0.0.1", lport, on_moved, &ms);
		spin_until(&ms.n, TMO);
		spin(50);
		tap_ok(rc == 0 && rc2 == -EINVAL && ms.n == 1 && ms.status == -ECONNREFUSED &&
		       ms.nobj == 0 && mc.calls == 1 && mig_fwd_count(fb) == 1 && mig_fwd_held(fa) &&
		       mig_fwd_held_by_peer(fb) && ea.n == 0 && eb.n == 0,
		       "a move R refuses: the callback says %s, nothing moved, still held; a second "
		       "MOVE while one is under way: -EINVAL", g_strerror(-ms.status));

		/* Then the move. */
		tcp_pair(&c1, &fc1);
		mc.refuse = 0;
		mc.fd_c = fc1;
		mc.in = in;
		mc.in_len = in_len;
		mc.out = out;
		mc.out_len = out_len;
		memset(&ms, 0, sizeof(ms));
		rc = mig_fwd_move(fa, "127.0.0.1", lport, on_moved, &ms);
		spin_until(&ms.n, TMO);
		tap_ok(rc == 0 && ms.n == 1 && ms.status == 0 && ms.nobj == 1 && mc.calls == 2 &&
		       !strcmp(mc.host, "127.0.0.1") && mc.port == lport && mc.add_rc == 0 &&
		       mc.moved == 1 && mig_fwd_count(fb) == 0 && mc.fr2 &&
		       mig_fwd_count(mc.fr2) == 1 && mig_fwd_count(mc.fc) == 1 && mc.r_in < sa,
		       "MOVE: R's owner gets %s:%u, moves the object (R still had %" G_GUINT64_FORMAT
		       " bytes for app_b) onto the new link; G's callback: %d, %u", mc.host, mc.port,
		       sa - mc.r_in, ms.status, ms.nobj);

		/* The old link ends with BYE. */
		mig_fwd_free(fa);
		spin(100);
		tap_ok(eb.n == 1 && eb.err == 0 && mig_fwd_lost(fb) == 0 && mc.er2.n == 0 &&
		       mc.ec.n == 0 && mc.fr2 && mig_fwd_count(mc.fr2) == 1,
		       "the old link ends with BYE, nothing lost at R; the new link is up");

		/* app_b reads on from 2000: what G sent (R had some still), the
		 * guest's bytes under way, then app_c's.  app_c reads from k: G's
		 * pending bytes, what app_b wrote that R had not read, then
		 * app_b's new bytes.  Over twice the window each way. */
		fl[0] = (struct flow){ .w = c1, .r = b1, .total = ta + 600000, .sent = ta,
				       .got = 2000, .seed = 20 };
		fl[1] = (struct flow){ .w = b1, .r = c1, .total = tb + 600000, .sent = tb,
				       .got = k, .seed = 21 };
		ok = flows_run(fl, 2, 20000);
		tap_ok(ok && !fl[0].bad && !fl[1].bad && mc.er2.n == 0 && mc.ec.n == 0,
		       "after the move: app_b and app_c get every byte in order, the bytes under way "
		       "first (%zu of %zu, %zu of %zu)", fl[0].got, fl[0].total, fl[1].got,
		       fl[1].total);

		close(c1);
		rc = mc.fr2 ? read_end(b1, TMO) : -1;
		close(b1);
		spin(100);
		tap_ok(rc == 0 && mc.fr2 && mig_fwd_count(mc.fr2) == 0 && mig_fwd_count(mc.fc) == 0 &&
		       mc.er2.n == 0 && mc.ec.n == 0,
		       "app_c closes: app_b reads end of file, the object ends at R and C");
		close(a1);
		g_free(in);
		g_free(out);
		mig_fwd_free(mc.fr2);
		mig_fwd_free(mc.fc);
		mig_fwd_free(fb);
	}

	/* A hostile peer: DATA past the window, with a raw link. */
	{
		struct end_seen e = { 0 };
		struct hrpc_fwd_hello h = { .magic = HRPC_FWD_MAGIC, .version = HRPC_FWD_VERSION,
					    .guest = "g1" };
		static uint8_t big[8 + HRPC_FWD_DATA_MAX];
		uint64_t obj = 0x505;
		int rc = 0;

		link_pair(&lc, &ls);
		fb = mig_fwd_new(ls, "g1", ctx, on_end, &e);
		tcp_pair(&b1, &fb1);
		{
			int small = 4096;

			/* Little room in the kernel: the window is what holds. */
			setsockopt(b1, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
			setsockopt(fb1, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		}
		mig_fwd_add(fb, obj, fb1);
		mig_link_send(lc, HRPC_FWD_HELLO, &h, sizeof(h));
		memcpy(big, &obj, 8);
		/* b1 never reads, the ACKs are ignored: 8 x 64 KiB is past the
		 * 256 KiB window. */
		for (int i = 0; i < 8 && rc == 0; i++) {
			rc = mig_link_send(lc, HRPC_FWD_DATA, big, sizeof(big));
			spin(20);
		}
		spin(200);
		tap_ok(e.n == 1 && e.err == -EPROTO && read_end(b1, TMO) == -ECONNRESET,
		       "DATA past the window: -EPROTO (%s), the object reset", g_strerror(-e.err));
		mig_fwd_free(fb);
		mig_link_free(lc);
		close(b1);

		link_pair(&lc, &ls);
		memset(&e, 0, sizeof(e));
		fb = mig_fwd_new(ls, "g1", ctx, on_end, &e);
		g_strlcpy(h.guest, "other", sizeof(h.guest));
		mig_link_send(lc, HRPC_FWD_HELLO, &h, sizeof(h));
		spin(200);
		tap_ok(e.n == 1 && e.err == -EPROTO, "a HELLO for another guest: -EPROTO (%s)",
		       g_strerror(-e.err));
		mig_fwd_free(fb);
		mig_link_free(lc);

		/* HELD when no HOLD was asked. */
		fb = hostile_pair(&lc, &e);
		mig_link_send(lc, HRPC_FWD_HELD, NULL, 0);
		spin(200);
		tap_ok(e.n == 1 && e.err == -EPROTO, "HELD unasked: -EPROTO (%s)", g_strerror(-e.err));
		mig_fwd_free(fb);
		mig_link_free(lc);

		/* RESUME when not held. */
		fb = hostile_pair(&lc, &e);
		mig_link_send(lc, HRPC_FWD_RESUME, NULL, 0);
		spin(200);
		tap_ok(e.n == 1 && e.err == -EPROTO, "RESUME unasked: -EPROTO (%s)",
		       g_strerror(-e.err));
		mig_fwd_free(fb);
		mig_link_free(lc);

		/* HOLD is answered by HELD (after the HELLO); HOLD again breaks. */
		{
			uint32_t t1 = 0, t2 = 0;
			void *p1 = NULL, *p2 = NULL;
			size_t l1, l2;
			bool held;

			fb = hostile_pair(&lc, &e);
			mig_link_send(lc, HRPC_FWD_HOLD, NULL, 0);
			spin(100);
			mig_link_recv(lc, &t1, &p1, &l1, HRPC_FWD_FRAME_MAX, TMO);
			mig_link_recv(lc, &t2, &p2, &l2, HRPC_FWD_FRAME_MAX, TMO);
			held = mig_fwd_held_by_peer(fb) && e.n == 0;
			mig_link_send(lc, HRPC_FWD_HOLD, NULL, 0);
			spin(200);
			tap_ok(t1 == HRPC_FWD_HELLO && t2 == HRPC_FWD_HELD && l2 == 0 && held &&
			       e.n == 1 && e.err == -EPROTO,
			       "HOLD: HELD comes back (%u); HOLD twice: -EPROTO (%s)", t2,
			       g_strerror(-e.err));
			g_free(p1);
			g_free(p2);
			mig_fwd_free(fb);
			mig_link_free(lc);
		}

		/* MOVE when the peer holds nothing: R never acts on it. */
		{
			struct hrpc_fwd_move mv = { .host = "127.0.0.1", .port = 4242 };
			struct move_ctx mc = { 0 };

			fb = hostile_pair(&lc, &e);
			mig_fwd_set_move_fn(fb, on_move, &mc);
			mig_link_send(lc, HRPC_FWD_MOVE, &mv, sizeof(mv));
			spin(200);
			tap_ok(e.n == 1 && e.err == -EPROTO && mc.calls == 0,
			       "MOVE when not held: -EPROTO (%s), the move function not run",
			       g_strerror(-e.err));
			mig_fwd_free(fb);
			mig_link_free(lc);
		}

		/* MOVED when no hold was asked. */
		{
			struct hrpc_fwd_moved md = { .status = 0, .nobj = 1 };

			fb = hostile_pair(&lc, &e);
			mig_link_send(lc, HRPC_FWD_MOVED, &md, sizeof(md));
			spin(200);
			tap_ok(e.n == 1 && e.err == -EPROTO, "MOVED unasked: -EPROTO (%s)",
			       g_strerror(-e.err));
			mig_fwd_free(fb);
			mig_link_free(lc);
		}

		/* MOVED while held, but no MOVE was said. */
		{
			struct hrpc_fwd_moved md = { .status = 0, .nobj = 1 };
			struct held_seen hs = { 0 };
			bool held;

			fa = hostile_pair(&lc, &e);
			rc = mig_fwd_hold(fa, on_held, &hs);
			held = rc == 0 && raw_expect(lc, HRPC_FWD_HOLD, NULL, NULL);
			mig_link_send(lc, HRPC_FWD_HELD, NULL, 0);
			spin_until(&hs.n, TMO);
			held = held && hs.err == 0 && mig_fwd_held(fa);
			mig_link_send(lc, HRPC_FWD_MOVED, &md, sizeof(md));
			spin(200);
			tap_ok(held && e.n == 1 && e.err == -EPROTO,
			       "MOVED while held but no MOVE said: -EPROTO (%s)", g_strerror(-e.err));
			mig_fwd_free(fa);
			mig_link_free(lc);
		}

		/* MOVE to a remnant whose owner does not move: MOVED says so,
		 * the link stays up, RESUME goes on. */
		{
			struct hrpc_fwd_move mv = { .host = "::1", .port = 4242 };
			struct hrpc_fwd_moved md = { 0 };
			void *p = NULL;
			size_t len = 0;
			bool held;

			fb = hostile_pair(&lc, &e);
			mig_link_send(lc, HRPC_FWD_HOLD, NULL, 0);
			held = raw_expect(lc, HRPC_FWD_HELD, NULL, NULL) && mig_fwd_held_by_peer(fb);
			mig_link_send(lc, HRPC_FWD_MOVE, &mv, sizeof(mv));
			if (raw_expect(lc, HRPC_FWD_MOVED, &p, &len) && len == sizeof(md))
				memcpy(&md, p, sizeof(md));
			mig_link_send(lc, HRPC_FWD_RESUME, NULL, 0);
			spin(100);
			tap_ok(held && len == sizeof(md) && md.status == -EOPNOTSUPP && md.nobj == 0 &&
			       e.n == 0 && !mig_fwd_held_by_peer(fb),
			       "MOVE with no move function: MOVED %d (%s), the link stays up, RESUME",
			       (int)md.status, g_strerror(-md.status));
			g_free(p);
			mig_fwd_free(fb);
			mig_link_free(lc);
		}

		/* The link ends before MOVED: the callback says so. */
		{
			struct hrpc_fwd_move mv = { 0 };
			struct held_seen hs = { 0 };
			struct moved_seen ms = { 0 };
			void *p = NULL;
			size_t len = 0;
			bool said;

			fa = hostile_pair(&lc, &e);
			rc = mig_fwd_hold(fa, on_held, &hs);
			said = rc == 0 && raw_expect(lc, HRPC_FWD_HOLD, NULL, NULL);
			mig_link_send(lc, HRPC_FWD_HELD, NULL, 0);
			spin_until(&hs.n, TMO);
			rc = mig_fwd_move(fa, "::1", 4242, on_moved, &ms);
			said = said && rc == 0 && raw_expect(lc, HRPC_FWD_MOVE, &p, &len) &&
			       len == sizeof(mv);
			if (said)
				memcpy(&mv, p, sizeof(mv));
			said = said && !strcmp(mv.host, "::1") && mv.port == 4242;
			mig_link_free(lc);
			spin_until(&ms.n, TMO);
			spin(50);
			tap_ok(said && ms.n == 1 && ms.status < 0 && ms.nobj == 0 && e.n == 1 &&
			       hs.n == 1,
			       "MOVE says host and port; the link ends before MOVED: the callback says "
			       "%s", g_strerror(-ms.status));
			g_free(p);
			mig_fwd_free(fa);
		}
	}
	/* Listeners: G (fa) where the guest runs, R (fb) keeps a copy of the
	 * guest's listener L (a listening socket on 127.0.0.1, port rport). */
	{
		struct acc_ctx acc = { .app = -1 };
		struct mig_fwd_info info;
		const uint64_t L = 0x5151, name = 0x1234;
		uint64_t o1 = 0, o2 = 0, o4 = 0;
		uint16_t rport, cport = 0;
		int lsock, c1 = -1, g1 = -1, c2 = -1, g2 = -1, c3, c4 = -1, g4 = -1, rc, rc2;
		bool okl, okr;

		memset(&ea, 0, sizeof(ea));
		memset(&eb, 0, sizeof(eb));
		link_pair(&lc, &ls);
		fa = mig_fwd_new(lc, "g1", ctx, on_end, &ea);
		fb = mig_fwd_new(ls, "g1", ctx, on_end, &eb);
		mig_fwd_set_accept_fn(fa, on_accept, &acc);
		lsock = listener(&rport);
		rc = mig_fwd_add_listener(fb, L, lsock);
		{
			int dup = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

			rc2 = mig_fwd_add_listener(fb, L, dup);
		}
		tap_ok(rc == 0 && rc2 == -EEXIST && mig_fwd_count(fb) == 1 && mig_fwd_has(fb, L) &&
		       !mig_fwd_has(fa, L) && fwd_info(fb, L, &info) && info.listener &&
		       !info.accepted,
		       "a listener copy at R: 0, listed as a listener; the same id again: -EEXIST "
		       "(%d %d)", rc, rc2);

		/* (a) A client connects and writes before anything accepted it. */
		c1 = tcp_connect(rport, &cport);
		ok = c1 >= 0 && send_pat(c1, 30, 0, 1000);
		ok = ok && SPIN_COND(acc.calls == 1, TMO);
		o1 = acc.object;
		g1 = acc.app;
		tap_ok(ok && acc.calls == 1 && acc.listener == L && o1 && o1 != L &&
		       addr_is(&acc.local, rport) && addr_is(&acc.peer, cport) && g1 >= 0 &&
		       mig_fwd_has(fa, o1) && mig_fwd_has(fb, o1) && mig_fwd_count(fb) == 2 &&
		       mig_fwd_count(fa) == 1 && ea.n == 0 && eb.n == 0,
		       "a connection to R's copy: G's accept function is told listener %#" G_GINT64_MODIFIER
		       "x, object %#" G_GINT64_MODIFIER "x, local port %u (R's %u), peer port %u "
		       "(the client's %u)", acc.listener, o1, acc.local.port, rport, acc.peer.port, cport);
		fl[0] = (struct flow){ .w = c1, .r = g1, .total = 300000, .sent = 1000, .seed = 30 };
		fl[1] = (struct flow){ .w = g1, .r = c1, .total = 300000, .seed = 31 };
		ok = g1 >= 0 && flows_run(fl, 2, 20000);
		tap_ok(ok && !fl[0].bad && !fl[1].bad,
		       "client -> app at G and back, every byte in order (%zu, %zu)", fl[0].got,
		       fl[1].got);

		/* (f) Both listings say accepted, with the addresses. */
		spin(50);
		okl = fwd_info(fa, o1, &info) && info.accepted && !info.listener &&
		      addr_is(&info.local, rport) && addr_is(&info.peer, cport) &&
		      info.bytes_in == 300000 && info.bytes_out == 300000;
		okr = fwd_info(fb, o1, &info) && info.accepted && !info.listener &&
		      addr_is(&info.local, rport) && addr_is(&info.peer, cport) &&
		      info.bytes_in == 300000 && info.bytes_out == 300000;
		tap_ok(okl && okr && fwd_info(fb, L, &info) && info.listener && !info.accepted &&
		       !fwd_info(fa, L, &info),
		       "the listings: the accepted object at G and R with its addresses and bytes, "
		       "the listener at R only");

		/* (b) G names it by the guest's handle: at G at once, at R when
		 * RENAME came; the old name is gone at both. */
		spin(100);   /* nothing under way (see the report on RENAME) */
		rc = mig_fwd_rename(fa, o1, name);
		okl = rc == 0 && mig_fwd_has(fa, name) && !mig_fwd_has(fa, o1);
		okr = SPIN_COND(mig_fwd_has(fb, name), TMO) && !mig_fwd_has(fb, o1);
		tap_ok(okl && okr && mig_fwd_count(fa) == 1 && mig_fwd_count(fb) == 2 && ea.n == 0 &&
		       eb.n == 0 && fwd_info(fb, name, &info) && info.accepted &&
		       addr_is(&info.peer, cport) && fwd_info(fa, name, &info) && info.accepted,
		       "rename: 0 (%d), the new name at G and then at R, the old one gone at both",
		       rc);
		fl[0].total += 300000;
		fl[1].total += 300000;
		ok = flows_run(fl, 2, 20000);
		tap_ok(ok && !fl[0].bad && !fl[1].bad && fwd_info(fb, name, &info) &&
		       info.bytes_out == 600000,
		       "after the rename the data flows on both ways, every byte in order (%zu, %zu)",
		       fl[0].got, fl[1].got);

		/* A second connection: renaming it to a name in use, or an
		 * unknown object. */
		c2 = tcp_connect(rport, NULL);
		ok = c2 >= 0 && SPIN_COND(acc.calls == 2, TMO);
		o2 = acc.object;
		g2 = acc.app;
		rc = mig_fwd_rename(fa, o2, name);
		rc2 = mig_fwd_rename(fa, 0x5eed, 0x777);
		tap_ok(ok && o2 && o2 != o1 && g2 >= 0 && rc == -EEXIST && rc2 == -ENOENT &&
		       mig_fwd_rename(fa, o2, 0) < 0 && mig_fwd_has(fa, o2) &&
		       SPIN_COND(mig_fwd_has(fb, o2), TMO) && mig_fwd_count(fb) == 3,
		       "rename to a name in use: -EEXIST (%d); an unknown object: -ENOENT (%d)", rc,
		       rc2);

		/* Both connections close cleanly: only the listener stays. */
		close(c1);
		close(g2);
		rc = read_end(g1, TMO);
		rc2 = read_end(c2, TMO);
		close(g1);
		close(c2);
		c1 = g1 = c2 = g2 = -1;
		ok = SPIN_COND(mig_fwd_count(fb) == 1 && mig_fwd_count(fa) == 0, TMO);
		tap_ok(ok && rc == 0 && rc2 == 0 && mig_fwd_has(fb, L) && ea.n == 0 && eb.n == 0,
		       "the accepted connections close: end of file through, only the listener "
		       "left at R (%u, %u)", mig_fwd_count(fb), mig_fwd_count(fa));

		/* (c) G refuses: the client's connection is reset. */
		acc.refuse = -ECONNREFUSED;
		c3 = tcp_connect(rport, NULL);
		ok = c3 >= 0 && send_pat(c3, 32, 0, 500) && SPIN_COND(acc.calls == 3, TMO);
		rc = c3 >= 0 ? read_end(c3, TMO) : c3;
		ok = ok && SPIN_COND(mig_fwd_count(fb) == 1, TMO);
		tap_ok(ok && rc == -ECONNRESET && acc.object && !mig_fwd_has(fb, acc.object) &&
		       !mig_fwd_has(fa, acc.object) && mig_fwd_has(fb, L) && mig_fwd_count(fa) == 0 &&
		       ea.n == 0 && eb.n == 0,
		       "G refuses (-ECONNREFUSED): the client reads %s, R is back to just its "
		       "listener, the link stays up", rc ? g_strerror(-rc) : "end of file");
		if (c3 >= 0)
			close(c3);
		acc.refuse = 0;

		/* (d) The guest closes its listener: R's copy closes; what it
		 * accepted before stays. */
		c4 = tcp_connect(rport, NULL);
		ok = c4 >= 0 && SPIN_COND(acc.calls == 4, TMO);
		o4 = acc.object;
		g4 = acc.app;
		ok = ok && g4 >= 0 && SPIN_COND(mig_fwd_count(fb) == 2, TMO);
		mig_fwd_forget(fa, L, ECONNABORTED);
		ok = ok && SPIN_COND(!mig_fwd_has(fb, L), TMO);
		rc = tcp_connect(rport, NULL);
		if (rc >= 0)
			close(rc);
		tap_ok(ok && rc == -ECONNREFUSED && mig_fwd_count(fb) == 1 && mig_fwd_has(fb, o4) &&
		       mig_fwd_count(fa) == 1 && ea.n == 0 && eb.n == 0,
		       "G forgets the listener: R's copy closes (a connect: %s), R %u object(s) "
		       "left", rc < 0 ? g_strerror(-rc) : "connected", mig_fwd_count(fb));
		{
			char c[8] = { 0 };

			ok = g4 >= 0 && c4 >= 0 && send(c4, "ping", 4, MSG_NOSIGNAL) == 4 &&
			     recv_exact(g4, c, 4, TMO) && !memcmp(c, "ping", 4) &&
			     send(g4, "pong", 4, MSG_NOSIGNAL) == 4 && recv_exact(c4, c, 4, TMO) &&
			     !memcmp(c, "pong", 4);
		}
		mig_fwd_forget(fa, o4, ECONNABORTED);
		rc = g4 >= 0 ? read_end(g4, TMO) : g4;
		rc2 = c4 >= 0 ? read_end(c4, TMO) : c4;
		tap_ok(ok && rc == -ECONNRESET && rc2 == -ECONNRESET &&
		       SPIN_COND(mig_fwd_count(fb) == 0, TMO) && mig_fwd_count(fa) == 0 && ea.n == 0 &&
		       eb.n == 0,
		       "the connection accepted before still works; forgotten at G: both programs "
		       "read a reset (%s, %s)", g_strerror(-rc), g_strerror(-rc2));
		if (c4 >= 0)
			close(c4);
		if (g4 >= 0)
			close(g4);
		mig_fwd_free(fa);
		spin(100);
		tap_ok(eb.n == 1 && eb.err == 0 && mig_fwd_lost(fb) == 0,
		       "the link ends with BYE, nothing lost at R");
		mig_fwd_free(fb);
	}

	/* A hold keeps R from accepting; a take hands the listening socket
	 * over with what waits in its backlog. */
	{
		struct acc_ctx acc = { .app = -1 };
		struct held_seen hs = { 0 };
		GByteArray *tpend = NULL;
		const uint64_t L = 0x6161;
		uint16_t rport;
		int lsock, c1, tfd = -1, afd = -1, rc;
		bool quiet;

		memset(&ea, 0, sizeof(ea));
		memset(&eb, 0, sizeof(eb));
		link_pair(&lc, &ls);
		fa = mig_fwd_new(lc, "g1", ctx, on_end, &ea);
		fb = mig_fwd_new(ls, "g1", ctx, on_end, &eb);
		mig_fwd_set_accept_fn(fa, on_accept, &acc);
		lsock = listener(&rport);
		mig_fwd_add_listener(fb, L, lsock);
		rc = mig_fwd_hold(fa, on_held, &hs);
		ok = rc == 0 && spin_until(&hs.n, TMO) && hs.err == 0 && mig_fwd_held_by_peer(fb);
		c1 = tcp_connect(rport, NULL);
		spin(100);
		quiet = acc.calls == 0 && mig_fwd_count(fb) == 1;
		rc = mig_fwd_take(fb, L, &tfd, &tpend);
		if (rc == 0) {
			spin(50);
			afd = accept4(tfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		}
		tap_ok(ok && c1 >= 0 && quiet && rc == 0 && tfd == lsock && tpend && tpend->len == 0 &&
		       mig_fwd_count(fb) == 0 && afd >= 0 && acc.calls == 0,
		       "held: R accepts nothing; take: 0 (%d), the listening socket, nothing pending; "
		       "the connection waits in its backlog", rc);
		if (tpend)
			g_byte_array_unref(tpend);
		if (afd >= 0)
			close(afd);
		if (tfd >= 0)
			close(tfd);
		if (c1 >= 0)
			close(c1);
		mig_fwd_free(fa);
		mig_fwd_free(fb);
	}

	/* A raw peer plays G against R's listener copy: ACCEPT comes before
	 * the connection's DATA; RENAME of an unknown object is ignored, a
	 * RENAME renames, RENAME to a name in use breaks the link. */
	{
		struct end_seen e;
		struct hrpc_fwd_accept a = { 0 };
		const uint64_t L = 0x7171;
		uint32_t t1 = 0, t2 = 0;
		void *p1 = NULL, *p2 = NULL;
		size_t l1 = 0, l2 = 0;
		uint16_t rport, cport = 0;
		int lsock, c1, rc, rc2;
		char c[8] = { 0 };
		bool seen;

		fb = hostile_pair(&lc, &e);
		lsock = listener(&rport);
		mig_fwd_add_listener(fb, L, lsock);
		seen = raw_expect(lc, HRPC_FWD_HELLO, NULL, NULL);
		c1 = tcp_connect(rport, &cport);
		seen = seen && c1 >= 0 && send(c1, "hello", 5, MSG_NOSIGNAL) == 5;
		spin(100);
		seen = seen && mig_link_recv(lc, &t1, &p1, &l1, HRPC_FWD_FRAME_MAX, TMO) == 0 &&
		       t1 == HRPC_FWD_ACCEPT && l1 == sizeof(a);
		if (seen)
			memcpy(&a, p1, sizeof(a));
		spin(50);
		seen = seen && mig_link_recv(lc, &t2, &p2, &l2, HRPC_FWD_FRAME_MAX, TMO) == 0 &&
		       t2 == HRPC_FWD_DATA && l2 == 13 && !memcmp(p2, &a.object, 8) &&
		       !memcmp((uint8_t *)p2 + 8, "hello", 5);
		tap_ok(seen && a.listener == L && a.object && a.object != L &&
		       addr_is(&a.local, rport) && addr_is(&a.peer, cport) &&
		       hrpc_fwd_check(HRPC_FWD_ACCEPT, &a, sizeof(a)) == 0 &&
		       mig_fwd_has(fb, a.object) && e.n == 0,
		       "R announces the connection (ACCEPT: listener, object, local port %u, peer "
		       "port %u) before its DATA (frames %u, %u)", a.local.port, a.peer.port, t1, t2);
		g_free(p1);
		g_free(p2);
		{
			struct hrpc_fwd_rename rn = { .object = 0xdead, .name = 0x77 };
			uint8_t d[8 + 4];
			uint64_t nm = 0x1234;

			mig_link_send(lc, HRPC_FWD_RENAME, &rn, sizeof(rn));
			spin(50);
			ok = e.n == 0 && !mig_fwd_has(fb, 0x77) && mig_fwd_count(fb) == 2;
			rn = (struct hrpc_fwd_rename){ .object = a.object, .name = nm };
			mig_link_send(lc, HRPC_FWD_RENAME, &rn, sizeof(rn));
			memcpy(d, &nm, 8);
			memcpy(d + 8, "back", 4);
			mig_link_send(lc, HRPC_FWD_DATA, d, sizeof(d));
			ok = ok && recv_exact(c1, c, 4, TMO) && !memcmp(c, "back", 4) &&
			     mig_fwd_has(fb, nm) && !mig_fwd_has(fb, a.object) && e.n == 0;
			rn = (struct hrpc_fwd_rename){ .object = nm, .name = L };
			mig_link_send(lc, HRPC_FWD_RENAME, &rn, sizeof(rn));
			spin(200);
			rc = read_end(c1, TMO);
		}
		rc2 = tcp_connect(rport, NULL);
		if (rc2 >= 0)
			close(rc2);
		tap_ok(ok && e.n == 1 && e.err == -EPROTO && rc == -ECONNRESET && rc2 == -ECONNREFUSED,
		       "RENAME of an unknown object: ignored; RENAME: DATA for the new name reaches "
		       "the client; RENAME to a name in use at R: -EPROTO (%s), the client reads %s, "
		       "the listener copy closed (%s)", g_strerror(-e.err), g_strerror(-rc),
		       g_strerror(-rc2));
		if (c1 >= 0)
			close(c1);
		mig_fwd_free(fb);
		mig_link_free(lc);
	}

	/* A raw peer plays R against G's accept function. */
	{
		struct end_seen e;
		struct acc_ctx acc = { .app = -1 };
		struct hrpc_fwd_accept a = { .listener = 0x50, .object = 0x60,
					     .local = wire_lo(1000), .peer = wire_lo(2000) };
		struct hrpc_fwd_reset r = { 0 };
		void *p = NULL;
		size_t len = 0;
		uint8_t d[8 + 2];
		char c[4] = { 0 };
		int a1x, b1x;

		/* No accept function: G refuses with a RESET; then with one,
		 * the connection arrives at its program. */
		fa = hostile_pair(&lc, &e);
		mig_link_send(lc, HRPC_FWD_ACCEPT, &a, sizeof(a));
		ok = raw_expect(lc, HRPC_FWD_RESET, &p, &len) && len == sizeof(r);
		if (ok)
			memcpy(&r, p, sizeof(r));
		g_free(p);
		mig_fwd_set_accept_fn(fa, on_accept, &acc);
		a.object = 0x61;
		mig_link_send(lc, HRPC_FWD_ACCEPT, &a, sizeof(a));
		memcpy(d, &a.object, 8);
		memcpy(d + 8, "xy", 2);
		mig_link_send(lc, HRPC_FWD_DATA, d, sizeof(d));
		ok = ok && SPIN_COND(acc.calls == 1, TMO) && acc.app >= 0 &&
		     recv_exact(acc.app, c, 2, TMO) && !memcmp(c, "xy", 2);
		tap_ok(ok && r.object == 0x60 && r.error == ECONNREFUSED && acc.listener == 0x50 &&
		       acc.object == 0x61 && addr_is(&acc.local, 1000) && addr_is(&acc.peer, 2000) &&
		       mig_fwd_count(fa) == 1 && e.n == 0,
		       "ACCEPT with no accept function: RESET (%s); with one: the connection and its "
		       "DATA reach the program", g_strerror(r.error));

		/* ACCEPT naming an object G has: -EPROTO. */
		a.object = 0x61;
		mig_link_send(lc, HRPC_FWD_ACCEPT, &a, sizeof(a));
		spin(200);
		tap_ok(e.n == 1 && e.err == -EPROTO && acc.calls == 1 && acc.app >= 0 &&
		       read_end(acc.app, TMO) == -ECONNRESET,
		       "ACCEPT of an object in use at G: -EPROTO (%s), accept function not run, "
		       "the object reset", g_strerror(-e.err));
		if (acc.app >= 0)
			close(acc.app);
		mig_fwd_free(fa);
		mig_link_free(lc);

		/* The same with an object G added itself. */
		fa = hostile_pair(&lc, &e);
		memset(&acc, 0, sizeof(acc));
		mig_fwd_set_accept_fn(fa, on_accept, &acc);
		tcp_pair(&a1x, &b1x);
		mig_fwd_add(fa, 0x111, b1x);
		a.object = 0x111;
		mig_link_send(lc, HRPC_FWD_ACCEPT, &a, sizeof(a));
		spin(200);
		tap_ok(e.n == 1 && e.err == -EPROTO && acc.calls == 0 &&
		       read_end(a1x, TMO) == -ECONNRESET,
		       "ACCEPT naming an added object: -EPROTO (%s), the object reset",
		       g_strerror(-e.err));
		close(a1x);
		mig_fwd_free(fa);
		mig_link_free(lc);

		/* ACCEPT of the listener itself (listener == object). */
		fa = hostile_pair(&lc, &e);
		mig_fwd_set_accept_fn(fa, on_accept, &acc);
		a.object = a.listener;
		mig_link_send(lc, HRPC_FWD_ACCEPT, &a, sizeof(a));
		spin(200);
		tap_ok(hrpc_fwd_check(HRPC_FWD_ACCEPT, &a, sizeof(a)) == -EPROTO && e.n == 1 &&
		       e.err == -EPROTO && acc.calls == 0,
		       "ACCEPT with listener == object: -EPROTO (%s)", g_strerror(-e.err));
		mig_fwd_free(fa);
		mig_link_free(lc);

		/* ACCEPT with a peer address of port 0. */
		fa = hostile_pair(&lc, &e);
		mig_fwd_set_accept_fn(fa, on_accept, &acc);
		a.object = 0x62;
		a.peer.port = 0;
		mig_link_send(lc, HRPC_FWD_ACCEPT, &a, sizeof(a));
		spin(200);
		tap_ok(hrpc_fwd_check(HRPC_FWD_ACCEPT, &a, sizeof(a)) == -EPROTO && e.n == 1 &&
		       e.err == -EPROTO && acc.calls == 0,
		       "ACCEPT with a bad address (port 0): -EPROTO (%s)", g_strerror(-e.err));
		mig_fwd_free(fa);
		mig_link_free(lc);
	}

	/* ---- calls ---- */
	{
		struct end_seen e1 = { 0 }, e2 = { 0 }, e;
		struct calls_seen cg = { 0 }, cr = { 0 };
		static uint8_t big[1u << 20];
		struct mig_fwd_callmsg m = { .service = 17, .proc = 4, .payload = "hello",
					     .len = 5 };
		mig_fwd *g, *r;
		int rc, busy = 0;

		cg.end = &e1;
		link_pair(&lc, &ls);
		g = mig_fwd_new(lc, "g1", ctx, on_end, &e1);
		r = mig_fwd_new(ls, "g1", ctx, on_end, &e2);
		mig_fwd_set_call_fns(g, NULL, on_reply, on_event, &cg);
		mig_fwd_set_call_fns(r, on_call, NULL, NULL, &cr);
		for (size_t i = 0; i < sizeof(big) - 1; i++)
			big[i] = pat(7, i);
		m.id = 1;
		rc = mig_fwd_call(g, &m);
		m.id = 2;
		m.bulk = big;
		m.bulk_len = sizeof(big) - 1;
		m.bulk_cap = sizeof(big);
		rc = rc ? rc : mig_fwd_call(g, &m);
		spin_calls(&cg.replies, 2, TMO);
		tap_ok(rc == 0 && cr.calls == 2 && cg.replies == 2 && cg.last_id == 2 &&
		       cg.last_status == 0 && cg.len == 5 && !memcmp(cg.payload, "olleh", 5) &&
		       cg.bulk_len == sizeof(big) && cg.bulk_ok && mig_fwd_calls(g) == 0,
		       "two calls answered by the remnant, each under its id: payload, and 1 MiB "
		       "of bulk each way, right");
		m.bulk = NULL;
		m.bulk_len = m.bulk_cap = 0;
		m.id = 3;
		m.oneway = true;
		rc = mig_fwd_call(g, &m);
		m.oneway = false;
		spin_calls(&cr.oneway, 1, TMO);
		spin(50);
		tap_ok(rc == 0 && cr.oneway == 1 && cg.replies == 2, "a one-way call: no reply");
		rc = mig_fwd_event(r, 17, 1, "abcd", 4);
		spin_calls(&cg.events, 1, TMO);
		tap_ok(rc == 0 && cg.events == 1, "an EVENT from the remnant arrives");

		for (int i = 0; i < 17; i++) {
			m.id = 100 + (uint64_t)i;
			busy += mig_fwd_call(g, &m) == -EBUSY;
		}
		m.id = 100;
		rc = mig_fwd_call(g, &m);
		tap_ok(busy == 1 && mig_fwd_calls(g) == 16 && rc == -EBUSY,
		       "16 calls under way at most: the 17th -EBUSY");
		spin_calls(&cg.replies, 18, TMO);
		rc = mig_fwd_call(g, &m);
		tap_ok(rc == 0 && mig_fwd_call(g, &m) == -EEXIST && cg.replies == 18,
		       "all 16 answered; an id under way twice: -EEXIST");
		spin_calls(&cg.replies, 19, TMO);
		m.id = 200;
		m.proc = 9;
		mig_fwd_call(g, &m);
		spin_calls(&cg.replies, 20, TMO);
		tap_ok(cg.last_id == 200 && cg.last_status == -EIO && cg.len == 0,
		       "an answer with a status out of range: -EIO");

		/* The remnant ends the link (BYE) while calls are under way. */
		cg.eio = 0;
		m.proc = 4;
		cg.replies = 0;
		mig_fwd_free(r);   /* BYE: the link ends */
		for (int i = 0; i < 3; i++) {
			m.id = 300 + (uint64_t)i;
			mig_fwd_call(g, &m);
		}
		spin_calls(&cg.replies, 3, TMO);
		spin(50);
		tap_ok(cg.replies == 3 && cg.eio == 3 && e1.n == 1 && cg.ended_before == 0,
		       "the link ended with 3 calls under way: each fails with -EIO, before the "
		       "end is reported");
		mig_fwd_free(g);

		/* Hostile remnants. */
		g = hostile_pair(&lc, &e);
		mig_fwd_set_call_fns(g, NULL, on_reply, on_event, &cg);
		{
			struct hrpc_fwd_reply rp = { .id = 77 };

			mig_link_send(lc, HRPC_FWD_REPLY, &rp, sizeof(rp));
			spin(200);
			tap_ok(e.n == 1 && e.err == -EPROTO, "a REPLY to no call under way: -EPROTO (%s)",
			       g_strerror(-e.err));
		}
		mig_fwd_free(g);
		mig_link_free(lc);
		g = hostile_pair(&lc, &e);
		mig_fwd_set_call_fns(g, NULL, on_reply, on_event, &cg);
		{
			struct {
				struct hrpc_fwd_reply rp;
				uint8_t b[16];
			} rb = { .rp = { .id = 5, .bulk_len = 16 } };
			struct hrpc_fwd_call bad = { .id = 1, .service = 17, .len = 8 };

			m.id = 5;
			m.bulk = big;
			m.bulk_len = 0;
			m.bulk_cap = 8;
			mig_fwd_call(g, &m);
			raw_expect(lc, HRPC_FWD_CALL, NULL, NULL);
			mig_link_send(lc, HRPC_FWD_REPLY, &rb, sizeof(rb));
			spin(200);
			tap_ok(e.n == 1 && e.err == -EPROTO &&
			       hrpc_fwd_check(HRPC_FWD_CALL, &bad, sizeof(bad)) == -EPROTO,
			       "a REPLY with more bulk than the call had room for: -EPROTO (%s); a "
			       "CALL whose lengths do not add up is refused", g_strerror(-e.err));
		}
		mig_fwd_free(g);
		mig_link_free(lc);

		/* A guest's end that calls on without reading the replies: the
		 * remnant holds 16 at most, the next CALL breaks the link. */
		r = hostile_pair(&lc, &e);
		memset(&cr, 0, sizeof(cr));
		mig_fwd_set_call_fns(r, on_call, NULL, NULL, &cr);
		for (int i = 0; i < 40 && !e.n; i++) {
			struct hrpc_fwd_call fc = { .id = 1000 + (uint64_t)i, .service = 17, .proc = 5,
						    .bulk_len = 0, .bulk_cap = 1u << 20 };

			mig_link_send(lc, HRPC_FWD_CALL, &fc, sizeof(fc));
			spin(20);
		}
		tap_ok(e.n == 1 && e.err == -EPROTO && cr.calls > 16 && cr.calls < 40,
		       "a peer that calls on without reading its replies: the link breaks after "
		       "%d calls (-EPROTO), nothing buffered past 16 replies", cr.calls);
		mig_fwd_free(r);
		mig_link_free(lc);
	}
	close(lfd);
	g_main_context_unref(ctx);
	return tap_failed ? 1 : 0;
}
