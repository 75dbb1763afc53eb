/* SPDX-License-Identifier: MIT */
/*
 * netident.h - a guest's network identity, as the source host ships it to
 * the destination when the guest migrates (hostrpc-migrate, issue 12).
 *
 * A guest's outsourced sockets live in a network namespace of their own on
 * the host, whose interface (a veth into the host's LAN bridge) carries the
 * guest's MAC and addresses.  At the switch the source takes its interface
 * down; the destination gives its interface this identity, brings it up
 * and announces it (migrate/netident.h).
 *
 * Only global-scope addresses are part of the identity: an IPv6 link-local
 * address (fe80::/10) is the kernel's, derived from the MAC.  Unused
 * entries of addr[] and every pad byte are 0.
 *
 * The record comes from another host: the destination checks its own copy
 * (hrpc_netident_check()) before it reads anything else of it.  Numbers
 * are little-endian, as everywhere in hostrpc (compat.h); addresses are
 * bytes in network order.
 */
#ifndef HOSTRPC_NETIDENT_H
#define HOSTRPC_NETIDENT_H

#include "compat.h"
#include "sock.h"

#define HRPC_NETIDENT_MAGIC     0x494e5248u  /* "HRNI" */
#define HRPC_NETIDENT_VERSION   1u
#define HRPC_NETIDENT_MAX_ADDR  8u

struct hrpc_netident_addr {
	hrpc_u8  family;           /* HRPC_AF_INET, HRPC_AF_INET6 */
	hrpc_u8  prefixlen;        /* <= 32, <= 128 */
	hrpc_u8  pad[2];           /* 0 */
	hrpc_u8  addr[16];         /* IPv4: 4 bytes, then 12 zero bytes */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_netident_addr) == 20, "netident addr is 20 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_netident_addr, addr) == 4, "addr at 4");

struct hrpc_netident {
	hrpc_u32 magic;            /* HRPC_NETIDENT_MAGIC */
	hrpc_u16 version;          /* HRPC_NETIDENT_VERSION */
	hrpc_u16 naddr;            /* entries of addr[] used, <= HRPC_NETIDENT_MAX_ADDR */
	hrpc_u8  mac[6];           /* unicast, not 00:00:00:00:00:00 */
	hrpc_u8  pad[2];           /* 0 */
	hrpc_u32 mtu;              /* 68..65535; 0 = leave the destination's as it is */
	struct hrpc_netident_addr addr[HRPC_NETIDENT_MAX_ADDR];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_netident) == 180, "netident is 180 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_netident, mac) == 8, "mac at 8");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_netident, mtu) == 16, "mtu at 16");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_netident, addr) == 20, "addr at 20");

/* An address a host may give an interface as a guest's own: not
 * unspecified, loopback or multicast; for IPv6 not link-local either
 * (see above).  IPv4 0.0.0.0/8 is "this network", never a host's. */
static inline int hrpc_netident_addr_ok(const struct hrpc_netident_addr *a)
{
	static const hrpc_u8 zero[16];
	const hrpc_u8 *b = a->addr;

	if (a->pad[0] || a->pad[1])
		return 0;
	if (a->family == HRPC_AF_INET)
		return a->prefixlen <= 32 && !memcmp(b + 4, zero, 12) &&
		       b[0] != 0 && b[0] != 127 && (b[0] & 0xf0) != 0xe0;
	if (a->family == HRPC_AF_INET6)
		return a->prefixlen <= 128 && memcmp(b, zero, 16) &&
		       (memcmp(b, zero, 15) || b[15] != 1) &&      /* ::1 */
		       b[0] != 0xff &&                             /* multicast */
		       !(b[0] == 0xfe && (b[1] & 0xc0) == 0x80);   /* fe80::/10 */
	return 0;
}

/*
 * Check an identity (a private copy: the caller copied it out of whatever
 * it came through).  0, or -EINVAL for anything a sane host would not have
 * sent.  An MTU below IPv6's minimum (1280) with an IPv6 address is refused
 * too: the kernel would take IPv6 off the interface, and the address with it.
 */
static inline int hrpc_netident_check(const struct hrpc_netident *id)
{
	static const hrpc_u8 zero[sizeof(id->addr)];
	hrpc_u32 i;

	if (id->magic != HRPC_NETIDENT_MAGIC || id->version != HRPC_NETIDENT_VERSION ||
	    id->naddr > HRPC_NETIDENT_MAX_ADDR || id->pad[0] || id->pad[1])
		return -EINVAL;
	if ((id->mac[0] & 1) || !memcmp(id->mac, zero, 6))
		return -EINVAL;
	if (id->mtu && (id->mtu < 68 || id->mtu > 65535))
		return -EINVAL;
	for (i = 0; i < id->naddr; i++) {
		if (!hrpc_netident_addr_ok(&id->addr[i]))
			return -EINVAL;
		if (id->addr[i].family == HRPC_AF_INET6 && id->mtu && id->mtu < 1280)
			return -EINVAL;
	}
	if (memcmp(&id->addr[id->naddr], zero, (HRPC_NETIDENT_MAX_ADDR - id->naddr) * sizeof(id->addr[0])))
		return -EINVAL;
	return 0;
}

#endif /* HOSTRPC_NETIDENT_H */
