// SPDX-License-Identifier: GPL-2.0
/*
 * area.c - the version 2 data path of hostrpc_sock.ko: a socket's bytes in
 * its socket area (include/hostrpc/sockring.h) instead of SEND/RECV calls.
 *
 * send() copies into the out ring and returns; recv(), poll() and FIONREAD
 * read the in ring.  The host's worker (outsource/sock/sockarea.c) drains
 * and fills the rings.  Doorbells go only where the other side asked (event
 * indexes, ring.h):
 *   - guest -> host: a one-way KICK when hrpc_ring_need_notify() (bytes
 *     written) or hrpc_ring_consumed_notify() (room made) says the host
 *     waits; a busy host is never kicked;
 *   - host -> guest: a READY event when a ring moved that the guest armed
 *     (prod_event of the in ring before it sleeps for bytes, cons_event of
 *     the out ring before it sleeps for room), or when the host's words
 *     changed.  The event only wakes the socket's wait queue (main.c); what
 *     is ready is read from the rings and the header here.
 *
 * The area is shared memory the host writes: every index goes through
 * sockring.h's checks, datagram headers are copied out and checked before
 * use, the host's words are read once per look.  A forged index or record
 * breaks the socket (-ECONNRESET, POLLERR|POLLHUP) and nothing else.
 *
 * Locking: tx_mutex orders producers of the out ring (one send at a time),
 * rx_mutex consumers of the in ring; area->lock makes "read my index, publish
 * an event index" atomic against the in ring's consumer, so a poller's arm
 * never publishes an index older than one a reader published after it.
 */
#include <linux/in.h>
#include <linux/ipv6.h>
#include <linux/log2.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "hsock.h"

/* Rings: out_kb (64 KiB) out and in_kb (256 KiB) in by default: a
 * receiver's ring is where bulk transfers gain (curl's 16 MiB download in
 * bench/sock-vm-bench.sh: 300 MB/s with 64 KiB, 575 with 256); half the
 * socket buffer (Linux doubles SO_SNDBUF/SO_RCVBUF) where an accepted
 * socket inherits a larger one, up to AREA_RING_CAP.  The data area (about
 * 31 MiB with hostrpcd's default 32 MiB region) is shared by all sockets. */
#define AREA_RING_CAP     (256u << 10)
/* A UDP in ring holds a whole largest datagram. */
#define AREA_UDP_IN_MIN   (128u << 10)
#define KICK_TIMEOUT_MS   5000u

static unsigned int ring_kb = 64;
module_param(ring_kb, uint, 0644);
MODULE_PARM_DESC(ring_kb, "KiB of the out ring of a new socket's area (a power of two, 4..4096)");
static unsigned int in_kb = 256;
module_param(in_kb, uint, 0644);
MODULE_PARM_DESC(in_kb, "KiB of the in ring of a new socket's area (a power of two, 4..4096)");
/* The data area also carries bulk buffers (version 1 sockets, other
 * frontends): areas together stay below this.  50 connections with
 * default rings take 16 MiB. */
static unsigned int area_kb = 24576;
module_param(area_kb, uint, 0644);
MODULE_PARM_DESC(area_kb, "most KiB of the data area all socket areas together may take");
static atomic_t area_pages = ATOMIC_INIT(0);
/* A blocking receive watches the in ring a while before it sleeps, as
 * net.core.busy_read does for a NIC: a reply within microseconds then costs
 * no READY event, interrupt and wake-up (the 1-byte ping-pong of
 * bench/sock-vm-bench.sh).  Per socket and adaptive (in_busy_wait()). */
static unsigned int busy_poll_us = 100;
module_param(busy_poll_us, uint, 0644);
MODULE_PARM_DESC(busy_poll_us, "most microseconds a blocking recv spins on the in ring before it sleeps (adaptive; 0: never)");

static u32 pages_of(u32 out, u32 in)
{
	return DIV_ROUND_UP(HRPC_SOCK_AREA_HDR + out + in, HRPC_SHM_PAGE);
}

/* Take `pages` of the budget; false when it is spent. */
static bool budget_take(u32 pages)
{
	if (atomic_add_return(pages, &area_pages) <= (int)(READ_ONCE(area_kb) / 4))
		return true;
	atomic_sub(pages, &area_pages);
	return false;
}

static u32 ring_size_for(int buf, unsigned int kb)
{
	u32 def = clamp_t(u32, kb, 4, HRPC_SOCK_RING_MAX >> 10) << 10;
	u32 n = buf > 0 ? (u32)buf / 2 : 0;

	def = rounddown_pow_of_two(def);
	if (n <= def)
		return def;
	return min(rounddown_pow_of_two(n), max(def, AREA_RING_CAP));
}

/**
 * hsock_area_alloc() - an area for a new socket, not yet named to the host
 * @chan: the channel whose data area holds it
 * @type: SOCK_STREAM or SOCK_DGRAM
 * @sndbuf: sk_sndbuf to size the out ring from (0: the default)
 * @rcvbuf: sk_rcvbuf to size the in ring from (0: the default)
 *
 * When the data area is short, the rings shrink (down to
 * HRPC_SOCK_RING_MIN each) before the caller gets nothing and makes a
 * version 1 socket.
 *
 * Return: the area, or NULL.
 */
struct hsk_area *hsock_area_alloc(struct hrpck_chan *chan, int type, int sndbuf, int rcvbuf)
{
	u32 out = ring_size_for(sndbuf, READ_ONCE(ring_kb)), in = ring_size_for(rcvbuf, READ_ONCE(in_kb));
	u32 budget = READ_ONCE(area_kb) / 4, used = (u32)atomic_read(&area_pages);
	u32 share = used < budget ? (budget - used) / 8 : 0;
	struct hsk_area *a;
	struct hrpck_bulk *b;

	if (type == SOCK_DGRAM)
		in = max(in, AREA_UDP_IN_MIN);
	/* A socket takes at most an eighth of what is left: the first ones
	 * get full rings, later ones smaller and smaller rings rather than
	 * none (a server with many connections stays on version 2). */
	while (pages_of(out, in) > share &&
	       (out > HRPC_SOCK_RING_MIN || in > HRPC_SOCK_RING_MIN)) {
		out = max(out / 2, HRPC_SOCK_RING_MIN);
		in = max(in / 2, HRPC_SOCK_RING_MIN);
	}
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return NULL;
	a->busy_ns = READ_ONCE(busy_poll_us) * NSEC_PER_USEC / 8;	/* a first guess */
	for (;;) {
		b = ERR_PTR(-ENOSPC);
		if (budget_take(pages_of(out, in))) {
			b = hrpck_bulk_alloc(chan, HRPC_SOCK_AREA_HDR + out + in, GFP_KERNEL);
			if (!IS_ERR(b))
				break;
			atomic_sub(pages_of(out, in), &area_pages);
		}
		if (PTR_ERR(b) != -ENOSPC ||
		    (out == HRPC_SOCK_RING_MIN && in == HRPC_SOCK_RING_MIN)) {
			kfree(a);
			return NULL;
		}
		out = max(out / 2, HRPC_SOCK_RING_MIN);
		in = max(in / 2, HRPC_SOCK_RING_MIN);
	}
	a->bulk = b;
	a->ref.off = b->off;	/* page aligned, so HRPC_SOCK_AREA_ALIGN too */
	a->ref.out_size = out;
	a->ref.in_size = in;
	a->hdr = b->ptr;
	/* The guest's words start clear; the host resets the ring controls
	 * when it takes the area (before its reply). */
	memset(a->hdr, 0, HRPC_SOCK_AREA_HDR);
	spin_lock_init(&a->lock);
	return a;
}

/* After the host's reply that accepted the area: bind the private views. */
void hsock_area_bind(struct hsk_area *a)
{
	hrpc_sock_area_bind(&a->out, &a->in, a->hdr, &a->ref, 1);
}

/* The host no longer uses the area (refused it, or the channel reset). */
void hsock_area_free(struct hsk_area *a)
{
	hrpck_bulk_put(hsock_area_give(a));
}

/* The guest lets go of the area: its pages (reference) to the caller, who
 * hands them to the call after which the host no longer uses them. */
struct hrpck_bulk *hsock_area_give(struct hsk_area *a)
{
	struct hrpck_bulk *b;

	if (!a)
		return NULL;
	b = a->bulk;
	atomic_sub(pages_of(a->ref.out_size, a->ref.in_size), &area_pages);
	kfree(a);
	return b;
}

bool hsock_area_live(struct hsk *hs)
{
	return hs->area && READ_ONCE(hs->area->live);
}

void hsock_area_set_live(struct hsk *hs)
{
	if (hs->area)
		WRITE_ONCE(hs->area->live, true);
}

/* ---- the host's words, breakage, doorbells ------------------------------------ */

struct host_words {
	u32 seq, mask, flags;
	s32 err;
};

/*
 * Read the host's words once.  A new pending error (host_err changed with
 * host_seq) becomes sk_err, once, so SO_ERROR, recv and send report it as
 * Linux would.  Called before looking at the rings: the host publishes its
 * words (EOF) after the bytes they cover, so EOF seen here means the in
 * ring's prod read afterwards is final.
 */
static void host_words(struct hsk *hs, struct host_words *w)
{
	struct hsk_area *a = hs->area;
	struct hrpc_sock_area_hdr *h = a->hdr;
	u32 err_seq;

	/* Acquire pairs with the host's release of host_seq in
	 * sock_area_publish(): the words are at least that new. */
	w->seq = smp_load_acquire(&h->host_seq);
	w->mask = READ_ONCE(h->host_mask);
	w->err = READ_ONCE(h->host_err);
	w->flags = READ_ONCE(h->host_flags);
	if (w->seq == READ_ONCE(a->seen_seq))
		return;
	err_seq = READ_ONCE(h->host_err_seq);
	spin_lock(&a->lock);
	if (w->seq != a->seen_seq) {
		a->seen_seq = w->seq;
		/* a new error, even the same errno again (a second ICMP
		 * port unreachable is a second ECONNREFUSED) */
		if (err_seq != a->seen_err_seq) {
			a->seen_err_seq = err_seq;
			/* an errno, or the host's nonsense read as a reset */
			if (w->err < 0)
				WRITE_ONCE(hs->sk.sk_err, w->err >= -MAX_ERRNO ? -w->err : ECONNRESET);
		}
	}
	spin_unlock(&a->lock);
}

/* The host broke the rings: the socket is reset for good. */
static int area_break(struct hsk *hs, const char *what)
{
	if (!READ_ONCE(hs->area->broken)) {
		WRITE_ONCE(hs->area->broken, true);
		pr_warn_ratelimited("hostrpc_sock: socket %llx: the host broke its %s ring: reset\n",
				    hs->handle, what);
		wake_up_interruptible_all(sk_sleep(&hs->sk));
	}
	return -ECONNRESET;
}

static bool area_dead(struct hsk *hs)
{
	return READ_ONCE(hs->area->broken) || hsock_is_reset(hs);
}

/* Tell the host this socket's rings moved (it asked for it). */
static void area_kick(struct hsk *hs)
{
	struct hrpck_chan *chan;
	u64 handle = hs->handle;
	struct hrpck_call call = {
		.service = HRPC_SVC_SOCK,
		.proc = HRPC_SOCK_KICK,
		.flags = HRPCK_CALL_ONEWAY,
		.req = &handle,
		.req_len = sizeof(handle),
	};

	if (hsock_begin(hs, &chan))
		return;		/* reset: nobody to tell */
	hrpck_call(chan, &call, KICK_TIMEOUT_MS);
	hrpck_chan_put(chan);
}

/*
 * Sleep on the socket's wait queue (`wait` added, a ring armed) until a
 * wake-up: 0, or -EAGAIN when no time is left, or the signal's errno.
 * Owed news (*kick, may be NULL) goes to the host first: it must know about
 * our bytes (or our room) before we wait for it.
 */
static int area_sleep(struct hsk *hs, struct wait_queue_entry *wait, long *timeo, bool *kick)
{
	if (!*timeo)
		return -EAGAIN;
	if (signal_pending(current))
		return sock_intr_errno(*timeo);
	if (kick && *kick) {
		area_kick(hs);
		*kick = false;
	}
	*timeo = wait_woken(wait, TASK_INTERRUPTIBLE, *timeo);
	return 0;
}

/* The in ring wakes a reader once `need` bytes are there (event index:
 * prod_event = cons + need - 1). */
static u32 in_need(struct hsk *hs)
{
	struct sock *sk = &hs->sk;
	u32 need = hs->sk.sk_type == SOCK_STREAM ? sock_rcvlowat(sk, 0, INT_MAX) : 1;

	return clamp_t(u32, need, 1, hs->area->in.size / 2);
}

/* Bytes (stream) or record bytes (datagrams) in the in ring; -EPROTO.
 * The reader's own view (rx_mutex held: our index stands still). */
static long in_avail(struct hsk_area *a)
{
	/* Acquire pairs with the host's release of prod. */
	u32 avail = smp_load_acquire(&a->in.ctl->prod) - READ_ONCE(a->in.pvt);

	return avail > a->in.size ? -EPROTO : (long)avail;
}

/*
 * The same for a bystander (poll, FIONREAD) while a reader may move our
 * index: it is read before and after the host's, so the pair is one the
 * reader could have seen (else a reader that consumed bytes published after
 * our look at prod would make an honest host look like a forger).  A reader
 * busy all the time: 0, "nothing", which at worst arms a ring needlessly.
 */
static long in_avail_snap(struct hsk_area *a)
{
	for (int i = 0; i < 4; i++) {
		u32 p1 = READ_ONCE(a->in.pvt), prod, p2;

		smp_rmb();	/* our index, then the host's */
		prod = smp_load_acquire(&a->in.ctl->prod);
		p2 = READ_ONCE(a->in.pvt);
		if (p1 == p2)
			return prod - p1 > a->in.size ? -EPROTO : (long)(prod - p1);
	}
	return 0;
}

/* Room in the out ring for a bystander while a sender may move our index
 * (as in_avail_snap()); a sender busy all the time: 1, "some". */
static long out_space_snap(struct hsk_area *a)
{
	for (int i = 0; i < 4; i++) {
		u32 p1 = READ_ONCE(a->out.pvt), cons, p2;

		smp_rmb();
		/* Acquire pairs with the host's release of cons. */
		cons = smp_load_acquire(&a->out.ctl->cons);
		p2 = READ_ONCE(a->out.pvt);
		if (p1 == p2)
			return p1 - cons > a->out.size ? -EPROTO : (long)(a->out.size - (p1 - cons));
	}
	return 1;
}

/*
 * About to sleep (or to say "nothing") for `need` bytes in the in ring: ask
 * the host for a READY once they are there, then look again.  1: still
 * short (sleep), 0: there now, -EPROTO.
 */
static int arm_in(struct hsk_area *a, u32 need)
{
	long avail;

	spin_lock(&a->lock);
	WRITE_ONCE(a->in.ctl->prod_event, a->in.pvt + need - 1);
	spin_unlock(&a->lock);
	/* Store prod_event, then load prod: pairs with the barrier in the
	 * host's hrpc_ring_need_notify() (store prod, then load prod_event). */
	hrpc_mb();
	avail = in_avail_snap(a);
	if (avail < 0)
		return -EPROTO;
	return (u32)avail < need;
}

/*
 * A blocking reader found fewer than `need` bytes: spin for them (or for
 * news in the host's words, `seq`) within the socket's budget.  True when
 * something came.  *t0 keeps when the first spin of this wait began, for
 * busy_learn().  Gives up at once for a signal or another task that wants
 * the CPU.  With a budget of 0 every 32nd wait probes with an eighth of the
 * maximum, so a socket whose replies became fast finds out.
 */
static bool in_busy_wait(struct hsk_area *a, u32 need, u32 seq, u64 *t0)
{
	u32 max = min(READ_ONCE(busy_poll_us), 10000u) * NSEC_PER_USEC;
	u32 budget = min(a->busy_ns, max);
	u64 now, end;

	if (!max)
		return false;
	if (!budget) {
		if (++a->busy_probe % 32)
			return false;
		budget = max / 8;
	}
	now = ktime_get_ns();
	if (!*t0)
		*t0 = now;
	end = now + budget;
	for (;;) {
		long avail = in_avail(a);

		if (avail < 0 || (u32)avail >= need ||
		    smp_load_acquire(&a->hdr->host_seq) != seq)
			return true;
		if (need_resched() || signal_pending(current) || ktime_get_ns() >= end)
			return false;
		cpu_relax();
	}
}

/*
 * Woken after the spin gave up (t0: when it began): learn from how long the
 * wait really was, as KVM's halt polling does.  A wait the maximum would
 * have covered sets the budget a quarter above it; a longer one halves the
 * budget, down to 0 below a sixteenth of the maximum.
 */
static void busy_learn(struct hsk_area *a, u64 t0)
{
	u32 max = min(READ_ONCE(busy_poll_us), 10000u) * NSEC_PER_USEC;
	u64 waited;

	if (!t0 || !max)
		return;
	waited = ktime_get_ns() - t0;
	if (waited <= max)
		a->busy_ns = min_t(u64, waited + waited / 4, max);
	else
		a->busy_ns = a->busy_ns / 2 < max / 16 ? 0 : a->busy_ns / 2;
}

/* About to sleep for `need` bytes of room in the out ring.  As arm_in()
 * (hrpc_ring_arm_space(), with a look that a sender may run beside). */
static int arm_out(struct hsk_area *a, u32 need)
{
	long space;

	spin_lock(&a->lock);
	WRITE_ONCE(a->out.ctl->cons_event, READ_ONCE(a->out.ctl->cons));
	spin_unlock(&a->lock);
	/* Pairs with the barrier in the host's hrpc_ring_consumed_notify(). */
	hrpc_mb();
	space = out_space_snap(a);
	if (space < 0)
		return -EPROTO;
	return (u32)space < need;
}

/* Give consumed in-ring bytes back; true if the host waits for the room. */
static bool in_consume(struct hsk_area *a, u32 n)
{
	u32 old = a->in.pvt;

	spin_lock(&a->lock);
	hrpc_sring_consume(&a->in, n);
	spin_unlock(&a->lock);
	return hrpc_ring_consumed_notify(&a->in, old);
}

static void publish_guest_flags(struct hsk_area *a, u32 set, u32 clear)
{
	spin_lock(&a->lock);
	a->guest_flags = (a->guest_flags | set) & ~clear;
	WRITE_ONCE(a->hdr->guest_flags, a->guest_flags);
	spin_unlock(&a->lock);
}

/* ---- copying between a ring and an iterator ------------------------------------- */

static size_t ring_to_iter(struct hrpc_ring *r, u32 idx, u32 n, struct iov_iter *to)
{
	u32 off = idx & r->mask, first = min(n, r->size - off);
	size_t c = copy_to_iter(r->buf + off, first, to);

	if (c == first && n > first)
		c += copy_to_iter(r->buf, n - first, to);
	return c;
}

static size_t iter_to_ring(struct hrpc_ring *r, u32 idx, u32 n, struct iov_iter *from)
{
	u32 off = idx & r->mask, first = min(n, r->size - off);
	size_t c = copy_from_iter(r->buf + off, first, from);

	if (c == first && n > first)
		c += copy_from_iter(r->buf, n - first, from);
	return c;
}

/* ---- poll ------------------------------------------------------------------------ */

__poll_t hsock_area_poll(struct hsk *hs)
{
	struct hsk_area *a = hs->area;
	struct sock *sk = &hs->sk;
	bool stream = sk->sk_type == SOCK_STREAM;
	struct host_words w;
	__poll_t mask = 0;
	long avail, space;
	u32 need = in_need(hs);
	int r;

	if (area_dead(hs))
		return EPOLLERR | EPOLLHUP;
	host_words(hs, &w);
	avail = in_avail_snap(a);
	if (avail < 0)
		return area_break(hs, "in"), EPOLLERR | EPOLLHUP;
	if ((u32)avail >= need || (w.flags & HRPC_SOCK_AREA_H_EOF) || (hs->shut & RCV_SHUTDOWN)) {
		mask |= EPOLLIN | EPOLLRDNORM;
	} else {
		r = arm_in(a, need);
		if (r < 0)
			return area_break(hs, "in"), EPOLLERR | EPOLLHUP;
		if (!r)
			mask |= EPOLLIN | EPOLLRDNORM;
	}
	if ((hs->shut & SEND_SHUTDOWN) || (w.flags & HRPC_SOCK_AREA_H_WRSHUT)) {
		mask |= EPOLLOUT | EPOLLWRNORM;	/* a write fails at once, as on Linux */
	} else {
		/* streams: any room; datagrams: room for a sizeable one */
		u32 want = stream ? 1 : a->out.size / 4;

		space = out_space_snap(a);
		if (space < 0)
			return area_break(hs, "out"), EPOLLERR | EPOLLHUP;
		if ((u32)space >= want) {
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else {
			r = arm_out(a, want);
			if (r < 0)
				return area_break(hs, "out"), EPOLLERR | EPOLLHUP;
			if (!r)
				mask |= EPOLLOUT | EPOLLWRNORM;
		}
	}
	if (stream && (w.flags & HRPC_SOCK_AREA_H_EOF))
		mask |= EPOLLRDHUP;
	if ((w.mask & HRPC_POLLHUP) || (hs->shut == SHUTDOWN_MASK) ||
	    (stream && (w.flags & HRPC_SOCK_AREA_H_EOF) &&
	     ((w.flags & HRPC_SOCK_AREA_H_WRSHUT) || (hs->shut & SEND_SHUTDOWN))))
		mask |= EPOLLHUP;
	if (w.mask & HRPC_POLLPRI)
		mask |= EPOLLPRI;
	if (READ_ONCE(sk->sk_err))
		mask |= EPOLLERR;
	return mask;
}

/* ---- send ------------------------------------------------------------------------ */

static bool tx_closed_now(struct hsk *hs, const struct host_words *w)
{
	return READ_ONCE(hs->sk.sk_err) || (hs->shut & SEND_SHUTDOWN) ||
	       (w->flags & HRPC_SOCK_AREA_H_WRSHUT);
}

/* Why nothing can be written now (0: it can): a pending error first (once,
 * as SO_ERROR), then a shut-down direction, as tcp_sendmsg() decides. */
static int tx_closed(struct hsk *hs, const struct host_words *w)
{
	if (READ_ONCE(hs->sk.sk_err))
		return sock_error(&hs->sk) ?: -EPIPE;
	if ((hs->shut & SEND_SHUTDOWN) || (w->flags & HRPC_SOCK_AREA_H_WRSHUT))
		return -EPIPE;
	return 0;
}

static int send_stream(struct hsk *hs, struct msghdr *msg, size_t size, bool *kick)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct hsk_area *a = hs->area;
	struct sock *sk = &hs->sk;
	long timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	struct host_words w;
	size_t sent = 0;
	int err = 0, r;

	/* MSG_MORE: the host holds back a short segment (MSG_MORE on its
	 * sendmsg) until a write without it; the flag is visible before the
	 * bytes (the release of prod orders it). */
	publish_guest_flags(a, (msg->msg_flags & MSG_MORE) ? HRPC_SOCK_AREA_G_MORE : 0,
			    (msg->msg_flags & MSG_MORE) ? 0 : HRPC_SOCK_AREA_G_MORE);
	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		long space;
		u32 n, old;
		size_t c;

		if (area_dead(hs)) {
			err = -ECONNRESET;
			break;
		}
		host_words(hs, &w);
		if (tx_closed_now(hs, &w)) {
			/* bytes already queued are the answer; the error
			 * stays pending for the next call */
			if (!sent)
				err = tx_closed(hs, &w);
			break;
		}
		if (sent == size)
			break;
		space = hrpc_ring_space(&a->out);
		if (space < 0) {
			err = area_break(hs, "out");
			break;
		}
		if (space > 0) {
			old = a->out.pvt;
			n = min_t(size_t, (size_t)space, size - sent);
			c = iter_to_ring(&a->out, old, n, &msg->msg_iter);
			if (c) {
				hrpc_sring_produce(&a->out, (u32)c);
				sent += c;
				if (hrpc_ring_need_notify(&a->out, old))
					*kick = true;
			}
			if (c < n) {
				err = -EFAULT;
				break;
			}
			continue;
		}
		r = arm_out(a, 1);
		if (r < 0) {
			err = area_break(hs, "out");
			break;
		}
		if (!r)
			continue;	/* room came meanwhile */
		/* The host must know about our bytes before we wait for it
		 * to make room. */
		err = area_sleep(hs, &wait, &timeo, kick);
		if (err)
			break;
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return sent ? (int)sent : err;
}

/*
 * The source a sender asks for with IP_PKTINFO / IPV6_PKTINFO control
 * messages (the local address; the interface index is left to the host's
 * routing), as the datagram's meta.  The other family's level is ignored,
 * as Linux does; any other control message is refused.  1: meta to send,
 * 0: none, -EINVAL: a malformed one, -EOPNOTSUPP.
 */
static int dgram_meta_from_msg(struct msghdr *msg, int family, struct hrpc_sock_dgram_meta *m)
{
	bool v4 = family == AF_INET;
	size_t plen = v4 ? sizeof(struct in_pktinfo) : sizeof(struct in6_pktinfo);
	size_t aoff = v4 ? offsetof(struct in_pktinfo, ipi_spec_dst) :
			   offsetof(struct in6_pktinfo, ipi6_addr);
	struct cmsghdr *cmsg;

	memset(m, 0, sizeof(*m));
	if (!msg->msg_controllen || msg->msg_control_is_user)
		return 0;
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		/* each family's own, as ip_cmsg_send()/ip6_datagram_send_ctl() */
		if (cmsg->cmsg_level == (v4 ? SOL_IP : SOL_IPV6) &&
		    cmsg->cmsg_type == (v4 ? IP_PKTINFO : IPV6_PKTINFO)) {
			if (cmsg->cmsg_len != CMSG_LEN(plen))
				return -EINVAL;
			m->have = HRPC_SOCK_META_PKTINFO;
			memset(&m->spec_dst, 0, sizeof(m->spec_dst));
			m->spec_dst.family = v4 ? HRPC_AF_INET : HRPC_AF_INET6;
			memcpy(m->spec_dst.addr, (u8 *)CMSG_DATA(cmsg) + aoff, v4 ? 4 : 16);
		} else if (cmsg->cmsg_level != (v4 ? SOL_IPV6 : SOL_IP)) {
			return -EOPNOTSUPP;	/* not served: refused, never ignored */
		}
	}
	return m->have ? 1 : 0;
}

static int send_dgram(struct hsk *hs, struct msghdr *msg, size_t size,
		      const struct hrpc_sock_addr *to, bool *kick)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct hsk_area *a = hs->area;
	struct sock *sk = &hs->sk;
	long timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	struct hrpc_sock_dgram h = { .len = size, .full_len = size };
	struct hrpc_sock_dgram_meta meta;
	u32 rec, lead, max = hrpc_dring_max_payload(a->out.size);
	int err = 0, r;

	r = dgram_meta_from_msg(msg, sk->sk_family, &meta);
	if (r < 0)
		return r;
	if (r) {
		h.flags = HRPC_SOCK_DGRAM_F_META;
		max -= sizeof(meta);
	}
	lead = hrpc_sock_dgram_lead(&h);
	rec = hrpc_sock_dgram_rec(&h);
	if (size > max)
		return -EMSGSIZE;
	if (to)
		h.addr = *to;	/* else family 0: the connected peer */
	else if (sk->sk_socket && sk->sk_socket->state != SS_CONNECTED)
		return -EDESTADDRREQ;
	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		long space;
		u32 old;
		size_t c;

		if (area_dead(hs)) {
			err = -ECONNRESET;
			break;
		}
		if (hs->shut & SEND_SHUTDOWN) {
			err = -EPIPE;
			break;
		}
		space = hrpc_ring_space(&a->out);
		if (space < 0) {
			err = area_break(hs, "out");
			break;
		}
		if ((u32)space >= rec) {
			old = a->out.pvt;
			hrpc_ring_copy_in(&a->out, old, &h, sizeof(h));
			if (h.flags & HRPC_SOCK_DGRAM_F_META)
				hrpc_ring_copy_in(&a->out, old + sizeof(h), &meta, sizeof(meta));
			c = iter_to_ring(&a->out, old + lead, size, &msg->msg_iter);
			if (c != size) {
				iov_iter_revert(&msg->msg_iter, c);
				err = -EFAULT;
				break;
			}
			hrpc_sring_produce(&a->out, rec);
			if (hrpc_ring_need_notify(&a->out, old))
				*kick = true;
			err = size;
			break;
		}
		r = arm_out(a, rec);
		if (r < 0) {
			err = area_break(hs, "out");
			break;
		}
		if (!r)
			continue;
		err = area_sleep(hs, &wait, &timeo, NULL);
		if (err)
			break;
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

/**
 * hsock_area_sendmsg() - send on a live area socket
 * @hs: the socket (hsock_area_live())
 * @msg: the caller's message (flags checked by the caller)
 * @size: bytes
 * @to: destination (datagrams), or NULL
 *
 * Return: bytes queued (a stream may queue fewer than @size: non-blocking,
 * timeout, signal), or -errno; -EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
 */
int hsock_area_sendmsg(struct hsk *hs, struct msghdr *msg, size_t size,
		       const struct hrpc_sock_addr *to)
{
	bool kick = false;
	int ret;

	if (msg->msg_flags & MSG_OOB)
		return -EOPNOTSUPP;	/* urgent data does not travel in a ring */
	if (mutex_lock_interruptible(&hs->tx_mutex))
		return sock_intr_errno(sock_sndtimeo(&hs->sk, msg->msg_flags & MSG_DONTWAIT));
	if (hs->sk.sk_type == SOCK_STREAM)
		ret = send_stream(hs, msg, size, &kick);
	else
		ret = send_dgram(hs, msg, size, to, &kick);
	mutex_unlock(&hs->tx_mutex);
	if (kick)
		area_kick(hs);
	if (ret == -EPIPE && !(msg->msg_flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return ret;
}

/* ---- receive ---------------------------------------------------------------------- */

/*
 * A datagram's control messages, as Linux's UDP would give them: IP_PKTINFO
 * / IPV6_PKTINFO from the host's (the host socket has the option when the
 * guest set it; the interface index is the host's), and SO_TIMESTAMP,
 * SO_TIMESTAMPNS (old or new layout) with the host's receive time, or ours
 * when the datagram came before the host was asked.  put_cmsg() sets
 * MSG_CTRUNC when the caller's buffer is short.  64-bit callers only: a
 * compat task's timestamps are not converted.
 */
static void dgram_cmsgs(struct hsk *hs, struct msghdr *msg,
			const struct hrpc_sock_dgram_meta *m)
{
	struct sock *sk = &hs->sk;

	if (!msg->msg_control)
		return;
	if ((m->have & HRPC_SOCK_META_PKTINFO) && m->dst.family == HRPC_AF_INET) {
		struct in_pktinfo pi = { .ipi_ifindex = (int)m->ifindex };

		memcpy(&pi.ipi_addr, m->dst.addr, 4);
		if (m->spec_dst.family == HRPC_AF_INET)
			memcpy(&pi.ipi_spec_dst, m->spec_dst.addr, 4);
		put_cmsg(msg, SOL_IP, IP_PKTINFO, sizeof(pi), &pi);
	} else if ((m->have & HRPC_SOCK_META_PKTINFO) && m->dst.family == HRPC_AF_INET6) {
		struct in6_pktinfo pi = { .ipi6_ifindex = (int)m->ifindex };

		memcpy(&pi.ipi6_addr, m->dst.addr, 16);
		put_cmsg(msg, SOL_IPV6, IPV6_PKTINFO, sizeof(pi), &pi);
	}
	if (sock_flag(sk, SOCK_RCVTSTAMP)) {
		u64 ns = (m->have & HRPC_SOCK_META_TSTAMP) ? m->ts_ns : ktime_get_real_ns();
		struct timespec64 ts = ns_to_timespec64((s64)ns);
		bool new = sock_flag(sk, SOCK_TSTAMP_NEW);

		if (!sock_flag(sk, SOCK_RCVTSTAMPNS) && new) {
			struct __kernel_sock_timeval tv = { ts.tv_sec, ts.tv_nsec / NSEC_PER_USEC };

			put_cmsg(msg, SOL_SOCKET, SO_TIMESTAMP_NEW, sizeof(tv), &tv);
		} else if (!sock_flag(sk, SOCK_RCVTSTAMPNS)) {
			struct __kernel_old_timeval tv = { ts.tv_sec, ts.tv_nsec / NSEC_PER_USEC };

			put_cmsg(msg, SOL_SOCKET, SO_TIMESTAMP_OLD, sizeof(tv), &tv);
		} else if (new) {
			struct __kernel_timespec kts = { ts.tv_sec, ts.tv_nsec };

			put_cmsg(msg, SOL_SOCKET, SO_TIMESTAMPNS_NEW, sizeof(kts), &kts);
		} else {
			struct __kernel_old_timespec kts = { ts.tv_sec, ts.tv_nsec };

			put_cmsg(msg, SOL_SOCKET, SO_TIMESTAMPNS_OLD, sizeof(kts), &kts);
		}
	}
}

static int recv_stream(struct hsk *hs, struct msghdr *msg, size_t size, int flags, bool *kick)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct hsk_area *a = hs->area;
	struct sock *sk = &hs->sk;
	long timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	size_t target = sock_rcvlowat(sk, flags & MSG_WAITALL, size);
	u32 need = in_need(hs);
	bool peek = flags & MSG_PEEK, drained = false;
	struct host_words w;
	size_t copied = 0;
	u32 peek_need, want;
	u64 t0 = 0;
	int err = 0, r;

	if (!size)
		return 0;
	target = clamp_t(size_t, target, 1, size);
	/* MSG_PEEK copies once, when enough is there to copy */
	peek_need = clamp_t(size_t, target, 1, a->in.size / 2);
	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		bool end;
		long avail;

		if (area_dead(hs)) {
			err = -ECONNRESET;
			break;
		}
		host_words(hs, &w);
		end = (w.flags & HRPC_SOCK_AREA_H_EOF) || (hs->shut & RCV_SHUTDOWN) ||
		      READ_ONCE(sk->sk_err);
		avail = in_avail(a);
		if (avail < 0) {
			err = area_break(hs, "in");
			break;
		}
		if (peek && avail && ((u32)avail >= peek_need || end || !timeo)) {
			u32 n = min_t(size_t, (size_t)avail, size);
			size_t c = ring_to_iter(&a->in, a->in.pvt, n, &msg->msg_iter);

			copied = c;
			err = c ? 0 : -EFAULT;
			break;
		}
		if (!peek && avail) {
			u32 n = min_t(size_t, (size_t)avail, size - copied);
			size_t c = n;

			if (!(flags & MSG_TRUNC))
				c = ring_to_iter(&a->in, a->in.pvt, n, &msg->msg_iter);
			if (c && in_consume(a, (u32)c))
				*kick = true;
			copied += c;
			drained = (u32)avail == c;
			if (c < n) {
				err = -EFAULT;
				break;
			}
			if (copied >= target)
				break;
			continue;
		}
		/* nothing (more) to take now */
		if (copied >= target && !peek)
			break;
		if (READ_ONCE(sk->sk_err)) {
			if (!copied)
				err = sock_error(sk);
			break;
		}
		if (end)
			break;	/* EOF after the last byte */
		/* wake for SO_RCVLOWAT's bytes, never for more than the
		 * target still lacks */
		want = peek ? peek_need : min_t(size_t, need, target - copied);
		if (timeo && !area_dead(hs)) {
			if (*kick) {	/* the host may wait for our room */
				area_kick(hs);
				*kick = false;
			}
			if (in_busy_wait(a, want, w.seq, &t0))
				continue;
		}
		r = arm_in(a, want);
		if (r < 0) {
			err = area_break(hs, "in");
			break;
		}
		if (!r)
			continue;
		drained = false;	/* armed just now */
		/* Room made for a host that waits for it: say so before
		 * sleeping on what it is to send. */
		err = area_sleep(hs, &wait, &timeo, kick);
		if (!err) {
			busy_learn(a, t0);
			t0 = 0;
		}
		if (err)
			break;
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	/* Emptied the ring: the next byte is news (an edge-triggered epoll
	 * waiter that read exactly what was there must hear of it). */
	if (drained)
		arm_in(a, need);
	if (copied)
		return (int)copied;
	return err;
}

static int recv_dgram(struct hsk *hs, struct msghdr *msg, size_t size, int flags, bool *kick)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct hsk_area *a = hs->area;
	struct sock *sk = &hs->sk;
	long timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	struct hrpc_sock_dgram h;
	struct hrpc_sock_dgram_meta meta;
	u64 t0 = 0;
	int err = 0, r;

	/* SO_TIMESTAMP*: the host stamps datagrams from now on */
	if (sock_flag(sk, SOCK_RCVTSTAMP) && !(a->guest_flags & HRPC_SOCK_AREA_G_TSTAMP))
		publish_guest_flags(a, HRPC_SOCK_AREA_G_TSTAMP, 0);
	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		struct host_words w;
		long n;

		if (area_dead(hs)) {
			err = -ECONNRESET;
			break;
		}
		host_words(hs, &w);
		/* header and ancillary data only, copied out and checked
		 * (payload: below) */
		n = hrpc_dring_get_meta(&a->in, &h, &meta, NULL, 0, 1);
		if (n >= 0) {
			u32 len = min_t(size_t, h.len, size);
			size_t c = ring_to_iter(&a->in, a->in.pvt + hrpc_sock_dgram_lead(&h), len,
						&msg->msg_iter);

			if (c != len) {
				err = -EFAULT;
				break;
			}
			dgram_cmsgs(hs, msg, &meta);
			if (!(flags & MSG_PEEK) && in_consume(a, hrpc_sock_dgram_rec(&h)))
				*kick = true;
			if (msg->msg_name && h.addr.family)
				msg->msg_namelen = hsock_addr_from_wire(&h.addr, msg->msg_name);
			if (h.full_len > len)
				msg->msg_flags |= MSG_TRUNC;
			err = (flags & MSG_TRUNC) ? (int)h.full_len : (int)len;
			break;
		}
		if (n != -EAGAIN) {
			err = area_break(hs, "in");
			break;
		}
		if (READ_ONCE(sk->sk_err)) {
			err = sock_error(sk);	/* an ICMP error, as Linux reports it */
			break;
		}
		if (hs->shut & RCV_SHUTDOWN) {
			err = 0;
			break;
		}
		if (timeo) {
			if (*kick) {
				area_kick(hs);
				*kick = false;
			}
			if (in_busy_wait(a, 1, w.seq, &t0))
				continue;
		}
		r = arm_in(a, 1);
		if (r < 0) {
			err = area_break(hs, "in");
			break;
		}
		if (!r)
			continue;
		err = area_sleep(hs, &wait, &timeo, kick);
		if (!err) {
			busy_learn(a, t0);
			t0 = 0;
		}
		if (err)
			break;
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

/**
 * hsock_area_recvmsg() - receive on a live area socket
 * @hs: the socket (hsock_area_live())
 * @msg: the caller's message
 * @size: buffer bytes
 * @flags: MSG_* (checked by the caller)
 *
 * Return: bytes (datagrams with MSG_TRUNC: the real size), 0 at EOF, -errno.
 */
int hsock_area_recvmsg(struct hsk *hs, struct msghdr *msg, size_t size, int flags)
{
	bool kick = false;
	int ret;

	if (flags & MSG_OOB)	/* no urgent data is ever kept: Linux's answer */
		return hs->sk.sk_type == SOCK_STREAM ? -EINVAL : -EOPNOTSUPP;
	if (mutex_lock_interruptible(&hs->rx_mutex))
		return sock_intr_errno(sock_rcvtimeo(&hs->sk, flags & MSG_DONTWAIT));
	if (hs->sk.sk_type == SOCK_STREAM)
		ret = recv_stream(hs, msg, size, flags, &kick);
	else
		ret = recv_dgram(hs, msg, size, flags, &kick);
	mutex_unlock(&hs->rx_mutex);
	if (kick)
		area_kick(hs);
	return ret;
}

/* ---- shutdown, ioctl ------------------------------------------------------------------ */

/* SHUT_WR: the host sends the FIN after the bytes still in the out ring. */
int hsock_area_shutdown_wr(struct hsk *hs)
{
	if (area_dead(hs))
		return -ECONNRESET;
	publish_guest_flags(hs->area, HRPC_SOCK_AREA_G_SHUTWR, 0);
	hs->shut |= SEND_SHUTDOWN;
	/* Always: an idle host (out ring empty, doorbell asked) learns of
	 * the flag only from a kick; a busy one sees it when the ring runs
	 * empty. */
	area_kick(hs);
	wake_up_interruptible_all(sk_sleep(&hs->sk));
	return 0;
}

/* SIOCINQ: stream bytes waiting, or the next datagram's payload size. */
int hsock_area_inq(struct hsk *hs)
{
	struct hsk_area *a = hs->area;
	struct hrpc_sock_dgram h;
	long n;

	if (area_dead(hs))
		return -ECONNRESET;
	if (hs->sk.sk_type == SOCK_STREAM) {
		n = in_avail_snap(a);
		return n < 0 ? area_break(hs, "in") : (int)n;
	}
	/* The header is read at our index, which only the holder of rx_mutex
	 * moves.  A reader asleep in recv holds it over an empty ring. */
	if (!mutex_trylock(&hs->rx_mutex)) {
		if (!in_avail_snap(a))
			return 0;
		if (mutex_lock_interruptible(&hs->rx_mutex))
			return -EINTR;
	}
	n = hrpc_dring_get(&a->in, &h, NULL, 0, 1);
	mutex_unlock(&hs->rx_mutex);
	if (n == -EAGAIN)
		return 0;
	return n < 0 ? area_break(hs, "in") : (int)h.len;
}

/**
 * hsock_area_out_pending() - bytes of the out ring the host has not taken
 * @hs: the socket (an area or none: 0)
 *
 * For a closer that waits for its bytes to leave (SO_LINGER, the delayed
 * CLOSE): unlike hsock_area_outq() it never wakes the socket's wait queue,
 * which may be gone after release.  A dead or broken area, or an index the
 * host forged, has nothing pending.
 */
u32 hsock_area_out_pending(struct hsk *hs)
{
	struct hsk_area *a = hs->area;
	u32 n;

	if (!a || !READ_ONCE(a->live) || READ_ONCE(a->broken) || hsock_is_reset(hs))
		return 0;
	/* Acquire pairs with the host's release of cons. */
	n = READ_ONCE(a->out.pvt) - smp_load_acquire(&a->out.ctl->cons);
	return n > a->out.size ? 0 : n;
}

/* SIOCOUTQ (local part): bytes in the out ring the host has not taken. */
int hsock_area_outq(struct hsk *hs)
{
	struct hsk_area *a = hs->area;
	long space;

	if (area_dead(hs))
		return -ECONNRESET;
	space = out_space_snap(a);
	return space < 0 ? area_break(hs, "out") : (int)(a->out.size - space);
}
