/* SPDX-License-Identifier: MIT */
/*
 * hostrpc-glib.h - run a libhostrpc server connection on a GLib main loop.
 * The core library stays free of GLib; this adapter is all the glue.
 */
#ifndef HOSTRPC_HOSTRPC_GLIB_H
#define HOSTRPC_HOSTRPC_GLIB_H

#include <glib.h>

#include "hostrpc.h"

G_BEGIN_DECLS

/* Called once when the connection stops being served: `err` is -EPROTO
 * (fenced: see hrpc_conn_fence_reason()), -EPIPE (peer said BYE or hung up)
 * or another -errno.  The conn is not freed; the callback may free it. */
typedef void (*HrpcConnDoneFunc)(hrpc_conn *conn, int err, gpointer user_data);

/* Serve `conn` from `ctx` (NULL = default context).  Returns the source id.
 * After serving calls it spins for the channel's fixed budget
 * (hrpc_chan_set_spin()) before it sleeps. */
guint hrpc_glib_conn_attach(hrpc_conn *conn, GMainContext *ctx,
			    HrpcConnDoneFunc done, gpointer user_data);

/*
 * Adaptive polling of a served conn, as KVM's halt-polling does for vCPUs:
 * after serving calls the source spins up to its current budget for the
 * next one instead of sleeping.  When it did sleep, the gap until the
 * guest's next doorbell decides: a gap within max_ns (spinning longer would
 * have saved the sleep and the guest its exit) grows the budget (x2, at
 * least start_ns, at most max_ns); a longer gap (an idle guest) halves it,
 * to 0 below start_ns.  `gate` (may be NULL) counts the spinners among all
 * who share it (other workers too: shared memory); a source spins only
 * while fewer than gate_max others do, so spinning never takes more cores
 * than the host has to spare.  A gate is only advice: whoever can write it
 * can only make others spin less, or up to their own max_ns.
 */
typedef struct {
	guint32 max_ns;         /* 0: never spin */
	guint32 start_ns;       /* 0: max_ns / 8 */
	guint32 *gate;          /* shared spinner count, or NULL */
	guint32 gate_max;       /* with a gate: most spinners at once */
} HrpcGlibPolling;

/* What a source's polling did so far. */
typedef struct {
	guint32 budget_ns;      /* current budget */
	guint64 spins;          /* spins started */
	guint64 spin_hits;      /* ... that found a call */
	guint64 gated;          /* spins the gate refused */
	guint64 sleeps;         /* times it armed the doorbell and slept */
} HrpcGlibPollStats;

/* As hrpc_glib_conn_attach(), with adaptive polling (`p` is copied). */
guint hrpc_glib_conn_attach_polling(hrpc_conn *conn, GMainContext *ctx,
				    HrpcConnDoneFunc done, gpointer user_data,
				    const HrpcGlibPolling *p);
/* Polling statistics of the source `id` in `ctx`; FALSE if there is none. */
gboolean hrpc_glib_conn_poll_stats(GMainContext *ctx, guint id, HrpcGlibPollStats *out);

G_END_DECLS

#endif /* HOSTRPC_HOSTRPC_GLIB_H */
