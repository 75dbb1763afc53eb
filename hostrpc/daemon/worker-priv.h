/* SPDX-License-Identifier: MIT */
/*
 * worker-priv.h - the worker process's state, shared by worker.c and
 * worker-migrate.c (its part in a live migration).  Worker process only.
 */
#ifndef HOSTRPCD_WORKER_PRIV_H
#define HOSTRPCD_WORKER_PRIV_H

#include <glib.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/daemon/services.h"
#include "hostrpc/daemon/worker.h"

typedef struct _WorkerMigPort WorkerMigPort;

typedef struct {
	HrpcdWorkerSpec *spec;
	GMainContext *ctx;
	GMainLoop *loop;
	hrpc_server *srv;
	HrpcdServices *svcs;
	hrpc_conn *conn;
	void *map;                 /* ivshmem: the shared memory */
	gsize map_len;
	guint32 generation;
	guint32 state;
	gboolean announced;        /* "negotiated" logged */
	char fence_reason[160];
	int exit_code;
	GSource *publisher;
	GSource *watch;            /* memfd: the connection; ivshmem, xen: the reset vector */
	void *xen_reset;           /* xen: the reset port's xenevtchn handle */
	guint32 xen_reset_local;   /* xen: our end of it */
	GSource *ctl;              /* the supervisor's requests (worker-ctl.h) */
	guint conn_src;            /* serving the channel (hostrpc-glib.h) */
	void *gate;                /* the spinner count page, mapped; NULL: none */
	WorkerMigPort *port;       /* a migration's source side (worker-migrate.c) */
	/* The location table (issue 14): the guest's objects that live on
	 * another host and the forward link to them (here, where the guest
	 * runs), or those that stayed here after it left (remnant). */
	GPtrArray *fwds;           /* of WorkerFwd: one per forward link (remnant host) */
	gboolean remnant;
	GArray *locations;         /* of WorkerLocation, for hostrpcctl locations */
	struct _WorkerFwd *moving; /* the remnant: the link whose objects move on */
	guint holding;             /* FWD_HOLD: forward links yet to say HELD */
	guint moves;               /* FWD_MOVE: MOVED answers awaited */
	GSource *remnant_timer;    /* the remnant checks whether anything is left */
	GSource *remnant_peer;     /* the remnant: an incoming worker of the guest may
	                            * take its connections back (REMNANT_TAKE) */
	struct _WorkerFwd *fs_wf;  /* the link to the remnant that serves the guest's
	                            * forwarded exports (here), or over which the
	                            * remnant serves them (remnant); NULL: none */
	guint64 fs_kept;           /* the remnant: tags of the servers it kept */
	gboolean fs_far_files;     /* incoming: the forwarded exports' remnant links here
	                            * from a third host (FWD_REMOTE_FS) */
	int fwd_lfd;               /* incoming: a listener for a forward link, made in
	                            * the host's network namespace (before the socket
	                            * service enters the guest's), -1: none */
} Worker;

typedef struct {
	guint64 handle;
	char what[160];            /* "tcp LOCAL -> PEER" */
} WorkerLocation;

/* One forward link and its objects; owned by w->fwds. */
typedef struct _WorkerFwd {
	Worker *w;
	struct mig_fwd *fwd;
	char peer[80];             /* the other host, as the link's peer address */
} WorkerFwd;

/*
 * A guest comes back to a host where its remnant still holds connections
 * forwarded to it: the incoming worker takes them (they become local
 * again) over a SOCK_SEQPACKET pair the supervisor made (worker-ctl.h
 * HRPCD_CTL_REMNANT_PEER; spec->remnant_fd).  Both ends are hostrpcd
 * workers of the same guest, so native layout; each still checks sizes.
 *
 *   incoming -> remnant   struct hrpcd_remnant_take + u64 handles[n]
 *   remnant -> incoming   per handle: struct hrpcd_remnant_took, with the
 *                         socket and (pend_len > 0) a memfd of the bytes
 *                         the guest sent that the socket has not taken;
 *                         then one with handle 0: the end (the remnant has
 *                         closed its copies of the sockets by then).
 */
#define HRPCD_REMNANT_TAKE 1u

struct hrpcd_remnant_take {
	guint32 type;              /* HRPCD_REMNANT_TAKE */
	guint32 n;                 /* 1..HRPC_MIG_FWD_MAX */
};

struct hrpcd_remnant_took {
	guint64 handle;            /* 0: the end */
	gint32 status;             /* 0 (a socket follows), or -errno */
	guint32 pend_len;
};

/* worker.c */
void hrpcd_worker_stop(Worker *w, guint32 state, int exit_code);
/* Serve the channel from the loop / stop serving it (a migration's quiesce). */
void hrpcd_worker_conn_attach(Worker *w);
void hrpcd_worker_conn_detach(Worker *w);

/* worker-migrate.c */
/* The supervisor handed us hostrpc-migrate's port (the source side). */
void hrpcd_worker_mig_port_open(Worker *w, int fd);
void hrpcd_worker_mig_port_close(Worker *w);
/* The destination side: authenticate the link, take the guest's state,
 * memory and channel; on success w->conn serves the adopted channel. */
gboolean hrpcd_worker_mig_incoming(Worker *w, GError **error);
/* A listener on the migration link's local address, port 0 (-1 if none
 * can be made): where a forward link may come. */
int hrpcd_worker_mig_fwd_listener(int link_fd);
/* hostrpcctl locations: the table as text or JSON (g_malloc'ed). */
char *hrpcd_worker_locations(Worker *w, gboolean json, gsize *len);
/* Tear down what the location table holds (the worker ends). */
void hrpcd_worker_locations_free(Worker *w);
/* The remnant: the supervisor's end of a channel to an incoming worker. */
void hrpcd_worker_remnant_peer(Worker *w, int fd);
/* The remnant: the supervisor's answer to a MOVE (worker-ctl.h
 * HRPCD_CTL_FWD_LINK): the new link's socket and session, or -errno. */
void hrpcd_worker_fwd_link_in(Worker *w, int status, const void *payload, gsize len, int fd);

#endif /* HOSTRPCD_WORKER_PRIV_H */
