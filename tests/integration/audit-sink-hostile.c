/* SPDX-License-Identifier: MIT */
/*
 * audit-sink-hostile - the supervisor's side of the socket audit log
 * (hostrpc/daemon/audit-sink.h), in-process, fed the way a compromised
 * worker could feed it: records with newlines, escapes and NULs, a record
 * claiming another guest, an overlong record, a flood.  Every line must
 * start with the supervisor's own "guest=ID name=NAME", stay one printable
 * line, and the file must stay under its cap with one rotation kept and a
 * "suppressed" summary for what the rate limit dropped.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>

#include "tests/tap.h"
#include "hostrpc/daemon/audit-sink.h"

static char dir[64] = "/tmp/audit-sink.XXXXXX";

static void pump(void)
{
	for (int i = 0; i < 50; i++)
		while (g_main_context_iteration(NULL, FALSE))
			;
}

static char *slurp(const char *name)
{
	g_autofree char *path = g_strdup_printf("%s/%s", dir, name);
	char *buf = NULL;

	if (!g_file_get_contents(path, &buf, NULL, NULL))
		return g_strdup("");
	return buf;
}

static off_t size_of(const char *name)
{
	g_autofree char *path = g_strdup_printf("%s/%s", dir, name);
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static bool all_lines_start(const char *buf, const char *who)
{
	g_auto(GStrv) lines = g_strsplit(buf, "\n", -1);

	for (int i = 0; lines[i]; i++) {
		const char *sp = strchr(lines[i], ' ');

		if (!lines[i][0] && !lines[i + 1])
			break;   /* after the last newline */
		if (!sp || strncmp(sp + 1, who, strlen(who)))
			return false;
	}
	return true;
}

static bool printable(const char *buf)
{
	for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
		if (*p != '\n' && (*p < 0x20 || *p > 0x7e))
			return false;
	return true;
}

static int count_lines(const char *buf)
{
	int n = 0;

	for (; *buf; buf++)
		n += *buf == '\n';
	return n;
}

int main(void)
{
	const char forged[] = "sock=1 connect ok\nguest=2 name=other sock=9 connect 10.0.0.1:22 ok";
	const char escapes[] = "sock=2 \x1b[2J\x1b]0;pwned\x07 bind\r\x00hidden\x7f\xff";
	char big[3000];
	g_autoptr(HrpcdAuditSinks) s = NULL;
	g_autofree char *log = NULL, *log1 = NULL;
	int fd, fd2;

	tap_plan(17);
	if (!mkdtemp(dir))
		tap_skip_all("cannot make a temporary directory");

	/* rate 40 a second: enough for the hostile records, not for the flood */
	s = hrpcd_audit_sinks_new(dir, 4096, 40, NULL);
	fd = hrpcd_audit_sinks_open(s, 7, "victim", NULL);
	fd2 = hrpcd_audit_sinks_open(s, 8, "other", NULL);
	tap_ok(fd >= 0 && fd2 >= 0, "audit channels for two guests");

	send(fd, forged, sizeof(forged) - 1, 0);
	send(fd, escapes, sizeof(escapes) - 1, 0);
	memset(big, 'A', sizeof(big));
	send(fd, big, sizeof(big), 0);
	send(fd2, "sock=3 listen ok", 16, 0);
	pump();
	log = slurp("victim.sock.log");
	tap_ok(count_lines(log) == 3, "three records, three lines: a newline in a record does "
	       "not start a line (%d)", count_lines(log));
	tap_ok(all_lines_start(log, "guest=7 name=victim "),
	       "every line is attributed by the supervisor: guest=7 name=victim first");
	tap_ok(strstr(log, "guest=7 name=victim sock=1 connect ok?guest=2 name=other") != NULL,
	       "the forged \"guest=2 name=other\" stays inside guest 7's line");
	tap_ok(printable(log), "escape, control, NUL and high bytes are replaced: printable only");
	{
		const char *t = strstr(log, "[truncated]");
		const char *bol = t;

		while (bol && bol > log && bol[-1] != '\n')
			bol--;
		tap_ok(t && t - bol < HRPCD_AUDIT_RECORD_MAX + 100,
		       "a 3000-byte record is cut at %d bytes and marked [truncated] (%d)",
		       HRPCD_AUDIT_RECORD_MAX, t ? (int)(t - bol) : -1);
	}
	{
		g_autofree char *other = slurp("other.sock.log");

		tap_ok(count_lines(other) == 1 && all_lines_start(other, "guest=8 name=other ") &&
		       !strstr(other, "victim"), "the other guest's log has its one line only");
	}

	/* The flood: 2000 records of ~100 bytes in well under a second. */
	for (int i = 0; i < 2000; i++) {
		char rec[128];
		int n = snprintf(rec, sizeof(rec), "sock=%d connect 127.0.0.2:%d denied by policy "
				 "%060d", i, 1000 + i, i);

		if (send(fd, rec, (size_t)n, MSG_DONTWAIT) < 0) {
			pump();
			i--;
		}
	}
	pump();
	/* The worker goes away; the guest is released: summary written. */
	close(fd);
	pump();
	hrpcd_audit_sinks_release(s, 7);
	g_free(log);
	log = slurp("victim.sock.log");
	log1 = slurp("victim.sock.log.1");
	tap_diag("after the flood: victim.sock.log %lld bytes, .1 %lld bytes",
		 (long long)size_of("victim.sock.log"), (long long)size_of("victim.sock.log.1"));
	tap_ok(size_of("victim.sock.log") > 0 && size_of("victim.sock.log") <= 4096,
	       "the log stays under its 4096-byte cap");
	tap_ok(size_of("victim.sock.log.1") > 0 && size_of("victim.sock.log.1") <= 4096,
	       "it was rotated once to .1, itself under the cap");
	tap_ok(size_of("victim.sock.log.2") < 0, "only one rotated file is kept");
	tap_ok(strstr(log, "guest=7 name=victim audit: suppressed ") ||
	       strstr(log1, "guest=7 name=victim audit: suppressed "),
	       "the rate limit left a \"suppressed N lines\" summary");
	tap_ok(all_lines_start(log, "guest=7 name=victim ") && printable(log),
	       "after the flood every line is still the supervisor's, printable");

	/* hostrpcctl audit reads it back (the guest has gone: by name). */
	{
		g_autoptr(GString) t = g_string_new(NULL);
		g_autoptr(GString) all = g_string_new(NULL);
		g_autoptr(GString) small = g_string_new(NULL);
		g_autoptr(GError) err = NULL;
		g_auto(GStrv) loglines = g_strsplit(log, "\n", -1);
		guint n = g_strv_length(loglines);
		g_autofree char *want = NULL;
		g_autofree char *path = g_strdup_printf("%s/victim.sock.log", dir);
		FILE *f;
		gint got;

		/* The last two lines of the file, newest last. */
		want = n >= 3 ? g_strdup_printf("%s\n%s\n", loglines[n - 3], loglines[n - 2])
			      : g_strdup("?");
		got = hrpcd_audit_sinks_tail(s, 0, "victim", 2, 65536, t, NULL);
		tap_ok(got == 2 && g_str_equal(t->str, want),
		       "tail: the newest 2 lines of a gone guest's log, by name, in order");
		got = hrpcd_audit_sinks_tail(s, 0, "victim", 1000, 65536, all, NULL);
		tap_ok(got > (gint)n - 1 && g_str_has_suffix(all->str, log) &&
		       strstr(all->str, log1) == all->str + (all->len - strlen(log) - strlen(log1)),
		       "tail: more lines than the file has come from the rotated .1 first (%d lines)",
		       got);
		got = hrpcd_audit_sinks_tail(s, 0, "victim", 1000, 300, small, NULL);
		tap_ok(got > 0 && small->len <= 300 && g_str_has_suffix(log, small->str),
		       "tail: a byte limit keeps the newest whole lines (%d lines, %zu bytes)", got,
		       small->len);
		tap_ok(hrpcd_audit_sinks_tail(s, 0, "nobody", 5, 65536, t, &err) < 0 &&
		       g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND),
		       "tail: a name with no log is NOT_FOUND");
		/* Someone wrote into the file behind the supervisor's back. */
		f = fopen(path, "a");
		if (f) {
			fputs("guest=7 name=victim forged\033[2J\x01\xff line\n", f);
			fclose(f);
		}
		g_string_truncate(t, 0);
		got = hrpcd_audit_sinks_tail(s, 0, "victim", 1, 65536, t, NULL);
		tap_ok(got == 1 && printable(t->str) && strstr(t->str, "forged"),
		       "tail: what it reads back is made printable again");
	}

	close(fd2);
	hrpcd_audit_sinks_release(s, 8);
	if (!getenv("ITEST_KEEP")) {
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			tap_diag("could not remove %s", dir);
	}
	return tap_done();
}
