/* SPDX-License-Identifier: MIT */
/*
 * vchan-mock.c - libxenvchan's API over process memory, for testing
 * hostrpc/chan-vchan.c where there is no Xen: a server publishes a "ring"
 * under its xs_path, a client of the same path connects.  Kept to what
 * chan-vchan.c relies on: non-blocking read/write of what is there or what
 * fits, an event fd per end that turns readable when the other end wrote,
 * read or closed (and that libxenvchan_wait() drains, failing with EAGAIN
 * once the fd is non-blocking and nothing is pending), is_open() 2 before
 * a client came, 0 once the other end closed, data still readable then.
 * Small rings, and reads and writes of at most a few hundred bytes, so
 * that frames are split and sends wait for room.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "tests/unit/vchan-mock.h"

#define MOCK_RING 4093
#define MOCK_CHUNK 509

struct mock_ring {
	uint8_t buf[MOCK_RING];
	size_t head, len;
};

struct mock_link {
	struct mock_link *next;
	char path[128];
	struct mock_ring ring[2];  /* ring[s]: written by side s (0 server, 1 client) */
	int efd[2];                /* side s's event fd (-1 once it closed) */
	bool live[2];
	int cli_state;             /* 2 no client yet, 1 connected, 0 closed */
	bool published;
	int refs;
};

struct mock_vchan {
	struct libxenvchan pub;    /* first: what callers see */
	struct mock_link *l;
	int side;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct mock_link *links;
static unsigned long events_sent;

#define MV(c) ((struct mock_vchan *)(c))

static void notify(struct mock_link *l, int side)
{
	if (l->efd[side] >= 0 && eventfd_write(l->efd[side], 1) == 0)
		events_sent++;
}

static void unpublish(struct mock_link *l)
{
	struct mock_link **pp = &links;

	for (; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	l->published = false;
}

struct libxenvchan *libxenvchan_server_init(struct xentoollog_logger *logger, int domain,
					   const char *xs_path, size_t read_min, size_t write_min)
{
	struct mock_vchan *v = calloc(1, sizeof(*v));
	struct mock_link *l = calloc(1, sizeof(*l));

	if (!v || !l || strlen(xs_path) >= sizeof(l->path)) {
		free(v);
		free(l);
		errno = EINVAL;
		return NULL;
	}
	strcpy(l->path, xs_path);
	/* A blocking fd, as /dev/xen/evtchn's: chan-vchan.c must switch it. */
	l->efd[0] = eventfd(0, EFD_CLOEXEC);
	l->efd[1] = -1;
	l->live[0] = true;
	l->cli_state = 2;
	l->refs = 1;
	v->l = l;
	v->side = 0;
	v->pub.is_server = 1;
	v->pub.blocking = 1;  /* libxenvchan leaves it unset; the caller must clear it */
	pthread_mutex_lock(&mu);
	l->next = links;
	links = l;
	l->published = true;
	pthread_mutex_unlock(&mu);
	return &v->pub;
}

struct libxenvchan *libxenvchan_client_init(struct xentoollog_logger *logger, int domain,
					   const char *xs_path)
{
	struct mock_vchan *v = calloc(1, sizeof(*v));
	struct mock_link *l;

	if (!v)
		return NULL;
	pthread_mutex_lock(&mu);
	for (l = links; l; l = l->next)
		if (!strcmp(l->path, xs_path) && l->live[0] && l->cli_state == 2)
			break;
	if (!l) {
		pthread_mutex_unlock(&mu);
		free(v);
		errno = ENOENT;
		return NULL;
	}
	l->efd[1] = eventfd(0, EFD_CLOEXEC);
	l->live[1] = true;
	l->cli_state = 1;
	l->refs++;
	v->l = l;
	v->side = 1;
	v->pub.blocking = 1;
	notify(l, 0);  /* wake up the server, as libxenvchan does */
	pthread_mutex_unlock(&mu);
	return &v->pub;
}

int libxenvchan_is_open(struct libxenvchan *ctrl)
{
	struct mock_vchan *v = MV(ctrl);
	int r;

	pthread_mutex_lock(&mu);
	r = v->side == 0 ? v->l->cli_state : v->l->live[0];
	pthread_mutex_unlock(&mu);
	return r;
}

int libxenvchan_read(struct libxenvchan *ctrl, void *data, size_t size)
{
	struct mock_vchan *v = MV(ctrl);
	struct mock_ring *r = &v->l->ring[!v->side];
	size_t n;

	if (ctrl->blocking)
		abort();  /* chan-vchan.c must have set it non-blocking */
	pthread_mutex_lock(&mu);
	n = r->len < size ? r->len : size;
	if (n > MOCK_CHUNK)
		n = MOCK_CHUNK;
	for (size_t i = 0; i < n; i++)
		((uint8_t *)data)[i] = r->buf[(r->head + i) % MOCK_RING];
	r->head = (r->head + n) % MOCK_RING;
	r->len -= n;
	if (n)
		notify(v->l, !v->side);
	else if (v->side == 0 ? v->l->cli_state == 0 : !v->l->live[0]) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	pthread_mutex_unlock(&mu);
	return (int)n;
}

int libxenvchan_write(struct libxenvchan *ctrl, const void *data, size_t size)
{
	struct mock_vchan *v = MV(ctrl);
	struct mock_ring *r = &v->l->ring[v->side];
	size_t n;

	if (ctrl->blocking)
		abort();
	pthread_mutex_lock(&mu);
	if (v->side == 0 ? v->l->cli_state == 0 : !v->l->live[0]) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	n = MOCK_RING - r->len < size ? MOCK_RING - r->len : size;
	if (n > MOCK_CHUNK)
		n = MOCK_CHUNK;
	for (size_t i = 0; i < n; i++)
		r->buf[(r->head + r->len + i) % MOCK_RING] = ((const uint8_t *)data)[i];
	r->len += n;
	if (n)
		notify(v->l, !v->side);
	pthread_mutex_unlock(&mu);
	return (int)n;
}

int libxenvchan_data_ready(struct libxenvchan *ctrl)
{
	struct mock_vchan *v = MV(ctrl);
	int n;

	pthread_mutex_lock(&mu);
	n = (int)v->l->ring[!v->side].len;
	pthread_mutex_unlock(&mu);
	return n;
}

int libxenvchan_buffer_space(struct libxenvchan *ctrl)
{
	struct mock_vchan *v = MV(ctrl);
	int n;

	pthread_mutex_lock(&mu);
	n = (int)(MOCK_RING - v->l->ring[v->side].len);
	pthread_mutex_unlock(&mu);
	return n;
}

int libxenvchan_wait(struct libxenvchan *ctrl)
{
	struct mock_vchan *v = MV(ctrl);
	eventfd_t n;

	return eventfd_read(v->l->efd[v->side], &n) == 0 ? 0 : -1;
}

int libxenvchan_fd_for_select(struct libxenvchan *ctrl)
{
	struct mock_vchan *v = MV(ctrl);

	return v->l->efd[v->side];
}

void libxenvchan_close(struct libxenvchan *ctrl)
{
	struct mock_vchan *v = MV(ctrl);
	struct mock_link *l;
	int refs, fd;

	if (!ctrl)
		return;
	l = v->l;
	pthread_mutex_lock(&mu);
	l->live[v->side] = false;
	if (v->side == 1)
		l->cli_state = 0;
	else
		unpublish(l);  /* as libxenvchan removes its xenstore directory */
	fd = l->efd[v->side];
	l->efd[v->side] = -1;
	notify(l, !v->side);
	refs = --l->refs;
	pthread_mutex_unlock(&mu);
	close(fd);
	if (!refs)
		free(l);
	free(v);
}

unsigned long vchan_mock_events(void)
{
	unsigned long n;

	pthread_mutex_lock(&mu);
	n = events_sent;
	pthread_mutex_unlock(&mu);
	return n;
}

bool vchan_mock_published(const char *xs_path)
{
	struct mock_link *l;

	pthread_mutex_lock(&mu);
	for (l = links; l; l = l->next)
		if (!strcmp(l->path, xs_path))
			break;
	pthread_mutex_unlock(&mu);
	return l != NULL;
}
