/* SPDX-License-Identifier: MIT */
/*
 * test-log-journal - hostrpcd's log writer (hostrpc/daemon/log.c) sends
 * its entries to journald's native socket, with their fields, exactly when
 * stderr is the journal's stream, and falls back to its stderr line when
 * it is not or when the journal does not take an entry.
 *
 * The journal is played by this test, honestly as systemd sets it up for a
 * service: a SOCK_DGRAM socket bound where log.c is told the journal's
 * socket is, and a stream socket on descriptor 2 whose device and inode
 * $JOURNAL_STREAM names.  What is checked is what journald would parse:
 * the datagram's fields in the native protocol.  A forked child that calls
 * hrpcd_log_init() again (as a worker does after exec) sends its own
 * entries, seen by their SCM_CREDENTIALS pid.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/log-priv.h"
#include "tests/tap.h"

static int journal = -1;   /* the fake journal's datagram socket */
static int stream = -1;    /* our end of the stream on descriptor 2 */

/* One datagram as journald parses it: KEY=VALUE lines, or KEY, newline,
 * 64-bit little-endian length, bytes, newline.  NULL if malformed. */
static GHashTable *parse_entry(const char *buf, gsize len)
{
	g_autoptr(GHashTable) f = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *eq;

		if (!nl)
			return NULL;
		eq = memchr(p, '=', nl - p);
		if (eq) {
			g_hash_table_insert(f, g_strndup(p, eq - p), g_strndup(eq + 1, nl - eq - 1));
			p = nl + 1;
		} else {
			guint64 le, n;

			if ((gsize)(end - nl - 1) < sizeof(le))
				return NULL;
			memcpy(&le, nl + 1, sizeof(le));
			n = GUINT64_FROM_LE(le);
			if (n > (guint64)(end - nl - 1 - sizeof(le)) - 1 ||
			    nl[1 + sizeof(le) + n] != '\n')
				return NULL;
			g_hash_table_insert(f, g_strndup(p, nl - p), g_strndup(nl + 1 + sizeof(le), n));
			p = nl + 1 + sizeof(le) + n + 1;
		}
	}
	return g_steal_pointer(&f);
}

/* The next entry the journal got, or NULL if none came; *pid: the sender. */
static GHashTable *journal_next(pid_t *pid)
{
	char buf[65536], cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(journal, &mh, MSG_DONTWAIT);

	if (n < 0)
		return NULL;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && pid)
			*pid = ((struct ucred *)CMSG_DATA(c))->pid;
	return parse_entry(buf, n);
}

/* What came on the stderr stream since the last call ("" if nothing). */
static char *stderr_text(void)
{
	GString *s = g_string_new(NULL);
	char buf[4096];
	ssize_t n;

	while ((n = recv(stream, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		g_string_append_len(s, buf, n);
	return g_string_free(s, FALSE);
}

static gboolean field_is(GHashTable *f, const char *key, const char *want)
{
	const char *v = f ? g_hash_table_lookup(f, key) : NULL;

	if (!v || strcmp(v, want) != 0) {
		tap_diag("%s: got \"%s\", want \"%s\"", key, v ? v : "(none)", want);
		return FALSE;
	}
	return TRUE;
}

static void set_journal_stream(gboolean on)
{
	struct stat st;
	char val[64];

	if (!on) {
		g_unsetenv("JOURNAL_STREAM");
		return;
	}
	if (fstat(STDERR_FILENO, &st) < 0)
		abort();
	g_snprintf(val, sizeof(val), "%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
	g_setenv("JOURNAL_STREAM", val, TRUE);
}

int main(void)
{
	g_autofree char *dir = g_dir_make_tmp("test-log-journal.XXXXXX", NULL);
	g_autofree char *path = NULL, *text = NULL;
	g_autoptr(GHashTable) f = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sp[2], one = 1, status;
	pid_t pid, from = 0;

	tap_plan(8);
	if (!dir)
		tap_skip_all("no temporary directory");
	path = g_build_filename(dir, "journal.sock", NULL);
	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	journal = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (journal < 0 || bind(journal, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(journal, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    dup2(sp[1], STDERR_FILENO) < 0)
		tap_skip_all("cannot set up the fake journal: %s", g_strerror(errno));
	close(sp[1]);
	stream = sp[0];
	hrpcd_log_set_journal_socket(path);

	/* 1. stderr is the journal's stream: entries go to its socket. */
	set_journal_stream(TRUE);
	hrpcd_log_init(HRPCD_LOG_STDERR, FALSE);
	hrpcd_log_guest(G_LOG_LEVEL_WARNING, 7, "vm-a", "fenced: %s", "index out of range");
	f = journal_next(&from);
	text = stderr_text();
	tap_ok(hrpcd_log_to_journal() && f && *text == '\0' &&
	       field_is(f, "MESSAGE", "guest 7 (vm-a): fenced: index out of range") &&
	       field_is(f, "PRIORITY", "4") && field_is(f, "HOSTRPC_GUEST_ID", "7") &&
	       field_is(f, "HOSTRPC_GUEST_NAME", "vm-a") && field_is(f, "SYSLOG_IDENTIFIER", "hostrpcd") &&
	       from == getpid(),
	       "a guest's entry reaches the journal with PRIORITY, HOSTRPC_GUEST_ID/NAME, nothing on stderr");
	g_clear_pointer(&f, g_hash_table_unref);
	g_clear_pointer(&text, g_free);

	/* 2. GLib's own calls carry their level; a newline takes the binary form. */
	g_message("two\nlines");
	f = journal_next(NULL);
	tap_ok(f && field_is(f, "MESSAGE", "two\nlines") && field_is(f, "PRIORITY", "5"),
	       "g_message: PRIORITY 5 (notice), a multi-line MESSAGE intact");
	g_clear_pointer(&f, g_hash_table_unref);

	/* 3. Debug entries only with --verbose. */
	g_debug("not without --verbose");
	f = journal_next(NULL);
	tap_ok(!f, "g_debug sends nothing without --verbose");
	g_clear_pointer(&f, g_hash_table_unref);

	/* 4. A child that sets itself up (a worker, after exec) sends its own. */
	pid = fork();
	if (pid == 0) {
		hrpcd_log_init(HRPCD_LOG_STDERR, TRUE);
		g_debug("from the worker");
		_exit(hrpcd_log_to_journal() ? 0 : 1);
	}
	from = 0;
	status = -1;
	waitpid(pid, &status, 0);
	f = journal_next(&from);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && f &&
	       field_is(f, "MESSAGE", "from the worker") && field_is(f, "PRIORITY", "7") &&
	       from == pid,
	       "a re-initialised child (a worker) sends its entries itself");
	g_clear_pointer(&f, g_hash_table_unref);

	/* 5. Descriptor 2 is not the stream $JOURNAL_STREAM names (a shell
	 * redirect under systemd, the daemon's /dev/null once daemonised). */
	g_setenv("JOURNAL_STREAM", "1:1", TRUE);
	hrpcd_log_init(HRPCD_LOG_STDERR, FALSE);
	g_warning("plain");
	f = journal_next(NULL);
	text = stderr_text();
	tap_ok(!hrpcd_log_to_journal() && !f &&
	       g_str_has_suffix(text, ": warning: plain\n") && g_str_has_prefix(text, "hostrpcd["),
	       "another stream than $JOURNAL_STREAM's: the stderr line, as before");
	g_clear_pointer(&f, g_hash_table_unref);
	g_clear_pointer(&text, g_free);

	/* 6. No $JOURNAL_STREAM at all. */
	set_journal_stream(FALSE);
	hrpcd_log_init(HRPCD_LOG_STDERR, FALSE);
	g_warning("plain again");
	text = stderr_text();
	tap_ok(!hrpcd_log_to_journal() && g_str_has_suffix(text, ": warning: plain again\n"),
	       "no $JOURNAL_STREAM: the stderr line");
	g_clear_pointer(&text, g_free);

	/* 7. The stream is right but nobody listens on the journal's socket:
	 * the stderr line, and no socket kept. */
	set_journal_stream(TRUE);
	hrpcd_log_set_journal_socket("/nonexistent/journal.sock");
	hrpcd_log_init(HRPCD_LOG_STDERR, FALSE);
	g_warning("no journal");
	text = stderr_text();
	tap_ok(!hrpcd_log_to_journal() && g_str_has_suffix(text, ": warning: no journal\n"),
	       "no journal socket: the stderr line");
	g_clear_pointer(&text, g_free);

	/* 8. The journal goes away after set-up: entries fall back to stderr. */
	hrpcd_log_set_journal_socket(path);
	hrpcd_log_init(HRPCD_LOG_STDERR, FALSE);
	close(journal);
	journal = -1;
	unlink(path);
	g_warning("journal gone");
	text = stderr_text();
	tap_ok(g_str_has_suffix(text, ": warning: journal gone\n"),
	       "journal gone after set-up: the entry is written to stderr instead");
	g_clear_pointer(&text, g_free);

	rmdir(dir);
	return tap_failed ? 1 : 0;
}
