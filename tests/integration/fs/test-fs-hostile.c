/* SPDX-License-Identifier: MIT */
/*
 * test-fs-hostile - a malicious process guest against the filesystem
 * service (outsource/fs, Host RPC service 17) in a real hostrpcd worker,
 * speaking raw requests a well-behaved kernel driver would never send:
 *
 *  - names: "..", ".", "a/b", a NUL inside, empty, 256 bytes, garbage
 *    after the name, reserved bits: EINVAL / ENAMETOOLONG, never a step
 *    out of the export;
 *  - MOUNT paths: "/x/..", "/x/../../..", a symlink to "../.." and one to
 *    an absolute host directory outside the export: resolved inside the
 *    export (its root, or ENOENT), never outside; malformed paths EINVAL;
 *  - symlinks are never followed: OPEN of one ENXIO, LOOKUP beneath one
 *    ENOTDIR;
 *  - symlink races: a host thread swaps a file with a symlink to a file
 *    outside the export (and a directory with a symlink to a directory
 *    outside) with RENAME_EXCHANGE as fast as it can, while the guest
 *    LOOKUPs, OPENs, READs and WRITEs through the name in a loop: it
 *    never reads a byte from outside, and the outside files are untouched;
 *  - handles: released file handles, forgotten nodes, forged generations,
 *    and another guest's handle values: EBADF / ESTALE;
 *  - the open-file quota (max-files 16): the 17th open EMFILE, a CREATE
 *    at the quota EMFILE with no file made, the worker's descriptors
 *    bounded, and back after RELEASE;
 *  - huge sizes and offsets, reserved fields, bad credentials, short
 *    payloads, an unknown procedure: EINVAL (ENOSYS);
 * and afterwards normal traffic works for both guests, neither was fenced
 * (the same workers serve them), the supervisor is up with its
 * descriptors, nothing critical logged, no sanitizer report.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/guestfs.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "itest.h"

#define MAX_FILES 16

static struct itest_daemon d;
static char top[256];

struct fguest {
	hrpc_client *cli;
	struct hrpc_bulk bulk;
	struct hrpc_admin_guest info;
	struct hrpc_gfs_entry root;
};

static struct fguest A, B;

/* A call as root: payload = cred + req; bulk_len bytes of g->bulk go with it. */
static int fs_call(struct fguest *g, uint16_t proc, const void *req, uint32_t len, void *rep,
		   uint32_t rep_cap, uint32_t bulk_len, uint32_t *rep_len)
{
	static uint8_t buf[sizeof(struct hrpc_gfs_cred) + 8192];
	struct hrpc_gfs_cred cred = { 0 };
	struct hrpc_call c = {
		.service = HRPC_SVC_FS, .proc = proc, .req = buf,
		.req_len = (uint32_t)sizeof(cred) + len, .rep = rep, .rep_cap = rep_cap,
		.bulk = &g->bulk, .bulk_len = bulk_len, .timeout_ms = 5000,
	};
	int rc;

	memcpy(buf, &cred, sizeof(cred));
	memcpy(buf + sizeof(cred), req, len);
	rc = hrpc_client_call(g->cli, &c);
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

static int mount_path(struct fguest *g, const char *path, uint16_t len,
		      struct hrpc_gfs_entry *root)
{
	struct hrpc_gfs_mount_req m = { 0 };

	m.path_len = len;
	memcpy(m.path, path, len);
	return fs_call(g, HRPC_GFS_MOUNT, &m, sizeof(m), root, sizeof(*root), 0, NULL);
}

static int do_mount(struct fguest *g, const char *path, struct hrpc_gfs_entry *root)
{
	return mount_path(g, path, (uint16_t)strlen(path), root);
}

static int lookup_raw(struct fguest *g, uint64_t dir, const struct hrpc_gfs_name *n,
		      struct hrpc_gfs_entry *e)
{
	struct hrpc_gfs_dir_name_req l = { .parent = dir, .name = *n };

	return fs_call(g, HRPC_GFS_LOOKUP, &l, sizeof(l), e, sizeof(*e), 0, NULL);
}

static int lookup(struct fguest *g, uint64_t dir, const char *name, struct hrpc_gfs_entry *e)
{
	struct hrpc_gfs_name n;

	set_name(&n, name);
	return lookup_raw(g, dir, &n, e);
}

static int forget(struct fguest *g, uint64_t node, uint64_t n)
{
	struct { struct hrpc_gfs_forget_req f; struct hrpc_gfs_forget_item it; } fg = {
		.f = { .count = 1 }, .it = { .node = node, .nlookup = n },
	};

	return fs_call(g, HRPC_GFS_FORGET, &fg, sizeof(fg), NULL, 0, 0, NULL);
}

static int do_open(struct fguest *g, uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct hrpc_gfs_open_req o = { .node = node, .flags = flags };
	struct hrpc_gfs_fh_rep r = { 0 };
	int rc = fs_call(g, HRPC_GFS_OPEN, &o, sizeof(o), &r, sizeof(r), 0, NULL);

	*fh = r.fh;
	return rc;
}

static int do_release(struct fguest *g, uint64_t fh)
{
	struct hrpc_gfs_fh_req r = { .fh = fh };

	return fs_call(g, HRPC_GFS_RELEASE, &r, sizeof(r), NULL, 0, 0, NULL);
}

/* READ up to `size` at `off` into out (NUL-terminated); bytes read or -errno. */
static int do_read(struct fguest *g, uint64_t fh, uint64_t off, uint32_t size, char *out)
{
	struct hrpc_gfs_io_req r = { .fh = fh, .offset = off, .size = size };
	struct hrpc_gfs_io_rep o = { 0 };
	int rc = fs_call(g, HRPC_GFS_READ, &r, sizeof(r), &o, sizeof(o), 0, NULL);

	if (rc < 0)
		return rc;
	if (out) {
		memcpy(out, g->bulk.ptr, o.size);
		out[o.size] = 0;
	}
	return (int)o.size;
}

static int do_write(struct fguest *g, uint64_t fh, uint64_t off, const char *data)
{
	struct hrpc_gfs_io_req r = { .fh = fh, .offset = off, .size = (uint32_t)strlen(data) };
	struct hrpc_gfs_io_rep o;

	memcpy(g->bulk.ptr, data, r.size);
	return fs_call(g, HRPC_GFS_WRITE, &r, sizeof(r), &o, sizeof(o), r.size, NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static bool file_is(const char *path, const char *text)
{
	char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return !strcmp(buf, text);
}

static int guest_up(struct fguest *g, const char *name)
{
	int rc = itest_guest_connect(d.guest_sock, name, &g->cli);

	if (rc == 0)
		rc = hrpc_client_bulk_alloc(g->cli, HRPC_GFS_IO_MAX, &g->bulk);
	if (rc == 0)
		rc = itest_admin_find(d.admin_sock, name, &g->info);
	if (rc == 0)
		rc = do_mount(g, "/x", &g->root);
	return rc;
}

/* ---- names and paths ---------------------------------------------------------- */

static void test_names(void)
{
	static const struct { const char *s; uint16_t len; int want; const char *what; } bad[] = {
		{ "..", 2, -EINVAL, "\"..\"" },
		{ ".", 1, -EINVAL, "\".\"" },
		{ "a/b", 3, -EINVAL, "a name with '/'" },
		{ "../../../etc/passwd", 19, -EINVAL, "\"../../../etc/passwd\"" },
		{ "/etc", 4, -EINVAL, "an absolute name" },
		{ "in\0side", 7, -EINVAL, "a NUL inside" },
		{ "", 0, -EINVAL, "an empty name" },
	};
	struct hrpc_gfs_entry e;
	struct hrpc_gfs_name n;
	int wrong = 0, rc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&n, 0, sizeof(n));
		n.len = bad[i].len;
		memcpy(n.name, bad[i].s, bad[i].len);
		rc = lookup_raw(&A, A.root.node, &n, &e);
		if (rc != bad[i].want) {
			tap_diag("LOOKUP of %s: %d, not %d", bad[i].what, rc, bad[i].want);
			wrong++;
		}
	}
	memset(&n, 0, sizeof(n));
	n.len = 256;
	memset(n.name, 'a', sizeof(n.name));
	rc = lookup_raw(&A, A.root.node, &n, &e);
	if (rc != -ENAMETOOLONG) {
		tap_diag("LOOKUP of a 256-byte name: %d", rc);
		wrong++;
	}
	set_name(&n, "inside");
	n.name[10] = 'x';    /* garbage after the name */
	if ((rc = lookup_raw(&A, A.root.node, &n, &e)) != -EINVAL) {
		tap_diag("LOOKUP with bytes after the name: %d", rc);
		wrong++;
	}
	set_name(&n, "inside");
	n.reserved[1] = 1;
	if ((rc = lookup_raw(&A, A.root.node, &n, &e)) != -EINVAL) {
		tap_diag("LOOKUP with a reserved bit: %d", rc);
		wrong++;
	}
	{
		struct hrpc_gfs_make_req m = { .parent = A.root.node, .mode = 0644, .flags = 2 };
		struct hrpc_gfs_create_rep cr;

		set_name(&m.name, "..");
		memcpy(m.name.name, "../escape", 9);
		m.name.len = 9;
		if ((rc = fs_call(&A, HRPC_GFS_CREATE, &m, sizeof(m), &cr, sizeof(cr), 0, NULL)) !=
		    -EINVAL) {
			tap_diag("CREATE \"../escape\": %d", rc);
			wrong++;
		}
	}
	tap_ok(wrong == 0, "names: \"..\", \".\", '/', NUL inside, empty, 256 bytes, bytes after "
	       "the name, reserved bits: EINVAL / ENAMETOOLONG (%d wrong)", wrong);
}

static void test_mount_paths(void)
{
	struct hrpc_gfs_entry e, f;
	char path[HRPC_GFS_PATH_MAX + 8];
	int r1, r2, r3, r4, r5;

	r1 = do_mount(&A, "/x/..", &e);
	r2 = r1 ? r1 : do_mount(&A, "/x/../../..", &f);
	tap_ok(r1 == 0 && r2 == 0 && e.attr.ino == A.root.attr.ino && f.attr.ino == A.root.attr.ino,
	       "MOUNT /x/.. and /x/../../..: the export's own root (%d %d)", r1, r2);
	r1 = do_mount(&A, "/x/esc", &e);
	r2 = do_mount(&A, "/x/abs", &f);
	r3 = do_mount(&A, "/x/abs/sub", &f);
	tap_ok(r1 == 0 && e.attr.ino == A.root.attr.ino && r2 == -ENOENT && r3 == -ENOENT,
	       "MOUNT through a symlink to ../.. is the export's root, through one to an absolute "
	       "host directory ENOENT (resolved inside the export: %d %d %d)", r1, r2, r3);
	r1 = do_mount(&A, "/etc", &e);
	r2 = do_mount(&A, "x", &e);
	r3 = mount_path(&A, "/x/\0/..", 7, &e);
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[1] = 'x';
	path[2] = '/';
	r4 = mount_path(&A, path, HRPC_GFS_PATH_MAX, &e);
	{
		struct hrpc_gfs_mount_req m = { .path_len = 2, .reserved = 1 };

		memcpy(m.path, "/x", 2);
		r5 = fs_call(&A, HRPC_GFS_MOUNT, &m, sizeof(m), &e, sizeof(e), 0, NULL);
	}
	tap_ok(r1 == -ENOENT && r2 == -EINVAL && r3 == -EINVAL && r4 == -EINVAL && r5 == -EINVAL,
	       "MOUNT /etc ENOENT; a relative path, a NUL inside, 4096 bytes, a reserved field: "
	       "EINVAL (%d %d %d %d %d)", r1, r2, r3, r4, r5);
	{
		struct hrpc_gfs_mount_req m = { .path_len = 2 };
		int rc;

		memcpy(m.path, "/x", 2);
		m.path[100] = 'z';    /* garbage after the path */
		rc = fs_call(&A, HRPC_GFS_MOUNT, &m, sizeof(m), &e, sizeof(e), 0, NULL);
		tap_ok(rc == -EINVAL, "MOUNT with bytes after the path: EINVAL (%d)", rc);
	}
}

static void test_symlinks_not_followed(void)
{
	struct hrpc_gfs_entry l, e;
	uint64_t fh = 0;
	int r1, r2, r3;

	r1 = lookup(&A, A.root.node, "abs", &l);
	r2 = r1 ? r1 : do_open(&A, l.node, 0, &fh);
	r3 = r1 ? r1 : lookup(&A, l.node, "secret", &e);
	tap_ok(r1 == 0 && S_ISLNK(l.attr.mode) && r2 == -ENXIO && r3 == -ENOTDIR,
	       "a symlink to a host directory is a symlink node: OPEN ENXIO, LOOKUP beneath it "
	       "ENOTDIR (%d %d %d)", r1, r2, r3);
	if (r1 == 0)
		forget(&A, l.node, 1);
}

/* ---- the race ----------------------------------------------------------------- */

static atomic_bool swapping;
static atomic_ulong swaps;

static void *swapper(void *arg)
{
	char a[512], b[512], c[512], e[512];

	(void)arg;
	snprintf(a, sizeof(a), "%s/x/sw", top);
	snprintf(b, sizeof(b), "%s/x/sw.alt", top);
	snprintf(c, sizeof(c), "%s/x/dsw", top);
	snprintf(e, sizeof(e), "%s/x/dsw.alt", top);
	while (atomic_load(&swapping)) {
		if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0)
			atomic_fetch_add(&swaps, 1);
		if (renameat2(AT_FDCWD, c, AT_FDCWD, e, RENAME_EXCHANGE) == 0)
			atomic_fetch_add(&swaps, 1);
	}
	return NULL;
}

static void test_symlink_race(void)
{
	char buf[256], secret[512], dsecret[512];
	unsigned int inside = 0, refused = 0, outside = 0, writes = 0, other = 0, mounts = 0;
	struct timespec t0, t;
	struct stat s0, s1, d0, d1;
	pthread_t th;

	snprintf(secret, sizeof(secret), "%s/outside/secret", top);
	snprintf(dsecret, sizeof(dsecret), "%s/outside/f", top);
	stat(secret, &s0);
	stat(dsecret, &d0);
	atomic_store(&swapping, true);
	pthread_create(&th, NULL, swapper, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int i = 0;; i++) {
		struct hrpc_gfs_entry e, f, m;
		uint64_t fh;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 3)
			break;
		switch (i % 3) {
		case 0:    /* a file that is now and then a symlink out */
			rc = lookup(&A, A.root.node, "sw", &e);
			if (rc == 0) {
				int o = do_open(&A, e.node, 2 /* O_RDWR */, &fh);

				if (o == 0) {
					rc = do_read(&A, fh, 0, 64, buf);
					if (rc > 0 && strstr(buf, "SECRET"))
						outside++;
					else if (rc > 0)
						inside++;
					if (do_write(&A, fh, 64, "pwned") == 0)
						writes++;
					do_release(&A, fh);
				} else if (o == -ENXIO) {
					refused++;
				} else {
					other++;
				}
				forget(&A, e.node, 1);
			}
			break;
		case 1:    /* a directory that is now and then a symlink out */
			rc = lookup(&A, A.root.node, "dsw", &e);
			if (rc == 0) {
				int l = lookup(&A, e.node, "f", &f);

				if (l == 0 && do_open(&A, f.node, 0, &fh) == 0) {
					rc = do_read(&A, fh, 0, 64, buf);
					if (rc > 0 && strstr(buf, "SECRET"))
						outside++;
					else if (rc > 0)
						inside++;
					do_release(&A, fh);
				} else if (l == -ENOTDIR) {
					refused++;
				} else {
					other++;
				}
				if (l == 0)
					forget(&A, f.node, 1);
				forget(&A, e.node, 1);
			}
			break;
		default:   /* MOUNT through the name, then the file in it */
			rc = do_mount(&A, "/x/dsw", &m);
			if (rc == 0) {
				mounts++;
				if (lookup(&A, m.node, "f", &f) == 0) {
					if (do_open(&A, f.node, 0, &fh) == 0) {
						rc = do_read(&A, fh, 0, 64, buf);
						if (rc > 0 && strstr(buf, "SECRET"))
							outside++;
						else if (rc > 0)
							inside++;
						do_release(&A, fh);
					}
					forget(&A, f.node, 1);
				}
				forget(&A, m.node, 1);
			} else if (rc == -ENOENT) {
				refused++;
			} else {
				other++;
			}
			break;
		}
	}
	atomic_store(&swapping, false);
	pthread_join(th, NULL);
	stat(secret, &s1);
	stat(dsecret, &d1);
	tap_ok(outside == 0 && inside > 0 && file_is(secret, "SECRET\n") &&
	       file_is(dsecret, "SECRET-D\n") && s0.st_mtime == s1.st_mtime &&
	       s0.st_size == s1.st_size && d0.st_size == d1.st_size,
	       "symlink race (%lu host swaps in 3 s): %u reads inside the export, %u writes there, "
	       "%u refused as symlinks, %u mounts, %u other; none outside, the outside files "
	       "untouched", atomic_load(&swaps), inside, writes, refused, mounts, other);
}

/* ---- handles and quota ---------------------------------------------------------- */

static void test_handles(void)
{
	struct hrpc_gfs_entry e, eb;
	struct hrpc_gfs_attr a;
	uint64_t fh = 0, fh2 = 0;
	int r1, r2, r3, r4, r5, r6, r7;

	r1 = lookup(&A, A.root.node, "inside", &e);
	r2 = r1 ? r1 : do_open(&A, e.node, 0, &fh);
	r3 = do_read(&A, fh, 0, 16, NULL);
	/* Another guest's handle values name nothing of its own. */
	{
		struct hrpc_gfs_node_req n = { .node = e.node };

		r4 = fs_call(&B, HRPC_GFS_GETATTR, &n, sizeof(n), &a, sizeof(a), 0, NULL);
	}
	r5 = do_read(&B, fh, 0, 16, NULL);
	tap_ok(r1 == 0 && r2 == 0 && r3 > 0 && r4 == -ESTALE && r5 == -EBADF,
	       "guest B with guest A's node and file handle: ESTALE, EBADF (%d %d)", r4, r5);
	r1 = do_release(&A, fh);
	r2 = do_read(&A, fh, 0, 16, NULL);
	r3 = do_release(&A, fh);
	r4 = do_write(&A, fh, 0, "x");
	/* A forged generation of a live node. */
	{
		struct hrpc_gfs_node_req n = {
			.node = HRPC_GFS_HANDLE(HRPC_GFS_HANDLE_INDEX(e.node),
						HRPC_GFS_HANDLE_GEN(e.node) + 7),
		};

		r5 = fs_call(&A, HRPC_GFS_GETATTR, &n, sizeof(n), &a, sizeof(a), 0, NULL);
	}
	r6 = forget(&A, e.node, 1);
	{
		struct hrpc_gfs_node_req n = { .node = e.node };

		r7 = fs_call(&A, HRPC_GFS_GETATTR, &n, sizeof(n), &a, sizeof(a), 0, NULL);
	}
	tap_ok(r1 == 0 && r2 == -EBADF && r3 == -EBADF && r4 == -EBADF && r5 == -ESTALE &&
	       r6 == 0 && r7 == -ESTALE,
	       "a released file handle: READ, RELEASE, WRITE EBADF; a forged generation ESTALE; "
	       "a forgotten node ESTALE (%d %d %d %d %d %d)", r2, r3, r4, r5, r6, r7);
	/* A handle reused after release: the slot's generation moved on. */
	r6 = lookup(&A, A.root.node, "inside", &e);
	r2 = r6 ? r6 : do_open(&A, e.node, 0, &fh2);
	r3 = do_read(&A, fh, 0, 16, NULL);
	tap_ok(r2 == 0 && (fh2 != fh ? r3 == -EBADF : false),
	       "the file handle of a new OPEN is not the released one's (%#llx, %#llx): the old "
	       "one stays EBADF (%d)", (unsigned long long)fh2, (unsigned long long)fh, r3);
	do_release(&A, fh2);
	/* B still sees only its own. */
	r1 = lookup(&B, B.root.node, "inside", &eb);
	tap_ok(r1 == 0, "guest B looks up the same file: its own node (%d)", r1);
	if (r1 == 0)
		forget(&B, eb.node, 1);
	if (r6 == 0)
		forget(&A, e.node, 1);
}

static void test_quota(void)
{
	uint64_t fh[MAX_FILES + 2] = { 0 };
	struct hrpc_gfs_entry e;
	int base, peak, n = 0, last = 0, after, rc, dirrc, crc;
	bool made;

	base = itest_fd_count((pid_t)A.info.worker_pid);
	rc = lookup(&A, A.root.node, "inside", &e);
	for (int i = 0; rc == 0 && i < MAX_FILES + 1; i++) {
		last = do_open(&A, e.node, 0, &fh[i]);
		if (last == 0)
			n++;
	}
	{
		struct hrpc_gfs_node_req o = { .node = A.root.node };
		struct hrpc_gfs_fh_rep r;

		dirrc = fs_call(&A, HRPC_GFS_OPENDIR, &o, sizeof(o), &r, sizeof(r), 0, NULL);
	}
	{
		/* At the quota a CREATE is refused before it makes the file. */
		struct hrpc_gfs_make_req m = { .parent = A.root.node, .mode = 0644, .flags = 2 };
		struct hrpc_gfs_create_rep cr;
		char path[400];

		set_name(&m.name, "overquota");
		crc = fs_call(&A, HRPC_GFS_CREATE, &m, sizeof(m), &cr, sizeof(cr), 0, NULL);
		snprintf(path, sizeof(path), "%s/x/overquota", top);
		made = access(path, F_OK) == 0;
	}
	peak = itest_fd_count((pid_t)A.info.worker_pid);
	tap_ok(n == MAX_FILES && (last == -EMFILE || last == -ENFILE) &&
	       (dirrc == -EMFILE || dirrc == -ENFILE) && crc == -EMFILE && !made &&
	       peak <= base + 1 + MAX_FILES,
	       "max-files %d: %d opens, the next OPEN, OPENDIR and CREATE %s, %s, %s (%s); the "
	       "worker holds %d descriptors (%d before, + the node + the files)", MAX_FILES, n,
	       strerror(-last), strerror(-dirrc), strerror(-crc),
	       made ? "the file was made" : "no file made", peak, base);
	do_release(&A, fh[0]);
	rc = do_open(&A, e.node, 0, &fh[0]);
	tap_ok(rc == 0, "one RELEASE later an OPEN works again (%d)", rc);
	for (int i = 0; i < MAX_FILES; i++)
		do_release(&A, fh[i]);
	forget(&A, e.node, 1);
	after = itest_fd_count((pid_t)A.info.worker_pid);
	tap_ok(after == base, "all released and forgotten: the worker is back to %d descriptors (%d)",
	       base, after);
}

/* ---- sizes, offsets, reserved fields --------------------------------------------- */

static void test_fields(void)
{
	struct hrpc_gfs_entry e;
	uint64_t fh = 0;
	uint8_t junk[64];
	int wrong = 0, rc;

	rc = lookup(&A, A.root.node, "scratch", &e);
	rc = rc ? rc : do_open(&A, e.node, 2, &fh);
	if (!tap_ok(rc == 0, "an open scratch file to abuse (%d)", rc))
		return;
#define EXPECT(expr, want, what)                                                              \
	do {                                                                                  \
		int r_ = (expr);                                                              \
		if (r_ != (want)) {                                                           \
			tap_diag("%s: %d, not %d", what, r_, want);                           \
			wrong++;                                                              \
		}                                                                             \
	} while (0)
	{
		struct hrpc_gfs_io_req r = { .fh = fh, .size = HRPC_GFS_IO_MAX + 1 };
		struct hrpc_gfs_io_rep o;

		EXPECT(fs_call(&A, HRPC_GFS_READ, &r, sizeof(r), &o, sizeof(o), 0, NULL), -EINVAL,
		       "READ of IO_MAX + 1 bytes");
		r.size = 16;
		r.offset = INT64_MAX;
		EXPECT(fs_call(&A, HRPC_GFS_READ, &r, sizeof(r), &o, sizeof(o), 0, NULL), -EINVAL,
		       "READ at INT64_MAX");
		r.offset = UINT64_MAX - 4;
		EXPECT(fs_call(&A, HRPC_GFS_READ, &r, sizeof(r), &o, sizeof(o), 0, NULL), -EINVAL,
		       "READ at 2^64 - 5");
		r.offset = 1ull << 62;
		EXPECT(fs_call(&A, HRPC_GFS_READ, &r, sizeof(r), &o, sizeof(o), 0, NULL), 0,
		       "READ far past the end");
		if (o.size)
			wrong++;
		r.offset = 0;
		r.reserved = 1;
		EXPECT(fs_call(&A, HRPC_GFS_READ, &r, sizeof(r), &o, sizeof(o), 0, NULL), -EINVAL,
		       "READ with a reserved field");
		r.reserved = 0;
		r.offset = INT64_MAX - 8;
		EXPECT(fs_call(&A, HRPC_GFS_WRITE, &r, sizeof(r), &o, sizeof(o), 16, NULL), -EINVAL,
		       "WRITE across INT64_MAX");
		r.offset = 0;
		r.size = 64;
		/* (EFAULT: the bulk does not hold what the request says) */
		EXPECT(fs_call(&A, HRPC_GFS_WRITE, &r, sizeof(r), &o, sizeof(o), 16, NULL), -EFAULT,
		       "WRITE of 64 bytes with 16 in the bulk");
		EXPECT(fs_call(&A, HRPC_GFS_READ, &r, sizeof(r) - 1, &o, sizeof(o), 0, NULL),
		       -EINVAL, "READ one byte short");
	}
	{
		struct hrpc_gfs_setattr_req s = { .node = e.node, .valid = HRPC_GFS_SET_SIZE,
						  .size = 1ull << 63 };
		struct hrpc_gfs_attr a;

		EXPECT(fs_call(&A, HRPC_GFS_SETATTR, &s, sizeof(s), &a, sizeof(a), 0, NULL),
		       -EINVAL, "SETATTR size 2^63");
		s.size = 0;
		s.valid = 0x100;
		EXPECT(fs_call(&A, HRPC_GFS_SETATTR, &s, sizeof(s), &a, sizeof(a), 0, NULL),
		       -EINVAL, "SETATTR with an unknown bit");
	}
	{
		struct hrpc_gfs_open_req o = { .node = e.node, .reserved = 1 };
		struct hrpc_gfs_fh_rep r;

		EXPECT(fs_call(&A, HRPC_GFS_OPEN, &o, sizeof(o), &r, sizeof(r), 0, NULL), -EINVAL,
		       "OPEN with a reserved field");
		o.reserved = 0;
		o.flags = 0x80000000u;
		EXPECT(fs_call(&A, HRPC_GFS_OPEN, &o, sizeof(o), &r, sizeof(r), 0, NULL), -EINVAL,
		       "OPEN with an unknown flag");
	}
	{
		struct hrpc_gfs_fh_req r = { .fh = fh, .flags = 4 };

		EXPECT(fs_call(&A, HRPC_GFS_RELEASE, &r, sizeof(r), NULL, 0, 0, NULL), -EINVAL,
		       "RELEASE with flags");
	}
	{
		struct { struct hrpc_gfs_forget_req f; struct hrpc_gfs_forget_item it; } fg = {
			.f = { .count = 2 }, .it = { .node = e.node, .nlookup = 1 },
		};

		EXPECT(fs_call(&A, HRPC_GFS_FORGET, &fg, sizeof(fg), NULL, 0, 0, NULL), -EINVAL,
		       "FORGET whose count says more items than it carries");
	}
	/* Credentials: reserved bits, uid -1, more groups than fit. */
	{
		static uint8_t buf[sizeof(struct hrpc_gfs_cred) + sizeof(struct hrpc_gfs_node_req)];
		struct hrpc_gfs_cred *c = (void *)buf;
		struct hrpc_gfs_node_req n = { .node = e.node };
		struct hrpc_gfs_attr a;
		struct hrpc_call k = { .service = HRPC_SVC_FS, .proc = HRPC_GFS_GETATTR, .req = buf,
				       .req_len = sizeof(buf), .rep = &a, .rep_cap = sizeof(a),
				       .timeout_ms = 5000 };

		memcpy(buf + sizeof(*c), &n, sizeof(n));
		c->reserved[2] = 1;
		EXPECT(hrpc_client_call(A.cli, &k), -EINVAL, "a credential with a reserved field");
		memset(c, 0, sizeof(*c));
		c->uid = 0xffffffffu;
		EXPECT(hrpc_client_call(A.cli, &k), -EINVAL, "uid -1");
		c->uid = 0;
		c->ngroups = 200;
		EXPECT(hrpc_client_call(A.cli, &k), -EINVAL, "200 groups");
		c->ngroups = 0;
		k.req_len = 12;
		EXPECT(hrpc_client_call(A.cli, &k), -EINVAL, "a payload shorter than a credential");
		k.req_len = 0;
		EXPECT(hrpc_client_call(A.cli, &k), -EINVAL, "an empty payload");
	}
	memset(junk, 0x41, sizeof(junk));
	{
		struct hrpc_call k = { .service = HRPC_SVC_FS, .proc = 999, .req = junk,
				       .req_len = sizeof(junk), .timeout_ms = 5000 };
		int r = hrpc_client_call(A.cli, &k);

		if (r != -ENOSYS && r != -EINVAL && r != -ESTALE) {
			tap_diag("procedure 999: %d", r);
			wrong++;
		}
	}
#undef EXPECT
	tap_ok(wrong == 0, "huge sizes and offsets, reserved fields and flags, short payloads, bad "
	       "credentials, an unknown procedure: EINVAL (ENOSYS), nothing else (%d wrong)", wrong);
	do_release(&A, fh);
	forget(&A, e.node, 1);
}

int main(void)
{
	char pol[400], path[600], conf[900], arg[420];
	const char *extra[2] = { arg, NULL };
	struct hrpc_admin_guest ga, gb;
	int rc, baseline;

	if (geteuid() != 0)
		tap_skip_all("needs root (the worker switches to its callers' ids)");
	tap_plan(22);
	itest_watchdog(120);
	snprintf(top, sizeof(top), "%s/hostrpc-fsh.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return 1;
	chmod(top, 0755);
	snprintf(pol, sizeof(pol), "%s/policy", top);
	mkdir(pol, 0755);
	snprintf(path, sizeof(path), "%s/x", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/outside", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/outside/secret", top);
	write_file(path, "SECRET\n");
	snprintf(path, sizeof(path), "%s/outside/f", top);
	write_file(path, "SECRET-D\n");
	snprintf(path, sizeof(path), "%s/x/inside", top);
	write_file(path, "inside\n");
	snprintf(path, sizeof(path), "%s/x/scratch", top);
	write_file(path, "scratch\n");
	snprintf(path, sizeof(path), "%s/x/sw", top);
	write_file(path, "inside-sw\n");
	snprintf(path, sizeof(path), "%s/x/sw.alt", top);
	snprintf(conf, sizeof(conf), "%s/outside/secret", top);
	rc = symlink(conf, path);
	snprintf(path, sizeof(path), "%s/x/dsw", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/x/dsw/f", top);
	write_file(path, "inside-d\n");
	snprintf(path, sizeof(path), "%s/x/dsw.alt", top);
	snprintf(conf, sizeof(conf), "%s/outside", top);
	rc |= symlink(conf, path);
	snprintf(path, sizeof(path), "%s/x/abs", top);
	rc |= symlink(conf, path);
	snprintf(path, sizeof(path), "%s/x/esc", top);
	rc |= symlink("../..", path);
	if (rc < 0)
		return 1;
	snprintf(conf, sizeof(conf), "export x %s/x ids=passthrough\nmax-files %d\n", top, MAX_FILES);
	snprintf(path, sizeof(path), "%s/default.conf", pol);
	write_file(path, conf);
	snprintf(arg, sizeof(arg), "--fs-policy-dir=%s", pol);

	rc = itest_daemon_start(&d, extra);
	if (!tap_ok(rc == 0, "hostrpcd starts with an fs export")) {
		itest_log_dump(&d);
		return 1;
	}
	baseline = itest_fd_baseline(d.pid);
	rc = guest_up(&A, "fsmallory");
	rc = rc ? rc : guest_up(&B, "fsbob");
	if (!tap_ok(rc == 0, "two process guests mount export x (%d)", rc)) {
		itest_log_dump(&d);
		return 1;
	}

	test_names();
	test_mount_paths();
	test_symlinks_not_followed();
	test_symlink_race();
	test_handles();
	test_quota();
	test_fields();

	/* Normal traffic afterwards, from the same workers (nobody was fenced). */
	{
		struct hrpc_gfs_make_req m = { .parent = A.root.node, .mode = 0644, .flags = 2 };
		struct hrpc_gfs_create_rep cr;
		char buf[64];

		set_name(&m.name, "after");
		rc = fs_call(&A, HRPC_GFS_CREATE, &m, sizeof(m), &cr, sizeof(cr), 0, NULL);
		rc = rc ? rc : do_write(&A, cr.fh, 0, "still served");
		rc = rc ? rc : (do_read(&A, cr.fh, 0, 64, buf) == 12 && !strcmp(buf, "still served") ?
				0 : -EIO);
		snprintf(path, sizeof(path), "%s/x/after", top);
		tap_ok(rc == 0 && file_is(path, "still served"),
		       "guest A creates, writes and reads a file afterwards (%d)", rc);
	}
	rc = itest_admin_find(d.admin_sock, "fsmallory", &ga);
	rc |= itest_admin_find(d.admin_sock, "fsbob", &gb);
	tap_ok(rc == 0 && ga.worker_pid == A.info.worker_pid && gb.worker_pid == B.info.worker_pid &&
	       !itest_log_wait(&d, 0, "fenced", NULL),
	       "both guests are still served by the workers they started with; nothing fenced");
	hrpc_client_bulk_free(A.cli, &A.bulk);
	hrpc_client_bulk_free(B.cli, &B.bulk);
	hrpc_client_free(A.cli);
	hrpc_client_free(B.cli);
	rc = itest_fd_count_wait(d.pid, baseline, 5000);
	tap_ok(rc == baseline, "guests gone: the supervisor is back to %d descriptors (%d)", baseline,
	       rc);
	tap_ok(itest_daemon_alive(&d) && !itest_log_wait(&d, 0, "critical", NULL) &&
	       itest_sanitizer_reports(&d) == 0,
	       "hostrpcd alive, nothing critical logged, no sanitizer report");
	if (tap_failed)
		itest_log_dump(&d);
	if (itest_daemon_stop(&d) != 0)
		tap_diag("hostrpcd did not stop cleanly");
	snprintf(conf, sizeof(conf), "rm -rf %s", top);
	(void)!system(conf);
	return tap_done();
}
