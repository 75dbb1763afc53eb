// SPDX-License-Identifier: GPL-2.0
/*
 * forge.c - testing only: make this guest forge its socket areas on purpose,
 * for the host's fencing tests (tests/vm/sock/sock-forged-area.sh).
 *
 * A hostile guest owns the bytes of its socket areas and may write any
 * index there.  The host must fence its channel (outsource/sock/sock.c,
 * pump()) and nothing else: no crash of hostrpcd, no other guest touched.
 * This hook writes what such a guest would and sends the KICK that makes
 * the host look at once:
 *
 *   echo prod > /sys/module/hostrpc_sock/parameters/debug_forge_area
 *       (or 1) every live area socket's out ring prod is published more
 *       than the ring holds ahead of the host's cons;
 *   echo rec > ...
 *       every live datagram socket gets a record header in its out ring
 *       claiming more payload than the ring can hold, published whole.
 *
 * Refused (-EPERM) unless the module was loaded with debug_forge=1, the
 * way hostrpc_core's own debug_forge guards HRPC_IOC_DEBUG_FORGE.  The
 * sockets are left as they are: the host's fence resets the channel and
 * every socket with it (-ECONNRESET).  A send racing the forgery may
 * publish over it (it stores its own prod); the tests send nothing then.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "hsock.h"

#define FORGE_KICK_TIMEOUT_MS 5000u

static bool debug_forge;
module_param(debug_forge, bool, 0444);
MODULE_PARM_DESC(debug_forge, "Testing only: allow debug_forge_area (default off; load time only)");

enum forge_what { FORGE_PROD, FORGE_REC };

/* Under hsock_table's lock: the area cannot be freed (hsock_release() takes
 * the socket out of the table before it gives the area away). */
static bool forge_one(struct hsk *hs, enum forge_what what)
{
	struct hsk_area *a = hs->area;
	struct hrpc_ring *r;

	if (!a || !READ_ONCE(a->live) || READ_ONCE(a->broken) || hs->dead ||
	    hsock_is_reset(hs))
		return false;
	r = &a->out;
	if (what == FORGE_PROD) {
		/* Pairs with the host's acquire of prod, like a real send. */
		smp_store_release(&r->ctl->prod, r->pvt + r->size + 8);
		return true;
	}
	if (hs->sk.sk_type != SOCK_DGRAM)
		return false;
	{
		/* A well-formed record header whose length no ring can hold. */
		struct hrpc_sock_dgram h = {
			.len = r->size,
			.full_len = r->size,
		};

		if (hrpc_ring_space(r) < (long)sizeof(h))
			return false;
		hrpc_ring_copy_in(r, r->pvt, &h, sizeof(h));
		/* The header is visible before the index (host's acquire). */
		smp_store_release(&r->ctl->prod, r->pvt + HRPC_SOCK_DGRAM_REC(0));
		return true;
	}
}

static int forge_set(const char *val, const struct kernel_param *kp)
{
	enum forge_what what;
	struct hrpck_chan *chan;
	struct hsk *hs;
	unsigned long idx, flags;
	u64 *handles;
	u32 n = 0;
	int ret;

	if (!debug_forge)
		return -EPERM;
	if (sysfs_streq(val, "1") || sysfs_streq(val, "prod"))
		what = FORGE_PROD;
	else if (sysfs_streq(val, "rec"))
		what = FORGE_REC;
	else
		return -EINVAL;
	handles = kcalloc(HRPC_SOCK_KICK_MAX, sizeof(*handles), GFP_KERNEL);
	if (!handles)
		return -ENOMEM;
	chan = hsock_chan_get();
	if (IS_ERR(chan)) {
		kfree(handles);
		return PTR_ERR(chan);
	}
	xa_lock_irqsave(&hsock_table, flags);
	xa_for_each(&hsock_table, idx, hs) {
		if (n == HRPC_SOCK_KICK_MAX)
			break;
		if (forge_one(hs, what))
			handles[n++] = hs->handle;
	}
	xa_unlock_irqrestore(&hsock_table, flags);
	ret = -ENOENT;
	if (n) {
		struct hrpck_call call = {
			.service = HRPC_SVC_SOCK,
			.proc = HRPC_SOCK_KICK,
			.flags = HRPCK_CALL_ONEWAY,
			.req = handles,
			.req_len = n * (u32)sizeof(*handles),
		};

		ret = hrpck_call(chan, &call, FORGE_KICK_TIMEOUT_MS);
		pr_warn("hostrpc_sock: debug_forge_area: forged the out ring %s of %u socket(s), first %llx; KICK sent (%d)\n",
			what == FORGE_PROD ? "index" : "record header", n, handles[0], ret);
	}
	hrpck_chan_put(chan);
	kfree(handles);
	return ret < 0 ? ret : 0;
}

static const struct kernel_param_ops forge_ops = {
	.set = forge_set,
};
module_param_cb(debug_forge_area, &forge_ops, NULL, 0200);
MODULE_PARM_DESC(debug_forge_area, "Testing only (needs debug_forge=1): write prod or rec to forge every live socket area's out ring and KICK the host");
