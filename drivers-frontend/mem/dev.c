// SPDX-License-Identifier: GPL-2.0
/*
 * dev.c - /dev/hostmem (include/hostrpc/hostmem.h): each open file maps
 * granted chunks, once, at offset 0.
 *
 * The mapping is VM_PFNMAP: the fault handler inserts, page by page, the
 * BAR's pfn for (the file's chunk of that slot, offset in the chunk), under
 * hmem.lock, so a chunk being moved or lost (main.c) is never mapped half
 * old, half new.  Each file's vma gets a page offset of its own
 * (HMEM_FILE_SHIFT), so zapping one file's chunk leaves every other file
 * that maps /dev/hostmem alone.
 *
 * Lifetime: the file's state is freed at ->release, after the last munmap
 * (every vma holds the file); its chunks go back to the free pool then
 * (pinned ones are unpinned by the event work; lost ones are gone).
 */
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hmem.h"

static DEFINE_IDA(hmem_file_ida);

static pgoff_t file_base(const struct hmem_file *hf)
{
	return (pgoff_t)hf->id << HMEM_FILE_SHIFT;
}

/* Zap the PTEs of one slot in every mapping of @hf (hmem.lock held). */
void hmem_file_zap(struct hmem_file *hf, u32 slot)
{
	lockdep_assert_held(&hmem.lock);
	unmap_mapping_pages(hf->mapping, file_base(hf) + (pgoff_t)slot * HMEM_CHUNK_PAGES,
			    HMEM_CHUNK_PAGES, true);
}

/* The region goes: every mapping's PTEs, every file dead (hmem.lock held). */
void hmem_files_kill(void)
{
	struct hmem_file *hf;

	lockdep_assert_held(&hmem.lock);
	list_for_each_entry(hf, &hmem.files, link) {
		if (hf->mapped)
			unmap_mapping_pages(hf->mapping, file_base(hf),
					    (pgoff_t)hf->nslots * HMEM_CHUNK_PAGES, true);
		hf->dead = true;
	}
}

/* ---- mapping ------------------------------------------------------------------- */

static vm_fault_t hmem_fault(struct vm_fault *vmf)
{
	struct hmem_file *hf = vmf->vma->vm_private_data;
	pgoff_t pg = vmf->pgoff - file_base(hf);
	u64 idx = pg / HMEM_CHUNK_PAGES;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	u32 chunk;

	mutex_lock(&hmem.lock);
	if (vmf->pgoff < file_base(hf) || hf->dead || !hmem.kva || idx >= hf->nslots)
		goto out;
	chunk = hf->slot[idx];
	if (chunk == HMEM_SLOT_LOST)
		goto out;
	ret = vmf_insert_pfn(vmf->vma, vmf->address,
			     PHYS_PFN(hmem.bar_start + (u64)chunk * HRPC_MEM_CHUNK) +
			     pg % HMEM_CHUNK_PAGES);
out:
	mutex_unlock(&hmem.lock);
	return ret;
}

static const struct vm_operations_struct hmem_vm_ops = {
	.fault = hmem_fault,
};

static int hmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct hmem_file *hf = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	u32 n = len / HRPC_MEM_CHUNK, i, cursor = 0, have = 0;
	u32 *slots;
	int ret;

	if (vma->vm_pgoff || !(vma->vm_flags & VM_MAYSHARE) || !len || len % HRPC_MEM_CHUNK)
		return -EINVAL;
	if (len / HRPC_MEM_CHUNK > HRPC_MEM_CHUNKS_MAX)
		return -ENOMEM;
	slots = kvmalloc_array(n, sizeof(*slots), GFP_KERNEL);
	if (!slots)
		return -ENOMEM;

	mutex_lock(&hmem.lock);
	ret = -EBUSY;
	if (hf->mapped)
		goto out;
	ret = -ENODEV;
	if (!hmem.kva || hf->dead)
		goto out;
	/* Detached: the pool is not known to be ours any more. */
	ret = -ENOMEM;
	for (i = 0; hmem.attached && i < hmem.nchunks && have < n; i++)
		have += hmem_chunk_free_usable(&hmem.chunks[i]);
	if (have < n)
		goto out;
	for (i = 0; i < n; i++) {
		struct hmem_chunk *c = &hmem.chunks[hmem_chunk_find_free(&cursor)];

		hmem_chunk_set(c, HMEM_C_MAPPED);
		c->file = hf;
		c->slot = i;
		slots[i] = c - hmem.chunks;
	}
	hf->slot = slots;
	hf->nslots = n;
	hf->mapped = true;
	slots = NULL;
	ret = 0;
out:
	mutex_unlock(&hmem.lock);
	kvfree(slots);
	if (ret)
		return ret;
	vma->vm_flags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY;
	/* This file's own range of page offsets (HMEM_FILE_SHIFT). */
	vma->vm_pgoff = file_base(hf);
	vma->vm_ops = &hmem_vm_ops;
	vma->vm_private_data = hf;
	return 0;
}

/* ---- open / release ---------------------------------------------------------- */

static int hmem_open(struct inode *inode, struct file *file)
{
	struct hmem_file *hf = kzalloc(sizeof(*hf), GFP_KERNEL);

	if (!hf)
		return -ENOMEM;
	hf->id = ida_alloc_max(&hmem_file_ida, HMEM_FILES_MAX - 1, GFP_KERNEL);
	if (hf->id < 0) {
		int ret = hf->id;

		kfree(hf);
		return ret == -ENOSPC ? -EMFILE : ret;
	}
	hf->mapping = file->f_mapping;
	file->private_data = hf;
	mutex_lock(&hmem.lock);
	list_add_tail(&hf->link, &hmem.files);
	mutex_unlock(&hmem.lock);
	return 0;
}

static int hmem_release(struct inode *inode, struct file *file)
{
	struct hmem_file *hf = file->private_data;
	bool kick = false;
	u32 i;

	mutex_lock(&hmem.lock);
	list_del(&hf->link);
	for (i = 0; !hf->dead && hmem.chunks && i < hf->nslots; i++) {
		struct hmem_chunk *c;

		if (hf->slot[i] == HMEM_SLOT_LOST) {
			hmem.nlost--;
			continue;
		}
		c = &hmem.chunks[hf->slot[i]];
		/* Past a smaller region of a later HELLO: not the host's to grant. */
		hmem_chunk_set(c, hf->slot[i] < hmem.nchunks ? HMEM_C_FREE : HMEM_C_NONE);
		if (c->pinned && !c->unpin) {
			c->unpin = true;
			hmem.nunpin++;
		}
		/* A pending RECLAIM can take it now; an UNPIN is due. */
		kick |= c->reclaim || c->unpin;
	}
	mutex_unlock(&hmem.lock);
	if (kick)
		hmem_kick();
	ida_free(&hmem_file_ida, hf->id);
	kvfree(hf->slot);
	kfree(hf);
	return 0;
}

/* ---- ioctls ----------------------------------------------------------------------- */

static long ioc_info(void __user *arg)
{
	struct hostmem_info info = { .chunk_size = HRPC_MEM_CHUNK };

	mutex_lock(&hmem.lock);
	info.nchunks = hmem.nchunks;
	info.granted = hmem.nfree + hmem.nmapped;
	info.free = hmem.nfree;
	info.mapped = hmem.nmapped;
	info.pinned = hmem.npinned;
	info.lost = hmem.nlost;
	info.attached = hmem.attached;
	info.reclaims = hmem.reclaims;
	info.moved = hmem.moved;
	info.released = hmem.released;
	info.forced = hmem.forced;
	mutex_unlock(&hmem.lock);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * PIN: the chunks of the range not pinned yet, in runs; on a failure the
 * runs this call pinned are unpinned again and the host's status (EDQUOT
 * past the quota) returned.  UNPIN: the pinned ones; the first failure is
 * returned, the rest still tried.  op_lock keeps the reclaim pass (moves)
 * and HELLO away while the calls are out.
 */
static long ioc_pin(struct hmem_file *hf, void __user *arg, bool pin)
{
	struct hrpc_mem_range_req *runs;
	struct hostmem_range r;
	u32 first, n, i, nruns = 0, done = 0, k;
	long ret;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (!r.length || r.offset % HRPC_MEM_CHUNK || r.length % HRPC_MEM_CHUNK ||
	    r.length / HRPC_MEM_CHUNK > HRPC_MEM_CHUNKS_MAX ||
	    r.offset / HRPC_MEM_CHUNK > HRPC_MEM_CHUNKS_MAX)
		return -EINVAL;
	first = r.offset / HRPC_MEM_CHUNK;
	n = r.length / HRPC_MEM_CHUNK;
	runs = kvmalloc_array(n, sizeof(*runs), GFP_KERNEL);
	if (!runs)
		return -ENOMEM;

	mutex_lock(&hmem.op_lock);
	mutex_lock(&hmem.lock);
	ret = -EINVAL;
	if (!hf->mapped || first >= hf->nslots || n > hf->nslots - first)
		goto unlock;
	ret = -ENODEV;
	if (hf->dead || !hmem.chunks)
		goto unlock;
	ret = -ENOTCONN;
	if (!hmem.attached)
		goto unlock;
	for (i = first; i < first + n; i++) {
		u32 chunk = hf->slot[i];
		struct hmem_chunk *c;

		if (chunk == HMEM_SLOT_LOST) {
			if (!pin)
				continue;
			ret = -EFAULT;	/* taken by the host: nothing to pin */
			goto unlock;
		}
		if (chunk >= hmem.nchunks) {
			ret = -EINVAL;	/* outside the region of this life */
			goto unlock;
		}
		c = &hmem.chunks[chunk];
		if (pin && c->reclaim) {
			ret = -EBUSY;	/* the host wants it back */
			goto unlock;
		}
		if (c->pinned != pin)
			nruns = hmem_runs_add(runs, nruns, chunk, 0);
	}
	mutex_unlock(&hmem.lock);

	ret = 0;
	for (i = 0; i < nruns; i++) {
		int st = hmem_call(pin ? HRPC_MEM_PIN : HRPC_MEM_UNPIN, &runs[i],
				   sizeof(runs[i]), NULL, 0, NULL, 0);

		if (st) {
			ret = ret ?: st;
			if (pin)
				break;
			continue;
		}
		mutex_lock(&hmem.lock);
		for (k = runs[i].first; k < runs[i].first + runs[i].count; k++)
			hmem_chunk_pin(&hmem.chunks[k], pin);
		mutex_unlock(&hmem.lock);
		done++;
	}
	if (pin && ret && done) {
		/* All or nothing: give back what this call pinned. */
		if (hmem_call_ranges(HRPC_MEM_UNPIN, runs, done, NULL))
			pr_warn_ratelimited(HMEM_NAME ": UNPIN after a failed PIN failed too\n");
		mutex_lock(&hmem.lock);
		for (i = 0; i < done; i++)
			for (k = runs[i].first; k < runs[i].first + runs[i].count; k++)
				hmem_chunk_pin(&hmem.chunks[k], false);
		mutex_unlock(&hmem.lock);
	}
	mutex_unlock(&hmem.op_lock);
	kvfree(runs);
	return ret;

unlock:
	mutex_unlock(&hmem.lock);
	mutex_unlock(&hmem.op_lock);
	kvfree(runs);
	return ret;
}

static long hmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hmem_file *hf = file->private_data;

	switch (cmd) {
	case HOSTMEM_IOC_INFO:
		return ioc_info((void __user *)arg);
	case HOSTMEM_IOC_PIN:
		return ioc_pin(hf, (void __user *)arg, true);
	case HOSTMEM_IOC_UNPIN:
		return ioc_pin(hf, (void __user *)arg, false);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations hmem_fops = {
	.owner = THIS_MODULE,
	.open = hmem_open,
	.release = hmem_release,
	.mmap = hmem_mmap,
	.unlocked_ioctl = hmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice hmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "hostmem",
	.fops = &hmem_fops,
	.mode = 0666,
};

int hmem_dev_register(struct device *parent)
{
	hmem_misc.parent = parent;
	return misc_register(&hmem_misc);
}

void hmem_dev_unregister(void)
{
	misc_deregister(&hmem_misc);
}
