/* minik8s client: an HTTP client for the Kubernetes API (libcurl).
 *
 * Configuration (kubeconfig or explicit server/token/CA), typed requests that
 * return the HTTP status and the parsed JSON body, errors built from Status
 * bodies, watch streams (newline-delimited JSON events, incrementally decoded,
 * cancellable, resumable by resourceVersion), and YAML <-> JSON conversion.
 *
 * Thread-safety: a struct mk_client may be shared by any number of threads;
 * each thread gets its own keep-alive curl handle (created on first use,
 * released when the thread exits or the client is freed). A struct
 * mk_client_watch is used by one thread at a time, except
 * mk_client_watch_cancel, which may be called from any thread.
 * Library code: nothing here prints or exits.
 */
#ifndef MINIK8S_CLIENT_H
#define MINIK8S_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"

/* ---- configuration -------------------------------------------------------- */

struct mk_client_config {
	char *server;		/* "https://127.0.0.1:6443", no trailing slash */
	char *token;		/* bearer token, or NULL */
	char *ca_file;		/* PEM file with the CA, or NULL */
	char *ca_data;		/* PEM bytes of the CA (kubeconfig certificate-authority-data), or NULL */
	size_t ca_data_len;
	char *client_cert_file;	/* optional client certificate (PEM) and key */
	char *client_key_file;
	bool insecure;		/* insecure-skip-tls-verify */
	char *namespace;	/* the context's namespace, or NULL */
	long timeout_ms;	/* per request (not watch) timeout; 0 = none, but a
				 * response that stalls for 60 s fails (ETIMEDOUT) */
	char *user_agent;	/* User-Agent, or NULL for "minik8s/VERSION"; its product
				 * (up to '/') names the writer in managedFields */
};

/* New config with explicit values (strings copied; any may be NULL but server).
 * Returns an owned config (mk_client_config_free). Aborts on OOM. */
struct mk_client_config *mk_client_config_new(const char *server, const char *token,
					      const char *ca_file);
/* Deep copy (owned). */
struct mk_client_config *mk_client_config_dup(const struct mk_client_config *cfg);
/* Frees cfg and its strings; accepts NULL. */
void mk_client_config_free(struct mk_client_config *cfg);

/* Loads a kubeconfig file (YAML or JSON): the context named context (or
 * current-context when context is NULL) -> its cluster's server,
 * certificate-authority-data (base64) or certificate-authority (a path,
 * relative to the kubeconfig's directory), insecure-skip-tls-verify, and its
 * user's token or tokenFile (read now), client-certificate/client-key paths,
 * and the context's namespace. *ret owned by caller. */
int mk_client_config_load_kubeconfig(const char *path, const char *context,
				     struct mk_client_config **ret, struct mk_error **err);

/* The kubeconfig path kubectl would use: explicit (if non-NULL and non-empty),
 * else the first entry of $KUBECONFIG, else /etc/minik8s/kubeconfig if it
 * exists, else ~/.kube/config. Returns an owned string. */
char *mk_client_kubeconfig_path(const char *explicit_path);

/* ---- client and requests --------------------------------------------------- */

struct mk_client;

/* New client for cfg (copied). *ret owned (mk_client_free). */
int mk_client_new(const struct mk_client_config *cfg, struct mk_client **ret,
		  struct mk_error **err);
/* Frees the client. No request or watch may be running on it. Accepts NULL. */
void mk_client_free(struct mk_client *c);
/* Several servers: cfg->server may be a comma-separated list "URL[,URL...]" (the
 * API servers of one cluster on a shared datastore). Requests go to one of them;
 * on a transport error (no connection, reset, timeout) the client moves to the
 * next for every later request and watch, and mk_client_do sends the request
 * again there when that is safe (it never reached the server, or it is a GET).
 * mk_client_server: the URL in use now (borrowed, valid for the client's
 * lifetime). mk_client_server_failed: server (a URL of the client's) failed:
 * move on if it is still the one in use; false when the client has one server. */
const char *mk_client_server(struct mk_client *c);
bool mk_client_server_failed(struct mk_client *c, const char *server);
/* The client's configuration (borrowed, valid for the client's lifetime). */
const struct mk_client_config *mk_client_get_config(const struct mk_client *c);

struct mk_client_request {
	const char *method;		/* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;		/* "/api/v1/namespaces/default/pods?limit=500" (borrowed) */
	const char *accept;		/* NULL: "application/json" */
	const char *content_type;	/* NULL: "application/json" when body is set */
	const char *body;		/* request body or NULL (borrowed) */
	size_t body_len;		/* 0: strlen(body) */
};

struct mk_client_response {
	long code;		/* HTTP status */
	char *content_type;	/* owned, may be NULL */
	char *body;		/* owned raw body, NUL-terminated (may be "") */
	size_t body_len;
	cJSON *json;		/* owned, the parsed body when it is JSON, else NULL */
};

/* Releases what a response owns and zeroes it; accepts a zeroed response. */
void mk_client_response_release(struct mk_client_response *res);

/* Performs one request. Returns 0 when an HTTP response arrived, whatever its
 * status (inspect res->code), and fills *res (release it with
 * mk_client_response_release); -1 with *err on transport errors (connection
 * refused, TLS, timeout: code EIO/ETIMEDOUT/ECONNREFUSED). Response bodies are
 * limited to 256 MiB. */
int mk_client_do(struct mk_client *c, const struct mk_client_request *req,
		 struct mk_client_response *res, struct mk_error **err);

/* Builds an error from a failed response (code >= 400): code = HTTP status,
 * msg = Status.message when the body is a Status, else a kubectl-like text
 * ("the server could not find the requested resource"). Returns -1. */
int mk_client_response_error(const struct mk_client_response *res, struct mk_error **err);

/* Reason of a failed response: Status.reason if present, else the usual reason
 * for the HTTP code ("NotFound", "Conflict", ...; "" if unknown). Borrowed/static. */
const char *mk_client_response_reason(const struct mk_client_response *res);

/* Typed helpers: return 0 and *ret_obj (owned, may be NULL if not wanted) for
 * 2xx responses, else -1 with *err (see mk_client_response_error; err->code is
 * the HTTP status, or errno-like for transport errors). body is borrowed. */
int mk_client_get(struct mk_client *c, const char *path, cJSON **ret_obj, struct mk_error **err);
int mk_client_create(struct mk_client *c, const char *path, const cJSON *body, cJSON **ret_obj,
		     struct mk_error **err);
int mk_client_update(struct mk_client *c, const char *path, const cJSON *body, cJSON **ret_obj,
		     struct mk_error **err);
/* content_type: "application/merge-patch+json", "application/json-patch+json" or
 * "application/strategic-merge-patch+json". */
int mk_client_patch(struct mk_client *c, const char *path, const char *content_type,
		    const cJSON *patch, cJSON **ret_obj, struct mk_error **err);
/* Sends {"propagationPolicy":propagation} when propagation is non-NULL. */
int mk_client_delete(struct mk_client *c, const char *path, const char *propagation,
		     cJSON **ret_obj, struct mk_error **err);

/* URL-escapes s (owned result), for query parameters such as label selectors. */
char *mk_client_escape(const char *s);

/* ---- watch streams -------------------------------------------------------- */

/* Incremental decoder of newline-delimited JSON watch events: bytes in, one
 * callback per complete non-empty line. Embedded: _init/_release. Lines are
 * limited to max_line bytes (0: 64 MiB). */
typedef int (*mk_client_line_fn)(const char *line, size_t len, void *userdata);
struct mk_client_line_splitter {
	struct mk_buf buf;
	size_t max_line;
	mk_client_line_fn fn;
	void *userdata;
};
void mk_client_line_splitter_init(struct mk_client_line_splitter *s, size_t max_line,
				  mk_client_line_fn fn, void *userdata);
/* Feeds len bytes; calls fn for each completed line (without "\n" or a
 * trailing "\r"). Returns 0, or the first negative value fn returned (the
 * remaining bytes are dropped), or -1 with E2BIG when a line exceeds max_line. */
int mk_client_line_splitter_feed(struct mk_client_line_splitter *s, const char *data, size_t len);
/* End of stream: delivers a final unterminated line, if any. Same returns. */
int mk_client_line_splitter_finish(struct mk_client_line_splitter *s);
void mk_client_line_splitter_release(struct mk_client_line_splitter *s);

/* Called for each event: type "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or
 * "ERROR"; object borrowed (valid during the call only: cJSON_Duplicate it to
 * keep it). Return 0 to go on, < 0 to stop the
 * watch (mk_client_watch_run then returns 0). */
typedef int (*mk_client_watch_fn)(const char *type, const cJSON *object, void *userdata);

struct mk_client_watch;

/* New watch handle (owned; mk_client_watch_free). */
struct mk_client_watch *mk_client_watch_new(void);
void mk_client_watch_free(struct mk_client_watch *w);
/* Stops a running (or the next) mk_client_watch_run promptly. Thread-safe.
 * Until mk_client_watch_reset, later runs return at once. */
void mk_client_watch_cancel(struct mk_client_watch *w);
void mk_client_watch_reset(struct mk_client_watch *w);
bool mk_client_watch_cancelled(struct mk_client_watch *w);
/* resourceVersion of the last event delivered (borrowed; NULL before any):
 * pass it to the next run to resume where the stream stopped. */
const char *mk_client_watch_resource_version(const struct mk_client_watch *w);

/* Runs a watch: GET path (a collection path, may contain a query) with
 * watch=true, resourceVersion=resource_version (if non-NULL),
 * allowWatchBookmarks=true and timeoutSeconds=timeout_seconds (if > 0) added,
 * Accept accept (NULL: application/json). Blocks, delivering events to fn,
 * until the server ends the stream (returns 0), fn stops it (0), it is
 * cancelled (0; see mk_client_watch_cancelled), an ERROR event arrives (-1
 * with err->code = Status.code, e.g. 410 when resource_version is too old;
 * the event is delivered to fn first), the server answers with an error
 * status (-1, as mk_client_response_error), or a transport error (-1). */
int mk_client_watch_run(struct mk_client *c, struct mk_client_watch *w, const char *path,
			const char *resource_version, int timeout_seconds, const char *accept,
			mk_client_watch_fn fn, void *userdata, struct mk_error **err);
/* From inside fn only: takes the event's object out of the decoded event (owned
 * by the caller from then on: fn's object argument is that object), so a
 * cache can keep it without a copy. NULL outside fn or when taken already. */
cJSON *mk_client_watch_take_object(struct mk_client_watch *w);

/* ---- transports ----------------------------------------------------------------
 * By default a client speaks HTTP(S) through libcurl. A transport set on it
 * replaces that for every request and watch, the rest of the API unchanged: the
 * API server's in-process transport (mk_apiserver_local_attach, apiserver.h)
 * hands the server's own controllers' requests to its router without a socket.
 *
 * request: as mk_client_do (0 with *res whatever the status; -1 with *err).
 * watch: GET path (query included: watch=true and the rest) as a watch stream:
 * 0 with res->code set; for a 2xx answer the stream's bytes (newline-delimited
 * events, as over HTTP) went to fn until the stream ended, fn returned < 0 or
 * w was cancelled; for another status res->body holds the answer. The transport
 * registers how to wake it while it runs (mk_client_watch_set_waker). -1 with
 * *err on a transport failure. */
typedef int (*mk_client_bytes_fn)(const char *data, size_t len, void *userdata);
struct mk_client_transport {
	int (*request)(void *ud, const struct mk_client_config *cfg,
		       const struct mk_client_request *req, struct mk_client_response *res,
		       struct mk_error **err);
	int (*watch)(void *ud, const struct mk_client_config *cfg, struct mk_client_watch *w,
		     const char *path, const char *accept, struct mk_client_response *res,
		     mk_client_bytes_fn fn, void *fn_ud, struct mk_error **err);
};
/* Sets (t NULL: clears) c's transport; t and ud borrowed, they must outlive c's
 * use. Before any request runs on c. */
void mk_client_set_transport(struct mk_client *c, const struct mk_client_transport *t, void *ud);
/* c's transport (NULL: HTTP) and its userdata. */
const struct mk_client_transport *mk_client_get_transport(const struct mk_client *c, void **ret_ud);
/* For transports: fn(ud) is called (from any thread) when w is cancelled while
 * the transport's watch runs, and at once if it is cancelled already; fn NULL
 * unregisters (before the transport's watch returns). */
void mk_client_watch_set_waker(struct mk_client_watch *w, void (*fn)(void *ud), void *ud);

/* ---- YAML <-> JSON ----------------------------------------------------------- */

/* Parses a YAML stream (one or more "---"-separated documents; JSON is YAML)
 * into a JSON array with one element per non-empty document (owned). Plain
 * scalars are typed by the YAML core schema (null, ~, empty -> null;
 * true/false in any common case -> bool; decimal, 0x, 0o integers and floats
 * incl. .inf/.nan -> number); quoted and block scalars and !!str stay
 * strings. Anchors and aliases are resolved; mapping keys become strings.
 * EINVAL with "yaml: line N: ..." on syntax errors. */
int mk_yaml_parse_documents(const char *text, size_t len, cJSON **ret, struct mk_error **err);

/* Emits value as YAML the way kubectl -o yaml prints (block style, map keys
 * sorted as go-yaml sorts them, sequences not indented under their key,
 * strings that would read back as another type quoted, multi-line strings as
 * literal blocks, "{}" and "[]" for empty collections). Returns an owned
 * string ending in "\n", or NULL with *err. */
char *mk_yaml_emit(const cJSON *value, struct mk_error **err);

/* ---- joining a cluster ----------------------------------------------------- */

/* Builds the client config an agent uses to join from a join token: either the
 * server's node-token "K10<sha256 of CA>::node:<secret>" — the CA is fetched from
 * SERVER/cacerts and accepted only if its hash matches (*ret_verified true) — or the
 * bare secret, in which case the fetched CA is trusted as is (*ret_verified false;
 * callers should warn). The CA is written to ca_path (0644). *ret owned. */
int mk_client_join_config(const char *server, const char *token, const char *ca_path,
			  struct mk_client_config **ret, bool *ret_verified, struct mk_error **err);

/* The node's own credential (a bearer token bound to node, "mknode:NODE:SECRET"):
 * the one kept at path while the server still knows it as system:node:NODE, else a
 * new one asked for with cfg's token (the join secret, or the admin token) at
 * POST /v1-minik8s/node-credential and written to path (0600, its directory made
 * 0700). The server refuses (EEXIST) a name that another credential holds. When the
 * server cannot be reached the kept one is used. On success cfg->token is the
 * credential. A cfg whose token is a node credential already is left as is. */
int mk_client_node_credential(struct mk_client_config *cfg, const char *node, const char *path,
			      struct mk_error **err);

/* Path of a resource ("/api/v1/namespaces/NS/pods/NAME/status"): group_version
 * "v1" or "apps/v1"; ns NULL or "" for cluster-scoped; name and sub may be NULL.
 * Owned result. */
char *mk_client_resource_path(const char *group_version, const char *resource, const char *ns,
			       const char *name, const char *sub);

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

/* How the client's background threads (informers, the event recorder, leader
 * election) are told to stop: *stopping set under mu, every waiter on cond woken;
 * the thread's loop checks *stopping under mu. */
void mk_client_stop_signal(pthread_mutex_t *mu, pthread_cond_t *cond, bool *stopping);

/* ---- cached objects ------------------------------------------------------------
 * Immutable, reference counted snapshots of API objects. An informer's cache
 * holds each object as its compact JSON text, and a parsed tree beside it for
 * at most a bounded number of objects (mk_informer_set_max_trees): an
 * mk_informer_get/_list/_by_index result is a ref to that kept tree, or a tree
 * parsed at the call. A ref kept across calls keeps that snapshot, not the
 * cache's newest. Handlers get objects that live for the call unless they take
 * a ref. The cJSON tree must not be modified (duplicate it to change it). */
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
/* Before _start only: cached objects lose metadata.managedFields (often as large
 * as the rest of the object), as client-go's TransformStripManagedFields for
 * kube-controller-manager and kube-scheduler: for readers that never look at it.
 * Writing such an object back (update) keeps the stored managedFields: the API
 * server keeps them when a request carries none. */
void mk_informer_strip_managed_fields(struct mk_informer *inf);
/* Kept for callers; does nothing: cached objects are held as text (see "cached
 * objects" above), so no tree's strings are left to share. */
/* Before _start only: how many parsed trees the cache keeps beside the text
 * (default 512), for the objects read or changed first while there is room:
 * readers of those get the kept tree (a ref) instead of a parse. 0: none. */
void mk_informer_set_max_trees(struct mk_informer *inf, size_t n);
void mk_informer_share_strings(struct mk_informer *inf);
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

/* Thread-safe readers. Results are refs (mk_object_unref / mk_object_list_free)
 * to kept trees or to objects parsed from the cached text at the call (outside
 * the cache lock): past the kept trees a reader pays a parse per object, so
 * index before listing. */
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
/* EndpointSlices by their service: "ns/<label kubernetes.io/service-name>" */
int mk_index_slice_service(const cJSON *obj, char **values, int max);

/* ---- events ----------------------------------------------------------------
 * core/v1 Events, written asynchronously by one thread (a bounded queue:
 * beyond 1000 pending events, new ones are dropped), through client-go's
 * EventCorrelator: 25 events per source and object, then one per 5 minutes;
 * from the 10th distinct message of one reason for an object within 10 minutes,
 * one "(combined from similar events): ..." Event; repeats of the same
 * (object, type, reason, message) increase count and lastTimestamp (and set the
 * message) of the existing Event instead of creating another. */

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

/* An mk_io_send_fn (util.h) for ctx, a libcurl easy handle (CURL *) connected with
 * CURLOPT_CONNECT_ONLY (pkg/client/io.c). */
int mk_io_curl_send(void *ctx, const void *data, size_t len, size_t *ret_n);

#endif
