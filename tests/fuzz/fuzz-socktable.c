/* SPDX-License-Identifier: MIT */
/*
 * fuzz-socktable - libFuzzer target for the destination's replay of a
 * migrating guest's socket table (outsource_sock_mig_import(),
 * include/hostrpc/sockstate.h): the input is the table as the source host
 * ships it, records and TCP images.  Whatever it says, the import makes
 * every socket or none, and the service frees all it made (in a private
 * network namespace with only loopback, as fuzz-sock).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "outsource/sock/outsource-sock.h"
#include "tests/fuzz/fuzz-netns.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int rc = private_netns();

	if (rc < 0) {
		fprintf(stderr, "fuzz-socktable: cannot make a private network namespace: %s\n",
			strerror(-rc));
		exit(77);
	}
	lo_up();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outsource_sock_config cfg = { .guest_id = 1, .guest_name = "fuzz", .audit_fd = -1,
					     .policy_text = "max-sockets 64\n" };
	outsource_sock *s = NULL;
	uint8_t *copy = malloc(size ? size : 1);
	char err[256];

	if (!copy || outsource_sock_new(&cfg, &s, err, sizeof(err)) < 0) {
		free(copy);
		return 0;
	}
	/* a private copy, as the destination reads from its receive buffer */
	memcpy(copy, data, size);
	if (outsource_sock_mig_import(s, copy, size, err, sizeof(err)) < 0) {
		/* all or nothing */
		if (outsource_sock_list(s, NULL, 0))
			abort();
	}
	outsource_sock_free(s);
	free(copy);
	return 0;
}
