/* SPDX-License-Identifier: MIT */
/*
 * sockguest.h - a process guest of the socket service, for the integration
 * tests (tests/integration/sock) and the benchmark (bench/sock-bench): the
 * host half (outsource_sock + hrpc_server + GLib loop) runs in a thread of
 * the caller; the guest half calls it through libhostrpc over memfd rings,
 * exactly as a guest kernel would, and keeps the per-socket readiness the
 * host reports (replies and READY events).  Built once as the noinst
 * library libhrpc-sock-guest.la; not part of the service.
 *
 * Errors: -errno, as libhostrpc's (sg_wait and sg_mask return a mask).
 */
#ifndef HOSTRPC_OUTSOURCE_SOCK_SOCKGUEST_H
#define HOSTRPC_OUTSOURCE_SOCK_SOCKGUEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/hostrpc-glib.h"
#include "hostrpc/sock.h"
#include "hostrpc/sockring.h"
#include "outsource/sock/outsource-sock.h"
#include "outsource/sock/outsource-sock-glib.h"

#define SG_MAX_TRACK 4096

struct sg_track {
	uint64_t handle;
	struct hrpc_sock_state st;
	bool known;
};

struct sguest {
	/* host half */
	hrpc_server *srv;
	hrpc_conn *conn;
	outsource_sock *sock;
	GMainContext *ctx;
	pthread_t thread;
	/* Shared by the two threads: atomic.  Everything else of the host
	 * half belongs to its thread once it runs (sg_host_call()). */
	bool stop;
	int conn_done;           /* sg_conn_result() */
	/* guest half */
	hrpc_client *cli;
	struct sg_track track[SG_MAX_TRACK];
	uint64_t events, ev_states;
	uint32_t credit_due;     /* events received, credit not yet returned */
	bool no_auto_credit;     /* tests of the credit mechanism itself */
};

/* The policy of tests whose host peers listen on the host's loopback
 * (which the built-in rules keep from a guest). */
#define SG_LOOPBACK_POLICY "connect allow loopback\n"

void sg_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
	      void *opaque);

/* Start host and guest halves.  policy: text in policy.h format or NULL;
 * audit_fd: where the audit log goes (-1: nowhere). */
int sg_start_full(struct sguest *g, const char *policy, int audit_fd,
		  bool init, uint32_t credit);

int sg_start(struct sguest *g, const char *policy, int audit_fd);

void sg_stop(struct sguest *g);
/* Run fn(g->sock, data) in the host half's thread and wait for it: the
 * service's state is that thread's alone while it runs. */
void sg_host_call(struct sguest *g, void (*fn)(outsource_sock *s, void *data), void *data);
/* outsource_sock_totals() and outsource_sock_print() through sg_host_call(). */
void sg_totals(struct sguest *g, struct outsource_sock_totals *t);
void sg_print(struct sguest *g, FILE *f, bool json);
/* 0 while the host half serves its conn; then why it stopped (-EPROTO:
 * fenced, -EPIPE: hung up). */
static inline int sg_conn_result(struct sguest *g)
{
	return __atomic_load_n(&g->conn_done, __ATOMIC_ACQUIRE);
}

/* Give back the credit the host spent on events, in batches, as a guest
 * kernel would (never from inside the event handler). */
void sg_credit_return(struct sguest *g);

/* A raw call: returns the status; *rep_len the reply length. */
int sg_call(struct sguest *g, uint16_t proc, const void *req, uint32_t req_len,
	    void *rep, uint32_t rep_cap, struct hrpc_bulk *bulk, uint32_t bulk_len,
	    struct hrpc_call *out);

void sg_addr(struct hrpc_sock_addr *a, int family, const char *ip, uint16_t port);

int sg_socket(struct sguest *g, int family, int type, uint64_t *h);

int sg_simple(struct sguest *g, uint16_t proc, uint64_t h, uint32_t arg);

int sg_close(struct sguest *g, uint64_t h);

int sg_addrcall(struct sguest *g, uint16_t proc, uint64_t h,
		const struct hrpc_sock_addr *a);

int sg_getname(struct sguest *g, uint64_t h, bool peer, struct hrpc_sock_addr *a);

uint32_t sg_mask(struct sguest *g, uint64_t h);

/* Wait (processing events) until the socket's known mask has one of `bits`.
 * Returns the mask, or 0 on timeout. */
uint32_t sg_wait(struct sguest *g, uint64_t h, uint32_t bits, int timeout_ms);

int sg_setopt_int(struct sguest *g, uint64_t h, int level, int name, int v);

int sg_getopt_int(struct sguest *g, uint64_t h, int level, int name, int *v);

/* send: inline when bulk is NULL (len <= 64 KiB - 56), else from bulk->ptr.
 * Returns bytes sent or -errno. */
int sg_send(struct sguest *g, uint64_t h, const void *data, uint32_t len,
	    struct hrpc_bulk *bulk, uint32_t flags, const struct hrpc_sock_addr *to);

/* recv into `out` (up to cap): through bulk if given, else inline.
 * Returns bytes or -errno; *io gets the reply. */
int sg_recv(struct sguest *g, uint64_t h, void *out, uint32_t cap,
	    struct hrpc_bulk *bulk, uint32_t flags, struct hrpc_sock_io_rep *io);

/* accept, waiting for the listener's IN first if needed. */
int sg_accept(struct sguest *g, uint64_t lh, uint64_t *h,
	      struct hrpc_sock_addr *peer, int timeout_ms);

/* connect like a blocking connect(2): CONNECT, wait for OUT/ERR/HUP, CONNECT
 * again for the verdict. */
int sg_connect(struct sguest *g, uint64_t h, const struct hrpc_sock_addr *a,
	       int timeout_ms);

/* Receive exactly len bytes (stream). */
int sg_recv_all(struct sguest *g, uint64_t h, uint8_t *out, uint32_t len,
		struct hrpc_bulk *bulk, int timeout_ms);

/* Send all of len bytes (stream), bulk chunks of bulk->cap. */
int sg_send_all(struct sguest *g, uint64_t h, const uint8_t *data, uint32_t len,
		struct hrpc_bulk *bulk, int timeout_ms);

/* ---- version 2: data rings (sock.h, sockring.h) ------------------------- */

/* (Re)INIT with `version`; *o (may be NULL) gets the reply. */
int sg_init(struct sguest *g, uint32_t version, uint32_t credit, struct hrpc_sock_init_rep *o);

/* A socket's area, as the guest keeps it. */
struct sg_area {
	struct hrpc_bulk bulk;          /* the area's memory in the data area */
	struct hrpc_sock_area ref;      /* what the host was told */
	struct hrpc_sock_area_hdr *hdr;
	struct hrpc_ring out, in;       /* the guest produces out, consumes in */
	uint64_t kicks;                 /* KICKs sent for it */
	uint32_t busy_ns;               /* receive spin budget (as hostrpc_sock.ko's busy_poll_us) */
	uint32_t busy_probe;
};

/* Most a receive on an area spins on the in ring before it waits for a
 * READY event (adaptive per area, as hostrpc_sock.ko does; 0: never).
 * Default 50 us. */
extern uint32_t sg_busy_poll_ns;

/* SOCKET with an area of the given ring sizes (a->bulk allocated here;
 * sg_area_free() it after the socket's CLOSE). */
int sg_socket_area(struct sguest *g, int family, int type, uint32_t out_size, uint32_t in_size,
		   struct sg_area *a, uint64_t *h);
/* ACCEPT with an area for the new socket (waits for the listener's IN). */
int sg_accept_area(struct sguest *g, uint64_t lh, uint32_t out_size, uint32_t in_size,
		   struct sg_area *a, uint64_t *h, struct hrpc_sock_addr *peer, int timeout_ms);
void sg_area_free(struct sguest *g, struct sg_area *a);
/* KICK the host for `h`. */
int sg_kick(struct sguest *g, uint64_t h);
/* Stream send into the out ring: bytes written (short when it is full; 0
 * when full), the host's pending error, or -EPROTO.  Kicks the host when
 * it asked for a doorbell. */
long sg_area_send(struct sguest *g, uint64_t h, struct sg_area *a, const void *data,
		  uint32_t len);
/* ... all of it, waiting for room (READY events) up to timeout_ms. */
long sg_area_send_all(struct sguest *g, uint64_t h, struct sg_area *a, const void *data,
		      uint32_t len, int timeout_ms);
/* Stream receive from the in ring: bytes, 0 at the peer's EOF, -EAGAIN
 * when nothing came within timeout_ms (0: do not wait), the host's pending
 * error, or -EPROTO.  `peek`: leave the bytes there. */
long sg_area_recv(struct sguest *g, uint64_t h, struct sg_area *a, void *buf, uint32_t len,
		  bool peek, int timeout_ms);
/* Datagrams: queue one for `to` (NULL: the connected peer); take one
 * (*d gets its header: sender, sizes). */
int sg_area_sendto(struct sguest *g, uint64_t h, struct sg_area *a, const void *data,
		   uint32_t len, const struct hrpc_sock_addr *to);
long sg_area_recvfrom(struct sguest *g, uint64_t h, struct sg_area *a, void *buf, uint32_t cap,
		      struct hrpc_sock_dgram *d, int timeout_ms);

#endif /* HOSTRPC_OUTSOURCE_SOCK_SOCKGUEST_H */
