/* SPDX-License-Identifier: MIT */
/*
 * forward.c - one end of a forward link (forward.h; wire: migfwd.h).
 *
 * One GSource polls the link's socket and every object's descriptor.
 * Bytes move in three bounded buffers:
 *  - out: sealed frames for the link.  While it holds more than OUT_HIGH
 *    no descriptor is read, so a slow link slows the objects' writers
 *    instead of growing it.
 *  - in: what the link brought, until it holds a whole frame (at most one
 *    frame, HRPC_FWD_FRAME_MAX, beyond what was taken).
 *  - each object's pend: DATA for its descriptor, at most HRPC_FWD_WINDOW
 *    (the peer may not send more before our ACK; more breaks the link).
 * Every dispatch ends with update(), which asks for exactly the events
 * that can make progress.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/migfwd.h"
#include "migrate/forward.h"

#define OUT_HIGH   ((gsize)1 << 20)
/* A peer that acknowledges nothing for this long is gone (TCP_USER_TIMEOUT). */
#define LINK_DEAD_MS 15000
#define READ_CHUNK ((gsize)64 << 10)

typedef struct {
	uint64_t id;
	int fd;
	gpointer tag;
	GByteArray *pend;          /* from the link, for fd */
	uint32_t unacked;          /* sent, not yet acknowledged by the peer */
	uint32_t to_ack;           /* written to fd, not yet acknowledged to the peer */
	bool eof_local;            /* fd said end of file: SHUT sent */
	bool shut_remote;          /* the peer's SHUT: shut fd down once pend is out */
	bool wr_shut;              /* done */
	bool hold_parked;          /* out of the poll set while we hold */
	bool listener;             /* the remnant's copy of a listener: accepts */
	bool accepted;             /* made by an ACCEPT: its addresses below */
	uint64_t alias;            /* its name before mig_fwd_rename(): the peer may
	                            * still use it for frames under way; 0: none */
	struct hrpc_sock_addr acc_local, acc_peer;
	uint32_t extra;            /* pend's first bytes that this link's peer did not
	                            * send (a move brought them): not in its window */
	GByteArray *pre_out;       /* a move's bytes from the guest: sent before any
	                            * read from fd; NULL: none */
	uint64_t bytes_in, bytes_out;
} Obj;

/* HOLD (migfwd.h): who asked, and how far it got. */
enum hold {
	HOLD_NONE,
	HOLD_ASKED,                /* we said HOLD: our descriptors rest */
	HOLD_DONE,                 /* and the peer said HELD */
	HOLD_BY_PEER,              /* the peer said HOLD: no more DATA from us */
};

typedef struct {
	GSource base;
	mig_fwd *f;
} FwdSource;

struct mig_fwd {
	mig_link *link;
	int fd;
	char guest[64];
	GSource *src;
	gpointer link_tag;
	GByteArray *out, *in;
	GHashTable *objs;          /* id -> Obj* */
	GHashTable *aliases;       /* old id -> Obj* (renamed here, mig_fwd_rename) */
	int spare;                 /* a descriptor to give up when out of them (listeners) */
	GPtrArray *order;          /* Obj*, in the order added (listings) */
	bool hello_seen;
	bool ended;
	int err;
	uint32_t lost;             /* objects still open when the link ended */
	enum hold hold;
	uint32_t stale_held;       /* HELDs still to come for holds we resumed early */
	mig_fwd_held_fn held_fn;   /* HOLD_ASKED: once, at HELD or the link's end */
	void *held_data;
	mig_fwd_move_fn move_fn;   /* the remnant: the peer said MOVE */
	void *move_data;
	mig_fwd_accept_fn accept_fn;   /* the guest's end: the remnant accepted one */
	void *accept_data;
	mig_fwd_moved_fn moved_fn; /* MOVE said: once, at MOVED or the link's end */
	void *moved_data;
	bool moved;                /* MOVED 0: the objects live on another link now */
	bool move_asked;           /* the remnant: MOVE came, MOVED not yet sent */
	GHashTable *calls;         /* the guest's end: id -> bulk_cap, calls under way */
	GQueue replies_out;        /* the remnant: where each REPLY in `out` ends (as
	                            * out_base counts), until written */
	uint64_t out_base;         /* bytes written to the link so far */
	mig_fwd_call_fn call_fn;   /* the remnant: answers CALL */
	mig_fwd_reply_fn reply_fn; /* the guest's end: REPLY, and failures at the end */
	mig_fwd_event_fn event_fn; /* the guest's end: EVENT */
	void *call_data;
	mig_fwd_end_fn on_end;
	void *data;
};

/* Our descriptors rest: we asked the peer to hold. */
static bool resting(const mig_fwd *f)
{
	return f->hold == HOLD_ASKED || f->hold == HOLD_DONE;
}

/* ---- objects --------------------------------------------------------------------- */

/* Close fd so that its peer reads ECONNRESET. */
static void close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void obj_drop(mig_fwd *f, Obj *o, bool reset)
{
	if (o->tag)
		g_source_remove_unix_fd(f->src, o->tag);
	if (reset)
		close_reset(o->fd);
	else
		close(o->fd);
	g_ptr_array_remove(f->order, o);
	g_hash_table_remove(f->objs, &o->id);
	if (o->alias)
		g_hash_table_remove(f->aliases, &o->alias);
	g_byte_array_unref(o->pend);
	if (o->pre_out)
		g_byte_array_unref(o->pre_out);
	g_free(o);
}

static void seal(mig_fwd *f, uint32_t type, const void *a, size_t alen, const void *b,
		 size_t blen)
{
	struct iovec v[2] = { { (void *)a, alen }, { (void *)b, blen } };

	if (!f->ended)
		(void)mig_link_seal(f->link, type, v, blen ? 2 : 1, f->out);
}

/* Tell the peer and reset our end. */
static void obj_reset(mig_fwd *f, Obj *o, int err)
{
	struct hrpc_fwd_reset r = { .object = o->id, .error = err > 0 && err < 4096 ? err : EIO };

	seal(f, HRPC_FWD_RESET, &r, sizeof(r), NULL, 0);
	obj_drop(f, o, true);
}

/* Both ways at their end and everything passed on: a clean close. */
static bool obj_done(mig_fwd *f, Obj *o)
{
	if (o->eof_local && o->wr_shut) {
		obj_drop(f, o, false);
		return true;
	}
	return false;
}

static void obj_ack(mig_fwd *f, Obj *o, bool all)
{
	if (o->to_ack && (all || o->to_ack >= HRPC_FWD_WINDOW / 4)) {
		struct hrpc_fwd_ack a = { .object = o->id, .bytes = o->to_ack };

		seal(f, HRPC_FWD_ACK, &a, sizeof(a), NULL, 0);
		o->to_ack = 0;
	}
}

/* Write what the link brought; then, once the peer said SHUT, shut down. */
static bool obj_write(mig_fwd *f, Obj *o)
{
	while (o->pend->len) {
		ssize_t n = send(o->fd, o->pend->data, o->pend->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			obj_reset(f, o, errno);
			return false;
		}
		g_byte_array_remove_range(o->pend, 0, (guint)n);
		{
			uint32_t mine = MIN((uint32_t)n, o->extra);

			o->extra -= mine;   /* not the peer's: no ACK for those */
			o->to_ack += (uint32_t)n - mine;
		}
		o->bytes_in += (uint64_t)n;
	}
	obj_ack(f, o, false);
	if (!o->pend->len && o->shut_remote && !o->wr_shut) {
		o->wr_shut = true;
		if (shutdown(o->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
			obj_reset(f, o, errno);
			return false;
		}
		return !obj_done(f, o);
	}
	return true;
}

/* Read what the window allows and send it; end of file is SHUT. */
static bool obj_read(mig_fwd *f, Obj *o)
{
	static uint8_t buf[HRPC_FWD_DATA_MAX];

	/* A move's bytes from the guest go first, in the window as any. */
	while (o->pre_out && o->pre_out->len && o->unacked < HRPC_FWD_WINDOW &&
	       f->out->len < OUT_HIGH && f->hold != HOLD_BY_PEER) {
		struct hrpc_fwd_obj h = { .object = o->id };
		size_t n = MIN((size_t)o->pre_out->len,
			       MIN((size_t)HRPC_FWD_DATA_MAX, (size_t)(HRPC_FWD_WINDOW - o->unacked)));

		seal(f, HRPC_FWD_DATA, &h, sizeof(h), o->pre_out->data, n);
		g_byte_array_remove_range(o->pre_out, 0, (guint)n);
		o->unacked += (uint32_t)n;
		o->bytes_out += (uint64_t)n;
	}
	if (o->pre_out && o->pre_out->len)
		return true;
	while (!o->eof_local && o->unacked < HRPC_FWD_WINDOW && f->out->len < OUT_HIGH &&
	       f->hold != HOLD_BY_PEER) {
		size_t room = MIN(sizeof(buf), HRPC_FWD_WINDOW - o->unacked);
		ssize_t n = recv(o->fd, buf, room, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			obj_reset(f, o, errno);
			return false;
		}
		if (n == 0) {
			struct hrpc_fwd_obj s = { .object = o->id };

			o->eof_local = true;
			seal(f, HRPC_FWD_SHUT, &s, sizeof(s), NULL, 0);
			return !obj_done(f, o);
		}
		{
			struct hrpc_fwd_obj h = { .object = o->id };

			seal(f, HRPC_FWD_DATA, &h, sizeof(h), buf, (size_t)n);
		}
		o->unacked += (uint32_t)n;
		o->bytes_out += (uint64_t)n;
	}
	return true;
}

/* An address as the wire has it (sock.h); family 0 if neither IPv4 nor IPv6. */
static void addr_wire(const struct sockaddr_storage *ss, struct hrpc_sock_addr *w)
{
	memset(w, 0, sizeof(*w));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		w->family = HRPC_AF_INET;
		w->port = ntohs(a->sin_port);
		memcpy(w->addr, &a->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		w->family = HRPC_AF_INET6;
		w->port = ntohs(a->sin6_port);
		w->flowinfo = ntohl(a->sin6_flowinfo);
		memcpy(w->addr, &a->sin6_addr, 16);
		w->scope_id = a->sin6_scope_id;
	}
}

static Obj *obj_new(mig_fwd *f, uint64_t id, int fd);

static bool obj_accepted(Obj *o, const struct hrpc_fwd_accept *a)
{
	o->accepted = true;
	o->acc_local = a->local;
	o->acc_peer = a->peer;
	return true;
}

static Obj *obj_new(mig_fwd *f, uint64_t id, int fd)
{
	Obj *o = g_new0(Obj, 1);
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	o->id = id;
	o->fd = fd;
	o->pend = g_byte_array_new();
	if (resting(f))
		o->hold_parked = true;   /* polled again at RESUME */
	else
		o->tag = g_source_add_unix_fd(f->src, fd, G_IO_IN);
	g_hash_table_insert(f->objs, &o->id, o);
	g_ptr_array_add(f->order, o);
	return o;
}

/* The remnant's copy of a listener: each connection becomes an object of
 * ours, announced (ACCEPT) before any of its bytes. */
static void listener_accept(mig_fwd *f, Obj *l)
{
	for (int n = 0; n < 16 && f->hold != HOLD_BY_PEER && f->out->len < OUT_HIGH; n++) {
		struct sockaddr_storage ls, ps;
		socklen_t ll = sizeof(ls), pl = sizeof(ps);
		struct hrpc_fwd_accept a = { .listener = l->id };
		int fd = accept4(l->fd, (struct sockaddr *)&ps, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && f->spare >= 0) {
			/* Out of descriptors: the listener would stay readable and
			 * the loop spin.  Refuse this one with the spare one. */
			close(f->spare);
			fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				close_reset(fd);
			f->spare = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
			continue;
		}
		if (fd < 0)
			return;   /* EAGAIN */
		if (getsockname(fd, (struct sockaddr *)&ls, &ll) < 0) {
			close_reset(fd);
			continue;
		}
		addr_wire(&ls, &a.local);
		addr_wire(&ps, &a.peer);
		do
			a.object = (uint64_t)g_random_int() << 32 | g_random_int();
		while (!a.object || g_hash_table_contains(f->objs, &a.object));
		if (hrpc_fwd_check(HRPC_FWD_ACCEPT, &a, sizeof(a)) < 0) {
			close_reset(fd);
			continue;
		}
		seal(f, HRPC_FWD_ACCEPT, &a, sizeof(a), NULL, 0);
		obj_accepted(obj_new(f, a.object, fd), &a);
	}
}

/* poll() reports ERR and HUP whatever was asked: a failed descriptor is
 * reset; one that is closed both ways and has nothing to write is parked
 * (out of the poll set) until the peer sends something for it. */
static void obj_hangup(mig_fwd *f, Obj *o)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(o->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		obj_reset(f, o, err);
		return;
	}
	if (!o->pend->len && o->eof_local) {
		g_source_remove_unix_fd(f->src, o->tag);
		o->tag = NULL;
	}
}

/* ---- the link -------------------------------------------------------------------- */

static void end(mig_fwd *f, int err)
{
	GHashTableIter it;
	gpointer v;

	if (f->ended)
		return;
	if (err < 0)
		mig_link_break(f->link, err);
	f->ended = true;
	f->err = err;
	f->lost = g_hash_table_size(f->objs);
	g_hash_table_remove_all(f->aliases);
	if (f->hold == HOLD_ASKED && f->held_fn) {
		mig_fwd_held_fn fn = f->held_fn;

		f->held_fn = NULL;
		fn(f->held_data, err < 0 ? err : -EPIPE);
	}
	/* Every object still here failed with the link. */
	g_hash_table_iter_init(&it, f->objs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Obj *o = v;

		if (o->tag)
			g_source_remove_unix_fd(f->src, o->tag);
		close_reset(o->fd);
		g_byte_array_unref(o->pend);
		if (o->pre_out)
			g_byte_array_unref(o->pre_out);
		g_free(o);
		g_hash_table_iter_remove(&it);
	}
	g_ptr_array_set_size(f->order, 0);
	if (f->moved_fn) {
		mig_fwd_moved_fn fn = f->moved_fn;

		f->moved_fn = NULL;
		fn(f->moved_data, err < 0 ? err : -EPIPE, 0);
	}
	if (f->link_tag) {
		g_source_remove_unix_fd(f->src, f->link_tag);
		f->link_tag = NULL;
	}
}

/* One frame from the peer: 0, or -EPROTO (the link breaks). */
static int call_frame(mig_fwd *f, const uint8_t *p, size_t len);

static int frame(mig_fwd *f, uint32_t type, const uint8_t *p, size_t len)
{
	Obj *o = NULL;
	uint64_t id;

	if (hrpc_fwd_check(type, p, len) < 0)
		return -EPROTO;
	if (type == HRPC_FWD_HELLO) {
		struct hrpc_fwd_hello h;

		memcpy(&h, p, sizeof(h));
		if (f->hello_seen || strcmp(h.guest, f->guest))
			return -EPROTO;
		f->hello_seen = true;
		return 0;
	}
	if (!f->hello_seen)
		return -EPROTO;
	if (type == HRPC_FWD_BYE)
		return 1;
	if (type == HRPC_FWD_CALL)
		return call_frame(f, p, len);
	if (type == HRPC_FWD_REPLY) {
		struct hrpc_fwd_reply r;
		gpointer cap;

		memcpy(&r, p, sizeof(r));
		if (!g_hash_table_lookup_extended(f->calls, &r.id, NULL, &cap) ||
		    r.bulk_len > GPOINTER_TO_UINT(cap))
			return -EPROTO;
		g_hash_table_remove(f->calls, &r.id);
		if (f->reply_fn)
			f->reply_fn(f->call_data, r.id, r.status, p + sizeof(r), r.len,
				    r.len + sizeof(r) + p, r.bulk_len);
		return 0;
	}
	if (type == HRPC_FWD_EVENT) {
		struct hrpc_fwd_event e;

		memcpy(&e, p, sizeof(e));
		if (f->event_fn)
			f->event_fn(f->call_data, e.service, e.proc, p + sizeof(e), e.len);
		return 0;
	}
	if (type == HRPC_FWD_HOLD) {
		if (f->hold != HOLD_NONE)
			return -EPROTO;
		/* Every DATA we sent is ahead of this in f->out. */
		f->hold = HOLD_BY_PEER;
		seal(f, HRPC_FWD_HELD, NULL, 0, NULL, 0);
		return 0;
	}
	if (type == HRPC_FWD_HELD) {
		mig_fwd_held_fn fn = f->held_fn;

		if (f->stale_held) {
			/* The answer to a hold we resumed before it came (FIFO:
			 * every HOLD gets its HELD in order). */
			f->stale_held--;
			return 0;
		}
		if (f->hold != HOLD_ASKED)
			return -EPROTO;
		f->hold = HOLD_DONE;
		f->held_fn = NULL;
		if (fn)
			fn(f->held_data, 0);
		return 0;
	}
	if (type == HRPC_FWD_RESUME) {
		if (f->hold != HOLD_BY_PEER || f->move_asked)
			return -EPROTO;
		f->hold = HOLD_NONE;
		return 0;
	}
	if (type == HRPC_FWD_MOVE) {
		struct hrpc_fwd_move mv;

		if (f->hold != HOLD_BY_PEER || f->move_asked)
			return -EPROTO;
		memcpy(&mv, p, sizeof(mv));
		f->move_asked = true;
		if (f->move_fn)
			f->move_fn(f->move_data, mv.host, mv.port);
		else
			mig_fwd_moved(f, -EOPNOTSUPP, 0);
		return 0;
	}
	if (type == HRPC_FWD_ACCEPT) {
		struct hrpc_fwd_accept a;
		int fd;

		memcpy(&a, p, sizeof(a));
		if (g_hash_table_contains(f->objs, &a.object) ||
		    g_hash_table_contains(f->aliases, &a.object))
			return -EPROTO;   /* not a new name */
		fd = f->accept_fn ? f->accept_fn(f->accept_data, a.listener, a.object, &a.local,
						 &a.peer) : -ECONNREFUSED;
		if (fd < 0) {
			struct hrpc_fwd_reset r = { .object = a.object,
						    .error = -fd > 0 && -fd < 4096 ? -fd : EIO };

			seal(f, HRPC_FWD_RESET, &r, sizeof(r), NULL, 0);
			return 0;
		}
		obj_accepted(obj_new(f, a.object, fd), &a);
		return 0;
	}
	if (type == HRPC_FWD_RENAME) {
		struct hrpc_fwd_rename r;

		memcpy(&r, p, sizeof(r));
		o = g_hash_table_lookup(f->objs, &r.object);
		if (!o)
			return 0;   /* it ended here; the frame was under way */
		if (g_hash_table_contains(f->objs, &r.name))
			return -EPROTO;
		g_hash_table_steal(f->objs, &o->id);
		o->id = r.name;
		g_hash_table_insert(f->objs, &o->id, o);
		return 0;
	}
	if (type == HRPC_FWD_MOVED) {
		struct hrpc_fwd_moved md;
		mig_fwd_moved_fn fn = f->moved_fn;

		if (f->hold != HOLD_DONE || !fn)
			return -EPROTO;
		memcpy(&md, p, sizeof(md));
		f->moved_fn = NULL;
		f->moved = md.status == 0;
		fn(f->moved_data, md.status, md.nobj);
		return 0;
	}
	memcpy(&id, p, sizeof(id));
	o = g_hash_table_lookup(f->objs, &id);
	if (!o)
		o = g_hash_table_lookup(f->aliases, &id);   /* sent before our RENAME came */
	if (!o)
		return 0;   /* it ended here; the frame was under way */
	if (o->listener && type != HRPC_FWD_RESET)
		return -EPROTO;   /* a listener's copy carries no bytes */
	switch (type) {
	case HRPC_FWD_DATA:
		/* Unacknowledged: what waits for fd and what fd took since our last ACK. */
		if (o->shut_remote ||
		    (o->pend->len - o->extra) + o->to_ack + (len - 8) > HRPC_FWD_WINDOW)
			return -EPROTO;
		g_byte_array_append(o->pend, p + 8, (guint)(len - 8));
		if (!resting(f))
			obj_write(f, o);
		break;
	case HRPC_FWD_ACK: {
		struct hrpc_fwd_ack a;

		memcpy(&a, p, sizeof(a));
		if (a.bytes > o->unacked)
			return -EPROTO;
		o->unacked -= a.bytes;
		if (o->pre_out && o->pre_out->len && !resting(f))
			obj_read(f, o);   /* room for more of a move's bytes */
		break;
	}
	case HRPC_FWD_SHUT:
		if (o->shut_remote)
			return -EPROTO;
		o->shut_remote = true;
		if (!resting(f))
			obj_write(f, o);
		break;
	case HRPC_FWD_RESET:
		obj_drop(f, o, true);
		break;
	}
	return 0;
}

/* The remnant: one call, answered now (its reply is ahead of anything
 * sealed after it). */
static int call_frame(mig_fwd *f, const uint8_t *p, size_t len)
{
	struct hrpc_fwd_call c;
	struct hrpc_fwd_reply r = { 0 };
	struct mig_fwd_answer a = { .status = -ENOSYS };
	g_autofree uint8_t *bulk = NULL;
	struct mig_fwd_callmsg m;

	(void)len;
	memcpy(&c, p, sizeof(c));
	/* A peer with HRPC_FWD_CALLS calls under way has not read their
	 * replies: they are all still here.  One more is past its limit (and
	 * would make us buffer without bound). */
	if (!(c.flags & HRPC_FWD_CALL_F_ONEWAY) &&
	    g_queue_get_length(&f->replies_out) >= HRPC_FWD_CALLS)
		return -EPROTO;
	if (c.bulk_cap) {
		bulk = g_malloc(c.bulk_cap);
		memcpy(bulk, p + sizeof(c) + c.len, c.bulk_len);
	}
	m = (struct mig_fwd_callmsg){ .id = c.id, .service = c.service, .proc = c.proc,
		.oneway = (c.flags & HRPC_FWD_CALL_F_ONEWAY) != 0, .payload = p + sizeof(c),
		.len = c.len, .bulk = bulk, .bulk_len = c.bulk_len, .bulk_cap = c.bulk_cap };
	if (f->call_fn)
		f->call_fn(f->call_data, &m, &a);
	if (m.oneway)
		return 0;
	if (a.status > 0 || a.status < -4095 || a.len > HRPC_MSG_MAX_PAYLOAD ||
	    a.bulk_len > c.bulk_cap || (a.bulk_len && !a.bulk) || (a.len && !a.payload))
		a = (struct mig_fwd_answer){ .status = -EIO };
	if (a.status < 0)
		a.bulk_len = 0;
	r.id = c.id;
	r.status = a.status;
	r.len = a.len;
	r.bulk_len = a.bulk_len;
	if (!f->ended) {
		struct iovec v[3] = { { &r, sizeof(r) }, { (void *)a.payload, a.len },
				      { (void *)a.bulk, a.bulk_len } };

		if (mig_link_seal(f->link, HRPC_FWD_REPLY, v, 3, f->out) == 0)
			g_queue_push_tail(&f->replies_out,
					  GSIZE_TO_POINTER((gsize)(f->out_base + f->out->len)));
	}
	return 0;
}

/* The link ended: every call under way fails. */
static void fail_calls(mig_fwd *f)
{
	g_autoptr(GList) ids = g_hash_table_get_keys(f->calls);
	g_autofree uint64_t *copy = g_new(uint64_t, g_list_length(ids) + 1);
	guint n = 0;

	for (GList *l = ids; l; l = l->next)
		copy[n++] = *(uint64_t *)l->data;
	g_hash_table_remove_all(f->calls);
	for (guint i = 0; i < n && f->reply_fn; i++)
		f->reply_fn(f->call_data, copy[i], -EIO, NULL, 0, NULL, 0);
}

static int link_read(mig_fwd *f)
{
	/* A bounded share per dispatch: the objects' writes come next. */
	for (int round = 0; round < 16; round++) {
		guint old = f->in->len;
		ssize_t n;

		/* Never more than one frame beyond what was taken. */
		if (old >= HRPC_FWD_FRAME_MAX + 128)
			return 0;
		g_byte_array_set_size(f->in, old + READ_CHUNK);
		n = recv(f->fd, f->in->data + old, READ_CHUNK, MSG_DONTWAIT);
		g_byte_array_set_size(f->in, old + (n > 0 ? (guint)n : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		for (;;) {
			g_autofree uint8_t *p = NULL;
			size_t len;
			uint32_t type;
			int rc = mig_link_unseal(f->link, f->in, &type, (void **)&p, &len,
						 HRPC_FWD_FRAME_MAX);

			if (rc < 0)
				return rc;
			if (rc == 0)
				break;
			rc = frame(f, type, p, len);
			if (rc != 0)
				return rc;   /* 1: BYE */
		}
	}
	return 0;
}

static int link_write(mig_fwd *f)
{
	while (f->out->len) {
		ssize_t n = send(f->fd, f->out->data, f->out->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		g_byte_array_remove_range(f->out, 0, (guint)n);
		f->out_base += (uint64_t)n;
		while (!g_queue_is_empty(&f->replies_out) &&
		       GPOINTER_TO_SIZE(g_queue_peek_head(&f->replies_out)) <= f->out_base)
			g_queue_pop_head(&f->replies_out);
	}
	return 0;
}

/* Ask for the events that can make progress. */
static void update(mig_fwd *f)
{
	GHashTableIter it;
	gpointer v;

	if (f->ended)
		return;
	g_source_modify_unix_fd(f->src, f->link_tag,
				G_IO_IN | G_IO_ERR | G_IO_HUP | (f->out->len ? G_IO_OUT : 0));
	g_hash_table_iter_init(&it, f->objs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Obj *o = v;
		GIOCondition c = 0;

		if (resting(f))
			continue;   /* out of the poll set (mig_fwd_hold) */
		if (!o->tag && o->hold_parked) {   /* back from a hold */
			o->hold_parked = false;
			o->tag = g_source_add_unix_fd(f->src, o->fd, 0);
		}
		if (!o->tag) {
			if (o->pend->len)   /* parked, and now there is data for it */
				o->tag = g_source_add_unix_fd(f->src, o->fd, G_IO_OUT);
			continue;
		}
		if (!o->eof_local && o->unacked < HRPC_FWD_WINDOW && f->out->len < OUT_HIGH &&
		    f->hold != HOLD_BY_PEER)
			c |= G_IO_IN;
		if (o->pend->len && !o->listener)
			c |= G_IO_OUT;
		/* HUP and ERR always come: a reset shows as readable anyway. */
		g_source_modify_unix_fd(f->src, o->tag, c);
	}
}

static gboolean fwd_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
	mig_fwd *f = ((FwdSource *)src)->f;
	int rc = 0;

	(void)cb, (void)data;
	if (f->ended)
		return G_SOURCE_CONTINUE;
	if (g_source_query_unix_fd(src, f->link_tag) & (G_IO_IN | G_IO_ERR | G_IO_HUP))
		rc = link_read(f);
	if (rc == 0) {
		g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
		GHashTableIter it;
		gpointer v;

		/* Objects may go while we walk: walk a copy of their ids. */
		g_hash_table_iter_init(&it, f->objs);
		while (g_hash_table_iter_next(&it, NULL, &v))
			g_array_append_val(ids, ((Obj *)v)->id);
		for (guint i = 0; i < ids->len; i++) {
			Obj *o = g_hash_table_lookup(f->objs, &g_array_index(ids, uint64_t, i));
			GIOCondition c;

			if (!o || !o->tag || resting(f))
				continue;
			c = g_source_query_unix_fd(src, o->tag);
			if (o->listener) {
				if (c & (G_IO_IN | G_IO_ERR | G_IO_HUP))
					listener_accept(f, o);
				continue;
			}
			if ((c & (G_IO_OUT | G_IO_ERR | G_IO_HUP)) && o->pend->len && !obj_write(f, o))
				continue;
			if ((c & (G_IO_IN | G_IO_ERR | G_IO_HUP)) && !obj_read(f, o))
				continue;
			if (c & (G_IO_ERR | G_IO_HUP))
				obj_hangup(f, o);
		}
		rc = link_write(f);
		/* A move's bytes wait for room in f->out, not for their fd:
		 * once the link took some, offer the room to them. */
		for (guint i = 0; rc == 0 && i < ids->len && f->out->len < OUT_HIGH; i++) {
			Obj *o = g_hash_table_lookup(f->objs, &g_array_index(ids, uint64_t, i));

			if (o && o->pre_out && o->pre_out->len && !resting(f) &&
			    f->hold != HOLD_BY_PEER && o->unacked < HRPC_FWD_WINDOW &&
			    obj_read(f, o))
				rc = link_write(f);
		}
	}
	if (rc != 0) {
		int err = rc == 1 ? 0 : rc;

		end(f, err);
		fail_calls(f);
		if (f->on_end)
			f->on_end(f->data, err);   /* may free f */
		return G_SOURCE_CONTINUE;
	}
	update(f);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs fwd_funcs = { .dispatch = fwd_dispatch };

/* ---- API ------------------------------------------------------------------------- */

mig_fwd *mig_fwd_new(mig_link *link, const char *guest, GMainContext *ctx,
		     mig_fwd_end_fn on_end, void *data)
{
	mig_fwd *f = g_new0(mig_fwd, 1);
	struct hrpc_fwd_hello h = { .magic = HRPC_FWD_MAGIC, .version = HRPC_FWD_VERSION };
	int fl;

	f->link = link;
	f->fd = mig_link_fd(link);
	fl = fcntl(f->fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(f->fd, F_SETFL, fl | O_NONBLOCK);
	/* A host that vanishes without a word (a cut, a crash) must end the
	 * link in seconds, not after TCP's minutes: keep-alives on an idle
	 * link, a bound on unacknowledged data on a busy one.  Best effort
	 * (a test's socketpair has no such options). */
	{
		int one = 1, idle = 5, intvl = 2, cnt = 3;
		unsigned int ut = LINK_DEAD_MS;

		(void)setsockopt(f->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		(void)setsockopt(f->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		(void)setsockopt(f->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		(void)setsockopt(f->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
		(void)setsockopt(f->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	}
	g_strlcpy(f->guest, guest, sizeof(f->guest));
	f->out = g_byte_array_new();
	f->in = g_byte_array_new();
	f->objs = g_hash_table_new(g_int64_hash, g_int64_equal);
	f->aliases = g_hash_table_new(g_int64_hash, g_int64_equal);
	f->calls = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	f->spare = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	f->order = g_ptr_array_new();
	f->on_end = on_end;
	f->data = data;
	f->src = g_source_new(&fwd_funcs, sizeof(FwdSource));
	((FwdSource *)f->src)->f = f;
	g_source_set_name(f->src, "hostrpc forward link");
	f->link_tag = g_source_add_unix_fd(f->src, f->fd, G_IO_IN | G_IO_ERR | G_IO_HUP);
	g_strlcpy(h.guest, guest, sizeof(h.guest));
	seal(f, HRPC_FWD_HELLO, &h, sizeof(h), NULL, 0);
	update(f);
	g_source_attach(f->src, ctx);
	return f;
}

int mig_fwd_add(mig_fwd *f, uint64_t object, int fd)
{
	if (f->ended) {
		close_reset(fd);
		return f->err < 0 ? f->err : -EPIPE;
	}
	if (!object || fd < 0 || g_hash_table_contains(f->objs, &object)) {
		if (fd >= 0)
			close_reset(fd);
		return object && fd >= 0 ? -EEXIST : -EINVAL;
	}
	obj_new(f, object, fd);
	update(f);
	return 0;
}

int mig_fwd_next(mig_fwd *f, uint32_t *pos, struct mig_fwd_info *info)
{
	Obj *o;

	if (*pos >= f->order->len)
		return 0;
	o = f->order->pdata[(*pos)++];
	memset(info, 0, sizeof(*info));
	info->object = o->id;
	info->bytes_in = o->bytes_in;
	info->bytes_out = o->bytes_out;
	info->shut_in = o->shut_remote;
	info->shut_out = o->eof_local;
	info->listener = o->listener;
	info->accepted = o->accepted;
	if (o->accepted) {
		info->local = o->acc_local;
		info->peer = o->acc_peer;
	}
	return 1;
}

uint32_t mig_fwd_count(const mig_fwd *f)
{
	return f->order->len;
}

uint32_t mig_fwd_lost(const mig_fwd *f)
{
	return f->lost;
}

int mig_fwd_error(const mig_fwd *f)
{
	return f->ended ? (f->err ? f->err : -EPIPE) : 0;
}

const mig_link *mig_fwd_link(const mig_fwd *f)
{
	return f->link;
}

void mig_fwd_free(mig_fwd *f)
{
	if (!f)
		return;
	if (!f->ended) {
		seal(f, HRPC_FWD_BYE, NULL, 0, NULL, 0);
		(void)link_write(f);
		end(f, 0);
	}
	g_source_destroy(f->src);
	g_source_unref(f->src);
	mig_link_free(f->link);
	g_hash_table_unref(f->objs);
	g_hash_table_unref(f->aliases);
	g_hash_table_unref(f->calls);   /* their owner goes too: no answer */
	g_queue_clear(&f->replies_out);
	if (f->spare >= 0)
		close(f->spare);
	g_ptr_array_unref(f->order);
	g_byte_array_unref(f->out);
	g_byte_array_unref(f->in);
	g_free(f);
}

/* ---- calls (CALL, REPLY, EVENT) ----------------------------------------------------- */

void mig_fwd_set_call_fns(mig_fwd *f, mig_fwd_call_fn call, mig_fwd_reply_fn reply,
			  mig_fwd_event_fn event, void *data)
{
	f->call_fn = call;
	f->reply_fn = reply;
	f->event_fn = event;
	f->call_data = data;
}

int mig_fwd_call(mig_fwd *f, const struct mig_fwd_callmsg *c)
{
	struct hrpc_fwd_call h = { .id = c->id, .service = c->service, .proc = c->proc,
		.len = c->len, .bulk_len = c->bulk_len, .bulk_cap = c->bulk_cap,
		.flags = c->oneway ? HRPC_FWD_CALL_F_ONEWAY : 0 };
	struct iovec v[3] = { { &h, sizeof(h) }, { (void *)c->payload, c->len },
			      { c->bulk, c->bulk_len } };
	int rc;

	if (f->ended)
		return f->err < 0 ? f->err : -EPIPE;
	if (!c->id || !c->service || c->len > HRPC_MSG_MAX_PAYLOAD ||
	    c->bulk_cap > HRPC_FWD_BULK_MAX || c->bulk_len > c->bulk_cap)
		return -EINVAL;
	if (!c->oneway) {
		if (g_hash_table_size(f->calls) >= HRPC_FWD_CALLS)
			return -EBUSY;
		if (g_hash_table_contains(f->calls, &c->id))
			return -EEXIST;
	}
	rc = mig_link_seal(f->link, HRPC_FWD_CALL, v, 3, f->out);
	if (rc < 0)
		return rc;
	if (!c->oneway)
		g_hash_table_insert(f->calls, g_memdup2(&c->id, sizeof(c->id)),
				    GUINT_TO_POINTER(c->bulk_cap));
	(void)link_write(f);   /* now: the caller waits on it */
	update(f);
	return 0;
}

int mig_fwd_event(mig_fwd *f, uint16_t service, uint16_t proc, const void *payload, uint32_t len)
{
	struct hrpc_fwd_event e = { .service = service, .proc = proc, .len = len };

	if (f->ended)
		return f->err < 0 ? f->err : -EPIPE;
	if (!service || len > HRPC_MSG_MAX_PAYLOAD)
		return -EINVAL;
	seal(f, HRPC_FWD_EVENT, &e, sizeof(e), payload, len);
	update(f);
	return 0;
}

uint32_t mig_fwd_calls(const mig_fwd *f)
{
	return g_hash_table_size(f->calls);
}

/* ---- the guest moves on (HOLD, HELD, RESUME) ---------------------------------------- */

int mig_fwd_hold(mig_fwd *f, mig_fwd_held_fn fn, void *data)
{
	GHashTableIter it;
	gpointer v;

	if (f->ended)
		return f->err < 0 ? f->err : -EPIPE;
	if (f->hold != HOLD_NONE)
		return -EBUSY;
	/* Our descriptors rest from now on: out of the poll set, so that
	 * neither their bytes nor a hang-up moves anything until RESUME. */
	g_hash_table_iter_init(&it, f->objs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Obj *o = v;

		if (o->tag) {
			g_source_remove_unix_fd(f->src, o->tag);
			o->tag = NULL;
			o->hold_parked = true;
		}
	}
	f->hold = HOLD_ASKED;
	f->held_fn = fn;
	f->held_data = data;
	seal(f, HRPC_FWD_HOLD, NULL, 0, NULL, 0);
	update(f);
	return 0;
}

void mig_fwd_resume(mig_fwd *f)
{
	GHashTableIter it;
	gpointer v;

	/* Not while a MOVE is under way, nor after one: the objects are (or
	 * may be) the next host's; the link ends instead. */
	if (!resting(f) || f->moved_fn || f->moved)
		return;
	if (f->hold == HOLD_ASKED)
		f->stale_held++;   /* its HELD is still to come: not an answer to the next */
	f->hold = HOLD_NONE;
	f->held_fn = NULL;
	f->moved_fn = NULL;
	seal(f, HRPC_FWD_RESUME, NULL, 0, NULL, 0);
	/* What came while we rested goes out now (an end of file too). */
	g_hash_table_iter_init(&it, f->objs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Obj *o = v;

		if ((o->pend->len || (o->shut_remote && !o->wr_shut)) && !obj_write(f, o))
			g_hash_table_iter_init(&it, f->objs);   /* it went: walk again */
	}
	update(f);
}

bool mig_fwd_held(const mig_fwd *f)
{
	return !f->ended && f->hold == HOLD_DONE;
}

bool mig_fwd_held_by_peer(const mig_fwd *f)
{
	return !f->ended && f->hold == HOLD_BY_PEER;
}

int mig_fwd_pending(const mig_fwd *f, uint64_t object, struct mig_fwd_pending *p)
{
	Obj *o;

	if (!mig_fwd_held(f))
		return -EBUSY;
	o = g_hash_table_lookup(f->objs, &object);
	if (!o)
		return -ENOENT;
	p->fd = o->fd;
	p->pend = o->pend->data;
	p->pend_len = o->pend->len;
	p->shut = o->eof_local || o->shut_remote || o->wr_shut;
	return 0;
}

int mig_fwd_take(mig_fwd *f, uint64_t object, int *fd, GByteArray **pend)
{
	Obj *o;

	if (!mig_fwd_held_by_peer(f))
		return -EBUSY;
	o = g_hash_table_lookup(f->objs, &object);
	if (!o)
		return -ENOENT;
	if (!o->listener && (o->eof_local || o->shut_remote || o->wr_shut))
		return -ESHUTDOWN;   /* half closed: it cannot be made again */
	if (o->tag)
		g_source_remove_unix_fd(f->src, o->tag);
	*fd = o->fd;
	*pend = o->pend;
	g_ptr_array_remove(f->order, o);
	g_hash_table_remove(f->objs, &o->id);
	if (o->alias)
		g_hash_table_remove(f->aliases, &o->alias);
	if (o->pre_out)
		g_byte_array_unref(o->pre_out);
	g_free(o);
	return 0;
}

/* ---- the guest moves on to a third host (MOVE, MOVED) ------------------------------- */

void mig_fwd_set_move_fn(mig_fwd *f, mig_fwd_move_fn fn, void *data)
{
	f->move_fn = fn;
	f->move_data = data;
}

int mig_fwd_move(mig_fwd *f, const char *host, uint16_t port, mig_fwd_moved_fn fn, void *data)
{
	struct hrpc_fwd_move mv = { .port = port };

	if (!mig_fwd_held(f))
		return f->ended ? (f->err < 0 ? f->err : -EPIPE) : -EBUSY;
	if (f->moved_fn || !port || !host[0] || strlen(host) >= sizeof(mv.host))
		return -EINVAL;
	memcpy(mv.host, host, strlen(host));
	if (hrpc_fwd_check(HRPC_FWD_MOVE, &mv, sizeof(mv)) < 0)
		return -EINVAL;
	f->moved_fn = fn;
	f->moved_data = data;
	seal(f, HRPC_FWD_MOVE, &mv, sizeof(mv), NULL, 0);
	update(f);
	return 0;
}

void mig_fwd_moved(mig_fwd *f, int status, uint32_t nobj)
{
	struct hrpc_fwd_moved md = { .status = status < 0 && status >= -4095 ? status :
					      (status ? -EIO : 0),
				     .nobj = status ? 0 : nobj };

	seal(f, HRPC_FWD_MOVED, &md, sizeof(md), NULL, 0);
	if (md.status)
		f->move_asked = false;   /* RESUME may come (or another MOVE) */
	if (!f->ended)
		update(f);
}

uint32_t mig_fwd_transfer(mig_fwd *from, mig_fwd *to)
{
	g_autoptr(GPtrArray) objs = g_ptr_array_new();
	uint32_t moved = 0;

	if (!mig_fwd_held_by_peer(from) || to->ended)
		return 0;
	for (guint i = 0; i < from->order->len; i++)
		g_ptr_array_add(objs, from->order->pdata[i]);
	for (guint i = 0; i < objs->len; i++) {
		Obj *o = objs->pdata[i];

		if (o->eof_local || o->shut_remote || o->wr_shut ||
		    g_hash_table_contains(to->objs, &o->id)) {
			/* Half closed: the next host has no stand-in for it. */
			obj_reset(from, o, ECONNRESET);
			continue;
		}
		if (o->tag)
			g_source_remove_unix_fd(from->src, o->tag);
		g_ptr_array_remove(from->order, o);
		g_hash_table_remove(from->objs, &o->id);
		if (o->alias) {
			g_hash_table_remove(from->aliases, &o->alias);
			o->alias = 0;
		}
		/* A new peer: nothing of this link under way yet; what the old
		 * peer sent and fd has not taken is not in the new one's window. */
		o->unacked = 0;
		o->to_ack = 0;
		o->extra = o->pend->len;
		o->hold_parked = false;
		o->tag = g_source_add_unix_fd(to->src, o->fd, G_IO_IN);
		g_hash_table_insert(to->objs, &o->id, o);
		g_ptr_array_add(to->order, o);
		moved++;
	}
	update(to);
	update(from);
	return moved;
}

int mig_fwd_add_moved(mig_fwd *f, uint64_t object, int fd, const void *in, size_t in_len,
		      const void *out, size_t out_len)
{
	Obj *o;
	int rc = mig_fwd_add(f, object, fd);

	if (rc < 0)
		return rc;
	o = g_hash_table_lookup(f->objs, &object);
	if (in_len) {
		g_byte_array_append(o->pend, in, (guint)in_len);
		o->extra = (uint32_t)in_len;
	}
	if (out_len) {
		o->pre_out = g_byte_array_new();
		g_byte_array_append(o->pre_out, out, (guint)out_len);
	}
	if (!resting(f)) {
		if (o->pend->len && !obj_write(f, o))
			return 0;
		obj_read(f, o);
	}
	update(f);
	return 0;
}

/* ---- listeners (ACCEPT, RENAME) ------------------------------------------------------ */

int mig_fwd_add_listener(mig_fwd *f, uint64_t object, int fd)
{
	Obj *o;
	int rc = mig_fwd_add(f, object, fd);

	if (rc < 0)
		return rc;
	o = g_hash_table_lookup(f->objs, &object);
	o->listener = true;
	update(f);
	return 0;
}

void mig_fwd_set_accept_fn(mig_fwd *f, mig_fwd_accept_fn fn, void *data)
{
	f->accept_fn = fn;
	f->accept_data = data;
}

int mig_fwd_rename(mig_fwd *f, uint64_t object, uint64_t name)
{
	struct hrpc_fwd_rename r = { .object = object, .name = name };
	Obj *o = g_hash_table_lookup(f->objs, &object);

	if (!o || !name)
		return -ENOENT;
	if (g_hash_table_contains(f->objs, &name) || g_hash_table_contains(f->aliases, &name))
		return -EEXIST;
	g_hash_table_steal(f->objs, &o->id);
	if (o->alias)
		g_hash_table_remove(f->aliases, &o->alias);
	o->alias = o->id;   /* frames the peer sent before it read RENAME */
	g_hash_table_insert(f->aliases, &o->alias, o);
	o->id = name;
	g_hash_table_insert(f->objs, &o->id, o);
	seal(f, HRPC_FWD_RENAME, &r, sizeof(r), NULL, 0);
	update(f);
	return 0;
}

bool mig_fwd_has(const mig_fwd *f, uint64_t object)
{
	return g_hash_table_contains(f->objs, &object);
}

void mig_fwd_forget(mig_fwd *f, uint64_t object, int err)
{
	struct hrpc_fwd_reset r = { .object = object, .error = err > 0 && err < 4096 ? err : EIO };
	Obj *o = g_hash_table_lookup(f->objs, &object);

	if (o) {
		obj_reset(f, o, err);
	} else {
		seal(f, HRPC_FWD_RESET, &r, sizeof(r), NULL, 0);
	}
	if (!f->ended)
		update(f);
}
