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
 *                  READY events), each round trip timed: p50, p99, mean;
 *                  baseline: the same with plain sockets
 *
 * Which path the guest's calls take (the table names each it measured):
 *
 *   in-process     the service (outsource/sock) on a GLib thread of this
 *                  process, reached through libhostrpc over memfd rings
 *                  (outsource/sock/sockguest.c).  Not hostrpcd: no worker
 *                  process, no sandbox, no supervisor; the same service
 *                  code and ring protocol.
 *   worker v2      the same worker, the guest speaking version 2 of the
 *                  protocol (sock.h): the bytes go through each socket's
 *                  data rings (1 MiB each way), no call per send/recv;
 *                  a doorbell (KICK) only when the worker asked for one.
 *   worker         with -D HOSTRPCD (what `make sock-bench` runs): a
 *                  private hostrpcd is started (its own directory under
 *                  /tmp, policy "connect allow loopback", no fd holder) and
 *                  this process connects to its process-guest socket as a
 *                  guest does, so the calls are served by that guest's
 *                  hostrpcd worker process - the product's path for a
 *                  process guest.  -c SOCKET uses a hostrpcd already
 *                  running instead (its policy must allow the loopback).
 *
 * Neither is a guest kernel's path (ivshmem doorbells and interrupts under
 * QEMU): bench/sock-vm-bench.sh measures that one.  The guest copies each
 * chunk from its "application" buffer into the bulk buffer (as a guest
 * kernel's copy_from_iter would).
 * Goals (issue 11): stream >= 80% of loopback; request/reply p50 <= 1.5x
 * loopback's.  MET / NOT MET is printed per path, not enforced.
 *
 * usage: sock-bench [-s MiB] [-n round-trips] [-D HOSTRPCD | -c SOCKET] [-W]
 *                   [-P POLL] [-B US]
 *   -W  the worker path only (with -D or -c)
 *   -P  hostrpcd's --poll (with -D; default: hostrpcd's own, auto: 200 us
 *       with 4 CPUs or more, else off)
 *   -B  the guest's receive spin on a v2 area, as hostrpc_sock.ko's
 *       busy_poll_us (default 50; 0: never)
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "outsource/sock/sockguest.h"

#define CHUNK (1u << 20)
#define MAX_PATHS 3
/* version 2: each ring of a socket's area */
#define V2_RING (1u << 20)

static size_t total = 256u << 20;
static int rounds = 2000;

/* One measured configuration: its stream rates (MB/s) and round trips. */
struct res {
	const char *name;
	double tx, rx;
	double p50, p99, avg;   /* request/reply, us */
	uint32_t chunk;         /* bulk buffer size the guest got */
	bool ok;
};

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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50, p99 (nearest rank) and mean of n round trips (ns), in us. */
static void rtt_stats(uint64_t *v, int n, struct res *r)
{
	uint64_t sum = 0;

	if (n <= 0) {
		r->ok = false;
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	for (int i = 0; i < n; i++)
		sum += v[i];
	r->p50 = v[(n * 50 + 99) / 100 - 1] / 1e3;
	r->p99 = v[(n * 99 + 99) / 100 - 1] / 1e3;
	r->avg = (double)sum / n / 1e3;
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

static double run_loopback(int mode, struct res *r)
{
	static char buf[CHUNK];
	uint64_t *rt = calloc((size_t)rounds, sizeof(*rt));
	struct peer p;
	pthread_t th;
	uint64_t t0;
	size_t done = 0;
	int fd, n = 0;

	peer_listen(&p, mode);
	pthread_create(&th, NULL, peer_run, &p);
	fd = plain_connect(p.port);
	t0 = hrpc_now_ns();
	if (mode == 0) {
		while (done < total) {
			ssize_t k = send(fd, buf, total - done < CHUNK ? total - done : CHUNK, 0);

			if (k <= 0)
				break;
			done += (size_t)k;
		}
		shutdown(fd, SHUT_WR);
	} else if (mode == 1) {
		ssize_t k;

		while ((k = recv(fd, buf, CHUNK, 0)) > 0)
			done += (size_t)k;
	} else {
		char c = 'p';

		for (; n < rounds; n++) {
			uint64_t t = hrpc_now_ns();

			if (send(fd, &c, 1, 0) != 1 || recv(fd, &c, 1, 0) != 1)
				break;
			rt[n] = hrpc_now_ns() - t;
		}
		rtt_stats(rt, n, r);
		shutdown(fd, SHUT_WR);
	}
	pthread_join(th, NULL);
	free(rt);
	{
		double s = (hrpc_now_ns() - t0) / 1e9;

		close(fd);
		close(p.lfd);
		return (mode == 0 ? p.bytes : done) / s / 1e6;
	}
}

static int guest_connect(struct sguest *g, uint16_t port, uint64_t *h, bool *have)
{
	struct hrpc_sock_addr a;
	int rc = sg_socket(g, AF_INET, SOCK_STREAM, h);

	if (rc < 0)
		return rc;
	*have = true;
	sg_setopt_int(g, *h, IPPROTO_TCP, TCP_NODELAY, 1);
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	return sg_connect(g, *h, &a, 5000);
}

/* A bulk buffer of CHUNK, or the largest power of two the channel gives. */
static int bulk_get(struct sguest *g, struct hrpc_bulk *b, uint32_t *size)
{
	for (uint32_t sz = CHUNK; sz >= (64u << 10); sz /= 2) {
		if (hrpc_client_bulk_alloc(g->cli, sz, b) == 0) {
			*size = sz;
			return 0;
		}
	}
	return -ENOMEM;
}

static double run_guest(struct sguest *g, int mode, struct res *r)
{
	static uint8_t app[CHUNK];
	struct hrpc_bulk b;
	struct peer p;
	pthread_t th;
	uint64_t t0, h;
	size_t done = 0;
	uint32_t chunk = 0;
	bool have_h = false;
	int rc, n = 0;

	peer_listen(&p, mode);
	pthread_create(&th, NULL, peer_run, &p);
	rc = guest_connect(g, p.port, &h, &have_h);
	if (rc == 0)
		rc = bulk_get(g, &b, &chunk);
	if (rc < 0) {
		fprintf(stderr, "sock-bench: %s: cannot connect or get a bulk buffer: %s\n",
			r->name, strerror(-rc));
		r->ok = false;
		if (have_h)    /* the peer, if it was connected, sees EOF or EPIPE */
			sg_close(g, h);
		shutdown(p.lfd, SHUT_RDWR);  /* the peer's accept() returns */
		pthread_join(th, NULL);
		close(p.lfd);
		return 0;
	}
	r->chunk = chunk;
	memset(app, 'y', sizeof(app));
	t0 = hrpc_now_ns();
	if (mode == 0) {
		while (done < total) {
			uint32_t k = total - done < chunk ? (uint32_t)(total - done) : chunk;

			rc = sg_send(g, h, app, k, &b, 0, NULL);
			if (rc == -EAGAIN) {
				sg_wait(g, h, HRPC_POLLOUT | HRPC_POLLERR, 5000);
				continue;
			}
			if (rc <= 0)
				break;
			done += (size_t)rc;
		}
		r->ok &= done == total;
		sg_simple(g, HRPC_SOCK_SHUTDOWN, h, SHUT_WR);
	} else if (mode == 1) {
		for (;;) {
			rc = sg_recv(g, h, app, chunk, &b, 0, NULL);
			if (rc == -EAGAIN) {
				sg_wait(g, h, HRPC_POLLIN | HRPC_POLLRDHUP | HRPC_POLLHUP, 5000);
				continue;
			}
			if (rc <= 0)
				break;
			done += (size_t)rc;
		}
		r->ok &= done == total;
	} else {
		uint64_t *rt = calloc((size_t)rounds, sizeof(*rt));

		for (; n < rounds; n++) {
			uint64_t t = hrpc_now_ns();
			uint8_t c = 'p';

			if (sg_send(g, h, &c, 1, NULL, 0, NULL) != 1 ||
			    sg_recv_all(g, h, &c, 1, NULL, 5000) != 0)
				break;
			rt[n] = hrpc_now_ns() - t;
		}
		r->ok &= n == rounds;
		rtt_stats(rt, n, r);
		free(rt);
		sg_simple(g, HRPC_SOCK_SHUTDOWN, h, SHUT_WR);
	}
	pthread_join(th, NULL);
	{
		double s = (hrpc_now_ns() - t0) / 1e9;

		hrpc_client_bulk_free(g->cli, &b);
		sg_close(g, h);
		close(p.lfd);
		return (mode == 0 ? p.bytes : done) / s / 1e6;
	}
}

/* The same three runs through a version 2 socket's data rings. */
static double run_guest2(struct sguest *g, int mode, struct res *r)
{
	static uint8_t app[CHUNK];
	struct hrpc_sock_addr a;
	struct sg_area ar;
	struct peer p;
	pthread_t th;
	uint64_t t0, h = 0;
	size_t done = 0;
	long k;
	int rc, n = 0;

	peer_listen(&p, mode);
	pthread_create(&th, NULL, peer_run, &p);
	rc = sg_socket_area(g, AF_INET, SOCK_STREAM, V2_RING, V2_RING, &ar, &h);
	if (rc == 0) {
		sg_setopt_int(g, h, IPPROTO_TCP, TCP_NODELAY, 1);
		sg_addr(&a, AF_INET, "127.0.0.1", p.port);
		rc = sg_connect(g, h, &a, 5000);
	}
	if (rc < 0) {
		fprintf(stderr, "sock-bench: %s: cannot connect: %s\n", r->name, strerror(-rc));
		r->ok = false;
		if (h)
			sg_close(g, h);
		sg_area_free(g, &ar);
		shutdown(p.lfd, SHUT_RDWR);
		pthread_join(th, NULL);
		close(p.lfd);
		return 0;
	}

	memset(app, 'y', sizeof(app));
	t0 = hrpc_now_ns();
	if (mode == 0) {
		while (done < total) {
			uint32_t want = total - done < CHUNK ? (uint32_t)(total - done) : CHUNK;

			k = sg_area_send_all(g, h, &ar, app, want, 5000);
			if (k <= 0)
				break;
			done += (size_t)k;
		}
		r->ok &= done == total;
		hrpc_write_once(ar.hdr->guest_flags, HRPC_SOCK_AREA_G_SHUTWR);
		sg_kick(g, h);
	} else if (mode == 1) {
		while ((k = sg_area_recv(g, h, &ar, app, CHUNK, false, 5000)) > 0)
			done += (size_t)k;
		r->ok &= done == total;
	} else {
		uint64_t *rt = calloc((size_t)rounds, sizeof(*rt));

		for (; n < rounds; n++) {
			uint64_t t = hrpc_now_ns();
			uint8_t c = 'p';

			long sn = sg_area_send(g, h, &ar, &c, 1), rn = sn == 1 ?
				sg_area_recv(g, h, &ar, &c, 1, false, 5000) : 0;

			if (sn != 1 || rn != 1) {
				fprintf(stderr, "sock-bench: %s: round trip %d: send %ld, recv %ld\n",
					r->name, n, sn, rn);
				break;
			}
			rt[n] = hrpc_now_ns() - t;
		}
		r->ok &= n == rounds;
		rtt_stats(rt, n, r);
		free(rt);
		hrpc_write_once(ar.hdr->guest_flags, HRPC_SOCK_AREA_G_SHUTWR);
		sg_kick(g, h);
	}
	pthread_join(th, NULL);
	{
		double s = (hrpc_now_ns() - t0) / 1e9;

		sg_close(g, h);
		sg_area_free(g, &ar);
		close(p.lfd);
		return (mode == 0 ? p.bytes : done) / s / 1e6;
	}
}

static void measure2(struct sguest *g, struct res *r)
{
	r->ok = true;
	r->tx = run_guest2(g, 0, r);
	if (r->ok)
		r->rx = run_guest2(g, 1, r);
	if (r->ok)
		run_guest2(g, 2, r);
}

static void measure(struct sguest *g, struct res *r)
{
	r->ok = true;
	r->tx = run_guest(g, 0, r);
	if (r->ok)
		r->rx = run_guest(g, 1, r);
	if (r->ok)
		run_guest(g, 2, r);
}

/* ---- the worker path: a private hostrpcd ---- */

static char ddir[64];
static pid_t dpid;

static void daemon_stop(void)
{
	char cmd[128];

	if (dpid > 0) {
		kill(dpid, SIGTERM);
		for (int i = 0; i < 100 && waitpid(dpid, NULL, WNOHANG) == 0; i++)
			usleep(50000);
		if (kill(dpid, 0) == 0) {
			fprintf(stderr, "sock-bench: hostrpcd outlived SIGTERM for 5 s\n");
			kill(dpid, SIGKILL);
			waitpid(dpid, NULL, 0);
		}
		dpid = 0;
	}
	if (ddir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ddir);
		if (system(cmd) != 0)
			fprintf(stderr, "sock-bench: could not remove %s\n", ddir);
		ddir[0] = 0;
	}
}

/* Start HOSTRPCD in a directory of its own; its process-guest socket path
 * in sock. */
static char poll_arg[64];

static int daemon_start(const char *prog, char *sock, size_t size)
{
	char path[128], sockarg[160], admin[128], state[128], policy[128];
	FILE *f;

	snprintf(ddir, sizeof(ddir), "/tmp/sock-bench.XXXXXX");
	if (!mkdtemp(ddir))
		return -errno;
	snprintf(path, sizeof(path), "%s/conf", ddir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/conf/default.conf", ddir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	/* the benchmark's peers listen on the host's loopback */
	fputs("connect allow loopback\n", f);
	fclose(f);
	snprintf(sock, size, "%s/guests.sock", ddir);
	snprintf(sockarg, sizeof(sockarg), "--socket=%s", sock);
	snprintf(admin, sizeof(admin), "--admin-socket=%s/admin.sock", ddir);
	snprintf(state, sizeof(state), "--state-dir=%s/state", ddir);
	snprintf(policy, sizeof(policy), "--sock-policy-dir=%s/conf", ddir);
	snprintf(path, sizeof(path), "%s/hostrpcd.log", ddir);
	fflush(stdout);
	dpid = fork();
	if (dpid < 0)
		return -errno;
	if (dpid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);  /* never outlive the benchmark */
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(127);
		execl(prog, prog, "--foreground", "--no-fdstore", sockarg, admin, state, policy,
		      poll_arg[0] ? poll_arg : NULL, (char *)NULL);
		_exit(127);
	}
	return 0;
}

/* Connect to a hostrpcd's process-guest socket as a guest: HELLO, INIT. */
static int worker_connect(struct sguest *g, const char *sock, uint32_t version)
{
	struct hrpc_sock_init_req r = { .version = version, .credit = 1024 };
	struct hrpc_sock_init_rep o;
	hrpc_chan *ch = NULL;
	int rc = -ENOENT;

	memset(g, 0, sizeof(*g));
	for (int i = 0; i < 200; i++) {   /* 10 s for the daemon to listen */
		rc = hrpc_memfd_connect(sock, &ch);
		if (rc == 0)
			break;
		if (dpid > 0 && waitpid(dpid, NULL, WNOHANG) == dpid) {
			dpid = 0;
			return -ECHILD;
		}
		usleep(50000);
	}
	if (rc < 0)
		return rc;
	rc = hrpc_client_new(ch, "sock-bench", 5000, &g->cli);
	if (rc < 0)
		return rc;
	hrpc_client_set_event_handler(g->cli, sg_event, g);
	return sg_call(g, HRPC_SOCK_INIT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
}

static void print_goals(const struct res *lo, const struct res *r)
{
	bool stream = r->tx >= 0.8 * lo->tx && r->rx >= 0.8 * lo->rx;
	bool rtt = r->p50 <= 1.5 * lo->p50;

	printf("goal (%s): stream >= 80%% of loopback: %s (tx %.0f%%, rx %.0f%%); "
	       "request/reply p50 <= 1.5x loopback: %s (%.1fx)\n", r->name,
	       !r->ok ? "MISSING" : stream ? "MET" : "NOT MET", 100 * r->tx / lo->tx,
	       100 * r->rx / lo->rx, !r->ok ? "MISSING" : rtt ? "MET" : "NOT MET",
	       r->p50 / lo->p50);
}

int main(int argc, char **argv)
{
	struct res lo = { .name = "loopback", .ok = true }, res[MAX_PATHS];
	const char *daemon = NULL, *sock = NULL;
	char dsock[128];
	bool worker_only = false;
	int opt, npaths = 0, status = 0;

	while ((opt = getopt(argc, argv, "s:n:D:c:WP:B:")) != -1) {
		if (opt == 's')
			total = (size_t)atol(optarg) << 20;
		else if (opt == 'n')
			rounds = atoi(optarg);
		else if (opt == 'D')
			daemon = optarg;
		else if (opt == 'c')
			sock = optarg;
		else if (opt == 'W')
			worker_only = true;
		else if (opt == 'P')
			snprintf(poll_arg, sizeof(poll_arg), "--poll=%s", optarg);
		else if (opt == 'B')
			sg_busy_poll_ns = (uint32_t)atoi(optarg) * 1000u;
		else {
			fprintf(stderr, "usage: sock-bench [-s MiB] [-n round-trips] "
				"[-D HOSTRPCD | -c SOCKET] [-W] [-P POLL] [-B US]\n");
			return 2;
		}
	}
	if (rounds < 1)
		rounds = 1;
	signal(SIGPIPE, SIG_IGN);
	printf("sock-bench: %zu MiB per stream run, %d round trips, up to 1 MiB calls\n",
	       total >> 20, rounds);
	lo.tx = run_loopback(0, &lo);
	lo.rx = run_loopback(1, &lo);
	run_loopback(2, &lo);

	if (!worker_only || (!daemon && !sock)) {
		struct sguest *g = calloc(1, sizeof(*g));
		struct res *r = &res[npaths++];

		memset(r, 0, sizeof(*r));
		r->name = "in-process";
		if (!g || sg_start(g, SG_LOOPBACK_POLICY, -1) < 0) {
			fprintf(stderr, "sock-bench: cannot start the service\n");
			return 1;
		}
		measure(g, r);
		sg_stop(g);
		free(g);
	}
	if (daemon || sock) {
		struct sguest *g = calloc(1, sizeof(*g));
		struct res *r = &res[npaths++];
		int rc = 0;

		memset(r, 0, sizeof(*r));
		r->name = "worker";
		if (daemon) {
			rc = daemon_start(daemon, dsock, sizeof(dsock));
			sock = dsock;
		}
		if (rc == 0)
			rc = worker_connect(g, sock, HRPC_SOCK_VERSION);
		if (rc < 0) {
			fprintf(stderr, "sock-bench: no hostrpcd worker at %s: %s\n", sock,
				strerror(-rc));
			if (ddir[0]) {
				char cmd[160];

				snprintf(cmd, sizeof(cmd), "sed 's/^/hostrpcd: /' %s/hostrpcd.log >&2",
					 ddir);
				if (system(cmd) != 0)
					fprintf(stderr, "sock-bench: no hostrpcd log\n");
			}
		} else {
			measure(g, r);
		}
		if (g->cli)
			hrpc_client_free(g->cli);
		/* the same worker path, version 2 (a new guest of the same daemon) */
		if (rc >= 0) {
			struct res *r2 = &res[npaths++];

			memset(r2, 0, sizeof(*r2));
			r2->name = "worker v2";
			memset(g, 0, sizeof(*g));
			rc = worker_connect(g, sock, HRPC_SOCK_VERSION_2);
			if (rc < 0)
				fprintf(stderr, "sock-bench: version 2: %s\n", strerror(-rc));
			else
				measure2(g, r2);
			if (g->cli)
				hrpc_client_free(g->cli);
		}
		free(g);
		daemon_stop();
	}

	printf("%-34s %10s", "", "loopback");
	for (int i = 0; i < npaths; i++)
		printf(" %10s %8s", res[i].name, "ratio");
	printf("\n%-34s %10.0f", "stream guest->host (MB/s)", lo.tx);
	for (int i = 0; i < npaths; i++)
		printf(" %10.0f %7.0f%%", res[i].tx, 100 * res[i].tx / lo.tx);
	printf("\n%-34s %10.0f", "stream host->guest (MB/s)", lo.rx);
	for (int i = 0; i < npaths; i++)
		printf(" %10.0f %7.0f%%", res[i].rx, 100 * res[i].rx / lo.rx);
	printf("\n%-34s %10.1f", "1-byte request/reply p50 (us)", lo.p50);
	for (int i = 0; i < npaths; i++)
		printf(" %10.1f %7.1fx", res[i].p50, res[i].p50 / lo.p50);
	printf("\n%-34s %10.1f", "1-byte request/reply p99 (us)", lo.p99);
	for (int i = 0; i < npaths; i++)
		printf(" %10.1f %7.1fx", res[i].p99, res[i].p99 / lo.p99);
	printf("\n%-34s %10.1f", "1-byte request/reply mean (us)", lo.avg);
	for (int i = 0; i < npaths; i++)
		printf(" %10.1f %7.1fx", res[i].avg, res[i].avg / lo.avg);
	printf("\n");
	for (int i = 0; i < npaths; i++) {
		if (res[i].chunk && res[i].chunk != CHUNK)
			printf("(%s: the channel gave %u KiB bulk buffers, not 1 MiB)\n",
			       res[i].name, res[i].chunk >> 10);
		print_goals(&lo, &res[i]);
		if (!res[i].ok)
			status = 1;
	}
	return status;
}
