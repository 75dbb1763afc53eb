/* SPDX-License-Identifier: MIT */
/*
 * hostrpcctl - ask hostrpcd about its guests and channels.
 *
 * Talks HRPC_SVC_ADMIN (include/hostrpc/admin.h) to the daemon's admin
 * socket with libhostrpc itself: the vport transport over the unix socket.
 * Whatever the daemon answers is checked like any peer's reply before it is
 * printed.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "hostrpc/admin.h"
#include "hostrpc/hostrpc.h"

#define DEFAULT_ADMIN_SOCKET RUNSTATEDIR "/hostrpc/admin.sock"
#define CALL_TIMEOUT_MS 5000

static char *opt_admin_socket;
static gboolean opt_json;

static GOptionEntry entries[] = {
	{ "admin-socket", 'a', 0, G_OPTION_ARG_FILENAME, &opt_admin_socket,
	  "hostrpcd's admin socket (default " DEFAULT_ADMIN_SOCKET ")", "PATH" },
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "Print JSON", NULL },
	{ NULL }
};

/* Set while `memory` without a guest asks each guest in turn: a guest's
 * failure is said and the next one asked, instead of exiting. */
static jmp_buf *fail_jmp;

static void G_GNUC_PRINTF(1, 2) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("hostrpcctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (fail_jmp)
		longjmp(*fail_jmp, 1);
	exit(1);
}

/* ---- talking to the daemon ---------------------------------------------------- */

static hrpc_client *admin_connect(const char *path)
{
	hrpc_client *c;
	hrpc_chan *ch;
	int rc;

	rc = hrpc_vport_connect(path, &ch);
	if (rc < 0)
		fail("cannot connect to hostrpcd at %s: %s", path, g_strerror(-rc));
	rc = hrpc_client_new(ch, "hostrpcctl", CALL_TIMEOUT_MS, &c);
	if (rc < 0)
		fail("hostrpcd at %s does not answer: %s", path, g_strerror(-rc));
	return c;
}

static uint32_t admin_call(hrpc_client *c, uint16_t proc, const void *req, uint32_t req_len,
			   void *rep, uint32_t rep_cap)
{
	struct hrpc_call call = {
		.service = HRPC_SVC_ADMIN, .proc = proc,
		.req = req, .req_len = req_len,
		.rep = rep, .rep_cap = rep_cap, .timeout_ms = CALL_TIMEOUT_MS,
	};
	int rc = hrpc_client_call(c, &call);

	if (rc < 0)
		fail("admin call %u failed: %s", proc, g_strerror(-rc));
	return call.rep_len;
}

/*
 * Every record of a listing, each copied into `rec_size` bytes (the struct
 * this program knows; longer records from a newer daemon are cut).
 */
static GByteArray *admin_list(hrpc_client *c, uint16_t proc, uint32_t guest_id, uint32_t rec_size,
			      guint *count)
{
	static guint8 buf[HRPC_MSG_MAX_PAYLOAD];
	GByteArray *out = g_byte_array_new();
	uint32_t first = 0;

	*count = 0;
	do {
		struct hrpc_admin_query q = { .first_id = first, .guest_id = guest_id };
		struct hrpc_admin_page page;
		uint32_t len = admin_call(c, proc, &q, sizeof(q), buf, sizeof(buf));

		if (len < sizeof(page))
			fail("short reply from hostrpcd");
		memcpy(&page, buf, sizeof(page));
		if (page.record_size < rec_size ||
		    (uint64_t)page.count * page.record_size > len - sizeof(page))
			fail("malformed listing from hostrpcd");
		for (uint32_t i = 0; i < page.count; i++)
			g_byte_array_append(out, buf + sizeof(page) + (gsize)i * page.record_size,
					    rec_size);
		*count += page.count;
		/* The cursor must move forward, or we would ask forever. */
		if (page.next_id && page.next_id <= first)
			fail("hostrpcd sent a bad page cursor");
		first = page.next_id;
	} while (first);
	return out;
}

/* ---- output helpers ------------------------------------------------------------ */

static void terminate(char *s, gsize size)
{
	s[size - 1] = 0;
}

static void json_string(GString *j, const char *s)
{
	g_string_append_c(j, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  g_string_append(j, "\\\""); break;
		case '\\': g_string_append(j, "\\\\"); break;
		case '\n': g_string_append(j, "\\n"); break;
		case '\r': g_string_append(j, "\\r"); break;
		case '\t': g_string_append(j, "\\t"); break;
		default:
			/* Control bytes and anything not ASCII (the daemon sends
			 * ASCII; never emit invalid UTF-8). */
			if (*p < 0x20 || *p >= 0x7f)
				g_string_append_printf(j, "\\u%04x", *p);
			else
				g_string_append_c(j, (char)*p);
		}
	}
	g_string_append_c(j, '"');
}

static void json_key(GString *j, const char *key, gboolean *first)
{
	if (!*first)
		g_string_append_c(j, ',');
	*first = FALSE;
	json_string(j, key);
	g_string_append_c(j, ':');
}

static void json_kv_str(GString *j, const char *key, const char *val, gboolean *first)
{
	json_key(j, key, first);
	json_string(j, val);
}

static void json_kv_u64(GString *j, const char *key, guint64 val, gboolean *first)
{
	json_key(j, key, first);
	g_string_append_printf(j, "%" G_GUINT64_FORMAT, val);
}

/* Rows of cells, printed as left-aligned columns. */
static void table_print(GPtrArray *rows)
{
	g_autoptr(GArray) width = g_array_new(FALSE, TRUE, sizeof(guint));

	for (guint r = 0; r < rows->len; r++) {
		GStrv row = g_ptr_array_index(rows, r);

		for (guint i = 0; row[i]; i++) {
			guint w = (guint)strlen(row[i]);

			if (i >= width->len)
				g_array_set_size(width, i + 1);
			if (w > g_array_index(width, guint, i))
				g_array_index(width, guint, i) = w;
		}
	}
	for (guint r = 0; r < rows->len; r++) {
		GStrv row = g_ptr_array_index(rows, r);

		for (guint i = 0; row[i]; i++) {
			if (row[i + 1])
				printf("%-*s  ", (int)g_array_index(width, guint, i), row[i]);
			else
				printf("%s\n", row[i]);
		}
	}
}

static void table_add(GPtrArray *rows, ...)
{
	GPtrArray *cells = g_ptr_array_new();
	const char *s;
	va_list ap;

	va_start(ap, rows);
	while ((s = va_arg(ap, const char *)))
		g_ptr_array_add(cells, g_strdup(s));
	va_end(ap);
	g_ptr_array_add(cells, NULL);
	g_ptr_array_add(rows, g_ptr_array_free(cells, FALSE));
}

static char *fmt_u64(guint64 v)
{
	return g_strdup_printf("%" G_GUINT64_FORMAT, v);
}

static char *fmt_pid(guint32 pid)
{
	return pid ? g_strdup_printf("%u", pid) : g_strdup("-");
}

static char *fmt_age(guint64 ns)
{
	guint64 s = ns / 1000000000ull;

	if (s < 120)
		return g_strdup_printf("%" G_GUINT64_FORMAT "s", s);
	if (s < 7200)
		return g_strdup_printf("%" G_GUINT64_FORMAT "m", s / 60);
	if (s < 172800)
		return g_strdup_printf("%" G_GUINT64_FORMAT "h", s / 3600);
	return g_strdup_printf("%" G_GUINT64_FORMAT "d", s / 86400);
}

/* ---- commands ------------------------------------------------------------------- */

static int cmd_info(hrpc_client *c)
{
	struct hrpc_admin_info info = { 0 };
	uint32_t len = admin_call(c, HRPC_ADMIN_INFO, NULL, 0, &info, sizeof(info));

	if (len < sizeof(info))
		fail("short reply from hostrpcd");
	terminate(info.daemon, sizeof(info.daemon));
	if (opt_json) {
		g_autoptr(GString) j = g_string_new("{");
		gboolean first = TRUE;

		json_kv_str(j, "daemon", info.daemon, &first);
		json_kv_u64(j, "admin_version", info.version, &first);
		json_kv_u64(j, "pid", info.daemon_pid, &first);
		json_kv_u64(j, "uptime_ns", info.uptime_ns, &first);
		json_kv_u64(j, "guests", info.guests, &first);
		json_kv_u64(j, "endpoints", info.endpoints, &first);
		g_string_append(j, "}");
		puts(j->str);
	} else {
		g_autofree char *up = fmt_age(info.uptime_ns);

		printf("%s, pid %u, up %s, %u guest(s), %u ivshmem endpoint(s)\n", info.daemon,
		       info.daemon_pid, up, info.guests, info.endpoints);
	}
	return 0;
}

static int cmd_list(hrpc_client *c)
{
	guint n;
	g_autoptr(GByteArray) recs = admin_list(c, HRPC_ADMIN_GUESTS, 0,
						 sizeof(struct hrpc_admin_guest), &n);
	struct hrpc_admin_guest *g = (struct hrpc_admin_guest *)recs->data;
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autoptr(GString) j = g_string_new("{\"guests\":[");

	table_add(rows, "ID", "NAME", "TRANSPORT", "STATE", "WORKER", "PEER-PID", "RESTARTS",
		  "AGE", NULL);
	for (guint i = 0; i < n; i++, g++) {
		g_autofree char *id = fmt_u64(g->guest_id), *worker = fmt_pid(g->worker_pid);
		g_autofree char *peer = fmt_pid(g->peer_pid), *restarts = fmt_u64(g->restarts);
		g_autofree char *age = fmt_age(g->age_ns);
		const char *transport = hrpc_admin_transport_name(g->transport);
		const char *state = hrpc_admin_state_name(g->state);
		gboolean first = TRUE;

		terminate(g->name, sizeof(g->name));
		table_add(rows, id, g->name, transport, state, worker, peer, restarts, age, NULL);
		g_string_append(j, i ? ",{" : "{");
		json_kv_u64(j, "id", g->guest_id, &first);
		json_kv_str(j, "name", g->name, &first);
		json_kv_str(j, "transport", transport, &first);
		json_kv_str(j, "state", state, &first);
		json_kv_u64(j, "worker_pid", g->worker_pid, &first);
		json_kv_u64(j, "peer_pid", g->peer_pid, &first);
		json_kv_u64(j, "restarts", g->restarts, &first);
		json_kv_u64(j, "age_ns", g->age_ns, &first);
		g_string_append_c(j, '}');
	}
	g_string_append(j, "]}");
	if (opt_json)
		puts(j->str);
	else
		table_print(rows);
	return 0;
}

static void json_channel(GString *j, const struct hrpc_admin_channel *ch)
{
	const struct hrpc_stats *s = &ch->stats;
	gboolean first = TRUE, sfirst = TRUE;

	g_string_append_c(j, '{');
	json_kv_u64(j, "guest_id", ch->guest_id, &first);
	json_kv_str(j, "name", ch->name, &first);
	json_kv_str(j, "transport", hrpc_admin_transport_name(ch->transport), &first);
	json_kv_str(j, "state", hrpc_admin_state_name(ch->state), &first);
	json_kv_u64(j, "generation", ch->generation, &first);
	json_kv_str(j, "peer", ch->peer, &first);
	json_kv_str(j, "fence_reason", ch->fence_reason, &first);
	json_key(j, "stats", &first);
	g_string_append_c(j, '{');
	json_kv_u64(j, "calls", s->calls, &sfirst);
	json_kv_u64(j, "replies", s->replies, &sfirst);
	json_kv_u64(j, "events", s->events, &sfirst);
	json_kv_u64(j, "errors", s->errors, &sfirst);
	json_kv_u64(j, "bytes_in", s->bytes_in, &sfirst);
	json_kv_u64(j, "bytes_out", s->bytes_out, &sfirst);
	json_kv_u64(j, "doorbells_in", s->doorbells_in, &sfirst);
	json_kv_u64(j, "doorbells_out", s->doorbells_out, &sfirst);
	json_kv_u64(j, "uptime_ns", s->uptime_ns, &sfirst);
	g_string_append(j, "}}");
}

static void print_channel_stats(const struct hrpc_admin_channel *ch)
{
	const struct hrpc_stats *s = &ch->stats;

	printf("guest %u (%s): %s, %s, generation %u\n", ch->guest_id, ch->name,
	       hrpc_admin_transport_name(ch->transport), hrpc_admin_state_name(ch->state),
	       ch->generation);
	printf("  %-14s %s\n", "peer label", ch->peer[0] ? ch->peer : "-");
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "calls", (guint64)s->calls);
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "replies", (guint64)s->replies);
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "events", (guint64)s->events);
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "errors", (guint64)s->errors);
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "bytes in", (guint64)s->bytes_in);
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "bytes out", (guint64)s->bytes_out);
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "doorbells in", (guint64)s->doorbells_in);
	printf("  %-14s %" G_GUINT64_FORMAT "\n", "doorbells out", (guint64)s->doorbells_out);
	printf("  %-14s %.3f s\n", "uptime", (double)s->uptime_ns / 1e9);
	if (ch->fence_reason[0])
		printf("  %-14s %s\n", "fence reason", ch->fence_reason);
}

/* `channels` (a table) and `stats [GUEST]` (every counter). */
static int cmd_channels(hrpc_client *c, const char *guest, gboolean detailed)
{
	guint32 want_id = 0;
	guint n, shown = 0;
	g_autoptr(GByteArray) recs = NULL;
	struct hrpc_admin_channel *ch;
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autoptr(GString) j = g_string_new("{\"channels\":[");

	if (guest && guest[0] && strspn(guest, "0123456789") == strlen(guest)) {
		guint64 v = g_ascii_strtoull(guest, NULL, 10);

		if (!v || v > G_MAXUINT32)
			fail("no guest %s", guest);
		want_id = (guint32)v;
	}
	recs = admin_list(c, HRPC_ADMIN_CHANNELS, want_id, sizeof(*ch), &n);
	ch = (struct hrpc_admin_channel *)recs->data;
	table_add(rows, "ID", "NAME", "TRANSPORT", "STATE", "GEN", "CALLS", "REPLIES", "EVENTS",
		  "ERRORS", "BYTES-IN", "BYTES-OUT", NULL);
	for (guint i = 0; i < n; i++, ch++) {
		g_autofree char *id = NULL, *gen = NULL, *calls = NULL, *replies = NULL;
		g_autofree char *events = NULL, *errors = NULL, *in = NULL, *out = NULL;

		terminate(ch->name, sizeof(ch->name));
		terminate(ch->peer, sizeof(ch->peer));
		terminate(ch->fence_reason, sizeof(ch->fence_reason));
		if (guest && !want_id && strcmp(guest, ch->name))
			continue;
		if (opt_json) {
			if (shown)
				g_string_append_c(j, ',');
			json_channel(j, ch);
		} else if (detailed) {
			if (shown)
				putchar('\n');
			print_channel_stats(ch);
		} else {
			id = fmt_u64(ch->guest_id);
			gen = fmt_u64(ch->generation);
			calls = fmt_u64(ch->stats.calls);
			replies = fmt_u64(ch->stats.replies);
			events = fmt_u64(ch->stats.events);
			errors = fmt_u64(ch->stats.errors);
			in = fmt_u64(ch->stats.bytes_in);
			out = fmt_u64(ch->stats.bytes_out);
			table_add(rows, id, ch->name, hrpc_admin_transport_name(ch->transport),
				  hrpc_admin_state_name(ch->state), gen, calls, replies, events,
				  errors, in, out, NULL);
		}
		shown++;
	}
	if (guest && !shown)
		fail("no guest %s", guest);
	g_string_append(j, "]}");
	if (opt_json)
		puts(j->str);
	else if (!detailed)
		table_print(rows);
	return 0;
}

/* The migrations this daemon took part in (admin.h). */
static int cmd_migrations(hrpc_client *c)
{
	g_autofree guint8 *buf = g_malloc(HRPC_MSG_MAX_PAYLOAD);
	struct hrpc_call call = {
		.service = HRPC_SVC_ADMIN, .proc = HRPC_ADMIN_MIGRATIONS,
		.rep = buf, .rep_cap = HRPC_MSG_MAX_PAYLOAD, .timeout_ms = CALL_TIMEOUT_MS,
	};
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_autoptr(GString) j = g_string_new("{\"migrations\":[");
	struct hrpc_admin_page page;
	int rc = hrpc_client_call(c, &call);

	if (rc == -ENOSYS)
		fail("this hostrpcd keeps no migrations (upgrade it)");
	if (rc < 0)
		fail("MIGRATIONS: %s", g_strerror(-rc));
	if (call.rep_len < sizeof(page))
		fail("hostrpcd sent a short reply");
	memcpy(&page, buf, sizeof(page));
	if (page.record_size < sizeof(struct hrpc_admin_migration) ||
	    page.count > (call.rep_len - sizeof(page)) / page.record_size)
		fail("hostrpcd sent a malformed reply");
	table_add(rows, "ID", "GUEST", "DIRECTION", "STATE", "STARTED", "DURATION(ms)", "DETAIL",
		  NULL);
	for (guint32 i = 0; i < page.count; i++) {
		struct hrpc_admin_migration m;
		g_autofree char *id = NULL, *dur = NULL, *when = NULL;
		g_autoptr(GDateTime) t = NULL;
		gboolean first = TRUE;

		memcpy(&m, buf + sizeof(page) + (gsize)i * page.record_size, sizeof(m));
		terminate(m.guest, sizeof(m.guest));
		terminate(m.detail, sizeof(m.detail));
		t = g_date_time_new_from_unix_utc((gint64)(m.started_unix_ns / 1000000000ull));
		when = t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("-");
		if (opt_json) {
			if (i)
				g_string_append_c(j, ',');
			g_string_append_c(j, '{');
			json_kv_u64(j, "id", m.id, &first);
			json_kv_u64(j, "guest_id", m.guest_id, &first);
			json_kv_str(j, "guest", m.guest, &first);
			json_kv_str(j, "direction", m.direction == HRPC_ADMIN_MIG_IN ? "in" : "out",
				    &first);
			json_kv_str(j, "state", hrpc_admin_mig_state_name(m.state), &first);
			json_kv_str(j, "started", when, &first);
			json_kv_u64(j, "duration_ns", m.duration_ns, &first);
			json_kv_str(j, "detail", m.detail, &first);
			g_string_append_c(j, '}');
			continue;
		}
		id = fmt_u64(m.id);
		dur = g_strdup_printf("%.1f", (double)m.duration_ns / 1e6);
		table_add(rows, id, m.guest, m.direction == HRPC_ADMIN_MIG_IN ? "in" : "out",
			  hrpc_admin_mig_state_name(m.state), when, dur, m.detail, NULL);
	}
	g_string_append(j, "]}");
	if (opt_json)
		puts(j->str);
	else
		table_print(rows);
	return 0;
}

/* The answer to a socket listing question (an event, admin.h). */
typedef struct {
	uint32_t ticket;
	uint32_t got;
	gboolean done;
	int status;
	GByteArray *text;
} SocketsAnswer;

static void sockets_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
			  void *opaque)
{
	SocketsAnswer *a = opaque;
	struct hrpc_admin_sockets_event ev;

	if (h->service != HRPC_SVC_ADMIN || h->proc != HRPC_ADMIN_EV_SOCKETS ||
	    h->len < sizeof(ev) || a->done)
		return;
	memcpy(&ev, payload, sizeof(ev));
	/* Ticket 0: the reply with ours is still being read (the event may
	 * come in the same read); cmd_sockets() checks it then. */
	if (a->ticket && ev.ticket != a->ticket)
		return;
	if (ev.len != h->len - sizeof(ev) || ev.len > HRPC_ADMIN_SOCKETS_TEXT_MAX ||
	    ev.status > 0 || ev.status < -4095 || (ev.status && ev.len))
		fail("hostrpcd sent a malformed socket listing");
	a->done = TRUE;
	a->got = ev.ticket;
	a->status = ev.status;
	g_byte_array_append(a->text, (const guint8 *)payload + sizeof(ev), ev.len);
}

/* GUEST on the command line: an id, or a name into `name` (64 bytes, the
 * admin queries' field) with 0 returned. */
static guint32 guest_ref(const char *guest, char name[64])
{
	char *end;
	guint32 id = (guint32)strtoul(guest, &end, 10);

	if (*end || !*guest) {
		if (strlen(guest) >= 64)
			fail("no guest %s", guest);
		strcpy(name, guest);
		return 0;
	}
	return id;
}

/* The guest's effective socket policy and outsourced sockets (files: its
 * filesystem exports and open files): hostrpcd asks the guest's worker and
 * sends its answer as an event. */
static int cmd_sockets(hrpc_client *c, const char *guest, guint32 listing,
		       const struct hrpc_admin_memory_query *memq)
{
	const char *what = memq ? "memory" : listing == HRPC_ADMIN_SOCKETS_F_FILES ? "file" :
			   listing == HRPC_ADMIN_SOCKETS_F_LOCATIONS ? "location" : "socket";

	struct hrpc_admin_sockets_query q = { 0 };
	struct hrpc_admin_memory_query mq = { 0 };
	struct hrpc_admin_sockets_ticket t;
	SocketsAnswer a = { .text = g_byte_array_new() };
	struct hrpc_call call = {
		.service = HRPC_SVC_ADMIN, .proc = HRPC_ADMIN_SOCKETS_ASK,
		.req = &q, .req_len = sizeof(q), .rep = &t, .rep_cap = sizeof(t),
		.timeout_ms = CALL_TIMEOUT_MS,
	};
	gint64 deadline;
	int rc;

	q.guest_id = guest_ref(guest, q.name);
	q.flags = (opt_json ? HRPC_ADMIN_SOCKETS_F_JSON : 0) | listing;
	if (memq) {
		mq = *memq;
		mq.guest_id = q.guest_id;
		memcpy(mq.name, q.name, sizeof(mq.name));
		mq.flags = opt_json ? HRPC_ADMIN_SOCKETS_F_JSON : 0;
		call.proc = HRPC_ADMIN_MEMORY_ASK;
		call.req = &mq;
		call.req_len = sizeof(mq);
	}
	hrpc_client_set_event_handler(c, sockets_event, &a);
	rc = hrpc_client_call(c, &call);
	if (rc == -ENOENT)
		fail("no guest %s", guest);
	if (memq && rc == -ENOSYS)
		fail("this hostrpcd has no memory outsourcing; upgrade it");
	if (memq && rc == -EINVAL)
		fail("hostrpcd refused the request: MIB must be a positive multiple of 2 "
		     "and the deadline at most 600000 ms");
	if (rc == -ENODATA)
		fail("guest %s has no worker running", guest);
	if (rc == -ENOSYS)
		fail("this hostrpcd lists sockets the old way (admin version 1); upgrade it");
	if (rc < 0)
		fail("admin call %u failed: %s", HRPC_ADMIN_SOCKETS_ASK, g_strerror(-rc));
	if (call.rep_len != sizeof(t))
		fail("hostrpcd sent a malformed sockets ticket");
	/* The event may have come with the reply already. */
	a.ticket = t.ticket;
	if (a.done && a.got != a.ticket) {
		a.done = FALSE;
		g_byte_array_set_size(a.text, 0);
	}
	deadline = g_get_monotonic_time() +
		   ((gint64)MIN(t.timeout_ms, 60000u) + CALL_TIMEOUT_MS) * 1000;
	while (!a.done) {
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;

		if (left <= 0)
			fail("hostrpcd did not send guest %s's %s listing", guest, what);
		rc = hrpc_client_process(c, (int)left);
		if (rc < 0)
			fail("lost hostrpcd: %s", g_strerror(-rc));
	}
	if (a.status == -ETIMEDOUT)
		fail("guest %s's worker did not answer within %u ms", guest, t.timeout_ms);
	if (a.status == -ENODATA)
		fail("guest %s has no %s listing (no %s service, or its worker is gone)",
		     guest, what, what);
	if (a.status == -EFBIG)
		fail("guest %s's %s listing is larger than one message (%u bytes) as JSON; "
		     "the table form shows its head", guest, what, HRPC_ADMIN_SOCKETS_TEXT_MAX);
	if (memq && a.status == -ENODEV)
		fail("guest %s has no memory region (no [memory] in its policy)", guest);
	if (memq && a.status == -ENOTCONN)
		fail("guest %s's memory driver (hostrpc_mem.ko) has not attached yet", guest);
	if (memq && a.status == -ENOSPC)
		fail("guest %s's region has no free memory left to grant", guest);
	if (memq && a.status == -ENOENT)
		fail("guest %s has no granted memory the host could ask back "
		     "(none granted, or all of it pinned or being reclaimed)", guest);
	if (memq && a.status < 0)
		fail("guest %s's worker could not do it: %s", guest, g_strerror(-a.status));
	if (a.status < 0)
		fail("guest %s's worker could not list its %ss: %s", guest, what,
		     g_strerror(-a.status));
	fwrite(a.text->data, 1, a.text->len, stdout);
	g_byte_array_unref(a.text);
	return 0;
}

/* hostrpcctl audit GUEST [LINES]: the newest lines of the guest's socket
 * audit log, which the daemon writes (and reads back) itself. */
static int cmd_audit(hrpc_client *c, const char *guest, guint32 lines)
{
	g_autofree guint8 *buf = g_malloc(HRPC_MSG_MAX_PAYLOAD);
	struct hrpc_admin_audit_query q = { .lines = lines };
	struct hrpc_admin_audit_reply r;
	struct hrpc_call call = {
		.service = HRPC_SVC_ADMIN, .proc = HRPC_ADMIN_AUDIT,
		.req = &q, .req_len = sizeof(q), .rep = buf, .rep_cap = HRPC_MSG_MAX_PAYLOAD,
		.timeout_ms = CALL_TIMEOUT_MS,
	};
	g_autofree char *text = NULL;
	int rc;

	q.guest_id = guest_ref(guest, q.name);
	rc = hrpc_client_call(c, &call);
	if (rc == -ENOSYS)
		fail("this hostrpcd keeps no socket audit logs it can show (upgrade it)");
	if (rc == -ENOENT)
		fail("no guest %s, and no audit log of that name", guest);
	if (rc < 0)
		fail("AUDIT: %s", g_strerror(-rc));
	if (call.rep_len < sizeof(r))
		fail("hostrpcd sent a short reply");
	memcpy(&r, buf, sizeof(r));
	terminate(r.name, sizeof(r.name));
	if (r.len != call.rep_len - sizeof(r))
		fail("hostrpcd sent a malformed reply");
	text = g_strndup((const char *)buf + sizeof(r), r.len);
	/* Printable and newlines only, whatever the daemon sent. */
	for (char *p = text; *p; p++)
		if (*p != '\n' && (*p < 0x20 || *p > 0x7e))
			*p = '?';
	if (opt_json) {
		g_autoptr(GString) j = g_string_new("{");
		g_auto(GStrv) v = g_strsplit(text, "\n", -1);
		gboolean first = TRUE;

		json_kv_u64(j, "guest_id", r.guest_id, &first);
		json_kv_str(j, "guest", r.name, &first);
		g_string_append(j, ",\"lines\":[");
		for (guint i = 0; v[i] && (v[i][0] || v[i + 1]); i++) {
			if (i)
				g_string_append_c(j, ',');
			json_string(j, v[i]);
		}
		g_string_append(j, "]}");
		printf("%s\n", j->str);
	} else {
		fputs(text, stdout);
	}
	return 0;
}

/* hostrpcctl memory: every guest with a worker, one after the other. */
static int cmd_memory_all(hrpc_client *c)
{
	guint n;
	g_autoptr(GByteArray) recs = admin_list(c, HRPC_ADMIN_GUESTS, 0,
						 sizeof(struct hrpc_admin_guest), &n);
	struct hrpc_admin_guest *g = (struct hrpc_admin_guest *)recs->data;
	struct hrpc_admin_memory_query q = { .op = HRPC_ADMIN_MEMORY_LIST };
	volatile guint asked = 0, failed = 0;

	if (opt_json)
		fputs("{\"guests\":[", stdout);
	for (guint i = 0; i < n; i++, g++) {
		jmp_buf jb;
		char id[16];

		if (!g->worker_pid)
			continue;
		terminate(g->name, sizeof(g->name));
		g_snprintf(id, sizeof(id), "%u", g->guest_id);
		if (opt_json)
			fputs(asked ? "," : "", stdout);
		else
			printf("%s== guest %s (%u)\n", asked ? "\n" : "", g->name, g->guest_id);
		fflush(stdout);
		asked++;
		fail_jmp = &jb;
		if (setjmp(jb) == 0) {
			cmd_sockets(c, id, 0, &q);
		} else {
			/* A guest that could not answer: null in its place
			 * for scripts, counted in either mode. */
			if (opt_json)
				fputs("null", stdout);
			failed++;
		}
		fail_jmp = NULL;
	}
	if (opt_json)
		fputs("]}\n", stdout);
	return failed && failed == asked ? 1 : 0;
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [ARGS]");
	g_autoptr(GError) error = NULL;
	hrpc_client *c;
	struct hrpc_admin_memory_query memq = { 0 };
	guint32 audit_lines = 0;
	const char *cmd;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx,
		"Commands:\n"
		"  info            the daemon: version, pid, uptime, counts\n"
		"  list            guests: id, name, transport, state, worker pid\n"
		"  channels        one line of counters per channel\n"
		"  stats [GUEST]   every counter of each channel (GUEST: id or name)\n"
		"  sockets GUEST   the guest's socket policy (its source and rules, as in\n"
		"                  force) and outsourced sockets: state, addresses, bytes\n"
		"  files GUEST     the guest's filesystem exports (policy, path, ids) and\n"
		"                  the files and directories it has open\n"
		"  locations GUEST the guest's objects that live on another host (a migration\n"
		"                  left them there and forwards to them), or that stayed here\n"
		"                  after it left: connection, where, bytes each way\n"
		"  migrations      the live migrations this host took part in (hostrpc-migrate):\n"
		"                  guest, direction, state, start, duration, how it ended\n"
		"  memory [GUEST [grant MIB | reclaim MIB [DEADLINE_MS]]]\n"
		"                  the guest's host-owned memory (every guest's: no GUEST): region, granted, pinned,\n"
		"                  pressure, moves; grant gives it MIB more, reclaim asks MIB\n"
		"                  back (taken anyway after DEADLINE_MS, default the policy's)\n"
		"  audit GUEST [LINES]\n"
		"                  the newest LINES (default 20, at most 1000) lines of the\n"
		"                  guest's socket audit log (also of a guest that has gone)\n"
		"\n"
		"Exit status: 0 done, 1 the daemon could not be reached or refused\n"
		"(no such guest, ...), 2 bad usage.");
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "hostrpcctl: %s\n", error->message);
		return 2;
	}
	cmd = argc > 1 ? argv[1] : "list";
	if (g_str_equal(cmd, "memory")) {
		char *end = NULL;
		unsigned long v = 0, dl = 0;

		if (argc >= 5) {
			v = strtoul(argv[4], &end, 10);
			if (*end || !v || v % 2 || v > 131072)
				v = 0;
		}
		if (argc == 6) {
			dl = strtoul(argv[5], &end, 10);
			if (*end || !dl || dl > 600000)
				v = 0;
		}
		if (argc <= 3)
			memq.op = HRPC_ADMIN_MEMORY_LIST;
		else if (argc == 5 && g_str_equal(argv[3], "grant") && v)
			memq.op = HRPC_ADMIN_MEMORY_GRANT;
		else if ((argc == 5 || argc == 6) && g_str_equal(argv[3], "reclaim") && v)
			memq.op = HRPC_ADMIN_MEMORY_RECLAIM;
		else {
			fprintf(stderr, "hostrpcctl: usage: memory [GUEST [grant MIB | reclaim MIB "
				"[DEADLINE_MS]]] (MIB a positive multiple of 2, DEADLINE_MS "
				"1..600000)\n");
			return 2;
		}
		memq.mib = (guint32)v;
		memq.deadline_ms = (guint32)dl;
	} else if (g_str_equal(cmd, "audit")) {
		char *end = NULL;
		unsigned long v = HRPC_ADMIN_AUDIT_LINES_DEFAULT;

		if (argc == 4) {
			v = strtoul(argv[3], &end, 10);
			if (*end || !v || v > HRPC_ADMIN_AUDIT_LINES_MAX)
				v = 0;
		}
		if (argc < 3 || argc > 4 || !v) {
			fprintf(stderr, "hostrpcctl: usage: audit GUEST [LINES] (LINES 1..%u)\n",
				HRPC_ADMIN_AUDIT_LINES_MAX);
			return 2;
		}
		audit_lines = (guint32)v;
	} else if (!(g_str_equal(cmd, "info") || g_str_equal(cmd, "list") ||
	      g_str_equal(cmd, "channels") || g_str_equal(cmd, "stats") ||
	      g_str_equal(cmd, "sockets") || g_str_equal(cmd, "files") ||
	      g_str_equal(cmd, "locations") || g_str_equal(cmd, "migrations")) ||
	    argc > (g_str_equal(cmd, "stats") || g_str_equal(cmd, "sockets") ||
		    g_str_equal(cmd, "files") || g_str_equal(cmd, "locations") ? 3 : 2) ||
	    ((g_str_equal(cmd, "sockets") || g_str_equal(cmd, "files") ||
	      g_str_equal(cmd, "locations")) && argc != 3)) {
		g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);

		fprintf(stderr, "%s", help);
		return 2;
	}
	c = admin_connect(opt_admin_socket ? opt_admin_socket : DEFAULT_ADMIN_SOCKET);
	if (g_str_equal(cmd, "info"))
		rc = cmd_info(c);
	else if (g_str_equal(cmd, "list"))
		rc = cmd_list(c);
	else if (g_str_equal(cmd, "channels"))
		rc = cmd_channels(c, NULL, FALSE);
	else if (g_str_equal(cmd, "sockets"))
		rc = cmd_sockets(c, argv[2], 0, NULL);
	else if (g_str_equal(cmd, "files"))
		rc = cmd_sockets(c, argv[2], HRPC_ADMIN_SOCKETS_F_FILES, NULL);
	else if (g_str_equal(cmd, "locations"))
		rc = cmd_sockets(c, argv[2], HRPC_ADMIN_SOCKETS_F_LOCATIONS, NULL);
	else if (g_str_equal(cmd, "memory"))
		rc = argc == 2 ? cmd_memory_all(c) : cmd_sockets(c, argv[2], 0, &memq);
	else if (g_str_equal(cmd, "migrations"))
		rc = cmd_migrations(c);
	else if (g_str_equal(cmd, "audit"))
		rc = cmd_audit(c, argv[2], audit_lines);
	else
		rc = cmd_channels(c, argc > 2 ? argv[2] : NULL, TRUE);
	hrpc_client_free(c);
	g_free(opt_admin_socket);
	return rc;
}
