/* Version, API discovery and the OpenAPI documents: v3 per group-version (the
 * paths kubectl apply looks for, with the fieldValidation parameter, and every
 * schema) and v2 in JSON or protobuf, all built from pkg/api's schema source
 * (see shared/reference/kubectl-wire.md: "Version and discovery", "apply"). */
#include <pthread.h>
#include <string.h>
#include "internal.h"
#include "minik8s/version.h"
#include "metrics.h"

static cJSON *string_array(const char *const *v)
{
	cJSON *a = cJSON_CreateArray();
	for (; v && *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

static cJSON *version_doc(void)
{
	cJSON *v = cJSON_CreateObject();
	char build[32];
	cJSON_AddStringToObject(v, "major", MINIK8S_KUBE_MAJOR);
	cJSON_AddStringToObject(v, "minor", MINIK8S_KUBE_MINOR);
	cJSON_AddStringToObject(v, "gitVersion",
				"v" MINIK8S_KUBE_MAJOR "." MINIK8S_KUBE_MINOR ".0-minik8s");
	cJSON_AddStringToObject(v, "gitCommit", "minik8s-" MINIK8S_VERSION);
	cJSON_AddStringToObject(v, "gitTreeState", "clean");
	snprintf(build, sizeof(build), "%s", "2026-11-26T00:00:00Z");
	cJSON_AddStringToObject(v, "buildDate", build);
	cJSON_AddStringToObject(v, "goVersion", "none (C)");
	cJSON_AddStringToObject(v, "compiler", "gcc");
	cJSON_AddStringToObject(v, "platform", "linux/amd64");
	return v;
}

/* The API groups besides core, all at v1: those of the stored kinds (pkg/api's
 * resource table, in its order) and the two review groups, whose kinds are
 * answered, never stored (authreview.c). */
#define MAX_GROUPS 16
static const char *api_groups[MAX_GROUPS];
static size_t n_api_groups;
static pthread_once_t groups_once = PTHREAD_ONCE_INIT;

static void add_group(const char *g)
{
	for (size_t i = 0; i < n_api_groups; i++)
		if (!strcmp(api_groups[i], g))
			return;
	if (n_api_groups < MAX_GROUPS)
		api_groups[n_api_groups++] = g;
}

static void init_groups(void)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	for (size_t i = 0; i < n; i++)
		if (rs[i].group[0])
			add_group(rs[i].group);
	add_group("authorization.k8s.io");
	add_group("authentication.k8s.io");
}

struct review_resource {
	const char *group, *name, *singular, *kind;
	bool namespaced;
};
static const struct review_resource review_resources[] = {
	{ "authorization.k8s.io", "localsubjectaccessreviews", "localsubjectaccessreview",
	  "LocalSubjectAccessReview", true },
	{ "authorization.k8s.io", "selfsubjectaccessreviews", "selfsubjectaccessreview",
	  "SelfSubjectAccessReview", false },
	{ "authorization.k8s.io", "selfsubjectrulesreviews", "selfsubjectrulesreview",
	  "SelfSubjectRulesReview", false },
	{ "authorization.k8s.io", "subjectaccessreviews", "subjectaccessreview",
	  "SubjectAccessReview", false },
	{ "authentication.k8s.io", "selfsubjectreviews", "selfsubjectreview",
	  "SelfSubjectReview", false },
};

static cJSON *group_doc(const char *name)
{
	cJSON *g = cJSON_CreateObject(), *vs = cJSON_CreateArray(), *v = cJSON_CreateObject();
	_cleanup_free_ char *gv = mk_strdup_printf("%s/v1", name);

	cJSON_AddStringToObject(g, "name", name);
	cJSON_AddStringToObject(v, "groupVersion", gv);
	cJSON_AddStringToObject(v, "version", "v1");
	cJSON_AddItemToObject(g, "preferredVersion", cJSON_Duplicate(v, true));
	cJSON_AddItemToArray(vs, v);
	cJSON_AddItemToObject(g, "versions", vs);
	return g;
}

static bool served_group(const char *name)
{
	for (size_t i = 0; i < n_api_groups; i++)
		if (!strcmp(api_groups[i], name))
			return true;
	return false;
}

/* APIResourceList for one group/version, subresources included. */
static cJSON *resource_list(const char *group, const char *version)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	_cleanup_free_ char *gv = group[0] ? mk_strdup_printf("%s/%s", group, version)
					   : mk_strdup(version);
	static const char *const sub_verbs_status[] = { "get", "patch", "update", NULL };
	static const char *const sub_verbs_get[] = { "get", NULL };
	static const char *const sub_verbs_create[] = { "create", "get", NULL };

	cJSON_AddStringToObject(doc, "kind", "APIResourceList");
	cJSON_AddStringToObject(doc, "apiVersion", "v1");
	cJSON_AddStringToObject(doc, "groupVersion", gv);
	for (size_t i = 0; i < n; i++) {
		const struct mk_api_resource *r = &rs[i];
		if (strcmp(r->group, group) || strcmp(r->version, version))
			continue;
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", r->name);
		cJSON_AddStringToObject(e, "singularName", r->singular);
		cJSON_AddBoolToObject(e, "namespaced", r->namespaced);
		cJSON_AddStringToObject(e, "kind", r->kind);
		cJSON_AddItemToObject(e, "verbs", string_array(r->verbs));
		if (r->short_names && r->short_names[0])
			cJSON_AddItemToObject(e, "shortNames", string_array(r->short_names));
		if (!strcmp(r->name, "pods") || !strcmp(r->name, "deployments") ||
		    !strcmp(r->name, "services") || !strcmp(r->name, "replicasets") ||
		    !strcmp(r->name, "daemonsets") ||
		    !strcmp(r->name, "jobs") || !strcmp(r->name, "cronjobs") ||
		    !strcmp(r->name, "statefulsets"))
			cJSON_AddItemToObject(e, "categories",
					      string_array((const char *const[]){ "all", NULL }));
		cJSON_AddItemToArray(arr, e);

		struct {
			bool on;
			const char *sub, *kind, *group, *version;
			const char *const *verbs;
		} subs[] = {
			{ r->has_status, "status", r->kind, NULL, NULL, sub_verbs_status },
			{ r->has_scale, "scale", "Scale", "autoscaling", "v1", sub_verbs_status },
			{ !strcmp(r->name, "pods"), "log", "Pod", NULL, NULL, sub_verbs_get },
			{ !strcmp(r->name, "pods"), "exec", "PodExecOptions", NULL, NULL,
			  sub_verbs_create },
			{ !strcmp(r->name, "pods"), "ephemeralcontainers", "Pod", NULL, NULL,
			  sub_verbs_status },
		};
		for (size_t j = 0; j < MK_ARRAY_SIZE(subs); j++) {
			if (!subs[j].on)
				continue;
			cJSON *s = cJSON_CreateObject();
			_cleanup_free_ char *nm = mk_strdup_printf("%s/%s", r->name, subs[j].sub);
			cJSON_AddStringToObject(s, "name", nm);
			cJSON_AddStringToObject(s, "singularName", "");
			cJSON_AddBoolToObject(s, "namespaced", r->namespaced);
			if (subs[j].group) {
				cJSON_AddStringToObject(s, "group", subs[j].group);
				cJSON_AddStringToObject(s, "version", subs[j].version);
			}
			cJSON_AddStringToObject(s, "kind", subs[j].kind);
			cJSON_AddItemToObject(s, "verbs", string_array(subs[j].verbs));
			cJSON_AddItemToArray(arr, s);
		}
	}
	for (size_t i = 0; i < MK_ARRAY_SIZE(review_resources); i++) {
		const struct review_resource *rr = &review_resources[i];
		if (strcmp(rr->group, group) || strcmp(version, "v1"))
			continue;
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", rr->name);
		cJSON_AddStringToObject(e, "singularName", rr->singular);
		cJSON_AddBoolToObject(e, "namespaced", rr->namespaced);
		cJSON_AddStringToObject(e, "kind", rr->kind);
		cJSON_AddItemToObject(e, "verbs", string_array((const char *const[]){ "create", NULL }));
		cJSON_AddItemToArray(arr, e);
	}
	cJSON_AddItemToObject(doc, "resources", arr);
	return doc;
}

/* The OpenAPI v3 document of one group/version: the paths of every kind (PATCH and
 * PUT with the fieldValidation parameter, which kubectl apply looks for before it
 * leaves validation to the server) and the schemas (kubectl explain). */
static cJSON *openapi_doc(const char *group, const char *version)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	cJSON *doc = cJSON_CreateObject(), *paths = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "openapi", "3.0.0");
	cJSON *info = cJSON_AddObjectToObject(doc, "info");
	cJSON_AddStringToObject(info, "title", "Kubernetes");
	cJSON_AddStringToObject(info, "version",
				"v" MINIK8S_KUBE_MAJOR "." MINIK8S_KUBE_MINOR ".0");
	for (size_t i = 0; i < n; i++) {
		const struct mk_api_resource *r = &rs[i];
		if (strcmp(r->group, group) || strcmp(r->version, version))
			continue;
		_cleanup_free_ char *p =
			r->namespaced
				? mk_strdup_printf("/%s/%s/namespaces/{namespace}/%s/{name}",
						   group[0] ? "apis" : "api",
						   group[0] ? r->group_version : version, r->name)
				: mk_strdup_printf("/%s/%s/%s/{name}", group[0] ? "apis" : "api",
						   group[0] ? r->group_version : version, r->name);
		cJSON *item = cJSON_CreateObject();
		const char *verbs[] = { "get", "put", "patch", "delete" };
		for (size_t v = 0; v < MK_ARRAY_SIZE(verbs); v++) {
			cJSON *op = cJSON_AddObjectToObject(item, verbs[v]);
			cJSON *gvk = cJSON_AddObjectToObject(op, "x-kubernetes-group-version-kind");
			cJSON_AddStringToObject(gvk, "group", r->group);
			cJSON_AddStringToObject(gvk, "version", r->version);
			cJSON_AddStringToObject(gvk, "kind", r->kind);
			cJSON *params = cJSON_AddArrayToObject(op, "parameters");
			if (!strcmp(verbs[v], "patch") || !strcmp(verbs[v], "put")) {
				cJSON *fv = cJSON_CreateObject();
				cJSON_AddStringToObject(fv, "name", "fieldValidation");
				cJSON_AddStringToObject(fv, "in", "query");
				cJSON_AddItemToObject(fv, "schema",
						      cJSON_Parse("{\"type\":\"string\"}"));
				cJSON_AddItemToArray(params, fv);
			}
			cJSON *resp = cJSON_AddObjectToObject(op, "responses");
			cJSON_AddItemToObject(resp, "200",
					      cJSON_Parse("{\"description\":\"OK\"}"));
		}
		cJSON_AddItemToObject(paths, p, item);
	}
	for (size_t i = 0; i < MK_ARRAY_SIZE(review_resources); i++) {
		const struct review_resource *rr = &review_resources[i];
		if (strcmp(rr->group, group) || strcmp(version, "v1"))
			continue;
		_cleanup_free_ char *p = mk_strdup_printf("/apis/%s/v1/%s%s", group,
							  rr->namespaced ? "namespaces/{namespace}/" : "",
							  rr->name);
		cJSON *item = cJSON_CreateObject(), *op = cJSON_AddObjectToObject(item, "post");
		cJSON *gvk = cJSON_AddObjectToObject(op, "x-kubernetes-group-version-kind");
		cJSON_AddStringToObject(gvk, "group", group);
		cJSON_AddStringToObject(gvk, "version", "v1");
		cJSON_AddStringToObject(gvk, "kind", rr->kind);
		cJSON_AddStringToObject(op, "x-kubernetes-action", "post");
		cJSON *fv = cJSON_CreateObject();
		cJSON_AddStringToObject(fv, "name", "fieldValidation");
		cJSON_AddStringToObject(fv, "in", "query");
		cJSON_AddItemToObject(fv, "schema", cJSON_Parse("{\"type\":\"string\"}"));
		cJSON_AddItemToArray(cJSON_AddArrayToObject(op, "parameters"), fv);
		cJSON_AddItemToObject(cJSON_AddObjectToObject(op, "responses"), "201",
				      cJSON_Parse("{\"description\":\"Created\"}"));
		cJSON_AddItemToObject(paths, p, item);
	}
	cJSON_AddItemToObject(doc, "paths", paths);
	/* every definition: the few the group does not use cost little, and kubectl
	 * resolves references inside one document */
	cJSON *comp = cJSON_AddObjectToObject(doc, "components");
	cJSON_AddItemToObject(comp, "schemas", mk_api_schema_v3_components());
	return doc;
}

/* "GROUP/v1" of a served group -> GROUP (a static string); NULL otherwise. */
static const char *openapi_group(const char *gv)
{
	for (size_t i = 0; i < n_api_groups; i++) {
		size_t n = strlen(api_groups[i]);
		if (!strncmp(gv, api_groups[i], n) && !strcmp(gv + n, "/v1"))
			return api_groups[i];
	}
	return NULL;
}

/* Swagger 2.0: kubectl asks for the gnostic protobuf form (its client-side
 * validation falls back to it when a kind is not in the v3 documents); JSON for
 * everyone else. */
static bool openapi_v2(struct mk_request *req, struct mk_reply *rep)
{
	const char *accept = mk_request_header(req, "Accept");
	_cleanup_cjson_ cJSON *doc = mk_api_schema_v2_document();
	_cleanup_error_ struct mk_error *err = NULL;

	if (accept && strstr(accept, "protobuf") && strstr(accept, "proto-openapi")) {
		char *pb = NULL;
		size_t len = 0;
		if (mk_api_schema_v2_protobuf(doc, &pb, &len, &err) < 0) {
			mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
			return true;
		}
		free(rep->body);
		rep->code = 200;
		rep->body = pb;
		rep->body_len = len;
		/* the media type asked for does not parse as a MIME type in Go ('@');
		 * kube-apiserver answers with a plain binary type, as here */
		rep->content_type = "application/octet-stream";
		return true;
	}
	mk_reply_json(rep, 200, doc);
	return true;
}

bool mk_discovery_handle(struct mk_request *req, const char *path, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *doc = NULL;
	const char *gv;

	pthread_once(&groups_once, init_groups);
	if (mk_metrics_discovery_handle(req, path, rep)) /* metrics.k8s.io/v1beta1 */
		return true;
	if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
		doc = version_doc();
	} else if (!strcmp(path, "/api") || !strcmp(path, "/api/")) {
		doc = cJSON_Parse("{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],"
				  "\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\","
				  "\"serverAddress\":\"\"}]}");
	} else if (!strcmp(path, "/apis") || !strcmp(path, "/apis/")) {
		doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "kind", "APIGroupList");
		cJSON_AddStringToObject(doc, "apiVersion", "v1");
		cJSON *gs = cJSON_AddArrayToObject(doc, "groups");
		for (size_t i = 0; i < n_api_groups; i++)
			cJSON_AddItemToArray(gs, group_doc(api_groups[i]));
		cJSON_AddItemToArray(gs, mk_metrics_discovery_group());
	} else if (!strncmp(path, "/apis/", 6) && !strchr(path + 6, '/') && served_group(path + 6)) {
		doc = group_doc(path + 6);
		cJSON_AddStringToObject(doc, "kind", "APIGroup");
		cJSON_AddStringToObject(doc, "apiVersion", "v1");
	} else if (!strcmp(path, "/api/v1")) {
		doc = resource_list("", "v1");
	} else if (!strncmp(path, "/apis/", 6) && (gv = openapi_group(path + 6))) {
		doc = resource_list(gv, "v1");
	} else if (!strcmp(path, "/openapi/v3") || !strcmp(path, "/openapi/v3/")) {
		doc = cJSON_CreateObject();
		cJSON *ps = cJSON_AddObjectToObject(doc, "paths");
		for (size_t i = 0; i <= n_api_groups; i++) {
			const char *g = i ? api_groups[i - 1] : "";
			_cleanup_free_ char *k = i ? mk_strdup_printf("apis/%s/v1", g)
						   : mk_strdup("api/v1");
			/* the hash is of the content: kubectl caches documents by this URL */
			_cleanup_cjson_ cJSON *gvdoc = openapi_doc(g, "v1");
			char *text = cJSON_PrintUnformatted(gvdoc), hash[65];
			mk_sha256_hex(text, strlen(text), hash);
			cJSON_free(text);
			_cleanup_free_ char *u = mk_strdup_printf("/openapi/v3/%s?hash=%.32s", k, hash);
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "serverRelativeURL", u);
			cJSON_AddItemToObject(ps, k, e);
		}
		_cleanup_free_ char *mu = mk_metrics_openapi_url();
		cJSON *me = cJSON_CreateObject();
		cJSON_AddStringToObject(me, "serverRelativeURL", mu);
		cJSON_AddItemToObject(ps, MK_METRICS_OPENAPI_KEY, me);
	} else if (!strcmp(path, "/openapi/v3/api/v1")) {
		doc = openapi_doc("", "v1");
	} else if (!strncmp(path, "/openapi/v3/apis/", 17) && (gv = openapi_group(path + 17))) {
		doc = openapi_doc(gv, "v1");
	} else if (!strcmp(path, "/openapi/v2")) {
		if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
			return openapi_v2(req, rep);
	} else {
		return false;
	}
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		mk_reply_status(rep, 405, NULL, NULL, "method %s not allowed on %s", req->method,
				path);
		return true;
	}
	mk_reply_json(rep, 200, doc);
	return true;
}
