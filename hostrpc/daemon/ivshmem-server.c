/* SPDX-License-Identifier: MIT */
/*
 * ivshmem-server.c - QEMU's ivshmem-doorbell server protocol, one guest per
 * listening socket (see ivshmem-server.h for the message order).
 *
 * QEMU reads the set-up synchronously while it starts, so it is sent at once
 * from the accept handler.  After the set-up QEMU sends nothing; its hang-up
 * (the guest stopped) is the only event on the connection.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/ring.h"
#include "hostrpc/daemon/ivshmem-server.h"
#include "hostrpc/daemon/listen-socket.h"

#define SEND_TIMEOUT_S 2

struct _HrpcdIvshmemPeer {
	int sock;
	int shm_fd;
	gsize shm_size;
	int host_fd[HRPC_IVSHMEM_NR_VECTORS];
	int guest_fd[HRPC_IVSHMEM_NR_VECTORS];
	pid_t pid;
	GSource *watch;
};

struct _HrpcdIvshmemServer {
	char *name;
	char *path;
	gsize shm_size;
	GMainContext *ctx;
	HrpcdIvshmemCallbacks cb;
	gpointer user_data;
	int listen_fd;
	gboolean leave_socket;     /* free() leaves the socket file (someone else listens) */
	GSource *accept_src;
	HrpcdIvshmemPeer *peer;
};

gboolean hrpcd_ivshmem_size_valid(guint64 size, GError **error)
{
	struct hrpc_shm_hdr geo;

	/* QEMU maps the memory as a PCI BAR: a power of two. */
	if (size < HRPCD_IVSHMEM_MIN_SIZE || size > HRPCD_IVSHMEM_MAX_SIZE ||
	    (size & (size - 1)) ||
	    hrpc_shm_geometry_init(&geo, size, HRPC_RING_DEFAULT_SIZE) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "ivshmem size %" G_GUINT64_FORMAT " is not a power of two "
			    "between %u and %u bytes", size, HRPCD_IVSHMEM_MIN_SIZE,
			    HRPCD_IVSHMEM_MAX_SIZE);
		return FALSE;
	}
	return TRUE;
}

/* ---- peer --------------------------------------------------------------- */

static void peer_free(HrpcdIvshmemPeer *p)
{
	if (!p)
		return;
	if (p->watch) {
		g_source_destroy(p->watch);
		g_source_unref(p->watch);
	}
	for (int v = HRPC_IVSHMEM_NR_VECTORS; v-- > 0;) {
		if (p->guest_fd[v] >= 0)
			close(p->guest_fd[v]);
		if (p->host_fd[v] >= 0)
			close(p->host_fd[v]);
	}
	if (p->shm_fd >= 0)
		close(p->shm_fd);
	if (p->sock >= 0)
		close(p->sock);
	g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdIvshmemPeer, peer_free)

static HrpcdIvshmemPeer *peer_new(const char *name, int sock, pid_t pid, gsize size,
				  GError **error)
{
	g_autoptr(HrpcdIvshmemPeer) p = g_new0(HrpcdIvshmemPeer, 1);
	g_autofree char *label = g_strdup_printf("hostrpc-ivshmem-%s", name);

	p->sock = sock;
	p->pid = pid;
	p->shm_size = size;
	p->shm_fd = -1;
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
		p->host_fd[v] = p->guest_fd[v] = -1;

	/* Sealed: neither QEMU nor a worker can shrink the memory under the
	 * other (SIGBUS).  Write seals would stop QEMU from mapping it. */
	p->shm_fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (p->shm_fd < 0 || ftruncate(p->shm_fd, (off_t)size) < 0 ||
	    fcntl(p->shm_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot create %zu bytes of shared memory: %s", size, g_strerror(errno));
		return NULL;
	}
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		p->host_fd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		p->guest_fd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->host_fd[v] < 0 || p->guest_fd[v] < 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
				    "eventfd: %s", g_strerror(errno));
			return NULL;
		}
	}
	return g_steal_pointer(&p);
}

static int send_msg(int sock, gint64 value, int fd)
{
	return hrpc_unix_send(sock, &value, sizeof(value), fd >= 0 ? &fd : NULL, fd >= 0);
}

static gboolean peer_send_setup(HrpcdIvshmemPeer *p, GError **error)
{
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
	int rc;

	/* QEMU reads all of it at once; a peer that does not must not block us. */
	setsockopt(p->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = send_msg(p->sock, HRPC_IVSHMEM_PROTOCOL_VERSION, -1);
	if (!rc)
		rc = send_msg(p->sock, HRPC_IVSHMEM_GUEST_ID, -1);
	if (!rc)
		rc = send_msg(p->sock, -1, p->shm_fd);
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS && !rc; v++)
		rc = send_msg(p->sock, HRPC_IVSHMEM_HOST_ID, p->host_fd[v]);
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS && !rc; v++)
		rc = send_msg(p->sock, HRPC_IVSHMEM_GUEST_ID, p->guest_fd[v]);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot send the ivshmem set-up: %s", g_strerror(-rc));
		return FALSE;
	}
	return TRUE;
}

static void drop_peer(HrpcdIvshmemServer *srv)
{
	HrpcdIvshmemPeer *p = g_steal_pointer(&srv->peer);

	if (!p)
		return;
	if (srv->cb.peer_gone)
		srv->cb.peer_gone(srv, p, srv->user_data);
	peer_free(p);
}

static gboolean peer_event(gint fd, GIOCondition cond, gpointer user_data)
{
	HrpcdIvshmemServer *srv = user_data;
	char buf[64];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* QEMU sends nothing after the set-up; drop whatever comes. */
	if (n > 0 || (n < 0 && errno == EAGAIN))
		return G_SOURCE_CONTINUE;
	g_debug("ivshmem %s: QEMU (pid %ld) disconnected", srv->name, (long)srv->peer->pid);
	/* peer_free() destroys this source; do not let it unref it twice. */
	g_clear_pointer(&srv->peer->watch, g_source_unref);
	drop_peer(srv);
	return G_SOURCE_REMOVE;
}

/* Watch for QEMU's hang-up and tell the owner. */
static void peer_install(HrpcdIvshmemServer *srv, HrpcdIvshmemPeer *p)
{
	p->watch = g_unix_fd_source_new(p->sock, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(p->watch, G_SOURCE_FUNC(peer_event), srv, NULL);
	g_source_attach(p->watch, srv->ctx);
	srv->peer = p;
	if (srv->cb.peer_new)
		srv->cb.peer_new(srv, p, srv->user_data);
}

/* Has the attached QEMU hung up (EOF or a socket error), even if its watch
 * has not run yet?  Stray bytes are peer_event()'s to drop, not a hang-up. */
static gboolean peer_hung_up(HrpcdIvshmemPeer *p)
{
	char c;
	ssize_t n;

	do
		n = recv(p->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void accept_one(HrpcdIvshmemServer *srv, int sock, pid_t pid)
{
	g_autoptr(GError) error = NULL;
	HrpcdIvshmemPeer *p;

	/* A QEMU restarted at once can connect before the main loop got to the
	 * old one's hang-up: let the old one go first. */
	if (srv->peer && peer_hung_up(srv->peer)) {
		g_debug("ivshmem %s: QEMU (pid %ld) disconnected", srv->name, (long)srv->peer->pid);
		drop_peer(srv);
	}
	if (srv->peer) {
		g_warning("ivshmem %s: refusing a second connection (pid %ld) while QEMU pid %ld "
			  "is attached", srv->name, (long)pid, (long)srv->peer->pid);
		close(sock);
		return;
	}
	p = peer_new(srv->name, sock, pid, srv->shm_size, &error);
	if (!p || !peer_send_setup(p, &error)) {
		g_warning("ivshmem %s: %s", srv->name, error->message);
		if (p)
			peer_free(p);
		else
			close(sock);
		return;
	}
	g_debug("ivshmem %s: QEMU (pid %ld) attached, %zu bytes shared", srv->name, (long)pid,
		srv->shm_size);
	peer_install(srv, p);
}

static gboolean accept_event(gint fd, GIOCondition cond, gpointer user_data)
{
	HrpcdIvshmemServer *srv = user_data;
	pid_t pid;
	int c;

	while ((c = hrpcd_listen_socket_accept(fd, &pid)) >= 0)
		accept_one(srv, c, pid);
	if (errno != EAGAIN)
		g_warning("ivshmem %s: accept: %s", srv->name, g_strerror(errno));
	return G_SOURCE_CONTINUE;
}

/* ---- server ------------------------------------------------------------- */

HrpcdIvshmemServer *hrpcd_ivshmem_server_new(const char *name, const char *path,
					     gsize shm_size, GMainContext *ctx,
					     const HrpcdIvshmemCallbacks *cb, gpointer user_data,
					     GError **error)
{
	g_autoptr(HrpcdIvshmemServer) srv = g_new0(HrpcdIvshmemServer, 1);

	srv->listen_fd = -1;
	srv->name = g_strdup(name);
	srv->path = g_strdup(path);
	srv->shm_size = shm_size ? shm_size : HRPCD_IVSHMEM_DEFAULT_SIZE;
	srv->ctx = ctx ? g_main_context_ref(ctx) : NULL;
	if (cb)
		srv->cb = *cb;
	srv->user_data = user_data;
	if (!hrpcd_ivshmem_size_valid(srv->shm_size, error))
		return NULL;
	/* Whoever connects gets the guest's memory: owner only.  (Under
	 * libvirt QEMU may run as another user: see share_group().) */
	srv->listen_fd = hrpcd_listen_socket_open(path, 0600, error);
	if (srv->listen_fd < 0)
		return NULL;
	srv->accept_src = g_unix_fd_source_new(srv->listen_fd, G_IO_IN);
	g_source_set_callback(srv->accept_src, G_SOURCE_FUNC(accept_event), srv, NULL);
	g_source_attach(srv->accept_src, ctx);
	return g_steal_pointer(&srv);
}

gboolean hrpcd_ivshmem_server_share_group(HrpcdIvshmemServer *srv, gid_t gid, GError **error)
{
	/* Never group-accessible while it is another group's. */
	if (chown(srv->path, (uid_t)-1, gid) < 0 || chmod(srv->path, 0660) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot give %s to group %lu: %s", srv->path, (unsigned long)gid,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* The path a listening unix socket is bound to, or NULL. */
static char *listening_path(int fd)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	int type = 0, acc = 0;
	socklen_t ilen = sizeof(int);

	memset(&a, 0, sizeof(a));
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0 || type != SOCK_STREAM)
		return NULL;
	ilen = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &ilen) < 0 || !acc)
		return NULL;
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0 || a.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || !a.sun_path[0])
		return NULL;
	return g_strndup(a.sun_path, len - offsetof(struct sockaddr_un, sun_path));
}

HrpcdIvshmemServer *hrpcd_ivshmem_server_adopt(const char *name, int listen_fd, gsize shm_size,
					       GMainContext *ctx,
					       const HrpcdIvshmemCallbacks *cb,
					       gpointer user_data, GError **error)
{
	g_autoptr(HrpcdIvshmemServer) srv = g_new0(HrpcdIvshmemServer, 1);

	srv->listen_fd = listen_fd;
	/* Never unlink a path we did not verify as ours. */
	srv->leave_socket = TRUE;
	srv->name = g_strdup(name);
	srv->path = listening_path(listen_fd);
	srv->shm_size = shm_size ? shm_size : HRPCD_IVSHMEM_DEFAULT_SIZE;
	srv->ctx = ctx ? g_main_context_ref(ctx) : NULL;
	if (cb)
		srv->cb = *cb;
	srv->user_data = user_data;
	if (!srv->path) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "descriptor %d is not a listening unix stream socket with a path",
			    listen_fd);
		return NULL;
	}
	if (!hrpcd_ivshmem_size_valid(srv->shm_size, error))
		return NULL;
	srv->leave_socket = FALSE;
	/* The descriptor's flags are shared with its other copies; accept
	 * must not block, whoever set them. */
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	srv->accept_src = g_unix_fd_source_new(srv->listen_fd, G_IO_IN);
	g_source_set_callback(srv->accept_src, G_SOURCE_FUNC(accept_event), srv, NULL);
	g_source_attach(srv->accept_src, ctx);
	return g_steal_pointer(&srv);
}

gboolean hrpcd_ivshmem_server_adopt_peer(HrpcdIvshmemServer *srv, int sock, int shm_fd,
					 const int *host_fd, const int *guest_fd,
					 GError **error)
{
	g_autoptr(HrpcdIvshmemPeer) p = g_new0(HrpcdIvshmemPeer, 1);
	struct pollfd pfd = { .fd = sock, .events = POLLIN | POLLRDHUP };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;

	/* From here on the peer owns (and on failure closes) every fd. */
	p->sock = sock;
	p->shm_fd = shm_fd;
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		p->host_fd[v] = host_fd[v];
		p->guest_fd[v] = guest_fd[v];
	}
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		p->pid = cred.pid;
	if (srv->peer) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			    "QEMU pid %ld is attached already", (long)srv->peer->pid);
		return FALSE;
	}
	if (sock < 0 || shm_fd < 0 || fstat(shm_fd, &st) < 0 ||
	    !hrpcd_ivshmem_size_valid((guint64)st.st_size, NULL)) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				    "no usable shared memory");
		return FALSE;
	}
	p->shm_size = (gsize)st.st_size;
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		if (p->host_fd[v] < 0 || p->guest_fd[v] < 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				    "eventfds of vector %d missing", v);
			return FALSE;
		}
	}
	/* A QEMU that left meanwhile: nothing to adopt. */
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
			    "QEMU (pid %ld) is gone", (long)p->pid);
		return FALSE;
	}
	g_debug("ivshmem %s: QEMU (pid %ld) adopted, %zu bytes shared", srv->name, (long)p->pid,
		p->shm_size);
	peer_install(srv, g_steal_pointer(&p));
	return TRUE;
}

void hrpcd_ivshmem_server_free(HrpcdIvshmemServer *srv)
{
	if (!srv)
		return;
	drop_peer(srv);
	if (srv->accept_src) {
		g_source_destroy(srv->accept_src);
		g_source_unref(srv->accept_src);
	}
	hrpcd_listen_socket_close(srv->listen_fd,
				  srv->listen_fd >= 0 && !srv->leave_socket ? srv->path : NULL);
	if (srv->ctx)
		g_main_context_unref(srv->ctx);
	g_free(srv->path);
	g_free(srv->name);
	g_free(srv);
}

const char *hrpcd_ivshmem_server_name(HrpcdIvshmemServer *srv)
{
	return srv->name;
}

const char *hrpcd_ivshmem_server_path(HrpcdIvshmemServer *srv)
{
	return srv->path;
}

gsize hrpcd_ivshmem_server_shm_size(HrpcdIvshmemServer *srv)
{
	return srv->shm_size;
}

gboolean hrpcd_ivshmem_server_set_shm_size(HrpcdIvshmemServer *srv, gsize shm_size,
					   GError **error)
{
	if (!shm_size)
		shm_size = HRPCD_IVSHMEM_DEFAULT_SIZE;
	if (!hrpcd_ivshmem_size_valid(shm_size, error))
		return FALSE;
	srv->shm_size = shm_size;
	return TRUE;
}

int hrpcd_ivshmem_server_listen_fd(HrpcdIvshmemServer *srv)
{
	return srv->listen_fd;
}

void hrpcd_ivshmem_server_leave_socket(HrpcdIvshmemServer *srv)
{
	srv->leave_socket = TRUE;
}

HrpcdIvshmemPeer *hrpcd_ivshmem_server_peer(HrpcdIvshmemServer *srv)
{
	return srv->peer;
}

int hrpcd_ivshmem_peer_shm_fd(HrpcdIvshmemPeer *peer)
{
	return peer->shm_fd;
}

gsize hrpcd_ivshmem_peer_shm_size(HrpcdIvshmemPeer *peer)
{
	return peer->shm_size;
}

int hrpcd_ivshmem_peer_host_fd(HrpcdIvshmemPeer *peer, unsigned int v)
{
	return v < HRPC_IVSHMEM_NR_VECTORS ? peer->host_fd[v] : -1;
}

int hrpcd_ivshmem_peer_guest_fd(HrpcdIvshmemPeer *peer, unsigned int v)
{
	return v < HRPC_IVSHMEM_NR_VECTORS ? peer->guest_fd[v] : -1;
}

pid_t hrpcd_ivshmem_peer_pid(HrpcdIvshmemPeer *peer)
{
	return peer->pid;
}

int hrpcd_ivshmem_peer_sock(HrpcdIvshmemPeer *peer)
{
	return peer->sock;
}
