// SPDX-License-Identifier: GPL-2.0
/*
 * file.c - regular files: open handles (fh), reads and writes through the
 * page cache, O_DIRECT, fsync, and POSIX/flock locks.
 *
 * Handles: OPEN/CREATE give an fh, wrapped in a refcounted struct hfs_fh
 * that the struct file owns (private_data) and that is listed on its inode
 * while the file is open.  Page cache I/O runs without a file at times
 * (writeback, readahead from a fault): it borrows a listed fh of the right
 * mode (hfs_fh_pick(), a reference).  The last put sends RELEASE.  Dirty
 * pages are written back when a writer closes (->flush) and before its fh
 * leaves the list (->release), so writeback always finds a writable fh.
 * A writer's host handle is opened read-write where the host allows it: a
 * partial page write reads the page first.
 *
 * Data moves through bulk buffers of the channel's data area, at most
 * hfs_io_kb per call (1 MiB, HRPC_GFS_IO_MAX).  What the host put in a bulk
 * buffer is copied out before use and its length checked against the
 * reply.
 */
#include <linux/slab.h>
#include <linux/pagemap.h>
#include <linux/writeback.h>
#include <linux/backing-dev.h>
#include <linux/uio.h>
#include <linux/highmem.h>
#include <linux/delay.h>
#include <linux/falloc.h>
#include <linux/sched/signal.h>

#include "hfs.h"

static u32 io_max(void)
{
	u32 n = min_t(u32, hfs_io_kb, HRPC_GFS_IO_MAX / 1024) * 1024;

	return max_t(u32, round_down(n, PAGE_SIZE), PAGE_SIZE);
}

/* ---- handles ------------------------------------------------------------------ */

void hfs_fh_put(struct hfs_fh *f)
{
	struct hrpc_gfs_fh_req r;

	if (!f || !refcount_dec_and_test(&f->ref))
		return;
	r = (struct hrpc_gfs_fh_req){ .fh = f->fh };
	hfs_call(f->fs, &(struct hfs_args){
		.proc = HRPC_GFS_RELEASE, .nocred = true, .oneway = true, .in = &r, .in_len = sizeof(r),
	});
	put_cred(f->cred);
	kfree(f);
}

/* A listed fh of @inode open for @mode (FMODE_READ/WRITE), referenced; or NULL. */
static struct hfs_fh *hfs_fh_pick(struct inode *inode, struct file *file, fmode_t mode)
{
	struct hfs_inode *hi = HFS_I(inode);
	struct hfs_fh *f = file ? file->private_data : NULL, *it;

	if (f && (f->mode & mode) == mode) {
		refcount_inc(&f->ref);
		return f;
	}
	f = NULL;
	spin_lock(&hi->lock);
	list_for_each_entry(it, &hi->fhs, link) {
		if ((it->mode & mode) == mode) {
			refcount_inc(&it->ref);
			f = it;
			break;
		}
	}
	spin_unlock(&hi->lock);
	return f;
}

/* Make @fh (from OPEN or CREATE) @file's handle.  On failure the caller
 * still owns @fh. */
int hfs_file_attach(struct file *file, u64 fh, fmode_t mode)
{
	struct inode *inode = file_inode(file);
	struct hfs_inode *hi = HFS_I(inode);
	struct hfs_fh *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	refcount_set(&f->ref, 1);
	f->fh = fh;
	f->mode = mode;
	f->cred = get_cred(file->f_cred);
	f->fs = HFS_SB(inode->i_sb);
	spin_lock(&hi->lock);
	list_add_tail(&f->link, &hi->fhs);
	f->listed = true;
	spin_unlock(&hi->lock);
	file->private_data = f;
	return 0;
}

u64 hfs_file_fh(struct file *file)
{
	struct hfs_fh *f;

	if (!file || file->f_op != &hfs_file_fops)
		return 0;
	f = file->private_data;
	return f ? f->fh : 0;
}

static int hfs_open(struct inode *inode, struct file *file)
{
	struct hfs_sb *fs = HFS_SB(inode->i_sb);
	struct hrpc_gfs_open_req r = { .node = hfs_node(inode) };
	struct hrpc_gfs_fh_rep o;
	u32 want = file->f_flags & O_ACCMODE;
	int ret;

	ret = generic_file_open(inode, file);
	if (ret)
		return ret;
	/* Close-to-open: an open sees what the host has now. */
	ret = hfs_attr_refresh(inode, false);
	if (ret)
		return ret;
	/* O_TRUNC is done by the VFS (setattr), O_APPEND and O_*SYNC here:
	 * the host's handle only ever sees pwrite at explicit offsets. */
	r.flags = (want == O_WRONLY ? O_RDWR : want) | (file->f_flags & O_NOATIME);
	ret = hfs_call(fs, &(struct hfs_args){
		.proc = HRPC_GFS_OPEN, .in = &r, .in_len = sizeof(r), .out = &o, .out_len = sizeof(o),
	});
	if (ret == -EACCES && want == O_WRONLY) {
		r.flags = O_WRONLY | (file->f_flags & O_NOATIME);
		ret = hfs_call(fs, &(struct hfs_args){
			.proc = HRPC_GFS_OPEN, .in = &r, .in_len = sizeof(r), .out = &o, .out_len = sizeof(o),
		});
	}
	if (ret)
		return ret;
	if (!o.fh)
		return -EIO;
	ret = hfs_file_attach(file, o.fh, (r.flags & O_ACCMODE) == O_RDONLY ? FMODE_READ :
			      (r.flags & O_ACCMODE) == O_WRONLY ? FMODE_WRITE :
			      FMODE_READ | FMODE_WRITE);
	if (ret) {
		struct hrpc_gfs_fh_req q = { .fh = o.fh };

		hfs_call(fs, &(struct hfs_args){
			.proc = HRPC_GFS_RELEASE, .nocred = true, .oneway = true, .in = &q, .in_len = sizeof(q),
		});
		return ret;
	}
	file->f_mode |= FMODE_CAN_ODIRECT;
	return 0;
}

/* The open callback of a file CREATE made (finish_open()). */
int hfs_open_created(struct inode *inode, struct file *file)
{
	file->f_mode |= FMODE_CAN_ODIRECT;
	return generic_file_open(inode, file);
}

static int hfs_flush(struct file *file, fl_owner_t id)
{
	if (!(file->f_mode & FMODE_WRITE))
		return 0;
	return filemap_write_and_wait(file->f_mapping);
}

static int hfs_release(struct inode *inode, struct file *file)
{
	struct hfs_inode *hi = HFS_I(inode);
	struct hfs_fh *f = file->private_data;

	if (!f)
		return 0;
	/* A shared writable mapping may have dirtied pages after the last
	 * ->flush: they go out while this fh can still carry them. */
	if (file->f_mode & FMODE_WRITE)
		filemap_write_and_wait(inode->i_mapping);
	spin_lock(&hi->lock);
	if (f->listed)
		list_del(&f->link);
	f->listed = false;
	spin_unlock(&hi->lock);
	file->private_data = NULL;
	hfs_fh_put(f);
	return 0;
}

/* ---- READ / WRITE ------------------------------------------------------------------ */

/* READ @len bytes at @pos into @b; *@data, *@got: where and how many. */
static int do_read(struct hfs_fh *f, struct hrpck_bulk *b, loff_t pos, u32 len,
		   const void **data, u32 *got)
{
	struct hrpc_gfs_io_req r = { .fh = f->fh, .offset = pos, .size = len };
	struct hrpc_gfs_io_rep o;
	struct hfs_args a = {
		.proc = HRPC_GFS_READ, .cred = f->cred, .in = &r, .in_len = sizeof(r),
		.out = &o, .out_len = sizeof(o), .bulk = b, .bulk_len = 0,
	};
	int ret = hfs_call(f->fs, &a);

	if (ret)
		return ret;
	if (o.size > len || (o.size && (a.rep_bulk_len != o.size ||
					(u64)a.rep_bulk_pos + o.size > b->cap))) {
		pr_warn_ratelimited(HFS_NAME ": READ reply of %u bytes (bulk %u+%u) for %u\n",
				    o.size, a.rep_bulk_pos, a.rep_bulk_len, len);
		return -EIO;
	}
	*data = (u8 *)b->ptr + a.rep_bulk_pos;
	*got = o.size;
	return 0;
}

/* WRITE the first @len bytes of @b at @pos; all of them or an error. */
static int do_write(struct hfs_fh *f, struct hrpck_bulk *b, loff_t pos, u32 len)
{
	struct hrpc_gfs_io_req r = { .fh = f->fh, .offset = pos, .size = len };
	struct hrpc_gfs_io_rep o;
	int ret;

	ret = hfs_call(f->fs, &(struct hfs_args){
		.proc = HRPC_GFS_WRITE, .cred = f->cred, .in = &r, .in_len = sizeof(r),
		.out = &o, .out_len = sizeof(o), .bulk = b, .bulk_len = len,
	});
	if (ret)
		return ret;
	if (o.size != len) {
		/* A regular file on the host writes all or fails (ENOSPC). */
		pr_warn_ratelimited(HFS_NAME ": WRITE of %u bytes wrote %u\n", len, o.size);
		return o.size < len ? -ENOSPC : -EIO;
	}
	return 0;
}

/* Copy @len bytes into @folio from offset 0 and zero the rest. */
static void folio_fill(struct folio *folio, const void *data, size_t len)
{
	size_t off;

	for (off = 0; off < folio_size(folio); off += PAGE_SIZE) {
		void *p = kmap_local_folio(folio, off);
		size_t n = len > off ? min_t(size_t, len - off, PAGE_SIZE) : 0;

		if (n)
			memcpy(p, data + off, n);
		if (n < PAGE_SIZE)
			memset(p + n, 0, PAGE_SIZE - n);
		kunmap_local(p);
	}
}

/* Read @folio (locked) from the host; marks it uptodate on success. */
static int read_one(struct file *file, struct folio *folio)
{
	struct inode *inode = folio->mapping->host;
	struct hfs_sb *fs = HFS_SB(inode->i_sb);
	struct hrpck_bulk *b;
	struct hfs_fh *f;
	const void *data;
	u32 got;
	int ret;

	f = hfs_fh_pick(inode, file, FMODE_READ);
	if (!f)
		return -EBADF;
	b = hfs_bulk_alloc(fs, folio_size(folio), folio_size(folio));
	if (IS_ERR(b)) {
		hfs_fh_put(f);
		return PTR_ERR(b);
	}
	ret = do_read(f, b, folio_pos(folio), folio_size(folio), &data, &got);
	if (!ret) {
		folio_fill(folio, data, got);
		folio_mark_uptodate(folio);
	}
	hrpck_bulk_put(b);
	hfs_fh_put(f);
	return ret;
}

static int hfs_read_folio(struct file *file, struct folio *folio)
{
	int ret = read_one(file, folio);

	folio_unlock(folio);
	return ret;
}

/* One READ per io_max bytes of the window; folios the READ does not reach
 * (an error) are left !uptodate for read_folio to try again. */
static void hfs_readahead(struct readahead_control *rac)
{
	struct inode *inode = rac->mapping->host;
	struct hfs_sb *fs = HFS_SB(inode->i_sb);
	struct hrpck_bulk *b = NULL;
	struct hfs_fh *f;
	struct folio *folio;

	f = hfs_fh_pick(inode, rac->file, FMODE_READ);
	if (!f)
		return;
	while (readahead_count(rac)) {
		loff_t pos = readahead_pos(rac);
		u32 len = min_t(size_t, readahead_length(rac), io_max());
		const void *data;
		u32 got, done = 0;
		int ret;

		if (!b) {
			b = hfs_bulk_alloc(fs, io_max(), PAGE_SIZE);
			if (IS_ERR(b)) {
				b = NULL;
				break;
			}
		}
		len = min(len, b->cap);
		ret = do_read(f, b, pos, len, &data, &got);
		if (ret)
			break;
		while (done < len && (folio = readahead_folio(rac))) {
			size_t n = got > done ? min_t(size_t, got - done, folio_size(folio)) : 0;

			folio_fill(folio, data + done, n);
			folio_mark_uptodate(folio);
			folio_unlock(folio);
			done += folio_size(folio);
		}
	}
	/* Whatever is left stays !uptodate: unlock it. */
	while ((folio = readahead_folio(rac)))
		folio_unlock(folio);
	hrpck_bulk_put(b);
	hfs_fh_put(f);
}

static int hfs_write_begin(struct file *file, struct address_space *mapping, loff_t pos,
			   unsigned int len, struct page **pagep, void **fsdata)
{
	struct inode *inode = mapping->host;
	pgoff_t index = pos >> PAGE_SHIFT;
	struct folio *folio;
	struct page *page;
	unsigned int off = pos & ~PAGE_MASK;
	int ret;

	page = grab_cache_page_write_begin(mapping, index);
	if (!page)
		return -ENOMEM;
	folio = page_folio(page);
	*pagep = page;
	if (folio_test_uptodate(folio) || len == PAGE_SIZE)
		return 0;
	if (i_size_read(inode) <= (pos & PAGE_MASK)) {
		/* Wholly past the end: nothing to read, the rest is zeros. */
		folio_zero_segments(folio, 0, off, off + len, PAGE_SIZE);
		folio_mark_uptodate(folio);
		return 0;
	}
	ret = read_one(file, folio);
	if (ret) {
		folio_unlock(folio);
		folio_put(folio);
		*pagep = NULL;
	}
	return ret;
}

static int hfs_write_end(struct file *file, struct address_space *mapping, loff_t pos,
			 unsigned int len, unsigned int copied, struct page *page, void *fsdata)
{
	struct folio *folio = page_folio(page);
	struct inode *inode = mapping->host;

	if (!folio_test_uptodate(folio)) {
		/* Only a full-page write gets here without a read. */
		if (copied < len)
			copied = 0;
		else
			folio_mark_uptodate(folio);
	}
	if (copied) {
		if (pos + copied > i_size_read(inode)) {
			i_size_write(inode, pos + copied);
			hfs_attr_changed(inode);
		}
		folio_mark_dirty(folio);
	}
	folio_unlock(folio);
	folio_put(folio);
	return copied;
}

/* Writeback: contiguous dirty pages gathered in one bulk buffer, one WRITE. */
struct wb_ctx {
	struct inode *inode;
	struct hfs_fh *f;
	struct hrpck_bulk *b;
	loff_t pos;
	u32 len;
	struct folio **folios;
	u32 nfolios, maxfolios;
	int err;
};

static void wb_flush(struct wb_ctx *w)
{
	int ret = 0;
	u32 i;

	if (!w->nfolios)
		return;
	if (w->len)
		ret = do_write(w->f, w->b, w->pos, w->len);
	for (i = 0; i < w->nfolios; i++) {
		if (ret)
			mapping_set_error(w->folios[i]->mapping, ret);
		folio_end_writeback(w->folios[i]);
		folio_put(w->folios[i]);
	}
	if (ret && !w->err)
		w->err = ret;
	hfs_attr_changed(w->inode);
	w->nfolios = 0;
	w->len = 0;
}

static int wb_page(struct page *page, struct writeback_control *wbc, void *data)
{
	struct folio *folio = page_folio(page);
	struct wb_ctx *w = data;
	loff_t isize = i_size_read(w->inode), fpos = folio_pos(folio);
	size_t n, off;

	if (fpos >= isize) {
		/* Truncated meanwhile: nothing of it is in the file. */
		folio_unlock(folio);
		return 0;
	}
	n = min_t(loff_t, folio_size(folio), isize - fpos);
	if (w->nfolios && (fpos != w->pos + w->len || w->len + folio_size(folio) > w->b->cap ||
			   w->nfolios == w->maxfolios))
		wb_flush(w);
	if (!w->nfolios)
		w->pos = fpos;
	/* A snapshot: the page may be dirtied again once unlocked. */
	for (off = 0; off < n; off += PAGE_SIZE) {
		void *p = kmap_local_folio(folio, off);

		memcpy((u8 *)w->b->ptr + w->len + off, p, min_t(size_t, n - off, PAGE_SIZE));
		kunmap_local(p);
	}
	folio_get(folio);
	folio_start_writeback(folio);
	folio_unlock(folio);
	w->folios[w->nfolios++] = folio;
	w->len += n;
	if (w->len == w->b->cap)
		wb_flush(w);
	return 0;
}

static int hfs_writepages(struct address_space *mapping, struct writeback_control *wbc)
{
	struct inode *inode = mapping->host;
	struct wb_ctx w = { .inode = inode };
	int ret;

	/* An inode dirty for its times only (atime, file_update_time) comes
	 * here too: nothing to write then. */
	if (!mapping_tagged(mapping, PAGECACHE_TAG_DIRTY))
		return 0;
	w.f = hfs_fh_pick(inode, NULL, FMODE_WRITE);
	if (!w.f) {
		pr_warn_ratelimited(HFS_NAME ": dirty pages of node %llx but no writable handle\n",
				    hfs_node(inode));
		return -EIO;
	}
	w.b = hfs_bulk_alloc(HFS_SB(inode->i_sb), io_max(), PAGE_SIZE);
	if (IS_ERR(w.b)) {
		hfs_fh_put(w.f);
		return PTR_ERR(w.b);
	}
	w.maxfolios = w.b->cap / PAGE_SIZE;
	w.folios = kmalloc_array(w.maxfolios, sizeof(*w.folios), GFP_NOFS);
	if (!w.folios) {
		hrpck_bulk_put(w.b);
		hfs_fh_put(w.f);
		return -ENOMEM;
	}
	ret = write_cache_pages(mapping, wbc, wb_page, &w);
	wb_flush(&w);
	kfree(w.folios);
	hrpck_bulk_put(w.b);
	hfs_fh_put(w.f);
	return ret ?: w.err;
}

/* ---- O_DIRECT ------------------------------------------------------------------------ */

/* What the page cache holds dirty in the range goes first (the host then
 * has it), and a bulk buffer for the transfer. */
static struct hrpck_bulk *direct_begin(struct file *file, loff_t pos, size_t count)
{
	struct hfs_fh *f = file->private_data;
	int ret;

	ret = filemap_write_and_wait_range(file_inode(file)->i_mapping, pos, pos + count - 1);
	if (ret)
		return ERR_PTR(ret);
	return hfs_bulk_alloc(f->fs, min_t(size_t, round_up(count, PAGE_SIZE), io_max()), PAGE_SIZE);
}

static ssize_t direct_read(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct hfs_fh *f = file->private_data;
	struct hrpck_bulk *b;
	loff_t pos = iocb->ki_pos;
	size_t count = iov_iter_count(to);
	ssize_t total = 0;
	int ret = 0;

	if (!count)
		return 0;
	b = direct_begin(file, pos, count);
	if (IS_ERR(b))
		return PTR_ERR(b);
	while (count) {
		u32 n = min_t(size_t, count, b->cap), got;
		const void *data;

		ret = do_read(f, b, pos, n, &data, &got);
		if (ret)
			break;
		if (copy_to_iter(data, got, to) != got) {
			ret = -EFAULT;
			break;
		}
		pos += got;
		total += got;
		count -= got;
		if (got < n)
			break;	/* end of file */
	}
	hrpck_bulk_put(b);
	iocb->ki_pos = pos;
	return total ?: ret;
}

/* Called with i_rwsem held, after generic_write_checks(). */
static ssize_t direct_write(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct hfs_fh *f = file->private_data;
	loff_t pos = iocb->ki_pos, start = pos;
	size_t count = iov_iter_count(from);
	struct hrpck_bulk *b;
	ssize_t total = 0;
	int ret = 0;

	if (!count)
		return 0;
	b = direct_begin(file, pos, count);
	if (IS_ERR(b))
		return PTR_ERR(b);
	while (count) {
		size_t n = min_t(size_t, count, b->cap);

		if (copy_from_iter(b->ptr, n, from) != n) {
			ret = -EFAULT;
			break;
		}
		ret = do_write(f, b, pos, n);
		if (ret)
			break;
		pos += n;
		total += n;
		count -= n;
	}
	hrpck_bulk_put(b);
	if (total) {
		/* Cached pages of the range are older than what the host has. */
		invalidate_inode_pages2_range(inode->i_mapping, start >> PAGE_SHIFT,
					      (pos - 1) >> PAGE_SHIFT);
		if (pos > i_size_read(inode))
			i_size_write(inode, pos);
		hfs_attr_changed(inode);
		hfs_attr_expire(inode);
	}
	iocb->ki_pos = pos;
	return total ?: ret;
}

/* ---- file operations ---------------------------------------------------------------- */

/*
 * Streaming: a read or write of at least stream_kb on a file of which
 * nothing is cached and that nobody maps goes between the caller's buffer
 * and the host directly, as O_DIRECT does: one copy through the bulk area
 * instead of two (into the page cache, then into the bulk area), and
 * nothing cached that the host could make stale.  Small I/O, and any file
 * with cached pages or a mapping, keeps the page cache.
 */
static unsigned int hfs_stream_kb = 128;
module_param_named(stream_kb, hfs_stream_kb, uint, 0644);
MODULE_PARM_DESC(stream_kb, "reads and writes of at least this many KiB on an uncached, unmapped file bypass the page cache (0: never)");

static bool hfs_streaming(struct file *file, size_t count)
{
	struct address_space *m = file->f_mapping;
	unsigned int kb = READ_ONCE(hfs_stream_kb);

	return kb && count >= (size_t)kb << 10 && !READ_ONCE(m->nrpages) && !mapping_mapped(m);
}

static ssize_t hfs_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	int ret;

	if ((iocb->ki_flags & IOCB_DIRECT) || hfs_streaming(iocb->ki_filp, iov_iter_count(to)))
		return direct_read(iocb, to);
	/* The host may have changed the file: its size bounds what we read. */
	ret = hfs_attr_refresh(inode, false);
	if (ret)
		return ret;
	return generic_file_read_iter(iocb, to);
}

static ssize_t hfs_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	ssize_t ret;

	inode_lock(inode);
	if (iocb->ki_flags & IOCB_APPEND) {
		/* Append at the end the host has now (or ours, if dirtier). */
		ret = hfs_attr_refresh(inode, true);
		if (ret)
			goto out;
	}
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto out;
	ret = file_remove_privs(file);
	if (ret)
		goto out;
	ret = file_update_time(file);
	if (ret)
		goto out;
	/* i_rwsem held: no buffered writer can add pages meanwhile. */
	if ((iocb->ki_flags & IOCB_DIRECT) || hfs_streaming(file, iov_iter_count(from))) {
		ret = direct_write(iocb, from);
	} else {
		loff_t pos = iocb->ki_pos;

		current->backing_dev_info = inode_to_bdi(inode);
		ret = generic_perform_write(iocb, from);
		current->backing_dev_info = NULL;
		/* Upstream 6.1 leaves ki_pos to the caller, Debian's 6.1
		 * (a stable backport) advances it itself: once, either way. */
		if (ret > 0 && iocb->ki_pos == pos)
			iocb->ki_pos += ret;
	}
out:
	inode_unlock(inode);
	if (ret > 0)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

static int hfs_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	struct hfs_fh *f = file->private_data;
	struct hrpc_gfs_fh_req r;
	int ret;

	ret = file_write_and_wait_range(file, start, end);
	if (ret || !f)
		return ret;
	r = (struct hrpc_gfs_fh_req){ .fh = f->fh, .flags = datasync ? HRPC_GFS_FSYNC_DATASYNC : 0 };
	return hfs_call(f->fs, &(struct hfs_args){
		.proc = HRPC_GFS_FSYNC, .in = &r, .in_len = sizeof(r),
	});
}

static loff_t hfs_llseek(struct file *file, loff_t off, int whence)
{
	int ret;

	if (whence == SEEK_END || whence == SEEK_DATA || whence == SEEK_HOLE) {
		ret = hfs_attr_refresh(file_inode(file), false);
		if (ret)
			return ret;
	}
	return generic_file_llseek(file, off, whence);
}

static long hfs_fallocate(struct file *file, int mode, loff_t off, loff_t len)
{
	struct inode *inode = file_inode(file);
	struct hfs_fh *f = file->private_data;
	struct hrpc_gfs_fallocate_req r = { .offset = off, .length = len, .mode = mode };
	long ret;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if (!f)
		return -EBADF;
	r.fh = f->fh;
	inode_lock(inode);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		/* Ours first, or a later writeback would fill the hole again. */
		ret = filemap_write_and_wait_range(inode->i_mapping, off, off + len - 1);
		if (ret)
			goto out;
	}
	ret = hfs_call(f->fs, &(struct hfs_args){
		.proc = HRPC_GFS_FALLOCATE, .in = &r, .in_len = sizeof(r),
	});
	if (ret)
		goto out;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		truncate_pagecache_range(inode, off, off + len - 1);
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > i_size_read(inode))
		i_size_write(inode, off + len);
	hfs_attr_changed(inode);
	hfs_attr_expire(inode);
out:
	inode_unlock(inode);
	return ret;
}

/* ---- locks ----------------------------------------------------------------------------- */

static int lock_call(struct file *file, u32 cmd, u32 type, loff_t start, loff_t end,
		     struct hrpc_gfs_lock_req *out)
{
	struct hfs_fh *f = file->private_data;
	struct hrpc_gfs_lock_req r = {
		.cmd = cmd, .type = type,
		.start = start, .len = end == OFFSET_MAX ? 0 : end - start + 1,
	};

	if (!f)
		return -EBADF;
	r.fh = f->fh;
	return hfs_call(f->fs, &(struct hfs_args){
		.proc = HRPC_GFS_LOCK, .in = &r, .in_len = sizeof(r), .out = out, .out_len = sizeof(*out),
	});
}

static u32 lock_type(unsigned char t)
{
	return t == F_RDLCK ? HRPC_GFS_LOCK_RD : t == F_WRLCK ? HRPC_GFS_LOCK_WR : HRPC_GFS_LOCK_UN;
}

/*
 * Ask the host for a lock; the host never blocks, so a blocking request
 * (FL_SLEEP) polls: 10 ms, doubling to 100 ms, until granted or a signal.
 */
static int lock_host(struct file *file, struct file_lock *fl, u32 cmd)
{
	unsigned int delay = 10;
	struct hrpc_gfs_lock_req o;
	int ret;

	for (;;) {
		ret = lock_call(file, cmd, lock_type(fl->fl_type), fl->fl_start, fl->fl_end, &o);
		if (ret != -EAGAIN || !(fl->fl_flags & FL_SLEEP))
			return ret;
		if (msleep_interruptible(delay) || signal_pending(current))
			return -EINTR;
		delay = min(delay * 2, 100u);
	}
}

static int lock_local(struct file *file, struct file_lock *fl, u32 cmd)
{
	struct hrpc_gfs_lock_req o;
	unsigned char type = fl->fl_type;
	int ret;

	if (type == F_UNLCK) {
		/* Always drop ours, whatever the host says (a dead mount). */
		lock_call(file, cmd, HRPC_GFS_LOCK_UN, fl->fl_start, fl->fl_end, &o);
		return locks_lock_file_wait(file, fl);
	}
	ret = lock_host(file, fl, cmd);
	if (ret)
		return ret;
	/* Granted by the host: recorded here, so close and exit drop it. */
	ret = locks_lock_file_wait(file, fl);
	if (ret)
		lock_call(file, cmd, HRPC_GFS_LOCK_UN, fl->fl_start, fl->fl_end, &o);
	return ret;
}

static int hfs_lock(struct file *file, int cmd, struct file_lock *fl)
{
	struct hrpc_gfs_lock_req o;
	int ret;

	if (!(fl->fl_flags & FL_POSIX))
		return -ENOLCK;
	if (IS_GETLK(cmd)) {
		ret = lock_call(file, HRPC_GFS_LOCK_GET, lock_type(fl->fl_type), fl->fl_start,
				fl->fl_end, &o);
		if (ret)
			return ret;
		if (o.type == HRPC_GFS_LOCK_UN) {
			posix_test_lock(file, fl);
			return 0;
		}
		if (o.type > HRPC_GFS_LOCK_UN || o.start > (u64)OFFSET_MAX ||
		    o.len > (u64)OFFSET_MAX - o.start)
			return -EIO;
		fl->fl_type = o.type == HRPC_GFS_LOCK_RD ? F_RDLCK : F_WRLCK;
		fl->fl_start = o.start;
		fl->fl_end = o.len ? o.start + o.len - 1 : OFFSET_MAX;
		fl->fl_pid = -1;	/* a lock of another open file description */
		return 0;
	}
	return lock_local(file, fl, HRPC_GFS_LOCK_SET);
}

static int hfs_flock(struct file *file, int cmd, struct file_lock *fl)
{
	if (!(fl->fl_flags & FL_FLOCK))
		return -ENOLCK;
	fl->fl_start = 0;
	fl->fl_end = OFFSET_MAX;
	return lock_local(file, fl, HRPC_GFS_LOCK_FLOCK);
}

const struct file_operations hfs_file_fops = {
	.llseek = hfs_llseek,
	.read_iter = hfs_read_iter,
	.write_iter = hfs_write_iter,
	.mmap = generic_file_mmap,
	.open = hfs_open,
	.flush = hfs_flush,
	.release = hfs_release,
	.fsync = hfs_fsync,
	.lock = hfs_lock,
	.flock = hfs_flock,
	.fallocate = hfs_fallocate,
	.splice_read = generic_file_splice_read,
	.splice_write = iter_file_splice_write,
};

const struct address_space_operations hfs_aops = {
	.read_folio = hfs_read_folio,
	.readahead = hfs_readahead,
	.writepages = hfs_writepages,
	.dirty_folio = filemap_dirty_folio,
	.write_begin = hfs_write_begin,
	.write_end = hfs_write_end,
	.migrate_folio = filemap_migrate_folio,
};
