/* SPDX-License-Identifier: MIT */
/*
 * msg.h - the Host RPC message header, shared by every transport.
 *
 * A message is a 40-byte header followed by `len` bytes of inline payload.
 * Large data ("bulk") does not travel inline: on shared-memory transports it
 * lives in the data area and the header points at it (bulk_off/bulk_len/
 * bulk_cap); on the stream transport (vport) the bulk bytes follow the inline
 * payload in the same frame.  docs/protocol.md is the normative text.
 *
 * Errors are Linux errno values, negated, in the status field of a reply.
 */
#ifndef HOSTRPC_MSG_H
#define HOSTRPC_MSG_H

#include "compat.h"

#define HRPC_MSG_MAGIC        0x43505248u /* "HRPC" little-endian */
#define HRPC_PROTO_VERSION    1           /* header format version */

/* Largest inline payload any side may send or must accept. */
#define HRPC_MSG_MAX_PAYLOAD  65536u

enum hrpc_msg_kind {
	HRPC_KIND_CALL  = 1,  /* client -> server, expects exactly one REPLY  */
	HRPC_KIND_REPLY = 2,  /* server -> client, same call_id as the CALL   */
	HRPC_KIND_EVENT = 3,  /* server -> client, unsolicited, call_id = 0    */
};

/* flags */
#define HRPC_MSG_F_BULK       0x0001u /* bulk_off/bulk_len/bulk_cap are valid */
#define HRPC_MSG_F_ONEWAY     0x0002u /* CALL that wants no REPLY             */
#define HRPC_MSG_F_KNOWN      (HRPC_MSG_F_BULK | HRPC_MSG_F_ONEWAY)

struct hrpc_msg_hdr {
	hrpc_u32 magic;     /* HRPC_MSG_MAGIC */
	hrpc_u8  version;   /* HRPC_PROTO_VERSION */
	hrpc_u8  kind;      /* enum hrpc_msg_kind */
	hrpc_u16 flags;     /* HRPC_MSG_F_* ; unknown bits are an error */
	hrpc_u16 service;   /* enum hrpc_service */
	hrpc_u16 proc;      /* procedure or event number within the service */
	hrpc_s32 status;    /* REPLY: 0 or -errno (Linux numbering); else 0 */
	hrpc_u64 call_id;   /* chosen by the client, echoed by the server */
	hrpc_u32 len;       /* inline payload bytes following the header */
	hrpc_u32 bulk_len;  /* CALL: request bytes at bulk_off; REPLY: reply bytes */
	hrpc_u32 bulk_off;  /* byte offset in the data area (shm transports) */
	hrpc_u32 bulk_cap;  /* CALL: bytes of the buffer the server may write */
};

HRPC_STATIC_ASSERT(sizeof(struct hrpc_msg_hdr) == 40, "hrpc_msg_hdr is 40 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_msg_hdr, service) == 8, "service at 8");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_msg_hdr, call_id) == 16, "call_id at 16");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_msg_hdr, len) == 24, "len at 24");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_msg_hdr, bulk_cap) == 36, "bulk_cap at 36");

#define HRPC_MSG_HDR_SIZE     ((hrpc_u32)sizeof(struct hrpc_msg_hdr))

/* Service numbers.  0-15 are the core; each outsourced/guest-sourced service
 * has its own header with its procedures and payload structs. */
enum hrpc_service {
	HRPC_SVC_CONTROL  = 0,      /* include/hostrpc/control.h */
	HRPC_SVC_ECHO     = 1,      /* include/hostrpc/echo.h    */
	HRPC_SVC_STATS    = 2,      /* include/hostrpc/stats.h   */
	HRPC_SVC_SOCK     = 16,     /* outsourced sockets        */
	HRPC_SVC_FS       = 17,     /* outsourced filesystem     */
	HRPC_SVC_MEM      = 18,     /* outsourced memory         */
	HRPC_SVC_GUEST_FS   = 256,  /* Guest RPC: guest filesystem */
	HRPC_SVC_GUEST_EXEC = 257,  /* Guest RPC: command execution */
	HRPC_SVC_ADMIN    = 512,    /* hostrpcctl <-> hostrpcd (host only) */
};

/*
 * Structural check of a header that was already copied out of shared memory
 * or off the stream.  Returns 0 or -errno:
 *   -EBADMSG          magic, kind or flags invalid (not a Host RPC message)
 *   -EPROTONOSUPPORT  version differs (the message is otherwise sane)
 *   -EMSGSIZE         inline payload larger than HRPC_MSG_MAX_PAYLOAD
 * Bulk references are checked by the transport, which knows its data area.
 */
static inline int hrpc_msg_check(const struct hrpc_msg_hdr *h)
{
	if (h->magic != HRPC_MSG_MAGIC)
		return -EBADMSG;
	if (h->kind < HRPC_KIND_CALL || h->kind > HRPC_KIND_EVENT)
		return -EBADMSG;
	if (h->flags & ~HRPC_MSG_F_KNOWN)
		return -EBADMSG;
	if (h->len > HRPC_MSG_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (h->version != HRPC_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

static inline void hrpc_msg_init(struct hrpc_msg_hdr *h, hrpc_u8 kind,
				 hrpc_u16 service, hrpc_u16 proc,
				 hrpc_u64 call_id, hrpc_u32 len)
{
	memset(h, 0, sizeof(*h));
	h->magic = HRPC_MSG_MAGIC;
	h->version = HRPC_PROTO_VERSION;
	h->kind = kind;
	h->service = service;
	h->proc = proc;
	h->call_id = call_id;
	h->len = len;
}

#endif /* HOSTRPC_MSG_H */
