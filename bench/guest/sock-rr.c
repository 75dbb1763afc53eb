/* SPDX-License-Identifier: MIT */
/*
 * sock-rr - the guest's client in bench/sock-vm-bench.sh (built static, run
 * inside the guest): request/reply over many TCP connections, pipelined or
 * not, and 1-byte TCP and UDP ping-pong, against bench/sock-rr-server (an
 * echo server: a reply is as long as its request).  Nothing here knows how
 * the guest's sockets are served: the same binary runs in the NIC-less
 * guest with outsourced sockets and in the guest with virtio-net.
 *
 * usage: sock-rr -H HOST -p PORT [-t SECONDS] [-n MAX] [-s SIZE] MODE...
 *   rr:C:D   C connections (epoll, non-blocking), each with D requests of
 *            SIZE bytes (default 64) in flight: a reply that completes
 *            sends the next request at once, so D = 1 is plain
 *            request/reply and D > 1 is pipelining
 *   tcp-pp   1-byte ping-pong on one TCP connection (blocking calls)
 *   udp-pp   1-byte ping-pong over UDP (a datagram lost after 1 s counts
 *            as lost and is sent again)
 *   Each mode runs for SECONDS (default 5; ping-pong stops after MAX round
 *   trips too, default 1000000), after a warm-up of a tenth of that (at
 *   most 0.5 s) whose latencies are not counted.
 * Output: one line per mode, e.g.
 *   RESULT rr:50:1 PASS conns=50 depth=1 size=64 secs=5.00 reqs=12345 rps=2469.0 p50_us=20.1 p99_us=80.3 avg_us=21.0 errors=0
 *   RESULT tcp-pp PASS n=1000 p50_us=70.1 p99_us=150.2 avg_us=75.0 lost=0
 * FAIL instead of PASS when a connection failed, nothing completed, or a
 * tenth of the UDP datagrams were lost; the exit status is the number of
 * modes that failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 64
#define MAX_SAMPLES (4u << 20)

static const char *host = "127.0.0.1";
static int port = 7;
static double secs = 5;
static long max_rounds = 1000000;
static size_t req_size = 64;
static int failures;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Latency samples (ns) of one measurement. */
struct samples {
	uint64_t *v;
	size_t n, cap;
	uint64_t sum;
};

static void sample_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *v;

		if (cap > MAX_SAMPLES)
			return;
		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns;
	s->sum += ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in microseconds; sorts the samples. */
static double pct_us(struct samples *s, double p)
{
	size_t i;

	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	i = (size_t)(p / 100 * (double)s->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > s->n)
		i = s->n;
	return (double)s->v[i - 1] / 1e3;
}

static void result(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	printf("RESULT %s %s ", name, ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static int host_addr(struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int tcp_connect(void)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if (host_addr(&sa) < 0)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* The measured window: after the warm-up, until the deadline. */
static void window(uint64_t *start, uint64_t *end)
{
	double warm = secs / 10 < 0.5 ? secs / 10 : 0.5;

	*start = now_ns() + (uint64_t)(warm * 1e9);
	*end = *start + (uint64_t)(secs * 1e9);
}

/* ---- rr:C:D ---- */

struct conn {
	int fd;
	uint64_t sent_at[MAX_DEPTH];  /* a ring: when each request in flight was issued */
	unsigned head, inflight;
	size_t rx_part;               /* bytes of the oldest reply already read */
	size_t owed;                  /* request bytes issued, not yet written */
	int out_wait;
	int dead;
};

static int conn_flush(int ep, struct conn *c)
{
	static char tx[MAX_DEPTH * 1024];

	while (c->owed) {
		size_t want = c->owed < sizeof(tx) ? c->owed : sizeof(tx);
		ssize_t n = send(c->fd, tx, want, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

			if (!c->out_wait && epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
				return -errno;
			c->out_wait = 1;
			return 0;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		c->owed -= (size_t)n;
	}
	if (c->out_wait) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			return -errno;
		c->out_wait = 0;
	}
	return 0;
}

static void conn_issue(struct conn *c, unsigned k, uint64_t t)
{
	for (unsigned i = 0; i < k; i++) {
		c->sent_at[(c->head + c->inflight) % MAX_DEPTH] = t;
		c->inflight++;
	}
	c->owed += k * req_size;
}

static void mode_rr(const char *name, int nconn, int depth)
{
	static char rx[64 << 10];
	struct conn *conns = calloc((size_t)nconn, sizeof(*conns));
	struct epoll_event evs[256];
	struct samples s = { 0 };
	uint64_t start, end, t, drain_until;
	long done = 0, errors = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), err = 0, live = 0;

	if (!conns || ep < 0 || depth < 1 || depth > MAX_DEPTH || nconn < 1 ||
	    req_size < 1 || req_size > 1024) {
		result(name, 0, "conns=%d depth=%d size=%zu: bad arguments or no memory", nconn,
		       depth, req_size);
		free(conns);
		return;
	}
	for (int i = 0; i < nconn; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
		int fd = tcp_connect();

		conns[i].fd = fd;
		if (fd < 0) {
			err = fd;
			conns[i].dead = 1;
			errors++;
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			err = -errno;
			conns[i].dead = 1;
			errors++;
			continue;
		}
		live++;
	}
	if (errors) {
		result(name, 0, "conns=%d depth=%d size=%zu: %ld connections failed (%s)", nconn,
		       depth, req_size, errors, strerror(-err));
		goto out;
	}
	window(&start, &end);
	t = now_ns();
	for (int i = 0; i < nconn; i++) {
		int rc;

		conn_issue(&conns[i], (unsigned)depth, t);
		rc = conn_flush(ep, &conns[i]);
		if (rc < 0) {
			err = rc;
			conns[i].dead = 1;
			errors++;
			live--;
		}
	}
	drain_until = end + 10000000000ull;
	while (live > 0) {
		int timeout_ms, n;
		long inflight = 0;

		t = now_ns();
		for (int i = 0; i < nconn; i++)
			if (!conns[i].dead)
				inflight += conns[i].inflight;
		if (t >= end && inflight == 0)
			break;
		if (t >= drain_until) {
			errors += inflight ? 1 : 0;
			err = -ETIMEDOUT;
			break;
		}
		timeout_ms = t < end ? (int)((end - t) / 1000000) + 1 : 100;
		n = epoll_wait(ep, evs, 256, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			errors++;
			break;
		}
		for (int e = 0; e < n; e++) {
			struct conn *c = evs[e].data.ptr;
			unsigned k = 0;
			ssize_t r;
			int rc;

			if (c->dead)
				continue;
			if (evs[e].events & EPOLLOUT) {
				rc = conn_flush(ep, c);
				if (rc < 0)
					goto broken;
			}
			if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			r = recv(c->fd, rx, sizeof(rx), 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			rc = r < 0 ? -errno : -EPIPE;
			if (r <= 0)
				goto broken;
			c->rx_part += (size_t)r;
			t = now_ns();
			while (c->rx_part >= req_size && c->inflight) {
				uint64_t sent = c->sent_at[c->head];

				c->head = (c->head + 1) % MAX_DEPTH;
				c->inflight--;
				c->rx_part -= req_size;
				if (sent >= start && t <= end) {
					sample_add(&s, t - sent);
					done++;
				}
				k++;
			}
			rc = -EPROTO;
			if (c->rx_part >= req_size) /* more replies than requests */
				goto broken;
			if (t < end) {
				conn_issue(c, k, t);
				rc = conn_flush(ep, c);
				if (rc < 0)
					goto broken;
			}
			continue;
broken:
			err = rc;
			errors++;
			c->dead = 1;
			live--;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		}
	}
	{
		double avg = s.n ? (double)s.sum / (double)s.n / 1e3 : 0;
		double p50 = pct_us(&s, 50), p99 = pct_us(&s, 99);

		result(name, errors == 0 && done > 0,
		       "conns=%d depth=%d size=%zu secs=%.2f reqs=%ld rps=%.1f p50_us=%.1f "
		       "p99_us=%.1f avg_us=%.1f errors=%ld%s%s", nconn, depth, req_size, secs,
		       done, (double)done / secs, p50, p99, avg, errors, err ? " last_error=" : "",
		       err ? strerror(-err) : "");
	}
out:
	for (int i = 0; i < nconn; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	close(ep);
	free(conns);
	free(s.v);
}

/* ---- ping-pong ---- */

static void mode_pp(const char *name, int udp)
{
	struct samples s = { 0 };
	struct sockaddr_in sa;
	struct timeval tv = { .tv_sec = 1 };
	uint64_t start, end;
	long lost = 0, n = 0;
	int fd, err = 0;

	if (udp) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (host_addr(&sa) < 0 ||
				connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
			err = -errno;
			close(fd);
			fd = err;
		}
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	} else {
		fd = tcp_connect();
	}
	if (fd < 0) {
		result(name, 0, "cannot connect to %s:%d: %s", host, port, strerror(-fd));
		return;
	}
	window(&start, &end);
	for (;;) {
		uint64_t t0 = now_ns(), t1;
		char c = 'p';
		ssize_t r;

		if (t0 >= end || n >= max_rounds)
			break;
		if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
			err = -errno;
			break;
		}
		do
			r = recv(fd, &c, 1, 0);
		while (r < 0 && errno == EINTR);
		t1 = now_ns();
		if (r < 0 && udp && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			lost++;
			if (lost > 100)
				break;
			continue;
		}
		if (r != 1) {
			err = r < 0 ? -errno : -EPIPE;
			break;
		}
		if (t0 >= start) {
			sample_add(&s, t1 - t0);
			n++;
		}
	}
	close(fd);
	{
		double avg = s.n ? (double)s.sum / (double)s.n / 1e3 : 0;
		double p50 = pct_us(&s, 50), p99 = pct_us(&s, 99);

		result(name, !err && n > 0 && lost * 10 <= n,
		       "n=%ld p50_us=%.1f p99_us=%.1f avg_us=%.1f lost=%ld%s%s", n, p50, p99, avg,
		       lost, err ? " error=" : "", err ? strerror(-err) : "");
	}
	free(s.v);
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "H:p:t:n:s:h")) != -1) {
		switch (opt) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'n': max_rounds = atol(optarg); break;
		case 's': req_size = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "usage: sock-rr -H HOST -p PORT [-t SECONDS] [-n MAX] "
				"[-s SIZE] rr:CONNS:DEPTH|tcp-pp|udp-pp...\n");
			return 2;
		}
	}
	if (secs <= 0)
		secs = 1;
	signal(SIGPIPE, SIG_IGN);
	for (int i = optind; i < argc; i++) {
		const char *m = argv[i];
		int c, d;

		if (sscanf(m, "rr:%d:%d", &c, &d) == 2)
			mode_rr(m, c, d);
		else if (!strcmp(m, "tcp-pp"))
			mode_pp(m, 0);
		else if (!strcmp(m, "udp-pp"))
			mode_pp(m, 1);
		else
			result(m, 0, "unknown mode");
	}
	return failures;
}
