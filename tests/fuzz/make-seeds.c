/* SPDX-License-Identifier: MIT */
/* make-seeds DIR - write a few valid inputs for fuzz-conn: a HELLO followed
 * by echo calls, as shm ring bytes and as a vport stream. */
#include <stdio.h>
#include <string.h>

#include "hostrpc/control.h"
#include "hostrpc/echo.h"
#include "hostrpc/ring.h"
#include "hostrpc/stats.h"

static size_t rec(uint8_t *out, uint16_t svc, uint16_t proc, const void *p, uint32_t len,
		  uint16_t flags, uint32_t boff, uint32_t blen, uint32_t bcap, int pad)
{
	struct hrpc_msg_hdr h;

	hrpc_msg_init(&h, HRPC_KIND_CALL, svc, proc, 1, len);
	h.flags = flags;
	h.bulk_off = boff;
	h.bulk_len = blen;
	h.bulk_cap = bcap;
	memcpy(out, &h, sizeof(h));
	if (len)
		memcpy(out + sizeof(h), p, len);
	return pad ? HRPC_RECORD_SIZE(len) : sizeof(h) + len;
}

int main(int argc, char **argv)
{
	static uint8_t buf[8192];
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	struct hrpc_echo_source_req sr = { .seed = 1, .len = 64 };
	char path[4096];

	for (int mode = 0; mode < 2; mode++) {
		size_t n = 1 + (mode ? 0 : 8);
		FILE *f;

		memset(buf, 0, sizeof(buf));
		buf[0] = (uint8_t)mode;
		n += rec(buf + n, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he), 0, 0, 0, 0, !mode);
		n += rec(buf + n, HRPC_SVC_ECHO, HRPC_ECHO_PING, "hello", 5, 0, 0, 0, 0, !mode);
		n += rec(buf + n, HRPC_SVC_ECHO, HRPC_ECHO_SOURCE, &sr, sizeof(sr), HRPC_MSG_F_BULK,
			 0, 0, 64, !mode);
		n += rec(buf + n, HRPC_SVC_STATS, HRPC_STATS_GET, NULL, 0, 0, 0, 0, 0, !mode);
		snprintf(path, sizeof(path), "%s/seed-%s", argc > 1 ? argv[1] : ".", mode ? "vport" : "shm");
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, n, f) != n)
			return 1;
		fclose(f);
	}
	return 0;
}
