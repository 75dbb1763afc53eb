/* SPDX-License-Identifier: MIT */
/*
 * fuzz-fsservice - libFuzzer target for the filesystem service above
 * fs-server (outsource/fs/service.c): what fuzz-fss and fuzz-fsstate do not
 * reach, because they call one fss directly.
 *
 *   - the migration table another host ships (outsource_fs_service_
 *     mig_import: the table header, each server record, the walk of its
 *     node and file records, tags, forwarded exports, all or nothing);
 *   - the routing of a hostile guest's calls through a real hrpc_conn to
 *     the export servers (MOUNT by its path's first component, every other
 *     call by its first handle's tag, FORGET item by item, EXDEV across
 *     exports).
 *
 * The input:
 *
 *   [mode u8][tlen u16 LE][tlen table bytes] then calls as fuzz-fss has
 *   them: [proc u8][len u16 LE][bulk u16 LE][len payload][bulk bytes] ...
 *
 * mode bit 0: the table is imported before the calls; bit 1: its header's
 * magic and size are made right first (so that the records are reached).
 * A call's bulk goes to the channel's data area.  A handle field (the
 * first u64 after the credentials, and the second of RENAME and LINK)
 * below 32 is replaced by the handle that many replies ago.
 *
 * Each input gets a fresh server, channel and service.  The tree is
 * private: export srv/ (read-write, with d/ and f), export up/ (read-only)
 * and outside/ next to them; after every input outside/ and the top
 * directory must be untouched.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostrpc/control.h"
#include "hostrpc/fsstate.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/ring.h"
#include "outsource/fs/outsource-fs.h"

#define SHM_SIZE (4u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[] = "/tmp/fuzz-fsservice-XXXXXX";
static char *policy;
static void *shm;
static int efd[2];
static struct timespec top_mtime, out_mtime;
static unsigned runs;

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

static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
}

static void cleanup(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	(void)!system(cmd);
}

static void tree_reset(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/srv/* %s/up/* && mkdir -p %s/srv/d && "
		 "echo hello > %s/srv/f && ln -s ../outside %s/srv/up && echo ro > %s/up/r",
		 top, top, top, top, top, top);
	check(system(cmd) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rlimit fsize = { 16u << 20, 16u << 20 };
	char path[96];

	g_log_set_default_handler(quiet, NULL);
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
	check(mkdtemp(top) != NULL);
	atexit(cleanup);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", top, (const char *[]){ "srv", "up", "outside" }[i]);
		check(mkdir(path, 0755) == 0);
	}
	tree_reset();
	policy = g_strdup_printf("export srv %s/srv quota=4M\nexport up %s/up ro\n"
				 "max-files 16\nmax-nodes 64\n", top, top);
	signal(SIGXFSZ, SIG_IGN);
	check(setrlimit(RLIMIT_FSIZE, &fsize) == 0);
	shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	efd[0] = eventfd(0, EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_NONBLOCK);
	check(shm != MAP_FAILED && efd[0] >= 0 && efd[1] >= 0);
	top_mtime = mtime_of(top);
	snprintf(path, sizeof(path), "%s/outside", top);
	out_mtime = mtime_of(path);
	return 0;
}

struct run {
	struct hrpc_shm_hdr *h;
	struct hrpc_ring req, rsp;
	hrpc_conn *conn;
	uint64_t id;
	uint64_t handles[32];
	unsigned nh;
	uint16_t procs[64];        /* the proc of each call in flight, by id % 64 */
};

static void remember(struct run *r, uint64_t h)
{
	if (h)
		r->handles[r->nh++ % 32] = h;
}

/* Replies that carry a handle first (fuzz-fss's list), remembered. */
static void drain(struct run *r)
{
	static uint8_t buf[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr m;

	while (hrpc_ring_get(&r->rsp, &m, buf, sizeof(buf)) == 0) {
		uint16_t proc = r->procs[m.call_id % 64];
		uint64_t h;

		if (m.kind != HRPC_KIND_REPLY || m.service != HRPC_SVC_FS || m.status || m.len < 8)
			continue;
		if (proc == HRPC_GFS_READDIR || proc == HRPC_GFS_GETATTR ||
		    proc == HRPC_GFS_SETATTR || proc == HRPC_GFS_STATFS ||
		    proc == HRPC_GFS_GETXATTR || proc == HRPC_GFS_LISTXATTR ||
		    proc == HRPC_GFS_READ || proc == HRPC_GFS_WRITE || proc == HRPC_GFS_READLINK)
			continue;
		memcpy(&h, buf, 8);
		remember(r, h);
		if (proc == HRPC_GFS_CREATE && m.len >= 104) {
			memcpy(&h, buf + 96, 8);
			remember(r, h);
		}
	}
}

static void pump(struct run *r)
{
	for (int i = 0; i < 4; i++) {
		if (hrpc_conn_process(r->conn) <= 0)
			break;
		drain(r);
	}
	drain(r);
}

static void call(struct run *r, uint16_t svc, uint16_t proc, const void *p, uint32_t len,
		 uint32_t blen)
{
	struct hrpc_msg_hdr m;

	hrpc_msg_init(&m, HRPC_KIND_CALL, svc, proc, ++r->id, len);
	r->procs[r->id % 64] = proc;
	if (svc == HRPC_SVC_FS) {
		m.flags = HRPC_MSG_F_BULK;
		m.bulk_off = 0;
		m.bulk_len = blen;
		m.bulk_cap = 256u << 10;
	}
	if (hrpc_ring_put(&r->req, &m, p) == -EAGAIN) {
		pump(r);
		hrpc_ring_put(&r->req, &m, p);
	}
	pump(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	static uint8_t payload[HRPC_MSG_MAX_PAYLOAD];
	const size_t cred = sizeof(struct hrpc_gfs_cred);
	struct run r = { .h = shm };
	g_autoptr(GError) e = NULL;
	OutsourceFsService *svc;
	char path[96], err[256];
	struct timespec t;
	hrpc_server *srv;
	hrpc_chan *ch;
	uint8_t mode;
	size_t tlen;
	gsize llen;

	if (n < 3)
		return 0;
	if (++runs % 256 == 0)
		tree_reset();
	srv = hrpc_server_new("fuzz-fsservice");
	if (!srv || hrpc_server_register_builtins(srv) < 0 ||
	    !(svc = outsource_fs_service_start_text(srv, 1, "fuzz", policy, "fuzz-fsservice", -1,
						     &e)) ||
	    hrpc_shm_chan_new(HRPC_ROLE_SERVER, shm, SHM_SIZE, efd[0], efd[1], false, &ch) ||
	    hrpc_conn_new(srv, ch, 1, &r.conn)) {
		fprintf(stderr, "fuzz-fsservice: set-up failed%s%s\n", e ? ": " : "",
			e ? e->message : "");
		abort();
	}
	hrpc_ring_bind(&r.req, &r.h->req, (uint8_t *)shm + r.h->req_off, r.h->req_size, 1);
	hrpc_ring_bind(&r.rsp, &r.h->rsp, (uint8_t *)shm + r.h->rsp_off, r.h->rsp_size, 0);

	mode = d[0];
	tlen = (size_t)d[1] | (size_t)d[2] << 8;
	d += 3;
	n -= 3;
	if (tlen > n)
		tlen = n;
	if (mode & 1) {
		/* In a buffer of its own length: a read past it is ASan's. */
		uint8_t *table = malloc(tlen ? tlen : 1);

		memcpy(table, d, tlen);
		if ((mode & 2) && tlen >= sizeof(struct hrpc_fs_mig_table)) {
			struct hrpc_fs_mig_table th;

			memcpy(&th, table, sizeof(th));
			th.magic = HRPC_FS_MIG_MAGIC;
			th.size = tlen;
			memcpy(table, &th, sizeof(th));
		}
		outsource_fs_service_mig_import(svc, table, tlen, err, sizeof(err));
		check(memchr(err, 0, sizeof(err)) != NULL);
		free(table);
		err[0] = 0;
	}
	d += tlen;
	n -= tlen;

	call(&r, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he), 0);
	while (n >= 5) {
		uint16_t proc = d[0] % 32;
		uint32_t len = (uint32_t)d[1] | (uint32_t)d[2] << 8;
		uint32_t blen = (uint32_t)d[3] | (uint32_t)d[4] << 8;

		d += 5;
		n -= 5;
		if (len > n)
			len = (uint32_t)n;
		if (blen > n - len)
			blen = (uint32_t)(n - len);
		if (len > sizeof(payload))
			len = sizeof(payload);
		memcpy(payload, d, len);
		for (size_t off = cred; off <= cred + 8 && off + 8 <= len; off += 8) {
			uint64_t v;

			if (off == cred + 8 && proc != HRPC_GFS_RENAME && proc != HRPC_GFS_LINK)
				break;
			memcpy(&v, payload + off, 8);
			if (v < 32 && r.nh) {
				v = r.handles[v % (r.nh < 32 ? r.nh : 32)];
				memcpy(payload + off, &v, 8);
			}
		}
		if (proc == HRPC_GFS_FALLOCATE && len == cred + sizeof(struct hrpc_gfs_fallocate_req)) {
			struct hrpc_gfs_fallocate_req *fa = (void *)(payload + cred);

			fa->length %= 1u << 20;   /* KEEP_SIZE would pass RLIMIT_FSIZE */
		}
		memcpy((uint8_t *)shm + r.h->data_off, d + len, blen);
		call(&r, HRPC_SVC_FS, proc, payload, len, blen);
		d += len + blen;
		n -= len + blen;
	}
	g_free(outsource_fs_service_listing(svc, mode & 4, &llen));
	hrpc_conn_free(r.conn);
	outsource_fs_service_stop(svc);
	hrpc_server_free(srv);
	t = mtime_of(top);
	check(t.tv_sec == top_mtime.tv_sec && t.tv_nsec == top_mtime.tv_nsec);
	snprintf(path, sizeof(path), "%s/outside", top);
	t = mtime_of(path);
	check(t.tv_sec == out_mtime.tv_sec && t.tv_nsec == out_mtime.tv_nsec);
	return 0;
}
