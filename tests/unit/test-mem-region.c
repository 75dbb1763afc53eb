/* SPDX-License-Identifier: MIT */
/*
 * test-mem-region - a guest's host-owned memory region (outsource/mem/
 * region.h) on a real memfd: what the host holds is what it granted and
 * the guest touched, and nothing once chunks come back.
 *
 * Checks: grants come lowest first as ranges; touched chunks cost the host
 * memory (the file's blocks); a reclaim takes the highest unpinned chunks
 * under one seq per range; a RELEASE needs that seq (another, a free chunk,
 * a range outside the region: refused, nothing changed); released chunks
 * are punched (the host's blocks drop, the bytes read zero: read(2), as a
 * read through a shared mapping of the hole would allocate it); a guest that
 * does not answer loses the chunk at its deadline, not before; pins are
 * mlock'ed within the quota (-EDQUOT past it), never reclaimed, not
 * released while pinned (-EBUSY); at the end the file holds nothing.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "outsource/mem/region.h"
#include "tests/tap.h"

#define CH HRPC_MEM_CHUNK

static uint8_t *view;   /* the guest's view: another mapping of the file */

static void touch(uint32_t chunk, uint8_t v)
{
	memset(view + (size_t)chunk * CH, v, CH);
}

static int region_fd;

/* Every page of the chunk holds v.  With pread: a read through a shared
 * mapping of a hole would allocate the page (shmem), a read(2) does not. */
static int all(uint32_t chunk, uint8_t v)
{
	static uint8_t buf[CH];

	if (pread(region_fd, buf, CH, (off_t)chunk * CH) != (ssize_t)CH)
		return 0;
	for (size_t i = 0; i < CH; i += 4096)
		if (buf[i] != v)
			return 0;
	return 1;
}

int main(void)
{
	struct mem_region_config cfg = { .nchunks = 8, .pin_quota = 2 };
	struct hrpc_mem_grant_event g[8];
	struct hrpc_mem_reclaim_event rc[8];
	struct hrpc_mem_status st, st2;
	struct mem_region *r;
	int fd = memfd_create("test-mem-region", MFD_CLOEXEC), n, pin_rc;
	int64_t before;

	tap_plan(16);
	if (fd < 0)
		tap_skip_all("memfd_create: %s", strerror(errno));
	if (mem_region_new(fd, &cfg, &r) < 0)
		tap_skip_all("cannot make a region");
	region_fd = mem_region_fd(r);
	view = mmap(NULL, (size_t)cfg.nchunks * CH, PROT_READ | PROT_WRITE, MAP_SHARED,
		    region_fd, 0);
	if (view == MAP_FAILED)
		tap_skip_all("mmap: %s", strerror(errno));

	n = mem_region_grant(r, 5, g, 8);
	mem_region_status(r, &st);
	tap_ok(n == 1 && g[0].first == 0 && g[0].count == 5 && st.granted == 5 &&
	       mem_region_resident(r) == 0,
	       "5 chunks granted as one range from 0; the host holds nothing yet");
	for (uint32_t i = 0; i < 5; i++)
		touch(i, (uint8_t)(0x10 + i));
	tap_ok(mem_region_resident(r) >= 5 * (int64_t)CH,
	       "the guest touched them: the host holds %lld bytes", (long long)mem_region_resident(r));

	n = mem_region_reclaim(r, 2, 1000, 500, rc, 8);
	mem_region_status(r, &st);
	tap_ok(n == 1 && rc[0].first == 3 && rc[0].count == 2 && rc[0].seq != 0 &&
	       rc[0].deadline_ms == 500 && st.granted == 3 && st.reclaiming == 2,
	       "a reclaim of 2 takes the highest, 3 and 4, under one seq");
	tap_ok(mem_region_release(r, 3, 2, rc[0].seq + 1) == -EPERM &&
	       mem_region_release(r, 6, 1, 0) == -EPERM &&
	       mem_region_release(r, 7, 2, 0) == -EINVAL &&
	       mem_region_release(r, 0, 0, 0) == -EINVAL && all(3, 0x13),
	       "RELEASE under another seq, of a free chunk, past the region, of nothing: refused, "
	       "nothing changed");
	before = mem_region_resident(r);
	n = mem_region_release(r, 3, 2, rc[0].seq);
	tap_ok(n == 0 && mem_region_resident(r) <= before - 2 * (int64_t)CH && all(3, 0) &&
	       all(4, 0),
	       "the guest's RELEASE: chunks 3 and 4 punched (%lld -> %lld bytes), they read zero",
	       (long long)before, (long long)mem_region_resident(r));

	n = mem_region_reclaim(r, 1, 2000, 100, rc, 8);
	tap_ok(n == 1 && rc[0].first == 2 && mem_region_expire(r, 2050) == 0 && all(2, 0x12),
	       "a guest that does not answer keeps the chunk until its deadline");
	before = mem_region_resident(r);
	tap_ok(mem_region_expire(r, 2100) == 1 && all(2, 0) &&
	       mem_region_resident(r) <= before - (int64_t)CH,
	       "at the deadline it is taken anyway (punched, reads zero)");
	mem_region_status(r, &st);
	n = mem_region_release(r, 2, 1, rc[0].seq);
	mem_region_status(r, &st2);
	tap_ok(n == 0 && st2.granted == st.granted && st2.reclaiming == st.reclaiming &&
	       mem_region_release(r, 2, 1, rc[0].seq) == -EPERM &&
	       mem_region_release(r, 2, 1, rc[0].seq + 1) == -EPERM,
	       "a late RELEASE under that RECLAIM's seq gives what the host took: accepted once, "
	       "nothing counted twice (%d); again, or under another seq: -EPERM", n);

	pin_rc = mem_region_pin(r, 0, 2);
	if (pin_rc == -EPERM || pin_rc == -ENOMEM)
		tap_diag("mlock refused (%s): RLIMIT_MEMLOCK without CAP_IPC_LOCK",
			 strerror(-pin_rc));
	mem_region_status(r, &st);
	tap_ok(pin_rc == 0 && st.pinned == 2 && all(0, 0x10),
	       "chunks 0 and 1 pinned (mlock'ed at the host), their bytes kept (%d)", pin_rc);
	tap_ok(mem_region_pin(r, 1, 1) == -EBUSY && mem_region_pin(r, 5, 1) == -EPERM &&
	       mem_region_grant(r, 1, g, 8) == 1 && mem_region_pin(r, g[0].first, 1) == -EDQUOT,
	       "pinning twice: -EBUSY; a chunk not granted: -EPERM; past the quota: -EDQUOT");
	n = mem_region_reclaim(r, 8, 3000, 100, rc, 8);
	tap_ok(n == 1 && rc[0].first == 2 && rc[0].count == 1,
	       "a reclaim of everything leaves the pinned chunks alone (it took %u from %u)",
	       n ? rc[0].count : 0, n ? rc[0].first : 0);
	tap_ok(mem_region_release(r, 0, 1, 0) == -EBUSY && mem_region_unpin(r, 0, 2) == 0 &&
	       mem_region_unpin(r, 0, 1) == -EPERM && mem_region_release(r, 0, 2, 0) == 0,
	       "a pinned chunk is not released (-EBUSY); unpinned, it is");
	tap_ok(mem_region_release(r, 2, 1, rc[0].seq) == 0 && mem_region_release(r, 3, 1, 0) == -EPERM,
	       "the last reclaim answered; chunk 3 is not the guest's any more");
	mem_region_status(r, &st);
	tap_ok(st.granted == 0 && st.reclaiming == 0 && st.pinned == 0 &&
	       mem_region_resident(r) == 0,
	       "everything back: the file holds %lld bytes", (long long)mem_region_resident(r));
	munmap(view, (size_t)cfg.nchunks * CH);
	mem_region_free(r);

	/* A fresh worker for the same running guest: what holds data stays
	 * granted; a guest writing where it has nothing is found. */
	{
		int fd2 = memfd_create("test-mem-region-adopt", MFD_CLOEXEC);
		struct mem_region_config acfg = { .nchunks = 8, .pin_quota = 0, .adopt = true };
		struct hrpc_mem_grant_event gr[8];
		int ng;

		if (fd2 < 0 || ftruncate(fd2, 8 * (off_t)CH) < 0 ||
		    pwrite(fd2, "x", 1, 1 * (off_t)CH + 5) != 1 ||
		    pwrite(fd2, "y", 1, 4 * (off_t)CH) != 1 || pwrite(fd2, "z", 1, 5 * (off_t)CH) != 1)
			tap_diag("cannot make the adopted file: %s", strerror(errno));
		r = NULL;
		ng = mem_region_new(fd2, &acfg, &r) == 0 ?
			     mem_region_granted_ranges(r, gr, 8) : -1;
		tap_ok(ng == 2 && gr[0].first == 1 && gr[0].count == 1 && gr[1].first == 4 &&
		       gr[1].count == 2 && mem_region_resident(r) > 0,
		       "adopt: the chunks holding data (1, 4, 5) are granted, nothing punched (%d ranges)",
		       ng);
		if (r && pwrite(mem_region_fd(r), "w", 1, 7 * (off_t)CH) == 1)
			tap_ok(mem_region_refilled(r, 10000, 2000) == 1 &&
			       mem_region_refilled(r, 10000, 2000) == 0,
			       "data in a chunk never granted is found and punched again, once");
		else
			tap_ok(0, "cannot write the refill");
		mem_region_free(r);
	}
	return tap_done();
}
