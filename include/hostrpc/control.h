/* SPDX-License-Identifier: MIT */
/*
 * control.h - service 0: version negotiation.  Every channel starts with a
 * HELLO call; until it succeeded the server answers every other call with
 * -ENOTCONN.  The header `version` field is the frame format and never
 * negotiates; HELLO negotiates the protocol revision and feature bits.
 */
#ifndef HOSTRPC_CONTROL_H
#define HOSTRPC_CONTROL_H

#include "compat.h"

#define HRPC_REVISION_MIN 1
#define HRPC_REVISION_MAX 1

enum hrpc_control_proc {
	HRPC_CONTROL_HELLO = 1, /* hrpc_control_hello -> hrpc_control_welcome */
	HRPC_CONTROL_BYE   = 2, /* no payload -> no payload; server drops the channel after replying */
};

/* Feature bits (none defined by revision 1 besides these). */
#define HRPC_FEAT_EVENTS  (1ull << 0) /* client handles EVENT messages */
#define HRPC_FEAT_BULK    (1ull << 1) /* client uses bulk references */

struct hrpc_control_hello {
	hrpc_u16 min_revision;
	hrpc_u16 max_revision;
	hrpc_u32 reserved;       /* must be 0 */
	hrpc_u64 features;       /* what the client supports */
	char     name[64];       /* client label, NUL-padded; informative only */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_control_hello) == 80, "hello is 80 bytes");

struct hrpc_control_welcome {
	hrpc_u16 revision;       /* chosen: max of the overlap */
	hrpc_u16 reserved;
	hrpc_u32 max_payload;    /* HRPC_MSG_MAX_PAYLOAD */
	hrpc_u64 features;       /* client's & server's */
	hrpc_u32 guest_id;       /* server's number for this guest */
	hrpc_u32 data_size;      /* bulk data area bytes (0 on vport) */
	char     server[64];     /* server label, NUL-padded */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_control_welcome) == 88, "welcome is 88 bytes");

#endif /* HOSTRPC_CONTROL_H */
