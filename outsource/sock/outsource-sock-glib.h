/* SPDX-License-Identifier: MIT */
/*
 * outsource-sock-glib.h - run the socket service on a GLib main context,
 * and the entry points hostrpcd's worker calls.
 * Error convention: gboolean + GError (GLib layer).
 */
#ifndef OUTSOURCE_SOCK_GLIB_H
#define OUTSOURCE_SOCK_GLIB_H

#include <glib.h>

#include "outsource/sock/outsource-sock.h"

G_BEGIN_DECLS

/* Watch outsource_sock_fd() from `ctx` (NULL = default) and dispatch.
 * Returns the source (a reference owned by the caller: g_source_destroy +
 * g_source_unref to detach). */
GSource *outsource_sock_glib_attach(outsource_sock *s, GMainContext *ctx);

/*
 * The worker's service: build the guest's socket service, register it on
 * `srv` and hook it into the thread-default main context.
 *
 * Configuration (per guest, by name):
 *   policy  $HOSTRPC_SOCK_CONF_DIR/<name>.conf, else .../default.conf, else
 *           built-in defaults; HOSTRPC_SOCK_CONF_DIR defaults to
 *           SYSCONFDIR/hostrpc/sock
 *   audit   records to `audit_fd` (hostrpcd: its supervisor writes the log,
 *           audit-sink.h), or with -1: $HOSTRPC_SOCK_AUDIT_DIR/<name>.sock.log
 *           (created, appended); default <state_dir>/sock-audit
 *           (hostrpcd's --state-dir), or LOCALSTATEDIR/log/hostrpc when
 *           state_dir is NULL.  The socket listing <name>.sockets goes to
 *           that directory either way.
 *   netns   the policy's network namespace is entered for good by the
 *           calling process (outsource_sock_enter_netns()).
 * A policy that does not parse, or an audit log that cannot be opened,
 * fails the start: the guest gets no sockets rather than sockets without
 * its policy or its audit trail.
 */
typedef struct _OutsourceSockService OutsourceSockService;

OutsourceSockService *outsource_sock_service_start(hrpc_server *srv, guint32 guest_id,
						   const char *guest_name, const char *state_dir,
						   int audit_fd, GError **error);
void outsource_sock_service_stop(OutsourceSockService *svc);
outsource_sock *outsource_sock_service_get(OutsourceSockService *svc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OutsourceSockService, outsource_sock_service_stop)

G_END_DECLS

#endif /* OUTSOURCE_SOCK_GLIB_H */
