/* SPDX-License-Identifier: MIT */
/*
 * worker-attacked - the sandbox holds when a worker is compromised
 * (sandbox.h, hostrpc/daemon/README.md "Sandboxed workers").
 *
 * A compromised worker is simulated without any hook in the daemon: the
 * test (root) attaches to a real worker with ptrace (PTRACE_SEIZE and
 * PTRACE_INTERRUPT), saves its registers and makes it run system calls of
 * our choosing at a `syscall` instruction of its own (the one it sleeps in,
 * or one found in its text), in its own context: its uid, capabilities,
 * seccomp filter and mount namespace.  Then the registers go back and the
 * worker is let go.  A worker of each service is attacked:
 *
 *   sock  a process guest with an outsourced TCP connection open to a host
 *         server;
 *   fs    an ivshmem guest with an export mounted and a file created and
 *         open (an fs worker stays uid 0 with the filesystem capabilities,
 *         in a root of its own: sandbox.h);
 *   mem   an ivshmem guest whose memory region was granted (HELLO) and
 *         written;
 *   mig   an ivshmem guest in a migration: hostrpc-migrate's port open to
 *         its worker (HELLO) and the worker quiesced, its state handed over
 *         (STATE_OUT).  The destination half needs a second host's link;
 *         the source's worker is what holds the migration here.
 *
 * Each service runs inside its guest's worker (fs-server and the memory
 * service are libraries of the worker, the migration port is handed to it):
 * the set-up checks that the export and the region are the worker's
 * descriptors and that the port's HELLO names the worker, so attacking the
 * worker is attacking the service.  Each worker in turn tries
 *   - forbidden paths: the daemon's admin socket and the fd holder's,
 *     /etc/shadow, the supervisor's root and descriptors through /proc,
 *     vm-mem's region file, the sock guest's audit log, and a file of vm-fs's
 *     export by its host path (in a private 0700 directory, as an export's
 *     parent should be): each open fails with ENOENT or EACCES (the workers'
 *     mount namespace or the fs worker's own root, the worker's uid, the
 *     ptrace access checks of /proc);
 *   - capabilities it lacks: a raw socket (CAP_NET_RAW), raising its hard
 *     descriptor limit (CAP_SYS_RESOURCE): EPERM, from the kernel's checks
 *     (the filter lets both calls through);
 *   - a forbidden system call (mount, execve, bpf, ptrace of the supervisor;
 *     a different one per worker): the filter kills it with SIGSYS.  A
 *     --enable-sanitizers build's filter answers EPERM instead (sandbox.h):
 *     there every one of them is tried, the EPERM checked, and the test then
 *     kills the worker itself (SIGKILL) to test the restart path - it says so.
 *
 * and then: the worker, and no other, died; the supervisor runs and logged
 * the death with its signal; a neighbour process guest was served throughout
 * (echo checked byte for byte, in a process of its own, with no failure);
 * the attacked guest is served again by a fresh worker (the process guest
 * reconnects, and its host connection ended with the old worker; the
 * ivshmem guests' workers are restarted by the supervisor: MOUNT and CREATE
 * in the export, the memory the guest wrote still granted and intact, a new
 * migration port reaching the fresh worker); and the supervisor holds the
 * descriptors it held.
 *
 * Before any attack, the same injection runs harmless calls (getuid, an open
 * of /proc/self/status) in each worker and the worker serves its guest
 * afterwards: the mechanism works, so a refusal is the sandbox's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>

#if defined(__x86_64__)
#include <sys/ptrace.h>
#include <sys/user.h>
#endif

#include "hostrpc/guestfs.h"
#include "hostrpc/mem.h"
#include "hostrpc/migrate.h"
#include "hostrpc/msg.h"
#include "tests/tap.h"
#include "tests/integration/itest.h"
#include "outsource/sock/sockguest.h"

#ifdef HRPC_SANITIZERS
static const bool relaxed = true;
#else
static const bool relaxed = false;
#endif

static struct itest_daemon d;

/* ---- the neighbour: served throughout -------------------------------- */

/* A process of its own (itest_echo_workload() keeps static buffers: not
 * for two threads), its counters in memory shared with us. */
struct nbstate {
	volatile int ready, stop, rounds, failures, last_rc;
};
static struct nbstate *nb;
static pid_t nb_pid;

static void neighbour(void)
{
	hrpc_client *c;
	int rc = itest_guest_connect(d.guest_sock, "neighbour", &c);

	if (rc < 0) {
		nb->last_rc = rc;
		nb->failures++;
		nb->ready = 1;
		_exit(1);
	}
	while (!nb->stop) {
		rc = itest_echo_workload(c, 1000 + nb->rounds, 20, 1);
		if (rc < 0) {
			nb->failures++;
			nb->last_rc = rc;
		}
		nb->rounds++;
		nb->ready = 1;
		usleep(2000);   /* a steady load, not a busy loop on a shared host */
	}
	hrpc_client_free(c);
	_exit(0);
}

static bool neighbour_start(void)
{
	nb = mmap(NULL, sizeof(*nb), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (nb == MAP_FAILED)
		return false;
	memset(nb, 0, sizeof(*nb));
	fflush(stdout);
	nb_pid = fork();
	if (nb_pid == 0)
		neighbour();
	if (nb_pid < 0)
		return false;
	itest_kill_on_bailout(nb_pid);
	for (int i = 0; i < 500 && !nb->ready; i++)
		usleep(10000);
	return nb->ready && !nb->failures;
}

static void neighbour_stop(void)
{
	if (nb_pid <= 0)
		return;
	nb->stop = 1;
	if (!itest_pid_gone(nb_pid, 10000))
		kill(nb_pid, SIGKILL);
	waitpid(nb_pid, NULL, 0);
	nb_pid = 0;
}

/* ---- ptrace injection (x86_64) ----------------------------------------- */

#if defined(__x86_64__)
struct inj {
	pid_t pid;
	struct user_regs_struct saved;
	unsigned long long sc;       /* address of a `syscall` instruction */
	unsigned long long scratch;  /* a page we mapped in the worker */
	bool dead;
	int status;                  /* its wait status once dead */
};

static int inj_wait(struct inj *in, int *st)
{
	while (waitpid(in->pid, st, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(*st) || WIFSIGNALED(*st)) {
		in->dead = true;
		in->status = *st;
	}
	return 0;
}

/* A `syscall` instruction (0f 05) in an executable mapping of `pid`. */
static unsigned long long find_syscall_insn(pid_t pid)
{
	char path[64], line[512];
	unsigned long long found = 0;
	FILE *maps;
	int mem;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	while (maps && mem >= 0 && !found && fgets(line, sizeof(line), maps)) {
		unsigned long long lo, hi;
		char perms[8];
		static unsigned char buf[65536];

		if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || perms[2] != 'x' ||
		    strstr(line, "[vsyscall]"))
			continue;
		for (unsigned long long a = lo; a < hi && !found; a += sizeof(buf) - 1) {
			size_t want = hi - a < sizeof(buf) ? hi - a : sizeof(buf);
			ssize_t n = pread(mem, buf, want, (off_t)a);

			for (ssize_t i = 0; i + 1 < n && !found; i++)
				if (buf[i] == 0x0f && buf[i + 1] == 0x05)
					found = a + (unsigned long long)i;
			if (n <= 0)
				break;
		}
	}
	if (maps)
		fclose(maps);
	if (mem >= 0)
		close(mem);
	return found;
}

/* Is `sig` pending for `pid` (its thread's or its process's set)? */
static bool sig_pending(pid_t pid, int sig)
{
	char path[64], line[256];
	unsigned long long mask, any = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if ((sscanf(line, "SigPnd: %llx", &mask) == 1 ||
		     sscanf(line, "ShdPnd: %llx", &mask) == 1))
			any |= mask;
	if (f)
		fclose(f);
	return any & (1ull << (sig - 1));
}

/* Can this process ptrace at all here (a container's seccomp profile, an
 * LSM)?  Tried on a child of ours. */
static int ptrace_usable(void)
{
	pid_t pid = fork();
	int rc = 0;

	if (pid == 0) {
		pause();
		_exit(0);
	}
	if (pid < 0)
		return -errno;
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		rc = -errno;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, __WALL);
	return rc;
}

static int inj_attach(struct inj *in, pid_t pid)
{
	int st, rc;

	memset(in, 0, sizeof(*in));
	in->pid = pid;
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		return -errno;
	for (;;) {
		if ((rc = inj_wait(in, &st)) < 0)
			return rc;
		if (in->dead)
			return -ESRCH;
		if (WIFSTOPPED(st) && st >> 16 == PTRACE_EVENT_STOP)
			break;
		/* A signal on its way: deliver it, the interrupt stays pending. */
		if (ptrace(PTRACE_CONT, pid, 0, (void *)(long)(WIFSTOPPED(st) ? WSTOPSIG(st) : 0)) < 0)
			return -errno;
	}
	if (ptrace(PTRACE_GETREGS, pid, 0, &in->saved) < 0)
		return -errno;
	/* Sleeping in a system call: that instruction is just behind us. */
	if ((long long)in->saved.orig_rax >= 0) {
		long w;

		errno = 0;
		w = ptrace(PTRACE_PEEKTEXT, pid, (void *)(in->saved.rip - 2), 0);
		if (!errno && (w & 0xffff) == 0x050f)
			in->sc = in->saved.rip - 2;
	}
	if (!in->sc)
		in->sc = find_syscall_insn(pid);
	return in->sc ? 0 : -ENOEXEC;
}

/*
 * Run system call `nr` in the worker.  0 with the kernel's answer in *ret
 * (-errno or a value), or -ESRCH when the worker died of it (in->status).
 */
static int inj_call(struct inj *in, long nr, unsigned long long a0, unsigned long long a1,
		    unsigned long long a2, unsigned long long a3, unsigned long long a4,
		    unsigned long long a5, long *ret)
{
	struct user_regs_struct r = in->saved;
	int st, rc;

	if (in->dead)
		return -ESRCH;
	r.rip = in->sc;
	r.rax = (unsigned long long)nr;
	r.orig_rax = (unsigned long long)-1;   /* no restart of what it slept in */
	r.rdi = a0;
	r.rsi = a1;
	r.rdx = a2;
	r.r10 = a3;
	r.r8 = a4;
	r.r9 = a5;
	if (ptrace(PTRACE_SETREGS, in->pid, 0, &r) < 0)
		return -errno;
	/* Entry stop, then the filter and the call, then the exit stop. */
	for (int stop = 0; stop < 2; stop++) {
		if (ptrace(PTRACE_SYSCALL, in->pid, 0, 0) < 0)
			return -errno;
		if ((rc = inj_wait(in, &st)) < 0)
			return rc;
		if (in->dead)
			return -ESRCH;
		if (!WIFSTOPPED(st) || WSTOPSIG(st) != (SIGTRAP | 0x80)) {
			tap_diag("worker %d: unexpected stop %#x", (int)in->pid, st);
			return -EPROTO;
		}
	}
	if (ptrace(PTRACE_GETREGS, in->pid, 0, &r) < 0)
		return -errno;
	*ret = (long)r.rax;
	/*
	 * A filter that kills skips the call (its registers rolled back, so
	 * we are at its exit stop all the same) and forces SIGSYS, delivered
	 * on the way out.  Let go of it first: it dies untraced, and its
	 * parent, the supervisor, reaps it as it would any worker (a zombie
	 * held for a tracer can make the parent's child watch see "exited,
	 * status 0").  That the supervisor saw SIGSYS is checked in its log.
	 */
	if (sig_pending(in->pid, SIGSYS)) {
		if (ptrace(PTRACE_DETACH, in->pid, 0, 0) < 0)
			return -errno;
		in->dead = true;
		in->status = SIGSYS;   /* as a wait status: killed by SIGSYS */
		return -ESRCH;
	}
	return 0;
}

/* Copy `len` bytes into the worker's scratch page at `off`. */
static int inj_poke(struct inj *in, size_t off, const void *data, size_t len)
{
	for (size_t i = 0; i < len; i += sizeof(long)) {
		long w = 0;

		memcpy(&w, (const char *)data + i, len - i < sizeof(long) ? len - i : sizeof(long));
		if (ptrace(PTRACE_POKEDATA, in->pid, (void *)(in->scratch + off + i), (void *)w) < 0)
			return -errno;
	}
	return 0;
}

static int inj_peek(struct inj *in, size_t off, void *out, size_t len)
{
	for (size_t i = 0; i < len; i += sizeof(long)) {
		long w;

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, in->pid, (void *)(in->scratch + off + i), 0);
		if (errno)
			return -errno;
		memcpy((char *)out + i, &w, len - i < sizeof(long) ? len - i : sizeof(long));
	}
	return 0;
}

static int inj_scratch(struct inj *in)
{
	long ret;
	int rc = inj_call(in, SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, (unsigned long long)-1, 0, &ret);

	if (rc < 0)
		return rc;
	if (ret < 0 && ret > -4096)
		return (int)ret;
	in->scratch = (unsigned long long)ret;
	return 0;
}

/* Put the worker back as it was and let it go. */
static int inj_detach(struct inj *in)
{
	struct user_regs_struct r = in->saved;
	long ret;

	if (in->dead)
		return 0;
	if (in->scratch)
		inj_call(in, SYS_munmap, in->scratch, 4096, 0, 0, 0, 0, &ret);
	/* It slept in a system call that the interrupt cut short: the kernel
	 * restarts such a call on the way out of the interrupt's stop, not out
	 * of the system call stop we are in now, so restart it as it would. */
	if ((long long)r.orig_rax >= 0 && r.rip == in->sc + 2) {
		long long e = (long long)r.rax;

		if (e == -512 || e == -513 || e == -514) {          /* -ERESTART{SYS,NOINTR,NOHAND} */
			r.rax = r.orig_rax;
			r.rip -= 2;
		} else if (e == -516) {                              /* -ERESTART_RESTARTBLOCK */
			r.rax = SYS_restart_syscall;
			r.rip -= 2;
		}
	}
	if (ptrace(PTRACE_SETREGS, in->pid, 0, &r) < 0)
		return -errno;
	return ptrace(PTRACE_DETACH, in->pid, 0, 0) < 0 ? -errno : 0;
}
#endif /* __x86_64__ */

/* ---- the services' guests ---------------------------------------------- */

struct vmg {
	const char *name;
	char sock[400];
	struct itest_qemu q;
	bool up;
	hrpc_client *cli;
	uint32_t gen;
};

static int fs_call(hrpc_client *c, uint16_t proc, const void *req, uint32_t len, void *rep,
		   uint32_t rep_cap)
{
	static uint8_t buf[sizeof(struct hrpc_gfs_cred) + 8192];
	struct hrpc_gfs_cred cred = { 0 };
	struct hrpc_call call = {
		.service = HRPC_SVC_FS, .proc = proc, .req = buf,
		.req_len = (uint32_t)sizeof(cred) + len, .rep = rep, .rep_cap = rep_cap,
		.timeout_ms = 5000,
	};

	memcpy(buf, &cred, sizeof(cred));
	memcpy(buf + sizeof(cred), req, len);
	return hrpc_client_call(c, &call);
}

/* MOUNT /x and CREATE (open) a file named `name` in it. */
static int fs_use(hrpc_client *c, const char *name)
{
	struct hrpc_gfs_mount_req m = { .path_len = 2 };
	struct hrpc_gfs_make_req r = { .mode = 0644, .flags = 2 /* O_RDWR */ };
	struct hrpc_gfs_create_rep cr;
	struct hrpc_gfs_entry root;
	int rc;

	memcpy(m.path, "/x", 2);
	rc = fs_call(c, HRPC_GFS_MOUNT, &m, sizeof(m), &root, sizeof(root));
	if (rc < 0)
		return rc;
	r.parent = root.node;
	r.name.len = (uint16_t)strlen(name);
	memcpy(r.name.name, name, r.name.len);
	return fs_call(c, HRPC_GFS_CREATE, &r, sizeof(r), &cr, sizeof(cr));
}

/* HELLO to the memory service: the chunks granted, or -errno. */
static int mem_use(hrpc_client *c)
{
	struct hrpc_mem_hello_req h = { .version = HRPC_MEM_VERSION, .bar_size = 16ull << 20 };
	struct hrpc_mem_hello_rep r;
	struct hrpc_call call = {
		.service = HRPC_SVC_MEM, .proc = HRPC_MEM_HELLO, .req = &h, .req_len = sizeof(h),
		.rep = &r, .rep_cap = sizeof(r), .timeout_ms = 5000,
	};
	int rc = hrpc_client_call(c, &call);

	return rc < 0 ? rc : (int)r.granted;
}

/* hostrpc-migrate's part on the source host: open the port to `guest`'s
 * worker (its HELLO names the worker's pid), then QUIESCE it and take the
 * state it hands over.  The port, or -errno. */
static int mig_open(const char *guest, uint32_t *worker, int *state_fds)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct hrpc_mig_open o = { .magic = HRPC_MIG_PORT_MAGIC, .version = HRPC_MIG_VERSION };
	struct hrpc_mig_msg q = { .type = HRPC_MIG_QUIESCE };
	struct {
		struct hrpc_mig_msg h;
		union {
			struct hrpc_mig_hello hello;
			struct hrpc_mig_status st;
			uint8_t state[4096];
		};
	} r;
	struct timeval tv = { .tv_sec = 5 };
	int fds[64], nfds = 64, s;
	long n;

	if (strlen(d.state_dir) + sizeof("/migrate.sock") > sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, d.state_dir, strlen(d.state_dir));
	strcat(a.sun_path, "/migrate.sock");
	snprintf(o.guest, sizeof(o.guest), "%s", guest);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(s, &o, sizeof(o), MSG_NOSIGNAL) != sizeof(o))
		goto fail;
	n = recv(s, &r, sizeof(r), 0);
	if (n != (long)(sizeof(r.h) + sizeof(r.hello)) || r.h.type != HRPC_MIG_HELLO) {
		tap_diag("migration port: no HELLO (%ld bytes, type %u)", n, r.h.type);
		close(s);
		return -EPROTO;
	}
	*worker = r.hello.pid;
	if (send(s, &q, sizeof(q), MSG_NOSIGNAL) != sizeof(q))
		goto fail;
	n = hrpc_unix_recv_msg(s, &r, sizeof(r), fds, &nfds, 0);
	if (n < (long)sizeof(r.h) || r.h.type != HRPC_MIG_STATE_OUT || nfds < 1) {
		tap_diag("QUIESCE: no STATE_OUT (%ld, type %u, %d descriptors)", n,
			 n >= (long)sizeof(r.h) ? r.h.type : 0, nfds);
		close(s);
		return -EPROTO;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	*state_fds = nfds;
	return s;
fail:
	n = -errno;
	if (s >= 0)
		close(s);
	return (int)n;
}

/* A second QUIESCE on an open port: the worker answers "already quiesced". */
static bool mig_again(int port)
{
	struct hrpc_mig_msg q = { .type = HRPC_MIG_QUIESCE };
	struct {
		struct hrpc_mig_msg h;
		struct hrpc_mig_status st;
	} r;

	return send(port, &q, sizeof(q), MSG_NOSIGNAL) == sizeof(q) &&
	       recv(port, &r, sizeof(r), 0) == sizeof(r) && r.h.type == HRPC_MIG_STATUS &&
	       r.st.status == -EALREADY;
}

static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

/* The current worker of guest `name`, once it is not `old` (and not 0). */
static pid_t worker_of(const char *name, pid_t old)
{
	struct hrpc_admin_guest g;

	for (int i = 0; i < 250; i++) {
		if (itest_admin_find(d.admin_sock, name, &g) == 0 && g.worker_pid &&
		    (pid_t)g.worker_pid != old)
			return (pid_t)g.worker_pid;
		usleep(20000);
	}
	return 0;
}

int main(void)
{
#if !defined(__x86_64__)
	tap_skip_all("the ptrace injection is written for x86_64 only");
#else
	enum { SOCK, FS, MEM, MIG, NSVC };
	static const char *const svc[NSVC] = { "sock", "fs", "mem", "mig" };
	struct vmg vm[NSVC] = { { 0 }, { .name = "vm-fs" }, { .name = "vm-mem" },
				{ .name = "vm-mig" } };
	char top[64] = "/tmp/worker-attacked.XXXXXX";
	char pol_sock[128], pol_fs[128], pol_mem[128], export[160], region[128];
	char a_sock[160], a_fs[160], a_mem[160], a_iv[NSVC][200];
	char path[600], conf[600];
	const char *extra[8];
	struct sguest sg = { 0 };
	pid_t w[NSVC] = { 0 };
	char sock_name[32] = "";
	int lfd = -1, cfd = -1, port_fd = -1, baseline, rc, granted = 0;
	uint8_t *mem_map = MAP_FAILED;
	uint64_t sh = 0;
	bool ok;

	if (geteuid() != 0)
		tap_skip_all("needs root: ptrace of another uid's non-dumpable worker, and "
			     "hostrpcd confines its workers fully only as root");
	{
		/* Yama: 3 forbids every attach, even root's. */
		FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
		int scope = 0;

		if (f) {
			if (fscanf(f, "%d", &scope) != 1)
				scope = 0;
			fclose(f);
		}
		if (scope >= 3)
			tap_skip_all("Yama ptrace_scope is %d: no process may be ptraced", scope);
	}
	rc = ptrace_usable();
	if (rc < 0)
		tap_skip_all("ptrace is refused here (%s): a worker cannot be made to misbehave",
			     strerror(-rc));
	tap_plan(1 + 8 * NSVC + 3);
	itest_watchdog(150);
	if (relaxed)
		tap_diag("sanitizer build: the relaxed filter answers EPERM to forbidden calls "
			 "instead of killing; the test checks that answer, then kills each "
			 "attacked worker itself (SIGKILL) to test the restart path");

	/* Policies: sockets may reach the host's loopback (the server the sock
	 * guest talks to); guest vm-fs exports a directory; vm-mem has a memory
	 * region of its own name (no other test's default name: no need for
	 * the memory tests' lock). */
	if (!mkdtemp(top))
		tap_skip_all("cannot make a temporary directory");
	snprintf(pol_sock, sizeof(pol_sock), "%s/sock", top);
	snprintf(pol_fs, sizeof(pol_fs), "%s/fs", top);
	snprintf(pol_mem, sizeof(pol_mem), "%s/mem", top);
	snprintf(export, sizeof(export), "%s/export", top);
	snprintf(region, sizeof(region), "/dev/shm/hostrpc-worker-attacked-%d", (int)getpid());
	mkdir(pol_sock, 0755);
	mkdir(pol_fs, 0755);
	mkdir(pol_mem, 0755);
	mkdir(export, 0700);
	snprintf(path, sizeof(path), "%s/default.conf", pol_sock);
	ok = write_file(path, "connect allow 127.0.0.1\n");
	snprintf(path, sizeof(path), "%s/vm-fs.conf", pol_fs);
	snprintf(conf, sizeof(conf), "export x %s ids=passthrough\n", export);
	ok = ok && write_file(path, conf);
	snprintf(path, sizeof(path), "%s/vm-mem.conf", pol_mem);
	snprintf(conf, sizeof(conf), "[memory]\nregion-mib=16\ngrant-mib=8\npin-quota-mib=4\n"
		 "region-file=%s\n", region);
	ok = ok && write_file(path, conf);
	snprintf(a_sock, sizeof(a_sock), "--sock-policy-dir=%s", pol_sock);
	snprintf(a_fs, sizeof(a_fs), "--fs-policy-dir=%s", pol_fs);
	snprintf(a_mem, sizeof(a_mem), "--mem-policy-dir=%s", pol_mem);
	extra[0] = a_sock;
	extra[1] = a_fs;
	extra[2] = a_mem;
	for (int i = FS; i < NSVC; i++) {
		snprintf(a_iv[i], sizeof(a_iv[i]), "--ivshmem=%s=@DIR@/%s.ivshmem", vm[i].name,
			 vm[i].name);
		extra[3 + i - FS] = a_iv[i];
	}
	extra[6] = NULL;
	rc = ok ? itest_daemon_start(&d, extra) : -EIO;
	if (rc < 0) {
		printf("Bail out! hostrpcd did not start: %s\n", strerror(-rc));
		itest_log_dump(&d);
		return 1;
	}

	/* Set-up: the neighbour, then one guest per service, each in use. */
	ok = neighbour_start();
	rc = itest_guest_connect(d.guest_sock, "sock-guest", &sg.cli);
	if (ok && rc == 0) {
		struct hrpc_sock_init_req r = { .version = HRPC_SOCK_VERSION, .credit = 256 };
		struct hrpc_sock_init_rep o;
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		struct hrpc_sock_addr a;
		uint8_t b[5];

		hrpc_client_set_event_handler(sg.cli, sg_event, &sg);
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ok = lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		     listen(lfd, 4) == 0 && getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0;
		ok = ok && sg_call(&sg, HRPC_SOCK_INIT, &r, sizeof(r), &o, sizeof(o), NULL, 0,
				   NULL) == 0 &&
		     sg_socket(&sg, AF_INET, SOCK_STREAM, &sh) == 0;
		sg_addr(&a, AF_INET, "127.0.0.1", ntohs(sa.sin_port));
		ok = ok && sg_connect(&sg, sh, &a, 5000) == 0;
		cfd = ok ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
		ok = ok && cfd >= 0 && write(cfd, "hello", 5) == 5 &&
		     sg_recv_all(&sg, sh, b, 5, NULL, 5000) == 0 && !memcmp(b, "hello", 5);
		snprintf(sock_name, sizeof(sock_name), "guest-%u", hrpc_client_guest_id(sg.cli));
	} else {
		ok = false;
	}
	for (int i = FS; i < NSVC && ok; i++) {
		snprintf(vm[i].sock, sizeof(vm[i].sock), "%s/%s.ivshmem", d.dir, vm[i].name);
		ok = itest_qemu_attach(vm[i].sock, vm[i].name, &vm[i].q, &vm[i].cli) == 0;
		vm[i].up = ok;
		vm[i].gen = ok ? itest_qemu_host_gen(&vm[i].q) : 0;
	}
	ok = ok && fs_use(vm[FS].cli, "open-file") == 0;
	if (ok) {
		/* The guest writes its grant (the first one starts at chunk 0),
		 * as a guest's QEMU would through the region file. */
		int fd;

		granted = mem_use(vm[MEM].cli);
		fd = open(region, O_RDWR | O_CLOEXEC);
		ok = granted > 0 && fd >= 0;
		mem_map = ok ? mmap(NULL, 16u << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) :
			MAP_FAILED;
		if (fd >= 0)
			close(fd);
		ok = ok && mem_map != MAP_FAILED;
		for (size_t i = 0; ok && i < (size_t)granted * HRPC_MEM_CHUNK; i += 4096)
			memset(mem_map + i, (int)(i / 4096 * 7 + 1), 4096);
	}
	if (ok) {
		w[SOCK] = worker_of("sock-guest", 0);
		for (int i = FS; i < NSVC; i++)
			w[i] = worker_of(vm[i].name, 0);
	}
	{
		uint32_t mw = 0;
		int nst = 0;

		port_fd = ok ? mig_open(vm[MIG].name, &mw, &nst) : -1;
		ok = ok && port_fd >= 0 && (pid_t)mw == w[MIG];
		if (ok)
			tap_diag("vm-mig's worker %u quiesced for migration: state handed over "
				 "with %d descriptors", mw, nst);
	}
	ok = ok && w[SOCK] && w[FS] && w[MEM] && w[MIG];
	/* Each service runs in its guest's worker, no process of its own:
	 * the export and the region are the workers' descriptors (the
	 * migration port's HELLO named its worker, above). */
	if (ok && (itest_fd_count_like(w[FS], export) < 1 ||
		   itest_fd_count_like(w[MEM], region) < 1)) {
		tap_diag("the fs worker does not hold %s or the mem worker %s", export, region);
		itest_fd_dump(w[FS]);
		itest_fd_dump(w[MEM]);
		ok = false;
	}
	/* As itest_fd_held_wait() counts: less GLib's pidfds of the workers. */
	baseline = ok ? itest_fd_baseline(d.pid) - itest_fd_count_like(d.pid, "pidfd") : 0;
	tap_ok(ok, "set-up: a neighbour, a sock guest with a TCP connection, vm-fs with a file "
	       "open in its export, vm-mem with %d chunks granted and written, vm-mig quiesced "
	       "for migration, each service in its guest's worker (workers %d %d %d %d; supervisor "
	       "holds %d descriptors)", granted,
	       (int)w[SOCK], (int)w[FS], (int)w[MEM], (int)w[MIG], baseline);
	if (!ok) {
		itest_log_dump(&d);
		goto out;
	}

	for (int s = 0; s < NSVC; s++) {
		/* One forbidden call per worker (it dies of it); all of them
		 * where the filter only answers. */
		static const struct { const char *what; long nr; int arg; } forbidden[] = {
			{ "mount", SYS_mount, 0 }, { "execve", SYS_execve, 1 },
			{ "bpf", SYS_bpf, 2 }, { "ptrace(PTRACE_ATTACH, supervisor)", SYS_ptrace, 3 },
			{ "init_module", SYS_init_module, 4 }, { "kexec_load", SYS_kexec_load, 5 },
			{ "setuid(0)", SYS_setuid, 6 }, { "unshare(CLONE_NEWUSER)", SYS_unshare, 7 },
		};
		const size_t nforbidden = sizeof(forbidden) / sizeof(forbidden[0]);
		struct {
			const char *what;
			char path[400];
		} paths[8];
		struct inj in;
		pid_t others[NSVC + 1];
		int nothers = 0, npaths = 0, bad = 0, rounds0 = nb->rounds;
		long ret, uid = -1;
		char errs[400] = "";
		struct rlimit rl = { 0 };
		pid_t victim = w[s];

		tap_diag("---- %s: worker %d", svc[s], (int)victim);
		for (int i = 0; i < NSVC; i++)
			if (i != s)
				others[nothers++] = w[i];
		others[nothers++] = (pid_t)worker_of("neighbour", 0);

		/* 1. The mechanism: harmless calls, and it goes on serving. */
		rc = inj_attach(&in, victim);
		if (!rc)
			rc = inj_scratch(&in);
		if (!rc)
			rc = inj_call(&in, SYS_getuid, 0, 0, 0, 0, 0, 0, &uid);
		if (!rc) {
			static const char self[] = "/proc/self/status";

			rc = inj_poke(&in, 0, self, sizeof(self));
			if (!rc)
				rc = inj_call(&in, SYS_openat, (unsigned long long)AT_FDCWD,
					      in.scratch, O_RDONLY | O_CLOEXEC, 0, 0, 0, &ret);
			if (!rc && ret >= 0)
				rc = inj_call(&in, SYS_close, (unsigned long long)ret, 0, 0, 0, 0, 0,
					      &ret);
			else if (!rc)
				rc = (int)ret;
		}
		if (!rc)
			rc = inj_detach(&in);
		if (s == SOCK) {
			uint8_t b[5];

			ok = rc == 0 && write(cfd, "again", 5) == 5 &&
			     sg_recv_all(&sg, sh, b, 5, NULL, 5000) == 0 && !memcmp(b, "again", 5);
		} else if (s == FS) {
			ok = rc == 0 && fs_use(vm[s].cli, "second-file") == 0;
		} else if (s == MEM) {
			ok = rc == 0 && itest_echo_workload(vm[s].cli, 7, 20, 1) == 0;
		} else {
			/* Quiesced: the channel waits; the port answers. */
			ok = rc == 0 && mig_again(port_fd);
		}
		tap_ok(ok, "%s: injected getuid (%ld) and an open of /proc/self/status ran in worker "
		       "%d, which serves its guest afterwards (%s)", svc[s], uid, (int)victim,
		       rc ? strerror(-rc) : "ok");
		if (rc) {
			if (!in.dead)
				ptrace(PTRACE_DETACH, victim, 0, 0);
			goto out_thread;
		}

		/* 2. Forbidden paths and capabilities. */
		rc = inj_attach(&in, victim);
		if (!rc)
			rc = inj_scratch(&in);
		paths[npaths].what = "the daemon's admin socket";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "%s", d.admin_sock);
		paths[npaths].what = "the fd holder's socket";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "%s/fdstore.sock", d.state_dir);
		paths[npaths].what = "/etc/shadow";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "/etc/shadow");
		paths[npaths].what = "the supervisor's root";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "/proc/%d/root/etc/shadow",
			 (int)d.pid);
		paths[npaths].what = "the supervisor's descriptors";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "/proc/%d/fd/0", (int)d.pid);
		paths[npaths].what = s == MEM ? "its own region by path" : "vm-mem's memory region";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "%s", region);
		paths[npaths].what = "the sock guest's audit log";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "%s/sock-audit/%s.sock.log",
			 d.state_dir, sock_name);
		paths[npaths].what = "vm-fs's export";
		snprintf(paths[npaths++].path, sizeof(paths[0].path), "%s/open-file", export);
		for (int i = 0; i < npaths && !rc; i++) {
			rc = inj_poke(&in, 0, paths[i].path, strlen(paths[i].path) + 1);
			if (!rc)
				rc = inj_call(&in, SYS_openat, (unsigned long long)AT_FDCWD, in.scratch,
					      O_RDWR | O_CLOEXEC, 0, 0, 0, &ret);
			if (rc)
				break;
			if (ret >= 0) {
				long r2;

				inj_call(&in, SYS_close, (unsigned long long)ret, 0, 0, 0, 0, 0, &r2);
			}
			if (ret != -ENOENT && ret != -EACCES) {
				bad++;
				tap_diag("%s: worker %d opened %s (%s): %ld", svc[s], (int)victim,
					 paths[i].what, paths[i].path, ret);
			}
			snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), "%s%s",
				 i ? " " : "", ret == -ENOENT ? "ENOENT" : ret == -EACCES ? "EACCES" : "?");
		}
		tap_ok(!rc && !bad, "%s: worker %d cannot open the admin socket, the fd holder's, "
		       "/etc/shadow, the supervisor's root or descriptors through /proc, "
		       "vm-mem's region, the sock guest's audit log, a file of vm-fs's export "
		       "(%s)", svc[s], (int)victim,
		       rc ? strerror(-rc) : errs);

		bad = 0;
		errs[0] = 0;
		if (!rc)
			rc = inj_call(&in, SYS_socket, AF_INET, SOCK_RAW, IPPROTO_ICMP, 0, 0, 0, &ret);
		if (!rc) {
			if (ret >= 0) {
				long r2;

				inj_call(&in, SYS_close, (unsigned long long)ret, 0, 0, 0, 0, 0, &r2);
			}
			bad += ret != -EPERM;
			snprintf(errs, sizeof(errs), "raw socket %ld", ret);
			rc = inj_call(&in, SYS_prlimit64, 0, RLIMIT_NOFILE, 0, in.scratch, 0, 0, &ret);
		}
		if (!rc && ret == 0)
			rc = inj_peek(&in, 0, &rl, sizeof(rl));
		if (!rc) {
			rl.rlim_max += 1;
			rl.rlim_cur = rl.rlim_max;
			rc = inj_poke(&in, 64, &rl, sizeof(rl));
		}
		if (!rc)
			rc = inj_call(&in, SYS_prlimit64, 0, RLIMIT_NOFILE, in.scratch + 64, 0, 0, 0,
				      &ret);
		if (!rc) {
			bad += ret != -EPERM;
			snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
				 ", hard limit %llu %ld", (unsigned long long)rl.rlim_max, ret);
		}
		tap_ok(!rc && !bad, "%s: worker %d lacks CAP_NET_RAW and CAP_SYS_RESOURCE: a raw "
		       "socket and a higher hard descriptor limit are EPERM (%s)", svc[s],
		       (int)victim, rc ? strerror(-rc) : errs);

		/* 3. A forbidden system call. */
		bad = 0;
		errs[0] = 0;
		for (size_t f = relaxed ? 0 : (size_t)s; f < (relaxed ? nforbidden : (size_t)s + 1) &&
		     !rc; f++) {
			static const char sh_path[] = "/bin/sh";
			unsigned long long a[3] = { 0 };

			switch (forbidden[f].arg) {
			case 0:   /* mount("none", "/", "tmpfs", 0, NULL) */
				rc = inj_poke(&in, 128, "none\0/\0tmpfs", 13);
				a[0] = in.scratch + 128;
				a[1] = in.scratch + 133;
				a[2] = in.scratch + 135;
				break;
			case 1:   /* execve("/bin/sh", NULL, NULL) */
				rc = inj_poke(&in, 128, sh_path, sizeof(sh_path));
				a[0] = in.scratch + 128;
				break;
			case 2:   /* bpf(BPF_MAP_CREATE, NULL, 0) */
				break;
			case 3:
				a[0] = 16 /* PTRACE_ATTACH */;
				a[1] = (unsigned long long)d.pid;
				break;
			case 6:
				break;
			case 7:
				a[0] = 0x10000000 /* CLONE_NEWUSER */;
				break;
			default:
				break;
			}
			if (rc)
				break;
			rc = inj_call(&in, forbidden[f].nr, a[0], a[1], a[2], 0, 0, 0, &ret);
			if (rc == -ESRCH && !relaxed) {
				rc = 0;
				snprintf(errs, sizeof(errs), "%s: %s", forbidden[f].what,
					 WIFSIGNALED(in.status) ? strsignal(WTERMSIG(in.status)) :
					 "exited");
				bad += !WIFSIGNALED(in.status) || WTERMSIG(in.status) != SIGSYS;
			} else if (!rc) {
				/* Relaxed: the answer.  Not relaxed: it lived. */
				snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), "%s%s %ld",
					 errs[0] ? ", " : "", forbidden[f].what, ret);
				bad += !relaxed || (ret != -EPERM && ret != -ENOSYS);
			}
		}
		if (!in.dead) {
			/* Relaxed, or a filter that let it live: put it back. */
			int r2 = inj_detach(&in);

			if (r2 < 0)
				ptrace(PTRACE_DETACH, victim, 0, 0);
			rc = rc ? rc : r2;
		}
		if (!rc && relaxed) {
			kill(victim, SIGKILL);
			tap_diag("%s: sanitizer build, every forbidden call was refused; worker %d "
				 "killed by the test (SIGKILL) for the restart path", svc[s],
				 (int)victim);
		}
		if (relaxed)
			tap_ok(!rc && !bad, "%s: worker %d is refused every forbidden system call "
			       "(relaxed filter: %s)", svc[s], (int)victim, rc ? strerror(-rc) : errs);
		else
			tap_ok(!rc && !bad && in.dead, "%s: worker %d tries %s: killed by the filter "
			       "(%s)", svc[s], (int)victim, forbidden[s].what,
			       rc ? strerror(-rc) : errs);

		/* 4. It alone died; the supervisor logged it. */
		ok = itest_pid_gone(victim, 5000);
		for (int i = 0; i < nothers; i++)
			ok = ok && others[i] > 0 && kill(others[i], 0) == 0;
		snprintf(path, sizeof(path), "worker %d killed by signal %d", (int)victim,
			 relaxed ? SIGKILL : SIGSYS);
		tap_ok(ok && itest_daemon_alive(&d) && itest_log_wait(&d, 5000, path, NULL),
		       "%s: worker %d is gone and no other worker is, the supervisor runs and "
		       "logged '%s'", svc[s], (int)victim, path);

		/* 5. The attacked guest is served again by a fresh worker. */
		if (s == SOCK) {
			uint8_t b[1];
			struct hrpc_sock_init_req r = { .version = HRPC_SOCK_VERSION, .credit = 256 };
			struct hrpc_sock_init_rep o;

			/* Its host sockets went with it: the host peer sees EOF. */
			ok = read(cfd, b, 1) == 0;
			close(cfd);
			cfd = -1;
			hrpc_client_free(sg.cli);
			memset(&sg, 0, sizeof(sg));
			rc = itest_guest_connect(d.guest_sock, "sock-guest", &sg.cli);
			if (!rc) {
				struct sockaddr_in sa;
				socklen_t sl = sizeof(sa);
				struct hrpc_sock_addr a;

				hrpc_client_set_event_handler(sg.cli, sg_event, &sg);
				getsockname(lfd, (struct sockaddr *)&sa, &sl);
				sg_addr(&a, AF_INET, "127.0.0.1", ntohs(sa.sin_port));
				ok = ok && sg_call(&sg, HRPC_SOCK_INIT, &r, sizeof(r), &o, sizeof(o),
						   NULL, 0, NULL) == 0 &&
				     sg_socket(&sg, AF_INET, SOCK_STREAM, &sh) == 0 &&
				     sg_connect(&sg, sh, &a, 5000) == 0;
				cfd = ok ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
				ok = ok && cfd >= 0 && write(cfd, "fresh", 5) == 5 &&
				     sg_recv_all(&sg, sh, b, 1, NULL, 5000) == 0 && b[0] == 'f';
			}
			w[s] = ok ? worker_of("sock-guest", victim) : 0;
			ok = ok && w[s] && w[s] != victim;
			tap_ok(ok, "%s: the host peer saw the connection end; the guest reconnected "
			       "and a fresh worker %d serves a new connection", svc[s], (int)w[s]);
		} else {
			hrpc_client_free(vm[s].cli);
			vm[s].cli = NULL;
			ok = itest_qemu_wait_vector(&vm[s].q, HRPC_IVSHMEM_VEC_RESET, 5000) == 0 &&
			     itest_qemu_host_gen(&vm[s].q) == vm[s].gen + 1 &&
			     itest_qemu_client(&vm[s].q, vm[s].name, &vm[s].cli) == 0 &&
			     itest_echo_workload(vm[s].cli, 9, 20, 1) == 0;
			vm[s].gen = itest_qemu_host_gen(&vm[s].q);
			if (ok && s == FS)
				ok = fs_use(vm[s].cli, "after-restart") == 0;
			if (ok && s == MEM) {
				/* What the guest wrote is still its own and intact. */
				ok = mem_use(vm[s].cli) == granted;
				for (size_t i = 0; ok && i < (size_t)granted * HRPC_MEM_CHUNK; i += 4096)
					ok = mem_map[i] == (uint8_t)(i / 4096 * 7 + 1) &&
					     mem_map[i + 4095] == mem_map[i];
			}
			if (ok && s == MIG) {
				char b[1];
				uint32_t mw = 0;
				int nst = 0;

				/* The old port went with the worker; a new one
				 * reaches the fresh worker. */
				ok = recv(port_fd, b, 1, 0) <= 0;
				close(port_fd);
				port_fd = ok ? mig_open(vm[s].name, &mw, &nst) : -1;
				ok = port_fd >= 0 && (pid_t)mw != victim;
			}
			w[s] = ok ? worker_of(vm[s].name, victim) : 0;
			tap_ok(ok && w[s], "%s: the supervisor restarted the worker (generation %u): "
			       "worker %d serves echo and %s again", svc[s], vm[s].gen, (int)w[s],
			       s == FS ? "MOUNT and CREATE in the export" :
			       s == MEM ? "a memory HELLO: the chunks the guest wrote stay "
			       "granted, their bytes intact" :
			       "a new migration port (HELLO, QUIESCE)");
		}

		/* 6. The neighbour was served meanwhile, without a failure (on a
		 * loaded host a phase can be shorter than a round: wait for two
		 * more, the first of which began before the attack). */
		for (int i = 0; i < 1000 && nb->rounds < rounds0 + 2 && !nb->failures; i++)
			usleep(10000);
		tap_ok(nb->failures == 0 && nb->rounds > rounds0, "%s: the neighbour was served "
		       "throughout: %d echo rounds checked byte for byte, %d failed (%d)", svc[s],
		       nb->rounds - rounds0, nb->failures, nb->last_rc);
		/* 7. The supervisor holds what it held. */
		rc = itest_fd_held_wait(d.pid, baseline, 5000);
		if (!tap_ok(rc == baseline, "%s: the supervisor holds %d descriptors, as before "
			    "(%d)", svc[s], rc, baseline))
			itest_fd_dump(d.pid);
	}

out_thread:
	neighbour_stop();
	tap_ok(nb->failures == 0, "the neighbour: %d rounds (20 pings and a bulk each), "
	       "%d failures", nb->rounds, nb->failures);
	tap_ok(itest_daemon_alive(&d) && !itest_log_wait(&d, 0, "critical", NULL),
	       "hostrpcd still runs, nothing critical logged");
out:
	if (tap_failed)
		itest_log_dump(&d);
	if (port_fd >= 0)
		close(port_fd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	if (sg.cli)
		hrpc_client_free(sg.cli);
	neighbour_stop();
	for (int i = FS; i < NSVC; i++) {
		if (vm[i].cli)
			hrpc_client_free(vm[i].cli);
		if (vm[i].up)
			itest_qemu_disconnect(&vm[i].q);
	}
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly on SIGTERM, no sanitizer "
	       "report");
	if (mem_map != MAP_FAILED)
		munmap(mem_map, 16u << 20);
	unlink(region);
	snprintf(path, sizeof(path), "rm -rf '%s'", top);
	if (system(path) != 0)
		tap_diag("cannot remove %s", top);
	return tap_done();
#endif
}
