/* SPDX-License-Identifier: MIT */
/*
 * worker-migrate.c - a worker's part in its guest's live migration
 * (include/hostrpc/migrate.h, migrate/README.md).
 *
 * Source: hostrpc-migrate's port arrives through the supervisor
 * (HRPCD_CTL_MIGRATE_PORT).  QUIESCE stops serving the channel once the
 * calls the paused guest queued are answered, pauses the socket service and
 * hands over the worker's state (the socket table, the network identity)
 * with the guest's host sockets, which the tool freezes (TCP_REPAIR needs
 * privileges we dropped).  DIFF answers with the pages of shared memory the
 * destination lacks.  RESUME is a rollback; DONE ends us (the guest runs
 * elsewhere).  A port that hangs up before the switch is a rollback, after
 * it (DIFF seen) the end.
 *
 * Destination: a fresh worker of a QEMU started with -incoming gets the
 * migration link the supervisor accepted.  Before it confines itself (it
 * needs CAP_NET_ADMIN for TCP_REPAIR and the interface), it authenticates
 * the link, makes the guest's sockets again from the table (before the
 * switch, while the guest still runs at the source), and once QEMU has
 * brought the guest's memory, writes the pages the source host changed
 * behind QEMU's back, adopts the channel as it is in that memory, gives the
 * guest's interface its identity and serves.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/hostrpc-glib.h"
#include "hostrpc/migrate.h"
#include "hostrpc/miglink.h"
#include "hostrpc/sockstate.h"
#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/worker-ctl.h"
#include "hostrpc/daemon/worker-priv.h"
#include "hostrpc/migfwd.h"
#include "migrate/forward.h"
#include "migrate/link.h"
#include "migrate/netident.h"
#include "outsource/fs/outsource-fs.h"
#include "outsource/sock/outsource-sock-glib.h"
#include "outsource/sock/tcprepair.h"

/* The most a link frame may carry: a socket table with its TCP queues. */
#define LINK_MAX        ((size_t)1 << 30)
/* Pre-copy runs between PREPARE and the switch: minutes for a large guest. */
#define LINK_TIMEOUT_MS (15 * 60 * 1000)
/* Socket descriptors per message on the port (SCM_MAX_FD is 253). */
#define PORT_FDS_MAX    HRPC_UNIX_MAX_FDS

struct _WorkerMigPort {
	int fd;
	GSource *src;
	gboolean quiesced;
	gboolean switched;     /* DIFF seen: the guest's memory is at the destination */
	gboolean done;         /* DONE: we end */
	/* FWD_LINK: connections that stay here when the guest leaves, and
	 * the link to the destination that will forward to them. */
	mig_link *fwd_link;
	guint64 *fwd_handles;
	guint32 nfwd;
	guint64 fs_keep;       /* FS_KEEP: filesystem servers that stay (tags) */
	guint64 fs_fetch_id;   /* FS_FETCH: our FS_EXPORT call to the remnant, under way */
	gboolean fs_fetched;   /* and answered: a rollback gives the locks back */
};

/* ---- helpers ------------------------------------------------------------------- */

/* A sealed memfd holding a then b. */
static int memfd_of(const void *a, size_t alen, const void *b, size_t blen)
{
	int fd = memfd_create("hostrpc-migrate", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if ((alen && pwrite(fd, a, alen, 0) != (ssize_t)alen) ||
	    (blen && pwrite(fd, b, blen, (off_t)alen) != (ssize_t)blen) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int e = errno ? errno : EIO;

		close(fd);
		return -e;
	}
	return fd;
}

static void status_fill(struct hrpc_mig_status *st, int status, const char *fmt, va_list ap)
{
	memset(st, 0, sizeof(*st));
	st->status = status;
	g_vsnprintf(st->message, sizeof(st->message), fmt, ap);
	for (char *p = st->message; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
}

static int port_send(int fd, guint32 type, const void *payload, gsize len, const int *fds,
		     int nfds, guint64 announced_len)
{
	struct hrpc_mig_msg m = { .type = type, .nfds = (guint32)nfds,
				  .len = payload ? len : announced_len };
	g_autofree guint8 *buf = g_malloc(sizeof(m) + len);
	int rc;

	memcpy(buf, &m, sizeof(m));
	if (len)
		memcpy(buf + sizeof(m), payload, len);
	rc = hrpc_unix_send(fd, buf, sizeof(m) + len, fds, nfds);
	return rc < 0 ? rc : 0;
}

G_GNUC_PRINTF(3, 4)
static void port_status(WorkerMigPort *p, int status, const char *fmt, ...)
{
	struct hrpc_mig_status st;
	va_list ap;

	va_start(ap, fmt);
	status_fill(&st, status, fmt, ap);
	va_end(ap);
	if (port_send(p->fd, HRPC_MIG_STATUS, &st, sizeof(st), NULL, 0, 0) < 0)
		g_debug("migration port: cannot answer");
}

/* The supervisor's record of the migration (hostrpcctl migrations). */
G_GNUC_PRINTF(4, 5)
static void tell_supervisor(Worker *w, guint32 event, int status, const char *fmt, ...)
{
	struct hrpcd_ctl_msg m = { .type = HRPCD_CTL_MIGRATION, .seq = event, .status = status };
	char buf[sizeof(m) + HRPCD_CTL_MIG_TEXT_MAX + 1];
	va_list ap;
	int n;

	if (w->spec->ctl_fd < 0)
		return;
	va_start(ap, fmt);
	n = g_vsnprintf(buf + sizeof(m), HRPCD_CTL_MIG_TEXT_MAX + 1, fmt, ap);
	va_end(ap);
	n = CLAMP(n, 0, (int)HRPCD_CTL_MIG_TEXT_MAX);
	m.len = (guint32)n;
	memcpy(buf, &m, sizeof(m));
	if (send(w->spec->ctl_fd, buf, sizeof(m) + (gsize)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		g_debug("cannot tell the supervisor: %s", g_strerror(errno));
}

/* ---- the location table (issue 14) ---------------------------------------------- */

static void location_add(Worker *w, guint64 handle, const char *what)
{
	WorkerLocation loc = { .handle = handle };

	if (!w->locations)
		w->locations = g_array_new(FALSE, TRUE, sizeof(WorkerLocation));
	g_strlcpy(loc.what, what, sizeof(loc.what));
	g_array_append_val(w->locations, loc);
}

static const char *location_what(Worker *w, guint64 handle)
{
	for (guint i = 0; w->locations && i < w->locations->len; i++) {
		WorkerLocation *l = &g_array_index(w->locations, WorkerLocation, i);

		if (l->handle == handle)
			return l->what;
	}
	return "?";
}

static void fwd_peer_name(WorkerFwd *wf, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[64] = "?";

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof(a));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof(a));
	}
	g_strlcpy(wf->peer, a, sizeof(wf->peer));
}

static void fwd_ended(void *data, int err);
static void remnant_move(void *data, const char *host, uint16_t port);
static void remnant_fs_call(void *data, const struct mig_fwd_callmsg *m,
			    struct mig_fwd_answer *a);

static gboolean location_live(Worker *w, guint64 handle)
{
	for (guint k = 0; w->fwds && k < w->fwds->len; k++)
		if (mig_fwd_has(((WorkerFwd *)g_ptr_array_index(w->fwds, k))->fwd, handle))
			return TRUE;
	return FALSE;
}

/* Entries of objects that ended go now and then: a listener's copy may
 * bring connections for as long as the guest lives. */
static void location_prune(Worker *w)
{
	if (!w->locations || w->locations->len < 64 || (w->locations->len & 63))
		return;
	for (guint i = w->locations->len; i-- > 0;)
		if (!location_live(w, g_array_index(w->locations, WorkerLocation, i).handle))
			g_array_remove_index_fast(w->locations, i);
}

static outsource_sock *worker_sock(Worker *w)
{
	OutsourceSockService *ss = hrpcd_services_sock(w->svcs);

	return ss ? outsource_sock_service_get(ss) : NULL;
}

/* A remnant accepted a connection on its copy of one of the guest's
 * listeners: it arrives at the guest's (migfwd.h ACCEPT). */
static int fwd_accept_cb(void *data, uint64_t listener, uint64_t object,
			 const struct hrpc_sock_addr *local, const struct hrpc_sock_addr *peer)
{
	WorkerFwd *wf = data;
	outsource_sock *sock = worker_sock(wf->w);

	if (wf->w->remnant || !sock)
		return -ECONNREFUSED;
	return outsource_sock_fwd_arrive(sock, listener, object, local, peer);
}

/* The socket service: the guest accepted such a connection (it takes the
 * guest's handle as its name), or closed such a listener. */
static void sock_fwd_hook(void *data, int event, uint64_t a, uint64_t b)
{
	Worker *w = data;

	for (guint k = 0; w->fwds && k < w->fwds->len; k++) {
		struct mig_fwd *fwd = ((WorkerFwd *)g_ptr_array_index(w->fwds, k))->fwd;

		if (event == OUTSOURCE_SOCK_FWD_ACCEPTED && mig_fwd_has(fwd, a)) {
			char what[160];

			location_prune(w);
			if (mig_fwd_rename(fwd, a, b) == 0 && worker_sock(w) &&
			    outsource_sock_describe(worker_sock(w), b, what, sizeof(what)) == 0)
				location_add(w, b, what);
			return;
		}
		if (event == OUTSOURCE_SOCK_FWD_LISTENER_CLOSED)
			mig_fwd_forget(fwd, a, ECONNABORTED);
	}
}

static void fs_link_gone(Worker *w, WorkerFwd *wf)
{
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);

	if (w->fs_wf != wf)
		return;
	w->fs_wf = NULL;
	if (fs && !w->remnant)
		outsource_fs_service_fwd_lost(fs);   /* their calls are EIO from now */
}

static void wf_free(gpointer p)
{
	WorkerFwd *wf = p;

	if (wf->w->moving == wf)
		wf->w->moving = NULL;
	fs_link_gone(wf->w, wf);
	mig_fwd_free(wf->fwd);   /* BYE, if the link still works */
	g_free(wf);
}

/* A forward link becomes one of ours (w->fwds owns it). */
static WorkerFwd *wf_new(Worker *w, mig_link *link)
{
	WorkerFwd *wf = g_new0(WorkerFwd, 1);

	wf->w = w;
	fwd_peer_name(wf, mig_link_fd(link));
	wf->fwd = mig_fwd_new(link, w->spec->name, w->ctx, fwd_ended, wf);
	mig_fwd_set_move_fn(wf->fwd, remnant_move, wf);
	mig_fwd_set_accept_fn(wf->fwd, fwd_accept_cb, wf);
	if (!w->remnant && worker_sock(w))
		outsource_sock_set_fwd_hook(worker_sock(w), sock_fwd_hook, w);
	if (!w->fwds)
		w->fwds = g_ptr_array_new_with_free_func(wf_free);
	g_ptr_array_add(w->fwds, wf);
	return wf;
}

static guint fwd_count(Worker *w)
{
	return w->fwds ? w->fwds->len : 0;
}

static WorkerFwd *fwd_at(Worker *w, guint i)
{
	return g_ptr_array_index(w->fwds, i);
}

static void json_str(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (guchar)*s < 0x20)
			g_string_append_printf(out, "\\u%04x", (guchar)*s);
		else
			g_string_append_c(out, *s);
	g_string_append_c(out, '"');
}

static void link_json(GString *out, WorkerFwd *wf)
{
	const mig_link *l = mig_fwd_link(wf->fwd);
	int err = mig_fwd_error(wf->fwd);

	g_string_append_printf(out, "{\"peer\":\"%s\",\"state\":", wf->peer);
	json_str(out, err ? g_strerror(-err) : "up");
	g_string_append_printf(out, ",\"sent\":%" G_GUINT64_FORMAT ",\"received\":%"
			       G_GUINT64_FORMAT "}", mig_link_bytes_sent(l),
			       mig_link_bytes_received(l));
}

static void wire_fmt(const struct hrpc_sock_addr *a, char *buf, gsize len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family == HRPC_AF_INET6 ? AF_INET6 : AF_INET, a->addr, ip, sizeof(ip));
	g_snprintf(buf, len, a->family == HRPC_AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
}

/* What the location table says of an object, or (one a remnant accepted on
 * its copy of a listener) its addresses. */
static const char *obj_what(Worker *w, const struct mig_fwd_info *info, char *buf, gsize len)
{
	const char *what = location_what(w, info->object);
	char l[64], p[64];

	if (strcmp(what, "?") || !info->accepted)
		return what;
	wire_fmt(&info->local, l, sizeof(l));
	wire_fmt(&info->peer, p, sizeof(p));
	g_snprintf(buf, len, "tcp %s -> %s (accepted here)", l, p);
	return buf;
}

char *hrpcd_worker_locations(Worker *w, gboolean json, gsize *len)
{
	GString *out = g_string_new(NULL);
	char whatbuf[160];
	struct mig_fwd_info info;
	const char *role = w->remnant ? "remnant" : "forwarding";
	guint n = fwd_count(w);
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);
	OutsourceFsFwdInfo fi;

	if (json) {
		g_string_append_printf(out, "{\"guest\":\"%s\",\"role\":\"%s\"", w->spec->name,
				       n ? role : "none");
		/* "link": the first (what older readers read); "links": each */
		if (n) {
			g_string_append(out, ",\"link\":");
			link_json(out, fwd_at(w, 0));
			g_string_append(out, ",\"links\":[");
			for (guint k = 0; k < n; k++) {
				if (k)
					g_string_append_c(out, ',');
				link_json(out, fwd_at(w, k));
			}
			g_string_append_c(out, ']');
		}
		g_string_append(out, ",\"objects\":[");
		for (guint k = 0, first = 1; k < n; k++) {
			WorkerFwd *wf = fwd_at(w, k);
			uint32_t pos = 0;

			while (mig_fwd_next(wf->fwd, &pos, &info)) {
				g_string_append_printf(out, "%s{\"handle\":\"%#" G_GINT64_MODIFIER
						       "x\",\"what\":\"%s\",\"lives\":\"%s\","
						       "\"bytes_in\":%" G_GUINT64_FORMAT
						       ",\"bytes_out\":%" G_GUINT64_FORMAT "}",
						       first ? "" : ",", info.object,
						       obj_what(w, &info, whatbuf, sizeof(whatbuf)),
						       w->remnant ? "here" : wf->peer, info.bytes_in,
						       info.bytes_out);
				first = 0;
			}
		}
		g_string_append(out, "],\"files\":[");
		for (guint pos = 0, first = 1; fs && w->fs_wf &&
		     outsource_fs_service_fwd_next(fs, &pos, &fi); first = 0) {
			g_string_append_printf(out, "%s{\"export\":", first ? "" : ",");
			json_str(out, fi.name);
			g_string_append_printf(out, ",\"lives\":\"%s\",\"state\":\"%s\",\"calls\":%"
					       G_GUINT64_FORMAT ",\"nodes\":%u}",
					       w->remnant ? "here" : w->fs_wf->peer,
					       fi.lost ? "lost" : "up", fi.calls, fi.nodes);
		}
		g_string_append(out, "]}\n");
	} else if (!n) {
		g_string_append_printf(out, "no object of %s lives on another host\n",
				       w->spec->name);
	} else {
		g_string_append_printf(out, "%s: %s\n", w->spec->name,
				       w->remnant ? "remnant (the guest runs elsewhere; these "
						    "objects stayed here)" :
						    "objects that live on another host");
		for (guint k = 0; k < n; k++) {
			WorkerFwd *wf = fwd_at(w, k);
			int err = mig_fwd_error(wf->fwd);

			g_string_append_printf(out, "forward link to %s: %s\n", wf->peer,
					       err ? g_strerror(-err) : "up");
		}
		g_string_append_printf(out, "%-20s %-52s %-16s %12s %12s\n", "OBJECT", "CONNECTION",
				       "LIVES AT", "TO GUEST", "FROM GUEST");
		for (guint pos = 0; fs && w->fs_wf && outsource_fs_service_fwd_next(fs, &pos, &fi);) {
			char what[128];

			g_snprintf(what, sizeof(what), "files of export %s%s", fi.name,
				   fi.lost ? " (link lost)" : "");
			g_string_append_printf(out, "%-20s %-52s %-16s %12" G_GUINT64_FORMAT " calls\n",
					       "-", what, w->remnant ? "here" : w->fs_wf->peer,
					       fi.calls);
		}
		for (guint k = 0; k < n; k++) {
			WorkerFwd *wf = fwd_at(w, k);
			uint32_t pos = 0;

			while (mig_fwd_next(wf->fwd, &pos, &info)) {
				/* bytes_in: from the link; at the remnant that is the guest's */
				guint64 to_guest = w->remnant ? info.bytes_out : info.bytes_in;
				guint64 from_guest = w->remnant ? info.bytes_in : info.bytes_out;

				g_string_append_printf(out, "%#-20" G_GINT64_MODIFIER "x %-52s %-16s %12"
						       G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT "\n",
						       info.object, obj_what(w, &info, whatbuf, sizeof(whatbuf)),
						       w->remnant ? "here" : wf->peer, to_guest,
						       from_guest);
			}
		}
	}
	*len = out->len;
	return g_string_free(out, FALSE);
}

void hrpcd_worker_locations_free(Worker *w)
{
	if (w->remnant_timer) {
		g_source_destroy(w->remnant_timer);
		g_clear_pointer(&w->remnant_timer, g_source_unref);
	}
	if (w->remnant_peer) {
		g_source_destroy(w->remnant_peer);
		g_clear_pointer(&w->remnant_peer, g_source_unref);
	}
	g_clear_pointer(&w->fwds, g_ptr_array_unref);
	if (w->locations) {
		g_array_unref(w->locations);
		w->locations = NULL;
	}
}

static void location_remove(Worker *w, guint64 handle)
{
	for (guint i = 0; w->locations && i < w->locations->len; i++)
		if (g_array_index(w->locations, WorkerLocation, i).handle == handle) {
			g_array_remove_index(w->locations, i);
			return;
		}
}

/* ---- the remnant hands connections back (worker-priv.h, REMNANT_TAKE) ---------- */

static void took_send(int fd, guint64 handle, int status, int sfd, GByteArray *pend)
{
	struct hrpcd_remnant_took t = { .handle = handle, .status = status };
	int fds[2], n = 0, mfd = -1;

	if (sfd >= 0) {
		fds[n++] = sfd;
		if (pend && pend->len) {
			mfd = memfd_of(pend->data, pend->len, NULL, 0);
			if (mfd < 0) {
				t.status = mfd;
				n = 0;
			} else {
				t.pend_len = pend->len;
				fds[n++] = mfd;
			}
		}
	}
	if (hrpc_unix_send(fd, &t, sizeof(t), n ? fds : NULL, n) < 0)
		g_debug("remnant: cannot answer the incoming worker");
	if (mfd >= 0)
		close(mfd);
}

static gboolean remnant_peer_event(gint fd, GIOCondition cond, gpointer data)
{
	Worker *w = data;
	struct {
		struct hrpcd_remnant_take h;
		guint64 handles[HRPC_MIG_FWD_MAX];
	} req;
	ssize_t n = recv(fd, &req, sizeof(req), MSG_DONTWAIT);
	guint32 taken = 0;

	(void)cond;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n < (ssize_t)sizeof(req.h) || req.h.type != HRPCD_REMNANT_TAKE || !req.h.n ||
	    req.h.n > HRPC_MIG_FWD_MAX || (gsize)n != sizeof(req.h) + req.h.n * sizeof(guint64)) {
		/* The incoming worker ended (or spoke nonsense): done with it. */
		g_clear_pointer(&w->remnant_peer, g_source_unref);
		close(fd);
		return G_SOURCE_REMOVE;
	}
	for (guint32 i = 0; i < req.h.n; i++) {
		g_autoptr(GByteArray) pend = NULL;
		int sfd = -1, rc = -ENOENT;

		for (guint k = 0; k < fwd_count(w) && rc == -ENOENT; k++)
			rc = mig_fwd_take(fwd_at(w, k)->fwd, req.handles[i], &sfd, &pend);
		took_send(fd, req.handles[i], rc, sfd, pend);
		if (sfd >= 0)
			close(sfd);   /* before the end: the taker makes it again */
		if (rc == 0) {
			location_remove(w, req.handles[i]);
			taken++;
		}
	}
	took_send(fd, 0, 0, -1, NULL);
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"remnant: the guest came back; %u of %u connections handed to its "
			"new worker", taken, req.h.n);
	return G_SOURCE_CONTINUE;
}

void hrpcd_worker_remnant_peer(Worker *w, int fd)
{
	if (!w->remnant || w->remnant_peer) {
		close(fd);
		return;
	}
	w->remnant_peer = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(w->remnant_peer, G_SOURCE_FUNC(remnant_peer_event), w, NULL);
	g_source_attach(w->remnant_peer, w->ctx);
}

/* A remnant with nothing left to relay ends. */
static gboolean remnant_idle(Worker *w)
{
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);

	/* The guest still holds nodes of an export whose server stayed. */
	if (w->fs_wf && fs && outsource_fs_service_kept_live(fs))
		return FALSE;
	for (guint k = 0; k < fwd_count(w); k++)
		if (mig_fwd_count(fwd_at(w, k)->fwd) && !mig_fwd_error(fwd_at(w, k)->fwd))
			return FALSE;
	return w->moving == NULL;
}

/* A link to another host ended: its objects were reset (forward.c). */
static void fwd_ended(void *data, int err)
{
	WorkerFwd *wf = data;
	Worker *w = wf->w;

	hrpcd_log_guest(err ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE, w->spec->guest_id,
			w->spec->name, "forward link to %s %s: %u forwarded connections %s",
			wf->peer, err ? "lost" : "ended", mig_fwd_lost(wf->fwd), "reset");
	if (w->moving == wf)
		w->moving = NULL;   /* the answer, when it comes, has nobody to go to */
	if (w->fs_wf == wf && !w->remnant)
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
				"forward link to %s %s: the files of exports that live there are "
				"gone (EIO)", wf->peer, err ? "lost" : "ended");
	else if (w->fs_wf == wf)
		hrpcd_log_guest(err ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE, w->spec->guest_id,
				w->spec->name, "forward link to %s %s: the guest's files kept here "
				"are closed", wf->peer, err ? "lost" : "ended");
	fs_link_gone(w, wf);
	if (w->remnant && remnant_idle(w))   /* nobody to forward for: the remnant ends */
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_MIGRATED);
}

/* A remnant whose connections all ended says BYE and ends. */
static gboolean remnant_check(gpointer data)
{
	Worker *w = data;

	if (!remnant_idle(w))
		return G_SOURCE_CONTINUE;
	g_clear_pointer(&w->remnant_timer, g_source_unref);
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"remnant: every forwarded connection ended");
	g_clear_pointer(&w->fwds, g_ptr_array_unref);
	hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_MIGRATED);
	return G_SOURCE_REMOVE;
}

/*
 * The remnant: the guest moved on again and its old host asks us (MOVE)
 * to relay to the next one instead.  Only our supervisor can open a
 * link there (we live in the guest's namespace and hold no key): we ask
 * it, and its answer comes as HRPCD_CTL_FWD_LINK.
 */
static void remnant_move(void *data, const char *host, uint16_t port)
{
	WorkerFwd *wf = data;
	Worker *w = wf->w;

	if (!w->remnant || w->moving) {
		mig_fwd_moved(wf->fwd, -EBUSY, 0);
		return;
	}
	w->moving = wf;
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"remnant: the guest moves on; its connections go to %s port %u", host,
			port);
	tell_supervisor(w, HRPCD_CTL_MIG_FWD_CONNECT, 0, "%s %u", host, port);
}

void hrpcd_worker_fwd_link_in(Worker *w, int status, const void *payload, gsize len, int fd)
{
	WorkerFwd *old = w->moving, *nwf;
	struct hrpc_mig_fwd_link f;
	struct mig_link_session ses;
	mig_link *link;
	guint32 n;

	w->moving = NULL;
	if (!old) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (status == 0 && (fd < 0 || len != sizeof(f)))
		status = -EPROTO;
	if (status < 0) {
		if (fd >= 0)
			close(fd);
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
				"remnant: no link to the guest's next host: %s", g_strerror(-status));
		mig_fwd_moved(old->fwd, status, 0);
		return;
	}
	memcpy(&f, payload, sizeof(f));
	memcpy(ses.k_send, f.k_send, sizeof(ses.k_send));
	memcpy(ses.k_recv, f.k_recv, sizeof(ses.k_recv));
	ses.seq_send = f.seq_send;
	ses.seq_recv = f.seq_recv;
	link = mig_link_adopt(fd, &ses);
	explicit_bzero(&ses, sizeof(ses));
	explicit_bzero(&f, sizeof(f));
	nwf = wf_new(w, link);
	n = mig_fwd_transfer(old->fwd, nwf->fwd);
	if (w->fs_wf == old) {
		/* The guest's files kept here: their calls come from there now. */
		w->fs_wf = nwf;
		mig_fwd_set_call_fns(nwf->fwd, remnant_fs_call, NULL, NULL, nwf);
	}
	mig_fwd_moved(old->fwd, 0, n);
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"remnant: %u connections%s now forwarded to %s (no longer to %s)", n,
			w->fs_wf == nwf ? " and the guest's files" : "", nwf->peer, old->peer);
	g_ptr_array_remove(w->fwds, old);   /* BYE to the old host */
}

/* ---- files that stay (fsstate.h HRPC_FS_MIG_F_FORWARD; migfwd.h CALL) -------------- */

/* Ids of the worker's own calls to a remnant (the fs service's count up
 * from 1). */
#define FS_CONTROL_ID (G_GUINT64_CONSTANT(1) << 63)

/* The remnant: the guest moves on from its host (migfwd.h FS_EXPORT,
 * FS_RESUME).  The table goes back in the call's bulk buffer. */
static void remnant_fs_control(Worker *w, OutsourceFsService *fs, const struct mig_fwd_callmsg *m,
			       struct mig_fwd_answer *a)
{
	void *table = NULL;
	size_t len = 0;
	int rc;

	if (m->proc == HRPC_FWD_REMNANT_FS_RESUME) {
		rc = outsource_fs_service_mig_resume(fs);
		hrpcd_log_guest(rc < 0 ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
				w->spec->guest_id, w->spec->name,
				"remnant: the guest did not move on; its file locks are ours again%s%s",
				rc < 0 ? ", but one was taken meanwhile: " : "",
				rc < 0 ? g_strerror(-rc) : "");
		a->status = rc;
		return;
	}
	if (m->proc != HRPC_FWD_REMNANT_FS_EXPORT || m->len) {
		a->status = -EINVAL;
		return;
	}
	outsource_fs_service_mig_quiesce(fs);
	rc = outsource_fs_service_mig_export(fs, &table, &len);
	if (rc == 0 && len > m->bulk_cap)
		rc = -E2BIG;
	if (rc < 0) {
		free(table);
		(void)outsource_fs_service_mig_resume(fs);
		a->status = rc;
		return;
	}
	memcpy(m->bulk, table, len);
	free(table);
	a->status = 0;
	a->bulk = m->bulk;
	a->bulk_len = (guint32)len;
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"remnant: the guest moves on; the state of its files here goes with it "
			"(%zu bytes, their locks let go)", len);
}

/* The remnant: one of the guest's calls on a server kept here. */
static void remnant_fs_call(void *data, const struct mig_fwd_callmsg *m, struct mig_fwd_answer *a)
{
	WorkerFwd *wf = data;
	OutsourceFsService *fs = hrpcd_services_fs(wf->w->svcs);
	OutsourceFsCall c = { .id = m->id, .proc = m->proc, .oneway = m->oneway,
		.payload = m->payload, .len = m->len, .bulk = m->bulk, .bulk_len = m->bulk_len,
		.bulk_cap = m->bulk_cap };
	struct hrpc_reply rep;

	if (m->service == HRPC_FWD_SVC_REMNANT && fs && wf == wf->w->fs_wf) {
		remnant_fs_control(wf->w, fs, m, a);
		return;
	}
	if (m->service != HRPC_SVC_FS || !fs || wf != wf->w->fs_wf) {
		a->status = -ENOSYS;
		return;
	}
	a->status = outsource_fs_service_call(fs, &c, &rep);
	if (a->status > 0)
		a->status = -EIO;
	a->payload = rep.payload;
	a->len = rep.len;
	/* Reply bulk is at rep.bulk_pos of the call's bulk buffer. */
	if (a->status == 0 && rep.bulk_len && m->bulk && rep.bulk_pos <= m->bulk_cap &&
	    rep.bulk_len <= m->bulk_cap - rep.bulk_pos) {
		a->bulk = m->bulk + rep.bulk_pos;
		a->bulk_len = rep.bulk_len;
	}
}

static void remnant_fs_event(void *data, guint16 proc, const void *payload, guint32 len)
{
	Worker *w = data;

	if (w->fs_wf)
		(void)mig_fwd_event(w->fs_wf->fwd, HRPC_SVC_FS, proc, payload, len);
}

static void remnant_fs_keep(Worker *w, WorkerFwd *wf, guint64 tags)
{
	int rc = outsource_fs_service_mig_keep(hrpcd_services_fs(w->svcs), tags, remnant_fs_event,
					       w);

	w->fs_wf = wf;
	w->fs_kept = tags;
	mig_fwd_set_call_fns(wf->fwd, remnant_fs_call, NULL, NULL, wf);
	hrpcd_log_guest(rc < 0 ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE, w->spec->guest_id,
			w->spec->name, "%u of the guest's filesystem servers stay here, forwarded "
			"from %s%s%s", (guint)__builtin_popcountll(tags), wf->peer,
			rc < 0 ? "; a lock the guest held was taken meanwhile: " : "",
			rc < 0 ? g_strerror(-rc) : "");
}

/* Where the guest runs: a call on a forwarded export's handles. */
static int fs_forward(void *data, guint tag, const OutsourceFsCall *c)
{
	Worker *w = data;
	struct mig_fwd_callmsg m = { .id = c->id, .service = HRPC_SVC_FS, .proc = c->proc,
		.oneway = c->oneway, .payload = c->payload, .len = c->len, .bulk = c->bulk,
		.bulk_len = c->bulk_len, .bulk_cap = c->bulk_cap };

	(void)tag;
	if (!w->fs_wf)
		return -EPIPE;
	return mig_fwd_call(w->fs_wf->fwd, &m);
}

static void fs_fetched(Worker *w, int status, const void *bulk, uint32_t len);

static void fs_forward_reply(void *data, uint64_t id, int status, const void *payload,
			     uint32_t len, const void *bulk, uint32_t bulk_len)
{
	Worker *w = data;
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);

	if (id & FS_CONTROL_ID) {   /* ours, not the guest's */
		if (w->port && id == w->port->fs_fetch_id)
			fs_fetched(w, status, bulk, bulk_len);
		return;
	}
	if (fs)
		outsource_fs_service_fwd_reply(fs, id, status, payload, len, bulk, bulk_len);
}

static void fs_forward_event(void *data, uint16_t service, uint16_t proc, const void *payload,
			     uint32_t len)
{
	Worker *w = data;
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);

	/* From another host: checked before the guest sees it. */
	if (service != HRPC_SVC_FS || !fs || outsource_fs_service_fwd_event(fs, proc, payload,
									 len) < 0)
		g_debug("guest %u: a forwarded event that is not one (service %u proc %u)",
			w->spec->guest_id, service, proc);
}

/* GO with exports whose files stayed at the source: calls go over `wf`. */
static void fs_forward_start(Worker *w, WorkerFwd *wf)
{
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);

	w->fs_wf = wf;
	mig_fwd_set_call_fns(wf->fwd, NULL, fs_forward_reply, fs_forward_event, w);
	outsource_fs_service_set_forward(fs, fs_forward, w);
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"%u filesystem servers live at %s: forwarded",
			(guint)__builtin_popcountll(outsource_fs_service_forwarded(fs)), wf->peer);
}

/*
 * DONE with connections that stay here: this worker becomes their
 * remnant.  It stops being the guest's (the channel is the destination's
 * now), keeps those sockets, closes the rest, and relays them over the
 * forward link until the link ends or they all do.
 */
static void become_remnant(Worker *w)
{
	WorkerMigPort *p = w->port;
	OutsourceSockService *ss = hrpcd_services_sock(w->svcs);
	outsource_sock *sock = ss ? outsource_sock_service_get(ss) : NULL;
	g_autofree int *fds = g_new(int, p->nfwd);
	g_autofree bool *listening = g_new0(bool, p->nfwd);
	WorkerFwd *wf;
	guint32 kept = 0;

	/* Forwarding to remnants elsewhere ends here (BYE): what they hold
	 * went on with the guest (FWD_HOLD, FWD_MOVE). */
	g_clear_pointer(&w->fwds, g_ptr_array_unref);
	if (w->locations)
		g_array_set_size(w->locations, 0);
	for (guint32 i = 0; sock && i < p->nfwd; i++) {
		char what[160];

		if (outsource_sock_describe(sock, p->fwd_handles[i], what, sizeof(what)) == 0)
			location_add(w, p->fwd_handles[i], what);
	}
	if (sock)
		outsource_sock_mig_remnant(sock, p->fwd_handles, p->nfwd, fds, listening);
	else
		for (guint32 i = 0; i < p->nfwd; i++)
			fds[i] = -1;
	w->remnant = TRUE;
	wf = wf_new(w, g_steal_pointer(&p->fwd_link));
	for (guint32 i = 0; i < p->nfwd; i++)
		if (fds[i] >= 0 && (listening[i] ? mig_fwd_add_listener(wf->fwd, p->fwd_handles[i],
									 fds[i]) :
				    mig_fwd_add(wf->fwd, p->fwd_handles[i], fds[i])) == 0)
			kept++;
	if (p->fs_keep && hrpcd_services_fs(w->svcs))
		remnant_fs_keep(w, wf, p->fs_keep);
	/* On the worker's own context (g_timeout_add() would use the global
	 * default one, which nobody runs here). */
	w->remnant_timer = g_timeout_source_new_seconds(1);
	g_source_set_callback(w->remnant_timer, remnant_check, w, NULL);
	g_source_attach(w->remnant_timer, w->ctx);
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"migrated to another host; %u connections stay here, forwarded over the "
			"link from %s", kept, wf->peer);
	tell_supervisor(w, HRPCD_CTL_MIG_OUT_REMNANT, 0, "%u connections stay here, forwarded",
			kept);
}

static void fwd_link_take(Worker *w, const guint8 *payload, gsize len, int fd)
{
	WorkerMigPort *p = w->port;
	struct hrpc_mig_fwd_link f;
	struct mig_link_session ses;

	if (fd < 0 || len != sizeof(f)) {
		port_status(p, -EINVAL, "FWD_LINK wants the link's socket and its session");
		if (fd >= 0)
			close(fd);
		return;
	}
	memcpy(&f, payload, sizeof(f));
	if (f.reserved[0] || f.reserved[1] || p->fwd_link || p->switched) {
		port_status(p, -EINVAL, "FWD_LINK: a second one, after the switch, or bad");
		close(fd);
		explicit_bzero(&f, sizeof(f));
		return;
	}
	memcpy(ses.k_send, f.k_send, sizeof(ses.k_send));
	memcpy(ses.k_recv, f.k_recv, sizeof(ses.k_recv));
	ses.seq_send = f.seq_send;
	ses.seq_recv = f.seq_recv;
	p->fwd_link = mig_link_adopt(fd, &ses);
	explicit_bzero(&ses, sizeof(ses));
	explicit_bzero(&f, sizeof(f));
	port_status(p, 0, "forward link taken");
}

/* The remnants said HELD: what each stand-in has not passed on, and their
 * far ends, to hostrpc-migrate (migrate.h FWD_HOLD). */
static void fwd_held_send(Worker *w)
{
	WorkerMigPort *p = w->port;
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
	struct mig_fwd_info info;
	int memfd, rc;

	for (guint k = 0; k < fwd_count(w); k++) {
		struct mig_fwd *fwd = fwd_at(w, k)->fwd;
		struct hrpc_mig_fwd_held lk = { .flags = HRPC_MIG_FWD_HELD_F_LINK,
						.link = (guint16)k };
		guint32 pos = 0;

		if (fwd_at(w, k) == w->fs_wf)
			lk.flags |= HRPC_MIG_FWD_HELD_F_FILES;

		if (mig_fwd_held(fwd))   /* the link itself (listeners' copies ride it too) */
			g_byte_array_append(buf, (const guint8 *)&lk, sizeof(lk));
		while (mig_fwd_held(fwd) && mig_fwd_next(fwd, &pos, &info)) {
			struct mig_fwd_pending pd;
			struct hrpc_mig_fwd_held r = { .handle = info.object, .link = (guint16)k };

			if (mig_fwd_pending(fwd, info.object, &pd) < 0 ||
			    fds->len == HRPC_MIG_FWD_MAX)
				continue;
			r.pend_len = (guint32)pd.pend_len;
			r.flags = pd.shut ? HRPC_MIG_FWD_HELD_F_SHUT : 0;
			g_byte_array_append(buf, (const guint8 *)&r, sizeof(r));
			g_byte_array_append(buf, pd.pend, (guint)pd.pend_len);
			g_array_append_val(fds, pd.fd);
		}
	}
	memfd = memfd_of(buf->data, buf->len, NULL, 0);
	if (memfd < 0) {
		port_status(p, memfd, "cannot pass the held connections: %s", g_strerror(-memfd));
		return;
	}
	rc = port_send(p->fd, HRPC_MIG_FWD_HELD, NULL, 0, &memfd, 1, buf->len);
	close(memfd);
	for (guint i = 0; rc == 0 && i < fds->len; i += PORT_FDS_MAX)
		rc = port_send(p->fd, HRPC_MIG_FWD_HELD, NULL, 0, &g_array_index(fds, int, i),
			       (int)MIN(fds->len - i, (guint)PORT_FDS_MAX), 0);
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"%u forwarded connections held at their remnants for the move", fds->len);
}

static void fwd_held(void *data, int err)
{
	WorkerFwd *wf = data;
	Worker *w = wf->w;

	if (err < 0)
		/* The link ended: its connections were reset, none follows. */
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
				"forward link to %s ended during the hold: %s", wf->peer,
				g_strerror(-err));
	if (w->holding && --w->holding == 0 && w->port)
		fwd_held_send(w);
}

/* FWD_HOLD: the connections forwarded to us are to go on with the guest. */
static void fwd_hold(Worker *w)
{
	WorkerMigPort *p = w->port;

	if (!p->quiesced || p->switched || w->holding) {
		port_status(p, -EINVAL, "FWD_HOLD: not quiesced, after the switch, or twice");
		return;
	}
	/* One more than the links: the last answer sends, however they come. */
	w->holding = 1;
	for (guint k = 0; !w->remnant && k < fwd_count(w); k++)
		if (mig_fwd_hold(fwd_at(w, k)->fwd, fwd_held, fwd_at(w, k)) == 0)
			w->holding++;
	if (--w->holding == 0)
		fwd_held_send(w);   /* nothing to wait for (none, or the links ended) */
}

static void fwd_moved(void *data, int status, uint32_t nobj)
{
	WorkerFwd *wf = data;
	Worker *w = wf->w;

	if (!w->moves)
		return;
	w->moves = 0;
	hrpcd_log_guest(status ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE, w->spec->guest_id,
			w->spec->name, "the remnant at %s %s", wf->peer,
			status ? "could not follow the guest" : "follows the guest");
	if (!w->port)
		return;
	if (status < 0)
		port_status(w->port, status, "the remnant at %s could not move its connections: "
			    "%s", wf->peer, g_strerror(-status));
	else
		port_status(w->port, (int)nobj, "%u connections at %s now forwarded to the "
			    "destination", nobj, wf->peer);
}

/* FWD_MOVE: after the pages, a held remnant relays to the destination. */
static void fwd_move(Worker *w, const guint8 *payload, gsize len)
{
	WorkerMigPort *p = w->port;
	struct hrpc_mig_fwd_move mv;
	int rc;

	if (len != sizeof(mv)) {
		port_status(p, -EINVAL, "FWD_MOVE: bad request");
		return;
	}
	memcpy(&mv, payload, sizeof(mv));
	mv.host[sizeof(mv.host) - 1] = 0;
	if (!p->switched || w->moves || mv.link >= fwd_count(w) || mv.reserved) {
		port_status(p, -EINVAL, "FWD_MOVE: before the switch, twice, or no such link");
		return;
	}
	rc = mig_fwd_move(fwd_at(w, mv.link)->fwd, mv.host, mv.port, fwd_moved,
			  fwd_at(w, mv.link));
	if (rc < 0) {
		port_status(p, rc, "FWD_MOVE: %s", g_strerror(-rc));
		return;
	}
	w->moves = 1;
}

/* FWD_KEEP: the connections that stay here when the guest leaves. */
static void fwd_keep(Worker *w, const guint8 *payload, gsize len)
{
	WorkerMigPort *p = w->port;

	if (!p->fwd_link || !p->quiesced || p->fwd_handles || !len || len % sizeof(guint64) ||
	    len / sizeof(guint64) > HRPC_MIG_FWD_MAX) {
		port_status(p, -EINVAL, "FWD_KEEP: not quiesced, no forward link, or bad");
		return;
	}
	p->nfwd = (guint32)(len / sizeof(guint64));
	p->fwd_handles = g_memdup2(payload, len);
	port_status(p, 0, "%u connections will stay here", p->nfwd);
}

/* FS_KEEP: the servers of exports the destination does not have stay. */
static void fs_keep(Worker *w, const guint8 *payload, gsize len)
{
	WorkerMigPort *p = w->port;
	guint64 tags;

	if (!p->fwd_link || !p->quiesced || p->fs_keep || len != sizeof(tags) ||
	    !hrpcd_services_fs(w->svcs)) {
		port_status(p, -EINVAL, "FS_KEEP: not quiesced, no forward link, no filesystem "
			    "service, or bad");
		return;
	}
	memcpy(&tags, payload, sizeof(tags));
	if (!tags) {
		port_status(p, -EINVAL, "FS_KEEP: no server");
		return;
	}
	p->fs_keep = tags;
	port_status(p, 0, "%u filesystem servers will stay here",
		    (guint)__builtin_popcountll(tags));
}

/* FS_FETCH: the remnant's state of the exports forwarded to it. */
static void fs_fetch(Worker *w)
{
	static guint64 ctr;
	WorkerMigPort *p = w->port;
	struct mig_fwd_callmsg m = { .service = HRPC_FWD_SVC_REMNANT,
		.proc = HRPC_FWD_REMNANT_FS_EXPORT, .bulk_cap = HRPC_FWD_BULK_MAX };
	int rc;

	if (!p->quiesced || p->fs_fetch_id || p->fs_fetched || !w->fs_wf) {
		port_status(p, -EINVAL, "FS_FETCH: not quiesced, twice, or no link to a remnant "
			    "with the guest's files");
		return;
	}
	m.id = FS_CONTROL_ID | ++ctr;
	rc = mig_fwd_call(w->fs_wf->fwd, &m);
	if (rc < 0) {
		port_status(p, rc, "the remnant at %s: %s", w->fs_wf->peer, g_strerror(-rc));
		return;
	}
	p->fs_fetch_id = m.id;
}

static void fs_fetched(Worker *w, int status, const void *bulk, uint32_t len)
{
	WorkerMigPort *p = w->port;
	int memfd, rc;

	p->fs_fetch_id = 0;
	if (status < 0) {
		port_status(p, status, "the remnant at %s cannot give the state of the guest's "
			    "files there: %s", w->fs_wf ? w->fs_wf->peer : "?", g_strerror(-status));
		return;
	}
	p->fs_fetched = TRUE;
	memfd = memfd_of(bulk, len, NULL, 0);
	if (memfd < 0) {
		port_status(p, memfd, "cannot pass the remnant's state: %s", g_strerror(-memfd));
		return;
	}
	rc = port_send(p->fd, HRPC_MIG_FS_FETCHED, NULL, 0, &memfd, 1, len);
	close(memfd);
	if (rc < 0)
		g_debug("guest %u: cannot answer FS_FETCH: %s", w->spec->guest_id, g_strerror(-rc));
}

static void fwd_link_drop(WorkerMigPort *p)
{
	g_clear_pointer(&p->fwd_link, mig_link_free);
	g_clear_pointer(&p->fwd_handles, g_free);
	p->nfwd = 0;
	p->fs_keep = 0;
}

/* ---- source ---------------------------------------------------------------------- */

static void resume(Worker *w, const char *why)
{
	WorkerMigPort *p = w->port;
	OutsourceSockService *ss = hrpcd_services_sock(w->svcs);
	int rc;

	if (p->fs_fetched && w->fs_wf) {
		struct mig_fwd_callmsg m = { .id = FS_CONTROL_ID, .service = HRPC_FWD_SVC_REMNANT,
			.proc = HRPC_FWD_REMNANT_FS_RESUME, .oneway = TRUE };

		(void)mig_fwd_call(w->fs_wf->fwd, &m);   /* the remnant's locks again */
	}
	p->fs_fetched = FALSE;
	p->fs_fetch_id = 0;
	fwd_link_drop(p);
	w->holding = 0;
	w->moves = 0;
	for (guint k = 0; !w->remnant && k < fwd_count(w); k++)
		mig_fwd_resume(fwd_at(w, k)->fwd);   /* a hold ends: the remnants go on */
	if (!p->quiesced) {
		/* Nothing stopped yet (the migration failed in pre-copy). */
		tell_supervisor(w, HRPCD_CTL_MIG_OUT_ROLLBACK, 0, "not migrated: %s", why);
		return;
	}
	p->quiesced = FALSE;
	if (ss)
		outsource_sock_service_resume(ss);
	if (hrpcd_services_fs(w->svcs) &&
	    (rc = outsource_fs_service_mig_resume(hrpcd_services_fs(w->svcs))) < 0)
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
				"rolled back, but a file lock the guest held was taken meanwhile: "
				"%s", g_strerror(-rc));
	hrpcd_worker_conn_attach(w);
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"migration rolled back (%s): serving again", why);
	tell_supervisor(w, HRPCD_CTL_MIG_OUT_ROLLBACK, 0, "rolled back: %s", why);
}

/*
 * The drain at the quiesce found the channel broken: the guest published
 * forged ring state without a doorbell before it was paused (or closed its
 * channel).  No rollback to serving: fenced is fenced, whenever the host
 * finds out.  The tool rolls the migration back (the guest stays here,
 * paused until it `cont`s it) and the supervisor's next worker resets the
 * channel, as after any fence; nothing went to the destination.
 */
static void quiesce_failed(Worker *w, int rc)
{
	const char *reason = hrpc_conn_fence_reason(w->conn);

	if (!reason) {
		port_status(w->port, rc, "the guest's channel ended during the quiesce: %s",
			    g_strerror(-rc));
		tell_supervisor(w, HRPCD_CTL_MIG_OUT_FAILED, rc, "channel ended at the quiesce");
		hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
				"channel ended at the quiesce for migration: %s", g_strerror(-rc));
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, rc == -EPIPE ?
				  HRPCD_WORKER_EXIT_DONE : HRPCD_WORKER_EXIT_IO);
		return;
	}
	g_strlcpy(w->fence_reason, reason, sizeof(w->fence_reason));
	hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
			"fenced at the quiesce for migration: %s", w->fence_reason);
	port_status(w->port, -EPROTO, "the guest broke its channel during the quiesce: %s",
		    w->fence_reason);
	tell_supervisor(w, HRPCD_CTL_MIG_OUT_FAILED, -EPROTO, "guest fenced at the quiesce: %s",
			w->fence_reason);
	hrpcd_worker_stop(w, HRPC_ADMIN_STATE_FENCED, HRPCD_WORKER_EXIT_FENCED);
}

static void quiesce(Worker *w)
{
	WorkerMigPort *p = w->port;
	OutsourceSockService *ss = hrpcd_services_sock(w->svcs);
	outsource_sock *sock = ss ? outsource_sock_service_get(ss) : NULL;
	struct hrpc_mig_state st = { .magic = HRPC_MIG_STATE_MAGIC };
	g_autofree void *table = NULL, *fstable = NULL;
	g_autofree int *fds = NULL;
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);
	size_t tlen = 0, fslen = 0;
	guint32 nfds = 0;
	int rc, memfd, nsfd, pass[2];
	const char *iface;

	if (p->quiesced) {
		port_status(p, -EALREADY, "already quiesced");
		return;
	}
	if (!w->conn || w->spec->transport != HRPC_ADMIN_TRANSPORT_IVSHMEM) {
		port_status(p, -EOPNOTSUPP, "only a VM guest's channel migrates");
		return;
	}
	/* The guest is paused: answer what it queued before, then nothing
	 * moves until DONE or RESUME.  A call held because the reply ring is
	 * full stays in the request ring: the destination answers it. */
	hrpcd_worker_conn_detach(w);
	for (int i = 0; i < 4096; i++) {
		rc = hrpc_conn_process(w->conn);
		if (rc <= 0)
			break;
	}
	if (rc < 0) {
		quiesce_failed(w, rc);
		return;
	}
	if (ss)
		outsource_sock_service_pause(ss);
	p->quiesced = TRUE;

	if (hrpc_conn_negotiated(w->conn)) {
		st.flags |= HRPC_MIG_STATE_F_NEGOTIATED;
		hrpc_conn_session(w->conn, &st.revision, &st.features);
		g_strlcpy(st.peer, hrpc_conn_peer_name(w->conn), sizeof(st.peer));
	}
	/* The identity itself the tool reads in our namespace (netlink is
	 * not ours to use once confined): we name the interface. */
	iface = sock ? outsource_sock_identity(sock) : NULL;
	if (iface) {
		st.flags |= HRPC_MIG_STATE_F_IDENT;
		g_strlcpy(st.ifname, iface, sizeof(st.ifname));
	}
	if (sock) {
		rc = outsource_sock_mig_export(sock, &table, &tlen, &fds, &nfds);
		if (rc < 0) {
			port_status(p, rc, "cannot export the socket table: %s", g_strerror(-rc));
			resume(w, "export failed");
			return;
		}
		st.flags |= HRPC_MIG_STATE_F_SOCK;
	}
	if (fs) {
		/* The destination takes the guest's locks; a rollback takes
		 * them back here. */
		outsource_fs_service_mig_quiesce(fs);
		rc = outsource_fs_service_mig_export(fs, &fstable, &fslen);
		if (rc < 0) {
			port_status(p, rc, "cannot export the filesystem table: %s", g_strerror(-rc));
			resume(w, "export failed");
			return;
		}
		st.flags |= HRPC_MIG_STATE_F_FS;
		table = g_realloc(table, tlen + fslen);
		memcpy((guint8 *)table + tlen, fstable, fslen);
		tlen += fslen;
	}
	memfd = memfd_of(&st, sizeof(st), table, tlen);
	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (memfd < 0 || nsfd < 0) {
		rc = memfd < 0 ? memfd : -errno;
		port_status(p, rc, "cannot pass the state: %s", g_strerror(-rc));
		if (memfd >= 0)
			close(memfd);
		if (nsfd >= 0)
			close(nsfd);
		resume(w, "cannot pass the state");
		return;
	}
	pass[0] = memfd;
	pass[1] = nsfd;
	rc = port_send(p->fd, HRPC_MIG_STATE_OUT, NULL, 0, pass, 2, sizeof(st) + tlen);
	close(memfd);
	close(nsfd);
	/* Then the host sockets, in table order (ours stay open: until DONE
	 * they are still the guest's, and a rollback goes on with them). */
	for (guint32 i = 0; rc == 0 && i < nfds; i += PORT_FDS_MAX)
		rc = port_send(p->fd, HRPC_MIG_STATE_OUT, NULL, 0, fds + i,
			       (int)MIN(nfds - i, (guint32)PORT_FDS_MAX), 0);
	if (rc < 0) {
		resume(w, "port failed");
		return;
	}
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"quiesced for migration: %u sockets handed over", nfds);
}

/* The destination's page hashes in, the pages it lacks out. */
static void diff(Worker *w, int memfd, guint64 len)
{
	WorkerMigPort *p = w->port;
	gsize npages = w->map_len / HRPC_MIG_PAGE_SIZE;
	g_autofree guint64 *theirs = NULL;
	g_autofree struct hrpc_mig_page *out = NULL;
	guint64 head[2];
	gsize nout = 0;
	struct stat sb;
	int fd;

	if (!p->quiesced) {
		port_status(p, -EINVAL, "not quiesced");
		return;
	}
	if (fstat(memfd, &sb) < 0 || !S_ISREG(sb.st_mode) || (guint64)sb.st_size != len ||
	    len != sizeof(head) + npages * sizeof(guint64) ||
	    pread(memfd, head, sizeof(head), 0) != sizeof(head) || head[1] != npages) {
		port_status(p, -EINVAL, "page hashes do not fit this guest's %zu pages", npages);
		return;
	}
	theirs = g_new(guint64, npages);
	if (pread(memfd, theirs, npages * sizeof(guint64), sizeof(head)) !=
	    (ssize_t)(npages * sizeof(guint64))) {
		port_status(p, -EIO, "cannot read the page hashes");
		return;
	}
	p->switched = TRUE;
	for (gsize i = 0; i < npages; i++) {
		const guint8 *page = (const guint8 *)w->map + i * HRPC_MIG_PAGE_SIZE;

		if (hrpc_mig_page_hash(page, head[0]) == theirs[i])
			continue;
		if (!out)
			out = g_new(struct hrpc_mig_page, npages);
		out[nout].index = (guint32)i;
		out[nout].reserved = 0;
		memcpy(out[nout].bytes, page, HRPC_MIG_PAGE_SIZE);
		nout++;
	}
	fd = memfd_of(out, nout * sizeof(*out), NULL, 0);
	if (fd < 0) {
		port_status(p, fd, "cannot pass the pages: %s", g_strerror(-fd));
		return;
	}
	port_send(p->fd, HRPC_MIG_PAGES_OUT, NULL, 0, &fd, 1, nout * sizeof(*out));
	close(fd);
	hrpcd_log_guest(G_LOG_LEVEL_INFO, w->spec->guest_id, w->spec->name,
			"migration: %zu of %zu shared pages changed since QEMU sent them", nout,
			npages);
}

static gboolean port_event(gint fd, GIOCondition cond, gpointer user_data)
{
	Worker *w = user_data;
	WorkerMigPort *p = w->port;
	struct hrpc_mig_msg m;
	struct {
		struct hrpc_mig_msg m;
		guint8 payload[sizeof(struct hrpc_mig_fwd_link) + HRPC_MIG_FWD_MAX * sizeof(guint64)];
	} in;
	int passed[4], nfds = G_N_ELEMENTS(passed), rc;
	gsize plen;

	rc = (int)hrpc_unix_recv_msg(fd, &in, sizeof(in), passed, &nfds, MSG_DONTWAIT);
	if (rc == -EAGAIN)
		return G_SOURCE_CONTINUE;
	if (rc >= (int)sizeof(m))
		memcpy(&m, &in.m, sizeof(m));
	plen = rc >= (int)sizeof(m) ? (gsize)rc - sizeof(m) : 0;
	if (rc < (int)sizeof(m) ||
	    (plen && m.type != HRPC_MIG_FWD_LINK && m.type != HRPC_MIG_FWD_KEEP &&
	     m.type != HRPC_MIG_FWD_MOVE && m.type != HRPC_MIG_FS_KEEP)) {
		for (int i = 0; i < nfds; i++)
			close(passed[i]);
		if (p->switched) {
			/* The guest's memory is at the destination: so is the guest. */
			hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
					"hostrpc-migrate left after the switch: ending");
			hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_MIGRATED);
		} else {
			resume(w, "hostrpc-migrate went away");
		}
		hrpcd_worker_mig_port_close(w);
		return G_SOURCE_REMOVE;
	}
	switch (m.type) {
	case HRPC_MIG_QUIESCE:
		quiesce(w);
		break;
	case HRPC_MIG_DIFF:
		if (nfds == 1)
			diff(w, passed[0], m.len);
		else
			port_status(p, -EINVAL, "DIFF wants one memfd");
		break;
	case HRPC_MIG_RESUME:
		resume(w, "hostrpc-migrate asked");
		port_status(p, 0, "serving again");
		break;
	case HRPC_MIG_DONE:
		if (p->fwd_link && (p->nfwd || p->fs_keep) && p->switched) {
			/* The port closes now: hostrpc-migrate must not wait for
			 * our end, which comes with the forwarded connections'. */
			port_status(p, 0, "done; this worker stays as the remnant of %u "
				    "connections and %u filesystem servers", p->nfwd,
				    (guint)__builtin_popcountll(p->fs_keep));
			become_remnant(w);
			hrpcd_worker_mig_port_close(w);
			return G_SOURCE_REMOVE;
		}
		p->done = TRUE;
		port_status(p, 0, "done");
		hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
				"migrated to another host");
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_MIGRATED);
		break;
	case HRPC_MIG_FWD_LINK:
		fwd_link_take(w, in.payload, plen, nfds == 1 ? passed[0] : -1);
		if (nfds == 1)
			passed[0] = -1;   /* the link's now (or closed) */
		break;
	case HRPC_MIG_FWD_KEEP:
		fwd_keep(w, in.payload, plen);
		break;
	case HRPC_MIG_FS_KEEP:
		fs_keep(w, in.payload, plen);
		break;
	case HRPC_MIG_FS_FETCH:
		fs_fetch(w);
		break;
	case HRPC_MIG_FWD_HOLD:
		fwd_hold(w);
		break;
	case HRPC_MIG_FWD_MOVE:
		fwd_move(w, in.payload, plen);
		break;
	default:
		port_status(p, -ENOSYS, "unknown request %u", m.type);
		break;
	}
	for (int i = 0; i < nfds; i++)
		if (passed[i] >= 0)
			close(passed[i]);
	return G_SOURCE_CONTINUE;
}

void hrpcd_worker_mig_port_open(Worker *w, int fd)
{
	if (w->port) {
		/* One migration at a time. */
		struct hrpc_mig_status st = { .status = -EBUSY };

		g_strlcpy(st.message, "a migration of this guest is under way", sizeof(st.message));
		port_send(fd, HRPC_MIG_STATUS, &st, sizeof(st), NULL, 0, 0);
		close(fd);
		return;
	}
	w->port = g_new0(WorkerMigPort, 1);
	w->port->fd = fd;
	w->port->src = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(w->port->src, G_SOURCE_FUNC(port_event), w, NULL);
	g_source_attach(w->port->src, w->ctx);
	{
		struct hrpc_mig_hello h = { .shm_size = w->map_len, .pid = (guint32)getpid() };

		g_strlcpy(h.guest, w->spec->name, sizeof(h.guest));
		port_send(fd, HRPC_MIG_HELLO, &h, sizeof(h), NULL, 0, 0);
	}
}

void hrpcd_worker_mig_port_close(Worker *w)
{
	WorkerMigPort *p = w->port;

	if (!p)
		return;
	w->port = NULL;
	fwd_link_drop(p);
	g_source_destroy(p->src);
	g_source_unref(p->src);
	/* After DONE the descriptor stays open until we exit: hostrpc-migrate
	 * waits for its end before it ends the source QEMU, so that we end
	 * with our own status (6, migrated), not QEMU's hang-up's SIGTERM. */
	if (!p->done)
		close(p->fd);
	g_free(p);
}

/* ---- destination ----------------------------------------------------------------- */

G_GNUC_PRINTF(3, 4)
static void link_status(mig_link *l, int status, const char *fmt, ...)
{
	struct hrpc_mig_status st;
	va_list ap;

	va_start(ap, fmt);
	status_fill(&st, status, fmt, ap);
	va_end(ap);
	mig_link_send(l, HRPC_MIG_STATUS, &st, sizeof(st));
}

static gboolean intro_decode(const char *hex, struct hrpc_mig_intro *intro)
{
	guint8 *b = (guint8 *)intro;

	if (!hex || strlen(hex) != 2 * sizeof(*intro))
		return FALSE;
	for (gsize i = 0; i < sizeof(*intro); i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return FALSE;
		b[i] = (guint8)(hi << 4 | lo);
	}
	return hrpc_mig_intro_check(intro) == 0;
}

typedef struct {
	Worker *w;
	mig_link *link;
	outsource_sock *sock;
	struct hrpc_mig_state st;
	gboolean have_state;
	const char *iface;
	guint8 key[MIG_KEY_SIZE];  /* the pair's: the forward link authenticates with it */
	mig_link *fwd_link;        /* FWD_OPEN: to the source's remnant */
	GPtrArray *far;            /* FWD_REMOTE: of FarLink, remnants on other hosts */
} Incoming;

/* A remnant on a third host linked here for these stand-ins (FWD_REMOTE). */
typedef struct {
	mig_link *link;            /* until GO: then wf's */
	guint64 *handles;
	guint32 n;
	gboolean files;            /* FWD_REMOTE_FS: the forwarded exports' calls too */
	WorkerFwd *wf;             /* GO: its forwarder (w->fwds owns it) */
} FarLink;

static void far_free(gpointer p)
{
	FarLink *fl = p;

	mig_link_free(fl->link);
	g_free(fl->handles);
	g_free(fl);
}

/*
 * FWD_OPEN: connections will stay at the source.  Listen on the address
 * the migration link came to, say the port, and take one connection that
 * authenticates with the pair's key for this guest: the forward link.
 * hostrpc-migrate hands its other end to the source's worker.
 */
int hrpcd_worker_mig_fwd_listener(int link_fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int lfd;

	if (getsockname(link_fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return -1;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd >= 0 && (bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 1) < 0)) {
		close(lfd);
		lfd = -1;
	}
	return lfd;
}

/* Take one connection on the forward listener that authenticates with the
 * pair's key for this guest, within 10 s; others that come first (anyone
 * on the LAN may connect) are dropped, not taken for it. */
static int fwd_accept(Incoming *in, int lfd, mig_link **out)
{
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	int rc = -ETIMEDOUT;

	for (;;) {
		struct hrpc_mig_intro intro;
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		int fd, r;

		if (left <= 0)
			return rc;
		r = poll(&pfd, 1, (int)left);
		if (r != 1)
			return rc;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		r = mig_link_read_intro(fd, &intro, (int)MAX(left, 1));
		if (r == 0 && strcmp(intro.guest, in->w->spec->name))
			r = -EACCES;
		if (r == 0)
			r = mig_link_accept(fd, &intro, in->key, (int)MAX(left, 1), out);
		if (r == 0)
			return 0;
		close(fd);
		rc = r;   /* said if nothing better comes */
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, in->w->spec->guest_id, in->w->spec->name,
				"forward listener: a connection that is not the link dropped: %s",
				g_strerror(-r));
	}
}

/* Say the forward listener's port on the link (FWD_PORT): 0, -errno. */
static int fwd_port_say(Incoming *in, char *err, gsize errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct hrpc_mig_fwd_port fp = { 0 };

	if (in->w->fwd_lfd < 0 || getsockname(in->w->fwd_lfd, (struct sockaddr *)&ss, &sl) < 0) {
		g_strlcpy(err, "cannot listen for a forward link", errlen);
		return -EADDRNOTAVAIL;
	}
	fp.port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
						  ((struct sockaddr_in6 *)&ss)->sin6_port);
	return mig_link_send(in->link, HRPC_MIG_FWD_PORT, &fp, sizeof(fp));
}

static int in_fwd_open(Incoming *in, char *err, gsize errlen)
{
	int rc;

	if (in->fwd_link) {
		g_strlcpy(err, "a second forward link", errlen);
		return -EPROTO;
	}
	rc = fwd_port_say(in, err, errlen);
	if (rc < 0)
		return rc;
	rc = fwd_accept(in, in->w->fwd_lfd, &in->fwd_link);
	if (rc < 0) {
		g_snprintf(err, errlen, "forward link: %s", g_strerror(-rc));
		return rc;
	}
	return 0;
}

/*
 * FWD_REMOTE: stand-ins whose remnant is on a third host (their records
 * have forward images).  If the remnant is here, they become local again
 * at GO (in_fwd_local); else the remnant's host links to our listener
 * (the source's worker asked it: FWD_MOVE) and we keep that link for them.
 */
static int in_fwd_remote(Incoming *in, const guint8 *buf, gsize len, gboolean files, char *err,
			 gsize errlen)
{
	Worker *w = in->w;
	FarLink *fl;
	int rc;

	if (len % sizeof(guint64) || len / sizeof(guint64) > HRPC_MIG_FWD_MAX) {
		g_strlcpy(err, "FWD_REMOTE: bad request", errlen);
		return -EPROTO;
	}
	if (files && (!outsource_fs_service_forwarded(hrpcd_services_fs(w->svcs)) ||
		      w->fs_far_files)) {
		g_strlcpy(err, "FWD_REMOTE_FS: no forwarded export here, or a second link for them",
			  errlen);
		return -EPROTO;
	}
	if (files && w->spec->remnant_fd >= 0) {
		/* This host has the remnant, not the export: not one a tool
		 * sends (it fetches the files' state for a host with it). */
		g_strlcpy(err, "the guest's forwarded files: their remnant is on this host", errlen);
		return -EPROTO;
	}
	if (w->spec->remnant_fd >= 0) {
		link_status(in->link, 0, "the remnant is here: they become local again");
		return 0;
	}
	rc = fwd_port_say(in, err, errlen);
	if (rc < 0)
		return rc;
	fl = g_new0(FarLink, 1);
	rc = fwd_accept(in, w->fwd_lfd, &fl->link);
	if (rc < 0) {
		g_free(fl);
		/* Not fatal: those connections are reset at GO. */
		link_status(in->link, rc, "no forward link came from their remnant: %s",
			    g_strerror(-rc));
		return 0;
	}
	fl->n = (guint32)(len / sizeof(guint64));
	fl->handles = len ? g_memdup2(buf, len) : NULL;
	fl->files = files;
	w->fs_far_files |= files;
	if (!in->far)
		in->far = g_ptr_array_new_with_free_func(far_free);
	g_ptr_array_add(in->far, fl);
	link_status(in->link, 0, "a remnant on another host links here for %u connections%s",
		    fl->n, files ? " and the guest's forwarded files" : "");
	return 0;
}

/* Close fd so that its peer reads ECONNRESET. */
static void close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/*
 * The remnant's socket `real` (frozen here) made again with the bytes that
 * were under way: those the source's stand-in had for the guest go ahead of
 * its receive queue; those the remnant had not written yet (pend) and the
 * guest's last ones from the source (the forward image) after its send
 * queue, as unsent.  *out: the connection, in normal mode.
 */
static int local_again(int *realp, const guint8 *fimg, GByteArray *pend, int *out)
{
	int real = *realp;
	g_autofree guint8 *img = NULL, *nimg = NULL;
	struct hrpc_sock_fwd_image fi;
	struct hrpc_tcp_image h;
	size_t ilen = 0;
	guint64 extra, nlen;
	const guint8 *rq;
	int rc;

	rc = sock_tcp_freeze(real, (void **)&img, &ilen);
	if (rc < 0)
		return rc;
	memcpy(&fi, fimg, sizeof(fi));   /* checked at the import */
	memcpy(&h, img, sizeof(h));
	rq = img + sizeof(h);
	extra = (guint64)(pend ? pend->len : 0) + fi.out_len;
	if ((guint64)h.inq_len + fi.in_len > HRPC_TCP_IMAGE_QUEUE_MAX ||
	    (guint64)h.outq_len + extra > HRPC_TCP_IMAGE_QUEUE_MAX) {
		sock_tcp_thaw(real);
		return -EFBIG;
	}
	nlen = ilen + fi.in_len + extra;
	nimg = g_malloc(nlen);
	{
		guint8 *q = nimg + sizeof(h);

		memcpy(q, fimg + sizeof(fi), fi.in_len);
		q += fi.in_len;
		memcpy(q, rq, h.inq_len + h.outq_len);
		q += h.inq_len + h.outq_len;
		if (pend && pend->len) {
			memcpy(q, pend->data, pend->len);
			q += pend->len;
		}
		memcpy(q, fimg + sizeof(fi) + fi.in_len, fi.out_len);
	}
	h.inq_len += fi.in_len;
	h.outq_len += (guint32)extra;
	h.unsq_len += (guint32)extra;
	h.snd_seq += (guint32)extra;
	h.size = (guint32)nlen;
	memcpy(nimg, &h, sizeof(h));
	/* Frozen, ours alone (the remnant closed its copy): silently gone, so
	 * that the same connection can be made again. */
	close(real);
	*realp = -1;
	return sock_tcp_restore(nimg, nlen, out);
}

/*
 * A stand-in whose remnant on a third host linked here (FWD_REMOTE): it
 * is forwarded again, starting with the bytes that were under way.  0, or
 * -ENOENT (no link for it: the caller resets it); the far end is taken.
 */
static int far_forward(Incoming *in, struct outsource_sock_fwd *mv)
{
	Worker *w = in->w;
	struct hrpc_sock_fwd_image fi;
	const guint8 *b = mv->img;
	char what[160];

	for (guint k = 0; in->far && k < in->far->len; k++) {
		FarLink *fl = g_ptr_array_index(in->far, k);
		guint32 i;

		for (i = 0; i < fl->n && fl->handles[i] != mv->handle; i++)
			;
		if (i == fl->n)
			continue;
		if (!fl->wf)   /* the link becomes one of our forwarders */
			fl->wf = wf_new(w, g_steal_pointer(&fl->link));
		memcpy(&fi, b, sizeof(fi));   /* checked at the import */
		if (outsource_sock_describe(in->sock, mv->handle, what, sizeof(what)) == 0)
			location_add(w, mv->handle, what);
		mig_fwd_add_moved(fl->wf->fwd, mv->handle, mv->fd, b + sizeof(fi), fi.in_len,
				  b + sizeof(fi) + fi.in_len, fi.out_len);
		return 0;
	}
	return -ENOENT;
}

/* Read one answer of the remnant: its record and descriptors. */
static int took_recv(int fd, struct hrpcd_remnant_took *t, int *fds, int *nfds)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long n;

	if (poll(&pfd, 1, 5000) != 1)
		return -ETIMEDOUT;
	n = hrpc_unix_recv_msg(fd, t, sizeof(*t), fds, nfds, MSG_DONTWAIT);
	if (n != (long)sizeof(*t)) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		return n < 0 ? (int)n : -EPROTO;
	}
	return 0;
}

/*
 * GO, before the sockets are attached: connections that lived at a remnant
 * (their stand-ins came with a forward image).  The guest came back to
 * their remnant's host: take each from the remnant and make it again here,
 * a local connection under the same handle.  Elsewhere (or when the
 * remnant cannot hand it over) the guest sees a reset.
 */
static void in_fwd_local(Incoming *in)
{
	Worker *w = in->w;
	int rfd = w->spec->remnant_fd;
	g_autofree struct outsource_sock_fwd *mv = NULL;
	g_autofree int *real = NULL;
	g_autoptr(GPtrArray) pends = NULL;
	guint64 lis[HRPC_MIG_FWD_MAX];
	int lfds[HRPC_MIG_FWD_MAX];
	guint32 n = 0, nl = 0, local = 0;

	if (in->sock) {
		mv = outsource_sock_mig_moved(in->sock, &n);
		nl = outsource_sock_mig_deferred(in->sock, lis, HRPC_MIG_FWD_MAX);
	}
	if (!n && !nl)
		return;
	real = g_new(int, n ? n : 1);
	pends = g_ptr_array_new_full(n, (GDestroyNotify)g_byte_array_unref);
	for (guint32 i = 0; i < n; i++) {
		real[i] = -1;
		g_ptr_array_add(pends, g_byte_array_new());
	}
	for (guint32 i = 0; i < nl; i++)
		lfds[i] = -1;
	if (rfd >= 0) {
		struct {
			struct hrpcd_remnant_take h;
			guint64 handles[HRPC_MIG_FWD_MAX];
		} req = { .h = { .type = HRPCD_REMNANT_TAKE } };

		for (guint32 i = 0; i < n && req.h.n < HRPC_MIG_FWD_MAX; i++)
			req.handles[req.h.n++] = mv[i].handle;
		for (guint32 i = 0; i < nl && req.h.n < HRPC_MIG_FWD_MAX; i++)
			req.handles[req.h.n++] = lis[i];
		if (send(rfd, &req, sizeof(req.h) + req.h.n * sizeof(guint64), MSG_NOSIGNAL) < 0)
			rfd = -1;
	}
	while (rfd >= 0) {
		struct hrpcd_remnant_took t;
		int fds[2], nfds = 2, rc = took_recv(rfd, &t, fds, &nfds);
		guint32 i, k;

		if (rc < 0 || !t.handle)
			break;
		for (i = 0; i < n && mv[i].handle != t.handle; i++)
			;
		for (k = 0; i == n && k < nl && lis[k] != t.handle; k++)
			;
		if (i == n && k < nl && !t.status && nfds == 1 && !t.pend_len && lfds[k] < 0) {
			lfds[k] = fds[0];   /* the remnant's copy of a listener */
			continue;
		}
		if (i == n || real[i] >= 0 || t.status || nfds != (t.pend_len ? 2 : 1) ||
		    t.pend_len > HRPC_FWD_WINDOW) {
			for (int j = 0; j < nfds; j++) {
				if (t.status == 0 && j == 0 && i < n)
					close_reset(fds[j]);   /* the service sees the end */
				else
					close(fds[j]);
			}
			continue;
		}
		real[i] = fds[0];
		if (t.pend_len) {
			GByteArray *pb = g_ptr_array_index(pends, i);

			g_byte_array_set_size(pb, t.pend_len);
			if (pread(fds[1], pb->data, t.pend_len, 0) != (ssize_t)t.pend_len) {
				close_reset(real[i]);
				real[i] = -1;
			}
			close(fds[1]);
		}
	}
	/* The guest's listeners whose address the remnant held: its copy is
	 * the guest's again (what waits in its backlog too). */
	for (guint32 k = 0; k < nl; k++) {
		int rc = lfds[k] < 0 ? -ENOENT : outsource_sock_mig_localize(in->sock, lis[k], lfds[k]);

		if (rc < 0 && lfds[k] >= 0)
			close(lfds[k]);
		if (rc < 0 && (rc = outsource_sock_mig_relisten(in->sock, lis[k])) < 0)
			hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
					"listener %#" G_GINT64_MODIFIER "x: its address stays "
					"taken here: %s", lis[k], g_strerror(-rc));
		else if (lfds[k] >= 0 && rc == 0)
			hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
					"listener %#" G_GINT64_MODIFIER "x: the remnant's copy "
					"is the guest's again", lis[k]);
	}
	for (guint32 i = 0; i < n; i++) {
		int fd = -1, rc;

		if (rfd < 0 && far_forward(in, &mv[i]) == 0) {
			g_free(mv[i].img);
			continue;
		}
		rc = real[i] < 0 ? -ENOENT :
		     local_again(&real[i], mv[i].img, g_ptr_array_index(pends, i), &fd);

		if (rc == 0 && (rc = outsource_sock_mig_localize(in->sock, mv[i].handle, fd)) < 0)
			close_reset(fd);
		if (rc == 0) {
			close(mv[i].fd);   /* the stand-in's far end: its near one went */
			local++;
		} else {
			if (real[i] >= 0) {
				sock_tcp_thaw(real[i]);
				close_reset(real[i]);   /* the service sees the end */
			}
			close_reset(mv[i].fd);   /* the guest reads ECONNRESET */
			hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
					"connection %#" G_GINT64_MODIFIER "x lived at a remnant that "
					"cannot hand it over here: reset (%s)", mv[i].handle,
					g_strerror(-rc));
		}
		g_free(mv[i].img);
	}
	if (local)
		hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
				"%u forwarded connections are local again", local);
}

/* GO with connections that stayed at the source: forward to them. */
static int in_fwd_start(Incoming *in, char *err, gsize errlen)
{
	Worker *w = in->w;
	OutsourceFsService *fs = hrpcd_services_fs(w->svcs);
	g_autofree struct outsource_sock_fwd *fw = NULL;
	WorkerFwd *wf;
	guint32 n = 0;

	/* A remnant's link that carries no connection of ours (only its
	 * copies of the guest's listeners) is ours all the same. */
	for (guint k = 0; in->far && k < in->far->len; k++) {
		FarLink *fl = g_ptr_array_index(in->far, k);

		if (fl->link)
			fl->wf = wf_new(w, g_steal_pointer(&fl->link));
		if (fl->wf && fl->files)
			fs_forward_start(w, fl->wf);
	}
	if (w->fwd_lfd >= 0) {   /* no forward link came: none will */
		close(w->fwd_lfd);
		w->fwd_lfd = -1;
	}
	if (in->sock)
		fw = outsource_sock_mig_forwards(in->sock, &n);
	if (fs && outsource_fs_service_forwarded(fs) && !w->fs_far_files) {
		if (!in->fwd_link) {
			/* After the switch: the guest runs here whatever
			 * happens; those files fail as after a lost link. */
			outsource_fs_service_fwd_lost(fs);
			hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
					"the guest's forwarded files have no link to their remnant: "
					"EIO");
			goto socks;
		}
		wf = wf_new(w, g_steal_pointer(&in->fwd_link));
		fs_forward_start(w, wf);
		if (!n)
			return 0;
		goto add;
	}
	if (fs && outsource_fs_service_forwarded(fs) && w->fs_far_files && !w->fs_wf) {
		outsource_fs_service_fwd_lost(fs);   /* their remnant's link never came */
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, w->spec->guest_id, w->spec->name,
				"the remnant of the guest's forwarded files did not link here: EIO");
	}
socks:
	if (!n && in->fwd_link && in->sock && outsource_sock_mig_fwd_listening(in->sock)) {
		/* Only copies of the guest's listeners stayed at the source. */
		wf_new(w, g_steal_pointer(&in->fwd_link));
		return 0;
	}
	if (!n) {
		/* A link made ahead (--prepare) that nothing needed. */
		g_clear_pointer(&in->fwd_link, mig_link_free);
		return 0;
	}
	if (!in->fwd_link) {
		for (guint32 i = 0; i < n; i++)
			close(fw[i].fd);
		g_snprintf(err, errlen, "%u connections stayed at the source, but there is no "
			   "forward link", n);
		return -EPROTO;
	}
	wf = wf_new(w, g_steal_pointer(&in->fwd_link));
add:
	for (guint32 i = 0; i < n; i++) {
		char what[160];

		if (outsource_sock_describe(in->sock, fw[i].handle, what, sizeof(what)) == 0)
			location_add(w, fw[i].handle, what);
		mig_fwd_add(wf->fwd, fw[i].handle, fw[i].fd);
	}
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, w->spec->guest_id, w->spec->name,
			"%u connections live at %s: forwarded", n, wf->peer);
	return 0;
}

static int in_state(Incoming *in, const guint8 *buf, gsize len, char *err, gsize errlen)
{
	struct hrpc_mig_state st;
	gsize off;
	int rc;

	if (len < sizeof(st))
		return -EPROTO;
	memcpy(&st, buf, sizeof(st));
	if (st.magic != HRPC_MIG_STATE_MAGIC || (st.flags & ~HRPC_MIG_STATE_F_ALL) ||
	    st.reserved0 || st.reserved1 || !memchr(st.peer, 0, sizeof(st.peer)) ||
	    (!(st.flags & (HRPC_MIG_STATE_F_SOCK | HRPC_MIG_STATE_F_FS)) && len != sizeof(st))) {
		g_strlcpy(err, "state header is not one a host sends", errlen);
		return -EPROTO;
	}
	if (st.flags & HRPC_MIG_STATE_F_IDENT) {
		if (hrpc_netident_check(&st.ident) < 0) {
			g_strlcpy(err, "network identity is not one a host sends", errlen);
			return -EPROTO;
		}
		if (!in->iface) {
			g_strlcpy(err, "the guest has a network identity, but this host's "
				  "policy names no 'identity' interface", errlen);
			return -EINVAL;
		}
		/* Addresses and routes here (the TCP restores need them), but
		 * not reachable yet: the source still serves the address. */
		rc = netident_apply_quiet(in->iface, &st.ident);
		if (rc < 0) {
			g_snprintf(err, errlen, "cannot prepare %s: %s", in->iface, g_strerror(-rc));
			return rc;
		}
	}
	off = sizeof(st);
	if (st.flags & HRPC_MIG_STATE_F_SOCK) {
		struct hrpc_sock_mig_table t;

		if (!in->sock) {
			g_strlcpy(err, "no socket service here", errlen);
			return -EPROTO;
		}
		/* Its header says its size; the filesystem table follows. */
		if (len - off < sizeof(t)) {
			g_strlcpy(err, "socket table cut short", errlen);
			return -EPROTO;
		}
		memcpy(&t, buf + off, sizeof(t));
		if (t.size > len - off || ((st.flags & HRPC_MIG_STATE_F_FS) ? 0 : t.size != len - off)) {
			g_strlcpy(err, "socket table: bad size", errlen);
			return -EPROTO;
		}
		rc = outsource_sock_mig_import(in->sock, buf + off, (size_t)t.size, err, errlen);
		if (rc < 0)
			return rc;
		off += (gsize)t.size;
	}
	if (st.flags & HRPC_MIG_STATE_F_FS) {
		OutsourceFsService *fs = hrpcd_services_fs(in->w->svcs);

		if (!fs) {
			g_strlcpy(err, "the guest has outsourced filesystems mounted; no filesystem "
				  "service here", errlen);
			return -EPROTO;
		}
		rc = outsource_fs_service_mig_import(fs, buf + off, len - off, err, errlen);
		if (rc < 0)
			return rc;
	}
	in->st = st;
	in->have_state = TRUE;
	return 0;
}

/* FS_HAVE: which of the guest's mounted exports this host's policy has. */
static int in_fs_have(Incoming *in, const guint8 *buf, gsize len)
{
	OutsourceFsService *fs = hrpcd_services_fs(in->w->svcs);
	guint64 have = 0;

	if (!len || len % HRPC_MIG_NAME_SIZE || len / HRPC_MIG_NAME_SIZE > 64)
		return -EPROTO;
	for (gsize i = 0; i < len / HRPC_MIG_NAME_SIZE; i++) {
		const char *name = (const char *)buf + i * HRPC_MIG_NAME_SIZE;

		if (hrpc_mig_name_check(name) < 0)
			return -EPROTO;
		if (outsource_fs_service_has_export(fs, name))
			have |= G_GUINT64_CONSTANT(1) << i;
	}
	return mig_link_send(in->link, HRPC_MIG_FS_HAVE, &have, sizeof(have));
}

static int in_hashes(Incoming *in, const guint8 *buf, gsize len)
{
	Worker *w = in->w;
	struct hrpc_mig_hash_req req;
	gsize npages = w->map_len / HRPC_MIG_PAGE_SIZE;
	g_autofree guint64 *h = NULL;

	if (len != sizeof(req))
		return -EPROTO;
	memcpy(&req, buf, sizeof(req));
	h = g_new(guint64, npages + 2);
	h[0] = req.seed;
	h[1] = npages;
	for (gsize i = 0; i < npages; i++)
		h[2 + i] = hrpc_mig_page_hash((const guint8 *)w->map + i * HRPC_MIG_PAGE_SIZE,
					      req.seed);
	return mig_link_send(in->link, HRPC_MIG_HASHES, h, (npages + 2) * sizeof(guint64));
}

static int in_pages(Incoming *in, const guint8 *buf, gsize len)
{
	Worker *w = in->w;
	gsize npages = w->map_len / HRPC_MIG_PAGE_SIZE;
	struct hrpc_mig_page pg;

	if (len % sizeof(pg))
		return -EPROTO;
	/* Check all before writing any: a bad record changes nothing. */
	for (gsize off = 0; off < len; off += sizeof(pg)) {
		memcpy(&pg, buf + off, offsetof(struct hrpc_mig_page, bytes));
		if (pg.index >= npages || pg.reserved)
			return -EPROTO;
	}
	for (gsize off = 0; off < len; off += sizeof(pg)) {
		memcpy(&pg, buf + off, sizeof(pg));
		memcpy((guint8 *)w->map + (gsize)pg.index * HRPC_MIG_PAGE_SIZE, pg.bytes,
		       HRPC_MIG_PAGE_SIZE);
	}
	return 0;
}

static int in_go(Incoming *in, char *err, gsize errlen)
{
	Worker *w = in->w;
	const HrpcdWorkerSpec *spec = w->spec;
	hrpc_chan *ch = NULL;
	guint64 one = 1, stale;
	int rc;

	if (!in->have_state) {
		g_strlcpy(err, "GO before the state", errlen);
		return -EPROTO;
	}
	while (read(spec->host_fd[HRPC_IVSHMEM_VEC_RESET], &stale, sizeof(stale)) == sizeof(stale))
		;
	/* The channel as the guest left it: indexes, replies not yet read,
	 * calls not yet answered (adopt: checked, never trusted). */
	rc = hrpc_shm_chan_new(HRPC_ROLE_SERVER, w->map, w->map_len,
			       spec->guest_fd[HRPC_IVSHMEM_VEC_RING],
			       spec->host_fd[HRPC_IVSHMEM_VEC_RING], true, &ch);
	if (rc < 0) {
		g_snprintf(err, errlen, "cannot adopt the channel: %s", g_strerror(-rc));
		return rc;
	}
	rc = hrpc_conn_new(w->srv, ch, spec->guest_id, &w->conn);
	if (rc < 0) {
		hrpc_chan_free(ch);
		g_snprintf(err, errlen, "cannot create the connection: %s", g_strerror(-rc));
		return rc;
	}
	if ((in->st.flags & HRPC_MIG_STATE_F_NEGOTIATED) &&
	    (rc = hrpc_conn_adopt_session(w->conn, in->st.revision, in->st.features,
					  in->st.peer)) < 0) {
		g_strlcpy(err, "the guest's protocol revision or features are not served here",
			  errlen);
		return rc;
	}
	in_fwd_local(in);
	if (in->sock && (rc = outsource_sock_mig_attach(in->sock, w->conn)) < 0) {
		g_snprintf(err, errlen, "cannot attach the sockets: %s", g_strerror(-rc));
		return rc;
	}
	if ((rc = in_fwd_start(in, err, errlen)) < 0)
		return rc;
	if (in->st.flags & HRPC_MIG_STATE_F_IDENT) {
		rc = netident_go_live(in->iface, &in->st.ident);
		if (!rc)
			rc = netident_announce(in->iface, &in->st.ident);
		if (rc < 0) {
			g_snprintf(err, errlen, "cannot bring up %s: %s", in->iface, g_strerror(-rc));
			return rc;
		}
	}
	w->generation = hrpc_read_once(((struct hrpc_shm_hdr *)w->map)->host_gen);
	/* Replies may wait for an interrupt the source's QEMU took. */
	if (write(spec->guest_fd[HRPC_IVSHMEM_VEC_RING], &one, sizeof(one)) != sizeof(one))
		g_debug("cannot ring the guest: %s", g_strerror(errno));
	return 0;
}

gboolean hrpcd_worker_mig_incoming(Worker *w, GError **error)
{
	HrpcdWorkerSpec *spec = w->spec;
	OutsourceSockService *ss = hrpcd_services_sock(w->svcs);
	struct hrpc_mig_intro intro;
	guint8 key[MIG_KEY_SIZE];
	Incoming in = { .w = w };
	const char *why = NULL;
	char err[256];
	int rc;

	in.sock = ss ? outsource_sock_service_get(ss) : NULL;
	in.iface = in.sock ? outsource_sock_identity(in.sock) : NULL;
	if (!intro_decode(spec->mig_intro, &intro)) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				    "migration: bad intro");
		return FALSE;
	}
	rc = mig_key_load(spec->mig_key, key, &why);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "migration key %s: %s", spec->mig_key, why ? why : g_strerror(-rc));
		return FALSE;
	}
	rc = mig_link_accept(spec->mig_fd, &intro, key, 10000, &in.link);
	if (rc == 0)
		memcpy(in.key, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "migration link from hostrpc-migrate refused: %s", g_strerror(-rc));
		return FALSE;
	}
	spec->mig_fd = -1;   /* the link's now */
	w->map = mmap(NULL, spec->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, spec->shm_fd, 0);
	if (w->map == MAP_FAILED) {
		w->map = NULL;
		rc = -errno;
		link_status(in.link, rc, "cannot map the shared memory");
		mig_link_free(in.link);
		explicit_bzero(in.key, sizeof(in.key));
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot map the shared memory: %s", g_strerror(-rc));
		return FALSE;
	}
	w->map_len = spec->shm_size;
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, spec->guest_id, spec->name,
			"incoming migration: link authenticated");

	for (;;) {
		g_autofree guint8 *buf = NULL;
		gsize len = 0;
		guint32 type = 0;

		err[0] = 0;
		rc = mig_link_recv(in.link, &type, (void **)&buf, &len, LINK_MAX, LINK_TIMEOUT_MS);
		if (rc < 0) {
			g_strlcpy(err, "link lost", sizeof(err));
			break;
		}
		if (type == HRPC_MIG_PREPARE) {
			struct hrpc_mig_prepare pr;

			if (len != sizeof(pr)) {
				rc = -EPROTO;
				break;
			}
			memcpy(&pr, buf, sizeof(pr));
			if (pr.shm_size != spec->shm_size || pr.flags || pr.reserved) {
				rc = -EINVAL;
				g_snprintf(err, sizeof(err),
					   "the guest has %" G_GUINT64_FORMAT " bytes of shared memory, "
					   "this QEMU %zu", pr.shm_size, spec->shm_size);
				break;
			}
			link_status(in.link, 0, "prepared: worker %ld", (long)getpid());
		} else if (type == HRPC_MIG_STATE_IN) {
			rc = in_state(&in, buf, len, err, sizeof(err));
			if (rc < 0)
				break;
			hrpcd_log_guest(G_LOG_LEVEL_INFO, spec->guest_id, spec->name,
					"incoming migration: state replayed (%zu bytes)", len);
			link_status(in.link, 0, "state replayed");
		} else if (type == HRPC_MIG_HASH) {
			rc = in_hashes(&in, buf, len);
			if (rc < 0)
				break;
		} else if (type == HRPC_MIG_FS_HAVE) {
			rc = in.have_state ? -EPROTO : in_fs_have(&in, buf, len);
			if (rc < 0)
				break;
		} else if (type == HRPC_MIG_FWD_OPEN) {
			rc = len ? -EPROTO : in_fwd_open(&in, err, sizeof(err));
			if (rc < 0)
				break;
			link_status(in.link, 0, "forward link up");
		} else if (type == HRPC_MIG_FWD_REMOTE || type == HRPC_MIG_FWD_REMOTE_FS) {
			rc = in.have_state ? in_fwd_remote(&in, buf, len,
							   type == HRPC_MIG_FWD_REMOTE_FS, err,
							   sizeof(err)) : -EPROTO;
			if (rc < 0)
				break;
		} else if (type == HRPC_MIG_PAGES_IN) {
			rc = in_pages(&in, buf, len);
			if (rc < 0) {
				g_strlcpy(err, "page records are not ones a host sends", sizeof(err));
				break;
			}
			link_status(in.link, 0, "%zu pages written", len / sizeof(struct hrpc_mig_page));
		} else if (type == HRPC_MIG_GO) {
			rc = in_go(&in, err, sizeof(err));
			if (rc < 0)
				break;
			link_status(in.link, 0, "guest %s served here", spec->name);
			tell_supervisor(w, HRPCD_CTL_MIG_IN_DONE, 0, "%s",
					in.sock ? "sockets, channel and session adopted" :
						  "channel and session adopted");
			mig_link_free(in.link);
			explicit_bzero(in.key, sizeof(in.key));
			hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, spec->guest_id, spec->name,
					"migrated in: channel adopted, serving");
			return TRUE;
		} else if (type == HRPC_MIG_ABORT) {
			rc = -ECANCELED;
			g_strlcpy(err, "aborted by hostrpc-migrate", sizeof(err));
			break;
		} else {
			rc = -EPROTO;
			g_snprintf(err, sizeof(err), "unexpected message %u", type);
			break;
		}
	}
	if (!err[0])
		g_strlcpy(err, g_strerror(-rc), sizeof(err));
	/* The source still serves the guest's address: leave it to it, and
	 * its connections (what an import restored here closes silently). */
	if (in.have_state && (in.st.flags & HRPC_MIG_STATE_F_IDENT))
		netident_set_up(in.iface, false);
	if (in.sock)
		outsource_sock_mig_abandon(in.sock);
	link_status(in.link, rc, "%s", err);
	mig_link_free(in.link);
	mig_link_free(in.fwd_link);
	if (in.far)
		g_ptr_array_unref(in.far);
	explicit_bzero(in.key, sizeof(in.key));
	tell_supervisor(w, HRPCD_CTL_MIG_IN_FAILED, rc, "%s", err);
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc), "incoming migration: %s", err);
	return FALSE;
}
