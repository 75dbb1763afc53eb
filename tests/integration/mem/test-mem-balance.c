/* SPDX-License-Identifier: MIT */
/*
 * test-mem-balance - hostrpcd's memory balancing (hostrpc/daemon/
 * mem-balance.c, outsource/mem/balance.h) with two process guests that
 * report what they use (PRESSURE) and answer every RECLAIM at once, as
 * hostrpc_mem.ko does:
 *
 *   hostrpcd --mem-pool-mib=160 --mem-balance-step-mib=32 --mem-balance-ms=200
 *   guests: region 128 MiB, 48 granted at HELLO, balanced within 16-112 MiB
 *
 * Checks: a guest under pressure gets a step from the pool, then the rest
 * of the pool, never past its max; with the pool spent the other guest
 * under pressure gets memory reclaimed from the one with slack (RECLAIM,
 * RELEASE) and granted to it; the pool is never exceeded; the moves are in
 * hostrpcctl memory and hostrpcd's log; while guest 2's worker cannot
 * answer (stopped), what guest 2 holds still counts: guest 1 under pressure
 * gets nothing past the pool.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/mem.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "memitest.h"

#define MIB_PER_CHUNK (HRPC_MEM_CHUNK >> 20)

static struct memitest m;

struct mguest {
	hrpc_client *cli;
	char label[32];
	char file[128];
	int granted_mib, reclaims, released_mib;
	bool pending;
	struct hrpc_mem_reclaim_event rec;
};

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
		     void *opaque)
{
	struct mguest *g = opaque;

	(void)c;
	if (h->service != HRPC_SVC_MEM)
		return;
	if (h->proc == HRPC_MEM_EVT_GRANT && h->len == sizeof(struct hrpc_mem_grant_event)) {
		const struct hrpc_mem_grant_event *e = payload;

		g->granted_mib += (int)(e->count * MIB_PER_CHUNK);
	}
	if (h->proc == HRPC_MEM_EVT_RECLAIM && h->len == sizeof(g->rec) && !g->pending) {
		memcpy(&g->rec, payload, sizeof(g->rec));
		g->pending = true;
	}
}

static int mem_call(struct mguest *g, uint16_t proc, const void *req, uint32_t len, void *rep,
		    uint32_t rep_cap)
{
	return memitest_call(g->cli, proc, req, len, rep, rep_cap);
}

/* Events in, RECLAIMs answered (a cooperative driver). */
static void serve(struct mguest *g)
{
	hrpc_client_process(g->cli, 0);
	if (g->pending) {
		struct hrpc_mem_range_req r = {
			.first = g->rec.first, .count = g->rec.count, .seq = g->rec.seq,
		};

		g->pending = false;
		if (mem_call(g, HRPC_MEM_RELEASE, &r, sizeof(r), NULL, 0) == 0) {
			g->reclaims++;
			g->released_mib += (int)(r.count * MIB_PER_CHUNK);
			g->granted_mib -= (int)(r.count * MIB_PER_CHUNK);
		}
	}
}

static int report(struct mguest *g, int used_mib)
{
	struct hrpc_mem_pressure p = { .free_kb = 1 << 20, .avail_kb = 1 << 20,
				       .used_kb = (uint64_t)used_mib << 10 };

	return mem_call(g, HRPC_MEM_PRESSURE, &p, sizeof(p), NULL, 0);
}

/* Serve both, reporting their use, until `cond` or `ms` pass. */
static bool run_until(struct mguest *a, int ua, struct mguest *b, int ub, int ms,
		      bool (*cond)(void))
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		report(a, ua);
		report(b, ub);
		for (int i = 0; i < 10; i++) {
			serve(a);
			serve(b);
			usleep(10000);
		}
		if (cond && cond())
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return cond ? cond() : true;
	}
}

static struct mguest g1, g2;

static bool g1_80(void) { return g1.granted_mib == 80; }
static bool g1_112(void) { return g1.granted_mib == 112; }
static bool g2_more(void) { return g2.granted_mib > 48 && g1.reclaims > 0; }

static int guest_up(struct mguest *g, const char *label)
{
	struct hrpc_mem_hello_req h = { .version = HRPC_MEM_VERSION, .bar_size = 128ull << 20 };
	struct hrpc_mem_hello_rep r;
	int rc;

	memset(g, 0, sizeof(*g));
	snprintf(g->label, sizeof(g->label), "%s", label);
	rc = itest_guest_connect(m.d.guest_sock, label, &g->cli);
	if (rc < 0)
		return rc;
	hrpc_client_set_event_handler(g->cli, on_event, g);
	snprintf(g->file, sizeof(g->file), "/dev/shm/hostrpc-mem-guest-%u",
		 hrpc_client_guest_id(g->cli));
	rc = mem_call(g, HRPC_MEM_HELLO, &h, sizeof(h), &r, sizeof(r));
	return rc < 0 ? rc : (int)(r.granted * MIB_PER_CHUNK);
}

int main(void)
{
	const char *extra[] = { "--mem-pool-mib=160", "--mem-balance-step-mib=32",
				"--mem-balance-ms=200", NULL };
	char out[4096];
	int a, b;
	bool ok;

	if (geteuid() != 0)
		tap_skip_all("needs root (hostrpcd's workers, files in /dev/shm)");
	tap_plan(7);
	itest_watchdog(90);
	if (memitest_start(&m, "[memory]\nregion-mib=128\ngrant-mib=48\nmin-mib=16\n"
			   "max-mib=112\nreclaim-deadline-ms=2000\n", extra) < 0)
		return 1;
	a = guest_up(&g1, "memb1");
	b = guest_up(&g2, "memb2");
	g1.granted_mib = a;   /* the HELLO's grant; its GRANT events follow */
	g2.granted_mib = b;
	run_until(&g1, 0, &g2, 0, 600, NULL);
	g1.granted_mib = a;
	g2.granted_mib = b;
	tap_ok(a == 48 && b == 48, "two guests, 48 MiB granted each at HELLO (%d, %d)", a, b);

	ok = run_until(&g1, 44, &g2, 0, 5000, g1_80);
	tap_ok(ok, "guest 1 uses 44 of its 48 MiB: the balancer grants it a step, 80 MiB (%d)",
	       g1.granted_mib);
	ok = run_until(&g1, 76, &g2, 0, 5000, g1_112) && run_until(&g1, 108, &g2, 0, 1500, g1_112);
	tap_ok(ok, "at 76 MiB it gets the pool's last 32 MiB, then nothing past its max of 112 (%d)",
	       g1.granted_mib);
	/* Guest 1 lets go of most; guest 2 needs. */
	ok = run_until(&g1, 40, &g2, 44, 8000, g2_more);
	tap_ok(ok && g1.granted_mib + g2.granted_mib <= 160, "guest 2 under pressure, the pool spent: the balancer reclaims %d MiB from guest 1 "
	       "(it RELEASEs) and grants guest 2: %d and %d MiB, within the pool", g1.released_mib,
	       g1.granted_mib, g2.granted_mib);
	/* Guest 2's worker cannot answer: the pool stays spent for guest 1. */
	{
		struct hrpc_admin_guest ag;
		pid_t w2 = itest_admin_find(m.d.admin_sock, g2.label, &ag) == 0 ?
			   (pid_t)ag.worker_pid : 0;
		int most = 0;
		struct timespec t0, t;

		if (w2 > 0)
			kill(w2, SIGSTOP);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			report(&g1, g1.granted_mib > 4 ? g1.granted_mib - 4 : 0);
			for (int i = 0; i < 10; i++) {
				serve(&g1);
				usleep(10000);
			}
			if (g1.granted_mib + g2.granted_mib > most)
				most = g1.granted_mib + g2.granted_mib;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 6000);
		if (w2 > 0)
			kill(w2, SIGCONT);
		tap_ok(w2 > 0 && most <= 160,
		       "guest 2's worker stopped for 6 s, guest 1 under pressure: at most %d MiB "
		       "of the 160 MiB pool granted (guest 1 %d, guest 2 %d)", most,
		       g1.granted_mib, g2.granted_mib);
		run_until(&g1, 0, &g2, 0, 1000, NULL);
	}
	tap_ok(memitest_ctl(&m, g2.label, out, sizeof(out)) == 0 && strstr(out, "balanced within 16-112 MiB") &&
	       itest_log_wait(&m.d, 2000, "memory balance: guest", "has slack: reclaiming", NULL),
	       "hostrpcctl memory shows the bounds; the log says who gave for whom");
	if (!strstr(out, "balanced"))
		tap_diag("%s", out);
	tap_ok(itest_daemon_alive(&m.d) && itest_sanitizer_reports(&m.d) == 0,
	       "hostrpcd alive, no sanitizer report");
	hrpc_client_free(g1.cli);
	hrpc_client_free(g2.cli);
	unlink(g1.file);
	unlink(g2.file);
	memitest_stop(&m);
	return tap_done();
}
