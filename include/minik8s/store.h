/* minik8s store: the object store, on an embedded SQLite database (the default) or
 * on a shared datastore (see mk_store_options.endpoint; pkg/store/backend.h for the
 * backend interface).
 *
 * Objects are JSON documents keyed by (resource, namespace, name); resource is the
 * lowercase plural ("pods", "deployments"), namespace is "" for cluster-scoped
 * objects. One global revision counts every write; it is the resourceVersion that
 * clients see. Writers go through one committer thread that batches concurrent
 * writes into one durable transaction (group commit); readers use their own
 * connections (WAL), so reads never wait for writes.
 *
 * Error codes (struct mk_error.code): ENOENT not found, EEXIST already exists,
 * ESTALE resourceVersion mismatch (optimistic concurrency), ERANGE watch revision
 * older than the kept event window (HTTP 410), ECANCELED store closing, EIO storage.
 */
#ifndef MINIK8S_STORE_H
#define MINIK8S_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"

struct mk_store;

struct mk_store_options {
	/* The datastore: NULL or "" uses path; "sqlite://PATH" the SQLite file PATH;
	 * "postgres://..." / "postgresql://..." or a libpq "key=value ..." connection
	 * string a PostgreSQL database (several servers may share it). An unknown
	 * scheme fails with EINVAL.
	 * "http(s)://HOST:2379[,http(s)://HOST:2379...]": etcd v3 (pkg/store/etcd.c;
	 * several servers may share it; a path on the first URL is the key prefix,
	 * default /registry; the etcd cluster must hold this cluster's keys only). */
	const char *endpoint;
	const char *path;	/* database file; ":memory:" for tests (no durability) */
	/* TLS of the datastore connection (etcd https:// endpoints; the server's
	 * --datastore-cafile/-certfile/-keyfile): CA bundle, client certificate and
	 * key; NULL: none */
	const char *cafile, *certfile, *keyfile;
	int durable;		/* 1: synchronous=FULL (fsync per group commit); 0: NORMAL */
	size_t event_window;	/* events kept for watch resume; 0 = default (100000) */
	/* bytes of event text (new and previous states) the in-memory ring holds at
	 * most, besides its 8192 events; older events are read from the backend.
	 * 0 = default (16 MiB) */
	size_t event_ring_bytes;
	/* Encryption at rest (pkg/store/seal.c): with key set (MK_STORE_KEY_LEN bytes),
	 * the rows of the resources listed in encrypt (NULL-terminated; may be NULL) are
	 * written sealed with AES-256-GCM, and sealed rows of any resource are opened
	 * on read. Without key, reading a sealed row fails with EIO. */
	const unsigned char *key;
	const char *const *encrypt;
};

#define MK_STORE_KEY_LEN 32
/* Reads the base64 key file at path into key; when it does not exist and create is
 * set, makes one (random bytes, mode 0600). *ret_found tells whether key was set. */
int mk_store_key_load(const char *path, bool create, unsigned char key[MK_STORE_KEY_LEN],
		      bool *ret_found, struct mk_error **err);

/* Opens (creating if needed) the store. *ret owned by caller (mk_store_free). */
int mk_store_open(const struct mk_store_options *opts, struct mk_store **ret,
		  struct mk_error **err);
/* Stops the committer, wakes watchers with ECANCELED, closes. Accepts NULL.
 * All watches must be freed before. */
void mk_store_free(struct mk_store *s);

/* Current global revision (last committed write). */
uint64_t mk_store_revision(struct mk_store *s);
/* What the in-memory event ring holds now: events and bytes of their text (for
 * metrics and tests). */
void mk_store_ring_usage(struct mk_store *s, size_t *ret_events, size_t *ret_bytes);
/* The revision of the last committed write of resource (at least the revision the
 * store opened at): a cache that has applied every event up to it holds
 * resource as the store does now. */
uint64_t mk_store_resource_revision(struct mk_store *s, const char *resource);

/* Writes. obj is borrowed but mutated: its metadata.resourceVersion is set to the
 * new revision (as a decimal string) before it is serialised and stored.
 * On success *ret_json (if not NULL) is the stored JSON text (owned; free()) and
 * *ret_rv (if not NULL) the new revision. */
int mk_store_create(struct mk_store *s, const char *resource, const char *ns,
		    const char *name, cJSON *obj, char **ret_json, uint64_t *ret_rv,
		    struct mk_error **err);
/* expect_rv != 0: fail with ESTALE unless the stored object is at that revision. */
int mk_store_update(struct mk_store *s, const char *resource, const char *ns,
		    const char *name, uint64_t expect_rv, cJSON *obj, char **ret_json,
		    uint64_t *ret_rv, struct mk_error **err);
/* Deletes; *ret_json is the object's last state with metadata.resourceVersion set to
 * the revision of the deletion (what a DELETED watch event carries). */
int mk_store_delete(struct mk_store *s, const char *resource, const char *ns,
		    const char *name, uint64_t expect_rv, char **ret_json, uint64_t *ret_rv,
		    struct mk_error **err);

/* Reads. *ret_json owned by caller (free()); *ret_rv the object's revision. */
int mk_store_get(struct mk_store *s, const char *resource, const char *ns,
		 const char *name, char **ret_json, uint64_t *ret_rv, struct mk_error **err);

/* Optional list filter: return 1 to keep an item. json is the stored text. */
typedef int (*mk_store_filter_fn)(const char *json, void *userdata);

struct mk_store_list {
	char **items;	/* stored JSON texts, ordered by (namespace, name); owned */
	size_t n;
	uint64_t rv;	/* revision the list is consistent with */
};
/* Lists resource in ns (NULL or "" with all_namespaces semantics: ns == NULL means
 * every namespace). filter may be NULL. Fills *ret (release with
 * mk_store_list_release). */
int mk_store_list(struct mk_store *s, const char *resource, const char *ns,
		  mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		  struct mk_error **err);
void mk_store_list_release(struct mk_store_list *l);
/* Lists as mk_store_list, as the objects were at revision rv (kube-apiserver's
 * resourceVersion=rv with resourceVersionMatch=Exact); ret->rv = rv. rv 0: the newest
 * (mk_store_list). ERANGE when that state is compacted away (410 Gone: "too old
 * resource version"), EOVERFLOW when rv is past the store's revision. On etcd, etcd's
 * range at that revision; on SQLite and PostgreSQL the newest list rolled back through
 * the event history, so an object changed after rv must have its state at rv inside
 * the event window (else ERANGE). */
int mk_store_list_at(struct mk_store *s, const char *resource, const char *ns, uint64_t rv,
		     mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		     struct mk_error **err);

/* As mk_store_list_at, unfiltered, from cur: the newest list (mk_store_list without a
 * filter) that the caller has already read, replaced by the list at rv (rv >= cur->rv:
 * cur is kept). SQLite and PostgreSQL roll cur back rather than list again. On error
 * cur is emptied. */
int mk_store_list_at_from(struct mk_store *s, const char *resource, const char *ns,
			  uint64_t rv, struct mk_store_list *cur, struct mk_error **err);

/* ---- watch ---------------------------------------------------------------- */

enum mk_store_event_type { MK_STORE_ADDED = 1, MK_STORE_MODIFIED, MK_STORE_DELETED };

/* Immutable, reference counted. */
struct mk_store_event {
	uint64_t rv;
	enum mk_store_event_type type;
	char *resource, *ns, *name;
	char *json;	/* object after the change; for DELETED its last state */
	char *old_json;	/* MODIFIED: the object before the change when known (events
			 * of this process's lifetime); NULL otherwise */
	int refs;	/* private */
};
/* Another reference on ev (an event is immutable: its texts may be shared). */
struct mk_store_event *mk_store_event_ref(struct mk_store_event *ev);
void mk_store_event_unref(struct mk_store_event *ev);
const char *mk_store_event_type_name(enum mk_store_event_type t); /* "ADDED", ... */

struct mk_store_watch;
/* Starts a watch on events with revision > after_rv for resource (NULL: all) in ns
 * (NULL: all namespaces). Fails with ERANGE if after_rv is older than the kept
 * window. *ret owned by caller. */
int mk_store_watch_new(struct mk_store *s, const char *resource, const char *ns,
		       uint64_t after_rv, struct mk_store_watch **ret, struct mk_error **err);
/* Waits up to timeout_ms (-1: forever) for the next matching event.
 * Returns 1 with *ret_ev (caller unrefs), 0 on timeout, -1 on error: ERANGE if the
 * watcher fell out of the window, ECANCELED if the store is closing. */
int mk_store_watch_next(struct mk_store_watch *w, int timeout_ms,
			struct mk_store_event **ret_ev, struct mk_error **err);
/* Hints, given before the first mk_store_watch_next, that the caller only wants
 * objects named `name`, or whose JSON text (json, or old_json of a MODIFIED) has
 * the key "key" with the string value `value` (e.g. "nodeName", NODE for a
 * spec.nodeName=NODE field selector). The watch then returns only events that may
 * match (a superset: the caller still filters exactly) and is woken only for
 * them, not for every event of its resource. At most one hint a watch; an empty
 * value, a watch of every resource, or a second hint is ignored (no narrowing). */
void mk_store_watch_hint_name(struct mk_store_watch *w, const char *name);
void mk_store_watch_hint_key(struct mk_store_watch *w, const char *key, const char *value);
/* Wakes a watcher blocked in mk_store_watch_next (it returns ECANCELED). Thread-safe. */
void mk_store_watch_cancel(struct mk_store_watch *w);
void mk_store_watch_free(struct mk_store_watch *w); /* accepts NULL */

/* Snapshots of the SQLite store (pkg/store/snapshot.c; `minik8s etcd-snapshot`). */
struct mk_store_snapshot_info {
	uint64_t revision; /* the store's revision (what the next write follows) */
	uint64_t objects;  /* objects it holds */
	uint64_t size;	   /* bytes of the file */
};
/* Reads a SQLite store file (read-only; it must exist): EINVAL if it is not a
 * minik8s store or fails SQLite's quick_check. */
int mk_store_snapshot_inspect(const char *path, struct mk_store_snapshot_info *ret,
			      struct mk_error **err);
/* An online, consistent copy of the SQLite store db (a running server may keep
 * writing: the copy is one read transaction, SQLite's backup API) into the new file
 * path (mode 0600, fsynced; EEXIST if path exists). *ret describes the copy. */
int mk_store_snapshot_save(const char *db, const char *path, struct mk_store_snapshot_info *ret,
			   struct mk_error **err);
/* Replaces the store db by the snapshot at path. Only while no server uses db (the
 * caller holds the data dir's lock). The revision continues past both the
 * snapshot's and db's (etcdutl's --bump-revision): the next write takes a revision
 * no client has seen before; the event history is dropped (--mark-compacted), so a
 * watch or list from an older revision gets 410 Gone and lists again. *ret
 * describes the restored store. */
int mk_store_snapshot_restore(const char *path, const char *db, struct mk_store_snapshot_info *ret,
			      struct mk_error **err);

#endif
