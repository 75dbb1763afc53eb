/* SPDX-License-Identifier: MIT */
/*
 * test-fs-service - filesystem outsourcing's host half (outsource/fs) in a
 * real hostrpcd worker, driven by a process guest over Host RPC service 17:
 *
 *   test process (guest)                 hostrpcd --fs-policy-dir=POL
 *   MOUNT /a, /b, /nope  --------------> worker: export a (rw), b (ro)
 *   CREATE, WRITE, READ, LOCK, FORGET -> fs-server per export, inotify
 *   <----------------------------------- INVAL events for host-side edits
 *
 * Checks: routing by export (unknown export ENOENT, a forged tag ESTALE,
 * LINK and RENAME across exports EXDEV, read-only export EROFS); data
 * reaches the host's file; calls run as their caller (uid 1000 cannot
 * create in a root 0755 directory, a file uid 1000 creates in a 0777 one
 * is owned by 1000 on the host); locks are the host's (a flock the guest
 * holds makes a host flock fail); host-side edits come back as INVAL
 * events (data of a file, a new name in a directory) and the guest's own
 * writes do not; hostrpcctl files lists the open file; the audit log has
 * the opens and the refusals; the worker keeps only the filesystem
 * capabilities; it survives a hostile FORGET.
 */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/guestfs.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "itest.h"

static struct itest_daemon d;
static hrpc_client *cli;
static struct hrpc_bulk bulk;
static char top[256];

struct evlog {
	int n;
	struct hrpc_gfs_inval_event ev[64];
};
static struct evlog evs;

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
		     void *opaque)
{
	if (h->service != HRPC_SVC_FS || h->proc != HRPC_GFS_EVT_INVAL ||
	    h->len != sizeof(struct hrpc_gfs_inval_event) || evs.n == 64)
		return;
	memcpy(&evs.ev[evs.n++], payload, sizeof(evs.ev[0]));
}

/* A call as `uid` (gid the same): payload = cred + req. */
static int fs_call(uint16_t proc, uint32_t uid, const void *req, uint32_t len, void *rep,
		   uint32_t rep_cap, uint32_t bulk_len, uint32_t *rep_len)
{
	static uint8_t buf[sizeof(struct hrpc_gfs_cred) + 8192];
	struct hrpc_gfs_cred cred = { .uid = uid, .gid = uid };
	struct hrpc_call c = {
		.service = HRPC_SVC_FS, .proc = proc, .req = buf,
		.req_len = (uint32_t)sizeof(cred) + len, .rep = rep, .rep_cap = rep_cap,
		.bulk = &bulk, .bulk_len = bulk_len, .timeout_ms = 5000,
	};
	int rc;

	memcpy(buf, &cred, sizeof(cred));
	memcpy(buf + sizeof(cred), req, len);
	rc = hrpc_client_call(cli, &c);
	if (rep_len)
		*rep_len = c.rep_len;
	return rc;
}

static void set_name(struct hrpc_gfs_name *n, const char *s)
{
	memset(n, 0, sizeof(*n));
	n->len = (uint16_t)strlen(s);
	memcpy(n->name, s, n->len);
}

static int do_mount(const char *path, struct hrpc_gfs_entry *root)
{
	struct hrpc_gfs_mount_req m = { 0 };

	m.path_len = (uint16_t)strlen(path);
	memcpy(m.path, path, m.path_len);
	return fs_call(HRPC_GFS_MOUNT, 0, &m, sizeof(m), root, sizeof(*root), 0, NULL);
}

static int do_create(uint32_t uid, uint64_t dir, const char *name, uint32_t mode,
		     struct hrpc_gfs_create_rep *cr)
{
	struct hrpc_gfs_make_req r = { .parent = dir, .mode = mode, .flags = 2 /* O_RDWR */ };

	set_name(&r.name, name);
	return fs_call(HRPC_GFS_CREATE, uid, &r, sizeof(r), cr, sizeof(*cr), 0, NULL);
}

static int do_write(uint64_t fh, uint64_t off, const char *data)
{
	struct hrpc_gfs_io_req r = { .fh = fh, .offset = off, .size = (uint32_t)strlen(data) };
	struct hrpc_gfs_io_rep out;

	memcpy(bulk.ptr, data, r.size);
	return fs_call(HRPC_GFS_WRITE, 0, &r, sizeof(r), &out, sizeof(out), r.size, NULL);
}

/* Serve events for `ms`. */
static void pump(int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		hrpc_client_process(cli, 20);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static bool have_event(uint64_t node, uint32_t what, const char *name)
{
	for (int i = 0; i < evs.n; i++)
		if (evs.ev[i].node == node && (evs.ev[i].what & what) == what &&
		    (!name || (evs.ev[i].name.len == strlen(name) &&
			       !memcmp(evs.ev[i].name.name, name, strlen(name)))))
			return true;
	return false;
}

static bool file_has(const char *path, const char *needle)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(void)
{
	char pol[512], arg[600], path[600], cmd[2048], conf[1200];
	struct hrpc_gfs_entry ra, rb, e;
	struct hrpc_gfs_create_rep cf, cu, cx;
	struct hrpc_admin_guest g;
	struct stat st;
	const char *extra[2] = { arg, NULL };
	int rc, hfd;

	if (geteuid() != 0)
		tap_skip_all("needs root (the worker switches to its callers' ids)");
	tap_plan(26);
	itest_watchdog(120);
	snprintf(top, sizeof(top), "%s/hostrpc-fs.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return 1;
	snprintf(pol, sizeof(pol), "%s/policy", top);
	mkdir(pol, 0755);
	snprintf(path, sizeof(path), "%s/a", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/a/pub", top);
	mkdir(path, 0777);
	chmod(path, 0777);
	snprintf(path, sizeof(path), "%s/b", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/q", top);
	mkdir(path, 0755);
	snprintf(conf, sizeof(conf), "# test\nexport a %s/a ids=passthrough\n"
		 "export b %s/b ro ids=passthrough\nexport q %s/q ids=passthrough quota=8\n"
		 "max-files 64\n", top, top, top);
	snprintf(path, sizeof(path), "%s/default.conf", pol);
	write_file(path, conf);
	snprintf(arg, sizeof(arg), "--fs-policy-dir=%s", pol);

	rc = itest_daemon_start(&d, extra);
	if (rc < 0) {
		tap_diag("hostrpcd did not start: %s", strerror(-rc));
		itest_log_dump(&d);
		return 1;
	}
	rc = itest_guest_connect(d.guest_sock, "fsguest", &cli);
	if (rc < 0 || hrpc_client_bulk_alloc(cli, 65536, &bulk) < 0) {
		tap_diag("cannot connect: %s", strerror(-rc));
		return 1;
	}
	hrpc_client_set_event_handler(cli, on_event, NULL);

	tap_ok(do_mount("/a", &ra) == 0 && S_ISDIR(ra.attr.mode), "MOUNT /a: the export's root");
	tap_ok(do_mount("/b", &rb) == 0 && (rb.node >> 24 & 0xff) != (ra.node >> 24 & 0xff),
	       "MOUNT /b: a second export, its handles tagged apart");
	tap_ok(do_mount("/nope", &e) == -ENOENT, "MOUNT of an export the policy lacks: ENOENT");
	{
		struct hrpc_gfs_mount_req m = { .flags = HRPC_GFS_MOUNT_F_RDONLY, .path_len = 2 };
		struct hrpc_gfs_entry ro;
		struct hrpc_gfs_create_rep c2;

		memcpy(m.path, "/a", 2);
		rc = fs_call(HRPC_GFS_MOUNT, 0, &m, sizeof(m), &ro, sizeof(ro), 0, NULL);
		tap_ok(rc == 0 && ro.node != ra.node && do_create(0, ro.node, "r", 0644, &c2) == -EROFS &&
		       do_mount("/a", &e) == 0,
		       "a read-only MOUNT of export a beside the writable one: EROFS there only (%d)", rc);
	}
	rc = do_create(0, ra.node, "f", 0644, &cf);
	tap_ok(rc == 0 && do_write(cf.fh, 0, "hello") == 0, "CREATE and WRITE in export a (%d)", rc);
	snprintf(path, sizeof(path), "%s/a/f", top);
	tap_ok(file_has(path, "hello"), "the bytes are in the host's file");
	{
		struct hrpc_gfs_io_req r = { .fh = cf.fh, .offset = 0, .size = 5 };
		struct hrpc_gfs_io_rep out;
		struct hrpc_call dummy;
		(void)dummy;
		memset(bulk.ptr, 0, 16);
		rc = fs_call(HRPC_GFS_READ, 0, &r, sizeof(r), &out, sizeof(out), 0, NULL);
		tap_ok(rc == 0 && out.size == 5 && !memcmp(bulk.ptr, "hello", 5),
		       "READ returns them");
	}
	tap_ok(do_create(0, rb.node, "g", 0644, &cx) == -EROFS, "CREATE in read-only export b: EROFS");
	{
		struct hrpc_gfs_link_req l = { .node = cf.entry.node, .newparent = rb.node };
		struct hrpc_gfs_rename_req r = { .olddir = ra.node, .newdir = rb.node };

		set_name(&l.newname, "x");
		set_name(&r.oldname, "f");
		set_name(&r.newname, "f");
		tap_ok(fs_call(HRPC_GFS_LINK, 0, &l, sizeof(l), &e, sizeof(e), 0, NULL) == -EXDEV &&
		       fs_call(HRPC_GFS_RENAME, 0, &r, sizeof(r), NULL, 0, 0, NULL) == -EXDEV,
		       "LINK and RENAME across exports: EXDEV");
	}
	{
		struct hrpc_gfs_node_req n = { .node = ra.node ^ (0x7full << 24) };
		struct hrpc_gfs_attr a;

		tap_ok(fs_call(HRPC_GFS_GETATTR, 0, &n, sizeof(n), &a, sizeof(a), 0, NULL) == -ESTALE,
		       "a handle with a forged export tag: ESTALE");
	}
	tap_ok(do_create(1000, ra.node, "u", 0644, &cu) == -EACCES,
	       "uid 1000 cannot create in a root 0755 directory");
	{
		struct hrpc_gfs_dir_name_req l = { .parent = ra.node };

		set_name(&l.name, "pub");
		rc = fs_call(HRPC_GFS_LOOKUP, 0, &l, sizeof(l), &e, sizeof(e), 0, NULL);
		rc = rc ? rc : do_create(1000, e.node, "u", 0644, &cu);
		snprintf(path, sizeof(path), "%s/a/pub/u", top);
		tap_ok(rc == 0 && stat(path, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000,
		       "a file uid 1000 creates in a 0777 directory is the host's uid 1000's");
	}
	/* A quota on bytes written. */
	{
		struct hrpc_gfs_entry rq;
		struct hrpc_gfs_create_rep cq;

		rc = do_mount("/q", &rq);
		rc = rc ? rc : do_create(0, rq.node, "f", 0644, &cq);
		tap_ok(rc == 0 && do_write(cq.fh, 0, "12345") == 0 &&
		       do_write(cq.fh, 5, "6789") == -EDQUOT && do_write(cq.fh, 5, "678") == 0,
		       "quota=8: 5 bytes, then 4 more refused EDQUOT, 3 more fit");
	}
	/* Locks: the guest's flock is the host's. */
	{
		struct hrpc_gfs_lock_req l = { .fh = cf.fh, .cmd = HRPC_GFS_LOCK_FLOCK,
					       .type = HRPC_GFS_LOCK_WR };
		struct hrpc_gfs_lock_req out;

		uint32_t rl = 0;

		rc = fs_call(HRPC_GFS_LOCK, 0, &l, sizeof(l), &out, sizeof(out), 0, &rl);
		snprintf(path, sizeof(path), "%s/a/f", top);
		hfd = open(path, O_RDONLY);
		tap_ok(rc == 0 && rl == sizeof(out) && flock(hfd, LOCK_EX | LOCK_NB) < 0 &&
		       errno == EWOULDBLOCK,
		       "the guest's flock holds the host's file: a host flock fails");
		l.type = HRPC_GFS_LOCK_UN;
		fs_call(HRPC_GFS_LOCK, 0, &l, sizeof(l), &out, sizeof(out), 0, NULL);
		tap_ok(flock(hfd, LOCK_EX | LOCK_NB) == 0, "and is gone once the guest unlocks");
		flock(hfd, LOCK_UN);
		close(hfd);
	}
	/* Invalidation events. */
	evs.n = 0;
	do_write(cf.fh, 5, " again");
	pump(300);
	tap_ok(!have_event(cf.entry.node, HRPC_GFS_INVAL_DATA, NULL),
	       "the guest's own WRITE sends it no INVAL (%d events)", evs.n);
	snprintf(path, sizeof(path), "%s/a/f", top);
	hfd = open(path, O_WRONLY | O_APPEND);
	(void)!write(hfd, " host", 5);
	close(hfd);
	snprintf(path, sizeof(path), "%s/a/new", top);
	write_file(path, "x");
	/* (inotify in the worker, then the ring: at most 5 s on a loaded
	 * machine) */
	for (int ms = 0; ms < 5000; ms += 20) {
		if (have_event(cf.entry.node, HRPC_GFS_INVAL_DATA | HRPC_GFS_INVAL_ATTR, NULL) &&
		    have_event(ra.node, HRPC_GFS_INVAL_ENTRY, "new"))
			break;
		pump(20);
	}
	pump(300);      /* and any that follow them, before the next check's */
	tap_ok(have_event(cf.entry.node, HRPC_GFS_INVAL_DATA | HRPC_GFS_INVAL_ATTR, NULL),
	       "a host write to the file: INVAL DATA|ATTR of its node (%d events)", evs.n);
	tap_ok(have_event(ra.node, HRPC_GFS_INVAL_ENTRY, "new"),
	       "a file the host creates: INVAL ENTRY 'new' in the export's root (%d events)",
	       evs.n);
	/* The guest's own UNLINK of a file it holds: no event (its nlink
	 * change is the guest's doing). */
	{
		struct hrpc_gfs_dir_name_req l = { .parent = ra.node };
		struct hrpc_gfs_entry ne;

		set_name(&l.name, "new");
		rc = fs_call(HRPC_GFS_LOOKUP, 0, &l, sizeof(l), &ne, sizeof(ne), 0, NULL);
		pump(100);
		evs.n = 0;
		rc = rc ? rc : fs_call(HRPC_GFS_UNLINK, 0, &l, sizeof(l), NULL, 0, 0, NULL);
		pump(300);
		int own = 0;

		/* (The read-only mount of the same export holds the directory
		 * too: it is told, as another view of the change.) */
		for (int i = 0; i < evs.n; i++)
			own += (evs.ev[i].node >> 24 & 0xff) == (ra.node >> 24 & 0xff);
		tap_ok(rc == 0 && own == 0, "the guest's own UNLINK sends its mount no INVAL "
		       "(%d events, %d to the read-only mount)", own, evs.n - own);
	}
	/* Listing, with a byte-range lock held. */
	{
		struct hrpc_gfs_lock_req l = { .fh = cf.fh, .cmd = HRPC_GFS_LOCK_SET,
					       .type = HRPC_GFS_LOCK_WR, .start = 0, .len = 10 };
		struct hrpc_gfs_lock_req out;

		if (fs_call(HRPC_GFS_LOCK, 0, &l, sizeof(l), &out, sizeof(out), 0, NULL) < 0)
			tap_diag("LOCK SET failed");
	}
	snprintf(cmd, sizeof(cmd), "%s --admin-socket %s files fsguest",
		 itest_build_path("hostrpc/daemon/hostrpcctl"), d.admin_sock);
	{
		char out[8192] = "";
		FILE *p = popen(cmd, "r");
		size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;

		if (p)
			pclose(p);
		out[n] = 0;
		snprintf(path, sizeof(path), "%s/a/f", top);
		tap_ok(strstr(out, "EXPORT a ") && strstr(out, path) && strstr(out, "EXPORT b ") &&
		       strstr(out, "lock=write:0-10"),
		       "hostrpcctl files: the exports, the open file and its lock");
		if (!strstr(out, path))
			tap_diag("%s", out);
	}
	snprintf(cmd, sizeof(cmd), "%s --json --admin-socket %s files fsguest | python3 -c "
		 "'import json,sys; f=json.load(sys.stdin)[\"exports\"][0][\"files\"]; "
		 "sys.exit(0 if f and f[0][\"handle\"] and f[0][\"locks\"][0][\"end\"] == 10 else 1)'",
		 itest_build_path("hostrpc/daemon/hostrpcctl"), d.admin_sock);
	tap_ok(system(cmd) == 0, "hostrpcctl --json files: the open file with its file handle (for a migration) and lock");
	/* A hostile FORGET, then the worker still serves. */
	{
		struct { struct hrpc_gfs_forget_req f; struct hrpc_gfs_forget_item it[2]; } fg = {
			.f = { .count = 300 },
		};
		struct hrpc_gfs_node_req n = { .node = ra.node };
		struct hrpc_gfs_attr a;

		rc = fs_call(HRPC_GFS_FORGET, 0, &fg, sizeof(fg), NULL, 0, 0, NULL);
		tap_ok(rc == -EINVAL && fs_call(HRPC_GFS_GETATTR, 0, &n, sizeof(n), &a, sizeof(a), 0,
						NULL) == 0, "a malformed FORGET: EINVAL, the worker serves on");
	}
	/* Audit and sandbox. */
	snprintf(cmd, sizeof(cmd), "grep -h 'fs export=a open .*/a/f' %s/sock-audit/*.log >/dev/null && "
		 "grep -h 'fs export=b .*denied create' %s/sock-audit/*.log > /dev/null && "
		 "grep -h 'fs export=q denied write .*quota' %s/sock-audit/*.log > /dev/null",
		 d.state_dir, d.state_dir, d.state_dir);
	tap_ok(system(cmd) == 0, "the audit log has the open and the refusals (read-only, quota)");
	rc = itest_admin_find(d.admin_sock, "fsguest", &g);
	{
		char st_path[64], line[256];
		unsigned long long eff = ~0ull;
		FILE *f;

		snprintf(st_path, sizeof(st_path), "/proc/%u/status", rc == 0 ? g.worker_pid : 0);
		f = fopen(st_path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "CapEff: %llx", &eff) == 1)
				break;
		if (f)
			fclose(f);
		/* CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, SETGID 6, SETUID 7 */
		tap_ok(eff == 0xdbull, "the worker keeps only the filesystem capabilities (CapEff %llx)",
		       eff);
	}
	{
		char root[64], names[256] = "";
		struct dirent *de;
		DIR *dir;

		snprintf(root, sizeof(root), "/proc/%u/root", rc == 0 ? g.worker_pid : 0);
		dir = opendir(root);
		while (dir && (de = readdir(dir)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    strlen(names) + strlen(de->d_name) + 2 < sizeof(names)) {
				strcat(names, de->d_name);
				strcat(names, " ");
			}
		if (dir)
			closedir(dir);
		tap_ok(dir && !strcmp(names, "proc "),
		       "the worker's root holds only /proc (its exports: the descriptors it opened): %s",
		       names);
	}
	tap_ok(itest_daemon_alive(&d) && itest_sanitizer_reports(&d) == 0,
	       "hostrpcd alive, no sanitizer report");
	hrpc_client_bulk_free(cli, &bulk);
	hrpc_client_free(cli);
	if (itest_daemon_stop(&d) != 0)
		tap_diag("hostrpcd did not stop cleanly");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	(void)!system(cmd);
	return tap_done();
}
