/* SPDX-License-Identifier: MIT */
/*
 * test-sock-audit-flood - a guest cannot fill the host's disk through the
 * socket audit log: a process guest of a private hostrpcd (started with
 * --audit-log-max=4K --audit-rate=200) makes thousands of connects its
 * policy denies, each one an audit record.  The supervisor writes the log
 * (hostrpc/daemon/audit-sink.h): it stays under its cap, was rotated to
 * .1, a "suppressed N lines" summary stands for what the rate limit
 * dropped, and every line carries the guest id the supervisor gave it.
 */
#include "config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/tap.h"
#include "tests/integration/itest.h"
#include "outsource/sock/sockguest.h"

#define CAP 4096
#define DENIED 4000

static struct sguest g;

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static char *slurp(const char *path)
{
	char *buf = NULL;

	if (!g_file_get_contents(path, &buf, NULL, NULL))
		return g_strdup("");
	return buf;
}

int main(void)
{
	char conf[300] = "";
	const char *const extra[] = { "--audit-log-max=4K", "--audit-rate=200",
				      "--sock-policy-dir", conf, NULL };
	struct itest_daemon d;
	char path[400], log[600], log1[610], log2[610];
	g_autofree char *text = NULL, *text1 = NULL;
	struct hrpc_sock_addr a;
	int denied = 0, rc;
	uint64_t h = 0;
	FILE *f;

	tap_plan(9);
	itest_watchdog(120);
	snprintf(conf, sizeof(conf), "/tmp/sock-audit-flood.XXXXXX");
	if (!mkdtemp(conf))
		tap_skip_all("cannot make a temporary directory");
	snprintf(path, sizeof(path), "%s/default.conf", conf);
	f = fopen(path, "w");
	fprintf(f, "connect deny 192.0.2.0/24\n");
	fclose(f);

	rc = itest_daemon_start(&d, extra);
	if (rc < 0) {
		printf("Bail out! hostrpcd did not start: %s\n", strerror(-rc));
		return 1;
	}
	memset(&g, 0, sizeof(g));
	rc = itest_guest_connect(d.guest_sock, "flooder", &g.cli);
	if (!rc) {
		struct hrpc_sock_init_req r = { .version = HRPC_SOCK_VERSION, .credit = 256 };
		struct hrpc_sock_init_rep o;

		hrpc_client_set_event_handler(g.cli, sg_event, &g);
		rc = sg_call(&g, HRPC_SOCK_INIT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
	}
	if (!rc)
		rc = sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	tap_ok(rc == 0, "a guest with the socket service (%d)", rc);
	sg_addr(&a, AF_INET, "192.0.2.1", 80);
	for (int i = 0; i < DENIED && !rc; i++) {
		a.port = (uint16_t)(1 + i % 60000);
		if (sg_connect(&g, h, &a, 1000) == -EACCES)
			denied++;
	}
	tap_ok(denied == DENIED, "%d connects denied by policy, each audited by the worker", denied);
	hrpc_client_free(g.cli);
	g.cli = NULL;
	/* The guest is freed once its worker is reaped: the summary is out. */
	tap_ok(itest_log_wait(&d, 10000, "guest 1", "freed", NULL), "the guest is gone");

	/* A process guest's worker starts as guest-<id>. */
	snprintf(log, sizeof(log), "%s/sock-audit/guest-1.sock.log", d.state_dir);
	snprintf(log1, sizeof(log1), "%s.1", log);
	snprintf(log2, sizeof(log2), "%s.2", log);
	text = slurp(log);
	text1 = slurp(log1);
	tap_diag("%s: %lld bytes, .1: %lld bytes", log, (long long)size_of(log),
		 (long long)size_of(log1));
	tap_ok(size_of(log) > 0 && size_of(log) <= CAP, "the log stays under its cap (%d bytes)",
	       CAP);
	tap_ok(size_of(log1) > 0 && size_of(log1) <= CAP && size_of(log2) < 0,
	       "it was rotated: .1 kept, under the cap too, nothing older");
	tap_ok(strstr(text, "audit: suppressed ") || strstr(text1, "audit: suppressed "),
	       "a \"suppressed N lines\" summary stands for what the rate limit dropped");
	{
		g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
		bool ok = lines[0] && lines[0][0];

		for (int i = 0; lines[i] && lines[i][0]; i++) {
			const char *sp = strchr(lines[i], ' ');

			ok = ok && sp && !strncmp(sp + 1, "guest=1 name=guest-1 ", 21);
		}
		tap_ok(ok, "every line is attributed by the supervisor (guest=1 name=guest-1)");
	}

	/* hostrpcctl audit shows the same newest lines, through the daemon. */
	{
		g_autofree char *ctl = itest_build_path("hostrpc/daemon/hostrpcctl");
		g_autofree char *cmd = NULL, *out = NULL, *json = NULL, *want = NULL;
		g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
		guint n = g_strv_length(lines);
		int st = -1;

		want = n >= 4 ? g_strdup_printf("%s\n%s\n%s\n", lines[n - 4], lines[n - 3],
						lines[n - 2]) : g_strdup("?");
		cmd = g_strdup_printf("%s --admin-socket=%s audit guest-1 3", ctl, d.admin_sock);
		g_spawn_command_line_sync(cmd, &out, NULL, &st, NULL);
		tap_ok(st == 0 && out && g_str_equal(out, want),
		       "hostrpcctl audit guest-1 3: the log's newest 3 lines, for a guest that "
		       "has gone");
		g_free(cmd);
		cmd = g_strdup_printf("%s --admin-socket=%s --json audit no-such-guest", ctl,
				      d.admin_sock);
		g_spawn_command_line_sync(cmd, &json, NULL, &st, NULL);
		tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		       "hostrpcctl audit of an unknown guest exits 1");
	}

	rc = itest_daemon_stop(&d);
	if (rc != 0)
		tap_diag("hostrpcd stop: %d", rc);
	snprintf(path, sizeof(path), "rm -rf '%s'", conf);
	if (system(path) != 0)
		tap_diag("could not remove %s", conf);
	return tap_done();
}
