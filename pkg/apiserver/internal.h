/* apiserver internals shared by the files of pkg/apiserver. */
#ifndef MINIK8S_APISERVER_INTERNAL_H
#define MINIK8S_APISERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <microhttpd.h>
#include "minik8s/apiserver.h"
#include "minik8s/api.h"
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
};

/* Who is calling: the admin token, the node join token, a service account token
 * (req->sa_ns/sa_name say which), or nobody. */
enum mk_caller { MK_CALLER_NONE, MK_CALLER_ADMIN, MK_CALLER_NODE, MK_CALLER_SA };

/* What a caller asks to do, in Kubernetes terms (verb get/list/watch/create/update/
 * patch/delete/deletecollection; resource NULL for a non-resource path). */
struct mk_authz_attrs {
	const char *verb;
	const char *resource;	/* plural, or NULL */
	const char *sub;	/* subresource, or NULL */
	const char *name;	/* object name, or NULL (all) */
	const char *ns;		/* namespace, or NULL (all, or cluster-scoped) */
	const char *path;	/* non-resource requests: the URL path, or NULL */
};

/* The authorizer (server.c): whether who may do a. */
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
};

/* A reply: status code + body + content type. Handlers fill it; server.c sends. */
struct mk_reply {
	unsigned code;
	char *body;		/* owned */
	size_t body_len;	/* length of a binary body; 0: body is a C string */
	char *warning;		/* Warning header value (owned), or NULL */
	const char *content_type;
	struct MHD_Response *stream;	/* set instead of body for streaming replies */
};

/* reply helpers (server.c) */
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

/* discovery.c: handles /version, /api, /apis, /api/v1, /apis/GROUP[/v1], /openapi/v2,
 * /openapi/v3[/...];
 * returns false if path is not a discovery path. */
bool mk_discovery_handle(struct mk_request *req, const char *path, struct mk_reply *rep);

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
/* The 403 a service account gets for req (kube-apiserver's RBAC wording). */
void mk_serviceaccounts_forbid(struct mk_request *req, struct mk_reply *rep);
/* POST .../serviceaccounts/NAME/token (TokenRequest). */
void mk_serviceaccounts_token(struct mk_request *req, struct mk_reply *rep);

/* handlers.c: resource requests (req->res set). */
void mk_resource_handle(struct mk_request *req, struct mk_reply *rep);
/* Creates default namespaces etc. at start. */
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

/* proxy.c: pods/log and pods/exec|attach, proxied to the pod's node agent. */
void mk_proxy_pod_log(struct mk_request *req, struct mk_reply *rep);
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

/* watch.c: starts a watch stream reply for a list request. */
void mk_watch_handle(struct mk_request *req, struct mk_reply *rep);

/* ui.c: /ui/api/... (the data path view, admin only); true when answered */
bool mk_ui_handle(struct mk_request *req, struct mk_reply *rep);
/* ui.c: the /ui/ page's static files (public: the page asks for the token); true
 * when answered */
bool mk_ui_static(struct mk_request *req, struct mk_reply *rep);
/* Cancels every active watch (server stopping). */
void mk_watch_cancel_all(struct mk_apiserver *srv);

#endif
