/* SPDX-License-Identifier: MIT */
/*
 * test-sock-daemon - the socket service as hostrpcd's workers run it: a
 * process guest connects to a private hostrpcd, downloads 16 MiB from a
 * server on the host's loopback through outsourced sockets (checksummed),
 * is refused a destination its policy (HOSTRPC_SOCK_CONF_DIR/default.conf)
 * denies, and the worker's audit log (<state-dir>/sock-audit/) shows the
 * connection with its byte count and the denial.
 */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/tap.h"
#include "tests/integration/itest.h"
#include "outsource/sock/sockguest.h"
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

static char *read_audit(const char *state_dir)
{
	char dir[512], path[1024];
	struct dirent *e;
	static char buf[1 << 20];
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/sock-audit", state_dir);
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
	char conf[300], path[400];
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
	setenv("HOSTRPC_SOCK_CONF_DIR", conf, 1);
	unsetenv("HOSTRPC_SOCK_AUDIT_DIR");

	tap_plan(10);
	rc = itest_daemon_start(&d, NULL);
	if (rc < 0) {
		printf("Bail out! hostrpcd did not start: %s\n", strerror(-rc));
		return 1;
	}
	memset(&g, 0, sizeof(g));
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
	hrpc_client_bulk_free(g.cli, &bk);
	free(buf);

	/* hostrpc-sockets lists the guest's open sockets (JSON and table). */
	{
		struct hrpc_sock_addr any, name;
		char cmd[1024], out[8192] = "", want[600];
		char *tool = itest_build_path("outsource/sock/hostrpc-sockets");
		uint64_t lh;
		FILE *p;
		size_t n = 0;

		sg_socket(&g, AF_INET, SOCK_STREAM, &lh);
		sg_addr(&any, AF_INET, "127.0.0.1", 0);
		sg_addrcall(&g, HRPC_SOCK_BIND, lh, &any);
		sg_simple(&g, HRPC_SOCK_LISTEN, lh, 4);
		sg_getname(&g, lh, false, &name);
		snprintf(want, sizeof(want), "\"local\":\"127.0.0.1:%u\"", name.port);
		for (int i = 0; i < 30 && !strstr(out, want); i++) {
			usleep(200000);
			snprintf(cmd, sizeof(cmd), "%s --json --state-dir %s guest-1", tool, d.state_dir);
			p = popen(cmd, "r");
			n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
			out[n] = 0;
			if (p)
				pclose(p);
		}
		tap_ok(strstr(out, want) && strstr(out, "\"state\":\"listening\"") &&
		       strstr(out, "\"denied\":1"),
		       "hostrpc-sockets --json lists the guest's listening socket and its counters");
		snprintf(cmd, sizeof(cmd), "%s --state-dir %s guest-1", tool, d.state_dir);
		p = popen(cmd, "r");
		n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
		out[n] = 0;
		if (p)
			pclose(p);
		tap_diag("hostrpc-sockets:\n%s", out);
		tap_ok(strstr(out, "HANDLE") && strstr(out, "listening"), "hostrpc-sockets table");
		/* The same listing through hostrpcd's admin service. */
		free(tool);
		tool = itest_build_path("hostrpc/daemon/hostrpcctl");
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s --json sockets 1", tool, d.admin_sock);
		p = popen(cmd, "r");
		n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
		out[n] = 0;
		if (p)
			pclose(p);
		tap_ok(strstr(out, want) && strstr(out, "\"state\":\"listening\""),
		       "hostrpcctl --json sockets GUEST-ID shows the listening socket");
		/* The effective policy heads the listing: its file, its own
		 * rules, then the built-in ones. */
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s sockets 1", tool, d.admin_sock);
		p = popen(cmd, "r");
		n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
		out[n] = 0;
		if (p)
			pclose(p);
		snprintf(want, sizeof(want), "POLICY %s\n", path);
		tap_ok(strstr(out, want) && strstr(out, "connect deny  127.0.0.2/32") &&
		       strstr(out, "connect allow 127.0.0.1/32") &&
		       strstr(out, "built-in (loopback)") && strstr(out, "connect deny  host") &&
		       strstr(out, "HANDLE"),
		       "hostrpcctl sockets GUEST prints the effective policy: source, rules, built-ins");
		snprintf(cmd, sizeof(cmd), "%s --admin-socket %s sockets no-such-guest 2>&1", tool,
			 d.admin_sock);
		p = popen(cmd, "r");
		n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
		out[n] = 0;
		tap_ok(p && pclose(p) != 0 && strstr(out, "no guest no-such-guest"),
		       "hostrpcctl sockets of an unknown guest: a clear error");
		sg_close(&g, lh);
		free(tool);
	}
	{
		const char *log = read_audit(d.state_dir);
		char want[64];

		snprintf(want, sizeof(want), "connect 127.0.0.1:%u", s.port);
		tap_ok(strstr(log, want) && strstr(log, "received=16777216") &&
		       strstr(log, "connect 127.0.0.2:") && strstr(log, "denied by policy"),
		       "the worker's audit log has the connection, its bytes and the denial");
	}
	hrpc_client_free(g.cli);
out:
	itest_daemon_stop(&d);
	unlink(path);
	rmdir(conf);
	return tap_done();
}
