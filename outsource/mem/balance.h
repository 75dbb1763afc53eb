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
 * A guest is one of two kinds (what hostrpcd does with an action on it):
 * a region guest (hostrpc_mem.ko: granted is its region grant) or a balloon
 * guest (a libvirt domain without the driver: granted is its whole memory,
 * the virtio balloon's actual size, and a grant is a deflate, a reclaim an
 * inflate).  The decision is the same for both; each action carries the
 * kind of the guest it is for.
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

enum mem_balance_kind {
	MEM_BALANCE_REGION = 0,   /* hostrpc_mem.ko over a host-owned region */
	MEM_BALANCE_BALLOON = 1,  /* a libvirt domain's virtio balloon */
};

struct mem_balance_guest {
	uint32_t id;
	enum mem_balance_kind kind;
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
	enum mem_balance_kind kind;   /* the acted-on guest's (g[].kind) */
};

/* Up to `max` actions for this round into `out`; returns how many. */
int mem_balance_plan(const struct mem_balance_cfg *cfg, const struct mem_balance_guest *g,
		     unsigned int n, struct mem_balance_action *out, unsigned int max);

/*
 * A balloon guest's entry from what libvirt says of its balloon: granted is
 * the balloon's actual size (the target while a deflate is under way),
 * reclaiming what an inflate asked for has yet to give, used the actual
 * size less what the guest reports unused.  It may be acted on (attached)
 * only when the guest reports, no change of ours is under way and the
 * size was steady since the last look; else it only counts in the pool.
 */
struct mem_balance_balloon {
	uint64_t actual_kib, unused_kib, max_kib;
	uint64_t target_kib;   /* a size we asked for and it has not reached; 0: none */
	bool reports;          /* the guest's balloon driver reports unused memory */
	bool settled;          /* actual steady since the last look */
};

void mem_balance_balloon_guest(const struct mem_balance_balloon *bl, uint32_t min_mib,
			       struct mem_balance_guest *g);

/* The balloon size (KiB) an action on a balloon guest asks for. */
uint64_t mem_balance_balloon_size(uint64_t actual_kib, const struct mem_balance_action *a);

#endif
