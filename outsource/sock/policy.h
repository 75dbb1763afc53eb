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
 *   max-sockets N               quota (1..65536, default 1024)
 *   connect allow|deny NET [PORTS]
 *   bind allow|deny NET [PORTS]
 *   default connect|bind allow|deny   (default: allow)
 *
 * NET is `any`, an address (127.0.0.1, ::1) or a prefix (10.0.0.0/8,
 * fd00::/8).  PORTS is `*` (default) or a comma list of N and N-M.  Rules of
 * one kind are tried in file order; the first that matches decides, else the
 * default.  An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked as the
 * IPv4 address it names, so a v6 socket cannot slip past IPv4 rules.  A bind
 * to port 0 (host chooses) matches only rules whose PORTS is `*` or
 * contains 0.  "connect" rules also govern UDP sendto destinations.
 *
 * Error convention: -errno (libhostrpc's).
 */
#ifndef OUTSOURCE_SOCK_POLICY_H
#define OUTSOURCE_SOCK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum sock_policy_dir { SOCK_POLICY_CONNECT = 0, SOCK_POLICY_BIND = 1 };

struct sock_policy_range {
	uint16_t lo, hi;
};

#define SOCK_POLICY_MAX_RANGES 16

struct sock_policy_rule {
	uint8_t dir;        /* enum sock_policy_dir */
	bool allow;
	uint16_t family;    /* AF_INET, AF_INET6, 0 = any */
	uint8_t addr[16];
	uint8_t plen;
	uint8_t nranges;    /* 0 = any port */
	struct sock_policy_range ranges[SOCK_POLICY_MAX_RANGES];
};

struct sock_policy {
	char netns[256];    /* "" = the worker's namespace */
	uint32_t max_sockets;
	bool default_allow[2];
	struct sock_policy_rule *rules;
	size_t nrules;
};

/* Defaults: no namespace change, 1024 sockets, everything allowed. */
void sock_policy_init(struct sock_policy *p);
void sock_policy_clear(struct sock_policy *p);

/* Parse `text`; on error returns -EINVAL with "line N: why" in err. */
int sock_policy_parse(struct sock_policy *p, const char *text, char *err, size_t errlen);
/* Read and parse a file (-errno of open/read, or -EINVAL as above). */
int sock_policy_load(struct sock_policy *p, const char *path, char *err, size_t errlen);

/* May the guest connect/send to (dir CONNECT) or bind (dir BIND) `sa`? */
bool sock_policy_allows(const struct sock_policy *p, enum sock_policy_dir dir,
			const struct sockaddr *sa);

#endif /* OUTSOURCE_SOCK_POLICY_H */
