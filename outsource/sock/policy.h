/* SPDX-License-Identifier: MIT */
/*
 * policy.h - a guest's socket policy: network namespace, quota, which
 * destinations it may connect/send to and which local addresses it may bind.
 *
 * Text format, one directive per line, '#' starts a comment:
 *
 *   netns PATH                  sockets live in this network namespace
 *                               (e.g. /run/netns/guest1); default: the
 *                               worker's own
 *   identity IFACE              the interface of that namespace whose MAC
 *                               and addresses are the guest's: they move
 *                               with it when it migrates (hostrpc-migrate)
 *   max-sockets N               quota (1..65536, default 1024)
 *   connect allow|deny NET [PORTS]
 *   bind allow|deny NET [PORTS]
 *   default connect|bind allow|deny   (default: allow)
 *   translate FROM -> TO        IPv4/IPv6 translation of destinations
 *   translate nat64             = translate 64:ff9b::/96 -> 0.0.0.0/0
 *   translate mapped            = translate ::ffff:0:0/96 -> 0.0.0.0/0
 *
 * translate: a guest's connect/sendto destination in prefix FROM is
 * reached at the address in prefix TO of the other family, the host bits
 * carried over: `translate 10.64.0.0/16 -> 2001:db8:1::/112` lets an
 * IPv4-only program reach 2001:db8:1::102 as 10.64.1.2; `translate nat64`
 * lets an IPv6-only program (IPV6_V6ONLY, or IPv6 addresses only) reach
 * IPv4 a.b.c.d as 64:ff9b::a.b.c.d, and `translate mapped` as
 * ::ffff:a.b.c.d even on a socket it made IPV6_V6ONLY.  A keyword reads
 * better than the spelled-out rule and says which RFC form is meant; both
 * are accepted.  FROM and TO: an address or prefix, of different
 * families, with as many host bits each and none set; no two rules' FROM
 * prefixes may overlap, nor two TO prefixes unless equal (translate.h).
 * The guest is shown the addresses it used (getpeername, getsockname,
 * recvfrom, accept).  Translation comes first: the connect rules below
 * decide on the address the host really uses (write them for TO, e.g.
 * `connect allow ::1 8080` for `translate 10.64.0.1 -> ::1`), and the
 * built-in rules hold for it as for any other.  Every translated
 * connection, and each UDP destination the first time a socket uses it,
 * is written to the audit log.
 *
 * NET is `any`, an address (127.0.0.1, ::1), a prefix (10.0.0.0/8,
 * fd00::/8) or a class:
 *   loopback     127.0.0.0/8, ::1
 *   unspecified  0.0.0.0/8, ::           (bind: the wildcard address)
 *   link-local   169.254.0.0/16 (cloud metadata services), fe80::/10
 *   multicast    224.0.0.0/4, ff00::/8
 *   broadcast    255.255.255.255
 *   host         the addresses of the namespace the sockets live in:
 *                whatever the kernel routes as local, broadcast, multicast
 *                or anycast (a route lookup at decision time, so addresses
 *                added after the guest started count)
 * PORTS is `*` (default) or a comma list of N and N-M.  A bind to port 0
 * (host chooses) matches only rules whose PORTS is `*` or contains 0.
 *
 * Order: the policy's rules of one kind in file order, then the built-in
 * rules (SOCK_POLICY_BUILTIN below), then `default`.  The first that
 * matches decides.  So a file can allow what the built-in rules would deny
 * (`connect allow 127.0.0.1 8080`), and whatever it does not decide is
 * still kept from the host.  A guest with no policy at all gets the
 * built-in rules and `default ... allow`: the built-in default.
 *
 * Every destination is translated (translate rules), and every address
 * then normalised (sock_addr_normalize(), the one place that knows how the
 * kernel reads an address), before a rule sees it: an IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) or NAT64 (64:ff9b::a.b.c.d)
 * IPv6 address is checked as the IPv4 address it carries; a connect or
 * sendto to the unspecified address (0.0.0.0, ::) is checked as the
 * loopback address Linux sends it to; a scope id never changes the verdict
 * (rules match the address alone).  "connect" rules also govern UDP sendto
 * and every send on a connected UDP socket; a bind to `::` on a dual-stack
 * IPv6 socket must also be allowed as a bind to 0.0.0.0.
 *
 * Error convention: -errno (libhostrpc's).
 */
#ifndef OUTSOURCE_SOCK_POLICY_H
#define OUTSOURCE_SOCK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "outsource/sock/translate.h"

enum sock_policy_dir { SOCK_POLICY_CONNECT = 0, SOCK_POLICY_BIND = 1 };

/* Appended after every policy's own rules (policy.c has the text). */
extern const char SOCK_POLICY_BUILTIN[];

struct sock_policy_range {
	uint16_t lo, hi;
};

#define SOCK_POLICY_MAX_RANGES 16

struct sock_policy_rule {
	uint8_t dir;        /* enum sock_policy_dir */
	bool allow;
	bool host;          /* NET is `host`: a route lookup, not a prefix */
	bool builtin;       /* one of SOCK_POLICY_BUILTIN's */
	uint16_t family;    /* AF_INET, AF_INET6, 0 = any */
	uint8_t addr[16];
	uint8_t plen;
	uint8_t nranges;    /* 0 = any port */
	const char *cls;    /* the class it came from ("loopback"), or NULL */
	struct sock_policy_range ranges[SOCK_POLICY_MAX_RANGES];
};

struct sock_policy {
	char netns[256];    /* "" = the worker's namespace */
	char identity[16];  /* the interface whose MAC and addresses move with
			     * the guest (hostrpc-migrate); "" = none */
	uint32_t max_sockets;
	bool default_allow[2];
	struct sock_policy_rule *rules;
	size_t nrules;
	size_t nbuiltin;    /* the last nbuiltin rules are the built-in ones */
	struct sock_xlat_rule *xlat; /* `translate` rules, in file order */
	size_t nxlat;
	char source[512];   /* where it came from, for people (sock_policy_print) */
};

/* An address as the kernel will use it (see sock_addr_normalize()). */
struct sock_addr_norm {
	int family;         /* AF_INET or AF_INET6 */
	uint8_t addr[16];   /* AF_INET: the first 4 bytes */
	uint16_t port;
	uint32_t scope_id;  /* AF_INET6 link-scope addresses only, else 0 */
};

/* Defaults: no namespace change, 1024 sockets, default allow, no rules,
 * source "built-in default". */
void sock_policy_init(struct sock_policy *p);
void sock_policy_clear(struct sock_policy *p);

/* Parse `text` (its rules are added after those already there); on error
 * returns -EINVAL with "line N: why" in err. */
int sock_policy_parse(struct sock_policy *p, const char *text, char *err, size_t errlen);
/* Read and parse a file (-errno of open/read, or -EINVAL as above). */
int sock_policy_load(struct sock_policy *p, const char *path, char *err, size_t errlen);
/* Append SOCK_POLICY_BUILTIN's rules: call once, after the policy's own. */
int sock_policy_add_builtin(struct sock_policy *p);

/*
 * The one translation from a socket address to what the kernel will use:
 * every policy decision goes through it (sock_policy_allows() takes only
 * its output).  `dir` matters: a connect/sendto to 0.0.0.0 or :: goes to
 * loopback, a bind to them is the wildcard.  -EAFNOSUPPORT for a family
 * other than AF_INET/AF_INET6, -EINVAL for a short `len`.
 */
int sock_addr_normalize(const struct sockaddr *sa, socklen_t len, enum sock_policy_dir dir,
			struct sock_addr_norm *out);

/* Is `a` one of the sockets' namespace's own addresses?  1 yes, 0 no,
 * -errno when it cannot tell (the decision is then "deny"). */
typedef int (*sock_policy_host_fn)(void *ctx, const struct sock_addr_norm *a);

/* May the guest connect/send to (dir CONNECT) or bind (dir BIND) `a`?
 * `host` answers `host` rules (NULL: they cannot be answered: deny). */
bool sock_policy_allows(const struct sock_policy *p, enum sock_policy_dir dir,
			const struct sock_addr_norm *a, sock_policy_host_fn host, void *ctx);

/* The effective policy, for people: source, namespace, quota, every rule
 * in the order tried, the defaults, the translate rules.  A table, or one
 * JSON object ("translate": [{"rule", "name", "line"}...]). */
void sock_policy_print(const struct sock_policy *p, FILE *f, bool json);

#endif /* OUTSOURCE_SOCK_POLICY_H */
