/* SPDX-License-Identifier: MIT */
/*
 * supervisor.c - accept guests, fork and reap their workers, hold the
 * ivshmem endpoints (see supervisor.h).
 *
 * Life of a guest:
 *   process guest: accept -> guest + worker -> worker exits -> guest freed.
 *   ivshmem guest: QEMU attaches -> guest + worker -> worker exits ->
 *                  fresh worker (after a back-off if they keep dying young)
 *                  ... -> QEMU hangs up -> worker stopped -> guest freed,
 *                  memory and eventfds closed.
 * The guest is freed only once its worker has been reaped, so its status
 * page and id stay valid for as long as a worker may write the page.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/daemon/ivshmem-server.h"
#include "hostrpc/daemon/listen-socket.h"
#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/supervisor.h"
#include "hostrpc/daemon/worker.h"

/* A worker that lived shorter than this counts as a quick failure; respawns
 * after quick failures back off from RESPAWN_MIN_MS to RESPAWN_MAX_MS. */
#define WORKER_YOUNG_US     (2 * G_USEC_PER_SEC)
#define RESPAWN_MIN_MS      100
#define RESPAWN_MAX_MS      5000
#define STOP_GRACE_MS       2000
#define ACCEPT_PAUSE_MS     200

typedef struct {
	HrpcdSupervisor *sup;
	char *name;
	HrpcdIvshmemServer *server;
	HrpcdGuest *guest;      /* the attached QEMU's guest, or NULL */
	gboolean removing;      /* removed while QEMU was attached: goes when QEMU does */
	guint reap_idle;
} Endpoint;

struct _HrpcdSupervisor {
	char *socket_path;
	char *state_dir;
	gsize memfd_size;
	int listen_fd;
	GSource *accept_src;
	guint accept_pause;
	HrpcdGuestTable *guests;
	GHashTable *endpoints;  /* name -> Endpoint */
};

static void worker_exited(GPid pid, gint wait_status, gpointer user_data);

/* The guest's closure for callbacks: guests do not point back at us. */
typedef struct {
	HrpcdSupervisor *sup;
	HrpcdGuest *guest;
} GuestRef;

static GuestRef *guest_ref_new(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	GuestRef *r = g_new(GuestRef, 1);

	r->sup = sup;
	r->guest = g;
	return r;
}

/* ---- guests and workers --------------------------------------------------- */

static void guest_free(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	Endpoint *ep = g->endpoint;

	if (ep && ep->guest == g)
		ep->guest = NULL;
	if (g->respawn_timer)
		g_source_remove(g->respawn_timer);
	hrpcd_log_guest(G_LOG_LEVEL_DEBUG, g->id, g->name, "freed");
	hrpcd_guest_table_remove(sup->guests, g);
}

static gboolean worker_start(HrpcdSupervisor *sup, HrpcdGuest *g, HrpcdWorkerSpec *spec,
			     GError **error)
{
	pid_t pid;

	spec->workdir = sup->state_dir;
	pid = hrpcd_worker_spawn(spec, error);
	if (!pid)
		return FALSE;
	g->worker_pid = pid;
	g->worker_started_us = g_get_monotonic_time();
	g->child_watch = g_child_watch_add_full(G_PRIORITY_DEFAULT, pid, worker_exited,
						guest_ref_new(sup, g), g_free);
	return TRUE;
}

/* ivshmem: a worker on the memory and eventfds the endpoint holds. */
static gboolean worker_start_ivshmem(HrpcdSupervisor *sup, HrpcdGuest *g, GError **error)
{
	Endpoint *ep = g->endpoint;
	HrpcdIvshmemPeer *peer = ep ? hrpcd_ivshmem_server_peer(ep->server) : NULL;
	HrpcdWorkerSpec spec;

	if (!peer) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
				    "QEMU is no longer attached");
		return FALSE;
	}
	hrpcd_worker_spec_init(&spec, g->id, g->name, HRPC_ADMIN_TRANSPORT_IVSHMEM, g->status_fd);
	spec.shm_fd = hrpcd_ivshmem_peer_shm_fd(peer);
	spec.shm_size = hrpcd_ivshmem_peer_shm_size(peer);
	for (unsigned int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		spec.host_fd[v] = hrpcd_ivshmem_peer_host_fd(peer, v);
		spec.guest_fd[v] = hrpcd_ivshmem_peer_guest_fd(peer, v);
	}
	return worker_start(sup, g, &spec, error);
}

/* The guest is gone: stop its worker; the guest is freed when it is reaped. */
static void guest_stop(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	g->stopping = TRUE;
	if (g->respawn_timer) {
		g_source_remove(g->respawn_timer);
		g->respawn_timer = 0;
	}
	if (!g->worker_pid) {
		guest_free(sup, g);
		return;
	}
	/* The worker has nothing to save: its default SIGTERM action ends it. */
	if (kill(g->worker_pid, SIGTERM) < 0 && errno != ESRCH)
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name, "cannot stop worker %ld: %s",
				(long)g->worker_pid, g_strerror(errno));
}

static gboolean respawn(gpointer user_data)
{
	GuestRef *r = user_data;
	HrpcdGuest *g = r->guest;
	g_autoptr(GError) error = NULL;

	g->respawn_timer = 0;
	/* Stale counters of the dead worker must not show as the new one's. */
	memset(g->status, 0, sizeof(*g->status));
	if (!worker_start_ivshmem(r->sup, g, &error)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name,
				"cannot restart the worker, retrying: %s", error->message);
		g->respawn_timer = g_timeout_add_full(G_PRIORITY_DEFAULT, RESPAWN_MAX_MS, respawn,
						      guest_ref_new(r->sup, g), g_free);
		return G_SOURCE_REMOVE;
	}
	g->restarts++;
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, g->id, g->name,
			"fresh worker %ld on the same memory (restart %u)",
			(long)g->worker_pid, g->restarts);
	return G_SOURCE_REMOVE;
}

static void worker_exited(GPid pid, gint wait_status, gpointer user_data)
{
	GuestRef *r = user_data;
	HrpcdSupervisor *sup = r->sup;
	HrpcdGuest *g = r->guest;
	g_autofree char *how = hrpcd_worker_describe_exit(wait_status);
	gboolean clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
	gint64 lived = g_get_monotonic_time() - g->worker_started_us;
	struct hrpcd_status st;
	guint delay;

	g_spawn_close_pid(pid);
	g->child_watch = 0;
	g->worker_pid = 0;
	hrpcd_guest_read_status(g, &st);   /* settles the name for the log line */
	hrpcd_log_guest(clean || g->stopping ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_WARNING,
			g->id, g->name, "worker %ld %s", (long)pid, how);

	if (g->stopping || g->transport != HRPC_ADMIN_TRANSPORT_IVSHMEM) {
		guest_free(sup, g);
		return;
	}
	/* ivshmem: QEMU is still attached and will not reconnect; give the
	 * guest a fresh worker, backing off if they keep dying young. */
	g->quick_failures = lived < WORKER_YOUNG_US ? g->quick_failures + 1 : 0;
	delay = 0;
	if (g->quick_failures > 1) {
		delay = MIN(RESPAWN_MIN_MS << MIN(g->quick_failures - 2, 6u), RESPAWN_MAX_MS);
		hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
				"%u workers in a row died young; next worker in %u ms",
				g->quick_failures, delay);
	}
	g->respawn_timer = g_timeout_add_full(G_PRIORITY_DEFAULT, delay, respawn,
					      guest_ref_new(sup, g), g_free);
}

/* ---- process guests --------------------------------------------------------- */

static void process_guest_accept(HrpcdSupervisor *sup, int sock, pid_t peer_pid)
{
	g_autoptr(GError) error = NULL;
	HrpcdWorkerSpec spec;
	HrpcdGuest *g;

	g = hrpcd_guest_table_add(sup->guests, HRPC_ADMIN_TRANSPORT_MEMFD, NULL, peer_pid, &error);
	if (!g) {
		g_warning("refusing process guest (pid %ld): %s", (long)peer_pid, error->message);
		close(sock);
		return;
	}
	hrpcd_worker_spec_init(&spec, g->id, g->name, HRPC_ADMIN_TRANSPORT_MEMFD, g->status_fd);
	spec.sock = sock;
	spec.shm_size = sup->memfd_size;
	if (!worker_start(sup, g, &spec, &error)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name, "%s", error->message);
		guest_free(sup, g);
	} else {
		hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
				"process guest pid %ld connected, worker %ld", (long)peer_pid,
				(long)g->worker_pid);
	}
	/* The connection is the worker's now. */
	close(sock);
}

static gboolean accept_resume(gpointer user_data)
{
	HrpcdSupervisor *sup = user_data;

	sup->accept_pause = 0;
	g_source_set_ready_time(sup->accept_src, -1);
	g_source_attach(sup->accept_src, NULL);
	return G_SOURCE_REMOVE;
}

static gboolean accept_event(gint fd, GIOCondition cond, gpointer user_data)
{
	HrpcdSupervisor *sup = user_data;
	pid_t pid;
	int c;

	while ((c = hrpcd_listen_socket_accept(fd, &pid)) >= 0)
		process_guest_accept(sup, c, pid);
	if (errno == EAGAIN)
		return G_SOURCE_CONTINUE;
	g_warning("accepting process guests: %s", g_strerror(errno));
	if (errno != EMFILE && errno != ENFILE && errno != ENOMEM && errno != ENOBUFS)
		return G_SOURCE_CONTINUE;
	/* Out of descriptors: the socket stays readable, so stop watching it
	 * for a moment instead of spinning. */
	g_source_destroy(sup->accept_src);
	g_source_unref(sup->accept_src);
	sup->accept_src = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(sup->accept_src, G_SOURCE_FUNC(accept_event), sup, NULL);
	sup->accept_pause = g_timeout_add(ACCEPT_PAUSE_MS, accept_resume, sup);
	return G_SOURCE_REMOVE;
}

/* ---- ivshmem endpoints ---------------------------------------------------- */

static void endpoint_peer_new(HrpcdIvshmemServer *srv, HrpcdIvshmemPeer *peer, gpointer user_data)
{
	Endpoint *ep = user_data;
	HrpcdSupervisor *sup = ep->sup;
	g_autoptr(GError) error = NULL;
	HrpcdGuest *g;

	g = hrpcd_guest_table_add(sup->guests, HRPC_ADMIN_TRANSPORT_IVSHMEM, ep->name,
				  hrpcd_ivshmem_peer_pid(peer), &error);
	if (!g) {
		g_warning("ivshmem %s: QEMU (pid %ld) attached but gets no worker: %s", ep->name,
			  (long)hrpcd_ivshmem_peer_pid(peer), error->message);
		return;
	}
	g->endpoint = ep;
	ep->guest = g;
	if (!worker_start_ivshmem(sup, g, &error)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name, "%s; retrying", error->message);
		g->respawn_timer = g_timeout_add_full(G_PRIORITY_DEFAULT, RESPAWN_MAX_MS, respawn,
						      guest_ref_new(sup, g), g_free);
		return;
	}
	hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
			"QEMU pid %ld attached on %s (%zu bytes shared), worker %ld",
			(long)g->peer_pid, hrpcd_ivshmem_server_path(srv),
			hrpcd_ivshmem_peer_shm_size(peer), (long)g->worker_pid);
}

static gboolean endpoint_reap(gpointer user_data)
{
	Endpoint *ep = user_data;

	ep->reap_idle = 0;
	g_message("ivshmem endpoint for guest %s removed", ep->name);
	g_hash_table_remove(ep->sup->endpoints, ep->name);
	return G_SOURCE_REMOVE;
}

static void endpoint_peer_gone(HrpcdIvshmemServer *srv, HrpcdIvshmemPeer *peer, gpointer user_data)
{
	Endpoint *ep = user_data;
	HrpcdGuest *g = ep->guest;

	/* Not from within the server's own callback. */
	if (ep->removing && !ep->reap_idle)
		ep->reap_idle = g_idle_add(endpoint_reap, ep);
	if (!g)
		return;
	ep->guest = NULL;
	g->endpoint = NULL;
	hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name, "QEMU detached; stopping the guest");
	guest_stop(ep->sup, g);
}

static const HrpcdIvshmemCallbacks endpoint_callbacks = {
	.peer_new = endpoint_peer_new,
	.peer_gone = endpoint_peer_gone,
};

static void endpoint_free(Endpoint *ep)
{
	if (!ep)
		return;
	if (ep->reap_idle)
		g_source_remove(ep->reap_idle);
	ep->removing = FALSE;
	/* Detaches the guest (peer_gone) before the memory is closed. */
	hrpcd_ivshmem_server_free(ep->server);
	g_free(ep->name);
	g_free(ep);
}

gboolean hrpcd_supervisor_add_endpoint(HrpcdSupervisor *sup, const char *name,
				       const char *path, gsize shm_size, GError **error)
{
	char clean[HRPCD_GUEST_NAME_MAX];
	Endpoint *ep;

	if (!hrpcd_name_sanitize(name, clean, sizeof(clean)) || strcmp(clean, name)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "invalid guest name \"%s\" (use letters, digits, '.', '_', '-')", name);
		return FALSE;
	}
	ep = g_hash_table_lookup(sup->endpoints, name);
	if (ep && ep->removing && !g_strcmp0(hrpcd_ivshmem_server_path(ep->server), path)) {
		/* Removed while its guest ran, and wanted again: keep it. */
		ep->removing = FALSE;
		if (ep->reap_idle)
			g_source_remove(ep->reap_idle);
		ep->reap_idle = 0;
		g_message("ivshmem endpoint for guest %s kept", name);
		return TRUE;
	}
	if (ep) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			    "there already is an endpoint for guest %s", name);
		return FALSE;
	}
	ep = g_new0(Endpoint, 1);
	ep->sup = sup;
	ep->name = g_strdup(name);
	ep->server = hrpcd_ivshmem_server_new(name, path, shm_size, NULL, &endpoint_callbacks,
					      ep, error);
	if (!ep->server) {
		g_prefix_error(error, "ivshmem endpoint %s: ", name);
		endpoint_free(ep);
		return FALSE;
	}
	g_hash_table_insert(sup->endpoints, ep->name, ep);
	g_message("ivshmem endpoint for guest %s on %s (%zu bytes)", name, path,
		  hrpcd_ivshmem_server_shm_size(ep->server));
	return TRUE;
}

gboolean hrpcd_supervisor_remove_endpoint(HrpcdSupervisor *sup, const char *name,
					  GError **error)
{
	Endpoint *ep = g_hash_table_lookup(sup->endpoints, name);

	if (!ep || ep->removing) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			    "no endpoint for guest %s", name);
		return FALSE;
	}
	/* QEMU never reconnects: cutting a running guest off would strand it.
	 * Its endpoint goes when QEMU does. */
	if (hrpcd_ivshmem_server_peer(ep->server)) {
		ep->removing = TRUE;
		g_message("ivshmem endpoint for guest %s will be removed when QEMU detaches", name);
		return TRUE;
	}
	g_hash_table_remove(sup->endpoints, name);
	g_message("ivshmem endpoint for guest %s removed", name);
	return TRUE;
}

guint hrpcd_supervisor_endpoint_count(HrpcdSupervisor *sup)
{
	return g_hash_table_size(sup->endpoints);
}

HrpcdGuestTable *hrpcd_supervisor_guests(HrpcdSupervisor *sup)
{
	return sup->guests;
}

/* ---- life cycle ------------------------------------------------------------- */

HrpcdSupervisor *hrpcd_supervisor_new(const HrpcdSupervisorConfig *cfg, GError **error)
{
	g_autoptr(HrpcdSupervisor) sup = g_new0(HrpcdSupervisor, 1);

	sup->listen_fd = -1;
	sup->state_dir = g_strdup(cfg->state_dir);
	sup->memfd_size = cfg->memfd_size;
	sup->guests = hrpcd_guest_table_new(cfg->max_guests ? cfg->max_guests
							    : HRPCD_DEFAULT_MAX_GUESTS);
	sup->endpoints = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					       (GDestroyNotify)endpoint_free);
	if (cfg->socket_path) {
		sup->socket_path = g_strdup(cfg->socket_path);
		sup->listen_fd = hrpcd_listen_socket_open(cfg->socket_path, 0660, error);
		if (sup->listen_fd < 0)
			return NULL;
		sup->accept_src = g_unix_fd_source_new(sup->listen_fd, G_IO_IN);
		g_source_set_callback(sup->accept_src, G_SOURCE_FUNC(accept_event), sup, NULL);
		g_source_attach(sup->accept_src, NULL);
	}
	return g_steal_pointer(&sup);
}

/* Wait for the stopped workers; SIGKILL those that outstay the grace period. */
static void reap_all(HrpcdSupervisor *sup)
{
	GPtrArray *guests = hrpcd_guest_table_guests(sup->guests);
	gint64 deadline = g_get_monotonic_time() + STOP_GRACE_MS * 1000;
	gboolean killed = FALSE;

	for (;;) {
		guint running = 0;

		for (guint i = 0; i < guests->len; i++) {
			HrpcdGuest *g = g_ptr_array_index(guests, i);
			int status;

			if (!g->worker_pid)
				continue;
			if (waitpid(g->worker_pid, &status, WNOHANG) == 0) {
				running++;
				continue;
			}
			g->worker_pid = 0;
		}
		if (!running)
			return;
		if (!killed && g_get_monotonic_time() >= deadline) {
			for (guint i = 0; i < guests->len; i++) {
				HrpcdGuest *g = g_ptr_array_index(guests, i);

				if (g->worker_pid)
					kill(g->worker_pid, SIGKILL);
			}
			killed = TRUE;
		}
		g_usleep(10000);
	}
}

void hrpcd_supervisor_free(HrpcdSupervisor *sup)
{
	GPtrArray *guests;

	if (!sup)
		return;
	if (sup->accept_pause)
		g_source_remove(sup->accept_pause);
	if (sup->accept_src) {
		g_source_destroy(sup->accept_src);
		g_source_unref(sup->accept_src);
	}
	hrpcd_listen_socket_close(sup->listen_fd, sup->socket_path);
	/* Endpoints first: their guests stop as if QEMU had left. */
	g_clear_pointer(&sup->endpoints, g_hash_table_unref);

	guests = hrpcd_guest_table_guests(sup->guests);
	for (guint i = 0; i < guests->len; i++) {
		HrpcdGuest *g = g_ptr_array_index(guests, i);

		if (g->child_watch) {
			g_source_remove(g->child_watch);
			g->child_watch = 0;
		}
		if (g->respawn_timer) {
			g_source_remove(g->respawn_timer);
			g->respawn_timer = 0;
		}
		g->stopping = TRUE;
		if (g->worker_pid)
			kill(g->worker_pid, SIGTERM);
	}
	reap_all(sup);
	hrpcd_guest_table_free(sup->guests);
	g_free(sup->socket_path);
	g_free(sup->state_dir);
	g_free(sup);
}
