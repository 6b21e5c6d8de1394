/* apiserver internals shared by the files of pkg/apiserver. */
#ifndef MINIK8S_APISERVER_INTERNAL_H
#define MINIK8S_APISERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <microhttpd.h>
#include "minik8s/apiserver.h"
#include "minik8s/api.h"
#include "minik8s/store.h"
#include "minik8s/connguard.h"

struct mk_watch_slot;

struct mk_apiserver {
	struct MHD_Daemon *daemon;
	struct mk_store *store;
	char *admin_token;
	char *node_token;		/* join token agents use; NULL: none */
	char *ca_pem;			/* served at /cacerts */
	char *tls_cert, *tls_key;	/* PEM text, kept alive for MHD */
	size_t max_body;
	pthread_mutex_t lock;		/* guards watches */
	struct mk_watch_slot *watches;	/* active watch streams, cancelled on free */
	bool stopping;
	char *service_cidr;
	uint32_t svc_base, svc_size;	/* service CIDR, host order */
	char *cluster_cidr;
	char *cluster_dns;		/* kube-dns ClusterIP */
	uint32_t cluster_base, cluster_size;	/* pod CIDR of the cluster, host order */
	char *advertise_address;	/* endpoints of the kubernetes service */
	uint16_t port;
	bool namespace_controller;	/* namespaces end through their finalizer */
	char *kubelet_client_cert;	/* client certificate/key files for the agents'
					 * streaming servers (proxy.c); NULL: none */
	char *kubelet_client_key;
	struct mk_connguard *guard;	/* connection admission (server.c, connguard.h) */
	unsigned max_trusted;		/* its budget of authenticated connections */
	struct mk_metrics *metrics;	/* metrics.k8s.io scraper and figures (metrics.c) */
	struct mk_satoken_key *sa_key;	/* signs and verifies service account tokens */
	pthread_mutex_t cred_lock;	/* serialises node credential issuing (nodecred.c) */
	struct mk_rbac *rbac;		/* the RBAC policy index (rbac_policy.c) */
	struct mk_token_user *token_users; /* --token-auth-file users (rbac_policy.c) */
	size_t ntoken_users, token_users_cap;
	struct mk_listcache *listcache;	/* lists from the watch feed (listcache.c) */
};

/* Who is calling: the admin token, a node's own credential (req->node_name says
 * which, nodecred.c), a service account token (req->sa_ns/sa_name say which), a
 * --token-auth-file user or an impersonated one, the join token (it only
 * bootstraps: it may ask for a node credential), or nobody. */
enum mk_caller { MK_CALLER_NONE, MK_CALLER_ADMIN, MK_CALLER_NODE, MK_CALLER_SA,
		 MK_CALLER_USER, MK_CALLER_BOOTSTRAP };

/* Who a request acts as (authentication.k8s.io UserInfo). */
struct mk_user_info {
	char *name;
	char *uid;	/* or NULL */
	char **groups;	/* NULL-terminated, ngroups of them */
	size_t ngroups;
};

/* What a caller asks to do, in Kubernetes terms (verb get/list/watch/create/update/
 * patch/delete/deletecollection; resource NULL for a non-resource path). */
struct mk_authz_attrs {
	const char *verb;
	const char *resource;	/* plural, or NULL */
	const char *sub;	/* subresource, or NULL */
	const char *name;	/* object name, or NULL (all) */
	const char *ns;		/* namespace, or NULL (all, or cluster-scoped) */
	const char *path;	/* non-resource requests: the URL path, or NULL */
	/* MK_CALLER_NODE: the node's name and the store the Node authorizer follows
	 * the pod -> object relationships in (nodeauthz.c) */
	const char *node;
	struct mk_store *store;
	const char *group;	/* API group of resource ("" core); NULL: "" */
};

/* The authorizer (router.c): whether who may do a. */
bool mk_authz_allowed(enum mk_caller who, const struct mk_authz_attrs *a);

/* One HTTP request being served (MHD's per-connection request context). */
struct mk_request {
	struct mk_apiserver *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;
	struct mk_buf body;
	bool too_large;
	bool started;
	bool close_after;	/* not authenticated: close the connection after the reply */
	enum mk_caller caller;		/* set once authenticated */

	/* route */
	const struct mk_api_resource *res;	/* NULL for non-resource paths */
	char *ns;				/* namespace in the path, or NULL */
	char *name;				/* object name, or NULL (collection) */
	char *sub;				/* subresource ("status", "scale"), or NULL */

	/* for the request log (-v 4) */
	int64_t start_us;			/* monotonic, when the request arrived */
	unsigned code;				/* status code sent */
	const char *user;			/* who authenticated, or NULL (static, or
						 * sa_user) */
	char *sa_ns, *sa_name;			/* MK_CALLER_SA: the service account */
	char *sa_user;				/* system:serviceaccount:NS:NAME */
	char *node_name;			/* MK_CALLER_NODE: the node */
	char *node_user;			/* system:node:NAME */
	struct mk_user_info ui;			/* who the request acts as (after
						 * impersonation); set by dispatch */
	const struct mk_token_user *token_user;	/* MK_CALLER_USER by token */
	struct mk_local_req *local;		/* an in-process request (local.c;
						 * conn NULL): its query and headers */
};

/* A reply: status code + body + content type. Handlers fill it; server.c sends. */
struct mk_reply {
	unsigned code;
	char *body;		/* owned */
	size_t body_len;	/* length of a binary body; 0: body is a C string */
	char *warning;		/* Warning header value (owned), or NULL */
	const char *content_type;
	struct MHD_Response *stream;	/* set instead of body for streaming replies */
	struct mk_watch_local *local_watch; /* in-process requests: a watch stream
					     * (watch.c) instead of stream */
	bool buffered;		/* set by the caller: no streamed body (an in-process
				 * request); list replies are written whole into body */
};

/* server.c: frees what req owns (body, route, identity), not req itself */
void mk_request_release_fields(struct mk_request *req);
/* router.c: who is calling (remembered on req: a second call costs nothing) */
enum mk_caller mk_request_authenticate(struct mk_request *req);
/* router.c: answers req (its body read) into rep */
void mk_request_dispatch(struct mk_request *req, struct mk_reply *rep);

/* reply helpers (http.c) */
void mk_reply_json(struct mk_reply *rep, unsigned code, const cJSON *obj);
void mk_reply_json_text(struct mk_reply *rep, unsigned code, char *owned_text);
/* Status error reply; kind is the resource (plural, e.g. "pods"), name may be NULL. */
void mk_reply_status(struct mk_reply *rep, int code, const char *kind, const char *name,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Maps a store/api error to a Status reply for resource r and object name. */
void mk_reply_error(struct mk_reply *rep, const struct mk_api_resource *r, const char *name,
		    const struct mk_error *err);
const char *mk_request_arg(struct mk_request *req, const char *key);
/* A boolean query parameter, converted as kube-apiserver does (mk_api_query_bool). */
bool mk_request_bool(struct mk_request *req, const char *key);
const char *mk_request_header(struct mk_request *req, const char *key);
/* true when the client asked for a meta.k8s.io Table (Accept header) */
bool mk_request_wants_table(struct mk_request *req);
/* The Kubernetes verb of req (get/list/watch, create, update, patch,
 * delete/deletecollection; collection: the request names no object). */
const char *mk_request_verb(struct mk_request *req, bool collection);
/* The body of req (JSON, or protobuf as kubectl sends some kinds) as an object
 * (owned); NULL with a 400 in rep ('the body of the request must be a JSON
 * KIND'). */
cJSON *mk_request_body_object(struct mk_request *req, struct mk_reply *rep, const char *kind);

/* crds.c: CustomResourceDefinitions. prepare: before a definition is stored,
 * its status (names accepted, established, stored versions) and, on create, the
 * cleanup finalizer. sync: after any definition write (and at start), every
 * stored definition's status is brought up to date and the served resources
 * (pkg/api's table) rebuilt from them. */
void mk_crds_prepare(struct mk_apiserver *srv, cJSON *crd, bool create);
int mk_crds_sync(struct mk_apiserver *srv, struct mk_error **err);

/* paging.c: applies the request's limit and continue to l (resource's items in ns,
 * listed unfiltered for a continue request, filtered by filter otherwise); sets
 * *ret_continue (owned, NULL on the last page) and *ret_remaining (-1: not
 * known). Fills a reply and returns -1 on a bad (400) or expired (410) token. */
int mk_list_paginate(struct mk_request *req, struct mk_reply *rep, const char *resource,
		     const char *ns, mk_store_filter_fn filter, void *fud, struct mk_store_list *l,
		     uint64_t exact_rv, char **ret_continue, long *ret_remaining);
/* paging.c: the continue token of a list at revision rv whose last item has key
 * start ("ns\x01name"); owned. */
char *mk_list_token_encode(uint64_t rv, const char *start);
/* paging.c: a token's revision and start key (owned); -1 when it is not one. */
int mk_list_token_decode(const char *tok, uint64_t *ret_rv, char **ret_start);
/* What a list's resourceVersion asks for: the latest state (""), any ("0"), not
 * older than N (NotOlderThan, or unpaged without a match) or exactly N (Exact,
 * or paged without a match). */
enum mk_list_rv { MK_LIST_RV_LATEST, MK_LIST_RV_ANY, MK_LIST_RV_NOT_OLDER, MK_LIST_RV_EXACT };
/* paging.c: reads resourceVersion / resourceVersionMatch into *ret_mode and
 * *ret_rv; fills rep (422 Invalid ListOptions, 400) and returns -1 when they are
 * not valid, as kube-apiserver checks them. */
int mk_list_rv_parse(struct mk_request *req, struct mk_reply *rep, enum mk_list_rv *ret_mode,
		     uint64_t *ret_rv);
/* paging.c: 504 Timeout "Too large resource version: rv, current: cur". */
void mk_list_reply_too_large(struct mk_reply *rep, uint64_t rv, uint64_t cur);
/* A list's label and field selectors (either NULL: not asked for), and the store
 * filter (mk_store_filter_fn, userdata the selectors) keeping what matches both. */
struct mk_list_selectors {
	struct mk_label_selector *labels;
	struct mk_field_selector *fields;
};
int mk_list_selectors_match(const char *json, void *userdata);
/* The same test on a parsed object (watch events). */
bool mk_list_selectors_match_object(const struct mk_list_selectors *f, const cJSON *obj);

/* listcache.c: every resource's objects kept from the store's watch feed (a
 * resource from its first list on), so that lists are served from memory. */
struct mk_listcache;
int mk_listcache_new(struct mk_store *store, struct mk_listcache **ret, struct mk_error **err);
void mk_listcache_free(struct mk_listcache *lc); /* accepts NULL */
/* listcache.c: the pieces of text cached objects share (the fieldsV1 of their
 * managedFields entries, each kept once in the process); for tests. */
size_t mk_listcache_pieces(void);
/* Answers a list of r in ns (NULL or "": all) from the cache, through the
 * selectors f and the request's limit, once the cache has seen min_rv (the
 * store's current revision when consistent): 1 with rep filled (a streamed 200,
 * or 504 when min_rv is not reached in time), 0 when the store must answer
 * instead (no cache, or a consistent read the cache could not catch up with). */
int mk_listcache_list(struct mk_request *req, struct mk_reply *rep,
		      const struct mk_api_resource *r, const char *ns,
		      const struct mk_list_selectors *f, uint64_t min_rv, bool consistent);
/* The next page of a list the cache began (the request's continue token), from
 * the snapshot its first page kept (the list as it was at the token's revision;
 * kept while pages follow, LC_SNAP_IDLE_S): 1 with rep filled, 0 when no snapshot
 * holds it (evicted, or begun by the store or another server run) and the store
 * must rebuild the page. */
int mk_listcache_continue(struct mk_request *req, struct mk_reply *rep,
			  const struct mk_api_resource *r, const char *ns,
			  const struct mk_list_selectors *f);
/* listcache.c: the object resource/ns/name as the store holds it after every
 * write this server has acknowledged: 1 with *ret_json (owned), -1 when it does
 * not exist, 0 when the store must be asked (no cache). */
int mk_listcache_get(struct mk_apiserver *srv, const char *resource, const char *ns,
		     const char *name, char **ret_json);
/* listcache.c: the objects of resource in ns ("" cluster-scoped) in no particular
 * order, as mk_listcache_get reads them, into *ret (mk_store_list_release);
 * 1, or 0 when the store must be asked. */
int mk_listcache_load(struct mk_apiserver *srv, const char *resource, const char *ns,
		      struct mk_store_list *ret);
/* listcache.c: replies 200 with the list l of r (its items taken over), the body
 * written as the connection takes it; next/remaining as mk_list_paginate gives. */
/* handlers.c: replies 200 with the list l of r (released) as a meta.k8s.io Table. */
void mk_list_reply_table(struct mk_reply *rep, const struct mk_api_resource *r,
			 struct mk_store_list *l, const char *next, long remaining);
void mk_list_reply_stream(struct mk_reply *rep, const struct mk_api_resource *r,
			  struct mk_store_list *l, const char *next, long remaining);

/* discovery.c: handles /version, /api, /apis, /api/v1, /apis/GROUP[/v1], /openapi/v2,
 * /openapi/v3[/...];
 * returns false if path is not a discovery path. */
bool mk_discovery_handle(struct mk_request *req, const char *path, struct mk_reply *rep);
/* Answers a discovery document (borrowed) at path: 200, or 405 to a method other
 * than GET and HEAD. */
void mk_discovery_reply(struct mk_request *req, struct mk_reply *rep, const char *path,
			const cJSON *doc);

/* fieldvalidation.c: applies the request's fieldValidation directive to obj of the
 * given kind (old: the stored object on update/patch, else NULL): unknown fields the
 * request introduces are dropped from obj (Ignore, Warn) or refused (Strict). Returns
 * 0 to go on (Warn leaves rep->warning set), -1 when rep holds the error. */
int mk_field_validation(struct mk_request *req, struct mk_reply *rep, const char *group,
			const char *version, const char *kind, cJSON *obj, const cJSON *old,
			bool patch);

/* authreview.c: POST .../selfsubjectaccessreviews and .../selfsubjectreviews
 * (answered, never stored); returns false if path is neither. */
bool mk_authreview_handle(struct mk_request *req, struct mk_reply *rep);

/* satoken.c: service account tokens, JWTs signed RS256. */
#define MK_SATOKEN_ISSUER "https://kubernetes.default.svc.cluster.local"
#define MK_SATOKEN_API_AUDIENCE "https://kubernetes.default.svc.cluster.local"
struct mk_satoken_key;
/* Loads the RSA key at path, or makes one and writes it there (0600) when the file
 * does not exist; path NULL: a new key kept in memory only. */
int mk_satoken_key_load(const char *path, struct mk_satoken_key **ret, struct mk_error **err);
void mk_satoken_key_free(struct mk_satoken_key *k);
/* The claims of a token for service account ns/sa (pod NULL: not bound). Owned. */
cJSON *mk_satoken_claims_new(const char *ns, const char *sa, const char *sa_uid,
			     const char *pod, const char *pod_uid, const cJSON *audiences,
			     time_t iat, time_t exp);
/* The signed compact JWT of claims (owned), NULL on error. */
char *mk_satoken_sign(const struct mk_satoken_key *k, const cJSON *claims, struct mk_error **err);
/* Whether token has the shape of a JWT (three base64url parts, "eyJ..."). */
bool mk_satoken_looks_like(const char *token);
/* Checks signature (RS256 only), issuer, exp/nbf at now and that the audiences
 * include audience; *ret_claims owned. */
int mk_satoken_verify(const struct mk_satoken_key *k, const char *token, time_t now,
		      const char *audience, cJSON **ret_claims, struct mk_error **err);
/* mk_satoken_verify, then the service account (and the bound pod) must still exist
 * in store with the uids the token names. *ret_ns, *ret_name owned. */
int mk_satoken_authenticate(const struct mk_satoken_key *k, struct mk_store *store,
			    const char *token, time_t now, const char *audience, char **ret_ns,
			    char **ret_name, struct mk_error **err);

/* serviceaccounts.c: the default ServiceAccount of namespace ns (made when absent). */
int mk_serviceaccounts_ensure_default(struct mk_apiserver *srv, const char *ns,
				      struct mk_error **err);
/* After a delete: the default ServiceAccount and kube-root-ca.crt come back (as
 * kube-controller-manager's controllers make them again) unless the namespace is
 * going away. */
void mk_serviceaccounts_deleted(struct mk_apiserver *srv, const char *resource, const char *ns,
				const char *name);
/* ... of every namespace (at start). */
int mk_serviceaccounts_bootstrap(struct mk_apiserver *srv, struct mk_error **err);
/* ServiceAccount admission of a new pod in ns: spec.serviceAccountName defaulted
 * to "default", the account must exist (else 403 in *err, code EACCES). */
int mk_serviceaccounts_admit_pod(struct mk_apiserver *srv, const char *ns, cJSON *pod,
				 struct mk_error **err);
/* POST .../serviceaccounts/NAME/token (TokenRequest). */
void mk_serviceaccounts_token(struct mk_request *req, struct mk_reply *rep);

/* nodeauthz.c: the Node authorizer (kube-apiserver's, graph-based): what node may
 * do; a NULL node or store finds no relationship. *ret_reason (static or owned by
 * *ret_reason_owned when set) says why not. */
bool mk_nodeauthz_allowed(const struct mk_authz_attrs *a, const char **ret_reason,
			  char **ret_reason_owned);
/* The 403 of a node request the Node authorizer refused (kube-apiserver's wording). */
void mk_nodeauthz_forbid(struct mk_request *req, struct mk_reply *rep, const char *verb,
			 const char *reason);
/* NodeRestriction admission of a node's write (other callers pass): obj is the
 * object to be stored, old the stored one (NULL: create). -1 with rep filled. */
int mk_noderestriction_admit(struct mk_request *req, struct mk_reply *rep, const cJSON *old,
			     const cJSON *obj);

/* nodecred.c: per-node credentials. A node's bearer token is
 * "MK_NODECRED_PREFIX NAME:SECRET"; the server keeps the SHA-256 of SECRET in the
 * Secret kube-system/NAME.node-password.minik8s. */
#define MK_NODECRED_PREFIX "mknode:"
#define MK_NODECRED_PATH "/v1-minik8s/node-credential"
/* Authenticates a node credential: 1 and *ret_node (owned) when valid, else 0. */
int mk_nodecred_authenticate(struct mk_apiserver *srv, const char *token, char **ret_node);
/* Issues a credential for node (a new one; EEXIST when the node has one). *ret_token
 * owned. */
int mk_nodecred_issue(struct mk_apiserver *srv, const char *node, char **ret_token,
		      struct mk_error **err);
/* Drops the credential of node (its Node was deleted). */
void mk_nodecred_forget(struct mk_apiserver *srv, const char *node);
/* POST MK_NODECRED_PATH; false when req is not for it. */
bool mk_nodecred_handle(struct mk_request *req, struct mk_reply *rep);

/* ---- per-resource server strategies (strategy*.c) -----------------------------
 * What the server does for one kind beyond the generic registry, as
 * kube-apiserver's registry strategies: the generic handlers (handlers.c) call
 * these hooks and name no kind. Every hook may be NULL (nothing to do). */

/* A subresource a kind serves besides status and scale. */
struct mk_subresource {
	const char *name;
	/* the handler that answers it; NULL: a part of the object the generic verbs
	 * write (namespaces/finalize, pods/ephemeralcontainers) */
	void (*handle)(struct mk_request *req, struct mk_reply *rep);
	/* for a generic one: what a write of it changes, on obj (a copy of the stored
	 * object) from sent (the client's); whether sent must be of the kind; the
	 * methods it serves, space separated (NULL: all) */
	void (*write)(cJSON *obj, const cJSON *sent);
	bool typed;
	const char *methods;
};

struct mk_server_strategy {
	const char *group, *resource;	/* the built-in resource it is for */

	/* create: the kind's own admission, after the mutating steps (a pod's
	 * service account); -1 with *err */
	int (*admit)(struct mk_apiserver *srv, const char *ns, cJSON *obj, struct mk_error **err);
	/* create and update of the main resource, before defaults are checked:
	 * server-maintained parts of obj (a definition's status) */
	void (*prepare)(struct mk_apiserver *srv, cJSON *obj, bool create);
	/* a dry-run create: what reserve would refuse, reserving nothing; -1 with
	 * *ret_causes */
	int (*check)(struct mk_apiserver *srv, const cJSON *obj, cJSON **ret_causes);
	/* a create, just before the store: takes the addresses obj has or needs
	 * (ClusterIP, node ports, pod CIDR); -1 with *ret_causes (422) or *err */
	int (*reserve)(struct mk_apiserver *srv, cJSON *obj, cJSON **ret_causes,
		       struct mk_error **err);
	/* gives back what reserve took (the create failed, or obj left the store) */
	void (*release)(struct mk_apiserver *srv, const cJSON *obj);
	/* after a create was stored */
	void (*created)(struct mk_apiserver *srv, const char *name);

	/* an update of the main resource: obj (the client's) keeps what it may omit
	 * and drops what it may not set, from old */
	void (*update_prepare)(const cJSON *old, cJSON *obj);
	/* an update of the main resource, before the store: takes what obj needs
	 * beyond old; -1 with *ret_causes (422) or *err, nothing kept */
	int (*update_reserve)(struct mk_apiserver *srv, const cJSON *old, cJSON *obj,
			      cJSON **ret_causes, struct mk_error **err);
	/* gives back what from holds and to does not */
	void (*update_release)(struct mk_apiserver *srv, const cJSON *from, const cJSON *to);

	/* delete of one object: -1 with rep filled when name may not be deleted */
	int (*delete_refuse)(struct mk_request *req, struct mk_reply *rep);
	/* graceful deletion (pods): the grace period a new deletion of obj gets
	 * (requested: DeleteOptions', -1 none); a kind with it is also force-deleted
	 * by a grace of 0 while terminating */
	long (*delete_grace)(const cJSON *obj, long requested);
	/* whether obj's deletion goes through its finalizer flow (namespaces under
	 * the namespace controller); marks obj for it */
	bool (*delete_mark)(struct mk_apiserver *srv, cJSON *obj);
	/* whether something besides metadata.finalizers still holds an object
	 * marked for deletion (a pod's grace, a namespace's spec.finalizers) */
	bool (*holds)(const cJSON *obj);
	/* before the object named name is removed (a namespace's contents) */
	int (*purge)(struct mk_apiserver *srv, const char *name, struct mk_error **err);
	/* obj named name left the store (after release) */
	void (*removed)(struct mk_apiserver *srv, const char *name);
	/* a client's DELETE of one object ns/name was done */
	void (*deleted)(struct mk_apiserver *srv, const char *ns, const char *name);
	/* deletecollection is refused (405) */
	bool no_delete_collection;

	/* LimitRanger: the defaults the namespace's LimitRanges give a new obj
	 * (mutating), and the bounds they set on it (validating; -1 with *ret_msg,
	 * owned); lrs[0..n) the LimitRange objects */
	void (*limits_default)(const cJSON *const *lrs, size_t n, cJSON *obj);
	int (*limits_check)(const cJSON *const *lrs, size_t n, const cJSON *obj, char **ret_msg);
	/* ResourceQuota charges what an update adds (a Service's node ports and load
	 * balancer, a claim's storage) */
	bool quota_on_update;

	/* after any write request (POST, PUT, PATCH, DELETE) was answered */
	void (*written)(struct mk_request *req, struct mk_reply *rep);

	const struct mk_subresource *subresources;	/* NULL-name terminated, or NULL */
	/* field selectors it supports beyond metadata.name and metadata.namespace,
	 * NULL-terminated, or NULL */
	const char *const *field_selectors;
};

/* The strategy of r (strategy.c): the built-in kind's, or one with no hooks (a
 * custom resource, a kind without server-side behaviour). Never NULL. */
const struct mk_server_strategy *mk_strategy_of(const struct mk_api_resource *r);
/* The subresource name of s, or NULL. */
const struct mk_subresource *mk_strategy_subresource(const struct mk_server_strategy *s,
						     const char *name);
/* Whether method is one of sr's (generic subresources). */
bool mk_subresource_serves(const struct mk_subresource *sr, const char *method);

/* The strategies, one file each (strategy_KIND.c) */
extern const struct mk_server_strategy mk_strategy_pods;
extern const struct mk_server_strategy mk_strategy_services;
extern const struct mk_server_strategy mk_strategy_nodes;
extern const struct mk_server_strategy mk_strategy_namespaces;
extern const struct mk_server_strategy mk_strategy_serviceaccounts;
extern const struct mk_server_strategy mk_strategy_configmaps;
extern const struct mk_server_strategy mk_strategy_roles;
extern const struct mk_server_strategy mk_strategy_clusterroles;
extern const struct mk_server_strategy mk_strategy_rolebindings;
extern const struct mk_server_strategy mk_strategy_clusterrolebindings;
extern const struct mk_server_strategy mk_strategy_crds;
extern const struct mk_server_strategy mk_strategy_pvcs;

/* handlers.c: resource requests (req->res set). */
void mk_resource_handle(struct mk_request *req, struct mk_reply *rep);
/* Server-owned fields of a new object of r in ns (uid, creationTimestamp, the
 * initial status); for objects the server makes itself too (bootstrap.c). */
void mk_resource_prepare_new(const struct mk_api_resource *r, cJSON *obj, const char *ns);
/* Removes one stored object (precondition expect, 0: none), then its strategy's
 * release; *ret_json (may be NULL) the removed object's text, owned. */
int mk_resource_delete_one(struct mk_apiserver *srv, const struct mk_api_resource *r,
			   const char *ns, const char *name, uint64_t expect, char **ret_json,
			   struct mk_error **err);

/* bootstrap.c: the default namespaces, the kubernetes and kube-dns Services, and
 * what other files make at start. */
int mk_apiserver_bootstrap(struct mk_apiserver *srv, struct mk_error **err);

/* Parses the labelSelector/fieldSelector query parameters (either may come back
 * NULL = everything); on error fills a 400 reply and returns -1. (handlers.c) */
int mk_request_selectors(struct mk_request *req, struct mk_reply *rep,
			 struct mk_label_selector **ret_labels, struct mk_field_selector **ret_fields);

/* services.c: ClusterIP / NodePort allocation (see there). */
int mk_services_parse_cidr(const char *cidr, uint32_t *ret_base, uint32_t *ret_size);
int mk_services_allocate(struct mk_apiserver *srv, cJSON *svc, cJSON **ret_causes,
			 struct mk_error **err);
/* For a dryRun create: what mk_services_allocate would refuse about the addresses
 * svc asks for (malformed, out of range, taken), reserving nothing. -1 with causes. */
int mk_services_check(struct mk_apiserver *srv, const cJSON *svc, cJSON **ret_causes);
void mk_services_release(struct mk_apiserver *srv, const cJSON *svc);
/* Releases the node ports (and health check port) old had and svc no longer
 * has, after an update (a type change away from NodePort / LoadBalancer). */
void mk_services_release_dropped(struct mk_apiserver *srv, const cJSON *old, const cJSON *svc);
/* On update: reserves the node ports (and health check port) svc has or needs
 * that old did not have, allocating missing ones (a type change to NodePort or
 * LoadBalancer). -1 with *ret_causes (422) or *err; nothing stays reserved. */
int mk_services_allocate_update(struct mk_apiserver *srv, const cJSON *old, cJSON *svc,
				cJSON **ret_causes, struct mk_error **err);
int mk_services_repair(struct mk_apiserver *srv, struct mk_error **err);
int mk_nodes_allocate_cidr(struct mk_apiserver *srv, cJSON *node, struct mk_error **err);
void mk_nodes_release_cidr(struct mk_apiserver *srv, const cJSON *node);

/* storage.c: the built-in StorageClass local-path (created at start when absent),
 * and the default class given to a claim created without spec.storageClassName
 * (the DefaultStorageClass admission plugin). */
int mk_storage_bootstrap(struct mk_apiserver *srv, struct mk_error **err);
int mk_storage_default_class(struct mk_apiserver *srv, cJSON *pvc, struct mk_error **err);
/* Admission of a new claim or volume (other kinds: nothing): the protection
 * finalizers (kubernetes.io/pvc-protection, kubernetes.io/pv-protection) and the
 * default class. */
int mk_storage_admit(struct mk_apiserver *srv, const struct mk_api_resource *r, cJSON *obj,
		     struct mk_error **err);

/* The stored objects of resource in ns ("": every namespace, or cluster-scoped),
 * parsed; owned array of owned trees, *ret_n of them (free with
 * mk_stored_objects_free); NULL with *err when the store fails. */
cJSON **mk_stored_objects_load(struct mk_apiserver *srv, const char *resource, const char *ns,
			       size_t *ret_n, struct mk_error **err);
void mk_stored_objects_free(cJSON **v, size_t n);

/* admission.c: admission of a new object of r in namespace ns, in two phases as
 * kube-apiserver's. NamespaceLifecycle: the namespace must exist (404) and not be
 * terminating (403 with the NamespaceTerminating cause; name: the object's name or
 * generateName); fills rep and returns -1 otherwise. mutate (before the kind's
 * validation): LimitRanger's container defaults. validate (after it): LimitRanger's
 * bounds and ResourceQuota, which charges obj to the namespace's quotas unless dry;
 * -1 with a 403 in *err ('pods "x" is forbidden: ...'). */
int mk_admission_namespace_lifecycle(struct mk_apiserver *srv, const struct mk_api_resource *r,
				     const char *ns, const char *name, struct mk_reply *rep);
int mk_admission_mutate(struct mk_apiserver *srv, const struct mk_api_resource *r,
			const char *ns, cJSON *obj, struct mk_error **err);
int mk_admission_validate(struct mk_apiserver *srv, const struct mk_api_resource *r,
			  const char *ns, const cJSON *obj, bool dry, struct mk_error **err);
/* ResourceQuota for an update of old to obj (services and claims: what the update
 * adds is charged). */
int mk_admission_validate_update(struct mk_apiserver *srv, const struct mk_api_resource *r,
				 const char *ns, const cJSON *obj, const cJSON *old, bool dry,
				 struct mk_error **err);

/* proxy.c: pods/log and pods/exec|attach, proxied to the pod's node agent. */
void mk_proxy_pod_log(struct mk_request *req, struct mk_reply *rep);
/* binding.c: POST pods/NAME/binding (a Binding): bind the pod to its target node */
void mk_pods_binding_handle(struct mk_request *req, struct mk_reply *rep);
/* Whether the request is a dry run (dryRun in the query, or body_dry from a
 * DeleteOptions body); a value other than "All" gets kube-apiserver's 422 on
 * OPTS_KIND in rep and -1 (handlers.c). */
int mk_request_dry_run(struct mk_request *req, struct mk_reply *rep, const char *opts_kind,
		       const cJSON *body_dry, bool *ret_dry);
void mk_proxy_pod_exec(struct mk_request *req, struct mk_reply *rep);
/* Ends every exec session of srv (server stopping; before MHD_stop_daemon). */
void mk_proxy_cancel_all(struct mk_apiserver *srv);

/* portforward.c: pods/portforward (WebSocket v4, WebSocket-tunnelled SPDY, SPDY),
 * proxied to the pod's node agent. */
void mk_proxy_pod_portforward(struct mk_request *req, struct mk_reply *rep);
/* Ends every port-forward session of srv (server stopping). */
void mk_portforward_cancel_all(struct mk_apiserver *srv);
/* The pod's agent endpoint "https://IP:PORT" (owned); on failure fills rep. */
int mk_portforward_agent_base(struct mk_apiserver *srv, const char *ns, const char *name,
			      struct mk_reply *rep, char **ret_base);

/* proxy_http.c: services/NAME[:PORT]/proxy/PATH and pods/NAME[:PORT]/proxy/PATH.
 * match: whether url (the request path) is one of those. */
bool mk_proxy_http_match(const char *url);
void mk_proxy_http_handle(struct mk_request *req, struct mk_reply *rep);
/* "[SCHEME:]NAME[:PORT]" (SCHEME http or https, default http; PORT may be empty);
 * false when malformed. Outputs owned. */
bool mk_proxy_http_split_id(const char *id, char **ret_scheme, char **ret_name, char **ret_port);
/* A backend's Location rewritten to go through the proxy (prefix: the request path
 * up to ".../proxy"; backend: its host:port; req_host: the client's Host), or NULL
 * when it stays as is (another host, a relative path). Owned. */
char *mk_proxy_http_rewrite_location(const char *loc, const char *backend, const char *req_host,
				     const char *prefix);

/* ---- RBAC (rbac.c: pure; rbac_policy.c: the server's policy) ------------------ */
struct mk_rbac_index;
struct rrule;
struct mk_rbac_index *mk_rbac_index_new(void);
/* Adds obj, an object of resource (roles, clusterroles, rolebindings,
 * clusterrolebindings; others ignored); then seal before use. */
void mk_rbac_index_add(struct mk_rbac_index *x, const char *resource, const cJSON *obj);
void mk_rbac_index_seal(struct mk_rbac_index *x);
void mk_rbac_index_free(struct mk_rbac_index *x);
/* Whether a binding of x grants u the request a; *ret_reason (owned, may be NULL)
 * names the binding when allowed. */
bool mk_rbac_index_allows(const struct mk_rbac_index *x, const struct mk_user_info *u,
			  const struct mk_authz_attrs *a, char **ret_reason);
/* The rules u holds in ns (NULL: cluster-wide only), a JSON array of PolicyRule. */
cJSON *mk_rbac_index_rules(const struct mk_rbac_index *x, const struct mk_user_info *u,
			   const char *ns);
/* The rules of Role ns/name (ns NULL: ClusterRole name), or NULL if absent. Owned. */
cJSON *mk_rbac_index_role_rules(const struct mk_rbac_index *x, const char *ns, const char *name);
/* NULL when the rules owner (JSON array) cover every permission of servant, else the
 * missing ones in kube-apiserver's compact form, one a line (owned). */
char *mk_rbac_rules_uncovered(const cJSON *owner, const cJSON *servant);
/* The union of the rules of roles[0..n) (ClusterRole objects) selected by role's
 * aggregationRule, role itself excluded. Owned. */
cJSON *mk_rbac_aggregate_rules(const cJSON *role, const cJSON *const *roles, size_t n);
/* The authorization attributes of an HTTP request (RequestInfo); strings point into
 * *scratch (owned, free it after). */
void mk_authz_attrs_from_request(const char *method, const char *url, bool watch,
				 char **scratch, struct mk_authz_attrs *a);
/* kube-apiserver's 403 message for user denied a (owned). */
char *mk_rbac_forbidden_message(const char *user, const struct mk_authz_attrs *a);
bool mk_user_info_in_group(const struct mk_user_info *u, const char *g);
void mk_user_info_add_group(struct mk_user_info *u, const char *g);
void mk_user_info_copy(struct mk_user_info *dst, const struct mk_user_info *src);
void mk_user_info_release(struct mk_user_info *u);
/* ["a" "b"], as Go's %q prints a []string (owned). */
char *mk_user_info_groups_quoted(const struct mk_user_info *u);

struct mk_rbac;
/* A --token-auth-file line: token,user,uid,"group1,group2". */
struct mk_token_user {
	char *token;
	struct mk_user_info ui;
};
/* Loads the static token file (kube-apiserver's --token-auth-file CSV). */
int mk_rbac_token_file_load(struct mk_apiserver *srv, const char *path, struct mk_error **err);
/* The user of a static token, or NULL. */
const struct mk_token_user *mk_rbac_token_user(struct mk_apiserver *srv, const char *token);
/* Makes the default ClusterRoles and bindings (absent ones, or missing rules of
 * those marked autoupdate), aggregates, builds the index. */
int mk_rbac_start(struct mk_apiserver *srv, struct mk_error **err);
void mk_rbac_free(struct mk_apiserver *srv);
/* After a write to an RBAC kind or a namespace: the index is rebuilt (from the
 * store: RBAC writes are rare, requests are not), after ClusterRole aggregation when
 * aggregate (a ClusterRole was written). */
void mk_rbac_refresh(struct mk_apiserver *srv, bool aggregate);
/* The one decision for requests and reviews: may req's identity (req->ui, the
 * caller kind) do a. *ret_reason as mk_rbac_index_allows (may be NULL). */
bool mk_authz_request(struct mk_request *req, const struct mk_authz_attrs *a, char **ret_reason);
/* Whether u (not a token: any user, as SubjectAccessReview asks) may do a. */
bool mk_rbac_allowed(struct mk_apiserver *srv, const struct mk_user_info *u,
		     const struct mk_authz_attrs *a, char **ret_reason);
/* The rules u holds in ns (SelfSubjectRulesReview), JSON array owned. */
cJSON *mk_rbac_rules_of(struct mk_apiserver *srv, const struct mk_user_info *u, const char *ns);
/* Fills req->ui from the authenticated caller, then applies the Impersonate-*
 * headers; -1 when rep holds the refusal. */
int mk_rbac_identify(struct mk_request *req, struct mk_reply *rep);
/* The 403 for req's identity denied a (kube-apiserver's words). */
void mk_rbac_forbid(struct mk_request *req, struct mk_reply *rep, const struct mk_authz_attrs *a);
/* Escalation prevention on a write of an RBAC object obj (old: NULL on create):
 * 0 to go on, -1 when rep holds the 403. */
int mk_rbac_admit(struct mk_request *req, struct mk_reply *rep, const cJSON *obj,
		  const cJSON *old);

/* watch.c: starts a watch stream reply for a list request. */
void mk_watch_handle(struct mk_request *req, struct mk_reply *rep);
/* An in-process watch (rep->local_watch of a request without a connection):
 * next blocks for the next bytes of the stream (whole event lines; borrowed until
 * the next call): 1, or 0 once it ended. cancel (any thread) ends it promptly. */
struct mk_watch_local;
int mk_watch_local_next(struct mk_watch_local *lw, const char **ret_data, size_t *ret_len);
void mk_watch_local_cancel(struct mk_watch_local *lw);
void mk_watch_local_free(struct mk_watch_local *lw);

/* local.c: an in-process request's query arguments and headers, as MHD's lookups:
 * present (value NULL for "?watch" without "=") or not. */
struct mk_local_req;
bool mk_local_arg(const struct mk_local_req *l, const char *key, const char **ret_value);
const char *mk_local_header(const struct mk_local_req *l, const char *key);
/* Calls fn for each query argument, as MHD_get_connection_values. */
void mk_local_args_each(const struct mk_local_req *l,
			void (*fn)(void *cls, const char *key, const char *value), void *cls);
/* Calls fn(cls, key, value) for each query argument of req (HTTP or in-process). */
void mk_request_args_each(struct mk_request *req,
			  void (*fn)(void *cls, const char *key, const char *value), void *cls);

/* ui.c: /ui/api/... (the data path view, admin only); true when answered */
bool mk_ui_handle(struct mk_request *req, struct mk_reply *rep);
/* ui.c: the /ui/ page's static files (public: the page asks for the token); true
 * when answered */
bool mk_ui_static(struct mk_request *req, struct mk_reply *rep);
/* Cancels every active watch (server stopping). */
void mk_watch_cancel_all(struct mk_apiserver *srv);

/* fieldmanager.c: managedFields and server-side apply on the request side. */
/* The manager of a write: fieldManager, else the User-Agent's product (owned). */
char *mk_fieldmanager_name(struct mk_request *req);
/* fieldManager (printable, <= 128 bytes; required for apply) and force (apply
 * only) as ValidatePatchOptions checks them; 422 on opts_kind otherwise. */
int mk_fieldmanager_check(struct mk_request *req, struct mk_reply *rep, const char *opts_kind,
			  bool apply);
/* Records the write old -> obj (old NULL for a create) in obj's managedFields;
 * sent: the managedFields the client sent, or NULL. */
void mk_fieldmanager_update(struct mk_request *req, const cJSON *old, cJSON *obj,
			    const cJSON *sent);
/* The apply body of req as a checked configuration (*ret owned): apiVersion and
 * kind of the resource, name and namespace of the URL, no managedFields; status
 * or everything but status dropped as the endpoint resets them. */
int mk_fieldmanager_apply_config(struct mk_request *req, struct mk_reply *rep, cJSON **ret);
/* Applies cfg onto live (NULL: create). 0 with *ret_obj (owned, its managedFields
 * set); -1 with the reply filled (409 Conflict, 400). */
int mk_fieldmanager_apply(struct mk_request *req, struct mk_reply *rep, const cJSON *live,
			  const cJSON *cfg, cJSON **ret_obj);

#endif
