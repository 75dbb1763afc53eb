// SPDX-License-Identifier: GPL-2.0
/*
 * The transport independent Host RPC client: attach/reset state
 * machine, calls and their in-flight table, the response ring, events.
 *
 * The guest is the client: it produces CALLs on the request ring and
 * consumes replies and events from the response ring (include/hostrpc/ring.h
 * does all ring work; this file only decides when).  Everything read from
 * shared memory is hostile: headers are copied out by hrpc_ring_get() and
 * checked with hrpc_msg_check(), call ids are looked up in a table of
 * never-reused 64-bit ids, and a reply's bulk reference must lie inside the
 * buffer of its call.  A host that breaks the ring protocol fences the
 * channel (state BROKEN, calls fail with -EPROTO) until it resets it.
 *
 * Interrupts: the host rings vector 0 after publishing when we asked for it
 * (hrpc_ring_arm() sets prod_event).  We only ask while somebody sleeps on
 * a reply, an async call is out, events are subscribed, or we attach; a
 * polling caller that finds its reply while spinning causes no interrupt.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/device.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/mm.h>

#include <hostrpc/msg.h>

#include "chan.h"

/**
 * struct hrpck_pending - one call in flight (core owned)
 * @node: in chan->inflight, keyed by @id, while the host owes a reply
 * @cnode: on a local list of async completions to run without the lock
 * @id: wire call id; ids are never reused, so a late reply cannot match a
 *      newer call
 * @call: the caller's call, or NULL once a synchronous caller gave up
 *        (timeout/signal): the entry then only keeps @bulk referenced
 *        until the host's reply (or a reset) proves it is done with it
 * @bulk: reference on the call's bulk buffer (or NULL)
 * @bulk_off: private copy of the buffer geometry the reply is checked against
 * @bulk_cap: ditto
 * @attach_seq: chan->attach_seq at submission
 * @err: transport error the call failed with locally (0 if a reply came)
 * @sync: a thread waits on @done_c
 * @done: reply (or failure) delivered; set under chan->lock
 * @done_c: completes when @done is set (sync only)
 * @t_start: ktime_get_ns() before publishing
 */
struct hrpck_pending {
	struct hlist_node node;
	struct list_head cnode;
	u64 id;
	struct hrpck_call *call;
	struct hrpck_bulk *bulk;
	u32 bulk_off;
	u32 bulk_cap;
	u32 attach_seq;
	int err;
	bool sync;
	bool done;
	struct completion done_c;
	u64 t_start;
};

static struct kmem_cache *hrpck_pending_cache;

int hrpck_chan_cache_init(void)
{
	hrpck_pending_cache = KMEM_CACHE(hrpck_pending, 0);
	return hrpck_pending_cache ? 0 : -ENOMEM;
}

void hrpck_chan_cache_exit(void)
{
	kmem_cache_destroy(hrpck_pending_cache);
}

static void pending_free(struct hrpck_pending *p)
{
	if (p->bulk)
		hrpck_bulk_put(p->bulk);
	kmem_cache_free(hrpck_pending_cache, p);
}

static int state_errno(enum hrpck_chan_state state)
{
	switch (state) {
	case HRPCK_STATE_ATTACHED:
		return 0;
	case HRPCK_STATE_BROKEN:
		return -EPROTO;
	case HRPCK_STATE_DEAD:
		return -ENODEV;
	default:
		return -ENOTCONN;
	}
}

static bool want_irq(struct hrpck_chan *chan)
{
	lockdep_assert_held(&chan->lock);
	return atomic_read(&chan->irq_users) > 0 || chan->nsubs > 0 ||
	       chan->state == HRPCK_STATE_ATTACHING;
}

static bool ring_live(enum hrpck_chan_state state)
{
	return state == HRPCK_STATE_ATTACHED || state == HRPCK_STATE_ATTACHING;
}

static void rekick_arm(struct hrpck_chan *chan);
static void lazy_work_arm(struct hrpck_chan *chan);

static void kick_locked(struct hrpck_chan *chan)
{
	chan->ops->kick(chan);
	atomic64_inc(&chan->stats.doorbells);
}

/* ---- completion --------------------------------------------------------- */

/*
 * Deliver a result to the owner of @p, which is already out of the table.
 * Sync waiters are completed here, under the lock, so that a waiter that
 * takes the lock afterwards knows nobody touches @p any more.  Async calls
 * go on @done_list and complete after the lock is dropped.  Orphans are
 * freed.
 */
static void pending_finish_locked(struct hrpck_chan *chan,
				  struct hrpck_pending *p,
				  struct list_head *done_list)
{
	lockdep_assert_held(&chan->lock);
	if (!p->call) {
		pending_free(p);
		return;
	}
	p->call->elapsed_ns = ktime_get_ns() - p->t_start;
	if (p->sync) {
		/* Release: the reply fields are visible before @done. */
		smp_store_release(&p->done, true);
		complete(&p->done_c);
	} else {
		p->done = true;
		list_add_tail(&p->cnode, done_list);
	}
}

static void fail_all_locked(struct hrpck_chan *chan, int err,
			    struct list_head *done_list)
{
	struct hrpck_pending *p;
	struct hlist_node *tmp;
	unsigned int bkt;

	lockdep_assert_held(&chan->lock);
	hash_for_each_safe(chan->inflight, bkt, tmp, p, node) {
		hash_del(&p->node);
		p->err = err;
		if (p->call)
			p->call->status = err;
		pending_finish_locked(chan, p, done_list);
	}
}

/* Run async completions collected under the lock.  No lock held. */
static void run_completions(struct hrpck_chan *chan, struct list_head *done_list)
{
	struct hrpck_pending *p, *tmp;

	list_for_each_entry_safe(p, tmp, done_list, cnode) {
		struct hrpck_call *call = p->call;

		list_del(&p->cnode);
		call->done(call);
		atomic_dec(&chan->irq_users);
		pending_free(p);
	}
}

/* The host broke the ring protocol: stop using the channel until a reset. */
static void fence_locked(struct hrpck_chan *chan, const char *why,
			 struct list_head *done_list)
{
	lockdep_assert_held(&chan->lock);
	if (!ring_live(chan->state))
		return;
	dev_err_ratelimited(chan->parent,
			    "host broke the protocol (%s): channel fenced until the host resets it\n",
			    why);
	chan->state = HRPCK_STATE_BROKEN;
	chan->attach_seq++;
	fail_all_locked(chan, -EPROTO, done_list);
	/* Pairs with the host's acquire of guest_state. */
	smp_store_release(&chan->shm->guest_state, HRPC_SHM_STATE_CLOSED);
}

/* ---- response ring ------------------------------------------------------ */

static struct hrpck_pending *inflight_find(struct hrpck_chan *chan, u64 id)
{
	struct hrpck_pending *p;

	hash_for_each_possible(chan->inflight, p, node, id)
		if (p->id == id)
			return p;
	return NULL;
}

static void handle_reply_locked(struct hrpck_chan *chan,
				const struct hrpc_msg_hdr *h,
				struct list_head *done_list)
{
	struct hrpck_pending *p = inflight_find(chan, h->call_id);
	struct hrpck_call *call;
	int status = h->status;

	if (!p) {
		atomic64_inc(&chan->stats.unknown_replies);
		dev_dbg_ratelimited(chan->parent, "reply to unknown call %llx dropped\n",
				    h->call_id);
		return;
	}
	hash_del(&p->node);
	call = p->call;
	if (!call) {
		atomic64_inc(&chan->stats.orphan_replies);
		pending_free(p);
		return;
	}
	atomic64_inc(&chan->stats.replies);

	/* Errors are -errno; anything else from the host is a protocol error. */
	if (status > 0 || status < -MAX_ERRNO) {
		atomic64_inc(&chan->stats.bad_replies);
		status = -EPROTO;
	}
	call->rep_bulk_pos = 0;
	call->rep_bulk_len = 0;
	if (h->flags & HRPC_MSG_F_BULK) {
		/* The reply's bytes must lie in the buffer of this very call. */
		if (!p->bulk || h->bulk_off < p->bulk_off ||
		    (u64)h->bulk_off + h->bulk_len > (u64)p->bulk_off + p->bulk_cap) {
			atomic64_inc(&chan->stats.bad_replies);
			dev_warn_ratelimited(chan->parent,
					     "reply %llx: bulk ref %u+%u outside the call's buffer\n",
					     h->call_id, h->bulk_off, h->bulk_len);
			status = -EPROTO;
		} else {
			call->rep_bulk_pos = h->bulk_off - p->bulk_off;
			call->rep_bulk_len = h->bulk_len;
		}
	}
	call->rep_len = h->len;
	if (h->len && call->rep_cap)
		memcpy(call->rep, chan->scratch, min(h->len, call->rep_cap));
	call->status = status;
	pending_finish_locked(chan, p, done_list);
}

static void handle_event_locked(struct hrpck_chan *chan,
				const struct hrpc_msg_hdr *h)
{
	struct hrpck_event_sub *sub;

	atomic64_inc(&chan->stats.events);
	list_for_each_entry(sub, &chan->subs, node)
		if (sub->service == h->service)
			sub->fn(sub->ctx, h->service, h->proc, chan->scratch, h->len);
}

/*
 * Consume the response ring.  Called from the ring interrupt, from polling
 * callers and before a caller sleeps; @lock serialises them (one consumer).
 */
static void process_locked(struct hrpck_chan *chan, struct list_head *done_list)
{
	struct hrpc_msg_hdr h;
	u32 start = chan->rsp.pvt;
	int ret;

	lockdep_assert_held(&chan->lock);
	while (ring_live(chan->state)) {
		if (READ_ONCE(chan->shm->host_gen) != chan->host_gen ||
		    READ_ONCE(chan->shm->host_state) != HRPC_SHM_STATE_READY) {
			/* The host re-initialises (or fenced) the channel: the
			 * rings are not ours to read any more.
			 */
			queue_work(hrpck_wq, &chan->reset_work);
			return;
		}
		ret = hrpc_ring_get(&chan->rsp, &h, chan->scratch,
				    HRPC_MSG_MAX_PAYLOAD);
		if (ret == -EAGAIN) {
			if (!want_irq(chan) || hrpc_ring_arm(&chan->rsp))
				break;
			continue;	/* something arrived while arming */
		}
		if (ret) {
			fence_locked(chan, "response ring index", done_list);
			return;
		}
		ret = hrpc_msg_check(&h);
		if (ret) {
			fence_locked(chan, "response header", done_list);
			return;
		}
		switch (h.kind) {
		case HRPC_KIND_REPLY:
			handle_reply_locked(chan, &h, done_list);
			break;
		case HRPC_KIND_EVENT:
			handle_event_locked(chan, &h);
			break;
		default:	/* the host does not call the guest here */
			atomic64_inc(&chan->stats.bad_replies);
			break;
		}
	}
	if (chan->rsp.pvt != start && ring_live(chan->state) &&
	    hrpc_ring_consumed_notify(&chan->rsp, start))
		kick_locked(chan);	/* the host waits for response space */
}

static void process(struct hrpck_chan *chan)
{
	LIST_HEAD(done_list);
	unsigned long flags;

	spin_lock_irqsave(&chan->lock, flags);
	process_locked(chan, &done_list);
	spin_unlock_irqrestore(&chan->lock, flags);
	run_completions(chan, &done_list);
}

static bool rsp_pending(struct hrpck_chan *chan)
{
	/* Lockless peek; process() re-checks everything under the lock. */
	return smp_load_acquire(&chan->shm->rsp.prod) != READ_ONCE(chan->rsp.pvt);
}

/**
 * hrpck_chan_ring_irq() - the host rang "look at your rings"
 * @chan: channel
 *
 * Hard interrupt context.  Consumes replies and events and wakes callers
 * waiting for request ring space.
 */
void hrpck_chan_ring_irq(struct hrpck_chan *chan)
{
	atomic64_inc(&chan->stats.ring_irqs);
	process(chan);
	if (wq_has_sleeper(&chan->space_wq))
		wake_up(&chan->space_wq);
}

/**
 * hrpck_chan_reset_irq() - the host rang "channel (re)initialised"
 * @chan: channel
 *
 * Hard interrupt context.  Wakes an attach in progress and schedules a
 * re-attach.
 */
void hrpck_chan_reset_irq(struct hrpck_chan *chan)
{
	atomic64_inc(&chan->stats.reset_irqs);
	wake_up(&chan->attach_wq);
	if (!READ_ONCE(chan->removing))
		queue_work(hrpck_wq, &chan->reset_work);
}

/* ---- request ring ------------------------------------------------------- */

static bool req_has_space(struct hrpck_chan *chan, u32 need, u32 seq)
{
	/* Hint only (pairs with the host's release of cons); the put under
	 * req_lock re-checks with hrpc_ring_space().
	 */
	u32 cons = smp_load_acquire(&chan->shm->req.cons);
	u32 used = READ_ONCE(chan->req.pvt) - cons;

	return READ_ONCE(chan->attach_seq) != seq || used > chan->req.size ||
	       chan->req.size - used >= need;
}

/*
 * Enter @p in the table and publish the call.  Returns 0 when the call was
 * published or when a detach overtook it (then @p was already failed and
 * will complete); -errno when nothing happened and @p is the caller's.
 */
static int submit(struct hrpck_chan *chan, struct hrpck_call *call,
		  struct hrpck_pending *p, bool can_sleep, unsigned long deadline)
{
	bool oneway = call->flags & HRPCK_CALL_ONEWAY;
	struct hrpc_msg_hdr h;
	LIST_HEAD(done_list);
	unsigned long flags;
	bool inserted = false;
	bool notify = false;
	bool lazy_arm = false;
	u32 old;
	int ret;

	hrpc_msg_init(&h, HRPC_KIND_CALL, call->service, call->proc, p->id,
		      call->req_len);
	if (oneway)
		h.flags |= HRPC_MSG_F_ONEWAY;
	if (call->bulk) {
		h.flags |= HRPC_MSG_F_BULK;
		h.bulk_off = p->bulk_off;
		h.bulk_len = call->bulk_len;
		h.bulk_cap = p->bulk_cap;
	}

	spin_lock_irqsave(&chan->req_lock, flags);
	for (;;) {
		spin_lock(&chan->lock);
		if (!inserted) {
			ret = state_errno(chan->state);
			if (chan->state == HRPCK_STATE_ATTACHING &&
			    call->service == HRPC_SVC_CONTROL)
				ret = 0;
			if (ret) {
				spin_unlock(&chan->lock);
				break;
			}
			p->attach_seq = chan->attach_seq;
			if (!oneway)
				hash_add(chan->inflight, &p->node, p->id);
			inserted = true;
		} else if (p->attach_seq != chan->attach_seq) {
			/* detached while we waited for space: @p was failed */
			spin_unlock(&chan->lock);
			ret = oneway ? state_errno(chan->state) : 0;
			break;
		}
		spin_unlock(&chan->lock);

		old = chan->req.pvt;
		p->t_start = ktime_get_ns();
		ret = hrpc_ring_put(&chan->req, &h, call->req);
		if (!ret) {
			atomic64_inc(&chan->stats.calls);
			if (call->flags & HRPCK_CALL_LAZY) {
				/* the decision waits for the batch to end */
				if (!chan->lazy) {
					chan->lazy = true;
					chan->lazy_from = old;
					lazy_arm = true;
				}
				break;
			}
			/* A lazy batch before us: did the host ask for a
			 * doorbell anywhere since its start? */
			if (chan->lazy) {
				old = chan->lazy_from;
				chan->lazy = false;
			}
			notify = hrpc_ring_need_notify(&chan->req, old);
			if (notify)
				kick_locked(chan);
			break;
		}
		if (ret == -EAGAIN)
			ret = hrpc_ring_arm_space(&chan->req, HRPC_RECORD_SIZE(h.len));
		if (ret == 0)
			continue;	/* space appeared meanwhile */
		if (ret < 0)
			goto fence;
		/* ring full: a lazy batch must not wait for a doorbell
		 * nobody rings */
		if (chan->lazy) {
			chan->lazy = false;
			kick_locked(chan);
		}
		/* ring full: wait for the host to consume */
		if (!can_sleep) {
			ret = -EAGAIN;
			goto unpublish;
		}
		spin_unlock_irqrestore(&chan->req_lock, flags);
		ret = wait_event_interruptible_timeout(chan->space_wq,
						       req_has_space(chan, HRPC_RECORD_SIZE(h.len),
								     p->attach_seq),
						       max_t(long, deadline - jiffies, 1));
		spin_lock_irqsave(&chan->req_lock, flags);
		if (ret == -ERESTARTSYS) {
			ret = -EINTR;
			goto unpublish;
		}
		if (ret == 0 && time_after_eq(jiffies, deadline)) {
			ret = -ETIMEDOUT;
			goto unpublish;
		}
	}
	spin_unlock_irqrestore(&chan->req_lock, flags);
	if (lazy_arm)
		lazy_work_arm(chan);
	return ret;

fence:
	spin_lock(&chan->lock);
	fence_locked(chan, "request ring index", &done_list);
	spin_unlock(&chan->lock);
	spin_unlock_irqrestore(&chan->req_lock, flags);
	run_completions(chan, &done_list);
	return oneway ? -EPROTO : 0;	/* @p was failed with -EPROTO */

unpublish:
	/* Never published: take it back unless a detach already failed it. */
	spin_lock(&chan->lock);
	if (!oneway && p->attach_seq == chan->attach_seq)
		hash_del(&p->node);
	else if (!oneway)
		ret = 0;
	spin_unlock(&chan->lock);
	spin_unlock_irqrestore(&chan->req_lock, flags);
	return ret;
}

static int call_check(struct hrpck_chan *chan, const struct hrpck_call *call)
{
	if (call->req_len > HRPC_MSG_MAX_PAYLOAD || (call->req_len && !call->req))
		return -EINVAL;
	if (call->rep_cap && !call->rep)
		return -EINVAL;
	if (call->flags & ~(HRPCK_CALL_POLL | HRPCK_CALL_ONEWAY | HRPCK_CALL_LAZY))
		return -EINVAL;
	if (call->bulk) {
		if (call->flags & HRPCK_CALL_ONEWAY)
			return -EINVAL;
		if (call->bulk_len > call->bulk->cap)
			return -EINVAL;
		if (!hrpck_bulk_valid(chan, call->bulk))
			return -ESTALE;
	}
	return 0;
}

static struct hrpck_pending *pending_new(struct hrpck_chan *chan,
					 struct hrpck_call *call, bool sync,
					 gfp_t gfp)
{
	struct hrpck_pending *p = kmem_cache_zalloc(hrpck_pending_cache, gfp);

	if (!p)
		return NULL;
	INIT_HLIST_NODE(&p->node);
	INIT_LIST_HEAD(&p->cnode);
	p->id = atomic64_inc_return(&chan->next_id);
	p->call = call;
	p->sync = sync;
	init_completion(&p->done_c);
	if (call->bulk) {
		p->bulk = hrpck_bulk_get(call->bulk);
		p->bulk_off = call->bulk->off;
		p->bulk_cap = call->bulk->cap;
	}
	call->status = 0;
	call->rep_len = 0;
	call->rep_bulk_pos = 0;
	call->rep_bulk_len = 0;
	call->elapsed_ns = 0;
	return p;
}

/*
 * Wait for @p.  Polling first if asked, then sleeping with the ring
 * interrupt armed; the doorbell is rung again every hrpck_rekick_ms in case
 * one was lost (live migration can drop doorbells).
 */
static int wait_reply(struct hrpck_chan *chan, struct hrpck_pending *p,
		      unsigned int poll_us, unsigned long deadline, bool forever)
{
	unsigned long flags;
	long left;
	int ret = 0;

	if (poll_us) {
		u64 t0 = ktime_get_ns(), budget = (u64)poll_us * NSEC_PER_USEC;

		/* Acquire pairs with the release in pending_finish_locked(). */
		while (!smp_load_acquire(&p->done)) {
			if (rsp_pending(chan)) {
				process(chan);
				continue;
			}
			if (ktime_get_ns() - t0 > budget)
				break;
			cpu_relax();
		}
		/* As above: the reply fields are visible once done is. */
		if (smp_load_acquire(&p->done)) {
			atomic64_inc(&chan->stats.poll_hits);
			return 0;
		}
		atomic64_inc(&chan->stats.poll_misses);
	}

	atomic_inc(&chan->irq_users);
	process(chan);		/* arms the interrupt */
	for (;;) {
		unsigned long slice = msecs_to_jiffies(hrpck_rekick_ms ?: 1000);

		if (!forever) {
			if (time_after_eq(jiffies, deadline)) {
				ret = -ETIMEDOUT;
				break;
			}
			slice = min(slice, deadline - jiffies);
		}
		left = wait_for_completion_interruptible_timeout(&p->done_c, slice);
		if (left > 0)
			break;
		if (left < 0) {
			ret = -EINTR;
			break;
		}
		/* slice over: re-ring in case a doorbell was lost */
		spin_lock_irqsave(&chan->lock, flags);
		if (ring_live(chan->state))
			kick_locked(chan);
		spin_unlock_irqrestore(&chan->lock, flags);
		process(chan);
	}
	atomic_dec(&chan->irq_users);
	return ret;
}

/**
 * hrpck_chan_call() - synchronous call, transport result only
 * @chan: channel
 * @call: the call; results in its out fields
 * @timeout_ms: 0 = no timeout
 *
 * Return: 0 when a reply arrived (its status is in @call->status), else a
 * transport error (see hostrpc_core.h).
 */
int hrpck_chan_call(struct hrpck_chan *chan, struct hrpck_call *call,
		    unsigned int timeout_ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);
	bool forever = !timeout_ms;
	struct hrpck_pending *p;
	unsigned long flags;
	int ret;

	might_sleep();
	if (call->flags & HRPCK_CALL_LAZY)
		return -EINVAL;	/* a waiter wants its doorbell now */
	ret = call_check(chan, call);
	if (ret)
		return ret;
	p = pending_new(chan, call, true, GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	if (forever)
		deadline = jiffies + MAX_JIFFY_OFFSET;
	ret = submit(chan, call, p, true, deadline);
	if (ret || (call->flags & HRPCK_CALL_ONEWAY)) {
		pending_free(p);
		if (!ret)
			rekick_arm(chan);   /* nobody waits for a one-way call */
		return ret;
	}

	ret = wait_reply(chan, p, (call->flags & HRPCK_CALL_POLL) ?
			 (call->poll_us ?: hrpck_poll_us) : 0, deadline, forever);

	spin_lock_irqsave(&chan->lock, flags);
	if (!p->done) {
		/* Give up, but leave the entry (and its bulk reference) in the
		 * table until the host answers or the channel resets.
		 */
		p->call = NULL;
		spin_unlock_irqrestore(&chan->lock, flags);
		return ret ?: -ETIMEDOUT;
	}
	spin_unlock_irqrestore(&chan->lock, flags);
	ret = p->err;
	pending_free(p);
	return ret;
}

/**
 * hrpck_call() - make a synchronous call and wait for its reply
 * @chan: channel from hrpck_chan_get()
 * @call: the call; inputs are read, outputs written; may live on the stack
 * @timeout_ms: give up after this long (0 = wait until a reply, a signal,
 *              a reset or removal)
 *
 * Sleeps (interruptibly).  With HRPCK_CALL_POLL in @call->flags, spins on
 * the response ring for up to @call->poll_us (or the module's poll_us)
 * first.  A caller that gives up may free its bulk buffer at once: the
 * core keeps its own reference until the host is done with it.
 *
 * Return: the host's status (0 or -errno) when a reply arrived; -EMSGSIZE
 * if the reply payload did not fit in @call->rep_cap (@call->rep holds the
 * first rep_cap bytes); otherwise a transport error (see hostrpc_core.h).
 */
/**
 * hrpck_chan_poll() - spin on the response ring until a condition holds
 * @chan: channel from hrpck_chan_get()
 * @cond: checked before each step; true ends the spin
 * @arg: for @cond
 * @poll_us: spin budget in microseconds (0: the module's poll_us)
 *
 * For a caller of hrpck_call_async() about to sleep on its completion:
 * replies are processed here (their completion callbacks run in this
 * context) until @cond(@arg) or the budget is spent, so a fast host costs
 * no interrupt and no wake-up.  Process context; never sleeps.
 *
 * Return: @cond(@arg) at the end.
 */
bool hrpck_chan_poll(struct hrpck_chan *chan, bool (*cond)(void *arg), void *arg,
		     unsigned int poll_us)
{
	u64 t0 = ktime_get_ns(), budget = (u64)(poll_us ?: hrpck_poll_us) * NSEC_PER_USEC;

	while (!cond(arg)) {
		if (rsp_pending(chan)) {
			process(chan);
			continue;
		}
		if (ktime_get_ns() - t0 > budget) {
			bool hit = cond(arg);

			atomic64_inc(hit ? &chan->stats.poll_hits : &chan->stats.poll_misses);
			return hit;
		}
		cpu_relax();
	}
	atomic64_inc(&chan->stats.poll_hits);
	return true;
}
EXPORT_SYMBOL_GPL(hrpck_chan_poll);

int hrpck_call(struct hrpck_chan *chan, struct hrpck_call *call,
	       unsigned int timeout_ms)
{
	int ret = hrpck_chan_call(chan, call, timeout_ms);

	if (ret)
		return ret;
	if (call->flags & HRPCK_CALL_ONEWAY)
		return 0;
	if (call->status)
		return call->status;
	if (call->rep_len > call->rep_cap)
		return -EMSGSIZE;
	return 0;
}
EXPORT_SYMBOL_GPL(hrpck_call);

/* Calls the host has not taken yet (one-way ones too, which no one waits
 * for): the host asked for no doorbell, or one was lost. */
static bool req_pending(struct hrpck_chan *chan)
{
	long space = hrpc_ring_space(&chan->req);

	return space >= 0 && (u32)space < chan->req.size;
}

/* A lazy batch began: decide about its doorbell a jiffy from now (with a
 * channel reference) unless a later call decides first. */
static void lazy_work_arm(struct hrpck_chan *chan)
{
	hrpck_chan_hold(chan);
	if (!queue_delayed_work(hrpck_wq, &chan->lazy_work, 1))
		hrpck_chan_put(chan);   /* already queued, with its own */
}

static void lazy_work_fn(struct work_struct *work)
{
	struct hrpck_chan *chan = container_of(to_delayed_work(work), struct hrpck_chan,
					       lazy_work);
	unsigned long flags;

	spin_lock_irqsave(&chan->req_lock, flags);
	spin_lock(&chan->lock);
	if (chan->lazy) {
		chan->lazy = false;
		if (ring_live(chan->state) && hrpc_ring_need_notify(&chan->req, chan->lazy_from))
			kick_locked(chan);
	}
	spin_unlock(&chan->lock);
	spin_unlock_irqrestore(&chan->req_lock, flags);
	hrpck_chan_put(chan);   /* this instance's reference */
}

/* Queue the rekick work (with a channel reference) unless it is queued. */
static void rekick_arm(struct hrpck_chan *chan)
{
	hrpck_chan_hold(chan);
	if (!queue_delayed_work(hrpck_wq, &chan->rekick_work,
				msecs_to_jiffies(hrpck_rekick_ms ?: 1000)))
		hrpck_chan_put(chan);   /* already queued, with its own */
}

/*
 * Async callers do not sleep in chan_wait(), which rings again every
 * slice in case a doorbell was lost: do it for them while any call is out
 * (irq_users counts them) or a call sits in the request ring untaken (a
 * one-way call: hostrpc_sock's KICK), and process the response ring in
 * case an interrupt was lost.
 */
static void rekick_work_fn(struct work_struct *work)
{
	struct hrpck_chan *chan = container_of(to_delayed_work(work), struct hrpck_chan,
					       rekick_work);
	unsigned long flags;

	if ((atomic_read(&chan->irq_users) || req_pending(chan)) && !READ_ONCE(chan->removing)) {
		spin_lock_irqsave(&chan->lock, flags);
		if (ring_live(chan->state))
			kick_locked(chan);
		spin_unlock_irqrestore(&chan->lock, flags);
		process(chan);
		rekick_arm(chan);
	}
	hrpck_chan_put(chan);   /* this instance's reference */
}

/**
 * hrpck_call_async() - publish a call; @call->done runs when it completes
 * @chan: channel from hrpck_chan_get()
 * @call: the call, with @call->done set; must stay valid until done ran
 * @gfp: allocation flags; if they allow blocking, waits for request ring
 *       space, else fails with -EAGAIN when the ring is full
 *
 * @call->done runs exactly once if this returns 0: in hard irq context or in
 * the context of whoever processed the response ring (possibly this
 * caller, before hrpck_call_async() returns), with @call->status set to the
 * host's status or a transport error (-ECONNRESET, -EPROTO, -ENODEV).
 * One-way calls are not supported here (use hrpck_call()).
 *
 * Return: 0 or -errno (then @call->done will not run).
 */
int hrpck_call_async(struct hrpck_chan *chan, struct hrpck_call *call, gfp_t gfp)
{
	struct hrpck_pending *p;
	int ret;

	if (!call->done || (call->flags & HRPCK_CALL_ONEWAY))
		return -EINVAL;
	ret = call_check(chan, call);
	if (ret)
		return ret;
	p = pending_new(chan, call, false, gfp);
	if (!p)
		return -ENOMEM;
	atomic_inc(&chan->irq_users);	/* dropped by run_completions() */
	ret = submit(chan, call, p, gfpflags_allow_blocking(gfp),
		     jiffies + msecs_to_jiffies(hrpck_call_timeout_ms ?: 10000));
	if (ret) {
		atomic_dec(&chan->irq_users);
		pending_free(p);
		return ret;
	}
	process(chan);		/* make sure the interrupt is armed */
	rekick_arm(chan);
	return 0;
}
EXPORT_SYMBOL_GPL(hrpck_call_async);

/* ---- events ------------------------------------------------------------- */

/**
 * hrpck_event_subscribe() - receive the EVENTs of one service
 * @chan: channel
 * @sub: subscription with service, fn and ctx set; owned by the caller
 *       until hrpck_event_unsubscribe() returned
 *
 * Subscriptions survive resets.  @sub->fn runs in atomic context with the
 * channel lock held and must not call back into the channel.
 *
 * Return: 0, -EINVAL, or -ENODEV if the channel is gone.
 */
int hrpck_event_subscribe(struct hrpck_chan *chan, struct hrpck_event_sub *sub)
{
	LIST_HEAD(done_list);
	unsigned long flags;
	int ret = 0;

	if (!sub->fn)
		return -EINVAL;
	spin_lock_irqsave(&chan->lock, flags);
	if (chan->state == HRPCK_STATE_DEAD) {
		ret = -ENODEV;
	} else {
		list_add_tail(&sub->node, &chan->subs);
		chan->nsubs++;
		process_locked(chan, &done_list);	/* arm */
	}
	spin_unlock_irqrestore(&chan->lock, flags);
	run_completions(chan, &done_list);
	return ret;
}
EXPORT_SYMBOL_GPL(hrpck_event_subscribe);

/**
 * hrpck_event_unsubscribe() - stop receiving events
 * @chan: channel
 * @sub: a subscription made with hrpck_event_subscribe()
 *
 * When this returns, @sub->fn is not running and will not run again.
 */
void hrpck_event_unsubscribe(struct hrpck_chan *chan, struct hrpck_event_sub *sub)
{
	unsigned long flags;

	spin_lock_irqsave(&chan->lock, flags);
	list_del_init(&sub->node);
	chan->nsubs--;
	spin_unlock_irqrestore(&chan->lock, flags);
}
EXPORT_SYMBOL_GPL(hrpck_event_unsubscribe);

/* ---- attach / detach ---------------------------------------------------- */

/*
 * Leave the ring: every call in flight fails with @err.  The caller holds
 * attach_mutex (or is the remove path).
 */
static void detach(struct hrpck_chan *chan, enum hrpck_chan_state new_state,
		   int err)
{
	enum hrpck_chan_state was;
	LIST_HEAD(done_list);
	unsigned long flags;

	spin_lock_irqsave(&chan->req_lock, flags);
	spin_lock(&chan->lock);
	was = chan->state;
	if (was != HRPCK_STATE_DEAD)
		chan->state = new_state;
	chan->attach_seq++;
	fail_all_locked(chan, err, &done_list);
	spin_unlock(&chan->lock);
	spin_unlock_irqrestore(&chan->req_lock, flags);
	run_completions(chan, &done_list);
	wake_up_all(&chan->space_wq);
	if (was == HRPCK_STATE_ATTACHED)
		hrpck_notify(chan, HRPCK_CHAN_DETACHED);
}

static bool host_ready(struct hrpck_chan *chan)
{
	if (READ_ONCE(chan->removing))
		return true;
	/* The generation a previous life used is not ours to adopt. */
	if (chan->want_fresh && READ_ONCE(chan->shm->host_gen) == chan->stale_gen)
		return false;
	/* Acquire pairs with the host's release of READY: the geometry and
	 * the reset ring controls are visible before we copy them.
	 */
	return smp_load_acquire(&chan->shm->host_state) == HRPC_SHM_STATE_READY;
}

static int hello(struct hrpck_chan *chan, unsigned long deadline)
{
	struct hrpc_control_welcome w = {};
	struct hrpc_control_hello hi = {
		.min_revision = HRPC_REVISION_MIN,
		.max_revision = HRPC_REVISION_MAX,
		.features = HRPC_FEAT_EVENTS | HRPC_FEAT_BULK,
	};
	struct hrpck_call call = {
		.service = HRPC_SVC_CONTROL,
		.proc = HRPC_CONTROL_HELLO,
		.req = &hi,
		.req_len = sizeof(hi),
		.rep = &w,
		.rep_cap = sizeof(w),
	};
	long left = (long)(deadline - jiffies);
	int ret;

	snprintf(hi.name, sizeof(hi.name), "%s %s", HRPCK_CORE_NAME,
		 dev_name(chan->parent));
	/* At least a second for the HELLO even if waiting for READY took long. */
	ret = hrpck_chan_call(chan, &call, left < HZ ? 1000 : jiffies_to_msecs(left));
	if (ret)
		return ret;
	if (call.status)
		return call.status;	/* e.g. -EPROTONOSUPPORT */
	if (call.rep_len < sizeof(w))
		return -EPROTO;
	if (w.revision < HRPC_REVISION_MIN || w.revision > HRPC_REVISION_MAX)
		return -EPROTONOSUPPORT;
	chan->revision = w.revision;
	chan->features = w.features & hi.features;
	chan->guest_id = w.guest_id;
	memcpy(chan->server, w.server, sizeof(chan->server));
	chan->server[sizeof(chan->server) - 1] = '\0';
	return 0;
}

/*
 * Attach to the channel the host offers: wait (bounded) for READY, check a
 * private copy of the geometry, bind the rings, announce ATTACHED, HELLO.
 */
static int attach(struct hrpck_chan *chan)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(hrpck_attach_timeout_ms);
	struct hrpc_shm_hdr *shm = chan->shm;
	unsigned long flags;
	int ret;

	lockdep_assert_held(&chan->attach_mutex);
	for (;;) {
		/* Sleep-poll: the host may make the channel READY without an
		 * interrupt; a reset interrupt wakes us early.
		 */
		while (!host_ready(chan)) {
			if (time_after_eq(jiffies, deadline))
				return -ETIMEDOUT;
			wait_event_timeout(chan->attach_wq, host_ready(chan),
					   msecs_to_jiffies(10));
		}
		if (READ_ONCE(chan->removing))
			return -ENODEV;
		chan->want_fresh = false;

		/* Private copy; the shared header is never trusted again. */
		memcpy(&chan->geo, shm, sizeof(chan->geo));
		ret = hrpc_shm_geometry_check(&chan->geo, chan->shm_size);
		if (ret) {
			dev_err(chan->parent, "host offers an invalid channel geometry\n");
			return ret;
		}
		ret = hrpck_bulk_pool_setup(&chan->pool, (u8 *)shm + chan->geo.data_off,
					    chan->geo.data_off, chan->geo.data_size);
		if (ret)
			return ret;

		spin_lock_irqsave(&chan->req_lock, flags);
		spin_lock(&chan->lock);
		if (chan->removing) {
			ret = -ENODEV;
		} else {
			hrpc_ring_bind(&chan->req, &shm->req, (u8 *)shm + chan->geo.req_off,
				       chan->geo.req_size, 1);
			chan->lazy = false;
			hrpc_ring_bind(&chan->rsp, &shm->rsp, (u8 *)shm + chan->geo.rsp_off,
				       chan->geo.rsp_size, 0);
			chan->host_gen = chan->geo.host_gen;
			chan->state = HRPCK_STATE_ATTACHING;
		}
		spin_unlock(&chan->lock);
		spin_unlock_irqrestore(&chan->req_lock, flags);
		if (ret)
			return ret;

		WRITE_ONCE(shm->guest_gen, chan->host_gen);
		/* Release: guest_gen is visible before the state that covers it. */
		smp_store_release(&shm->guest_state, HRPC_SHM_STATE_ATTACHED);

		/* Raced with a re-initialisation?  Then bind again. */
		if (READ_ONCE(shm->host_gen) == chan->host_gen)
			break;
		detach(chan, HRPCK_STATE_DETACHED, -ECONNRESET);
		if (time_after_eq(jiffies, deadline))
			return -ETIMEDOUT;
	}

	ret = hello(chan, deadline);
	if (ret) {
		detach(chan, HRPCK_STATE_DETACHED, -ECONNRESET);
		/* Pairs with the host's acquire of guest_state. */
		smp_store_release(&shm->guest_state, HRPC_SHM_STATE_CLOSED);
		return ret;
	}

	spin_lock_irqsave(&chan->lock, flags);
	if (chan->state == HRPCK_STATE_ATTACHING)
		chan->state = HRPCK_STATE_ATTACHED;
	else
		ret = state_errno(chan->state) ?: -ECONNRESET;
	spin_unlock_irqrestore(&chan->lock, flags);
	if (ret)
		return ret;
	dev_info(chan->parent,
		 "attached: host_gen %u revision %u guest_id %u server '%s' data %u bytes\n",
		 chan->host_gen, chan->revision, chan->guest_id, chan->server,
		 chan->geo.data_size);
	hrpck_notify(chan, HRPCK_CHAN_ATTACHED);
	return 0;
}

/*
 * A channel that a previous life of this guest attached to (the guest
 * rebooted without detaching, or the module came back before the host
 * noticed the BYE) still holds that life's ring contents, replies and
 * host-side objects.  Never adopt it: ring the host's reset request
 * (protocol 3.3) and let attach() wait for the next generation.  While the
 * host is not READY a fresh generation is on its way anyway.
 */
static void request_fresh_channel(struct hrpck_chan *chan)
{
	struct hrpc_shm_hdr *shm = chan->shm;
	u32 guest_state;

	lockdep_assert_held(&chan->attach_mutex);
	if (!chan->ops->request_reset)
		return;
	/* Acquire pairs with the host's release of READY. */
	if (smp_load_acquire(&shm->host_state) != HRPC_SHM_STATE_READY)
		return;
	guest_state = READ_ONCE(shm->guest_state);
	if (guest_state == HRPC_SHM_STATE_NONE)
		return;
	chan->stale_gen = READ_ONCE(shm->host_gen);
	chan->want_fresh = true;
	dev_info(chan->parent,
		 "channel generation %u was used before (guest_state %u): asking the host for a fresh one\n",
		 chan->stale_gen, guest_state);
	chan->ops->request_reset(chan);
}

static int attach_logged(struct hrpck_chan *chan)
{
	int ret = attach(chan);

	WRITE_ONCE(chan->last_error, ret);
	if (ret == -EPROTONOSUPPORT)
		dev_err(chan->parent, "no protocol revision in common with the host (we speak %u..%u)\n",
			HRPC_REVISION_MIN, HRPC_REVISION_MAX);
	else if (ret && ret != -ENODEV)
		dev_warn(chan->parent, "attach failed: %d; waiting for a host reset\n", ret);
	return ret;
}

static void reset_work_fn(struct work_struct *work)
{
	struct hrpck_chan *chan = container_of(work, struct hrpck_chan, reset_work);

	mutex_lock(&chan->attach_mutex);
	/* Every set-up bumps host_gen, so a reset doorbell for the generation
	 * we already attached to (we saw host_gen change before the interrupt
	 * came) has been handled.
	 */
	if (READ_ONCE(chan->state) == HRPCK_STATE_ATTACHED &&
	    READ_ONCE(chan->shm->host_gen) == chan->host_gen &&
	    /* pairs with the host's release of READY */
	    smp_load_acquire(&chan->shm->host_state) == HRPC_SHM_STATE_READY) {
		mutex_unlock(&chan->attach_mutex);
		return;
	}
	if (!READ_ONCE(chan->removing)) {
		atomic64_inc(&chan->stats.resets);
		dev_info(chan->parent, "host reset the channel; re-attaching\n");
		detach(chan, HRPCK_STATE_DETACHED, -ECONNRESET);
		attach_logged(chan);
	}
	mutex_unlock(&chan->attach_mutex);
}

/* ---- lifetime ----------------------------------------------------------- */

static void release_work_fn(struct work_struct *work)
{
	struct hrpck_chan *chan = container_of(work, struct hrpck_chan, release_work);

	hrpck_bulk_pool_fini(&chan->pool);
	kvfree(chan->scratch);
	if (chan->ops->release)
		chan->ops->release(chan);
	kfree(chan);
}

static void chan_release(struct kref *ref)
{
	struct hrpck_chan *chan = container_of(ref, struct hrpck_chan, ref);

	/* May run in irq context (last bulk reference); unmapping sleeps. */
	queue_work(hrpck_wq, &chan->release_work);
}

/**
 * hrpck_chan_put() - drop a channel reference
 * @chan: channel (NULL is fine)
 */
void hrpck_chan_put(struct hrpck_chan *chan)
{
	if (chan)
		kref_put(&chan->ref, chan_release);
}
EXPORT_SYMBOL_GPL(hrpck_chan_put);

/**
 * hrpck_chan_hold() - take another reference on a channel
 * @chan: a channel the caller holds a reference on, or was handed by the
 *        notifier chain
 *
 * Release with hrpck_chan_put().
 */
void hrpck_chan_hold(struct hrpck_chan *chan)
{
	kref_get(&chan->ref);
}
EXPORT_SYMBOL_GPL(hrpck_chan_hold);

/**
 * hrpck_chan_attached() - can calls be made right now?
 * @chan: channel
 *
 * Return: true if attached (a hint: a reset can follow at any time).
 */
bool hrpck_chan_attached(struct hrpck_chan *chan)
{
	return READ_ONCE(chan->state) == HRPCK_STATE_ATTACHED;
}
EXPORT_SYMBOL_GPL(hrpck_chan_attached);

/**
 * hrpck_chan_guest_id() - the host's number for this guest
 * @chan: channel
 *
 * Return: guest id from the last WELCOME (0 before the first attach).
 */
u32 hrpck_chan_guest_id(struct hrpck_chan *chan)
{
	return READ_ONCE(chan->guest_id);
}
EXPORT_SYMBOL_GPL(hrpck_chan_guest_id);

/**
 * hrpck_chan_create() - make a channel over a mapped shared memory region
 * @parent: the transport's device (for messages)
 * @ops: transport operations
 * @tpriv: transport private pointer
 * @shm: the mapping (stays mapped until @ops->release)
 * @shm_size: bytes mapped
 *
 * The caller owns the returned reference; interrupts may be hooked up to
 * hrpck_chan_ring_irq()/hrpck_chan_reset_irq() right away.
 *
 * Return: the channel or ERR_PTR(-errno).
 */
struct hrpck_chan *hrpck_chan_create(struct device *parent,
				     const struct hrpck_transport_ops *ops,
				     void *tpriv, void *shm, u64 shm_size)
{
	struct hrpck_chan *chan;

	if (shm_size < sizeof(struct hrpc_shm_hdr))
		return ERR_PTR(-EINVAL);
	chan = kzalloc(sizeof(*chan), GFP_KERNEL);
	if (!chan)
		return ERR_PTR(-ENOMEM);
	chan->scratch = kvmalloc(HRPC_MSG_MAX_PAYLOAD, GFP_KERNEL);
	if (!chan->scratch) {
		kfree(chan);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&chan->ref);
	chan->parent = parent;
	chan->ops = ops;
	chan->tpriv = tpriv;
	chan->shm = shm;
	chan->shm_size = shm_size;
	spin_lock_init(&chan->lock);
	spin_lock_init(&chan->req_lock);
	chan->state = HRPCK_STATE_DETACHED;
	hash_init(chan->inflight);
	INIT_LIST_HEAD(&chan->subs);
	atomic_set(&chan->irq_users, 0);
	init_waitqueue_head(&chan->space_wq);
	init_waitqueue_head(&chan->attach_wq);
	atomic64_set(&chan->next_id, (u64)get_random_u32() << 16);
	mutex_init(&chan->attach_mutex);
	INIT_WORK(&chan->reset_work, reset_work_fn);
	INIT_DELAYED_WORK(&chan->rekick_work, rekick_work_fn);
	INIT_DELAYED_WORK(&chan->lazy_work, lazy_work_fn);
	INIT_WORK(&chan->release_work, release_work_fn);
	INIT_LIST_HEAD(&chan->node);
	hrpck_bulk_pool_init(&chan->pool);
	return chan;
}

/**
 * hrpck_chan_register() - make the channel visible and attach it
 * @chan: channel from hrpck_chan_create()
 *
 * Adds it to the registry (hrpck_chan_get()), creates /dev/hostrpcN, tells
 * the notifier chain and attaches (waiting up to attach_timeout_ms for the
 * host).  A failed attach is not an error here: the channel stays
 * registered and re-attaches when the host resets it.
 *
 * Return: 0 or -errno (registration failed; call hrpck_chan_destroy()).
 */
int hrpck_chan_register(struct hrpck_chan *chan)
{
	int ret;

	ret = hrpck_registry_add(chan);
	if (ret)
		return ret;
	ret = hrpck_chardev_register(chan);
	if (ret)
		return ret;
	hrpck_notify(chan, HRPCK_CHAN_ADDED);

	mutex_lock(&chan->attach_mutex);
	request_fresh_channel(chan);
	attach_logged(chan);
	mutex_unlock(&chan->attach_mutex);
	return 0;
}

static void bye(struct hrpck_chan *chan)
{
	struct hrpck_call call = {
		.service = HRPC_SVC_CONTROL,
		.proc = HRPC_CONTROL_BYE,
	};

	if (hrpck_chan_attached(chan))
		hrpck_chan_call(chan, &call, 1000);
}

/**
 * hrpck_chan_destroy() - detach and unregister (mirror of register)
 * @chan: channel; tolerates a channel that was never (fully) registered
 *
 * Fails every call in flight with -ENODEV, tells the host (BYE, then
 * guest_state CLOSED) and removes /dev/hostrpcN.  Does not drop the
 * caller's reference.  Never waits for users beyond cancelling the reset
 * work; users still holding references get -ENODEV.
 */
void hrpck_chan_destroy(struct hrpck_chan *chan)
{
	unsigned long flags;

	if (chan->registered)
		hrpck_notify(chan, HRPCK_CHAN_REMOVED);

	/* No attach starts or completes after this (checked under the locks). */
	spin_lock_irqsave(&chan->req_lock, flags);
	spin_lock(&chan->lock);
	WRITE_ONCE(chan->removing, true);
	spin_unlock(&chan->lock);
	spin_unlock_irqrestore(&chan->req_lock, flags);
	wake_up_all(&chan->attach_wq);

	bye(chan);
	/* Fails a HELLO of a concurrent re-attach too, so the work ends soon. */
	detach(chan, HRPCK_STATE_DEAD, -ENODEV);
	cancel_work_sync(&chan->reset_work);
	if (cancel_delayed_work_sync(&chan->rekick_work))
		hrpck_chan_put(chan);   /* the queued instance's reference */
	if (cancel_delayed_work_sync(&chan->lazy_work))
		hrpck_chan_put(chan);
	/* Pairs with the host's acquire of guest_state. */
	smp_store_release(&chan->shm->guest_state, HRPC_SHM_STATE_CLOSED);

	hrpck_chardev_unregister(chan);
	hrpck_registry_del(chan);
}

/**
 * hrpck_chan_fill_info() - snapshot for HRPC_IOC_INFO
 * @chan: channel
 * @info: filled in (argsz untouched)
 */
void hrpck_chan_fill_info(struct hrpck_chan *chan, struct hrpc_ioc_info *info)
{
	struct hrpck_chan_stats *s = &chan->stats;

	info->state = READ_ONCE(chan->state);
	info->last_error = READ_ONCE(chan->last_error);
	info->guest_id = READ_ONCE(chan->guest_id);
	info->revision = READ_ONCE(chan->revision);
	info->host_gen = READ_ONCE(chan->host_gen);
	info->features = READ_ONCE(chan->features);
	info->req_size = chan->geo.req_size;
	info->rsp_size = chan->geo.rsp_size;
	info->data_size = chan->geo.data_size;
	info->data_free = hrpck_bulk_pool_free_bytes(&chan->pool);
	info->calls = atomic64_read(&s->calls);
	info->replies = atomic64_read(&s->replies);
	info->events = atomic64_read(&s->events);
	info->unknown_replies = atomic64_read(&s->unknown_replies);
	info->bad_replies = atomic64_read(&s->bad_replies);
	info->orphan_replies = atomic64_read(&s->orphan_replies);
	info->ring_irqs = atomic64_read(&s->ring_irqs);
	info->reset_irqs = atomic64_read(&s->reset_irqs);
	info->doorbells = atomic64_read(&s->doorbells);
	info->resets = atomic64_read(&s->resets);
	info->poll_hits = atomic64_read(&s->poll_hits);
	info->poll_misses = atomic64_read(&s->poll_misses);
	memcpy(info->server, chan->server, sizeof(info->server));
	info->server[sizeof(info->server) - 1] = '\0';
}

/**
 * hrpck_chan_debug_forge() - break the request ring on purpose
 * @chan: channel
 * @what: HRPC_IOC_FORGE_REQ_PROD or HRPC_IOC_FORGE_REC_LEN
 * @value: forged distance of prod from our index, or forged record length;
 *         0 for the defaults (more than the ring holds; a maximal payload
 *         of which only the header is published)
 * @forge_flags: HRPC_IOC_FORGE_F_QUIET: ring no doorbell
 *
 * For the host's fencing tests (module parameter debug_forge, checked by
 * the caller).  Writes what a hostile guest would, rings the doorbell and
 * leaves the channel BROKEN (calls fail with -EPROTO) so that no honest
 * call publishes over the forgery; the host fences us and its restarted
 * worker's reset vector re-attaches the channel.  Quiet, the forgery waits
 * in shared memory until the host looks on its own (a migration's quiesce
 * drains the ring without a doorbell); BROKEN rings nothing meanwhile
 * (rekick_work_fn() and process() stop at !ring_live()).
 *
 * Return: 0, -EINVAL for an unknown @what, or the state's errno when not
 * attached.
 */
int hrpck_chan_debug_forge(struct hrpck_chan *chan, u32 what, u32 value, u32 forge_flags)
{
	struct hrpc_msg_hdr h;
	LIST_HEAD(done_list);
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&chan->req_lock, flags);
	spin_lock(&chan->lock);
	if (chan->state != HRPCK_STATE_ATTACHED) {
		ret = state_errno(chan->state) ?: -ENOTCONN;
		goto out;
	}
	switch (what) {
	case HRPC_IOC_FORGE_REQ_PROD:
		/* Pairs with the host's acquire of prod, like a real put. */
		smp_store_release(&chan->shm->req.prod,
				  chan->req.pvt + (value ?: chan->req.size + 8));
		break;
	case HRPC_IOC_FORGE_REC_LEN:
		/* A well-formed header whose payload was never published. */
		hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, 0,
			      atomic64_inc_return(&chan->next_id),
			      value ?: HRPC_MSG_MAX_PAYLOAD);
		hrpc_ring_copy_in(&chan->req, chan->req.pvt, &h, sizeof(h));
		/* The header is visible before the index (host's acquire). */
		smp_store_release(&chan->shm->req.prod,
				  chan->req.pvt + HRPC_MSG_HDR_SIZE);
		break;
	default:
		ret = -EINVAL;
		goto out;
	}
	if (!(forge_flags & HRPC_IOC_FORGE_F_QUIET))
		kick_locked(chan);
	dev_warn(chan->parent,
		 "debug_forge: forged %s published%s; channel unusable until the host resets it\n",
		 what == HRPC_IOC_FORGE_REQ_PROD ? "request ring index" : "record length",
		 forge_flags & HRPC_IOC_FORGE_F_QUIET ? " without a doorbell" : "");
	chan->state = HRPCK_STATE_BROKEN;
	chan->attach_seq++;
	fail_all_locked(chan, -EPROTO, &done_list);
out:
	spin_unlock(&chan->lock);
	spin_unlock_irqrestore(&chan->req_lock, flags);
	run_completions(chan, &done_list);
	return ret;
}
