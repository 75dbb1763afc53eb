/* SPDX-License-Identifier: MIT */
/*
 * fwd-probe - the guest's side of tests/vm/migrate/migrate-forward.sh:
 * connections that must keep working after a migration left their peer
 * behind (a service on the source host's loopback).
 *
 *   fwd-probe LPORT WORLD_IP WPORT SECONDS
 *
 * Three connections to echo services: L1 and L2 to 127.0.0.1:LPORT (only
 * the source host has it), W to WORLD_IP:WPORT (reachable from anywhere).
 * Round robin, each round trip on each live connection: 64 bytes (timed:
 * the latency of one call) then 16 KiB, every byte of the echo checked
 * against what was sent.  Once a second one line per connection:
 *
 *   fwd t=SECS L1 bytes=N rtt_us=MEDIAN ...
 *
 * A connection that ends says how ("eof": the peer shut down, then we
 * close it too; "error=...": ECONNRESET and friends), and the others go
 * on.  At the start and the end: each live connection's peer address
 * (getpeername), which must not change when the guest moves.  Last line:
 * "fwd done L1=STATUS L2=STATUS W=STATUS"; then it closes them and waits
 * 3 s before it exits.  Exits 0 unless a byte was wrong.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BIG (16 * 1024)
#define SMALL 64
#define NR 3

struct conn {
	const char *name;
	int fd;
	uint64_t off;              /* pattern offset of the next byte sent */
	uint64_t bytes;            /* echoed and checked */
	char status[96];           /* "ok" while it lives */
	int rtt[4096];
	int nrtt;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t pat(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static int dial(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("fwd cannot connect to %s:%d: %s\n", ip, port, strerror(errno));
		exit(2);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void peer(struct conn *c, const char *when)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char a[32] = "?";

	if (c->fd < 0)
		return;
	if (getpeername(c->fd, (struct sockaddr *)&sa, &sl) == 0)
		inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a));
	printf("fwd %s %s peer=%s:%d\n", c->name, when, a, ntohs(sa.sin_port));
}

/* 0, or -1 with c->status set (the connection is closed then). */
static int xfer(struct conn *c, size_t n)
{
	static uint8_t out[BIG], in[BIG];
	size_t got = 0, sent = 0;

	for (size_t i = 0; i < n; i++)
		out[i] = pat(c->off + i);
	while (got < n) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN | (sent < n ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, 10000) != 1) {
			snprintf(c->status, sizeof(c->status), "hung");
			goto end;
		}
		if (sent < n && (p.revents & POLLOUT)) {
			r = send(c->fd, out + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN) {
				snprintf(c->status, sizeof(c->status), "error=%s", strerror(errno));
				goto end;
			}
			if (r > 0)
				sent += (size_t)r;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv(c->fd, in + got, n - got, MSG_DONTWAIT);
			if (r == 0) {
				snprintf(c->status, sizeof(c->status), "eof");
				goto end;
			}
			if (r < 0 && errno != EAGAIN) {
				snprintf(c->status, sizeof(c->status), "error=%s", strerror(errno));
				goto end;
			}
			if (r > 0)
				got += (size_t)r;
		}
	}
	if (memcmp(in, out, n)) {
		snprintf(c->status, sizeof(c->status), "BAD-BYTES");
		goto end;
	}
	c->off += n;
	c->bytes += n;
	return 0;
end:
	printf("fwd %s %s after %llu bytes\n", c->name, c->status, (unsigned long long)c->bytes);
	close(c->fd);
	c->fd = -1;
	return -1;
}

static int cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int main(int argc, char **argv)
{
	struct conn c[NR] = { { .name = "L1" }, { .name = "L2" }, { .name = "W" } };
	double t0, next;
	int secs, bad = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: fwd-probe LPORT WORLD_IP WPORT SECONDS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	secs = atoi(argv[4]);
	c[0].fd = dial("127.0.0.1", atoi(argv[1]));
	c[1].fd = dial("127.0.0.1", atoi(argv[1]));
	c[2].fd = dial(argv[2], atoi(argv[3]));
	for (int i = 0; i < NR; i++) {
		strcpy(c[i].status, "ok");
		peer(&c[i], "start");
	}
	printf("fwd up\n");
	t0 = now();
	next = t0 + 1;
	while (now() - t0 < secs) {
		int live = 0;

		for (int i = 0; i < NR; i++) {
			double t;

			if (c[i].fd < 0)
				continue;
			live++;
			t = now();
			if (xfer(&c[i], SMALL) == 0 && c[i].nrtt < 4096)
				c[i].rtt[c[i].nrtt++] = (int)((now() - t) * 1e6);
			if (c[i].fd >= 0)
				xfer(&c[i], BIG);
		}
		if (!live)
			break;
		if (now() >= next) {
			printf("fwd t=%.0f", now() - t0);
			for (int i = 0; i < NR; i++) {
				int med = 0;

				if (c[i].nrtt) {
					qsort(c[i].rtt, (size_t)c[i].nrtt, sizeof(int), cmp);
					med = c[i].rtt[c[i].nrtt / 2];
				}
				printf(" %s bytes=%llu rtt_us=%d", c[i].name,
				       (unsigned long long)c[i].bytes, med);
				c[i].nrtt = 0;
			}
			printf("\n");
			next += 1;
		}
		usleep(20000);
	}
	for (int i = 0; i < NR; i++) {
		peer(&c[i], "end");
		bad |= !strcmp(c[i].status, "BAD-BYTES");
	}
	printf("fwd done L1=%s L2=%s W=%s\n", c[0].status, c[1].status, c[2].status);
	/* Closed, and a moment for whatever relays them to see it before the
	 * guest (and its QEMU) goes. */
	for (int i = 0; i < NR; i++)
		if (c[i].fd >= 0)
			close(c[i].fd);
	sleep(3);
	return bad;
}
