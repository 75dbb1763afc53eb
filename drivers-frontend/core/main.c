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

#include "chan.h"

unsigned int hrpc_poll_us = 50;
module_param_named(poll_us, hrpc_poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us, "Spin budget (us) of polling calls before they sleep (default 50)");

unsigned int hrpc_attach_timeout_ms = 10000;
module_param_named(attach_timeout_ms, hrpc_attach_timeout_ms, uint, 0644);
MODULE_PARM_DESC(attach_timeout_ms, "How long attach waits for the host to be ready (default 10000)");

unsigned int hrpc_call_timeout_ms = 10000;
module_param_named(call_timeout_ms, hrpc_call_timeout_ms, uint, 0644);
MODULE_PARM_DESC(call_timeout_ms, "Default timeout of /dev/hostrpcN calls (default 10000)");

unsigned int hrpc_rekick_ms = 1000;
module_param_named(rekick_ms, hrpc_rekick_ms, uint, 0644);
MODULE_PARM_DESC(rekick_ms, "Re-ring the doorbell this often while a call waits (lost doorbells; default 1000)");

bool hrpc_debug_forge;
module_param_named(debug_forge, hrpc_debug_forge, bool, 0444);
MODULE_PARM_DESC(debug_forge, "Testing only: allow HRPC_IOC_DEBUG_FORGE to break the request ring on purpose (default off)");

struct workqueue_struct *hrpc_wq;

/* Registry: channels by index, for hrpc_chan_get() and notifier replay. */
static DEFINE_MUTEX(hrpc_registry_mutex);
static LIST_HEAD(hrpc_registry);
static DEFINE_IDA(hrpc_ida);
static BLOCKING_NOTIFIER_HEAD(hrpc_chain);

int hrpc_registry_add(struct hrpc_chan *chan)
{
	int id = ida_alloc(&hrpc_ida, GFP_KERNEL);

	if (id < 0)
		return id;
	chan->index = id;
	mutex_lock(&hrpc_registry_mutex);
	list_add_tail(&chan->node, &hrpc_registry);
	chan->registered = true;
	mutex_unlock(&hrpc_registry_mutex);
	return 0;
}

void hrpc_registry_del(struct hrpc_chan *chan)
{
	if (!chan->registered)
		return;
	mutex_lock(&hrpc_registry_mutex);
	list_del_init(&chan->node);
	chan->registered = false;
	mutex_unlock(&hrpc_registry_mutex);
	ida_free(&hrpc_ida, chan->index);
}

void hrpc_notify(struct hrpc_chan *chan, enum hrpc_chan_event ev)
{
	blocking_notifier_call_chain(&hrpc_chain, ev, chan);
}

/**
 * hrpc_chan_get() - find a channel by index and take a reference
 * @index: N of /dev/hostrpcN (0 for the first device)
 *
 * The channel may not be attached yet; calls then fail with -ENOTCONN.
 * Release with hrpc_chan_put().
 *
 * Return: the channel or ERR_PTR(-ENODEV).
 */
struct hrpc_chan *hrpc_chan_get(unsigned int index)
{
	struct hrpc_chan *chan, *found = ERR_PTR(-ENODEV);

	mutex_lock(&hrpc_registry_mutex);
	list_for_each_entry(chan, &hrpc_registry, node) {
		if (chan->index == index && !READ_ONCE(chan->removing)) {
			hrpc_chan_hold(chan);
			found = chan;
			break;
		}
	}
	mutex_unlock(&hrpc_registry_mutex);
	return found;
}
EXPORT_SYMBOL_GPL(hrpc_chan_get);

/**
 * hrpc_register_notifier() - learn about channels coming and going
 * @nb: notifier; called in process context with an enum hrpc_chan_event
 *      and the struct hrpc_chan * (take a reference with hrpc_chan_hold()
 *      on ADDED if you keep it; drop it on REMOVED).  Must not call
 *      hrpc_chan_get() or (un)register notifiers.
 *
 * Channels that exist already are replayed as HRPC_CHAN_ADDED (and
 * HRPC_CHAN_ATTACHED if attached).
 *
 * Return: 0 or -errno.
 */
int hrpc_register_notifier(struct notifier_block *nb)
{
	struct hrpc_chan *chan;
	int ret;

	mutex_lock(&hrpc_registry_mutex);
	ret = blocking_notifier_chain_register(&hrpc_chain, nb);
	if (!ret) {
		list_for_each_entry(chan, &hrpc_registry, node) {
			nb->notifier_call(nb, HRPC_CHAN_ADDED, chan);
			if (hrpc_chan_attached(chan))
				nb->notifier_call(nb, HRPC_CHAN_ATTACHED, chan);
		}
	}
	mutex_unlock(&hrpc_registry_mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(hrpc_register_notifier);

/**
 * hrpc_unregister_notifier() - undo hrpc_register_notifier()
 * @nb: notifier
 *
 * Return: 0 or -ENOENT.
 */
int hrpc_unregister_notifier(struct notifier_block *nb)
{
	return blocking_notifier_chain_unregister(&hrpc_chain, nb);
}
EXPORT_SYMBOL_GPL(hrpc_unregister_notifier);

static int __init hrpc_core_init(void)
{
	int ret;

	hrpc_wq = alloc_workqueue("hostrpc", WQ_MEM_RECLAIM, 0);
	if (!hrpc_wq)
		return -ENOMEM;
	ret = hrpc_chan_cache_init();
	if (ret)
		goto err_wq;
	ret = hrpc_ivshmem_init();
	if (ret)
		goto err_cache;
	return 0;

err_cache:
	hrpc_chan_cache_exit();
err_wq:
	destroy_workqueue(hrpc_wq);
	return ret;
}

static void __exit hrpc_core_exit(void)
{
	hrpc_ivshmem_exit();
	/* Runs the release work of channels whose last reference just went. */
	destroy_workqueue(hrpc_wq);
	hrpc_chan_cache_exit();
	ida_destroy(&hrpc_ida);
}

module_init(hrpc_core_init);
module_exit(hrpc_core_exit);

MODULE_DESCRIPTION("Host RPC transport core: ivshmem client for hostrpc");
MODULE_AUTHOR("hostrpc developers");
MODULE_LICENSE("GPL");
