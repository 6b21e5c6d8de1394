/* The reviews: SelfSubjectAccessReview, SubjectAccessReview,
 * LocalSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1) and
 * SelfSubjectReview (authentication.k8s.io/v1): `kubectl auth can-i [--list]` and
 * `kubectl auth whoami`. The self reviews are every authenticated user's (the
 * default system:basic-user ClusterRole); the others need create on their resource
 * (RBAC, router.c). Nothing is stored. The answers come from mk_authz_request /
 * mk_rbac_allowed, the functions that authorize real requests, so they cannot
 * drift from the truth. */
#include <string.h>
#include <strings.h>
#include "internal.h"

#define SSAR_PATH "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
#define SSR_PATH "/apis/authentication.k8s.io/v1/selfsubjectreviews"
#define SAR_PATH "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#define SSRR_PATH "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
#define LSAR_PREFIX "/apis/authorization.k8s.io/v1/namespaces/"
#define LSAR_SUFFIX "/localsubjectaccessreviews"

/* The identity of the request (rbac_policy.c's mk_rbac_identify: the token's, or the
 * impersonated one), as UserInfo. */
static void user_info(const struct mk_request *req, cJSON *ui)
{
	cJSON_AddStringToObject(ui, "username", req->ui.name ? req->ui.name : "");
	if (req->ui.uid)
		cJSON_AddStringToObject(ui, "uid", req->ui.uid);
	cJSON *g = cJSON_AddArrayToObject(ui, "groups");
	for (size_t i = 0; i < req->ui.ngroups; i++)
		cJSON_AddItemToArray(g, cJSON_CreateString(req->ui.groups[i]));
}

/* The body as a JSON object of the expected kind; on failure fills rep, NULL. */
static cJSON *review_body(struct mk_request *req, struct mk_reply *rep, const char *api_version,
			  const char *kind)
{
	cJSON *obj = mk_request_body_object(req, rep, kind);
	const char *k, *av;

	if (!obj)
		return NULL;
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
	/* apiVersion, kind, metadata first, as the server writes objects: a new object,
	 * not cJSON_InsertItemInArray, which as packaged (1.7.15+deb12u4) refuses to insert
	 * before a parsed member other than the first (metadata was dropped and leaked) */
	cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "apiVersion", api_version);
	cJSON_AddStringToObject(out, "kind", kind);
	cJSON_AddItemToObject(out, "metadata", meta); /* replaces the detached item's key */
	while (obj->child)
		cJSON_AddItemToArray(out, cJSON_DetachItemViaPointer(obj, obj->child));
	cJSON_Delete(obj);
	return out;
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

/* The attributes asked about (spec.resourceAttributes or spec.nonResourceAttributes,
 * exactly one) into *a, borrowed from spec; problems go to causes. */
static void review_attributes(const cJSON *ra, const cJSON *na, cJSON *causes,
			      struct mk_authz_attrs *a)
{
	if (cJSON_IsObject(ra) == cJSON_IsObject(na)) {
		mk_api_cause_add(causes, "FieldValueInvalid", "spec.resourceAttributes",
				 "spec.resourceAttributes: Invalid value: exactly one of "
				 "nonResourceAttributes or resourceAttributes must be specified");
	} else if (cJSON_IsObject(ra)) {
		a->verb = opt_string(ra, "verb", causes, "spec.resourceAttributes.verb");
		a->resource = opt_string(ra, "resource", causes, "spec.resourceAttributes.resource");
		a->sub = opt_string(ra, "subresource", causes, "spec.resourceAttributes.subresource");
		a->name = opt_string(ra, "name", causes, "spec.resourceAttributes.name");
		a->ns = opt_string(ra, "namespace", causes, "spec.resourceAttributes.namespace");
		a->group = opt_string(ra, "group", causes, "spec.resourceAttributes.group");
		if (!a->resource)
			a->resource = "";
		if (a->sub && !*a->sub)
			a->sub = NULL;
		if (a->name && !*a->name)
			a->name = NULL;
		if (a->ns && !*a->ns)
			a->ns = NULL;
	} else {
		a->verb = opt_string(na, "verb", causes, "spec.nonResourceAttributes.verb");
		a->path = opt_string(na, "path", causes, "spec.nonResourceAttributes.path");
	}
	if (!cJSON_GetArraySize(causes) && (!a->verb || !*a->verb))
		mk_api_cause_add(causes, "FieldValueRequired",
				 ra ? "spec.resourceAttributes.verb" : "spec.nonResourceAttributes.verb",
				 "%s: Required value", ra ? "spec.resourceAttributes.verb"
							  : "spec.nonResourceAttributes.verb");
}

/* The subject of a (Local)SubjectAccessReview: spec.user, spec.groups, spec.uid. */
static void review_subject(const cJSON *spec, cJSON *causes, struct mk_user_info *subject)
{
	const cJSON *g;
	const char *user = opt_string(spec, "user", causes, "spec.user");
	const char *uid = opt_string(spec, "uid", causes, "spec.uid");
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(spec, "groups"))
	{
		if (cJSON_IsString(g))
			mk_user_info_add_group(subject, g->valuestring);
	}
	subject->name = mk_strdup(user ? user : "");
	subject->uid = uid ? mk_strdup(uid) : NULL;
	if ((!user || !*user) && !subject->ngroups)
		mk_api_cause_add(causes, "FieldValueInvalid", "spec.user",
				 "spec.user: Invalid value: \"\": at least one of user or "
				 "group must be specified");
}

/* A LocalSubjectAccessReview: metadata.namespace is the path's; resourceAttributes.
 * namespace must be it (ValidateLocalSubjectAccessReview). -1: rep holds the 400. */
static int review_local_namespace(struct mk_reply *rep, cJSON *obj, const cJSON *na,
				  const struct mk_authz_attrs *a, const char *lsar_ns, cJSON *causes)
{
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	const char *mns = mk_json_get_string(md, "namespace");
	if (mns && *mns && strcmp(mns, lsar_ns)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the namespace of the provided object does not match the "
				"namespace sent on the request");
		return -1;
	}
	mk_json_set_string(md, "namespace", lsar_ns);
	if (cJSON_IsObject(na))
		mk_api_cause_add(causes, "FieldValueInvalid", "spec.nonResourceAttributes",
				 "spec.nonResourceAttributes: Invalid value: disallowed on "
				 "this kind of request");
	else if (!a->ns || strcmp(a->ns, lsar_ns))
		mk_api_cause_add(causes, "FieldValueInvalid",
				 "spec.resourceAttributes.namespace",
				 "spec.resourceAttributes.namespace: Invalid value: \"%s\": must "
				 "match metadata.namespace", a->ns ? a->ns : "");
	return 0;
}

/* The 422 for a review with causes (taken). */
static void review_invalid(struct mk_reply *rep, const char *kind, cJSON *causes)
{
	const char *m = mk_json_get_string(cJSON_GetArrayItem(causes, 0), "message");
	_cleanup_free_ char *msg =
		mk_strdup_printf("%s.authorization.k8s.io \"\" is invalid: %s", kind, m ? m : "");
	_cleanup_cjson_ cJSON *st = mk_api_status_new(422, "Invalid", msg, kind, NULL, causes);
	mk_json_set_string(mk_json_get(st, "details"), "group", "authorization.k8s.io");
	mk_reply_json(rep, 422, st);
}

/* kind: SelfSubjectAccessReview, SubjectAccessReview or LocalSubjectAccessReview
 * (then lsar_ns is the namespace of the path) */
static void access_review(struct mk_request *req, struct mk_reply *rep, const char *kind,
			  const char *lsar_ns)
{
	_cleanup_cjson_ cJSON *obj = review_body(req, rep, "authorization.k8s.io/v1", kind);
	bool self = !strcmp(kind, "SelfSubjectAccessReview");
	struct mk_user_info subject = { 0 };
	if (!obj)
		return;
	if (mk_field_validation(req, rep, "authorization.k8s.io", "v1", kind, obj, NULL, false) < 0)
		return;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *ra = cJSON_GetObjectItemCaseSensitive(spec, "resourceAttributes");
	const cJSON *na = cJSON_GetObjectItemCaseSensitive(spec, "nonResourceAttributes");
	cJSON *causes = cJSON_CreateArray();
	struct mk_authz_attrs a = { 0 };

	review_attributes(ra, na, causes, &a);
	if (!self && !cJSON_GetArraySize(causes))
		review_subject(spec, causes, &subject);
	if (lsar_ns && !cJSON_GetArraySize(causes) &&
	    review_local_namespace(rep, obj, na, &a, lsar_ns, causes) < 0) {
		cJSON_Delete(causes);
		mk_user_info_release(&subject);
		return;
	}
	if (cJSON_GetArraySize(causes)) {
		review_invalid(rep, kind, causes);
		mk_user_info_release(&subject);
		return;
	}
	cJSON_Delete(causes);
	_cleanup_free_ char *reason = NULL;
	bool allowed = self ? mk_authz_request(req, &a, &reason)
			    : mk_rbac_allowed(req->srv, &subject, &a, &reason);
	mk_user_info_release(&subject);
	cJSON *status = cJSON_AddObjectToObject(obj, "status");
	cJSON_AddBoolToObject(status, "allowed", allowed);
	if (allowed && reason)
		cJSON_AddStringToObject(status, "reason", reason);
	mk_reply_json(rep, 201, obj);
}

/* SelfSubjectRulesReview: the rules the caller holds in spec.namespace, as
 * resourceRules and nonResourceRules (what kubectl auth can-i --list prints). */
static void rules_review(struct mk_request *req, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *obj =
		review_body(req, rep, "authorization.k8s.io/v1", "SelfSubjectRulesReview");
	if (!obj)
		return;
	if (mk_field_validation(req, rep, "authorization.k8s.io", "v1", "SelfSubjectRulesReview",
				obj, NULL, false) < 0)
		return;
	const char *ns = mk_json_get_string(obj, "spec.namespace");
	_cleanup_cjson_ cJSON *rules = mk_rbac_rules_of(req->srv, &req->ui, ns && *ns ? ns : NULL);
	cJSON *status = cJSON_AddObjectToObject(obj, "status");
	cJSON *rr = cJSON_AddArrayToObject(status, "resourceRules");
	cJSON *nr = cJSON_AddArrayToObject(status, "nonResourceRules");
	const cJSON *r;
	cJSON_ArrayForEach(r, rules)
	{
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "verbs", cJSON_Duplicate(cJSON_GetObjectItem(r, "verbs"), 1));
		if (cJSON_GetObjectItem(r, "nonResourceURLs")) {
			cJSON_AddItemToObject(o, "nonResourceURLs",
					      cJSON_Duplicate(cJSON_GetObjectItem(r, "nonResourceURLs"), 1));
			cJSON_AddItemToArray(nr, o);
			continue;
		}
		static const char *const keys[] = { "apiGroups", "resources", "resourceNames" };
		for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
			const cJSON *v = cJSON_GetObjectItem(r, keys[i]);
			if (v)
				cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, 1));
		}
		cJSON_AddItemToArray(rr, o);
	}
	cJSON_AddBoolToObject(status, "incomplete", false);
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

/* the namespace of a .../namespaces/NS/localsubjectaccessreviews path (owned), or NULL */
static char *lsar_namespace(const char *url)
{
	size_t pl = strlen(LSAR_PREFIX), sl = strlen(LSAR_SUFFIX), l = strlen(url);
	if (strncmp(url, LSAR_PREFIX, pl) || l <= pl + sl || strcmp(url + l - sl, LSAR_SUFFIX))
		return NULL;
	char *ns = mk_strdup_printf("%.*s", (int)(l - pl - sl), url + pl);
	if (strchr(ns, '/')) {
		free(ns);
		return NULL;
	}
	return ns;
}

bool mk_authreview_handle(struct mk_request *req, struct mk_reply *rep)
{
	static const struct {
		const char *path, *resource;
	} paths[] = {
		{ SSAR_PATH, "selfsubjectaccessreviews" },
		{ SSR_PATH, "selfsubjectreviews" },
		{ SAR_PATH, "subjectaccessreviews" },
		{ SSRR_PATH, "selfsubjectrulesreviews" },
	};
	_cleanup_free_ char *lsar_ns = lsar_namespace(req->url);
	const char *resource = lsar_ns ? "localsubjectaccessreviews" : NULL;

	for (size_t i = 0; !resource && i < MK_ARRAY_SIZE(paths); i++)
		if (!strcmp(req->url, paths[i].path))
			resource = paths[i].resource;
	if (!resource)
		return false;
	if (strcmp(req->method, "POST")) {
		mk_reply_status(rep, 405, resource, NULL,
				"the server does not allow this method on the requested "
				"resource: only create (POST) is supported");
		return true;
	}
	if (lsar_ns)
		access_review(req, rep, "LocalSubjectAccessReview", lsar_ns);
	else if (!strcmp(resource, "selfsubjectaccessreviews"))
		access_review(req, rep, "SelfSubjectAccessReview", NULL);
	else if (!strcmp(resource, "subjectaccessreviews"))
		access_review(req, rep, "SubjectAccessReview", NULL);
	else if (!strcmp(resource, "selfsubjectrulesreviews"))
		rules_review(req, rep);
	else
		subject_review(req, rep);
	return true;
}
