/* SPDX-License-Identifier: MIT */
/*
 * gex-decode.h - hostrpc-guest-exec's reading of what a guest sends
 * (hostrpc/guestexec.h events and status).  Pure functions: no global
 * state, no I/O, so they can be unit-tested and fuzzed (tests/fuzz/
 * fuzz-gex.c).  An event that does not fit is ignored, never trusted.
 */
#ifndef GUESTSOURCE_GEX_DECODE_H
#define GUESTSOURCE_GEX_DECODE_H

#include <stdint.h>

#include "hostrpc/guestexec.h"

enum gex_ev_kind {
	GEX_EV_IGNORE = 0,   /* not ours, or malformed */
	GEX_EV_OUTPUT,       /* stream, data, size */
	GEX_EV_EXIT,         /* status: our command ended */
	GEX_EV_STDIN,        /* the agent's stdin buffer has room again */
};

struct gex_ev {
	enum gex_ev_kind kind;
	uint32_t stream;             /* HRPC_GEX_STDOUT or HRPC_GEX_STDERR */
	const uint8_t *data;         /* points into the payload */
	uint32_t size;
	struct hrpc_gex_status status;
};

/*
 * Classify one event of service HRPC_SVC_GUEST_EXEC for the command
 * `handle`: OUTPUT only for our handle, a known stream and a size that is
 * exactly the rest of the payload; EXIT only for our handle and an exact
 * status; STDIN whatever it carries (a spurious wake-up only makes the
 * stdin pump try again).  Returns out->kind.
 */
enum gex_ev_kind gex_event_parse(uint64_t handle, uint16_t proc, const uint8_t *payload,
				 uint32_t len, struct gex_ev *out);

/* The exit status the tool ends with for a final status: 124 if the guest
 * timed the command out, 128+N for signal N (125 if N is not a signal),
 * the code if it is 0..255, else 125. */
int gex_exit_code(const struct hrpc_gex_status *st);

#endif
