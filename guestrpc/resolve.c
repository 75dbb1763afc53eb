/* SPDX-License-Identifier: MIT */
/*
 * resolve.c - a libvirt domain's Guest RPC channels: the unix socket paths
 * of its <channel type='unix'> devices whose virtio target is named
 * org.hostrpc.guest.N (virDomainGetXMLDesc, parsed with GMarkup).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#ifdef HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#endif

#include "guestrpc/session.h"

#define CHANNEL_PREFIX "org.hostrpc.guest."

struct parse {
	int depth_channel;      /* element depth of the open <channel>, 0 = none */
	int depth;
	bool in_devices;        /* inside /domain/devices */
	bool unix_type;
	char *source;
	char *target;
	GPtrArray *found;       /* "N\tpath" strings */
};

static const char *attr(const gchar **names, const gchar **values, const char *want)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], want))
			return values[i];
	return NULL;
}

static void start_el(GMarkupParseContext *ctx, const gchar *el, const gchar **names,
		     const gchar **values, gpointer data, GError **error)
{
	struct parse *p = data;
	const char *v;

	p->depth++;
	if (p->depth == 2)
		p->in_devices = !strcmp(el, "devices");
	if (!p->depth_channel) {
		/* Only the domain's own devices, not e.g. a <channel> in <metadata>. */
		if (!strcmp(el, "channel") && p->depth == 3 && p->in_devices) {
			p->depth_channel = p->depth;
			v = attr(names, values, "type");
			p->unix_type = v && !strcmp(v, "unix");
		}
		return;
	}
	if (p->depth != p->depth_channel + 1)
		return;
	if (!strcmp(el, "source") && (v = attr(names, values, "path"))) {
		g_free(p->source);
		p->source = g_strdup(v);
	} else if (!strcmp(el, "target") && (v = attr(names, values, "name"))) {
		g_free(p->target);
		p->target = g_strdup(v);
	}
}

static void end_el(GMarkupParseContext *ctx, const gchar *el, gpointer data, GError **error)
{
	struct parse *p = data;

	if (p->depth_channel && p->depth == p->depth_channel) {
		if (p->unix_type && p->source && p->target &&
		    !strncmp(p->target, CHANNEL_PREFIX, strlen(CHANNEL_PREFIX))) {
			char *end;
			unsigned long n = strtoul(p->target + strlen(CHANNEL_PREFIX), &end, 10);

			if (*end == 0 && end != p->target + strlen(CHANNEL_PREFIX) && n < 1000)
				g_ptr_array_add(p->found, g_strdup_printf("%03lu\t%s", n, p->source));
		}
		g_clear_pointer(&p->source, g_free);
		g_clear_pointer(&p->target, g_free);
		p->depth_channel = 0;
	}
	p->depth--;
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int guestrpc_channels_from_xml(const char *xml, char ***paths)
{
	static const GMarkupParser parser = { .start_element = start_el, .end_element = end_el };
	struct parse p = { .found = g_ptr_array_new_with_free_func(g_free) };
	GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
	gboolean ok;
	char **out;
	guint i;

	ok = g_markup_parse_context_parse(ctx, xml, -1, NULL) &&
	     g_markup_parse_context_end_parse(ctx, NULL);
	g_markup_parse_context_free(ctx);
	g_free(p.source);
	g_free(p.target);
	if (!ok) {
		g_ptr_array_free(p.found, TRUE);
		return -EINVAL;
	}
	g_ptr_array_sort(p.found, cmp_str);
	out = calloc(p.found->len + 1, sizeof(*out));
	if (!out) {
		g_ptr_array_free(p.found, TRUE);
		return -ENOMEM;
	}
	for (i = 0; i < p.found->len; i++)
		out[i] = strdup(strchr(g_ptr_array_index(p.found, i), '\t') + 1);
	g_ptr_array_free(p.found, TRUE);
	*paths = out;
	return (int)i;
}

#ifdef HAVE_LIBVIRT
static void quiet(void *opaque, virErrorPtr e)
{
}

int guestrpc_domain_channels(const char *domain, const char *uri, char ***paths, char **err)
{
	virConnectPtr conn;
	virDomainPtr dom;
	char *xml;
	int rc;

	virSetErrorFunc(NULL, quiet);
	if (!uri)
		uri = getenv("LIBVIRT_DEFAULT_URI");
	if (!uri)
		uri = "qemu:///system";
	conn = virConnectOpenReadOnly(uri);
	if (!conn) {
		if (err)
			*err = g_strdup_printf("cannot connect to libvirt at %s: %s", uri,
					       virGetLastErrorMessage());
		return -ECONNREFUSED;
	}
	dom = virDomainLookupByName(conn, domain);
	if (!dom)
		dom = virDomainLookupByUUIDString(conn, domain);
	if (!dom) {
		if (err)
			*err = g_strdup_printf("no libvirt domain %s at %s", domain, uri);
		virConnectClose(conn);
		return -ENOENT;
	}
	xml = virDomainGetXMLDesc(dom, 0);
	virDomainFree(dom);
	virConnectClose(conn);
	if (!xml) {
		if (err)
			*err = g_strdup_printf("domain %s: no XML: %s", domain, virGetLastErrorMessage());
		return -EIO;
	}
	rc = guestrpc_channels_from_xml(xml, paths);
	free(xml);
	if (rc < 0 && err)
		*err = g_strdup_printf("domain %s: cannot parse its XML", domain);
	return rc;
}
#else
int guestrpc_domain_channels(const char *domain, const char *uri, char ***paths, char **err)
{
	if (err)
		*err = g_strdup_printf("%s: not a socket path, and this build has no libvirt "
				       "support to resolve a domain (give the channel's socket path)",
				       domain);
	return -ENOTSUP;
}
#endif
