/* SPDX-License-Identifier: MIT */
/*
 * guest-status.h - the page a worker publishes its channel's state and
 * counters in, for the supervisor to display.
 *
 * The supervisor maps one anonymous MAP_SHARED page per guest before it
 * forks that guest's worker; only that worker inherits it (the page is
 * MADV_DONTFORK except while its own worker is forked).  The worker writes,
 * the supervisor reads.  A worker serves a hostile guest and may itself be
 * subverted, so for the supervisor everything in the page is untrusted
 * display data: it copies it out under a bounded seqlock, clamps the state,
 * terminates and sanitises the strings, and never acts on any of it.
 */
#ifndef HOSTRPCD_GUEST_STATUS_H
#define HOSTRPCD_GUEST_STATUS_H

#include <glib.h>

#include "hostrpc/admin.h"
#include "hostrpc/stats.h"

struct hrpcd_status {
	guint32 seq;                /* odd while the worker writes */
	guint32 state;              /* enum hrpc_admin_state */
	guint32 generation;         /* shm host_gen of the worker's channel */
	guint32 reserved;
	gint64 published_us;        /* g_get_monotonic_time() of this snapshot */
	struct hrpc_stats stats;
	char peer[64];              /* HELLO label */
	char fence_reason[160];
};

#define HRPCD_STATUS_SIZE 4096u
G_STATIC_ASSERT(sizeof(struct hrpcd_status) <= HRPCD_STATUS_SIZE);

/* Supervisor: map a zeroed status page that forks do not inherit.  NULL on
 * failure (errno set). */
struct hrpcd_status *hrpcd_status_new(void);
void hrpcd_status_free(struct hrpcd_status *st);

/* Supervisor, around fork(): let the next child inherit this page, then stop
 * children from inheriting it again. */
int hrpcd_status_share_next_fork(struct hrpcd_status *st, gboolean share);

/* Worker: publish a new snapshot (one writer). */
void hrpcd_status_publish(struct hrpcd_status *st, guint32 state, guint32 generation,
			  const struct hrpc_stats *stats, const char *peer,
			  const char *fence_reason);

/* Supervisor: a consistent-enough, sanitised private copy, with the uptime
 * aged to now.  Returns FALSE if the worker kept the seqlock busy (the copy
 * is then still sanitised, just possibly torn). */
gboolean hrpcd_status_read(const struct hrpcd_status *st, struct hrpcd_status *out);

/* Reduce `s` to a guest name: [A-Za-z0-9._-], at most `size`-1 bytes.
 * Returns FALSE (and an empty name) if nothing usable remains. */
gboolean hrpcd_name_sanitize(const char *s, char *out, gsize size);

#endif /* HOSTRPCD_GUEST_STATUS_H */
