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
		else result(c, 0, "unknown check");
	}
	return failures ? 1 : 0;
}
