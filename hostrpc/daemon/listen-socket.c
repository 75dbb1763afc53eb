/* SPDX-License-Identifier: MIT */
/* listen-socket.c - unix stream listening sockets (listen-socket.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hostrpc/daemon/listen-socket.h"

static gboolean fill_addr(struct sockaddr_un *a, const char *path, GError **error)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!path || !*path || strlen(path) >= sizeof(a->sun_path)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "socket path \"%s\" is empty or too long", path ? path : "");
		return FALSE;
	}
	strcpy(a->sun_path, path);
	return TRUE;
}

/* Remove a socket file nobody listens on any more. */
static gboolean clear_stale(const struct sockaddr_un *a, int type, GError **error)
{
	struct stat st;
	int fd, rc, e;

	if (lstat(a->sun_path, &st) < 0)
		return TRUE;
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			    "%s exists and is not a socket", a->sun_path);
		return FALSE;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "socket: %s", g_strerror(errno));
		return FALSE;
	}
	rc = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	e = errno;
	close(fd);
	if (rc == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
			    "%s is in use by another server", a->sun_path);
		return FALSE;
	}
	if (e == ECONNREFUSED && unlink(a->sun_path) < 0 && errno != ENOENT) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot remove stale socket %s: %s", a->sun_path, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

int hrpcd_unix_bind(int fd, const struct sockaddr_un *a, mode_t mode)
{
	if (fchmod(fd, mode) < 0 || bind(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
		return -1;
	return chmod(a->sun_path, mode);
}

int hrpcd_listen_socket_open(const char *path, mode_t mode, GError **error)
{
	return hrpcd_listen_socket_open_type(path, SOCK_STREAM, mode, error);
}

int hrpcd_listen_socket_open_type(const char *path, int type, mode_t mode, GError **error)
{
	g_autofree char *dir = NULL;
	struct sockaddr_un a;
	int fd;

	if (!fill_addr(&a, path, error))
		return -1;
	dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0755) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot create %s: %s", dir, g_strerror(errno));
		return -1;
	}
	if (!clear_stale(&a, type, error))
		return -1;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "socket: %s", g_strerror(errno));
		return -1;
	}
	if (hrpcd_unix_bind(fd, &a, mode) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot bind %s: %s", path, g_strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, 64) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot listen on %s: %s", path, g_strerror(errno));
		hrpcd_listen_socket_close(fd, path);
		return -1;
	}
	return fd;
}

void hrpcd_listen_socket_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
	if (path)
		unlink(path);
}

int hrpcd_listen_socket_accept(int fd, pid_t *peer_pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int c;

	do
		c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	while (c < 0 && errno == EINTR);
	if (c < 0)
		return -1;
	*peer_pid = getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
	return c;
}
