/* SPDX-License-Identifier: MIT */
/*
 * guestfs.h - the filesystem protocol, one for both directions (one server,
 * fs-server/):
 *
 *  - service 256 (HRPC_SVC_GUEST_FS), Guest RPC: a guest's filesystem served
 *    to the host by the guest agent (guestrpcd); the HOST is the client
 *    (hostrpc-guestmount), the GUEST the server.  guestrpc/PROTOCOL.md is
 *    the prose specification;
 *  - service 17 (HRPC_SVC_FS), Host RPC: a host directory served to the
 *    guest kernel by the guest's hostrpcd worker (outsource/fs); the GUEST
 *    is the client (hostrpcfs.ko, drivers-frontend/fs), the HOST the
 *    server.  MOUNT names an export of the guest's policy as the first
 *    component of its path ("/EXPORT/sub/dir"); the server sends
 *    HRPC_GFS_EVT_INVAL events for changes made by others.
 *
 * This header is the machine-readable form; it compiles in the guest
 * kernel too.
 *
 * Every payload is a fixed-size little-endian struct (checked below); a CALL
 * whose payload has the wrong size or a reserved field set is answered
 * -EINVAL.  Errors are negative Linux errno values.
 *
 * Every CALL's payload starts with the caller's credentials (struct
 * hrpc_gfs_cred), the procedure's struct follows: the agent runs the call
 * as that user (fsuid, fsgid, supplementary groups), so the guest kernel
 * checks permissions and owns new files as for a local process.
 *
 * Handles (nodes, open files, open directories) are table indexes with a
 * generation number: handle = (u64)generation << 32 | index, generation
 * >= 1, so 0 is never a valid handle.  A handle that does not name a live
 * table entry (forged, stale, already released) is answered -ESTALE (nodes)
 * or -EBADF (open files and directories).  Neither side ever sends a
 * pointer or a raw fd.
 *
 * Names are single path components: 1..255 bytes, no '/' and no NUL, never
 * "." or ".." (hrpc_gfs_name_check()).  The only exception is READDIR, which
 * may list "." and ".." - but never with a node (READDIRPLUS), so they can
 * not be used to forge a lookup.
 *
 * Both sides treat what they receive as hostile: the agent checks every
 * name, handle and size the host sends; the host tools check every name,
 * handle, attribute and size the guest sends (a guest may be compromised).
 */
#ifndef HOSTRPC_GUESTFS_H
#define HOSTRPC_GUESTFS_H

#include "compat.h"

#define HRPC_GFS_NAME_MAX   255u           /* bytes of a name */
#define HRPC_GFS_PATH_MAX   4096u          /* symlink target / mount path, incl. NUL */
#define HRPC_GFS_IO_MAX     (1024u * 1024u) /* READ/WRITE bytes per call (= vport bulk) */
#define HRPC_GFS_XATTR_MAX  65536u         /* xattr value / list bytes */
#define HRPC_GFS_FORGET_MAX 256u           /* items per FORGET */

#define HRPC_GFS_HANDLE(index, gen) (((hrpc_u64)(gen) << 32) | (hrpc_u32)(index))
#define HRPC_GFS_HANDLE_INDEX(h)    ((hrpc_u32)(h))
#define HRPC_GFS_HANDLE_GEN(h)      ((hrpc_u32)((h) >> 32))

enum hrpc_gfs_proc {
	HRPC_GFS_MOUNT       = 1,  /* mount_req -> entry (the root node)            */
	HRPC_GFS_LOOKUP      = 2,  /* dir_name_req -> entry  (counts one lookup)    */
	HRPC_GFS_FORGET      = 3,  /* forget_req -> -                               */
	HRPC_GFS_GETATTR     = 4,  /* node_req -> attr                              */
	HRPC_GFS_SETATTR     = 5,  /* setattr_req -> attr                           */
	HRPC_GFS_READLINK    = 6,  /* node_req -> target bytes (inline, no NUL)     */
	HRPC_GFS_MKNOD       = 7,  /* make_req -> entry                             */
	HRPC_GFS_MKDIR       = 8,  /* make_req -> entry                             */
	HRPC_GFS_UNLINK      = 9,  /* dir_name_req -> -                             */
	HRPC_GFS_RMDIR       = 10, /* dir_name_req -> -                             */
	HRPC_GFS_SYMLINK     = 11, /* symlink_req -> entry                          */
	HRPC_GFS_RENAME      = 12, /* rename_req -> -                               */
	HRPC_GFS_LINK        = 13, /* link_req -> entry                             */
	HRPC_GFS_OPEN        = 14, /* open_req -> fh_rep                            */
	HRPC_GFS_CREATE      = 15, /* make_req (flags used) -> create_rep           */
	HRPC_GFS_READ        = 16, /* io_req -> io_rep + reply bulk                 */
	HRPC_GFS_WRITE       = 17, /* io_req + request bulk -> io_rep               */
	HRPC_GFS_RELEASE     = 18, /* fh_req -> -                                   */
	HRPC_GFS_FSYNC       = 19, /* fh_req (flags: datasync) -> -                 */
	HRPC_GFS_OPENDIR     = 20, /* node_req -> fh_rep                            */
	HRPC_GFS_READDIR     = 21, /* readdir_req -> readdir_rep + bulk of dirents  */
	HRPC_GFS_RELEASEDIR  = 22, /* fh_req -> -                                   */
	HRPC_GFS_STATFS      = 23, /* node_req -> statfs                            */
	HRPC_GFS_GETXATTR    = 24, /* xattr_req -> xattr_rep (+ bulk value)         */
	HRPC_GFS_SETXATTR    = 25, /* xattr_req + bulk value -> -                   */
	HRPC_GFS_LISTXATTR   = 26, /* xattr_req (no name) -> xattr_rep (+ bulk)     */
	HRPC_GFS_REMOVEXATTR = 27, /* xattr_req -> -                                */
	HRPC_GFS_FALLOCATE   = 28, /* fallocate_req -> -                            */
	HRPC_GFS_OPEN_READ   = 29, /* open_req (read-only) -> open_read_rep + bulk  */
	HRPC_GFS_ACCESS      = 30, /* access_req -> -  (0 or -EACCES, as access(2)) */
	HRPC_GFS_LOCK        = 31, /* lock_req -> lock_req (GETLK: the conflict)   */
};

/* Events (server -> client, outsource/fs only): the host changed something
 * the client may cache.  HRPC_GFS_EVT_INVAL carries struct
 * hrpc_gfs_inval_event. */
enum hrpc_gfs_event {
	HRPC_GFS_EVT_INVAL = 1,
};

/* A single path component, checked by the receiver with hrpc_gfs_name_check. */
struct hrpc_gfs_name {
	hrpc_u16 len;            /* 1..HRPC_GFS_NAME_MAX */
	hrpc_u16 reserved[3];    /* 0 */
	char name[256];          /* len bytes; the rest is zero */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_name) == 264, "gfs name is 264 bytes");

/* 0 if `n` is a valid new name; -EINVAL (empty, '/', NUL, ".", "..",
 * bytes after len not zero, reserved set) or -ENAMETOOLONG. */
static inline int hrpc_gfs_name_check(const struct hrpc_gfs_name *n)
{
	hrpc_u32 i;

	if (n->reserved[0] || n->reserved[1] || n->reserved[2])
		return -EINVAL;
	if (n->len == 0)
		return -EINVAL;
	if (n->len > HRPC_GFS_NAME_MAX)
		return -ENAMETOOLONG;
	for (i = 0; i < n->len; i++)
		if (n->name[i] == '/' || n->name[i] == '\0')
			return -EINVAL;
	for (; i < sizeof(n->name); i++)
		if (n->name[i])
			return -EINVAL;
	if (n->name[0] == '.' && (n->len == 1 || (n->len == 2 && n->name[1] == '.')))
		return -EINVAL;
	return 0;
}

/* Is `n` exactly "." or ".." (allowed in READDIR only, without a node)? */
static inline int hrpc_gfs_name_is_dot(const struct hrpc_gfs_name *n)
{
	return n->name[0] == '.' && (n->len == 1 || (n->len == 2 && n->name[1] == '.'));
}

/* Who makes a call: the first bytes of every CALL's payload.  A root
 * caller (uid 0) keeps the agent's privileges; anyone else has exactly
 * their own (the agent drops CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER, ...
 * with the fsuid, as the kernel does).  FORGET, RELEASE and RELEASEDIR
 * check no permission and carry whatever credentials the client has. */
#define HRPC_GFS_GROUPS_MAX 32u   /* supplementary groups carried per call */
struct hrpc_gfs_cred {
	hrpc_u32 uid;
	hrpc_u32 gid;
	hrpc_u16 ngroups;        /* 0..HRPC_GFS_GROUPS_MAX */
	hrpc_u16 reserved[3];    /* 0 */
	hrpc_u32 groups[HRPC_GFS_GROUPS_MAX]; /* ngroups of them; the rest 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_cred) == 144, "gfs cred is 144 bytes");

/* 0 if `c` is well formed, else -EINVAL.  (uid_t)-1 and (gid_t)-1 are
 * refused: they mean "no change" to the kernel's set*id calls. */
static inline int hrpc_gfs_cred_check(const struct hrpc_gfs_cred *c)
{
	hrpc_u32 i;

	if (c->reserved[0] || c->reserved[1] || c->reserved[2])
		return -EINVAL;
	if (c->ngroups > HRPC_GFS_GROUPS_MAX || c->uid == 0xffffffffu || c->gid == 0xffffffffu)
		return -EINVAL;
	for (i = 0; i < HRPC_GFS_GROUPS_MAX; i++)
		if (i < c->ngroups ? c->groups[i] == 0xffffffffu : c->groups[i] != 0)
			return -EINVAL;
	return 0;
}

/* File attributes, as stat(2) says them in the guest. */
struct hrpc_gfs_attr {
	hrpc_u64 ino;            /* guest inode number (informative) */
	hrpc_u64 size;           /* <= INT64_MAX */
	hrpc_u64 blocks;         /* 512-byte blocks */
	hrpc_u64 atime;          /* seconds since the epoch (signed) */
	hrpc_u64 mtime;
	hrpc_u64 ctime;
	hrpc_u32 atime_nsec;     /* < 1e9 */
	hrpc_u32 mtime_nsec;
	hrpc_u32 ctime_nsec;
	hrpc_u32 mode;           /* S_IFMT type (one of the 7) | permission bits */
	hrpc_u32 nlink;
	hrpc_u32 uid;
	hrpc_u32 gid;
	hrpc_u32 rdev;           /* Linux new_encode_dev() */
	hrpc_u32 blksize;
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_attr) == 88, "gfs attr is 88 bytes");

/* A node the agent looked up: the host must FORGET it (once per lookup). */
struct hrpc_gfs_entry {
	hrpc_u64 node;
	struct hrpc_gfs_attr attr;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_entry) == 96, "gfs entry is 96 bytes");

/* MOUNT: open `path` (absolute, resolved inside the agent's export root,
 * symlinks included: openat2 RESOLVE_IN_ROOT) as a new root node.  Every
 * node reached from it stays beneath it: names are single components, ".."
 * is refused and symlinks are never followed by the agent. */
struct hrpc_gfs_mount_req {
	hrpc_u32 flags;          /* HRPC_GFS_MOUNT_F_* */
	hrpc_u16 path_len;       /* 1..HRPC_GFS_PATH_MAX-1, path[0] == '/' */
	hrpc_u16 reserved;
	char path[HRPC_GFS_PATH_MAX]; /* path_len bytes, no NUL; rest zero */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_mount_req) == 4104, "gfs mount req is 4104 bytes");
#define HRPC_GFS_MOUNT_F_RDONLY 0x1u /* refuse every modifying call: -EROFS */

struct hrpc_gfs_node_req {
	hrpc_u64 node;
	hrpc_u64 fh;             /* GETATTR: an open file of that node, or 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_node_req) == 16, "gfs node req is 16 bytes");

/* ACCESS: may the caller (struct hrpc_gfs_cred) read, write or search the
 * node, as access(2) with AT_EACCESS says.  A symlink node is always
 * accessible (its own permission bits mean nothing). */
#define HRPC_GFS_ACCESS_R 4u
#define HRPC_GFS_ACCESS_W 2u
#define HRPC_GFS_ACCESS_X 1u
struct hrpc_gfs_access_req {
	hrpc_u64 node;
	hrpc_u32 mask;           /* HRPC_GFS_ACCESS_*; 0: exists */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_access_req) == 16, "gfs access req is 16 bytes");

struct hrpc_gfs_dir_name_req {
	hrpc_u64 parent;
	struct hrpc_gfs_name name;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_dir_name_req) == 272, "gfs dir name req is 272 bytes");

struct hrpc_gfs_forget_item {
	hrpc_u64 node;
	hrpc_u64 nlookup;        /* >= 1, <= the lookups not yet forgotten */
};
/* FORGET answers nothing the client needs: it may be sent one-way (an item
 * naming no node is skipped). */
struct hrpc_gfs_forget_req {
	hrpc_u32 count;          /* 1..HRPC_GFS_FORGET_MAX; payload = 8 + 16 * count */
	hrpc_u32 reserved;
	struct hrpc_gfs_forget_item items[];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_forget_item) == 16, "gfs forget item is 16 bytes");
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_forget_req) == 8, "gfs forget req is 8 bytes");

#define HRPC_GFS_SET_MODE       0x01u
#define HRPC_GFS_SET_UID        0x02u
#define HRPC_GFS_SET_GID        0x04u
#define HRPC_GFS_SET_SIZE       0x08u
#define HRPC_GFS_SET_ATIME      0x10u
#define HRPC_GFS_SET_MTIME      0x20u
#define HRPC_GFS_SET_ATIME_NOW  0x40u
#define HRPC_GFS_SET_MTIME_NOW  0x80u
#define HRPC_GFS_SET_KNOWN      0xffu

struct hrpc_gfs_setattr_req {
	hrpc_u64 node;
	hrpc_u64 fh;             /* open file to truncate through, or 0 */
	hrpc_u32 valid;          /* HRPC_GFS_SET_* */
	hrpc_u32 mode;           /* permission bits only (07777) */
	hrpc_u32 uid;
	hrpc_u32 gid;
	hrpc_u64 size;           /* <= INT64_MAX */
	hrpc_u64 atime;          /* signed seconds */
	hrpc_u64 mtime;
	hrpc_u32 atime_nsec;     /* < 1e9 */
	hrpc_u32 mtime_nsec;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_setattr_req) == 64, "gfs setattr req is 64 bytes");

/* MKNOD, MKDIR, CREATE. */
struct hrpc_gfs_make_req {
	hrpc_u64 parent;
	hrpc_u32 mode;           /* MKNOD: type|perm (S_IFREG/FIFO/SOCK/CHR/BLK);
				  * MKDIR/CREATE: perm bits only */
	hrpc_u32 umask;          /* applied by the agent */
	hrpc_u32 rdev;           /* MKNOD, Linux new_encode_dev() */
	hrpc_u32 flags;          /* CREATE: open flags (HRPC_GFS_O_*) */
	struct hrpc_gfs_name name;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_make_req) == 288, "gfs make req is 288 bytes");

struct hrpc_gfs_symlink_req {
	hrpc_u64 parent;
	hrpc_u16 target_len;     /* 1..HRPC_GFS_PATH_MAX-1 */
	hrpc_u16 reserved[3];
	struct hrpc_gfs_name name;
	char target[HRPC_GFS_PATH_MAX]; /* target_len bytes, no NUL; rest zero */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_symlink_req) == 4376, "gfs symlink req is 4376 bytes");

#define HRPC_GFS_RENAME_NOREPLACE 0x1u   /* = Linux RENAME_NOREPLACE */
#define HRPC_GFS_RENAME_EXCHANGE  0x2u   /* = Linux RENAME_EXCHANGE */

struct hrpc_gfs_rename_req {
	hrpc_u64 olddir;
	hrpc_u64 newdir;
	hrpc_u32 flags;          /* HRPC_GFS_RENAME_* (not both) */
	hrpc_u32 reserved;
	struct hrpc_gfs_name oldname;
	struct hrpc_gfs_name newname;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_rename_req) == 552, "gfs rename req is 552 bytes");

struct hrpc_gfs_link_req {
	hrpc_u64 node;           /* existing node, not a directory */
	hrpc_u64 newparent;
	struct hrpc_gfs_name newname;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_link_req) == 280, "gfs link req is 280 bytes");

/* Open flags: the agent accepts exactly these (Linux x86-64 values) and
 * adds O_NOFOLLOW/O_CLOEXEC itself; anything else is -EINVAL. */
#define HRPC_GFS_O_ACCMODE   00000003u
#define HRPC_GFS_O_TRUNC     00001000u
#define HRPC_GFS_O_APPEND    00002000u
#define HRPC_GFS_O_DSYNC     00010000u
#define HRPC_GFS_O_EXCL      00000200u   /* CREATE only */
#define HRPC_GFS_O_SYNC      04010000u
#define HRPC_GFS_O_NOATIME   01000000u
#define HRPC_GFS_O_KNOWN     (HRPC_GFS_O_ACCMODE | HRPC_GFS_O_TRUNC | HRPC_GFS_O_APPEND | \
			      HRPC_GFS_O_DSYNC | HRPC_GFS_O_EXCL | HRPC_GFS_O_SYNC | \
			      HRPC_GFS_O_NOATIME)

struct hrpc_gfs_open_req {
	hrpc_u64 node;           /* a regular file */
	hrpc_u32 flags;          /* HRPC_GFS_O_* without O_EXCL */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_open_req) == 16, "gfs open req is 16 bytes");

/* OPEN_READ: OPEN for reading that also returns the file's first bytes
 * (up to the call's bulk_cap, at most HRPC_GFS_IO_MAX) as reply bulk: the
 * read that follows almost every open costs no second round trip. */
struct hrpc_gfs_open_read_rep {
	hrpc_u64 fh;
	hrpc_u32 size;           /* bytes from offset 0 in the reply bulk */
	hrpc_u32 eof;            /* 1: the file ended within them */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_open_read_rep) == 16, "gfs open read rep is 16 bytes");

struct hrpc_gfs_fh_req {
	hrpc_u64 fh;
	hrpc_u32 flags;          /* FSYNC: HRPC_GFS_FSYNC_DATASYNC; else 0 */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_fh_req) == 16, "gfs fh req is 16 bytes");
#define HRPC_GFS_FSYNC_DATASYNC 0x1u

struct hrpc_gfs_fh_rep {
	hrpc_u64 fh;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_fh_rep) == 8, "gfs fh rep is 8 bytes");

struct hrpc_gfs_create_rep {
	struct hrpc_gfs_entry entry;
	hrpc_u64 fh;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_create_rep) == 104, "gfs create rep is 104 bytes");

/* READ: up to `size` bytes at `offset` come back as reply bulk (the call's
 * bulk_cap must be >= size); fewer than asked means the file ended there
 * (at the time of the read).  WRITE: the request bulk holds exactly `size`
 * bytes. */
struct hrpc_gfs_io_req {
	hrpc_u64 fh;
	hrpc_u64 offset;         /* offset + size <= INT64_MAX */
	hrpc_u32 size;           /* <= HRPC_GFS_IO_MAX */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_io_req) == 24, "gfs io req is 24 bytes");

struct hrpc_gfs_io_rep {
	hrpc_u32 size;           /* READ: bytes in the reply bulk (<= asked);
				  * WRITE: bytes written (<= asked) */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_io_rep) == 8, "gfs io rep is 8 bytes");

/* READDIR: entries from cookie `offset` (0 = the start) into the reply bulk
 * (the call's bulk_cap / sizeof(dirent or dirent_plus) entries at most).
 * With HRPC_GFS_READDIR_PLUS each entry but "." and ".." carries a node and
 * counts one lookup of it. */
struct hrpc_gfs_readdir_req {
	hrpc_u64 fh;
	hrpc_u64 offset;
	hrpc_u32 flags;          /* HRPC_GFS_READDIR_PLUS */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_readdir_req) == 24, "gfs readdir req is 24 bytes");
#define HRPC_GFS_READDIR_PLUS 0x1u

struct hrpc_gfs_readdir_rep {
	hrpc_u32 count;          /* entries in the bulk */
	hrpc_u32 eof;            /* 1: no entries after the last one */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_readdir_rep) == 8, "gfs readdir rep is 8 bytes");

struct hrpc_gfs_dirent {
	hrpc_u64 off;            /* cookie of the NEXT entry (for READDIR offset) */
	hrpc_u64 ino;
	hrpc_u32 type;           /* DT_* */
	hrpc_u32 reserved;
	struct hrpc_gfs_name name;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_dirent) == 288, "gfs dirent is 288 bytes");

struct hrpc_gfs_dirent_plus {
	struct hrpc_gfs_dirent d;
	struct hrpc_gfs_entry entry; /* entry.node == 0 for "." and ".." */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_dirent_plus) == 384, "gfs dirent plus is 384 bytes");

struct hrpc_gfs_statfs {
	hrpc_u64 blocks;
	hrpc_u64 bfree;
	hrpc_u64 bavail;
	hrpc_u64 files;
	hrpc_u64 ffree;
	hrpc_u32 bsize;
	hrpc_u32 frsize;
	hrpc_u32 namemax;
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_statfs) == 56, "gfs statfs is 56 bytes");

/* GETXATTR/LISTXATTR: size 0 asks for the size only; otherwise the value /
 * NUL-separated list comes back as reply bulk (bulk_cap >= size) or -ERANGE.
 * SETXATTR: request bulk holds `size` bytes of value.  LISTXATTR and
 * REMOVEXATTR/GETXATTR/SETXATTR differ in whether `name` is used (LIST: len
 * 0, all zero).  Nodes other than regular files and directories: -ENOTSUP. */
struct hrpc_gfs_xattr_req {
	hrpc_u64 node;
	hrpc_u32 size;           /* <= HRPC_GFS_XATTR_MAX */
	hrpc_u32 flags;          /* SETXATTR: XATTR_CREATE 1 / XATTR_REPLACE 2 */
	struct hrpc_gfs_name name; /* "namespace.name" */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_xattr_req) == 280, "gfs xattr req is 280 bytes");

struct hrpc_gfs_xattr_rep {
	hrpc_u32 size;           /* size of the value/list (in the bulk if asked) */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_xattr_rep) == 8, "gfs xattr rep is 8 bytes");

struct hrpc_gfs_fallocate_req {
	hrpc_u64 fh;
	hrpc_u64 offset;
	hrpc_u64 length;
	hrpc_u32 mode;           /* FALLOC_FL_KEEP_SIZE 1 | PUNCH_HOLE 2 only */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_fallocate_req) == 32, "gfs fallocate req is 32 bytes");

/* LOCK: a byte-range (POSIX) or whole-file (flock) lock on an open file,
 * held on the server as an open file description lock of that file
 * (F_OFD_SETLK, flock(2)), so the server's other users see it and a
 * RELEASE drops it.  Never blocks: a conflict is -EAGAIN (SETLK) and the
 * client waits and retries for a blocking request; GETLK answers with the
 * request rewritten (type F_UNLCK if nothing conflicts). */
#define HRPC_GFS_LOCK_GET   0u   /* F_GETLK */
#define HRPC_GFS_LOCK_SET   1u   /* F_SETLK (F_SETLKW: retried by the client) */
#define HRPC_GFS_LOCK_FLOCK 2u   /* flock(2): LOCK_SH/EX/UN by `type` */
#define HRPC_GFS_LOCK_RD    0u   /* F_RDLCK */
#define HRPC_GFS_LOCK_WR    1u   /* F_WRLCK */
#define HRPC_GFS_LOCK_UN    2u   /* F_UNLCK */
struct hrpc_gfs_lock_req {
	hrpc_u64 fh;
	hrpc_u64 start;          /* <= INT64_MAX */
	hrpc_u64 len;            /* 0: to the end of the file; start + len <= INT64_MAX */
	hrpc_u32 cmd;            /* HRPC_GFS_LOCK_GET / _SET / _FLOCK */
	hrpc_u32 type;           /* HRPC_GFS_LOCK_RD / _WR / _UN */
	hrpc_u32 pid;            /* GETLK reply: -1 (a lock of another file description) */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_lock_req) == 40, "gfs lock req is 40 bytes");

/* HRPC_GFS_EVT_INVAL: a node's data or attributes changed on the server by
 * someone else than this client (a host process), or a name in a directory
 * node appeared, went or was replaced.  The client drops what it cached:
 * ATTR its attributes, DATA its cached pages as well, ENTRY the dentry
 * `name` of directory `node` (and that directory's attributes).  Nodes the
 * client has forgotten are never named; a node the client does not know
 * (a race with FORGET) is ignored.  Node 0 (with all three bits): the
 * server lost track of changes (its watch queue overflowed) - everything
 * the client cached from this channel may be stale. */
#define HRPC_GFS_INVAL_ATTR  0x1u
#define HRPC_GFS_INVAL_DATA  0x2u
#define HRPC_GFS_INVAL_ENTRY 0x4u
struct hrpc_gfs_inval_event {
	hrpc_u64 node;
	hrpc_u32 what;           /* HRPC_GFS_INVAL_* */
	hrpc_u32 reserved;
	struct hrpc_gfs_name name; /* ENTRY: the name; else len 0, all zero */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gfs_inval_event) == 280, "gfs inval event is 280 bytes");

#endif /* HOSTRPC_GUESTFS_H */
