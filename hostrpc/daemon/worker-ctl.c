/* SPDX-License-Identifier: MIT */
/* worker-ctl.c - the supervisor's end of each worker's control channel
 * (worker-ctl.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/daemon/worker-ctl.h"

typedef struct Chan Chan;

typedef struct {
	Chan *chan;
	guint32 seq;
	HrpcdWorkerCtlDone done;
	gpointer data;
	GSource *timer;
} Request;

/* One worker's channel. */
struct Chan {
	HrpcdWorkerCtl *ctl;
	guint32 guest_id;
	int fd;
	GSource *src;
	GQueue pending;         /* Request, oldest first */
};

struct _HrpcdWorkerCtl {
	guint timeout_ms;
	GMainContext *ctx;
	GHashTable *chans;      /* guest id -> Chan */
	guint32 next_seq;
	char *buf;              /* HRPCD_CTL_LISTING_MAX + header */
	HrpcdWorkerCtlMigFn mig_fn;
	gpointer mig_data;
};

gsize hrpcd_worker_ctl_sanitize(char *buf, gsize len, gboolean truncated)
{
	const gsize mark = sizeof(HRPCD_CTL_TRUNCATED) - 1;

	if (len > HRPCD_CTL_LISTING_MAX) {
		len = HRPCD_CTL_LISTING_MAX;
		truncated = TRUE;
	}
	for (gsize i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c > 0x7e)
			buf[i] = '?';
	}
	if (truncated) {
		if (len > HRPCD_CTL_LISTING_MAX - mark)
			len = HRPCD_CTL_LISTING_MAX - mark;
		memcpy(buf + len, HRPCD_CTL_TRUNCATED, mark);
		len += mark;
	}
	return len;
}

/* ---- requests ---------------------------------------------------------------- */

/* Takes `r` off its channel and answers it. */
static void request_finish(Request *r, int status, const char *text, gsize len)
{
	if (r->chan)
		g_queue_remove(&r->chan->pending, r);
	if (r->timer) {
		g_source_destroy(r->timer);
		g_source_unref(r->timer);
	}
	r->done(status, text, len, r->data);
	g_free(r);
}

static gboolean request_timeout(gpointer data)
{
	Request *r = data;

	g_source_unref(r->timer);
	r->timer = NULL;
	request_finish(r, -ETIMEDOUT, NULL, 0);
	return G_SOURCE_REMOVE;
}

/* Answers from an idle source, so the caller never sees its callback run
 * inside its own call. */
static gboolean request_fail_idle(gpointer data)
{
	Request *r = data;

	r->done(-ENODATA, NULL, 0, r->data);
	g_free(r);
	return G_SOURCE_REMOVE;
}

static void chan_fail_all(Chan *c, int status)
{
	Request *r;

	while ((r = g_queue_peek_head(&c->pending)))
		request_finish(r, status, NULL, 0);
}

/* ---- workers' ends -------------------------------------------------------------- */

static void chan_free(gpointer data)
{
	Chan *c = data;

	chan_fail_all(c, -ENODATA);
	if (c->src) {
		g_source_destroy(c->src);
		g_source_unref(c->src);
	}
	close(c->fd);
	g_free(c);
}

static Request *chan_find(Chan *c, guint32 seq)
{
	for (GList *l = c->pending.head; l; l = l->next) {
		Request *r = l->data;

		if (r->seq == seq)
			return r;
	}
	return NULL;
}

/* One datagram from the worker.  FALSE: nothing more to read. */
static gboolean chan_read_one(Chan *c)
{
	char *buf = c->ctl->buf;
	const gsize cap = sizeof(struct hrpcd_ctl_msg) + HRPCD_CTL_LISTING_MAX;
	struct hrpcd_ctl_msg h;
	ssize_t n;
	gsize len;
	Request *r;

	do
		n = recv(c->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return FALSE;
	if ((gsize)n < sizeof(h)) {
		g_debug("guest %u: short control message dropped", c->guest_id);
		return TRUE;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.type == HRPCD_CTL_MIGRATION) {
		char text[HRPCD_CTL_MIG_TEXT_MAX + 1];
		gsize tl = MIN(MIN((gsize)n, cap) - sizeof(h), (gsize)HRPCD_CTL_MIG_TEXT_MAX);

		memcpy(text, buf + sizeof(h), tl);
		tl = hrpcd_worker_ctl_sanitize(text, tl, FALSE);
		text[tl] = 0;
		for (gsize i = 0; i < tl; i++)
			if (text[i] == '\n' || text[i] == '\t')
				text[i] = ' ';
		if (c->ctl->mig_fn)
			c->ctl->mig_fn(c->guest_id, h.seq,
				       h.status > 0 || h.status < -4095 ? -EIO : h.status, text,
				       c->ctl->mig_data);
		return TRUE;
	}
	r = h.type == HRPCD_CTL_LIST_SOCKETS_REPLY ? chan_find(c, h.seq) : NULL;
	if (!r) {
		g_debug("guest %u: unexpected control message dropped", c->guest_id);
		return TRUE;
	}
	if (h.status > 0 || h.status < -4095) {
		request_finish(r, -EIO, NULL, 0);
		return TRUE;
	}
	if (h.status < 0) {
		request_finish(r, h.status, NULL, 0);
		return TRUE;
	}
	/* What came, not what the header claims. */
	len = hrpcd_worker_ctl_sanitize(buf + sizeof(h), MIN((gsize)n, cap) - sizeof(h),
					(gsize)n > cap);
	request_finish(r, 0, buf + sizeof(h), len);
	return TRUE;
}

static gboolean chan_event(gint fd, GIOCondition cond, gpointer data)
{
	Chan *c = data;

	/* A few at a time: a chatty worker cannot hold the loop. */
	for (int i = 0; i < HRPCD_CTL_MAX_PENDING * 2; i++)
		if (!chan_read_one(c))
			break;
	if (cond & (G_IO_HUP | G_IO_ERR)) {
		/* The worker is gone; the next one gets a fresh channel. */
		chan_fail_all(c, -ENODATA);
		g_source_unref(c->src);
		c->src = NULL;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* ---- life cycle ------------------------------------------------------------------ */

HrpcdWorkerCtl *hrpcd_worker_ctl_new(guint timeout_ms, GMainContext *ctx)
{
	HrpcdWorkerCtl *ctl = g_new0(HrpcdWorkerCtl, 1);

	ctl->timeout_ms = timeout_ms ? timeout_ms : HRPCD_CTL_DEFAULT_TIMEOUT_MS;
	ctl->ctx = ctx ? g_main_context_ref(ctx) : NULL;
	ctl->chans = g_hash_table_new_full(NULL, NULL, NULL, chan_free);
	ctl->buf = g_malloc(sizeof(struct hrpcd_ctl_msg) + HRPCD_CTL_LISTING_MAX);
	return ctl;
}

void hrpcd_worker_ctl_free(HrpcdWorkerCtl *ctl)
{
	GHashTableIter it;
	gpointer v;

	if (!ctl)
		return;
	g_hash_table_iter_init(&it, ctl->chans);
	while (g_hash_table_iter_next(&it, NULL, &v))
		chan_fail_all(v, -ECANCELED);
	g_hash_table_destroy(ctl->chans);
	if (ctl->ctx)
		g_main_context_unref(ctl->ctx);
	g_free(ctl->buf);
	g_free(ctl);
}

int hrpcd_worker_ctl_open(HrpcdWorkerCtl *ctl, guint32 guest_id, GError **error)
{
	int sv[2];
	Chan *c;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;

		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
			    "cannot make the control channel: %s", g_strerror(e));
		return -1;
	}
	c = g_new0(Chan, 1);
	c->ctl = ctl;
	c->guest_id = guest_id;
	c->fd = sv[0];
	g_queue_init(&c->pending);
	c->src = g_unix_fd_source_new(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(c->src, G_SOURCE_FUNC(chan_event), c, NULL);
	g_source_set_name(c->src, "hostrpcd-worker-ctl");
	g_source_attach(c->src, ctl->ctx);
	/* Replaces (and frees) the previous worker's. */
	g_hash_table_replace(ctl->chans, GUINT_TO_POINTER(guest_id), c);
	return sv[1];
}

void hrpcd_worker_ctl_release(HrpcdWorkerCtl *ctl, guint32 guest_id)
{
	if (ctl)
		g_hash_table_remove(ctl->chans, GUINT_TO_POINTER(guest_id));
}

void hrpcd_worker_ctl_set_migration_cb(HrpcdWorkerCtl *ctl, HrpcdWorkerCtlMigFn fn, gpointer data)
{
	ctl->mig_fn = fn;
	ctl->mig_data = data;
}

int hrpcd_worker_ctl_pass_port(HrpcdWorkerCtl *ctl, guint32 guest_id, int fd)
{
	return hrpcd_worker_ctl_pass_fd(ctl, guest_id, HRPCD_CTL_MIGRATE_PORT, fd);
}

int hrpcd_worker_ctl_pass_fd(HrpcdWorkerCtl *ctl, guint32 guest_id, guint32 type, int fd)
{
	Chan *c = g_hash_table_lookup(ctl->chans, GUINT_TO_POINTER(guest_id));
	struct hrpcd_ctl_msg m = { .type = type };
	int rc;

	if (!c || !c->src)
		return -ENODATA;
	m.seq = ++ctl->next_seq;
	/* No answer: the worker speaks to hostrpc-migrate on the port. */
	rc = hrpc_unix_send(c->fd, &m, sizeof(m), &fd, 1);
	return rc < 0 ? rc : 0;
}

int hrpcd_worker_ctl_send(HrpcdWorkerCtl *ctl, guint32 guest_id, guint32 type, int status,
			  const void *payload, gsize len, int fd)
{
	Chan *c = g_hash_table_lookup(ctl->chans, GUINT_TO_POINTER(guest_id));
	struct hrpcd_ctl_msg m = { .type = type, .status = status, .len = (guint32)len };
	g_autofree guint8 *buf = g_malloc(sizeof(m) + len);
	int rc;

	if (!c || !c->src)
		return -ENODATA;
	m.seq = ++ctl->next_seq;
	memcpy(buf, &m, sizeof(m));
	if (len)
		memcpy(buf + sizeof(m), payload, len);
	rc = hrpc_unix_send(c->fd, buf, sizeof(m) + len, fd >= 0 ? &fd : NULL, fd >= 0);
	explicit_bzero(buf, sizeof(m) + len);
	return rc < 0 ? rc : 0;
}

static int ask(HrpcdWorkerCtl *ctl, guint32 guest_id, guint flags,
	       const struct hrpcd_ctl_mem_act *act, HrpcdWorkerCtlDone done, gpointer data)
{
	Chan *c = g_hash_table_lookup(ctl->chans, GUINT_TO_POINTER(guest_id));
	struct {
		struct hrpcd_ctl_msg m;
		struct hrpcd_ctl_mem_act act;
	} msg = { .m = { .type = HRPCD_CTL_LIST_SOCKETS } };
	struct hrpcd_ctl_msg m = { .type = HRPCD_CTL_LIST_SOCKETS };
	gsize mlen = sizeof(m);
	Request *r;
	ssize_t n;

	if (!c || !c->src)
		return -ENODATA;
	if (c->pending.length >= HRPCD_CTL_MAX_PENDING)
		return -EBUSY;
	m.seq = ++ctl->next_seq;
	m.status = (gint32)(flags & (HRPCD_CTL_F_JSON | HRPCD_CTL_F_FILES | HRPCD_CTL_F_LOCATIONS |
				     HRPCD_CTL_F_MEMORY));
	msg.m = m;
	if (act) {
		msg.act = *act;
		mlen = sizeof(msg);
	}
	r = g_new0(Request, 1);
	r->seq = m.seq;
	r->done = done;
	r->data = data;
	do
		n = send(c->fd, &msg, mlen, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)mlen) {
		/* Gone, or so far behind that its queue is full. */
		GSource *idle = g_idle_source_new();

		g_source_set_callback(idle, request_fail_idle, r, NULL);
		g_source_attach(idle, ctl->ctx);
		g_source_unref(idle);
		return 0;
	}
	r->chan = c;
	r->timer = g_timeout_source_new(ctl->timeout_ms);
	g_source_set_callback(r->timer, request_timeout, r, NULL);
	g_source_attach(r->timer, ctl->ctx);
	g_queue_push_tail(&c->pending, r);
	return 0;
}

int hrpcd_worker_ctl_list_sockets(HrpcdWorkerCtl *ctl, guint32 guest_id, guint flags,
				  HrpcdWorkerCtlDone done, gpointer data)
{
	return ask(ctl, guest_id, flags, NULL, done, data);
}

int hrpcd_worker_ctl_memory(HrpcdWorkerCtl *ctl, guint32 guest_id, guint flags,
			    const struct hrpcd_ctl_mem_act *act, HrpcdWorkerCtlDone done,
			    gpointer data)
{
	return ask(ctl, guest_id, flags | HRPCD_CTL_F_MEMORY, act, done, data);
}
