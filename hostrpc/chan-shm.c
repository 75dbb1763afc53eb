/* SPDX-License-Identifier: MIT */
/*
 * chan-shm.c - a channel over shared memory rings (ring.h) with eventfd
 * doorbells.  The memfd transport (process guests) and the ivshmem
 * transport (QEMU guests) both end up here; they differ only in how the
 * memory and the eventfds were obtained.
 *
 * The shared header and rings are hostile memory: the geometry is copied
 * and checked once, every index is checked by ring.h, and a violation
 * breaks the channel for good (-EPROTO).
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "hostrpc/chan.h"
#include "hostrpc/ring.h"

struct shm_chan {
	hrpc_chan base;
	struct hrpc_shm_hdr *shm;  /* shared */
	struct hrpc_shm_hdr geo;   /* private, checked copy of the geometry */
	size_t size;
	struct hrpc_ring tx, rx;
	uint32_t tx_flushed;       /* tx.pvt at the last flush */
	uint32_t rx_flushed;       /* rx.pvt at the last flush */
	int kick_fd;
	struct hrpc_shm_bell bell;  /* kick == NULL: eventfds */
	int broken;                /* 0 or the -errno that broke it */
};

#define SHM(ch) ((struct shm_chan *)(ch))

static int shm_send(hrpc_chan *ch, const struct hrpc_msg_hdr *h, const void *payload,
		    const void *bulk)
{
	struct shm_chan *s = SHM(ch);
	int rc;

	if (s->broken)
		return s->broken;
	rc = hrpc_ring_put(&s->tx, h, payload);
	if (rc == -EPROTO)
		s->broken = rc;
	return rc;
}

static int shm_recv(hrpc_chan *ch, struct hrpc_msg_hdr *h, void *payload, const void **bulk)
{
	struct shm_chan *s = SHM(ch);
	int rc;

	*bulk = NULL;
	if (s->broken)
		return s->broken;
	rc = hrpc_ring_get(&s->rx, h, payload, HRPC_MSG_MAX_PAYLOAD);
	if (rc == -EPROTO || rc == -EMSGSIZE)
		s->broken = -EPROTO;
	return rc == -EMSGSIZE ? -EPROTO : rc;
}

static int shm_flush(hrpc_chan *ch)
{
	struct shm_chan *s = SHM(ch);
	int kick = 0;

	if (s->tx.pvt != s->tx_flushed) {
		kick |= hrpc_ring_need_notify(&s->tx, s->tx_flushed);
		s->tx_flushed = s->tx.pvt;
	}
	if (s->rx.pvt != s->rx_flushed) {
		kick |= hrpc_ring_consumed_notify(&s->rx, s->rx_flushed);
		s->rx_flushed = s->rx.pvt;
	}
	if (kick && s->bell.kick) {
		int rc = s->bell.kick(s->bell.arg);

		if (rc < 0)
			return rc;
		ch->stats.doorbells_out++;
	} else if (kick) {
		uint64_t one = 1;

		if (write(s->kick_fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
			return -errno;
		ch->stats.doorbells_out++;
	}
	return 0;
}

static int shm_arm(hrpc_chan *ch)
{
	struct shm_chan *s = SHM(ch);

	if (s->broken)
		return 0;
	return hrpc_ring_arm(&s->rx);
}

static int shm_pending(hrpc_chan *ch)
{
	struct shm_chan *s = SHM(ch);

	return s->broken || hrpc_ring_pending(&s->rx);
}

static long shm_space(hrpc_chan *ch)
{
	struct shm_chan *s = SHM(ch);
	long rc = hrpc_ring_space(&s->tx);

	if (rc == -EPROTO)
		s->broken = -EPROTO;
	return rc;
}

static int shm_arm_space(hrpc_chan *ch, uint32_t need)
{
	struct shm_chan *s = SHM(ch);
	int rc = hrpc_ring_arm_space(&s->tx, need);

	if (rc == -EPROTO)
		s->broken = -EPROTO;
	return rc;
}

static void shm_ack(hrpc_chan *ch)
{
	struct shm_chan *s = SHM(ch);
	uint64_t v;

	if (s->bell.ack) {
		s->bell.ack(s->bell.arg);
		return;
	}
	/* Once: a (non-semaphore) eventfd hands over its whole count in one
	 * read.  A second read only finds rings that came since, which the
	 * rings show anyway, and a loop until EAGAIN is the guest's to make
	 * endless: one that rings from another CPU as fast as it can kept a
	 * worker reading here for milliseconds at a time (XSA-391). */
	(void)!read(ch->wait_fd, &v, sizeof(v));
}

static void shm_set_state(hrpc_chan *ch, uint32_t state)
{
	struct shm_chan *s = SHM(ch);

	if (ch->role == HRPC_ROLE_SERVER)
		hrpc_store_release(&s->shm->host_state, state);
	else
		hrpc_store_release(&s->shm->guest_state, state);
}

static void shm_destroy(hrpc_chan *ch)
{
	struct shm_chan *s = SHM(ch);

	if (s->bell.fini)
		s->bell.fini(s->bell.arg);
	free(ch);
}

static const struct hrpc_chan_ops shm_ops = {
	.name = "shm",
	.send = shm_send,
	.recv = shm_recv,
	.flush = shm_flush,
	.arm = shm_arm,
	.pending = shm_pending,
	.space = shm_space,
	.arm_space = shm_arm_space,
	.ack = shm_ack,
	.set_state = shm_set_state,
	.destroy = shm_destroy,
};

/* Host side: lay out a fresh channel and publish it. */
static int shm_server_init(struct shm_chan *s)
{
	struct hrpc_shm_hdr *h = s->shm;
	uint32_t gen = hrpc_read_once(h->host_gen);
	int rc;

	rc = hrpc_shm_geometry_init(&s->geo, s->size, HRPC_RING_DEFAULT_SIZE);
	if (rc < 0)
		return rc;
	hrpc_store_release(&h->host_state, HRPC_SHM_STATE_NONE);
	memcpy(h, &s->geo, offsetof(struct hrpc_shm_hdr, host_gen));
	h->guest_gen = 0;
	h->guest_state = HRPC_SHM_STATE_NONE;
	hrpc_ring_ctl_reset(&h->req);
	hrpc_ring_ctl_reset(&h->rsp);
	h->host_gen = gen + 1;
	/* Release pairs with the guest's acquire of host_state: geometry and
	 * reset rings are visible before READY is. */
	hrpc_store_release(&h->host_state, HRPC_SHM_STATE_READY);
	return 0;
}

static int shm_chan_new(enum hrpc_chan_role role, void *shm, size_t size, int kick_fd,
			const struct hrpc_shm_bell *bell, int wait_fd, bool adopt, hrpc_chan **out)
{
	struct shm_chan *s;
	int rc;

	if (!shm || size < sizeof(struct hrpc_shm_hdr) || (kick_fd < 0 && !bell) || wait_fd < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	hrpc_chan_init(&s->base, &shm_ops, role);
	s->shm = shm;
	s->size = size;
	s->kick_fd = kick_fd;
	if (bell)
		s->bell = *bell;
	s->base.wait_fd = wait_fd;

	if (role == HRPC_ROLE_SERVER && !adopt) {
		rc = shm_server_init(s);
	} else {
		/* Client, or host adopting a channel whose memory came from
		 * elsewhere (migration, restart): trust nothing in it. */
		if (role == HRPC_ROLE_CLIENT &&
		    hrpc_load_acquire(&s->shm->host_state) != HRPC_SHM_STATE_READY)
			rc = -EAGAIN;
		else {
			memcpy(&s->geo, s->shm, sizeof(s->geo));
			rc = hrpc_shm_geometry_check(&s->geo, size);
		}
	}
	if (rc < 0) {
		free(s);   /* not shm_destroy(): the caller keeps what bell->fini frees */
		return rc;
	}
	if (role == HRPC_ROLE_SERVER) {
		hrpc_ring_bind(&s->rx, &s->shm->req, (uint8_t *)shm + s->geo.req_off, s->geo.req_size, 0);
		hrpc_ring_bind(&s->tx, &s->shm->rsp, (uint8_t *)shm + s->geo.rsp_off, s->geo.rsp_size, 1);
	} else {
		hrpc_ring_bind(&s->tx, &s->shm->req, (uint8_t *)shm + s->geo.req_off, s->geo.req_size, 1);
		hrpc_ring_bind(&s->rx, &s->shm->rsp, (uint8_t *)shm + s->geo.rsp_off, s->geo.rsp_size, 0);
		s->shm->guest_gen = hrpc_read_once(s->shm->host_gen);
		hrpc_store_release(&s->shm->guest_state, HRPC_SHM_STATE_ATTACHED);
	}
	s->tx_flushed = s->tx.pvt;
	s->rx_flushed = s->rx.pvt;
	s->base.data = (uint8_t *)shm + s->geo.data_off;
	s->base.data_size = s->geo.data_size;
	*out = &s->base;
	return 0;
}

int hrpc_shm_chan_new(enum hrpc_chan_role role, void *shm, size_t size,
		      int kick_fd, int wait_fd, bool adopt, hrpc_chan **out)
{
	return shm_chan_new(role, shm, size, kick_fd, NULL, wait_fd, adopt, out);
}

int hrpc_shm_chan_new_bell(enum hrpc_chan_role role, void *shm, size_t size,
			   const struct hrpc_shm_bell *bell, int wait_fd, bool adopt,
			   hrpc_chan **out)
{
	if (!bell || !bell->kick || !bell->ack)
		return -EINVAL;
	return shm_chan_new(role, shm, size, -1, bell, wait_fd, adopt, out);
}
