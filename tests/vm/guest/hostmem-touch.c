/* SPDX-License-Identifier: MIT */
/*
 * hostmem-touch - guest program: maps host-granted memory from
 * /dev/hostmem (drivers-frontend/mem, include/hostrpc/hostmem.h) and
 * checks that what it wrote stays there while the host reclaims chunks.
 *
 * usage: hostmem-touch info
 *          prints the fields of struct hostmem_info as key=value lines
 *        hostmem-touch fill MIB SEED
 *          maps MIB MiB (a multiple of 2), writes a pattern of SEED and
 *          the offset into the first and last 8 bytes of every 4 KiB page,
 *          verifies it, prints "filled MIB" and waits: each SIGUSR1
 *          verifies again and prints "verify ok 0" or "verify bad N" (N bad
 *          pages); a SIGBUS while verifying prints "sigbus at OFFSET" and
 *          counts the rest of that chunk bad; SIGTERM exits 0
 *        hostmem-touch pin MIB
 *          maps MIB MiB, pins all of it, prints "pin ok" (exit 0) or
 *          "pin ERRNO_NAME", e.g. "pin EDQUOT" (exit 1)
 *        hostmem-touch forge CHUNK
 *          a hostile guest: RELEASE of chunk CHUNK straight through
 *          /dev/hostrpc0 (service 18), a chunk the host never granted;
 *          prints "forge status ERRNO_NAME" (the host fences the channel)
 *        hostmem-touch waitmap MIB [ROUNDS]
 *          the receiving end of a move (bench/mem-move-bench.sh): ROUNDS
 *          times (1), waits until fewer than MIB MiB of granted chunks are
 *          free (at once when the memory is not there yet: the host has it
 *          or another guest does), then polls HOSTMEM_IOC_INFO every 5 ms
 *          until at least MIB MiB are, maps MIB, touches one byte per 2 MiB
 *          chunk and prints "mapped MIB"; then unmaps and closes (the
 *          chunks go back to the driver's free pool, still granted) and
 *          prints "unmapped MIB"
 * stdout is flushed after every line (the harness reads it through a pipe
 * or a file).  Exit 1 on a failure, 77 if /dev/hostmem is missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/chardev.h"
#include "hostrpc/hostmem.h"
#include "hostrpc/mem.h"
#include "hostrpc/msg.h"

#define CHUNK (2ul << 20)
#define PAGE  4096ul

static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EDQUOT, "EDQUOT" }, { EINVAL, "EINVAL" }, { ENOMEM, "ENOMEM" }, { EBUSY, "EBUSY" },
	{ ENODEV, "ENODEV" }, { ENOTCONN, "ENOTCONN" }, { ECONNRESET, "ECONNRESET" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { EFAULT, "EFAULT" }, { EPERM, "EPERM" }, { EIO, "EIO" },
	{ EINTR, "EINTR" }, { ENOSYS, "ENOSYS" }, { EPROTO, "EPROTO" }, { ENOTTY, "ENOTTY" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { EACCES, "EACCES" }, { ENOENT, "ENOENT" },
	{ EPROTONOSUPPORT, "EPROTONOSUPPORT" }, { EMSGSIZE, "EMSGSIZE" },
};

static const char *errname(int err)
{
	static char buf[16];

	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int open_dev(void)
{
	int fd = open(HOSTMEM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "hostmem-touch: %s: %s\n", HOSTMEM_DEV, strerror(errno));
		exit(errno == ENOENT || errno == ENODEV || errno == ENXIO ? 77 : 1);
	}
	return fd;
}

static size_t parse_mib(const char *s)
{
	char *end;
	unsigned long mib = strtoul(s, &end, 0);

	if (*end || !mib || (mib << 20) % CHUNK || mib > (1ul << 20)) {
		fprintf(stderr, "hostmem-touch: MIB must be a positive multiple of %lu\n", CHUNK >> 20);
		exit(2);
	}
	return mib << 20;
}

static uint8_t *map_dev(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED) {
		say("mmap %s", errname(errno));
		exit(1);
	}
	return p;
}

/* ---- info ---------------------------------------------------------------------- */

static int cmd_info(void)
{
	struct hostmem_info i;
	int fd = open_dev();

	if (ioctl(fd, HOSTMEM_IOC_INFO, &i)) {
		say("info %s", errname(errno));
		return 1;
	}
	say("chunk_size=%u", i.chunk_size);
	say("nchunks=%u", i.nchunks);
	say("granted=%u", i.granted);
	say("free=%u", i.free);
	say("mapped=%u", i.mapped);
	say("pinned=%u", i.pinned);
	say("lost=%u", i.lost);
	say("attached=%u", i.attached);
	say("reclaims=%llu", (unsigned long long)i.reclaims);
	say("moved=%llu", (unsigned long long)i.moved);
	say("released=%llu", (unsigned long long)i.released);
	say("forced=%llu", (unsigned long long)i.forced);
	close(fd);
	return 0;
}

/* ---- fill / verify ----------------------------------------------------------------- */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;
static void *volatile bus_addr;
static volatile sig_atomic_t got_usr1, got_term;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!bus_armed) {
		/* Not ours to catch: die of it. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	bus_addr = si->si_addr;
	bus_armed = 0;
	siglongjmp(bus_jmp, 1);
}

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static uint64_t pattern(uint64_t seed, uint64_t off)
{
	/* splitmix64 of (seed, offset): differs for every page and seed. */
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + off + 0x632be59bd9b4e019ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Write (or check) the pages of one chunk; a SIGBUS ends the chunk: its
 * remaining pages count bad.  Returns the bad pages.
 */
static size_t chunk_touch(uint8_t *base, size_t chunk_off, uint64_t seed, int write)
{
	volatile size_t off = chunk_off;
	size_t bad = 0;

	if (sigsetjmp(bus_jmp, 1)) {
		say("sigbus at %zu", (size_t)((uint8_t *)bus_addr - base));
		return (chunk_off + CHUNK - off) / PAGE;
	}
	bus_armed = 1;
	for (; off < chunk_off + CHUNK; off += PAGE) {
		volatile uint64_t *head = (volatile uint64_t *)(base + off);
		volatile uint64_t *tail = (volatile uint64_t *)(base + off + PAGE - 8);
		uint64_t h = pattern(seed, off), t = ~pattern(seed, off + PAGE - 8);

		if (write) {
			*head = h;
			*tail = t;
		} else if (*head != h || *tail != t) {
			bad++;
		}
	}
	bus_armed = 0;
	return bad;
}

static size_t touch_all(uint8_t *base, size_t len, uint64_t seed, int write)
{
	size_t bad = 0;

	for (size_t c = 0; c < len; c += CHUNK)
		bad += chunk_touch(base, c, seed, write);
	return bad;
}

static int cmd_fill(const char *mib_s, const char *seed_s)
{
	size_t len = parse_mib(mib_s), bad;
	uint64_t seed = strtoull(seed_s, NULL, 0);
	struct sigaction sa;
	sigset_t block, old;
	uint8_t *p;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Blocked except inside sigsuspend(): no signal slips in between
	 * the check of the flags and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);

	fd = open_dev();
	p = map_dev(fd, len);
	if (touch_all(p, len, seed, 1)) {
		say("fill failed");
		return 1;
	}
	bad = touch_all(p, len, seed, 0);
	if (bad) {
		say("verify bad %zu", bad);
		return 1;
	}
	say("filled %zu", len >> 20);

	for (;;) {
		while (!got_usr1 && !got_term)
			sigsuspend(&old);
		if (got_term)
			break;
		got_usr1 = 0;
		bad = touch_all(p, len, seed, 0);
		if (bad)
			say("verify bad %zu", bad);
		else
			say("verify ok 0");
	}
	munmap(p, len);
	close(fd);
	return 0;
}

/* ---- pin ---------------------------------------------------------------------------- */

static int cmd_pin(const char *mib_s)
{
	size_t len = parse_mib(mib_s);
	struct hostmem_range r = { .offset = 0, .length = len };
	int fd = open_dev();
	uint8_t *p = map_dev(fd, len);

	if (ioctl(fd, HOSTMEM_IOC_PIN, &r)) {
		say("pin %s", errname(errno));
		return 1;
	}
	say("pin ok");
	munmap(p, len);
	close(fd);
	return 0;
}

/* ---- forge -------------------------------------------------------------------------- */

static int cmd_forge(const char *chunk_s)
{
	struct hrpc_mem_range_req r = { .first = (uint32_t)strtoul(chunk_s, NULL, 0), .count = 1 };
	struct hrpc_ioc_call c = {
		.argsz = sizeof(c), .service = HRPC_SVC_MEM, .proc = HRPC_MEM_RELEASE,
		.timeout_ms = 5000, .req_len = sizeof(r), .req = (uintptr_t)&r,
	};
	int fd = open("/dev/hostrpc0", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		say("forge open %s", errname(errno));
		return 1;
	}
	if (ioctl(fd, HRPC_IOC_CALL, &c) < 0)
		say("forge status %s", errname(errno));
	else
		say("forge status %s", c.status ? errname(-c.status) : "0");
	close(fd);
	return 0;
}

/* ---- waitmap ------------------------------------------------------------------------ */

static int free_chunks(int fd, unsigned *out)
{
	struct hostmem_info i;

	if (ioctl(fd, HOSTMEM_IOC_INFO, &i)) {
		say("info %s", errname(errno));
		return -1;
	}
	*out = i.free;
	return 0;
}

static int cmd_waitmap(const char *mib_s, const char *rounds_s)
{
	size_t len = parse_mib(mib_s);
	unsigned need = (unsigned)(len / CHUNK), nfree;
	long rounds = rounds_s ? strtol(rounds_s, NULL, 0) : 1;
	const struct timespec tick = { 0, 5 * 1000 * 1000 };

	if (rounds < 1) {
		fprintf(stderr, "hostmem-touch: ROUNDS must be positive\n");
		return 2;
	}
	for (long r = 0; r < rounds; r++) {
		int fd = open_dev();
		volatile uint8_t *p;

		/* The memory must first have gone (the host took it back). */
		do {
			if (free_chunks(fd, &nfree))
				return 1;
			if (nfree >= need)
				nanosleep(&tick, NULL);
		} while (nfree >= need);
		/* Then it must come (the host granted it). */
		for (;;) {
			if (free_chunks(fd, &nfree))
				return 1;
			if (nfree >= need)
				break;
			nanosleep(&tick, NULL);
		}
		p = map_dev(fd, len);
		for (size_t off = 0; off < len; off += CHUNK)
			p[off] = (uint8_t)(off >> 21);
		say("mapped %zu", len >> 20);
		munmap((void *)p, len);
		close(fd);
		say("unmapped %zu", len >> 20);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: hostmem-touch info | fill MIB SEED | pin MIB | forge CHUNK | "
			"waitmap MIB [ROUNDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "info"))
		return cmd_info();
	if (argc == 4 && !strcmp(argv[1], "fill"))
		return cmd_fill(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "pin"))
		return cmd_pin(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "forge"))
		return cmd_forge(argv[2]);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "waitmap"))
		return cmd_waitmap(argv[2], argc == 4 ? argv[3] : NULL);
	usage();
	return 2;
}
