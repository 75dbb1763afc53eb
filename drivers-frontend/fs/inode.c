// SPDX-License-Identifier: GPL-2.0
/*
 * inode.c - inodes keyed by the host's node handle, their attributes, the
 * dentry cache's timeouts, and the inode operations of directories,
 * regular files, symlinks and special files.
 *
 * Lookup counts: every reply entry the host sends (LOOKUP, MKNOD, MKDIR,
 * SYMLINK, LINK, CREATE, READDIRPLUS) counts one lookup of its node.
 * hfs_iget() moves that count into the inode (hfs_inode.nlookup) or, when
 * it cannot, gives it back with hfs_forget() itself; evict_inode gives
 * back the sum.  So every reply entry is consumed exactly once.
 *
 * Attributes: the host's word, checked (hfs_attr_check()), valid for the
 * mount's attr_timeout.  While the page cache holds dirty or in-flight
 * pages, the guest's i_size and mtime are newer than the host's and are
 * kept; attr_version (bumped on every local change of size or data) makes
 * a GETATTR that raced with such a change keep the local size too.  A
 * changed size or mtime of a clean regular file drops its cached pages.
 *
 * Dentries: valid for entry_timeout (d_time, jiffies); an expired positive
 * dentry is looked up again (a different node: invalid), an expired
 * negative one is simply invalid.  INVAL events expire both early.
 */
#include <linux/slab.h>
#include <linux/pagemap.h>
#include <linux/namei.h>
#include <linux/xattr.h>
#include <linux/uidgid.h>

#include "hfs.h"

static struct kmem_cache *hfs_inode_cachep;

int hfs_inode_test(struct inode *inode, void *data)
{
	return HFS_I(inode)->node == *(u64 *)data;
}

static int hfs_inode_set(struct inode *inode, void *data)
{
	HFS_I(inode)->node = *(u64 *)data;
	return 0;
}

struct inode *hfs_alloc_inode(struct super_block *sb)
{
	struct hfs_inode *hi = alloc_inode_sb(sb, hfs_inode_cachep, GFP_KERNEL);

	if (!hi)
		return NULL;
	hi->node = 0;
	spin_lock_init(&hi->lock);
	hi->nlookup = 0;
	hi->attr_expire = jiffies;
	hi->attr_version = 1;
	INIT_LIST_HEAD(&hi->fhs);
	mutex_init(&hi->io_mutex);
	return &hi->vfs;
}

void hfs_free_inode(struct inode *inode)
{
	kmem_cache_free(hfs_inode_cachep, HFS_I(inode));
}

/* May sleep (a full FORGET batch is sent at once). */
void hfs_evict_inode(struct inode *inode)
{
	struct hfs_inode *hi = HFS_I(inode);
	u64 n;

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	WARN_ON_ONCE(!list_empty(&hi->fhs));
	spin_lock(&hi->lock);
	n = hi->nlookup;
	hi->nlookup = 0;
	spin_unlock(&hi->lock);
	hfs_forget(HFS_SB(inode->i_sb), hi->node, n);
}

static void inode_cache_ctor(void *p)
{
	struct hfs_inode *hi = p;

	inode_init_once(&hi->vfs);
}

int hfs_inode_cache_init(void)
{
	hfs_inode_cachep = kmem_cache_create("hostrpcfs_inode", sizeof(struct hfs_inode), 0,
					     SLAB_RECLAIM_ACCOUNT | SLAB_MEM_SPREAD | SLAB_ACCOUNT,
					     inode_cache_ctor);
	return hfs_inode_cachep ? 0 : -ENOMEM;
}

void hfs_inode_cache_fini(void)
{
	rcu_barrier();	/* free_inode runs after an RCU grace period */
	kmem_cache_destroy(hfs_inode_cachep);
}

/* ---- attributes ------------------------------------------------------------ */

void hfs_attr_expire(struct inode *inode)
{
	WRITE_ONCE(HFS_I(inode)->attr_expire, jiffies);
}

/* The guest changed size or data: attributes the host sent before are stale. */
void hfs_attr_changed(struct inode *inode)
{
	struct hfs_inode *hi = HFS_I(inode);

	spin_lock(&hi->lock);
	hi->attr_version++;
	spin_unlock(&hi->lock);
}

static bool attr_valid(struct inode *inode)
{
	return time_before(jiffies, READ_ONCE(HFS_I(inode)->attr_expire));
}

/**
 * hfs_attr_apply() - take attributes the host sent
 * @inode: the inode (its type must be @a's: callers check)
 * @a: checked attributes
 * @version: attr_version read before the call that returned @a, or 0
 *           (the reply of a call that itself changed the node)
 *
 * May drop the page cache (sleeps); call with no page locked.
 */
void hfs_attr_apply(struct inode *inode, const struct hrpc_gfs_attr *a, u64 version)
{
	struct hfs_inode *hi = HFS_I(inode);
	struct timespec64 mtime = { .tv_sec = (s64)a->mtime, .tv_nsec = a->mtime_nsec };
	bool reg = S_ISREG(inode->i_mode), keep, inval = false;
	u32 mode = a->mode & 07777;

	/* nosuid, enforced: the guest never honours set-id bits of a host file
	 * (exec reads i_mode), whatever the host sends. */
	if (reg) {
		mode &= ~S_ISUID;
		if (mode & S_IXGRP)
			mode &= ~S_ISGID;
	}
	spin_lock(&hi->lock);
	keep = (version && version != hi->attr_version) ||
	       (reg && (mapping_tagged(inode->i_mapping, PAGECACHE_TAG_DIRTY) ||
			mapping_tagged(inode->i_mapping, PAGECACHE_TAG_WRITEBACK)));
	inode->i_mode = (inode->i_mode & S_IFMT) | mode;
	inode->i_uid = make_kuid(&init_user_ns, a->uid);
	inode->i_gid = make_kgid(&init_user_ns, a->gid);
	set_nlink(inode, a->nlink);
	inode->i_atime.tv_sec = (s64)a->atime;
	inode->i_atime.tv_nsec = a->atime_nsec;
	inode->i_ctime.tv_sec = (s64)a->ctime;
	inode->i_ctime.tv_nsec = a->ctime_nsec;
	inode->i_blocks = a->blocks;
	if (!keep) {
		if (reg && (i_size_read(inode) != (loff_t)a->size ||
			    !timespec64_equal(&inode->i_mtime, &mtime)))
			inval = true;
		i_size_write(inode, (loff_t)a->size);
		inode->i_mtime = mtime;
	}
	WRITE_ONCE(hi->attr_expire, jiffies + HFS_SB(inode->i_sb)->attr_jiffies);
	spin_unlock(&hi->lock);
	/* Someone else changed the file: what we cached is old.  Dirty pages
	 * are skipped (-EBUSY), never lost. */
	if (inval && inode->i_mapping->nrpages)
		invalidate_inode_pages2(inode->i_mapping);
}

/**
 * hfs_attr_refresh() - GETATTR if the attributes expired (or @force)
 * Return: 0 or -errno.  Sleeps.
 */
int hfs_attr_refresh(struct inode *inode, bool force)
{
	struct hfs_inode *hi = HFS_I(inode);
	struct hrpc_gfs_node_req r = { .node = hi->node };
	struct hrpc_gfs_attr a;
	u64 ver;
	int ret;

	if (!force && attr_valid(inode))
		return 0;
	spin_lock(&hi->lock);
	ver = hi->attr_version;
	spin_unlock(&hi->lock);
	ret = hfs_call(HFS_SB(inode->i_sb), &(struct hfs_args){
		.proc = HRPC_GFS_GETATTR, .in = &r, .in_len = sizeof(r),
		.out = &a, .out_len = sizeof(a),
	});
	if (ret)
		return ret;
	if (hfs_attr_check(&a) || ((a.mode ^ inode->i_mode) & S_IFMT)) {
		pr_warn_ratelimited(HFS_NAME ": bogus attributes for node %llx\n", hi->node);
		return -EIO;
	}
	hfs_attr_apply(inode, &a, ver);
	return 0;
}

/* ---- inodes ------------------------------------------------------------------- */

static const struct inode_operations hfs_file_iops;
static const struct inode_operations hfs_symlink_iops;
static const struct inode_operations hfs_special_iops;

void hfs_inode_init_ops(struct inode *inode)
{
	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &hfs_file_iops;
		inode->i_fop = &hfs_file_fops;
		inode->i_mapping->a_ops = &hfs_aops;
		break;
	case S_IFDIR:
		inode->i_op = &hfs_dir_iops;
		inode->i_fop = &hfs_dir_fops;
		break;
	case S_IFLNK:
		inode->i_op = &hfs_symlink_iops;
		inode_nohighmem(inode);
		break;
	default:
		inode->i_op = &hfs_special_iops;
		init_special_inode(inode, inode->i_mode, inode->i_rdev);
		break;
	}
}

/**
 * hfs_iget() - the inode of a reply entry; consumes the entry's lookup
 * @sb: the mount
 * @e: the entry (checked here)
 *
 * Return: a referenced inode, or ERR_PTR (the lookup was given back).
 */
struct inode *hfs_iget(struct super_block *sb, const struct hrpc_gfs_entry *e)
{
	struct hfs_sb *fs = HFS_SB(sb);
	struct inode *inode;
	struct hfs_inode *hi;
	u64 node = e->node;

	if (hfs_entry_check(e)) {
		pr_warn_ratelimited(HFS_NAME ": bogus entry for node %llx\n", node);
		hfs_forget(fs, node, 1);
		return ERR_PTR(-EIO);
	}
	inode = iget5_locked(sb, (unsigned long)node, hfs_inode_test, hfs_inode_set, &node);
	if (!inode) {
		hfs_forget(fs, node, 1);
		return ERR_PTR(-ENOMEM);
	}
	hi = HFS_I(inode);
	if (inode->i_state & I_NEW) {
		inode->i_mode = e->attr.mode & S_IFMT;
		inode->i_ino = e->attr.ino ?: (unsigned long)node;
		inode->i_rdev = new_decode_dev(e->attr.rdev);
		hi->nlookup = 1;
		/* atime is the host's business (its reads update it). */
		inode->i_flags |= S_NOATIME;
		hfs_inode_init_ops(inode);
		hfs_attr_apply(inode, &e->attr, 0);
		unlock_new_inode(inode);
		return inode;
	}
	if ((inode->i_mode ^ e->attr.mode) & S_IFMT) {
		/* The same live handle with another type: the host is wrong. */
		pr_warn_ratelimited(HFS_NAME ": node %llx changed its type\n", node);
		iput(inode);
		hfs_forget(fs, node, 1);
		return ERR_PTR(-EIO);
	}
	spin_lock(&hi->lock);
	hi->nlookup++;
	spin_unlock(&hi->lock);
	hfs_attr_apply(inode, &e->attr, 0);
	return inode;
}

/* ---- dentries ------------------------------------------------------------------- */

void hfs_dentry_set_time(struct dentry *dentry)
{
	WRITE_ONCE(dentry->d_time, jiffies + HFS_SB(dentry->d_sb)->entry_jiffies);
}

void hfs_dentry_expire(struct dentry *dentry)
{
	WRITE_ONCE(dentry->d_time, jiffies);
}

static bool dentry_valid(const struct dentry *dentry)
{
	return time_before(jiffies, READ_ONCE(dentry->d_time));
}

static int do_lookup(struct inode *dir, const struct qstr *name, struct hrpc_gfs_entry *e)
{
	struct hrpc_gfs_dir_name_req r = { .parent = hfs_node(dir) };
	int ret = hfs_name_set(&r.name, name);

	if (ret)
		return ret;
	return hfs_call(HFS_SB(dir->i_sb), &(struct hfs_args){
		.proc = HRPC_GFS_LOOKUP, .in = &r, .in_len = sizeof(r),
		.out = e, .out_len = sizeof(*e),
	});
}

static int hfs_d_revalidate(struct dentry *dentry, unsigned int flags)
{
	struct name_snapshot name;
	struct hrpc_gfs_entry e;
	struct dentry *parent;
	struct inode *inode;
	struct hfs_inode *hi;
	int ret;

	if (dentry_valid(dentry))
		return 1;
	inode = d_inode_rcu(dentry);
	if (!inode)
		return 0;	/* an expired negative dentry: look again */
	if (flags & LOOKUP_RCU)
		return -ECHILD;
	hi = HFS_I(inode);
	parent = dget_parent(dentry);
	take_dentry_name_snapshot(&name, dentry);
	ret = do_lookup(d_inode(parent), &name.name, &e);
	release_dentry_name_snapshot(&name);
	dput(parent);
	if (ret == -ENOENT || ret == -ESTALE || ret == -ENOTDIR)
		return 0;
	if (ret)
		return ret;
	if (e.node != hi->node || hfs_entry_check(&e) ||
	    ((e.attr.mode ^ inode->i_mode) & S_IFMT)) {
		hfs_forget(HFS_SB(dentry->d_sb), e.node, 1);
		return 0;
	}
	spin_lock(&hi->lock);
	hi->nlookup++;
	spin_unlock(&hi->lock);
	hfs_attr_apply(inode, &e.attr, 0);
	hfs_dentry_set_time(dentry);
	return 1;
}

const struct dentry_operations hfs_dentry_ops = {
	.d_revalidate = hfs_d_revalidate,
};

/* ---- directory operations ---------------------------------------------------------- */

static struct dentry *hfs_lookup(struct inode *dir, struct dentry *dentry, unsigned int flags)
{
	struct hrpc_gfs_entry e;
	struct inode *inode = NULL;
	struct dentry *res;
	int ret;

	if (dentry->d_name.len > HRPC_GFS_NAME_MAX)
		return ERR_PTR(-ENAMETOOLONG);
	ret = do_lookup(dir, &dentry->d_name, &e);
	if (ret && ret != -ENOENT)
		return ERR_PTR(ret);
	if (!ret) {
		inode = hfs_iget(dir->i_sb, &e);
		if (IS_ERR(inode))
			return ERR_CAST(inode);
	}
	hfs_dentry_set_time(dentry);
	res = d_splice_alias(inode, dentry);
	if (!IS_ERR_OR_NULL(res))
		hfs_dentry_set_time(res);
	return res;
}

/* A new entry in @dir: instantiate @dentry with the reply's node. */
static int make_finish(struct inode *dir, struct dentry *dentry, const struct hrpc_gfs_entry *e)
{
	struct inode *inode = hfs_iget(dir->i_sb, e);

	if (IS_ERR(inode))
		return PTR_ERR(inode);
	d_instantiate(dentry, inode);
	hfs_dentry_set_time(dentry);
	hfs_attr_expire(dir);
	return 0;
}

static int do_make(struct inode *dir, struct dentry *dentry, u16 proc, umode_t mode, dev_t rdev)
{
	struct hrpc_gfs_make_req r = {
		.parent = hfs_node(dir),
		/* The VFS applied the umask already (no POSIX ACLs here). */
		.mode = proc == HRPC_GFS_MKNOD ? mode : (mode & 07777),
		.umask = 0,
		.rdev = new_encode_dev(rdev),
	};
	struct hrpc_gfs_entry e;
	int ret = hfs_name_set(&r.name, &dentry->d_name);

	if (ret)
		return ret;
	ret = hfs_call(HFS_SB(dir->i_sb), &(struct hfs_args){
		.proc = proc, .in = &r, .in_len = sizeof(r), .out = &e, .out_len = sizeof(e),
	});
	if (ret)
		return ret;
	if (((e.attr.mode & S_IFMT) != (proc == HRPC_GFS_MKDIR ? S_IFDIR : (mode & S_IFMT)))) {
		hfs_forget(HFS_SB(dir->i_sb), e.node, 1);
		return -EIO;
	}
	return make_finish(dir, dentry, &e);
}

static int hfs_mknod(struct user_namespace *ns, struct inode *dir, struct dentry *dentry,
		     umode_t mode, dev_t rdev)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK:
		break;
	default:
		return -EINVAL;
	}
	return do_make(dir, dentry, HRPC_GFS_MKNOD, mode, rdev);
}

static int hfs_mkdir(struct user_namespace *ns, struct inode *dir, struct dentry *dentry,
		     umode_t mode)
{
	return do_make(dir, dentry, HRPC_GFS_MKDIR, mode | S_IFDIR, 0);
}

static int hfs_create(struct user_namespace *ns, struct inode *dir, struct dentry *dentry,
		      umode_t mode, bool excl)
{
	/* Only without atomic_open (mknod(S_IFREG) style callers). */
	return do_make(dir, dentry, HRPC_GFS_MKNOD, (mode & 07777) | S_IFREG, 0);
}



static int hfs_atomic_open(struct inode *dir, struct dentry *dentry, struct file *file,
			   unsigned int flags, umode_t mode)
{
	struct hfs_sb *fs = HFS_SB(dir->i_sb);
	struct hrpc_gfs_make_req r = { .parent = hfs_node(dir), .mode = mode & 07777 };
	struct hrpc_gfs_create_rep rep;
	struct dentry *res = NULL;
	struct inode *inode;
	fmode_t fmode;
	u32 want;
	int ret;

	if (d_in_lookup(dentry)) {
		res = hfs_lookup(dir, dentry, 0);
		if (IS_ERR(res))
			return PTR_ERR(res);
		if (res)
			dentry = res;
	}
	if (!(flags & O_CREAT) || d_really_is_positive(dentry))
		return finish_no_open(file, res);

	ret = hfs_name_set(&r.name, &dentry->d_name);
	if (ret)
		goto out;
	want = flags & O_ACCMODE;
	/* Writers get a readable handle too (a partial page write reads the
	 * page first); a just-created file may be opened so whatever its mode. */
	r.flags = (want == O_WRONLY ? O_RDWR : want) | (flags & O_EXCL) |
		  (flags & O_NOATIME);
	ret = hfs_call(fs, &(struct hfs_args){
		.proc = HRPC_GFS_CREATE, .in = &r, .in_len = sizeof(r),
		.out = &rep, .out_len = sizeof(rep),
	});
	if (ret == -EACCES && want == O_WRONLY) {
		r.flags = (r.flags & ~O_ACCMODE) | O_WRONLY;
		ret = hfs_call(fs, &(struct hfs_args){
			.proc = HRPC_GFS_CREATE, .in = &r, .in_len = sizeof(r),
			.out = &rep, .out_len = sizeof(rep),
		});
	}
	if (ret)
		goto out;
	fmode = (r.flags & O_ACCMODE) == O_RDONLY ? FMODE_READ :
		(r.flags & O_ACCMODE) == O_WRONLY ? FMODE_WRITE : FMODE_READ | FMODE_WRITE;
	if (!rep.fh || (rep.entry.attr.mode & S_IFMT) != S_IFREG) {
		hfs_forget(fs, rep.entry.node, 1);
		ret = -EIO;
		goto release;
	}
	inode = hfs_iget(dir->i_sb, &rep.entry);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto release;
	}
	d_instantiate(dentry, inode);
	hfs_dentry_set_time(dentry);
	hfs_attr_expire(dir);
	file->f_mode |= FMODE_CREATED;
	ret = finish_open(file, dentry, hfs_open_created);
	if (ret)
		goto release;
	ret = hfs_file_attach(file, rep.fh, fmode);
	if (ret)
		goto release;	/* the file's ->release sees no fh */
	dput(res);
	return 0;

release:
	if (rep.fh) {
		struct hrpc_gfs_fh_req q = { .fh = rep.fh };

		hfs_call(fs, &(struct hfs_args){
			.proc = HRPC_GFS_RELEASE, .nocred = true, .oneway = true, .in = &q, .in_len = sizeof(q),
		});
	}
out:
	dput(res);
	return ret;
}

static int hfs_symlink(struct user_namespace *ns, struct inode *dir, struct dentry *dentry,
		       const char *target)
{
	struct hrpc_gfs_symlink_req *r;
	struct hrpc_gfs_entry e;
	size_t len = strlen(target);
	int ret;

	if (!len || len >= HRPC_GFS_PATH_MAX)
		return -ENAMETOOLONG;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->parent = hfs_node(dir);
	r->target_len = len;
	memcpy(r->target, target, len);
	ret = hfs_name_set(&r->name, &dentry->d_name);
	if (!ret)
		ret = hfs_call(HFS_SB(dir->i_sb), &(struct hfs_args){
			.proc = HRPC_GFS_SYMLINK, .in = r, .in_len = sizeof(*r),
			.out = &e, .out_len = sizeof(e),
		});
	kfree(r);
	if (ret)
		return ret;
	if ((e.attr.mode & S_IFMT) != S_IFLNK) {
		hfs_forget(HFS_SB(dir->i_sb), e.node, 1);
		return -EIO;
	}
	return make_finish(dir, dentry, &e);
}

static int hfs_link(struct dentry *old, struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = d_inode(old);
	struct hrpc_gfs_link_req r = { .node = hfs_node(inode), .newparent = hfs_node(dir) };
	struct hrpc_gfs_entry e;
	int ret = hfs_name_set(&r.newname, &dentry->d_name);

	if (ret)
		return ret;
	ret = hfs_call(HFS_SB(dir->i_sb), &(struct hfs_args){
		.proc = HRPC_GFS_LINK, .in = &r, .in_len = sizeof(r), .out = &e, .out_len = sizeof(e),
	});
	if (ret)
		return ret;
	if (e.node != r.node) {
		/* A link is the same node; anything else is the host's error. */
		hfs_forget(HFS_SB(dir->i_sb), e.node, 1);
		return -EIO;
	}
	return make_finish(dir, dentry, &e);
}

static int do_remove(struct inode *dir, struct dentry *dentry, u16 proc)
{
	struct hrpc_gfs_dir_name_req r = { .parent = hfs_node(dir) };
	struct inode *inode = d_inode(dentry);
	int ret = hfs_name_set(&r.name, &dentry->d_name);

	if (ret)
		return ret;
	ret = hfs_call(HFS_SB(dir->i_sb), &(struct hfs_args){
		.proc = proc, .in = &r, .in_len = sizeof(r),
	});
	if (ret)
		return ret;
	hfs_attr_expire(dir);
	if (inode) {
		/* One name less: an unlinked inode is evicted (and forgotten)
		 * with its last reference, an open file keeps reading. */
		if (proc == HRPC_GFS_RMDIR)
			clear_nlink(inode);
		else if (inode->i_nlink)
			drop_nlink(inode);
		hfs_attr_expire(inode);
	}
	return 0;
}

static int hfs_unlink(struct inode *dir, struct dentry *dentry)
{
	return do_remove(dir, dentry, HRPC_GFS_UNLINK);
}

static int hfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	return do_remove(dir, dentry, HRPC_GFS_RMDIR);
}

static int hfs_rename(struct user_namespace *ns, struct inode *olddir, struct dentry *old,
		      struct inode *newdir, struct dentry *new, unsigned int flags)
{
	struct hrpc_gfs_rename_req *r;
	struct inode *target = d_inode(new);
	int ret;

	/* Whiteouts are for overlayfs' upper layer; not served. */
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->olddir = hfs_node(olddir);
	r->newdir = hfs_node(newdir);
	r->flags = (flags & RENAME_NOREPLACE ? HRPC_GFS_RENAME_NOREPLACE : 0) |
		   (flags & RENAME_EXCHANGE ? HRPC_GFS_RENAME_EXCHANGE : 0);
	ret = hfs_name_set(&r->oldname, &old->d_name);
	if (!ret)
		ret = hfs_name_set(&r->newname, &new->d_name);
	if (!ret)
		ret = hfs_call(HFS_SB(olddir->i_sb), &(struct hfs_args){
			.proc = HRPC_GFS_RENAME, .in = r, .in_len = sizeof(*r),
		});
	kfree(r);
	if (ret)
		return ret;
	hfs_attr_expire(olddir);
	hfs_attr_expire(newdir);
	hfs_attr_expire(d_inode(old));
	if (target && !(flags & RENAME_EXCHANGE)) {
		/* Replaced: one name less (open files keep their data). */
		if (S_ISDIR(target->i_mode))
			clear_nlink(target);
		else if (target->i_nlink)
			drop_nlink(target);
	}
	if (target)
		hfs_attr_expire(target);
	return 0;
}

/* ---- attributes from the VFS ------------------------------------------------------ */

static int hfs_permission(struct user_namespace *ns, struct inode *inode, int mask)
{
	int ret;

	if (!attr_valid(inode)) {
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;
		ret = hfs_attr_refresh(inode, false);
		if (ret)
			return ret;
	}
	return generic_permission(ns, inode, mask);
}

static int hfs_getattr(struct user_namespace *ns, const struct path *path, struct kstat *stat,
		       u32 mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	int ret = 0;

	if (flags & AT_STATX_FORCE_SYNC)
		ret = hfs_attr_refresh(inode, true);
	else if (!(flags & AT_STATX_DONT_SYNC))
		ret = hfs_attr_refresh(inode, false);
	if (ret)
		return ret;
	generic_fillattr(ns, inode, stat);
	return 0;
}

int hfs_setattr(struct user_namespace *ns, struct dentry *dentry, struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	struct hfs_sb *fs = HFS_SB(inode->i_sb);
	struct hrpc_gfs_setattr_req r = { .node = hfs_node(inode) };
	unsigned int v = attr->ia_valid;
	struct hrpc_gfs_attr a;
	int ret;

	ret = setattr_prepare(ns, dentry, attr);
	if (ret)
		return ret;
	if ((v & ATTR_FILE) && S_ISREG(inode->i_mode))
		r.fh = hfs_file_fh(attr->ia_file);
	if (v & ATTR_MODE) {
		r.valid |= HRPC_GFS_SET_MODE;
		r.mode = attr->ia_mode & 07777;
	}
	if (v & ATTR_UID) {
		r.valid |= HRPC_GFS_SET_UID;
		r.uid = from_kuid(&init_user_ns, attr->ia_uid);
	}
	if (v & ATTR_GID) {
		r.valid |= HRPC_GFS_SET_GID;
		r.gid = from_kgid(&init_user_ns, attr->ia_gid);
	}
	if (v & ATTR_SIZE) {
		if (!S_ISREG(inode->i_mode))
			return -EINVAL;
		r.valid |= HRPC_GFS_SET_SIZE;
		r.size = attr->ia_size;
	}
	if (v & ATTR_ATIME) {
		if (v & ATTR_ATIME_SET) {
			r.valid |= HRPC_GFS_SET_ATIME;
			r.atime = attr->ia_atime.tv_sec;
			r.atime_nsec = attr->ia_atime.tv_nsec;
		} else {
			r.valid |= HRPC_GFS_SET_ATIME_NOW;
		}
	}
	if (v & ATTR_MTIME) {
		if (v & ATTR_MTIME_SET) {
			r.valid |= HRPC_GFS_SET_MTIME;
			r.mtime = attr->ia_mtime.tv_sec;
			r.mtime_nsec = attr->ia_mtime.tv_nsec;
		} else {
			r.valid |= HRPC_GFS_SET_MTIME_NOW;
		}
	}
	if (!r.valid)
		return hfs_attr_refresh(inode, true);	/* ctime only: the host's */

	if (v & ATTR_SIZE) {
		/* Dirty pages first, so none lands past the new end later. */
		inode_dio_wait(inode);
		ret = filemap_write_and_wait(inode->i_mapping);
		if (ret)
			return ret;
	}
	ret = hfs_call(fs, &(struct hfs_args){
		.proc = HRPC_GFS_SETATTR, .in = &r, .in_len = sizeof(r),
		.out = &a, .out_len = sizeof(a),
	});
	if (ret)
		return ret;
	if (hfs_attr_check(&a) || ((a.mode ^ inode->i_mode) & S_IFMT))
		return -EIO;
	if (v & ATTR_SIZE) {
		hfs_attr_changed(inode);
		truncate_setsize(inode, attr->ia_size);
	}
	hfs_attr_apply(inode, &a, 0);
	return 0;
}

/* ---- symlinks ------------------------------------------------------------------------ */

static const char *hfs_get_link(struct dentry *dentry, struct inode *inode,
				struct delayed_call *done)
{
	struct hrpc_gfs_node_req r = { .node = hfs_node(inode) };
	struct hfs_args a = {
		.proc = HRPC_GFS_READLINK, .in = &r, .in_len = sizeof(r),
		.out_len = HRPC_GFS_PATH_MAX - 1, .out_var = true,
	};
	char *buf;
	int ret;

	if (!dentry)
		return ERR_PTR(-ECHILD);
	buf = kmalloc(HRPC_GFS_PATH_MAX, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	a.out = buf;
	ret = hfs_call(HFS_SB(inode->i_sb), &a);
	if (!ret && (!a.rep_len || memchr(buf, '\0', a.rep_len)))
		ret = -EIO;	/* a target is 1.. bytes without NUL */
	if (ret) {
		kfree(buf);
		return ERR_PTR(ret);
	}
	buf[a.rep_len] = '\0';
	set_delayed_call(done, kfree_link, buf);
	return buf;
}

/* ---- tables ---------------------------------------------------------------------------- */

const struct inode_operations hfs_dir_iops = {
	.lookup = hfs_lookup,
	.create = hfs_create,
	.atomic_open = hfs_atomic_open,
	.mknod = hfs_mknod,
	.mkdir = hfs_mkdir,
	.rmdir = hfs_rmdir,
	.unlink = hfs_unlink,
	.symlink = hfs_symlink,
	.link = hfs_link,
	.rename = hfs_rename,
	.permission = hfs_permission,
	.getattr = hfs_getattr,
	.setattr = hfs_setattr,
	.listxattr = hfs_listxattr,
};

static const struct inode_operations hfs_file_iops = {
	.permission = hfs_permission,
	.getattr = hfs_getattr,
	.setattr = hfs_setattr,
	.listxattr = hfs_listxattr,
};

static const struct inode_operations hfs_symlink_iops = {
	.get_link = hfs_get_link,
	.getattr = hfs_getattr,
	.setattr = hfs_setattr,
	.listxattr = hfs_listxattr,
};

static const struct inode_operations hfs_special_iops = {
	.permission = hfs_permission,
	.getattr = hfs_getattr,
	.setattr = hfs_setattr,
	.listxattr = hfs_listxattr,
};
