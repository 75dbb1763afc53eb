/* SPDX-License-Identifier: MIT */
/*
 * test-agent-hostile-host - guestrpcd (the real binary, over a socketpair)
 * against a host that breaks every rule of services 256 and 257: names with
 * '/', NUL, ".", "..", over-long or with garbage after them; MOUNT paths
 * and symlinks that try to leave the export root; forged, stale and
 * released handles; impossible sizes and offsets; bad exec requests.  Each
 * is refused with the documented errno, and the agent keeps serving; a
 * host that breaks the framing loses its channel and the next host is
 * served afresh.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/guestexec.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/hostrpc.h"
#include "tests/tap.h"

static hrpc_client *cli;
static uint32_t rep_len;
/* Who the filesystem calls say they come from (root unless a test says). */
static struct hrpc_gfs_cred cred;
static bool raw_fs;         /* send a filesystem call's payload as it is */

/* One call; bulk_cap > 0 allocates a bulk buffer with `out` copied in. */
static int call(uint16_t svc, uint16_t proc, const void *req, uint32_t len, void *rep,
		uint32_t cap, const void *out, uint32_t out_len, uint32_t bulk_cap)
{
	static uint8_t with_cred[sizeof(struct hrpc_gfs_cred) + HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_bulk b = { 0 };
	struct hrpc_call c = {
		.service = svc, .proc = proc, .req = req, .req_len = len,
		.rep = rep, .rep_cap = cap, .timeout_ms = 5000,
	};
	int rc;

	if (svc == HRPC_SVC_GUEST_FS && !raw_fs) {
		/* The caller first (guestfs.h), as every client sends it. */
		memcpy(with_cred, &cred, sizeof(cred));
		memcpy(with_cred + sizeof(cred), req, len);
		c.req = with_cred;
		c.req_len = (uint32_t)sizeof(cred) + len;
	}

	if (bulk_cap) {
		if (hrpc_client_bulk_alloc(cli, bulk_cap, &b) < 0)
			return -ENOMEM;
		if (out_len)
			memcpy(b.ptr, out, out_len);
		c.bulk = &b;
		c.bulk_len = out_len;
	}
	rc = hrpc_client_call(cli, &c);
	rep_len = c.rep_len;
	/* Reply bulk lands right after the inline reply, if there is room. */
	if (bulk_cap && rep && rc == 0 && c.rep_bulk_len && cap >= c.rep_len + c.rep_bulk_len)
		memcpy((char *)rep + c.rep_len, (char *)b.ptr + c.rep_bulk_pos, c.rep_bulk_len);
	hrpc_client_bulk_free(cli, &b);
	return rc;
}

static int fs(uint16_t proc, const void *req, uint32_t len, void *rep, uint32_t cap)
{
	return call(HRPC_SVC_GUEST_FS, proc, req, len, rep, cap, NULL, 0, 0);
}

static void set_name(struct hrpc_gfs_name *n, const char *s, size_t len)
{
	memset(n, 0, sizeof(*n));
	n->len = (uint16_t)len;
	memcpy(n->name, s, len < sizeof(n->name) ? len : sizeof(n->name));
}

static int lookup(uint64_t parent, const char *name, size_t len, struct hrpc_gfs_entry *e)
{
	struct hrpc_gfs_dir_name_req r = { .parent = parent };

	set_name(&r.name, name, len);
	return fs(HRPC_GFS_LOOKUP, &r, sizeof(r), e, sizeof(*e));
}

static int mount_path(const char *path, struct hrpc_gfs_entry *e)
{
	static struct hrpc_gfs_mount_req m;

	memset(&m, 0, sizeof(m));
	m.path_len = (uint16_t)strlen(path);
	memcpy(m.path, path, m.path_len);
	return fs(HRPC_GFS_MOUNT, &m, sizeof(m), e, sizeof(*e));
}

static pid_t start_agent(const char *root, int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		char fds[16], path[4096];
		const char *b = getenv("top_builddir");

		snprintf(fds, sizeof(fds), "%d", fd);
		snprintf(path, sizeof(path), "%s/guestrpc/guestrpcd", b ? b : ".");
		execl(path, "guestrpcd", "-r", root, "--fd", fds, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int main(void)
{
	char root[] = "/tmp/gs-hostile-XXXXXX", path[4200];
	struct hrpc_gfs_entry e, rootn, f;
	struct hrpc_gfs_node_req nr;
	uint8_t big[HRPC_MSG_MAX_PAYLOAD];
	hrpc_chan *ch;
	int sv[2], status, rc;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(root))
		tap_skip_all("mkdtemp failed");
	snprintf(path, sizeof(path), "%s/srv", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/srv/file", root);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(path, sizeof(path), "%s/srv/private", root);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(path, sizeof(path), "%s/srv/pub", root);
	mkdir(path, 0777);
	chmod(path, 0777);
	snprintf(path, sizeof(path), "%s/srv/escape", root);
	if (symlink("/etc", path) < 0)
		tap_skip_all("symlink failed");
	snprintf(path, sizeof(path), "%s/guestrpc/guestrpcd", getenv("top_builddir") ? getenv("top_builddir") : ".");
	if (access(path, X_OK) < 0)
		tap_skip_all("guestrpcd not built (%s)", path);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		tap_skip_all("socketpair");
	pid = start_agent(root, sv[1]);
	close(sv[1]);
	if (hrpc_vport_chan_new(HRPC_ROLE_CLIENT, sv[0], &ch) < 0 ||
	    hrpc_client_new(ch, "hostile-host", 5000, &cli) < 0)
		tap_skip_all("cannot talk to guestrpcd");
	tap_plan(50);

	/* ---- MOUNT paths ---- */
	tap_ok(fs(HRPC_GFS_LOOKUP, big, 272, big, 96) == -ESTALE, "no node before a MOUNT");
	tap_ok(mount_path("/../../../etc", &e) == -ENOENT,
	       "MOUNT /../../../etc stays in the export root (ENOENT, not the real /etc)");
	tap_ok(mount_path("/srv/escape", &e) == -ENOENT,
	       "MOUNT through a symlink to /etc resolves inside the export root");
	tap_ok(mount_path("srv", &e) == -EINVAL, "MOUNT of a relative path: EINVAL");
	rc = mount_path("/srv", &rootn);
	tap_ok(rc == 0 && S_ISDIR(rootn.attr.mode), "MOUNT /srv (rc %d)", rc);

	/* ---- names ---- */
	tap_ok(lookup(rootn.node, "a/b", 3, &e) == -EINVAL, "name with '/': EINVAL");
	tap_ok(lookup(rootn.node, "..", 2, &e) == -EINVAL, "name \"..\": EINVAL");
	tap_ok(lookup(rootn.node, ".", 1, &e) == -EINVAL, "name \".\": EINVAL");
	tap_ok(lookup(rootn.node, "", 0, &e) == -EINVAL, "empty name: EINVAL");
	tap_ok(lookup(rootn.node, "fi\0le", 5, &e) == -EINVAL, "name with a NUL: EINVAL");
	memset(path, 'x', 300);
	tap_ok(lookup(rootn.node, path, 256, &e) == -ENAMETOOLONG, "256-byte name: ENAMETOOLONG");
	{
		struct hrpc_gfs_dir_name_req r = { .parent = rootn.node };

		set_name(&r.name, "file", 4);
		r.name.name[10] = 'x';
		tap_ok(fs(HRPC_GFS_LOOKUP, &r, sizeof(r), &e, sizeof(e)) == -EINVAL,
		       "garbage after the name: EINVAL");
	}
	{
		struct hrpc_gfs_make_req m = { .parent = rootn.node, .mode = 0755 };

		set_name(&m.name, "..", 2);
		tap_ok(fs(HRPC_GFS_MKDIR, &m, sizeof(m), &e, sizeof(e)) == -EINVAL,
		       "MKDIR \"..\": EINVAL");
		set_name(&m.name, "x/y", 3);
		m.mode = 0644;
		tap_ok(fs(HRPC_GFS_CREATE, &m, sizeof(m), big, 104) == -EINVAL, "CREATE \"x/y\": EINVAL");
	}
	{
		struct hrpc_gfs_rename_req r = { .olddir = rootn.node, .newdir = rootn.node };

		set_name(&r.oldname, "file", 4);
		set_name(&r.newname, "..", 2);
		tap_ok(fs(HRPC_GFS_RENAME, &r, sizeof(r), NULL, 0) == -EINVAL, "RENAME to \"..\": EINVAL");
	}

	/* ---- symlinks are never followed ---- */
	rc = lookup(rootn.node, "escape", 6, &e);
	tap_ok(rc == 0 && S_ISLNK(e.attr.mode), "a symlink to /etc is a symlink node");
	tap_ok(lookup(e.node, "passwd", 6, &f) == -ENOTDIR, "looking up through the symlink: ENOTDIR");
	{
		struct hrpc_gfs_open_req o = { .node = e.node };

		tap_ok(fs(HRPC_GFS_OPEN, &o, sizeof(o), big, 8) == -ENXIO, "OPEN of a symlink node: ENXIO");
	}

	/* ---- forged and stale handles ---- */
	nr = (struct hrpc_gfs_node_req){ .node = 0 };
	tap_ok(fs(HRPC_GFS_GETATTR, &nr, sizeof(nr), big, 88) == -ESTALE, "node 0: ESTALE");
	nr.node = rootn.node + (1ull << 32);
	tap_ok(fs(HRPC_GFS_GETATTR, &nr, sizeof(nr), big, 88) == -ESTALE, "wrong generation: ESTALE");
	nr.node = HRPC_GFS_HANDLE(99999, 1);
	tap_ok(fs(HRPC_GFS_GETATTR, &nr, sizeof(nr), big, 88) == -ESTALE, "index out of range: ESTALE");
	rc = lookup(rootn.node, "file", 4, &f);
	{
		uint8_t fr[16] = { 0 };
		struct { struct hrpc_gfs_forget_req h; struct hrpc_gfs_forget_item i; } fg =
			{ { 1, 0 }, { f.node, 1 } };

		fg.i.node = f.node;
		tap_ok(rc == 0 && fs(HRPC_GFS_FORGET, &fg, sizeof(fg), NULL, 0) == 0 &&
		       (nr.node = f.node, fs(HRPC_GFS_GETATTR, &nr, sizeof(nr), fr, 16)) == -ESTALE,
		       "a forgotten node is stale");
	}
	lookup(rootn.node, "file", 4, &f);
	{
		struct hrpc_gfs_open_req o = { .node = f.node, .flags = 2 };
		struct hrpc_gfs_fh_rep fh;
		struct hrpc_gfs_fh_req rel;
		struct hrpc_gfs_io_req io = { .size = 16 };

		rc = fs(HRPC_GFS_OPEN, &o, sizeof(o), &fh, sizeof(fh));
		rel = (struct hrpc_gfs_fh_req){ .fh = fh.fh };
		io.fh = fh.fh ^ 0x5a5a;
		tap_ok(rc == 0 && call(HRPC_SVC_GUEST_FS, HRPC_GFS_READ, &io, sizeof(io), big, 64,
				       NULL, 0, 16) == -EBADF, "forged file handle: EBADF");
		io.fh = fh.fh;
		io.size = HRPC_GFS_IO_MAX + 1;
		tap_ok(call(HRPC_SVC_GUEST_FS, HRPC_GFS_READ, &io, sizeof(io), big, 64, NULL, 0, 16) == -EINVAL,
		       "READ of more than 1 MiB: EINVAL");
		io.size = 16;
		io.offset = INT64_MAX - 4;
		tap_ok(call(HRPC_SVC_GUEST_FS, HRPC_GFS_READ, &io, sizeof(io), big, 64, NULL, 0, 16) == -EINVAL,
		       "READ past 2^63: EINVAL");
		io.offset = 0;
		io.size = 4096;
		tap_ok(call(HRPC_SVC_GUEST_FS, HRPC_GFS_READ, &io, sizeof(io), big, 64, NULL, 0, 16) == -EFAULT,
		       "READ larger than the buffer offered: EFAULT");
		io.size = 100;
		tap_ok(call(HRPC_SVC_GUEST_FS, HRPC_GFS_WRITE, &io, sizeof(io), big, 8, "abc", 3, 16) == -EFAULT,
		       "WRITE whose size is not the bulk's: EFAULT");
		io.size = 3;
		rc = call(HRPC_SVC_GUEST_FS, HRPC_GFS_WRITE, &io, sizeof(io), big, 8, "abc", 3, 16);
		tap_ok(rc == 0 && fs(HRPC_GFS_RELEASE, &rel, sizeof(rel), NULL, 0) == 0 &&
		       call(HRPC_SVC_GUEST_FS, HRPC_GFS_READ, &io, sizeof(io), big, 64, NULL, 0, 16) == -EBADF,
		       "a released file handle: EBADF");
	}
	tap_ok(fs(HRPC_GFS_GETATTR, &nr, 15, big, 88) == -EINVAL, "payload one byte short: EINVAL");
	{
		struct hrpc_gfs_open_req o = { .node = f.node, .flags = 2 };

		tap_ok(call(HRPC_SVC_GUEST_FS, HRPC_GFS_OPEN_READ, &o, sizeof(o), big, 16, NULL, 0, 64) == -EINVAL,
		       "OPEN_READ for writing: EINVAL");
		o.flags = 0;
		rc = call(HRPC_SVC_GUEST_FS, HRPC_GFS_OPEN_READ, &o, sizeof(o), big, 64, NULL, 0, 2);
		tap_ok(rc == 0 && rep_len == 16 && ((struct hrpc_gfs_open_read_rep *)big)->size == 2 &&
		       ((struct hrpc_gfs_open_read_rep *)big)->eof == 0 && !memcmp(big + 16, "ab", 2),
		       "OPEN_READ returns the first bytes, no more than the buffer offered (rc %d)", rc);
	}

	/* ---- credentials ---- */
	{
		struct hrpc_gfs_node_req g = { .node = rootn.node };
		struct hrpc_gfs_open_req o = { .node = 0 };
		struct hrpc_gfs_make_req m = { .mode = 0755 };
		struct hrpc_gfs_fh_rep fh;
		struct hrpc_gfs_entry pub, pr, made;
		bool as_root = geteuid() == 0;

		raw_fs = true;
		tap_ok(fs(HRPC_GFS_GETATTR, &g, 16, big, 88) == -EINVAL,
		       "a call without the caller's credentials: EINVAL");
		memset(big, 0, sizeof(struct hrpc_gfs_mount_req));
		big[4] = 1;
		big[8] = '/';
		tap_ok(fs(HRPC_GFS_MOUNT, big, sizeof(struct hrpc_gfs_mount_req), big, 96) ==
		       -EPROTONOSUPPORT, "a MOUNT from a client older than credentials: EPROTONOSUPPORT");
		raw_fs = false;
		cred.ngroups = HRPC_GFS_GROUPS_MAX + 1;
		tap_ok(fs(HRPC_GFS_GETATTR, &g, 16, big, 88) == -EINVAL, "33 groups: EINVAL");
		cred.ngroups = 1;
		cred.groups[1] = 7;
		tap_ok(fs(HRPC_GFS_GETATTR, &g, 16, big, 88) == -EINVAL, "a group past ngroups: EINVAL");
		memset(&cred, 0, sizeof(cred));
		cred.uid = 0xffffffffu;
		tap_ok(fs(HRPC_GFS_GETATTR, &g, 16, big, 88) == -EINVAL, "uid -1: EINVAL");
		memset(&cred, 0, sizeof(cred));
		cred.reserved[1] = 1;
		tap_ok(fs(HRPC_GFS_GETATTR, &g, 16, big, 88) == -EINVAL, "reserved bits set: EINVAL");
		memset(&cred, 0, sizeof(cred));

		/* As another user: the guest kernel checks, the agent owns nothing. */
		lookup(rootn.node, "private", 7, &pr);
		lookup(rootn.node, "pub", 3, &pub);
		cred.uid = 4321;
		cred.gid = 4321;
		o.node = pr.node;
		rc = fs(HRPC_GFS_OPEN, &o, sizeof(o), &fh, sizeof(fh));
		if (as_root)
			tap_ok(rc == -EACCES, "uid 4321 opens root's 0600 file: EACCES (rc %d)", rc);
		else
			tap_ok(1, "# SKIP not root: the agent cannot act as others");
		m.parent = pub.node;
		set_name(&m.name, "mine", 4);
		rc = fs(HRPC_GFS_MKDIR, &m, sizeof(m), &made, sizeof(made));
		tap_ok(rc == 0 && (!as_root || (made.attr.uid == 4321 && made.attr.gid == 4321)),
		       "uid 4321 makes a directory: it is 4321's (rc %d, %u:%u)", rc,
		       made.attr.uid, made.attr.gid);
		m.parent = rootn.node;
		rc = fs(HRPC_GFS_MKDIR, &m, sizeof(m), &made, sizeof(made));
		tap_ok(!as_root || rc == -EACCES, "uid 4321 in root's 0755 directory: EACCES (rc %d)", rc);
		cred.groups[0] = 0;
		cred.ngroups = 1;
		cred.uid = cred.gid = 0;
		o.node = pr.node;
		o.flags = 0;
		rc = fs(HRPC_GFS_OPEN, &o, sizeof(o), &fh, sizeof(fh));
		tap_ok(rc == 0, "root opens it (rc %d)", rc);
		memset(&cred, 0, sizeof(cred));
		tap_ok(fs(HRPC_GFS_GETATTR, &g, 16, big, 88) == 0,
		       "the agent is itself again after the calls as 4321");
		{
			struct hrpc_gfs_access_req a = { .node = pr.node, .mask = HRPC_GFS_ACCESS_R };

			cred.uid = cred.gid = 4321;
			rc = fs(HRPC_GFS_ACCESS, &a, sizeof(a), NULL, 0);
			tap_ok(!as_root || rc == -EACCES, "ACCESS R of root's 0600 file as 4321: EACCES (rc %d)", rc);
			memset(&cred, 0, sizeof(cred));
			a.mask = 8;
			tap_ok(fs(HRPC_GFS_ACCESS, &a, sizeof(a), NULL, 0) == -EINVAL,
			       "ACCESS with an unknown mask bit: EINVAL");
			lookup(rootn.node, "escape", 6, &e);
			a.node = e.node;
			a.mask = HRPC_GFS_ACCESS_R;
			tap_ok(fs(HRPC_GFS_ACCESS, &a, sizeof(a), NULL, 0) == 0,
			       "ACCESS of a symlink node (to /etc): 0, and its target is never looked at");
		}
	}

	/* ---- exec ---- */
	{
		struct hrpc_gex_start_req s = { .argc = 1, .window = 1u << 20, .strings_len = 4 };
		struct hrpc_gex_kill_req k = { .handle = HRPC_GFS_HANDLE(3, 7), .signal = 9 };

		tap_ok(call(HRPC_SVC_GUEST_EXEC, HRPC_GEX_START, &s, sizeof(s), big, 16, "echo", 4, 8) == -EINVAL,
		       "argv string without its NUL: EINVAL");
		s.argc = 0;
		s.strings_len = 5;
		tap_ok(call(HRPC_SVC_GUEST_EXEC, HRPC_GEX_START, &s, sizeof(s), big, 16, "echo", 5, 8) == -E2BIG,
		       "argc 0: refused");
		tap_ok(call(HRPC_SVC_GUEST_EXEC, HRPC_GEX_KILL, &k, sizeof(k), NULL, 0, NULL, 0, 0) == -ESRCH,
		       "KILL of a forged session handle: ESRCH");
	}

	/* Still serving, then a host that breaks the framing loses the channel. */
	tap_ok(fs(HRPC_GFS_GETATTR, &(struct hrpc_gfs_node_req){ .node = rootn.node }, 16, big, 88) == 0,
	       "the agent still serves after all that");
	memset(big, 0xee, 64);
	rc = (int)write(hrpc_client_wait_fd(cli), big, 64);
	hrpc_client_free(cli);
	rc = waitpid(pid, &status, 0);
	tap_ok(rc == pid && WIFEXITED(status), "garbage framing: the channel is dropped, the agent "
	       "exits cleanly (--fd mode), no crash (status %#x)", status);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	(void)!system(path);
	return tap_done();
}
