/* SPDX-License-Identifier: MIT */
/*
 * fault-loop - kill -9 at random points, many times over, while guests keep
 * up checked traffic (issue 18 item 5, process guests).
 *
 * Each iteration waits a random time into ongoing traffic, then SIGKILLs one
 * victim picked at random: a process guest, a guest's worker, the supervisor,
 * the fd holder or the fake QEMU (an ivshmem guest).  What comes back does so
 * as it would in production: the test restarts a killed supervisor on the
 * same state directory as a service manager would (it takes the ivshmem
 * endpoint and QEMU's descriptors back from the fd holder), the daemon
 * spawns a new fd holder, the supervisor a new worker, a killed guest or
 * QEMU is started again and process guests reconnect.  The iteration ends
 * when every guest has had a checked call answered again (bounded).
 *
 *   test (checker thread)                 hostrpcd (killed, restarted)
 *   sink <-- TCP on loopback --- worker <--- process guests pg0..pg2
 *                                worker <--- fake QEMU "vm" (vm.ivshmem)
 *                                fd holder: vm's endpoint and QEMU's fds
 *
 * Traffic, checked end to end: every guest makes echo calls whose replies
 * it compares byte for byte; the process guests also stream numbered bytes
 * through outsourced TCP sockets to a sink in this process.  Around every
 * send a guest tells the test what was acknowledged so far and what is in
 * flight; the sink checks every byte against the stream's pattern (a lost
 * or doubled chunk shifts it) and, once the connection ended, that it got
 * at least every acknowledged byte and at most those plus the call in
 * flight when the guest's channel died.  A failed call may fail; it may not
 * be half-applied silently or applied twice.
 *
 * Descriptor counts and RSS of the supervisor and the fd holder are sampled
 * every 20 iterations (all guests attached) and must not grow.
 *
 * HOSTRPC_FAULT_SEED replays a run (the seed is printed first);
 * HOSTRPC_FAULT_ITERATIONS sets the count (default 200).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "tests/tap.h"
#include "tests/integration/itest.h"
#include "outsource/sock/sockguest.h"

#define NPROC 3                  /* process guests */
#define NGUESTS (NPROC + 1)      /* ... and the fake QEMU, last */
#define QEMU NPROC
#define RECOVER_MS 15000         /* every guest answered again within this */
#define SAMPLE_EVERY 20
#define CALL_MS 3000
#define QEMU_CALL_MS 200
#define HDR 8                    /* a stream starts with its id */

/* What a guest tells the test, one atomic pipe write each. */
enum { REC_ECHO = 'E', REC_INFLIGHT = 'I', REC_ACKED = 'A', REC_FAIL = 'F',
       REC_ATTACHED = 'C', REC_BAD = 'X' };
struct rec {
	uint32_t type;
	int32_t err;
	uint64_t conn;
	uint64_t acked, inflight;
};

static uint8_t stream_byte(uint64_t conn, uint64_t off)
{
	return hrpc_echo_pattern(conn, (uint32_t)off) ^ (uint8_t)(off >> 32);
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x ? x : 0x9e3779b9u;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ==== the guests (this program again, exec'd with --guest / --qemu) ==== */

static int out_fd;

static void tell(uint32_t type, int err, uint64_t conn, uint64_t acked, uint64_t inflight)
{
	struct rec r = { .type = type, .err = err, .conn = conn, .acked = acked,
			 .inflight = inflight };

	if (write(out_fd, &r, sizeof(r)) != sizeof(r))
		_exit(3);   /* the test is gone */
}

/* One echo call with a pattern of (seed, i); 0, -errno, or -EILSEQ. */
static int echo_checked(hrpc_client *c, uint32_t *s, int timeout_ms)
{
	static uint8_t in[2048], out[HRPC_MSG_MAX_PAYLOAD];
	uint32_t len = xorshift(s) % sizeof(in);
	struct hrpc_call call = {
		.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
		.req = in, .req_len = len, .rep = out, .rep_cap = sizeof(out),
		.timeout_ms = timeout_ms,
	};
	int rc;

	for (uint32_t k = 0; k < len; k++)
		in[k] = (uint8_t)xorshift(s);
	rc = hrpc_client_call(c, &call);
	if (rc < 0)
		return rc;
	return call.rep_len == len && !memcmp(in, out, len) ? 0 : -EILSEQ;
}

static struct sguest g;

/* One outsourced TCP connection to the sink carrying a numbered stream. */
static int stream_once(uint16_t port, uint64_t conn, uint32_t *s)
{
	static uint8_t buf[4096];
	struct hrpc_sock_addr a;
	uint64_t h, acked = 0, total;
	int rc;

	rc = sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	if (rc < 0)
		return rc;
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	rc = sg_connect(&g, h, &a, CALL_MS);
	if (rc < 0)
		return rc;
	total = HDR + 1 + xorshift(s) % (32u << 10);
	while (acked < total) {
		uint32_t len = 1 + xorshift(s) % sizeof(buf);

		if (len > total - acked)
			len = (uint32_t)(total - acked);
		for (uint32_t k = 0; k < len; k++) {
			uint64_t off = acked + k;

			buf[k] = off < HDR ? (uint8_t)(conn >> (8 * off)) : stream_byte(conn, off);
		}
		tell(REC_INFLIGHT, 0, conn, acked, len);
		rc = sg_send(&g, h, buf, len, NULL, 0, NULL);
		if (rc == -EAGAIN) {
			if (!sg_wait(&g, h, HRPC_POLLOUT | HRPC_POLLERR | HRPC_POLLHUP, CALL_MS))
				return -ETIMEDOUT;
			continue;
		}
		if (rc < 0)
			return rc;
		if ((uint32_t)rc > len)
			return -EPROTO;
		acked += (uint32_t)rc;
		tell(REC_ACKED, 0, conn, acked, 0);
	}
	return sg_close(&g, h);
}

__attribute__((noreturn))
static int guest_main(const char *sock, int idx, unsigned int gen, uint16_t port)
{
	uint32_t s = (uint32_t)(idx * 7919 + gen * 104729 + 1);
	uint64_t seq = 0;
	char name[32];

	snprintf(name, sizeof(name), "pg%d", idx);
	for (;;) {
		struct hrpc_sock_init_rep o;
		int rc;

		memset(&g, 0, sizeof(g));
		/* Down while the supervisor restarts: try again. */
		while (itest_guest_connect(sock, name, &g.cli) < 0)
			sleep_ms(20);
		hrpc_client_set_event_handler(g.cli, sg_event, &g);
		rc = sg_init(&g, HRPC_SOCK_VERSION, 256, &o);
		if (rc == 0)
			tell(REC_ATTACHED, 0, 0, 0, 0);
		while (rc == 0) {
			for (int i = 0; i < 4 && rc == 0; i++) {
				rc = echo_checked(g.cli, &s, CALL_MS);
				if (rc == 0)
					tell(REC_ECHO, 0, 0, 0, 0);
			}
			if (rc == 0) {
				uint64_t conn = (uint64_t)(idx + 1) << 48 | (uint64_t)gen << 24 | seq++;

				rc = stream_once(port, conn, &s);
			}
			usleep(500);
		}
		tell(rc == -EILSEQ ? REC_BAD : REC_FAIL, rc, 0, 0, 0);
		hrpc_client_free(g.cli);
	}
}

__attribute__((noreturn))
static int qemu_main(const char *path, unsigned int gen)
{
	uint32_t s = gen * 15485863u + 3;
	struct itest_qemu q;
	hrpc_client *c;
	int rc;

	while ((rc = itest_qemu_attach(path, "vm", &q, &c)) < 0) {
		itest_qemu_disconnect(&q);
		sleep_ms(20);
	}
	tell(REC_ATTACHED, 0, 0, 0, 0);
	for (;;) {
		bool rung = false;

		/* A guest kernel hears of a new channel from the reset vector
		 * at once, in-flight calls or not; this one looks whenever a
		 * call takes long. */
		rc = echo_checked(c, &s, QEMU_CALL_MS);
		if (rc == -ETIMEDOUT) {
			rung = itest_qemu_wait_vector(&q, HRPC_IVSHMEM_VEC_RESET, 0) == 0;
			if (!rung)
				continue;
		}
		if (rc == 0) {
			tell(REC_ECHO, 0, 0, 0, 0);
			usleep(200);   /* traffic, not a busy loop on a shared machine */
			continue;
		}
		tell(rc == -EILSEQ ? REC_BAD : REC_FAIL, rc, 0, 0, 0);
		hrpc_client_free(c);
		/* The host lays out a new channel and rings our reset vector
		 * (a new worker, or a restarted daemon adopting us). */
		while (!rung && itest_qemu_wait_vector(&q, HRPC_IVSHMEM_VEC_RESET, 1000) < 0)
			;
		while (itest_qemu_client(&q, "vm", &c) < 0) {
			if (itest_qemu_wait_vector(&q, HRPC_IVSHMEM_VEC_RESET, 1000) < 0)
				sleep_ms(10);
		}
		tell(REC_ATTACHED, 0, 0, 0, 0);
	}
}

/* ==== the test ==== */

struct guest {
	pid_t pid;
	int fd;                  /* the read end of its pipe */
	unsigned int gen;
	uint8_t part[sizeof(struct rec)];
	size_t part_len;
	uint64_t echoes, fails, attaches;
};

struct conn {
	uint64_t id;
	uint64_t acked, inflight;     /* what the guest said */
	uint64_t received;            /* what the sink got */
	bool told, seen, corrupt;
};

static struct itest_daemon d;
static char conf[300];
static const char *args[] = {
	"--ivshmem", "vm=@DIR@/vm.ivshmem", "--sock-policy-dir", conf, NULL
};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct guest guests[NGUESTS];
static GHashTable *conns;
static atomic_bool stop;
static int sink_fd;
static uint16_t sink_port;
static uint64_t bad_records, sink_bytes;

#define MAX_SINK 256
static struct { int fd; uint64_t id; uint8_t hdr[HDR]; uint64_t off; } sink[MAX_SINK];
static int nsink;

static struct conn *conn_get(uint64_t id)
{
	struct conn *c = g_hash_table_lookup(conns, &id);

	if (!c) {
		c = g_new0(struct conn, 1);
		c->id = id;
		g_hash_table_insert(conns, &c->id, c);
	}
	return c;
}

static void on_record(struct guest *gu, const struct rec *r)
{
	struct conn *c;

	switch (r->type) {
	case REC_ECHO:
		gu->echoes++;
		break;
	case REC_ATTACHED:
		gu->attaches++;
		break;
	case REC_FAIL:
		gu->fails++;
		break;
	case REC_INFLIGHT:
	case REC_ACKED:
		c = conn_get(r->conn);
		c->told = true;
		if (r->acked < c->acked) {
			tap_diag("stream %#llx: acknowledged count went back (%llu < %llu)",
				 (unsigned long long)r->conn, (unsigned long long)r->acked,
				 (unsigned long long)c->acked);
			bad_records++;
		}
		c->acked = r->acked;
		c->inflight = r->inflight;
		break;
	default:
		tap_diag("guest %ld: corrupted echo reply (%d)", (long)gu->pid, r->err);
		bad_records++;
	}
}

/* Bytes from a guest's pipe: whole records go to on_record(). */
static void feed(struct guest *gu, const uint8_t *b, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		gu->part[gu->part_len++] = b[k];
		if (gu->part_len == sizeof(struct rec)) {
			struct rec r;

			memcpy(&r, gu->part, sizeof(r));
			on_record(gu, &r);
			gu->part_len = 0;
		}
	}
}

/* Read a dead guest's pipe to its end. */
static void drain(struct guest *gu)
{
	uint8_t b[4096];
	ssize_t n;

	while ((n = read(gu->fd, b, sizeof(b))) > 0)
		feed(gu, b, (size_t)n);
	gu->part_len = 0;
}

static void sink_close(int i)
{
	if (sink[i].off >= HDR) {
		struct conn *c = conn_get(sink[i].id);

		c->seen = true;
		c->received = sink[i].off;
	} else if (sink[i].off > 0) {
		tap_diag("a stream ended within its id (%llu bytes)",
			 (unsigned long long)sink[i].off);
		bad_records++;
	}
	close(sink[i].fd);
	sink[i] = sink[--nsink];
}

/* Bytes of sink connection i: check them against the stream's pattern. */
static void sink_data(int i, const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++, sink[i].off++) {
		uint64_t off = sink[i].off;

		if (off < HDR) {
			sink[i].hdr[off] = p[k];
			if (off == HDR - 1) {
				sink[i].id = 0;
				for (int b = 0; b < HDR; b++)
					sink[i].id |= (uint64_t)sink[i].hdr[b] << (8 * b);
				if (conn_get(sink[i].id)->seen) {
					tap_diag("stream %#llx arrived twice",
						 (unsigned long long)sink[i].id);
					bad_records++;
				}
			}
		} else if (p[k] != stream_byte(sink[i].id, off)) {
			struct conn *c = conn_get(sink[i].id);

			if (!c->corrupt)
				tap_diag("stream %#llx: byte %llu differs (lost or doubled data)",
					 (unsigned long long)sink[i].id, (unsigned long long)off);
			c->corrupt = true;
		}
	}
	sink_bytes += n;
}

/* The checker: the sink's connections and the guests' pipes. */
static void *checker(void *arg)
{
	static uint8_t buf[65536];

	(void)arg;
	while (!atomic_load(&stop)) {
		struct pollfd p[1 + MAX_SINK + NGUESTS];
		int np = 0, ns;

		pthread_mutex_lock(&lock);
		p[np++] = (struct pollfd){ .fd = sink_fd, .events = POLLIN };
		for (int i = 0; i < nsink; i++)
			p[np++] = (struct pollfd){ .fd = sink[i].fd, .events = POLLIN };
		ns = nsink;
		for (int i = 0; i < NGUESTS; i++)
			p[np++] = (struct pollfd){ .fd = guests[i].fd, .events = POLLIN };
		pthread_mutex_unlock(&lock);
		if (poll(p, (nfds_t)np, 20) <= 0)
			continue;
		pthread_mutex_lock(&lock);
		/* guests first: their "in flight" precedes the bytes */
		for (int i = 0; i < NGUESTS; i++) {
			struct guest *gu = &guests[i];
			ssize_t n;

			if (!(p[1 + ns + i].revents & POLLIN) || gu->fd != p[1 + ns + i].fd)
				continue;
			n = read(gu->fd, buf, sizeof(buf));
			if (n > 0)
				feed(gu, buf, (size_t)n);
		}
		for (int i = ns - 1; i >= 0; i--) {
			ssize_t n;

			if (!(p[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(sink[i].fd, buf, sizeof(buf));
			if (n > 0)
				sink_data(i, buf, (size_t)n);
			else if (n == 0 || errno != EAGAIN)
				sink_close(i);
		}
		if (p[0].revents & POLLIN) {
			int fd = accept4(sink_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && nsink < MAX_SINK)
				sink[nsink++] = (typeof(sink[0])){ .fd = fd };
			else if (fd >= 0)
				close(fd);
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static char *self_exe;

static void spawn(int i)
{
	struct guest *gu = &guests[i];
	int pfd[2];
	char a1[32], a2[32], a3[32], path[400];

	if (pipe2(pfd, O_CLOEXEC) < 0)
		abort();
	gu->gen++;
	fflush(stdout);
	gu->pid = fork();
	if (gu->pid == 0) {
		/* not one guest left behind, whatever becomes of the test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 3);
		snprintf(a1, sizeof(a1), "%d", i);
		snprintf(a2, sizeof(a2), "%u", gu->gen);
		snprintf(a3, sizeof(a3), "%u", sink_port);
		if (i == QEMU) {
			snprintf(path, sizeof(path), "%s/vm.ivshmem", d.dir);
			execl(self_exe, self_exe, "--qemu", path, a2, NULL);
		} else {
			execl(self_exe, self_exe, "--guest", d.guest_sock, a1, a2, a3, NULL);
		}
		_exit(127);
	}
	close(pfd[1]);
	pthread_mutex_lock(&lock);
	if (gu->fd > 0) {
		drain(gu);   /* what the previous one said before it died counts */
		close(gu->fd);
	}
	gu->fd = pfd[0];
	gu->part_len = 0;
	pthread_mutex_unlock(&lock);
}

static void kill_guest(int i)
{
	kill(guests[i].pid, SIGKILL);
	waitpid(guests[i].pid, NULL, 0);
	guests[i].pid = 0;
}

/* Has any guest exited by itself (it never should)?  Says which in why. */
static bool guests_alive(char *why, size_t len)
{
	for (int i = 0; i < NGUESTS; i++) {
		int st;

		if (waitpid(guests[i].pid, &st, WNOHANG) == guests[i].pid) {
			snprintf(why, len, "guest %d (pid %ld) exited by itself, wait status 0x%x", i,
				 (long)guests[i].pid, st);
			guests[i].pid = 0;
			return false;
		}
	}
	return true;
}

/* Which guests wait_progress() last gave up on, and how far they got. */
static char stuck[300];

/* Wait until every guest had `more` further calls answered; ms taken, or -1
 * (and stuck says who did not). */
static int wait_progress(int more)
{
	uint64_t base[NGUESTS], t0 = hrpc_now_ns();

	pthread_mutex_lock(&lock);
	for (int i = 0; i < NGUESTS; i++)
		base[i] = guests[i].echoes;
	pthread_mutex_unlock(&lock);
	for (;;) {
		bool all = true;

		pthread_mutex_lock(&lock);
		for (int i = 0; i < NGUESTS; i++)
			all &= guests[i].echoes >= base[i] + (uint64_t)more;
		pthread_mutex_unlock(&lock);
		if (all)
			return (int)((hrpc_now_ns() - t0) / 1000000);
		if (hrpc_now_ns() - t0 > RECOVER_MS * 1000000ull) {
			size_t n = 0;

			pthread_mutex_lock(&lock);
			for (int i = 0; i < NGUESTS && n < sizeof(stuck); i++)
				if (guests[i].echoes < base[i] + (uint64_t)more)
					n += (size_t)snprintf(stuck + n, sizeof(stuck) - n,
						"%sguest %d made %llu of %d calls (%llu attaches, "
						"%llu failed calls so far)", n ? "; " : "", i,
						(unsigned long long)(guests[i].echoes - base[i]),
						more, (unsigned long long)guests[i].attaches,
						(unsigned long long)guests[i].fails);
			pthread_mutex_unlock(&lock);
			return -1;
		}
		sleep_ms(5);
	}
}

/* Gone or a zombie: the holder runs in a session of its own and whoever
 * reaps it (init here) may take its time about it. */
static bool dead(pid_t pid, int timeout_ms)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	for (int waited = 0;; waited += 5) {
		FILE *f = fopen(path, "r");
		char *p = f && fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;

		if (f)
			fclose(f);
		if (!f || (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')))
			return true;
		if (waited >= timeout_ms)
			return false;
		sleep_ms(5);
	}
}

/* The last `n` lines of the daemon's (latest) log, as diagnostics. */
static void log_tail(int n)
{
	char *log = itest_log(&d), *p = log + strlen(log);

	for (int k = 0; p > log && k <= n; p--)
		k += p[-1] == '\n';
	tap_diag("---- the last lines of %s ----", d.log);
	while (*p) {
		char *nl = strchrnul(p, '\n');

		tap_diag("%.*s", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
	free(log);
}

/* Every fd holder process serving our state directory (by its command
 * line); at most `max`. */
static int holders(pid_t *out, int max)
{
	char want[400], path[300], buf[1024];
	struct dirent *e;
	DIR *dir = opendir("/proc");
	int n = 0;

	snprintf(want, sizeof(want), "--socket=%s/fdstore.sock", d.state_dir);
	while (dir && (e = readdir(dir)) && n < max) {
		FILE *f;
		size_t len;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t k = 0; k < len; k++)
			if (!buf[k])
				buf[k] = ' ';
		buf[len] = 0;
		if (strstr(buf, want))
			out[n++] = (pid_t)atol(e->d_name);
	}
	if (dir)
		closedir(dir);
	return n;
}

/* Where every fd holder of ours is: which system call it waits in. */
static void stuck_holders(void)
{
	pid_t h[16];
	int n = holders(h, 16);

	for (int i = 0; i < n; i++) {
		char path[300], wchan[64] = "", sc[128] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%ld/wchan", (long)h[i]);
		if ((f = fopen(path, "r"))) {
			wchan[fread(wchan, 1, sizeof(wchan) - 1, f)] = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%ld/syscall", (long)h[i]);
		if ((f = fopen(path, "r"))) {
			sc[fread(sc, 1, sizeof(sc) - 1, f)] = 0;
			sc[strcspn(sc, "\n")] = 0;
			fclose(f);
		}
		tap_diag("holder process %ld: wchan %s, syscall %.40s", (long)h[i], wchan, sc);
	}
}

/* The daemon logged a holder other than `old` holding the endpoint again. */
static bool new_holder(pid_t old, int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		pid_t h = itest_holder_pid(&d);

		if (h > 0 && h != old && kill(h, 0) == 0 &&
		    itest_log_wait(&d, 0, "holds the 1 endpoint(s) again", NULL))
			return true;
		if (waited >= timeout_ms)
			return false;
		sleep_ms(10);
	}
}

static int held_fds(pid_t pid)
{
	return itest_fd_count(pid) - itest_fd_count_like(pid, "pidfd");
}

#define MAX_SAMPLES 64
struct sample {
	int iter;
	int sup_fd, holder_fd;
	long sup_rss, holder_rss;
};

/* HOSTRPC_FAULT_VICTIMS: the victims to pick from, as digits ("0123",
 * default "01234"; to replay a kind of failure faster). */
static int victim_pick(void)
{
	const char *e = getenv("HOSTRPC_FAULT_VICTIMS");
	int n = e && *e ? (int)strlen(e) : 5, r = rand() % n;

	return e && *e ? (e[r] - '0') % 5 : r;
}

static const char *const victims[] = {
	"process guest", "worker", "supervisor", "fd holder", "fake QEMU"
};

int main(int argc, char **argv)
{
	static struct sample smp[MAX_SAMPLES];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	const char *e;
	unsigned int seed;
	int kills[5] = { 0 }, slow[5] = { 0 }, sum[5] = { 0 };
	int iters, nsmp = 0, worst = 0, failed_iter = -1, rc;
	int failed_v = 0;
	char why[320] = "";   /* what went wrong at failed_iter, for the TAP line */
	uint64_t t0, restarts = 0;
	pthread_t th;
	char path[400];
	FILE *f;

	if (argc == 6 && !strcmp(argv[1], "--guest")) {
		out_fd = 3;
		return guest_main(argv[2], atoi(argv[3]), (unsigned)atoi(argv[4]),
				  (uint16_t)atoi(argv[5]));
	}
	if (argc == 4 && !strcmp(argv[1], "--qemu")) {
		out_fd = 3;
		return qemu_main(argv[2], (unsigned)atoi(argv[3]));
	}

	e = getenv("HOSTRPC_FAULT_SEED");
	seed = e && *e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(NULL) ^ (unsigned)getpid();
	e = getenv("HOSTRPC_FAULT_ITERATIONS");
	iters = e && *e ? atoi(e) : 200;
	itest_watchdog(60 + (unsigned)iters * 2);
	self_exe = realpath("/proc/self/exe", NULL);
	tap_plan(8);
	tap_diag("seed %u (HOSTRPC_FAULT_SEED=%u replays this run), %d iterations", seed, seed,
		 iters);
	srand(seed);

	snprintf(conf, sizeof(conf), "/tmp/fault-loop-conf.XXXXXX");
	if (!mkdtemp(conf))
		tap_skip_all("cannot make a temporary directory");
	snprintf(path, sizeof(path), "%s/default.conf", conf);
	f = fopen(path, "w");
	fprintf(f, SG_LOOPBACK_POLICY);
	fclose(f);

	conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	sink_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(sink_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(sink_fd, 64) < 0 ||
	    getsockname(sink_fd, (struct sockaddr *)&sa, &sl) < 0)
		tap_skip_all("no loopback TCP: %s", strerror(errno));
	sink_port = ntohs(sa.sin_port);

	rc = itest_daemon_start(&d, args);
	if (!tap_ok(rc == 0, "hostrpcd starts with an ivshmem endpoint and a socket policy"))
		return 1;
	itest_kill_on_bailout(itest_holder_pid(&d));
	pthread_create(&th, NULL, checker, NULL);
	for (int i = 0; i < NGUESTS; i++)
		spawn(i);
	rc = wait_progress(20);
	if (!tap_ok(rc >= 0, "%d process guests and a fake QEMU attach and make checked calls "
		    "(%d ms)", NPROC, rc)) {
		itest_log_dump(&d);
		goto out;
	}

	t0 = hrpc_now_ns();
	for (int it = 0; it < iters && failed_iter < 0; it++) {
		int v = victim_pick(), delay = rand() % 60, who = rand() % NGUESTS, ms;
		struct hrpc_admin_guest ag;
		pid_t victim = 0;

		if (it % SAMPLE_EVERY == 0 && nsmp < MAX_SAMPLES) {
			pid_t h = itest_holder_pid(&d);

			smp[nsmp++] = (struct sample){
				.iter = it, .sup_fd = held_fds(d.pid), .holder_fd = held_fds(h),
				.sup_rss = itest_rss_kib(d.pid), .holder_rss = itest_rss_kib(h),
			};
		}
		sleep_ms(delay);   /* into the traffic */
		kills[v]++;
		switch (v) {
		case 0:
			who = rand() % NPROC;
			kill_guest(who);
			spawn(who);
			break;
		case 1: {
			char name[8];

			snprintf(name, sizeof(name), who == QEMU ? "vm" : "pg%d", who);
			victim = itest_admin_find(d.admin_sock, name, &ag) == 0 ?
				 (pid_t)ag.worker_pid : 0;
			if (victim <= 0) {
				snprintf(why, sizeof(why), "no worker listed for %s", name);
				victim = -1;
			} else {
				kill(victim, SIGKILL);
				if (!itest_pid_gone(victim, 5000)) {
					snprintf(why, sizeof(why), "worker %ld of %s still there 5 s "
						 "after SIGKILL", (long)victim, name);
					victim = -1;
				}
			}
			break;
		}
		case 2:
			itest_daemon_kill(&d, SIGKILL);
			rc = itest_daemon_restart(&d, args);
			restarts++;
			if (rc < 0) {
				snprintf(why, sizeof(why), "the restarted hostrpcd %s",
					 rc == -ECHILD ? "exited during start-up" :
					 "did not answer its admin socket within 10 s");
				victim = -1;
			}
			break;
		case 3:
			victim = itest_holder_pid(&d);
			kill(victim, SIGKILL);
			/* A holder that is slow to start (a loaded machine, a
			 * sanitizer build) is given up after 5 s and looked
			 * for again 5 s later (fdstore-client.c). */
			if (!dead(victim, 5000) || !new_holder(victim, 15000)) {
				snprintf(why, sizeof(why), "fd holder %ld: %s", (long)victim,
					 kill(victim, 0) == 0 ? "still there 5 s after SIGKILL" :
					 "no new holder holding the endpoint within 15 s");
				victim = -1;
			}
			else
				itest_kill_on_bailout(itest_holder_pid(&d));
			break;
		case 4:
			kill_guest(QEMU);
			spawn(QEMU);
			break;
		}
		ms = victim < 0 ? -1 : wait_progress(3);
		if (ms > worst)
			worst = ms;
		if (ms > slow[v])
			slow[v] = ms;
		sum[v] += ms > 0 ? ms : 0;
		if (ms < 0 || !guests_alive(why, sizeof(why)) || !itest_daemon_alive(&d)) {
			if (!why[0])
				snprintf(why, sizeof(why), "%s", !itest_daemon_alive(&d) ?
					 "hostrpcd is gone" : victim < 0 ? "the kill failed" : stuck);
			tap_diag("iteration %d: %s (guest %d) after %d ms: not back within %d ms: %s",
				 it, victims[v], who, delay, RECOVER_MS, why);
			failed_iter = it;
			failed_v = v;
			log_tail(60);
			stuck_holders();
		}
	}
	tap_diag("%d iterations in %.1f s; kills: %d process guest, %d worker, %d supervisor, "
		 "%d fd holder, %d fake QEMU; slowest recovery %d ms",
		 failed_iter < 0 ? iters : failed_iter, (hrpc_now_ns() - t0) / 1e9, kills[0],
		 kills[1], kills[2], kills[3], kills[4], worst);
	for (int v = 0; v < 5; v++)
		tap_diag("%-14s killed %3d times, back in %4d ms on average, %5d at worst",
			 victims[v], kills[v], kills[v] ? sum[v] / kills[v] : 0, slow[v]);
	{
		char at[400] = "";

		if (failed_iter >= 0)
			snprintf(at, sizeof(at), ": not at iteration %d (killed %s): %s",
				 failed_iter, victims[failed_v], why);
		tap_ok(failed_iter < 0, "after every kill the victim came back and every guest "
		       "made checked calls again (within %d ms)%s", RECOVER_MS, at);
	}

	/* The last sample, then the samples must be flat. */
	if (nsmp < MAX_SAMPLES) {
		pid_t h = itest_holder_pid(&d);

		wait_progress(3);
		smp[nsmp++] = (struct sample){
			.iter = iters, .sup_fd = held_fds(d.pid), .holder_fd = held_fds(h),
			.sup_rss = itest_rss_kib(d.pid), .holder_rss = itest_rss_kib(h),
		};
	}
	{
		int max_sfd = 0, max_hfd = 0;
		long max_srss = 0, max_hrss = 0;
		bool flat;

		tap_diag("%6s %10s %12s %10s %12s", "iter", "sup fds", "sup RSS KiB", "holder fds",
			 "holder KiB");
		for (int i = 0; i < nsmp; i++) {
			tap_diag("%6d %10d %12ld %10d %12ld", smp[i].iter, smp[i].sup_fd,
				 smp[i].sup_rss, smp[i].holder_fd, smp[i].holder_rss);
			if (i > 0) {
				max_sfd = MAX(max_sfd, smp[i].sup_fd);
				max_hfd = MAX(max_hfd, smp[i].holder_fd);
				max_srss = MAX(max_srss, smp[i].sup_rss);
				max_hrss = MAX(max_hrss, smp[i].holder_rss);
			}
		}
		/* Descriptors: a few of slack (a guest whose reconnect is
		 * still being handed to its worker); RSS: an allocator's
		 * settling, not growth per iteration. */
		flat = nsmp >= 2 && max_sfd <= smp[0].sup_fd + 4 && max_hfd <= smp[0].holder_fd + 2 &&
		       max_srss <= smp[0].sup_rss + smp[0].sup_rss / 4 + 2048 &&
		       max_hrss <= smp[0].holder_rss + smp[0].holder_rss / 4 + 1024;
		tap_ok(flat, "descriptors and RSS of the supervisor and the fd holder stay flat "
		       "(%d samples)", nsmp);
	}

	/* The end: every guest goes, every worker with it, every stream ends:
	 * the sink has read each connection to its end, and none still waits
	 * in the listen queue (one the worker had sent on and then closed
	 * before the sink thread took it: its bytes count too). */
	for (int i = 0; i < NGUESTS; i++)
		kill_guest(i);
	for (int waited = 0; waited < 5000; waited += 20) {
		struct pollfd lq = { .fd = sink_fd, .events = POLLIN };
		int n;

		pthread_mutex_lock(&lock);
		n = nsink;
		pthread_mutex_unlock(&lock);
		n += poll(&lq, 1, 0) > 0;
		if (n == 0)
			break;
		sleep_ms(20);
	}
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	/* What the guests said last, up to their end. */
	for (int i = 0; i < NGUESTS; i++)
		drain(&guests[i]);
	{
		GHashTableIter hi;
		struct conn *c;
		uint64_t n = 0, cut = 0, lost = 0, extra = 0, corrupt = 0, unknown = 0, echoes = 0;

		g_hash_table_iter_init(&hi, conns);
		while (g_hash_table_iter_next(&hi, NULL, (gpointer *)&c)) {
			n++;
			if (c->seen && !c->told) {
				tap_diag("stream %#llx: %llu bytes no guest said it sent",
					 (unsigned long long)c->id, (unsigned long long)c->received);
				unknown++;
				continue;
			}
			if (c->corrupt)
				corrupt++;
			if (c->received < c->acked) {
				lost++;
				tap_diag("stream %#llx: %llu bytes acknowledged, %llu arrived",
					 (unsigned long long)c->id, (unsigned long long)c->acked,
					 (unsigned long long)c->received);
			} else if (c->received > c->acked + c->inflight) {
				extra++;
				tap_diag("stream %#llx: %llu arrived, only %llu + %llu in flight sent",
					 (unsigned long long)c->id, (unsigned long long)c->received,
					 (unsigned long long)c->acked, (unsigned long long)c->inflight);
			}
			cut += c->received != c->acked + c->inflight && c->inflight;
		}
		for (int i = 0; i < NGUESTS; i++)
			echoes += guests[i].echoes;
		tap_diag("%llu streams (%llu cut short by a kill), %llu bytes checked by the sink; "
			 "%llu checked echo calls", (unsigned long long)n, (unsigned long long)cut,
			 (unsigned long long)sink_bytes, (unsigned long long)echoes);
		tap_ok(nsink == 0 && n > (uint64_t)iters / 4 && corrupt == 0 && unknown == 0 &&
		       bad_records == 0,
		       "every stream's bytes arrived in order, none doubled, none from nowhere; "
		       "no corrupted echo reply (%d still open)", nsink);
		tap_ok(lost == 0 && extra == 0,
		       "every acknowledged byte arrived, nothing beyond the call in flight at a kill "
		       "(%llu short, %llu over)", (unsigned long long)lost,
		       (unsigned long long)extra);
	}
	tap_ok(itest_daemon_alive(&d) && !itest_log_wait(&d, 0, "critical", NULL),
	       "hostrpcd runs after %llu restarts; nothing critical logged",
	       (unsigned long long)restarts);
out:
	{
		/* The holder outlives a stopped daemon by design; not ours. */
		pid_t h[16];
		int n = holders(h, 16);

		rc = itest_daemon_stop(&d);
		for (int i = 0; i < n; i++)
			kill(h[i], SIGKILL);
	}
	tap_ok(rc != -2, "no sanitizer report in the logs of any start of hostrpcd or its workers");
	unlink(path);
	rmdir(conf);
	return tap_done();
}
