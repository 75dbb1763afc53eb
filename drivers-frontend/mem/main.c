// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - hostrpc_mem.ko: memory the host grants to the guest (service
 * 18, HRPC_SVC_MEM, protocol include/hostrpc/mem.h), in 2 MiB chunks of a
 * second ivshmem device's BAR (region.c), mapped by guest processes
 * through /dev/hostmem (dev.c).
 *
 * Channel: the first hostrpc_core channel.  The GRANT/RECLAIM subscription
 * is made when the channel is added and survives resets.  When the channel
 * attaches (and a region exists) a work item says HELLO; the host's answer
 * fixes the region's geometry and the GRANT events that follow are the
 * truth about what is ours: the free pool's grants of an earlier life are
 * forgotten then, as are pins and pending reclaims (the host's state went
 * with its worker).  Chunks mapped by files stay mapped across a detach
 * and are taken as still granted (README.md: known limits).
 *
 * Events arrive in atomic context with the channel lock held: they are
 * copied to a bounded queue and applied by the event work, which also runs
 * the reclaim pass.  Every work item runs on one ordered workqueue.
 *
 * Reclaim: a chunk of a RECLAIM range that is free is dropped from the
 * pool; one that a file maps is moved (when `cooperate` and a free chunk
 * exists): its PTEs zapped, its 2 MiB copied, the file's slot re-pointed,
 * all under hmem.lock, which the fault handler takes too.  What was freed
 * is RELEASEd with the RECLAIM's seq, in contiguous runs.  What could not
 * be freed is retried whenever chunks come back (GRANT, a file's release)
 * and, at the deadline, lost: its PTEs zapped and its slot marked, so every
 * later access is SIGBUS.
 */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/notifier.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "hmem.h"

#define HMEM_PRESSURE_PERIOD (2 * HZ)

bool hmem_cooperate = true;
module_param_named(cooperate, hmem_cooperate, bool, 0644);
MODULE_PARM_DESC(cooperate, "move mapped chunks the host reclaims to free ones (default 1); 0: let the deadline take them");

struct hmem hmem = {
	.op_lock = __MUTEX_INITIALIZER(hmem.op_lock),
	.lock = __MUTEX_INITIALIZER(hmem.lock),
	.ev_lock = __SPIN_LOCK_UNLOCKED(hmem.ev_lock),
	.files = LIST_HEAD_INIT(hmem.files),
	.reclaims_list = LIST_HEAD_INIT(hmem.reclaims_list),
};

static struct workqueue_struct *hmem_wq;   /* ordered: every work below */

static DEFINE_MUTEX(hmem_chan_lock);       /* hmem_chan, the subscription */
static struct hrpck_chan *hmem_chan;        /* referenced */
static struct hrpck_event_sub hmem_sub;
static bool hmem_subscribed;

static void hmem_hello_fn(struct work_struct *w);
static void hmem_event_fn(struct work_struct *w);
static void hmem_deadline_fn(struct work_struct *w);
static void hmem_pressure_fn(struct work_struct *w);
static DECLARE_WORK(hmem_hello_work, hmem_hello_fn);
static DECLARE_WORK(hmem_event_work, hmem_event_fn);
static DECLARE_DELAYED_WORK(hmem_deadline_work, hmem_deadline_fn);
static DECLARE_DELAYED_WORK(hmem_pressure_work, hmem_pressure_fn);

/* ---- work queueing (nothing after module exit began) -------------------------- */

static void queue_locked(struct work_struct *w)
{
	lockdep_assert_held(&hmem.ev_lock);
	if (!hmem.stopping)
		queue_work(hmem_wq, w);
}

static void queue_delayed(struct delayed_work *dw, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&hmem.ev_lock, flags);
	if (!hmem.stopping)
		mod_delayed_work(hmem_wq, dw, delay);
	spin_unlock_irqrestore(&hmem.ev_lock, flags);
}

static void queue_plain(struct work_struct *w)
{
	unsigned long flags;

	spin_lock_irqsave(&hmem.ev_lock, flags);
	queue_locked(w);
	spin_unlock_irqrestore(&hmem.ev_lock, flags);
}

void hmem_kick(void)
{
	queue_plain(&hmem_event_work);
}

void hmem_region_changed(void)
{
	queue_plain(&hmem_hello_work);
}

/* ---- calls --------------------------------------------------------------------- */

static struct hrpck_chan *chan_get(void)
{
	struct hrpck_chan *chan;

	mutex_lock(&hmem_chan_lock);
	chan = hmem_chan;
	if (chan)
		hrpck_chan_hold(chan);
	mutex_unlock(&hmem_chan_lock);
	return chan;
}

/* A synchronous call (or a one-way one with HRPCK_CALL_ONEWAY): the host's
 * status or a transport error. */
int hmem_call(u16 proc, const void *req, u32 req_len, void *rep, u32 rep_cap,
	      u32 *rep_len, u32 flags)
{
	struct hrpck_call call = {
		.service = HRPC_SVC_MEM,
		.proc = proc,
		.flags = flags,
		.req = req,
		.req_len = req_len,
		.rep = rep,
		.rep_cap = rep_cap,
	};
	struct hrpck_chan *chan = chan_get();
	int ret;

	if (!chan)
		return -ENOTCONN;
	ret = hrpck_call(chan, &call, HMEM_CALL_TIMEOUT);
	if (rep_len)
		*rep_len = call.rep_len;
	hrpck_chan_put(chan);
	return ret;
}

/*
 * One call per run; with @stop, stops at the first failure.  *@done_chunks
 * counts the chunks of the runs the host accepted.  Returns the first
 * error or 0.
 */
int hmem_call_ranges(u16 proc, const struct hrpc_mem_range_req *runs, u32 nruns,
		     u32 *done_chunks)
{
	u32 i, done = 0;
	int ret, first = 0;

	for (i = 0; i < nruns; i++) {
		ret = hmem_call(proc, &runs[i], sizeof(runs[i]), NULL, 0, NULL, 0);
		if (ret) {
			first = first ?: ret;
			if (proc == HRPC_MEM_PIN)
				break;
			continue;
		}
		done += runs[i].count;
	}
	if (done_chunks)
		*done_chunks = done;
	return first;
}

/* ---- HELLO --------------------------------------------------------------------- */

static bool hello_rep_ok(const struct hrpc_mem_hello_rep *rep, u32 rep_len, u32 bar_chunks)
{
	return rep_len == sizeof(*rep) && rep->version == HRPC_MEM_VERSION &&
	       rep->chunk_size == HRPC_MEM_CHUNK && rep->nchunks &&
	       rep->nchunks <= bar_chunks && rep->nchunks <= HRPC_MEM_CHUNKS_MAX &&
	       rep->granted <= rep->nchunks && !rep->reserved;
}

/* A new life: forget what the last one granted (op_lock, lock held). */
static void table_forget(void)
{
	struct hmem_reclaim *r, *tmp;
	u32 i;

	for (i = 0; i < hmem.bar_chunks; i++) {
		struct hmem_chunk *c = &hmem.chunks[i];

		c->reclaim = NULL;
		c->unpin = false;
		c->regranted = false;
		hmem_chunk_pin(c, false);
		if (c->state == HMEM_C_FREE)
			hmem_chunk_set(c, HMEM_C_NONE);
	}
	hmem.nunpin = 0;
	list_for_each_entry_safe(r, tmp, &hmem.reclaims_list, link) {
		list_del(&r->link);
		kfree(r);
	}
}

static void chunk_lose(u32 i);

/*
 * Every GRANT a HELLO announced has come: a chunk still mapped that none
 * named is no longer ours (a restarted host worker kept only the chunks
 * holding data, outsource/mem/region.h) - lose it, so its processes get
 * SIGBUS instead of memory the host may give to someone else.  lock held.
 */
static void reconcile(void)
{
	u32 i, n = 0;

	hmem.reconciling = false;
	for (i = 0; i < hmem.bar_chunks; i++) {
		if (hmem.chunks[i].state == HMEM_C_MAPPED && !hmem.chunks[i].regranted) {
			chunk_lose(i);
			n++;
		}
	}
	if (n)
		pr_warn(HMEM_NAME ": %u mapped chunks the host no longer grants: lost (SIGBUS)\n", n);
}

static void hmem_hello_fn(struct work_struct *w)
{
	struct hrpc_mem_hello_req req = { .version = HRPC_MEM_VERSION };
	struct hrpc_mem_hello_rep rep = { 0 };
	struct hrpck_chan *chan = chan_get();
	struct hmem_chunk *chunks;
	u32 rep_len = 0, bar_chunks, gen;
	bool attached = chan && hrpck_chan_attached(chan), stale;
	int ret;

	if (chan)
		hrpck_chan_put(chan);
	mutex_lock(&hmem.lock);
	chunks = hmem.chunks;
	bar_chunks = hmem.bar_chunks;
	req.bar_size = hmem.bar_len;
	mutex_unlock(&hmem.lock);
	if (!attached || !chunks)
		return;
	spin_lock_irq(&hmem.ev_lock);
	gen = hmem.ev_gen;
	spin_unlock_irq(&hmem.ev_lock);

	ret = hmem_call(HRPC_MEM_HELLO, &req, sizeof(req), &rep, sizeof(rep), &rep_len, 0);
	if (ret) {
		pr_warn(HMEM_NAME ": HELLO failed: %d (no host memory until the channel re-attaches)\n",
			ret);
		return;
	}
	if (!hello_rep_ok(&rep, rep_len, bar_chunks)) {
		pr_err(HMEM_NAME ": bad HELLO reply (%u bytes, version %u, chunk %u, %u chunks for %u in the BAR, %u granted): staying detached\n",
		       rep_len, rep.version, rep.chunk_size, rep.nchunks, bar_chunks, rep.granted);
		return;
	}

	mutex_lock(&hmem.op_lock);
	mutex_lock(&hmem.lock);
	spin_lock_irq(&hmem.ev_lock);
	stale = gen != hmem.ev_gen;
	spin_unlock_irq(&hmem.ev_lock);
	if (stale || hmem.chunks != chunks) {
		/* Detached, or the region changed, during the call. */
		mutex_unlock(&hmem.lock);
		mutex_unlock(&hmem.op_lock);
		return;
	}
	table_forget();
	hmem.nchunks = rep.nchunks;
	hmem.pin_quota = rep.pin_quota;
	hmem.attached = true;
	hmem.reconciling = true;
	hmem.hello_expect = rep.granted;
	hmem.hello_seen = 0;
	if (!rep.granted)
		reconcile();
	mutex_unlock(&hmem.lock);
	mutex_unlock(&hmem.op_lock);
	pr_info(HMEM_NAME ": host memory attached: %u chunks of 2 MiB, %u granted, pin quota %u\n",
		rep.nchunks, rep.granted, rep.pin_quota);
	hmem_kick();			/* the GRANT events that follow */
	queue_delayed(&hmem_pressure_work, 0);
}

/* ---- events -------------------------------------------------------------------- */

/* Atomic context, channel lock held: copy and queue, nothing else. */
static void hmem_event_cb(void *ctx, u16 service, u16 event, const void *payload, u32 len)
{
	struct hmem_event e = { .event = event };
	unsigned long flags;

	switch (event) {
	case HRPC_MEM_EVT_GRANT:
		if (len != sizeof(e.grant))
			goto bad;
		memcpy(&e.grant, payload, sizeof(e.grant));
		break;
	case HRPC_MEM_EVT_RECLAIM:
		if (len != sizeof(e.reclaim))
			goto bad;
		memcpy(&e.reclaim, payload, sizeof(e.reclaim));
		break;
	default:
		goto bad;
	}
	spin_lock_irqsave(&hmem.ev_lock, flags);
	if (hmem.ev_tail - hmem.ev_head >= HMEM_EVQ)
		hmem.ev_dropped++;
	else
		hmem.evq[hmem.ev_tail++ & (HMEM_EVQ - 1)] = e;
	queue_locked(&hmem_event_work);
	spin_unlock_irqrestore(&hmem.ev_lock, flags);
	return;
bad:
	pr_warn_ratelimited(HMEM_NAME ": host sent event %u with %u bytes: ignored\n", event, len);
}

static bool range_ok(u32 first, u32 count)
{
	return count && first < hmem.nchunks && count <= hmem.nchunks - first;
}

static void apply_grant(const struct hrpc_mem_grant_event *g)
{
	u32 i;

	mutex_lock(&hmem.lock);
	if (!range_ok(g->first, g->count)) {
		pr_warn_ratelimited(HMEM_NAME ": GRANT of chunks %u+%u out of the region (%u): ignored\n",
				    g->first, g->count, hmem.nchunks);
		goto out;
	}
	for (i = g->first; i < g->first + g->count; i++) {
		struct hmem_chunk *c = &hmem.chunks[i];

		if (c->reclaim) {
			/* Granted again: the host no longer wants it. */
			c->reclaim->left--;
			c->reclaim = NULL;
		}
		if (c->state == HMEM_C_NONE)
			hmem_chunk_set(c, HMEM_C_FREE);
		if (hmem.reconciling && !c->regranted) {
			c->regranted = true;
			hmem.hello_seen++;
		}
	}
	if (hmem.reconciling && hmem.hello_seen >= hmem.hello_expect)
		reconcile();
out:
	mutex_unlock(&hmem.lock);
}

static void apply_reclaim(const struct hrpc_mem_reclaim_event *ev)
{
	struct hmem_reclaim *r = kzalloc(sizeof(*r), GFP_KERNEL);
	u32 i;

	lockdep_assert_held(&hmem.op_lock);
	mutex_lock(&hmem.lock);
	if (!range_ok(ev->first, ev->count) || !ev->seq) {
		pr_warn_ratelimited(HMEM_NAME ": RECLAIM of chunks %u+%u seq %u out of the region (%u): ignored\n",
				    ev->first, ev->count, ev->seq, hmem.nchunks);
		goto out;
	}
	hmem.reclaims++;
	if (!r) {
		/* The deadline takes them; their mappings read zeros then. */
		pr_err_ratelimited(HMEM_NAME ": no memory for RECLAIM seq %u\n", ev->seq);
		goto out;
	}
	r->first = ev->first;
	r->count = ev->count;
	r->seq = ev->seq;
	r->deadline = jiffies + msecs_to_jiffies(ev->deadline_ms);
	for (i = ev->first; i < ev->first + ev->count; i++) {
		struct hmem_chunk *c = &hmem.chunks[i];

		if (c->state == HMEM_C_NONE || c->reclaim)
			continue;	/* not ours, or an earlier RECLAIM's */
		if (c->pinned) {
			pr_warn_ratelimited(HMEM_NAME ": host reclaims pinned chunk %u (seq %u): kept\n",
					    i, ev->seq);
			continue;
		}
		c->reclaim = r;
		r->left++;
	}
	if (r->left) {
		list_add_tail(&r->link, &hmem.reclaims_list);
		r = NULL;
	}
out:
	mutex_unlock(&hmem.lock);
	kfree(r);
}

/* ---- the reclaim pass ------------------------------------------------------------ */

/* Move mapped chunk @i to a free one (lock held): false if none is free. */
static bool chunk_move(u32 i, u32 *cursor)
{
	struct hmem_chunk *c = &hmem.chunks[i], *t;
	struct hmem_file *hf = c->file;
	u32 slot = c->slot;
	int to;

	to = hmem_chunk_find_free(cursor);
	if (to < 0)
		return false;
	t = &hmem.chunks[to];
	/* No PTE of the old chunk is left (the fault handler waits on
	 * hmem.lock and then maps the new one) before the copy starts. */
	hmem_file_zap(hf, slot);
	memcpy(hmem.kva + (size_t)to * HRPC_MEM_CHUNK, hmem.kva + (size_t)i * HRPC_MEM_CHUNK,
	       HRPC_MEM_CHUNK);
	hf->slot[slot] = to;
	hmem_chunk_set(t, HMEM_C_MAPPED);
	t->file = hf;
	t->slot = slot;
	hmem_chunk_set(c, HMEM_C_FREE);
	hmem.moved++;
	return true;
}

/* The deadline passed with chunk @i still mapped (lock held). */
static void chunk_lose(u32 i)
{
	struct hmem_chunk *c = &hmem.chunks[i];
	struct hmem_file *hf = c->file;

	hmem_file_zap(hf, c->slot);
	hf->slot[c->slot] = HMEM_SLOT_LOST;
	hmem.nlost++;
	hmem.forced++;
	hmem_chunk_set(c, HMEM_C_NONE);
}

/*
 * Free what the pending RECLAIMs want, lose what is past its deadline,
 * collect what goes back to the host: RELEASE runs into @rel (seq of its
 * RECLAIM) and UNPIN runs into @unp.  op_lock and lock held.  Returns
 * whether a RECLAIM is still pending, with the earliest deadline in *@next.
 */
static bool pass_locked(struct hrpc_mem_range_req *rel, u32 *nrel,
			struct hrpc_mem_range_req *unp, u32 *nunp, unsigned long *next)
{
	struct hmem_reclaim *r, *tmp;
	unsigned long now = jiffies;
	bool pending = false;
	u32 cursor = 0, i;

	list_for_each_entry_safe(r, tmp, &hmem.reclaims_list, link) {
		bool expired = time_after_eq(now, r->deadline);

		for (i = r->first; i < r->first + r->count && r->left; i++) {
			struct hmem_chunk *c = &hmem.chunks[i];

			if (c->reclaim != r)
				continue;
			/* Detached, the free pool is not known to be ours:
			 * no moves into it until the next HELLO. */
			if (c->state == HMEM_C_MAPPED &&
			    !(READ_ONCE(hmem_cooperate) && hmem.attached && chunk_move(i, &cursor))) {
				if (expired) {
					c->reclaim = NULL;
					r->left--;
					chunk_lose(i);
				}
				continue;
			}
			/* Free now (moved, or never mapped). */
			c->reclaim = NULL;
			r->left--;
			hmem_chunk_set(c, HMEM_C_NONE);
			*nrel = hmem_runs_add(rel, *nrel, i, r->seq);
			cond_resched();
		}
		if (!r->left) {
			list_del(&r->link);
			kfree(r);
		} else if (!pending || time_before(r->deadline, *next)) {
			*next = r->deadline;
			pending = true;
		}
	}
	for (i = 0; hmem.nunpin && i < hmem.bar_chunks; i++) {
		struct hmem_chunk *c = &hmem.chunks[i];

		if (!c->unpin)
			continue;
		c->unpin = false;
		hmem.nunpin--;
		hmem_chunk_pin(c, false);
		*nunp = hmem_runs_add(unp, *nunp, i, 0);
	}
	return pending;
}

static void hmem_pass(void)
{
	struct hrpc_mem_range_req *rel = NULL, *unp = NULL;
	u32 nrel = 0, nunp = 0, cap = 0, done = 0;
	struct hmem_reclaim *r;
	unsigned long next = 0;
	bool pending;
	int ret;

	lockdep_assert_held(&hmem.op_lock);
	mutex_lock(&hmem.lock);
	if (!hmem.chunks || (list_empty(&hmem.reclaims_list) && !hmem.nunpin)) {
		mutex_unlock(&hmem.lock);
		return;
	}
	list_for_each_entry(r, &hmem.reclaims_list, link)
		cap += r->left;
	/* One run per chunk at most. */
	rel = kvmalloc_array(max(cap, 1u), sizeof(*rel), GFP_KERNEL);
	unp = kvmalloc_array(max(hmem.nunpin, 1u), sizeof(*unp), GFP_KERNEL);
	if (rel && unp) {
		pending = pass_locked(rel, &nrel, unp, &nunp, &next);
	} else {
		/* Try again soon; the deadline still holds. */
		pending = true;
		next = jiffies + HZ / 10;
	}
	mutex_unlock(&hmem.lock);

	ret = hmem_call_ranges(HRPC_MEM_RELEASE, rel, nrel, &done);
	if (ret)
		pr_warn_ratelimited(HMEM_NAME ": RELEASE failed: %d (the host takes them at the deadline)\n",
				    ret);
	ret = hmem_call_ranges(HRPC_MEM_UNPIN, unp, nunp, NULL);
	if (ret)
		pr_warn_ratelimited(HMEM_NAME ": UNPIN of freed chunks failed: %d\n", ret);
	if (done) {
		mutex_lock(&hmem.lock);
		hmem.released += done;
		mutex_unlock(&hmem.lock);
	}
	kvfree(rel);
	kvfree(unp);
	if (pending) {
		unsigned long now = jiffies;

		queue_delayed(&hmem_deadline_work, time_after(next, now) ? next - now : 0);
	}
}

static void hmem_event_fn(struct work_struct *w)
{
	struct hmem_event e;
	u32 dropped;
	bool attached;

	mutex_lock(&hmem.op_lock);
	for (;;) {
		mutex_lock(&hmem.lock);
		attached = hmem.attached;
		mutex_unlock(&hmem.lock);
		if (!attached)
			break;	/* kept for after HELLO (a detach flushed the old) */
		spin_lock_irq(&hmem.ev_lock);
		if (hmem.ev_head == hmem.ev_tail) {
			spin_unlock_irq(&hmem.ev_lock);
			break;
		}
		e = hmem.evq[hmem.ev_head++ & (HMEM_EVQ - 1)];
		dropped = hmem.ev_dropped;
		hmem.ev_dropped = 0;
		spin_unlock_irq(&hmem.ev_lock);
		if (dropped)
			pr_warn_ratelimited(HMEM_NAME ": %u events dropped (queue full)\n", dropped);
		if (e.event == HRPC_MEM_EVT_GRANT)
			apply_grant(&e.grant);
		else
			apply_reclaim(&e.reclaim);
	}
	hmem_pass();
	mutex_unlock(&hmem.op_lock);
}

static void hmem_deadline_fn(struct work_struct *w)
{
	mutex_lock(&hmem.op_lock);
	hmem_pass();
	mutex_unlock(&hmem.op_lock);
}

/* ---- PRESSURE ---------------------------------------------------------------------- */

/*
 * Every 2 s while attached, one-way (nobody needs the reply).  PSI's
 * averages are not exported to modules: some/full are sent as 0.
 */
static void hmem_pressure_fn(struct work_struct *w)
{
	struct hrpc_mem_pressure p = { 0 };
	struct sysinfo si;
	bool attached;
	u32 mapped;
	int ret;

	mutex_lock(&hmem.lock);
	attached = hmem.attached;
	mapped = hmem.nmapped;
	mutex_unlock(&hmem.lock);
	if (!attached)
		return;		/* the next HELLO starts it again */
	si_meminfo(&si);
	p.free_kb = (u64)si.freeram * si.mem_unit >> 10;
	p.avail_kb = (u64)si_mem_available() << (PAGE_SHIFT - 10);
	p.used_kb = (u64)mapped * (HRPC_MEM_CHUNK >> 10);
	ret = hmem_call(HRPC_MEM_PRESSURE, &p, sizeof(p), NULL, 0, NULL, HRPCK_CALL_ONEWAY);
	if (ret)
		pr_debug(HMEM_NAME ": PRESSURE not sent: %d\n", ret);
	queue_delayed(&hmem_pressure_work, HMEM_PRESSURE_PERIOD);
}

/* ---- channel life cycle --------------------------------------------------------------- */

/* The host's state is gone: calls stop, mappings stay, events of the old
 * life are dropped; the next HELLO re-learns the grants. */
static void hmem_detach(void)
{
	bool was;

	spin_lock_irq(&hmem.ev_lock);
	hmem.ev_gen++;
	hmem.ev_head = hmem.ev_tail;
	hmem.ev_dropped = 0;
	spin_unlock_irq(&hmem.ev_lock);
	mutex_lock(&hmem.lock);
	was = hmem.attached;
	hmem.attached = false;
	mutex_unlock(&hmem.lock);
	if (was)
		pr_info(HMEM_NAME ": host memory detached (mappings stay; grants re-learnt at the next HELLO)\n");
}

static void chan_drop(void)
{
	struct hrpck_chan *chan;

	mutex_lock(&hmem_chan_lock);
	chan = hmem_chan;
	if (chan && hmem_subscribed)
		hrpck_event_unsubscribe(chan, &hmem_sub);
	hmem_subscribed = false;
	hmem_chan = NULL;
	mutex_unlock(&hmem_chan_lock);
	if (chan)
		hrpck_chan_put(chan);
}

static int hmem_notify(struct notifier_block *nb, unsigned long ev, void *data)
{
	struct hrpck_chan *chan = data;

	switch (ev) {
	case HRPCK_CHAN_ADDED:
		mutex_lock(&hmem_chan_lock);
		if (!hmem_chan) {
			hrpck_chan_hold(chan);
			hmem_chan = chan;
			hmem_sub.service = HRPC_SVC_MEM;
			hmem_sub.fn = hmem_event_cb;
			hmem_sub.ctx = NULL;
			hmem_subscribed = !hrpck_event_subscribe(chan, &hmem_sub);
		}
		mutex_unlock(&hmem_chan_lock);
		break;
	case HRPCK_CHAN_ATTACHED:
		if (chan == READ_ONCE(hmem_chan))
			queue_plain(&hmem_hello_work);
		break;
	case HRPCK_CHAN_DETACHED:
	case HRPCK_CHAN_REMOVED:
		if (chan != READ_ONCE(hmem_chan))
			break;
		hmem_detach();
		if (ev == HRPCK_CHAN_REMOVED)
			chan_drop();
		break;
	}
	return NOTIFY_OK;
}

static struct notifier_block hmem_nb = { .notifier_call = hmem_notify };

/* ---- module ------------------------------------------------------------------------------ */

static int __init hmem_init(void)
{
	int ret;

	BUILD_BUG_ON(HMEM_EVQ & (HMEM_EVQ - 1));
	BUILD_BUG_ON((1ul << HMEM_FILE_SHIFT) != (unsigned long)HRPC_MEM_CHUNKS_MAX * HMEM_CHUNK_PAGES);
	hmem_wq = alloc_ordered_workqueue(HMEM_NAME, 0);
	if (!hmem_wq)
		return -ENOMEM;
	ret = hmem_pci_init();
	if (ret)
		goto err_wq;
	ret = hrpck_register_notifier(&hmem_nb);
	if (ret)
		goto err_pci;
	return 0;

err_pci:
	hmem_pci_exit();
err_wq:
	destroy_workqueue(hmem_wq);
	return ret;
}

/*
 * Mirror of init: no more channel news or events, no more work (none can
 * queue another once `stopping` is set), then the PCI driver (its remove
 * unregisters /dev/hostmem before the region goes; no file is open, each
 * holds a module reference), then the workqueue.
 */
static void __exit hmem_exit(void)
{
	hrpck_unregister_notifier(&hmem_nb);
	chan_drop();
	spin_lock_irq(&hmem.ev_lock);
	hmem.stopping = true;
	spin_unlock_irq(&hmem.ev_lock);
	cancel_delayed_work_sync(&hmem_pressure_work);
	cancel_delayed_work_sync(&hmem_deadline_work);
	cancel_work_sync(&hmem_event_work);
	cancel_work_sync(&hmem_hello_work);
	hmem_pci_exit();
	destroy_workqueue(hmem_wq);
}

module_init(hmem_init);
module_exit(hmem_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("hostrpc memory outsourcing: host-granted memory mapped through /dev/hostmem");
MODULE_SOFTDEP("pre: hostrpc_core");
