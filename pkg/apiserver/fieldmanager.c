/* The request side of managedFields and server-side apply (kube-apiserver's
 * handlers/fieldmanager and the patch handler's applyPatcher): who the manager of a
 * write is, the checks of fieldManager / force, the decoding of an apply body (YAML
 * or JSON), and the calls into pkg/api/ssa.c. */
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "minik8s/client.h" /* mk_yaml_parse_documents: the one YAML reader */

#define FIELD_MANAGER_MAX 128

/* managerOrUserAgent: fieldManager, else the User-Agent up to its first '/'
 * with unprintable characters dropped, at most 128 bytes. */
char *mk_fieldmanager_name(struct mk_request *req)
{
	const char *m = mk_request_arg(req, "fieldManager");
	if (m && *m)
		return mk_strdup(m);
	const char *ua = mk_request_header(req, "User-Agent");
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	for (const char *c = ua ? ua : ""; *c && *c != '/'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			continue;
		if (b.len + 1 > FIELD_MANAGER_MAX)
			break;
		mk_buf_printf(&b, "%c", *c);
	}
	return mk_buf_steal(&b);
}

static void reply_options_invalid(struct mk_reply *rep, const char *opts_kind, const char *type,
				  const char *field, const char *msg)
{
	cJSON *causes = cJSON_CreateArray();
	mk_api_cause_add(causes, type, field, "%s", msg);
	_cleanup_cjson_ cJSON *st = mk_api_status_new(422, "Invalid", NULL, opts_kind, "", causes);
	_cleanup_free_ char *m =
		mk_strdup_printf("%s.meta.k8s.io \"\" is invalid: %s: %s", opts_kind, field, msg);
	mk_json_set_string(st, "message", m);
	mk_json_set_string(cJSON_GetObjectItem(st, "details"), "group", "meta.k8s.io");
	mk_reply_json(rep, 422, st);
}

int mk_fieldmanager_check(struct mk_request *req, struct mk_reply *rep, const char *opts_kind,
			  bool apply)
{
	const char *m = mk_request_arg(req, "fieldManager");
	bool is_patch = !strcmp(opts_kind, "PatchOptions");

	if (is_patch && !apply && mk_request_arg(req, "force")) {
		reply_options_invalid(rep, opts_kind, "FieldValueForbidden", "force",
				      "Forbidden: may not be specified for non-apply patch");
		return -1;
	}
	if (apply && (!m || !*m)) {
		reply_options_invalid(rep, opts_kind, "FieldValueRequired", "fieldManager",
				      "Required value: is required for apply patch");
		return -1;
	}
	if (m && strlen(m) > FIELD_MANAGER_MAX) {
		reply_options_invalid(rep, opts_kind, "FieldValueTooLong", "fieldManager",
				      "Too long: may not be more than 128 bytes");
		return -1;
	}
	for (const char *c = m; c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			_cleanup_free_ char *msg = mk_strdup_printf(
				"Invalid value: \"%s\": invalid character U+%04X (at position %d)", m,
				(unsigned char)*c, (int)(c - m));
			reply_options_invalid(rep, opts_kind, "FieldValueInvalid", "fieldManager", msg);
			return -1;
		}
	return 0;
}

static const char *op_api_version(struct mk_request *req)
{
	/* /scale writes are recorded against the parent's fields and version */
	return req->res->group_version;
}

/* The kind's schema for field ownership: a custom resource's from its version's
 * openAPIV3Schema (x-kubernetes-list-type and friends), a built-in's from the
 * schema source. */
static int kind_schema(const struct mk_api_resource *r, struct mk_ssa_schema *s,
		       struct mk_error **err)
{
	if (r->crd) {
		const cJSON *oa = mk_json_get(mk_api_crd_version(r), "schema.openAPIV3Schema");
		if (oa) {
			mk_api_ssa_schema_openapi(oa, s);
			return 0;
		}
	}
	return mk_api_ssa_schema_builtin(r->group, r->version, r->kind, s, err);
}

void mk_fieldmanager_update(struct mk_request *req, const cJSON *old, cJSON *obj,
			    const cJSON *sent)
{
	const struct mk_api_resource *r = req->res;
	struct mk_ssa_schema s;
	char now[32];

	if (kind_schema(r, &s, NULL) < 0)
		return;
	_cleanup_free_ char *manager = mk_fieldmanager_name(req);
	mk_time_format(time(NULL), now, sizeof(now));
	struct mk_api_managed_op op = { .manager = manager,
					.api_version = op_api_version(req),
					.subresource = req->sub,
					.now = now };
	/* subresources never take managedFields from the client */
	mk_api_managed_update(&s, old, obj, req->sub ? NULL : sent, &op, NULL);
}

/* Decodes an apply body: YAML (JSON is YAML) holding one object. */
static int decode_apply_body(struct mk_request *req, struct mk_reply *rep, cJSON **ret)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_cjson_ cJSON *docs = NULL;
	const char *b = req->body.data ? req->body.data : "";
	size_t n = req->body.len;

	size_t i = strspn(b, " \t\r\n");
	if (i < n && b[i] == '{') {
		mk_json_fix_surrogates(req->body.data, req->body.len);
		cJSON *o = cJSON_ParseWithLength(b, n);
		if (o) {
			mk_api_json_dedupe(o);
			*ret = o;
			goto check;
		}
	}
	if (mk_yaml_parse_documents(b, n, &docs, &err) < 0) {
		mk_reply_status(rep, 400, NULL, NULL, "error decoding YAML: %s", err->msg);
		return -1;
	}
	if (cJSON_GetArraySize(docs) != 1) {
		mk_reply_status(rep, 400, NULL, NULL,
				"error decoding YAML: the apply patch must hold exactly one object");
		return -1;
	}
	*ret = cJSON_DetachItemFromArray(docs, 0);
check:
	if (!cJSON_IsObject(*ret)) {
		cJSON_Delete(*ret);
		*ret = NULL;
		mk_reply_status(rep, 400, NULL, NULL, "error decoding YAML: the apply patch must be an object");
		return -1;
	}
	mk_json_utf8_sanitize(*ret);
	return 0;
}

int mk_fieldmanager_apply_config(struct mk_request *req, struct mk_reply *rep, cJSON **ret)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_cjson_ cJSON *cfg = NULL;

	if (decode_apply_body(req, rep, &cfg) < 0)
		return -1;
	const cJSON *jav = cJSON_GetObjectItem(cfg, "apiVersion"), *jk = cJSON_GetObjectItem(cfg, "kind");
	const char *av = cJSON_IsString(jav) ? jav->valuestring : "";
	const char *k = cJSON_IsString(jk) ? jk->valuestring : "";
	if (!*k) {
		mk_reply_status(rep, 400, NULL, NULL, "Object 'Kind' is missing in the apply patch");
		return -1;
	}
	if (strcmp(av, r->group_version)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"Incorrect version specified in apply patch. Specified patch version: "
				"%s, expected: %s", av, r->group_version);
		return -1;
	}
	if (strcmp(k, r->kind)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the kind in the data (%s) does not match the expected kind (%s)", k,
				r->kind);
		return -1;
	}
	cJSON *md = cJSON_GetObjectItem(cfg, "metadata");
	if (md && !cJSON_IsObject(md)) {
		mk_reply_status(rep, 400, NULL, NULL, "metadata must be an object");
		return -1;
	}
	if (cJSON_GetObjectItem(md, "managedFields")) {
		mk_reply_status(rep, 400, NULL, NULL, "metadata.managedFields must be nil");
		return -1;
	}
	const char *name = mk_json_get_string(md, "name");
	if (name && strcmp(name, req->name)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the name of the object (%s) does not match the name on the URL (%s)",
				name, req->name);
		return -1;
	}
	const char *ns = mk_json_get_string(md, "namespace");
	if (r->namespaced && ns && *ns && strcmp(ns, req->ns)) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the namespace of the provided object does not match the namespace "
				"sent on the request");
		return -1;
	}
	md = mk_json_ensure_object(cfg, "metadata");
	if (!name)
		mk_json_set_string(md, "name", req->name);
	/* fields another endpoint resets are not the applier's (ResetFieldsStrategy):
	 * status on the main resource, everything but status on /status */
	if (!req->sub && r->has_status) {
		cJSON_DeleteItemFromObjectCaseSensitive(cfg, "status");
	} else if (req->sub && !strcmp(req->sub, "status")) {
		cJSON *c = cfg->child, *next;
		for (; c; c = next) {
			next = c->next;
			if (strcmp(c->string, "apiVersion") && strcmp(c->string, "kind") &&
			    strcmp(c->string, "metadata") && strcmp(c->string, "status"))
				cJSON_Delete(cJSON_DetachItemViaPointer(cfg, c));
		}
		cJSON *m = md->child, *mn;
		for (; m; m = mn) {
			mn = m->next;
			if (strcmp(m->string, "name") && strcmp(m->string, "namespace"))
				cJSON_Delete(cJSON_DetachItemViaPointer(md, m));
		}
	}
	*ret = TAKE_PTR(cfg);
	return 0;
}

int mk_fieldmanager_apply(struct mk_request *req, struct mk_reply *rep, const cJSON *live,
			  const cJSON *cfg, cJSON **ret_obj)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *manager = mk_fieldmanager_name(req);
	cJSON *status = NULL;
	struct mk_ssa_schema s;
	char now[32];

	if (kind_schema(r, &s, &err) < 0) {
		mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
		return -1;
	}
	mk_time_format(time(NULL), now, sizeof(now));
	struct mk_api_managed_op op = { .manager = manager,
					.api_version = op_api_version(req),
					.subresource = req->sub,
					.now = now };
	int rc = mk_api_managed_apply(&s, live, cfg, mk_api_query_bool(mk_request_arg(req, "force")),
				      &op, ret_obj, &status, &err);
	if (rc < 0) {
		mk_reply_status(rep, err->code == EINVAL ? 400 : 500, NULL, NULL, "%s", err->msg);
		return -1;
	}
	if (rc == 1) {
		cJSON *d = cJSON_GetObjectItem(status, "details");
		if (req->name)
			cJSON_AddStringToObject(d, "name", req->name);
		if (r->group[0])
			cJSON_AddStringToObject(d, "group", r->group);
		cJSON_AddStringToObject(d, "kind", r->name);
		mk_reply_json(rep, 409, status);
		cJSON_Delete(status);
		return -1;
	}
	return 0;
}
