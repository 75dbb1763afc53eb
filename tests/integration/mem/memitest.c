/* SPDX-License-Identifier: MIT */
/* memitest.c - shared pieces of the memory integration tests (memitest.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "memitest.h"

int memitest_start(struct memitest *m, const char *conf, const char *const *extra)
{
	const char *args[8] = { NULL };
	char arg[300], path[300];
	FILE *f;
	int n = 0, rc, lock;

	/*
	 * A process guest is named guest-ID, so its region defaults to
	 * /dev/shm/hostrpc-mem-guest-ID - the default these tests mean to
	 * use.  Two of them at once (make -j) would have two daemons' guests
	 * claim the same files ("in use by another worker"): one at a time.
	 * The lock is held until the test exits (the descriptor is never
	 * closed; it is not inherited by hostrpcd, O_CLOEXEC).
	 */
	lock = open("/dev/shm/hostrpc-mem-itest.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		tap_diag("cannot take /dev/shm/hostrpc-mem-itest.lock (%s): running unserialised",
			 strerror(errno));

	snprintf(m->pol, sizeof(m->pol), "%s/hostrpc-mem.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(m->pol))
		return -errno;
	snprintf(path, sizeof(path), "%s/default.conf", m->pol);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(conf, f);
	fclose(f);
	snprintf(arg, sizeof(arg), "--mem-policy-dir=%s", m->pol);
	args[n++] = arg;
	for (int i = 0; extra && extra[i] && n < 7; i++)
		args[n++] = extra[i];
	rc = itest_daemon_start(&m->d, args);
	if (rc < 0) {
		tap_diag("hostrpcd did not start: %s", strerror(-rc));
		itest_log_dump(&m->d);
	}
	return rc;
}

void memitest_stop(struct memitest *m)
{
	char path[300];

	if (itest_daemon_stop(&m->d) != 0)
		tap_diag("hostrpcd did not stop cleanly");
	snprintf(path, sizeof(path), "%s/default.conf", m->pol);
	unlink(path);
	rmdir(m->pol);
}

int memitest_call(hrpc_client *c, uint16_t proc, const void *req, uint32_t len, void *rep,
		  uint32_t rep_cap)
{
	struct hrpc_call call = {
		.service = HRPC_SVC_MEM, .proc = proc, .req = req, .req_len = len,
		.rep = rep, .rep_cap = rep_cap, .timeout_ms = 5000,
	};

	return hrpc_client_call(c, &call);
}

int memitest_ctl(const struct memitest *m, const char *args, char *out, size_t cap)
{
	char cmd[1024];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s --admin-socket %s memory %s 2>&1",
		 itest_build_path("hostrpc/daemon/hostrpcctl"), m->d.admin_sock, args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	return pclose(p);
}
