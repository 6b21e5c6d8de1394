/* The store's backend interface: what one storage engine (SQLite, PostgreSQL, etcd)
 * provides under the engine-independent core of pkg/store.
 *
 * The core (store.c, commit.c, watch.c, seal.c) owns:
 *  - the public API of include/minik8s/store.h and its argument checks;
 *  - the write queue and the committer thread: callers serialise their object with
 *    a per-store placeholder as metadata.resourceVersion (struct store_req), the
 *    committer hands the backend batches of up to MK_STORE_BATCH_MAX requests
 *    (group commit: one durable transaction per batch where the engine allows);
 *  - the revision counter s->rev and the in-memory event ring that watchers read,
 *    resumed from the backend's event history (ops.events) when they lag behind it;
 *  - encryption at rest (store_seal / store_unseal: backends store what store_seal
 *    returns and open what they read with store_unseal);
 *  - the list filter (backends call it per item).
 *
 * Revisions: one global sequence, consecutive (every successful write takes the next
 * one and records exactly one event). A backend whose engine leaves holes in its
 * sequence must fill them before it publishes past them (see pg.c).
 *
 * A backend:
 *  - open: connects/creates its schema, sets s->be, s->committed (last committed
 *    revision) and s->compacted (events with rv <= compacted are gone).
 *  - write_batch: applies the requests in order, each one with compare-and-swap on
 *    the object's revision (q->expect_rv, 0 = any): success sets q->rv and q->ev
 *    (the event, one reference for the caller; its json is the stored object with
 *    the revision spliced in, store_splice_rv); failure sets q->code/q->msg with
 *    req_fail (ENOENT, EEXIST, ESTALE, EIO). One request failing must not fail the
 *    others. Runs on the committer thread only. After the commit the backend makes
 *    the events visible to watchers: either at once (store_events_publish with the
 *    batch's events, in revision order; flag publishes_on_commit) or from a feed of
 *    its own (a thread that reads the engine's history, which also sees the writes of
 *    other servers on a shared datastore); then the core makes each writer wait
 *    until s->rev has reached its revision before it returns, so a write is visible
 *    to watches and to mk_store_revision when the call returns.
 *  - get / list: the newest committed state; list returns the items and the revision
 *    they are consistent with (a watch from that revision misses nothing and repeats
 *    nothing).
 *  - events: the recorded events after revision `after` and below `below`, at most
 *    max, oldest first (the caller stops at the first hole: compacted).
 *  - compaction: the backend's own business (in its write transactions or a thread
 *    of its own), keeping at least the last s->window events, and it keeps
 *    s->compacted current.
 *  - start (optional): starts the backend's own threads (a feed) after the core
 *    has loaded the ring from ops.events.
 *  - close: called after the committer thread has stopped; releases everything.
 */
#ifndef MINIK8S_STORE_BACKEND_H
#define MINIK8S_STORE_BACKEND_H

#include <pthread.h>
#include "minik8s/store.h"

struct mk_store;

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

struct store_backend {
	const char *name; /* "sqlite", "postgres" */
	/* target: what follows the scheme (a file path; a libpq conninfo/URI) */
	int (*open)(struct mk_store *s, const char *target, struct mk_error **err);
	/* optional: starts the backend's threads, once the core has loaded its event
	 * ring (s->rev is the revision the backend's feed publishes after) */
	int (*start)(struct mk_store *s, struct mk_error **err);
	void (*close)(struct mk_store *s);
	void (*write_batch)(struct mk_store *s, struct store_req **reqs, size_t n);
	/* *ret_json: plain (unsealed) JSON, owned */
	int (*get)(struct mk_store *s, const char *resource, const char *ns, const char *name,
		   char **ret_json, uint64_t *ret_rv, struct mk_error **err);
	/* ns NULL: every namespace; fills *ret (items ordered by namespace, name) */
	int (*list)(struct mk_store *s, const char *resource, const char *ns,
		    mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		    struct mk_error **err);
	/* events with after < rv < below (below 0: no bound), oldest first, at most max,
	 * into out (caller's array of max); *ret_n how many */
	int (*events)(struct mk_store *s, uint64_t after, uint64_t below, size_t max,
		      struct mk_store_event **out, size_t *ret_n, struct mk_error **err);
	int publishes_on_commit;
	/* optional: list at revision rv (< the newest) from the engine's own history
	 * (ERANGE compacted, EOVERFLOW future); without it the core rolls the newest
	 * list back with ops.events (store.c, mk_store_list_at) */
	int (*list_at)(struct mk_store *s, const char *resource, const char *ns, uint64_t rv,
		       mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		       struct mk_error **err);
};

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_postgres;
extern const struct store_backend store_backend_etcd;

/* ---- core helpers for backends ------------------------------------------------ */

void req_fail(struct store_req *q, int code, char *msg /* moved */);
/* the request's JSON with the decimal revision in place of the placeholder (owned) */
char *store_splice_rv(const struct store_req *q, uint64_t rv);
/* the last state data (plain JSON) with metadata.resourceVersion = rv; NULL if not JSON */
char *store_deleted_json(const char *data, uint64_t rv);
char *store_key(const char *resource, const char *ns, const char *name);

/* seal.c: sealed copy of json to store (owned), or NULL to store json itself */
bool store_seals(const struct mk_store *s, const char *resource);
char *store_seal(const struct mk_store *s, const char *resource, const char *ns, const char *name,
		 const char *json);
/* *ret: the plain JSON of a stored row (owned); -1 if it cannot be opened */
int store_unseal(const struct mk_store *s, const char *resource, const char *ns, const char *name,
		 const char *text, char **ret, struct mk_error **err);

/* watch.c */
struct mk_store_event *store_event_new(uint64_t rv, enum mk_store_event_type type,
				       const char *resource, const char *ns,
				       const char *name, char *json /* moved */);
struct mk_store_event *store_event_ref(struct mk_store_event *ev);
/* Appends events rv = s->rev + 1 ... (consecutive) to the ring and wakes watchers.
 * Takes ev_lock. */
void store_events_publish(struct mk_store *s, struct mk_store_event **evs, size_t n);
/* For a backend with a feed whose committer also publishes its own writes: appends
 * the events of evs (in revision order) that come next after s->rev; those already
 * published and those after a hole are dropped (the feed delivers the latter).
 * Takes every reference of evs; returns how many were appended. Takes ev_lock. */
size_t store_events_publish_next(struct mk_store *s, struct mk_store_event **evs, size_t n);
/* For a feed that finds the history between s->rev and rev compacted away: empties
 * the ring and moves s->rev to rev; watchers behind rev then read the backend's
 * history (ops.events), which must refuse it (they get 410). Takes ev_lock. */
void store_events_reset(struct mk_store *s, uint64_t rev);

#endif
