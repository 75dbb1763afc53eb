/* SPDX-License-Identifier: MIT */
/*
 * hostile-neighbour - what one hostile guest costs a well-behaved neighbour.
 *
 * A neighbour process guest does echo PING round trips through its own
 * hostrpcd worker the whole time, recording when each call started and how
 * long it took.  Meanwhile the test runs each attack in turn from a second,
 * hostile process guest (a fresh connection, so its own worker):
 *
 *   forge     reconnect and break the ring (forged producer index, a half
 *             record, a malformed header, a forged consumer index), in a loop
 *   doorbell  ring the worker's doorbell in a tight loop, posting nothing
 *             (XSA-391: an event storm must not buy a guest the host's CPU)
 *   ivbell    the same from a (fake) QEMU on an ivshmem endpoint: the
 *             doorbell vector's eventfd, as the guest's MMIO writes ring it
 *   sock      use up its socket quota, then keep asking for more
 *   fs        use up its open-file quota on an export, then keep asking
 *   mem       use up its pin quota, then keep asking for more (and now and
 *             then unpin and pin one chunk again)
 *   stall     fill the request ring and never read a response, nor the
 *             events the host's edits of a file it holds make
 *   silent    connect and never say HELLO (--hello-timeout 4), eight at once
 *
 * and, as a control, a busy guest that does nothing wrong:
 *
 *   busy      echo PINGs as fast as it can, at the attackers' nice 19
 *
 * Each runs CYCLES times, interleaved with quiet windows of the same
 * neighbour (so a change in the machine's background load hits both
 * sides); the neighbour's p50 and p99 in the attack windows are compared
 * with its quiet windows.  The pass criterion is p50 within 2x - or within
 * a quarter over what the control costs the neighbour, when that is more:
 * on a VM whose cross-CPU wake-ups are dear (this project's CI machine), any
 * busy pair of processes makes a neighbour that sleeps between calls wait
 * longer for its wake-ups, hostrpcd or not (two processes ringing each
 * other through eventfds, no hostrpcd at all, took a pair that pauses
 * 200 us between round trips from p50 12.8 us to 44.1 us there, x3.4; the
 * busy guest costs x2.1-2.5, the sock, fs and mem floods x2.0-2.6).  What a
 * hostile guest must not do is cost its neighbour more than a busy one.
 * p99 and the ratio to the first, undisturbed baseline are reported.  An
 * attack that misses it is measured once more, each of its windows
 * followed by one of the control, and judged against that control (a burst
 * of outside load on its windows is not its doing and costs the control as
 * much; a real cost shows again).
 * Every worker runs at its guest's nice (worker.h), checked here: the
 * attackers' at 19, the neighbour's at 0.  For each attack
 * the test also checks what the hostile guest got (fences logged with a
 * reason and its worker's exit, EMFILE, EDQUOT, hung-up connections), and
 * what its worker cost the host (CPU, descriptors, locked and resident
 * memory; a doorbell storm's CPU less an idle guest's worker's in the same
 * window, each window's figures in a diagnostic); at the end the
 * supervisor is up, holds the descriptors it started with, logged nothing
 * critical and (sanitizer build) no report.
 *
 * In a sanitizer build the control's worker pays ASan's cost per call as
 * the floods' workers do, so the bound holds there too.
 *
 * HOSTILE_NEIGHBOUR_CYCLES=N runs more cycles (default 3, about 40 s).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/mem.h"
#include "hostrpc/memfd.h"
#include "hostrpc/msg.h"
#include "hostrpc/ring.h"
#include "hostrpc/sock.h"
#include "tests/tap.h"
#include "itest.h"

#define MAX_SAMPLES  (1u << 20)
#define ATTACK_MS    1200
#define QUIET_MS     600
#define READY_MS     15000   /* an attacker's guest and worker up, at nice 19 */
#define SILENT_CONNS 8
#define MAX_SOCKETS  64
#define MAX_FILES    32
#define PIN_CHUNKS   4

/* The attacks, then the control: a busy guest that does nothing wrong. */
enum attack { A_FORGE, A_DOORBELL, A_IVBELL, A_SOCK, A_FS, A_MEM, A_STALL, A_SILENT, A_N,
	      A_BUSY = A_N, W_KINDS };
static const char *const attack_name[W_KINDS] = {
	"forge", "doorbell", "ivbell", "sock", "fs", "mem", "stall", "silent", "busy",
};

struct sample {
	uint64_t t;      /* when the call started (CLOCK_MONOTONIC ns) */
	uint32_t ns;     /* its round trip */
	uint32_t pad;
};

/* Shared between the test, the neighbour and the attackers (MAP_SHARED). */
struct shared {
	volatile int stop;
	volatile uint32_t n;             /* samples taken */
	volatile uint32_t errors;        /* neighbour calls that failed */
	volatile uint32_t max_guest_id;  /* for the memory regions' files */
	/* the attacker of the moment */
	volatile int ready;              /* its guest is up: worker_pid is set */
	volatile uint32_t worker_pid;
	volatile uint32_t forge_next;    /* the forgery the next forger tries */
	volatile uint32_t idle_pid;      /* the worker of a guest of its that
					  * does nothing (the doorbell storms
					  * are judged against it), or 0 */
	volatile uint64_t end;           /* the window ends then: UINT64_MAX
					  * until the test saw it ready and
					  * started it (now_ns() + ATTACK_MS) */
	volatile int over;               /* it stops: the test has taken its
					  * last readings of the window (a
					  * late test must not count what the
					  * attacker's end costs its worker) */
	volatile uint64_t count;         /* its attempts (connections, kicks, calls) */
	volatile uint64_t hits;          /* what it wanted to see (fences, EMFILE, ...) */
	volatile int bad;                /* it saw something it must not */
	struct sample s[MAX_SAMPLES];
};

static struct shared *sh;
static struct itest_daemon d;
static char top[256];

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static void note_id(uint32_t id)
{
	while (id > sh->max_guest_id)
		sh->max_guest_id = id;
}

/* ---- the neighbour ------------------------------------------------------------ */

static int neighbour(void)
{
	uint8_t in[64], out[64];
	hrpc_client *c;
	int rc = itest_guest_connect(d.guest_sock, "neighbour", &c);

	if (rc < 0) {
		printf("# neighbour: cannot connect: %s\n", strerror(-rc));
		return 1;
	}
	note_id(hrpc_client_guest_id(c));
	for (uint32_t i = 0; !sh->stop; i++) {
		struct hrpc_call call = {
			.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING, .req = in,
			.req_len = sizeof(in), .rep = out, .rep_cap = sizeof(out),
			.timeout_ms = 10000,
		};
		uint64_t t0;

		memset(in, (int)i, sizeof(in));
		t0 = now_ns();
		rc = hrpc_client_call(c, &call);
		if (rc < 0 || call.rep_len != sizeof(in) || memcmp(in, out, sizeof(in))) {
			sh->errors++;
			printf("# neighbour: call %u: %s\n", i, rc < 0 ? strerror(-rc) : "bad echo");
			continue;
		}
		if (sh->n < MAX_SAMPLES) {
			sh->s[sh->n].t = t0;
			sh->s[sh->n].ns = (uint32_t)(now_ns() - t0);
			__atomic_store_n(&sh->n, sh->n + 1, __ATOMIC_RELEASE);
		}
		/* A guest with something to do between calls, not a spinner:
		 * each call finds its worker asleep and rings it. */
		usleep(200);
	}
	hrpc_client_free(c);
	return 0;
}

/* ---- a process guest with its own view of the raw shared memory --------------- */

static int raw_connect(const char *name, struct itest_raw_guest *g)
{
	int rc = itest_raw_connect(d.guest_sock, name, g);

	if (rc == 0)
		note_id(hrpc_client_guest_id(g->c));
	return rc;
}

/*
 * A doorbell storm's cost is its worker's CPU less what a worker of a
 * guest that does nothing spends in the same window: a worker forked
 * moments ago on a busy machine costs something (ASan: 100 ms or more
 * to start, and CI once saw 10-12 % of a CPU for the storm worker that
 * costs 1 % here).  The idle guest connects before the storming one.
 */
static uint32_t worker_of(const char *name)
{
	struct hrpc_admin_guest info;

	return itest_admin_find(d.admin_sock, name, &info) == 0 ? info.worker_pid : 0;
}

static int connect_idle(struct itest_raw_guest *g)
{
	int rc = raw_connect("bellidle", g);

	if (rc == 0)
		sh->idle_pid = worker_of("bellidle");
	return rc;
}

/* Tell the test which worker serves this attacker. */
static void announce(const char *name)
{
	sh->worker_pid = worker_of(name);
	sh->ready = 1;
}

static int call(hrpc_client *c, uint16_t svc, uint16_t proc, const void *req, uint32_t len,
		void *rep, uint32_t cap)
{
	struct hrpc_call k = {
		.service = svc, .proc = proc, .req = req, .req_len = len, .rep = rep,
		.rep_cap = cap, .timeout_ms = 5000,
	};

	return hrpc_client_call(c, &k);
}

/* ---- the attacks (each in its own process, until sh->over) --------------------- */

static bool going(void)
{
	return !sh->over;
}

static void attack_forge(void)
{
	sh->ready = 1;    /* a new worker each round: nothing to watch */
	/* The forgeries take turns across windows: a loaded machine may
	 * connect only three times in one (and never forged a consumer
	 * index, the fourth). */
	for (unsigned int i = sh->forge_next; going(); sh->forge_next = ++i) {
		struct itest_raw_guest g;
		struct hrpc_msg_hdr h;
		struct hrpc_ring r;
		uint32_t cons;

		int rc = raw_connect("forger", &g);

		if (rc < 0) {
			printf("# forger: cannot connect: %s\n", strerror(-rc));
			sh->bad = 1;
			itest_raw_close(&g);
			continue;
		}
		sh->count++;
		cons = hrpc_read_once(g.shm->req.cons);
		switch (i % 4) {
		case 0:   /* twice the ring's size of unread requests */
			hrpc_store_release(&g.shm->req.prod, cons + 2 * hrpc_read_once(g.shm->req_size));
			break;
		case 1:   /* half a record: a header that announces more than was published */
			hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 1024);
			hrpc_ring_bind(&r, &g.shm->req, (uint8_t *)g.shm + g.shm->req_off,
				       g.shm->req_size, 1);
			hrpc_ring_copy_in(&r, cons, &h, sizeof(h));
			hrpc_store_release(&g.shm->req.prod, cons + HRPC_MSG_HDR_SIZE + 64);
			break;
		case 2:   /* a published record that is not a Host RPC header */
			hrpc_ring_bind(&r, &g.shm->req, (uint8_t *)g.shm + g.shm->req_off,
				       g.shm->req_size, 1);
			hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 0);
			h.magic = 0xdeadbeef;
			hrpc_ring_put(&r, &h, &h);
			break;
		default:  /* replies consumed that were never produced */
			hrpc_store_release(&g.shm->rsp.cons, hrpc_read_once(g.shm->rsp.prod) + 4096);
			break;
		}
		itest_raw_kick(&g);
		if (itest_hung_up(g.sock, 5000) &&
		    hrpc_load_acquire(&g.shm->host_state) == HRPC_SHM_STATE_FENCED)
			sh->hits++;
		itest_raw_close(&g);
	}
}

static void attack_doorbell(void)
{
	struct itest_raw_guest g, idle;
	uint8_t in[16] = { 0 }, out[16];

	if (connect_idle(&idle) < 0 || raw_connect("doorbell", &g) < 0) {
		sh->bad = 1;
		return;
	}
	announce("doorbell");
	while (going()) {
		for (int i = 0; i < 256; i++)
			itest_raw_kick(&g);
		sh->count += 256;
	}
	/* Rung a million times for nothing: still served (it broke no rule). */
	memset(in, 0x5a, sizeof(in));
	if (call(g.c, HRPC_SVC_ECHO, HRPC_ECHO_PING, in, sizeof(in), out, sizeof(out)) == 0 &&
	    !memcmp(in, out, sizeof(in)))
		sh->hits++;
	itest_raw_close(&g);
	itest_raw_close(&idle);
}

static void attack_ivbell(void)
{
	struct itest_raw_guest idle;
	struct itest_qemu q;
	uint8_t in[16], out[16];
	char path[400];
	hrpc_client *c;
	uint64_t one = 1;

	snprintf(path, sizeof(path), "%s/storm.ivshmem", d.dir);
	if (connect_idle(&idle) < 0) {
		sh->bad = 1;
		return;
	}
	if (itest_qemu_attach(path, "ivstorm", &q, &c) < 0) {
		printf("# ivbell: cannot attach\n");
		itest_raw_close(&idle);
		sh->bad = 1;
		return;
	}
	announce("vmstorm");
	while (going()) {
		for (int i = 0; i < 256; i++)
			(void)!write(q.host_fd[HRPC_IVSHMEM_VEC_RING], &one, sizeof(one));
		sh->count += 256;
	}
	memset(in, 0xa5, sizeof(in));
	if (call(c, HRPC_SVC_ECHO, HRPC_ECHO_PING, in, sizeof(in), out, sizeof(out)) == 0 &&
	    !memcmp(in, out, sizeof(in)))
		sh->hits++;
	hrpc_client_free(c);
	itest_qemu_disconnect(&q);
	itest_raw_close(&idle);
}

static void attack_sock(void)
{
	struct hrpc_sock_init_req ir = { .version = HRPC_SOCK_VERSION, .credit = 64 };
	struct hrpc_sock_init_rep io;
	struct hrpc_sock_socket_req sr = { .family = HRPC_AF_INET, .type = HRPC_SOCK_DGRAM };
	struct hrpc_sock_handle_rep hr;
	hrpc_client *c;
	int n = 0, rc;

	if (itest_guest_connect(d.guest_sock, "sockhog", &c) < 0) {
		sh->bad = 1;
		return;
	}
	note_id(hrpc_client_guest_id(c));
	announce("sockhog");
	if (call(c, HRPC_SVC_SOCK, HRPC_SOCK_INIT, &ir, sizeof(ir), &io, sizeof(io)) < 0 ||
	    io.max_sockets != MAX_SOCKETS)
		sh->bad = 1;
	while (going()) {
		rc = call(c, HRPC_SVC_SOCK, HRPC_SOCK_SOCKET, &sr, sizeof(sr), &hr, sizeof(hr));
		sh->count++;
		if (rc == 0 && ++n > MAX_SOCKETS)
			sh->bad = 1;          /* more than its quota */
		else if (rc == -EMFILE)
			sh->hits++;
		else if (rc < 0) {
			printf("# sockhog: SOCKET %u: %s\n", n, strerror(-rc));
			sh->bad = 1;
		}
	}
	hrpc_client_free(c);
}

static void attack_fs(void)
{
	static uint8_t buf[sizeof(struct hrpc_gfs_cred) + sizeof(struct hrpc_gfs_mount_req)];
	struct hrpc_gfs_mount_req m = { .path_len = 2 };
	struct hrpc_gfs_dir_name_req l = { 0 };
	struct hrpc_gfs_open_req o = { .flags = 0 };
	struct hrpc_gfs_entry root, e;
	struct hrpc_gfs_fh_rep fh;
	hrpc_client *c;
	int n = 0, rc;

	if (itest_guest_connect(d.guest_sock, "fshog", &c) < 0) {
		sh->bad = 1;
		return;
	}
	note_id(hrpc_client_guest_id(c));
	announce("fshog");
	memset(buf, 0, sizeof(buf));   /* the caller: root */
	memcpy(m.path, "/x", 2);
	memcpy(buf + sizeof(struct hrpc_gfs_cred), &m, sizeof(m));
	rc = call(c, HRPC_SVC_FS, HRPC_GFS_MOUNT, buf, sizeof(buf), &root, sizeof(root));
	l.parent = root.node;
	l.name.len = 1;
	l.name.name[0] = 'f';
	memcpy(buf + sizeof(struct hrpc_gfs_cred), &l, sizeof(l));
	if (rc == 0)
		rc = call(c, HRPC_SVC_FS, HRPC_GFS_LOOKUP, buf,
			  sizeof(struct hrpc_gfs_cred) + sizeof(l), &e, sizeof(e));
	if (rc < 0) {
		printf("# fshog: MOUNT /x, LOOKUP f: %s\n", strerror(-rc));
		sh->bad = 1;
		hrpc_client_free(c);
		return;
	}
	o.node = e.node;
	memcpy(buf + sizeof(struct hrpc_gfs_cred), &o, sizeof(o));
	while (going()) {
		rc = call(c, HRPC_SVC_FS, HRPC_GFS_OPEN, buf, sizeof(struct hrpc_gfs_cred) + sizeof(o),
			  &fh, sizeof(fh));
		sh->count++;
		if (rc == 0 && ++n > MAX_FILES)
			sh->bad = 1;
		else if (rc == -EMFILE || rc == -ENFILE)
			sh->hits++;
		else if (rc < 0) {
			printf("# fshog: OPEN %u: %s\n", n, strerror(-rc));
			sh->bad = 1;
		}
	}
	hrpc_client_free(c);
}

static void attack_mem(void)
{
	struct hrpc_mem_hello_req h = { .version = HRPC_MEM_VERSION, .bar_size = 64ull << 20 };
	struct hrpc_mem_hello_rep hr;
	hrpc_client *c;
	int rc;

	if (itest_guest_connect(d.guest_sock, "memhog", &c) < 0) {
		sh->bad = 1;
		return;
	}
	note_id(hrpc_client_guest_id(c));
	announce("memhog");
	rc = call(c, HRPC_SVC_MEM, HRPC_MEM_HELLO, &h, sizeof(h), &hr, sizeof(hr));
	if (rc < 0 || hr.pin_quota != PIN_CHUNKS || hr.granted < 2 * PIN_CHUNKS) {
		printf("# memhog: HELLO %d, pin quota %u, granted %u\n", rc, hr.pin_quota, hr.granted);
		sh->bad = 1;
		hrpc_client_free(c);
		return;
	}
	/* Its whole quota pinned, then more asked for, and now and then one
	 * chunk let go and taken again.  (A tight PIN/UNPIN loop of the whole
	 * quota is a different load: mlock of 8 MiB per call keeps its worker
	 * at 70-80 % of a CPU, a guest's legitimate if greedy use, which the
	 * neighbour felt as 1.1-1.6x on p50 here: too close to the bound to
	 * be a stable test on a loaded CI machine.) */
	{
		struct hrpc_mem_range_req all = { .first = 0, .count = PIN_CHUNKS };

		if (call(c, HRPC_SVC_MEM, HRPC_MEM_PIN, &all, sizeof(all), NULL, 0) < 0) {
			printf("# memhog: cannot pin its quota\n");
			sh->bad = 1;
		}
	}
	for (unsigned int i = 0; going() && !sh->bad; i++) {
		struct hrpc_mem_range_req more = { .first = PIN_CHUNKS + i % PIN_CHUNKS, .count = 1 };
		struct hrpc_mem_range_req one = { .first = i % PIN_CHUNKS, .count = 1 };
		int b = call(c, HRPC_SVC_MEM, HRPC_MEM_PIN, &more, sizeof(more), NULL, 0);

		sh->count++;
		if (b == -EDQUOT)
			sh->hits++;
		else {
			printf("# memhog: PIN past the quota: %d\n", b);
			sh->bad = 1;
		}
		if (i % 64 == 63 &&
		    (call(c, HRPC_SVC_MEM, HRPC_MEM_UNPIN, &one, sizeof(one), NULL, 0) < 0 ||
		     call(c, HRPC_SVC_MEM, HRPC_MEM_PIN, &one, sizeof(one), NULL, 0) < 0)) {
			printf("# memhog: UNPIN and PIN of chunk %u failed\n", one.first);
			sh->bad = 1;
		}
	}
	hrpc_client_free(c);
}

static void attack_stall(void)
{
	struct itest_raw_guest g;
	struct hrpc_msg_hdr h;
	struct hrpc_ring r;
	uint8_t payload[64] = { 0 };
	uint64_t id = 1u << 20;
	char file[320];

	if (raw_connect("staller", &g) < 0) {
		sh->bad = 1;
		return;
	}
	announce("staller");
	/* It holds a file of the export: the host's edits of it make events
	 * for a guest that reads none. */
	{
		static uint8_t buf[sizeof(struct hrpc_gfs_cred) + sizeof(struct hrpc_gfs_mount_req)];
		struct hrpc_gfs_mount_req m = { .path_len = 2 };
		struct hrpc_gfs_dir_name_req l = { 0 };
		struct hrpc_gfs_entry root, e;
		int rc;

		memset(buf, 0, sizeof(buf));
		memcpy(m.path, "/x", 2);
		memcpy(buf + sizeof(struct hrpc_gfs_cred), &m, sizeof(m));
		rc = call(g.c, HRPC_SVC_FS, HRPC_GFS_MOUNT, buf, sizeof(buf), &root, sizeof(root));
		l.parent = root.node;
		l.name.len = 1;
		l.name.name[0] = 'f';
		memcpy(buf + sizeof(struct hrpc_gfs_cred), &l, sizeof(l));
		if (rc == 0)
			rc = call(g.c, HRPC_SVC_FS, HRPC_GFS_LOOKUP, buf,
				  sizeof(struct hrpc_gfs_cred) + sizeof(l), &e, sizeof(e));
		if (rc < 0) {
			printf("# staller: MOUNT /x, LOOKUP f: %s\n", strerror(-rc));
			sh->bad = 1;
		}
	}
	snprintf(file, sizeof(file), "%s/export/f", top);
	hrpc_ring_bind(&r, &g.shm->req, (uint8_t *)g.shm + g.shm->req_off, g.shm->req_size, 1);
	/* Calls for as long as there is room, and never a response read: the
	 * worker must stop when the response ring is full, not buffer for us;
	 * the events it has for us meanwhile (the host appends to the file
	 * every millisecond) go nowhere, and cost it nothing that grows. */
	while (going()) {
		int fd;

		hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, id, sizeof(payload));
		if (hrpc_ring_put(&r, &h, payload) == 0) {
			id++;
			sh->count++;
			continue;
		}
		itest_raw_kick(&g);
		fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "+", 1);
			close(fd);
		}
		sleep_ms(1);
	}
	/* The responses that fitted are there; the rest waits. */
	if (hrpc_read_once(g.shm->rsp.prod) - hrpc_read_once(g.shm->rsp.cons) >
	    hrpc_read_once(g.shm->rsp_size) / 2)
		sh->hits++;
	itest_raw_close(&g);
}

static void attack_silent(void)
{
	int s[SILENT_CONNS];
	uint64_t until;

	sh->ready = 1;
	for (int i = 0; i < SILENT_CONNS; i++) {
		s[i] = itest_unix_connect(d.guest_sock);
		sh->count++;
	}
	/* --hello-timeout 4: each is hung up 4 s after it came (waited for
	 * past the window; 4 s, as a loaded machine may take a second or
	 * more to start a well-behaved guest's worker and hear its HELLO). */
	while (sh->end == UINT64_MAX)
		sleep_ms(5);
	until = sh->end + 8000000000ull;
	for (int i = 0; i < SILENT_CONNS; i++) {
		int64_t left = ((int64_t)until - (int64_t)now_ns()) / 1000000;

		if (s[i] >= 0 && itest_hung_up(s[i], left > 0 ? (int)left : 0))
			sh->hits++;
		if (s[i] >= 0)
			close(s[i]);
	}
}

/*
 * The control, not an attack: a busy guest that does nothing wrong - echo
 * PINGs through its own worker as fast as it can, at the attackers' nice
 * 19, as the sock, fs and mem floods make calls but with every call
 * answered.  What it costs the neighbour is what any busy guest costs it on
 * this machine.
 */
static void busy_tenant(void)
{
	uint8_t in[64] = { 0 }, out[64];
	hrpc_client *c;

	if (itest_guest_connect(d.guest_sock, "busy", &c) < 0) {
		sh->bad = 1;
		return;
	}
	note_id(hrpc_client_guest_id(c));
	announce("busy");
	while (going()) {
		int rc = call(c, HRPC_SVC_ECHO, HRPC_ECHO_PING, in, sizeof(in), out, sizeof(out));

		sh->count++;
		if (rc == (int)sizeof(in) || rc == 0)
			sh->hits++;
		else {
			printf("# busy: PING: %s\n", rc < 0 ? strerror(-rc) : "short");
			sh->bad = 1;
			break;
		}
	}
	hrpc_client_free(c);
}

static void run_attack(enum attack a)
{
	switch (a) {
	case A_FORGE: attack_forge(); break;
	case A_DOORBELL: attack_doorbell(); break;
	case A_IVBELL: attack_ivbell(); break;
	case A_SOCK: attack_sock(); break;
	case A_FS: attack_fs(); break;
	case A_MEM: attack_mem(); break;
	case A_STALL: attack_stall(); break;
	case A_SILENT: attack_silent(); break;
	case A_BUSY: busy_tenant(); break;
	case W_KINDS: break;
	}
}

/* ---- what a worker costs ------------------------------------------------------ */

struct cost {
	double cpu_s;      /* user + system */
	long nice;
	long fds;
	long vm_lck_kb, vm_rss_kb;
};

static void cost_of(pid_t pid, struct cost *c)
{
	char path[64], line[512];
	unsigned long ut = 0, st = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->fds = -1;
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, ')');

		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu "
				"%*d %*d %*d %ld", &ut, &st, &c->nice) == 3)
			c->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmLck: %ld", &c->vm_lck_kb);
		sscanf(line, "VmRSS: %ld", &c->vm_rss_kb);
	}
	if (f)
		fclose(f);
	c->fds = itest_fd_count(pid);
}

/* ---- windows and statistics --------------------------------------------------- */

struct window {
	uint64_t t0, t1;
	bool attack;
};

#define MAX_WINDOWS 256
static struct window win[W_KINDS][MAX_WINDOWS];
static int nwin[W_KINDS];

static void mark(enum attack a, uint64_t t0, uint64_t t1, bool attack)
{
	if (nwin[a] < MAX_WINDOWS)
		win[a][nwin[a]++] = (struct window){ t0, t1, attack };
}

/* What each attack cost, over all its windows. */
static struct cost cost_end[W_KINDS];
static double idle_cpu[W_KINDS];
static double cpu[W_KINDS], win_s[W_KINDS], sup_cpu[W_KINDS], sup_s[W_KINDS];
static long worker_nice[W_KINDS];   /* the lowest nice an attacker's worker had (99: none) */
static uint64_t count[W_KINDS], hits[W_KINDS];
static int bad[W_KINDS];
static int late[W_KINDS];           /* windows whose attacker was not up in READY_MS */

/* For a TAP line: the windows that never started. */
static const char *late_note(enum attack a)
{
	static char buf[96];

	if (!late[a])
		return "";
	snprintf(buf, sizeof(buf), "; in %d window%s its guest was not up within %d s", late[a],
		 late[a] > 1 ? "s" : "", READY_MS / 1000);
	return buf;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 (microseconds) of the samples in a's windows of one kind,
 * from its window `from` on. */
static uint32_t pct_from(enum attack a, bool attack, int from, double *p50, double *p99)
{
	uint32_t n = __atomic_load_n(&sh->n, __ATOMIC_ACQUIRE), k = 0;
	uint32_t *v = malloc(sizeof(*v) * (n + 1));

	for (uint32_t i = 0; i < n; i++)
		for (int w = from; w < nwin[a]; w++)
			if (win[a][w].attack == attack && sh->s[i].t >= win[a][w].t0 &&
			    sh->s[i].t < win[a][w].t1) {
				v[k++] = sh->s[i].ns;
				break;
			}
	qsort(v, k, sizeof(*v), cmp_u32);
	*p50 = k ? v[k / 2] / 1000.0 : 0;
	*p99 = k ? v[(uint32_t)(k * 0.99)] / 1000.0 : 0;
	free(v);
	return k;
}

static uint32_t pct(enum attack a, bool attack, double *p50, double *p99)
{
	return pct_from(a, attack, 0, p50, p99);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int count_lines(const char *a, const char *b)
{
	char *log = itest_log(&d), *p, *nl;
	int n = 0;

	for (p = log; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		if (strstr(p, a) && (!b || strstr(p, b)))
			n++;
		if (!nl)
			break;
	}
	free(log);
	return n;
}

static double pct_of(double cpu_s, double s)
{
	return s > 0 ? 100.0 * cpu_s / s : 0.0;
}

/* A doorbell storm costs its worker under 10 % of a CPU more than an idle
 * guest's worker costs in the same windows (unthrottled, 85-100 %). */
static void storm_ok(enum attack a, const char *what)
{
	double extra = pct_of(cpu[a] - idle_cpu[a], win_s[a]);

	tap_ok(win_s[a] > 0 && extra < 10.0,
	       "%s: %llu %s cost its worker %.0f %% of a CPU more than an idle guest's worker in "
	       "the same windows (%.0f %%; < 10 %%)", attack_name[a], (unsigned long long)count[a],
	       what, extra, pct_of(idle_cpu[a], win_s[a]));
}

/* One quiet window of the neighbour, then one of attack `a`. */
static void one_window(enum attack a)
{
	struct cost c0, c1, s0, s1, i0, i1;
	uint64_t q0, t0, t1, end;
	char idle[64] = "";
	pid_t at, wp, ip;
	int st;

	/* quiet */
	q0 = now_ns();
	sleep_ms(QUIET_MS);
	mark(a, q0, now_ns(), false);
	/* attack: the window starts once the attacker is up (at nice 19 on
	 * a loaded machine its guest and worker may take seconds to start) */
	sh->ready = 0;
	sh->worker_pid = 0;
	sh->idle_pid = 0;
	sh->count = sh->hits = 0;
	sh->bad = 0;
	sh->end = UINT64_MAX;
	sh->over = 0;
	fflush(stdout);
	at = fork();
	if (at == 0) {
		/* The attacker's own CPU is its vCPU, which in a
		 * VM is its share and no more: nice 19 stands for
		 * that.  What it costs the host - its worker, the
		 * supervisor - runs as it would for anyone. */
		(void)!nice(19);
		run_attack(a);
		fflush(stdout);
		_exit(0);
	}
	itest_kill_on_bailout(at);
	end = now_ns() + READY_MS * 1000000ull;
	while (!sh->ready && now_ns() < end)
		sleep_ms(5);
	if (!sh->ready) {
		/* no window: stop it, and say so */
		sh->end = 0;
		sh->over = 1;
		late[a]++;
		waitpid(at, &st, 0);
		bad[a] = 1;
		return;
	}
	wp = (pid_t)sh->worker_pid;     /* announce() set it before ready */
	ip = (pid_t)sh->idle_pid;
	cost_of(wp, &c0);
	cost_of(ip, &i0);
	cost_of(d.pid, &s0);
	t0 = now_ns();
	end = t0 + ATTACK_MS * 1000000ull;
	sh->end = end;
	while (now_ns() < end)
		sleep_ms(10);
	cost_of(wp, &c1);
	cost_of(ip, &i1);
	cost_of(d.pid, &s1);
	t1 = now_ns();
	sh->over = 1;
	sup_cpu[a] += s1.cpu_s - s0.cpu_s;
	sup_s[a] += (double)(t1 - t0) / 1e9;
	mark(a, t0, t1, true);
	waitpid(at, &st, 0);
	if (wp) {
		if (c1.nice < worker_nice[a])
			worker_nice[a] = c1.nice;
		cpu[a] += c1.cpu_s - c0.cpu_s;
		win_s[a] += (double)(t1 - t0) / 1e9;
		if (ip) {
			idle_cpu[a] += i1.cpu_s - i0.cpu_s;
			snprintf(idle, sizeof(idle), "; an idle guest's worker %.0f ms",
				 1000 * (i1.cpu_s - i0.cpu_s));
		}
		/* each window's share, so that a total over a bound says
		 * whether one window or all of them were dear */
		tap_diag("%s: worker %d spent %.0f ms of CPU in a %.0f ms window (%.0f ms "
			 "before it)%s, %llu attempts", attack_name[a], (int)wp,
			 1000 * (c1.cpu_s - c0.cpu_s), (double)(t1 - t0) / 1e6, 1000 * c0.cpu_s,
			 idle, (unsigned long long)sh->count);
		if (c1.fds > cost_end[a].fds)
			cost_end[a].fds = c1.fds;
		if (c1.vm_lck_kb > cost_end[a].vm_lck_kb)
			cost_end[a].vm_lck_kb = c1.vm_lck_kb;
		if (c1.vm_rss_kb - c0.vm_rss_kb > cost_end[a].vm_rss_kb)
			cost_end[a].vm_rss_kb = c1.vm_rss_kb - c0.vm_rss_kb;
		/* its worker goes with it: the next window is quiet */
		itest_pid_gone(wp, 5000);
		if (ip)
			itest_pid_gone(ip, 5000);
	}
	count[a] += sh->count;
	hits[a] += sh->hits;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		tap_diag("%s: the attacker ended with status %#x", attack_name[a], st);
	bad[a] |= sh->bad || !WIFEXITED(st) || WEXITSTATUS(st);
}

int main(void)
{
	char sockpol[300], fspol[300], mempol[300], path[400], conf[600];
	char a_sock[320], a_fs[320], a_mem[320];
	const char *extra[] = { "--hello-timeout", "4", a_sock, a_fs, a_mem,
				"--ivshmem", "vmstorm=@DIR@/storm.ivshmem", "--ivshmem-size", "4M",
				NULL };
	struct cost nb_cost = { .fds = -1 };
	double base50, base99, busy_x = 0, bound = 2.0, abound[A_N], actl[A_N] = { 0 };
	double b50 = 0, b99 = 0, bq50 = 0, bq99 = 0;
	uint32_t bnx = 0, bnq = 0;
	int cycles = 3, baseline, rc, lock;
	uint64_t t;
	pid_t nb;

	if (geteuid() != 0)
		tap_skip_all("needs root (an fs export, memory regions in /dev/shm)");
	if (getenv("HOSTILE_NEIGHBOUR_CYCLES"))
		cycles = atoi(getenv("HOSTILE_NEIGHBOUR_CYCLES"));
	if (cycles < 1 || cycles * 2 * 2 > MAX_WINDOWS)
		cycles = 3;
	tap_plan(2 + 1 + 2 * A_N + 9 + 6);
	for (int a = 0; a < W_KINDS; a++)
		worker_nice[a] = 99;
	/* (three times: each attack may be measured again, with the control) */
	itest_watchdog(60 + 3 * (unsigned int)cycles * W_KINDS * (ATTACK_MS + QUIET_MS + 1500) /
		       1000);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	/* Memory regions are /dev/shm/hostrpc-mem-guest-ID: one daemon with
	 * memory policies at a time (as memitest_start()); held to the end. */
	lock = open("/dev/shm/hostrpc-mem-itest.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		tap_diag("cannot take /dev/shm/hostrpc-mem-itest.lock: running unserialised");

	snprintf(top, sizeof(top), "%s/hostrpc-neigh.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(top))
		return 1;
	snprintf(sockpol, sizeof(sockpol), "%s/sock", top);
	snprintf(fspol, sizeof(fspol), "%s/fs", top);
	snprintf(mempol, sizeof(mempol), "%s/mem", top);
	mkdir(sockpol, 0755);
	mkdir(fspol, 0755);
	mkdir(mempol, 0755);
	snprintf(path, sizeof(path), "%s/export", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/export/f", top);
	write_file(path, "a file to open too often\n");
	snprintf(path, sizeof(path), "%s/default.conf", sockpol);
	snprintf(conf, sizeof(conf), "max-sockets %d\n", MAX_SOCKETS);
	write_file(path, conf);
	snprintf(path, sizeof(path), "%s/default.conf", fspol);
	snprintf(conf, sizeof(conf), "export x %s/export ids=passthrough\nmax-files %d\n", top,
		 MAX_FILES);
	write_file(path, conf);
	snprintf(path, sizeof(path), "%s/default.conf", mempol);
	snprintf(conf, sizeof(conf), "[memory]\nregion-mib=64\ngrant-mib=32\npin-quota-mib=%d\n",
		 PIN_CHUNKS * 2);
	write_file(path, conf);
	snprintf(a_sock, sizeof(a_sock), "--sock-policy-dir=%s", sockpol);
	snprintf(a_fs, sizeof(a_fs), "--fs-policy-dir=%s", fspol);
	snprintf(a_mem, sizeof(a_mem), "--mem-policy-dir=%s", mempol);

	rc = itest_daemon_start(&d, extra);
	if (!tap_ok(rc == 0, "hostrpcd starts with socket, fs and memory policies")) {
		itest_log_dump(&d);
		return 1;
	}

	baseline = itest_fd_baseline(d.pid);
	fflush(stdout);
	nb = fork();
	if (nb == 0)
		_exit(neighbour());
	itest_kill_on_bailout(nb);
	t = now_ns();
	while (sh->n < 100 && now_ns() - t < 10000000000ull)
		sleep_ms(10);

	/* The neighbour alone (for the report; the criterion is the quiet
	 * windows interleaved with the attacks): 1.5 s, or as long as it
	 * takes to get 1000 round trips on a machine busy with other work,
	 * up to 15 s. */
	sleep_ms(200);
	t = now_ns();
	{
		uint32_t n0 = sh->n, k;
		uint64_t t1;

		do
			sleep_ms(100);
		while ((now_ns() - t < 1500000000ull || sh->n - n0 < 1000) &&
		       now_ns() - t < 15000000000ull);
		t1 = now_ns();
		mark(0, t, t1, false);
		k = pct(0, false, &base50, &base99);
		nwin[0] = 0;
		tap_ok(k >= 1000, "the neighbour alone: %u round trips in %.1f s, p50 %.1f us, "
		       "p99 %.1f us", k, (double)(t1 - t) / 1e9, base50, base99);
	}

	for (int c = 0; c < cycles; c++)
		for (int a = 0; a < W_KINDS; a++)
			one_window(a);
	bnq = pct(A_BUSY, false, &bq50, &bq99);
	bnx = pct(A_BUSY, true, &b50, &b99);
	busy_x = bq50 > 0 ? b50 / bq50 : 0;
	/* A quarter over the control: the spread of this ratio between runs
	 * of one load (sock x2.0-2.6 over five runs here). */
	bound = 1.25 * busy_x > 2.0 ? 1.25 * busy_x : 2.0;
	for (int a = 0; a < A_N; a++)
		abound[a] = bound;
	/*
	 * A burst of load from outside (another test, another tenant) that
	 * falls on the attack windows of one attack reads as that attack's
	 * doing.  Such an attack is measured once more over as many cycles
	 * again, each window followed by one of the control, and judged on
	 * that against the control of the same minutes: an attack that does
	 * hurt the neighbour does it again (the audit flood above did, every
	 * time), a burst from outside costs the control as much (CI: fs x2.57
	 * measured again alone, against a control of x1.29 minutes before).
	 */
	for (int a = 0; a < A_N; a++) {
		double q50, q99, x50, x99;
		uint32_t nx = pct(a, true, &x50, &x99);

		pct(a, false, &q50, &q99);
		if (nx >= 100 && q50 > 0 && x50 / q50 <= bound)
			continue;
		tap_diag("%s: neighbour p50 x%.2f over %u samples: measured again", attack_name[a],
			 q50 > 0 ? x50 / q50 : 99.0, nx);
		nwin[a] = 0;
		{
			int from = nwin[A_BUSY];
			double cq50, cq99, cx50, cx99;

			for (int c = 0; c < cycles; c++) {
				one_window(a);
				one_window(A_BUSY);
			}
			pct_from(A_BUSY, false, from, &cq50, &cq99);
			pct_from(A_BUSY, true, from, &cx50, &cx99);
			actl[a] = cq50 > 0 ? cx50 / cq50 : 0;
			abound[a] = 1.25 * actl[a] > 2.0 ? 1.25 * actl[a] : 2.0;
		}
	}
	{
		/* hostrpcd runs a worker at its guest's nice (worker.h). */
		struct hrpc_admin_guest info;

		if (itest_admin_find(d.admin_sock, "neighbour", &info) == 0)
			cost_of((pid_t)info.worker_pid, &nb_cost);
	}
	sh->stop = 1;

	tap_ok(bnx >= 100 && bnq >= 100 && !bad[A_BUSY],
	       "busy     (the control: a busy guest that does nothing wrong, %llu calls) "
	       "neighbour p50 %.1f us (quiet %.1f us, x%.2f), p99 %.1f us (quiet %.1f us, "
	       "x%.2f); %u and %u samples: an attack may cost the neighbour x%.2f (2, or a "
	       "quarter over this if more)%s", (unsigned long long)count[A_BUSY], b50, bq50,
	       busy_x, b99, bq99, bq99 > 0 ? b99 / bq99 : 0, bnx, bnq, bound, late_note(A_BUSY));
	for (int a = 0; a < A_N; a++) {
		double q50, q99, x50, x99;
		uint32_t nq = pct(a, false, &q50, &q99), nx = pct(a, true, &x50, &x99);
		double r = q50 > 0 ? x50 / q50 : 99;
		char again[64] = "";

		if (actl[a] > 0)
			snprintf(again, sizeof(again), "; measured again beside the control at x%.2f",
				 actl[a]);
		tap_ok(nx >= 100 && r <= abound[a],
		       "%-8s neighbour p50 %.1f us (quiet %.1f us, x%.2f <= x%.2f; baseline x%.2f), "
		       "p99 %.1f us (quiet %.1f us, x%.2f); %u and %u samples%s", attack_name[a], x50,
		       q50, r, abound[a], base50 > 0 ? x50 / base50 : 0, x99, q99,
		       q99 > 0 ? x99 / q99 : 0, nx, nq, again);
		tap_ok(!bad[a] && hits[a] > 0,
		       "%-8s the attacker got what a hostile guest gets: %llu of %llu attempts "
		       "(worker: %.0f %% of a CPU, %ld fds, VmLck %ld kB, RSS +%ld kB; supervisor "
		       "%.0f %%)%s", attack_name[a], (unsigned long long)hits[a],
		       (unsigned long long)count[a], pct_of(cpu[a], win_s[a]), cost_end[a].fds,
		       cost_end[a].vm_lck_kb, cost_end[a].vm_rss_kb, pct_of(sup_cpu[a], sup_s[a]),
		       late_note(a));
	}
	/* The supervisor is every guest's: no attack buys its CPU (it did,
	 * 41 %, while each refused PIN sent it an audit record). */
	{
		double worst = 0;
		int wa = 0;

		for (int a = 0; a < A_N; a++)
			if (sup_s[a] > 0 && sup_cpu[a] / sup_s[a] > worst) {
				worst = sup_cpu[a] / sup_s[a];
				wa = a;
			}
		tap_ok(worst < 0.2, "the supervisor spent at most %.0f %% of a CPU under any attack "
		       "(%s; < 20 %%)", 100 * worst, attack_name[wa]);
	}
	/* What each attack must have cost it, and only it. */
	tap_ok(hits[A_FORGE] == count[A_FORGE] &&
	       count_lines("status 3 (guest fenced)", NULL) >= (int)count[A_FORGE] &&
	       count_lines("fenced:", "guest broke the ring or frame format") > 0 &&
	       count_lines("fenced:", "malformed message header") > 0 &&
	       count_lines("fenced:", "forged the response ring's consumer index") > 0,
	       "forge: every one of %llu connections fenced, each worker's exit logged with its "
	       "reason", (unsigned long long)count[A_FORGE]);
	storm_ok(A_DOORBELL, "empty doorbells");
	storm_ok(A_IVBELL, "rings of an ivshmem doorbell for nothing");
	tap_ok(cost_end[A_FS].fds > MAX_FILES && cost_end[A_FS].fds < MAX_FILES + 48,
	       "fs: the worker holds at most its %d open files and its own descriptors (%ld)",
	       MAX_FILES, cost_end[A_FS].fds);
	tap_ok(cost_end[A_SOCK].fds > MAX_SOCKETS && cost_end[A_SOCK].fds < MAX_SOCKETS + 48,
	       "sock: the worker holds at most its %d sockets and its own descriptors (%ld)",
	       MAX_SOCKETS, cost_end[A_SOCK].fds);
	tap_ok(cost_end[A_MEM].vm_lck_kb <= PIN_CHUNKS * 2048,
	       "mem: the worker never locked more than the pin quota (VmLck %ld kB <= %d kB)",
	       cost_end[A_MEM].vm_lck_kb, PIN_CHUNKS * 2048);
	tap_ok(cpu[A_STALL] / (win_s[A_STALL] > 0 ? win_s[A_STALL] : 1) < 0.5 &&
	       cost_end[A_STALL].vm_rss_kb < 16384,
	       "stall: a guest that reads no response costs its worker %.0f %% of a CPU and "
	       "+%ld kB", 100.0 * cpu[A_STALL] / (win_s[A_STALL] > 0 ? win_s[A_STALL] : 1),
	       cost_end[A_STALL].vm_rss_kb);
	{
		int wrong = 0, seen = 0;

		for (int a = 0; a < A_N; a++) {
			if (worker_nice[a] == 99)
				continue;
			seen++;
			if (worker_nice[a] != 19) {
				tap_diag("%s: its worker ran at nice %ld", attack_name[a],
					 worker_nice[a]);
				wrong++;
			}
		}
		tap_ok(seen >= 4 && !wrong && nb_cost.fds > 0 && nb_cost.nice == 0,
		       "every attacker's worker ran at nice 19, as its guest did (%d attacks, %d "
		       "not); the neighbour's at %ld, as it", seen, wrong, nb_cost.nice);
	}
	tap_ok(hits[A_SILENT] == count[A_SILENT] &&
	       count_lines("said no HELLO within 4 s", NULL) >= (int)count[A_SILENT],
	       "silent: all %llu connections that never said HELLO were hung up and logged",
	       (unsigned long long)count[A_SILENT]);

	{
		int st;

		waitpid(nb, &st, 0);
		tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && sh->errors == 0,
		       "the neighbour was served throughout: %u round trips, no error", sh->n);
	}
	rc = itest_fd_count_wait(d.pid, baseline, 5000);
	tap_ok(rc == baseline, "the supervisor is back to its %d descriptors (%d)", baseline, rc);
	if (rc != baseline)
		itest_fd_dump(d.pid);
	tap_ok(itest_daemon_alive(&d) && !itest_log_wait(&d, 0, "critical", NULL),
	       "hostrpcd still runs, nothing critical logged");
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_sanitizer_reports(&d) == 0, "no sanitizer report");
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly on SIGTERM");

	for (uint32_t id = 1; id <= sh->max_guest_id; id++) {
		snprintf(path, sizeof(path), "/dev/shm/hostrpc-mem-guest-%u", id);
		unlink(path);
	}
	unlink("/dev/shm/hostrpc-mem-vmstorm");
	snprintf(conf, sizeof(conf), "rm -rf %s", top);
	(void)!system(conf);
	return tap_done();
}
