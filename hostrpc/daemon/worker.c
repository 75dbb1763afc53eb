/* SPDX-License-Identifier: MIT */
/*
 * worker.c - start a guest's worker, and everything the worker does.
 *
 * The parent half is hrpcd_worker_spawn() (fork, then exec of hostrpcd
 * --worker); the rest runs in the worker process (hrpcd_worker_main).  The
 * worker builds the guest's channel (memfd: hrpc_memfd_server_new() on the
 * guest's connection; ivshmem: hrpc_shm_chan_new() on the memory and
 * eventfds the supervisor holds), then serves it with
 * hrpc_glib_conn_attach().  Before every sleep of its main loop it publishes
 * its counters and state in the status page.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/hostrpc-glib.h"
#include "hostrpc/ring.h"
#include "hostrpc/migrate.h"          /* struct hrpc_mig_fwd_link */
#include "hostrpc/daemon/audit-sink.h"
#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/sandbox.h"
#include "fs-server/server.h"          /* FSS_ALLOW_DEV */
#include "hostrpc/daemon/services.h"
#include "hostrpc/daemon/spawn.h"
#include "hostrpc/daemon/worker.h"
#include "hostrpc/daemon/worker-ctl.h"
#include "hostrpc/daemon/worker-priv.h"
#include "hostrpc/daemon/xen-fe.h"
#include "hostrpc/mem.h"
#include "outsource/mem/outsource-mem.h"
#include "hostrpc/xen.h"
#ifdef HAVE_XEN
#include <xenevtchn.h>
#endif

/* ivshmem: a fenced guest stays fenced this long before the supervisor's
 * next worker resets its channel.  Meanwhile hostrpcctl shows the guest
 * fenced, with the reason; and a guest that breaks its channel over and
 * over gets at most one fresh worker a second. */
#define FENCE_HOLD_MS 1000

/* Descriptor numbers in the worker (worker.h). */
enum {
	FD_STATUS = 3,
	FD_SOCK = 4,                                   /* memfd */
	FD_SHM = 4,                                    /* ivshmem */
	FD_HOST = 5,                                   /* + vector */
	FD_GUEST = 5 + HRPC_IVSHMEM_NR_VECTORS,        /* + vector */
	FD_END = 5 + 2 * HRPC_IVSHMEM_NR_VECTORS,
	FD_AUDIT = FD_END,                             /* both */
	FD_CTL = FD_AUDIT + 1,                         /* both */
	FD_MNTNS = FD_CTL + 1,                         /* both */
	FD_GATE = FD_MNTNS + 1,                        /* both */
	FD_MIG = FD_GATE + 1,                          /* ivshmem: an incoming migration */
	FD_REMNANT = FD_MIG + 1,                       /* with FD_MIG: the remnant here */
	FD_MAX = FD_REMNANT + 1,
};

void hrpcd_worker_spec_init(HrpcdWorkerSpec *spec, guint32 guest_id, const char *name,
			    enum hrpc_admin_transport transport, int status_fd)
{
	memset(spec, 0, sizeof(*spec));
	spec->guest_id = guest_id;
	g_strlcpy(spec->name, name, sizeof(spec->name));
	spec->transport = transport;
	spec->status_fd = status_fd;
	spec->sock = spec->shm_fd = spec->audit_fd = spec->ctl_fd = spec->mntns_fd = -1;
	spec->gate_fd = spec->mig_fd = spec->remnant_fd = -1;
	spec->uid = (uid_t)-1;
	spec->nice = HRPCD_NICE_KEEP;
	for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
		spec->host_fd[v] = spec->guest_fd[v] = -1;
}

int hrpcd_worker_guest_nice(pid_t pid)
{
	int theirs, ours;

	if (pid <= 0)
		return HRPCD_NICE_KEEP;
	errno = 0;
	theirs = getpriority(PRIO_PROCESS, (id_t)pid);
	if (theirs == -1 && errno)
		return HRPCD_NICE_KEEP;   /* gone already: its worker will see that */
	ours = getpriority(PRIO_PROCESS, 0);
	return theirs > ours ? theirs : HRPCD_NICE_KEEP;
}

char *hrpcd_worker_describe_exit(int wait_status)
{
	static const char *const meaning[] = {
		[HRPCD_WORKER_EXIT_DONE] = "guest gone",
		[HRPCD_WORKER_EXIT_SETUP] = "channel set-up failed",
		[HRPCD_WORKER_EXIT_FENCED] = "guest fenced",
		[HRPCD_WORKER_EXIT_IO] = "transport error",
		[HRPCD_WORKER_EXIT_RESET] = "guest asked for a channel reset",
		[HRPCD_WORKER_EXIT_MIGRATED] = "guest migrated to another host",
	};

	if (WIFEXITED(wait_status)) {
		int code = WEXITSTATUS(wait_status);
		const char *what = code < (int)G_N_ELEMENTS(meaning) && meaning[code] ?
			meaning[code] : "unexpected";

		return g_strdup_printf("exited with status %d (%s)", code, what);
	}
	if (WIFSIGNALED(wait_status))
		return g_strdup_printf("killed by signal %d (%s)%s", WTERMSIG(wait_status),
				       g_strsignal(WTERMSIG(wait_status)),
				       WCOREDUMP(wait_status) ? ", core dumped" : "");
	return g_strdup_printf("ended with wait status 0x%x", wait_status);
}

/* ---- the worker process ------------------------------------------------- */


static void publish(Worker *w)
{
	const struct hrpc_stats *stats = w->conn ? hrpc_conn_stats(w->conn) : NULL;
	const char *peer = w->conn ? hrpc_conn_peer_name(w->conn) : "";

	if (w->state == HRPC_ADMIN_STATE_STARTING && w->conn && hrpc_conn_negotiated(w->conn)) {
		w->state = HRPC_ADMIN_STATE_NEGOTIATED;
		if (!w->announced) {
			w->announced = TRUE;
			/* Only the label: which name the guest gets (a process
			 * guest may not take a VM's) is the supervisor's call,
			 * and it logs it. */
			hrpcd_log_guest(G_LOG_LEVEL_INFO, w->spec->guest_id, w->spec->name,
					"channel negotiated (peer label \"%s\")", peer);
		}
	}
	hrpcd_status_publish(w->spec->status, w->state, w->generation, stats, peer,
			     w->fence_reason);
}

/* A source that never fires: its prepare runs before every poll of the
 * loop, i.e. each time the worker is about to sleep. */
static gboolean publisher_prepare(GSource *source, gint *timeout)
{
	Worker **w = (Worker **)(source + 1);

	publish(*w);
	*timeout = -1;
	return FALSE;
}

static gboolean publisher_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs publisher_funcs = {
	.prepare = publisher_prepare,
	.dispatch = publisher_dispatch,
};

void hrpcd_worker_stop(Worker *w, guint32 state, int exit_code)
{
	w->state = state;
	w->exit_code = exit_code;
	g_main_loop_quit(w->loop);
}

static void conn_done(hrpc_conn *conn, int err, gpointer user_data)
{
	Worker *w = user_data;
	const HrpcdWorkerSpec *spec = w->spec;

	if (err == -EPROTO) {
		g_strlcpy(w->fence_reason, hrpc_conn_fence_reason(conn) ?: "unknown",
			  sizeof(w->fence_reason));
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec->guest_id, spec->name,
				"fenced: %s", w->fence_reason);
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_FENCED, HRPCD_WORKER_EXIT_FENCED);
	} else if (err == -EPIPE) {
		hrpcd_log_guest(G_LOG_LEVEL_INFO, spec->guest_id, spec->name,
				"channel closed by the guest");
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_DONE);
	} else {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec->guest_id, spec->name,
				"channel failed: %s", g_strerror(-err));
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_IO);
	}
}

/* memfd: after the set-up message the connection carries nothing; it only
 * tells us when the guest is gone. */
static gboolean sock_event(gint fd, GIOCondition cond, gpointer user_data)
{
	Worker *w = user_data;
	const HrpcdWorkerSpec *spec = w->spec;
	char buf[64];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return G_SOURCE_CONTINUE;
	if (n > 0) {
		g_strlcpy(w->fence_reason, "guest wrote on the set-up socket",
			  sizeof(w->fence_reason));
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec->guest_id, spec->name,
				"fenced: %s", w->fence_reason);
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_FENCED, HRPCD_WORKER_EXIT_FENCED);
	} else {
		hrpcd_log_guest(G_LOG_LEVEL_INFO, spec->guest_id, spec->name, "guest hung up");
		hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_DONE);
	}
	w->watch = NULL;
	return G_SOURCE_REMOVE;
}

/* ivshmem: the guest rang our vector 1, the reset request (its module found
 * the channel used by a previous life: the guest rebooted).  Our connection,
 * services and objects belong to that life: end them all; the supervisor's
 * next worker lays out host_gen + 1 and rings the guest's reset vector. */
static gboolean reset_vector_event(gint fd, GIOCondition cond, gpointer user_data)
{
	Worker *w = user_data;
	guint64 v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return G_SOURCE_CONTINUE;
	hrpcd_log_guest(G_LOG_LEVEL_INFO, w->spec->guest_id, w->spec->name,
			"guest asked for a channel reset; ending this worker");
	hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_RESET);
	return G_SOURCE_CONTINUE;
}

static GSource *watch_fd(Worker *w, int fd, GIOCondition cond, GUnixFDSourceFunc fn)
{
	GSource *src = g_unix_fd_source_new(fd, cond);

	g_source_set_callback(src, G_SOURCE_FUNC(fn), w, NULL);
	g_source_attach(src, w->ctx);
	return src;
}

/* hostrpcctl memory: an action of the host's, then the listing (its
 * first line says what the action did). */
static int memory_ctl(Worker *w, const struct hrpcd_ctl_mem_act *act, gboolean json, char **text,
		      gsize *len)
{
	OutsourceMemService *mem = hrpcd_services_mem(w->svcs);
	g_autofree char *list = NULL;
	int rc = 0;

	*text = NULL;
	*len = 0;
	if (!mem)
		return -ENODATA;
	if (act->reserved || act->op > HRPCD_CTL_MEM_RECLAIM || (act->op && !act->chunks))
		return -EINVAL;
	if (act->op == HRPCD_CTL_MEM_GRANT)
		rc = outsource_mem_service_grant(mem, act->chunks);
	else if (act->op == HRPCD_CTL_MEM_RECLAIM)
		rc = outsource_mem_service_reclaim(mem, act->chunks, act->deadline_ms);
	if (rc < 0)
		return rc;
	list = outsource_mem_service_listing(mem, json, len);
	if (json || !act->op) {
		*text = g_steal_pointer(&list);
		return 0;
	}
	*text = g_strdup_printf("%s %u MiB\n%s",
				act->op == HRPCD_CTL_MEM_GRANT ? "granted" : "asked back",
				(guint)rc * (HRPC_MEM_CHUNK >> 20), list);
	*len = strlen(*text);
	return 0;
}

/* The supervisor asks (worker-ctl.h); we answer at once, never block. */
static gboolean ctl_event(gint fd, GIOCondition cond, gpointer user_data)
{
	Worker *w = user_data;
	struct hrpcd_ctl_msg m, r = { .type = HRPCD_CTL_LIST_SOCKETS_REPLY };
	struct {
		struct hrpcd_ctl_msg m;
		guint8 payload[sizeof(struct hrpc_mig_fwd_link)];
	} in;
	g_autofree char *text = NULL;
	gsize len = 0;
	int rc, passed = -1, nfds = 1;

	rc = (int)hrpc_unix_recv_msg(fd, &in, sizeof(in), &passed, &nfds, MSG_DONTWAIT);
	if (rc == -EAGAIN || rc == -EMSGSIZE)
		return G_SOURCE_CONTINUE;
	if (rc >= (int)sizeof(m))
		memcpy(&m, &in.m, sizeof(m));
	if (rc < 0) {
		/* The supervisor is gone or closed it: nothing to answer. */
		g_source_unref(w->ctl);
		w->ctl = NULL;
		return G_SOURCE_REMOVE;
	}
	if (rc == sizeof(m) && m.type == HRPCD_CTL_MIGRATE_PORT && nfds == 1) {
		/* hostrpc-migrate's port to us (the source side). */
		hrpcd_worker_mig_port_open(w, passed);
		return G_SOURCE_CONTINUE;
	}
	if (rc >= (int)sizeof(m) && m.type == HRPCD_CTL_FWD_LINK) {
		/* The supervisor's answer to our MOVE (the remnant). */
		hrpcd_worker_fwd_link_in(w, m.status, in.payload, (gsize)rc - sizeof(m),
					 nfds == 1 ? passed : -1);
		explicit_bzero(&in, sizeof(in));
		return G_SOURCE_CONTINUE;
	}
	if (rc == sizeof(m) && m.type == HRPCD_CTL_REMNANT_PEER && nfds == 1) {
		/* The guest comes back: its incoming worker may take ours. */
		hrpcd_worker_remnant_peer(w, passed);
		return G_SOURCE_CONTINUE;
	}
	if (nfds > 0 && passed >= 0)
		close(passed);
	if ((rc != sizeof(m) && rc != sizeof(m) + sizeof(struct hrpcd_ctl_mem_act)) ||
	    m.type != HRPCD_CTL_LIST_SOCKETS ||
	    (rc != sizeof(m) && !(m.status & HRPCD_CTL_F_MEMORY)))
		return G_SOURCE_CONTINUE;
	r.seq = m.seq;
	if (m.status & HRPCD_CTL_F_MEMORY) {
		struct hrpcd_ctl_mem_act act = { 0 };

		if (rc > (int)sizeof(m))
			memcpy(&act, in.payload, sizeof(act));
		rc = memory_ctl(w, &act, (m.status & HRPCD_CTL_F_JSON) != 0, &text, &len);
	} else if (m.status & HRPCD_CTL_F_LOCATIONS) {
		text = hrpcd_worker_locations(w, (m.status & HRPCD_CTL_F_JSON) != 0, &len);
		rc = 0;
	} else if (m.status & HRPCD_CTL_F_FILES)
		rc = hrpcd_services_list_files(w->svcs, (m.status & HRPCD_CTL_F_JSON) != 0, &text,
					       &len);
	else
		rc = hrpcd_services_list_sockets(w->svcs, (m.status & HRPCD_CTL_F_JSON) != 0,
						 &text, &len);
	if (rc == 0 && len > HRPCD_CTL_LISTING_MAX && !(m.status & HRPCD_CTL_F_JSON)) {
		/* The table's head (the policy, the first sockets) and a mark. */
		len = HRPCD_CTL_LISTING_MAX - (sizeof(HRPCD_CTL_TRUNCATED) - 1);
		memcpy(text + len, HRPCD_CTL_TRUNCATED, sizeof(HRPCD_CTL_TRUNCATED) - 1);
		len = HRPCD_CTL_LISTING_MAX;
	}
	if (rc < 0 || len > HRPCD_CTL_LISTING_MAX) {
		/* Cut JSON would not parse: say it is too big instead. */
		r.status = rc < 0 ? rc : -EFBIG;
		len = 0;
	}
	r.len = (guint32)len;
	{
		struct iovec iov[2] = {
			{ .iov_base = &r, .iov_len = sizeof(r) },
			{ .iov_base = text, .iov_len = len },
		};
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

		if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			g_debug("cannot answer the supervisor: %s", g_strerror(errno));
	}
	return G_SOURCE_CONTINUE;
}

static gboolean chan_memfd(Worker *w, hrpc_chan **ch, GError **error)
{
	int rc = hrpc_memfd_server_new(w->spec->sock, w->spec->shm_size, ch);

	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot offer the memfd channel: %s", g_strerror(-rc));
		return FALSE;
	}
	w->generation = 1;
	w->watch = watch_fd(w, w->spec->sock, G_IO_IN | G_IO_HUP | G_IO_ERR, sock_event);
	return TRUE;
}

static gboolean chan_ivshmem(Worker *w, hrpc_chan **ch, GError **error)
{
	const HrpcdWorkerSpec *spec = w->spec;
	guint64 one = 1, stale;
	struct stat st;
	int rc;

	if (fstat(spec->shm_fd, &st) < 0 || (guint64)st.st_size != spec->shm_size) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "shared memory is not the %zu bytes expected", spec->shm_size);
		return FALSE;
	}
	w->map = mmap(NULL, spec->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, spec->shm_fd, 0);
	if (w->map == MAP_FAILED) {
		w->map = NULL;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot map the shared memory: %s", g_strerror(errno));
		return FALSE;
	}
	w->map_len = spec->shm_size;
	/* Reset requests rung before now are answered by the layout below. */
	while (read(spec->host_fd[HRPC_IVSHMEM_VEC_RESET], &stale, sizeof(stale)) == sizeof(stale))
		;
	/* A fresh layout (host_gen + 1) on the memory the guest already maps:
	 * whatever a previous worker left there is discarded. */
	rc = hrpc_shm_chan_new(HRPC_ROLE_SERVER, w->map, w->map_len,
			       spec->guest_fd[HRPC_IVSHMEM_VEC_RING],
			       spec->host_fd[HRPC_IVSHMEM_VEC_RING], false, ch);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot lay out the channel: %s", g_strerror(-rc));
		return FALSE;
	}
	/* Display only: the guest can write this word too. */
	w->generation = hrpc_read_once(((struct hrpc_shm_hdr *)w->map)->host_gen);
	w->watch = watch_fd(w, spec->host_fd[HRPC_IVSHMEM_VEC_RESET], G_IO_IN, reset_vector_event);
	/* Tell the guest to (re)attach to the new generation. */
	if (write(spec->guest_fd[HRPC_IVSHMEM_VEC_RESET], &one, sizeof(one)) != sizeof(one))
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec->guest_id, spec->name,
				"cannot ring the guest's reset vector: %s", g_strerror(errno));
	return TRUE;
}

#ifdef HAVE_XEN
/* Take every pending event of the (non-blocking) handle and unmask its
 * port; TRUE if there was one. */
static gboolean xen_drain(xenevtchn_handle *h)
{
	xenevtchn_port_or_error_t p;
	gboolean rang = FALSE;

	while ((p = xenevtchn_pending(h)) >= 0) {
		xenevtchn_unmask(h, (evtchn_port_t)p);
		rang = TRUE;
	}
	return rang;
}

/* xen: the guest's reset port rang: as reset_vector_event. */
static gboolean xen_reset_event(gint fd, GIOCondition cond, gpointer user_data)
{
	Worker *w = user_data;

	if (!xen_drain(w->xen_reset))
		return G_SOURCE_CONTINUE;
	hrpcd_log_guest(G_LOG_LEVEL_INFO, w->spec->guest_id, w->spec->name,
			"guest asked for a channel reset; ending this worker");
	hrpcd_worker_stop(w, HRPC_ADMIN_STATE_CLOSED, HRPCD_WORKER_EXIT_RESET);
	return G_SOURCE_CONTINUE;
}

static void xen_reset_close(Worker *w)
{
	if (!w->xen_reset)
		return;
	xenevtchn_unbind(w->xen_reset, w->xen_reset_local);
	xenevtchn_close(w->xen_reset);
	w->xen_reset = NULL;
}
#endif

/* xen: map what the domU granted, bind its ports, lay out a fresh channel
 * and ring its reset port so that it attaches. */
static gboolean chan_xen(Worker *w, hrpc_chan **ch, GError **error)
{
#ifdef HAVE_XEN
	const HrpcdWorkerSpec *spec = w->spec;
	xenevtchn_port_or_error_t local;
	xenevtchn_handle *h;
	int rc, fd, fl;

	rc = hrpc_xen_chan_new(&spec->xen, ch);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot map the pages domain %u granted: %s", spec->xen.domid,
			    g_strerror(-rc));
		return FALSE;
	}
	h = xenevtchn_open(NULL, 0);
	local = h ? xenevtchn_bind_interdomain(h, spec->xen.domid, spec->xen_reset_port) : -1;
	fd = h ? xenevtchn_fd(h) : -1;
	fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (local < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int err = errno;

		if (h && local >= 0)
			xenevtchn_unbind(h, (evtchn_port_t)local);
		if (h)
			xenevtchn_close(h);
		hrpc_chan_free(*ch);
		*ch = NULL;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
			    "cannot bind domain %u's reset port: %s", spec->xen.domid,
			    g_strerror(err));
		return FALSE;
	}
	/* Binding marks our new port pending (Xen does, so that nothing sent
	 * before the bind is lost): that event is not a reset request. */
	if (!xen_drain(h)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 20) > 0)
			xen_drain(h);
	}
	w->xen_reset = h;
	w->xen_reset_local = (guint32)local;
	w->generation = 1;
	w->watch = watch_fd(w, fd, G_IO_IN, xen_reset_event);
	if (xenevtchn_notify(h, (evtchn_port_t)local) < 0)
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec->guest_id, spec->name,
				"cannot ring the guest's reset port: %s", g_strerror(errno));
	return TRUE;
#else
	(void)w;
	(void)ch;
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
			    "hostrpcd was built without Xen support");
	return FALSE;
#endif
}

static gboolean worker_start(Worker *w, GError **error)
{
	const HrpcdWorkerSpec *spec = w->spec;
	hrpc_chan *ch = NULL;
	gboolean ok;
	int rc;

	w->srv = hrpc_server_new("hostrpcd");
	if (!w->srv) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "out of memory");
		return FALSE;
	}
	/* A forward link may come to an incoming guest (worker-migrate.c):
	 * listen in the host's namespace while we are in it. */
	if (spec->mig_fd >= 0)
		w->fwd_lfd = hrpcd_worker_mig_fwd_listener(spec->mig_fd);
	w->svcs = hrpcd_services_start(w->srv, spec, error);
	if (!w->svcs)
		return FALSE;
	if (spec->ctl_fd >= 0)
		w->ctl = watch_fd(w, spec->ctl_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, ctl_event);
	if (spec->mig_fd >= 0) {
		/* A guest migrating in: its channel, sockets and memory come
		 * from the source host (worker-migrate.c), not a fresh layout. */
		if (!hrpcd_worker_mig_incoming(w, error))
			return FALSE;
		w->watch = watch_fd(w, spec->host_fd[HRPC_IVSHMEM_VEC_RESET], G_IO_IN,
				    reset_vector_event);
		hrpcd_worker_conn_attach(w);
		return TRUE;
	}
	if (spec->transport == HRPC_ADMIN_TRANSPORT_IVSHMEM)
		ok = chan_ivshmem(w, &ch, error);
	else if (spec->transport == HRPC_ADMIN_TRANSPORT_XEN)
		ok = chan_xen(w, &ch, error);
	else
		ok = chan_memfd(w, &ch, error);
	if (!ok)
		return FALSE;
	rc = hrpc_conn_new(w->srv, ch, spec->guest_id, &w->conn);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot create the connection: %s", g_strerror(-rc));
		return FALSE;
	}
	hrpcd_worker_conn_attach(w);
	return TRUE;
}

void hrpcd_worker_conn_attach(Worker *w)
{
	HrpcdWorkerSpec *spec = w->spec;

	if (w->conn_src)
		return;
	if (spec->poll_max_ns) {
		HrpcGlibPolling pol = { .max_ns = spec->poll_max_ns };

		if (!w->gate && spec->gate_fd >= 0) {
			void *p = mmap(NULL, HRPCD_GATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
				       spec->gate_fd, 0);

			if (p != MAP_FAILED)
				w->gate = p;
			close(spec->gate_fd);   /* the mapping stays */
			spec->gate_fd = -1;
		}
		if (w->gate) {
			pol.gate = w->gate;
			pol.gate_max = spec->poll_spinners;
		}
		w->conn_src = hrpc_glib_conn_attach_polling(w->conn, w->ctx, conn_done, w, &pol);
	} else {
		w->conn_src = hrpc_glib_conn_attach(w->conn, w->ctx, conn_done, w);
	}
}

void hrpcd_worker_conn_detach(Worker *w)
{
	GSource *src = w->conn_src ? g_main_context_find_source_by_id(w->ctx, w->conn_src) : NULL;

	/* The conn's fence notice holds the source: let go of it first. */
	hrpc_conn_set_fence_notify(w->conn, NULL, NULL, NULL);
	if (src)
		g_source_destroy(src);
	w->conn_src = 0;
}

/* Mirror of worker_start() and of the set-up in worker_run(). */
static void worker_stop(Worker *w)
{
	hrpcd_worker_mig_port_close(w);
	hrpcd_worker_locations_free(w);
	if (w->fwd_lfd >= 0) {
		close(w->fwd_lfd);
		w->fwd_lfd = -1;
	}
	if (w->ctl) {
		g_source_destroy(w->ctl);
		g_source_unref(w->ctl);
		w->ctl = NULL;
	}
	if (w->watch) {
		g_source_destroy(w->watch);
		g_source_unref(w->watch);
		w->watch = NULL;
	}
	hrpc_conn_free(w->conn);   /* frees the channel; says CLOSED unless fenced */
	w->conn = NULL;
#ifdef HAVE_XEN
	xen_reset_close(w);
#endif
	if (w->map)
		munmap(w->map, w->map_len);
	hrpcd_services_stop(w->svcs);
	hrpc_server_free(w->srv);
}

/* Step 1 (sandbox.h), once the services have read their configuration
 * (which may live next to the state directory, in what gets covered): the
 * daemon's namespace for its workers, or one of our own.  Only root can; a
 * daemon of another uid has nothing of root's to hide. */
static gboolean sandbox_mount(const HrpcdWorkerSpec *spec, GError **error)
{
	g_autofree char *state = NULL;
	char err[512] = "";
	int rc;

	if (geteuid() != 0 || !spec->workdir)
		return TRUE;
	state = g_get_current_dir();   /* the state directory, absolute */
	if (spec->mntns_fd >= 0) {
		rc = hrpcd_sandbox_mount_enter(spec->mntns_fd, state, err, sizeof(err));
		close(spec->mntns_fd);
	} else {
		rc = hrpcd_sandbox_mount(state, spec->uid, err, sizeof(err));
	}
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "cannot confine the worker: %s", err);
		return FALSE;
	}
	return TRUE;
}

/* After set-up: nothing left that the guest could turn against the host
 * (sandbox.h, steps 1 to 3). */
static gboolean sandbox_lock(const HrpcdWorkerSpec *spec, gboolean fs, gboolean fs_mknod,
			     GError **error)
{
	char err[256] = "";
	HrpcdLogTarget target;
	gboolean verbose;

	if (!sandbox_mount(spec, error))
		return FALSE;
	/* The filter lets no AF_UNIX socket be made: syslog's now. */
	hrpcd_log_settings(&target, &verbose);
	if (target == HRPCD_LOG_SYSLOG)
		openlog("hostrpcd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if ((fs && hrpcd_sandbox_fs_root(err, sizeof(err)) < 0) ||
	    (fs ? hrpcd_sandbox_drop_fs(fs_mknod, err, sizeof(err))
		: hrpcd_sandbox_drop(spec->uid, getppid(), err, sizeof(err))) < 0 ||
	    hrpcd_sandbox_seccomp_fs(fs, err, sizeof(err)) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "cannot confine the worker: %s", err);
		return FALSE;
	}
	return TRUE;
}

static int worker_run(HrpcdWorkerSpec *spec)
{
	g_autoptr(GError) error = NULL;
	guint32 fs_allow = 0;
	Worker w = {
		.spec = spec, .state = HRPC_ADMIN_STATE_STARTING,
		.exit_code = HRPCD_WORKER_EXIT_SETUP, .fwd_lfd = -1,
	};

	w.ctx = g_main_context_new();
	g_main_context_push_thread_default(w.ctx);
	w.loop = g_main_loop_new(w.ctx, FALSE);
	w.publisher = g_source_new(&publisher_funcs, sizeof(GSource) + sizeof(Worker *));
	*(Worker **)(w.publisher + 1) = &w;
	g_source_attach(w.publisher, w.ctx);

	hrpcd_log_guest(G_LOG_LEVEL_DEBUG, spec->guest_id, spec->name, "worker %ld started",
			(long)getpid());
	if (worker_start(&w, &error) &&
	    sandbox_lock(spec, hrpcd_services_fs_exports(w.svcs, &fs_allow) > 0,
			 (fs_allow & FSS_ALLOW_DEV) != 0, &error))
		g_main_loop_run(w.loop);
	else
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec->guest_id, spec->name, "%s",
				error->message);
	publish(&w);
	worker_stop(&w);
	if (w.exit_code == HRPCD_WORKER_EXIT_FENCED &&
	    (spec->transport == HRPC_ADMIN_TRANSPORT_IVSHMEM ||
	     spec->transport == HRPC_ADMIN_TRANSPORT_XEN))
		g_usleep(FENCE_HOLD_MS * 1000);

	g_source_destroy(w.publisher);
	g_source_unref(w.publisher);
	g_main_loop_unref(w.loop);
	g_main_context_pop_thread_default(w.ctx);
	g_main_context_unref(w.ctx);
	if (w.gate)
		munmap(w.gate, HRPCD_GATE_SIZE);
	return w.exit_code;
}

/* ---- the worker process's entry point ------------------------------------ */


static gboolean fd_ok(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

int hrpcd_worker_main(int argc, char **argv)
{
	gint guest_id = 0;
	gint64 shm_size = 0, uid = -1, poll_max_ns = 0, poll_spinners = 0;
	g_autofree char *name = NULL, *transport = NULL, *workdir = NULL, *policy_dir = NULL;
	g_autofree char *mig_intro = NULL, *mig_key = NULL, *fs_policy_dir = NULL;
	g_autofree char *mem_policy_dir = NULL, *guest_policy_dir = NULL;
	gboolean worker = FALSE, use_syslog = FALSE, verbose = FALSE, mem_adopt = FALSE;
	gint64 xen_domid = 0, xen_pages = 0, xen_port = 0, xen_reset_port = 0;
	g_autofree char *xen_dirs = NULL;
	GOptionEntry entries[] = {
		{ "worker", 0, 0, G_OPTION_ARG_NONE, &worker, NULL, NULL },
		{ "guest-id", 0, 0, G_OPTION_ARG_INT, &guest_id, NULL, NULL },
		{ "name", 0, 0, G_OPTION_ARG_STRING, &name, NULL, NULL },
		{ "transport", 0, 0, G_OPTION_ARG_STRING, &transport, NULL, NULL },
		{ "shm-size", 0, 0, G_OPTION_ARG_INT64, &shm_size, NULL, NULL },
		{ "workdir", 0, 0, G_OPTION_ARG_FILENAME, &workdir, NULL, NULL },
		{ "sock-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &policy_dir, NULL, NULL },
		{ "fs-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &fs_policy_dir, NULL, NULL },
		{ "mem-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &mem_policy_dir, NULL, NULL },
		{ "guest-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &guest_policy_dir, NULL, NULL },
		{ "mem-adopt", 0, 0, G_OPTION_ARG_NONE, &mem_adopt, NULL, NULL },
		{ "poll-max-ns", 0, 0, G_OPTION_ARG_INT64, &poll_max_ns, NULL, NULL },
		{ "poll-spinners", 0, 0, G_OPTION_ARG_INT64, &poll_spinners, NULL, NULL },
		{ "uid", 0, 0, G_OPTION_ARG_INT64, &uid, NULL, NULL },
		{ "migrate-in", 0, 0, G_OPTION_ARG_STRING, &mig_intro, NULL, NULL },
		{ "migrate-key", 0, 0, G_OPTION_ARG_FILENAME, &mig_key, NULL, NULL },
		{ "xen-domid", 0, 0, G_OPTION_ARG_INT64, &xen_domid, NULL, NULL },
		{ "xen-pages", 0, 0, G_OPTION_ARG_INT64, &xen_pages, NULL, NULL },
		{ "xen-dirs", 0, 0, G_OPTION_ARG_STRING, &xen_dirs, NULL, NULL },
		{ "xen-port", 0, 0, G_OPTION_ARG_INT64, &xen_port, NULL, NULL },
		{ "xen-reset-port", 0, 0, G_OPTION_ARG_INT64, &xen_reset_port, NULL, NULL },
		{ "syslog", 0, 0, G_OPTION_ARG_NONE, &use_syslog, NULL, NULL },
		{ "verbose", 0, 0, G_OPTION_ARG_NONE, &verbose, NULL, NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	HrpcdWorkerSpec spec;
	char comm[16];
	gboolean ok;

	signal(SIGPIPE, SIG_IGN);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_help_enabled(ctx, FALSE);
	ok = g_option_context_parse(ctx, &argc, &argv, &error);
	hrpcd_log_init(use_syslog ? HRPCD_LOG_SYSLOG : HRPCD_LOG_STDERR, verbose);
	if (!ok || !worker || guest_id <= 0 || !name || !transport || shm_size < 0 ||
	    uid < -1 || uid > G_MAXUINT32 - 1) {
		g_critical("worker: bad invocation%s%s (hostrpcd starts its workers itself)",
			   error ? ": " : "", error ? error->message : "");
		return HRPCD_WORKER_EXIT_SETUP;
	}
	/* "hrpcd-g12345678": 15 bytes at most, the kernel's limit. */
	g_snprintf(comm, sizeof(comm), "hrpcd-g%.8x", (guint)guest_id);
	prctl(PR_SET_NAME, comm);

	hrpcd_worker_spec_init(&spec, (guint32)guest_id, name,
			       g_str_equal(transport, "ivshmem") ? HRPC_ADMIN_TRANSPORT_IVSHMEM
			       : g_str_equal(transport, "xen")   ? HRPC_ADMIN_TRANSPORT_XEN
								 : HRPC_ADMIN_TRANSPORT_MEMFD,
			       FD_STATUS);
	spec.shm_size = (gsize)shm_size;
	spec.workdir = workdir;
	spec.sock_policy_dir = policy_dir;
	spec.fs_policy_dir = fs_policy_dir;
	spec.mem_policy_dir = mem_policy_dir;
	spec.guest_policy_dir = guest_policy_dir;
	spec.mem_adopt = mem_adopt;
	if (spec.transport == HRPC_ADMIN_TRANSPORT_IVSHMEM) {
		spec.shm_fd = FD_SHM;
		for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
			spec.host_fd[v] = FD_HOST + v;
			spec.guest_fd[v] = FD_GUEST + v;
		}
		ok = fd_ok(FD_SHM) && fd_ok(FD_END - 1);
		if (mig_intro) {
			spec.mig_fd = FD_MIG;
			spec.mig_intro = mig_intro;
			spec.mig_key = mig_key;
			ok = ok && fd_ok(FD_MIG) && mig_key;
			if (fd_ok(FD_REMNANT))
				spec.remnant_fd = FD_REMNANT;
		}
	} else if (spec.transport == HRPC_ADMIN_TRANSPORT_XEN) {
		/* From our supervisor, which checked them (xen-domains.c). */
		spec.xen.domid = (guint32)CLAMP(xen_domid, 0, G_MAXUINT32);
		spec.xen.nr_pages = (guint32)CLAMP(xen_pages, 0, HRPC_XEN_MAX_PAGES);
		spec.xen.port = (guint32)CLAMP(xen_port, 0, G_MAXUINT32);
		spec.xen_reset_port = (guint32)CLAMP(xen_reset_port, 0, G_MAXUINT32);
		ok = hrpcd_xen_dirs_parse(xen_dirs, spec.xen.nr_pages, spec.xen.dir_refs);
	} else {
		spec.sock = FD_SOCK;
		ok = fd_ok(FD_SOCK);
	}
	if (fd_ok(FD_AUDIT))
		spec.audit_fd = FD_AUDIT;
	if (fd_ok(FD_CTL))
		spec.ctl_fd = FD_CTL;
	if (fd_ok(FD_MNTNS))
		spec.mntns_fd = FD_MNTNS;
	if (fd_ok(FD_GATE))
		spec.gate_fd = FD_GATE;
	spec.poll_max_ns = (guint32)CLAMP(poll_max_ns, 0, HRPCD_POLL_MAX_NS);
	spec.poll_spinners = (guint32)CLAMP(poll_spinners, 0, G_MAXINT32);
	spec.uid = (uid_t)uid;
	spec.status = ok ? hrpcd_status_map(FD_STATUS) : NULL;
	if (!spec.status) {
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec.guest_id, spec.name,
				"worker started without its descriptors");
		return HRPCD_WORKER_EXIT_SETUP;
	}
	if (spec.workdir && chdir(spec.workdir) < 0) {
		/* Without it no state directory to hide: fail closed. */
		hrpcd_log_guest(G_LOG_LEVEL_WARNING, spec.guest_id, spec.name,
				"cannot enter %s: %s", spec.workdir, g_strerror(errno));
		return HRPCD_WORKER_EXIT_SETUP;
	}
	return worker_run(&spec);
}

/* ---- starting a worker (supervisor) ------------------------------------------ */

/* Between fork() and execve(): async-signal-safe calls only. */
static void G_GNUC_NORETURN exec_worker(const int *src, const int *dst, int n, char **argv,
					pid_t parent, int max_fd, int nice)
{
	static const int reset[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGQUIT };
	int tmp[FD_MAX];

	hrpcd_spawn_child_signals(reset, G_N_ELEMENTS(reset));
	/* A worker without its supervisor is no use to anyone. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	/* Lower only (hrpcd_worker_guest_nice()), which cannot fail. */
	if (nice != HRPCD_NICE_KEEP && setpriority(PRIO_PROCESS, 0, nice) < 0)
		_exit(127);
	/* Copies above the target range first, so no target clobbers a source;
	 * then only 0-2 and the targets survive: no listening socket, no admin
	 * connection, none of the other guests' memory or eventfds. */
	for (int i = 0; i < n; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD, FD_MAX);
		if (tmp[i] < 0)
			_exit(127);
	}
	/* Targets ascend: close the gaps between them, and all above. */
	for (int i = 0, fd = FD_STATUS; i < n; i++) {
		for (; fd < dst[i]; fd++)
			close(fd);
		if (dup2(tmp[i], dst[i]) < 0)
			_exit(127);
		fd = dst[i] + 1;
	}
	if (close_range(dst[n - 1] + 1, ~0u, 0) < 0)
		for (int fd = dst[n - 1] + 1; fd < max_fd; fd++)
			close(fd);
	execv("/proc/self/exe", argv);
	_exit(127);
}

pid_t hrpcd_worker_spawn(const HrpcdWorkerSpec *spec, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	HrpcdLogTarget target;
	gboolean verbose;
	pid_t parent = getpid(), pid;
	int src[FD_MAX], dst[FD_MAX], n = 0, max_fd, err;

	/* Everything the child needs is prepared here: after fork() it may
	 * not allocate. */
	hrpcd_log_settings(&target, &verbose);
	g_ptr_array_add(argv, g_strdup("hostrpcd-worker"));
	g_ptr_array_add(argv, g_strdup("--worker"));
	g_ptr_array_add(argv, g_strdup_printf("--guest-id=%u", spec->guest_id));
	g_ptr_array_add(argv, g_strdup_printf("--name=%s", spec->name));
	g_ptr_array_add(argv, g_strdup_printf("--transport=%s",
					      hrpc_admin_transport_name(spec->transport)));
	g_ptr_array_add(argv, g_strdup_printf("--shm-size=%zu", spec->shm_size));
	if (spec->workdir)
		g_ptr_array_add(argv, g_strdup_printf("--workdir=%s", spec->workdir));
	if (spec->sock_policy_dir)
		g_ptr_array_add(argv, g_strdup_printf("--sock-policy-dir=%s",
						      spec->sock_policy_dir));
	if (spec->fs_policy_dir)
		g_ptr_array_add(argv, g_strdup_printf("--fs-policy-dir=%s", spec->fs_policy_dir));
	if (spec->mem_policy_dir)
		g_ptr_array_add(argv, g_strdup_printf("--mem-policy-dir=%s", spec->mem_policy_dir));
	if (spec->guest_policy_dir)
		g_ptr_array_add(argv, g_strdup_printf("--guest-policy-dir=%s",
						      spec->guest_policy_dir));
	if (spec->mem_adopt)
		g_ptr_array_add(argv, g_strdup("--mem-adopt"));
	if (spec->transport == HRPC_ADMIN_TRANSPORT_XEN) {
		GString *dirs = g_string_new(NULL);

		for (guint32 i = 0; i < HRPC_XEN_DIRS(spec->xen.nr_pages) && i < HRPC_XEN_MAX_DIRS; i++)
			g_string_append_printf(dirs, "%s%u", i ? "," : "", spec->xen.dir_refs[i]);
		g_ptr_array_add(argv, g_strdup_printf("--xen-domid=%u", spec->xen.domid));
		g_ptr_array_add(argv, g_strdup_printf("--xen-pages=%u", spec->xen.nr_pages));
		g_ptr_array_add(argv, g_strdup_printf("--xen-dirs=%s", dirs->str));
		g_ptr_array_add(argv, g_strdup_printf("--xen-port=%u", spec->xen.port));
		g_ptr_array_add(argv, g_strdup_printf("--xen-reset-port=%u", spec->xen_reset_port));
		g_string_free(dirs, TRUE);
	}
	if (spec->poll_max_ns) {
		g_ptr_array_add(argv, g_strdup_printf("--poll-max-ns=%u", spec->poll_max_ns));
		g_ptr_array_add(argv, g_strdup_printf("--poll-spinners=%u", spec->poll_spinners));
	}
	if (spec->uid != (uid_t)-1)
		g_ptr_array_add(argv, g_strdup_printf("--uid=%u", (unsigned)spec->uid));
	if (spec->mig_fd >= 0) {
		g_ptr_array_add(argv, g_strdup_printf("--migrate-in=%s", spec->mig_intro));
		g_ptr_array_add(argv, g_strdup_printf("--migrate-key=%s", spec->mig_key));
	}
	if (target == HRPCD_LOG_SYSLOG)
		g_ptr_array_add(argv, g_strdup("--syslog"));
	if (verbose)
		g_ptr_array_add(argv, g_strdup("--verbose"));
	g_ptr_array_add(argv, NULL);

	src[n++] = spec->status_fd;
	if (spec->transport == HRPC_ADMIN_TRANSPORT_IVSHMEM) {
		src[n++] = spec->shm_fd;
		for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
			src[n++] = spec->host_fd[v];
		for (int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++)
			src[n++] = spec->guest_fd[v];
	} else if (spec->transport != HRPC_ADMIN_TRANSPORT_XEN) {
		src[n++] = spec->sock;
	}
	for (int i = 0; i < n; i++)
		dst[i] = FD_STATUS + i;
	if (spec->audit_fd >= 0) {
		src[n] = spec->audit_fd;
		dst[n++] = FD_AUDIT;
	}
	if (spec->ctl_fd >= 0) {
		src[n] = spec->ctl_fd;
		dst[n++] = FD_CTL;
	}
	if (spec->mntns_fd >= 0) {
		src[n] = spec->mntns_fd;
		dst[n++] = FD_MNTNS;
	}
	if (spec->gate_fd >= 0) {
		src[n] = spec->gate_fd;
		dst[n++] = FD_GATE;
	}
	if (spec->mig_fd >= 0) {
		src[n] = spec->mig_fd;
		dst[n++] = FD_MIG;
		if (spec->remnant_fd >= 0) {
			src[n] = spec->remnant_fd;
			dst[n++] = FD_REMNANT;
		}
	}
	for (int i = 0; i < n; i++) {
		if (src[i] < 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				    "worker descriptor %d missing", i);
			return 0;
		}
	}
	max_fd = (int)MIN(sysconf(_SC_OPEN_MAX), 65536);

	/* A SIGTERM from guest_stop() right after the fork must end the child,
	 * not run the daemon's handler there (spawn.h). */
	pid = hrpcd_spawn_fork();
	if (pid == 0)
		exec_worker(src, dst, n, (char **)argv->pdata, parent, max_fd, spec->nice);
	err = errno;
	if (pid < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
			    "cannot fork a worker: %s", g_strerror(err));
		return 0;
	}
	return pid;
}
