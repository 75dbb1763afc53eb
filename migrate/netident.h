/* SPDX-License-Identifier: MIT */
/*
 * netident.h - move a guest's network identity (include/hostrpc/netident.h)
 * from one host's interface to another's, as a VM's migration does.
 *
 * The interface is the veth of the guest's network namespace into the
 * host's LAN bridge.  At the switch the source takes it down; the
 * destination gives its own interface the identity, brings it up and
 * announces it, so that the LAN's switches and neighbour caches point at
 * the destination.  The destination's hostrpcd worker calls this while it
 * is still root inside the guest's netns; everything acts on the calling
 * thread's netns (rtnetlink and AF_PACKET directly: no ip(8), no libnl).
 *
 * Errors: -errno everywhere.  -ENODEV: no interface of that name; -EINVAL:
 * an identity that hrpc_netident_check() refuses.  Not thread-safe per
 * interface: one caller moves one interface at a time.
 */
#ifndef HOSTRPC_MIGRATE_NETIDENT_H
#define HOSTRPC_MIGRATE_NETIDENT_H

#include <stdbool.h>
#include <stddef.h>

#include "hostrpc/netident.h"

/* The identity of interface IFNAME: its MAC, MTU and global-scope
 * addresses.  -E2BIG if it has more than HRPC_NETIDENT_MAX_ADDR of them,
 * -EOPNOTSUPP if it is not an Ethernet interface. */
int netident_read(const char *ifname, struct hrpc_netident *id);

/* Take IFNAME down or up: the source at the switch, and at a rollback.
 * Taking it down drops its IPv6 addresses (the kernel's default,
 * keep_addr_on_down=0), so a rollback applies the identity read before
 * the switch (netident_apply()) rather than only bringing the link up. */
int netident_set_up(const char *ifname, bool up);

/* Give IFNAME the identity: link down, MAC (and MTU if set), then the
 * addresses (IPv6 with IFA_F_NODAD: the address is ours already, DAD
 * would only delay it), then link up.  Idempotent: an address already
 * there is not an error.  Addresses the interface had before stay.
 * Returns once the link is operationally up and no address of the
 * identity is tentative, so sockets can bind to them at once: -ETIMEDOUT
 * (identity applied) when that takes more than 3 s, e.g. no carrier. */
int netident_apply(const char *ifname, const struct hrpc_netident *id);

/* Announce the identity on IFNAME (up, with the identity's MAC, else
 * -ENETDOWN / -EADDRNOTAVAIL): one gratuitous ARP (request form, sender =
 * target = the address, broadcast) per IPv4 address, one unsolicited
 * neighbour advertisement (to ff02::1, override flag, target link-layer
 * address option, hop limit 255, from the address itself) per IPv6
 * address, over AF_PACKET.  A LAN can miss one round (a switch port still
 * coming up): callers repeat it a few times, as QEMU's announce does. */
int netident_announce(const char *ifname, const struct hrpc_netident *id);

/* Run fn(arg) in a thread that joined the netns open at nsfd, and return
 * its result (-errno if the thread could not join).  setns(CLONE_NEWNET)
 * moves only the calling thread, so the caller's own netns never changes.
 * For callers that live in another netns (hostrpc-migrate taking the
 * source's interface down). */
int netident_in_netns(int nsfd, int (*fn)(void *), void *arg);

/* Render "02:77:00:00:00:10 mtu 1500 10.77.0.10/24 fd77::10/64" for logs
 * (no "mtu" when 0).  Safe on an unchecked record; always terminates buf. */
void netident_format(const struct hrpc_netident *id, char *buf, size_t len);


/*
 * A migration's switch in two steps.  Before it (the source still serves
 * the guest): the addresses and MTU on IFNAME, the link up, but ARP and
 * neighbour discovery off and the interface's own MAC, so routes exist
 * (TCP_REPAIR restores need them) and nobody reaches the addresses here.
 * At it: ARP on and the guest's MAC, live (veth, macvlan and most virtual
 * links take a MAC while up); then netident_announce().
 */
int netident_apply_quiet(const char *ifname, const struct hrpc_netident *id);
int netident_go_live(const char *ifname, const struct hrpc_netident *id);

#endif /* HOSTRPC_MIGRATE_NETIDENT_H */
