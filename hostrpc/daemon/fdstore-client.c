/* SPDX-License-Identifier: MIT */
/*
 * fdstore-client.c - the daemon's side of the fd holder (fdstore.h):
 * connect to it or start it, and synchronous request/reply on its socket.
 * The holder is local and does nothing slow, so every exchange is a short
 * blocking one, bounded by socket timeouts in case it is stopped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/daemon/fdstore.h"
#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/spawn.h"

#define IO_TIMEOUT_S   2
#define READY_WAIT_MS  5000
#define BUSY_WAIT_MS   8000    /* a stopping daemon reaps its workers first (<= ~2 s) */

struct _HrpcdFdstore {
	int sock;
	pid_t pid;
	guint held;
	gboolean started;
};

const char *hrpcd_fdstore_role_name(guint role)
{
	static const char *const names[] = {
		[HRPCD_FDSTORE_ANY] = "any",
		[HRPCD_FDSTORE_LISTEN] = "listen",
		[HRPCD_FDSTORE_CONN] = "conn",
		[HRPCD_FDSTORE_SHM] = "shm",
		[HRPCD_FDSTORE_HOST_EVENT] = "host-event",
		[HRPCD_FDSTORE_GUEST_EVENT] = "guest-event",
	};

	return role < G_N_ELEMENTS(names) ? names[role] : "?";
}

static void msg_init(struct hrpcd_fdstore_msg *m, guint16 op)
{
	memset(m, 0, sizeof(*m));
	m->magic = HRPCD_FDSTORE_MAGIC;
	m->version = HRPCD_FDSTORE_VERSION;
	m->op = op;
}

static gboolean set_io_error(GError **error, int err, const char *what)
{
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "fd holder: %s: %s", what,
		    g_strerror(err));
	return FALSE;
}

/* Receive one reply to `op`; its fds (at most `*nfds`) go to `fds`. */
static gboolean recv_reply(HrpcdFdstore *fs, guint16 op, struct hrpcd_fdstore_msg *r,
			   int *fds, int *nfds, GError **error)
{
	int none = 0, rc;

	if (!nfds)
		nfds = &none;
	rc = hrpc_unix_recv(fs->sock, r, sizeof(*r), fds, nfds);
	if (rc < 0)
		return set_io_error(error, rc == -EAGAIN ? ETIMEDOUT : -rc, "no reply");
	if (r->magic != HRPCD_FDSTORE_MAGIC || r->op != op || r->count > HRPCD_FDSTORE_BATCH ||
	    *nfds != (int)r->count) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return set_io_error(error, EPROTO, "malformed reply");
	}
	if (r->status < 0) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return set_io_error(error, -r->status, "request refused");
	}
	return TRUE;
}

static gboolean call(HrpcdFdstore *fs, struct hrpcd_fdstore_msg *m, const int *fds, int nfds,
		     struct hrpcd_fdstore_msg *r, GError **error)
{
	guint16 op = m->op;
	int rc = hrpc_unix_send(fs->sock, m, sizeof(*m), fds, nfds);

	if (rc < 0)
		return set_io_error(error, rc == -EAGAIN ? ETIMEDOUT : -rc, "cannot send");
	return recv_reply(fs, op, r, NULL, NULL, error);
}

/* ---- connecting ---------------------------------------------------------------- */

static int connect_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* HELLO on a fresh connection.  -EBUSY: another daemon has the session. */
static int hello(HrpcdFdstore *fs, GError **error)
{
	struct hrpcd_fdstore_msg m, r = { 0 };
	g_autoptr(GError) err = NULL;

	msg_init(&m, HRPCD_FDSTORE_HELLO);
	if (!call(fs, &m, NULL, 0, &r, &err)) {
		int e = r.magic == HRPCD_FDSTORE_MAGIC && r.status < 0 ? -r.status : EIO;

		if (e == EPROTONOSUPPORT)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
				    "the fd holder speaks version %u, not %u (release it with "
				    "hostrpcd --fdstore-release)", r.version, HRPCD_FDSTORE_VERSION);
		else
			g_propagate_error(error, g_steal_pointer(&err));
		return -e;
	}
	fs->pid = (pid_t)r.pid;
	fs->held = r.total;
	return 0;
}

/*
 * Is the process on the other end of `fs->sock` an fd holder of ours?  It is
 * handed every guest's memory and eventfds, so the kernel's word counts, not
 * the socket file's place: it must run as our effective uid, its HELLO must
 * name its own pid, and a holder we just started must be the very process we
 * forked (`expect_pid`, 0: found, not started).
 */
static gboolean peer_trusted(HrpcdFdstore *fs, const char *path, pid_t expect_pid,
			     GError **error)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fs->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return set_io_error(error, errno, "SO_PEERCRED");
	if (cred.uid != geteuid() || cred.pid != fs->pid || (expect_pid && cred.pid != expect_pid)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "the process on %s (pid %ld, uid %lu, says pid %ld) is not an fd holder "
			    "hostrpcd (uid %lu) started%s; it gets no guest descriptors", path,
			    (long)cred.pid, (unsigned long)cred.uid, (long)fs->pid,
			    (unsigned long)geteuid(), expect_pid ? " just now" : "");
		return FALSE;
	}
	return TRUE;
}

/* Open a session on a holder that listens on `path`; retry while it is busy. */
static HrpcdFdstore *session(const char *path, pid_t expect_pid, GError **error)
{
	g_autoptr(HrpcdFdstore) fs = g_new0(HrpcdFdstore, 1);
	gint64 deadline = g_get_monotonic_time() + BUSY_WAIT_MS * 1000;

	for (;;) {
		g_autoptr(GError) err = NULL;
		int rc;

		fs->sock = connect_socket(path);
		if (fs->sock < 0) {
			if (fs->sock == -ENOENT || fs->sock == -ECONNREFUSED)
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
					    "no fd holder listens on %s", path);
			else
				set_io_error(error, -fs->sock, path);
			return NULL;
		}
		rc = hello(fs, &err);
		if (rc == 0 && !peer_trusted(fs, path, expect_pid, error))
			return NULL;
		if (rc == 0)
			return g_steal_pointer(&fs);
		close(fs->sock);
		fs->sock = -1;
		if (rc != -EBUSY || g_get_monotonic_time() >= deadline) {
			if (rc == -EBUSY)
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
					    "the fd holder on %s serves another hostrpcd "
					    "(is one running on this state directory?)", path);
			else
				g_propagate_error(error, g_steal_pointer(&err));
			return NULL;
		}
		g_usleep(100 * 1000);
	}
}

HrpcdFdstore *hrpcd_fdstore_connect(const char *path, GError **error)
{
	return session(path, 0, error);
}

/* Between fork() and execve(): async-signal-safe calls only. */
static void G_GNUC_NORETURN exec_holder(int ready, char **argv, gboolean quiet)
{
	static const int reset[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2,
				     SIGQUIT };
	struct stat st;
	int null, tmp;

	hrpcd_spawn_child_signals(reset, G_N_ELEMENTS(reset));
	/* stdin and stdout: nothing.  stderr stays our log file, unless we
	 * log to syslog or it is a pipe someone waits on for EOF (the holder
	 * would keep it open for as long as it lives). */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		_exit(127);
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	if (quiet || fstat(STDERR_FILENO, &st) < 0 || S_ISFIFO(st.st_mode))
		dup2(null, STDERR_FILENO);
	tmp = fcntl(ready, F_DUPFD, 10);
	if (tmp < 0 || dup2(tmp, 3) < 0)
		_exit(127);
	if (close_range(4, ~0u, 0) < 0)
		for (int fd = 4; fd < 65536; fd++)
			close(fd);
	execv("/proc/self/exe", argv);
	_exit(127);
}

/*
 * Start a holder that is nobody's child: fork, setsid (its own session, so
 * no terminal hang-up or process-group signal meant for us reaches it),
 * fork again (init adopts it; it dies with none of our deaths) and exec
 * `hostrpcd --fdstore`.  Wait until it listens.
 */
static gboolean spawn(const char *path, guint idle_exit_s, gboolean quiet, pid_t *holder,
		      GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	HrpcdLogTarget target;
	gboolean verbose;
	struct pollfd p;
	int pfd[2], status, err;
	pid_t pid;
	char c = 1;

	hrpcd_log_settings(&target, &verbose);
	g_ptr_array_add(argv, g_strdup("hostrpcd-fdstore"));
	g_ptr_array_add(argv, g_strdup("--fdstore"));
	g_ptr_array_add(argv, g_strdup_printf("--socket=%s", path));
	g_ptr_array_add(argv, g_strdup_printf("--idle-exit=%u",
					      idle_exit_s ? idle_exit_s : HRPCD_FDSTORE_IDLE_DEFAULT_S));
	g_ptr_array_add(argv, g_strdup("--ready-fd=3"));
	if (quiet || target == HRPCD_LOG_SYSLOG)
		g_ptr_array_add(argv, g_strdup("--syslog"));
	if (verbose)
		g_ptr_array_add(argv, g_strdup("--verbose"));
	g_ptr_array_add(argv, NULL);

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return set_io_error(error, errno, "pipe");
	pid = hrpcd_spawn_fork();
	if (pid == 0) {
		pid_t grandchild;

		close(pfd[0]);
		setsid();
		grandchild = fork();
		if (grandchild == 0)
			exec_holder(pfd[1], (char **)argv->pdata, quiet);
		/* Its pid first (a pipe write this small is atomic), then
		 * its ready byte. */
		if (grandchild > 0 &&
		    write(pfd[1], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
			_exit(1);
		_exit(grandchild < 0 ? 1 : 0);
	}
	err = errno;
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return set_io_error(error, err, "cannot fork");
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* The intermediate child has exited: its write is in the pipe. */
	if (read(pfd[0], holder, sizeof(*holder)) != sizeof(*holder))
		*holder = 0;
	/* One byte when it listens; EOF if it exited (another holder may have
	 * won a race: the caller just connects). */
	p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	if (poll(&p, 1, READY_WAIT_MS) != 1 || read(pfd[0], &c, 1) != 1)
		*holder = 0;
	close(pfd[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return set_io_error(error, ECHILD, "cannot start it");
	return TRUE;
}

HrpcdFdstore *hrpcd_fdstore_open(const char *path, guint idle_exit_s, gboolean quiet,
				 GError **error)
{
	g_autoptr(GError) err = NULL;
	HrpcdFdstore *fs;
	pid_t holder = 0;

	fs = session(path, 0, &err);
	if (fs)
		return fs;
	if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&err));
		return NULL;
	}
	if (!spawn(path, idle_exit_s, quiet, &holder, error))
		return NULL;
	/* holder 0: ours exited at once (another holder won a race); that
	 * one must pass the uid and pid checks alone. */
	fs = session(path, holder, error);
	if (fs)
		fs->started = TRUE;
	return fs;
}

void hrpcd_fdstore_close(HrpcdFdstore *fs)
{
	if (!fs)
		return;
	if (fs->sock >= 0)
		close(fs->sock);
	g_free(fs);
}

pid_t hrpcd_fdstore_pid(HrpcdFdstore *fs)
{
	return fs->pid;
}

guint hrpcd_fdstore_held(HrpcdFdstore *fs)
{
	return fs->held;
}

int hrpcd_fdstore_socket(HrpcdFdstore *fs)
{
	return fs->sock;
}

gboolean hrpcd_fdstore_started(HrpcdFdstore *fs)
{
	return fs->started;
}

/* ---- requests ------------------------------------------------------------------------ */

static void entry_fill(struct hrpcd_fdstore_entry *e, const char *name, guint role, guint index,
		       guint64 value)
{
	memset(e, 0, sizeof(*e));
	g_strlcpy(e->name, name, sizeof(e->name));
	e->role = (guint16)role;
	e->index = (guint16)index;
	e->value = value;
}

gboolean hrpcd_fdstore_store(HrpcdFdstore *fs, const HrpcdFdstoreItem *items, guint n,
			     GError **error)
{
	for (guint done = 0; done < n;) {
		struct hrpcd_fdstore_msg m, r;
		int fds[HRPCD_FDSTORE_BATCH];

		msg_init(&m, HRPCD_FDSTORE_STORE);
		for (; done < n && m.count < HRPCD_FDSTORE_BATCH; done++) {
			entry_fill(&m.entries[m.count], items[done].name, items[done].role,
				   items[done].index, items[done].value);
			fds[m.count++] = items[done].fd;
		}
		if (!call(fs, &m, fds, (int)m.count, &r, error))
			return FALSE;
	}
	return TRUE;
}

gboolean hrpcd_fdstore_remove(HrpcdFdstore *fs, const char *name, const guint16 *roles,
			      guint n, GError **error)
{
	for (guint done = 0; done < n;) {
		struct hrpcd_fdstore_msg m, r;

		msg_init(&m, HRPCD_FDSTORE_REMOVE);
		for (; done < n && m.count < HRPCD_FDSTORE_BATCH; done++)
			entry_fill(&m.entries[m.count++], name, roles[done], 0, 0);
		if (!call(fs, &m, NULL, 0, &r, error))
			return FALSE;
	}
	return TRUE;
}

void hrpcd_fdstore_items_free(GArray *items)
{
	if (!items)
		return;
	for (guint i = 0; i < items->len; i++) {
		HrpcdFdstoreItem *it = &g_array_index(items, HrpcdFdstoreItem, i);

		if (it->fd >= 0)
			close(it->fd);
	}
	g_array_unref(items);
}

GArray *hrpcd_fdstore_fetch(HrpcdFdstore *fs, GError **error)
{
	GArray *items = g_array_new(FALSE, TRUE, sizeof(HrpcdFdstoreItem));
	struct hrpcd_fdstore_msg m, r;
	int rc;

	msg_init(&m, HRPCD_FDSTORE_FETCH);
	rc = hrpc_unix_send(fs->sock, &m, sizeof(m), NULL, 0);
	if (rc < 0) {
		set_io_error(error, -rc, "cannot send");
		g_array_unref(items);
		return NULL;
	}
	do {
		int fds[HRPCD_FDSTORE_BATCH], nfds = HRPCD_FDSTORE_BATCH;

		if (!recv_reply(fs, HRPCD_FDSTORE_FETCH, &r, fds, &nfds, error)) {
			hrpcd_fdstore_items_free(items);
			return NULL;
		}
		for (guint i = 0; i < r.count; i++) {
			const struct hrpcd_fdstore_entry *e = &r.entries[i];
			HrpcdFdstoreItem it = { .role = e->role, .index = e->index,
						.value = e->value, .fd = fds[i] };

			/* Our own names; still, never trust a length. */
			memcpy(it.name, e->name, sizeof(it.name));
			it.name[sizeof(it.name) - 1] = 0;
			g_array_append_val(items, it);
		}
	} while (!(r.flags & HRPCD_FDSTORE_LAST));
	return items;
}

gboolean hrpcd_fdstore_quit(HrpcdFdstore *fs, GError **error)
{
	struct hrpcd_fdstore_msg m, r;

	msg_init(&m, HRPCD_FDSTORE_QUIT);
	return call(fs, &m, NULL, 0, &r, error);
}
