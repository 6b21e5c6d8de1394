/* kubectl apply: client-side apply as kubectl does it. The object is stored
 * with the annotation kubectl.kubernetes.io/last-applied-configuration; a
 * later apply computes a three-way strategic merge patch from that
 * annotation (original), the manifest (modified) and the live object
 * (current): fields removed from the manifest become null, lists of objects
 * merge by their merge key with $setElementOrder and "$patch: delete"
 * directives, and the patch is sent as application/strategic-merge-patch+json.
 * An empty patch means "unchanged". */
#include <string.h>
#include "commands.h"
#include "kubectl.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static const char APPLY_HELP[] =
	"Apply a configuration to a resource by file name or stdin.\n\n"
	"The resource is created if it does not exist yet, otherwise patched with the changes\n"
	"since the last apply (client-side apply, annotation " LAST_APPLIED ").\n"
	"YAML and JSON are accepted, several documents per file and List kinds included.\n\n"
	"Examples:\n"
	"  minik8s kubectl apply -f web.yaml\n"
	"  minik8s kubectl apply -f manifests/\n"
	"  cat web.yaml | minik8s kubectl apply -f -\n\n"
	"Options:\n"
	"  -f, --filename FILE   files, directories or - (stdin) (required, repeatable)\n"
	"      --validate BOOL   accepted for compatibility (the server validates)\n\n"
	"Usage:\n  minik8s kubectl apply -f FILENAME [options]\n";

/* ---- three-way strategic merge patch -------------------------------------------------- */

/* The patchMergeKey of a list field, as in the Kubernetes API types; NULL for
 * lists that are replaced as a whole. */
static const char *merge_key(const char *field, const cJSON *list)
{
	static const struct {
		const char *field, *key;
	} keys[] = {
		{ "containers", "name" },	{ "initContainers", "name" },
		{ "ephemeralContainers", "name" }, { "volumes", "name" },
		{ "env", "name" },		{ "imagePullSecrets", "name" },
		{ "volumeMounts", "mountPath" },	{ "volumeDevices", "devicePath" },
		{ "conditions", "type" },	{ "ownerReferences", "uid" },
		{ "hostAliases", "ip" },	{ "topologySpreadConstraints", "topologyKey" },
	};
	const char *key = NULL;
	if (!strcmp(field, "ports")) {
		/* container ports merge by containerPort, service ports by port */
		const cJSON *first = cJSON_GetArrayItem(list, 0);
		key = cJSON_GetObjectItemCaseSensitive(first, "containerPort") ? "containerPort" : "port";
	} else {
		for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++)
			if (!strcmp(field, keys[i].field))
				key = keys[i].key;
	}
	if (!key)
		return NULL;
	/* only when every element is an object carrying the key */
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
		if (!cJSON_IsObject(e) || !cJSON_GetObjectItemCaseSensitive(e, key))
			return NULL;
	return key;
}

static const cJSON *find_by_key(const cJSON *list, const char *key, const cJSON *value)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
		if (cJSON_IsObject(e) &&
		    cJSON_Compare(cJSON_GetObjectItemCaseSensitive(e, key), value, 1))
			return e;
	return NULL;
}

static cJSON *diff_map(const cJSON *original, const cJSON *modified, const cJSON *current);

static bool same_type(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsBool(a) && cJSON_IsBool(b))
		return true;
	return (a->type & 0xff) == (b->type & 0xff);
}

/* A list merged by key: the changed/new elements (each with its key), the
 * deleted ones as {"$patch":"delete"}; NULL if nothing changed. */
static cJSON *diff_keyed_list(const cJSON *original, const cJSON *modified, const cJSON *current,
			      const char *key)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *m;
	cJSON_ArrayForEach(m, modified) {
		const cJSON *kv = cJSON_GetObjectItemCaseSensitive(m, key);
		const cJSON *c = find_by_key(current, key, kv);
		const cJSON *o = cJSON_IsArray(original) ? find_by_key(original, key, kv) : NULL;
		if (!c) {
			cJSON_AddItemToArray(out, cJSON_Duplicate(m, 1));
			continue;
		}
		cJSON *d = diff_map(o, m, c);
		if (d) {
			if (!cJSON_GetObjectItemCaseSensitive(d, key))
				cJSON_AddItemToObject(d, key, cJSON_Duplicate(kv, 1));
			cJSON_AddItemToArray(out, d);
		}
	}
	const cJSON *olist = cJSON_IsArray(original) ? original : NULL;
	const cJSON *o;
	cJSON_ArrayForEach(o, olist) {
		const cJSON *kv = cJSON_GetObjectItemCaseSensitive(o, key);
		if (!kv || find_by_key(modified, key, kv) || !find_by_key(current, key, kv))
			continue;
		cJSON *del = cJSON_CreateObject();
		cJSON_AddStringToObject(del, "$patch", "delete");
		cJSON_AddItemToObject(del, key, cJSON_Duplicate(kv, 1));
		cJSON_AddItemToArray(out, del);
	}
	if (cJSON_GetArraySize(out) == 0) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

/* The patch turning current into modified, plus deletions of what original
 * had and modified dropped; NULL if there is nothing to change. */
static cJSON *diff_map(const cJSON *original, const cJSON *modified, const cJSON *current)
{
	cJSON *patch = cJSON_CreateObject();
	const cJSON *m;
	cJSON_ArrayForEach(m, modified) {
		const char *key = m->string;
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(current, key);
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(original, key);
		if (!c || cJSON_IsNull(c) || !same_type(m, c)) {
			if (!(cJSON_IsNull(m) && !c))
				cJSON_AddItemToObject(patch, key, cJSON_Duplicate(m, 1));
			continue;
		}
		if (cJSON_IsObject(m)) {
			cJSON *d = diff_map(cJSON_IsObject(o) ? o : NULL, m, c);
			if (d)
				cJSON_AddItemToObject(patch, key, d);
		} else if (cJSON_IsArray(m)) {
			const char *mk = merge_key(key, m);
			if (mk && merge_key(key, c) && (!cJSON_IsArray(o) || merge_key(key, o))) {
				cJSON *d = diff_keyed_list(o, m, c, mk);
				if (d) {
					_cleanup_free_ char *order_key = mk_strdup_printf("$setElementOrder/%s", key);
					cJSON *order = cJSON_CreateArray();
					const cJSON *e;
					cJSON_ArrayForEach(e, m) {
						cJSON *ref = cJSON_CreateObject();
						cJSON_AddItemToObject(ref, mk,
								      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, mk), 1));
						cJSON_AddItemToArray(order, ref);
					}
					cJSON_AddItemToObject(patch, order_key, order);
					cJSON_AddItemToObject(patch, key, d);
				}
			} else if (!cJSON_Compare(m, c, 1)) {
				cJSON_AddItemToObject(patch, key, cJSON_Duplicate(m, 1));
			}
		} else if (!cJSON_Compare(m, c, 1)) {
			cJSON_AddItemToObject(patch, key, cJSON_Duplicate(m, 1));
		}
	}
	const cJSON *omap = cJSON_IsObject(original) ? original : NULL;
	const cJSON *o;
	cJSON_ArrayForEach(o, omap) {
		if (cJSON_GetObjectItemCaseSensitive(modified, o->string))
			continue;
		if (!cJSON_GetObjectItemCaseSensitive(current, o->string))
			continue;
		cJSON_AddNullToObject(patch, o->string);
	}
	if (cJSON_GetArraySize(patch) == 0) {
		cJSON_Delete(patch);
		return NULL;
	}
	return patch;
}

/* ---- apply one object ------------------------------------------------------------------ */

int kubectl_apply_object(struct kubectl *k, cJSON *obj, bool create_only)
{
	struct kres r;
	char disp[160];
	const char *api_version = mk_json_get_string(obj, "apiVersion");
	const char *kind = mk_json_get_string(obj, "kind");
	const char *name = mk_json_get_string(obj, "metadata.name");

	if (kubectl_connect(k))
		return 1;
	if (kubectl_resolve_kind(k, api_version, kind, &r))
		return 1;
	if (!name || !*name) {
		fprintf(stderr, "error: error when retrieving current configuration of %s: resource name may not be empty\n",
			kind);
		return 1;
	}
	const char *obj_ns = mk_json_get_string(obj, "metadata.namespace");
	if (r.namespaced && obj_ns && *obj_ns && k->ns_flag && *k->ns_flag &&
	    strcmp(obj_ns, k->ns_flag) != 0) {
		fprintf(stderr, "error: the namespace from the provided object \"%s\" does not match the namespace \"%s\". You must pass '--namespace=%s' to perform this operation.\n",
			obj_ns, k->ns_flag, obj_ns);
		return 1;
	}
	const char *ns_c = kubectl_ns_for(k, &r, obj_ns);
	_cleanup_free_ char *ns = mk_strdup(ns_c);
	cJSON *meta = mk_json_ensure_object(obj, "metadata");
	if (ns)
		mk_json_set_string(meta, "namespace", ns);
	else if (cJSON_GetObjectItemCaseSensitive(meta, "namespace"))
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
	kres_display(&r, disp, sizeof(disp));

	if (!create_only) {
		/* the annotation records the manifest itself (with an empty annotations map) */
		cJSON *ann = mk_json_ensure_object(meta, "annotations");
		cJSON_DeleteItemFromObjectCaseSensitive(ann, LAST_APPLIED);
		_cleanup_free_ char *compact = kubectl_json_compact(obj);
		_cleanup_free_ char *value = mk_strdup_printf("%s\n", compact);
		mk_json_set_string(ann, LAST_APPLIED, value);
	}

	_cleanup_free_ char *path = kres_path(&r, ns, name, NULL, NULL);
	struct mk_client_response cur = { 0 };
	if (create_only) {
		cur.code = 404;
	} else if (kubectl_do(k, "GET", path, NULL, NULL, NULL, &cur)) {
		return 1;
	}
	if (cur.code == 404) {
		mk_client_response_release(&cur);
		_cleanup_free_ char *coll = kres_path(&r, ns, NULL, NULL,
						      create_only ? "fieldManager=kubectl-create"
								  : "fieldManager=kubectl-client-side-apply");
		struct mk_client_response res = { 0 };
		if (kubectl_do(k, "POST", coll, NULL, NULL, obj, &res))
			return 1;
		int rc = 0;
		if (res.code < 200 || res.code >= 300)
			rc = kubectl_server_error(&res);
		else
			printf("%s/%s created\n", disp, name);
		mk_client_response_release(&res);
		return rc;
	}
	if (cur.code != 200) {
		int rc = kubectl_server_error(&cur);
		mk_client_response_release(&cur);
		return rc;
	}
	/* not mk_json_get: the annotation key has dots */
	const cJSON *anns = mk_json_get(cur.json, "metadata.annotations");
	const cJSON *lastj = cJSON_GetObjectItemCaseSensitive(anns, LAST_APPLIED);
	const char *last = cJSON_IsString(lastj) ? lastj->valuestring : NULL;
	_cleanup_cjson_ cJSON *original = last ? cJSON_Parse(last) : NULL;
	if (!last)
		fprintf(stderr, "Warning: resource %s/%s is missing the " LAST_APPLIED
				" annotation which is required by minik8s kubectl apply. The missing annotation will be patched automatically.\n",
			r.name, name);
	_cleanup_cjson_ cJSON *patch = diff_map(original, obj, cur.json);
	mk_client_response_release(&cur);
	if (!patch) {
		printf("%s/%s unchanged\n", disp, name);
		return 0;
	}
	_cleanup_free_ char *ppath = kres_path(&r, ns, name, NULL, "fieldManager=kubectl-client-side-apply");
	struct mk_client_response res = { 0 };
	if (kubectl_do(k, "PATCH", ppath, NULL, "application/strategic-merge-patch+json", patch, &res))
		return 1;
	int rc = 0;
	if (res.code < 200 || res.code >= 300)
		rc = kubectl_server_error(&res);
	else
		printf("%s/%s configured\n", disp, name);
	mk_client_response_release(&res);
	return rc;
}

int kubectl_apply(struct kubectl *k, int argc, char **argv)
{
	struct kflag_list files = { 0 };
	bool help, validate = true, server_side = false;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "filename", 'f', KF_LIST, &files, NULL },
		{ "validate", 0, KF_BOOL, &validate, NULL },
		{ "server-side", 0, KF_BOOL, &server_side, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int rc = kflags_parse("kubectl apply", argc, argv, flags, &help, &a);
	if (rc)
		goto out;
	if (help) {
		fputs(APPLY_HELP, stdout);
		goto out;
	}
	if (server_side) {
		rc = cmd_usage_error("kubectl apply", "--server-side is not supported");
		goto out;
	}
	if (a.n > 0) {
		rc = cmd_usage_error("kubectl apply", "unexpected argument \"%s\"", a.v[0]);
		goto out;
	}
	if (files.n == 0) {
		rc = cmd_usage_error("kubectl apply", "must specify -f");
		goto out;
	}
	_cleanup_cjson_ cJSON *objs = NULL;
	rc = kubectl_read_manifests(&files, &objs);
	if (rc)
		goto out;
	if (cJSON_GetArraySize(objs) == 0) {
		fprintf(stderr, "error: no objects passed to apply\n");
		rc = 1;
		goto out;
	}
	cJSON *obj;
	cJSON_ArrayForEach(obj, objs)
		rc |= kubectl_apply_object(k, obj, false);
out:
	kargs_release(&a);
	kflag_list_release(&files);
	return rc;
}
