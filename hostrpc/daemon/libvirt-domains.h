/* SPDX-License-Identifier: MIT */
/*
 * libvirt-domains.h - hostrpcd follows libvirt: it learns which domains
 * carry a hostrpc ivshmem device and creates each endpoint before the
 * domain can start (QEMU exits if its ivshmem server is not listening).
 *
 * A domain is a hostrpc guest when its XML has
 *   <shmem name='...'><model type='ivshmem-doorbell'/>
 *     <server path='ENDPOINT_DIR/NAME.ivshmem'/> ...</shmem>
 * with the path inside hostrpcd's endpoint directory (docs/libvirt.md).
 *
 * Error convention: gboolean + GError (GLib layer).
 */
#ifndef HOSTRPCD_LIBVIRT_DOMAINS_H
#define HOSTRPCD_LIBVIRT_DOMAINS_H

#include <glib.h>

G_BEGIN_DECLS

/* Endpoint paths (ivshmem server sockets) a domain XML asks hostrpcd for:
 * every ivshmem-doorbell <shmem> whose <server path> is a direct child of
 * `endpoint_dir`.  Returns a new array of paths (possibly empty). */
gboolean hrpcd_domain_xml_endpoints(const char *xml, const char *endpoint_dir,
				    GPtrArray **paths, GError **error);

typedef struct _HrpcdLibvirt HrpcdLibvirt;

/* Called on the GLib context given to hrpcd_libvirt_new(). */
typedef void (*HrpcdEndpointFunc)(const char *domain, const char *path, gpointer user_data);

/*
 * Connect to `uri` (e.g. qemu:///system; test:///default in tests), create
 * endpoints for every domain already defined, then follow lifecycle events:
 * DEFINED (new or changed XML) adds/removes endpoints to match, UNDEFINED
 * removes the domain's endpoints.  A path is one domain's: the first to ask
 * for it; another domain naming it is refused (logged) until the owner lets
 * it go, and `remove` is only ever called by the owner.  A lost connection
 * is retried every 2 seconds; endpoints stay while it is down.
 * libvirt's events come through GLib's global default context (libvirt's
 * default event implementation): whoever calls this must run it, as
 * hostrpcd's main loop does; `ctx` (NULL: the thread's default) runs the
 * connection check and the callbacks.  One thread: no locking.
 */
HrpcdLibvirt *hrpcd_libvirt_new(const char *uri, const char *endpoint_dir, GMainContext *ctx,
				HrpcdEndpointFunc add, HrpcdEndpointFunc remove,
				gpointer user_data, GError **error);
void hrpcd_libvirt_free(HrpcdLibvirt *lv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdLibvirt, hrpcd_libvirt_free)

G_END_DECLS

#endif
