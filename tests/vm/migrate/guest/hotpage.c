/* SPDX-License-Identifier: MIT */
/*
 * hotpage - a guest program that keeps writing the same few pages, for
 * tests/vm/migrate/qemu-migrate-sanity.sh.  A counter held in a register
 * is stored to one word of each of 4 pages and read back before the next
 * store, so the pages stay hot in the vCPU's TLB: a store the hypervisor
 * lost while it migrated the guest shows up at the destination as a word
 * that went back in time.  Prints "hotpage up", a line a second, and at
 * the end "hotpage done ok COUNT" or "hotpage BAD page P has V, wanted W"
 * (exit 1).
 *
 *   hotpage SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGES 4

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 30, t0 = now(), last = t0;
	volatile uint64_t *m = aligned_alloc(4096, PAGES * 4096);
	uint64_t e = 0;

	if (!m)
		return 2;
	for (int k = 0; k < PAGES; k++)
		m[k * 512] = 0;
	printf("hotpage up\n");
	fflush(stdout);
	for (;;) {
		for (int k = 0; k < PAGES; k++) {
			uint64_t v = m[k * 512];

			if (v != e) {
				printf("hotpage BAD page %d has %llu, wanted %llu\n", k,
				       (unsigned long long)v, (unsigned long long)e);
				return 1;
			}
		}
		e++;
		for (int k = 0; k < PAGES; k++)
			m[k * 512] = e;
		if ((e & 0xffff) == 0) {
			double t = now();

			if (t - t0 >= secs)
				break;
			if (t - last >= 1) {
				last = t;
				printf("hotpage t=%.0f count=%llu\n", t - t0, (unsigned long long)e);
				fflush(stdout);
			}
		}
	}
	printf("hotpage done ok %llu\n", (unsigned long long)e);
	return 0;
}
