/* SPDX-License-Identifier: MIT */
/*
 * mig-stream - the guest's side of the migration tests: streams that must
 * survive a live migration byte for byte (tests/vm/migrate/migrate-vm.sh).
 *
 *   mig-stream WORLD_IP PORT NOUT NIN SECONDS RATE
 *
 * For SECONDS: NOUT connections to WORLD_IP:PORT (a world server), and a
 * server on PORT+1 that takes NIN connections from the world and then keeps
 * accepting (each later connection is a short echo: the listening socket
 * works wherever the guest runs); a UDP socket sends sequence numbers to
 * WORLD_IP:PORT+2 and counts the echoes.  Every stream carries a known
 * pattern both ways, RATE bytes a second each way per connection, checked on
 * arrival; the longest silence of each direction is measured.
 *
 * Prints "mig-stream ok ..." and exits 0 when every byte arrived right.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#define PERIOD 65521u      /* the pattern's period: a prime, so streams differ */
#define MAXC 256
#define CHUNK 4096

static uint8_t pattern[PERIOD];

/* The byte at offset i of stream `id` (the world's script computes the same). */
static uint8_t pat(uint32_t id, uint64_t i)
{
	return pattern[(i + (uint64_t)id * 7919u) % PERIOD];
}

struct conn {
	int fd;
	uint32_t id;
	uint64_t sent, rcvd;
	double last_rx, max_gap;
	int bad, done_tx, eof;
	int echo;                  /* a late connection: echo what comes */
	int reset_after_echo;      /* ...then reset instead of the world's FIN */
	uint8_t ebuf[CHUNK];
	size_t elen;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nonblock(int fd)
{
	int one = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void conn_rx(struct conn *c, double t)
{
	uint8_t buf[CHUNK];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			if (c->echo) {
				/* a late connection: echo back (small) */
				ssize_t w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);

				if (w != n)
					c->bad++;
				c->rcvd += (uint64_t)n;
				continue;
			}
			for (ssize_t k = 0; k < n; k++)
				if (buf[k] != pat(c->id ^ 0x8000u, c->rcvd + (uint64_t)k))
					c->bad++;
			c->rcvd += (uint64_t)n;
			if (c->last_rx && t - c->last_rx > c->max_gap)
				c->max_gap = t - c->last_rx;
			c->last_rx = t;
			continue;
		}
		if (n == 0) {
			c->eof = 1;
			if (c->echo) {
				/* a late connection ends with the world's close */
				close(c->fd);
				c->fd = -1;
			}
		}
		else if (c->echo && c->rcvd && errno == ECONNRESET) {
			/* The world got its echo and closed; a move caught the
			 * connection half-closed (CLOSE_WAIT), which is not
			 * moved but reset at the destination and counted as
			 * lost (migrate/README.md).  The world checks the echo
			 * it got; here it is counted, not called bad. */
			c->reset_after_echo = 1;
			c->eof = 1;
			close(c->fd);
			c->fd = -1;
		} else if (errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "conn %u: recv: %s\n", c->id, strerror(errno));
			c->bad++;
			c->eof = 1;
		}
		return;
	}
}

static void conn_tx(struct conn *c, uint64_t allowed)
{
	uint8_t buf[CHUNK];

	while (!c->echo && c->sent < allowed) {
		size_t n = allowed - c->sent > sizeof(buf) ? sizeof(buf) : (size_t)(allowed - c->sent);
		ssize_t w;

		for (size_t k = 0; k < n; k++)
			buf[k] = pat(c->id, c->sent + k);
		w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w > 0) {
			c->sent += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "conn %u: send: %s\n", c->id, strerror(errno));
			c->bad++;
			c->eof = 1;
		}
		return;
	}
}

int main(int argc, char **argv)
{
	struct conn c[MAXC];
	struct pollfd pfd[MAXC + 2];
	int nc = 0, lfd, ufd, nout, nin, secs, rate, port, late = 0, late_ok = 0, late_reset = 0;
	struct sockaddr_in w = { .sin_family = AF_INET }, a = { .sin_family = AF_INET };
	uint32_t useq = 0, uecho = 0;
	double t0, tu = 0, last_udp = 0, udp_gap = 0, next_report;
	int bad = 0;

	if (argc != 7) {
		fprintf(stderr, "usage: mig-stream WORLD_IP PORT NOUT NIN SECONDS RATE\n");
		return 2;
	}
	for (uint32_t i = 0; i < PERIOD; i++)
		pattern[i] = (uint8_t)((i * 2654435761u) >> 13);
	inet_pton(AF_INET, argv[1], &w.sin_addr);
	port = atoi(argv[2]);
	nout = atoi(argv[3]);
	nin = atoi(argv[4]);
	secs = atoi(argv[5]);
	rate = atoi(argv[6]);
	if (nout + nin + 8 > MAXC)
		return 2;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((uint16_t)(port + 1));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0) {
		perror("listen");
		return 1;
	}
	nonblock(lfd);
	for (int i = 0; i < nout; i++) {
		memset(&c[nc], 0, sizeof(c[nc]));
		c[nc].fd = socket(AF_INET, SOCK_STREAM, 0);
		w.sin_port = htons((uint16_t)port);
		if (connect(c[nc].fd, (struct sockaddr *)&w, sizeof(w)) < 0) {
			perror("connect");
			return 1;
		}
		/* The stream's id first, so the world knows which pattern. */
		c[nc].id = (uint32_t)i;
		if (send(c[nc].fd, &c[nc].id, 4, 0) != 4)
			return 1;
		nonblock(c[nc].fd);
		nc++;
	}
	ufd = socket(AF_INET, SOCK_DGRAM, 0);
	w.sin_port = htons((uint16_t)(port + 2));
	if (connect(ufd, (struct sockaddr *)&w, sizeof(w)) < 0) {
		perror("udp connect");
		return 1;
	}
	nonblock(ufd);
	printf("mig-stream up: %d out, listening on %d\n", nout, port + 1);
	fflush(stdout);

	t0 = now();
	next_report = t0 + 5;
	for (;;) {
		double t = now(), el = t - t0;
		int n = 0;

		if (el >= secs)
			break;
		if (t >= next_report) {
			printf("mig-stream t=%.0f conns=%d late=%d udp=%u/%u\n", el, nc, late, uecho,
			       useq);
			fflush(stdout);
			next_report += 5;
		}
		for (int i = 0; i < nc; i++)
			if (!c[i].eof)
				conn_tx(&c[i], (uint64_t)(el * rate));
		if (t - tu >= 0.05) {   /* 20 datagrams a second */
			uint32_t s = useq++;

			send(ufd, &s, sizeof(s), 0);
			tu = t;
		}
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ufd, .events = POLLIN };
		for (int i = 0; i < nc; i++)
			pfd[n++] = (struct pollfd){ .fd = c[i].eof ? -1 : c[i].fd, .events = POLLIN };
		poll(pfd, (nfds_t)n, 10);
		t = now();
		if (pfd[0].revents & POLLIN) {
			int fd;

			while ((fd = accept(lfd, NULL, NULL)) >= 0) {
				if (nc == MAXC) {
					close(fd);
					continue;
				}
				memset(&c[nc], 0, sizeof(c[nc]));
				c[nc].fd = fd;
				nonblock(fd);
				if (nin > 0) {
					/* the world's long stream: its id arrives first */
					uint32_t id;
					int k;

					for (k = 0; k < 200 && recv(fd, &id, 4, MSG_PEEK) != 4; k++)
						usleep(5000);
					if (recv(fd, &id, 4, 0) != 4) {
						close(fd);
						bad++;
						continue;
					}
					c[nc].id = id;
					nin--;
				} else {
					c[nc].echo = 1;
					late++;
				}
				nc++;
			}
		}
		if (pfd[1].revents & POLLIN) {
			uint32_t s;

			while (recv(ufd, &s, sizeof(s), 0) == sizeof(s)) {
				uecho++;
				if (last_udp && t - last_udp > udp_gap)
					udp_gap = t - last_udp;
				last_udp = t;
			}
		}
		for (int i = 0; i < nc; i++)
			if (!c[i].eof)
				conn_rx(&c[i], t);
	}
	for (int i = 0; i < nc; i++) {
		if (c[i].echo) {
			if (c[i].rcvd)
				late_ok++;
			late_reset += c[i].reset_after_echo;
			bad += c[i].bad;
			continue;
		}
		printf("mig-stream conn %u sent=%llu rcvd=%llu max_gap_ms=%.0f bad=%d\n", c[i].id,
		       (unsigned long long)c[i].sent, (unsigned long long)c[i].rcvd,
		       c[i].max_gap * 1000, c[i].bad);
		bad += c[i].bad;
		if (!c[i].rcvd)
			bad++;
		shutdown(c[i].fd, SHUT_WR);
	}
	printf("mig-stream udp sent=%u echoed=%u max_gap_ms=%.0f\n", useq, uecho, udp_gap * 1000);
	printf("mig-stream late connections accepted=%d echoed=%d reset-after-echo=%d\n", late,
	       late_ok, late_reset);
	printf("mig-stream %s: %d streams, %d bad\n", bad ? "FAILED" : "ok", nc - late, bad);
	fflush(stdout);
	sleep(1);
	return bad ? 1 : 0;
}
