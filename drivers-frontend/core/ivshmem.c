// SPDX-License-Identifier: GPL-2.0
/*
 * The ivshmem transport: a PCI driver for QEMU's
 * ivshmem-doorbell device (1af4:1110 revision 1) whose peer is hostrpcd.
 *
 * BAR0 holds the registers (include/hostrpc/ivshmem.h), BAR2 the shared
 * memory the host laid out as a Host RPC channel.  MSI-X vector 0 means
 * "look at your rings", vector 1 "the channel was (re)initialised".  We
 * ring the host with a write of (host peer id << 16 | vector) to DOORBELL:
 * vector 0 "look at your rings", vector 1 "reset request".
 *
 * Teardown: remove() mirrors probe() and tolerates every half-built state
 * (probe failure calls it).  Registers, interrupts and the PCI device go in
 * remove(); the shared memory mapping goes when the channel's last
 * reference does (bulk buffers and open files may hold it a little longer).
 */
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include <hostrpc/ivshmem.h>

#include "chan.h"

#define IVS_BAR_REGS 0
#define IVS_BAR_SHM  2
#define IVS_REGS_LEN 16

struct hrpck_ivshmem {
	struct pci_dev *pdev;
	void __iomem *regs;
	void *shm;
	resource_size_t shm_len;
	struct hrpck_chan *chan;
	bool enabled;
	bool regions;
	bool vectors;
	bool irq[HRPC_IVSHMEM_NR_VECTORS];
};

static void ivs_kick(struct hrpck_chan *chan)
{
	struct hrpck_ivshmem *ivs = chan->tpriv;

	iowrite32((HRPC_IVSHMEM_HOST_ID << 16) | HRPC_IVSHMEM_VEC_RING,
		  ivs->regs + HRPC_IVSHMEM_REG_DOORBELL);
}

/* Vector 1 towards the host: "this channel is stale, lay out a fresh one". */
static void ivs_request_reset(struct hrpck_chan *chan)
{
	struct hrpck_ivshmem *ivs = chan->tpriv;

	iowrite32((HRPC_IVSHMEM_HOST_ID << 16) | HRPC_IVSHMEM_VEC_RESET,
		  ivs->regs + HRPC_IVSHMEM_REG_DOORBELL);
}

/* Last channel reference: the mapping and our state go. */
static void ivs_release(struct hrpck_chan *chan)
{
	struct hrpck_ivshmem *ivs = chan->tpriv;

	memunmap(ivs->shm);
	kfree(ivs);
}

static const struct hrpck_transport_ops ivs_ops = {
	.name = "ivshmem",
	.kick = ivs_kick,
	.request_reset = ivs_request_reset,
	.release = ivs_release,
};

static irqreturn_t ivs_ring_irq(int irq, void *data)
{
	hrpck_chan_ring_irq(data);
	return IRQ_HANDLED;
}

static irqreturn_t ivs_reset_irq(int irq, void *data)
{
	hrpck_chan_reset_irq(data);
	return IRQ_HANDLED;
}

static const irq_handler_t ivs_handlers[HRPC_IVSHMEM_NR_VECTORS] = {
	[HRPC_IVSHMEM_VEC_RING] = ivs_ring_irq,
	[HRPC_IVSHMEM_VEC_RESET] = ivs_reset_irq,
};

static void ivs_remove(struct pci_dev *pdev)
{
	struct hrpck_ivshmem *ivs = pci_get_drvdata(pdev);
	int i;

	if (!ivs)
		return;
	if (ivs->chan)
		hrpck_chan_destroy(ivs->chan);
	for (i = HRPC_IVSHMEM_NR_VECTORS - 1; i >= 0; i--)
		if (ivs->irq[i])
			free_irq(pci_irq_vector(pdev, i), ivs->chan);
	if (ivs->vectors)
		pci_free_irq_vectors(pdev);
	if (ivs->regs)
		pci_iounmap(pdev, ivs->regs);
	ivs->regs = NULL;
	if (ivs->regions)
		pci_release_regions(pdev);
	if (ivs->enabled)
		pci_disable_device(pdev);
	pci_set_drvdata(pdev, NULL);
	if (ivs->chan) {
		hrpck_chan_put(ivs->chan);	/* ivs_release() frees ivs */
	} else {
		if (ivs->shm)
			memunmap(ivs->shm);
		kfree(ivs);
	}
}

static int ivs_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct hrpck_ivshmem *ivs;
	struct hrpck_chan *chan;
	int ret, i;

	/* ivshmem-plain (no MSI-X): the memory region, hostrpc_mem.ko's. */
	if (!pdev->msix_cap) {
		dev_dbg(&pdev->dev, "no MSI-X: ivshmem-plain, left to hostrpc_mem\n");
		return -ENODEV;
	}
	if (pdev->revision != HRPC_IVSHMEM_REVISION) {
		dev_info(&pdev->dev, "ivshmem revision %u not supported\n",
			 pdev->revision);
		return -ENODEV;
	}
	ivs = kzalloc(sizeof(*ivs), GFP_KERNEL);
	if (!ivs)
		return -ENOMEM;
	ivs->pdev = pdev;
	pci_set_drvdata(pdev, ivs);

	ret = pci_enable_device(pdev);
	if (ret)
		goto err;
	ivs->enabled = true;
	ret = pci_request_regions(pdev, HRPCK_CORE_NAME);
	if (ret)
		goto err;
	ivs->regions = true;
	if (pci_resource_len(pdev, IVS_BAR_REGS) < IVS_REGS_LEN) {
		ret = -ENODEV;
		goto err;
	}
	ivs->regs = pci_iomap(pdev, IVS_BAR_REGS, IVS_REGS_LEN);
	if (!ivs->regs) {
		ret = -ENOMEM;
		goto err;
	}
	ivs->shm_len = pci_resource_len(pdev, IVS_BAR_SHM);
	if (ivs->shm_len < sizeof(struct hrpc_shm_hdr)) {
		dev_err(&pdev->dev, "shared memory BAR too small\n");
		ret = -ENODEV;
		goto err;
	}
	/* Plain RAM on the host side: write-back is coherent with it. */
	ivs->shm = memremap(pci_resource_start(pdev, IVS_BAR_SHM), ivs->shm_len,
			    MEMREMAP_WB);
	if (!ivs->shm) {
		ret = -ENOMEM;
		goto err;
	}
	pci_set_master(pdev);

	chan = hrpck_chan_create(&pdev->dev, &ivs_ops, ivs, ivs->shm, ivs->shm_len);
	if (IS_ERR(chan)) {
		ret = PTR_ERR(chan);
		goto err;
	}
	ivs->chan = chan;

	ret = pci_alloc_irq_vectors(pdev, HRPC_IVSHMEM_NR_VECTORS,
				    HRPC_IVSHMEM_NR_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "need %d MSI-X vectors (QEMU: vectors=%d): %d\n",
			HRPC_IVSHMEM_NR_VECTORS, HRPC_IVSHMEM_NR_VECTORS, ret);
		goto err;
	}
	ivs->vectors = true;
	for (i = 0; i < HRPC_IVSHMEM_NR_VECTORS; i++) {
		ret = request_irq(pci_irq_vector(pdev, i), ivs_handlers[i], 0,
				  HRPCK_CORE_NAME, chan);
		if (ret)
			goto err;
		ivs->irq[i] = true;
	}

	ret = hrpck_chan_register(chan);
	if (ret)
		goto err;
	dev_info(&pdev->dev, "ivshmem peer %u, %llu bytes shared, /dev/%s\n",
		 ioread32(ivs->regs + HRPC_IVSHMEM_REG_IVPOSITION),
		 (unsigned long long)ivs->shm_len, chan->misc_name);
	return 0;

err:
	ivs_remove(pdev);
	return ret;
}

static const struct pci_device_id ivs_ids[] = {
	{ PCI_DEVICE(HRPC_IVSHMEM_VENDOR, HRPC_IVSHMEM_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ivs_ids);

static struct pci_driver ivs_driver = {
	.name = HRPCK_CORE_NAME,
	.id_table = ivs_ids,
	.probe = ivs_probe,
	.remove = ivs_remove,
};

int hrpck_ivshmem_init(void)
{
	return pci_register_driver(&ivs_driver);
}

void hrpck_ivshmem_exit(void)
{
	pci_unregister_driver(&ivs_driver);
}
