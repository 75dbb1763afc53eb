/* SPDX-License-Identifier: MIT */
/*
 * link.h - the authenticated host-to-host link of a live migration
 * (wire format and handshake: include/hostrpc/miglink.h).
 *
 * hostrpc-migrate is the client, hostrpcd on the destination the server.
 * Both use the link sequentially, so it is plain blocking sockets with
 * poll() timeouts and no main loop.  The link authenticates, it does not
 * encrypt (see miglink.h).
 *
 * Errors are -errno.  Nothing the peer sends ends the process: a bad frame
 * breaks the link (every later call returns that first error again) and
 * the caller drops it.  A timeout before any byte of a frame arrived is
 * the one error that leaves the link usable.
 */
#ifndef HOSTRPC_MIGRATE_LINK_H
#define HOSTRPC_MIGRATE_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <glib.h>

#include "hostrpc/miglink.h"

typedef struct mig_link mig_link;

#define MIG_KEY_SIZE 32

/* A key file: 64 hex digits and an optional newline; a regular file owned
 * by the caller's euid or root, with no group/other permissions (-EPERM),
 * otherwise -EINVAL; -errno from open/read.  *why (may be NULL) gets a
 * sentence for people on every failure. */
int mig_key_load(const char *path, uint8_t key[MIG_KEY_SIZE], const char **why);

/* Client: connect to HOST:PORT ("[v6]:port" for an IPv6 literal), send the
 * intro for `guest`, check the server's proof, send ours.  timeout_ms
 * bounds the whole call (< 0: no limit).  -EINVAL (guest name, hostport),
 * -ENOENT (no such host; -EAGAIN: the resolver did not answer), -EACCES
 * (the server does not know the key), -EPROTO, -ETIMEDOUT, -ECONNRESET,
 * or connect()'s error. */
int mig_link_connect(const char *hostport, const uint8_t key[MIG_KEY_SIZE], const char *guest,
		     int timeout_ms, mig_link **out);

/* Server, step 1: read and check the intro (fixed size) from an accepted
 * socket; the caller may pick the key by intro->guest.  The intro is not
 * authenticated yet.  hrpc_mig_intro_check()'s errors, -ETIMEDOUT,
 * -ECONNRESET. */
int mig_link_read_intro(int fd, struct hrpc_mig_intro *intro, int timeout_ms);

/* Server, step 2: authenticate; takes ownership of fd on success only.
 * -EACCES on a wrong proof, -EPROTO, -ETIMEDOUT, -ECONNRESET. */
int mig_link_accept(int fd, const struct hrpc_mig_intro *intro, const uint8_t key[MIG_KEY_SIZE],
		    int timeout_ms, mig_link **out);

/* Send one frame (type != 0, else -EINVAL).  A frame that makes no
 * progress for 30 s breaks the link with -ETIMEDOUT. */
int mig_link_send(mig_link *l, uint32_t type, const void *buf, size_t len);
int mig_link_sendv(mig_link *l, uint32_t type, const struct iovec *iov, int iovcnt);

/* Receive one frame; *buf is g_malloc'ed (caller g_free; NULL for an empty
 * payload); never more than `max` bytes are allocated: the header is
 * checked first (-EMSGSIZE).  timeout_ms bounds the whole frame (< 0: no
 * limit).  -ETIMEDOUT, -ECONNRESET on EOF, -EBADMSG on a bad tag, sequence
 * number or header. */
int mig_link_recv(mig_link *l, uint32_t *type, void **buf, size_t *len, size_t max,
		  int timeout_ms);

/*
 * The same frames for a caller with a main loop (migrate/forward.c), who
 * moves the bytes itself, never blocking:
 *  - mig_link_seal() appends one sealed frame (header, pieces, tag) to
 *    `out` and advances the send sequence.  -EINVAL (type 0), or the
 *    link's error.
 *  - mig_link_unseal() takes one frame from the front of `in`: 1 and the
 *    frame (*buf g_malloc'ed, NULL for an empty payload), 0 while `in`
 *    does not hold a whole frame, or an error that breaks the link
 *    (hrpc_mig_frame_check()'s, -EMSGSIZE past `max`, -EBADMSG for a bad
 *    tag or sequence number).  A frame's header is checked as soon as it
 *    is there, so a peer cannot make the caller buffer more than `max`.
 *  - mig_link_break() records what broke the link (the caller's socket
 *    failed): every later call returns it.
 * Do not mix them with the blocking calls on one link in one direction.
 */
int mig_link_seal(mig_link *l, uint32_t type, const struct iovec *iov, int iovcnt,
		  GByteArray *out);
int mig_link_unseal(mig_link *l, GByteArray *in, uint32_t *type, void **buf, size_t *len,
		    size_t max);
void mig_link_break(mig_link *l, int err);

/*
 * A link's session, to hand a working link to another process (the
 * worker that serves a forward link, migrate.h): the socket travels
 * separately.  mig_link_session_get() copies it out (the caller wipes it
 * after use); mig_link_adopt() makes a link of fd (taken, also on
 * failure) with it.
 */
struct mig_link_session {
	uint8_t k_send[HRPC_MIG_MAC_SIZE], k_recv[HRPC_MIG_MAC_SIZE];
	uint64_t seq_send, seq_recv;
};
void mig_link_session_get(const mig_link *l, struct mig_link_session *s);
mig_link *mig_link_adopt(int fd, const struct mig_link_session *s);

int mig_link_fd(const mig_link *l);
/* Frame bytes (headers, payloads, tags) since the handshake. */
uint64_t mig_link_bytes_sent(const mig_link *l);
uint64_t mig_link_bytes_received(const mig_link *l);
/* NULL-safe; closes the socket and wipes the session keys. */
void mig_link_free(mig_link *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(mig_link, mig_link_free)

#endif /* HOSTRPC_MIGRATE_LINK_H */
