/* SPDX-License-Identifier: MIT */
/*
 * test-malformed - a hostile guest against a server connection.  The test
 * plays the guest by writing raw records and indexes into the shared memory
 * (and raw bytes into a vport stream) and checks that each bad input gets
 * an error reply or fences the channel - never a crash, never a hang.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/control.h"
#include "hostrpc/echo.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/ring.h"
#include "tests/tap.h"

#define SHM_SIZE (8u << 20)

/* A server conn on anonymous shared memory; the test is the guest. */
struct rig {
	void *shm;
	struct hrpc_shm_hdr *hdr;
	int to_srv, to_cli;
	hrpc_server *srv;
	hrpc_conn *conn;
	struct hrpc_ring req, rsp;   /* the guest's view */
	uint64_t id;
};

static void rig_up(struct rig *r)
{
	hrpc_chan *ch;

	memset(r, 0, sizeof(*r));
	r->shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	r->hdr = r->shm;
	r->to_srv = eventfd(0, EFD_NONBLOCK);
	r->to_cli = eventfd(0, EFD_NONBLOCK);
	r->srv = hrpc_server_new("malformed");
	hrpc_server_register_builtins(r->srv);
	if (hrpc_shm_chan_new(HRPC_ROLE_SERVER, r->shm, SHM_SIZE, r->to_cli, r->to_srv, false, &ch) ||
	    hrpc_conn_new(r->srv, ch, 1, &r->conn)) {
		tap_diag("cannot set up the rig");
		exit(1);
	}
	hrpc_ring_bind(&r->req, &r->hdr->req, (uint8_t *)r->shm + r->hdr->req_off, r->hdr->req_size, 1);
	hrpc_ring_bind(&r->rsp, &r->hdr->rsp, (uint8_t *)r->shm + r->hdr->rsp_off, r->hdr->rsp_size, 0);
}

static void rig_down(struct rig *r)
{
	hrpc_conn_free(r->conn);
	hrpc_server_free(r->srv);
	close(r->to_srv);
	close(r->to_cli);
	munmap(r->shm, SHM_SIZE);
}

static void put(struct rig *r, struct hrpc_msg_hdr *h, const void *payload)
{
	if (hrpc_ring_put(&r->req, h, payload))
		tap_diag("put failed");
}

static void call(struct rig *r, uint16_t svc, uint16_t proc, const void *p, uint32_t len)
{
	struct hrpc_msg_hdr h;

	hrpc_msg_init(&h, HRPC_KIND_CALL, svc, proc, ++r->id, len);
	put(r, &h, p);
}

/* Process, then return the status of the single reply (or 1 if none). */
static int reply_status(struct rig *r, int *proc_rc)
{
	static uint8_t buf[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr h;

	*proc_rc = hrpc_conn_process(r->conn);
	if (hrpc_ring_get(&r->rsp, &h, buf, sizeof(buf)))
		return 1;
	return h.status;
}

static void hello(struct rig *r)
{
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	int prc;

	call(r, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he));
	reply_status(r, &prc);
}

static void shm_cases(void)
{
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	struct hrpc_msg_hdr h;
	struct rig r;
	int prc, st;

	rig_up(&r);
	call(&r, HRPC_SVC_ECHO, HRPC_ECHO_PING, "x", 1);
	tap_ok(reply_status(&r, &prc) == -ENOTCONN, "call before HELLO: ENOTCONN");
	he.min_revision = 5;
	he.max_revision = 9;
	call(&r, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he));
	tap_ok(reply_status(&r, &prc) == -EPROTONOSUPPORT, "HELLO with no common revision: EPROTONOSUPPORT");
	call(&r, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, 3);
	tap_ok(reply_status(&r, &prc) == -EINVAL, "truncated HELLO payload: EINVAL");
	hello(&r);
	tap_ok(hrpc_conn_negotiated(r.conn), "a proper HELLO negotiates");

	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 77, 0);
	h.version = 9;
	put(&r, &h, NULL);
	tap_ok(reply_status(&r, &prc) == -EPROTONOSUPPORT && !hrpc_conn_fenced(r.conn),
	       "wrong header version: EPROTONOSUPPORT reply, channel stays up");
	call(&r, 4242, 1, NULL, 0);
	tap_ok(reply_status(&r, &prc) == -ENOENT, "unknown service: ENOENT");
	call(&r, HRPC_SVC_ECHO, 999, NULL, 0);
	tap_ok(reply_status(&r, &prc) == -ENOSYS, "unknown procedure: ENOSYS");

	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_SINK, 78, 0);
	h.flags = HRPC_MSG_F_BULK;
	h.bulk_off = r.hdr->data_size - 100;
	h.bulk_len = 50;
	h.bulk_cap = 200;
	put(&r, &h, NULL);
	tap_ok(reply_status(&r, &prc) == -EFAULT, "bulk buffer past the data area: EFAULT");
	h.bulk_off = 0xffffff00u;
	h.bulk_cap = 0x200;
	put(&r, &h, NULL);
	tap_ok(reply_status(&r, &prc) == -EFAULT, "bulk offset wrapping u32: EFAULT");
	h.bulk_off = 0;
	h.bulk_len = 300;
	h.bulk_cap = 200;
	put(&r, &h, NULL);
	tap_ok(reply_status(&r, &prc) == -EFAULT, "bulk_len > bulk_cap: EFAULT");
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_BULK, 79, 0);
	h.flags = HRPC_MSG_F_BULK;
	h.bulk_len = 4096;
	h.bulk_cap = 4096;
	put(&r, &h, NULL);
	tap_ok(reply_status(&r, &prc) == -ENOBUFS, "echo BULK without room for the answer: ENOBUFS");
	{
		struct hrpc_echo_events_req er = { .count = 1u << 30 };

		call(&r, HRPC_SVC_ECHO, HRPC_ECHO_EVENTS, &er, sizeof(er));
		tap_ok(reply_status(&r, &prc) == -EINVAL, "absurd event count: EINVAL");
	}
	st = 0;
	for (int i = 0; i < 5000; i++) {  /* guest never drains replies */
		call(&r, HRPC_SVC_ECHO, HRPC_ECHO_PING, NULL, 0);
		if (i % 100 == 99)
			hrpc_conn_process(r.conn);
	}
	hrpc_conn_process(r.conn);
	st = (int)(r.hdr->req.prod - r.hdr->req.cons);
	tap_ok(!hrpc_conn_fenced(r.conn) && st > 0,
	       "guest that never reads replies is not served further (%d request bytes left) but not buffered for", st);
	rig_down(&r);

	rig_up(&r);
	hello(&r);
	r.hdr->req.prod = r.req.pvt + r.hdr->req_size + 8;
	prc = hrpc_conn_process(r.conn);
	tap_ok(prc == -EPROTO && hrpc_conn_fenced(r.conn) && r.hdr->host_state == HRPC_SHM_STATE_FENCED,
	       "forged producer index: fenced (%s)", hrpc_conn_fence_reason(r.conn));
	call(&r, HRPC_SVC_ECHO, HRPC_ECHO_PING, NULL, 0);
	tap_ok(hrpc_conn_process(r.conn) == -EPROTO, "a fenced channel stays fenced");
	rig_down(&r);

	rig_up(&r);
	hello(&r);
	r.hdr->rsp.cons = r.rsp.pvt + 4096;
	call(&r, HRPC_SVC_ECHO, HRPC_ECHO_PING, NULL, 0);
	tap_ok(hrpc_conn_process(r.conn) == -EPROTO, "forged consumer index on the response ring: fenced");
	rig_down(&r);

	rig_up(&r);
	hello(&r);
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 0);
	h.magic = 0xdeadbeef;
	put(&r, &h, NULL);
	tap_ok(hrpc_conn_process(r.conn) == -EPROTO, "bad magic: fenced");
	rig_down(&r);

	rig_up(&r);
	hello(&r);
	hrpc_msg_init(&h, HRPC_KIND_REPLY, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 0);
	put(&r, &h, NULL);
	tap_ok(hrpc_conn_process(r.conn) == -EPROTO, "a REPLY sent to the server: fenced");
	rig_down(&r);

	rig_up(&r);
	hello(&r);
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 16);
	put(&r, &h, "0123456789abcdef");
	/* rewrite the published record's length to exceed what was published */
	h.len = 60000;
	memcpy((uint8_t *)r.shm + r.hdr->req_off + ((r.req.pvt - HRPC_RECORD_SIZE(16)) & (r.hdr->req_size - 1)), &h, sizeof(h));
	tap_ok(hrpc_conn_process(r.conn) == -EPROTO, "record length beyond the published bytes: fenced");
	rig_down(&r);
}

/* ---- vport ---------------------------------------------------------------- */

static hrpc_conn *vport_conn(hrpc_server *srv, int *peer)
{
	int sv[2];
	hrpc_chan *ch;
	hrpc_conn *c;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	hrpc_vport_chan_new(HRPC_ROLE_SERVER, sv[0], &ch);
	hrpc_conn_new(srv, ch, 2, &c);
	*peer = sv[1];
	return c;
}

static void vport_cases(void)
{
	hrpc_server *srv = hrpc_server_new("malformed");
	struct hrpc_msg_hdr h;
	hrpc_conn *c;
	int fd, rc;

	hrpc_server_register_builtins(srv);

	c = vport_conn(srv, &fd);
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 100);
	rc = (int)write(fd, &h, 20);  /* half a header, then hang up */
	close(fd);
	rc = hrpc_conn_process(c);
	tap_ok(rc == -EPIPE && !hrpc_conn_fenced(c), "vport: truncated frame then hang-up: EPIPE, no crash");
	hrpc_conn_free(c);

	c = vport_conn(srv, &fd);
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_PING, 1, 0x7fffffff);
	rc = (int)write(fd, &h, sizeof(h));
	rc = hrpc_conn_process(c);
	tap_ok(rc == -EPROTO, "vport: 2 GiB payload length: fenced before buffering (%s)", hrpc_conn_fence_reason(c));
	hrpc_conn_free(c);
	close(fd);

	c = vport_conn(srv, &fd);
	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_SINK, 1, 0);
	h.flags = HRPC_MSG_F_BULK;
	h.bulk_len = 64u << 20;
	h.bulk_cap = 64u << 20;
	rc = (int)write(fd, &h, sizeof(h));
	rc = hrpc_conn_process(c);
	tap_ok(rc == -EPROTO, "vport: 64 MiB bulk length: fenced");
	hrpc_conn_free(c);
	close(fd);

	c = vport_conn(srv, &fd);
	{
		uint8_t junk[4096];

		for (unsigned i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 151 + 7);
		rc = (int)write(fd, junk, sizeof(junk));
	}
	rc = hrpc_conn_process(c);
	tap_ok(rc == -EPROTO, "vport: random bytes: fenced");
	hrpc_conn_free(c);
	close(fd);
	hrpc_server_free(srv);
}

int main(void)
{
	tap_plan(23);
	shm_cases();
	vport_cases();
	return tap_done();
}
