/* SPDX-License-Identifier: MIT */
/*
 * test-idmap - the id policies of hostrpc/idmap.h: what parses (and what a
 * user mistypes), a map's edges both ways, ids outside it as the overflow
 * id, squash dropping groups, and a chown target outside a map refused.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hostrpc/idmap.h"
#include "tests/tap.h"

int main(void)
{
	static const char *bad[] = {
		"", "pass", "squash", "squash:1", "squash:1:", "squash:-1:2", "squash:1:2:3",
		"squash:4294967295:0", "map:1:2", "map:1:2:0", "map:0:4294967000:1000",
		"map:4294967000:0:1000", "map:1:2:3x", "map: 1:2:3", "map:0x10:0:1",
	};
	struct hrpc_idmap m;
	uint32_t id, groups[4];
	char err[256];
	int nbad = 0;

	tap_plan(12);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hrpc_idmap_parse(bad[i], &m, err, sizeof(err)) == -EINVAL && err[0])
			nbad++;
		else
			tap_diag("accepted '%s'", bad[i]);
	tap_ok(nbad == (int)(sizeof(bad) / sizeof(bad[0])),
	       "%d malformed policies refused, each with a reason", nbad);

	tap_ok(hrpc_idmap_parse("passthrough", &m, err, sizeof(err)) == 0 &&
	       (id = 1234, hrpc_idmap_uid_out(&m, &id)) && id == 1234 &&
	       hrpc_idmap_uid_back(&m, 77) == 77, "passthrough: ids unchanged");

	tap_ok(hrpc_idmap_parse("squash:1000:100", &m, err, sizeof(err)) == 0 &&
	       (id = 0, hrpc_idmap_uid_out(&m, &id)) && id == 1000 &&
	       (id = 0, hrpc_idmap_gid_out(&m, &id)) && id == 100,
	       "squash: root is 1000:100 at the server");
	groups[0] = 5;
	groups[1] = 6;
	tap_ok(hrpc_idmap_groups_out(&m, groups, 2) == 0, "squash: no supplementary groups");
	tap_ok(hrpc_idmap_uid_back(&m, 1000) == 1000, "squash: ids shown as the server has them");

	err[0] = 0;
	tap_ok(hrpc_idmap_parse("map:1000:100000:65536", &m, err, sizeof(err)) == 0,
	       "map:1000:100000:65536 parses (%s)", err);
	tap_ok((id = 1000, hrpc_idmap_uid_out(&m, &id)) && id == 100000 &&
	       (id = 66535, hrpc_idmap_uid_out(&m, &id)) && id == 165535,
	       "map: the first and last ids of the range");
	tap_ok((id = 999, !hrpc_idmap_uid_out(&m, &id)) && id == HRPC_IDMAP_OVERFLOW &&
	       (id = 66536, !hrpc_idmap_uid_out(&m, &id)) && id == HRPC_IDMAP_OVERFLOW &&
	       (id = 0, !hrpc_idmap_gid_out(&m, &id)) && id == HRPC_IDMAP_OVERFLOW,
	       "map: callers outside the range (root included) are the overflow id");
	tap_ok(hrpc_idmap_uid_back(&m, 100000) == 1000 && hrpc_idmap_gid_back(&m, 165535) == 66535,
	       "map: the server's ids shown back");
	tap_ok(hrpc_idmap_uid_back(&m, 0) == HRPC_IDMAP_OVERFLOW &&
	       hrpc_idmap_uid_back(&m, 99999) == HRPC_IDMAP_OVERFLOW &&
	       hrpc_idmap_uid_back(&m, 165536) == HRPC_IDMAP_OVERFLOW,
	       "map: the server's ids outside the range shown as the overflow id");
	groups[0] = 5;
	groups[1] = 1001;
	groups[2] = 2000;
	tap_ok(hrpc_idmap_groups_out(&m, groups, 3) == 2 && groups[0] == 100001 &&
	       groups[1] == 101000, "map: groups in the range kept, mapped; the others dropped");
	tap_ok(hrpc_idmap_parse("map:0:0:4294967295", &m, err, sizeof(err)) == -EINVAL &&
	       hrpc_idmap_parse("map:0:0:4294967294", &m, err, sizeof(err)) == 0 &&
	       (id = 4294967293u, hrpc_idmap_uid_out(&m, &id)) && id == 4294967293u,
	       "map: the widest range (2^32-2 ids) and no wider");
	return tap_done();
}
