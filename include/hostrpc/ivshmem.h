/* SPDX-License-Identifier: MIT */
/*
 * ivshmem.h - constants of QEMU's ivshmem-doorbell device and server
 * protocol (QEMU docs/specs/ivshmem-spec.rst) as hostrpc uses them.
 */
#ifndef HOSTRPC_IVSHMEM_H
#define HOSTRPC_IVSHMEM_H

#define HRPC_IVSHMEM_VENDOR      0x1af4
#define HRPC_IVSHMEM_DEVICE      0x1110
#define HRPC_IVSHMEM_REVISION    1

/* BAR0 registers */
#define HRPC_IVSHMEM_REG_INTRMASK   0
#define HRPC_IVSHMEM_REG_INTRSTATUS 4
#define HRPC_IVSHMEM_REG_IVPOSITION 8
#define HRPC_IVSHMEM_REG_DOORBELL   12 /* write (peer << 16) | vector */

/* Server protocol: the first int64 the server sends. */
#define HRPC_IVSHMEM_PROTOCOL_VERSION 0

/* Peer ids: the guest is 0 so that it can be the migration master (QEMU
 * requires master=on on peer 0); hostrpcd is a fixed higher peer. */
#define HRPC_IVSHMEM_GUEST_ID    0
#define HRPC_IVSHMEM_HOST_ID     1

/* Vectors (the same count on both peers; QEMU's `vectors=` must match). */
enum hrpc_ivshmem_vector {
	HRPC_IVSHMEM_VEC_RING  = 0, /* "look at your rings" */
	HRPC_IVSHMEM_VEC_RESET = 1, /* to the guest: "the channel was (re)initialised";
				     * to the host: "reset request, give me a
				     * fresh channel" (docs/protocol.md 3.3) */
	HRPC_IVSHMEM_NR_VECTORS = 2,
};

#endif /* HOSTRPC_IVSHMEM_H */
