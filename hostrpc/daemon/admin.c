/* SPDX-License-Identifier: MIT */
/*
 * admin.c - the HRPC_SVC_ADMIN service on hostrpcd's admin socket.
 *
 * Every record is built from the supervisor's own guest table plus a
 * sanitised copy of the worker's status page (display data only).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/admin.h"
#include "hostrpc/hostrpc-glib.h"
#include "hostrpc/daemon/admin.h"
#include "hostrpc/daemon/audit-sink.h"
#include "hostrpc/daemon/listen-socket.h"
#include "hostrpc/daemon/worker-ctl.h"

_Static_assert(HRPCD_CTL_LISTING_MAX <= HRPC_ADMIN_SOCKETS_TEXT_MAX,
	       "a worker's listing fits one admin event");
_Static_assert(sizeof(struct hrpc_admin_sockets_event) + HRPC_ADMIN_SOCKETS_TEXT_MAX <=
	       HRPC_MSG_MAX_PAYLOAD, "an admin event fits one message");

typedef struct {
	HrpcdAdmin *adm;
	hrpc_conn *conn;
	guint source;
	guint32 next_ticket;
	GSList *asks;            /* Ask *, waiting for a worker */
} AdminConn;

/* A question to a worker on behalf of one admin connection; outlives the
 * connection if need be (then `ac` is NULL and the answer is dropped). */
typedef struct {
	AdminConn *ac;
	guint32 ticket;
	guint32 guest_id;
} Ask;

struct _HrpcdAdmin {
	HrpcdSupervisor *sup;
	char *path;
	int listen_fd;
	GSource *accept_src;
	hrpc_server *srv;
	GList *conns;            /* AdminConn * */
	guint nconns;
	guint ctl_timeout_ms;    /* what a worker gets to answer (worker-ctl.h) */
	gint64 started_us;
};

/* ---- procedures ------------------------------------------------------------ */

static int admin_info(HrpcdAdmin *adm, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	struct hrpc_admin_info info = {
		.version = HRPC_ADMIN_VERSION,
		.daemon_pid = (hrpc_u32)getpid(),
		.guests = hrpcd_guest_table_count(hrpcd_supervisor_guests(adm->sup)),
		.endpoints = hrpcd_supervisor_endpoint_count(adm->sup),
		.uptime_ns = (hrpc_u64)(g_get_monotonic_time() - adm->started_us) * 1000,
	};

	if (req->len)
		return -EINVAL;
	g_strlcpy(info.daemon, PACKAGE_NAME "d " PACKAGE_VERSION, sizeof(info.daemon));
	memcpy(rep->payload, &info, sizeof(info));
	rep->len = sizeof(info);
	return 0;
}

static void fill_guest(HrpcdGuest *g, guint8 *out)
{
	struct hrpc_admin_guest r = { 0 };
	struct hrpcd_status st;

	r.state = hrpcd_guest_read_status(g, &st);
	r.guest_id = g->id;
	r.transport = g->transport;
	r.worker_pid = (hrpc_u32)g->worker_pid;
	r.peer_pid = (hrpc_u32)g->peer_pid;
	r.restarts = g->restarts;
	r.age_ns = (hrpc_u64)(g_get_monotonic_time() - g->connected_us) * 1000;
	g_strlcpy(r.name, g->name, sizeof(r.name));
	memcpy(out, &r, sizeof(r));
}

static void fill_channel(HrpcdGuest *g, guint8 *out)
{
	struct hrpc_admin_channel r = { 0 };
	struct hrpcd_status st;

	r.state = hrpcd_guest_read_status(g, &st);
	r.guest_id = g->id;
	r.transport = g->transport;
	r.generation = st.generation;
	g_strlcpy(r.name, g->name, sizeof(r.name));
	g_strlcpy(r.peer, st.peer, sizeof(r.peer));
	if (st.state == HRPC_ADMIN_STATE_FENCED)
		g_strlcpy(r.fence_reason, st.fence_reason, sizeof(r.fence_reason));
	r.stats = st.stats;
	/* The supervisor's id, not what the worker wrote. */
	r.stats.guest_id = g->id;
	memcpy(out, &r, sizeof(r));
}

static int admin_page(HrpcdAdmin *adm, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	HrpcdGuestTable *t = hrpcd_supervisor_guests(adm->sup);
	gboolean guests = req->hdr->proc == HRPC_ADMIN_GUESTS;
	guint32 rec_size = guests ? sizeof(struct hrpc_admin_guest)
				  : sizeof(struct hrpc_admin_channel);
	guint32 room = (HRPC_MSG_MAX_PAYLOAD - sizeof(struct hrpc_admin_page)) / rec_size;
	struct hrpc_admin_page page = { .record_size = rec_size };
	guint8 *out = (guint8 *)rep->payload + sizeof(page);
	struct hrpc_admin_query q;
	HrpcdGuest *g;

	if (req->len != sizeof(q))
		return -EINVAL;
	memcpy(&q, req->payload, sizeof(q));
	if (q.reserved)
		return -EINVAL;
	if (q.max && q.max < room)
		room = q.max;
	page.total = hrpcd_guest_table_count(t);

	for (g = hrpcd_guest_table_next(t, q.first_id); g;
	     g = g->id < G_MAXUINT32 ? hrpcd_guest_table_next(t, g->id + 1) : NULL) {
		if (q.guest_id && g->id != q.guest_id) {
			if (g->id > q.guest_id)
				break;
			continue;
		}
		if (page.count == room) {
			page.next_id = g->id;
			break;
		}
		if (guests)
			fill_guest(g, out + (gsize)page.count * rec_size);
		else
			fill_channel(g, out + (gsize)page.count * rec_size);
		page.count++;
	}
	memcpy(rep->payload, &page, sizeof(page));
	rep->len = sizeof(page) + page.count * rec_size;
	return 0;
}

static HrpcdGuest *find_guest(HrpcdAdmin *adm, guint32 id, const char *name)
{
	HrpcdGuestTable *t = hrpcd_supervisor_guests(adm->sup);
	struct hrpcd_status st;

	if (id)
		return hrpcd_guest_table_lookup(t, id);
	/* A process guest takes its HELLO label as its name when its status
	 * is read: settle every name before looking one up. */
	for (HrpcdGuest *g = hrpcd_guest_table_next(t, 0); g;
	     g = g->id < G_MAXUINT32 ? hrpcd_guest_table_next(t, g->id + 1) : NULL)
		hrpcd_guest_read_status(g, &st);
	return hrpcd_guest_table_find_name(t, name);
}

/*
 * The socket listing is the worker's (worker-ctl.h): the supervisor asks,
 * and the answer goes out as an event when the worker gives it (already
 * cut and made printable), or -ETIMEDOUT / -ENODATA when it does not.
 */
static void sockets_answered(int status, const char *text, gsize len, gpointer data)
{
	g_autofree Ask *ask = data;
	g_autofree guint8 *buf = NULL;
	struct hrpc_admin_sockets_event ev = {
		.ticket = ask->ticket, .status = status, .guest_id = ask->guest_id,
	};
	int rc;

	if (!ask->ac)
		return;   /* hostrpcctl left */
	ask->ac->asks = g_slist_remove(ask->ac->asks, ask);
	if (status < 0 || len > HRPC_ADMIN_SOCKETS_TEXT_MAX)
		len = 0;
	ev.len = (hrpc_u32)len;
	buf = g_malloc(sizeof(ev) + len);
	memcpy(buf, &ev, sizeof(ev));
	if (len)
		memcpy(buf + sizeof(ev), text, len);
	rc = hrpc_conn_send_event(ask->ac->conn, HRPC_SVC_ADMIN, HRPC_ADMIN_EV_SOCKETS, buf,
				  (uint32_t)(sizeof(ev) + len));
	if (rc < 0)
		g_debug("admin connection: cannot send the socket listing: %s", g_strerror(-rc));
}

/*
 * Ask guest (id, or name when id is 0) `g`'s worker for a listing (flags:
 * HRPCD_CTL_F_*; `act`: a memory action first, NULL: none), and answer
 * the call with the ticket its event will name.
 */
static int ask_worker(HrpcdAdmin *adm, AdminConn *ac, guint32 guest_id, const char *name,
		      guint flags, const struct hrpcd_ctl_mem_act *act, struct hrpc_reply *rep)
{
	HrpcdWorkerCtl *ctl = hrpcd_supervisor_worker_ctl(adm->sup);
	struct hrpc_admin_sockets_ticket t = { 0 };
	HrpcdGuest *g = find_guest(adm, guest_id, name);
	Ask *ask;
	int rc;

	if (!g)
		return -ENOENT;
	ask = g_new0(Ask, 1);
	ask->ac = ac;
	ask->ticket = ++ac->next_ticket;
	ask->guest_id = g->id;
	rc = (flags & HRPCD_CTL_F_MEMORY) ?
		hrpcd_worker_ctl_memory(ctl, g->id, flags, act, sockets_answered, ask) :
		hrpcd_worker_ctl_list_sockets(ctl, g->id, flags, sockets_answered, ask);
	if (rc < 0) {
		g_free(ask);
		return rc;
	}
	ac->asks = g_slist_prepend(ac->asks, ask);
	t.ticket = ask->ticket;
	t.guest_id = g->id;
	t.timeout_ms = adm->ctl_timeout_ms;
	g_strlcpy(t.name, g->name, sizeof(t.name));
	memcpy(rep->payload, &t, sizeof(t));
	rep->len = sizeof(t);
	return 0;
}

static int admin_sockets_ask(HrpcdAdmin *adm, AdminConn *ac, const struct hrpc_req *req,
			     struct hrpc_reply *rep)
{
	struct hrpc_admin_sockets_query q;

	if (req->len != sizeof(q))
		return -EINVAL;
	memcpy(&q, req->payload, sizeof(q));
	if ((q.flags & ~(HRPC_ADMIN_SOCKETS_F_JSON | HRPC_ADMIN_SOCKETS_F_FILES |
			 HRPC_ADMIN_SOCKETS_F_LOCATIONS)) ||
	    (q.flags & HRPC_ADMIN_SOCKETS_F_FILES && q.flags & HRPC_ADMIN_SOCKETS_F_LOCATIONS) ||
	    (!q.guest_id && !memchr(q.name, 0, sizeof(q.name))))
		return -EINVAL;
	return ask_worker(adm, ac, q.guest_id, q.name,
			  ((q.flags & HRPC_ADMIN_SOCKETS_F_JSON) ? HRPCD_CTL_F_JSON : 0) |
			  ((q.flags & HRPC_ADMIN_SOCKETS_F_FILES) ? HRPCD_CTL_F_FILES : 0) |
			  ((q.flags & HRPC_ADMIN_SOCKETS_F_LOCATIONS) ? HRPCD_CTL_F_LOCATIONS : 0),
			  NULL, rep);
}

/* hostrpcctl memory: the same ticket and event, through the worker's
 * memory service (worker-ctl.h, HRPCD_CTL_F_MEMORY). */
static int admin_memory_ask(HrpcdAdmin *adm, AdminConn *ac, const struct hrpc_req *req,
			    struct hrpc_reply *rep)
{
	struct hrpc_admin_memory_query q;
	struct hrpcd_ctl_mem_act act = { 0 };

	if (req->len != sizeof(q))
		return -EINVAL;
	memcpy(&q, req->payload, sizeof(q));
	if ((q.flags & ~HRPC_ADMIN_SOCKETS_F_JSON) || q.reserved ||
	    q.op > HRPC_ADMIN_MEMORY_RECLAIM || (q.op && (!q.mib || q.mib % 2)) ||
	    q.deadline_ms > 600000 || (!q.guest_id && !memchr(q.name, 0, sizeof(q.name))))
		return -EINVAL;
	act.op = q.op == HRPC_ADMIN_MEMORY_GRANT ? HRPCD_CTL_MEM_GRANT :
		 q.op == HRPC_ADMIN_MEMORY_RECLAIM ? HRPCD_CTL_MEM_RECLAIM : 0;
	act.chunks = q.mib / 2;
	act.deadline_ms = q.deadline_ms;
	return ask_worker(adm, ac, q.guest_id, q.name,
			  HRPCD_CTL_F_MEMORY |
			  ((q.flags & HRPC_ADMIN_SOCKETS_F_JSON) ? HRPCD_CTL_F_JSON : 0),
			  act.op ? &act : NULL, rep);
}

/* hostrpcctl audit: the supervisor writes the log, so it answers at once. */
static int admin_audit(HrpcdAdmin *adm, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	struct hrpc_admin_audit_query q;
	struct hrpc_admin_audit_reply r = { 0 };
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GError) error = NULL;
	HrpcdAuditSinks *sinks = hrpcd_supervisor_audit_sinks(adm->sup);
	HrpcdGuest *g;
	gint n;

	if (req->len != sizeof(q))
		return -EINVAL;
	memcpy(&q, req->payload, sizeof(q));
	if (q.reserved[0] || q.reserved[1] || q.lines > HRPC_ADMIN_AUDIT_LINES_MAX ||
	    (!q.guest_id && (!memchr(q.name, 0, sizeof(q.name)) || !q.name[0])))
		return -EINVAL;
	if (!sinks)
		return -ENOSYS;
	g = find_guest(adm, q.guest_id, q.name);
	if (g) {
		r.guest_id = g->id;
		g_strlcpy(r.name, g->name, sizeof(r.name));
	} else if (!q.guest_id) {
		g_strlcpy(r.name, q.name, sizeof(r.name));
	} else {
		return -ENOENT;
	}
	n = hrpcd_audit_sinks_tail(sinks, r.guest_id, r.name,
				   q.lines ? q.lines : HRPC_ADMIN_AUDIT_LINES_DEFAULT,
				   HRPC_MSG_MAX_PAYLOAD - sizeof(r), text, &error);
	if (n < 0) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) && g)
			n = 0;  /* a guest that has logged nothing yet */
		else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
			return -ENOENT;
		else {
			g_warning("hostrpcctl audit: %s", error->message);
			return -EIO;
		}
	}
	r.lines = (guint32)n;
	r.len = (guint32)text->len;
	memcpy(rep->payload, &r, sizeof(r));
	memcpy((guint8 *)rep->payload + sizeof(r), text->str, text->len);
	rep->len = (guint32)(sizeof(r) + text->len);
	return 0;
}

static AdminConn *conn_of(HrpcdAdmin *adm, hrpc_conn *conn)
{
	for (GList *l = adm->conns; l; l = l->next)
		if (((AdminConn *)l->data)->conn == conn)
			return l->data;
	return NULL;
}

static int admin_migrations(HrpcdAdmin *adm, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	struct hrpc_admin_page page = { .record_size = sizeof(struct hrpc_admin_migration) };
	guint room = (HRPC_MSG_MAX_PAYLOAD - sizeof(page)) / sizeof(struct hrpc_admin_migration);
	g_autofree struct hrpc_admin_migration *recs = g_new0(struct hrpc_admin_migration, room);

	if (req->len)
		return -EINVAL;
	page.count = hrpcd_supervisor_migrations(adm->sup, recs, room);
	page.total = page.count;
	memcpy(rep->payload, &page, sizeof(page));
	memcpy((guint8 *)rep->payload + sizeof(page), recs, page.count * sizeof(*recs));
	rep->len = (guint32)(sizeof(page) + page.count * sizeof(*recs));
	return 0;
}

static int admin_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	HrpcdAdmin *adm = opaque;
	AdminConn *ac;

	switch (req->hdr->proc) {
	case HRPC_ADMIN_INFO:
		return admin_info(adm, req, rep);
	case HRPC_ADMIN_GUESTS:
	case HRPC_ADMIN_CHANNELS:
		return admin_page(adm, req, rep);
	case HRPC_ADMIN_SOCKETS_ASK:
		ac = conn_of(adm, req->conn);
		return ac ? admin_sockets_ask(adm, ac, req, rep) : -EIO;
	case HRPC_ADMIN_MEMORY_ASK:
		ac = conn_of(adm, req->conn);
		return ac ? admin_memory_ask(adm, ac, req, rep) : -EIO;
	case HRPC_ADMIN_MIGRATIONS:
		return admin_migrations(adm, req, rep);
	case HRPC_ADMIN_AUDIT:
		return admin_audit(adm, req, rep);
	default:
		return -ENOSYS;
	}
}

/* ---- connections ------------------------------------------------------------ */

static void admin_conn_free(AdminConn *ac)
{
	/* Answers still to come find no connection. */
	for (GSList *l = ac->asks; l; l = l->next)
		((Ask *)l->data)->ac = NULL;
	g_slist_free(ac->asks);
	ac->adm->conns = g_list_remove(ac->adm->conns, ac);
	ac->adm->nconns--;
	hrpc_conn_free(ac->conn);
	g_free(ac);
}

static void admin_conn_done(hrpc_conn *conn, int err, gpointer user_data)
{
	AdminConn *ac = user_data;

	if (err == -EPROTO)
		g_warning("admin connection fenced: %s", hrpc_conn_fence_reason(conn));
	else if (err != -EPIPE)
		g_debug("admin connection failed: %s", g_strerror(-err));
	/* The source removes itself after this callback and no longer looks
	 * at the conn. */
	admin_conn_free(ac);
}

static void admin_accept_one(HrpcdAdmin *adm, int fd)
{
	hrpc_chan *ch;
	AdminConn *ac;
	int rc;

	if (adm->nconns >= HRPCD_ADMIN_MAX_CONNS) {
		g_warning("admin socket: refusing connection, %u already open", adm->nconns);
		close(fd);
		return;
	}
	rc = hrpc_vport_chan_new(HRPC_ROLE_SERVER, fd, &ch);
	if (rc < 0) {
		g_warning("admin socket: %s", g_strerror(-rc));
		close(fd);
		return;
	}
	ac = g_new0(AdminConn, 1);
	ac->adm = adm;
	rc = hrpc_conn_new(adm->srv, ch, 0, &ac->conn);   /* frees ch on failure */
	if (rc < 0) {
		g_warning("admin socket: %s", g_strerror(-rc));
		g_free(ac);
		return;
	}
	adm->conns = g_list_prepend(adm->conns, ac);
	adm->nconns++;
	ac->source = hrpc_glib_conn_attach(ac->conn, NULL, admin_conn_done, ac);
}

static gboolean admin_accept_event(gint fd, GIOCondition cond, gpointer user_data)
{
	HrpcdAdmin *adm = user_data;
	pid_t pid;
	int c;

	while ((c = hrpcd_listen_socket_accept(fd, &pid)) >= 0)
		admin_accept_one(adm, c);
	if (errno != EAGAIN)
		g_warning("admin socket: accept: %s", g_strerror(errno));
	return G_SOURCE_CONTINUE;
}

/* ---- life cycle ------------------------------------------------------------- */

HrpcdAdmin *hrpcd_admin_new(HrpcdSupervisor *sup, const char *path, guint ctl_timeout_ms,
			    GError **error)
{
	g_autoptr(HrpcdAdmin) adm = g_new0(HrpcdAdmin, 1);
	int rc;

	adm->sup = sup;
	adm->ctl_timeout_ms = ctl_timeout_ms ? ctl_timeout_ms : HRPCD_CTL_DEFAULT_TIMEOUT_MS;
	adm->listen_fd = -1;
	adm->started_us = g_get_monotonic_time();
	adm->path = g_strdup(path);
	adm->srv = hrpc_server_new("hostrpcd-admin");
	if (!adm->srv) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "out of memory");
		return NULL;
	}
	rc = hrpc_server_register(adm->srv, HRPC_SVC_ADMIN, "admin", admin_handle, adm);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot register the admin service: %s", g_strerror(-rc));
		return NULL;
	}
	adm->listen_fd = hrpcd_listen_socket_open(path, 0600, error);
	if (adm->listen_fd < 0)
		return NULL;
	adm->accept_src = g_unix_fd_source_new(adm->listen_fd, G_IO_IN);
	g_source_set_callback(adm->accept_src, G_SOURCE_FUNC(admin_accept_event), adm, NULL);
	g_source_attach(adm->accept_src, NULL);
	return g_steal_pointer(&adm);
}

void hrpcd_admin_free(HrpcdAdmin *adm)
{
	if (!adm)
		return;
	while (adm->conns) {
		AdminConn *ac = adm->conns->data;

		g_source_remove(ac->source);
		admin_conn_free(ac);
	}
	if (adm->accept_src) {
		g_source_destroy(adm->accept_src);
		g_source_unref(adm->accept_src);
	}
	hrpcd_listen_socket_close(adm->listen_fd, adm->listen_fd >= 0 ? adm->path : NULL);
	hrpc_server_free(adm->srv);
	g_free(adm->path);
	g_free(adm);
}
