/* SPDX-License-Identifier: MIT */
/*
 * sock-rr-server - the host's server for bench/sock-vm-bench.sh: an echo
 * server for TCP and UDP on one port, in one thread on epoll, so that the
 * baseline is not limited by the server (a guest under TCG drives far fewer
 * requests than this serves).  A TCP connection gets back every byte it
 * sends, in order (a request of N bytes is answered by a reply of N bytes);
 * a UDP datagram is sent back to its sender.
 *
 * usage: sock-rr-server [-b ADDR] [-p PORT]
 *   -b ADDR  IPv4 address to listen on (default 127.0.0.1: QEMU's user
 *            networking delivers a guest's 10.0.2.2 there, and hostrpcd's
 *            workers connect there for an outsourced guest's 127.0.0.1)
 *   -p PORT  TCP and UDP port (default 0: the first free port both
 *            protocols can have)
 * Prints "READY port=P" once both sockets listen; runs until SIGTERM or
 * SIGINT, then prints what it served on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64u << 10)

struct conn {
	int fd;
	uint32_t off, len;    /* bytes of buf still to be sent back */
	bool out_wait;        /* registered for EPOLLOUT instead of EPOLLIN */
	char buf[BUF_SIZE];
};

/* epoll data for the two listening sockets; connections carry their own
 * struct conn pointer. */
static int tcp_tag, udp_tag;
static volatile sig_atomic_t stopping;
static unsigned long long tcp_bytes, udp_datagrams, accepted;

static void on_signal(int sig)
{
	stopping = 1;
}

static int listen_on(int type, const char *addr, uint16_t port, uint16_t *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1024) < 0) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

static void conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Send back what is pending; then read and echo until the socket has no
 * more or the peer's window is full (then wait for EPOLLOUT, reading
 * nothing more meanwhile: the peer's requests wait in the kernel). */
static void conn_serve(int ep, struct conn *c)
{
	for (;;) {
		ssize_t n;

		while (c->off < c->len) {
			n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->out_wait = true;
				return;
			}
			if (n <= 0) {
				conn_close(ep, c);
				return;
			}
			c->off += (uint32_t)n;
		}
		n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

			if (c->out_wait)
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			c->out_wait = false;
			c->off = c->len = 0;
			return;
		}
		if (n <= 0) {
			conn_close(ep, c);
			return;
		}
		tcp_bytes += (unsigned long long)n;
		c->off = 0;
		c->len = (uint32_t)n;
	}
}

static void tcp_accept(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;

		if (fd < 0)
			return; /* EAGAIN, or out of fds: the rest wait */
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		accepted++;
	}
}

static void udp_echo(int fd)
{
	static char buf[BUF_SIZE];

	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return;
		udp_datagrams++;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	struct sigaction sa = { .sa_handler = on_signal };
	struct epoll_event ev[64];
	uint16_t port = 0, tport = 0, uport = 0;
	int opt, tfd = -1, ufd = -1, ep;

	while ((opt = getopt(argc, argv, "b:p:h")) != -1) {
		if (opt == 'b') {
			addr = optarg;
		} else if (opt == 'p') {
			port = (uint16_t)atoi(optarg);
		} else {
			fprintf(stderr, "usage: sock-rr-server [-b ADDR] [-p PORT]\n");
			return 2;
		}
	}
	/* Port 0: a free TCP port whose UDP twin is free too. */
	for (int i = 0; i < 100 && ufd < 0; i++) {
		if (tfd >= 0)
			close(tfd);
		tfd = listen_on(SOCK_STREAM, addr, port, &tport);
		if (tfd >= 0)
			ufd = listen_on(SOCK_DGRAM, addr, tport, &uport);
		if (port)
			break;
	}
	if (tfd < 0 || ufd < 0) {
		fprintf(stderr, "sock-rr-server: cannot listen on %s:%u (TCP and UDP): %s\n",
			addr, port, strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &tcp_tag };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev[0]);
	ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &udp_tag };
	epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev[0]);
	printf("READY port=%u\n", tport);
	fflush(stdout);

	while (!stopping) {
		int n = epoll_wait(ep, ev, 64, -1);

		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &tcp_tag)
				tcp_accept(ep, tfd);
			else if (ev[i].data.ptr == &udp_tag)
				udp_echo(ufd);
			else
				conn_serve(ep, ev[i].data.ptr);
		}
	}
	fprintf(stderr, "sock-rr-server: %llu connections, %llu TCP bytes echoed, "
		"%llu UDP datagrams\n", accepted, tcp_bytes, udp_datagrams);
	return 0;
}
