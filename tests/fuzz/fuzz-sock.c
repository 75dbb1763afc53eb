/* SPDX-License-Identifier: MIT */
/*
 * fuzz-sock - libFuzzer target for the socket service (outsource/sock), the
 * largest decoder a guest reaches.  The input is a script of calls:
 *
 *   [proc u8][flags u8][len u16 LE][len payload bytes] ...
 *
 * flags bit 0: BULK, next 6 input bytes are bulk off/len/cap (u16 each,
 *              scaled by 64) into the data area;
 * flags bit 1: the first 8 payload bytes are replaced by a handle the
 *              service returned earlier (so calls reach live sockets);
 * flags bit 2: run the service's event dispatch after this call.
 *
 * Each input gets a fresh service and channel (HELLO and INIT done).  The
 * process runs in its own network namespace with only loopback, and the
 * policy allows loopback only: nothing leaves the machine.  Without root it
 * makes a user namespace of its own to hold that network namespace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/control.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/ring.h"
#include "hostrpc/sock.h"
#include "tests/fuzz/fuzz-netns.h"
#include "outsource/sock/outsource-sock.h"

#define SHM_SIZE (2u << 20)

static const char policy[] =
	"max-sockets 32\n"
	"connect allow 127.0.0.0/8\n"
	"connect allow ::1\n"
	"bind allow 127.0.0.0/8\n"
	"bind allow ::1\n"
	"bind allow ::\n"
	"bind allow 0.0.0.0\n"
	"default connect deny\n"
	"default bind deny\n";

static void *shm;
static int efd[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int rc = private_netns();

	if (rc < 0) {
		fprintf(stderr, "fuzz-sock: cannot make a private network namespace "
			"(root, or unprivileged user namespaces): %s\n", strerror(-rc));
		exit(77);
	}
	lo_up();
	shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	efd[0] = eventfd(0, EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_NONBLOCK);
	return 0;
}

struct run {
	struct hrpc_shm_hdr *h;
	struct hrpc_ring req, rsp;
	hrpc_conn *conn;
	outsource_sock *svc;
	uint64_t handles[8];
	unsigned nhandles;
	uint64_t id;
};

static void drain(struct run *r)
{
	static uint8_t buf[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr m;

	while (hrpc_ring_get(&r->rsp, &m, buf, sizeof(buf)) == 0) {
		if (m.kind == HRPC_KIND_REPLY && m.status == 0 && m.len >= 8 &&
		    (m.proc == HRPC_SOCK_SOCKET || m.proc == HRPC_SOCK_ACCEPT))
			memcpy(&r->handles[r->nhandles++ % 8], buf, 8);
	}
}

static void pump(struct run *r, int events)
{
	for (int i = 0; i < 4; i++) {
		if (hrpc_conn_process(r->conn) <= 0)
			break;
		drain(r);
	}
	if (events)
		outsource_sock_dispatch(r->svc);
	drain(r);
}

static void call(struct run *r, uint16_t svc, uint16_t proc, const void *p, uint32_t len,
		 const uint32_t *bulk)
{
	struct hrpc_msg_hdr m;

	hrpc_msg_init(&m, HRPC_KIND_CALL, svc, proc, ++r->id, len);
	if (bulk) {
		m.flags = HRPC_MSG_F_BULK;
		m.bulk_off = bulk[0];
		m.bulk_len = bulk[1];
		m.bulk_cap = bulk[2];
	}
	if (hrpc_ring_put(&r->req, &m, p) == -EAGAIN) {
		pump(r, 0);
		hrpc_ring_put(&r->req, &m, p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	struct hrpc_sock_init_req init = { .version = HRPC_SOCK_VERSION, .credit = 64 };
	struct outsource_sock_config cfg = {
		.guest_id = 1, .guest_name = "fuzz", .policy_text = policy, .audit_fd = -1,
	};
	static uint8_t payload[HRPC_MSG_MAX_PAYLOAD];
	struct run r = { .h = shm };
	hrpc_server *srv;
	hrpc_chan *ch;
	char err[256];

	/* A fresh service, registry and channel per input: no state leaks
	 * from one input to the next. */
	srv = hrpc_server_new("fuzz-sock");
	if (!srv || hrpc_server_register_builtins(srv) < 0 ||
	    outsource_sock_new(&cfg, &r.svc, err, sizeof(err)) < 0 ||
	    outsource_sock_register(r.svc, srv) < 0 ||
	    hrpc_shm_chan_new(HRPC_ROLE_SERVER, shm, SHM_SIZE, efd[0], efd[1], false, &ch) ||
	    hrpc_conn_new(srv, ch, 1, &r.conn)) {
		fprintf(stderr, "fuzz-sock: set-up failed\n");
		abort();
	}
	hrpc_ring_bind(&r.req, &r.h->req, (uint8_t *)shm + r.h->req_off, r.h->req_size, 1);
	hrpc_ring_bind(&r.rsp, &r.h->rsp, (uint8_t *)shm + r.h->rsp_off, r.h->rsp_size, 0);
	call(&r, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he), NULL);
	call(&r, HRPC_SVC_SOCK, HRPC_SOCK_INIT, &init, sizeof(init), NULL);
	pump(&r, 0);

	while (n >= 4) {
		uint8_t proc = d[0] % (HRPC_SOCK_PROC_MAX + 2), flags = d[1];
		uint32_t len = (uint32_t)d[2] | (uint32_t)d[3] << 8, bulk[3], *b = NULL;

		d += 4;
		n -= 4;
		if (flags & 1) {
			if (n < 6)
				break;
			for (int i = 0; i < 3; i++)
				bulk[i] = ((uint32_t)d[2 * i] | (uint32_t)d[2 * i + 1] << 8) * 64;
			b = bulk;
			d += 6;
			n -= 6;
		}
		if (len > n)
			len = (uint32_t)n;
		memcpy(payload, d, len);
		if ((flags & 2) && len >= 8 && r.nhandles)
			memcpy(payload, &r.handles[d[0] % (r.nhandles < 8 ? r.nhandles : 8)], 8);
		d += len;
		n -= len;
		call(&r, HRPC_SVC_SOCK, proc, payload, len, b);
		if (flags & 4)
			pump(&r, 1);
	}
	pump(&r, 1);
	hrpc_conn_free(r.conn);
	outsource_sock_free(r.svc);
	hrpc_server_free(srv);
	return 0;
}
