// SPDX-License-Identifier: MIT
/*
 * hostfile-map - a guest process with a host file mapped MAP_SHARED from a
 * hostrpcfs mount (issue 15 item 3, tests/vm/mem/mem-hostfile.sh and
 * bench/mem-file-bench.sh).  Static, no library beyond libc.
 *
 *   coherence PATH ROUNDS   map PATH (>= 4 MiB) shared, read-write, touch
 *                           every page, then talk to the host through lines
 *                           on stdout (the host script waits for them in
 *                           vm-run's $VM_OUT_LOG) and through the file:
 *     HF-A-DONE               guest page (1 MiB) written "guest-0", msync
 *     R b seen N ms           the host's "host-0" at 2 MiB in the mapping
 *     HF-ROUND k              round k (1..ROUNDS): guest page "guest-k",
 *                             msync (the last round: no msync, dirty in the
 *                             page cache while the host writes)
 *     R round k seen N ms     the host's "host-k" in the mapping
 *     R final ok|bad ...      our last write still in the mapping, the
 *                             host's last one too; then msync
 *     HF-FINAL                the host checks the file
 *   mapread PATH            map PATH shared read-only, touch one byte per
 *                           4 KiB page (summed): "T mapread SEC MIB/s SUM"
 *   read PATH               read() PATH in 1 MiB blocks, the same sum:
 *                           "T read SEC MIB/s SUM"
 *
 * A page's pattern is "TAG|" repeated over its 4096 bytes (the host's
 * side builds the same in python); a watch compares the whole page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PG     4096
#define G_OFF  (1L << 20)   /* the guest's page */
#define H_OFF  (2L << 20)   /* the host's page */
#define WATCH_MS 15000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pattern(char *page, const char *tag)
{
	size_t n = strlen(tag), i;

	for (i = 0; i < PG; i++)
		page[i] = i % (n + 1) == n ? '|' : tag[i % (n + 1)];
}

/* Poll the mapping until the page at @off is @tag's pattern: ms or -1. */
static long watch(volatile char *map, long off, const char *tag)
{
	char want[PG], got[PG];
	double t0 = now();
	size_t i;

	pattern(want, tag);
	for (;;) {
		for (i = 0; i < PG; i++)
			got[i] = map[off + i];
		if (!memcmp(got, want, PG))
			return (long)((now() - t0) * 1000);
		if ((now() - t0) * 1000 > WATCH_MS)
			return -1;
		usleep(2000);
	}
}

static int put(char *map, long off, const char *tag, int sync)
{
	pattern(map + off, tag);
	if (sync && msync(map + (off & ~(long)(PG - 1)), PG, MS_SYNC)) {
		printf("R msync %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int coherence(const char *path, int rounds)
{
	char tag[32], want[PG];
	struct stat st;
	char *map;
	long ms, sum = 0, i;
	int fd, k, bad = 0;

	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st) || st.st_size < 4L << 20) {
		printf("R open %s\n", fd < 0 ? strerror(errno) : "too small");
		return 1;
	}
	map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		printf("R mmap %s\n", strerror(errno));
		return 1;
	}
	close(fd);   /* the mapping alone keeps the file */
	for (i = 0; i < st.st_size; i += PG)
		sum += ((volatile char *)map)[i];
	printf("R mapped %ld bytes, every page touched (%ld)\n", (long)st.st_size, sum & 0xff);

	/* (a) ours, msync: the host reads it at once */
	if (put(map, G_OFF, "guest-0", 1))
		return 1;
	printf("HF-A-DONE\n");
	fflush(stdout);
	/* (b) the host's, through the mapping we hold */
	ms = watch(map, H_OFF, "host-0");
	printf("R b %s %ld ms\n", ms < 0 ? "not-seen" : "seen", ms < 0 ? WATCH_MS : ms);
	fflush(stdout);
	if (ms < 0)
		bad = 1;

	/* (c) rounds: ours then the host's; the last one leaves ours dirty
	 * in the page cache while the host's INVAL comes */
	for (k = 1; k <= rounds && !bad; k++) {
		snprintf(tag, sizeof(tag), "guest-%d", k);
		if (put(map, G_OFF, tag, k < rounds))
			return 1;
		printf("HF-ROUND %d\n", k);
		fflush(stdout);
		snprintf(tag, sizeof(tag), "host-%d", k);
		ms = watch(map, H_OFF, tag);
		printf("R round %d %s %ld ms\n", k, ms < 0 ? "not-seen" : "seen", ms < 0 ? WATCH_MS : ms);
		fflush(stdout);
		if (ms < 0)
			bad = 1;
	}
	snprintf(tag, sizeof(tag), "guest-%d", rounds);
	pattern(want, tag);
	i = memcmp(map + G_OFF, want, PG);
	snprintf(tag, sizeof(tag), "host-%d", rounds);
	ms = watch(map, H_OFF, tag);
	printf("R final %s guest-page=%s host-page=%s\n", !bad && !i && ms >= 0 ? "ok" : "bad",
	       i ? "LOST" : "kept", ms < 0 ? "stale" : "seen");
	if (msync(map, st.st_size, MS_SYNC))
		printf("R msync %s\n", strerror(errno));
	printf("HF-FINAL\n");
	fflush(stdout);
	munmap(map, st.st_size);
	return bad;
}

static int bench(const char *path, int use_map)
{
	static char buf[1 << 20];
	unsigned long sum = 0;
	struct stat st;
	double t0, t;
	long off;
	ssize_t n;
	int fd;

	t0 = now();
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		printf("FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (use_map) {
		volatile unsigned char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED) {
			printf("FAIL mmap %s: %s\n", path, strerror(errno));
			return 1;
		}
		for (off = 0; off < st.st_size; off += PG)
			sum += p[off];
		munmap((void *)p, st.st_size);
	} else {
		off = 0;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			long i;

			/* the same bytes as the mapping's sum: each page's
			 * first (a short read keeps the file's offsets) */
			for (i = (PG - off % PG) % PG; i < n; i += PG)
				sum += (unsigned char)buf[i];
			off += n;
		}
		if (n < 0 || off != st.st_size) {
			printf("FAIL read %s: %s after %ld bytes\n", path, n < 0 ? strerror(errno) : "short", off);
			return 1;
		}
	}
	close(fd);
	t = now() - t0;
	printf("T %s %.3f %.1f %lu\n", use_map ? "mapread" : "read", t,
	       st.st_size / 1048576.0 / (t > 1e-6 ? t : 1e-6), sum);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "coherence"))
		return coherence(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "mapread"))
		return bench(argv[2], 1);
	if (argc == 3 && !strcmp(argv[1], "read"))
		return bench(argv[2], 0);
	fprintf(stderr, "usage: hostfile-map coherence PATH ROUNDS | mapread PATH | read PATH\n");
	return 2;
}
