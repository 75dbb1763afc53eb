/* SPDX-License-Identifier: MIT */
/*
 * server.c - the filesystem protocol's server (include/hostrpc/guestfs.h)
 * over one directory tree (fs-server/server.h).
 *
 * A node is an O_PATH|O_NOFOLLOW fd on one inode, reached from its parent
 * node by one checked name (never "..", never a '/'), so nothing the host
 * names can lead outside the tree it mounted, and symlinks are never
 * followed by the agent.  Operations that need a path on a node use the
 * /proc/self/fd/N magic link, which names exactly that inode (virtiofsd's
 * approach).  Nodes are deduplicated by (st_dev, st_ino) so one inode is
 * one handle, with a lookup count the host decrements with FORGET.
 *
 * Open files and directories live in a second handle table.  Only regular
 * files are ever opened for I/O: a FIFO or device opened here could block
 * the agent's single thread.
 *
 * Each call runs as its caller (struct hrpc_gfs_cred, first in the
 * payload): the agent's one thread takes the caller's supplementary groups,
 * fsgid and fsuid for the call and its own back after it (virtiofsd's
 * approach, per thread there), so the guest kernel checks permissions, and
 * owns new files, as for the caller.  An agent that is not root cannot
 * switch and acts as itself.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hostrpc/fsstate.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/handle-table.h"
#include "hostrpc/idmap.h"
#include "fs-server/server.h"

#ifndef RESOLVE_IN_ROOT
struct open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT       0x10
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_BENEATH       0x08
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

struct gnode {
	int fd;              /* O_PATH */
	dev_t dev;
	ino_t ino;
	mode_t type;         /* S_IFMT bits at lookup */
	uint64_t nlookup;
	uint64_t handle;     /* the table's; the client sees wire_handle() */
	uint32_t hnext;      /* hash chain: table index + 1, 0 = end */
	int wd;              /* inotify watch (fss_config.watch), -1 = none */
	uint32_t wnext;      /* watch chain: table index + 1, 0 = end */
	bool mig_unnamed;    /* fss_mig_export(): no path beneath the export */
};

struct gfile {
	int fd;
	DIR *dir;            /* directories */
	uint64_t pos;        /* directory cookie the stream is at */
	uint64_t node;       /* node handle it was opened from (as the client sees it) */
	bool writable;
	uint32_t flags;      /* open flags as asked (HRPC_GFS_O_*) */
	/* The locks the client holds through it (for the open-file table):
	 * byte ranges [start, end) (end UINT64_MAX: to the end of the file),
	 * and its flock. */
	struct fss_lock locks[FSS_LOCKS_MAX];
	uint32_t nlocks;
	bool locks_overflow;
	uint32_t flock_type; /* HRPC_GFS_LOCK_RD / _WR / _UN */
};

struct fss {
	struct fss_config cfg;
	int export_fd;
	int rdonly;          /* -1 = no MOUNT yet */
	bool switch_ids;     /* the agent is root: calls run as their callers */
	uid_t uid;           /* the agent's own fsuid, fsgid and groups */
	gid_t gid;
	int ngroups;
	gid_t groups[HRPC_GFS_GROUPS_MAX];
	struct hrpc_handle_table nodes;
	struct hrpc_handle_table files;
	uint32_t *buckets;   /* index + 1 of the first node, 0 = empty */
	uint32_t nbuckets;   /* power of two */
	uint64_t tag;        /* cfg.handle_tag in the index's top byte */
	uint64_t written;    /* bytes written (cfg.max_write_bytes) */
	/* Host-side changes (cfg.watch): an inotify instance, its watches
	 * hashed by descriptor, the watches of this call's own nodes (their
	 * events are the client's own doing), nodes still to be watched. */
	int ino_fd;
	uint32_t wbuckets[256];
	int self_wd[3];
	uint32_t unwatched[64];
	uint32_t nunwatched;
	bool unwatched_overflow;
};

/* Handles as the client sees them: the table's, with the server's tag in
 * the top byte of the index (fss_config.handle_tag; tables hold at most
 * 2^24 entries).  A handle with another tag names nothing here. */
static uint64_t wire_handle(const struct fss *s, uint64_t h)
{
	return h | s->tag;
}

static bool wire_untag(const struct fss *s, uint64_t *h)
{
	if ((*h & 0xff000000ull) != s->tag)
		return false;
	*h &= ~0xff000000ull;
	return true;
}

__attribute__((format(printf, 2, 3)))
static void fss_log(const struct fss *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!s->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cfg.log(s->cfg.log_data, msg);
}

/* A mode the export takes: setuid, and setgid on a non-directory (a
 * directory's setgid only says how groups are inherited), only where the
 * export allows them. */
static int mode_allowed(const struct fss *s, mode_t type, uint32_t mode)
{
	if (s->cfg.flags & FSS_ALLOW_SUID)
		return 0;
	if ((mode & S_ISUID) || ((mode & S_ISGID) && type != S_IFDIR))
		return -EPERM;
	return 0;
}

/* security.* (file capabilities, LSM labels) and trusted.* are the
 * system's, not the client's: hidden and refused unless allowed. */
static bool xattr_hidden(const struct fss *s, const char *name)
{
	return !(s->cfg.flags & FSS_ALLOW_PRIV_XATTRS) &&
	       (!strncmp(name, "security.", 9) || !strncmp(name, "trusted.", 8));
}

/* ---- nodes ---------------------------------------------------------------- */

static uint32_t hash_key(dev_t dev, ino_t ino, uint32_t nb)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;

	return (uint32_t)(h >> 32) & (nb - 1);
}

static struct gnode *node_at(struct fss *s, uint32_t idx)
{
	return hrpc_handle_table_at(&s->nodes, idx);
}

static int rehash(struct fss *s)
{
	uint32_t nb = s->nbuckets ? s->nbuckets * 2 : 1024;
	uint32_t *b = calloc(nb, sizeof(*b));
	uint32_t pos = 0;
	uint64_t h;
	struct gnode *n;

	if (!b)
		return -ENOMEM;
	while ((n = hrpc_handle_table_next(&s->nodes, &pos, &h))) {
		uint32_t k = hash_key(n->dev, n->ino, nb);

		n->hnext = b[k];
		b[k] = hrpc_handle_index(h) + 1;
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = nb;
	return 0;
}

static struct gnode *node_find(struct fss *s, dev_t dev, ino_t ino)
{
	uint32_t i;

	if (!s->nbuckets)
		return NULL;
	for (i = s->buckets[hash_key(dev, ino, s->nbuckets)]; i; i = node_at(s, i - 1)->hnext) {
		struct gnode *n = node_at(s, i - 1);

		if (n->dev == dev && n->ino == ino)
			return n;
	}
	return NULL;
}

static void node_unhash(struct fss *s, struct gnode *n)
{
	uint32_t idx = hrpc_handle_index(n->handle) + 1;
	uint32_t *p = &s->buckets[hash_key(n->dev, n->ino, s->nbuckets)];

	while (*p && *p != idx)
		p = &node_at(s, *p - 1)->hnext;
	if (*p)
		*p = n->hnext;
}

static struct gnode *node_get(struct fss *s, uint64_t h)
{
	return wire_untag(s, &h) ? hrpc_handle_table_get(&s->nodes, h) : NULL;
}

static void watch_forget(struct fss *s, struct gnode *n);

static void node_drop(struct fss *s, struct gnode *n)
{
	watch_forget(s, n);
	node_unhash(s, n);
	hrpc_handle_table_remove(&s->nodes, n->handle);
	close(n->fd);
	free(n);
}

/*
 * Take ownership of `fd` (an O_PATH fd whose stat is `st`) as a node with
 * one more lookup: an existing node of the same inode, or a new one.
 */
static int node_adopt(struct fss *s, int fd, const struct stat *st, struct gnode **out)
{
	struct gnode *n = node_find(s, st->st_dev, st->st_ino);
	uint32_t k;
	int rc;

	if (n) {
		close(fd);
		n->nlookup++;
		*out = n;
		return 0;
	}
	if (hrpc_handle_table_count(&s->nodes) + 1 > s->nbuckets && (rc = rehash(s)) < 0)
		goto err;
	n = calloc(1, sizeof(*n));
	if (!n) {
		rc = -ENOMEM;
		goto err;
	}
	rc = hrpc_handle_table_add(&s->nodes, n, &n->handle);
	if (rc < 0) {
		free(n);
		goto err;
	}
	n->fd = fd;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->nlookup = 1;
	n->wd = -1;
	/* Watched once the call is over (the caller's identity may not
	 * read it); a call makes at most a few nodes but READDIRPLUS. */
	if (s->ino_fd >= 0 && n->type != S_IFLNK) {
		if (s->nunwatched < sizeof(s->unwatched) / sizeof(s->unwatched[0]))
			s->unwatched[s->nunwatched++] = hrpc_handle_index(n->handle);
		else
			s->unwatched_overflow = true;
	}
	k = hash_key(n->dev, n->ino, s->nbuckets);
	n->hnext = s->buckets[k];
	s->buckets[k] = hrpc_handle_index(n->handle) + 1;
	*out = n;
	return 0;
err:
	close(fd);
	return rc;
}

/* Attributes as the client is shown them: ids through the export's id
 * policy (fss_config.ids), back from the server's. */
static void attr_from_stat(const struct fss *s, struct hrpc_gfs_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atime_nsec = (uint32_t)st->st_atim.tv_nsec;
	a->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = hrpc_idmap_uid_back(&s->cfg.ids, st->st_uid);
	a->gid = hrpc_idmap_gid_back(&s->cfg.ids, st->st_gid);
	a->rdev = (uint32_t)((minor(st->st_rdev) & 0xff) | (major(st->st_rdev) << 8) |
			     ((minor(st->st_rdev) & ~0xffu) << 12));
	a->blksize = (uint32_t)st->st_blksize;
}

static int node_stat(const struct gnode *n, struct stat *st)
{
	if (fstatat(n->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static void proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Look `name` up in directory node `dir`: one more lookup of the result. */
static int lookup_name(struct fss *s, struct gnode *dir, const char *name,
		       struct hrpc_gfs_entry *e)
{
	struct gnode *n;
	struct stat st;
	int fd, rc;

	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = node_adopt(s, fd, &st, &n);
	if (rc < 0)
		return rc;
	e->node = wire_handle(s, n->handle);
	attr_from_stat(s, &e->attr, &st);
	return 0;
}

/* A name from the host, copied to a C string after hrpc_gfs_name_check. */
static int take_name(const struct hrpc_gfs_name *wn, char out[HRPC_GFS_NAME_MAX + 1])
{
	int rc = hrpc_gfs_name_check(wn);

	if (rc < 0)
		return rc;
	memcpy(out, wn->name, wn->len);
	out[wn->len] = 0;
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

static struct gfile *file_get(struct fss *s, uint64_t h)
{
	return wire_untag(s, &h) ? hrpc_handle_table_get(&s->files, h) : NULL;
}

static void file_close(struct gfile *f)
{
	if (f->dir)
		closedir(f->dir);
	else
		close(f->fd);
	free(f);
}

static void audit_open(struct fss *s, int fd, uint32_t flags, bool dir, int rc);

/* The open-file quota, checked before the file is opened (or made): a
 * guest at its quota costs a table lookup per request, not an open(), and
 * a refused CREATE leaves no file behind.  file_add() checks it again. */
static int files_room(const struct fss *s)
{
	return hrpc_handle_table_full(&s->files) ? -EMFILE : 0;
}

static int file_add(struct fss *s, int fd, DIR *dir, uint64_t node, bool writable,
		    uint32_t flags, uint64_t *fh)
{
	struct gfile *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		rc = -ENOMEM;
	else if ((rc = hrpc_handle_table_add(&s->files, f, fh)) == 0) {
		f->fd = fd;
		f->dir = dir;
		f->node = wire_handle(s, node);
		f->writable = writable;
		f->flags = flags;
		f->flock_type = HRPC_GFS_LOCK_UN;
		*fh = wire_handle(s, *fh);
		audit_open(s, dir ? dirfd(dir) : fd, flags, dir != NULL, 0);
		return 0;
	}
	free(f);
	if (dir)
		closedir(dir);
	else
		close(fd);
	return rc;
}

/* ---- state ------------------------------------------------------------------ */

struct fss *fss_new(int export_root_fd, const struct fss_config *cfg)
{
	struct fss *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->export_fd = export_root_fd;
	s->rdonly = -1;
	s->uid = geteuid();
	s->gid = getegid();
	s->ngroups = getgroups(HRPC_GFS_GROUPS_MAX, s->groups);
	s->switch_ids = s->uid == 0 && s->ngroups >= 0;
	s->tag = (uint64_t)cfg->handle_tag << 24;
	s->ino_fd = -1;
	s->self_wd[0] = s->self_wd[1] = s->self_wd[2] = -1;
	if (cfg->watch) {
		s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (s->ino_fd < 0)
			fss_log(s, "host-side changes are not watched: inotify: %s",
				strerror(errno));
	}
	/* The index's top byte is the tag. */
	hrpc_handle_table_init(&s->nodes, cfg->max_nodes < (1u << 24) ? cfg->max_nodes : (1u << 24) - 1, 0);
	hrpc_handle_table_init(&s->files, cfg->max_files < (1u << 24) ? cfg->max_files : (1u << 24) - 1, 0);
	return s;
}

void fss_free(struct fss *s)
{
	uint32_t pos = 0;
	uint64_t h;
	void *o;

	if (!s)
		return;
	while ((o = hrpc_handle_table_next(&s->files, &pos, &h)))
		file_close(o);
	pos = 0;
	while ((o = hrpc_handle_table_next(&s->nodes, &pos, &h))) {
		close(((struct gnode *)o)->fd);
		free(o);
	}
	hrpc_handle_table_fini(&s->files);
	hrpc_handle_table_fini(&s->nodes);
	free(s->buckets);
	if (s->ino_fd >= 0)
		close(s->ino_fd);
	free(s);
}

/* ---- procedures --------------------------------------------------------------- */

/* Walk `path` beneath the export root without following symlinks or "..":
 * the fallback when openat2(RESOLVE_IN_ROOT) is not available. */
static int walk_beneath(int root, const char *path)
{
	char comp[HRPC_GFS_NAME_MAX + 1];
	int fd = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	while (fd >= 0 && *path) {
		const char *e;
		size_t len;
		int nfd;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		e = strchr(path, '/');
		len = e ? (size_t)(e - path) : strlen(path);
		if (len > HRPC_GFS_NAME_MAX) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, path, len);
		comp[len] = 0;
		path += len;
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			close(fd);
			return -EACCES;
		}
		nfd = openat(fd, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return errno == ELOOP ? -EACCES : -errno;
		fd = nfd;
	}
	return fd < 0 ? -errno : fd;
}

static int do_mount(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_mount_req *m = req->payload;
	struct hrpc_gfs_entry *e = rep->payload;
	char path[HRPC_GFS_PATH_MAX];
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct gnode *n;
	struct stat st;
	int ro, fd, rc;

	if (req->len != sizeof(*m) || m->reserved || (m->flags & ~HRPC_GFS_MOUNT_F_RDONLY))
		return -EINVAL;
	if (m->path_len == 0 || m->path_len >= HRPC_GFS_PATH_MAX || m->path[0] != '/')
		return -EINVAL;
	if (memchr(m->path, 0, m->path_len))
		return -EINVAL;
	for (size_t i = m->path_len; i < sizeof(m->path); i++)
		if (m->path[i])
			return -EINVAL;
	ro = !!(m->flags & HRPC_GFS_MOUNT_F_RDONLY);
	/* One channel, one mode: a read-only mount must not become writable
	 * because a second MOUNT on the same channel asked for it. */
	if (s->rdonly >= 0 && s->rdonly != ro)
		return -EBUSY;
	memcpy(path, m->path, m->path_len);
	path[m->path_len] = 0;
	/* EAGAIN: a rename or mount anywhere raced a ".." step (the kernel
	 * cannot vouch for staying in the root then); try again. */
	for (int tries = 0; (fd = (int)syscall(SYS_openat2, s->export_fd, path, &how,
					       sizeof(how))) < 0 && errno == EAGAIN && tries < 100;
	     tries++)
		;
	if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
		fd = walk_beneath(s->export_fd, path);
	else if (fd < 0)
		fd = -errno;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = node_adopt(s, fd, &st, &n);
	if (rc < 0)
		return rc;
	s->rdonly = ro;
	e->node = wire_handle(s, n->handle);
	attr_from_stat(s, &e->attr, &st);
	rep->len = sizeof(*e);
	fss_log(s, "mount %s%s (node %#llx)", path, ro ? " read-only" : "",
		  (unsigned long long)n->handle);
	return 0;
}

static int do_lookup(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_dir_name_req *r = req->payload;
	char name[HRPC_GFS_NAME_MAX + 1];
	struct gnode *dir;
	int rc;

	if (req->len != sizeof(*r))
		return -EINVAL;
	if ((rc = take_name(&r->name, name)) < 0)
		return rc;
	if (!(dir = node_get(s, r->parent)))
		return -ESTALE;
	rc = lookup_name(s, dir, name, rep->payload);
	if (rc == 0)
		rep->len = sizeof(struct hrpc_gfs_entry);
	return rc;
}

static int do_forget(struct fss *s, const struct hrpc_req *req)
{
	const struct hrpc_gfs_forget_req *f = req->payload;
	int rc = 0;

	if (req->len < sizeof(*f) || f->reserved || f->count == 0 ||
	    f->count > HRPC_GFS_FORGET_MAX ||
	    req->len != sizeof(*f) + f->count * sizeof(f->items[0]))
		return -EINVAL;
	for (uint32_t i = 0; i < f->count; i++) {
		struct gnode *n = node_get(s, f->items[i].node);

		if (!n) {
			rc = -ESTALE;
			continue;
		}
		/* Forgetting more than was looked up is the host's bug; the
		 * node goes away either way. */
		if (f->items[i].nlookup >= n->nlookup)
			node_drop(s, n);
		else
			n->nlookup -= f->items[i].nlookup;
	}
	return rc;
}

static int do_getattr(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_node_req *r = req->payload;
	struct gnode *n;
	struct gfile *f = NULL;
	struct stat st;

	if (req->len != sizeof(*r))
		return -EINVAL;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (r->fh && (!(f = file_get(s, r->fh)) || f->node != r->node))
		return -EBADF;
	if (f ? fstat(f->dir ? dirfd(f->dir) : f->fd, &st) < 0 : node_stat(n, &st) < 0)
		return -errno;
	attr_from_stat(s, rep->payload, &st);
	rep->len = sizeof(struct hrpc_gfs_attr);
	return 0;
}

static int do_setattr(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_setattr_req *r = req->payload;
	char pp[64];
	struct gnode *n;
	struct gfile *f = NULL;
	struct stat st;

	if (req->len != sizeof(*r) || (r->valid & ~HRPC_GFS_SET_KNOWN) || (r->mode & ~07777u) ||
	    r->size > INT64_MAX || r->atime_nsec >= 1000000000u || r->mtime_nsec >= 1000000000u)
		return -EINVAL;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (r->fh && (!(f = file_get(s, r->fh)) || f->node != r->node || f->dir))
		return -EBADF;
	if (s->rdonly == 1)
		return -EROFS;
	proc_path(pp, sizeof(pp), n->fd);
	if (r->valid & HRPC_GFS_SET_MODE) {
		if (n->type == S_IFLNK)
			return -EOPNOTSUPP;
		if (mode_allowed(s, n->type, r->mode) < 0)
			return -EPERM;
		if (chmod(pp, r->mode) < 0)
			return -errno;
	}
	if (r->valid & (HRPC_GFS_SET_UID | HRPC_GFS_SET_GID)) {
		uint32_t wuid = r->uid, wgid = r->gid;
		uid_t uid = (uid_t)-1;
		gid_t gid = (gid_t)-1;

		/* The client names its own ids: under a map they are translated,
		 * and one the map does not cover has no name here (EINVAL, as
		 * in a user namespace).  A squash maps callers, not owners. */
		if (r->valid & HRPC_GFS_SET_UID) {
			if (s->cfg.ids.kind == HRPC_IDMAP_MAP && !hrpc_idmap_uid_out(&s->cfg.ids, &wuid))
				return -EINVAL;
			uid = wuid;
		}
		if (r->valid & HRPC_GFS_SET_GID) {
			if (s->cfg.ids.kind == HRPC_IDMAP_MAP && !hrpc_idmap_gid_out(&s->cfg.ids, &wgid))
				return -EINVAL;
			gid = wgid;
		}

		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (r->valid & HRPC_GFS_SET_SIZE) {
		if (n->type != S_IFREG)
			return n->type == S_IFDIR ? -EISDIR : -EINVAL;
		if (f && f->writable ? ftruncate(f->fd, (off_t)r->size) < 0
				     : truncate(pp, (off_t)r->size) < 0)
			return -errno;
	}
	if (r->valid & (HRPC_GFS_SET_ATIME | HRPC_GFS_SET_MTIME |
			HRPC_GFS_SET_ATIME_NOW | HRPC_GFS_SET_MTIME_NOW)) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

		if (r->valid & HRPC_GFS_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (r->valid & HRPC_GFS_SET_ATIME)
			ts[0] = (struct timespec){ (time_t)r->atime, r->atime_nsec };
		if (r->valid & HRPC_GFS_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (r->valid & HRPC_GFS_SET_MTIME)
			ts[1] = (struct timespec){ (time_t)r->mtime, r->mtime_nsec };
		if (n->type == S_IFLNK ? utimensat(n->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
				       : utimensat(AT_FDCWD, pp, ts, 0) < 0)
			return -errno;
	}
	if (node_stat(n, &st) < 0)
		return -errno;
	attr_from_stat(s, rep->payload, &st);
	rep->len = sizeof(struct hrpc_gfs_attr);
	return 0;
}

static int do_readlink(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_node_req *r = req->payload;
	struct gnode *n;
	ssize_t len;

	if (req->len != sizeof(*r) || r->fh)
		return -EINVAL;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (n->type != S_IFLNK)
		return -EINVAL;
	len = readlinkat(n->fd, "", rep->payload, HRPC_GFS_PATH_MAX);
	if (len < 0)
		return -errno;
	if (len >= (ssize_t)HRPC_GFS_PATH_MAX)
		return -ENAMETOOLONG;
	rep->len = (uint32_t)len;
	return 0;
}

static int make_check(struct fss *s, const struct hrpc_gfs_make_req *r,
		      char name[HRPC_GFS_NAME_MAX + 1], struct gnode **dir)
{
	int rc = take_name(&r->name, name);

	if (rc < 0)
		return rc;
	if (!(*dir = node_get(s, r->parent)))
		return -ESTALE;
	if ((*dir)->type != S_IFDIR)
		return -ENOTDIR;
	if (s->rdonly == 1)
		return -EROFS;
	return 0;
}

static int do_make(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_make_req *r = req->payload;
	char name[HRPC_GFS_NAME_MAX + 1];
	struct gnode *dir;
	mode_t type;
	int rc;

	if (req->len != sizeof(*r) || r->flags || (r->umask & ~07777u))
		return -EINVAL;
	if ((rc = make_check(s, r, name, &dir)) < 0)
		return rc;
	if (req->hdr->proc == HRPC_GFS_MKDIR) {
		if (r->mode & ~07777u || r->rdev)
			return -EINVAL;
		if (mode_allowed(s, S_IFDIR, r->mode & ~r->umask) < 0)
			return -EPERM;
		if (mkdirat(dir->fd, name, r->mode & ~r->umask) < 0)
			return -errno;
	} else {
		type = r->mode & S_IFMT;
		if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK &&
		    type != S_IFCHR && type != S_IFBLK)
			return -EINVAL;
		if (r->mode & ~(S_IFMT | 07777u))
			return -EINVAL;
		if ((type == S_IFCHR || type == S_IFBLK) && !(s->cfg.flags & FSS_ALLOW_DEV))
			return -EPERM;
		if (mode_allowed(s, type, r->mode & ~r->umask) < 0)
			return -EPERM;
		if (mknodat(dir->fd, name, type | ((r->mode & 07777u) & ~r->umask),
			    makedev((r->rdev >> 8) & 0xfff, (r->rdev & 0xff) | ((r->rdev >> 12) & 0xfff00))) < 0)
			return -errno;
	}
	rc = lookup_name(s, dir, name, rep->payload);
	if (rc == 0)
		rep->len = sizeof(struct hrpc_gfs_entry);
	return rc;
}

static int do_remove(struct fss *s, const struct hrpc_req *req)
{
	const struct hrpc_gfs_dir_name_req *r = req->payload;
	char name[HRPC_GFS_NAME_MAX + 1];
	struct gnode *dir;
	int rc;

	if (req->len != sizeof(*r))
		return -EINVAL;
	if ((rc = take_name(&r->name, name)) < 0)
		return rc;
	if (!(dir = node_get(s, r->parent)))
		return -ESTALE;
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (s->rdonly == 1)
		return -EROFS;
	if (unlinkat(dir->fd, name, req->hdr->proc == HRPC_GFS_RMDIR ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

static int do_symlink(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_symlink_req *r = req->payload;
	char name[HRPC_GFS_NAME_MAX + 1], target[HRPC_GFS_PATH_MAX];
	struct gnode *dir;
	int rc;

	if (req->len != sizeof(*r) || r->reserved[0] || r->reserved[1] || r->reserved[2])
		return -EINVAL;
	if (r->target_len == 0 || r->target_len >= HRPC_GFS_PATH_MAX ||
	    memchr(r->target, 0, r->target_len))
		return -EINVAL;
	for (size_t i = r->target_len; i < sizeof(r->target); i++)
		if (r->target[i])
			return -EINVAL;
	if ((rc = take_name(&r->name, name)) < 0)
		return rc;
	if (!(dir = node_get(s, r->parent)))
		return -ESTALE;
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (s->rdonly == 1)
		return -EROFS;
	memcpy(target, r->target, r->target_len);
	target[r->target_len] = 0;
	/* The target is data, never resolved by the agent. */
	if (symlinkat(target, dir->fd, name) < 0)
		return -errno;
	rc = lookup_name(s, dir, name, rep->payload);
	if (rc == 0)
		rep->len = sizeof(struct hrpc_gfs_entry);
	return rc;
}

static int do_rename(struct fss *s, const struct hrpc_req *req)
{
	const struct hrpc_gfs_rename_req *r = req->payload;
	char oldname[HRPC_GFS_NAME_MAX + 1], newname[HRPC_GFS_NAME_MAX + 1];
	struct gnode *od, *nd;
	int rc;

	if (req->len != sizeof(*r) || r->reserved ||
	    (r->flags & ~(HRPC_GFS_RENAME_NOREPLACE | HRPC_GFS_RENAME_EXCHANGE)) ||
	    r->flags == (HRPC_GFS_RENAME_NOREPLACE | HRPC_GFS_RENAME_EXCHANGE))
		return -EINVAL;
	if ((rc = take_name(&r->oldname, oldname)) < 0 || (rc = take_name(&r->newname, newname)) < 0)
		return rc;
	if (!(od = node_get(s, r->olddir)) || !(nd = node_get(s, r->newdir)))
		return -ESTALE;
	if (od->type != S_IFDIR || nd->type != S_IFDIR)
		return -ENOTDIR;
	if (s->rdonly == 1)
		return -EROFS;
	if (syscall(SYS_renameat2, od->fd, oldname, nd->fd, newname, r->flags) < 0)
		return -errno;
	return 0;
}

static int do_link(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_link_req *r = req->payload;
	char name[HRPC_GFS_NAME_MAX + 1], pp[64];
	struct gnode *n, *dir;
	int rc;

	if (req->len != sizeof(*r))
		return -EINVAL;
	if ((rc = take_name(&r->newname, name)) < 0)
		return rc;
	if (!(n = node_get(s, r->node)) || !(dir = node_get(s, r->newparent)))
		return -ESTALE;
	if (n->type == S_IFDIR)
		return -EPERM;
	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (s->rdonly == 1)
		return -EROFS;
	if (linkat(n->fd, "", dir->fd, name, AT_EMPTY_PATH) < 0) {
		if (errno != ENOENT && errno != EPERM)
			return -errno;
		/* Without CAP_DAC_READ_SEARCH: the magic link names the inode. */
		proc_path(pp, sizeof(pp), n->fd);
		if (linkat(AT_FDCWD, pp, dir->fd, name, AT_SYMLINK_FOLLOW) < 0)
			return -errno;
	}
	rc = lookup_name(s, dir, name, rep->payload);
	if (rc == 0)
		rep->len = sizeof(struct hrpc_gfs_entry);
	return rc;
}

static int open_flags(uint32_t wire, bool create, int rdonly, int *flags)
{
	uint32_t acc = wire & HRPC_GFS_O_ACCMODE;

	if ((wire & ~HRPC_GFS_O_KNOWN) || acc == 3 || (!create && (wire & HRPC_GFS_O_EXCL)))
		return -EINVAL;
	if (rdonly == 1 && (acc != 0 || (wire & HRPC_GFS_O_TRUNC) || create))
		return -EROFS;
	/* Wire values are the x86-64 ones; say so to the compiler. */
	_Static_assert(O_TRUNC == HRPC_GFS_O_TRUNC && O_APPEND == HRPC_GFS_O_APPEND &&
		       O_DSYNC == HRPC_GFS_O_DSYNC && O_EXCL == HRPC_GFS_O_EXCL &&
		       O_SYNC == HRPC_GFS_O_SYNC && O_NOATIME == HRPC_GFS_O_NOATIME,
		       "open flags are the Linux x86-64 values");
	*flags = (int)wire | O_CLOEXEC | O_NOCTTY;
	return 0;
}

static int do_open(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_open_req *r = req->payload;
	struct hrpc_gfs_fh_rep *fr = rep->payload;
	char pp[64];
	struct gnode *n;
	struct stat st;
	int flags, fd, rc;

	if (req->len != sizeof(*r) || r->reserved)
		return -EINVAL;
	if ((rc = open_flags(r->flags, false, s->rdonly, &flags)) < 0)
		return rc;
	if (req->hdr->proc == HRPC_GFS_OPEN_READ &&
	    ((r->flags & (HRPC_GFS_O_ACCMODE | HRPC_GFS_O_TRUNC)) || !req->bulk))
		return -EINVAL;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (n->type == S_IFDIR)
		return -EISDIR;
	if (n->type != S_IFREG)
		return -ENXIO;  /* FIFOs and devices could block the agent */
	if ((rc = files_room(s)) < 0)
		return rc;
	proc_path(pp, sizeof(pp), n->fd);
	fd = open(pp, flags | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	if (fstat(fd, &st) < 0 || st.st_ino != n->ino || st.st_dev != n->dev) {
		close(fd);
		return -ESTALE;
	}
	fcntl(fd, F_SETFL, flags & (O_APPEND | O_DSYNC | O_NOATIME));
	if (req->hdr->proc == HRPC_GFS_OPEN_READ) {
		struct hrpc_gfs_open_read_rep *orr = rep->payload;
		uint32_t cap = req->bulk_cap < HRPC_GFS_IO_MAX ? req->bulk_cap : HRPC_GFS_IO_MAX;
		uint32_t done = 0;
		ssize_t got = 1;

		while (done < cap && got > 0) {
			got = pread(fd, req->bulk + done, cap - done, (off_t)done);
			if (got < 0 && errno == EINTR)
				got = 1;
			else if (got > 0)
				done += (uint32_t)got;
		}
		if (got < 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
		rc = file_add(s, fd, NULL, n->handle, false, r->flags, &orr->fh);
		if (rc < 0)
			return rc;
		/* Fewer bytes than room: the file ended (or an error we report
		 * on the next READ, which is then not skipped). */
		orr->size = done;
		orr->eof = got == 0 && done < cap;
		rep->len = sizeof(*orr);
		rep->bulk_pos = 0;
		rep->bulk_len = done;
		return 0;
	}
	rc = file_add(s, fd, NULL, n->handle, (r->flags & HRPC_GFS_O_ACCMODE) != 0, r->flags,
		      &fr->fh);
	if (rc == 0)
		rep->len = sizeof(*fr);
	return rc;
}

static int do_create(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_make_req *r = req->payload;
	struct hrpc_gfs_create_rep *cr = rep->payload;
	char name[HRPC_GFS_NAME_MAX + 1];
	struct gnode *dir, *n;
	struct stat st, st2;
	int flags, fd, pfd, rc;

	if (req->len != sizeof(*r) || (r->mode & ~07777u) || (r->umask & ~07777u) || r->rdev)
		return -EINVAL;
	if ((rc = make_check(s, r, name, &dir)) < 0)
		return rc;
	if ((rc = open_flags(r->flags, true, s->rdonly, &flags)) < 0)
		return rc;
	if (mode_allowed(s, S_IFREG, r->mode & ~r->umask) < 0)
		return -EPERM;
	if ((rc = files_room(s)) < 0)
		return rc;
	fd = openat(dir->fd, name, flags | O_CREAT | O_NOFOLLOW | O_NONBLOCK, r->mode & ~r->umask);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = errno ? -errno : -EEXIST;
		close(fd);
		return rc;
	}
	fcntl(fd, F_SETFL, flags & (O_APPEND | O_DSYNC | O_NOATIME));
	/* The node: the same inode, found again by name (a guest process may
	 * have replaced the name meanwhile - then say so rather than lie). */
	pfd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0 || fstatat(pfd, "", &st2, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ||
	    st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
		if (pfd >= 0)
			close(pfd);
		close(fd);
		return -ESTALE;
	}
	rc = node_adopt(s, pfd, &st2, &n);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	rc = file_add(s, fd, NULL, n->handle, (r->flags & HRPC_GFS_O_ACCMODE) != 0, r->flags,
		      &cr->fh);
	if (rc < 0) {
		/* Undo the lookup the host will never hear of. */
		if (--n->nlookup == 0)
			node_drop(s, n);
		return rc;
	}
	cr->entry.node = wire_handle(s, n->handle);
	attr_from_stat(s, &cr->entry.attr, &st2);
	rep->len = sizeof(*cr);
	return 0;
}

static int do_read(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_io_req *r = req->payload;
	struct hrpc_gfs_io_rep *ir = rep->payload;
	struct gfile *f;
	uint32_t done = 0;

	if (req->len != sizeof(*r) || r->reserved || r->size > HRPC_GFS_IO_MAX ||
	    r->offset > (uint64_t)INT64_MAX - r->size)
		return -EINVAL;
	if (!req->bulk || req->bulk_cap < r->size)
		return -EFAULT;
	if (!(f = file_get(s, r->fh)) || f->dir)
		return -EBADF;
	while (done < r->size) {
		ssize_t n = pread(f->fd, req->bulk + done, r->size - done, (off_t)(r->offset + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (done)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		done += (uint32_t)n;
	}
	ir->size = done;
	ir->reserved = 0;
	rep->len = sizeof(*ir);
	rep->bulk_pos = 0;
	rep->bulk_len = done;
	return 0;
}

static int do_write(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_io_req *r = req->payload;
	struct hrpc_gfs_io_rep *ir = rep->payload;
	struct gfile *f;
	uint32_t done = 0;

	if (req->len != sizeof(*r) || r->reserved || r->size > HRPC_GFS_IO_MAX ||
	    r->offset > (uint64_t)INT64_MAX - r->size)
		return -EINVAL;
	if (r->size && (!req->bulk || req->bulk_len != r->size))
		return -EFAULT;
	if (!(f = file_get(s, r->fh)) || f->dir || !f->writable)
		return -EBADF;
	if (s->cfg.max_write_bytes && r->size > s->cfg.max_write_bytes - s->written)
		return -EDQUOT;
	/* The bulk is the channel's private copy (vport), read once here. */
	while (done < r->size) {
		ssize_t n = pwrite(f->fd, req->bulk + done, r->size - done, (off_t)(r->offset + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (done)
				break;
			return -errno;
		}
		done += (uint32_t)n;
	}
	s->written += done;
	ir->size = done;
	ir->reserved = 0;
	rep->len = sizeof(*ir);
	return 0;
}

static int do_release(struct fss *s, const struct hrpc_req *req)
{
	const struct hrpc_gfs_fh_req *r = req->payload;
	struct gfile *f;
	bool dir = req->hdr->proc == HRPC_GFS_RELEASEDIR;

	if (req->len != sizeof(*r) || r->flags || r->reserved)
		return -EINVAL;
	f = file_get(s, r->fh);
	if (!f || !!f->dir != dir)
		return -EBADF;
	hrpc_handle_table_remove(&s->files, r->fh & ~0xff000000ull);
	file_close(f);
	return 0;
}

static int do_fsync(struct fss *s, const struct hrpc_req *req)
{
	const struct hrpc_gfs_fh_req *r = req->payload;
	struct gfile *f;
	int fd;

	if (req->len != sizeof(*r) || (r->flags & ~HRPC_GFS_FSYNC_DATASYNC) || r->reserved)
		return -EINVAL;
	if (!(f = file_get(s, r->fh)))
		return -EBADF;
	fd = f->dir ? dirfd(f->dir) : f->fd;
	if ((r->flags & HRPC_GFS_FSYNC_DATASYNC) ? fdatasync(fd) < 0 : fsync(fd) < 0)
		return -errno;
	return 0;
}

static int do_opendir(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_node_req *r = req->payload;
	struct hrpc_gfs_fh_rep *fr = rep->payload;
	struct gnode *n;
	DIR *d;
	int fd, rc;

	if (req->len != sizeof(*r) || r->fh)
		return -EINVAL;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (n->type != S_IFDIR)
		return -ENOTDIR;
	if ((rc = files_room(s)) < 0)
		return rc;
	fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = file_add(s, -1, d, n->handle, false, 0, &fr->fh);
	if (rc == 0)
		rep->len = sizeof(*fr);
	return rc;
}

static void name_put(struct hrpc_gfs_name *wn, const char *name)
{
	size_t len = strlen(name);

	memset(wn, 0, sizeof(*wn));
	wn->len = (uint16_t)len;
	memcpy(wn->name, name, len);
}

static int do_readdir(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_readdir_req *r = req->payload;
	struct hrpc_gfs_readdir_rep *rr = rep->payload;
	bool plus;
	size_t esz;
	uint32_t max, count = 0, eof = 0;
	struct gfile *f;
	struct gnode *dir;

	if (req->len != sizeof(*r) || (r->flags & ~HRPC_GFS_READDIR_PLUS) || r->reserved)
		return -EINVAL;
	plus = r->flags & HRPC_GFS_READDIR_PLUS;
	esz = plus ? sizeof(struct hrpc_gfs_dirent_plus) : sizeof(struct hrpc_gfs_dirent);
	if (!req->bulk || req->bulk_cap < esz)
		return -EFAULT;
	max = (uint32_t)(req->bulk_cap / esz);
	if (!(f = file_get(s, r->fh)) || !f->dir)
		return -EBADF;
	if (!(dir = node_get(s, f->node)))
		return -ESTALE;
	if (r->offset != f->pos) {
		if (r->offset == 0)
			rewinddir(f->dir);
		else
			seekdir(f->dir, (long)r->offset);
		f->pos = r->offset;
	}
	while (count < max) {
		struct hrpc_gfs_dirent_plus dp;
		struct dirent *de;
		size_t len;

		errno = 0;
		de = readdir(f->dir);
		if (!de) {
			if (errno && !count)
				return -errno;
			eof = !errno;
			break;
		}
		len = strlen(de->d_name);
		if (len == 0 || len > HRPC_GFS_NAME_MAX)
			goto next;
		memset(&dp, 0, sizeof(dp));
		dp.d.off = (uint64_t)de->d_off;
		dp.d.ino = de->d_ino;
		dp.d.type = de->d_type;
		name_put(&dp.d.name, de->d_name);
		if (plus && strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			int rc = lookup_name(s, dir, de->d_name, &dp.entry);

			if (rc == -ENOENT)
				goto next;  /* removed meanwhile */
			if (rc < 0) {
				/* Give back what we have; the host asks again. */
				seekdir(f->dir, (long)f->pos);
				if (!count)
					return rc;
				break;
			}
			dp.d.type = (dp.entry.attr.mode & S_IFMT) >> 12;
		}
		memcpy(req->bulk + count * esz, &dp, esz);
		count++;
next:
		f->pos = (uint64_t)de->d_off;
	}
	rr->count = count;
	rr->eof = eof;
	rep->len = sizeof(*rr);
	rep->bulk_pos = 0;
	rep->bulk_len = (uint32_t)(count * esz);
	return 0;
}

static int do_statfs(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_node_req *r = req->payload;
	struct hrpc_gfs_statfs *o = rep->payload;
	struct gnode *n;
	struct statfs sf;

	if (req->len != sizeof(*r) || r->fh)
		return -EINVAL;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (fstatfs(n->fd, &sf) < 0)
		return -errno;
	memset(o, 0, sizeof(*o));
	o->blocks = sf.f_blocks;
	o->bfree = sf.f_bfree;
	o->bavail = sf.f_bavail;
	o->files = sf.f_files;
	o->ffree = sf.f_ffree;
	o->bsize = (uint32_t)sf.f_bsize;
	o->frsize = (uint32_t)(sf.f_frsize ? sf.f_frsize : sf.f_bsize);
	o->namemax = (uint32_t)sf.f_namelen;
	rep->len = sizeof(*o);
	return 0;
}

/* flistxattr without the hidden names: into out (size bytes; NULL: only
 * the length), or -errno. */
static ssize_t list_shown(const struct fss *s, int fd, char *out, size_t size)
{
	char *all = malloc(HRPC_GFS_XATTR_MAX);
	ssize_t len = all ? flistxattr(fd, all, HRPC_GFS_XATTR_MAX) : -1;
	size_t kept = 0;

	if (len < 0) {
		len = all ? (errno == ERANGE ? -E2BIG : -errno) : -ENOMEM;
		free(all);
		return len;
	}
	for (ssize_t i = 0; i < len;) {
		size_t n = strnlen(all + i, (size_t)(len - i));

		if (i + (ssize_t)n >= len)
			break;   /* no NUL: not a name */
		if (!xattr_hidden(s, all + i)) {
			memmove(all + kept, all + i, n + 1);
			kept += n + 1;
		}
		i += (ssize_t)n + 1;
	}
	if (out && kept > size)
		len = -ERANGE;
	else if (out)
		memcpy(out, all, kept);
	if (len >= 0)
		len = (ssize_t)kept;
	free(all);
	return len;
}

static int do_xattr(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_xattr_req *r = req->payload;
	struct hrpc_gfs_xattr_rep *xr = rep->payload;
	uint16_t proc = req->hdr->proc;
	char name[HRPC_GFS_NAME_MAX + 1], pp[64];
	struct gnode *n;
	ssize_t len = 0;
	int fd, rc = 0;

	if (req->len != sizeof(*r) || r->name.reserved[0] || r->name.reserved[1] ||
	    r->name.reserved[2] || r->size > HRPC_GFS_XATTR_MAX)
		return -EINVAL;
	if (proc == HRPC_GFS_LISTXATTR ? r->name.len != 0 :
	    (r->name.len == 0 || r->name.len > HRPC_GFS_NAME_MAX || memchr(r->name.name, 0, r->name.len)))
		return -EINVAL;
	for (size_t i = r->name.len; i < sizeof(r->name.name); i++)
		if (r->name.name[i])
			return -EINVAL;
	if (proc != HRPC_GFS_SETXATTR ? r->flags : (r->flags & ~3u))
		return -EINVAL;
	memcpy(name, r->name.name, r->name.len);
	name[r->name.len] = 0;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -ENOTSUP;
	if (proc != HRPC_GFS_LISTXATTR && xattr_hidden(s, name))
		return proc == HRPC_GFS_GETXATTR ? -ENODATA : -EPERM;
	if ((proc == HRPC_GFS_SETXATTR || proc == HRPC_GFS_REMOVEXATTR) && s->rdonly == 1)
		return -EROFS;
	if (r->size && (proc == HRPC_GFS_GETXATTR || proc == HRPC_GFS_LISTXATTR) &&
	    (!req->bulk || req->bulk_cap < r->size))
		return -EFAULT;
	if (proc == HRPC_GFS_SETXATTR && (r->size ? !req->bulk || req->bulk_len != r->size
						  : req->bulk_len != 0))
		return -EFAULT;
	proc_path(pp, sizeof(pp), n->fd);
	fd = open(pp, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	switch (proc) {
	case HRPC_GFS_GETXATTR:
		len = fgetxattr(fd, name, r->size ? req->bulk : NULL, r->size);
		break;
	case HRPC_GFS_LISTXATTR:
		if (s->cfg.flags & FSS_ALLOW_PRIV_XATTRS) {
			len = flistxattr(fd, r->size ? (char *)req->bulk : NULL, r->size);
			break;
		}
		len = list_shown(s, fd, r->size ? (char *)req->bulk : NULL, r->size);
		if (len < 0) {
			errno = (int)-len;
			len = -1;
		}
		break;
	case HRPC_GFS_SETXATTR:
		len = fsetxattr(fd, name, req->bulk, r->size, (int)r->flags);
		break;
	default:
		len = fremovexattr(fd, name);
		break;
	}
	if (len < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	if (proc == HRPC_GFS_GETXATTR || proc == HRPC_GFS_LISTXATTR) {
		xr->size = (uint32_t)len;
		xr->reserved = 0;
		rep->len = sizeof(*xr);
		if (r->size) {
			rep->bulk_pos = 0;
			rep->bulk_len = (uint32_t)len;
		}
	}
	return 0;
}

static int do_access(struct fss *s, const struct hrpc_req *req)
{
	const struct hrpc_gfs_access_req *r = req->payload;
	struct gnode *n;

	if (req->len != sizeof(*r) || r->reserved ||
	    (r->mask & ~(HRPC_GFS_ACCESS_R | HRPC_GFS_ACCESS_W | HRPC_GFS_ACCESS_X)))
		return -EINVAL;
	if (!(n = node_get(s, r->node)))
		return -ESTALE;
	if (n->type == S_IFLNK)
		return 0;
	if ((r->mask & HRPC_GFS_ACCESS_W) && s->rdonly == 1)
		return -EROFS;
	/* On the node's own fd (never a path), with the caller's fsuid and
	 * groups (AT_EACCESS: not the real uid, which is the server's). */
	if (syscall(SYS_faccessat2, n->fd, "", (int)r->mask, AT_EACCESS | AT_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static int do_fallocate(struct fss *s, const struct hrpc_req *req)
{
	const struct hrpc_gfs_fallocate_req *r = req->payload;
	struct gfile *f;

	if (req->len != sizeof(*r) || r->reserved || (r->mode & ~3u) ||
	    r->offset > (uint64_t)INT64_MAX || r->length > (uint64_t)INT64_MAX - r->offset)
		return -EINVAL;
	if (!(f = file_get(s, r->fh)) || f->dir || !f->writable)
		return -EBADF;
	/* Allocating counts as writing; punching a hole frees. */
	if (!(r->mode & FALLOC_FL_PUNCH_HOLE) && s->cfg.max_write_bytes &&
	    r->length > s->cfg.max_write_bytes - s->written)
		return -EDQUOT;
	if (fallocate(f->fd, (int)r->mode, (off_t)r->offset, (off_t)r->length) < 0)
		return -errno;
	if (!(r->mode & FALLOC_FL_PUNCH_HOLE))
		s->written += r->length;
	return 0;
}

/* Keep the open-file table's record of f's byte-range locks after the
 * server took [start, end) as `type` (the kernel's own merge rules: what
 * the new range covers is replaced). */
static void lock_record(struct gfile *f, uint64_t start, uint64_t end, uint32_t type)
{
	struct fss_lock out[FSS_LOCKS_MAX];
	uint32_t n = 0;

	for (uint32_t i = 0; i < f->nlocks; i++) {
		struct fss_lock l = f->locks[i];

		if (l.end <= start || l.start >= end) {
			if (n < FSS_LOCKS_MAX) out[n++] = l; else f->locks_overflow = true;
			continue;
		}
		if (l.start < start) {
			if (n < FSS_LOCKS_MAX)
				out[n++] = (struct fss_lock){ l.start, start, l.type };
			else
				f->locks_overflow = true;
		}
		if (l.end > end) {
			if (n < FSS_LOCKS_MAX)
				out[n++] = (struct fss_lock){ end, l.end, l.type };
			else
				f->locks_overflow = true;
		}
	}
	if (type != HRPC_GFS_LOCK_UN) {
		if (n < FSS_LOCKS_MAX)
			out[n++] = (struct fss_lock){ start, end, type };
		else
			f->locks_overflow = true;
	}
	memcpy(f->locks, out, n * sizeof(out[0]));
	f->nlocks = n;
}

/* LOCK: open file description locks (F_OFD_*), flock(2); never blocking. */
static int do_lock(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gfs_lock_req *r = req->payload;
	struct hrpc_gfs_lock_req *out = rep->payload;
	static const short types[] = { F_RDLCK, F_WRLCK, F_UNLCK };
	struct flock fl;
	struct gfile *f;

	if (req->len != sizeof(*r) || r->reserved || r->pid || r->cmd > HRPC_GFS_LOCK_FLOCK ||
	    r->type > HRPC_GFS_LOCK_UN || r->start > (uint64_t)INT64_MAX ||
	    r->len > (uint64_t)INT64_MAX - r->start)
		return -EINVAL;
	if (!(f = file_get(s, r->fh)) || f->dir)
		return -EBADF;
	if (r->cmd == HRPC_GFS_LOCK_FLOCK) {
		static const int ops[] = { LOCK_SH, LOCK_EX, LOCK_UN };

		if (flock(f->fd, ops[r->type] | LOCK_NB) < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		f->flock_type = r->type;
		*out = *r;   /* every LOCK answers a lock_req (guestfs.h) */
		rep->len = sizeof(*out);
		return 0;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = types[r->type];
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)r->start;
	fl.l_len = (off_t)r->len;
	if (r->cmd == HRPC_GFS_LOCK_SET) {
		if (fcntl(f->fd, F_OFD_SETLK, &fl) < 0)
			return errno == EACCES ? -EAGAIN : -errno;
		lock_record(f, r->start, r->len ? r->start + r->len : UINT64_MAX, r->type);
		*out = *r;
		rep->len = sizeof(*out);
		return 0;
	}
	if (r->type == HRPC_GFS_LOCK_UN)
		return -EINVAL;
	if (fcntl(f->fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	*out = *r;
	out->type = fl.l_type == F_RDLCK ? HRPC_GFS_LOCK_RD :
		    fl.l_type == F_WRLCK ? HRPC_GFS_LOCK_WR : HRPC_GFS_LOCK_UN;
	out->start = (uint64_t)fl.l_start;
	out->len = (uint64_t)fl.l_len;
	out->pid = 0xffffffffu;
	rep->len = sizeof(*out);
	return 0;
}

static int dispatch(struct fss *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	uint16_t proc = req->hdr->proc;

	if (s->rdonly < 0 && proc != HRPC_GFS_MOUNT)
		return -ESTALE;  /* no node can exist before a MOUNT */
	switch (proc) {
	case HRPC_GFS_MOUNT:       return do_mount(s, req, rep);
	case HRPC_GFS_LOOKUP:      return do_lookup(s, req, rep);
	case HRPC_GFS_FORGET:      return do_forget(s, req);
	case HRPC_GFS_GETATTR:     return do_getattr(s, req, rep);
	case HRPC_GFS_SETATTR:     return do_setattr(s, req, rep);
	case HRPC_GFS_READLINK:    return do_readlink(s, req, rep);
	case HRPC_GFS_MKNOD:
	case HRPC_GFS_MKDIR:       return do_make(s, req, rep);
	case HRPC_GFS_UNLINK:
	case HRPC_GFS_RMDIR:       return do_remove(s, req);
	case HRPC_GFS_SYMLINK:     return do_symlink(s, req, rep);
	case HRPC_GFS_RENAME:      return do_rename(s, req);
	case HRPC_GFS_LINK:        return do_link(s, req, rep);
	case HRPC_GFS_OPEN:
	case HRPC_GFS_OPEN_READ:   return do_open(s, req, rep);
	case HRPC_GFS_CREATE:      return do_create(s, req, rep);
	case HRPC_GFS_READ:        return do_read(s, req, rep);
	case HRPC_GFS_WRITE:       return do_write(s, req, rep);
	case HRPC_GFS_RELEASE:
	case HRPC_GFS_RELEASEDIR:  return do_release(s, req);
	case HRPC_GFS_FSYNC:       return do_fsync(s, req);
	case HRPC_GFS_OPENDIR:     return do_opendir(s, req, rep);
	case HRPC_GFS_READDIR:     return do_readdir(s, req, rep);
	case HRPC_GFS_STATFS:      return do_statfs(s, req, rep);
	case HRPC_GFS_GETXATTR:
	case HRPC_GFS_SETXATTR:
	case HRPC_GFS_LISTXATTR:
	case HRPC_GFS_REMOVEXATTR: return do_xattr(s, req, rep);
	case HRPC_GFS_FALLOCATE:   return do_fallocate(s, req);
	case HRPC_GFS_ACCESS:      return do_access(s, req);
	case HRPC_GFS_LOCK:        return do_lock(s, req, rep);
	default:                   return -ENOSYS;
	}
}

/* ---- audit ------------------------------------------------------------------- */

static const char *const proc_names[] = {
	[HRPC_GFS_MOUNT] = "mount", [HRPC_GFS_LOOKUP] = "lookup", [HRPC_GFS_FORGET] = "forget",
	[HRPC_GFS_GETATTR] = "getattr", [HRPC_GFS_SETATTR] = "setattr",
	[HRPC_GFS_READLINK] = "readlink", [HRPC_GFS_MKNOD] = "mknod", [HRPC_GFS_MKDIR] = "mkdir",
	[HRPC_GFS_UNLINK] = "unlink", [HRPC_GFS_RMDIR] = "rmdir", [HRPC_GFS_SYMLINK] = "symlink",
	[HRPC_GFS_RENAME] = "rename", [HRPC_GFS_LINK] = "link", [HRPC_GFS_OPEN] = "open",
	[HRPC_GFS_CREATE] = "create", [HRPC_GFS_READ] = "read", [HRPC_GFS_WRITE] = "write",
	[HRPC_GFS_RELEASE] = "release", [HRPC_GFS_FSYNC] = "fsync", [HRPC_GFS_OPENDIR] = "opendir",
	[HRPC_GFS_READDIR] = "readdir", [HRPC_GFS_RELEASEDIR] = "releasedir",
	[HRPC_GFS_STATFS] = "statfs", [HRPC_GFS_GETXATTR] = "getxattr",
	[HRPC_GFS_SETXATTR] = "setxattr", [HRPC_GFS_LISTXATTR] = "listxattr",
	[HRPC_GFS_REMOVEXATTR] = "removexattr", [HRPC_GFS_FALLOCATE] = "fallocate",
	[HRPC_GFS_OPEN_READ] = "open", [HRPC_GFS_ACCESS] = "access", [HRPC_GFS_LOCK] = "lock",
};

/* The host path of an fd (the kernel's name for it, " (deleted)" and all). */
static void fd_path(int fd, char *buf, size_t len)
{
	char pp[64];
	ssize_t n;

	proc_path(pp, sizeof(pp), fd);
	n = readlink(pp, buf, len - 1);
	if (n < 0)
		snprintf(buf, len, "?");
	else
		buf[n] = 0;
}

__attribute__((format(printf, 2, 3)))
static void fss_audit(const struct fss *s, const char *fmt, ...)
{
	char msg[HRPC_GFS_PATH_MAX + 256];
	va_list ap;

	if (!s->cfg.audit)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cfg.audit(s->cfg.audit_data, msg);
}

static void audit_open(struct fss *s, int fd, uint32_t flags, bool dir, int rc)
{
	char path[PATH_MAX];

	if (!s->cfg.audit)
		return;
	fd_path(fd, path, sizeof(path));
	fss_audit(s, "%s %s flags=%#o%s%s", dir ? "opendir" : "open", path, flags,
		  rc ? " " : "", rc ? strerror(-rc) : "");
}

/* A name that is not one component ("..", "a/b", NUL, too long) in a call
 * that takes names: a client trying to leave the tree, or a broken one. */
static void audit_bad_name(struct fss *s, uint16_t proc, const void *payload, uint32_t len,
			   const struct hrpc_gfs_cred *c)
{
	size_t at[2] = { 0, 0 };

	switch (proc) {
	case HRPC_GFS_LOOKUP: case HRPC_GFS_UNLINK: case HRPC_GFS_RMDIR:
		if (len == sizeof(struct hrpc_gfs_dir_name_req))
			at[0] = offsetof(struct hrpc_gfs_dir_name_req, name);
		break;
	case HRPC_GFS_MKNOD: case HRPC_GFS_MKDIR: case HRPC_GFS_CREATE:
		if (len == sizeof(struct hrpc_gfs_make_req))
			at[0] = offsetof(struct hrpc_gfs_make_req, name);
		break;
	case HRPC_GFS_SYMLINK:
		if (len == sizeof(struct hrpc_gfs_symlink_req))
			at[0] = offsetof(struct hrpc_gfs_symlink_req, name);
		break;
	case HRPC_GFS_LINK:
		if (len == sizeof(struct hrpc_gfs_link_req))
			at[0] = offsetof(struct hrpc_gfs_link_req, newname);
		break;
	case HRPC_GFS_RENAME:
		if (len == sizeof(struct hrpc_gfs_rename_req)) {
			at[0] = offsetof(struct hrpc_gfs_rename_req, oldname);
			at[1] = offsetof(struct hrpc_gfs_rename_req, newname);
		}
		break;
	default:
		return;
	}
	for (int i = 0; i < 2 && at[i]; i++) {
		struct hrpc_gfs_name n;

		memcpy(&n, (const char *)payload + at[i], sizeof(n));
		if (hrpc_gfs_name_check(&n) < 0) {
			fss_audit(s, "refused %s: a name that is not one path component "
				  "(length %u%s) uid=%u gid=%u", proc_names[proc], n.len,
				  n.len == 2 && n.name[0] == '.' && n.name[1] == '.' ? ", \"..\"" : "",
				  c->uid, c->gid);
			return;
		}
	}
}

/* A refusal: the node the call named (its first handle), who asked, why. */
static void audit_denied(struct fss *s, uint16_t proc, const struct hrpc_gfs_cred *c,
			 const void *payload, uint32_t len, int rc)
{
	char path[PATH_MAX] = "-";
	uint64_t h;

	if (!s->cfg.audit)
		return;
	if (proc != HRPC_GFS_MOUNT && proc != HRPC_GFS_FORGET && len >= sizeof(h)) {
		struct gnode *n;
		struct gfile *f;

		memcpy(&h, payload, sizeof(h));
		if ((n = node_get(s, h)))
			fd_path(n->fd, path, sizeof(path));
		else if ((f = file_get(s, h)) && (n = node_get(s, f->node)))
			fd_path(n->fd, path, sizeof(path));
	}
	fss_audit(s, "denied %s %s uid=%u gid=%u: %s",
		  proc < sizeof(proc_names) / sizeof(proc_names[0]) && proc_names[proc] ?
		  proc_names[proc] : "?", path, c->uid, c->gid, strerror(-rc));
}

/* ---- host-side changes (fss_config.watch) ------------------------------------- */

#define WATCH_FILE (IN_MODIFY | IN_ATTRIB)
#define WATCH_DIR  (IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

static uint32_t *wbucket(struct fss *s, int wd)
{
	return &s->wbuckets[(uint32_t)wd * 2654435761u >> 24];
}

static struct gnode *watch_node(struct fss *s, int wd)
{
	for (uint32_t i = *wbucket(s, wd); i; i = node_at(s, i - 1)->wnext)
		if (node_at(s, i - 1)->wd == wd)
			return node_at(s, i - 1);
	return NULL;
}

static void watch_unlink(struct fss *s, struct gnode *n)
{
	uint32_t idx = hrpc_handle_index(n->handle) + 1, *p = wbucket(s, n->wd);

	while (*p && *p != idx)
		p = &node_at(s, *p - 1)->wnext;
	if (*p)
		*p = n->wnext;
	n->wd = -1;
}

static void watch_forget(struct fss *s, struct gnode *n)
{
	if (n->wd < 0)
		return;
	/* Another node may hold the same watch (inotify keys by inode; a
	 * node is per inode, so only after the inode was reused). */
	inotify_rm_watch(s->ino_fd, n->wd);
	watch_unlink(s, n);
}

static void watch_add(struct fss *s, struct gnode *n)
{
	char pp[64];
	struct gnode *old;
	int wd;

	if (n->wd >= 0 || n->type == S_IFLNK)
		return;
	proc_path(pp, sizeof(pp), n->fd);
	wd = inotify_add_watch(s->ino_fd, pp, n->type == S_IFDIR ? WATCH_DIR : WATCH_FILE);
	if (wd < 0)
		return;   /* out of watches: that node's host-side changes wait for the timeouts */
	if ((old = watch_node(s, wd)))
		watch_unlink(s, old);   /* a deleted inode's number came back */
	n->wd = wd;
	n->wnext = *wbucket(s, wd);
	*wbucket(s, wd) = hrpc_handle_index(n->handle) + 1;
}

static void watch_pending(struct fss *s)
{
	if (s->unwatched_overflow) {
		uint32_t pos = 0;
		struct gnode *n;

		while ((n = hrpc_handle_table_next(&s->nodes, &pos, NULL)))
			watch_add(s, n);
	} else {
		for (uint32_t i = 0; i < s->nunwatched; i++) {
			struct gnode *n = node_at(s, s->unwatched[i]);

			if (n)
				watch_add(s, n);
		}
	}
	s->nunwatched = 0;
	s->unwatched_overflow = false;
}

static void inval(struct fss *s, struct gnode *n, uint32_t what, const char *name, size_t len)
{
	struct hrpc_gfs_inval_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.node = wire_handle(s, n->handle);
	ev.what = what;
	if (name && len && len <= HRPC_GFS_NAME_MAX) {
		ev.name.len = (uint16_t)len;
		memcpy(ev.name.name, name, len);
	}
	s->cfg.inval(s->cfg.inval_data, &ev);
}

/* Read what inotify has; events on the watches in self_wd are the
 * client's own call's and are dropped. */
static void watch_drain(struct fss *s)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	while ((len = read(s->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			size_t nlen = e->len ? strnlen(e->name, e->len) : 0;
			struct gnode *n;

			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				struct hrpc_gfs_inval_event all;

				/* Lost events: everything may have changed. */
				memset(&all, 0, sizeof(all));
				all.what = HRPC_GFS_INVAL_ATTR | HRPC_GFS_INVAL_DATA | HRPC_GFS_INVAL_ENTRY;
				if (s->cfg.inval)
					s->cfg.inval(s->cfg.inval_data, &all);
				continue;
			}
			if (!(n = watch_node(s, e->wd)))
				continue;
			if (e->mask & IN_IGNORED) {
				watch_unlink(s, n);
				continue;
			}
			if (e->wd == s->self_wd[0] || e->wd == s->self_wd[1] ||
			    e->wd == s->self_wd[2] || !s->cfg.inval)
				continue;
			if (n->type == S_IFDIR && nlen &&
			    (e->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)))
				inval(s, n, HRPC_GFS_INVAL_ENTRY | HRPC_GFS_INVAL_ATTR, e->name, nlen);
			else if (!nlen && (e->mask & IN_MODIFY))
				inval(s, n, HRPC_GFS_INVAL_DATA | HRPC_GFS_INVAL_ATTR, NULL, 0);
			else if (!nlen && (e->mask & IN_ATTRIB))
				inval(s, n, HRPC_GFS_INVAL_ATTR, NULL, 0);
		}
	}
}

int fss_watch_fd(const struct fss *s)
{
	return s->ino_fd;
}

void fss_watch_dispatch(struct fss *s)
{
	if (s->ino_fd >= 0)
		watch_drain(s);
}

/* Can the call change what inotify watches?  Only those leave events of
 * the client's own to drop; after the others nothing needs draining (the
 * host's events wait for fss_watch_dispatch()).  An OPEN changes the
 * file only when it truncates. */
static bool proc_modifies(uint16_t proc, const void *payload, uint32_t len)
{
	switch (proc) {
	case HRPC_GFS_SETATTR: case HRPC_GFS_MKNOD: case HRPC_GFS_MKDIR: case HRPC_GFS_UNLINK:
	case HRPC_GFS_RMDIR: case HRPC_GFS_SYMLINK: case HRPC_GFS_RENAME: case HRPC_GFS_LINK:
	case HRPC_GFS_CREATE: case HRPC_GFS_WRITE: case HRPC_GFS_SETXATTR:
	case HRPC_GFS_REMOVEXATTR: case HRPC_GFS_FALLOCATE:
		return true;
	case HRPC_GFS_OPEN: {
		struct hrpc_gfs_open_req r;

		if (len != sizeof(r))
			return false;
		memcpy(&r, payload, sizeof(r));
		return (r.flags & HRPC_GFS_O_TRUNC) != 0;
	}
	default:
		return false;
	}
}

/* The watches of the nodes a call names (its first handle, and RENAME's
 * and LINK's second, and what UNLINK and RMDIR remove): what happens to
 * them during the call is the client's own doing. */
static void watch_self(struct fss *s, uint16_t proc, const void *payload, uint32_t len)
{
	uint64_t h[2] = { 0, 0 };
	struct gnode *n;
	struct gfile *f;

	s->self_wd[0] = s->self_wd[1] = s->self_wd[2] = -1;
	if ((proc == HRPC_GFS_UNLINK || proc == HRPC_GFS_RMDIR) &&
	    len == sizeof(struct hrpc_gfs_dir_name_req)) {
		const struct hrpc_gfs_dir_name_req *r = payload;
		char name[HRPC_GFS_NAME_MAX + 1];
		struct stat st;

		/* The removed inode's nlink change (IN_ATTRIB) is the client's. */
		if ((n = node_get(s, r->parent)) && n->type == S_IFDIR &&
		    take_name(&r->name, name) == 0 &&
		    fstatat(n->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			struct gnode *c = node_find(s, st.st_dev, st.st_ino);

			if (c)
				s->self_wd[2] = c->wd;
		}
	}
	if (proc == HRPC_GFS_MOUNT || proc == HRPC_GFS_FORGET || len < 16)
		return;
	memcpy(h, payload, sizeof(h));
	if (proc != HRPC_GFS_RENAME && proc != HRPC_GFS_LINK)
		h[1] = 0;
	for (int i = 0; i < 2; i++) {
		if (!h[i])
			continue;
		if (!(n = node_get(s, h[i])) && (f = file_get(s, h[i])))
			n = node_get(s, f->node);
		if (n)
			s->self_wd[i] = n->wd;
	}
}

/* ---- open files (fss_file_next) ------------------------------------------------ */

int fss_file_next(struct fss *s, uint32_t *pos, struct fss_file_info *info)
{
	uint64_t h;
	struct gfile *f = hrpc_handle_table_next(&s->files, pos, &h);

	if (!f)
		return 0;
	memset(info, 0, sizeof(*info));
	info->fh = wire_handle(s, h);
	info->node = f->node;
	info->dir = f->dir != NULL;
	info->flags = f->flags;
	fd_path(f->dir ? dirfd(f->dir) : f->fd, info->path, sizeof(info->path));
	memcpy(info->locks, f->locks, f->nlocks * sizeof(f->locks[0]));
	info->nlocks = f->nlocks;
	info->locks_overflow = f->locks_overflow;
	info->flock_type = f->flock_type;
	{
		struct gnode *n = node_get(s, f->node);
		union {
			struct file_handle fh;
			char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
		} hb;
		int mnt;

		hb.fh.handle_bytes = MAX_HANDLE_SZ;
		if (n && name_to_handle_at(n->fd, "", &hb.fh, &mnt, AT_EMPTY_PATH) == 0 &&
		    hb.fh.handle_bytes <= sizeof(info->handle)) {
			info->handle_type = hb.fh.handle_type;
			info->handle_len = hb.fh.handle_bytes;
			memcpy(info->handle, hb.fh.f_handle, hb.fh.handle_bytes);
		}
	}
	return 1;
}

uint64_t fss_written(const struct fss *s)
{
	return s->written;
}

uint32_t fss_node_count(const struct fss *s)
{
	return hrpc_handle_table_count(&s->nodes);
}

/* ---- credentials ------------------------------------------------------------- */

/* Take the caller's identity for one call (the kernel's setfs*id return
 * the previous value whatever happens: read back to be sure). */
static int cred_enter(struct fss *s, const struct hrpc_gfs_cred *c, mode_t *umask_was)
{
	gid_t groups[HRPC_GFS_GROUPS_MAX];

	*umask_was = umask(0);   /* requests carry the caller's umask, applied here */
	if (!s->switch_ids || (c->uid == s->uid && c->gid == s->gid && c->ngroups == 0))
		return 0;
	for (uint32_t i = 0; i < c->ngroups; i++)
		groups[i] = c->groups[i];
	/* Raw system calls: glibc's setgroups() would apply to every thread. */
	if (syscall(SYS_setgroups, (int)c->ngroups, groups) < 0)
		return -errno;
	syscall(SYS_setfsgid, c->gid);
	syscall(SYS_setfsuid, c->uid);
	if ((uid_t)syscall(SYS_setfsuid, -1) != c->uid || (gid_t)syscall(SYS_setfsgid, -1) != c->gid)
		return -EPERM;
	return 1;
}

static void cred_leave(struct fss *s, int entered, mode_t umask_was)
{
	if (entered != 0) {
		syscall(SYS_setfsuid, s->uid);   /* first: the privileges come back */
		syscall(SYS_setfsgid, s->gid);
		syscall(SYS_setgroups, s->ngroups, s->groups);
	}
	umask(umask_was);
}

int fss_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	struct fss *s = opaque;
	struct hrpc_gfs_cred cred;
	struct hrpc_req call;
	mode_t umask_was;
	bool watching;
	int rc, entered;

	/* A MOUNT of exactly the old size: a client from before credentials. */
	if (req->hdr->proc == HRPC_GFS_MOUNT && req->len == sizeof(struct hrpc_gfs_mount_req)) {
		fss_log(s, "refused a MOUNT without the caller's credentials: the client "
			"(hostrpc-guestmount) is older than this server");
		return -EPROTONOSUPPORT;
	}
	if (req->len < sizeof(cred))
		return -EINVAL;
	memcpy(&cred, req->payload, sizeof(cred));
	if ((rc = hrpc_gfs_cred_check(&cred)) < 0)
		return rc;
	/* Who the caller is here: the export's id policy (a map's outsider is
	 * the overflow id; squash drops the groups). */
	hrpc_idmap_uid_out(&s->cfg.ids, &cred.uid);
	hrpc_idmap_gid_out(&s->cfg.ids, &cred.gid);
	cred.ngroups = (uint16_t)hrpc_idmap_groups_out(&s->cfg.ids, cred.groups, cred.ngroups);
	call = *req;
	call.payload = (const uint8_t *)req->payload + sizeof(cred);
	call.len = req->len - (uint32_t)sizeof(cred);
	watching = s->ino_fd >= 0 && proc_modifies(req->hdr->proc, call.payload, call.len);
	if (watching) {
		/* What inotify holds now is the host's doing, even on the
		 * watches this call names: pass it on before the call's own. */
		watch_drain(s);
		watch_self(s, req->hdr->proc, call.payload, call.len);
	}
	entered = cred_enter(s, &cred, &umask_was);
	rc = entered < 0 ? entered : dispatch(s, &call, rep);
	cred_leave(s, entered, umask_was);
	if (rc == -EACCES || rc == -EPERM || rc == -EROFS || rc == -EDQUOT)
		audit_denied(s, req->hdr->proc, &cred, call.payload, call.len, rc);
	else if ((rc == -EINVAL || rc == -ENAMETOOLONG) && s->cfg.audit)
		audit_bad_name(s, req->hdr->proc, call.payload, call.len, &cred);
	if (watching) {
		watch_drain(s);    /* this call's own events */
		s->self_wd[0] = s->self_wd[1] = s->self_wd[2] = -1;
	}
	if (s->ino_fd >= 0 && (s->nunwatched || s->unwatched_overflow))
		watch_pending(s);
	return rc;
}

/* ---- migration (fsstate.h) ------------------------------------------------------ */

int fss_mode(const struct fss *s)
{
	return s->rdonly;
}

/* fd's path relative to the export root (`root`, rl bytes, read once by
 * the caller; "" for the root itself) into rel; -1 if it is not beneath it
 * any more (deleted, moved out). */
static int rel_path(const char *root, ssize_t rl, int fd, char *rel, size_t len)
{
	char pp[64], path[PATH_MAX];
	ssize_t pl;

	proc_path(pp, sizeof(pp), fd);
	pl = readlink(pp, path, sizeof(path) - 1);
	if (pl <= 0)
		return -1;
	path[pl] = 0;
	if (pl >= 10 && !strcmp(path + pl - 10, " (deleted)"))
		return -1;
	if (!strcmp(path, root)) {
		rel[0] = 0;
		return 0;
	}
	/* "/" as the root: every path is beneath it */
	if (!strcmp(root, "/"))
		rl = 0;
	if (strncmp(path, root, (size_t)rl) || path[rl] != '/' || strlen(path + rl + 1) >= len)
		return -1;
	strcpy(rel, path + rl + 1);
	return hrpc_fs_mig_path_check(rel, (uint32_t)strlen(rel)) == 0 ? 0 : -1;
}

int fss_mig_export(struct fss *s, FILE *out, uint32_t *nnodes, uint32_t *nfiles)
{
	static const uint8_t zero[8];
	uint32_t pos = 0, nn = 0, nf = 0;
	struct gnode *n;
	struct gfile *f;
	uint64_t h;
	char pp[64], root[PATH_MAX], rel[HRPC_FS_MIG_PATH_MAX + 1];
	ssize_t rl;

	proc_path(pp, sizeof(pp), s->export_fd);
	rl = readlink(pp, root, sizeof(root) - 1);
	if (rl <= 0)
		return -EIO;
	root[rl] = 0;
	while ((n = hrpc_handle_table_next(&s->nodes, &pos, &h))) {
		struct hrpc_fs_mig_node r = { .handle = h, .nlookup = n->nlookup,
					      .type = (uint16_t)(n->type >> 12) };

		n->mig_unnamed = rel_path(root, rl, n->fd, rel, sizeof(rel)) < 0;
		if (n->mig_unnamed)
			continue;   /* the client's next call on it: ESTALE */
		r.path_len = (uint16_t)strlen(rel);
		fwrite(&r, sizeof(r), 1, out);
		fwrite(rel, 1, r.path_len, out);
		fwrite(zero, 1, (8 - r.path_len % 8) % 8, out);
		nn++;
	}
	pos = 0;
	while ((f = hrpc_handle_table_next(&s->files, &pos, &h))) {
		struct hrpc_fs_mig_file r = { .handle = h, .node = f->node & ~0xff000000ull,
					      .flags = f->flags, .dir = f->dir != NULL,
					      .flock_type = (uint8_t)f->flock_type };
		n = hrpc_handle_table_get(&s->nodes, r.node);
		if (!n || n->mig_unnamed)
			continue;   /* its node did not travel */
		r.nlocks = (uint8_t)(f->nlocks < HRPC_FS_MIG_LOCKS ? f->nlocks : HRPC_FS_MIG_LOCKS);
		for (uint32_t i = 0; i < r.nlocks; i++) {
			r.locks[i].start = f->locks[i].start;
			r.locks[i].end = f->locks[i].end;
			r.locks[i].type = f->locks[i].type;
		}
		fwrite(&r, sizeof(r), 1, out);
		nf++;
	}
	*nnodes = nn;
	*nfiles = nf;
	return ferror(out) ? -EIO : 0;
}

static int lock_apply(int fd, uint64_t start, uint64_t end, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)start,
			    .l_len = end == UINT64_MAX ? 0 : (off_t)(end - start) };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static int file_locks(struct gfile *f, bool take)
{
	static const int fops[] = { LOCK_SH, LOCK_EX };
	int rc = 0;

	if (f->dir)
		return 0;
	for (uint32_t i = 0; i < f->nlocks; i++) {
		int r = lock_apply(f->fd, f->locks[i].start, f->locks[i].end,
				   !take ? F_UNLCK :
				   f->locks[i].type == HRPC_GFS_LOCK_RD ? F_RDLCK : F_WRLCK);

		rc = rc ? rc : r;
	}
	if (f->flock_type == HRPC_GFS_LOCK_RD || f->flock_type == HRPC_GFS_LOCK_WR) {
		if (flock(f->fd, (take ? fops[f->flock_type] : LOCK_UN) | LOCK_NB) < 0 && !rc)
			rc = -errno;
	}
	return rc;
}

void fss_mig_quiesce(struct fss *s)
{
	uint32_t pos = 0;
	struct gfile *f;

	while ((f = hrpc_handle_table_next(&s->files, &pos, NULL)))
		(void)file_locks(f, false);
}

int fss_mig_resume(struct fss *s)
{
	uint32_t pos = 0;
	struct gfile *f;
	int rc = 0, r;

	while ((f = hrpc_handle_table_next(&s->files, &pos, NULL)))
		if ((r = file_locks(f, true)) < 0 && !rc)
			rc = r;
	return rc;
}

/* Undo a failed import: everything it made goes. */
static void import_undo(struct fss *s)
{
	uint32_t pos = 0;
	uint64_t h;
	void *o;

	while ((o = hrpc_handle_table_next(&s->files, &pos, &h))) {
		struct gfile *f = o;

		(void)file_locks(f, false);
		hrpc_handle_table_remove(&s->files, h);
		file_close(f);
	}
	pos = 0;
	while ((o = hrpc_handle_table_next(&s->nodes, &pos, NULL)))
		node_drop(s, o);
	s->rdonly = -1;
	s->written = 0;
}

#define IMPORT_FAIL(code, ...) do { \
		snprintf(err, errlen, __VA_ARGS__); \
		rc = (code); \
		goto fail; \
	} while (0)

int fss_mig_import(struct fss *s, const uint8_t *p, size_t len, uint32_t nnodes,
		   uint32_t nfiles, bool ro, uint64_t written, char *err, size_t errlen)
{
	const uint8_t *end = p + len;
	char path[HRPC_FS_MIG_PATH_MAX + 1];
	int rc = 0;

	if (s->rdonly >= 0 || hrpc_handle_table_count(&s->nodes) ||
	    hrpc_handle_table_count(&s->files)) {
		snprintf(err, errlen, "the server has served already");
		return -EBUSY;
	}
	if (nnodes > HRPC_FS_MIG_NODES || nfiles > HRPC_FS_MIG_NODES) {
		snprintf(err, errlen, "too many nodes or files");
		return -EPROTO;
	}
	s->rdonly = ro ? 1 : 0;
	s->written = written;
	for (uint32_t i = 0; i < nnodes; i++) {
		struct hrpc_fs_mig_node r;
		struct open_how how = {
			.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		};
		struct gnode *n;
		struct stat st;
		size_t padded;
		uint32_t k;
		int fd;

		if ((size_t)(end - p) < sizeof(r))
			IMPORT_FAIL(-EPROTO, "node record %u cut short", i);
		memcpy(&r, p, sizeof(r));
		p += sizeof(r);
		padded = ((size_t)r.path_len + 7) & ~(size_t)7;
		if (r.reserved || !r.nlookup || !r.handle || (r.handle & 0xff000000ull) ||
		    !(r.handle >> 32) || (size_t)(end - p) < padded ||
		    hrpc_fs_mig_path_check((const char *)p, r.path_len) < 0)
			IMPORT_FAIL(-EPROTO, "node record %u is not one a host sends", i);
		for (size_t j = r.path_len; j < padded; j++)
			if (p[j])
				IMPORT_FAIL(-EPROTO, "node record %u is not one a host sends", i);
		memcpy(path, p, r.path_len);
		path[r.path_len] = 0;
		p += padded;
		fd = (int)syscall(SYS_openat2, s->export_fd, r.path_len ? path : ".", &how,
				  sizeof(how));
		if (fd < 0)
			IMPORT_FAIL(errno == ENOENT ? -ESTALE : -errno, "'%s': %s", path,
				    strerror(errno));
		if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ||
		    (st.st_mode & S_IFMT) >> 12 != r.type || node_find(s, st.st_dev, st.st_ino)) {
			close(fd);
			IMPORT_FAIL(-ESTALE, "'%s' is not the kind of file it was at the source",
				    path);
		}
		if (hrpc_handle_table_count(&s->nodes) + 1 > s->nbuckets && (rc = rehash(s)) < 0) {
			close(fd);
			IMPORT_FAIL(rc, "out of memory");
		}
		n = calloc(1, sizeof(*n));
		if (!n || (rc = hrpc_handle_table_put(&s->nodes, n, r.handle)) < 0) {
			rc = n ? rc : -ENOMEM;
			free(n);
			close(fd);
			IMPORT_FAIL(rc, "node %u: %s", i, strerror(-rc));
		}
		n->fd = fd;
		n->dev = st.st_dev;
		n->ino = st.st_ino;
		n->type = st.st_mode & S_IFMT;
		n->nlookup = r.nlookup;
		n->handle = r.handle;
		n->wd = -1;
		k = hash_key(n->dev, n->ino, s->nbuckets);
		n->hnext = s->buckets[k];
		s->buckets[k] = hrpc_handle_index(n->handle) + 1;
	}
	for (uint32_t i = 0; i < nfiles; i++) {
		struct hrpc_fs_mig_file r;
		struct gfile *f;
		struct gnode *n;
		char pp[64];
		int fd, flags = 0;
		DIR *d = NULL;

		if ((size_t)(end - p) < sizeof(r))
			IMPORT_FAIL(-EPROTO, "file record %u cut short", i);
		memcpy(&r, p, sizeof(r));
		p += sizeof(r);
		if (r.reserved || r.dir > 1 || r.nlocks > HRPC_FS_MIG_LOCKS || !r.handle ||
		    (r.handle & 0xff000000ull) || !(r.handle >> 32) ||
		    r.flock_type > HRPC_GFS_LOCK_UN ||
		    (r.dir ? r.flags != 0 : open_flags(r.flags, false, s->rdonly, &flags) < 0) ||
		    !(n = hrpc_handle_table_get(&s->nodes, r.node)) ||
		    (r.dir ? n->type != S_IFDIR : n->type != S_IFREG))
			IMPORT_FAIL(-EPROTO, "file record %u is not one a host sends", i);
		for (uint32_t j = 0; j < r.nlocks; j++)
			if (r.locks[j].reserved || r.locks[j].type > HRPC_GFS_LOCK_WR ||
			    r.locks[j].start > (uint64_t)INT64_MAX || r.locks[j].end <= r.locks[j].start ||
			    (r.locks[j].end != UINT64_MAX && r.locks[j].end > (uint64_t)INT64_MAX))
				IMPORT_FAIL(-EPROTO, "file record %u is not one a host sends", i);
		if (r.dir) {
			fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0 && !(d = fdopendir(fd))) {
				close(fd);
				fd = -1;
			}
		} else {
			proc_path(pp, sizeof(pp), n->fd);
			fd = open(pp, (flags & ~(O_TRUNC | O_CREAT | O_EXCL)) | O_NONBLOCK);
			if (fd >= 0)
				fcntl(fd, F_SETFL, flags & (O_APPEND | O_DSYNC | O_NOATIME));
		}
		if (fd < 0)
			IMPORT_FAIL(-errno, "cannot open file %u again: %s", i, strerror(errno));
		f = calloc(1, sizeof(*f));
		if (!f || (rc = hrpc_handle_table_put(&s->files, f, r.handle)) < 0) {
			rc = f ? rc : -ENOMEM;
			free(f);
			if (d)
				closedir(d);
			else
				close(fd);
			IMPORT_FAIL(rc, "file %u: %s", i, strerror(-rc));
		}
		f->fd = d ? -1 : fd;
		f->dir = d;
		f->node = wire_handle(s, n->handle);
		f->writable = (r.flags & HRPC_GFS_O_ACCMODE) != 0;
		f->flags = r.flags;
		f->nlocks = r.nlocks;
		for (uint32_t j = 0; j < r.nlocks; j++) {
			f->locks[j].start = r.locks[j].start;
			f->locks[j].end = r.locks[j].end;
			f->locks[j].type = r.locks[j].type;
		}
		f->flock_type = r.flock_type;
		if ((rc = file_locks(f, true)) < 0)
			IMPORT_FAIL(rc, "a lock the guest held (file %u) is held by another "
				    "process here", i);
	}
	if (p != end)
		IMPORT_FAIL(-EPROTO, "%zu bytes after the last record", (size_t)(end - p));
	/* Every node is watched from the first call on (watch_pending()). */
	s->unwatched_overflow = s->ino_fd >= 0;
	return 0;
fail:
	import_undo(s);
	return rc;
}
