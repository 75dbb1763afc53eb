/* SPDX-License-Identifier: MIT */
/*
 * outsource-mem.h - memory outsourcing, host half: the guest's host-owned
 * region (region.h) served by its hostrpcd worker as Host RPC service 18
 * (include/hostrpc/mem.h) to drivers-frontend/mem/ (hostrpc_mem.ko).
 *
 * The policy: <policy_dir>/<name>.conf, else <policy_dir>/default.conf,
 * a GKeyFile:
 *
 *   [memory]
 *   region-mib=1024          the region: a multiple of 2, at most 131072
 *   region-file=/dev/shm/hostrpc-mem-NAME   (the default; NAME the guest's)
 *   grant-mib=256            granted at the guest's first HELLO
 *   pin-quota-mib=64         what the guest may have pinned at once
 *   reclaim-deadline-ms=2000 how long a guest has to give memory back
 *   min-mib=0, max-mib=region-mib   what hostrpcd's balancing keeps it within
 *
 * Any other key in [memory] is an error; errors name the file, and the
 * line and key at fault.
 * No policy: no region (HELLO answers -ENODEV).  The region file is the one
 * the guest's QEMU maps (memory-backend-file,share=on + ivshmem-plain, or
 * libvirt's <shmem name='hostrpc-mem-NAME'><model type='ivshmem-plain'/>):
 * it must be a regular file on tmpfs (holes are what makes reclaimed
 * memory free), at least region-mib long if it exists; it is made if not.
 *
 * The guest is untrusted: a malformed request, a range outside the region,
 * or a request on chunks the host never granted fences its channel; so
 * does a guest that keeps touching memory the host took back (checked
 * every second, after a grace period).  Every grant, reclaim and fence goes
 * to the guest's audit log ("mem" records).
 *
 * Lifetime: the service is the worker's, from outsource_mem_service_start()
 * (before the sandbox: the region file is opened then) to
 * outsource_mem_service_stop(); its GLib sources are on the thread-default
 * main context and go with it.
 *
 * Error convention: gboolean/NULL + GError (GLib layer); the admin actions
 * return 0 or -errno.
 */
#ifndef OUTSOURCE_MEM_H
#define OUTSOURCE_MEM_H

#include <glib.h>

#include "hostrpc/hostrpc.h"

G_BEGIN_DECLS

typedef struct _OutsourceMemService OutsourceMemService;

/* adopt: this worker follows another for the same running guest (a
 * restart; hostrpcd restarted and adopted the guest's QEMU): the chunks of
 * the region that hold data stay the guest's (region.h). */
OutsourceMemService *outsource_mem_service_start(hrpc_server *srv, guint32 guest_id,
						 const char *guest_name, const char *policy_dir,
						 gboolean adopt, int audit_fd, GError **error);
void outsource_mem_service_stop(OutsourceMemService *svc);
/* The same with the policy's text (a GKeyFile with [memory]) from file
 * `source`, whose name and the line of the key at fault errors carry;
 * `policy_text` NULL: no region, `source` saying why.  A section of a
 * larger file (hostrpcd's guests/NAME.conf): the whole file with the other
 * lines blanked and its [memory] line kept. */
OutsourceMemService *outsource_mem_service_start_text(hrpc_server *srv, guint32 guest_id,
						      const char *guest_name,
						      const char *policy_text, const char *source,
						      gboolean adopt, int audit_fd, GError **error);
/* The [memory] policy of `text` as the service would apply it, every key
 * with its effective value, one key=value a line ("" without [memory]);
 * NULL with `error` as the service would fail.  For hostrpcd --check-config. */
char *outsource_mem_policy_format(const char *text, const char *source, const char *guest_name,
				  GError **error);

/* hostrpcctl memory GUEST grant|reclaim MIB: the host's decisions, now.
 * grant: up to `chunks` more (-ENOSPC: none free); reclaim: up to
 * `chunks` back within deadline_ms (0: the policy's) (-ENOENT: nothing
 * reclaimable).  -ENODEV: no region; -ENOTCONN: the guest has not said
 * HELLO.  Returns the chunks granted or asked back. */
int outsource_mem_service_grant(OutsourceMemService *svc, guint32 chunks);
int outsource_mem_service_reclaim(OutsourceMemService *svc, guint32 chunks, guint32 deadline_ms);
/* The region, grants, pins, pressure and counters, as text or JSON; g_free. */
char *outsource_mem_service_listing(OutsourceMemService *svc, gboolean json, gsize *len);

G_END_DECLS

#endif /* OUTSOURCE_MEM_H */
