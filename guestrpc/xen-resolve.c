/* SPDX-License-Identifier: MIT */
/*
 * xen-resolve.c - a Xen domain's Guest RPC channels, from xenstore
 * (vchan.h): the domain's id from "xen:NAME" (the /local/domain/<id>/name
 * nodes, which the toolstack writes) or "xen:ID", and the channel
 * directories its agent published.  A guest writes its own data/ tree:
 * what is read there is parsed (vchan.h), never used as it stands.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_XEN
#include <xenstore.h>
#endif

#include "guestrpc/vchan.h"

__attribute__((format(printf, 2, 3)))
static void set_err(char **err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

#ifdef HAVE_XEN
static struct xs_handle *xs_connect(const char *what, int *rc, char **err)
{
	struct xs_handle *xs = xs_open(0);

	if (!xs) {
		*rc = errno > 0 ? -errno : -EIO;
		set_err(err, "%s: cannot open xenstore: %s (the host tools run in dom0, as root)",
			what, strerror(-*rc));
	}
	return xs;
}

/* Our own domain's id (0 in dom0, also when xenstore does not say). */
static uint32_t own_domid(struct xs_handle *xs)
{
	unsigned int len = 0;
	char *v = xs_read(xs, XBT_NULL, "domid", &len);
	uint32_t id = 0;

	if (v && guestrpc_xen_parse_domid(v, len, &id) < 0)
		id = 0;
	free(v);
	return id;
}

static int lookup_name(struct xs_handle *xs, const char *name, uint32_t *domid)
{
	struct guestrpc_xen_dom *doms;
	unsigned int n = 0;
	char **ids;
	int rc;

	ids = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	if (!ids)
		return errno > 0 ? -errno : -EIO;
	doms = calloc(n ? n : 1, sizeof(*doms));
	if (!doms) {
		free(ids);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < n; i++) {
		char path[64];
		uint32_t id;

		doms[i].id = ids[i];
		if (guestrpc_xen_parse_domid(ids[i], strlen(ids[i]), &id) < 0)
			continue;
		snprintf(path, sizeof(path), "/local/domain/%u/name", id);
		doms[i].name = xs_read(xs, XBT_NULL, path, &doms[i].name_len);
	}
	rc = guestrpc_xen_pick_domain(name, doms, n, domid);
	for (unsigned int i = 0; i < n; i++)
		free((char *)doms[i].name);
	free(doms);
	free(ids);  /* one allocation: the array and its strings */
	return rc;
}

static bool domain_exists(struct xs_handle *xs, uint32_t domid)
{
	char path[64];
	unsigned int len;
	char *v;

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	v = xs_read(xs, XBT_NULL, path, &len);
	free(v);
	return v != NULL;
}

int guestrpc_xen_resolve(const char *spec, uint32_t *domid, char **err)
{
	char what[GUESTRPC_XEN_NAME_MAX + sizeof(GUESTRPC_XEN_PREFIX)];
	struct xs_handle *xs;
	uint32_t id = 0, self;
	int kind, rc = 0;

	if (err)
		*err = NULL;
	kind = guestrpc_xen_parse_target(spec, &id);
	if (kind == -ERANGE) {
		set_err(err, GUESTRPC_XEN_PREFIX "%s: not a domain id (0..%u)", spec,
			GUESTRPC_XEN_DOMID_MAX);
		return -EINVAL;
	}
	if (kind < 0) {
		set_err(err, GUESTRPC_XEN_PREFIX "%s: not a Xen domain name or id", spec);
		return -EINVAL;
	}
	if (kind == 1 && id == 0)
		goto dom0;
	snprintf(what, sizeof(what), GUESTRPC_XEN_PREFIX "%s", spec);
	xs = xs_connect(what, &rc, err);
	if (!xs)
		return rc;
	self = own_domid(xs);
	if (kind == 0) {
		rc = lookup_name(xs, spec, &id);
		if (rc == -ENOENT)
			set_err(err, GUESTRPC_XEN_PREFIX "%s: no Xen domain is named %s", spec, spec);
		else if (rc == -ENOTUNIQ)
			set_err(err, GUESTRPC_XEN_PREFIX "%s: several Xen domains are named %s: "
				"give the id (" GUESTRPC_XEN_PREFIX "ID)", spec, spec);
		else if (rc < 0)
			set_err(err, GUESTRPC_XEN_PREFIX "%s: cannot list /local/domain in xenstore: %s",
				spec, strerror(-rc));
	}
	if (rc == 0 && id == 0) {
		xs_close(xs);
		goto dom0;
	}
	if (rc == 0 && id == self) {
		set_err(err, GUESTRPC_XEN_PREFIX "%s: that is this domain (%u): give a guest domain",
			spec, self);
		rc = -EINVAL;
	} else if (rc == 0 && kind == 1 && !domain_exists(xs, id)) {
		set_err(err, GUESTRPC_XEN_PREFIX "%s: no Xen domain %u", spec, id);
		rc = -ENOENT;
	}
	xs_close(xs);
	if (rc == 0)
		*domid = id;
	return rc;
dom0:
	set_err(err, GUESTRPC_XEN_PREFIX "%s: that is dom0, where the host tools run: "
		"give a guest domain", spec);
	return -EINVAL;
}

/* A grant reference as libxenvchan reads it (atoi into an int): 1..INT_MAX. */
static bool ref_valid(const char *v, unsigned int len)
{
	uint64_t n = 0;

	if (!v || !len || len > 10 || v[0] == '0')
		return false;
	for (unsigned int i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	return n <= 0x7fffffff;
}

int guestrpc_xen_channels(uint32_t domid, char ***paths, char **err)
{
	char what[32];
	struct xs_handle *xs;
	char **out;
	int n = 0, rc = 0;

	if (err)
		*err = NULL;
	out = calloc(GUESTRPC_VCHAN_MAX + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	snprintf(what, sizeof(what), "domain %u", domid);
	xs = xs_connect(what, &rc, err);
	if (!xs) {
		free(out);
		return rc;
	}
	for (unsigned int i = 0; i < GUESTRPC_VCHAN_MAX; i++) {
		char dir[64], key[96];
		unsigned int len = 0;
		char *v;

		if (guestrpc_vchan_path(domid, i, dir, sizeof(dir)) < 0)
			break;
		snprintf(key, sizeof(key), "%s/ring-ref", dir);
		v = xs_read(xs, XBT_NULL, key, &len);
		if (ref_valid(v, len)) {
			out[n] = strdup(dir);
			if (!out[n]) {
				free(v);
				rc = -ENOMEM;
				break;
			}
			n++;
		}
		free(v);
	}
	xs_close(xs);
	if (rc < 0) {
		for (int i = 0; i < n; i++)
			free(out[i]);
		free(out);
		return rc;
	}
	*paths = out;
	return n;
}
#else
int guestrpc_xen_resolve(const char *spec, uint32_t *domid, char **err)
{
	if (err)
		*err = NULL;
	set_err(err, GUESTRPC_XEN_PREFIX "%s: this build has no Xen support (configure found no "
		"libxen-dev: xenstore, xenvchan, ...)", spec);
	return -ENOTSUP;
}

int guestrpc_xen_channels(uint32_t domid, char ***paths, char **err)
{
	if (err)
		*err = NULL;
	set_err(err, "this build has no Xen support");
	return -ENOTSUP;
}
#endif
