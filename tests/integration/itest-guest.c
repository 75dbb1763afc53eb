/* SPDX-License-Identifier: MIT */
/*
 * itest-guest - a process guest for shell tests: connect to hostrpcd's guest
 * socket as NAME, make N echo calls (checked), print "ready GUEST_ID" and
 * stay connected until a signal ends it.
 *   itest-guest SOCKET NAME N
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

int main(int argc, char **argv)
{
	hrpc_client *c;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: itest-guest SOCKET NAME CALLS\n");
		return 2;
	}
	rc = itest_guest_connect(argv[1], argv[2], &c);
	if (rc == 0)
		rc = itest_echo_workload(c, 1, atoi(argv[3]), 0);
	if (rc < 0) {
		fprintf(stderr, "itest-guest %s: %s\n", argv[2], strerror(-rc));
		return 1;
	}
	printf("ready %u\n", hrpc_client_guest_id(c));
	fflush(stdout);
	for (;;)
		pause();
}
