/* SPDX-License-Identifier: MIT */
/*
 * xen.h - the Xen transport's xenbus handshake: the xenstore keys the
 * guest's frontend (drivers-frontend/core/xen.c) and hostrpcd in dom0
 * (hostrpc/daemon/xen-domains.c, hostrpc/chan-xen.c) write, and the limits
 * both sides check.  The ring protocol on the shared pages is ring.h, as on
 * ivshmem; only how the memory is shared and how doorbells ring differ.
 *
 * Device type "hostrpc", one device per domain (index 0):
 *   frontend dir  /local/domain/<domU>/device/hostrpc/0   (owned by domU)
 *   backend dir   /local/domain/<dom0>/backend/hostrpc/<domU>/0
 * hostrpcd creates both (there is no toolstack support for the device type)
 * when it learns a domain, the usual way: frontend gets backend/backend-id/
 * state=1, backend gets frontend/frontend-id/online/state.
 *
 * Backend writes (before InitWait):
 *   HRPC_XS_VERSIONS    "1"       xenbus handshake revisions it speaks,
 *                                 comma-separated
 *   HRPC_XS_MAX_PAGES   "<n>"     most shared pages it maps
 * Frontend writes (then Initialised):
 *   HRPC_XS_VERSION     "1"       the revision it chose
 *   HRPC_XS_NR_PAGES    "<n>"     pages of the channel, HRPC_XEN_MIN_PAGES..max
 *   HRPC_XS_DIR_REF "%u" "<gref>" for i < ceil(n / HRPC_XEN_REFS_PER_DIR): a
 *                                 granted page holding the next
 *                                 HRPC_XEN_REFS_PER_DIR grant refs (le32) of
 *                                 the channel pages, in order
 *   HRPC_XS_EVTCHN      "<port>"  unbound port for dom0: "look at your rings"
 *   HRPC_XS_EVTCHN_RESET "<port>" unbound port for dom0: to the guest "the
 *                                 channel was (re)laid out", to the host
 *                                 "reset request" (docs/protocol.md 3.3)
 * Backend, having mapped the pages, bound both ports and laid out the
 * channel (host_state READY): Connected.  Frontend: attaches as on
 * ivshmem, then Connected.  Frontend Closing: backend stops using the pages
 * and answers Closing (a domU shutting down waits for it); frontend Closed:
 * backend Closed; frontend Initialising again (a new driver): backend
 * InitWait, and the frontend grants fresh pages.  Backend Closing or Closed,
 * or its directory gone (hostrpcd stopped): the frontend tears down and
 * writes Closed; a backend back in InitWait gets a new connection.
 * Binding an interdomain port marks the binder's end pending once: neither
 * side takes that first event for a request.
 *
 * Everything in the frontend directory and the directory pages is written
 * by the guest: hostrpcd parses it once, with hrpc_xen_parse_*() below.
 */
#ifndef HOSTRPC_XEN_H
#define HOSTRPC_XEN_H

#include "hostrpc/ring.h"

#define HRPC_XEN_DEVTYPE          "hostrpc"
#define HRPC_XEN_HANDSHAKE_VERSION 1u

#define HRPC_XS_VERSIONS          "versions"
#define HRPC_XS_MAX_PAGES         "max-pages"
#define HRPC_XS_VERSION           "version"
#define HRPC_XS_NR_PAGES          "nr-pages"
#define HRPC_XS_DIR_REF           "page-dir-ref-"   /* + index */
#define HRPC_XS_EVTCHN            "event-channel"
#define HRPC_XS_EVTCHN_RESET      "event-channel-reset"

#define HRPC_XEN_PAGE             4096u
#define HRPC_XEN_REFS_PER_DIR     (HRPC_XEN_PAGE / 4u)
/* 1 MiB: the header page, the two rings hostrpcd lays out
 * (HRPC_RING_DEFAULT_SIZE each) and some data. */
#define HRPC_XEN_MIN_PAGES        256u
/* 16 MiB: four directory pages. */
#define HRPC_XEN_MAX_PAGES        4096u
#define HRPC_XEN_MAX_DIRS         (HRPC_XEN_MAX_PAGES / HRPC_XEN_REFS_PER_DIR)
/* What the guest module asks for by default: the ivshmem default size. */
#define HRPC_XEN_DEFAULT_PAGES    2048u

#define HRPC_XEN_DIRS(n) (((n) + HRPC_XEN_REFS_PER_DIR - 1) / HRPC_XEN_REFS_PER_DIR)

_Static_assert(HRPC_XEN_PAGE == HRPC_SHM_PAGE, "a grant is one channel page");
_Static_assert(HRPC_XEN_MAX_PAGES % HRPC_XEN_REFS_PER_DIR == 0, "whole directory pages");
_Static_assert((unsigned long long)HRPC_XEN_MAX_PAGES * HRPC_XEN_PAGE <= 0xffffffffull,
	       "shm_size fits the header's u32 offsets");

/* xenbus states (xen/io/xenbus.h), so that dom0 code needs no kernel header. */
enum hrpc_xenbus_state {
	HRPC_XB_UNKNOWN = 0,
	HRPC_XB_INITIALISING = 1,
	HRPC_XB_INITWAIT = 2,
	HRPC_XB_INITIALISED = 3,
	HRPC_XB_CONNECTED = 4,
	HRPC_XB_CLOSING = 5,
	HRPC_XB_CLOSED = 6,
	HRPC_XB_RECONFIGURING = 7,
	HRPC_XB_RECONFIGURED = 8,
};

#ifndef __KERNEL__
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>

/*
 * A xenstore value that must be a decimal unsigned number <= max: no sign,
 * no spaces, no leading zeros but "0", no trailing bytes.  `len` is the
 * length xs_read() reported (values are not NUL-terminated on the wire).
 */
static inline int hrpc_xen_parse_u32(const char *v, unsigned int len, uint32_t max,
				     uint32_t *out)
{
	uint64_t n = 0;
	unsigned int i;

	if (!v || !len || len > 10 || (len > 1 && v[0] == '0'))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > max)
		return -ERANGE;
	*out = (uint32_t)n;
	return 0;
}
#endif

#endif /* HOSTRPC_XEN_H */
