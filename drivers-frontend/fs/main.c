// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - hostrpcfs.ko: a directory of the host mounted in the guest,
 * served by the guest's hostrpcd worker (service 17, HRPC_SVC_FS, protocol
 * include/hostrpc/guestfs.h).
 *
 *   mount -t hostrpcfs EXPORT[/SUBDIR] /mnt [-o ro,attr_timeout=S,entry_timeout=S]
 *
 * A mount is one super_block with its own channel reference (the first
 * hostrpc_core channel), its own INVAL subscription and its own root node
 * from MOUNT.  nodev and nosuid are the file system's own rule
 * (SB_I_NODEV; set-id bits and security.capability never reach exec).
 *
 * Channel resets: the host's handle table went with its worker, so every
 * mount on that channel becomes dead (hfs_sb.dead): calls fail -EIO at
 * once, nothing is sent for its nodes again, and umount works.
 *
 * INVAL events arrive in atomic context with the channel lock held: they
 * are copied to the mount's queue and applied by its work item.
 */
#include <linux/module.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/pagemap.h>
#include <linux/backing-dev.h>
#include <linux/delay.h>
#include <linux/sched/signal.h>

#include "hfs.h"

#define HFS_MAGIC        0x48525046u    /* "HRPF" */
#define HFS_ATTACH_WAIT  (10 * 1000)    /* ms a mount waits for the channel */
#define HFS_INVAL_QUEUE  4096u          /* events queued per mount at most */
#define HFS_TIMEOUT_MAX  86400u         /* seconds */

unsigned int hfs_io_kb = 1024;
module_param_named(io_kb, hfs_io_kb, uint, 0644);
MODULE_PARM_DESC(io_kb, "bytes per READ/WRITE call, KiB (4..1024; default 1024)");

unsigned int hfs_call_timeout_s = 60;
module_param_named(call_timeout, hfs_call_timeout_s, uint, 0644);
unsigned int hfs_poll_us = 100;
module_param_named(poll_us, hfs_poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us, "microseconds a call spins for its reply before it sleeps (0: never)");
MODULE_PARM_DESC(call_timeout, "seconds a call waits for its reply before EIO (default 60)");

bool hfs_readdirplus = true;
module_param_named(readdirplus, hfs_readdirplus, bool, 0644);
MODULE_PARM_DESC(readdirplus, "READDIR with nodes and attributes (default 1)");

static LIST_HEAD(hfs_mounts);           /* every hfs_sb with a channel */
static DEFINE_SPINLOCK(hfs_mounts_lock);

/* ---- INVAL events ------------------------------------------------------------ */

struct hfs_inval {
	struct list_head link;
	struct hrpc_gfs_inval_event ev;
};

/* Atomic context, channel lock held: copy and queue, nothing else. */
static void hfs_event(void *ctx, u16 service, u16 event, const void *payload, u32 len)
{
	struct hfs_sb *fs = ctx;
	struct hfs_inval *iv;
	unsigned long flags;

	if (event != HRPC_GFS_EVT_INVAL || len != sizeof(iv->ev))
		return;
	spin_lock_irqsave(&fs->inval_lock, flags);
	if (fs->shutting_down) {
		spin_unlock_irqrestore(&fs->inval_lock, flags);
		return;
	}
	/* Node 0: the host lost track (its inotify queue overflowed). */
	iv = fs->ninval < HFS_INVAL_QUEUE && ((const struct hrpc_gfs_inval_event *)payload)->node ?
		kmalloc(sizeof(*iv), GFP_ATOMIC) : NULL;
	if (iv) {
		memcpy(&iv->ev, payload, sizeof(iv->ev));
		list_add_tail(&iv->link, &fs->inval_list);
		fs->ninval++;
	} else {
		/* Node 0 (everything), a burst or no memory: expire
		 * everything instead. */
		fs->inval_all = true;
	}
	queue_work(system_wq, &fs->inval_work);
	spin_unlock_irqrestore(&fs->inval_lock, flags);
}

static void inval_apply(struct hfs_sb *fs, const struct hrpc_gfs_inval_event *ev)
{
	struct inode *inode;
	u64 node = ev->node;

	if (ev->reserved || !ev->what ||
	    (ev->what & ~(HRPC_GFS_INVAL_ATTR | HRPC_GFS_INVAL_DATA | HRPC_GFS_INVAL_ENTRY)))
		return;
	/* A node we do not have (forgotten, or never seen): nothing cached. */
	inode = ilookup5(fs->sb, (unsigned long)node, hfs_inode_test, &node);
	if (!inode)
		return;
	hfs_attr_expire(inode);
	if ((ev->what & HRPC_GFS_INVAL_DATA) && S_ISREG(inode->i_mode)) {
		/* Ours first (dirty pages stay: -EBUSY), then drop the rest. */
		filemap_fdatawrite(inode->i_mapping);
		invalidate_inode_pages2(inode->i_mapping);
	}
	if ((ev->what & HRPC_GFS_INVAL_ENTRY) && S_ISDIR(inode->i_mode) &&
	    !hrpc_gfs_name_check(&ev->name)) {
		struct qstr q = QSTR_INIT(ev->name.name, ev->name.len);
		struct dentry *dir = d_find_alias(inode), *child;

		if (dir) {
			child = d_hash_and_lookup(dir, &q);
			if (!IS_ERR_OR_NULL(child)) {
				/* Looked up again on next use (a replaced name
				 * is then a different node: invalid). */
				hfs_dentry_expire(child);
				if (d_really_is_positive(child))
					hfs_attr_expire(d_inode(child));
				dput(child);
			}
			dput(dir);
		}
	}
	iput(inode);
}

static void hfs_inval_work_fn(struct work_struct *w)
{
	struct hfs_sb *fs = container_of(w, struct hfs_sb, inval_work);
	struct hfs_inval *iv, *tmp;
	struct inode *inode;
	LIST_HEAD(list);
	bool all;

	spin_lock_irq(&fs->inval_lock);
	list_splice_init(&fs->inval_list, &list);
	fs->ninval = 0;
	all = fs->inval_all;
	fs->inval_all = false;
	spin_unlock_irq(&fs->inval_lock);
	if (all) {
		/* Every attribute expires (a changed size or mtime then drops
		 * a file's pages), every unused dentry goes. */
		spin_lock(&fs->sb->s_inode_list_lock);
		list_for_each_entry(inode, &fs->sb->s_inodes, i_sb_list)
			hfs_attr_expire(inode);
		spin_unlock(&fs->sb->s_inode_list_lock);
		shrink_dcache_sb(fs->sb);
	}
	list_for_each_entry_safe(iv, tmp, &list, link) {
		inval_apply(fs, &iv->ev);
		list_del(&iv->link);
		kfree(iv);
	}
}

/* ---- channel notifier ------------------------------------------------------------- */

static int hfs_notify(struct notifier_block *nb, unsigned long ev, void *data)
{
	struct hrpck_chan *chan = data;
	struct hfs_sb *fs;

	if (ev != HRPCK_CHAN_DETACHED && ev != HRPCK_CHAN_REMOVED)
		return NOTIFY_OK;
	spin_lock(&hfs_mounts_lock);
	list_for_each_entry(fs, &hfs_mounts, link) {
		if (fs->chan == chan && !atomic_xchg(&fs->dead, 1))
			pr_warn(HFS_NAME ": %s: the host side was reset; its files fail with EIO until umount\n",
				fs->source);
	}
	spin_unlock(&hfs_mounts_lock);
	return NOTIFY_OK;
}

static struct notifier_block hfs_nb = { .notifier_call = hfs_notify };

/* ---- super_block --------------------------------------------------------------------- */

static int hfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct hrpc_gfs_node_req r = { .node = hfs_node(d_inode(dentry)) };
	struct hrpc_gfs_statfs s;
	int ret;

	ret = hfs_call(HFS_SB(dentry->d_sb), &(struct hfs_args){
		.proc = HRPC_GFS_STATFS, .in = &r, .in_len = sizeof(r), .out = &s, .out_len = sizeof(s),
	});
	if (ret)
		return ret;
	buf->f_type = HFS_MAGIC;
	buf->f_bsize = s.bsize;
	buf->f_frsize = s.frsize ?: s.bsize;
	buf->f_blocks = s.blocks;
	buf->f_bfree = min(s.bfree, s.blocks);
	buf->f_bavail = min(s.bavail, s.blocks);
	buf->f_files = s.files;
	buf->f_ffree = min(s.ffree, s.files);
	buf->f_namelen = min_t(u32, s.namemax, HRPC_GFS_NAME_MAX);
	return 0;
}

static int hfs_show_options(struct seq_file *m, struct dentry *root)
{
	struct hfs_sb *fs = HFS_SB(root->d_sb);

	/* Enforced by the file system whatever mount(8) was told. */
	seq_puts(m, ",nosuid,nodev");
	seq_printf(m, ",attr_timeout=%u,entry_timeout=%u", fs->attr_timeout_s, fs->entry_timeout_s);
	return 0;
}

static const struct super_operations hfs_sops = {
	.alloc_inode = hfs_alloc_inode,
	.free_inode = hfs_free_inode,
	.evict_inode = hfs_evict_inode,
	.statfs = hfs_statfs,
	.show_options = hfs_show_options,
};

struct hfs_fc {
	u32 attr_timeout, entry_timeout;
};

enum { OPT_ATTR_TIMEOUT, OPT_ENTRY_TIMEOUT };

static const struct fs_parameter_spec hfs_params[] = {
	fsparam_u32("attr_timeout", OPT_ATTR_TIMEOUT),
	fsparam_u32("entry_timeout", OPT_ENTRY_TIMEOUT),
	{}
};

static int hfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct hfs_fc *ctx = fc->fs_private;
	struct fs_parse_result res;
	int opt;

	opt = fs_parse(fc, hfs_params, param, &res);
	if (opt < 0)
		return opt;	/* -ENOPARAM: "source" and the VFS's own */
	if (res.uint_32 > HFS_TIMEOUT_MAX)
		return invalfc(fc, "%s is 0..%u seconds", param->key, HFS_TIMEOUT_MAX);
	if (opt == OPT_ATTR_TIMEOUT)
		ctx->attr_timeout = res.uint_32;
	else
		ctx->entry_timeout = res.uint_32;
	return 0;
}

/* MOUNT "/" + source: the root node. */
static int hfs_mount_root(struct hfs_sb *fs, const char *source, struct hrpc_gfs_entry *e)
{
	struct hrpc_gfs_mount_req *r;
	size_t len = strlen(source);
	bool slash = source[0] == '/';
	int ret;

	if (!len || len + !slash >= HRPC_GFS_PATH_MAX)
		return -ENAMETOOLONG;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->flags = fs->rdonly ? HRPC_GFS_MOUNT_F_RDONLY : 0;
	r->path[0] = '/';
	memcpy(r->path + !slash, source, len);
	r->path_len = len + !slash;
	ret = hfs_call(fs, &(struct hfs_args){
		.proc = HRPC_GFS_MOUNT, .in = r, .in_len = sizeof(*r), .out = e, .out_len = sizeof(*e),
	});
	kfree(r);
	return ret;
}

static int hfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct hfs_fc *ctx = fc->fs_private;
	struct hrpc_gfs_entry e;
	struct inode *root;
	struct hfs_sb *fs;
	int ret, i;

	if (!fc->source || !*fc->source)
		return invalfc(fc, "no source: mount -t hostrpcfs EXPORT[/SUBDIR] DIR");
	fs = kzalloc(sizeof(*fs), GFP_KERNEL);
	if (!fs)
		return -ENOMEM;
	sb->s_fs_info = fs;
	fs->sb = sb;
	spin_lock_init(&fs->forget_lock);
	mutex_init(&fs->forget_mutex);
	INIT_DELAYED_WORK(&fs->forget_work, hfs_forget_work_fn);
	spin_lock_init(&fs->inval_lock);
	INIT_LIST_HEAD(&fs->inval_list);
	INIT_WORK(&fs->inval_work, hfs_inval_work_fn);
	INIT_LIST_HEAD(&fs->link);
	fs->forgets = kmalloc_array(HRPC_GFS_FORGET_MAX, sizeof(*fs->forgets), GFP_KERNEL);
	fs->source = kstrdup(fc->source, GFP_KERNEL);
	if (!fs->forgets || !fs->source)
		return -ENOMEM;
	fs->rdonly = fc->sb_flags & SB_RDONLY;
	fs->attr_timeout_s = ctx->attr_timeout;
	fs->entry_timeout_s = ctx->entry_timeout;
	fs->attr_jiffies = (unsigned long)ctx->attr_timeout * HZ;
	fs->entry_jiffies = (unsigned long)ctx->entry_timeout * HZ;

	sb->s_magic = HFS_MAGIC;
	sb->s_op = &hfs_sops;
	sb->s_d_op = &hfs_dentry_ops;
	sb->s_xattr = hfs_xattr_handlers;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_flags |= SB_NOSUID | SB_NODEV;
	sb->s_iflags |= SB_I_NODEV;
	/* A bdi of its own: writeback of dirty pages, readahead window. */
	ret = super_setup_bdi(sb);
	if (ret)
		return ret;
	sb->s_bdi->ra_pages = (min_t(u32, hfs_io_kb, 1024) * 1024) / PAGE_SIZE;
	sb->s_bdi->io_pages = sb->s_bdi->ra_pages;

	fs->chan = hrpck_chan_get(0);
	if (!fs->chan)
		return invalfc(fc, "no hostrpc channel (hostrpc_core loaded? an ivshmem device?)");
	for (i = 0; i < HFS_ATTACH_WAIT / 50 && !hrpck_chan_attached(fs->chan); i++)
		if (msleep_interruptible(50) || signal_pending(current))
			return -EINTR;
	if (!hrpck_chan_attached(fs->chan))
		return invalfc(fc, "the hostrpc channel is not attached (no host?)");
	fs->sub.service = HRPC_SVC_FS;
	fs->sub.fn = hfs_event;
	fs->sub.ctx = fs;
	ret = hrpck_event_subscribe(fs->chan, &fs->sub);
	if (ret)
		return ret;
	fs->subscribed = true;
	spin_lock(&hfs_mounts_lock);
	list_add_tail(&fs->link, &hfs_mounts);
	spin_unlock(&hfs_mounts_lock);

	ret = hfs_mount_root(fs, fc->source, &e);
	if (ret == -EBUSY && fs->rdonly) {
		/* The host fixes one mode per export and guest at the first
		 * MOUNT: a read-only mount beside a writable one is refused.
		 * The guest's VFS enforces this one (SB_RDONLY, and remount
		 * cannot lift it: hfs_reconfigure()). */
		pr_info(HFS_NAME ": %s: read-only enforced by the guest (the host has it writable)\n",
			fc->source);
		fs->rdonly = false;
		ret = hfs_mount_root(fs, fc->source, &e);
		fs->rdonly = true;
	}
	if (ret) {
		errorf(fc, "hostrpcfs: the host refused MOUNT of %s: %d", fc->source, ret);
		return ret;
	}
	if ((e.attr.mode & S_IFMT) != S_IFDIR) {
		hfs_forget(fs, e.node, 1);
		return invalfc(fc, "the host's root is not a directory");
	}
	root = hfs_iget(sb, &e);
	if (IS_ERR(root))
		return PTR_ERR(root);
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;
	return 0;
}

static int hfs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, hfs_fill_super);
}

static void hfs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

/* remount: new timeouts; read-only stays what MOUNT told the host. */
static int hfs_reconfigure(struct fs_context *fc)
{
	struct super_block *sb = fc->root->d_sb;
	struct hfs_sb *fs = HFS_SB(sb);
	struct hfs_fc *ctx = fc->fs_private;

	if ((fc->sb_flags ^ sb->s_flags) & SB_RDONLY)
		return invalfc(fc, "hostrpcfs cannot switch between ro and rw: umount and mount");
	fs->attr_timeout_s = ctx->attr_timeout;
	fs->entry_timeout_s = ctx->entry_timeout;
	WRITE_ONCE(fs->attr_jiffies, (unsigned long)ctx->attr_timeout * HZ);
	WRITE_ONCE(fs->entry_jiffies, (unsigned long)ctx->entry_timeout * HZ);
	return 0;
}

static const struct fs_context_operations hfs_context_ops = {
	.free = hfs_free_fc,
	.parse_param = hfs_parse_param,
	.get_tree = hfs_get_tree,
	.reconfigure = hfs_reconfigure,
};

static int hfs_init_fs_context(struct fs_context *fc)
{
	struct hfs_fc *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	ctx->attr_timeout = 1;
	ctx->entry_timeout = 1;
	if (fc->purpose == FS_CONTEXT_FOR_RECONFIGURE) {
		/* remount: what is not given stays as it is */
		ctx->attr_timeout = HFS_SB(fc->root->d_sb)->attr_timeout_s;
		ctx->entry_timeout = HFS_SB(fc->root->d_sb)->entry_timeout_s;
	}
	fc->fs_private = ctx;
	fc->ops = &hfs_context_ops;
	/* Asked for as superblock flags too (the kernel shows mount flags
	 * only from mount(8); hfs enforces both itself, see the top). */
	fc->sb_flags |= SB_NOSUID | SB_NODEV;
	return 0;
}

/*
 * Also the unwind of a failed fill_super: every step tolerates what was
 * never built.  Order: no more events, no more queued work, the VFS drops
 * every inode (each evict queues its FORGET), the last FORGET batch, then
 * the channel.
 */
static void hfs_kill_sb(struct super_block *sb)
{
	struct hfs_sb *fs = HFS_SB(sb);
	struct hfs_inval *iv, *tmp;

	if (fs) {
		spin_lock_irq(&fs->inval_lock);
		fs->shutting_down = true;
		spin_unlock_irq(&fs->inval_lock);
		if (fs->subscribed)
			hrpck_event_unsubscribe(fs->chan, &fs->sub);
		fs->subscribed = false;
		cancel_work_sync(&fs->inval_work);
		list_for_each_entry_safe(iv, tmp, &fs->inval_list, link) {
			list_del(&iv->link);
			kfree(iv);
		}
	}
	kill_anon_super(sb);
	if (!fs)
		return;
	cancel_delayed_work_sync(&fs->forget_work);
	if (fs->forgets)
		hfs_forget_flush(fs);
	spin_lock(&hfs_mounts_lock);
	list_del_init(&fs->link);
	spin_unlock(&hfs_mounts_lock);
	if (fs->chan)
		hrpck_chan_put(fs->chan);
	kfree(fs->forgets);
	kfree(fs->source);
	kfree(fs);
}

static struct file_system_type hfs_type = {
	.owner = THIS_MODULE,
	.name = HFS_NAME,
	.init_fs_context = hfs_init_fs_context,
	.parameters = hfs_params,
	.kill_sb = hfs_kill_sb,
};
MODULE_ALIAS_FS(HFS_NAME);

static int __init hfs_init(void)
{
	int ret;

	ret = hfs_inode_cache_init();
	if (ret)
		return ret;
	ret = hrpck_register_notifier(&hfs_nb);
	if (ret)
		goto err_cache;
	ret = register_filesystem(&hfs_type);
	if (ret)
		goto err_notifier;
	pr_info(HFS_NAME ": registered (mount -t hostrpcfs EXPORT[/SUBDIR] DIR)\n");
	return 0;

err_notifier:
	hrpck_unregister_notifier(&hfs_nb);
err_cache:
	hfs_inode_cache_fini();
	return ret;
}

static void __exit hfs_exit(void)
{
	unregister_filesystem(&hfs_type);
	hrpck_unregister_notifier(&hfs_nb);
	hfs_inode_cache_fini();
}

module_init(hfs_init);
module_exit(hfs_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hostrpcfs: a host directory mounted in the guest over hostrpc");
MODULE_SOFTDEP("pre: hostrpc_core");
