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

/* The API groups besides core: those of the served kinds (pkg/api's resource
 * table, in its order, custom resources included; computed per request, so a new
 * definition is visible to the next one) and the two review groups, whose kinds
 * are answered, never stored (authreview.c). */
#define MAX_GROUPS 128
#define MAX_VERSIONS 8
struct api_group {
	const char *name;
	const char *versions[MAX_VERSIONS]; /* in kube's version priority order */
	size_t nversions;
};
struct api_groups {
	struct api_group g[MAX_GROUPS];
	size_t n;
};

/* kube's version priority (apimachinery version.CompareKubeAwareVersionStrings):
 * GA before beta before alpha, higher numbers first, then non-kube names by name. */
static int version_rank(const char *v, long *major, long *minor)
{
	char *end;
	*major = *minor = 0;
	if (v[0] != 'v' || v[1] < '0' || v[1] > '9')
		return 3;
	*major = strtol(v + 1, &end, 10);
	if (!*end)
		return 0;
	int kind = !strncmp(end, "beta", 4) ? 1 : !strncmp(end, "alpha", 5) ? 2 : 3;
	if (kind == 3)
		return 3;
	*minor = strtol(end + (kind == 1 ? 4 : 5), &end, 10);
	return *end ? 3 : kind;
}

static bool version_before(const char *a, const char *b)
{
	long ma, na, mb, nb;
	int ka = version_rank(a, &ma, &na), kb = version_rank(b, &mb, &nb);
	if (ka != kb)
		return ka < kb;
	if (ka == 3)
		return strcmp(a, b) < 0;
	if (ma != mb)
		return ma > mb;
	return na > nb;
}

static void add_group_version(struct api_groups *gs, const char *g, const char *v)
{
	struct api_group *grp = NULL;
	for (size_t i = 0; i < gs->n; i++)
		if (!strcmp(gs->g[i].name, g))
			grp = &gs->g[i];
	if (!grp) {
		if (gs->n == MAX_GROUPS)
			return;
		grp = &gs->g[gs->n++];
		grp->name = g;
		grp->nversions = 0;
	}
	for (size_t i = 0; i < grp->nversions; i++)
		if (!strcmp(grp->versions[i], v))
			return;
	if (grp->nversions == MAX_VERSIONS)
		return;
	size_t at = grp->nversions;
	while (at > 0 && version_before(v, grp->versions[at - 1])) {
		grp->versions[at] = grp->versions[at - 1];
		at--;
	}
	grp->versions[at] = v;
	grp->nversions++;
}

static void api_groups(struct api_groups *gs)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	gs->n = 0;
	for (size_t i = 0; i < n; i++)
		if (rs[i].group[0])
			add_group_version(gs, rs[i].group, rs[i].version);
	add_group_version(gs, "authorization.k8s.io", "v1");
	add_group_version(gs, "authentication.k8s.io", "v1");
}

static const struct api_group *find_group(const struct api_groups *gs, const char *name)
{
	for (size_t i = 0; i < gs->n; i++)
		if (!strcmp(gs->g[i].name, name))
			return &gs->g[i];
	return NULL;
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

static cJSON *group_doc(const struct api_group *grp)
{
	cJSON *g = cJSON_CreateObject(), *vs = cJSON_CreateArray();

	cJSON_AddStringToObject(g, "name", grp->name);
	for (size_t i = 0; i < grp->nversions; i++) {
		cJSON *v = cJSON_CreateObject();
		_cleanup_free_ char *gv = mk_strdup_printf("%s/%s", grp->name, grp->versions[i]);
		cJSON_AddStringToObject(v, "groupVersion", gv);
		cJSON_AddStringToObject(v, "version", grp->versions[i]);
		if (i == 0)
			cJSON_AddItemToObject(g, "preferredVersion", cJSON_Duplicate(v, true));
		cJSON_AddItemToArray(vs, v);
	}
	cJSON_AddItemToObject(g, "versions", vs);
	return g;
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
	static const char *const sub_verbs_post[] = { "create", NULL };

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
		if (r->categories && r->categories[0])
			cJSON_AddItemToObject(e, "categories", string_array(r->categories));
		cJSON_AddItemToArray(arr, e);

		bool is_pods = !r->crd && !strcmp(r->name, "pods");
		struct {
			bool on;
			const char *sub, *kind, *group, *version;
			const char *const *verbs;
		} subs[] = {
			{ r->has_status, "status", r->kind, NULL, NULL, sub_verbs_status },
			{ r->has_scale, "scale", "Scale", "autoscaling", "v1", sub_verbs_status },
			{ is_pods, "log", "Pod", NULL, NULL, sub_verbs_get },
			{ is_pods, "binding", "Binding", NULL, NULL, sub_verbs_post },
			{ is_pods, "exec", "PodExecOptions", NULL, NULL, sub_verbs_create },
			{ is_pods, "ephemeralcontainers", "Pod", NULL, NULL, sub_verbs_status },
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

/* "GROUP/VERSION" of a served group -> its group and version (*ret_g points into
 * gs, *ret_v into gv); false otherwise. */
static bool served_gv(const struct api_groups *gs, const char *gv, const char **ret_g,
		      const char **ret_v)
{
	for (size_t i = 0; i < gs->n; i++) {
		size_t n = strlen(gs->g[i].name);
		if (strncmp(gv, gs->g[i].name, n) || gv[n] != '/')
			continue;
		for (size_t j = 0; j < gs->g[i].nversions; j++)
			if (!strcmp(gv + n + 1, gs->g[i].versions[j])) {
				*ret_g = gs->g[i].name;
				*ret_v = gs->g[i].versions[j];
				return true;
			}
	}
	return false;
}

/* ---- aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) --------------------
 * kubectl 1.32 asks for it first on /api and /apis: one document per request with
 * every group, version and resource (verbs, short names, categories,
 * subresources), made from the same APIResourceLists as the legacy form. */

static cJSON *gvk_ref(const char *group, const char *version, const char *kind)
{
	cJSON *k = cJSON_CreateObject();
	cJSON_AddStringToObject(k, "group", group ? group : "");
	cJSON_AddStringToObject(k, "version", version ? version : "");
	cJSON_AddStringToObject(k, "kind", kind ? kind : "");
	return k;
}

/* APIVersionDiscovery of one group version from its APIResourceList. */
static cJSON *aggregated_version(const char *group, const char *version, const cJSON *list)
{
	cJSON *v = cJSON_CreateObject(), *res = cJSON_CreateArray();
	const cJSON *e;

	cJSON_AddStringToObject(v, "version", version);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(list, "resources"))
	{
		const char *name = mk_json_get_string(e, "name");
		if (!name || strchr(name, '/'))
			continue;
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "resource", name);
		cJSON_AddItemToObject(r, "responseKind",
				      gvk_ref(group, version, mk_json_get_string(e, "kind")));
		cJSON_AddStringToObject(r, "scope",
					cJSON_IsTrue(cJSON_GetObjectItem(e, "namespaced")) ? "Namespaced"
											   : "Cluster");
		cJSON_AddStringToObject(r, "singularResource",
					mk_json_get_string(e, "singularName") ?: "");
		cJSON_AddItemToObject(r, "verbs", cJSON_Duplicate(cJSON_GetObjectItem(e, "verbs"), 1));
		const char *keys[] = { "shortNames", "categories" };
		for (size_t k = 0; k < MK_ARRAY_SIZE(keys); k++)
			if (cJSON_GetObjectItem(e, keys[k]))
				cJSON_AddItemToObject(r, keys[k],
						      cJSON_Duplicate(cJSON_GetObjectItem(e, keys[k]), 1));
		/* its subresources: the NAME/SUB entries */
		cJSON *subs = cJSON_CreateArray();
		const cJSON *s;
		size_t nl = strlen(name);
		cJSON_ArrayForEach(s, cJSON_GetObjectItem(list, "resources"))
		{
			const char *sn = mk_json_get_string(s, "name");
			if (!sn || strncmp(sn, name, nl) || sn[nl] != '/')
				continue;
			cJSON *sub = cJSON_CreateObject();
			const char *sg = mk_json_get_string(s, "group");
			const char *sv = mk_json_get_string(s, "version");
			cJSON_AddStringToObject(sub, "subresource", sn + nl + 1);
			cJSON_AddItemToObject(sub, "responseKind",
					      gvk_ref(sg ? sg : group, sv ? sv : version,
						      mk_json_get_string(s, "kind")));
			cJSON_AddItemToObject(sub, "verbs",
					      cJSON_Duplicate(cJSON_GetObjectItem(s, "verbs"), 1));
			cJSON_AddItemToArray(subs, sub);
		}
		if (cJSON_GetArraySize(subs))
			cJSON_AddItemToObject(r, "subresources", subs);
		else
			cJSON_Delete(subs);
		cJSON_AddItemToArray(res, r);
	}
	cJSON_AddItemToObject(v, "resources", res);
	cJSON_AddStringToObject(v, "freshness", "Current");
	return v;
}

/* The metrics.k8s.io APIResourceList (metrics.c answers it). */
static cJSON *metrics_resource_list(struct mk_request *req)
{
	struct mk_reply r = { 0 };
	cJSON *doc = NULL;
	if (mk_metrics_discovery_handle(req, "/apis/" MK_METRICS_GROUP_VERSION, &r) && r.body)
		doc = cJSON_Parse(r.body);
	free(r.body);
	free(r.warning);
	return doc;
}

static cJSON *aggregated_doc(struct mk_request *req, bool core, const char *api_version)
{
	cJSON *doc = cJSON_CreateObject(), *items = cJSON_CreateArray();
	struct api_groups gs;

	cJSON_AddStringToObject(doc, "kind", "APIGroupDiscoveryList");
	cJSON_AddStringToObject(doc, "apiVersion", api_version);
	cJSON_AddItemToObject(doc, "metadata", cJSON_CreateObject());
	if (core) {
		cJSON *g = cJSON_CreateObject(), *vs = cJSON_CreateArray();
		_cleanup_cjson_ cJSON *list = resource_list("", "v1");
		cJSON_AddItemToObject(g, "metadata", cJSON_CreateObject());
		cJSON_AddItemToArray(vs, aggregated_version("", "v1", list));
		cJSON_AddItemToObject(g, "versions", vs);
		cJSON_AddItemToArray(items, g);
	} else {
		api_groups(&gs);
		for (size_t i = 0; i < gs.n; i++) {
			cJSON *g = cJSON_CreateObject(), *vs = cJSON_CreateArray();
			cJSON_AddStringToObject(cJSON_AddObjectToObject(g, "metadata"), "name",
						gs.g[i].name);
			for (size_t j = 0; j < gs.g[i].nversions; j++) {
				_cleanup_cjson_ cJSON *list = resource_list(gs.g[i].name, gs.g[i].versions[j]);
				cJSON_AddItemToArray(vs, aggregated_version(gs.g[i].name,
									    gs.g[i].versions[j], list));
			}
			cJSON_AddItemToObject(g, "versions", vs);
			cJSON_AddItemToArray(items, g);
		}
		_cleanup_cjson_ cJSON *ml = metrics_resource_list(req);
		if (ml) {
			cJSON *g = cJSON_CreateObject(), *vs = cJSON_CreateArray();
			cJSON_AddStringToObject(cJSON_AddObjectToObject(g, "metadata"), "name",
						MK_METRICS_GROUP);
			cJSON_AddItemToArray(vs, aggregated_version(MK_METRICS_GROUP, MK_METRICS_VERSION, ml));
			cJSON_AddItemToObject(g, "versions", vs);
			cJSON_AddItemToArray(items, g);
		}
	}
	cJSON_AddItemToObject(doc, "items", items);
	return doc;
}

/* The aggregated discovery version the Accept header asks for ("v2", "v2beta1"),
 * or NULL for the legacy documents. */
static const char *wants_aggregated(struct mk_request *req)
{
	const char *accept = mk_request_header(req, "Accept");
	const char *p = accept;
	/* media ranges in order of preference: the first aggregated one we know wins */
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		_cleanup_free_ char *mr = strndup(p, n);
		if (strstr(mr, "g=apidiscovery.k8s.io") && strstr(mr, "as=APIGroupDiscoveryList")) {
			if (strstr(mr, "v=v2beta1"))
				return "v2beta1";
			if (strstr(mr, "v=v2"))
				return "v2";
		}
		p = end ? end + 1 : NULL;
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

/* /api or /apis as aggregated discovery (agg: the version asked for). */
static bool aggregated_reply(struct mk_request *req, const char *path, const char *agg,
			     struct mk_reply *rep)
{
	_cleanup_free_ char *av = mk_strdup_printf("apidiscovery.k8s.io/%s", agg);
	_cleanup_cjson_ cJSON *doc = aggregated_doc(req, path[4] != 's', av);

	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		mk_reply_status(rep, 405, NULL, NULL, "method %s not allowed on %s", req->method, path);
		return true;
	}
	mk_reply_json(rep, 200, doc);
	rep->content_type = !strcmp(agg, "v2")
		? "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
		: "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
	return true;
}

/* /apis: the APIGroupList. */
static cJSON *group_list_doc(const struct api_groups *gs)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "APIGroupList");
	cJSON_AddStringToObject(doc, "apiVersion", "v1");
	cJSON *gl = cJSON_AddArrayToObject(doc, "groups");
	for (size_t i = 0; i < gs->n; i++)
		cJSON_AddItemToArray(gl, group_doc(&gs->g[i]));
	cJSON_AddItemToArray(gl, mk_metrics_discovery_group());
	return doc;
}

/* /openapi/v3: the index of the group-version documents. */
static cJSON *openapi_index_doc(const struct api_groups *gs)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *ps = cJSON_AddObjectToObject(doc, "paths");
	for (size_t i = 0; i <= gs->n; i++) {
		for (size_t j = 0; j < (i ? gs->g[i - 1].nversions : 1); j++) {
			const char *gn = i ? gs->g[i - 1].name : "";
			const char *vn = i ? gs->g[i - 1].versions[j] : "v1";
			_cleanup_free_ char *k = i ? mk_strdup_printf("apis/%s/%s", gn, vn)
						   : mk_strdup("api/v1");
			/* the hash is of the content: kubectl caches documents by this URL */
			_cleanup_cjson_ cJSON *gvdoc = openapi_doc(gn, vn);
			char *text = cJSON_PrintUnformatted(gvdoc), hash[65];
			mk_sha256_hex(text, strlen(text), hash);
			cJSON_free(text);
			_cleanup_free_ char *u = mk_strdup_printf("/openapi/v3/%s?hash=%.32s", k, hash);
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "serverRelativeURL", u);
			cJSON_AddItemToObject(ps, k, e);
		}
	}
	_cleanup_free_ char *mu = mk_metrics_openapi_url();
	cJSON *me = cJSON_CreateObject();
	cJSON_AddStringToObject(me, "serverRelativeURL", mu);
	cJSON_AddItemToObject(ps, MK_METRICS_OPENAPI_KEY, me);
	return doc;
}

void mk_discovery_reply(struct mk_request *req, struct mk_reply *rep, const char *path,
			const cJSON *doc)
{
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		mk_reply_status(rep, 405, NULL, NULL, "method %s not allowed on %s", req->method,
				path);
		return;
	}
	mk_reply_json(rep, 200, doc);
}

bool mk_discovery_handle(struct mk_request *req, const char *path, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *doc = NULL;
	struct api_groups gs;
	const struct api_group *grp;
	const char *g, *v, *agg;

	api_groups(&gs);
	if (mk_metrics_discovery_handle(req, path, rep)) /* metrics.k8s.io/v1beta1 */
		return true;
	if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
		doc = version_doc();
	} else if ((!strcmp(path, "/api") || !strcmp(path, "/api/") || !strcmp(path, "/apis") ||
		    !strcmp(path, "/apis/")) && (agg = wants_aggregated(req))) {
		return aggregated_reply(req, path, agg, rep);
	} else if (!strcmp(path, "/api") || !strcmp(path, "/api/")) {
		doc = cJSON_Parse("{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],"
				  "\"serverAddressByClientCIDRs\":[{\"clientCIDR\":\"0.0.0.0/0\","
				  "\"serverAddress\":\"\"}]}");
	} else if (!strcmp(path, "/apis") || !strcmp(path, "/apis/")) {
		doc = group_list_doc(&gs);
	} else if (!strncmp(path, "/apis/", 6) && !strchr(path + 6, '/') &&
		   (grp = find_group(&gs, path + 6))) {
		doc = group_doc(grp);
		cJSON_AddStringToObject(doc, "kind", "APIGroup");
		cJSON_AddStringToObject(doc, "apiVersion", "v1");
	} else if (!strcmp(path, "/api/v1")) {
		doc = resource_list("", "v1");
	} else if (!strncmp(path, "/apis/", 6) && served_gv(&gs, path + 6, &g, &v)) {
		doc = resource_list(g, v);
	} else if (!strcmp(path, "/openapi/v3") || !strcmp(path, "/openapi/v3/")) {
		doc = openapi_index_doc(&gs);
	} else if (!strcmp(path, "/openapi/v3/api/v1")) {
		doc = openapi_doc("", "v1");
	} else if (!strncmp(path, "/openapi/v3/apis/", 17) && served_gv(&gs, path + 17, &g, &v)) {
		doc = openapi_doc(g, v);
	} else if (!strcmp(path, "/openapi/v2")) {
		if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
			return openapi_v2(req, rep);
	} else {
		return false;
	}
	mk_discovery_reply(req, rep, path, doc);
	return true;
}
