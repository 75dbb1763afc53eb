// SPDX-License-Identifier: GPL-2.0
/*
 * socket.c - proto_ops of outsourced AF_INET/AF_INET6 sockets.
 *
 * Every host procedure is non-blocking; blocking, O_NONBLOCK/MSG_DONTWAIT,
 * SO_RCVTIMEO/SO_SNDTIMEO, MSG_WAITALL and signals are done here: a call
 * that gets -EAGAIN (-EINPROGRESS for connect) waits on the socket's wait
 * queue for the READY event that raises the bit it needs (main.c applies
 * states and wakes).  Host calls themselves are not interruptible
 * (hsock_call()), so a signal never loses received bytes or hides sent ones:
 * it is only noticed while waiting, where Linux would notice it too.
 *
 * SOL_SOCKET options: Linux 6.1 handles them in generic code on struct sock
 * (sock_setsockopt/sock_getsockopt never reach proto_ops), so the guest
 * kernel keeps them and hsock_sync_sol() pushes the ones that matter to the
 * host before bind/connect/listen/send/recv.  SO_ERROR is the host's: poll()
 * fetches it into sk_err when the host reports POLLERR.
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <linux/uio.h>
#include <linux/termios.h>
#include <linux/workqueue.h>
#include <net/ipv6.h>
#include <net/inet_common.h>
#include <net/tcp_states.h>

#include "hsock.h"

#define IO_CHUNK    (256u << 10)  /* one SEND/RECV through a bulk buffer */
#define RX_AHEAD    (128u << 10)  /* stream read-ahead buffer */
#define INLINE_MAX  (HRPC_MSG_MAX_PAYLOAD - 64u)
#define HSOCK_DGRAM_MAX 65535u  /* no UDP datagram is larger (no jumbograms) */

static struct proto hsock_proto = {
	.name = "HRPC",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct hsk),
};

static const struct proto_ops hsock_ops;

int hsock_proto_register(void)
{
	return proto_register(&hsock_proto, 0);
}

void hsock_proto_unregister(void)
{
	proto_unregister(&hsock_proto);
}

/* ---- addresses ---------------------------------------------------------------- */

/* Guest sockaddr -> wire.  for_bind: no IPv4 on an IPv6 socket. */
int hsock_addr_to_wire(struct sock *sk, struct sockaddr *sa, int len, bool for_bind,
			struct hrpc_sock_addr *w)
{
	memset(w, 0, sizeof(*w));
	if (len < (int)sizeof(sa->sa_family))
		return -EINVAL;
	if (sa->sa_family == AF_UNSPEC && !for_bind)
		return 0;	/* connect(AF_UNSPEC): dissolve */
	if (sk->sk_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		if (len < (int)sizeof(*in))
			return -EINVAL;
		/* bind(AF_UNSPEC, INADDR_ANY) is accepted by Linux for compat */
		if (in->sin_family != AF_INET &&
		    !(for_bind && in->sin_family == AF_UNSPEC && !in->sin_addr.s_addr))
			return -EAFNOSUPPORT;
		w->family = HRPC_AF_INET;
		w->port = ntohs(in->sin_port);
		memcpy(w->addr, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET && !for_bind) {
		/* an IPv4 destination on an IPv6 socket: the v4-mapped form */
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		if (len < (int)sizeof(*in))
			return -EINVAL;
		w->family = HRPC_AF_INET6;
		w->port = ntohs(in->sin_port);
		w->addr[10] = w->addr[11] = 0xff;
		memcpy(w->addr + 12, &in->sin_addr, 4);
		return 0;
	}
	if (len < SIN6_LEN_RFC2133)
		return -EINVAL;
	if (sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		w->family = HRPC_AF_INET6;
		w->port = ntohs(in6->sin6_port);
		w->flowinfo = ntohl(in6->sin6_flowinfo);
		memcpy(w->addr, &in6->sin6_addr, 16);
		if (len >= (int)sizeof(*in6))
			w->scope_id = in6->sin6_scope_id;
	}
	return 0;
}

int hsock_addr_from_wire(const struct hrpc_sock_addr *w, struct sockaddr *sa)
{
	if (w->family == HRPC_AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		memset(in, 0, sizeof(*in));
		in->sin_family = AF_INET;
		in->sin_port = htons(w->port);
		memcpy(&in->sin_addr, w->addr, 4);
		return sizeof(*in);
	}
	if (w->family == HRPC_AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		memset(in6, 0, sizeof(*in6));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(w->port);
		in6->sin6_flowinfo = htonl(w->flowinfo);
		memcpy(&in6->sin6_addr, w->addr, 16);
		in6->sin6_scope_id = w->scope_id;
		return sizeof(*in6);
	}
	return 0;
}

/* ---- helpers ---------------------------------------------------------------------- */

int hsock_begin(struct hsk *hs, struct hrpck_chan **chan)
{
	struct hrpck_chan *c;

	if (!hs->handle || hs->gen != hsock_current_gen())
		return -ECONNRESET;
	c = hsock_chan_get();
	if (IS_ERR(c))
		return PTR_ERR(c);
	if (hs->gen != hsock_current_gen()) {
		hrpck_chan_put(c);
		return -ECONNRESET;
	}
	*chan = c;
	return 0;
}

bool hsock_is_reset(struct hsk *hs)
{
	return hs->gen != hsock_current_gen();
}

static u32 hs_mask(struct hsk *hs)
{
	unsigned long flags;
	u32 m;

	spin_lock_irqsave(&hs->slock, flags);
	m = hs->mask;
	spin_unlock_irqrestore(&hs->slock, flags);
	return m;
}

/* A call on this socket whose reply is a bare hrpc_sock_state. */
static int hs_simple(struct hsk *hs, u16 proc, u32 arg)
{
	struct hsock_call_args args;
	struct hrpc_sock_handle_req r = { .handle = hs->handle, .arg = arg };
	struct hrpc_sock_state st;
	struct hrpck_chan *chan;
	u32 len = 0;
	int ret = hsock_begin(hs, &chan);

	if (ret)
		return ret;
	args = (struct hsock_call_args){
		.proc = proc, .req = &r, .req_len = sizeof(r),
		.rep = &st, .rep_cap = sizeof(st),
	};
	ret = hsock_call(chan, &args);
	len = args.rep_len;
	if (len == sizeof(st))
		hsock_apply(hs, &st);
	hrpck_chan_put(chan);
	return ret;
}

static int hs_setopt(struct hsk *hs, struct hrpck_chan *chan, int level, int name,
		     const void *val, u32 len)
{
	struct hrpc_sock_opt *r = kzalloc(sizeof(*r), GFP_KERNEL);
	int ret;

	if (!r)
		return -ENOMEM;
	r->handle = hs->handle;
	r->level = level;
	r->name = name;
	r->len = len;
	memcpy(r->val, val, len);
	ret = hsock_call(chan, &(struct hsock_call_args){
		.proc = HRPC_SOCK_SETSOCKOPT, .req = r, .req_len = sizeof(*r),
	});
	kfree(r);
	return ret;
}

static int hs_getopt(struct hsk *hs, struct hrpck_chan *chan, int level, int name,
		     void *val, u32 *len)
{
	struct hsock_call_args args;
	struct hrpc_sock_opt *r = kzalloc(sizeof(*r) * 2, GFP_KERNEL), *o;
	u32 rlen = 0;
	int ret;

	if (!r)
		return -ENOMEM;
	o = r + 1;
	r->handle = hs->handle;
	r->level = level;
	r->name = name;
	r->len = min_t(u32, *len, HRPC_SOCK_OPT_MAX);
	args = (struct hsock_call_args){
		.proc = HRPC_SOCK_GETSOCKOPT, .req = r, .req_len = sizeof(*r),
		.rep = o, .rep_cap = sizeof(*o),
	};
	ret = hsock_call(chan, &args);
	rlen = args.rep_len;
	if (!ret && rlen == sizeof(*o)) {
		*len = min_t(u32, o->len, *len);
		memcpy(val, o->val, *len);
		hsock_apply(hs, &o->state);
	} else if (!ret) {
		ret = -EPROTO;
	}
	kfree(r);
	return ret;
}

/*
 * Push the SOL_SOCKET options the guest kernel holds in struct sock and the
 * host must know, if they changed since the last push.  Best effort: the
 * host refusing one (e.g. its policy) is not the caller's error.
 */
static void hsock_sync_sol(struct hsk *hs, struct hrpck_chan *chan)
{
	struct sock *sk = &hs->sk;
	int v;

#define SYNC(field, expr, level, name)                                          \
	do {                                                                    \
		v = (expr);                                                     \
		if (!hs->sol.valid || hs->sol.field != v) {                     \
			if (hs->sol.valid || v)                                 \
				hs_setopt(hs, chan, level, name, &v, sizeof(v)); \
			hs->sol.field = v;                                      \
		}                                                               \
	} while (0)

	SYNC(reuse, sk->sk_reuse != SK_NO_REUSE, SOL_SOCKET, SO_REUSEADDR);
	SYNC(reuseport, sk->sk_reuseport, SOL_SOCKET, SO_REUSEPORT);
	SYNC(keepalive, sock_flag(sk, SOCK_KEEPOPEN), SOL_SOCKET, SO_KEEPALIVE);
	SYNC(broadcast, sock_flag(sk, SOCK_BROADCAST), SOL_SOCKET, SO_BROADCAST);
	SYNC(oobinline, sock_flag(sk, SOCK_URGINLINE), SOL_SOCKET, SO_OOBINLINE);
	SYNC(dontroute, sock_flag(sk, SOCK_LOCALROUTE), SOL_SOCKET, SO_DONTROUTE);
	SYNC(priority, sk->sk_priority, SOL_SOCKET, SO_PRIORITY);
	SYNC(rcvlowat, sk->sk_rcvlowat > 1 ? sk->sk_rcvlowat : 0, SOL_SOCKET, SO_RCVLOWAT);
	SYNC(rcvbuf, (sk->sk_userlocks & SOCK_RCVBUF_LOCK) ? sk->sk_rcvbuf / 2 : 0,
	     SOL_SOCKET, SO_RCVBUF);
	SYNC(sndbuf, (sk->sk_userlocks & SOCK_SNDBUF_LOCK) ? sk->sk_sndbuf / 2 : 0,
	     SOL_SOCKET, SO_SNDBUF);
#undef SYNC
	v = sock_flag(sk, SOCK_LINGER);
	if (!hs->sol.valid || hs->sol.linger_on != v ||
	    hs->sol.linger_s != (int)(sk->sk_lingertime / HZ)) {
		struct linger lg = { .l_onoff = v, .l_linger = sk->sk_lingertime / HZ };

		if (hs->sol.valid || v)
			hs_setopt(hs, chan, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		hs->sol.linger_on = v;
		hs->sol.linger_s = lg.l_linger;
	}
	hs->sol.valid = true;
}

/*
 * Wait until the host reported one of `bits` (or the socket died, or was
 * shut down locally).  *timeo as in sock_rcvtimeo(); returns 0, -EAGAIN when
 * the time is up (or was 0), or sock_intr_errno() on a signal.
 */
static int hs_wait(struct hsk *hs, u32 bits, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *sk = &hs->sk;
	int ret = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		if ((hs_mask(hs) & bits) || hsock_is_reset(hs))
			break;
		if (!*timeo) {
			ret = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			ret = sock_intr_errno(*timeo);
			break;
		}
		*timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, *timeo);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return ret;
}

/* ---- create / release ------------------------------------------------------------ */

static struct hsk *hs_alloc(struct net *net, struct socket *sock, int family, int protocol,
			    int kern)
{
	struct sock *sk = sk_alloc(net, family, GFP_KERNEL, &hsock_proto, kern);
	struct hsk *hs;

	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	sock_set_flag(sk, SOCK_RCU_FREE);
	sk->sk_protocol = protocol;
	sk->sk_state = TCP_CLOSE;
	hs = hsk(sk);
	hs->handle = 0;
	hs->gen = 0;
	spin_lock_init(&hs->slock);
	hs->mask = 0;
	hs->seq = 0;
	hs->known = hs->dead = hs->err_fetched = false;
	hs->shut = 0;
	mutex_init(&hs->tx_mutex);
	mutex_init(&hs->rx_mutex);
	hs->rxbuf = NULL;
	hs->rx_off = hs->rx_len = 0;
	memset(&hs->sol, 0, sizeof(hs->sol));
	hs->area = NULL;
	return hs;
}

/* Make the handle findable for events.  An older socket with the same
 * index belongs to a dead generation: it is replaced. */
static void hs_publish(struct hsk *hs, u64 handle, u32 gen)
{
	WRITE_ONCE(hs->handle, handle);
	hs->gen = gen;
	xa_store_irq(&hsock_table, hrpc_sock_handle_index(handle), hs, GFP_KERNEL);
}

/* A call that named an area ended: does the host use the area now?
 * Refused: free it.  Abandoned (signal, timeout: the reply is still to
 * come, the host may have taken the area): leave it to the host, never
 * reuse it (hsock_call()'s hold_failed() says why). */
static void area_after_refusal(struct hsk_area *a, int ret)
{
	if (ret == -EINTR || ret == -ETIMEDOUT) {
		pr_warn_ratelimited("hostrpc_sock: a socket area stays allocated (call gave up: %d)\n",
				    ret);
		hsock_area_give(a);	/* the reference stays unput */
		return;
	}
	hsock_area_free(a);
}

/* SOCKET, with an area after the request when @a is given. */
static int socket_call(struct hrpck_chan *chan, struct hrpc_sock_socket_req *r,
		       struct hsk_area *a, struct hrpc_sock_handle_rep *o)
{
	struct {
		struct hrpc_sock_socket_req r;
		struct hrpc_sock_area a;
	} req = { .r = *r };
	struct hsock_call_args args;
	int ret;

	if (a) {
		req.r.flags = HRPC_SOCK_F_AREA;
		req.a = a->ref;
	}
	args = (struct hsock_call_args){
		.proc = HRPC_SOCK_SOCKET, .req = &req,
		.req_len = a ? sizeof(req) : sizeof(req.r),
		.rep = o, .rep_cap = sizeof(*o),
	};
	ret = hsock_call(chan, &args);
	if (!ret && args.rep_len != sizeof(*o))
		ret = -EPROTO;
	return ret;
}

static int hs_create(struct net *net, struct socket *sock, int protocol, int kern, int family)
{
	struct hrpc_sock_socket_req r = { 0 };
	struct hrpc_sock_handle_rep o;
	struct hsk_area *area = NULL;
	struct hrpck_chan *chan;
	struct hsk *hs;
	u32 gen;
	int ret;

	switch (sock->type) {
	case SOCK_STREAM:
		if (protocol && protocol != IPPROTO_TCP)
			return -EPROTONOSUPPORT;
		protocol = IPPROTO_TCP;
		break;
	case SOCK_DGRAM:
		if (protocol && protocol != IPPROTO_UDP)
			return -EPROTONOSUPPORT;
		protocol = IPPROTO_UDP;
		break;
	default:
		return -ESOCKTNOSUPPORT;
	}
	chan = hsock_chan_get();
	if (IS_ERR(chan))
		return PTR_ERR(chan);
	gen = hsock_current_gen();
	r.family = family == AF_INET ? HRPC_AF_INET : HRPC_AF_INET6;
	r.type = sock->type;
	r.protocol = protocol;
	/* Version 2: every TCP and UDP socket gets an area (a listener's stays
	 * unused: nobody knows yet what the socket becomes).  No room in the
	 * data area: a version 1 socket. */
	if (hsock_areas())
		area = hsock_area_alloc(chan, sock->type, 0, 0);
	ret = socket_call(chan, &r, area, &o);
	if (ret && area) {
		area_after_refusal(area, ret);
		area = NULL;
		if (ret == -EINVAL || ret == -ENOSPC)	/* the host would not take it */
			ret = socket_call(chan, &r, NULL, &o);
	}
	if (ret)
		goto out;
	hs = hs_alloc(net, sock, family, protocol, kern);
	if (!hs) {
		struct hrpc_sock_handle_req c = { .handle = o.handle };

		hsock_call(chan, &(struct hsock_call_args){
			.proc = HRPC_SOCK_CLOSE, .req = &c, .req_len = sizeof(c),
			.hold = hsock_area_give(area),
		});
		ret = -ENOMEM;
		goto out;
	}
	sock->ops = &hsock_ops;
	sock->state = SS_UNCONNECTED;
	if (area) {
		hsock_area_bind(area);
		hs->area = area;
		if (sock->type == SOCK_DGRAM)
			hsock_area_set_live(hs);	/* no connection to wait for */
	}
	hs_publish(hs, o.handle, gen);
	hsock_apply(hs, &o.state);
out:
	hrpck_chan_put(chan);
	return ret;
}

int hsock_create4(struct net *net, struct socket *sock, int protocol, int kern)
{
	return hs_create(net, sock, protocol, kern, AF_INET);
}

int hsock_create6(struct net *net, struct socket *sock, int protocol, int kern)
{
	return hs_create(net, sock, protocol, kern, AF_INET6);
}

/*
 * Bytes of a version 2 stream's out ring the host has not taken yet.  Read
 * here rather than with hsock_area_outq(): a released socket has no wait
 * queue, and a ring the host broke must not wake one.  Only the releasing
 * task produces, so our index stands still; the host's is clamped (a
 * forged one: nothing left to wait for).
 */
/* The host socket's TCP state (TCP_INFO's first byte, Linux's numbers),
 * or -errno. */
static int hs_tcp_state(struct hsk *hs)
{
	struct hrpck_chan *chan;
	u8 info[8];
	u32 len = sizeof(info);
	int ret = hsock_begin(hs, &chan);

	if (ret)
		return ret;
	ret = hs_getopt(hs, chan, IPPROTO_TCP, TCP_INFO, info, &len);
	hrpck_chan_put(chan);
	if (ret)
		return ret;
	return len ? info[0] : -EPROTO;
}

/* Is a lingering close over: every byte and the FIN acknowledged, as
 * sk_stream_wait_close() decides (the state left FIN_WAIT1, CLOSING and
 * LAST_ACK), or nothing more to wait for? */
static bool linger_done(struct hsk *hs)
{
	if (hsock_is_reset(hs))
		return true;
	if (hsock_area_out_pending(hs))
		return false;
	switch (hs_tcp_state(hs)) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:	/* version 2: the host sends the FIN once the ring is empty */
	case TCP_SYN_SENT:
	case TCP_SYN_RECV:
	case TCP_FIN_WAIT1:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return false;
	default:		/* acknowledged, closed, reset, or the host cannot tell */
		return true;
	}
}

static bool hs_area_promote(struct hsk *hs, struct socket *sock);

#define LINGER_NAP_MAX_MS 64

/*
 * close() of a stream with SO_LINGER and a timeout, as inet_release() and
 * tcp_close() do it: the FIN goes out after the unsent bytes, and close
 * waits until it is acknowledged, the time is up or a signal comes; then
 * the host closes in the background, as without the option (Linux does not
 * reset a connection whose linger time ran out).  The host never waits: the
 * guest looks at its out ring and the host socket's state (TCP_INFO), with
 * a backoff from 1 to 64 ms.
 */
static void hs_linger(struct hsk *hs, struct socket *sock)
{
	long timeo = (long)min_t(unsigned long, hs->sk.sk_lingertime, MAX_SCHEDULE_TIMEOUT);
	unsigned int nap = 1;
	int ret;

	if (sock->state != SS_CONNECTED && sock->state != SS_CONNECTING)
		return;
	if (hs_area_promote(hs, sock))
		ret = (hs->shut & SEND_SHUTDOWN) ? 0 : hsock_area_shutdown_wr(hs);
	else
		ret = hs_simple(hs, HRPC_SOCK_SHUTDOWN, SHUT_WR);
	if (ret)
		return;		/* not connected (any more): nothing to wait for */
	while (timeo && !signal_pending(current) && !linger_done(hs)) {
		long t = min_t(long, timeo, msecs_to_jiffies(nap));

		timeo -= t - schedule_timeout_interruptible(t);
		nap = min(nap * 2, LINGER_NAP_MAX_MS);
	}
}

/* CLOSE: the host closes its socket; the area is the host's until this
 * reply (the call holds it from here on).  After a channel reset the area
 * died with the channel. */
static void hs_close(struct hsk *hs)
{
	struct hsk_area *area = hs->area;
	struct hrpck_chan *chan;

	hs->area = NULL;
	if (hs->handle && !hsock_is_reset(hs) && !hsock_begin(hs, &chan)) {
		struct hrpc_sock_handle_req r = { .handle = hs->handle };

		/* close() does not wait for the host: many sockets' CLOSEs
		 * go out as one batch, one doorbell */
		hsock_call(chan, &(struct hsock_call_args){
			.proc = HRPC_SOCK_CLOSE, .req = &r, .req_len = sizeof(r),
			.hold = hsock_area_give(area), .nowait = true,
		});
		hrpck_chan_put(chan);
		area = NULL;
	}
	hsock_area_free(area);
}

#define CLOSE_FLUSH_S   60
#define CLOSE_NAP_MAX   (HZ / 10)

static void hs_close_work(struct work_struct *work)
{
	struct hsk *hs = container_of(to_delayed_work(work), struct hsk, close_work);

	if (hsock_area_out_pending(hs) && time_before(jiffies, hs->close_by)) {
		hs->close_nap = min_t(unsigned long, hs->close_nap * 2, CLOSE_NAP_MAX);
		queue_delayed_work(system_wq, &hs->close_work, hs->close_nap);
		return;
	}
	hs_close(hs);
	sock_put(&hs->sk);
}

/*
 * Released with bytes in the out ring: they are the guest's unsent data,
 * which Linux still delivers after close().  The host drains the ring as
 * its socket takes them; the CLOSE follows once the ring is empty (or
 * CLOSE_FLUSH_S passed: a peer that never reads), from a work item that
 * holds the socket's last reference.
 */
static void hs_close_later(struct hsk *hs)
{
	hs->close_by = jiffies + CLOSE_FLUSH_S * HZ;
	hs->close_nap = 1;
	INIT_DELAYED_WORK(&hs->close_work, hs_close_work);
	queue_delayed_work(system_wq, &hs->close_work, hs->close_nap);
}

static int hsock_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct hsk *hs;
	unsigned long flags;
	bool reset_close;

	if (!sk)
		return 0;
	hs = hsk(sk);
	/* SO_LINGER as the guest set it reaches the host first: with l_linger
	 * 0 the host's close resets the connection, as tcp_close() does. */
	if (hs->handle && !hsock_is_reset(hs) && sk->sk_type == SOCK_STREAM &&
	    (sock_flag(sk, SOCK_LINGER) || hs->sol.linger_on)) {
		struct hrpck_chan *chan;

		if (!hsock_begin(hs, &chan)) {
			hsock_sync_sol(hs, chan);
			hrpck_chan_put(chan);
		}
		/* an exiting task does not linger (inet_release()) */
		if (sock_flag(sk, SOCK_LINGER) && sk->sk_lingertime &&
		    !(current->flags & PF_EXITING))
			hs_linger(hs, sock);
	}
	reset_close = sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime;
	if (hs->handle)
		xa_cmpxchg_irq(&hsock_table, hrpc_sock_handle_index(hs->handle), hs, NULL,
			       GFP_KERNEL);
	spin_lock_irqsave(&hs->slock, flags);
	hs->dead = true;
	spin_unlock_irqrestore(&hs->slock, flags);
	kvfree(hs->rxbuf);
	hs->rxbuf = NULL;
	sock_orphan(sk);
	sock->sk = NULL;
	/* A reset drops the unsent bytes; otherwise they go out first. */
	if (!reset_close && hsock_area_out_pending(hs)) {
		hs_close_later(hs);	/* takes our reference */
		return 0;
	}
	hs_close(hs);
	sock_put(sk);
	return 0;
}

/* The host's table is gone: wake everybody; their handles are dead
 * (hsock_is_reset() is true for them from now on). */
void hsock_reset_all(void)
{
	struct hsk *hs;
	unsigned long idx, flags;

	xa_lock_irqsave(&hsock_table, flags);
	xa_for_each(&hsock_table, idx, hs) {
		spin_lock(&hs->slock);
		hs->mask |= HRPC_POLLERR | HRPC_POLLHUP;
		if (!hs->dead)
			wake_up_interruptible_poll(sk_sleep(&hs->sk), EPOLLERR | EPOLLHUP);
		spin_unlock(&hs->slock);
		__xa_erase(&hsock_table, idx);
	}
	xa_unlock_irqrestore(&hsock_table, flags);
}

/* ---- bind / listen / connect / accept ----------------------------------------------- */

static int hs_addr_call(struct hsk *hs, struct hrpck_chan *chan, u16 proc,
			const struct hrpc_sock_addr *a)
{
	struct hsock_call_args args;
	struct hrpc_sock_addr_req r = { .handle = hs->handle, .addr = *a };
	struct hrpc_sock_state st;
	u32 len = 0;
	int ret;

	args = (struct hsock_call_args){
		.proc = proc, .req = &r, .req_len = sizeof(r),
		.rep = &st, .rep_cap = sizeof(st),
	};
	ret = hsock_call(chan, &args);
	len = args.rep_len;
	if (len == sizeof(st))
		hsock_apply(hs, &st);
	return ret;
}

static int hsock_bind(struct socket *sock, struct sockaddr *uaddr, int addr_len)
{
	struct hsk *hs = hsk(sock->sk);
	struct hrpc_sock_addr a;
	struct hrpck_chan *chan;
	int ret;

	ret = hsock_addr_to_wire(sock->sk, uaddr, addr_len, true, &a);
	if (ret)
		return ret;
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	hsock_sync_sol(hs, chan);
	ret = hs_addr_call(hs, chan, HRPC_SOCK_BIND, &a);
	hrpck_chan_put(chan);
	return ret;
}

static int hsock_listen(struct socket *sock, int backlog)
{
	struct hsk *hs = hsk(sock->sk);
	struct hrpck_chan *chan;
	int ret;

	if (sock->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	hsock_sync_sol(hs, chan);
	hrpck_chan_put(chan);
	ret = hs_simple(hs, HRPC_SOCK_LISTEN, backlog < 0 ? 0 : backlog);
	if (!ret)
		sock->sk->sk_state = TCP_LISTEN;
	return ret;
}

static int hsock_connect(struct socket *sock, struct sockaddr *uaddr, int addr_len, int flags)
{
	struct sock *sk = sock->sk;
	struct hsk *hs = hsk(sk);
	struct hrpc_sock_addr a;
	struct hrpck_chan *chan;
	long timeo;
	int ret;

	ret = hsock_addr_to_wire(sk, uaddr, addr_len, false, &a);
	if (ret)
		return ret;
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	hsock_sync_sol(hs, chan);
	hs->conn_addr = a;
	ret = hs_addr_call(hs, chan, HRPC_SOCK_CONNECT, &a);
	if (sock->type == SOCK_DGRAM || (ret != -EINPROGRESS && ret != -EALREADY))
		goto done;
	/* A stream connect under way: wait like inet_stream_connect(). */
	timeo = sock_sndtimeo(sk, flags & O_NONBLOCK);
	if (!timeo)
		goto done;	/* -EINPROGRESS / -EALREADY */
	ret = hs_wait(hs, HRPC_POLLOUT | HRPC_POLLERR | HRPC_POLLHUP, &timeo);
	if (ret == -EAGAIN)
		ret = -EINPROGRESS;	/* SO_SNDTIMEO ran out, as Linux says */
	if (ret)
		goto done;
	if (hsock_is_reset(hs)) {
		ret = -ECONNRESET;
		goto done;
	}
	/* Linux gives the verdict on the second connect: 0 or the error. */
	ret = hs_addr_call(hs, chan, HRPC_SOCK_CONNECT, &a);
	if (ret == -EISCONN)
		ret = 0;
done:
	if (!ret) {
		/* connect(AF_UNSPEC) dissolves a UDP association */
		sock->state = a.family ? SS_CONNECTED : SS_UNCONNECTED;
		sk->sk_state = sock->type == SOCK_STREAM ? TCP_ESTABLISHED : sk->sk_state;
		if (sock->type == SOCK_STREAM)
			hsock_area_set_live(hs);	/* the host's pumps run from now on */
	} else if (ret == -EINPROGRESS || ret == -EALREADY) {
		sock->state = SS_CONNECTING;
	}
	hrpck_chan_put(chan);
	return ret;
}

/* The SOL_SOCKET options an accepted socket takes from its listener (the
 * guest kernel's generic code keeps them in struct sock). */
static void hs_inherit(struct sock *nsk, const struct sock *lsk)
{
	static const enum sock_flags flags[] = {
		SOCK_KEEPOPEN, SOCK_BROADCAST, SOCK_URGINLINE, SOCK_LOCALROUTE, SOCK_LINGER,
	};
	u32 locks = lsk->sk_userlocks & (SOCK_SNDBUF_LOCK | SOCK_RCVBUF_LOCK);
	unsigned int i;

	nsk->sk_reuse = lsk->sk_reuse;
	nsk->sk_reuseport = lsk->sk_reuseport;
	nsk->sk_priority = READ_ONCE(lsk->sk_priority);
	WRITE_ONCE(nsk->sk_rcvlowat, READ_ONCE(lsk->sk_rcvlowat));
	nsk->sk_lingertime = READ_ONCE(lsk->sk_lingertime);
	WRITE_ONCE(nsk->sk_rcvtimeo, READ_ONCE(lsk->sk_rcvtimeo));
	WRITE_ONCE(nsk->sk_sndtimeo, READ_ONCE(lsk->sk_sndtimeo));
	nsk->sk_userlocks |= locks;
	if (locks & SOCK_SNDBUF_LOCK)
		WRITE_ONCE(nsk->sk_sndbuf, READ_ONCE(lsk->sk_sndbuf));
	if (locks & SOCK_RCVBUF_LOCK)
		WRITE_ONCE(nsk->sk_rcvbuf, READ_ONCE(lsk->sk_rcvbuf));
	for (i = 0; i < ARRAY_SIZE(flags); i++)
		sock_valbool_flag(nsk, flags[i], sock_flag(lsk, flags[i]));
}

static int hsock_accept(struct socket *sock, struct socket *newsock, int flags, bool kern)
{
	struct hsock_call_args args;
	struct sock *sk = sock->sk;
	struct hsk *hs = hsk(sk), *nhs;
	struct {
		struct hrpc_sock_handle_req r;
		struct hrpc_sock_area a;
	} req = { .r = { .handle = hs->handle } };
	struct hrpc_sock_accept_rep o;
	struct hsk_area *area = NULL;
	struct hrpck_chan *chan;
	long timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	u32 len, gen;
	int ret;

	for (;;) {
		ret = hsock_begin(hs, &chan);
		if (ret)
			goto out_area;
		gen = hs->gen;
		/* Version 2: the new socket's area, sized from the listener's
		 * buffers (which the new socket inherits), made once for all
		 * tries (each try that fails leaves it unused). */
		if (!area && hsock_areas())
			area = hsock_area_alloc(chan, SOCK_STREAM, sk->sk_sndbuf, sk->sk_rcvbuf);
		req.r.arg = area ? HRPC_SOCK_F_AREA : 0;
		if (area)
			req.a = area->ref;
		args = (struct hsock_call_args){
			.proc = HRPC_SOCK_ACCEPT, .req = &req,
			.req_len = area ? sizeof(req) : sizeof(req.r),
			.rep = &o, .rep_cap = sizeof(o),
		};
		ret = hsock_call(chan, &args);
		len = args.rep_len;
		if (len == sizeof(o))
			hsock_apply(hs, &o.lstate);
		if (ret == -EINTR || ret == -ETIMEDOUT) {
			if (area)
				area_after_refusal(area, ret);
			area = NULL;
			break;
		}
		if (ret != -EAGAIN)
			break;
		hrpck_chan_put(chan);
		ret = hs_wait(hs, HRPC_POLLIN | HRPC_POLLERR | HRPC_POLLHUP, &timeo);
		if (!ret && hsock_is_reset(hs))
			ret = -ECONNRESET;
		if (ret)
			goto out_area;
		/* after a listener's shutdown, accept gives -EINVAL as on Linux */
	}
	if (!ret && len != sizeof(o))
		ret = -EPROTO;
	if (ret) {
		/* refused: the host did not take the area */
		hsock_area_free(area);
		goto out;
	}
	nhs = hs_alloc(sock_net(sk), newsock, sk->sk_family, sk->sk_protocol, kern);
	if (!nhs) {
		struct hrpc_sock_handle_req c = { .handle = o.handle };

		hsock_call(chan, &(struct hsock_call_args){
			.proc = HRPC_SOCK_CLOSE, .req = &c, .req_len = sizeof(c),
			.hold = hsock_area_give(area),
		});
		ret = -ENOMEM;
		goto out;
	}
	newsock->state = SS_CONNECTED;
	nhs->sk.sk_state = TCP_ESTABLISHED;
	/* The host socket inherited what was pushed to the listener (sol);
	 * the guest's socket inherits the listener's options as sk_clone_lock()
	 * would, else the next push would take them back on the host (an
	 * accepted socket without SO_REUSEADDR leaves a TIME_WAIT that keeps a
	 * restarted server from its port). */
	hs_inherit(&nhs->sk, sk);
	nhs->sol = hs->sol;
	if (area) {
		hsock_area_bind(area);
		nhs->area = area;
		hsock_area_set_live(nhs);
	}
	hs_publish(nhs, o.handle, gen);
	hsock_apply(nhs, &o.state);
out:
	hrpck_chan_put(chan);
	return ret;
out_area:
	hsock_area_free(area);
	return ret;
}

static int hsock_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct hsock_call_args args;
	struct hsk *hs = hsk(sock->sk);
	struct hrpc_sock_handle_req r = { .handle = hs->handle, .arg = !!peer };
	struct hrpc_sock_name_rep o;
	struct hrpck_chan *chan;
	u32 len = 0;
	int ret = hsock_begin(hs, &chan);

	if (ret)
		return ret;
	args = (struct hsock_call_args){
		.proc = HRPC_SOCK_GETNAME, .req = &r, .req_len = sizeof(r),
		.rep = &o, .rep_cap = sizeof(o),
	};
	ret = hsock_call(chan, &args);
	len = args.rep_len;
	hrpck_chan_put(chan);
	if (ret)
		return ret;
	if (len != sizeof(o))
		return -EPROTO;
	hsock_apply(hs, &o.state);
	ret = hsock_addr_from_wire(&o.addr, uaddr);
	return ret ?: -ENOTCONN;
}

/* ---- poll ---------------------------------------------------------------------------- */

/*
 * Is this an area socket whose rings carry the data?  A stream is once it
 * is connected.  A non-blocking connect's end shows as POLLOUT without an
 * error in the host's state; then the guest asks for the verdict as a
 * second connect() would, which also tells the host the connection is up
 * (its pumps run from then on: the host does not otherwise notice a
 * connect whose reply already showed POLLOUT).
 */
static bool hs_area_promote(struct hsk *hs, struct socket *sock)
{
	struct hrpck_chan *chan;
	u32 m;
	int ret;

	if (!hs->area)
		return false;
	if (hsock_area_live(hs))
		return true;
	if (sock->type != SOCK_STREAM || sock->state != SS_CONNECTING)
		return false;
	m = hs_mask(hs);
	if (!(m & HRPC_POLLOUT) || (m & (HRPC_POLLERR | HRPC_POLLHUP)))
		return false;
	if (hsock_begin(hs, &chan))
		return false;
	ret = hs_addr_call(hs, chan, HRPC_SOCK_CONNECT, &hs->conn_addr);
	hrpck_chan_put(chan);
	if (ret == -EALREADY || ret == -EINPROGRESS)
		return false;
	if (ret && ret != -EISCONN) {
		/* it failed after all: the error, once, as SO_ERROR */
		WRITE_ONCE(hs->sk.sk_err, -ret);
		sock->state = SS_UNCONNECTED;
		return false;
	}
	sock->state = SS_CONNECTED;
	hs->sk.sk_state = TCP_ESTABLISHED;
	hsock_area_set_live(hs);
	return true;
}

/*
 * send/recv on an area stream that is not live: wait for a connect under
 * way (or -EAGAIN), report its failure, or say it is not connected.
 * 0 when it is live now.
 */
static int hs_area_await(struct hsk *hs, struct socket *sock, long *timeo, bool tx)
{
	for (;;) {
		u32 m;
		int ret;

		if (hs_area_promote(hs, sock))
			return 0;
		if (hsock_is_reset(hs))
			return -ECONNRESET;
		if (sock->state != SS_CONNECTING)
			return tx ? -EPIPE : -ENOTCONN;
		m = hs_mask(hs);
		if (m & (HRPC_POLLERR | HRPC_POLLHUP)) {
			struct hrpck_chan *chan;
			int err = 0;
			u32 len = sizeof(err);

			/* the connect failed: its error, once (SO_ERROR) */
			ret = hsock_begin(hs, &chan);
			if (ret)
				return ret;
			if (hs_getopt(hs, chan, SOL_SOCKET, SO_ERROR, &err, &len) || !err)
				err = ECONNREFUSED;
			hrpck_chan_put(chan);
			sock->state = SS_UNCONNECTED;
			return -err;
		}
		ret = hs_wait(hs, HRPC_POLLOUT | HRPC_POLLERR | HRPC_POLLHUP, timeo);
		if (ret)
			return ret;
	}
}

static __poll_t hsock_poll(struct file *file, struct socket *sock, poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct hsk *hs = hsk(sk);
	u32 mask;

	sock_poll_wait(file, sock, wait);
	if (hsock_is_reset(hs))
		return EPOLLERR | EPOLLHUP;
	if (hs_area_promote(hs, sock))
		return hsock_area_poll(hs);
	mask = hs_mask(hs);
	/* SO_ERROR is read by generic code from sk_err: fetch the host's
	 * pending error now, before the caller asks for it. */
	if ((mask & HRPC_POLLERR) && !READ_ONCE(hs->err_fetched)) {
		struct hrpck_chan *chan;
		int err = 0;
		u32 len = sizeof(err);

		if (!hsock_begin(hs, &chan)) {
			if (!hs_getopt(hs, chan, SOL_SOCKET, SO_ERROR, &err, &len) && err) {
				WRITE_ONCE(sk->sk_err, err);
				WRITE_ONCE(hs->err_fetched, true);
			}
			hrpck_chan_put(chan);
		}
		/* collecting SO_ERROR may have cleared POLLERR on the host */
		mask = hs_mask(hs) | (READ_ONCE(sk->sk_err) ? HRPC_POLLERR : 0);
	}
	if (READ_ONCE(hs->rx_len))
		mask |= EPOLLIN | EPOLLRDNORM;
	return (__poll_t)mask;
}

/* ---- send / receive ------------------------------------------------------------------ */

static int send_once(struct hsk *hs, struct hrpck_chan *chan, struct msghdr *msg, u32 n,
		     u32 flags, const struct hrpc_sock_addr *to)
{
	struct hsock_call_args args;
	struct hrpc_sock_send_req *r;
	struct hrpc_sock_io_rep o;
	struct hrpck_bulk *b = NULL;
	u32 len = 0, rlen = sizeof(*r);
	int ret;

	if (n > IO_CHUNK || n > INLINE_MAX - sizeof(*r))
		b = hrpck_bulk_alloc(chan, max(n, 1u), GFP_KERNEL);
	if (IS_ERR(b))
		b = NULL;
	if (!b)
		n = min_t(u32, n, INLINE_MAX - sizeof(*r));
	r = kmalloc(sizeof(*r) + (b ? 0 : n), GFP_KERNEL);
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	memset(r, 0, sizeof(*r));
	r->handle = hs->handle;
	r->flags = flags;
	r->len = n;
	if (to) {
		r->has_addr = 1;
		r->addr = *to;
	}
	if (copy_from_iter(b ? b->ptr : (void *)(r + 1), n, &msg->msg_iter) != n) {
		ret = -EFAULT;
		goto out;
	}
	if (!b)
		rlen += n;
	args = (struct hsock_call_args){
		.proc = HRPC_SOCK_SEND, .req = r, .req_len = rlen,
		.rep = &o, .rep_cap = sizeof(o),
		.bulk = b, .bulk_len = b ? n : 0,
	};
	ret = hsock_call(chan, &args);
	len = args.rep_len;
	if (len == sizeof(o))
		hsock_apply(hs, &o.state);
	if (!ret)
		ret = min(o.len, n);
	/* what the host did not take goes back to the caller's iterator */
	iov_iter_revert(&msg->msg_iter, n - (ret > 0 ? ret : 0));
out:
	kfree(r);
	if (b)
		hrpck_bulk_put(b);
	return ret;
}

static int hsock_sendmsg(struct socket *sock, struct msghdr *msg, size_t size)
{
	struct sock *sk = sock->sk;
	struct hsk *hs = hsk(sk);
	struct hrpc_sock_addr to, *top = NULL;
	struct hrpck_chan *chan;
	u32 flags = msg->msg_flags & (MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE);
	long timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	size_t sent = 0;
	int ret;

	if (msg->msg_flags & ~(MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | MSG_DONTWAIT |
			       MSG_NOSIGNAL | MSG_CMSG_COMPAT))
		return -EOPNOTSUPP;
	/* ancillary data: IP_PKTINFO / IPV6_PKTINFO on a version 2 datagram
	 * socket (area.c), nothing else (README.md) */
	if (msg->msg_controllen && !(sock->type == SOCK_DGRAM && hsock_area_live(hs)))
		return -EOPNOTSUPP;
	if (msg->msg_name) {
		ret = hsock_addr_to_wire(sk, msg->msg_name, msg->msg_namelen, false, &to);
		if (ret)
			return ret;
		if (to.family)
			top = &to;
	}
	if (sock->type == SOCK_DGRAM && size > HRPC_SOCK_MAX_IO)
		return -EMSGSIZE;
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	hsock_sync_sol(hs, chan);
	if (hs->area) {
		hrpck_chan_put(chan);
		ret = hs_area_await(hs, sock, &timeo, true);
		if (ret == -EPIPE && !(msg->msg_flags & MSG_NOSIGNAL))
			send_sig(SIGPIPE, current, 0);
		if (ret)
			return ret;
		return hsock_area_sendmsg(hs, msg, size, top);
	}
	if (mutex_lock_interruptible(&hs->tx_mutex)) {
		hrpck_chan_put(chan);
		return sock_intr_errno(timeo);
	}
	do {
		u32 n = min_t(size_t, size - sent, sock->type == SOCK_DGRAM ? size : IO_CHUNK);

		ret = send_once(hs, chan, msg, n, flags, top);
		if (ret > 0) {
			sent += ret;
			continue;
		}
		if (ret == 0 && size == 0)
			break;
		if (ret == -EAGAIN) {
			ret = hs_wait(hs, HRPC_POLLOUT | HRPC_POLLERR | HRPC_POLLHUP, &timeo);
			if (!ret && hsock_is_reset(hs))
				ret = -ECONNRESET;
			if (!ret)
				continue;
		}
		break;
	} while (sent < size && sock->type == SOCK_STREAM);
	mutex_unlock(&hs->tx_mutex);
	hrpck_chan_put(chan);
	if (ret == -EPIPE && !(msg->msg_flags & MSG_NOSIGNAL) && !sent)
		send_sig(SIGPIPE, current, 0);
	if (sent)
		return sent;
	return ret;
}

static int recv_once(struct hsk *hs, struct hrpck_chan *chan, struct iov_iter *to, u32 n,
		     u32 flags, struct hrpc_sock_io_rep *io)
{
	struct hsock_call_args args;
	struct hrpc_sock_recv_req r = { .handle = hs->handle, .flags = flags, .len = n };
	struct hrpck_bulk *b = NULL;
	u8 *rep = NULL;
	u32 len = 0, pos = 0, blen = 0, got;
	int ret;

	if (n > INLINE_MAX - sizeof(*io))
		b = hrpck_bulk_alloc(chan, min(n, IO_CHUNK), GFP_KERNEL);
	if (IS_ERR(b))
		b = NULL;
	if (!b)
		r.len = min_t(u32, n, INLINE_MAX - sizeof(*io));
	else
		r.len = min(n, b->cap);
	rep = kmalloc(b ? sizeof(*io) : sizeof(*io) + r.len, GFP_KERNEL);
	if (!rep) {
		ret = -ENOMEM;
		goto out;
	}
	args = (struct hsock_call_args){
		.proc = HRPC_SOCK_RECV, .req = &r, .req_len = sizeof(r),
		.rep = rep, .rep_cap = b ? sizeof(*io) : sizeof(*io) + r.len,
		.bulk = b,
	};
	ret = hsock_call(chan, &args);
	len = args.rep_len;
	pos = args.rep_bulk_pos;
	blen = args.rep_bulk_len;
	if (len < sizeof(*io)) {
		ret = ret ?: -EPROTO;
		goto out;
	}
	memcpy(io, rep, sizeof(*io));
	hsock_apply(hs, &io->state);
	if (ret)
		goto out;
	got = io->len;
	if (got > r.len || (b ? blen != got : len != sizeof(*io) + got)) {
		ret = -EPROTO;
		goto out;
	}
	/* full_len is the host's word as well, and recvmsg() returns it
	 * (MSG_TRUNC): at least what came, never more than this call could
	 * have seen (a stream: the length asked for; a datagram: the largest
	 * UDP payload).  Anything else is a protocol error, not a length. */
	if (io->full_len < got ||
	    io->full_len > (hs->sk.sk_type == SOCK_STREAM ? r.len : HSOCK_DGRAM_MAX)) {
		ret = -EPROTO;
		goto out;
	}
	if (got && copy_to_iter(b ? (u8 *)b->ptr + pos : rep + sizeof(*io), got, to) != got) {
		ret = -EFAULT;
		goto out;
	}
	ret = got;
out:
	kfree(rep);
	if (b)
		hrpck_bulk_put(b);
	return ret;
}

/* Fill the read-ahead buffer with one RECV: > 0 bytes, 0 EOF, -errno. */
static int rx_fill(struct hsk *hs, struct hrpck_chan *chan, struct hrpc_sock_io_rep *io)
{
	struct kvec kv;
	struct iov_iter it;
	int ret;

	if (!hs->rxbuf) {
		hs->rxbuf = kvmalloc(RX_AHEAD, GFP_KERNEL);
		if (!hs->rxbuf)
			return -ENOMEM;
	}
	kv.iov_base = hs->rxbuf;
	kv.iov_len = RX_AHEAD;
	iov_iter_kvec(&it, READ, &kv, 1, RX_AHEAD);
	ret = recv_once(hs, chan, &it, RX_AHEAD, 0, io);
	if (ret > 0) {
		hs->rx_off = 0;
		WRITE_ONCE(hs->rx_len, ret);
	}
	return ret;
}

/* Take up to `want` buffered bytes (all of them stay with MSG_PEEK). */
static int rx_take(struct hsk *hs, struct msghdr *msg, size_t want, int flags)
{
	u32 n = min_t(size_t, want, hs->rx_len);

	if (!(flags & MSG_TRUNC) &&
	    copy_to_iter(hs->rxbuf + hs->rx_off, n, &msg->msg_iter) != n)
		return -EFAULT;
	if (!(flags & MSG_PEEK)) {
		hs->rx_off += n;
		WRITE_ONCE(hs->rx_len, hs->rx_len - n);
	}
	return n;
}

static int hsock_recvmsg(struct socket *sock, struct msghdr *msg, size_t size, int flags)
{
	struct sock *sk = sock->sk;
	struct hsk *hs = hsk(sk);
	struct hrpc_sock_io_rep io;
	struct hrpck_chan *chan;
	u32 hflags = flags & (MSG_OOB | MSG_PEEK | MSG_TRUNC);
	long timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	size_t target = (flags & MSG_WAITALL) && sock->type == SOCK_STREAM ? size : 1;
	bool stream = sock->type == SOCK_STREAM;
	size_t copied = 0;
	int ret;

	if (flags & ~(MSG_OOB | MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT | MSG_WAITALL |
		      MSG_NOSIGNAL | MSG_CMSG_COMPAT | MSG_CMSG_CLOEXEC))
		return -EOPNOTSUPP;
	if (hs->area) {
		if (hsock_is_reset(hs))
			return -ECONNRESET;
		ret = hs_area_await(hs, sock, &timeo, false);
		return ret ?: hsock_area_recvmsg(hs, msg, size, flags);
	}
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	if (mutex_lock_interruptible(&hs->rx_mutex)) {
		hrpck_chan_put(chan);
		return sock_intr_errno(timeo);
	}
	for (;;) {
		if (size == copied && stream) {
			ret = 0;
			break;
		}
		/* bytes read ahead come first (not for out-of-band data) */
		if (stream && hs->rx_len && !(flags & MSG_OOB)) {
			ret = rx_take(hs, msg, size - copied, flags);
			if (ret < 0)
				break;
			copied += ret;
			if (copied >= target || (flags & MSG_PEEK))
				break;
			continue;
		}
		if (stream && !(flags & (MSG_OOB | MSG_TRUNC)) &&
		    ((flags & MSG_PEEK) || size - copied < RX_AHEAD)) {
			/* a small read: take a larger piece and keep the rest */
			ret = rx_fill(hs, chan, &io);
			if (ret > 0)
				continue;
		} else {
			ret = recv_once(hs, chan, &msg->msg_iter,
					min_t(size_t, size - copied, HRPC_SOCK_MAX_IO), hflags, &io);
		}
		if (ret > 0 || (ret == 0 && !stream)) {
			copied += ret;
			if (!stream) {
				if (msg->msg_name && io.addr.family)
					msg->msg_namelen = hsock_addr_from_wire(&io.addr, msg->msg_name);
				if (io.full_len > io.len)
					msg->msg_flags |= MSG_TRUNC;
				if (flags & MSG_TRUNC)
					copied = io.full_len;
				break;
			}
			if ((flags & MSG_TRUNC) && !(flags & MSG_PEEK))
				copied += io.full_len - ret; /* discarded, not copied */
			if (copied >= target || (flags & MSG_PEEK))
				break;
			continue;
		}
		if (ret == 0)
			break;	/* EOF */
		if (ret == -EAGAIN) {
			if (copied >= target)
				break;
			ret = hs_wait(hs, HRPC_POLLIN | HRPC_POLLERR | HRPC_POLLHUP |
				      HRPC_POLLRDHUP, &timeo);
			if (!ret && hsock_is_reset(hs))
				ret = -ECONNRESET;
			if (!ret)
				continue;
		}
		break;
	}
	mutex_unlock(&hs->rx_mutex);
	hrpck_chan_put(chan);
	if (copied)
		return copied;
	return ret;
}

/* ---- the rest --------------------------------------------------------------------------- */

static int hsock_shutdown(struct socket *sock, int how)
{
	struct hsk *hs = hsk(sock->sk);
	int ret;

	/* SHUT_RD/WR/RDWR are 0/1/2 as syscall arguments. */
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (hs_area_promote(hs, sock) && sock->type == SOCK_STREAM) {
		/* The FIN goes after the bytes in the out ring: the guest's
		 * flag, not a call; SHUT_RD is the host's as in version 1. */
		ret = 0;
		if (how != SHUT_WR) {
			ret = hs_simple(hs, HRPC_SOCK_SHUTDOWN, SHUT_RD);
			if (!ret)
				hs->shut |= RCV_SHUTDOWN;
		}
		if (!ret && how != SHUT_RD)
			ret = hsock_area_shutdown_wr(hs);
		wake_up_interruptible_all(sk_sleep(sock->sk));
		return ret;
	}
	ret = hs_simple(hs, HRPC_SOCK_SHUTDOWN, how);
	if (!ret && hs->area)
		hs->shut |= (how != SHUT_WR ? RCV_SHUTDOWN : 0) | (how != SHUT_RD ? SEND_SHUTDOWN : 0);
	/* Wake local waiters: they re-try and see what the host says. */
	wake_up_interruptible_all(sk_sleep(sock->sk));
	return ret;
}

static int hsock_ioctl(struct socket *sock, unsigned int cmd, unsigned long arg)
{
	struct hsock_call_args args;
	struct hsk *hs = hsk(sock->sk);
	struct hrpc_sock_handle_req r = { .handle = hs->handle, .arg = cmd };
	struct hrpc_sock_ioctl_rep o;
	struct hrpck_chan *chan;
	u32 len = 0;
	int ret;

	switch (cmd) {
	case SIOCINQ:
	case SIOCOUTQ:
	case SIOCOUTQNSD:
	case SIOCATMARK:
		break;
	default:
		/* interface ioctls (SIOCGIFFLAGS, ...) go to dev_ioctl() */
		return -ENOIOCTLCMD;
	}
	if (hsock_area_live(hs) && cmd == SIOCINQ) {
		/* what the in ring holds: a memory read */
		ret = hsock_area_inq(hs);
		return ret < 0 ? ret : put_user(ret, (int __user *)arg);
	}
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	args = (struct hsock_call_args){
		.proc = HRPC_SOCK_IOCTL, .req = &r, .req_len = sizeof(r),
		.rep = &o, .rep_cap = sizeof(o),
	};
	ret = hsock_call(chan, &args);
	len = args.rep_len;
	hrpck_chan_put(chan);
	if (ret)
		return ret;
	if (len != sizeof(o))
		return -EPROTO;
	hsock_apply(hs, &o.state);
	if (cmd == SIOCINQ)
		o.value += READ_ONCE(hs->rx_len);	/* read ahead, not yet read */
	if ((cmd == SIOCOUTQ || cmd == SIOCOUTQNSD) && hsock_area_live(hs)) {
		/* plus what the host has not taken from the out ring yet */
		ret = hsock_area_outq(hs);
		if (ret < 0)
			return ret;
		o.value += ret;
	}
	return put_user((int)o.value, (int __user *)arg);
}

static int hsock_setsockopt(struct socket *sock, int level, int optname, sockptr_t optval,
			    unsigned int optlen)
{
	struct hsk *hs = hsk(sock->sk);
	struct hrpck_chan *chan;
	u8 val[HRPC_SOCK_OPT_MAX];
	int ret;

	if (optlen > HRPC_SOCK_OPT_MAX)
		return -EINVAL;
	/* Packet info comes with a datagram in the in ring (version 2);
	 * version 1's RECVFROM has no room for it: refuse, never ignore. */
	if (!hs->area && ((level == SOL_IP && optname == IP_PKTINFO) ||
			  (level == SOL_IPV6 && optname == IPV6_RECVPKTINFO)))
		return -ENOPROTOOPT;
	if (copy_from_sockptr(val, optval, optlen))
		return -EFAULT;
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	ret = hs_setopt(hs, chan, level, optname, val, optlen);
	hrpck_chan_put(chan);
	return ret;
}

static int hsock_getsockopt(struct socket *sock, int level, int optname, char __user *optval,
			    int __user *optlen)
{
	struct hsk *hs = hsk(sock->sk);
	struct hrpck_chan *chan;
	u8 val[HRPC_SOCK_OPT_MAX];
	int len, ret;
	u32 ulen;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	ulen = min_t(u32, len, HRPC_SOCK_OPT_MAX);
	ret = hsock_begin(hs, &chan);
	if (ret)
		return ret;
	ret = hs_getopt(hs, chan, level, optname, val, &ulen);
	hrpck_chan_put(chan);
	if (ret)
		return ret;
	if (copy_to_user(optval, val, ulen) || put_user((int)ulen, optlen))
		return -EFAULT;
	return 0;
}

static const struct proto_ops hsock_ops = {
	.family = PF_INET,	/* informative; the sock's sk_family is what counts */
	.owner = THIS_MODULE,
	.release = hsock_release,
	.bind = hsock_bind,
	.connect = hsock_connect,
	.socketpair = sock_no_socketpair,
	.accept = hsock_accept,
	.getname = hsock_getname,
	.poll = hsock_poll,
	.ioctl = hsock_ioctl,
	.listen = hsock_listen,
	.shutdown = hsock_shutdown,
	.setsockopt = hsock_setsockopt,
	.getsockopt = hsock_getsockopt,
	.sendmsg = hsock_sendmsg,
	.recvmsg = hsock_recvmsg,
	.mmap = sock_no_mmap,
	.sendpage = sock_no_sendpage,
};
