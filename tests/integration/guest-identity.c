/* SPDX-License-Identifier: MIT */
/*
 * guest-identity - a name belongs to one guest, and process guests cannot
 * crowd VMs out:
 *  - a process guest that says HELLO as a VM's endpoint name ("vm1") or as
 *    another guest's default name ("guest-99") does not get that name (it
 *    stays guest-ID, a warning says why) and is still served;
 *  - more silent connections (no HELLO) than the table holds: at most a
 *    quarter of the table waits for HELLOs, the rest are refused at once,
 *    the slot of the VM endpoint stays free, a QEMU attaching there is
 *    served, and the silent ones are dropped at the HELLO deadline
 *    (--hello-timeout), after which a late process guest gets in.
 *
 *   test process                          hostrpcd --max-guests 8
 *   guest "vm1", guest "guest-99" ------>  guests.sock  (named guest-ID)
 *   12 silent connections --------------->  2 wait, 10 refused; dropped at 2 s
 *   fake QEMU -------------- vm1.ivshmem ->  guest vm1 (its slot was kept)
 *   guest "late" (after the deadline) --->  served
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/tap.h"
#include "itest.h"

#define SILENT 12

static struct itest_daemon d;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait until every connection in `fds` was closed by the daemon (EOF). */
static int closed_within(int *fds, int n, int ms)
{
	long long end = now_ms() + ms;
	int open = n;

	while (open && now_ms() < end) {
		open = 0;
		for (int i = 0; i < n; i++) {
			struct pollfd p = { .fd = fds[i], .events = POLLIN };
			char buf[256];
			ssize_t r;

			if (fds[i] < 0)
				continue;
			if (poll(&p, 1, 0) == 1 && (r = read(fds[i], buf, sizeof(buf))) <= 0) {
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			open++;
		}
		if (open)
			usleep(20000);
	}
	return open;
}

/* Is a process guest (memfd) listed under `name`? */
static bool process_guest_named(const char *name)
{
	static struct hrpc_admin_guest g[64];
	int n = itest_admin_guests(d.admin_sock, g, 64);

	for (int i = 0; i < n; i++)
		if (g[i].transport == HRPC_ADMIN_TRANSPORT_MEMFD && !strcmp(g[i].name, name))
			return true;
	return false;
}

int main(void)
{
	static const char *const args[] = {
		"--max-guests", "8", "--hello-timeout", "2", "--no-fdstore",
		"--ivshmem", "vm1=@DIR@/vm1.ivshmem", NULL
	};
	hrpc_client *a = NULL, *b = NULL, *vm = NULL, *late = NULL;
	struct hrpc_admin_guest g;
	struct itest_qemu q;
	char endpoint[400];
	int silent[SILENT], rc, open;
	long long t0;

	itest_watchdog(60);
	tap_plan(11);
	rc = itest_daemon_start(&d, args);
	if (!tap_ok(rc == 0, "hostrpcd starts with one VM endpoint and room for 8 guests"))
		return 1;
	snprintf(endpoint, sizeof(endpoint), "%s/vm1.ivshmem", d.dir);

	rc = itest_guest_connect(d.guest_sock, "vm1", &a);
	if (rc == 0)
		rc = itest_echo_workload(a, 1, 20, 1);
	tap_ok(rc == 0 && itest_log_wait(&d, 3000, "said HELLO as \"vm1\"", "VM", NULL) &&
	       !process_guest_named("vm1") && !itest_admin_listed(d.admin_sock, "vm1"),
	       "a process guest saying HELLO as VM endpoint vm1 is served, but not as vm1 (%d)", rc);
	rc = itest_guest_connect(d.guest_sock, "guest-99", &b);
	if (rc == 0)
		rc = itest_echo_workload(b, 2, 20, 1);
	tap_ok(rc == 0 && itest_log_wait(&d, 3000, "said HELLO as \"guest-99\"", NULL) &&
	       !process_guest_named("guest-99"),
	       "nor as another guest's default name guest-99 (%d)", rc);

	for (int i = 0; i < SILENT; i++)
		silent[i] = itest_unix_connect(d.guest_sock);
	t0 = now_ms();
	/* Those refused are closed at once; 2 of 8 wait for their HELLO. */
	tap_ok(itest_log_wait(&d, 3000, "refusing process guest", "not said HELLO", NULL),
	       "%d silent connections: beyond a quarter of the table they are refused", SILENT);

	rc = itest_qemu_attach(endpoint, "vm1-qemu", &q, &vm);
	if (rc == 0)
		rc = itest_echo_workload(vm, 3, 50, 2);
	tap_ok(rc == 0, "a QEMU attaching to vm1 meanwhile is served: its slot was kept (%s)",
	       strerror(-rc));
	rc = itest_admin_find(d.admin_sock, "vm1", &g);
	tap_ok(rc == 0 && g.transport == HRPC_ADMIN_TRANSPORT_IVSHMEM,
	       "vm1 is the VM, listed as ivshmem");

	open = closed_within(silent, SILENT, 6000);
	tap_ok(open == 0 && now_ms() - t0 >= 1500,
	       "every silent connection is closed by the HELLO deadline (%d open, %lld ms)", open,
	       now_ms() - t0);
	tap_ok(itest_log_wait(&d, 2000, "said no HELLO within 2 s", NULL),
	       "the log says which were dropped and why");

	rc = itest_guest_connect(d.guest_sock, "late", &late);
	if (rc == 0)
		rc = itest_echo_workload(late, 4, 20, 1);
	tap_ok(rc == 0, "a late process guest gets in and is served (%d)", rc);
	rc = itest_echo_workload(a, 5, 10, 0);
	if (rc == 0)
		rc = itest_echo_workload(b, 6, 10, 0);
	if (rc == 0)
		rc = itest_echo_workload(vm, 7, 10, 0);
	tap_ok(rc == 0, "the earlier guests are still served (%d)", rc);

	if (late)
		hrpc_client_free(late);
	if (vm)
		hrpc_client_free(vm);
	itest_qemu_disconnect(&q);
	if (a)
		hrpc_client_free(a);
	if (b)
		hrpc_client_free(b);
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly");
	return tap_done();
}
