/* SPDX-License-Identifier: MIT */
/* audit-sink.c - the socket service's audit log, written by the supervisor
 * from what workers send (audit-sink.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/daemon/audit-sink.h"
#include "hostrpc/daemon/sandbox.h"

/* Records taken per wakeup from one worker, so a flooding worker cannot
 * keep the supervisor from its other guests. */
#define BATCH 64

typedef struct GuestAudit GuestAudit;

/* One worker's end of the pair. */
typedef struct {
	GuestAudit *ga;
	int fd;
	GSource *src;
} Conn;

struct GuestAudit {
	HrpcdAuditSinks *sinks;
	guint32 id;
	char name[64];
	char *path;
	int fd;                 /* the log while a line is written, else -1 */
	gsize size;
	gint64 window_us;       /* start of the current one-second window */
	guint window_lines;
	guint64 suppressed;
	GSList *conns;          /* Conn */
	gboolean warned;        /* "cannot write" logged once */
};

struct _HrpcdAuditSinks {
	char *dir;
	gsize max_bytes;
	guint rate;
	GMainContext *ctx;
	GHashTable *guests;     /* id -> GuestAudit */
};

char *hrpcd_audit_dir(const char *state_dir)
{
	g_autofree char *cwd = NULL;

	if (!state_dir)
		return g_build_filename(LOCALSTATEDIR, "log", "hostrpc", NULL);
	if (g_path_is_absolute(state_dir))
		return g_build_filename(state_dir, "sock-audit", NULL);
	cwd = g_get_current_dir();
	return g_build_filename(cwd, state_dir, "sock-audit", NULL);
}

gsize hrpcd_audit_sanitize(const char *in, gsize len, char *out, gsize size)
{
	gsize n = 0;

	if (!size)
		return 0;
	while (len && (in[len - 1] == '\n' || in[len - 1] == 0))
		len--;
	for (gsize i = 0; i < len && n + 1 < size; i++) {
		unsigned char c = (unsigned char)in[i];

		out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[n] = 0;
	return n;
}

/* ---- the file ------------------------------------------------------------- */

static gboolean log_open(GuestAudit *ga)
{
	struct stat st;

	if (ga->fd >= 0)
		return TRUE;
	if (g_mkdir_with_parents(ga->sinks->dir, 0750) < 0)
		return FALSE;
	ga->fd = open(ga->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (ga->fd < 0)
		return FALSE;
	ga->size = fstat(ga->fd, &st) == 0 ? (gsize)st.st_size : 0;
	return TRUE;
}

static void log_rotate(GuestAudit *ga)
{
	g_autofree char *old = g_strconcat(ga->path, ".1", NULL);

	close(ga->fd);
	ga->fd = -1;
	if (rename(ga->path, old) < 0)
		unlink(ga->path);
}

/* One line, with the supervisor's attribution; rotates first if the line
 * would take the file past the cap. */
static void log_line(GuestAudit *ga, const char *text)
{
	struct timespec ts;
	struct tm tm;
	char when[32], line[HRPCD_AUDIT_RECORD_MAX + 256];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	n = g_snprintf(line, sizeof(line), "%s.%03ldZ guest=%u name=%s %s\n", when,
		       ts.tv_nsec / 1000000, ga->id, ga->name, text);
	if (n <= 0 || (gsize)n >= sizeof(line))
		return;
	if (!log_open(ga))
		goto fail;
	if (ga->size && ga->size + (gsize)n > ga->sinks->max_bytes) {
		log_rotate(ga);
		if (!log_open(ga))
			goto fail;
	}
	if (write(ga->fd, line, (size_t)n) != n)
		goto fail;
	ga->size += (gsize)n;
	/* Not kept open: a guest costs the supervisor no descriptor but its
	 * workers' channels, and an outside logrotate is followed at once. */
	close(ga->fd);
	ga->fd = -1;
	return;
fail:
	if (!ga->warned)
		g_warning("guest %u: cannot write the socket audit log %s: %s", ga->id, ga->path,
			  g_strerror(errno));
	ga->warned = TRUE;
	if (ga->fd >= 0)
		close(ga->fd);
	ga->fd = -1;
}

static void flush_suppressed(GuestAudit *ga)
{
	char msg[128];

	if (!ga->suppressed)
		return;
	g_snprintf(msg, sizeof(msg),
		   "audit: suppressed %" G_GUINT64_FORMAT " lines (more than %u a second)",
		   ga->suppressed, ga->sinks->rate);
	ga->suppressed = 0;
	log_line(ga, msg);
}

static void record(GuestAudit *ga, const char *buf, gsize len, gboolean truncated)
{
	gint64 now = g_get_monotonic_time();
	char text[HRPCD_AUDIT_RECORD_MAX + 16];
	gsize n;

	if (now - ga->window_us >= G_USEC_PER_SEC) {
		ga->window_us = now;
		ga->window_lines = 0;
		flush_suppressed(ga);
	}
	if (ga->window_lines >= ga->sinks->rate) {
		ga->suppressed++;
		return;
	}
	ga->window_lines++;
	n = hrpcd_audit_sanitize(buf, len, text, HRPCD_AUDIT_RECORD_MAX + 1);
	if (truncated)
		g_strlcpy(text + n, " [truncated]", sizeof(text) - n);
	log_line(ga, text);
}

/* ---- workers' ends ---------------------------------------------------------- */

static void conn_free(Conn *c)
{
	c->ga->conns = g_slist_remove(c->ga->conns, c);
	if (c->src) {
		g_source_destroy(c->src);
		g_source_unref(c->src);
	}
	close(c->fd);
	g_free(c);
}

/* Up to `max` records; FALSE once the worker's end is closed (or broken). */
static gboolean conn_drain(Conn *c, int max)
{
	char buf[HRPCD_AUDIT_RECORD_MAX];

	for (int i = 0; i < max; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return FALSE;
		record(c->ga, buf, MIN((gsize)n, sizeof(buf)), (gsize)n > sizeof(buf));
	}
	return TRUE;
}

static gboolean conn_event(gint fd, GIOCondition cond, gpointer data)
{
	Conn *c = data;

	if (conn_drain(c, BATCH) && !(cond & (G_IO_HUP | G_IO_ERR)))
		return G_SOURCE_CONTINUE;
	if (cond & G_IO_HUP)
		conn_drain(c, G_MAXINT);   /* what came before the hang-up */
	flush_suppressed(c->ga);
	g_source_unref(c->src);
	c->src = NULL;
	conn_free(c);
	return G_SOURCE_REMOVE;
}

static void guest_audit_free(gpointer data)
{
	GuestAudit *ga = data;

	while (ga->conns) {
		Conn *c = ga->conns->data;

		conn_drain(c, G_MAXINT);
		conn_free(c);
	}
	flush_suppressed(ga);
	if (ga->fd >= 0)
		close(ga->fd);
	g_free(ga->path);
	g_free(ga);
}

void hrpcd_audit_sinks_set_limits(HrpcdAuditSinks *s, gsize max_bytes, guint rate)
{
	s->max_bytes = max_bytes ? max_bytes : HRPCD_AUDIT_DEFAULT_MAX_BYTES;
	s->rate = rate ? rate : HRPCD_AUDIT_DEFAULT_RATE;
}

HrpcdAuditSinks *hrpcd_audit_sinks_new(const char *dir, gsize max_bytes, guint rate,
				       GMainContext *ctx)
{
	HrpcdAuditSinks *s = g_new0(HrpcdAuditSinks, 1);

	s->dir = g_strdup(dir);
	s->max_bytes = max_bytes ? max_bytes : HRPCD_AUDIT_DEFAULT_MAX_BYTES;
	s->rate = rate ? rate : HRPCD_AUDIT_DEFAULT_RATE;
	s->ctx = ctx ? g_main_context_ref(ctx) : NULL;
	s->guests = g_hash_table_new_full(NULL, NULL, NULL, guest_audit_free);
	return s;
}

void hrpcd_audit_sinks_free(HrpcdAuditSinks *s)
{
	if (!s)
		return;
	g_hash_table_destroy(s->guests);
	if (s->ctx)
		g_main_context_unref(s->ctx);
	g_free(s->dir);
	g_free(s);
}

int hrpcd_audit_sinks_open(HrpcdAuditSinks *s, guint32 guest_id, const char *name,
			   GError **error)
{
	GuestAudit *ga = g_hash_table_lookup(s->guests, GUINT_TO_POINTER(guest_id));
	int sv[2];
	Conn *c;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
			    "cannot make the audit channel: %s", g_strerror(e));
		return -1;
	}
	/* Records go one way only. */
	shutdown(sv[0], SHUT_WR);
	shutdown(sv[1], SHUT_RD);
	if (!ga) {
		char file[64];

		ga = g_new0(GuestAudit, 1);
		ga->sinks = s;
		ga->id = guest_id;
		ga->fd = -1;
		hrpcd_sandbox_file_name(name, guest_id, file, sizeof(file));
		/* The name goes in every line: one printable word. */
		hrpcd_audit_sanitize(file, strlen(file), ga->name, sizeof(ga->name));
		g_strdelimit(ga->name, " ", '_');
		ga->path = g_strdup_printf("%s/%s.sock.log", s->dir, file);
		g_hash_table_insert(s->guests, GUINT_TO_POINTER(guest_id), ga);
	}
	c = g_new0(Conn, 1);
	c->ga = ga;
	c->fd = sv[0];
	c->src = g_unix_fd_source_new(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(c->src, G_SOURCE_FUNC(conn_event), c, NULL);
	g_source_set_name(c->src, "hostrpcd-audit");
	g_source_attach(c->src, s->ctx);
	ga->conns = g_slist_prepend(ga->conns, c);
	return sv[1];
}

void hrpcd_audit_sinks_release(HrpcdAuditSinks *s, guint32 guest_id)
{
	if (s)
		g_hash_table_remove(s->guests, GUINT_TO_POINTER(guest_id));
}

/* The last `want` whole lines of `path` within its last `max` bytes, newest
 * last, prepended (in order) to `acc`.  Returns the lines taken (0 for a
 * file that is not there, `*found` then left alone), -1 on other errors. */
static gint tail_file(const char *path, guint want, gsize max, GPtrArray *acc,
		      gboolean *found, GError **error)
{
	g_autofree char *buf = NULL;
	g_auto(GStrv) v = NULL;
	struct stat st;
	gsize len, first = 0, n;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	guint taken = 0;

	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return 0;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot open %s: %s", path,
			    g_strerror(e));
		return -1;
	}
	*found = TRUE;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s is not a regular file", path);
		return -1;
	}
	len = MIN((gsize)st.st_size, max);
	buf = g_malloc(len + 1);
	got = pread(fd, buf, len, st.st_size - (off_t)len);
	close(fd);
	if (got < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot read %s", path);
		return -1;
	}
	buf[got] = 0;
	/* Started inside a line: that line is not whole. */
	if ((gsize)got < (gsize)st.st_size) {
		char *nl = memchr(buf, '\n', (size_t)got);

		first = nl ? (gsize)(nl - buf) + 1 : (gsize)got;
	}
	v = g_strsplit(buf + first, "\n", -1);
	n = g_strv_length(v);
	if (n && !*v[n - 1])
		n--;    /* after the last newline */
	for (gsize i = n; i > 0 && taken < want; i--, taken++) {
		char line[HRPCD_AUDIT_RECORD_MAX + 128];

		hrpcd_audit_sanitize(v[i - 1], strlen(v[i - 1]), line, sizeof(line));
		g_ptr_array_insert(acc, 0, g_strdup(line));
	}
	return (gint)taken;
}

gint hrpcd_audit_sinks_tail(HrpcdAuditSinks *s, guint32 guest_id, const char *name,
			    guint lines, gsize max, GString *out, GError **error)
{
	g_autoptr(GPtrArray) acc = g_ptr_array_new_with_free_func(g_free);
	GuestAudit *ga = guest_id ? g_hash_table_lookup(s->guests, GUINT_TO_POINTER(guest_id))
				  : NULL;
	g_autofree char *path = NULL, *old = NULL;
	gsize room = max;
	gboolean found = FALSE;
	gint got;
	guint from;

	if (ga) {
		path = g_strdup(ga->path);
	} else {
		char file[64];

		hrpcd_sandbox_file_name(name, guest_id, file, sizeof(file));
		path = g_strdup_printf("%s/%s.sock.log", s->dir, file);
	}
	old = g_strconcat(path, ".1", NULL);
	got = tail_file(path, lines, max, acc, &found, error);
	if (got < 0)
		return -1;
	if ((guint)got < lines) {
		g_autoptr(GPtrArray) older = g_ptr_array_new_with_free_func(g_free);

		if (tail_file(old, lines - (guint)got, max, older, &found, error) < 0)
			return -1;
		for (guint i = older->len; i > 0; i--)
			g_ptr_array_insert(acc, 0, g_strdup(older->pdata[i - 1]));
	}
	if (!found) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no socket audit log %s", path);
		return -1;
	}
	/* The newest lines that fit. */
	from = acc->len;
	while (from > 0 && strlen(acc->pdata[from - 1]) + 1 <= room) {
		room -= strlen(acc->pdata[from - 1]) + 1;
		from--;
	}
	for (guint i = from; i < acc->len; i++) {
		g_string_append(out, acc->pdata[i]);
		g_string_append_c(out, '\n');
	}
	return (gint)(acc->len - from);
}
