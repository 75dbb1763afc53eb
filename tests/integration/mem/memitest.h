/* SPDX-License-Identifier: MIT */
/*
 * memitest.h - what the memory outsourcing integration tests share: a
 * hostrpcd with a memory policy of their own, Host RPC service 18 calls
 * from a process guest, and hostrpcctl memory.
 */
#ifndef HOSTRPC_TESTS_MEMITEST_H
#define HOSTRPC_TESTS_MEMITEST_H

#include <stddef.h>
#include <stdint.h>

#include "hostrpc/hostrpc.h"
#include "itest.h"

struct memitest {
	struct itest_daemon d;
	char pol[256];            /* the policy directory */
};

/* A private policy directory whose default.conf is `conf`, and hostrpcd
 * started with --mem-policy-dir on it plus `extra` (NULL-terminated, may be
 * NULL).  0, or -errno (said as a TAP diagnostic, the daemon's log dumped). */
int memitest_start(struct memitest *m, const char *conf, const char *const *extra);
/* Stop the daemon, remove the policy directory. */
void memitest_stop(struct memitest *m);

/* One service 18 call: the host's status. */
int memitest_call(hrpc_client *c, uint16_t proc, const void *req, uint32_t len, void *rep,
		  uint32_t rep_cap);

/* `hostrpcctl [--json] memory ARGS`, its output (stderr too) in out;
 * pclose()'s status. */
int memitest_ctl(const struct memitest *m, const char *args, char *out, size_t cap);

#endif
