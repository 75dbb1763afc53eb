// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/hostrpcN: Host RPC calls and events for guest userspace
 * (include/hostrpc/chardev.h is the interface).
 *
 * One misc device per channel.  An open file holds a channel reference, so
 * the channel outlives a removal while files are open (calls then fail with
 * -ENODEV).  Userspace may not use the CONTROL service: HELLO/BYE belong to
 * the core.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "chan.h"

#define HRPCK_FILE_MAX_EVENTS     4096u
#define HRPCK_FILE_MAX_EVENT_BYTES (4u << 20)

struct hrpck_file_event {
	struct list_head node;
	struct hrpc_ioc_event ev;
	u8 payload[];
};

struct hrpck_file;

struct hrpck_file_sub {
	struct hrpck_event_sub sub;
	struct hrpck_file *file;
	struct list_head node;		/* in hrpck_file.subs */
};

/**
 * struct hrpck_file - per open file
 * @chan: reference held until release
 * @lock: protects the event queue (taken from the event callback, i.e.
 *        hard irq)
 * @events: queued struct hrpck_file_event, oldest first
 * @nevents: entries on @events
 * @bytes: payload bytes on @events
 * @dropped: events dropped since the last queued one
 * @wq: readers and pollers
 * @sub_mutex: protects @subs
 * @subs: struct hrpck_file_sub of this file
 */
struct hrpck_file {
	struct hrpck_chan *chan;
	spinlock_t lock;		/* event queue; irq-safe */
	struct list_head events;
	unsigned int nevents;
	unsigned int bytes;
	u32 dropped;
	wait_queue_head_t wq;
	struct mutex sub_mutex;		/* protects subs */
	struct list_head subs;
};

static struct hrpck_chan *misc_to_chan(struct file *f)
{
	struct miscdevice *misc = f->private_data;

	return container_of(misc, struct hrpck_chan, misc);
}

static int hrpck_open(struct inode *inode, struct file *f)
{
	struct hrpck_chan *chan = misc_to_chan(f);
	struct hrpck_file *hf;

	hf = kzalloc(sizeof(*hf), GFP_KERNEL);
	if (!hf)
		return -ENOMEM;
	spin_lock_init(&hf->lock);
	INIT_LIST_HEAD(&hf->events);
	init_waitqueue_head(&hf->wq);
	mutex_init(&hf->sub_mutex);
	INIT_LIST_HEAD(&hf->subs);
	/* misc_open() holds misc_mtx: the device cannot be unregistered
	 * (and the registry reference dropped) under us.
	 */
	hrpck_chan_hold(chan);
	hf->chan = chan;
	f->private_data = hf;
	return nonseekable_open(inode, f);
}

/* Event callback: atomic context, chan->lock held. */
static void hrpck_file_event(void *ctx, u16 service, u16 event,
			     const void *payload, u32 len)
{
	struct hrpck_file *hf = ctx;
	struct hrpck_file_event *e;
	unsigned long flags;

	spin_lock_irqsave(&hf->lock, flags);
	if (hf->nevents >= HRPCK_FILE_MAX_EVENTS ||
	    hf->bytes + len > HRPCK_FILE_MAX_EVENT_BYTES)
		goto drop;
	e = kmalloc(struct_size(e, payload, len), GFP_ATOMIC);
	if (!e)
		goto drop;
	e->ev.service = service;
	e->ev.event = event;
	e->ev.len = len;
	e->ev.dropped = hf->dropped;
	e->ev.reserved = 0;
	memcpy(e->payload, payload, len);
	hf->dropped = 0;
	list_add_tail(&e->node, &hf->events);
	hf->nevents++;
	hf->bytes += len;
	spin_unlock_irqrestore(&hf->lock, flags);
	wake_up_interruptible(&hf->wq);
	return;
drop:
	hf->dropped++;
	spin_unlock_irqrestore(&hf->lock, flags);
}

static int hrpck_subscribe(struct hrpck_file *hf, u32 service)
{
	struct hrpck_file_sub *s;
	int ret;

	if (service > U16_MAX)
		return -EINVAL;
	mutex_lock(&hf->sub_mutex);
	list_for_each_entry(s, &hf->subs, node) {
		if (s->sub.service == service) {
			ret = -EEXIST;
			goto out;
		}
	}
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	s->sub.service = service;
	s->sub.fn = hrpck_file_event;
	s->sub.ctx = hf;
	s->file = hf;
	ret = hrpck_event_subscribe(hf->chan, &s->sub);
	if (ret) {
		kfree(s);
		goto out;
	}
	list_add_tail(&s->node, &hf->subs);
out:
	mutex_unlock(&hf->sub_mutex);
	return ret;
}

static int hrpck_unsubscribe(struct hrpck_file *hf, u32 service)
{
	struct hrpck_file_sub *s;

	mutex_lock(&hf->sub_mutex);
	list_for_each_entry(s, &hf->subs, node) {
		if (s->sub.service == service) {
			hrpck_event_unsubscribe(hf->chan, &s->sub);
			list_del(&s->node);
			kfree(s);
			mutex_unlock(&hf->sub_mutex);
			return 0;
		}
	}
	mutex_unlock(&hf->sub_mutex);
	return -ENOENT;
}

static int hrpck_release(struct inode *inode, struct file *f)
{
	struct hrpck_file *hf = f->private_data;
	struct hrpck_file_sub *s, *stmp;
	struct hrpck_file_event *e, *etmp;

	list_for_each_entry_safe(s, stmp, &hf->subs, node) {
		hrpck_event_unsubscribe(hf->chan, &s->sub);
		kfree(s);
	}
	list_for_each_entry_safe(e, etmp, &hf->events, node)
		kfree(e);
	hrpck_chan_put(hf->chan);
	kfree(hf);
	return 0;
}

static ssize_t hrpck_read(struct file *f, char __user *buf, size_t count,
			  loff_t *ppos)
{
	struct hrpck_file *hf = f->private_data;
	struct hrpck_file_event *e;
	size_t need;
	int ret;

	for (;;) {
		spin_lock_irq(&hf->lock);
		e = list_first_entry_or_null(&hf->events, struct hrpck_file_event,
					     node);
		if (e) {
			need = sizeof(e->ev) + e->ev.len;
			if (count < need) {
				spin_unlock_irq(&hf->lock);
				return -EMSGSIZE;
			}
			list_del(&e->node);
			hf->nevents--;
			hf->bytes -= e->ev.len;
		}
		spin_unlock_irq(&hf->lock);
		if (e)
			break;
		if (f->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(hf->wq,
					       !list_empty_careful(&hf->events));
		if (ret)
			return ret;
	}
	ret = copy_to_user(buf, &e->ev, need) ? -EFAULT : (int)need;
	kfree(e);
	return ret;
}

static __poll_t hrpck_poll(struct file *f, poll_table *wait)
{
	struct hrpck_file *hf = f->private_data;
	__poll_t mask = 0;

	poll_wait(f, &hf->wq, wait);
	if (!list_empty_careful(&hf->events))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(hf->chan->state) == HRPCK_STATE_DEAD)
		mask |= EPOLLHUP;
	return mask;
}

/*
 * Copy an ioctl argument that starts with `argsz`.  There is no older,
 * shorter layout, so argsz must cover ours; a newer caller's longer struct
 * is accepted when the fields we do not know are zero (E2BIG otherwise), so
 * fields can be appended without breaking either side.
 */
static int copy_ioc_arg(void *dst, size_t ksize, const void __user *argp)
{
	u32 argsz;

	if (get_user(argsz, (const u32 __user *)argp))
		return -EFAULT;
	if (argsz < ksize)
		return -EINVAL;
	return copy_struct_from_user(dst, ksize, argp, argsz);
}

static long hrpck_ioctl_info(struct hrpck_file *hf, void __user *argp)
{
	struct hrpc_ioc_info info = {};
	u32 argsz;

	if (get_user(argsz, (u32 __user *)argp))
		return -EFAULT;
	if (argsz < sizeof(info))
		return -EINVAL;
	hrpck_chan_fill_info(hf->chan, &info);
	info.argsz = sizeof(info);
	return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * HRPC_IOC_CALL_ASYNC: the call goes through hrpck_call_async() and the
 * ioctl waits for its completion callback.  The context (with the reply
 * buffer) is shared by the waiter and the callback; whoever drops the last
 * reference frees it, so a waiter that gives up leaves safely.
 */
struct hrpck_async_ctx {
	struct hrpck_call call;
	struct completion done;
	refcount_t ref;
	void *req;
	void *rep;
};

static void async_ctx_put(struct hrpck_async_ctx *ctx)
{
	if (!refcount_dec_and_test(&ctx->ref))
		return;
	kfree(ctx->req);
	kvfree(ctx->rep);	/* may be hard irq: vfree defers */
	kfree(ctx);
}

static void async_done(struct hrpck_call *call)
{
	struct hrpck_async_ctx *ctx = container_of(call, struct hrpck_async_ctx, call);

	complete(&ctx->done);
	async_ctx_put(ctx);
}

static int call_async_wait(struct hrpck_chan *chan, struct hrpck_async_ctx *ctx,
			   unsigned int timeout_ms)
{
	long left;
	int ret;

	init_completion(&ctx->done);
	refcount_set(&ctx->ref, 2);
	ctx->call.done = async_done;
	ret = hrpck_call_async(chan, &ctx->call, GFP_KERNEL);
	if (ret) {
		refcount_set(&ctx->ref, 1);	/* the callback will not run */
		return ret;
	}
	left = wait_for_completion_interruptible_timeout(&ctx->done,
							 msecs_to_jiffies(timeout_ms));
	if (left > 0)
		return 0;
	return left ? -EINTR : -ETIMEDOUT;
}

static long hrpck_ioctl_call(struct hrpck_file *hf, void __user *argp)
{
	struct hrpck_chan *chan = hf->chan;
	struct hrpck_async_ctx *ctx;
	struct hrpck_bulk *bulk = NULL;
	struct hrpc_ioc_call a;
	struct hrpck_call *call;
	unsigned int timeout;
	u32 rep_cap;
	long ret;

	ret = copy_ioc_arg(&a, sizeof(a), argp);
	if (ret)
		return ret;
	if (a.flags & ~HRPC_IOC_CALL_FLAGS)
		return -EINVAL;
	if (a.service == HRPC_SVC_CONTROL)
		return -EPERM;
	if (a.req_len > HRPC_MSG_MAX_PAYLOAD)
		return -E2BIG;
	if (a.bulk_cap > HRPC_IOC_MAX_BULK || a.bulk_len > a.bulk_cap)
		return -E2BIG;
	rep_cap = min_t(u32, a.rep_cap, HRPC_MSG_MAX_PAYLOAD);
	timeout = a.timeout_ms ?: hrpck_call_timeout_ms;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	refcount_set(&ctx->ref, 1);
	call = &ctx->call;
	if (a.req_len) {
		ctx->req = memdup_user(u64_to_user_ptr(a.req), a.req_len);
		if (IS_ERR(ctx->req)) {
			ret = PTR_ERR(ctx->req);
			ctx->req = NULL;
			goto out;
		}
	}
	if (rep_cap) {
		ctx->rep = kvmalloc(rep_cap, GFP_KERNEL);
		if (!ctx->rep) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (a.bulk_cap) {
		bulk = hrpck_bulk_alloc(chan, a.bulk_cap, GFP_KERNEL);
		if (IS_ERR(bulk)) {
			ret = PTR_ERR(bulk);
			bulk = NULL;
			goto out;
		}
		if (copy_from_user(bulk->ptr, u64_to_user_ptr(a.bulk_in),
				   a.bulk_len)) {
			ret = -EFAULT;
			goto out;
		}
	}

	call->service = a.service;
	call->proc = a.proc;
	call->flags = (a.flags & HRPC_IOC_CALL_POLL) ? HRPCK_CALL_POLL : 0;
	call->poll_us = a.poll_us;
	call->req = ctx->req;
	call->req_len = a.req_len;
	call->rep = ctx->rep;
	call->rep_cap = rep_cap;
	call->bulk = bulk;
	call->bulk_len = a.bulk_len;
	if (a.flags & HRPC_IOC_CALL_ASYNC)
		ret = call_async_wait(chan, ctx, timeout);
	else
		ret = hrpck_chan_call(chan, call, timeout);
	if (ret)
		goto out;

	a.status = call->status;
	a.rep_len = call->rep_len;
	a.rep_bulk_pos = call->rep_bulk_pos;
	a.rep_bulk_len = call->rep_bulk_len;
	a.elapsed_ns = call->elapsed_ns;
	if (call->rep_len &&
	    copy_to_user(u64_to_user_ptr(a.rep), ctx->rep,
			 min(call->rep_len, rep_cap))) {
		ret = -EFAULT;
		goto out;
	}
	/* The core checked pos + len against the buffer.  The bytes are the
	 * host's: copied as they are, never interpreted.
	 */
	if (bulk && call->rep_bulk_len && a.bulk_out_cap &&
	    copy_to_user(u64_to_user_ptr(a.bulk_out),
			 (u8 *)bulk->ptr + call->rep_bulk_pos,
			 min(call->rep_bulk_len, a.bulk_out_cap))) {
		ret = -EFAULT;
		goto out;
	}
	if (copy_to_user(argp, &a, sizeof(a)))
		ret = -EFAULT;
out:
	/* The core keeps its own bulk reference while the host owes a reply. */
	hrpck_bulk_put(bulk);
	async_ctx_put(ctx);
	return ret;
}

/* Testing only, see hrpck_chan_debug_forge(). */
static long hrpck_ioctl_forge(struct hrpck_file *hf, void __user *argp)
{
	struct hrpc_ioc_forge a;
	int ret;

	if (!hrpck_debug_forge)
		return -EPERM;
	ret = copy_ioc_arg(&a, sizeof(a), argp);
	if (ret)
		return ret;
	if (a.flags & ~HRPC_IOC_FORGE_FLAGS)
		return -EINVAL;
	return hrpck_chan_debug_forge(hf->chan, a.what, a.value, a.flags);
}

static long hrpck_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct hrpck_file *hf = f->private_data;
	void __user *argp = (void __user *)arg;
	u32 service;

	/* The size in the command number is that of the caller's header;
	 * argsz carries it (copy_ioc_arg()), so a caller built against a
	 * header with appended fields still reaches the same command. */
	switch (cmd & ~IOCSIZE_MASK) {
	case HRPC_IOC_INFO & ~IOCSIZE_MASK:
		return hrpck_ioctl_info(hf, argp);
	case HRPC_IOC_CALL & ~IOCSIZE_MASK:
		return hrpck_ioctl_call(hf, argp);
	case HRPC_IOC_SUBSCRIBE & ~IOCSIZE_MASK:
		if (get_user(service, (u32 __user *)argp))
			return -EFAULT;
		return hrpck_subscribe(hf, service);
	case HRPC_IOC_UNSUBSCRIBE & ~IOCSIZE_MASK:
		if (get_user(service, (u32 __user *)argp))
			return -EFAULT;
		return hrpck_unsubscribe(hf, service);
	case HRPC_IOC_DEBUG_FORGE & ~IOCSIZE_MASK:
		return hrpck_ioctl_forge(hf, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations hrpck_fops = {
	.owner = THIS_MODULE,
	.open = hrpck_open,
	.release = hrpck_release,
	.read = hrpck_read,
	.poll = hrpck_poll,
	.unlocked_ioctl = hrpck_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

int hrpck_chardev_register(struct hrpck_chan *chan)
{
	int ret;

	snprintf(chan->misc_name, sizeof(chan->misc_name), "%s%u",
		 HRPC_CHARDEV_NAME, chan->index);
	chan->misc.minor = MISC_DYNAMIC_MINOR;
	chan->misc.name = chan->misc_name;
	chan->misc.fops = &hrpck_fops;
	chan->misc.parent = chan->parent;
	chan->misc.mode = 0600;
	ret = misc_register(&chan->misc);
	if (ret)
		return ret;
	chan->misc_registered = true;
	return 0;
}

void hrpck_chardev_unregister(struct hrpck_chan *chan)
{
	if (!chan->misc_registered)
		return;
	misc_deregister(&chan->misc);
	chan->misc_registered = false;
}
