/* SPDX-License-Identifier: MIT */
/*
 * fs-lat - the guest's side of run 3 of bench/migrate-forward-bench.sh:
 * the time a hostrpcfs call takes in two mounts, before and after the
 * guest moves (one export forwarded to the source's remnant, one local).
 *
 *   fs-lat DIR_A DIR_B SECONDS
 *
 * Prints "fslat up", then once a second "fslat t=N a_us=X b_us=Y": the
 * mean time of 100 open(2) + close(2) of DIR_A/lat.bin and of DIR_B/lat.bin
 * (each open is a host call: OPEN; the close a RELEASE), and at the end
 * "fslat done n=N bad=B" (B: opens that failed), exit 0 when none did.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double lat(const char *path, int *bad)
{
	double t0 = now_us();

	for (int i = 0; i < 100; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			(*bad)++;
		else
			close(fd);
	}
	return (now_us() - t0) / 100;
}

int main(int argc, char **argv)
{
	char pa[512], pb[512];
	double end;
	int n = 0, bad = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: fs-lat DIR_A DIR_B SECONDS\n");
		return 2;
	}
	snprintf(pa, sizeof(pa), "%s/lat.bin", argv[1]);
	snprintf(pb, sizeof(pb), "%s/lat.bin", argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fslat up\n");
	end = now_us() + atoi(argv[3]) * 1e6;
	while (now_us() < end) {
		double t = now_us(), a = lat(pa, &bad), b = lat(pb, &bad);

		printf("fslat t=%d a_us=%.1f b_us=%.1f\n", n++, a, b);
		t = 1e6 - (now_us() - t);
		if (t > 0)
			usleep((useconds_t)t);
	}
	printf("fslat done n=%d bad=%d\n", n, bad);
	return bad ? 1 : 0;
}
