/* SPDX-License-Identifier: MIT */
/*
 * audit-sink.h - the socket service's audit log, written by the supervisor.
 *
 * A worker is the guest's (sandbox.h): after a compromise it could forge,
 * split or flood its own audit trail, or fill the disk.  So the worker does
 * not write the log: it sends one record per SOCK_SEQPACKET message on a
 * descriptor the supervisor gives it at spawn (worker.h, fd 9), and the
 * supervisor appends <dir>/<name>.sock.log itself:
 *
 *  - a record is at most HRPCD_AUDIT_RECORD_MAX bytes (longer ones are cut
 *    and marked "[truncated]"); bytes outside printable ASCII (newlines,
 *    escapes, NULs) become '?', so one record is one line;
 *  - every line starts with the time and "guest=ID name=NAME" from the
 *    supervisor's table; whatever the record says comes after that;
 *  - each guest gets `rate` lines a second (all its workers together);
 *    the rest are counted and replaced by one "audit: suppressed N lines"
 *    line, written when the next second's first line comes, or when the
 *    guest goes;
 *  - a file that would grow past `max_bytes` is renamed to <file>.1
 *    (replacing the previous one) and started afresh: at most twice
 *    `max_bytes` per guest on disk.
 *
 * Error convention: gboolean/-1 + GError (GLib layer).
 */
#ifndef HOSTRPCD_AUDIT_SINK_H
#define HOSTRPCD_AUDIT_SINK_H

#include <glib.h>

#define HRPCD_AUDIT_RECORD_MAX 1024
#define HRPCD_AUDIT_DEFAULT_MAX_BYTES (1u << 20)
#define HRPCD_AUDIT_DEFAULT_RATE 100

typedef struct _HrpcdAuditSinks HrpcdAuditSinks;

/* Logs in `dir` (created 0750 on first use); 0 for the defaults above.
 * Sources are attached to `ctx` (NULL: the default context). */
HrpcdAuditSinks *hrpcd_audit_sinks_new(const char *dir, gsize max_bytes, guint rate,
				       GMainContext *ctx);
void hrpcd_audit_sinks_free(HrpcdAuditSinks *sinks);
/* New limits (0: default), from the next line on (hostrpcd's SIGHUP). */
void hrpcd_audit_sinks_set_limits(HrpcdAuditSinks *sinks, gsize max_bytes, guint rate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdAuditSinks, hrpcd_audit_sinks_free)

/* A new worker of guest `guest_id`, called `name` (the first name given for
 * an id sticks: it names the file).  Returns the worker's end of a fresh
 * pair (close it once the worker is forked), or -1 with `error` set. */
int hrpcd_audit_sinks_open(HrpcdAuditSinks *sinks, guint32 guest_id, const char *name,
			   GError **error);
/* The guest is gone: take what its workers left, write the summary of what
 * was suppressed, close its file. */
void hrpcd_audit_sinks_release(HrpcdAuditSinks *sinks, guint32 guest_id);

/*
 * hostrpcctl audit: the newest lines of the log of guest `guest_id` called
 * `name` (the file hrpcd_audit_sinks_open names; a guest that has gone is
 * found by its name, `guest_id` 0).  Up to `lines` lines, oldest first,
 * taken from the rotated <file>.1 too when the current file has fewer, at
 * most `max` bytes in all (the newest kept), each made printable again (the
 * file is the supervisor's, but it lies on disk), appended to `out` with a
 * newline each.  Returns how many lines were appended, or -1 with `error`
 * (G_IO_ERROR_NOT_FOUND: the guest never had a log here).
 */
gint hrpcd_audit_sinks_tail(HrpcdAuditSinks *sinks, guint32 guest_id, const char *name,
			    guint lines, gsize max, GString *out, GError **error);

/* The default directory (hostrpcd without --sock-audit-dir): absolute
 * <state_dir>/sock-audit, or LOCALSTATEDIR/log/hostrpc without one. */
char *hrpcd_audit_dir(const char *state_dir);

/* One record made printable (pure; exposed for tests): at most `size` - 1
 * bytes to `out`, NUL-terminated; trailing newlines dropped.  Returns the
 * length written. */
gsize hrpcd_audit_sanitize(const char *in, gsize len, char *out, gsize size);

#endif /* HOSTRPCD_AUDIT_SINK_H */
