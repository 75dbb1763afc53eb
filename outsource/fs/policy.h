/* SPDX-License-Identifier: MIT */
/*
 * policy.h - a guest's filesystem exports (outsource/fs), one file per
 * guest as for sockets: <fs-policy-dir>/<name>.conf, else default.conf.
 * No file, no exports: the guest gets no filesystem.
 *
 *   # comment
 *   export NAME PATH [ro] [ids=POLICY] [allow=suid,dev,xattrs]
 *   max-files N          open files and directories per export (default 4096)
 *   max-nodes N          inodes the guest holds per export (default 65536)
 *
 * NAME: 1..63 of [A-Za-z0-9._-], not "." or "..": what the guest mounts
 * (mount -t hostrpcfs NAME /mnt).  PATH: an absolute path to a directory,
 * opened when the worker starts (so it stays reachable in the sandbox).
 * ids: hostrpc/idmap.h (passthrough, squash:UID:GID, map:FROM:TO:COUNT);
 * the default is squash:65534:65534 - never the guest's root as the
 * host's.  allow: what fs-server refuses otherwise (FSS_ALLOW_*).
 *
 * Error convention: 0 or -errno with a message in `err` naming the line.
 */
#ifndef OUTSOURCE_FS_POLICY_H
#define OUTSOURCE_FS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostrpc/idmap.h"

#define FS_POLICY_EXPORTS_MAX 16
#define FS_POLICY_NAME_MAX    63
#define FS_POLICY_DEFAULT_IDS "squash:65534:65534"

struct fs_export_policy {
	char name[FS_POLICY_NAME_MAX + 1];
	char *path;              /* absolute */
	bool ro;
	char ids_spec[64];       /* as written (for listings) */
	struct hrpc_idmap ids;
	uint32_t allow;          /* FSS_ALLOW_* */
};

struct fs_policy {
	struct fs_export_policy exports[FS_POLICY_EXPORTS_MAX];
	unsigned int nexports;
	uint32_t max_files;
	uint32_t max_nodes;
};

/* Parse `text` (the file's contents; `source` names it in errors). */
int fs_policy_parse(const char *text, const char *source, struct fs_policy *p,
		    char *err, size_t errlen);
void fs_policy_clear(struct fs_policy *p);
/* The export called `name` (len bytes), or NULL. */
const struct fs_export_policy *fs_policy_find(const struct fs_policy *p, const char *name,
					       size_t len);

#endif
