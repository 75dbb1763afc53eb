/* SPDX-License-Identifier: MIT */
/*
 * chan-vport.c - Host RPC frames over a byte stream (vport.h): a
 * virtio-serial port in a guest, its unix socket on the host, or any
 * socketpair.  No shared memory; bulk bytes travel inside the frame.
 *
 * The receive buffer holds at most one maximal frame plus what the last
 * read brought; a frame whose header announces more than the limits of
 * vport.h breaks the channel before any of it is buffered.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hostrpc/chan.h"
#include "hostrpc/ring.h"
#include "hostrpc/vport.h"

#define VPORT_RBUF (HRPC_MSG_HDR_SIZE + HRPC_MSG_MAX_PAYLOAD + HRPC_VPORT_MAX_BULK)
#define VPORT_SEND_TIMEOUT_MS 30000

struct vport_chan {
	hrpc_chan base;
	int fd;
	bool is_socket;     /* send with MSG_NOSIGNAL: a hang-up is -EPIPE, not SIGPIPE */
	uint8_t *rbuf;
	size_t rpos, rlen;  /* unparsed bytes are rbuf[rpos, rlen) */
	int broken;
};

#define VP(ch) ((struct vport_chan *)(ch))

/*
 * Read whatever the peer sent into the receive buffer, without parsing.
 * Used while a write is blocked: both sides writing at once into full
 * socket buffers would otherwise wait on each other forever.
 */
static void absorb_input(struct vport_chan *v)
{
	ssize_t n;

	if (v->rpos && v->rlen == VPORT_RBUF) {
		memmove(v->rbuf, v->rbuf + v->rpos, v->rlen - v->rpos);
		v->rlen -= v->rpos;
		v->rpos = 0;
	}
	if (v->rlen == VPORT_RBUF)
		return;
	n = read(v->fd, v->rbuf + v->rlen, VPORT_RBUF - v->rlen);
	if (n > 0)
		v->rlen += (size_t)n;
}

static int write_all(struct vport_chan *v, struct iovec *iov, int n)
{
	while (n) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = v->is_socket ? sendmsg(v->fd, &m, MSG_NOSIGNAL) : writev(v->fd, iov, n);

		if (w < 0) {
			struct pollfd p = { .fd = v->fd, .events = POLLOUT };
			int rc;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return errno == ECONNRESET ? -EPIPE : -errno;
			if (v->rlen < VPORT_RBUF || v->rpos)
				p.events |= POLLIN;
			rc = poll(&p, 1, VPORT_SEND_TIMEOUT_MS);
			if (rc == 0)
				return -ETIMEDOUT;
			if (rc < 0 && errno != EINTR)
				return -errno;
			/* The peer is gone: a virtio-serial port whose host
			 * closed its end polls POLLHUP (never POLLOUT) and its
			 * write keeps saying EAGAIN - without this the loop spins
			 * and the other channels of a single-threaded server
			 * starve. */
			if (rc > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) &&
			    !(p.revents & POLLOUT))
				return -EPIPE;
			if (rc > 0 && (p.revents & POLLIN))
				absorb_input(v);
			continue;
		}
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int vport_send(hrpc_chan *ch, const struct hrpc_msg_hdr *h, const void *payload,
		      const void *bulk)
{
	struct vport_chan *v = VP(ch);
	struct hrpc_msg_hdr hdr = *h;
	struct iovec iov[3];
	int n = 0, rc;

	if (v->broken)
		return v->broken;
	if (hdr.len > HRPC_MSG_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (hdr.flags & HRPC_MSG_F_BULK) {
		hdr.bulk_off = 0;
		if (hdr.bulk_len > HRPC_VPORT_MAX_BULK || hdr.bulk_cap > HRPC_VPORT_MAX_BULK)
			return -EMSGSIZE;
	}
	iov[n++] = (struct iovec){ &hdr, HRPC_MSG_HDR_SIZE };
	if (hdr.len)
		iov[n++] = (struct iovec){ (void *)payload, hdr.len };
	if ((hdr.flags & HRPC_MSG_F_BULK) && hdr.bulk_len)
		iov[n++] = (struct iovec){ (void *)bulk, hdr.bulk_len };
	rc = write_all(v, iov, n);
	if (rc < 0)
		v->broken = rc;
	return rc;
}

/* Complete frame at rpos?  1 yes, 0 not yet, -EPROTO never will be. */
static int frame_ready(struct vport_chan *v, struct hrpc_msg_hdr *h, size_t *flen)
{
	size_t have = v->rlen - v->rpos;
	int rc;

	if (have < HRPC_MSG_HDR_SIZE)
		return 0;
	memcpy(h, v->rbuf + v->rpos, HRPC_MSG_HDR_SIZE);
	rc = hrpc_msg_check(h);
	/* A wrong version is still a well-framed message: let the endpoint
	 * answer it.  Anything else means we lost the framing. */
	if (rc < 0 && rc != -EPROTONOSUPPORT)
		return -EPROTO;
	if (hrpc_vport_frame_check(h) < 0)
		return -EPROTO;
	*flen = HRPC_MSG_HDR_SIZE + h->len + ((h->flags & HRPC_MSG_F_BULK) ? h->bulk_len : 0);
	return have >= *flen;
}

static int vport_recv(hrpc_chan *ch, struct hrpc_msg_hdr *h, void *payload, const void **bulk)
{
	struct vport_chan *v = VP(ch);
	size_t flen = 0;
	int rc;

	*bulk = NULL;
	if (v->broken)
		return v->broken;
	for (;;) {
		ssize_t n;

		rc = frame_ready(v, h, &flen);
		if (rc < 0)
			return v->broken = rc;
		if (rc) {
			const uint8_t *p = v->rbuf + v->rpos + HRPC_MSG_HDR_SIZE;

			memcpy(payload, p, h->len);
			if (h->flags & HRPC_MSG_F_BULK)
				*bulk = p + h->len;
			v->rpos += flen;
			return 0;
		}
		if (v->rpos) {
			memmove(v->rbuf, v->rbuf + v->rpos, v->rlen - v->rpos);
			v->rlen -= v->rpos;
			v->rpos = 0;
		}
		n = read(v->fd, v->rbuf + v->rlen, VPORT_RBUF - v->rlen);
		if (n > 0) {
			v->rlen += (size_t)n;
			continue;
		}
		if (n == 0)
			return v->broken = -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return -EAGAIN;
		return v->broken = (errno == ECONNRESET ? -EPIPE : -errno);
	}
}

static int vport_flush(hrpc_chan *ch)
{
	return 0;
}

static int vport_pending(hrpc_chan *ch)
{
	struct vport_chan *v = VP(ch);
	struct hrpc_msg_hdr h;
	size_t flen;

	return v->broken || frame_ready(v, &h, &flen) != 0;
}

static int vport_arm(hrpc_chan *ch)
{
	return !vport_pending(ch);
}

static long vport_space(hrpc_chan *ch)
{
	return INT32_MAX;
}

static int vport_arm_space(hrpc_chan *ch, uint32_t need)
{
	return 0;
}

static void vport_ack(hrpc_chan *ch)
{
}

static void vport_set_state(hrpc_chan *ch, uint32_t state)
{
	if (state == HRPC_SHM_STATE_FENCED)
		shutdown(VP(ch)->fd, SHUT_RDWR);
}

static void vport_destroy(hrpc_chan *ch)
{
	struct vport_chan *v = VP(ch);

	close(v->fd);
	free(v->rbuf);
	free(v);
}

static const struct hrpc_chan_ops vport_ops = {
	.name = "vport",
	.send = vport_send,
	.recv = vport_recv,
	.flush = vport_flush,
	.arm = vport_arm,
	.pending = vport_pending,
	.space = vport_space,
	.arm_space = vport_arm_space,
	.ack = vport_ack,
	.set_state = vport_set_state,
	.destroy = vport_destroy,
};

int hrpc_vport_chan_new(enum hrpc_chan_role role, int fd, hrpc_chan **out)
{
	struct vport_chan *v;
	int fl;

	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->rbuf = malloc(VPORT_RBUF);
	if (!v->rbuf) {
		free(v);
		return -ENOMEM;
	}
	hrpc_chan_init(&v->base, &vport_ops, role);
	v->fd = fd;
	/* A virtio-serial port is a character device; everything else here
	 * is a socket, where a library must not raise SIGPIPE in its caller. */
	v->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &fl, &(socklen_t){ sizeof(fl) }) == 0;
	v->base.wait_fd = fd;
	*out = &v->base;
	return 0;
}

int hrpc_vport_connect(const char *path, hrpc_chan **out)
{
	int fd, rc;

	fd = hrpc_unix_connect(path);
	if (fd < 0)
		return fd;
	rc = hrpc_vport_chan_new(HRPC_ROLE_CLIENT, fd, out);
	if (rc < 0)
		close(fd);
	return rc;
}
