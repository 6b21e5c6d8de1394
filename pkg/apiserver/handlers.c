/* Resource requests: get, list, create, update, patch, delete, and the status and
 * scale subresources. Semantics follow kube-apiserver's generic registry: the server
 * owns uid, creationTimestamp, resourceVersion and generation; the main resource
 * cannot change status and /status cannot change anything else; writes are optimistic
 * (resourceVersion preconditions, retried internally for patches). What a kind
 * does beyond that (addresses reserved, graceful deletion, its own subresources,
 * field selectors...) comes from its strategy (strategy_KIND.c, internal.h): no
 * function here names a kind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include "internal.h"

#define PATCH_RETRIES 8

static bool has_spec_generation(const struct mk_api_resource *r)
{
	return r->spec_generation;
}

static const char *store_ns(const struct mk_api_resource *r, const char *ns)
{
	return r->namespaced ? (ns ? ns : "") : "";
}

/* Parses a decimal resourceVersion; 0 if absent/empty; -1 if malformed. */
static int parse_rv(const char *s, uint64_t *ret)
{
	char *end;
	if (!s || !*s) {
		*ret = 0;
		return 0;
	}
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || s[0] == '-')
		return -1;
	*ret = v;
	return 0;
}

/* Replies 422 Invalid from a causes array (moved in). */
static void reply_invalid(struct mk_reply *rep, const struct mk_api_resource *r,
			  const char *name, cJSON *causes)
{
	struct mk_buf m;
	int n = cJSON_GetArraySize(causes);
	mk_buf_init(&m);
	mk_buf_printf(&m, "%s \"%s\" is invalid: %s", r->kind, name ? name : "", n > 1 ? "[" : "");
	for (int i = 0; i < n; i++) {
		cJSON *c = cJSON_GetArrayItem(causes, i);
		const char *f = mk_json_get_string(c, "field");
		const char *msg = mk_json_get_string(c, "message");
		mk_buf_printf(&m, "%s%s%s%s", i ? ", " : "", f ? f : "", f ? ": " : "",
			      msg ? msg : "");
	}
	if (n > 1)
		mk_buf_puts(&m, "]");
	_cleanup_cjson_ cJSON *st = mk_api_status_new(422, "Invalid", m.data, r->kind, name, causes);
	if (r->group[0])
		cJSON_AddStringToObject(cJSON_GetObjectItem(st, "details"), "group", r->group);
	mk_buf_release(&m);
	mk_reply_json(rep, 422, st);
}

static void reply_stored(struct mk_reply *rep, struct mk_request *req, unsigned code,
			 char *json)
{
	/* custom resources: served at the request's version, defaults applied */
	if (req->res && req->res->crd && json) {
		char *c = mk_api_cr_from_storage(req->res, json);
		if (c) {
			free(json);
			json = c;
		}
	}
	if (mk_request_wants_table(req)) {
		_cleanup_cjson_ cJSON *obj = cJSON_Parse(json);
		_cleanup_cjson_ cJSON *t = mk_api_table_new(req->res, true);
		free(json);
		mk_api_table_add_row(t, req->res, obj, time(NULL));
		mk_json_set_string(mk_json_ensure_object(t, "metadata"), "resourceVersion",
				   mk_json_get_string(obj, "metadata.resourceVersion"));
		mk_reply_json(rep, code, t);
		return;
	}
	mk_reply_json_text(rep, code, json);
}

/* ---- request bodies --------------------------------------------------------- */

static bool content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return ct && !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Decodes a create/update body (JSON or protobuf) into *ret. On failure the reply
 * is filled and -1 returned. */
static int decode_body(struct mk_request *req, struct mk_reply *rep, cJSON **ret)
{
	const char *ct = mk_request_header(req, "Content-Type");
	cJSON *obj;

	if (content_type_is(ct, "application/vnd.kubernetes.protobuf")) {
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_api_protobuf_decode(req->body.data, req->body.len, &obj, &err) < 0) {
			mk_reply_status(rep, 400, NULL, NULL, "%s", err->msg);
			return -1;
		}
	} else if (!ct || content_type_is(ct, "application/json") || !*ct) {
		if (!req->body.len) {
			mk_reply_status(rep, 400, NULL, NULL, "the request body is empty");
			return -1;
		}
		mk_json_fix_surrogates(req->body.data, req->body.len);
		/* the parse end, not cJSON_GetErrorPtr (one global for every thread) */
		const char *at = NULL;
		obj = cJSON_ParseWithLengthOpts(req->body.data, req->body.len, &at, 0);
		if (!obj) {
			mk_reply_status(rep, 400, NULL, NULL,
					"the body of the request is not valid JSON (near offset %ld)",
					at && at >= req->body.data ? (long)(at - req->body.data) : 0L);
			return -1;
		}
		mk_api_json_dedupe(obj);
	} else {
		mk_reply_status(rep, 415, NULL, NULL,
				"the body of the request was in an unknown format - accepted media "
				"types include: application/json, application/vnd.kubernetes.protobuf");
		return -1;
	}
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		mk_reply_status(rep, 400, NULL, NULL, "the body of the request must be a JSON object");
		return -1;
	}
	/* invalid UTF-8 (JSON or protobuf strings) becomes U+FFFD, as Go's decoder does in
	 * kube-apiserver: nothing stored can make a later LIST invalid JSON */
	mk_json_utf8_sanitize(obj);
	*ret = obj;
	return 0;
}

/* Sets obj[key] = value as the first member (objects read like Kubernetes' own:
 * apiVersion and kind before metadata). */
static void put_first(cJSON *obj, const char *key, const char *value)
{
	cJSON *it = cJSON_CreateString(value);
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	it->string = mk_strdup(key);
	cJSON_InsertItemInArray(obj, 0, it);
}

/* Checks/fills apiVersion and kind against the URL's resource. */
static int check_type(struct mk_request *req, struct mk_reply *rep, cJSON *obj,
		      const char *kind, const char *api_version)
{
	const char *k = mk_json_get_string(obj, "kind");
	const char *av = mk_json_get_string(obj, "apiVersion");
	cJSON *jk = cJSON_GetObjectItem(obj, "kind"), *jav = cJSON_GetObjectItem(obj, "apiVersion");

	if ((jk && !cJSON_IsString(jk)) || (jav && !cJSON_IsString(jav))) {
		mk_reply_status(rep, 400, NULL, NULL, "kind and apiVersion must be strings");
		return -1;
	}
	if (av && *av && strcmp(av, api_version)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the API version in the data (%s) does not match the expected API "
				"version (%s)", av, api_version);
		return -1;
	}
	if (k && *k && strcmp(k, kind)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the kind in the data (%s) does not match the expected kind (%s)", k,
				kind);
		return -1;
	}
	put_first(obj, "kind", kind);
	put_first(obj, "apiVersion", api_version);
	return 0;
}

/* ---- dryRun -------------------------------------------------------------------- */

struct dry_values {
	struct mk_buf list;	/* the values as Go prints a []string: "All", "x" */
	int n, bad;
};

static void dry_value_add(struct dry_values *d, const char *v)
{
	mk_buf_printf(&d->list, "%s\"", d->n ? ", " : "");
	for (const char *c = v; *c; c++)
		mk_buf_printf(&d->list, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
	mk_buf_puts(&d->list, "\"");
	d->n++;
	d->bad += strcmp(v, "All") != 0;
}

static void dry_arg(void *cls, const char *key, const char *value)
{
	if (key && !strcmp(key, "dryRun"))
		dry_value_add(cls, value ? value : "");
}

/* Whether the request is a dry run: dryRun in the query (every verb) or in a
 * DeleteOptions body (body_dry, may be NULL). "All" is the only value Kubernetes
 * knows; anything else is refused as kube-apiserver's ValidateDryRun refuses it
 * (422 Invalid on OPTS_KIND.meta.k8s.io, field dryRun). Fills the reply and returns
 * -1 on a bad value. A dry run goes through decoding, defaulting, validation and
 * admission, answers what the write would have stored, and writes nothing. */
int mk_request_dry_run(struct mk_request *req, struct mk_reply *rep, const char *opts_kind,
		       const cJSON *body_dry, bool *ret_dry)
{
	struct dry_values d = { .n = 0 };
	const cJSON *it;

	mk_buf_init(&d.list);
	mk_buf_puts(&d.list, "");
	mk_request_args_each(req, dry_arg, &d);
	if (body_dry && !cJSON_IsArray(body_dry) && !cJSON_IsNull(body_dry)) {
		mk_buf_release(&d.list);
		mk_reply_status(rep, 400, NULL, NULL, "%s.dryRun must be an array of strings",
				opts_kind);
		return -1;
	}
	cJSON_ArrayForEach(it, body_dry)
	{
		if (!cJSON_IsString(it)) {
			mk_buf_release(&d.list);
			mk_reply_status(rep, 400, NULL, NULL, "%s.dryRun must be an array of strings",
					opts_kind);
			return -1;
		}
		dry_value_add(&d, it->valuestring);
	}
	if (d.bad) {
		_cleanup_free_ char *msg = mk_strdup_printf(
			"Unsupported value: []string{%s}: supported values: \"All\"", d.list.data);
		cJSON *causes = cJSON_CreateArray();
		mk_api_cause_add(causes, "FieldValueNotSupported", "dryRun", "%s", msg);
		_cleanup_cjson_ cJSON *st = mk_api_status_new(422, "Invalid", NULL, opts_kind, "", causes);
		_cleanup_free_ char *m = mk_strdup_printf("%s.meta.k8s.io \"\" is invalid: dryRun: %s",
							  opts_kind, msg);
		mk_json_set_string(st, "message", m);
		mk_json_set_string(cJSON_GetObjectItem(st, "details"), "group", "meta.k8s.io");
		mk_reply_json(rep, 422, st);
		mk_buf_release(&d.list);
		return -1;
	}
	mk_buf_release(&d.list);
	*ret_dry = d.n > 0;
	return 0;
}

/* A query dryRun already checked by mk_request_dry_run */
static bool query_dry_run(struct mk_request *req)
{
	return mk_request_arg(req, "dryRun") != NULL;
}

/* ---- create ------------------------------------------------------------------ */

/* Server-owned fields of a new object; resets status to what a new object has. */
void mk_resource_prepare_new(const struct mk_api_resource *r, cJSON *obj, const char *ns)
{
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	char uid[37], ts[32];

	mk_uuid_v4(uid);
	mk_time_format(time(NULL), ts, sizeof(ts));
	mk_json_set_string(md, "uid", uid);
	mk_json_set_string(md, "creationTimestamp", ts);
	cJSON_DeleteItemFromObject(md, "resourceVersion");
	cJSON_DeleteItemFromObject(md, "deletionTimestamp");
	cJSON_DeleteItemFromObject(md, "deletionGracePeriodSeconds");
	cJSON_DeleteItemFromObject(md, "managedFields");
	cJSON_DeleteItemFromObject(md, "selfLink");
	if (r->namespaced)
		mk_json_set_string(md, "namespace", ns);
	else
		cJSON_DeleteItemFromObject(md, "namespace");
	if (has_spec_generation(r))
		mk_json_set(md, "generation", cJSON_CreateNumber(1));
	/* the status a new object starts with, from the resource row (a pod's
	 * qosClass is computed from the spec by the defaults) */
	if (r->initial_status) {
		cJSON *st = cJSON_Parse(r->initial_status);
		if (cJSON_IsNull(st) || !st) {
			cJSON_Delete(st);
			cJSON_DeleteItemFromObject(obj, "status");
		} else {
			mk_json_set(obj, "status", st);
		}
	}
}

/* Fills metadata.name from generateName. Returns 0, or -1 with causes. */
static int resolve_name(cJSON *obj, cJSON **ret_causes)
{
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	const char *name = mk_json_get_string(md, "name");
	const char *gen = mk_json_get_string(md, "generateName");
	cJSON *jn = cJSON_GetObjectItem(md, "name");

	if (jn && !cJSON_IsString(jn)) {
		*ret_causes = cJSON_CreateArray();
		mk_api_cause_add(*ret_causes, "FieldValueInvalid", "metadata.name",
				 "Invalid value: name must be a string");
		return -1;
	}
	if (name && *name)
		return 0;
	if (gen && *gen) {
		char sfx[6];
		mk_random_k8s_suffix(sfx, 5);
		/* keep within the 253 (or 63 for labels) limit as Kubernetes does */
		_cleanup_free_ char *n = mk_strdup_printf("%.58s%s", gen, sfx);
		mk_json_set_string(md, "name", n);
		return 0;
	}
	*ret_causes = cJSON_CreateArray();
	mk_api_cause_add(*ret_causes, "FieldValueRequired", "metadata.name",
			 "name or generateName is required");
	return -1;
}

static void create_object(struct mk_request *req, struct mk_reply *rep, cJSON *obj,
			  const cJSON *applied_managed);

static void handle_create(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_cjson_ cJSON *obj = NULL;
	bool dry = false;

	if (mk_request_dry_run(req, rep, "CreateOptions", NULL, &dry) < 0 ||
	    mk_fieldmanager_check(req, rep, "CreateOptions", false) < 0 ||
	    decode_body(req, rep, &obj) < 0 ||
	    check_type(req, rep, obj, r->kind, r->group_version) < 0 ||
	    mk_field_validation(req, rep, r->group, r->version, r->kind, obj, NULL, false) < 0)
		return;
	create_object(req, rep, obj, NULL);
}

/* The create's first step: the namespace of the body against the path's, the name
 * (from generateName), the kind's defaults and preparation. *ret_adm_name: the name
 * mutating admission sees (generateName until the name is made). -1: rep filled. */
static int create_prepare(struct mk_request *req, struct mk_reply *rep, cJSON *obj,
			  char **ret_adm_name)
{
	const struct mk_api_resource *r = req->res;
	const struct mk_server_strategy *s = mk_strategy_of(r);
	cJSON *causes = NULL;

	const char *bns = mk_json_get_string(obj, "metadata.namespace");
	if (r->namespaced && bns && *bns && strcmp(bns, req->ns)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the namespace of the provided object does not match the namespace "
				"sent on the request");
		return -1;
	}
	const char *rn = mk_json_get_string(obj, "metadata.name");
	_cleanup_free_ char *adm_name =
		mk_strdup(rn && *rn ? rn : mk_json_get_string(obj, "metadata.generateName"));
	if (resolve_name(obj, &causes) < 0) {
		reply_invalid(rep, r, NULL, causes);
		return -1;
	}
	if (r->crd && mk_api_crd_terminating(r->crd)) {
		mk_reply_status(rep, 405, NULL, NULL,
				"create not allowed while custom resource definition is terminating");
		return -1;
	}
	mk_resource_prepare_new(r, obj, req->ns);
	mk_api_default(r, obj);
	if (r->crd)
		mk_api_cr_to_storage(r, obj);
	if (s->prepare)
		s->prepare(req->srv, obj, true);
	*ret_adm_name = TAKE_PTR(adm_name);
	return 0;
}

/* Admission, in kube-apiserver's order (admission.c): NamespaceLifecycle (a missing
 * namespace is a 404), LimitRanger's defaults, ServiceAccount, the storage steps;
 * the managedFields; then the kind's validation; then NodeRestriction, RBAC's
 * escalation check, LimitRanger's bounds and ResourceQuota. -1: rep filled. */
static int create_admit(struct mk_request *req, struct mk_reply *rep, cJSON *obj,
			const char *adm_name, const cJSON *applied_managed, const cJSON *sent,
			bool dry)
{
	const struct mk_api_resource *r = req->res;
	const struct mk_server_strategy *s = mk_strategy_of(r);
	const char *name = mk_json_get_string(obj, "metadata.name");
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON *causes = NULL;

	if (mk_admission_namespace_lifecycle(req->srv, r, req->ns, adm_name, rep) < 0)
		return -1;
	if (mk_admission_mutate(req->srv, r, req->ns, obj, &err) < 0 ||
	    (s->admit && s->admit(req->srv, req->ns, obj, &err) < 0) ||
	    (!r->crd && mk_storage_admit(req->srv, r, obj, &err) < 0)) {
		mk_reply_error(rep, r, name, err);
		return -1;
	}
	if (applied_managed && cJSON_GetArraySize(applied_managed) > 0)
		mk_json_set(mk_json_ensure_object(obj, "metadata"), "managedFields",
			    cJSON_Duplicate(applied_managed, 1));
	else if (!applied_managed)
		mk_fieldmanager_update(req, NULL, obj, sent);
	if (mk_api_validate(r, obj, NULL, &causes) < 0) {
		reply_invalid(rep, r, name, causes);
		return -1;
	}
	if (mk_noderestriction_admit(req, rep, NULL, obj) < 0)
		return -1;
	if (mk_rbac_admit(req, rep, obj, NULL) < 0) /* escalation prevention */
		return -1;
	if (mk_admission_validate(req->srv, r, req->ns, obj, dry, &err) < 0) {
		mk_reply_error(rep, r, name, err);
		return -1;
	}
	return 0;
}

/* The create's last step: the kind's reservations (addresses, ports), the store
 * write, the answer. A dry run takes nothing: no pod CIDR or service address is
 * reserved (nothing would free it again), but the addresses asked for are checked
 * as a real create checks them. */
static void create_store(struct mk_request *req, struct mk_reply *rep, cJSON *obj, bool dry)
{
	const struct mk_api_resource *r = req->res;
	const struct mk_server_strategy *s = mk_strategy_of(r);
	const char *name = mk_json_get_string(obj, "metadata.name");
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON *causes = NULL;
	char *json = NULL;

	if (dry) {
		if (s->check && s->check(req->srv, obj, &causes) < 0) {
			reply_invalid(rep, r, name, causes);
			return;
		}
		char *text = cJSON_PrintUnformatted(obj);
		reply_stored(rep, req, 201, text);
		return;
	}
	if (s->reserve && s->reserve(req->srv, obj, &causes, &err) < 0) {
		if (causes)
			reply_invalid(rep, r, name, causes);
		else
			mk_reply_error(rep, r, name, err);
		return;
	}
	if (mk_store_create(req->srv->store, mk_api_resource_store(r), store_ns(r, req->ns), name, obj, &json,
			    NULL, &err) < 0) {
		if (s->release)
			s->release(req->srv, obj);
		mk_reply_error(rep, r, name, err);
		return;
	}
	if (s->created)
		s->created(req->srv, name);
	reply_stored(rep, req, 201, json);
}

/* Creates obj (borrowed, changed): the body of a create, or the result of an apply
 * of an object that did not exist (applied_managed: its managedFields, recorded
 * as they are instead of an Update entry). */
static void create_object(struct mk_request *req, struct mk_reply *rep, cJSON *obj,
			  const cJSON *applied_managed)
{
	bool dry = query_dry_run(req);
	cJSON *md0 = cJSON_GetObjectItem(obj, "metadata");
	_cleanup_cjson_ cJSON *sent =
		cJSON_IsObject(md0) ? cJSON_DetachItemFromObject(md0, "managedFields") : NULL;
	_cleanup_free_ char *adm_name = NULL;

	if (create_prepare(req, rep, obj, &adm_name) < 0 ||
	    create_admit(req, rep, obj, adm_name, applied_managed, sent, dry) < 0)
		return;
	create_store(req, rep, obj, dry);
}

/* ---- get / list ------------------------------------------------------------- */

/* Where a resource keeps its replicas ("spec.replicas"; a custom resource's
 * scale subresource paths without their leading dot). */
static const char *scale_path(const struct mk_api_resource *r, const char *which,
			      const char *builtin)
{
	const char *p = r && r->crd ? mk_api_crd_scale_path(r, which) : builtin;
	return p && p[0] == '.' ? p + 1 : p;
}

static cJSON *scale_from(const struct mk_api_resource *r, const cJSON *obj)
{
	cJSON *s = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(s, "metadata");
	const char *keys[] = { "name", "namespace", "uid", "resourceVersion", "creationTimestamp" };
	cJSON_AddStringToObject(s, "kind", "Scale");
	cJSON_AddStringToObject(s, "apiVersion", "autoscaling/v1");
	for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
		cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), keys[i]);
		if (v)
			cJSON_AddItemToObject(md, keys[i], cJSON_Duplicate(v, 1));
	}
	const char *spec_path = scale_path(r, "specReplicasPath", "spec.replicas");
	const char *status_path = scale_path(r, "statusReplicasPath", "status.replicas");
	cJSON *rep = spec_path ? mk_json_get(obj, spec_path) : NULL;
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(s, "spec"), "replicas",
				cJSON_IsNumber(rep) ? rep->valuedouble : r && r->crd ? 0 : 1);
	cJSON *st = cJSON_AddObjectToObject(s, "status");
	cJSON *sr = status_path ? mk_json_get(obj, status_path) : NULL;
	cJSON_AddNumberToObject(st, "replicas", cJSON_IsNumber(sr) ? sr->valuedouble : 0);
	if (r && r->crd) {
		/* labelSelectorPath names a selector in string form */
		const char *lp = scale_path(r, "labelSelectorPath", NULL);
		const char *sel = lp ? mk_json_get_string(obj, lp) : NULL;
		cJSON_AddStringToObject(st, "selector", sel ? sel : "");
		return s;
	}
	/* status.selector: the label selector in string form */
	cJSON *ml = mk_json_get(obj, "spec.selector.matchLabels");
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	cJSON *it;
	cJSON_ArrayForEach(it, ml)
	{
		if (cJSON_IsString(it))
			mk_buf_printf(&b, "%s%s=%s", b.len ? "," : "", it->string, it->valuestring);
	}
	cJSON_AddStringToObject(st, "selector", b.data);
	mk_buf_release(&b);
	return s;
}

/* The object json (owned) as the request addressed it: a Scale for the scale
 * subresource, else as stored. */
static void reply_object(struct mk_request *req, struct mk_reply *rep, char *json)
{
	if (req->sub && !strcmp(req->sub, "scale")) {
		_cleanup_cjson_ cJSON *obj = cJSON_Parse(json);
		_cleanup_cjson_ cJSON *s = scale_from(req->res, obj);
		free(json);
		mk_reply_json(rep, 200, s);
		return;
	}
	reply_stored(rep, req, 200, json);
}

static void handle_get(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;
	char *json = NULL;

	if (mk_store_get(req->srv->store, mk_api_resource_store(r), store_ns(r, req->ns), req->name, &json, NULL,
			 &err) < 0) {
		mk_reply_error(rep, r, req->name, err);
		return;
	}
	reply_object(req, rep, json);
}

/* Field selectors a kind supports, as kube-apiserver registers them per resource
 * (metadata.name and metadata.namespace everywhere, the rest from the kind's
 * strategy). NULL if fs is supported, else the first unsupported one. */
static const char *unsupported_field(const struct mk_api_resource *r, const char *fs)
{
	const char *const *known = mk_strategy_of(r)->field_selectors;
	static __thread char bad[128];
	const char *p = fs;

	while (*p) {
		const char *end = p, *op = NULL;
		for (; *end && *end != ','; end++) {
			if (*end == '\\' && end[1]) {
				end++;
				continue;
			}
			if (!op && (*end == '=' || (*end == '!' && end[1] == '=')))
				op = end;
		}
		size_t n = (size_t)((op ? op : end) - p);
		while (n && p[n - 1] == ' ')
			n--;
		while (n && *p == ' ')
			p++, n--;
		bool ok = n == 0 || (n == 13 && !strncmp(p, "metadata.name", n)) ||
			  (n == 18 && !strncmp(p, "metadata.namespace", n));
		for (size_t j = 0; !ok && known && known[j]; j++)
			ok = strlen(known[j]) == n && !strncmp(known[j], p, n);
		/* a custom version's selectableFields (".spec.color": spec.color) */
		const cJSON *sf;
		const cJSON *sfs = r->crd ? cJSON_GetObjectItem(mk_api_crd_version(r), "selectableFields")
					  : (const cJSON *)NULL;
		cJSON_ArrayForEach(sf, sfs)
		{
			const char *jp = mk_json_get_string(sf, "jsonPath");
			if (!ok && jp && jp[0] == '.' && strlen(jp + 1) == n && !strncmp(jp + 1, p, n))
				ok = true;
		}
		if (!ok) {
			snprintf(bad, sizeof(bad), "%.*s", (int)(n < 100 ? n : 100), p);
			return bad;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

/* Parses labelSelector/fieldSelector; on error fills a 400 reply and returns -1. */
int mk_request_selectors(struct mk_request *req, struct mk_reply *rep,
			 struct mk_label_selector **ret_labels, struct mk_field_selector **ret_fields)
{
	_cleanup_error_ struct mk_error *err = NULL;
	const char *ls = mk_request_arg(req, "labelSelector");
	const char *fs = mk_request_arg(req, "fieldSelector");

	*ret_labels = NULL;
	*ret_fields = NULL;
	if (ls && *ls && mk_label_selector_parse(ls, ret_labels, &err) < 0) {
		mk_reply_status(rep, 400, NULL, NULL, "unable to parse labelSelector: %s", err->msg);
		return -1;
	}
	const char *bad = fs && *fs ? unsupported_field(req->res, fs) : NULL;
	if (bad) {
		mk_label_selector_free(*ret_labels);
		*ret_labels = NULL;
		mk_reply_status(rep, 400, NULL, NULL, "field label not supported: %s", bad);
		return -1;
	}
	if (fs && *fs && mk_field_selector_parse(fs, ret_fields, &err) < 0) {
		mk_label_selector_free(*ret_labels);
		*ret_labels = NULL;
		mk_reply_status(rep, 400, NULL, NULL, "unable to parse fieldSelector: %s", err->msg);
		return -1;
	}
	return 0;
}

/* Waits, bounded, until the store has reached revision rv (a datastore shared
 * with other servers brings their writes in through its event feed). */
static bool store_reached(struct mk_store *store, uint64_t rv)
{
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_store_watch *w = NULL;
	uint64_t deadline = mk_time_mono_ms() + 3000;

	if (mk_store_revision(store) >= rv)
		return true;
	if (mk_store_watch_new(store, NULL, NULL, 0, &w, &err) < 0)
		return false;
	while (mk_store_revision(store) < rv) {
		uint64_t now = mk_time_mono_ms();
		struct mk_store_event *ev = NULL;
		if (now >= deadline || mk_store_watch_next(w, (int)(deadline - now), &ev, &err) < 0)
			break;
		mk_store_event_unref(ev);
	}
	mk_store_watch_free(w);
	return mk_store_revision(store) >= rv;
}

/* The list l (released) as a Table. */
void mk_list_reply_table(struct mk_reply *rep, const struct mk_api_resource *r,
			 struct mk_store_list *l, const char *next, long remaining)
{
	char rvs[24];
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)l->rv);
	_cleanup_cjson_ cJSON *t = mk_api_table_new(r, true);
	time_t now = time(NULL);
	mk_json_set_string(mk_json_ensure_object(t, "metadata"), "resourceVersion", rvs);
	if (next)
		mk_json_set_string(cJSON_GetObjectItem(t, "metadata"), "continue", next);
	if (next && remaining >= 0)
		mk_json_set(cJSON_GetObjectItem(t, "metadata"), "remainingItemCount",
			    cJSON_CreateNumber((double)remaining));
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_free_ char *c = r->crd ? mk_api_cr_from_storage(r, l->items[i]) : NULL;
		_cleanup_cjson_ cJSON *obj = cJSON_Parse(c ? c : l->items[i]);
		if (obj)
			mk_api_table_add_row_take(t, r, obj, now);
	}
	mk_store_list_release(l);
	mk_reply_json(rep, 200, t);
}

/* The list l (released) of custom resources, each at the request's version, in one
 * buffer (the conversion needs the resource's definition, which a later CRD write
 * may replace while a streamed body is still being written). */
static void reply_list_buffered(struct mk_reply *rep, const struct mk_api_resource *r,
				struct mk_store_list *l, const char *next, long remaining)
{
	_cleanup_free_ char *page_meta = next ? (remaining >= 0
		? mk_strdup_printf(",\"continue\":\"%s\",\"remainingItemCount\":%ld", next, remaining)
		: mk_strdup_printf(",\"continue\":\"%s\"", next)) : mk_strdup("");
	/* Items are stored JSON texts: splice them without re-parsing. */
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%llu\"%s},\"items\":[",
		      r->kind, r->group_version, (unsigned long long)l->rv, page_meta);
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_free_ char *c = r->crd ? mk_api_cr_from_storage(r, l->items[i]) : NULL;
		if (i)
			mk_buf_append(&b, ",", 1);
		mk_buf_puts(&b, c ? c : l->items[i]);
	}
	mk_buf_puts(&b, "]}");
	mk_store_list_release(l);
	mk_reply_json_text(rep, 200, mk_buf_steal(&b));
}

static void handle_list(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_list_selectors f;
	struct mk_store_list l = { 0 };
	const char *ns = r->namespaced ? req->ns : "";
	enum mk_list_rv mode;
	uint64_t want = 0;

	if (mk_list_rv_parse(req, rep, &mode, &want) < 0)
		return;
	if (mk_request_selectors(req, rep, &f.labels, &f.fields) < 0)
		return;
	const char *lim = mk_request_arg(req, "limit"), *cont = mk_request_arg(req, "continue");
	bool has_cont = cont && *cont, has_limit = lim && strtol(lim, NULL, 10) > 0;
	bool table = mk_request_wants_table(req);
	/* from the list cache (listcache.c), as kube-apiserver's cacher serves a list
	 * (custom resources aside: they are converted per version): all but an exact
	 * revision, and a continue only from the snapshot its first page kept; the
	 * storage answers the rest */
	if (!r->crd && mode != MK_LIST_RV_EXACT &&
	    (has_cont ? mk_listcache_continue(req, rep, r, ns, &f)
		      : mk_listcache_list(req, rep, r, ns, &f,
					  mode == MK_LIST_RV_NOT_OLDER ? want : 0,
					  mode == MK_LIST_RV_LATEST))) {
		mk_label_selector_free(f.labels);
		mk_field_selector_free(f.fields);
		return;
	}
	uint64_t exact = mode == MK_LIST_RV_EXACT && !has_cont ? want : 0;
	if (mode == MK_LIST_RV_NOT_OLDER && !store_reached(req->srv->store, want)) {
		mk_label_selector_free(f.labels);
		mk_field_selector_free(f.fields);
		mk_list_reply_too_large(rep, want, mk_store_revision(req->srv->store));
		return;
	}
	/* paging (paging.c): a continue or exact request lists unfiltered, to rebuild
	 * the collection at the token's (or the asked) revision */
	bool paged = has_limit || has_cont || exact;
	mk_store_filter_fn filter = (f.labels || f.fields) ? mk_list_selectors_match : NULL;
	_cleanup_free_ char *next = NULL;
	long remaining = -1;
	int rc = mk_store_list(req->srv->store, mk_api_resource_store(r), ns,
			       has_cont || exact ? NULL : filter, &f, &l, &err);
	if (rc == 0 && paged &&
	    mk_list_paginate(req, rep, mk_api_resource_store(r), ns, filter, &f, &l, exact, &next,
			     &remaining) < 0) {
		mk_store_list_release(&l);
		rc = 1;
	}
	mk_label_selector_free(f.labels);
	mk_field_selector_free(f.fields);
	if (rc != 0) {
		if (rc < 0)
			mk_reply_error(rep, r, NULL, err);
		return;
	}
	if (table)
		mk_list_reply_table(rep, r, &l, next, remaining);
	else if (!r->crd) /* stored JSON texts, written out as the connection takes them */
		mk_list_reply_stream(rep, r, &l, next, remaining);
	else
		reply_list_buffered(rep, r, &l, next, remaining);
}

/* ---- update and patch --------------------------------------------------------- */

enum write_target { TARGET_MAIN, TARGET_STATUS, TARGET_SCALE, TARGET_SUB };

static bool ready_to_go(const struct mk_api_resource *r, const cJSON *obj);

/* One update on its way to the store (finish_update's steps). */
struct update {
	struct mk_request *req;
	struct mk_reply *rep;
	const struct mk_api_resource *r;
	const struct mk_server_strategy *s;
	const cJSON *old;
	enum write_target target;
};

/* TARGET_SCALE: old with the replicas of the Scale sent. */
static cJSON *scale_compose(struct update *u, const cJSON *sent)
{
	cJSON *rp = mk_json_get(sent, "spec.replicas");
	if (!cJSON_IsNumber(rp) || rp->valuedouble < 0 ||
	    rp->valuedouble != (double)(int)rp->valuedouble) {
		cJSON *causes = cJSON_CreateArray();
		mk_api_cause_add(causes, "FieldValueInvalid", "spec.replicas",
				 "Invalid value: must be a non-negative integer");
		reply_invalid(u->rep, u->r, u->req->name, causes);
		return NULL;
	}
	const char *sp = scale_path(u->r, "specReplicasPath", "spec.replicas");
	const char *dot = sp ? strrchr(sp, '.') : NULL;
	if (!sp || !dot) {
		mk_reply_status(u->rep, 500, NULL, NULL, "the scale subresource has no specReplicasPath");
		return NULL;
	}
	cJSON *obj = cJSON_Duplicate(u->old, 1);
	_cleanup_free_ char *parent = strndup(sp, (size_t)(dot - sp));
	mk_json_set(mk_json_ensure_object(obj, parent), dot + 1, cJSON_CreateNumber(rp->valuedouble));
	return obj;
}

/* TARGET_MAIN: the object sent, with what the client may not change taken from
 * old (status, server-owned metadata); *ret_sent: the managedFields it sent. */
static cJSON *main_compose(struct update *u, const cJSON *sent, cJSON **ret_sent)
{
	struct mk_request *req = u->req;
	const struct mk_api_resource *r = u->r;
	_cleanup_cjson_ cJSON *obj = cJSON_Duplicate(sent, 1);
	const cJSON *omd = cJSON_GetObjectItem(u->old, "metadata");

	if (check_type(req, u->rep, obj, r->kind, r->group_version) < 0)
		return NULL;
	const char *bn = mk_json_get_string(obj, "metadata.name");
	if (!bn || strcmp(bn, req->name)) {
		mk_reply_status(u->rep, 400, NULL, NULL,
				"the name of the object (%s) does not match the name on the URL (%s)",
				bn ? bn : "", req->name);
		return NULL;
	}
	const char *bns = mk_json_get_string(obj, "metadata.namespace");
	if (r->namespaced && bns && *bns && strcmp(bns, req->ns)) {
		mk_reply_status(u->rep, 400, NULL, NULL,
				"the namespace of the provided object does not match the "
				"namespace sent on the request");
		return NULL;
	}
	/* status belongs to /status for kinds that have one */
	if (r->has_status) {
		cJSON *st = cJSON_GetObjectItem(u->old, "status");
		if (st)
			mk_json_set(obj, "status", cJSON_Duplicate(st, 1));
		else
			cJSON_DeleteItemFromObject(obj, "status");
	}
	/* server-owned metadata */
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	const char *keep[] = { "uid", "creationTimestamp", "deletionTimestamp",
			       "deletionGracePeriodSeconds", "generation", "namespace" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(keep); i++) {
		cJSON *v = cJSON_GetObjectItem(omd, keep[i]);
		if (v)
			mk_json_set(md, keep[i], cJSON_Duplicate(v, 1));
		else
			cJSON_DeleteItemFromObject(md, keep[i]);
	}
	*ret_sent = cJSON_DetachItemFromObject(md, "managedFields");
	if (u->s->update_prepare)
		u->s->update_prepare(u->old, obj);
	return TAKE_PTR(obj);
}

/* The object to store, from old and what the client sent, by target; NULL with
 * the reply filled. */
static cJSON *update_compose(struct update *u, cJSON *sent, cJSON **ret_sent)
{
	cJSON *obj;

	switch (u->target) {
	case TARGET_MAIN:
		return main_compose(u, sent, ret_sent);
	case TARGET_SCALE:
		return scale_compose(u, sent);
	case TARGET_STATUS: {
		obj = cJSON_Duplicate(u->old, 1);
		cJSON *st = cJSON_GetObjectItem(sent, "status");
		if (st)
			mk_json_set(obj, "status", cJSON_Duplicate(st, 1));
		else
			cJSON_DeleteItemFromObject(obj, "status");
		return obj;
	}
	case TARGET_SUB:
	default: {
		/* a part of the object written through its own subresource (the strategy's) */
		const struct mk_subresource *sr = mk_strategy_subresource(u->s, u->req->sub);
		if (sr->typed &&
		    check_type(u->req, u->rep, sent, u->r->kind, u->r->group_version) < 0)
			return NULL;
		obj = cJSON_Duplicate(u->old, 1);
		sr->write(obj, sent);
		return obj;
	}
	}
}

/* Defaults, the stored form, generation and managedFields of obj. */
static void update_fill(struct update *u, cJSON *obj, const cJSON *sent_managed,
			const cJSON *applied_managed)
{
	const struct mk_api_resource *r = u->r;
	const cJSON *omd = cJSON_GetObjectItem(u->old, "metadata");

	mk_api_default(r, obj);
	if (r->crd) /* stored at the storage version (conversion None: apiVersion only) */
		mk_api_cr_to_storage(r, obj);
	if (u->s->prepare)
		u->s->prepare(u->req->srv, obj, false);
	/* same resourceVersion as old for the comparisons below */
	mk_json_set(mk_json_ensure_object(obj, "metadata"), "resourceVersion",
		    cJSON_Duplicate(cJSON_GetObjectItem(omd, "resourceVersion"), 1));
	if (has_spec_generation(r) &&
	    !cJSON_Compare(cJSON_GetObjectItem(obj, "spec"), cJSON_GetObjectItem(u->old, "spec"), 1)) {
		cJSON *g = cJSON_GetObjectItem(omd, "generation");
		mk_json_set(mk_json_ensure_object(obj, "metadata"), "generation",
			    cJSON_CreateNumber((cJSON_IsNumber(g) ? g->valuedouble : 0) + 1));
	}
	/* managedFields: an apply's as it computed them, else this write's Update */
	if (applied_managed) {
		cJSON *md = mk_json_ensure_object(obj, "metadata");
		cJSON_DeleteItemFromObject(md, "managedFields");
		if (cJSON_GetArraySize(applied_managed) > 0)
			cJSON_AddItemToObject(md, "managedFields", cJSON_Duplicate(applied_managed, 1));
	} else {
		mk_fieldmanager_update(u->req, u->old, obj, sent_managed);
	}
}

/* Validation and admission of obj; -1 with the reply filled. */
static int update_admit(struct update *u, const cJSON *obj)
{
	cJSON *causes = NULL;

	if (mk_api_validate(u->r, obj, u->old, &causes) < 0) {
		reply_invalid(u->rep, u->r, u->req->name, causes);
		return -1;
	}
	if (mk_noderestriction_admit(u->req, u->rep, u->old, obj) < 0)
		return -1;
	if (u->target == TARGET_MAIN && mk_rbac_admit(u->req, u->rep, obj, u->old) < 0)
		return -1;
	return 0;
}

/* Stores obj (precondition expect_rv), or removes it when it was marked for
 * deletion and nothing holds it any more; the strategy's reservations follow.
 * 0, or -1 / -2 (ESTALE) with the reply filled. */
static int update_store(struct update *u, cJSON *obj, uint64_t expect_rv, char **ret_json)
{
	struct mk_request *req = u->req;
	const struct mk_api_resource *r = u->r;
	const struct mk_server_strategy *s = u->s;
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON *causes = NULL;
	bool main = u->target == TARGET_MAIN;

	/* a type change to NodePort / LoadBalancer: its node ports */
	if (main && s->update_reserve &&
	    s->update_reserve(req->srv, u->old, obj, &causes, &err) < 0) {
		if (causes)
			reply_invalid(u->rep, r, req->name, causes);
		else
			mk_reply_error(u->rep, r, req->name, err);
		return -1;
	}
	/* the last finalizer of an object being deleted is gone: delete it now */
	if (ready_to_go(r, obj)) {
		uint64_t cur;
		if (main && s->update_release) /* gone with the object: nothing new stays */
			s->update_release(req->srv, obj, u->old);
		if (expect_rv == 0 &&
		    parse_rv(mk_json_get_string(u->old, "metadata.resourceVersion"), &cur) == 0)
			expect_rv = cur;
		if (mk_resource_delete_one(req->srv, r, req->ns, req->name, expect_rv, ret_json,
					   &err) < 0) {
			mk_reply_error(u->rep, r, req->name, err);
			return err->code == ESTALE ? -2 : -1;
		}
		return 0;
	}
	if (mk_store_update(req->srv->store, mk_api_resource_store(r), store_ns(r, req->ns),
			    req->name, expect_rv, obj, ret_json, NULL, &err) < 0) {
		if (main && s->update_release) /* what update_reserve took */
			s->update_release(req->srv, obj, u->old);
		mk_reply_error(u->rep, r, req->name, err);
		return err->code == ESTALE ? -2 : -1;
	}
	if (s->update_release)
		s->update_release(req->srv, u->old, obj);
	return 0;
}

/* Builds the object to store from old and the client's new version according to
 * the target, then defaults, validates and stores it with precondition expect_rv.
 * On success *ret_json is the stored text (or the unchanged old one). Returns 0,
 * or -1 with the reply filled; ESTALE conflicts return -2 (reply filled too) so
 * patch callers can retry. managedFields: applied_managed when an apply computed
 * them (stored as they are), else the write is recorded as an Update of its
 * manager (mk_fieldmanager_update). */
static int finish_update(struct mk_request *req, struct mk_reply *rep, const cJSON *old,
			 cJSON *new, enum write_target target, uint64_t expect_rv,
			 char **ret_json, const cJSON *applied_managed)
{
	struct update u = { .req = req, .rep = rep, .r = req->res, .s = mk_strategy_of(req->res),
			    .old = old, .target = target };
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_cjson_ cJSON *obj = NULL, *sent = NULL;

	obj = update_compose(&u, new, &sent);
	if (!obj)
		return -1;
	update_fill(&u, obj, sent, applied_managed);
	if (update_admit(&u, obj) < 0)
		return -1;
	/* a stale precondition is a conflict even when nothing would change */
	uint64_t old_rv = 0;
	if (expect_rv && parse_rv(mk_json_get_string(old, "metadata.resourceVersion"), &old_rv) == 0 &&
	    old_rv != expect_rv) {
		struct mk_error e = { ESTALE, (char *)"conflict" };
		mk_reply_error(rep, u.r, req->name, &e);
		return -2;
	}
	/* a no-op write keeps the resourceVersion, as Kubernetes does */
	if (cJSON_Compare(obj, old, 1)) {
		*ret_json = cJSON_PrintUnformatted(old);
		return 0;
	}
	if (target == TARGET_MAIN &&
	    mk_admission_validate_update(req->srv, u.r, req->ns, obj, old, query_dry_run(req), &err) < 0) {
		mk_reply_error(rep, u.r, req->name, err);
		return -1;
	}
	if (query_dry_run(req)) {
		*ret_json = cJSON_PrintUnformatted(obj);
		return 0;
	}
	return update_store(&u, obj, expect_rv, ret_json);
}

/* Loads the current object; fills a reply on error. */
static int load_current(struct mk_request *req, struct mk_reply *rep, cJSON **ret,
			uint64_t *ret_rv)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *json = NULL;

	if (mk_store_get(req->srv->store, mk_api_resource_store(r), store_ns(r, req->ns), req->name, &json, ret_rv,
			 &err) < 0) {
		mk_reply_error(rep, r, req->name, err);
		return -1;
	}
	*ret = cJSON_Parse(json);
	if (!*ret) {
		mk_reply_status(rep, 500, NULL, NULL, "stored object is corrupt");
		return -1;
	}
	return 0;
}

static enum write_target target_of(struct mk_request *req)
{
	if (!req->sub)
		return TARGET_MAIN;
	if (!strcmp(req->sub, "status"))
		return TARGET_STATUS;
	return !strcmp(req->sub, "scale") ? TARGET_SCALE : TARGET_SUB;
}

static void handle_update(struct mk_request *req, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *body = NULL, *old = NULL;
	uint64_t expect = 0, cur;
	char *json = NULL;
	bool dry;

	if (mk_request_dry_run(req, rep, "UpdateOptions", NULL, &dry) < 0 ||
	    mk_fieldmanager_check(req, rep, "UpdateOptions", false) < 0 ||
	    decode_body(req, rep, &body) < 0)
		return;
	if (parse_rv(mk_json_get_string(body, "metadata.resourceVersion"), &expect) < 0) {
		mk_reply_status(rep, 400, NULL, NULL, "invalid metadata.resourceVersion");
		return;
	}
	if (target_of(req) == TARGET_SCALE) {
		const char *k = mk_json_get_string(body, "kind");
		if (k && strcmp(k, "Scale")) {
			mk_reply_status(rep, 400, NULL, NULL,
					"the kind in the data (%s) does not match the expected kind (Scale)", k);
			return;
		}
	}
	if (load_current(req, rep, &old, &cur) < 0)
		return;
	if (target_of(req) == TARGET_SCALE
		    ? mk_field_validation(req, rep, "autoscaling", "v1", "Scale", body, NULL, false) < 0
		    : mk_field_validation(req, rep, req->res->group, req->res->version,
					  req->res->kind, body, old, false) < 0)
		return;
	if (finish_update(req, rep, old, body, target_of(req), expect, &json, NULL) < 0)
		return;
	reply_object(req, rep, json);
}

/* Applies cfg to old (NULL: a new object) into *ret_obj, with its managedFields
 * detached into *ret_managed (an empty array when there are none). -1: rep filled. */
static int apply_config(struct mk_request *req, struct mk_reply *rep, const cJSON *old,
			const cJSON *cfg, cJSON **ret_obj, cJSON **ret_managed)
{
	if (mk_fieldmanager_apply(req, rep, old, cfg, ret_obj) < 0)
		return -1;
	cJSON *managed = cJSON_DetachItemFromObject(mk_json_ensure_object(*ret_obj, "metadata"),
						    "managedFields");
	*ret_managed = managed ? managed : cJSON_CreateArray();
	return 0;
}

/* Drops the answer of an attempt that is retried. */
static void reply_discard(struct mk_reply *rep)
{
	free(rep->body);
	rep->body = NULL;
}

/* PATCH with application/apply-patch+yaml: server-side apply, creating the object
 * when it does not exist (kube's applyPatcher with forceAllowCreate). */
static void handle_apply(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;
	enum write_target target = target_of(req);
	_cleanup_cjson_ cJSON *cfg = NULL;

	if (mk_fieldmanager_check(req, rep, "PatchOptions", true) < 0)
		return;
	if (target != TARGET_MAIN && target != TARGET_STATUS) {
		mk_reply_status(rep, 415, NULL, NULL,
				"server-side apply is served on the resource and its status only");
		return;
	}
	if (mk_fieldmanager_apply_config(req, rep, &cfg) < 0 ||
	    mk_field_validation(req, rep, r->group, r->version, r->kind, cfg, NULL, true) < 0)
		return;
	for (int attempt = 0;; attempt++) {
		_cleanup_cjson_ cJSON *old = NULL, *obj = NULL, *managed = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		_cleanup_free_ char *stored = NULL;
		char *json = NULL;
		uint64_t cur;

		if (mk_store_get(req->srv->store, mk_api_resource_store(r), store_ns(r, req->ns), req->name, &stored,
				 &cur, &err) < 0) {
			if (err->code != ENOENT || target != TARGET_MAIN) {
				mk_reply_error(rep, r, req->name, err);
				return;
			}
			if (apply_config(req, rep, NULL, cfg, &obj, &managed) < 0)
				return;
			create_object(req, rep, obj, managed);
			/* created meanwhile by someone else: apply to that one */
			if (rep->code == 409 && attempt < PATCH_RETRIES) {
				reply_discard(rep);
				continue;
			}
			return;
		}
		old = cJSON_Parse(stored);
		if (!old) {
			mk_reply_status(rep, 500, NULL, NULL, "stored object is corrupt");
			return;
		}
		if (apply_config(req, rep, old, cfg, &obj, &managed) < 0)
			return;
		int rc = finish_update(req, rep, old, obj, target, cur, &json, managed);
		if (rc == -2 && attempt < PATCH_RETRIES) {
			reply_discard(rep);
			continue;
		}
		if (rc < 0)
			return;
		reply_object(req, rep, json);
		return;
	}
}

enum patch_kind { PATCH_MERGE, PATCH_JSON, PATCH_STRATEGIC, PATCH_APPLY };

/* The patch type of the request's Content-Type; -1 with a 415 in rep. */
static int patch_kind_of(struct mk_request *req, struct mk_reply *rep, enum patch_kind *ret)
{
	const char *ct = mk_request_header(req, "Content-Type");

	if (content_type_is(ct, "application/merge-patch+json"))
		*ret = PATCH_MERGE;
	else if (content_type_is(ct, "application/json-patch+json"))
		*ret = PATCH_JSON;
	else if (content_type_is(ct, "application/strategic-merge-patch+json"))
		*ret = PATCH_STRATEGIC;
	else if (content_type_is(ct, "application/apply-patch+yaml"))
		*ret = PATCH_APPLY;
	else {
		mk_reply_status(rep, 415, NULL, NULL,
				"the body of the request was in an unknown format - accepted media "
				"types include: application/json-patch+json, "
				"application/merge-patch+json, application/strategic-merge-patch+json");
		return -1;
	}
	if (*ret == PATCH_STRATEGIC && req->res->crd) {
		/* custom resources have no patch strategy (no Go types): as kube-apiserver */
		mk_reply_status(rep, 415, NULL, NULL,
				"the body of the request was in an unknown format - accepted media "
				"types include: application/json-patch+json, "
				"application/merge-patch+json, application/apply-patch+yaml");
		return -1;
	}
	return 0;
}

/* The patch document of the body (an array for a JSON patch, an object
 * otherwise); NULL with a 400 in rep. */
static cJSON *patch_decode(struct mk_request *req, struct mk_reply *rep, enum patch_kind kind)
{
	if (req->body.data)
		mk_json_fix_surrogates(req->body.data, req->body.len);
	cJSON *patch = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
	mk_api_json_dedupe(patch);
	if (!patch) {
		mk_reply_status(rep, 400, NULL, NULL, "the patch is not valid JSON");
		return NULL;
	}
	if (kind == PATCH_JSON ? !cJSON_IsArray(patch) : !cJSON_IsObject(patch)) {
		mk_reply_status(rep, 400, NULL, NULL, "the patch must be a JSON %s",
				kind == PATCH_JSON ? "array" : "object");
		cJSON_Delete(patch);
		return NULL;
	}
	mk_json_utf8_sanitize(patch); /* as decode_body does */
	return patch;
}

/* old (a Scale of it for the scale subresource) with patch applied; NULL with the
 * reply filled. */
static cJSON *patch_apply(struct mk_request *req, struct mk_reply *rep, const cJSON *old,
			  enum write_target target, enum patch_kind kind, const cJSON *patch)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_cjson_ cJSON *doc = target == TARGET_SCALE ? scale_from(r, old)
							   : cJSON_Duplicate(old, 1);

	if (r->crd && target != TARGET_SCALE) /* patched at the request's version */
		mk_json_set_string(doc, "apiVersion", r->group_version);
	int rc = kind == PATCH_MERGE  ? mk_api_patch_merge(&doc, patch, &err)
		 : kind == PATCH_JSON ? mk_api_patch_json(&doc, patch, &err)
				      : mk_api_patch_strategic(target == TARGET_SCALE ? NULL : r,
							       &doc, patch, &err);
	if (rc < 0) {
		if (err->code == ESTALE || err->code == EINVAL || err->code < 400)
			mk_reply_status(rep, kind == PATCH_JSON ? 422 : 400, NULL, NULL, "%s",
					err->msg);
		else
			mk_reply_error(rep, r, req->name, err);
		return NULL;
	}
	if (!cJSON_IsObject(doc)) {
		mk_reply_status(rep, 422, NULL, NULL, "the patched document is not an object");
		return NULL;
	}
	return TAKE_PTR(doc);
}

/* One attempt: the patch applied to the object as stored now, then stored.
 * finish_update's result (-2: a conflict, to retry). */
static int patch_once(struct mk_request *req, struct mk_reply *rep, enum write_target target,
		      enum patch_kind kind, const cJSON *patch)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_cjson_ cJSON *old = NULL, *doc = NULL;
	uint64_t cur, expect;
	char *json = NULL;

	if (load_current(req, rep, &old, &cur) < 0)
		return -1;
	doc = patch_apply(req, rep, old, target, kind, patch);
	if (!doc)
		return -1;
	if (target != TARGET_SCALE &&
	    mk_field_validation(req, rep, r->group, r->version, r->kind, doc, old, true) < 0)
		return -1;
	/* a resourceVersion the patch sets is a precondition (a scale's is the
	 * object's own); otherwise the patch applies to whatever is current and
	 * is retried on conflict */
	if (parse_rv(mk_json_get_string(doc, "metadata.resourceVersion"), &expect) < 0) {
		mk_reply_status(rep, 400, NULL, NULL, "invalid metadata.resourceVersion");
		return -1;
	}
	if (expect && expect != cur && target != TARGET_SCALE) {
		struct mk_error e = { ESTALE, (char *)"conflict" };
		mk_reply_error(rep, r, req->name, &e);
		return -1;
	}
	int rc = finish_update(req, rep, old, doc, target, cur, &json, NULL);
	if (rc == 0)
		reply_object(req, rep, json);
	return rc;
}

static void handle_patch(struct mk_request *req, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *patch = NULL;
	enum patch_kind kind;
	bool dry;

	if (mk_request_dry_run(req, rep, "PatchOptions", NULL, &dry) < 0 ||
	    patch_kind_of(req, rep, &kind) < 0)
		return;
	if (kind == PATCH_APPLY) {
		handle_apply(req, rep);
		return;
	}
	if (mk_fieldmanager_check(req, rep, "PatchOptions", false) < 0)
		return;
	patch = patch_decode(req, rep, kind);
	if (!patch)
		return;
	for (int attempt = 0;; attempt++) {
		int rc = patch_once(req, rep, target_of(req), kind, patch);
		if (rc != -2 || attempt >= PATCH_RETRIES)
			return;
		reply_discard(rep);
	}
}

/* ---- delete ------------------------------------------------------------------ */

/* Deletes one object; what its strategy reserved for it is given back once it
 * is gone. */
int mk_resource_delete_one(struct mk_apiserver *srv, const struct mk_api_resource *r,
			   const char *ns, const char *name, uint64_t expect, char **ret_json,
			   struct mk_error **err)
{
	const struct mk_server_strategy *s = mk_strategy_of(r);
	_cleanup_free_ char *json = NULL;

	if (mk_store_delete(srv->store, mk_api_resource_store(r), store_ns(r, ns), name, expect,
			    &json, NULL, err) < 0)
		return -1;
	if (s->release || s->removed) {
		_cleanup_cjson_ cJSON *o = cJSON_Parse(json);
		if (o && s->release)
			s->release(srv, o);
		if (o && s->removed)
			s->removed(srv, name);
	}
	if (ret_json)
		*ret_json = TAKE_PTR(json);
	return 0;
}

struct delete_opts {
	const char *policy;	/* NULL = Background */
	long grace;		/* -1 = not given */
	uint64_t expect_rv;	/* preconditions.resourceVersion, 0 = none */
	char *expect_uid;	/* preconditions.uid, or NULL */
	bool dry;		/* dryRun: All (query or body) */
};

/* Reads DeleteOptions from the body and the query. Fills a reply on error. */
static int delete_options(struct mk_request *req, struct mk_reply *rep, struct delete_opts *o)
{
	_cleanup_cjson_ cJSON *opts = NULL;
	const char *g = mk_request_arg(req, "gracePeriodSeconds");
	static const char *const policies[] = { "Orphan", "Background", "Foreground" };

	memset(o, 0, sizeof(*o));
	o->policy = mk_request_arg(req, "propagationPolicy");
	if (!o->policy && mk_request_bool(req, "orphanDependents")) /* deprecated form */
		o->policy = "Orphan";
	o->grace = g && *g ? strtol(g, NULL, 10) : -1;
	if (req->body.len) {
		opts = cJSON_ParseWithLength(req->body.data, req->body.len);
		if (!cJSON_IsObject(opts)) {
			mk_reply_status(rep, 400, NULL, NULL, "the DeleteOptions body is not valid JSON");
			return -1;
		}
		mk_json_utf8_sanitize(opts);
		const char *p = mk_json_get_string(opts, "propagationPolicy");
		cJSON *gj = cJSON_GetObjectItem(opts, "gracePeriodSeconds");
		if (p)
			o->policy = p;
		if (cJSON_IsNumber(gj))
			o->grace = (long)gj->valuedouble;
		if (cJSON_IsTrue(cJSON_GetObjectItem(opts, "orphanDependents")) && !p)
			o->policy = "Orphan";
		if (parse_rv(mk_json_get_string(opts, "preconditions.resourceVersion"), &o->expect_rv) < 0) {
			mk_reply_status(rep, 400, NULL, NULL, "invalid preconditions.resourceVersion");
			return -1;
		}
		o->expect_uid = mk_strdup(mk_json_get_string(opts, "preconditions.uid"));
	}
	if (mk_request_dry_run(req, rep, "DeleteOptions", cJSON_GetObjectItem(opts, "dryRun"), &o->dry) < 0) {
		free(o->expect_uid);
		o->expect_uid = NULL;
		return -1;
	}
	if (o->policy) {
		bool ok = false;
		for (size_t i = 0; i < MK_ARRAY_SIZE(policies); i++)
			ok |= !strcmp(o->policy, policies[i]);
		if (!ok) {
			cJSON *causes = cJSON_CreateArray();
			mk_api_cause_add(causes, "FieldValueNotSupported", "propagationPolicy",
					 "Unsupported value: \"%s\": supported values: \"Foreground\", "
					 "\"Background\", \"Orphan\"", o->policy);
			_cleanup_cjson_ cJSON *st = mk_api_status_new(
				422, "Invalid", NULL, "DeleteOptions", "", causes);
			_cleanup_free_ char *m = mk_strdup_printf(
				"DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported "
				"value: \"%s\": supported values: \"Foreground\", \"Background\", "
				"\"Orphan\"", o->policy);
			mk_json_set_string(st, "message", m);
			mk_reply_json(rep, 422, st);
			free(o->expect_uid);
			o->expect_uid = NULL;
			return -1;
		}
		/* the policy string may live in opts, which is freed here */
		o->policy = !strcmp(o->policy, "Orphan") ? policies[0]
			    : !strcmp(o->policy, "Background") ? policies[1] : policies[2];
	}
	if (o->grace < -1)
		o->grace = 0;
	return 0;
}

static bool has_finalizer(const cJSON *obj, const char *f)
{
	cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(obj, "metadata.finalizers"))
		if (cJSON_IsString(it) && !strcmp(it->valuestring, f))
			return true;
	return false;
}

static void add_finalizer(cJSON *obj, const char *f)
{
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	cJSON *fs = cJSON_GetObjectItem(md, "finalizers");
	if (has_finalizer(obj, f))
		return;
	if (!cJSON_IsArray(fs)) {
		fs = cJSON_CreateArray();
		mk_json_set(md, "finalizers", fs);
	}
	cJSON_AddItemToArray(fs, cJSON_CreateString(f));
}

/* True when an object marked for deletion has nothing left holding it. */
static bool ready_to_go(const struct mk_api_resource *r, const cJSON *obj)
{
	const struct mk_server_strategy *s = mk_strategy_of(r);

	if (!mk_json_get(obj, "metadata.deletionTimestamp"))
		return false;
	if (cJSON_GetArraySize(mk_json_get(obj, "metadata.finalizers")) > 0)
		return false;
	return !(s->holds && s->holds(obj));
}

/* One DELETE of one object (handle_delete's steps). */
struct deletion {
	struct mk_request *req;
	struct mk_reply *rep;
	const struct mk_api_resource *r;
	const struct mk_server_strategy *s;
	struct delete_opts o;
};

/* A new deletion of obj: the propagation policy's finalizer, the grace period
 * (graceful kinds), the kind's finalizer flow. true when obj changed. */
static bool delete_begin(struct deletion *d, cJSON *obj)
{
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	bool changed = false;
	long grace = 0;
	char ts[32];

	if (d->o.policy && !strcmp(d->o.policy, "Foreground"))
		add_finalizer(obj, "foregroundDeletion"), changed = true;
	else if (d->o.policy && !strcmp(d->o.policy, "Orphan"))
		add_finalizer(obj, "orphan"), changed = true;
	if (d->s->delete_grace)
		grace = d->s->delete_grace(obj, d->o.grace);
	bool flow = d->s->delete_mark && d->s->delete_mark(d->req->srv, obj);
	if (grace > 0 || flow || cJSON_GetArraySize(mk_json_get(obj, "metadata.finalizers")) > 0) {
		mk_time_format(time(NULL) + grace, ts, sizeof(ts));
		mk_json_set_string(md, "deletionTimestamp", ts);
		mk_json_set(md, "deletionGracePeriodSeconds", cJSON_CreateNumber((double)grace));
		changed = true;
	}
	return changed;
}

/* A dry run answers with obj as it would be stored or removed; true when it did. */
static bool delete_dry_run(struct deletion *d, const cJSON *obj)
{
	if (!d->o.dry)
		return false;
	reply_stored(d->rep, d->req, 200, cJSON_PrintUnformatted(obj));
	return true;
}

/* obj, marked for deletion, is still held: stored as marked (revision cur).
 * true to retry (a conflict). */
static bool delete_hold(struct deletion *d, cJSON *obj, uint64_t cur)
{
	struct mk_request *req = d->req;
	_cleanup_error_ struct mk_error *err = NULL;
	char *json = NULL;

	if (delete_dry_run(d, obj))
		return false;
	if (mk_store_update(req->srv->store, mk_api_resource_store(d->r), store_ns(d->r, req->ns),
			    req->name, cur, obj, &json, NULL, &err) < 0) {
		mk_reply_error(d->rep, d->r, req->name, err);
		return err->code == ESTALE;
	}
	reply_stored(d->rep, req, 200, json);
	return false;
}

/* Nothing holds obj: removed now (a dry run answers with what it would remove).
 * true to retry (a conflict). */
static bool delete_remove(struct deletion *d, const cJSON *obj, uint64_t cur)
{
	struct mk_request *req = d->req;
	_cleanup_error_ struct mk_error *err = NULL;
	char *json = NULL;

	if (delete_dry_run(d, obj))
		return false;
	if (d->s->purge && d->s->purge(req->srv, req->name, &err) < 0) {
		mk_reply_error(d->rep, d->r, req->name, err);
		return false;
	}
	if (mk_resource_delete_one(req->srv, d->r, req->ns, req->name, cur, &json, &err) < 0) {
		mk_reply_error(d->rep, d->r, req->name, err);
		return err->code == ESTALE;
	}
	reply_stored(d->rep, req, 200, json);
	if (d->s->deleted)
		d->s->deleted(req->srv, req->ns, req->name);
	return false;
}

/* A second graceful delete of an object already terminating may only shorten its
 * grace period, as kube-apiserver's BeforeDelete: the deadline moves by the
 * difference. true when obj changed. */
static bool delete_shorten(cJSON *obj, long grace)
{
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	const cJSON *g = mk_json_get(md, "deletionGracePeriodSeconds");
	time_t ts = mk_time_parse(mk_json_get_string(md, "deletionTimestamp"));
	char buf[32];

	if (!cJSON_IsNumber(g) || grace >= (long)g->valuedouble || ts == (time_t)-1)
		return false;
	mk_time_format(ts - (time_t)g->valuedouble + grace, buf, sizeof(buf));
	mk_json_set_string(md, "deletionTimestamp", buf);
	mk_json_set(md, "deletionGracePeriodSeconds", cJSON_CreateNumber((double)grace));
	return true;
}

/* One attempt at the delete, on the object as stored now; true to retry. */
static bool delete_attempt(struct deletion *d)
{
	struct mk_request *req = d->req;
	_cleanup_cjson_ cJSON *obj = NULL;
	uint64_t cur;

	if (load_current(req, d->rep, &obj, &cur) < 0)
		return false;
	const char *uid = mk_json_get_string(obj, "metadata.uid");
	if ((d->o.expect_uid && (!uid || strcmp(uid, d->o.expect_uid))) ||
	    (d->o.expect_rv && d->o.expect_rv != cur)) {
		mk_reply_status(d->rep, 409, d->r->name, req->name,
				"Precondition failed: UID or ResourceVersion in precondition does "
				"not match the stored object");
		return false;
	}
	bool deleting = mk_json_get(obj, "metadata.deletionTimestamp") != NULL;
	bool changed = false;
	if (deleting && d->s->delete_grace && d->o.grace == 0 && !ready_to_go(d->r, obj)) {
		/* force: it goes now, or as soon as its finalizers are gone */
		mk_json_set(mk_json_ensure_object(obj, "metadata"), "deletionGracePeriodSeconds",
			    cJSON_CreateNumber(0));
		changed = true;
	} else if (deleting && d->s->delete_grace && d->o.grace > 0 && !ready_to_go(d->r, obj) &&
		   delete_shorten(obj, d->o.grace)) {
		changed = true;
	} else if (deleting && !ready_to_go(d->r, obj)) {
		reply_stored(d->rep, req, 200, cJSON_PrintUnformatted(obj));
		return false;
	}
	if (!deleting)
		changed = delete_begin(d, obj);
	if (changed && !ready_to_go(d->r, obj))
		return delete_hold(d, obj, cur);
	return delete_remove(d, obj, cur);
}

static void handle_delete(struct mk_request *req, struct mk_reply *rep)
{
	struct deletion d = { .req = req, .rep = rep, .r = req->res,
			      .s = mk_strategy_of(req->res) };

	if (req->sub) {
		mk_reply_status(rep, 405, NULL, NULL, "DELETE is not supported on %s/%s",
				req->res->name, req->sub);
		return;
	}
	if (delete_options(req, rep, &d.o) < 0)
		return;
	if (!(d.s->delete_refuse && d.s->delete_refuse(req, rep) < 0)) {
		for (int attempt = 0; attempt <= PATCH_RETRIES; attempt++) {
			reply_discard(rep);
			if (!delete_attempt(&d))
				break;
		}
	}
	free(d.o.expect_uid);
}

static void handle_delete_collection(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_list_selectors f;
	struct mk_store_list l = { 0 };
	struct delete_opts o;

	if (mk_strategy_of(r)->no_delete_collection) {
		mk_reply_status(rep, 405, NULL, NULL, "deletecollection is not supported on %s",
				r->name);
		return;
	}
	if (delete_options(req, rep, &o) < 0)
		return;
	free(o.expect_uid);
	bool dry = o.dry;
	if (mk_request_selectors(req, rep, &f.labels, &f.fields) < 0)
		return;
	int rc = mk_store_list(req->srv->store, mk_api_resource_store(r), r->namespaced ? req->ns : "",
			       (f.labels || f.fields) ? mk_list_selectors_match : NULL, &f, &l, &err);
	mk_label_selector_free(f.labels);
	mk_field_selector_free(f.fields);
	if (rc < 0) {
		mk_reply_error(rep, r, NULL, err);
		return;
	}
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{},\"items\":[",
		      r->kind, r->group_version);
	int first = 1;
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_cjson_ cJSON *o = cJSON_Parse(l.items[i]);
		const char *nm = mk_json_get_string(o, "metadata.name");
		const char *ns = mk_json_get_string(o, "metadata.namespace");
		_cleanup_error_ struct mk_error *e = NULL;
		_cleanup_free_ char *json = NULL;
		if (!nm)
			continue;
		if (dry)
			json = mk_strdup(l.items[i]);
		else if (cJSON_GetArraySize(mk_json_get(o, "metadata.finalizers")) > 0) {
			/* held by finalizers: marked for deletion, as a single delete does
			 * (the namespace controller's purge must not skip them) */
			if (!mk_json_get(o, "metadata.deletionTimestamp")) {
				char ts[32];
				const char *rvs = mk_json_get_string(o, "metadata.resourceVersion");
				cJSON *md = mk_json_ensure_object(o, "metadata");
				mk_time_format(time(NULL), ts, sizeof(ts));
				mk_json_set_string(md, "deletionTimestamp", ts);
				mk_json_set(md, "deletionGracePeriodSeconds", cJSON_CreateNumber(0));
				if (mk_store_update(req->srv->store, mk_api_resource_store(r), store_ns(r, ns), nm,
						    rvs ? strtoull(rvs, NULL, 10) : 0, o, &json, NULL, &e) < 0)
					continue;
			} else {
				json = mk_strdup(l.items[i]);
			}
		} else if (mk_resource_delete_one(req->srv, r, ns, nm, 0, &json, &e) < 0)
			continue;
		if (!first)
			mk_buf_puts(&b, ",");
		mk_buf_puts(&b, json);
		first = 0;
	}
	mk_buf_puts(&b, "]}");
	mk_store_list_release(&l);
	mk_reply_json_text(rep, 200, mk_buf_steal(&b));
}

/* ---- dispatch ------------------------------------------------------------------ */

static void resource_handle(struct mk_request *req, struct mk_reply *rep);
static void dispatch_verb(struct mk_request *req, struct mk_reply *rep);

static bool is_read(const char *method)
{
	return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* After a write, the resource's strategy follows it up before the reply goes
 * (the RBAC index rebuilt, the served custom resources synced), so the next
 * request sees it. */
void mk_resource_handle(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_server_strategy *s = mk_strategy_of(req->res);

	resource_handle(req, rep);
	if (!is_read(req->method) && s->written)
		s->written(req, rep);
}

/* The subresource of req (other than status and scale): answered by its
 * strategy's handler (true), or a part of the object the verbs write (false, to
 * go on); unknown ones are a 404 (true). */
static bool subresource_handle(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;
	const struct mk_subresource *sr;

	if ((!strcmp(req->sub, "status") && r->has_status) ||
	    (!strcmp(req->sub, "scale") && r->has_scale))
		return false;
	sr = mk_strategy_subresource(mk_strategy_of(r), req->sub);
	if (sr && sr->handle) {
		sr->handle(req, rep);
		return true;
	}
	if (sr && mk_subresource_serves(sr, req->method))
		return false;
	mk_reply_status(rep, 404, NULL, NULL, "the server could not find the requested resource");
	return true;
}

static void resource_handle(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;

	if (req->sub && subresource_handle(req, rep))
		return;
	dispatch_verb(req, rep);
	/* a deprecated custom version says so on every reply, beside other warnings */
	_cleanup_free_ char *dw = r->crd ? mk_api_crd_deprecation_warning(r) : NULL;
	if (dw && rep->warning) {
		char *both = mk_strdup_printf("%s, %s", dw, rep->warning);
		free(rep->warning);
		rep->warning = both;
	} else if (dw) {
		rep->warning = TAKE_PTR(dw);
	}
}

/* The verbs of a resource request, once the subresource is known to exist. */
static void dispatch_verb(struct mk_request *req, struct mk_reply *rep)
{
	const struct mk_api_resource *r = req->res;
	const char *m = req->method;

	if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
		if (req->name)
			handle_get(req, rep);
		else {
			if (mk_request_bool(req, "watch"))
				mk_watch_handle(req, rep);
			else
				handle_list(req, rep);
		}
	} else if (!strcmp(m, "POST")) {
		if (req->name)
			mk_reply_status(rep, 405, NULL, NULL, "POST is not supported on a named %s",
					r->singular);
		else
			handle_create(req, rep);
	} else if (!strcmp(m, "PUT")) {
		if (!req->name)
			mk_reply_status(rep, 405, NULL, NULL, "PUT requires an object name");
		else
			handle_update(req, rep);
	} else if (!strcmp(m, "PATCH")) {
		if (!req->name)
			mk_reply_status(rep, 405, NULL, NULL, "PATCH requires an object name");
		else
			handle_patch(req, rep);
	} else if (!strcmp(m, "DELETE")) {
		if (req->name)
			handle_delete(req, rep);
		else
			handle_delete_collection(req, rep);
	} else {
		mk_reply_status(rep, 405, NULL, NULL, "method %s is not supported", m);
	}
}
