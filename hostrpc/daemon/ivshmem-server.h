/* SPDX-License-Identifier: MIT */
/*
 * ivshmem-server.h - the server side of QEMU's ivshmem-doorbell protocol
 * (QEMU docs/specs/ivshmem-spec.rst) for one named guest.
 *
 * An HrpcdIvshmemServer listens on a unix socket for exactly one QEMU (one
 * guest).  When QEMU connects it creates the guest's shared memory (a sealed
 * memfd) and two eventfds per peer, and sends, as int64 messages with fds by
 * SCM_RIGHTS:
 *
 *     0                              protocol version (no fd)
 *     HRPC_IVSHMEM_GUEST_ID (0)      the client's id (no fd) - so master=on works
 *     -1                             + the memfd
 *     HRPC_IVSHMEM_HOST_ID (1)  x2   + our eventfds, vector 0 then 1 (the guest rings these)
 *     HRPC_IVSHMEM_GUEST_ID (0) x2   + the guest's eventfds, vector 0 then 1 (we ring these)
 *
 * The memory and all four eventfds belong to the server object (and thus to
 * the long-lived process that owns it) until QEMU hangs up: QEMU never
 * reconnects, so whoever serves the channel (a worker) gets copies and may
 * come and go.  A second connection while one QEMU is attached is refused.
 * The owner may also keep copies elsewhere (hostrpcd's fd holder) and hand
 * them to a server of a later daemon: hrpcd_ivshmem_server_adopt() and
 * _adopt_peer() take over a listening socket and an attached QEMU.
 *
 * Runs on a GMainContext; independent of workers and of the guest table, so
 * tests can run it in-process.  Errors: gboolean + GError.
 */
#ifndef HOSTRPCD_IVSHMEM_SERVER_H
#define HOSTRPCD_IVSHMEM_SERVER_H

#include <sys/types.h>

#include <glib.h>

#include "hostrpc/ivshmem.h"

#define HRPCD_IVSHMEM_DEFAULT_SIZE (32u << 20)
#define HRPCD_IVSHMEM_MIN_SIZE     (1u << 20)
#define HRPCD_IVSHMEM_MAX_SIZE     (1u << 30)

typedef struct _HrpcdIvshmemServer HrpcdIvshmemServer;
typedef struct _HrpcdIvshmemPeer HrpcdIvshmemPeer;

typedef struct {
	/* QEMU connected and got its set-up.  The peer stays valid until
	 * peer_gone has returned. */
	void (*peer_new)(HrpcdIvshmemServer *srv, HrpcdIvshmemPeer *peer, gpointer user_data);
	/* QEMU hung up (or the server is being freed).  After this returns the
	 * peer's memory and eventfds are closed. */
	void (*peer_gone)(HrpcdIvshmemServer *srv, HrpcdIvshmemPeer *peer, gpointer user_data);
} HrpcdIvshmemCallbacks;

/* Does `size` suit QEMU (power of two) and a Host RPC channel? */
gboolean hrpcd_ivshmem_size_valid(guint64 size, GError **error);

/* Listen on `path` (a stale socket there is replaced; a live one is an
 * error) for the guest `name`.  `shm_size` 0 means the default. */
HrpcdIvshmemServer *hrpcd_ivshmem_server_new(const char *name, const char *path,
					     gsize shm_size, GMainContext *ctx,
					     const HrpcdIvshmemCallbacks *cb, gpointer user_data,
					     GError **error);
/* Serve on a socket that is listening already (kept by the fd holder across
 * a daemon restart): the path stays the inode QEMU and libvirt know.  Takes
 * `listen_fd` in all cases; its path comes from getsockname(). */
HrpcdIvshmemServer *hrpcd_ivshmem_server_adopt(const char *name, int listen_fd, gsize shm_size,
					       GMainContext *ctx,
					       const HrpcdIvshmemCallbacks *cb,
					       gpointer user_data, GError **error);
/* Take over a QEMU that got its set-up from an earlier server (this daemon
 * before a restart): no set-up is sent, peer_new runs as for a fresh one.
 * Takes every descriptor in all cases.  G_IO_ERROR_BROKEN_PIPE if QEMU hung
 * up meanwhile. */
gboolean hrpcd_ivshmem_server_adopt_peer(HrpcdIvshmemServer *srv, int sock, int shm_fd,
					 const int *host_fd, const int *guest_fd,
					 GError **error);
/* Drops an attached peer (peer_gone runs), closes and unlinks the socket. */
void hrpcd_ivshmem_server_free(HrpcdIvshmemServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdIvshmemServer, hrpcd_ivshmem_server_free)
/* Let free() leave the socket file alone: another process (the fd holder)
 * still listens on it. */
void hrpcd_ivshmem_server_leave_socket(HrpcdIvshmemServer *srv);

const char *hrpcd_ivshmem_server_name(HrpcdIvshmemServer *srv);
const char *hrpcd_ivshmem_server_path(HrpcdIvshmemServer *srv);
/* Let group `gid` connect too (QEMU run by libvirt as an unprivileged user
 * in that group): the socket, created owner-only, becomes the group's and
 * only then 0660. */
gboolean hrpcd_ivshmem_server_share_group(HrpcdIvshmemServer *srv, gid_t gid, GError **error);
gsize hrpcd_ivshmem_server_shm_size(HrpcdIvshmemServer *srv);
/* Size of the memory for the next QEMU (0: default). */
gboolean hrpcd_ivshmem_server_set_shm_size(HrpcdIvshmemServer *srv, gsize shm_size,
					   GError **error);
int hrpcd_ivshmem_server_listen_fd(HrpcdIvshmemServer *srv);
/* The attached peer, or NULL. */
HrpcdIvshmemPeer *hrpcd_ivshmem_server_peer(HrpcdIvshmemServer *srv);

/* The peer's resources; owned by the peer (dup or let a fork inherit them). */
int hrpcd_ivshmem_peer_shm_fd(HrpcdIvshmemPeer *peer);
gsize hrpcd_ivshmem_peer_shm_size(HrpcdIvshmemPeer *peer);
/* Eventfd QEMU signals when the guest rings our vector `v`. */
int hrpcd_ivshmem_peer_host_fd(HrpcdIvshmemPeer *peer, unsigned int v);
/* Eventfd that raises the guest's vector `v` when written. */
int hrpcd_ivshmem_peer_guest_fd(HrpcdIvshmemPeer *peer, unsigned int v);
/* QEMU's pid (SO_PEERCRED), 0 if unknown. */
pid_t hrpcd_ivshmem_peer_pid(HrpcdIvshmemPeer *peer);
/* The connection to QEMU. */
int hrpcd_ivshmem_peer_sock(HrpcdIvshmemPeer *peer);

#endif /* HOSTRPCD_IVSHMEM_SERVER_H */
