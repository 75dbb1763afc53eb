/* SPDX-License-Identifier: MIT */
/*
 * handle-table.h - the one table behind every handle a service hands across
 * the trust boundary (guestrpcd's nodes, files and exec sessions, the socket
 * service's sockets).  virtiofsd's lo_map idea: the peer never sees a pointer
 * or an fd, only a bounds-checked table index with a generation number.
 *
 * Encoding (the wire's, include/hostrpc/guestfs.h, guestexec.h and sock.h;
 * tests/unit/test-handle-table checks that they agree):
 *
 *	handle = (u64)generation << 32 | index,   generation never 0
 *
 * so 0 is never a handle.  Removing an entry moves its slot's generation on:
 * a stale handle, or a forged one (index out of range, wrong generation,
 * generation 0) finds no object.  Generations wrap from UINT32_MAX to 1.
 *
 * Generation base: a table's slots start at its own base.  With base 0 the
 * table takes the next one of hrpc_handle_gen_base(): a random point per
 * process, then HRPC_HANDLE_GEN_STRIDE apart per table.  So a handle an
 * earlier channel handed out (a stale event or reply that crossed a
 * reconnect) does not name an object of a later channel in the same process
 * until one of its slots has been reused STRIDE times, and a new worker
 * process (forked or executed) does not start where the previous one did.
 *
 * In the tree, not installed: exported from libhostrpc (hrpc_*) for the
 * services; guestrpcd compiles it in.  Error convention: -errno.  A table
 * is not thread-safe: it belongs to one channel, served by one thread.
 */
#ifndef HOSTRPC_HANDLE_TABLE_H
#define HOSTRPC_HANDLE_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#define HRPC_HANDLE_GEN_STRIDE (1u << 16)

static inline uint64_t hrpc_handle_make(uint32_t index, uint32_t gen)
{
	return (uint64_t)gen << 32 | index;
}

static inline uint32_t hrpc_handle_index(uint64_t handle) { return (uint32_t)handle; }
static inline uint32_t hrpc_handle_gen(uint64_t handle) { return (uint32_t)(handle >> 32); }

struct hrpc_handle_slot {
	void *obj;           /* NULL = free */
	uint32_t gen;        /* of the current or the next occupant; never 0 */
	uint32_t next_free;  /* free list, UINT32_MAX = end */
};

struct hrpc_handle_table {
	struct hrpc_handle_slot *slot;
	uint32_t cap;        /* slots allocated, <= max */
	uint32_t used;       /* live entries */
	uint32_t max;        /* most live entries allowed */
	uint32_t free_head;  /* UINT32_MAX = none */
	uint32_t gen_base;   /* generation of a new slot, never 0 */
};

/* A base for one more table: never 0, STRIDE past the previous call's in
 * this process; the first call of a process (a forked one too) starts at
 * random.  Thread-safe. */
uint32_t hrpc_handle_gen_base(void);

/* An empty table of at most `max` (>= 1) live entries whose new slots start
 * at generation `gen_base`; 0 = hrpc_handle_gen_base().  Allocates nothing
 * until the first add. */
void hrpc_handle_table_init(struct hrpc_handle_table *t, uint32_t max, uint32_t gen_base);

/* Frees the slots, not the objects (take them out with _next() first).
 * NULL is fine.  The end of a table: one for a new peer is initialised
 * again, with a new base, or it would hand out the old handles again. */
void hrpc_handle_table_fini(struct hrpc_handle_table *t);

/* Enter `obj` (not NULL) and return its handle.  -EMFILE when `max` entries
 * are live, -ENOMEM, -EINVAL for a NULL object. */
int hrpc_handle_table_add(struct hrpc_handle_table *t, void *obj, uint64_t *handle);

/* Enter `obj` under exactly `handle` (a table that moved with a migrating
 * guest: the guest keeps its handles).  -EINVAL for generation 0, -EMFILE
 * for an index at or past `max`, -EEXIST when the slot is taken. */
int hrpc_handle_table_put(struct hrpc_handle_table *t, void *obj, uint64_t handle);

/* The object `handle` names, or NULL if it names none: the only way from a
 * peer's handle to an object. */
void *hrpc_handle_table_get(const struct hrpc_handle_table *t, uint64_t handle);

/* Take the entry out and return its object (NULL if the handle names none);
 * the handle, and every earlier one of its slot, stays dead. */
void *hrpc_handle_table_remove(struct hrpc_handle_table *t, uint64_t handle);

/* The live object at `index`, for an index the service took from one of its
 * own handles (a hash chain, say), never from the peer.  NULL if free. */
static inline void *hrpc_handle_table_at(const struct hrpc_handle_table *t, uint32_t index)
{
	return index < t->cap ? t->slot[index].obj : NULL;
}

static inline uint32_t hrpc_handle_table_count(const struct hrpc_handle_table *t)
{
	return t->used;
}

/* Whether add() would refuse with -EMFILE: for a service that checks its
 * quota before it makes the object (an open file, say), not after. */
static inline bool hrpc_handle_table_full(const struct hrpc_handle_table *t)
{
	return t->used >= t->max;
}

/* Iterate: the object of the first live slot at or after *pos (start at
 * 0), its handle in *handle (may be NULL); *pos moves past it.  NULL at
 * the end.  Removing the entry just returned is fine. */
void *hrpc_handle_table_next(const struct hrpc_handle_table *t, uint32_t *pos,
			     uint64_t *handle);

#endif
