/* SPDX-License-Identifier: MIT */
/*
 * fuzz-client - libFuzzer target for libhostrpc's client role: replies and
 * events from a hostile server (a guest agent, to the host tools).  A
 * client talks over a socketpair (the vport stream transport) to this
 * harness, which answers HELLO and then plays the input as a script:
 *
 *   [op u8][len u16 LE][len bytes] ...
 *
 * op % 4 == 0  write the bytes to the client raw (framing is the peer's);
 * op % 4 == 1  write a frame: the bytes start with a message header (zero
 *              padded to 40), the rest is the payload.  bit 2: a valid
 *              magic/version; bit 3: call_id := a pending call's id (bits
 *              5-7 pick which); bit 4: len/bulk_len := what follows;
 * op % 4 == 2  start an async call (2 bytes: reply capacity / 8, bulk
 *              capacity in KiB, 0 = none); the harness reads the CALL frame
 *              to learn its id;
 * op % 4 == 3  let the client process what arrived.
 *
 * With bit 0 of the first byte set, the first 88 bytes after it are the
 * WELCOME instead of a valid one.  The client must complete each call
 * once, with a status, within its buffers; ASan/UBSan catch the rest.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/control.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/vport.h"

#define NCALLS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

struct pcall {
	struct hrpc_call call;
	struct hrpc_bulk bulk;
	uint8_t *rep;
	uint64_t id;
	int state;               /* 0 free, 1 pending, 2 done */
};

struct peer {
	int fd;
	struct hrpc_control_welcome w;
	int rc;
};

static int read_full(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);

		if (r <= 0)
			return -1;
		p = (const uint8_t *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read one CALL frame; its id, or 0. */
static uint64_t read_call(int fd)
{
	static uint8_t skip[HRPC_MSG_MAX_PAYLOAD + HRPC_VPORT_MAX_BULK];
	struct hrpc_msg_hdr h;
	size_t rest;

	if (read_full(fd, &h, sizeof(h)) < 0)
		return 0;
	rest = h.len + ((h.flags & HRPC_MSG_F_BULK) ? h.bulk_len : 0);
	if (rest > sizeof(skip) || read_full(fd, skip, rest) < 0)
		return 0;
	return h.call_id;
}

/* The server's side of HELLO, in a thread: hrpc_client_new() blocks. */
static void *hello_main(void *arg)
{
	struct peer *p = arg;
	struct hrpc_msg_hdr h;
	uint64_t id = read_call(p->fd);

	p->rc = -1;
	if (!id)
		return NULL;
	hrpc_msg_init(&h, HRPC_KIND_REPLY, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, id, sizeof(p->w));
	if (write_full(p->fd, &h, sizeof(h)) == 0 && write_full(p->fd, &p->w, sizeof(p->w)) == 0)
		p->rc = 0;
	return NULL;
}

static void call_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	struct pcall *pc = opaque;

	check(pc->state == 1);
	check(call->status <= 0);
	check(call->rep_len <= call->rep_cap);
	if (call->rep_bulk_len) {
		check(pc->bulk.ptr && call->rep_bulk_pos + (uint64_t)call->rep_bulk_len <= pc->bulk.cap);
		/* Touch what the reply says it delivered. */
		check(((volatile uint8_t *)pc->bulk.ptr)[call->rep_bulk_pos + call->rep_bulk_len - 1] ||
		      1);
	}
	pc->state = 2;
}

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
		     void *opaque)
{
	size_t *sum = opaque;

	check(h->len <= HRPC_MSG_MAX_PAYLOAD);
	for (uint32_t i = 0; i < h->len; i++)
		*sum += ((const uint8_t *)payload)[i];
}

static void start_call(hrpc_client *cli, int fd, struct pcall *pcs, const uint8_t *p, size_t n)
{
	uint32_t rep_cap = n > 0 ? p[0] * 8u : 16, bulk_kib = n > 1 ? p[1] % 64 : 0;
	struct pcall *pc = NULL;

	for (int i = 0; i < NCALLS; i++)
		if (pcs[i].state != 1) {
			pc = &pcs[i];
			break;
		}
	if (!pc)
		return;
	hrpc_client_bulk_free(cli, &pc->bulk);
	free(pc->rep);
	memset(pc, 0, sizeof(*pc));
	pc->rep = rep_cap ? malloc(rep_cap) : NULL;
	pc->call = (struct hrpc_call){
		.service = 256, .proc = 1, .req = "x", .req_len = 1,
		.rep = pc->rep, .rep_cap = rep_cap, .timeout_ms = -1,
	};
	if (bulk_kib && hrpc_client_bulk_alloc(cli, bulk_kib * 1024u, &pc->bulk) == 0)
		pc->call.bulk = &pc->bulk;
	pc->state = 1;
	if (hrpc_client_call_async(cli, &pc->call, call_done, pc) < 0) {
		pc->state = 0;
		return;
	}
	pc->id = read_call(fd);
}

static void write_frame(int fd, uint8_t op, struct pcall *pcs, const uint8_t *p, size_t n)
{
	uint8_t *buf = malloc(n > sizeof(struct hrpc_msg_hdr) ? n : sizeof(struct hrpc_msg_hdr));
	struct hrpc_msg_hdr h = { 0 };
	size_t hl = n < sizeof(h) ? n : sizeof(h), body = n - hl;

	memcpy(&h, p, hl);
	if (op & 4) {
		h.magic = HRPC_MSG_MAGIC;
		h.version = HRPC_PROTO_VERSION;
	}
	if (op & 8) {
		struct pcall *pc = &pcs[(op >> 5) % NCALLS];

		h.call_id = pc->id;
	}
	if (op & 16) {
		h.len = (uint32_t)body;
		h.bulk_len = (h.flags & HRPC_MSG_F_BULK) ? (uint32_t)(body - (body / 2)) : 0;
		if (h.flags & HRPC_MSG_F_BULK)
			h.len = (uint32_t)(body / 2);
	}
	memcpy(buf, &h, sizeof(h));
	if (body)
		memcpy(buf + sizeof(h), p + hl, body);
	(void)!write_full(fd, buf, sizeof(h) + body);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct peer peer = {
		.w = { .revision = HRPC_REVISION_MAX, .max_payload = HRPC_MSG_MAX_PAYLOAD,
		       .features = HRPC_FEAT_EVENTS | HRPC_FEAT_BULK, .guest_id = 1 },
	};
	struct pcall pcs[NCALLS] = { { { 0 } } };
	hrpc_client *cli = NULL;
	size_t events = 0;
	pthread_t t;
	hrpc_chan *ch;
	int sv[2];

	if (!n)
		return 0;
	if (d[0] & 1) {
		size_t k = n - 1 < sizeof(peer.w) ? n - 1 : sizeof(peer.w);

		memcpy(&peer.w, d + 1, k);
		d += k;
		n -= k;
	}
	d++;
	n--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	peer.fd = sv[1];
	if (hrpc_vport_chan_new(HRPC_ROLE_CLIENT, sv[0], &ch)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	pthread_create(&t, NULL, hello_main, &peer);
	if (hrpc_client_new(ch, "fuzz-client", 2000, &cli) < 0)
		cli = NULL;
	pthread_join(t, NULL);
	if (!cli) {
		close(sv[1]);
		return 0;
	}
	hrpc_client_set_event_handler(cli, on_event, &events);

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
				(void)!write_full(sv[1], d, len);
			break;
		case 1:
			write_frame(sv[1], op, pcs, d, len);
			break;
		case 2:
			start_call(cli, sv[1], pcs, d, len);
			break;
		case 3:
			hrpc_client_process(cli, 0);
			break;
		}
		d += len;
		n -= len;
	}
	hrpc_client_process(cli, 0);
	/* The peer goes away: every pending call completes, once. */
	close(sv[1]);
	hrpc_client_process(cli, 0);
	for (int i = 0; i < NCALLS; i++)
		if (pcs[i].state == 2)
			hrpc_client_bulk_free(cli, &pcs[i].bulk);
	hrpc_client_free(cli);
	for (int i = 0; i < NCALLS; i++) {
		check(pcs[i].state != 1);
		free(pcs[i].bulk.ptr);  /* vport bulks are malloc'ed */
		free(pcs[i].rep);
	}
	return 0;
}
