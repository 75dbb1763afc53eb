/* SPDX-License-Identifier: MIT */
/*
 * fuzz-fsstate - libFuzzer target for the import of a migrating guest's
 * filesystem state (fs-server/server.c fss_mig_import(), wire:
 * include/hostrpc/fsstate.h) as another host ships it.
 *
 * The input: [nnodes u8][nfiles u8][ro u8] then the records.  The tree is
 * a private directory: export/ is served, outside/ is next to it, with a
 * symlink out of the export.  After every input: a failed import made
 * nothing (no node, no file, no lock left), a successful one made exactly
 * what was asked, and no node opened resolves outside export/.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-server/server.h"
#include "hostrpc/fsstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[] = "/tmp/fuzz-fsstate-XXXXXX";
static char exp_dir[64];
static int export_fd = -1;

static void check(int ok)
{
	if (!ok)
		abort();
}

static void cleanup(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	(void)!system(cmd);
}

static void setup(void)
{
	char cmd[512];

	check(mkdtemp(top) != NULL);
	snprintf(exp_dir, sizeof(exp_dir), "%s/export", top);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/d/e %s/../outside && echo hi > %s/d/f && "
		 "echo no > %s/../outside/secret && ln -s ../outside %s/up && ln -s /etc %s/d/etc",
		 exp_dir, exp_dir, exp_dir, exp_dir, exp_dir, exp_dir);
	check(system(cmd) == 0);
	export_fd = open(exp_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	check(export_fd >= 0);
	atexit(cleanup);
}

/* Every file the server holds is beneath export/: the open-file listing
 * names each by its path. */
static void beneath(struct fss *s)
{
	struct fss_file_info *fi = malloc(sizeof(*fi));
	uint32_t pos = 0;

	check(fi != NULL);
	while (fss_file_next(s, &pos, fi))
		check(!strncmp(fi->path, exp_dir, strlen(exp_dir)));
	free(fi);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const struct fss_config cfg = { .max_nodes = 32, .max_files = 8, .handle_tag = 9 };
	struct fss *s;
	char err[256];
	int rc;

	if (export_fd < 0)
		setup();
	if (n < 3)
		return 0;
	s = fss_new(export_fd, &cfg);
	check(s != NULL);
	rc = fss_mig_import(s, d + 3, n - 3, d[0] % 40, d[1] % 12, d[2] & 1, 0, err, sizeof(err));
	if (rc < 0) {
		check(fss_node_count(s) == 0 && fss_mode(s) == -1);
		check(strlen(err) < sizeof(err));
	} else {
		check(fss_node_count(s) == d[0] % 40 && fss_mode(s) == (d[2] & 1));
		beneath(s);
	}
	fss_free(s);
	return 0;
}
