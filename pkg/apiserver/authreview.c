/* SelfSubjectAccessReview (authorization.k8s.io/v1) and SelfSubjectReview
 * (authentication.k8s.io/v1): `kubectl auth can-i` and `kubectl auth whoami`.
 * Every authenticated caller may ask both (kube-apiserver's system:basic-user);
 * nothing is stored. The access answer comes from mk_authz_allowed, the same
 * function that authorizes real requests, so it cannot drift from the truth. */
#include <string.h>
#include <strings.h>
#include "internal.h"

#define SSAR_PATH "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
#define SSR_PATH "/apis/authentication.k8s.io/v1/selfsubjectreviews"

/* The identities behind the tokens: the admin's, the nodes', and service accounts'
 * (groups as kube-apiserver gives them). */
static void user_info(const struct mk_request *req, cJSON *ui)
{
	cJSON *g;
	if (req->caller == MK_CALLER_SA) {
		cJSON_AddStringToObject(ui, "username", req->sa_user);
		g = cJSON_AddArrayToObject(ui, "groups");
		cJSON_AddItemToArray(g, cJSON_CreateString("system:serviceaccounts"));
		_cleanup_free_ char *nsg = mk_strdup_printf("system:serviceaccounts:%s", req->sa_ns);
		cJSON_AddItemToArray(g, cJSON_CreateString(nsg));
		cJSON_AddItemToArray(g, cJSON_CreateString("system:authenticated"));
		return;
	}
	/* a node: system:node:NAME in system:nodes, as kubelets are; the join token:
	 * a bootstrap user in system:bootstrappers */
	const char *user = req->caller == MK_CALLER_ADMIN   ? "system:admin"
			   : req->caller == MK_CALLER_NODE ? req->node_user
							   : "system:bootstrap:node-join";
	const char *group = req->caller == MK_CALLER_ADMIN   ? "system:masters"
			    : req->caller == MK_CALLER_NODE ? "system:nodes"
							    : "system:bootstrappers";
	cJSON_AddStringToObject(ui, "username", user);
	g = cJSON_AddArrayToObject(ui, "groups");
	cJSON_AddItemToArray(g, cJSON_CreateString(group));
	cJSON_AddItemToArray(g, cJSON_CreateString("system:authenticated"));
}

/* The body as a JSON object of the expected kind; on failure fills rep, NULL. */
static cJSON *review_body(struct mk_request *req, struct mk_reply *rep, const char *api_version,
			  const char *kind)
{
	const char *ct = mk_request_header(req, "Content-Type");
	cJSON *obj = NULL;
	const char *k, *av;

	/* kubectl 1.32 sends these as protobuf */
	if (ct && !strncasecmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_api_protobuf_decode(req->body.data, req->body.len, &obj, &err) < 0) {
			mk_reply_status(rep, 400, NULL, NULL, "%s", err->msg);
			return NULL;
		}
	} else if (req->body.len) {
		obj = cJSON_ParseWithLength(req->body.data, req->body.len);
	}

	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		mk_reply_status(rep, 400, NULL, NULL, "the body of the request must be a JSON %s",
				kind);
		return NULL;
	}
	k = mk_json_get_string(obj, "kind");
	av = mk_json_get_string(obj, "apiVersion");
	if ((k && *k && strcmp(k, kind)) || (av && *av && strcmp(av, api_version))) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the body of the request is %s %s, expected %s %s", av ? av : "",
				k ? k : "", api_version, kind);
		cJSON_Delete(obj);
		return NULL;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "kind");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "apiVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
	cJSON *meta = cJSON_DetachItemFromObjectCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(meta)) {
		cJSON_Delete(meta);
		meta = cJSON_CreateObject();
	}
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "creationTimestamp");
	cJSON_AddNullToObject(meta, "creationTimestamp");
	/* kind, apiVersion, metadata first, as the server writes objects */
	cJSON *it = cJSON_CreateString(kind);
	it->string = mk_strdup("kind");
	cJSON_InsertItemInArray(obj, 0, it);
	it = cJSON_CreateString(api_version);
	it->string = mk_strdup("apiVersion");
	cJSON_InsertItemInArray(obj, 0, it);
	free(meta->string); /* a detached item keeps its key */
	meta->string = mk_strdup("metadata");
	cJSON_InsertItemInArray(obj, 2, meta);
	return obj;
}

static const char *opt_string(const cJSON *o, const char *key, cJSON *causes, const char *path)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!j || cJSON_IsNull(j))
		return NULL;
	if (!cJSON_IsString(j)) {
		mk_api_cause_add(causes, "FieldValueInvalid", path, "%s: Invalid value: must be a string",
				 path);
		return NULL;
	}
	return j->valuestring;
}

static void access_review(struct mk_request *req, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *obj =
		review_body(req, rep, "authorization.k8s.io/v1", "SelfSubjectAccessReview");
	if (!obj)
		return;
	if (mk_field_validation(req, rep, "authorization.k8s.io", "v1", "SelfSubjectAccessReview",
				obj, NULL, false) < 0)
		return;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *ra = cJSON_GetObjectItemCaseSensitive(spec, "resourceAttributes");
	const cJSON *na = cJSON_GetObjectItemCaseSensitive(spec, "nonResourceAttributes");
	cJSON *causes = cJSON_CreateArray();
	struct mk_authz_attrs a = { 0 };

	if (cJSON_IsObject(ra) == cJSON_IsObject(na)) {
		mk_api_cause_add(causes, "FieldValueInvalid", "spec.resourceAttributes",
				 "spec.resourceAttributes: Invalid value: exactly one of "
				 "nonResourceAttributes or resourceAttributes must be specified");
	} else if (cJSON_IsObject(ra)) {
		a.verb = opt_string(ra, "verb", causes, "spec.resourceAttributes.verb");
		a.resource = opt_string(ra, "resource", causes, "spec.resourceAttributes.resource");
		a.sub = opt_string(ra, "subresource", causes, "spec.resourceAttributes.subresource");
		a.name = opt_string(ra, "name", causes, "spec.resourceAttributes.name");
		a.ns = opt_string(ra, "namespace", causes, "spec.resourceAttributes.namespace");
		opt_string(ra, "group", causes, "spec.resourceAttributes.group");
		if (!a.resource)
			a.resource = "";
		if (a.sub && !*a.sub)
			a.sub = NULL;
		if (a.name && !*a.name)
			a.name = NULL;
		if (a.ns && !*a.ns)
			a.ns = NULL;
	} else {
		a.verb = opt_string(na, "verb", causes, "spec.nonResourceAttributes.verb");
		a.path = opt_string(na, "path", causes, "spec.nonResourceAttributes.path");
	}
	if (!cJSON_GetArraySize(causes) && (!a.verb || !*a.verb))
		mk_api_cause_add(causes, "FieldValueRequired",
				 ra ? "spec.resourceAttributes.verb" : "spec.nonResourceAttributes.verb",
				 "%s: Required value", ra ? "spec.resourceAttributes.verb"
							  : "spec.nonResourceAttributes.verb");
	if (cJSON_GetArraySize(causes)) {
		const char *m = mk_json_get_string(cJSON_GetArrayItem(causes, 0), "message");
		_cleanup_free_ char *msg =
			mk_strdup_printf("SelfSubjectAccessReview.authorization.k8s.io \"\" is "
					 "invalid: %s", m ? m : "");
		_cleanup_cjson_ cJSON *st = mk_api_status_new(422, "Invalid", msg,
							      "SelfSubjectAccessReview", NULL, causes);
		mk_json_set_string(mk_json_get(st, "details"), "group", "authorization.k8s.io");
		mk_reply_json(rep, 422, st);
		return;
	}
	cJSON_Delete(causes);
	a.node = req->node_name;
	a.store = req->srv->store;
	bool allowed = mk_authz_allowed(req->caller, &a);
	cJSON *status = cJSON_AddObjectToObject(obj, "status");
	cJSON_AddBoolToObject(status, "allowed", allowed);
	if (req->caller == MK_CALLER_ADMIN)
		cJSON_AddStringToObject(status, "reason", "the admin token may do everything");
	else if (allowed && req->caller == MK_CALLER_NODE)
		cJSON_AddStringToObject(status, "reason", "allowed by the Node authorizer");
	else if (allowed)
		cJSON_AddStringToObject(status, "reason", "allowed to every service account");
	mk_reply_json(rep, 201, obj);
}

static void subject_review(struct mk_request *req, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *obj =
		review_body(req, rep, "authentication.k8s.io/v1", "SelfSubjectReview");
	if (!obj)
		return;
	if (mk_field_validation(req, rep, "authentication.k8s.io", "v1", "SelfSubjectReview", obj,
				NULL, false) < 0)
		return;
	cJSON *status = cJSON_AddObjectToObject(obj, "status");
	user_info(req, cJSON_AddObjectToObject(status, "userInfo"));
	mk_reply_json(rep, 201, obj);
}

bool mk_authreview_handle(struct mk_request *req, struct mk_reply *rep)
{
	bool ssar = !strcmp(req->url, SSAR_PATH), ssr = !strcmp(req->url, SSR_PATH);

	if (!ssar && !ssr)
		return false;
	if (strcmp(req->method, "POST")) {
		mk_reply_status(rep, 405, ssar ? "selfsubjectaccessreviews" : "selfsubjectreviews",
				NULL, "the server does not allow this method on the requested "
				      "resource: only create (POST) is supported");
		return true;
	}
	if (ssar)
		access_review(req, rep);
	else
		subject_review(req, rep);
	return true;
}
