/* SPDX-License-Identifier: MIT */
/*
 * fdstore.c - the fd holder process (fdstore.h): a poll() loop over one
 * listening socket and a handful of connections, and a table of
 * (name, role, index, value, fd).  Kept deliberately small: no GLib main
 * loop, no threads, nothing read from a stored descriptor.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/daemon/fdstore.h"
#include "hostrpc/daemon/listen-socket.h"
#include "hostrpc/daemon/log.h"

#define MAX_CONNS      8      /* one session + a few waiting to be told "busy" */
#define TICK_MS        1000
#define SEND_TIMEOUT_S 2

typedef struct {
	struct hrpcd_fdstore_entry e;
	int fd;
} Entry;

typedef struct {
	int fd;
	gboolean session;
} Conn;

typedef struct {
	const char *path;
	struct stat bound;        /* the socket file we created */
	int listen_fd;
	Conn conns[MAX_CONNS];
	guint n_conns;
	Entry *entries;
	guint n_entries, cap;
	gint64 idle_since;        /* monotonic s; 0: not idle */
	guint idle_exit_s;
	gboolean quit;
} Holder;

static gint64 now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static gboolean has_session(Holder *h)
{
	for (guint i = 0; i < h->n_conns; i++)
		if (h->conns[i].session)
			return TRUE;
	return FALSE;
}

/* Does anything held belong to a guest that is attached?  (Listening
 * sockets alone only spare a next daemon a bind; kept for ever they would
 * make QEMUs started meanwhile wait in the backlog for a daemon that may
 * never come.)  The role is the daemon's label: nothing is asked of the
 * descriptor itself. */
static gboolean holds_guest(Holder *h)
{
	for (guint i = 0; i < h->n_entries; i++)
		if (h->entries[i].e.role != HRPCD_FDSTORE_LISTEN)
			return TRUE;
	return FALSE;
}

/* ---- the table ------------------------------------------------------------ */

static gboolean entry_same(const struct hrpcd_fdstore_entry *a, const struct hrpcd_fdstore_entry *b)
{
	return a->role == b->role && a->index == b->index && !strcmp(a->name, b->name);
}

static void entry_drop(Holder *h, guint i)
{
	close(h->entries[i].fd);
	h->entries[i] = h->entries[--h->n_entries];
}

static void drop_all(Holder *h)
{
	while (h->n_entries)
		entry_drop(h, h->n_entries - 1);
}

/* ---- messages --------------------------------------------------------------- */

static void msg_init(struct hrpcd_fdstore_msg *m, guint16 op, gint32 status)
{
	memset(m, 0, sizeof(*m));
	m->magic = HRPCD_FDSTORE_MAGIC;
	m->version = HRPCD_FDSTORE_VERSION;
	m->op = op;
	m->status = status;
}

static int reply(int fd, struct hrpcd_fdstore_msg *m, const int *fds, int nfds)
{
	return hrpc_unix_send(fd, m, sizeof(*m), fds, nfds);
}

/* The peer is the (root) daemon, but a bad length or name must not become a
 * read past a buffer here. */
static gboolean entry_valid(const struct hrpcd_fdstore_entry *e, gboolean any_role)
{
	size_t len = strnlen(e->name, sizeof(e->name));

	if (len == 0 || len == sizeof(e->name) || e->reserved)
		return FALSE;
	for (size_t i = len; i < sizeof(e->name); i++)
		if (e->name[i])
			return FALSE;
	return (any_role || e->role != HRPCD_FDSTORE_ANY) && e->role <= HRPCD_FDSTORE_ROLE_MAX;
}

static gboolean msg_valid(const struct hrpcd_fdstore_msg *m, int nfds)
{
	static const struct hrpcd_fdstore_entry zero;
	gboolean any = m->op == HRPCD_FDSTORE_REMOVE;

	if (m->magic != HRPCD_FDSTORE_MAGIC || m->count > HRPCD_FDSTORE_BATCH || m->reserved ||
	    m->status)
		return FALSE;
	for (guint i = m->count; i < HRPCD_FDSTORE_BATCH; i++)
		if (memcmp(&m->entries[i], &zero, sizeof(zero)))
			return FALSE;
	if (m->op == HRPCD_FDSTORE_STORE || m->op == HRPCD_FDSTORE_REMOVE) {
		if (!m->count)
			return FALSE;
		for (guint i = 0; i < m->count; i++)
			if (!entry_valid(&m->entries[i], any))
				return FALSE;
	} else if (m->count) {
		return FALSE;
	}
	return nfds == (m->op == HRPCD_FDSTORE_STORE ? (int)m->count : 0);
}

static gint32 do_store(Holder *h, const struct hrpcd_fdstore_msg *m, int *fds)
{
	if (h->n_entries + m->count > HRPCD_FDSTORE_MAX_ENTRIES)
		return -ENOSPC;
	if (h->n_entries + m->count > h->cap) {
		guint cap = MAX(h->cap * 2, 64u);

		h->entries = g_renew(Entry, h->entries, cap);
		h->cap = cap;
	}
	for (guint k = 0; k < m->count; k++) {
		for (guint i = 0; i < h->n_entries; i++) {
			if (entry_same(&h->entries[i].e, &m->entries[k])) {
				entry_drop(h, i);
				break;
			}
		}
		h->entries[h->n_entries].e = m->entries[k];
		h->entries[h->n_entries].fd = fds[k];
		h->n_entries++;
		fds[k] = -1;
		g_debug("holding %s %s/%u (%u in all)", m->entries[k].name,
			hrpcd_fdstore_role_name(m->entries[k].role), m->entries[k].index,
			h->n_entries);
	}
	return 0;
}

static guint do_remove(Holder *h, const struct hrpcd_fdstore_msg *m)
{
	guint removed = 0;

	for (guint k = 0; k < m->count; k++) {
		const struct hrpcd_fdstore_entry *r = &m->entries[k];

		for (guint i = h->n_entries; i-- > 0;) {
			const struct hrpcd_fdstore_entry *e = &h->entries[i].e;

			if (strcmp(e->name, r->name) || (r->role && r->role != e->role))
				continue;
			entry_drop(h, i);
			removed++;
		}
	}
	if (removed)
		g_debug("dropped %u descriptor(s) of %s (%u left)", removed, m->entries[0].name,
			h->n_entries);
	return removed;
}

static int do_fetch(Holder *h, int fd)
{
	struct hrpcd_fdstore_msg m;
	int fds[HRPCD_FDSTORE_BATCH];
	guint i = 0;
	int rc;

	do {
		msg_init(&m, HRPCD_FDSTORE_FETCH, 0);
		for (; i < h->n_entries && m.count < HRPCD_FDSTORE_BATCH; i++) {
			m.entries[m.count] = h->entries[i].e;
			fds[m.count++] = h->entries[i].fd;
		}
		if (i == h->n_entries)
			m.flags = HRPCD_FDSTORE_LAST;
		rc = reply(fd, &m, fds, (int)m.count);
	} while (rc == 0 && !(m.flags & HRPCD_FDSTORE_LAST));
	return rc;
}

/* One request.  FALSE: end this connection. */
static gboolean handle(Holder *h, Conn *c)
{
	struct hrpcd_fdstore_msg m, r;
	int fds[HRPCD_FDSTORE_BATCH], nfds = HRPCD_FDSTORE_BATCH, rc;
	gboolean keep = TRUE;

	rc = hrpc_unix_recv(c->fd, &m, sizeof(m), fds, &nfds);
	if (rc < 0) {
		if (rc != -EPIPE && rc != -ECONNRESET)
			g_warning("dropping a connection: %s", g_strerror(-rc));
		return FALSE;
	}
	if (!msg_valid(&m, nfds)) {
		g_warning("dropping a connection that sent a malformed request (op %u)", m.op);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return FALSE;
	}
	msg_init(&r, m.op, 0);
	if (m.version != HRPCD_FDSTORE_VERSION) {
		r.status = -EPROTONOSUPPORT;
		keep = FALSE;
	} else if (m.op == HRPCD_FDSTORE_HELLO) {
		if (c->session) {
			r.status = -EALREADY;
		} else if (has_session(h)) {
			r.status = -EBUSY;
			keep = FALSE;
		} else {
			c->session = TRUE;
			r.pid = (guint32)getpid();
			r.total = h->n_entries;
			g_message("daemon connected; %u descriptor(s) held", h->n_entries);
		}
	} else if (!c->session) {
		r.status = -ENOTCONN;
	} else if (m.op == HRPCD_FDSTORE_STORE) {
		r.status = do_store(h, &m, fds);
	} else if (m.op == HRPCD_FDSTORE_REMOVE) {
		r.total = do_remove(h, &m);
	} else if (m.op == HRPCD_FDSTORE_FETCH) {
		if (do_fetch(h, c->fd) < 0)
			return FALSE;
		return TRUE;
	} else if (m.op == HRPCD_FDSTORE_QUIT) {
		g_message("asked to let go of %u descriptor(s) and exit", h->n_entries);
		drop_all(h);
		h->quit = TRUE;
	} else {
		r.status = -ENOSYS;
	}
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (reply(c->fd, &r, NULL, 0) < 0)
		return FALSE;
	return keep;
}

/* ---- connections -------------------------------------------------------------- */

static void conn_close(Holder *h, guint i)
{
	if (h->conns[i].session)
		g_message("daemon gone; holding %u descriptor(s)", h->n_entries);
	close(h->conns[i].fd);
	h->conns[i] = h->conns[--h->n_conns];
}

static void accept_all(Holder *h)
{
	int c;

	while ((c = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
		struct ucred cred;
		socklen_t len = sizeof(cred);

		/* The socket is 0600 already; this is belt and braces. */
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != 0 && cred.uid != geteuid()) || h->n_conns == MAX_CONNS) {
			close(c);
			continue;
		}
		/* A daemon that stops reading must not block us. */
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		h->conns[h->n_conns++] = (Conn){ .fd = c };
	}
}

/* ---- start-up -------------------------------------------------------------------- */

/* Bind `path` unless a live holder answers there (then FALSE, errno EADDRINUSE). */
static int listen_on(const char *path, struct stat *st)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (hrpcd_unix_bind(fd, &a, 0600) < 0 ||
	    listen(fd, MAX_CONNS) < 0 || stat(path, st) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Still reachable?  Someone who removed or replaced our socket file (the
 * state directory deleted, a second holder) made us useless. */
static gboolean socket_still_ours(Holder *h)
{
	struct stat st;

	return stat(h->path, &st) == 0 && st.st_ino == h->bound.st_ino &&
	       st.st_dev == h->bound.st_dev;
}

static void run(Holder *h)
{
	struct pollfd p[1 + MAX_CONNS];

	while (!h->quit) {
		int n;

		p[0] = (struct pollfd){ .fd = h->listen_fd, .events = POLLIN };
		for (guint i = 0; i < h->n_conns; i++)
			p[1 + i] = (struct pollfd){ .fd = h->conns[i].fd, .events = POLLIN };
		n = poll(p, 1 + h->n_conns, TICK_MS);
		if (n < 0 && errno != EINTR) {
			g_critical("poll: %s", g_strerror(errno));
			return;
		}
		/* Back to front: conn_close() moves the last connection into
		 * the freed slot. */
		for (guint i = h->n_conns; n > 0 && i-- > 0;) {
			short ev = p[1 + i].revents;

			if ((ev & POLLIN) ? !handle(h, &h->conns[i]) : (ev & (POLLHUP | POLLERR)) != 0)
				conn_close(h, i);
			if (h->quit)
				return;
		}
		if (n > 0 && (p[0].revents & POLLIN))
			accept_all(h);

		if (!socket_still_ours(h)) {
			g_message("%s was removed or replaced; letting go of %u descriptor(s)",
				  h->path, h->n_entries);
			return;
		}
		if (holds_guest(h) || has_session(h)) {
			h->idle_since = 0;
		} else if (!h->idle_since) {
			h->idle_since = now_s();
		} else if (now_s() - h->idle_since >= h->idle_exit_s) {
			if (h->n_entries)
				g_message("no daemon for %u s and no guest attached: letting go of %u "
					  "listening socket(s)", h->idle_exit_s, h->n_entries);
			else
				g_debug("nothing held and no daemon for %u s", h->idle_exit_s);
			return;
		}
	}
}

static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int hrpcd_fdstore_main(int argc, char **argv)
{
	g_autofree char *path = NULL;
	gint idle = HRPCD_FDSTORE_IDLE_DEFAULT_S, ready_fd = -1;
	gboolean fdstore = FALSE, use_syslog = FALSE, verbose = FALSE;
	GOptionEntry entries[] = {
		{ "fdstore", 0, 0, G_OPTION_ARG_NONE, &fdstore, NULL, NULL },
		{ "socket", 0, 0, G_OPTION_ARG_FILENAME, &path, NULL, NULL },
		{ "idle-exit", 0, 0, G_OPTION_ARG_INT, &idle, NULL, NULL },
		{ "ready-fd", 0, 0, G_OPTION_ARG_INT, &ready_fd, NULL, NULL },
		{ "syslog", 0, 0, G_OPTION_ARG_NONE, &use_syslog, NULL, NULL },
		{ "verbose", 0, 0, G_OPTION_ARG_NONE, &verbose, NULL, NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	Holder h = { .listen_fd = -1 };
	gboolean ok;
	char c = 0;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	g_set_prgname("hostrpcd-fdstore");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_help_enabled(ctx, FALSE);
	ok = g_option_context_parse(ctx, &argc, &argv, &error);
	hrpcd_log_init(use_syslog ? HRPCD_LOG_SYSLOG : HRPCD_LOG_STDERR, verbose);
	if (!ok || !fdstore || !path || !g_path_is_absolute(path) || idle < 1) {
		g_critical("fd holder: bad invocation%s%s (hostrpcd starts it itself)",
			   error ? ": " : "", error ? error->message : "");
		return 2;
	}
	prctl(PR_SET_NAME, "hrpcd-fdstore");
	raise_fd_limit();
	h.path = path;
	h.idle_exit_s = (guint)idle;
	h.listen_fd = listen_on(path, &h.bound);
	if (h.listen_fd < 0) {
		/* Another holder won a start-up race: it is the one to use. */
		if (errno == EADDRINUSE)
			g_debug("another fd holder listens on %s", path);
		else
			g_warning("fd holder: cannot listen on %s: %s", path, g_strerror(errno));
		return errno == EADDRINUSE ? 0 : 1;
	}
	/* Not in the way of unmounting or removing the daemon's directory. */
	if (chdir("/") < 0)
		g_debug("chdir /: %s", g_strerror(errno));
	if (ready_fd >= 0) {
		if (write(ready_fd, &c, 1) != 1)
			g_debug("ready: %s", g_strerror(errno));
		close(ready_fd);
	}
	g_message("fd holder listening on %s", path);

	run(&h);

	drop_all(&h);
	g_free(h.entries);
	for (guint i = h.n_conns; i-- > 0;)
		conn_close(&h, i);
	/* Only remove the socket file if it is still ours. */
	if (socket_still_ours(&h))
		unlink(path);
	close(h.listen_fd);
	g_message("fd holder exits");
	return 0;
}
