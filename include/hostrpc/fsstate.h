/* SPDX-License-Identifier: MIT */
/*
 * fsstate.h - the state of a guest's outsourced filesystem (hostrpcfs) as
 * one host ships it to another when the guest migrates (issue 14).
 *
 * The guest keeps its node and file handles across the move: the
 * destination makes each node and open file again under the same handle,
 * from its own policy's export of the same NAME, which may live at another
 * path there.  Nodes travel as paths relative to their export's root (a
 * file handle would not mean anything on another host's filesystem); open
 * files as their node, open flags and the locks the guest holds through
 * them.  A node the source cannot name any more (deleted while the guest
 * held it) does not travel: the guest's next call on it fails (ESTALE).
 *
 *   struct hrpc_fs_mig_table | nserv x (struct hrpc_fs_mig_server
 *       | nnodes x (struct hrpc_fs_mig_node | path, padded to 8)
 *       | nfiles x struct hrpc_fs_mig_file)
 *
 * Everything comes from another host: the destination checks it all
 * (hrpc_fs_mig_*_check(), and the path rules below) on its own copy
 * before it uses any of it.  Numbers are little-endian (compat.h).
 */
#ifndef HOSTRPC_FSSTATE_H
#define HOSTRPC_FSSTATE_H

#include "compat.h"

#define HRPC_FS_MIG_MAGIC     0x31534648u  /* "HFS1" */
#define HRPC_FS_MIG_SERVERS   64u          /* servers (export x mode) in one table */
#define HRPC_FS_MIG_NODES     (1u << 20)   /* nodes of one server */
#define HRPC_FS_MIG_LOCKS     16u          /* byte-range locks of one open file */
#define HRPC_FS_MIG_PATH_MAX  4095u

struct hrpc_fs_mig_table {
	hrpc_u32 magic;            /* HRPC_FS_MIG_MAGIC */
	hrpc_u32 nserv;
	hrpc_u64 size;             /* the whole table in bytes */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fs_mig_table) == 16, "fs table header is 16 bytes");

struct hrpc_fs_mig_server {
	char     export_name[64];  /* the policy's name: [A-Za-z0-9._-]{1,63}, NUL-padded */
	hrpc_u8  tag;              /* the handles' tag (top byte of their index) */
	hrpc_u8  ro;               /* 1: the read-only mode of the export */
	hrpc_u16 flags;            /* HRPC_FS_MIG_F_* */
	hrpc_u32 nnodes;
	hrpc_u32 nfiles;
	hrpc_u32 reserved1;        /* 0 */
	hrpc_u64 written;          /* bytes written so far (the export's quota) */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fs_mig_server) == 88, "fs server record is 88 bytes");

/* The export is not at the destination (or the operator said so): its
 * server stays at the source's remnant and the destination forwards every
 * call on its handles there (migfwd.h CALL).  The destination skips its
 * node and file records. */
#define HRPC_FS_MIG_F_FORWARD 0x1u

/* hrpc_fs_mig_node.type: the S_IFMT bits >> 12 */
struct hrpc_fs_mig_node {
	hrpc_u64 handle;           /* the table's handle, without the tag */
	hrpc_u64 nlookup;          /* >= 1 */
	hrpc_u16 type;             /* 1 FIFO, 2 CHR, 4 DIR, 6 BLK, 8 REG, 10 LNK, 12 SOCK */
	hrpc_u16 path_len;         /* 0 (the export's root) .. HRPC_FS_MIG_PATH_MAX */
	hrpc_u32 reserved;         /* 0 */
	/* path_len bytes, then zeros to a multiple of 8 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fs_mig_node) == 24, "fs node record is 24 bytes");

struct hrpc_fs_mig_lock {
	hrpc_u64 start, end;       /* [start, end); end 2^64-1: to the end of the file */
	hrpc_u32 type;             /* HRPC_GFS_LOCK_RD / _WR */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fs_mig_lock) == 24, "fs lock record is 24 bytes");

struct hrpc_fs_mig_file {
	hrpc_u64 handle;           /* the table's handle, without the tag */
	hrpc_u64 node;             /* the node's, without the tag */
	hrpc_u32 flags;            /* HRPC_GFS_O_* as opened */
	hrpc_u8  dir;              /* 1: a directory stream */
	hrpc_u8  nlocks;           /* 0..HRPC_FS_MIG_LOCKS */
	hrpc_u8  flock_type;       /* HRPC_GFS_LOCK_RD / _WR / _UN */
	hrpc_u8  reserved;         /* 0 */
	struct hrpc_fs_mig_lock locks[HRPC_FS_MIG_LOCKS];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_fs_mig_file) == 24 + 24 * HRPC_FS_MIG_LOCKS,
		   "fs file record");

/*
 * A node's path as the destination resolves it beneath its export: no
 * leading or trailing '/', no empty, "." or ".." component, no NUL.  0 or
 * -EPROTO.
 */
static inline int hrpc_fs_mig_path_check(const char *p, hrpc_u32 len)
{
	hrpc_u32 i = 0;

	if (len > HRPC_FS_MIG_PATH_MAX)
		return -EPROTO;
	while (i < len) {
		hrpc_u32 start = i;

		while (i < len && p[i] != '/') {
			if (!p[i])
				return -EPROTO;
			i++;
		}
		if (i == start || (i - start == 1 && p[start] == '.') ||
		    (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
			return -EPROTO;
		if (i < len && ++i == len)
			return -EPROTO;   /* a trailing '/' */
	}
	return 0;
}

#endif /* HOSTRPC_FSSTATE_H */
