/* SPDX-License-Identifier: MIT */
/*
 * xen-fe.h - the checks of what a domU's frontend writes to xenstore for
 * the Xen transport's handshake (include/hostrpc/xen.h), apart from
 * xenstore itself: xen-domains.c reads the keys and calls these, the
 * worker parses what its supervisor passed on, and tests/fuzz/fuzz-xen.c
 * calls the same functions with hostile values and no libxen.
 *
 * Everything here is the guest's (untrusted) bytes.  Error convention:
 * NULL or a reason (fe_check), TRUE/FALSE (the others).
 */
#ifndef HOSTRPCD_XEN_FE_H
#define HOSTRPCD_XEN_FE_H

#include <glib.h>

#include "hostrpc/hostrpc.h"

/* Read frontend key `key` as a number <= max into *out: 0, -ENOENT (no
 * such key), or hrpc_xen_parse_u32()'s error. */
typedef int (*HrpcdXenFeRead)(void *arg, const char *key, guint32 max, guint32 *out);

/* Frontend Initialised: its version, nr-pages, directory page refs and
 * event channels.  NULL: spec->nr_pages, dir_refs and port and
 * *reset_port are set; else why the backend refuses it. */
const char *hrpcd_xen_fe_check(HrpcdXenFeRead read, void *arg, struct hrpc_xen_chan_spec *spec,
			       guint32 *reset_port);

/* The domain's name as xenstore has it (`v`, `len` bytes, not
 * NUL-terminated) if it is a usable guest name as it stands, else
 * "xen-dom<domid>": into name (size bytes). */
void hrpcd_xen_dom_name(const char *v, unsigned int len, guint32 domid, char *name, gsize size);

/* The worker's side: "ref,ref,..." as its supervisor passed the checked
 * directory refs on, for a channel of nr_pages pages: exactly
 * HRPC_XEN_DIRS(nr_pages) numbers into refs (HRPC_XEN_MAX_DIRS of them). */
gboolean hrpcd_xen_dirs_parse(const char *list, guint32 nr_pages, guint32 *refs);

#endif /* HOSTRPCD_XEN_FE_H */
