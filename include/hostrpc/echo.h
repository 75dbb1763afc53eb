/* SPDX-License-Identifier: MIT */
/*
 * echo.h - service 1: the built-in echo service, used by tests and
 * benchmarks to prove integrity and to measure the transport.
 */
#ifndef HOSTRPC_ECHO_H
#define HOSTRPC_ECHO_H

#include "compat.h"

enum hrpc_echo_proc {
	/* inline payload back as the reply payload */
	HRPC_ECHO_PING   = 1,
	/* bulk: request bytes [off, off+len); the server copies them out and
	 * writes them back right after, at [off+len, off+2*len) (needs cap >=
	 * 2*len).  Reply bulk_off/bulk_len say where; payload hrpc_echo_sum of
	 * what the server read. */
	HRPC_ECHO_BULK   = 2,
	/* bulk: the server consumes the request bytes in place (reads them
	 * once, as a socket send would) and replies with hrpc_echo_sum of
	 * them (one-way bulk, for throughput). */
	HRPC_ECHO_SINK   = 3,
	/* hrpc_echo_source_req: the server writes `len` bytes of
	 * hrpc_echo_pattern(seed) into the buffer; reply hrpc_echo_sum. */
	HRPC_ECHO_SOURCE = 4,
	/* hrpc_echo_events_req: the server sends up to `count`
	 * HRPC_ECHO_EV_TICK events, then replies with the number sent (u32).
	 * It stops early when the response ring has no room left beside the
	 * reply's: a guest that asks for more than it drains gets fewer
	 * events, never a fenced channel.  count > HRPC_ECHO_MAX_EVENTS or a
	 * non-zero reserved field: -EINVAL. */
	HRPC_ECHO_EVENTS = 5,
};

enum hrpc_echo_event {
	HRPC_ECHO_EV_TICK = 1, /* payload: hrpc_u64 sequence number */
};

struct hrpc_echo_sum {
	hrpc_u64 sum;   /* hrpc_echo_sum() of the bytes */
	hrpc_u32 len;
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_echo_sum) == 16, "echo sum is 16 bytes");

struct hrpc_echo_source_req {
	hrpc_u64 seed;
	hrpc_u32 len;
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_echo_source_req) == 16, "source req is 16 bytes");

struct hrpc_echo_events_req {
	hrpc_u32 count;   /* at most HRPC_ECHO_MAX_EVENTS */
	hrpc_u32 reserved;   /* 0 */
};
#define HRPC_ECHO_MAX_EVENTS 4096u

/* Position-dependent sum: catches reordered, dropped and flipped bytes and
 * runs at memory speed (one multiply-add per 8 bytes, independent lanes). */
static inline hrpc_u64 hrpc_echo_sum(const void *p, hrpc_u32 len)
{
	const hrpc_u8 *b = (const hrpc_u8 *)p;
	hrpc_u64 s0 = len, s1 = 0, w;
	hrpc_u32 i = 0;

	for (; i + 16 <= len; i += 16) {
		memcpy(&w, b + i, 8);
		s0 += w ^ (hrpc_u64)i;
		memcpy(&w, b + i + 8, 8);
		s1 += w ^ (hrpc_u64)(i + 8);
	}
	for (; i < len; i++)
		s1 += (hrpc_u64)b[i] << ((i & 7) * 8) ^ (hrpc_u64)i;
	return s0 * 0x9e3779b97f4a7c15ull + s1;
}

/* Byte i of the SOURCE pattern for `seed`. */
static inline hrpc_u8 hrpc_echo_pattern(hrpc_u64 seed, hrpc_u32 i)
{
	hrpc_u64 x = seed + (i >> 3) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 29;
	return (hrpc_u8)(x >> ((i & 7) * 8));
}

#endif /* HOSTRPC_ECHO_H */
