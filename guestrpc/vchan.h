/* SPDX-License-Identifier: MIT */
/*
 * vchan.h - Guest RPC on Xen: where a domU's agent publishes its channels,
 * and how the host tools in dom0 name a Xen domain.
 *
 * `guestrpcd --vchan` in domain D serves channels 0..N-1 (N: --vchan-channels,
 * default GUESTRPC_VCHAN_DEFAULT, at most GUESTRPC_VCHAN_MAX), channel i as
 * a libxenvchan server for the backend domain (dom0) published in the
 * xenstore directory
 *
 *     /local/domain/D/data/hostrpc-guestrpc/i      (ring-ref, event-channel)
 *
 * with vport framing on it (docs/protocol.md §4).  Like a virtio-serial port
 * org.hostrpc.guest.i, a channel serves one host at a time and a fresh
 * vchan (new tables) is made for the next one, so hostrpc-guestmount and
 * hostrpc-guest-exec can hold one each.  A host tool given DOMAIN
 * "xen:NAME" or "xen:ID" resolves the domain and tries the channels in
 * order (guestrpc/session.c).
 *
 * The functions here parse what users and xenstore say: pure, no xenstore,
 * unit-tested (tests/integration/guestsource/test-xen-target).  The lookups
 * that read xenstore are in xen-resolve.c (host side, Xen builds only).
 * Error convention: -errno.
 */
#ifndef GUESTRPC_VCHAN_H
#define GUESTRPC_VCHAN_H

#include <stddef.h>
#include <stdint.h>

#define GUESTRPC_XEN_PREFIX     "xen:"
/* Under /local/domain/<domid>/. */
#define GUESTRPC_VCHAN_DIR      "data/hostrpc-guestrpc"
#define GUESTRPC_VCHAN_MAX      8u
#define GUESTRPC_VCHAN_DEFAULT  2u
/* DOMID_FIRST_RESERVED - 1: ids above are DOMID_SELF, DOMID_IO, ... */
#define GUESTRPC_XEN_DOMID_MAX  0x7fefu
/* Longest domain name accepted (xl's names are far shorter). */
#define GUESTRPC_XEN_NAME_MAX   255u

/*
 * A domain id as a decimal string of `len` bytes (xenstore values are not
 * NUL-terminated): digits only, no sign, no spaces, no leading zero but in
 * "0", at most GUESTRPC_XEN_DOMID_MAX.  0, -EINVAL or -ERANGE.
 */
int guestrpc_xen_parse_domid(const char *v, size_t len, uint32_t *domid);

/*
 * What follows "xen:" in a DOMAIN argument.  All digits: a domain id,
 * returns 1 and sets *domid (-ERANGE if too large, -EINVAL for a leading
 * zero).  Otherwise a domain name: returns 0 if it is one a domain can
 * have (1..GUESTRPC_XEN_NAME_MAX bytes, printable ASCII but '/'),
 * else -EINVAL.
 */
int guestrpc_xen_parse_target(const char *spec, uint32_t *domid);

/* The xenstore directory of channel `index` of domain `domid` into buf
 * (short enough for libxenvchan).  0, -EINVAL, -ENAMETOOLONG. */
int guestrpc_vchan_path(uint32_t domid, unsigned int index, char *buf, size_t size);

/* One /local/domain entry: its name there (an id, as listed) and the value
 * of its "name" node (NULL if unreadable), `name_len` bytes. */
struct guestrpc_xen_dom {
	const char *id;
	const char *name;
	unsigned int name_len;
};

/*
 * The id of the domain called `name` among `n` entries: 0 and *domid, or
 * -ENOENT (none) or -ENOTUNIQ (several).  Entries whose id is not a valid
 * domain id are ignored.
 */
int guestrpc_xen_pick_domain(const char *name, const struct guestrpc_xen_dom *doms,
			     unsigned int n, uint32_t *domid);

/* ---- host side (xen-resolve.c, libguestrpc-client) ------------------------------ */

/*
 * Resolve what follows "xen:" to a guest domain's id through xenstore:
 * -ENOENT (no such domain), -EINVAL (a bad name or id, dom0, our own
 * domain), -ENOTUNIQ, -EACCES/-ENOENT when xenstore cannot be opened,
 * -ENOTSUP in a build without Xen.  *err (if given): a malloc'ed message.
 */
int guestrpc_xen_resolve(const char *spec, uint32_t *domid, char **err);

/*
 * The xenstore directories of the channels domain `domid` publishes now
 * (those with a well-formed ring-ref), in index order: the count and
 * *paths (a NULL-terminated malloc'ed array; free each, then it), or
 * -errno with *err.
 */
int guestrpc_xen_channels(uint32_t domid, char ***paths, char **err);

#endif
