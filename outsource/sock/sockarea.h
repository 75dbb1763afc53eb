/* SPDX-License-Identifier: MIT */
/*
 * sockarea.h - the host's side of one sockets v2 socket area
 * (include/hostrpc/sockring.h): the pumps between a host socket and the
 * guest's rings.
 *
 *   sock_area_push()   host socket -> in ring: what arrived, as far as the
 *                      ring has room; the rest stays in the host socket's
 *                      receive queue (back-pressure: a guest that does not
 *                      read costs the host its socket buffer, no more)
 *   sock_area_drain()  out ring -> host socket: what the guest sent, as far
 *                      as the host socket takes it
 *
 * Neither blocks (the host socket is non-blocking; MSG_DONTWAIT anyway) and
 * neither sleeps.  Each says in *ev what the caller has to do next:
 *   SOCK_AREA_EV_NOTIFY   tell the guest (a READY event): it asked to be
 *                         woken (event index) and the ring moved, or the
 *                         host's words (error, EOF) changed
 *   SOCK_AREA_EV_WANT_IN  watch the host socket for POLLIN (push stopped
 *                         because the socket had nothing more)
 *   SOCK_AREA_EV_WANT_OUT watch the host socket for POLLOUT (drain stopped
 *                         because the socket took nothing more)
 *   SOCK_AREA_EV_IDLE     push: the in ring is full and the guest was asked
 *                         for a doorbell when it frees room (cons_event);
 *                         drain: the out ring is empty and the guest was
 *                         asked for a doorbell when it writes (prod_event)
 * and returns the bytes moved, or -EPROTO when the guest broke the ring
 * (fence its channel; nothing was moved with the forged index).
 *
 * The area's memory is the guest's: the host reads indexes and datagram
 * headers once, into private copies, and checks them (sockring.h); the
 * host's own words (error, flags, mask) live in struct sock_area and are
 * only published to the header, never read back.  Datagram destinations
 * from the out ring are the guest's words too: `dest` (the socket service's
 * address conversion, translation and policy) decides on each one.
 *
 * Error convention: -errno (libhostrpc's).
 */
#ifndef OUTSOURCE_SOCK_SOCKAREA_H
#define OUTSOURCE_SOCK_SOCKAREA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hostrpc/sockring.h"

#define SOCK_AREA_EV_NOTIFY   0x1u
#define SOCK_AREA_EV_WANT_IN  0x2u
#define SOCK_AREA_EV_WANT_OUT 0x4u
#define SOCK_AREA_EV_IDLE     0x8u

/* The sender of a datagram that arrived, as the guest is to see it.
 * Returns 0, or -errno to drop the datagram (a sender the guest cannot be
 * shown). */
typedef int (*sock_area_src_fn)(void *ctx, const struct sockaddr_storage *ss, socklen_t len,
				struct hrpc_sock_addr *out);

/* The destination of a datagram the guest queued (family 0: the connected
 * peer, *len = 0), and the source address it asked for (`m`: its
 * IP_PKTINFO / IPV6_PKTINFO, NULL when none).  Returns 0 or -errno; an
 * error drops that datagram and becomes the socket's pending error (as a
 * failed sendto would be).  The service may have to replace the host socket
 * for it (IPv4/IPv6 translation): then it sets *fd to the new one, used
 * from then on. */
typedef int (*sock_area_dest_fn)(void *ctx, const struct hrpc_sock_addr *a,
				 const struct hrpc_sock_dgram_meta *m,
				 struct sockaddr_storage *ss, socklen_t *len, int *fd);

struct sock_area {
	struct hrpc_sock_area ref;        /* checked copy of the guest's reference */
	struct hrpc_sock_area_hdr *hdr;   /* shared */
	struct hrpc_ring out, in;         /* host consumes out, produces in */
	bool dgram;
	/* the host's words: the truth is here, the header gets copies */
	uint32_t host_flags;              /* HRPC_SOCK_AREA_H_* */
	int32_t host_err;                 /* pending error, -errno */
	uint32_t host_mask;               /* HRPC_POLLERR/HUP/RDHUP/PRI */
	uint32_t host_seq;
	uint32_t host_err_seq;            /* one per fail() */
	bool shut_sent;                   /* the guest's SHUTWR reached the socket */
	bool tstamp_on;                   /* SO_TIMESTAMPNS set on the host socket */
	uint64_t pushed, drained;         /* bytes, for people */
	uint64_t dropped;                 /* datagrams refused by dest() */
};

/* Check `ref` against the data area (data, data_size) and bind the rings.
 * Returns 0 or -EINVAL (a bad reference: refuse the call, the channel is
 * fine). */
int sock_area_bind(struct sock_area *a, void *data, uint32_t data_size,
		   const struct hrpc_sock_area *ref, bool dgram);

/* A migrated socket's area (hostrpc-migrate): bind the rings over the
 * bytes that arrived in guest memory without touching them, with the
 * host's own indexes and words (set in `a` by the caller beforehand) as the
 * source host had them; then publish the words.  -EINVAL for a bad ref. */
int sock_area_adopt(struct sock_area *a, void *data, uint32_t data_size,
		    const struct hrpc_sock_area *ref, bool dgram, uint32_t in_prod, uint32_t out_cons);

/* host socket -> in ring (`src`: datagram sockets only).  Returns bytes
 * moved or -EPROTO. */
long sock_area_push(struct sock_area *a, int fd, sock_area_src_fn src, void *ctx, uint32_t *ev);
/* out ring -> host socket (`dest`: datagram sockets only).  Returns bytes
 * moved or -EPROTO. */
long sock_area_drain(struct sock_area *a, int fd, sock_area_dest_fn dest, void *ctx, uint32_t *ev);

/* Make the host's words visible to the guest (after a change). */
void sock_area_publish(struct sock_area *a);

#endif /* OUTSOURCE_SOCK_SOCKAREA_H */
