/* SPDX-License-Identifier: MIT */
/*
 * fdstore-impostor - hostrpcd hands its fd holder every guest's memory,
 * eventfds and listening sockets, so it checks who the holder is with
 * SO_PEERCRED, not by where its socket file lies: a process on
 * STATE_DIR/fdstore.sock that runs as another uid, or that names another
 * pid than its own in its HELLO reply, gets nothing (not one descriptor),
 * the refusal is logged, and the daemon serves its guests without a holder.
 *
 *   test process                 hostrpcd                     fake holder
 *   fake QEMU "vm" -- vm.ivshmem --> worker      HELLO -->   state/fdstore.sock
 *                                                <-- "pid X"  (counts every fd
 *                                                   refused    it is sent)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/daemon/fdstore-proto.h"
#include "tests/tap.h"
#include "itest.h"

#define NOBODY 65534

static struct itest_daemon d;

/* A holder impostor on `path`: it answers HELLO (with a pid of `pid_delta`
 * away from its own), acknowledges every request, and writes one byte to
 * `report` for each descriptor it is sent.  `uid` != 0: it listens as that
 * user (SO_PEERCRED reports the listener's credentials). */
static pid_t fake_holder(const char *path, uid_t uid, int pid_delta, int report)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pollfd p[9];
	int n = 1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	p[0].fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	p[0].events = POLLIN;
	if (p[0].fd < 0 || bind(p[0].fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(1);
	if (uid && (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
		_exit(2);
	if (listen(p[0].fd, 8) < 0 || write(report, "R", 1) != 1)
		_exit(3);
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			_exit(4);
		if ((p[0].revents & POLLIN) && n < 9) {
			p[n].fd = accept4(p[0].fd, NULL, NULL, SOCK_CLOEXEC);
			p[n].events = POLLIN;
			if (p[n].fd >= 0)
				n++;
		}
		for (int i = 1; i < n; i++) {
			struct hrpcd_fdstore_msg m, r;
			int fds[HRPCD_FDSTORE_BATCH], nfds = HRPCD_FDSTORE_BATCH;

			if (!p[i].revents)
				continue;
			if (hrpc_unix_recv(p[i].fd, &m, sizeof(m), fds, &nfds) < 0) {
				close(p[i].fd);
				p[i--] = p[--n];
				continue;
			}
			for (int k = 0; k < nfds; k++) {
				close(fds[k]);
				if (write(report, "F", 1) != 1)
					_exit(5);
			}
			memset(&r, 0, sizeof(r));
			r.magic = HRPCD_FDSTORE_MAGIC;
			r.version = HRPCD_FDSTORE_VERSION;
			r.op = m.op;
			r.flags = HRPCD_FDSTORE_LAST;
			r.pid = (uint32_t)(getpid() + pid_delta);
			hrpc_unix_send(p[i].fd, &r, sizeof(r), NULL, 0);
		}
	}
}

/* Bytes from the impostor so far (non-blocking). */
static int drain(int fd, char want)
{
	char buf[256];
	int count = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			count += buf[i] == want;
	return count;
}

static void one_case(const char *what, uid_t uid, int pid_delta)
{
	static const char *const args[] = { "--ivshmem", "vm=@DIR@/vm.ivshmem", NULL };
	char path[108], endpoint[400];
	struct itest_qemu q;
	hrpc_client *c = NULL;
	int rep[2], got = 0, rc;
	pid_t fake;

	if (snprintf(path, sizeof(path), "%s/%s", d.state_dir, HRPCD_FDSTORE_SOCKET) >= 108)
		exit(1);
	snprintf(endpoint, sizeof(endpoint), "%s/vm.ivshmem", d.dir);
	if (pipe2(rep, O_CLOEXEC) < 0)
		exit(1);
	fcntl(rep[0], F_SETFL, O_NONBLOCK);
	fake = fake_holder(path, uid, pid_delta, rep[1]);
	itest_kill_on_bailout(fake);
	for (int i = 0; i < 200 && !got; i++) {
		struct pollfd pf = { .fd = rep[0], .events = POLLIN };

		if (poll(&pf, 1, 25) == 1)
			got = drain(rep[0], 'R');
	}
	rc = itest_daemon_restart(&d, args);
	tap_ok(rc == 0 && itest_log_wait(&d, 5000, "is not an fd holder", NULL),
	       "%s: the daemon starts and logs that it refuses the impostor", what);
	/* A trusted holder is sent the endpoint's listening socket at once;
	 * give a wrong decision time to show. */
	rc = itest_qemu_attach(endpoint, "vm", &q, &c);
	if (rc == 0)
		rc = itest_echo_workload(c, 3, 50, 2);
	tap_ok(rc == 0, "%s: a QEMU attached meanwhile is served without a holder (%s)", what,
	       strerror(-rc));
	usleep(300 * 1000);
	got = drain(rep[0], 'F');
	tap_ok(got == 0, "%s: the impostor was handed no descriptor (%d)", what, got);
	if (c)
		hrpc_client_free(c);
	itest_qemu_disconnect(&q);
	itest_daemon_kill(&d, SIGTERM);
	kill(fake, SIGKILL);
	waitpid(fake, NULL, 0);
	close(rep[0]);
	close(rep[1]);
}

int main(void)
{
	static const char *const none[] = { "--no-fdstore", NULL };

	itest_watchdog(60);
	tap_plan(7);
	/* A first start only makes the directories. */
	tap_ok(itest_daemon_start(&d, none) == 0 && itest_daemon_kill(&d, SIGTERM) >= 0,
	       "hostrpcd starts (state directory made)");
	one_case("same uid, HELLO names another pid", 0, 100000);
	if (geteuid() != 0) {
		for (int i = 0; i < 3; i++)
			tap_ok(1, "# SKIP another uid needs root to set up");
	} else {
		one_case("uid nobody, honest pid", NOBODY, 0);
	}
	itest_daemon_stop(&d);
	return tap_done();
}
