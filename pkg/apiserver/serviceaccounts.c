/* Service accounts in the API server: the default ServiceAccount of every
 * namespace (kube-controller-manager's serviceaccount controller makes it; here the
 * server does, when a namespace is made, at start and when it is deleted), the ServiceAccount
 * admission of pods (spec.serviceAccountName defaulted, the account must exist, the
 * kube-api-access-XXXXX volume added and mounted unless automount is off), the
 * kube-root-ca.crt ConfigMap of every namespace,
 * TokenRequest (POST .../serviceaccounts/NAME/token, authentication.k8s.io/v1)
 * minting the JWTs of satoken.c, and the 403 a service account gets for anything
 * beyond discovery and self review: with no RBAC here, a service account holds
 * exactly what kube-apiserver's default roles give every authenticated user. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

#define ROOT_CA_CONFIGMAP "kube-root-ca.crt"
#define API_ACCESS_PATH "/var/run/secrets/kubernetes.io/serviceaccount"
#define DEFAULT_EXPIRATION 3600
#define MIN_EXPIRATION 600		 /* upstream: "less than 10 minutes" */
#define MAX_EXPIRATION (1LL << 32)	 /* upstream: "larger than 2^32 seconds" */

/* kube-root-ca.crt: the cluster CA for in-cluster clients, in every namespace (what
 * kube-controller-manager's root-ca-cert-publisher keeps); the automounted API
 * access volume reads its ca.crt */
static int ensure_root_ca(struct mk_apiserver *srv, const char *ns, struct mk_error **err)
{
	if (!srv->ca_pem)
		return 0;
	_cleanup_cjson_ cJSON *cm = mk_api_object_new("v1", "ConfigMap", ns, ROOT_CA_CONFIGMAP);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cm, "data"), "ca.crt", srv->ca_pem);
	if (mk_store_create(srv->store, "configmaps", ns, ROOT_CA_CONFIGMAP, cm, NULL, NULL, err) < 0) {
		if ((*err)->code != EEXIST)
			return mk_error_wrap(err, "%s of '%s'", ROOT_CA_CONFIGMAP, ns);
		mk_error_free(err);
	}
	return 0;
}

int mk_serviceaccounts_ensure_default(struct mk_apiserver *srv, const char *ns,
				      struct mk_error **err)
{
	if (ensure_root_ca(srv, ns, err) < 0)
		return -1;
	_cleanup_cjson_ cJSON *sa = mk_api_object_new("v1", "ServiceAccount", ns, "default");
	if (mk_store_create(srv->store, "serviceaccounts", ns, "default", sa, NULL, NULL, err) < 0) {
		if ((*err)->code != EEXIST)
			return mk_error_wrap(err, "default service account of '%s'", ns);
		mk_error_free(err);
	}
	return 0;
}

void mk_serviceaccounts_deleted(struct mk_apiserver *srv, const char *resource, const char *ns,
				const char *name)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *json = NULL;

	if (!ns || !((!strcmp(resource, "serviceaccounts") && !strcmp(name, "default")) ||
		     (!strcmp(resource, "configmaps") && !strcmp(name, ROOT_CA_CONFIGMAP))))
		return;
	if (mk_store_get(srv->store, "namespaces", "", ns, &json, NULL, &err) < 0 ||
	    strstr(json, "\"deletionTimestamp\""))
		return;
	if (mk_serviceaccounts_ensure_default(srv, ns, &err) < 0)
		mk_log(MK_LOG_WARN, "apiserver", "%s", err->msg);
}

int mk_serviceaccounts_bootstrap(struct mk_apiserver *srv, struct mk_error **err)
{
	struct mk_store_list l = { 0 };
	int r = 0;

	if (mk_store_list(srv->store, "namespaces", "", NULL, NULL, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n && r == 0; i++) {
		_cleanup_cjson_ cJSON *o = cJSON_Parse(l.items[i]);
		const char *name = mk_json_get_string(o, "metadata.name");
		if (name && !mk_json_get(o, "metadata.deletionTimestamp"))
			r = mk_serviceaccounts_ensure_default(srv, name, err);
	}
	mk_store_list_release(&l);
	return r;
}

/* the stored object res ns/name, or NULL (err set: ENOENT when absent); from the
 * list cache when it holds res (current with every acknowledged write, as a store
 * read is), else from the store: every pod create reads its service account */
static cJSON *get_object(struct mk_apiserver *srv, const char *res, const char *ns,
			 const char *name, struct mk_error **err)
{
	_cleanup_free_ char *json = NULL;
	int cached = mk_listcache_get(srv, res, ns, name, &json);
	if (cached < 0) {
		mk_error_set(err, ENOENT, "%s \"%s\" not found", res, name);
		return NULL;
	}
	if (!cached && mk_store_get(srv->store, res, ns, name, &json, NULL, err) < 0)
		return NULL;
	return cJSON_Parse(json);
}

static bool mounts_api_path(const cJSON *c)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(c, "volumeMounts"))
	{
		const char *p = mk_json_get_string(m, "mountPath");
		if (p && !strcmp(p, API_ACCESS_PATH))
			return true;
	}
	return false;
}

/* The kube-api-access-XXXXX projected volume (a bound token, the cluster CA and the
 * namespace) mounted read-only at API_ACCESS_PATH in every container that does not
 * mount something there already, as upstream's ServiceAccount admission adds it. */
static void add_api_access(cJSON *spec)
{
	static const char *const lists[] = { "initContainers", "containers" };
	char sfx[6], vname[32];
	bool needed = false;
	const cJSON *c;

	for (size_t i = 0; i < MK_ARRAY_SIZE(lists); i++)
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[i]))
			needed |= cJSON_IsObject(c) && !mounts_api_path(c);
	if (!needed)
		return;
	mk_random_k8s_suffix(sfx, 5);
	/* the token asked for 3607 s: an hour and 7 s, as upstream's admission (the odd
	 * lifetime tells these tokens from others) */
	snprintf(vname, sizeof(vname), "kube-api-access-%s", sfx);
	cJSON *vol = cJSON_Parse(
		"{\"projected\":{\"defaultMode\":420,\"sources\":["
		"{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},"
		"{\"configMap\":{\"name\":\"" ROOT_CA_CONFIGMAP "\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}},"
		"{\"downwardAPI\":{\"items\":[{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":"
		"\"metadata.namespace\"},\"path\":\"namespace\"}]}}]}}");
	cJSON *name = cJSON_CreateString(vname);
	name->string = mk_strdup("name");
	cJSON_InsertItemInArray(vol, 0, name);
	cJSON *vols = cJSON_GetObjectItemCaseSensitive(spec, "volumes");
	if (!cJSON_IsArray(vols)) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "volumes");
		vols = cJSON_AddArrayToObject(spec, "volumes");
	}
	cJSON_AddItemToArray(vols, vol);
	for (size_t i = 0; i < MK_ARRAY_SIZE(lists); i++) {
		cJSON *ci;
		cJSON_ArrayForEach(ci, cJSON_GetObjectItemCaseSensitive(spec, lists[i]))
		{
			if (!cJSON_IsObject(ci) || mounts_api_path(ci))
				continue;
			cJSON *vm = cJSON_GetObjectItemCaseSensitive(ci, "volumeMounts");
			if (!cJSON_IsArray(vm)) {
				cJSON_DeleteItemFromObjectCaseSensitive(ci, "volumeMounts");
				vm = cJSON_AddArrayToObject(ci, "volumeMounts");
			}
			cJSON *m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "name", vname);
			cJSON_AddBoolToObject(m, "readOnly", true);
			cJSON_AddStringToObject(m, "mountPath", API_ACCESS_PATH);
			cJSON_AddItemToArray(vm, m);
		}
	}
}

int mk_serviceaccounts_admit_pod(struct mk_apiserver *srv, const char *ns, cJSON *pod,
				 struct mk_error **err)
{
	cJSON *spec = mk_json_ensure_object(pod, "spec");
	const char *san = mk_json_get_string(spec, "serviceAccountName");
	const char *sa = mk_json_get_string(spec, "serviceAccount");
	_cleanup_free_ char *name = mk_strdup(san && *san ? san : sa && *sa ? sa : "default");

	mk_json_set_string(spec, "serviceAccountName", name);
	mk_json_set_string(spec, "serviceAccount", name); /* the deprecated alias follows */
	_cleanup_error_ struct mk_error *e = NULL;
	_cleanup_cjson_ cJSON *obj = get_object(srv, "serviceaccounts", ns, name, &e);
	if (obj) {
		/* the pod's automountServiceAccountToken wins over the account's */
		const cJSON *am = cJSON_GetObjectItemCaseSensitive(spec, "automountServiceAccountToken");
		if (!cJSON_IsBool(am))
			am = cJSON_GetObjectItemCaseSensitive(obj, "automountServiceAccountToken");
		if (!cJSON_IsFalse(am) && srv->ca_pem)
			add_api_access(spec);
		return 0;
	}
	if (e->code != ENOENT)
		return mk_error_set(err, e->code, "%s", e->msg);
	const char *pn = mk_json_get_string(pod, "metadata.name");
	return mk_error_set(err, 403,
			    "pods \"%s\" is forbidden: error looking up service account %s/%s: "
			    "serviceaccount \"%s\" not found",
			    pn ? pn : "", ns, name, name);
}

static struct mk_satoken_key *signing_key(struct mk_apiserver *srv, struct mk_error **err)
{
	struct mk_satoken_key *k;
	pthread_mutex_lock(&srv->lock);
	/* no key file (a server without a data dir, as tests start): one for this run */
	if (!srv->sa_key && mk_satoken_key_load(NULL, &srv->sa_key, err) < 0)
		srv->sa_key = NULL;
	k = srv->sa_key;
	pthread_mutex_unlock(&srv->lock);
	return k;
}

static void reply_invalid(struct mk_reply *rep, const char *name, const char *field,
			  const char *reason, const char *detail)
{
	cJSON *causes = cJSON_CreateArray();
	mk_api_cause_add(causes, reason, field, "%s", detail);
	_cleanup_free_ char *msg = mk_strdup_printf(
		"TokenRequest.authentication.k8s.io \"%s\" is invalid: %s: %s", name, field, detail);
	_cleanup_cjson_ cJSON *st = mk_api_status_new(422, "Invalid", msg, "TokenRequest", name, causes);
	mk_json_set_string(mk_json_get(st, "details"), "group", "authentication.k8s.io");
	mk_reply_json(rep, 422, st);
}

static cJSON *decode(struct mk_request *req, struct mk_reply *rep)
{
	cJSON *obj = mk_request_body_object(req, rep, "TokenRequest");
	if (!obj)
		return NULL;
	const char *k = mk_json_get_string(obj, "kind");
	if (k && *k && strcmp(k, "TokenRequest")) {
		mk_reply_status(rep, 400, NULL, NULL, "the body of the request is a %s, expected "
				"authentication.k8s.io/v1 TokenRequest", k);
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

/* spec.expirationSeconds (DEFAULT_EXPIRATION when unset): an integer between
 * MIN_ and MAX_EXPIRATION. -1 with a 422 in rep. */
static int token_expiration(const cJSON *spec, struct mk_reply *rep, const char *name,
			    long long *ret)
{
	const cJSON *es = cJSON_GetObjectItemCaseSensitive(spec, "expirationSeconds");
	char detail[160];

	*ret = DEFAULT_EXPIRATION;
	if (!es || cJSON_IsNull(es))
		return 0;
	if (!cJSON_IsNumber(es) || es->valuedouble != (double)(long long)es->valuedouble) {
		reply_invalid(rep, name, "spec.expirationSeconds", "FieldValueInvalid",
			      "Invalid value: must be an integer");
		return -1;
	}
	long long exp_s = (long long)es->valuedouble;
	if (exp_s < MIN_EXPIRATION || exp_s > MAX_EXPIRATION) {
		snprintf(detail, sizeof(detail), "Invalid value: %lld: may not specify a duration %s",
			 exp_s, exp_s < MIN_EXPIRATION ? "less than 10 minutes"
						       : "larger than 2^32 seconds");
		reply_invalid(rep, name, "spec.expirationSeconds", "FieldValueInvalid", detail);
		return -1;
	}
	*ret = exp_s;
	return 0;
}

/* spec.audiences, non-empty strings (the API server's audience when none): a
 * new array, or NULL with a 422 in rep. */
static cJSON *token_audiences(const cJSON *spec, struct mk_reply *rep, const char *name)
{
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(spec, "audiences");
	_cleanup_cjson_ cJSON *audiences = cJSON_CreateArray();
	char detail[64];

	if (aud && !cJSON_IsNull(aud)) {
		const cJSON *a;
		int i = 0;
		if (!cJSON_IsArray(aud)) {
			reply_invalid(rep, name, "spec.audiences", "FieldValueInvalid",
				      "Invalid value: must be a list of strings");
			return NULL;
		}
		cJSON_ArrayForEach(a, aud)
		{
			if (!cJSON_IsString(a) || !a->valuestring[0]) {
				snprintf(detail, sizeof(detail), "spec.audiences[%d]", i);
				reply_invalid(rep, name, detail, "FieldValueInvalid",
					      "Invalid value: must be a non-empty string");
				return NULL;
			}
			cJSON_AddItemToArray(audiences, cJSON_CreateString(a->valuestring));
			i++;
		}
	}
	if (!cJSON_GetArraySize(audiences))
		cJSON_AddItemToArray(audiences, cJSON_CreateString(MK_SATOKEN_API_AUDIENCE));
	return TAKE_PTR(audiences);
}

/* spec.boundObjectRef: the object the token is bound to, a Pod (upstream also
 * knows Secret and Node), looked up and its uid checked. *ret_pod stays NULL
 * when unbound. -1 with rep filled. */
static int token_bound_pod(struct mk_request *req, struct mk_reply *rep, const cJSON *spec,
			   cJSON **ret_pod)
{
	const cJSON *bor = cJSON_GetObjectItemCaseSensitive(spec, "boundObjectRef");
	_cleanup_error_ struct mk_error *err = NULL;
	const char *name = req->name;
	char detail[160];

	*ret_pod = NULL;
	if (!bor || cJSON_IsNull(bor))
		return 0;
	const char *kind = mk_json_get_string(bor, "kind");
	const char *bn = mk_json_get_string(bor, "name");
	const char *bu = mk_json_get_string(bor, "uid");
	const char *bav = mk_json_get_string(bor, "apiVersion");
	if (!kind || strcmp(kind, "Pod")) {
		snprintf(detail, sizeof(detail),
			 "Unsupported value: \"%s\": supported values: \"Pod\"", kind ? kind : "");
		reply_invalid(rep, name, "spec.boundObjectRef.kind", "FieldValueNotSupported",
			      detail);
		return -1;
	}
	if (bav && *bav && strcmp(bav, "v1")) {
		snprintf(detail, sizeof(detail), "Unsupported value: \"%s\": supported values: \"v1\"",
			 bav);
		reply_invalid(rep, name, "spec.boundObjectRef.apiVersion", "FieldValueNotSupported",
			      detail);
		return -1;
	}
	if (!bn || !*bn) {
		reply_invalid(rep, name, "spec.boundObjectRef.name", "FieldValueRequired",
			      "Required value");
		return -1;
	}
	_cleanup_cjson_ cJSON *pod = get_object(req->srv, "pods", req->ns, bn, &err);
	if (!pod) {
		mk_reply_error(rep, mk_api_resource_find("", "v1", "pods"), bn, err);
		return -1;
	}
	const char *pod_uid = mk_json_get_string(pod, "metadata.uid");
	if (bu && *bu && (!pod_uid || strcmp(bu, pod_uid))) {
		mk_reply_status(rep, 409, "pods", bn,
				"the UID in the bound object reference (%s) does not match "
				"the UID in record. The object might have been deleted and "
				"then recreated", bu);
		return -1;
	}
	*ret_pod = TAKE_PTR(pod);
	return 0;
}

/* A node may only request tokens bound to a pod scheduled to it and running as
 * this account (what the agent needs for the pods it runs; NodeRestriction).
 * -1 with a 403 in rep. */
static int token_node_allowed(struct mk_request *req, struct mk_reply *rep, const cJSON *pod)
{
	if (req->caller != MK_CALLER_NODE)
		return 0;
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	const char *psa = mk_json_get_string(pod, "spec.serviceAccountName");
	if (!pod || !node || !req->node_name || strcmp(node, req->node_name) || !psa ||
	    strcmp(psa, req->name)) {
		mk_reply_status(rep, 403, "serviceaccounts", req->name,
				"serviceaccounts \"%s\" is forbidden: node \"%s\" may only "
				"request tokens bound to a pod scheduled to it and running as "
				"the service account", req->name, req->node_name ? req->node_name : "");
		return -1;
	}
	return 0;
}

/* The reply: the request, defaulted, with its status (the token). */
static cJSON *token_response(struct mk_request *req, const cJSON *audiences, long long exp_s,
			     const cJSON *pod, const char *tok, time_t now)
{
	cJSON *out = cJSON_CreateObject();
	char ts[32];
	cJSON_AddStringToObject(out, "kind", "TokenRequest");
	cJSON_AddStringToObject(out, "apiVersion", "authentication.k8s.io/v1");
	cJSON *md = cJSON_AddObjectToObject(out, "metadata");
	cJSON_AddStringToObject(md, "name", req->name);
	cJSON_AddStringToObject(md, "namespace", req->ns);
	mk_time_format(now, ts, sizeof(ts));
	cJSON_AddStringToObject(md, "creationTimestamp", ts);
	cJSON *os = cJSON_AddObjectToObject(out, "spec");
	cJSON_AddItemToObject(os, "audiences", cJSON_Duplicate(audiences, 1));
	cJSON_AddNumberToObject(os, "expirationSeconds", (double)exp_s);
	if (pod) {
		const char *pod_name = mk_json_get_string(pod, "metadata.name");
		const char *pod_uid = mk_json_get_string(pod, "metadata.uid");
		cJSON *b = cJSON_AddObjectToObject(os, "boundObjectRef");
		cJSON_AddStringToObject(b, "kind", "Pod");
		cJSON_AddStringToObject(b, "apiVersion", "v1");
		cJSON_AddStringToObject(b, "name", pod_name ? pod_name : "");
		cJSON_AddStringToObject(b, "uid", pod_uid ? pod_uid : "");
	} else {
		cJSON_AddNullToObject(os, "boundObjectRef");
	}
	cJSON *st = cJSON_AddObjectToObject(out, "status");
	cJSON_AddStringToObject(st, "token", tok);
	mk_time_format(now + exp_s, ts, sizeof(ts));
	cJSON_AddStringToObject(st, "expirationTimestamp", ts);
	return out;
}

void mk_serviceaccounts_token(struct mk_request *req, struct mk_reply *rep)
{
	struct mk_apiserver *srv = req->srv;
	const char *ns = req->ns, *name = req->name;
	_cleanup_error_ struct mk_error *err = NULL;
	time_t now = time(NULL);
	long long exp_s;

	if (strcmp(req->method, "POST")) {
		mk_reply_status(rep, 405, "serviceaccounts", name, "the server does not allow this "
				"method on the requested resource: only create (POST) is supported");
		return;
	}
	_cleanup_cjson_ cJSON *tr = decode(req, rep);
	if (!tr)
		return;
	cJSON *spec = mk_json_ensure_object(tr, "spec");
	if (token_expiration(spec, rep, name, &exp_s) < 0)
		return;
	_cleanup_cjson_ cJSON *audiences = token_audiences(spec, rep, name);
	if (!audiences)
		return;
	_cleanup_cjson_ cJSON *sa = get_object(srv, "serviceaccounts", ns, name, &err);
	if (!sa) {
		mk_reply_error(rep, mk_api_resource_find("", "v1", "serviceaccounts"), name, err);
		return;
	}
	const char *sa_uid = mk_json_get_string(sa, "metadata.uid");
	_cleanup_cjson_ cJSON *pod = NULL;
	if (token_bound_pod(req, rep, spec, &pod) < 0 || token_node_allowed(req, rep, pod) < 0)
		return;
	const char *pod_name = mk_json_get_string(pod, "metadata.name");
	const char *pod_uid = mk_json_get_string(pod, "metadata.uid");

	struct mk_satoken_key *key = signing_key(srv, &err);
	if (!key) {
		mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
		return;
	}
	_cleanup_cjson_ cJSON *claims = mk_satoken_claims_new(ns, name, sa_uid ? sa_uid : "",
							       pod_name, pod_uid ? pod_uid : "",
							       audiences, now, now + exp_s);
	_cleanup_free_ char *tok = mk_satoken_sign(key, claims, &err);
	if (!tok) {
		mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
		return;
	}
	_cleanup_cjson_ cJSON *out = token_response(req, audiences, exp_s, pod, tok, now);
	mk_reply_json(rep, 201, out);
	explicit_bzero(tok, strlen(tok));
}
