/* SPDX-License-Identifier: MIT */
/*
 * log.h - hostrpcd's log writer.  Everything logs through GLib structured
 * logging (G_LOG_DOMAIN "hostrpcd"); this picks where it goes: stderr in
 * the foreground - or, when stderr is journald's stream (systemd), journald
 * itself with the entry's fields (log.c) - and syslog once daemonised.
 * Workers are hostrpcd run again (hostrpcd --worker) and log the same way;
 * their lines carry their own pid.
 */
#ifndef HOSTRPCD_LOG_H
#define HOSTRPCD_LOG_H

#include <glib.h>

typedef enum {
	HRPCD_LOG_STDERR,   /* foreground */
	HRPCD_LOG_SYSLOG,   /* daemonised */
} HrpcdLogTarget;

void hrpcd_log_init(HrpcdLogTarget target, gboolean verbose);

/* The current settings (handed on to workers). */
void hrpcd_log_settings(HrpcdLogTarget *target, gboolean *verbose);

/* Log a line about one guest: the message starts with "guest ID (NAME): " and
 * the entry carries HOSTRPC_GUEST_ID / HOSTRPC_GUEST_NAME fields. */
void hrpcd_log_guest(GLogLevelFlags level, guint32 id, const char *name, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

#endif /* HOSTRPCD_LOG_H */
