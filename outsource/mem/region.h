/* SPDX-License-Identifier: MIT */
/*
 * region.h - a guest's host-owned memory region (include/hostrpc/mem.h):
 * the chunk table the host keeps, and what granting, reclaiming and
 * pinning do to the region's file.
 *
 * The region is a sparse file (a memfd or a /dev/shm file the guest's QEMU
 * maps as an ivshmem-plain BAR) of nchunks * HRPC_MEM_CHUNK bytes.  Each
 * chunk is FREE (a hole in the file: it costs the host nothing), GRANTED
 * (the guest's), or RECLAIMING (the host asked for it back, under a seq,
 * by a deadline); a granted chunk may also be pinned (mlock'ed in the
 * host's own mapping of the file, within the pin quota).  A chunk leaves
 * the guest by RELEASE (the guest's) or when its deadline passes
 * (mem_region_expire): either way it is punched out of the file
 * (fallocate PUNCH_HOLE) and FREE again.
 *
 * Every guest request is checked against the table: ranges inside the
 * region, the chunks in the state the request needs.  The table is
 * host memory; nothing of it is shared with the guest.
 *
 * Lifetime: one owner (the guest's worker); mem_region_free() closes the
 * file and unmaps.  Error convention: 0 or -errno (plain C layer).
 */
#ifndef HOSTRPC_OUTSOURCE_MEM_REGION_H
#define HOSTRPC_OUTSOURCE_MEM_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include "hostrpc/mem.h"

struct mem_region;

struct mem_region_config {
	uint32_t nchunks;          /* 1..HRPC_MEM_CHUNKS_MAX */
	uint32_t pin_quota;        /* chunks that may be pinned at once */
	/* A worker restarted for the same running guest (its QEMU kept the
	 * file mapped): chunks holding data are the guest's - GRANTED, not
	 * punched.  Otherwise everything is punched: nothing is granted. */
	bool adopt;
};

/* Takes fd (also on failure): made at least nchunks * HRPC_MEM_CHUNK bytes
 * long (sparse, never shrunk) and punched empty - or, with cfg->adopt, its
 * chunks holding data taken as granted. */
int mem_region_new(int fd, const struct mem_region_config *cfg, struct mem_region **out);
void mem_region_free(struct mem_region *r);
int mem_region_fd(const struct mem_region *r);

/* The host's decisions.  grant: up to `want` FREE chunks, lowest first, as
 * ranges (at most `max` of them, written to out); returns the ranges made.
 * reclaim: up to `want` GRANTED chunks that are not pinned, highest first,
 * marked RECLAIMING with a new seq per range and a deadline `deadline_ms`
 * after now_ms; returns the ranges. */
int mem_region_grant(struct mem_region *r, uint32_t want, struct hrpc_mem_grant_event *out,
		     uint32_t max);
int mem_region_reclaim(struct mem_region *r, uint32_t want, uint64_t now_ms,
		       uint32_t deadline_ms, struct hrpc_mem_reclaim_event *out, uint32_t max);

/* The guest's requests (its range, checked here; all or nothing).
 * release: chunks GRANTED (seq 0) or RECLAIMING under `seq`; -EBUSY if one
 * is pinned, -EPERM if one is not the guest's or under another seq.  A
 * chunk the host took at the deadline of RECLAIM `seq` may be in the range
 * once (a late RELEASE): nothing is done to it.
 * pin: GRANTED chunks not pinned, -EDQUOT past the quota; unpin: pinned. */
int mem_region_release(struct mem_region *r, uint32_t first, uint32_t count, uint32_t seq);
int mem_region_pin(struct mem_region *r, uint32_t first, uint32_t count);
int mem_region_unpin(struct mem_region *r, uint32_t first, uint32_t count);

/* RECLAIMING chunks whose deadline passed by now_ms are taken anyway
 * (punched, FREE); returns how many. */
uint32_t mem_region_expire(struct mem_region *r, uint64_t now_ms);

/* The clock release() stamps freed chunks with (ms, the caller's). */
void mem_region_set_now(struct mem_region *r, uint64_t now_ms);

/* The GRANTED ranges now (to tell a guest that says HELLO again). */
int mem_region_granted_ranges(const struct mem_region *r, struct hrpc_mem_grant_event *out,
			      uint32_t max);

/* FREE chunks taken back at least grace_ms before now_ms that hold data
 * again - the guest kept writing (or reading: on shmem a read through a
 * shared mapping of a hole allocates) memory it no longer has: punched
 * again; returns how many.  The caller fences a guest that does this. */
uint32_t mem_region_refilled(struct mem_region *r, uint64_t now_ms, uint32_t grace_ms);

void mem_region_status(const struct mem_region *r, struct hrpc_mem_status *st);
/* Bytes of the region's file the host holds now (its allocated blocks). */
int64_t mem_region_resident(const struct mem_region *r);

#endif
