/* SPDX-License-Identifier: MIT */
/*
 * tcprepair.h - freeze an established TCP connection of the host into an
 * image (include/hostrpc/sockstate.h) and make it again from one, with
 * Linux's TCP_REPAIR (CAP_NET_ADMIN), as CRIU's libsoccr does.  The socket
 * service moves a migrating guest's connections with it (issue 12).
 *
 * One error convention: 0 or -errno.
 *
 * Freeze, then one of:
 *   - close() the frozen socket once the image is safe at the destination:
 *     in repair mode close sends neither FIN nor RST;
 *   - sock_tcp_thaw() it: repair off, the connection goes on where it was
 *     (a migration that failed before the switch).
 * While frozen, nothing of the connection moves: the caller keeps the
 * peer's packets from reaching a host without the socket (a closed socket's
 * address answers with RST), as a migration's network switch does.
 */
#ifndef OUTSOURCE_SOCK_TCPREPAIR_H
#define OUTSOURCE_SOCK_TCPREPAIR_H

#include <stddef.h>

/* Freeze `fd` (ESTABLISHED, else -EINVAL) into a malloc'ed image. */
int sock_tcp_freeze(int fd, void **image, size_t *len);

/* Leave repair mode: the connection goes on. */
int sock_tcp_thaw(int fd);

/* Make the image's connection in this network namespace (its local
 * address must be one of it) in a new socket, *fd, in the normal mode.
 * The image is checked first (-EPROTO); a copy the caller owns. */
int sock_tcp_restore(const void *image, size_t len, int *fd);

#endif /* OUTSOURCE_SOCK_TCPREPAIR_H */
