/* SPDX-License-Identifier: MIT */
/*
 * migfwd.h - forwarding to objects that stayed on another host (issue 14,
 * DESIGN.md "Migration" step 4).
 *
 * After a migration some of a guest's objects cannot move: a connection
 * to a service only the source host reaches (its loopback, an address
 * only it routes to).  They stay in a small remnant at the source; the
 * worker now serving the guest enters each in its location table and
 * forwards every operation on it over a forward link: the authenticated
 * host-to-host link of miglink.h (per-pair key, HMAC tag and sequence
 * number on every frame), whose frame types are the ones below.
 *
 * An object is a byte stream both ways (a connected TCP socket), named by
 * the guest's handle for it, which both ends know from the migration's
 * socket table.  Each direction of each object is its own flow:
 *
 *   DATA   bytes, in order; at most HRPC_FWD_WINDOW bytes a receiver has
 *          not acknowledged (ACK) may be under way: more breaks the link.
 *   ACK    the receiver passed that many more bytes on (credit back).
 *   SHUT   no more DATA this way (a FIN: the writer shut down or the
 *          reader at the far end saw end of file).
 *   RESET  the object failed or was abandoned at the sender's end (the
 *          errno says how: ECONNRESET, EPIPE...): both directions end at
 *          once, data not yet passed on is dropped; the receiver resets
 *          its end too, so a program sees a reset connection.
 *
 * The guest moves on (issue 14 item 2).  The end where the guest runs
 * says HOLD: from then on it reads and writes none of its descriptors,
 * and the far end (the remnant) sends no more DATA; the remnant answers
 * HELD once every DATA it sent is ahead of it on the link.  After HELD
 * nothing of any object is under way: the guest's end knows every byte
 * that came (what it has not passed on), the remnant every byte it has
 * not yet written.  Then either the guest moved (the objects are taken
 * from the remnant, forward.h) or the move failed and RESUME (guest's end
 * to remnant) lets both ends go on where they were.  HOLD while held,
 * and RESUME or HELD when not, break the link.
 *
 * A guest that moves on to a third host takes its forwards along, with no
 * chain (item 2): while held, the guest's end says MOVE with the address
 * of the next host's forward listener; the remnant's host opens a new
 * forward link there (authenticated with its own pair key), moves every
 * object onto it with what it had not yet written, and answers MOVED (0
 * and how many moved, or why not).  The next host starts each object
 * with the bytes that were under way at the guest's old end (sockstate.h,
 * forward image): those for the guest it passes on first, those from the
 * guest it sends first.  The old link then ends with BYE.
 *
 * A listener bound to an address only the source has (its loopback) also
 * keeps a copy at the remnant (the guest's own moves as any listener).
 * Its object is the guest's handle for the listener; it carries no bytes.
 * Each connection the remnant accepts on it becomes a new object, named by
 * the remnant (ACCEPT: a number no object of the link has), whose bytes
 * flow as any; the guest's end makes it arrive at the guest's listener
 * and, once the guest accepted it, names it by the guest's handle
 * (RENAME, to the remnant).  RESET of the listener's object (the guest
 * closed it) closes the copy.
 *
 * Calls (issue 14: a file open in an export only the source has).  The
 * remnant also keeps the guest's servers of such exports; the guest's end
 * sends each Host RPC call on them as CALL (its payload, and its request
 * bulk: the bytes the guest gave), and the remnant answers every CALL but
 * a one-way one with a REPLY of the same id (the reply's payload and
 * bulk), in the order the calls came.  At most HRPC_FWD_CALLS calls may
 * be under way (a call is under way until its REPLY arrived): a remnant
 * that holds that many replies the caller has not read yet breaks the link
 * at the next CALL.  A REPLY to no call under way breaks the link.  What the
 * remnant's servers tell the guest on their own (an invalidation) goes
 * as EVENT.  When the link ends every call under way fails (EIO).
 *
 * Calls of service HRPC_FWD_SVC_REMNANT are to the remnant itself, when
 * the guest moves on from the guest's end: FS_EXPORT (no payload; bulk
 * room for the answer) lets go of the guest's locks on the files of the
 * servers it kept and answers with their state as reply bulk (a
 * filesystem table, fsstate.h), for the guest's next host to make them
 * again; FS_RESUME (one-way) is the rollback: the locks are taken again.
 *
 * An object ends when both directions are SHUT and every byte was passed
 * on, or at a RESET.  Frames about an object that ended are ignored (they
 * were under way).  BYE ends the link in order; a link that breaks in
 * any other way (cut, a bad frame) resets every object it carried.
 *
 * Numbers are little-endian, as everywhere in hostrpc (compat.h).  Every
 * payload has a fixed size (DATA: a header, then 1..HRPC_FWD_DATA_MAX
 * bytes); hrpc_fwd_check() is the one check, on the receiver's private
 * copy, before anything is used.
 */
#ifndef HOSTRPC_MIGFWD_H
#define HOSTRPC_MIGFWD_H

#include "compat.h"
#include "msg.h"
#include "sock.h"

/* Frame types on a forward link (the migration link's are below 64). */
enum hrpc_fwd_type {
	HRPC_FWD_HELLO = 64,       /* struct hrpc_fwd_hello, first frame each way */
	HRPC_FWD_DATA  = 65,       /* struct hrpc_fwd_obj + 1..HRPC_FWD_DATA_MAX bytes */
	HRPC_FWD_ACK   = 66,       /* struct hrpc_fwd_ack */
	HRPC_FWD_SHUT  = 67,       /* struct hrpc_fwd_obj */
	HRPC_FWD_RESET = 68,       /* struct hrpc_fwd_reset */
	HRPC_FWD_BYE   = 69,       /* empty: the sender ends the link */
	HRPC_FWD_HOLD  = 70,       /* empty: guest's end -> remnant, the guest moves on */
	HRPC_FWD_HELD  = 71,       /* empty: remnant -> guest's end, after its last DATA */
	HRPC_FWD_RESUME = 72,      /* empty: guest's end -> remnant, the move failed */
	HRPC_FWD_MOVE  = 73,       /* struct hrpc_fwd_move: guest's end -> remnant, held */
	HRPC_FWD_MOVED = 74,       /* struct hrpc_fwd_moved: remnant -> guest's end */
	HRPC_FWD_ACCEPT = 75,      /* struct hrpc_fwd_accept: remnant -> guest's end */
	HRPC_FWD_RENAME = 76,      /* struct hrpc_fwd_rename: guest's end -> remnant */
	HRPC_FWD_CALL  = 77,       /* struct hrpc_fwd_call, payload, bulk: guest's end -> remnant */
	HRPC_FWD_REPLY = 78,       /* struct hrpc_fwd_reply, payload, bulk: remnant -> guest's end */
	HRPC_FWD_EVENT = 79,       /* struct hrpc_fwd_event, payload: remnant -> guest's end */
};

#define HRPC_FWD_MAGIC     0x44574648u   /* "HFWD" */
#define HRPC_FWD_VERSION   1u
#define HRPC_FWD_DATA_MAX  (64u << 10)   /* bytes in one DATA frame */
#define HRPC_FWD_WINDOW    (256u << 10)  /* unacknowledged bytes per object and direction */
#define HRPC_FWD_CALLS     16u           /* calls under way per link */
#define HRPC_FWD_BULK_MAX  (1u << 20)    /* bulk bytes of one call or reply */
/* The largest frame payload a receiver accepts (a CALL with all). */
#define HRPC_FWD_FRAME_MAX (32u + HRPC_MSG_MAX_PAYLOAD + HRPC_FWD_BULK_MAX)

#define HRPC_FWD_CALL_F_ONEWAY 0x1u      /* no REPLY */

#define HRPC_FWD_SVC_REMNANT      0xffffu /* calls to the remnant itself */
#define HRPC_FWD_REMNANT_FS_EXPORT 1u     /* -> reply bulk: fsstate.h table */
#define HRPC_FWD_REMNANT_FS_RESUME 2u     /* one-way */

struct hrpc_fwd_call {
	hrpc_u64 id;               /* not 0; not that of another call under way */
	hrpc_u16 service;          /* the Host RPC service (HRPC_SVC_FS), not 0 */
	hrpc_u16 proc;
	hrpc_u32 len;              /* payload bytes that follow, <= HRPC_MSG_MAX_PAYLOAD */
	hrpc_u32 bulk_len;         /* request bulk bytes after them, <= bulk_cap */
	hrpc_u32 bulk_cap;         /* the caller's bulk buffer, <= HRPC_FWD_BULK_MAX */
	hrpc_u32 flags;            /* HRPC_FWD_CALL_F_* */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_call) == 32, "fwd call is 32 bytes");

struct hrpc_fwd_reply {
	hrpc_u64 id;               /* the call's */
	hrpc_s32 status;           /* 0, or a negative errno (-1..-4095) */
	hrpc_u32 len;              /* payload bytes that follow */
	hrpc_u32 bulk_len;         /* reply bulk after them, <= the call's bulk_cap; 0 on error */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_reply) == 24, "fwd reply is 24 bytes");

struct hrpc_fwd_event {
	hrpc_u16 service;          /* not 0 */
	hrpc_u16 proc;
	hrpc_u32 len;              /* payload bytes that follow, <= HRPC_MSG_MAX_PAYLOAD */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_event) == 8, "fwd event is 8 bytes");

struct hrpc_fwd_hello {
	hrpc_u32 magic;            /* HRPC_FWD_MAGIC */
	hrpc_u32 version;          /* HRPC_FWD_VERSION */
	char     guest[64];        /* the guest's name, as miglink.h's */
	hrpc_u32 nobj;             /* objects the sender holds for this link */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_hello) == 80, "fwd hello is 80 bytes");

struct hrpc_fwd_obj {
	hrpc_u64 object;           /* the guest's handle; never 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_obj) == 8, "fwd object is 8 bytes");

struct hrpc_fwd_move {
	char     host[64];         /* the next host's address, numeric, NUL-padded */
	hrpc_u16 port;             /* its forward listener, not 0 */
	hrpc_u16 reserved0;        /* 0 */
	hrpc_u32 reserved1;        /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_move) == 72, "fwd move is 72 bytes");

struct hrpc_fwd_moved {
	hrpc_s32 status;           /* 0, or a negative errno (-1..-4095) */
	hrpc_u32 nobj;             /* objects now on the new link */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_moved) == 8, "fwd moved is 8 bytes");

struct hrpc_fwd_accept {
	hrpc_u64 listener;         /* the listener's object (the guest's handle) */
	hrpc_u64 object;           /* the new connection's, chosen by the remnant */
	struct hrpc_sock_addr local, peer;   /* the connection at the remnant */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_accept) == 80, "fwd accept is 80 bytes");

struct hrpc_fwd_rename {
	hrpc_u64 object;           /* as ACCEPT named it */
	hrpc_u64 name;             /* the guest's handle for it from now on */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_rename) == 16, "fwd rename is 16 bytes");

static inline int hrpc_fwd_addr_ok(const struct hrpc_sock_addr *a)
{
	static const hrpc_u8 zero[12];

	if (a->reserved || !a->port)
		return 0;
	if (a->family == HRPC_AF_INET)
		return !a->flowinfo && !a->scope_id && !memcmp(a->addr + 4, zero, 12);
	return a->family == HRPC_AF_INET6;
}

struct hrpc_fwd_ack {
	hrpc_u64 object;
	hrpc_u32 bytes;            /* 1..HRPC_FWD_WINDOW */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_ack) == 16, "fwd ack is 16 bytes");

struct hrpc_fwd_reset {
	hrpc_u64 object;
	hrpc_s32 error;            /* a positive errno, 1..4095 */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fwd_reset) == 16, "fwd reset is 16 bytes");

/*
 * Check one frame's payload (type, len bytes at p: the receiver's copy).
 * 0, or -EPROTO for anything a sane host would not send.  What it cannot
 * see (a window overrun, an object the receiver does not know) is the
 * receiver's to check.
 */
static inline int hrpc_fwd_check(hrpc_u32 type, const void *p, hrpc_u64 len)
{
	switch (type) {
	case HRPC_FWD_HELLO: {
		struct hrpc_fwd_hello h;
		int n = 0;

		if (len != sizeof(h))
			return -EPROTO;
		memcpy(&h, p, sizeof(h));
		if (h.magic != HRPC_FWD_MAGIC || h.version != HRPC_FWD_VERSION || h.reserved)
			return -EPROTO;
		while (n < (int)sizeof(h.guest) && h.guest[n])
			n++;
		if (n == 0 || n == (int)sizeof(h.guest))
			return -EPROTO;
		for (; n < (int)sizeof(h.guest); n++)
			if (h.guest[n])
				return -EPROTO;
		return 0;
	}
	case HRPC_FWD_DATA: {
		struct hrpc_fwd_obj o;

		if (len <= sizeof(o) || len > sizeof(o) + HRPC_FWD_DATA_MAX)
			return -EPROTO;
		memcpy(&o, p, sizeof(o));
		return o.object ? 0 : -EPROTO;
	}
	case HRPC_FWD_SHUT: {
		struct hrpc_fwd_obj o;

		if (len != sizeof(o))
			return -EPROTO;
		memcpy(&o, p, sizeof(o));
		return o.object ? 0 : -EPROTO;
	}
	case HRPC_FWD_ACK: {
		struct hrpc_fwd_ack a;

		if (len != sizeof(a))
			return -EPROTO;
		memcpy(&a, p, sizeof(a));
		return a.object && a.bytes && a.bytes <= HRPC_FWD_WINDOW && !a.reserved ?
			       0 : -EPROTO;
	}
	case HRPC_FWD_RESET: {
		struct hrpc_fwd_reset r;

		if (len != sizeof(r))
			return -EPROTO;
		memcpy(&r, p, sizeof(r));
		return r.object && r.error > 0 && r.error < 4096 && !r.reserved ? 0 : -EPROTO;
	}
	case HRPC_FWD_MOVE: {
		struct hrpc_fwd_move mv;
		int n = 0;

		if (len != sizeof(mv))
			return -EPROTO;
		memcpy(&mv, p, sizeof(mv));
		if (!mv.port || mv.reserved0 || mv.reserved1)
			return -EPROTO;
		while (n < (int)sizeof(mv.host) && mv.host[n])
			n++;
		if (n == 0 || n == (int)sizeof(mv.host))
			return -EPROTO;
		for (int i = 0; i < n; i++)
			if (!((mv.host[i] >= '0' && mv.host[i] <= '9') ||
			      (mv.host[i] >= 'a' && mv.host[i] <= 'f') ||
			      (mv.host[i] >= 'A' && mv.host[i] <= 'F') ||
			      mv.host[i] == '.' || mv.host[i] == ':'))
				return -EPROTO;
		for (; n < (int)sizeof(mv.host); n++)
			if (mv.host[n])
				return -EPROTO;
		return 0;
	}
	case HRPC_FWD_MOVED: {
		struct hrpc_fwd_moved md;

		if (len != sizeof(md))
			return -EPROTO;
		memcpy(&md, p, sizeof(md));
		return md.status <= 0 && md.status >= -4095 && (md.status == 0 || !md.nobj) ?
			       0 : -EPROTO;
	}
	case HRPC_FWD_ACCEPT: {
		struct hrpc_fwd_accept a;

		if (len != sizeof(a))
			return -EPROTO;
		memcpy(&a, p, sizeof(a));
		return a.listener && a.object && a.listener != a.object &&
		       hrpc_fwd_addr_ok(&a.local) && hrpc_fwd_addr_ok(&a.peer) &&
		       a.local.family == a.peer.family ? 0 : -EPROTO;
	}
	case HRPC_FWD_RENAME: {
		struct hrpc_fwd_rename r;

		if (len != sizeof(r))
			return -EPROTO;
		memcpy(&r, p, sizeof(r));
		return r.object && r.name ? 0 : -EPROTO;
	}
	case HRPC_FWD_CALL: {
		struct hrpc_fwd_call c;

		if (len < sizeof(c))
			return -EPROTO;
		memcpy(&c, p, sizeof(c));
		return c.id && c.service && c.len <= HRPC_MSG_MAX_PAYLOAD &&
		       c.bulk_cap <= HRPC_FWD_BULK_MAX && c.bulk_len <= c.bulk_cap &&
		       !(c.flags & ~HRPC_FWD_CALL_F_ONEWAY) && !c.reserved &&
		       len == sizeof(c) + (hrpc_u64)c.len + c.bulk_len ? 0 : -EPROTO;
	}
	case HRPC_FWD_REPLY: {
		struct hrpc_fwd_reply r;

		if (len < sizeof(r))
			return -EPROTO;
		memcpy(&r, p, sizeof(r));
		return r.id && r.status <= 0 && r.status >= -4095 && r.len <= HRPC_MSG_MAX_PAYLOAD &&
		       r.bulk_len <= HRPC_FWD_BULK_MAX && (r.status == 0 || !r.bulk_len) &&
		       !r.reserved && len == sizeof(r) + (hrpc_u64)r.len + r.bulk_len ? 0 : -EPROTO;
	}
	case HRPC_FWD_EVENT: {
		struct hrpc_fwd_event e;

		if (len < sizeof(e))
			return -EPROTO;
		memcpy(&e, p, sizeof(e));
		return e.service && e.len <= HRPC_MSG_MAX_PAYLOAD && len == sizeof(e) + e.len ?
			       0 : -EPROTO;
	}
	case HRPC_FWD_BYE:
	case HRPC_FWD_HOLD:
	case HRPC_FWD_HELD:
	case HRPC_FWD_RESUME:
		return len == 0 ? 0 : -EPROTO;
	default:
		return -EPROTO;
	}
}

#endif /* HOSTRPC_MIGFWD_H */
