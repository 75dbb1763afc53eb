/* SPDX-License-Identifier: MIT */
/*
 * agent-exec.c - the command execution service (include/hostrpc/guestexec.h).
 *
 * A session is a child process in its own session/process group with three
 * non-blocking pipes.  The main loop polls the pipes: stdout/stderr are read
 * only while the host's credit lasts (back-pressure reaches the command
 * through its pipe, the agent never buffers output), stdin is written from
 * a bounded buffer that WRITE calls fill.  EXIT is sent once the command was
 * reaped and both output pipes reached end-of-file, so no output follows it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostrpc/guestexec.h"
#include "hostrpc/handle-table.h"
#include "guestrpc/agent.h"

extern char **environ;

struct session {
	uint64_t handle;
	pid_t pid;               /* 0 once reaped */
	int out_fd[3];           /* [1] stdout, [2] stderr; -1 = closed */
	int in_fd;               /* -1 = closed / none */
	uint8_t *in_buf;         /* HRPC_GEX_STDIN_MAX bytes */
	uint32_t in_head, in_len;
	bool in_eof;             /* close stdin once in_len == 0 */
	bool in_broken;          /* the command closed its stdin */
	bool want_room;          /* the host waits for HRPC_GEX_EV_STDIN */
	uint64_t credit;         /* output bytes the agent may still send */
	uint64_t sent[3];
	uint64_t deadline_ns;    /* 0 = none */
	bool timed_out;
	bool exited;             /* reaped */
	int wstatus;
	bool reported;           /* EXIT sent */
};

struct gex_state {
	struct hrpc_handle_table sessions;
	hrpc_conn *conn;
	_Alignas(8) uint8_t ev[HRPC_MSG_MAX_PAYLOAD];
};

struct gex_state *gex_state_new(void)
{
	struct gex_state *s = calloc(1, sizeof(*s));

	if (s)
		hrpc_handle_table_init(&s->sessions, agent_cfg->max_sessions, 0);
	return s;
}

void gex_state_set_conn(struct gex_state *s, hrpc_conn *conn)
{
	s->conn = conn;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void session_free(struct session *ss)
{
	/* The group may outlive its leader: kill the group, never wait. */
	if (ss->pid > 0 && !ss->exited)
		kill(-ss->pid, SIGKILL);
	close_fd(&ss->out_fd[1]);
	close_fd(&ss->out_fd[2]);
	close_fd(&ss->in_fd);
	free(ss->in_buf);
	free(ss);
}

void gex_state_free(struct gex_state *s)
{
	uint32_t pos = 0;
	uint64_t h;
	struct session *ss;

	if (!s)
		return;
	while ((ss = hrpc_handle_table_next(&s->sessions, &pos, &h)))
		session_free(ss);
	hrpc_handle_table_fini(&s->sessions);
	free(s);
}

/* ---- START -------------------------------------------------------------- */

/* Split the bulk into NUL-terminated strings; every string must end inside. */
static int split_strings(const char *buf, uint32_t len, uint32_t n, char **out)
{
	uint32_t pos = 0;

	for (uint32_t i = 0; i < n; i++) {
		const char *e;

		if (pos >= len)
			return -EINVAL;
		e = memchr(buf + pos, 0, len - pos);
		if (!e)
			return -EINVAL;
		out[i] = (char *)buf + pos;
		pos = (uint32_t)(e - buf) + 1;
	}
	return pos == len ? 0 : -EINVAL;
}

static char **merge_env(char **add, uint32_t n, bool clear)
{
	size_t base = 0, k = 0;
	char **env;

	if (!clear)
		while (environ[base])
			base++;
	env = calloc(base + n + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < base; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool overridden = false;

		for (uint32_t j = 0; j < n && !overridden; j++)
			overridden = !strncmp(add[j], environ[i], nl) && add[j][nl] == '=';
		if (!overridden)
			env[k++] = environ[i];
	}
	for (uint32_t j = 0; j < n; j++)
		env[k++] = add[j];
	env[k] = NULL;
	return env;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/*
 * posix_spawn (vfork-like in glibc: no page-table copy, which matters under
 * TCG) into a new session, with the pipes as stdio.  glibc reports exec
 * failures (ENOENT, EACCES, ...) as the return value.
 */
static int spawn(struct session *ss, char **argv, char **envp, const char *cwd, uint32_t flags)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	pid_t pid;
	int rc;

	if (pipe2(out, O_CLOEXEC) < 0 ||
	    (!(flags & HRPC_GEX_F_MERGE_STDERR) && pipe2(err, O_CLOEXEC) < 0) ||
	    ((flags & HRPC_GEX_F_STDIN) && pipe2(in, O_CLOEXEC) < 0)) {
		rc = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (flags & HRPC_GEX_F_STDIN)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, (flags & HRPC_GEX_F_MERGE_STDERR) ? out[1] : err[1], 2);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	/* The agent blocks the signals its signalfd takes and ignores SIGPIPE:
	 * the command starts with an empty mask and default dispositions. */
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	rc = -posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc < 0)
		goto out;
	ss->pid = pid;
	ss->out_fd[1] = out[0];
	out[0] = -1;
	ss->out_fd[2] = err[0];
	err[0] = -1;
	ss->in_fd = in[1];
	in[1] = -1;
	set_nonblock(ss->out_fd[1]);
	if (ss->out_fd[2] >= 0)
		set_nonblock(ss->out_fd[2]);
	if (ss->in_fd >= 0)
		set_nonblock(ss->in_fd);
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	return rc;
}

static int do_start(struct gex_state *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gex_start_req *r = req->payload;
	struct hrpc_gex_started *st = rep->payload;
	uint32_t nstr;
	char **strs = NULL, **envp = NULL, *buf = NULL;
	struct session *ss = NULL;
	int rc;

	if (req->len != sizeof(*r) || r->reserved || (r->flags & ~HRPC_GEX_F_KNOWN))
		return -EINVAL;
	if (r->argc == 0 || r->argc > HRPC_GEX_ARGS_MAX || r->envc > HRPC_GEX_ARGS_MAX - r->argc)
		return -E2BIG;
	if (r->window < HRPC_GEX_WINDOW_MIN || r->window > HRPC_GEX_WINDOW_MAX)
		return -EINVAL;
	if (!req->bulk || r->strings_len != req->bulk_len || r->strings_len > HRPC_GEX_STRINGS_MAX ||
	    r->cwd_len > r->strings_len)
		return -EINVAL;
	nstr = r->argc + r->envc + (r->cwd_len ? 1 : 0);
	/* Private copy: the strings are parsed, then used after fork. */
	buf = malloc(r->strings_len);
	strs = calloc(nstr + 2, sizeof(*strs));
	ss = calloc(1, sizeof(*ss));
	if (!buf || !strs || !ss) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(buf, req->bulk, r->strings_len);
	rc = split_strings(buf, r->strings_len, nstr, strs);
	if (rc < 0)
		goto out;
	if (r->cwd_len && strlen(strs[nstr - 1]) + 1 != r->cwd_len) {
		rc = -EINVAL;
		goto out;
	}
	for (uint32_t i = 0; i < r->envc; i++) {
		const char *e = strs[r->argc + i];

		if (e[0] == '=' || !strchr(e, '=')) {
			rc = -EINVAL;
			goto out;
		}
	}
	envp = merge_env(strs + r->argc, r->envc, r->flags & HRPC_GEX_F_CLEAR_ENV);
	if (!envp) {
		rc = -ENOMEM;
		goto out;
	}
	ss->out_fd[0] = ss->out_fd[1] = ss->out_fd[2] = ss->in_fd = -1;
	ss->credit = r->window;
	if (r->flags & HRPC_GEX_F_STDIN) {
		ss->in_buf = malloc(HRPC_GEX_STDIN_MAX);
		if (!ss->in_buf) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = hrpc_handle_table_add(&s->sessions, ss, &ss->handle);
	if (rc < 0)
		goto out;
	{
		char *argv_nt[r->argc + 1];

		memcpy(argv_nt, strs, r->argc * sizeof(char *));
		argv_nt[r->argc] = NULL;
		rc = spawn(ss, argv_nt, envp, r->cwd_len ? strs[nstr - 1] : NULL, r->flags);
	}
	if (rc < 0) {
		hrpc_handle_table_remove(&s->sessions, ss->handle);
		goto out;
	}
	if (r->timeout_ms)
		ss->deadline_ns = hrpc_now_ns() + (uint64_t)r->timeout_ms * 1000000ull;
	agent_debug("exec %s: pid %d handle %#llx", strs[0], (int)ss->pid,
		    (unsigned long long)ss->handle);
	st->handle = ss->handle;
	st->pid = (uint32_t)ss->pid;
	st->reserved = 0;
	rep->len = sizeof(*st);
	ss = NULL;
out:
	if (ss)
		session_free(ss);
	free(envp);
	free(strs);
	free(buf);
	return rc;
}

/* ---- stdin ---------------------------------------------------------------- */

static void stdin_pump(struct session *ss)
{
	while (ss->in_fd >= 0 && ss->in_len) {
		uint32_t chunk = ss->in_len;
		ssize_t n;

		if (ss->in_head + chunk > HRPC_GEX_STDIN_MAX)
			chunk = HRPC_GEX_STDIN_MAX - ss->in_head;
		n = write(ss->in_fd, ss->in_buf + ss->in_head, chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* EPIPE: the command closed its stdin. */
			ss->in_broken = true;
			ss->in_len = 0;
			close_fd(&ss->in_fd);
			return;
		}
		ss->in_head = (ss->in_head + (uint32_t)n) % HRPC_GEX_STDIN_MAX;
		ss->in_len -= (uint32_t)n;
	}
	if (ss->in_len == 0)
		ss->in_head = 0;
	if (ss->in_fd >= 0 && ss->in_len == 0 && ss->in_eof)
		close_fd(&ss->in_fd);
}

static int do_write(struct gex_state *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_gex_write_req *r = req->payload;
	struct hrpc_gex_write_rep *wr = rep->payload;
	struct session *ss;
	uint32_t take, tail;

	if (req->len != sizeof(*r) || (r->flags & ~HRPC_GEX_WRITE_EOF) ||
	    r->size > HRPC_GEX_STDIN_MAX)
		return -EINVAL;
	if (r->size && (!req->bulk || req->bulk_len != r->size))
		return -EFAULT;
	if (!(ss = hrpc_handle_table_get(&s->sessions, r->handle)))
		return -ESRCH;
	if (!ss->in_buf)
		return -EBADF;
	if (ss->in_broken)
		return -EPIPE;
	if (ss->in_eof)
		return -EBADF;  /* already closed by the host */
	take = HRPC_GEX_STDIN_MAX - ss->in_len;
	if (take > r->size)
		take = r->size;
	/* Copy into the ring in at most two pieces. */
	tail = (ss->in_head + ss->in_len) % HRPC_GEX_STDIN_MAX;
	if (take) {
		uint32_t first = take < HRPC_GEX_STDIN_MAX - tail ? take : HRPC_GEX_STDIN_MAX - tail;

		memcpy(ss->in_buf + tail, req->bulk, first);
		memcpy(ss->in_buf, req->bulk + first, take - first);
		ss->in_len += take;
	}
	if (take < r->size)
		ss->want_room = true;
	else if (r->flags & HRPC_GEX_WRITE_EOF)
		ss->in_eof = true;
	stdin_pump(ss);
	wr->accepted = take;
	wr->room = HRPC_GEX_STDIN_MAX - ss->in_len;
	rep->len = sizeof(*wr);
	return 0;
}

/* ---- status, credit, kill, release ---------------------------------------- */

static void fill_status(const struct session *ss, struct hrpc_gex_status *st)
{
	memset(st, 0, sizeof(*st));
	st->handle = ss->handle;
	st->state = ss->reported ? HRPC_GEX_EXITED : HRPC_GEX_RUNNING;
	st->code = -1;
	if (ss->reported && WIFEXITED(ss->wstatus))
		st->code = WEXITSTATUS(ss->wstatus);
	if (ss->reported && WIFSIGNALED(ss->wstatus))
		st->signal = (uint32_t)WTERMSIG(ss->wstatus);
	st->flags = ss->timed_out ? HRPC_GEX_X_TIMEDOUT : 0;
	st->out_bytes = ss->sent[1];
	st->err_bytes = ss->sent[2];
}

static int do_misc(struct gex_state *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	struct session *ss;

	switch (req->hdr->proc) {
	case HRPC_GEX_CREDIT: {
		const struct hrpc_gex_credit_req *r = req->payload;

		if (req->len != sizeof(*r) || r->reserved)
			return -EINVAL;
		if (!(ss = hrpc_handle_table_get(&s->sessions, r->handle)))
			return -ESRCH;
		/* A host that grants more than it ever could have consumed only
		 * lets the command run ahead; cap it so the counter stays sane. */
		ss->credit += r->bytes;
		if (ss->credit > HRPC_GEX_WINDOW_MAX * 2ull)
			ss->credit = HRPC_GEX_WINDOW_MAX * 2ull;
		return 0;
	}
	case HRPC_GEX_KILL: {
		const struct hrpc_gex_kill_req *r = req->payload;

		if (req->len != sizeof(*r) || r->reserved || r->signal < 1 || r->signal > 64)
			return -EINVAL;
		if (!(ss = hrpc_handle_table_get(&s->sessions, r->handle)))
			return -ESRCH;
		if (!ss->exited && kill(-ss->pid, (int)r->signal) < 0 && errno != ESRCH)
			return -errno;
		return 0;
	}
	case HRPC_GEX_STATUS:
	case HRPC_GEX_RELEASE: {
		const struct hrpc_gex_handle_req *r = req->payload;

		if (req->len != sizeof(*r))
			return -EINVAL;
		if (!(ss = hrpc_handle_table_get(&s->sessions, r->handle)))
			return -ESRCH;
		if (req->hdr->proc == HRPC_GEX_STATUS) {
			fill_status(ss, rep->payload);
			rep->len = sizeof(struct hrpc_gex_status);
			return 0;
		}
		hrpc_handle_table_remove(&s->sessions, r->handle);
		session_free(ss);
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

int gex_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	struct gex_state *s = opaque;

	switch (req->hdr->proc) {
	case HRPC_GEX_START:
		return do_start(s, req, rep);
	case HRPC_GEX_WRITE:
		return do_write(s, req, rep);
	default:
		return do_misc(s, req, rep);
	}
}

/* ---- the main loop's side ----------------------------------------------------- */

int gex_poll_fill(struct gex_state *s, struct pollfd *pfd, int max, int *timeout_ms)
{
	uint32_t pos = 0;
	uint64_t h, now = hrpc_now_ns();
	struct session *ss;
	int n = 0;

	while ((ss = hrpc_handle_table_next(&s->sessions, &pos, &h))) {
		if (ss->deadline_ns && !ss->exited) {
			uint64_t left = ss->deadline_ns > now ? ss->deadline_ns - now : 0;
			int ms = (int)((left + 999999) / 1000000);

			if (*timeout_ms < 0 || ms < *timeout_ms)
				*timeout_ms = ms;
		}
		for (int k = 1; k <= 2; k++) {
			if (n < max && ss->out_fd[k] >= 0 && ss->credit)
				pfd[n++] = (struct pollfd){ .fd = ss->out_fd[k], .events = POLLIN };
		}
		if (n < max && ss->in_fd >= 0 && ss->in_len)
			pfd[n++] = (struct pollfd){ .fd = ss->in_fd, .events = POLLOUT };
	}
	return n;
}

static struct session *session_by_fd(struct gex_state *s, int fd, int *which)
{
	uint32_t pos = 0;
	uint64_t h;
	struct session *ss;

	while ((ss = hrpc_handle_table_next(&s->sessions, &pos, &h))) {
		for (int k = 1; k <= 2; k++)
			if (ss->out_fd[k] == fd) {
				*which = k;
				return ss;
			}
		if (ss->in_fd == fd) {
			*which = 0;
			return ss;
		}
	}
	return NULL;
}

static int send_output(struct gex_state *s, struct session *ss, int k)
{
	struct hrpc_gex_output *o = (struct hrpc_gex_output *)s->ev;
	uint32_t want = HRPC_GEX_OUTPUT_MAX;
	ssize_t n;

	if (ss->credit < want)
		want = (uint32_t)ss->credit;
	do
		n = read(ss->out_fd[k], s->ev + sizeof(*o), want);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		close_fd(&ss->out_fd[k]);
		return 0;
	}
	o->handle = ss->handle;
	o->stream = (uint32_t)k;
	o->size = (uint32_t)n;
	ss->credit -= (uint64_t)n;
	ss->sent[k] += (uint64_t)n;
	return s->conn ? hrpc_conn_send_event(s->conn, HRPC_SVC_GUEST_EXEC, HRPC_GEX_EV_OUTPUT,
					      s->ev, (uint32_t)(sizeof(*o) + (size_t)n)) : 0;
}

int gex_poll_done(struct gex_state *s, const struct pollfd *pfd, int n)
{
	for (int i = 0; i < n; i++) {
		struct session *ss;
		int k, rc;

		if (!pfd[i].revents)
			continue;
		ss = session_by_fd(s, pfd[i].fd, &k);
		if (!ss)
			continue;
		if (k == 0) {
			stdin_pump(ss);
			if (pfd[i].revents & (POLLERR | POLLHUP) && ss->in_fd >= 0 && ss->in_len) {
				ss->in_broken = true;
				ss->in_len = 0;
				close_fd(&ss->in_fd);
			}
			continue;
		}
		rc = send_output(s, ss, k);
		if (rc < 0)
			return rc;
	}
	return 0;
}

bool gex_child_exited(struct gex_state *s, pid_t pid, int status)
{
	uint32_t pos = 0;
	uint64_t h;
	struct session *ss;

	while ((ss = hrpc_handle_table_next(&s->sessions, &pos, &h))) {
		if (ss->pid == pid && !ss->exited) {
			ss->exited = true;
			ss->wstatus = status;
			return true;
		}
	}
	return false;
}

int gex_tick(struct gex_state *s)
{
	uint32_t pos = 0;
	uint64_t h, now = hrpc_now_ns();
	struct session *ss;
	struct hrpc_gex_stdin_room room;
	struct hrpc_gex_status st;
	int rc;

	while ((ss = hrpc_handle_table_next(&s->sessions, &pos, &h))) {
		if (ss->deadline_ns && !ss->exited && now >= ss->deadline_ns && !ss->timed_out) {
			ss->timed_out = true;
			kill(-ss->pid, SIGKILL);
		}
		if (ss->want_room && ss->in_len <= HRPC_GEX_STDIN_MAX / 2 && s->conn) {
			ss->want_room = false;
			room = (struct hrpc_gex_stdin_room){ .handle = ss->handle,
				.room = HRPC_GEX_STDIN_MAX - ss->in_len };
			rc = hrpc_conn_send_event(s->conn, HRPC_SVC_GUEST_EXEC, HRPC_GEX_EV_STDIN,
						  &room, sizeof(room));
			if (rc < 0)
				return rc;
		}
		/* A command that exited with stdin still buffered will never read it. */
		if (ss->exited && ss->in_fd >= 0)
			close_fd(&ss->in_fd);
		if (ss->exited && !ss->reported && ss->out_fd[1] < 0 && ss->out_fd[2] < 0) {
			ss->reported = true;
			fill_status(ss, &st);
			agent_debug("exit handle %#llx status %#x", (unsigned long long)ss->handle,
				    ss->wstatus);
			if (s->conn) {
				rc = hrpc_conn_send_event(s->conn, HRPC_SVC_GUEST_EXEC, HRPC_GEX_EV_EXIT,
							  &st, sizeof(st));
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}
