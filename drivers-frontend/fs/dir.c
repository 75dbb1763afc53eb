// SPDX-License-Identifier: GPL-2.0
/*
 * dir.c - open directories: OPENDIR, READDIR (PLUS) with the host's
 * cookies as file positions (an entry's `off` is the cookie of the next
 * one), RELEASEDIR.
 *
 * READDIRPLUS entries carry a node and count one lookup each: every one of
 * them is linked into the dcache (an existing dentry of the same node just
 * takes the count) or given back with FORGET, whether or not the caller's
 * buffer had room for it - it comes again with the next getdents and is
 * counted again.  The bulk buffer is shared memory: each entry is copied
 * out before it is checked.
 */
#include <linux/slab.h>
#include <linux/namei.h>
#include <linux/dcache.h>

#include "hfs.h"

#define READDIR_BULK (128u * 1024u)

struct hfs_dir {
	u64 fh;
	struct hfs_sb *fs;
};

static int hfs_opendir(struct inode *inode, struct file *file)
{
	struct hrpc_gfs_node_req r = { .node = hfs_node(inode) };
	struct hfs_sb *fs = HFS_SB(inode->i_sb);
	struct hrpc_gfs_fh_rep o;
	struct hfs_dir *d;
	int ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	ret = hfs_call(fs, &(struct hfs_args){
		.proc = HRPC_GFS_OPENDIR, .in = &r, .in_len = sizeof(r), .out = &o, .out_len = sizeof(o),
	});
	if (!ret && !o.fh)
		ret = -EIO;
	if (ret) {
		kfree(d);
		return ret;
	}
	d->fh = o.fh;
	d->fs = fs;
	file->private_data = d;
	return 0;
}

static int hfs_releasedir(struct inode *inode, struct file *file)
{
	struct hfs_dir *d = file->private_data;
	struct hrpc_gfs_fh_req r;

	if (!d)
		return 0;
	r = (struct hrpc_gfs_fh_req){ .fh = d->fh };
	hfs_call(d->fs, &(struct hfs_args){
		.proc = HRPC_GFS_RELEASEDIR, .nocred = true, .oneway = true, .in = &r, .in_len = sizeof(r),
	});
	kfree(d);
	return 0;
}

/* Take a READDIRPLUS entry's lookup: into the dcache, or FORGET. */
static void plus_link(struct file *file, const struct hrpc_gfs_entry *e,
		      const struct hrpc_gfs_name *n)
{
	struct dentry *parent = file->f_path.dentry;
	struct inode *dir = d_inode(parent);
	struct hfs_sb *fs = HFS_SB(dir->i_sb);
	struct qstr name = QSTR_INIT(n->name, n->len);
	DECLARE_WAIT_QUEUE_HEAD_ONSTACK(wq);
	struct dentry *dentry, *alias;
	struct inode *inode;
	int tries = 0;

	if (hfs_entry_check(e)) {
		hfs_forget(fs, e->node, 1);
		return;
	}
	name.hash = full_name_hash(parent, name.name, name.len);
	dentry = d_lookup(parent, &name);
	for (;;) {
		if (!dentry) {
			dentry = d_alloc_parallel(parent, &name, &wq);
			if (IS_ERR(dentry)) {
				hfs_forget(fs, e->node, 1);
				return;
			}
		}
		if (d_in_lookup(dentry))
			break;
		inode = d_inode(dentry);
		if (inode && hfs_node(inode) == e->node &&
		    !((inode->i_mode ^ e->attr.mode) & S_IFMT)) {
			struct hfs_inode *hi = HFS_I(inode);

			spin_lock(&hi->lock);
			hi->nlookup++;
			spin_unlock(&hi->lock);
			hfs_attr_apply(inode, &e->attr, 0);
			hfs_dentry_set_time(dentry);
			dput(dentry);
			return;
		}
		/* Negative, or another node by that name now: replace it. */
		if (++tries > 2) {
			dput(dentry);
			hfs_forget(fs, e->node, 1);
			return;
		}
		d_invalidate(dentry);
		dput(dentry);
		dentry = NULL;
	}
	inode = hfs_iget(dir->i_sb, e);	/* consumes the lookup either way */
	if (IS_ERR(inode)) {
		d_lookup_done(dentry);
		dput(dentry);
		return;
	}
	alias = d_splice_alias(inode, dentry);
	d_lookup_done(dentry);
	if (IS_ERR(alias)) {
		dput(dentry);
		return;
	}
	if (alias) {
		dput(dentry);
		dentry = alias;
	}
	hfs_dentry_set_time(dentry);
	dput(dentry);
}

static unsigned int dt_type(u32 t)
{
	return t <= DT_WHT ? t : DT_UNKNOWN;
}

static int hfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct hfs_dir *d = file->private_data;
	struct hfs_sb *fs = d->fs;
	bool plus = hfs_readdirplus, over = false;
	u32 esize = plus ? sizeof(struct hrpc_gfs_dirent_plus) : sizeof(struct hrpc_gfs_dirent);
	struct hrpc_gfs_dirent_plus *e;
	struct hrpck_bulk *b;
	int ret = 0;

	e = kmalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	b = hfs_bulk_alloc(fs, READDIR_BULK, PAGE_SIZE);
	if (IS_ERR(b)) {
		kfree(e);
		return PTR_ERR(b);
	}
	while (!over) {
		struct hrpc_gfs_readdir_req r = {
			.fh = d->fh, .offset = ctx->pos, .flags = plus ? HRPC_GFS_READDIR_PLUS : 0,
		};
		struct hrpc_gfs_readdir_rep o;
		struct hfs_args a = {
			.proc = HRPC_GFS_READDIR, .in = &r, .in_len = sizeof(r),
			.out = &o, .out_len = sizeof(o), .bulk = b,
		};
		loff_t before = ctx->pos;
		const u8 *base;
		u32 i;

		ret = hfs_call(fs, &a);
		if (ret)
			break;
		if ((u64)o.count * esize > b->cap || a.rep_bulk_len < o.count * esize ||
		    (u64)a.rep_bulk_pos + a.rep_bulk_len > b->cap) {
			pr_warn_ratelimited(HFS_NAME ": READDIR reply of %u entries in %u bytes\n",
					    o.count, a.rep_bulk_len);
			ret = -EIO;
			break;
		}
		base = (const u8 *)b->ptr + a.rep_bulk_pos;
		for (i = 0; i < o.count; i++) {
			const struct hrpc_gfs_dirent *de = &e->d;
			bool dot;

			memset(e, 0, sizeof(*e));
			memcpy(e, base + (size_t)i * esize, esize);	/* copy, then check */
			dot = hrpc_gfs_name_is_dot(&de->name) && !de->name.reserved[0] &&
			      !de->name.reserved[1] && !de->name.reserved[2];
			if (!dot && hrpc_gfs_name_check(&de->name)) {
				ret = -EIO;
				break;
			}
			if (plus && e->entry.node) {
				if (dot) {
					/* "." and ".." never carry a node. */
					hfs_forget(fs, e->entry.node, 1);
					ret = -EIO;
					break;
				}
				plus_link(file, &e->entry, &de->name);
			}
			if (!over) {
				over = !dir_emit(ctx, de->name.name, de->name.len,
						 de->ino ?: 1, dt_type(de->type));
				if (!over)
					ctx->pos = de->off;
			}
		}
		if (ret || over || o.eof || !o.count)
			break;
		if (ctx->pos == before) {
			ret = -EIO;	/* no progress: the host's cookies loop */
			break;
		}
	}
	hrpck_bulk_put(b);
	kfree(e);
	return ret;
}

const struct file_operations hfs_dir_fops = {
	.llseek = generic_file_llseek,
	.read = generic_read_dir,
	.iterate_shared = hfs_readdir,
	.open = hfs_opendir,
	.release = hfs_releasedir,
	.fsync = noop_fsync,
};
