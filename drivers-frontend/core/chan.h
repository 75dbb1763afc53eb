/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private structures of hostrpc_core: the channel (transport
 * independent part of a Host RPC client), its bulk pool and the interface a
 * transport (ivshmem today, Xen next) implements.
 *
 * Locking, outermost first:
 *   attach_mutex  serialises attach/detach (probe, reset work, remove)
 *   req_lock      request ring producer side; held across "state check +
 *                 insert into the in-flight table + publish" so that a
 *                 detach (which takes req_lock first) never interleaves
 *   lock          state, in-flight table, response ring consumer side,
 *                 event subscribers, scratch buffer; taken from hard irq
 *   pool.lock     bulk bitmap (innermost: taken when a call's bulk
 *                 reference is dropped under lock)
 * Both spinlocks are irq-safe.  The transport's kick() is only called with
 * req_lock or lock held and the state checked, so it never runs after
 * hrpc_chan_destroy() marked the channel dead.
 *
 * Lifetime: struct hrpc_chan is reference counted (kref).  The transport
 * holds one reference from hrpc_chan_create() to after hrpc_chan_destroy();
 * open files, bulk buffers and frontends hold others.  The shared memory
 * mapping stays until the last reference is gone (ops->release), so a bulk
 * pointer never points into unmapped memory.
 */
#ifndef HOSTRPC_CORE_CHAN_H
#define HOSTRPC_CORE_CHAN_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/hashtable.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <hostrpc/ring.h>
#include <hostrpc/control.h>
#include <hostrpc/chardev.h>

#include "hostrpc_core.h"

#define HRPC_CORE_NAME "hostrpc_core"

/* Module parameters (main.c). */
extern unsigned int hrpc_poll_us;
extern unsigned int hrpc_attach_timeout_ms;
extern unsigned int hrpc_call_timeout_ms;
extern unsigned int hrpc_rekick_ms;
extern bool hrpc_debug_forge;
extern struct workqueue_struct *hrpc_wq;

struct hrpc_transport_ops {
	const char *name;
	/* Ring the host's "look at your rings" doorbell.  Atomic context. */
	void (*kick)(struct hrpc_chan *chan);
	/* Ask the host for a fresh channel generation (reset request).
	 * Optional.  Only called from probe, under attach_mutex.
	 */
	void (*request_reset)(struct hrpc_chan *chan);
	/* Last reference gone: unmap the shared memory, free transport state.
	 * Process context (runs from hrpc_wq).
	 */
	void (*release)(struct hrpc_chan *chan);
};

/* Same numbers as enum hrpc_ioc_state of the uapi header. */
enum hrpc_chan_state {
	HRPC_STATE_DETACHED = HRPC_IOC_STATE_DETACHED,
	HRPC_STATE_ATTACHING = HRPC_IOC_STATE_ATTACHING,
	HRPC_STATE_ATTACHED = HRPC_IOC_STATE_ATTACHED,
	HRPC_STATE_BROKEN = HRPC_IOC_STATE_BROKEN,
	HRPC_STATE_DEAD = HRPC_IOC_STATE_DEAD,
};

struct hrpc_bulk_pool {
	spinlock_t lock;	/* protects everything below; irq-safe */
	unsigned long *map;	/* one bit per HRPC_SHM_PAGE page, set = used */
	u32 npages;
	u32 nfree;
	u32 gen;		/* bumped when the data area geometry changes */
	u8 *base;		/* data area */
	u32 data_off;		/* geometry the bitmap was made for */
	u32 data_size;
};

struct hrpc_chan_stats {
	atomic64_t calls;
	atomic64_t replies;
	atomic64_t events;
	atomic64_t unknown_replies;
	atomic64_t bad_replies;
	atomic64_t orphan_replies;
	atomic64_t ring_irqs;
	atomic64_t reset_irqs;
	atomic64_t doorbells;
	atomic64_t resets;
	atomic64_t poll_hits;
	atomic64_t poll_misses;
};

#define HRPC_INFLIGHT_BITS 8

struct hrpc_chan {
	struct kref ref;
	unsigned int index;		/* /dev/hostrpc<index>, hrpc_chan_get() */
	struct device *parent;
	const struct hrpc_transport_ops *ops;
	void *tpriv;			/* transport private */

	struct hrpc_shm_hdr *shm;	/* shared, hostile */
	u64 shm_size;			/* bytes mapped */
	struct hrpc_shm_hdr geo;	/* private, checked copy */

	/* protected by lock */
	spinlock_t lock;
	enum hrpc_chan_state state;
	u32 attach_seq;			/* bumped at every detach/fence */
	u32 host_gen;			/* generation attached to */
	DECLARE_HASHTABLE(inflight, HRPC_INFLIGHT_BITS);
	struct hrpc_ring rsp;
	struct list_head subs;
	unsigned int nsubs;
	void *scratch;			/* one inline payload */
	atomic_t irq_users;		/* sleepers + async calls: keep irqs armed */

	/* protected by req_lock */
	spinlock_t req_lock;
	struct hrpc_ring req;
	wait_queue_head_t space_wq;

	atomic64_t next_id;

	/* attach state, protected by attach_mutex (read locklessly for info) */
	struct mutex attach_mutex;
	struct work_struct reset_work;
	wait_queue_head_t attach_wq;
	bool removing;
	bool want_fresh;		/* never adopt generation stale_gen */
	u32 stale_gen;
	int last_error;
	u16 revision;
	u64 features;
	u32 guest_id;
	char server[64];

	struct hrpc_bulk_pool pool;
	struct hrpc_chan_stats stats;

	/* char device and registry */
	struct miscdevice misc;
	char misc_name[24];
	bool misc_registered;
	bool registered;
	struct list_head node;

	struct work_struct release_work;
};

/* chan.c: transport side */
struct hrpc_chan *hrpc_chan_create(struct device *parent,
				   const struct hrpc_transport_ops *ops,
				   void *tpriv, void *shm, u64 shm_size);
int hrpc_chan_register(struct hrpc_chan *chan);
void hrpc_chan_destroy(struct hrpc_chan *chan);
void hrpc_chan_ring_irq(struct hrpc_chan *chan);
void hrpc_chan_reset_irq(struct hrpc_chan *chan);

/* chan.c: module-wide */
int hrpc_chan_cache_init(void);
void hrpc_chan_cache_exit(void);

/* chan.c: helpers for the char device */
int hrpc_chan_call(struct hrpc_chan *chan, struct hrpc_call *call,
		   unsigned int timeout_ms);
void hrpc_chan_fill_info(struct hrpc_chan *chan, struct hrpc_ioc_info *info);
int hrpc_chan_debug_forge(struct hrpc_chan *chan, u32 what, u32 value);

/* main.c: registry */
int hrpc_registry_add(struct hrpc_chan *chan);
void hrpc_registry_del(struct hrpc_chan *chan);
void hrpc_notify(struct hrpc_chan *chan, enum hrpc_chan_event ev);

/* bulk.c */
void hrpc_bulk_pool_init(struct hrpc_bulk_pool *pool);
int hrpc_bulk_pool_setup(struct hrpc_bulk_pool *pool, u8 *base, u32 data_off,
			 u32 data_size);
void hrpc_bulk_pool_fini(struct hrpc_bulk_pool *pool);
bool hrpc_bulk_valid(struct hrpc_chan *chan, const struct hrpc_bulk *bulk);
u32 hrpc_bulk_pool_free_bytes(struct hrpc_bulk_pool *pool);

/* chardev.c */
int hrpc_chardev_register(struct hrpc_chan *chan);
void hrpc_chardev_unregister(struct hrpc_chan *chan);

/* ivshmem.c */
int hrpc_ivshmem_init(void);
void hrpc_ivshmem_exit(void);

#endif /* HOSTRPC_CORE_CHAN_H */
