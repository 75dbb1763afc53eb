/* SPDX-License-Identifier: MIT */
/* listen-socket.h - the unix stream sockets hostrpcd listens on. */
#ifndef HOSTRPCD_LISTEN_SOCKET_H
#define HOSTRPCD_LISTEN_SOCKET_H

#include <sys/types.h>
#include <sys/un.h>

#include <glib.h>

/*
 * Bind and listen on `path` (non-blocking, close-on-exec), creating missing
 * parent directories (0755).  A stale socket left by a dead daemon is
 * replaced; a socket somebody still accepts on is an error, as is any other
 * file at `path`.  `mode` is applied to the socket file.  Returns the fd or
 * -1 with `error` set.
 */
int hrpcd_listen_socket_open(const char *path, mode_t mode, GError **error);

/*
 * bind() a unix socket `fd` to `a` so that its file never exists with a mode
 * wider than `mode`: the socket inode gets `mode` before bind() (the kernel
 * creates the file with the socket's mode less the umask), then the file
 * gets exactly `mode` (only ever narrower before).  A chmod() after a plain
 * bind() leaves a window in which anyone may connect.  0 or -1 with errno.
 */
/* The same for another socket type (SOCK_SEQPACKET). */
int hrpcd_listen_socket_open_type(const char *path, int type, mode_t mode, GError **error);

int hrpcd_unix_bind(int fd, const struct sockaddr_un *a, mode_t mode);

/* Close the socket and remove its file. */
void hrpcd_listen_socket_close(int fd, const char *path);

/* accept4() one connection (close-on-exec, blocking).  Returns the fd, or -1
 * with errno set (EAGAIN: none pending).  *peer_pid from SO_PEERCRED, 0 if
 * unknown. */
int hrpcd_listen_socket_accept(int fd, pid_t *peer_pid);

#endif /* HOSTRPCD_LISTEN_SOCKET_H */
