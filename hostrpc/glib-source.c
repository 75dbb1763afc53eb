/* SPDX-License-Identifier: MIT */
/* glib-source.c - serve an hrpc_conn from a GLib main context. */
#include "config.h"

#include <glib-unix.h>

#include "hostrpc/hostrpc-glib.h"

typedef struct {
	GSource source;
	hrpc_conn *conn;
	gpointer tag;
	HrpcConnDoneFunc done;
	gpointer user_data;
} HrpcConnSource;

/*
 * Process until the guest has nothing more and is armed to ring us.
 * Adaptive polling: only right after serving calls (a guest in a
 * request/response loop sends the next one within microseconds) do we spin
 * for the channel's budget before arming; an idle guest costs nothing, and
 * the spin is bounded so a loaded host still makes progress.
 */
static int drain(hrpc_conn *conn)
{
	uint32_t spin = hrpc_conn_spin(conn);

	for (;;) {
		int rc = hrpc_conn_process(conn);

		if (rc < 0)
			return rc;
		if (rc > 0 && spin && hrpc_conn_poll(conn, spin))
			continue;
		if (hrpc_conn_arm(conn))
			return 0;
	}
}

static gboolean conn_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	HrpcConnSource *s = (HrpcConnSource *)source;
	int rc;

	g_source_set_ready_time(source, -1);
	if (g_source_query_unix_fd(source, s->tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		hrpc_conn_ack(s->conn);
	rc = drain(s->conn);
	if (rc < 0) {
		if (s->done)
			s->done(s->conn, rc, s->user_data);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs conn_funcs = {
	.dispatch = conn_dispatch,
};

guint hrpc_glib_conn_attach(hrpc_conn *conn, GMainContext *ctx,
			    HrpcConnDoneFunc done, gpointer user_data)
{
	GSource *src = g_source_new(&conn_funcs, sizeof(HrpcConnSource));
	HrpcConnSource *s = (HrpcConnSource *)src;
	guint id;

	s->conn = conn;
	s->done = done;
	s->user_data = user_data;
	s->tag = g_source_add_unix_fd(src, hrpc_conn_wait_fd(conn), G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_name(src, "hostrpc-conn");
	/* Calls may have arrived before we were attached: look once now. */
	g_source_set_ready_time(src, 0);
	id = g_source_attach(src, ctx);
	g_source_unref(src);
	return id;
}
