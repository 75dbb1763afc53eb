/* SPDX-License-Identifier: MIT */
/*
 * worker-sandboxed - hostrpcd's workers are confined (sandbox.h): two
 * process guests and one ivshmem guest each get a worker that runs with
 * no_new_privs, a seccomp filter, no capabilities at all, a uid and gid of
 * its own (not root, not the daemon's, not another guest's), and a mount
 * namespace of its own in which the daemon's sockets, the fd holder and the
 * other guests' listings and audit logs do not exist.  The guests are
 * still served (echo, checked byte for byte).  A guest whose socket policy
 * names a network namespace has its worker in that namespace, entered
 * before the worker gave up the capability setns() needs.  The filter
 * itself is tested by worker-seccomp-filter.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/tap.h"
#include "itest.h"

#define N 3

static struct itest_daemon d;

/* "Field:\tvalue" of /proc/PID/status, first word of the value. */
static bool status_field(pid_t pid, const char *field, char *out, size_t len)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, fl) || line[fl] != ':')
			continue;
		found = sscanf(line + fl + 1, " %255s", out) == 1;
		(void)len;
	}
	if (f)
		fclose(f);
	return found;
}

static bool status_is(pid_t pid, const char *field, const char *want)
{
	char v[256] = "";

	return status_field(pid, field, v, sizeof(v)) && !strcmp(v, want);
}

/* Real, effective, saved uid (or gid) all equal: the first of them. */
static long id_of(pid_t pid, const char *field)
{
	char path[64], line[256];
	long r = -1, e = -2, s = -3;
	size_t fl = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':')
			sscanf(line + fl + 1, "%ld %ld %ld", &r, &e, &s);
	if (f)
		fclose(f);
	return r == e && e == s ? r : -1;
}

static bool ns_of_kind(pid_t pid, const char *kind, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kind);
	n = readlink(path, out, len - 1);
	if (n < 0)
		return false;
	out[n] = 0;
	return true;
}

static bool ns_of(pid_t pid, char *out, size_t len)
{
	return ns_of_kind(pid, "mnt", out, len);
}

/* A process sitting in a fresh network namespace: guest 2's. */
static pid_t netns_holder(void)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* Does `path` exist as the worker `pid` sees it? */
static bool visible_to(pid_t pid, const char *path)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, path);
	return lstat(p, &st) == 0;
}

/* Entries of `dir` in the worker's view that do not start with `prefix`. */
static int foreign_entries(pid_t pid, const char *dir, const char *prefix)
{
	char p[1024];
	struct dirent *e;
	int n = 0;
	DIR *dh;

	snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, dir);
	dh = opendir(p);
	if (!dh)
		return -1;
	while ((e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strncmp(e->d_name, prefix, strlen(prefix))) {
			tap_diag("worker %d sees %s/%s", (int)pid, dir, e->d_name);
			n++;
		}
	}
	closedir(dh);
	return n;
}

int main(void)
{
	char conf[64] = "/tmp/worker-sandboxed.XXXXXX";
	const char *const extra[] = { "--ivshmem", "vm-s=@DIR@/vm-s.sock",
				      "--sock-policy-dir", conf, NULL };
	const char *names[N] = { "sbx-a", "sbx-b", "vm-s" };
	hrpc_client *cli[N] = { NULL };
	struct hrpc_admin_guest g[N];
	struct itest_qemu q;
	bool qemu_up = false;
	pid_t w[N] = { 0 };
	long uid[N], gid[N];
	char path[600], ns[N][64], dns[64];
	char net_want[64] = "", net_w[64] = "";
	pid_t holder;
	FILE *f;
	bool ok;
	int rc;

	if (geteuid() != 0)
		tap_skip_all("hostrpcd confines its workers fully only as root (uid, mounts)");
	tap_plan(15);
	itest_watchdog(90);
	/* Guest 2 (a process guest is "guest-2" until its HELLO) gets a
	 * policy with a network namespace of its own. */
	holder = netns_holder();
	if (holder <= 0 || !mkdtemp(conf))
		tap_skip_all("cannot make a network namespace or a directory");
	itest_kill_on_bailout(holder);
	snprintf(path, sizeof(path), "%s/guest-2.conf", conf);
	f = fopen(path, "w");
	fprintf(f, "netns /proc/%d/ns/net\n", (int)holder);
	fclose(f);
	rc = itest_daemon_start(&d, extra);
	if (rc < 0) {
		printf("Bail out! hostrpcd did not start: %s\n", strerror(-rc));
		return 1;
	}
	rc = itest_guest_connect(d.guest_sock, names[0], &cli[0]);
	if (!rc)
		rc = itest_guest_connect(d.guest_sock, names[1], &cli[1]);
	snprintf(path, sizeof(path), "%s/vm-s.sock", d.dir);
	if (!rc) {
		rc = itest_qemu_attach(path, names[2], &q, &cli[2]);
		qemu_up = !rc;
	}
	ok = !rc;
	for (int i = 0; i < N && ok; i++) {
		ok = itest_echo_workload(cli[i], 11 + i, 20, 2) == 0 &&
		     itest_admin_find(d.admin_sock, names[i], &g[i]) == 0 && g[i].worker_pid;
		w[i] = ok ? (pid_t)g[i].worker_pid : 0;
	}
	tap_ok(ok, "two process guests and an ivshmem guest served by confined workers "
	       "(echo checked; workers %d %d %d)", w[0], w[1], w[2]);
	if (!ok) {
		itest_log_dump(&d);
		goto out;
	}

	ok = true;
	for (int i = 0; i < N; i++)
		ok = ok && status_is(w[i], "NoNewPrivs", "1");
	tap_ok(ok, "every worker has NoNewPrivs: 1");
	ok = true;
	for (int i = 0; i < N; i++)
		ok = ok && status_is(w[i], "Seccomp", "2");
	tap_ok(ok, "every worker runs under a seccomp filter (Seccomp: 2)");
	ok = true;
	for (int i = 0; i < N; i++)
		ok = ok && status_is(w[i], "CapEff", "0000000000000000") &&
		     status_is(w[i], "CapPrm", "0000000000000000") &&
		     status_is(w[i], "CapInh", "0000000000000000") &&
		     status_is(w[i], "CapAmb", "0000000000000000");
	tap_ok(ok, "no worker has a capability: effective, permitted, inheritable, ambient");
	ok = true;
	for (int i = 0; i < N; i++)
		ok = ok && status_is(w[i], "CapBnd", "0000000000000000");
	tap_ok(ok, "and none can regain one: bounding set empty");

	for (int i = 0; i < N; i++) {
		uid[i] = id_of(w[i], "Uid");
		gid[i] = id_of(w[i], "Gid");
		tap_diag("worker %d (%s): uid %ld gid %ld", (int)w[i], names[i], uid[i], gid[i]);
	}
	ok = true;
	for (int i = 0; i < N; i++)
		ok = ok && uid[i] > 0 && gid[i] > 0 && uid[i] != id_of(d.pid, "Uid") &&
		     gid[i] != id_of(d.pid, "Gid");
	tap_ok(ok, "no worker runs as root or as the daemon (uid and gid, real = effective = saved)");
	tap_ok(uid[0] != uid[1] && uid[0] != uid[2] && uid[1] != uid[2] &&
	       gid[0] != gid[1] && gid[0] != gid[2] && gid[1] != gid[2],
	       "each guest's worker has a uid and gid of its own");

	ok = ns_of(d.pid, dns, sizeof(dns));
	for (int i = 0; i < N; i++)
		ok = ok && ns_of(w[i], ns[i], sizeof(ns[i])) && strcmp(ns[i], dns);
	/* One namespace for all workers, made once (sandbox.h): a worker's
	 * start and exit mount and unmount nothing. */
	tap_ok(ok && !strcmp(ns[0], ns[1]) && !strcmp(ns[0], ns[2]),
	       "every worker is in the workers' mount namespace, not the daemon's "
	       "(daemon %s, workers %s)", dns, ns[0]);

	snprintf(path, sizeof(path), "%s/fdstore.sock", d.state_dir);
	tap_ok(visible_to(d.pid, path) && !visible_to(w[0], path) && !visible_to(w[2], path),
	       "the fd holder's socket (every ivshmem guest's memory) does not exist for workers");
	tap_ok(!visible_to(w[0], d.admin_sock) && !visible_to(w[0], d.guest_sock) &&
	       !visible_to(w[0], d.log), "nor do the daemon's admin and guest sockets and its log");

	/* Workers start under the names guest-1, guest-2 (process guests,
	 * before HELLO) and vm-s; the supervisor writes their audit logs
	 * guest-N.sock.log in <state>/sock-audit.  No worker writes a file:
	 * hostrpcctl sockets asks the worker (worker-ctl.h). */
	snprintf(path, sizeof(path), "%s/sock-audit/guest-2.sock.log", d.state_dir);
	ok = itest_log_wait(&d, 0, "guest 2", NULL) && access(path, F_OK) == 0;
	snprintf(path, sizeof(path), "%s/sock-audit/guest-2.sockets", d.state_dir);
	ok = ok && access(path, F_OK) < 0;
	tap_ok(ok, "the host has guest 2's audit log in <state>/sock-audit, and no listing file");
	snprintf(path, sizeof(path), "%s/sock-audit", d.state_dir);
	rc = foreign_entries(w[0], path, "\x01");
	tap_ok(rc <= 0, "guest 1's worker sees nothing there: no other guest's log, not its "
	       "own (%d entries)", rc);
	rc = foreign_entries(w[2], path, "\x01");
	tap_ok(rc <= 0, "the same for the ivshmem guest's worker (%d entries)", rc);
	tap_ok(!itest_log_wait(&d, 0, "cannot confine", NULL),
	       "no worker failed to confine itself");
	ok = ns_of_kind(holder, "net", net_want, sizeof(net_want)) &&
	     ns_of_kind(w[1], "net", net_w, sizeof(net_w)) && !strcmp(net_want, net_w) &&
	     ns_of_kind(w[0], "net", net_w, sizeof(net_w)) && strcmp(net_want, net_w);
	tap_ok(ok, "guest 2's worker lives in its policy's network namespace (%s), guest 1's "
	       "does not: entered before the worker dropped CAP_SYS_ADMIN", net_want);

out:
	for (int i = 0; i < N; i++)
		if (cli[i])
			hrpc_client_free(cli[i]);
	if (qemu_up)
		itest_qemu_disconnect(&q);
	rc = itest_daemon_stop(&d);
	if (rc != 0)
		tap_diag("hostrpcd stop: %d", rc);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	snprintf(path, sizeof(path), "%s/guest-2.conf", conf);
	unlink(path);
	rmdir(conf);
	return tap_done();
}
