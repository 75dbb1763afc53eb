/* SPDX-License-Identifier: MIT */
/*
 * log.h - hostrpcd's log writer.  Everything logs through GLib structured
 * logging (G_LOG_DOMAIN "hostrpcd"); this picks where it goes: stderr in
 * the foreground (journald picks it up under systemd), syslog once
 * daemonised.  Workers are forked from the supervisor and inherit the
 * writer, so their lines carry their own pid.
 *
 * GLib's own journald writer is not used: it caches its socket fd forever,
 * and a worker closes every inherited fd right after fork, so the cached
 * number would point at whatever the worker opens next.  syslog can be
 * closed before and reopened after (hrpcd_log_forked()).
 */
#ifndef HOSTRPCD_LOG_H
#define HOSTRPCD_LOG_H

#include <glib.h>

typedef enum {
	HRPCD_LOG_STDERR,   /* foreground */
	HRPCD_LOG_SYSLOG,   /* daemonised */
} HrpcdLogTarget;

void hrpcd_log_init(HrpcdLogTarget target, gboolean verbose);

/* In a freshly forked worker, before it closes inherited fds: drop the
 * syslog connection (reopened on the next line). */
void hrpcd_log_forked(void);

/* Log a line about one guest: the message starts with "guest ID (NAME): " and
 * the entry carries HOSTRPC_GUEST_ID / HOSTRPC_GUEST_NAME fields. */
void hrpcd_log_guest(GLogLevelFlags level, guint32 id, const char *name, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

#endif /* HOSTRPCD_LOG_H */
