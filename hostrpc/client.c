/* SPDX-License-Identifier: MIT */
/*
 * client.c - the calling end of a channel.
 *
 * In-flight calls live in a table; the call id carries the slot index in
 * its low bits and a sequence number above, so a stale or forged reply id
 * is recognised and dropped.  Replies are checked like any other input:
 * status must be 0 or a plausible -errno, a reply's bulk must lie inside the
 * buffer its call offered.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostrpc/chan.h"
#include "hostrpc/control.h"
#include "hostrpc/ring.h"
#include "hostrpc/vport.h"

#define SLOT_BITS 10
#define NR_SLOTS (1u << SLOT_BITS)
#define PAGE 4096u

enum slot_state { SLOT_FREE = 0, SLOT_WAITING, SLOT_DONE, SLOT_ABANDONED };

struct slot {
	uint64_t id;
	enum slot_state state;
	struct hrpc_call *call;
	hrpc_call_done_fn done;
	void *opaque;
};

struct hrpc_client {
	hrpc_chan *ch;
	struct slot slots[NR_SLOTS];
	uint64_t seq;
	uint32_t next;
	uint32_t guest_id;
	uint64_t features;
	int broken;
	hrpc_event_fn ev_fn;
	void *ev_opaque;
	uint8_t *page_used;   /* one byte per data-area page: run length at run start */
	uint32_t npages;
	/* Payload structs hold u64 fields: event handlers cast this. */
	_Alignas(8) uint8_t payload[HRPC_MSG_MAX_PAYLOAD];
};

static int is_shm(hrpc_client *c)
{
	return c->ch->data != NULL;
}

/* ---- bulk buffers ------------------------------------------------------- */

int hrpc_client_bulk_alloc(hrpc_client *c, uint32_t cap, struct hrpc_bulk *out)
{
	uint64_t need64;
	uint32_t need, run = 0;

	memset(out, 0, sizeof(*out));
	if (!cap)
		return -EINVAL;
	if (!is_shm(c)) {
		if (cap > HRPC_VPORT_MAX_BULK)
			return -EMSGSIZE;
		out->ptr = malloc(cap);
		if (!out->ptr)
			return -ENOMEM;
		out->cap = cap;
		return 0;
	}
	/* In 64 bits: cap + PAGE - 1 wraps in 32 (cap near UINT32_MAX gave
	 * need = 0, a "success" with a 4 GiB cap over a used page). */
	need64 = ((uint64_t)cap + PAGE - 1) / PAGE;
	if (need64 > c->npages)
		return -ENOSPC;
	need = (uint32_t)need64;
	for (uint32_t i = 0; i < c->npages; i++) {
		run = c->page_used[i] ? 0 : run + 1;
		if (run == need) {
			uint32_t first = i + 1 - need;

			memset(c->page_used + first, 1, need);
			out->off = first * PAGE;
			out->ptr = c->ch->data + out->off;
			out->cap = cap;
			return 0;
		}
	}
	return -ENOSPC;
}

void hrpc_client_bulk_free(hrpc_client *c, struct hrpc_bulk *b)
{
	if (!b || !b->ptr)
		return;
	if (is_shm(c))
		memset(c->page_used + b->off / PAGE, 0, (size_t)(((uint64_t)b->cap + PAGE - 1) / PAGE));
	else
		free(b->ptr);
	memset(b, 0, sizeof(*b));
}

/* ---- replies ------------------------------------------------------------ */

static void complete(hrpc_client *c, struct slot *s, int status)
{
	struct hrpc_call *call = s->call;

	if (s->state == SLOT_ABANDONED) {
		s->state = SLOT_FREE;
		return;
	}
	call->status = status;
	s->state = SLOT_DONE;
	if (s->done) {
		hrpc_call_done_fn done = s->done;
		void *opaque = s->opaque;

		s->state = SLOT_FREE;
		done(c, call, opaque);
	}
}

static void fail_all(hrpc_client *c, int err)
{
	for (uint32_t i = 0; i < NR_SLOTS; i++)
		if (c->slots[i].state == SLOT_WAITING || c->slots[i].state == SLOT_ABANDONED)
			complete(c, &c->slots[i], err);
}

static int take_reply(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *bulk)
{
	struct slot *s = &c->slots[h->call_id & (NR_SLOTS - 1)];
	struct hrpc_call *call;
	int status = h->status;

	if ((s->state != SLOT_WAITING && s->state != SLOT_ABANDONED) || s->id != h->call_id) {
		c->ch->stats.errors++;  /* stale or forged id: drop it */
		return 0;
	}
	if (s->state == SLOT_ABANDONED) {
		s->state = SLOT_FREE;
		return 0;
	}
	call = s->call;
	if (status > 0 || status < -4095)
		status = -EPROTO;
	call->rep_len = h->len < call->rep_cap ? h->len : call->rep_cap;
	if (call->rep_len)
		memcpy(call->rep, c->payload, call->rep_len);
	if (h->len > call->rep_cap && !status)
		status = -EMSGSIZE;
	call->rep_bulk_pos = call->rep_bulk_len = 0;
	if (h->flags & HRPC_MSG_F_BULK) {
		const struct hrpc_bulk *b = call->bulk;

		if (!b) {
			status = -EPROTO;
		} else if (is_shm(c)) {
			if (h->bulk_off < b->off || h->bulk_len > b->cap ||
			    h->bulk_off - b->off > b->cap - h->bulk_len) {
				status = -EPROTO;
			} else {
				call->rep_bulk_pos = h->bulk_off - b->off;
				call->rep_bulk_len = h->bulk_len;
			}
		} else if (h->bulk_len > b->cap) {
			status = -EPROTO;
		} else {
			memcpy(b->ptr, bulk, h->bulk_len);
			call->rep_bulk_len = h->bulk_len;
		}
	}
	complete(c, s, status);
	return 0;
}

int hrpc_client_process(hrpc_client *c, int timeout_ms)
{
	struct hrpc_msg_hdr h;
	const void *bulk;
	int n = 0, rc;

	if (c->broken)
		return c->broken;
	for (;;) {
		rc = hrpc_chan_recv(c->ch, &h, c->payload, &bulk);
		if (rc == -EAGAIN) {
			if (n || !timeout_ms)
				break;
			rc = hrpc_chan_wait(c->ch, timeout_ms, 0);
			if (rc <= 0)
				break;
			timeout_ms = 0;
			continue;
		}
		if (rc == 0 && hrpc_msg_check(&h) < 0)
			rc = -EPROTO;
		if (rc == 0 && h.kind == HRPC_KIND_CALL)
			rc = -EPROTO;
		if (rc < 0) {
			c->broken = rc;
			fail_all(c, rc);
			return rc;
		}
		n++;
		c->ch->stats.bytes_in += HRPC_MSG_HDR_SIZE + h.len;
		if (h.kind == HRPC_KIND_EVENT) {
			c->ch->stats.events++;
			if (c->ev_fn)
				c->ev_fn(c, &h, c->payload, c->ev_opaque);
		} else {
			c->ch->stats.replies++;
			take_reply(c, &h, bulk);
		}
	}
	c->ch->ops->flush(c->ch);
	return rc < 0 && rc != -EAGAIN ? rc : n;
}

/* ---- calls -------------------------------------------------------------- */

static int send_call(hrpc_client *c, struct hrpc_call *call, uint64_t id)
{
	struct hrpc_msg_hdr h;
	uint32_t need = HRPC_ALIGN(HRPC_MSG_HDR_SIZE + call->req_len, 8u);
	int rc;

	hrpc_msg_init(&h, HRPC_KIND_CALL, call->service, call->proc, id, call->req_len);
	if (call->bulk) {
		if (call->bulk_len > call->bulk->cap)
			return -EINVAL;
		h.flags |= HRPC_MSG_F_BULK;
		h.bulk_off = call->bulk->off;
		h.bulk_len = call->bulk_len;
		h.bulk_cap = call->bulk->cap;
	}
	for (;;) {
		rc = hrpc_chan_send(c->ch, &h, call->req, call->bulk ? call->bulk->ptr : NULL);
		if (rc != -EAGAIN)
			break;
		/* Request ring full: take replies (the server may be waiting
		 * for room to answer) and wait for space. */
		rc = hrpc_client_process(c, 0);
		if (rc < 0)
			return rc;
		rc = hrpc_chan_wait(c->ch, 1000, need);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	c->ch->stats.calls++;
	c->ch->stats.bytes_out += HRPC_MSG_HDR_SIZE + call->req_len;
	return c->ch->ops->flush(c->ch);
}

static int start_call(hrpc_client *c, struct hrpc_call *call, hrpc_call_done_fn done,
		      void *opaque, struct slot **out)
{
	struct slot *s = NULL;
	int rc;

	if (c->broken)
		return c->broken;
	if (call->req_len > HRPC_MSG_MAX_PAYLOAD)
		return -EMSGSIZE;
	for (uint32_t i = 0; i < NR_SLOTS; i++) {
		uint32_t k = (c->next + i) & (NR_SLOTS - 1);

		if (c->slots[k].state == SLOT_FREE) {
			s = &c->slots[k];
			c->next = k + 1;
			break;
		}
	}
	if (!s)
		return -EBUSY;
	s->id = (++c->seq << SLOT_BITS) | (uint64_t)(s - c->slots);
	s->call = call;
	s->done = done;
	s->opaque = opaque;
	s->state = SLOT_WAITING;
	call->status = 0;
	call->rep_len = call->rep_bulk_len = call->rep_bulk_pos = 0;
	rc = send_call(c, call, s->id);
	if (rc < 0) {
		s->state = SLOT_FREE;
		return rc;
	}
	*out = s;
	return 0;
}

int hrpc_client_call_async(hrpc_client *c, struct hrpc_call *call,
			   hrpc_call_done_fn done, void *opaque)
{
	struct slot *s;

	if (!done)
		return -EINVAL;
	return start_call(c, call, done, opaque, &s);
}

int hrpc_client_call(hrpc_client *c, struct hrpc_call *call)
{
	uint64_t deadline = 0;
	struct slot *s;
	int rc;

	rc = start_call(c, call, NULL, NULL, &s);
	if (rc < 0)
		return rc;
	if (call->timeout_ms >= 0)
		deadline = hrpc_now_ns() + (uint64_t)call->timeout_ms * 1000000ull;
	while (s->state == SLOT_WAITING) {
		int ms = -1;

		if (call->timeout_ms >= 0) {
			uint64_t now = hrpc_now_ns();

			if (now >= deadline) {
				/* The server may still answer: the slot stays
				 * taken until it does, so its id is not reused. */
				s->state = SLOT_ABANDONED;
				return -ETIMEDOUT;
			}
			ms = (int)((deadline - now + 999999) / 1000000);
		}
		rc = hrpc_client_process(c, 0);
		if (rc >= 0 && s->state == SLOT_WAITING)
			rc = hrpc_chan_wait(c->ch, ms, 0);
		if (rc < 0) {
			s->state = s->state == SLOT_WAITING ? SLOT_ABANDONED : SLOT_FREE;
			return rc;
		}
	}
	s->state = SLOT_FREE;
	return call->status;
}

/* ---- life cycle --------------------------------------------------------- */

int hrpc_client_new(hrpc_chan *ch, const char *name, int timeout_ms, hrpc_client **out)
{
	struct hrpc_control_hello hello = {
		.min_revision = HRPC_REVISION_MIN,
		.max_revision = HRPC_REVISION_MAX,
		.features = HRPC_FEAT_EVENTS | HRPC_FEAT_BULK,
	};
	struct hrpc_control_welcome w;
	struct hrpc_call call = {
		.service = HRPC_SVC_CONTROL, .proc = HRPC_CONTROL_HELLO,
		.req = &hello, .req_len = sizeof(hello),
		.rep = &w, .rep_cap = sizeof(w), .timeout_ms = timeout_ms,
	};
	hrpc_client *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c) {
		hrpc_chan_free(ch);
		return -ENOMEM;
	}
	c->ch = ch;
	c->seq = hrpc_now_ns() & 0xffff;
	if (ch->data) {
		c->npages = ch->data_size / PAGE;
		c->page_used = calloc(c->npages ? c->npages : 1, 1);
		if (!c->page_used) {
			rc = -ENOMEM;
			goto err;
		}
	}
	if (name)
		strncpy(hello.name, name, sizeof(hello.name) - 1);
	rc = hrpc_client_call(c, &call);
	if (rc == 0 && call.rep_len != sizeof(w))
		rc = -EPROTO;
	if (rc == 0 && (w.revision < HRPC_REVISION_MIN || w.revision > HRPC_REVISION_MAX))
		rc = -EPROTONOSUPPORT;
	if (rc < 0)
		goto err;
	c->guest_id = w.guest_id;
	c->features = w.features;
	*out = c;
	return 0;
err:
	hrpc_client_free(c);
	return rc;
}

void hrpc_client_free(hrpc_client *c)
{
	if (!c)
		return;
	fail_all(c, -ECONNABORTED);
	if (c->ch && c->ch->ops->set_state)
		c->ch->ops->set_state(c->ch, HRPC_SHM_STATE_CLOSED);
	hrpc_chan_free(c->ch);
	free(c->page_used);
	free(c);
}

void hrpc_client_set_event_handler(hrpc_client *c, hrpc_event_fn fn, void *opaque)
{
	c->ev_fn = fn;
	c->ev_opaque = opaque;
}

int hrpc_client_wait_fd(hrpc_client *c)
{
	return c->ch->wait_fd;
}

uint32_t hrpc_client_guest_id(hrpc_client *c)
{
	return c->guest_id;
}

hrpc_chan *hrpc_client_chan(hrpc_client *c)
{
	return c->ch;
}
