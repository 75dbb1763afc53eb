// SPDX-License-Identifier: GPL-2.0
/*
 * fence.c - a full barrier the host sees, on emulators that drop ours.
 *
 * The rings (include/hostrpc/ring.h, sockring.h) suppress doorbells the
 * way virtio's event index does: a side about to sleep stores its event
 * index and then loads the other side's index; a side that publishes
 * stores its index and then loads the event index.  Each side needs a full
 * barrier between its store and its load, or both may miss the other's
 * store and the sleeper is never woken (the classic store-buffer case,
 * which x86's TSO allows without a fence).
 *
 * On real hardware and under KVM, smp_mb() is that barrier.  QEMU's TCG
 * before 8.1 drops a guest's barriers (and makes its locked instructions
 * plain ones) when the machine has one possible CPU, assuming nobody else
 * looks at guest memory; hostrpcd does (QEMU commit c914d46d, "tcg: Do not
 * elide memory barriers for !CF_PARALLEL in system mode").  There, every
 * hrpc_mb() adds an access to I/O port 0x80 (the POST port Linux's
 * io_delay uses): QEMU serves it under its global lock, whose locked
 * instruction drains the vCPU thread's store buffer; TCG emits the guest's
 * earlier store before the call and its later load after it.
 *
 * Measured on QEMU 7.2, 1 vCPU, hostrpc_sock version 2: 5 of 25 one-second
 * runs of 50 connections stalled until the rekick work rang again (request
 * ring: prod past prod_event, the worker asleep); with the fence, or with
 * "-smp 1,maxcpus=2" (which makes TCG keep barriers), 0 of 25.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/jump_label.h>
#include <linux/module.h>
#ifdef CONFIG_X86
#include <asm/io.h>
#include <asm/processor.h>
#endif

#include "chan.h"

DEFINE_STATIC_KEY_FALSE(hrpck_host_fence_on);
EXPORT_SYMBOL_GPL(hrpck_host_fence_on);

static int host_fence = -1;
module_param(host_fence, int, 0444);
MODULE_PARM_DESC(host_fence,
		 "Fence shared-memory barriers through an I/O port: -1 auto (QEMU TCG with one possible CPU), 0 never, 1 always; reads back what is in force");

/**
 * hrpck_host_fence() - the host-visible part of hrpc_mb()
 *
 * Only called while hrpck_host_fence_on is enabled.
 */
void hrpck_host_fence(void)
{
#ifdef CONFIG_X86
	outb(0, 0x80);
#endif
}
EXPORT_SYMBOL_GPL(hrpck_host_fence);

/* Does our smp_mb() reach the host?  Not on TCG with one possible CPU. */
static bool fence_needed(void)
{
#ifdef CONFIG_X86
	return num_possible_cpus() == 1 && hypervisor_cpuid_base("TCGTCGTCGTCG", 0);
#else
	return false;
#endif
}

void hrpck_fence_init(void)
{
	bool on = host_fence < 0 ? fence_needed() : host_fence > 0;

#ifndef CONFIG_X86
	on = false;
#endif
	if (on) {
		static_branch_enable(&hrpck_host_fence_on);
		pr_info("ring barriers fenced through I/O port 0x80 (%s)\n",
			host_fence > 0 ? "host_fence=1" :
			"QEMU TCG with one possible CPU: QEMU before 8.1 drops guest barriers");
	}
	host_fence = on;	/* what /sys/module/hostrpc_core/parameters shows */
}

void hrpck_fence_exit(void)
{
	static_branch_disable(&hrpck_host_fence_on);
}
