/* SPDX-License-Identifier: MIT */
/* handle-table.c - see handle-table.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/guestfs.h"
#include "guestrpc/handle-table.h"

void handle_table_init(struct handle_table *t, uint32_t max, uint32_t first_gen)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	t->free_head = UINT32_MAX;
	t->first_gen = first_gen ? first_gen : 1;
}

void handle_table_fini(struct handle_table *t)
{
	free(t->obj);
	free(t->gen);
	free(t->next_free);
	handle_table_init(t, t->max, t->first_gen);
}

static int grow(struct handle_table *t)
{
	uint32_t ncap = t->cap ? t->cap * 2 : 64;
	void **o;
	uint32_t *g, *n;

	/* Only called with cap == used < max. */
	if (ncap > t->max)
		ncap = t->max;
	o = realloc(t->obj, ncap * sizeof(*o));
	if (!o)
		return -ENOMEM;
	t->obj = o;
	g = realloc(t->gen, ncap * sizeof(*g));
	if (!g)
		return -ENOMEM;
	t->gen = g;
	n = realloc(t->next_free, ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	t->next_free = n;
	/* New slots go on the free list in index order. */
	for (uint32_t i = ncap; i-- > t->cap;) {
		t->obj[i] = NULL;
		t->gen[i] = t->first_gen;
		t->next_free[i] = t->free_head;
		t->free_head = i;
	}
	t->cap = ncap;
	return 0;
}

int handle_table_add(struct handle_table *t, void *obj, uint64_t *handle)
{
	uint32_t i;
	int rc;

	if (t->used >= t->max)
		return -ENFILE;
	if (t->free_head == UINT32_MAX) {
		rc = grow(t);
		if (rc < 0)
			return rc;
	}
	i = t->free_head;
	t->free_head = t->next_free[i];
	t->obj[i] = obj;
	t->used++;
	*handle = HRPC_GFS_HANDLE(i, t->gen[i]);
	return 0;
}

void *handle_table_get(const struct handle_table *t, uint64_t handle)
{
	uint32_t i = HRPC_GFS_HANDLE_INDEX(handle);

	if (i >= t->cap || !t->obj[i] || t->gen[i] != HRPC_GFS_HANDLE_GEN(handle))
		return NULL;
	return t->obj[i];
}

void *handle_table_remove(struct handle_table *t, uint64_t handle)
{
	uint32_t i = HRPC_GFS_HANDLE_INDEX(handle);
	void *o = handle_table_get(t, handle);

	if (!o)
		return NULL;
	t->obj[i] = NULL;
	/* Generation 0 is never handed out: handle 0 stays invalid. */
	if (++t->gen[i] == 0)
		t->gen[i] = t->first_gen;
	t->next_free[i] = t->free_head;
	t->free_head = i;
	t->used--;
	return o;
}

void *handle_table_next(const struct handle_table *t, uint32_t *pos, uint64_t *handle)
{
	for (uint32_t i = *pos; i < t->cap; i++) {
		if (t->obj[i]) {
			*pos = i + 1;
			*handle = HRPC_GFS_HANDLE(i, t->gen[i]);
			return t->obj[i];
		}
	}
	*pos = t->cap;
	return NULL;
}
