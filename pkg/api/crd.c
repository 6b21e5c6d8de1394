/* CustomResourceDefinitions as data: the dynamic part of the resource table, the
 * definitions' status (names accepted, established, stored versions), and the
 * strategy of custom resources (defaults and validation by the version's
 * openAPIV3Schema, Table columns from additionalPrinterColumns).
 *
 * The table is an immutable snapshot (struct mk_api_snapshot): the built-in rows
 * followed by one row per served version of every established definition.
 * mk_api_crd_registry_set builds a new snapshot under a mutex and publishes it
 * with one atomic store; lookups (resource.c) load the pointer and scan, without
 * a lock, so a thread per connection never waits for a CRD write. Snapshots and
 * definitions are never freed once published: a row a request holds stays valid
 * whatever happens to its CRD afterwards, without reference counts. An unchanged
 * definition is reused from one snapshot to the next, so the memory kept grows
 * only with CRD changes (one row array per change). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct crd_version {
	const cJSON *ver;		/* spec.versions[i], in def */
	char *group_version;		/* GROUP/NAME */
	struct mk_api_column *cols;	/* NAME + additionalPrinterColumns */
	size_t ncols;
	const char **paths;		/* jsonPath per column (cols[0], NAME, none) */
};

struct mk_api_crd {
	char *name;			/* plural.group */
	cJSON *def;			/* the CustomResourceDefinition (immutable) */
	const char *storage;		/* storage version name */
	const char **short_names, **categories; /* NULL-terminated */
	struct crd_version *versions;
	size_t nversions;
	bool terminating;
	struct mk_api_crd *next;	/* every definition ever made (kept) */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mk_api_crd *all_crds;	/* guarded by reg_lock */
static uint64_t generation;		/* guarded by reg_lock */
static const struct mk_api_snapshot *last; /* guarded by reg_lock; ->prev chains the rest */

const char *mk_api_crd_name(const struct mk_api_crd *c)
{
	return c->name;
}

const char *mk_api_crd_storage_version(const struct mk_api_crd *c)
{
	return c->storage;
}

static const char **string_list(const cJSON *a)
{
	int n = cJSON_GetArraySize(a), k = 0;
	const char **v = mk_malloc0(sizeof(*v) * (size_t)(n + 1));
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
		if (cJSON_IsString(it))
			v[k++] = it->valuestring;
	return v;
}

static bool condition_true(const cJSON *crd, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(crd, "status.conditions"))
	{
		const char *t = mk_json_get_string(c, "type"), *s = mk_json_get_string(c, "status");
		if (t && s && !strcmp(t, type))
			return !strcmp(s, "True");
	}
	return false;
}

static struct mk_api_crd *crd_new(const cJSON *obj)
{
	struct mk_api_crd *c = mk_malloc0(sizeof(*c));
	const cJSON *v;
	size_t i = 0;

	c->def = cJSON_Duplicate(obj, 1);
	c->name = mk_strdup(mk_json_get_string(c->def, "metadata.name"));
	c->terminating = mk_json_get(c->def, "metadata.deletionTimestamp") != NULL;
	c->short_names = string_list(mk_json_get(c->def, "status.acceptedNames.shortNames"));
	c->categories = string_list(mk_json_get(c->def, "status.acceptedNames.categories"));
	c->nversions = (size_t)cJSON_GetArraySize(mk_json_get(c->def, "spec.versions"));
	c->versions = mk_malloc0(sizeof(*c->versions) * (c->nversions + 1));
	cJSON_ArrayForEach(v, mk_json_get(c->def, "spec.versions"))
	{
		struct crd_version *cv = &c->versions[i++];
		const cJSON *col;
		size_t k = 1;
		cv->ver = v;
		cv->group_version = mk_strdup_printf("%s/%s", mk_json_get_string(c->def, "spec.group"),
						     mk_json_get_string(v, "name"));
		if (cJSON_IsTrue(cJSON_GetObjectItem(v, "storage")))
			c->storage = mk_json_get_string(v, "name");
		const cJSON *cols = cJSON_GetObjectItem(v, "additionalPrinterColumns");
		cv->ncols = 1 + (size_t)cJSON_GetArraySize(cols);
		cv->cols = mk_malloc0(sizeof(*cv->cols) * cv->ncols);
		cv->paths = mk_malloc0(sizeof(*cv->paths) * cv->ncols);
		cv->cols[0] = (struct mk_api_column)MK_API_NAME_COL;
		cJSON_ArrayForEach(col, cols)
		{
			const char *type = mk_json_get_string(col, "type");
			cv->cols[k].name = mk_json_get_string(col, "name");
			cv->cols[k].type = type && !strcmp(type, "date") ? "date" : type;
			cv->cols[k].format = mk_json_get_string(col, "format");
			if (!cv->cols[k].format)
				cv->cols[k].format = "";
			cv->cols[k].description = mk_json_get_string(col, "description");
			if (!cv->cols[k].description)
				cv->cols[k].description = "Custom resource definition column (in JSONPath format): ";
			cv->cols[k].priority = (int)mk_api_json_number(col, "priority", 0);
			cv->paths[k] = mk_json_get_string(col, "jsonPath");
			k++;
		}
	}
	return c;
}

/* The definition for obj: an existing one when nothing served changed. */
static struct mk_api_crd *crd_for(const cJSON *obj)
{
	for (struct mk_api_crd *c = all_crds; c; c = c->next) {
		if (!mk_api_json_same(mk_json_get(c->def, "metadata.uid"), mk_json_get(obj, "metadata.uid")) ||
		    !mk_api_json_same(mk_json_get(c->def, "spec"), mk_json_get(obj, "spec")) ||
		    !mk_api_json_same(mk_json_get(c->def, "status.acceptedNames"),
				      mk_json_get(obj, "status.acceptedNames")) ||
		    (mk_json_get(c->def, "metadata.deletionTimestamp") != NULL) !=
			    (mk_json_get(obj, "metadata.deletionTimestamp") != NULL))
			continue;
		return c;
	}
	struct mk_api_crd *c = crd_new(obj);
	c->next = all_crds;
	all_crds = c;
	return c;
}

static const char *const crd_verbs[] = { "create", "delete", "deletecollection", "get",
					 "list",   "patch",  "update",		 "watch", NULL };

uint64_t mk_api_crd_registry_set(cJSON *const *crds, size_t n)
{
	size_t nb, rows = 0;
	const struct mk_api_resource *builtin = mk_api_builtin_resources(&nb);

	pthread_mutex_lock(&reg_lock);
	struct mk_api_crd **defs = mk_malloc0(sizeof(*defs) * (n + 1));
	for (size_t i = 0; i < n; i++) {
		if (!condition_true(crds[i], "Established"))
			continue;
		defs[i] = crd_for(crds[i]);
		rows += defs[i]->nversions;
	}
	struct mk_api_snapshot *s =
		mk_malloc0(sizeof(*s) + sizeof(struct mk_api_resource) * (nb + rows));
	memcpy(s->rows, builtin, sizeof(*builtin) * nb);
	s->n = nb;
	for (size_t i = 0; i < n; i++) {
		struct mk_api_crd *c = defs[i];
		for (size_t j = 0; c && j < c->nversions; j++) {
			const cJSON *v = c->versions[j].ver;
			if (!cJSON_IsTrue(cJSON_GetObjectItem(v, "served")))
				continue;
			const cJSON *an = mk_json_get(c->def, "status.acceptedNames");
			const cJSON *sub = cJSON_GetObjectItem(v, "subresources");
			const char *scope = mk_json_get_string(c->def, "spec.scope");
			struct mk_api_resource *r = &s->rows[s->n++];
			r->name = mk_json_get_string(an, "plural");
			r->singular = mk_json_get_string(an, "singular");
			r->kind = mk_json_get_string(an, "kind");
			r->group = mk_json_get_string(c->def, "spec.group");
			r->version = mk_json_get_string(v, "name");
			r->group_version = c->versions[j].group_version;
			r->namespaced = scope && !strcmp(scope, "Namespaced");
			r->short_names = c->short_names;
			r->verbs = crd_verbs;
			r->has_status = cJSON_GetObjectItem(sub, "status") != NULL;
			r->has_scale = cJSON_GetObjectItem(sub, "scale") != NULL;
			/* as kube's customResourceStrategy: generation counts spec changes,
			 * and with a status subresource a create drops the status */
			r->spec_generation = true;
			r->initial_status = r->has_status ? "null" : NULL;
			r->categories = c->categories;
			r->store_key = c->name;
			r->crd = c;
			if (!r->singular || !*r->singular || !r->name || !r->kind)
				s->n--; /* no accepted names (never established) */
		}
	}
	s->gen = ++generation;
	s->prev = last;
	last = s;
	mk_api_snapshot_publish(s);
	free(defs);
	uint64_t g = generation;
	pthread_mutex_unlock(&reg_lock);
	return g;
}

static const struct crd_version *version_of(const struct mk_api_resource *r)
{
	const struct mk_api_crd *c = r ? r->crd : NULL;
	for (size_t i = 0; c && i < c->nversions; i++)
		if (!strcmp(mk_json_get_string(c->versions[i].ver, "name"), r->version))
			return &c->versions[i];
	return NULL;
}

const cJSON *mk_api_crd_version(const struct mk_api_resource *r)
{
	const struct crd_version *v = version_of(r);
	return v ? v->ver : NULL;
}

char *mk_api_crd_deprecation_warning(const struct mk_api_resource *r)
{
	const cJSON *v = mk_api_crd_version(r);
	if (!cJSON_IsTrue(cJSON_GetObjectItem(v, "deprecated")))
		return NULL;
	const char *w = mk_json_get_string(v, "deprecationWarning");
	_cleanup_free_ char *text = w ? mk_strdup(w)
				       : mk_strdup_printf("%s %s is deprecated", r->group_version,
							  r->kind);
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "299 - \"");
	for (const char *p = text; *p; p++)
		mk_buf_printf(&b, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
	mk_buf_puts(&b, "\"");
	return mk_buf_steal(&b);
}

const char *mk_api_crd_scale_path(const struct mk_api_resource *r, const char *which)
{
	const cJSON *sc = mk_json_get(mk_api_crd_version(r), "subresources.scale");
	return mk_json_get_string(sc, which);
}

const cJSON *mk_api_cr_schema(const char *group, const char *version, const char *kind)
{
	_cleanup_free_ char *gv = group && group[0] ? mk_strdup_printf("%s/%s", group, version)
						    : mk_strdup(version);
	const struct mk_api_resource *r = mk_api_resource_by_kind(gv, kind);
	if (!r || !r->crd)
		return NULL;
	return mk_json_get(mk_api_crd_version(r), "schema.openAPIV3Schema");
}

/* ---- the custom resources' strategy --------------------------------------------- */

void mk_api_cr_default(const struct mk_api_resource *r, cJSON *obj)
{
	const cJSON *s = mk_json_get(mk_api_crd_version(r), "schema.openAPIV3Schema");
	if (s)
		mk_api_crd_schema_default(s, obj);
}

void mk_api_cr_validate(const struct mk_api_resource *r, cJSON *causes, const cJSON *obj,
			const cJSON *old)
{
	const cJSON *s = mk_json_get(mk_api_crd_version(r), "schema.openAPIV3Schema");
	(void)old;
	if (s)
		mk_api_crd_schema_validate(s, obj, "", causes);
}

const struct mk_api_column *mk_api_cr_columns(const struct mk_api_resource *r, size_t *n)
{
	const struct crd_version *v = version_of(r);
	if (!v) {
		*n = 0;
		return NULL;
	}
	*n = v->ncols;
	return v->cols;
}

/* A simple JSONPath as kubectl's printer columns use: .a.b, .a[0].b,
 * .a[?(@.k=="v")].b, with an optional {} wrapper. The first match (borrowed) or
 * NULL. */
const cJSON *mk_api_jsonpath_get(const cJSON *obj, const char *path)
{
	_cleanup_free_ char *p = mk_strdup(path ? path : "");
	char *s = p;
	size_t len = strlen(s);
	const cJSON *cur = obj;

	if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
		s[len - 1] = '\0';
		s++;
	}
	if (*s == '$')
		s++;
	while (*s && cur) {
		if (*s == '.') {
			char *e = s + 1;
			while (*e && *e != '.' && *e != '[')
				e++;
			char c = *e;
			*e = '\0';
			cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, s + 1) : NULL;
			*e = c;
			s = e;
		} else if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e)
				return NULL;
			/* a filter may contain ']' only inside quotes: look for the ')]' */
			if (s[1] == '?') {
				char *close = strstr(s, ")]");
				if (!close)
					return NULL;
				e = close + 1;
			}
			*e = '\0';
			if (s[1] == '?') {
				/* [?(@.key=="value")] */
				char *f = s + 2, *eq;
				if (*f == '(')
					f++;
				if (strncmp(f, "@.", 2) || !(eq = strstr(f, "==")))
					return NULL;
				_cleanup_free_ char *key = strndup(f + 2, (size_t)(eq - f - 2));
				char *val = eq + 2;
				size_t vl = strlen(val);
				if (vl && val[vl - 1] == ')')
					val[--vl] = '\0';
				if (vl >= 2 && (val[0] == '"' || val[0] == '\'')) {
					val[vl - 1] = '\0';
					val++;
				}
				const cJSON *it, *found = NULL;
				cJSON_ArrayForEach(it, cur)
				{
					const char *kv = mk_json_get_string(it, key);
					if (kv && !strcmp(kv, val)) {
						found = it;
						break;
					}
				}
				cur = found;
			} else {
				char *end;
				long i = strtol(s + 1, &end, 10);
				if (end == s + 1 || !cJSON_IsArray(cur))
					return NULL;
				if (i < 0)
					i += cJSON_GetArraySize(cur);
				cur = cJSON_GetArrayItem(cur, (int)i);
			}
			s = e + 1;
		} else {
			return NULL;
		}
	}
	return cur;
}

void mk_api_cr_cells(const struct mk_api_resource *r, cJSON *cells, const cJSON *obj, time_t now)
{
	const struct crd_version *v = version_of(r);
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	for (size_t i = 1; v && i < v->ncols; i++) {
		const cJSON *x = mk_api_jsonpath_get(obj, v->paths[i]);
		const char *type = v->cols[i].type;
		if (!x || cJSON_IsNull(x)) {
			cJSON_AddItemToArray(cells, cJSON_CreateNull());
		} else if (type && !strcmp(type, "date") && cJSON_IsString(x)) {
			mk_api_cell_age(cells, x->valuestring, now);
		} else if (cJSON_IsString(x) || cJSON_IsNumber(x) || cJSON_IsBool(x)) {
			cJSON_AddItemToArray(cells, cJSON_Duplicate(x, 1));
		} else {
			/* objects and lists print as JSON, as kube-apiserver's convertor does */
			char *t = cJSON_PrintUnformatted(x);
			cJSON_AddItemToArray(cells, cJSON_CreateString(t));
			cJSON_free(t);
		}
	}
}

/* ---- the definitions' status --------------------------------------------------- */

static void set_condition(cJSON *conds, const char *type, const char *status,
			  const char *reason, const char *message)
{
	cJSON *c, *found = NULL;
	char ts[32];
	cJSON_ArrayForEach(c, conds)
		if (!strcmp(mk_json_get_string(c, "type") ? mk_json_get_string(c, "type") : "", type))
			found = c;
	if (!found) {
		found = cJSON_CreateObject();
		cJSON_AddItemToArray(conds, found);
		mk_json_set_string(found, "type", type);
	}
	const char *old = mk_json_get_string(found, "status");
	if (!old || strcmp(old, status) || !mk_json_get(found, "lastTransitionTime")) {
		mk_time_format(time(NULL), ts, sizeof(ts));
		mk_json_set_string(found, "lastTransitionTime", ts);
	}
	mk_json_set_string(found, "status", status);
	mk_json_set_string(found, "reason", reason);
	mk_json_set_string(found, "message", message);
}

/* true when other (another CRD of the same group, older) holds name as plural,
 * singular, short name or kind (what) */
static bool name_taken(const cJSON *other, const char *what, const char *name)
{
	const cJSON *an = mk_json_get(other, "status.acceptedNames");
	const cJSON *it;
	if (!name || !*name || !an)
		return false;
	if (!strcmp(what, "kind"))
		return mk_json_get_string(an, "kind") && !strcmp(mk_json_get_string(an, "kind"), name);
	if ((mk_json_get_string(an, "plural") && !strcmp(mk_json_get_string(an, "plural"), name)) ||
	    (mk_json_get_string(an, "singular") && !strcmp(mk_json_get_string(an, "singular"), name)))
		return true;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(an, "shortNames"))
		if (cJSON_IsString(it) && !strcmp(it->valuestring, name))
			return true;
	return false;
}

/* The first of the definition's names another holds (*ret_reason says which kind
 * of name), or NULL: built-in kinds of the group hold their names (kube: the group
 * would be served twice), then the other definitions of the group. */
static const char *names_conflict(const cJSON *crd, cJSON *const *others, size_t n, const char **ret_reason)
{
	const cJSON *names = mk_json_get(crd, "spec.names");
	const char *group = mk_json_get_string(crd, "spec.group");
	const char *uid = mk_json_get_string(crd, "metadata.uid");
	const char *plural = mk_json_get_string(names, "plural"), *kind = mk_json_get_string(names, "kind");
	size_t nb;
	const struct mk_api_resource *builtin = mk_api_builtin_resources(&nb);
	for (size_t i = 0; group && i < nb; i++) {
		if (strcmp(builtin[i].group, group))
			continue;
		if (plural && !strcmp(builtin[i].name, plural)) {
			*ret_reason = "PluralConflict";
			return plural;
		}
		if (kind && !strcmp(builtin[i].kind, kind)) {
			*ret_reason = "KindConflict";
			return kind;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const cJSON *o = others[i];
		const char *og = mk_json_get_string(o, "spec.group");
		const char *ouid = mk_json_get_string(o, "metadata.uid");
		if (!og || !group || strcmp(og, group) || (ouid && uid && !strcmp(ouid, uid)))
			continue;
		const char *checks[] = { "plural", "singular" };
		for (size_t k = 0; k < MK_ARRAY_SIZE(checks); k++)
			if (name_taken(o, "names", mk_json_get_string(names, checks[k]))) {
				*ret_reason = "PluralConflict";
				return mk_json_get_string(names, checks[k]);
			}
		const cJSON *sn;
		cJSON_ArrayForEach(sn, cJSON_GetObjectItem(names, "shortNames"))
			if (cJSON_IsString(sn) && name_taken(o, "names", sn->valuestring)) {
				*ret_reason = "ShortNamesConflict";
				return sn->valuestring;
			}
		if (name_taken(o, "kind", kind)) {
			*ret_reason = "KindConflict";
			return kind;
		}
	}
	return NULL;
}

/* storedVersions: every version ever the storage one. */
static void stored_versions_update(cJSON *st, const cJSON *crd)
{
	cJSON *sv = cJSON_GetObjectItem(st, "storedVersions");
	if (!cJSON_IsArray(sv)) {
		sv = cJSON_CreateArray();
		mk_json_set(st, "storedVersions", sv);
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, mk_json_get(crd, "spec.versions"))
	{
		const char *vn = mk_json_get_string(v, "name");
		const cJSON *it;
		bool have = false;
		if (!vn || !cJSON_IsTrue(cJSON_GetObjectItem(v, "storage")))
			continue;
		cJSON_ArrayForEach(it, sv)
			have |= cJSON_IsString(it) && !strcmp(it->valuestring, vn);
		if (!have)
			cJSON_AddItemToArray(sv, cJSON_CreateString(vn));
	}
}

void mk_api_crd_status(cJSON *crd, cJSON *const *others, size_t n)
{
	cJSON *st = mk_json_ensure_object(crd, "status");
	const cJSON *names = mk_json_get(crd, "spec.names");
	const char *reason = NULL;
	const char *conflict = names_conflict(crd, others, n, &reason);
	static __thread char msg[320];

	cJSON *conds = cJSON_GetObjectItem(st, "conditions");
	if (!cJSON_IsArray(conds)) {
		conds = cJSON_CreateArray();
		mk_json_set(st, "conditions", conds);
	}
	bool was_established = condition_true(crd, "Established");
	if (conflict) {
		snprintf(msg, sizeof(msg), "\"%s\" is already in use", conflict);
		set_condition(conds, "NamesAccepted", "False", reason, msg);
		/* names once accepted stay (kube keeps serving them) */
		if (!was_established) {
			set_condition(conds, "Established", "False", "NotAccepted",
				      "not all names are accepted");
			if (!cJSON_GetObjectItem(st, "acceptedNames"))
				cJSON_AddItemToObject(st, "acceptedNames",
						      cJSON_Parse("{\"plural\":\"\",\"kind\":\"\"}"));
		}
	} else {
		set_condition(conds, "NamesAccepted", "True", "NoConflicts", "no conflicts found");
		mk_json_set(st, "acceptedNames", cJSON_Duplicate(names, 1));
		set_condition(conds, "Established", "True", "InitialNamesAccepted",
			      "the initial names have been accepted");
	}
	if (mk_json_get(crd, "metadata.deletionTimestamp"))
		set_condition(conds, "Terminating", "True", "InstanceDeletionInProgress",
			      "CustomResource deletion is in progress");
	stored_versions_update(st, crd);
}

/* ---- versions ----------------------------------------------------------------- */

bool mk_api_crd_terminating(const struct mk_api_crd *c)
{
	return c && c->terminating;
}

static void set_api_version(cJSON *obj, const char *gv)
{
	cJSON *av = cJSON_GetObjectItemCaseSensitive(obj, "apiVersion");
	if (cJSON_IsString(av))
		cJSON_SetValuestring(av, gv);
	else
		mk_json_set_string(obj, "apiVersion", gv);
}

char *mk_api_cr_from_storage(const struct mk_api_resource *r, const char *json)
{
	_cleanup_cjson_ cJSON *obj = cJSON_Parse(json);
	if (!cJSON_IsObject(obj))
		return NULL;
	set_api_version(obj, r->group_version);
	mk_api_cr_default(r, obj);
	char *t = cJSON_PrintUnformatted(obj);
	char *ret = mk_strdup(t);
	cJSON_free(t);
	return ret;
}

void mk_api_cr_to_storage(const struct mk_api_resource *r, cJSON *obj)
{
	if (!r->crd || !r->crd->storage)
		return;
	_cleanup_free_ char *gv = mk_strdup_printf("%s/%s", r->group, r->crd->storage);
	set_api_version(obj, gv);
}

/* ---- OpenAPI -------------------------------------------------------------------- */

/* "stable.example.com" -> "com.example.stable" */
static char *reverse_group(const char *g)
{
	struct mk_buf b;
	_cleanup_free_ char *copy = mk_strdup(g);
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	for (;;) {
		char *dot = strrchr(copy, '.');
		mk_buf_printf(&b, "%s%s", b.len ? "." : "", dot ? dot + 1 : copy);
		if (!dot)
			break;
		*dot = '\0';
	}
	return mk_buf_steal(&b);
}

static cJSON *gvk_list(const char *group, const char *version, const char *kind)
{
	cJSON *a = cJSON_CreateArray(), *g = cJSON_CreateObject();
	cJSON_AddStringToObject(g, "group", group);
	cJSON_AddStringToObject(g, "kind", kind);
	cJSON_AddStringToObject(g, "version", version);
	cJSON_AddItemToArray(a, g);
	return a;
}

static cJSON *ref_to(const char *prefix, const char *name, bool v3)
{
	cJSON *r = cJSON_CreateObject();
	_cleanup_free_ char *ref = mk_strdup_printf("%s%s", prefix, name);
	if (v3) {
		/* as kube-apiserver's v3 documents: a sibling description needs allOf */
		cJSON *one = cJSON_CreateObject();
		cJSON_AddStringToObject(one, "$ref", ref);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "allOf"), one);
	} else {
		cJSON_AddStringToObject(r, "$ref", ref);
	}
	return r;
}

void mk_api_cr_openapi_add(cJSON *defs, const char *ref_prefix, bool v3)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);

	for (size_t i = 0; i < n; i++) {
		const struct mk_api_resource *r = &rs[i];
		const cJSON *s = mk_json_get(mk_api_crd_version(r), "schema.openAPIV3Schema");
		if (!r->crd)
			continue;
		_cleanup_free_ char *rg = reverse_group(r->group);
		_cleanup_free_ char *name = mk_strdup_printf("%s.%s.%s", rg, r->version, r->kind);
		_cleanup_free_ char *lname = mk_strdup_printf("%sList", name);
		cJSON *d = s ? cJSON_Duplicate(s, 1) : cJSON_Parse("{\"type\":\"object\"}");
		cJSON *props = cJSON_GetObjectItem(d, "properties");
		if (!cJSON_IsObject(props)) {
			props = cJSON_CreateObject();
			mk_json_set(d, "properties", props);
		}
		mk_json_set(props, "apiVersion",
			    cJSON_Parse("{\"type\":\"string\",\"description\":\"APIVersion defines the "
					"versioned schema of this representation of an object.\"}"));
		mk_json_set(props, "kind",
			    cJSON_Parse("{\"type\":\"string\",\"description\":\"Kind is a string value "
					"representing the REST resource this object represents.\"}"));
		cJSON *md = ref_to(ref_prefix, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", v3);
		cJSON_AddStringToObject(md, "description", "Standard object's metadata.");
		mk_json_set(props, "metadata", md);
		mk_json_set(d, "x-kubernetes-group-version-kind", gvk_list(r->group, r->version, r->kind));
		mk_json_set(defs, name, d);

		_cleanup_free_ char *lkind = mk_strdup_printf("%sList", r->kind);
		cJSON *l = cJSON_CreateObject();
		_cleanup_free_ char *desc = mk_strdup_printf("%s is a list of %s", lkind, r->kind);
		cJSON_AddStringToObject(l, "description", desc);
		cJSON_AddStringToObject(l, "type", "object");
		cJSON_AddItemToArray(cJSON_AddArrayToObject(l, "required"), cJSON_CreateString("items"));
		cJSON *lp = cJSON_AddObjectToObject(l, "properties");
		cJSON_AddItemToObject(lp, "apiVersion", cJSON_Parse("{\"type\":\"string\"}"));
		cJSON *items = cJSON_AddObjectToObject(lp, "items");
		cJSON_AddStringToObject(items, "type", "array");
		cJSON *ir = cJSON_CreateObject();
		_cleanup_free_ char *iref = mk_strdup_printf("%s%s", ref_prefix, name);
		cJSON_AddStringToObject(ir, "$ref", iref);
		cJSON_AddItemToObject(items, "items", ir);
		cJSON_AddItemToObject(lp, "kind", cJSON_Parse("{\"type\":\"string\"}"));
		cJSON_AddItemToObject(lp, "metadata",
				      ref_to(ref_prefix, "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta", v3));
		mk_json_set(l, "x-kubernetes-group-version-kind", gvk_list(r->group, r->version, lkind));
		mk_json_set(defs, lname, l);
	}
}
