/* Patches applied by PATCH requests:
 *  - RFC 7386 JSON merge patch (application/merge-patch+json),
 *  - RFC 6902 JSON patch (application/json-patch+json),
 *  - Kubernetes' strategic merge patch (application/strategic-merge-patch+json), the
 *    server half of k8s.io/apimachinery/pkg/util/strategicpatch with the options the
 *    API server uses (MergeParallelList, IgnoreUnmatchedNulls): what `kubectl apply`
 *    and `kubectl patch` send.
 * Every function works on a copy and stores it in *target only on success. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

/* ---- cJSON helpers --------------------------------------------------------- */

static cJSON *dup_json(const cJSON *j)
{
	cJSON *d = cJSON_Duplicate(j, true);
	if (!d)
		abort(); /* OOM, as mk_malloc0 */
	return d;
}

/* Deep equality as RFC 6902 section 4.6 defines it for "test": numbers by value,
 * objects regardless of member order, arrays element by element. */
static bool json_equal(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	int ta = a->type & 0xFF, tb = b->type & 0xFF;
	if (ta != tb)
		return false;
	switch (ta) {
	case cJSON_False:
	case cJSON_True:
	case cJSON_NULL:
		return true;
	case cJSON_Number:
		return a->valuedouble == b->valuedouble;
	case cJSON_String:
	case cJSON_Raw:
		return strcmp(a->valuestring, b->valuestring) == 0;
	case cJSON_Array: {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!json_equal(x, y))
				return false;
		return !x && !y;
	}
	case cJSON_Object: {
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return false;
		const cJSON *x;
		cJSON_ArrayForEach(x, a)
		{
			const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y || !json_equal(x, y))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* Replaces child old of parent (object or array) by item (moved in), keeping the
 * member's position and name (cJSON_ReplaceItemViaPointer keeps neither name). */
static void replace_child(cJSON *parent, cJSON *old, cJSON *item)
{
	if (cJSON_IsObject(parent)) {
		if (item->string && !(item->type & cJSON_StringIsConst))
			cJSON_free(item->string);
		item->type &= ~cJSON_StringIsConst;
		item->string = mk_strdup(old->string);
	}
	cJSON_ReplaceItemViaPointer(parent, old, item);
}

/* Sets parent[key] = item (moved in), in place when the key exists. */
static void object_set(cJSON *parent, const char *key, cJSON *item)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (old)
		replace_child(parent, old, item);
	else
		cJSON_AddItemToObject(parent, key, item);
}

/* Inserts item (moved in) before position idx (<= size). Not cJSON_InsertItemInArray:
 * cJSON 1.7.15 as packaged refuses to insert before a parsed array's later items. */
static void array_insert(cJSON *arr, size_t idx, cJSON *item)
{
	cJSON *after = cJSON_CreateArray();
	cJSON *c = arr->child;

	for (size_t i = 0; c && i < idx; i++)
		c = c->next;
	while (c) {
		cJSON *next = c->next;
		cJSON_AddItemToArray(after, cJSON_DetachItemViaPointer(arr, c));
		c = next;
	}
	cJSON_AddItemToArray(arr, item);
	while (after->child)
		cJSON_AddItemToArray(arr, cJSON_DetachItemViaPointer(after, after->child));
	cJSON_Delete(after);
}

static void object_clear(cJSON *obj)
{
	while (obj->child)
		cJSON_Delete(cJSON_DetachItemViaPointer(obj, obj->child));
}

/* ---- RFC 7386 JSON merge patch -------------------------------------------- */

static void merge_object(cJSON *target, const cJSON *patch)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, patch)
	{
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(target, p->string);
		if (cJSON_IsNull(p)) {
			if (cur)
				cJSON_Delete(cJSON_DetachItemViaPointer(target, cur));
			continue;
		}
		if (!cJSON_IsObject(p)) {
			object_set(target, p->string, dup_json(p));
			continue;
		}
		if (cJSON_IsObject(cur)) {
			merge_object(cur, p);
			continue;
		}
		/* MergePatch({} or a non-object, p): merging into an empty object drops
		 * the patch's nulls, as the RFC's pseudocode does */
		cJSON *n = cJSON_CreateObject();
		merge_object(n, p);
		object_set(target, p->string, n);
	}
}

int mk_api_patch_merge(cJSON **target, const cJSON *patch, struct mk_error **err)
{
	if (!target || !patch)
		return mk_error_set(err, EINVAL, "merge patch: no target or patch");
	if (!cJSON_IsObject(patch)) {
		cJSON_Delete(*target);
		*target = dup_json(patch);
		return 0;
	}
	cJSON *n = cJSON_IsObject(*target) ? dup_json(*target) : cJSON_CreateObject();
	merge_object(n, patch);
	cJSON_Delete(*target);
	*target = n;
	return 0;
}

/* ---- RFC 6901 JSON pointer ------------------------------------------------- */

struct pointer {
	char **tok;
	size_t n;
};

static void pointer_release(struct pointer *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tok[i]);
	free(p->tok);
	p->tok = NULL;
	p->n = 0;
}

/* Splits "/a/b~1c" into unescaped tokens; "" is the whole document. */
static int pointer_parse(const char *s, struct pointer *p, const char **why)
{
	p->tok = NULL;
	p->n = 0;
	if (*s == '\0')
		return 0;
	if (*s != '/') {
		*why = "a JSON pointer must be empty or start with '/'";
		return -1;
	}
	size_t cap = 1;
	for (const char *c = s; *c; c++)
		cap += *c == '/';
	p->tok = mk_malloc0(cap * sizeof(char *));
	while (*s == '/') {
		s++;
		size_t len = strcspn(s, "/");
		char *t = mk_malloc0(len + 1), *o = t;
		p->tok[p->n++] = t;
		for (size_t i = 0; i < len; i++) {
			if (s[i] != '~') {
				*o++ = s[i];
				continue;
			}
			if (i + 1 < len && s[i + 1] == '0')
				*o++ = '~';
			else if (i + 1 < len && s[i + 1] == '1')
				*o++ = '/';
			else {
				*why = "'~' must be followed by '0' or '1' in a JSON pointer";
				pointer_release(p);
				return -1;
			}
			i++;
		}
		s += len;
	}
	return 0;
}

/* An array index token: "0" or digits without a leading zero, below limit. */
static bool array_index(const char *t, size_t limit, size_t *ret)
{
	size_t v = 0;

	if (!*t || (t[0] == '0' && t[1]))
		return false;
	for (; *t; t++) {
		if (*t < '0' || *t > '9')
			return false;
		v = v * 10 + (size_t)(*t - '0');
		if (v > limit)
			return false;
	}
	*ret = v;
	return true;
}

/* The value the first n tokens of p designate, or NULL with *why. */
static cJSON *pointer_walk(cJSON *doc, const struct pointer *p, size_t n, const char **why)
{
	cJSON *cur = doc;

	for (size_t i = 0; i < n; i++) {
		if (cJSON_IsObject(cur)) {
			cur = cJSON_GetObjectItemCaseSensitive(cur, p->tok[i]);
		} else if (cJSON_IsArray(cur)) {
			size_t idx, size = (size_t)cJSON_GetArraySize(cur);
			if (!array_index(p->tok[i], size, &idx) || idx >= size) {
				*why = "array index out of range or invalid";
				return NULL;
			}
			cur = cJSON_GetArrayItem(cur, (int)idx);
		} else {
			cur = NULL;
		}
		if (!cur) {
			*why = "path does not exist";
			return NULL;
		}
	}
	return cur;
}

/* RFC 6902 4.1 add: value moved in (freed on failure). */
static int pointer_add(cJSON **doc, const struct pointer *p, cJSON *value, const char **why)
{
	if (p->n == 0) {
		cJSON_Delete(*doc);
		*doc = value;
		return 0;
	}
	cJSON *parent = pointer_walk(*doc, p, p->n - 1, why);
	const char *last = p->tok[p->n - 1];
	if (cJSON_IsObject(parent)) {
		object_set(parent, last, value);
		return 0;
	}
	if (cJSON_IsArray(parent)) {
		size_t idx, size = (size_t)cJSON_GetArraySize(parent);
		if (strcmp(last, "-") == 0)
			idx = size;
		else if (!array_index(last, size, &idx)) {
			*why = "array index out of range or invalid";
			goto fail;
		}
		array_insert(parent, idx, value);
		return 0;
	}
	if (parent)
		*why = "parent is neither an object nor an array";
	else if (!*why)
		*why = "path does not exist";
fail:
	cJSON_Delete(value);
	return -1;
}

/* The existing member p designates, with its parent (NULL for the root). */
static cJSON *pointer_find(cJSON *doc, const struct pointer *p, cJSON **ret_parent,
			   const char **why)
{
	if (p->n == 0) {
		*ret_parent = NULL;
		return doc;
	}
	cJSON *parent = pointer_walk(doc, p, p->n - 1, why);
	if (!parent)
		return NULL;
	cJSON *cur = pointer_walk(parent, &(struct pointer){ p->tok + p->n - 1, 1 }, 1, why);
	*ret_parent = parent;
	return cur;
}

/* RFC 6902 4.2 remove; returns the detached value in *ret (may be NULL). */
static int pointer_remove(cJSON *doc, const struct pointer *p, cJSON **ret, const char **why)
{
	cJSON *parent, *cur;

	if (p->n == 0) {
		*why = "cannot remove the whole document";
		return -1;
	}
	cur = pointer_find(doc, p, &parent, why);
	if (!cur)
		return -1;
	cur = cJSON_DetachItemViaPointer(parent, cur);
	if (ret)
		*ret = cur;
	else
		cJSON_Delete(cur);
	return 0;
}

static const cJSON *op_member(const cJSON *op, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(op, name);
}

static int op_replace(cJSON **doc, const struct pointer *path, const cJSON *value, const char **why)
{
	cJSON *parent, *cur = pointer_find(*doc, path, &parent, why);
	if (!cur)
		return -1;
	if (parent) {
		replace_child(parent, cur, dup_json(value));
	} else {
		cJSON_Delete(*doc);
		*doc = dup_json(value);
	}
	return 0;
}

static int op_test(cJSON *doc, const struct pointer *path, const cJSON *value, const char **why)
{
	cJSON *parent, *cur = pointer_find(doc, path, &parent, why);
	if (!cur)
		return -1;
	if (json_equal(cur, value))
		return 0;
	*why = "test failed: value differs";
	return -1;
}

static int op_copy(cJSON **doc, const struct pointer *path, const struct pointer *from, const char **why)
{
	cJSON *parent, *cur = pointer_find(*doc, from, &parent, why);
	if (cur)
		return pointer_add(doc, path, dup_json(cur), why);
	*why = "\"from\" path does not exist";
	return -1;
}

/* move: not into one of its own children; onto itself, only checked to exist. */
static int op_move(cJSON **doc, const struct pointer *path, const struct pointer *from, const char **why)
{
	bool prefix = from->n < path->n;
	for (size_t k = 0; prefix && k < from->n; k++)
		prefix = strcmp(from->tok[k], path->tok[k]) == 0;
	bool same = from->n == path->n;
	for (size_t k = 0; same && k < from->n; k++)
		same = strcmp(from->tok[k], path->tok[k]) == 0;
	cJSON *moved = NULL, *parent;
	if (prefix) {
		*why = "cannot move a value into one of its children";
		return -1;
	}
	if (same)
		return pointer_find(*doc, from, &parent, why) ? 0 : -1;
	if (pointer_remove(*doc, from, &moved, why) < 0) {
		*why = "\"from\" path does not exist";
		return -1;
	}
	return pointer_add(doc, path, moved, why);
}

/* One RFC 6902 operation whose members were checked; 0 or -1 with *why. */
static int op_run(cJSON **doc, const char *name, const struct pointer *path, const struct pointer *from,
		  const cJSON *value, const char **why)
{
	if (!strcmp(name, "add"))
		return pointer_add(doc, path, dup_json(value), why);
	if (!strcmp(name, "remove"))
		return pointer_remove(*doc, path, NULL, why);
	if (!strcmp(name, "replace"))
		return op_replace(doc, path, value, why);
	if (!strcmp(name, "test"))
		return op_test(*doc, path, value, why);
	if (!strcmp(name, "copy"))
		return op_copy(doc, path, from, why);
	return op_move(doc, path, from, why);
}

static int apply_operation(cJSON **doc, const cJSON *op, size_t i, struct mk_error **err)
{
	const cJSON *jop = op_member(op, "op"), *jpath = op_member(op, "path");
	const cJSON *jfrom = op_member(op, "from"), *value = op_member(op, "value");
	struct pointer path = { 0 }, from = { 0 };
	const char *why = NULL, *name;
	int r = -1;

	if (!cJSON_IsObject(op))
		return mk_error_set(err, EINVAL, "json patch: operation %zu is not an object", i);
	if (!cJSON_IsString(jop))
		return mk_error_set(err, EINVAL, "json patch: operation %zu has no \"op\"", i);
	name = jop->valuestring;
	if (!cJSON_IsString(jpath))
		return mk_error_set(err, EINVAL, "json patch: operation %zu (%s) has no \"path\"", i,
				    name);
	if (pointer_parse(jpath->valuestring, &path, &why) < 0)
		return mk_error_set(err, EINVAL, "json patch: operation %zu (%s '%s'): %s", i, name,
				    jpath->valuestring, why);

	bool needs_value = !strcmp(name, "add") || !strcmp(name, "replace") ||
			   !strcmp(name, "test");
	bool needs_from = !strcmp(name, "move") || !strcmp(name, "copy");
	if (!needs_value && !needs_from && strcmp(name, "remove") != 0) {
		mk_error_set(err, EINVAL, "json patch: operation %zu: unknown op '%s'", i, name);
		goto out;
	}
	if (needs_value && !value) {
		why = "missing \"value\"";
		goto fail;
	}
	if (needs_from) {
		if (!cJSON_IsString(jfrom)) {
			why = "missing \"from\"";
			goto fail;
		}
		if (pointer_parse(jfrom->valuestring, &from, &why) < 0)
			goto fail;
	}

	r = op_run(doc, name, &path, &from, value, &why);
	if (r == 0)
		goto out;
fail:
	mk_error_set(err, EINVAL, "json patch: operation %zu (%s '%s') failed: %s", i, name,
		     jpath->valuestring, why ? why : "invalid operation");
	r = -1;
out:
	pointer_release(&path);
	pointer_release(&from);
	return r;
}

int mk_api_patch_json(cJSON **target, const cJSON *patch, struct mk_error **err)
{
	const cJSON *op;
	size_t i = 0;

	if (!target || !*target)
		return mk_error_set(err, EINVAL, "json patch: no target");
	if (!cJSON_IsArray(patch))
		return mk_error_set(err, EINVAL, "json patch: the patch must be a JSON array");
	cJSON *doc = dup_json(*target);
	cJSON_ArrayForEach(op, patch)
	{
		if (apply_operation(&doc, op, i++, err) < 0) {
			cJSON_Delete(doc);
			return -1;
		}
	}
	cJSON_Delete(*target);
	*target = doc;
	return 0;
}

/* ---- strategic merge patch ------------------------------------------------- */

/* What the Go struct tags patchStrategy:"merge" / patchMergeKey say, per field of
 * the kinds served. Fields not listed: maps merge, lists are replaced. */
struct smp_type;
struct smp_field {
	const char *name;
	bool merge;		    /* patchStrategy "merge" (lists) */
	const char *key;	    /* patchMergeKey for lists of objects */
	const struct smp_type *type; /* object or list element type */
};
struct smp_type {
	const struct smp_field *fields;
};

#define LIST_BY(n, k, t) { .name = n, .merge = true, .key = k, .type = t }
#define SET(n) { .name = n, .merge = true }
#define MAP(n, t) { .name = n, .type = t }
#define TYPE(v, ...) \
	static const struct smp_field v##_f[] = { __VA_ARGS__, { 0 } }; \
	static const struct smp_type v = { v##_f }

TYPE(t_meta, SET("finalizers"), LIST_BY("ownerReferences", "uid", NULL));
TYPE(t_container, LIST_BY("ports", "containerPort", NULL), LIST_BY("env", "name", NULL),
     LIST_BY("volumeMounts", "mountPath", NULL), LIST_BY("volumeDevices", "devicePath", NULL));
#define POD_SPEC_FIELDS                                                                 \
	LIST_BY("containers", "name", &t_container),                                    \
		LIST_BY("initContainers", "name", &t_container),                        \
		LIST_BY("ephemeralContainers", "name", &t_container),                   \
		LIST_BY("volumes", "name", NULL), LIST_BY("imagePullSecrets", "name", NULL), \
		LIST_BY("hostAliases", "ip", NULL),                                     \
		LIST_BY("topologySpreadConstraints", "topologyKey", NULL),              \
		LIST_BY("schedulingGates", "name", NULL),                               \
		LIST_BY("resourceClaims", "name", NULL)
TYPE(t_pod_spec, POD_SPEC_FIELDS);
TYPE(t_pod_template, MAP("metadata", &t_meta), MAP("spec", &t_pod_spec));
TYPE(t_workload_spec, MAP("template", &t_pod_template));
TYPE(t_cond_status, LIST_BY("conditions", "type", NULL));
TYPE(t_pod_status, LIST_BY("conditions", "type", NULL), LIST_BY("podIPs", "ip", NULL),
     LIST_BY("hostIPs", "ip", NULL));
TYPE(t_node_spec, SET("podCIDRs"));
TYPE(t_node_status, LIST_BY("conditions", "type", NULL), LIST_BY("addresses", "type", NULL));
TYPE(t_service_spec, LIST_BY("ports", "port", NULL));
TYPE(t_job_template, MAP("metadata", &t_meta), MAP("spec", &t_workload_spec));
TYPE(t_cronjob_spec, MAP("jobTemplate", &t_job_template));

TYPE(t_pod, MAP("metadata", &t_meta), MAP("spec", &t_pod_spec), MAP("status", &t_pod_status));
TYPE(t_workload, MAP("metadata", &t_meta), MAP("spec", &t_workload_spec),
     MAP("status", &t_cond_status));
TYPE(t_service, MAP("metadata", &t_meta), MAP("spec", &t_service_spec),
     MAP("status", &t_cond_status));
TYPE(t_node, MAP("metadata", &t_meta), MAP("spec", &t_node_spec), MAP("status", &t_node_status));
/* metadata and status conditions only: Namespace, and kinds whose lists all replace */
TYPE(t_plain, MAP("metadata", &t_meta), MAP("status", &t_cond_status));
TYPE(t_pod_template_obj, MAP("metadata", &t_meta), MAP("template", &t_pod_template));
TYPE(t_cronjob, MAP("metadata", &t_meta), MAP("spec", &t_cronjob_spec),
     MAP("status", &t_cond_status));
/* Kinds without a table of their own: metadata, plus the pod-template shapes most
 * workload-like kinds share. */
TYPE(t_generic_spec, POD_SPEC_FIELDS, MAP("template", &t_pod_template),
     MAP("jobTemplate", &t_job_template), LIST_BY("ports", "port", NULL));
TYPE(t_generic, MAP("metadata", &t_meta), MAP("spec", &t_generic_spec),
     MAP("status", &t_cond_status));

static const struct {
	const char *kind;
	const struct smp_type *type;
} smp_kinds[] = {
	{ "Pod", &t_pod },
	{ "Deployment", &t_workload },
	{ "ReplicaSet", &t_workload },
	{ "StatefulSet", &t_workload },
	{ "DaemonSet", &t_workload },
	{ "Job", &t_workload },
	{ "ReplicationController", &t_workload },
	{ "CronJob", &t_cronjob },
	{ "Service", &t_service },
	{ "Node", &t_node },
	{ "Namespace", &t_plain },
	{ "PodTemplate", &t_pod_template_obj },
	{ "Endpoints", &t_plain },
	{ "Event", &t_plain },
	{ "ConfigMap", &t_plain },
	{ "Secret", &t_plain },
};

static const struct smp_field *smp_lookup(const struct smp_type *t, const char *name)
{
	if (!t)
		return NULL;
	for (const struct smp_field *f = t->fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

#define DIRECTIVE "$patch"
#define RETAIN_KEYS "$retainKeys"
#define SET_ORDER "$setElementOrder/"
#define DELETE_PRIMITIVE "$deleteFromPrimitiveList/"

static int smp_map(cJSON *orig, const cJSON *patch, const struct smp_type *t,
		   struct mk_error **err);
static int smp_list(cJSON *orig, const cJSON *patch, const struct smp_field *f,
		    const char *name, struct mk_error **err);

/* Drops null members of maps, recursively (IgnoreUnmatchedNulls on values that
 * replace rather than merge). */
static void discard_nulls(cJSON *j)
{
	cJSON *c = j->child, *next;
	for (; c; c = next) {
		next = c->next;
		if (cJSON_IsObject(j) && cJSON_IsNull(c))
			cJSON_Delete(cJSON_DetachItemViaPointer(j, c));
		else
			discard_nulls(c);
	}
}

/* A patch value for a key the original lacks (or has with another type): merged
 * into an empty value of its type, which drops directives and nulls. */
static int smp_fresh(const cJSON *patch, const struct smp_field *f, const char *name,
		     cJSON **ret, struct mk_error **err)
{
	cJSON *n;
	int r = 0;

	if (cJSON_IsObject(patch)) {
		n = cJSON_CreateObject();
		r = smp_map(n, patch, f ? f->type : NULL, err);
	} else if (cJSON_IsArray(patch) && f && f->merge) {
		n = cJSON_CreateArray();
		r = smp_list(n, patch, f, name, err);
	} else {
		n = dup_json(patch);
		discard_nulls(n);
	}
	if (r < 0) {
		cJSON_Delete(n);
		return r;
	}
	*ret = n;
	return 0;
}

/* The value an item is compared by when ordering and matching: its merge key's
 * value for objects, itself for primitives. */
static const cJSON *smp_ident(const cJSON *item, const char *key)
{
	if (key && cJSON_IsObject(item))
		return cJSON_GetObjectItemCaseSensitive(item, key);
	return item;
}

static int smp_index(const cJSON *list, const cJSON *item, const char *key)
{
	const cJSON *want = smp_ident(item, key), *c;
	int i = 0;

	if (!want)
		return -1;
	cJSON_ArrayForEach(c, list)
	{
		if (json_equal(smp_ident(c, key), want))
			return i;
		i++;
	}
	return -1;
}

struct ordered {
	cJSON *item;
	int idx; /* index in the order list, -1 if absent */
	size_t pos;
};

static int ordered_cmp(const void *a, const void *b)
{
	const struct ordered *x = a, *y = b;
	/* items found in the order list first, by that order; the rest keep theirs */
	if ((x->idx < 0) != (y->idx < 0))
		return x->idx < 0 ? 1 : -1;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* normalizeElementOrder: the items of list present in patch_order go in that
 * order, the others (server-only) in server_order's, and the two sequences are
 * interleaved by their positions in server_order (mergeSortedSlice). */
static void smp_reorder(cJSON *list, const cJSON *patch_order, const cJSON *server_order,
			const char *key)
{
	size_t n = (size_t)cJSON_GetArraySize(list), np = 0, ns = 0;
	if (n < 2)
		return;
	struct ordered *pi = mk_malloc0(n * sizeof(*pi)), *si = mk_malloc0(n * sizeof(*si));
	size_t pos = 0;
	while (list->child) {
		cJSON *c = cJSON_DetachItemViaPointer(list, list->child);
		if (smp_index(patch_order, c, key) >= 0)
			pi[np++] = (struct ordered){ c, smp_index(patch_order, c, key), pos };
		else
			si[ns++] = (struct ordered){ c, smp_index(server_order, c, key), pos };
		pos++;
	}
	qsort(pi, np, sizeof(*pi), ordered_cmp);
	qsort(si, ns, sizeof(*si), ordered_cmp);
	size_t i = 0, j = 0;
	while (i < ns || j < np) {
		bool left;
		if (i >= ns)
			left = false;
		else if (j >= np)
			left = true;
		else {
			int li = si[i].idx, ri = smp_index(server_order, pi[j].item, key);
			left = li >= 0 && ri >= 0 && li < ri;
		}
		cJSON_AddItemToArray(list, left ? si[i++].item : pi[j++].item);
	}
	free(pi);
	free(si);
}

/* All elements objects (1), all primitives (0), or a mix (-1). */
static int smp_element_kind(const cJSON *a, const cJSON *b)
{
	int objects = 0, others = 0;
	const cJSON *c;

	cJSON_ArrayForEach(c, a)
	{
		if (cJSON_IsArray(c))
			return -1;
		cJSON_IsObject(c) ? objects++ : others++;
	}
	cJSON_ArrayForEach(c, b)
	{
		if (cJSON_IsArray(c))
			return -1;
		cJSON_IsObject(c) ? objects++ : others++;
	}
	if (objects && others)
		return -1;
	return objects > 0;
}

/* The steps of smp_list (upstream's mergeSlice): lists of primitives are a
 * set union; lists of objects first apply the patch's special elements
 * ($patch: delete / replace), then merge each item into the original's item
 * with the same merge key or append it, then take the patch's order. */

/* primitives: a set union, original first (deduplicateScalars) */
static void smp_list_scalars(cJSON *orig, const cJSON *patch, const cJSON *server_order)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, patch) cJSON_AddItemToArray(orig, dup_json(p));
	for (cJSON *c = orig->child; c; c = c->next) {
		cJSON *d = c->next, *dn;
		for (; d; d = dn) {
			dn = d->next;
			if (json_equal(c, d))
				cJSON_Delete(cJSON_DetachItemViaPointer(orig, d));
		}
	}
	smp_reorder(orig, patch, server_order, NULL);
}

static int no_merge_key(const cJSON *item, const char *key, struct mk_error **err)
{
	_cleanup_free_ char *s = mk_api_json_text(item);
	return mk_error_set(err, EINVAL,
			    "strategic merge patch: map: %s does not contain declared merge key: %s",
			    s, key);
}

/* mergeSliceWithSpecialElements: {"$patch": "delete"} items remove the
 * original's items with their key; {"$patch": "replace"} sets *ret_replace
 * (the original's items are then dropped). */
static int smp_list_directives(cJSON *orig, const cJSON *patch, const char *key, const char *name,
			       bool *ret_replace, struct mk_error **err)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, patch)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, DIRECTIVE);
		if (!d)
			continue;
		const char *dv = cJSON_IsString(d) ? d->valuestring : "";
		if (!strcmp(dv, "delete")) {
			const cJSON *kv = cJSON_GetObjectItemCaseSensitive(p, key);
			if (!kv)
				return no_merge_key(p, key, err);
			cJSON *c = orig->child, *next;
			for (; c; c = next) {
				next = c->next;
				if (json_equal(smp_ident(c, key), kv))
					cJSON_Delete(cJSON_DetachItemViaPointer(orig, c));
			}
		} else if (!strcmp(dv, "replace")) {
			*ret_replace = true;
		} else if (strcmp(dv, "merge") != 0) {
			_cleanup_free_ char *s = mk_api_json_text(d);
			return mk_error_set(err, EINVAL,
					    "strategic merge patch: unknown patch type: %s in list '%s'",
					    s, name);
		}
	}
	return 0;
}

/* mergeSliceWithoutSpecialElements: update by key in place, else append */
static int smp_list_items(cJSON *orig, const cJSON *patch, const struct smp_field *f,
			  struct mk_error **err)
{
	const char *key = f->key;
	const cJSON *p;
	cJSON_ArrayForEach(p, patch)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, DIRECTIVE);
		if (d && !(cJSON_IsString(d) && !strcmp(d->valuestring, "merge")))
			continue;
		const cJSON *kv = cJSON_GetObjectItemCaseSensitive(p, key);
		if (!kv)
			return no_merge_key(p, key, err);
		cJSON *c, *match = NULL;
		cJSON_ArrayForEach(c, orig)
		{
			if (json_equal(smp_ident(c, key), kv)) {
				match = c;
				break;
			}
		}
		if (match) {
			if (smp_map(match, p, f->type, err) < 0)
				return -1;
		} else {
			cJSON *n = cJSON_CreateObject();
			if (smp_map(n, p, f->type, err) < 0) {
				cJSON_Delete(n);
				return -1;
			}
			cJSON_AddItemToArray(orig, n);
		}
	}
	return 0;
}

/* mergeSlice for a list with patchStrategy merge: orig (an array) is updated in place. */
static int smp_list(cJSON *orig, const cJSON *patch, const struct smp_field *f,
		    const char *name, struct mk_error **err)
{
	bool replace = false;

	if (!orig->child && !patch->child)
		return 0;
	int kind = smp_element_kind(orig, patch);
	if (kind < 0)
		return mk_error_set(err, EINVAL,
				    "strategic merge patch: list '%s' mixes element types", name);
	_cleanup_cjson_ cJSON *server_order = dup_json(orig);

	if (kind == 0) {
		smp_list_scalars(orig, patch, server_order);
		return 0;
	}
	if (!f->key)
		return mk_error_set(err, EINVAL,
				    "strategic merge patch: cannot merge lists without merge key for '%s'",
				    name);
	if (smp_list_directives(orig, patch, f->key, name, &replace, err) < 0)
		return -1;
	if (replace)
		while (orig->child)
			cJSON_Delete(cJSON_DetachItemViaPointer(orig, orig->child));
	if (smp_list_items(orig, patch, f, err) < 0)
		return -1;
	if (!replace)
		smp_reorder(orig, patch, server_order, f->key);
	return 0;
}

/* validatePatchWithSetOrderList: the patch list's items must appear in the
 * $setElementOrder list, in the same relative order. */
static int smp_check_order(const cJSON *patch_list, const cJSON *order, const char *key,
			   const char *name, struct mk_error **err)
{
	const cJSON *p = patch_list ? patch_list->child : NULL, *o = order->child;

	while (p && o) {
		if (cJSON_IsObject(p) && cJSON_GetObjectItemCaseSensitive(p, DIRECTIVE)) {
			p = p->next;
			continue;
		}
		if (json_equal(smp_ident(p, key), smp_ident(o, key)))
			p = p->next;
		o = o->next;
	}
	while (p && cJSON_IsObject(p) && cJSON_GetObjectItemCaseSensitive(p, DIRECTIVE))
		p = p->next;
	if (p)
		return mk_error_set(err, EINVAL,
				    "strategic merge patch: the order in patch list '%s' doesn't match "
				    "$setElementOrder list",
				    name);
	return 0;
}

/* mergePatchIntoOriginal: a list together with its $setElementOrder directive. */
static int smp_ordered_list(cJSON *orig, const cJSON *patch, const char *name,
			    const cJSON *order, const struct smp_type *t, struct mk_error **err)
{
	const struct smp_field *f = smp_lookup(t, name);
	const cJSON *patch_list = cJSON_GetObjectItemCaseSensitive(patch, name);
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(orig, name);

	if (!cJSON_IsArray(order))
		return mk_error_set(err, EINVAL,
				    "strategic merge patch: %s%s must be a list", SET_ORDER, name);
	if (patch_list && !cJSON_IsArray(patch_list))
		return mk_error_set(err, EINVAL,
				    "strategic merge patch: '%s' must be a list beside %s%s", name,
				    SET_ORDER, name);
	if (!f || !f->merge) {
		/* not a merging list: the patch list, if any, replaces it */
		if (patch_list) {
			cJSON *n = dup_json(patch_list);
			discard_nulls(n);
			object_set(orig, name, n);
		}
		return 0;
	}
	const char *key = f->key;
	const cJSON *o;
	cJSON_ArrayForEach(o, order)
	{
		if (key && cJSON_IsObject(o) && !cJSON_GetObjectItemCaseSensitive(o, key))
			return mk_error_set(err, EINVAL,
					    "strategic merge patch: %s%s item does not contain merge key %s",
					    SET_ORDER, name, key);
	}
	if (smp_check_order(patch_list, order, key, name, err) < 0)
		return -1;

	bool fresh = !cJSON_IsArray(cur);
	_cleanup_cjson_ cJSON *merged = fresh ? cJSON_CreateArray() : dup_json(cur);
	_cleanup_cjson_ cJSON *server_order = dup_json(merged);
	_cleanup_cjson_ cJSON *empty = cJSON_CreateArray();
	if (smp_list(merged, patch_list ? patch_list : empty, f, name, err) < 0)
		return -1;
	if (fresh && !merged->child && !patch_list)
		return 0;
	smp_reorder(merged, order, server_order,
		    smp_element_kind(merged, order) == 1 ? key : NULL);
	object_set(orig, name, TAKE_PTR(merged));
	return 0;
}

/* The steps of smp_map (upstream's mergeMap): the map's own $patch directive,
 * $retainKeys, the lists with a $setElementOrder, then every other key of the
 * patch in turn: $deleteFromPrimitiveList, null (delete), or a merge. */

/* The map's $patch: "delete" empties orig (returns 1: nothing more to do),
 * "replace" empties it before the merge, "merge" is the default. */
static int smp_map_directive(cJSON *orig, const cJSON *patch, struct mk_error **err)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(patch, DIRECTIVE);
	if (!d)
		return 0;
	const char *dv = cJSON_IsString(d) ? d->valuestring : "";
	if (!strcmp(dv, "delete")) {
		object_clear(orig);
		return 1;
	}
	if (!strcmp(dv, "replace")) {
		object_clear(orig);
	} else if (strcmp(dv, "merge") != 0) {
		_cleanup_free_ char *s = mk_api_json_text(d);
		return mk_error_set(err, EINVAL, "strategic merge patch: unknown patch type: %s", s);
	}
	return 0;
}

/* $retainKeys: the keys of orig not in the list go. */
static int smp_map_retain(cJSON *orig, const cJSON *patch, struct mk_error **err)
{
	const cJSON *retain = cJSON_GetObjectItemCaseSensitive(patch, RETAIN_KEYS);
	if (!retain)
		return 0;
	const cJSON *k;
	bool strings = cJSON_IsArray(retain);
	const cJSON *list = strings ? retain : NULL;
	cJSON_ArrayForEach(k, list) strings = strings && cJSON_IsString(k);
	if (!strings)
		return mk_error_set(err, EINVAL, "strategic merge patch: %s must be a list of strings",
				    RETAIN_KEYS);
	cJSON *c = orig->child, *next;
	for (; c; c = next) {
		next = c->next;
		bool keep = false;
		cJSON_ArrayForEach(k, retain) keep = keep || strcmp(k->valuestring, c->string) == 0;
		if (!keep)
			cJSON_Delete(cJSON_DetachItemViaPointer(orig, c));
	}
	return 0;
}

/* $deleteFromPrimitiveList/NAME: the values of list p leave orig's list NAME. */
static int smp_map_delete_primitives(cJSON *orig, const char *k, const cJSON *p,
				     struct mk_error **err)
{
	const char *name = k + strlen(DELETE_PRIMITIVE);
	if (!cJSON_IsArray(p))
		return mk_error_set(err, EINVAL, "strategic merge patch: %s must be a list", k);
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(orig, name);
	if (!cJSON_IsArray(cur))
		return 0;
	cJSON *c = cur->child, *next;
	for (; c; c = next) {
		next = c->next;
		const cJSON *x;
		bool del = false;
		cJSON_ArrayForEach(x, p) del = del || json_equal(x, c);
		if (del)
			cJSON_Delete(cJSON_DetachItemViaPointer(cur, c));
	}
	return 0;
}

/* One key k of the patch, value p: null deletes, maps and merging lists merge
 * recursively, anything else replaces. */
static int smp_map_key(cJSON *orig, const char *k, const cJSON *p, const struct smp_type *t,
		       struct mk_error **err)
{
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(orig, k);
	const struct smp_field *f = smp_lookup(t, k);
	if (cJSON_IsNull(p)) {
		if (cur)
			cJSON_Delete(cJSON_DetachItemViaPointer(orig, cur));
		return 0;
	}
	if (cJSON_IsObject(cur) && cJSON_IsObject(p))
		return smp_map(cur, p, f ? f->type : NULL, err);
	if (cJSON_IsArray(cur) && cJSON_IsArray(p) && f && f->merge)
		return smp_list(cur, p, f, k, err);
	cJSON *n;
	if (smp_fresh(p, f, k, &n, err) < 0)
		return -1;
	object_set(orig, k, n);
	return 0;
}

/* mergeMap: orig (an object) is updated in place. */
static int smp_map(cJSON *orig, const cJSON *patch, const struct smp_type *t,
		   struct mk_error **err)
{
	const cJSON *p;
	int r = smp_map_directive(orig, patch, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (smp_map_retain(orig, patch, err) < 0)
		return -1;
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		if (mk_str_has_prefix(k, SET_ORDER) &&
		    smp_ordered_list(orig, patch, k + strlen(SET_ORDER), p, t, err) < 0)
			return -1;
	}
	cJSON_ArrayForEach(p, patch)
	{
		const char *k = p->string;
		if (!strcmp(k, DIRECTIVE) || !strcmp(k, RETAIN_KEYS) || mk_str_has_prefix(k, SET_ORDER))
			continue;
		if (mk_str_has_prefix(k, DELETE_PRIMITIVE)) {
			if (smp_map_delete_primitives(orig, k, p, err) < 0)
				return -1;
			continue;
		}
		/* the list was merged with its $setElementOrder above */
		_cleanup_free_ char *order_key = mk_strdup_printf(SET_ORDER "%s", k);
		if (cJSON_GetObjectItemCaseSensitive(patch, order_key))
			continue;
		if (smp_map_key(orig, k, p, t, err) < 0)
			return -1;
	}
	return 0;
}

int mk_api_patch_strategic(const struct mk_api_resource *r, cJSON **target,
			   const cJSON *patch, struct mk_error **err)
{
	if (!target || !cJSON_IsObject(*target))
		return mk_error_set(err, EINVAL, "strategic merge patch: the target must be an object");
	if (!cJSON_IsObject(patch))
		return mk_error_set(err, EINVAL,
				    "strategic merge patch: the patch must be a JSON object");

	const char *kind = r && r->kind ? r->kind : mk_json_get_string(*target, "kind");
	const struct smp_type *t = &t_generic;
	for (size_t i = 0; kind && i < MK_ARRAY_SIZE(smp_kinds); i++)
		if (strcmp(smp_kinds[i].kind, kind) == 0)
			t = smp_kinds[i].type;

	cJSON *doc = dup_json(*target);
	if (smp_map(doc, patch, t, err) < 0) {
		cJSON_Delete(doc);
		return -1;
	}
	cJSON_Delete(*target);
	*target = doc;
	return 0;
}
