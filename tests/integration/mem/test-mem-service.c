/* SPDX-License-Identifier: MIT */
/*
 * test-mem-service - memory outsourcing's host half (outsource/mem) in a
 * real hostrpcd worker, driven by process guests over Host RPC service 18.
 * The guest maps the region file itself, as a guest's QEMU does:
 *
 *   test process (guest)                  hostrpcd --mem-policy-dir=POL
 *   HELLO  ----------------------------->  worker: region /dev/shm/hostrpc-mem-NAME
 *   <------------------------------------  GRANT events (grant-mib)
 *   writes its granted chunks (mmap)       hostrpcctl memory NAME reclaim ...
 *   <------------------------------------  RECLAIM {seq, deadline}
 *   RELEASE seq  ------------------------> punched: the host holds less
 *
 * Checks: HELLO's geometry and the first grant; what the guest writes is
 * what the host holds; a cooperative reclaim (RELEASE with the seq) and an
 * ignored one (taken at the deadline) both punch the chunks out; pins
 * within the quota, EDQUOT beyond, unpin; hostrpcctl memory (text and
 * JSON); a guest that keeps writing memory it lost is fenced; a guest
 * that releases chunks it was never granted is fenced; neither touches
 * another guest; a second worker cannot take a region in use.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/mem.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "memitest.h"

#define CHUNK HRPC_MEM_CHUNK

static struct memitest m;

struct mguest {
	hrpc_client *cli;
	uint32_t id;
	char label[32];
	char file[128];
	uint8_t *map;
	size_t map_len;
	int ngrants, nreclaims;
	struct hrpc_mem_grant_event grants[64];
	struct hrpc_mem_reclaim_event reclaims[64];
};

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
		     void *opaque)
{
	struct mguest *g = opaque;

	(void)c;
	if (h->service != HRPC_SVC_MEM)
		return;
	if (h->proc == HRPC_MEM_EVT_GRANT && h->len == sizeof(g->grants[0]) && g->ngrants < 64)
		memcpy(&g->grants[g->ngrants++], payload, sizeof(g->grants[0]));
	if (h->proc == HRPC_MEM_EVT_RECLAIM && h->len == sizeof(g->reclaims[0]) &&
	    g->nreclaims < 64)
		memcpy(&g->reclaims[g->nreclaims++], payload, sizeof(g->reclaims[0]));
}

static int mem_call(struct mguest *g, uint16_t proc, const void *req, uint32_t len, void *rep,
		    uint32_t rep_cap)
{
	return memitest_call(g->cli, proc, req, len, rep, rep_cap);
}

static int range_call(struct mguest *g, uint16_t proc, uint32_t first, uint32_t count,
		      uint32_t seq)
{
	struct hrpc_mem_range_req r = { .first = first, .count = count, .seq = seq };

	return mem_call(g, proc, &r, sizeof(r), NULL, 0);
}

static long long now_ms(void)
{
	return (long long)(hrpc_now_ns() / 1000000);
}

static void pump(struct mguest *g, int ms)
{
	long long t0 = now_ms();

	do
		hrpc_client_process(g->cli, 20);
	while (now_ms() - t0 < ms);
}

static long long resident(const struct mguest *g)
{
	struct stat st;

	return stat(g->file, &st) == 0 ? (long long)st.st_blocks * 512 : -1;
}

/* Pump until the host holds `bytes` of the region, at most until max_ms
 * after t0 (now_ms()); the milliseconds since t0 when it did. */
static long long pump_until_resident(struct mguest *g, long long bytes, long long t0, int max_ms)
{
	while (resident(g) != bytes && now_ms() - t0 < max_ms)
		pump(g, 20);
	return now_ms() - t0;
}

static int granted_chunks(const struct mguest *g)
{
	int n = 0;

	for (int i = 0; i < g->ngrants; i++)
		n += (int)g->grants[i].count;
	return n;
}

/* hostrpcctl memory NAME ARGS; its output in out. */
static int ctl(const struct mguest *g, const char *args, char *out, size_t cap)
{
	char a[256];

	snprintf(a, sizeof(a), "%s %s", g->label, args);
	return memitest_ctl(&m, a, out, cap);
}

static int guest_up(struct mguest *g, const char *label)
{
	struct hrpc_mem_hello_req h = { .version = HRPC_MEM_VERSION, .bar_size = 64ull << 20 };
	struct hrpc_mem_hello_rep r;
	int rc, fd;

	memset(g, 0, sizeof(*g));
	snprintf(g->label, sizeof(g->label), "%s", label);
	rc = itest_guest_connect(m.d.guest_sock, label, &g->cli);
	if (rc < 0)
		return rc;
	g->id = hrpc_client_guest_id(g->cli);
	hrpc_client_set_event_handler(g->cli, on_event, g);
	snprintf(g->file, sizeof(g->file), "/dev/shm/hostrpc-mem-guest-%u", g->id);
	rc = mem_call(g, HRPC_MEM_HELLO, &h, sizeof(h), &r, sizeof(r));
	if (rc < 0)
		return rc;
	if (r.chunk_size != CHUNK || r.nchunks != 32 || r.pin_quota != 4)
		return -EPROTO;
	fd = open(g->file, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	g->map_len = (size_t)r.nchunks * CHUNK;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (g->map == MAP_FAILED)
		return -errno;
	pump(g, 300);
	return (int)r.granted;
}

static void guest_down(struct mguest *g)
{
	if (g->map && g->map != MAP_FAILED)
		munmap(g->map, g->map_len);
	hrpc_client_free(g->cli);
	unlink(g->file);
}

int main(void)
{
	char out[8192];
	struct mguest g1, g2, g3;
	int rc, granted;
	long long t0, ms;

	if (geteuid() != 0)
		tap_skip_all("needs root (hostrpcd's workers, files in /dev/shm)");
	tap_plan(17);
	itest_watchdog(120);
	if (memitest_start(&m, "# test\n[memory]\nregion-mib=64\ngrant-mib=24\npin-quota-mib=8\n"
			   "reclaim-deadline-ms=400\n", NULL) < 0)
		return 1;

	granted = guest_up(&g1, "memguest");
	tap_ok(granted == 12 && granted_chunks(&g1) == 12 && g1.grants[0].first == 0,
	       "HELLO: 32 chunks of 2 MiB, pin quota 4; the first grant is 12 chunks from 0 "
	       "(%d, %d in %d GRANT events)", granted, granted_chunks(&g1), g1.ngrants);
	if (granted < 0) {
		tap_diag("guest 1: %s", strerror(-granted));
		itest_log_dump(&m.d);
		return 1;
	}
	tap_ok(resident(&g1) == 0, "the region costs the host nothing before the guest writes (%lld)",
	       resident(&g1));
	memset(g1.map, 0x5a, 12 * CHUNK);
	tap_ok(resident(&g1) == 12 * CHUNK, "the guest wrote its 24 MiB: the host holds 24 MiB (%lld)",
	       resident(&g1));

	/* A cooperative reclaim: the guest answers with the seq. */
	rc = ctl(&g1, "reclaim 8", out, sizeof(out));
	pump(&g1, 300);
	tap_ok(rc == 0 && strstr(out, "asked back 8 MiB") && g1.nreclaims == 1 &&
	       g1.reclaims[0].first == 8 && g1.reclaims[0].count == 4 && g1.reclaims[0].seq &&
	       g1.reclaims[0].deadline_ms == 400,
	       "hostrpcctl memory reclaim 8: one RECLAIM of chunks 8-11 with a seq and the policy's "
	       "deadline (%d events)", g1.nreclaims);
	if (!strstr(out, "asked back"))
		tap_diag("%s", out);
	rc = range_call(&g1, HRPC_MEM_RELEASE, 8, 4, g1.reclaims[0].seq);
	tap_ok(rc == 0 && resident(&g1) == 8 * CHUNK,
	       "RELEASE with the seq: the chunks are punched, the host holds 16 MiB (%d, %lld)", rc,
	       resident(&g1));

	/* An ignored one: taken at the deadline anyway. */
	/* (the worker acts on deadlines at its 500 ms tick: 300-800 ms,
	 * later on a loaded machine) */
	t0 = now_ms();
	rc = ctl(&g1, "reclaim 4 300", out, sizeof(out));
	ms = pump_until_resident(&g1, 6 * CHUNK, t0, 5000);
	pump(&g1, 100);
	tap_ok(rc == 0 && g1.nreclaims == 2 && g1.reclaims[1].first == 6 &&
	       g1.reclaims[1].count == 2 && g1.reclaims[1].deadline_ms == 300 &&
	       resident(&g1) == 6 * CHUNK && ms >= 300,
	       "a RECLAIM the guest ignores: chunks 6-7 are taken at the deadline (300 ms; after "
	       "%lld ms), the host holds 12 MiB (%lld)", ms, resident(&g1));

	/* Pins: the quota is 4 chunks. */
	{
		struct hrpc_mem_status st = { 0 };
		int a = range_call(&g1, HRPC_MEM_PIN, 0, 2, 0);
		int b = range_call(&g1, HRPC_MEM_PIN, 2, 3, 0);
		int c = range_call(&g1, HRPC_MEM_PIN, 2, 2, 0);
		int e = mem_call(&g1, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));

		tap_ok(a == 0 && b == -EDQUOT && c == 0 && e == 0 && st.pinned == 4 &&
		       st.granted == 6 && st.pin_quota == 4,
		       "PIN 2 chunks, then 3 more: EDQUOT past the quota of 4, 2 more fit; STATUS "
		       "says 4 pinned of 6 granted (%d %d %d, %u/%u)", a, b, c, st.pinned, st.granted);
	}
	{
		int a = range_call(&g1, HRPC_MEM_RELEASE, 1, 1, 0);
		int b = range_call(&g1, HRPC_MEM_UNPIN, 0, 4, 0);

		tap_ok(a == -EBUSY && b == 0, "a pinned chunk cannot be released (EBUSY); UNPIN (%d %d)",
		       a, b);
	}
	rc = ctl(&g1, "grant 10", out, sizeof(out));
	pump(&g1, 300);
	tap_ok(rc == 0 && strstr(out, "granted 10 MiB") && g1.ngrants >= 2 &&
	       g1.grants[g1.ngrants - 1].first == 6 && g1.grants[g1.ngrants - 1].count == 5,
	       "hostrpcctl memory grant 10: one GRANT of chunks 6-10, the lowest free ones");
	rc = ctl(&g1, "", out, sizeof(out));
	tap_ok(rc == 0 && strstr(out, "granted 22 MiB, reclaiming 0 MiB, pinned 0 of 8 MiB") &&
	       strstr(out, "2 reclaims asked 12 MiB: released 8 MiB, taken at the deadline 4 MiB"),
	       "hostrpcctl memory: grants, pins and what moved");
	if (!strstr(out, "released 8 MiB"))
		tap_diag("%s", out);
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%s --json --admin-socket %s memory %s | python3 -c "
			 "'import json,sys; m=json.load(sys.stdin); sys.exit(0 if m[\"granted_mib\"] "
			 "== 22 and m[\"region_mib\"] == 64 and m[\"moves\"][\"expired_mib\"] == 4 "
			 "and m[\"resident_bytes\"] == 12 << 20 and m[\"attached\"] else 1)'",
			 itest_build_path("hostrpc/daemon/hostrpcctl"), m.d.admin_sock, g1.label);
		tap_ok(system(cmd) == 0, "hostrpcctl --json memory: the same as one JSON object");
		snprintf(cmd, sizeof(cmd), "%s --json --admin-socket %s memory | python3 -c "
			 "'import json,sys; m=json.load(sys.stdin)[\"guests\"]; sys.exit(0 if "
			 "[g[\"granted_mib\"] for g in m if g] == [22] else 1)'",
			 itest_build_path("hostrpc/daemon/hostrpcctl"), m.d.admin_sock);
		tap_ok(system(cmd) == 0, "hostrpcctl --json memory without a guest: every guest's");
	}

	/* A guest that makes up grants is fenced; the other is not. */
	rc = guest_up(&g2, "memforger");
	tap_ok(rc == 12, "a second guest gets its own region and grant (%d)", rc);
	{
		int a = range_call(&g2, HRPC_MEM_RELEASE, 30, 1, 0);
		struct hrpc_mem_status st;
		bool logged = itest_log_wait(&m.d, 5000, "memory: guest released memory the host had "
					     "not granted it: fencing its channel", NULL);
		int b = mem_call(&g1, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));
		int c = mem_call(&g2, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));

		tap_ok(a < 0 && logged && b == 0 && c < 0,
		       "RELEASE of a chunk never granted fences that guest (%s; its calls fail: %s); "
		       "the first is served on", strerror(-a), strerror(-c));
	}

	/* Writing memory it no longer has: punched again and fenced. */
	memset(g1.map + 20 * CHUNK, 0x77, CHUNK);
	{
		bool logged = itest_log_wait(&m.d, 5000, "memory: kept using 1 chunks the host took "
					     "back: fencing its channel", NULL);
		struct hrpc_mem_status st;
		int c = mem_call(&g1, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));

		tap_ok(logged && c < 0 && resident(&g1) == 6 * CHUNK,
		       "a guest that writes a chunk it was never given (or lost) is fenced and the "
		       "chunk punched again: the host holds 12 MiB, not 14 (%lld)", resident(&g1));
	}
	rc = guest_up(&g3, "memthird");
	tap_ok(rc == 12, "a third guest is served after both fences (%d)", rc);
	tap_ok(itest_daemon_alive(&m.d) && itest_sanitizer_reports(&m.d) == 0,
	       "hostrpcd alive, no sanitizer report");
	guest_down(&g3);
	guest_down(&g2);
	guest_down(&g1);
	memitest_stop(&m);
	return tap_done();
}
