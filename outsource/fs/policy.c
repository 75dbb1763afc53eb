/* SPDX-License-Identifier: MIT */
/* policy.c - a guest's filesystem exports (policy.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-server/server.h"
#include "outsource/fs/policy.h"

__attribute__((format(printf, 5, 6)))
static int fail(char *err, size_t errlen, const char *source, unsigned int line,
		const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%u: %s", source, line, msg);
	return -EINVAL;
}

static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > FS_POLICY_NAME_MAX || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max || s[0] == '-')
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_allow(const char *list, uint32_t *out)
{
	char buf[128], *save = NULL;

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	*out = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "suid"))
			*out |= FSS_ALLOW_SUID;
		else if (!strcmp(t, "dev"))
			*out |= FSS_ALLOW_DEV;
		else if (!strcmp(t, "xattrs"))
			*out |= FSS_ALLOW_PRIV_XATTRS;
		else
			return -EINVAL;
	}
	return 0;
}

static int parse_export(char **tok, int ntok, const char *source, unsigned int line,
			struct fs_policy *p, char *err, size_t errlen)
{
	struct fs_export_policy *e;
	char ierr[128];

	if (ntok < 3)
		return fail(err, errlen, source, line, "usage: export NAME PATH [ro] [ids=POLICY] "
			    "[allow=suid,dev,xattrs]");
	if (!name_ok(tok[1]))
		return fail(err, errlen, source, line, "bad export name '%s' (1..%d of A-Z a-z 0-9 . _ -)",
			    tok[1], FS_POLICY_NAME_MAX);
	if (fs_policy_find(p, tok[1], strlen(tok[1])))
		return fail(err, errlen, source, line, "export '%s' named twice", tok[1]);
	if (tok[2][0] != '/' || strlen(tok[2]) >= PATH_MAX)
		return fail(err, errlen, source, line, "export path '%s' is not absolute", tok[2]);
	if (p->nexports == FS_POLICY_EXPORTS_MAX)
		return fail(err, errlen, source, line, "more than %d exports", FS_POLICY_EXPORTS_MAX);
	e = &p->exports[p->nexports];
	memset(e, 0, sizeof(*e));
	strcpy(e->name, tok[1]);
	snprintf(e->ids_spec, sizeof(e->ids_spec), "%s", FS_POLICY_DEFAULT_IDS);
	for (int i = 3; i < ntok; i++) {
		if (!strcmp(tok[i], "ro")) {
			e->ro = true;
		} else if (!strncmp(tok[i], "ids=", 4)) {
			if (strlen(tok[i] + 4) >= sizeof(e->ids_spec))
				return fail(err, errlen, source, line, "ids= too long");
			strcpy(e->ids_spec, tok[i] + 4);
		} else if (!strncmp(tok[i], "allow=", 6)) {
			if (parse_allow(tok[i] + 6, &e->allow) < 0)
				return fail(err, errlen, source, line,
					    "bad allow= '%s' (a list of suid, dev, xattrs)", tok[i] + 6);
		} else {
			return fail(err, errlen, source, line, "unknown export option '%s'", tok[i]);
		}
	}
	if (hrpc_idmap_parse(e->ids_spec, &e->ids, ierr, sizeof(ierr)) < 0)
		return fail(err, errlen, source, line, "ids=%s: %s", e->ids_spec, ierr);
	e->path = strdup(tok[2]);
	if (!e->path)
		return -ENOMEM;
	p->nexports++;
	return 0;
}

int fs_policy_parse(const char *text, const char *source, struct fs_policy *p,
		    char *err, size_t errlen)
{
	unsigned int line = 0;
	const char *s = text;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	p->max_files = 4096;
	p->max_nodes = 65536;
	while (*s && rc == 0) {
		const char *e = strchr(s, '\n');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		char buf[PATH_MAX + 256], *tok[16], *save = NULL;
		int ntok = 0;

		line++;
		if (len >= sizeof(buf)) {
			rc = fail(err, errlen, source, line, "line too long");
			break;
		}
		memcpy(buf, s, len);
		buf[len] = 0;
		s = e ? e + 1 : s + len;
		if (strchr(buf, '#'))
			*strchr(buf, '#') = 0;
		for (char *t = strtok_r(buf, " \t\r", &save); t && ntok < 16;
		     t = strtok_r(NULL, " \t\r", &save))
			tok[ntok++] = t;
		if (ntok == 0)
			continue;
		if (!strcmp(tok[0], "export")) {
			rc = parse_export(tok, ntok, source, line, p, err, errlen);
		} else if (!strcmp(tok[0], "max-files") || !strcmp(tok[0], "max-nodes")) {
			uint32_t *v = tok[0][4] == 'f' ? &p->max_files : &p->max_nodes;

			if (ntok != 2 || parse_u32(tok[1], 1, (1u << 24) - 1, v) < 0)
				rc = fail(err, errlen, source, line, "usage: %s N (1..%u)", tok[0],
					  (1u << 24) - 1);
		} else {
			rc = fail(err, errlen, source, line, "unknown directive '%s'", tok[0]);
		}
	}
	if (rc < 0)
		fs_policy_clear(p);
	return rc;
}

void fs_policy_clear(struct fs_policy *p)
{
	for (unsigned int i = 0; i < p->nexports; i++)
		free(p->exports[i].path);
	p->nexports = 0;
}

const struct fs_export_policy *fs_policy_find(const struct fs_policy *p, const char *name,
					       size_t len)
{
	for (unsigned int i = 0; i < p->nexports; i++)
		if (strlen(p->exports[i].name) == len && !memcmp(p->exports[i].name, name, len))
			return &p->exports[i];
	return NULL;
}
