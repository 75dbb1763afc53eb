/* SPDX-License-Identifier: MIT */
/*
 * ring.h - shared-memory channel layout and the single-producer /
 * single-consumer record rings, written once for the guest kernel module and
 * for userspace.
 *
 * A channel is one shared memory region:
 *
 *   0            struct hrpc_shm_hdr (geometry, generations, 2 ring controls)
 *   req_off      request ring bytes   (client -> server: CALLs)
 *   rsp_off      response ring bytes  (server -> client: REPLYs and EVENTs)
 *   data_off     bulk data area, owned by the client (see docs/protocol.md)
 *
 * The server (hostrpcd) creates the region and writes the geometry once; the
 * client copies it, checks it with hrpc_shm_geometry_check() and never reads
 * it again.  Each side keeps its own index privately (struct hrpc_ring.pvt)
 * and only publishes it; the peer's index is read once per operation and
 * checked before it is used.  A record is a struct hrpc_msg_hdr followed by
 * its inline payload, padded to 8 bytes; records may wrap around the end.
 *
 * Indexes are free-running u32 byte counters; the slot of index i is
 * (i & (size - 1)).  `prod - cons` is the number of bytes in the ring and
 * can never exceed `size`: a larger value means the peer forged an index.
 *
 * Notification suppression works like virtio's event index: a consumer about
 * to sleep publishes prod_event = its cons; a producer that moved prod from
 * old to new rings the doorbell only if prod_event lies in [old, new).  The
 * same scheme in the other direction (cons_event) wakes a producer that
 * waits for space.
 *
 * Functions return 0 / positive values or -errno:
 *   -EAGAIN  ring empty (get) or full (put): not an error of the peer
 *   -EPROTO  the peer broke the protocol: fence the channel
 *   -EMSGSIZE caller's own bug (payload larger than allowed / buffer too small)
 */
#ifndef HOSTRPC_RING_H
#define HOSTRPC_RING_H

#include "compat.h"
#include "msg.h"

#define HRPC_SHM_MAGIC          0x314d485343505248ull /* "HRPCSHM1" */
#define HRPC_SHM_LAYOUT_VERSION 1u
/* A ring must hold two maximal records, so a full-size message always fits
 * once the consumer has caught up. */
#define HRPC_RING_MIN_SIZE      (256u * 1024u)
#define HRPC_RING_MAX_SIZE      (16u * 1024u * 1024u)
#define HRPC_SHM_PAGE           4096u

struct hrpc_ring_ctl {
	/* written by the producer only */
	hrpc_u32 prod;       /* end of the last published record */
	hrpc_u32 cons_event; /* producer wants a doorbell when cons passes this */
	hrpc_u8  pad0[56];
	/* written by the consumer only */
	hrpc_u32 cons;       /* end of the last consumed record */
	hrpc_u32 prod_event; /* consumer wants a doorbell when prod passes this */
	hrpc_u8  pad1[56];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_ring_ctl) == 128, "ring ctl is two cache lines");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_ring_ctl, cons) == 64, "consumer fields on their own line");

/* host_state / guest_state values */
enum hrpc_shm_state {
	HRPC_SHM_STATE_NONE     = 0,
	HRPC_SHM_STATE_READY    = 1, /* host: geometry valid, serving */
	HRPC_SHM_STATE_ATTACHED = 2, /* guest: attached to host_gen */
	HRPC_SHM_STATE_CLOSED   = 3, /* either: detached cleanly */
	HRPC_SHM_STATE_FENCED   = 4, /* host: guest broke the protocol */
};

struct hrpc_shm_hdr {
	hrpc_u64 magic;          /* HRPC_SHM_MAGIC */
	hrpc_u32 layout_version; /* HRPC_SHM_LAYOUT_VERSION */
	hrpc_u32 hdr_size;       /* sizeof(struct hrpc_shm_hdr) */
	hrpc_u64 shm_size;       /* bytes of the whole region */
	hrpc_u32 req_off, req_size;
	hrpc_u32 rsp_off, rsp_size;
	hrpc_u32 data_off, data_size;
	hrpc_u32 host_gen;       /* host: bumped at every channel (re)initialisation */
	hrpc_u32 guest_gen;      /* guest: the host_gen it attached to */
	hrpc_u32 host_state;     /* enum hrpc_shm_state, written by the host */
	hrpc_u32 guest_state;    /* enum hrpc_shm_state, written by the guest */
	hrpc_u8  reserved[64];
	struct hrpc_ring_ctl req;  /* client -> server */
	struct hrpc_ring_ctl rsp;  /* server -> client */
};
HRPC_STATIC_ASSERT(offsetof(struct hrpc_shm_hdr, req_off) == 24, "req_off at 24");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_shm_hdr, host_gen) == 48, "host_gen at 48");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_shm_hdr, req) == 128, "req ring ctl at 128");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_shm_hdr, rsp) == 256, "rsp ring ctl at 256");
HRPC_STATIC_ASSERT(sizeof(struct hrpc_shm_hdr) == 384, "shm header is 384 bytes");

static inline int hrpc_is_pow2(hrpc_u32 x)
{
	return x && !(x & (x - 1));
}

/* Is [off, off+len) inside [0, total) and clear of [lo, lo+lolen)? */
static inline int hrpc_span_ok(hrpc_u64 total, hrpc_u32 off, hrpc_u32 len)
{
	return (hrpc_u64)off + len <= total;
}

static inline int hrpc_spans_overlap(hrpc_u32 a, hrpc_u32 alen, hrpc_u32 b, hrpc_u32 blen)
{
	return (hrpc_u64)a < (hrpc_u64)b + blen && (hrpc_u64)b < (hrpc_u64)a + alen;
}

/*
 * Check a private copy of the header against the real size of the mapping.
 * Returns 0 or -EPROTO.  (The peer may change the shared header afterwards;
 * only the checked copy is ever used.)
 */
static inline int hrpc_shm_geometry_check(const struct hrpc_shm_hdr *g, hrpc_u64 mapped)
{
	if (g->magic != HRPC_SHM_MAGIC || g->layout_version != HRPC_SHM_LAYOUT_VERSION ||
	    g->hdr_size != sizeof(struct hrpc_shm_hdr) || g->shm_size > mapped)
		return -EPROTO;
	if (!hrpc_is_pow2(g->req_size) || !hrpc_is_pow2(g->rsp_size) ||
	    g->req_size < HRPC_RING_MIN_SIZE || g->rsp_size < HRPC_RING_MIN_SIZE ||
	    g->req_size > HRPC_RING_MAX_SIZE || g->rsp_size > HRPC_RING_MAX_SIZE)
		return -EPROTO;
	if ((g->req_off | g->rsp_off | g->data_off) % HRPC_SHM_PAGE)
		return -EPROTO;
	if (!hrpc_span_ok(g->shm_size, g->req_off, g->req_size) ||
	    !hrpc_span_ok(g->shm_size, g->rsp_off, g->rsp_size) ||
	    !hrpc_span_ok(g->shm_size, g->data_off, g->data_size))
		return -EPROTO;
	if (g->req_off < sizeof(struct hrpc_shm_hdr) || g->rsp_off < sizeof(struct hrpc_shm_hdr) ||
	    (g->data_size && g->data_off < sizeof(struct hrpc_shm_hdr)))
		return -EPROTO;
	if (hrpc_spans_overlap(g->req_off, g->req_size, g->rsp_off, g->rsp_size) ||
	    hrpc_spans_overlap(g->req_off, g->req_size, g->data_off, g->data_size) ||
	    hrpc_spans_overlap(g->rsp_off, g->rsp_size, g->data_off, g->data_size))
		return -EPROTO;
	return 0;
}

/*
 * Fill in a geometry for a region of `shm_size` bytes: header page, two rings
 * of `ring_size` bytes, the rest is the data area.  Returns 0 or -EINVAL.
 */
static inline int hrpc_shm_geometry_init(struct hrpc_shm_hdr *g, hrpc_u64 shm_size,
					 hrpc_u32 ring_size)
{
	hrpc_u64 data_off = HRPC_SHM_PAGE + 2ull * ring_size;

	memset(g, 0, sizeof(*g));
	if (!hrpc_is_pow2(ring_size) || ring_size < HRPC_RING_MIN_SIZE ||
	    ring_size > HRPC_RING_MAX_SIZE || shm_size < data_off ||
	    shm_size - data_off > 0xffffffffull || shm_size > 0xffffffffull)
		return -EINVAL;
	g->magic = HRPC_SHM_MAGIC;
	g->layout_version = HRPC_SHM_LAYOUT_VERSION;
	g->hdr_size = sizeof(*g);
	g->shm_size = shm_size;
	g->req_off = HRPC_SHM_PAGE;
	g->req_size = ring_size;
	g->rsp_off = HRPC_SHM_PAGE + ring_size;
	g->rsp_size = ring_size;
	g->data_off = (hrpc_u32)data_off;
	g->data_size = (hrpc_u32)(shm_size - data_off);
	return 0;
}

/* A bulk reference [off, off+cap) with len <= cap, inside a data area. */
static inline int hrpc_bulk_check(hrpc_u32 data_size, hrpc_u32 off, hrpc_u32 len, hrpc_u32 cap)
{
	if (len > cap || !hrpc_span_ok(data_size, off, cap))
		return -EFAULT;
	return 0;
}

/* Private view of one ring, one per side. */
struct hrpc_ring {
	struct hrpc_ring_ctl *ctl; /* shared */
	hrpc_u8 *buf;              /* shared */
	hrpc_u32 size;             /* private copy of the geometry */
	hrpc_u32 mask;
	hrpc_u32 pvt;              /* our own index: prod if producer, cons if consumer */
};

#define HRPC_RECORD_SIZE(len) HRPC_ALIGN((hrpc_u32)HRPC_MSG_HDR_SIZE + (hrpc_u32)(len), 8u)

/*
 * Bind a ring to its control block and bytes.  `size` must come from a
 * checked geometry.  The own index is adopted from shared memory (0 on a
 * fresh channel; the migrated value after a live migration) and is checked
 * by the first get/put like any other index.
 */
static inline void hrpc_ring_bind(struct hrpc_ring *r, struct hrpc_ring_ctl *ctl,
				  void *buf, hrpc_u32 size, int producer)
{
	r->ctl = ctl;
	r->buf = (hrpc_u8 *)buf;
	r->size = size;
	r->mask = size - 1;
	r->pvt = producer ? hrpc_read_once(ctl->prod) : hrpc_read_once(ctl->cons);
}

/* Reset a ring to empty; only the side that owns the channel (host) does it. */
static inline void hrpc_ring_ctl_reset(struct hrpc_ring_ctl *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
}

static inline void hrpc_ring_copy_in(struct hrpc_ring *r, hrpc_u32 idx,
				     const void *src, hrpc_u32 n)
{
	hrpc_u32 off = idx & r->mask;
	hrpc_u32 first = n < r->size - off ? n : r->size - off;

	memcpy(r->buf + off, src, first);
	if (n > first)
		memcpy(r->buf, (const hrpc_u8 *)src + first, n - first);
}

static inline void hrpc_ring_copy_out(const struct hrpc_ring *r, hrpc_u32 idx,
				      void *dst, hrpc_u32 n)
{
	hrpc_u32 off = idx & r->mask;
	hrpc_u32 first = n < r->size - off ? n : r->size - off;

	memcpy(dst, r->buf + off, first);
	if (n > first)
		memcpy((hrpc_u8 *)dst + first, r->buf, n - first);
}

/* virtio's vring_need_event() on u32 indexes: is event in [old, new)? */
static inline int hrpc_need_event(hrpc_u32 event, hrpc_u32 new_idx, hrpc_u32 old_idx)
{
	return (hrpc_u32)(new_idx - event - 1) < (hrpc_u32)(new_idx - old_idx);
}

/* ---- producer side ---------------------------------------------------- */

/* Bytes free, or -EPROTO if the consumer published an impossible index. */
static inline long hrpc_ring_space(struct hrpc_ring *r)
{
	/* Acquire pairs with the consumer's release of cons in hrpc_ring_get():
	 * its copies out of the freed bytes are complete before we reuse them. */
	hrpc_u32 cons = hrpc_load_acquire(&r->ctl->cons);
	hrpc_u32 used = r->pvt - cons;

	if (hrpc_unlikely(used > r->size))
		return -EPROTO;
	return (long)(r->size - used);
}

/*
 * Append one record: header (len taken from h->len) + `payload`, then
 * publish it.  Call hrpc_ring_need_notify() afterwards (once per batch).
 */
static inline int hrpc_ring_put(struct hrpc_ring *r, const struct hrpc_msg_hdr *h,
				const void *payload)
{
	hrpc_u32 rec;
	long space;

	if (h->len > HRPC_MSG_MAX_PAYLOAD)
		return -EMSGSIZE;
	rec = HRPC_RECORD_SIZE(h->len);
	space = hrpc_ring_space(r);
	if (space < 0)
		return (int)space;
	if ((hrpc_u32)space < rec)
		return -EAGAIN;
	hrpc_ring_copy_in(r, r->pvt, h, HRPC_MSG_HDR_SIZE);
	if (h->len)
		hrpc_ring_copy_in(r, r->pvt + HRPC_MSG_HDR_SIZE, payload, h->len);
	r->pvt += rec;
	/* Release pairs with the consumer's acquire of prod in hrpc_ring_get():
	 * the record bytes are visible before the index that covers them. */
	hrpc_store_release(&r->ctl->prod, r->pvt);
	return 0;
}

/*
 * After publishing (prod moved from `old` to r->pvt): does the consumer want
 * a doorbell?  The full barrier orders our prod store before the prod_event
 * load; it pairs with the barrier in hrpc_ring_arm() (store prod_event, then
 * load prod), so at least one side sees the other's store.
 */
static inline int hrpc_ring_need_notify(struct hrpc_ring *r, hrpc_u32 old)
{
	hrpc_mb();
	return hrpc_need_event(hrpc_read_once(r->ctl->prod_event), r->pvt, old);
}

/*
 * Producer found the ring full and wants to sleep until `need` bytes are
 * free.  Returns 1 if it may sleep (consumer will ring), 0 if space appeared
 * meanwhile, -EPROTO on a forged index.
 */
static inline int hrpc_ring_arm_space(struct hrpc_ring *r, hrpc_u32 need)
{
	long space;

	hrpc_write_once(r->ctl->cons_event, hrpc_read_once(r->ctl->cons));
	/* Pairs with the barrier in hrpc_ring_consumed_notify(). */
	hrpc_mb();
	space = hrpc_ring_space(r);
	if (space < 0)
		return (int)space;
	return (hrpc_u32)space < need;
}

/* ---- consumer side ---------------------------------------------------- */

/*
 * Copy the next record out: header into *h, payload (h->len bytes) into
 * `payload` which has room for `cap` bytes (pass HRPC_MSG_MAX_PAYLOAD to
 * accept anything legal).  Everything is checked on the private copy.
 */
static inline int hrpc_ring_get(struct hrpc_ring *r, struct hrpc_msg_hdr *h,
				void *payload, hrpc_u32 cap)
{
	/* Acquire pairs with the producer's release of prod in hrpc_ring_put(). */
	hrpc_u32 prod = hrpc_load_acquire(&r->ctl->prod);
	hrpc_u32 avail = prod - r->pvt;
	hrpc_u32 rec;

	if (avail == 0)
		return -EAGAIN;
	if (hrpc_unlikely(avail > r->size || avail < HRPC_MSG_HDR_SIZE || (avail & 7)))
		return -EPROTO;
	hrpc_ring_copy_out(r, r->pvt, h, HRPC_MSG_HDR_SIZE);
	if (hrpc_unlikely(h->len > HRPC_MSG_MAX_PAYLOAD))
		return -EPROTO;
	rec = HRPC_RECORD_SIZE(h->len);
	if (hrpc_unlikely(rec > avail))
		return -EPROTO;
	if (h->len > cap)
		return -EMSGSIZE;
	if (h->len)
		hrpc_ring_copy_out(r, r->pvt + HRPC_MSG_HDR_SIZE, payload, h->len);
	r->pvt += rec;
	/* Release pairs with the producer's acquire of cons in
	 * hrpc_ring_space(): our copies are done before it reuses the bytes. */
	hrpc_store_release(&r->ctl->cons, r->pvt);
	return 0;
}

/* Are there unread bytes?  (-EPROTO never; get() does the checking.) */
static inline int hrpc_ring_pending(struct hrpc_ring *r)
{
	return hrpc_load_acquire(&r->ctl->prod) != r->pvt;
}

/*
 * Consumer wants to sleep: ask for a doorbell on the next publish, then look
 * again.  Returns 1 if the ring is still empty (sleep), 0 if not.  The
 * barrier pairs with the one in hrpc_ring_need_notify().
 */
static inline int hrpc_ring_arm(struct hrpc_ring *r)
{
	hrpc_write_once(r->ctl->prod_event, r->pvt);
	hrpc_mb();
	return !hrpc_ring_pending(r);
}

/*
 * After consuming (cons moved from `old` to r->pvt): does a producer wait for
 * space?  Barrier pairs with hrpc_ring_arm_space().
 */
static inline int hrpc_ring_consumed_notify(struct hrpc_ring *r, hrpc_u32 old)
{
	hrpc_mb();
	return hrpc_need_event(hrpc_read_once(r->ctl->cons_event), r->pvt, old);
}

#endif /* HOSTRPC_RING_H */
