/* SPDX-License-Identifier: MIT */
/* service.c - memory outsourcing, host half (outsource-mem.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <gio/gio.h>

#include "hostrpc/mem.h"
#include "hostrpc/msg.h"
#include "outsource/audit-limit.h"
#include "outsource/mem/outsource-mem.h"
#include "outsource/mem/region.h"

#define TICK_MS        500
/* A guest's driver takes a chunk it lost out of its processes at the same
 * deadline the host punches it; give its timer this long before a refilled
 * chunk counts as the guest's doing. */
#define REFILL_GRACE_MS 2000
#define EVENTS_MAX      1024   /* queued GRANT/RECLAIM events (ranges) */

struct mem_policy {
	guint32 region_chunks, grant_chunks, pin_quota_chunks, deadline_ms;
	guint32 min_mib, max_mib;  /* what hostrpcd's balancing keeps it within */
	char *file;
};

typedef struct {
	guint16 proc;
	guint8 len;
	union {
		struct hrpc_mem_grant_event grant;
		struct hrpc_mem_reclaim_event reclaim;
	} u;
} MemEvent;

struct _OutsourceMemService {
	guint32 guest_id;
	char *name;
	char *policy_source;       /* the file, or why there is none */
	struct mem_policy pol;
	struct mem_region *region; /* NULL: no policy */
	int audit_fd;
	struct outsource_audit_limit audit_limit;
	hrpc_conn *conn;           /* the guest's, from its HELLO (events) */
	gboolean hello, granted_once;
	GQueue events;             /* MemEvent, not sent yet (ring full) */
	GSource *tick;
	/* What the guest said last (PRESSURE), and when (monotonic µs). */
	struct hrpc_mem_pressure pressure;
	gint64 pressure_at;
	/* Counters, in chunks. */
	guint64 granted_total, reclaimed_total, released_total, expired_total, refilled_total;
	guint64 reclaims;
};

static guint64 now_ms(void)
{
	return (guint64)(g_get_monotonic_time() / 1000);
}

static void audit(OutsourceMemService *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void audit(OutsourceMemService *s, const char *fmt, ...)
{
	char rec[512];
	guint64 held;
	va_list ap;
	int n;

	if (s->audit_fd < 0 ||
	    !outsource_audit_take(&s->audit_limit, g_get_monotonic_time(), &held))
		return;
	if (held) {
		n = snprintf(rec, sizeof(rec), "mem audit: %" G_GUINT64_FORMAT " records not sent "
			     "(more than %u a second)", held, OUTSOURCE_AUDIT_MAX_RATE);
		(void)!send(s->audit_fd, rec, MIN((size_t)n, sizeof(rec) - 1),
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	n = snprintf(rec, sizeof(rec), "mem ");
	va_start(ap, fmt);
	n += vsnprintf(rec + n, sizeof(rec) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One record per datagram; the supervisor adds time and guest. */
	(void)!send(s->audit_fd, rec, MIN((size_t)n, sizeof(rec) - 1), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* ---- policy ------------------------------------------------------------------------ */

/* The line of `key` in [memory] of `text`, 0 if it is not there: GKeyFile
 * does not say, and an error without its line leaves people searching. */
static guint key_line(const char *text, const char *key)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	gboolean in_memory = FALSE;
	gsize klen = strlen(key);

	for (guint i = 0; lines[i]; i++) {
		const char *l = lines[i];

		while (g_ascii_isspace(*l))
			l++;
		if (*l == '[')
			in_memory = g_str_has_prefix(l, "[memory]");
		else if (in_memory && !strncmp(l, key, klen) &&
			 (l[klen] == '=' || l[klen] == ' ' || l[klen] == '\t'))
			return i + 1;
	}
	return 0;
}

/* The first line GKeyFile cannot take (not blank, a comment, a [group] or
 * key=value), 0 if none. */
static guint bad_line(const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (guint i = 0; lines[i]; i++) {
		const char *l = lines[i];

		while (g_ascii_isspace(*l))
			l++;
		if (*l && *l != '#' && *l != '[' && !strchr(l, '='))
			return i + 1;
	}
	return 0;
}

static gboolean policy_error(GError **error, const char *source, const char *text,
			     const char *key, const char *why)
{
	guint line = key_line(text, key);

	if (line)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s:%u: %s: %s", source,
			    line, key, why);
	else
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: [memory] %s: %s",
			    source, key, why);
	return FALSE;
}

/* Parse the [memory] group of `text` (from `source`, which errors name
 * with the line at fault) into *pol; *has is FALSE when there is none. */
static gboolean policy_parse(const char *text, const char *source, const char *name,
			     struct mem_policy *pol, gboolean *has, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) e = NULL;
	const gint64 mib = HRPC_MEM_CHUNK >> 20;
	gint64 region, grant, pin, deadline, min, max;

	*has = FALSE;
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &e)) {
		guint line = bad_line(text);

		if (line)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s:%u: %s", source,
				    line, e->message);
		else
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", source,
				    e->message);
		return FALSE;
	}
	if (!g_key_file_has_group(kf, "memory"))
		return TRUE;
	{
		/* A misspelt key would otherwise leave its default in force
		 * without a word. */
		static const char *const known[] = {
			"region-mib", "region-file", "grant-mib", "pin-quota-mib",
			"reclaim-deadline-ms", "min-mib", "max-mib", NULL,
		};
		g_auto(GStrv) keys = g_key_file_get_keys(kf, "memory", NULL, NULL);

		for (guint i = 0; keys && keys[i]; i++)
			if (!g_strv_contains(known, keys[i]))
				return policy_error(error, source, text, keys[i],
						    "unknown key (region-mib, region-file, grant-mib, "
						    "pin-quota-mib, reclaim-deadline-ms, min-mib, "
						    "max-mib)");
	}
#define KEY(var, key, def)                                                                     \
	do {                                                                                   \
		var = g_key_file_get_int64(kf, "memory", key, &e);                             \
		if (e && g_error_matches(e, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND)) { \
			g_clear_error(&e);                                                     \
			var = def;                                                             \
		} else if (e) {                                                                \
			return policy_error(error, source, text, key, e->message);             \
		}                                                                              \
	} while (0)
	KEY(region, "region-mib", -1);
	KEY(grant, "grant-mib", 0);
	KEY(pin, "pin-quota-mib", 0);
	KEY(deadline, "reclaim-deadline-ms", 2000);
	KEY(min, "min-mib", 0);
	KEY(max, "max-mib", region);
#undef KEY
	/* One check per key, so the message can point at its line. */
	if (region <= 0 || region % mib || region / mib > HRPC_MEM_CHUNKS_MAX) {
		g_autofree char *why = g_strdup_printf("wants a multiple of %u, at most %u (MiB)",
						       (unsigned)mib,
						       (unsigned)(HRPC_MEM_CHUNKS_MAX * mib));
		return policy_error(error, source, text, "region-mib", why);
	}
	if (grant < 0 || grant > region || grant % mib)
		return policy_error(error, source, text, "grant-mib",
				    "wants a multiple of 2, at most region-mib");
	if (pin < 0 || pin > region || pin % mib)
		return policy_error(error, source, text, "pin-quota-mib",
				    "wants a multiple of 2, at most region-mib");
	if (deadline < 1 || deadline > 600000)
		return policy_error(error, source, text, "reclaim-deadline-ms",
				    "wants 1..600000");
	if (min < 0 || min % mib || min > region)
		return policy_error(error, source, text, "min-mib",
				    "wants a multiple of 2, 0 <= min-mib <= max-mib <= region-mib");
	if (max < min || max > region || max % mib)
		return policy_error(error, source, text, "max-mib",
				    "wants a multiple of 2, 0 <= min-mib <= max-mib <= region-mib");
	pol->region_chunks = (guint32)(region / mib);
	pol->grant_chunks = (guint32)(grant / mib);
	pol->pin_quota_chunks = (guint32)(pin / mib);
	pol->deadline_ms = (guint32)deadline;
	pol->min_mib = (guint32)min;
	pol->max_mib = (guint32)max;
	g_free(pol->file);
	pol->file = g_key_file_get_string(kf, "memory", "region-file", NULL);
	if (!pol->file)
		pol->file = g_strdup_printf("/dev/shm/hostrpc-mem-%s", name);
	if (!g_path_is_absolute(pol->file))
		return policy_error(error, source, text, "region-file",
				    "must be an absolute path");
	*has = TRUE;
	return TRUE;
}

/* The policy from `text` (no text: none, `source` says why). */
static gboolean policy_from_text(OutsourceMemService *s, const char *text, const char *source,
				 GError **error)
{
	gboolean has;

	if (!text) {
		s->policy_source = g_strdup(source ? source : "none");
		return TRUE;
	}
	if (!policy_parse(text, source, s->name, &s->pol, &has, error))
		return FALSE;
	s->policy_source = has ? g_strdup(source)
		: g_strdup_printf("none (%s has no [memory])", source);
	return TRUE;
}

static gboolean policy_load(OutsourceMemService *s, const char *dir, GError **error)
{
	g_autofree char *path = g_strdup_printf("%s/%s.conf", dir, s->name);
	g_autofree char *text = NULL;

	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_free(path);
		path = g_build_filename(dir, "default.conf", NULL);
		if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
			s->policy_source = g_strdup_printf("none (no %s/%s.conf or default.conf)",
							   dir, s->name);
			return TRUE;
		}
	}
	if (!g_file_get_contents(path, &text, NULL, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return policy_from_text(s, text, path, error);
}

char *outsource_mem_policy_format(const char *text, const char *source, const char *guest_name,
				  GError **error)
{
	struct mem_policy pol = { 0 };
	const guint32 mib = HRPC_MEM_CHUNK >> 20;
	gboolean has;
	char *out;

	if (!policy_parse(text, source, guest_name, &pol, &has, error)) {
		g_free(pol.file);
		return NULL;
	}
	if (!has)
		return g_strdup("");
	out = g_strdup_printf("region-mib=%u\nregion-file=%s\ngrant-mib=%u\npin-quota-mib=%u\n"
			      "reclaim-deadline-ms=%u\nmin-mib=%u\nmax-mib=%u\n",
			      pol.region_chunks * mib, pol.file, pol.grant_chunks * mib,
			      pol.pin_quota_chunks * mib, pol.deadline_ms, pol.min_mib,
			      pol.max_mib);
	g_free(pol.file);
	return out;
}

/* The region file: a regular file on tmpfs, ours or root's, not a link. */
static gboolean region_open(OutsourceMemService *s, gboolean adopt, GError **error)
{
	struct mem_region_config cfg = {
		.nchunks = s->pol.region_chunks,
		.pin_quota = s->pol.pin_quota_chunks,
		.adopt = adopt,
	};
	struct statfs sf;
	struct stat st;
	int fd, rc;

	fd = open(s->pol.file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "memory region %s: %s", s->pol.file, g_strerror(errno));
		return FALSE;
	}
	/* One worker per region: a second one would punch the first's guest
	 * empty (two guests' policies naming the same file, say). */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
			    "memory region %s: in use by another worker (%s)", s->pol.file,
			    g_strerror(errno));
		close(fd);
		return FALSE;
	}
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 0022) ||
	    sf.f_type != TMPFS_MAGIC ||
	    (st.st_size && st.st_size < (off_t)s->pol.region_chunks * HRPC_MEM_CHUNK)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "memory region %s: not a regular tmpfs file of root's, writable by it "
			    "alone and at least %u MiB long (it is %lld bytes)",
			    s->pol.file, s->pol.region_chunks * (HRPC_MEM_CHUNK >> 20),
			    (long long)st.st_size);
		close(fd);
		return FALSE;
	}
	/* Pins are mlocks of the worker's own mapping: let it lock its quota
	 * (it cannot raise the limit once confined). */
	if (s->pol.pin_quota_chunks) {
		struct rlimit rl;
		rlim_t want = (rlim_t)s->pol.pin_quota_chunks * HRPC_MEM_CHUNK + (8u << 20);

		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < want) {
			rl.rlim_cur = rl.rlim_max = want;
			if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
				g_warning("guest %u: cannot let the worker lock %u MiB of pins: %s",
					  s->guest_id, (guint)(want >> 20), g_strerror(errno));
		}
	}
	rc = mem_region_new(fd, &cfg, &s->region);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "memory region %s: %s", s->pol.file, g_strerror(-rc));
		return FALSE;
	}
	return TRUE;
}

/* ---- events ------------------------------------------------------------------------ */

static void events_flush(OutsourceMemService *s)
{
	MemEvent *ev;

	while (s->conn && (ev = g_queue_peek_head(&s->events))) {
		int rc = hrpc_conn_send_event(s->conn, HRPC_SVC_MEM, ev->proc, &ev->u, ev->len);

		if (rc == -EAGAIN || rc == -ENOBUFS)
			return;  /* the ring is full: the next tick */
		if (rc < 0)
			g_debug("guest %u: cannot send a memory event: %s", s->guest_id,
				g_strerror(-rc));
		g_free(g_queue_pop_head(&s->events));
	}
}

static void event_push(OutsourceMemService *s, guint16 proc, const void *payload, guint8 len)
{
	MemEvent *ev;

	if (s->events.length >= EVENTS_MAX) {
		g_warning("guest %u: %u memory events unsent; dropping one", s->guest_id,
			  s->events.length);
		return;
	}
	ev = g_new0(MemEvent, 1);
	ev->proc = proc;
	ev->len = len;
	memcpy(&ev->u, payload, len);
	g_queue_push_tail(&s->events, ev);
}

static int do_grant(OutsourceMemService *s, guint32 want)
{
	struct hrpc_mem_grant_event r[64];
	guint32 total = 0;
	int n;

	while (want > total) {
		n = mem_region_grant(s->region, want - total, r, G_N_ELEMENTS(r));
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			event_push(s, HRPC_MEM_EVT_GRANT, &r[i], sizeof(r[i]));
			audit(s, "grant first=%u count=%u", r[i].first, r[i].count);
			total += r[i].count;
		}
	}
	s->granted_total += total;
	events_flush(s);
	return (int)total;
}

/* ---- the guest's calls ----------------------------------------------------------- */

static int fence(OutsourceMemService *s, const struct hrpc_req *req, const char *why)
{
	audit(s, "fenced: %s", why);
	g_warning("guest %u: memory: %s: fencing its channel", s->guest_id, why);
	return hrpc_conn_fence(req->conn, why);
}

static int handle_range(OutsourceMemService *s, const struct hrpc_req *req)
{
	struct hrpc_mem_range_req r;
	guint16 proc = req->hdr->proc;
	int rc;

	if (req->len != sizeof(r))
		return fence(s, req, "malformed memory range request");
	memcpy(&r, req->payload, sizeof(r));
	if (hrpc_mem_range_check(&r, s->pol.region_chunks, proc == HRPC_MEM_RELEASE) < 0)
		return fence(s, req, "memory range outside the region");
	mem_region_set_now(s->region, now_ms());
	switch (proc) {
	case HRPC_MEM_RELEASE:
		rc = mem_region_release(s->region, r.first, r.count, r.seq);
		if (rc == 0) {
			s->released_total += r.count;
			audit(s, "release first=%u count=%u seq=%u", r.first, r.count, r.seq);
		}
		break;
	case HRPC_MEM_PIN:
		rc = mem_region_pin(s->region, r.first, r.count);
		audit(s, "pin first=%u count=%u: %s", r.first, r.count,
		      rc == 0 ? "ok" : g_strerror(-rc));
		break;
	default:
		rc = mem_region_unpin(s->region, r.first, r.count);
		break;
	}
	/* -EPERM: chunks the host never gave it, or under another reclaim's
	 * seq - a guest that makes up grants; for UNPIN, chunks it never
	 * pinned (each says which, for whoever reads the log). */
	if (rc == -EPERM)
		return fence(s, req, proc == HRPC_MEM_RELEASE ?
					      "guest released memory the host had not granted it" :
				     proc == HRPC_MEM_PIN ?
					      "guest pinned memory the host had not granted it" :
					      "guest unpinned memory it had not pinned");
	return rc;
}

static int mem_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	OutsourceMemService *s = opaque;

	if (req->hdr->proc == HRPC_MEM_HELLO) {
		struct hrpc_mem_hello_req h;
		struct hrpc_mem_hello_rep *r = rep->payload;
		struct hrpc_mem_grant_event g[64];
		int n;

		if (req->len != sizeof(h))
			return fence(s, req, "malformed memory HELLO");
		memcpy(&h, req->payload, sizeof(h));
		if (hrpc_mem_hello_check(&h) < 0)
			return -EPROTONOSUPPORT;
		if (!s->region)
			return -ENODEV;
		if (h.bar_size < (guint64)s->pol.region_chunks * HRPC_MEM_CHUNK) {
			g_warning("guest %u: its memory BAR is %llu bytes, the region %u MiB: "
				  "QEMU maps another file?", s->guest_id,
				  (unsigned long long)h.bar_size,
				  s->pol.region_chunks * (HRPC_MEM_CHUNK >> 20));
			return -ENXIO;
		}
		s->conn = req->conn;
		s->hello = TRUE;
		memset(r, 0, sizeof(*r));
		r->version = HRPC_MEM_VERSION;
		r->chunk_size = HRPC_MEM_CHUNK;
		r->nchunks = s->pol.region_chunks;
		r->pin_quota = s->pol.pin_quota_chunks;
		rep->len = sizeof(*r);
		/* What it has (again: a guest that re-attaches re-learns it), then
		 * the first grant.  Queued: events go after this reply. */
		g_queue_clear_full(&s->events, g_free);
		n = mem_region_granted_ranges(s->region, g, G_N_ELEMENTS(g));
		for (int i = 0; i < n; i++)
			event_push(s, HRPC_MEM_EVT_GRANT, &g[i], sizeof(g[i]));
		{
			struct hrpc_mem_status st;

			mem_region_status(s->region, &st);
			r->granted = st.granted;
		}
		if (!s->granted_once) {
			s->granted_once = TRUE;
			r->granted += (guint32)do_grant(s, s->pol.grant_chunks);
		}
		events_flush(s);
		return 0;
	}
	if (!s->region)
		return -ENODEV;
	if (!s->hello || req->conn != s->conn)
		return -ENOTCONN;
	switch (req->hdr->proc) {
	case HRPC_MEM_RELEASE:
	case HRPC_MEM_PIN:
	case HRPC_MEM_UNPIN:
		return handle_range(s, req);
	case HRPC_MEM_PRESSURE:
		if (req->len != sizeof(s->pressure))
			return fence(s, req, "malformed memory pressure report");
		{
			struct hrpc_mem_pressure p;

			memcpy(&p, req->payload, sizeof(p));
			if (hrpc_mem_pressure_check(&p) < 0)
				return fence(s, req, "memory pressure report out of range");
			s->pressure = p;
			s->pressure_at = g_get_monotonic_time();
		}
		return 0;
	case HRPC_MEM_STATUS:
		if (req->len)
			return fence(s, req, "malformed memory STATUS");
		mem_region_status(s->region, rep->payload);
		rep->len = sizeof(struct hrpc_mem_status);
		return 0;
	default:
		return -ENOSYS;
	}
}

/* ---- the host's side ------------------------------------------------------------- */

/* The tick's work at clock `now` (ms): apart from tick() so that
 * tests/fuzz/fuzz-mem.c can let deadlines pass without waiting for them. */
static void tick_at(OutsourceMemService *s, guint64 now)
{
	guint32 n;

	if (!s->region)
		return;
	n = mem_region_expire(s->region, now);
	if (n) {
		s->expired_total += n;
		audit(s, "taken at the deadline: %u chunks", n);
		g_info("guest %u: took %u memory chunks back at their deadline", s->guest_id, n);
	}
	n = mem_region_refilled(s->region, now, REFILL_GRACE_MS);
	if (n) {
		s->refilled_total += n;
		audit(s, "refilled %u chunks it no longer has: punched again", n);
		if (s->conn && !hrpc_conn_fenced(s->conn)) {
			g_warning("guest %u: memory: kept using %u chunks the host took back: "
				  "fencing its channel", s->guest_id, n);
			hrpc_conn_fence(s->conn, "guest kept using memory the host took back");
		}
	}
	if (s->conn && hrpc_conn_fenced(s->conn))
		g_queue_clear_full(&s->events, g_free);
	else
		events_flush(s);
}

static gboolean tick(gpointer data)
{
	tick_at(data, now_ms());
	return G_SOURCE_CONTINUE;
}

int outsource_mem_service_grant(OutsourceMemService *s, guint32 chunks)
{
	int n;

	if (!s->region)
		return -ENODEV;
	if (!s->hello)
		return -ENOTCONN;
	n = do_grant(s, chunks);
	return n ? n : -ENOSPC;
}

int outsource_mem_service_reclaim(OutsourceMemService *s, guint32 chunks, guint32 deadline_ms)
{
	struct hrpc_mem_reclaim_event r[64];
	guint32 total = 0;
	int n;

	if (!s->region)
		return -ENODEV;
	if (!s->hello)
		return -ENOTCONN;
	if (!deadline_ms)
		deadline_ms = s->pol.deadline_ms;
	while (chunks > total) {
		n = mem_region_reclaim(s->region, chunks - total, now_ms(), deadline_ms, r,
				       G_N_ELEMENTS(r));
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			event_push(s, HRPC_MEM_EVT_RECLAIM, &r[i], sizeof(r[i]));
			audit(s, "reclaim first=%u count=%u seq=%u deadline_ms=%u", r[i].first,
			      r[i].count, r[i].seq, deadline_ms);
			total += r[i].count;
		}
	}
	if (!total)
		return -ENOENT;
	s->reclaims++;
	s->reclaimed_total += total;
	events_flush(s);
	return (int)total;
}

char *outsource_mem_service_listing(OutsourceMemService *s, gboolean json, gsize *len)
{
	struct hrpc_mem_status st = { 0 };
	gint64 resident = s->region ? mem_region_resident(s->region) : 0;
	gint64 age_ms = s->pressure_at ? (g_get_monotonic_time() - s->pressure_at) / 1000 : -1;
	GString *out = g_string_new(NULL);
	guint mib = HRPC_MEM_CHUNK >> 20;

	if (s->region)
		mem_region_status(s->region, &st);
	if (json) {
		g_autofree char *src = g_strescape(s->policy_source ? s->policy_source : "", NULL);
		g_autofree char *file = g_strescape(s->pol.file ? s->pol.file : "", NULL);

		g_string_append_printf(out,
			"{\"guest\":%u,\"policy\":\"%s\",\"region\":%s,\"file\":\"%s\","
			"\"region_mib\":%u,\"granted_mib\":%u,\"reclaiming_mib\":%u,"
			"\"pinned_mib\":%u,\"pin_quota_mib\":%u,\"resident_bytes\":%lld,"
			"\"min_mib\":%u,\"max_mib\":%u,\"used_mib\":%llu,"
			"\"attached\":%s,\"pressure\":{\"age_ms\":%lld,\"some_avg10\":%u,"
			"\"full_avg10\":%u,\"free_kb\":%llu,\"avail_kb\":%llu,\"used_kb\":%llu},"
			"\"moves\":{\"granted_mib\":%llu,\"reclaims\":%llu,\"reclaimed_mib\":%llu,"
			"\"released_mib\":%llu,\"expired_mib\":%llu,\"refilled_mib\":%llu}}\n",
			s->guest_id, src, s->region ? "true" : "false", file,
			st.nchunks * mib, st.granted * mib, st.reclaiming * mib, st.pinned * mib,
			st.pin_quota * mib, (long long)resident, s->pol.min_mib, s->pol.max_mib,
			(unsigned long long)s->pressure.used_kb >> 10, s->hello ? "true" : "false",
			(long long)age_ms, s->pressure.some_avg10, s->pressure.full_avg10,
			(unsigned long long)s->pressure.free_kb,
			(unsigned long long)s->pressure.avail_kb,
			(unsigned long long)s->pressure.used_kb,
			(unsigned long long)s->granted_total * mib, (unsigned long long)s->reclaims,
			(unsigned long long)s->reclaimed_total * mib,
			(unsigned long long)s->released_total * mib,
			(unsigned long long)s->expired_total * mib,
			(unsigned long long)s->refilled_total * mib);
	} else if (!s->region) {
		g_string_append_printf(out, "memory policy: %s\nno region\n", s->policy_source);
	} else {
		g_string_append_printf(out, "memory policy: %s\nregion %s: %u MiB, %s; "
				       "balanced within %u-%u MiB\n",
				       s->policy_source, s->pol.file, st.nchunks * mib,
				       s->hello ? "the guest's driver attached" :
						  "no guest driver yet", s->pol.min_mib, s->pol.max_mib);
		g_string_append_printf(out,
			"granted %u MiB, reclaiming %u MiB, pinned %u of %u MiB, host holds %lld MiB\n",
			st.granted * mib, st.reclaiming * mib, st.pinned * mib, st.pin_quota * mib,
			(long long)(resident >> 20));
		if (age_ms >= 0)
			g_string_append_printf(out,
				"pressure (%lld ms ago): some %u.%02u%% full %u.%02u%%, free %llu MiB, "
				"available %llu MiB, using %llu MiB of its grants\n",
				(long long)age_ms, s->pressure.some_avg10 / 100,
				s->pressure.some_avg10 % 100, s->pressure.full_avg10 / 100,
				s->pressure.full_avg10 % 100,
				(unsigned long long)s->pressure.free_kb >> 10,
				(unsigned long long)s->pressure.avail_kb >> 10,
				(unsigned long long)s->pressure.used_kb >> 10);
		else
			g_string_append(out, "pressure: not reported\n");
		g_string_append_printf(out,
			"moves: granted %llu MiB; %llu reclaims asked %llu MiB: released %llu MiB, "
			"taken at the deadline %llu MiB, refilled %llu MiB\n",
			(unsigned long long)s->granted_total * mib, (unsigned long long)s->reclaims,
			(unsigned long long)s->reclaimed_total * mib,
			(unsigned long long)s->released_total * mib,
			(unsigned long long)s->expired_total * mib,
			(unsigned long long)s->refilled_total * mib);
	}
	*len = out->len;
	return g_string_free(out, FALSE);
}

/* ---- lifetime ---------------------------------------------------------------------- */

/* by_dir: the guest's file in `policy_dir`; else `text` from `source`. */
static OutsourceMemService *start(hrpc_server *srv, guint32 guest_id, const char *guest_name,
				  const char *policy_dir, gboolean by_dir, const char *text,
				  const char *source, gboolean adopt, int audit_fd,
				  GError **error)
{
	OutsourceMemService *s = g_new0(OutsourceMemService, 1);
	g_autoptr(GError) e = NULL;
	int rc;

	s->guest_id = guest_id;
	s->name = g_strdup(guest_name);
	s->audit_fd = audit_fd;
	g_queue_init(&s->events);
	if (by_dir ? !policy_load(s, policy_dir ? policy_dir : SYSCONFDIR "/hostrpc/mem", error)
	    : !policy_from_text(s, text, source, error)) {
		outsource_mem_service_stop(s);
		return NULL;
	}
	/* A region that cannot be had (in use, not on tmpfs, too short) costs
	 * the guest its memory service, not its other services. */
	if (s->pol.region_chunks && !region_open(s, adopt, &e)) {
		g_warning("guest %u: no memory region: %s", guest_id, e->message);
		g_free(s->policy_source);
		s->policy_source = g_strdup_printf("none (%s)", e->message);
	}
	if (s->region && adopt) {
		struct hrpc_mem_status st;

		/* Its first grant was an earlier worker's: not again. */
		mem_region_status(s->region, &st);
		s->granted_once = TRUE;
		g_info("guest %u: memory region %s: a restart for the same guest: the %u MiB "
		       "holding data stay granted", guest_id, s->pol.file,
		       st.granted * (HRPC_MEM_CHUNK >> 20));
		audit(s, "adopted %u chunks holding data", st.granted);
	}
	rc = hrpc_server_register(srv, HRPC_SVC_MEM, "memory", mem_handle, s);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot register the memory service: %s", g_strerror(-rc));
		outsource_mem_service_stop(s);
		return NULL;
	}
	s->tick = g_timeout_source_new(TICK_MS);
	g_source_set_callback(s->tick, tick, s, NULL);
	g_source_attach(s->tick, g_main_context_get_thread_default());
	if (s->region)
		g_info("guest %u: memory region %s, %u MiB (policy %s)", guest_id, s->pol.file,
		       s->pol.region_chunks * (HRPC_MEM_CHUNK >> 20), s->policy_source);
	return s;
}

OutsourceMemService *outsource_mem_service_start(hrpc_server *srv, guint32 guest_id,
						 const char *guest_name, const char *policy_dir,
						 gboolean adopt, int audit_fd, GError **error)
{
	return start(srv, guest_id, guest_name, policy_dir, TRUE, NULL, NULL, adopt, audit_fd,
		     error);
}

OutsourceMemService *outsource_mem_service_start_text(hrpc_server *srv, guint32 guest_id,
						      const char *guest_name,
						      const char *policy_text, const char *source,
						      gboolean adopt, int audit_fd, GError **error)
{
	return start(srv, guest_id, guest_name, NULL, FALSE, policy_text, source, adopt,
		     audit_fd, error);
}

void outsource_mem_service_stop(OutsourceMemService *s)
{
	if (!s)
		return;
	if (s->tick) {
		g_source_destroy(s->tick);
		g_source_unref(s->tick);
	}
	g_queue_clear_full(&s->events, g_free);
	mem_region_free(s->region);
	g_free(s->pol.file);
	g_free(s->policy_source);
	g_free(s->name);
	g_free(s);
}
