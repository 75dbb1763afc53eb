/* SPDX-License-Identifier: MIT */
/*
 * inode-table.h - hostrpc-guestmount's map between the kernel's inode
 * numbers (ours) and the guest's node handles.
 *
 * Host inode numbers are chosen here, never by the guest, so a guest cannot
 * alias the root or another file's inode; a node keeps the type it was
 * first seen with.  Each node counts the kernel's references (nlookup),
 * the guest lookups not yet forgotten (grefs) and the directory listings
 * that pin it (pins); it leaves the table when the first and last are 0,
 * and its grefs are then owed to the guest as one FORGET item.
 *
 * The table does no I/O and logs nothing: what the guest is to be told
 * (FORGET items) and why an answer was refused come back to the caller.
 * Thread-safe where a function says it locks; "_locked" functions want
 * t->lock held.  Error convention: -errno.
 */
#ifndef GUESTSOURCE_INODE_TABLE_H
#define GUESTSOURCE_INODE_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "hostrpc/guestfs.h"

struct itab_node {
	uint64_t ino;            /* ours, as the kernel sees it */
	uint64_t gnode;          /* the guest's handle */
	uint32_t type;           /* S_IFMT at first sight */
	uint64_t nlookup;        /* kernel references */
	uint64_t grefs;          /* guest lookups not yet forgotten */
	uint32_t pins;           /* directory listings holding it */
	uint32_t wgen;           /* bumped by every change made through us (atomic) */
};

struct inode_table {
	pthread_mutex_t lock;
	GHashTable *by_ino;
	GHashTable *by_gnode;
	uint64_t next_ino;
	struct itab_node *root;
};

/* The root (a directory the guest named root_gnode, one guest reference,
 * one kernel reference, never dropped) gets root_ino; others follow it. */
int itab_init(struct inode_table *t, uint64_t root_gnode, uint64_t root_ino);
/* Frees every node (NULL-safe on a table that was never initialised). */
void itab_destroy(struct inode_table *t);

/* Locking look-ups: the node of a kernel inode (NULL: unknown), its guest
 * handle (0: unknown), and "a change was made through us" (wgen). */
struct itab_node *itab_get(struct inode_table *t, uint64_t ino);
uint64_t itab_gnode(struct inode_table *t, uint64_t ino);
void itab_changed(struct inode_table *t, uint64_t ino);

/* If n is unreferenced, unlink and free it; 1: *out is a FORGET item owed
 * to the guest, 0: nothing to send.  Caller holds t->lock. */
int itab_maybe_drop_locked(struct inode_table *t, struct itab_node *n,
			   struct hrpc_gfs_forget_item *out);
/* The kernel forgot nlookup references to ino: 1 and *out as above.
 * Caller holds t->lock. */
int itab_forget_locked(struct inode_table *t, uint64_t ino, uint64_t nlookup,
		       struct hrpc_gfs_forget_item *out);

/*
 * Account for one guest lookup result e, found in directory parent_gnode.
 * kernel_ref: the kernel gets a reference now (lookup/create/...);
 * otherwise the caller pins it (a readdirplus listing).  Locks.
 * Returns the node, or NULL with *err:
 *   -EIO     the answer is impossible (no node, impossible attributes, the
 *            root or the parent itself, a node that changed type): `why`
 *            says which, for the caller's protocol-violation log;
 *   -ENOMEM.
 * The guest counted a lookup either way: when no node keeps it, *forget is
 * set and the caller owes the guest FORGET { e->node, 1 }.
 */
struct itab_node *itab_take(struct inode_table *t, const struct hrpc_gfs_entry *e,
			    uint64_t parent_gnode, bool kernel_ref, int *err, bool *forget,
			    char *why, size_t whylen);

#endif
