// SPDX-License-Identifier: GPL-2.0
/*
 * region.c - the memory region: a PCI driver for QEMU's ivshmem-plain
 * device (1af4:1110 revision 1 without MSI-X; the doorbell variant with
 * MSI-X is hostrpc_core's), and the table of its 2 MiB chunks.
 *
 * BAR2 is the host-owned region: chunk N is at BAR2 offset N * 2 MiB.
 * The driver maps it write-back for its own copies (moving a chunk) and
 * hands user mappings the BAR's pfns.  One device is supported.
 *
 * Teardown: remove() mirrors probe() and tolerates every half-built state
 * (probe failure calls it).  /dev/hostmem goes first (no new opens), then
 * every file's mapping is zapped and marked dead (its next access is
 * SIGBUS), then the table, the mapping and the PCI device.
 */
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>

#include <hostrpc/ivshmem.h>

#include "hmem.h"

#define HMEM_BAR 2

static struct {
	bool enabled;
	bool regions;
	bool dev;
} built;

/* ---- the chunk table (hmem.lock held) ---------------------------------------- */

void hmem_chunk_set(struct hmem_chunk *c, enum hmem_chunk_state state)
{
	lockdep_assert_held(&hmem.lock);
	if (c->state == HMEM_C_FREE)
		hmem.nfree--;
	else if (c->state == HMEM_C_MAPPED)
		hmem.nmapped--;
	c->state = state;
	if (state == HMEM_C_FREE)
		hmem.nfree++;
	else if (state == HMEM_C_MAPPED)
		hmem.nmapped++;
	if (state != HMEM_C_MAPPED) {
		c->file = NULL;
		c->slot = 0;
	}
}

void hmem_chunk_pin(struct hmem_chunk *c, bool pinned)
{
	lockdep_assert_held(&hmem.lock);
	if (c->pinned == pinned)
		return;
	c->pinned = pinned;
	if (pinned)
		hmem.npinned++;
	else
		hmem.npinned--;
}

/* In the free pool and not wanted by anyone: a reclaim, an UNPIN due. */
bool hmem_chunk_free_usable(const struct hmem_chunk *c)
{
	return c->state == HMEM_C_FREE && !c->reclaim && !c->pinned && !c->unpin;
}

/* The next usable free chunk at or after *@cursor, or -1. */
int hmem_chunk_find_free(u32 *cursor)
{
	u32 i;

	lockdep_assert_held(&hmem.lock);
	for (i = *cursor; i < hmem.nchunks && i < hmem.bar_chunks; i++) {
		if (hmem_chunk_free_usable(&hmem.chunks[i])) {
			*cursor = i + 1;
			return i;
		}
	}
	*cursor = i;
	return -1;
}

/*
 * Append @chunk to the runs in @runs (coalesced with the last one when
 * contiguous and of the same seq).  The caller sized @runs for one run per
 * chunk.  Returns the new number of runs.
 */
u32 hmem_runs_add(struct hrpc_mem_range_req *runs, u32 nruns, u32 chunk, u32 seq)
{
	struct hrpc_mem_range_req *last = nruns ? &runs[nruns - 1] : NULL;

	if (last && last->seq == seq && last->first + last->count == chunk) {
		last->count++;
		return nruns;
	}
	runs[nruns] = (struct hrpc_mem_range_req){ .first = chunk, .count = 1, .seq = seq };
	return nruns + 1;
}

/* ---- PCI driver --------------------------------------------------------------- */

static void hmem_remove(struct pci_dev *pdev)
{
	struct hmem_reclaim *r, *tmp;
	struct hmem_chunk *chunks;
	void *kva;

	if (READ_ONCE(hmem.pdev) != pdev)
		return;
	if (built.dev)
		hmem_dev_unregister();	/* no new opens */
	built.dev = false;

	mutex_lock(&hmem.op_lock);
	mutex_lock(&hmem.lock);
	hmem_files_kill();
	/* The host's grants were of this region: a next one says HELLO. */
	hmem.attached = false;
	list_for_each_entry_safe(r, tmp, &hmem.reclaims_list, link) {
		list_del(&r->link);
		kfree(r);
	}
	kva = hmem.kva;
	chunks = hmem.chunks;
	hmem.kva = NULL;
	hmem.chunks = NULL;
	hmem.bar_chunks = 0;
	hmem.nchunks = 0;
	hmem.nfree = hmem.nmapped = hmem.npinned = hmem.nlost = hmem.nunpin = 0;
	mutex_unlock(&hmem.lock);
	mutex_unlock(&hmem.op_lock);

	if (kva)
		memunmap(kva);
	kvfree(chunks);
	if (built.regions)
		pci_release_regions(pdev);
	built.regions = false;
	if (built.enabled)
		pci_disable_device(pdev);
	built.enabled = false;
	mutex_lock(&hmem.lock);
	hmem.pdev = NULL;
	mutex_unlock(&hmem.lock);
}

static int hmem_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	resource_size_t len;
	struct hmem_chunk *chunks;
	u32 nchunks;
	void *kva;
	bool busy;
	int ret;

	/* ivshmem-doorbell (MSI-X) carries the channel: hostrpc_core's. */
	if (pdev->msix_cap)
		return -ENODEV;
	if (pdev->revision != HRPC_IVSHMEM_REVISION) {
		dev_info(&pdev->dev, "ivshmem revision %u not supported\n", pdev->revision);
		return -ENODEV;
	}
	mutex_lock(&hmem.lock);
	busy = hmem.pdev;
	if (!busy)
		hmem.pdev = pdev;
	mutex_unlock(&hmem.lock);
	if (busy) {
		dev_info(&pdev->dev, "a second memory region: only one is supported\n");
		return -EBUSY;
	}

	ret = pci_enable_device(pdev);
	if (ret)
		goto err;
	built.enabled = true;
	ret = pci_request_regions(pdev, HMEM_NAME);
	if (ret)
		goto err;
	built.regions = true;
	len = pci_resource_len(pdev, HMEM_BAR);
	if (!(pci_resource_flags(pdev, HMEM_BAR) & IORESOURCE_MEM) || len < HRPC_MEM_CHUNK) {
		dev_err(&pdev->dev, "BAR%d is not a memory region of at least one chunk\n",
			HMEM_BAR);
		ret = -ENODEV;
		goto err;
	}
	nchunks = min_t(u64, len / HRPC_MEM_CHUNK, HRPC_MEM_CHUNKS_MAX);
	chunks = kvcalloc(nchunks, sizeof(*chunks), GFP_KERNEL);
	if (!chunks) {
		ret = -ENOMEM;
		goto err;
	}
	/* Plain RAM on the host side (a shared file): write-back is coherent. */
	kva = memremap(pci_resource_start(pdev, HMEM_BAR), (size_t)nchunks * HRPC_MEM_CHUNK,
		       MEMREMAP_WB);
	if (!kva) {
		kvfree(chunks);
		ret = -ENOMEM;
		goto err;
	}
	mutex_lock(&hmem.lock);
	hmem.bar_start = pci_resource_start(pdev, HMEM_BAR);
	hmem.bar_len = len;
	hmem.bar_chunks = nchunks;
	hmem.chunks = chunks;
	hmem.kva = kva;
	mutex_unlock(&hmem.lock);

	ret = hmem_dev_register(&pdev->dev);
	if (ret)
		goto err;
	built.dev = true;
	dev_info(&pdev->dev, "memory region of %llu MiB (%u chunks), /dev/hostmem\n",
		 (unsigned long long)len >> 20, nchunks);
	hmem_region_changed();
	return 0;

err:
	hmem_remove(pdev);
	return ret;
}

static const struct pci_device_id hmem_ids[] = {
	{ PCI_DEVICE(HRPC_IVSHMEM_VENDOR, HRPC_IVSHMEM_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, hmem_ids);

static struct pci_driver hmem_driver = {
	.name = HMEM_NAME,
	.id_table = hmem_ids,
	.probe = hmem_probe,
	.remove = hmem_remove,
};

int hmem_pci_init(void)
{
	return pci_register_driver(&hmem_driver);
}

void hmem_pci_exit(void)
{
	pci_unregister_driver(&hmem_driver);
}
