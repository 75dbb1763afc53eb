/* SPDX-License-Identifier: MIT */
/* unix.c - messages with file descriptors over unix sockets (SCM_RIGHTS). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hostrpc/hostrpc.h"

#define MAX_FDS HRPC_UNIX_MAX_FDS

int hrpc_unix_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds < 0 || nfds > MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/*
 * Receive exactly `len` bytes (one message) and up to *nfds descriptors.
 * Descriptors beyond *nfds, or attached to a short read, are closed: a peer
 * cannot make us leak fds.
 */
int hrpc_unix_recv(int sock, void *buf, size_t len, int *fds, int *nfds)
{
	int got = nfds ? *nfds : 0;
	long n = hrpc_unix_recv_msg(sock, buf, len, fds, &got, 0);

	if (nfds)
		*nfds = n < 0 ? 0 : got;
	if (n == -EMSGSIZE)
		return -EBADMSG;
	if (n < 0)
		return (int)n;
	/* One message of exactly `len` bytes, or none of its descriptors. */
	if ((size_t)n != len) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		if (nfds)
			*nfds = 0;
		return n ? -EBADMSG : -EPIPE;
	}
	return 0;
}

long hrpc_unix_recv_msg(int sock, void *buf, size_t cap, int *fds, int *nfds, int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	int want = nfds ? *nfds : 0, got = 0;
	struct cmsghdr *c;
	ssize_t n;

	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (nfds)
		*nfds = 0;
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		int k, *p;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		p = (int *)CMSG_DATA(c);
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, p + i, sizeof(fd));
			if (got < want)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		return -EMSGSIZE;
	}
	if (nfds)
		*nfds = got;
	if (n == 0 && !got)
		return -EPIPE;
	return (long)n;
}

int hrpc_unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}
