/* SPDX-License-Identifier: MIT */
/*
 * runas UID GID GROUPS PROG [ARGS...] - run PROG as UID:GID with the
 * supplementary GROUPS (comma-separated, or "-" for none).  Built static
 * for the guest image, whose busybox setpriv cannot change ids; the same
 * program runs the credential checks on the host (creds.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	gid_t groups[32];
	size_t n = 0;
	char *save = NULL;

	if (argc < 5) {
		fprintf(stderr, "usage: runas UID GID GROUPS|- PROG [ARGS...]\n");
		return 2;
	}
	if (strcmp(argv[3], "-"))
		for (char *t = strtok_r(argv[3], ",", &save); t && n < 32; t = strtok_r(NULL, ",", &save))
			groups[n++] = (gid_t)strtoul(t, NULL, 10);
	if (setgroups(n, groups) < 0 || setgid((gid_t)strtoul(argv[2], NULL, 10)) < 0 ||
	    setuid((uid_t)strtoul(argv[1], NULL, 10)) < 0) {
		fprintf(stderr, "runas: %s\n", strerror(errno));
		return 126;
	}
	execvp(argv[4], argv + 4);
	fprintf(stderr, "runas: %s: %s\n", argv[4], strerror(errno));
	return 127;
}
