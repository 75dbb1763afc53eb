/* SPDX-License-Identifier: MIT */
/*
 * server.c - the service registry and the serving end of a channel.
 *
 * Everything that arrives is a guest's word: a message that cannot be
 * framed, a forged ring index or a kind a server never receives fences the
 * connection for good (no more processing, shared state says FENCED);
 * a well-framed call with bad contents gets an error reply.  Nothing here
 * exits or aborts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/chan.h"
#include "hostrpc/control.h"
#include "hostrpc/ring.h"
#include "hostrpc/vport.h"

#define MAX_SERVICES 64
#define MAX_RECORD HRPC_RECORD_SIZE(HRPC_MSG_MAX_PAYLOAD)
/* Calls a conn may have deferred at once (hrpc_conn_defer()). */
#define MAX_DEFERRED 64

/* A call whose handler answers later: what its reply needs of it. */
struct deferred {
	uint64_t token;      /* 0: a free slot */
	struct hrpc_msg_hdr call;
	uint32_t max_len;    /* the reply's payload, at most */
};

struct service {
	uint16_t id;
	char name[32];
	hrpc_handler_fn fn;
	void *opaque;
};

struct hrpc_server {
	char label[64];
	struct service svc[MAX_SERVICES];
	unsigned int nsvc;
};

struct hrpc_conn {
	hrpc_server *srv;
	hrpc_chan *ch;
	uint32_t guest_id;
	bool negotiated;
	bool closed;
	bool blocked;        /* waiting for room in the response ring */
	uint16_t revision;
	uint64_t features;
	int fenced;
	char reason[160];
	void (*fence_fn)(void *data); /* hrpc_conn_set_fence_notify() */
	void *fence_data;             /* ours: fence_destroy() when done */
	void (*fence_destroy)(void *data);
	char peer[64];
	/* Deferred calls; `reserved` is the room their replies are sure of
	 * in the response ring (no call is taken, no event sent into it). */
	struct deferred deferred[MAX_DEFERRED];
	unsigned int ndeferred;
	uint64_t next_token;
	long reserved;
	bool defer_ok;       /* inside a handler whose call may be deferred */
	uint64_t defer_token;   /* hrpc_conn_defer() during this handler */
	uint8_t *vport_bulk; /* private bulk buffer on stream transports, from the first bulk call */
	uint8_t *scratch;
	size_t scratch_cap;
	/* HRPC_MSG_MAX_PAYLOAD each, zeroed (a reply never carries another
	 * conn's old bytes), apart from the struct, which so stays small
	 * enough for an allocator's pools rather than a mapping of its own.
	 * Payload structs hold u64 fields: services cast these, and malloc's
	 * alignment is enough. */
	uint8_t *req;
	uint8_t *rep;
};

/* ---- registry ----------------------------------------------------------- */

hrpc_server *hrpc_server_new(const char *label)
{
	hrpc_server *s = calloc(1, sizeof(*s));

	if (s)
		snprintf(s->label, sizeof(s->label), "%s", label ? label : "hostrpc");
	return s;
}

void hrpc_server_free(hrpc_server *s)
{
	free(s);
}

static struct service *lookup(hrpc_server *s, uint16_t id)
{
	for (unsigned int i = 0; i < s->nsvc; i++)
		if (s->svc[i].id == id)
			return &s->svc[i];
	return NULL;
}

int hrpc_server_register(hrpc_server *s, uint16_t service, const char *name,
			 hrpc_handler_fn fn, void *opaque)
{
	struct service *v;

	if (!fn || service == HRPC_SVC_CONTROL)
		return -EINVAL;
	if (lookup(s, service))
		return -EEXIST;
	if (s->nsvc == MAX_SERVICES)
		return -ENOSPC;
	v = &s->svc[s->nsvc++];
	v->id = service;
	snprintf(v->name, sizeof(v->name), "%s", name ? name : "?");
	v->fn = fn;
	v->opaque = opaque;
	return 0;
}

const char *hrpc_server_service_name(hrpc_server *s, uint16_t service)
{
	struct service *v = lookup(s, service);

	if (service == HRPC_SVC_CONTROL)
		return "control";
	return v ? v->name : NULL;
}

/* ---- connection --------------------------------------------------------- */

int hrpc_conn_new(hrpc_server *s, hrpc_chan *ch, uint32_t guest_id, hrpc_conn **out)
{
	hrpc_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		hrpc_chan_free(ch);
		return -ENOMEM;
	}
	c->srv = s;
	c->ch = ch;
	c->guest_id = guest_id;
	ch->stats.guest_id = guest_id;
	c->req = calloc(1, HRPC_MSG_MAX_PAYLOAD);
	c->rep = calloc(1, HRPC_MSG_MAX_PAYLOAD);
	if (!c->req || !c->rep) {
		hrpc_conn_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void hrpc_conn_free(hrpc_conn *c)
{
	if (!c)
		return;
	if (!c->fenced && c->ch->ops->set_state)
		c->ch->ops->set_state(c->ch, HRPC_SHM_STATE_CLOSED);
	hrpc_conn_set_fence_notify(c, NULL, NULL, NULL);
	hrpc_chan_free(c->ch);
	free(c->vport_bulk);
	free(c->scratch);
	free(c->req);
	free(c->rep);
	free(c);
}

static int fence(hrpc_conn *c, const char *why, int err)
{
	if (!c->fenced) {
		c->fenced = -EPROTO;
		snprintf(c->reason, sizeof(c->reason), "%s (%s)", why, strerror(-err));
		c->ch->ops->set_state(c->ch, HRPC_SHM_STATE_FENCED);
		if (c->fence_fn)
			c->fence_fn(c->fence_data);
	}
	return c->fenced;
}

void hrpc_conn_set_fence_notify(hrpc_conn *c, void (*fn)(void *data), void *data,
				void (*destroy)(void *data))
{
	void (*old_destroy)(void *data) = c->fence_destroy;
	void *old_data = c->fence_data;

	c->fence_fn = fn;
	c->fence_data = fn ? data : NULL;
	c->fence_destroy = fn ? destroy : NULL;
	if (old_destroy)
		old_destroy(old_data);
	if (!fn && destroy)
		destroy(data);
}

int hrpc_conn_fence(hrpc_conn *c, const char *why)
{
	return fence(c, why, -EPROTO);
}

static int send_reply(hrpc_conn *c, const struct hrpc_msg_hdr *call, int status,
		      const struct hrpc_reply *rep, const uint8_t *bulk)
{
	struct hrpc_msg_hdr h;
	int rc;

	hrpc_msg_init(&h, HRPC_KIND_REPLY, call->service, call->proc, call->call_id,
		      rep ? rep->len : 0);
	h.status = status;
	if (rep && rep->bulk_len) {
		h.flags |= HRPC_MSG_F_BULK;
		h.bulk_off = c->ch->data ? call->bulk_off + rep->bulk_pos : 0;
		h.bulk_len = rep->bulk_len;
	}
	rc = hrpc_chan_send(c->ch, &h, rep ? rep->payload : NULL,
			    bulk && rep ? bulk + rep->bulk_pos : NULL);
	if (rc < 0)
		return rc;
	c->ch->stats.replies++;
	c->ch->stats.bytes_out += HRPC_MSG_HDR_SIZE + h.len + h.bulk_len;
	if (status)
		c->ch->stats.errors++;
	return 0;
}

static int control(hrpc_conn *c, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_control_hello *hello = req->payload;
	struct hrpc_control_welcome *w = rep->payload;
	unsigned int lo, hi;

	switch (req->hdr->proc) {
	case HRPC_CONTROL_HELLO:
		if (req->len != sizeof(*hello) || hello->reserved)
			return -EINVAL;
		lo = hello->min_revision > HRPC_REVISION_MIN ? hello->min_revision : HRPC_REVISION_MIN;
		hi = hello->max_revision < HRPC_REVISION_MAX ? hello->max_revision : HRPC_REVISION_MAX;
		if (lo > hi)
			return -EPROTONOSUPPORT;
		memset(w, 0, sizeof(*w));
		w->revision = (uint16_t)hi;
		w->max_payload = HRPC_MSG_MAX_PAYLOAD;
		w->features = hello->features & (HRPC_FEAT_EVENTS | HRPC_FEAT_BULK);
		w->guest_id = c->guest_id;
		w->data_size = c->ch->data_size;
		snprintf(w->server, sizeof(w->server), "%s", c->srv->label);
		rep->len = sizeof(*w);
		/* The label is informative; keep it printable. */
		for (size_t i = 0; i < sizeof(c->peer) - 1; i++) {
			char ch = hello->name[i];

			if (!ch)
				break;
			c->peer[i] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
			c->peer[i + 1] = 0;
		}
		c->revision = (uint16_t)hi;
		c->features = w->features;
		c->negotiated = true;
		return 0;
	case HRPC_CONTROL_BYE:
		c->closed = true;
		return 0;
	default:
		return -ENOSYS;
	}
}

static struct deferred *find_deferred(hrpc_conn *c, uint64_t token)
{
	for (unsigned int i = 0; token && i < MAX_DEFERRED; i++)
		if (c->deferred[i].token == token)
			return &c->deferred[i];
	return NULL;
}

static void drop_deferred(hrpc_conn *c, uint64_t token)
{
	struct deferred *d = find_deferred(c, token);

	if (!d)
		return;
	c->reserved -= (long)HRPC_RECORD_SIZE(d->max_len);
	c->ndeferred--;
	memset(d, 0, sizeof(*d));
}

int hrpc_conn_defer(const struct hrpc_req *req, uint32_t max_len, uint64_t *token)
{
	hrpc_conn *c = req->conn;
	struct deferred *d = NULL;

	if (!c || !c->defer_ok || c->defer_token)
		return -EINVAL;
	if (!c->ch->data)
		return -EOPNOTSUPP;   /* a stream's bulk buffer is the next call's */
	if (max_len > HRPC_MSG_MAX_PAYLOAD)
		return -EINVAL;
	for (unsigned int i = 0; i < MAX_DEFERRED && !d; i++)
		if (!c->deferred[i].token)
			d = &c->deferred[i];
	if (!d)
		return -EBUSY;
	d->token = ++c->next_token;
	d->call = *req->hdr;
	d->max_len = max_len;
	c->ndeferred++;
	/* The record this call was taken with holds the reply's room until
	 * the reply goes. */
	c->reserved += (long)HRPC_RECORD_SIZE(max_len);
	c->defer_token = d->token;
	*token = d->token;
	return 0;
}

int hrpc_conn_reply_deferred(hrpc_conn *c, uint64_t token, int status, const void *payload,
			     uint32_t len, const void *bulk, uint32_t bulk_len)
{
	struct deferred *d = find_deferred(c, token);
	struct hrpc_msg_hdr call;
	struct hrpc_reply rep = { .payload = (void *)payload, .len = len };
	int rc;

	if (!d)
		return -ENOENT;
	if (c->defer_ok && c->defer_token == token)
		return -EINVAL;   /* from its own handler: return the status */
	call = d->call;
	if (status > 0 || status < -4095 || len > d->max_len ||
	    bulk_len > ((call.flags & HRPC_MSG_F_BULK) ? call.bulk_cap : 0)) {
		rep.len = 0;
		bulk_len = 0;
		status = -EIO;
	}
	if (status < 0)
		bulk_len = 0;
	drop_deferred(c, token);
	if (c->fenced)
		return c->fenced;
	if (call.flags & HRPC_MSG_F_ONEWAY)
		return 0;
	/* The call's bulk region was checked when it came, and the data
	 * area does not move: the reply's bytes go at its start. */
	if (bulk_len)
		memcpy(c->ch->data + call.bulk_off, bulk, bulk_len);
	rep.bulk_len = bulk_len;
	rc = send_reply(c, &call, status, &rep, c->ch->data + call.bulk_off);
	if (rc == -EPROTO)
		return fence(c, "guest forged the response ring's consumer index", rc);
	if (rc < 0)
		return fence(c, "cannot send reply", rc);
	return c->ch->ops->flush(c->ch);
}

static int handle_call(hrpc_conn *c, const struct hrpc_msg_hdr *h, const void *stream_bulk)
{
	struct hrpc_reply rep = { .payload = c->rep };
	struct hrpc_req req = {
		.hdr = h, .payload = c->req, .len = h->len, .conn = c,
	};
	struct service *svc;
	int status;

	if (h->flags & HRPC_MSG_F_BULK) {
		if (c->ch->data) {
			status = hrpc_bulk_check(c->ch->data_size, h->bulk_off, h->bulk_len, h->bulk_cap);
			if (status < 0)
				goto reply;
			req.bulk = c->ch->data + h->bulk_off;
		} else {
			/* Taken at the first bulk call: most connections never
			 * make one.  Framing already bounded bulk_len <= bulk_cap
			 * <= the buffer. */
			if (!c->vport_bulk && !(c->vport_bulk = malloc(HRPC_VPORT_MAX_BULK))) {
				status = -ENOMEM;
				goto reply;
			}
			memcpy(c->vport_bulk, stream_bulk, h->bulk_len);
			req.bulk = c->vport_bulk;
		}
		req.bulk_len = h->bulk_len;
		req.bulk_cap = h->bulk_cap;
		c->ch->stats.bytes_in += h->bulk_len;
	} else if (h->bulk_off || h->bulk_len || h->bulk_cap) {
		status = -EINVAL;
		goto reply;
	}

	if (h->service == HRPC_SVC_CONTROL) {
		status = control(c, &req, &rep);
	} else if (!c->negotiated) {
		status = -ENOTCONN;
	} else if (!(svc = lookup(c->srv, h->service))) {
		status = -ENOENT;
	} else {
		c->defer_ok = true;
		c->defer_token = 0;
		status = svc->fn(svc->opaque, &req, &rep);
		c->defer_ok = false;
		if (status == HRPC_DEFERRED && c->defer_token)
			return 0;   /* hrpc_conn_reply_deferred() answers */
		if (c->defer_token)
			drop_deferred(c, c->defer_token);   /* it answered after all */
		if (status > 0 || status < -4095)
			status = -EIO;
		/* A handler's reply must stay inside what it was given. */
		if (rep.len > HRPC_MSG_MAX_PAYLOAD ||
		    (rep.bulk_len && (!req.bulk || rep.bulk_pos > req.bulk_cap ||
				      rep.bulk_len > req.bulk_cap - rep.bulk_pos))) {
			rep.len = rep.bulk_len = 0;
			status = -EIO;
		}
	}
reply:
	if (status < 0 && h->service != HRPC_SVC_CONTROL)
		rep.bulk_len = 0;
	if (h->flags & HRPC_MSG_F_ONEWAY)
		return 0;
	return send_reply(c, h, status, &rep, req.bulk);
}

int hrpc_conn_process(hrpc_conn *c)
{
	struct hrpc_msg_hdr h;
	const void *bulk;
	int n = 0, rc = 0;

	if (c->fenced)
		return c->fenced;
	if (c->closed)
		return -EPIPE;
	c->blocked = false;
	for (;;) {
		long space = c->ch->ops->space(c->ch);

		if (space < 0) {
			rc = fence(c, "guest forged the response ring's consumer index", (int)space);
			break;
		}
		/* Take a call only when its largest possible reply fits: a guest
		 * that does not drain replies stops being served, it never makes
		 * us buffer. */
		if (space < (long)MAX_RECORD + c->reserved) {
			rc = c->ch->ops->arm_space(c->ch, (uint32_t)(MAX_RECORD + c->reserved));
			if (rc < 0) {
				rc = fence(c, "guest forged the response ring's consumer index", rc);
				break;
			}
			if (rc) {
				c->blocked = true;
				rc = 0;
				break;
			}
			continue;
		}
		rc = hrpc_chan_recv(c->ch, &h, c->req, &bulk);
		if (rc == -EAGAIN) {
			rc = 0;
			break;
		}
		if (rc == -EPIPE)
			break;
		if (rc < 0) {
			rc = fence(c, "guest broke the ring or frame format", rc);
			break;
		}
		n++;
		c->ch->stats.calls++;
		c->ch->stats.bytes_in += HRPC_MSG_HDR_SIZE + h.len;
		rc = hrpc_msg_check(&h);
		if (rc == -EPROTONOSUPPORT && h.kind == HRPC_KIND_CALL) {
			struct hrpc_msg_hdr r = h;

			/* Answer in our own version so the peer learns it. */
			r.version = HRPC_PROTO_VERSION;
			r.flags &= ~HRPC_MSG_F_BULK;
			rc = send_reply(c, &r, -EPROTONOSUPPORT, NULL, NULL);
		} else if (rc < 0) {
			rc = fence(c, "malformed message header", rc);
			break;
		} else if (h.kind != HRPC_KIND_CALL) {
			rc = fence(c, "guest sent a reply or event to the server", -EBADMSG);
			break;
		} else {
			rc = handle_call(c, &h, bulk);
			/* The service fenced us (hrpc_conn_fence(): the guest
			 * forged shared memory it reads, e.g. in a socket KICK).
			 * Stop now: the guest sees FENCED and rings no more, so
			 * a caller that armed and slept would never learn it. */
			if (!rc && c->fenced) {
				rc = c->fenced;
				break;
			}
		}
		if (rc < 0) {
			rc = fence(c, "cannot send reply", rc);
			break;
		}
		if (c->closed)
			break;
	}
	c->ch->ops->flush(c->ch);
	if (rc < 0)
		return rc;
	return c->closed && !n ? -EPIPE : n;
}

int hrpc_conn_arm(hrpc_conn *c)
{
	if (c->fenced || c->closed)
		return 1;
	if (c->blocked)
		return c->ch->ops->arm_space(c->ch, (uint32_t)(MAX_RECORD + c->reserved)) != 0;
	return c->ch->ops->arm(c->ch) != 0;
}

int hrpc_conn_poll(hrpc_conn *c, uint32_t spin_ns)
{
	uint64_t end;
	unsigned int n = 0;

	if (c->fenced || c->closed || c->blocked)
		return 0;
	end = hrpc_now_ns() + spin_ns;
	for (;;) {
		if (c->ch->ops->pending(c->ch))
			return 1;
		if (++n % 64 == 0 && hrpc_now_ns() >= end)
			return 0;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

uint32_t hrpc_conn_spin(hrpc_conn *c)
{
	return c->ch->spin_ns;
}

void hrpc_conn_ack(hrpc_conn *c)
{
	c->ch->ops->ack(c->ch);
	c->ch->stats.doorbells_in++;
}

int hrpc_conn_serve(hrpc_conn *c, volatile bool *stop)
{
	for (;;) {
		int rc = hrpc_conn_process(c);

		if (rc < 0)
			return rc;
		if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))
			return 0;
		rc = hrpc_chan_wait(c->ch, 100, c->blocked ? (uint32_t)(MAX_RECORD + c->reserved) : 0);
		if (rc < 0)
			return rc;
	}
}

int hrpc_conn_send_event(hrpc_conn *c, uint16_t service, uint16_t proc,
			 const void *payload, uint32_t len)
{
	struct hrpc_msg_hdr h;
	int rc;

	if (c->fenced)
		return c->fenced;
	if (len > HRPC_MSG_MAX_PAYLOAD)
		return -EMSGSIZE;
	/* Never into the room deferred replies are sure of. */
	if (c->reserved && c->ch->ops->space(c->ch) <
				   (long)HRPC_RECORD_SIZE(len) + c->reserved)
		return -EAGAIN;
	hrpc_msg_init(&h, HRPC_KIND_EVENT, service, proc, 0, len);
	rc = hrpc_chan_send(c->ch, &h, payload, NULL);
	if (rc == -EPROTO)
		return fence(c, "guest forged the response ring's consumer index", rc);
	if (rc < 0)
		return rc;
	c->ch->stats.events++;
	c->ch->stats.bytes_out += HRPC_MSG_HDR_SIZE + len;
	return c->ch->ops->flush(c->ch);
}

void *hrpc_conn_scratch(hrpc_conn *c, size_t len)
{
	if (len > c->scratch_cap) {
		uint8_t *p = realloc(c->scratch, len ? len : 1);

		if (!p)
			return NULL;
		c->scratch = p;
		c->scratch_cap = len;
	}
	return c->scratch ? c->scratch : (c->scratch = malloc(1));
}

int hrpc_conn_wait_fd(hrpc_conn *c)
{
	return c->ch->wait_fd;
}

bool hrpc_conn_fenced(hrpc_conn *c)
{
	return c->fenced != 0;
}

bool hrpc_conn_blocked(hrpc_conn *c)
{
	return c->blocked;
}

bool hrpc_conn_doorbell_only(hrpc_conn *c)
{
	return c->ch->data != NULL;   /* a bulk data area: shared memory */
}

const char *hrpc_conn_fence_reason(hrpc_conn *c)
{
	return c->fenced ? c->reason : NULL;
}

uint32_t hrpc_conn_guest_id(hrpc_conn *c)
{
	return c->guest_id;
}

const struct hrpc_stats *hrpc_conn_stats(hrpc_conn *c)
{
	return hrpc_chan_stats(c->ch);
}

hrpc_chan *hrpc_conn_chan(hrpc_conn *c)
{
	return c->ch;
}

void hrpc_conn_session(hrpc_conn *c, uint16_t *revision, uint64_t *features)
{
	*revision = c->revision;
	*features = c->features;
}

int hrpc_conn_adopt_session(hrpc_conn *c, uint16_t revision, uint64_t features, const char *peer)
{
	if (revision < HRPC_REVISION_MIN || revision > HRPC_REVISION_MAX ||
	    (features & ~(uint64_t)(HRPC_FEAT_EVENTS | HRPC_FEAT_BULK)))
		return -EINVAL;
	c->revision = revision;
	c->features = features;
	snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "");
	for (char *p = c->peer; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
	c->negotiated = true;
	return 0;
}

bool hrpc_conn_negotiated(hrpc_conn *c)
{
	return c->negotiated;
}

const char *hrpc_conn_peer_name(hrpc_conn *c)
{
	return c->peer;
}
