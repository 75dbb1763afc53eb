/* SPDX-License-Identifier: MIT */
/*
 * sock-bench - outsourced sockets for a process guest vs the host's own TCP
 * loopback, measured in the same run:
 *
 *   stream send    guest SEND (bulk, 1 MiB calls) -> host socket -> loopback
 *                  -> a host reader thread; baseline: send() on loopback
 *   stream recv    a host writer thread -> loopback -> host socket -> guest
 *                  RECV (bulk); baseline: recv() on loopback
 *   request/reply  1-byte ping-pong with a host echo thread (guest waits on
 *                  READY events); baseline: the same with plain sockets
 *
 * The guest half talks to the service (outsource/sock) through libhostrpc
 * over memfd rings, the service runs on its own GLib thread, exactly as in
 * hostrpcd's worker.  The guest copies each chunk from its "application"
 * buffer into the bulk buffer (as a guest kernel's copy_from_iter would).
 * Goal (issue 4): outsourced stream throughput >= 70% of loopback.
 *
 * usage: sock-bench [-s MiB] [-n round-trips]
 */
#include "config.h"

#include <getopt.h>
#include <netinet/tcp.h>
#include <stdlib.h>

#include "outsource/sock/sockguest.h"

#define CHUNK (1u << 20)

static struct sguest g;
static size_t total = 256u << 20;
static int rounds = 2000;

struct peer {
	int lfd, fd;
	uint16_t port;
	int mode;            /* 0 sink, 1 source, 2 echo */
	size_t bytes;
};

static void *peer_run(void *arg)
{
	struct peer *p = arg;
	static char buf[CHUNK];
	int one = 1;

	p->fd = accept(p->lfd, NULL, NULL);
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(buf, 'x', sizeof(buf));
	if (p->mode == 0) {
		ssize_t n;

		while ((n = recv(p->fd, buf, sizeof(buf), 0)) > 0)
			p->bytes += (size_t)n;
	} else if (p->mode == 1) {
		while (p->bytes < total) {
			size_t want = total - p->bytes < sizeof(buf) ? total - p->bytes : sizeof(buf);
			ssize_t n = send(p->fd, buf, want, MSG_NOSIGNAL);

			if (n <= 0)
				break;
			p->bytes += (size_t)n;
		}
	} else {
		char c;

		while (recv(p->fd, &c, 1, 0) == 1 && send(p->fd, &c, 1, MSG_NOSIGNAL) == 1)
			p->bytes++;
	}
	close(p->fd);
	return NULL;
}

static void peer_listen(struct peer *p, int mode)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);

	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(p->lfd, 1);
	getsockname(p->lfd, (struct sockaddr *)&sa, &sl);
	p->port = ntohs(sa.sin_port);
}

static int plain_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static uint64_t guest_connect(uint16_t port)
{
	struct hrpc_sock_addr a;
	uint64_t h;

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_setopt_int(&g, h, IPPROTO_TCP, TCP_NODELAY, 1);
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	sg_connect(&g, h, &a, 5000);
	return h;
}

static double run_loopback(int mode, double *rtt_us)
{
	static char buf[CHUNK];
	struct peer p;
	pthread_t th;
	uint64_t t0;
	size_t done = 0;
	int fd;

	peer_listen(&p, mode);
	pthread_create(&th, NULL, peer_run, &p);
	fd = plain_connect(p.port);
	t0 = hrpc_now_ns();
	if (mode == 0) {
		while (done < total) {
			ssize_t n = send(fd, buf, total - done < CHUNK ? total - done : CHUNK, 0);

			if (n <= 0)
				break;
			done += (size_t)n;
		}
		shutdown(fd, SHUT_WR);
	} else if (mode == 1) {
		ssize_t n;

		while ((n = recv(fd, buf, CHUNK, 0)) > 0)
			done += (size_t)n;
	} else {
		char c = 'p';

		for (int i = 0; i < rounds; i++)
			if (send(fd, &c, 1, 0) != 1 || recv(fd, &c, 1, 0) != 1)
				break;
		*rtt_us = (hrpc_now_ns() - t0) / 1e3 / rounds;
		shutdown(fd, SHUT_WR);
	}
	pthread_join(th, NULL);
	{
		double s = (hrpc_now_ns() - t0) / 1e9;

		close(fd);
		close(p.lfd);
		return (mode == 0 ? p.bytes : done) / s / 1e6;
	}
}

static double run_guest(int mode, double *rtt_us)
{
	static uint8_t app[CHUNK];
	struct hrpc_bulk b;
	struct peer p;
	pthread_t th;
	uint64_t t0, h;
	size_t done = 0;

	peer_listen(&p, mode);
	pthread_create(&th, NULL, peer_run, &p);
	h = guest_connect(p.port);
	hrpc_client_bulk_alloc(g.cli, CHUNK, &b);
	memset(app, 'y', sizeof(app));
	t0 = hrpc_now_ns();
	if (mode == 0) {
		while (done < total) {
			uint32_t n = total - done < CHUNK ? (uint32_t)(total - done) : CHUNK;
			int rc = sg_send(&g, h, app, n, &b, 0, NULL);

			if (rc == -EAGAIN) {
				sg_wait(&g, h, HRPC_POLLOUT | HRPC_POLLERR, 5000);
				continue;
			}
			if (rc <= 0)
				break;
			done += (size_t)rc;
		}
		sg_simple(&g, HRPC_SOCK_SHUTDOWN, h, SHUT_WR);
	} else if (mode == 1) {
		for (;;) {
			int rc = sg_recv(&g, h, app, CHUNK, &b, 0, NULL);

			if (rc == -EAGAIN) {
				sg_wait(&g, h, HRPC_POLLIN | HRPC_POLLRDHUP | HRPC_POLLHUP, 5000);
				continue;
			}
			if (rc <= 0)
				break;
			done += (size_t)rc;
		}
	} else {
		for (int i = 0; i < rounds; i++) {
			uint8_t c = 'p';

			if (sg_send(&g, h, &c, 1, NULL, 0, NULL) != 1 ||
			    sg_recv_all(&g, h, &c, 1, NULL, 5000) != 0)
				break;
		}
		*rtt_us = (hrpc_now_ns() - t0) / 1e3 / rounds;
		sg_simple(&g, HRPC_SOCK_SHUTDOWN, h, SHUT_WR);
	}
	pthread_join(th, NULL);
	{
		double s = (hrpc_now_ns() - t0) / 1e9;

		hrpc_client_bulk_free(g.cli, &b);
		sg_close(&g, h);
		close(p.lfd);
		return (mode == 0 ? p.bytes : done) / s / 1e6;
	}
}

int main(int argc, char **argv)
{
	double lo_tx, lo_rx, g_tx, g_rx, lo_rtt = 0, g_rtt = 0;
	int opt;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			total = (size_t)atol(optarg) << 20;
		else if (opt == 'n')
			rounds = atoi(optarg);
	}
	if (sg_start(&g, SG_LOOPBACK_POLICY, -1) < 0) {
		fprintf(stderr, "sock-bench: cannot start the service\n");
		return 1;
	}
	printf("sock-bench: %zu MiB per stream run, %d round trips, 1 MiB calls\n", total >> 20,
	       rounds);
	lo_tx = run_loopback(0, NULL);
	g_tx = run_guest(0, NULL);
	lo_rx = run_loopback(1, NULL);
	g_rx = run_guest(1, NULL);
	run_loopback(2, &lo_rtt);
	run_guest(2, &g_rtt);
	printf("%-34s %10s %10s %8s\n", "", "loopback", "guest", "ratio");
	printf("%-34s %10.0f %10.0f %7.0f%%\n", "stream guest->host (MB/s)", lo_tx, g_tx,
	       100 * g_tx / lo_tx);
	printf("%-34s %10.0f %10.0f %7.0f%%\n", "stream host->guest (MB/s)", lo_rx, g_rx,
	       100 * g_rx / lo_rx);
	printf("%-34s %10.1f %10.1f %7.1fx\n", "1-byte request/reply RTT (us)", lo_rtt, g_rtt,
	       g_rtt / lo_rtt);
	printf("goal: process-guest stream >= 70%% of loopback: %s (tx %.0f%%, rx %.0f%%)\n",
	       g_tx >= 0.7 * lo_tx && g_rx >= 0.7 * lo_rx ? "MET" : "NOT MET",
	       100 * g_tx / lo_tx, 100 * g_rx / lo_rx);
	sg_stop(&g);
	return 0;
}
