/* SPDX-License-Identifier: MIT */
/*
 * guest-status.h - the page a worker publishes its channel's state and
 * counters in, for the supervisor to display.
 *
 * The supervisor creates one page per guest, a sealed memfd it maps
 * MAP_SHARED, before it starts that guest's worker; the worker gets only its
 * own page's fd and maps it too.  The worker writes, the supervisor reads.
 * A worker serves a hostile guest and may itself be subverted, so for the
 * supervisor everything in the page is untrusted display data: it copies it
 * out under a bounded seqlock, clamps the state, terminates and sanitises
 * the strings, and never acts on any of it.  The seal keeps a worker from
 * shrinking the page under the supervisor (SIGBUS).
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

/* Supervisor: a zeroed status page and its fd (sealed memfd).  NULL on
 * failure (errno set). */
struct hrpcd_status *hrpcd_status_new(int *fd);
/* Worker: map the page behind `fd`.  NULL on failure (errno set). */
struct hrpcd_status *hrpcd_status_map(int fd);
/* Unmap (either side); the fd is the caller's. */
void hrpcd_status_free(struct hrpcd_status *st);

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
