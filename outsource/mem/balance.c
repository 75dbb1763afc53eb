/* SPDX-License-Identifier: MIT */
/* balance.c - host-driven memory balancing (balance.h). */
#include "config.h"

#include <errno.h>

#include "outsource/mem/balance.h"

static uint32_t unused_mib(const struct mem_balance_guest *g)
{
	return g->used_mib < g->granted_mib ? g->granted_mib - g->used_mib : 0;
}

static uint32_t even(uint32_t mib)
{
	return mib & ~1u;
}

int mem_balance_plan(const struct mem_balance_cfg *cfg, const struct mem_balance_guest *g,
		     unsigned int n, struct mem_balance_action *out, unsigned int max)
{
	uint64_t total = 0;
	unsigned int nact = 0;
	bool busy[256] = { false };   /* acted on this round (by index) */

	if (!cfg->step_mib || cfg->step_mib % 2 || cfg->low_mib > cfg->high_mib || n > 256)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		total += (uint64_t)g[i].granted_mib + g[i].reclaiming_mib;
	/* Neediest first: the least unused grant. */
	while (nact < max) {
		int p = -1, d = -1;
		uint32_t want, room;

		for (unsigned int i = 0; i < n; i++) {
			if (busy[i] || !g[i].attached || g[i].reclaiming_mib ||
			    unused_mib(&g[i]) >= cfg->low_mib || g[i].granted_mib + 2 > g[i].max_mib)
				continue;
			if (p < 0 || unused_mib(&g[i]) < unused_mib(&g[p]))
				p = (int)i;
		}
		if (p < 0)
			break;
		busy[p] = true;
		want = even(g[p].max_mib - g[p].granted_mib);
		if (want > cfg->step_mib)
			want = cfg->step_mib;
		room = total < cfg->pool_mib ? even((uint32_t)(cfg->pool_mib - total)) : 0;
		if (room >= 2) {
			if (want > room)
				want = room;
			out[nact++] = (struct mem_balance_action){
				.id = g[p].id, .op = MEM_BALANCE_GRANT, .mib = want,
				.kind = g[p].kind,
			};
			total += want;
			continue;
		}
		/* The pool is spent: the guest with the most slack gives. */
		for (unsigned int i = 0; i < n; i++) {
			if (busy[i] || !g[i].attached || g[i].reclaiming_mib ||
			    unused_mib(&g[i]) <= cfg->high_mib || g[i].granted_mib < g[i].min_mib + 2)
				continue;
			if (d < 0 || unused_mib(&g[i]) > unused_mib(&g[d]))
				d = (int)i;
		}
		if (d < 0)
			continue;   /* nobody to take from: p waits */
		busy[d] = true;
		/* No more than it can spare above high_mib or its minimum. */
		if (want > even(unused_mib(&g[d]) - cfg->high_mib))
			want = even(unused_mib(&g[d]) - cfg->high_mib);
		if (want > even(g[d].granted_mib - g[d].min_mib))
			want = even(g[d].granted_mib - g[d].min_mib);
		if (want < 2)
			continue;
		out[nact++] = (struct mem_balance_action){
			.id = g[d].id, .op = MEM_BALANCE_RECLAIM, .mib = want, .for_id = g[p].id,
			.kind = g[d].kind,
		};
	}
	return (int)nact;
}

static uint32_t kib_to_mib(uint64_t kib)
{
	kib >>= 10;
	return kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
}

void mem_balance_balloon_guest(const struct mem_balance_balloon *bl, uint32_t min_mib,
			       struct mem_balance_guest *g)
{
	uint32_t actual = kib_to_mib(bl->actual_kib), unused = kib_to_mib(bl->unused_kib);
	uint32_t target = kib_to_mib(bl->target_kib);

	g->kind = MEM_BALANCE_BALLOON;
	g->granted_mib = actual;
	g->reclaiming_mib = 0;
	if (bl->target_kib && target > actual)
		g->granted_mib = target;            /* a deflate under way: count it */
	else if (bl->target_kib && target < actual) {
		g->granted_mib = target;            /* an inflate under way */
		g->reclaiming_mib = actual - target;
	}
	g->used_mib = unused < actual ? actual - unused : 0;
	g->min_mib = min_mib;
	g->max_mib = kib_to_mib(bl->max_kib);
	g->attached = bl->reports && bl->settled && !bl->target_kib && g->min_mib <= g->max_mib;
}

uint64_t mem_balance_balloon_size(uint64_t actual_kib, const struct mem_balance_action *a)
{
	uint64_t d = (uint64_t)a->mib << 10;

	if (a->op == MEM_BALANCE_GRANT)
		return actual_kib + d;
	return actual_kib > d ? actual_kib - d : 0;
}
