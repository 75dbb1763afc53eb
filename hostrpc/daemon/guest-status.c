/* SPDX-License-Identifier: MIT */
/* guest-status.c - the worker's status page (see guest-status.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostrpc/daemon/guest-status.h"

#define READ_TRIES 16

struct hrpcd_status *hrpcd_status_new(int *fd)
{
	struct hrpcd_status *st;
	int e;

	*fd = memfd_create("hostrpcd-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, HRPCD_STATUS_SIZE) < 0 ||
	    fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	st = hrpcd_status_map(*fd);
	if (st)
		return st;
fail:
	e = errno;
	close(*fd);
	*fd = -1;
	errno = e;
	return NULL;
}

struct hrpcd_status *hrpcd_status_map(int fd)
{
	struct stat sb;
	void *p;

	if (fstat(fd, &sb) < 0)
		return NULL;
	if (sb.st_size < HRPCD_STATUS_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, HRPCD_STATUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void hrpcd_status_free(struct hrpcd_status *st)
{
	if (st)
		munmap(st, HRPCD_STATUS_SIZE);
}

static void copy_str(char *dst, gsize size, const char *src)
{
	memset(dst, 0, size);
	if (src)
		g_strlcpy(dst, src, size);
}

/* Published before every sleep of a worker: the coarse clock is vDSO data
 * (no syscall where the precise clock needs one, chan.c); readers only
 * extrapolate uptime from it. */
static gint64 coarse_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

void hrpcd_status_publish(struct hrpcd_status *st, guint32 state, guint32 generation,
			  const struct hrpc_stats *stats, const char *peer,
			  const char *fence_reason)
{
	guint32 seq = __atomic_load_n(&st->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&st->seq, seq + 1, __ATOMIC_RELAXED);
	/* Orders the odd seq before the data stores; pairs with the reader's
	 * acquire fence after its copy. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	st->state = state;
	st->generation = generation;
	st->published_us = coarse_us();
	if (stats)
		memcpy(&st->stats, stats, sizeof(st->stats));
	copy_str(st->peer, sizeof(st->peer), peer);
	copy_str(st->fence_reason, sizeof(st->fence_reason), fence_reason);
	/* Release pairs with the reader's acquire load of seq. */
	__atomic_store_n(&st->seq, seq + 2, __ATOMIC_RELEASE);
}

static void sanitize_printable(char *s, gsize size)
{
	s[size - 1] = 0;
	for (gsize i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			s[i] = '?';
}

gboolean hrpcd_status_read(const struct hrpcd_status *st, struct hrpcd_status *out)
{
	gboolean consistent = FALSE;
	gint64 now;

	for (int i = 0; i < READ_TRIES && !consistent; i++) {
		guint32 s1 = __atomic_load_n(&st->seq, __ATOMIC_ACQUIRE), s2;

		memcpy(out, st, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&st->seq, __ATOMIC_RELAXED);
		consistent = !(s1 & 1) && s1 == s2;
	}
	/* The worker publishes when it goes idle; age the uptime to now (the
	 * monotonic clock is the same in both processes). */
	now = g_get_monotonic_time();
	if (out->stats.uptime_ns && out->published_us > 0 && out->published_us <= now)
		out->stats.uptime_ns += (guint64)(now - out->published_us) * 1000;
	if (out->state > HRPC_ADMIN_STATE_STOPPING)
		out->state = HRPC_ADMIN_STATE_UNKNOWN;
	sanitize_printable(out->peer, sizeof(out->peer));
	sanitize_printable(out->fence_reason, sizeof(out->fence_reason));
	return consistent;
}

gboolean hrpcd_name_sanitize(const char *s, char *out, gsize size)
{
	gsize n = 0;

	for (; s && *s && n + 1 < size; s++) {
		char c = *s;

		if (g_ascii_isalnum(c) || c == '.' || c == '_' || c == '-')
			out[n++] = c;
		else if (n && out[n - 1] != '_')
			out[n++] = '_';
	}
	while (n && out[n - 1] == '_')
		n--;
	out[n] = 0;
	/* "." and ".." would read like paths in logs and listings. */
	if (!strcmp(out, ".") || !strcmp(out, "..")) {
		out[0] = 0;
		n = 0;
	}
	return n > 0;
}
