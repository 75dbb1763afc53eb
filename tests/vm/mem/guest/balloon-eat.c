// SPDX-License-Identifier: MIT
/*
 * balloon-eat - keep a guest under memory pressure (tests/vm/mem/mem-balloon.sh):
 * every 100 ms, while MemAvailable is above KEEP_MIB + 4, allocate what is
 * above KEEP_MIB (32 MiB at most at a time) in 1 MiB pieces, touch every
 * page and hold it (MemAvailable, not MemFree: MemFree counts the kernel's
 * reserves, the DMA zone's free pages among them); as the host deflates
 * the balloon, MemAvailable rises and it takes that too.  Prints
 * "eat N MiB available M MiB" when it grew.  Runs until killed.  Static,
 * libc only.
 *
 *   balloon-eat KEEP_MIB
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long mem_available_mib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib < 0 ? -1 : kib / 1024;
}

int main(int argc, char **argv)
{
	long keep = argc > 1 ? atol(argv[1]) : 12, total = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		long free_mib = mem_available_mib(), grew = 0;

		if (free_mib < 0)
			return 1;
		while (free_mib - grew > keep + 4 && grew < 32) {
			char *p = malloc(1 << 20);

			if (!p)
				break;
			memset(p, 0x5a, 1 << 20);
			grew++;
		}
		if (grew) {
			total += grew;
			printf("eat %ld MiB available %ld MiB\n", total, mem_available_mib());
		}
		usleep(100000);
	}
}
