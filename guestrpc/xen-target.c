/* SPDX-License-Identifier: MIT */
/*
 * xen-target.c - parsing of Xen domain ids, names and channel paths for
 * Guest RPC over vchan (vchan.h).  Pure functions: what they parse comes
 * from users and from xenstore, where a guest may have written it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guestrpc/vchan.h"

int guestrpc_xen_parse_domid(const char *v, size_t len, uint32_t *domid)
{
	uint32_t n = 0;

	if (!v || !len || len > 5 || (len > 1 && v[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint32_t)(v[i] - '0');
	}
	if (n > GUESTRPC_XEN_DOMID_MAX)
		return -ERANGE;
	*domid = n;
	return 0;
}

int guestrpc_xen_parse_target(const char *spec, uint32_t *domid)
{
	size_t len, digits;

	if (!spec)
		return -EINVAL;
	len = strlen(spec);
	digits = strspn(spec, "0123456789");
	if (len && digits == len) {
		/* All digits is an id, never a name: "007" is refused rather
		 * than read as 7 or looked up as a name. */
		if (len > 1 && spec[0] == '0')
			return -EINVAL;
		if (len > 5)
			return -ERANGE;
		return guestrpc_xen_parse_domid(spec, len, domid) < 0 ? -ERANGE : 1;
	}
	if (!len || len > GUESTRPC_XEN_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)spec[i] < 0x21 || (unsigned char)spec[i] > 0x7e || spec[i] == '/')
			return -EINVAL;
	return 0;
}

int guestrpc_vchan_path(uint32_t domid, unsigned int index, char *buf, size_t size)
{
	int n;

	if (domid > GUESTRPC_XEN_DOMID_MAX || index >= GUESTRPC_VCHAN_MAX)
		return -EINVAL;
	n = snprintf(buf, size, "/local/domain/%u/" GUESTRPC_VCHAN_DIR "/%u", domid, index);
	/* libxenvchan formats "<path>/event-channel" into 64 bytes. */
	if (n < 0 || (size_t)n >= size || (size_t)n > 64 - sizeof("/event-channel"))
		return -ENAMETOOLONG;
	return 0;
}

int guestrpc_xen_pick_domain(const char *name, const struct guestrpc_xen_dom *doms,
			     unsigned int n, uint32_t *domid)
{
	size_t len = strlen(name);
	unsigned int found = 0;
	uint32_t id, pick = 0;

	for (unsigned int i = 0; i < n; i++) {
		const struct guestrpc_xen_dom *d = &doms[i];

		if (!d->id || !d->name || d->name_len != len || memcmp(d->name, name, len))
			continue;
		if (guestrpc_xen_parse_domid(d->id, strlen(d->id), &id) < 0)
			continue;
		pick = id;
		found++;
	}
	if (!found)
		return -ENOENT;
	if (found > 1)
		return -ENOTUNIQ;
	*domid = pick;
	return 0;
}
