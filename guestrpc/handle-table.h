/* SPDX-License-Identifier: MIT */
/*
 * handle-table.h - handles that cross the trust boundary: a table index in
 * the low 32 bits and the slot's generation (>= 1) in the high 32 bits, as
 * include/hostrpc/guestfs.h says.  A freed slot's generation moves on, so a
 * stale or forged handle never finds an object (virtiofsd's lo_map idea).
 *
 * Error convention: -errno.  Not thread-safe (the agent is one thread).
 */
#ifndef GUESTRPC_HANDLE_TABLE_H
#define GUESTRPC_HANDLE_TABLE_H

#include <stdint.h>

struct handle_table {
	void **obj;         /* NULL = free slot */
	uint32_t *gen;
	uint32_t *next_free;
	uint32_t cap;
	uint32_t used;
	uint32_t max;       /* most live entries allowed */
	uint32_t free_head; /* UINT32_MAX = none */
	uint32_t first_gen; /* generation of a new slot */
};

/* Generations of new slots start at first_gen (0 -> 1): give every table
 * a different start so that a handle of an earlier channel never names an
 * object of a later one (a stale event or reply that crossed a reconnect). */
void handle_table_init(struct handle_table *t, uint32_t max, uint32_t first_gen);
/* Frees the table's arrays, not the objects. */
void handle_table_fini(struct handle_table *t);
/* -ENFILE when `max` entries are live, -ENOMEM. */
int handle_table_add(struct handle_table *t, void *obj, uint64_t *handle);
/* NULL unless `handle` names a live entry. */
void *handle_table_get(const struct handle_table *t, uint64_t handle);
/* Removes and returns the object (NULL if the handle is not live). */
void *handle_table_remove(struct handle_table *t, uint64_t handle);
/* Iterate: returns the object of the first live slot >= *pos, sets *pos
 * past it and *handle; NULL at the end. */
void *handle_table_next(const struct handle_table *t, uint32_t *pos, uint64_t *handle);

#endif
