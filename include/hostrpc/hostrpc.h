/* SPDX-License-Identifier: MIT */
/*
 * hostrpc.h - libhostrpc, the userspace Host RPC library.
 *
 * Error convention: every function that can fail returns 0 (or a count) on
 * success and a negative Linux errno on failure.  Functions that return a
 * pointer return NULL only where documented.  Nothing here aborts or exits
 * on anything a peer sends: a peer that breaks the protocol fences its
 * channel (-EPROTO from then on) and the caller decides what to release.
 *
 * Objects:
 *   hrpc_chan    one end of a transport (memfd rings, vport stream, ...)
 *   hrpc_client  issues CALLs on a channel, receives REPLYs and EVENTs
 *   hrpc_server  a registry of services
 *   hrpc_conn    the server end of one channel, dispatching into a server
 *
 * Thread safety: an object is used by one thread at a time; different
 * objects may be used concurrently.  The core does not depend on GLib; see
 * hostrpc-glib.h for the main-loop adapter.
 */
#ifndef HOSTRPC_HOSTRPC_H
#define HOSTRPC_HOSTRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "msg.h"
#include "stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hrpc_chan hrpc_chan;
typedef struct hrpc_client hrpc_client;
typedef struct hrpc_server hrpc_server;
typedef struct hrpc_conn hrpc_conn;

/* ---- channels (transports) -------------------------------------------- */

enum hrpc_chan_role { HRPC_ROLE_CLIENT = 0, HRPC_ROLE_SERVER = 1 };

#define HRPC_SHM_DEFAULT_SIZE   (8u << 20)
#define HRPC_RING_DEFAULT_SIZE  (256u << 10)

/*
 * Shared-memory channel over an existing mapping.  `shm` must be mapped
 * read/write and shared with the peer; `kick_fd` is written (eventfd
 * semantics) to notify the peer, `wait_fd` becomes readable when the peer
 * notifies us.  The server role initialises the layout (fresh channel,
 * host_gen+1) unless `adopt` is set, in which case it keeps the indexes found
 * in memory (after a migration or daemon restart).  The client role checks the
 * layout.  The channel does not own the mapping or the fds unless
 * hrpc_chan_set_owned() is called.
 */
int hrpc_shm_chan_new(enum hrpc_chan_role role, void *shm, size_t size,
		      int kick_fd, int wait_fd, bool adopt, hrpc_chan **out);

/* Let the channel munmap/close these when it is freed (-1/NULL to skip). */
void hrpc_chan_set_owned(hrpc_chan *ch, void *map, size_t map_len,
			 int fd0, int fd1, int fd2);

/*
 * memfd transport.  The server end creates a memfd of `shm_size` bytes
 * (0 = default) and two eventfds and passes them over the connected unix
 * stream socket `sock` (SCM_RIGHTS); the client end receives and checks
 * them.  The socket stays with the caller and is the liveness signal:
 * a hang-up means the peer is gone.
 */
int hrpc_memfd_server_new(int sock, size_t shm_size, hrpc_chan **out);
int hrpc_memfd_client_new(int sock, hrpc_chan **out);

/* Process guest: connect to a server's unix socket (hostrpcd's guest
 * socket) and set up the memfd channel it offers.  The socket is owned by
 * the channel and closed with it; its hang-up makes waiting calls fail with
 * -EPIPE at once instead of timing out. */
int hrpc_memfd_connect(const char *path, hrpc_chan **out);

/* vport transport: frames over a byte-stream fd (owned by the channel
 * afterwards; closed by hrpc_chan_free). */
int hrpc_vport_chan_new(enum hrpc_chan_role role, int fd, hrpc_chan **out);

/* Host a channel on the other end of a unix socket path (vport). */
int hrpc_vport_connect(const char *path, hrpc_chan **out);

/*
 * vchan transport (Xen; only in a libhostrpc built with Xen support): vport
 * framing over a libxenvchan byte stream between two domains.  The server
 * end grants two rings of `ring_bytes` each (0 = 64 KiB, at most 1 MiB;
 * rounded up to a power of two) to domain `peer` only and publishes them
 * in the xenstore directory `xs_path` (at most 49 bytes, libxenvchan's
 * limit), which it removes when freed; the client end maps those that
 * domain `domid` published at `xs_path`.  A vchan serves one client: once
 * it hung up (recv/process -EPIPE), free the server channel and make a
 * new one.  The peer closing or dying is a hang-up, after everything it
 * sent was read.  wait_fd is an epoll fd.  -errno from libxenvchan's set-up
 * (-EIO when it did not say).
 */
int hrpc_vchan_server_new(uint32_t peer, const char *xs_path, uint32_t ring_bytes,
			  hrpc_chan **out);
int hrpc_vchan_client_new(uint32_t domid, const char *xs_path, hrpc_chan **out);
/*
 * Let another thread hang a vchan up without touching it: once `fd` is
 * readable (an eventfd written, a pipe's writer closed), sends - blocked
 * ones at once - and receives fail with -EPIPE and wait_fd turns readable,
 * as a shutdown(2) does to a vport socket.  `fd` is not owned and must
 * stay open until the channel is freed.  -EINVAL if `ch` is not a vchan.
 */
int hrpc_vchan_set_hangup_fd(hrpc_chan *ch, int fd);

/*
 * Xen transport, dom0 side (xen.h): map the `nr_pages` pages domain `domid`
 * granted (their references in the directory pages `dir_refs`, checked by
 * the caller against the handshake's limits), bind its event channel `port`
 * and lay out a fresh channel (server role).  The channel owns the mapping
 * and the handles.  -EOPNOTSUPP when built without Xen.
 */
struct hrpc_xen_chan_spec {
	uint32_t domid;
	uint32_t nr_pages;
	uint32_t dir_refs[4];   /* HRPC_XEN_MAX_DIRS; the first HRPC_XEN_DIRS(nr_pages) */
	uint32_t port;
};
int hrpc_xen_chan_new(const struct hrpc_xen_chan_spec *spec, hrpc_chan **out);

void hrpc_chan_free(hrpc_chan *ch);

/* fd to poll for readability: becomes readable when the peer notified us
 * (or, for vport, when bytes or a hang-up arrived). */
int hrpc_chan_wait_fd(hrpc_chan *ch);

/* Bulk data area of a shm channel (NULL/0 for vport). */
void *hrpc_chan_data(hrpc_chan *ch, uint32_t *size);

/* Counters kept by the channel itself. */
const struct hrpc_stats *hrpc_chan_stats(hrpc_chan *ch);

/* Spin budget (ns) before sleeping on wait_fd; 0 = never spin. */
void hrpc_chan_set_spin(hrpc_chan *ch, uint32_t spin_ns);

/* ---- client ------------------------------------------------------------- */

/* A bulk buffer.  On shm channels it lies in the data area; on vport it is
 * private memory copied into/out of the frames. */
struct hrpc_bulk {
	void *ptr;
	uint32_t off;   /* offset in the data area (shm) */
	uint32_t cap;
};

struct hrpc_call {
	/* in */
	uint16_t service;
	uint16_t proc;
	const void *req;       /* inline request payload */
	uint32_t req_len;      /* <= HRPC_MSG_MAX_PAYLOAD */
	void *rep;             /* inline reply buffer */
	uint32_t rep_cap;
	struct hrpc_bulk *bulk;/* optional bulk buffer */
	uint32_t bulk_len;     /* request bytes at bulk->ptr */
	int timeout_ms;        /* -1 = forever */
	/* out */
	int status;            /* server's 0 / -errno */
	uint32_t rep_len;      /* inline reply bytes (truncated to rep_cap: -EMSGSIZE) */
	uint32_t rep_bulk_pos; /* reply bulk data starts at bulk->ptr + pos */
	uint32_t rep_bulk_len;
};

typedef void (*hrpc_call_done_fn)(hrpc_client *c, struct hrpc_call *call, void *opaque);
typedef void (*hrpc_event_fn)(hrpc_client *c, const struct hrpc_msg_hdr *h,
			      const void *payload, void *opaque);

/* Takes ownership of `ch`.  Performs the HELLO negotiation (blocking, with
 * `timeout_ms`); fails with -EPROTONOSUPPORT if no revision is common. */
int hrpc_client_new(hrpc_chan *ch, const char *name, int timeout_ms, hrpc_client **out);
void hrpc_client_free(hrpc_client *c);

/* Synchronous call.  Returns call->status (0 or the server's -errno) or a
 * transport error (-ETIMEDOUT, -EPIPE, -EPROTO, ...). */
int hrpc_client_call(hrpc_client *c, struct hrpc_call *call);

/* Asynchronous call: `call` must stay valid until `done` ran. */
int hrpc_client_call_async(hrpc_client *c, struct hrpc_call *call,
			   hrpc_call_done_fn done, void *opaque);

/* Receive and dispatch replies/events; waits up to timeout_ms (0 = poll).
 * Returns the number of messages handled or -errno. */
int hrpc_client_process(hrpc_client *c, int timeout_ms);

void hrpc_client_set_event_handler(hrpc_client *c, hrpc_event_fn fn, void *opaque);
int hrpc_client_wait_fd(hrpc_client *c);
uint32_t hrpc_client_guest_id(hrpc_client *c);
hrpc_chan *hrpc_client_chan(hrpc_client *c);

/* Allocate/free a bulk buffer of `cap` bytes. */
int hrpc_client_bulk_alloc(hrpc_client *c, uint32_t cap, struct hrpc_bulk *out);
void hrpc_client_bulk_free(hrpc_client *c, struct hrpc_bulk *b);

/* ---- server ------------------------------------------------------------- */

/* One incoming call, valid only during the handler. */
struct hrpc_req {
	const struct hrpc_msg_hdr *hdr; /* private copy, already checked */
	const void *payload;            /* private copy */
	uint32_t len;
	/* Bulk buffer of the call, or NULL.  On shm channels it points into
	 * memory the guest can change at any time: copy before parsing. */
	uint8_t *bulk;
	uint32_t bulk_len;
	uint32_t bulk_cap;
	hrpc_conn *conn;
};

struct hrpc_reply {
	void *payload;        /* buffer of HRPC_MSG_MAX_PAYLOAD bytes */
	uint32_t len;         /* set by the handler */
	uint32_t bulk_pos;    /* reply bulk bytes are at req->bulk + bulk_pos */
	uint32_t bulk_len;
};

/* Returns 0 or -errno, sent back as the reply status. */
typedef int (*hrpc_handler_fn)(void *opaque, const struct hrpc_req *req,
			       struct hrpc_reply *rep);

/*
 * A handler that cannot answer at once (its service waits on another host,
 * outsource/fs/ forwarding to a migration's remnant): hrpc_conn_defer()
 * while it runs gives the call a token, and the handler returns
 * HRPC_DEFERRED.  The reply goes later, from the same thread, through
 * hrpc_conn_reply_deferred() - once; a payload of at most `max_len` bytes
 * (more: the guest gets -EIO), reply bulk at the start of the call's bulk
 * region.  Until then the reply's room in the response ring is kept for
 * it: the conn takes no call and sends no event that would need it.  The
 * conn forgets its deferred calls when freed (their tokens are then
 * unknown: -ENOENT).  Shared-memory channels only (-EOPNOTSUPP on a
 * stream, whose bulk buffer the next call reuses); -EBUSY past 64 at once.
 */
#define HRPC_DEFERRED 1
int hrpc_conn_defer(const struct hrpc_req *req, uint32_t max_len, uint64_t *token);
/* 0, -ENOENT (no such token), or the conn's fence. */
int hrpc_conn_reply_deferred(hrpc_conn *conn, uint64_t token, int status, const void *payload,
			     uint32_t len, const void *bulk, uint32_t bulk_len);

hrpc_server *hrpc_server_new(const char *label);
void hrpc_server_free(hrpc_server *s);
int hrpc_server_register(hrpc_server *s, uint16_t service, const char *name,
			 hrpc_handler_fn fn, void *opaque);
const char *hrpc_server_service_name(hrpc_server *s, uint16_t service);

/* Register the built-in echo (HRPC_SVC_ECHO) and stats (HRPC_SVC_STATS). */
int hrpc_server_register_builtins(hrpc_server *s);

/* Takes ownership of `ch`. */
int hrpc_conn_new(hrpc_server *s, hrpc_chan *ch, uint32_t guest_id, hrpc_conn **out);
void hrpc_conn_free(hrpc_conn *conn);

/* Handle every pending call (non-blocking).  Returns the number handled,
 * -EPROTO once the peer broke the protocol (the conn is fenced and stays so),
 * -EPIPE once the peer hung up. */
int hrpc_conn_process(hrpc_conn *conn);

/* Block serving calls until fenced/hung up or `*stop` becomes true;
 * adaptive: spins for the channel's spin budget before sleeping.  `*stop`
 * is read atomically (acquire): another thread sets it with
 * __atomic_store_n(stop, true, __ATOMIC_RELEASE) - volatile alone is no
 * ordering, and a plain store races with the read. */
int hrpc_conn_serve(hrpc_conn *conn, volatile bool *stop);

int hrpc_conn_send_event(hrpc_conn *conn, uint16_t service, uint16_t proc,
			 const void *payload, uint32_t len);
int hrpc_conn_wait_fd(hrpc_conn *conn);

/* Private per-connection buffer of at least `len` bytes, for copying guest
 * data before parsing it.  Valid until the next call on this conn; NULL if
 * out of memory. */
void *hrpc_conn_scratch(hrpc_conn *conn, size_t len);

/* Before sleeping on hrpc_conn_wait_fd(): ask the guest for a doorbell.
 * Returns 1 if the caller may sleep, 0 if calls are pending (process them
 * first).  hrpc_conn_process() itself never arms, so a server that polls
 * costs the guest no doorbells. */
int hrpc_conn_arm(hrpc_conn *conn);

/* Spin up to spin_ns for the next call (shared-memory channels: no
 * syscall, no doorbell).  Returns 1 if one is pending, 0 if not. */
int hrpc_conn_poll(hrpc_conn *conn, uint32_t spin_ns);

/* The channel's spin budget (hrpc_chan_set_spin()), in ns. */
uint32_t hrpc_conn_spin(hrpc_conn *conn);

/* Drain the doorbell after wait_fd became readable. */
void hrpc_conn_ack(hrpc_conn *conn);
bool hrpc_conn_fenced(hrpc_conn *conn);
/* Is it waiting for the guest to drain responses (calls left unread until
 * their largest reply fits)? */
bool hrpc_conn_blocked(hrpc_conn *conn);
/* Is its wait fd a doorbell only (shared-memory rings: memfd, ivshmem, Xen),
 * not a byte stream that carries the frames (vport, vchan)? */
bool hrpc_conn_doorbell_only(hrpc_conn *conn);
/* A service found its peer breaking the protocol outside a call's payload
 * (in shared memory the service reads, e.g. a socket's data rings): fence
 * the conn as the transport would.  Returns -EPROTO. */
int hrpc_conn_fence(hrpc_conn *conn, const char *why);
/* Who serves the conn (hostrpc-glib's source) hears of a fence that came
 * outside hrpc_conn_process() - a service's own event loop found the
 * guest's shared memory forged - since the guest, seeing FENCED, rings no
 * more: `fn(data)` runs once, at the fence.  One listener: the conn owns
 * `data` from here and calls `destroy(data)` (if not NULL) when the
 * listener is replaced (fn NULL removes it) or the conn is freed. */
void hrpc_conn_set_fence_notify(hrpc_conn *conn, void (*fn)(void *data), void *data,
				void (*destroy)(void *data));
const char *hrpc_conn_fence_reason(hrpc_conn *conn);
uint32_t hrpc_conn_guest_id(hrpc_conn *conn);
const struct hrpc_stats *hrpc_conn_stats(hrpc_conn *conn);
hrpc_chan *hrpc_conn_chan(hrpc_conn *conn);
bool hrpc_conn_negotiated(hrpc_conn *conn);
/* A live migration: what the guest's HELLO negotiated, and a connection at
 * the destination that takes it over without a HELLO (the guest said it
 * at the source).  -EINVAL for a revision or features this host lacks. */
void hrpc_conn_session(hrpc_conn *conn, uint16_t *revision, uint64_t *features);
int hrpc_conn_adopt_session(hrpc_conn *conn, uint16_t revision, uint64_t features,
			    const char *peer);
const char *hrpc_conn_peer_name(hrpc_conn *conn);

/* ---- helpers -------------------------------------------------------------- */

/* Monotonic clock in ns. */
uint64_t hrpc_now_ns(void);

/* Send/receive int64 + optional fds over a unix socket (SCM_RIGHTS).
 * recv returns -EPIPE on orderly hang-up; *nfds in/out.  At most
 * HRPC_UNIX_MAX_FDS descriptors a message. */
#define HRPC_UNIX_MAX_FDS 250
int hrpc_unix_send(int sock, const void *buf, size_t len, const int *fds, int nfds);
int hrpc_unix_recv(int sock, void *buf, size_t len, int *fds, int *nfds);

/* Connect a unix stream socket to `path`: the fd (close-on-exec) or -errno. */
int hrpc_unix_connect(const char *path);
/* One message of any length up to `cap` on a datagram or seqpacket socket
 * (recvmsg flags: e.g. MSG_DONTWAIT): its length, or -errno; -EPIPE on
 * hang-up; -EMSGSIZE (descriptors closed) when it did not fit.  *nfds in:
 * room in fds; out: descriptors received (extra ones are closed). */
long hrpc_unix_recv_msg(int sock, void *buf, size_t cap, int *fds, int *nfds, int flags);

#ifdef __cplusplus
}
#endif

#endif /* HOSTRPC_HOSTRPC_H */
