/* Private parts of the store package: the engine-independent core (store.c: open,
 * close, the read calls; commit.c: the write queue and committer thread; watch.c:
 * event ring and watches; seal.c: encryption at rest) and the backends under it
 * (backend.h: the interface; sqlite.c + checkpoint.c; pg.c).
 *
 * Threads and locks:
 *  - q_lock guards the write queue; callers enqueue a struct store_req and sleep on
 *    their own condition variable until the committer marks it done.
 *  - The committer thread alone calls the backend's write_batch.
 *  - ev_lock guards rev, the event ring, closing, every watch's position and the
 *    waiter lists. A waiting watcher sleeps on its own condition variable, listed
 *    under what it wants (resource, or a hint: name or key=value); a publication
 *    signals only the lists its events can interest (watch.c), cancel signals the
 *    one watcher, close and reset all of them. ev_cond (CLOCK_MONOTONIC) is
 *    broadcast after each publication for store_wait_rev.
 *
 * Event retention: the backend keeps at least the last `window` events. Only the
 * newest min(window, MK_STORE_RING_MAX) events, and of those no more than
 * ring_bytes of text (the newest event always), are kept in memory; a watcher that
 * resumes from, or lags behind, older revisions reads them from the backend
 * (ops.events). That bounds memory (a 100000-event window of 2 KiB pods would be
 * ~200 MiB) while watchers that keep up never touch the engine.
 *
 * Lifetime: struct mk_store is reference counted (the handle plus one per watch) so
 * a watch freed after mk_store_free does not touch freed memory. */
#ifndef MINIK8S_STORE_INTERNAL_H
#define MINIK8S_STORE_INTERNAL_H

#include <pthread.h>
#include "minik8s/store.h"
#include "backend.h"

#define MK_STORE_DEFAULT_WINDOW 100000
#define MK_STORE_RING_MAX 8192	  /* events kept in memory */
/* and their text: 8192 updates of a 5 KB pod hold new and previous state, 80 MB */
#define MK_STORE_RING_BYTES (16u << 20)
#define MK_STORE_BATCH_MAX 1024	  /* requests per group commit */
#define MK_STORE_COMPACT_MAX 1024 /* events deleted per compaction step (at most) */
#define MK_STORE_DB_FETCH 256	  /* events read per query by a lagging watcher */

struct mk_store {
	int refs; /* atomic */
	int durable;
	size_t window;
	char placeholder[48];
	/* encryption at rest (seal.c) */
	bool has_key;
	unsigned char key[MK_STORE_KEY_LEN];
	char **encrypt;
	size_t n_encrypt;

	/* TLS files of the datastore connection (mk_store_options; owned) */
	char *datastore_cafile, *datastore_certfile, *datastore_keyfile;

	/* the backend (backend.h) and its private state */
	const struct store_backend *ops;
	void *be;
	int be_open;

	/* committer */
	uint64_t committed; /* last committed revision (the committer's copy) */
	uint64_t compacted; /* events with rv <= compacted are gone (atomic) */
	pthread_t committer;
	int committer_started;
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct store_req *q_head, **q_tail;
	int stopping;

	/* events */
	pthread_mutex_t ev_lock;
	pthread_cond_t ev_cond;
	uint64_t rev; /* written under ev_lock, read atomically */
	struct mk_store_event **ring;
	size_t ring_cap;
	uint64_t ring_first; /* ring holds ring_first..rev; empty if ring_first > rev */
	size_t ring_bytes, ring_bytes_max; /* text of the events in the ring, its bound */
	int closing;
	/* under ev_lock: the revision of the last write of each resource published
	 * (resource -> (void *)(uintptr_t)rv), and a floor for writes not seen one
	 * by one (those before the store opened, or skipped by a reset) */
	struct mk_hmap res_rev;
	uint64_t res_rev_floor;
	/* targeted wakeups (watch.c), under ev_lock: waiter lists by key (-> struct
	 * waitq), every waiting watcher, the text keys hinted watches use (with their
	 * counts) and the count of name-hinted watches */
	struct mk_hmap waitq;
	struct mk_store_watch *waiting;
	struct store_hint_key {
		char *key;
		size_t refs;
	} *hint_keys;
	size_t n_hint_keys, n_name_hints;
};

/* store.c */
void store_unref(struct mk_store *s);

/* commit.c */
int store_committer_start(struct mk_store *s, struct mk_error **err);
void store_committer_stop(struct mk_store *s);

/* watch.c: loads the newest events from the backend into the ring (at open) */
int store_events_load(struct mk_store *s, struct mk_error **err);
void store_events_release(struct mk_store *s);
/* Wakes every waiting watcher to look again from revision rv (close, reset).
 * Caller holds ev_lock. */
void store_watches_wake_all(struct mk_store *s, uint64_t rv);
/* Waits (bounded) until s->rev >= rv or the store closes; 0 when reached. */
int store_wait_rev(struct mk_store *s, uint64_t rv, int timeout_ms);

#endif
