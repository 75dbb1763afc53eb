/* SPDX-License-Identifier: MIT */
/*
 * test-fs-policy - a guest's filesystem exports (outsource/fs/policy.h):
 * a full file parses with its defaults (squash to 65534, never the guest's
 * root as the host's), options and limits; what a user mistypes is refused
 * with the file and line named.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "fs-server/server.h"
#include "outsource/fs/policy.h"
#include "tests/tap.h"

int main(void)
{
	static const char *bad[] = {
		"export\n", "export a\n", "export a relative/path\n", "export ../x /srv\n",
		"export . /srv\n", "export a/b /srv\n", "export a /srv bogus\n",
		"export a /srv ids=squash\n", "export a /srv allow=root\n",
		"export a /srv\nexport a /tmp\n", "max-files 0\n", "max-files -1\n",
		"max-nodes 99999999999\n", "max-files\n", "exports a /srv\n",
		"export aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa /srv\n",
	};
	const char *good =
		"# the guest's exports\n"
		"export data /srv/data\n"
		"export ro-1 /srv/ro   ro ids=passthrough   # comment\n"
		"\texport m.x /srv/m ids=map:0:100000:65536 allow=suid,dev,xattrs\n"
		"max-files 100\n"
		"max-nodes 5000\n";
	struct fs_policy p;
	const struct fs_export_policy *e;
	uint32_t id;
	char err[512];
	int nbad = 0;

	tap_plan(7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (fs_policy_parse(bad[i], "t.conf", &p, err, sizeof(err)) == -EINVAL &&
		    !strncmp(err, "t.conf:", 7))
			nbad++;
		else
			tap_diag("accepted or no reason: '%s' (%s)", bad[i], err);
	}
	tap_ok(nbad == (int)(sizeof(bad) / sizeof(bad[0])),
	       "%d malformed policies refused, each naming file and line", nbad);
	err[0] = 0;
	tap_ok(fs_policy_parse(good, "t.conf", &p, err, sizeof(err)) == 0 && p.nexports == 3,
	       "a policy of three exports parses (%s)", err);
	e = fs_policy_find(&p, "data", 4);
	id = 0;
	tap_ok(e && !e->ro && !strcmp(e->path, "/srv/data") && e->allow == 0 &&
	       hrpc_idmap_uid_out(&e->ids, &id) && id == 65534,
	       "defaults: read-write, nothing allowed, the guest's root squashed to 65534");
	e = fs_policy_find(&p, "ro-1", 4);
	id = 0;
	tap_ok(e && e->ro && hrpc_idmap_uid_out(&e->ids, &id) && id == 0,
	       "ro and ids=passthrough");
	e = fs_policy_find(&p, "m.x", 3);
	id = 5;
	tap_ok(e && e->allow == (FSS_ALLOW_SUID | FSS_ALLOW_DEV | FSS_ALLOW_PRIV_XATTRS) &&
	       hrpc_idmap_uid_out(&e->ids, &id) && id == 100005,
	       "allow= and an id map");
	tap_ok(p.max_files == 100 && p.max_nodes == 5000 && !fs_policy_find(&p, "dat", 3),
	       "limits; names match whole");
	fs_policy_clear(&p);
	tap_ok(fs_policy_parse("", "t.conf", &p, err, sizeof(err)) == 0 && p.nexports == 0 &&
	       p.max_files == 4096 && p.max_nodes == 65536, "an empty file: no exports, default limits");
	fs_policy_clear(&p);
	return tap_done();
}
