/* SPDX-License-Identifier: MIT */
/* log.c - where hostrpcd's (and its workers') log lines go. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "hostrpc/daemon/log.h"

static HrpcdLogTarget log_target = HRPCD_LOG_STDERR;
static gboolean log_verbose;

static const char *level_name(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "error";
	if (level & G_LOG_LEVEL_CRITICAL)
		return "critical";
	if (level & G_LOG_LEVEL_WARNING)
		return "warning";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "notice";
	if (level & G_LOG_LEVEL_INFO)
		return "info";
	return "debug";
}

static int syslog_priority(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return LOG_ERR;
	if (level & G_LOG_LEVEL_CRITICAL)
		return LOG_CRIT;
	if (level & G_LOG_LEVEL_WARNING)
		return LOG_WARNING;
	if (level & G_LOG_LEVEL_MESSAGE)
		return LOG_NOTICE;
	if (level & G_LOG_LEVEL_INFO)
		return LOG_INFO;
	return LOG_DEBUG;
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
			       gpointer user_data)
{
	const char *message = NULL, *domain = NULL;

	if ((level & G_LOG_LEVEL_DEBUG) && !log_verbose)
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE"))
			message = fields[i].value;
		else if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
	}
	if (!message)
		message = "(no message)";
	if (!domain)
		domain = g_get_prgname() ? g_get_prgname() : "hostrpcd";
	if (log_target == HRPCD_LOG_SYSLOG) {
		syslog(syslog_priority(level), "%s", message);
		return G_LOG_WRITER_HANDLED;
	}
	/* One fprintf per line: lines of different workers do not interleave. */
	fprintf(stderr, "%s[%ld]: %s: %s\n", domain, (long)getpid(), level_name(level), message);
	return G_LOG_WRITER_HANDLED;
}

void hrpcd_log_init(HrpcdLogTarget target, gboolean verbose)
{
	static gsize writer_set;

	log_target = target;
	log_verbose = verbose;
	if (target == HRPCD_LOG_SYSLOG)
		openlog("hostrpcd", LOG_PID, LOG_DAEMON);
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* GLib aborts (SIGTRAP) if the writer is set twice, and the daemon
	 * calls this again when it switches to syslog after daemonising. */
	if (g_once_init_enter(&writer_set)) {
		g_log_set_writer_func(writer, NULL, NULL);
		g_once_init_leave(&writer_set, 1);
	}
}

void hrpcd_log_settings(HrpcdLogTarget *target, gboolean *verbose)
{
	*target = log_target;
	*verbose = log_verbose;
}

void hrpcd_log_guest(GLogLevelFlags level, guint32 id, const char *name, const char *fmt, ...)
{
	g_autofree char *text = NULL, *message = NULL;
	char idstr[16], priority[2];
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	message = g_strdup_printf("guest %u (%s): %s", id, name, text);
	g_snprintf(idstr, sizeof(idstr), "%u", id);
	g_snprintf(priority, sizeof(priority), "%d", syslog_priority(level));
	{
		const GLogField fields[] = {
			{ "MESSAGE", message, -1 },
			{ "PRIORITY", priority, -1 },
			{ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
			{ "HOSTRPC_GUEST_ID", idstr, -1 },
			{ "HOSTRPC_GUEST_NAME", name, -1 },
		};

		g_log_structured_array(level, fields, G_N_ELEMENTS(fields));
	}
}
