/* SPDX-License-Identifier: MIT */
/*
 * hostrpc-guestmount - mount a directory that a guest serves (guestrpcd,
 * service 256) on the host with FUSE (lowlevel API, multithreaded).
 *
 * usage: hostrpc-guestmount [options] DOMAIN|SOCKET GUEST_PATH MOUNTPOINT
 *
 * Every FUSE request becomes one Guest RPC; FUSE's worker threads share
 * one session, so many calls are in flight on the channel at once (the
 * kernel's readahead, parallel lookups, ...).  The guest is untrusted:
 *
 *  - host inode numbers are our own (a table maps them to guest node
 *    handles), so a guest cannot alias the root or another file's inode;
 *    a handle that changes type, or a lookup that returns the root or its
 *    own parent, is refused with EIO;
 *  - names from readdir must be single components (no '/', no NUL, and
 *    "."/".." never with a node); sizes, counts and lengths are checked
 *    against what was asked; errno values are passed only if plausible;
 *  - a guest that stops answering fails its call after --timeout and the
 *    session is then dead: every request gets ENOTCONN at once, and the
 *    mount can always be unmounted (fusermount3 -u);
 *  - a directory listing holds at most --max-dir-entries entries, and its
 *    cookies must advance (none 0, none seen before in the listing): a
 *    guest that lists forever or in a loop gets EIO, not our memory;
 *  - the mount cannot be turned against the host: the label (DOMAIN or
 *    SOCKET, GUEST_PATH) reaches the mount options only as the fsname,
 *    escaped as libfuse's option parser expects (',' and '\' get a
 *    backslash), so it can never add an option; the mount is always nosuid
 *    and nodev (-o suid / -o dev are refused) unless --allow-suid /
 *    --allow-dev; and without those, setuid/setgid bits of non-directories
 *    and file capabilities (security.capability) are not reported, and
 *    device nodes are reported as device 0:0, so that even on a mount that
 *    lost nodev one opens no host device.
 *
 * Files: gfs-decode.c checks every guest reply (pure functions, fuzzed by
 * tests/fuzz/fuzz-gm), inode-table.c maps kernel inodes to guest nodes,
 * this file has the FUSE operations and main().
 */
#define FUSE_USE_VERSION 312
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <glib.h>

#include "hostrpc/guestfs.h"
#include "hostrpc/idmap.h"
#include "guestrpc/session.h"
#include "gfs-decode.h"
#include "inode-table.h"

#define IO_MAX HRPC_GFS_IO_MAX
#define READDIR_BULK GFS_READDIR_BULK
/* Default --max-dir-entries: at most ~400 bytes each (a struct dent, a
 * 255-byte name, the cookie), so a listing takes at most ~400 MiB. */
#define MAX_DIR_ENTRIES (1u << 20)

/*
 * An open file.  Read-only opens use OPEN_READ, which brings the file's
 * first PREREAD bytes along: the read that follows almost every open is
 * served from them without a second round trip - once, and only if nothing
 * was written to the node through this mount meanwhile (wgen).
 */
struct hfile {
	uint64_t gfh;
	pthread_mutex_t lock;
	uint8_t *pre;
	uint32_t pre_len;
	bool pre_eof;
	uint32_t wgen;
};

#define PREREAD (128u * 1024u)

struct dent {
	char *name;
	uint64_t gino;
	uint32_t type;
	struct itab_node *node;       /* readdirplus: pinned; NULL otherwise */
	struct hrpc_gfs_attr attr;
};

struct hdir {
	uint64_t gfh;
	pthread_mutex_t lock;
	struct dent *ents;
	size_t n, cap;
	struct gfs_cookie_set seen;
	uint64_t gcookie;        /* guest cookie after the last fetched entry */
	bool eof;
	bool plus;               /* fetched with READDIRPLUS */
	bool started;
};

struct gm {
	guestrpc_session *s;
	struct inode_table itab;  /* kernel inodes <-> guest nodes */
	double attr_timeout;
	double entry_timeout;
	double negative_timeout;
	bool keep_cache;
	bool writeback;
	bool ro;
	int violations;
	bool reported_dead;
	bool no_open_read;       /* the agent predates OPEN_READ */
	bool allow_suid;         /* --allow-suid: report and honour S_ISUID/S_ISGID */
	bool allow_dev;          /* --allow-dev: report device numbers, mount with dev */
	size_t max_dir_entries;  /* --max-dir-entries */
	struct hrpc_idmap ids;   /* --ids: host callers <-> the guest's ids */
	char label[256];
};

static struct gm gm;

__attribute__((format(printf, 1, 2)))
static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hostrpc-guestmount: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A guest broke the rules: say so (a few times), answer EIO. */
__attribute__((format(printf, 1, 2)))
static int violation(const char *fmt, ...)
{
	va_list ap;
	int n = __atomic_add_fetch(&gm.violations, 1, __ATOMIC_RELAXED);

	if (n <= 20) {
		fprintf(stderr, "hostrpc-guestmount: guest protocol violation: ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	return -EIO;
}

/* A decoder (gfs-decode.h) refused a reply: its message is the violation. */
static int refused(int rc, const char *err)
{
	return rc == -EIO ? violation("%s", err) : rc;
}

/* ---- calls ---------------------------------------------------------------- */

/* Who this thread is serving: the FUSE request's caller, first in every
 * call's payload (guestfs.h), so the agent acts as them.  Set by each
 * operation before its first call (cred_set). */
static __thread struct hrpc_gfs_cred tl_cred;

static void cred_set(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[HRPC_GFS_GROUPS_MAX];
	int n = 0;

	memset(&tl_cred, 0, sizeof(tl_cred));
	tl_cred.uid = ctx->uid;
	tl_cred.gid = ctx->gid;
	/* Root needs none (and asking costs a read of /proc). */
	if (ctx->uid != 0 && gm.ids.kind != HRPC_IDMAP_SQUASH)
		n = fuse_req_getgroups(req, HRPC_GFS_GROUPS_MAX, groups);
	if (n > (int)HRPC_GFS_GROUPS_MAX)
		n = HRPC_GFS_GROUPS_MAX;   /* fewer groups: fewer rights, never more */
	for (int i = 0; i < n; i++)
		if (groups[i] != (gid_t)-1)
			tl_cred.groups[tl_cred.ngroups++] = groups[i];
	/* As the guest knows them (--ids); outside a map: the overflow id. */
	hrpc_idmap_uid_out(&gm.ids, &tl_cred.uid);
	hrpc_idmap_gid_out(&gm.ids, &tl_cred.gid);
	tl_cred.ngroups = (uint16_t)hrpc_idmap_groups_out(&gm.ids, tl_cred.groups, tl_cred.ngroups);
	memset(tl_cred.groups + tl_cred.ngroups, 0,
	       (HRPC_GFS_GROUPS_MAX - tl_cred.ngroups) * sizeof(tl_cred.groups[0]));
}

/* FORGET, RELEASE, RELEASEDIR: the guest checks no permission for them,
 * so no caller to look up (and no read of /proc on these frequent calls). */
static void cred_none(void)
{
	memset(&tl_cred, 0, sizeof(tl_cred));
}

/* c's payload with this thread's caller in front, in buf. */
#define CALL_REQ_MAX 8192u
static int with_cred(struct guestrpc_call *c, uint8_t *buf)
{
	if (c->req_len > CALL_REQ_MAX)
		return -EINVAL;
	memcpy(buf, &tl_cred, sizeof(tl_cred));
	if (c->req_len)
		memcpy(buf + sizeof(tl_cred), c->req, c->req_len);
	c->req = buf;
	c->req_len += (uint32_t)sizeof(tl_cred);
	return 0;
}

static int scall(struct guestrpc_call *c0)
{
	uint8_t buf[sizeof(struct hrpc_gfs_cred) + CALL_REQ_MAX];
	struct guestrpc_call call = *c0, *c = &call;
	int rc = with_cred(c, buf);

	if (rc == 0)
		rc = guestrpc_session_call(gm.s, c);
	c0->rep_len = c->rep_len;
	c0->bulk_in_len = c->bulk_in_len;

	if (rc == -ENOTCONN && !__atomic_exchange_n(&gm.reported_dead, true, __ATOMIC_RELAXED))
		logmsg("%s: guest unreachable: %s; every request now fails with ENOTCONN "
		       "(unmount with fusermount3 -u)", gm.label, guestrpc_session_error(gm.s));
	return rc;
}

static int gcall(uint16_t proc, const void *req, uint32_t req_len, void *rep, uint32_t rep_cap,
		 uint32_t *rep_len)
{
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = proc,
		.req = req, .req_len = req_len, .rep = rep, .rep_cap = rep_cap,
	};
	int rc = scall(&c);

	if (rep_len)
		*rep_len = c.rep_len;
	return rc;
}

/* Fire and forget (RELEASE, RELEASEDIR, FORGET): the guest's answer would
 * change nothing, and a close should not wait a round trip. */
static void gsend(uint16_t proc, const void *req, uint32_t req_len)
{
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = proc, .req = req, .req_len = req_len,
	};

	uint8_t buf[sizeof(struct hrpc_gfs_cred) + CALL_REQ_MAX];
	struct guestrpc_call cc = c;

	if (with_cred(&cc, buf) < 0)
		return;
	if (guestrpc_session_send(gm.s, &cc) == -EBUSY)
		gcall(proc, req, req_len, NULL, 0, NULL);  /* every slot in flight: wait */
}

/* The reply must be exactly `want` bytes. */
static int gcall_fixed(uint16_t proc, const void *req, uint32_t req_len, void *rep, uint32_t want)
{
	uint32_t len = 0;
	int rc = gcall(proc, req, req_len, rep, want, &len);

	if (rc == -EMSGSIZE || (rc == 0 && len != want))
		return violation("proc %u: reply of %u bytes, expected %u", proc, len, want);
	return rc;
}

static int errno_out(int rc)
{
	return gfs_errno_out(rc);
}

static void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rc ? errno_out(rc) : 0);
}

static void name_put(struct hrpc_gfs_name *wn, const char *name)
{
	size_t len = strlen(name);

	memset(wn, 0, sizeof(*wn));
	wn->len = (uint16_t)len;
	memcpy(wn->name, name, len);
}

/* Names from the kernel are single components already; the length is ours. */
static int name_ok(const char *name)
{
	size_t len = strlen(name);

	return len && len <= HRPC_GFS_NAME_MAX ? 0 : -ENAMETOOLONG;
}

/* ---- attributes and nodes ------------------------------------------------- */

/* The guest chooses modes and device numbers: on the host they must not
 * become a setuid program or a way into a host device (on top of
 * nosuid,nodev - see the top). */
static void attr_to_stat(const struct hrpc_gfs_attr *a, uint64_t ino, struct stat *st)
{
	gfs_attr_to_stat(a, ino, gm.allow_suid, gm.allow_dev, st);
	st->st_uid = hrpc_idmap_uid_back(&gm.ids, a->uid);
	st->st_gid = hrpc_idmap_gid_back(&gm.ids, a->gid);
}

static struct itab_node *node_of(fuse_ino_t ino)
{
	return itab_get(&gm.itab, ino);
}

/* Guest handle of a kernel inode (0 = unknown). */
static uint64_t gnode_of(fuse_ino_t ino)
{
	return itab_gnode(&gm.itab, ino);
}

static void node_changed(fuse_ino_t ino)
{
	itab_changed(&gm.itab, ino);
}

static struct hfile *hfile_new(uint64_t gfh)
{
	struct hfile *hf = calloc(1, sizeof(*hf));

	if (hf) {
		hf->gfh = gfh;
		pthread_mutex_init(&hf->lock, NULL);
	}
	return hf;
}

static void hfile_free(struct hfile *hf)
{
	pthread_mutex_destroy(&hf->lock);
	free(hf->pre);
	free(hf);
}

static void send_forgets(struct hrpc_gfs_forget_item *it, uint32_t n)
{
	uint8_t buf[sizeof(struct hrpc_gfs_forget_req) + HRPC_GFS_FORGET_MAX * sizeof(*it)];
	struct hrpc_gfs_forget_req *f = (void *)buf;

	while (n) {
		uint32_t k = n < HRPC_GFS_FORGET_MAX ? n : HRPC_GFS_FORGET_MAX;

		memset(f, 0, sizeof(*f));
		f->count = k;
		memcpy(f->items, it, k * sizeof(*it));
		gsend(HRPC_GFS_FORGET, f, (uint32_t)(sizeof(*f) + k * sizeof(*it)));
		it += k;
		n -= k;
	}
}

/* Caller holds gm.itab.lock; 1: a FORGET item for the guest in *out. */
static int node_maybe_drop(struct itab_node *n, struct hrpc_gfs_forget_item *out)
{
	return itab_maybe_drop_locked(&gm.itab, n, out);
}

/*
 * Account for one guest lookup result (itab_take): an impossible answer is
 * a protocol violation (EIO), and a lookup the guest counted that no node
 * keeps is given back at once.
 */
static struct itab_node *node_take(const struct hrpc_gfs_entry *e, uint64_t parent_gnode,
				   bool kernel_ref, int *err)
{
	struct hrpc_gfs_forget_item undo = { e->node, 1 };
	struct itab_node *n;
	bool forget;
	char why[256];

	n = itab_take(&gm.itab, e, parent_gnode, kernel_ref, err, &forget, why, sizeof(why));
	if (*err == -EIO)
		*err = violation("%s", why);
	if (forget)
		send_forgets(&undo, 1);
	return n;
}

static void fill_entry(struct fuse_entry_param *ep, const struct itab_node *n,
		       const struct hrpc_gfs_attr *a)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = n->ino;
	ep->generation = 1;
	attr_to_stat(a, n->ino, &ep->attr);
	ep->attr_timeout = gm.attr_timeout;
	ep->entry_timeout = gm.entry_timeout;
}

/* Reply to an op that made or found an entry (kernel gets a reference). */
static void reply_entry(fuse_req_t req, int rc, const struct hrpc_gfs_entry *e, uint64_t parent)
{
	struct fuse_entry_param ep;
	struct itab_node *n;

	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	n = node_take(e, parent, true, &rc);
	if (!n) {
		reply_err(req, rc);
		return;
	}
	fill_entry(&ep, n, &e->attr);
	if (fuse_reply_entry(req, &ep) != 0) {
		/* The kernel did not take it (interrupted): undo. */
		struct hrpc_gfs_forget_item it;
		int drop;

		pthread_mutex_lock(&gm.itab.lock);
		n->nlookup--;
		drop = node_maybe_drop(n, &it);
		pthread_mutex_unlock(&gm.itab.lock);
		if (drop)
			send_forgets(&it, 1);
	}
}

/* ---- operations ------------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = IO_MAX;
	conn->max_readahead = IO_MAX;
	conn->want |= conn->capable & (FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
				       FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
				       FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_AUTO_INVAL_DATA);
	if (gm.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	/* Locks would be local to the host anyway. */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hrpc_gfs_dir_name_req r = { .parent = gnode_of(parent) };
	struct hrpc_gfs_entry e;
	int rc = name_ok(name);

	cred_set(req);
	if (rc < 0 || !r.parent) {
		reply_err(req, rc < 0 ? rc : -ESTALE);
		return;
	}
	name_put(&r.name, name);
	rc = gcall_fixed(HRPC_GFS_LOOKUP, &r, sizeof(r), &e, sizeof(e));
	if (rc == -ENOENT && gm.negative_timeout > 0) {
		struct fuse_entry_param ep = { .ino = 0, .entry_timeout = gm.negative_timeout };

		fuse_reply_entry(req, &ep);
		return;
	}
	reply_entry(req, rc, &e, r.parent);
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup, struct hrpc_gfs_forget_item *it,
		       uint32_t *n)
{
	*n += (uint32_t)itab_forget_locked(&gm.itab, ino, nlookup, &it[*n]);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct hrpc_gfs_forget_item it;
	uint32_t n = 0;

	cred_none();
	pthread_mutex_lock(&gm.itab.lock);
	forget_one(ino, nlookup, &it, &n);
	pthread_mutex_unlock(&gm.itab.lock);
	if (n)
		send_forgets(&it, n);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *fd)
{
	struct hrpc_gfs_forget_item *it = calloc(count ? count : 1, sizeof(*it));
	uint32_t n = 0;

	cred_none();
	if (it) {
		pthread_mutex_lock(&gm.itab.lock);
		for (size_t i = 0; i < count; i++)
			forget_one(fd[i].ino, fd[i].nlookup, it, &n);
		pthread_mutex_unlock(&gm.itab.lock);
		send_forgets(it, n);
		free(it);
	}
	fuse_reply_none(req);
}

static void reply_attr(fuse_req_t req, fuse_ino_t ino, int rc, const struct hrpc_gfs_attr *a)
{
	struct itab_node *n = node_of(ino);
	char err[256];
	struct stat st;

	if (rc == 0)
		rc = refused(gfs_attr_reply_check(a, n ? n->type : 0, n ? n->gnode : 0,
						  err, sizeof(err)), err);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	attr_to_stat(a, ino, &st);
	fuse_reply_attr(req, &st, gm.attr_timeout);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrpc_gfs_node_req r = { .node = gnode_of(ino) };
	struct hrpc_gfs_attr a;
	int rc;

	cred_set(req);
	if (!r.node) {
		reply_err(req, -ESTALE);
		return;
	}
	if (fi && fi->fh && !S_ISDIR(node_of(ino)->type))
		r.fh = ((struct hfile *)(uintptr_t)fi->fh)->gfh;
	rc = gcall_fixed(HRPC_GFS_GETATTR, &r, sizeof(r), &a, sizeof(a));
	reply_attr(req, ino, rc, &a);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct hrpc_gfs_setattr_req r = { .node = gnode_of(ino) };
	struct hrpc_gfs_attr a;
	int rc;

	cred_set(req);
	if (!r.node) {
		reply_err(req, -ESTALE);
		return;
	}
	if (fi && fi->fh)
		r.fh = ((struct hfile *)(uintptr_t)fi->fh)->gfh;
	if (to_set & FUSE_SET_ATTR_MODE) {
		r.valid |= HRPC_GFS_SET_MODE;
		r.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		r.valid |= HRPC_GFS_SET_UID;
		r.uid = attr->st_uid;
		/* An id the map does not cover has no name in the guest. */
		if (gm.ids.kind == HRPC_IDMAP_MAP && !hrpc_idmap_uid_out(&gm.ids, &r.uid)) {
			reply_err(req, -EINVAL);
			return;
		}
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		r.valid |= HRPC_GFS_SET_GID;
		r.gid = attr->st_gid;
		if (gm.ids.kind == HRPC_IDMAP_MAP && !hrpc_idmap_gid_out(&gm.ids, &r.gid)) {
			reply_err(req, -EINVAL);
			return;
		}
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			reply_err(req, -EINVAL);
			return;
		}
		r.valid |= HRPC_GFS_SET_SIZE;
		r.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		r.valid |= HRPC_GFS_SET_ATIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME) {
		r.valid |= HRPC_GFS_SET_ATIME;
		r.atime = (uint64_t)attr->st_atim.tv_sec;
		r.atime_nsec = (uint32_t)attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		r.valid |= HRPC_GFS_SET_MTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME) {
		r.valid |= HRPC_GFS_SET_MTIME;
		r.mtime = (uint64_t)attr->st_mtim.tv_sec;
		r.mtime_nsec = (uint32_t)attr->st_mtim.tv_nsec;
	}
	node_changed(ino);
	rc = gcall_fixed(HRPC_GFS_SETATTR, &r, sizeof(r), &a, sizeof(a));
	reply_attr(req, ino, rc, &a);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct hrpc_gfs_node_req r = { .node = gnode_of(ino) };
	char buf[HRPC_GFS_PATH_MAX + 1], err[256];
	uint32_t len = 0;
	int rc;

	cred_set(req);
	if (!r.node) {
		reply_err(req, -ESTALE);
		return;
	}
	rc = gcall(HRPC_GFS_READLINK, &r, sizeof(r), buf, HRPC_GFS_PATH_MAX, &len);
	if (rc == 0)
		rc = refused(gfs_readlink_check(buf, len, err, sizeof(err)), err);
	if (rc == -EMSGSIZE)
		rc = violation("readlink: target longer than PATH_MAX");
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	buf[len] = 0;
	fuse_reply_readlink(req, buf);
}

static void make(fuse_req_t req, uint16_t proc, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev)
{
	struct hrpc_gfs_make_req r = { .parent = gnode_of(parent) };
	struct hrpc_gfs_entry e;
	int rc = name_ok(name);

	cred_set(req);
	if (rc < 0 || !r.parent) {
		reply_err(req, rc < 0 ? rc : -ESTALE);
		return;
	}
	if (gm.ro) {
		reply_err(req, -EROFS);
		return;
	}
	r.mode = mode;
	r.umask = fuse_req_ctx(req)->umask;
	r.rdev = (uint32_t)((minor(rdev) & 0xff) | (major(rdev) << 8) | ((minor(rdev) & ~0xffu) << 12));
	name_put(&r.name, name);
	rc = gcall_fixed(proc, &r, sizeof(r), &e, sizeof(e));
	reply_entry(req, rc, &e, r.parent);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	make(req, HRPC_GFS_MKNOD, parent, name, mode, rdev);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make(req, HRPC_GFS_MKDIR, parent, name, mode & 07777, 0);
}

static void remove_name(fuse_req_t req, uint16_t proc, fuse_ino_t parent, const char *name)
{
	struct hrpc_gfs_dir_name_req r = { .parent = gnode_of(parent) };
	int rc = name_ok(name);

	cred_set(req);
	if (rc == 0 && !r.parent)
		rc = -ESTALE;
	if (rc == 0 && gm.ro)
		rc = -EROFS;
	if (rc == 0) {
		name_put(&r.name, name);
		rc = gcall(proc, &r, sizeof(r), NULL, 0, NULL);
	}
	reply_err(req, rc);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, HRPC_GFS_UNLINK, parent, name);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, HRPC_GFS_RMDIR, parent, name);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct hrpc_gfs_symlink_req *r = calloc(1, sizeof(*r));
	struct hrpc_gfs_entry e;
	size_t tl = strlen(link);
	int rc = name_ok(name);

	cred_set(req);
	if (!r) {
		reply_err(req, -ENOMEM);
		return;
	}
	r->parent = gnode_of(parent);
	if (rc == 0 && (tl == 0 || tl >= HRPC_GFS_PATH_MAX))
		rc = -ENAMETOOLONG;
	if (rc == 0 && !r->parent)
		rc = -ESTALE;
	if (rc == 0 && gm.ro)
		rc = -EROFS;
	if (rc < 0) {
		free(r);
		reply_err(req, rc);
		return;
	}
	name_put(&r->name, name);
	r->target_len = (uint16_t)tl;
	memcpy(r->target, link, tl);
	rc = gcall_fixed(HRPC_GFS_SYMLINK, r, sizeof(*r), &e, sizeof(e));
	reply_entry(req, rc, &e, r->parent);
	free(r);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct hrpc_gfs_rename_req r = { .olddir = gnode_of(parent), .newdir = gnode_of(newparent) };
	int rc = name_ok(name);

	cred_set(req);
	if (rc == 0)
		rc = name_ok(newname);
	if (rc == 0 && (!r.olddir || !r.newdir))
		rc = -ESTALE;
	if (rc == 0 && (flags & ~(unsigned int)(HRPC_GFS_RENAME_NOREPLACE | HRPC_GFS_RENAME_EXCHANGE)))
		rc = -EINVAL;
	if (rc == 0 && gm.ro)
		rc = -EROFS;
	if (rc == 0) {
		r.flags = flags;
		name_put(&r.oldname, name);
		name_put(&r.newname, newname);
		rc = gcall(HRPC_GFS_RENAME, &r, sizeof(r), NULL, 0, NULL);
	}
	reply_err(req, rc);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct hrpc_gfs_link_req r = { .node = gnode_of(ino), .newparent = gnode_of(newparent) };
	struct hrpc_gfs_entry e;
	int rc = name_ok(newname);

	cred_set(req);
	if (rc == 0 && (!r.node || !r.newparent))
		rc = -ESTALE;
	if (rc == 0 && gm.ro)
		rc = -EROFS;
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	name_put(&r.newname, newname);
	rc = gcall_fixed(HRPC_GFS_LINK, &r, sizeof(r), &e, sizeof(e));
	reply_entry(req, rc, &e, r.newparent);
}

static uint32_t wire_open_flags(int flags)
{
	uint32_t w = (uint32_t)flags & (HRPC_GFS_O_ACCMODE | HRPC_GFS_O_TRUNC | HRPC_GFS_O_APPEND |
					HRPC_GFS_O_DSYNC | HRPC_GFS_O_SYNC | HRPC_GFS_O_NOATIME);

	if (gm.writeback) {
		/* The kernel reads to fill partial pages and does appends itself. */
		if ((w & HRPC_GFS_O_ACCMODE) == O_WRONLY)
			w = (w & ~HRPC_GFS_O_ACCMODE) | O_RDWR;
		w &= ~HRPC_GFS_O_APPEND;
	}
	return w;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrpc_gfs_open_req r = { .node = gnode_of(ino), .flags = wire_open_flags(fi->flags) };
	bool preread = (r.flags & (HRPC_GFS_O_ACCMODE | HRPC_GFS_O_TRUNC)) == 0 &&
		       !(fi->flags & O_DIRECT) && !__atomic_load_n(&gm.no_open_read, __ATOMIC_RELAXED);
	struct hrpc_gfs_open_read_rep orr = { 0 };
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = preread ? HRPC_GFS_OPEN_READ : HRPC_GFS_OPEN,
		.req = &r, .req_len = sizeof(r), .rep = &orr,
		.rep_cap = preread ? sizeof(orr) : sizeof(struct hrpc_gfs_fh_rep),
	};
	struct itab_node *n = node_of(ino);
	uint32_t wgen = n ? __atomic_load_n(&n->wgen, __ATOMIC_RELAXED) : 0;
	uint8_t *pre = NULL;
	struct hfile *hf;
	char err[256];
	int rc;

	cred_set(req);
	if (!r.node) {
		reply_err(req, -ESTALE);
		return;
	}
	if (gm.ro && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
		reply_err(req, -EROFS);
		return;
	}
	if (preread && !(pre = malloc(PREREAD)))
		preread = false;
	if (preread) {
		c.bulk_in = pre;
		c.bulk_in_cap = PREREAD;
	} else {
		c.proc = HRPC_GFS_OPEN;
		c.rep_cap = sizeof(struct hrpc_gfs_fh_rep);
	}
	rc = scall(&c);
	if (rc == -ENOSYS && preread) {
		/* An older agent: plain OPEN from now on. */
		__atomic_store_n(&gm.no_open_read, true, __ATOMIC_RELAXED);
		preread = false;
		free(pre);
		pre = NULL;
		c.proc = HRPC_GFS_OPEN;
		c.rep_cap = sizeof(struct hrpc_gfs_fh_rep);
		c.bulk_in = NULL;
		c.bulk_in_cap = 0;
		rc = scall(&c);
	}
	if (rc == 0)
		rc = refused(gfs_open_reply_check(c.rep_len, c.rep_cap, preread, &orr, c.bulk_in_len,
						  PREREAD, err, sizeof(err)), err);
	if (rc < 0) {
		free(pre);
		reply_err(req, rc);
		return;
	}
	hf = hfile_new(orr.fh);
	if (!hf) {
		struct hrpc_gfs_fh_req rr = { .fh = orr.fh };

		free(pre);
		gsend(HRPC_GFS_RELEASE, &rr, sizeof(rr));
		reply_err(req, -ENOMEM);
		return;
	}
	if (preread) {
		hf->pre = pre;
		hf->pre_len = orr.size;
		hf->pre_eof = orr.eof;
		hf->wgen = wgen;
	}
	fi->fh = (uintptr_t)hf;
	fi->keep_cache = gm.keep_cache;
	fi->direct_io = !!(fi->flags & O_DIRECT);
	if (fuse_reply_open(req, fi) != 0) {
		struct hrpc_gfs_fh_req rr = { .fh = orr.fh };

		gsend(HRPC_GFS_RELEASE, &rr, sizeof(rr));
		hfile_free(hf);
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct hrpc_gfs_make_req r = { .parent = gnode_of(parent) };
	struct hrpc_gfs_create_rep cr;
	struct fuse_entry_param ep;
	struct hfile *hf;
	struct itab_node *n;
	int rc = name_ok(name);

	cred_set(req);
	if (rc == 0 && !r.parent)
		rc = -ESTALE;
	if (rc == 0 && gm.ro)
		rc = -EROFS;
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	r.mode = mode & 07777;
	r.umask = fuse_req_ctx(req)->umask;
	r.flags = wire_open_flags(fi->flags) | ((uint32_t)fi->flags & HRPC_GFS_O_EXCL);
	name_put(&r.name, name);
	rc = gcall_fixed(HRPC_GFS_CREATE, &r, sizeof(r), &cr, sizeof(cr));
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	hf = hfile_new(cr.fh);
	n = hf ? node_take(&cr.entry, r.parent, true, &rc) : NULL;
	if (!n) {
		struct hrpc_gfs_fh_req rr = { .fh = cr.fh };

		gsend(HRPC_GFS_RELEASE, &rr, sizeof(rr));
		if (hf)
			hfile_free(hf);
		reply_err(req, hf ? rc : -ENOMEM);
		return;
	}
	__atomic_add_fetch(&n->wgen, 1, __ATOMIC_RELAXED);
	fi->fh = (uintptr_t)hf;
	fi->keep_cache = gm.keep_cache;
	fill_entry(&ep, n, &cr.entry.attr);
	fuse_reply_create(req, &ep, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct hfile *hf = (struct hfile *)(uintptr_t)fi->fh;
	struct hrpc_gfs_io_req r = { .fh = hf->gfh };
	struct hrpc_gfs_io_rep ir = { 0 };
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = HRPC_GFS_READ,
		.req = &r, .req_len = sizeof(r), .rep = &ir, .rep_cap = sizeof(ir),
	};
	size_t have = 0;
	uint8_t *pre, *buf;
	char err[256];
	int rc;

	cred_set(req);
	if (size > IO_MAX)
		size = IO_MAX;
	if (off < 0) {
		reply_err(req, -EINVAL);
		return;
	}
	if (size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	/* The bytes OPEN_READ brought: used once (the kernel caches what it
	 * read), and only if nothing was written through us since. */
	pthread_mutex_lock(&hf->lock);
	pre = hf->pre;
	hf->pre = NULL;
	pthread_mutex_unlock(&hf->lock);
	if (pre) {
		struct itab_node *n = node_of(ino);

		if (n && __atomic_load_n(&n->wgen, __ATOMIC_RELAXED) == hf->wgen &&
		    (uint64_t)off <= hf->pre_len) {
			have = hf->pre_len - (size_t)off < size ? hf->pre_len - (size_t)off : size;
			memcpy(buf, pre + off, have);
			if (have == size || hf->pre_eof) {
				free(pre);
				fuse_reply_buf(req, (const char *)buf, have);
				free(buf);
				return;
			}
		}
		free(pre);
	}
	/* A short reply means end of file to the kernel: fetch the rest. */
	r.offset = (uint64_t)off + have;
	r.size = (uint32_t)(size - have);
	c.bulk_in = buf + have;
	c.bulk_in_cap = r.size;
	rc = scall(&c);
	if (rc == 0)
		rc = refused(gfs_read_reply_check(c.rep_len, &ir, r.size, c.bulk_in_len,
						  err, sizeof(err)), err);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_buf(req, (const char *)buf, have + ir.size);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct hfile *hf = (struct hfile *)(uintptr_t)fi->fh;
	struct hrpc_gfs_io_req r = { .fh = hf->gfh, .offset = (uint64_t)off };
	struct hrpc_gfs_io_rep ir;
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = HRPC_GFS_WRITE,
		.req = &r, .req_len = sizeof(r), .rep = &ir, .rep_cap = sizeof(ir),
		.bulk_out = data,
	};
	char err[256];
	int rc;

	cred_set(req);
	if (size > IO_MAX || off < 0) {
		reply_err(req, -EINVAL);
		return;
	}
	r.size = (uint32_t)size;
	c.bulk_out_len = (uint32_t)size;
	node_changed(ino);
	rc = scall(&c);
	if (rc == 0)
		rc = refused(gfs_write_reply_check(c.rep_len, &ir, size, err, sizeof(err)), err);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_write(req, ir.size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* Writes go through at once: nothing is buffered here. */
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hfile *hf = (struct hfile *)(uintptr_t)fi->fh;
	struct hrpc_gfs_fh_req r = { .fh = hf->gfh };

	cred_none();
	gsend(HRPC_GFS_RELEASE, &r, sizeof(r));
	hfile_free(hf);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct hfile *hf = (struct hfile *)(uintptr_t)fi->fh;
	struct hrpc_gfs_fh_req r = { .fh = hf->gfh, .flags = datasync ? HRPC_GFS_FSYNC_DATASYNC : 0 };

	cred_set(req);
	reply_err(req, gcall(HRPC_GFS_FSYNC, &r, sizeof(r), NULL, 0, NULL));
}

/* ---- directories ---------------------------------------------------------------- */

static void dir_clear(struct hdir *d)
{
	struct hrpc_gfs_forget_item *it = calloc(d->n ? d->n : 1, sizeof(*it));
	uint32_t k = 0;

	pthread_mutex_lock(&gm.itab.lock);
	for (size_t i = 0; i < d->n; i++) {
		struct itab_node *n = d->ents[i].node;

		free(d->ents[i].name);
		if (!n)
			continue;
		n->pins--;
		if (it)
			k += (uint32_t)node_maybe_drop(n, &it[k]);
	}
	pthread_mutex_unlock(&gm.itab.lock);
	if (it) {
		send_forgets(it, k);
		free(it);
	}
	free(d->ents);
	d->ents = NULL;
	d->n = d->cap = 0;
	d->gcookie = 0;
	d->eof = false;
	gfs_cookie_set_clear(&d->seen);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hrpc_gfs_node_req r = { .node = gnode_of(ino) };
	struct hrpc_gfs_fh_rep fr;
	struct hdir *d;
	int rc;

	cred_set(req);
	if (!r.node) {
		reply_err(req, -ESTALE);
		return;
	}
	rc = gcall_fixed(HRPC_GFS_OPENDIR, &r, sizeof(r), &fr, sizeof(fr));
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		struct hrpc_gfs_fh_req rr = { .fh = fr.fh };

		gcall(HRPC_GFS_RELEASEDIR, &rr, sizeof(rr), NULL, 0, NULL);
		reply_err(req, -ENOMEM);
		return;
	}
	d->gfh = fr.fh;
	pthread_mutex_init(&d->lock, NULL);
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) != 0) {
		struct hrpc_gfs_fh_req rr = { .fh = fr.fh };

		gcall(HRPC_GFS_RELEASEDIR, &rr, sizeof(rr), NULL, 0, NULL);
		free(d);
	}
}

/*
 * Fetch the next batch from the guest into d (d->lock held).  Every entry
 * is checked before any is used; a bad batch is refused whole, and the
 * lookups the guest counted for it are given back.
 */
static int dir_fetch(struct hdir *d, uint64_t dir_gnode)
{
	struct hrpc_gfs_readdir_req r = { .fh = d->gfh, .offset = d->gcookie,
					  .flags = d->plus ? HRPC_GFS_READDIR_PLUS : 0 };
	struct hrpc_gfs_readdir_rep rr = { 0 };
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = HRPC_GFS_READDIR,
		.req = &r, .req_len = sizeof(r), .rep = &rr, .rep_cap = sizeof(rr),
		.bulk_in_cap = READDIR_BULK,
	};
	uint8_t *buf = malloc(READDIR_BULK);
	char err[256];
	uint32_t i;
	int rc;

	if (!buf)
		return -ENOMEM;
	c.bulk_in = buf;
	rc = scall(&c);
	if (rc < 0)
		goto out;
	rc = gfs_readdir_frame_check(c.rep_len, &rr, c.bulk_in_len, d->plus, err, sizeof(err));
	if (rc < 0) {
		/* Whatever lookups it counted, we cannot tell which: it may
		 * keep them. */
		rc = refused(rc, err);
		goto out;
	}
	/* A bad batch is refused whole (EIO; the guest's lookups for it are
	 * given back). */
	rc = gfs_readdir_batch_check(buf, &rr, d->plus, r.offset, d->n, gm.max_dir_entries,
				     &d->seen, err, sizeof(err));
	if (rc == -EIO) {
		struct hrpc_gfs_forget_item *it = calloc(rr.count, sizeof(*it));

		rc = violation("%s", err);
		if (it)
			send_forgets(it, gfs_readdir_refs(buf, rr.count, d->plus, it));
		free(it);
		goto out;
	}
	if (rc < 0)
		goto out;
	if (d->n + rr.count > d->cap) {
		size_t ncap = (d->n + rr.count) * 2;
		struct dent *ne = realloc(d->ents, ncap * sizeof(*ne));

		if (!ne) {
			rc = -ENOMEM;
			goto out;
		}
		d->ents = ne;
		d->cap = ncap;
	}
	for (i = 0; i < rr.count; i++) {
		struct hrpc_gfs_dirent_plus dp;
		struct dent *de = &d->ents[d->n];
		int nerr;

		gfs_dirent_get(buf, i, d->plus, &dp);
		d->gcookie = dp.d.off;
		memset(de, 0, sizeof(*de));
		de->gino = dp.d.ino;
		de->type = dp.d.type;
		de->name = strndup(dp.d.name.name, dp.d.name.len);
		if (!de->name) {
			rc = -ENOMEM;
			break;
		}
		if (d->plus && dp.entry.node) {
			de->node = node_take(&dp.entry, dir_gnode, false, &nerr);
			if (!de->node) {
				/* Listed without attributes: the kernel looks it up. */
				free(de->name);
				continue;
			}
			de->attr = dp.entry.attr;
		}
		d->n++;
	}
	d->eof = rr.eof || rr.count == 0;
out:
	free(buf);
	return rc;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct hdir *d = (struct hdir *)(uintptr_t)fi->fh;
	uint64_t dir_gnode = gnode_of(ino);
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	int rc = 0;

	cred_set(req);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off == 0 || !d->started) {
		/* A fresh listing (opendir or rewinddir). */
		dir_clear(d);
		d->plus = plus;
		d->started = true;
	}
	for (size_t i = (size_t)off;; i++) {
		struct dent *de;
		size_t len;

		if (off < 0)
			break;
		if (i >= d->n) {
			if (d->eof)
				break;
			rc = dir_fetch(d, dir_gnode);
			if (rc < 0 || i >= d->n) {
				if (rc == 0 && !d->eof)
					continue;
				break;
			}
		}
		de = &d->ents[i];
		if (plus) {
			struct fuse_entry_param ep = { 0 };

			if (de->node) {
				fill_entry(&ep, de->node, &de->attr);
			} else {
				ep.attr.st_ino = de->gino;
				ep.attr.st_mode = de->type << 12;
			}
			len = fuse_add_direntry_plus(req, buf + used, size - used, de->name, &ep,
						     (off_t)(i + 1));
			if (len > size - used)
				break;
			if (de->node) {
				pthread_mutex_lock(&gm.itab.lock);
				de->node->nlookup++;
				pthread_mutex_unlock(&gm.itab.lock);
			}
		} else {
			struct stat st = { .st_ino = de->node ? de->node->ino : de->gino,
					   .st_mode = de->type << 12 };

			len = fuse_add_direntry(req, buf + used, size - used, de->name, &st,
						(off_t)(i + 1));
			if (len > size - used)
				break;
		}
		used += len;
	}
	pthread_mutex_unlock(&d->lock);
	if (rc < 0 && used == 0)
		reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct hdir *d = (struct hdir *)(uintptr_t)fi->fh;
	struct hrpc_gfs_fh_req r = { .fh = d->gfh };

	cred_none();
	gsend(HRPC_GFS_RELEASEDIR, &r, sizeof(r));
	dir_clear(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct hrpc_gfs_node_req r = { .node = gm.itab.root->gnode };
	struct hrpc_gfs_statfs sf;
	struct statvfs st;
	char err[256];
	int rc;

	cred_set(req);
	rc = gcall_fixed(HRPC_GFS_STATFS, &r, sizeof(r), &sf, sizeof(sf));
	if (rc == 0)
		rc = refused(gfs_statfs_check(&sf, err, sizeof(err)), err);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	gfs_statfs_to_statvfs(&sf, &st);
	fuse_reply_statfs(req, &st);
}

static int xattr_name(struct hrpc_gfs_xattr_req *r, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > HRPC_GFS_NAME_MAX)
		return -ERANGE;
	r->name.len = (uint16_t)len;
	memcpy(r->name.name, name, len);
	return 0;
}

static bool xattr_privileged(const char *name)
{
	return gfs_xattr_privileged(name, gm.allow_suid);
}

static void xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct hrpc_gfs_xattr_req r = { .node = gnode_of(ino) };
	struct hrpc_gfs_xattr_rep xr;
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = name ? HRPC_GFS_GETXATTR : HRPC_GFS_LISTXATTR,
		.req = &r, .req_len = sizeof(r), .rep = &xr, .rep_cap = sizeof(xr),
	};
	char *buf = NULL, err[256];
	int rc = 0;

	cred_set(req);
	if (!r.node)
		rc = -ESTALE;
	if (rc == 0 && name && xattr_privileged(name))
		rc = -ENODATA;
	if (rc == 0 && name)
		rc = xattr_name(&r, name);
	if (size > HRPC_GFS_XATTR_MAX)
		size = HRPC_GFS_XATTR_MAX;
	if (rc == 0 && size && !(buf = malloc(size)))
		rc = -ENOMEM;
	if (rc == 0) {
		r.size = (uint32_t)size;
		c.bulk_in = buf;
		c.bulk_in_cap = (uint32_t)size;
		rc = scall(&c);
	}
	if (rc == 0)
		rc = refused(gfs_xattr_reply_check(c.rep_len, &xr, size, c.bulk_in_len, !name, buf,
						   err, sizeof(err)), err);
	/* (A size query keeps the guest's number: an upper bound is enough.) */
	if (rc == 0 && !name && size)
		xr.size = gfs_xattr_list_filter(buf, xr.size, gm.allow_suid);
	if (rc < 0)
		reply_err(req, rc);
	else if (!size)
		fuse_reply_xattr(req, xr.size);
	else
		fuse_reply_buf(req, buf, xr.size);
	free(buf);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	xattr_get(req, ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_get(req, ino, NULL, size);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct hrpc_gfs_xattr_req r = { .node = gnode_of(ino), .flags = (uint32_t)flags };
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_FS, .proc = HRPC_GFS_SETXATTR,
		.req = &r, .req_len = sizeof(r), .bulk_out = value,
	};
	int rc = r.node ? xattr_name(&r, name) : -ESTALE;

	cred_set(req);
	if (rc == 0 && (size > HRPC_GFS_XATTR_MAX || (flags & ~3)))
		rc = size > HRPC_GFS_XATTR_MAX ? -E2BIG : -EINVAL;
	if (rc == 0 && gm.ro)
		rc = -EROFS;
	if (rc == 0) {
		r.size = (uint32_t)size;
		c.bulk_out_len = (uint32_t)size;
		rc = scall(&c);
	}
	reply_err(req, rc);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct hrpc_gfs_xattr_req r = { .node = gnode_of(ino) };
	int rc = r.node ? xattr_name(&r, name) : -ESTALE;

	cred_set(req);
	if (rc == 0 && gm.ro)
		rc = -EROFS;
	if (rc == 0)
		rc = gcall(HRPC_GFS_REMOVEXATTR, &r, sizeof(r), NULL, 0, NULL);
	reply_err(req, rc);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct hfile *hf = (struct hfile *)(uintptr_t)fi->fh;
	struct hrpc_gfs_fallocate_req r = { .fh = hf->gfh, .offset = (uint64_t)offset,
					    .length = (uint64_t)length, .mode = (uint32_t)mode };

	cred_set(req);
	if (offset < 0 || length <= 0 || (mode & ~3)) {
		reply_err(req, mode & ~3 ? -EOPNOTSUPP : -EINVAL);
		return;
	}
	node_changed(ino);
	reply_err(req, gcall(HRPC_GFS_FALLOCATE, &r, sizeof(r), NULL, 0, NULL));
}

/* Only without -o default_permissions does the kernel ask: the guest
 * answers for the caller (access(2), chdir).  An agent without ACCESS says
 * ENOSYS, and the kernel then stops asking (and allows, as before). */
static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct hrpc_gfs_access_req r = { .node = gnode_of(ino) };
	int rc;

	cred_set(req);
	if (!r.node) {
		reply_err(req, -ESTALE);
		return;
	}
	r.mask = (uint32_t)mask & (HRPC_GFS_ACCESS_R | HRPC_GFS_ACCESS_W | HRPC_GFS_ACCESS_X);
	rc = gcall(HRPC_GFS_ACCESS, &r, sizeof(r), NULL, 0, NULL);
	if (rc == -ENOSYS)
		fuse_reply_err(req, ENOSYS);   /* as it says: the kernel stops asking */
	else
		reply_err(req, rc);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.access = op_access,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.fallocate = op_fallocate,
};

/* ---- main ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hostrpc-guestmount [options] DOMAIN|SOCKET GUEST_PATH MOUNTPOINT\n"
		"Mount GUEST_PATH, served by the guest agent guestrpcd, at MOUNTPOINT (FUSE).\n"
		"DOMAIN is a libvirt domain whose <channel type='unix'> is named\n"
		"org.hostrpc.guest.N, or xen:NAME / xen:ID, a Xen domain whose guestrpcd\n"
		"runs with --vchan (from dom0); SOCKET is a channel's unix socket path.\n"
		"  -c URI            libvirt URI (default $LIBVIRT_DEFAULT_URI or qemu:///system)\n"
		"  -r, --ro          read-only (the guest agent refuses every change too)\n"
		"  -o OPT[,OPT...]   FUSE mount options (allow_other, default_permissions, ...);\n"
		"                    the mount is always nosuid,nodev: -o suid / -o dev are\n"
		"                    refused, see --allow-suid / --allow-dev\n"
		"  --allow-suid      trust the guest's setuid/setgid bits: report them and mount\n"
		"                    with suid (anyone who can run a file from the mount can then\n"
		"                    become any user the guest names, root included)\n"
		"  --allow-dev       trust the guest's device nodes: report their numbers and\n"
		"                    mount with dev (they open the HOST's devices)\n"
		"  --max-dir-entries=N  longest directory listing accepted (default 1048576);\n"
		"                    a longer one fails with EIO\n"
		"  --ids=POLICY      who a host caller is in the guest: passthrough (default,\n"
		"                    the same ids) | squash:UID:GID (every caller is UID:GID,\n"
		"                    no supplementary groups) | map:HOST:GUEST:COUNT (host ids\n"
		"                    HOST.. are GUEST.., others are 65534; the guest's ids are\n"
		"                    shown back the same way)\n"
		"  --cache=MODE      none | auto (default: 1 s attribute/entry cache) |\n"
		"                    always (60 s, keep page cache across opens: the guest's own\n"
		"                    processes must not change the tree meanwhile)\n"
		"  --attr-timeout=SEC, --entry-timeout=SEC, --negative-timeout=SEC\n"
		"                    how long the kernel may trust attributes, names and\n"
		"                    absent names (0..86400, fractions allowed); default: the\n"
		"                    --cache mode's\n"
		"  --writeback       kernel writeback cache (faster small writes)\n"
		"  --timeout=SEC     fail a call the guest does not answer in SEC (default 30);\n"
		"                    the mount then answers ENOTCONN until unmounted\n"
		"  -f                stay in the foreground      -d  FUSE debug output\n"
		"  -s                single-threaded\n"
		"  -h, --help        this help\n");
}

/*
 * The operator's -o options, split as libfuse splits them (',' separates,
 * '\' escapes the next character): suid and dev are refused - they need
 * --allow-suid / --allow-dev, which say what they cost.
 */
static int opts_check(const char *opts)
{
	size_t len = strlen(opts);
	char *tok = malloc(len + 1);
	const char *p = opts;

	if (!tok)
		return -ENOMEM;
	for (;;) {
		size_t k = 0;

		while (*p && *p != ',') {
			if (*p == '\\' && p[1])
				p++;
			tok[k++] = *p++;
		}
		tok[k] = 0;
		if ((!strcmp(tok, "suid") && !gm.allow_suid) || (!strcmp(tok, "dev") && !gm.allow_dev)) {
			fprintf(stderr, "hostrpc-guestmount: -o %s: refused; the mount is nosuid,nodev "
				"unless you give --allow-%s\n", tok, tok);
			free(tok);
			return -EPERM;
		}
		if (!*p++)
			break;
	}
	free(tok);
	return 0;
}

/*
 * The -o string for libfuse.  Only the label (DOMAIN or SOCKET, and
 * GUEST_PATH: anything the caller or a domain's name says) goes in as a
 * value, and it is escaped with libfuse's own fuse_opt_add_opt_escaped():
 * a ',' in it cannot end the fsname and start an option.  nosuid,nodev
 * come last, so nothing before them can undo them.  NULL: out of memory.
 */
static char *mount_opts(const char *user_opts)
{
	char *fsname = g_strdup_printf("fsname=hostrpc:%s", gm.label);
	char *o = NULL;
	int rc;

	rc = fuse_opt_add_opt_escaped(&o, fsname);
	g_free(fsname);
	if (rc == 0)
		rc = fuse_opt_add_opt(&o, "subtype=hostrpc");
	if (rc == 0 && gm.ro)
		rc = fuse_opt_add_opt(&o, "ro");
	/* Already split and checked by opts_check(): the operator's own. */
	if (rc == 0 && user_opts)
		rc = fuse_opt_add_opt(&o, user_opts);
	if (rc == 0)
		rc = fuse_opt_add_opt(&o, gm.allow_suid ? "suid" : "nosuid");
	if (rc == 0)
		rc = fuse_opt_add_opt(&o, gm.allow_dev ? "dev" : "nodev");
	if (rc != 0) {
		free(o);
		return NULL;
	}
	return o;
}

/* Report start-up success or failure to the waiting parent (daemon mode). */
static int ready_fd = -1;

__attribute__((format(printf, 2, 3)))
static int fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, msg, strlen(msg));
		close(ready_fd);
		ready_fd = -1;
	} else {
		fprintf(stderr, "hostrpc-guestmount: %s\n", msg);
	}
	return code;
}

static int daemonize(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char msg[1024];
		ssize_t n;

		close(p[1]);
		n = read(p[0], msg, sizeof(msg) - 1);
		if (n > 0) {
			msg[n] = 0;
			fprintf(stderr, "hostrpc-guestmount: %s\n", msg);
			_exit(1);
		}
		/* End of file without a message: mounted. */
		_exit(0);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "ro", no_argument, NULL, 'r' },
		{ "cache", required_argument, NULL, 'C' },
		{ "writeback", no_argument, NULL, 'W' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "allow-suid", no_argument, NULL, 'S' },
		{ "allow-dev", no_argument, NULL, 'D' },
		{ "max-dir-entries", required_argument, NULL, 'N' },
		{ "ids", required_argument, NULL, 'I' },
		{ "attr-timeout", required_argument, NULL, 'A' },
		{ "entry-timeout", required_argument, NULL, 'E' },
		{ "negative-timeout", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	const char *uri = NULL, *cache = "auto", *target, *gpath, *mnt;
	char *err = NULL, *fuse_opts = NULL, verr[256];
	struct hrpc_gfs_mount_req *mr;
	struct hrpc_gfs_entry root;
	struct fuse_session *se;
	int foreground = 0, debug = 0, single = 0, timeout_s = 30, opt, rc;
	double timeouts[3] = { -1, -1, -1 };   /* --attr/entry/negative-timeout */

	while ((opt = getopt_long(argc, argv, "c:ro:fdsh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c': uri = optarg; break;
		case 'r': gm.ro = true; break;
		case 'o':
			fuse_opts = fuse_opts ? g_strconcat(fuse_opts, ",", optarg, NULL) : g_strdup(optarg);
			break;
		case 'C': cache = optarg; break;
		case 'W': gm.writeback = true; break;
		case 'T': timeout_s = atoi(optarg); break;
		case 'S': gm.allow_suid = true; break;
		case 'D': gm.allow_dev = true; break;
		case 'I':
			if (hrpc_idmap_parse(optarg, &gm.ids, verr, sizeof(verr)) < 0) {
				fprintf(stderr, "hostrpc-guestmount: --ids %s\n", verr);
				return 2;
			}
			break;
		case 'A':
		case 'E':
		case 'G': {
			char *end;
			double v = strtod(optarg, &end);

			/* NaN fails both comparisons: refused too. */
			if (end == optarg || *end || !(v >= 0 && v <= 86400)) {
				fprintf(stderr, "hostrpc-guestmount: --%s wants seconds, 0..86400\n",
					opt == 'A' ? "attr-timeout" : opt == 'E' ? "entry-timeout" :
					"negative-timeout");
				return 2;
			}
			timeouts[opt == 'A' ? 0 : opt == 'E' ? 1 : 2] = v;
			break;
		}
		case 'N': {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 0);

			if (*end || !v || v > (1ull << 30)) {
				fprintf(stderr, "hostrpc-guestmount: --max-dir-entries wants 1..%llu\n",
					1ull << 30);
				return 2;
			}
			gm.max_dir_entries = (size_t)v;
			break;
		}
		case 'f': foreground = 1; break;
		case 'd': debug = 1; foreground = 1; break;
		case 's': single = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	if (timeout_s <= 0 || timeout_s > 86400) {
		fprintf(stderr, "hostrpc-guestmount: --timeout wants 1..86400 seconds\n");
		return 2;
	}
	if (!gm.max_dir_entries)
		gm.max_dir_entries = MAX_DIR_ENTRIES;
	if (fuse_opts && (rc = opts_check(fuse_opts)) < 0)
		return 2;
	target = argv[optind];
	gpath = argv[optind + 1];
	mnt = argv[optind + 2];
	if (!strcmp(cache, "none")) {
		gm.attr_timeout = gm.entry_timeout = gm.negative_timeout = 0;
	} else if (!strcmp(cache, "auto")) {
		gm.attr_timeout = gm.entry_timeout = 1.0;
		gm.negative_timeout = 0;
	} else if (!strcmp(cache, "always")) {
		gm.attr_timeout = gm.entry_timeout = gm.negative_timeout = 60.0;
		gm.keep_cache = true;
	} else {
		fprintf(stderr, "hostrpc-guestmount: --cache=none|auto|always\n");
		return 2;
	}
	/* The cache mode's values, unless said otherwise. */
	if (timeouts[0] >= 0)
		gm.attr_timeout = timeouts[0];
	if (timeouts[1] >= 0)
		gm.entry_timeout = timeouts[1];
	if (timeouts[2] >= 0)
		gm.negative_timeout = timeouts[2];
	if (gpath[0] != '/' || strlen(gpath) >= HRPC_GFS_PATH_MAX) {
		fprintf(stderr, "hostrpc-guestmount: GUEST_PATH must be an absolute path\n");
		return 2;
	}
	if (!foreground && daemonize() < 0) {
		perror("hostrpc-guestmount: fork");
		return 1;
	}
	snprintf(gm.label, sizeof(gm.label), "%s:%s", target, gpath);

	rc = guestrpc_session_open(target, uri, 10000, &gm.s, &err);
	if (rc < 0)
		return fail(1, "%s", err ? err : strerror(-rc));
	guestrpc_session_set_timeout(gm.s, timeout_s * 1000, true);
	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return fail(1, "out of memory");
	mr->flags = gm.ro ? HRPC_GFS_MOUNT_F_RDONLY : 0;
	mr->path_len = (uint16_t)strlen(gpath);
	memcpy(mr->path, gpath, mr->path_len);
	rc = gcall_fixed(HRPC_GFS_MOUNT, mr, sizeof(*mr), &root, sizeof(root));
	free(mr);
	if (rc == 0)
		rc = refused(gfs_mount_root_check(&root, verr, sizeof(verr)), verr);
	if (rc == -EINVAL || rc == -EPROTONOSUPPORT)
		return fail(1, "guest %s: cannot serve %s: %s (an older guestrpcd, "
			    "whose calls do not carry the caller's credentials? update the guest "
			    "agent)", target, gpath, strerror(errno_out(rc)));
	if (rc < 0)
		return fail(1, "guest %s: cannot serve %s: %s", target, gpath, strerror(errno_out(rc)));

	if (itab_init(&gm.itab, root.node, FUSE_ROOT_ID) < 0)
		return fail(1, "out of memory");

	fuse_opt_add_arg(&args, argv[0]);
	{
		char *o = mount_opts(fuse_opts);

		if (!o)
			return fail(1, "out of memory");
		fuse_opt_add_arg(&args, "-o");
		fuse_opt_add_arg(&args, o);
		free(o);
	}
	if (debug)
		fuse_opt_add_arg(&args, "-d");
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		return fail(1, "cannot start a FUSE session (bad -o option?)");
	if (fuse_set_signal_handlers(se) != 0)
		return fail(1, "cannot set signal handlers");
	if (fuse_session_mount(se, mnt) != 0)
		return fail(1, "cannot mount on %s", mnt);
	if (ready_fd >= 0) {
		int nul = open("/dev/null", O_RDWR);

		close(ready_fd);
		ready_fd = -1;
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
			if (nul > 2)
				close(nul);
		}
		(void)!chdir("/");
	}
	if (single) {
		rc = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();

		fuse_loop_cfg_set_max_threads(lc, 16);
		fuse_loop_cfg_set_idle_threads(lc, 8);
		rc = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	fuse_session_unmount(se);
	/* Only the first 20 are logged one by one: the total tells an
	 * operator (and the tests) how hostile the guest was. */
	if (gm.violations)
		logmsg("%s: %d guest protocol violations, each refused with EIO", gm.label,
		       __atomic_load_n(&gm.violations, __ATOMIC_RELAXED));
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	guestrpc_session_free(gm.s);
	return rc ? 1 : 0;
}
