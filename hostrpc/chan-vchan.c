/* SPDX-License-Identifier: MIT */
/*
 * chan-vchan.c - vport framing (chan-stream.h) over libxenvchan: a byte
 * stream between two Xen domains through two rings of granted pages and an
 * event channel.  Guest RPC uses it where there is no virtio-serial
 * (guestrpcd --vchan in a domU; the guestsource tools in dom0).  Built
 * only with Xen support (HAVE_XEN).
 *
 * libxenvchan is used non-blocking (ctrl->blocking = 0) by one thread at
 * a time.  Its ring indexes live in pages the peer writes; the library
 * masks every index and clamps every count it derives from them, so a
 * forged index yields at most bytes that the framing core fences.
 *
 * Wake-ups.  The event channel's fd stays readable until
 * libxenvchan_wait() takes the event (the fd is switched to non-blocking,
 * so taking never sleeps).  A send waiting for room takes events too -
 * one of which may have meant "data for you" - so wait_fd is an epoll set
 * of the event channel, `kick` (an eventfd raised whenever an event was
 * taken outside recv) and the optional hang-up fd: whoever polls wait_fd
 * (guestrpcd's loop, a session's reader) is woken again and its recv
 * finds the data.  recv takes events and lowers `kick` only when it found
 * nothing, then looks once more, so data that arrives in between is read
 * now or signalled by a fresh event.
 *
 * Hang-up: libxenvchan_is_open() == 0 - the peer closed or died (its end
 * of the ring page is cleared by the kernel's unmap notification) - reads
 * as the end of the stream once everything sent before it was read.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "hostrpc/chan-stream.h"

/* libxenvchan formats "<xs_path>/event-channel" into 64 bytes. */
#define VCHAN_XS_PATH_MAX (64 - sizeof("/event-channel"))
/* libxenvchan's largest ring (MAX_RING_SHIFT 20). */
#define VCHAN_RING_MAX (1u << 20)
#define VCHAN_RING_DEFAULT (64u << 10)
/* Events taken per look: a peer that rings without pause cannot keep us
 * in the loop. */
#define VCHAN_TAKE_MAX 8
/* DOMID_FIRST_RESERVED - 1 */
#define VCHAN_DOMID_MAX 0x7fefu

struct vchan {
	struct hrpc_stream s;
	struct libxenvchan *ctrl;  /* NULL once closed (fenced) */
	int ev_fd;                 /* the event channel's (libxenvchan's) */
	int kick_fd;               /* eventfd: an event was taken outside recv */
	int hup_fd;                /* hrpc_vchan_set_hangup_fd(), not owned; -1 */
	int ep_fd;                 /* wait_fd: epoll of the three */
	bool kicked;
};

#define VC(s) ((struct vchan *)(s))

static bool hung_up(struct vchan *v)
{
	struct pollfd p = { .fd = v->hup_fd, .events = POLLIN };

	return v->hup_fd >= 0 && poll(&p, 1, 0) > 0 && p.revents;
}

/* Take pending events and unmask the port (never sleeps: ev_fd is
 * non-blocking, and libxenvchan_wait() then fails with EAGAIN). */
static void take_events(struct vchan *v)
{
	for (int i = 0; v->ctrl && i < VCHAN_TAKE_MAX; i++)
		if (libxenvchan_wait(v->ctrl) < 0)
			break;
}

static void kick(struct vchan *v)
{
	if (!v->kicked && eventfd_write(v->kick_fd, 1) == 0)
		v->kicked = true;
}

static void unkick(struct vchan *v)
{
	eventfd_t n;

	if (v->kicked) {
		(void)eventfd_read(v->kick_fd, &n);
		v->kicked = false;
	}
}

static ssize_t vchan_read(struct hrpc_stream *s, void *buf, size_t len)
{
	struct vchan *v = VC(s);

	if (!v->ctrl || hung_up(v))
		return -EPIPE;
	if (len > INT_MAX)
		len = INT_MAX;
	for (int pass = 0;; pass++) {
		int n = libxenvchan_read(v->ctrl, buf, len);

		if (n > 0)
			return n;
		/* -1: closed by the peer and nothing left (or the notify of
		 * what we consumed failed): the end of the stream. */
		if (n < 0)
			return 0;
		if (pass)
			return -EAGAIN;
		unkick(v);
		take_events(v);
	}
}

static ssize_t vchan_writev(struct hrpc_stream *s, const struct iovec *iov, int n)
{
	struct vchan *v = VC(s);
	size_t total = 0;

	if (!v->ctrl || hung_up(v))
		return -EPIPE;
	for (int i = 0; i < n; i++) {
		size_t off = 0;

		while (off < iov[i].iov_len) {
			size_t chunk = iov[i].iov_len - off;
			int w;

			if (chunk > INT_MAX)
				chunk = INT_MAX;
			w = libxenvchan_write(v->ctrl, (const uint8_t *)iov[i].iov_base + off, chunk);
			if (w <= 0) {
				if (total)
					return (ssize_t)total;
				return w == 0 ? -EAGAIN : -EPIPE;
			}
			off += (size_t)w;
			total += (size_t)w;
		}
	}
	return (ssize_t)total;
}

static int vchan_wait_out(struct hrpc_stream *s, bool want_in, int timeout_ms)
{
	struct vchan *v = VC(s);
	struct pollfd p[2] = {
		{ .fd = v->ev_fd, .events = POLLIN },
		{ .fd = v->hup_fd, .events = POLLIN },
	};
	int rc = 0;

	if (!v->ctrl)
		return -EPIPE;
	if (!libxenvchan_is_open(v->ctrl))
		return -EPIPE;
	/* Both ask the peer for an event when the count changes, then read
	 * it: what changes after this wakes the poll below. */
	if (libxenvchan_buffer_space(v->ctrl) > 0)
		rc |= HRPC_STREAM_OUT;
	if (want_in && libxenvchan_data_ready(v->ctrl) > 0)
		rc |= HRPC_STREAM_IN;
	if (rc)
		return rc;
	rc = poll(p, v->hup_fd >= 0 ? 2 : 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? HRPC_STREAM_OUT : -errno;
	if (rc == 0)
		return 0;
	if (v->hup_fd >= 0 && p[1].revents)
		return -EPIPE;
	if (p[0].revents) {
		take_events(v);
		/* That event may also have said "data for you": wake the
		 * poller of wait_fd once more (see the top). */
		kick(v);
	}
	return HRPC_STREAM_OUT | (want_in ? HRPC_STREAM_IN : 0);
}

static int vchan_input_ready(struct hrpc_stream *s)
{
	struct vchan *v = VC(s);

	return !v->ctrl || libxenvchan_data_ready(v->ctrl) > 0 || !libxenvchan_is_open(v->ctrl);
}

static void vchan_ack(struct hrpc_stream *s)
{
	struct vchan *v = VC(s);

	unkick(v);
	take_events(v);
}

/* Fenced: close now, so that the peer sees it (its is_open() turns 0). */
static void vchan_shutdown(struct hrpc_stream *s)
{
	struct vchan *v = VC(s);

	if (!v->ctrl)
		return;
	libxenvchan_close(v->ctrl);
	v->ctrl = NULL;
	v->ev_fd = -1;
	kick(v);
}

static void vchan_destroy(struct hrpc_stream *s)
{
	struct vchan *v = VC(s);

	if (v->ctrl)
		libxenvchan_close(v->ctrl);
	close(v->ep_fd);
	close(v->kick_fd);
	free(v);
}

static const struct hrpc_stream_io vchan_io = {
	.name = "vchan",
	.read = vchan_read,
	.writev = vchan_writev,
	.wait_out = vchan_wait_out,
	.input_ready = vchan_input_ready,
	.ack = vchan_ack,
	.shutdown = vchan_shutdown,
	.destroy = vchan_destroy,
};

/* Wrap `ctrl` (closed here on failure). */
static int vchan_wrap(struct libxenvchan *ctrl, enum hrpc_chan_role role, hrpc_chan **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct vchan *v;
	int fl, rc;

	ctrl->blocking = 0;
	v = calloc(1, sizeof(*v));
	if (!v) {
		libxenvchan_close(ctrl);
		return -ENOMEM;
	}
	v->ctrl = ctrl;
	v->hup_fd = -1;
	v->ev_fd = libxenvchan_fd_for_select(ctrl);
	v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	if (v->ev_fd < 0 || v->kick_fd < 0 || v->ep_fd < 0) {
		rc = v->ev_fd < 0 ? -EBADF : -errno;
		goto err;
	}
	fl = fcntl(v->ev_fd, F_GETFL);
	if (fl < 0 || fcntl(v->ev_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(v->ev_fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    epoll_ctl(v->ep_fd, EPOLL_CTL_ADD, v->ev_fd, &ev) < 0 ||
	    epoll_ctl(v->ep_fd, EPOLL_CTL_ADD, v->kick_fd, &ev) < 0) {
		rc = -errno;
		goto err;
	}
	rc = hrpc_stream_init(&v->s, &vchan_io, role);
	if (rc < 0)
		goto err;
	v->s.base.wait_fd = v->ep_fd;
	*out = &v->s.base;
	return 0;
err:
	libxenvchan_close(ctrl);
	if (v->kick_fd >= 0)
		close(v->kick_fd);
	if (v->ep_fd >= 0)
		close(v->ep_fd);
	free(v);
	return rc;
}

static int check_args(uint32_t domid, const char *xs_path)
{
	if (domid > VCHAN_DOMID_MAX || !xs_path || !xs_path[0])
		return -EINVAL;
	if (strlen(xs_path) > VCHAN_XS_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int hrpc_vchan_server_new(uint32_t peer, const char *xs_path, uint32_t ring_bytes,
			  hrpc_chan **out)
{
	struct libxenvchan *ctrl;
	int rc = check_args(peer, xs_path);

	if (rc < 0)
		return rc;
	if (ring_bytes > VCHAN_RING_MAX)
		return -EINVAL;
	if (!ring_bytes)
		ring_bytes = VCHAN_RING_DEFAULT;
	errno = 0;
	ctrl = libxenvchan_server_init(NULL, (int)peer, xs_path, ring_bytes, ring_bytes);
	if (!ctrl)
		return errno > 0 ? -errno : -EIO;
	return vchan_wrap(ctrl, HRPC_ROLE_SERVER, out);
}

int hrpc_vchan_client_new(uint32_t domid, const char *xs_path, hrpc_chan **out)
{
	struct libxenvchan *ctrl;
	int rc = check_args(domid, xs_path);

	if (rc < 0)
		return rc;
	errno = 0;
	ctrl = libxenvchan_client_init(NULL, (int)domid, xs_path);
	if (!ctrl)
		return errno > 0 ? -errno : -EIO;
	return vchan_wrap(ctrl, HRPC_ROLE_CLIENT, out);
}

int hrpc_vchan_set_hangup_fd(hrpc_chan *ch, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct vchan *v;

	if (!ch || !hrpc_chan_is_stream(ch) || ((struct hrpc_stream *)ch)->io != &vchan_io ||
	    fd < 0)
		return -EINVAL;
	v = VC(ch);
	if (v->hup_fd >= 0)
		return -EBUSY;
	if (epoll_ctl(v->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	v->hup_fd = fd;
	return 0;
}
