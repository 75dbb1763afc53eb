/* SPDX-License-Identifier: MIT */
/*
 * fuzz-client - libFuzzer target for libhostrpc's client role: replies and
 * events from a hostile server (a guest agent, to the host tools).  A
 * client talks to this harness over a socketpair (the vport stream
 * transport) or shared memory (the shm rings, as over a memfd), and the
 * harness answers HELLO and then plays the input as a script:
 *
 *   [op u8][len u16 LE][len bytes] ...
 *
 * op % 4 == 0  stream: write the bytes to the client raw (framing is the
 *              peer's); shm: the first 4 bytes are an offset into the
 *              shared memory, the rest is written there (ring indexes,
 *              records, the header: anything the peer can scribble on);
 * op % 4 == 1  write a frame: the bytes start with a message header (zero
 *              padded to 40), the rest is the payload.  bit 2: a valid
 *              magic/version; bit 3: call_id := a pending call's id (bits
 *              5-7 pick which); bit 4: len/bulk_len := what follows (shm:
 *              bulk_off is made relative to that call's bulk buffer);
 * op % 4 == 2  start an async call (2 bytes: reply capacity / 8, bulk
 *              capacity in KiB, 0 = none); the harness reads the CALL frame
 *              to learn its id;
 * op % 4 == 3  let the client process what arrived.
 *
 * The first byte: bit 0, the 88 bytes after it are the WELCOME instead of
 * a valid one; bit 1, shared memory instead of the stream.  The client must complete each call
 * once, with a status, within its buffers; ASan/UBSan catch the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/chan.h"   /* the harness plays the server on a raw channel */
#include "hostrpc/control.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/vport.h"
#include "tests/fuzz/fuzz-runner.h"

#define NCALLS 8
#define SHM_SIZE (1u << 20)

static void *shm;
static int efd[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The peer's HELLO answer runs here (fuzz-runner.h), not on a new
 * thread per input. */
static struct fuzz_runner hello_runner;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_runners_init(&hello_runner, 1);
	shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	efd[0] = eventfd(0, EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_NONBLOCK);
	return shm == MAP_FAILED || efd[0] < 0 || efd[1] < 0 ? -1 : 0;
}

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
	int fd;                  /* stream: our end of the socketpair */
	hrpc_chan *ch;           /* shm: the server's side of the rings */
	hrpc_client *cli;        /* after HELLO: the client, which reads while we write */
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

/*
 * Write all of it.  After HELLO our end does not block: the client runs on
 * this thread, so when the socket is full (many small frames fill it long
 * before its bytes do) the client takes in what it can, as it would
 * beside a real peer, and the write goes on.  A client that takes nothing
 * more (its buffer holds a frame that is not complete, or it gave up on
 * us) cuts the stream there: the rest is dropped, as a peer that stops
 * writing would leave it.
 */
static int write_full(struct peer *peer, const void *p, size_t n)
{
	int stuck = 0;

	while (n) {
		ssize_t r = write(peer->fd, p, n);

		if (r < 0 && errno == EAGAIN && peer->cli && stuck++ < 8) {
			hrpc_client_process(peer->cli, 0);
			continue;
		}
		if (r <= 0)
			return -1;
		p = (const uint8_t *)p + r;
		n -= (size_t)r;
		stuck = 0;
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
/* shm: the next CALL off the request ring (waiting up to ms); its id or 0. */
static uint64_t shm_read_call(hrpc_chan *ch, int ms)
{
	static uint8_t payload[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr h;
	const void *bulk;
	int rc = hrpc_chan_recv(ch, &h, payload, &bulk);

	if (rc == -EAGAIN && ms && hrpc_chan_wait(ch, ms, 0) > 0)
		rc = hrpc_chan_recv(ch, &h, payload, &bulk);
	ch->ops->flush(ch);
	return rc == 0 ? h.call_id : 0;
}

static uint64_t peer_read_call(struct peer *p)
{
	return p->ch ? shm_read_call(p->ch, 0) : read_call(p->fd);
}

static void peer_send(struct peer *p, const struct hrpc_msg_hdr *h, const void *payload,
		      size_t body)
{
	if (p->ch) {
		hrpc_chan_send(p->ch, h, payload, NULL);
		p->ch->ops->flush(p->ch);
		return;
	}
	if (write_full(p, h, sizeof(*h)) == 0 && body)
		(void)!write_full(p, payload, body);
}

static void *hello_main(void *arg)
{
	struct peer *p = arg;
	struct hrpc_msg_hdr h;
	uint64_t id = p->ch ? shm_read_call(p->ch, 2000) : read_call(p->fd);

	p->rc = -1;
	if (!id)
		return NULL;
	hrpc_msg_init(&h, HRPC_KIND_REPLY, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, id, sizeof(p->w));
	peer_send(p, &h, &p->w, sizeof(p->w));
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

static void start_call(hrpc_client *cli, struct peer *peer, struct pcall *pcs, const uint8_t *p,
		       size_t n)
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
	pc->id = peer_read_call(peer);
}

static void write_frame(struct peer *peer, uint8_t op, struct pcall *pcs, const uint8_t *p,
			size_t n)
{
	static uint8_t payload[HRPC_MSG_MAX_PAYLOAD];
	struct pcall *pc = &pcs[(op >> 5) % NCALLS];
	struct hrpc_msg_hdr h = { 0 };
	size_t hl = n < sizeof(h) ? n : sizeof(h), body = n - hl;

	memcpy(&h, p, hl);
	if (op & 4) {
		h.magic = HRPC_MSG_MAGIC;
		h.version = HRPC_PROTO_VERSION;
	}
	if (op & 8)
		h.call_id = pc->id;
	if (op & 16) {
		h.len = (uint32_t)body;
		h.bulk_len = (h.flags & HRPC_MSG_F_BULK) ? (uint32_t)(body - (body / 2)) : 0;
		if (h.flags & HRPC_MSG_F_BULK)
			h.len = (uint32_t)(body / 2);
		if (peer->ch)
			h.bulk_off += pc->bulk.off;
	}
	if (peer->ch) {
		/* The ring copies h.len bytes of payload: the harness's buffer
		 * must hold them (the ring itself is the target, not us). */
		if (body > sizeof(payload))
			body = sizeof(payload);
		memset(payload, 0, sizeof(payload));
		memcpy(payload, p + hl, body);
		if (h.len > sizeof(payload))
			h.len = (uint32_t)body;
		peer_send(peer, &h, payload, 0);
		return;
	}
	peer_send(peer, &h, p + hl, body);
}

/* shm: the peer scribbles on the shared memory, then rings the doorbell. */
static void poke(const uint8_t *p, size_t n)
{
	uint32_t off;
	uint64_t one = 1;

	if (n < 4)
		return;
	memcpy(&off, p, 4);
	off %= SHM_SIZE;
	n -= 4;
	if (n > SHM_SIZE - off)
		n = SHM_SIZE - off;
	memcpy((uint8_t *)shm + off, p + 4, n);
	(void)!write(efd[0], &one, sizeof(one));
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
	uint64_t drain;
	hrpc_chan *ch;
	bool use_shm;
	int sv[2] = { -1, -1 };

	if (!n)
		return 0;
	use_shm = d[0] & 2;
	if (d[0] & 1) {
		size_t k = n - 1 < sizeof(peer.w) ? n - 1 : sizeof(peer.w);

		memcpy(&peer.w, d + 1, k);
		d += k;
		n -= k;
	}
	d++;
	n--;
	if (use_shm) {
		/* Fresh rings in the same memory each time; the server's
		 * side is the harness's (kick efd[0], wait efd[1]). */
		while (read(efd[0], &drain, sizeof(drain)) > 0 || read(efd[1], &drain, sizeof(drain)) > 0)
			;
		memset(shm, 0, SHM_SIZE);
		if (hrpc_shm_chan_new(HRPC_ROLE_SERVER, shm, SHM_SIZE, efd[0], efd[1], false, &peer.ch))
			abort();
		if (hrpc_shm_chan_new(HRPC_ROLE_CLIENT, shm, SHM_SIZE, efd[1], efd[0], false, &ch))
			abort();
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return 0;
		peer.fd = sv[1];
		if (hrpc_vport_chan_new(HRPC_ROLE_CLIENT, sv[0], &ch)) {
			close(sv[0]);
			close(sv[1]);
			return 0;
		}
	}
	fuzz_run_start(&hello_runner, hello_main, &peer);
	if (hrpc_client_new(ch, "fuzz-client", 2000, &cli) < 0)
		cli = NULL;
	fuzz_run_join(&hello_runner);
	if (!cli) {
		if (sv[1] >= 0)
			close(sv[1]);
		hrpc_chan_free(peer.ch);
		return 0;
	}
	hrpc_client_set_event_handler(cli, on_event, &events);
	if (!use_shm) {
		peer.cli = cli;
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
	}

	while (n >= 3) {
		uint8_t op = d[0];
		size_t len = (size_t)d[1] | (size_t)d[2] << 8;

		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		switch (op % 4) {
		case 0:
			if (use_shm)
				poke(d, len);
			else if (len)
				(void)!write_full(&peer, d, len);
			break;
		case 1:
			write_frame(&peer, op, pcs, d, len);
			break;
		case 2:
			start_call(cli, &peer, pcs, d, len);
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
	if (sv[1] >= 0)
		close(sv[1]);
	hrpc_client_process(cli, 0);
	for (int i = 0; i < NCALLS; i++)
		if (pcs[i].state != 1)
			hrpc_client_bulk_free(cli, &pcs[i].bulk);
	hrpc_client_free(cli);
	for (int i = 0; i < NCALLS; i++) {
		check(pcs[i].state != 1);
		if (!use_shm)
			free(pcs[i].bulk.ptr);  /* vport bulks are malloc'ed */
		free(pcs[i].rep);
	}
	hrpc_chan_free(peer.ch);
	return 0;
}
