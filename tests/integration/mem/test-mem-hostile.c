/* SPDX-License-Identifier: MIT */
/*
 * test-mem-hostile - a malicious process guest against the memory service
 * (outsource/mem, Host RPC service 18) in a real hostrpcd worker.
 *
 * What forges the host's chunk table fences that guest's channel, with the
 * reason logged and its worker's exit logged as fenced; each such attack
 * gets a fresh guest:
 *   ranges outside the region (past the end, first + count wrapping around,
 *   count 0), reserved fields, a seq on a PIN, chunks never granted
 *   (RELEASE, PIN), a double RELEASE and a PIN after RELEASE (reuse of a
 *   chunk it gave back), a forged RECLAIM seq, a double UNPIN, payloads of
 *   the wrong size (range, STATUS, HELLO), a pressure report out of range,
 *   and writing the whole region with a quarter of it granted (the host
 *   punches what it did not grant: its memory is not the guest's to take).
 * What is only wrong gets an errno and no fence, on one long-lived guest:
 *   calls before HELLO (ENOTCONN), a HELLO of another version
 *   (EPROTONOSUPPORT) or with a BAR smaller than the region (ENXIO), an
 *   unknown procedure (ENOSYS), PINs past the quota a hundred times
 *   (EDQUOT; the worker's locked memory stays within the quota), RELEASE
 *   of a pinned chunk (EBUSY).
 * A neighbour guest with its own region is served throughout and never
 * fenced; the supervisor ends with its descriptors, nothing critical, no
 * sanitizer report.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/mem.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "memitest.h"

#define CHUNK     HRPC_MEM_CHUNK
#define NCHUNKS   32   /* region-mib=64 */
#define GRANTED   8    /* grant-mib=16 */
#define PIN_QUOTA 4    /* pin-quota-mib=8 */

static struct memitest m;
static uint32_t max_id;

struct mguest {
	hrpc_client *cli;
	struct hrpc_admin_guest info;
	char label[32];
	uint32_t reclaim_seq;
};

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
		     void *opaque)
{
	struct mguest *g = opaque;

	(void)c;
	if (h->service == HRPC_SVC_MEM && h->proc == HRPC_MEM_EVT_RECLAIM &&
	    h->len == sizeof(struct hrpc_mem_reclaim_event))
		g->reclaim_seq = ((const struct hrpc_mem_reclaim_event *)payload)->seq;
}

static int mcall(struct mguest *g, uint16_t proc, const void *req, uint32_t len, void *rep,
		 uint32_t cap)
{
	return memitest_call(g->cli, proc, req, len, rep, cap);
}

static int range(struct mguest *g, uint16_t proc, uint32_t first, uint32_t count, uint32_t seq)
{
	struct hrpc_mem_range_req r = { .first = first, .count = count, .seq = seq };

	return mcall(g, proc, &r, sizeof(r), NULL, 0);
}

static void pump(struct mguest *g, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		hrpc_client_process(g->cli, 20);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static int hello(struct mguest *g, uint32_t version, uint64_t bar)
{
	struct hrpc_mem_hello_req h = { .version = version, .bar_size = bar };
	struct hrpc_mem_hello_rep r;
	int rc = mcall(g, HRPC_MEM_HELLO, &h, sizeof(h), &r, sizeof(r));

	if (rc == 0 && (r.nchunks != NCHUNKS || r.pin_quota != PIN_QUOTA || r.granted != GRANTED))
		return -EPROTO;
	return rc;
}

/* Connected; with `say_hello` also attached to its region. */
static int guest_up(struct mguest *g, const char *label, bool say_hello)
{
	int rc;

	memset(g, 0, sizeof(*g));
	snprintf(g->label, sizeof(g->label), "%s", label);
	rc = itest_guest_connect(m.d.guest_sock, label, &g->cli);
	if (rc < 0)
		return rc;
	hrpc_client_set_event_handler(g->cli, on_event, g);
	if (hrpc_client_guest_id(g->cli) > max_id)
		max_id = hrpc_client_guest_id(g->cli);
	rc = itest_admin_find(m.d.admin_sock, label, &g->info);
	if (rc == 0 && say_hello)
		rc = hello(g, HRPC_MEM_VERSION, (uint64_t)NCHUNKS * CHUNK);
	if (rc == 0)
		pump(g, 50);
	return rc;
}

static void guest_down(struct mguest *g)
{
	if (g->cli)
		hrpc_client_free(g->cli);
	g->cli = NULL;
}

static long long resident_of(uint32_t id)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/hostrpc-mem-guest-%u", id);
	return stat(path, &st) == 0 ? (long long)st.st_blocks * 512 : -1;
}

/* The guest was fenced for `reason`: logged, its worker exited fenced, its
 * calls fail. */
static bool fenced_for(struct mguest *g, const char *reason)
{
	char who[64], worker[48];
	struct hrpc_mem_status st;
	bool logged, exited;

	snprintf(who, sizeof(who), "guest %u: memory:", g->info.guest_id);
	logged = itest_log_wait(&m.d, 5000, who, reason, "fencing its channel", NULL);
	snprintf(worker, sizeof(worker), "worker %u exited", g->info.worker_pid);
	exited = itest_log_wait(&m.d, 5000, worker, "guest fenced", NULL);
	if (!logged || !exited)
		tap_diag("%s: logged '%s': %d, worker %u exited fenced: %d", g->label, reason,
			 logged, g->info.worker_pid, exited);
	return logged && exited && mcall(g, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st)) < 0;
}

/* ---- attacks that fence ---------------------------------------------------------- */

enum setup { S_NONE, S_RELEASE0, S_PIN_UNPIN0, S_RECLAIM };

static const struct fence_case {
	const char *what;
	enum setup setup;
	uint16_t proc;
	struct hrpc_mem_range_req r;
	uint32_t len;          /* 0: sizeof(r) */
	const char *reason;
} cases[] = {
	{ "RELEASE past the region's end", S_NONE, HRPC_MEM_RELEASE,
	  { .first = NCHUNKS, .count = 1 }, 0, "memory range outside the region" },
	{ "PIN whose first + count wraps around", S_NONE, HRPC_MEM_PIN,
	  { .first = 1, .count = 0xffffffffu }, 0, "memory range outside the region" },
	{ "UNPIN of 0 chunks", S_NONE, HRPC_MEM_UNPIN,
	  { .first = 0, .count = 0 }, 0, "memory range outside the region" },
	{ "RELEASE with a reserved field", S_NONE, HRPC_MEM_RELEASE,
	  { .first = 0, .count = 1, .reserved = 1 }, 0, "memory range outside the region" },
	{ "PIN with a seq", S_NONE, HRPC_MEM_PIN,
	  { .first = 0, .count = 1, .seq = 5 }, 0, "memory range outside the region" },
	{ "RELEASE of a chunk never granted", S_NONE, HRPC_MEM_RELEASE,
	  { .first = NCHUNKS - 1, .count = 1 }, 0,
	  "guest released memory the host had not granted it" },
	{ "PIN of chunks never granted", S_NONE, HRPC_MEM_PIN,
	  { .first = GRANTED, .count = 2 }, 0, "guest pinned memory the host had not granted it" },
	{ "a second RELEASE of a chunk it gave back", S_RELEASE0, HRPC_MEM_RELEASE,
	  { .first = 0, .count = 1 }, 0, "guest released memory the host had not granted it" },
	{ "PIN of a chunk it gave back", S_RELEASE0, HRPC_MEM_PIN,
	  { .first = 0, .count = 1 }, 0, "guest pinned memory the host had not granted it" },
	{ "RELEASE with a forged RECLAIM seq", S_RECLAIM, HRPC_MEM_RELEASE,
	  { .first = GRANTED - 2, .count = 2, .seq = 0x5eed }, 0,
	  "guest released memory the host had not granted it" },
	{ "a second UNPIN", S_PIN_UNPIN0, HRPC_MEM_UNPIN,
	  { .first = 0, .count = 1 }, 0, "guest unpinned memory it had not pinned" },
	{ "a range request one byte short", S_NONE, HRPC_MEM_PIN,
	  { .first = 0, .count = 1 }, 15, "malformed memory range request" },
	{ "STATUS with a payload", S_NONE, HRPC_MEM_STATUS, { 0 }, 4, "malformed memory STATUS" },
};

static void fence_case(const struct fence_case *c, int i)
{
	struct mguest g;
	char label[32];
	int rc, pre = 0;

	snprintf(label, sizeof(label), "memforge%d", i);
	rc = guest_up(&g, label, true);
	if (rc == 0 && c->setup == S_RELEASE0)
		pre = range(&g, HRPC_MEM_RELEASE, 0, 1, 0);
	if (rc == 0 && c->setup == S_PIN_UNPIN0) {
		pre = range(&g, HRPC_MEM_PIN, 0, 1, 0);
		pre = pre ? pre : range(&g, HRPC_MEM_UNPIN, 0, 1, 0);
	}
	if (rc == 0 && c->setup == S_RECLAIM) {
		char out[512];

		/* a real RECLAIM under way, with its own seq */
		snprintf(out, sizeof(out), "%s reclaim 4 5000", label);
		pre = memitest_ctl(&m, out, out, sizeof(out));
		pump(&g, 200);
		pre = pre ? pre : (g.reclaim_seq ? 0 : -ENOMSG);
	}
	if (rc || pre) {
		tap_ok(false, "%s: set-up failed (%d %d)", c->what, rc, pre);
		guest_down(&g);
		return;
	}
	rc = mcall(&g, c->proc, &c->r, c->len ? c->len : sizeof(c->r), NULL, 0);
	tap_ok(rc < 0 && fenced_for(&g, c->reason), "%s: fenced, \"%s\" logged, its worker's "
	       "exit too (%s)", c->what, c->reason, strerror(-rc));
	guest_down(&g);
}

static void fence_odd(void)
{
	struct mguest g;
	int rc;

	/* A HELLO of the wrong size. */
	rc = guest_up(&g, "memhello8", false);
	if (rc == 0) {
		uint8_t half[8] = { 1 };

		rc = mcall(&g, HRPC_MEM_HELLO, half, sizeof(half), NULL, 0);
	}
	tap_ok(rc < 0 && fenced_for(&g, "malformed memory HELLO"),
	       "a HELLO of 8 bytes: fenced (%s)", strerror(-rc));
	guest_down(&g);

	/* A pressure report no kernel writes. */
	rc = guest_up(&g, "mempsi", true);
	if (rc == 0) {
		struct hrpc_mem_pressure p = { .some_avg10 = 20000, .full_avg10 = 100 };

		rc = mcall(&g, HRPC_MEM_PRESSURE, &p, sizeof(p), NULL, 0);
	}
	tap_ok(rc < 0 && fenced_for(&g, "memory pressure report out of range"),
	       "PRESSURE of 200 %%: fenced (%s)", strerror(-rc));
	guest_down(&g);

	/* Taking more memory than it was granted: it writes its whole 64 MiB
	 * region with 16 MiB granted.  The host punches what it never gave
	 * and fences it: it ends holding no more than the grant.  One
	 * pwrite() of the whole region, not a memset() through a mapping: the
	 * same pages for the host, written in milliseconds rather than
	 * page fault by page fault, so that the worker's 500 ms check sees
	 * them all at once.  (A memset slower than a tick, under load, had
	 * the check fence the guest halfway, and what was written after it
	 * stayed: a restarted worker adopts the chunks that hold data.) */
	rc = guest_up(&g, "memgreedy", true);
	if (rc == 0) {
		char path[96];
		long long peak = -1, after = -1;
		size_t len = (size_t)NCHUNKS * CHUNK;
		uint8_t *buf = malloc(len);
		ssize_t w = -1;
		int fd;

		snprintf(path, sizeof(path), "/dev/shm/hostrpc-mem-guest-%u", g.info.guest_id);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && buf) {
			memset(buf, 0x66, len);
			w = pwrite(fd, buf, len, 0);
			peak = resident_of(g.info.guest_id);
		}
		if (fd >= 0)
			close(fd);
		free(buf);
		if (w == (ssize_t)len) {
			rc = fenced_for(&g, "kept using") ? 0 : -EPERM;
			after = resident_of(g.info.guest_id);
			tap_ok(rc == 0 && after <= (long long)GRANTED * CHUNK,
			       "a guest that writes its whole region with a quarter granted is fenced; "
			       "the host punched the rest: %lld MiB held, then %lld (grant %d MiB)",
			       peak >> 20, after >> 20, GRANTED * 2);
		} else {
			tap_ok(false, "cannot write %s: %s", path, strerror(errno));
		}
	} else {
		tap_ok(false, "memgreedy: %s", strerror(-rc));
	}
	guest_down(&g);
}

/* ---- what is only wrong -------------------------------------------------------- */

static void errors_only(void)
{
	struct hrpc_mem_status st = { 0 };
	struct mguest g;
	char status[64];
	long vmlck = -1;
	int rc, a, b, c, e, edquot = 0;
	FILE *f;

	rc = guest_up(&g, "memwrong", false);
	if (!tap_ok(rc == 0, "memwrong connects (%d)", rc))
		return;
	a = range(&g, HRPC_MEM_PIN, 0, 1, 0);
	b = mcall(&g, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));
	c = hello(&g, HRPC_MEM_VERSION + 1, (uint64_t)NCHUNKS * CHUNK);
	e = hello(&g, HRPC_MEM_VERSION, CHUNK);
	rc = hello(&g, HRPC_MEM_VERSION, (uint64_t)NCHUNKS * CHUNK);
	{
		struct hrpc_call k = { .service = HRPC_SVC_MEM, .proc = 77, .timeout_ms = 5000 };

		edquot = hrpc_client_call(g.cli, &k);
	}
	tap_ok(a == -ENOTCONN && b == -ENOTCONN && c == -EPROTONOSUPPORT && e == -ENXIO &&
	       rc == 0 && edquot == -ENOSYS,
	       "before HELLO: ENOTCONN; HELLO v2: EPROTONOSUPPORT; a BAR smaller than the region: "
	       "ENXIO; after HELLO procedure 77: ENOSYS (%d %d %d %d %d %d)", a, b, c, e, rc,
	       edquot);
	edquot = 0;
	a = range(&g, HRPC_MEM_PIN, 0, PIN_QUOTA, 0);
	for (int i = 0; i < 100; i++)
		edquot += range(&g, HRPC_MEM_PIN, PIN_QUOTA + (uint32_t)i % (GRANTED - PIN_QUOTA), 1,
				0) == -EDQUOT;
	snprintf(status, sizeof(status), "/proc/%u/status", g.info.worker_pid);
	f = fopen(status, "r");
	while (f && fgets(status, sizeof(status), f))
		sscanf(status, "VmLck: %ld", &vmlck);
	if (f)
		fclose(f);
	b = range(&g, HRPC_MEM_RELEASE, 0, 1, 0);
	c = mcall(&g, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));
	tap_ok(rc == 0 && a == 0 && edquot == 100 && vmlck >= 0 &&
	       vmlck <= PIN_QUOTA * (CHUNK >> 10) && b == -EBUSY && c == 0 &&
	       st.pinned == PIN_QUOTA && st.granted == GRANTED,
	       "its quota of %d chunks pinned, then 100 PINs past it: all EDQUOT; the worker locks "
	       "%ld kB (quota %u kB); RELEASE of a pinned chunk EBUSY; STATUS %u pinned of %u "
	       "(%d EDQUOT)", PIN_QUOTA, vmlck, PIN_QUOTA * (CHUNK >> 10), st.pinned, st.granted,
	       edquot);
	a = range(&g, HRPC_MEM_UNPIN, 0, PIN_QUOTA, 0);
	b = range(&g, HRPC_MEM_RELEASE, 0, 2, 0);
	c = mcall(&g, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));
	tap_ok(a == 0 && b == 0 && c == 0 && st.pinned == 0 && st.granted == GRANTED - 2 &&
	       !itest_log_wait(&m.d, 0, "memwrong", "fenced", NULL),
	       "then UNPIN and RELEASE work, STATUS agrees, and it was never fenced");
	guest_down(&g);
}

int main(void)
{
	struct mguest nb;
	struct hrpc_mem_status st;
	int rc, baseline, served = 0;

	if (geteuid() != 0)
		tap_skip_all("needs root (hostrpcd's workers, files in /dev/shm)");
	tap_plan(1 + (int)(sizeof(cases) / sizeof(cases[0])) + 3 + 4 + 3);
	itest_watchdog(150);
	if (memitest_start(&m, "# test\n[memory]\nregion-mib=64\ngrant-mib=16\npin-quota-mib=8\n"
			   "reclaim-deadline-ms=400\n", NULL) < 0)
		return 1;
	baseline = itest_fd_baseline(m.d.pid);
	rc = guest_up(&nb, "memneighbour", true);
	if (!tap_ok(rc == 0, "a neighbour guest attaches to its region (%d)", rc)) {
		itest_log_dump(&m.d);
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fence_case(&cases[i], (int)i);
		served += mcall(&nb, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st)) == 0 &&
			  range(&nb, HRPC_MEM_PIN, 0, 1, 0) == 0 &&
			  range(&nb, HRPC_MEM_UNPIN, 0, 1, 0) == 0;
	}
	fence_odd();
	errors_only();
	rc = mcall(&nb, HRPC_MEM_STATUS, NULL, 0, &st, sizeof(st));
	tap_ok(served == (int)(sizeof(cases) / sizeof(cases[0])) && rc == 0 &&
	       st.granted == GRANTED && st.pinned == 0 &&
	       !itest_log_wait(&m.d, 0, "memneighbour", "fenced", NULL),
	       "the neighbour was served after every attack, its grant intact, never fenced");
	guest_down(&nb);
	rc = itest_fd_count_wait(m.d.pid, baseline, 5000);
	tap_ok(rc == baseline, "the supervisor is back to %d descriptors (%d)", baseline, rc);
	tap_ok(itest_daemon_alive(&m.d) && !itest_log_wait(&m.d, 0, "critical", NULL) &&
	       itest_sanitizer_reports(&m.d) == 0,
	       "hostrpcd alive, nothing critical logged, no sanitizer report");
	if (tap_failed)
		itest_log_dump(&m.d);
	memitest_stop(&m);
	for (uint32_t id = 1; id <= max_id; id++) {
		char path[96];

		snprintf(path, sizeof(path), "/dev/shm/hostrpc-mem-guest-%u", id);
		unlink(path);
	}
	return tap_done();
}
