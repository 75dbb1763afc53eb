/* SPDX-License-Identifier: MIT */
/*
 * audit-limit.h - a service's own cap on the audit records its worker sends.
 *
 * The supervisor writes a guest's audit log at --audit-rate lines a second
 * and counts the rest (hostrpc/daemon/audit-sink.h), but counting means
 * receiving: a guest that has its worker audit a refusal in a loop (a PIN
 * past its quota, an open it may not make; tens of thousands a second)
 * would have the supervisor - whose CPU every guest shares - take each
 * record (tests/integration/hostile-neighbour measured 41 % of a CPU for
 * one such guest).  So a service sends at most OUTSOURCE_AUDIT_MAX_RATE
 * records a second, ten times the default --audit-rate, and says how many
 * it held back with its next record.  (A compromised worker ignores this;
 * the supervisor's own BATCH per wake-up bounds what it costs then.)
 */
#ifndef HOSTRPC_OUTSOURCE_AUDIT_LIMIT_H
#define HOSTRPC_OUTSOURCE_AUDIT_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define OUTSOURCE_AUDIT_MAX_RATE 1000u

struct outsource_audit_limit {
	int64_t window_us;       /* start of the current one-second window */
	uint32_t sent;           /* records sent in it */
	uint64_t held;           /* records held back since the last one sent */
};

/*
 * May a record go at `now_us` (monotonic)?  *held_before is the count of
 * records held back before it, which the caller says first (0: none).
 */
static inline bool outsource_audit_take(struct outsource_audit_limit *l, int64_t now_us,
					uint64_t *held_before)
{
	*held_before = 0;
	if (now_us - l->window_us >= 1000000) {
		l->window_us = now_us;
		l->sent = 0;
	}
	if (l->sent >= OUTSOURCE_AUDIT_MAX_RATE) {
		l->held++;
		return false;
	}
	l->sent++;
	*held_before = l->held;
	l->held = 0;
	return true;
}

#endif
