/* SPDX-License-Identifier: MIT */
/*
 * outsource-fs.h - filesystem outsourcing, host half: a host directory
 * mounted in the guest (mount -t hostrpcfs EXPORT /mnt,
 * drivers-frontend/fs/), served by the guest's hostrpcd worker as Host RPC
 * service 17 (HRPC_SVC_FS) with the protocol of include/hostrpc/guestfs.h
 * and the server of fs-server/ - the one the guest agent runs for the
 * other direction.
 *
 * One fs-server per export of the guest's policy (policy.h), each with its
 * own handle tag, id policy, read-only mode and limits; this service routes
 * each call to its export by the tag of the call's first handle, MOUNT by
 * the first component of its path ("/NAME/sub/dir"), FORGET item by item.
 * RENAME and LINK across exports are EXDEV.  Changes made on the host by
 * anyone but the guest reach the guest as HRPC_GFS_EVT_INVAL events
 * (inotify on the nodes it holds).  Every open and every refusal goes to
 * the guest's audit log ("fs" records).
 *
 * Lifetime: the service and its servers are the worker's, from
 * outsource_fs_service_start() (before the sandbox: export directories are
 * opened then) to outsource_fs_service_stop(); their GLib sources are on
 * the thread-default main context and go with the service.
 *
 * Error convention: gboolean/NULL + GError (GLib layer).
 */
#ifndef OUTSOURCE_FS_H
#define OUTSOURCE_FS_H

#include <glib.h>

#include "hostrpc/hostrpc.h"

G_BEGIN_DECLS

typedef struct _OutsourceFsService OutsourceFsService;

/*
 * The policy: <policy_dir>/<name>.conf, else <policy_dir>/default.conf;
 * none: no exports (every MOUNT is -ENOENT).  `policy_dir` NULL:
 * SYSCONFDIR/hostrpc/fs.  A policy that does not parse, or an export path
 * that is not a directory, fails the start.  audit_fd: the worker's audit
 * channel (audit-sink.h), -1: no audit.
 */
OutsourceFsService *outsource_fs_service_start(hrpc_server *srv, guint32 guest_id,
					       const char *guest_name, const char *policy_dir,
					       int audit_fd, GError **error);
/* The same with the policy's text (policy.h syntax) from file `source`,
 * whose name and line errors carry; `policy_text` NULL: no exports,
 * `source` saying why.  A section of a larger file (hostrpcd's
 * guests/NAME.conf): the whole file with the other lines blanked. */
OutsourceFsService *outsource_fs_service_start_text(hrpc_server *srv, guint32 guest_id,
						    const char *guest_name, const char *policy_text,
						    const char *source, int audit_fd, GError **error);
void outsource_fs_service_stop(OutsourceFsService *svc);
/* The exports, and what they allow together (FSS_ALLOW_*) in *allow. */
guint outsource_fs_service_exports(OutsourceFsService *svc, guint32 *allow);
/* The exports and the open files, as text or one JSON object; g_free. */
char *outsource_fs_service_listing(OutsourceFsService *svc, gboolean json, gsize *len);
/*
 * A migrating guest (include/hostrpc/fsstate.h).  Source: quiesce lets go
 * of the guest's locks on the host, export writes every mounted server's
 * nodes and open files (malloc'ed), resume is a rollback (the locks taken
 * again).  Destination, before the worker confines itself: import makes
 * them again under the same handles from this host's exports of the same
 * names (their paths may differ), all or nothing; -ENOENT when an export
 * the guest has mounted is not in this host's policy.  0 or -errno, `err`
 * says why.
 */
int outsource_fs_service_mig_export(OutsourceFsService *svc, void **table, size_t *len);
void outsource_fs_service_mig_quiesce(OutsourceFsService *svc);
int outsource_fs_service_mig_resume(OutsourceFsService *svc);
int outsource_fs_service_mig_import(OutsourceFsService *svc, const void *table, size_t len,
				    char *err, size_t errlen);
/*
 * Files that stay at the source (issue 14): an export the destination does
 * not have keeps its server at the source's remnant.
 *
 * The destination: import marks the servers of records with
 * HRPC_FS_MIG_F_FORWARD as forwarded (outsource_fs_service_forwarded():
 * a mask of their tags).  Each call on their handles goes out through
 * `fn` (set_forward; 0 or -errno: the guest gets EIO, EAGAIN when the link
 * has too many calls under way) and the guest's reply is deferred until
 * fwd_reply() brings the remnant's with the same id (once; unknown ids are
 * ignored).  fwd_event(): the remnant's invalidations (-EPROTO for one
 * about a node no forwarded server has).  fwd_lost(): the link ended;
 * every later call on those servers is EIO.  FORGET goes one-way; a new
 * MOUNT of such an export is ENOENT here.  Export writes a forwarded
 * server as a record with HRPC_FS_MIG_F_FORWARD and no nodes or files:
 * its state is the remnant's to give (migfwd.h FS_EXPORT), and
 * hostrpc-migrate puts that in its place.
 *
 * The remnant: mig_keep() keeps the servers of `tags` (the guest's locks
 * taken again), frees the rest, and sends their events to `event_fn`;
 * mig_quiesce(), mig_export() and mig_resume() then work on those alone;
 * call() serves one forwarded call into rep (its payload: the service's
 * buffer, valid until the next call; reply bulk in c->bulk); kept_live():
 * the guest still holds nodes of a kept server.
 */
typedef struct {
	guint64 id;
	guint16 proc;
	gboolean oneway;
	const void *payload;
	guint32 len;
	guint8 *bulk;               /* NULL: none */
	guint32 bulk_len, bulk_cap;
} OutsourceFsCall;
typedef int (*OutsourceFsForwardFn)(void *data, guint tag, const OutsourceFsCall *c);
typedef void (*OutsourceFsEventFn)(void *data, guint16 proc, const void *payload, guint32 len);
guint64 outsource_fs_service_forwarded(OutsourceFsService *svc);
/* The location table's view: forwarded servers (the destination) or kept
 * ones (the remnant), one per call from *pos (start at 0); FALSE at the
 * end. */
typedef struct {
	guint tag;
	char name[64];
	gboolean ro, lost;
	guint64 calls;             /* forwarded (destination) or served (remnant) */
	guint32 nodes;             /* the remnant: nodes the guest holds */
} OutsourceFsFwdInfo;
gboolean outsource_fs_service_fwd_next(OutsourceFsService *svc, guint *pos,
				       OutsourceFsFwdInfo *info);
/* This host's policy has an export of that name. */
gboolean outsource_fs_service_has_export(OutsourceFsService *svc, const char *name);
void outsource_fs_service_set_forward(OutsourceFsService *svc, OutsourceFsForwardFn fn,
				      void *data);
void outsource_fs_service_fwd_reply(OutsourceFsService *svc, guint64 id, int status,
				    const void *payload, guint32 len, const void *bulk,
				    guint32 bulk_len);
int outsource_fs_service_fwd_event(OutsourceFsService *svc, guint16 proc, const void *payload,
				   guint32 len);
void outsource_fs_service_fwd_lost(OutsourceFsService *svc);
int outsource_fs_service_mig_keep(OutsourceFsService *svc, guint64 tags,
				  OutsourceFsEventFn event_fn, void *data);
gboolean outsource_fs_service_kept_live(OutsourceFsService *svc);
int outsource_fs_service_call(OutsourceFsService *svc, const OutsourceFsCall *c,
			      struct hrpc_reply *rep);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OutsourceFsService, outsource_fs_service_stop)

G_END_DECLS

#endif
