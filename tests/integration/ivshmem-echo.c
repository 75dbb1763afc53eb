/* SPDX-License-Identifier: MIT */
/*
 * ivshmem-echo - hostrpcd --ivshmem serves a QEMU guest: a fake QEMU takes
 * the ivshmem set-up from the endpoint, waits for the reset vector, runs a
 * libhostrpc client on the shared memory (kick = the daemon's vector 0,
 * wait = its own vector 0) and gets intact echo replies and events.  Two
 * endpoints serve two guests at once, each worker holding only its own
 * guest's memory; the supervisor holds each attached guest's memory and
 * eventfds until QEMU hangs up, then frees them; a new QEMU gets a fresh
 * channel.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/ring.h"
#include "tests/tap.h"
#include "itest.h"

/* Per attached QEMU the supervisor holds: connection, memfd, 2 x 2 eventfds,
 * the guest's status page, its worker's audit channel (audit-sink.h) and
 * control channel (worker-ctl.h) (and, with GLib >= 2.74 on Linux, a pidfd
 * per running worker: counted apart, as GLib's business). */
#define HELD_PER_GUEST (5 + 2 * HRPC_IVSHMEM_NR_VECTORS)

struct events {
	uint64_t next;
	bool in_order;
};

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
		     void *opaque)
{
	struct events *ev = opaque;
	uint64_t seq;

	memcpy(&seq, payload, sizeof(seq));
	if (h->service != HRPC_SVC_ECHO || h->proc != HRPC_ECHO_EV_TICK || h->len != 8 ||
	    seq != ev->next)
		ev->in_order = false;
	ev->next++;
}

/* Does any descriptor of `pid` refer to the same file as `fd`? */
static bool holds_file(pid_t pid, int fd)
{
	char path[64], link[320];
	struct stat want, st;
	struct dirent *e;
	bool found = false;
	DIR *dir;

	if (fstat(fd, &want) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	dir = opendir(path);
	while (dir && (e = readdir(dir)) && !found) {
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		found = e->d_name[0] != '.' && stat(link, &st) == 0 &&
			st.st_dev == want.st_dev && st.st_ino == want.st_ino;
	}
	if (dir)
		closedir(dir);
	return found;
}

static int attach(struct itest_daemon *d, const char *endpoint, const char *label,
		  struct itest_qemu *q, hrpc_client **c)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", d->dir, endpoint);
	return itest_qemu_attach(path, label, q, c);
}

int main(void)
{
	static const char *const args[] = {
		"--ivshmem", "vm1=@DIR@/vm1.ivshmem", "--ivshmem", "@DIR@/vm2.ivshmem",
		"--ivshmem-size", "4M", NULL
	};
	struct hrpc_admin_guest g1 = { 0 }, g2 = { 0 };
	struct hrpc_admin_channel ch = { 0 };
	struct events ev = { 0, true };
	struct hrpc_echo_events_req er = { .count = 50 };
	uint32_t sent = 0;
	struct hrpc_call call = {
		.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_EVENTS, .req = &er,
		.req_len = sizeof(er), .rep = &sent, .rep_cap = sizeof(sent), .timeout_ms = 10000,
	};
	struct itest_qemu q1, q2;
	hrpc_client *c1 = NULL, *c2 = NULL;
	struct itest_daemon d;
	int baseline, rc, n;
	bool good;

	itest_watchdog(120);
	tap_plan(21);
	rc = itest_daemon_start(&d, args);
	if (!tap_ok(rc == 0, "hostrpcd starts with two ivshmem endpoints"))
		return 1;
	baseline = itest_fd_baseline(d.pid);
	tap_ok(itest_log_wait(&d, 0, "ivshmem endpoint for guest vm1", "4194304 bytes", NULL) &&
	       itest_log_wait(&d, 0, "ivshmem endpoint for guest vm2", "vm2.ivshmem", NULL),
	       "endpoints vm1 (NAME=PATH) and vm2 (named after the socket file) are up");

	rc = attach(&d, "vm1.ivshmem", "fake-qemu-1", &q1, &c1);
	tap_ok(rc == 0 && q1.shm_size == 4u << 20 && itest_qemu_host_gen(&q1) == 1,
	       "vm1: set-up received, reset vector rung, channel generation 1, HELLO negotiated "
	       "(%s)", strerror(-rc));
	if (rc < 0) {
		itest_log_dump(&d);
		itest_daemon_stop(&d);
		return 1;
	}
	rc = itest_echo_workload(c1, 1, 5000, 100);
	tap_ok(rc == 0, "vm1: 5000 pings and 100 bulk calls of up to 256 KiB came back intact");
	hrpc_client_set_event_handler(c1, on_event, &ev);
	rc = hrpc_client_call(c1, &call);
	tap_ok(rc == 0 && sent == 50 && ev.next == 50 && ev.in_order,
	       "vm1: 50 events delivered in order before the reply (%d, %llu)", rc,
	       (unsigned long long)ev.next);

	rc = itest_admin_find(d.admin_sock, "vm1", &g1);
	tap_ok(rc == 0 && g1.transport == HRPC_ADMIN_TRANSPORT_IVSHMEM &&
	       g1.state == HRPC_ADMIN_STATE_NEGOTIATED && g1.worker_pid &&
	       g1.peer_pid == (uint32_t)getpid() && g1.restarts == 0 &&
	       g1.guest_id == hrpc_client_guest_id(c1),
	       "admin: vm1 is an ivshmem guest, negotiated, worker %u, QEMU pid %u, guest id %u",
	       g1.worker_pid, g1.peer_pid, g1.guest_id);
	rc = itest_admin_find_channel(d.admin_sock, "vm1", &ch);
	tap_ok(rc == 0 && ch.generation == 1 && ch.stats.calls >= 5000 + 100 + 2 &&
	       ch.stats.events == 50 && ch.stats.errors == 0 && !strcmp(ch.peer, "fake-qemu-1"),
	       "admin: vm1's channel counters (%llu calls, %llu events)",
	       (unsigned long long)ch.stats.calls, (unsigned long long)ch.stats.events);

	rc = attach(&d, "vm2.ivshmem", "fake-qemu-2", &q2, &c2);
	tap_ok(rc == 0 && itest_echo_workload(c2, 2, 2000, 20) == 0 &&
	       itest_echo_workload(c1, 3, 2000, 20) == 0,
	       "vm2 attaches and both guests are served side by side");
	rc = itest_admin_find(d.admin_sock, "vm2", &g2);
	tap_ok(rc == 0 && g2.worker_pid && g2.worker_pid != g1.worker_pid && g2.guest_id != g1.guest_id,
	       "admin: vm2 has its own guest id %u and worker %u", g2.guest_id, g2.worker_pid);
	tap_ok(holds_file((pid_t)g1.worker_pid, q1.shm_fd) && !holds_file((pid_t)g1.worker_pid, q2.shm_fd) &&
	       holds_file((pid_t)g2.worker_pid, q2.shm_fd) && !holds_file((pid_t)g2.worker_pid, q1.shm_fd),
	       "each worker holds its own guest's memory and not the other's");
	tap_ok(holds_file(d.pid, q1.shm_fd) && holds_file(d.pid, q2.shm_fd) &&
	       holds_file(d.pid, q1.own_fd[HRPC_IVSHMEM_VEC_RESET]),
	       "the supervisor holds both guests' memory and eventfds");
	rc = itest_fd_held_wait(d.pid, baseline + 2 * HELD_PER_GUEST, 5000);
	if (!tap_ok(rc == baseline + 2 * HELD_PER_GUEST,
		    "and nothing else: %d descriptors = %d + 2 x %d", rc, baseline, HELD_PER_GUEST))
		itest_fd_dump(d.pid);

	/* QEMU of vm1 goes away: the guest stopped. */
	hrpc_client_free(c1);
	c1 = NULL;
	itest_qemu_disconnect(&q1);
	tap_ok(itest_log_wait(&d, 5000, "(vm1): QEMU detached", NULL) &&
	       itest_pid_gone((pid_t)g1.worker_pid, 5000),
	       "vm1's QEMU hung up: its worker %u was stopped and reaped", g1.worker_pid);
	good = true;
	for (int i = 0; i < 100 && (good = itest_admin_listed(d.admin_sock, "vm1")); i++)
		usleep(20000);
	tap_ok(!good, "vm1 is no longer listed");
	rc = itest_fd_held_wait(d.pid, baseline + HELD_PER_GUEST, 5000);
	tap_ok(rc == baseline + HELD_PER_GUEST, "the supervisor dropped vm1's memory and eventfds (%d)",
	       rc);
	tap_ok(itest_echo_workload(c2, 4, 1000, 10) == 0, "vm2 is still served");

	/* The same guest starts again: a new QEMU, a fresh channel. */
	rc = attach(&d, "vm1.ivshmem", "fake-qemu-1b", &q1, &c1);
	tap_ok(rc == 0 && itest_qemu_host_gen(&q1) == 1 && itest_echo_workload(c1, 5, 1000, 10) == 0,
	       "a new QEMU for vm1 gets a fresh channel (generation 1) that works");
	{
		struct hrpc_admin_guest all[4];

		n = itest_admin_guests(d.admin_sock, all, 4);
		tap_ok(n == 2, "admin lists both guests (%d)", n);
	}

	hrpc_client_free(c1);
	hrpc_client_free(c2);
	itest_qemu_disconnect(&q1);
	itest_qemu_disconnect(&q2);
	rc = itest_fd_count_wait(d.pid, baseline, 5000);
	tap_ok(rc == baseline, "both QEMUs gone: the supervisor is back to %d descriptors (%d)",
	       baseline, rc);
	tap_ok(itest_daemon_alive(&d) && !itest_log_wait(&d, 0, "critical", NULL),
	       "hostrpcd still runs, nothing critical logged");
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly on SIGTERM");
	return tap_done();
}
