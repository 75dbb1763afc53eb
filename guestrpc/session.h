/* SPDX-License-Identifier: MIT */
/*
 * session.h - host side of Guest RPC: one connection to a guest agent,
 * shared by the threads of a host tool (hostrpc-guestmount's FUSE workers,
 * hostrpc-guest-exec's stdin pump).
 *
 * libhostrpc's client is single-threaded; a session puts a mutex around it
 * and runs a reader thread that takes replies and events off the channel,
 * so any thread can make calls and many calls are in flight at once.  The
 * guest is untrusted: every reply is bounded by the caller's buffers, and a
 * guest that stops answering turns into -ETIMEDOUT for that call and
 * -ENOTCONN for every call after it (the session is "dead"), never a hang.
 * A call's time-out is one deadline for all of it (the wait for the
 * channel, the send, the reply), which a guest cannot extend by reading or
 * writing a byte now and then; HELLO's likewise.
 *
 * Error convention: -errno.
 */
#ifndef GUESTRPC_SESSION_H
#define GUESTRPC_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "hostrpc/msg.h"

typedef struct guestrpc_session guestrpc_session;

struct guestrpc_call {
	uint16_t service;
	uint16_t proc;
	const void *req;          /* inline request */
	uint32_t req_len;
	const void *bulk_out;     /* request bulk, or NULL */
	uint32_t bulk_out_len;
	void *bulk_in;            /* reply bulk lands here (bulk_in_cap bytes) */
	uint32_t bulk_in_cap;
	void *rep;                /* inline reply buffer */
	uint32_t rep_cap;
	int timeout_ms;           /* 0 = the session's default */
	/* out */
	uint32_t rep_len;
	uint32_t bulk_in_len;
};

/* An event, copied off the channel (free with free()). */
struct guestrpc_event {
	uint16_t service;
	uint16_t proc;
	uint32_t len;
	uint8_t payload[];
};

/*
 * Connect to `target`: "xen:NAME" or "xen:ID", a Xen domain whose agent
 * serves Guest RPC over libxenvchan (guestrpc/vchan.h: its channels tried
 * in order, those that other tools hold skipped; -ENOTSUP in a build
 * without Xen), a unix socket path (anything else containing '/'), or a
 * libvirt domain name/UUID whose <channel type='unix'> targets are named
 * org.hostrpc.guest.N (tried in order: a channel another tool holds does
 * not answer HELLO within `hello_ms`).  A channel whose HELLO timed out is
 * tried once more: the hang-up resets a port a live migration left stuck
 * (session.c, connect_path).  `uri` is the libvirt URI (NULL =
 * $LIBVIRT_DEFAULT_URI or qemu:///system).  On failure *err (if given) gets
 * a malloc'ed message.
 */
int guestrpc_session_open(const char *target, const char *uri, int hello_ms,
			  guestrpc_session **out, char **err);
/* Over an already connected stream socket (owned by the session). */
int guestrpc_session_new_fd(int fd, int hello_ms, guestrpc_session **out);
void guestrpc_session_free(guestrpc_session *s);

/* Default per-call timeout (ms), and whether a time-out kills the session
 * (default yes: a guest that did not answer in time is not trusted to).  A
 * send that outlives its deadline kills the session either way: the frame
 * is half sent. */
void guestrpc_session_set_timeout(guestrpc_session *s, int timeout_ms, bool fatal);

/* Thread-safe.  Returns the guest's status (0 / -errno), or a transport
 * error: -ETIMEDOUT, -ENOTCONN (dead session), -EPROTO, -EMSGSIZE (reply
 * larger than rep_cap). */
int guestrpc_session_call(guestrpc_session *s, struct guestrpc_call *c);

/* Send without waiting for the answer (RELEASE, FORGET: nothing the reply
 * says would change what the caller does).  The call still occupies a slot
 * until the guest answers; calls made after it reach the guest after it.
 * Waiting for the channel and the send itself are bounded by the timeout
 * (c->timeout_ms or the default): -ETIMEDOUT, and the session is dead. */
int guestrpc_session_send(guestrpc_session *s, const struct guestrpc_call *c);

/* Queue events of `service` for guestrpc_session_next_event (others are
 * dropped).  Call before the calls that cause them. */
void guestrpc_session_want_events(guestrpc_session *s, uint16_t service);
/* At most `bytes` of event payload queued (default 256 MiB); a guest that
 * sends more than that unread kills the session.  Flow-controlled streams
 * set it to what their window allows. */
void guestrpc_session_set_event_limit(guestrpc_session *s, size_t bytes);
/* Wait up to timeout_ms (-1 forever) for an event: 0 and *ev, -ETIMEDOUT,
 * or -ENOTCONN once the session died and the queue is empty. */
int guestrpc_session_next_event(guestrpc_session *s, int timeout_ms, struct guestrpc_event **ev);

bool guestrpc_session_dead(guestrpc_session *s);
/* Why it died ("" while alive). */
const char *guestrpc_session_error(guestrpc_session *s);

/*
 * Find the unix socket paths of a libvirt domain's channels named
 * org.hostrpc.guest.N, in N order.  Returns the count (0 = none) or -errno;
 * *paths is a NULL-terminated malloc'ed array (free each, then it).
 * -ENOTSUP when built without libvirt.
 */
int guestrpc_domain_channels(const char *domain, const char *uri, char ***paths, char **err);
/* Pure XML part of the above (unit-testable). */
int guestrpc_channels_from_xml(const char *xml, char ***paths);

#endif
