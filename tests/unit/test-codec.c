/* SPDX-License-Identifier: MIT */
/*
 * test-codec - header and layout checks of the wire headers: message
 * header validation, vport framing rules, shared-memory geometry, bulk
 * references, the echo checksum.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostrpc/echo.h"
#include "hostrpc/msg.h"
#include "hostrpc/ring.h"
#include "hostrpc/vport.h"
#include "tests/tap.h"

static struct hrpc_msg_hdr good(void)
{
	struct hrpc_msg_hdr h;

	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, 1, 42, 16);
	return h;
}

int main(void)
{
	struct hrpc_msg_hdr h;
	struct hrpc_shm_hdr g, c;
	uint8_t buf[4096];

	tap_plan(24);
	h = good();
	tap_ok(hrpc_msg_check(&h) == 0, "a well-formed call passes");
	h.magic ^= 1;
	tap_ok(hrpc_msg_check(&h) == -EBADMSG, "bad magic: EBADMSG");
	h = good(); h.kind = 0;
	tap_ok(hrpc_msg_check(&h) == -EBADMSG, "kind 0: EBADMSG");
	h = good(); h.kind = 4;
	tap_ok(hrpc_msg_check(&h) == -EBADMSG, "kind 4: EBADMSG");
	h = good(); h.flags = 0x8000;
	tap_ok(hrpc_msg_check(&h) == -EBADMSG, "unknown flag bit: EBADMSG");
	h = good(); h.len = HRPC_MSG_MAX_PAYLOAD + 1;
	tap_ok(hrpc_msg_check(&h) == -EMSGSIZE, "payload above the maximum: EMSGSIZE");
	h = good(); h.version = 2;
	tap_ok(hrpc_msg_check(&h) == -EPROTONOSUPPORT, "other version: EPROTONOSUPPORT");

	h = good();
	tap_ok(hrpc_vport_frame_check(&h) == 0, "vport: frame without bulk passes");
	h.bulk_len = 1;
	tap_ok(hrpc_vport_frame_check(&h) == -EPROTO, "vport: bulk fields without the flag: EPROTO");
	h = good(); h.flags = HRPC_MSG_F_BULK; h.bulk_len = 10; h.bulk_cap = 5;
	tap_ok(hrpc_vport_frame_check(&h) == -EPROTO, "vport: call bulk_len > bulk_cap: EPROTO");
	h.bulk_cap = HRPC_VPORT_MAX_BULK + 1;
	tap_ok(hrpc_vport_frame_check(&h) == -EPROTO, "vport: bulk_cap above the limit: EPROTO");
	h.bulk_cap = 10; h.bulk_off = 8;
	tap_ok(hrpc_vport_frame_check(&h) == -EPROTO, "vport: nonzero bulk_off: EPROTO");

	tap_ok(hrpc_shm_geometry_init(&g, 8u << 20, HRPC_RING_MIN_SIZE) == 0, "geometry for 8 MiB");
	tap_ok(hrpc_shm_geometry_check(&g, 8u << 20) == 0, "and it checks");
	tap_ok(hrpc_shm_geometry_check(&g, 4u << 20) == -EPROTO, "larger than the mapping: EPROTO");
	c = g; c.req_size = 3 * 65536;
	tap_ok(hrpc_shm_geometry_check(&c, 8u << 20) == -EPROTO, "ring size not a power of two: EPROTO");
	c = g; c.rsp_off = c.req_off + 4096;
	tap_ok(hrpc_shm_geometry_check(&c, 8u << 20) == -EPROTO, "overlapping rings: EPROTO");
	c = g; c.data_size = 0xfffff000u;
	tap_ok(hrpc_shm_geometry_check(&c, 8u << 20) == -EPROTO, "data area past the end (u32 overflow bait): EPROTO");
	c = g; c.req_off = 0;
	tap_ok(hrpc_shm_geometry_check(&c, 8u << 20) == -EPROTO, "ring over the header: EPROTO");
	tap_ok(hrpc_shm_geometry_init(&g, 256u << 10, HRPC_RING_MIN_SIZE) == -EINVAL, "too small a region is refused");

	tap_ok(hrpc_bulk_check(1000, 0, 10, 1000) == 0 && hrpc_bulk_check(1000, 990, 10, 10) == 0,
	       "bulk refs inside the area pass");
	tap_ok(hrpc_bulk_check(1000, 995, 10, 10) == -EFAULT && hrpc_bulk_check(1000, 0xfffffff0u, 0, 0x20) == -EFAULT,
	       "bulk refs past the end (incl. u32 wrap) fail");

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13);
	{
		uint64_t a = hrpc_echo_sum(buf, sizeof(buf));
		uint8_t t = buf[100];

		buf[100] = buf[101]; buf[101] = t;
		tap_ok(a != hrpc_echo_sum(buf, sizeof(buf)), "echo sum sees two swapped bytes");
		buf[101] = buf[100]; buf[100] = t;
		tap_ok(a == hrpc_echo_sum(buf, sizeof(buf)) && a != hrpc_echo_sum(buf, sizeof(buf) - 1),
		       "echo sum is stable and length-sensitive");
	}
	return tap_done();
}
