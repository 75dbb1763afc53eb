/* SPDX-License-Identifier: MIT */
/*
 * spawn.h - forking the daemon's helper processes (workers, the fd holder)
 * so that no signal is lost or handled by the daemon's code in the child.
 *
 * hrpcd_spawn_fork() forks with every signal blocked and restores the
 * parent's mask; the child starts with every signal still blocked.  Between
 * fork() and execve() the child calls hrpcd_spawn_child_signals() first: it
 * puts `sigs` back to their default action, then unblocks everything, so a
 * signal sent right after the fork (a SIGTERM from guest_stop()) is
 * delivered to the child with its default action instead of running the
 * daemon's handler there and being lost.
 */
#ifndef HOSTRPCD_SPAWN_H
#define HOSTRPCD_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* fork(2), with signals blocked across it.  -1 with errno set on failure. */
pid_t hrpcd_spawn_fork(void);
/* In the child, before anything else (async-signal-safe). */
void hrpcd_spawn_child_signals(const int *sigs, size_t n);

#endif /* HOSTRPCD_SPAWN_H */
