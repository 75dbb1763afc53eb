/* SPDX-License-Identifier: MIT */
/* stats.h - service 2: a guest reads the counters of its own channel. */
#ifndef HOSTRPC_STATS_H
#define HOSTRPC_STATS_H

#include "compat.h"

enum hrpc_stats_proc {
	HRPC_STATS_GET = 1, /* no payload -> struct hrpc_stats */
};

struct hrpc_stats {
	hrpc_u64 calls;      /* CALLs received */
	hrpc_u64 replies;    /* REPLYs sent */
	hrpc_u64 events;     /* EVENTs sent */
	hrpc_u64 errors;     /* REPLYs with status != 0 */
	hrpc_u64 bytes_in;   /* inline + bulk bytes received */
	hrpc_u64 bytes_out;  /* inline + bulk bytes sent */
	hrpc_u64 doorbells_in;
	hrpc_u64 doorbells_out;
	hrpc_u64 uptime_ns;  /* since the channel was set up */
	hrpc_u32 guest_id;
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_stats) == 80, "stats is 80 bytes");

#endif /* HOSTRPC_STATS_H */
