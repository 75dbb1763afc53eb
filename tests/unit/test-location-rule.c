/* SPDX-License-Identifier: MIT */
/*
 * test-location-rule - which connections stay at the source when a guest
 * migrates (migrate/location-rule.h): the spellings of --forward and
 * --keep-local, what each matches, and the order (keep-local, forward,
 * then the default: loopback peers stay).
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "migrate/location-rule.h"
#include "tests/tap.h"

static struct hrpc_sock_addr peer(const char *a, uint16_t port)
{
	struct hrpc_sock_addr p = { .port = port };

	if (inet_pton(AF_INET, a, p.addr) == 1)
		p.family = HRPC_AF_INET;
	else if (inet_pton(AF_INET6, a, p.addr) == 1)
		p.family = HRPC_AF_INET6;
	return p;
}

static bool m(const char *spec, const char *a, uint16_t port)
{
	struct mig_loc_rule r;
	struct hrpc_sock_addr p = peer(a, port);
	char err[200];

	return mig_loc_rule_parse(spec, &r, err, sizeof(err)) == 0 && mig_loc_rule_match(&r, &p);
}

int main(void)
{
	static const char *bad[] = {
		"", "10.0.0.0/33", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:x", "fd00::/129",
		"[fd00::1", "[fd00::1]x", "10.0.0", "localhost", "10.0.0.1/-1", "[10.0.0.1]",
		"10.0.0.1:+80", "any:80",
	};
	struct mig_loc_rule keep, fwd, r;
	struct hrpc_sock_addr p;
	char err[200];
	int nbad = 0;

	tap_plan(9);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		nbad += mig_loc_rule_parse(bad[i], &r, err, sizeof(err)) == -EINVAL;
	tap_ok(nbad == (int)(sizeof(bad) / sizeof(bad[0])), "%d of %zu bad specs refused (%s)",
	       nbad, sizeof(bad) / sizeof(bad[0]), err);
	tap_ok(m("10.9.0.0/16", "10.9.200.1", 80) && !m("10.9.0.0/16", "10.10.0.1", 80) &&
	       m("10.9.0.0/16", "::ffff:10.9.0.1", 80), "an IPv4 prefix, also IPv4-mapped");
	tap_ok(m("10.9.0.5:5432", "10.9.0.5", 5432) && !m("10.9.0.5:5432", "10.9.0.5", 5433) &&
	       m("10.0.0.0/8:80", "10.1.2.3", 80) && !m("10.0.0.0/8:80", "10.1.2.3", 81),
	       "a port narrows it");
	tap_ok(m("fd00::/8", "fd77::10", 1) && !m("fd00::/8", "fe80::1", 1) &&
	       m("[fd00::5]:5432", "fd00::5", 5432) && !m("[fd00::5]:5432", "fd00::5", 1) &&
	       m("[fd00::]/8:80", "fd12::1", 80) && m("[::1]", "::1", 9),
	       "IPv6: bare, bracketed, with a prefix and a port");
	tap_ok(m("loopback", "127.0.0.1", 1) && m("loopback", "127.9.9.9", 1) &&
	       m("loopback", "::1", 1) && m("loopback", "::ffff:127.0.0.1", 1) &&
	       !m("loopback", "10.0.0.1", 1) && !m("loopback", "::2", 1),
	       "loopback: 127/8, ::1 and the mapped form");
	tap_ok(m("any", "10.0.0.1", 1) && m("any", "fd00::1", 1), "any");
	p = peer("127.0.0.1", 7000);
	tap_ok(mig_loc_forward(NULL, 0, NULL, 0, &p) &&
	       !mig_loc_forward(NULL, 0, NULL, 0, &(struct hrpc_sock_addr){ 0 }) &&
	       (p = peer("10.77.0.1", 80), !mig_loc_forward(NULL, 0, NULL, 0, &p)),
	       "the default: a loopback peer stays, the rest move");
	mig_loc_rule_parse("10.77.0.0/24", &fwd, err, sizeof(err));
	mig_loc_rule_parse("127.0.0.1:7001", &keep, err, sizeof(err));
	p = peer("10.77.0.1", 80);
	tap_ok(mig_loc_forward(&keep, 1, &fwd, 1, &p), "--forward makes a LAN peer stay");
	p = peer("127.0.0.1", 7001);
	tap_ok(!mig_loc_forward(&keep, 1, &fwd, 1, &p) &&
	       (p = peer("127.0.0.1", 7000), mig_loc_forward(&keep, 1, &fwd, 1, &p)),
	       "--keep-local moves a loopback peer, and comes before --forward");
	return tap_failed ? 1 : 0;
}
