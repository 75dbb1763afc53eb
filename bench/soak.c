/* SPDX-License-Identifier: MIT */
/*
 * soak - many guests with many outsourced sockets through hostrpcd for a
 * long time; the daemon's processes must not grow (issue 18 item 6).
 *
 * SOAK_GUESTS process guests (default 16), each with SOAK_SOCKETS TCP
 * connections (default 100; `make soak`: 1000) through the socket service
 * of its hostrpcd worker to an echo server on the host's loopback (a thread
 * of this program, epoll).  For SOAK_SECONDS (default 20; `make soak`: 600)
 * every guest goes round all of its sockets, one checked 16-byte echo each
 * (which socket, which round), again and again.  Every SOAK_SAMPLE seconds
 * (default: a tenth of the run, at most 10) the descriptor count and RSS of
 * the supervisor, the fd holder and every worker are sampled and printed as
 * a table.
 *
 * Flat: the samples of the last quarter of the run against those of the
 * first quarter (after every socket was connected and used once): the
 * largest descriptor count of each process at most 4 above, the largest RSS
 * at most 5% + 1 MiB above (25% + 8 MiB with sanitizers, whose quarantine
 * fills up first).  And the traffic never stopped: every guest had echoes
 * in every interval (each at least SOAK_SAMPLE long, however late a sample
 * was taken), and went round all of its sockets at least twice over the
 * run.
 *
 * A TAP program: the short default runs in make check (tests/integration),
 * `make soak` is the full run (bench-style, not in CI).  The descriptor
 * limit is raised to its hard limit (hostrpcd's workers inherit it, as they
 * inherit LimitNOFILE= from hostrpcd.service); too low a hard limit skips.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/tap.h"
#include "tests/integration/itest.h"
#include "outsource/sock/sockguest.h"

#define MAX_GUESTS 64
#define MSG 16

/* What a guest tells the test (pipe, one atomic write each). */
struct report {
	uint32_t type;           /* 'R' ready, 'N' progress, 'X' failed */
	int32_t err;
	uint64_t rounds;         /* rounds over all its sockets done */
	uint64_t echoes;         /* echoes checked */
};

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int env_int(const char *name, int dflt)
{
	const char *e = getenv(name);

	return e && *e ? atoi(e) : dflt;
}

/* ==== a guest (this program again, exec'd with --guest) ==== */

static struct sguest g;

static void report(uint32_t type, int err, uint64_t rounds, uint64_t echoes)
{
	struct report r = { .type = type, .err = err, .rounds = rounds, .echoes = echoes };

	if (write(3, &r, sizeof(r)) != sizeof(r))
		_exit(3);
}

__attribute__((noreturn))
static void guest_fail(const char *what, int i, int rc)
{
	fprintf(stderr, "soak guest: %s (socket %d): %s\n", what, i, strerror(-rc));
	report('X', rc, 0, 0);
	exit(1);
}

__attribute__((noreturn))
static void guest_main(const char *sock, const char *name, int nsock, uint16_t port)
{
	static uint64_t h[8192];
	struct hrpc_sock_addr a;
	uint64_t rounds = 0, echoes = 0, last = hrpc_now_ns();
	int rc;

	if (nsock > 8192)
		nsock = 8192;
	rc = itest_guest_connect(sock, name, &g.cli);
	if (rc < 0)
		guest_fail("connecting to hostrpcd", -1, rc);
	hrpc_client_set_event_handler(g.cli, sg_event, &g);
	rc = sg_init(&g, HRPC_SOCK_VERSION, 1024, NULL);
	if (rc < 0)
		guest_fail("INIT", -1, rc);
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	for (int i = 0; i < nsock; i++) {
		rc = sg_socket(&g, AF_INET, SOCK_STREAM, &h[i]);
		if (rc == 0)
			rc = sg_connect(&g, h[i], &a, 10000);
		if (rc < 0)
			guest_fail("connect", i, rc);
	}
	report('R', 0, 0, 0);
	for (;;) {
		for (int i = 0; i < nsock; i++) {
			uint64_t msg[2] = { (uint64_t)i, rounds }, back[2];
			uint32_t got = 0;

			rc = sg_send(&g, h[i], msg, MSG, NULL, 0, NULL);
			if (rc != MSG)
				guest_fail("send", i, rc < 0 ? rc : -EIO);
			while (got < MSG) {
				if (!sg_wait(&g, h[i], HRPC_POLLIN | HRPC_POLLERR | HRPC_POLLHUP, 10000))
					guest_fail("waiting for the echo", i, -ETIMEDOUT);
				rc = sg_recv(&g, h[i], (uint8_t *)back + got, MSG - got, NULL, 0, NULL);
				if (rc == -EAGAIN)
					continue;
				if (rc <= 0)
					guest_fail("recv", i, rc < 0 ? rc : -ECONNRESET);
				got += (uint32_t)rc;
			}
			if (back[0] != msg[0] || back[1] != msg[1])
				guest_fail("the echo differs", i, -EILSEQ);
			echoes++;
			if (i == nsock - 1)
				rounds++;
			if (hrpc_now_ns() - last > 100000000ull) {
				report('N', 0, rounds, echoes);
				last = hrpc_now_ns();
			}
		}
	}
}

/* ==== the echo server ==== */

static int srv_fd, ep_fd;
static volatile int srv_conns;

static void *echo_server(void *arg)
{
	struct epoll_event ev[256];
	static uint8_t buf[65536];

	(void)arg;
	for (;;) {
		int n = epoll_wait(ep_fd, ev, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == srv_fd) {
				int c;

				while ((c = accept4(srv_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event e = { .events = EPOLLIN, .data.fd = c };

					epoll_ctl(ep_fd, EPOLL_CTL_ADD, c, &e);
					srv_conns++;
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r > 0) {
					/* 16 bytes at a time in flight: the write fits */
					if (write(fd, buf, (size_t)r) != r)
						fprintf(stderr, "soak: echo write short\n");
					continue;
				}
				if (r == 0 || errno != EAGAIN) {
					epoll_ctl(ep_fd, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
					srv_conns--;
				}
				break;
			}
		}
	}
	return NULL;
}

/* ==== the test ==== */

struct proc_sample {
	int fds;
	long rss;
};

struct sample {
	double t;
	struct proc_sample sup, holder, w[MAX_GUESTS];
	uint64_t rounds[MAX_GUESTS], echoes[MAX_GUESTS];
};

static struct itest_daemon d;

static struct proc_sample sample_of(pid_t pid)
{
	return (struct proc_sample){
		.fds = pid > 0 ? itest_fd_count(pid) - itest_fd_count_like(pid, "pidfd") : -1,
		.rss = pid > 0 ? itest_rss_kib(pid) : -1,
	};
}

#ifdef HRPC_SANITIZERS
#define RSS_SLACK(kib) ((kib) / 4 + 8192)
#else
#define RSS_SLACK(kib) ((kib) / 20 + 1024)
#endif
#define FD_SLACK 4

/* Is one process's series flat: last quarter's max vs first quarter's? */
static bool flat(const char *who, const struct sample *s, int n, size_t off)
{
	int q = n / 4 > 0 ? n / 4 : 1, fd0 = 0, fd1 = 0;
	long rss0 = 0, rss1 = 0;

	for (int i = 0; i < n; i++) {
		const struct proc_sample *p = (const void *)((const char *)&s[i] + off);

		if (i < q) {
			fd0 = MAX(fd0, p->fds);
			rss0 = MAX(rss0, p->rss);
		}
		if (i >= n - q) {
			fd1 = MAX(fd1, p->fds);
			rss1 = MAX(rss1, p->rss);
		}
	}
	if (fd1 <= fd0 + FD_SLACK && rss1 <= rss0 + RSS_SLACK(rss0) && fd0 > 0 && rss0 > 0)
		return true;
	tap_diag("%s grew: descriptors %d -> %d, RSS %ld -> %ld KiB (first and last quarter)",
		 who, fd0, fd1, rss0, rss1);
	return false;
}

int main(int argc, char **argv)
{
	int nguests = env_int("SOAK_GUESTS", 16), nsock = env_int("SOAK_SOCKETS", 100);
	int seconds = env_int("SOAK_SECONDS", 20), every, nsmp = 0, maxsmp, ready = 0, rc;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	static pid_t gpid[MAX_GUESTS];
	static int gfd[MAX_GUESTS];
	static uint64_t rounds[MAX_GUESTS], echoes[MAX_GUESTS];
	static bool went[MAX_GUESTS];
	static pid_t wpid[MAX_GUESTS];
	struct hrpc_admin_guest ag[MAX_GUESTS + 4];
	struct sample *smp;
	struct rlimit rl;
	char conf[300], path[400], *self;
	const char *extra[] = { "--sock-policy-dir", conf, NULL };
	bool failed = false, moving = true, all_flat = true;
	uint64_t t0, tprev = 0;
	char why[200] = "";
	pthread_t th;
	FILE *f;

	if (argc == 6 && !strcmp(argv[1], "--guest"))
		guest_main(argv[2], argv[3], atoi(argv[4]), (uint16_t)atoi(argv[5]));

	every = env_int("SOAK_SAMPLE", seconds / 10 > 10 ? 10 : seconds / 10 > 0 ? seconds / 10 : 1);
	if (nguests < 1 || nguests > MAX_GUESTS || nsock < 1 || seconds < 4 * every)
		tap_skip_all("SOAK_GUESTS 1..%d, SOAK_SOCKETS >= 1, SOAK_SECONDS >= 4 x SOAK_SAMPLE",
			     MAX_GUESTS);
	/* The echo server's end of every connection lives here, a worker's
	 * end in its worker: both inherit this limit (hostrpcd.service has
	 * LimitNOFILE=65536 for the same reason). */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)(nguests * nsock + 256))
		tap_skip_all("RLIMIT_NOFILE hard limit %lu is below the %d descriptors needed",
			     (unsigned long)rl.rlim_max, nguests * nsock + 256);

	itest_watchdog((unsigned)seconds + 300);
	tap_plan(7);
	tap_diag("%d guests x %d sockets for %d s, sampled every %d s", nguests, nsock, seconds,
		 every);
	snprintf(conf, sizeof(conf), "/tmp/soak-conf.XXXXXX");
	if (!mkdtemp(conf))
		tap_skip_all("cannot make a temporary directory");
	snprintf(path, sizeof(path), "%s/default.conf", conf);
	f = fopen(path, "w");
	/* Above the built-in 1024 a guest may have by default. */
	fprintf(f, "max-sockets %d\n" SG_LOOPBACK_POLICY, nsock + 16);
	fclose(f);

	srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv_fd, 4096) < 0 ||
	    getsockname(srv_fd, (struct sockaddr *)&sa, &sl) < 0)
		tap_skip_all("no loopback TCP: %s", strerror(errno));
	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	epoll_ctl(ep_fd, EPOLL_CTL_ADD, srv_fd,
		  &(struct epoll_event){ .events = EPOLLIN, .data.fd = srv_fd });
	pthread_create(&th, NULL, echo_server, NULL);

	rc = itest_daemon_start(&d, extra);
	if (!tap_ok(rc == 0, "hostrpcd starts (socket policy: max-sockets %d, loopback)",
		    nsock + 16))
		return 1;
	itest_kill_on_bailout(itest_holder_pid(&d));

	self = realpath("/proc/self/exe", NULL);
	t0 = hrpc_now_ns();
	for (int i = 0; i < nguests; i++) {
		int pfd[2];
		char name[32], n[16], port[16];

		if (pipe2(pfd, O_CLOEXEC) < 0)
			abort();
		snprintf(name, sizeof(name), "soak%d", i);
		snprintf(n, sizeof(n), "%d", nsock);
		snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
		fflush(stdout);
		gpid[i] = fork();
		if (gpid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			dup2(pfd[1], 3);
			execl(self, self, "--guest", d.guest_sock, name, n, port, NULL);
			_exit(127);
		}
		close(pfd[1]);
		gfd[i] = pfd[0];
		fcntl(gfd[i], F_SETFL, O_NONBLOCK);
	}

	maxsmp = seconds / every + 8;
	smp = calloc((size_t)maxsmp, sizeof(*smp));

	/* All connected, and each round once. */
	for (int waited = 0; ready < nguests && waited < 120000 && !failed; waited += 50) {
		sleep_ms(50);
		ready = 0;
		for (int i = 0; i < nguests; i++) {
			struct report r;

			while (read(gfd[i], &r, sizeof(r)) == sizeof(r)) {
				if (r.type == 'X')
					failed = true;
				/* ready: connected, and a round done */
				if (r.type == 'N') {
					rounds[i] = r.rounds;
					echoes[i] = r.echoes;
					went[i] = r.rounds > 0;
				}
			}
			ready += went[i];
		}
	}
	tap_ok(!failed && ready == nguests,
	       "%d guests connected %d sockets each (%d at the echo server) and used them all "
	       "(%.1f s)", ready, nsock, srv_conns, (hrpc_now_ns() - t0) / 1e9);
	if (failed || ready < nguests)
		goto out;

	/* Workers by guest name. */
	rc = itest_admin_guests(d.admin_sock, ag, MAX_GUESTS + 4);
	for (int k = 0; k < rc; k++)
		for (int i = 0; i < nguests; i++) {
			char name[32];

			snprintf(name, sizeof(name), "soak%d", i);
			if (!strncmp(ag[k].name, name, sizeof(ag[k].name)))
				wpid[i] = (pid_t)ag[k].worker_pid;
		}

	tap_diag("%6s %8s %9s %8s %9s %8s %9s %9s %9s %10s", "t/s", "sup fd", "sup KiB",
		 "hold fd", "hold KiB", "wrk fd", "wrk KiB", "wrk fd", "wrk KiB", "echoes/s");
	tap_diag("%6s %8s %9s %8s %9s %8s %9s %9s %9s %10s", "", "", "", "", "", "(min)", "(min)",
		 "(max)", "(max)", "");
	t0 = hrpc_now_ns();
	for (int s = 0; !failed; s++) {
		struct sample *p;
		pid_t h = itest_holder_pid(&d);
		int wfd_min = 1 << 30, wfd_max = 0;
		long wrss_min = 1L << 40, wrss_max = 0;
		uint64_t total = 0, prev = 0;

		/* Every interval at least SOAK_SAMPLE long, also after a
		 * sample that came late (a loaded machine): a short one would
		 * find a guest between two reports and call it stopped. */
		while (s > 0 && hrpc_now_ns() - tprev < (uint64_t)every * 1000000000ull)
			sleep_ms(50);
		tprev = hrpc_now_ns();
		for (int i = 0; i < nguests; i++) {
			struct report r;

			while (read(gfd[i], &r, sizeof(r)) == sizeof(r)) {
				if (r.type == 'X') {
					if (!failed)
						snprintf(why, sizeof(why), ": guest soak%d failed (%s)",
							 i, strerror(-r.err));
					failed = true;
				}
				if (r.type == 'N') {
					rounds[i] = r.rounds;
					echoes[i] = r.echoes;
				}
			}
		}
		if (nsmp >= maxsmp || failed)
			break;
		p = &smp[nsmp++];
		p->t = (hrpc_now_ns() - t0) / 1e9;
		p->sup = sample_of(d.pid);
		p->holder = sample_of(h);
		for (int i = 0; i < nguests; i++) {
			p->w[i] = sample_of(wpid[i]);
			p->rounds[i] = rounds[i];
			p->echoes[i] = echoes[i];
			wfd_min = MIN(wfd_min, p->w[i].fds);
			wfd_max = MAX(wfd_max, p->w[i].fds);
			wrss_min = MIN(wrss_min, p->w[i].rss);
			wrss_max = MAX(wrss_max, p->w[i].rss);
			total += echoes[i];
			if (nsmp > 1) {
				prev += p[-1].echoes[i];
				/* every guest's traffic went on */
				if (p->echoes[i] <= p[-1].echoes[i]) {
					if (moving)
						snprintf(why, sizeof(why),
							 ": guest soak%d had no echo from %.1f to %.1f s "
							 "(echo %llu)", i, p[-1].t, p->t,
							 (unsigned long long)p->echoes[i]);
					moving = false;
				}
			}
		}
		tap_diag("%6.0f %8d %9ld %8d %9ld %8d %9ld %9d %9ld %10.0f", p->t, p->sup.fds,
			 p->sup.rss, p->holder.fds, p->holder.rss, wfd_min, wrss_min, wfd_max,
			 wrss_max, nsmp > 1 ? (double)(total - prev) / (p->t - p[-1].t) : 0.0);
		if (p->t >= seconds)
			break;
	}
	/* and over the run every guest went round all of its sockets */
	for (int i = 0; i < nguests && nsmp >= 4 && moving && !failed; i++)
		if (smp[nsmp - 1].rounds[i] < smp[0].rounds[i] + 2) {
			snprintf(why, sizeof(why), ": guest soak%d went round its %d sockets only "
				 "%llu times", i, nsock,
				 (unsigned long long)(smp[nsmp - 1].rounds[i] - smp[0].rounds[i]));
			moving = false;
		}
	tap_ok(!failed && moving && nsmp >= 4,
	       "traffic on every socket of every guest for %d s (%d samples), every echo "
	       "checked%s", seconds, nsmp, why);
	if (nsmp >= 4) {
		all_flat &= flat("the supervisor", smp, nsmp, offsetof(struct sample, sup));
		all_flat &= flat("the fd holder", smp, nsmp, offsetof(struct sample, holder));
		tap_ok(all_flat, "supervisor and fd holder flat: descriptors within %d, RSS within "
		       "%s of the first quarter", FD_SLACK,
#ifdef HRPC_SANITIZERS
		       "25% + 8 MiB"
#else
		       "5% + 1 MiB"
#endif
		       );
		all_flat = true;
		for (int i = 0; i < nguests; i++) {
			char who[32];

			snprintf(who, sizeof(who), "worker of soak%d", i);
			all_flat &= flat(who, smp, nsmp, offsetof(struct sample, w[i]));
		}
		tap_ok(all_flat, "every worker flat the same way (%d workers, %d sockets each)",
		       nguests, nsock);
	} else {
		tap_ok(false, "too few samples to judge the supervisor and the fd holder");
		tap_ok(false, "too few samples to judge the workers");
	}
out:
	for (int i = 0; i < nguests; i++)
		if (gpid[i] > 0) {
			kill(gpid[i], SIGKILL);
			waitpid(gpid[i], NULL, 0);
		}
	{
		pid_t h = itest_holder_pid(&d);

		tap_ok(itest_daemon_alive(&d), "hostrpcd still runs");
		rc = itest_daemon_stop(&d);
		if (h > 0)
			kill(h, SIGKILL);
	}
	tap_ok(rc != -2, "no sanitizer report in hostrpcd's or its workers' logs");
	unlink(path);
	rmdir(conf);
	return tap_done();
}
