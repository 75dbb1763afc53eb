/* SPDX-License-Identifier: MIT */
/*
 * libvirt-domains.c - follow libvirt domains and keep one ivshmem endpoint
 * per hostrpc device in their XML.
 *
 * libvirt's event implementation (virEventRegisterDefaultImpl) is GLib's
 * global default context: its watches and timers are sources there, and
 * virEventRunDefaultImpl() is one iteration of it.  That is hostrpcd's
 * main loop, so libvirt's events are dispatched by the main loop - there is
 * no thread of ours.  (There was one, running virEventRunDefaultImpl(): it
 * competed with the main loop for the one context.  Whichever thread held
 * it dispatched libvirt's callbacks and our own updates, so the tables
 * below and the add/remove callbacks ran in either thread - a data race
 * ThreadSanitizer showed in tests/unit/test-libvirt-domains - and while
 * hostrpcd's loop ran, the thread waited for the context for good, so a
 * lost connection was never retried.)  What libvirt tells us is applied as
 * whole "domain X now wants endpoints {...}" updates, on `ctx`.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hostrpc/daemon/libvirt-domains.h"

/* ---- domain XML ----------------------------------------------------------- */

typedef struct {
	const char *dir;
	GPtrArray *paths;
	int depth_shmem;      /* element depth of the open <shmem>, 0 if none */
	int depth;
	gboolean doorbell;
	char *server;
} XmlScan;

static void xml_start(GMarkupParseContext *ctx, const char *name, const char **attr_names,
		      const char **attr_values, gpointer data, GError **error)
{
	XmlScan *s = data;

	s->depth++;
	if (!strcmp(name, "shmem") && !s->depth_shmem) {
		s->depth_shmem = s->depth;
		s->doorbell = FALSE;
		g_clear_pointer(&s->server, g_free);
		return;
	}
	if (!s->depth_shmem || s->depth != s->depth_shmem + 1)
		return;
	for (int i = 0; attr_names[i]; i++) {
		if (!strcmp(name, "model") && !strcmp(attr_names[i], "type"))
			s->doorbell = !strcmp(attr_values[i], "ivshmem-doorbell");
		else if (!strcmp(name, "server") && !strcmp(attr_names[i], "path"))
		{
			g_free(s->server);
			s->server = g_strdup(attr_values[i]);
		}
	}
}

static void xml_end(GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
	XmlScan *s = data;

	if (s->depth_shmem && s->depth == s->depth_shmem) {
		if (s->doorbell && s->server) {
			g_autofree char *dir = g_path_get_dirname(s->server);
			g_autofree char *base = g_path_get_basename(s->server);

			/* Only our own directory, and a plain file name in it:
			 * a domain XML must not make us bind sockets elsewhere. */
			if (!g_strcmp0(dir, s->dir) && g_str_has_suffix(base, ".ivshmem") &&
			    !strchr(base, '/') && base[0] != '.')
				g_ptr_array_add(s->paths, g_steal_pointer(&s->server));
		}
		s->depth_shmem = 0;
		g_clear_pointer(&s->server, g_free);
	}
	s->depth--;
}

gboolean hrpcd_domain_xml_endpoints(const char *xml, const char *endpoint_dir,
				    GPtrArray **paths, GError **error)
{
	static const GMarkupParser parser = { .start_element = xml_start, .end_element = xml_end };
	g_autofree char *dir = g_canonicalize_filename(endpoint_dir, "/");
	XmlScan s = { .dir = dir, .paths = g_ptr_array_new_with_free_func(g_free) };
	g_autoptr(GMarkupParseContext) ctx = g_markup_parse_context_new(&parser, 0, &s, NULL);
	gboolean ok;

	ok = g_markup_parse_context_parse(ctx, xml, -1, error) &&
	     g_markup_parse_context_end_parse(ctx, error);
	g_free(s.server);
	if (!ok) {
		g_ptr_array_unref(s.paths);
		return FALSE;
	}
	*paths = s.paths;
	return TRUE;
}

/* ---- following libvirt ------------------------------------------------------ */

struct _HrpcdLibvirt {
	char *uri;
	char *dir;
	GMainContext *ctx;
	HrpcdEndpointFunc add, remove;
	gpointer user_data;
	GHashTable *domains;      /* name -> GPtrArray of paths (main loop only) */
	GHashTable *owners;       /* path -> the domain whose endpoint it is (main loop only) */
	GSource *watch;           /* the connection check and retry, on `ctx` */
	GQueue pending;           /* GSource: updates posted, not yet applied */
	gint64 retry;             /* when to try connecting again */
	virConnectPtr conn;
	int cb_id;
};

typedef struct {
	HrpcdLibvirt *lv;
	GSource *src;             /* ours in lv->pending (no reference) */
	char *domain;
	GPtrArray *paths;         /* NULL: the domain is gone */
} Update;

static void update_free(Update *u)
{
	g_queue_remove(&u->lv->pending, u->src);
	g_free(u->domain);
	if (u->paths)
		g_ptr_array_unref(u->paths);
	g_free(u);
}

static gboolean contains(GPtrArray *a, const char *p)
{
	for (guint i = 0; a && i < a->len; i++)
		if (!strcmp(g_ptr_array_index(a, i), p))
			return TRUE;
	return FALSE;
}

/*
 * An endpoint path belongs to the first domain that asks for it.  Another
 * domain naming the same path is refused (logged) and gets it only when the
 * owner lets it go; undefining or redefining a domain removes only the
 * endpoints it owns, never another domain's.
 */
static void claim(HrpcdLibvirt *lv, const char *domain, const char *path)
{
	const char *owner = g_hash_table_lookup(lv->owners, path);

	if (owner) {
		if (strcmp(owner, domain))
			g_warning("libvirt: domain %s: endpoint %s belongs to domain %s; refused",
				  domain, path, owner);
		return;
	}
	g_hash_table_insert(lv->owners, g_strdup(path), g_strdup(domain));
	lv->add(domain, path, lv->user_data);
}

/* `domain` no longer wants `path`: remove it if it was its own, then hand it
 * to a domain still waiting for it. */
static void release(HrpcdLibvirt *lv, const char *domain, const char *path)
{
	GHashTableIter iter;
	gpointer name, paths;

	if (g_strcmp0(g_hash_table_lookup(lv->owners, path), domain))
		return;
	lv->remove(domain, path, lv->user_data);
	g_hash_table_remove(lv->owners, path);
	g_hash_table_iter_init(&iter, lv->domains);
	while (g_hash_table_iter_next(&iter, &name, &paths)) {
		if (strcmp(name, domain) && contains(paths, path)) {
			claim(lv, name, path);
			break;
		}
	}
}

/* Main loop: make the endpoints of one domain match its XML. */
static gboolean apply_update(gpointer data)
{
	Update *u = data;
	HrpcdLibvirt *lv = u->lv;
	g_autoptr(GPtrArray) old = g_hash_table_lookup(lv->domains, u->domain);

	if (old)
		g_ptr_array_ref(old);
	/* The domain's new wishes first, so a hand-over never goes back to it. */
	if (u->paths && u->paths->len)
		g_hash_table_replace(lv->domains, g_strdup(u->domain), g_ptr_array_ref(u->paths));
	else
		g_hash_table_remove(lv->domains, u->domain);
	for (guint i = 0; old && i < old->len; i++)
		if (!contains(u->paths, g_ptr_array_index(old, i)))
			release(lv, u->domain, g_ptr_array_index(old, i));
	for (guint i = 0; u->paths && i < u->paths->len; i++)
		if (!contains(old, g_ptr_array_index(u->paths, i)))
			claim(lv, u->domain, g_ptr_array_index(u->paths, i));
	return G_SOURCE_REMOVE;
}

static void post(HrpcdLibvirt *lv, const char *domain, GPtrArray *paths)
{
	Update *u = g_new0(Update, 1);

	u->lv = lv;
	u->domain = g_strdup(domain);
	u->paths = paths;
	/* A source of its own, not g_main_context_invoke(): that would apply
	 * it at once, inside libvirt's callback (or the scan at start-up). */
	GSource *src = g_idle_source_new();

	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	u->src = src;
	g_queue_push_tail(&lv->pending, src);
	g_source_set_callback(src, apply_update, u, (GDestroyNotify)update_free);
	g_source_attach(src, lv->ctx);
	g_source_unref(src);
}

static void scan_domain(HrpcdLibvirt *lv, virDomainPtr dom)
{
	const char *name = virDomainGetName(dom);
	g_autoptr(GError) err = NULL;
	GPtrArray *paths = NULL;
	char *xml;

	/* The inactive XML is what the next start will use. */
	xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	if (!xml) {
		g_warning("libvirt: cannot read the XML of domain %s", name);
		return;
	}
	if (!hrpcd_domain_xml_endpoints(xml, lv->dir, &paths, &err))
		g_warning("libvirt: domain %s: unreadable XML: %s", name, err->message);
	else
		post(lv, name, paths);
	free(xml);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	HrpcdLibvirt *lv = opaque;

	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		scan_domain(lv, dom);
		break;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		post(lv, virDomainGetName(dom), NULL);
		break;
	default:
		/* Start/stop need nothing here: QEMU connecting to and leaving
		 * the endpoint drives the channel. */
		break;
	}
	return 0;
}

static void silence(void *opaque, virErrorPtr e)
{
}

static gboolean lv_connect(HrpcdLibvirt *lv, GError **error)
{
	virDomainPtr *doms = NULL;
	int n;

	lv->conn = virConnectOpen(lv->uri);
	if (!lv->conn) {
		virErrorPtr e = virGetLastError();

		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot connect to libvirt at %s: %s",
			    lv->uri, e && e->message ? e->message : "unknown error");
		return FALSE;
	}
	lv->cb_id = virConnectDomainEventRegisterAny(lv->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
						     VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), lv, NULL);
	n = virConnectListAllDomains(lv->conn, &doms, 0);
	for (int i = 0; i < n; i++) {
		scan_domain(lv, doms[i]);
		virDomainFree(doms[i]);
	}
	free(doms);
	return TRUE;
}

static void lv_disconnect(HrpcdLibvirt *lv)
{
	if (!lv->conn)
		return;
	if (lv->cb_id >= 0)
		virConnectDomainEventDeregisterAny(lv->conn, lv->cb_id);
	virConnectClose(lv->conn);
	lv->conn = NULL;
	lv->cb_id = -1;
}

/* Every 500 ms on `ctx`: notice a lost connection, retry every 2 s. */
static gboolean lv_watch(gpointer data)
{
	HrpcdLibvirt *lv = data;

	if (lv->conn && virConnectIsAlive(lv->conn) != 1) {
		g_warning("libvirt: lost the connection to %s; retrying", lv->uri);
		lv_disconnect(lv);
	}
	if (!lv->conn && g_get_monotonic_time() >= lv->retry) {
		g_autoptr(GError) err = NULL;

		if (!lv_connect(lv, &err)) {
			g_debug("%s", err->message);
			lv_disconnect(lv);
			lv->retry = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
		} else {
			g_message("libvirt: following domains at %s", lv->uri);
		}
	}
	return G_SOURCE_CONTINUE;
}

HrpcdLibvirt *hrpcd_libvirt_new(const char *uri, const char *endpoint_dir, GMainContext *ctx,
				HrpcdEndpointFunc add, HrpcdEndpointFunc remove,
				gpointer user_data, GError **error)
{
	static gsize once;
	HrpcdLibvirt *lv;

	if (g_once_init_enter(&once)) {
		virSetErrorFunc(NULL, silence);
		virEventRegisterDefaultImpl();
		g_once_init_leave(&once, 1);
	}
	lv = g_new0(HrpcdLibvirt, 1);
	lv->uri = g_strdup(uri);
	lv->dir = g_canonicalize_filename(endpoint_dir, "/");
	lv->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_ref_thread_default();
	lv->add = add;
	lv->remove = remove;
	lv->user_data = user_data;
	lv->cb_id = -1;
	g_queue_init(&lv->pending);
	lv->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    (GDestroyNotify)g_ptr_array_unref);
	lv->owners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	/* Connect once synchronously so a bad URI is reported at start-up. */
	if (!lv_connect(lv, error)) {
		lv_disconnect(lv);
		hrpcd_libvirt_free(lv);
		return NULL;
	}
	lv->watch = g_timeout_source_new(500);
	g_source_set_callback(lv->watch, lv_watch, lv, NULL);
	g_source_attach(lv->watch, lv->ctx);
	return lv;
}

void hrpcd_libvirt_free(HrpcdLibvirt *lv)
{
	if (!lv)
		return;
	if (lv->watch) {
		g_source_destroy(lv->watch);
		g_source_unref(lv->watch);
	}
	lv_disconnect(lv);
	/* Updates not applied yet point at lv: gone with it (update_free()
	 * takes each off the queue). */
	while (!g_queue_is_empty(&lv->pending))
		g_source_destroy(g_queue_peek_head(&lv->pending));
	g_hash_table_unref(lv->domains);
	g_hash_table_unref(lv->owners);
	g_main_context_unref(lv->ctx);
	g_free(lv->dir);
	g_free(lv->uri);
	g_free(lv);
}
