/* SPDX-License-Identifier: MIT */
/*
 * test-handle-table - hrpc_handle_table, the table behind every handle that
 * crosses the trust boundary: its encoding is the wire's, a stale or forged
 * handle (index out of range, wrong generation, generation 0, 0) names
 * nothing, generations wrap past 0, a full table says -EMFILE and takes
 * entries again once one is freed, and two tables (two channels, or a
 * worker and its successor, forked) never hand out the same handle.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/guestfs.h"
#include "hostrpc/handle-table.h"
#include "hostrpc/sock.h"
#include "tests/tap.h"

#define PLAN 19

static int objs[256];

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_encoding(void)
{
	static const uint32_t v[] = { 0, 1, 63, 64, 0xffff, 0x10000, 0x7fffffff, UINT32_MAX };
	int bad = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (size_t j = 0; j < sizeof(v) / sizeof(v[0]); j++) {
			uint64_t h = hrpc_handle_make(v[i], v[j]);

			if (h != HRPC_GFS_HANDLE(v[i], v[j]) || h != hrpc_sock_handle(v[i], v[j]) ||
			    hrpc_handle_index(h) != v[i] || hrpc_handle_gen(h) != v[j] ||
			    HRPC_GFS_HANDLE_INDEX(h) != v[i] || HRPC_GFS_HANDLE_GEN(h) != v[j] ||
			    hrpc_sock_handle_index(h) != v[i] || hrpc_sock_handle_gen(h) != v[j])
				bad++;
		}
	tap_ok(!bad, "one encoding: the table's, guestfs.h's and sock.h's agree (%d differ)", bad);
}

static void test_stale(void)
{
	struct hrpc_handle_table t;
	uint64_t h, h2, h3;
	int rc;

	hrpc_handle_table_init(&t, 16, 1000);
	rc = hrpc_handle_table_add(&t, &objs[0], &h);
	tap_ok(rc == 0 && h == hrpc_handle_make(0, 1000) && hrpc_handle_table_get(&t, h) == &objs[0],
	       "the first entry is index 0 at the table's base generation (%#llx)",
	       (unsigned long long)h);
	tap_ok(hrpc_handle_table_remove(&t, h) == &objs[0] && !hrpc_handle_table_get(&t, h) &&
	       !hrpc_handle_table_remove(&t, h) && hrpc_handle_table_count(&t) == 0,
	       "a removed entry: get and a second remove find nothing");
	hrpc_handle_table_add(&t, &objs[1], &h2);
	tap_ok(hrpc_handle_index(h2) == hrpc_handle_index(h) && h2 != h &&
	       !hrpc_handle_table_get(&t, h) && hrpc_handle_table_get(&t, h2) == &objs[1],
	       "the slot is reused with a new generation: the stale handle stays dead");
	hrpc_handle_table_remove(&t, h2);
	hrpc_handle_table_add(&t, &objs[2], &h3);
	tap_ok(!hrpc_handle_table_get(&t, h) && !hrpc_handle_table_get(&t, h2) &&
	       !hrpc_handle_table_remove(&t, h) && hrpc_handle_table_get(&t, h3) == &objs[2] &&
	       hrpc_handle_table_count(&t) == 1,
	       "every earlier handle of a slot stays dead, and removing one changes nothing");
	hrpc_handle_table_fini(&t);
}

static void test_forged(void)
{
	struct hrpc_handle_table t;
	uint64_t h[3], forged[12];
	int bad = 0, n = 0;

	hrpc_handle_table_init(&t, 1000, 5);
	for (int i = 0; i < 3; i++)
		hrpc_handle_table_add(&t, &objs[i], &h[i]);
	forged[n++] = 0;
	forged[n++] = UINT64_MAX;
	forged[n++] = hrpc_handle_make(3, 5);           /* allocated slot, free */
	forged[n++] = hrpc_handle_make(64, 5);          /* past the slots allocated */
	forged[n++] = hrpc_handle_make(999, 5);         /* below max, never allocated */
	forged[n++] = hrpc_handle_make(UINT32_MAX, 5);
	forged[n++] = hrpc_handle_make(1, 4);           /* wrong generation */
	forged[n++] = hrpc_handle_make(1, 6);
	forged[n++] = hrpc_handle_make(1, 0);           /* generation 0 */
	forged[n++] = hrpc_handle_make(0, 0);
	forged[n++] = hrpc_handle_make(1, 5 | 1u << 31);
	forged[n++] = (uint64_t)hrpc_handle_index(h[1]) << 32 | hrpc_handle_gen(h[1]); /* swapped */
	for (int i = 0; i < n; i++)
		if (hrpc_handle_table_get(&t, forged[i]) || hrpc_handle_table_remove(&t, forged[i]))
			bad++;
	tap_ok(!bad && hrpc_handle_table_count(&t) == 3,
	       "forged handles (0, index out of range, wrong or zero generation) name nothing (%d did)",
	       bad);
	bad = 0;
	for (int i = 0; i < 3; i++)
		if (hrpc_handle_table_get(&t, h[i]) != &objs[i])
			bad++;
	tap_ok(!bad, "the real entries are untouched by the forgeries");
	tap_ok(hrpc_handle_table_add(&t, NULL, &h[0]) == -EINVAL && hrpc_handle_table_count(&t) == 3,
	       "a NULL object is refused (-EINVAL): NULL means a free slot");
	hrpc_handle_table_fini(&t);
}

static void test_wrap(void)
{
	struct hrpc_handle_table t;
	uint64_t h[4];
	int rc = 0;

	hrpc_handle_table_init(&t, 4, UINT32_MAX - 1);
	for (int i = 0; i < 4; i++) {
		rc |= hrpc_handle_table_add(&t, &objs[i], &h[i]);
		if (hrpc_handle_index(h[i]) != 0)
			rc = -1;
		if (hrpc_handle_table_remove(&t, h[i]) != &objs[i])
			rc = -1;
	}
	tap_ok(!rc && hrpc_handle_gen(h[0]) == UINT32_MAX - 1 && hrpc_handle_gen(h[1]) == UINT32_MAX &&
	       hrpc_handle_gen(h[2]) == 1 && hrpc_handle_gen(h[3]) == 2,
	       "generations wrap from UINT32_MAX to 1, never 0 (%#x %#x %#x %#x)",
	       hrpc_handle_gen(h[0]), hrpc_handle_gen(h[1]), hrpc_handle_gen(h[2]),
	       hrpc_handle_gen(h[3]));
	rc = 0;
	for (int i = 0; i < 4; i++)
		if (hrpc_handle_table_get(&t, h[i]))
			rc++;
	tap_ok(!rc && !hrpc_handle_table_get(&t, hrpc_handle_make(0, 0)),
	       "across the wrap every old handle stays dead and generation 0 stays invalid");
	hrpc_handle_table_fini(&t);
}

static void test_full(void)
{
	struct hrpc_handle_table t;
	uint64_t h[100], extra;
	int bad = 0, rc;
	bool full;

	/* 100: past the first allocation of 64 slots, so the table grows. */
	hrpc_handle_table_init(&t, 100, 0);
	for (int i = 0; i < 100; i++)
		if (hrpc_handle_table_add(&t, &objs[i], &h[i]) < 0 || hrpc_handle_index(h[i]) != (uint32_t)i)
			bad++;
	tap_ok(!bad && hrpc_handle_table_count(&t) == 100,
	       "100 entries fit a table of 100, at indexes 0..99 (%d wrong)", bad);
	rc = hrpc_handle_table_add(&t, &objs[100], &extra);
	tap_ok(rc == -EMFILE && hrpc_handle_table_count(&t) == 100 && hrpc_handle_table_full(&t),
	       "the 101st entry: -EMFILE (%d), nothing entered; the table says it is full", rc);
	bad = 0;
	for (int i = 0; i < 100; i++)
		if (hrpc_handle_table_get(&t, h[i]) != &objs[i])
			bad++;
	tap_ok(!bad, "growing kept every entry and handle");
	hrpc_handle_table_remove(&t, h[42]);
	full = hrpc_handle_table_full(&t);
	rc = hrpc_handle_table_add(&t, &objs[100], &extra);
	tap_ok(!full && rc == 0 && hrpc_handle_index(extra) == 42 && extra != h[42] &&
	       hrpc_handle_table_get(&t, extra) == &objs[100] && !hrpc_handle_table_get(&t, h[42]),
	       "after one removal the full table takes one entry again, in the freed slot");

	uint32_t pos = 0, seen = 0;
	uint64_t hh;
	void *o;

	bad = 0;
	while ((o = hrpc_handle_table_next(&t, &pos, &hh))) {
		if (hrpc_handle_table_get(&t, hh) != o)
			bad++;
		/* Taking out the entry just returned is allowed. */
		if (hrpc_handle_index(hh) % 2 && hrpc_handle_table_remove(&t, hh) != o)
			bad++;
		seen++;
	}
	tap_ok(!bad && seen == 100 && hrpc_handle_table_count(&t) == 50,
	       "iteration visits each live entry once with its handle, removal on the way is fine (%u seen)",
	       seen);
	hrpc_handle_table_fini(&t);
	hrpc_handle_table_fini(NULL);
}

/* Churn `t`'s 8 slots `rounds` times; the handles it handed out. */
static uint64_t *churn(struct hrpc_handle_table *t, int rounds, size_t *n)
{
	uint64_t *out = malloc((size_t)rounds * 8 * sizeof(*out)), h[8];

	*n = 0;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 8; i++) {
			hrpc_handle_table_add(t, &objs[i], &h[i]);
			out[(*n)++] = h[i];
		}
		for (int i = 0; i < 8; i++)
			hrpc_handle_table_remove(t, h[i]);
	}
	return out;
}

static void test_instances(void)
{
	struct hrpc_handle_table a, b, c;
	uint64_t *ha, *hb, hc;
	size_t na, nb, common = 0;
	int rounds = 20000;

	/* As two channels of one process (agent) get them: bases from the
	 * library, each table its own. */
	hrpc_handle_table_init(&a, 8, 0);
	hrpc_handle_table_init(&b, 8, 0);
	tap_ok(a.gen_base && b.gen_base && a.gen_base != b.gen_base,
	       "each table gets its own generation base (%#x, %#x)", a.gen_base, b.gen_base);
	ha = churn(&a, rounds, &na);
	hb = churn(&b, rounds, &nb);
	qsort(ha, na, sizeof(*ha), cmp_u64);
	qsort(hb, nb, sizeof(*hb), cmp_u64);
	for (size_t i = 0, j = 0; i < na && j < nb;) {
		if (ha[i] == hb[j]) {
			common++;
			i++;
			j++;
		} else if (ha[i] < hb[j]) {
			i++;
		} else {
			j++;
		}
	}
	tap_ok(!common, "two tables, each slot reused %d times: no handle of one is one of the other's (%zu shared)",
	       rounds, common);
	/* A successor (the next worker, or the next channel) while a stale
	 * handle of the first is still about: the new table's first entry
	 * must not answer to it. */
	hrpc_handle_table_init(&c, 8, 0);
	hrpc_handle_table_add(&c, &objs[0], &hc);
	tap_ok(hc != hrpc_handle_make(0, a.gen_base) && hc != hrpc_handle_make(0, b.gen_base) &&
	       !hrpc_handle_table_get(&c, hrpc_handle_make(0, a.gen_base)) &&
	       !hrpc_handle_table_get(&c, hrpc_handle_make(0, b.gen_base)),
	       "a new table's first handle is neither earlier table's first (%#llx)",
	       (unsigned long long)hc);
	free(ha);
	free(hb);
	hrpc_handle_table_fini(&a);
	hrpc_handle_table_fini(&b);
	hrpc_handle_table_fini(&c);
}

/* A worker forked from a process that made tables already (its parent, or
 * the previous worker's image) must not repeat the bases that process
 * handed out or will hand out next: the old socket service restarted at
 * generation 1 in each worker, so a stale handle named the new worker's
 * first socket. */
static void test_forked(void)
{
	uint32_t mine[4], theirs = 0;
	int fd[2], st = -1, bad = 0;
	pid_t pid;

	for (int i = 0; i < 2; i++)
		mine[i] = hrpc_handle_gen_base();
	if (pipe(fd) < 0 || (pid = fork()) < 0) {
		tap_ok(0, "fork a worker: %m");
		return;
	}
	if (pid == 0) {
		uint32_t b = hrpc_handle_gen_base();

		_exit(write(fd[1], &b, sizeof(b)) == sizeof(b) ? 0 : 1);
	}
	close(fd[1]);
	if (read(fd[0], &theirs, sizeof(theirs)) != sizeof(theirs))
		bad++;
	close(fd[0]);
	waitpid(pid, &st, 0);
	for (int i = 2; i < 4; i++)
		mine[i] = hrpc_handle_gen_base();
	/* A base STRIDE generations wide on either side of each of ours. */
	for (int i = 0; i < 4; i++)
		if (theirs - mine[i] < HRPC_HANDLE_GEN_STRIDE || mine[i] - theirs < HRPC_HANDLE_GEN_STRIDE)
			bad++;
	tap_ok(!bad && st == 0 && theirs,
	       "a forked worker draws its own base (%#x), apart from its parent's (%#x..%#x)", theirs,
	       mine[0], mine[3]);
}

int main(void)
{
	tap_plan(PLAN);
	test_encoding();
	test_stale();
	test_forged();
	test_wrap();
	test_full();
	test_instances();
	test_forked();
	return tap_n == PLAN && !tap_failed ? 0 : 1;
}
