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

void sock_policy_init(struct sock_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->max_sockets = 1024;
	p->default_allow[SOCK_POLICY_CONNECT] = true;
	p->default_allow[SOCK_POLICY_BIND] = true;
}

void sock_policy_clear(struct sock_policy *p)
{
	free(p->rules);
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

int sock_policy_parse(struct sock_policy *p, const char *text, char *err, size_t errlen)
{
	unsigned int lineno = 0;
	const char *pos = text;

	while (*pos) {
		char line[512], *w[6], *save = NULL, *hash;
		size_t n = strcspn(pos, "\n");
		int nw = 0, dir, act;

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
		} else if ((dir = parse_dir(w[0])) >= 0) {
			struct sock_policy_rule r = { .dir = (uint8_t)dir }, *nr;

			if (nw < 3 || nw > 4 || (act = parse_action(w[1])) < 0)
				return bad(err, errlen, lineno, "usage: %s allow|deny NET [PORTS]", w[0]);
			r.allow = act;
			if (parse_net(&r, w[2]) < 0)
				return bad(err, errlen, lineno, "bad address or prefix '%s'", w[2]);
			if (parse_ports(&r, nw == 4 ? w[3] : NULL) < 0)
				return bad(err, errlen, lineno, "bad port list '%s'", w[3]);
			if (p->nrules == MAX_RULES)
				return bad(err, errlen, lineno, "more than %d rules", MAX_RULES);
			nr = realloc(p->rules, (p->nrules + 1) * sizeof(*nr));
			if (!nr)
				return -ENOMEM;
			p->rules = nr;
			p->rules[p->nrules++] = r;
		} else {
			return bad(err, errlen, lineno, "unknown directive '%s'", w[0]);
		}
	}
	return 0;
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

bool sock_policy_allows(const struct sock_policy *p, enum sock_policy_dir dir,
			const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t addr[16];
	int family;
	uint16_t port;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		family = AF_INET;
		memcpy(addr, &in->sin_addr, 4);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		port = ntohs(in6->sin6_port);
		if (!memcmp(in6->sin6_addr.s6_addr, mapped, 12)) {
			family = AF_INET;
			memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			family = AF_INET6;
			memcpy(addr, in6->sin6_addr.s6_addr, 16);
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct sock_policy_rule *r = &p->rules[i];

		if (r->dir != dir)
			continue;
		if (r->family && r->family != family)
			continue;
		if (r->family && !prefix_match(addr, r->addr, r->plen))
			continue;
		if (!port_match(r, port))
			continue;
		return r->allow;
	}
	return p->default_allow[dir];
}
