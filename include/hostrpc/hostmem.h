/* SPDX-License-Identifier: MIT */
/*
 * hostmem.h - /dev/hostmem, the user ABI of drivers-frontend/mem
 * (hostrpc_mem.ko): guest processes map memory the host granted
 * (include/hostrpc/mem.h, service 18).
 *
 *   fd = open("/dev/hostmem", O_RDWR);
 *   p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *
 * Each open file gets its chunks at its first mmap: `len` a multiple of
 * the chunk size, offset 0; ENOMEM when fewer granted chunks are free,
 * EBUSY on a second mmap of the same file.  The chunks go back to the
 * driver's free pool (still granted to the guest) when the file's last
 * reference goes.  A chunk the host reclaims is moved (its content copied
 * to a free granted chunk, the mapping re-pointed) when the driver can,
 * and released; when it cannot, the host takes it at the reclaim's
 * deadline and every access to it from then on is SIGBUS.
 *
 * Numbers are native (this is a local ABI, not a wire format).
 */
#ifndef HOSTRPC_HOSTMEM_H
#define HOSTRPC_HOSTMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HOSTMEM_DEV "/dev/hostmem"
#define HOSTMEM_IOC_TYPE 0xB8

struct hostmem_info {
	__u32 chunk_size;  /* bytes (HRPC_MEM_CHUNK) */
	__u32 nchunks;     /* chunks in the region (the BAR) */
	__u32 granted;     /* chunks the host granted now */
	__u32 free;        /* granted, in no mapping */
	__u32 mapped;      /* granted, in a mapping */
	__u32 pinned;      /* pinned by the host at the guest's request */
	__u32 lost;        /* taken by the host at a deadline while mapped: SIGBUS */
	__u32 attached;    /* 1: the host's memory service answered HELLO */
	__u64 reclaims;    /* RECLAIM events handled */
	__u64 moved;       /* chunks whose content moved to another chunk */
	__u64 released;    /* chunks given back to the host */
	__u64 forced;      /* chunks lost at a reclaim's deadline */
};

/* A range of the calling file's mapping: offset and length multiples of
 * the chunk size. */
struct hostmem_range {
	__u64 offset;
	__u64 length;
};

#define HOSTMEM_IOC_INFO  _IOR(HOSTMEM_IOC_TYPE, 1, struct hostmem_info)
#define HOSTMEM_IOC_PIN   _IOW(HOSTMEM_IOC_TYPE, 2, struct hostmem_range)
#define HOSTMEM_IOC_UNPIN _IOW(HOSTMEM_IOC_TYPE, 3, struct hostmem_range)

#endif /* HOSTRPC_HOSTMEM_H */
