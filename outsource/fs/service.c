/* SPDX-License-Identifier: MIT */
/* service.c - filesystem outsourcing, host half (outsource-fs.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "fs-server/server.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/fsstate.h"
#include "hostrpc/miglink.h"
#include "hostrpc/msg.h"
#include "outsource/audit-limit.h"
#include "outsource/fs/outsource-fs.h"
#include "outsource/fs/policy.h"

typedef struct {
	OutsourceFsService *svc;
	const struct fs_export_policy *pol;
	int root_fd;             /* O_PATH directory */
} FsExport;

/* One fs-server per export and mode (read-write, read-only: a read-only
 * MOUNT beside a writable one of the same export), made at its first
 * MOUNT; its handle tag is its slot in servers[]: 2 * export index + ro,
 * unless a migration brought that export's server with another tag (the
 * source host's policy may list its exports in another order). */
typedef struct {
	FsExport *exp;
	gboolean ro;
	struct fss *fss;         /* NULL: not made yet */
	GSource *watch_src;      /* inotify, on the thread-default context; NULL = none */
	/* Or a server that stayed at a migration's remnant (its export is
	 * not here): every call on its handles goes there (fwd_fn). */
	gboolean fwd;
	gboolean fwd_lost;       /* the link to it ended: EIO */
	char fwd_name[64];
	guint64 fwd_calls;
} FsServer;

/* A forwarded call whose reply the guest waits for. */
typedef struct {
	hrpc_conn *conn;
	guint64 token;           /* hrpc_conn_defer()'s */
} FsPending;

struct _OutsourceFsService {
	guint32 guest_id;
	char *name;
	char *policy_source;     /* the file, or why there is none */
	struct fs_policy policy;
	FsExport exports[FS_POLICY_EXPORTS_MAX];
	guint nexports;
	FsServer servers[2 * FS_POLICY_EXPORTS_MAX];
	int audit_fd;
	struct outsource_audit_limit audit_limit;
	hrpc_conn *conn;         /* the guest's, from its first call (events) */
	/* Forwarding (a destination): where calls on forwarded servers go,
	 * and those under way (id -> FsPending). */
	OutsourceFsForwardFn fwd_fn;
	void *fwd_data;
	GHashTable *pending;
	guint64 next_call;
	/* A remnant: the servers kept for the guest's new host, and where
	 * their events go. */
	guint64 kept;
	OutsourceFsEventFn event_fn;
	void *event_data;
	guint8 *rep_buf;         /* HRPC_MSG_MAX_PAYLOAD, a remnant's replies */
};

/* ---- audit and events ---------------------------------------------------- */

static void export_audit(void *data, const char *line)
{
	FsExport *e = data;

	char rec[1024];
	guint64 held;
	int n;

	if (e->svc->audit_fd < 0 ||
	    !outsource_audit_take(&e->svc->audit_limit, g_get_monotonic_time(), &held))
		return;
	if (held) {
		n = snprintf(rec, sizeof(rec), "fs audit: %" G_GUINT64_FORMAT " records not sent "
			     "(more than %u a second)", held, OUTSOURCE_AUDIT_MAX_RATE);
		(void)!send(e->svc->audit_fd, rec, MIN((size_t)n, sizeof(rec) - 1),
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	/* One record per datagram; the supervisor adds time and guest. */
	n = snprintf(rec, sizeof(rec), "fs export=%s %s", e->pol->name, line);
	if (n > 0)
		(void)!send(e->svc->audit_fd, rec, MIN((size_t)n, sizeof(rec) - 1),
			    MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void server_audit(void *data, const char *line)
{
	FsServer *v = data;
	g_autofree char *l = g_strdup_printf("%s%s", v->ro ? "mount=ro " : "", line);

	export_audit(v->exp, l);
}

static void server_log(void *data, const char *msg)
{
	FsServer *v = data;

	g_info("guest %u: fs export %s%s: %s", v->exp->svc->guest_id, v->exp->pol->name,
	       v->ro ? " (read-only)" : "", msg);
}

static void server_inval(void *data, const struct hrpc_gfs_inval_event *ev)
{
	FsServer *v = data;

	/* Best effort: a full event ring loses one invalidation, which the
	 * guest's attribute timeout covers. */
	if (v->exp->svc->event_fn)
		v->exp->svc->event_fn(v->exp->svc->event_data, HRPC_GFS_EVT_INVAL, ev, sizeof(*ev));
	else if (v->exp->svc->conn)
		(void)hrpc_conn_send_event(v->exp->svc->conn, HRPC_SVC_FS, HRPC_GFS_EVT_INVAL, ev,
					   sizeof(*ev));
}

static gboolean server_watch_ready(gint fd, GIOCondition cond, gpointer data)
{
	FsServer *v = data;

	fss_watch_dispatch(v->fss);
	return G_SOURCE_CONTINUE;
}

#define NSERVERS G_N_ELEMENTS(((OutsourceFsService *)0)->servers)

/* Make the server of export `e` in mode `ro` in slot `tag` (NULL: out of
 * memory). */
static FsServer *server_make(OutsourceFsService *svc, FsExport *e, gboolean ro, guint tag)
{
	FsServer *v = &svc->servers[tag];
	struct fss_config cfg = {
		.max_nodes = svc->policy.max_nodes,
		.max_files = svc->policy.max_files,
		.flags = e->pol->allow,
		.max_write_bytes = e->pol->quota,
		.ids = e->pol->ids,
		.log = server_log, .log_data = v,
		.audit = server_audit, .audit_data = v,
		.handle_tag = (guint8)tag,
		.watch = TRUE,
		.inval = server_inval, .inval_data = v,
	};

	if (v->fss)
		return v;
	v->exp = e;
	v->ro = ro;
	v->fss = fss_new(e->root_fd, &cfg);
	if (!v->fss)
		return NULL;
	if (fss_watch_fd(v->fss) >= 0) {
		v->watch_src = g_unix_fd_source_new(fss_watch_fd(v->fss), G_IO_IN);
		g_source_set_callback(v->watch_src, G_SOURCE_FUNC(server_watch_ready), v, NULL);
		g_source_attach(v->watch_src, g_main_context_get_thread_default());
	}
	return v;
}

static FsServer *server_find(OutsourceFsService *svc, FsExport *e, gboolean ro)
{
	for (guint t = 0; t < NSERVERS; t++)
		if (svc->servers[t].fss && svc->servers[t].exp == e && svc->servers[t].ro == ro)
			return &svc->servers[t];
	return NULL;
}

/* The server of export `e` in mode `ro`, made now if need be. */
static FsServer *server_get(OutsourceFsService *svc, FsExport *e, gboolean ro)
{
	guint tag = 2 * (guint)(e - svc->exports) + (ro ? 1 : 0);
	FsServer *v = server_find(svc, e, ro);

	if (v)
		return v;
	for (guint t = 0; svc->servers[tag].fss && t < NSERVERS; t++)
		tag = t;   /* its slot holds a migrated server: the first free one */
	return svc->servers[tag].fss ? NULL : server_make(svc, e, ro, tag);
}

/* ---- routing --------------------------------------------------------------- */

static FsServer *server_of_handle(OutsourceFsService *svc, guint64 h)
{
	guint tag = (guint)(h >> 24) & 0xff;

	return tag < NSERVERS && (svc->servers[tag].fss || svc->servers[tag].fwd) ?
		       &svc->servers[tag] : NULL;
}

/* The largest reply payload of the filesystem service (READLINK's
 * target, inline): a forwarded call's room in the response ring. */
#define FWD_REPLY_MAX (HRPC_GFS_PATH_MAX + 256u)

/* A call on a server that lives at a remnant: it goes there, the guest's
 * reply comes when the remnant's does (outsource_fs_service_fwd_reply). */
static int forward_call(OutsourceFsService *svc, FsServer *v, const struct hrpc_req *req,
			const void *payload, guint32 len)
{
	gboolean oneway = (req->hdr->flags & HRPC_MSG_F_ONEWAY) != 0;
	OutsourceFsCall c = { .proc = req->hdr->proc, .oneway = oneway, .payload = payload,
		.len = len, .bulk = req->bulk, .bulk_len = req->bulk_len,
		.bulk_cap = req->bulk ? MIN(req->bulk_cap, (guint32)HRPC_GFS_IO_MAX) : 0 };
	guint64 token = 0;
	int rc;

	if (v->fwd_lost || !svc->fwd_fn)
		return -EIO;   /* as a network filesystem whose server is gone */
	if (!oneway && (rc = hrpc_conn_defer(req, FWD_REPLY_MAX, &token)) < 0)
		return rc == -EBUSY ? -EAGAIN : rc;
	c.id = ++svc->next_call;
	rc = svc->fwd_fn(svc->fwd_data, (guint)(v - svc->servers), &c);
	if (rc < 0)
		return rc == -EBUSY ? -EAGAIN : -EIO;   /* the deferral is dropped */
	v->fwd_calls++;
	if (!oneway) {
		FsPending *pd = g_new(FsPending, 1);

		pd->conn = req->conn;
		pd->token = token;
		g_hash_table_insert(svc->pending, g_memdup2(&c.id, sizeof(c.id)), pd);
	}
	return oneway ? 0 : HRPC_DEFERRED;
}

static int route_mount(OutsourceFsService *svc, const struct hrpc_req *req,
		       struct hrpc_reply *rep)
{
	struct {
		struct hrpc_gfs_cred cred;
		struct hrpc_gfs_mount_req m;
	} *in = (void *)req->payload, out;
	const char *p, *slash;
	struct hrpc_req call = *req;
	FsExport *e = NULL;
	FsServer *v;
	size_t nlen;

	if (req->len != sizeof(out) || in->m.path_len == 0 ||
	    in->m.path_len >= HRPC_GFS_PATH_MAX || in->m.path[0] != '/')
		return -EINVAL;
	/* "/NAME" or "/NAME/rest": the rest is resolved inside the export. */
	p = in->m.path + 1;
	slash = memchr(p, '/', in->m.path_len - 1);
	nlen = slash ? (size_t)(slash - p) : in->m.path_len - 1u;
	for (guint i = 0; i < svc->nexports; i++)
		if (strlen(svc->exports[i].pol->name) == nlen &&
		    !memcmp(svc->exports[i].pol->name, p, nlen))
			e = &svc->exports[i];
	if (!e) {
		g_info("guest %u: MOUNT of an export the policy (%s) does not have", svc->guest_id,
		       svc->policy_source);
		return -ENOENT;
	}
	memcpy(&out.cred, &in->cred, sizeof(out.cred));
	memset(&out.m, 0, sizeof(out.m));
	out.m.flags = in->m.flags | (e->pol->ro ? HRPC_GFS_MOUNT_F_RDONLY : 0);
	out.m.reserved = in->m.reserved;
	if (slash) {
		out.m.path_len = (guint16)(in->m.path_len - 1 - nlen);
		memcpy(out.m.path, slash, out.m.path_len);
	} else {
		out.m.path_len = 1;
		out.m.path[0] = '/';
	}
	/* The rest of the request is checked by the server (zero padding). */
	if (memchr(in->m.path, 0, in->m.path_len))
		return -EINVAL;
	for (size_t i = in->m.path_len; i < sizeof(in->m.path); i++)
		if (in->m.path[i])
			return -EINVAL;
	call.payload = &out;
	if (!(v = server_get(svc, e, (out.m.flags & HRPC_GFS_MOUNT_F_RDONLY) != 0)))
		return -ENOMEM;
	return fss_handle(v->fss, &call, rep);
}

/* FORGET: each item to its export's server. */
static int route_forget(OutsourceFsService *svc, const struct hrpc_req *req,
			struct hrpc_reply *rep)
{
	const guint8 *pl = req->payload;
	struct hrpc_gfs_forget_req f;
	/* cred, then struct hrpc_gfs_forget_req spelled out: a struct
	 * with a flexible array cannot sit inside another (a GNU extension). */
	struct {
		struct hrpc_gfs_cred cred;
		hrpc_u32 count;
		hrpc_u32 reserved;
		struct hrpc_gfs_forget_item items[HRPC_GFS_FORGET_MAX];
	} out;
	int rc = 0;

	G_STATIC_ASSERT(G_STRUCT_OFFSET(typeof(out), items) ==
			sizeof(out.cred) + sizeof(struct hrpc_gfs_forget_req));

	if (req->len < sizeof(out.cred) + sizeof(f))
		return -EINVAL;
	memcpy(&f, pl + sizeof(out.cred), sizeof(f));
	if (f.count == 0 || f.count > HRPC_GFS_FORGET_MAX || f.reserved ||
	    req->len != sizeof(out.cred) + sizeof(f) + f.count * sizeof(out.items[0]))
		return -EINVAL;
	memcpy(&out.cred, pl, sizeof(out.cred));
	for (guint x = 0; x < NSERVERS; x++) {
		struct hrpc_req call = *req;
		guint n = 0;
		int r;

		for (guint i = 0; i < f.count; i++) {
			struct hrpc_gfs_forget_item it;

			memcpy(&it, pl + sizeof(out.cred) + sizeof(f) + i * sizeof(it), sizeof(it));
			if (server_of_handle(svc, it.node) == &svc->servers[x])
				out.items[n++] = it;
		}
		if (!n)
			continue;
		out.count = n;
		out.reserved = 0;
		call.payload = &out;
		call.len = (guint32)(sizeof(out.cred) + sizeof(f) + n * sizeof(out.items[0]));
		if (svc->servers[x].fwd) {
			/* No answer awaited: FORGET cannot fail in a way the
			 * guest could act on. */
			struct hrpc_msg_hdr oh = *req->hdr;

			oh.flags |= HRPC_MSG_F_ONEWAY;
			call.hdr = &oh;
			call.bulk = NULL;
			(void)forward_call(svc, &svc->servers[x], &call, &out, call.len);
			continue;
		}
		if ((r = fss_handle(svc->servers[x].fss, &call, rep)) < 0)
			rc = r;
	}
	return rc;
}

static int fs_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	OutsourceFsService *svc = opaque;
	const size_t cl = sizeof(struct hrpc_gfs_cred);
	guint64 h[2];
	FsServer *v;

	if (req->conn)
		svc->conn = req->conn;
	if (req->hdr->proc == HRPC_GFS_MOUNT)
		return route_mount(svc, req, rep);
	if (req->hdr->proc == HRPC_GFS_FORGET)
		return route_forget(svc, req, rep);
	if (req->len < cl + sizeof(h[0]))
		return -EINVAL;
	memcpy(&h[0], (const guint8 *)req->payload + cl, sizeof(h[0]));
	if (!(v = server_of_handle(svc, h[0])))
		return h[0] ? -ESTALE : -EINVAL;
	if (req->hdr->proc == HRPC_GFS_RENAME || req->hdr->proc == HRPC_GFS_LINK) {
		if (req->len < cl + sizeof(h))
			return -EINVAL;
		memcpy(&h[1], (const guint8 *)req->payload + cl + sizeof(h[0]), sizeof(h[1]));
		/* Another export, or the same one mounted read-only. */
		if (server_of_handle(svc, h[1]) != v)
			return -EXDEV;
	}
	if (v->fwd)
		return forward_call(svc, v, req, req->payload, req->len);
	return fss_handle(v->fss, req, rep);
}

/* ---- start and stop -------------------------------------------------------- */

static gboolean parse_policy(OutsourceFsService *svc, const char *text, const char *source,
			     GError **error);

static gboolean load_policy(OutsourceFsService *svc, const char *policy_dir, GError **error)
{
	g_autofree char *defdir = g_build_filename(SYSCONFDIR, "hostrpc", "fs", NULL);
	const char *dir = policy_dir ? policy_dir : defdir;
	g_autofree char *conf = g_strdup_printf("%s/%s.conf", dir, svc->name);
	g_autofree char *text = NULL;

	if (!g_file_test(conf, G_FILE_TEST_EXISTS)) {
		g_free(conf);
		conf = g_strdup_printf("%s/default.conf", dir);
	}
	if (!g_file_test(conf, G_FILE_TEST_EXISTS)) {
		svc->policy_source = g_strdup_printf("none (no %s/%s.conf, no %s/default.conf): "
						     "no exports", dir, svc->name, dir);
		return TRUE;
	}
	if (!g_file_get_contents(conf, &text, NULL, error))
		return FALSE;
	return parse_policy(svc, text, conf, error);
}

static gboolean parse_policy(OutsourceFsService *svc, const char *text, const char *source,
			     GError **error)
{
	char err[512];
	int rc = fs_policy_parse(text, source, &svc->policy, err, sizeof(err));

	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc), "%s", err);
		return FALSE;
	}
	svc->policy_source = g_strdup(source);
	return TRUE;
}

/* policy_dir: look up the guest's file there; else `text` from `source`,
 * or with no text no exports (`source` says why). */
static OutsourceFsService *start(hrpc_server *srv, guint32 guest_id, const char *guest_name,
				 const char *policy_dir, const char *text, const char *source,
				 gboolean by_dir, int audit_fd, GError **error)
{
	g_autoptr(OutsourceFsService) svc = g_new0(OutsourceFsService, 1);
	int rc;

	svc->guest_id = guest_id;
	svc->audit_fd = -1;
	svc->pending = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	svc->name = g_strdup(guest_name && *guest_name && strcmp(guest_name, ".") &&
			     strcmp(guest_name, "..") && !strchr(guest_name, '/') ?
			     guest_name : "");
	if (!*svc->name) {
		g_free(svc->name);
		svc->name = g_strdup_printf("guest%u", guest_id);
	}
	if (by_dir ? !load_policy(svc, policy_dir, error)
	    : text ? !parse_policy(svc, text, source, error)
	    : !(svc->policy_source = g_strdup(source ? source : "none: no exports")))
		return NULL;
	if (audit_fd >= 0 && (svc->audit_fd = fcntl(audit_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot keep the audit channel: %s", g_strerror(errno));
		return NULL;
	}
	for (guint i = 0; i < svc->policy.nexports; i++) {
		const struct fs_export_policy *pol = &svc->policy.exports[i];
		FsExport *e = &svc->exports[i];
		struct stat st;

		e->svc = svc;
		e->pol = pol;
		e->root_fd = open(pol->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (e->root_fd < 0 || fstat(e->root_fd, &st) < 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
				    "%s: export %s: cannot open %s: %s", svc->policy_source,
				    pol->name, pol->path, g_strerror(errno));
			return NULL;
		}
		svc->nexports = i + 1;
		export_audit(e, pol->ro ? "exported read-only" : "exported");
	}
	rc = hrpc_server_register(srv, HRPC_SVC_FS, "fs", fs_handle, svc);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot register the filesystem service: %s", g_strerror(-rc));
		return NULL;
	}
	return g_steal_pointer(&svc);
}

OutsourceFsService *outsource_fs_service_start(hrpc_server *srv, guint32 guest_id,
					       const char *guest_name, const char *policy_dir,
					       int audit_fd, GError **error)
{
	return start(srv, guest_id, guest_name, policy_dir, NULL, NULL, TRUE, audit_fd, error);
}

OutsourceFsService *outsource_fs_service_start_text(hrpc_server *srv, guint32 guest_id,
						    const char *guest_name, const char *policy_text,
						    const char *source, int audit_fd, GError **error)
{
	return start(srv, guest_id, guest_name, NULL, policy_text, source, FALSE, audit_fd,
		     error);
}

void outsource_fs_service_stop(OutsourceFsService *svc)
{
	if (!svc)
		return;
	for (guint i = NSERVERS; i-- > 0;) {
		FsServer *v = &svc->servers[i];

		if (v->watch_src) {
			g_source_destroy(v->watch_src);
			g_source_unref(v->watch_src);
		}
		fss_free(v->fss);
	}
	for (guint i = svc->nexports; i-- > 0;)
		if (svc->exports[i].root_fd >= 0)
			close(svc->exports[i].root_fd);
	if (svc->audit_fd >= 0)
		close(svc->audit_fd);
	g_hash_table_unref(svc->pending);   /* the conn forgets their deferrals */
	g_free(svc->rep_buf);
	fs_policy_clear(&svc->policy);
	g_free(svc->policy_source);
	g_free(svc->name);
	g_free(svc);
}

guint outsource_fs_service_exports(OutsourceFsService *svc, guint32 *allow)
{
	*allow = 0;
	for (guint i = 0; svc && i < svc->nexports; i++)
		*allow |= svc->exports[i].pol->allow;
	return svc ? svc->nexports : 0;
}

/* ---- listing --------------------------------------------------------------- */

static void json_str(GString *o, const char *s)
{
	g_string_append_c(o, '"');
	for (; *s; s++) {
		guchar c = (guchar)*s;

		if (c == '"' || c == '\\')
			g_string_append_printf(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			g_string_append_printf(o, "\\u%04x", c);
		else
			g_string_append_c(o, (char)c);
	}
	g_string_append_c(o, '"');
}

static const char *lock_name(guint32 type)
{
	return type == HRPC_GFS_LOCK_RD ? "read" : type == HRPC_GFS_LOCK_WR ? "write" : "none";
}

char *outsource_fs_service_listing(OutsourceFsService *svc, gboolean json, gsize *len)
{
	GString *o = g_string_new(NULL);
	struct fss_file_info *fi = g_new0(struct fss_file_info, 1);

	if (json) {
		g_string_append(o, "{\"policy\":");
		json_str(o, svc->policy_source);
		g_string_append(o, ",\"exports\":[");
	} else {
		g_string_append_printf(o, "POLICY %s\n", svc->policy_source);
	}
	for (guint i = 0; i < svc->nexports; i++) {
		FsExport *e = &svc->exports[i];
		FsServer none = { 0 }, *vs[2] = { server_find(svc, e, FALSE), server_find(svc, e, TRUE) };
		guint nodes = 0;
		guint64 written;
		gboolean first = TRUE;

		for (int k = 0; k < 2; k++) {
			vs[k] = vs[k] ? vs[k] : &none;
			nodes += vs[k]->fss ? fss_node_count(vs[k]->fss) : 0;
		}
		written = vs[0]->fss ? fss_written(vs[0]->fss) : 0;

		if (json) {
			g_string_append_printf(o, "%s{\"name\":", i ? "," : "");
			json_str(o, e->pol->name);
			g_string_append(o, ",\"path\":");
			json_str(o, e->pol->path);
			g_string_append_printf(o, ",\"ro\":%s,\"ids\":", e->pol->ro ? "true" : "false");
			json_str(o, e->pol->ids_spec);
			g_string_append_printf(o, ",\"nodes\":%u,\"written\":%" G_GUINT64_FORMAT
					       ",\"quota\":%" G_GUINT64_FORMAT ",\"files\":[", nodes,
					       written, e->pol->quota);
		} else {
			g_string_append_printf(o, "EXPORT %s %s%s ids=%s nodes=%u written=%"
					       G_GUINT64_FORMAT, e->pol->name, e->pol->path,
					       e->pol->ro ? " ro" : "", e->pol->ids_spec, nodes, written);
			if (e->pol->quota)
				g_string_append_printf(o, " quota=%" G_GUINT64_FORMAT, e->pol->quota);
			g_string_append_c(o, '\n');
		}
		for (guint32 m = 0, pos = 0; m < 2; m++, pos = 0)
		while (vs[m]->fss && fss_file_next(vs[m]->fss, &pos, fi)) {
			if (json) {
				g_string_append_printf(o, "%s{\"fh\":%" G_GUINT64_FORMAT ",\"node\":%"
						       G_GUINT64_FORMAT ",\"dir\":%s,\"flags\":%u,"
						       "\"path\":", first ? "" : ",", fi->fh, fi->node,
						       fi->dir ? "true" : "false", fi->flags);
				json_str(o, fi->path);
				g_string_append_printf(o, ",\"handle_type\":%d,\"handle\":\"",
						       fi->handle_type);
				for (guint k = 0; k < fi->handle_len; k++)
					g_string_append_printf(o, "%02x", fi->handle[k]);
				g_string_append_printf(o, "\",\"flock\":\"%s\",\"locks\":[",
						       lock_name(fi->flock_type));
				for (guint k = 0; k < fi->nlocks; k++)
					g_string_append_printf(o, "%s{\"type\":\"%s\",\"start\":%"
							       G_GUINT64_FORMAT ",\"end\":%" G_GINT64_FORMAT "}",
							       k ? "," : "", lock_name(fi->locks[k].type),
							       fi->locks[k].start,
							       fi->locks[k].end == G_MAXUINT64 ? (gint64)-1 :
							       (gint64)fi->locks[k].end);
				g_string_append_printf(o, "],\"locks_overflow\":%s}",
						       fi->locks_overflow ? "true" : "false");
			} else {
				g_string_append_printf(o, "  %-4s fh=%#" G_GINT64_MODIFIER "x flags=%#o %s",
						       fi->dir ? "dir" : "file", fi->fh, fi->flags,
						       fi->path);
				if (fi->flock_type != HRPC_GFS_LOCK_UN)
					g_string_append_printf(o, " flock=%s", lock_name(fi->flock_type));
				for (guint k = 0; k < fi->nlocks; k++) {
					char end[32] = "eof";

					if (fi->locks[k].end != G_MAXUINT64)
						g_snprintf(end, sizeof(end), "%" G_GUINT64_FORMAT,
							   fi->locks[k].end);
					g_string_append_printf(o, " lock=%s:%" G_GUINT64_FORMAT "-%s",
							       lock_name(fi->locks[k].type),
							       fi->locks[k].start, end);
				}
				g_string_append(o, fi->locks_overflow ? " locks+\n" : "\n");
			}
			first = FALSE;
		}
		if (json)
			g_string_append(o, "]}");
	}
	if (json)
		g_string_append(o, "],\"forwarded\":[");
	for (guint t = 0, n = 0; t < NSERVERS; t++) {
		FsServer *v = &svc->servers[t];

		if (!v->fwd)
			continue;
		if (json) {
			g_string_append_printf(o, "%s{\"name\":", n++ ? "," : "");
			json_str(o, v->fwd_name);
			g_string_append_printf(o, ",\"ro\":%s,\"state\":\"%s\",\"calls\":%"
					       G_GUINT64_FORMAT "}", v->ro ? "true" : "false",
					       v->fwd_lost ? "lost" : "forwarded", v->fwd_calls);
		} else {
			g_string_append_printf(o, "FORWARDED %s%s %s calls=%" G_GUINT64_FORMAT "\n",
					       v->fwd_name, v->ro ? " ro" : "",
					       v->fwd_lost ? "lost (the remnant's link ended)" :
							     "at the source's remnant", v->fwd_calls);
		}
	}
	if (json)
		g_string_append(o, "]}\n");
	g_free(fi);
	*len = o->len;
	return g_string_free(o, FALSE);
}

/* ---- migration (include/hostrpc/fsstate.h) ------------------------------------- */

int outsource_fs_service_mig_export(OutsourceFsService *svc, void **table, size_t *len)
{
	struct hrpc_fs_mig_table t = { .magic = HRPC_FS_MIG_MAGIC };
	char *buf = NULL;
	size_t blen = 0;
	FILE *out = open_memstream(&buf, &blen);
	int rc = 0;

	if (!out)
		return -errno;
	fwrite(&t, sizeof(t), 1, out);
	for (guint tag = 0; tag < NSERVERS && rc == 0; tag++) {
		FsServer *v = &svc->servers[tag];
		struct hrpc_fs_mig_server r = { .tag = (guint8)tag, .ro = v->ro ? 1 : 0 };
		char *nb = NULL;
		size_t nlen = 0;
		FILE *nf;

		if (v->fwd && !v->fwd_lost) {
			/* Its state is the remnant's (hostrpc-migrate fetches it,
			 * migfwd.h FS_EXPORT): a record that says so. */
			r.flags = HRPC_FS_MIG_F_FORWARD;
			g_strlcpy(r.export_name, v->fwd_name, sizeof(r.export_name));
			fwrite(&r, sizeof(r), 1, out);
			t.nserv++;
			continue;
		}
		if (!v->fss || fss_mode(v->fss) < 0)
			continue;   /* never mounted: nothing of it to move */
		if (!(nf = open_memstream(&nb, &nlen))) {
			rc = -errno;
			break;
		}
		g_strlcpy(r.export_name, v->exp->pol->name, sizeof(r.export_name));
		rc = fss_mig_export(v->fss, nf, &r.nnodes, &r.nfiles);
		fclose(nf);
		r.written = fss_written(v->fss);
		if (rc == 0) {
			fwrite(&r, sizeof(r), 1, out);
			fwrite(nb, 1, nlen, out);
			t.nserv++;
		}
		free(nb);
	}
	if (fclose(out) != 0 && rc == 0)
		rc = -EIO;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	t.size = blen;
	memcpy(buf, &t, sizeof(t));
	*table = buf;
	*len = blen;
	return 0;
}

void outsource_fs_service_mig_quiesce(OutsourceFsService *svc)
{
	for (guint tag = 0; tag < NSERVERS; tag++)
		if (svc->servers[tag].fss)
			fss_mig_quiesce(svc->servers[tag].fss);
}

int outsource_fs_service_mig_resume(OutsourceFsService *svc)
{
	int rc = 0, r;

	for (guint tag = 0; tag < NSERVERS; tag++)
		if (svc->servers[tag].fss && (r = fss_mig_resume(svc->servers[tag].fss)) < 0 && !rc)
			rc = r;
	return rc;
}

int outsource_fs_service_mig_import(OutsourceFsService *svc, const void *table, size_t len,
				    char *err, size_t errlen)
{
	const guint8 *p = table, *end = p + len;
	struct hrpc_fs_mig_table t;
	int rc = 0;

	if (len < sizeof(t))
		return -EPROTO;
	memcpy(&t, p, sizeof(t));
	if (t.magic != HRPC_FS_MIG_MAGIC || t.size != len || t.nserv > HRPC_FS_MIG_SERVERS) {
		g_strlcpy(err, "filesystem table: bad header", errlen);
		return -EPROTO;
	}
	p += sizeof(t);
	for (guint32 i = 0; i < t.nserv; i++) {
		struct hrpc_fs_mig_server r;
		const guint8 *recs;
		FsExport *e = NULL;
		FsServer *v;
		char sub[200];

		if ((size_t)(end - p) < sizeof(r)) {
			g_strlcpy(err, "filesystem table cut short", errlen);
			rc = -EPROTO;
			break;
		}
		memcpy(&r, p, sizeof(r));
		p += sizeof(r);
		if (r.ro > 1 || (r.flags & ~HRPC_FS_MIG_F_FORWARD) || r.reserved1 ||
		    r.tag >= NSERVERS ||
		    hrpc_mig_name_check(r.export_name) < 0 ||
		    r.nnodes > HRPC_FS_MIG_NODES || r.nfiles > HRPC_FS_MIG_NODES) {
			g_strlcpy(err, "filesystem table: a server record a host would not send",
				  errlen);
			rc = -EPROTO;
			break;
		}
		/* Its records: walk them for their length (fss checks them). */
		recs = p;
		for (guint32 k = 0; k < r.nnodes && rc == 0; k++) {
			struct hrpc_fs_mig_node nr;

			if ((size_t)(end - p) < sizeof(nr)) {
				rc = -EPROTO;
				break;
			}
			memcpy(&nr, p, sizeof(nr));
			if ((size_t)(end - p) - sizeof(nr) < (((size_t)nr.path_len + 7) & ~(size_t)7)) {
				rc = -EPROTO;
				break;
			}
			p += sizeof(nr) + (((size_t)nr.path_len + 7) & ~(size_t)7);
		}
		if (rc == 0 && (size_t)(end - p) / sizeof(struct hrpc_fs_mig_file) < r.nfiles)
			rc = -EPROTO;
		if (rc < 0) {
			g_strlcpy(err, "filesystem table cut short", errlen);
			break;
		}
		p += (size_t)r.nfiles * sizeof(struct hrpc_fs_mig_file);
		if (r.flags & HRPC_FS_MIG_F_FORWARD) {
			/* It stays at the source's remnant: its handles go there. */
			FsServer *fv = &svc->servers[r.tag];

			if (fv->fss || fv->fwd) {
				g_strlcpy(err, "filesystem table: a server twice", errlen);
				rc = -EPROTO;
				break;
			}
			fv->fwd = TRUE;
			fv->ro = r.ro;
			g_strlcpy(fv->fwd_name, r.export_name, sizeof(fv->fwd_name));
			continue;
		}
		for (guint k = 0; k < svc->nexports; k++)
			if (!strcmp(svc->exports[k].pol->name, r.export_name))
				e = &svc->exports[k];
		if (!e) {
			g_snprintf(err, errlen, "the guest has export %s mounted; this host's policy "
				   "(%s) has no such export", r.export_name, svc->policy_source);
			rc = -ENOENT;
			break;
		}
		if (svc->servers[r.tag].fss || svc->servers[r.tag].fwd ||
		    server_find(svc, e, r.ro || e->pol->ro)) {
			g_strlcpy(err, "filesystem table: a server twice", errlen);
			rc = -EPROTO;
			break;
		}
		if (!(v = server_make(svc, e, r.ro || e->pol->ro, r.tag))) {
			rc = -ENOMEM;
			break;
		}
		rc = fss_mig_import(v->fss, recs, (size_t)(p - recs), r.nnodes, r.nfiles, v->ro,
				    r.written, sub, sizeof(sub));
		if (rc < 0) {
			g_snprintf(err, errlen, "export %s (%s here): %s", r.export_name, e->pol->path,
				   sub);
			break;
		}
	}
	if (rc == 0 && p != end) {
		g_strlcpy(err, "filesystem table: bytes after the last record", errlen);
		rc = -EPROTO;
	}
	if (rc < 0) {
		/* All or nothing: the servers made here go. */
		for (guint tag = 0; tag < NSERVERS; tag++) {
			FsServer *v = &svc->servers[tag];

			if (v->watch_src) {
				g_source_destroy(v->watch_src);
				g_source_unref(v->watch_src);
				v->watch_src = NULL;
			}
			g_clear_pointer(&v->fss, fss_free);
			v->fwd = FALSE;
		}
	}
	return rc;
}

/* ---- forwarding: files that stayed at the source (issue 14) -------------------- */

gboolean outsource_fs_service_has_export(OutsourceFsService *svc, const char *name)
{
	for (guint i = 0; svc && i < svc->nexports; i++)
		if (!strcmp(svc->exports[i].pol->name, name))
			return TRUE;
	return FALSE;
}

guint64 outsource_fs_service_forwarded(OutsourceFsService *svc)
{
	guint64 m = 0;

	for (guint t = 0; svc && t < NSERVERS; t++)
		if (svc->servers[t].fwd)
			m |= G_GUINT64_CONSTANT(1) << t;
	return m;
}

gboolean outsource_fs_service_fwd_next(OutsourceFsService *svc, guint *pos,
				       OutsourceFsFwdInfo *info)
{
	for (; svc && *pos < NSERVERS; (*pos)++) {
		FsServer *v = &svc->servers[*pos];
		gboolean kept = (svc->kept & (G_GUINT64_CONSTANT(1) << *pos)) && v->fss;

		if (!v->fwd && !kept)
			continue;
		memset(info, 0, sizeof(*info));
		info->tag = *pos;
		g_strlcpy(info->name, v->fwd ? v->fwd_name : v->exp->pol->name, sizeof(info->name));
		info->ro = v->ro;
		info->calls = v->fwd_calls;
		info->lost = v->fwd_lost;
		info->nodes = kept ? fss_node_count(v->fss) : 0;
		(*pos)++;
		return TRUE;
	}
	return FALSE;
}

void outsource_fs_service_set_forward(OutsourceFsService *svc, OutsourceFsForwardFn fn,
				      void *data)
{
	svc->fwd_fn = fn;
	svc->fwd_data = data;
}

void outsource_fs_service_fwd_reply(OutsourceFsService *svc, guint64 id, int status,
				    const void *payload, guint32 len, const void *bulk,
				    guint32 bulk_len)
{
	FsPending *pd = g_hash_table_lookup(svc->pending, &id);

	if (!pd)
		return;
	/* hostrpc checks the length against what was promised and the bulk
	 * against the call's region: a remnant cannot write past either. */
	(void)hrpc_conn_reply_deferred(pd->conn, pd->token, status, payload, len, bulk, bulk_len);
	g_hash_table_remove(svc->pending, &id);
}

int outsource_fs_service_fwd_event(OutsourceFsService *svc, guint16 proc, const void *payload,
				   guint32 len)
{
	struct hrpc_gfs_inval_event ev;
	FsServer *v;

	if (proc != HRPC_GFS_EVT_INVAL || len != sizeof(ev))
		return -EPROTO;
	memcpy(&ev, payload, sizeof(ev));
	/* Only about the remnant's own servers' nodes. */
	v = server_of_handle(svc, ev.node);
	if (!v || !v->fwd)
		return -EPROTO;
	if (svc->conn)
		(void)hrpc_conn_send_event(svc->conn, HRPC_SVC_FS, HRPC_GFS_EVT_INVAL, &ev,
					   sizeof(ev));
	return 0;
}

void outsource_fs_service_fwd_lost(OutsourceFsService *svc)
{
	for (guint t = 0; t < NSERVERS; t++)
		if (svc->servers[t].fwd)
			svc->servers[t].fwd_lost = TRUE;
}

int outsource_fs_service_mig_keep(OutsourceFsService *svc, guint64 tags,
				  OutsourceFsEventFn event_fn, void *data)
{
	int rc = 0, r;

	for (guint t = 0; t < NSERVERS; t++) {
		FsServer *v = &svc->servers[t];

		if (!v->fss)
			continue;
		if (tags & (G_GUINT64_CONSTANT(1) << t)) {
			/* The guest's locks on those files are ours again. */
			if ((r = fss_mig_resume(v->fss)) < 0 && !rc)
				rc = r;
			continue;
		}
		if (v->watch_src) {
			g_source_destroy(v->watch_src);
			g_clear_pointer(&v->watch_src, g_source_unref);
		}
		g_clear_pointer(&v->fss, fss_free);
	}
	svc->kept = tags;
	svc->conn = NULL;   /* the guest's channel is its new host's */
	svc->event_fn = event_fn;
	svc->event_data = data;
	if (!svc->rep_buf)
		svc->rep_buf = g_malloc(HRPC_MSG_MAX_PAYLOAD);
	return rc;
}

gboolean outsource_fs_service_kept_live(OutsourceFsService *svc)
{
	for (guint t = 0; t < NSERVERS; t++)
		if ((svc->kept & (G_GUINT64_CONSTANT(1) << t)) && svc->servers[t].fss &&
		    fss_node_count(svc->servers[t].fss))
			return TRUE;
	return FALSE;
}

int outsource_fs_service_call(OutsourceFsService *svc, const OutsourceFsCall *c,
			      struct hrpc_reply *rep)
{
	struct hrpc_msg_hdr h;
	const size_t cl = sizeof(struct hrpc_gfs_cred);
	struct hrpc_req req = { .hdr = &h, .payload = c->payload, .len = c->len,
		.bulk = c->bulk, .bulk_len = c->bulk_len, .bulk_cap = c->bulk_cap };
	guint64 first;
	FsServer *v;

	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_FS, c->proc, 0, c->len);
	if (c->oneway)
		h.flags |= HRPC_MSG_F_ONEWAY;
	if (c->bulk) {
		h.flags |= HRPC_MSG_F_BULK;
		h.bulk_len = c->bulk_len;
		h.bulk_cap = c->bulk_cap;
	}
	memset(rep, 0, sizeof(*rep));
	if (!svc->rep_buf)
		return -EIO;
	rep->payload = svc->rep_buf;
	/* A new MOUNT is the new host's business; the rest goes to a kept
	 * server by its first handle (FORGET by each item's). */
	if (c->proc == HRPC_GFS_MOUNT)
		return -ENOENT;
	if (c->proc != HRPC_GFS_FORGET) {
		if (c->len < cl + sizeof(first))
			return -EINVAL;
		memcpy(&first, (const guint8 *)c->payload + cl, sizeof(first));
		v = server_of_handle(svc, first);
		if (!v || !(svc->kept & (G_GUINT64_CONSTANT(1) << (guint)(v - svc->servers))))
			return -ESTALE;
		v->fwd_calls++;
	}
	return fs_handle(svc, &req, rep);
}
