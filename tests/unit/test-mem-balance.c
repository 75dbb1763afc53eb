/* SPDX-License-Identifier: MIT */
/*
 * test-mem-balance - host-driven memory balancing's decision
 * (outsource/mem/balance.h), round by round as hostrpcd runs it.
 *
 * Checks: a guest under pressure gets a step from the pool while it has
 * room, capped by the room and its max; with the pool spent the guest with
 * the most slack gives (never below its minimum or its high-water slack),
 * and the next round grants what came back; two guests under alternating
 * pressure trade memory back and forth; a guest without a driver, or with
 * a reclaim under way, is left alone; nobody under pressure: nothing; a bad
 * configuration: -EINVAL.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "outsource/mem/balance.h"
#include "tests/tap.h"

static const struct mem_balance_cfg cfg = {
	.pool_mib = 320, .step_mib = 64, .low_mib = 16, .high_mib = 32,
};

/* One round, its actions applied at once (a cooperative guest). */
static int round_apply(struct mem_balance_guest *g, unsigned int n, struct mem_balance_action *a)
{
	int k = mem_balance_plan(&cfg, g, n, a, 8);

	for (int i = 0; i < k; i++)
		for (unsigned int j = 0; j < n; j++)
			if (g[j].id == a[i].id)
				g[j].granted_mib += a[i].op == MEM_BALANCE_GRANT ? a[i].mib :
										-a[i].mib;
	return k;
}

int main(void)
{
	struct mem_balance_guest g[2] = {
		{ .id = 1, .attached = true, .granted_mib = 128, .used_mib = 120,
		  .min_mib = 64, .max_mib = 448 },
		{ .id = 2, .attached = true, .granted_mib = 128, .used_mib = 0,
		  .min_mib = 64, .max_mib = 448 },
	};
	struct mem_balance_action a[8];
	int k;

	tap_plan(9);
	k = round_apply(g, 2, a);
	tap_ok(k == 1 && a[0].id == 1 && a[0].op == MEM_BALANCE_GRANT && a[0].mib == 64,
	       "guest 1 under pressure (8 MiB unused) gets 64 MiB from the pool");
	g[0].used_mib = 188;
	k = round_apply(g, 2, a);
	tap_ok(k == 1 && a[0].id == 2 && a[0].op == MEM_BALANCE_RECLAIM && a[0].mib == 64 &&
	       a[0].for_id == 1,
	       "the pool spent, guest 2 (128 MiB unused) gives 64 MiB for guest 1 (%d: %u %u)", k,
	       k ? a[0].id : 0, k ? a[0].mib : 0);
	k = round_apply(g, 2, a);
	tap_ok(k == 1 && a[0].id == 1 && a[0].op == MEM_BALANCE_GRANT && a[0].mib == 64 &&
	       g[0].granted_mib == 256 && g[1].granted_mib == 64,
	       "the next round grants it to guest 1: 256 and 64 MiB");
	k = round_apply(g, 2, a);
	tap_ok(k == 0, "guest 1 has 60 MiB unused now: nothing to do");
	/* Alternating: guest 1 lets go, guest 2 needs. */
	g[0].used_mib = 0;
	g[1].used_mib = 60;
	k = round_apply(g, 2, a);
	tap_ok(k == 1 && a[0].id == 1 && a[0].op == MEM_BALANCE_RECLAIM && a[0].mib == 64,
	       "guest 2 under pressure: guest 1 gives 64 MiB");
	k = round_apply(g, 2, a);
	tap_ok(k == 1 && a[0].id == 2 && a[0].op == MEM_BALANCE_GRANT && g[1].granted_mib == 128 &&
	       g[0].granted_mib == 192, "and guest 2 gets it: 192 and 128 MiB");
	/* A reclaim under way, or no driver: left alone. */
	g[1].used_mib = 126;
	g[0].reclaiming_mib = 64;
	k = mem_balance_plan(&cfg, g, 2, a, 8);
	tap_ok(k == 0, "the only donor has a reclaim under way: guest 2 waits (%d)", k);
	g[0].reclaiming_mib = 0;
	g[1].attached = false;
	k = mem_balance_plan(&cfg, g, 2, a, 8);
	tap_ok(k == 0, "a guest whose driver is not attached gets nothing (%d)", k);
	{
		struct mem_balance_cfg bad = cfg;

		bad.step_mib = 3;
		tap_ok(mem_balance_plan(&bad, g, 2, a, 8) == -EINVAL, "an odd step: -EINVAL");
	}
	return tap_done();
}
