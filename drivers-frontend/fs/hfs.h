/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hfs.h - private interface of hostrpcfs.ko, a host directory mounted in
 * the guest (service 17, HRPC_SVC_FS, protocol include/hostrpc/guestfs.h).
 *
 *   main.c   module, fs_context (mount options), super_block, channel
 *            notifier, INVAL events (queued to a work item)
 *   call.c   the one way to make a call (credentials first, reply sizes
 *            checked), FORGET batching, bulk buffers
 *   inode.c  inodes keyed by node handle, attributes, dentry revalidation,
 *            the directory/file/symlink inode operations
 *   file.c   open files (fh), page cache I/O, O_DIRECT, fsync, locks
 *   dir.c    OPENDIR/READDIR(PLUS)/RELEASEDIR
 *   xattr.c  the "" xattr handler
 *
 * Error convention: -errno.  Everything the host sends is checked before
 * use; a reply of the wrong size is -EIO.  When the channel resets, the
 * host's handle table is gone: the mount is "dead" and every call fails
 * -EIO at once (hfs_sb.dead) until it is unmounted.
 */
#ifndef HOSTRPC_HFS_H
#define HOSTRPC_HFS_H

#include <linux/fs.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/refcount.h>
#include <linux/cred.h>

#include "hostrpc_core.h"
#include "hostrpc/msg.h"
#include "hostrpc/guestfs.h"

#define HFS_NAME "hostrpcfs"

/* Module parameters (main.c). */
extern unsigned int hfs_io_kb;          /* READ/WRITE bytes per call, KiB */
extern unsigned int hfs_call_timeout_s; /* a call's reply, seconds */
extern unsigned int hfs_poll_us;        /* spin for a reply first, microseconds */
extern bool hfs_readdirplus;

/*
 * One mount.  Lifetime: allocated by fill_super, freed by kill_sb after
 * every inode was evicted and the last FORGET sent.  Holds a reference on
 * its channel for all of that time.
 */
struct hfs_sb {
	struct super_block *sb;
	struct hrpck_chan *chan;
	struct hrpck_event_sub sub;     /* INVAL events of service 17 */
	bool subscribed;
	bool rdonly;
	unsigned long attr_jiffies;     /* attribute timeout */
	unsigned long entry_jiffies;    /* dentry timeout */
	u32 attr_timeout_s, entry_timeout_s;   /* as given, for show_options */
	char *source;                   /* mount source, for show_options */
	atomic_t dead;                  /* the channel reset: handles gone */
	struct list_head link;          /* hfs_mounts, under hfs_mounts_lock */

	/* FORGET batch: evict_inode adds, a full batch is sent at once, a
	 * partial one by forget_work (or at umount).  forget_lock guards the
	 * array; forget_mutex serialises senders so that nothing is sent
	 * after kill_sb's final flush. */
	spinlock_t forget_lock;
	struct mutex forget_mutex;
	struct hrpc_gfs_forget_item *forgets;   /* HRPC_GFS_FORGET_MAX */
	u32 nforget;
	struct delayed_work forget_work;

	/* INVAL events, copied in atomic context, applied by inval_work. */
	spinlock_t inval_lock;
	struct list_head inval_list;
	u32 ninval;
	struct work_struct inval_work;
	bool inval_all;                 /* the queue overflowed: expire everything */
	bool shutting_down;             /* under inval_lock: queue nothing more */
};

/*
 * An open file on the host (OPEN/CREATE's fh).  Refcounted: the struct file
 * holds one, writeback and readpage borrow one while they use it.  The last
 * put sends RELEASE.  Listed on its inode (hfs_inode.fhs) while the struct
 * file is open, so page cache I/O without a file finds a handle.
 */
struct hfs_fh {
	refcount_t ref;
	u64 fh;
	fmode_t mode;                   /* FMODE_READ / FMODE_WRITE */
	const struct cred *cred;        /* the opener's: writeback calls as them */
	struct hfs_sb *fs;
	struct list_head link;          /* hfs_inode.fhs, under hfs_inode.lock */
	bool listed;
};

struct hfs_inode {
	struct inode vfs;
	u64 node;                       /* host handle; never changes */
	spinlock_t lock;                /* nlookup, fhs, attr_expire, attr_version */
	u64 nlookup;                    /* lookups the host counted for us */
	unsigned long attr_expire;      /* jiffies: attributes valid until then */
	u64 attr_version;               /* bumped by local changes of size/data */
	struct list_head fhs;           /* open hfs_fh of this inode */
	struct mutex io_mutex;          /* O_DIRECT vs page cache flush order */
};

static inline struct hfs_inode *HFS_I(struct inode *inode)
{
	return container_of(inode, struct hfs_inode, vfs);
}

static inline struct hfs_sb *HFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline u64 hfs_node(struct inode *inode)
{
	return HFS_I(inode)->node;
}

/* ---- call.c ---- */

/**
 * struct hfs_args - one call
 * @proc: HRPC_GFS_*
 * @cred: credentials to send; NULL: current_cred()
 * @nocred: send uid 0 / gid 0, no groups (FORGET, RELEASE, RELEASEDIR)
 * @in, @in_len: the procedure's struct (after the credentials)
 * @out, @out_len: reply buffer; a successful reply must be exactly @out_len
 *                 bytes unless @out_var (then at most @out_len)
 * @bulk, @bulk_len: bulk buffer and its request bytes
 * @rep_len, @rep_bulk_pos, @rep_bulk_len: out
 */
struct hfs_args {
	u16 proc;
	bool nocred;
	bool oneway;    /* no reply wanted (RELEASE, RELEASEDIR, FORGET): returns once published */
	bool out_var;
	const struct cred *cred;
	const void *in;
	u32 in_len;
	void *out;
	u32 out_len;
	struct hrpck_bulk *bulk;
	u32 bulk_len;
	u32 rep_len;
	u32 rep_bulk_pos;
	u32 rep_bulk_len;
};

int hfs_call(struct hfs_sb *fs, struct hfs_args *a);
struct hrpck_bulk *hfs_bulk_alloc(struct hfs_sb *fs, u32 want, u32 min);
void hfs_forget(struct hfs_sb *fs, u64 node, u64 nlookup);
void hfs_forget_flush(struct hfs_sb *fs);
void hfs_forget_work_fn(struct work_struct *w);
int hfs_name_set(struct hrpc_gfs_name *n, const struct qstr *q);
int hfs_attr_check(const struct hrpc_gfs_attr *a);
int hfs_entry_check(const struct hrpc_gfs_entry *e);

/* ---- inode.c ---- */
extern const struct dentry_operations hfs_dentry_ops;
extern const struct inode_operations hfs_dir_iops;
struct inode *hfs_iget(struct super_block *sb, const struct hrpc_gfs_entry *e);
void hfs_attr_apply(struct inode *inode, const struct hrpc_gfs_attr *a, u64 version);
int hfs_attr_refresh(struct inode *inode, bool force);
void hfs_attr_expire(struct inode *inode);
void hfs_attr_changed(struct inode *inode);
void hfs_dentry_set_time(struct dentry *dentry);
void hfs_dentry_expire(struct dentry *dentry);
void hfs_inode_init_ops(struct inode *inode);
struct inode *hfs_alloc_inode(struct super_block *sb);
void hfs_free_inode(struct inode *inode);
void hfs_evict_inode(struct inode *inode);
int hfs_inode_test(struct inode *inode, void *data);

int hfs_setattr(struct user_namespace *ns, struct dentry *dentry, struct iattr *attr);
int hfs_inode_cache_init(void);
void hfs_inode_cache_fini(void);

/* ---- file.c ---- */
extern const struct file_operations hfs_file_fops;
extern const struct address_space_operations hfs_aops;
void hfs_fh_put(struct hfs_fh *f);
int hfs_file_attach(struct file *file, u64 fh, fmode_t mode);
u64 hfs_file_fh(struct file *file);
int hfs_open_created(struct inode *inode, struct file *file);

/* ---- dir.c ---- */
extern const struct file_operations hfs_dir_fops;

/* ---- xattr.c ---- */
extern const struct xattr_handler *hfs_xattr_handlers[];
ssize_t hfs_listxattr(struct dentry *dentry, char *list, size_t size);

#endif /* HOSTRPC_HFS_H */
