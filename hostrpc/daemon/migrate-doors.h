/* SPDX-License-Identifier: MIT */
/*
 * migrate-doors.h - hostrpcd's two doors for hostrpc-migrate.
 *
 *  - the **port** (`--migrate-socket`, default STATE_DIR/migrate.sock, a
 *    SOCK_SEQPACKET unix socket, mode 0600): on the source host,
 *    hostrpc-migrate names a guest (struct hrpc_mig_open) and the
 *    connection goes to that guest's worker (HRPCD_CTL_MIGRATE_PORT);
 *  - the **link** (`--migrate-listen HOST:PORT`): on the destination host,
 *    the source's hostrpc-migrate names the guest in the link's intro
 *    (miglink.h) and the connection goes to a fresh worker of that guest's
 *    waiting QEMU, which authenticates it with the per-pair key
 *    (`--migrate-key`) before it believes a byte.
 *
 * The supervisor reads one fixed-size record per connection, without
 * waiting (INTRO_TIMEOUT_MS, MAX_WAITING), and parses nothing else.
 */
#ifndef HOSTRPCD_MIGRATE_DOORS_H
#define HOSTRPCD_MIGRATE_DOORS_H

#include <glib.h>

#include "hostrpc/daemon/supervisor.h"

typedef struct _HrpcdMigrateDoors HrpcdMigrateDoors;

/* Either may be NULL (that door stays shut).  Sources on the default context. */
HrpcdMigrateDoors *hrpcd_migrate_doors_new(HrpcdSupervisor *sup, const char *port_path,
					   const char *listen_addr, GError **error);
void hrpcd_migrate_doors_free(HrpcdMigrateDoors *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdMigrateDoors, hrpcd_migrate_doors_free)

#endif /* HOSTRPCD_MIGRATE_DOORS_H */
