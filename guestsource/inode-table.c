/* SPDX-License-Identifier: MIT */
/*
 * inode-table.c - kernel inode <-> guest node map (see inode-table.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gfs-decode.h"
#include "inode-table.h"

int itab_init(struct inode_table *t, uint64_t root_gnode, uint64_t root_ino)
{
	memset(t, 0, sizeof(*t));
	t->root = calloc(1, sizeof(*t->root));
	if (!t->root)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->by_ino = g_hash_table_new(g_int64_hash, g_int64_equal);
	t->by_gnode = g_hash_table_new(g_int64_hash, g_int64_equal);
	t->root->ino = root_ino;
	t->root->gnode = root_gnode;
	t->root->type = S_IFDIR;
	t->root->grefs = 1;
	t->root->nlookup = 1;
	t->next_ino = root_ino + 1;
	g_hash_table_insert(t->by_ino, &t->root->ino, t->root);
	g_hash_table_insert(t->by_gnode, &t->root->gnode, t->root);
	return 0;
}

void itab_destroy(struct inode_table *t)
{
	GHashTableIter it;
	gpointer key, val;

	if (!t->by_ino)
		return;
	g_hash_table_iter_init(&it, t->by_ino);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		g_hash_table_iter_steal(&it);
		free(val);
	}
	g_hash_table_destroy(t->by_ino);
	g_hash_table_destroy(t->by_gnode);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}

struct itab_node *itab_get(struct inode_table *t, uint64_t ino)
{
	struct itab_node *n;

	pthread_mutex_lock(&t->lock);
	n = g_hash_table_lookup(t->by_ino, &ino);
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t itab_gnode(struct inode_table *t, uint64_t ino)
{
	struct itab_node *n = itab_get(t, ino);

	return n ? n->gnode : 0;
}

void itab_changed(struct inode_table *t, uint64_t ino)
{
	struct itab_node *n = itab_get(t, ino);

	if (n)
		__atomic_add_fetch(&n->wgen, 1, __ATOMIC_RELAXED);
}

int itab_maybe_drop_locked(struct inode_table *t, struct itab_node *n,
			   struct hrpc_gfs_forget_item *out)
{
	if (n->nlookup || n->pins || n == t->root)
		return 0;
	g_hash_table_remove(t->by_gnode, &n->gnode);
	g_hash_table_remove(t->by_ino, &n->ino);
	out->node = n->gnode;
	out->nlookup = n->grefs;
	free(n);
	return out->nlookup ? 1 : 0;
}

int itab_forget_locked(struct inode_table *t, uint64_t ino, uint64_t nlookup,
		       struct hrpc_gfs_forget_item *out)
{
	struct itab_node *n = g_hash_table_lookup(t->by_ino, &ino);

	if (!n)
		return 0;
	/* The kernel's count is trusted no more than it must be: never below 0. */
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	return itab_maybe_drop_locked(t, n, out);
}

struct itab_node *itab_take(struct inode_table *t, const struct hrpc_gfs_entry *e,
			    uint64_t parent_gnode, bool kernel_ref, int *err, bool *forget,
			    char *why, size_t whylen)
{
	uint32_t type = e->attr.mode & S_IFMT;
	struct itab_node *n;

	*err = 0;
	*forget = false;
	if (e->node == 0 || !gfs_attr_ok(&e->attr)) {
		snprintf(why, whylen, "lookup returned node %#" PRIx64
			 " with impossible attributes (mode %#o)", e->node, e->attr.mode);
		*err = -EIO;
		*forget = e->node != 0;
		return NULL;
	}
	pthread_mutex_lock(&t->lock);
	if (e->node == t->root->gnode || e->node == parent_gnode) {
		/* A directory entry naming the root or its own parent: a loop
		 * the kernel must never see.  The guest counted a lookup. */
		n = g_hash_table_lookup(t->by_gnode, &e->node);
		if (n)
			n->grefs++;
		pthread_mutex_unlock(&t->lock);
		snprintf(why, whylen, "lookup returned the root or the parent itself (node %#" PRIx64 ")",
			 e->node);
		*err = -EIO;
		*forget = !n;
		return NULL;
	}
	n = g_hash_table_lookup(t->by_gnode, &e->node);
	if (n && n->type != type) {
		uint32_t was = n->type;

		n->grefs++;
		pthread_mutex_unlock(&t->lock);
		snprintf(why, whylen, "node %#" PRIx64 " changed type from %#o to %#o", e->node, was,
			 type);
		*err = -EIO;
		return NULL;
	}
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&t->lock);
			*err = -ENOMEM;
			*forget = true;
			return NULL;
		}
		n->ino = t->next_ino++;
		n->gnode = e->node;
		n->type = type;
		g_hash_table_insert(t->by_ino, &n->ino, n);
		g_hash_table_insert(t->by_gnode, &n->gnode, n);
	}
	n->grefs++;
	if (kernel_ref)
		n->nlookup++;
	else
		n->pins++;
	pthread_mutex_unlock(&t->lock);
	return n;
}
