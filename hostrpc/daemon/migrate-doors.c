/* SPDX-License-Identifier: MIT */
/*
 * migrate-doors.c - where hostrpc-migrate reaches a guest's worker
 * (migrate-doors.h).  The supervisor only routes: it reads one fixed-size
 * record from each connection (which guest), never waits for it (a source
 * per connection, a deadline), and hands the connection to the worker,
 * which speaks include/hostrpc/migrate.h on it.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/miglink.h"
#include "hostrpc/migrate.h"
#include "hostrpc/daemon/listen-socket.h"
#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/migrate-doors.h"
#include "hostrpc/daemon/worker-ctl.h"

/* A connection that has not said which guest within this long is dropped. */
#define INTRO_TIMEOUT_MS 5000
/* Connections waiting to say which guest, per door. */
#define MAX_WAITING 16

struct _HrpcdMigrateDoors {
	HrpcdSupervisor *sup;
	char *port_path;
	int port_fd;              /* unix SOCK_SEQPACKET, 0600: hostrpc-migrate, source */
	GSource *port_src;
	int link_fd;              /* TCP: the source host's hostrpc-migrate, destination */
	GSource *link_src;
	GList *waiting;           /* of Waiting */
};

typedef struct {
	HrpcdMigrateDoors *doors;
	int fd;
	gboolean is_link;
	guint8 buf[sizeof(struct hrpc_mig_intro)];
	gsize have;
	GSource *src;
	guint deadline;
} Waiting;

static void waiting_free(Waiting *w, gboolean close_fd)
{
	w->doors->waiting = g_list_remove(w->doors->waiting, w);
	g_clear_handle_id(&w->deadline, g_source_remove);
	if (w->src) {
		g_source_destroy(w->src);
		g_source_unref(w->src);
	}
	if (close_fd && w->fd >= 0)
		close(w->fd);
	g_free(w);
}

static gboolean waiting_timeout(gpointer data)
{
	Waiting *w = data;

	w->deadline = 0;
	g_message("migration %s: a connection said nothing for %d ms; dropped",
		  w->is_link ? "link" : "port", INTRO_TIMEOUT_MS);
	waiting_free(w, TRUE);
	return G_SOURCE_REMOVE;
}

/* The source: give the worker of the guest the port. */
static void port_route(Waiting *wt)
{
	HrpcdGuestTable *guests = hrpcd_supervisor_guests(wt->doors->sup);
	struct hrpc_mig_open o;
	struct hrpc_mig_status st = { .status = 0 };
	struct hrpc_mig_msg m = { .type = HRPC_MIG_STATUS, .len = sizeof(st) };
	guint8 reply[sizeof(m) + sizeof(st)];
	HrpcdGuest *g;
	int rc;

	memcpy(&o, wt->buf, sizeof(o));
	if (o.magic != HRPC_MIG_PORT_MAGIC || o.version != HRPC_MIG_VERSION ||
	    !memchr(o.guest, 0, sizeof(o.guest))) {
		st.status = -EPROTO;
		g_strlcpy(st.message, "not a hostrpc-migrate request", sizeof(st.message));
	} else if (!(g = hrpcd_guest_table_find_name(guests, o.guest))) {
		st.status = -ENOENT;
		g_snprintf(st.message, sizeof(st.message), "no guest named %s here", o.guest);
	} else if ((rc = hrpcd_worker_ctl_pass_port(hrpcd_supervisor_worker_ctl(wt->doors->sup),
						    g->id, wt->fd)) < 0) {
		st.status = rc;
		g_snprintf(st.message, sizeof(st.message), "guest %s has no worker now", o.guest);
	} else {
		hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
				"hostrpc-migrate connected: port handed to the worker");
		hrpcd_supervisor_migration_begin(wt->doors->sup, g, FALSE);
		waiting_free(wt, TRUE);
		return;
	}
	memcpy(reply, &m, sizeof(m));
	memcpy(reply + sizeof(m), &st, sizeof(st));
	if (send(wt->fd, reply, sizeof(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		g_debug("migration port: cannot answer: %s", g_strerror(errno));
	waiting_free(wt, TRUE);
}

/* The destination: an incoming link for the guest the intro names. */
static void link_route(Waiting *wt)
{
	HrpcdGuestTable *guests = hrpcd_supervisor_guests(wt->doors->sup);
	g_autoptr(GError) error = NULL;
	struct hrpc_mig_intro in;
	g_autofree char *hex = NULL;
	HrpcdGuest *g;

	memcpy(&in, wt->buf, sizeof(in));
	if (hrpc_mig_intro_check(&in) < 0) {
		g_message("migration link: not a hostrpc-migrate intro; dropped");
		waiting_free(wt, TRUE);
		return;
	}
	g = hrpcd_guest_table_find_name(guests, in.guest);
	if (!g) {
		g_message("migration link: no guest named %s here; dropped", in.guest);
		waiting_free(wt, TRUE);
		return;
	}
	hex = g_malloc(2 * sizeof(in) + 1);
	for (gsize i = 0; i < sizeof(in); i++)
		g_snprintf(hex + 2 * i, 3, "%02x", wt->buf[i]);
	if (!hrpcd_supervisor_migrate_in(wt->doors->sup, g, wt->fd, hex, &error)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name,
				"incoming migration refused: %s", error->message);
		waiting_free(wt, TRUE);
		return;
	}
	hrpcd_supervisor_migration_begin(wt->doors->sup, g, TRUE);
	waiting_free(wt, FALSE);   /* the guest's next worker has it */
}

static gboolean waiting_event(gint fd, GIOCondition cond, gpointer data)
{
	Waiting *w = data;
	ssize_t n;

	n = recv(fd, w->buf + w->have, sizeof(w->buf) - w->have, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		waiting_free(w, TRUE);
		return G_SOURCE_REMOVE;
	}
	w->have += (gsize)n;
	/* The port is a SOCK_SEQPACKET: one message, all or nothing. */
	if (!w->is_link && w->have != sizeof(struct hrpc_mig_open)) {
		waiting_free(w, TRUE);
		return G_SOURCE_REMOVE;
	}
	if (w->is_link && w->have < sizeof(struct hrpc_mig_intro))
		return G_SOURCE_CONTINUE;
	/* Routing frees `w` and its source. */
	g_source_destroy(w->src);
	g_source_unref(w->src);
	w->src = NULL;
	if (w->is_link)
		link_route(w);
	else
		port_route(w);
	return G_SOURCE_REMOVE;
}

static gboolean door_event(gint lfd, GIOCondition cond, gpointer data)
{
	HrpcdMigrateDoors *d = data;
	gboolean is_link = lfd == d->link_fd;
	Waiting *w;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return G_SOURCE_CONTINUE;
	if (g_list_length(d->waiting) >= MAX_WAITING) {
		close(fd);
		return G_SOURCE_CONTINUE;
	}
	if (is_link) {
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	w = g_new0(Waiting, 1);
	w->doors = d;
	w->fd = fd;
	w->is_link = is_link;
	w->src = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(w->src, G_SOURCE_FUNC(waiting_event), w, NULL);
	g_source_attach(w->src, NULL);
	w->deadline = g_timeout_add(INTRO_TIMEOUT_MS, waiting_timeout, w);
	d->waiting = g_list_prepend(d->waiting, w);
	return G_SOURCE_CONTINUE;
}

static GSource *door_watch(HrpcdMigrateDoors *d, int fd)
{
	GSource *src = g_unix_fd_source_new(fd, G_IO_IN);

	g_source_set_callback(src, G_SOURCE_FUNC(door_event), d, NULL);
	g_source_set_name(src, "hostrpcd-migrate-door");
	g_source_attach(src, NULL);
	return src;
}

static int link_open(const char *hostport, GError **error)
{
	g_autofree char *host = NULL, *port = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	const char *colon = strrchr(hostport, ':');
	int fd = -1, one = 1, rc;

	if (!colon || colon == hostport || !colon[1]) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "--migrate-listen wants HOST:PORT, not %s", hostport);
		return -1;
	}
	host = g_strndup(hostport, (gsize)(colon - hostport));
	port = g_strdup(colon + 1);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "--migrate-listen %s: %s", hostport, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 8) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
			    "cannot listen for migrations on %s: %s", hostport, g_strerror(e));
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

HrpcdMigrateDoors *hrpcd_migrate_doors_new(HrpcdSupervisor *sup, const char *port_path,
					   const char *listen_addr, GError **error)
{
	g_autoptr(HrpcdMigrateDoors) d = g_new0(HrpcdMigrateDoors, 1);

	d->sup = sup;
	d->port_fd = d->link_fd = -1;
	if (port_path) {
		d->port_fd = hrpcd_listen_socket_open_type(port_path, SOCK_SEQPACKET, 0600, error);
		if (d->port_fd < 0)
			return NULL;
		d->port_path = g_strdup(port_path);
		d->port_src = door_watch(d, d->port_fd);
	}
	if (listen_addr) {
		d->link_fd = link_open(listen_addr, error);
		if (d->link_fd < 0)
			return NULL;
		d->link_src = door_watch(d, d->link_fd);
	}
	return g_steal_pointer(&d);
}

void hrpcd_migrate_doors_free(HrpcdMigrateDoors *d)
{
	if (!d)
		return;
	while (d->waiting)
		waiting_free(d->waiting->data, TRUE);
	if (d->port_src) {
		g_source_destroy(d->port_src);
		g_source_unref(d->port_src);
	}
	if (d->link_src) {
		g_source_destroy(d->link_src);
		g_source_unref(d->link_src);
	}
	if (d->port_fd >= 0)
		hrpcd_listen_socket_close(d->port_fd, d->port_path);
	if (d->link_fd >= 0)
		close(d->link_fd);
	g_free(d->port_path);
	g_free(d);
}
