/* SPDX-License-Identifier: MIT */
/*
 * test-xen-target - DOMAIN "xen:NAME" / "xen:ID" and the xenstore values
 * behind it (guestrpc/vchan.h), the pure half: ids are plain decimal within
 * Xen's range, all digits is an id and never a name, names cannot reach
 * outside a xenstore path, a name picks exactly one domain, and the
 * channel paths fit libxenvchan's buffers.  No xenstore needed.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "guestrpc/vchan.h"
#include "tests/tap.h"

static int domid_of(const char *v)
{
	uint32_t id = 12345;
	int rc = guestrpc_xen_parse_domid(v, strlen(v), &id);

	return rc < 0 ? rc : (int)id;
}

static int target_of(const char *spec, uint32_t *id)
{
	*id = 99999;
	return guestrpc_xen_parse_target(spec, id);
}

int main(void)
{
	char big[300], path[64];
	uint32_t id;
	int rc;

	tap_plan(27);

	/* ---- ids, as xenstore or a user writes them ---- */
	tap_ok(domid_of("0") == 0 && domid_of("7") == 7 && domid_of("32751") == 32751,
	       "domid: 0, 7 and 32751 (the largest) parse");
	tap_ok(domid_of("32752") == -ERANGE && domid_of("65535") == -ERANGE,
	       "domid: DOMID_FIRST_RESERVED and above: ERANGE");
	tap_ok(domid_of("") == -EINVAL && domid_of("007") == -EINVAL && domid_of("-1") == -EINVAL &&
	       domid_of("+1") == -EINVAL && domid_of(" 1") == -EINVAL && domid_of("1 ") == -EINVAL,
	       "domid: empty, leading zero, sign, spaces: EINVAL");
	tap_ok(domid_of("4294967297") == -EINVAL && domid_of("99999999999999999999") == -EINVAL,
	       "domid: more digits than any id has: EINVAL, no overflow");
	tap_ok(guestrpc_xen_parse_domid("12\0" "3", 4, &id) == -EINVAL,
	       "domid: an embedded NUL within the value's length: EINVAL");
	tap_ok(guestrpc_xen_parse_domid("123", 2, &id) == 0 && id == 12,
	       "domid: only `len` bytes are read (xenstore values are not terminated)");

	/* ---- what follows "xen:" ---- */
	rc = target_of("5", &id);
	tap_ok(rc == 1 && id == 5, "target: digits are an id (%d, %u)", rc, id);
	rc = target_of("0", &id);
	tap_ok(rc == 1 && id == 0, "target: 0 parses as an id (refused later as dom0)");
	tap_ok(target_of("007", &id) == -EINVAL && id == 99999,
	       "target: a leading zero is refused, not read as 7 or as a name");
	tap_ok(target_of("32752", &id) == -ERANGE && target_of("123456789012", &id) == -ERANGE,
	       "target: ids out of Xen's range: ERANGE");
	rc = target_of("debian-guest_1.x", &id);
	tap_ok(rc == 0 && id == 99999, "target: a name (%d), the id left alone", rc);
	tap_ok(target_of("5a", &id) == 0 && target_of("a5", &id) == 0,
	       "target: digits and letters make a name");
	tap_ok(target_of("", &id) == -EINVAL, "target: empty: EINVAL");
	tap_ok(target_of("a/b", &id) == -EINVAL && target_of("../0", &id) == -EINVAL &&
	       target_of("/local", &id) == -EINVAL,
	       "target: '/' in a name: EINVAL (never a xenstore path)");
	tap_ok(target_of("a b", &id) == -EINVAL && target_of("a\tb", &id) == -EINVAL &&
	       target_of("a\nb", &id) == -EINVAL && target_of("\x7f", &id) == -EINVAL &&
	       target_of("\xc3\xa9", &id) == -EINVAL,
	       "target: spaces, control bytes, DEL and non-ASCII: EINVAL");
	memset(big, 'a', sizeof(big));
	big[GUESTRPC_XEN_NAME_MAX] = 0;
	tap_ok(target_of(big, &id) == 0, "target: a name of %u bytes is accepted", GUESTRPC_XEN_NAME_MAX);
	big[GUESTRPC_XEN_NAME_MAX] = 'a';
	big[GUESTRPC_XEN_NAME_MAX + 1] = 0;
	tap_ok(target_of(big, &id) == -EINVAL, "target: one byte longer: EINVAL");
	tap_ok(guestrpc_xen_parse_target(NULL, &id) == -EINVAL, "target: NULL: EINVAL");

	/* ---- channel paths ---- */
	rc = guestrpc_vchan_path(5, 1, path, sizeof(path));
	tap_ok(rc == 0 && !strcmp(path, "/local/domain/5/" GUESTRPC_VCHAN_DIR "/1"),
	       "path: %s", path);
	rc = guestrpc_vchan_path(GUESTRPC_XEN_DOMID_MAX, GUESTRPC_VCHAN_MAX - 1, path, sizeof(path));
	tap_ok(rc == 0 && strlen(path) + strlen("/event-channel") < 64,
	       "path: the longest (%s) fits libxenvchan's 64-byte buffers", path);
	tap_ok(guestrpc_vchan_path(GUESTRPC_XEN_DOMID_MAX + 1, 0, path, sizeof(path)) == -EINVAL &&
	       guestrpc_vchan_path(1, GUESTRPC_VCHAN_MAX, path, sizeof(path)) == -EINVAL,
	       "path: a reserved domain id or a channel past the last: EINVAL");
	tap_ok(guestrpc_vchan_path(1, 0, path, 10) == -ENAMETOOLONG,
	       "path: a short buffer: ENAMETOOLONG, never truncated silently");

	/* ---- a name picks one domain ---- */
	{
		const struct guestrpc_xen_dom doms[] = {
			{ "0", "Domain-0", 8 },
			{ "3", "web", 3 },
			{ "4", "webby", 5 },
			{ "5", "web\0x", 5 },          /* a NUL inside the value */
			{ "6", NULL, 0 },              /* name unreadable */
			{ "007", "db", 2 },            /* not an id as xenstore lists them */
			{ "40000", "db", 2 },          /* out of range */
			{ "9", "dup", 3 },
			{ "10", "dup", 3 },
		};
		unsigned int n = sizeof(doms) / sizeof(doms[0]);

		id = 0;
		rc = guestrpc_xen_pick_domain("web", doms, n, &id);
		tap_ok(rc == 0 && id == 3, "pick: exactly \"web\" (not webby, not web\\0x): %u", id);
		tap_ok(guestrpc_xen_pick_domain("Domain-0", doms, n, &id) == 0 && id == 0,
		       "pick: dom0 by its name (the caller refuses it)");
		tap_ok(guestrpc_xen_pick_domain("db", doms, n, &id) == -ENOENT,
		       "pick: entries whose id is malformed or out of range are ignored");
		tap_ok(guestrpc_xen_pick_domain("dup", doms, n, &id) == -ENOTUNIQ,
		       "pick: two domains of one name: ENOTUNIQ, not a guess");
		tap_ok(guestrpc_xen_pick_domain("nosuch", doms, n, &id) == -ENOENT &&
		       guestrpc_xen_pick_domain("web", doms, 0, &id) == -ENOENT,
		       "pick: no such name, or no domains: ENOENT");
	}
	return tap_done();
}
