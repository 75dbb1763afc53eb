/* SPDX-License-Identifier: MIT */
/*
 * chan.h - private interface between libhostrpc's endpoints (client.c,
 * server.c) and its transports (chan-shm.c, chan-vport.c).
 * Error convention: -errno, as everywhere in libhostrpc.
 */
#ifndef HOSTRPC_CHAN_H
#define HOSTRPC_CHAN_H

#include "hostrpc/hostrpc.h"

struct hrpc_chan_ops {
	const char *name;
	/*
	 * Queue one message.  Shared-memory transports ignore `bulk` (the
	 * bytes already lie in the data area at h->bulk_off); stream
	 * transports append h->bulk_len bytes from `bulk`.  -EAGAIN: no room
	 * now (shm only); call flush/process and retry.
	 */
	int (*send)(hrpc_chan *ch, const struct hrpc_msg_hdr *h, const void *payload,
		    const void *bulk);
	/*
	 * Take the next message: header and inline payload are private copies
	 * (payload has room for HRPC_MSG_MAX_PAYLOAD).  For stream transports
	 * *bulk points at h->bulk_len private bytes valid until the next recv or send;
	 * shm transports set it to NULL.  -EAGAIN: nothing there.  -EPROTO:
	 * the peer broke framing.  -EPIPE: the peer hung up.
	 */
	int (*recv)(hrpc_chan *ch, struct hrpc_msg_hdr *h, void *payload, const void **bulk);
	/* Ring the peer's doorbell if something sent since the last flush needs it. */
	int (*flush)(hrpc_chan *ch);
	/* Before sleeping on wait_fd: 1 = nothing pending, sleep; 0 = look again. */
	int (*arm)(hrpc_chan *ch);
	/* Is there something to receive (cheap, used while spinning)? */
	int (*pending)(hrpc_chan *ch);
	/* Bytes free for sending, or INT32_MAX for streams. */
	long (*space)(hrpc_chan *ch);
	/* Ask to be woken when `need` bytes are free: 1 = sleep, 0 = free now. */
	int (*arm_space)(hrpc_chan *ch, uint32_t need);
	/* Drain the wakeup on wait_fd. */
	void (*ack)(hrpc_chan *ch);
	/* Mark the shared state so the peer sees the channel is fenced/closed. */
	void (*set_state)(hrpc_chan *ch, uint32_t state);
	void (*destroy)(hrpc_chan *ch);
};

struct hrpc_chan {
	const struct hrpc_chan_ops *ops;
	enum hrpc_chan_role role;
	int wait_fd;
	int hup_fd;             /* hang-up means the peer is gone (-1: none) */
	uint32_t spin_ns;       /* spin budget ceiling (hrpc_chan_set_spin) */
	uint32_t spin_cur;      /* adaptive budget now, 0..spin_ns */
	uint32_t spin_probe;    /* waits since spinning was given up */
	uint8_t *data;          /* bulk data area (shm) */
	uint32_t data_size;
	struct hrpc_stats stats;
	uint64_t created_ns;
	/* resources released by hrpc_chan_free() */
	void *own_map;
	size_t own_map_len;
	int own_fd[3];
};

/*
 * A doorbell that is not an eventfd pair (Xen event channels): kick() rings
 * the peer, ack() drains and re-enables wakeups on wait_fd, fini() runs when
 * the channel is destroyed (unmap, close).  All three get `arg`.
 */
struct hrpc_shm_bell {
	int (*kick)(void *arg);
	void (*ack)(void *arg);
	void (*fini)(void *arg);
	void *arg;
};

/* hrpc_shm_chan_new() with a doorbell of the caller's (copied). */
int hrpc_shm_chan_new_bell(enum hrpc_chan_role role, void *shm, size_t size,
			   const struct hrpc_shm_bell *bell, int wait_fd, bool adopt,
			   hrpc_chan **out);

void hrpc_chan_init(hrpc_chan *ch, const struct hrpc_chan_ops *ops, enum hrpc_chan_role role);

static inline int hrpc_chan_send(hrpc_chan *ch, const struct hrpc_msg_hdr *h,
				 const void *payload, const void *bulk)
{
	return ch->ops->send(ch, h, payload, bulk);
}

static inline int hrpc_chan_recv(hrpc_chan *ch, struct hrpc_msg_hdr *h, void *payload,
				 const void **bulk)
{
	return ch->ops->recv(ch, h, payload, bulk);
}

/*
 * Wait until there is something to receive - or, if need_space, until that
 * many bytes are free for sending - or timeout (ms, -1 forever): spins up to
 * ch->spin_ns, then arms the matching event index and sleeps on wait_fd.  Returns 1 when there may be work, 0 on timeout, -errno.
 */
int hrpc_chan_wait(hrpc_chan *ch, int timeout_ms, uint32_t need_space);

#endif /* HOSTRPC_CHAN_H */
