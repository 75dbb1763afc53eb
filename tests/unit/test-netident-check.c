/* SPDX-License-Identifier: MIT */
/*
 * test-netident-check - the destination's check of a network identity that
 * another host sent (include/hostrpc/netident.h): good records pass, and a
 * record forged against each rule fails with -EINVAL; netident_format()
 * renders the log line and stays in its buffer on a forged record.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "hostrpc/netident.h"
#include "migrate/netident.h"
#include "tests/tap.h"

static void set_addr(struct hrpc_netident_addr *a, int family, const char *s, unsigned int plen)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	a->prefixlen = plen;
	inet_pton(family == HRPC_AF_INET ? AF_INET : AF_INET6, s, a->addr);
}

/* 02:78:00:00:00:10 mtu 1500 10.78.0.10/24 fd78::10/64 */
static struct hrpc_netident good(void)
{
	struct hrpc_netident id = {
		.magic = HRPC_NETIDENT_MAGIC,
		.version = HRPC_NETIDENT_VERSION,
		.naddr = 2,
		.mac = { 0x02, 0x78, 0, 0, 0, 0x10 },
		.mtu = 1500,
	};

	set_addr(&id.addr[0], HRPC_AF_INET, "10.78.0.10", 24);
	set_addr(&id.addr[1], HRPC_AF_INET6, "fd78::10", 64);
	return id;
}

/* The good record with its second entry (IPv6) or first (IPv4) replaced. */
static int check_addr(int family, const char *s, unsigned int plen)
{
	struct hrpc_netident id = good();

	set_addr(&id.addr[family == HRPC_AF_INET ? 0 : 1], family, s, plen);
	return hrpc_netident_check(&id);
}

static void test_good(void)
{
	struct hrpc_netident id = good();
	unsigned int i;

	tap_ok(hrpc_netident_check(&id) == 0, "good: MAC, MTU, an IPv4 and an IPv6 address");
	id.naddr = 0;
	memset(id.addr, 0, sizeof(id.addr));
	id.mtu = 0;
	tap_ok(hrpc_netident_check(&id) == 0, "good: no addresses, MTU 0 (keep)");
	id.naddr = HRPC_NETIDENT_MAX_ADDR;
	for (i = 0; i < HRPC_NETIDENT_MAX_ADDR; i++) {
		char s[32];

		snprintf(s, sizeof(s), "2001:db8::%u", i + 1);
		set_addr(&id.addr[i], HRPC_AF_INET6, s, 128);
	}
	tap_ok(hrpc_netident_check(&id) == 0, "good: 8 addresses, prefix length 128");
	id = good();
	id.mtu = 68;
	id.naddr = 1;
	memset(&id.addr[1], 0, sizeof(id.addr[1]));
	tap_ok(hrpc_netident_check(&id) == 0, "good: MTU 68 with IPv4 only");
	id = good();
	id.mtu = 65535;
	tap_ok(hrpc_netident_check(&id) == 0, "good: MTU 65535");
	tap_ok(check_addr(HRPC_AF_INET, "223.255.255.254", 32) == 0 &&
	       check_addr(HRPC_AF_INET, "1.0.0.1", 0) == 0,
	       "good: IPv4 at the edges of the forbidden ranges, prefix 0 and 32");
}

static void test_header(void)
{
	struct hrpc_netident id;

	id = good(); id.magic ^= 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "bad magic");
	id = good(); id.version = 2;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "version 2");
	id = good(); id.version = 0;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "version 0");
	id = good(); id.naddr = HRPC_NETIDENT_MAX_ADDR + 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "9 addresses");
	id = good(); id.naddr = 0xffff;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "65535 addresses");
	id = good(); id.pad[1] = 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "header padding not zero");
	id = good(); id.mac[0] = 0x03;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "multicast MAC");
	id = good(); memset(id.mac, 0xff, 6);
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "broadcast MAC");
	id = good(); memset(id.mac, 0, 6);
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "all-zero MAC");
	id = good(); id.mtu = 67;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "MTU 67");
	id = good(); id.mtu = 65536;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "MTU 65536");
	id = good(); id.mtu = 0xffffffffu;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "MTU 2^32-1");
	id = good(); id.mtu = 1279;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "MTU 1279 with an IPv6 address");
	id = good(); id.naddr = 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "an entry past naddr not zero");
	id = good(); id.addr[7].pad[0] = 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "the last unused entry not zero");
}

static void test_addr(void)
{
	struct hrpc_netident id;

	id = good(); id.addr[0].family = 0;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "family 0");
	id = good(); id.addr[1].family = 28;   /* AF_INET6 of the BSDs */
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "unknown family 28");
	tap_ok(check_addr(HRPC_AF_INET, "10.78.0.10", 33) == -EINVAL, "IPv4 prefix length 33");
	tap_ok(check_addr(HRPC_AF_INET6, "fd78::10", 129) == -EINVAL, "IPv6 prefix length 129");
	id = good(); id.addr[0].addr[4] = 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "IPv4 address with byte 4 set");
	id = good(); id.addr[0].addr[15] = 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "IPv4 address with byte 15 set");
	id = good(); id.addr[1].pad[1] = 1;
	tap_ok(hrpc_netident_check(&id) == -EINVAL, "address padding not zero");
	tap_ok(check_addr(HRPC_AF_INET, "0.0.0.0", 24) == -EINVAL, "IPv4 unspecified");
	tap_ok(check_addr(HRPC_AF_INET, "0.1.2.3", 8) == -EINVAL, "IPv4 0.0.0.0/8");
	tap_ok(check_addr(HRPC_AF_INET, "127.0.0.1", 8) == -EINVAL, "IPv4 loopback");
	tap_ok(check_addr(HRPC_AF_INET, "224.0.0.1", 24) == -EINVAL, "IPv4 multicast 224.0.0.1");
	tap_ok(check_addr(HRPC_AF_INET, "239.255.255.255", 24) == -EINVAL,
	       "IPv4 multicast 239.255.255.255");
	tap_ok(check_addr(HRPC_AF_INET6, "::", 64) == -EINVAL, "IPv6 unspecified");
	tap_ok(check_addr(HRPC_AF_INET6, "::1", 128) == -EINVAL, "IPv6 loopback");
	tap_ok(check_addr(HRPC_AF_INET6, "ff02::1", 64) == -EINVAL, "IPv6 multicast");
	tap_ok(check_addr(HRPC_AF_INET6, "fe80::78:ff:fe00:10", 64) == -EINVAL,
	       "IPv6 link-local fe80::");
	tap_ok(check_addr(HRPC_AF_INET6, "febf::1", 64) == -EINVAL,
	       "IPv6 link-local febf:: (end of fe80::/10)");
	tap_ok(check_addr(HRPC_AF_INET6, "fec0::1", 64) == 0 &&
	       check_addr(HRPC_AF_INET6, "::2", 128) == 0,
	       "IPv6 next to the forbidden ranges passes (fec0::1, ::2)");
}

static void test_format(void)
{
	struct hrpc_netident id = good();
	char buf[128], small[16];

	netident_format(&id, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "02:78:00:00:00:10 mtu 1500 10.78.0.10/24 fd78::10/64"),
	       "format: %s", buf);
	id.mtu = 0;
	id.naddr = 0xffff;           /* forged: only the 8 entries are read */
	id.addr[2].family = 99;
	id.addr[2].prefixlen = 200;
	netident_format(&id, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "02:78:00:00:00:10 10.78.0.10/24 fd78::10/64 ?/200 ?/0 ?/0 ?/0 ?/0 ?/0"),
	       "format of a forged record: no mtu, unknown family as ?, 8 entries: %s", buf);
	memset(small, 'x', sizeof(small));
	netident_format(&id, small, 12);
	tap_ok(!memcmp(small, "02:78:00:00\0xxxx", 16),
	       "format into a 12-byte buffer stops there, terminated, nothing past it");
}

int main(void)
{
	tap_plan(42);
	test_good();
	test_header();
	test_addr();
	test_format();
	return tap_done();
}
