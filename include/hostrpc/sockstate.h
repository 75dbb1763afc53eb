/* SPDX-License-Identifier: MIT */
/*
 * sockstate.h - the state of an outsourced socket as one host ships it to
 * another when its guest migrates (hostrpc-migrate, issue 12).
 *
 * An established TCP connection is frozen with TCP_REPAIR (as CRIU's
 * libsoccr does): its sequence numbers, options, window and both queues go
 * into an image; the destination host makes a socket with the same
 * connection from it, and the peer sees no difference.  The image comes
 * from another host over the migration link: the destination checks it
 * (hrpc_tcp_image_check()) before anything is read from it, and reads only
 * the checked copy.
 *
 *   struct hrpc_tcp_image (128 bytes) | receive queue (inq_len) | send queue (outq_len)
 *
 * Numbers are little-endian, as everywhere in hostrpc (compat.h).
 */
#ifndef HOSTRPC_SOCKSTATE_H
#define HOSTRPC_SOCKSTATE_H

#include "compat.h"
#include "sock.h"

#define HRPC_TCP_IMAGE_MAGIC    0x31504354u  /* "TCP1" */
/* Most bytes one queue may carry (a host socket's buffers are below). */
#define HRPC_TCP_IMAGE_QUEUE_MAX (64u << 20)

/* hrpc_tcp_image.state: Linux's numbers; only established connections
 * are frozen so far. */
#define HRPC_TCP_ESTABLISHED    1u

/* hrpc_tcp_image.opts */
#define HRPC_TCP_OPT_SACK       0x1u
#define HRPC_TCP_OPT_WSCALE     0x2u
#define HRPC_TCP_OPT_TSTAMP     0x4u
#define HRPC_TCP_OPT_ALL        0x7u

struct hrpc_tcp_image {
	hrpc_u32 magic;            /* HRPC_TCP_IMAGE_MAGIC */
	hrpc_u32 size;             /* the whole image: this header and both queues */
	struct hrpc_sock_addr local;
	struct hrpc_sock_addr peer;
	hrpc_u32 state;            /* HRPC_TCP_ESTABLISHED */
	hrpc_u32 snd_seq;          /* the sequence number after the send queue's last byte */
	hrpc_u32 rcv_seq;          /* rcv_nxt: after the receive queue's last byte */
	hrpc_u32 outq_len;         /* send queue bytes: sent but unacknowledged, then unsent */
	hrpc_u32 unsq_len;         /* of those, never sent (<= outq_len) */
	hrpc_u32 inq_len;          /* receive queue bytes, not yet read */
	hrpc_u32 mss;              /* TCP_MAXSEG */
	hrpc_u8  snd_wscale;       /* with HRPC_TCP_OPT_WSCALE, <= 14 */
	hrpc_u8  rcv_wscale;
	hrpc_u8  opts;             /* HRPC_TCP_OPT_* */
	hrpc_u8  reserved0;        /* 0 */
	hrpc_u32 timestamp;        /* TCP_TIMESTAMP: the connection's clock */
	/* TCP_REPAIR_WINDOW */
	hrpc_u32 snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_tcp_image) == 128, "tcp image header is 128 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_tcp_image, state) == 72, "state at 72");

static inline int hrpc_tcp_addr_ok(const struct hrpc_sock_addr *a)
{
	static const hrpc_u8 zero[12];

	if (a->reserved || !a->port)
		return 0;
	if (a->family == HRPC_AF_INET)
		return !a->flowinfo && !a->scope_id && !memcmp(a->addr + 4, zero, 12);
	return a->family == HRPC_AF_INET6;
}

/*
 * Check an image of `len` bytes (a private copy: the caller copied it out
 * of whatever it came through).  0, or -EPROTO for anything a sane host
 * would not have sent.
 */
static inline int hrpc_tcp_image_check(const void *image, hrpc_u64 len)
{
	struct hrpc_tcp_image h;

	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, image, sizeof(h));
	if (h.magic != HRPC_TCP_IMAGE_MAGIC || h.size != len || h.state != HRPC_TCP_ESTABLISHED ||
	    h.reserved0 || (h.opts & ~HRPC_TCP_OPT_ALL))
		return -EPROTO;
	if (h.inq_len > HRPC_TCP_IMAGE_QUEUE_MAX || h.outq_len > HRPC_TCP_IMAGE_QUEUE_MAX ||
	    h.unsq_len > h.outq_len ||
	    (hrpc_u64)sizeof(h) + h.inq_len + h.outq_len != len)
		return -EPROTO;
	if (!hrpc_tcp_addr_ok(&h.local) || !hrpc_tcp_addr_ok(&h.peer) ||
	    h.local.family != h.peer.family)
		return -EPROTO;
	if (h.mss < 64 || h.mss > 65535)
		return -EPROTO;
	if ((h.opts & HRPC_TCP_OPT_WSCALE) ? (h.snd_wscale > 14 || h.rcv_wscale > 14) :
					     (h.snd_wscale || h.rcv_wscale))
		return -EPROTO;
	return 0;
}

#endif /* HOSTRPC_SOCKSTATE_H */
