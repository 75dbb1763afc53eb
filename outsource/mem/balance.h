/* SPDX-License-Identifier: MIT */
/*
 * balance.h - host-driven memory balancing (issue 15 item 5): the decision,
 * apart from how hostrpcd learns the guests' state and carries the
 * decision out (hostrpc/daemon/mem-balance.c).
 *
 * The host owns the memory, so it decides (the MOM / XenServer "squeezed"
 * idea, without a balloon's guesswork): each guest's driver reports what
 * of its grant it uses; a guest whose unused grant falls below `low_mib`
 * is under pressure and gets `step_mib` more - from the pool while the
 * pool (the most all guests together may have granted) has room, else
 * taken from the guest with the most unused grant above `high_mib`
 * (a cooperative reclaim: its driver gives back free chunks first, moves
 * mapped ones if it must).  Each guest stays within its min_mib and
 * max_mib.  At most one action per guest per round; a guest with a
 * reclaim under way is left alone until it ends.
 *
 * Pure: no I/O, no clock.  0 or -errno, and the number of actions.
 */
#ifndef HOSTRPC_OUTSOURCE_MEM_BALANCE_H
#define HOSTRPC_OUTSOURCE_MEM_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

struct mem_balance_cfg {
	uint32_t pool_mib;     /* all guests' grants together at most */
	uint32_t step_mib;     /* what one action moves (a multiple of 2) */
	uint32_t low_mib;      /* unused grant below this: under pressure */
	uint32_t high_mib;     /* unused grant above this: slack to give */
};

struct mem_balance_guest {
	uint32_t id;
	bool attached;         /* its driver said HELLO */
	uint32_t granted_mib;
	uint32_t reclaiming_mib;
	uint32_t used_mib;     /* of its grant, what it reported it uses */
	uint32_t min_mib, max_mib;
};

enum mem_balance_op { MEM_BALANCE_GRANT = 1, MEM_BALANCE_RECLAIM = 2 };

struct mem_balance_action {
	uint32_t id;
	enum mem_balance_op op;
	uint32_t mib;
	uint32_t for_id;       /* RECLAIM: the guest under pressure it is for */
};

/* Up to `max` actions for this round into `out`; returns how many. */
int mem_balance_plan(const struct mem_balance_cfg *cfg, const struct mem_balance_guest *g,
		     unsigned int n, struct mem_balance_action *out, unsigned int max);

#endif
