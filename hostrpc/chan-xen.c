/* SPDX-License-Identifier: MIT */
/*
 * chan-xen.c - the Xen transport, dom0 side: a shm channel (chan-shm.c) on
 * the pages a domU granted us, with an interdomain event channel as the
 * doorbell.  The xenbus handshake that brings the grant references and the
 * port is include/hostrpc/xen.h; hostrpcd's supervisor reads and checks it,
 * the guest's worker calls hrpc_xen_chan_new().
 *
 * The grant directory pages are guest memory: each is copied once into a
 * private array and unmapped before any reference in it is used.  A
 * reference the hypervisor refuses to map (not granted, granted to another
 * domain, read-only) fails the set-up with the errno of the map.
 *
 * The mapping and both library handles belong to the channel from a
 * successful return on; hrpc_chan_free() unmaps (dom0 lets go of the
 * domU's pages) and closes them.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hostrpc/chan.h"
#include "hostrpc/xen.h"

_Static_assert(sizeof(((struct hrpc_xen_chan_spec *)0)->dir_refs) ==
	       HRPC_XEN_MAX_DIRS * sizeof(uint32_t), "one reference per directory page");

#ifdef HAVE_XEN
#include <xenevtchn.h>
#include <xengnttab.h>

struct xen_bell {
	xengnttab_handle *gnt;
	xenevtchn_handle *evt;
	evtchn_port_t local;
	void *map;
	uint32_t nr_pages;
};

static int xen_kick(void *arg)
{
	struct xen_bell *b = arg;

	return xenevtchn_notify(b->evt, b->local) < 0 ? -errno : 0;
}

/* The kernel masks a port when it delivers it: read the pending port and
 * unmask it, or the next notification never comes.  The handle has this
 * one port, and a masked port is delivered once: one read does (each
 * syscall is a round through Xen in a PV dom0). */
static void xen_ack(void *arg)
{
	struct xen_bell *b = arg;
	xenevtchn_port_or_error_t p = xenevtchn_pending(b->evt);

	if (p >= 0)
		xenevtchn_unmask(b->evt, (evtchn_port_t)p);
}

static void xen_fini(void *arg)
{
	struct xen_bell *b = arg;

	if (b->map)
		xengnttab_unmap(b->gnt, b->map, b->nr_pages);
	if (b->evt) {
		xenevtchn_unbind(b->evt, b->local);
		xenevtchn_close(b->evt);
	}
	if (b->gnt)
		xengnttab_close(b->gnt);
	free(b);
}

/* Copy the channel's grant references out of the guest's directory pages. */
static int read_dirs(xengnttab_handle *gnt, const struct hrpc_xen_chan_spec *sp,
		     uint32_t *refs)
{
	uint32_t ndirs = HRPC_XEN_DIRS(sp->nr_pages), dir[HRPC_XEN_MAX_DIRS];
	uint8_t *m;

	memcpy(dir, sp->dir_refs, ndirs * sizeof(dir[0]));
	m = xengnttab_map_domain_grant_refs(gnt, ndirs, sp->domid, dir, PROT_READ);
	if (!m)
		return -errno;
	memcpy(refs, m, (size_t)sp->nr_pages * sizeof(*refs));
	xengnttab_unmap(gnt, m, ndirs);
	for (uint32_t i = 0; i < sp->nr_pages; i++)
		refs[i] = le32toh(refs[i]);
	return 0;
}

int hrpc_xen_chan_new(const struct hrpc_xen_chan_spec *sp, hrpc_chan **out)
{
	struct xen_bell *b;
	struct hrpc_shm_bell bell;
	uint32_t *refs = NULL;
	xenevtchn_port_or_error_t local;
	int rc, fd, fl;

	if (!sp || !out || !sp->domid || sp->domid >= 0x7ff0 ||
	    sp->nr_pages < HRPC_XEN_MIN_PAGES || sp->nr_pages > HRPC_XEN_MAX_PAGES)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	refs = calloc(HRPC_XEN_DIRS(sp->nr_pages) * HRPC_XEN_REFS_PER_DIR, sizeof(*refs));
	if (!b || !refs) {
		rc = -ENOMEM;
		goto err;
	}
	b->nr_pages = sp->nr_pages;
	b->gnt = xengnttab_open(NULL, 0);
	b->evt = xenevtchn_open(NULL, 0);
	if (!b->gnt || !b->evt) {
		rc = errno ? -errno : -ENODEV;
		goto err;
	}
	rc = read_dirs(b->gnt, sp, refs);
	if (rc < 0)
		goto err;
	b->map = xengnttab_map_domain_grant_refs(b->gnt, sp->nr_pages, sp->domid, refs,
						 PROT_READ | PROT_WRITE);
	if (!b->map) {
		rc = -errno;
		goto err;
	}
	local = xenevtchn_bind_interdomain(b->evt, sp->domid, sp->port);
	if (local < 0) {
		rc = -errno;
		goto err;
	}
	b->local = (evtchn_port_t)local;
	fd = xenevtchn_fd(b->evt);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		rc = -errno;
		goto err_unbind;
	}
	bell = (struct hrpc_shm_bell){ .kick = xen_kick, .ack = xen_ack, .fini = xen_fini, .arg = b };
	rc = hrpc_shm_chan_new_bell(HRPC_ROLE_SERVER, b->map,
				    (size_t)sp->nr_pages * HRPC_XEN_PAGE, &bell, fd, false, out);
	if (rc < 0)
		goto err_unbind;
	free(refs);
	return 0;

err_unbind:
	xenevtchn_unbind(b->evt, b->local);
err:
	if (b && b->map)
		xengnttab_unmap(b->gnt, b->map, sp->nr_pages);
	if (b && b->evt)
		xenevtchn_close(b->evt);
	if (b && b->gnt)
		xengnttab_close(b->gnt);
	free(b);
	free(refs);
	return rc;
}

#else /* !HAVE_XEN */

int hrpc_xen_chan_new(const struct hrpc_xen_chan_spec *sp, hrpc_chan **out)
{
	(void)sp;
	(void)out;
	return -EOPNOTSUPP;
}

#endif
