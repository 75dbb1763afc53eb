/* SPDX-License-Identifier: MIT */
/* vchan-mock.h - see vchan-mock.c: libxenvchan in process memory. */
#ifndef HOSTRPC_TESTS_VCHAN_MOCK_H
#define HOSTRPC_TESTS_VCHAN_MOCK_H

#include <stdbool.h>

/* Events sent so far, by either end of any vchan. */
unsigned long vchan_mock_events(void);
/* Is a server published at xs_path (not closed yet)? */
bool vchan_mock_published(const char *xs_path);

#endif
