/* SPDX-License-Identifier: MIT */
/*
 * guest-lifetime-churn - the supervisor's guest records, status pages and
 * GLib sources survive every order of QEMU detach, worker exit, channel
 * reset and daemon stop, while process guests come and go and hostrpcctl
 * asks about the guests by name and by id the whole time.
 *
 * One ivshmem endpoint ("vm") sees CYCLES successive fake QEMUs, each a
 * process of its own that ends in one of these ways (cycle % 6):
 *   0  powered off during calls (SIGKILL while pings are on the ring);
 *   1  the guest asks for a channel reset (its worker exits), QEMU leaves
 *      at once, while the fresh worker is still pending;
 *   2  a channel reset, the guest re-attaches to the fresh worker, then
 *      powers off;
 *   3  its worker is killed under calls, QEMU leaves at once;
 *   4  its worker is killed, the fresh worker serves, then power off -
 *      and the next QEMU connects at once, maybe before the daemon has
 *      seen the hang-up;
 *   5  the guest forges its ring index: the worker fences the channel and
 *      holds the fence for a second; the guest powers off before, during
 *      or after that hold.
 * Meanwhile a churner connects and drops process guests (some killed
 * mid-call) and a querier runs hostrpcctl list / stats / sockets vm
 * (the name lookup that used to free the whole guest table) in a loop.
 * The daemon must stay up, serve every QEMU, end with the descriptors,
 * mappings and roughly the memory it started with, and log nothing
 * critical; finally it is stopped with a QEMU attached and a worker
 * restart pending.  Built with --enable-sanitizers, the harness also fails
 * on any ASan/UBSan report of the daemon or a worker.
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
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/ring.h"
#include "tests/tap.h"
#include "itest.h"

#define CYCLES         42
#define WARMUP         5
#define MAPS_SLACK     8          /* lines of /proc/PID/maps */
#define RSS_SLACK_KB   (4 << 10)

static struct itest_daemon d;
static char ep_path[400];
static char *hostrpcctl;

/* ---- the supervisor, seen from outside ---------------------------------- */

static long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			kb = strtol(line + strlen(field), NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

static int maps_count(pid_t pid)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

static int log_count(const char *needle)
{
	char *log = itest_log(&d), *p = log;
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	free(log);
	return n;
}

/* The worker of the newest guest "vm" that is not stopping, once it is not
 * `old`; or 0. */
static uint32_t vm_worker(uint32_t old, int timeout_ms)
{
	static struct hrpc_admin_guest g[256];
	int n = 0;

	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		n = itest_admin_guests(d.admin_sock, g, 256);
		for (int i = n - 1; i >= 0; i--)
			if (!strcmp(g[i].name, "vm") && g[i].state != HRPC_ADMIN_STATE_STOPPING &&
			    g[i].worker_pid && g[i].worker_pid != old)
				return g[i].worker_pid;
		usleep(10000);
	}
	tap_diag("no worker for vm among %d guests:", n);
	for (int i = 0; i < n; i++)
		tap_diag("  guest %u %s worker %u state %u", g[i].guest_id, g[i].name,
			 g[i].worker_pid, g[i].state);
	return 0;
}

/* ---- helper processes ----------------------------------------------------- */

static void call_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
}

/* Put `n` pings on the ring and do not wait for the replies. */
static void pings_in_flight(hrpc_client *c, int n)
{
	static struct hrpc_call calls[64];
	static char req[64][256], rep[64][256];

	for (int i = 0; i < n && i < 64; i++) {
		memset(req[i], i, sizeof(req[i]));
		calls[i] = (struct hrpc_call){
			.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = req[i], .req_len = sizeof(req[i]),
			.rep = rep[i], .rep_cap = sizeof(rep[i]), .timeout_ms = 5000,
		};
		if (hrpc_client_call_async(c, &calls[i], call_done, NULL) < 0)
			break;
	}
}

/* What the guest's module does when it (re)probes a channel it used. */
static void ring_reset_request(struct itest_qemu *q)
{
	uint64_t one = 1;

	if (write(q->host_fd[HRPC_IVSHMEM_VEC_RESET], &one, sizeof(one)) != sizeof(one))
		_exit(21);
}

static void say(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(20);
}

/* One fake QEMU's life.  It tells the parent over `ready`: 'R' once its
 * first client was served, 'K' when its worker may be killed (calls are in
 * flight), 'D' when its own steps are done; then it waits to be powered
 * off (SIGKILL) - or, in order 1, leaves by itself. */
static int qemu_life(int cycle, int ready)
{
	struct itest_qemu q;
	hrpc_client *c = NULL;
	char name[32];

	snprintf(name, sizeof(name), "vm-cycle-%d", cycle);
	if (itest_qemu_attach(ep_path, name, &q, &c) < 0 ||
	    itest_echo_workload(c, (unsigned int)cycle, 50, 1) < 0)
		return 1;
	say(ready, 'R');
	switch (cycle % 6) {
	case 0:
		do
			pings_in_flight(c, 32);
		while (itest_echo_workload(c, 1, 10, 0) == 0);
		return 4;        /* the daemon failed us before the power-off */
	case 1:
		hrpc_client_free(c);
		ring_reset_request(&q);         /* the worker exits */
		itest_qemu_disconnect(&q);      /* and QEMU leaves at once */
		say(ready, 'D');
		return 0;
	case 2:
		hrpc_client_free(c);
		ring_reset_request(&q);
		if (itest_qemu_wait_vector(&q, HRPC_IVSHMEM_VEC_RESET, 10000) < 0 ||
		    itest_qemu_client(&q, name, &c) < 0 || itest_echo_workload(c, 2, 50, 1) < 0)
			return 2;
		break;
	case 3:
		break;
	case 5: {
		struct hrpc_shm_hdr *h = q.map;
		uint64_t one = 1;

		/* Three rings' worth of requests that are not there. */
		hrpc_store_release(&h->req.prod, hrpc_read_once(h->req.cons) + 3 * h->req_size);
		if (write(q.host_fd[HRPC_IVSHMEM_VEC_RING], &one, sizeof(one)) != sizeof(one))
			return 5;
		say(ready, 'D');
		pause();
		return 0;
	}
	default:
		pings_in_flight(c, 32);
		say(ready, 'K');
		/* The old channel died with its worker: its client is left
		 * alone (a BYE now would land on the fresh channel). */
		if (itest_qemu_wait_vector(&q, HRPC_IVSHMEM_VEC_RESET, 10000) < 0 ||
		    itest_qemu_client(&q, name, &c) < 0 || itest_echo_workload(c, 5, 50, 1) < 0)
			return 3;
		break;
	}
	pings_in_flight(c, 32);
	say(ready, 'D');
	pause();
	return 0;
}

static int stop_wr = -1;    /* the helpers stop when it closes */

static pid_t spawn(int (*fn)(int, int), int a, int b)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test */
		int rc;

		if (stop_wr >= 0)
			close(stop_wr);
		rc = fn(a, b);
		fflush(stdout);
		_exit(rc);
	}
	return pid;
}

/* Process guests connecting and leaving; every fourth is killed mid-call. */
static int churner(int unused, int stop_fd)
{
	struct pollfd p = { .fd = stop_fd, .events = POLLIN };
	unsigned int n = 0, failed = 0;

	while (poll(&p, 1, 0) == 0) {
		hrpc_client *c;
		char name[32];

		snprintf(name, sizeof(name), "churn-%u", n);
		if (n % 4 == 3) {
			pid_t k = fork();

			if (k == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (itest_guest_connect(d.guest_sock, name, &c) == 0)
					do
						pings_in_flight(c, 16);
					while (itest_echo_workload(c, n, 5, 0) == 0);
				_exit(1);
			}
			usleep(20000 + (n % 7) * 5000);
			kill(k, SIGKILL);
			waitpid(k, NULL, 0);
		} else if (itest_guest_connect(d.guest_sock, name, &c) < 0 ||
			   itest_echo_workload(c, n, 30, 1) < 0) {
			failed++;
		} else {
			hrpc_client_free(c);
		}
		n++;
	}
	printf("# churner: %u process guests, %u failed\n", n, failed);
	return failed ? 1 : 0;
}

static void ctl(const char *const *args)
{
	const char *argv[8] = { hostrpcctl, "--admin-socket", d.admin_sock };
	int n = 3, st;
	pid_t pid;

	for (int i = 0; args[i] && n < 7; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execv(hostrpcctl, (char **)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
}

/* hostrpcctl by name and by id, over and over. */
static int querier(int unused, int stop_fd)
{
	static const char *const queries[][4] = {
		{ "sockets", "vm", NULL }, { "list", NULL }, { "--json", "stats", NULL },
		{ "sockets", "churn-1", NULL }, { "sockets", "1", NULL }, { "stats", "vm", NULL },
	};
	struct pollfd p = { .fd = stop_fd, .events = POLLIN };
	unsigned int n = 0;

	while (poll(&p, 1, 10) == 0)
		ctl(queries[n++ % (sizeof(queries) / sizeof(queries[0]))]);
	printf("# querier: %u hostrpcctl runs\n", n);
	return 0;
}

/* ---- the test ------------------------------------------------------------- */

static bool run_cycle(int cycle, pid_t *prev)
{
	int pipefd[2];
	uint32_t w = 0;
	pid_t pid;
	char b = 0;
	bool ok;

	if (pipe(pipefd) < 0)
		return false;
	/* Order 4's QEMU powers off and the next one connects right away:
	 * its connection may be seen before the hang-up is. */
	if (*prev > 0) {
		kill(*prev, SIGKILL);
		waitpid(*prev, NULL, 0);
		*prev = 0;
	}
	pid = spawn(qemu_life, cycle, pipefd[1]);
	close(pipefd[1]);
	ok = read(pipefd[0], &b, 1) == 1 && b == 'R';
	if (!ok) {
		tap_diag("cycle %d: QEMU did not get served", cycle);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pipefd[0]);
		return false;
	}
	switch (cycle % 6) {
	case 5:          /* fenced: power off before, during or after the hold */
		ok = read(pipefd[0], &b, 1) == 1 && b == 'D';
		usleep(600000u * (unsigned int)(cycle % 3));
		break;
	case 0:          /* powered off during calls, after a moment */
		usleep(1000u * (unsigned int)(cycle % 20));
		break;
	case 3:          /* worker killed under calls, then QEMU leaves at once */
	case 4:          /* worker killed, the fresh one serves, then power off */
		ok = read(pipefd[0], &b, 1) == 1 && b == (cycle % 6 == 3 ? 'D' : 'K');
		w = ok ? vm_worker(0, 5000) : 0;
		if (!w || kill((pid_t)w, SIGKILL) < 0) {
			tap_diag("cycle %d: no worker to kill", cycle);
			ok = false;
		}
		if (cycle % 6 == 4)
			ok = ok && read(pipefd[0], &b, 1) == 1 && b == 'D';
		break;
	default:
		ok = read(pipefd[0], &b, 1) == 1 && b == 'D';
		break;
	}
	close(pipefd[0]);
	if (!ok)
		tap_diag("cycle %d (order %d) failed its own steps", cycle, cycle % 6);
	if (cycle % 6 == 4) {
		*prev = pid;     /* goes while the next QEMU attaches */
		return ok;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* The next QEMU comes after this one's hang-up was seen, as a real
	 * QEMU started after the last one exited would. */
	for (int i = 0; i < 500 && log_count("QEMU detached") <= cycle; i++)
		usleep(10000);
	return ok;
}

int main(void)
{
	static const char *const args[] = { "--ivshmem", "vm=@DIR@/vm.ivshmem", NULL };
	int stop_pipe[2], served = 0, fds0, fds, maps0 = 0, maps, rc;
	long rss0 = 0, rss;
	pid_t churn, query, prev = 0;
	struct hrpc_admin_guest g;
	int st_churn = -1, st_query = -1;

	itest_watchdog(600);
	tap_plan(11);
	/* Memory the sanitizer holds back (its quarantine) would read as
	 * growth; a small one still catches a use right after a free. */
	if (getenv("ASAN_OPTIONS")) {
		char opts[512];

		snprintf(opts, sizeof(opts), "%s:quarantine_size_mb=2", getenv("ASAN_OPTIONS"));
		setenv("ASAN_OPTIONS", opts, 1);
	}
	hostrpcctl = itest_build_path("hostrpc/daemon/hostrpcctl");
	rc = itest_daemon_start(&d, args);
	if (!tap_ok(rc == 0, "hostrpcd starts with an ivshmem endpoint"))
		return 1;
	snprintf(ep_path, sizeof(ep_path), "%s/vm.ivshmem", d.dir);
	fds0 = itest_fd_baseline(d.pid);

	if (pipe(stop_pipe) < 0)
		return 1;
	stop_wr = stop_pipe[1];
	churn = spawn(churner, 0, stop_pipe[0]);
	query = spawn(querier, 0, stop_pipe[0]);
	close(stop_pipe[0]);

	for (int cycle = 0; cycle < CYCLES && itest_daemon_alive(&d); cycle++) {
		if (run_cycle(cycle, &prev))
			served++;
		if (cycle == WARMUP - 1) {
			rss0 = proc_status_kb(d.pid, "VmRSS:");
			maps0 = maps_count(d.pid);
		}
	}
	if (prev > 0) {
		kill(prev, SIGKILL);
		waitpid(prev, NULL, 0);
	}
	for (int i = 0; i < 500 && log_count("QEMU detached") < CYCLES; i++)
		usleep(10000);
	tap_ok(served == CYCLES, "%d of %d successive QEMUs on one endpoint attached and were served",
	       served, CYCLES);
	tap_ok(log_count("QEMU detached") == CYCLES && log_count("(vm): fenced:") == CYCLES / 6,
	       "every QEMU's detach was seen (%d), every forged ring fenced (%d)",
	       log_count("QEMU detached"), log_count("(vm): fenced:"));

	close(stop_pipe[1]);
	waitpid(churn, &st_churn, 0);
	waitpid(query, &st_query, 0);
	tap_ok(WIFEXITED(st_churn) && WEXITSTATUS(st_churn) == 0,
	       "process guests connecting and leaving meanwhile were all served");
	tap_ok(itest_daemon_alive(&d) && WIFEXITED(st_query),
	       "hostrpcd's supervisor survived %d QEMU lives and the queries", CYCLES);

	/* All gone: no guest listed, descriptors and mappings as before. */
	for (int i = 0; i < 500 && itest_admin_guests(d.admin_sock, &g, 1) != 0; i++)
		usleep(10000);
	tap_ok(itest_admin_guests(d.admin_sock, &g, 1) == 0, "no guest is left listed");
	fds = itest_fd_held_wait(d.pid, fds0, 5000);
	if (!tap_ok(fds == fds0, "the supervisor's descriptors are back to %d (%d)", fds0, fds))
		itest_fd_dump(d.pid);
	maps = maps_count(d.pid);
	rss = proc_status_kb(d.pid, "VmRSS:");
	tap_ok(maps0 > 0 && maps <= maps0 + MAPS_SLACK,
	       "mappings flat: %d after the warm-up, %d at the end (a status page per guest "
	       "would add %d)", maps0, maps, CYCLES - WARMUP);
	tap_ok(rss0 > 0 && rss <= rss0 + RSS_SLACK_KB,
	       "memory flat: RSS %ld KiB after the warm-up, %ld KiB after %d more QEMUs",
	       rss0, rss, CYCLES - WARMUP);
	tap_ok(!log_count(": critical:") && !log_count("runtime check failed"),
	       "nothing critical and no failed runtime check logged");

	/* Stop with a QEMU attached and its worker's restart pending. */
	{
		struct itest_qemu q;
		hrpc_client *c = NULL;
		uint32_t w;

		rc = itest_qemu_attach(ep_path, "vm-last", &q, &c);
		w = rc == 0 ? vm_worker(0, 5000) : 0;
		if (w)
			kill((pid_t)w, SIGKILL);
		itest_pid_gone((pid_t)w, 2000);
		rc = itest_daemon_stop(&d);
		if (!tap_ok(rc == 0 && w,
			    "hostrpcd stops cleanly with a QEMU attached and a worker restart pending "
			    "(status %d)", rc))
			itest_log_dump(&d);
		if (c)
			hrpc_client_free(c);
		itest_qemu_disconnect(&q);
	}
	free(hostrpcctl);
	return tap_done();
}
