/* SPDX-License-Identifier: MIT */
/*
 * fuzz-gex - libFuzzer target for hostrpc-guest-exec's event parsing
 * (guestsource/gex-decode.c).  The input is a stream of events as the
 * session queues them:
 *
 *   [proc u8][len u16 LE][len payload bytes] ...
 *
 * with our command's handle 0x1122334455667788 (the payloads of the seeds
 * use it).  Each payload sits in a buffer of exactly its length, as the
 * session delivers it, so ASan sees any read past the event.  Whatever is
 * accepted must be in bounds and ours; the exit code is always one
 * hostrpc-guest-exec documents.
 */
#include <stdlib.h>
#include <string.h>

#include "guestsource/gex-decode.h"

#define HANDLE 0x1122334455667788ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint64_t out = 0;

	while (n >= 3) {
		uint16_t proc = d[0] % 8;
		uint32_t len = (uint32_t)d[1] | (uint32_t)d[2] << 8;
		uint8_t *payload;
		struct gex_ev ev;
		int code;

		d += 3;
		n -= 3;
		if (len > n)
			len = (uint32_t)n;
		payload = malloc(len ? len : 1);
		memcpy(payload, d, len);
		switch (gex_event_parse(HANDLE, proc, payload, len, &ev)) {
		case GEX_EV_OUTPUT:
			check(ev.data >= payload && ev.data + ev.size == payload + len);
			check(ev.stream == HRPC_GEX_STDOUT || ev.stream == HRPC_GEX_STDERR);
			/* What the tool writes to its stdout/stderr. */
			for (uint32_t i = 0; i < ev.size; i++)
				out += ev.data[i];
			break;
		case GEX_EV_EXIT:
			check(ev.status.handle == HANDLE && len == sizeof(ev.status));
			code = gex_exit_code(&ev.status);
			check(code >= 0 && code <= 255);
			break;
		case GEX_EV_STDIN:
			check(proc == HRPC_GEX_EV_STDIN);
			break;
		case GEX_EV_IGNORE:
			break;
		default:
			abort();
		}
		free(payload);
		d += len;
		n -= len;
	}
	return out == 1 ? 0 : 0;
}
