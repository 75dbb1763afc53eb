// SPDX-License-Identifier: GPL-2.0
/*
 * call.c - calls to the host's filesystem service, FORGET batching, and
 * the checks of what the host answers.
 *
 * A call is published with hrpck_call_async() and waited for killably (as
 * hostrpc_sock does): an ordinary signal does not tear a call in half, so
 * a CREATE the host carried out is never reported to the caller as EINTR
 * with its node and fh lost.  A fatal signal or the timeout abandons the
 * call: the context (and the reply it is owed) is freed by whichever of
 * the waiter and the completion comes last (refcount), and the core keeps
 * its own reference on the call's bulk buffer until the host is done.  A
 * lookup count carried by an abandoned reply is lost to us: the host keeps
 * that node until the mount's channel goes (a bounded leak on a rare path).
 */
#include <linux/slab.h>
#include <linux/sched/signal.h>
#include <linux/completion.h>
#include <linux/uidgid.h>
#include <linux/delay.h>

#include "hfs.h"

struct hfs_ctx {
	struct hrpck_call call;
	struct completion done;
	refcount_t ref;                 /* the waiter's + the completion's */
	u8 rep[];
};

static void ctx_put(struct hfs_ctx *c)
{
	if (refcount_dec_and_test(&c->ref))
		kfree(c);
}

/* Any context (hard irq included): only completes. */
static void ctx_done(struct hrpck_call *call)
{
	struct hfs_ctx *c = container_of(call, struct hfs_ctx, call);

	complete(&c->done);
	ctx_put(c);
}

static bool ctx_done_p(void *done)
{
	return completion_done(done);
}

static void cred_fill(struct hrpc_gfs_cred *w, const struct cred *cred)
{
	const struct group_info *gi = cred->group_info;
	u32 i, n = 0;

	memset(w, 0, sizeof(*w));
	w->uid = from_kuid(&init_user_ns, cred->fsuid);
	w->gid = from_kgid(&init_user_ns, cred->fsgid);
	/* (uid_t)-1 means "no change" to the host's set*id: never send it. */
	if (w->uid == 0xffffffffu)
		w->uid = overflowuid;
	if (w->gid == 0xffffffffu)
		w->gid = overflowgid;
	for (i = 0; gi && i < gi->ngroups && n < HRPC_GFS_GROUPS_MAX; i++) {
		u32 g = from_kgid(&init_user_ns, gi->gid[i]);

		if (g != 0xffffffffu)
			w->groups[n++] = g;
	}
	w->ngroups = n;
}

/* A transport failure: the host's handles may be gone, the user sees EIO. */
static int map_status(int st)
{
	switch (st) {
	case -ECONNRESET:
	case -ENOTCONN:
	case -ENODEV:
	case -EPROTO:
	case -ETIMEDOUT:
	case -EMSGSIZE:
		return -EIO;
	}
	/* The host's word: a negative errno or nothing. */
	if (st > 0 || st < -MAX_ERRNO)
		return -EIO;
	return st;
}

/**
 * hfs_call() - make one call and wait for its reply
 * @fs: the mount
 * @a: the call; results in its out fields
 *
 * Sleeps (killably).  Return: 0 or -errno (the host's, or -EIO for a
 * transport failure, a dead mount or a reply of the wrong size, -EINTR on
 * a fatal signal).
 */
int hfs_call(struct hfs_sb *fs, struct hfs_args *a)
{
	u32 len = sizeof(struct hrpc_gfs_cred) + a->in_len;
	struct hfs_ctx *c;
	long left;
	void *buf;
	int ret;

	a->rep_len = 0;
	a->rep_bulk_pos = 0;
	a->rep_bulk_len = 0;
	if (atomic_read(&fs->dead))
		return -EIO;
	if (WARN_ON_ONCE(len > HRPC_MSG_MAX_PAYLOAD))
		return -EINVAL;
	buf = kmalloc(len, GFP_NOFS);
	if (!buf)
		return -ENOMEM;
	if (a->nocred)
		memset(buf, 0, sizeof(struct hrpc_gfs_cred));
	else
		cred_fill(buf, a->cred ?: current_cred());
	if (a->in_len)
		memcpy(buf + sizeof(struct hrpc_gfs_cred), a->in, a->in_len);
	if (a->oneway) {
		/* Nothing to wait for: the host handles the ring in order,
		 * so every later call sees its effect. */
		struct hrpck_call oc = {
			.service = HRPC_SVC_FS, .proc = a->proc, .flags = HRPCK_CALL_ONEWAY,
			.req = buf, .req_len = len,
		};

		ret = hrpck_call(fs->chan, &oc, hfs_call_timeout_s * 1000);
		kfree(buf);
		return map_status(ret);
	}

	c = kmalloc(struct_size(c, rep, a->out_len), GFP_NOFS);
	if (!c) {
		kfree(buf);
		return -ENOMEM;
	}
	memset(&c->call, 0, sizeof(c->call));
	init_completion(&c->done);
	refcount_set(&c->ref, 2);
	c->call.service = HRPC_SVC_FS;
	c->call.proc = a->proc;
	c->call.req = buf;
	c->call.req_len = len;
	c->call.rep = a->out_len ? c->rep : NULL;
	c->call.rep_cap = a->out_len;
	c->call.bulk = a->bulk;
	c->call.bulk_len = a->bulk_len;
	c->call.done = ctx_done;
	ret = hrpck_call_async(fs->chan, &c->call, GFP_NOFS);
	/* Published means copied into the request ring: @buf is ours again. */
	kfree(buf);
	if (ret) {
		kfree(c);
		return map_status(ret);
	}
	/* The host answers most calls within tens of microseconds: spin for
	 * the reply first (no interrupt, no wake-up), then sleep. */
	if (hfs_poll_us)
		hrpck_chan_poll(fs->chan, ctx_done_p, &c->done, hfs_poll_us);
	left = wait_for_completion_killable_timeout(&c->done,
						    (long)hfs_call_timeout_s * HZ);
	if (left <= 0) {
		ctx_put(c);
		if (!left)
			pr_warn_ratelimited(HFS_NAME ": call %u got no reply in %u s\n",
					    a->proc, hfs_call_timeout_s);
		return left ? -EINTR : -EIO;
	}
	ret = map_status(c->call.status);
	if (!ret) {
		if (c->call.rep_len > a->out_len ||
		    (!a->out_var && c->call.rep_len != a->out_len)) {
			pr_warn_ratelimited(HFS_NAME ": reply to call %u has %u bytes, not %u\n",
					    a->proc, c->call.rep_len, a->out_len);
			ret = -EIO;
		} else {
			a->rep_len = c->call.rep_len;
			if (a->rep_len)
				memcpy(a->out, c->rep, a->rep_len);
			a->rep_bulk_pos = c->call.rep_bulk_pos;
			a->rep_bulk_len = c->call.rep_bulk_len;
		}
	}
	ctx_put(c);
	return ret;
}

/*
 * A bulk buffer of @want bytes, or less (halving, not below @min) when the
 * data area, which the socket frontend shares, is short.  Caller puts it.
 */
struct hrpck_bulk *hfs_bulk_alloc(struct hfs_sb *fs, u32 want, u32 min)
{
	struct hrpck_bulk *b;
	int tries = 0;

	for (;;) {
		b = hrpck_bulk_alloc(fs->chan, want, GFP_NOFS);
		if (!IS_ERR(b))
			return b;
		if (PTR_ERR(b) != -ENOSPC)
			return ERR_PTR(map_status(PTR_ERR(b)) == -EIO ? -EIO : PTR_ERR(b));
		if (want / 2 >= min) {
			want /= 2;
			continue;
		}
		/* Even @min does not fit right now: others give theirs back. */
		if (++tries > 50 || fatal_signal_pending(current))
			return ERR_PTR(-ENOMEM);
		msleep(10);
	}
}

/* ---- FORGET ----------------------------------------------------------------- */

static void forget_send(struct hfs_sb *fs, const struct hrpc_gfs_forget_item *items, u32 n)
{
	struct hrpc_gfs_forget_req *r;
	size_t len = struct_size(r, items, n);
	int ret;

	r = kmalloc(len, GFP_NOFS);
	if (!r)
		return;		/* the nodes stay on the host until the channel goes */
	r->count = n;
	r->reserved = 0;
	memcpy(r->items, items, n * sizeof(*items));
	ret = hfs_call(fs, &(struct hfs_args){
		.proc = HRPC_GFS_FORGET, .nocred = true, .oneway = true, .in = r, .in_len = len,
	});
	if (ret && ret != -EIO)
		pr_warn_ratelimited(HFS_NAME ": FORGET of %u nodes: %d\n", n, ret);
	kfree(r);
}

/* Send the pending batch now.  Sleeps. */
void hfs_forget_flush(struct hfs_sb *fs)
{
	struct hrpc_gfs_forget_item *items;
	u32 n;

	items = kmalloc_array(HRPC_GFS_FORGET_MAX, sizeof(*items), GFP_NOFS);
	mutex_lock(&fs->forget_mutex);
	spin_lock(&fs->forget_lock);
	n = items ? fs->nforget : 0;
	if (n)
		memcpy(items, fs->forgets, n * sizeof(*items));
	fs->nforget = 0;	/* without memory, the nodes stay on the host */
	spin_unlock(&fs->forget_lock);
	if (n && !atomic_read(&fs->dead))
		forget_send(fs, items, n);
	mutex_unlock(&fs->forget_mutex);
	kfree(items);
}

void hfs_forget_work_fn(struct work_struct *w)
{
	struct hfs_sb *fs = container_of(to_delayed_work(w), struct hfs_sb, forget_work);

	hfs_forget_flush(fs);
}

/**
 * hfs_forget() - give back @nlookup lookups of @node
 * @fs: the mount
 * @node: host node handle
 * @nlookup: lookups counted by the host and not yet forgotten
 *
 * Batched: a full batch is sent at once (sleeps), a partial one within
 * 100 ms by forget_work, or by the umount's final flush.
 */
void hfs_forget(struct hfs_sb *fs, u64 node, u64 nlookup)
{
	bool added = false;

	if (!nlookup || !node || atomic_read(&fs->dead))
		return;
	while (!added) {
		spin_lock(&fs->forget_lock);
		if (fs->nforget < HRPC_GFS_FORGET_MAX) {
			fs->forgets[fs->nforget].node = node;
			fs->forgets[fs->nforget].nlookup = nlookup;
			fs->nforget++;
			added = true;
		}
		spin_unlock(&fs->forget_lock);
		if (!added)
			hfs_forget_flush(fs);
	}
	mod_delayed_work(system_wq, &fs->forget_work, HZ / 10);
}

/* ---- checks of what the host sends -------------------------------------------- */

int hfs_name_set(struct hrpc_gfs_name *n, const struct qstr *q)
{
	memset(n, 0, sizeof(*n));
	if (!q->len)
		return -EINVAL;
	if (q->len > HRPC_GFS_NAME_MAX)
		return -ENAMETOOLONG;
	n->len = q->len;
	memcpy(n->name, q->name, q->len);
	return 0;
}

int hfs_attr_check(const struct hrpc_gfs_attr *a)
{
	switch (a->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return -EIO;
	}
	if (a->size > (u64)S64_MAX || a->atime_nsec >= NSEC_PER_SEC ||
	    a->mtime_nsec >= NSEC_PER_SEC || a->ctime_nsec >= NSEC_PER_SEC)
		return -EIO;
	if (a->uid == 0xffffffffu || a->gid == 0xffffffffu)
		return -EIO;
	return 0;
}

int hfs_entry_check(const struct hrpc_gfs_entry *e)
{
	if (!e->node)
		return -EIO;
	return hfs_attr_check(&e->attr);
}
