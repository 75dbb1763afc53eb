/* SPDX-License-Identifier: MIT */
/*
 * test-fss-watch - the fs-server tells host-side edits from its client's
 * own calls (fs-server/server.c, cfg.watch), in the order that lost an
 * edit in CI: the host writes a file the client holds and the client's
 * next call names that same file before the server polled inotify.  The
 * host's edit must still become an INVAL event; the client's own changes
 * (a truncating OPEN, a WRITE) must not.  In-process, no daemon: the
 * order of the steps is the test's, not the scheduler's.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-server/server.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "tests/unit/fss-call.h"

static struct fss *srv;
static struct {
	uint64_t node;
	uint32_t what;
} evs[64];
static int nev;

static void on_inval(void *data, const struct hrpc_gfs_inval_event *ev)
{
	(void)data;
	if (nev < 64) {
		evs[nev].node = ev->node;
		evs[nev].what = ev->what;
		nev++;
	}
}

/* Events for `node` with every bit of `what`. */
static int events_for(uint64_t node, uint32_t what)
{
	int n = 0;

	for (int i = 0; i < nev; i++)
		n += evs[i].node == node && (evs[i].what & what) == what;
	return n;
}

/* One call as root, the payload after the credentials; the reply's first
 * bytes into out.  Returns the server's status. */

static void host_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

/* flags: HRPC_GFS_O_* (the access mode is Linux's O_RDONLY, O_WRONLY, O_RDWR) */
static uint64_t open_file(uint64_t node, uint32_t flags)
{
	struct hrpc_gfs_open_req o = { .node = node, .flags = flags };
	struct hrpc_gfs_fh_rep fh = { 0 };

	return fss_call(srv, HRPC_GFS_OPEN, &o, sizeof(o), NULL, 0, &fh, sizeof(fh), NULL) == 0 ? fh.fh : 0;
}

int main(void)
{
	char top[] = "/tmp/test-fss-watch-XXXXXX", path[128];
	const struct fss_config cfg = { .max_nodes = 64, .max_files = 16, .handle_tag = 1,
					.watch = true, .inval = on_inval };
	const uint32_t data = HRPC_GFS_INVAL_DATA | HRPC_GFS_INVAL_ATTR;
	struct hrpc_gfs_mount_req m = { .path_len = 1, .path = "/" };
	struct hrpc_gfs_dir_name_req l = { .name = { .len = 1, .name = "f" } };
	struct hrpc_gfs_entry root = { 0 }, f = { 0 };
	struct hrpc_gfs_io_req w;
	uint64_t fh;
	int root_fd, rc;

	tap_plan(6);
	if (!mkdtemp(top))
		tap_skip_all("mkdtemp: %m");
	snprintf(path, sizeof(path), "%s/f", top);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	root_fd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	srv = fss_new(root_fd, &cfg);
	if (!srv || fss_watch_fd(srv) < 0)
		tap_skip_all("no fs-server with inotify here");
	rc = fss_call(srv, HRPC_GFS_MOUNT, &m, sizeof(m), NULL, 0, &root, sizeof(root), NULL);
	l.parent = root.node;
	rc = rc ?: fss_call(srv, HRPC_GFS_LOOKUP, &l, sizeof(l), NULL, 0, &f, sizeof(f), NULL);
	tap_ok(rc == 0 && f.node, "MOUNT and LOOKUP of a file: node %#llx",
	       (unsigned long long)f.node);

	/* The host writes; the client opens the file (read-only) before the
	 * server's loop polled inotify. */
	nev = 0;
	host_write(path, "host-1");
	fh = open_file(f.node, O_RDONLY);
	fss_watch_dispatch(srv);
	tap_ok(fh && events_for(f.node, data) >= 1,
	       "a host write, then the client's OPEN of that file: INVAL DATA|ATTR (%d events)",
	       nev);

	/* The same before a modifying call on the file: the host's edit is
	 * reported, the call's own is not (one event, not two or none). */
	nev = 0;
	host_write(path, "host-2");
	memset(&w, 0, sizeof(w));
	fh = open_file(f.node, O_WRONLY);
	w.fh = fh;
	w.offset = 100;
	w.size = 5;
	rc = fss_call(srv, HRPC_GFS_WRITE, &w, sizeof(w), "guest", 5, NULL, 0, NULL);
	fss_watch_dispatch(srv);
	tap_ok(fh && rc == 0 && events_for(f.node, data) == 1,
	       "a host write, then the client's OPEN and WRITE of that file: the host's edit "
	       "is reported, the WRITE is not (%d events)", nev);

	/* The client's own changes alone: no event. */
	nev = 0;
	fh = open_file(f.node, O_WRONLY | HRPC_GFS_O_TRUNC);
	w.fh = fh;
	w.offset = 0;
	rc = fss_call(srv, HRPC_GFS_WRITE, &w, sizeof(w), "guest", 5, NULL, 0, NULL);
	fss_watch_dispatch(srv);
	tap_ok(fh && rc == 0 && nev == 0,
	       "the client's own truncating OPEN and WRITE: no INVAL (%d events)", nev);

	/* And a host edit with no call after it comes through the poll. */
	nev = 0;
	host_write(path, "host-3");
	fss_watch_dispatch(srv);
	tap_ok(events_for(f.node, data) == 1, "a host write, then the poll: one INVAL (%d)", nev);

	fss_free(srv);
	close(root_fd);
	snprintf(path, sizeof(path), "rm -rf %s", top);
	tap_ok(system(path) == 0, "clean up");
	return tap_failed ? 1 : 0;
}
