/* SPDX-License-Identifier: MIT */
/*
 * idmap.c - id policies (hostrpc/idmap.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/idmap.h"

/* A decimal id, 0..2^32-2 ((uint32_t)-1 means "no change" to the kernel). */
static int parse_id(const char **p, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(*p, &end, 10);
	if (errno || v >= UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	*p = end;
	return 0;
}

int hrpc_idmap_parse(const char *spec, struct hrpc_idmap *m, char *err, size_t errlen)
{
	const char *p;

	memset(m, 0, sizeof(*m));
	if (!strcmp(spec, "passthrough")) {
		m->kind = HRPC_IDMAP_PASSTHROUGH;
		return 0;
	}
	if (!strncmp(spec, "squash:", 7)) {
		p = spec + 7;
		if (parse_id(&p, &m->uid) < 0 || *p++ != ':' || parse_id(&p, &m->gid) < 0 || *p) {
			snprintf(err, errlen, "'%s': want squash:UID:GID", spec);
			return -EINVAL;
		}
		m->kind = HRPC_IDMAP_SQUASH;
		return 0;
	}
	if (!strncmp(spec, "map:", 4)) {
		p = spec + 4;
		if (parse_id(&p, &m->from) < 0 || *p++ != ':' || parse_id(&p, &m->to) < 0 ||
		    *p++ != ':' || parse_id(&p, &m->count) < 0 || *p) {
			snprintf(err, errlen, "'%s': want map:FROM:TO:COUNT", spec);
			return -EINVAL;
		}
		if (m->count == 0 || (uint64_t)m->from + m->count > UINT32_MAX ||
		    (uint64_t)m->to + m->count > UINT32_MAX) {
			snprintf(err, errlen, "'%s': the range is empty or passes 2^32-1", spec);
			return -EINVAL;
		}
		m->kind = HRPC_IDMAP_MAP;
		return 0;
	}
	snprintf(err, errlen, "'%s': want passthrough, squash:UID:GID or map:FROM:TO:COUNT", spec);
	return -EINVAL;
}

static bool shift(uint32_t from, uint32_t to, uint32_t count, uint32_t *id)
{
	if (*id >= from && *id - from < count) {
		*id = to + (*id - from);
		return true;
	}
	*id = HRPC_IDMAP_OVERFLOW;
	return false;
}

bool hrpc_idmap_uid_out(const struct hrpc_idmap *m, uint32_t *uid)
{
	switch (m->kind) {
	case HRPC_IDMAP_SQUASH: *uid = m->uid; return true;
	case HRPC_IDMAP_MAP:    return shift(m->from, m->to, m->count, uid);
	default:                return true;
	}
}

bool hrpc_idmap_gid_out(const struct hrpc_idmap *m, uint32_t *gid)
{
	switch (m->kind) {
	case HRPC_IDMAP_SQUASH: *gid = m->gid; return true;
	case HRPC_IDMAP_MAP:    return shift(m->from, m->to, m->count, gid);
	default:                return true;
	}
}

uint32_t hrpc_idmap_uid_back(const struct hrpc_idmap *m, uint32_t uid)
{
	if (m->kind == HRPC_IDMAP_MAP)
		shift(m->to, m->from, m->count, &uid);
	return uid;
}

uint32_t hrpc_idmap_gid_back(const struct hrpc_idmap *m, uint32_t gid)
{
	return hrpc_idmap_uid_back(m, gid);   /* one range for both */
}

size_t hrpc_idmap_groups_out(const struct hrpc_idmap *m, uint32_t *groups, size_t n)
{
	size_t i, k = 0;

	if (m->kind == HRPC_IDMAP_SQUASH)
		return 0;
	for (i = 0; i < n; i++) {
		uint32_t g = groups[i];

		if (hrpc_idmap_gid_out(m, &g))
			groups[k++] = g;
	}
	return k;
}
