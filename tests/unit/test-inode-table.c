/* SPDX-License-Identifier: MIT */
/*
 * test-inode-table - hostrpc-guestmount's map of kernel inodes to guest
 * nodes (guestsource/inode-table.c) against impossible lookup answers: the
 * root or the parent named as an entry, a node that changes type, no node;
 * and the guest's lookup counts: every lookup it counted is either kept by
 * a node or owed back as a FORGET, once.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "guestsource/inode-table.h"
#include "tests/tap.h"

#define PLAN 12
#define ROOT_GNODE 100

static struct hrpc_gfs_entry entry(uint64_t node, uint32_t mode)
{
	return (struct hrpc_gfs_entry){ .node = node, .attr = { .mode = mode, .nlink = 1 } };
}

int main(void)
{
	struct inode_table t;
	struct hrpc_gfs_entry e;
	struct hrpc_gfs_forget_item it;
	struct itab_node *n, *m;
	char why[256] = "";
	bool forget;
	int err;

	tap_plan(PLAN);
	tap_ok(itab_init(&t, ROOT_GNODE, 1) == 0 && itab_gnode(&t, 1) == ROOT_GNODE,
	       "the root is inode 1, the guest's root node");

	e = entry(7, S_IFREG | 0644);
	n = itab_take(&t, &e, ROOT_GNODE, true, &err, &forget, why, sizeof(why));
	tap_ok(n && n->ino == 2 && n->nlookup == 1 && n->grefs == 1 && !forget,
	       "a new node gets our next inode number, one kernel and one guest reference");
	m = itab_take(&t, &e, ROOT_GNODE, false, &err, &forget, why, sizeof(why));
	tap_ok(m == n && n->pins == 1 && n->grefs == 2, "the same guest node is the same inode");

	e = entry(ROOT_GNODE, S_IFDIR | 0755);
	n = itab_take(&t, &e, 50, true, &err, &forget, why, sizeof(why));
	tap_ok(!n && err == -EIO && !forget && t.root->grefs == 2 && strstr(why, "root"),
	       "an entry naming the root is refused; the root keeps the guest's lookup: %s", why);
	e = entry(50, S_IFDIR | 0755);
	n = itab_take(&t, &e, 50, true, &err, &forget, why, sizeof(why));
	tap_ok(!n && err == -EIO && forget, "an entry naming its own parent (unknown) is refused, "
	       "its lookup owed back");

	e = entry(7, S_IFDIR | 0755);
	n = itab_take(&t, &e, ROOT_GNODE, true, &err, &forget, why, sizeof(why));
	tap_ok(!n && err == -EIO && !forget && strstr(why, "changed type"),
	       "a node that changes type is refused: %s", why);
	n = itab_get(&t, 2);
	tap_ok(n && n->grefs == 3 && n->nlookup == 1,
	       "its lookup is kept by the node (given back when it goes)");

	e = entry(0, S_IFREG | 0644);
	n = itab_take(&t, &e, ROOT_GNODE, true, &err, &forget, why, sizeof(why));
	tap_ok(!n && err == -EIO && !forget, "node 0 is refused, nothing owed");
	e = entry(9, 0644);
	n = itab_take(&t, &e, ROOT_GNODE, true, &err, &forget, why, sizeof(why));
	tap_ok(!n && err == -EIO && forget, "impossible attributes are refused, the lookup owed back");

	n = itab_get(&t, 2);
	pthread_mutex_lock(&t.lock);
	err = itab_forget_locked(&t, 2, 1, &it);
	/* The listing that pinned it ends. */
	n->pins--;
	forget = itab_maybe_drop_locked(&t, n, &it) == 1;
	pthread_mutex_unlock(&t.lock);
	tap_ok(err == 0 && forget && it.node == 7 && it.nlookup == 3 && !itab_get(&t, 2),
	       "a node goes when the kernel forgot it and no listing pins it; every guest "
	       "lookup it kept is owed back in one FORGET");

	e = entry(8, S_IFREG | 0644);
	n = itab_take(&t, &e, ROOT_GNODE, true, &err, &forget, why, sizeof(why));
	pthread_mutex_lock(&t.lock);
	err = itab_forget_locked(&t, n->ino, 5, &it);
	pthread_mutex_unlock(&t.lock);
	tap_ok(n && err == 1 && it.node == 8 && it.nlookup == 1,
	       "the kernel forgetting more than it had drops the node once");

	pthread_mutex_lock(&t.lock);
	err = itab_forget_locked(&t, 1, 10, &it);
	pthread_mutex_unlock(&t.lock);
	tap_ok(err == 0 && itab_get(&t, 1) == t.root, "the root is never dropped");
	itab_destroy(&t);
	return tap_done();
}
