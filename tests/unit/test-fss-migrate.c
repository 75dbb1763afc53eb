/* SPDX-License-Identifier: MIT */
/*
 * test-fss-migrate - a migrating guest's filesystem state
 * (fs-server/server.h fss_mig_*, include/hostrpc/fsstate.h), in-process:
 * a server on tree A with nodes, an open file holding a lock and a
 * directory stream exports them; a fresh server on tree B (a copy at
 * another path: another host's export of the same name) makes them again
 * under the same handles.  The handles work there (attributes, reads and
 * writes through the open file reach B's copy), the lock moved from A to
 * B, a node deleted at A does not travel, and records a host would not
 * send (a path with "..", a handle twice, cut short) change nothing.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-server/server.h"
#include "hostrpc/fsstate.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "tests/unit/fss-call.h"


static uint64_t lookup(struct fss *s, uint64_t parent, const char *name)
{
	struct hrpc_gfs_dir_name_req l = { .parent = parent };
	struct hrpc_gfs_entry e = { 0 };

	l.name.len = (uint16_t)strlen(name);
	memcpy(l.name.name, name, l.name.len);
	return fss_call(s, HRPC_GFS_LOOKUP, &l, sizeof(l), NULL, 0, &e, sizeof(e), NULL) == 0 ? e.node
											   : 0;
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		abort();
}

/* Is [0, 10) of path write-locked by someone else (an OFD lock)? */
static int locked(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	int fd = open(path, O_RDWR), r;

	r = fd >= 0 && fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return r;
}

int main(void)
{
	char top[] = "/tmp/test-fss-migrate-XXXXXX", a[96], b[96], p[320];
	const struct fss_config cfg = { .max_nodes = 64, .max_files = 16, .handle_tag = 5 };
	struct hrpc_gfs_mount_req m = { .path_len = 1, .path = "/" };
	struct hrpc_gfs_entry root = { 0 };
	struct hrpc_gfs_open_req o = { .flags = O_RDWR };
	struct hrpc_gfs_fh_rep fh = { 0 }, dfh = { 0 };
	struct hrpc_gfs_node_req nr = { 0 };
	struct hrpc_gfs_lock_req lk = { .cmd = HRPC_GFS_LOCK_SET, .type = HRPC_GFS_LOCK_WR,
					.start = 0, .len = 10 };
	struct hrpc_gfs_attr at = { 0 };
	struct fss *sa, *sb, *sc;
	uint64_t d, f, gone;
	uint32_t nn = 0, nf = 0;
	char *buf = NULL, err[256] = "";
	size_t blen = 0;
	FILE *out;
	int ra, rb, rc;

	tap_plan(9);
	if (!mkdtemp(top))
		tap_skip_all("mkdtemp: %m");
	snprintf(a, sizeof(a), "%s/host-a/export", top);
	snprintf(b, sizeof(b), "%s/host-b/srv/data", top);
	snprintf(p, sizeof(p), "mkdir -p %s/d %s", a, b);
	sh(p);
	snprintf(p, sizeof(p), "echo hello-from-A > %s/d/f && echo x > %s/d/gone", a, a);
	sh(p);
	snprintf(p, sizeof(p), "cp -a %s/. %s/", a, b);
	sh(p);
	snprintf(p, sizeof(p), "echo hello-from-B > %s/d/f", b);
	sh(p);
	ra = open(a, O_PATH | O_DIRECTORY | O_CLOEXEC);
	rb = open(b, O_PATH | O_DIRECTORY | O_CLOEXEC);
	sa = fss_new(ra, &cfg);
	rc = fss_call(sa, HRPC_GFS_MOUNT, &m, sizeof(m), NULL, 0, &root, sizeof(root), NULL);
	d = lookup(sa, root.node, "d");
	f = lookup(sa, d, "f");
	gone = lookup(sa, d, "gone");
	o.node = f;
	rc = rc ?: fss_call(sa, HRPC_GFS_OPEN, &o, sizeof(o), NULL, 0, &fh, sizeof(fh), NULL);
	lk.fh = fh.fh;
	rc = rc ?: fss_call(sa, HRPC_GFS_LOCK, &lk, sizeof(lk), NULL, 0, NULL, 0, NULL);
	nr.node = d;
	rc = rc ?: fss_call(sa, HRPC_GFS_OPENDIR, &nr, sizeof(nr), NULL, 0, &dfh, sizeof(dfh), NULL);
	snprintf(p, sizeof(p), "%s/d/f", a);
	tap_ok(rc == 0 && d && f && gone && locked(p),
	       "server A: a mount, 3 lookups, an open file with a lock, a directory stream");

	snprintf(p, sizeof(p), "%s/d/gone", a);
	unlink(p);
	fss_mig_quiesce(sa);
	snprintf(p, sizeof(p), "%s/d/f", a);
	out = open_memstream(&buf, &blen);
	rc = fss_mig_export(sa, out, &nn, &nf);
	fclose(out);
	tap_ok(rc == 0 && nn == 3 && nf == 2 && !locked(p),
	       "the export: 3 nodes (the deleted one left out), 2 files; A let go of the lock "
	       "(%u nodes, %u files)", nn, nf);

	sb = fss_new(rb, &cfg);
	rc = fss_mig_import(sb, (uint8_t *)buf, blen, nn, nf, false, 0, err, sizeof(err));
	snprintf(p, sizeof(p), "%s/d/f", b);
	tap_ok(rc == 0 && locked(p), "server B imports them at another path and takes the lock "
	       "(%s)", rc ? err : "ok");
	nr.node = f;
	nr.fh = 0;
	rc = fss_call(sb, HRPC_GFS_GETATTR, &nr, sizeof(nr), NULL, 0, &at, sizeof(at), NULL);
	tap_ok(rc == 0 && at.size == 13, "the node's handle works at B: size %llu (B's copy)",
	       (unsigned long long)at.size);
	{
		struct hrpc_gfs_io_req io = { .fh = fh.fh, .offset = 0, .size = 12 };
		char data[32] = "";

		rc = fss_call(sb, HRPC_GFS_READ, &io, sizeof(io), NULL, 0, NULL, 0, data);
		tap_ok(rc == 0 && !memcmp(data, "hello-from-B", 12),
		       "the open file's handle reads B's file: '%.12s'", data);
		io.offset = 13;
		io.size = 6;
		rc = fss_call(sb, HRPC_GFS_WRITE, &io, sizeof(io), "moved\n", 6, NULL, 0, NULL);
		snprintf(p, sizeof(p), "cat %s/d/f | tail -n 1 | grep -qx moved", b);
		tap_ok(rc == 0 && system(p) == 0, "and writes to it");
	}
	nr.node = gone;
	tap_ok(fss_call(sb, HRPC_GFS_GETATTR, &nr, sizeof(nr), NULL, 0, &at, sizeof(at), NULL) ==
	       -ESTALE, "the node deleted at A is stale at B");

	fss_free(sb);
	/* Hostile: a node path with "..", then records cut short. */
	{
		struct hrpc_fs_mig_node bad = { .handle = 1ull << 32 | 7, .nlookup = 1, .type = 4,
						.path_len = 8 };
		uint8_t rec[sizeof(bad) + 8];

		memcpy(rec, &bad, sizeof(bad));
		memcpy(rec + sizeof(bad), "d/../..", 8);
		rec[sizeof(bad) + 7] = 0;
		bad.path_len = 7;
		memcpy(rec, &bad, sizeof(bad));
		sc = fss_new(rb, &cfg);
		rc = fss_mig_import(sc, rec, sizeof(rec), 1, 0, false, 0, err, sizeof(err));
		tap_ok(rc == -EPROTO && fss_node_count(sc) == 0,
		       "a path with '..': -EPROTO, nothing made (%s)", err);
		rc = fss_mig_import(sc, (uint8_t *)buf, blen - 1, nn, nf, false, 0, err, sizeof(err));
		snprintf(p, sizeof(p), "%s/d/f", b);
		tap_ok(rc == -EPROTO && fss_node_count(sc) == 0 && !locked(p),
		       "records cut short: refused, nothing made, no lock kept (%s)", err);
		fss_free(sc);
	}
	fss_free(sa);
	free(buf);
	close(ra);
	close(rb);
	snprintf(p, sizeof(p), "rm -rf %s", top);
	(void)!system(p);
	return tap_failed ? 1 : 0;
}
