/* SPDX-License-Identifier: MIT */
/*
 * gfs-decode.h - hostrpc-guestmount's checks of what a guest answers
 * (hostrpc/guestfs.h replies).  Pure functions: no global state, no I/O,
 * no logging, so they can be unit-tested and fuzzed (tests/unit/
 * test-gfs-decode.c, tests/fuzz/fuzz-gm.c).  The guest is untrusted; every
 * check here is one guestmount.c relied on before it was split out.
 *
 * Error convention: 0 or -errno; a refused reply is -EIO with a message for
 * people in `err` (errlen bytes, NUL-terminated), which the caller logs as
 * a protocol violation.
 */
#ifndef GUESTSOURCE_GFS_DECODE_H
#define GUESTSOURCE_GFS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "hostrpc/guestfs.h"

/* Bulk buffer READDIR asks for (the guest may not deliver more). */
#define GFS_READDIR_BULK (256u * 1024u)

/* Attributes a real file system can have (type known, no stray bits). */
bool gfs_attr_ok(const struct hrpc_gfs_attr *a);
/*
 * The host's view of guest attributes.  Without allow_suid the setuid and
 * setgid bits of non-directories are dropped; without allow_dev device
 * numbers read 0:0: the guest must not hand the host a setuid program or a
 * way into a host device.
 */
void gfs_attr_to_stat(const struct hrpc_gfs_attr *a, uint64_t ino, bool allow_suid,
		      bool allow_dev, struct stat *st);
/* A GETATTR/SETATTR reply for a node first seen as `type` (S_IFMT; 0 =
 * unknown): possible attributes, same type. */
int gfs_attr_reply_check(const struct hrpc_gfs_attr *a, uint32_t type, uint64_t gnode,
			 char *err, size_t errlen);
/* A guest status as an errno for the kernel: only plausible ones pass. */
int gfs_errno_out(int rc);

/* MOUNT's answer: a node, and a directory. */
int gfs_mount_root_check(const struct hrpc_gfs_entry *root, char *err, size_t errlen);

/* READLINK: `len` bytes in buf (call rc already folded in by the caller:
 * this sees a successful reply only). */
int gfs_readlink_check(const char *buf, uint32_t len, char *err, size_t errlen);

/* STATFS reply, and its translation (namemax clamped). */
int gfs_statfs_check(const struct hrpc_gfs_statfs *sf, char *err, size_t errlen);
void gfs_statfs_to_statvfs(const struct hrpc_gfs_statfs *sf, struct statvfs *st);

/* OPEN / OPEN_READ reply (rep_cap: what was asked; preread: OPEN_READ with
 * pre_cap bytes of bulk). */
int gfs_open_reply_check(uint32_t rep_len, uint32_t rep_cap, bool preread,
			 const struct hrpc_gfs_open_read_rep *orr, uint32_t bulk_in_len,
			 uint32_t pre_cap, char *err, size_t errlen);
/* READ reply for `asked` bytes; WRITE reply for `size` bytes. */
int gfs_read_reply_check(uint32_t rep_len, const struct hrpc_gfs_io_rep *ir, uint32_t asked,
			 uint32_t bulk_in_len, char *err, size_t errlen);
int gfs_write_reply_check(uint32_t rep_len, const struct hrpc_gfs_io_rep *ir, size_t size,
			  char *err, size_t errlen);

/* ---- extended attributes ---- */

/* A name hidden from the host (file capabilities) unless allow_suid. */
bool gfs_xattr_privileged(const char *name, bool allow_suid);
/*
 * GETXATTR / LISTXATTR reply: `size` is what was asked (0 = size query),
 * buf holds bulk_in_len bytes.  A list must be NUL-terminated.
 */
int gfs_xattr_reply_check(uint32_t rep_len, const struct hrpc_gfs_xattr_rep *xr, size_t size,
			  uint32_t bulk_in_len, bool list, const char *buf, char *err,
			  size_t errlen);
/* Drop the privileged names from a NUL-separated list; its new length. */
uint32_t gfs_xattr_list_filter(char *list, uint32_t len, bool allow_suid);

/* ---- directory listings ---- */

/* The cookies a listing continued from (open addressing; 0 never stored).
 * Owned by the listing; gfs_cookie_set_clear() frees it. */
struct gfs_cookie_set {
	uint64_t *slot;
	size_t cap, n;
};

/* 1: added, 0: seen before, -ENOMEM.  `c` is not 0. */
int gfs_cookie_set_add(struct gfs_cookie_set *cs, uint64_t c);
void gfs_cookie_set_clear(struct gfs_cookie_set *cs);

/* Size of one entry in a READDIR bulk. */
static inline size_t gfs_dirent_size(bool plus)
{
	return plus ? sizeof(struct hrpc_gfs_dirent_plus) : sizeof(struct hrpc_gfs_dirent);
}

/* Entry i of a checked batch, copied out (without plus, .entry is zero). */
void gfs_dirent_get(const uint8_t *buf, uint32_t i, bool plus, struct hrpc_gfs_dirent_plus *dp);

/*
 * A READDIR reply's frame: rep_len bytes of inline reply, entries that fill
 * bulk_in_len exactly.  -EIO: the guest's lookups for this batch cannot be
 * told apart; it may keep them.
 */
int gfs_readdir_frame_check(uint32_t rep_len, const struct hrpc_gfs_readdir_rep *rr,
			    uint32_t bulk_in_len, bool plus, char *err, size_t errlen);

/*
 * A READDIR batch (frame already checked) of a listing that holds `have`
 * entries and continued from cookie `offset`; `seen` is the listing's
 * cookie set, updated with the cookie the next call would continue from.
 * A listing ends at max_entries; the next cookie must be new (not 0, not
 * `offset`, not one the listing gave before), so a guest cannot make us
 * list forever; every name is one component and "." / ".." carry no node;
 * with plus, every other entry has a node and possible attributes.
 * Returns 0, -ENOMEM, or -EIO: the batch is refused whole, and the caller
 * gives back the lookups gfs_readdir_refs() names.
 */
int gfs_readdir_batch_check(const uint8_t *buf, const struct hrpc_gfs_readdir_rep *rr, bool plus,
			    uint64_t offset, size_t have, size_t max_entries,
			    struct gfs_cookie_set *seen, char *err, size_t errlen);
/* The lookups a refused plus batch counted (every named entry with a node):
 * written to items (room for rr->count), returns how many. */
uint32_t gfs_readdir_refs(const uint8_t *buf, uint32_t count, bool plus,
			  struct hrpc_gfs_forget_item *items);

#endif
