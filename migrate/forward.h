/* SPDX-License-Identifier: MIT */
/*
 * forward.h - one end of a forward link (include/hostrpc/migfwd.h): the
 * byte streams of a guest's objects that stayed on another host, relayed
 * between local stream sockets and the authenticated link, on a GLib main
 * context, never blocking.
 *
 * The same code runs at both ends.  At the remnant (the source host) an
 * object's descriptor is the guest's real socket; where the guest runs,
 * it is the far end of a local socket pair whose near end the socket
 * service serves as the guest's socket.  What one end reads from its
 * descriptor the other writes to its own: data, end of file (shutdown),
 * and a reset (the descriptor is closed with SO_LINGER 0, so its peer
 * reads ECONNRESET).  When the link ends other than by a BYE (cut, a bad
 * frame, the far host gone) every object is reset: a program sees a
 * connection that failed, never one that hangs.
 *
 * Ownership: the forwarder owns the link and every descriptor it was
 * given; its GSource lives on `ctx` until mig_fwd_free().  on_end runs
 * once, from the main loop, when the link has ended (0 after the peer's
 * BYE, else -errno); it may free the forwarder.
 */
#ifndef HOSTRPC_MIGRATE_FORWARD_H
#define HOSTRPC_MIGRATE_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "hostrpc/sock.h"
#include "migrate/link.h"

typedef struct mig_fwd mig_fwd;

struct mig_fwd_info {
	uint64_t object;           /* the guest's handle */
	uint64_t bytes_in;         /* from the link, passed to the descriptor */
	uint64_t bytes_out;        /* read from the descriptor, sent */
	bool shut_in, shut_out;    /* end of file seen each way */
	bool listener;             /* the remnant's copy of a listener */
	bool accepted;             /* accepted on such a copy: local, peer */
	struct hrpc_sock_addr local, peer;
};

typedef void (*mig_fwd_end_fn)(void *data, int err);

/* Takes the link (its socket becomes non-blocking) and says HELLO with
 * `guest`; the peer's HELLO must name the same guest. */
mig_fwd *mig_fwd_new(mig_link *link, const char *guest, GMainContext *ctx,
		     mig_fwd_end_fn on_end, void *data);
/* Forward `object` (non-zero) through fd, a connected stream socket
 * (taken, also on failure: then closed with a reset).  -EEXIST, -EINVAL,
 * or the link's error once it has ended. */
int mig_fwd_add(mig_fwd *f, uint64_t object, int fd);
/* The objects: 1 and the next one at or after *pos (start at 0), 0 at
 * the end. */
int mig_fwd_next(mig_fwd *f, uint32_t *pos, struct mig_fwd_info *info);
uint32_t mig_fwd_count(const mig_fwd *f);
/* Once the link ended: how many objects were still open (and reset). */
uint32_t mig_fwd_lost(const mig_fwd *f);
/* 0 while the link works, else what ended it. */
int mig_fwd_error(const mig_fwd *f);
const mig_link *mig_fwd_link(const mig_fwd *f);
/*
 * The guest moves on from the host where this end runs (migfwd.h, HOLD).
 * mig_fwd_hold(): our descriptors rest (nothing read from them or written
 * to them) and we say HOLD; `fn` runs once, from the main loop: 0 when the
 * peer said HELD (nothing is under way any more: mig_fwd_pending() tells
 * each object's bytes), or -errno when the link ended first.  -EBUSY: a
 * hold is under way; or the link's error.  mig_fwd_resume(): the move
 * failed, both ends go on (RESUME); what came meanwhile is passed on.
 */
typedef void (*mig_fwd_held_fn)(void *data, int err);
int mig_fwd_hold(mig_fwd *f, mig_fwd_held_fn fn, void *data);
void mig_fwd_resume(mig_fwd *f);
bool mig_fwd_held(const mig_fwd *f);

struct mig_fwd_pending {
	int fd;                    /* the object's descriptor (still ours) */
	const uint8_t *pend;       /* came from the link, not yet written to fd */
	size_t pend_len;
	bool shut;                 /* half closed either way */
};
/* Held: one object as it stands.  -EBUSY (not held), -ENOENT. */
int mig_fwd_pending(const mig_fwd *f, uint64_t object, struct mig_fwd_pending *p);

/* The remnant's side: the peer said HOLD (and no RESUME since). */
bool mig_fwd_held_by_peer(const mig_fwd *f);
/* Take `object` away from the forwarder without a word to the peer: *fd
 * (the caller's now) and *pend, what the peer sent that is not yet
 * written to it (the caller's; g_byte_array_unref()).  -EBUSY (not held
 * by the peer), -ENOENT, -ESHUTDOWN (half closed: stays here). */
int mig_fwd_take(mig_fwd *f, uint64_t object, int *fd, GByteArray **pend);

/*
 * The guest moves on to a third host (migfwd.h, MOVE).  Its old end, held:
 * mig_fwd_move() says MOVE (host: numeric address; port: the next host's
 * forward listener); `fn` runs once: the MOVED status and count, or
 * -errno when the link ended first.  The remnant: `fn` of
 * mig_fwd_set_move_fn() gets MOVE's address; the owner makes the new link,
 * mig_fwd_transfer() moves every held object onto its forwarder (half
 * closed ones are reset instead) and returns how many, and mig_fwd_moved()
 * answers.  The next host: mig_fwd_add_moved() is mig_fwd_add() with the
 * bytes that were under way (forward image): `in` for the descriptor
 * first, `out` for the link first.  Add them before the loop turns on a
 * new link: frames for an object this end does not know are dropped.
 */
typedef void (*mig_fwd_move_fn)(void *data, const char *host, uint16_t port);
typedef void (*mig_fwd_moved_fn)(void *data, int status, uint32_t nobj);
void mig_fwd_set_move_fn(mig_fwd *f, mig_fwd_move_fn fn, void *data);
int mig_fwd_move(mig_fwd *f, const char *host, uint16_t port, mig_fwd_moved_fn fn, void *data);
void mig_fwd_moved(mig_fwd *f, int status, uint32_t nobj);
uint32_t mig_fwd_transfer(mig_fwd *from, mig_fwd *to);
int mig_fwd_add_moved(mig_fwd *f, uint64_t object, int fd, const void *in, size_t in_len,
		      const void *out, size_t out_len);

/*
 * Listeners (migfwd.h ACCEPT, RENAME).  The remnant: mig_fwd_add_listener()
 * keeps a copy of the guest's listener (fd taken, as mig_fwd_add()); each
 * connection it accepts becomes an object, announced with its addresses.
 * The guest's end: `fn` of mig_fwd_set_accept_fn() makes such a
 * connection arrive at the guest's listener and returns the far end of its
 * stand-in (a connected stream socket, taken), or -errno (the remnant
 * resets it).  Once the guest accepted it, mig_fwd_rename() names it by
 * the guest's handle at both ends (-ENOENT, -EEXIST).  mig_fwd_forget():
 * the object (here or only at the peer: the guest closed its listener)
 * ends with a RESET.
 */
typedef int (*mig_fwd_accept_fn)(void *data, uint64_t listener, uint64_t object,
				 const struct hrpc_sock_addr *local,
				 const struct hrpc_sock_addr *peer);
int mig_fwd_add_listener(mig_fwd *f, uint64_t object, int fd);
void mig_fwd_set_accept_fn(mig_fwd *f, mig_fwd_accept_fn fn, void *data);
int mig_fwd_rename(mig_fwd *f, uint64_t object, uint64_t name);
bool mig_fwd_has(const mig_fwd *f, uint64_t object);
void mig_fwd_forget(mig_fwd *f, uint64_t object, int err);

/*
 * Calls (migfwd.h CALL, REPLY, EVENT): Host RPC calls of the guest on
 * servers the remnant kept (a source-only export's files).  The guest's
 * end: mig_fwd_call() sends one (its payload and request bulk: copied;
 * -EBUSY past HRPC_FWD_CALLS under way, -EEXIST for an id under way,
 * -EINVAL, or the link's error); `reply` runs once per call but a one-way
 * one, from the main loop, with the remnant's answer (payload and reply
 * bulk valid during the call), or -EIO with nothing when the link ended
 * first (before on_end); never after mig_fwd_free().  `event`: what the
 * remnant's servers sent on their own.  The remnant: `call` answers each
 * CALL at once, in *a (pointers valid until it returns; a status out of
 * range, or more bulk than the call's bulk_cap: -EIO); `m->bulk` is a
 * private buffer of bulk_cap bytes holding the request's bulk_len, for
 * the reply's bulk too.  mig_fwd_event() sends an EVENT.
 */
struct mig_fwd_callmsg {
	uint64_t id;
	uint16_t service, proc;
	bool oneway;
	const void *payload;
	uint32_t len;
	uint8_t *bulk;
	uint32_t bulk_len, bulk_cap;
};
struct mig_fwd_answer {
	int status;
	const void *payload;
	uint32_t len;
	const void *bulk;
	uint32_t bulk_len;
};
typedef void (*mig_fwd_call_fn)(void *data, const struct mig_fwd_callmsg *m,
				struct mig_fwd_answer *a);
typedef void (*mig_fwd_reply_fn)(void *data, uint64_t id, int status, const void *payload,
				 uint32_t len, const void *bulk, uint32_t bulk_len);
typedef void (*mig_fwd_event_fn)(void *data, uint16_t service, uint16_t proc,
				 const void *payload, uint32_t len);
void mig_fwd_set_call_fns(mig_fwd *f, mig_fwd_call_fn call, mig_fwd_reply_fn reply,
			  mig_fwd_event_fn event, void *data);
int mig_fwd_call(mig_fwd *f, const struct mig_fwd_callmsg *c);
int mig_fwd_event(mig_fwd *f, uint16_t service, uint16_t proc, const void *payload,
		  uint32_t len);
/* Calls under way (the guest's end). */
uint32_t mig_fwd_calls(const mig_fwd *f);

/* NULL-safe.  Says BYE (best effort: what the socket takes now) and
 * closes everything; objects still open are reset. */
void mig_fwd_free(mig_fwd *f);

#endif /* HOSTRPC_MIGRATE_FORWARD_H */
