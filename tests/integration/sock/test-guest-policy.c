/* SPDX-License-Identifier: MIT */
/*
 * test-guest-policy - hostrpcd.conf and guests/NAME.conf with real process
 * guests: a private hostrpcd started with --config FILE (guest-policy-dir
 * set there) serves its guests the [sockets] section of guests/default.conf
 * (its quota, a loopback port the built-in rules would refuse);
 * --check-config --guest shows that file and policy, and refuses a guest
 * file with a bad line naming its line; SIGHUP after the guests/ file and
 * hostrpcd.conf changed gives a guest that connects afterwards the new
 * policy while the guest already attached keeps its worker and its policy,
 * and says which changed key needs a restart, max-guests lowered there
 * refuses the next guest beyond it; a hostrpcd.conf that does not
 * parse at SIGHUP is logged and kept out (the next guest still gets the
 * policy of before), and the daemon stops cleanly.
 *
 * Process guests are named guest-ID when their worker starts (before their
 * HELLO), so their file here is default.conf.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/tap.h"
#include "tests/integration/itest.h"
#include "outsource/sock/sockguest.h"

static struct sguest ga, gb, gc;
static char conf[300];

static void put(const char *name, const char *text)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", conf, name);
	f = fopen(path, "w");
	if (!f) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* `cmd` through the shell; its output in `out`, its exit status returned. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int st;

	out[0] = 0;
	if (!p)
		return -1;
	while (n + 1 < size && !feof(p)) {
		size_t r = fread(out + n, 1, size - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int guest(struct sguest *g, struct itest_daemon *d, const char *name, uint32_t *quota)
{
	struct hrpc_sock_init_rep o = { 0 };
	int rc;

	memset(g, 0, sizeof(*g));
	rc = itest_guest_connect(d->guest_sock, name, &g->cli);
	if (rc)
		return rc;
	hrpc_client_set_event_handler(g->cli, sg_event, g);
	rc = sg_init(g, HRPC_SOCK_VERSION, 256, &o);
	*quota = o.max_sockets;
	return rc;
}

/* Connect a fresh socket of `g` to 127.0.0.1:port: 0 or -errno. */
static int try_loopback(struct sguest *g, uint16_t port)
{
	struct hrpc_sock_addr a;
	uint64_t h;
	int rc = sg_socket(g, AF_INET, SOCK_STREAM, &h);

	if (rc)
		return rc;
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	rc = sg_connect(g, h, &a, 5000);
	sg_close(g, h);
	return rc;
}

int main(void)
{
	struct itest_daemon d;
	char cfgpath[400], out[16384], cmd[1400], want[600];
	const char *extra[] = { "--config", cfgpath, NULL };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char *hostrpcd = itest_build_path("hostrpc/daemon/hostrpcd");
	uint32_t quota = 0;
	uint16_t port;
	int lfd, rc;

	itest_watchdog(120);
	snprintf(conf, sizeof(conf), "/tmp/guest-policy-conf.XXXXXX");
	if (!mkdtemp(conf))
		tap_skip_all("cannot make a temporary directory");
	snprintf(cfgpath, sizeof(cfgpath), "%s/hostrpcd.conf", conf);
	snprintf(cmd, sizeof(cmd), "%s/guests", conf);
	mkdir(cmd, 0755);
	snprintf(cmd, sizeof(cmd), "%s/guests2", conf);
	mkdir(cmd, 0755);
	snprintf(cmd, sizeof(cmd), "[hostrpcd]\nguest-policy-dir=%s/guests\nhello-timeout=10\n",
		 conf);
	put("hostrpcd.conf", cmd);
	/* Quota 3 and the host's loopback, which the built-in rules refuse. */
	put("guests/default.conf", "# every guest\n[sockets]\nmax-sockets 3\n"
	    "connect allow 127.0.0.1\n\n[exports]\n");
	put("guests2/default.conf", "[sockets]\nmax-sockets 7\n");

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(lfd, 16);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	port = ntohs(sa.sin_port);

	tap_plan(15);
	rc = itest_daemon_start(&d, extra);
	if (rc < 0) {
		printf("Bail out! hostrpcd did not start: %s\n", strerror(-rc));
		return 1;
	}
	rc = guest(&ga, &d, "policy-a", &quota);
	tap_ok(rc == 0 && quota == 3,
	       "guest A gets guests/default.conf's [sockets] quota: 3 (%d, %u)", rc, quota);
	rc = try_loopback(&ga, port);
	tap_ok(rc == 0, "guest A may connect to the host's 127.0.0.1 as its [sockets] says (%d)",
	       rc);

	snprintf(cmd, sizeof(cmd), "%s --check-config --config %s --socket %s --guest=guest-1 2>&1",
		 hostrpcd, cfgpath, d.guest_sock);
	rc = run(cmd, out, sizeof(out));
	snprintf(want, sizeof(want), "# policy file: %s/guests/default.conf", conf);
	tap_ok(rc == 0 && strstr(out, want) && strstr(out, "max-sockets 3;") &&
	       strstr(out, "connect allow 127.0.0.1/32") && strstr(out, "# no exports"),
	       "--check-config --guest shows the guest's file and its effective policy (exit %d)",
	       rc);
	snprintf(want, sizeof(want), "guest-policy-dir=%s/guests", conf);
	tap_ok(strstr(out, want) && strstr(out, "# file") && strstr(out, "# command line") &&
	       strstr(out, "hello-timeout=10 "),
	       "--check-config lists every key with where it came from");
	if (tap_failed)
		tap_diag("%s", out);
	put("guests/guest-9.conf", "[sockets]\n\nconnect sometimes 10.0.0.1\n");
	snprintf(cmd, sizeof(cmd), "%s --check-config --config %s --guest=guest-9 2>&1", hostrpcd,
		 cfgpath);
	rc = run(cmd, out, sizeof(out));
	snprintf(want, sizeof(want), "%s/guests/guest-9.conf: line 3: ", conf);
	tap_ok(rc == 1 && strstr(out, want),
	       "--check-config refuses a bad guest file, naming it and its line (exit %d): %s", rc,
	       strstr(out, "hostrpcd: ") ? strstr(out, "hostrpcd: ") : out);

	/* SIGHUP: a new guests/ file and a key that needs a restart. */
	put("guests/default.conf", "[sockets]\nmax-sockets 5\n");
	snprintf(cmd, sizeof(cmd), "[hostrpcd]\nguest-policy-dir=%s/guests\nhello-timeout=10\n"
		 "endpoint-dir=%s/endpoints\nmax-guests=3\n", conf, conf);
	put("hostrpcd.conf", cmd);
	kill(d.pid, SIGHUP);
	tap_ok(itest_log_wait(&d, 5000, "endpoint-dir changed: that takes a restart", NULL) &&
	       itest_log_wait(&d, 5000, "SIGHUP: configuration", "read again", NULL),
	       "SIGHUP: hostrpcd reads its file again and says which change needs a restart");
	rc = guest(&gb, &d, "policy-b", &quota);
	tap_ok(rc == 0 && quota == 5, "guest B, connected after SIGHUP, gets the new quota: 5 "
	       "(%d, %u)", rc, quota);
	rc = try_loopback(&gb, port);
	tap_ok(rc == -EACCES, "guest B is refused 127.0.0.1: the new [sockets] does not allow it "
	       "(%d)", rc);
	rc = try_loopback(&ga, port);
	tap_ok(rc == 0 && itest_admin_listed(d.admin_sock, "policy-a"),
	       "guest A stayed attached with the policy its worker started with (%d)", rc);

	/* A file that does not parse at SIGHUP: logged, kept out. */
	snprintf(cmd, sizeof(cmd), "[hostrpcd]\nguest-policy-dir=%s/guests2\nbogus-key=1\n", conf);
	put("hostrpcd.conf", cmd);
	kill(d.pid, SIGHUP);
	snprintf(want, sizeof(want), "%s:3: bogus-key: unknown key", cfgpath);
	tap_ok(itest_log_wait(&d, 5000, want, "the configuration stays as it was", NULL),
	       "SIGHUP with a bad file: the error is logged with file, line and key");
	rc = guest(&gc, &d, "policy-c", &quota);
	tap_ok(rc == 0 && quota == 5, "the bad file was kept out: guest C still gets quota 5, "
	       "not guests2's 7 (%d, %u)", rc, quota);
	{
		hrpc_client *extra_guest = NULL;

		rc = itest_guest_connect(d.guest_sock, "policy-d", &extra_guest);
		tap_ok(rc < 0 && itest_log_wait(&d, 5000, "refusing process guest", "no room", NULL),
		       "max-guests=3 from the SIGHUP before: a fourth guest is refused (%d)", rc);
		if (extra_guest)
			hrpc_client_free(extra_guest);
	}
	tap_ok(itest_daemon_alive(&d) && itest_admin_listed(d.admin_sock, "policy-a") &&
	       itest_admin_listed(d.admin_sock, "policy-b"),
	       "hostrpcd and the guests attached before stay up");

	hrpc_client_free(gc.cli);
	hrpc_client_free(gb.cli);
	hrpc_client_free(ga.cli);
	{
		int st = itest_daemon_stop(&d);

		tap_ok(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "hostrpcd stops cleanly (status %d)", st);
	}
	close(lfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", conf);
	tap_ok(getenv("ITEST_KEEP") || system(cmd) == 0, "configuration directory removed");
	free(hostrpcd);
	return tap_done();
}
