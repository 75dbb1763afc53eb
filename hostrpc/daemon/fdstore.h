/* SPDX-License-Identifier: MIT */
/*
 * fdstore.h - hostrpcd's fd holder, in the spirit of systemd's file
 * descriptor store.
 *
 * QEMU never reconnects to its ivshmem server: whoever holds the server's
 * end of the connection, the shared memfd and the eventfds holds the guest's
 * channel.  The holder is a separate, tiny process (`hostrpcd --fdstore`,
 * exec'd from the daemon's own binary, in its own session) that keeps
 * duplicates of those descriptors for as long as the daemon wants them kept,
 * and hands them back to the next daemon after a restart or a crash.  It
 * parses nothing but its own fixed-size messages (fdstore-proto.h), never
 * maps guest memory and never reads from a guest's descriptor.
 *
 * It exits by itself when no daemon has been connected for `--idle-exit`
 * seconds and it holds nothing of an attached guest (nothing at all, or only
 * endpoints' listening sockets), when its socket file is removed or replaced
 * (nobody could reach it any more), on a QUIT request, and on SIGTERM or
 * SIGKILL (then every QEMU still attached through it is stranded: do not
 * kill it while guests run and no daemon is up).
 *
 * The daemon's side is HrpcdFdstore below.  Error convention: gboolean /
 * pointer + GError.
 */
#ifndef HOSTRPCD_FDSTORE_H
#define HOSTRPCD_FDSTORE_H

#include <sys/types.h>

#include <glib.h>

#include "hostrpc/daemon/fdstore-proto.h"

#define HRPCD_FDSTORE_IDLE_DEFAULT_S 30
#define HRPCD_FDSTORE_MAX_ENTRIES    16384

/* `hostrpcd --fdstore --socket=PATH [--idle-exit=S] [--ready-fd=N] ...`:
 * the holder process.  Returns its exit code. */
int hrpcd_fdstore_main(int argc, char **argv);

/* ---- the daemon's side ------------------------------------------------------ */

/* One stored descriptor. */
typedef struct {
	char name[HRPCD_FDSTORE_NAME_MAX];
	guint16 role;              /* enum hrpcd_fdstore_role */
	guint16 index;
	guint64 value;
	int fd;
} HrpcdFdstoreItem;

typedef struct _HrpcdFdstore HrpcdFdstore;

/*
 * Open a session with the holder listening on `path`; if none listens there,
 * start one (`idle_exit_s` 0: default; `syslog`: it logs to syslog and not
 * to our stderr) and connect to it.  A holder busy with another daemon is
 * retried for a few seconds (a daemon that is shutting down lets go last),
 * then G_IO_ERROR_BUSY.
 */
HrpcdFdstore *hrpcd_fdstore_open(const char *path, guint idle_exit_s, gboolean syslog,
				 GError **error);
/* Connect to a running holder only (G_IO_ERROR_NOT_FOUND if there is none). */
HrpcdFdstore *hrpcd_fdstore_connect(const char *path, GError **error);
/* End the session.  Everything stored stays in the holder. */
void hrpcd_fdstore_close(HrpcdFdstore *fs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdFdstore, hrpcd_fdstore_close)

pid_t hrpcd_fdstore_pid(HrpcdFdstore *fs);
/* Entries the holder held when the session opened. */
guint hrpcd_fdstore_held(HrpcdFdstore *fs);
/* The session's socket: it hangs up when the holder goes away. */
int hrpcd_fdstore_socket(HrpcdFdstore *fs);
/* Did the holder get started by this hrpcd_fdstore_open()? */
gboolean hrpcd_fdstore_started(HrpcdFdstore *fs);

/* Store duplicates of `n` descriptors (any number; sent in batches, each
 * batch all or nothing).  The caller keeps its own. */
gboolean hrpcd_fdstore_store(HrpcdFdstore *fs, const HrpcdFdstoreItem *items, guint n,
			     GError **error);
/* Forget every entry of `name` with one of the `n` roles (HRPCD_FDSTORE_ANY:
 * all of them). */
gboolean hrpcd_fdstore_remove(HrpcdFdstore *fs, const char *name, const guint16 *roles,
			      guint n, GError **error);
/* Everything stored, as an array of HrpcdFdstoreItem whose fds are now the
 * caller's (the holder keeps its own).  NULL on error. */
GArray *hrpcd_fdstore_fetch(HrpcdFdstore *fs, GError **error);
/* Close each item's fd and free the array (NULL-safe). */
void hrpcd_fdstore_items_free(GArray *items);
/* Tell the holder to close everything and exit; the session ends. */
gboolean hrpcd_fdstore_quit(HrpcdFdstore *fs, GError **error);

const char *hrpcd_fdstore_role_name(guint role);

#endif /* HOSTRPCD_FDSTORE_H */
