/* SPDX-License-Identifier: MIT */
/*
 * memcheck - a guest program that keeps 64 MiB of its memory in a known
 * state, for tests/vm/migrate/qemu-migrate-sanity.sh: each 8-byte word
 * holds a function of its index and of the round that wrote it; a round
 * reads every word back and writes the next round's value, 1 MiB per
 * 20 ms (about 50 MiB/s dirtied, which a pre-copy migration follows).
 * Prints "memcheck up", a line a second, and at the end "memcheck done ok
 * ROUNDS" or "memcheck BAD word W round R" (exit 1).
 *
 *   memcheck SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WORDS ((64u << 20) / 8u)

static uint64_t val(uint64_t i, uint64_t r)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull ^ (r + 1) * 0xbf58476d1ce4e5b9ull;

	return x ^ (x >> 29);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 30, t0 = now(), last = t0;
	uint64_t *m = malloc(WORDS * sizeof(*m)), r = 0;

	if (!m)
		return 2;
	for (uint64_t i = 0; i < WORDS; i++)
		m[i] = val(i, 0);
	printf("memcheck up\n");
	fflush(stdout);
	while (now() - t0 < secs) {
		for (uint64_t i = 0; i < WORDS; i++) {
			if (m[i] != val(i, r)) {
				printf("memcheck BAD word %llu round %llu\n", (unsigned long long)i,
				       (unsigned long long)r);
				return 1;
			}
			m[i] = val(i, r + 1);
			if ((i & ((1u << 17) - 1)) == 0)
				usleep(20000);
		}
		r++;
		if (now() - last >= 1) {
			last = now();
			printf("memcheck t=%.0f rounds=%llu\n", last - t0, (unsigned long long)r);
			fflush(stdout);
		}
	}
	printf("memcheck done ok %llu\n", (unsigned long long)r);
	return 0;
}
