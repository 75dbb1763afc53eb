/* SPDX-License-Identifier: MIT */
/* policy.c - parse and apply a guest's socket policy (see policy.h). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outsource/sock/policy.h"

#define MAX_POLICY_BYTES (1u << 20)
#define MAX_RULES 4096

/*
 * What the host keeps from every guest unless its policy says otherwise
 * (README.md, "Policy").  A socket guest runs in a root worker in the
 * host's network namespace: without these it could serve DHCP or DNS on
 * the host's LAN, or reach services that trust the host's own addresses
 * (127.0.0.1, the host's LAN address) or the cloud metadata service.
 */
const char SOCK_POLICY_BUILTIN[] =
	"connect deny loopback      # 0.0.0.0 and :: connect to loopback too\n"
	"connect deny unspecified   # 0.0.0.0/8\n"
	"connect deny link-local    # 169.254.169.254 (metadata), fe80::/10\n"
	"connect deny fd00:ec2::254 # the IPv6 metadata service of EC2\n"
	"connect deny multicast\n"
	"connect deny broadcast\n"
	"connect deny host          # the host's own addresses\n"
	"bind deny any 1-1023       # no DHCP, DNS, SSH... server on the host\n"
	"bind deny multicast\n"
	"bind deny broadcast\n";

void sock_policy_init(struct sock_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->max_sockets = 1024;
	p->default_allow[SOCK_POLICY_CONNECT] = true;
	p->default_allow[SOCK_POLICY_BIND] = true;
	snprintf(p->source, sizeof(p->source), "built-in default (no policy file)");
}

void sock_policy_clear(struct sock_policy *p)
{
	free(p->rules);
	free(p->xlat);
	sock_policy_init(p);
}

__attribute__((format(printf, 4, 5)))
static int bad(char *err, size_t errlen, unsigned int line, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "line %u: %s", line, why);
	return -EINVAL;
}

static int parse_net(struct sock_policy_rule *r, const char *s)
{
	char buf[64];
	const char *slash;
	unsigned long plen;
	int maxlen;

	if (!strcmp(s, "any")) {
		r->family = 0;
		r->plen = 0;
		return 0;
	}
	slash = strchr(s, '/');
	if (slash ? (size_t)(slash - s) >= sizeof(buf) : strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (inet_pton(AF_INET, buf, r->addr) == 1) {
		r->family = AF_INET;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
		r->family = AF_INET6;
		maxlen = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		char *end;

		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		plen = strtoul(slash + 1, &end, 10);
		if (*end || plen > (unsigned long)maxlen)
			return -EINVAL;
	} else {
		plen = (unsigned long)maxlen;
	}
	r->plen = (uint8_t)plen;
	return 0;
}

/* Named address classes: one rule per prefix, labelled with the name. */
static const struct {
	const char *name;
	const char *nets[2];
} classes[] = {
	{ "loopback", { "127.0.0.0/8", "::1" } },
	{ "unspecified", { "0.0.0.0/8", "::" } },
	{ "link-local", { "169.254.0.0/16", "fe80::/10" } },
	{ "multicast", { "224.0.0.0/4", "ff00::/8" } },
	{ "broadcast", { "255.255.255.255" } },
};

static int parse_port(const char *s, const char **end, uint16_t *out)
{
	char *e;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	v = strtoul(s, &e, 10);
	if (v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	*end = e;
	return 0;
}

static int parse_ports(struct sock_policy_rule *r, const char *s)
{
	if (!s || !strcmp(s, "*")) {
		r->nranges = 0;
		return 0;
	}
	for (;;) {
		struct sock_policy_range *rg;
		const char *e;

		if (r->nranges == SOCK_POLICY_MAX_RANGES)
			return -E2BIG;
		rg = &r->ranges[r->nranges++];
		if (parse_port(s, &e, &rg->lo) < 0)
			return -EINVAL;
		rg->hi = rg->lo;
		if (*e == '-' && (parse_port(e + 1, &e, &rg->hi) < 0 || rg->hi < rg->lo))
			return -EINVAL;
		if (!*e)
			return 0;
		if (*e != ',')
			return -EINVAL;
		s = e + 1;
	}
}

static int parse_dir(const char *s)
{
	if (!strcmp(s, "connect"))
		return SOCK_POLICY_CONNECT;
	if (!strcmp(s, "bind"))
		return SOCK_POLICY_BIND;
	return -1;
}

static int parse_action(const char *s)
{
	if (!strcmp(s, "allow"))
		return 1;
	if (!strcmp(s, "deny"))
		return 0;
	return -1;
}

static int parse(struct sock_policy *p, const char *text, bool builtin, char *err, size_t errlen)
{
	unsigned int lineno = 0;
	const char *pos = text;

	/* A policy's own rules come before the built-in ones. */
	if (!builtin && p->nbuiltin)
		return -EINVAL;
	while (*pos) {
		char line[512], *w[6], *save = NULL, *hash;
		size_t n = strcspn(pos, "\n");
		int nw = 0, dir, act;
		struct sock_policy_rule *nr;

		lineno++;
		if (n >= sizeof(line))
			return bad(err, errlen, lineno, "line too long");
		memcpy(line, pos, n);
		line[n] = 0;
		pos += n + (pos[n] == '\n');
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
			if (nw == 5)
				return bad(err, errlen, lineno, "too many words");
			w[nw++] = t;
		}
		if (!nw)
			continue;
		if (!strcmp(w[0], "identity")) {
			if (nw != 2 || !w[1][0] || strlen(w[1]) >= sizeof(p->identity) ||
			    strchr(w[1], '/'))
				return bad(err, errlen, lineno, "identity wants one interface name");
			snprintf(p->identity, sizeof(p->identity), "%s", w[1]);
			continue;
		}
		if (!strcmp(w[0], "netns")) {
			if (nw != 2 || w[1][0] != '/' || strlen(w[1]) >= sizeof(p->netns))
				return bad(err, errlen, lineno, "netns wants one absolute path");
			snprintf(p->netns, sizeof(p->netns), "%s", w[1]);
		} else if (!strcmp(w[0], "max-sockets")) {
			char *e;
			unsigned long v = nw == 2 ? strtoul(w[1], &e, 10) : 0;

			if (nw != 2 || *e || v < 1 || v > 65536)
				return bad(err, errlen, lineno, "max-sockets wants 1..65536");
			p->max_sockets = (uint32_t)v;
		} else if (!strcmp(w[0], "default")) {
			if (nw != 3 || (dir = parse_dir(w[1])) < 0 || (act = parse_action(w[2])) < 0)
				return bad(err, errlen, lineno, "usage: default connect|bind allow|deny");
			p->default_allow[dir] = act;
		} else if (!strcmp(w[0], "translate") && !builtin) {
			struct sock_xlat_rule xr, *nx;
			char why[160];

			if (sock_xlat_parse((const char *const *)w + 1, nw - 1, &xr, why, sizeof(why)) < 0 ||
			    sock_xlat_check(p->xlat, p->nxlat, &xr, why, sizeof(why)) < 0)
				return bad(err, errlen, lineno, "%s", why);
			xr.line = lineno;
			nx = realloc(p->xlat, (p->nxlat + 1) * sizeof(*nx));
			if (!nx)
				return -ENOMEM;
			p->xlat = nx;
			p->xlat[p->nxlat++] = xr;
		} else if ((dir = parse_dir(w[0])) >= 0) {
			struct sock_policy_rule r = { .dir = (uint8_t)dir, .builtin = builtin };
			const char *const *nets = (const char *const[]){ w[2], NULL };
			size_t nnets = 1;

			if (nw < 3 || nw > 4 || (act = parse_action(w[1])) < 0)
				return bad(err, errlen, lineno, "usage: %s allow|deny NET [PORTS]", w[0]);
			r.allow = act;
			if (parse_ports(&r, nw == 4 ? w[3] : NULL) < 0)
				return bad(err, errlen, lineno, "bad port list '%s'", w[3]);
			for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++)
				if (!strcmp(w[2], classes[c].name)) {
					r.cls = classes[c].name;
					nets = classes[c].nets;
					nnets = classes[c].nets[1] ? 2 : 1;
				}
			if (!strcmp(w[2], "host")) {
				r.cls = "host";
				r.host = true;
				nnets = 1;
			}
			for (size_t k = 0; k < nnets; k++) {
				if (!r.host && parse_net(&r, nets[k]) < 0)
					return bad(err, errlen, lineno, "bad address or prefix '%s'", w[2]);
				if (!builtin && p->nrules - p->nbuiltin >= MAX_RULES)
					return bad(err, errlen, lineno, "more than %d rules", MAX_RULES);
				nr = realloc(p->rules, (p->nrules + 1) * sizeof(*nr));
				if (!nr)
					return -ENOMEM;
				p->rules = nr;
				p->rules[p->nrules++] = r;
				if (builtin)
					p->nbuiltin++;
			}
		} else {
			return bad(err, errlen, lineno, "unknown directive '%s'", w[0]);
		}
	}
	return 0;
}

int sock_policy_parse(struct sock_policy *p, const char *text, char *err, size_t errlen)
{
	return parse(p, text, false, err, errlen);
}

int sock_policy_add_builtin(struct sock_policy *p)
{
	char err[128];

	if (p->nbuiltin)
		return 0;
	return parse(p, SOCK_POLICY_BUILTIN, true, err, sizeof(err));
}

int sock_policy_load(struct sock_policy *p, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(MAX_POLICY_BYTES + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < MAX_POLICY_BYTES &&
	       (n = read(fd, buf + len, MAX_POLICY_BYTES - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = 0;
	rc = sock_policy_parse(p, buf, err, errlen);
	free(buf);
	if (!rc)
		snprintf(p->source, sizeof(p->source), "%s", path);
	return rc;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned int plen)
{
	unsigned int full = plen / 8, rest = plen % 8;

	if (memcmp(a, net, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		if ((a[full] & m) != (net[full] & m))
			return false;
	}
	return true;
}

static bool port_match(const struct sock_policy_rule *r, uint16_t port)
{
	if (!r->nranges)
		return true;
	for (unsigned int i = 0; i < r->nranges; i++)
		if (port >= r->ranges[i].lo && port <= r->ranges[i].hi)
			return true;
	return false;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int sock_addr_normalize(const struct sockaddr *sa, socklen_t len, enum sock_policy_dir dir,
			struct sock_addr_norm *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };

	memset(out, 0, sizeof(*out));
	if (len < sizeof(sa->sa_family))
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (len < sizeof(*in))
			return -EINVAL;
		out->family = AF_INET;
		memcpy(out->addr, &in->sin_addr, 4);
		out->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;

		if (len < sizeof(*in6))
			return -EINVAL;
		out->port = ntohs(in6->sin6_port);
		/*
		 * IPv4 in IPv6 clothing is checked as the IPv4 address: mapped
		 * (a dual-stack socket speaks IPv4 to it), compatible (sit
		 * tunnels carry it to the IPv4 address; :: and ::1 are not
		 * compatible addresses) and the NAT64 well-known prefix (a
		 * translator on the host's path turns it into IPv4).
		 */
		if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12) ||
		    (all_zero(a, 12) && !all_zero(a + 12, 3))) {
			out->family = AF_INET;
			memcpy(out->addr, a + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->addr, a, 16);
			/* Linux reads the scope id of link-scope addresses only. */
			if ((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff)
				out->scope_id = in6->sin6_scope_id;
		}
	} else {
		return -EAFNOSUPPORT;
	}
	/* connect/sendto to 0.0.0.0 or :: reach this host's loopback (Linux
	 * picks 127.0.0.1 / ::1, or the socket's own bound address). */
	if (dir == SOCK_POLICY_CONNECT && all_zero(out->addr, out->family == AF_INET ? 4 : 16)) {
		if (out->family == AF_INET) {
			out->addr[0] = 127;
			out->addr[3] = 1;
		} else {
			out->addr[15] = 1;
		}
	}
	return 0;
}

bool sock_policy_allows(const struct sock_policy *p, enum sock_policy_dir dir,
			const struct sock_addr_norm *a, sock_policy_host_fn host, void *ctx)
{
	int is_host = -1; /* not asked yet */

	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct sock_policy_rule *r = &p->rules[i];

		if (r->dir != dir || !port_match(r, a->port))
			continue;
		if (r->host) {
			if (is_host < 0)
				is_host = host ? host(ctx, a) : -EOPNOTSUPP;
			if (is_host < 0)
				return false; /* cannot tell: fail closed */
			if (!is_host)
				continue;
			return r->allow;
		}
		if (r->family && r->family != a->family)
			continue;
		if (r->family && !prefix_match(a->addr, r->addr, r->plen))
			continue;
		return r->allow;
	}
	return p->default_allow[dir];
}

static void format_net(const struct sock_policy_rule *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (r->host)
		snprintf(buf, len, "host");
	else if (!r->family)
		snprintf(buf, len, "any");
	else
		snprintf(buf, len, "%s/%u", inet_ntop(r->family, r->addr, a, sizeof(a)) ?: "?",
			 r->plen);
}

static void format_ports(const struct sock_policy_rule *r, char *buf, size_t len)
{
	size_t off = 0;

	snprintf(buf, len, "*");
	for (unsigned int i = 0; i < r->nranges && off < len; i++) {
		int n = r->ranges[i].lo == r->ranges[i].hi ?
			snprintf(buf + off, len - off, "%s%u", i ? "," : "", r->ranges[i].lo) :
			snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "", r->ranges[i].lo,
				 r->ranges[i].hi);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* A JSON string from host-made text (a path: quotes and controls escaped). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void sock_policy_print(const struct sock_policy *p, FILE *f, bool json)
{
	static const char *const dirs[] = { "connect", "bind" };
	char net[64], ports[128];

	if (json) {
		fprintf(f, "{\"source\":");
		json_str(f, p->source);
		fprintf(f, ",\"netns\":");
		json_str(f, p->netns);
		fprintf(f, ",\"max_sockets\":%u,\"rules\":[", (unsigned int)p->max_sockets);
	} else {
		fprintf(f, "POLICY %s\n", p->source);
		fprintf(f, "  netns %s, max-sockets %u; first match wins:\n",
			p->netns[0] ? p->netns : "- (the worker's)", (unsigned int)p->max_sockets);
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct sock_policy_rule *r = &p->rules[i];
		const char *origin = r->builtin ? "built-in" : "policy";
		const char *cls = r->host ? NULL : r->cls; /* `host` says it already */

		format_net(r, net, sizeof(net));
		format_ports(r, ports, sizeof(ports));
		if (json)
			fprintf(f, "%s{\"dir\":\"%s\",\"action\":\"%s\",\"net\":\"%s\",\"ports\":\"%s\","
				"\"class\":\"%s\",\"origin\":\"%s\"}", i ? "," : "", dirs[r->dir],
				r->allow ? "allow" : "deny", net, ports, r->cls ? r->cls : "", origin);
		else
			fprintf(f, "  %-7s %-5s %-24s %-16s %s%s%s%s\n", dirs[r->dir],
				r->allow ? "allow" : "deny", net, ports, origin, cls ? " (" : "",
				cls ? cls : "", cls ? ")" : "");
	}
	if (json) {
		fprintf(f, "],\"default\":{\"connect\":\"%s\",\"bind\":\"%s\"},\"translate\":[",
			p->default_allow[0] ? "allow" : "deny", p->default_allow[1] ? "allow" : "deny");
	} else {
		for (int d = 0; d < 2; d++)
			fprintf(f, "  %-7s %-5s %-24s %-16s default\n", dirs[d],
				p->default_allow[d] ? "allow" : "deny", "any", "*");
	}
	/* Translation happens before the rules above see an address. */
	for (size_t i = 0; i < p->nxlat; i++) {
		const struct sock_xlat_rule *x = &p->xlat[i];
		char rule[128];

		sock_xlat_format(x, rule, sizeof(rule));
		if (json)
			fprintf(f, "%s{\"rule\":\"%s\",\"name\":\"%s\",\"line\":%u}", i ? "," : "",
				rule, x->name ? x->name : "", x->line);
		else
			fprintf(f, "  translate %-44s policy line %u%s%s%s\n", rule, x->line,
				x->name ? " (" : "", x->name ? x->name : "", x->name ? ")" : "");
	}
	if (json)
		fprintf(f, "]}");
}
