/* SPDX-License-Identifier: MIT */
/*
 * ivshmem-handshake - hostrpcd's ivshmem server (hostrpc/daemon/
 * ivshmem-server.c), run in-process, speaks QEMU's ivshmem-doorbell server
 * protocol: version 0, the client's id 0, the sealed memfd, the host peer's
 * two eventfds then the guest's own; memory and eventfds really are shared;
 * one QEMU at a time; QEMU's hang-up releases everything, and the next QEMU
 * gets fresh memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "hostrpc/daemon/ivshmem-server.h"
#include "tests/tap.h"
#include "itest.h"

/* pthread, not GMutex/GCond: GLib's are futexes inside libglib, which
 * ThreadSanitizer does not see (make check-tsan). */
typedef struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* CLOCK_MONOTONIC */
	int peers_new, peers_gone;
	pid_t pid;
	int shm_fd, host_fd[HRPC_IVSHMEM_NR_VECTORS], guest_fd[HRPC_IVSHMEM_NR_VECTORS];
	gsize shm_size;
} Events;

static void peer_new(HrpcdIvshmemServer *srv, HrpcdIvshmemPeer *peer, gpointer user_data)
{
	Events *ev = user_data;

	pthread_mutex_lock(&ev->lock);
	ev->peers_new++;
	ev->pid = hrpcd_ivshmem_peer_pid(peer);
	ev->shm_fd = hrpcd_ivshmem_peer_shm_fd(peer);
	ev->shm_size = hrpcd_ivshmem_peer_shm_size(peer);
	for (unsigned int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		ev->host_fd[v] = hrpcd_ivshmem_peer_host_fd(peer, v);
		ev->guest_fd[v] = hrpcd_ivshmem_peer_guest_fd(peer, v);
	}
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

static void peer_gone(HrpcdIvshmemServer *srv, HrpcdIvshmemPeer *peer, gpointer user_data)
{
	Events *ev = user_data;

	pthread_mutex_lock(&ev->lock);
	ev->peers_gone++;
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

/* Wait until *counter reaches `want` (or 5 s passed). */
static bool wait_count(Events *ev, int *counter, int want)
{
	struct timespec end;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 5;
	pthread_mutex_lock(&ev->lock);
	while (*counter < want && pthread_cond_timedwait(&ev->cond, &ev->lock, &end) == 0)
		;
	ok = *counter >= want;
	pthread_mutex_unlock(&ev->lock);
	return ok;
}

/* A counter as the loop thread last left it. */
static int count(Events *ev, const int *counter)
{
	int n;

	pthread_mutex_lock(&ev->lock);
	n = *counter;
	pthread_mutex_unlock(&ev->lock);
	return n;
}

static gpointer run_loop(gpointer loop)
{
	g_main_context_push_thread_default(g_main_loop_get_context(loop));
	g_main_loop_run(loop);
	g_main_context_pop_thread_default(g_main_loop_get_context(loop));
	return NULL;
}

static bool readable(int fd, uint64_t want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	return poll(&p, 1, 2000) == 1 && read(fd, &v, sizeof(v)) == sizeof(v) && v == want;
}

static bool closed_by_peer(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char b;

	return poll(&p, 1, 2000) == 1 && recv(sock, &b, 1, 0) == 0;
}

int main(void)
{
	static const HrpcdIvshmemCallbacks cb = { .peer_new = peer_new, .peer_gone = peer_gone };
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	g_autofree char *dir = NULL;
	GMainContext *ctx = g_main_context_new();
	GMainLoop *loop = g_main_loop_new(ctx, FALSE);
	HrpcdIvshmemServer *srv;
	struct itest_qemu q, q2;
	Events ev = { 0 };
	int fds_before, fds_listening, rc, seals, second;
	struct stat st, st2;
	bool good;
	GThread *thread;
	ino_t first_ino;
	void *srv_map;
	pthread_condattr_t ca;

	itest_watchdog(60);
	tap_plan(16);
	pthread_mutex_init(&ev.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev.cond, &ca);
	pthread_condattr_destroy(&ca);

	tap_ok(!hrpcd_ivshmem_size_valid(3u << 20, NULL) &&
	       !hrpcd_ivshmem_size_valid(512u << 10, NULL) &&
	       !hrpcd_ivshmem_size_valid(2ull << 30, NULL) &&
	       hrpcd_ivshmem_size_valid(1u << 20, NULL) &&
	       hrpcd_ivshmem_size_valid(HRPCD_IVSHMEM_DEFAULT_SIZE, NULL),
	       "sizes: powers of two from 1 MiB to 1 GiB only");

	dir = g_dir_make_tmp("hostrpc-ivs.XXXXXX", NULL);
	path = g_build_filename(dir, "vm-test.ivshmem", NULL);
	/* GLib makes its default context (an eventfd) lazily; have it now so
	 * it does not count as ours later. */
	g_main_context_default();
	fds_before = itest_fd_count(getpid());
	srv = hrpcd_ivshmem_server_new("vm-test", path, 0, ctx, &cb, &ev, &error);
	if (!tap_ok(srv != NULL, "server listens on %s", path)) {
		tap_diag("%s", error->message);
		return 1;
	}
	fds_listening = itest_fd_count(getpid());
	rc = stat(path, &st);
	tap_ok(rc == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
	       "the endpoint is a socket only its owner may use (mode %o)", st.st_mode & 0777);
	thread = g_thread_new("ivshmem-loop", run_loop, loop);

	/* itest_qemu_connect() checks the order and the ids as QEMU does. */
	rc = itest_qemu_connect(path, &q);
	tap_ok(rc == 0 && q.version == 0 && q.id == HRPC_IVSHMEM_GUEST_ID &&
	       q.host_id == HRPC_IVSHMEM_HOST_ID && q.shm_size == HRPCD_IVSHMEM_DEFAULT_SIZE,
	       "set-up: version 0, id %lld, %zu bytes of memory, host peer %lld with %d vectors, "
	       "then our own (%d)", (long long)q.id, q.shm_size, (long long)q.host_id,
	       HRPC_IVSHMEM_NR_VECTORS, rc);
	seals = fcntl(q.shm_fd, F_GET_SEALS);
	tap_ok(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
	       (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) && !(seals & F_SEAL_WRITE) &&
	       ftruncate(q.shm_fd, 4096) < 0,
	       "the memory is sealed against shrinking and growing, not against writes");
	good = wait_count(&ev, &ev.peers_new, 1);
	tap_ok(good && ev.pid == getpid() && ev.shm_size == q.shm_size,
	       "peer_new: QEMU's pid %ld from SO_PEERCRED", (long)ev.pid);

	srv_map = mmap(NULL, ev.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, ev.shm_fd, 0);
	memcpy(q.map, "guest wrote this", 17);
	memcpy((char *)srv_map + 4096, "host wrote this", 16);
	tap_ok(srv_map != MAP_FAILED && !memcmp(srv_map, "guest wrote this", 17) &&
	       !memcmp((char *)q.map + 4096, "host wrote this", 16),
	       "both sides see each other's writes to the memory");
	munmap(srv_map, ev.shm_size);

	good = true;
	for (unsigned int v = 0; v < HRPC_IVSHMEM_NR_VECTORS; v++) {
		uint64_t n = 3 + v;

		good &= write(q.host_fd[v], &n, sizeof(n)) == sizeof(n) && readable(ev.host_fd[v], n);
		good &= write(ev.guest_fd[v], &n, sizeof(n)) == sizeof(n) && readable(q.own_fd[v], n);
	}
	tap_ok(good, "each vector's eventfd rings across, both ways");

	second = itest_unix_connect(path);
	tap_ok(second >= 0 && closed_by_peer(second), "a second QEMU is turned away");
	if (second >= 0)
		close(second);
	tap_ok(count(&ev, &ev.peers_new) == 1 && count(&ev, &ev.peers_gone) == 0,
	       "and the first one stays attached");

	fstat(q.shm_fd, &st);
	first_ino = st.st_ino;
	itest_qemu_disconnect(&q);
	tap_ok(wait_count(&ev, &ev.peers_gone, 1), "QEMU's hang-up: peer_gone");
	/* peer_gone runs before the peer's descriptors are closed. */
	rc = itest_fd_count_wait(getpid(), fds_listening, 2000);
	tap_ok(rc == fds_listening, "the memory and eventfds are closed (%d descriptors, %d before)",
	       rc, fds_listening);

	rc = itest_qemu_connect(path, &q2);
	fstat(q2.shm_fd, &st2);
	tap_ok(rc == 0 && wait_count(&ev, &ev.peers_new, 2), "a new QEMU attaches");
	tap_ok(st2.st_ino != first_ino && ((char *)q2.map)[0] == 0,
	       "and gets fresh memory, not the previous guest's");

	/* Stop the loop first: the server is used from one thread at a time. */
	g_main_loop_quit(loop);
	g_thread_join(thread);
	hrpcd_ivshmem_server_free(srv);
	tap_ok(count(&ev, &ev.peers_gone) == 2 && closed_by_peer(q2.sock),
	       "freeing the server drops the attached QEMU (peer_gone, hang-up)");
	itest_qemu_disconnect(&q2);
	rc = itest_fd_count(getpid());
	tap_ok(access(path, F_OK) < 0 && rc == fds_before,
	       "and removes the socket; no descriptor left behind (%d, %d before)", rc, fds_before);

	g_main_loop_unref(loop);
	g_main_context_unref(ctx);
	rmdir(dir);
	return tap_done();
}
