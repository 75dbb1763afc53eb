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
 * Configuration (per guest, by name; hostrpcd's options decide it):
 *   policy  <policy_dir>/<name>.conf, else <policy_dir>/default.conf, else
 *           built-in defaults; `policy_dir` NULL: SYSCONFDIR/hostrpc/sock
 *           (hostrpcd --sock-policy-dir)
 *   audit   records to `audit_fd` (hostrpcd: its supervisor writes the log
 *           in --sock-audit-dir, audit-sink.h), or with -1:
 *           LOCALSTATEDIR/log/hostrpc/<name>.sock.log (created, appended)
 *   netns   the policy's network namespace is entered for good by the
 *           calling process (outsource_sock_enter_netns()).
 * The service writes no listing file: its owner asks for one
 * (outsource_sock_service_listing(); hostrpcd's supervisor does so over
 * the worker's control channel, hostrpc/daemon/worker-ctl.h).
 * A policy that does not parse, or an audit log that cannot be opened,
 * fails the start: the guest gets no sockets rather than sockets without
 * its policy or its audit trail.
 */
typedef struct _OutsourceSockService OutsourceSockService;

/* own_uid: the worker will run as a uid of this guest alone
 * (outsource_sock_config.own_uid). */
OutsourceSockService *outsource_sock_service_start(hrpc_server *srv, guint32 guest_id,
						   const char *guest_name, const char *policy_dir,
						   int audit_fd, gboolean own_uid, GError **error);
/* The same with the policy's text (policy.h syntax), from `source` (a
 * file, for people: the listing shows it, errors name it before "line N");
 * `policy_text` NULL: the built-in default, `source` saying why.  For a
 * policy that is one section of a larger file (hostrpcd's guests/NAME.conf)
 * pass the whole file with the other lines blanked: line numbers stay. */
OutsourceSockService *outsource_sock_service_start_text(hrpc_server *srv, guint32 guest_id,
							const char *guest_name,
							const char *policy_text,
							const char *source, int audit_fd,
							gboolean own_uid, GError **error);
void outsource_sock_service_stop(OutsourceSockService *svc);
outsource_sock *outsource_sock_service_get(OutsourceSockService *svc);
/* A migration: stop dispatching and pumping (outsource_sock_mig_quiesce),
 * and go on again after a rollback. */
void outsource_sock_service_pause(OutsourceSockService *svc);
void outsource_sock_service_resume(OutsourceSockService *svc);
/* The effective policy (its source, every rule in the order tried) and the
 * sockets, as outsource_sock_print() renders them: text, or one JSON object
 * with `json`.  Returns a NUL-terminated copy (g_free) of `*len` bytes, or
 * NULL when out of memory. */
char *outsource_sock_service_listing(OutsourceSockService *svc, gboolean json, gsize *len);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OutsourceSockService, outsource_sock_service_stop)

G_END_DECLS

#endif /* OUTSOURCE_SOCK_GLIB_H */
