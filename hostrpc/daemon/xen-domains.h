/* SPDX-License-Identifier: MIT */
/*
 * xen-domains.h - hostrpcd in dom0 (--xen): learns domains from xenstore
 * (@introduceDomain / @releaseDomain, then libxenctrl for which are alive),
 * gives each domU a "hostrpc" xenbus device (include/hostrpc/xen.h: it
 * writes the frontend and backend directories itself), follows the
 * frontend's state and, when the guest has granted its pages, hands the
 * checked handshake to the supervisor, which starts the guest's worker.
 *
 * Everything read from a domU's frontend directory is parsed once here
 * (hrpc_xen_parse_u32 and the limits of xen.h); a frontend that writes
 * nonsense gets its backend set to Closed with the reason in
 * "hostrpc-error" and a warning in the log, and nothing else happens - other
 * domains are not affected.
 *
 * Owner: the supervisor, from hrpcd_xen_domains_new() to _free().  The
 * callbacks run from the thread-default main context of _new().
 */
#ifndef HOSTRPCD_XEN_DOMAINS_H
#define HOSTRPCD_XEN_DOMAINS_H

#include <glib.h>

#include "hostrpc/hostrpc.h"

typedef struct _HrpcdXenDomains HrpcdXenDomains;

typedef struct {
	/* The frontend of `domid` is Initialised with a valid handshake: start
	 * its worker, then call hrpcd_xen_domains_connected() (or _failed()). */
	void (*ready)(guint32 domid, const char *name, const struct hrpc_xen_chan_spec *spec,
		      guint32 reset_port, gpointer data);
	/* The domain is gone or dying, or its frontend closed or restarted:
	 * stop its worker.  Called at most once per ready(). */
	void (*gone)(guint32 domid, const char *why, gpointer data);
} HrpcdXenCallbacks;

HrpcdXenDomains *hrpcd_xen_domains_new(const HrpcdXenCallbacks *cb, gpointer data,
				       GError **error);
/* The worker of `domid` is up: backend state Connected. */
void hrpcd_xen_domains_connected(HrpcdXenDomains *x, guint32 domid);
/* Its worker could not be started: backend Closed with `why`. */
void hrpcd_xen_domains_failed(HrpcdXenDomains *x, guint32 domid, const char *why);
/* Backend directories of the domains served now set to Closed. */
void hrpcd_xen_domains_free(HrpcdXenDomains *x);

#endif /* HOSTRPCD_XEN_DOMAINS_H */
