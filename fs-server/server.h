/* SPDX-License-Identifier: MIT */
/*
 * server.h - the filesystem protocol's server: one directory tree served
 * by the procedures of include/hostrpc/guestfs.h.  One set of semantics
 * for both directions of the design:
 *
 *   guest -> host   guestrpcd, the guest agent, serves a guest directory to
 *                   the host's hostrpc-guestmount (FUSE), service 256
 *   host -> guest   hostrpcd's per-guest worker serves a host directory to
 *                   the guest kernel's filesystem (outsource/fs, service 17;
 *                   not built yet)
 *
 * What it promises, whoever the client is (the client is hostile):
 *  - nothing a client names leads outside the tree it mounted: MOUNT
 *    resolves beneath the export root (openat2 RESOLVE_IN_ROOT, or a walk
 *    that refuses ".." and symlinks), every other name is one checked
 *    component from a node the server holds, and symlinks are never
 *    followed by the server;
 *  - handles are table indexes with generations (hostrpc/handle-table.h):
 *    a forged, stale or released one names nothing (-ESTALE / -EBADF);
 *  - each call runs as its caller (struct hrpc_gfs_cred) as the export's
 *    id policy maps it (cfg.ids: passthrough, squash, a mapped range): the
 *    kernel checks permissions and owns new files as for that user (the
 *    server must run as root to switch; otherwise it acts as itself), and
 *    ids go back to the client through the same policy;
 *  - at most max_nodes nodes and max_files open files and directories
 *    (-EMFILE / -ENFILE past them);
 *  - only regular files are opened for I/O, so no call blocks the thread;
 *  - what would give the client (or whoever runs the files) more than
 *    their own rights is refused unless the export allows it
 *    (FSS_ALLOW_*): setuid and file-setgid modes, device nodes, the
 *    security.* and trusted.* xattrs (file capabilities: hidden from
 *    listings, ENODATA to read, EPERM to change).
 *
 * Threads: a server is used from one thread (it switches that thread's
 * fsuid, fsgid and groups around each call).  Error convention: -errno,
 * the reply status.
 */
#ifndef HOSTRPC_FS_SERVER_H
#define HOSTRPC_FS_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/idmap.h"

#define FSS_ALLOW_SUID        0x1u  /* setuid bits, setgid on files (else EPERM) */
#define FSS_ALLOW_DEV         0x2u  /* MKNOD of character and block devices */
#define FSS_ALLOW_PRIV_XATTRS 0x4u  /* security.* and trusted.* (else hidden, EPERM) */

struct fss_config {
	uint32_t max_nodes;        /* nodes (looked-up inodes) */
	uint32_t max_files;        /* open files + directories */
	uint32_t flags;            /* FSS_ALLOW_* */
	/* Bytes the client may write (WRITE, FALLOCATE that allocates) over
	 * the server's life, 0: no limit; past it -EDQUOT. */
	uint64_t max_write_bytes;
	/* Who a client's caller is here, and whose ids it is shown
	 * (hostrpc/idmap.h; zero: passthrough). */
	struct hrpc_idmap ids;
	/* One line per notable event (a MOUNT), or NULL. */
	void (*log)(void *data, const char *msg);
	void *log_data;
	/* One line per open and per refusal (EACCES, EPERM, EROFS), host-made
	 * text but for the file names in paths, or NULL. */
	void (*audit)(void *data, const char *line);
	void *audit_data;
	/* Handles carry this byte (top byte of the index): several servers,
	 * one per export, behind one service tell theirs apart. */
	uint8_t handle_tag;
	/* Watch the nodes the client holds (inotify) and report changes made
	 * by anyone but the client's own calls through `inval`, from
	 * fss_handle() and fss_watch_dispatch(). */
	bool watch;
	void (*inval)(void *data, const struct hrpc_gfs_inval_event *ev);
	void *inval_data;
};

struct fss;

/* A server of the tree at export_root_fd (an O_PATH directory the caller
 * keeps open for the server's lifetime). */
struct fss *fss_new(int export_root_fd, const struct fss_config *cfg);
/* Closes every node and open file. */
void fss_free(struct fss *s);
/* hrpc_server handler for the filesystem service (opaque: the fss). */
int fss_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep);

/* With cfg.watch: the inotify descriptor to poll for input (-1: none), and
 * what to call when it has some. */
int fss_watch_fd(const struct fss *s);
void fss_watch_dispatch(struct fss *s);

/* The open files and directories, for listings and the migration table:
 * 1 and the next one at or after *pos (start at 0), 0 at the end. */
#define FSS_LOCKS_MAX 16
struct fss_lock {
	uint64_t start, end;       /* [start, end); end UINT64_MAX: to the end */
	uint32_t type;             /* HRPC_GFS_LOCK_RD / _WR */
};
struct fss_file_info {
	uint64_t fh;
	uint64_t node;
	bool dir;
	uint32_t flags;            /* HRPC_GFS_O_* as opened */
	char path[4096];           /* host path (the kernel's name for the fd) */
	/* The inode's file handle (name_to_handle_at; len 0: none), which
	 * survives renames: what a migration re-opens by, the path as the
	 * fallback.  The client's locks through this file: byte ranges
	 * (overflow: more than FSS_LOCKS_MAX were held) and its flock. */
	int handle_type;
	uint32_t handle_len;
	unsigned char handle[128];
	struct fss_lock locks[FSS_LOCKS_MAX];
	uint32_t nlocks;
	bool locks_overflow;
	uint32_t flock_type;       /* HRPC_GFS_LOCK_RD / _WR / _UN */
};
int fss_file_next(struct fss *s, uint32_t *pos, struct fss_file_info *info);

/*
 * A migrating guest (include/hostrpc/fsstate.h), host side.
 *  - fss_mig_export() writes this server's node and file records to `out`
 *    and how many of each to *nnodes, *nfiles; nodes it cannot name any
 *    more (deleted) are left out, and the files open through them.  -errno.
 *  - fss_mig_quiesce() lets go of the client's locks on the host (the
 *    destination takes them: the same files, if the hosts share them);
 *    fss_mig_resume() takes them again (a rollback; -errno if another
 *    process took one meanwhile: the lock is lost, the rest are taken).
 *  - fss_mig_import() makes `nnodes` node and `nfiles` file records (p,
 *    len bytes: exactly those) again, under the same handles, in a server
 *    that has served nothing yet, in the mode `ro`; the client's locks are
 *    taken.  All or nothing: on failure the server is as before.  -EPROTO
 *    for records a host would not send, -ESTALE for a path that is not
 *    there or not the same kind of file, or the errno of what failed;
 *    `err` says which.
 */
int fss_mig_export(struct fss *s, FILE *out, uint32_t *nnodes, uint32_t *nfiles);
void fss_mig_quiesce(struct fss *s);
int fss_mig_resume(struct fss *s);
int fss_mig_import(struct fss *s, const uint8_t *p, size_t len, uint32_t nnodes,
		   uint32_t nfiles, bool ro, uint64_t written, char *err, size_t errlen);
/* The mode of its MOUNTs: 0 read-write, 1 read-only, -1 none yet. */
int fss_mode(const struct fss *s);
uint32_t fss_node_count(const struct fss *s);
/* Bytes written so far (what max_write_bytes counts). */
uint64_t fss_written(const struct fss *s);

#endif
