/* SPDX-License-Identifier: MIT */
/*
 * mem-balance.h - hostrpcd's memory balancing (issue 15 item 5): every
 * interval it asks each guest's worker for its memory state (the memory
 * service's JSON listing, worker-ctl.h HRPCD_CTL_F_MEMORY), decides with
 * outsource/mem/balance.h and has the workers grant and reclaim.
 *
 * What a worker says is the guest's (it may lie): it is parsed as untrusted
 * JSON, numbers clamped, and it only ever moves memory within that
 * guest's own policy bounds and the pool.
 *
 * Lifetime: hostrpcd's, after the supervisor and before it goes; its timer
 * is on `ctx`.  Questions still out when it is freed are answered into
 * nothing (each holds a reference).  Error convention: NULL + GError.
 */
#ifndef HOSTRPC_DAEMON_MEM_BALANCE_H
#define HOSTRPC_DAEMON_MEM_BALANCE_H

#include <glib.h>

#include "hostrpc/daemon/supervisor.h"
#include "outsource/mem/balance.h"

typedef struct _HrpcdMemBalancer HrpcdMemBalancer;

HrpcdMemBalancer *hrpcd_mem_balancer_new(HrpcdSupervisor *sup, const struct mem_balance_cfg *cfg,
					 guint interval_ms, GMainContext *ctx, GError **error);
void hrpcd_mem_balancer_free(HrpcdMemBalancer *b);

/*
 * Balloon guests (built with libvirt only): libvirt domains at `uri` that
 * are hostrpc guests whose memory driver is not attached are balanced too,
 * through their virtio balloon (outsource/mem/balance.h, kind BALLOON), each
 * between `balloon_min_mib` and its maximum memory.  The libvirt calls run
 * in a thread of their own (mem-balloon.h).  hrpcd_mem_balancer_domain()
 * tells which domain is which hostrpc guest (guest NULL: gone); a domain
 * only counts while its guest is there.
 */
void hrpcd_mem_balancer_use_libvirt(HrpcdMemBalancer *b, const char *uri, guint32 balloon_min_mib);
void hrpcd_mem_balancer_domain(HrpcdMemBalancer *b, const char *domain, const char *guest);

/* Pure, for tests: one worker's JSON listing into `g` (id set by the
 * caller).  FALSE if it does not parse or lacks a field. */
gboolean hrpcd_mem_balance_parse(const char *json, gsize len, struct mem_balance_guest *g);

#endif
