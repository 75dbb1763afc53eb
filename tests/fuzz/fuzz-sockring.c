/* SPDX-License-Identifier: MIT */
/*
 * fuzz-sockring - libFuzzer target for the host's side of a sockets v2
 * socket area (include/hostrpc/sockring.h) against a hostile guest: the
 * input is a script.  Byte 0 picks stream or datagram rings; then each op
 * is one byte (what) and four (an argument):
 *   0  the guest writes the out ring's producer index
 *   1  the guest writes the in ring's consumer index
 *   2  the guest scribbles 4 bytes into the area at (arg % size)
 *   3  the host reads from the out ring (stream read / datagram get)
 *   4  the host peeks / takes data spans
 *   5  the host writes into the in ring (bytes / a datagram)
 *   6  the host fills free spans in place
 * Every result must stay within what was asked and what the ring holds;
 * ASan/UBSan catch the rest.  A -EPROTO ends the run (the channel is
 * fenced), as the worker does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/sockring.h"

#define OUT_SIZE HRPC_SOCK_RING_MIN
#define IN_SIZE  (2 * HRPC_SOCK_RING_MIN)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t area[HRPC_SOCK_AREA_HDR + OUT_SIZE + IN_SIZE] __attribute__((aligned(64)));
static uint8_t buf[HRPC_SOCK_DGRAM_MAX + 8];

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct hrpc_sock_area a = { .off = 0, .out_size = OUT_SIZE, .in_size = IN_SIZE };
	struct hrpc_sock_area_hdr *h = (struct hrpc_sock_area_hdr *)area;
	struct hrpc_ring out, in;
	int dgram;

	if (size < 1)
		return 0;
	memset(area, 0, sizeof(area));
	check(hrpc_sock_area_check(&a, sizeof(area)) == 0);
	hrpc_sock_area_bind(&out, &in, area, &a, 0);
	dgram = data[0] & 1;
	data++;
	size--;
	for (; size >= 5; data += 5, size -= 5) {
		uint32_t arg, before;
		long n = 0;

		memcpy(&arg, data + 1, 4);
		switch (data[0] % 7) {
		case 0:
			h->out.prod = arg;
			break;
		case 1:
			h->in.cons = arg;
			break;
		case 2:
			memcpy(area + arg % (sizeof(area) - 4), &arg, 4);
			break;
		case 3:
			before = out.pvt;
			if (dgram) {
				struct hrpc_sock_dgram d;

				n = hrpc_dring_get(&out, &d, buf, arg % sizeof(buf), arg & 1);
				if (n >= 0)
					check((uint32_t)n <= d.len && d.len <= d.full_len &&
					      out.pvt - before <= OUT_SIZE);
			} else {
				n = hrpc_sring_read(&out, buf, arg % sizeof(buf));
				if (n >= 0)
					check((uint32_t)n <= arg % sizeof(buf) && n <= OUT_SIZE &&
					      out.pvt - before == (uint32_t)n);
			}
			break;
		case 4: {
			const void *p0, *p1;
			uint32_t n0, n1;

			if (arg & 1) {
				n = hrpc_sring_peek(&out, arg % 64, buf, (arg >> 8) % sizeof(buf));
				if (n >= 0)
					check(n <= OUT_SIZE);
				break;
			}
			n = hrpc_sring_data_spans(&out, arg, &p0, &n0, &p1, &n1);
			if (n >= 0) {
				check(n0 + n1 == (uint32_t)n && n <= OUT_SIZE);
				check((const uint8_t *)p0 >= out.buf && (const uint8_t *)p0 + n0 <= out.buf + OUT_SIZE);
				check(!n1 || ((const uint8_t *)p1 == out.buf && n1 <= OUT_SIZE));
				/* a sender reads every byte it was given */
				memcpy(buf, p0, n0);
				memcpy(buf + n0, p1, n1);
				hrpc_sring_consume(&out, (uint32_t)n);
			}
			break;
		}
		case 5:
			if (dgram) {
				struct hrpc_sock_dgram d = { 0 };

				d.len = d.full_len = arg % (hrpc_dring_max_payload(IN_SIZE) + 1);
				n = hrpc_dring_put(&in, &d, buf);
				if (n == -EAGAIN || n == -EMSGSIZE)
					n = 0;
			} else {
				n = hrpc_sring_write(&in, buf, arg % sizeof(buf));
				if (n >= 0)
					check(n <= IN_SIZE && (uint32_t)n <= arg % sizeof(buf));
			}
			break;
		case 6: {
			void *p0, *p1;
			uint32_t n0, n1;

			n = hrpc_sring_free_spans(&in, &p0, &n0, &p1, &n1);
			if (n >= 0) {
				check(n0 + n1 == (uint32_t)n && n <= IN_SIZE);
				check((uint8_t *)p0 >= in.buf && (uint8_t *)p0 + n0 <= in.buf + IN_SIZE);
				check(!n1 || ((uint8_t *)p1 == in.buf && n1 <= IN_SIZE));
				memset(p0, 0xa5, n0);
				memset(p1, 0x5a, n1);
				hrpc_sring_produce(&in, (uint32_t)n);
			}
			break;
		}
		}
		if (n == -EPROTO)
			return 0;   /* fenced */
		check(n >= 0 || n == -EAGAIN);
	}
	return 0;
}
