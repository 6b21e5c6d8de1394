/* minik8s controller: informers, work queues, the scheduler and the controllers
 * (replicaset, deployment, endpoints, garbage collector, namespace, node
 * lifecycle) and an event recorder.
 *
 * Everything here is an API client (DESIGN principle 2): informers list + watch
 * into a local cache and call handlers, handlers put keys on work queues, and
 * workers reconcile one key at a time against the cache (principle 3: level
 * triggered, a restart loses nothing). A change costs work proportional to the
 * change (principle 5): caches have secondary indexes (pods by node, by owner).
 *
 * Thread-safety is stated per object. Library code: nothing prints or exits.
 */
#ifndef MINIK8S_CONTROLLER_H
#define MINIK8S_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"
#include "minik8s/client.h"

/* ---- work queue (client-go workqueue semantics) ------------------------------
 * A key queued twice before a worker takes it is handed out once; a key being
 * processed (between _get and _done) is not handed to a second worker; a key
 * added while processing is handed out again after _done. _add_after delays an
 * add (timers are served by the waiting workers: no extra thread);
 * _add_rate_limited delays by base * 2^failures (capped), _forget resets the
 * failure count. Thread-safe. */

struct mk_workqueue;

/* base_delay_ms / max_delay_ms: rate limiter (0: 5 ms / 60 s). Owned result. */
struct mk_workqueue *mk_workqueue_new(unsigned base_delay_ms, unsigned max_delay_ms);
/* Frees; no thread may be inside the queue. Accepts NULL. */
void mk_workqueue_free(struct mk_workqueue *q);
void mk_workqueue_add(struct mk_workqueue *q, const char *key);		/* key copied */
void mk_workqueue_add_after(struct mk_workqueue *q, const char *key, uint64_t delay_ms);
void mk_workqueue_add_rate_limited(struct mk_workqueue *q, const char *key);
void mk_workqueue_forget(struct mk_workqueue *q, const char *key);
unsigned mk_workqueue_num_requeues(struct mk_workqueue *q, const char *key);
/* Waits up to timeout_ms (-1: until shut down) for a key. Returns 1 and *ret_key
 * (owned; pass it to _done, then free it), 0 on timeout, -1 once shut down. */
int mk_workqueue_get(struct mk_workqueue *q, int timeout_ms, char **ret_key);
void mk_workqueue_done(struct mk_workqueue *q, const char *key);
/* Wakes every waiter; later _get return -1 and _add is ignored. */
void mk_workqueue_shutdown(struct mk_workqueue *q);
/* Keys ready to be handed out (not counting delayed or processing ones). */
size_t mk_workqueue_len(struct mk_workqueue *q);

/* ---- cached objects ------------------------------------------------------------
 * Immutable, reference counted snapshots of API objects as an informer stored
 * them. The cJSON tree must not be modified (duplicate it to change it). */
struct mk_object {
	cJSON *json;	/* the object */
	char *key;	/* "ns/name", or "name" for cluster-scoped objects */
	int refs;	/* private (atomic) */
};
struct mk_object *mk_object_ref(struct mk_object *o);
void mk_object_unref(struct mk_object *o); /* accepts NULL */
/* Releases an array of refs from mk_informer_list/_by_index and the array itself. */
void mk_object_list_free(struct mk_object **objs, size_t n);

/* ---- informer ----------------------------------------------------------------
 * One thread per informer: list, then watch from the list's resourceVersion;
 * resumes a broken watch from the last seen resourceVersion, relists on 410
 * Gone or an ERROR event, retries with exponential backoff (100 ms .. 5 s) on
 * transport errors. The cache is a hash table keyed "ns/name" with optional
 * secondary indexes. Handlers run on the informer thread, without the cache
 * lock held (they may read any informer); they should only enqueue keys.
 * After a relist, objects missing from the new list are delivered as deletes. */

struct mk_informer;

/* old is NULL for adds; new is NULL for deletes. Both borrowed for the call. */
typedef void (*mk_informer_handler_fn)(const struct mk_object *old_obj,
				       const struct mk_object *new_obj, void *userdata);
/* An index function writes up to max owned values (strings) for obj into
 * values and returns how many. */
typedef int (*mk_informer_index_fn)(const cJSON *obj, char **values, int max);

/* path: collection path ("/api/v1/pods", "/apis/apps/v1/replicasets"); client
 * borrowed (must outlive the informer). Owned result. */
struct mk_informer *mk_informer_new(struct mk_client *c, const char *path);
/* Before _start only: adds a secondary index named name. */
void mk_informer_add_index(struct mk_informer *inf, const char *name, mk_informer_index_fn fn);
/* Before _start only: adds a handler (up to 8). */
void mk_informer_add_handler(struct mk_informer *inf, mk_informer_handler_fn fn, void *userdata);
int mk_informer_start(struct mk_informer *inf, struct mk_error **err);
/* Waits until the first list is in the cache. 1 synced, 0 timed out or stopped. */
int mk_informer_wait_synced(struct mk_informer *inf, int timeout_ms);
bool mk_informer_has_synced(struct mk_informer *inf);
/* Stops the thread (cancels the watch) and joins it. Idempotent. */
void mk_informer_stop(struct mk_informer *inf);
/* Stops and frees. Accepts NULL. */
void mk_informer_free(struct mk_informer *inf);

/* Thread-safe readers. Results are refs (mk_object_unref / mk_object_list_free). */
struct mk_object *mk_informer_get(struct mk_informer *inf, const char *key);
/* All objects (*ret owned array). Returns the count. */
size_t mk_informer_list(struct mk_informer *inf, struct mk_object ***ret);
/* Objects whose index name has value. Returns the count (*ret NULL when 0). */
size_t mk_informer_by_index(struct mk_informer *inf, const char *index, const char *value,
			    struct mk_object ***ret);
size_t mk_informer_index_count(struct mk_informer *inf, const char *index, const char *value);
size_t mk_informer_len(struct mk_informer *inf);
/* Puts an object the caller wrote (e.g. a create's answer) into the cache if it
 * is newer than the cached one (resourceVersion), so the next sync sees its own
 * writes; the watch event that follows is then a no-op. Handlers run as for a
 * watch event, on the caller's thread. obj borrowed. */
void mk_informer_assume(struct mk_informer *inf, const cJSON *obj);

/* "ns/name" (or "name") of an object; owned. */
char *mk_object_key(const cJSON *obj);

/* Index functions provided for common needs. */
int mk_index_namespace(const cJSON *obj, char **values, int max);   /* metadata.namespace */
int mk_index_uid(const cJSON *obj, char **values, int max);	    /* metadata.uid */
int mk_index_owner_uid(const cJSON *obj, char **values, int max);   /* every ownerReferences uid */
int mk_index_controller_uid(const cJSON *obj, char **values, int max); /* controller ref uid */
int mk_index_pod_node(const cJSON *obj, char **values, int max);    /* spec.nodeName, "" unbound */

/* ---- events ----------------------------------------------------------------
 * core/v1 Events, written asynchronously by one thread (a bounded queue:
 * beyond 1000 pending events, new ones are dropped). Repeats of the same
 * (object, type, reason, message) within the recorder's life increase count
 * and lastTimestamp of the existing Event instead of creating another. */

struct mk_event_recorder;
/* Owned result; client borrowed. */
struct mk_event_recorder *mk_event_recorder_new(struct mk_client *c);
void mk_event_recorder_free(struct mk_event_recorder *r); /* flushes what is pending */
/* component: source.component ("default-scheduler", "replicaset-controller").
 * involved borrowed (its apiVersion/kind/metadata are copied). type "Normal" or "Warning". */
void mk_event_record(struct mk_event_recorder *r, const char *component, const cJSON *involved,
		     const char *type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Waits until every recorded event has been written (or timeout). 1 done, 0 timeout. */
int mk_event_recorder_flush(struct mk_event_recorder *r, int timeout_ms);

/* ---- helpers shared by the controllers (pure) --------------------------------- */

/* Kubernetes' pod template hash: FNV-32a over the canonical (sorted keys) JSON of
 * template, plus collision_count when non-zero, rendered as the decimal value
 * mapped onto "bcdfghjklmnpqrstvwxz2456789" (at most 10 chars). out >= 11 bytes. */
void mk_controller_template_hash(const cJSON *template, uint32_t collision_count, char out[11]);
/* Resolves an IntOrString ("25%" or 3) against total; round_up picks ceil. Returns
 * the value, or -1 if malformed. NULL yields def_pct percent. */
int mk_controller_int_or_percent(const cJSON *v, int total, bool round_up, int def_pct);
/* true when the pod has condition Ready=True. */
bool mk_controller_pod_ready(const cJSON *pod);
/* The ownerReference with controller: true, or NULL (borrowed). */
const cJSON *mk_controller_ref(const cJSON *obj);
/* Writes canonical JSON (object keys sorted) into b. */
void mk_controller_canonical_json(const cJSON *v, struct mk_buf *b);

/* Parses a duration ("500ms", "3s", "5m", "1h", or plain seconds "40") into
 * milliseconds. Returns 0, or -1 (EINVAL) with *err. */
int mk_controller_parse_duration(const char *s, unsigned *ret_ms, struct mk_error **err);

/* ---- the controller manager ----------------------------------------------------- */

struct mk_controllers_options {
	/* node lifecycle: a node whose heartbeat has not changed for grace gets
	 * Ready=Unknown and the unreachable taint; after eviction_timeout more its
	 * pods are deleted. 0: 40 s / 300 s. */
	unsigned node_monitor_grace_ms;
	unsigned pod_eviction_timeout_ms;
	unsigned workers;		/* workers per controller; 0: 4 */
	bool disable_scheduler;		/* when an external scheduler binds pods */
};

struct mk_controllers;

/* Starts the informers, the scheduler and every controller on client c
 * (borrowed; must outlive the controllers). Waits (bounded, 30 s) for the
 * caches to sync. *ret owned (mk_controllers_stop). */
int mk_controllers_start(struct mk_client *c, const struct mk_controllers_options *opts,
			 struct mk_controllers **ret, struct mk_error **err);
/* Stops every thread (promptly: watches are cancelled, queues shut down) and frees.
 * Accepts NULL. */
void mk_controllers_stop(struct mk_controllers *ctl);

#endif
