/* SPDX-License-Identifier: MIT */
/*
 * location-rule.h - which of a guest's connections stay at the source when
 * it migrates (issue 14: the location table), decided per connection by
 * its peer's address, at the quiesce.
 *
 *   --keep-local SPEC   connections to SPEC move with the guest (made again
 *                       at the destination, local to it)
 *   --forward SPEC      connections to SPEC stay at the source and are
 *                       forwarded (a service only the source reaches)
 *   default             a peer on the loopback (127.0.0.0/8, ::1,
 *                       ::ffff:127.0.0.0/104) is forwarded; the rest move
 *
 * The --keep-local rules are tried first, then the --forward rules, then
 * the default.  SPEC: `loopback`, `any`, or an address with an optional
 * prefix length and port: `10.9.0.0/16`, `10.9.0.5:5432`, `fd00::/8`,
 * `[fd00::5]:5432`, `[fd00::]/8:80`.  An IPv4 rule also matches the
 * IPv4-mapped form (::ffff:a.b.c.d) of its addresses.
 */
#ifndef HOSTRPC_MIGRATE_LOCATION_RULE_H
#define HOSTRPC_MIGRATE_LOCATION_RULE_H

#include <stdbool.h>
#include <stdint.h>

#include "hostrpc/sock.h"

enum mig_loc_kind { MIG_LOC_ADDR, MIG_LOC_ANY, MIG_LOC_LOOPBACK };

struct mig_loc_rule {
	enum mig_loc_kind kind;
	uint16_t family;           /* HRPC_AF_INET / HRPC_AF_INET6 (MIG_LOC_ADDR) */
	uint8_t addr[16];
	uint8_t prefix;            /* bits */
	uint16_t port;             /* 0: any */
};

/* 0, or -EINVAL with a sentence in err. */
int mig_loc_rule_parse(const char *spec, struct mig_loc_rule *r, char *err, size_t errlen);
bool mig_loc_rule_match(const struct mig_loc_rule *r, const struct hrpc_sock_addr *peer);

/* The verdict for a connection to `peer`: true = forward (stays at the
 * source).  Rules as above; either array may be empty. */
bool mig_loc_forward(const struct mig_loc_rule *keep, unsigned nkeep,
		     const struct mig_loc_rule *fwd, unsigned nfwd,
		     const struct hrpc_sock_addr *peer);

#endif
