/* SPDX-License-Identifier: MIT */
/*
 * hostrpc-sockets - list a guest's effective socket policy (source, rules in
 * the order tried) and outsourced sockets: handle, family, type, state, local
 * and peer address, bytes each way, age; with --json one JSON object
 * (totals, "sockets", "policy").  Reads the listing the guest's hostrpcd
 * worker refreshes once a second in <state-dir>/sock-audit/<name>.sockets.
 *
 * usage: hostrpc-sockets [--json] [--state-dir DIR] NAME
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/hostrpc"

int main(int argc, char **argv)
{
	const char *dir = DEFAULT_STATE_DIR, *name = NULL;
	char path[4096], buf[65536];
	int json = 0;
	struct stat st;
	size_t n;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strncmp(argv[i], "--state-dir=", 12))
			dir = argv[i] + 12;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else {
			fprintf(stderr, "usage: hostrpc-sockets [--json] [--state-dir DIR] NAME\n");
			return 2;
		}
	}
	if (!name || strchr(name, '/')) {
		fprintf(stderr, "usage: hostrpc-sockets [--json] [--state-dir DIR] NAME\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/sock-audit/%s.sockets%s", dir, name, json ? ".json" : "");
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "hostrpc-sockets: no socket listing for guest \"%s\" (%s: %s); is its "
			"worker running?\n", name, path, strerror(errno));
		return 1;
	}
	if (!fstat(fileno(f), &st) && time(NULL) - st.st_mtime > 5 && !json)
		fprintf(stderr, "hostrpc-sockets: listing is %ld s old\n",
			(long)(time(NULL) - st.st_mtime));
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}
