/* SPDX-License-Identifier: MIT */
/*
 * fuzz-migfwd - libFuzzer target for one end of a forward link
 * (migrate/forward.c, wire: include/hostrpc/migfwd.h) against a hostile
 * peer host that holds the link's keys (a compromised or broken hostrpcd):
 * everything it sends is authenticated, so the frames reach the
 * forwarder's own checks.  The input is a script of frames:
 *
 *   [type u8][len u16 LE][len payload bytes] ...
 *
 * type is taken modulo 17 and added to HRPC_FWD_HELLO - 1 (so 63..79: one
 * unknown below, then every kind up to EVENT); an object field (a call's
 * id) whose value is below 4 names object 1 or 2 (the forwarder's, and
 * its two calls under way) or one it never had.  The forwarder plays both
 * call roles: its calls 1 and 2 are under way (REPLY), and its call
 * function answers the peer's CALLs with a payload and bulk of its own.  The peer seals each frame as the real peer would; between frames
 * the forwarder's main context runs and the programs on the objects'
 * other ends read what arrived.  Whatever the script, the forwarder must
 * not crash, leak or buffer past its window, and must end (on_end) on
 * anything the protocol forbids.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/migfwd.h"
#include "migrate/forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static int ended;

static void on_end(void *data, int err)
{
	(void)data;
	check(err <= 0);
	ended++;
}

/* The remnant's role: answer with what the call allows, and a bit more
 * now and then (forward.c must turn that into -EIO). */
static void on_call(void *data, const struct mig_fwd_callmsg *m, struct mig_fwd_answer *a)
{
	static uint8_t pl[128];

	(void)data;
	check(m->len <= HRPC_MSG_MAX_PAYLOAD && m->bulk_len <= m->bulk_cap &&
	      m->bulk_cap <= HRPC_FWD_BULK_MAX && (m->bulk_cap == 0 || m->bulk != NULL));
	a->status = m->proc & 1 ? -(int)(m->proc % 4096) : 0;
	a->payload = pl;
	a->len = m->len % sizeof(pl);
	a->bulk = m->bulk;
	a->bulk_len = m->proc & 2 ? m->bulk_cap + 1 : m->bulk_len;
}

static int replies;

static void on_reply(void *data, uint64_t id, int status, const void *payload, uint32_t len,
		     const void *bulk, uint32_t bulk_len)
{
	(void)data, (void)payload, (void)bulk;
	check((id == 1 || id == 2) && status <= 0 && status >= -4095 && len <= HRPC_MSG_MAX_PAYLOAD &&
	      bulk_len <= 16);
	replies++;
}

static void on_event(void *data, uint16_t service, uint16_t proc, const void *payload,
		     uint32_t len)
{
	(void)data, (void)proc, (void)payload;
	check(service != 0 && len <= HRPC_MSG_MAX_PAYLOAD);
}

static void drain(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const struct mig_link_session zero;
	GMainContext *ctx = g_main_context_new();
	int lk[2], o1[2], o2[2];
	mig_link *mine, *peer;
	mig_fwd *f;
	GByteArray *out = g_byte_array_new();

	signal(SIGPIPE, SIG_IGN);
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, lk) == 0);
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, o1) == 0);
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, o2) == 0);
	fcntl(lk[1], F_SETFL, O_NONBLOCK);
	/* The same session both ways: each end's send key is the other's
	 * receive key (all zero here; the tags are still checked). */
	mine = mig_link_adopt(lk[0], &zero);
	peer = mig_link_adopt(lk[1], &zero);
	ended = 0;
	f = mig_fwd_new(mine, "g1", ctx, on_end, NULL);
	check(mig_fwd_add(f, 1, o1[1]) == 0);
	check(mig_fwd_add(f, 2, o2[1]) == 0);
	mig_fwd_set_call_fns(f, on_call, on_reply, on_event, NULL);
	replies = 0;
	{
		static uint8_t b[16];
		struct mig_fwd_callmsg c = { .id = 1, .service = 17, .proc = 4, .payload = "x",
					     .len = 1 };

		check(mig_fwd_call(f, &c) == 0);
		c.id = 2;
		c.bulk = b;
		c.bulk_cap = sizeof(b);
		check(mig_fwd_call(f, &c) == 0);
	}
	while (n >= 3 && !ended) {
		uint32_t type = HRPC_FWD_HELLO - 1 + d[0] % 17;
		size_t len = (size_t)d[1] | (size_t)d[2] << 8;
		uint8_t *p;
		struct iovec v;

		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		p = malloc(len ? len : 1);
		check(p != NULL);
		memcpy(p, d, len);
		if (len >= 8 && type != HRPC_FWD_HELLO) {
			uint64_t id;

			memcpy(&id, p, 8);
			if (id < 4) {
				id = id % 3 + 1;   /* 1, 2, or 3: never the forwarder's */
				memcpy(p, &id, 8);
			}
		}
		d += len;
		n -= len;
		v.iov_base = p;
		v.iov_len = len;
		g_byte_array_set_size(out, 0);
		check(mig_link_seal(peer, type, &v, 1, out) == 0);
		free(p);
		/* Write what the socket takes, turning the loop as it reads. */
		for (guint off = 0, spins = 0; off < out->len && spins < 1000 && !ended; spins++) {
			ssize_t w = send(lk[1], out->data + off, out->len - off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w > 0)
				off += (guint)w;
			else if (w < 0 && errno != EAGAIN)
				break;
			drain(o1[0]);
			drain(o2[0]);
			drain(lk[1]);
			while (g_main_context_iteration(ctx, FALSE))
				;
		}
		for (int i = 0; i < 4; i++) {
			drain(o1[0]);
			drain(o2[0]);
			drain(lk[1]);
			g_main_context_iteration(ctx, FALSE);
		}
	}
	check(ended <= 1);
	check(mig_fwd_count(f) <= 2);
	/* Each call answered at most once; at the end, every one. */
	check(replies <= 2 && (!ended || replies == 2));
	mig_fwd_free(f);
	mig_link_free(peer);
	close(o1[0]);
	close(o2[0]);
	g_byte_array_unref(out);
	while (g_main_context_iteration(ctx, FALSE))
		;
	g_main_context_unref(ctx);
	return 0;
}
