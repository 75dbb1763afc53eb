/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hsock.h - private interface of hostrpc_sock.ko between main.c (channel,
 * INIT, events, credits, the family take-over) and socket.c (proto_ops).
 *
 * Error convention: -errno, as in the kernel.
 */
#ifndef HOSTRPC_HSOCK_H
#define HOSTRPC_HSOCK_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/sock.h>

#include "hostrpc_core.h"
#include "hostrpc/msg.h"
#include "hostrpc/sock.h"
#include "hostrpc/sockring.h"

/*
 * Version 2: a socket's data rings in the channel's data area (sockring.h).
 * The guest produces `out` and consumes `in`; everything read from the area
 * (the host's indexes, datagram headers, the host's words) is the host's
 * word and checked before use (sockring.h); a violation makes the socket
 * `broken` (-ECONNRESET, POLLERR|POLLHUP), never a crash or a loop.
 */
struct hsk_area {
	struct hrpck_bulk *bulk;        /* the area's pages, held until the host's CLOSE reply */
	struct hrpc_sock_area ref;      /* private copy of what the host was told */
	struct hrpc_sock_area_hdr *hdr; /* shared */
	struct hrpc_ring out, in;       /* private views (own index, checked geometry) */
	/* Arming (prod_event, cons_event) and the in ring's consumer index:
	 * a poller's arm never overwrites a newer one with a stale index. */
	spinlock_t lock;
	u32 guest_flags;                /* HRPC_SOCK_AREA_G_*, the truth (published to hdr) */
	u32 seen_seq;                   /* host_seq whose error went to sk_err */
	u32 seen_err_seq;               /* host_err_seq likewise */
	bool live;                      /* the rings carry the data (connected stream / UDP) */
	bool broken;                    /* the host broke the rings: reset */
	u32 busy_ns;                    /* a blocking recv's spin budget (rx_mutex) */
	u32 busy_probe;                 /* waits since the budget fell to 0 */
};

/* One guest socket; its struct sock comes first (sk_alloc'ed). */
struct hsk {
	struct sock sk;
	u64 handle;             /* host handle; 0 = none */
	u32 gen;                /* hsock_gen when the handle was made */
	spinlock_t slock;       /* mask, seq, known, dead */
	u32 mask;               /* HRPC_POLL* as last reported */
	u32 seq;
	bool known;
	bool dead;              /* released: no more wake-ups */
	bool err_fetched;       /* sk_err holds the host's SO_ERROR */
	u8 shut;                /* local RCV_SHUTDOWN | SEND_SHUTDOWN */
	struct mutex tx_mutex;  /* one sender at a time (stream order) */
	struct mutex rx_mutex;  /* one receiver at a time; guards rxbuf */
	/* Stream read-ahead: small reads are served from bytes already taken
	 * from the host in one larger RECV (poll and FIONREAD count them). */
	u8 *rxbuf;
	u32 rx_off, rx_len;     /* rx_len: bytes waiting at rxbuf + rx_off */
	/* SOL_SOCKET options as last pushed to the host (the guest kernel's
	 * generic code keeps them in struct sock; see hsock_sync_sol()). */
	struct {
		bool valid;
		int reuse, reuseport, keepalive, broadcast, oobinline, dontroute;
		int priority, rcvbuf, sndbuf, rcvlowat, linger_on, linger_s;
	} sol;
	struct hsk_area *area;  /* version 2 socket; NULL: version 1 calls */
	struct hrpc_sock_addr conn_addr; /* a stream's last connect() destination */
	/* Released with bytes still in the out ring: the CLOSE waits for the
	 * host to take them (socket.c, hs_close_later()). */
	struct delayed_work close_work;
	unsigned long close_by;         /* jiffies: CLOSE then, taken or not */
	unsigned long close_nap;        /* jiffies until the next look */
};

static inline struct hsk *hsk(struct sock *sk)
{
	return container_of(sk, struct hsk, sk);
}

/* main.c */
extern struct xarray hsock_table;    /* handle index -> struct hsk (RCU) */
u32 hsock_current_gen(void);
/* The host said version 2 with areas at the last INIT (and v2 is not off). */
bool hsock_areas(void);
/* Wait until INIT is done (bounded); returns the channel with a reference
 * (hrpck_chan_put() it) or an ERR_PTR (-ENETDOWN). */
struct hrpck_chan *hsock_chan_get(void);
/**
 * struct hsock_call_args - one call to the host's socket service
 * @proc: HRPC_SOCK_*
 * @req: request payload, @req_len bytes
 * @rep: reply buffer, @rep_cap bytes (may be NULL when @rep_cap is 0)
 * @bulk: bulk buffer or NULL; @bulk_len request bytes in it
 * @rep_len: out: reply bytes copied to @rep (0 when no reply came)
 * @rep_bulk_pos: out: reply bulk bytes start at @bulk->ptr + @rep_bulk_pos
 * @rep_bulk_len: out: reply bulk bytes
 * @hold: a bulk reference handed over to the call: dropped when the host
 *        answered (or the channel reset), whatever the caller does meanwhile
 *        (a socket area stays the host's until the CLOSE reply)
 */
struct hsock_call_args {
	u16 proc;
	const void *req;
	u32 req_len;
	void *rep;
	u32 rep_cap;
	struct hrpck_bulk *bulk;
	u32 bulk_len;
	u32 rep_len;
	u32 rep_bulk_pos;
	u32 rep_bulk_len;
	struct hrpck_bulk *hold;
	/* Do not wait for the reply (its status is lost; the hold is dropped
	 * when it comes) and publish lazily (HRPCK_CALL_LAZY): CLOSE. */
	bool nowait;
};
/*
 * A call that survives signals: the host never blocks, so calls are short;
 * a fatal signal or the host's silence (30 s) gives up (-EINTR, -ETIMEDOUT)
 * without the core writing into freed memory.
 * Returns the host's status or a transport error; the out fields of @args
 * are set in every case.
 */
int hsock_call(struct hrpck_chan *chan, struct hsock_call_args *args);
/* Apply a state (newer seq only) and wake waiters. */
void hsock_apply(struct hsk *hs, const struct hrpc_sock_state *st);

/* socket.c */
int hsock_create4(struct net *net, struct socket *sock, int protocol, int kern);
int hsock_create6(struct net *net, struct socket *sock, int protocol, int kern);
int hsock_proto_register(void);
void hsock_proto_unregister(void);
void hsock_reset_all(void);
int hsock_begin(struct hsk *hs, struct hrpck_chan **chan);
bool hsock_is_reset(struct hsk *hs);
int hsock_addr_from_wire(const struct hrpc_sock_addr *w, struct sockaddr *sa);
int hsock_addr_to_wire(struct sock *sk, struct sockaddr *sa, int len, bool for_bind,
		       struct hrpc_sock_addr *w);

/* area.c */
struct hsk_area *hsock_area_alloc(struct hrpck_chan *chan, int type, int sndbuf, int rcvbuf);
void hsock_area_bind(struct hsk_area *a);
void hsock_area_free(struct hsk_area *a);
struct hrpck_bulk *hsock_area_give(struct hsk_area *a);
bool hsock_area_live(struct hsk *hs);
void hsock_area_set_live(struct hsk *hs);
__poll_t hsock_area_poll(struct hsk *hs);
int hsock_area_sendmsg(struct hsk *hs, struct msghdr *msg, size_t size,
		       const struct hrpc_sock_addr *to);
int hsock_area_recvmsg(struct hsk *hs, struct msghdr *msg, size_t size, int flags);
int hsock_area_shutdown_wr(struct hsk *hs);
int hsock_area_inq(struct hsk *hs);
u32 hsock_area_out_pending(struct hsk *hs);
int hsock_area_outq(struct hsk *hs);

#endif /* HOSTRPC_HSOCK_H */
