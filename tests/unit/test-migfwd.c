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
 *   - a hostile peer (a HELLO for another guest, DATA past the window, a
 *     bad frame): the link ends with -EPROTO, the objects are reset.
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

int main(void)
{
	struct end_seen ea = { 0 }, eb = { 0 };
	mig_link *lc, *ls;
	mig_fwd *fa, *fb;
	int a1, fa1, b1, fb1, a2, fa2, b2, fb2;
	struct flow fl[4];
	bool ok;

	tap_plan(17);
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
	}
	close(lfd);
	g_main_context_unref(ctx);
	return tap_failed ? 1 : 0;
}
