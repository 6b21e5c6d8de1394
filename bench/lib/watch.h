/* Shared by the benchmarks that follow objects with watches (bench/controllers/
 * ctlbench.c, bench/daemonset/dsbench.c): a watch run on a thread of its own until
 * stopped (resumed from its last resourceVersion after each 60 s window or error),
 * and the absolute CLOCK_REALTIME deadline pthread_cond_timedwait wants.
 * Header-only: the Makefile builds every bench/<name>/<file>.c as a program of its own. */
#ifndef MINIK8S_BENCH_WATCH_H
#define MINIK8S_BENCH_WATCH_H

#include <pthread.h>
#include <time.h>
#include "minik8s/client.h"

struct bench_watch {
	struct mk_client *cli;
	const char *path;
	mk_client_watch_fn fn;
	struct mk_client_watch *w;
	pthread_t th;
};

static inline void *bench_watch_main(void *p)
{
	struct bench_watch *w = p;
	while (!mk_client_watch_cancelled(w->w)) {
		struct mk_error *err = NULL;
		mk_client_watch_run(w->cli, w->w, w->path, mk_client_watch_resource_version(w->w), 60,
				    NULL, w->fn, NULL, &err);
		mk_error_free(&err);
	}
	return NULL;
}

/* watches path (borrowed, must outlive the watch) with cli, calling fn per event */
static inline void bench_watch_start(struct bench_watch *w, struct mk_client *cli, const char *path,
				     mk_client_watch_fn fn)
{
	w->cli = cli;
	w->path = path;
	w->fn = fn;
	w->w = mk_client_watch_new();
	pthread_create(&w->th, NULL, bench_watch_main, w);
}

static inline void bench_watch_stop(struct bench_watch *w)
{
	mk_client_watch_cancel(w->w);
	pthread_join(w->th, NULL);
	mk_client_watch_free(w->w);
}

/* now + timeout_ms on CLOCK_REALTIME (pthread_cond_timedwait's default clock) */
static inline struct timespec bench_deadline(int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
