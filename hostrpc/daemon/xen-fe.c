/* SPDX-License-Identifier: MIT */
/* xen-fe.c - the checks of a Xen frontend's handshake values (xen-fe.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hostrpc/xen.h"
#include "hostrpc/daemon/guest-status.h"  /* hrpcd_name_sanitize */
#include "hostrpc/daemon/guest-table.h"   /* hrpcd_guest_name_is_default */
#include "hostrpc/daemon/xen-fe.h"

const char *hrpcd_xen_fe_check(HrpcdXenFeRead read, void *arg, struct hrpc_xen_chan_spec *spec,
			       guint32 *reset_port)
{
	guint32 version;
	char key[32];

	if (read(arg, HRPC_XS_VERSION, G_MAXUINT32, &version) < 0 ||
	    version != HRPC_XEN_HANDSHAKE_VERSION)
		return "no supported " HRPC_XS_VERSION;
	if (read(arg, HRPC_XS_NR_PAGES, HRPC_XEN_MAX_PAGES, &spec->nr_pages) < 0 ||
	    spec->nr_pages < HRPC_XEN_MIN_PAGES)
		return "bad " HRPC_XS_NR_PAGES;
	for (guint32 i = 0; i < HRPC_XEN_DIRS(spec->nr_pages); i++) {
		snprintf(key, sizeof(key), HRPC_XS_DIR_REF "%u", i);
		if (read(arg, key, G_MAXUINT32, &spec->dir_refs[i]) < 0)
			return "bad " HRPC_XS_DIR_REF "N";
	}
	if (read(arg, HRPC_XS_EVTCHN, G_MAXUINT32, &spec->port) < 0 || !spec->port ||
	    read(arg, HRPC_XS_EVTCHN_RESET, G_MAXUINT32, reset_port) < 0 || !*reset_port ||
	    *reset_port == spec->port)
		return "bad event channels";
	return NULL;
}

void hrpcd_xen_dom_name(const char *v, unsigned int len, guint32 domid, char *name, gsize size)
{
	char raw[64];

	if (v && len && len < sizeof(raw)) {
		memcpy(raw, v, len);
		raw[len] = 0;
		if (hrpcd_name_sanitize(raw, name, size) && !strcmp(raw, name) &&
		    !hrpcd_guest_name_is_default(name))
			return;
	}
	snprintf(name, size, "xen-dom%u", domid);
}

gboolean hrpcd_xen_dirs_parse(const char *list, guint32 nr_pages, guint32 *refs)
{
	g_auto(GStrv) dirs = list ? g_strsplit(list, ",", HRPC_XEN_MAX_DIRS + 1) : NULL;
	gboolean ok;

	ok = dirs && g_strv_length(dirs) == HRPC_XEN_DIRS(nr_pages) &&
	     nr_pages >= HRPC_XEN_MIN_PAGES;
	for (guint i = 0; ok && dirs[i]; i++)
		ok = hrpc_xen_parse_u32(dirs[i], (unsigned int)strlen(dirs[i]), G_MAXUINT32,
					&refs[i]) == 0;
	return ok;
}
