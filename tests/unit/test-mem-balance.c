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
 * configuration: -EINVAL.  Balloon guests (libvirt domains without the
 * driver): their entry from the balloon's numbers (an inflate under way is
 * reclaiming, a deflate under way counts at its target, not acted on
 * until settled), actions carry the guest's kind, a balloon guest gives
 * for a region guest and takes from the pool, the size asked for.
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

	tap_plan(17);
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
	{
		/* Balloon guests: whole memory, in KiB from libvirt. */
		struct mem_balance_balloon bl = {
			.actual_kib = 512 << 10, .unused_kib = 400 << 10, .max_kib = 768 << 10,
			.reports = true, .settled = true,
		};
		struct mem_balance_guest b = { .id = 9 }, r[2];

		mem_balance_balloon_guest(&bl, 256, &b);
		tap_ok(b.kind == MEM_BALANCE_BALLOON && b.attached && b.granted_mib == 512 &&
		       b.used_mib == 112 && !b.reclaiming_mib && b.min_mib == 256 && b.max_mib == 768,
		       "a settled balloon guest: granted 512, used 112, within 256-768 MiB");
		bl.target_kib = 384 << 10;
		mem_balance_balloon_guest(&bl, 256, &b);
		tap_ok(!b.attached && b.granted_mib == 384 && b.reclaiming_mib == 128,
		       "an inflate to 384 under way: 128 MiB reclaiming, not acted on");
		bl.target_kib = 640 << 10;
		mem_balance_balloon_guest(&bl, 256, &b);
		tap_ok(!b.attached && b.granted_mib == 640 && !b.reclaiming_mib,
		       "a deflate to 640 under way counts at 640 MiB");
		bl.target_kib = 0;
		bl.settled = false;
		mem_balance_balloon_guest(&bl, 256, &b);
		tap_ok(!b.attached, "a balloon still moving (boot): counted, not acted on");
		bl.settled = true;
		bl.reports = false;
		mem_balance_balloon_guest(&bl, 256, &b);
		tap_ok(!b.attached, "a guest that reports nothing: not acted on");
		bl.reports = true;
		/* A region guest under pressure, the pool spent: the balloon
		 * guest (400 MiB unused) gives, and is told so by its kind. */
		r[0] = (struct mem_balance_guest){ .id = 1, .attached = true, .granted_mib = 128,
						   .used_mib = 126, .min_mib = 64, .max_mib = 448 };
		mem_balance_balloon_guest(&bl, 256, &r[1]);
		r[1].id = 9;
		k = mem_balance_plan(&cfg, r, 2, a, 8);   /* 128 + 512 > 320: spent */
		tap_ok(k == 1 && a[0].id == 9 && a[0].op == MEM_BALANCE_RECLAIM &&
		       a[0].kind == MEM_BALANCE_BALLOON && a[0].mib == 64 && a[0].for_id == 1 &&
		       mem_balance_balloon_size(512 << 10, &a[0]) == 448 << 10,
		       "a region guest in need: the balloon guest inflates by 64 MiB to 448 MiB");
		/* The balloon guest under pressure, a pool with room. */
		{
			struct mem_balance_cfg big = cfg;

			big.pool_mib = 1024;
			bl.unused_kib = 8 << 10;
			mem_balance_balloon_guest(&bl, 256, &r[1]);
			r[1].id = 9;
			r[0].used_mib = 0;
			k = mem_balance_plan(&big, r, 2, a, 8);
			tap_ok(k == 1 && a[0].id == 9 && a[0].op == MEM_BALANCE_GRANT &&
			       a[0].kind == MEM_BALANCE_BALLOON && a[0].mib == 64 &&
			       mem_balance_balloon_size(512 << 10, &a[0]) == 576 << 10,
			       "a balloon guest under pressure: deflated by 64 MiB to 576 MiB");
			/* ...and with the pool spent the region guest gives. */
			big.pool_mib = 640;
			k = mem_balance_plan(&big, r, 2, a, 8);
			tap_ok(k == 1 && a[0].id == 1 && a[0].op == MEM_BALANCE_RECLAIM &&
			       a[0].kind == MEM_BALANCE_REGION && a[0].for_id == 9,
			       "the pool spent: the region guest gives for the balloon guest");
		}
	}
	return tap_done();
}
