/* SPDX-License-Identifier: MIT */
/*
 * admin.h - hostrpcd's admin socket: the HRPC_SVC_ADMIN service
 * (include/hostrpc/admin.h) over the vport transport, served by the
 * supervisor itself.  Host-only (socket mode 0600), but its input is parsed
 * with the same care as a guest's: a broken frame fences that admin
 * connection and nothing else.
 */
#ifndef HOSTRPCD_ADMIN_H
#define HOSTRPCD_ADMIN_H

#include <glib.h>

#include "hostrpc/daemon/supervisor.h"

#define HRPCD_ADMIN_MAX_CONNS 16

typedef struct _HrpcdAdmin HrpcdAdmin;

/* `ctl_timeout_ms`: what the supervisor gives a worker to answer
 * (HrpcdSupervisorConfig.worker_ctl_timeout_ms; 0: the default), told to
 * hostrpcctl with each ticket. */
HrpcdAdmin *hrpcd_admin_new(HrpcdSupervisor *sup, const char *path, guint ctl_timeout_ms,
			    GError **error);
/* Drops the admin connections, closes and unlinks the socket. */
void hrpcd_admin_free(HrpcdAdmin *adm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdAdmin, hrpcd_admin_free)

#endif /* HOSTRPCD_ADMIN_H */
