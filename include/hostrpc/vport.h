/* SPDX-License-Identifier: MIT */
/*
 * vport.h - Host RPC over a byte stream (virtio-serial port, unix socket).
 *
 * There is no shared memory: each frame is a struct hrpc_msg_hdr, then `len`
 * bytes of inline payload, then - if HRPC_MSG_F_BULK is set - `bulk_len`
 * bytes of bulk data.  bulk_off must be 0.  A CALL's bulk_cap tells the
 * server how many bulk bytes the REPLY may carry.  Frames are not padded.
 */
#ifndef HOSTRPC_VPORT_H
#define HOSTRPC_VPORT_H

#include "compat.h"
#include "msg.h"

/* Largest bulk part of one vport frame; longer transfers are chunked by the
 * service (streams, file reads). */
#define HRPC_VPORT_MAX_BULK (1024u * 1024u)

/* Framing check on top of hrpc_msg_check(): returns 0 or -EPROTO. */
static inline int hrpc_vport_frame_check(const struct hrpc_msg_hdr *h)
{
	if (h->flags & HRPC_MSG_F_BULK) {
		if (h->bulk_off != 0 || h->bulk_len > HRPC_VPORT_MAX_BULK ||
		    h->bulk_cap > HRPC_VPORT_MAX_BULK ||
		    (h->kind == HRPC_KIND_CALL && h->bulk_len > h->bulk_cap))
			return -EPROTO;
	} else if (h->bulk_off || h->bulk_len || h->bulk_cap) {
		return -EPROTO;
	}
	return 0;
}

#endif /* HOSTRPC_VPORT_H */
