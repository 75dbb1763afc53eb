/* SPDX-License-Identifier: MIT */
/*
 * fuzz-workerctl - libFuzzer target for the supervisor's end of the
 * worker control channel (hostrpc/daemon/worker-ctl.c) against a hostile
 * worker.  A worker serves one guest and runs sandboxed because the guest
 * may take it over; what it sends its supervisor is that guest's bytes one
 * step removed, and the supervisor must survive them: replies to requests
 * it did not make, short, huge and truncated datagrams, bad statuses,
 * migration news with any text, a worker that hangs up or is replaced.
 *
 * The input is a script:
 *
 *   [op u8][len u16 LE][len bytes] ...
 *
 * op % 5 == 0  the supervisor asks (bit 3: a memory action, else a
 *              listing); the harness reads the request as the worker would
 * op % 5 == 1  the worker sends the bytes as one datagram; bit 3: its header
 *              is made a LIST_SOCKETS_REPLY to the last request, bit 4 a
 *              MIGRATION; bit 5: the datagram is padded past the
 *              supervisor's buffer (the truncation path)
 * op % 5 == 2  the supervisor's loop runs (what is ready)
 * op % 5 == 3  the worker hangs up
 * op % 5 == 4  the worker is replaced (a fresh channel for the guest)
 *
 * Every request must be answered exactly once (reply, -ENODATA, -EIO,
 * -ECANCELED ...), with text that is printable ASCII, newline and tab, at
 * most HRPCD_CTL_LISTING_MAX bytes; migration news with a one-line
 * printable text of at most HRPCD_CTL_MIG_TEXT_MAX bytes and a status in
 * -4095..0.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/daemon/worker-ctl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned asked, answered;
static uint8_t *big;

static void check(int ok)
{
	if (!ok)
		abort();
}

static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	g_log_set_default_handler(quiet, NULL);
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
	big = calloc(1, HRPCD_CTL_LISTING_MAX + 4096);
	check(big != NULL);
	return 0;
}

/* Not instrumented: a per-byte check over up to 64 KiB whose comparisons
 * teach the fuzzer nothing, and were half of its time. */
__attribute__((no_sanitize("coverage")))
static void printable(const char *t, gsize len, gboolean newlines)
{
	for (gsize i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		check((c >= 0x20 && c <= 0x7e) || (newlines && (c == '\n' || c == '\t')));
	}
}

static void done(int status, const char *text, gsize len, gpointer data)
{
	answered++;
	check(status <= 0 && status >= -4095);
	if (status == 0) {
		check(len <= HRPCD_CTL_LISTING_MAX && (text || !len));
		printable(text, len, TRUE);
	}
}

static void mig(guint32 guest_id, guint32 event, int status, const char *text, gpointer data)
{
	check(guest_id == 1 && status <= 0 && status >= -4095 && text);
	check(strlen(text) <= HRPCD_CTL_MIG_TEXT_MAX);
	printable(text, strlen(text), FALSE);
}

/* The worker's side of a request: its seq. */
static guint32 read_request(int fd)
{
	struct hrpcd_ctl_msg m;
	uint8_t buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < (ssize_t)sizeof(m))
		return 0;
	memcpy(&m, buf, sizeof(m));
	check(m.type == HRPCD_CTL_LIST_SOCKETS);
	return m.seq;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	GMainContext *ctx = g_main_context_new();
	HrpcdWorkerCtl *ctl = hrpcd_worker_ctl_new(60000, ctx);
	guint32 seq = 0;
	int fd;

	asked = answered = 0;
	hrpcd_worker_ctl_set_migration_cb(ctl, mig, NULL);
	fd = hrpcd_worker_ctl_open(ctl, 1, NULL);
	check(fd >= 0);
	while (n >= 3) {
		uint8_t op = d[0];
		size_t len = (size_t)d[1] | (size_t)d[2] << 8;

		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		switch (op % 5) {
		case 0: {
			struct hrpcd_ctl_mem_act act = { .op = HRPCD_CTL_MEM_GRANT, .chunks = 1 };
			guint flags = len ? d[0] : 0;
			int rc = op & 8 ? hrpcd_worker_ctl_memory(ctl, 1, flags, &act, done, NULL)
					: hrpcd_worker_ctl_list_sockets(ctl, 1, flags, done, NULL);

			check(rc == 0 || rc == -EBUSY || rc == -ENODATA);
			if (rc == 0)
				asked++;
			if (fd >= 0) {
				guint32 s = read_request(fd);

				seq = s ? s : seq;
			}
			break;
		}
		case 1: {
			size_t total = len;
			struct hrpcd_ctl_msg m;

			if (fd < 0)
				break;
			memcpy(big, d, len);
			if ((op & 0x18) && total < sizeof(m)) {
				memset(big + total, 0, sizeof(m) - total);
				total = sizeof(m);
			}
			if (op & 0x18) {
				memcpy(&m, big, sizeof(m));
				m.type = op & 8 ? HRPCD_CTL_LIST_SOCKETS_REPLY : HRPCD_CTL_MIGRATION;
				if (op & 8)
					m.seq = seq;
				memcpy(big, &m, sizeof(m));
			}
			if (op & 0x20) {
				memset(big + total, 'x', HRPCD_CTL_LISTING_MAX + 4096 - total);
				total = HRPCD_CTL_LISTING_MAX + 4096;
			}
			(void)!send(fd, big, total, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		}
		case 2:
			for (int i = 0; i < 8 && g_main_context_iteration(ctx, FALSE); i++)
				;
			break;
		case 3:
			if (fd >= 0)
				close(fd);
			fd = -1;
			break;
		case 4:
			if (fd >= 0)
				close(fd);
			fd = hrpcd_worker_ctl_open(ctl, 1, NULL);
			check(fd >= 0);
			break;
		}
		d += len;
		n -= len;
	}
	for (int i = 0; i < 64 && g_main_context_iteration(ctx, FALSE); i++)
		;
	hrpcd_worker_ctl_free(ctl);
	/* Answers of requests whose send failed come from idle sources. */
	while (g_main_context_iteration(ctx, FALSE))
		;
	check(answered == asked);
	if (fd >= 0)
		close(fd);
	g_main_context_unref(ctx);
	return 0;
}
