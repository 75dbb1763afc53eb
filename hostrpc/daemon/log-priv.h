/* SPDX-License-Identifier: MIT */
/*
 * log-priv.h - log.c's test hooks (tests/unit/test-log-journal.c).
 */
#ifndef HOSTRPCD_LOG_PRIV_H
#define HOSTRPCD_LOG_PRIV_H

#include <glib.h>

/* The journal's native socket, instead of /run/systemd/journal/socket;
 * takes effect at the next hrpcd_log_init(). */
void hrpcd_log_set_journal_socket(const char *path);

/* Whether entries go to the journal's socket now. */
gboolean hrpcd_log_to_journal(void);

#endif /* HOSTRPCD_LOG_PRIV_H */
