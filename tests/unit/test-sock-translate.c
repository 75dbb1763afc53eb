/* SPDX-License-Identifier: MIT */
/*
 * test-sock-translate - the socket service's IPv4/IPv6 translation as pure
 * functions (outsource/sock/translate.h): the `translate` parser with
 * hostile input (bad prefixes, lengths that do not fit, host bits, same
 * family, overlapping rules, too many, random words), the mapping and its
 * reverse (every host bit carried, odd prefix lengths, 10000 random
 * addresses round-trip), a guest's address to the host's and back for
 * each kind of socket, the per-socket audit memory, the guest's view of
 * options, and the policy's verdict on translated addresses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "outsource/sock/policy.h"
#include "outsource/sock/translate.h"

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Parse "translate ..." words from one string. */
static int parse_words(const char *line, struct sock_xlat_rule *r, char *why, size_t whylen)
{
	char buf[512], *w[8], *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok_r(buf, " ", &save); t && n < 8; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	return sock_xlat_parse((const char *const *)w, n, r, why, whylen);
}

static void sin_of(struct sockaddr_storage *ss, int family, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr);
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr);
	}
}

static bool ss_is(const struct sockaddr_storage *ss, int family, const char *ip, uint16_t port)
{
	struct sockaddr_storage w;

	sin_of(&w, family, ip, port);
	if (ss->ss_family != family)
		return false;
	if (family == AF_INET)
		return !memcmp(ss, &w, sizeof(struct sockaddr_in));
	return !memcmp(&((struct sockaddr_in6 *)ss)->sin6_addr, &((struct sockaddr_in6 *)&w)->sin6_addr, 16) &&
	       ((struct sockaddr_in6 *)ss)->sin6_port == htons(port);
}

static void test_parse(void)
{
	struct sock_xlat_rule r;
	char why[160], f[128];
	uint8_t want[16] = { 0 };
	int wrong = 0;

	wrong += parse_words("10.64.0.0/16 -> 2001:db8:1::/112", &r, why, sizeof(why)) != 0;
	inet_pton(AF_INET6, "2001:db8:1::", want);
	wrong += r.from_family != AF_INET || r.to_family != AF_INET6 || r.from_plen != 16 ||
		 r.to_plen != 112 || memcmp(r.to, want, 16) || r.from[0] != 10 || r.from[1] != 64;
	sock_xlat_format(&r, f, sizeof(f));
	wrong += strcmp(f, "10.64.0.0/16 -> 2001:db8:1::/112") != 0;
	wrong += parse_words("10.64.0.1 -> ::1", &r, why, sizeof(why)) != 0 ||
		 r.from_plen != 32 || r.to_plen != 128;
	wrong += parse_words("nat64", &r, why, sizeof(why)) != 0 || strcmp(r.name, "nat64") ||
		 r.from_family != AF_INET6 || r.from_plen != 96 || r.to_plen != 0;
	sock_xlat_format(&r, f, sizeof(f));
	wrong += strcmp(f, "64:ff9b::/96 -> 0.0.0.0/0") != 0;
	wrong += parse_words("mapped", &r, why, sizeof(why)) != 0 || strcmp(r.name, "mapped");
	sock_xlat_format(&r, f, sizeof(f));
	wrong += strcmp(f, "::ffff:0.0.0.0/96 -> 0.0.0.0/0") != 0;
	wrong += parse_words("2001:db8:64::/96 -> 0.0.0.0/0", &r, why, sizeof(why)) != 0;
	wrong += parse_words("0.0.0.0/0 -> 64:ff9b::/96", &r, why, sizeof(why)) != 0;
	wrong += parse_words("192.0.2.128/25 -> 2001:db8::80/121", &r, why, sizeof(why)) != 0;
	tap_ok(!wrong, "good rules parse: prefixes, whole addresses, nat64, mapped (%d wrong)", wrong);
}

static void test_hostile(void)
{
	static const char *const bad[] = {
		"10.64.0.0/16 -> 2001:db8::/64",        /* host bits 16 vs 64 */
		"10.64.0.0/33 -> ::/95",                /* /33 on IPv4 */
		"10.64.0.0/16 -> ::/129",
		"10.64.0.0/ -> ::/112",
		"10.64.0.0/-1 -> ::/112",
		"10.64.0.0/1x -> ::/112",
		"10.64.0.0/0016 -> ::/112",
		"10.64.0.0/16/16 -> ::/112",
		"10.64.1.0/16 -> 2001:db8:1::/112",     /* host bits set */
		"10.64.0.0/16 -> 2001:db8:1::1/112",
		"10.0.0.0/8 -> 11.0.0.0/8",              /* same family */
		"::/96 -> 64:ff9b::/96",
		"10.0.0.0/8 -> ::ffff:10.0.0.0/104",     /* IPv4-mapped target */
		"10.0.0.0/8 2001:db8::/104",             /* no arrow */
		"10.0.0.0/8 => 2001:db8::/104",
		"10.0.0.0/8 -> 2001:db8::/104 extra",
		"-> 2001:db8::/104",
		"nat64 64:ff9b::/96",
		"nat46",
		"NAT64",
		"",
		"300.1.1.1 -> ::/96",
		"10.1 -> ::/120",
		"1.2.3.4 -> fe80::1%eth0",
		"1.2.3.4/32 -> ::/128x",
		"/8 -> ::/104",
		"10.0.0.0/8 -> /104",
		"any -> 2001:db8::/96",
		"loopback -> ::1",
		"1234567890123456789012345678901234567890123456789012345678901234567890/8 -> ::/104",
	};
	struct sock_xlat_rule r;
	char why[160];
	int wrong = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		if (parse_words(bad[i], &r, why, sizeof(why)) != -EINVAL || !why[0]) {
			wrong++;
			tap_diag("accepted or unexplained: '%s'", bad[i]);
		}
	}
	tap_ok(!wrong, "%zu hostile rules refused, each with a reason (%d wrong)",
	       sizeof(bad) / sizeof(bad[0]), wrong);

	/* random words never crash; whatever is accepted is a sound rule */
	wrong = 0;
	for (int i = 0; i < 20000; i++) {
		static const char *const parts[] = {
			"10.", "0.", "255.", "1", "64", "::", ":", "ffff", "64:ff9b", "/", "/0", "/32",
			"/96", "/128", "/33", "2001:db8", "0", "->", " ", "nat64", "mapped", "%",
			"9999", ".", "a", "-",
		};
		char line[128] = "";
		int np = 1 + (int)(rnd() % 12);
		unsigned int hf, ht;

		for (int k = 0; k < np; k++)
			strncat(line, parts[rnd() % (sizeof(parts) / sizeof(parts[0]))],
				sizeof(line) - strlen(line) - 1);
		if (parse_words(line, &r, why, sizeof(why)) != 0)
			continue;
		hf = (r.from_family == AF_INET ? 32u : 128u) - r.from_plen;
		ht = (r.to_family == AF_INET ? 32u : 128u) - r.to_plen;
		if (r.from_family == r.to_family || hf != ht ||
		    (r.from_family != AF_INET && r.from_family != AF_INET6)) {
			wrong++;
			tap_diag("unsound rule accepted: '%s'", line);
		}
	}
	tap_ok(!wrong, "20000 random rule texts: no crash, every accepted rule is sound (%d wrong)",
	       wrong);
}

static void test_overlap(void)
{
	static const struct {
		const char *a, *b;
		bool ok;
	} cases[] = {
		{ "10.64.0.0/16 -> 2001:db8:1::/112", "10.64.5.0/24 -> 2001:db8:2::/120", false },
		{ "10.64.5.0/24 -> 2001:db8:2::/120", "10.64.0.0/16 -> 2001:db8:1::/112", false },
		{ "10.64.0.0/16 -> 2001:db8:1::/112", "10.65.0.0/24 -> 2001:db8:1::/120", false },
		{ "10.64.0.0/16 -> 2001:db8:1::/112", "10.65.0.0/16 -> 2001:db8:1::/112", true },
		{ "10.64.0.0/16 -> 2001:db8:1::/112", "10.65.0.0/16 -> 2001:db8:2::/112", true },
		{ "nat64", "nat64", false },
		{ "nat64", "mapped", true },
		{ "nat64", "64:ff9b::a00:0/104 -> 10.0.0.0/8", false },
		{ "nat64", "0.0.0.0/0 -> 64:ff9b::/96", true },   /* other direction */
		{ "0.0.0.0/0 -> 64:ff9b::/96", "10.0.0.1 -> ::1", false },
	};
	struct sock_xlat_rule rules[SOCK_XLAT_MAX_RULES + 1], r;
	char why[160];
	int wrong = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_words(cases[i].a, &rules[0], why, sizeof(why));
		rules[0].line = 1;
		parse_words(cases[i].b, &r, why, sizeof(why));
		why[0] = 0;
		if ((sock_xlat_check(rules, 1, &r, why, sizeof(why)) == 0) != cases[i].ok ||
		    (!cases[i].ok && !strstr(why, "line 1"))) {
			wrong++;
			tap_diag("'%s' + '%s': %s (%s)", cases[i].a, cases[i].b,
				 cases[i].ok ? "refused" : "accepted", why);
		}
	}
	for (int i = 0; i < SOCK_XLAT_MAX_RULES; i++) {
		char line[64];

		snprintf(line, sizeof(line), "10.%d.0.0/16 -> 2001:db8:%x::/112", i, i);
		wrong += parse_words(line, &rules[i], why, sizeof(why)) != 0;
		wrong += sock_xlat_check(rules, (size_t)i, &rules[i], why, sizeof(why)) != 0;
	}
	parse_words("10.200.0.0/16 -> 2001:db8:ff::/112", &r, why, sizeof(why));
	wrong += sock_xlat_check(rules, SOCK_XLAT_MAX_RULES, &r, why, sizeof(why)) != -EINVAL;
	tap_ok(!wrong, "overlapping FROM prefixes, or TO prefixes that differ, are refused naming "
	       "the other rule's line; %d rules at most (%d wrong)", SOCK_XLAT_MAX_RULES, wrong);
}

static void test_mapping(void)
{
	static const char *const rules_txt[] = {
		"10.64.0.0/16 -> 2001:db8:1::/112",
		"10.64.0.0/13 -> 2001:db8:1::/109",
		"192.0.2.128/25 -> 2001:db8::80/121",
		"0.0.0.0/0 -> 64:ff9b::/96",
		"nat64",
		"mapped",
		"2001:db8:abcd::/101 -> 8.0.0.0/5",
		"1.2.3.4 -> ::1",
	};
	struct sock_xlat_rule r;
	uint8_t in[16] = { 0 }, out[16], back[16], want[16] = { 0 };
	char why[160];
	int wrong = 0;

	parse_words("10.64.0.0/16 -> 2001:db8:1::/112", &r, why, sizeof(why));
	inet_pton(AF_INET, "10.64.1.2", in);
	sock_xlat_apply(&r, in, out);
	inet_pton(AF_INET6, "2001:db8:1::102", want);
	wrong += memcmp(out, want, 16) != 0;
	wrong += !sock_xlat_reverse(&r, out, back) || memcmp(back, in, 4) || back[4];
	inet_pton(AF_INET6, "2001:db8:2::102", want);
	wrong += sock_xlat_reverse(&r, want, back);          /* not in TO */
	parse_words("10.64.0.0/13 -> 2001:db8:1::/109", &r, why, sizeof(why));
	inet_pton(AF_INET, "10.71.255.255", in);
	sock_xlat_apply(&r, in, out);
	inet_pton(AF_INET6, "2001:db8:1::7:ffff", want);
	wrong += memcmp(out, want, 16) != 0;
	parse_words("nat64", &r, why, sizeof(why));
	inet_pton(AF_INET6, "64:ff9b::7f00:1", in);
	sock_xlat_apply(&r, in, out);
	inet_pton(AF_INET, "127.0.0.1", want);
	wrong += memcmp(out, want, 4) != 0;
	tap_ok(!wrong, "10.64.1.2 -> 2001:db8:1::102 and back, /13 -> /109 carries 19 bits, "
	       "64:ff9b::7f00:1 -> 127.0.0.1 (%d wrong)", wrong);

	/* every rule: random addresses in FROM map into TO and back */
	wrong = 0;
	for (size_t k = 0; k < sizeof(rules_txt) / sizeof(rules_txt[0]); k++) {
		unsigned int fb;

		if (parse_words(rules_txt[k], &r, why, sizeof(why))) {
			wrong++;
			continue;
		}
		fb = r.from_family == AF_INET ? 4 : 16;
		for (int i = 0; i < 10000 / 8; i++) {
			for (unsigned int b = 0; b < 16; b++)
				in[b] = b < fb ? (uint8_t)rnd() : 0;
			/* put it in FROM: the network bits from the rule */
			for (unsigned int bit = 0; bit < r.from_plen; bit++) {
				uint8_t m = (uint8_t)(0x80 >> (bit % 8));

				in[bit / 8] = (uint8_t)((in[bit / 8] & ~m) | (r.from[bit / 8] & m));
			}
			sock_xlat_apply(&r, in, out);
			if (sock_xlat_find(&r, 1, 1, r.to_family, out) != 0 ||
			    !sock_xlat_reverse(&r, out, back) || memcmp(back, in, 16)) {
				wrong++;
				break;
			}
		}
	}
	tap_ok(!wrong, "10000 random addresses in 8 rules map into TO and back unchanged "
	       "(%d wrong)", wrong);
}

/* One policy's rules, as the service has them. */
static struct sock_policy pol;

static void test_to_host(void)
{
	struct sock_xlat_sock st = { 0 };
	struct sockaddr_storage g;
	struct sock_xlat_dest d;
	int wrong = 0;

	sin_of(&g, AF_INET, "10.64.1.2", 80);
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET, &st, true, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET6, "2001:db8:1::102", 80) || d.rule != 0 || !d.need_v6 ||
		 d.len != sizeof(struct sockaddr_in6);
	/* bind: no rule */
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET, &st, false, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET, "10.64.1.2", 80) || d.rule != -1 || d.need_v6;
	sin_of(&g, AF_INET, "192.0.2.1", 53);
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET, &st, true, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET, "192.0.2.1", 53) || d.rule != -1 || d.need_v6 ||
		 d.len != sizeof(struct sockaddr_in);
	/* an IPv4 socket the host made IPv6: the mapped form, for bind too */
	st.host_family = AF_INET6;
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET, &st, true, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET6, "::ffff:192.0.2.1", 53) || d.rule != -1;
	sin_of(&g, AF_INET, "0.0.0.0", 0);
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET, &st, false, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET6, "::ffff:0.0.0.0", 0);
	sin_of(&g, AF_INET6, "2001:db8::1", 80);
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET, &st, true, &g, &d) != -EAFNOSUPPORT;
	st.host_family = 0;
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET, &st, true, &g, &d) != 0 ||
		 d.rule != -1;   /* the IPv4 host socket refuses it itself */
	/* IPv6 guest sockets */
	sin_of(&g, AF_INET6, "64:ff9b::a01:203", 443);
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET6, &st, true, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET6, "::ffff:10.1.2.3", 443) || !d.need_dual || d.need_v6 ||
		 d.rule != 1;
	sin_of(&g, AF_INET6, "::ffff:10.1.2.3", 443);
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET6, &st, true, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET6, "::ffff:10.1.2.3", 443) || !d.need_dual || d.rule != 2;
	sin_of(&g, AF_INET6, "2001:db8::1", 80);
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET6, &st, true, &g, &d) != 0 ||
		 !ss_is(&d.addr, AF_INET6, "2001:db8::1", 80) || d.need_dual || d.rule != -1;
	g.ss_family = AF_UNIX;
	wrong += sock_xlat_to_host(pol.xlat, pol.nxlat, AF_INET6, &st, true, &g, &d) != -EAFNOSUPPORT;
	tap_ok(!wrong, "guest -> host: 4->6 rule (needs an IPv6 socket), bind untouched, plain IPv4 "
	       "as is or mapped on a re-made socket, nat64 and mapped (need dual-stack), "
	       "wrong families refused (%d wrong)", wrong);
}

static void test_to_guest(void)
{
	struct sock_xlat_sock st = { 0 };
	struct sockaddr_storage h, o;
	int wrong = 0;

	/* guest AF_INET on a re-made IPv6 socket */
	st.host_family = AF_INET6;
	sin_of(&h, AF_INET6, "::ffff:192.0.2.1", 53);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET, "192.0.2.1", 53);
	sin_of(&h, AF_INET6, "2001:db8:1::102", 80);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET, "10.64.1.2", 80);
	sin_of(&h, AF_INET6, "::", 4000);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET, "0.0.0.0", 4000);
	sin_of(&h, AF_INET6, "2001:db8:9::1", 4001);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET, &st, &h, &o) != -EADDRNOTAVAIL ||
		 !ss_is(&o, AF_INET, "0.0.0.0", 4001);
	/* in place */
	sin_of(&h, AF_INET6, "2001:db8:1::ffff", 7);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET, &st, &h, &h) != 0 ||
		 !ss_is(&h, AF_INET, "10.64.255.255", 7);
	/* guest AF_INET6 */
	memset(&st, 0, sizeof(st));
	sin_of(&h, AF_INET6, "::ffff:127.0.0.1", 80);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "::ffff:127.0.0.1", 80);    /* Linux's view */
	st.rule = 2;                                             /* used nat64 (rule 1) */
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "64:ff9b::7f00:1", 80);
	st.rule = 3;                                             /* used mapped (rule 2) */
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "::ffff:127.0.0.1", 80);
	st.rule = 1;                                             /* a 4->6 rule: not this way */
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "::ffff:127.0.0.1", 80);
	st.v6only = true;                                        /* cannot show mapped */
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "64:ff9b::7f00:1", 80);
	sin_of(&h, AF_INET, "127.0.0.1", 80);                   /* IPv4 sockaddr for IPv6 */
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "64:ff9b::7f00:1", 80);
	sin_of(&h, AF_INET6, "2001:db8::5", 80);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "2001:db8::5", 80);
	st.rule = 60000;                                         /* out of range: ignored */
	sin_of(&h, AF_INET6, "::ffff:127.0.0.1", 80);
	wrong += sock_xlat_to_guest(pol.xlat, pol.nxlat, AF_INET6, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET6, "64:ff9b::7f00:1", 80);
	/* no rules at all: unchanged */
	memset(&st, 0, sizeof(st));
	sin_of(&h, AF_INET, "10.64.1.2", 80);
	wrong += sock_xlat_to_guest(NULL, 0, AF_INET, &st, &h, &o) != 0 ||
		 !ss_is(&o, AF_INET, "10.64.1.2", 80);
	tap_ok(!wrong, "host -> guest: mapped unwrapped for IPv4, translated back, the wildcard as "
	       "0.0.0.0, unknown IPv6 refused; IPv6 sockets see the form they used (%d wrong)",
	       wrong);
}

static void test_socket_state(void)
{
	struct sock_xlat_sock st = { 0 };
	struct sockaddr_storage a;
	int wrong = 0, v;

	sin_of(&a, AF_INET6, "2001:db8:1::1", 53);
	wrong += !sock_xlat_first_use(&st, &a);
	wrong += sock_xlat_first_use(&st, &a);
	sin_of(&a, AF_INET6, "2001:db8:1::1", 54);              /* another port */
	wrong += !sock_xlat_first_use(&st, &a);
	for (int i = 2; i <= SOCK_XLAT_SEEN; i++) {
		char ip[64];

		snprintf(ip, sizeof(ip), "2001:db8:1::%d", i);
		sin_of(&a, AF_INET6, ip, 53);
		wrong += !sock_xlat_first_use(&st, &a);
	}
	sin_of(&a, AF_INET6, "2001:db8:1::1", 53);              /* forgotten by now */
	wrong += !sock_xlat_first_use(&st, &a);
	st.next = 200;                                           /* a corrupt index stays in range */
	sin_of(&a, AF_INET, "10.0.0.1", 1);
	wrong += !sock_xlat_first_use(&st, &a);
	wrong += st.next >= SOCK_XLAT_SEEN;

	v = AF_INET6;
	sock_xlat_getopt(&st, AF_INET, SOL_SOCKET, SO_DOMAIN, &v, sizeof(v));
	wrong += v != AF_INET;
	v = 0;
	sock_xlat_getopt(&st, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v));
	wrong += v != 0;
	st.v6only = true;
	sock_xlat_getopt(&st, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v));
	wrong += v != 1;
	v = 7;
	sock_xlat_getopt(&st, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, &v, 2);  /* short: untouched */
	wrong += v != 7;
	tap_ok(!wrong, "a socket audits each translated destination once (among its last %d), "
	       "SO_DOMAIN and IPV6_V6ONLY read as the guest set them (%d wrong)",
	       SOCK_XLAT_SEEN, wrong);
}

/* `host` rules: none of these is the host's own address. */
static int not_host(void *ctx, const struct sock_addr_norm *a)
{
	return 0;
}

/* The policy decides on what the host uses: a translated destination gets
 * no way around the built-in rules. */
static void test_policy(void)
{
	static const struct {
		int family;
		const char *ip;
		bool allowed;
	} cases[] = {
		{ AF_INET, "10.64.0.1", false },         /* -> ::1 */
		{ AF_INET, "10.64.0.2", true },          /* -> 2001:db8:1::2 */
		{ AF_INET, "10.66.0.0", false },         /* -> :: (connect: loopback) */
		{ AF_INET6, "64:ff9b::7f00:1", false },  /* -> 127.0.0.1 */
		{ AF_INET6, "64:ff9b::a9fe:a9fe", false }, /* -> 169.254.169.254 */
		{ AF_INET6, "64:ff9b::c000:201", true }, /* -> 192.0.2.1 */
		{ AF_INET6, "::ffff:127.0.0.1", false },
	};
	struct sock_policy p;
	struct sock_xlat_sock st = { 0 };
	char err[160];
	int wrong = 0;

	sock_policy_init(&p);
	wrong += sock_policy_parse(&p, "translate 10.64.0.0/16 -> 2001:db8:1::/112\n"
				   "translate 10.64.0.1 -> ::1\n", err, sizeof(err)) != -EINVAL;
	sock_policy_clear(&p);
	sock_policy_init(&p);
	wrong += sock_policy_parse(&p, "translate 10.64.0.1 -> ::1\n"
				   "translate 10.64.0.2 -> 2001:db8:1::2\n"
				   "translate 10.66.0.0 -> ::\n"
				   "translate nat64\ntranslate mapped\n", err, sizeof(err)) != 0;
	sock_policy_add_builtin(&p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage g;
		struct sock_xlat_dest d;
		struct sock_addr_norm n;
		bool ok;

		sin_of(&g, cases[i].family, cases[i].ip, 80);
		if (sock_xlat_to_host(p.xlat, p.nxlat, cases[i].family, &st, true, &g, &d) ||
		    d.rule < 0 ||
		    sock_addr_normalize((struct sockaddr *)&d.addr, d.len, SOCK_POLICY_CONNECT, &n)) {
			wrong++;
			continue;
		}
		ok = sock_policy_allows(&p, SOCK_POLICY_CONNECT, &n, not_host, NULL);
		if (ok != cases[i].allowed) {
			wrong++;
			tap_diag("%s: %s", cases[i].ip, ok ? "allowed" : "denied");
		}
	}
	sock_policy_clear(&p);
	sock_policy_init(&p);
	sock_policy_parse(&p, "translate 10.64.0.1 -> ::1\nconnect allow ::1 8080\n", err, sizeof(err));
	sock_policy_add_builtin(&p);
	{
		struct sockaddr_storage g;
		struct sock_xlat_dest d;
		struct sock_addr_norm n;

		sin_of(&g, AF_INET, "10.64.0.1", 8080);
		sock_xlat_to_host(p.xlat, p.nxlat, AF_INET, &st, true, &g, &d);
		sock_addr_normalize((struct sockaddr *)&d.addr, d.len, SOCK_POLICY_CONNECT, &n);
		wrong += !sock_policy_allows(&p, SOCK_POLICY_CONNECT, &n, not_host, NULL);
		sin_of(&g, AF_INET, "10.64.0.1", 22);
		sock_xlat_to_host(p.xlat, p.nxlat, AF_INET, &st, true, &g, &d);
		sock_addr_normalize((struct sockaddr *)&d.addr, d.len, SOCK_POLICY_CONNECT, &n);
		wrong += sock_policy_allows(&p, SOCK_POLICY_CONNECT, &n, not_host, NULL);
	}
	sock_policy_clear(&p);
	tap_ok(!wrong, "the built-in rules judge the translated address: ::1, ::, 127.0.0.1 and "
	       "169.254.169.254 behind rules stay denied; `connect allow ::1 8080` opens only "
	       "that (%d wrong)", wrong);
}

static void test_print(void)
{
	struct sock_policy p;
	char err[160], *txt = NULL;
	size_t len = 0;
	FILE *f;
	int wrong = 0;

	sock_policy_init(&p);
	sock_policy_parse(&p, "translate 10.64.0.0/16 -> 2001:db8:1::/112\ntranslate nat64\n",
			  err, sizeof(err));
	f = open_memstream(&txt, &len);
	sock_policy_print(&p, f, false);
	fclose(f);
	wrong += !strstr(txt, "translate 10.64.0.0/16 -> 2001:db8:1::/112") ||
		 !strstr(txt, "policy line 1") ||
		 !strstr(txt, "translate 64:ff9b::/96 -> 0.0.0.0/0") || !strstr(txt, "(nat64)");
	free(txt);
	f = open_memstream(&txt, &len);
	sock_policy_print(&p, f, true);
	fclose(f);
	wrong += !strstr(txt, "\"translate\":[{\"rule\":\"10.64.0.0/16 -> 2001:db8:1::/112\","
			 "\"name\":\"\",\"line\":1},{\"rule\":\"64:ff9b::/96 -> 0.0.0.0/0\","
			 "\"name\":\"nat64\",\"line\":2}]}");
	if (wrong)
		tap_diag("%s", txt);
	free(txt);
	sock_policy_clear(&p);
	tap_ok(!wrong, "the policy listing shows the translate rules (table and JSON)");
}

int main(void)
{
	char err[160];

	tap_plan(11);
	test_parse();
	test_hostile();
	test_overlap();
	test_mapping();
	sock_policy_init(&pol);
	if (sock_policy_parse(&pol, "translate 10.64.0.0/16 -> 2001:db8:1::/112\n"
			      "translate nat64\ntranslate mapped\n", err, sizeof(err))) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	test_to_host();
	test_to_guest();
	test_socket_state();
	sock_policy_clear(&pol);
	test_policy();
	test_print();
	return tap_done();
}
