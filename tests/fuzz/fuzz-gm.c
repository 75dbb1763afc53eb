/* SPDX-License-Identifier: MIT */
/*
 * fuzz-gm - libFuzzer target for hostrpc-guestmount's decoders of guest
 * replies (guestsource/gfs-decode.c).  The input is a script of replies:
 *
 *   [kind u8][len u16 LE][len bytes] ...
 *
 * kind % 8 picks the decoder: 0 a READDIR reply of the current listing
 * (inline reply, then the bulk; bit 3: READDIRPLUS; bit 4: a fresh
 * listing), 1 an attribute reply, 2 READLINK, 3 STATFS, 4 OPEN/OPEN_READ,
 * 5 READ/WRITE, 6 GETXATTR/LISTXATTR (then the list filter), 7 MOUNT.
 * A listing keeps its state (entries, cookie set) from one READDIR to the
 * next, as guestmount's does, so cookie loops across batches are reached.
 * Every decoder must refuse with -EIO or accept; what it accepts must
 * then be safe to use (names in bounds, lists filtered in place).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestsource/gfs-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Copy up to `cap` bytes of the chunk into a zeroed struct. */
static size_t take(void *dst, size_t cap, const uint8_t *p, size_t n)
{
	size_t k = n < cap ? n : cap;

	memset(dst, 0, cap);
	memcpy(dst, p, k);
	return k;
}

struct listing {
	struct gfs_cookie_set seen;
	uint64_t cookie;
	size_t have;
};

static void readdir_reply(struct listing *l, uint8_t kind, const uint8_t *p, size_t n)
{
	bool plus = kind & 8;
	struct hrpc_gfs_readdir_rep rr;
	uint32_t rep_len = (uint32_t)take(&rr, sizeof(rr), p, n);
	const uint8_t *bulk = p + rep_len;
	uint32_t blen = (uint32_t)(n - rep_len);
	uint8_t *buf;
	char err[256];
	int rc;

	if (kind & 16) {
		gfs_cookie_set_clear(&l->seen);
		l->cookie = 0;
		l->have = 0;
	}
	/* Exact inline size mostly: otherwise only the frame check runs. */
	if (!(kind & 32))
		rep_len = sizeof(rr);
	/* The bulk as the session delivers it: in a buffer of exactly its
	 * length, so ASan sees a read past what the guest sent. */
	buf = malloc(blen ? blen : 1);
	memcpy(buf, bulk, blen);
	/* Often a count that fits the bytes, so the entry checks are reached. */
	if (kind & 64)
		rr.count = (uint32_t)(blen / gfs_dirent_size(plus));
	rc = gfs_readdir_frame_check(rep_len, &rr, blen, plus, err, sizeof(err));
	check(rc == 0 || (rc == -EIO && err[0]));
	if (rc == 0) {
		rc = gfs_readdir_batch_check(buf, &rr, plus, l->cookie, l->have, 64, &l->seen,
					     err, sizeof(err));
		check(rc == 0 || rc == -ENOMEM || (rc == -EIO && err[0]));
		if (rc == -EIO && plus) {
			struct hrpc_gfs_forget_item *it = calloc(rr.count ? rr.count : 1, sizeof(*it));

			check(gfs_readdir_refs(buf, rr.count, plus, it) <= rr.count);
			free(it);
		}
		for (uint32_t i = 0; rc == 0 && i < rr.count; i++) {
			struct hrpc_gfs_dirent_plus dp;

			gfs_dirent_get(buf, i, plus, &dp);
			/* What was accepted: a name that fits, no '/' or NUL. */
			check(dp.d.name.len <= HRPC_GFS_NAME_MAX);
			check(!memchr(dp.d.name.name, '/', dp.d.name.len));
			check(!memchr(dp.d.name.name, 0, dp.d.name.len));
			check(!plus || !dp.entry.node || gfs_attr_ok(&dp.entry.attr) ||
			      hrpc_gfs_name_is_dot(&dp.d.name));
			l->cookie = dp.d.off;
		}
		if (rc == 0)
			l->have += rr.count;
	}
	free(buf);
}

static void attr_reply(uint8_t kind, const uint8_t *p, size_t n)
{
	struct hrpc_gfs_attr a;
	struct stat st;
	char err[256];
	uint32_t type = (kind & 8) ? S_IFREG : (kind & 16) ? S_IFDIR : 0;
	int rc;

	take(&a, sizeof(a), p, n);
	rc = gfs_attr_reply_check(&a, type, 1, err, sizeof(err));
	check(rc == 0 || rc == -EIO);
	if (rc == 0) {
		gfs_attr_to_stat(&a, 2, kind & 32, kind & 64, &st);
		if (!(kind & 32) && !S_ISDIR(st.st_mode))
			check(!(st.st_mode & (S_ISUID | S_ISGID)));
		if (!(kind & 64))
			check(st.st_rdev == 0);
		check(st.st_size >= 0 && st.st_blocks >= 0);
	}
	check(gfs_errno_out(-(int)(a.uid & 0xffff)) > 0 && gfs_errno_out((int)a.gid) > 0);
}

static void readlink_reply(const uint8_t *p, size_t n)
{
	char buf[HRPC_GFS_PATH_MAX + 1], err[256];
	uint32_t len = (uint32_t)(n < HRPC_GFS_PATH_MAX ? n : HRPC_GFS_PATH_MAX);

	memcpy(buf, p, len);
	if (gfs_readlink_check(buf, len, err, sizeof(err)) == 0) {
		buf[len] = 0;
		check(strlen(buf) == len);
	}
}

static void statfs_reply(const uint8_t *p, size_t n)
{
	struct hrpc_gfs_statfs sf;
	struct statvfs st;
	char err[256];

	take(&sf, sizeof(sf), p, n);
	if (gfs_statfs_check(&sf, err, sizeof(err)) == 0) {
		gfs_statfs_to_statvfs(&sf, &st);
		check(st.f_bfree <= st.f_blocks && st.f_namemax <= HRPC_GFS_NAME_MAX && st.f_bsize);
	}
}

static void open_reply(uint8_t kind, const uint8_t *p, size_t n)
{
	struct hrpc_gfs_open_read_rep orr;
	bool preread = kind & 8;
	uint32_t cap = preread ? sizeof(orr) : sizeof(struct hrpc_gfs_fh_rep);
	uint32_t rep_len = (uint32_t)take(&orr, sizeof(orr), p, n);
	uint32_t bulk = (uint32_t)(n - rep_len);
	char err[256];

	if (!(kind & 32))
		rep_len = cap;
	if (gfs_open_reply_check(rep_len, cap, preread, &orr, bulk, 4096, err, sizeof(err)) == 0 &&
	    preread)
		check(orr.size <= 4096 && orr.size == bulk && orr.eof <= 1);
}

static void io_reply(uint8_t kind, const uint8_t *p, size_t n)
{
	struct hrpc_gfs_io_rep ir;
	uint32_t rep_len = (uint32_t)take(&ir, sizeof(ir), p, n);
	uint32_t bulk = (uint32_t)(n - rep_len), asked = kind & 8 ? 4096 : 16;
	char err[256];

	if (!(kind & 32))
		rep_len = sizeof(ir);
	if (gfs_read_reply_check(rep_len, &ir, asked, bulk, err, sizeof(err)) == 0)
		check(ir.size <= asked && ir.size == bulk);
	if (gfs_write_reply_check(rep_len, &ir, asked, err, sizeof(err)) == 0)
		check(ir.size <= asked);
}

static void xattr_reply(uint8_t kind, const uint8_t *p, size_t n)
{
	struct hrpc_gfs_xattr_rep xr;
	uint32_t rep_len = (uint32_t)take(&xr, sizeof(xr), p, n);
	uint32_t blen = (uint32_t)(n - rep_len);
	size_t size = kind & 8 ? 0 : HRPC_GFS_XATTR_MAX;
	bool list = kind & 16;
	char *buf = malloc(blen ? blen : 1), err[256];

	memcpy(buf, p + rep_len, blen);
	if (!(kind & 32))
		rep_len = sizeof(xr);
	if (kind & 64)
		xr.size = blen;
	if (gfs_xattr_reply_check(rep_len, &xr, size, blen, list, buf, err, sizeof(err)) == 0 &&
	    list && size) {
		uint32_t len = gfs_xattr_list_filter(buf, xr.size, kind & 128);

		check(len <= xr.size);
		for (uint32_t i = 0; i < len; i += (uint32_t)strnlen(buf + i, len - i) + 1)
			check(kind & 128 || strcmp(buf + i, "security.capability") != 0);
	}
	free(buf);
}

static void mount_reply(const uint8_t *p, size_t n)
{
	struct hrpc_gfs_entry e;
	char err[256];

	take(&e, sizeof(e), p, n);
	if (gfs_mount_root_check(&e, err, sizeof(err)) == 0)
		check(e.node && S_ISDIR(e.attr.mode));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct listing l = { { 0 } };

	while (n >= 3) {
		uint8_t kind = d[0];
		size_t len = (size_t)d[1] | (size_t)d[2] << 8;

		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		switch (kind % 8) {
		case 0: readdir_reply(&l, kind, d, len); break;
		case 1: attr_reply(kind, d, len); break;
		case 2: readlink_reply(d, len); break;
		case 3: statfs_reply(d, len); break;
		case 4: open_reply(kind, d, len); break;
		case 5: io_reply(kind, d, len); break;
		case 6: xattr_reply(kind, d, len); break;
		case 7: mount_reply(d, len); break;
		}
		d += len;
		n -= len;
	}
	gfs_cookie_set_clear(&l.seen);
	return 0;
}
