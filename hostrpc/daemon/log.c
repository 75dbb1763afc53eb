/* SPDX-License-Identifier: MIT */
/*
 * log.c - where hostrpcd's (and its workers') log lines go.
 *
 * Under systemd, stderr is a stream to journald, which would keep only
 * MESSAGE and a priority guessed from nothing.  So when the target is
 * stderr and stderr *is* the journal stream (systemd.exec(5): the service
 * manager sets $JOURNAL_STREAM to its device and inode; GLib's
 * g_log_writer_is_journald() looks at the peer's address instead, which
 * only works for the default journal namespace), each entry goes to
 * journald's native socket instead, with its fields (PRIORITY,
 * HOSTRPC_GUEST_ID, HOSTRPC_GUEST_NAME, ...).  Workers and the fd holder
 * inherit stderr and the environment, call hrpcd_log_init() themselves
 * and decide the same way.
 *
 * Not GLib's g_log_writer_journald(): it opens its socket at the first
 * entry, and a worker's first entry may come after its seccomp filter,
 * which refuses AF_UNIX sockets, and inside a mount namespace without
 * /run/systemd.  Here the socket is made and connected in
 * hrpcd_log_init(), before either, and later entries only send() on it.
 * An entry the journal does not take (gone, full, too large for one
 * datagram) is written to stderr as before, so nothing is lost.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/log-priv.h"

/* Above every descriptor number a worker or the fd holder is handed at
 * exec (worker.c FD_*, fdstore-client.c): they test theirs with fcntl(),
 * and the journal socket must not be taken for one of them. */
#define JOURNAL_FD_MIN 64

static HrpcdLogTarget log_target = HRPCD_LOG_STDERR;
static gboolean log_verbose;
static int journal_fd = -1;
static char journal_path[sizeof(((struct sockaddr_un *)0)->sun_path)] =
	"/run/systemd/journal/socket";

static const char *level_name(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "error";
	if (level & G_LOG_LEVEL_CRITICAL)
		return "critical";
	if (level & G_LOG_LEVEL_WARNING)
		return "warning";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "notice";
	if (level & G_LOG_LEVEL_INFO)
		return "info";
	return "debug";
}

static int syslog_priority(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return LOG_ERR;
	if (level & G_LOG_LEVEL_CRITICAL)
		return LOG_CRIT;
	if (level & G_LOG_LEVEL_WARNING)
		return LOG_WARNING;
	if (level & G_LOG_LEVEL_MESSAGE)
		return LOG_NOTICE;
	if (level & G_LOG_LEVEL_INFO)
		return LOG_INFO;
	return LOG_DEBUG;
}

void hrpcd_log_set_journal_socket(const char *path)
{
	g_strlcpy(journal_path, path, sizeof(journal_path));
}

gboolean hrpcd_log_to_journal(void)
{
	return journal_fd >= 0;
}

/* Whether descriptor fd is the stream $JOURNAL_STREAM ("DEV:INODE") names. */
static gboolean is_journal_stream(int fd)
{
	const char *env = g_getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return FALSE;
	return fstat(fd, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static void journal_close(void)
{
	if (journal_fd >= 0)
		close(journal_fd);
	journal_fd = -1;
}

static void journal_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	journal_close();
	g_strlcpy(sa.sun_path, journal_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		journal_fd = fcntl(fd, F_DUPFD_CLOEXEC, JOURNAL_FD_MIN);
	close(fd);
}

/* journald's native protocol: KEY=VALUE lines, or, for a value with a
 * newline in it, KEY, a newline, its length (64 bits, little endian), the
 * bytes and a newline. */
static void journal_field(GString *dg, const char *key, const void *value, gssize len)
{
	gsize n = len < 0 ? strlen(value) : (gsize)len;

	if (!memchr(value, '\n', n)) {
		g_string_append_printf(dg, "%s=", key);
		g_string_append_len(dg, value, n);
	} else {
		guint64 le = GUINT64_TO_LE((guint64)n);

		g_string_append_printf(dg, "%s\n", key);
		g_string_append_len(dg, (const char *)&le, sizeof(le));
		g_string_append_len(dg, value, n);
	}
	g_string_append_c(dg, '\n');
}

/* TRUE once journald has the entry. */
static gboolean journal_send(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
			     const char *identifier)
{
	g_autoptr(GString) dg = g_string_sized_new(256);
	gboolean has_priority = FALSE;
	ssize_t n;

	for (gsize i = 0; i < n_fields; i++) {
		if (!fields[i].value)
			continue;
		if (g_str_equal(fields[i].key, "PRIORITY"))
			has_priority = TRUE;
		journal_field(dg, fields[i].key, fields[i].value, fields[i].length);
	}
	if (!has_priority) {
		char prio[4];

		g_snprintf(prio, sizeof(prio), "%d", syslog_priority(level));
		journal_field(dg, "PRIORITY", prio, -1);
	}
	journal_field(dg, "SYSLOG_IDENTIFIER", identifier, -1);
	do
		n = send(journal_fd, dg->str, dg->len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)dg->len;
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
			       gpointer user_data)
{
	const char *message = NULL, *domain = NULL;

	if ((level & G_LOG_LEVEL_DEBUG) && !log_verbose)
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE"))
			message = fields[i].value;
		else if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
	}
	if (!message)
		message = "(no message)";
	if (!domain)
		domain = g_get_prgname() ? g_get_prgname() : "hostrpcd";
	if (log_target == HRPCD_LOG_SYSLOG) {
		syslog(syslog_priority(level), "%s", message);
		return G_LOG_WRITER_HANDLED;
	}
	if (journal_fd >= 0 && journal_send(level, fields, n_fields, domain))
		return G_LOG_WRITER_HANDLED;
	/* One fprintf per line: lines of different workers do not interleave. */
	fprintf(stderr, "%s[%ld]: %s: %s\n", domain, (long)getpid(), level_name(level), message);
	return G_LOG_WRITER_HANDLED;
}

void hrpcd_log_init(HrpcdLogTarget target, gboolean verbose)
{
	static gsize writer_set;

	log_target = target;
	log_verbose = verbose;
	if (target == HRPCD_LOG_SYSLOG)
		openlog("hostrpcd", LOG_PID, LOG_DAEMON);
	if (target == HRPCD_LOG_STDERR && is_journal_stream(STDERR_FILENO))
		journal_open();
	else
		journal_close();
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* GLib aborts (SIGTRAP) if the writer is set twice, and the daemon
	 * calls this again when it switches to syslog after daemonising. */
	if (g_once_init_enter(&writer_set)) {
		g_log_set_writer_func(writer, NULL, NULL);
		g_once_init_leave(&writer_set, 1);
	}
}

void hrpcd_log_settings(HrpcdLogTarget *target, gboolean *verbose)
{
	*target = log_target;
	*verbose = log_verbose;
}

void hrpcd_log_guest(GLogLevelFlags level, guint32 id, const char *name, const char *fmt, ...)
{
	g_autofree char *text = NULL, *message = NULL;
	char idstr[16], priority[2];
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	message = g_strdup_printf("guest %u (%s): %s", id, name, text);
	g_snprintf(idstr, sizeof(idstr), "%u", id);
	g_snprintf(priority, sizeof(priority), "%d", syslog_priority(level));
	{
		const GLogField fields[] = {
			{ "MESSAGE", message, -1 },
			{ "PRIORITY", priority, -1 },
			{ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
			{ "HOSTRPC_GUEST_ID", idstr, -1 },
			{ "HOSTRPC_GUEST_NAME", name, -1 },
		};

		g_log_structured_array(level, fields, G_N_ELEMENTS(fields));
	}
}
