/* SPDX-License-Identifier: MIT */
/*
 * fuzz-runner.h - threads a fuzz harness makes once and reuses for its
 * own helpers (a peer answering HELLO, callers): under ASan a new thread's
 * set-up (its allocator cache) cost more than the input it served.  A
 * runner does one job at a time; fuzz_run_join() waits for it.  Threads
 * of the code under test are its own business.
 */
#ifndef HOSTRPC_FUZZ_RUNNER_H
#define HOSTRPC_FUZZ_RUNNER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct fuzz_runner {
	pthread_t t;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void *(*fn)(void *);
	void *arg;
	bool done;
};

static void *fuzz_runner_main(void *p)
{
	struct fuzz_runner *r = p;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		void *(*fn)(void *);
		void *arg;

		while (!r->fn)
			pthread_cond_wait(&r->cv, &r->mu);
		fn = r->fn;
		arg = r->arg;
		pthread_mutex_unlock(&r->mu);
		fn(arg);
		pthread_mutex_lock(&r->mu);
		r->fn = NULL;
		r->done = true;
		pthread_cond_broadcast(&r->cv);
	}
	return NULL;
}

/* Start n runners (from LLVMFuzzerInitialize); they live as long as the process. */
static inline void fuzz_runners_init(struct fuzz_runner *r, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		pthread_mutex_init(&r[i].mu, NULL);
		pthread_cond_init(&r[i].cv, NULL);
		r[i].done = true;
		if (pthread_create(&r[i].t, NULL, fuzz_runner_main, &r[i]))
			abort();
	}
}

/* Run fn(arg) on r; r must be idle (joined). */
static inline void fuzz_run_start(struct fuzz_runner *r, void *(*fn)(void *), void *arg)
{
	pthread_mutex_lock(&r->mu);
	r->done = false;
	r->arg = arg;
	r->fn = fn;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static inline void fuzz_run_join(struct fuzz_runner *r)
{
	pthread_mutex_lock(&r->mu);
	while (!r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

#endif /* HOSTRPC_FUZZ_RUNNER_H */
