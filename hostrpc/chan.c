/* SPDX-License-Identifier: MIT */
/* chan.c - transport-independent part of a channel. */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/chan.h"

uint64_t hrpc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * For counters only (uptime): the coarse clock is read from the vDSO's data
 * page even where the precise one needs a syscall - a Xen PV guest whose
 * TSC Xen does not call stable, as under QEMU TCG, where each syscall is a
 * round trip through the hypervisor.  The worker publishes its counters
 * before every sleep.
 */
static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hrpc_chan_init(hrpc_chan *ch, const struct hrpc_chan_ops *ops, enum hrpc_chan_role role)
{
	ch->ops = ops;
	ch->role = role;
	ch->wait_fd = -1;
	ch->hup_fd = -1;
	ch->spin_ns = 0;
	ch->created_ns = coarse_ns();
	ch->own_map = NULL;
	ch->own_fd[0] = ch->own_fd[1] = ch->own_fd[2] = -1;
}

void hrpc_chan_set_owned(hrpc_chan *ch, void *map, size_t map_len, int fd0, int fd1, int fd2)
{
	ch->own_map = map;
	ch->own_map_len = map_len;
	ch->own_fd[0] = fd0;
	ch->own_fd[1] = fd1;
	ch->own_fd[2] = fd2;
}

void hrpc_chan_free(hrpc_chan *ch)
{
	void *map;
	size_t len;
	int fds[3];

	if (!ch)
		return;
	map = ch->own_map;
	len = ch->own_map_len;
	for (int i = 0; i < 3; i++)
		fds[i] = ch->own_fd[i];
	ch->ops->destroy(ch);
	if (map)
		munmap(map, len);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int hrpc_chan_wait_fd(hrpc_chan *ch)
{
	return ch->wait_fd;
}

void *hrpc_chan_data(hrpc_chan *ch, uint32_t *size)
{
	if (size)
		*size = ch->data_size;
	return ch->data;
}

const struct hrpc_stats *hrpc_chan_stats(hrpc_chan *ch)
{
	uint64_t now = coarse_ns();

	ch->stats.uptime_ns = now > ch->created_ns ? now - ch->created_ns : 0;
	return &ch->stats;
}

void hrpc_chan_set_spin(hrpc_chan *ch, uint32_t spin_ns)
{
	ch->spin_ns = spin_ns;
	ch->spin_cur = spin_ns;
	ch->spin_probe = 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Waiting for room to send, or for something to receive - never both:
 * a side blocked on space must not spin on input it cannot answer. */
static int ready(hrpc_chan *ch, uint32_t need_space)
{
	if (need_space)
		return ch->ops->space(ch) >= (long)need_space;
	return ch->ops->pending(ch);
}

int hrpc_chan_wait(hrpc_chan *ch, int timeout_ms, uint32_t need_space)
{
	uint64_t start = hrpc_now_ns(), deadline = 0;
	struct pollfd pfd[2] = {
		{ .fd = ch->wait_fd, .events = POLLIN },
		{ .fd = ch->hup_fd, .events = POLLIN },
	};
	int rc;

	/*
	 * Bounded, adaptive spin.  Cheap when the peer answers within
	 * microseconds and has a core of its own; but when cores are scarce
	 * our spinning only delays the peer it waits for.  So the budget
	 * doubles (up to spin_ns) after a wait that spinning satisfied and
	 * halves after one it did not, down to 0; with 0, every 64th wait
	 * probes with a small budget to notice when spinning pays again.
	 */
	if (ch->spin_ns) {
		uint32_t budget = ch->spin_cur;
		unsigned int n = 0;
		uint64_t spin_end;

		if (!budget && ++ch->spin_probe % 64 == 0)
			budget = ch->spin_ns / 16 ? ch->spin_ns / 16 : 1;
		spin_end = start + budget;
		while (budget && !ready(ch, need_space)) {
			cpu_relax();
			if (++n % 64 == 0 && hrpc_now_ns() >= spin_end)
				break;
		}
		if (budget && ready(ch, need_space)) {
			budget = budget < 1000 ? 2000 : budget * 2;
			ch->spin_cur = budget < ch->spin_ns ? budget : ch->spin_ns;
			return 1;
		}
		if (budget)
			ch->spin_cur = budget / 2 < 500 ? 0 : budget / 2;
	}
	if (timeout_ms >= 0)
		deadline = start + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		int ms = -1;

		rc = need_space ? ch->ops->arm_space(ch, need_space) : ch->ops->arm(ch);
		if (rc <= 0)
			return rc < 0 ? rc : 1;
		if (timeout_ms >= 0) {
			uint64_t now = hrpc_now_ns();

			if (now >= deadline)
				return 0;
			ms = (int)((deadline - now + 999999) / 1000000);
		}
		rc = poll(pfd, ch->hup_fd >= 0 ? 2 : 1, ms);
		if (rc < 0 && errno != EINTR)
			return -errno;
		/* Nothing is ever sent on the liveness socket after set-up:
		 * readable means hang-up. */
		if (rc > 0 && pfd[1].revents)
			return -EPIPE;
		if (rc > 0) {
			ch->ops->ack(ch);
			ch->stats.doorbells_in++;
			return 1;
		}
	}
}
