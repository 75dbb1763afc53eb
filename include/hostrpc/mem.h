/* SPDX-License-Identifier: MIT */
/*
 * mem.h - service 18: outsourced memory (issue 15).
 *
 * Each guest has a host-owned region: a sparse file the host's hostrpcd
 * worker owns (outsource/mem/), which the guest sees as the memory BAR of
 * a second ivshmem device (ivshmem-plain, no doorbell).  The region is cut
 * into chunks of HRPC_MEM_CHUNK bytes.  The host decides which chunks the
 * guest may use:
 *
 *   GRANT    (event) chunks [first, first + count) are the guest's to use.
 *   RECLAIM  (event) the host wants chunks [first, first + count) back by
 *            `deadline_ms`: the guest stops using them (moves or frees what
 *            it kept there) and answers RELEASE with the same seq.  A guest
 *            that does not answer in time loses them anyway: the host punches
 *            them out of the region (they cost it nothing from then on) and
 *            whatever the guest still had mapped there reads zeros; the
 *            guest's own driver turns an access after the deadline into the
 *            documented fault (SIGBUS for the process).
 *   RELEASE  (call) the guest gives chunks back, answering a RECLAIM (its
 *            seq) or on its own (seq 0).
 *   PIN, UNPIN (calls) the host keeps granted chunks resident (mlock on
 *            its side), within the guest's pin quota: -EDQUOT past it.  A
 *            pinned chunk is never reclaimed before it is unpinned.
 *   PRESSURE (call) the guest's memory pressure (PSI, free and available
 *            memory): what the host's balancing policy reads.
 *
 * The host keeps the chunk table; the guest's view is advice to it.  Every
 * call is checked against it (a chunk range out of the region, not granted,
 * or not the guest's to release: -EINVAL / -EPERM), never trusted.
 *
 * Numbers are little-endian (compat.h).  Payloads have fixed sizes;
 * hrpc_mem_*_check() are the one check of each, on the receiver's copy.
 */
#ifndef HOSTRPC_MEM_H
#define HOSTRPC_MEM_H

#include "compat.h"

#define HRPC_MEM_VERSION   1u
#define HRPC_MEM_CHUNK     (2u << 20)       /* bytes in a chunk */
#define HRPC_MEM_CHUNKS_MAX (1u << 16)      /* chunks in a region (128 GiB) */

enum hrpc_mem_proc {
	HRPC_MEM_HELLO    = 1,  /* hello_req -> hello_rep */
	HRPC_MEM_RELEASE  = 2,  /* range_req -> - */
	HRPC_MEM_PIN      = 3,  /* range_req -> - */
	HRPC_MEM_UNPIN    = 4,  /* range_req -> - */
	HRPC_MEM_PRESSURE = 5,  /* pressure -> - */
	HRPC_MEM_STATUS   = 6,  /* - -> status */
};

enum hrpc_mem_event {
	HRPC_MEM_EVT_GRANT   = 1,  /* struct hrpc_mem_grant_event */
	HRPC_MEM_EVT_RECLAIM = 2,  /* struct hrpc_mem_reclaim_event */
};

/* HELLO: the guest says how large a BAR it sees; the host answers the
 * region's geometry and what it granted so far (GRANT events follow for
 * each range). */
struct hrpc_mem_hello_req {
	hrpc_u32 version;          /* HRPC_MEM_VERSION */
	hrpc_u32 reserved;         /* 0 */
	hrpc_u64 bar_size;         /* the region's BAR as the guest sees it */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mem_hello_req) == 16, "mem hello req is 16 bytes");

struct hrpc_mem_hello_rep {
	hrpc_u32 version;
	hrpc_u32 chunk_size;       /* HRPC_MEM_CHUNK */
	hrpc_u32 nchunks;          /* the region: nchunks * chunk_size <= bar_size */
	hrpc_u32 granted;          /* chunks granted now */
	hrpc_u32 pin_quota;        /* chunks the guest may have pinned */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mem_hello_rep) == 24, "mem hello rep is 24 bytes");

struct hrpc_mem_range_req {
	hrpc_u32 first;            /* chunk index */
	hrpc_u32 count;            /* 1.. ; first + count <= nchunks */
	hrpc_u32 seq;              /* RELEASE: the RECLAIM's, or 0; else 0 */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mem_range_req) == 16, "mem range req is 16 bytes");

struct hrpc_mem_pressure {
	hrpc_u32 some_avg10;       /* PSI memory "some" avg10, in 1/100 % */
	hrpc_u32 full_avg10;       /* PSI memory "full" avg10, in 1/100 % */
	hrpc_u64 free_kb;          /* MemFree */
	hrpc_u64 avail_kb;         /* MemAvailable */
	hrpc_u64 used_kb;          /* of the granted memory, what the guest uses */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mem_pressure) == 32, "mem pressure is 32 bytes");

struct hrpc_mem_status {
	hrpc_u32 nchunks, granted, pinned, reclaiming;
	hrpc_u32 pin_quota, reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mem_status) == 24, "mem status is 24 bytes");

struct hrpc_mem_grant_event {
	hrpc_u32 first, count;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mem_grant_event) == 8, "mem grant event is 8 bytes");

struct hrpc_mem_reclaim_event {
	hrpc_u32 first, count;
	hrpc_u32 seq;              /* not 0: RELEASE answers with it */
	hrpc_u32 deadline_ms;      /* from now */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mem_reclaim_event) == 16, "mem reclaim event is 16 bytes");

/* A range of `nchunks`: 0 or -EINVAL. */
static inline int hrpc_mem_range_check(const struct hrpc_mem_range_req *r, hrpc_u32 nchunks,
				       int with_seq)
{
	if (r->reserved || r->count == 0 || r->first >= nchunks || r->count > nchunks - r->first)
		return -EINVAL;
	return with_seq || r->seq == 0 ? 0 : -EINVAL;
}

static inline int hrpc_mem_hello_check(const struct hrpc_mem_hello_req *h)
{
	return h->version == HRPC_MEM_VERSION && !h->reserved ? 0 : -EINVAL;
}

static inline int hrpc_mem_pressure_check(const struct hrpc_mem_pressure *p)
{
	/* PSI averages are percentages: at most 100.00 %. */
	return p->some_avg10 <= 10000 && p->full_avg10 <= 10000 && p->full_avg10 <= p->some_avg10 ?
		       0 : -EINVAL;
}

#endif /* HOSTRPC_MEM_H */
