/* SPDX-License-Identifier: MIT */
/*
 * qmp.c - a small blocking QMP client (see qmp.h).
 *
 * QMP is one JSON object per line in each direction.  Every command we send
 * carries an id, so a reply is matched by it: a reply that comes after its
 * call timed out is recognised as stale and dropped instead of being taken
 * for the answer to the next command.  Events interleave with replies at any
 * point; they go to a bounded queue.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "migrate/qmp.h"

/* A query-migrate answer is a few hundred bytes; this only bounds what a
 * confused peer can make us hold. */
#define QMP_LINE_MAX (1u << 20)
#define QMP_EVENTS_MAX 256

struct qmp {
	int fd;
	int broken;             /* 0, or the -errno that lost the stream */
	gint64 last_id;
	char *buf;              /* bytes read, not yet consumed */
	size_t len, cap, scanned;
	GQueue events;          /* JsonNode * (event objects), oldest first */
};

static gint64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(gint64 deadline)
{
	gint64 d = deadline - now_ms();

	return d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The message for every failure but -EIO, whose text came from QEMU. */
static int report(int r, const char *what, char *err, size_t errlen)
{
	if (r < 0 && r != -EIO)
		set_err(err, errlen, "%s: %s", what, g_strerror(-r));
	return r;
}

/* The byte stream can no longer be trusted to be at a message boundary. */
static int fence(qmp *q, int r)
{
	q->broken = r;
	return r;
}

/* The next line (without its '\n'), malloc'ed. */
static int read_line(qmp *q, gint64 deadline, char **line)
{
	for (;;) {
		char *nl = q->len > q->scanned ?
			   memchr(q->buf + q->scanned, '\n', q->len - q->scanned) : NULL;

		if (nl) {
			size_t n = nl - q->buf;

			*line = g_strndup(q->buf, n);
			memmove(q->buf, nl + 1, q->len - n - 1);
			q->len -= n + 1;
			q->scanned = 0;
			return 0;
		}
		q->scanned = q->len;
		if (q->len >= QMP_LINE_MAX)
			return fence(q, -EMSGSIZE);
		if (q->cap - q->len < 4096) {
			q->cap = MIN(MAX(q->cap * 2, 8192), QMP_LINE_MAX + 1);
			q->buf = g_realloc(q->buf, q->cap);
		}

		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		int r = poll(&p, 1, left_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t n = read(q->fd, q->buf + q->len, q->cap - q->len);

		if (n == 0)
			return fence(q, -ECONNRESET);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return fence(q, errno == EPIPE ? -ECONNRESET : -errno);
		if (n > 0)
			q->len += n;
	}
}

/* The next message (a JSON object; blank lines skipped). */
static int read_msg(qmp *q, gint64 deadline, JsonNode **msg)
{
	for (;;) {
		g_autofree char *line = NULL;
		g_autoptr(JsonParser) parser = NULL;
		int r;

		if (q->broken)
			return q->broken;
		r = read_line(q, deadline, &line);
		if (r < 0)
			return r;
		g_strstrip(line); /* QEMU ends lines with "\r\n" */
		if (!*line)
			continue;
		parser = json_parser_new_immutable();
		if (!json_parser_load_from_data(parser, line, -1, NULL) ||
		    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
			return fence(q, -EPROTO);
		*msg = json_node_ref(json_parser_get_root(parser));
		return 0;
	}
}

static JsonObject *member_obj(JsonObject *o, const char *name)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static const char *member_str(JsonObject *o, const char *name)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	return n && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : NULL;
}

/* Missing, negative or not an integer: 0. */
static guint64 member_u64(JsonObject *o, const char *name)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;

	if (!n || json_node_get_value_type(n) != G_TYPE_INT64)
		return 0;
	return MAX(json_node_get_int(n), 0);
}

/* Takes `msg` if it is an event (TRUE), else leaves it to the caller. */
static gboolean queue_event(qmp *q, JsonNode *msg)
{
	if (!member_str(json_node_get_object(msg), "event"))
		return FALSE;
	if (g_queue_get_length(&q->events) >= QMP_EVENTS_MAX)
		json_node_unref(g_queue_pop_head(&q->events));
	g_queue_push_tail(&q->events, msg);
	return TRUE;
}

static int send_all(qmp *q, const char *text, gint64 deadline)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = send(q->fd, text + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += n;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return fence(q, -ECONNRESET);
		if (errno != EAGAIN && errno != EINTR)
			return -errno;

		struct pollfd p = { .fd = q->fd, .events = POLLOUT };
		int r = poll(&p, 1, left_ms(deadline));

		if (r == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

int qmp_call(qmp *q, const char *cmd, const char *args_json, JsonNode **ret,
	     int timeout_ms, char *err, size_t errlen)
{
	gint64 deadline = now_ms() + timeout_ms;
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	g_autoptr(JsonObject) req = json_object_new();
	g_autoptr(JsonNode) req_node = NULL;
	g_autofree char *text = NULL, *line = NULL;
	gint64 id;
	int r;

	if (ret)
		*ret = NULL;
	if (q->broken)
		return report(q->broken, cmd, err, errlen);
	json_object_set_string_member(req, "execute", cmd);
	if (args_json) {
		if (!json_parser_load_from_data(parser, args_json, -1, NULL) ||
		    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
			return report(-EINVAL, cmd, err, errlen);
		json_object_set_member(req, "arguments",
				       json_node_copy(json_parser_get_root(parser)));
	}
	id = ++q->last_id;
	json_object_set_int_member(req, "id", id);
	req_node = json_node_init_object(json_node_alloc(), req);
	text = json_to_string(req_node, FALSE);
	line = g_strconcat(text, "\n", NULL);
	r = send_all(q, line, deadline);

	while (r == 0) {
		g_autoptr(JsonNode) msg = NULL;
		JsonObject *o, *e;
		JsonNode *rn;

		r = read_msg(q, deadline, &msg);
		if (r < 0)
			break;
		if (queue_event(q, msg)) {
			msg = NULL;
			continue;
		}
		o = json_node_get_object(msg);
		rn = json_object_get_member(o, "id");
		if (!rn || json_node_get_value_type(rn) != G_TYPE_INT64 || json_node_get_int(rn) != id)
			continue; /* the late answer to a call that timed out */
		if ((e = member_obj(o, "error"))) {
			const char *cls = member_str(e, "class"), *desc = member_str(e, "desc");

			set_err(err, errlen, "%s: %s", cls ? cls : "?", desc ? desc : "?");
			return -EIO;
		}
		if (!(rn = json_object_get_member(o, "return")))
			return report(fence(q, -EPROTO), cmd, err, errlen);
		if (ret)
			*ret = json_node_copy(rn);
		return 0;
	}
	return report(r, cmd, err, errlen);
}

int qmp_callf(qmp *q, const char *cmd, JsonNode **ret, int timeout_ms,
	      char *err, size_t errlen, const char *fmt, ...)
{
	g_autoptr(GString) s = g_string_new(NULL);
	va_list ap;
	int r = 0;

	if (!fmt)
		return qmp_call(q, cmd, NULL, ret, timeout_ms, err, errlen);
	va_start(ap, fmt);
	for (const char *p = fmt; *p && !r; p++) {
		if (*p != '%') {
			g_string_append_c(s, *p);
		} else if (p[1] == '%') {
			g_string_append_c(s, '%');
			p++;
		} else if (p[1] == 'd') {
			g_string_append_printf(s, "%d", va_arg(ap, int));
			p++;
		} else if (!strncmp(p + 1, "lld", 3)) {
			g_string_append_printf(s, "%lld", va_arg(ap, long long));
			p += 3;
		} else if (p[1] == 's') {
			/* json-glib's generator does the escaping JSON needs
			 * (quotes, backslashes, control characters). */
			const char *v = va_arg(ap, const char *);
			g_autoptr(JsonNode) n = NULL;
			g_autofree char *quoted = NULL;

			if (!v) {
				r = -EINVAL;
				break;
			}
			n = json_node_init_string(json_node_alloc(), v);
			quoted = json_to_string(n, FALSE);
			g_string_append(s, quoted);
			p++;
		} else {
			r = -EINVAL;
		}
	}
	va_end(ap);
	if (r)
		return report(r, cmd, err, errlen);
	return qmp_call(q, cmd, s->str, ret, timeout_ms, err, errlen);
}

int qmp_wait_event(qmp *q, const char *name, int timeout_ms, JsonNode **data)
{
	gint64 deadline = now_ms() + timeout_ms;

	if (data)
		*data = NULL;
	for (;;) {
		JsonNode *msg;
		int r;

		for (GList *l = q->events.head; l; l = l->next) {
			JsonObject *o = json_node_get_object(l->data);
			JsonNode *d;

			if (g_strcmp0(member_str(o, "event"), name))
				continue;
			d = json_object_get_member(o, "data");
			if (data && d)
				*data = json_node_copy(d);
			json_node_unref(l->data);
			g_queue_delete_link(&q->events, l);
			return 0;
		}
		r = read_msg(q, deadline, &msg);
		if (r < 0)
			return r;
		if (!queue_event(q, msg))
			json_node_unref(msg); /* a stale reply */
	}
}

int qmp_query_migrate(qmp *q, struct qmp_migrate_info *mi, int timeout_ms,
		      char *err, size_t errlen)
{
	g_autoptr(JsonNode) ret = NULL;
	JsonObject *o, *ram;
	int r;

	memset(mi, 0, sizeof(*mi));
	r = qmp_call(q, "query-migrate", NULL, &ret, timeout_ms, err, errlen);
	if (r < 0)
		return r;
	if (!JSON_NODE_HOLDS_OBJECT(ret))
		return report(-EPROTO, "query-migrate", err, errlen);
	o = json_node_get_object(ret);
	ram = member_obj(o, "ram");
	g_strlcpy(mi->status, member_str(o, "status") ?: "", sizeof(mi->status));
	g_strlcpy(mi->error, member_str(o, "error-desc") ?: "", sizeof(mi->error));
	mi->ram_transferred = member_u64(ram, "transferred");
	mi->ram_total = member_u64(ram, "total");
	mi->ram_remaining = member_u64(ram, "remaining");
	mi->ram_dirty_rate = member_u64(ram, "dirty-pages-rate");
	mi->total_time_ms = member_u64(o, "total-time");
	mi->downtime_ms = member_u64(o, "downtime");
	mi->setup_time_ms = member_u64(o, "setup-time");
	mi->expected_downtime_ms = member_u64(o, "expected-downtime");
	return 0;
}

/* Is `status` one of the '|'-separated words of `list`? */
static gboolean status_in(const char *status, const char *list)
{
	size_t n = strlen(status);

	for (const char *p = list; n && p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
		if (!strncmp(p, status, n) && (p[n] == '|' || !p[n]))
			return TRUE;
	return FALSE;
}

int qmp_wait_migration(qmp *q, const char *statuses, int timeout_ms, int poll_ms,
		       void (*progress)(const struct qmp_migrate_info *, void *), void *arg,
		       struct qmp_migrate_info *mi, char *err, size_t errlen)
{
	gint64 deadline = now_ms() + timeout_ms;

	for (;;) {
		g_autoptr(JsonNode) msg = NULL;
		int r = qmp_query_migrate(q, mi, left_ms(deadline), err, errlen);
		gboolean unsettled;

		if (r < 0)
			return r;
		if (progress)
			progress(mi, arg);
		/* QEMU 7.2 sets "completed" a moment before it computes the
		 * totals: a source's answer (it has RAM counters, a
		 * destination's only the status) with total-time 0 is not
		 * the last word yet. */
		unsettled = !strcmp(mi->status, "completed") && mi->ram_total && !mi->total_time_ms;
		if (!unsettled && status_in(mi->status, statuses))
			return 0;
		if (!unsettled && status_in(mi->status, "completed|failed|cancelled")) {
			set_err(err, errlen, "migration %s%s%s", mi->status,
				*mi->error ? ": " : "", mi->error);
			return -ECANCELED;
		}
		if (!left_ms(deadline))
			return report(-ETIMEDOUT, "query-migrate", err, errlen);
		/* Sleep, but ask again as soon as an event (MIGRATION) comes. */
		r = read_msg(q, MIN(now_ms() + MAX(poll_ms, 1), deadline), &msg);
		if (r == 0 && queue_event(q, msg))
			msg = NULL;
		if (r < 0 && r != -ETIMEDOUT)
			return report(r, "query-migrate", err, errlen);
	}
}

int qmp_open(const char *path, int timeout_ms, qmp **out, char *err, size_t errlen)
{
	gint64 deadline = now_ms() + timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	g_autoptr(qmp) q = g_new0(qmp, 1);
	g_autoptr(JsonNode) greeting = NULL;
	int r;

	*out = NULL;
	q->fd = -1;
	g_queue_init(&q->events);
	if (strlen(path) >= sizeof(sa.sun_path))
		return report(-ENAMETOOLONG, path, err, errlen);
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0)
		return report(-errno, path, err, errlen);
	/* A unix socket connects at once or fails (EAGAIN: backlog full). */
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return report(-errno, path, err, errlen);
	r = read_msg(q, deadline, &greeting);
	if (r == 0 && !member_obj(json_node_get_object(greeting), "QMP"))
		r = fence(q, -EPROTO);
	if (r < 0)
		return report(r, "QMP greeting", err, errlen);
	r = qmp_call(q, "qmp_capabilities", NULL, NULL, left_ms(deadline), err, errlen);
	if (r < 0)
		return r;
	*out = g_steal_pointer(&q);
	return 0;
}

int qmp_fd(const qmp *q)
{
	return q->fd;
}

void qmp_close(qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	g_queue_clear_full(&q->events, (GDestroyNotify)json_node_unref);
	g_free(q->buf);
	g_free(q);
}
