/* SPDX-License-Identifier: MIT */
/*
 * mem-balloon.h - the libvirt side of memory balancing for guests without
 * hostrpc_mem.ko (issue 15 item 5): their virtio balloon, through libvirt.
 *
 * libvirt calls block, so they run in a thread of this object's own, with
 * its own virConnect (opened on the first round, reopened after a failure);
 * hostrpcd's main loop hands it a round (a batch of domains: set the
 * balloon of some, read the memory statistics of all) and gets the batch
 * back, filled in, on its GLib context.  One round at a time.
 *
 * Built only with libvirt (HAVE_LIBVIRT).  Lifetime: the balancer's; free
 * joins the thread (after the call under way, if any).
 */
#ifndef HOSTRPC_DAEMON_MEM_BALLOON_H
#define HOSTRPC_DAEMON_MEM_BALLOON_H

#include <glib.h>

typedef struct {
	char *domain;           /* libvirt domain name */
	guint32 id;             /* the caller's (hostrpc guest id) */
	guint64 set_kib;        /* not 0: virDomainSetMemoryFlags(LIVE) to this first */
	/* Filled in by the round: */
	gboolean running;       /* the domain runs and its statistics were read */
	gboolean set_failed;
	gboolean has_unused;    /* the guest's balloon driver reports MemFree */
	gboolean has_usable;    /* ... and MemAvailable (Linux 4.10 and later) */
	guint64 actual_kib, unused_kib, usable_kib, available_kib, max_kib;
} HrpcdBalloonItem;

typedef struct _HrpcdMemBalloon HrpcdMemBalloon;

/* Called on the context with the items (HrpcdBalloonItem, owned by the
 * array: do not keep it). */
typedef void (*HrpcdBalloonDone)(GPtrArray *items, gpointer user_data);

HrpcdMemBalloon *hrpcd_mem_balloon_new(const char *uri, GMainContext *ctx);
void hrpcd_mem_balloon_free(HrpcdMemBalloon *mb);

/* A new item (domain copied). */
HrpcdBalloonItem *hrpcd_balloon_item_new(const char *domain, guint32 id, guint64 set_kib);

/* Hand a round (items: a GPtrArray made with free func hrpcd_balloon_item_free,
 * taken) to the thread; `done` is called on the context, then `notify`
 * (user_data).  FALSE (nothing taken, nothing called) while a round is out. */
gboolean hrpcd_mem_balloon_round(HrpcdMemBalloon *mb, GPtrArray *items, HrpcdBalloonDone done,
				 gpointer user_data, GDestroyNotify notify);
void hrpcd_balloon_item_free(gpointer item);

/* A round is out (main loop only). */
gboolean hrpcd_mem_balloon_busy(HrpcdMemBalloon *mb);

#endif
