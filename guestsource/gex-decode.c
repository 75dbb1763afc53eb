/* SPDX-License-Identifier: MIT */
/*
 * gex-decode.c - pure reading of guest-exec events (see gex-decode.h).
 */
#include "config.h"

#include <string.h>

#include "gex-decode.h"

enum gex_ev_kind gex_event_parse(uint64_t handle, uint16_t proc, const uint8_t *payload,
				 uint32_t len, struct gex_ev *out)
{
	memset(out, 0, sizeof(*out));
	if (proc == HRPC_GEX_EV_OUTPUT && len >= sizeof(struct hrpc_gex_output)) {
		struct hrpc_gex_output o;

		/* Copied out: the payload's header is read once. */
		memcpy(&o, payload, sizeof(o));
		if (o.handle == handle && o.size == len - sizeof(o) &&
		    (o.stream == HRPC_GEX_STDOUT || o.stream == HRPC_GEX_STDERR)) {
			out->kind = GEX_EV_OUTPUT;
			out->stream = o.stream;
			out->data = payload + sizeof(o);
			out->size = o.size;
		}
	} else if (proc == HRPC_GEX_EV_EXIT && len == sizeof(out->status)) {
		memcpy(&out->status, payload, sizeof(out->status));
		if (out->status.handle == handle)
			out->kind = GEX_EV_EXIT;
		else
			memset(&out->status, 0, sizeof(out->status));
	} else if (proc == HRPC_GEX_EV_STDIN) {
		out->kind = GEX_EV_STDIN;
	}
	return out->kind;
}

int gex_exit_code(const struct hrpc_gex_status *st)
{
	if (st->flags & HRPC_GEX_X_TIMEDOUT)
		return 124;
	if (st->signal)
		return st->signal <= 64 ? 128 + (int)st->signal : 125;
	return st->code >= 0 && st->code <= 255 ? st->code : 125;
}
