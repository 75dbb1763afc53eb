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
 * A guest leaves the table only once its worker has been reaped (or, when
 * the daemon stops, is being reaped by reap_all()), and only through
 * guest_free(), which first cancels every source the guest owns.  Each of
 * those sources holds a reference on the guest (GuestRef) and an attached
 * endpoint holds one in ep->guest, so no callback and no endpoint can reach
 * a freed guest in any order of QEMU detach, worker exit, endpoint removal
 * and daemon stop (guest-table.h).
 *
 * The fd holder (fdstore.h) mirrors the endpoints: a listening socket is
 * stored when it is bound, a QEMU's connection, memfd and eventfds as soon
 * as QEMU has its set-up; they are forgotten when QEMU or the endpoint goes,
 * and left there when the daemon stops.  If the holder goes away, a new one
 * is started (or the old one reconnected) and everything stored again.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/daemon/audit-sink.h"
#include "hostrpc/daemon/worker-ctl.h"
#include "hostrpc/daemon/fdstore.h"
#include "hostrpc/daemon/ivshmem-server.h"
#include "hostrpc/daemon/listen-socket.h"
#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/sandbox.h"
#include "hostrpc/daemon/supervisor.h"
#include "hostrpc/daemon/worker.h"
#include "hostrpc/daemon/xen-domains.h"
#include "hostrpc/migrate.h"
#include "hostrpc/xen.h"
#include "migrate/link.h"

/* A worker that lived shorter than this counts as a quick failure; respawns
 * after quick failures back off from RESPAWN_MIN_MS to RESPAWN_MAX_MS. */
#define WORKER_YOUNG_US     (2 * G_USEC_PER_SEC)
#define RESPAWN_MIN_MS      100
#define RESPAWN_MAX_MS      5000
#define STOP_GRACE_MS       2000
#define ACCEPT_PAUSE_MS     200
#define FDSTORE_RETRY_MS    5000
/* Process guests: a connection that has not said HELLO by the deadline is
 * dropped, and at most a quarter of the table (at least 1) may be waiting
 * for theirs, so silent connections cannot fill it. */
#define HELLO_TIMEOUT_S_DEFAULT 10

typedef struct {
	HrpcdSupervisor *sup;
	char *name;
	HrpcdIvshmemServer *server;
	HrpcdGuest *guest;      /* the attached QEMU's guest (a reference), or NULL */
	gboolean removing;      /* removed while QEMU was attached: goes when QEMU does */
	gboolean adopted;       /* from the fd holder, not claimed yet by the configuration */
	gboolean name_reserved; /* in the guest table's reserved names */
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

	/* the fd holder */
	char *fdstore_path;     /* NULL: none configured */
	guint fdstore_idle_s;
	gboolean fdstore_syslog;
	HrpcdFdstore *fdstore;  /* NULL: none, or lost (then fdstore_retry runs) */
	GSource *fdstore_watch;
	guint fdstore_retry;
	gboolean adopting;      /* peer_new of a QEMU adopted from the holder */
	gboolean shutting_down; /* leave everything with the holder */

	/* workers' confinement (sandbox.h) and audit logs (audit-sink.h) */
	guint32 worker_uid_base;
	HrpcdAuditSinks *audit;
	char *sock_policy_dir;  /* absolute */
	char *fs_policy_dir;    /* absolute */
	char *mem_policy_dir;   /* absolute */
	char *guest_policy_dir; /* absolute; guests/NAME.conf (guest-policy.h) */
	HrpcdWorkerCtl *ctl;    /* each worker's control channel (worker-ctl.h) */
	int mntns_fd;           /* the workers' mount namespace (sandbox.h); -1: none */
	int gate_fd;            /* the workers' spinner count page (worker.h); -1: none */
	guint32 poll_max_ns, poll_spinners;
	guint hello_timeout_s;  /* process guests' HELLO deadline */
	gid_t endpoint_gid;     /* 0: endpoints are owner-only */
	guint max_guests;
	char *migrate_key;      /* the per-pair key incoming migrations prove; NULL: none */
	GQueue migrations;      /* of MigRecord, the last MIGRATIONS_KEPT, oldest first */
	guint32 next_mig_id;
	HrpcdXenDomains *xen;   /* --xen: the domUs of this host; NULL: off */
};

/* ---- migrations (hostrpcctl migrations) ------------------------------------- */

#define MIGRATIONS_KEPT 64

typedef struct {
	guint32 id, guest_id;
	guint16 direction, state;
	gint64 started_real_us, started_us, ended_us;
	char guest[64];
	char detail[128];
} MigRecord;

void hrpcd_supervisor_migration_begin(HrpcdSupervisor *sup, HrpcdGuest *g, gboolean incoming)
{
	MigRecord *r = g_new0(MigRecord, 1);

	r->id = ++sup->next_mig_id;
	r->guest_id = g->id;
	r->direction = incoming ? HRPC_ADMIN_MIG_IN : HRPC_ADMIN_MIG_OUT;
	r->state = HRPC_ADMIN_MIG_UNDER_WAY;
	r->started_real_us = g_get_real_time();
	r->started_us = g_get_monotonic_time();
	g_strlcpy(r->guest, g->name, sizeof(r->guest));
	g_strlcpy(r->detail, incoming ? "waiting for the source's state" :
		  "hostrpc-migrate talks to the worker", sizeof(r->detail));
	g_queue_push_tail(&sup->migrations, r);
	while (g_queue_get_length(&sup->migrations) > MIGRATIONS_KEPT)
		g_free(g_queue_pop_head(&sup->migrations));
}

/* The guest's migration under way in that direction ends (0: any). */
static void migration_end(HrpcdSupervisor *sup, guint32 guest_id, guint16 direction,
			  guint16 state, const char *detail)
{
	for (GList *l = sup->migrations.tail; l; l = l->prev) {
		MigRecord *r = l->data;

		if (r->guest_id != guest_id || r->state != HRPC_ADMIN_MIG_UNDER_WAY ||
		    (direction && r->direction != direction))
			continue;
		r->state = state;
		r->ended_us = g_get_monotonic_time();
		g_strlcpy(r->detail, detail, sizeof(r->detail));
		return;
	}
}

/* Is the guest's migration in that direction under way? */
static gboolean migration_under_way(HrpcdSupervisor *sup, guint32 guest_id, guint16 direction)
{
	for (GList *l = sup->migrations.tail; l; l = l->prev) {
		MigRecord *r = l->data;

		if (r->guest_id == guest_id && r->direction == direction &&
		    r->state == HRPC_ADMIN_MIG_UNDER_WAY)
			return TRUE;
	}
	return FALSE;
}

/*
 * A remnant's guest moved on to a third host (issue 14, migfwd.h MOVE):
 * its worker lives in the guest's namespace and holds no key, so we open
 * the forward link to the next host for it, with our migration key, in a
 * thread (a connect and a handshake, up to 10 s), and hand it the link's
 * socket and session (HRPCD_CTL_FWD_LINK).  Owned by the GTask; the answer
 * goes only to the worker that asked (same guest id and pid).
 */
typedef struct {
	HrpcdSupervisor *sup;
	guint32 guest_id;
	pid_t pid;
	char name[64];
	char hostport[96];
	char *key_path;
	int rc;
	int fd;
	struct hrpc_mig_fwd_link f;
} FwdConnect;

static void fwd_connect_free(gpointer p)
{
	FwdConnect *fc = p;

	if (fc->fd >= 0)
		close(fc->fd);
	explicit_bzero(&fc->f, sizeof(fc->f));
	g_free(fc->key_path);
	g_free(fc);
}

static void fwd_connect_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
	FwdConnect *fc = data;
	guint8 key[MIG_KEY_SIZE];
	const char *why = NULL;
	mig_link *l = NULL;

	(void)src, (void)c;
	fc->rc = mig_key_load(fc->key_path, key, &why);
	if (fc->rc == 0)
		fc->rc = mig_link_connect(fc->hostport, key, fc->name, 10000, &l);
	explicit_bzero(key, sizeof(key));
	if (fc->rc == 0) {
		struct mig_link_session ses;

		mig_link_session_get(l, &ses);
		memcpy(fc->f.k_send, ses.k_send, sizeof(fc->f.k_send));
		memcpy(fc->f.k_recv, ses.k_recv, sizeof(fc->f.k_recv));
		fc->f.seq_send = ses.seq_send;
		fc->f.seq_recv = ses.seq_recv;
		explicit_bzero(&ses, sizeof(ses));
		fc->fd = dup(mig_link_fd(l));
		if (fc->fd < 0)
			fc->rc = -errno;
	}
	mig_link_free(l);
	g_task_return_boolean(task, TRUE);
}

static void fwd_connect_done(GObject *src, GAsyncResult *res, gpointer data)
{
	FwdConnect *fc = g_task_get_task_data(G_TASK(res));
	HrpcdGuest *g = hrpcd_guest_table_lookup(fc->sup->guests, fc->guest_id);

	(void)src, (void)data;
	if (!g || g->worker_pid != fc->pid)
		return;   /* the worker that asked is gone */
	g->fwd_connecting = FALSE;
	hrpcd_log_guest(fc->rc ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE, g->id, g->name,
			"remnant: forward link to the guest's next host %s: %s", fc->hostport,
			fc->rc ? g_strerror(-fc->rc) : "up");
	if (hrpcd_worker_ctl_send(fc->sup->ctl, fc->guest_id, HRPCD_CTL_FWD_LINK, fc->rc,
				  fc->rc ? NULL : &fc->f, fc->rc ? 0 : sizeof(fc->f), fc->fd) < 0)
		g_debug("guest %u: cannot hand the forward link over", fc->guest_id);
}

static void fwd_connect(HrpcdSupervisor *sup, guint32 guest_id, const char *text)
{
	HrpcdGuest *g = hrpcd_guest_table_lookup(sup->guests, guest_id);
	char host[64];
	unsigned int port = 0;
	FwdConnect *fc;
	GTask *task;
	int rc = 0;

	if (!g || !g->worker_pid)
		return;
	if (!g->remnant || !sup->migrate_key || g->fwd_connecting)
		rc = -EPERM;   /* only a remnant, one at a time, with a key */
	else if (sscanf(text, "%63s %u", host, &port) != 2 || !port || port > 65535 ||
		 !g_hostname_is_ip_address(host))
		rc = -EINVAL;
	else {
		/* Another host's forward listener: never this host's loopback or
		 * an address that is not one host's (the worker is the guest's;
		 * we connect from the host's namespace). */
		g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(host);

		if (!ia || g_inet_address_get_is_loopback(ia) || g_inet_address_get_is_any(ia) ||
		    g_inet_address_get_is_multicast(ia) || g_inet_address_get_is_link_local(ia))
			rc = -EADDRNOTAVAIL;
	}
	if (rc < 0) {
		hrpcd_worker_ctl_send(sup->ctl, guest_id, HRPCD_CTL_FWD_LINK, rc, NULL, 0, -1);
		return;
	}
	fc = g_new0(FwdConnect, 1);
	fc->sup = sup;
	fc->guest_id = guest_id;
	fc->pid = g->worker_pid;
	fc->fd = -1;
	g_strlcpy(fc->name, g->name, sizeof(fc->name));
	g_snprintf(fc->hostport, sizeof(fc->hostport), "%s:%u", host, port);
	fc->key_path = g_strdup(sup->migrate_key);
	g->fwd_connecting = TRUE;
	task = g_task_new(NULL, NULL, fwd_connect_done, NULL);
	g_task_set_task_data(task, fc, fwd_connect_free);
	g_task_run_in_thread(task, fwd_connect_thread);
	g_object_unref(task);
}

static void migration_news(guint32 guest_id, guint32 event, int status, const char *text,
			   gpointer data)
{
	HrpcdSupervisor *sup = data;

	switch (event) {
	case HRPCD_CTL_MIG_OUT_ROLLBACK: {
		HrpcdGuest *g = hrpcd_guest_table_lookup(sup->guests, guest_id);

		migration_end(sup, guest_id, HRPC_ADMIN_MIG_OUT, HRPC_ADMIN_MIG_ROLLED_BACK, text);
		/* Its QEMU left during the migration (guest_stop): the worker
		 * that serves again has no guest to serve. */
		if (g && g->stopping && g->worker_pid)
			kill(g->worker_pid, SIGTERM);
		break;
	}
	case HRPCD_CTL_MIG_IN_DONE: {
		HrpcdGuest *g = hrpcd_guest_table_lookup(sup->guests, guest_id);

		migration_end(sup, guest_id, HRPC_ADMIN_MIG_IN, HRPC_ADMIN_MIG_MIGRATED, text);
		/* From now on an ordinary worker of a guest that runs here. */
		if (g)
			g->mig_worker = FALSE;
		break;
	}
	case HRPCD_CTL_MIG_IN_FAILED:
		migration_end(sup, guest_id, HRPC_ADMIN_MIG_IN, HRPC_ADMIN_MIG_FAILED, text);
		break;
	case HRPCD_CTL_MIG_OUT_FAILED:
		migration_end(sup, guest_id, HRPC_ADMIN_MIG_OUT, HRPC_ADMIN_MIG_FAILED, text);
		break;
	case HRPCD_CTL_MIG_FWD_CONNECT:
		fwd_connect(sup, guest_id, text);
		break;
	case HRPCD_CTL_MIG_OUT_REMNANT: {
		HrpcdGuest *g = hrpcd_guest_table_lookup(sup->guests, guest_id);

		migration_end(sup, guest_id, HRPC_ADMIN_MIG_OUT, HRPC_ADMIN_MIG_MIGRATED, text);
		/* The guest runs elsewhere; its worker stays until the
		 * connections it relays end (guest_stop() lets it). */
		if (g) {
			g->migrated = TRUE;
			g->remnant = TRUE;
		}
		break;
	}
	default:
		break;
	}
	(void)status;
}

guint hrpcd_supervisor_migrations(HrpcdSupervisor *sup, struct hrpc_admin_migration *out,
				  guint max)
{
	guint n = 0;
	gint64 now = g_get_monotonic_time();

	for (GList *l = sup->migrations.head; l && n < max; l = l->next, n++) {
		MigRecord *r = l->data;
		struct hrpc_admin_migration *o = &out[n];

		memset(o, 0, sizeof(*o));
		o->id = r->id;
		o->guest_id = r->guest_id;
		o->direction = r->direction;
		o->state = r->state;
		o->started_unix_ns = (guint64)r->started_real_us * 1000u;
		o->duration_ns = (guint64)((r->ended_us ? r->ended_us : now) - r->started_us) * 1000u;
		g_strlcpy(o->guest, r->guest, sizeof(o->guest));
		g_strlcpy(o->detail, r->detail, sizeof(o->detail));
	}
	return n;
}

static void worker_exited(GPid pid, gint wait_status, gpointer user_data);
static gboolean respawn(gpointer user_data);

/* The closure of a guest's sources: guests do not point back at us.  It
 * holds a reference on the guest, dropped when the source is destroyed. */
typedef struct {
	HrpcdSupervisor *sup;
	HrpcdGuest *guest;
} GuestRef;

static GuestRef *guest_ref_new(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	GuestRef *r = g_new(GuestRef, 1);

	r->sup = sup;
	r->guest = hrpcd_guest_ref(g);
	return r;
}

static void guest_ref_free(gpointer data)
{
	GuestRef *r = data;

	hrpcd_guest_unref(r->guest);
	g_free(r);
}

static guint guest_timeout_add(HrpcdSupervisor *sup, HrpcdGuest *g, guint ms, GSourceFunc fn)
{
	return g_timeout_add_full(G_PRIORITY_DEFAULT, ms, fn, guest_ref_new(sup, g), guest_ref_free);
}

/* ---- the fd holder ------------------------------------------------------- */

static void fdstore_lost(HrpcdSupervisor *sup, const char *why);

static const guint16 peer_roles[] = {
	HRPCD_FDSTORE_CONN, HRPCD_FDSTORE_SHM, HRPCD_FDSTORE_HOST_EVENT, HRPCD_FDSTORE_GUEST_EVENT,
};

static void item_set(HrpcdFdstoreItem *it, const char *name, guint role, guint index,
		     guint64 value, int fd)
{
	memset(it, 0, sizeof(*it));
	g_strlcpy(it->name, name, sizeof(it->name));
	it->role = (guint16)role;
	it->index = (guint16)index;
	it->value = value;
	it->fd = fd;
}

/* Is the holder there to talk to?  (Not while stopping: it keeps it all.) */
static gboolean fdstore_up(HrpcdSupervisor *sup)
{
	return sup->fdstore && !sup->shutting_down;
}

static void fdstore_failed(HrpcdSupervisor *sup, const char *what, GError *error)
{
	g_autofree char *why = g_strdup_printf("%s: %s", what, error->message);

	fdstore_lost(sup, why);
}

static gboolean fdstore_put_endpoint(HrpcdSupervisor *sup, Endpoint *ep)
{
	g_autoptr(GError) error = NULL;
	HrpcdFdstoreItem it;

	if (!fdstore_up(sup))
		return FALSE;
	item_set(&it, ep->name, HRPCD_FDSTORE_LISTEN, 0, hrpcd_ivshmem_server_shm_size(ep->server),
		 hrpcd_ivshmem_server_listen_fd(ep->server));
	if (!hrpcd_fdstore_store(sup->fdstore, &it, 1, &error)) {
		fdstore_failed(sup, ep->name, error);
		return FALSE;
	}
	return TRUE;
}

/* One message: the holder gets all of a QEMU's descriptors or none. */
static gboolean fdstore_put_peer(HrpcdSupervisor *sup, Endpoint *ep, HrpcdIvshmemPeer *peer)
{
	g_autoptr(GError) error = NULL;
	HrpcdFdstoreItem it[2 + 2 * HRPC_IVSHMEM_NR_VECTORS];
	guint n = 0;

	if (!fdstore_up(sup))
		return FALSE;
	item_set(&it[n++], ep->name, HRPCD_FDSTORE_SHM, 0, hrpcd_ivshmem_peer_shm_size(peer),
		 hrpcd_ivshmem_peer_shm_fd(peer));
	for (unsigned int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		item_set(&it[n++], ep->name, HRPCD_FDSTORE_HOST_EVENT, v, 0,
			 hrpcd_ivshmem_peer_host_fd(peer, v));
		item_set(&it[n++], ep->name, HRPCD_FDSTORE_GUEST_EVENT, v, 0,
			 hrpcd_ivshmem_peer_guest_fd(peer, v));
	}
	item_set(&it[n++], ep->name, HRPCD_FDSTORE_CONN, 0, (guint64)hrpcd_ivshmem_peer_pid(peer),
		 hrpcd_ivshmem_peer_sock(peer));
	G_STATIC_ASSERT(G_N_ELEMENTS(it) <= HRPCD_FDSTORE_BATCH);
	if (!hrpcd_fdstore_store(sup->fdstore, it, n, &error)) {
		fdstore_failed(sup, ep->name, error);
		return FALSE;
	}
	return TRUE;
}

/* Forget a QEMU (`peer_only`) or the whole endpoint. */
static void fdstore_forget(HrpcdSupervisor *sup, const char *name, gboolean peer_only)
{
	static const guint16 any = HRPCD_FDSTORE_ANY;
	g_autoptr(GError) error = NULL;

	if (!fdstore_up(sup))
		return;
	if (!hrpcd_fdstore_remove(sup->fdstore, name, peer_only ? peer_roles : &any,
				  peer_only ? G_N_ELEMENTS(peer_roles) : 1, &error))
		fdstore_failed(sup, name, error);
}

static gboolean fdstore_event(gint fd, GIOCondition cond, gpointer user_data)
{
	HrpcdSupervisor *sup = user_data;

	/* It never speaks first: anything but silence means it is gone. */
	g_clear_pointer(&sup->fdstore_watch, g_source_unref);
	fdstore_lost(sup, "it hung up");
	return G_SOURCE_REMOVE;
}

static void fdstore_attach(HrpcdSupervisor *sup, HrpcdFdstore *fs)
{
	sup->fdstore = fs;
	sup->fdstore_watch = g_unix_fd_source_new(hrpcd_fdstore_socket(fs),
						  G_IO_IN | G_IO_HUP | G_IO_ERR);
	g_source_set_callback(sup->fdstore_watch, G_SOURCE_FUNC(fdstore_event), sup, NULL);
	g_source_attach(sup->fdstore_watch, NULL);
}

static void fdstore_detach(HrpcdSupervisor *sup)
{
	if (sup->fdstore_watch) {
		g_source_destroy(sup->fdstore_watch);
		g_clear_pointer(&sup->fdstore_watch, g_source_unref);
	}
	g_clear_pointer(&sup->fdstore, hrpcd_fdstore_close);
}

/* A new session: make the holder hold exactly what we hold.  We keep our own
 * copies throughout, so dropping its old ones strands nobody. */
static gboolean fdstore_resync(HrpcdSupervisor *sup)
{
	g_autoptr(GError) error = NULL;
	GHashTableIter iter;
	gpointer value;

	if (hrpcd_fdstore_held(sup->fdstore)) {
		GArray *old = hrpcd_fdstore_fetch(sup->fdstore, &error);
		g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
								    NULL);

		for (guint i = 0; old && i < old->len; i++)
			g_hash_table_add(names, g_strdup(g_array_index(old, HrpcdFdstoreItem, i).name));
		hrpcd_fdstore_items_free(old);
		if (error) {
			fdstore_failed(sup, "fetch", error);
			return FALSE;
		}
		g_hash_table_iter_init(&iter, names);
		while (sup->fdstore && g_hash_table_iter_next(&iter, &value, NULL))
			fdstore_forget(sup, value, FALSE);
	}
	g_hash_table_iter_init(&iter, sup->endpoints);
	while (sup->fdstore && g_hash_table_iter_next(&iter, NULL, &value)) {
		Endpoint *ep = value;
		HrpcdIvshmemPeer *peer = hrpcd_ivshmem_server_peer(ep->server);

		if (fdstore_put_endpoint(sup, ep) && peer)
			fdstore_put_peer(sup, ep, peer);
	}
	return sup->fdstore != NULL;
}

static gboolean fdstore_reconnect(gpointer user_data)
{
	HrpcdSupervisor *sup = user_data;
	g_autoptr(GError) error = NULL;
	HrpcdFdstore *fs;

	sup->fdstore_retry = 0;
	fs = hrpcd_fdstore_open(sup->fdstore_path, sup->fdstore_idle_s, sup->fdstore_syslog,
				&error);
	if (!fs) {
		g_warning("fd holder: %s; retrying in %u s", error->message, FDSTORE_RETRY_MS / 1000);
		sup->fdstore_retry = g_timeout_add(FDSTORE_RETRY_MS, fdstore_reconnect, sup);
		return G_SOURCE_REMOVE;
	}
	fdstore_attach(sup, fs);
	if (fdstore_resync(sup))
		g_message("fd holder pid %ld on %s holds the %u endpoint(s) again",
			  (long)hrpcd_fdstore_pid(fs), sup->fdstore_path,
			  g_hash_table_size(sup->endpoints));
	return G_SOURCE_REMOVE;
}

/* The holder is gone or misbehaved: a daemon restart now would strand the
 * attached guests, so get one back soon. */
static void fdstore_lost(HrpcdSupervisor *sup, const char *why)
{
	if (!sup->fdstore)
		return;
	g_warning("lost the fd holder (pid %ld): %s; until it is back, restarting hostrpcd "
		  "would strand attached guests", (long)hrpcd_fdstore_pid(sup->fdstore), why);
	fdstore_detach(sup);
	if (!sup->fdstore_retry && !sup->shutting_down)
		sup->fdstore_retry = g_idle_add(fdstore_reconnect, sup);
}

/* ---- guests and workers --------------------------------------------------- */

/* Endpoint and guest forget each other (ep->guest's reference goes). */
static void guest_unlink_endpoint(HrpcdGuest *g)
{
	Endpoint *ep = g->endpoint;

	g->endpoint = NULL;
	if (ep && ep->guest == g)
		g_clear_pointer(&ep->guest, hrpcd_guest_unref);
}

/*
 * The one way a guest leaves: cancel every source it owns, unlink it from
 * its endpoint, take it out of the table.  Its worker must have been reaped
 * already - except while the daemon stops, when reap_all() waits for the
 * workers whose watches were cancelled here.
 */
static void guest_free(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	g_warn_if_fail(!g->worker_pid || sup->shutting_down);
	g_clear_handle_id(&g->respawn_timer, g_source_remove);
	g_clear_handle_id(&g->child_watch, g_source_remove);
	g_clear_handle_id(&g->hello_timer, g_source_remove);
	guest_unlink_endpoint(g);
	hrpcd_audit_sinks_release(sup->audit, g->id);
	hrpcd_worker_ctl_release(sup->ctl, g->id);
	migration_end(sup, g->id, 0, HRPC_ADMIN_MIG_FAILED, "the guest went away");
	hrpcd_log_guest(G_LOG_LEVEL_DEBUG, g->id, g->name, "freed");
	hrpcd_guest_table_remove(sup->guests, g);
}

static gboolean worker_start(HrpcdSupervisor *sup, HrpcdGuest *g, HrpcdWorkerSpec *spec,
			     GError **error)
{
	pid_t pid;

	spec->workdir = sup->state_dir;
	spec->uid = hrpcd_sandbox_guest_uid(sup->worker_uid_base, g->id);
	spec->mntns_fd = sup->mntns_fd;   /* stays ours */
	spec->gate_fd = sup->gate_fd;     /* stays ours */
	spec->poll_max_ns = sup->poll_max_ns;
	spec->poll_spinners = sup->poll_spinners;
	spec->sock_policy_dir = sup->sock_policy_dir;
	spec->fs_policy_dir = sup->fs_policy_dir;
	spec->mem_policy_dir = sup->mem_policy_dir;
	spec->guest_policy_dir = sup->guest_policy_dir;
	spec->nice = hrpcd_worker_guest_nice(g->peer_pid);
	spec->audit_fd = hrpcd_audit_sinks_open(sup->audit, g->id, g->name, error);
	if (spec->audit_fd < 0)
		return FALSE;
	spec->ctl_fd = hrpcd_worker_ctl_open(sup->ctl, g->id, error);
	if (spec->ctl_fd < 0) {
		close(spec->audit_fd);
		spec->audit_fd = -1;
		return FALSE;
	}
	pid = hrpcd_worker_spawn(spec, error);
	close(spec->audit_fd);   /* the worker's now */
	close(spec->ctl_fd);
	spec->audit_fd = spec->ctl_fd = -1;
	if (!pid)
		return FALSE;
	g->worker_pid = pid;
	g->worker_started_us = g_get_monotonic_time();
	if (spec->nice != HRPCD_NICE_KEEP)
		hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
				"worker %ld runs at nice %d, as its guest (pid %ld) does", (long)pid,
				spec->nice, (long)g->peer_pid);
	g->child_watch = g_child_watch_add_full(G_PRIORITY_DEFAULT, pid, worker_exited,
						guest_ref_new(sup, g), guest_ref_free);
	return TRUE;
}

/*
 * A guest migrating in whose earlier worker here stayed as the remnant of
 * connections forwarded to it (issue 14): a channel between the two
 * workers, so that the new one can take those connections back (they
 * become local again).  Our end for the incoming worker, or -1 (none).
 */
static int remnant_channel(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	HrpcdGuest *r = NULL;
	int sv[2];

	for (HrpcdGuest *o = hrpcd_guest_table_next(sup->guests, 0); o;
	     o = o->id < G_MAXUINT32 ? hrpcd_guest_table_next(sup->guests, o->id + 1) : NULL)
		if (o != g && o->remnant && o->worker_pid && !strcmp(o->name, g->name))
			r = o;
	if (!r || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (hrpcd_worker_ctl_pass_fd(sup->ctl, r->id, HRPCD_CTL_REMNANT_PEER, sv[1]) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
			"the remnant of this guest (worker %ld) may hand its connections back",
			(long)r->worker_pid);
	return sv[0];
}

/* xen: a worker on the pages and event channel the domU granted. */
static gboolean worker_start_xen(HrpcdSupervisor *sup, HrpcdGuest *g, GError **error)
{
	HrpcdWorkerSpec spec;

	hrpcd_worker_spec_init(&spec, g->id, g->name, HRPC_ADMIN_TRANSPORT_XEN, g->status_fd);
	spec.xen = g->xen;
	spec.xen_reset_port = g->xen_reset_port;
	spec.shm_size = (gsize)g->xen.nr_pages * HRPC_XEN_PAGE;
	spec.mem_adopt = g->worker_started_us != 0;
	return worker_start(sup, g, &spec, error);
}

static gboolean worker_start_guest(HrpcdSupervisor *sup, HrpcdGuest *g, GError **error);
static HrpcdGuest *guest_next(HrpcdSupervisor *sup, HrpcdGuest *g);

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
	/* The same QEMU had a worker before (a restart, or an earlier daemon's,
	 * adopted from the fd holder), or brings the guest's memory with it
	 * (a migration): its region's data is the guest's. */
	spec.mem_adopt = g->worker_started_us != 0 || sup->adopting || g->mig_fd >= 0;
	for (unsigned int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		spec.host_fd[v] = hrpcd_ivshmem_peer_host_fd(peer, v);
		spec.guest_fd[v] = hrpcd_ivshmem_peer_guest_fd(peer, v);
	}
	g->mig_worker = FALSE;
	if (g->mig_fd >= 0) {
		/* This worker takes the incoming migration (worker-migrate.c). */
		spec.mig_fd = g->mig_fd;
		spec.mig_intro = g->mig_intro;
		spec.mig_key = sup->migrate_key;
		spec.remnant_fd = remnant_channel(sup, g);
	}
	if (!worker_start(sup, g, &spec, error)) {
		if (spec.remnant_fd >= 0)
			close(spec.remnant_fd);
		return FALSE;
	}
	if (spec.remnant_fd >= 0)
		close(spec.remnant_fd);   /* the worker's now */
	if (g->mig_fd >= 0) {
		close(g->mig_fd);   /* the worker's now */
		g->mig_fd = -1;
		g_clear_pointer(&g->mig_intro, g_free);
		g->mig_worker = TRUE;
	}
	return TRUE;
}

gboolean hrpcd_supervisor_migrate_in(HrpcdSupervisor *sup, HrpcdGuest *g, int fd,
				     const char *intro_hex, GError **error)
{
	struct hrpcd_status st;
	Endpoint *ep = g->endpoint;

	if (!sup->migrate_key) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
				    "no --migrate-key: incoming migrations are off");
		return FALSE;
	}
	if (g->transport != HRPC_ADMIN_TRANSPORT_IVSHMEM || !ep ||
	    !hrpcd_ivshmem_server_peer(ep->server)) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
				    "no QEMU attached for this guest");
		return FALSE;
	}
	/* Only a QEMU that waits for a migration: its guest never ran here.
	 * A running guest's channel is not anyone's to take over. */
	if (hrpcd_guest_read_status(g, &st) == HRPC_ADMIN_STATE_NEGOTIATED || g->mig_worker ||
	    g->mig_fd >= 0 || g->stopping || g->migrated) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY,
				    "the guest runs here already, or a migration is under way");
		return FALSE;
	}
	g->mig_fd = fd;
	g->mig_intro = g_strdup(intro_hex);
	g->quick_failures = 0;
	hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, g->id, g->name,
			"incoming migration: replacing worker %ld", (long)g->worker_pid);
	if (g->worker_pid) {
		/* Its exit starts the incoming worker (worker_exited). */
		kill(g->worker_pid, SIGTERM);
		return TRUE;
	}
	g_clear_handle_id(&g->respawn_timer, g_source_remove);
	g->respawn_timer = guest_timeout_add(sup, g, 0, respawn);
	return TRUE;
}

/* The guest is gone: stop its worker; the guest is freed when it is reaped. */
static void guest_stop(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	g->stopping = TRUE;
	g_clear_handle_id(&g->respawn_timer, g_source_remove);
	if (!g->worker_pid) {
		guest_free(sup, g);
		return;
	}
	if (g->remnant) {
		hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, g->id, g->name,
				"QEMU left; worker %ld stays as the remnant of the connections "
				"and files forwarded to the guest's new host", (long)g->worker_pid);
		return;
	}
	if (migration_under_way(sup, g->id, HRPC_ADMIN_MIG_OUT)) {
		/* libvirt ends the source QEMU as soon as the destination has
		 * the memory; the worker still owes hostrpc-migrate the pages
		 * it wrote behind QEMU's back.  It ends by itself (DONE, or the
		 * port's hang-up after the switch); a rollback ends it. */
		hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, g->id, g->name,
				"QEMU left during the guest's migration; the worker ends with it");
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
	/* guest_free() destroys this source: a removed guest cannot get here. */
	g_return_val_if_fail(!hrpcd_guest_removed(g), G_SOURCE_REMOVE);
	/* Stale counters of the dead worker must not show as the new one's. */
	memset(g->status, 0, sizeof(*g->status));
	if (!worker_start_guest(r->sup, g, &error)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name,
				"cannot restart the worker, retrying: %s", error->message);
		g->respawn_timer = guest_timeout_add(r->sup, g, RESPAWN_MAX_MS, respawn);
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
	/* guest_free() destroys this source: a removed guest cannot get here. */
	g_return_if_fail(!hrpcd_guest_removed(g));
	g->worker_pid = 0;
	hrpcd_guest_read_status(g, &st);   /* settles the name for the log line */
	hrpcd_log_guest(clean || g->stopping ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_WARNING,
			g->id, g->name, "worker %ld %s", (long)pid, how);

	/* A worker that ends during a migration ends its part in it: the
	 * source's with status 6 when the guest moved, an incoming one that
	 * did not report success failed. */
	if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == HRPCD_WORKER_EXIT_MIGRATED)
		migration_end(sup, g->id, HRPC_ADMIN_MIG_OUT, HRPC_ADMIN_MIG_MIGRATED,
			      "the guest runs at the destination; this worker ended");
	else
		migration_end(sup, g->id, g->mig_worker ? HRPC_ADMIN_MIG_IN : HRPC_ADMIN_MIG_OUT,
			      HRPC_ADMIN_MIG_FAILED, how);
	if (g->stopping || (g->transport != HRPC_ADMIN_TRANSPORT_IVSHMEM &&
			    g->transport != HRPC_ADMIN_TRANSPORT_XEN)) {
		guest_free(sup, g);
		return;
	}
	if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == HRPCD_WORKER_EXIT_MIGRATED) {
		/* The guest runs elsewhere; its QEMU here ends soon (the
		 * endpoint's hang-up frees the guest).  A fresh worker would
		 * lay a fresh channel over what the destination took. */
		g->migrated = TRUE;
		hrpcd_log_guest(G_LOG_LEVEL_MESSAGE, g->id, g->name,
				"guest migrated away; no new worker");
		return;
	}
	/* ivshmem: QEMU is still attached and will not reconnect (xen: the
	 * frontend still grants its pages); give the guest a fresh worker,
	 * backing off if they keep dying young. */
	g->quick_failures = lived < WORKER_YOUNG_US ? g->quick_failures + 1 : 0;
	delay = 0;
	if (g->quick_failures > 1) {
		delay = MIN(RESPAWN_MIN_MS << MIN(g->quick_failures - 2, 6u), RESPAWN_MAX_MS);
		hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
				"%u workers in a row died young; next worker in %u ms",
				g->quick_failures, delay);
	}
	g->respawn_timer = guest_timeout_add(sup, g, delay, respawn);
}

static gboolean worker_start_guest(HrpcdSupervisor *sup, HrpcdGuest *g, GError **error)
{
	if (g->transport == HRPC_ADMIN_TRANSPORT_XEN)
		return worker_start_xen(sup, g, error);
	return worker_start_ivshmem(sup, g, error);
}

/* ---- xen domains ------------------------------------------------------------ */

#ifdef HAVE_XEN
static HrpcdGuest *xen_guest(HrpcdSupervisor *sup, guint32 domid)
{
	for (HrpcdGuest *g = hrpcd_guest_table_next(sup->guests, 0); g; g = guest_next(sup, g))
		if (g->transport == HRPC_ADMIN_TRANSPORT_XEN && g->xen.domid == domid &&
		    !g->stopping)
			return g;
	return NULL;
}

static void xen_ready(guint32 domid, const char *name, const struct hrpc_xen_chan_spec *spec,
		      guint32 reset_port, gpointer data)
{
	HrpcdSupervisor *sup = data;
	g_autoptr(GError) error = NULL;
	HrpcdGuest *g;

	g = hrpcd_guest_table_add(sup->guests, HRPC_ADMIN_TRANSPORT_XEN, name, 0, &error);
	if (!g) {
		g_warning("xen domain %u (%s) gets no worker: %s", domid, name, error->message);
		hrpcd_xen_domains_failed(sup->xen, domid, error->message);
		return;
	}
	g->xen = *spec;
	g->xen_reset_port = reset_port;
	if (!worker_start_xen(sup, g, &error)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name, "xen domain %u: %s", domid,
				error->message);
		hrpcd_xen_domains_failed(sup->xen, domid, error->message);
		guest_free(sup, g);
		return;
	}
	hrpcd_xen_domains_connected(sup->xen, domid);
	hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
			"xen domain %u connected (%u pages granted), worker %ld", domid,
			spec->nr_pages, (long)g->worker_pid);
}

static void xen_gone(guint32 domid, const char *why, gpointer data)
{
	HrpcdSupervisor *sup = data;
	HrpcdGuest *g = xen_guest(sup, domid);

	if (!g)
		return;
	hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name, "xen domain %u: %s; stopping the guest",
			domid, why);
	guest_stop(sup, g);
}

static const HrpcdXenCallbacks xen_callbacks = {
	.ready = xen_ready,
	.gone = xen_gone,
};
#endif

/* ---- process guests --------------------------------------------------------- */

/* Has the process guest said HELLO?  (Its worker publishes it.) */
static gboolean process_guest_greeted(HrpcdGuest *g)
{
	struct hrpcd_status st;
	enum hrpc_admin_state state = hrpcd_guest_read_status(g, &st);

	return state != HRPC_ADMIN_STATE_STARTING && state != HRPC_ADMIN_STATE_RESTARTING;
}

static gboolean hello_deadline(gpointer user_data)
{
	GuestRef *r = user_data;
	HrpcdGuest *g = r->guest;

	g->hello_timer = 0;
	/* guest_free() destroys this source: a removed guest cannot get here. */
	g_return_val_if_fail(!hrpcd_guest_removed(g), G_SOURCE_REMOVE);
	if (!g->stopping && !process_guest_greeted(g)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name,
				"process guest pid %ld said no HELLO within %u s; disconnecting it",
				(long)g->peer_pid, r->sup->hello_timeout_s);
		guest_stop(r->sup, g);
	}
	return G_SOURCE_REMOVE;
}

/*
 * May one more process guest in?  Not into the slots of VM endpoints no QEMU
 * is attached to yet (a VM must never find the table full of process
 * guests), and not while a quarter of the table already waits for HELLOs.
 * NULL, or why not.
 */
static const char *process_guest_room(HrpcdSupervisor *sup)
{
	guint reserved = 0, waiting = 0, used = hrpcd_guest_table_count(sup->guests);
	GHashTableIter iter;
	gpointer value;
	HrpcdGuest *g;

	g_hash_table_iter_init(&iter, sup->endpoints);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		reserved += !((Endpoint *)value)->guest;
	if (used + reserved >= sup->max_guests)
		return "no room beside the slots kept for VM endpoints";
	for (g = hrpcd_guest_table_next(sup->guests, 0); g;
	     g = g->id < G_MAXUINT32 ? hrpcd_guest_table_next(sup->guests, g->id + 1) : NULL) {
		if (!g->hello_timer)
			continue;
		if (process_guest_greeted(g))
			g_clear_handle_id(&g->hello_timer, g_source_remove);
		else
			waiting++;
	}
	if (waiting >= MAX(sup->max_guests / 4, 1u))
		return "too many connections have not said HELLO yet";
	return NULL;
}

static void process_guest_accept(HrpcdSupervisor *sup, int sock, pid_t peer_pid)
{
	g_autoptr(GError) error = NULL;
	HrpcdWorkerSpec spec;
	const char *full;
	HrpcdGuest *g;

	full = process_guest_room(sup);
	if (full) {
		g_warning("refusing process guest (pid %ld): %s", (long)peer_pid, full);
		close(sock);
		return;
	}
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
		g->hello_timer = guest_timeout_add(sup, g, sup->hello_timeout_s * 1000,
						   hello_deadline);
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

	/* Before anything else can fail: QEMU is committed to this memory. */
	if (!sup->adopting)
		fdstore_put_peer(sup, ep, peer);
	g = hrpcd_guest_table_add(sup->guests, HRPC_ADMIN_TRANSPORT_IVSHMEM, ep->name,
				  hrpcd_ivshmem_peer_pid(peer), &error);
	if (!g) {
		g_warning("ivshmem %s: QEMU (pid %ld) attached but gets no worker: %s", ep->name,
			  (long)hrpcd_ivshmem_peer_pid(peer), error->message);
		return;
	}
	/* QEMU attaches only while none is (ivshmem-server.c), and
	 * peer_gone unlinks the guest before the next can. */
	g_warn_if_fail(!ep->guest);
	g_clear_pointer(&ep->guest, hrpcd_guest_unref);
	g->endpoint = ep;
	ep->guest = hrpcd_guest_ref(g);
	if (!worker_start_ivshmem(sup, g, &error)) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name, "%s; retrying", error->message);
		g->respawn_timer = guest_timeout_add(sup, g, RESPAWN_MAX_MS, respawn);
		return;
	}
	hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
			"QEMU pid %ld %s on %s (%zu bytes shared), worker %ld",
			(long)g->peer_pid, sup->adopting ? "still attached, adopted" : "attached",
			hrpcd_ivshmem_server_path(srv), hrpcd_ivshmem_peer_shm_size(peer),
			(long)g->worker_pid);
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
	g_autoptr(HrpcdGuest) g = g_steal_pointer(&ep->guest);

	fdstore_forget(ep->sup, ep->name, TRUE);
	/* Not from within the server's own callback. */
	if (ep->removing && !ep->reap_idle)
		ep->reap_idle = g_idle_add(endpoint_reap, ep);
	if (!g)
		return;
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
	if (ep->server && ep->sup->shutting_down && ep->sup->fdstore)
		/* The holder keeps listening on it for the next daemon. */
		hrpcd_ivshmem_server_leave_socket(ep->server);
	else if (ep->server)
		fdstore_forget(ep->sup, ep->name, FALSE);
	/* Detaches the guest (peer_gone) before the memory is closed. */
	hrpcd_ivshmem_server_free(ep->server);
	if (ep->guest)
		guest_unlink_endpoint(ep->guest);
	if (ep->name_reserved)
		hrpcd_guest_table_release_name(ep->sup->guests, ep->name);
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
	if (hrpcd_guest_name_is_default(name)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "invalid guest name \"%s\" (guest-N names process guests)", name);
		return FALSE;
	}
	ep = g_hash_table_lookup(sup->endpoints, name);
	if (ep && ep->adopted && !g_strcmp0(hrpcd_ivshmem_server_path(ep->server), path)) {
		/* Left by the daemon before us: same socket, same inode. */
		ep->adopted = FALSE;
		if (shm_size && shm_size != hrpcd_ivshmem_server_shm_size(ep->server)) {
			if (!hrpcd_ivshmem_server_set_shm_size(ep->server, shm_size, error))
				return FALSE;
			fdstore_put_endpoint(sup, ep);
		}
		g_message("ivshmem endpoint for guest %s on %s (%zu bytes), kept from before",
			  name, path, hrpcd_ivshmem_server_shm_size(ep->server));
		return TRUE;
	}
	if (ep && ep->adopted && !hrpcd_ivshmem_server_peer(ep->server)) {
		/* It moved: let the old socket go. */
		g_message("ivshmem endpoint for guest %s moves from %s to %s", name,
			  hrpcd_ivshmem_server_path(ep->server), path);
		g_hash_table_remove(sup->endpoints, name);
		ep = NULL;
	}
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
	if (!ep->server || (sup->endpoint_gid &&
			    !hrpcd_ivshmem_server_share_group(ep->server, sup->endpoint_gid, error))) {
		g_prefix_error(error, "ivshmem endpoint %s: ", name);
		endpoint_free(ep);
		return FALSE;
	}
	g_hash_table_insert(sup->endpoints, ep->name, ep);
	hrpcd_guest_table_reserve_name(sup->guests, ep->name);
	ep->name_reserved = TRUE;
	fdstore_put_endpoint(sup, ep);
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
	ep->adopted = FALSE;
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

const char *hrpcd_supervisor_endpoint_path(HrpcdSupervisor *sup, const char *name)
{
	Endpoint *ep = g_hash_table_lookup(sup->endpoints, name);

	return ep && !ep->removing ? hrpcd_ivshmem_server_path(ep->server) : NULL;
}

guint hrpcd_supervisor_endpoint_count(HrpcdSupervisor *sup)
{
	return g_hash_table_size(sup->endpoints);
}

HrpcdGuestTable *hrpcd_supervisor_guests(HrpcdSupervisor *sup)
{
	return sup->guests;
}

void hrpcd_supervisor_adoption_done(HrpcdSupervisor *sup)
{
	g_autoptr(GPtrArray) unclaimed = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, sup->endpoints);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		Endpoint *ep = value;

		if (ep->adopted)
			g_ptr_array_add(unclaimed, g_strdup(ep->name));
	}
	for (guint i = 0; i < unclaimed->len; i++) {
		const char *name = g_ptr_array_index(unclaimed, i);
		g_autoptr(GError) error = NULL;

		g_message("ivshmem endpoint for guest %s is no longer configured", name);
		if (!hrpcd_supervisor_remove_endpoint(sup, name, &error))
			g_warning("%s", error->message);
	}
}

pid_t hrpcd_supervisor_fdstore_pid(HrpcdSupervisor *sup)
{
	return sup->fdstore ? hrpcd_fdstore_pid(sup->fdstore) : 0;
}

/* ---- adoption: what an earlier daemon left with the holder ------------------- */

typedef struct {
	char name[HRPCD_FDSTORE_NAME_MAX];
	int listen_fd;
	guint64 listen_size;
	int conn, shm;
	int host[HRPC_IVSHMEM_NR_VECTORS], guest[HRPC_IVSHMEM_NR_VECTORS];
} Adopted;

static Adopted *adopted_new(const char *name)
{
	Adopted *a = g_new(Adopted, 1);

	g_strlcpy(a->name, name, sizeof(a->name));
	a->listen_fd = a->conn = a->shm = -1;
	a->listen_size = 0;
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
		a->host[v] = a->guest[v] = -1;
	return a;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void adopted_close_peer(Adopted *a)
{
	close_fd(&a->conn);
	close_fd(&a->shm);
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		close_fd(&a->host[v]);
		close_fd(&a->guest[v]);
	}
}

static void adopted_free(Adopted *a)
{
	close_fd(&a->listen_fd);
	adopted_close_peer(a);
	g_free(a);
}

/* The slot an item belongs in, or NULL (then it is dropped). */
static int *adopted_slot(Adopted *a, const HrpcdFdstoreItem *it)
{
	unsigned int v = it->index;

	switch (it->role) {
	case HRPCD_FDSTORE_LISTEN:
		a->listen_size = it->value;
		return it->index ? NULL : &a->listen_fd;
	case HRPCD_FDSTORE_CONN:
		return it->index ? NULL : &a->conn;
	case HRPCD_FDSTORE_SHM:
		return it->index ? NULL : &a->shm;
	case HRPCD_FDSTORE_HOST_EVENT:
		return v < HRPC_IVSHMEM_NR_VECTORS ? &a->host[v] : NULL;
	case HRPCD_FDSTORE_GUEST_EVENT:
		return v < HRPC_IVSHMEM_NR_VECTORS ? &a->guest[v] : NULL;
	default:
		return NULL;
	}
}

static gboolean adopted_peer_complete(const Adopted *a)
{
	if (a->conn < 0 || a->shm < 0)
		return FALSE;
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
		if (a->host[v] < 0 || a->guest[v] < 0)
			return FALSE;
	return TRUE;
}

static gboolean adopted_has_peer_part(const Adopted *a)
{
	gboolean any = a->conn >= 0 || a->shm >= 0;

	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
		any |= a->host[v] >= 0 || a->guest[v] >= 0;
	return any;
}

static void adopt_endpoint(HrpcdSupervisor *sup, Adopted *a)
{
	char clean[HRPCD_GUEST_NAME_MAX];
	g_autoptr(GError) error = NULL;
	Endpoint *ep;

	if (!hrpcd_name_sanitize(a->name, clean, sizeof(clean)) || strcmp(clean, a->name) ||
	    hrpcd_guest_name_is_default(a->name) ||
	    g_hash_table_contains(sup->endpoints, a->name) || a->listen_fd < 0) {
		g_warning("fd holder: dropping what it held for \"%s\" (no endpoint to adopt)",
			  a->name);
		fdstore_forget(sup, a->name, FALSE);
		return;
	}
	ep = g_new0(Endpoint, 1);
	ep->sup = sup;
	ep->name = g_strdup(a->name);
	ep->adopted = TRUE;
	ep->server = hrpcd_ivshmem_server_adopt(a->name, a->listen_fd, (gsize)a->listen_size, NULL,
						&endpoint_callbacks, ep, &error);
	a->listen_fd = -1;   /* the server's now, in all cases */
	if (!ep->server) {
		g_warning("fd holder: cannot adopt the endpoint for guest %s: %s", a->name,
			  error->message);
		fdstore_forget(sup, a->name, FALSE);
		endpoint_free(ep);
		return;
	}
	g_hash_table_insert(sup->endpoints, ep->name, ep);
	hrpcd_guest_table_reserve_name(sup->guests, ep->name);
	ep->name_reserved = TRUE;
	g_message("ivshmem endpoint for guest %s on %s adopted from the fd holder", ep->name,
		  hrpcd_ivshmem_server_path(ep->server));
	if (!adopted_has_peer_part(a))
		return;
	if (!adopted_peer_complete(a)) {
		g_warning("ivshmem %s: the fd holder has only part of an attached QEMU; dropping it",
			  ep->name);
		fdstore_forget(sup, ep->name, TRUE);
		return;
	}
	/* The peer takes the descriptors whatever happens. */
	sup->adopting = TRUE;
	if (!hrpcd_ivshmem_server_adopt_peer(ep->server, a->conn, a->shm, a->host, a->guest,
					     &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
			g_message("ivshmem %s: %s: it left while hostrpcd was down", ep->name,
				  error->message);
		else
			g_warning("ivshmem %s: cannot adopt the attached QEMU: %s", ep->name,
				  error->message);
		fdstore_forget(sup, ep->name, TRUE);
	}
	sup->adopting = FALSE;
	a->conn = a->shm = -1;
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
		a->host[v] = a->guest[v] = -1;
}

/*
 * Find the holder (or start one) and adopt what it holds.  FALSE only when
 * another daemon is using it; any other trouble leaves us running without
 * a holder for now (and retrying).
 */
static gboolean fdstore_start(HrpcdSupervisor *sup, GError **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GHashTable) by_name = NULL;
	HrpcdFdstore *fs;
	GArray *items;
	GHashTableIter iter;
	gpointer value;

	fs = hrpcd_fdstore_open(sup->fdstore_path, sup->fdstore_idle_s, sup->fdstore_syslog, &err);
	if (!fs) {
		if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_BUSY)) {
			g_propagate_error(error, g_steal_pointer(&err));
			return FALSE;
		}
		g_warning("fd holder: %s; retrying in %u s", err->message, FDSTORE_RETRY_MS / 1000);
		sup->fdstore_retry = g_timeout_add(FDSTORE_RETRY_MS, fdstore_reconnect, sup);
		return TRUE;
	}
	g_message("fd holder pid %ld on %s (%s), %u descriptor(s) to adopt",
		  (long)hrpcd_fdstore_pid(fs), sup->fdstore_path,
		  hrpcd_fdstore_started(fs) ? "started" : "found", hrpcd_fdstore_held(fs));
	fdstore_attach(sup, fs);
	if (!hrpcd_fdstore_held(fs))
		return TRUE;
	items = hrpcd_fdstore_fetch(fs, &err);
	if (!items) {
		/* Going on without them would strand those guests for good;
		 * they stay with the holder for a daemon that can take them. */
		g_propagate_prefixed_error(error, g_steal_pointer(&err),
					   "cannot take over what the fd holder holds: ");
		return FALSE;
	}
	by_name = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)adopted_free);
	for (guint i = 0; i < items->len; i++) {
		HrpcdFdstoreItem *it = &g_array_index(items, HrpcdFdstoreItem, i);
		Adopted *a = g_hash_table_lookup(by_name, it->name);
		int *slot;

		if (!a) {
			a = adopted_new(it->name);
			g_hash_table_insert(by_name, a->name, a);
		}
		slot = adopted_slot(a, it);
		if (slot && *slot < 0) {
			*slot = it->fd;
			it->fd = -1;
		}
		/* else: a stray; closed with the array */
	}
	hrpcd_fdstore_items_free(items);
	g_hash_table_iter_init(&iter, by_name);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		adopt_endpoint(sup, value);
	return TRUE;
}

/* ---- life cycle ------------------------------------------------------------- */

static char *absolute(const char *path)
{
	g_autofree char *cwd = NULL;

	if (g_path_is_absolute(path))
		return g_strdup(path);
	cwd = g_get_current_dir();
	return g_build_filename(cwd, path, NULL);
}

/* The workers' mount namespace, made once (sandbox.h): before any worker
 * or thread exists, as it forks. */
static gboolean mntns_make(HrpcdSupervisor *sup, GError **error)
{
	g_autofree char *state = realpath(sup->state_dir, NULL);
	char err[512] = "";
	uid_t uid = hrpcd_sandbox_guest_uid(sup->worker_uid_base, 1);

	if (!state) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot resolve the state directory %s: %s", sup->state_dir,
			    g_strerror(errno));
		return FALSE;
	}
	sup->mntns_fd = hrpcd_sandbox_mount_ns_new(state, uid, err, sizeof(err));
	if (sup->mntns_fd < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "cannot make the workers' mount namespace: %s", err);
		sup->mntns_fd = -1;
		return FALSE;
	}
	return TRUE;
}

/* The page all workers count their spinners in (worker.h, "Polling"). */
static gboolean gate_make(HrpcdSupervisor *sup, const HrpcdSupervisorConfig *cfg, GError **error)
{
	if (sup->gate_fd >= 0)
		close(sup->gate_fd);
	sup->gate_fd = memfd_create("hostrpcd-spinners", MFD_CLOEXEC);
	if (sup->gate_fd < 0 || ftruncate(sup->gate_fd, HRPCD_GATE_SIZE) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot make the workers' spinner page: %s", g_strerror(errno));
		return FALSE;
	}
	sup->poll_max_ns = MIN(cfg->poll_max_ns, HRPCD_POLL_MAX_NS);
	sup->poll_spinners = cfg->poll_spinners ? cfg->poll_spinners : 1;
	return TRUE;
}

static void set_dir(char **dir, const char *path, const char *def)
{
	g_free(*dir);
	*dir = path ? absolute(path) : g_build_filename(SYSCONFDIR, "hostrpc", def, NULL);
}

gboolean hrpcd_supervisor_reconfigure(HrpcdSupervisor *sup, const HrpcdSupervisorConfig *cfg,
				      GError **error)
{
	/* The spinner page first: the only step that can fail, so a failure
	 * changes nothing. */
	if (cfg->poll_max_ns && sup->gate_fd < 0 && !gate_make(sup, cfg, error))
		return FALSE;
	sup->poll_max_ns = MIN(cfg->poll_max_ns, HRPCD_POLL_MAX_NS);
	sup->poll_spinners = cfg->poll_spinners ? cfg->poll_spinners : 1;
	set_dir(&sup->sock_policy_dir, cfg->sock_policy_dir, "sock");
	set_dir(&sup->fs_policy_dir, cfg->fs_policy_dir, "fs");
	set_dir(&sup->mem_policy_dir, cfg->mem_policy_dir, "mem");
	set_dir(&sup->guest_policy_dir, cfg->guest_policy_dir, "guests");
	sup->max_guests = cfg->max_guests ? cfg->max_guests : HRPCD_DEFAULT_MAX_GUESTS;
	hrpcd_guest_table_set_max(sup->guests, sup->max_guests);
	sup->hello_timeout_s = cfg->hello_timeout_s ? cfg->hello_timeout_s
						    : HELLO_TIMEOUT_S_DEFAULT;
	hrpcd_audit_sinks_set_limits(sup->audit, cfg->audit_max_bytes, cfg->audit_rate);
	return TRUE;
}

HrpcdSupervisor *hrpcd_supervisor_new(const HrpcdSupervisorConfig *cfg, GError **error)
{
	g_autoptr(HrpcdSupervisor) sup = g_new0(HrpcdSupervisor, 1);

	sup->listen_fd = sup->mntns_fd = sup->gate_fd = -1;
	sup->state_dir = g_strdup(cfg->state_dir);
	sup->memfd_size = cfg->memfd_size;
	sup->worker_uid_base = cfg->worker_uid_base;
	{
		g_autofree char *audit_dir = cfg->sock_audit_dir ? absolute(cfg->sock_audit_dir)
					     : hrpcd_audit_dir(cfg->state_dir);

		sup->audit = hrpcd_audit_sinks_new(audit_dir, cfg->audit_max_bytes,
						   cfg->audit_rate, NULL);
	}
	/* Workers run in the state directory: no relative path reaches them. */
	sup->migrate_key = cfg->migrate_key ? absolute(cfg->migrate_key) : NULL;
	sup->sock_policy_dir = cfg->sock_policy_dir ? absolute(cfg->sock_policy_dir)
		: g_build_filename(SYSCONFDIR, "hostrpc", "sock", NULL);
	sup->fs_policy_dir = cfg->fs_policy_dir ? absolute(cfg->fs_policy_dir)
		: g_build_filename(SYSCONFDIR, "hostrpc", "fs", NULL);
	sup->mem_policy_dir = cfg->mem_policy_dir ? absolute(cfg->mem_policy_dir)
		: g_build_filename(SYSCONFDIR, "hostrpc", "mem", NULL);
	sup->guest_policy_dir = cfg->guest_policy_dir ? absolute(cfg->guest_policy_dir)
		: g_build_filename(SYSCONFDIR, "hostrpc", "guests", NULL);
	sup->ctl = hrpcd_worker_ctl_new(cfg->worker_ctl_timeout_ms, NULL);
	hrpcd_worker_ctl_set_migration_cb(sup->ctl, migration_news, sup);
	sup->max_guests = cfg->max_guests ? cfg->max_guests : HRPCD_DEFAULT_MAX_GUESTS;
	sup->hello_timeout_s = cfg->hello_timeout_s ? cfg->hello_timeout_s
						    : HELLO_TIMEOUT_S_DEFAULT;
	sup->endpoint_gid = cfg->endpoint_gid;
	sup->guests = hrpcd_guest_table_new(sup->max_guests);
	sup->endpoints = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					       (GDestroyNotify)endpoint_free);
	sup->fdstore_path = g_strdup(cfg->fdstore_path);
	sup->fdstore_idle_s = cfg->fdstore_idle_s;
	sup->fdstore_syslog = cfg->fdstore_syslog;
	if (cfg->socket_path) {
		sup->socket_path = g_strdup(cfg->socket_path);
		sup->listen_fd = hrpcd_listen_socket_open(cfg->socket_path, 0660, error);
		if (sup->listen_fd < 0)
			return NULL;
		sup->accept_src = g_unix_fd_source_new(sup->listen_fd, G_IO_IN);
		g_source_set_callback(sup->accept_src, G_SOURCE_FUNC(accept_event), sup, NULL);
		g_source_attach(sup->accept_src, NULL);
	}
	if (sup->fdstore_path && !fdstore_start(sup, error))
		return NULL;
	if (geteuid() == 0 && !mntns_make(sup, error))
		return NULL;
	if (cfg->poll_max_ns && !gate_make(sup, cfg, error))
		return NULL;
	if (cfg->xen) {
#ifdef HAVE_XEN
		sup->xen = hrpcd_xen_domains_new(&xen_callbacks, sup, error);
		if (!sup->xen)
			return NULL;
#else
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
				    "--xen: hostrpcd was built without Xen support");
		return NULL;
#endif
	}
	return g_steal_pointer(&sup);
}

static HrpcdGuest *guest_next(HrpcdSupervisor *sup, HrpcdGuest *g)
{
	return g->id < G_MAXUINT32 ? hrpcd_guest_table_next(sup->guests, g->id + 1) : NULL;
}

/* Wait for the stopped workers; SIGKILL those that outstay the grace period. */
static void reap_all(HrpcdSupervisor *sup)
{
	gint64 deadline = g_get_monotonic_time() + STOP_GRACE_MS * 1000;
	gboolean killed = FALSE;
	HrpcdGuest *g;

	for (;;) {
		guint running = 0;

		for (g = hrpcd_guest_table_next(sup->guests, 0); g; g = guest_next(sup, g)) {
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
			for (g = hrpcd_guest_table_next(sup->guests, 0); g; g = guest_next(sup, g))
				if (g->worker_pid)
					kill(g->worker_pid, SIGKILL);
			killed = TRUE;
		}
		g_usleep(10000);
	}
}

void hrpcd_supervisor_free(HrpcdSupervisor *sup)
{
	HrpcdGuest *g, *next;
	guint n_endpoints;

	if (!sup)
		return;
	/* From here on nothing is forgotten by the holder: the next daemon
	 * adopts it all. */
	sup->shutting_down = TRUE;
	if (sup->fdstore_retry)
		g_source_remove(sup->fdstore_retry);
	if (sup->fdstore_watch) {
		g_source_destroy(sup->fdstore_watch);
		g_clear_pointer(&sup->fdstore_watch, g_source_unref);
	}
	if (sup->accept_pause)
		g_source_remove(sup->accept_pause);
	if (sup->accept_src) {
		g_source_destroy(sup->accept_src);
		g_source_unref(sup->accept_src);
	}
	hrpcd_listen_socket_close(sup->listen_fd, sup->socket_path);
#ifdef HAVE_XEN
	/* Xen frontends see their backend close; their workers stop below. */
	g_clear_pointer(&sup->xen, hrpcd_xen_domains_free);
#endif
	/* Endpoints first: their guests stop as if QEMU had left. */
	n_endpoints = g_hash_table_size(sup->endpoints);
	g_clear_pointer(&sup->endpoints, g_hash_table_unref);

	for (g = hrpcd_guest_table_next(sup->guests, 0); g; g = guest_next(sup, g)) {
		g->stopping = TRUE;
		g_clear_handle_id(&g->respawn_timer, g_source_remove);
		g_clear_handle_id(&g->child_watch, g_source_remove);
		if (g->worker_pid)
			kill(g->worker_pid, SIGTERM);
	}
	reap_all(sup);
	for (g = hrpcd_guest_table_next(sup->guests, 0); g; g = next) {
		next = guest_next(sup, g);
		guest_free(sup, g);
	}
	/* Last: a next daemon gets the holder's session only once our workers
	 * are gone and cannot touch the channels any more. */
	if (sup->fdstore && n_endpoints)
		g_message("the fd holder (pid %ld) keeps %u ivshmem endpoint(s) for the next hostrpcd",
			  (long)hrpcd_fdstore_pid(sup->fdstore), n_endpoints);
	g_clear_pointer(&sup->fdstore, hrpcd_fdstore_close);
	g_free(sup->fdstore_path);
	hrpcd_guest_table_free(sup->guests);
	hrpcd_audit_sinks_free(sup->audit);
	hrpcd_worker_ctl_free(sup->ctl);
	if (sup->mntns_fd >= 0)
		close(sup->mntns_fd);
	if (sup->gate_fd >= 0)
		close(sup->gate_fd);
	g_free(sup->sock_policy_dir);
	g_free(sup->fs_policy_dir);
	g_free(sup->mem_policy_dir);
	g_free(sup->guest_policy_dir);
	g_free(sup->migrate_key);
	g_queue_clear_full(&sup->migrations, g_free);
	g_free(sup->socket_path);
	g_free(sup->state_dir);
	g_free(sup);
}

HrpcdAuditSinks *hrpcd_supervisor_audit_sinks(HrpcdSupervisor *sup)
{
	return sup->audit;
}

HrpcdWorkerCtl *hrpcd_supervisor_worker_ctl(HrpcdSupervisor *sup)
{
	return sup->ctl;
}

const char *hrpcd_supervisor_state_dir(HrpcdSupervisor *sup)
{
	return sup->state_dir;
}
