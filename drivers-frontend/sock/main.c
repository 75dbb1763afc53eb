// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - hostrpc_sock.ko: the guest's AF_INET and AF_INET6 sockets are
 * served by the host's network stack (service 16, include/hostrpc/sock.h).
 *
 * Take-over: at load the module unregisters the built-in PF_INET and
 * PF_INET6 families and registers its own net_proto_family for both.  The
 * kernel keeps no way back to the built-in families for a module (their
 * ops are static in af_inet.c / af_inet6.c), so the module is permanent:
 * it has no exit function and cannot be unloaded.  Types other than
 * SOCK_STREAM and SOCK_DGRAM fail with -ESOCKTNOSUPPORT (README.md).
 *
 * Channel: the first hostrpc_core channel.  When it attaches, a work item
 * says INIT (granting event credits); when it detaches (host reset) every
 * existing socket is dead (-ECONNRESET, POLLERR|POLLHUP) and new ones wait
 * for the next INIT.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/notifier.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "hsock.h"

#define INIT_CREDIT   1024u
#define CREDIT_BATCH  256u
#define CALL_TIMEOUT  (30 * HZ)
#define READY_TIMEOUT (10 * HZ)

static unsigned int credit = INIT_CREDIT;
module_param(credit, uint, 0444);
MODULE_PARM_DESC(credit, "READY event credits granted to the host (<= 4096)");

/*
 * Version 2 (data rings per socket, area.c) unless v2=0: a host that does
 * not speak it refuses INIT version 2 and the module falls back to 1.
 */
static bool v2 = true;
module_param(v2, bool, 0444);
MODULE_PARM_DESC(v2, "ask for version 2 (data rings per socket; default 1); 0: every send/recv is a call");

DEFINE_XARRAY_FLAGS(hsock_table, XA_FLAGS_LOCK_IRQ);

static DEFINE_MUTEX(hsock_lock);        /* chan, subscription, ready */
static struct hrpck_chan *hsock_chan;    /* referenced */
static bool hsock_ready;                /* INIT done on hsock_chan */
static bool hsock_failed;               /* the host refused INIT: fail fast */
static bool hsock_v2;                   /* the last INIT gave version 2 with areas */
static u32 hsock_gen = 1;
static DECLARE_WAIT_QUEUE_HEAD(hsock_ready_wq);
static atomic_t hsock_ev_used = ATOMIC_INIT(0);
static struct hrpck_event_sub hsock_sub;
static bool hsock_subscribed;

static void hsock_init_fn(struct work_struct *w);
static void hsock_credit_fn(struct work_struct *w);
static DECLARE_WORK(hsock_init_work, hsock_init_fn);
static DECLARE_WORK(hsock_credit_work, hsock_credit_fn);

u32 hsock_current_gen(void)
{
	return READ_ONCE(hsock_gen);
}

bool hsock_areas(void)
{
	return READ_ONCE(hsock_v2);
}

struct hrpck_chan *hsock_chan_get(void)
{
	struct hrpck_chan *chan = NULL;

	/* Attaching (or re-attaching after a host reset): wait a little. */
	if (READ_ONCE(hsock_chan) && !READ_ONCE(hsock_failed))
		wait_event_interruptible_timeout(hsock_ready_wq,
						 READ_ONCE(hsock_ready) || READ_ONCE(hsock_failed),
						 READY_TIMEOUT);
	mutex_lock(&hsock_lock);
	if (hsock_ready && hsock_chan) {
		chan = hsock_chan;
		hrpck_chan_hold(chan);
	}
	mutex_unlock(&hsock_lock);
	return chan ?: ERR_PTR(-ENETDOWN);
}

/* ---- calls that signals cannot tear in half --------------------------------- */

struct hsock_ctx {
	struct hrpck_call call;
	struct completion done;
	refcount_t ref;
	struct hrpck_bulk *hold;  /* dropped when the call completes */
	u32 rep_cap;
	u8 rep[];
};

static void ctx_put(struct hsock_ctx *c)
{
	if (refcount_dec_and_test(&c->ref))
		kfree(c);
}

static void ctx_done(struct hrpck_call *call)
{
	struct hsock_ctx *c = container_of(call, struct hsock_ctx, call);

	/* The host answered (or the channel reset): it no longer touches
	 * what the call handed over.  Any context may drop a bulk. */
	hrpck_bulk_put(c->hold);
	complete(&c->done);
	ctx_put(c);
}

/*
 * A call that was to carry a held bulk never went out.  If the channel is
 * gone the host's side of it is gone too and the bulk can go; else (a
 * signal or no memory while the host still serves the socket) the host may
 * still write there, so the pages are left to it: a bounded leak on a rare
 * path, never memory that two users share.
 */
static void hold_failed(struct hrpck_bulk *hold, int err)
{
	if (!hold)
		return;
	if (err == -ENOTCONN || err == -ECONNRESET || err == -ENODEV || err == -EPROTO)
		hrpck_bulk_put(hold);
	else
		pr_warn_ratelimited("hostrpc_sock: a socket area stays allocated (call failed: %d)\n",
				    err);
}

int hsock_call(struct hrpck_chan *chan, struct hsock_call_args *args)
{
	struct hsock_ctx *c;
	long left;
	int ret;

	args->rep_len = 0;
	args->rep_bulk_pos = 0;
	args->rep_bulk_len = 0;
	c = kmalloc(sizeof(*c) + args->rep_cap, GFP_KERNEL);
	if (!c) {
		hold_failed(args->hold, -ENOMEM);
		return -ENOMEM;
	}
	c->hold = args->hold;
	memset(&c->call, 0, sizeof(c->call));
	init_completion(&c->done);
	refcount_set(&c->ref, 2);   /* ours + the completion's */
	c->rep_cap = args->rep_cap;
	c->call.service = HRPC_SVC_SOCK;
	c->call.proc = args->proc;
	c->call.req = args->req;
	c->call.req_len = args->req_len;
	c->call.rep = args->rep_cap ? c->rep : NULL;
	c->call.rep_cap = args->rep_cap;
	c->call.bulk = args->bulk;
	c->call.bulk_len = args->bulk_len;
	c->call.done = ctx_done;
	if (args->nowait)
		c->call.flags = HRPCK_CALL_LAZY;
	ret = hrpck_call_async(chan, &c->call, GFP_KERNEL);
	if (ret) {
		hold_failed(args->hold, ret);
		kfree(c);
		return ret;
	}
	if (args->nowait) {
		ctx_put(c);	/* the completion's reference finishes it */
		return 0;
	}
	/* The request was copied into the ring by now; only the reply is
	 * still to come. */
	left = wait_for_completion_killable_timeout(&c->done, CALL_TIMEOUT);
	if (left <= 0) {
		ctx_put(c);
		return left ? -EINTR : -ETIMEDOUT;
	}
	ret = c->call.status;
	args->rep_len = min(c->call.rep_len, args->rep_cap);
	if (args->rep && args->rep_len)
		memcpy(args->rep, c->rep, args->rep_len);
	args->rep_bulk_pos = c->call.rep_bulk_pos;
	args->rep_bulk_len = c->call.rep_bulk_len;
	ctx_put(c);
	return ret;
}

/* ---- readiness events ------------------------------------------------------------ */

void hsock_apply(struct hsk *hs, const struct hrpc_sock_state *st)
{
	unsigned long flags;
	bool wake = false;

	spin_lock_irqsave(&hs->slock, flags);
	if (!hs->known || hrpc_sock_seq_after(st->seq, hs->seq)) {
		hs->mask = st->mask;
		hs->seq = st->seq;
		hs->known = true;
		if (!(st->mask & HRPC_POLLERR))
			hs->err_fetched = false;
		wake = !hs->dead;
	}
	if (hs->area && !hs->dead) {
		/* A ring moved or the host's words changed: the mask is only a
		 * wake-up (the rings say what is ready), and every waiter is
		 * woken, whatever it waits for, and whatever the seq says. */
		wake_up_interruptible_all(sk_sleep(&hs->sk));
	} else if (wake) {
		wake_up_interruptible_poll(sk_sleep(&hs->sk), (__poll_t)st->mask);
	}
	spin_unlock_irqrestore(&hs->slock, flags);
}

/* Atomic context, channel lock held: no calls from here. */
static void hsock_event(void *ctx, u16 service, u16 event, const void *payload, u32 len)
{
	const struct hrpc_sock_ev_state *e = payload;
	u32 n = len / sizeof(*e), i;

	if (event != HRPC_SOCK_EV_READY || len % sizeof(*e))
		return;
	rcu_read_lock();
	for (i = 0; i < n; i++) {
		struct hsk *hs = xa_load(&hsock_table, hrpc_sock_handle_index(e[i].handle));

		if (hs && READ_ONCE(hs->handle) == e[i].handle)
			hsock_apply(hs, &e[i].state);
	}
	rcu_read_unlock();
	if (atomic_inc_return(&hsock_ev_used) >= CREDIT_BATCH)
		schedule_work(&hsock_credit_work);
}

static void hsock_credit_fn(struct work_struct *w)
{
	struct hrpc_sock_credit r = { 0 }, o;
	struct hrpck_chan *chan;
	int used;

	mutex_lock(&hsock_lock);
	chan = hsock_ready ? hsock_chan : NULL;
	if (chan)
		hrpck_chan_hold(chan);
	mutex_unlock(&hsock_lock);
	if (!chan)
		return;
	used = atomic_xchg(&hsock_ev_used, 0);
	if (used > 0) {
		r.credit = used;
		if (hsock_call(chan, &(struct hsock_call_args){
				.proc = HRPC_SOCK_CREDIT, .req = &r, .req_len = sizeof(r),
				.rep = &o, .rep_cap = sizeof(o),
			}))
			atomic_add(used, &hsock_ev_used); /* try again with the next batch */
	}
	hrpck_chan_put(chan);
}

/* ---- channel life cycle ------------------------------------------------------------ */

static void hsock_init_fn(struct work_struct *w)
{
	struct hrpc_sock_init_req r = { .version = v2 ? HRPC_SOCK_VERSION_2 : HRPC_SOCK_VERSION,
					.credit = min(credit, HRPC_SOCK_MAX_CREDIT) };
	struct hrpc_sock_init_rep o;
	struct hrpck_chan *chan;
	int ret;

	mutex_lock(&hsock_lock);
	chan = hsock_chan;
	if (chan)
		hrpck_chan_hold(chan);
	mutex_unlock(&hsock_lock);
	if (!chan)
		return;
	if (!hrpck_chan_attached(chan)) {
		hrpck_chan_put(chan);
		return;
	}
	atomic_set(&hsock_ev_used, 0);
	WRITE_ONCE(hsock_v2, false);
	memset(&o, 0, sizeof(o));
	ret = hsock_call(chan, &(struct hsock_call_args){
		.proc = HRPC_SOCK_INIT, .req = &r, .req_len = sizeof(r),
		.rep = &o, .rep_cap = sizeof(o),
	});
	if (ret == -EPROTONOSUPPORT && r.version == HRPC_SOCK_VERSION_2) {
		/* A version 1 host (or a transport without shared memory). */
		r.version = HRPC_SOCK_VERSION;
		memset(&o, 0, sizeof(o));
		ret = hsock_call(chan, &(struct hsock_call_args){
			.proc = HRPC_SOCK_INIT, .req = &r, .req_len = sizeof(r),
			.rep = &o, .rep_cap = sizeof(o),
		});
	}
	if (!ret && r.version == HRPC_SOCK_VERSION_2 && o.version == HRPC_SOCK_VERSION_2 &&
	    (o.features & HRPC_SOCK_FEAT_AREAS))
		WRITE_ONCE(hsock_v2, true);
	if (ret) {
		pr_warn("hostrpc_sock: host refused INIT: %d (no outsourced sockets)\n", ret);
		WRITE_ONCE(hsock_failed, true);
		wake_up_all(&hsock_ready_wq);
	} else {
		mutex_lock(&hsock_lock);
		if (hsock_chan == chan) {
			WRITE_ONCE(hsock_ready, true);
			WRITE_ONCE(hsock_failed, false);
		}
		mutex_unlock(&hsock_lock);
		pr_info("hostrpc_sock: host sockets ready (version %u%s, quota %u, credit %u)\n",
			READ_ONCE(hsock_v2) ? 2 : 1, READ_ONCE(hsock_v2) ? ", data rings" : "",
			o.max_sockets, r.credit);
		wake_up_all(&hsock_ready_wq);
	}
	hrpck_chan_put(chan);
}

static int hsock_notify(struct notifier_block *nb, unsigned long ev, void *data)
{
	struct hrpck_chan *chan = data;

	switch (ev) {
	case HRPCK_CHAN_ADDED:
		mutex_lock(&hsock_lock);
		if (!hsock_chan) {
			hrpck_chan_hold(chan);
			hsock_chan = chan;
			hsock_sub.service = HRPC_SVC_SOCK;
			hsock_sub.fn = hsock_event;
			hsock_sub.ctx = NULL;
			hsock_subscribed = !hrpck_event_subscribe(chan, &hsock_sub);
		}
		mutex_unlock(&hsock_lock);
		break;
	case HRPCK_CHAN_ATTACHED:
		if (chan == READ_ONCE(hsock_chan))
			schedule_work(&hsock_init_work);
		break;
	case HRPCK_CHAN_DETACHED:
	case HRPCK_CHAN_REMOVED:
		if (chan != READ_ONCE(hsock_chan))
			break;
		mutex_lock(&hsock_lock);
		WRITE_ONCE(hsock_ready, false);
		WRITE_ONCE(hsock_gen, hsock_gen + 1);
		mutex_unlock(&hsock_lock);
		/* The host's table is gone with its worker: every socket. */
		hsock_reset_all();
		if (ev == HRPCK_CHAN_REMOVED) {
			mutex_lock(&hsock_lock);
			if (hsock_subscribed)
				hrpck_event_unsubscribe(chan, &hsock_sub);
			hsock_subscribed = false;
			hsock_chan = NULL;
			mutex_unlock(&hsock_lock);
			hrpck_chan_put(chan);
		}
		break;
	}
	return NOTIFY_OK;
}

static struct notifier_block hsock_nb = { .notifier_call = hsock_notify };

static const struct net_proto_family hsock_family4 = {
	.family = PF_INET,
	.create = hsock_create4,
	.owner = THIS_MODULE,
};

static const struct net_proto_family hsock_family6 = {
	.family = PF_INET6,
	.create = hsock_create6,
	.owner = THIS_MODULE,
};

static int __init hsock_init(void)
{
	int ret;

	ret = hsock_proto_register();
	if (ret)
		return ret;
	ret = hrpck_register_notifier(&hsock_nb);
	if (ret)
		goto err_proto;
	/* Point of no return: the built-in families cannot be restored. */
	sock_unregister(PF_INET);
	ret = sock_register(&hsock_family4);
	if (ret)
		pr_err("hostrpc_sock: cannot register PF_INET: %d\n", ret);
	sock_unregister(PF_INET6);
	ret = sock_register(&hsock_family6);
	if (ret)
		pr_err("hostrpc_sock: cannot register PF_INET6: %d\n", ret);
	pr_info("hostrpc_sock: AF_INET and AF_INET6 sockets are now served by the host\n");
	return 0;

	/* Before the point of no return, unwind in reverse: a failed load
	 * frees the module, so nothing may keep pointing into it. */
err_proto:
	hsock_proto_unregister();
	return ret;
}
module_init(hsock_init);
/* No module_exit: the module is permanent (see the top of this file). */

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hostrpc socket outsourcing: the guest's TCP/UDP in the host's stack");
MODULE_SOFTDEP("pre: hostrpc_core");
