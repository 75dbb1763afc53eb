/* SPDX-License-Identifier: MIT */
/*
 * chan-vport.c - Host RPC frames over a byte stream (vport.h): the framing
 * core every stream transport shares (chan-stream.h), and its file
 * descriptor transport - a virtio-serial port in a guest, its unix socket
 * on the host, or any socketpair.  No shared memory; bulk bytes travel
 * inside the frame.  chan-vchan.c puts the same core on libxenvchan.
 *
 * The receive buffer holds at most one maximal frame plus what the last
 * read brought; a frame whose header announces more than the limits of
 * vport.h breaks the channel before any of it is buffered.  It starts
 * small (VPORT_RBUF_MIN) and grows, up to VPORT_RBUF, only when a frame's
 * header asks for more or a blocked send must absorb more input: most
 * channels never carry bulk, and each would otherwise hold 1.1 MiB.  It
 * never shrinks.  Growing moves it, which the recv contract allows (a
 * frame's bulk is valid until the next recv or send, chan.h).
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hostrpc/chan-stream.h"
#include "hostrpc/ring.h"
#include "hostrpc/vport.h"

#define VPORT_RBUF (HRPC_MSG_HDR_SIZE + HRPC_MSG_MAX_PAYLOAD + HRPC_VPORT_MAX_BULK)
#define VPORT_RBUF_MIN 16384u
#define VPORT_SEND_TIMEOUT_MS 30000

#define ST(ch) ((struct hrpc_stream *)(ch))

/* ---- the framing core ------------------------------------------------------- */

/* Make room for `need` bytes, VPORT_RBUF at most, in the receive buffer:
 * at least double it, so that a stream of growing frames reallocates only
 * a few times.  0 (also when it is as large as it gets), or -ENOMEM with
 * the buffer as it was. */
static int rbuf_reserve(struct hrpc_stream *s, size_t need)
{
	size_t cap = s->rcap;
	uint8_t *p;

	if (need > VPORT_RBUF)
		need = VPORT_RBUF;
	if (need <= cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > VPORT_RBUF)
		cap = VPORT_RBUF;
	p = realloc(s->rbuf, cap);
	if (!p)
		return -ENOMEM;
	s->rbuf = p;
	s->rcap = cap;
	return 0;
}

/*
 * Read whatever the peer sent into the receive buffer, without parsing.
 * Used while a write is blocked: both sides writing at once into full
 * buffers would otherwise wait on each other forever.  Errors are left
 * for the next recv to find.
 */
static void absorb_input(struct hrpc_stream *s)
{
	ssize_t n;

	if (s->rpos && s->rlen == s->rcap) {
		memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
		s->rlen -= s->rpos;
		s->rpos = 0;
	}
	if (s->rlen == s->rcap)
		(void)rbuf_reserve(s, s->rcap + 1);
	if (s->rlen == s->rcap)
		return;   /* a maximal frame's worth held, or no memory to grow */
	n = s->io->read(s, s->rbuf + s->rlen, s->rcap - s->rlen);
	if (n > 0)
		s->rlen += (size_t)n;
}

static int write_all(struct hrpc_stream *s, struct iovec *iov, int n)
{
	while (n) {
		ssize_t w = s->io->writev(s, iov, n);

		if (w == -EAGAIN) {
			int rc = s->io->wait_out(s, s->rlen < VPORT_RBUF || s->rpos,
						 VPORT_SEND_TIMEOUT_MS);

			if (rc == 0)
				return -ETIMEDOUT;
			if (rc < 0)
				return rc;
			if (rc & HRPC_STREAM_IN)
				absorb_input(s);
			continue;
		}
		if (w < 0)
			return (int)w;
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

static int stream_send(hrpc_chan *ch, const struct hrpc_msg_hdr *h, const void *payload,
		       const void *bulk)
{
	struct hrpc_stream *s = ST(ch);
	struct hrpc_msg_hdr hdr = *h;
	struct iovec iov[3];
	int n = 0, rc;

	if (s->broken)
		return s->broken;
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
	rc = write_all(s, iov, n);
	if (rc < 0)
		s->broken = rc;
	return rc;
}

/* Complete frame at rpos?  1 yes, 0 not yet, -EPROTO never will be. */
static int frame_ready(struct hrpc_stream *s, struct hrpc_msg_hdr *h, size_t *flen)
{
	size_t have = s->rlen - s->rpos;
	int rc;

	if (have < HRPC_MSG_HDR_SIZE)
		return 0;
	memcpy(h, s->rbuf + s->rpos, HRPC_MSG_HDR_SIZE);
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

static int stream_recv(hrpc_chan *ch, struct hrpc_msg_hdr *h, void *payload, const void **bulk)
{
	struct hrpc_stream *s = ST(ch);
	size_t flen = 0;
	int rc;

	*bulk = NULL;
	if (s->broken)
		return s->broken;
	for (;;) {
		ssize_t n;

		rc = frame_ready(s, h, &flen);
		if (rc < 0)
			return s->broken = rc;
		if (rc) {
			const uint8_t *p = s->rbuf + s->rpos + HRPC_MSG_HDR_SIZE;

			memcpy(payload, p, h->len);
			if (h->flags & HRPC_MSG_F_BULK)
				*bulk = p + h->len;
			s->rpos += flen;
			return 0;
		}
		if (s->rpos) {
			memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
			s->rlen -= s->rpos;
			s->rpos = 0;
		}
		/* Room is left: a frame whose header we have (flen, bounded
		 * by VPORT_RBUF in frame_ready()) is not all here, so gets
		 * room for all of it; without a header rlen < HDR < rcap. */
		if (rbuf_reserve(s, flen) < 0)
			return s->broken = -ENOMEM;
		n = s->io->read(s, s->rbuf + s->rlen, s->rcap - s->rlen);
		if (n > 0) {
			s->rlen += (size_t)n;
			continue;
		}
		if (n == 0)
			return s->broken = -EPIPE;
		if (n == -EAGAIN)
			return -EAGAIN;
		return s->broken = (int)n;
	}
}

static int stream_flush(hrpc_chan *ch)
{
	return 0;
}

static int stream_pending(hrpc_chan *ch)
{
	struct hrpc_stream *s = ST(ch);
	struct hrpc_msg_hdr h;
	size_t flen;

	if (s->broken || frame_ready(s, &h, &flen) != 0)
		return 1;
	return s->io->input_ready ? s->io->input_ready(s) : 0;
}

static int stream_arm(hrpc_chan *ch)
{
	return !stream_pending(ch);
}

static long stream_space(hrpc_chan *ch)
{
	return INT32_MAX;
}

static int stream_arm_space(hrpc_chan *ch, uint32_t need)
{
	return 0;
}

static void stream_ack(hrpc_chan *ch)
{
	struct hrpc_stream *s = ST(ch);

	if (s->io->ack)
		s->io->ack(s);
}

static void stream_set_state(hrpc_chan *ch, uint32_t state)
{
	struct hrpc_stream *s = ST(ch);

	if (state == HRPC_SHM_STATE_FENCED && s->io->shutdown)
		s->io->shutdown(s);
}

static void stream_destroy(hrpc_chan *ch)
{
	struct hrpc_stream *s = ST(ch);

	free(s->rbuf);
	s->rbuf = NULL;
	s->io->destroy(s);
}

static const struct hrpc_chan_ops stream_ops = {
	.name = "vport",
	.send = stream_send,
	.recv = stream_recv,
	.flush = stream_flush,
	.arm = stream_arm,
	.pending = stream_pending,
	.space = stream_space,
	.arm_space = stream_arm_space,
	.ack = stream_ack,
	.set_state = stream_set_state,
	.destroy = stream_destroy,
};

int hrpc_stream_init(struct hrpc_stream *s, const struct hrpc_stream_io *io,
		     enum hrpc_chan_role role)
{
	s->rbuf = malloc(VPORT_RBUF_MIN);
	if (!s->rbuf)
		return -ENOMEM;
	s->rcap = VPORT_RBUF_MIN;
	hrpc_chan_init(&s->base, &stream_ops, role);
	s->io = io;
	s->rpos = s->rlen = 0;
	s->broken = 0;
	return 0;
}

bool hrpc_chan_is_stream(hrpc_chan *ch)
{
	return ch->ops == &stream_ops;
}

/* ---- file descriptor transport ---------------------------------------------- */

struct vport_fd {
	struct hrpc_stream s;
	int fd;
	bool is_socket;     /* send with MSG_NOSIGNAL: a hang-up is -EPIPE, not SIGPIPE */
};

#define VFD(s) ((struct vport_fd *)(s))

static ssize_t fd_read(struct hrpc_stream *s, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(VFD(s)->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == ECONNRESET ? -EPIPE : -errno;
	}
}

static ssize_t fd_writev(struct hrpc_stream *s, const struct iovec *iov, int n)
{
	struct vport_fd *v = VFD(s);

	for (;;) {
		struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
		ssize_t w = v->is_socket ? sendmsg(v->fd, &m, MSG_NOSIGNAL) : writev(v->fd, iov, n);

		if (w > 0)
			return w;
		if (w == 0)
			return -EAGAIN;
		if (errno == EINTR)
			continue;
		return errno == ECONNRESET ? -EPIPE : -errno;
	}
}

static int fd_wait_out(struct hrpc_stream *s, bool want_in, int timeout_ms)
{
	struct pollfd p = { .fd = VFD(s)->fd, .events = POLLOUT | (want_in ? POLLIN : 0) };
	int rc = poll(&p, 1, timeout_ms);

	if (rc < 0)
		return errno == EINTR ? HRPC_STREAM_OUT : -errno;
	if (rc == 0)
		return 0;
	/* The peer is gone: a virtio-serial port whose host closed its end
	 * polls POLLHUP (never POLLOUT) and its write keeps saying EAGAIN -
	 * without this the loop spins and the other channels of a
	 * single-threaded server starve. */
	if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLOUT))
		return -EPIPE;
	return ((p.revents & POLLIN) ? HRPC_STREAM_IN : 0) | HRPC_STREAM_OUT;
}

static void fd_shutdown(struct hrpc_stream *s)
{
	shutdown(VFD(s)->fd, SHUT_RDWR);
}

static void fd_destroy(struct hrpc_stream *s)
{
	close(VFD(s)->fd);
	free(VFD(s));
}

static const struct hrpc_stream_io fd_io = {
	.name = "fd",
	.read = fd_read,
	.writev = fd_writev,
	.wait_out = fd_wait_out,
	.shutdown = fd_shutdown,
	.destroy = fd_destroy,
};

int hrpc_vport_chan_new(enum hrpc_chan_role role, int fd, hrpc_chan **out)
{
	struct vport_fd *v;
	int fl, rc;

	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	rc = hrpc_stream_init(&v->s, &fd_io, role);
	if (rc < 0) {
		free(v);
		return rc;
	}
	v->fd = fd;
	/* A virtio-serial port is a character device; everything else here
	 * is a socket, where a library must not raise SIGPIPE in its caller. */
	v->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &fl, &(socklen_t){ sizeof(fl) }) == 0;
	v->s.base.wait_fd = fd;
	*out = &v->s.base;
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
