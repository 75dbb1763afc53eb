/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private structures of hostrpc_core: the channel (transport
 * independent part of a Host RPC client), its bulk pool and the interface a
 * transport (ivshmem.c, xen.c) implements.
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
 * hrpck_chan_destroy() marked the channel dead.
 *
 * Lifetime: struct hrpck_chan is reference counted (kref).  The transport
 * holds one reference from hrpck_chan_create() to after hrpck_chan_destroy();
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

#define HRPCK_CORE_NAME "hostrpc_core"

/* Module parameters (main.c). */
extern unsigned int hrpck_poll_us;
extern unsigned int hrpck_attach_timeout_ms;
extern unsigned int hrpck_call_timeout_ms;
extern unsigned int hrpck_rekick_ms;
extern bool hrpck_debug_forge;
extern unsigned int hrpck_xen_pages;
extern struct workqueue_struct *hrpck_wq;

struct hrpck_transport_ops {
	const char *name;
	/* Ring the host's "look at your rings" doorbell.  Atomic context. */
	void (*kick)(struct hrpck_chan *chan);
	/* Ask the host for a fresh channel generation (reset request).
	 * Optional.  Only called from probe, under attach_mutex.
	 */
	void (*request_reset)(struct hrpck_chan *chan);
	/* Last reference gone: unmap the shared memory, free transport state.
	 * Process context (runs from hrpck_wq).
	 */
	void (*release)(struct hrpck_chan *chan);
};

/* Same numbers as enum hrpc_ioc_state of the uapi header. */
enum hrpck_chan_state {
	HRPCK_STATE_DETACHED = HRPC_IOC_STATE_DETACHED,
	HRPCK_STATE_ATTACHING = HRPC_IOC_STATE_ATTACHING,
	HRPCK_STATE_ATTACHED = HRPC_IOC_STATE_ATTACHED,
	HRPCK_STATE_BROKEN = HRPC_IOC_STATE_BROKEN,
	HRPCK_STATE_DEAD = HRPC_IOC_STATE_DEAD,
};

struct hrpck_bulk_pool {
	spinlock_t lock;	/* protects everything below; irq-safe */
	unsigned long *map;	/* one bit per HRPC_SHM_PAGE page, set = used */
	u32 npages;
	u32 nfree;
	u32 gen;		/* bumped when the data area geometry changes */
	u8 *base;		/* data area */
	u32 data_off;		/* geometry the bitmap was made for */
	u32 data_size;
};

struct hrpck_chan_stats {
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

#define HRPCK_INFLIGHT_BITS 8

struct hrpck_chan {
	struct kref ref;
	unsigned int index;		/* /dev/hostrpc<index>, hrpck_chan_get() */
	struct device *parent;
	const struct hrpck_transport_ops *ops;
	void *tpriv;			/* transport private */

	struct hrpc_shm_hdr *shm;	/* shared, hostile */
	u64 shm_size;			/* bytes mapped */
	struct hrpc_shm_hdr geo;	/* private, checked copy */

	/* protected by lock */
	spinlock_t lock;
	enum hrpck_chan_state state;
	u32 attach_seq;			/* bumped at every detach/fence */
	u32 host_gen;			/* generation attached to */
	DECLARE_HASHTABLE(inflight, HRPCK_INFLIGHT_BITS);
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
	/* While calls are out: ring again and look at the response ring every
	 * hrpck_rekick_ms, as a sleeping caller does (a lost doorbell or
	 * interrupt costs a slice, not the call's timeout).  Holds a channel
	 * reference while queued. */
	struct delayed_work rekick_work;
	/* HRPCK_CALL_LAZY calls published since the last doorbell decision
	 * (req_lock): the next decision looks back to lazy_from. */
	bool lazy;
	u32 lazy_from;
	struct delayed_work lazy_work;
	wait_queue_head_t attach_wq;
	bool removing;
	bool want_fresh;		/* never adopt generation stale_gen */
	u32 stale_gen;
	int last_error;
	u16 revision;
	u64 features;
	u32 guest_id;
	char server[64];

	struct hrpck_bulk_pool pool;
	struct hrpck_chan_stats stats;

	/* char device and registry */
	struct miscdevice misc;
	char misc_name[24];
	bool misc_registered;
	bool registered;
	struct list_head node;

	struct work_struct release_work;
};

/* chan.c: transport side */
struct hrpck_chan *hrpck_chan_create(struct device *parent,
				     const struct hrpck_transport_ops *ops,
				     void *tpriv, void *shm, u64 shm_size);
int hrpck_chan_register(struct hrpck_chan *chan);
void hrpck_chan_destroy(struct hrpck_chan *chan);
void hrpck_chan_ring_irq(struct hrpck_chan *chan);
void hrpck_chan_reset_irq(struct hrpck_chan *chan);

/* chan.c: module-wide */
int hrpck_chan_cache_init(void);
void hrpck_chan_cache_exit(void);

/* chan.c: helpers for the char device */
int hrpck_chan_call(struct hrpck_chan *chan, struct hrpck_call *call,
		    unsigned int timeout_ms);
void hrpck_chan_fill_info(struct hrpck_chan *chan, struct hrpc_ioc_info *info);
int hrpck_chan_debug_forge(struct hrpck_chan *chan, u32 what, u32 value, u32 forge_flags);

/* main.c: registry */
int hrpck_registry_add(struct hrpck_chan *chan);
void hrpck_registry_del(struct hrpck_chan *chan);
void hrpck_notify(struct hrpck_chan *chan, enum hrpck_chan_event ev);

/* bulk.c */
void hrpck_bulk_pool_init(struct hrpck_bulk_pool *pool);
int hrpck_bulk_pool_setup(struct hrpck_bulk_pool *pool, u8 *base, u32 data_off,
			  u32 data_size);
void hrpck_bulk_pool_fini(struct hrpck_bulk_pool *pool);
bool hrpck_bulk_valid(struct hrpck_chan *chan, const struct hrpck_bulk *bulk);
u32 hrpck_bulk_pool_free_bytes(struct hrpck_bulk_pool *pool);

/* chardev.c */
int hrpck_chardev_register(struct hrpck_chan *chan);
void hrpck_chardev_unregister(struct hrpck_chan *chan);

/* ivshmem.c */
void hrpck_fence_init(void);
void hrpck_fence_exit(void);
int hrpck_ivshmem_init(void);
void hrpck_ivshmem_exit(void);

/* xen.c: a xenbus frontend; 0 without registering on a guest that is not
 * a Xen domain, and on a kernel without xenbus no code at all. */
#if IS_ENABLED(CONFIG_XEN_XENBUS_FRONTEND)
int hrpck_xen_init(void);
void hrpck_xen_exit(void);
#else
static inline int hrpck_xen_init(void) { return 0; }
static inline void hrpck_xen_exit(void) { }
#endif

#endif /* HOSTRPC_CORE_CHAN_H */
