/* minik8s etcd: an etcd v3 client over etcd's HTTP/JSON gateway (the grpc-gateway
 * that etcd 3.4 serves beside gRPC on its client URLs: POST /v3/kv/range, /v3/kv/put,
 * /v3/kv/deleterange, /v3/kv/txn, /v3/kv/compaction, /v3/watch, /v3/lease/...).
 * Keys and values travel base64-encoded in JSON, int64 fields as decimal strings.
 *
 * A client holds a list of endpoints (client URLs of the members of one cluster) and
 * sends each request to the current one; on a connection error it fails over to the
 * next and stays there. Reads also fail over when a member answers Unavailable;
 * writes only when the request cannot have been applied (no connection, or
 * "etcdserver: no leader"), so a write is never sent twice. TLS with a CA file and a
 * client certificate (etcd's --client-cert-auth) for https:// endpoints.
 *
 * Thread-safe: any number of threads may share a client (each request takes a
 * connection of its own from a pool; connections are kept alive).
 *
 * Error codes (struct mk_error.code): ENOENT key or lease not found, EEXIST create
 * of an existing key, ESTALE compare-and-swap conflict (mod_revision differs),
 * ERANGE revision compacted (HTTP 410 Gone for the API), EOVERFLOW revision in the
 * future, EINVAL bad argument, ECONNREFUSED no endpoint reachable, ETIMEDOUT,
 * ECANCELED watch canceled, EMSGSIZE response too large, EIO any other failure.
 */
#ifndef MINIK8S_ETCD_H
#define MINIK8S_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "minik8s/util.h"

struct mk_etcd;

struct mk_etcd_options {
	/* NULL-terminated list of client URLs ("http://127.0.0.1:2379"); borrowed */
	const char *const *endpoints;
	/* TLS (https:// endpoints): CA bundle that signed the members' certificates
	 * (NULL: the system's), client certificate and key (PEM; NULL: none) */
	const char *cafile, *certfile, *keyfile;
	long timeout_ms;	/* per request; 0: 10 s */
	long connect_timeout_ms; /* per endpoint attempt; 0: 2 s */
};

/* Splits a comma-separated endpoint list ("http://a:2379,http://b:2379") into a
 * NULL-terminated vector (owned; mk_strv_free). EINVAL for an empty list or an
 * endpoint that is not http:// or https://. */
int mk_etcd_endpoints_parse(const char *list, char ***ret, struct mk_error **err);

/* A client; no connection is made yet. *ret owned (mk_etcd_free). */
int mk_etcd_new(const struct mk_etcd_options *opts, struct mk_etcd **ret,
		struct mk_error **err);
void mk_etcd_free(struct mk_etcd *c); /* accepts NULL; watches must be freed before */
/* The endpoint requests currently go to (borrowed, valid until mk_etcd_free). */
const char *mk_etcd_endpoint_current(struct mk_etcd *c);

/* One key-value pair as etcd stores it. key and value are owned, NUL-terminated
 * (value may hold NUL bytes: value_len is its length). */
struct mk_etcd_kv {
	char *key;
	size_t key_len;
	char *value;
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};
void mk_etcd_kv_release(struct mk_etcd_kv *kv); /* frees the strings; zeroes kv */

/* The range end that selects every key starting with prefix (etcd's
 * GetPrefixRangeEnd: the prefix with its last byte that is not 0xff incremented).
 * Owned. "" (etcd's "\0": every key >= key) when prefix is all 0xff or empty. */
char *mk_etcd_prefix_end(const char *prefix);

struct mk_etcd_range_options {
	/* NULL: key alone; "": every key >= key; else [key, range_end) */
	const char *range_end;
	int64_t revision;	/* 0: the newest; else the keyspace at that revision */
	int64_t limit;		/* 0: no limit; else at most limit kvs and more set */
	bool keys_only, count_only;
	bool serializable;	/* answer from the member's local state (no quorum read) */
};

struct mk_etcd_range {
	struct mk_etcd_kv *kvs;	/* sorted by key; owned */
	size_t n;
	bool more;		/* limit cut the range: more keys follow the last one */
	int64_t count;		/* keys in the whole range (not only the kvs returned) */
	int64_t revision;	/* the store revision the answer is consistent with */
};
void mk_etcd_range_release(struct mk_etcd_range *r); /* accepts zeroed */

/* Reads a range. opts may be NULL (the key alone, newest). ERANGE when revision
 * is compacted, EOVERFLOW when it is in the future. *ret filled on success. */
int mk_etcd_range(struct mk_etcd *c, const char *key,
		  const struct mk_etcd_range_options *opts, struct mk_etcd_range *ret,
		  struct mk_error **err);
/* One key at the newest revision: ENOENT when absent. *ret_kv (if not NULL)
 * filled; *ret_revision (if not NULL) the store revision. */
int mk_etcd_get(struct mk_etcd *c, const char *key, struct mk_etcd_kv *ret_kv,
		int64_t *ret_revision, struct mk_error **err);

/* Writes key = value (value_len bytes) unconditionally, attached to lease (0:
 * none). *ret_revision (if not NULL): the revision of the write. */
int mk_etcd_put(struct mk_etcd *c, const char *key, const void *value, size_t value_len,
		int64_t lease, int64_t *ret_revision, struct mk_error **err);

/* Deletes [key, range_end) (range_end as in mk_etcd_range_options). *ret_deleted
 * (if not NULL): how many keys were deleted (0 is success); *ret_revision (if not
 * NULL): the store revision after it. */
int mk_etcd_delete_range(struct mk_etcd *c, const char *key, const char *range_end,
			 int64_t *ret_deleted, int64_t *ret_revision, struct mk_error **err);

/* ---- transactions ------------------------------------------------------------ */

enum mk_etcd_cmp_target {
	MK_ETCD_CMP_VERSION, MK_ETCD_CMP_CREATE, MK_ETCD_CMP_MOD, MK_ETCD_CMP_VALUE,
	MK_ETCD_CMP_LEASE
};
enum mk_etcd_cmp_result {
	MK_ETCD_CMP_EQUAL, MK_ETCD_CMP_GREATER, MK_ETCD_CMP_LESS, MK_ETCD_CMP_NOT_EQUAL
};
/* One comparison: target of key (result) number, or value for MK_ETCD_CMP_VALUE. */
struct mk_etcd_compare {
	const char *key;
	enum mk_etcd_cmp_target target;
	enum mk_etcd_cmp_result result;
	int64_t number;		/* version, create/mod revision or lease */
	const void *value;	/* MK_ETCD_CMP_VALUE */
	size_t value_len;
};

enum mk_etcd_op_type { MK_ETCD_OP_RANGE, MK_ETCD_OP_PUT, MK_ETCD_OP_DELETE };
struct mk_etcd_op {
	enum mk_etcd_op_type type;
	const char *key;
	const char *range_end;	/* RANGE, DELETE: as in mk_etcd_range_options */
	const void *value;	/* PUT */
	size_t value_len;
	int64_t lease;		/* PUT */
	bool prev_kv;		/* PUT, DELETE: return the previous pair(s) */
	int64_t limit;		/* RANGE */
};

struct mk_etcd_op_result {
	enum mk_etcd_op_type type;
	/* RANGE: the pairs read; PUT, DELETE with prev_kv: the previous pair(s) */
	struct mk_etcd_range range;
	int64_t deleted;	/* DELETE */
};

struct mk_etcd_txn {
	bool succeeded;		/* every compare held: the success ops ran */
	int64_t revision;	/* the store revision after the transaction */
	struct mk_etcd_op_result *results; /* one per op of the branch that ran */
	size_t n;
};
void mk_etcd_txn_release(struct mk_etcd_txn *t); /* accepts zeroed */

/* If every compare holds, runs the success ops, else the failure ops, atomically.
 * A failed compare is not an error (ret->succeeded == false). */
int mk_etcd_txn(struct mk_etcd *c, const struct mk_etcd_compare *cmp, size_t n_cmp,
		const struct mk_etcd_op *success, size_t n_success,
		const struct mk_etcd_op *failure, size_t n_failure, struct mk_etcd_txn *ret,
		struct mk_error **err);

/* Compare-and-swap writes, the way kube-apiserver's etcd3 store writes objects.
 * expect_mod_revision == 0: create (the key must not exist: EEXIST otherwise);
 * else update (ENOENT when the key is gone, ESTALE when its mod_revision differs).
 * On a conflict, *ret_current (if not NULL) is the current pair (zeroed when
 * absent). On success *ret_revision (if not NULL) is the new mod_revision. */
int mk_etcd_cas_put(struct mk_etcd *c, const char *key, const void *value,
		    size_t value_len, int64_t expect_mod_revision, int64_t lease,
		    int64_t *ret_revision, struct mk_etcd_kv *ret_current,
		    struct mk_error **err);
/* Deletes key if its mod_revision is expect_mod_revision (0: any). ENOENT when
 * absent, ESTALE on a conflict (*ret_current as above). On success *ret_prev (if
 * not NULL) is the deleted pair and *ret_revision the revision of the deletion. */
int mk_etcd_cas_delete(struct mk_etcd *c, const char *key, int64_t expect_mod_revision,
		       struct mk_etcd_kv *ret_prev, int64_t *ret_revision,
		       struct mk_etcd_kv *ret_current, struct mk_error **err);

/* Compacts the history up to revision (reads and watches at older revisions get
 * ERANGE). physical: wait until the compaction is applied to the backend. */
int mk_etcd_compact(struct mk_etcd *c, int64_t revision, bool physical,
		    struct mk_error **err);

/* ---- leases ------------------------------------------------------------------ */

/* Grants a lease of ttl_s seconds. *ret_id the lease id, *ret_ttl (if not NULL)
 * the TTL etcd granted (it may raise small TTLs to its minimum). */
int mk_etcd_lease_grant(struct mk_etcd *c, int64_t ttl_s, int64_t *ret_id,
			int64_t *ret_ttl, struct mk_error **err);
/* Renews the lease once; *ret_ttl (if not NULL) its new TTL. ENOENT if expired or
 * revoked. */
int mk_etcd_lease_keepalive(struct mk_etcd *c, int64_t id, int64_t *ret_ttl,
			    struct mk_error **err);
/* Revokes the lease: the keys attached to it are deleted. ENOENT if unknown. */
int mk_etcd_lease_revoke(struct mk_etcd *c, int64_t id, struct mk_error **err);
/* Remaining TTL in seconds; ENOENT if expired or revoked. */
int mk_etcd_lease_ttl(struct mk_etcd *c, int64_t id, int64_t *ret_ttl,
		      struct mk_error **err);

/* ---- watch ------------------------------------------------------------------- */

enum mk_etcd_event_type { MK_ETCD_EVENT_PUT, MK_ETCD_EVENT_DELETE };
struct mk_etcd_event {
	enum mk_etcd_event_type type;
	struct mk_etcd_kv kv;		/* DELETE: key and mod_revision (the deletion's) */
	struct mk_etcd_kv prev_kv;	/* with MK_ETCD_WATCH_PREV_KV; zeroed when none */
};

struct mk_etcd_watch_batch {
	struct mk_etcd_event *events;	/* in revision order; owned */
	size_t n;			/* 0: a progress notification */
	int64_t revision;		/* the store revision when etcd sent it */
};
void mk_etcd_watch_batch_release(struct mk_etcd_watch_batch *b); /* accepts zeroed */

enum {
	MK_ETCD_WATCH_PREV_KV = 1 << 0,		/* events carry the pair before */
	MK_ETCD_WATCH_PROGRESS = 1 << 1,	/* etcd's periodic progress notices */
};

struct mk_etcd_watch;
/* Watches [key, range_end) (range_end as in mk_etcd_range_options) for changes at
 * revisions >= start_revision (0: from the next one). Returns once etcd has
 * created the watch. *ret owned (mk_etcd_watch_free). One connection per watch;
 * when it breaks, the watch is resumed on the next endpoint from the revision
 * after the last one delivered, so no event is lost or repeated. */
int mk_etcd_watch_new(struct mk_etcd *c, const char *key, const char *range_end,
		      int64_t start_revision, unsigned flags, struct mk_etcd_watch **ret,
		      struct mk_error **err);
/* Waits up to timeout_ms (-1: no limit) for the next batch of events. Returns 1
 * with *ret filled (mk_etcd_watch_batch_release), 0 on timeout, -1 on error:
 * ERANGE when the start revision was compacted (mk_etcd_watch_compact_revision
 * tells the oldest one left), ECANCELED after mk_etcd_watch_cancel, ECONNREFUSED
 * when no endpoint takes the watch back. The watch is over after an error. */
int mk_etcd_watch_next(struct mk_etcd_watch *w, int timeout_ms,
		       struct mk_etcd_watch_batch *ret, struct mk_error **err);
/* Makes a mk_etcd_watch_next blocked in another thread return ECANCELED.
 * Thread-safe; the watch must still be alive. */
void mk_etcd_watch_cancel(struct mk_etcd_watch *w);
/* After ERANGE: etcd's compact revision (watch again from it after a new list). */
int64_t mk_etcd_watch_compact_revision(const struct mk_etcd_watch *w);
void mk_etcd_watch_free(struct mk_etcd_watch *w); /* accepts NULL */

/* ---- reading a whole range ------------------------------------------------------ */

/* Every pair of [key, range_end) (range_end as in mk_etcd_range_options) at one
 * revision (0: the newest), read in pages of page_size (0: 500) pairs, each page at
 * the first one's revision, as kube-apiserver's paged lists: *ret holds them all,
 * ret->revision the revision they are consistent with. Keys must hold no NUL byte. */
int mk_etcd_range_all(struct mk_etcd *c, const char *key, const char *range_end,
		      int64_t revision, int64_t page_size, struct mk_etcd_range *ret,
		      struct mk_error **err);

/* One step of kube-apiserver's compactor (pkg/storage/etcd3/compact.go), safe with
 * several servers on one etcd: a txn on the version of key (its "logical clock")
 * elects the one server that compacts in an interval; it compacts to the revision it
 * saw at its previous step. Call it every interval with the same *clock and *rev
 * (both 0 at the start); *ret_compacted (if not NULL) is the revision compacted to
 * in this step (0: none). */
int mk_etcd_compact_step(struct mk_etcd *c, const char *key, int64_t *clock, int64_t *rev,
			 int64_t *ret_compacted, struct mk_error **err);

/* ---- the registry: Kubernetes objects laid out as kube-apiserver does --------------- */

/* The key of an object: PREFIX/PATH/NS/NAME (namespaced) or PREFIX/PATH/NAME, PATH
 * the resource's path in kube-apiserver's layout (nodes: minions, services:
 * services/specs, endpoints: services/endpoints, ingresses: ingress, custom
 * resources "plural.group": group/plural, others their name). name NULL: the
 * collection's prefix (ending in '/') in namespace ns, or of every namespace when
 * ns is NULL too. prefix is kube-apiserver's --etcd-prefix ("/registry"). Owned. */
char *mk_etcd_registry_key(const char *prefix, const char *resource, const char *ns,
			   const char *name);
/* The reverse: resource, ns ("" for a cluster-scoped object) and name of key
 * (owned). EINVAL when key is not an object's key under prefix. */
int mk_etcd_registry_key_parse(const char *prefix, const char *key, char **ret_resource,
			       char **ret_ns, char **ret_name, struct mk_error **err);

/* The stored form of an object: its JSON without metadata.resourceVersion (the
 * revision is the key's mod_revision, as in kube-apiserver). Owned; EINVAL when json
 * is not a JSON object. */
int mk_etcd_object_encode(const char *json, size_t len, char **ret, size_t *ret_len,
			  struct mk_error **err);
/* The served form: the stored value with metadata.resourceVersion = rv (decimal
 * string). Owned; EIO when value is not a JSON object. */
int mk_etcd_object_decode(const char *value, size_t len, int64_t rv, char **ret,
			  struct mk_error **err);

enum mk_etcd_object_event_type {
	MK_ETCD_OBJECT_ADDED = 1, MK_ETCD_OBJECT_MODIFIED, MK_ETCD_OBJECT_DELETED
};
/* A change of an object as a Kubernetes watch tells it. */
struct mk_etcd_object_event {
	enum mk_etcd_object_event_type type;
	int64_t rv;			/* the change's revision */
	char *resource, *ns, *name;
	char *json;	/* the object after the change (DELETED: its last state), with
			 * metadata.resourceVersion = rv */
	char *old_json; /* MODIFIED with the previous pair: the object before, at its
			 * own revision; else NULL */
};
void mk_etcd_object_event_release(struct mk_etcd_object_event *ev); /* accepts zeroed */
/* Translates one event of a watch on prefix (MK_ETCD_WATCH_PREV_KV: a DELETE needs
 * the previous pair) into *ret: ADDED when the key was created by this change,
 * MODIFIED otherwise, DELETED for a delete. EINVAL for a key outside the registry
 * or a DELETE without its previous pair. */
int mk_etcd_object_event_from(const char *prefix, const struct mk_etcd_event *ev,
			      struct mk_etcd_object_event *ret, struct mk_error **err);

/* Maintenance (pkg/etcd/maintenance.c): streams the v3 snapshot of the current
 * endpoint's member (its backend database followed by etcd's SHA-256 of it, what
 * `etcdctl snapshot save` writes and `etcdctl snapshot restore` reads) to fd, and
 * checks that SHA-256. *ret_size: the bytes written. No failover during the
 * stream: any failure is an error (the caller removes what fd holds). */
int mk_etcd_snapshot(struct mk_etcd *c, int fd, uint64_t *ret_size, struct mk_error **err);

#endif
