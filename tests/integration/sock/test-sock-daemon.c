/* SPDX-License-Identifier: MIT */
/*
 * test-sock-daemon - the socket service as hostrpcd's workers run it: a
 * process guest connects to a private hostrpcd, downloads 16 MiB from a
 * server on the host's loopback through outsourced sockets (checksummed),
 * is refused a destination its policy (--sock-policy-dir DIR/default.conf)
 * denies, and the audit log the supervisor writes (--sock-audit-dir) shows
 * the connection with its byte count and the denial.  hostrpcctl sockets
 * asks the worker through the daemon (no listing file exists anywhere); a
 * worker that never answers (stopped) gives hostrpcctl a timeout error while
 * the daemon keeps serving, and its late answer is dropped.
 */
#include "config.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/tap.h"
#include "tests/integration/itest.h"
#include "outsource/sock/sockguest.h"
#include "hostrpc/admin.h"
#include "hostrpc/echo.h"

#define SIZE (16u << 20)

static struct sguest g;

struct srv {
	int lfd;
	uint16_t port;
};

static void *serve(void *arg)
{
	struct srv *s = arg;
	uint8_t *buf = malloc(SIZE);
	int fd = accept(s->lfd, NULL, NULL);
	size_t off = 0;

	for (uint32_t i = 0; i < SIZE; i++)
		buf[i] = hrpc_echo_pattern(7, i);
	while (fd >= 0 && off < SIZE) {
		ssize_t n = send(fd, buf + off, SIZE - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* `cmd` through the shell; its output (stdout and stderr) in `out`,
 * its exit status returned. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(out, 1, size - 1, p) : 0;

	out[n] = 0;
	return p ? pclose(p) : -1;
}

/* Files whose name has ".sockets" in `dir` and one level below it. */
static int listing_files(const char *dir, int depth)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (e = readdir(d))) {
		char sub[1024];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strstr(e->d_name, ".sockets")) {
			tap_diag("listing file: %s/%s", dir, e->d_name);
			n++;
		}
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (depth < 2 && e->d_type == DT_DIR)
			n += listing_files(sub, depth + 1);
	}
	if (d)
		closedir(d);
	return n;
}

static char *read_audit(const char *dir)
{
	char path[1024];
	struct dirent *e;
	static char buf[1 << 20];
	DIR *d;

	d = opendir(dir);
	buf[0] = 0;
	while (d && (e = readdir(d))) {
		FILE *f;
		size_t n;

		if (!strstr(e->d_name, ".sock.log"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
		tap_diag("audit log: %s", e->d_name);
	}
	if (d)
		closedir(d);
	return buf;
}

int main(void)
{
	struct itest_daemon d;
	char conf[300], path[400], audit[400];
	const char *extra[] = { "--sock-policy-dir", conf, "--sock-audit-dir", "@DIR@/audit",
				NULL };
	struct srv s = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct hrpc_sock_addr a;
	struct hrpc_bulk bk;
	pthread_t th;
	uint64_t h, t0;
	uint8_t *buf;
	FILE *f;
	int rc;

	itest_watchdog(120);
	snprintf(conf, sizeof(conf), "/tmp/sock-daemon-conf.XXXXXX");
	if (!mkdtemp(conf))
		tap_skip_all("cannot make a temporary directory");
	snprintf(path, sizeof(path), "%s/default.conf", conf);
	f = fopen(path, "w");
	/* the host's loopback server is what this guest may reach */
	fprintf(f, "connect deny 127.0.0.2\nconnect allow 127.0.0.1\n");
	fclose(f);

	tap_plan(15);
	rc = itest_daemon_start(&d, extra);
	if (rc < 0) {
		printf("Bail out! hostrpcd did not start: %s\n", strerror(-rc));
		return 1;
	}
	memset(&g, 0, sizeof(g));
	snprintf(audit, sizeof(audit), "%s/audit", d.dir);
	rc = itest_guest_connect(d.guest_sock, "sock-daemon-guest", &g.cli);
	tap_ok(rc == 0, "process guest connected to hostrpcd (%d)", rc);
	if (rc)
		goto out;
	hrpc_client_set_event_handler(g.cli, sg_event, &g);
	{
		struct hrpc_sock_init_req r = { .version = HRPC_SOCK_VERSION, .credit = 256 };
		struct hrpc_sock_init_rep o;

		rc = sg_call(&g, HRPC_SOCK_INIT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
		tap_ok(rc == 0 && o.version == HRPC_SOCK_VERSION,
		       "hostrpcd's worker serves the socket service (INIT: %d, quota %u)", rc,
		       o.max_sockets);
	}

	s.lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(s.lfd, 4);
	getsockname(s.lfd, (struct sockaddr *)&sa, &sl);
	s.port = ntohs(sa.sin_port);
	pthread_create(&th, NULL, serve, &s);

	buf = malloc(SIZE);
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "127.0.0.1", s.port);
	t0 = hrpc_now_ns();
	rc = sg_connect(&g, h, &a, 5000);
	hrpc_client_bulk_alloc(g.cli, 512 << 10, &bk);
	if (!rc)
		rc = sg_recv_all(&g, h, buf, SIZE, &bk, 10000);
	{
		double s_ = (hrpc_now_ns() - t0) / 1e9;
		bool same = true;

		for (uint32_t i = 0; i < SIZE && same; i++)
			same = buf[i] == hrpc_echo_pattern(7, i);
		tap_ok(rc == 0 && same, "16 MiB from a host server through outsourced sockets, "
		       "checksummed (%.0f MB/s)", SIZE / s_ / 1e6);
	}
	sg_close(&g, h);
	pthread_join(th, NULL);
	close(s.lfd);

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "127.0.0.2", s.port);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
	tap_ok(rc == -EACCES, "destination denied by the guest's policy file -> -EACCES (%d)", rc);
	sg_close(&g, h);

	/* SO_REUSEPORT: a worker of root's hostrpcd has a uid of the guest's
	 * own, and Linux groups only sockets of one uid, so the option shares
	 * a port among the guest's sockets and never with a host service's. */
	{
		struct sockaddr_in ha = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct hrpc_sock_addr b, nm;
		socklen_t hl = sizeof(ha);
		uint64_t u1 = 0, u2 = 0, u3 = 0;
		int one = 1, hfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r1, r2, r3;

		sg_socket(&g, AF_INET, SOCK_DGRAM, &u1);
		sg_socket(&g, AF_INET, SOCK_DGRAM, &u2);
		r1 = sg_setopt_int(&g, u1, SOL_SOCKET, SO_REUSEPORT, 1);
		sg_setopt_int(&g, u2, SOL_SOCKET, SO_REUSEPORT, 1);
		sg_addr(&b, AF_INET, "127.0.0.1", 0);
		sg_addrcall(&g, HRPC_SOCK_BIND, u1, &b);
		sg_getname(&g, u1, false, &nm);
		r2 = sg_addrcall(&g, HRPC_SOCK_BIND, u2, &nm);
		if (geteuid() == 0)
			tap_ok(r1 == 0 && r2 == 0, "SO_REUSEPORT: two of the guest's own sockets share "
			       "a port (%d, %d)", r1, r2);
		else
			tap_ok(r1 == -EPERM, "SO_REUSEPORT without a worker uid of the guest's own is "
			       "refused (%d)", r1);
		setsockopt(hfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		bind(hfd, (struct sockaddr *)&ha, sizeof(ha));
		getsockname(hfd, (struct sockaddr *)&ha, &hl);
		sg_socket(&g, AF_INET, SOCK_DGRAM, &u3);
		sg_setopt_int(&g, u3, SOL_SOCKET, SO_REUSEPORT, 1);
		sg_addr(&b, AF_INET, "127.0.0.1", ntohs(ha.sin_port));
		r3 = sg_addrcall(&g, HRPC_SOCK_BIND, u3, &b);
		tap_ok(r3 == -EADDRINUSE, "SO_REUSEPORT never joins a host service's port, even one "
		       "with SO_REUSEPORT set (%d)", r3);
		sg_close(&g, u1);
		sg_close(&g, u2);
		sg_close(&g, u3);
		close(hfd);
	}
	hrpc_client_bulk_free(g.cli, &bk);
	free(buf);

	/* hostrpcctl sockets: the daemon asks the guest's worker. */
	{
		struct hrpc_sock_addr any, name;
		struct hrpc_admin_guest ag;
		char cmd[1024], out[8192] = "", want[600], sock_want[64];
		char *tool = itest_build_path("hostrpc/daemon/hostrpcctl");
		uint64_t lh, t;
		FILE *p;
		int st;

		sg_socket(&g, AF_INET, SOCK_STREAM, &lh);
		sg_addr(&any, AF_INET, "127.0.0.1", 0);
		sg_addrcall(&g, HRPC_SOCK_BIND, lh, &any);
		sg_simple(&g, HRPC_SOCK_LISTEN, lh, 4);
		sg_getname(&g, lh, false, &name);
		/* Asked now, answered now: no refresh to wait for. */
		snprintf(sock_want, sizeof(sock_want), "\"local\":\"127.0.0.1:%u\"", name.port);
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s --json sockets 1", tool, d.admin_sock);
		st = run(cmd, out, sizeof(out));
		tap_ok(st == 0 && strstr(out, sock_want) && strstr(out, "\"state\":\"listening\"") &&
		       strstr(out, "\"denied\":1"),
		       "hostrpcctl --json sockets GUEST-ID: the worker's listing, at once");
		/* The effective policy heads the listing: its file, its own
		 * rules, then the built-in ones. */
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s sockets sock-daemon-guest", tool,
			 d.admin_sock);
		run(cmd, out, sizeof(out));
		tap_diag("hostrpcctl sockets:\n%s", out);
		snprintf(want, sizeof(want), "POLICY %s\n", path);
		tap_ok(strstr(out, want) && strstr(out, "connect deny  127.0.0.2/32") &&
		       strstr(out, "connect allow 127.0.0.1/32") &&
		       strstr(out, "built-in (loopback)") && strstr(out, "connect deny  host") &&
		       strstr(out, "HANDLE") && strstr(out, "listening"),
		       "hostrpcctl sockets NAME prints the effective policy (source, rules, "
		       "built-ins) and the sockets");
		rc = listing_files(d.dir, 0);
		tap_ok(rc == 0, "no listing file anywhere: not in the state directory, not in "
		       "the audit directory (%d)", rc);
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s sockets no-such-guest 2>&1", tool,
			 d.admin_sock);
		st = run(cmd, out, sizeof(out));
		tap_ok(st != 0 && strstr(out, "no guest no-such-guest"),
		       "hostrpcctl sockets of an unknown guest: a clear error");

		/* More sockets than one message can list: the table is cut
		 * and says so; JSON, which would not parse cut, is refused. */
		{
			static uint64_t many[600];
			static char big[HRPC_MSG_MAX_PAYLOAD * 2];
			int opened = 0, st2;

			for (int i = 0; i < 600; i++)
				opened += sg_socket(&g, AF_INET, SOCK_DGRAM, &many[i]) == 0;
			snprintf(cmd, sizeof(cmd), "%s --admin-socket %s sockets 1", tool,
				 d.admin_sock);
			st = run(cmd, big, sizeof(big));
			snprintf(cmd, sizeof(cmd), "%s --admin-socket %s --json sockets 1 2>&1", tool,
				 d.admin_sock);
			st2 = run(cmd, out, sizeof(out));
			tap_ok(opened == 600 && st == 0 && !strncmp(big, "POLICY ", 7) &&
			       strlen(big) <= HRPC_ADMIN_SOCKETS_TEXT_MAX &&
			       strstr(big, "\n[listing truncated]\n") && st2 != 0 &&
			       strstr(out, "larger than one message"),
			       "601 sockets: the table is cut at %zu bytes and marked, JSON is "
			       "refused with a clear error", strlen(big));
			for (int i = 0; i < 600; i++)
				sg_close(&g, many[i]);
		}

		/* A worker that never answers (stopped): hostrpcctl gets a
		 * timeout error, and the daemon serves others meanwhile. */
		rc = itest_admin_find(d.admin_sock, "sock-daemon-guest", &ag);
		if (rc == 0 && ag.worker_pid)
			kill((pid_t)ag.worker_pid, SIGSTOP);
		t = hrpc_now_ns();
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s sockets 1 2>&1", tool, d.admin_sock);
		p = popen(cmd, "r");
		{
			char out2[4096];
			uint64_t t2 = hrpc_now_ns();

			snprintf(cmd, sizeof(cmd), "%s --admin-socket %s list", tool, d.admin_sock);
			st = run(cmd, out2, sizeof(out2));
			t2 = hrpc_now_ns() - t2;
			tap_ok(st == 0 && strstr(out2, "sock-daemon-guest") && t2 < 1000000000ull,
			       "while the worker keeps hostrpcctl sockets waiting, hostrpcctl list "
			       "answers (%.2f s)", t2 / 1e9);
		}
		{
			size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;

			out[n] = 0;
			st = p ? pclose(p) : -1;
		}
		t = hrpc_now_ns() - t;
		tap_ok(rc == 0 && ag.worker_pid && st != 0 && strstr(out, "did not answer") &&
		       t < 10000000000ull,
		       "a stopped worker: hostrpcctl sockets fails with a timeout (%.1f s): %s",
		       t / 1e9, out);
		if (rc == 0 && ag.worker_pid)
			kill((pid_t)ag.worker_pid, SIGCONT);
		/* Its late answer to the old question is dropped; the next
		 * question gets its own. */
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s --json sockets 1", tool, d.admin_sock);
		st = run(cmd, out, sizeof(out));
		tap_ok(st == 0 && strstr(out, sock_want) && itest_daemon_alive(&d),
		       "woken again, the worker answers the next question; the daemon lives");
		sg_close(&g, lh);
		free(tool);
	}
	{
		const char *log = read_audit(audit);
		char want[64];

		snprintf(want, sizeof(want), "connect 127.0.0.1:%u", s.port);
		tap_ok(strstr(log, want) && strstr(log, "received=16777216") &&
		       strstr(log, "connect 127.0.0.2:") && strstr(log, "denied by policy"),
		       "the audit log in --sock-audit-dir has the connection, its bytes and the "
		       "denial");
	}
	hrpc_client_free(g.cli);
out:
	itest_daemon_stop(&d);
	unlink(path);
	rmdir(conf);
	return tap_done();
}
