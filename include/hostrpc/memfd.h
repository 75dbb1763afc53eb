/* SPDX-License-Identifier: MIT */
/*
 * memfd.h - set-up message of the memfd transport (process guests).
 *
 * The server sends one struct hrpc_memfd_offer over the connected unix
 * stream socket with three fds attached (SCM_RIGHTS), in this order:
 * the sealed memfd holding the channel (layout: ring.h), the eventfd the
 * client writes to notify the server, the eventfd the server writes to
 * notify the client.  After that the socket carries nothing; its hang-up
 * tells either side that the other is gone.
 */
#ifndef HOSTRPC_MEMFD_H
#define HOSTRPC_MEMFD_H

#include "compat.h"

#define HRPC_MEMFD_MAGIC   0x46444d48u /* "HMDF" */
#define HRPC_MEMFD_VERSION 1u
#define HRPC_MEMFD_NR_FDS  3

struct hrpc_memfd_offer {
	hrpc_u32 magic;
	hrpc_u32 version;
	hrpc_u64 shm_size;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_memfd_offer) == 16, "memfd offer is 16 bytes");

#endif /* HOSTRPC_MEMFD_H */
