/* SPDX-License-Identifier: MIT */
/* spawn.c - forking helper processes with signals blocked (spawn.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "hostrpc/daemon/spawn.h"

pid_t hrpcd_spawn_fork(void)
{
	sigset_t all, old;
	pid_t pid;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		return 0;   /* still blocked: hrpcd_spawn_child_signals() */
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return pid;
}

void hrpcd_spawn_child_signals(const int *sigs, size_t n)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	for (size_t i = 0; i < n; i++)
		sigaction(sigs[i], &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
