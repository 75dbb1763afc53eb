/* SPDX-License-Identifier: MIT */
/*
 * hostrpc-guest-exec - run a command in a guest (guestrpcd, service 257),
 * with its stdin, stdout and stderr streamed, and exit with its status.
 *
 * usage: hostrpc-guest-exec [options] DOMAIN|SOCKET -- CMD [ARG...]
 *
 * Output arrives as events and is flow-controlled by credit (guestexec.h):
 * this tool grants more only after it wrote what it got, so a slow reader
 * of our stdout slows the guest's command, never the channel.  stdin is
 * pumped by a second thread; signals (INT, TERM, HUP, QUIT) are forwarded
 * to the command's process group in the guest.
 *
 * The guest is untrusted, so this tool never waits on it without end:
 * every call has a deadline (--call-timeout) the guest cannot extend by
 * trickling; with --timeout the host gives up --grace after the guest
 * should have killed the command (exit 124) even if it never says so; and
 * after a forwarded signal it exits 128+N once --grace passed without the
 * command's end, or at once on a second signal - whatever the guest does.
 *
 * Exit status: the command's; 128+N if a signal N ended it; 124 if the
 * guest-side --timeout killed it; 125 if the channel failed; 126 if the
 * command cannot be executed, 127 if it was not found (as env(1)).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/guestexec.h"
#include "guestrpc/session.h"
#include "gex-decode.h"

#define STDIN_CHUNK (256u * 1024u)
/* How long after the guest should have ended the command (its --timeout,
 * or a forwarded signal) the host stops waiting for it (--grace). */
#define GRACE_MS 3000
/* The main loop's longest wait, so that it sees a signal's deadline. */
#define TICK_MS 100

static guestrpc_session *sess;
static uint64_t handle;        /* 0 until START answered (atomic) */
static int call_timeout_ms = 30000;
static int grace_ms = GRACE_MS;
/* Set by the signal thread: the first forwarded signal, and when the
 * host stops waiting for the command's end because of it (ns, monotonic). */
static int sig_first;
static uint64_t sig_deadline;

/* stdin pump <-> main thread: the agent's buffer has room again. */
static pthread_mutex_t room_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t room_cond = PTHREAD_COND_INITIALIZER;
static bool room;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int gex_call(uint16_t proc, const void *req, uint32_t len, void *rep, uint32_t rep_cap,
		    const void *bulk, uint32_t bulk_len)
{
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_EXEC, .proc = proc, .req = req, .req_len = len,
		.rep = rep, .rep_cap = rep_cap, .bulk_out = bulk, .bulk_out_len = bulk_len,
	};

	return guestrpc_session_call(sess, &c);
}

/* A call whose answer changes nothing (CREDIT, KILL, RELEASE): do not wait
 * for it, unless every slot is in flight. */
static void gex_send(uint16_t proc, const void *req, uint32_t len)
{
	struct guestrpc_call c = {
		.service = HRPC_SVC_GUEST_EXEC, .proc = proc, .req = req, .req_len = len,
	};

	if (guestrpc_session_send(sess, &c) == -EBUSY)
		gex_call(proc, req, len, NULL, 0, NULL, 0);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *stdin_main(void *arg)
{
	uint8_t *buf = malloc(STDIN_CHUNK);
	bool eof = false;

	while (buf && !eof) {
		ssize_t n = read(0, buf, STDIN_CHUNK);
		uint32_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			eof = true;
		do {
			struct hrpc_gex_write_req w = {
				.handle = handle, .size = (uint32_t)(n > 0 ? n : 0) - off,
				.flags = eof ? HRPC_GEX_WRITE_EOF : 0,
			};
			struct hrpc_gex_write_rep wr = { 0 };
			int rc;

			pthread_mutex_lock(&room_lock);
			room = false;
			pthread_mutex_unlock(&room_lock);
			rc = gex_call(HRPC_GEX_WRITE, &w, sizeof(w), &wr, sizeof(wr), buf + off, w.size);
			if (rc < 0 || wr.accepted > w.size)
				goto out;  /* EPIPE: the command closed stdin; or the channel died */
			off += wr.accepted;
			if (wr.accepted < w.size) {
				/* The agent's buffer is full: wait for its STDIN event. */
				pthread_mutex_lock(&room_lock);
				while (!room)
					pthread_cond_wait(&room_cond, &room_lock);
				pthread_mutex_unlock(&room_lock);
			}
		} while (n > 0 && off < (uint32_t)n);
	}
out:
	free(buf);
	return NULL;
}

/*
 * Forward signals to the command; the main loop gives up grace_ms later
 * if the guest does not report its end.  A signal before the command
 * started, or a second one, ends this tool at once.
 */
static void *signal_main(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		uint64_t h;

		if (sigwait(set, &sig) != 0)
			continue;
		h = __atomic_load_n(&handle, __ATOMIC_ACQUIRE);
		if (!h || __atomic_load_n(&sig_first, __ATOMIC_ACQUIRE)) {
			fprintf(stderr, "hostrpc-guest-exec: %s: not waiting for the guest\n",
				strsignal(sig));
			_exit(128 + sig);
		}
		__atomic_store_n(&sig_deadline, now_ns() + (uint64_t)grace_ms * 1000000ull, __ATOMIC_RELAXED);
		__atomic_store_n(&sig_first, sig, __ATOMIC_RELEASE);

		struct hrpc_gex_kill_req k = { .handle = h, .signal = (uint32_t)sig };

		gex_send(HRPC_GEX_KILL, &k, sizeof(k));
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hostrpc-guest-exec [options] DOMAIN|SOCKET -- CMD [ARG...]\n"
		"Run CMD in the guest (guestrpcd), stream its stdin/stdout/stderr, exit with\n"
		"its status (128+N for signal N, 124 timeout, 125 channel error, 126/127 exec).\n"
		"DOMAIN is a libvirt domain (its org.hostrpc.guest.N channels), or xen:NAME /\n"
		"xen:ID, a Xen domain whose guestrpcd runs with --vchan (from dom0); SOCKET is\n"
		"a channel's unix socket path.\n"
		"  -c URI            libvirt URI (default $LIBVIRT_DEFAULT_URI or qemu:///system)\n"
		"  -e NAME=VALUE     set an environment variable (repeatable)\n"
		"  --clear-env       start from an empty environment\n"
		"  -C, --cwd=DIR     working directory in the guest\n"
		"  -t, --timeout=SEC kill the command (process group) after SEC seconds; if\n"
		"                    the guest does not report its end --grace later, exit 124\n"
		"  --grace=SEC       how long to wait for the guest to end the command after\n"
		"                    --timeout or a forwarded signal (default 3); then exit\n"
		"                    124 or 128+N; a second signal exits at once\n"
		"  --call-timeout=SEC  fail (exit 125) if the guest does not answer a request\n"
		"                    in SEC (default 30)\n"
		"  -n, --no-stdin    the command's stdin is /dev/null\n"
		"  --merge-stderr    send stderr to stdout in the guest (2>&1)\n"
		"  --window=BYTES    output flow-control window (default 8 MiB, 64 KiB..64 MiB)\n"
		"  -h, --help        this help\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "clear-env", no_argument, NULL, 'E' },
		{ "cwd", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-stdin", no_argument, NULL, 'n' },
		{ "merge-stderr", no_argument, NULL, 'M' },
		{ "window", required_argument, NULL, 'w' },
		{ "call-timeout", required_argument, NULL, 'T' },
		{ "grace", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hrpc_gex_start_req sr = { .window = 8u << 20 };
	struct hrpc_gex_started st;
	struct hrpc_gex_status ex = { 0 };
	const char *uri = NULL, *cwd = NULL, *target = NULL;
	char **envs = calloc((size_t)argc + 1, sizeof(char *));
	char *err = NULL, *strings;
	size_t slen = 0, pos = 0;
	uint64_t consumed = 0, host_deadline = 0;
	bool stdin_on = true, out_broken = false, exited = false;
	pthread_t t_in, t_sig;
	static sigset_t sigs;
	int nenv = 0, opt, rc;

	/* Options may come before and after DOMAIN; "--" ends them. */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (optind >= argc || !strcmp(argv[optind - 1], "--"))
				break;
			target = argv[optind++];
		}
		while ((opt = getopt_long(argc, argv, "+c:e:C:t:nh", lopts, NULL)) != -1) {
			switch (opt) {
			case 'c': uri = optarg; break;
			case 'e':
				if (!strchr(optarg, '=') || optarg[0] == '=') {
					fprintf(stderr, "hostrpc-guest-exec: -e wants NAME=VALUE\n");
					return 125;
				}
				envs[nenv++] = optarg;
				break;
			case 'E': sr.flags |= HRPC_GEX_F_CLEAR_ENV; break;
			case 'C': cwd = optarg; break;
			case 't':
				if (atof(optarg) < 0 || atof(optarg) > 4000000) {
					fprintf(stderr, "hostrpc-guest-exec: --timeout wants 0..4000000 seconds\n");
					return 125;
				}
				sr.timeout_ms = (uint32_t)(atof(optarg) * 1000);
				break;
			case 'n': stdin_on = false; break;
			case 'M': sr.flags |= HRPC_GEX_F_MERGE_STDERR; break;
			case 'w': sr.window = (uint32_t)strtoul(optarg, NULL, 0); break;
			case 'G':
				grace_ms = (int)(atof(optarg) * 1000);
				if (grace_ms < 0 || grace_ms > 86400000) {
					fprintf(stderr, "hostrpc-guest-exec: --grace wants 0..86400 seconds\n");
					return 125;
				}
				break;
			case 'T':
				call_timeout_ms = (int)(atof(optarg) * 1000);
				if (call_timeout_ms <= 0 || call_timeout_ms > 86400000) {
					fprintf(stderr, "hostrpc-guest-exec: --call-timeout wants 0.001..86400 seconds\n");
					return 125;
				}
				break;
			case 'h': usage(stdout); return 0;
			default: usage(stderr); return 125;
			}
		}
	}
	if (!target && optind < argc)
		target = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--") && strcmp(argv[optind - 1], "--"))
		optind++;
	if (!target || optind >= argc) {
		usage(stderr);
		return 125;
	}
	if (sr.window < HRPC_GEX_WINDOW_MIN || sr.window > HRPC_GEX_WINDOW_MAX) {
		fprintf(stderr, "hostrpc-guest-exec: --window must be %u..%u\n",
			HRPC_GEX_WINDOW_MIN, HRPC_GEX_WINDOW_MAX);
		return 125;
	}
	sr.argc = (uint32_t)(argc - optind);
	sr.envc = (uint32_t)nenv;
	for (int i = optind; i < argc; i++)
		slen += strlen(argv[i]) + 1;
	for (int i = 0; i < nenv; i++)
		slen += strlen(envs[i]) + 1;
	if (cwd)
		slen += strlen(cwd) + 1;
	if (slen > HRPC_GEX_STRINGS_MAX) {
		fprintf(stderr, "hostrpc-guest-exec: arguments too long\n");
		return 125;
	}
	strings = malloc(slen);
	for (int i = optind; i < argc; i++, pos += strlen(argv[i - 1]) + 1)
		memcpy(strings + pos, argv[i], strlen(argv[i]) + 1);
	for (int i = 0; i < nenv; i++, pos += strlen(envs[i - 1]) + 1)
		memcpy(strings + pos, envs[i], strlen(envs[i]) + 1);
	if (cwd) {
		memcpy(strings + pos, cwd, strlen(cwd) + 1);
		sr.cwd_len = (uint32_t)strlen(cwd) + 1;
	}
	sr.strings_len = (uint32_t)slen;
	if (stdin_on)
		sr.flags |= HRPC_GEX_F_STDIN;

	/* Signals go to the signal thread only (every thread inherits the mask). */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/* From here on a signal ends us even while the guest does not answer. */
	pthread_create(&t_sig, NULL, signal_main, &sigs);
	pthread_detach(t_sig);

	rc = guestrpc_session_open(target, uri, 10000, &sess, &err);
	if (rc < 0) {
		fprintf(stderr, "hostrpc-guest-exec: %s\n", err ? err : strerror(-rc));
		return 125;
	}
	/* Calls answer quickly; a command runs as long as it likes. */
	guestrpc_session_set_timeout(sess, call_timeout_ms, true);
	guestrpc_session_want_events(sess, HRPC_SVC_GUEST_EXEC);
	/* The agent may have `window` bytes beyond our last credit in flight;
	 * the rest is headers and small events. */
	guestrpc_session_set_event_limit(sess, (size_t)sr.window * 2 + (1u << 20));
	rc = gex_call(HRPC_GEX_START, &sr, sizeof(sr), &st, sizeof(st), strings, (uint32_t)slen);
	free(strings);
	if (sr.timeout_ms)
		host_deadline = now_ns() + ((uint64_t)sr.timeout_ms + (uint64_t)grace_ms) * 1000000ull;
	if (rc < 0) {
		fprintf(stderr, "hostrpc-guest-exec: %s: %s\n", argv[optind],
			rc == -ENOTCONN || rc == -ETIMEDOUT ? guestrpc_session_error(sess) : strerror(-rc));
		guestrpc_session_free(sess);
		return rc == -ENOENT ? 127 : (rc == -EACCES || rc == -ENOEXEC || rc == -EPERM) ? 126 : 125;
	}
	if (!st.handle) {
		fprintf(stderr, "hostrpc-guest-exec: %s: the guest returned handle 0\n", argv[optind]);
		guestrpc_session_free(sess);
		return 125;
	}
	__atomic_store_n(&handle, st.handle, __ATOMIC_RELEASE);
	if (stdin_on) {
		pthread_create(&t_in, NULL, stdin_main, NULL);
		pthread_detach(t_in);
	}

	while (!exited) {
		struct guestrpc_event *ev;
		struct gex_ev gev;
		uint64_t now = now_ns();
		int sig = __atomic_load_n(&sig_first, __ATOMIC_ACQUIRE);
		int wait_ms = -1;

		if (sig && now >= __atomic_load_n(&sig_deadline, __ATOMIC_RELAXED)) {
			fprintf(stderr, "hostrpc-guest-exec: %s: the guest did not end the command "
				"within %d ms of %s; not waiting longer\n", argv[optind], grace_ms,
				strsignal(sig));
			_exit(128 + sig);
		}
		if (host_deadline && now >= host_deadline) {
			fprintf(stderr, "hostrpc-guest-exec: %s: timed out (the guest did not end "
				"the command within %d ms of its --timeout)\n", argv[optind], grace_ms);
			_exit(124);
		}
		if (host_deadline)
			wait_ms = (int)((host_deadline - now + 999999) / 1000000);
		/* Wake up now and then to see a signal's deadline. */
		if (wait_ms < 0 || wait_ms > TICK_MS)
			wait_ms = TICK_MS;
		rc = guestrpc_session_next_event(sess, wait_ms, &ev);
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0) {
			fprintf(stderr, "hostrpc-guest-exec: lost the guest: %s\n",
				guestrpc_session_error(sess));
			_exit(125);
		}
		switch (gex_event_parse(handle, ev->proc, ev->payload, ev->len, &gev)) {
		case GEX_EV_OUTPUT:
			if (!out_broken && write_all(gev.stream, gev.data, gev.size) == -EPIPE &&
			    gev.stream == HRPC_GEX_STDOUT) {
				/* Like a pipe: the writer gets SIGPIPE. */
				struct hrpc_gex_kill_req k = { .handle = handle, .signal = SIGPIPE };

				out_broken = true;
				gex_send(HRPC_GEX_KILL, &k, sizeof(k));
			}
			consumed += gev.size;
			if (consumed >= sr.window / 4) {
				struct hrpc_gex_credit_req c = { .handle = handle,
								 .bytes = (uint32_t)consumed };

				consumed = 0;
				gex_send(HRPC_GEX_CREDIT, &c, sizeof(c));
			}
			break;
		case GEX_EV_EXIT:
			ex = gev.status;
			exited = true;
			break;
		case GEX_EV_STDIN:
			pthread_mutex_lock(&room_lock);
			room = true;
			pthread_cond_signal(&room_cond);
			pthread_mutex_unlock(&room_lock);
			break;
		case GEX_EV_IGNORE:
			break;
		}
		free(ev);
	}
	{
		struct hrpc_gex_handle_req r = { .handle = handle };

		gex_send(HRPC_GEX_RELEASE, &r, sizeof(r));
	}
	/* The stdin thread may sit in read(0): do not wait for it. */
	fflush(stdout);
	if (ex.flags & HRPC_GEX_X_TIMEDOUT)
		fprintf(stderr, "hostrpc-guest-exec: %s: timed out\n", argv[optind]);
	_exit(gex_exit_code(&ex));
}
