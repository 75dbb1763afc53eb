/* SPDX-License-Identifier: MIT */
/* glib-source.c - serve an hrpc_conn from a GLib main context. */
#include "config.h"

#include <string.h>

#include <glib-unix.h>

#include "hostrpc/hostrpc-glib.h"

typedef struct {
	GSource source;
	hrpc_conn *conn;
	gpointer tag;
	HrpcConnDoneFunc done;
	gpointer user_data;
	gboolean adaptive;
	HrpcGlibPolling pol;
	HrpcGlibPollStats st;
	guint64 slept_at;       /* when it armed and slept; 0: not sleeping */
	guint empty;            /* doorbells in a row that brought nothing */
	guint backoff_ms;       /* the last back-off from a storm of them */
	gboolean muted;         /* not listening to the doorbell (backing off) */
} HrpcConnSource;

/*
 * A guest rings only when it posted something (the rings' event indexes;
 * shared-memory channels, whose wait fd is a doorbell and nothing else):
 * a doorbell that finds nothing happens now and then (it raced our own
 * look at the ring), many in a row never.  A guest that rings in a loop
 * for nothing (XSA-391: an event storm) would buy itself our CPU, one
 * wake-up, eventfd read and ring check per ring: after BELL_STORM empty
 * doorbells in a row we stop listening to it for 1 ms, twice as long
 * each time it goes on, up to BELL_BACKOFF_MAX_MS, then look at the
 * rings anyway.  Its calls are served then, late: only a storming guest
 * waits; any doorbell that brings a call ends the storm.
 */
#define BELL_STORM          64
#define BELL_BACKOFF_MAX_MS 32

/* Take a place among the spinners; FALSE if the gate is full. */
static gboolean gate_enter(HrpcConnSource *s)
{
	guint32 n;

	if (!s->pol.gate)
		return TRUE;
	n = __atomic_load_n(s->pol.gate, __ATOMIC_RELAXED);
	do {
		if (n >= s->pol.gate_max)
			return FALSE;
	} while (!__atomic_compare_exchange_n(s->pol.gate, &n, n + 1, TRUE, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	return TRUE;
}

static void gate_leave(HrpcConnSource *s)
{
	guint32 n;

	if (!s->pol.gate)
		return;
	/* Never below 0, whatever another writer did to the count. */
	n = __atomic_load_n(s->pol.gate, __ATOMIC_RELAXED);
	while (n && !__atomic_compare_exchange_n(s->pol.gate, &n, n - 1, TRUE, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
		;
}

/* Spin up to the current budget for the next call: TRUE if one came. */
static gboolean poll_next(HrpcConnSource *s)
{
	guint32 budget = s->adaptive ? s->st.budget_ns : hrpc_conn_spin(s->conn);
	gboolean hit;

	if (!budget)
		return FALSE;
	if (!gate_enter(s)) {
		s->st.gated++;
		return FALSE;
	}
	s->st.spins++;
	hit = hrpc_conn_poll(s->conn, budget) != 0;
	gate_leave(s);
	if (hit)
		s->st.spin_hits++;
	return hit;
}

/* Woken by the guest after a sleep of `gap` ns: adapt the budget. */
static void adapt(HrpcConnSource *s, guint64 gap)
{
	guint32 b = s->st.budget_ns, start = s->pol.start_ns;

	if (gap <= s->pol.max_ns) {
		if (gap > b) {
			b = b < start ? start : (b > s->pol.max_ns / 2 ? s->pol.max_ns : b * 2);
			if (b > s->pol.max_ns)
				b = s->pol.max_ns;
		}
	} else {
		b /= 2;
		if (b < start)
			b = 0;
	}
	s->st.budget_ns = b;
}

/*
 * Process until the guest has nothing more and is armed to ring us.
 * Polling: only right after serving calls (a guest in a request/response
 * loop sends the next one within microseconds) do we spin before arming;
 * an idle guest costs nothing, and the spin is bounded so a loaded host
 * still makes progress.
 */
static int drain(HrpcConnSource *s, int *served)
{
	*served = 0;
	for (;;) {
		int rc = hrpc_conn_process(s->conn);

		if (rc < 0)
			return rc;
		*served += rc;
		if (rc > 0 && poll_next(s))
			continue;
		if (hrpc_conn_arm(s->conn)) {
			s->st.sleeps++;
			/* Only adapt() reads it: no clock otherwise. */
			if (s->adaptive)
				s->slept_at = hrpc_now_ns();
			return 0;
		}
	}
}

/* A service fenced the conn outside our dispatch: dispatch now, which
 * sees the fence and ends (the guest rings no more).  The conn holds a
 * reference on the source (g_source_unref is its destroy), so the source
 * outlives the conn's word, whichever of the two its owner frees first. */
static void conn_fenced(void *data)
{
	GSource *src = data;

	if (!g_source_is_destroyed(src))
		g_source_set_ready_time(src, 0);
}

static gboolean conn_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	HrpcConnSource *s = (HrpcConnSource *)source;
	gboolean rang = FALSE;
	int rc, served;

	g_source_set_ready_time(source, -1);
	if (s->muted) {
		/* The back-off is over (or a fence cut it short): listen again;
		 * whatever rang meanwhile is looked at now. */
		s->muted = FALSE;
		g_source_modify_unix_fd(source, s->tag, G_IO_IN | G_IO_HUP | G_IO_ERR);
		hrpc_conn_ack(s->conn);
	} else if (g_source_query_unix_fd(source, s->tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
		hrpc_conn_ack(s->conn);
		rang = TRUE;
		if (s->adaptive && s->slept_at)
			adapt(s, hrpc_now_ns() - s->slept_at);
	}
	s->slept_at = 0;
	rc = drain(s, &served);
	if (rc < 0) {
		/* no more news wanted (drops the conn's reference on us) */
		hrpc_conn_set_fence_notify(s->conn, NULL, NULL, NULL);
		if (s->done)
			s->done(s->conn, rc, s->user_data);
		return G_SOURCE_REMOVE;
	}
	if (served) {
		s->empty = 0;
		s->backoff_ms = 0;
	} else if (rang && hrpc_conn_doorbell_only(s->conn) && !hrpc_conn_blocked(s->conn) &&
		   ++s->empty >= BELL_STORM) {
		/* (A guest waiting for us to take its calls while its replies
		 * do not fit rings for each reply it reads: not a storm.  Nor
		 * is a stream channel's wake-up without a whole frame: it
		 * brought part of one, a large one comes in many.) */
		s->backoff_ms = s->backoff_ms ? MIN(s->backoff_ms * 2, BELL_BACKOFF_MAX_MS) : 1;
		s->muted = TRUE;
		g_source_modify_unix_fd(source, s->tag, 0);
		g_source_set_ready_time(source, g_get_monotonic_time() + s->backoff_ms * 1000);
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs conn_funcs = {
	.dispatch = conn_dispatch,
};

guint hrpc_glib_conn_attach(hrpc_conn *conn, GMainContext *ctx,
			    HrpcConnDoneFunc done, gpointer user_data)
{
	return hrpc_glib_conn_attach_polling(conn, ctx, done, user_data, NULL);
}

guint hrpc_glib_conn_attach_polling(hrpc_conn *conn, GMainContext *ctx,
				    HrpcConnDoneFunc done, gpointer user_data,
				    const HrpcGlibPolling *p)
{
	GSource *src = g_source_new(&conn_funcs, sizeof(HrpcConnSource));
	HrpcConnSource *s = (HrpcConnSource *)src;
	guint id;

	if (p && p->max_ns) {
		s->adaptive = TRUE;
		s->pol = *p;
		if (!s->pol.start_ns || s->pol.start_ns > s->pol.max_ns)
			s->pol.start_ns = s->pol.max_ns / 8 ? s->pol.max_ns / 8 : 1;
		if (s->pol.gate && !s->pol.gate_max)
			s->pol.gate = NULL;
		s->st.budget_ns = s->pol.start_ns;
	}
	s->conn = conn;
	s->done = done;
	s->user_data = user_data;
	s->tag = g_source_add_unix_fd(src, hrpc_conn_wait_fd(conn), G_IO_IN | G_IO_HUP | G_IO_ERR);
	hrpc_conn_set_fence_notify(conn, conn_fenced, g_source_ref(src),
				   (void (*)(void *))g_source_unref);
	g_source_set_name(src, "hostrpc-conn");
	/* Dispatch never iterates the context: without this GLib would take
	 * our fd out of its poll set and put it back around every dispatch,
	 * each time waking its own loop (two eventfd writes, a read and one
	 * more poll per wake-up: a third of the worker's syscalls per call,
	 * and syscalls are what a Xen PV dom0 pays most for). */
	g_source_set_can_recurse(src, TRUE);
	/* Calls may have arrived before we were attached: look once now. */
	g_source_set_ready_time(src, 0);
	id = g_source_attach(src, ctx);
	g_source_unref(src);
	return id;
}

gboolean hrpc_glib_conn_poll_stats(GMainContext *ctx, guint id, HrpcGlibPollStats *out)
{
	GSource *src = g_main_context_find_source_by_id(ctx, id);

	if (!src || g_source_get_name(src) == NULL ||
	    strcmp(g_source_get_name(src), "hostrpc-conn"))
		return FALSE;
	*out = ((HrpcConnSource *)src)->st;
	return TRUE;
}
