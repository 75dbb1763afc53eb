/* SPDX-License-Identifier: MIT */
/*
 * chan-stream.h - private to libhostrpc: the vport framing core
 * (chan-vport.c) and the byte transports beneath it: a file descriptor
 * (virtio-serial port, unix socket; chan-vport.c) and libxenvchan
 * (chan-vchan.c).  The core owns the frame format and its limits
 * (include/hostrpc/vport.h, docs/protocol.md §4) and the receive buffer,
 * so every stream transport fences the same bad frames at the same point;
 * a transport only moves bytes and says when to try again.
 *
 * Error convention: -errno, as everywhere in libhostrpc.
 */
#ifndef HOSTRPC_CHAN_STREAM_H
#define HOSTRPC_CHAN_STREAM_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "hostrpc/chan.h"

struct hrpc_stream;

/* What a wait_out wake-up found (a wake-up may be spurious: retry). */
#define HRPC_STREAM_IN  1
#define HRPC_STREAM_OUT 2

struct hrpc_stream_io {
	const char *name;
	/*
	 * Read up to `len` bytes: the count; 0 once the peer hung up and
	 * everything it sent before was read; -EAGAIN when nothing is there
	 * now; another -errno when the transport broke.
	 */
	ssize_t (*read)(struct hrpc_stream *s, void *buf, size_t len);
	/* Write from `iov`: the count (> 0), -EAGAIN (no room now), -EPIPE
	 * (the peer is gone), another -errno. */
	ssize_t (*writev)(struct hrpc_stream *s, const struct iovec *iov, int n);
	/*
	 * writev said -EAGAIN: wait up to timeout_ms until there may be room,
	 * or - with want_in - input.  Returns HRPC_STREAM_IN | HRPC_STREAM_OUT
	 * bits, 0 on time-out, -EPIPE once the peer is gone, another -errno.
	 */
	int (*wait_out)(struct hrpc_stream *s, bool want_in, int timeout_ms);
	/* Optional: 1 if the transport holds input (or a hang-up) that its
	 * wait_fd may not report again - a wake-up it already consumed.
	 * Cheap: called while spinning. */
	int (*input_ready)(struct hrpc_stream *s);
	/* Optional: drain the wake-up on wait_fd. */
	void (*ack)(struct hrpc_stream *s);
	/* Make the peer see the channel closed (we fenced it). */
	void (*shutdown)(struct hrpc_stream *s);
	/* Release the transport and free the object that embeds `s`. */
	void (*destroy)(struct hrpc_stream *s);
};

struct hrpc_stream {
	hrpc_chan base;          /* first: a stream is a channel */
	const struct hrpc_stream_io *io;
	uint8_t *rbuf;           /* rcap bytes, grown up to one maximal frame */
	size_t rcap;
	size_t rpos, rlen;       /* unparsed bytes are rbuf[rpos, rlen) */
	int broken;              /* sticky -errno once the stream failed */
};

/*
 * Set up the framing core in `s`, which the transport embeds first in its
 * own object.  The transport sets s->base.wait_fd.  On failure nothing is
 * left to free in `s`.
 */
int hrpc_stream_init(struct hrpc_stream *s, const struct hrpc_stream_io *io,
		     enum hrpc_chan_role role);

/* Is `ch` a stream channel (so that it may be cast to struct hrpc_stream)? */
bool hrpc_chan_is_stream(hrpc_chan *ch);

#endif /* HOSTRPC_CHAN_STREAM_H */
