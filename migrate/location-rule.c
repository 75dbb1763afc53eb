/* SPDX-License-Identifier: MIT */
/* location-rule.c - which connections stay at the source (location-rule.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/location-rule.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int port_parse(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535 || s[0] == '+' || s[0] == '-')
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int mig_loc_rule_parse(const char *spec, struct mig_loc_rule *r, char *err, size_t errlen)
{
	char buf[128], *addr = buf, *len = NULL, *port = NULL;
	int max;

	memset(r, 0, sizeof(*r));
	if (!strcmp(spec, "any") || !strcmp(spec, "loopback")) {
		r->kind = spec[0] == 'a' ? MIG_LOC_ANY : MIG_LOC_LOOPBACK;
		return 0;
	}
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	strcpy(buf, spec);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close)
			goto bad;
		*close = 0;
		addr = buf + 1;
		if (close[1] == '/') {
			len = close + 2;
			port = strchr(len, ':');
		} else if (close[1] == ':') {
			port = close + 1;
		} else if (close[1]) {
			goto bad;
		}
		if (port)
			*port++ = 0;
		r->family = HRPC_AF_INET6;
	} else {
		len = strchr(buf, '/');
		if (len)
			*len++ = 0;
		char *c1 = strchr(buf, ':');

		if (c1 && strchr(c1 + 1, ':')) {
			r->family = HRPC_AF_INET6;   /* a bare IPv6 address: no port */
		} else {
			r->family = HRPC_AF_INET;
			port = strchr(len ? len : buf, ':');
			if (port)
				*port++ = 0;
		}
	}
	if (inet_pton(r->family == HRPC_AF_INET ? AF_INET : AF_INET6, addr, r->addr) != 1)
		goto bad;
	max = r->family == HRPC_AF_INET ? 32 : 128;
	r->prefix = (uint8_t)max;
	if (len) {
		char *end;
		long v;

		errno = 0;
		v = strtol(len, &end, 10);
		if (!*len || *end || errno || v < 0 || v > max || len[0] == '+' || len[0] == '-')
			goto bad;
		r->prefix = (uint8_t)v;
	}
	if (port && port_parse(port, &r->port) < 0)
		goto bad;
	r->kind = MIG_LOC_ADDR;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not loopback, any, ADDR[/LEN][:PORT] or "
		 "[ADDR6][/LEN][:PORT]", spec);
	return -EINVAL;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes))
		return false;
	return !rest || ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* The peer as IPv4 (4 bytes) when it is IPv4 or IPv4-mapped. */
static const uint8_t *as_v4(const struct hrpc_sock_addr *p)
{
	if (p->family == HRPC_AF_INET)
		return p->addr;
	if (p->family == HRPC_AF_INET6 && !memcmp(p->addr, v4mapped, 12))
		return p->addr + 12;
	return NULL;
}

bool mig_loc_rule_match(const struct mig_loc_rule *r, const struct hrpc_sock_addr *peer)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	const uint8_t *v4 = as_v4(peer);

	switch (r->kind) {
	case MIG_LOC_ANY:
		return true;
	case MIG_LOC_LOOPBACK:
		return v4 ? v4[0] == 127 : peer->family == HRPC_AF_INET6 &&
						  !memcmp(peer->addr, lo6, 16);
	case MIG_LOC_ADDR:
		if (r->port && r->port != peer->port)
			return false;
		if (r->family == HRPC_AF_INET)
			return v4 && prefix_eq(v4, r->addr, r->prefix);
		return peer->family == HRPC_AF_INET6 && prefix_eq(peer->addr, r->addr, r->prefix);
	}
	return false;
}

bool mig_loc_forward(const struct mig_loc_rule *keep, unsigned nkeep,
		     const struct mig_loc_rule *fwd, unsigned nfwd,
		     const struct hrpc_sock_addr *peer)
{
	const struct mig_loc_rule lo = { .kind = MIG_LOC_LOOPBACK };

	for (unsigned i = 0; i < nkeep; i++)
		if (mig_loc_rule_match(&keep[i], peer))
			return false;
	for (unsigned i = 0; i < nfwd; i++)
		if (mig_loc_rule_match(&fwd[i], peer))
			return true;
	return mig_loc_rule_match(&lo, peer);
}
