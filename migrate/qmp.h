/* SPDX-License-Identifier: MIT */
/*
 * qmp.h - a small blocking QMP client: hostrpc-migrate drives QEMU's live
 * migration through it (capabilities, migrate, migrate-incoming,
 * query-migrate, the MIGRATION event, migrate-continue, migrate_cancel,
 * cont, stop, query-status, quit).  No main loop: every call waits with
 * poll() for at most its timeout.
 *
 * One error convention: 0 or -errno.  Where a message is useful the call
 * also takes `err, errlen` (may be NULL, 0) and writes one line there:
 *   -EIO          QEMU answered with an error: err is "<class>: <desc>"
 *   -ETIMEDOUT    no answer in time (a late answer is recognised by its
 *                 id and dropped, so the handle stays usable)
 *   -ECONNRESET   QEMU closed the socket (quit, crash, kill)
 *   -EMSGSIZE     a line from QEMU longer than 1 MiB
 *   -EPROTO       something that is not a QMP message
 *   -EINVAL       args_json is not a JSON object
 * After -ECONNRESET, -EMSGSIZE or -EPROTO the stream is lost: the handle
 * answers every later call with the same error; close it.
 *
 * Events that arrive while a call waits are queued (at most 256, the
 * oldest dropped first) for qmp_wait_event().  Not thread-safe.
 */
#ifndef HOSTRPC_MIGRATE_QMP_H
#define HOSTRPC_MIGRATE_QMP_H

#include <stddef.h>
#include <stdint.h>
#include <json-glib/json-glib.h>

typedef struct qmp qmp;

/* Connect to a QMP unix socket, read the greeting, send qmp_capabilities.
 * A path that does not exist gives -ENOENT, one nobody listens on
 * -ECONNREFUSED. */
int qmp_open(const char *path, int timeout_ms, qmp **out, char *err, size_t errlen);

/* Execute `cmd` with `args_json` (a JSON object's text, or NULL for none).
 * *ret (if ret is not NULL) gets the "return" member; the caller releases it
 * with json_node_unref(). */
int qmp_call(qmp *q, const char *cmd, const char *args_json, JsonNode **ret,
	     int timeout_ms, char *err, size_t errlen);

/* qmp_call() with the arguments formatted from `fmt`, JSON text in which
 * %s inserts a C string as a JSON string (quoted and escaped: any path is
 * safe), %d an int, %lld a long long, %% a '%'.  Other conversions give
 * -EINVAL.  NULL fmt: no arguments.  Example:
 *   qmp_callf(q, "migrate", NULL, 5000, err, sizeof(err), "{\"uri\": %s}", uri); */
__attribute__((format(printf, 7, 8)))
int qmp_callf(qmp *q, const char *cmd, JsonNode **ret, int timeout_ms,
	      char *err, size_t errlen, const char *fmt, ...);

/* Wait for the next event called `name` (queued ones first, in arrival
 * order; events of other names stay queued).  *data (if data is not NULL)
 * gets its "data" member or NULL when it has none; json_node_unref(). */
int qmp_wait_event(qmp *q, const char *name, int timeout_ms, JsonNode **data);

/* query-migrate, flattened.  A member QEMU leaves out reads as 0 or "" (the
 * destination reports only "status"; "downtime" appears once completed). */
struct qmp_migrate_info {
	char status[32];        /* "setup", "active", "pre-switchover", "device",
				 * "completed", "failed", "cancelling", "cancelled" */
	uint64_t ram_transferred, ram_total, ram_remaining; /* bytes */
	uint64_t ram_dirty_rate;                            /* pages per second */
	uint64_t total_time_ms, downtime_ms, setup_time_ms, expected_downtime_ms;
	char error[256];        /* error-desc when failed */
};
int qmp_query_migrate(qmp *q, struct qmp_migrate_info *mi, int timeout_ms,
		      char *err, size_t errlen);

/*
 * Poll query-migrate every poll_ms (sooner when an event arrives) until its
 * status is one of the '|'-separated `statuses` ("pre-switchover|completed"),
 * calling progress(mi, arg) after each poll if not NULL.  *mi holds the last
 * answer.  A final status (completed, failed, cancelled) that was not asked
 * for gives -ECANCELED, with the status and error-desc in err.
 *
 * "completed" is reported once QEMU has filled in its totals: QEMU 7.2 sets
 * the status a moment before it computes total-time and downtime.
 */
int qmp_wait_migration(qmp *q, const char *statuses, int timeout_ms, int poll_ms,
		       void (*progress)(const struct qmp_migrate_info *, void *), void *arg,
		       struct qmp_migrate_info *mi, char *err, size_t errlen);

/* The socket, to poll for readability.  Events already queued and bytes
 * already read do not show there: qmp_wait_event() with timeout 0 looks
 * at those without waiting. */
int qmp_fd(const qmp *q);

void qmp_close(qmp *q); /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qmp, qmp_close)

#endif /* HOSTRPC_MIGRATE_QMP_H */
