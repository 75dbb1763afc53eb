// SPDX-License-Identifier: GPL-2.0
/*
 * The hostrpc_core module: parameters, the channel registry and
 * notifier chain used by frontend modules, module init/exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/idr.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>

#include <hostrpc/xen.h>

#include "chan.h"

unsigned int hrpck_poll_us = 50;
module_param_named(poll_us, hrpck_poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us, "Spin budget (us) of polling calls before they sleep (default 50)");

unsigned int hrpck_attach_timeout_ms = 10000;
module_param_named(attach_timeout_ms, hrpck_attach_timeout_ms, uint, 0644);
MODULE_PARM_DESC(attach_timeout_ms, "How long attach waits for the host to be ready (default 10000)");

unsigned int hrpck_call_timeout_ms = 10000;
module_param_named(call_timeout_ms, hrpck_call_timeout_ms, uint, 0644);
MODULE_PARM_DESC(call_timeout_ms, "Default timeout of /dev/hostrpcN calls (default 10000)");

unsigned int hrpck_rekick_ms = 1000;
module_param_named(rekick_ms, hrpck_rekick_ms, uint, 0644);
MODULE_PARM_DESC(rekick_ms, "Re-ring the doorbell this often while a call waits (lost doorbells; default 1000)");

bool hrpck_debug_forge;
module_param_named(debug_forge, hrpck_debug_forge, bool, 0444);
MODULE_PARM_DESC(debug_forge, "Testing only: allow HRPC_IOC_DEBUG_FORGE to break the request ring on purpose (default off)");

static int xen_pages_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, HRPC_XEN_MIN_PAGES, HRPC_XEN_MAX_PAGES);
}

static const struct kernel_param_ops xen_pages_ops = {
	.set = xen_pages_set,
	.get = param_get_uint,
};

unsigned int hrpck_xen_pages = HRPC_XEN_DEFAULT_PAGES;
module_param_cb(xen_pages, &xen_pages_ops, &hrpck_xen_pages, 0644);
/* Bounds and default: HRPC_XEN_*_PAGES (2048 pages, 8 MiB, as ivshmem's). */
MODULE_PARM_DESC(xen_pages, "Xen: 4 KiB pages of the channel offered to the backend, capped by its max-pages; used at the next connection (default 2048)");

struct workqueue_struct *hrpck_wq;

/* Registry: channels by index, for hrpck_chan_get() and notifier replay. */
static DEFINE_MUTEX(hrpck_registry_mutex);
static LIST_HEAD(hrpck_registry);
static DEFINE_IDA(hrpck_ida);
static BLOCKING_NOTIFIER_HEAD(hrpck_chain);

int hrpck_registry_add(struct hrpck_chan *chan)
{
	int id = ida_alloc(&hrpck_ida, GFP_KERNEL);

	if (id < 0)
		return id;
	chan->index = id;
	mutex_lock(&hrpck_registry_mutex);
	list_add_tail(&chan->node, &hrpck_registry);
	chan->registered = true;
	mutex_unlock(&hrpck_registry_mutex);
	return 0;
}

void hrpck_registry_del(struct hrpck_chan *chan)
{
	if (!chan->registered)
		return;
	mutex_lock(&hrpck_registry_mutex);
	list_del_init(&chan->node);
	chan->registered = false;
	mutex_unlock(&hrpck_registry_mutex);
	ida_free(&hrpck_ida, chan->index);
}

void hrpck_notify(struct hrpck_chan *chan, enum hrpck_chan_event ev)
{
	blocking_notifier_call_chain(&hrpck_chain, ev, chan);
}

/**
 * hrpck_chan_get() - find a channel by index and take a reference
 * @index: N of /dev/hostrpcN (0 for the first device)
 *
 * The channel may not be attached yet; calls then fail with -ENOTCONN.
 * Release with hrpck_chan_put().
 *
 * Return: the channel or ERR_PTR(-ENODEV).
 */
struct hrpck_chan *hrpck_chan_get(unsigned int index)
{
	struct hrpck_chan *chan, *found = ERR_PTR(-ENODEV);

	mutex_lock(&hrpck_registry_mutex);
	list_for_each_entry(chan, &hrpck_registry, node) {
		if (chan->index == index && !READ_ONCE(chan->removing)) {
			hrpck_chan_hold(chan);
			found = chan;
			break;
		}
	}
	mutex_unlock(&hrpck_registry_mutex);
	return found;
}
EXPORT_SYMBOL_GPL(hrpck_chan_get);

/**
 * hrpck_register_notifier() - learn about channels coming and going
 * @nb: notifier; called in process context with an enum hrpck_chan_event
 *      and the struct hrpck_chan * (take a reference with hrpck_chan_hold()
 *      on ADDED if you keep it; drop it on REMOVED).  Must not call
 *      hrpck_chan_get() or (un)register notifiers.
 *
 * Channels that exist already are replayed as HRPCK_CHAN_ADDED (and
 * HRPCK_CHAN_ATTACHED if attached).
 *
 * Return: 0 or -errno.
 */
int hrpck_register_notifier(struct notifier_block *nb)
{
	struct hrpck_chan *chan;
	int ret;

	mutex_lock(&hrpck_registry_mutex);
	ret = blocking_notifier_chain_register(&hrpck_chain, nb);
	if (!ret) {
		list_for_each_entry(chan, &hrpck_registry, node) {
			nb->notifier_call(nb, HRPCK_CHAN_ADDED, chan);
			if (hrpck_chan_attached(chan))
				nb->notifier_call(nb, HRPCK_CHAN_ATTACHED, chan);
		}
	}
	mutex_unlock(&hrpck_registry_mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(hrpck_register_notifier);

/**
 * hrpck_unregister_notifier() - undo hrpck_register_notifier()
 * @nb: notifier
 *
 * Return: 0 or -ENOENT.
 */
int hrpck_unregister_notifier(struct notifier_block *nb)
{
	return blocking_notifier_chain_unregister(&hrpck_chain, nb);
}
EXPORT_SYMBOL_GPL(hrpck_unregister_notifier);

static int __init hrpck_core_init(void)
{
	int ret;

	hrpck_wq = alloc_workqueue("hostrpc", WQ_MEM_RECLAIM, 0);
	if (!hrpck_wq)
		return -ENOMEM;
	hrpck_fence_init();
	ret = hrpck_chan_cache_init();
	if (ret)
		goto err_wq;
	ret = hrpck_ivshmem_init();
	if (ret)
		goto err_cache;
	ret = hrpck_xen_init();
	if (ret)
		goto err_ivshmem;
	return 0;

err_ivshmem:
	hrpck_ivshmem_exit();
err_cache:
	hrpck_chan_cache_exit();
err_wq:
	hrpck_fence_exit();
	destroy_workqueue(hrpck_wq);
	return ret;
}

static void __exit hrpck_core_exit(void)
{
	hrpck_xen_exit();
	hrpck_ivshmem_exit();
	/* Runs the release work of channels whose last reference just went. */
	destroy_workqueue(hrpck_wq);
	hrpck_chan_cache_exit();
	hrpck_fence_exit();
	ida_destroy(&hrpck_ida);
}

module_init(hrpck_core_init);
module_exit(hrpck_core_exit);

MODULE_DESCRIPTION("Host RPC transport core: ivshmem and Xen client for hostrpc");
MODULE_AUTHOR("hostrpc developers");
MODULE_LICENSE("GPL");
