/* SPDX-License-Identifier: MIT */
/* sock-glib.c - the GLib adapter of the socket service (see
 * outsource-sock-glib.h); all socket logic stays in sock.c. */
#include "config.h"

#include <errno.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib-unix.h>

#include "outsource/sock/outsource-sock-glib.h"

static gboolean on_ready(gint fd, GIOCondition cond, gpointer data)
{
	outsource_sock *s = data;
	int rc = outsource_sock_dispatch(s);

	if (rc < 0)
		g_warning("socket service: dispatch failed: %s", g_strerror(-rc));
	return G_SOURCE_CONTINUE;
}

GSource *outsource_sock_glib_attach(outsource_sock *s, GMainContext *ctx)
{
	GSource *src = g_unix_fd_source_new(outsource_sock_fd(s), G_IO_IN);

	g_source_set_callback(src, (GSourceFunc)(void (*)(void))on_ready, s, NULL);
	g_source_set_name(src, "hostrpc-sock");
	g_source_attach(src, ctx);
	return src;
}

struct _OutsourceSockService {
	outsource_sock *sock;
	GSource *src;
};

char *outsource_sock_service_listing(OutsourceSockService *svc, gboolean json, gsize *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	char *out;

	*len = 0;
	if (!f)
		return NULL;
	outsource_sock_print(svc->sock, f, json);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return NULL;
	}
	/* g_free()-able, whatever malloc open_memstream used. */
	out = g_memdup2(buf, n + 1);
	free(buf);
	*len = n;
	return out;
}

static char *safe_name(const char *name, guint32 guest_id)
{
	char *n;

	if (!name || !*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return g_strdup_printf("guest%u", guest_id);
	n = g_strdup(name);
	g_strdelimit(n, "/\\ \t\n", '_');
	return n;
}

/* The service with the policy of file `conf`, or of `text` (from
 * `source`), or neither: the built-in default (`source` says why). */
static OutsourceSockService *start(hrpc_server *srv, guint32 guest_id, const char *name,
				   const char *conf, const char *text, const char *source,
				   int audit_fd, gboolean own_uid, GError **error)
{
	g_autofree char *audit = NULL;
	struct outsource_sock_config cfg = { .guest_id = guest_id, .guest_name = name,
					     .audit_fd = -1, .own_uid = own_uid };
	OutsourceSockService *svc;
	char err[512] = "";
	int rc;

	cfg.policy_path = conf;
	cfg.policy_text = text;
	cfg.policy_source = source;
	if (audit_fd >= 0) {
		/* hostrpcd's supervisor writes the log (audit-sink.h). */
		cfg.audit_fd = audit_fd;
		cfg.audit_bare = true;
	} else {
		g_autofree char *dir = g_build_filename(LOCALSTATEDIR, "log", "hostrpc", NULL);

		if (g_mkdir_with_parents(dir, 0750) < 0) {
			int e = errno;

			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
				    "cannot create the socket audit directory %s: %s", dir,
				    g_strerror(e));
			return NULL;
		}
		audit = g_strdup_printf("%s/%s.sock.log", dir, name);
		cfg.audit_path = audit;
	}

	svc = g_new0(OutsourceSockService, 1);
	rc = outsource_sock_new(&cfg, &svc->sock, err, sizeof(err));
	if (rc < 0) {
		/* A policy given as text names its file here ("line N: why"
		 * alone does not say which file). */
		if (text && source)
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
				    "socket service for %s: %s: %s", name, source,
				    err[0] ? err : g_strerror(-rc));
		else
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
				    "socket service for %s: %s", name,
				    err[0] ? err : g_strerror(-rc));
		g_free(svc);
		return NULL;
	}
	/* Sockets are made in the policy's namespace after the worker has
	 * dropped the privileges setns() takes: enter it now, for good. */
	rc = outsource_sock_enter_netns(svc->sock);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot enter the network namespace of %s's policy: %s", name,
			    g_strerror(-rc));
		outsource_sock_free(svc->sock);
		g_free(svc);
		return NULL;
	}
	rc = outsource_sock_register(svc->sock, srv);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot register the socket service: %s", g_strerror(-rc));
		outsource_sock_free(svc->sock);
		g_free(svc);
		return NULL;
	}
	svc->src = outsource_sock_glib_attach(svc->sock, g_main_context_get_thread_default());
	return svc;
}

OutsourceSockService *outsource_sock_service_start(hrpc_server *srv, guint32 guest_id,
						   const char *guest_name, const char *policy_dir,
						   int audit_fd, gboolean own_uid, GError **error)
{
	g_autofree char *name = safe_name(guest_name, guest_id);
	g_autofree char *defconf = g_build_filename(SYSCONFDIR, "hostrpc", "sock", NULL);
	const char *confdir = policy_dir ? policy_dir : defconf;
	g_autofree char *conf = NULL, *nopolicy = NULL;

	conf = g_strdup_printf("%s/%s.conf", confdir, name);
	if (!g_file_test(conf, G_FILE_TEST_EXISTS)) {
		g_free(conf);
		conf = g_strdup_printf("%s/default.conf", confdir);
		if (!g_file_test(conf, G_FILE_TEST_EXISTS))
			g_clear_pointer(&conf, g_free);
	}
	/* Say where a policy was looked for: a file that is not where the
	 * operator thinks gives the built-in default, and the listing shows it. */
	if (!conf)
		nopolicy = g_strdup_printf("built-in default (no %s/%s.conf, no %s/default.conf)",
					   confdir, name, confdir);
	return start(srv, guest_id, name, conf, NULL, nopolicy, audit_fd, own_uid, error);
}

OutsourceSockService *outsource_sock_service_start_text(hrpc_server *srv, guint32 guest_id,
							const char *guest_name,
							const char *policy_text,
							const char *source, int audit_fd,
							gboolean own_uid, GError **error)
{
	g_autofree char *name = safe_name(guest_name, guest_id);

	return start(srv, guest_id, name, NULL, policy_text, source, audit_fd, own_uid, error);
}

void outsource_sock_service_stop(OutsourceSockService *svc)
{
	if (!svc)
		return;
	if (svc->src) {
		g_source_destroy(svc->src);
		g_source_unref(svc->src);
	}
	outsource_sock_free(svc->sock);
	g_free(svc);
}

void outsource_sock_service_pause(OutsourceSockService *svc)
{
	if (svc->src) {
		g_source_destroy(svc->src);
		g_source_unref(svc->src);
		svc->src = NULL;
	}
	outsource_sock_mig_quiesce(svc->sock);
}

void outsource_sock_service_resume(OutsourceSockService *svc)
{
	outsource_sock_mig_resume(svc->sock);
	if (!svc->src)
		svc->src = outsource_sock_glib_attach(svc->sock, g_main_context_get_thread_default());
}

outsource_sock *outsource_sock_service_get(OutsourceSockService *svc)
{
	return svc->sock;
}
