/* SPDX-License-Identifier: MIT */
/* xen-domains.c - domains and their hostrpc xenbus devices (xen-domains.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <xenctrl.h>
#include <xenstore.h>

#include "hostrpc/xen.h"
#include "hostrpc/daemon/xen-domains.h"
#include "hostrpc/daemon/xen-fe.h"
#include "hostrpc/daemon/log.h"

#define MAX_DOMAINS 1024
#define FE_TOKEN "hostrpc-fe:"

typedef struct {
	guint32 domid;
	char name[64];
	char fe[96];          /* frontend directory */
	char be[96];          /* backend directory */
	gboolean watching;    /* FE/state watched */
	gboolean live;        /* ready() given, gone() not yet */
	enum hrpc_xenbus_state be_state;
	gboolean seen;        /* in the last scan */
} XenDom;

struct _HrpcdXenDomains {
	const HrpcdXenCallbacks *cb;
	gpointer data;
	struct xs_handle *xs;
	xc_interface *xc;
	guint32 self;         /* our domain id: the backend's */
	GSource *src;
	GHashTable *doms;     /* domid -> XenDom */
};

static void dom_log(XenDom *d, GLogLevelFlags lvl, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void dom_log(XenDom *d, GLogLevelFlags lvl, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_log(G_LOG_DOMAIN, lvl, "xen domain %u (%s): %s", d->domid, d->name, msg);
}

static gboolean xs_printf(HrpcdXenDomains *x, xs_transaction_t t, const char *dir,
			  const char *key, const char *fmt, ...) G_GNUC_PRINTF(5, 6);
static gboolean xs_printf(HrpcdXenDomains *x, xs_transaction_t t, const char *dir,
			  const char *key, const char *fmt, ...)
{
	char path[160], val[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return n >= 0 && xs_write(x->xs, t, path, val, (unsigned int)strlen(val));
}

/* A value of the frontend's (hostile) as a number <= max. */
static int fe_u32(HrpcdXenDomains *x, XenDom *d, const char *key, guint32 max, guint32 *out)
{
	char path[160];
	unsigned int len = 0;
	g_autofree char *v = NULL;

	snprintf(path, sizeof(path), "%s/%s", d->fe, key);
	v = xs_read(x->xs, XBT_NULL, path, &len);
	if (!v)
		return -ENOENT;
	return hrpc_xen_parse_u32(v, len, max, out);
}

static void be_state(HrpcdXenDomains *x, XenDom *d, enum hrpc_xenbus_state st)
{
	if (!xs_printf(x, XBT_NULL, d->be, "state", "%u", st))
		dom_log(d, G_LOG_LEVEL_WARNING, "cannot write the backend state: %s",
			g_strerror(errno));
	d->be_state = st;
}

static void dom_gone(HrpcdXenDomains *x, XenDom *d, const char *why)
{
	if (!d->live)
		return;
	d->live = FALSE;
	x->cb->gone(d->domid, why, x->data);
}

/* The frontend broke the handshake: the backend says so and closes. */
static void fe_refuse(HrpcdXenDomains *x, XenDom *d, const char *why)
{
	char path[160];

	dom_log(d, G_LOG_LEVEL_WARNING, "frontend refused: %s", why);
	snprintf(path, sizeof(path), "%s/hostrpc-error", d->be);
	xs_write(x->xs, XBT_NULL, path, why, (unsigned int)strlen(why));
	be_state(x, d, HRPC_XB_CLOSED);
}

/* hrpcd_xen_fe_check()'s reader: the frontend's keys through fe_u32(). */
static int fe_read(void *arg, const char *key, guint32 max, guint32 *out)
{
	HrpcdXenDomains *x = ((void **)arg)[0];
	XenDom *d = ((void **)arg)[1];

	return fe_u32(x, d, key, max, out);
}

/* Frontend Initialised: read and check what it granted us. */
static void fe_initialised(HrpcdXenDomains *x, XenDom *d)
{
	struct hrpc_xen_chan_spec spec = { .domid = d->domid };
	void *arg[2] = { x, d };
	guint32 reset_port;
	const char *why = hrpcd_xen_fe_check(fe_read, arg, &spec, &reset_port);

	if (why)
		return fe_refuse(x, d, why);
	dom_log(d, G_LOG_LEVEL_INFO, "frontend initialised: %u pages, ports %u/%u",
		spec.nr_pages, spec.port, reset_port);
	d->live = TRUE;
	x->cb->ready(d->domid, d->name, &spec, reset_port, x->data);
}

static void fe_changed(HrpcdXenDomains *x, XenDom *d)
{
	guint32 st = HRPC_XB_UNKNOWN;
	int rc = fe_u32(x, d, "state", HRPC_XB_RECONFIGURED, &st);

	if (rc == -ENOENT) {
		/* The toolstack removes the domain's directory as it destroys it. */
		dom_gone(x, d, "its frontend directory is gone");
		return;
	}
	if (rc < 0)
		st = HRPC_XB_UNKNOWN;
	switch (st) {
	case HRPC_XB_INITIALISING:
	case HRPC_XB_UNKNOWN:
		/* A new driver (module reload), or the device not taken yet. */
		if (d->live)
			dom_gone(x, d, "the frontend restarted");
		if (d->be_state != HRPC_XB_INITWAIT && st == HRPC_XB_INITIALISING)
			be_state(x, d, HRPC_XB_INITWAIT);
		break;
	case HRPC_XB_INITIALISED:
	case HRPC_XB_CONNECTED:
		if (!d->live && d->be_state == HRPC_XB_INITWAIT)
			fe_initialised(x, d);
		break;
	case HRPC_XB_CLOSING:
		/* Answer Closing with Closing: a domU shutting down waits for
		 * exactly that (xenbus_frontend_closed), then says Closed. */
		dom_gone(x, d, "the frontend closes");
		if (d->be_state != HRPC_XB_CLOSING && d->be_state != HRPC_XB_CLOSED)
			be_state(x, d, HRPC_XB_CLOSING);
		break;
	case HRPC_XB_CLOSED:
		dom_gone(x, d, "the frontend closed");
		if (d->be_state != HRPC_XB_CLOSED)
			be_state(x, d, HRPC_XB_CLOSED);
		break;
	default:
		break;
	}
}

/* One transaction: both directories, the frontend's owned by the domU. */
static gboolean dev_create(HrpcdXenDomains *x, XenDom *d)
{
	struct xs_permissions fe_perm[2] = {
		{ .id = d->domid, .perms = XS_PERM_NONE },
		{ .id = x->self, .perms = XS_PERM_READ },
	};
	struct xs_permissions be_perm[2] = {
		{ .id = x->self, .perms = XS_PERM_NONE },
		{ .id = d->domid, .perms = XS_PERM_READ },
	};

	for (int tries = 0; tries < 16; tries++) {
		xs_transaction_t t = xs_transaction_start(x->xs);
		gboolean ok;

		if (t == XBT_NULL)
			return FALSE;
		xs_rm(x->xs, t, d->be);
		ok = xs_mkdir(x->xs, t, d->fe) && xs_set_permissions(x->xs, t, d->fe, fe_perm, 2) &&
		     xs_mkdir(x->xs, t, d->be) && xs_set_permissions(x->xs, t, d->be, be_perm, 2) &&
		     xs_printf(x, t, d->fe, "backend", "%s", d->be) &&
		     xs_printf(x, t, d->fe, "backend-id", "%u", x->self) &&
		     xs_printf(x, t, d->fe, "state", "%u", HRPC_XB_INITIALISING) &&
		     xs_printf(x, t, d->be, "frontend", "%s", d->fe) &&
		     xs_printf(x, t, d->be, "frontend-id", "%u", d->domid) &&
		     xs_printf(x, t, d->be, "online", "1") &&
		     xs_printf(x, t, d->be, HRPC_XS_VERSIONS, "%u", HRPC_XEN_HANDSHAKE_VERSION) &&
		     xs_printf(x, t, d->be, HRPC_XS_MAX_PAGES, "%u", HRPC_XEN_MAX_PAGES) &&
		     xs_printf(x, t, d->be, "state", "%u", HRPC_XB_INITWAIT);
		if (!ok) {
			int err = errno;

			xs_transaction_end(x->xs, t, true);
			errno = err;
			return FALSE;
		}
		if (xs_transaction_end(x->xs, t, false)) {
			d->be_state = HRPC_XB_INITWAIT;
			return TRUE;
		}
		if (errno != EAGAIN)
			return FALSE;
	}
	errno = EAGAIN;
	return FALSE;
}

static void dom_name(HrpcdXenDomains *x, XenDom *d)
{
	char path[64];
	unsigned int len = 0;
	g_autofree char *v = NULL;

	snprintf(path, sizeof(path), "/local/domain/%u/name", d->domid);
	v = xs_read(x->xs, XBT_NULL, path, &len);
	hrpcd_xen_dom_name(v, len, d->domid, d->name, sizeof(d->name));
}

static void dom_new(HrpcdXenDomains *x, guint32 domid)
{
	XenDom *d = g_new0(XenDom, 1);
	char tok[32];

	d->domid = domid;
	dom_name(x, d);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/" HRPC_XEN_DEVTYPE "/0", domid);
	snprintf(d->be, sizeof(d->be), "/local/domain/%u/backend/" HRPC_XEN_DEVTYPE "/%u/0",
		 x->self, domid);
	g_hash_table_insert(x->doms, GUINT_TO_POINTER(domid), d);
	if (!dev_create(x, d)) {
		dom_log(d, G_LOG_LEVEL_WARNING, "cannot create its hostrpc device: %s",
			g_strerror(errno));
		return;
	}
	snprintf(tok, sizeof(tok), FE_TOKEN "%u", domid);
	{
		char path[112];

		snprintf(path, sizeof(path), "%s/state", d->fe);
		d->watching = xs_watch(x->xs, path, tok);
	}
	dom_log(d, G_LOG_LEVEL_MESSAGE, "hostrpc device offered (%s)", d->be);
}

/* The domain is gone (or dying): let it go and clean up our side. */
static void dom_free(HrpcdXenDomains *x, XenDom *d, gboolean closing)
{
	char tok[32], path[112];

	if (closing)
		d->live = FALSE;   /* the supervisor stops every worker itself */
	else
		dom_gone(x, d, "the domain is gone");
	if (d->watching) {
		snprintf(tok, sizeof(tok), FE_TOKEN "%u", d->domid);
		snprintf(path, sizeof(path), "%s/state", d->fe);
		xs_unwatch(x->xs, path, tok);
	}
	if (closing) {
		be_state(x, d, HRPC_XB_CLOSED);
	} else {
		char dir[96];

		snprintf(dir, sizeof(dir), "/local/domain/%u/backend/" HRPC_XEN_DEVTYPE "/%u",
			 x->self, d->domid);
		xs_rm(x->xs, XBT_NULL, dir);
		dom_log(d, G_LOG_LEVEL_MESSAGE, "gone");
	}
}

/* Which domains are alive now (libxenctrl): new ones get a device, dead or
 * dying ones are let go. */
static void scan(HrpcdXenDomains *x)
{
	g_autofree xc_domaininfo_t *info = g_new0(xc_domaininfo_t, MAX_DOMAINS);
	GHashTableIter it;
	gpointer k, v;
	int n;

	n = xc_domain_getinfolist(x->xc, 0, MAX_DOMAINS, info);
	if (n < 0) {
		g_warning("xen: cannot list domains: %s", g_strerror(errno));
		return;
	}
	g_hash_table_iter_init(&it, x->doms);
	while (g_hash_table_iter_next(&it, &k, &v))
		((XenDom *)v)->seen = FALSE;
	for (int i = 0; i < n; i++) {
		guint32 id = info[i].domain;
		XenDom *d;

		if (id == x->self || id == 0 || (info[i].flags & XEN_DOMINF_dying))
			continue;
		d = g_hash_table_lookup(x->doms, GUINT_TO_POINTER(id));
		if (!d) {
			dom_new(x, id);
			d = g_hash_table_lookup(x->doms, GUINT_TO_POINTER(id));
		}
		d->seen = TRUE;
	}
	g_hash_table_iter_init(&it, x->doms);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (((XenDom *)v)->seen)
			continue;
		dom_free(x, v, FALSE);
		g_hash_table_iter_remove(&it);
	}
}

static gboolean xs_event(gint fd, GIOCondition cond, gpointer user_data)
{
	HrpcdXenDomains *x = user_data;
	char **w;
	gboolean rescan = FALSE;

	while ((w = xs_check_watch(x->xs))) {
		const char *tok = w[XS_WATCH_TOKEN];
		guint32 id;

		if (g_str_has_prefix(tok, FE_TOKEN)) {
			const char *s = tok + strlen(FE_TOKEN);
			XenDom *d;

			id = (guint32)strtoul(s, NULL, 10);
			d = g_hash_table_lookup(x->doms, GUINT_TO_POINTER(id));
			if (d)
				fe_changed(x, d);
		} else {
			rescan = TRUE;
		}
		free(w);
	}
	if (rescan)
		scan(x);
	return G_SOURCE_CONTINUE;
}

HrpcdXenDomains *hrpcd_xen_domains_new(const HrpcdXenCallbacks *cb, gpointer data,
				       GError **error)
{
	HrpcdXenDomains *x = g_new0(HrpcdXenDomains, 1);
	unsigned int len = 0;
	g_autofree char *self = NULL;

	x->cb = cb;
	x->data = data;
	x->doms = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	x->xs = xs_open(0);
	if (!x->xs) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "xen: cannot open xenstore: %s", g_strerror(errno));
		goto err;
	}
	x->xc = xc_interface_open(NULL, NULL, 0);
	if (!x->xc) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "xen: cannot open the hypervisor interface: %s", g_strerror(errno));
		goto err;
	}
	self = xs_read(x->xs, XBT_NULL, "domid", &len);
	if (!self || hrpc_xen_parse_u32(self, len, 0x7fef, &x->self) < 0)
		x->self = 0;
	if (!xs_watch(x->xs, "@introduceDomain", "hostrpc-intro") ||
	    !xs_watch(x->xs, "@releaseDomain", "hostrpc-release")) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "xen: cannot watch for domains: %s", g_strerror(errno));
		goto err;
	}
	x->src = g_unix_fd_source_new(xs_fileno(x->xs), G_IO_IN);
	g_source_set_callback(x->src, G_SOURCE_FUNC(xs_event), x, NULL);
	g_source_attach(x->src, g_main_context_get_thread_default());
	g_message("xen: serving domains from domain %u", x->self);
	/* The watches fire once when set: the first scan comes from there. */
	return x;

err:
	hrpcd_xen_domains_free(x);
	return NULL;
}

void hrpcd_xen_domains_connected(HrpcdXenDomains *x, guint32 domid)
{
	XenDom *d = x ? g_hash_table_lookup(x->doms, GUINT_TO_POINTER(domid)) : NULL;

	if (d && d->live)
		be_state(x, d, HRPC_XB_CONNECTED);
}

void hrpcd_xen_domains_failed(HrpcdXenDomains *x, guint32 domid, const char *why)
{
	XenDom *d = x ? g_hash_table_lookup(x->doms, GUINT_TO_POINTER(domid)) : NULL;

	if (!d)
		return;
	d->live = FALSE;
	fe_refuse(x, d, why);
}

void hrpcd_xen_domains_free(HrpcdXenDomains *x)
{
	GHashTableIter it;
	gpointer k, v;

	if (!x)
		return;
	if (x->src) {
		g_source_destroy(x->src);
		g_source_unref(x->src);
	}
	g_hash_table_iter_init(&it, x->doms);
	while (g_hash_table_iter_next(&it, &k, &v))
		dom_free(x, v, TRUE);
	g_hash_table_destroy(x->doms);
	if (x->xc)
		xc_interface_close(x->xc);
	if (x->xs)
		xs_close(x->xs);
	g_free(x);
}
