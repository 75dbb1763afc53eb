/* SPDX-License-Identifier: MIT */
/*
 * test-gfs-decode - hostrpc-guestmount's checks of guest replies
 * (guestsource/gfs-decode.c) and hostrpc-guest-exec's reading of guest
 * events (guestsource/gex-decode.c), one forged reply at a time: what a
 * real file system answers passes, each rule a hostile guest could break
 * is refused with -EIO and a message, and what is handed on to the kernel
 * carries no setuid bit, host device or capability the guest chose.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "guestsource/gex-decode.h"
#include "guestsource/gfs-decode.h"
#include "tests/tap.h"

#define PLAN 52

static struct hrpc_gfs_attr attr(uint32_t mode)
{
	return (struct hrpc_gfs_attr){ .size = 5, .blocks = 8, .mode = mode, .nlink = 1 };
}

static void dirent(struct hrpc_gfs_dirent_plus *dp, const char *name, uint64_t off, uint64_t node)
{
	memset(dp, 0, sizeof(*dp));
	dp->d.off = off;
	dp->d.type = 8;
	dp->d.name.len = (uint16_t)strlen(name);
	memcpy(dp->d.name.name, name, strlen(name));
	dp->entry.node = node;
	if (node)
		dp->entry.attr = attr(S_IFREG | 0644);
}

/* A plus batch of two entries; 0 or the decoder's -errno. */
static int batch(struct gfs_cookie_set *seen, struct hrpc_gfs_dirent_plus dp[2], uint32_t eof,
		 uint64_t offset, size_t have, size_t max, char *err)
{
	struct hrpc_gfs_readdir_rep rr = { .count = 2, .eof = eof };
	int rc = gfs_readdir_frame_check(sizeof(rr), &rr, 2 * sizeof(*dp), true, err, 256);

	if (rc == 0)
		rc = gfs_readdir_batch_check((const uint8_t *)dp, &rr, true, offset, have, max, seen,
					     err, 256);
	return rc;
}

static void test_readdir(void)
{
	struct gfs_cookie_set seen = { 0 };
	struct hrpc_gfs_dirent_plus dp[2];
	struct hrpc_gfs_forget_item items[2];
	struct hrpc_gfs_readdir_rep rr = { .count = 2 };
	char err[256] = "";

	dirent(&dp[0], "a", 1, 10);
	dirent(&dp[1], "b", 2, 11);
	tap_ok(batch(&seen, dp, 0, 0, 0, 100, err) == 0 && seen.n == 1,
	       "readdir: a valid batch passes, its last cookie is remembered");
	dirent(&dp[0], "c", 3, 12);
	dirent(&dp[1], "d", 2, 13);
	tap_ok(batch(&seen, dp, 0, 2, 2, 100, err) == -EIO && strstr(err, "cookie"),
	       "readdir: a cookie the listing gave before is refused (a loop): %s", err);
	dirent(&dp[1], "d", 4, 13);
	tap_ok(batch(&seen, dp, 0, 4, 2, 100, err) == -EIO,
	       "readdir: a cookie equal to the one we continued from is refused");
	dirent(&dp[1], "d", 0, 13);
	tap_ok(batch(&seen, dp, 0, 2, 2, 100, err) == -EIO, "readdir: cookie 0 is refused");
	tap_ok(batch(&seen, dp, 1, 2, 2, 100, err) == 0,
	       "readdir: the last batch (eof) may end with any cookie");
	dirent(&dp[1], "d", 5, 13);
	tap_ok(batch(&seen, dp, 0, 2, 99, 100, err) == -EIO && strstr(err, "max-dir-entries"),
	       "readdir: a listing longer than --max-dir-entries is refused");
	tap_ok(batch(&seen, dp, 0, 2, 98, 100, err) == 0, "readdir: one exactly at the cap passes");
	gfs_cookie_set_clear(&seen);

	dirent(&dp[0], "x/y", 1, 10);
	dirent(&dp[1], "b", 2, 11);
	tap_ok(batch(&seen, dp, 1, 0, 0, 100, err) == -EIO && strstr(err, "entry 0"),
	       "readdir: a name with '/' is refused: %s", err);
	dirent(&dp[0], "a", 1, 10);
	dp[0].d.name.name[3] = 'z';
	tap_ok(batch(&seen, dp, 1, 0, 0, 100, err) == -EIO,
	       "readdir: garbage after a name is refused");
	dirent(&dp[0], ".", 1, 10);
	tap_ok(batch(&seen, dp, 1, 0, 0, 100, err) == -EIO, "readdir: \".\" with a node is refused");
	dirent(&dp[0], "..", 1, 0);
	tap_ok(batch(&seen, dp, 1, 0, 0, 100, err) == 0, "readdir: \"..\" without a node passes");
	dirent(&dp[1], "b", 2, 0);
	tap_ok(batch(&seen, dp, 1, 0, 0, 100, err) == -EIO && strstr(err, "entry 1"),
	       "readdir+: a name without a node is refused: %s", err);
	dirent(&dp[0], "a", 1, 10);
	dirent(&dp[1], "b", 2, 11);
	dp[1].entry.attr.mode = 0170000 | 0644;
	tap_ok(batch(&seen, dp, 1, 0, 0, 100, err) == -EIO,
	       "readdir+: an entry with an impossible type is refused");
	dirent(&dp[1], "..", 2, 11);
	tap_ok(gfs_readdir_refs((const uint8_t *)dp, 2, true, items) == 1 && items[0].node == 10 &&
	       items[0].nlookup == 1,
	       "readdir+: a refused batch gives back the lookups of its named entries only");
	tap_ok(gfs_readdir_refs((const uint8_t *)dp, 2, false, items) == 0,
	       "readdir: a batch without plus owes no lookups");

	tap_ok(gfs_readdir_frame_check(sizeof(rr), &rr, 2 * sizeof(dp[0]) - 1, true, err,
				       sizeof(err)) == -EIO,
	       "readdir: entries that do not fill the bulk exactly are refused");
	rr.eof = 2;
	tap_ok(gfs_readdir_frame_check(sizeof(rr), &rr, 2 * sizeof(dp[0]), true, err,
				       sizeof(err)) == -EIO, "readdir: eof other than 0/1 is refused");
	rr.eof = 0;
	tap_ok(gfs_readdir_frame_check(sizeof(rr) - 1, &rr, 2 * sizeof(dp[0]), true, err,
				       sizeof(err)) == -EIO, "readdir: a short inline reply is refused");
	rr.count = UINT32_MAX / 288 + 2;
	tap_ok(gfs_readdir_frame_check(sizeof(rr), &rr, (uint32_t)(rr.count * 288u), false, err,
				       sizeof(err)) == -EIO,
	       "readdir: a count whose byte size wraps 32 bits is refused");
}

static void test_attr(void)
{
	struct hrpc_gfs_attr a = attr(S_IFREG | 04755);
	struct stat st;
	char err[256];

	tap_ok(gfs_attr_ok(&a), "attr: a regular file passes");
	a.mode = 0644;
	tap_ok(!gfs_attr_ok(&a), "attr: a mode without a type is refused");
	a = attr(S_IFREG | 0644);
	a.mtime_nsec = 1000000000u;
	tap_ok(!gfs_attr_ok(&a), "attr: nanoseconds >= 1e9 are refused");
	a = attr(S_IFREG | 0644);
	a.size = (uint64_t)INT64_MAX + 1;
	tap_ok(!gfs_attr_ok(&a), "attr: a size beyond off_t is refused");
	a = attr(S_IFREG | 0644);
	a.reserved = 1;
	tap_ok(!gfs_attr_ok(&a), "attr: a reserved field set is refused");

	a = attr(S_IFREG | 06755);
	gfs_attr_to_stat(&a, 5, false, false, &st);
	tap_ok(st.st_mode == (S_IFREG | 0755) && st.st_ino == 5,
	       "attr: setuid/setgid of a file are dropped without --allow-suid");
	gfs_attr_to_stat(&a, 5, true, false, &st);
	tap_ok(st.st_mode == (S_IFREG | 06755), "attr: and kept with it");
	a = attr(S_IFDIR | 02755);
	gfs_attr_to_stat(&a, 5, false, false, &st);
	tap_ok(st.st_mode == (S_IFDIR | 02755), "attr: a directory's setgid bit is kept");
	a = attr(S_IFBLK | 0600);
	a.rdev = (8u << 8) | 1u;
	gfs_attr_to_stat(&a, 5, false, false, &st);
	tap_ok(st.st_rdev == 0, "attr: a device node reads 0:0 without --allow-dev");
	gfs_attr_to_stat(&a, 5, false, true, &st);
	tap_ok(major(st.st_rdev) == 8 && minor(st.st_rdev) == 1, "attr: and 8:1 with it");
	tap_ok(gfs_attr_reply_check(&a, S_IFREG, 7, err, sizeof(err)) == -EIO && strstr(err, "type"),
	       "attr: a node that changed type is refused: %s", err);

	tap_ok(gfs_errno_out(-ENOENT) == ENOENT && gfs_errno_out(-ENOSYS) == EOPNOTSUPP &&
	       gfs_errno_out(0) == EIO && gfs_errno_out(-200) == EIO && gfs_errno_out(INT_MIN) == EIO &&
	       gfs_errno_out(5) == EIO,
	       "errno: plausible ones pass, ENOSYS becomes EOPNOTSUPP, the rest EIO");
}

static void test_replies(void)
{
	static const char list[] = "user.a\0security.capability\0user.b";
	struct hrpc_gfs_xattr_rep xr = { .size = sizeof(list) };
	struct hrpc_gfs_statfs sf = { .blocks = 10, .bfree = 5, .bavail = 5, .files = 3, .ffree = 1,
				      .bsize = 4096, .namemax = 1000 };
	struct hrpc_gfs_open_read_rep orr = { .fh = 1, .size = 5 };
	struct hrpc_gfs_io_rep ir = { .size = 5 };
	struct hrpc_gfs_entry root = { .node = 1, .attr = attr(S_IFREG | 0644) };
	struct statvfs vfs;
	char buf[sizeof(list)], err[256];
	uint32_t len;

	memcpy(buf, list, sizeof(list));
	tap_ok(gfs_xattr_reply_check(sizeof(xr), &xr, 4096, sizeof(list), true, buf, err,
				     sizeof(err)) == 0, "xattr: a NUL-separated list passes");
	len = gfs_xattr_list_filter(buf, xr.size, false);
	tap_ok(len == sizeof("user.a") + sizeof("user.b") && !memcmp(buf, "user.a\0user.b", len),
	       "xattr: security.capability is not listed without --allow-suid");
	memcpy(buf, list, sizeof(list));
	tap_ok(gfs_xattr_list_filter(buf, xr.size, true) == sizeof(list), "xattr: and listed with it");
	tap_ok(gfs_xattr_privileged("security.capability", false) &&
	       !gfs_xattr_privileged("security.capability", true) &&
	       !gfs_xattr_privileged("user.a", false),
	       "xattr: only security.capability is privileged");
	buf[sizeof(list) - 1] = 'x';
	tap_ok(gfs_xattr_reply_check(sizeof(xr), &xr, 4096, sizeof(list), true, buf, err,
				     sizeof(err)) == -EIO, "xattr: a list not NUL-terminated is refused");
	tap_ok(gfs_xattr_reply_check(sizeof(xr), &xr, 0, 3, true, NULL, err, sizeof(err)) == -EIO,
	       "xattr: a size query answered with bytes is refused");
	tap_ok(gfs_xattr_reply_check(sizeof(xr), &xr, 4096, sizeof(list) - 1, false, buf, err,
				     sizeof(err)) == -EIO,
	       "xattr: a size that is not what was delivered is refused");

	tap_ok(gfs_readlink_check("a\0b", 3, err, sizeof(err)) == -EIO &&
	       gfs_readlink_check("", 0, err, sizeof(err)) == -EIO &&
	       gfs_readlink_check("../t", 4, err, sizeof(err)) == 0,
	       "readlink: a target with a NUL or empty is refused, a path passes");

	tap_ok(gfs_statfs_check(&sf, err, sizeof(err)) == 0, "statfs: possible numbers pass");
	gfs_statfs_to_statvfs(&sf, &vfs);
	tap_ok(vfs.f_namemax == HRPC_GFS_NAME_MAX && vfs.f_frsize == 4096,
	       "statfs: namemax is clamped, frsize defaults to bsize");
	sf.bfree = 11;
	tap_ok(gfs_statfs_check(&sf, err, sizeof(err)) == -EIO, "statfs: more free than total is refused");

	tap_ok(gfs_open_reply_check(sizeof(orr), sizeof(orr), true, &orr, 5, 4096, err,
				    sizeof(err)) == 0 &&
	       gfs_open_reply_check(sizeof(orr), sizeof(orr), true, &orr, 4, 4096, err,
				    sizeof(err)) == -EIO,
	       "open: pre-read bytes must be what the reply claims");
	tap_ok(gfs_read_reply_check(sizeof(ir), &ir, 4, 5, err, sizeof(err)) == -EIO &&
	       gfs_write_reply_check(sizeof(ir), &ir, 4, err, sizeof(err)) == -EIO &&
	       gfs_read_reply_check(sizeof(ir), &ir, 5, 5, err, sizeof(err)) == 0,
	       "read/write: more than asked is refused");
	tap_ok(gfs_mount_root_check(&root, err, sizeof(err)) == -EIO,
	       "mount: a root that is not a directory is refused");
}

static void test_gex(void)
{
	uint8_t ev[sizeof(struct hrpc_gex_output) + 3];
	struct hrpc_gex_output o = { .handle = 9, .stream = HRPC_GEX_STDOUT, .size = 3 };
	struct hrpc_gex_status st = { .handle = 9, .state = HRPC_GEX_EXITED, .code = 3 };
	struct gex_ev g;

	memcpy(ev, &o, sizeof(o));
	memcpy(ev + sizeof(o), "abc", 3);
	tap_ok(gex_event_parse(9, HRPC_GEX_EV_OUTPUT, ev, sizeof(ev), &g) == GEX_EV_OUTPUT &&
	       g.size == 3 && g.data == ev + sizeof(o) && g.stream == HRPC_GEX_STDOUT,
	       "gex: our output passes, its bytes in place");
	tap_ok(gex_event_parse(8, HRPC_GEX_EV_OUTPUT, ev, sizeof(ev), &g) == GEX_EV_IGNORE &&
	       gex_event_parse(9, HRPC_GEX_EV_OUTPUT, ev, sizeof(ev) - 1, &g) == GEX_EV_IGNORE,
	       "gex: output of another handle, or a size that is not the payload's, is ignored");
	o.stream = 3;
	memcpy(ev, &o, sizeof(o));
	tap_ok(gex_event_parse(9, HRPC_GEX_EV_OUTPUT, ev, sizeof(ev), &g) == GEX_EV_IGNORE,
	       "gex: output on an unknown stream is ignored");
	tap_ok(gex_event_parse(9, HRPC_GEX_EV_EXIT, (const uint8_t *)&st, sizeof(st), &g) ==
	       GEX_EV_EXIT && gex_exit_code(&g.status) == 3 &&
	       gex_event_parse(8, HRPC_GEX_EV_EXIT, (const uint8_t *)&st, sizeof(st), &g) ==
	       GEX_EV_IGNORE, "gex: our exit passes, another handle's is ignored");
	st.signal = 9;
	tap_ok(gex_exit_code(&st) == 137, "gex: a signal N exits 128+N");
	st.signal = 65;
	tap_ok(gex_exit_code(&st) == 125, "gex: a signal number beyond 64 exits 125");
	st.signal = 0;
	st.code = 300;
	st.flags = HRPC_GEX_X_TIMEDOUT;
	tap_ok(gex_exit_code(&st) == 124, "gex: a guest-side time-out exits 124");
}

int main(void)
{
	tap_plan(PLAN);
	test_readdir();
	test_attr();
	test_replies();
	test_gex();
	if (tap_n != PLAN)
		tap_diag("ran %d checks, planned %d", tap_n, PLAN);
	return tap_done();
}
