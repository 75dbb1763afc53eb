/* SPDX-License-Identifier: MIT */
/* handle-table.c - see handle-table.h. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/handle-table.h"

#define NONE UINT32_MAX

/* Not a secret, only a start no earlier process is likely to have had:
 * without entropy yet (a guest early in its boot) time and pid will do. */
static uint32_t random_start(void)
{
	struct timespec a, b;
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		clock_gettime(CLOCK_REALTIME, &a);
		clock_gettime(CLOCK_MONOTONIC, &b);
		r = (uint32_t)a.tv_nsec ^ (uint32_t)a.tv_sec * 2654435761u ^
		    (uint32_t)b.tv_nsec * 40503u ^ (uint32_t)getpid() << 16;
	}
	return r ? r : 1;
}

uint32_t hrpc_handle_gen_base(void)
{
	/* The pid that drew the start, and the next base: a forked child
	 * (a worker that does not exec) draws its own instead of repeating
	 * its parent's and its siblings' bases.  next 0: not drawn yet, or
	 * wrapped, draw again. */
	static uint64_t state;
	uint64_t old = __atomic_load_n(&state, __ATOMIC_RELAXED), nw;
	uint32_t me = (uint32_t)getpid(), b;

	do {
		b = (uint32_t)(old >> 32) == me && (uint32_t)old ? (uint32_t)old : random_start();
		nw = (uint64_t)me << 32 | (uint32_t)(b + HRPC_HANDLE_GEN_STRIDE);
	} while (!__atomic_compare_exchange_n(&state, &old, nw, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return b;
}

void hrpc_handle_table_init(struct hrpc_handle_table *t, uint32_t max, uint32_t gen_base)
{
	t->slot = NULL;
	t->cap = t->used = 0;
	/* An index must stay below NONE, the free list's end. */
	t->max = max < NONE ? max : NONE - 1;
	t->free_head = NONE;
	t->gen_base = gen_base ? gen_base : hrpc_handle_gen_base();
}

void hrpc_handle_table_fini(struct hrpc_handle_table *t)
{
	if (!t)
		return;
	free(t->slot);
	t->slot = NULL;
	t->cap = t->used = 0;
	t->free_head = NONE;
}

/* Only called with every slot live (cap == used < max). */
static int grow(struct hrpc_handle_table *t)
{
	uint32_t ncap = t->cap ? t->cap * 2 : 64;
	struct hrpc_handle_slot *s;

	if (ncap > t->max || ncap < t->cap)
		ncap = t->max;
	s = realloc(t->slot, (size_t)ncap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	t->slot = s;
	/* New slots go on the free list in index order: low indexes first. */
	for (uint32_t i = ncap; i-- > t->cap;) {
		s[i].obj = NULL;
		s[i].gen = t->gen_base;
		s[i].next_free = t->free_head;
		t->free_head = i;
	}
	t->cap = ncap;
	return 0;
}

int hrpc_handle_table_add(struct hrpc_handle_table *t, void *obj, uint64_t *handle)
{
	struct hrpc_handle_slot *s;
	uint32_t i;
	int rc;

	if (!obj)
		return -EINVAL;
	if (t->used >= t->max)
		return -EMFILE;
	if (t->free_head == NONE && (rc = grow(t)) < 0)
		return rc;
	i = t->free_head;
	s = &t->slot[i];
	t->free_head = s->next_free;
	s->obj = obj;
	t->used++;
	*handle = hrpc_handle_make(i, s->gen);
	return 0;
}

int hrpc_handle_table_put(struct hrpc_handle_table *t, void *obj, uint64_t handle)
{
	uint32_t i = hrpc_handle_index(handle), gen = hrpc_handle_gen(handle);
	uint32_t *link;
	int rc;

	if (!obj || !gen)
		return -EINVAL;
	if (i >= t->max || t->used >= t->max)
		return -EMFILE;
	while (i >= t->cap)
		if ((rc = grow(t)) < 0)
			return rc;
	if (t->slot[i].obj)
		return -EEXIST;
	/* Off the free list (it holds every free slot below cap). */
	for (link = &t->free_head; *link != NONE; link = &t->slot[*link].next_free)
		if (*link == i) {
			*link = t->slot[i].next_free;
			break;
		}
	t->slot[i].obj = obj;
	t->slot[i].gen = gen;
	t->used++;
	return 0;
}

void *hrpc_handle_table_get(const struct hrpc_handle_table *t, uint64_t handle)
{
	uint32_t i = hrpc_handle_index(handle);

	/* A live slot's generation is never 0, so neither is a valid handle's. */
	if (i >= t->cap || t->slot[i].gen != hrpc_handle_gen(handle))
		return NULL;
	return t->slot[i].obj;
}

void *hrpc_handle_table_remove(struct hrpc_handle_table *t, uint64_t handle)
{
	void *o = hrpc_handle_table_get(t, handle);
	struct hrpc_handle_slot *s;

	if (!o)
		return NULL;
	s = &t->slot[hrpc_handle_index(handle)];
	s->obj = NULL;
	if (++s->gen == 0)
		s->gen = 1;
	s->next_free = t->free_head;
	t->free_head = hrpc_handle_index(handle);
	t->used--;
	return o;
}

void *hrpc_handle_table_next(const struct hrpc_handle_table *t, uint32_t *pos,
			     uint64_t *handle)
{
	for (uint32_t i = *pos; i < t->cap; i++) {
		if (t->slot[i].obj) {
			*pos = i + 1;
			if (handle)
				*handle = hrpc_handle_make(i, t->slot[i].gen);
			return t->slot[i].obj;
		}
	}
	*pos = t->cap;
	return NULL;
}
