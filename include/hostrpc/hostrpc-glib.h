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

/* Serve `conn` from `ctx` (NULL = default context).  Returns the source id. */
guint hrpc_glib_conn_attach(hrpc_conn *conn, GMainContext *ctx,
			    HrpcConnDoneFunc done, gpointer user_data);

G_END_DECLS

#endif /* HOSTRPC_HOSTRPC_GLIB_H */
