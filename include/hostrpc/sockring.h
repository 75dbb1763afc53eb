/* SPDX-License-Identifier: MIT */
/*
 * sockring.h - sockets v2 data path: each socket's data rings in shared
 * memory, written once for the guest module and userspace (as ring.h).
 *
 * Why.  In version 1 of the socket service (sock.h) every send() and recv()
 * is a synchronous Host RPC: a doorbell exit and an interrupt per call.  In
 * version 2 a socket's bytes move through two rings in the channel's data
 * area, in the spirit of Xen PV Calls' per-socket "in" and "out" rings
 * (Xen's docs/misc/pvcalls.pandoc): send() copies into the socket's out
 * ring and returns, the host's worker drains it into the host socket when
 * that is writable; the worker pushes what arrives into the in ring, and
 * recv()/poll() in the guest are memory operations while data is there.
 * Doorbells and interrupts happen on edges only (empty -> non-empty, full
 * -> not full) and only when the other side asked for one (event index,
 * as in ring.h), so a busy socket costs no exits.
 *
 * The socket area.  The guest allocates one area per v2 socket in the
 * channel's data area (it owns that area, ring.h) and names it when the
 * socket is made (offset and the two ring sizes); the host checks the span
 * once (hrpc_sock_area_check()) and keeps a private copy of the geometry:
 *
 *   0                      struct hrpc_sock_area_hdr (384 bytes)
 *   HRPC_SOCK_AREA_HDR     out ring bytes, out_size (guest -> host)
 *   + out_size             in ring bytes, in_size (host -> guest)
 *
 * The host zeroes the whole header when it takes the area (rings, its own
 * and the guest's words): a socket never inherits an earlier one's flags.
 * Until the host's CLOSE reply the area is the host's to read and write:
 * the guest must not reuse it before then.  Areas overlapping each other or
 * a bulk buffer hurt only the guest that made them: everything the host
 * reads there is copied out and checked before use.
 *
 * The rings.  A struct hrpc_ring over the area's bytes (ring.h's indexes:
 * free-running u32 byte counters, `prod - cons` never above the size, a
 * larger value is a forged index: -EPROTO, fence the channel).  A stream
 * socket's rings carry bytes; a datagram socket's carry records, a struct
 * hrpc_sock_dgram followed by the payload, padded to 8 bytes, wrapping
 * around the end like ring.h's records.  A datagram larger than a ring can
 * hold is cut to what fits (`full_len` says how long it was: MSG_TRUNC).
 *
 * Status words.  The host's words in the header (mask, error, flags) are
 * written by the host only and read by the guest; the guest's words by the
 * guest only.  Neither side reads its own words back from shared memory:
 * each keeps the truth privately and only publishes it.
 *
 * Functions return 0 / a count or -errno:
 *   -EAGAIN   nothing to read (get) or no room (put): not the peer's fault
 *   -EPROTO   the peer broke the protocol: fence the channel
 *   -EMSGSIZE the caller's own mistake (a record larger than allowed)
 */
#ifndef HOSTRPC_SOCKRING_H
#define HOSTRPC_SOCKRING_H

#include "compat.h"
#include "ring.h"
#include "sock.h"

/* Ring sizes a socket area may have: powers of two in this range. */
#define HRPC_SOCK_RING_MIN     4096u
#define HRPC_SOCK_RING_MAX     (4u << 20)
/* An area starts on a cache line. */
#define HRPC_SOCK_AREA_ALIGN   64u
/* Largest datagram payload (UDP over IPv6 jumbograms are not served). */
#define HRPC_SOCK_DGRAM_MAX    65535u

/* hrpc_sock_area_hdr.host_flags */
#define HRPC_SOCK_AREA_H_EOF   0x1u  /* no byte will follow the in ring's prod */
#define HRPC_SOCK_AREA_H_WRSHUT 0x2u /* the host socket takes no more bytes */
/* hrpc_sock_area_hdr.guest_flags */
#define HRPC_SOCK_AREA_G_SHUTWR 0x1u /* shut down writing once the out ring is drained */
#define HRPC_SOCK_AREA_G_MORE  0x2u  /* MSG_MORE / TCP_CORK: more bytes follow soon */
#define HRPC_SOCK_AREA_G_TSTAMP 0x4u /* datagram receive timestamps wanted (SO_TIMESTAMP*) */

struct hrpc_sock_area_hdr {
	struct hrpc_ring_ctl out;  /* guest produces, host consumes */
	struct hrpc_ring_ctl in;   /* host produces, guest consumes */
	/* written by the host only */
	hrpc_u32 host_mask;        /* HRPC_POLLERR/HUP/RDHUP/PRI; data bits come from the rings */
	hrpc_u32 host_seq;         /* bumped with every change of the host's words */
	hrpc_s32 host_err;         /* pending SO_ERROR, -errno, or 0 */
	hrpc_u32 host_flags;       /* HRPC_SOCK_AREA_H_* */
	hrpc_u32 host_err_seq;     /* bumped with every new pending error (the
	                            * same errno twice is two errors) */
	hrpc_u8  pad0[44];
	/* written by the guest only */
	hrpc_u32 guest_flags;      /* HRPC_SOCK_AREA_G_* */
	hrpc_u32 guest_reserved;   /* 0 */
	hrpc_u8  pad1[56];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_area_hdr) == 384, "socket area header is 384 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_sock_area_hdr, in) == 128, "in ring ctl at 128");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_sock_area_hdr, host_mask) == 256, "host words at 256");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_sock_area_hdr, guest_flags) == 320, "guest words at 320");

#define HRPC_SOCK_AREA_HDR     ((hrpc_u32)sizeof(struct hrpc_sock_area_hdr))

/* Where a socket's area lies, as the guest names it (and the host checks). */
struct hrpc_sock_area {
	hrpc_u32 off;              /* from the start of the data area */
	hrpc_u32 out_size;         /* power of two, HRPC_SOCK_RING_MIN..MAX */
	hrpc_u32 in_size;          /* power of two, HRPC_SOCK_RING_MIN..MAX */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_area) == 16, "socket area ref is 16 bytes");

/* One datagram in a ring; its ancillary data (with HRPC_SOCK_DGRAM_F_META)
 * and then the payload (len bytes) follow. */
struct hrpc_sock_dgram {
	hrpc_u32 len;              /* payload bytes in the ring */
	hrpc_u32 full_len;         /* the datagram's real size (>= len) */
	hrpc_u32 flags;            /* HRPC_SOCK_DGRAM_F_* */
	hrpc_u32 reserved;         /* 0 */
	struct hrpc_sock_addr addr; /* out: destination (family 0: the connected peer); in: sender */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_dgram) == 48, "datagram header is 48 bytes");

#define HRPC_SOCK_DGRAM_F_META  1u /* a struct hrpc_sock_dgram_meta follows the header */

/*
 * A datagram's ancillary data.  In the in ring: what the host's recvmsg()
 * reported for it, which the guest hands its program as control messages.
 * In the out ring: PKTINFO only, spec_dst the source address the guest's
 * program chose (IP_PKTINFO's ipi_spec_dst, IPV6_PKTINFO's ipi6_addr),
 * which the host's policy judges as a bind.  The host asks for it on its socket when the guest does
 * (IP_PKTINFO and IPV6_RECVPKTINFO are options of the host socket; the
 * guest's SO_TIMESTAMP* shows as HRPC_SOCK_AREA_G_TSTAMP).
 */
struct hrpc_sock_dgram_meta {
	hrpc_u32 have;             /* HRPC_SOCK_META_* */
	hrpc_u32 ifindex;          /* PKTINFO: the host's interface index */
	hrpc_u64 ts_ns;            /* TSTAMP: host receive time, CLOCK_REALTIME ns */
	struct hrpc_sock_addr dst; /* PKTINFO: the datagram's destination address */
	struct hrpc_sock_addr spec_dst; /* PKTINFO (IPv4): the local address a reply goes from */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_dgram_meta) == 80, "datagram meta is 80 bytes");

#define HRPC_SOCK_META_PKTINFO  1u /* ifindex, dst (and spec_dst for IPv4) */
#define HRPC_SOCK_META_TSTAMP   2u /* ts_ns */
#define HRPC_SOCK_META_ALL      (HRPC_SOCK_META_PKTINFO | HRPC_SOCK_META_TSTAMP)

#define HRPC_SOCK_DGRAM_REC(len) \
	HRPC_ALIGN((hrpc_u32)sizeof(struct hrpc_sock_dgram) + (hrpc_u32)(len), 8u)

/* Bytes before the payload, and the whole record, of a (checked) header. */
static inline hrpc_u32 hrpc_sock_dgram_lead(const struct hrpc_sock_dgram *h)
{
	return (hrpc_u32)sizeof(*h) +
	       ((h->flags & HRPC_SOCK_DGRAM_F_META) ? (hrpc_u32)sizeof(struct hrpc_sock_dgram_meta) : 0u);
}

static inline hrpc_u32 hrpc_sock_dgram_rec(const struct hrpc_sock_dgram *h)
{
	return HRPC_ALIGN(hrpc_sock_dgram_lead(h) + h->len, 8u);
}

static inline hrpc_u32 hrpc_sock_area_bytes(const struct hrpc_sock_area *a)
{
	return HRPC_SOCK_AREA_HDR + a->out_size + a->in_size;
}

/*
 * Check a private copy of an area reference against the data area's size.
 * Returns 0 or -EINVAL (a bad request, not a broken channel: the guest gets
 * the error for its SOCKET call).
 */
static inline int hrpc_sock_area_check(const struct hrpc_sock_area *a, hrpc_u32 data_size)
{
	if (a->reserved || a->off % HRPC_SOCK_AREA_ALIGN)
		return -EINVAL;
	if (!hrpc_is_pow2(a->out_size) || !hrpc_is_pow2(a->in_size) ||
	    a->out_size < HRPC_SOCK_RING_MIN || a->in_size < HRPC_SOCK_RING_MIN ||
	    a->out_size > HRPC_SOCK_RING_MAX || a->in_size > HRPC_SOCK_RING_MAX)
		return -EINVAL;
	/* sizes are bounded, so the sum cannot wrap */
	if (!hrpc_span_ok(data_size, a->off, hrpc_sock_area_bytes(a)))
		return -EINVAL;
	return 0;
}

/*
 * Bind the two rings of an area at `base` (the area's first byte), geometry
 * from a checked copy.  `guest`: the guest produces out and consumes in;
 * else the other way round.  The own indexes are adopted from shared memory
 * (0 for a fresh area) and checked by the first operation like any other.
 */
static inline void hrpc_sock_area_bind(struct hrpc_ring *out, struct hrpc_ring *in, void *base,
				       const struct hrpc_sock_area *a, int guest)
{
	struct hrpc_sock_area_hdr *h = (struct hrpc_sock_area_hdr *)base;
	hrpc_u8 *bytes = (hrpc_u8 *)base + HRPC_SOCK_AREA_HDR;

	hrpc_ring_bind(out, &h->out, bytes, a->out_size, guest);
	hrpc_ring_bind(in, &h->in, bytes + a->out_size, a->in_size, !guest);
}

/* ---- streams: bytes ------------------------------------------------------------ */

/* Bytes waiting for the consumer, or -EPROTO on a forged producer index. */
static inline long hrpc_sring_avail(struct hrpc_ring *r)
{
	/* Acquire pairs with the producer's release in hrpc_sring_produce(). */
	hrpc_u32 avail = hrpc_load_acquire(&r->ctl->prod) - r->pvt;

	if (hrpc_unlikely(avail > r->size))
		return -EPROTO;
	return (long)avail;
}

/*
 * Producer: the free space as at most two spans (the second after the
 * wrap), for a caller that fills the ring in place (recv() from the host
 * socket straight into it).  Returns the free byte count or -EPROTO; then
 * hrpc_sring_produce() what was written.
 */
static inline long hrpc_sring_free_spans(struct hrpc_ring *r, void **p0, hrpc_u32 *n0,
					 void **p1, hrpc_u32 *n1)
{
	long space = hrpc_ring_space(r);
	hrpc_u32 off, first;

	*n0 = *n1 = 0;
	*p0 = *p1 = r->buf;
	if (space <= 0)
		return space;
	off = r->pvt & r->mask;
	first = (hrpc_u32)space < r->size - off ? (hrpc_u32)space : r->size - off;
	*p0 = r->buf + off;
	*n0 = first;
	*n1 = (hrpc_u32)space - first;
	return space;
}

/* Publish `n` bytes written at the producer index (n <= the free space). */
static inline void hrpc_sring_produce(struct hrpc_ring *r, hrpc_u32 n)
{
	r->pvt += n;
	hrpc_store_release(&r->ctl->prod, r->pvt);
}

/* Producer: copy in as much of src[0..n) as fits; returns the count (0 when
 * full) or -EPROTO. */
static inline long hrpc_sring_write(struct hrpc_ring *r, const void *src, hrpc_u32 n)
{
	long space = hrpc_ring_space(r);

	if (space < 0)
		return space;
	if ((hrpc_u32)space < n)
		n = (hrpc_u32)space;
	if (n) {
		hrpc_ring_copy_in(r, r->pvt, src, n);
		hrpc_sring_produce(r, n);
	}
	return (long)n;
}

/*
 * Consumer: the waiting bytes as at most two spans (for a caller that
 * sends straight out of the ring), at most `max` bytes.  Returns the byte
 * count or -EPROTO; then hrpc_sring_consume() what was used.  The bytes
 * are the peer's and may change under the caller: use them as data only.
 */
static inline long hrpc_sring_data_spans(struct hrpc_ring *r, hrpc_u32 max, const void **p0,
					 hrpc_u32 *n0, const void **p1, hrpc_u32 *n1)
{
	long avail = hrpc_sring_avail(r);
	hrpc_u32 off, n, first;

	*n0 = *n1 = 0;
	*p0 = *p1 = r->buf;
	if (avail <= 0)
		return avail;
	n = (hrpc_u32)avail < max ? (hrpc_u32)avail : max;
	off = r->pvt & r->mask;
	first = n < r->size - off ? n : r->size - off;
	*p0 = r->buf + off;
	*n0 = first;
	*n1 = n - first;
	return (long)n;
}

/* Copy out up to n bytes starting `skip` bytes past the consumer index,
 * without consuming (MSG_PEEK).  Returns the count or -EPROTO. */
static inline long hrpc_sring_peek(struct hrpc_ring *r, hrpc_u32 skip, void *dst, hrpc_u32 n)
{
	long avail = hrpc_sring_avail(r);

	if (avail < 0)
		return avail;
	if ((hrpc_u32)avail <= skip)
		return 0;
	if ((hrpc_u32)avail - skip < n)
		n = (hrpc_u32)avail - skip;
	hrpc_ring_copy_out(r, r->pvt + skip, dst, n);
	return (long)n;
}

/* Give `n` bytes back to the producer (n <= what avail() said). */
static inline void hrpc_sring_consume(struct hrpc_ring *r, hrpc_u32 n)
{
	r->pvt += n;
	/* Release pairs with the producer's acquire in hrpc_ring_space(). */
	hrpc_store_release(&r->ctl->cons, r->pvt);
}

/* Consumer: copy out and consume up to n bytes; the count or -EPROTO. */
static inline long hrpc_sring_read(struct hrpc_ring *r, void *dst, hrpc_u32 n)
{
	long got = hrpc_sring_peek(r, 0, dst, n);

	if (got > 0)
		hrpc_sring_consume(r, (hrpc_u32)got);
	return got;
}

/* ---- datagrams: records ---------------------------------------------------------- */

/* Largest payload one record can carry in a ring of `size` bytes. */
static inline hrpc_u32 hrpc_dring_max_payload(hrpc_u32 size)
{
	hrpc_u32 room = size - (hrpc_u32)sizeof(struct hrpc_sock_dgram);

	room &= ~7u;
	return room < HRPC_SOCK_DGRAM_MAX ? room : HRPC_SOCK_DGRAM_MAX;
}

/*
 * Producer: append one datagram, with its ancillary data when `meta` is not
 * NULL (then h->flags gets HRPC_SOCK_DGRAM_F_META).  h->len must equal the
 * payload's length; a payload larger than the ring can hold is the caller's
 * to cut first (full_len keeps the real size; hrpc_dring_max_payload() less
 * the meta's size with meta).  Returns 0, -EAGAIN (no room now), -EMSGSIZE
 * or -EPROTO.
 */
static inline int hrpc_dring_put_meta(struct hrpc_ring *r, const struct hrpc_sock_dgram *h,
				      const struct hrpc_sock_dgram_meta *meta,
				      const void *payload)
{
	struct hrpc_sock_dgram c = *h;
	hrpc_u32 rec, lead, max = hrpc_dring_max_payload(r->size);
	long space;

	c.flags = meta ? HRPC_SOCK_DGRAM_F_META : 0;
	lead = hrpc_sock_dgram_lead(&c);
	if (meta)
		max = max > (hrpc_u32)sizeof(*meta) ? max - (hrpc_u32)sizeof(*meta) : 0;
	if (c.len > max || c.full_len < c.len || c.full_len > HRPC_SOCK_DGRAM_MAX)
		return -EMSGSIZE;
	rec = hrpc_sock_dgram_rec(&c);
	space = hrpc_ring_space(r);
	if (space < 0)
		return (int)space;
	if ((hrpc_u32)space < rec)
		return -EAGAIN;
	hrpc_ring_copy_in(r, r->pvt, &c, sizeof(c));
	if (meta)
		hrpc_ring_copy_in(r, r->pvt + sizeof(c), meta, sizeof(*meta));
	if (c.len)
		hrpc_ring_copy_in(r, r->pvt + lead, payload, c.len);
	hrpc_sring_produce(r, rec);
	return 0;
}

static inline int hrpc_dring_put(struct hrpc_ring *r, const struct hrpc_sock_dgram *h,
				 const void *payload)
{
	return hrpc_dring_put_meta(r, h, NULL, payload);
}

/*
 * Consumer: copy the next datagram's header into *h, its ancillary data
 * into *meta (have = 0 when the record has none; `meta` may be NULL) and up
 * to `cap` bytes of its payload into dst; consume it unless `peek` (a peeker
 * consumes hrpc_sock_dgram_rec(h) bytes later).  Returns the payload bytes
 * copied (h->len may be larger: the reader's buffer was short, which is
 * MSG_TRUNC for it), -EAGAIN when empty, -EPROTO when the record cannot be
 * (lengths, flags, meta, alignment, a record past the producer index).
 */
static inline long hrpc_dring_get_meta(struct hrpc_ring *r, struct hrpc_sock_dgram *h,
				       struct hrpc_sock_dgram_meta *meta, void *dst,
				       hrpc_u32 cap, int peek)
{
	long avail = hrpc_sring_avail(r);
	hrpc_u32 rec, n, lead, max = hrpc_dring_max_payload(r->size);
	struct hrpc_sock_dgram_meta m;

	if (avail < 0)
		return avail;
	if (avail == 0)
		return -EAGAIN;
	if (hrpc_unlikely((hrpc_u32)avail < sizeof(*h) || (avail & 7)))
		return -EPROTO;
	hrpc_ring_copy_out(r, r->pvt, h, sizeof(*h));
	if (hrpc_unlikely((h->flags & ~HRPC_SOCK_DGRAM_F_META) || h->reserved))
		return -EPROTO;
	if (h->flags & HRPC_SOCK_DGRAM_F_META)
		max = max > (hrpc_u32)sizeof(m) ? max - (hrpc_u32)sizeof(m) : 0;
	if (hrpc_unlikely(h->len > max || h->full_len < h->len ||
			  h->full_len > HRPC_SOCK_DGRAM_MAX))
		return -EPROTO;
	lead = hrpc_sock_dgram_lead(h);
	rec = hrpc_sock_dgram_rec(h);
	if (hrpc_unlikely(rec > (hrpc_u32)avail))
		return -EPROTO;
	memset(&m, 0, sizeof(m));
	if (h->flags & HRPC_SOCK_DGRAM_F_META) {
		hrpc_ring_copy_out(r, r->pvt + sizeof(*h), &m, sizeof(m));
		if (hrpc_unlikely(!m.have || (m.have & ~HRPC_SOCK_META_ALL)))
			return -EPROTO;
	}
	if (meta)
		*meta = m;
	n = h->len < cap ? h->len : cap;
	if (n)
		hrpc_ring_copy_out(r, r->pvt + lead, dst, n);
	if (!peek)
		hrpc_sring_consume(r, rec);
	return (long)n;
}

static inline long hrpc_dring_get(struct hrpc_ring *r, struct hrpc_sock_dgram *h, void *dst,
				  hrpc_u32 cap, int peek)
{
	return hrpc_dring_get_meta(r, h, NULL, dst, cap, peek);
}

#endif /* HOSTRPC_SOCKRING_H */
