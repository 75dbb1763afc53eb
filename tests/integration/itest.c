/* SPDX-License-Identifier: MIT */
/* itest.c - helpers for the integration tests (see itest.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/ring.h"
#include "tests/tap.h"
#include "itest.h"

#define MAX_DAEMONS 4
#define CALL_TIMEOUT_MS 10000

static volatile pid_t daemons[MAX_DAEMONS];

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void on_alarm(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test took too long\n";

	for (int i = 0; i < MAX_DAEMONS; i++)
		if (daemons[i] > 0)
			kill(daemons[i], SIGKILL);
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

void itest_watchdog(unsigned int seconds)
{
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(seconds);
}

char *itest_build_path(const char *rel)
{
	const char *top = getenv("top_builddir");
	char *p;

	if (asprintf(&p, "%s/%s", top && *top ? top : ".", rel) < 0)
		abort();
	return p;
}

/* ---- the daemon --------------------------------------------------------- */

static int admin_hello(const char *path)
{
	hrpc_client *c;
	hrpc_chan *ch;
	int rc = hrpc_vport_connect(path, &ch);

	if (rc < 0)
		return rc;
	rc = hrpc_client_new(ch, "itest", 2000, &c);
	if (rc < 0)
		return rc;
	hrpc_client_free(c);
	return 0;
}

static char *subst_dir(const char *arg, const char *dir)
{
	const char *at = strstr(arg, "@DIR@");
	char *out;

	if (!at)
		return strdup(arg);
	if (asprintf(&out, "%.*s%s%s", (int)(at - arg), arg, dir, at + 5) < 0)
		abort();
	return out;
}

void itest_kill_on_bailout(pid_t pid)
{
	for (int i = 0; i < MAX_DAEMONS; i++) {
		if (!daemons[i]) {
			daemons[i] = pid;
			return;
		}
	}
}

/* Start hostrpcd on the sockets and directories in `d`. */
static int daemon_spawn(struct itest_daemon *d, const char *const *extra)
{
	char *argv[64];
	char *prog = itest_build_path("hostrpc/daemon/hostrpcd");
	int argc = 0, slot = -1;

	argv[argc++] = prog;
	argv[argc++] = "--foreground";
	argv[argc++] = "--verbose";
	argv[argc++] = "--socket";
	argv[argc++] = d->guest_sock;
	argv[argc++] = "--admin-socket";
	argv[argc++] = d->admin_sock;
	argv[argc++] = "--state-dir";
	argv[argc++] = d->state_dir;
	bool own_config = false;

	for (int i = 0; extra && extra[i] && argc < 60; i++) {
		own_config |= !strncmp(extra[i], "--config", 8) || !strcmp(extra[i], "-c");
		argv[argc++] = subst_dir(extra[i], d->dir);
	}
	/* Not the host's hostrpcd.conf: what a test says is all there is. */
	if (!own_config) {
		argv[argc++] = "--config";
		argv[argc++] = "/dev/null";
	}
	argv[argc] = NULL;

	for (int i = 0; i < MAX_DAEMONS; i++)
		if (!daemons[i])
			slot = i;
	/* make check-tsan (tests/tsan-run) sends reports to files of its own;
	 * a worker cannot write there (its uid, its mount namespace), so the
	 * daemon's go to its log, where itest_sanitizer_reports() looks. */
	static char tsan_env[1024];
	const char *tsan = getenv("TSAN_OPTIONS");

	if (tsan)
		snprintf(tsan_env, sizeof(tsan_env), "TSAN_OPTIONS=%s:log_path=stderr", tsan);
	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* Never outlive the test, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(127);
		if (tsan)
			putenv(tsan_env);   /* replaces the entry: no allocation after fork */
		execv(prog, argv);
		_exit(127);
	}
	if (slot >= 0)
		daemons[slot] = d->pid;
	free(prog);
	d->starts++;
	for (int i = 0; i < 200; i++) {
		int status;

		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			tap_diag("hostrpcd exited during start-up (wait status 0x%x)", status);
			itest_log_dump(d);
			d->pid = 0;
			return -ECHILD;
		}
		if (admin_hello(d->admin_sock) == 0)
			return 0;
		sleep_ms(50);
	}
	tap_diag("hostrpcd did not answer on %s", d->admin_sock);
	itest_log_dump(d);
	return -ETIMEDOUT;
}

int itest_daemon_start(struct itest_daemon *d, const char *const *extra)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/hostrpc-itest.XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->guest_sock, sizeof(d->guest_sock), "%s/guests.sock", d->dir);
	snprintf(d->admin_sock, sizeof(d->admin_sock), "%s/admin.sock", d->dir);
	snprintf(d->state_dir, sizeof(d->state_dir), "%s/state", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/hostrpcd.log", d->dir);
	return daemon_spawn(d, extra);
}

int itest_daemon_restart(struct itest_daemon *d, const char *const *extra)
{
	if (d->pid > 0)
		return -EBUSY;
	snprintf(d->log, sizeof(d->log), "%s/hostrpcd.%d.log", d->dir, d->starts + 1);
	return daemon_spawn(d, extra);
}

int itest_daemon_kill(struct itest_daemon *d, int sig)
{
	int status = -1;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	for (int i = 0; i < 500 && waitpid(d->pid, &status, WNOHANG) == 0; i++)
		sleep_ms(10);
	if (kill(d->pid, 0) == 0) {
		tap_diag("hostrpcd outlived signal %d for 5 s", sig);
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		status = -1;
	}
	for (int i = 0; i < MAX_DAEMONS; i++)
		if (daemons[i] == d->pid)
			daemons[i] = 0;
	d->pid = 0;
	return status;
}

/* Sanitizer reports in one log: printed as diagnostics, counted. */
static int log_reports(const char *path)
{
	static const char *const marks[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
		"WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer",
	};
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0, echo = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
			if (strstr(line, marks[i])) {
				n++;
				echo = 40;   /* the report's stack */
			}
		if (echo && echo--)
			tap_diag("%s: %.*s", path, (int)strcspn(line, "\n"), line);
	}
	fclose(f);
	return n;
}

int itest_sanitizer_reports(struct itest_daemon *d)
{
	char path[400];
	int n = 0;

	if (!d->dir[0])
		return 0;
	for (int i = 1; i <= (d->starts ? d->starts : 1); i++) {
		if (i == 1)
			snprintf(path, sizeof(path), "%s/hostrpcd.log", d->dir);
		else
			snprintf(path, sizeof(path), "%s/hostrpcd.%d.log", d->dir, i);
		n += log_reports(path);
	}
	return n;
}

int itest_daemon_stop(struct itest_daemon *d)
{
	int status = -1;
	char cmd[400];

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (int i = 0; i < 500 && waitpid(d->pid, &status, WNOHANG) == 0; i++)
			sleep_ms(10);
		if (kill(d->pid, 0) == 0) {
			tap_diag("hostrpcd ignored SIGTERM for 5 s");
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			status = -1;
		}
		for (int i = 0; i < MAX_DAEMONS; i++)
			if (daemons[i] == d->pid)
				daemons[i] = 0;
		d->pid = 0;
	}
	/* A worker that tripped a sanitizer was just restarted; the daemon
	 * looks fine, so the log has to say it. */
	if (itest_sanitizer_reports(d)) {
		tap_diag("sanitizer reports in hostrpcd's logs (above)");
		status = -2;
	}
	if (d->dir[0] && !getenv("ITEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", d->dir);
	}
	return status;
}

bool itest_daemon_alive(struct itest_daemon *d)
{
	int status;

	return d->pid > 0 && waitpid(d->pid, &status, WNOHANG) == 0;
}

char *itest_log(struct itest_daemon *d)
{
	FILE *f = fopen(d->log, "r");
	char *buf = NULL;
	size_t len = 0;

	if (f) {
		FILE *m = open_memstream(&buf, &len);
		char chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, m);
		fclose(m);
		fclose(f);
	}
	return buf ? buf : strdup("");
}

static bool line_has_all(const char *line, size_t len, const char **needles, int n)
{
	char *copy = strndup(line, len);
	bool all = copy != NULL;

	for (int i = 0; i < n && all; i++)
		all = strstr(copy, needles[i]) != NULL;
	free(copy);
	return all;
}

bool itest_log_wait(struct itest_daemon *d, int timeout_ms, ...)
{
	const char *needles[8];
	int n = 0;
	va_list ap;

	va_start(ap, timeout_ms);
	while (n < 8 && (needles[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	for (int waited = 0;; waited += 20) {
		char *log = itest_log(d), *p = log;
		bool found = false;

		while (*p && !found) {
			char *nl = strchrnul(p, '\n');

			found = line_has_all(p, (size_t)(nl - p), needles, n);
			p = *nl ? nl + 1 : nl;
		}
		free(log);
		if (found)
			return true;
		if (waited >= timeout_ms)
			return false;
		sleep_ms(20);
	}
}

void itest_log_dump(struct itest_daemon *d)
{
	char *log = itest_log(d), *p = log;

	tap_diag("---- hostrpcd log ----");
	while (*p) {
		char *nl = strchrnul(p, '\n');

		tap_diag("%.*s", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
	free(log);
}

/* ---- processes and descriptors --------------------------------------------- */

int itest_fd_count_like(pid_t pid, const char *target_part)
{
	char path[64], link[400], target[256];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		if (!target_part) {
			n++;
			continue;
		}
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = 0;
		n += strstr(target, target_part) != NULL;
	}
	closedir(dir);
	return n;
}

int itest_raw_connect(const char *guest_sock, const char *name, struct itest_raw_guest *g)
{
	struct hrpc_memfd_offer offer;
	int nfds = HRPC_MEMFD_NR_FDS, rc;
	hrpc_chan *ch;

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->sock = itest_unix_connect(guest_sock);
	if (g->sock < 0)
		return g->sock;
	rc = hrpc_unix_recv(g->sock, &offer, sizeof(offer), g->fds, &nfds);
	if (rc < 0 || nfds != HRPC_MEMFD_NR_FDS)
		return rc < 0 ? rc : -EPROTO;
	g->size = offer.shm_size;
	g->shm = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fds[0], 0);
	if (g->shm == MAP_FAILED)
		return -errno;
	fcntl(g->fds[2], F_SETFL, O_NONBLOCK);
	rc = hrpc_shm_chan_new(HRPC_ROLE_CLIENT, g->shm, g->size, g->fds[1], g->fds[2], false, &ch);
	if (rc < 0)
		return rc;
	return hrpc_client_new(ch, name, 5000, &g->c);
}

void itest_raw_close(struct itest_raw_guest *g)
{
	if (g->c)
		hrpc_client_free(g->c);    /* the channel owns neither the map nor the fds */
	if (g->shm && g->shm != MAP_FAILED)
		munmap(g->shm, g->size);
	for (int i = 0; i < HRPC_MEMFD_NR_FDS; i++)
		if (g->fds[i] > 0)
			close(g->fds[i]);
	if (g->sock > 0)
		close(g->sock);
	memset(g, 0, sizeof(*g));
}

int itest_raw_kick(struct itest_raw_guest *g)
{
	uint64_t one = 1;

	return write(g->fds[1], &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

bool itest_hung_up(int sock, int ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char b[256];

	while (poll(&p, 1, ms) == 1) {
		ssize_t n = recv(sock, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
	return false;
}

long itest_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

pid_t itest_holder_pid(struct itest_daemon *d)
{
	char *log = itest_log(d), *p = log, *last = NULL;
	long pid;

	while ((p = strstr(p, "fd holder pid "))) {
		p += strlen("fd holder pid ");
		last = p;
	}
	pid = last ? strtol(last, NULL, 10) : 0;
	free(log);
	return (pid_t)pid;
}

int itest_fd_count(pid_t pid)
{
	return itest_fd_count_like(pid, NULL);
}

int itest_fd_held_wait(pid_t pid, int want, int timeout_ms)
{
	int n = itest_fd_count(pid) - itest_fd_count_like(pid, "pidfd");

	for (int waited = 0; n != want && waited < timeout_ms; waited += 20) {
		sleep_ms(20);
		n = itest_fd_count(pid) - itest_fd_count_like(pid, "pidfd");
	}
	return n;
}

void itest_fd_dump(pid_t pid)
{
	char path[64], link[400], target[256];
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	dir = opendir(path);
	while (dir && (e = readdir(dir))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		tap_diag("pid %ld fd %s -> %s", (long)pid, e->d_name, target);
	}
	if (dir)
		closedir(dir);
}

int itest_fd_baseline(pid_t pid)
{
	int n = itest_fd_count(pid), same = 0;

	/* Settled: the same count three times, 100 ms apart (the start-up
	 * probe's admin connection takes a moment to be dropped - longer
	 * than 100 ms for a daemon starved on a loaded machine, and a count
	 * one too high fails every later "back to N" check). */
	for (int i = 0; i < 30 && same < 2; i++) {
		int prev = n;

		sleep_ms(100);
		n = itest_fd_count(pid);
		same = n == prev ? same + 1 : 0;
	}
	return n;
}

int itest_fd_count_wait(pid_t pid, int want, int timeout_ms)
{
	int n = itest_fd_count(pid);

	for (int waited = 0; n != want && waited < timeout_ms; waited += 20) {
		sleep_ms(20);
		n = itest_fd_count(pid);
	}
	return n;
}

bool itest_pid_gone(pid_t pid, int timeout_ms)
{
	char path[64];

	/* A zombie keeps its /proc entry until its parent reaps it. */
	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	for (int waited = 0; access(path, F_OK) == 0; waited += 20) {
		if (waited >= timeout_ms)
			return false;
		sleep_ms(20);
	}
	return true;
}

/* ---- guests ------------------------------------------------------------------- */

int itest_guest_connect(const char *sock, const char *name, hrpc_client **out)
{
	hrpc_chan *ch;
	int rc = hrpc_memfd_connect(sock, &ch);

	if (rc < 0)
		return rc;
	return hrpc_client_new(ch, name, CALL_TIMEOUT_MS, out);
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x ? x : 0x9e3779b9u;
}

#define MAX_BULK (256u << 10)

int itest_echo_workload(hrpc_client *c, unsigned int seed, int pings, int bulks)
{
	static uint8_t in[4096], out[HRPC_MSG_MAX_PAYLOAD], orig[MAX_BULK];
	uint32_t s = seed * 2654435761u + 1;
	struct hrpc_bulk b;
	int rc;

	for (int i = 0; i < pings; i++) {
		uint32_t len = xorshift(&s) % (sizeof(in) + 1);
		struct hrpc_call call = {
			.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = in, .req_len = len, .rep = out, .rep_cap = sizeof(out),
			.timeout_ms = CALL_TIMEOUT_MS,
		};

		for (uint32_t k = 0; k < len; k++)
			in[k] = (uint8_t)xorshift(&s);
		rc = hrpc_client_call(c, &call);
		if (rc < 0) {
			tap_diag("ping %d (%u bytes) failed: %s", i, len, strerror(-rc));
			return rc;
		}
		if (call.rep_len != len || memcmp(in, out, len)) {
			tap_diag("ping %d: reply of %u bytes differs from the %u sent", i, call.rep_len, len);
			return -EILSEQ;
		}
	}
	if (!bulks)
		return 0;
	rc = hrpc_client_bulk_alloc(c, 2 * MAX_BULK, &b);
	if (rc < 0) {
		tap_diag("no bulk buffer: %s", strerror(-rc));
		return rc;
	}
	for (int i = 0; i < bulks && rc == 0; i++) {
		uint32_t len = 1 + xorshift(&s) % MAX_BULK;
		struct hrpc_echo_sum sum;
		struct hrpc_call call = {
			.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
			.rep = &sum, .rep_cap = sizeof(sum), .bulk = &b, .bulk_len = len,
			.timeout_ms = CALL_TIMEOUT_MS,
		};

		for (uint32_t k = 0; k < len; k += 4) {
			uint32_t v = xorshift(&s);

			memcpy(orig + k, &v, len - k < 4 ? len - k : 4);
		}
		memcpy(b.ptr, orig, len);
		rc = hrpc_client_call(c, &call);
		if (rc < 0) {
			tap_diag("bulk %d (%u bytes) failed: %s", i, len, strerror(-rc));
			break;
		}
		if (call.rep_len != sizeof(sum) || sum.len != len ||
		    sum.sum != hrpc_echo_sum(orig, len) || call.rep_bulk_len != len ||
		    memcmp((uint8_t *)b.ptr + call.rep_bulk_pos, orig, len)) {
			tap_diag("bulk %d: %u bytes came back corrupted", i, len);
			rc = -EILSEQ;
		}
	}
	hrpc_client_bulk_free(c, &b);
	return rc;
}

/* ---- admin -------------------------------------------------------------------- */

static int admin_list(const char *path, uint16_t proc, void *out, size_t rec_size, int max)
{
	static uint8_t buf[HRPC_MSG_MAX_PAYLOAD];
	uint32_t first = 0;
	hrpc_client *c;
	hrpc_chan *ch;
	int rc, n = 0;

	rc = hrpc_vport_connect(path, &ch);
	if (rc < 0)
		return rc;
	rc = hrpc_client_new(ch, "itest-admin", CALL_TIMEOUT_MS, &c);
	if (rc < 0)
		return rc;
	do {
		struct hrpc_admin_query q = { .first_id = first };
		struct hrpc_admin_page page;
		struct hrpc_call call = {
			.service = HRPC_SVC_ADMIN, .proc = proc, .req = &q, .req_len = sizeof(q),
			.rep = buf, .rep_cap = sizeof(buf), .timeout_ms = CALL_TIMEOUT_MS,
		};

		rc = hrpc_client_call(c, &call);
		if (rc < 0)
			break;
		memcpy(&page, buf, sizeof(page));
		if (call.rep_len < sizeof(page) || page.record_size < rec_size ||
		    (uint64_t)page.count * page.record_size > call.rep_len - sizeof(page)) {
			rc = -EPROTO;
			break;
		}
		for (uint32_t i = 0; i < page.count && n < max; i++, n++)
			memcpy((uint8_t *)out + (size_t)n * rec_size,
			       buf + sizeof(page) + (size_t)i * page.record_size, rec_size);
		first = page.next_id;
	} while (first);
	hrpc_client_free(c);
	return rc < 0 ? rc : n;
}

int itest_admin_guests(const char *admin_sock, struct hrpc_admin_guest *out, int max)
{
	return admin_list(admin_sock, HRPC_ADMIN_GUESTS, out, sizeof(*out), max);
}

int itest_admin_channels(const char *admin_sock, struct hrpc_admin_channel *out, int max)
{
	return admin_list(admin_sock, HRPC_ADMIN_CHANNELS, out, sizeof(*out), max);
}

/* Workers publish a guest's HELLO label when their loop next goes idle: a
 * name can lag the HELLO by a moment, so look for up to 2 s. */
#define FIND_TRIES 100

int itest_admin_find(const char *admin_sock, const char *name, struct hrpc_admin_guest *out)
{
	static struct hrpc_admin_guest g[256];
	int n = 0;

	for (int t = 0; t < FIND_TRIES; t++) {
		n = itest_admin_guests(admin_sock, g, 256);
		for (int i = 0; i < n; i++)
			if (!strncmp(g[i].name, name, sizeof(g[i].name))) {
				*out = g[i];
				return 0;
			}
		if (n < 0)
			return n;
		sleep_ms(20);
	}
	return -ENOENT;
}

bool itest_admin_listed(const char *admin_sock, const char *name)
{
	static struct hrpc_admin_guest g[256];
	int n = itest_admin_guests(admin_sock, g, 256);

	for (int i = 0; i < n; i++)
		if (!strncmp(g[i].name, name, sizeof(g[i].name)))
			return true;
	return false;
}

int itest_admin_find_channel(const char *admin_sock, const char *name,
			     struct hrpc_admin_channel *out)
{
	static struct hrpc_admin_channel ch[256];
	int n = 0;

	for (int t = 0; t < FIND_TRIES; t++) {
		n = itest_admin_channels(admin_sock, ch, 256);
		for (int i = 0; i < n; i++)
			if (!strncmp(ch[i].name, name, sizeof(ch[i].name))) {
				*out = ch[i];
				return 0;
			}
		if (n < 0)
			return n;
		sleep_ms(20);
	}
	return -ENOENT;
}

int itest_unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int s;

	if (len >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, len + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(s);
		return -e;
	}
	return s;
}

/* ---- fake QEMU ----------------------------------------------------------------- */

static int recv_msg(int sock, int64_t *v, int *fd)
{
	int fds[1], nfds = 1, rc;
	struct pollfd p = { .fd = sock, .events = POLLIN };

	if (poll(&p, 1, 5000) != 1)
		return -ETIMEDOUT;
	rc = hrpc_unix_recv(sock, v, sizeof(*v), fds, &nfds);
	if (rc < 0)
		return rc;
	*fd = nfds ? fds[0] : -1;
	return 0;
}

int itest_qemu_connect(const char *path, struct itest_qemu *q)
{
	int64_t v;
	struct stat st;
	int fd, rc;

	memset(q, 0, sizeof(*q));
	q->shm_fd = -1;
	for (int i = 0; i < HRPC_IVSHMEM_NR_VECTORS; i++)
		q->host_fd[i] = q->own_fd[i] = -1;
	q->sock = itest_unix_connect(path);
	if (q->sock < 0)
		return q->sock;

	/* version, our id, then the memory - exactly as QEMU expects them */
	if ((rc = recv_msg(q->sock, &q->version, &fd)) < 0)
		return rc;
	if (fd >= 0 || q->version != HRPC_IVSHMEM_PROTOCOL_VERSION)
		return -EPROTO;
	if ((rc = recv_msg(q->sock, &q->id, &fd)) < 0)
		return rc;
	if (fd >= 0 || q->id != HRPC_IVSHMEM_GUEST_ID)
		return -EPROTO;
	if ((rc = recv_msg(q->sock, &v, &q->shm_fd)) < 0)
		return rc;
	if (v != -1 || q->shm_fd < 0 || fstat(q->shm_fd, &st) < 0)
		return -EPROTO;
	q->shm_size = (size_t)st.st_size;
	/* the host peer's vectors, then our own */
	for (int i = 0; i < 2 * HRPC_IVSHMEM_NR_VECTORS; i++) {
		int *slot = i < HRPC_IVSHMEM_NR_VECTORS ? &q->host_fd[i]
							: &q->own_fd[i - HRPC_IVSHMEM_NR_VECTORS];

		if ((rc = recv_msg(q->sock, &v, slot)) < 0)
			return rc;
		if (*slot < 0)
			return -EPROTO;
		if (i < HRPC_IVSHMEM_NR_VECTORS) {
			if (i == 0)
				q->host_id = v;
			if (v != HRPC_IVSHMEM_HOST_ID)
				return -EPROTO;
		} else if (v != q->id) {
			return -EPROTO;
		}
	}
	q->map = mmap(NULL, q->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, q->shm_fd, 0);
	if (q->map == MAP_FAILED) {
		q->map = NULL;
		return -errno;
	}
	return 0;
}

int itest_qemu_wait_vector(struct itest_qemu *q, unsigned int v, int timeout_ms)
{
	struct pollfd p = { .fd = q->own_fd[v], .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	if (read(q->own_fd[v], &n, sizeof(n)) != sizeof(n))
		return -errno;
	return 0;
}

uint32_t itest_qemu_host_gen(struct itest_qemu *q)
{
	struct hrpc_shm_hdr *h = q->map;

	if (hrpc_load_acquire(&h->host_state) != HRPC_SHM_STATE_READY)
		return 0;
	return hrpc_read_once(h->host_gen);
}

int itest_qemu_client(struct itest_qemu *q, const char *name, hrpc_client **out)
{
	hrpc_chan *ch;
	int rc;

	/* kick = the host's ring vector, wait = our own ring vector */
	rc = hrpc_shm_chan_new(HRPC_ROLE_CLIENT, q->map, q->shm_size,
			       q->host_fd[HRPC_IVSHMEM_VEC_RING], q->own_fd[HRPC_IVSHMEM_VEC_RING],
			       false, &ch);
	if (rc < 0)
		return rc;
	return hrpc_client_new(ch, name, CALL_TIMEOUT_MS, out);
}

int itest_qemu_attach(const char *path, const char *name, struct itest_qemu *q,
		      hrpc_client **out)
{
	int rc = itest_qemu_connect(path, q);

	/* The worker lays out the channel, then rings our reset vector. */
	if (rc == 0)
		rc = itest_qemu_wait_vector(q, HRPC_IVSHMEM_VEC_RESET, 5000);
	if (rc == 0)
		rc = itest_qemu_client(q, name, out);
	return rc;
}

void itest_qemu_disconnect(struct itest_qemu *q)
{
	if (q->map)
		munmap(q->map, q->shm_size);
	for (int i = 0; i < HRPC_IVSHMEM_NR_VECTORS; i++) {
		if (q->host_fd[i] >= 0)
			close(q->host_fd[i]);
		if (q->own_fd[i] >= 0)
			close(q->own_fd[i]);
	}
	if (q->shm_fd >= 0)
		close(q->shm_fd);
	if (q->sock >= 0)
		close(q->sock);
	memset(q, 0, sizeof(*q));
	q->sock = q->shm_fd = -1;
}
