/* SPDX-License-Identifier: MIT */
/*
 * sock-probe - guest test program for socket outsourcing.  Runs inside a
 * NIC-less guest whose AF_INET/AF_INET6 sockets are the host's; each
 * subcommand checks one behaviour against a host echo server (TCP and UDP,
 * 127.0.0.1 and ::1, port P) and prints "RESULT <name> PASS|FAIL <detail>".
 *
 *   sock-probe [-p PORT] [-n COUNT] [-d DENIED_IP] [-H HOST_IPV4] CHECK...
 *   checks: raw poll epoll select udp udp6 v6 nbrefused denied many sigrecv
 *           rcvtimeo shutdown-accept nonblock options getname rtt close-race share
 *           partial backpressure neverread peek waitall rcvlowat fionread oob
 *           shutwr epipe udptrunc linger closeflush rebind
 *
 * The buffer checks (partial ... udptrunc) use a connection from the guest
 * to a listener of its own on 127.0.0.1: both ends are host sockets, so a
 * guest socket that does not read is a host peer that does not read.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/chardev.h"

static int port = 7;
static int count = 200;
static const char *denied_ip = "127.0.0.3";
static const char *host4 = "127.0.0.1";   /* -H: where the host's servers are */
static int failures;

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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int tcp_connect(int family, int p)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(p);
		inet_pton(AF_INET, host4, &in->sin_addr);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int echo_roundtrip(int fd, const char *msg)
{
	char buf[256];
	size_t n = strlen(msg), got = 0;

	if (send(fd, msg, n, 0) != (ssize_t)n)
		return -1;
	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return memcmp(buf, msg, n) ? -1 : 0;
}

static void check_raw(void)
{
	int a = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), ea = errno;
	int b = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), eb = errno;
	int c = socket(AF_INET6, SOCK_SEQPACKET, 0), ec = errno;

	result("raw", a < 0 && ea == ESOCKTNOSUPPORT && b < 0 && eb == EPROTONOSUPPORT &&
	       c < 0 && ec == ESOCKTNOSUPPORT,
	       "SOCK_RAW: %s; ICMP dgram: %s; SEQPACKET: %s", strerror(ea), strerror(eb),
	       strerror(ec));
}

static void check_poll(void)
{
	int fd = tcp_connect(AF_INET, port), ok = 0;
	struct pollfd p;
	char buf[8];

	if (fd >= 0) {
		p.fd = fd;
		p.events = POLLIN;
		ok = poll(&p, 1, 200) == 0;                    /* nothing yet */
		send(fd, "ping", 4, 0);
		ok = ok && poll(&p, 1, 5000) == 1 && (p.revents & POLLIN);
		ok = ok && recv(fd, buf, sizeof(buf), 0) == 4;
		p.events = POLLOUT;
		ok = ok && poll(&p, 1, 1000) == 1 && (p.revents & POLLOUT);
		close(fd);
	}
	result("poll", ok, "poll: timeout when idle, POLLIN after the echo, POLLOUT");
}

static void check_epoll(void)
{
	int fd = tcp_connect(AF_INET, port), ep = epoll_create1(0), ok = 0, n;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out[4];
	char buf[8];

	if (fd >= 0) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		ok = epoll_wait(ep, out, 4, 200) == 0;
		send(fd, "pong", 4, 0);
		n = epoll_wait(ep, out, 4, 5000);
		ok = ok && n == 1 && (out[0].events & EPOLLIN);
		ok = ok && recv(fd, buf, sizeof(buf), 0) == 4;
		ok = ok && recv(fd, buf, sizeof(buf), 0) < 0 && errno == EAGAIN;
		/* edge-triggered: a second echo gives a second edge */
		send(fd, "ping", 4, 0);
		n = epoll_wait(ep, out, 4, 5000);
		ok = ok && n == 1 && recv(fd, buf, sizeof(buf), 0) == 4;
		close(fd);
	}
	close(ep);
	result("epoll", ok, "epoll (edge-triggered, non-blocking): one edge per echo, EAGAIN when drained");
}

static void check_select(void)
{
	int fd = tcp_connect(AF_INET, port), ok = 0;
	struct timeval tv = { 5, 0 };
	fd_set r;
	char buf[8];

	if (fd >= 0) {
		FD_ZERO(&r);
		FD_SET(fd, &r);
		send(fd, "sel!", 4, 0);
		ok = select(fd + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &r) &&
		     recv(fd, buf, sizeof(buf), 0) == 4;
		close(fd);
	}
	result("select", ok, "select reports the echo");
}

static void check_udp(int family, const char *name)
{
	int fd = socket(family, SOCK_DGRAM, 0), ok = 0;
	struct sockaddr_storage to = { 0 }, from;
	socklen_t tl, fl = sizeof(from);
	struct timeval tv = { 5, 0 };
	char buf[2048], msg[1200];

	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&to;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		tl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = in6addr_loopback;
		tl = sizeof(*in6);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd >= 0 && sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&to, tl) == sizeof(msg)) {
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		ok = n == sizeof(msg) && !memcmp(buf, msg, sizeof(msg)) && from.ss_family == family;
	}
	close(fd);
	result(name, ok, "UDP echo of 1200 bytes with the sender's address");
}

static void check_v6(void)
{
	int fd = tcp_connect(AF_INET6, port), ok;
	struct sockaddr_in6 me;
	socklen_t l = sizeof(me);
	char a[64] = "";

	ok = fd >= 0 && echo_roundtrip(fd, "over ipv6") == 0 &&
	     getsockname(fd, (struct sockaddr *)&me, &l) == 0 && me.sin6_family == AF_INET6;
	inet_ntop(AF_INET6, &me.sin6_addr, a, sizeof(a));
	if (fd >= 0)
		close(fd);
	result("v6", ok, "TCP echo over ::1 (local address %s)", a);
}

static void check_nbrefused(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port + 1) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), rc, e, err = -1;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t l = sizeof(err);

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&in, sizeof(in));
	e = errno;
	poll(&p, 1, 5000);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	close(fd);
	result("nbrefused", rc < 0 && e == EINPROGRESS && err == ECONNREFUSED,
	       "non-blocking connect to a closed port: %s, poll %#x, SO_ERROR %s",
	       strerror(e), p.revents, strerror(err));
}

static void check_denied(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc, e;

	inet_pton(AF_INET, denied_ip, &in.sin_addr);
	rc = connect(fd, (struct sockaddr *)&in, sizeof(in));
	e = errno;
	close(fd);
	result("denied", rc < 0 && e == EACCES, "connect to %s (denied by the host's policy): %s",
	       denied_ip, rc < 0 ? strerror(e) : "connected!");
}

static void check_many(void)
{
	int *fds = calloc(count, sizeof(int)), opened = 0, good = 0;
	double t0 = now();

	for (int i = 0; i < count; i++) {
		fds[i] = tcp_connect(AF_INET, port);
		if (fds[i] >= 0)
			opened++;
	}
	for (int i = 0; i < count; i++) {
		char m[32];

		snprintf(m, sizeof(m), "conn %d", i);
		if (fds[i] >= 0 && echo_roundtrip(fds[i], m) == 0)
			good++;
	}
	for (int i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	result("many", good == count, "%d concurrent connections open at once, %d echoed (%.1f s)",
	       opened, good, now() - t0);
	free(fds);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void check_sigrecv(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };  /* no SA_RESTART */
	int fd = tcp_connect(AF_INET, port), e = 0;
	double t0 = now(), dt;
	ssize_t n = -2;
	char buf[8];

	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	if (fd >= 0) {
		n = recv(fd, buf, sizeof(buf), 0);   /* the echo server sends nothing */
		e = errno;
		close(fd);
	}
	dt = now() - t0;
	result("sigrecv", n < 0 && e == EINTR && dt > 0.5 && dt < 10,
	       "blocked recv interrupted by SIGALRM: %s after %.2f s", strerror(e), dt);
}

static void check_rcvtimeo(void)
{
	struct timeval tv = { 0, 500000 };
	int fd = tcp_connect(AF_INET, port), e = 0;
	double t0 = now(), dt;
	ssize_t n = -2;
	char buf[8];

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(fd, buf, sizeof(buf), 0);
		e = errno;
		close(fd);
	}
	dt = now() - t0;
	result("rcvtimeo", n < 0 && e == EAGAIN && dt > 0.4 && dt < 5,
	       "SO_RCVTIMEO 0.5 s: %s after %.2f s", strerror(e), dt);
}

/* The syscall thread `tid` of this process sleeps in (-1 while it runs or
 * cannot be read).  /proc/PID/task/TID/syscall names it only for a task
 * that is not running: a number there means the thread is blocked. */
static long blocked_in(pid_t tid)
{
	char path[64], buf[64] = "";
	FILE *f;
	long nr = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	return nr;
}

/* Wait up to 5 s until the thread that stores its id in *tid is blocked in
 * syscall a or b (an accept or a recv may be either of two).  1 if it is. */
static int wait_blocked(volatile pid_t *tid, long a, long b)
{
	for (int i = 0; i < 5000; i++) {
		long nr = *tid ? blocked_in(*tid) : -1;

		if (nr == a || nr == b)
			return 1;
		usleep(1000);
	}
	return 0;
}

struct acceptor {
	int fd;
	volatile pid_t tid;
};

static void *acceptor(void *arg)
{
	struct acceptor *a = arg;
	int c;

	a->tid = (pid_t)syscall(SYS_gettid);
	c = accept(a->fd, NULL, NULL);
	a->fd = c < 0 ? -errno : c;
	return NULL;
}

static void check_shutdown_accept(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), blocked;
	struct acceptor arg = { .fd = fd };
	pthread_t th;
	double t0;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&in, sizeof(in));
	listen(fd, 4);
	pthread_create(&th, NULL, acceptor, &arg);
	blocked = wait_blocked(&arg.tid, SYS_accept, SYS_accept4);
	t0 = now();
	shutdown(fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(fd);
	result("shutdown-accept", blocked && arg.fd == -EINVAL && now() - t0 < 5,
	       "shutdown() of a listener wakes a thread blocked in accept (%s): %s",
	       blocked ? "seen blocked" : "never seen blocked",
	       arg.fd < 0 ? strerror(-arg.fd) : "accepted?");
}

static void check_nonblock(void)
{
	int fd = tcp_connect(AF_INET, port), ok = 0;
	char buf[8];

	if (fd >= 0) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		ok = recv(fd, buf, sizeof(buf), 0) < 0 && errno == EAGAIN;
		ok = ok && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN;
		close(fd);
	}
	result("nonblock", ok, "O_NONBLOCK and MSG_DONTWAIT: EAGAIN at once");
}

static void check_options(void)
{
	int fd = tcp_connect(AF_INET, port), one = 1, v = 0, ok;
	socklen_t l = sizeof(v);

	ok = fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
	     getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l) == 0 && v == 1;
	v = 0;
	l = sizeof(v);
	ok = ok && setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0 &&
	     getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &l) == 0 && v == 1;
	v = -1;
	l = sizeof(v);
	ok = ok && ioctl(fd, FIONREAD, &v) == 0 && v == 0;
	if (fd >= 0)
		close(fd);
	result("options", ok, "TCP_NODELAY, SO_KEEPALIVE, FIONREAD");
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct blocked {
	int fd;
	ssize_t n;
	int err;
	volatile pid_t tid;
};

static void *blocked_recv(void *arg)
{
	struct blocked *b = arg;
	char buf[8];

	b->tid = (pid_t)syscall(SYS_gettid);
	b->n = recv(b->fd, buf, sizeof(buf), 0);
	b->err = errno;
	return NULL;
}

/* close() while another thread is blocked in recv() on the same socket:
 * close returns at once (the blocked call keeps its file reference, as on
 * Linux); a signal then ends the blocked recv with EINTR; nothing hangs. */
static void check_close_race(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct blocked b = { .fd = tcp_connect(AF_INET, port), .n = -2 };
	pthread_t th;
	double t0, dclose;
	int before, after = 1;

	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&th, NULL, blocked_recv, &b);
	before = wait_blocked(&b.tid, SYS_recvfrom, SYS_recvmsg);
	t0 = now();
	close(b.fd);
	dclose = now() - t0;
	/* Not a wait but the claim itself: for 0.2 s after the close the
	 * recv is still blocked (the close did not end it). */
	for (int i = 0; i < 200 && after; i++) {
		long nr = blocked_in(b.tid);

		after = nr == SYS_recvfrom || nr == SYS_recvmsg;
		usleep(1000);
	}
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	result("close-race", before && after && dclose < 1 && b.n < 0 && b.err == EINTR,
	       "close with a recv blocked in another thread (%s): close took %.3f s, the recv "
	       "stayed blocked (%s) and ended with %s after a signal",
	       before ? "seen blocked" : "never seen blocked", dclose, after ? "yes" : "no",
	       b.n < 0 ? strerror(b.err) : "data?");
}

/* dup and fork share one socket: both descriptors reach the same host socket. */
static void check_share(void)
{
	int fd = tcp_connect(AF_INET, port), fd2, ok, st = -1;
	pid_t pid;
	char buf[16] = "";

	fd2 = dup(fd);
	close(fd);
	ok = fd2 >= 0 && echo_roundtrip(fd2, "dup") == 0;
	pid = fork();
	if (pid == 0)
		_exit(send(fd2, "forked", 6, 0) == 6 ? 0 : 1);
	waitpid(pid, &st, 0);
	ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	     recv(fd2, buf, 6, MSG_WAITALL) == 6 && !memcmp(buf, "forked", 6);
	close(fd2);
	result("share", ok, "dup'ed descriptor works after the original is closed; a forked child "
	       "sends on the inherited socket, the parent reads the echo");
}

/* ---- buffer semantics (the data rings of version 2, and version 1 alike) ---- */

/* A connection to ourselves through the host: *c the connecting end (with
 * SO_RCVLOWAT `lowat` set before connect when > 0), *s the accepted end. */
static int loop_pair(int *c, int *s, int lowat)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t l = sizeof(in);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	*c = *s = -1;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&in, &l) < 0)
		goto fail;
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0)
		goto fail;
	if (lowat > 0)
		setsockopt(*c, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	if (connect(*c, (struct sockaddr *)&in, sizeof(in)) < 0)
		goto fail;
	*s = accept(lfd, NULL, NULL);
	if (*s < 0)
		goto fail;
	close(lfd);
	/* a check that goes wrong fails, it does not hang the guest */
	for (int i = 0; i < 2; i++) {
		struct timeval rt = { 30, 0 }, st = { 60, 0 };
		int fd = i ? *s : *c;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st));
	}
	return 0;
fail:
	if (lfd >= 0)
		close(lfd);
	if (*c >= 0)
		close(*c);
	*c = -1;
	return -1;
}

/* The test stream: byte i of a connection is pat(i). */
static unsigned char pat(size_t i)
{
	return (unsigned char)(i % 251 + (i >> 16));
}

static void fill(unsigned char *b, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i);
}

/* Read exactly `want` bytes of the test stream starting at `off`; 0 if
 * they came, in order, within 60 s. */
static int drain_check(int fd, size_t off, size_t want)
{
	static unsigned char buf[256 << 10];
	struct timeval tv = { 60, 0 };
	size_t got = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < want) {
		size_t n = want - got < sizeof(buf) ? want - got : sizeof(buf);
		ssize_t r = recv(fd, buf, n, 0);

		if (r <= 0)
			return -1;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pat(off + got + i))
				return -2;
		got += (size_t)r;
	}
	return 0;
}

/* Non-blocking sends into a connection whose reader does not read, until
 * EAGAIN (at most `limit` bytes).  *first: what the first send took;
 * *shorts: sends that took less than asked (and more than 0). */
#define BIG (1u << 20)
static size_t fill_until_eagain(int fd, size_t limit, ssize_t *first, int *shorts, int *err)
{
	static unsigned char buf[BIG];
	size_t total = 0;
	double t0 = now();

	*first = -2;
	*shorts = 0;
	*err = 0;
	while (total < limit && now() - t0 < 60) {
		ssize_t n;

		fill(buf, total, BIG);
		n = send(fd, buf, BIG, MSG_DONTWAIT);
		if (*first == -2)
			*first = n;
		if (n < 0) {
			*err = errno;
			if (errno != EAGAIN)
				break;
			/* EAGAIN once the host's buffers are full too: wait a
			 * little and make sure it stays so */
			usleep(200000);
			n = send(fd, buf, BIG, MSG_DONTWAIT);
			if (n < 0) {
				*err = errno;
				break;
			}
		}
		if (n > 0 && (size_t)n < BIG)
			(*shorts)++;
		total += (size_t)n;
	}
	return total;
}

static void check_partial(void)
{
	int c, s, shorts = 0, err = 0, rc = -3;
	ssize_t first = -2;
	size_t total = 0;

	if (loop_pair(&c, &s, 0) == 0) {
		total = fill_until_eagain(c, 256u << 20, &first, &shorts, &err);
		rc = drain_check(s, 0, total);
		close(c);
		close(s);
	}
	result("partial", first > 0 && shorts > 0 && err == EAGAIN && rc == 0,
	       "non-blocking sends of 1 MiB to a reader that does not read: first took %zd, "
	       "%d short counts, then %s after %zu bytes; all %zu read back in order (%d)",
	       first, shorts, strerror(err), total, total, rc);
}

struct sender {
	int fd;
	size_t off, len;
	ssize_t sent;
	int err;
	volatile pid_t tid;
};

static void *blocking_send(void *arg)
{
	struct sender *sd = arg;
	unsigned char *buf = malloc(sd->len);

	fill(buf, sd->off, sd->len);
	sd->tid = (pid_t)syscall(SYS_gettid);
	sd->sent = send(sd->fd, buf, sd->len, 0);
	sd->err = errno;
	free(buf);
	return NULL;
}

/* A reader that does not read: the writer's sends stop (EAGAIN, then a
 * blocking send blocks); once it reads, the blocked send completes and not a
 * byte is lost. */
static void check_backpressure(void)
{
	struct sender sd = { .len = 4u << 20, .sent = -2 };
	int c, s, shorts, err = 0, blocked = 0, rc = -3;
	ssize_t first;
	size_t total = 0;
	pthread_t th;

	if (loop_pair(&c, &s, 0) == 0) {
		total = fill_until_eagain(c, 256u << 20, &first, &shorts, &err);
		sd.fd = c;
		sd.off = total;
		pthread_create(&th, NULL, blocking_send, &sd);
		blocked = wait_blocked(&sd.tid, SYS_sendto, SYS_sendmsg);
		/* blocked, and it stays so while nobody reads */
		usleep(300000);
		blocked = blocked && sd.sent == -2;
		rc = drain_check(s, 0, total + sd.len);
		pthread_join(th, NULL);
		close(c);
		close(s);
	}
	result("backpressure", err == EAGAIN && blocked && sd.sent == (ssize_t)sd.len && rc == 0,
	       "full after %zu bytes (%s); a blocking send of 4 MiB %s; after reading it "
	       "returned %zd, %zu bytes in order (%d)", total, strerror(err),
	       blocked ? "blocked" : "did not block", sd.sent, total + sd.len, rc);
}

/* A reader that never reads: what waits for it is bounded (the writer gets
 * EAGAIN), FIONREAD stays within reason, and closing both ends unread
 * leaves the service working. */
static void check_neverread(void)
{
	int c, s, shorts, err = 0, inq = -1, ok;
	ssize_t first;
	size_t total = 0;

	if (loop_pair(&c, &s, 0) == 0) {
		total = fill_until_eagain(c, 256u << 20, &first, &shorts, &err);
		ioctl(s, FIONREAD, &inq);
		close(s);
		close(c);
	}
	ok = err == EAGAIN && total < (64u << 20) && inq > 0 && inq <= (int)(16u << 20);
	c = tcp_connect(AF_INET, port);
	ok = ok && c >= 0 && echo_roundtrip(c, "still there") == 0;
	if (c >= 0)
		close(c);
	result("neverread", ok, "writer stopped (%s) after %zu bytes; the reader's FIONREAD %d; "
	       "closed unread, the next connection echoes", strerror(err), total, inq);
}

/* Wait until `fd` has at least `n` bytes to read (FIONREAD), up to 10 s. */
static int wait_inq(int fd, int n)
{
	for (int i = 0; i < 10000; i++) {
		int v = -1;

		if (ioctl(fd, FIONREAD, &v) == 0 && v >= n)
			return v;
		usleep(1000);
	}
	return -1;
}

static void check_peek(void)
{
	char buf[32] = "";
	int c, s, ok = 0;
	ssize_t a = -2, b = -2, e;
	int ee;

	if (loop_pair(&c, &s, 0) == 0) {
		e = recv(c, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		ee = errno;
		send(s, "hello world", 11, 0);
		wait_inq(c, 11);
		a = recv(c, buf, 5, MSG_PEEK);
		ok = e < 0 && ee == EAGAIN && a == 5 && !memcmp(buf, "hello", 5);
		memset(buf, 0, sizeof(buf));
		b = recv(c, buf, sizeof(buf), 0);
		ok = ok && b == 11 && !memcmp(buf, "hello world", 11);
		close(c);
		close(s);
	}
	result("peek", ok, "MSG_PEEK on nothing: EAGAIN; peek 5 of 11: %zd, then a read takes all: %zd",
	       a, b);
}

struct trickle {
	int fd, pieces;
	size_t piece;
};

static void *trickle(void *arg)
{
	struct trickle *t = arg;
	unsigned char *buf = malloc(t->piece);

	for (int i = 0; i < t->pieces; i++) {
		usleep(100000);
		fill(buf, (size_t)i * t->piece, t->piece);
		send(t->fd, buf, t->piece, 0);
	}
	free(buf);
	return NULL;
}

static void check_waitall(void)
{
	struct trickle t = { .pieces = 4, .piece = 3000 };
	static unsigned char buf[12000];
	int c, s, ok = 0, bad = 0;
	ssize_t n = -2;
	double t0 = now(), dt = 0;
	pthread_t th;

	if (loop_pair(&c, &s, 0) == 0) {
		t.fd = s;
		pthread_create(&th, NULL, trickle, &t);
		n = recv(c, buf, sizeof(buf), MSG_WAITALL);
		dt = now() - t0;
		pthread_join(th, NULL);
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != pat((size_t)i);
		ok = n == (ssize_t)sizeof(buf) && !bad && dt > 0.3;
		close(c);
		close(s);
	}
	result("waitall", ok, "MSG_WAITALL over 4 pieces 0.1 s apart: %zd bytes after %.2f s", n, dt);
}

static void check_rcvlowat(void)
{
	struct pollfd p;
	char buf[256];
	int c, s, ok = 0, p1 = -2, p2 = -2;
	ssize_t n = -2;

	memset(buf, 'l', sizeof(buf));
	if (loop_pair(&c, &s, 100) == 0) {
		p.fd = c;
		p.events = POLLIN;
		send(s, buf, 50, 0);
		p1 = poll(&p, 1, 500);           /* 50 < 100: not readable */
		send(s, buf, 60, 0);
		p2 = poll(&p, 1, 5000);          /* 110 >= 100 */
		n = recv(c, buf, sizeof(buf), 0);
		ok = p1 == 0 && p2 == 1 && (p.revents & POLLIN) && n == 110;
		close(c);
		close(s);
	}
	result("rcvlowat", ok, "SO_RCVLOWAT 100: poll with 50 bytes %d, with 110 bytes %d; recv %zd",
	       p1, p2, n);
}

static void check_fionread(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	char buf[2048];
	int c, s, u, v = -1, ud = -1, ok = 0, zero = -1;

	memset(buf, 'f', sizeof(buf));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (loop_pair(&c, &s, 0) == 0) {
		ioctl(c, FIONREAD, &zero);
		send(s, buf, 1234, 0);
		v = wait_inq(c, 1234);
		ok = zero == 0 && v == 1234 && recv(c, buf, sizeof(buf), 0) == 1234;
		ioctl(c, FIONREAD, &zero);
		ok = ok && zero == 0;
		close(c);
		close(s);
	}
	/* UDP: the size of the next datagram */
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u >= 0) {
		sendto(u, buf, 100, 0, (struct sockaddr *)&to, sizeof(to));
		sendto(u, buf, 200, 0, (struct sockaddr *)&to, sizeof(to));
		ud = wait_inq(u, 1);
		close(u);
	}
	result("fionread", ok && ud == 100, "FIONREAD: 0 when empty, %d after 1234 bytes, 0 after "
	       "reading; UDP: %d (next datagram of 100 and 200)", v, ud);
}

static void check_oob(void)
{
	int fd = tcp_connect(AF_INET, port), e = 0;
	ssize_t n = -2;
	char b;

	if (fd >= 0) {
		n = recv(fd, &b, 1, MSG_OOB | MSG_DONTWAIT);
		e = errno;
		close(fd);
	}
	result("oob", n < 0 && (e == EINVAL || e == EOPNOTSUPP),
	       "recv(MSG_OOB) without urgent data: %s", n < 0 ? strerror(e) : "data?");
}

/* shutdown(SHUT_WR) right after a large write: the peer gets every byte,
 * then EOF; our side still reads what the peer sends afterwards. */
static void check_shutwr(void)
{
	size_t len = 512u << 10;
	unsigned char *buf = malloc(len);
	struct pollfd p;
	int c, s, ok = 0, rc = -3, rdhup = 0;
	ssize_t eof = -2, back = -2;
	char r[8];

	struct timeval tv = { 20, 0 };

	fill(buf, 0, len);
	if (loop_pair(&c, &s, 0) == 0) {
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ok = send(c, buf, len, 0) == (ssize_t)len && shutdown(c, SHUT_WR) == 0;
		rc = drain_check(s, 0, len);
		eof = recv(s, r, sizeof(r), 0);
		p.fd = s;
		p.events = POLLIN | POLLRDHUP;
		rdhup = poll(&p, 1, 1000) == 1 && (p.revents & POLLRDHUP);
		send(s, "late", 4, 0);
		back = recv(c, r, 4, MSG_WAITALL);
		ok = ok && rc == 0 && eof == 0 && rdhup && back == 4;
		close(c);
		close(s);
	}
	free(buf);
	result("shutwr", ok, "512 KiB then shutdown(SHUT_WR): all read (%d), then EOF (%zd), "
	       "POLLRDHUP %s; the other way still works (%zd)", rc, eof, rdhup ? "yes" : "no", back);
}

static volatile int sigpipes;

static void on_pipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* Writing to a connection the peer closed: EPIPE (maybe ECONNRESET first)
 * and SIGPIPE, none with MSG_NOSIGNAL. */
static void check_epipe(void)
{
	struct sigaction sa = { .sa_handler = on_pipe }, old;
	int c, s, e = 0, resets = 0, before;
	char buf[4096] = "";
	double t0 = now();

	sigaction(SIGPIPE, &sa, &old);
	if (loop_pair(&c, &s, 0) == 0) {
		close(s);
		while (now() - t0 < 10) {
			if (send(c, buf, sizeof(buf), MSG_NOSIGNAL) < 0) {
				e = errno;
				if (e != ECONNRESET)
					break;
				resets++;
			}
			usleep(10000);
		}
		before = sigpipes;
		if (e == EPIPE)
			e = send(c, buf, sizeof(buf), 0) < 0 ? errno : 0;
		close(c);
	} else {
		before = 0;
	}
	sigaction(SIGPIPE, &old, NULL);
	result("epipe", e == EPIPE && before == 0 && sigpipes == 1,
	       "send after the peer closed: %s (%d ECONNRESET first), SIGPIPE %d with MSG_NOSIGNAL, "
	       "%d without", strerror(e), resets, before, sigpipes - before);
}

static void check_udptrunc(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 5, 0 };
	char big[3000], buf[1000];
	struct msghdr mh = { 0 };
	struct iovec iov = { buf, sizeof(buf) };
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n = -2;

	memset(big, 'u', sizeof(big));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (u >= 0) {
		setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		sendto(u, big, sizeof(big), 0, (struct sockaddr *)&to, sizeof(to));
		n = recvmsg(u, &mh, MSG_TRUNC);
		close(u);
	}
	result("udptrunc", n == (ssize_t)sizeof(big) && (mh.msg_flags & MSG_TRUNC),
	       "a 3000-byte datagram into 1000 bytes with MSG_TRUNC: %zd, flags %#x", n, mh.msg_flags);
}

/* ---- close semantics: SO_LINGER, a server's restart on its port ---- */

struct reader {
	int fd;
	double delay;           /* s before it starts reading */
	size_t got;
	ssize_t last;           /* the recv that ended it: 0 EOF, -1 error */
	int err;
};

/* Reads the test stream until EOF or an error, after `delay` seconds. */
static void *reader(void *arg)
{
	struct reader *r = arg;
	static unsigned char buf[64 << 10];

	usleep((useconds_t)(r->delay * 1e6));
	for (;;) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), 0);

		if (n <= 0) {
			r->last = n;
			r->err = n < 0 ? errno : 0;
			return NULL;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(r->got + i)) {
				r->last = -1;
				r->err = EILSEQ;
				return NULL;
			}
		r->got += (size_t)n;
	}
}

/*
 * SO_LINGER as Linux's close() honours it (tcp_close(), checked against the
 * host's kernel): with l_linger 2 and a peer that does not read, close()
 * returns after about 2 s and the connection goes on in the background
 * (not reset: the peer reads every byte, then EOF); with a peer that reads,
 * close() returns once the data (and the FIN) are acknowledged; with
 * l_linger 0, close() returns at once and the peer sees ECONNRESET.
 */
static void check_linger(void)
{
	struct linger lg = { 1, 2 };
	struct reader r1 = { .delay = 3.5 }, r2 = { .delay = 0.5 }, r3 = { .delay = 0.2 };
	int c, s, shorts, err;
	size_t total = 0, total2 = 3u << 20;
	ssize_t first;
	double t0, t2 = 0, d1 = -1, d2 = -1, d2r = -1, d3 = -1;
	unsigned char *buf = malloc(total2);
	pthread_t th;

	/* a peer that does not read (for 3.5 s) */
	if (loop_pair(&c, &s, 0) == 0) {
		total = fill_until_eagain(c, 256u << 20, &first, &shorts, &err);
		r1.fd = s;
		pthread_create(&th, NULL, reader, &r1);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		t0 = now();
		close(c);
		d1 = now() - t0;
		pthread_join(th, NULL);
		close(s);
	}
	/* a peer that reads, after 0.5 s: close waits for it */
	fill(buf, 0, total2);
	if (loop_pair(&c, &s, 0) == 0) {
		r2.fd = s;
		t2 = now();
		pthread_create(&th, NULL, reader, &r2);
		send(c, buf, total2, 0);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		t0 = now();
		close(c);
		d2 = now() - t0;
		d2r = now() - t2;       /* not before the reader began */
		pthread_join(th, NULL);
		close(s);
	}
	/* l_linger 0: a reset at once */
	lg.l_linger = 0;
	if (loop_pair(&c, &s, 0) == 0) {
		r3.fd = s;
		pthread_create(&th, NULL, reader, &r3);
		send(c, buf, 1000, 0);
		usleep(100000);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		t0 = now();
		close(c);
		d3 = now() - t0;
		pthread_join(th, NULL);
		close(s);
	}
	free(buf);
	result("linger", d1 > 1.8 && d1 < 3.2 && r1.got == total && r1.last == 0 &&
	       d2 < 1.9 && d2r > 0.45 && r2.got == total2 && r2.last == 0 &&
	       d3 >= 0 && d3 < 0.5 && r3.last < 0 && r3.err == ECONNRESET,
	       "l_linger 2, peer not reading: close took %.2f s, then the peer read %zu of %zu "
	       "bytes and %s; peer reading after 0.5 s: close took %.2f s (returned %.2f s after the "
	       "reader's start), %zu of %zu bytes, %s; "
	       "l_linger 0: close took %.3f s, the peer got %s",
	       d1, r1.got, total, r1.last == 0 ? "EOF" : strerror(r1.err), d2, d2r, r2.got, total2,
	       r2.last == 0 ? "EOF" : strerror(r2.err), d3,
	       r3.last == 0 ? "EOF" : strerror(r3.err));
}

/* Without SO_LINGER, close() returns at once and still delivers every byte
 * the peer has not taken yet (version 2: the out ring's too), then EOF. */
static void check_closeflush(void)
{
	struct reader r = { .delay = 0.5 };
	int c, s, shorts, err = 0;
	size_t total = 0;
	ssize_t first;
	pthread_t th;
	double t0, dt = -1;

	if (loop_pair(&c, &s, 0) == 0) {
		total = fill_until_eagain(c, 256u << 20, &first, &shorts, &err);
		r.fd = s;
		pthread_create(&th, NULL, reader, &r);
		t0 = now();
		close(c);
		dt = now() - t0;
		pthread_join(th, NULL);
		close(s);
	}
	result("closeflush", err == EAGAIN && dt < 0.3 && r.got == total && r.last == 0,
	       "%zu bytes sent to a peer that does not read (then %s), close at once (%.3f s): "
	       "the peer, reading 0.5 s later, got %zu bytes and %s", total, strerror(err), dt,
	       r.got, r.last == 0 ? "EOF" : strerror(r.err));
}

/*
 * One round of a guest server on a port of `family` loopback: listen with
 * SO_REUSEADDR (when `reuse`), take one connection from a client of ours,
 * exchange a line, close the connection first (its host socket goes to
 * TIME_WAIT when the client closed too, `client_closes`) and the listener.
 * *port_io: 0 = any (the port taken is returned). 0 or -errno of the
 * step that failed; *step names it.
 */
static int server_round(int family, int *port_io, int reuse, int client_closes,
			const char **step)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int l = -1, c = -1, s = -1, rc = 0;
	char b[8];

#define STEP(name, cond) do { *step = name; if (!(cond)) { rc = -errno; goto out; } } while (0)
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(*port_io);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(*port_io);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	STEP("socket", (l = socket(family, SOCK_STREAM, 0)) >= 0);
	STEP("SO_REUSEADDR", !reuse || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &reuse,
						  sizeof(reuse)) == 0);
	STEP("bind", bind(l, (struct sockaddr *)&ss, len) == 0);
	STEP("listen", listen(l, 4) == 0);
	STEP("getsockname", getsockname(l, (struct sockaddr *)&ss, &len) == 0);
	*port_io = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sin6 */
	STEP("socket (client)", (c = socket(family, SOCK_STREAM, 0)) >= 0);
	STEP("connect", connect(c, (struct sockaddr *)&ss, len) == 0);
	STEP("accept", (s = accept(l, NULL, NULL)) >= 0);
	STEP("exchange", send(c, "hi", 2, 0) == 2 && recv(s, b, 2, MSG_WAITALL) == 2 &&
			 send(s, "ho", 2, 0) == 2 && recv(c, b, 2, MSG_WAITALL) == 2);
	close(s);       /* the server closes first */
	s = -1;
	if (client_closes) {
		STEP("client EOF", recv(c, b, 1, 0) == 0);
		close(c);
		c = -1;
	}
out:
#undef STEP
	if (s >= 0)
		close(s);
	if (l >= 0)
		close(l);
	if (c >= 0 && !rc && !client_closes) {
		/* the server's end waits in FIN_WAIT2 while this stays open */
		usleep(100000);
	}
	if (c >= 0)
		close(c);
	return rc;
}

/*
 * A guest server restarts on its port right after a connection as Linux
 * lets it with SO_REUSEADDR (over the old connection's TIME_WAIT or
 * FIN_WAIT2), IPv4 and IPv6; without SO_REUSEADDR the same bind is
 * EADDRINUSE (so the port really was still held).
 */
static void check_rebind(void)
{
	static const int fam[2] = { AF_INET, AF_INET6 };
	char detail[512] = "";
	size_t off = 0;
	int ok = 1;

	for (int i = 0; i < 2; i++) {
		const char *step = "", *step2 = "", *step3 = "";
		int p = 0, r1, r2, r3, p3;

		r1 = server_round(fam[i], &p, 1, 1, &step);
		/* no SO_REUSEADDR: the port's TIME_WAIT is in the way */
		p3 = p;
		r3 = r1 ? 0 : server_round(fam[i], &p3, 0, 1, &step3);
		r2 = r1 ? 0 : server_round(fam[i], &p, 1, 0, &step2);
		/* and once more, over the FIN_WAIT2 the round before left */
		if (!r1 && !r2)
			r2 = server_round(fam[i], &p, 1, 1, &step2);
		ok = ok && !r1 && !r2 && r3 == -EADDRINUSE && !strcmp(step3, "bind");
		off += (size_t)snprintf(detail + off, sizeof(detail) - off,
					"%s%s port %d: first %s%s%s, restarts %s%s%s, "
					"without SO_REUSEADDR %s at %s", i ? "; " : "",
					fam[i] == AF_INET ? "IPv4" : "IPv6", p,
					r1 ? step : "ok", r1 ? " " : "", r1 ? strerror(-r1) : "",
					r2 ? step2 : "ok", r2 ? " " : "", r2 ? strerror(-r2) : "",
					r3 ? strerror(-r3) : "ok", r3 ? step3 : "-");
	}
	result("rebind", ok, "%s", detail);
}

/* A connected UDP socket aimed at a closed port: every datagram's ICMP
 * port unreachable is an ECONNREFUSED of its own, the same errno three
 * times in a row (the area's host_err_seq), as on Linux. */
static void check_udprefused(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 3, 0 };
	socklen_t al = sizeof(a);
	char detail[256] = "", b[8];
	size_t off = 0;
	int s, t, refused = 0;

	t = socket(AF_INET, SOCK_DGRAM, 0);	/* find a port, then free it */
	if (t < 0 || bind(t, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(t, (struct sockaddr *)&a, &al) < 0) {
		result("udprefused", 0, "set-up: %s", strerror(errno));
		return;
	}
	close(t);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		result("udprefused", 0, "connect: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < 3; i++) {
		ssize_t r = send(s, "x", 1, 0);

		if (r == 1)
			r = recv(s, b, sizeof(b), 0);
		refused += r < 0 && errno == ECONNREFUSED;
		off += (size_t)snprintf(detail + off, sizeof(detail) - off, "%sround %d: %s",
					i ? ", " : "", i + 1, r < 0 ? strerror(errno) : "data?");
	}
	close(s);
	result("udprefused", refused == 3, "port %u: %s", ntohs(a.sin_port), detail);
}

/* A UDP socket with SO_REUSEPORT bound to `port` on 127.0.0.1: 0 or -errno. */
static int reuseport_bind(int type, uint16_t port, int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;

	*fd = socket(AF_INET, type, 0);
	if (*fd < 0)
		return -errno;
	if (setsockopt(*fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(*fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

/*
 * SO_REUSEPORT among the guest's own sockets: two TCP listeners on one
 * port, and connections to it are accepted; but never with a host service
 * (host-echo.py holds UDP port+6 with SO_REUSEPORT as another user):
 * EADDRINUSE there.
 */
static void check_reuseport(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l1, l2 = -1, h = -1, r1, r2 = -1, rh, accepted = 0;
	uint16_t p = 0;

	r1 = reuseport_bind(SOCK_STREAM, 0, &l1);
	if (!r1 && getsockname(l1, (struct sockaddr *)&a, &al) == 0) {
		p = ntohs(a.sin_port);
		r2 = reuseport_bind(SOCK_STREAM, p, &l2);
	}
	if (!r1 && !r2 && !listen(l1, 8) && !listen(l2, 8)) {
		for (int i = 0; i < 4; i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0);
			struct pollfd pf[2] = { { .fd = l1, .events = POLLIN },
						{ .fd = l2, .events = POLLIN } };

			if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			    poll(pf, 2, 3000) > 0) {
				int s = accept(pf[0].revents ? l1 : l2, NULL, NULL);

				accepted += s >= 0;
				if (s >= 0)
					close(s);
			}
			if (c >= 0)
				close(c);
		}
	}
	rh = reuseport_bind(SOCK_DGRAM, (uint16_t)(port + 6), &h);
	result("reuseport", !r1 && !r2 && accepted == 4 && rh == -EADDRINUSE,
	       "two guest listeners on port %u: %s, %s, %d of 4 connections accepted; "
	       "the host service's SO_REUSEPORT port %d: %s", p, r1 ? strerror(-r1) : "ok",
	       r2 ? strerror(-r2) : "ok", accepted, port + 6, rh ? strerror(-rh) : "joined!");
	close(l1);
	if (l2 >= 0)
		close(l2);
	if (h >= 0)
		close(h);
}

/* The core's counters (/dev/hostrpc0), or all zero. */
static struct hrpc_ioc_info core_info(void)
{
	struct hrpc_ioc_info i;
	int fd = open("/dev/hostrpc0", O_RDWR | O_CLOEXEC);

	memset(&i, 0, sizeof(i));
	i.argsz = sizeof(i);
	if (fd >= 0) {
		if (ioctl(fd, HRPC_IOC_INFO, &i) < 0)
			memset(&i, 0, sizeof(i));
		close(fd);
	}
	return i;
}

/*
 * close() of many sockets is one batch: each CLOSE is published without a
 * doorbell of its own (HRPCK_CALL_LAZY), so 200 closes ring the host a few
 * times, not 200 (the SOCKET calls before, which wait for their replies,
 * ring about once each).  The host did close them all: the first one's
 * port binds again without SO_REUSEADDR right after.
 */
static void check_closemany(void)
{
	enum { N = 200 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct hrpc_ioc_info i0, i1, i2;
	int fds[N], n = 0, s, rebound;
	double t0, t1;

	i0 = core_info();
	for (; n < N; n++) {
		fds[n] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[n] < 0)
			break;
	}
	if (n == N && (bind(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		       getsockname(fds[0], (struct sockaddr *)&a, &al) < 0))
		n = -1;
	i1 = core_info();
	t0 = now();
	for (int k = 0; k < (n > 0 ? n : 0); k++)
		close(fds[k]);
	t1 = now();
	i2 = core_info();
	s = socket(AF_INET, SOCK_DGRAM, 0);
	rebound = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	result("closemany", n == N && i2.calls - i1.calls >= N && i2.doorbells - i1.doorbells <= N / 10 &&
	       rebound,
	       "%d sockets: opening rang %llu doorbells; %llu closes took %.0f us and rang %llu; "
	       "the first one's port %u bound again: %s", n,
	       (unsigned long long)(i1.doorbells - i0.doorbells),
	       (unsigned long long)(i2.calls - i1.calls), (t1 - t0) * 1e6,
	       (unsigned long long)(i2.doorbells - i1.doorbells), ntohs(a.sin_port),
	       rebound ? "yes" : "no");
}

/* Request/response latency: 1-byte TCP round trips to the echo server. */
static void check_rtt(void)
{
	int fd = tcp_connect(AF_INET, port), one = 1, done = 0;
	double t0, dt;
	char c = 'r';

	if (fd >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		echo_roundtrip(fd, "w");	/* warm up */
		t0 = now();
		for (; done < count; done++)
			if (send(fd, &c, 1, 0) != 1 || recv(fd, &c, 1, MSG_WAITALL) != 1)
				break;
		dt = now() - t0;
		close(fd);
	} else {
		dt = 0;
	}
	result("rtt", done == count, "n=%d avg_us=%.1f", done, done ? dt * 1e6 / done : 0.0);
}

static void check_getname(void)
{
	int fd = tcp_connect(AF_INET, port), ok;
	struct sockaddr_in me, peer;
	socklen_t l1 = sizeof(me), l2 = sizeof(peer);

	ok = fd >= 0 && getsockname(fd, (struct sockaddr *)&me, &l1) == 0 &&
	     getpeername(fd, (struct sockaddr *)&peer, &l2) == 0 &&
	     ntohs(peer.sin_port) == port && me.sin_port != 0 &&
	     me.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	if (fd >= 0)
		close(fd);
	result("getname", ok, "getsockname/getpeername (local port %u)", ntohs(me.sin_port));
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "p:n:d:H:")) != -1) {
		switch (opt) {
		case 'H': host4 = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'd': denied_ip = optarg; break;
		default: return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = optind; i < argc; i++) {
		const char *c = argv[i];

		if (!strcmp(c, "raw")) check_raw();
		else if (!strcmp(c, "poll")) check_poll();
		else if (!strcmp(c, "epoll")) check_epoll();
		else if (!strcmp(c, "select")) check_select();
		else if (!strcmp(c, "udp")) check_udp(AF_INET, "udp");
		else if (!strcmp(c, "udp6")) check_udp(AF_INET6, "udp6");
		else if (!strcmp(c, "v6")) check_v6();
		else if (!strcmp(c, "nbrefused")) check_nbrefused();
		else if (!strcmp(c, "denied")) check_denied();
		else if (!strcmp(c, "many")) check_many();
		else if (!strcmp(c, "sigrecv")) check_sigrecv();
		else if (!strcmp(c, "rcvtimeo")) check_rcvtimeo();
		else if (!strcmp(c, "shutdown-accept")) check_shutdown_accept();
		else if (!strcmp(c, "nonblock")) check_nonblock();
		else if (!strcmp(c, "options")) check_options();
		else if (!strcmp(c, "getname")) check_getname();
		else if (!strcmp(c, "rtt")) check_rtt();
		else if (!strcmp(c, "close-race")) check_close_race();
		else if (!strcmp(c, "share")) check_share();
		else if (!strcmp(c, "partial")) check_partial();
		else if (!strcmp(c, "backpressure")) check_backpressure();
		else if (!strcmp(c, "neverread")) check_neverread();
		else if (!strcmp(c, "peek")) check_peek();
		else if (!strcmp(c, "waitall")) check_waitall();
		else if (!strcmp(c, "rcvlowat")) check_rcvlowat();
		else if (!strcmp(c, "fionread")) check_fionread();
		else if (!strcmp(c, "oob")) check_oob();
		else if (!strcmp(c, "shutwr")) check_shutwr();
		else if (!strcmp(c, "epipe")) check_epipe();
		else if (!strcmp(c, "udptrunc")) check_udptrunc();
		else if (!strcmp(c, "linger")) check_linger();
		else if (!strcmp(c, "closeflush")) check_closeflush();
		else if (!strcmp(c, "rebind")) check_rebind();
		else if (!strcmp(c, "closemany")) check_closemany();
		else if (!strcmp(c, "udprefused")) check_udprefused();
		else if (!strcmp(c, "reuseport")) check_reuseport();
		else result(c, 0, "unknown check");
	}
	return failures ? 1 : 0;
}
