/* SPDX-License-Identifier: MIT */
/*
 * tap.h - minimal TAP producer for the autotest suite.
 * Each test program is standalone: plan, ok/not ok lines, exit status.
 * tap_skip_all() prints the reason and exits 77 (tests/tap-run maps it).
 *
 * The plan comes first: tap_plan(N) with a fixed N before the first check,
 * so a test that stops early is seen to have run too few (a plan printed
 * at the end from tap_n would agree with whatever ran).  A check that
 * cannot run here is not an in-plan "ok N # SKIP": tests/tap-run fails
 * those under HOSTRPC_REQUIRE_ALL=1 as it fails tap_skip_all(); CI
 * provides the prerequisites.
 */
#ifndef HOSTRPC_TESTS_TAP_H
#define HOSTRPC_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

static inline void tap_plan(int n)
{
	printf("1..%d\n", n);
	fflush(stdout);
}

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 1, 2)))
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

__attribute__((noreturn, format(printf, 1, 2)))
static inline void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(77);
}

static inline int tap_done(void)
{
	return tap_failed ? 1 : 0;
}

#endif
