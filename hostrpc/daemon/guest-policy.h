/* SPDX-License-Identifier: MIT */
/*
 * guest-policy.h - a guest's whole policy in one file (hostrpcd
 * --guest-policy-dir, default SYSCONFDIR/hostrpc/guests):
 * DIR/NAME.conf, else DIR/default.conf.
 *
 *   # comment
 *   [sockets]          outsource/sock/policy.h directives
 *   connect deny 10.0.0.0/8
 *   max-sockets 64
 *   [exports]          outsource/fs/policy.h directives
 *   export data /srv/guests/NAME ro
 *   [memory]           outsource/mem/outsource-mem.h keys
 *   region-mib=1024
 *
 * Each body is parsed by its service's own parser, given the whole file
 * with every other line blanked (and, for [memory], its GKeyFile group
 * line kept), so an error names this file and its real line.  A guest
 * whose file exists gets from it all three: a missing section is that
 * service's built-in default (the built-in socket rules, no exports, no
 * memory), and the per-service directories (--sock-policy-dir,
 * --fs-policy-dir, --mem-policy-dir) are not looked at.  A guest without
 * such a file gets the per-service directories, as before there was one.
 * A file with no section at all (only comments: the installed sample)
 * counts as no file, so installing it changes nothing.
 *
 * There is no [migration]: no migration setting is per guest (the
 * migration key and addresses are the daemon's).
 *
 * Read by the worker before it confines itself (services.c), and by
 * hostrpcd --check-config --guest=NAME.
 *
 * Error convention: gboolean + GError (GLib layer).
 */
#ifndef HOSTRPCD_GUEST_POLICY_H
#define HOSTRPCD_GUEST_POLICY_H

#include <stdio.h>

#include <glib.h>

typedef enum {
	HRPCD_GUEST_SOCKETS,
	HRPCD_GUEST_EXPORTS,
	HRPCD_GUEST_MEMORY,
	HRPCD_GUEST_NSECTIONS
} HrpcdGuestSection;

typedef struct {
	char *path;      /* the file that applies; NULL: none (per-service dirs) */
	char *skipped;   /* a file that is there but has no section; NULL: none */
	/* Per section: the file's text with every line not of that section
	 * blanked (line numbers kept); NULL: the file has no such section. */
	char *text[HRPCD_GUEST_NSECTIONS];
} HrpcdGuestPolicy;

/* "sockets", "exports", "memory". */
const char *hrpcd_guest_section_name(HrpcdGuestSection s);

/* Find and split the file of guest `name` in `dir` (NULL: the default).
 * No file: TRUE with gp->path NULL.  A file that cannot be read, a line
 * outside a section, an unknown or repeated section: FALSE, the error
 * naming the file and line.  Sections' bodies are not parsed here (the
 * services do, hrpcd_guest_policy_print() too). */
gboolean hrpcd_guest_policy_load(HrpcdGuestPolicy *gp, const char *dir, const char *name,
				 GError **error);
/* The same for `text` said to come from `path`. */
gboolean hrpcd_guest_policy_split(HrpcdGuestPolicy *gp, const char *path, const char *text,
				  GError **error);
void hrpcd_guest_policy_clear(HrpcdGuestPolicy *gp);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HrpcdGuestPolicy, hrpcd_guest_policy_clear)

/* The policy dirs of the daemon, as the supervisor hands them to workers
 * (NULL: each one's default). */
typedef struct {
	const char *guest_dir;
	const char *sock_dir;
	const char *fs_dir;
	const char *mem_dir;
} HrpcdPolicyDirs;

/* hostrpcd --check-config --guest=NAME: which file applies to guest `name`
 * for each service and its effective policy, parsed by the service's own
 * parser and printed in its own syntax (sockets: sock_policy_print(), as
 * hostrpcctl sockets shows it).  FALSE with the parser's error. */
gboolean hrpcd_guest_policy_print(FILE *f, const HrpcdPolicyDirs *dirs, const char *name,
				  GError **error);

#endif /* HOSTRPCD_GUEST_POLICY_H */
