/* SPDX-License-Identifier: MIT */
/* region.c - a guest's host-owned memory region (region.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outsource/mem/region.h"

enum chunk_state { C_FREE, C_GRANTED, C_RECLAIMING };

struct chunk {
	uint8_t state;             /* enum chunk_state */
	bool pinned;
	uint32_t seq;              /* C_RECLAIMING: the RECLAIM's; C_FREE: that of
				    * the RECLAIM it was taken at the deadline of
				    * (a late RELEASE under it is no forgery), or 0 */
	uint64_t deadline_ms;      /* C_RECLAIMING; C_FREE: when it was taken back */
};

struct mem_region {
	int fd;
	uint32_t nchunks, pin_quota, npinned, ngranted, nreclaiming;
	uint32_t next_seq;
	uint64_t now_ms;           /* mem_region_set_now(): stamps what release frees */
	void *map;                 /* the host's view, for mlock; NULL until a pin */
	struct chunk c[];
};

static int punch(struct mem_region *r, uint32_t first, uint32_t count)
{
	if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)first * HRPC_MEM_CHUNK, (off_t)count * HRPC_MEM_CHUNK) < 0)
		return -errno;
	return 0;
}

/* Every chunk of the file holding data is GRANTED (a fresh worker for the
 * same running guest, region.h): its data extents, SEEK_DATA/SEEK_HOLE. */
static int adopt(struct mem_region *r)
{
	off_t pos = 0, end = (off_t)r->nchunks * HRPC_MEM_CHUNK;

	while (pos < end) {
		off_t d = lseek(r->fd, pos, SEEK_DATA), h;

		if (d < 0)
			return errno == ENXIO ? 0 : -errno;
		if (d >= end)
			break;
		h = lseek(r->fd, d, SEEK_HOLE);
		if (h < 0 || h > end)
			h = end;
		for (uint32_t i = (uint32_t)(d / HRPC_MEM_CHUNK);
		     i < r->nchunks && (off_t)i * HRPC_MEM_CHUNK < h; i++) {
			if (r->c[i].state == C_GRANTED)
				continue;
			r->c[i].state = C_GRANTED;
			r->ngranted++;
		}
		pos = h;
	}
	return 0;
}

int mem_region_new(int fd, const struct mem_region_config *cfg, struct mem_region **out)
{
	struct mem_region *r;
	struct stat st;
	int rc;

	*out = NULL;
	if (fd < 0)
		return -EBADF;
	if (!cfg->nchunks || cfg->nchunks > HRPC_MEM_CHUNKS_MAX || cfg->pin_quota > cfg->nchunks) {
		close(fd);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r) + (size_t)cfg->nchunks * sizeof(r->c[0]));
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	r->nchunks = cfg->nchunks;
	r->pin_quota = cfg->pin_quota;
	/* Grown if short, never shrunk: QEMU may map it already (its BAR can
	 * be larger than the region), and a mapping past the end is SIGBUS. */
	if (fstat(fd, &st) < 0 ||
	    (st.st_size < (off_t)cfg->nchunks * HRPC_MEM_CHUNK &&
	     ftruncate(fd, (off_t)cfg->nchunks * HRPC_MEM_CHUNK) < 0)) {
		rc = -errno;
		mem_region_free(r);
		return rc;
	}
	/* Whatever the file held before: nothing is granted - unless this is
	 * the same guest's, still running (cfg->adopt). */
	rc = cfg->adopt ? adopt(r) : punch(r, 0, r->nchunks);
	if (rc < 0) {
		mem_region_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void mem_region_free(struct mem_region *r)
{
	if (!r)
		return;
	if (r->map)
		munmap(r->map, (size_t)r->nchunks * HRPC_MEM_CHUNK);
	close(r->fd);
	free(r);
}

int mem_region_fd(const struct mem_region *r)
{
	return r->fd;
}

int mem_region_grant(struct mem_region *r, uint32_t want, struct hrpc_mem_grant_event *out,
		     uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->nchunks && want && n < max; i++) {
		if (r->c[i].state != C_FREE)
			continue;
		r->c[i].state = C_GRANTED;
		r->c[i].seq = 0;
		r->ngranted++;
		want--;
		if (n && out[n - 1].first + out[n - 1].count == i) {
			out[n - 1].count++;
		} else {
			out[n].first = i;
			out[n].count = 1;
			n++;
		}
	}
	return (int)n;
}

int mem_region_reclaim(struct mem_region *r, uint32_t want, uint64_t now_ms,
		       uint32_t deadline_ms, struct hrpc_mem_reclaim_event *out, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = r->nchunks; i-- > 0 && want && n <= max;) {
		struct chunk *c = &r->c[i];

		if (c->state != C_GRANTED || c->pinned)
			continue;
		/* Ranges run downwards here: extend the last one at its start. */
		if (n && out[n - 1].first == i + 1) {
			out[n - 1].first = i;
			out[n - 1].count++;
		} else {
			if (n == max)
				break;
			if (++r->next_seq == 0)
				r->next_seq = 1;
			out[n].first = i;
			out[n].count = 1;
			out[n].seq = r->next_seq;
			out[n].deadline_ms = deadline_ms;
			n++;
		}
		c->state = C_RECLAIMING;
		c->seq = out[n - 1].seq;
		c->deadline_ms = now_ms + deadline_ms;
		r->ngranted--;
		r->nreclaiming++;
		want--;
	}
	return (int)n;
}

static int range_ok(const struct mem_region *r, uint32_t first, uint32_t count)
{
	return count && first < r->nchunks && count <= r->nchunks - first;
}

/* A chunk the host took at the deadline of RECLAIM `seq`: the guest that
 * gives it back late (it was emptying it when the deadline passed) gives
 * what it no longer has, and is not making up grants. */
static bool taken_under(const struct chunk *c, uint32_t seq)
{
	return seq && c->state == C_FREE && c->seq == seq;
}

int mem_region_release(struct mem_region *r, uint32_t first, uint32_t count, uint32_t seq)
{
	int rc;

	if (!range_ok(r, first, count))
		return -EINVAL;
	for (uint32_t i = first; i < first + count; i++) {
		const struct chunk *c = &r->c[i];

		if (c->pinned)
			return -EBUSY;
		if (taken_under(c, seq))
			continue;
		if (seq ? c->state != C_RECLAIMING || c->seq != seq :
			  c->state == C_FREE)
			return -EPERM;
	}
	rc = punch(r, first, count);
	if (rc < 0)
		return rc;
	for (uint32_t i = first; i < first + count; i++) {
		struct chunk *c = &r->c[i];

		if (taken_under(c, seq)) {
			c->seq = 0;   /* once: a second RELEASE is one too many */
			continue;
		}
		if (c->state == C_GRANTED)
			r->ngranted--;
		else
			r->nreclaiming--;
		memset(c, 0, sizeof(*c));
		c->deadline_ms = r->now_ms;
	}
	return 0;
}

static int map_for_pins(struct mem_region *r)
{
	void *m;

	if (r->map)
		return 0;
	m = mmap(NULL, (size_t)r->nchunks * HRPC_MEM_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED,
		 r->fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	r->map = m;
	return 0;
}

int mem_region_pin(struct mem_region *r, uint32_t first, uint32_t count)
{
	int rc;

	if (!range_ok(r, first, count))
		return -EINVAL;
	for (uint32_t i = first; i < first + count; i++)
		if (r->c[i].state != C_GRANTED || r->c[i].pinned)
			return r->c[i].state == C_GRANTED ? -EBUSY : -EPERM;
	if (count > r->pin_quota - r->npinned)
		return -EDQUOT;
	rc = map_for_pins(r);
	/* Resident from now on (faulted in: a hole becomes zeroed memory). */
	if (rc == 0 && mlock((uint8_t *)r->map + (size_t)first * HRPC_MEM_CHUNK,
			     (size_t)count * HRPC_MEM_CHUNK) < 0)
		rc = -errno;
	if (rc < 0)
		return rc;
	for (uint32_t i = first; i < first + count; i++)
		r->c[i].pinned = true;
	r->npinned += count;
	return 0;
}

int mem_region_unpin(struct mem_region *r, uint32_t first, uint32_t count)
{
	if (!range_ok(r, first, count))
		return -EINVAL;
	for (uint32_t i = first; i < first + count; i++)
		if (!r->c[i].pinned)
			return -EPERM;
	(void)munlock((uint8_t *)r->map + (size_t)first * HRPC_MEM_CHUNK,
		      (size_t)count * HRPC_MEM_CHUNK);
	for (uint32_t i = first; i < first + count; i++)
		r->c[i].pinned = false;
	r->npinned -= count;
	return 0;
}

uint32_t mem_region_expire(struct mem_region *r, uint64_t now_ms)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->nchunks; i++) {
		struct chunk *c = &r->c[i];

		if (c->state != C_RECLAIMING || c->deadline_ms > now_ms)
			continue;
		/* A chunk that cannot be punched stays the guest's to release:
		 * the next expiry tries again. */
		if (punch(r, i, 1) < 0)
			continue;
		c->state = C_FREE;   /* keeps its seq: see taken_under() */
		c->deadline_ms = now_ms;
		r->nreclaiming--;
		n++;
	}
	return n;
}

void mem_region_status(const struct mem_region *r, struct hrpc_mem_status *st)
{
	memset(st, 0, sizeof(*st));
	st->nchunks = r->nchunks;
	st->granted = r->ngranted;
	st->pinned = r->npinned;
	st->reclaiming = r->nreclaiming;
	st->pin_quota = r->pin_quota;
}

int64_t mem_region_resident(const struct mem_region *r)
{
	struct stat s;

	if (fstat(r->fd, &s) < 0)
		return -errno;
	return (int64_t)s.st_blocks * 512;
}

void mem_region_set_now(struct mem_region *r, uint64_t now_ms)
{
	r->now_ms = now_ms;
}

int mem_region_granted_ranges(const struct mem_region *r, struct hrpc_mem_grant_event *out,
			      uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->nchunks; i++) {
		if (r->c[i].state != C_GRANTED)
			continue;
		if (n && out[n - 1].first + out[n - 1].count == i) {
			out[n - 1].count++;
		} else {
			if (n == max)
				break;
			out[n].first = i;
			out[n].count = 1;
			n++;
		}
	}
	return (int)n;
}

/* A chunk the guest no longer has, taken back at least grace_ms ago. */
static bool refill_due(const struct chunk *c, uint64_t now_ms, uint32_t grace_ms)
{
	return c->state == C_FREE && c->deadline_ms + grace_ms <= now_ms;
}

/*
 * Asks the file only about the runs of chunks the guest does not have
 * (SEEK_DATA from each run's start), never walks the data of what it has:
 * this runs every tick, and a guest's grants may be gigabytes.
 */
uint32_t mem_region_refilled(struct mem_region *r, uint64_t now_ms, uint32_t grace_ms)
{
	uint32_t n = 0, i = 0;

	while (i < r->nchunks) {
		uint32_t end;
		off_t d;

		if (!refill_due(&r->c[i], now_ms, grace_ms)) {
			i++;
			continue;
		}
		for (end = i + 1; end < r->nchunks && refill_due(&r->c[end], now_ms, grace_ms); end++)
			;
		/* Data in [i, end)?  Punch the chunk it is in, look on after it. */
		while (i < end) {
			d = lseek(r->fd, (off_t)i * HRPC_MEM_CHUNK, SEEK_DATA);
			if (d < 0 || d >= (off_t)end * HRPC_MEM_CHUNK)
				break;
			i = (uint32_t)(d / HRPC_MEM_CHUNK);
			if (punch(r, i, 1) == 0)
				n++;
			i++;
		}
		i = end;
	}
	return n;
}
