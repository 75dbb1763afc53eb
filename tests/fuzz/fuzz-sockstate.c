/* SPDX-License-Identifier: MIT */
/*
 * fuzz-sockstate - libFuzzer target for the check of a TCP connection's
 * image as another host ships it in a migration (include/hostrpc/
 * sockstate.h, hrpc_tcp_image_check()): the input is the image.  An image
 * the check passes must be one the restore can walk without reading past
 * it: its header's size is the input's, both queues lie inside it, the
 * unsent part inside the send queue, the addresses of one family.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/sockstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hrpc_tcp_image h;
	uint8_t *copy;
	volatile uint8_t sink = 0;

	/* a private copy, as the destination reads from its receive buffer */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (hrpc_tcp_image_check(copy, size) == 0) {
		const uint8_t *inq, *outq;

		memcpy(&h, copy, sizeof(h));
		check(h.size == size && h.unsq_len <= h.outq_len);
		check((uint64_t)sizeof(h) + h.inq_len + h.outq_len == size);
		check(h.local.family == h.peer.family && h.mss >= 64);
		inq = copy + sizeof(h);
		outq = inq + h.inq_len;
		/* touch the last byte of each queue: ASan reads past the copy */
		if (h.inq_len)
			sink ^= inq[h.inq_len - 1];
		if (h.outq_len)
			sink ^= outq[h.outq_len - 1];
		(void)sink;
	}
	free(copy);
	return 0;
}
