/* SPDX-License-Identifier: MIT */
/*
 * worker-ctl-hostile - the supervisor's end of a worker's control channel
 * (hostrpc/daemon/worker-ctl.h), in-process, with this test playing a
 * compromised worker on the other end: one that never answers, answers
 * with escapes and NULs, with more than the cap, with another request's
 * sequence number, with short or unknown messages, with a forged status,
 * hangs up with questions pending, or gets more questions than allowed.
 * Every question gets exactly one answer (the listing, cut and printable,
 * or -errno), and the main loop never waits for the worker.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "tests/tap.h"
#include "hostrpc/daemon/worker-ctl.h"

#define TIMEOUT_MS 300

typedef struct {
	int calls;
	int status;
	GString *text;
} Answer;

static void answered(int status, const char *text, gsize len, gpointer data)
{
	Answer *a = data;

	a->calls++;
	a->status = status;
	g_string_truncate(a->text, 0);
	g_string_append_len(a->text, text, (gssize)len);
}

static void answer_init(Answer *a)
{
	a->calls = 0;
	a->status = 1;
	if (!a->text)
		a->text = g_string_new(NULL);
	g_string_truncate(a->text, 0);
}

/* Run the loop until `a` is answered or `ms` pass. */
static gint64 wait_answer(Answer *a, int ms)
{
	gint64 t0 = g_get_monotonic_time(), end = t0 + (gint64)ms * 1000;

	while (!a->calls && g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, TRUE);
	return (g_get_monotonic_time() - t0) / 1000;
}

/* The fake worker reads one question. */
static bool take_question(int fd, struct hrpcd_ctl_msg *m)
{
	return recv(fd, m, sizeof(*m), MSG_DONTWAIT) == (ssize_t)sizeof(*m) &&
	       m->type == HRPCD_CTL_LIST_SOCKETS;
}

static void reply(int fd, uint32_t seq, int32_t status, const void *text, size_t len)
{
	g_autofree char *buf = g_malloc(sizeof(struct hrpcd_ctl_msg) + len);
	struct hrpcd_ctl_msg h = { .type = HRPCD_CTL_LIST_SOCKETS_REPLY, .seq = seq,
				   .status = status, .len = (uint32_t)len };

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), text, len);
	if (send(fd, buf, sizeof(h) + len, 0) < 0)
		tap_diag("send: %s", strerror(errno));
}

static bool printable(const char *s, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c > 0x7e)
			return false;
	}
	return true;
}

static gboolean tick(gpointer data)
{
	(*(int *)data)++;
	return G_SOURCE_CONTINUE;
}

int main(void)
{
	g_autoptr(HrpcdWorkerCtl) ctl = NULL;
	struct hrpcd_ctl_msg m;
	Answer a = { 0 }, b = { 0 };
	char buf[256];
	gsize n;
	gint64 ms;
	int fd, ticks = 0, rc;

	tap_plan(14);

	/* The pure part: what goes out is printable and bounded. */
	memcpy(buf, "ok\tline\n\x1b[2J\0evil\r\xff", 19);
	n = hrpcd_worker_ctl_sanitize(buf, 19, FALSE);
	tap_ok(n == 19 && !memcmp(buf, "ok\tline\n?[2J?evil??", 19),
	       "sanitize: escapes, NUL, CR and bytes above 0x7e become '?', tab and newline stay");
	{
		g_autofree char *big = g_malloc(HRPCD_CTL_LISTING_MAX);

		memset(big, 'x', HRPCD_CTL_LISTING_MAX);
		n = hrpcd_worker_ctl_sanitize(big, HRPCD_CTL_LISTING_MAX, TRUE);
		const gsize mark = sizeof(HRPCD_CTL_TRUNCATED) - 1;

		tap_ok(n == HRPCD_CTL_LISTING_MAX &&
		       !memcmp(big + n - mark, HRPCD_CTL_TRUNCATED, mark),
		       "sanitize: a cut listing stays within the cap and says it was cut");
	}

	ctl = hrpcd_worker_ctl_new(TIMEOUT_MS, NULL);
	answer_init(&a);
	rc = hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &a);
	tap_ok(rc == -ENODATA && a.calls == 0, "no worker channel: -ENODATA at once (%d)", rc);

	fd = hrpcd_worker_ctl_open(ctl, 7, NULL);
	if (fd < 0) {
		printf("Bail out! cannot open a control channel\n");
		return 1;
	}

	/* A worker that never answers. */
	g_timeout_add(20, tick, &ticks);
	answer_init(&a);
	rc = hrpcd_worker_ctl_list_sockets(ctl, 7, TRUE, answered, &a);
	ms = wait_answer(&a, 5000);
	tap_ok(rc == 0 && a.calls == 1 && a.status == -ETIMEDOUT && ms >= TIMEOUT_MS - 20 &&
	       ms < 3000 && ticks >= 5,
	       "a worker that never answers: -ETIMEDOUT after %" G_GINT64_FORMAT " ms, the loop "
	       "ran other sources meanwhile (%d ticks)", ms, ticks);
	tap_ok(take_question(fd, &m) && (m.status & HRPCD_CTL_F_JSON),
	       "the worker was asked, for JSON");
	/* Its late answer names a question nobody waits for any more. */
	reply(fd, m.seq, 0, "late", 4);

	/* Escapes, NULs, a forged header length. */
	answer_init(&a);
	hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &a);
	take_question(fd, &m);
	{
		const char evil[] = "POLICY x\n\x1b]0;owned\x07\0line\r\n\xc3\xa9";

		reply(fd, m.seq + 1000, 0, "wrong seq", 9);
		send(fd, "shrt", 4, 0);
		reply(fd, m.seq, 0, evil, sizeof(evil) - 1);
	}
	wait_answer(&a, 5000);
	{
		g_autofree char *shown = g_strescape(a.text->str, NULL);

		tap_ok(a.calls == 1 && a.status == 0 && a.text->len == 28 &&
		       printable(a.text->str, a.text->len) &&
		       g_str_has_prefix(a.text->str, "POLICY x\n?]0;"),
		       "stray, short and late messages dropped; the answer made printable: %s",
		       shown);
	}

	/* More than the cap. */
	answer_init(&a);
	hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &a);
	take_question(fd, &m);
	{
		gsize big_len = 100u << 10;
		g_autofree char *big = g_malloc(big_len);

		memset(big, 'A', big_len);
		big[5] = 0;
		reply(fd, m.seq, 0, big, big_len);
	}
	wait_answer(&a, 5000);
	tap_ok(a.calls == 1 && a.status == 0 && a.text->len == HRPCD_CTL_LISTING_MAX &&
	       printable(a.text->str, a.text->len) &&
	       g_str_has_suffix(a.text->str, HRPCD_CTL_TRUNCATED),
	       "a 100 KiB answer is cut at %u bytes, marked, printable", HRPCD_CTL_LISTING_MAX);

	/* A forged status; an honest error. */
	answer_init(&a);
	hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &a);
	take_question(fd, &m);
	reply(fd, m.seq, 12345, "x", 1);
	wait_answer(&a, 5000);
	tap_ok(a.calls == 1 && a.status == -EIO && a.text->len == 0,
	       "a status that is no -errno: -EIO, no text (%d)", a.status);
	answer_init(&a);
	hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &a);
	take_question(fd, &m);
	reply(fd, m.seq, -ENODATA, "ignored", 7);
	wait_answer(&a, 5000);
	tap_ok(a.calls == 1 && a.status == -ENODATA && a.text->len == 0,
	       "the worker's -ENODATA (no socket service) goes through, without text");

	/* Too many questions in flight. */
	{
		Answer many[HRPCD_CTL_MAX_PENDING] = { 0 };
		int busy, done = 0;

		for (int i = 0; i < HRPCD_CTL_MAX_PENDING; i++) {
			answer_init(&many[i]);
			hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &many[i]);
		}
		answer_init(&b);
		busy = hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &b);
		tap_ok(busy == -EBUSY && b.calls == 0, "question %d in flight: -EBUSY (%d)",
		       HRPCD_CTL_MAX_PENDING + 1, busy);
		/* A new worker of the guest: the old one's questions end. */
		close(fd);
		fd = hrpcd_worker_ctl_open(ctl, 7, NULL);
		for (int i = 0; i < 10; i++)
			g_main_context_iteration(NULL, FALSE);
		for (int i = 0; i < HRPCD_CTL_MAX_PENDING; i++)
			done += many[i].calls == 1 && many[i].status == -ENODATA;
		tap_ok(done == HRPCD_CTL_MAX_PENDING,
		       "a new worker replaces the channel: the old questions end with -ENODATA "
		       "(%d of %d)", done, HRPCD_CTL_MAX_PENDING);
	}

	/* The worker hangs up with a question pending. */
	answer_init(&a);
	hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &a);
	close(fd);
	ms = wait_answer(&a, 5000);
	tap_ok(a.calls == 1 && a.status == -ENODATA && ms < TIMEOUT_MS,
	       "a worker that hangs up: -ENODATA at once (%" G_GINT64_FORMAT " ms)", ms);
	answer_init(&a);
	rc = hrpcd_worker_ctl_list_sockets(ctl, 7, FALSE, answered, &a);
	tap_ok(rc == -ENODATA, "and no more questions go to it (%d)", rc);

	/* Freed with a question pending: answered once, -ECANCELED. */
	fd = hrpcd_worker_ctl_open(ctl, 8, NULL);
	answer_init(&a);
	hrpcd_worker_ctl_list_sockets(ctl, 8, FALSE, answered, &a);
	g_clear_pointer(&ctl, hrpcd_worker_ctl_free);
	tap_ok(a.calls == 1 && a.status == -ECANCELED,
	       "a question pending when the daemon stops: -ECANCELED (%d)", a.status);
	close(fd);
	g_string_free(a.text, TRUE);
	g_string_free(b.text, TRUE);
	return tap_done();
}
