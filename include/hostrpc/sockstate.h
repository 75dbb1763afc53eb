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
#include "sockring.h"

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


/* ---- the socket service's table (a guest's sockets, one record each) ------- */

/*
 * What the source's worker knows about each socket and cannot read back
 * from the host kernel at the destination: the guest's handle, the
 * service's own state, the socket's data area and the host's words and
 * ring indexes in it, and the journal of the options the guest set (bind
 * address, listen backlog, setsockopt values: the state-setting calls the
 * destination replays, as the BitVisor and Toshiba papers do for devices).
 * An established TCP connection's image (struct hrpc_tcp_image) follows its
 * record (tcp_len bytes).
 *
 *   struct hrpc_sock_mig_table | nsock x (struct hrpc_sock_mig | tcp image)
 */
#define HRPC_SOCK_MIG_MAGIC     0x31544b53u  /* "SKT1" */
#define HRPC_SOCK_MIG_MAX       65536u       /* sockets in one table */
#define HRPC_SOCK_MIG_OPTS      32u          /* journal entries per socket */

/* hrpc_sock_mig.state: the service's states (sock.c) */
#define HRPC_SOCK_MIG_NEW        1u
#define HRPC_SOCK_MIG_BOUND      2u
#define HRPC_SOCK_MIG_LISTEN     3u
#define HRPC_SOCK_MIG_CONNECTING 4u
#define HRPC_SOCK_MIG_CONNECTED  5u
#define HRPC_SOCK_MIG_SHUT       6u

/* hrpc_sock_mig.flags */
#define HRPC_SOCK_MIG_F_AREA          0x01u  /* version 2: area, host words, indexes */
#define HRPC_SOCK_MIG_F_WANT_IN       0x02u
#define HRPC_SOCK_MIG_F_WANT_OUT      0x04u
#define HRPC_SOCK_MIG_F_CONNECT_OPEN  0x08u
#define HRPC_SOCK_MIG_F_CONNECT_RETRY 0x10u
#define HRPC_SOCK_MIG_F_SHUT_SENT     0x20u
#define HRPC_SOCK_MIG_F_TSTAMP        0x40u
#define HRPC_SOCK_MIG_F_V6ONLY        0x80u  /* the guest reads IPV6_V6ONLY 1 */
#define HRPC_SOCK_MIG_F_LOST          0x100u /* a connection the source could not freeze */
#define HRPC_SOCK_MIG_F_PENDING       0x200u /* a state waited for event credit */
/* An established connection that lives at a remnant, not where the guest
 * runs (issue 14); the destination serves the guest a local stand-in.
 *  - no image (tcp_len 0): it stays at this migration's source, which
 *    forwards its bytes over the forward link (migfwd.h);
 *  - a forward image (struct hrpc_sock_fwd_image): it was already
 *    forwarded to the source from a remnant on another host; the image
 *    carries the bytes that were under way at the source (the HOLD of
 *    migfwd.h).  On the remnant's own host the connection becomes local
 *    again; elsewhere it is reset (re-pointing the remnant is not built). */
#define HRPC_SOCK_MIG_F_FORWARD       0x400u
/* A listener bound to an address only the source has (its loopback): the
 * source's remnant keeps a copy and forwards the connections it accepts
 * (migfwd.h ACCEPT); the listener itself moves as any. */
#define HRPC_SOCK_MIG_F_FWD_LISTEN    0x800u
#define HRPC_SOCK_MIG_F_ALL           0xfffu

#define HRPC_SOCK_FWD_IMAGE_MAGIC     0x31445746u  /* "FWD1" */

struct hrpc_sock_fwd_image {
	hrpc_u32 magic;            /* HRPC_SOCK_FWD_IMAGE_MAGIC */
	hrpc_u32 size;             /* this header and both runs of bytes */
	hrpc_u32 in_len;           /* for the guest, oldest first: ahead of any byte
	                            * the remnant's socket still holds */
	hrpc_u32 out_len;          /* from the guest: after every byte the remnant
	                            * still has to write */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_fwd_image) == 16, "forward image is 16 bytes");

static inline int hrpc_sock_fwd_image_check(const void *image, hrpc_u64 len)
{
	struct hrpc_sock_fwd_image h;

	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, image, sizeof(h));
	if (h.magic != HRPC_SOCK_FWD_IMAGE_MAGIC || h.size != len ||
	    h.in_len > HRPC_TCP_IMAGE_QUEUE_MAX || h.out_len > HRPC_TCP_IMAGE_QUEUE_MAX ||
	    (hrpc_u64)sizeof(h) + h.in_len + h.out_len != len)
		return -EPROTO;
	return 0;
}

struct hrpc_sock_mig_opt {
	hrpc_s32 level, name;      /* as the guest set them (sock.c's table) */
	hrpc_u32 len;              /* <= 8 */
	hrpc_u8  val[8];
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_mig_opt) == 24, "journal entry is 24 bytes");

struct hrpc_sock_mig {
	hrpc_u64 handle;           /* the guest's handle: the same at the destination */
	hrpc_u8  state;            /* HRPC_SOCK_MIG_* */
	hrpc_u8  nopt;             /* journal entries used */
	hrpc_u16 flags;            /* HRPC_SOCK_MIG_F_* */
	hrpc_u16 family;           /* the guest's: HRPC_AF_INET / HRPC_AF_INET6 */
	hrpc_u16 type;             /* HRPC_SOCK_STREAM / HRPC_SOCK_DGRAM */
	hrpc_u16 host_family;      /* 0, or HRPC_AF_INET6: made again as IPv6 (translate.h) */
	hrpc_u16 xl_rule;          /* 1 + the translation rule used last, 0 none */
	hrpc_u32 backlog;          /* listen() */
	hrpc_u32 seq;              /* the guest's last state sequence number */
	hrpc_u32 reported;         /* the mask the guest was told */
	hrpc_u32 tcp_len;          /* image bytes after this record */
	hrpc_u32 reserved0;        /* 0 */
	hrpc_u64 sent, received;
	struct hrpc_sock_addr local, peer;   /* the host's; family 0: none */
	/* with HRPC_SOCK_MIG_F_AREA */
	struct hrpc_sock_area area;
	hrpc_u32 host_flags, host_mask, host_seq, host_err_seq;
	hrpc_s32 host_err;
	hrpc_u32 in_prod, out_cons;          /* the host's own ring indexes */
	hrpc_u64 pushed, drained, dropped;
	struct hrpc_sock_mig_opt opt[HRPC_SOCK_MIG_OPTS];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_mig) == 960, "socket record is 960 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_sock_mig, local) == 56, "local at 56");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_sock_mig, opt) == 192, "journal at 192");

struct hrpc_sock_mig_table {
	hrpc_u32 magic;            /* HRPC_SOCK_MIG_MAGIC */
	hrpc_u32 nsock;
	hrpc_u64 size;             /* the whole table in bytes */
	hrpc_u32 version;          /* the guest's INIT: 0 (none yet), 1 or 2 */
	hrpc_u32 credit;           /* event credit the guest had granted */
	hrpc_u64 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_mig_table) == 32, "table header is 32 bytes");

static inline int hrpc_sock_mig_addr_ok(const struct hrpc_sock_addr *a)
{
	static const hrpc_u8 zero[16];

	if (a->reserved)
		return 0;
	if (!a->family)
		return !a->port && !a->flowinfo && !a->scope_id && !memcmp(a->addr, zero, 16);
	if (a->family == HRPC_AF_INET)
		return !a->flowinfo && !a->scope_id && !memcmp(a->addr + 4, zero, 12);
	return a->family == HRPC_AF_INET6;
}

/* Check one record (a private copy).  0 or -EPROTO. */
static inline int hrpc_sock_mig_check(const struct hrpc_sock_mig *m)
{
	if (m->state < HRPC_SOCK_MIG_NEW || m->state > HRPC_SOCK_MIG_SHUT ||
	    (m->flags & ~HRPC_SOCK_MIG_F_ALL) || m->nopt > HRPC_SOCK_MIG_OPTS ||
	    m->reserved0)
		return -EPROTO;
	if (m->family != HRPC_AF_INET && m->family != HRPC_AF_INET6)
		return -EPROTO;
	if (m->type != HRPC_SOCK_STREAM && m->type != HRPC_SOCK_DGRAM)
		return -EPROTO;
	if (m->host_family && (m->host_family != HRPC_AF_INET6 || m->family != HRPC_AF_INET))
		return -EPROTO;
	if (m->type == HRPC_SOCK_DGRAM && (m->state == HRPC_SOCK_MIG_LISTEN || m->tcp_len))
		return -EPROTO;
	if ((m->flags & HRPC_SOCK_MIG_F_FWD_LISTEN) &&
	    (m->type != HRPC_SOCK_STREAM || m->state != HRPC_SOCK_MIG_LISTEN))
		return -EPROTO;
	if ((m->flags & HRPC_SOCK_MIG_F_FORWARD) &&
	    (m->type != HRPC_SOCK_STREAM || (m->flags & HRPC_SOCK_MIG_F_LOST) ||
	     (m->tcp_len && m->tcp_len < sizeof(struct hrpc_sock_fwd_image)) ||
	     (m->state != HRPC_SOCK_MIG_CONNECTED && m->state != HRPC_SOCK_MIG_SHUT)))
		return -EPROTO;
	if (m->tcp_len > sizeof(struct hrpc_tcp_image) + 2ull * HRPC_TCP_IMAGE_QUEUE_MAX ||
	    m->backlog > 65535)
		return -EPROTO;
	if (!hrpc_sock_mig_addr_ok(&m->local) || !hrpc_sock_mig_addr_ok(&m->peer))
		return -EPROTO;
	if (!(m->flags & HRPC_SOCK_MIG_F_AREA) && (m->area.off || m->area.out_size ||
						    m->area.in_size || m->area.reserved))
		return -EPROTO;
	for (unsigned int i = 0; i < m->nopt; i++)
		if (m->opt[i].len > 8 || m->opt[i].reserved)
			return -EPROTO;
	return 0;
}

#endif /* HOSTRPC_SOCKSTATE_H */
