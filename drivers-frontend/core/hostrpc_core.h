/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel Host RPC client API of hostrpc_core.ko, for
 * the frontend modules (sockets today; filesystem and memory are planned).
 *
 * Prefix hrpck_ (HRPCK_ for constants): the kernel's own API, apart from
 * libhostrpc's hrpc_ (include/hostrpc/hostrpc.h), whose struct hrpc_call and
 * hrpc_chan are different things.  The wire formats both sides share keep
 * hrpc_/HRPC_ (include/hostrpc/msg.h, ring.h, ...).
 *
 * A struct hrpck_chan is one channel to the host (one ivshmem device today;
 * the transport is pluggable).  Users find channels with hrpck_chan_get() and
 * hold a reference while they use them.  Every call returns 0 or a negative
 * errno; the status the host returned is in call->status and is also the
 * return value of hrpck_call() when the transport worked.
 *
 * Transport errors:
 *   -ENOTCONN     channel not attached (host not ready yet, or re-attaching)
 *   -ECONNRESET   the host re-initialised the channel while the call was out
 *   -EPROTO       the host broke the protocol; the channel waits for a reset
 *   -ENODEV       the device went away
 *   -ETIMEDOUT, -EINTR (-ERESTARTSYS is mapped to -EINTR)  synchronous calls
 *   -EMSGSIZE     reply payload larger than rep_cap (rep_len has its length)
 *
 * Contexts: completion and event callbacks run in hard interrupt context or
 * in the context of a thread that polls the channel, with no channel lock
 * held for completions and the channel lock held for events; they must not
 * sleep.  hrpck_call() sleeps.  hrpck_call_async() sleeps only if its gfp
 * allows it.
 */
#ifndef HOSTRPC_CORE_H
#define HOSTRPC_CORE_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/kref.h>
#include <linux/notifier.h>
#include <linux/gfp.h>

struct hrpck_chan;

/**
 * struct hrpck_bulk - a buffer in the channel's bulk data area
 * @ptr: kernel address of the buffer (in shared memory: the host can read
 *       and write it while a call that references it is out)
 * @off: offset of the buffer in the data area (what travels on the wire)
 * @cap: usable bytes at @ptr
 *
 * Reference counted: a call that references the buffer holds a reference
 * until its reply was processed (or the channel reset), so a caller that
 * gives up on a call (timeout, signal) can free the buffer at once without
 * the host writing into memory that was reused.
 */
struct hrpck_bulk {
	void *ptr;
	u32 off;
	u32 cap;
	/* private */
	struct kref ref;
	struct hrpck_chan *chan;
	u32 first_page;
	u32 npages;
	u32 pool_gen;
};

/* hrpck_call.flags */
#define HRPCK_CALL_POLL   0x1u /* spin on the response ring before sleeping */
#define HRPCK_CALL_ONEWAY 0x2u /* no reply wanted (no bulk allowed) */
/* Published without a doorbell of its own (hrpck_call_async() only): the
 * next call that rings covers it, else one doorbell a jiffy later covers
 * every lazy call published meanwhile - a batch (many sockets' CLOSE) costs
 * one exit, not one each.  For calls whose caller does not wait. */
#define HRPCK_CALL_LAZY   0x4u

struct hrpck_call;
typedef void (*hrpck_call_done_t)(struct hrpck_call *call);

/**
 * struct hrpck_call - one call
 * @service: enum hrpc_service
 * @proc: procedure within the service
 * @flags: HRPCK_CALL_*
 * @poll_us: spin budget in microseconds with HRPCK_CALL_POLL; 0 = the
 *           module parameter poll_us
 * @req: inline request payload
 * @req_len: bytes at @req, at most HRPC_MSG_MAX_PAYLOAD
 * @rep: inline reply buffer (may be NULL if @rep_cap is 0)
 * @rep_cap: bytes at @rep
 * @bulk: optional bulk buffer (from hrpck_bulk_alloc() on the same channel)
 * @bulk_len: request bytes at @bulk->ptr
 * @done: completion callback of hrpck_call_async()
 * @ctx: for the user of @done
 * @status: out: 0 or the host's -errno, or a transport error (async)
 * @rep_len: out: inline reply length as sent by the host
 * @rep_bulk_pos: out: reply bulk bytes start at @bulk->ptr + @rep_bulk_pos
 * @rep_bulk_len: out: reply bulk bytes
 * @elapsed_ns: out: from publishing the call to processing its reply
 */
struct hrpck_call {
	u16 service;
	u16 proc;
	u32 flags;
	u32 poll_us;
	const void *req;
	u32 req_len;
	u32 rep_cap;
	void *rep;
	struct hrpck_bulk *bulk;
	u32 bulk_len;
	hrpck_call_done_t done;
	void *ctx;
	int status;
	u32 rep_len;
	u32 rep_bulk_pos;
	u32 rep_bulk_len;
	u64 elapsed_ns;
};

typedef void (*hrpck_event_fn_t)(void *ctx, u16 service, u16 event,
				 const void *payload, u32 len);

/**
 * struct hrpck_event_sub - an event subscription
 * @service: events of this service are delivered
 * @fn: called with the channel lock held, in atomic context; @payload is
 *      a private copy valid only during the call
 * @ctx: passed to @fn
 */
struct hrpck_event_sub {
	u16 service;
	hrpck_event_fn_t fn;
	void *ctx;
	/* private */
	struct list_head node;
};

/* Channel notifier actions; data is the struct hrpck_chan * (no reference). */
enum hrpck_chan_event {
	HRPCK_CHAN_ADDED = 1,  /* a channel appeared (maybe not attached yet) */
	HRPCK_CHAN_ATTACHED,   /* HELLO done: calls can be made */
	HRPCK_CHAN_DETACHED,   /* host state lost (reset) or detached */
	HRPCK_CHAN_REMOVED,    /* channel going away: drop references */
};

struct hrpck_chan *hrpck_chan_get(unsigned int index);
void hrpck_chan_hold(struct hrpck_chan *chan);
void hrpck_chan_put(struct hrpck_chan *chan);
bool hrpck_chan_attached(struct hrpck_chan *chan);
u32 hrpck_chan_guest_id(struct hrpck_chan *chan);
int hrpck_register_notifier(struct notifier_block *nb);
int hrpck_unregister_notifier(struct notifier_block *nb);

int hrpck_call(struct hrpck_chan *chan, struct hrpck_call *call,
	       unsigned int timeout_ms);
int hrpck_call_async(struct hrpck_chan *chan, struct hrpck_call *call,
		     gfp_t gfp);
bool hrpck_chan_poll(struct hrpck_chan *chan, bool (*cond)(void *arg), void *arg,
		     unsigned int poll_us);

int hrpck_event_subscribe(struct hrpck_chan *chan, struct hrpck_event_sub *sub);
void hrpck_event_unsubscribe(struct hrpck_chan *chan,
			     struct hrpck_event_sub *sub);

struct hrpck_bulk *hrpck_bulk_alloc(struct hrpck_chan *chan, u32 size,
				    gfp_t gfp);
struct hrpck_bulk *hrpck_bulk_get(struct hrpck_bulk *bulk);
void hrpck_bulk_put(struct hrpck_bulk *bulk);

#endif /* HOSTRPC_CORE_H */
