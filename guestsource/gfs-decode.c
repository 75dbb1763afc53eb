/* SPDX-License-Identifier: MIT */
/*
 * gfs-decode.c - pure checks of guest filesystem replies (see gfs-decode.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "gfs-decode.h"

__attribute__((format(printf, 3, 4)))
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EIO;
}

bool gfs_attr_ok(const struct hrpc_gfs_attr *a)
{
	switch (a->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return false;
	}
	return !(a->mode & ~(S_IFMT | 07777u)) && a->size <= INT64_MAX &&
	       a->blocks <= INT64_MAX && a->atime_nsec < 1000000000u &&
	       a->mtime_nsec < 1000000000u && a->ctime_nsec < 1000000000u && !a->reserved;
}

void gfs_attr_to_stat(const struct hrpc_gfs_attr *a, uint64_t ino, bool allow_suid,
		      bool allow_dev, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = a->mode;
	/* A directory's setgid bit only says how the guest assigns groups:
	 * keep it. */
	if (!allow_suid && !S_ISDIR(a->mode))
		st->st_mode &= ~(mode_t)(S_ISUID | S_ISGID);
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	if (allow_dev)
		st->st_rdev = makedev((a->rdev >> 8) & 0xfff,
				      (a->rdev & 0xff) | ((a->rdev >> 12) & 0xfff00));
	st->st_size = (off_t)a->size;
	st->st_blksize = a->blksize ? a->blksize : 4096;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim = (struct timespec){ (time_t)a->atime, a->atime_nsec };
	st->st_mtim = (struct timespec){ (time_t)a->mtime, a->mtime_nsec };
	st->st_ctim = (struct timespec){ (time_t)a->ctime, a->ctime_nsec };
}

int gfs_attr_reply_check(const struct hrpc_gfs_attr *a, uint32_t type, uint64_t gnode,
			 char *err, size_t errlen)
{
	if (!gfs_attr_ok(a))
		return refuse(err, errlen, "getattr of node %#" PRIx64 ": impossible attributes",
			      gnode);
	if (type && (a->mode & S_IFMT) != type)
		return refuse(err, errlen, "node %#" PRIx64 " changed type", gnode);
	return 0;
}

int gfs_errno_out(int rc)
{
	if (rc == -ENOSYS)
		return EOPNOTSUPP;  /* ENOSYS would switch the op off in the kernel */
	/* (Compared before negating: -INT_MIN does not exist.) */
	if (rc >= 0 || rc < -133)
		return EIO;
	return -rc;
}

int gfs_mount_root_check(const struct hrpc_gfs_entry *root, char *err, size_t errlen)
{
	if (!root->node || !gfs_attr_ok(&root->attr) || !S_ISDIR(root->attr.mode))
		return refuse(err, errlen, "mount: the root is not a directory");
	return 0;
}

int gfs_readlink_check(const char *buf, uint32_t len, char *err, size_t errlen)
{
	if (len == 0 || len >= HRPC_GFS_PATH_MAX || memchr(buf, 0, len))
		return refuse(err, errlen, "readlink: target of %u bytes with a NUL or empty", len);
	return 0;
}

int gfs_statfs_check(const struct hrpc_gfs_statfs *sf, char *err, size_t errlen)
{
	if (sf->reserved || sf->bfree > sf->blocks || sf->bavail > sf->blocks ||
	    sf->ffree > sf->files || !sf->bsize)
		return refuse(err, errlen, "statfs: impossible numbers");
	return 0;
}

void gfs_statfs_to_statvfs(const struct hrpc_gfs_statfs *sf, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	st->f_bsize = sf->bsize;
	st->f_frsize = sf->frsize ? sf->frsize : sf->bsize;
	st->f_blocks = sf->blocks;
	st->f_bfree = sf->bfree;
	st->f_bavail = sf->bavail;
	st->f_files = sf->files;
	st->f_ffree = sf->ffree;
	st->f_favail = sf->ffree;
	st->f_namemax = sf->namemax && sf->namemax <= HRPC_GFS_NAME_MAX ? sf->namemax :
		HRPC_GFS_NAME_MAX;
}

int gfs_open_reply_check(uint32_t rep_len, uint32_t rep_cap, bool preread,
			 const struct hrpc_gfs_open_read_rep *orr, uint32_t bulk_in_len,
			 uint32_t pre_cap, char *err, size_t errlen)
{
	if (rep_len != rep_cap ||
	    (preread && (orr->size != bulk_in_len || orr->size > pre_cap || orr->eof > 1)))
		return refuse(err, errlen, "open: reply of %u bytes, %u of %u pre-read bytes",
			      rep_len, bulk_in_len, orr->size);
	return 0;
}

int gfs_read_reply_check(uint32_t rep_len, const struct hrpc_gfs_io_rep *ir, uint32_t asked,
			 uint32_t bulk_in_len, char *err, size_t errlen)
{
	if (rep_len != sizeof(*ir) || ir->size > asked || ir->size != bulk_in_len)
		return refuse(err, errlen, "read: %u bytes claimed, %u delivered, %u asked",
			      ir->size, bulk_in_len, asked);
	return 0;
}

int gfs_write_reply_check(uint32_t rep_len, const struct hrpc_gfs_io_rep *ir, size_t size,
			  char *err, size_t errlen)
{
	if (rep_len != sizeof(*ir) || ir->size > size)
		return refuse(err, errlen, "write: %u bytes written of %zu", ir->size, size);
	return 0;
}

/* ---- extended attributes ---- */

/*
 * File capabilities make a program gain privilege when it runs, as a setuid
 * bit does: the guest's are not shown without --allow-suid (the mount is
 * nosuid, where the kernel ignores them too - this is the second wall).
 */
bool gfs_xattr_privileged(const char *name, bool allow_suid)
{
	return !allow_suid && !strcmp(name, "security.capability");
}

int gfs_xattr_reply_check(uint32_t rep_len, const struct hrpc_gfs_xattr_rep *xr, size_t size,
			  uint32_t bulk_in_len, bool list, const char *buf, char *err,
			  size_t errlen)
{
	if (rep_len != sizeof(*xr) || xr->size > HRPC_GFS_XATTR_MAX ||
	    (size && xr->size != bulk_in_len) || (!size && bulk_in_len))
		return refuse(err, errlen, "xattr: %u bytes claimed, %u delivered", xr->size,
			      bulk_in_len);
	/* A list must be NUL-separated names. */
	if (list && size && xr->size && buf[xr->size - 1] != 0)
		return refuse(err, errlen, "listxattr: list not NUL-terminated");
	return 0;
}

uint32_t gfs_xattr_list_filter(char *list, uint32_t len, bool allow_suid)
{
	uint32_t in = 0, out = 0;

	while (in < len) {
		uint32_t n = (uint32_t)strnlen(list + in, len - in) + 1;

		/* The last name is NUL-terminated (gfs_xattr_reply_check). */
		if (!gfs_xattr_privileged(list + in, allow_suid)) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

/* ---- directory listings ---- */

static size_t cookie_slot(const struct gfs_cookie_set *cs, uint64_t c)
{
	size_t i = (size_t)((c * 0x9e3779b97f4a7c15ull) >> 17) & (cs->cap - 1);

	while (cs->slot[i] && cs->slot[i] != c)
		i = (i + 1) & (cs->cap - 1);
	return i;
}

int gfs_cookie_set_add(struct gfs_cookie_set *cs, uint64_t c)
{
	size_t i;

	if ((cs->n + 1) * 2 > cs->cap) {
		struct gfs_cookie_set big = { .cap = cs->cap ? cs->cap * 2 : 1024 };

		big.slot = calloc(big.cap, sizeof(*big.slot));
		if (!big.slot)
			return -ENOMEM;
		for (i = 0; i < cs->cap; i++)
			if (cs->slot[i])
				big.slot[cookie_slot(&big, cs->slot[i])] = cs->slot[i];
		big.n = cs->n;
		free(cs->slot);
		*cs = big;
	}
	i = cookie_slot(cs, c);
	if (cs->slot[i])
		return 0;
	cs->slot[i] = c;
	cs->n++;
	return 1;
}

void gfs_cookie_set_clear(struct gfs_cookie_set *cs)
{
	free(cs->slot);
	*cs = (struct gfs_cookie_set){ 0 };
}

void gfs_dirent_get(const uint8_t *buf, uint32_t i, bool plus, struct hrpc_gfs_dirent_plus *dp)
{
	size_t esz = gfs_dirent_size(plus);

	memset(dp, 0, sizeof(*dp));
	memcpy(dp, buf + i * esz, esz);
}

int gfs_readdir_frame_check(uint32_t rep_len, const struct hrpc_gfs_readdir_rep *rr,
			    uint32_t bulk_in_len, bool plus, char *err, size_t errlen)
{
	size_t esz = gfs_dirent_size(plus);

	if (rep_len != sizeof(*rr) || rr->eof > 1 || rr->count > GFS_READDIR_BULK / esz ||
	    rr->count * esz != bulk_in_len)
		return refuse(err, errlen, "readdir: %u entries in %u bytes", rr->count, bulk_in_len);
	return 0;
}

int gfs_readdir_batch_check(const uint8_t *buf, const struct hrpc_gfs_readdir_rep *rr, bool plus,
			    uint64_t offset, size_t have, size_t max_entries,
			    struct gfs_cookie_set *seen, char *err, size_t errlen)
{
	const char *bad = NULL;
	uint32_t i, at = 0;

	/* A listing without end would take all our memory: it ends at the cap. */
	if (have + rr->count > max_entries)
		bad = "the listing is longer than --max-dir-entries";
	/* The cookie we continue from must lead somewhere new: 0, or one
	 * this listing continued from before, would list the same entries
	 * again, forever.  (Cookies are opaque - hashes on ext4 - so "new" is
	 * all we can ask, not "larger"; only this one is ever sent back.) */
	if (!bad && rr->count && !rr->eof) {
		struct hrpc_gfs_dirent_plus last;
		int added;

		gfs_dirent_get(buf, rr->count - 1, plus, &last);
		added = last.d.off && last.d.off != offset ? gfs_cookie_set_add(seen, last.d.off) : 0;
		if (added < 0)
			return added;
		if (!added)
			bad = "a cookie that does not advance (0, or one the listing gave before)";
	}
	for (i = 0; i < rr->count && !bad; i++) {
		struct hrpc_gfs_dirent_plus dp;

		gfs_dirent_get(buf, i, plus, &dp);
		at = i;
		if (dp.d.reserved || dp.d.type > 15)
			bad = "bad type field";
		else if (hrpc_gfs_name_is_dot(&dp.d.name) && dp.d.name.len <= 2) {
			if (plus && dp.entry.node)
				bad = "\".\" or \"..\" with a node";
		} else if (hrpc_gfs_name_check(&dp.d.name) < 0)
			bad = "a name with '/', NUL, bad length or garbage after it";
		else if (plus && (!dp.entry.node || !gfs_attr_ok(&dp.entry.attr)))
			bad = "an entry without a node or with impossible attributes";
	}
	if (bad)
		return refuse(err, errlen, "readdir: %s (entry %u)", bad, at);
	return 0;
}

uint32_t gfs_readdir_refs(const uint8_t *buf, uint32_t count, bool plus,
			  struct hrpc_gfs_forget_item *items)
{
	uint32_t k = 0;

	for (uint32_t i = 0; plus && i < count; i++) {
		struct hrpc_gfs_dirent_plus dp;

		gfs_dirent_get(buf, i, plus, &dp);
		if (dp.entry.node && !hrpc_gfs_name_is_dot(&dp.d.name))
			items[k++] = (struct hrpc_gfs_forget_item){ dp.entry.node, 1 };
	}
	return k;
}
