/* Private parts of the store package, shared by store.c (open, close, reads),
 * commit.c (the committer thread and the write calls) and watch.c (event ring and
 * watches).
 *
 * Threads and locks:
 *  - q_lock guards the write queue; callers enqueue a struct store_req and sleep on
 *    their own condition variable until the committer marks it done.
 *  - The committer thread alone uses wdb and its statements.
 *  - ev_lock guards rev, the event ring, closing and every watch's position;
 *    ev_cond (CLOCK_MONOTONIC) is broadcast after each group commit, on watch cancel
 *    and on close.
 *  - pool_lock guards the idle read connections.
 *
 * Event retention: the events table keeps at least the last `window` events
 * (rows with rv <= rev - window are deleted by the committer in batches). Only the
 * newest min(window, MK_STORE_RING_MAX) events are kept in memory; a watcher that
 * resumes from, or lags behind, older revisions reads them from the events table.
 * That bounds memory (a 100000-event window of 2 KiB pods would be ~200 MiB) while
 * watchers that keep up never touch SQLite.
 *
 * Lifetime: struct mk_store is reference counted (the handle plus one per watch) so
 * a watch freed after mk_store_free does not touch freed memory. */
#ifndef MINIK8S_STORE_INTERNAL_H
#define MINIK8S_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include "minik8s/store.h"

#define MK_STORE_DEFAULT_WINDOW 100000
#define MK_STORE_RING_MAX 8192	  /* events kept in memory */
#define MK_STORE_BATCH_MAX 1024	  /* requests per group commit */
#define MK_STORE_POOL_MAX 32	  /* idle read connections kept open */
#define MK_STORE_COMPACT_MAX 1024 /* events deleted per compaction step (at most) */
#define MK_STORE_DB_FETCH 256	  /* events read per query by a lagging watcher */

enum store_op { STORE_OP_CREATE, STORE_OP_UPDATE, STORE_OP_DELETE };

struct store_req {
	enum store_op op;
	const char *resource, *ns, *name;
	uint64_t expect_rv;
	/* create/update: the object serialised with the placeholder at ph_off */
	const char *json;
	size_t json_len, ph_off, ph_len;

	/* results, written by the committer before done is set */
	int done;
	int code; /* 0 or errno-like */
	char *msg;
	uint64_t rv;
	struct mk_store_event *ev; /* one reference owned by the caller */

	pthread_cond_t cond;
	struct store_req *next;
};

struct store_rconn {
	sqlite3 *db;
	sqlite3_stmt *get, *list_ns, *list_all, *rev, *events, *begin, *end;
};

struct mk_store {
	int refs; /* atomic */
	char *path;
	char *tmp_dir; /* ":memory:" stores live in a private temp dir */
	int durable;
	size_t window;
	char placeholder[48];
	/* encryption at rest (seal.c) */
	bool has_key;
	unsigned char key[MK_STORE_KEY_LEN];
	char **encrypt;
	size_t n_encrypt;

	/* committer (only its thread touches wdb and the statements) */
	sqlite3 *wdb;
	sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_savepoint, *st_release,
		*st_rollback_to, *st_get, *st_insert, *st_update, *st_delete, *st_event,
		*st_meta, *st_compact;
	uint64_t committed; /* last committed revision (committer's copy) */
	uint64_t compacted; /* events with rv <= compacted are gone from the table */
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
	int closing;

	/* background WAL checkpoints (checkpoint.c) */
	sqlite3 *ckpt_db;
	pthread_t ckpt_thread;
	int ckpt_started, ckpt_wanted, ckpt_stop;
	pthread_mutex_t ckpt_lock;
	pthread_cond_t ckpt_cond;

	/* read connections */
	pthread_mutex_t pool_lock;
	struct store_rconn *pool[MK_STORE_POOL_MAX];
	size_t npool;
	int pool_closed;
};

/* store.c */
void store_unref(struct mk_store *s);
int store_rconn_get(struct mk_store *s, struct store_rconn **ret, struct mk_error **err);
void store_rconn_put(struct mk_store *s, struct store_rconn *c);
int store_sqlite_error(struct mk_error **err, sqlite3 *db, const char *what);
char *store_key(const char *resource, const char *ns, const char *name);

/* seal.c: sealed copy of json to store (owned), or NULL to store json itself */
bool store_seals(const struct mk_store *s, const char *resource);
char *store_seal(const struct mk_store *s, const char *resource, const char *ns, const char *name,
		 const char *json);
/* *ret: the plain JSON of a stored row (owned); -1 if it cannot be opened */
int store_unseal(const struct mk_store *s, const char *resource, const char *ns, const char *name,
		 const char *text, char **ret, struct mk_error **err);

/* commit.c */
int store_committer_start(struct mk_store *s, struct mk_error **err);
void store_committer_stop(struct mk_store *s);

/* checkpoint.c: start after the writer connection is set up; stop before it closes */
int store_checkpointer_start(struct mk_store *s, struct mk_error **err);
void store_checkpointer_stop(struct mk_store *s);

/* watch.c */
struct mk_store_event *store_event_new(uint64_t rv, enum mk_store_event_type type,
				       const char *resource, const char *ns,
				       const char *name, char *json /* moved */);
struct mk_store_event *store_event_ref(struct mk_store_event *ev);
/* Appends events rv = s->rev + 1 ... (consecutive) to the ring and wakes watchers.
 * Takes ev_lock. */
void store_events_publish(struct mk_store *s, struct mk_store_event **evs, size_t n);
/* Loads the newest events from the table into the ring (at open). */
int store_events_load(struct mk_store *s, struct mk_error **err);
void store_events_release(struct mk_store *s);

#endif
