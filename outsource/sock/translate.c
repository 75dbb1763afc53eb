/* SPDX-License-Identifier: MIT */
/* translate.c - IPv4/IPv6 translation of a guest's socket addresses (see translate.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "outsource/sock/translate.h"

static const uint8_t mapped_pfx[16] = { [10] = 0xff, [11] = 0xff };
static const uint8_t nat64_pfx[16] = { 0, 0x64, 0xff, 0x9b };

__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static unsigned int bits_of(int family)
{
	return family == AF_INET ? 32 : 128;
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

/* Two prefixes of one family overlap when the shorter holds the longer. */
static bool overlap(const uint8_t *a, unsigned int alen, const uint8_t *b, unsigned int blen)
{
	return prefix_match(a, b, alen < blen ? alen : blen);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* An address or prefix: family, bytes (zero beyond the family's size),
 * length; no host bits may be set. */
static int parse_prefix(const char *s, uint16_t *family, uint8_t *addr, uint8_t *plen,
			char *why, size_t whylen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int max, len = 0;

	memset(addr, 0, 16);
	if (!alen || alen >= sizeof(buf))
		return fail(why, whylen, "bad address '%.64s'", s);
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		max = 128;
	} else {
		return fail(why, whylen, "bad address '%.64s'", s);
	}
	if (slash) {
		const char *p = slash + 1;

		if (!*p || strlen(p) > 3)
			return fail(why, whylen, "bad prefix length in '%.64s'", s);
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return fail(why, whylen, "bad prefix length in '%.64s'", s);
			len = len * 10 + (unsigned int)(*p - '0');
		}
		if (len > max)
			return fail(why, whylen, "prefix length %u does not fit an IPv%c address ('%.64s')",
				    len, max == 32 ? '4' : '6', s);
	} else {
		len = max;
	}
	for (unsigned int bit = len; bit < max; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return fail(why, whylen, "host bits set in '%.64s'", s);
	*plen = (uint8_t)len;
	return 0;
}

int sock_xlat_parse(const char *const *w, int nw, struct sock_xlat_rule *r,
		    char *why, size_t whylen)
{
	unsigned int hf, ht;
	int rc;

	memset(r, 0, sizeof(*r));
	if (nw == 1 && (!strcmp(w[0], "nat64") || !strcmp(w[0], "mapped"))) {
		bool nat64 = !strcmp(w[0], "nat64");

		r->from_family = AF_INET6;
		r->to_family = AF_INET;
		memcpy(r->from, nat64 ? nat64_pfx : mapped_pfx, 16);
		r->from_plen = 96;
		r->to_plen = 0;
		r->name = nat64 ? "nat64" : "mapped";
		return 0;
	}
	if (nw != 3 || strcmp(w[1], "->"))
		return fail(why, whylen, "usage: translate FROM -> TO | translate nat64 | translate mapped");
	rc = parse_prefix(w[0], &r->from_family, r->from, &r->from_plen, why, whylen);
	if (!rc)
		rc = parse_prefix(w[2], &r->to_family, r->to, &r->to_plen, why, whylen);
	if (rc)
		return rc;
	if (r->from_family == r->to_family)
		return fail(why, whylen, "both sides are IPv%c: a rule translates between IPv4 and IPv6",
			    r->from_family == AF_INET ? '4' : '6');
	hf = bits_of(r->from_family) - r->from_plen;
	ht = bits_of(r->to_family) - r->to_plen;
	if (hf != ht)
		return fail(why, whylen, "%s has %u host bits, %s has %u: they must be equal",
			    w[0], hf, w[2], ht);
	/* An IPv4 destination must not come out as IPv4 again. */
	if (r->to_family == AF_INET6 && overlap(r->to, r->to_plen, mapped_pfx, 96))
		return fail(why, whylen, "%s is IPv4-mapped (::ffff:0:0/96), which is IPv4", w[2]);
	return 0;
}

int sock_xlat_check(const struct sock_xlat_rule *rules, size_t n,
		    const struct sock_xlat_rule *r, char *why, size_t whylen)
{
	char a[128];

	if (n >= SOCK_XLAT_MAX_RULES)
		return fail(why, whylen, "more than %d translate rules", SOCK_XLAT_MAX_RULES);
	for (size_t i = 0; i < n; i++) {
		const struct sock_xlat_rule *q = &rules[i];

		sock_xlat_format(q, a, sizeof(a));
		if (q->from_family == r->from_family &&
		    overlap(q->from, q->from_plen, r->from, r->from_plen))
			return fail(why, whylen, "overlaps the translate rule %s (line %u): "
				    "which one would apply?", a, q->line);
		if (q->to_family == r->to_family &&
		    overlap(q->to, q->to_plen, r->to, r->to_plen) &&
		    (q->to_plen != r->to_plen || memcmp(q->to, r->to, 16)))
			return fail(why, whylen, "its target overlaps that of the translate rule %s "
				    "(line %u) without being the same prefix", a, q->line);
	}
	return 0;
}

void sock_xlat_format(const struct sock_xlat_rule *r, char *buf, size_t len)
{
	char f[INET6_ADDRSTRLEN], t[INET6_ADDRSTRLEN];

	if (!inet_ntop(r->from_family, r->from, f, sizeof(f)))
		snprintf(f, sizeof(f), "?");
	if (!inet_ntop(r->to_family, r->to, t, sizeof(t)))
		snprintf(t, sizeof(t), "?");
	snprintf(buf, len, "%s/%u -> %s/%u", f, r->from_plen, t, r->to_plen);
}

int sock_xlat_find(const struct sock_xlat_rule *rules, size_t n, int dir, int family,
		   const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++) {
		const struct sock_xlat_rule *r = &rules[i];

		if (dir == 0 && r->from_family == family && prefix_match(addr, r->from, r->from_plen))
			return (int)i;
		if (dir == 1 && r->to_family == family && prefix_match(addr, r->to, r->to_plen))
			return (int)i;
	}
	return -1;
}

/* out = pfx's network bits + the last `host` bits of in. */
static void carry(const uint8_t *in, unsigned int in_bits, const uint8_t *pfx,
		  unsigned int out_bits, unsigned int host, uint8_t *out)
{
	uint8_t o[16] = { 0 };

	memcpy(o, pfx, out_bits / 8);
	for (unsigned int i = 0; i < host; i++) {
		unsigned int s = in_bits - host + i, d = out_bits - host + i;
		uint8_t m = (uint8_t)(0x80 >> (d % 8));

		if (in[s / 8] & (0x80 >> (s % 8)))
			o[d / 8] |= m;
		else
			o[d / 8] &= (uint8_t)~m;
	}
	memcpy(out, o, 16);
}

void sock_xlat_apply(const struct sock_xlat_rule *r, const uint8_t *in, uint8_t *out)
{
	unsigned int fb = bits_of(r->from_family);

	carry(in, fb, r->to, bits_of(r->to_family), fb - r->from_plen, out);
}

bool sock_xlat_reverse(const struct sock_xlat_rule *r, const uint8_t *in, uint8_t *out)
{
	unsigned int tb = bits_of(r->to_family);

	if (!prefix_match(in, r->to, r->to_plen))
		return false;
	carry(in, tb, r->from, bits_of(r->from_family), tb - r->to_plen, out);
	return true;
}

/* ---- addresses of one socket ------------------------------------------------- */

static void set_in6(struct sockaddr_storage *ss, const uint8_t *addr, in_port_t port)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = port;
	memcpy(&in6->sin6_addr, addr, 16);
}

static void set_in(struct sockaddr_storage *ss, const uint8_t *addr, in_port_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_port = port;
	memcpy(&in->sin_addr, addr, 4);
}

int sock_xlat_to_host(const struct sock_xlat_rule *rules, size_t n, int guest_family,
		      const struct sock_xlat_sock *st, bool dest,
		      const struct sockaddr_storage *guest, struct sock_xlat_dest *out)
{
	int fam = guest->ss_family, i;
	uint8_t a[16] = { 0 };

	memset(out, 0, sizeof(*out));
	out->rule = -1;
	out->addr = *guest;
	if (fam == AF_INET)
		out->len = sizeof(struct sockaddr_in);
	else if (fam == AF_INET6)
		out->len = sizeof(struct sockaddr_in6);
	else
		return -EAFNOSUPPORT;

	if (guest_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)guest;

		/* An IPv6 address on an IPv4 socket: an IPv4 host socket
		 * refuses it itself; one the host made IPv6 must too. */
		if (fam != AF_INET)
			return st->host_family == AF_INET6 ? -EAFNOSUPPORT : 0;
		i = dest ? sock_xlat_find(rules, n, 0, AF_INET, (const uint8_t *)&in->sin_addr) : -1;
		if (i >= 0) {
			sock_xlat_apply(&rules[i], (const uint8_t *)&in->sin_addr, a);
			set_in6(&out->addr, a, in->sin_port);
			out->len = sizeof(struct sockaddr_in6);
			out->rule = i;
			out->need_v6 = true;
		} else if (st->host_family == AF_INET6) {
			/* The host socket is IPv6 (dual-stack) now. */
			memcpy(a, mapped_pfx, 12);
			memcpy(a + 12, &in->sin_addr, 4);
			set_in6(&out->addr, a, in->sin_port);
			out->len = sizeof(struct sockaddr_in6);
		}
		return 0;
	}
	/* A guest IPv6 socket: IPv4 addresses go to the host's IPv6 socket as
	 * they are (Linux takes them); IPv6 ones may have a rule. */
	if (fam == AF_INET6 && dest) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)guest;

		i = sock_xlat_find(rules, n, 0, AF_INET6, in6->sin6_addr.s6_addr);
		if (i >= 0) {
			uint8_t v4[16];

			sock_xlat_apply(&rules[i], in6->sin6_addr.s6_addr, v4);
			memcpy(a, mapped_pfx, 12);
			memcpy(a + 12, v4, 4);
			set_in6(&out->addr, a, in6->sin6_port);
			out->rule = i;
			out->need_dual = true;
		}
	}
	return 0;
}

/* The rule `st` used last, if it is of the right direction and fits `a`
 * (dir 1: a lies in its TO); else the first one that fits. */
static int pick(const struct sock_xlat_rule *rules, size_t n, const struct sock_xlat_sock *st,
		int to_family, const uint8_t *a, bool any)
{
	if (st->rule && st->rule <= n) {
		const struct sock_xlat_rule *r = &rules[st->rule - 1];

		if (r->to_family == to_family && prefix_match(a, r->to, r->to_plen))
			return st->rule - 1;
	}
	return any ? sock_xlat_find(rules, n, 1, to_family, a) : -1;
}

int sock_xlat_to_guest(const struct sock_xlat_rule *rules, size_t n, int guest_family,
		       const struct sock_xlat_sock *st, const struct sockaddr_storage *host,
		       struct sockaddr_storage *out)
{
	struct sockaddr_storage h = *host;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&h;
	uint8_t a[16], back[16];
	bool mapped;
	int i;

	if (h.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&h;

		if (guest_family == AF_INET) {
			*out = h;
			return 0;
		}
		/* IPv4 for the guest's IPv6 socket: as the mapped form. */
		memcpy(a, mapped_pfx, 12);
		memcpy(a + 12, &in->sin_addr, 4);
		set_in6(&h, a, in->sin_port);
	}
	if (h.ss_family != AF_INET6) {
		*out = h;
		return 0;
	}
	memcpy(a, in6->sin6_addr.s6_addr, 16);
	mapped = !memcmp(a, mapped_pfx, 12);
	if (guest_family == AF_INET) {
		static const uint8_t none[4];

		set_in(out, none, in6->sin6_port); /* the address is set below */
		if (mapped) {
			memcpy(&((struct sockaddr_in *)out)->sin_addr, a + 12, 4);
			return 0;
		}
		if (all_zero(a, 16))
			return 0; /* unbound, or the wildcard: 0.0.0.0 */
		i = pick(rules, n, st, AF_INET6, a, true);
		if (i >= 0 && sock_xlat_reverse(&rules[i], a, back)) {
			memcpy(&((struct sockaddr_in *)out)->sin_addr, back, 4);
			return 0;
		}
		return -EADDRNOTAVAIL;
	}
	*out = h;
	if (!mapped)
		return 0;
	/* IPv4 behind the guest's IPv6 socket: in the form of the rule the
	 * socket used; a socket that is IPV6_V6ONLY for the guest cannot
	 * show IPv4-mapped at all, so any rule that fits; else Linux's own
	 * ::ffff:a.b.c.d. */
	i = pick(rules, n, st, AF_INET, a + 12, st->v6only);
	if (i >= 0 && sock_xlat_reverse(&rules[i], a + 12, back))
		set_in6(out, back, in6->sin6_port);
	return 0;
}

bool sock_xlat_first_use(struct sock_xlat_sock *st, const struct sockaddr_storage *host)
{
	uint16_t fam = host->ss_family, port;
	uint8_t a[16] = { 0 };

	if (fam == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)host;

		memcpy(a, &in->sin_addr, 4);
		port = in->sin_port;
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)host;

		memcpy(a, &in6->sin6_addr, 16);
		port = in6->sin6_port;
	}
	for (unsigned int i = 0; i < st->nseen && i < SOCK_XLAT_SEEN; i++)
		if (st->seen[i].family == fam && st->seen[i].port == port &&
		    !memcmp(st->seen[i].addr, a, 16))
			return false;
	st->next %= SOCK_XLAT_SEEN;
	st->seen[st->next].family = fam;
	st->seen[st->next].port = port;
	memcpy(st->seen[st->next].addr, a, 16);
	st->next = (uint8_t)((st->next + 1) % SOCK_XLAT_SEEN);
	if (st->nseen < SOCK_XLAT_SEEN)
		st->nseen++;
	return true;
}

void sock_xlat_getopt(const struct sock_xlat_sock *st, int guest_family, int level, int name,
		      void *val, socklen_t len)
{
	int v;

	if (len < sizeof(v))
		return;
	if (level == SOL_SOCKET && name == SO_DOMAIN) {
		v = guest_family;
		memcpy(val, &v, sizeof(v));
	} else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && st->v6only) {
		v = 1;
		memcpy(val, &v, sizeof(v));
	}
}

/* ---- host sockets (system calls) ---------------------------------------------- */

bool sock_xlat_unbound(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (ss.ss_family == AF_INET)
		return ((struct sockaddr_in *)&ss)->sin_port == 0;
	if (ss.ss_family == AF_INET6)
		return ((struct sockaddr_in6 *)&ss)->sin6_port == 0;
	return false;
}

/* IPv4 options and their IPv6 twins (same values on Linux). */
static int v6_twin(int name)
{
	switch (name) {
	case IP_TOS:          return IPV6_TCLASS;
	case IP_TTL:          return IPV6_UNICAST_HOPS;
	case IP_MTU_DISCOVER: return IPV6_MTU_DISCOVER;
	default:              return -1;
	}
}

int sock_xlat_respawn(int oldfd, int newfd, int type)
{
	/* What a guest may set (sock.c's option table) and that matters
	 * before a connect; SO_REUSEPORT is never allowed to a guest. */
	static const struct {
		int level, name;
	} opts[] = {
		{ SOL_SOCKET, SO_REUSEADDR }, { SOL_SOCKET, SO_KEEPALIVE },
		{ SOL_SOCKET, SO_BROADCAST }, { SOL_SOCKET, SO_OOBINLINE },
		{ SOL_SOCKET, SO_DONTROUTE }, { SOL_SOCKET, SO_RCVBUF },
		{ SOL_SOCKET, SO_SNDBUF }, { SOL_SOCKET, SO_RCVLOWAT },
		{ SOL_SOCKET, SO_LINGER }, { SOL_SOCKET, SO_PRIORITY },
		{ IPPROTO_TCP, TCP_NODELAY }, { IPPROTO_TCP, TCP_MAXSEG },
		{ IPPROTO_TCP, TCP_CORK }, { IPPROTO_TCP, TCP_KEEPIDLE },
		{ IPPROTO_TCP, TCP_KEEPINTVL }, { IPPROTO_TCP, TCP_KEEPCNT },
		{ IPPROTO_TCP, TCP_USER_TIMEOUT }, { IPPROTO_TCP, TCP_SYNCNT },
		{ IPPROTO_TCP, TCP_DEFER_ACCEPT }, { IPPROTO_TCP, TCP_NOTSENT_LOWAT },
		{ IPPROTO_IP, IP_TOS }, { IPPROTO_IP, IP_TTL }, { IPPROTO_IP, IP_MTU_DISCOVER },
	};
	int off = 0;

	if (setsockopt(newfd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		uint8_t a[32], b[32];
		socklen_t la = sizeof(a), lb = sizeof(b);
		int twin;

		if (opts[i].level == IPPROTO_TCP && type != SOCK_STREAM)
			continue;
		if (getsockopt(oldfd, opts[i].level, opts[i].name, a, &la) < 0)
			continue;
		/* Only what differs from a new socket's default was set. */
		if (getsockopt(newfd, opts[i].level, opts[i].name, b, &lb) == 0 && la == lb &&
		    !memcmp(a, b, la))
			continue;
		if (opts[i].level == SOL_SOCKET &&
		    (opts[i].name == SO_RCVBUF || opts[i].name == SO_SNDBUF) && la == sizeof(int)) {
			int v;

			memcpy(&v, a, sizeof(v));
			v /= 2; /* Linux doubles what is set and reads that back */
			memcpy(a, &v, sizeof(v));
		}
		/* Best effort, as the value was accepted once already. */
		(void)setsockopt(newfd, opts[i].level, opts[i].name, a, la);
		twin = opts[i].level == IPPROTO_IP ? v6_twin(opts[i].name) : -1;
		if (twin >= 0)
			(void)setsockopt(newfd, IPPROTO_IPV6, twin, a, la);
	}
	return 0;
}

void sock_xlat_setopt_mirror(int fd, const struct sock_xlat_sock *st, int level, int name,
			     const void *val, socklen_t len)
{
	int twin;

	if (st->host_family != AF_INET6 || level != IPPROTO_IP)
		return;
	twin = v6_twin(name);
	if (twin >= 0)
		(void)setsockopt(fd, IPPROTO_IPV6, twin, val, len);
}

int sock_xlat_dual(int fd, struct sock_xlat_sock *st)
{
	int v = 0, off = 0;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l) < 0)
		return -errno;
	if (!v)
		return 0;
	if (!sock_xlat_unbound(fd))
		return -ENETUNREACH;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		return -errno;
	st->v6only = true;
	return 0;
}
