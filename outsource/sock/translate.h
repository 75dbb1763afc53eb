/* SPDX-License-Identifier: MIT */
/*
 * translate.h - IPv4/IPv6 translation of a guest's socket addresses (the
 * policy's `translate` rules; policy.h has the text format, README.md the
 * decisions).
 *
 * A rule maps one prefix onto a prefix of the other family and carries the
 * host bits over: with 10.64.0.0/16 -> 2001:db8:1::/112 a guest's
 * 10.64.1.2 is the host's 2001:db8:1::102.  Both prefixes have the same
 * number of host bits and none of them set.
 *   4 -> 6  an IPv4 destination of a guest's AF_INET socket is reached over
 *           IPv6 (the host socket becomes AF_INET6, see sock_xlat_respawn());
 *   6 -> 4  an IPv6 destination of a guest's AF_INET6 socket is reached over
 *           IPv4 (the host socket uses ::ffff:a.b.c.d with IPV6_V6ONLY off).
 * Named rules:
 *   nat64   64:ff9b::/96 -> 0.0.0.0/0   (RFC 6052's well-known prefix)
 *   mapped  ::ffff:0:0/96 -> 0.0.0.0/0  (IPv4-mapped, also for a socket the
 *                                        guest made IPV6_V6ONLY)
 * Rules apply to destinations (connect, sendto), never to bind.  The
 * guest is shown what it used: getpeername, getsockname, recvfrom and
 * accept map the host's addresses back (sock_xlat_to_guest()).
 *
 * Everything but the last section is a pure function of its arguments (no
 * globals, no system calls): the parser and the mapping are unit tested
 * (tests/unit/test-sock-translate.c).  The last section touches host
 * sockets and says so.
 *
 * Error convention: -errno (libhostrpc's); parse errors are -EINVAL with
 * the reason in `why`.
 */
#ifndef OUTSOURCE_SOCK_TRANSLATE_H
#define OUTSOURCE_SOCK_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Most `translate` lines in one policy. */
#define SOCK_XLAT_MAX_RULES 64

struct sock_xlat_rule {
	uint16_t from_family;   /* AF_INET or AF_INET6: the guest's side */
	uint16_t to_family;     /* the other one: the host's side */
	uint8_t from[16], to[16];
	uint8_t from_plen, to_plen;
	const char *name;       /* "nat64", "mapped" or NULL */
	unsigned int line;      /* where it was written (0: unknown) */
};

/* What a socket remembers about translation; all zero for a new socket. */
#define SOCK_XLAT_SEEN 4
struct sock_xlat_sock {
	uint16_t host_family;   /* AF_INET6 once a guest AF_INET socket's host
				 * socket was made again as IPv6, else 0 */
	uint16_t rule;          /* 1 + the rule the socket used last, 0 none */
	bool v6only;            /* the guest set IPV6_V6ONLY, the host socket
				 * had to drop it: the guest still reads 1 */
	uint8_t nseen, next;    /* translated destinations already audited */
	struct {
		uint16_t family, port;
		uint8_t addr[16];
	} seen[SOCK_XLAT_SEEN];
};

/* The address the host uses for a guest's one. */
struct sock_xlat_dest {
	struct sockaddr_storage addr;
	socklen_t len;
	int rule;               /* index of the rule applied, -1 none */
	bool need_v6;           /* the host socket must be AF_INET6 */
	bool need_dual;         /* ... and take IPv4-mapped destinations */
};

/* ---- rules ------------------------------------------------------------------ */

/*
 * The words after `translate`: "nat64", "mapped", or FROM "->" TO where
 * FROM and TO are an address or prefix (10.64.0.0/16, 2001:db8:1::/112; no
 * length = the whole address).  -EINVAL with the reason in `why`.
 */
int sock_xlat_parse(const char *const *words, int nwords, struct sock_xlat_rule *r,
		    char *why, size_t whylen);

/* May `r` join `rules`?  No two rules' FROM prefixes may overlap (which
 * would win?), and no two TO prefixes unless they are the same prefix
 * (then a reply shows the form the socket used: nat64 and mapped share
 * 0.0.0.0/0); at most SOCK_XLAT_MAX_RULES.  0 or -EINVAL with `why`. */
int sock_xlat_check(const struct sock_xlat_rule *rules, size_t n,
		    const struct sock_xlat_rule *r, char *why, size_t whylen);

/* "10.64.0.0/16 -> 2001:db8:1::/112" */
void sock_xlat_format(const struct sock_xlat_rule *r, char *buf, size_t len);

/* The first rule whose FROM (dir 0) or TO (dir 1) holds `addr` of
 * `family`, or -1. */
int sock_xlat_find(const struct sock_xlat_rule *rules, size_t n, int dir, int family,
		   const uint8_t *addr);

/* FROM -> TO (`in` must lie in FROM) and back (false if `in` is not in TO). */
void sock_xlat_apply(const struct sock_xlat_rule *r, const uint8_t *in, uint8_t *out);
bool sock_xlat_reverse(const struct sock_xlat_rule *r, const uint8_t *in, uint8_t *out);

/* ---- addresses of one socket ------------------------------------------------- */

/*
 * The address the host uses for `guest`, an address given to a socket of
 * `guest_family` whose state is `st`.  `dest`: a destination (connect,
 * sendto: rules apply) or not (bind: only the family of a re-made socket
 * changes, ::ffff:a.b.c.d).  -EAFNOSUPPORT for an IPv6 address given to
 * a guest AF_INET socket the host made IPv6 (the guest's socket is IPv4).
 */
int sock_xlat_to_host(const struct sock_xlat_rule *rules, size_t n, int guest_family,
		      const struct sock_xlat_sock *st, bool dest,
		      const struct sockaddr_storage *guest, struct sock_xlat_dest *out);

/*
 * What the guest is shown for the host's address `host` (a peer, a local
 * address or a datagram's sender): the guest's family, IPv4-mapped
 * addresses unwrapped for an AF_INET socket, translated addresses in the
 * form the socket used (its last rule, else the first rule that fits).
 * -EADDRNOTAVAIL when the guest's family cannot show it (an IPv6 address
 * no rule maps, on a guest AF_INET socket): `out` is then the unspecified
 * address with the port.  `out` may be `host`.
 */
int sock_xlat_to_guest(const struct sock_xlat_rule *rules, size_t n, int guest_family,
		       const struct sock_xlat_sock *st, const struct sockaddr_storage *host,
		       struct sockaddr_storage *out);

/* Record `host` (a translated destination) as used; true the first time
 * (among the last SOCK_XLAT_SEEN): then it is audited. */
bool sock_xlat_first_use(struct sock_xlat_sock *st, const struct sockaddr_storage *host);

/* The guest's view of an option value the host read: IPV6_V6ONLY stays
 * what the guest set, SO_DOMAIN is the guest's family. */
void sock_xlat_getopt(const struct sock_xlat_sock *st, int guest_family, int level, int name,
		      void *val, socklen_t len);

/* ---- host sockets (system calls) ---------------------------------------------- */

/* Is the host socket `fd` still unbound (no local port)?  Only then can
 * its family or IPV6_V6ONLY change. */
bool sock_xlat_unbound(int fd);

/*
 * `newfd` (a new AF_INET6 socket of `type`) takes over from `oldfd` (an
 * unbound AF_INET one): IPV6_V6ONLY off (IPv4 destinations still work, as
 * ::ffff:a.b.c.d), and every option the guest could have set on the old
 * one copied over; IP_TOS and IP_TTL also as IPV6_TCLASS and
 * IPV6_UNICAST_HOPS.  0 or -errno.
 */
int sock_xlat_respawn(int oldfd, int newfd, int type);

/* After a guest set IP_TOS or IP_TTL on an AF_INET socket the host made
 * IPv6: the same value as IPV6_TCLASS / IPV6_UNICAST_HOPS. */
void sock_xlat_setopt_mirror(int fd, const struct sock_xlat_sock *st, int level, int name,
			     const void *val, socklen_t len);

/* The host socket must take IPv4-mapped destinations: turn IPV6_V6ONLY off
 * if it is on (remembered in st->v6only); -ENETUNREACH if it is on and the
 * socket is bound (what Linux answers such a socket). */
int sock_xlat_dual(int fd, struct sock_xlat_sock *st);

#endif /* OUTSOURCE_SOCK_TRANSLATE_H */
