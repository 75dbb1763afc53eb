/* SPDX-License-Identifier: MIT */
/*
 * idmap.h - an id policy between a filesystem's clients and its server:
 * who the server acts as for a caller, and whose ids a client shows.
 *
 *   passthrough            ids unchanged (the default)
 *   squash:UID:GID         every caller is UID:GID at the server, without
 *                          supplementary groups
 *   map:FROM:TO:COUNT      caller ids FROM..FROM+COUNT-1 are TO..TO+COUNT-1
 *                          at the server (uids and gids alike, groups too);
 *                          a caller outside the range is the overflow id
 *                          (65534) there, an id the server reports outside
 *                          TO..TO+COUNT-1 is shown as 65534 (as in a user
 *                          namespace)
 *
 * Pure functions on a value: no state, no allocation.
 */
#ifndef HOSTRPC_IDMAP_H
#define HOSTRPC_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HRPC_IDMAP_OVERFLOW 65534u

enum hrpc_idmap_kind { HRPC_IDMAP_PASSTHROUGH, HRPC_IDMAP_SQUASH, HRPC_IDMAP_MAP };

struct hrpc_idmap {
	enum hrpc_idmap_kind kind;
	uint32_t uid, gid;             /* squash */
	uint32_t from, to, count;      /* map */
};

/* 0, or -EINVAL with a one-line reason in err. */
int hrpc_idmap_parse(const char *spec, struct hrpc_idmap *m, char *err, size_t errlen);

/* A caller's id as the server sees it.  map: false (and the overflow id)
 * when the caller is outside the range. */
bool hrpc_idmap_uid_out(const struct hrpc_idmap *m, uint32_t *uid);
bool hrpc_idmap_gid_out(const struct hrpc_idmap *m, uint32_t *gid);

/* An id the server reports, as the client shows it. */
uint32_t hrpc_idmap_uid_back(const struct hrpc_idmap *m, uint32_t uid);
uint32_t hrpc_idmap_gid_back(const struct hrpc_idmap *m, uint32_t gid);

/* The supplementary groups a caller keeps at the server: squash none, map
 * those in the range (mapped), passthrough all.  Returns the new count. */
size_t hrpc_idmap_groups_out(const struct hrpc_idmap *m, uint32_t *groups, size_t n);

#endif
