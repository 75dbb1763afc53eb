// SPDX-License-Identifier: GPL-2.0
/*
 * xattr.c - extended attributes: one handler with the empty prefix, so
 * every name goes to the host whole (GETXATTR, SETXATTR, REMOVEXATTR,
 * LISTXATTR).  Values and lists travel as bulk; a size 0 request asks for
 * the size only, a buffer too small is the host's -ERANGE.
 *
 * nosuid: security.capability is never read from the host (file
 * capabilities would give privileges at exec, as set-id bits would).
 */
#include <linux/slab.h>
#include <linux/xattr.h>

#include "hfs.h"

static int xattr_req_init(struct hrpc_gfs_xattr_req *r, struct inode *inode, const char *name)
{
	struct qstr q = QSTR_INIT(name, strlen(name));

	memset(r, 0, sizeof(*r));
	r->node = hfs_node(inode);
	if (q.len > XATTR_NAME_MAX)
		return -ERANGE;
	return hfs_name_set(&r->name, &q);
}

/* GETXATTR / LISTXATTR into @buffer of @size (0: the size only). */
static ssize_t xattr_fetch(struct inode *inode, u16 proc, struct hrpc_gfs_xattr_req *r,
			   void *buffer, size_t size)
{
	struct hfs_sb *fs = HFS_SB(inode->i_sb);
	struct hrpck_bulk *b = NULL;
	struct hrpc_gfs_xattr_rep o;
	struct hfs_args a = {
		.proc = proc, .in = r, .in_len = sizeof(*r), .out = &o, .out_len = sizeof(o),
	};
	int ret;

	r->size = min_t(size_t, size, HRPC_GFS_XATTR_MAX);
	if (r->size) {
		b = hfs_bulk_alloc(fs, r->size, r->size);
		if (IS_ERR(b))
			return PTR_ERR(b);
		a.bulk = b;
	}
	ret = hfs_call(fs, &a);
	if (ret)
		goto out;
	if (o.size > HRPC_GFS_XATTR_MAX) {
		ret = -EIO;
		goto out;
	}
	if (!r->size) {
		ret = o.size;
		goto out;
	}
	if (o.size > r->size || a.rep_bulk_len != o.size ||
	    (u64)a.rep_bulk_pos + o.size > b->cap) {
		ret = -EIO;
		goto out;
	}
	memcpy(buffer, (u8 *)b->ptr + a.rep_bulk_pos, o.size);
	ret = o.size;
out:
	hrpck_bulk_put(b);
	return ret;
}

static int hfs_xattr_get(const struct xattr_handler *h, struct dentry *dentry,
			 struct inode *inode, const char *name, void *buffer, size_t size)
{
	struct hrpc_gfs_xattr_req r;
	int ret;

	if (!strcmp(name, XATTR_NAME_CAPS))
		return -ENODATA;
	ret = xattr_req_init(&r, inode, name);
	if (ret)
		return ret;
	return xattr_fetch(inode, HRPC_GFS_GETXATTR, &r, buffer, size);
}

static int hfs_xattr_set(const struct xattr_handler *h, struct user_namespace *ns,
			 struct dentry *dentry, struct inode *inode, const char *name,
			 const void *value, size_t size, int flags)
{
	struct hfs_sb *fs = HFS_SB(inode->i_sb);
	struct hrpc_gfs_xattr_req r;
	struct hrpck_bulk *b = NULL;
	int ret;

	ret = xattr_req_init(&r, inode, name);
	if (ret)
		return ret;
	if (!value) {
		ret = hfs_call(fs, &(struct hfs_args){
			.proc = HRPC_GFS_REMOVEXATTR, .in = &r, .in_len = sizeof(r),
		});
		goto out;
	}
	if (size > HRPC_GFS_XATTR_MAX)
		return -E2BIG;
	r.size = size;
	r.flags = flags & (XATTR_CREATE | XATTR_REPLACE);
	if (size) {
		b = hfs_bulk_alloc(fs, size, size);
		if (IS_ERR(b))
			return PTR_ERR(b);
		memcpy(b->ptr, value, size);
	}
	ret = hfs_call(fs, &(struct hfs_args){
		.proc = HRPC_GFS_SETXATTR, .in = &r, .in_len = sizeof(r),
		.bulk = b, .bulk_len = size,
	});
	hrpck_bulk_put(b);
out:
	if (!ret)
		hfs_attr_expire(inode);	/* ctime */
	return ret;
}

ssize_t hfs_listxattr(struct dentry *dentry, char *list, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct hrpc_gfs_xattr_req r = { .node = hfs_node(inode) };
	ssize_t ret;

	ret = xattr_fetch(inode, HRPC_GFS_LISTXATTR, &r, list, size);
	/* A list of NUL-terminated names: the last byte is a NUL. */
	if (ret > 0 && size && list[ret - 1] != '\0')
		return -EIO;
	return ret;
}

static const struct xattr_handler hfs_xattr_handler = {
	.prefix = "",
	.get = hfs_xattr_get,
	.set = hfs_xattr_set,
};

const struct xattr_handler *hfs_xattr_handlers[] = {
	&hfs_xattr_handler,
	NULL,
};
