/* SPDX-License-Identifier: MIT */
/*
 * fuzz-fss - libFuzzer target for the filesystem server (fs-server/server.c)
 * against a hostile client: the guest kernel, for hostrpcd's fs service, or
 * a hostile host, for the guest agent.  The input is a script of calls:
 *
 *   [proc u8][len u16 LE][bulk u16 LE][len payload bytes][bulk bytes] ...
 *
 * Each payload (caller's credentials first, as on the wire) sits in a
 * buffer of exactly its length, so ASan sees any read past it.  Handles
 * are table indexes with per-table generations a fuzzer cannot guess: a
 * node or file field (the payload's first u64 after the credentials, and
 * the second one of RENAME and LINK) below 32 is replaced by the handle
 * that many replies ago, so calls reach past the handle checks.
 *
 * The tree is a private directory: export/ is served (MOUNT paths resolve
 * beneath it), outside/ is next to it.  After every input, nothing may
 * have changed outside export/ (the directory's and outside/'s mtimes),
 * whatever the calls named.  Files are capped by RLIMIT_FSIZE (16 MiB) and
 * FALLOCATE's length by the harness, so the fuzzer cannot fill the disk;
 * the export is restricted (no setuid, no devices, no security.* or
 * trusted.* xattrs).  As root the calls run as the uids they name.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-server/server.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[] = "/tmp/fuzz-fss-XXXXXX";
static char exp_dir[64], out_dir[64];   /* top is 20 bytes */
static int export_fd = -1;
static struct timespec top_mtime, out_mtime;
static unsigned runs;
static bool verbose;         /* FUZZ_FSS_VERBOSE: each call's proc and status */
static bool as_root;         /* geteuid() == 0, asked once: a syscall per call was 4% */

static void check(int ok)
{
	if (!ok)
		abort();
}

static struct timespec mtime_of(const char *path)
{
	struct stat st;

	check(stat(path, &st) == 0);
	return st.st_mtim;
}

static void cleanup(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	(void)!system(cmd);
}

static void tree_reset(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/* && mkdir -p %s/srv/d && echo hello > %s/srv/f && "
		 "ln -s ../outside %s/up && ln -s /etc %s/srv/etc", exp_dir, exp_dir, exp_dir, exp_dir,
		 exp_dir);
	check(system(cmd) == 0);
}

static void setup(void)
{
	struct rlimit fsize = { 16u << 20, 16u << 20 };

	check(mkdtemp(top) != NULL);
	snprintf(exp_dir, sizeof(exp_dir), "%s/export", top);
	snprintf(out_dir, sizeof(out_dir), "%s/outside", top);
	check(mkdir(exp_dir, 0755) == 0 && mkdir(out_dir, 0755) == 0);
	tree_reset();
	export_fd = open(exp_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	check(export_fd >= 0);
	signal(SIGXFSZ, SIG_IGN);
	check(setrlimit(RLIMIT_FSIZE, &fsize) == 0);
	atexit(cleanup);
	verbose = getenv("FUZZ_FSS_VERBOSE") != NULL;
	as_root = geteuid() == 0;
	top_mtime = mtime_of(top);
	out_mtime = mtime_of(out_dir);
}

/* An event names a node of this server and, for ENTRY, a valid name. */
static void on_inval(void *data, const struct hrpc_gfs_inval_event *ev)
{
	check((ev->node ? (ev->node >> 24 & 0xff) == 3 : ev->what == 7) && !ev->reserved &&
	      ev->what && !(ev->what & ~(HRPC_GFS_INVAL_ATTR | HRPC_GFS_INVAL_DATA |
					HRPC_GFS_INVAL_ENTRY)));
	check(ev->what & HRPC_GFS_INVAL_ENTRY ? hrpc_gfs_name_check(&ev->name) == 0
					      : ev->name.len == 0);
}

static void on_audit(void *data, const char *line)
{
	check(strlen(line) < 8192);   /* names may hold newlines: the sink makes them '?' */
}

static void remember(uint64_t *handles, unsigned *nh, uint64_t h)
{
	if (h)
		handles[(*nh)++ % 32] = h;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t bulk[HRPC_GFS_IO_MAX];
	static uint8_t rep_buf[HRPC_MSG_MAX_PAYLOAD];
	/* As outsource/fs runs it: a tag, inotify, events and audit lines. */
	const struct fss_config cfg = { .max_nodes = 64, .max_files = 16, .handle_tag = 3,
					.watch = true, .inval = on_inval, .audit = on_audit };
	uint64_t handles[32] = { 0 };
	unsigned nh = 0;
	struct fss *s;
	struct timespec t;

	if (export_fd < 0)
		setup();
	if (++runs % 512 == 0)
		tree_reset();
	s = fss_new(export_fd, &cfg);
	check(s != NULL);
	while (n >= 5) {
		uint16_t proc = d[0] % 32;
		uint32_t len = (uint32_t)d[1] | (uint32_t)d[2] << 8;
		uint32_t blen = (uint32_t)d[3] | (uint32_t)d[4] << 8;
		struct hrpc_msg_hdr hdr = { .kind = HRPC_KIND_CALL, .service = HRPC_SVC_GUEST_FS,
					    .proc = proc };
		struct hrpc_reply rep = { .payload = rep_buf };
		struct hrpc_req req = { .hdr = &hdr };
		const size_t cred = sizeof(struct hrpc_gfs_cred);
		uint8_t *payload;
		int rc;

		d += 5;
		n -= 5;
		if (len > n)
			len = (uint32_t)n;
		if (blen > n - len)
			blen = (uint32_t)(n - len);
		payload = malloc(len ? len : 1);
		check(payload != NULL);
		memcpy(payload, d, len);
		/* Handles the fuzzer cannot guess: small numbers name recent ones. */
		for (size_t off = cred; off <= cred + 8 && off + 8 <= len; off += 8) {
			uint64_t v;

			if (off == cred + 8 && proc != HRPC_GFS_RENAME && proc != HRPC_GFS_LINK)
				break;
			memcpy(&v, payload + off, 8);
			if (v < 32 && nh) {
				v = handles[v % (nh < 32 ? nh : 32)];
				memcpy(payload + off, &v, 8);
			}
		}
		if (proc == HRPC_GFS_FALLOCATE && len == cred + sizeof(struct hrpc_gfs_fallocate_req)) {
			struct hrpc_gfs_fallocate_req *fa = (void *)(payload + cred);

			fa->length %= 1u << 20;   /* KEEP_SIZE would pass RLIMIT_FSIZE */
		}
		memcpy(bulk, d + len, blen);
		req.payload = payload;
		req.len = len;
		req.bulk = bulk;
		req.bulk_len = blen;
		req.bulk_cap = sizeof(bulk);
		hdr.len = len;
		rc = fss_handle(s, &req, &rep);
		if (verbose)
			fprintf(stderr, "fuzz-fss: proc %u len %u: %d\n", proc, len, rc);
		if (rc == 0) {
			check(rep.len <= HRPC_MSG_MAX_PAYLOAD);
			check(rep.bulk_len <= req.bulk_cap && rep.bulk_pos <= req.bulk_cap - rep.bulk_len);
			if (rep.len >= 8 && proc != HRPC_GFS_READDIR && proc != HRPC_GFS_GETATTR &&
			    proc != HRPC_GFS_SETATTR && proc != HRPC_GFS_STATFS &&
			    proc != HRPC_GFS_GETXATTR && proc != HRPC_GFS_LISTXATTR &&
			    proc != HRPC_GFS_READ && proc != HRPC_GFS_WRITE && proc != HRPC_GFS_READLINK) {
				uint64_t h;

				memcpy(&h, rep_buf, 8);
				remember(handles, &nh, h);
				if (proc == HRPC_GFS_CREATE && rep.len >= 104) {
					memcpy(&h, rep_buf + 96, 8);
					remember(handles, &nh, h);
				}
			}
		}
		/* The server is itself again after every call. */
		check(as_root ? (uid_t)setfsuid((uid_t)-1) == 0 : 1);
		free(payload);
		d += len + blen;
		n -= len + blen;
	}
	fss_free(s);
	t = mtime_of(top);
	check(t.tv_sec == top_mtime.tv_sec && t.tv_nsec == top_mtime.tv_nsec);
	t = mtime_of(out_dir);
	check(t.tv_sec == out_mtime.tv_sec && t.tv_nsec == out_mtime.tv_nsec);
	return 0;
}
