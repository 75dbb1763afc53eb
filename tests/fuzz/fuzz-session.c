/* SPDX-License-Identifier: MIT */
/*
 * fuzz-session - libFuzzer target for the host side of Guest RPC
 * (guestrpc/session.c): a session over a socketpair whose peer (this
 * harness, in the guest's place) answers HELLO validly and then plays the
 * input as a script:
 *
 *   [op u8][len u16 LE][len bytes] ...
 *
 * op % 4 == 0  write the bytes raw (the session's reader thread takes them);
 * op % 4 == 1  write a frame: the bytes start with a message header (zero
 *              padded to 40), the rest is the payload.  bit 2: a valid
 *              magic/version; bit 3: call_id := the id of a call in flight
 *              (bits 5-7 pick which); bit 4: len/bulk_len := what follows;
 * op % 4 == 2  a call from a new thread (at most 4): 2 bytes give the reply
 *              capacity / 8 and the reply bulk capacity in KiB; bit 2 makes
 *              it a fire-and-forget guestrpc_session_send();
 * op % 4 == 3  take the events queued so far.
 *
 * The first byte: bit 0 a small event limit (4 KiB), so flow-control
 * violations are reached.  At the end the peer hangs up: every call must
 * return, the session must be dead, and it must free cleanly.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/control.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/vport.h"
#include "guestrpc/session.h"
#include "tests/fuzz/fuzz-runner.h"

#define NTHREADS 4
#define NIDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* session.c finds a libvirt domain's channels through resolve.c; the
 * harness only uses sockets it made. */
int guestrpc_domain_channels(const char *domain, const char *uri, char ***paths, char **err)
{
	return -ENOTSUP;
}

static void check(int ok)
{
	if (!ok)
		abort();
}

/* The harness's own threads (fuzz-runner.h): [0] answers HELLO, [1..]
 * the callers.  The session's own two threads are made per input, as
 * hostrpc makes them. */
static struct fuzz_runner runners[1 + NTHREADS];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_runners_init(runners, 1 + NTHREADS);
	return 0;
}

static int read_full(int fd, void *p, size_t n, int ms)
{
	while (n) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pf, 1, ms) <= 0)
			return -1;
		r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

static void write_full(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r <= 0)
			return;  /* the session stopped reading: drop the rest */
		p = (const uint8_t *)p + r;
		n -= (size_t)r;
	}
}

/* Read one CALL frame from the session; its id, or 0. */
static uint64_t read_call(int fd, int ms)
{
	static uint8_t skip[HRPC_MSG_MAX_PAYLOAD + HRPC_VPORT_MAX_BULK];
	struct hrpc_msg_hdr h;
	size_t rest;

	if (read_full(fd, &h, sizeof(h), ms) < 0)
		return 0;
	rest = h.len + ((h.flags & HRPC_MSG_F_BULK) ? h.bulk_len : 0);
	if (rest > sizeof(skip) || read_full(fd, skip, rest, ms) < 0)
		return 0;
	return h.call_id;
}

static void *hello_main(void *arg)
{
	int fd = *(int *)arg;
	struct hrpc_control_welcome w = {
		.revision = HRPC_REVISION_MAX, .max_payload = HRPC_MSG_MAX_PAYLOAD,
		.features = HRPC_FEAT_EVENTS | HRPC_FEAT_BULK, .guest_id = 1,
	};
	struct hrpc_msg_hdr h;
	uint64_t id = read_call(fd, 5000);

	if (id) {
		hrpc_msg_init(&h, HRPC_KIND_REPLY, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, id, sizeof(w));
		write_full(fd, &h, sizeof(h));
		write_full(fd, &w, sizeof(w));
	}
	return NULL;
}

struct caller {
	guestrpc_session *s;
	bool started;
	bool send_only;
	uint32_t rep_cap, bulk_cap;
	int rc;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	uint8_t *rep = malloc(c->rep_cap ? c->rep_cap : 1);
	uint8_t *bulk = c->bulk_cap ? malloc(c->bulk_cap) : NULL;
	struct guestrpc_call call = {
		.service = HRPC_SVC_GUEST_FS, .proc = 1, .req = "x", .req_len = 1,
		.rep = rep, .rep_cap = c->rep_cap, .bulk_in = bulk, .bulk_in_cap = c->bulk_cap,
		.timeout_ms = 5000,
	};

	if (c->send_only) {
		c->rc = guestrpc_session_send(c->s, &call);
	} else {
		c->rc = guestrpc_session_call(c->s, &call);
		check(call.rep_len <= c->rep_cap);
		check(call.bulk_in_len <= c->bulk_cap);
		if (c->rc == 0 && call.bulk_in_len)
			check(bulk[call.bulk_in_len - 1] || 1);
	}
	check(c->rc <= 0);
	free(rep);
	free(bulk);
	return NULL;
}

static void write_frame(int fd, uint8_t op, const uint64_t *ids, const uint8_t *p, size_t n)
{
	struct hrpc_msg_hdr h = { 0 };
	size_t hl = n < sizeof(h) ? n : sizeof(h), body = n - hl;

	memcpy(&h, p, hl);
	if (op & 4) {
		h.magic = HRPC_MSG_MAGIC;
		h.version = HRPC_PROTO_VERSION;
	}
	if (op & 8)
		h.call_id = ids[(op >> 5) % NIDS];
	if (op & 16) {
		h.len = (uint32_t)body;
		h.bulk_len = 0;
		if (h.flags & HRPC_MSG_F_BULK) {
			h.len = (uint32_t)(body / 2);
			h.bulk_len = (uint32_t)(body - body / 2);
		}
	}
	write_full(fd, &h, sizeof(h));
	if (body)
		write_full(fd, p + hl, body);
}

static void take_events(guestrpc_session *s)
{
	struct guestrpc_event *ev;

	while (guestrpc_session_next_event(s, 0, &ev) == 0) {
		check(ev->service == HRPC_SVC_GUEST_EXEC || ev->service == HRPC_SVC_GUEST_FS);
		check(ev->len <= HRPC_MSG_MAX_PAYLOAD);
		if (ev->len)
			check(ev->payload[ev->len - 1] || 1);
		free(ev);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct caller callers[NTHREADS] = { { 0 } };
	uint64_t ids[NIDS] = { 0 };
	guestrpc_session *s = NULL;
	unsigned ncallers = 0, nids = 0;
	int sv[2];

	if (!n)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	fuzz_run_start(&runners[0], hello_main, &sv[1]);
	if (guestrpc_session_new_fd(sv[0], 5000, &s) < 0)
		s = NULL;
	fuzz_run_join(&runners[0]);
	if (!s) {
		close(sv[1]);
		return 0;
	}
	guestrpc_session_want_events(s, HRPC_SVC_GUEST_EXEC);
	guestrpc_session_want_events(s, HRPC_SVC_GUEST_FS);
	if (d[0] & 1)
		guestrpc_session_set_event_limit(s, 4096);
	d++;
	n--;

	while (n >= 3) {
		uint8_t op = d[0];
		size_t len = (size_t)d[1] | (size_t)d[2] << 8;

		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		switch (op % 4) {
		case 0:
			if (len)
				write_full(sv[1], d, len);
			break;
		case 1:
			write_frame(sv[1], op, ids, d, len);
			break;
		case 2:
			if (ncallers < NTHREADS && !guestrpc_session_dead(s)) {
				struct caller *c = &callers[ncallers++];

				c->s = s;
				c->send_only = op & 4;
				c->rep_cap = len > 0 ? d[0] * 8u : 16;
				c->bulk_cap = len > 1 ? (d[1] % 64) * 1024u : 0;
				fuzz_run_start(&runners[ncallers], caller_main, c);
				c->started = true;
				ids[nids++ % NIDS] = read_call(sv[1], 500);
			}
			break;
		case 3:
			take_events(s);
			break;
		}
		d += len;
		n -= len;
	}
	/* The guest hangs up: every call returns, the session is dead. */
	shutdown(sv[1], SHUT_WR);
	for (unsigned i = 0; i < ncallers; i++)
		if (callers[i].started)
			fuzz_run_join(&runners[1 + i]);
	take_events(s);
	close(sv[1]);
	guestrpc_session_free(s);
	return 0;
}
