/* SPDX-License-Identifier: MIT */
/*
 * test-qmp - the QMP client (migrate/qmp.h) drives real QEMU 7.2 processes
 * (TCG, 64 MiB, no devices) through the migrations hostrpc-migrate makes:
 *
 *   1. a paused (-S) source to a -S destination (-incoming defer), held at
 *      pre-switchover (seen by polling and by the MIGRATION event), then
 *      continued: the destination stays paused until `cont`;
 *   2. the same from a running source;
 *   3. migrate_cancel at pre-switchover, from a running source (it runs
 *      again by itself) and from a paused one (it needs `cont`); the
 *      destination QEMU exits either way;
 *   4. errors: a failed migration, QEMU's error replies, bad arguments,
 *      missing sockets, timeouts with a late reply, QEMU killed mid-call or
 *      quitting, and a fake peer that sends what QEMU never would.
 *
 * Times are printed as TAP comments.  Every QEMU is killed at exit (and by
 * PR_SET_PDEATHSIG if the test dies); they live in a private directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migrate/qmp.h"
#include "tests/tap.h"

#define T_MS 10000 /* for any one QMP step; TCG on a loaded 2-core host */

static char dir[] = "/tmp/test-qmp-XXXXXX";
static const char *qemu_bin = "qemu-system-x86_64";
static pid_t pids[16];
static char err[512];

struct vm {
	pid_t pid;
	char sock[300];
	qmp *q;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void kill_all(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(pids); i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
}

static void cleanup(void)
{
	kill_all();
	if (!getenv("TEST_QMP_KEEP")) {
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			tap_diag("could not remove %s", dir);
	}
}

static void on_alarm(int sig)
{
	static const char msg[] = "Bail out! watchdog\n";

	for (size_t i = 0; i < G_N_ELEMENTS(pids); i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static void track(pid_t pid)
{
	for (size_t i = 0; i < G_N_ELEMENTS(pids); i++)
		if (pids[i] <= 0) {
			pids[i] = pid;
			return;
		}
	abort(); /* a test bug: more processes than slots */
}

/* Reap `pid` if it exited within `timeout_ms`: its wait status, or -1. */
static int reap(pid_t pid, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	int st;

	do {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r < 0)
			return -1; /* not ours, or reaped already */
		if (r == pid) {
			for (size_t i = 0; i < G_N_ELEMENTS(pids); i++)
				if (pids[i] == pid)
					pids[i] = 0;
			return st;
		}
		usleep(10000);
	} while (now_ms() < end);
	return -1;
}

/* Start QEMU called `name` and connect to its QMP socket.  0 or -errno. */
static int vm_start(struct vm *vm, const char *name, bool paused, bool incoming)
{
	g_autofree char *qmparg = NULL, *log = g_strdup_printf("%s/%s.log", dir, name);
	const char *argv[20];
	pid_t parent = getpid();
	long long end;
	int n = 0, r;

	memset(vm, 0, sizeof(*vm));
	snprintf(vm->sock, sizeof(vm->sock), "%s/%s.qmp", dir, name);
	qmparg = g_strdup_printf("unix:%s,server=on,wait=off", vm->sock);
	argv[n++] = qemu_bin;
	argv[n++] = "-accel";
	argv[n++] = "tcg";
	argv[n++] = "-M";
	argv[n++] = "pc";
	argv[n++] = "-m";
	argv[n++] = "64";
	argv[n++] = "-nodefaults";
	argv[n++] = "-display";
	argv[n++] = "none";
	if (paused)
		argv[n++] = "-S";
	argv[n++] = "-qmp";
	argv[n++] = qmparg;
	if (incoming) {
		argv[n++] = "-incoming";
		argv[n++] = "defer";
	}
	argv[n] = NULL;

	vm->pid = fork();
	if (vm->pid < 0)
		return -errno;
	if (vm->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		if (getppid() != parent)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	track(vm->pid);
	/* The socket appears once QEMU is up: connect until it answers. */
	end = now_ms() + T_MS;
	do {
		r = qmp_open(vm->sock, T_MS, &vm->q, err, sizeof(err));
		if (r != -ENOENT && r != -ECONNREFUSED)
			break;
		usleep(20000);
	} while (now_ms() < end && reap(vm->pid, 0) < 0);
	if (r < 0)
		tap_diag("%s: %s (log: %s)", name, err, log);
	return r;
}

static void vm_stop(struct vm *vm)
{
	qmp_close(vm->q);
	vm->q = NULL;
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		reap(vm->pid, T_MS);
	}
	vm->pid = 0;
}

/* query-status: the run state into `state`, and whether it runs. */
static bool run_state(qmp *q, char *state, size_t len)
{
	g_autoptr(JsonNode) ret = NULL;
	JsonObject *o;

	*state = 0;
	if (qmp_call(q, "query-status", NULL, &ret, T_MS, err, sizeof(err)) < 0 ||
	    !JSON_NODE_HOLDS_OBJECT(ret)) {
		tap_diag("query-status: %s", err);
		snprintf(state, len, "(none)");
		return false;
	}
	o = json_node_get_object(ret);
	snprintf(state, len, "%s", json_object_get_string_member_with_default(o, "status", "?"));
	return json_object_get_boolean_member_with_default(o, "running", false);
}

static bool state_is(qmp *q, const char *want_state, bool want_running)
{
	char state[64];
	bool running = run_state(q, state, sizeof(state));

	if (strcmp(state, want_state) || running != want_running) {
		tap_diag("run state %s, running %d; expected %s, %d", state, running,
			 want_state, want_running);
		return false;
	}
	return true;
}

/* How often query-migrate said "completed" before QEMU had its totals
 * (qmp_wait_migration() waits those out). */
static int early_completed;

static void show(const struct qmp_migrate_info *mi, void *arg)
{
	if (!strcmp(mi->status, "completed") && mi->ram_total && !mi->total_time_ms)
		early_completed++;
	if (getenv("TEST_QMP_VERBOSE"))
		tap_diag("%s: %s %llu/%llu bytes, %llu remaining", (const char *)arg, mi->status,
			 (unsigned long long)mi->ram_transferred,
			 (unsigned long long)mi->ram_total,
			 (unsigned long long)mi->ram_remaining);
}

/* A MIGRATION event with `status` among those queued or coming. */
static bool saw_migration_event(qmp *q, const char *status)
{
	for (;;) {
		g_autoptr(JsonNode) data = NULL;
		JsonObject *o;

		if (qmp_wait_event(q, "MIGRATION", T_MS, &data) < 0 || !data ||
		    !JSON_NODE_HOLDS_OBJECT(data))
			return false;
		o = json_node_get_object(data);
		if (!g_strcmp0(json_object_get_string_member_with_default(o, "status", ""), status))
			return true;
	}
}

/* Capabilities on the source, listen on the destination, migrate, wait for
 * pre-switchover.  Returns the time `migrate` was sent, or -1. */
static long long migrate_to_switchover(struct vm *src, struct vm *dst, const char *uri)
{
	struct qmp_migrate_info mi;
	long long t0;
	int r;

	r = qmp_call(src->q, "migrate-set-capabilities",
		     "{\"capabilities\": ["
		     "{\"capability\": \"pause-before-switchover\", \"state\": true},"
		     "{\"capability\": \"events\", \"state\": true}]}",
		     NULL, T_MS, err, sizeof(err));
	if (r == 0)
		r = qmp_callf(dst->q, "migrate-incoming", NULL, T_MS, err, sizeof(err),
			      "{\"uri\": %s}", uri);
	t0 = now_ms();
	if (r == 0)
		r = qmp_callf(src->q, "migrate", NULL, T_MS, err, sizeof(err), "{\"uri\": %s}", uri);
	if (r == 0)
		r = qmp_wait_migration(src->q, "pre-switchover", 6 * T_MS, 10, show, "src",
				       &mi, err, sizeof(err));
	if (r < 0) {
		tap_diag("to pre-switchover: %s", err);
		return -1;
	}
	return t0;
}

/* Case 1 and 2: held at pre-switchover, continued; the destination stays
 * paused (-S) until `cont`. */
static void migrate_and_continue(bool src_paused)
{
	const char *what = src_paused ? "paused source" : "running source";
	g_autofree char *uri = g_strdup_printf("unix:%s/mig-%d.sock", dir, src_paused);
	struct vm src, dst;
	struct qmp_migrate_info mi, dmi;
	long long t0, t_cont, t_done;
	int r;

	tap_ok(vm_start(&src, src_paused ? "src1" : "src2", src_paused, false) == 0 &&
	       vm_start(&dst, src_paused ? "dst1" : "dst2", true, true) == 0,
	       "%s: source and destination QEMU answer QMP", what);
	if (!src_paused)
		tap_ok(state_is(src.q, "running", true), "%s: the source runs before", what);

	t0 = migrate_to_switchover(&src, &dst, uri);
	tap_ok(t0 >= 0, "%s: migrate holds at pre-switchover (query-migrate)", what);
	if (src_paused)
		tap_ok(saw_migration_event(src.q, "pre-switchover"),
		       "%s: the MIGRATION event says pre-switchover too", what);
	tap_ok(state_is(src.q, "finish-migrate", false),
	       "%s: at pre-switchover the source is stopped (finish-migrate)", what);
	tap_ok(state_is(dst.q, "inmigrate", false),
	       "%s: at pre-switchover the destination does not run (inmigrate)", what);

	t_cont = now_ms();
	r = qmp_callf(src.q, "migrate-continue", NULL, T_MS, err, sizeof(err),
		      "{\"state\": %s}", "pre-switchover");
	if (r == 0)
		r = qmp_wait_migration(src.q, "completed", 6 * T_MS, 10, show, "src",
				       &mi, err, sizeof(err));
	t_done = now_ms();
	tap_ok(r == 0 && mi.ram_total >= 64 << 20 && mi.total_time_ms > 0 && mi.downtime_ms > 0,
	       "%s: migrate-continue, then completed with totals (%s)", what, r ? err : "ok");
	tap_diag("%s: migrate-continue -> completed %lld ms; migrate -> completed %lld ms",
		 what, t_done - t_cont, t_done - t0);
	tap_diag("%s: QEMU says total-time %llu ms, downtime %llu ms (from the stop before "
		 "pre-switchover), setup %llu ms, %llu of %llu bytes of RAM sent", what,
		 (unsigned long long)mi.total_time_ms, (unsigned long long)mi.downtime_ms,
		 (unsigned long long)mi.setup_time_ms, (unsigned long long)mi.ram_transferred,
		 (unsigned long long)mi.ram_total);

	tap_diag("%s: \"completed\" without totals seen %d times so far", what, early_completed);

	r = qmp_wait_migration(dst.q, "completed", T_MS, 10, NULL, NULL, &dmi, err, sizeof(err));
	tap_ok(r == 0, "%s: the destination's query-migrate says completed", what);
	/* The destination takes the source's run state: prelaunch from a -S
	 * source, paused from a running one (as it has -S; without -S it
	 * would run at once). */
	tap_ok(state_is(src.q, "postmigrate", false) &&
	       state_is(dst.q, src_paused ? "prelaunch" : "paused", false),
	       "%s: source postmigrate, destination %s until cont", what,
	       src_paused ? "prelaunch" : "paused");
	r = qmp_call(dst.q, "cont", NULL, NULL, T_MS, err, sizeof(err));
	tap_ok(r == 0 && state_is(dst.q, "running", true), "%s: cont makes the destination run",
	       what);
	vm_stop(&src);
	vm_stop(&dst);
}

/* Case 3: migrate_cancel at pre-switchover. */
static void cancel_at_switchover(bool src_paused)
{
	const char *what = src_paused ? "cancel, paused source" : "cancel, running source";
	g_autofree char *uri = g_strdup_printf("unix:%s/cancel-%d.sock", dir, src_paused);
	struct vm src, dst;
	struct qmp_migrate_info mi;
	int r, st;

	r = vm_start(&src, src_paused ? "src3" : "src4", src_paused, false);
	if (r == 0)
		r = vm_start(&dst, src_paused ? "dst3" : "dst4", true, true);
	tap_ok(r == 0 && migrate_to_switchover(&src, &dst, uri) >= 0,
	       "%s: held at pre-switchover", what);
	r = qmp_call(src.q, "migrate_cancel", NULL, NULL, T_MS, err, sizeof(err));
	if (r == 0)
		r = qmp_wait_migration(src.q, "cancelled", T_MS, 10, NULL, NULL, &mi, err,
				       sizeof(err));
	tap_ok(r == 0, "%s: migrate_cancel -> cancelled", what);
	if (src_paused) {
		tap_ok(state_is(src.q, "postmigrate", false),
		       "%s: the source stays stopped (postmigrate)", what);
		r = qmp_call(src.q, "cont", NULL, NULL, T_MS, err, sizeof(err));
		tap_ok(r == 0 && state_is(src.q, "running", true), "%s: cont makes it run", what);
	} else {
		tap_ok(state_is(src.q, "running", true), "%s: the source runs again by itself",
		       what);
	}
	/* The incoming side cannot be reused: its stream broke. */
	st = reap(dst.pid, T_MS);
	if (st != -1)
		dst.pid = 0;
	tap_ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	       "%s: the destination QEMU exited with status 1", what);
	vm_stop(&src);
	vm_stop(&dst);
}

/*
 * A peer that is not QEMU: greets with `greeting`, answers qmp_capabilities,
 * then answers the next command with `reply` (written as it is, "%ID%"
 * replaced by the command's id; big = a 2 MiB line).  Returns the socket.
 */
static int fake_peer(const char *name, const char *greeting, const char *reply, bool big)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		FILE *f;
		char line[4096];
		int fd = accept(lfd, NULL, NULL);

		signal(SIGPIPE, SIG_IGN);
		if (fd < 0 || !(f = fdopen(fd, "r+")))
			_exit(1);
		fprintf(f, "%s\r\n", greeting);
		for (int n = 0; n < 2 && fgets(line, sizeof(line), f); n++) {
			const char *id = strstr(line, "\"id\"");
			long long v = id ? strtoll(strchr(id, ':') + 1, NULL, 10) : 0;
			g_autofree char *ids = g_strdup_printf("%lld", v);
			g_auto(GStrv) parts = g_strsplit(n ? reply : "{\"return\": {}, \"id\": %ID%}",
							 "%ID%", -1);
			g_autofree char *text = g_strjoinv(ids, parts);

			fputs(text, f);
			if (n && big)
				for (int i = 0; i < 2048; i++)
					fprintf(f, "%01024d", 0);
			fputs("\r\n", f);
			fflush(f);
		}
		while (fgets(line, sizeof(line), f))
			; /* until the client closes */
		_exit(0);
	}
	close(lfd);
	track(pid);
	return 0;
}

static void fake_peers(void)
{
	static const char qemu_greeting[] = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}";
	g_autofree char *p1 = g_strdup_printf("%s/big", dir);
	g_autofree char *p2 = g_strdup_printf("%s/garbage", dir);
	g_autofree char *p3 = g_strdup_printf("%s/nogreet", dir);
	g_autofree char *p4 = g_strdup_printf("%s/eventfirst", dir);
	g_autoptr(qmp) q1 = NULL, q2 = NULL, q3 = NULL, q4 = NULL;
	g_autoptr(JsonNode) data = NULL;
	int r1, r2, r3, r4;

	r1 = fake_peer("big", qemu_greeting, "{\"return\": \"", true);
	if (r1 == 0)
		r1 = qmp_open(p1, T_MS, &q1, err, sizeof(err));
	if (r1 == 0)
		r1 = qmp_call(q1, "query-status", NULL, NULL, T_MS, err, sizeof(err));
	r2 = q1 ? qmp_call(q1, "query-status", NULL, NULL, T_MS, err, sizeof(err)) : 0;
	tap_ok(r1 == -EMSGSIZE && r2 == -EMSGSIZE,
	       "fake peer: a 2 MiB line gives -EMSGSIZE, and so does the next call (%d, %d)",
	       r1, r2);

	r1 = fake_peer("garbage", qemu_greeting, "this is not JSON {\"id\": %ID%", false);
	if (r1 == 0)
		r1 = qmp_open(p2, T_MS, &q2, err, sizeof(err));
	if (r1 == 0)
		r1 = qmp_call(q2, "query-status", NULL, NULL, T_MS, err, sizeof(err));
	tap_ok(r1 == -EPROTO, "fake peer: a line that is not JSON gives -EPROTO (%d)", r1);

	r3 = fake_peer("nogreet", "{\"return\": {}}", "", false);
	if (r3 == 0)
		r3 = qmp_open(p3, T_MS, &q3, err, sizeof(err));
	tap_ok(r3 == -EPROTO && !q3, "fake peer: no QMP greeting gives -EPROTO (%d: %s)", r3, err);

	/* An event before the reply, a stale reply (another id) and one that
	 * is not for us at all: the call gets its own, the event is queued. */
	r4 = fake_peer("eventfirst", qemu_greeting,
		       "{\"event\": \"STOP\"}\r\n{\"return\": 1, \"id\": 12345}\r\n"
		       "{\"return\": 2}\r\n{\"return\": {\"status\": \"x\"}, \"id\": %ID%}", false);
	if (r4 == 0)
		r4 = qmp_open(p4, T_MS, &q4, err, sizeof(err));
	if (r4 == 0) {
		g_autoptr(JsonNode) ret = NULL;

		r4 = qmp_call(q4, "query-status", NULL, &ret, T_MS, err, sizeof(err));
		if (r4 == 0 && !JSON_NODE_HOLDS_OBJECT(ret))
			r4 = -EPROTO;
	}
	if (r4 == 0)
		r4 = qmp_wait_event(q4, "STOP", 0, &data);
	tap_ok(r4 == 0 && !data, "fake peer: replies matched by id, the event kept (%d)", r4);
}

static void errors(void)
{
	g_autofree char *missing = g_strdup_printf("%s/missing.qmp", dir);
	g_autofree char *dead = g_strdup_printf("%s/dead.qmp", dir);
	g_autofree char *uri = g_strdup_printf("unix:%s/nobody.sock", dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct qmp_migrate_info mi;
	struct vm vm;
	qmp *q = NULL;
	int fd, r, r2, st;
	pid_t killer;

	tap_ok(vm_start(&vm, "err", true, false) == 0, "errors: QEMU answers QMP");

	r = qmp_callf(vm.q, "migrate", NULL, T_MS, err, sizeof(err), "{\"uri\": %s}", uri);
	if (r == 0)
		r = qmp_wait_migration(vm.q, "completed", T_MS, 10, NULL, NULL, &mi, err,
				       sizeof(err));
	tap_ok(r == -ECANCELED && !strcmp(mi.status, "failed") && *mi.error,
	       "errors: a migration to nowhere fails with its reason (%s)", err);

	r = qmp_call(vm.q, "no-such-command", NULL, NULL, T_MS, err, sizeof(err));
	tap_ok(r == -EIO && strstr(err, "CommandNotFound"),
	       "errors: an unknown command gives -EIO with its class (%s)", err);
	/* The quoting of %s survives a quote, a backslash and a tab:
	 * QEMU's message quotes the path it got. */
	r = qmp_callf(vm.q, "qom-list", NULL, T_MS, err, sizeof(err), "{\"path\": %s}",
		      "/no\"such\\path\t");
	tap_ok(r == -EIO && strstr(err, "/no\"such\\path\t"),
	       "errors: qmp_callf quotes strings (%s)", err);
	r = qmp_call(vm.q, "query-status", "[1, 2]", NULL, T_MS, err, sizeof(err));
	r2 = qmp_callf(vm.q, "query-status", NULL, T_MS, err, sizeof(err), "{\"x\": %f}", 1.0);
	tap_ok(r == -EINVAL && r2 == -EINVAL && state_is(vm.q, "prelaunch", false),
	       "errors: arguments that are not an object give -EINVAL; the handle still works");

	r = qmp_open(missing, T_MS, &q, err, sizeof(err));
	tap_ok(r == -ENOENT && !q, "errors: a socket that does not exist gives -ENOENT");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dead);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		tap_diag("bind %s: %s", dead, strerror(errno));
	close(fd); /* the file stays, nobody listens */
	r = qmp_open(dead, T_MS, &q, err, sizeof(err));
	tap_ok(r == -ECONNREFUSED && !q, "errors: a socket nobody listens on gives -ECONNREFUSED");

	r = qmp_wait_event(vm.q, "NO_SUCH_EVENT", 200, NULL);
	tap_ok(r == -ETIMEDOUT, "errors: waiting for an event that never comes gives -ETIMEDOUT");
	/* A QEMU that does not answer in time; its late reply must not be
	 * taken for the next call's. */
	kill(vm.pid, SIGSTOP);
	r = qmp_call(vm.q, "query-kvm", NULL, NULL, 300, err, sizeof(err));
	kill(vm.pid, SIGCONT);
	tap_ok(r == -ETIMEDOUT && state_is(vm.q, "prelaunch", false),
	       "errors: a call QEMU does not answer gives -ETIMEDOUT; its late reply is dropped");

	/* Killed while a call waits (it is stopped, so the call is waiting). */
	kill(vm.pid, SIGSTOP);
	killer = fork();
	if (killer == 0) {
		usleep(300000);
		kill(vm.pid, SIGKILL);
		_exit(0);
	}
	r = qmp_call(vm.q, "query-status", NULL, NULL, T_MS, err, sizeof(err));
	r2 = qmp_call(vm.q, "query-status", NULL, NULL, T_MS, err, sizeof(err));
	waitpid(killer, NULL, 0);
	tap_ok(r == -ECONNRESET && r2 == -ECONNRESET,
	       "errors: QEMU killed mid-call gives -ECONNRESET, and so does the next call (%s)",
	       err);
	vm_stop(&vm);

	r = vm_start(&vm, "quit", true, false);
	if (r == 0)
		r = qmp_call(vm.q, "quit", NULL, NULL, T_MS, err, sizeof(err));
	r2 = r == 0 ? qmp_call(vm.q, "query-status", NULL, NULL, T_MS, err, sizeof(err)) : 0;
	if ((st = reap(vm.pid, T_MS)) != -1)
		vm.pid = 0;
	tap_ok(r == 0 && r2 == -ECONNRESET && st == 0,
	       "errors: quit answers, then the socket closes: -ECONNRESET (%d, %d)", r, r2);
	vm_stop(&vm);

	fake_peers();
}

int main(void)
{
	const char *bin = getenv("QEMU");
	g_autofree char *path = NULL;

	if (bin)
		qemu_bin = bin;
	path = g_find_program_in_path(qemu_bin);
	if (!path)
		tap_skip_all("%s not found (Debian: qemu-system-x86)", qemu_bin);
	if (!mkdtemp(dir))
		tap_skip_all("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	signal(SIGALRM, on_alarm);
	alarm(300);

	tap_plan(42);
	migrate_and_continue(true);
	migrate_and_continue(false);
	cancel_at_switchover(false);
	cancel_at_switchover(true);
	errors();
	return tap_done();
}
