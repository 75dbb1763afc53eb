/* SPDX-License-Identifier: MIT */
/* sockaddr.h - socket addresses between the wire (struct hrpc_sock_addr)
 * and the host's sockaddrs, for the socket service's files (sock.c). */
#ifndef OUTSOURCE_SOCK_SOCKADDR_H
#define OUTSOURCE_SOCK_SOCKADDR_H

#include <sys/socket.h>

#include "hostrpc/sock.h"

/* A checked wire address as a sockaddr: 0, -EINVAL or -EAFNOSUPPORT. */
int sock_addr_from_wire(const struct hrpc_sock_addr *w, struct sockaddr_storage *ss,
			socklen_t *len);
/* An AF_INET or AF_INET6 sockaddr on the wire. */
void sock_addr_to_wire(const struct sockaddr_storage *ss, struct hrpc_sock_addr *w);

#endif /* OUTSOURCE_SOCK_SOCKADDR_H */
