// SPDX-License-Identifier: GPL-2.0
/*
 * Allocator for the bulk data area of a channel.
 *
 * The data area belongs to the guest (docs/protocol.md): the host only
 * touches the bytes a call references.  It is cut into HRPC_SHM_PAGE pages
 * tracked by a bitmap under a spinlock; allocation is first fit of
 * contiguous pages.  Buffers are reference counted (struct hrpck_bulk): a
 * call in flight holds a reference, so pages return to the pool only when
 * neither the user nor the host can still be using them.
 *
 * The bitmap describes one geometry.  If a host reset brings a different
 * data area, the pool starts over with a new generation; buffers of the
 * old generation stay valid memory (the mapping is the same) but can no
 * longer be used in calls (-ESTALE) and return nothing to the new bitmap.
 */
#include <linux/bitmap.h>
#include <linux/slab.h>
#include <linux/mm.h>

#include "chan.h"

void hrpck_bulk_pool_init(struct hrpck_bulk_pool *pool)
{
	spin_lock_init(&pool->lock);
	pool->map = NULL;
	pool->npages = 0;
	pool->nfree = 0;
	pool->gen = 0;
}

/*
 * (Re)make the pool for a data area.  Process context.  Keeps the pool
 * (and every outstanding buffer) if the geometry did not change.
 */
int hrpck_bulk_pool_setup(struct hrpck_bulk_pool *pool, u8 *base, u32 data_off,
			  u32 data_size)
{
	u32 npages = data_size / HRPC_SHM_PAGE;
	unsigned long *map, *old;
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	if (pool->map && pool->data_off == data_off &&
	    pool->data_size == data_size) {
		spin_unlock_irqrestore(&pool->lock, flags);
		return 0;
	}
	spin_unlock_irqrestore(&pool->lock, flags);

	map = npages ? bitmap_zalloc(npages, GFP_KERNEL) : NULL;
	if (npages && !map)
		return -ENOMEM;

	spin_lock_irqsave(&pool->lock, flags);
	old = pool->map;
	pool->map = map;
	pool->npages = npages;
	pool->nfree = npages;
	pool->base = base;
	pool->data_off = data_off;
	pool->data_size = data_size;
	pool->gen++;
	spin_unlock_irqrestore(&pool->lock, flags);
	bitmap_free(old);
	return 0;
}

void hrpck_bulk_pool_fini(struct hrpck_bulk_pool *pool)
{
	bitmap_free(pool->map);
	pool->map = NULL;
}

u32 hrpck_bulk_pool_free_bytes(struct hrpck_bulk_pool *pool)
{
	return READ_ONCE(pool->nfree) * HRPC_SHM_PAGE;
}

bool hrpck_bulk_valid(struct hrpck_chan *chan, const struct hrpck_bulk *bulk)
{
	return bulk->chan == chan && bulk->pool_gen == READ_ONCE(chan->pool.gen);
}

/**
 * hrpck_bulk_alloc() - allocate a buffer in the bulk data area
 * @chan: channel
 * @size: bytes wanted (rounded up to whole pages; 0 is invalid)
 * @gfp: for the descriptor; the data area itself never blocks
 *
 * The buffer holds a reference on @chan; the caller owns one reference on
 * the buffer and drops it with hrpck_bulk_put().
 *
 * Return: the buffer, or ERR_PTR(-EINVAL / -ENOMEM / -ENOTCONN (no data
 * area yet) / -ENOSPC (data area full or too small)).
 */
struct hrpck_bulk *hrpck_bulk_alloc(struct hrpck_chan *chan, u32 size, gfp_t gfp)
{
	struct hrpck_bulk_pool *pool = &chan->pool;
	struct hrpck_bulk *b;
	unsigned long flags, first;
	u32 npages;

	if (!size)
		return ERR_PTR(-EINVAL);
	npages = DIV_ROUND_UP(size, HRPC_SHM_PAGE);
	b = kzalloc(sizeof(*b), gfp);
	if (!b)
		return ERR_PTR(-ENOMEM);

	spin_lock_irqsave(&pool->lock, flags);
	if (!pool->map) {
		spin_unlock_irqrestore(&pool->lock, flags);
		kfree(b);
		return ERR_PTR(-ENOTCONN);
	}
	if (npages > pool->nfree)
		first = pool->npages;
	else
		first = bitmap_find_next_zero_area(pool->map, pool->npages, 0,
						   npages, 0);
	if (first >= pool->npages) {
		spin_unlock_irqrestore(&pool->lock, flags);
		kfree(b);
		return ERR_PTR(-ENOSPC);
	}
	bitmap_set(pool->map, first, npages);
	pool->nfree -= npages;
	b->first_page = first;
	b->npages = npages;
	b->pool_gen = pool->gen;
	b->off = first * HRPC_SHM_PAGE;
	b->ptr = pool->base + b->off;
	spin_unlock_irqrestore(&pool->lock, flags);

	b->cap = npages * HRPC_SHM_PAGE;
	kref_init(&b->ref);
	hrpck_chan_hold(chan);
	b->chan = chan;
	return b;
}
EXPORT_SYMBOL_GPL(hrpck_bulk_alloc);

/**
 * hrpck_bulk_get() - take another reference on a buffer
 * @bulk: buffer
 *
 * Return: @bulk
 */
struct hrpck_bulk *hrpck_bulk_get(struct hrpck_bulk *bulk)
{
	kref_get(&bulk->ref);
	return bulk;
}
EXPORT_SYMBOL_GPL(hrpck_bulk_get);

static void bulk_release(struct kref *ref)
{
	struct hrpck_bulk *b = container_of(ref, struct hrpck_bulk, ref);
	struct hrpck_chan *chan = b->chan;
	struct hrpck_bulk_pool *pool = &chan->pool;
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	if (b->pool_gen == pool->gen && pool->map) {
		bitmap_clear(pool->map, b->first_page, b->npages);
		pool->nfree += b->npages;
	}
	spin_unlock_irqrestore(&pool->lock, flags);
	kfree(b);
	hrpck_chan_put(chan);
}

/**
 * hrpck_bulk_put() - drop a reference on a buffer
 * @bulk: buffer (NULL or an ERR_PTR is fine)
 *
 * Any context.  The pages return to the pool when the last reference
 * (the caller's or that of a call still owed a reply) is gone.
 */
void hrpck_bulk_put(struct hrpck_bulk *bulk)
{
	if (!IS_ERR_OR_NULL(bulk))
		kref_put(&bulk->ref, bulk_release);
}
EXPORT_SYMBOL_GPL(hrpck_bulk_put);
