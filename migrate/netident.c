/* SPDX-License-Identifier: MIT */
/*
 * netident.c - a guest's network identity: read it off an interface, give
 * it to another, announce it (netident.h).  rtnetlink and AF_PACKET only.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <linux/if.h>        /* IF_OPER_*; after net/if.h */
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netinet/ip6.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "migrate/netident.h"

/* How long apply waits for the link and its addresses to be usable. */
#define READY_TIMEOUT_MS 3000

/* ---- rtnetlink ------------------------------------------------------ */

struct nl {
	int fd;
	unsigned int seq;
};

/* A request: header, family header, a few attributes. */
union nlreq {
	struct nlmsghdr nh;
	char buf[256];
};

typedef int (*nl_cb)(const struct nlmsghdr *nh, void *arg);

static int nl_open(struct nl *nl, unsigned int groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };

	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(nl->fd);
		return err;
	}
	return 0;
}

static void *req_init(union nlreq *req, unsigned short type, unsigned short flags, size_t hdrlen)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(hdrlen);
	req->nh.nlmsg_type = type;
	req->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&req->nh);
}

static void req_attr(union nlreq *req, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)(req->buf + NLMSG_ALIGN(req->nh.nlmsg_len));

	/* Callers add at most a few dozen bytes to a small header. */
	assert(NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_SPACE(len) <= sizeof(req->buf));
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_SPACE(len);
}

/*
 * Send REQ and read its answer to the end: every message of a reply or a
 * dump goes to CB until CB returns non-zero.  0, the kernel's -errno, or
 * CB's result (the answer is still read to its end, so the socket stays in
 * step for the next request).
 */
static int nl_call(struct nl *nl, union nlreq *req, nl_cb cb, void *arg)
{
	union {
		struct nlmsghdr nh;
		char buf[32768];
	} ans;
	int ret = 0;

	/* An ACK gives every answer but a dump's (NLMSG_DONE) an end.  Both
	 * bits of NLM_F_DUMP: NLM_F_EXCL of a new address is one of them. */
	if ((req->nh.nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		req->nh.nlmsg_flags |= NLM_F_ACK;
	req->nh.nlmsg_seq = ++nl->seq;
	if (send(nl->fd, req, req->nh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		struct iovec iov = { ans.buf, sizeof(ans.buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(nl->fd, &msg, 0);
		struct nlmsghdr *nh;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		for (nh = &ans.nh; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != nl->seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR || nh->nlmsg_type == NLMSG_DONE) {
				int err = 0;

				/* NLMSG_ERROR's payload starts with the error,
				 * and so does a failed dump's NLMSG_DONE. */
				if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					memcpy(&err, NLMSG_DATA(nh), sizeof(err));
				return ret ? ret : err;
			}
			if (!ret && cb)
				ret = cb(nh, arg);
		}
	}
}

struct link {
	int index;
	unsigned int flags;         /* IFF_* */
	unsigned int mtu;
	unsigned char mac[6];
	int maclen;
	unsigned char operstate;    /* IF_OPER_* */
};

static int link_cb(const struct nlmsghdr *nh, void *arg)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	struct link *l = arg;
	const struct rtattr *rta;
	int len = IFLA_PAYLOAD(nh);

	if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	l->index = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(rta) <= sizeof(l->mac)) {
			l->maclen = RTA_PAYLOAD(rta);
			memcpy(l->mac, RTA_DATA(rta), l->maclen);
		} else if (rta->rta_type == IFLA_MTU && RTA_PAYLOAD(rta) == 4) {
			memcpy(&l->mtu, RTA_DATA(rta), 4);
		} else if (rta->rta_type == IFLA_OPERSTATE && RTA_PAYLOAD(rta) == 1) {
			l->operstate = *(const unsigned char *)RTA_DATA(rta);
		}
	}
	return 0;
}

/* The link named IFNAME, or with INDEX when that is not 0. */
static int link_get(struct nl *nl, int index, const char *ifname, struct link *l)
{
	union nlreq req;
	struct ifinfomsg *ifi = req_init(&req, RTM_GETLINK, 0, sizeof(*ifi));
	int err;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	if (!index) {
		size_t n = ifname ? strlen(ifname) : 0;

		if (!n || n >= IFNAMSIZ)
			return -ENODEV;   /* no interface can have that name */
		req_attr(&req, IFLA_IFNAME, ifname, n + 1);
	}
	memset(l, 0, sizeof(*l));
	err = nl_call(nl, &req, link_cb, l);
	if (!err && !l->index)
		err = -ENODEV;
	return err;
}

/* Turn interface flag FLAG (IFF_UP, IFF_NOARP) on or off. */
static int link_set_flag(struct nl *nl, int index, unsigned int flag, bool on)
{
	union nlreq req;
	struct ifinfomsg *ifi = req_init(&req, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_change = flag;
	ifi->ifi_flags = on ? flag : 0;
	return nl_call(nl, &req, NULL, NULL);
}

static int link_set_up(struct nl *nl, int index, bool up)
{
	return link_set_flag(nl, index, IFF_UP, up);
}

/* MAC (NULL: keep) and MTU (0: keep). */
static int link_set_mac_mtu(struct nl *nl, int index, const unsigned char mac[6], unsigned int mtu)
{
	union nlreq req;
	struct ifinfomsg *ifi = req_init(&req, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	if (mac)
		req_attr(&req, IFLA_ADDRESS, mac, 6);
	if (mtu)
		req_attr(&req, IFLA_MTU, &mtu, sizeof(mtu));
	return nl_call(nl, &req, NULL, NULL);
}

/* One address of a dump, for the callbacks below. */
struct addr {
	int index;
	unsigned char family, prefixlen, scope;
	unsigned int flags;          /* IFA_F_* */
	const unsigned char *addr;   /* 4 or 16 bytes, in the message */
};

static int addr_parse(const struct nlmsghdr *nh, struct addr *a)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	const struct rtattr *rta;
	const unsigned char *local = NULL, *address = NULL;
	int len = IFA_PAYLOAD(nh);
	size_t alen;

	if (nh->nlmsg_type != RTM_NEWADDR || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return 0;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	a->index = ifa->ifa_index;
	a->family = ifa->ifa_family;
	a->prefixlen = ifa->ifa_prefixlen;
	a->scope = ifa->ifa_scope;
	a->flags = ifa->ifa_flags;
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_LOCAL && RTA_PAYLOAD(rta) == alen)
			local = RTA_DATA(rta);
		else if (rta->rta_type == IFA_ADDRESS && RTA_PAYLOAD(rta) == alen)
			address = RTA_DATA(rta);
		else if (rta->rta_type == IFA_FLAGS && RTA_PAYLOAD(rta) == 4)
			memcpy(&a->flags, RTA_DATA(rta), 4);   /* ifa_flags has only 8 bits */
	}
	/* IFA_ADDRESS is the peer's on a point-to-point link; ours is IFA_LOCAL. */
	a->addr = local ? local : address;
	return a->addr != NULL;
}

static int addr_dump(struct nl *nl, unsigned char family, nl_cb cb, void *arg)
{
	union nlreq req;
	struct ifaddrmsg *ifa = req_init(&req, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));

	ifa->ifa_family = family;
	return nl_call(nl, &req, cb, arg);
}

static int addr_add(struct nl *nl, int index, const struct hrpc_netident_addr *a)
{
	union nlreq req;
	struct ifaddrmsg *ifa = req_init(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	bool v6 = a->family == HRPC_AF_INET6;
	int err;

	ifa->ifa_family = v6 ? AF_INET6 : AF_INET;
	ifa->ifa_prefixlen = a->prefixlen;
	ifa->ifa_flags = v6 ? IFA_F_NODAD : 0;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = index;
	req_attr(&req, IFA_LOCAL, a->addr, v6 ? 16 : 4);
	req_attr(&req, IFA_ADDRESS, a->addr, v6 ? 16 : 4);
	err = nl_call(nl, &req, NULL, NULL);
	return err == -EEXIST ? 0 : err;
}

/* ---- read ----------------------------------------------------------- */

struct read_walk {
	int index;
	struct hrpc_netident *id;
};

static int read_addr_cb(const struct nlmsghdr *nh, void *arg)
{
	struct read_walk *w = arg;
	struct hrpc_netident_addr *e;
	struct addr a;

	/* Not the link-local ones: the destination's kernel derives those. */
	if (!addr_parse(nh, &a) || a.index != w->index || a.scope != RT_SCOPE_UNIVERSE)
		return 0;
	if (w->id->naddr == HRPC_NETIDENT_MAX_ADDR)
		return -E2BIG;
	e = &w->id->addr[w->id->naddr++];
	e->family = a.family == AF_INET6 ? HRPC_AF_INET6 : HRPC_AF_INET;
	e->prefixlen = a.prefixlen;
	memcpy(e->addr, a.addr, a.family == AF_INET6 ? 16 : 4);
	return 0;
}

int netident_read(const char *ifname, struct hrpc_netident *id)
{
	struct read_walk w = { .id = id };
	struct link l;
	struct nl nl;
	int err;

	memset(id, 0, sizeof(*id));
	err = nl_open(&nl, 0);
	if (err)
		return err;
	err = link_get(&nl, 0, ifname, &l);
	if (!err && l.maclen != 6)
		err = -EOPNOTSUPP;
	if (!err) {
		id->magic = HRPC_NETIDENT_MAGIC;
		id->version = HRPC_NETIDENT_VERSION;
		memcpy(id->mac, l.mac, 6);
		id->mtu = l.mtu;
		w.index = l.index;
		err = addr_dump(&nl, AF_UNSPEC, read_addr_cb, &w);
	}
	close(nl.fd);
	/* What we ship must pass the destination's check. */
	return err ? err : hrpc_netident_check(id);
}

/* ---- set up / apply ------------------------------------------------- */

int netident_set_up(const char *ifname, bool up)
{
	struct link l;
	struct nl nl;
	int err;

	err = nl_open(&nl, 0);
	if (err)
		return err;
	err = link_get(&nl, 0, ifname, &l);
	if (!err)
		err = link_set_up(&nl, l.index, up);
	close(nl.fd);
	return err;
}

static int tentative_cb(const struct nlmsghdr *nh, void *arg)
{
	int *index = arg;
	struct addr a;

	if (addr_parse(nh, &a) && a.index == *index && a.scope == RT_SCOPE_UNIVERSE &&
	    (a.flags & IFA_F_TENTATIVE))
		return 1;
	return 0;
}

/*
 * Whether link INDEX is usable: operationally up (UNKNOWN is what drivers
 * without carrier reporting say), and no global IPv6 address tentative.
 * The operational state follows IFF_UP asynchronously (linkwatch), and
 * with it the other end of a veth, whose bridge port starts forwarding
 * then: an announce sent earlier can be lost there.  Linux does not mark
 * NODAD addresses tentative at all (ipv6_add_addr()); the second test is
 * for one added with DAD, which until DAD ends refuses bind() and drops
 * what arrives for it.
 */
static int link_ready(struct nl *nl, int index)
{
	struct link l;
	int err = link_get(nl, index, NULL, &l);

	if (err)
		return err;
	if (!(l.flags & IFF_UP) || (l.operstate != IF_OPER_UP && l.operstate != IF_OPER_UNKNOWN))
		return 0;
	err = addr_dump(nl, AF_INET6, tentative_cb, &index);
	return err < 0 ? err : !err;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Wait for link_ready(); MON is subscribed to the link and IPv6 address
 * events that can change it. */
static int link_wait_ready(struct nl *nl, struct nl *mon, int index)
{
	long deadline = now_ms() + READY_TIMEOUT_MS;

	for (;;) {
		struct pollfd p = { .fd = mon->fd, .events = POLLIN };
		char drain[8192];
		long left;
		int ready = link_ready(nl, index);

		if (ready)
			return ready < 0 ? ready : 0;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		/* The events wake us; the 100 ms cap only guards against a
		 * change the kernel does not announce. */
		if (poll(&p, 1, left < 100 ? (int)left : 100) < 0 && errno != EINTR)
			return -errno;
		/* Their content does not matter (ENOBUFS neither): we ask again. */
		while (recv(mon->fd, drain, sizeof(drain), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
			;
	}
}

/*
 * Give IFNAME the identity and bring it up.  Quiet (a migration before its
 * switch): ARP and neighbour discovery off and a MAC that is not the
 * guest's, so routes exist but nobody on the LAN reaches the addresses here.
 */
static int apply(const char *ifname, const struct hrpc_netident *idp, bool quiet)
{
	struct hrpc_netident id;
	struct nl nl, mon;
	struct link l;
	unsigned int i;
	int err;

	/* Our own copy: what is checked is what is applied. */
	memcpy(&id, idp, sizeof(id));
	err = hrpc_netident_check(&id);
	if (err)
		return err;
	err = nl_open(&nl, 0);
	if (err)
		return err;
	err = nl_open(&mon, RTMGRP_LINK | RTMGRP_IPV6_IFADDR);
	if (err) {
		close(nl.fd);
		return err;
	}
	err = link_get(&nl, 0, ifname, &l);
	/* Down first: the MAC changes while nothing is sent with either. */
	if (!err)
		err = link_set_up(&nl, l.index, false);
	if (!err && quiet)
		err = link_set_flag(&nl, l.index, IFF_NOARP, true);
	if (!err && quiet && l.maclen == 6 && !memcmp(l.mac, id.mac, 6)) {
		/* an interface the guest left earlier has its MAC still */
		unsigned char mac[6];

		if (getrandom(mac, sizeof(mac), 0) != sizeof(mac))
			err = -EIO;
		mac[0] = (unsigned char)((mac[0] & 0xfe) | 0x02);   /* unicast, local */
		if (!err)
			err = link_set_mac_mtu(&nl, l.index, mac, 0);
	}
	if (!err)
		err = link_set_mac_mtu(&nl, l.index, quiet ? NULL : id.mac, id.mtu);
	for (i = 0; !err && i < id.naddr; i++)
		err = addr_add(&nl, l.index, &id.addr[i]);
	if (!err)
		err = link_set_up(&nl, l.index, true);
	if (!err)
		err = link_wait_ready(&nl, &mon, l.index);
	close(mon.fd);
	close(nl.fd);
	return err;
}

int netident_apply(const char *ifname, const struct hrpc_netident *id)
{
	return apply(ifname, id, false);
}

int netident_apply_quiet(const char *ifname, const struct hrpc_netident *id)
{
	return apply(ifname, id, true);
}

/* ---- announce ------------------------------------------------------- */

static int packet_send(int fd, int index, unsigned short proto, const unsigned char dst[6],
		       const void *buf, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = index,
		.sll_halen = 6,
	};

	memcpy(sll.sll_addr, dst, 6);
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)len)
		return -errno;
	return 0;
}

/* Gratuitous ARP, request form (RFC 5227 §3: what hosts expect). */
static int send_garp(int fd, int index, const unsigned char mac[6], const unsigned char ip[4])
{
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct ether_arp arp = {
		.ea_hdr = {
			.ar_hrd = htons(ARPHRD_ETHER),
			.ar_pro = htons(ETHERTYPE_IP),
			.ar_hln = 6,
			.ar_pln = 4,
			.ar_op = htons(ARPOP_REQUEST),
		},
	};

	memcpy(arp.arp_sha, mac, 6);
	memcpy(arp.arp_spa, ip, 4);
	memcpy(arp.arp_tpa, ip, 4);
	return packet_send(fd, index, ETH_P_ARP, bcast, &arp, sizeof(arp));
}

static unsigned int csum_add(unsigned int sum, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

/*
 * Unsolicited neighbour advertisement (RFC 4861 §7.2.6), built whole: it
 * goes out through AF_PACKET, past the IPv6 stack, so it does not wait for
 * the interface's link-local address to finish DAD.  Its source is the
 * advertised address itself, which §4.4 allows (any address of the
 * interface) and which NODAD made ours at once.
 */
static int send_na(int fd, int index, const unsigned char mac[6], const unsigned char ip[16])
{
	static const unsigned char all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct {
		struct ip6_hdr ip6;
		struct nd_neighbor_advert na;
		struct nd_opt_hdr opt;
		unsigned char lladdr[6];
	} __attribute__((packed)) pkt;
	const size_t icmp_len = sizeof(pkt) - sizeof(pkt.ip6);
	unsigned char pseudo[8] = { 0, 0, 0, (unsigned char)icmp_len, 0, 0, 0, IPPROTO_ICMPV6 };
	unsigned int sum;

	HRPC_STATIC_ASSERT(sizeof(pkt) == 40 + 24 + 8, "NA with one option is 72 bytes");
	memset(&pkt, 0, sizeof(pkt));
	pkt.ip6.ip6_flow = htonl(6u << 28);
	pkt.ip6.ip6_plen = htons(icmp_len);
	pkt.ip6.ip6_nxt = IPPROTO_ICMPV6;
	pkt.ip6.ip6_hlim = 255;        /* receivers drop anything less (§7.1.2) */
	memcpy(&pkt.ip6.ip6_src, ip, 16);
	inet_pton(AF_INET6, "ff02::1", &pkt.ip6.ip6_dst);
	pkt.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	/* Override, not solicited (a solicited one to multicast is dropped). */
	pkt.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	memcpy(&pkt.na.nd_na_target, ip, 16);
	pkt.opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
	pkt.opt.nd_opt_len = 1;        /* in units of 8 bytes */
	memcpy(pkt.lladdr, mac, 6);
	sum = csum_add(0, &pkt.ip6.ip6_src, 32);
	sum = csum_add(sum, pseudo, sizeof(pseudo));
	sum = csum_add(sum, &pkt.na, icmp_len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	pkt.na.nd_na_cksum = htons(~sum & 0xffff);
	return packet_send(fd, index, ETH_P_IPV6, all_nodes_mac, &pkt, sizeof(pkt));
}

int netident_announce(const char *ifname, const struct hrpc_netident *idp)
{
	struct hrpc_netident id;
	struct link l;
	struct nl nl;
	unsigned int i;
	int err, fd;

	memcpy(&id, idp, sizeof(id));
	err = hrpc_netident_check(&id);
	if (err)
		return err;
	err = nl_open(&nl, 0);
	if (err)
		return err;
	err = link_get(&nl, 0, ifname, &l);
	close(nl.fd);
	if (err)
		return err;
	if (!(l.flags & IFF_UP))
		return -ENETDOWN;
	/* The frames' Ethernet source is the interface's MAC: it must be the
	 * one they announce. */
	if (l.maclen != 6 || memcmp(l.mac, id.mac, 6))
		return -EADDRNOTAVAIL;
	/* Protocol 0: this socket only sends, nothing is queued to it. */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (i = 0; !err && i < id.naddr; i++) {
		if (id.addr[i].family == HRPC_AF_INET)
			err = send_garp(fd, l.index, id.mac, id.addr[i].addr);
		else
			err = send_na(fd, l.index, id.mac, id.addr[i].addr);
	}
	close(fd);
	return err;
}

/* ---- netns, format -------------------------------------------------- */

struct ns_call {
	int nsfd;
	int (*fn)(void *);
	void *arg;
	int ret;
};

static void *ns_thread(void *p)
{
	struct ns_call *c = p;

	/* This thread ends with the call, so no later work runs in the netns. */
	if (setns(c->nsfd, CLONE_NEWNET) < 0)
		c->ret = -errno;
	else
		c->ret = c->fn(c->arg);
	return NULL;
}

int netident_in_netns(int nsfd, int (*fn)(void *), void *arg)
{
	struct ns_call c = { .nsfd = nsfd, .fn = fn, .arg = arg };
	pthread_t t;
	int err;

	err = pthread_create(&t, NULL, ns_thread, &c);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return c.ret;
}

__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n + 1 >= len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (r > 0)
		*n = *n + r < len ? *n + r : len - 1;
}

void netident_format(const struct hrpc_netident *id, char *buf, size_t len)
{
	unsigned int i, naddr = id->naddr < HRPC_NETIDENT_MAX_ADDR ? id->naddr : HRPC_NETIDENT_MAX_ADDR;
	const unsigned char *m = id->mac;
	size_t n = 0;

	if (!len)
		return;
	buf[0] = '\0';
	append(buf, len, &n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	if (id->mtu)
		append(buf, len, &n, " mtu %u", (unsigned int)id->mtu);
	for (i = 0; i < naddr; i++) {
		const struct hrpc_netident_addr *a = &id->addr[i];
		char s[INET6_ADDRSTRLEN] = "?";

		if (a->family == HRPC_AF_INET)
			inet_ntop(AF_INET, a->addr, s, sizeof(s));
		else if (a->family == HRPC_AF_INET6)
			inet_ntop(AF_INET6, a->addr, s, sizeof(s));
		append(buf, len, &n, " %s/%u", s, a->prefixlen);
	}
}

/* ---- a migration's switch ------------------------------------------------- */

int netident_go_live(const char *ifname, const struct hrpc_netident *idp)
{
	struct hrpc_netident id;
	struct nl nl;
	struct link l;
	int err;

	memcpy(&id, idp, sizeof(id));
	err = hrpc_netident_check(&id);
	if (err)
		return err;
	err = nl_open(&nl, 0);
	if (err)
		return err;
	err = link_get(&nl, 0, ifname, &l);
	/* ARP on, then the guest's MAC while up (veth, macvlan and most
	 * virtual links take it live): the address change flushes the
	 * neighbour entries made while ARP was off, and the addresses stay
	 * (IPv6 ones would go with a link down). */
	if (!err)
		err = link_set_flag(&nl, l.index, IFF_NOARP, false);
	if (!err)
		err = link_set_mac_mtu(&nl, l.index, id.mac, 0);
	close(nl.fd);
	return err;
}
