/* apiextensions.k8s.io/v1 CustomResourceDefinition: defaults as
 * apiextensions/v1/defaults.go (singular, listKind, conversion None, the Age
 * printer column), validation as apiextensions/validation (the name is
 * PLURAL.GROUP, names are DNS labels, scope, versions with exactly one storage
 * version and at least one served, a structural schema for every version,
 * immutable scope, scale paths), `kubectl get crd` columns NAME, CREATED AT. */
#include <ctype.h>
#include <string.h>
#include "internal.h"

static void crd_defaults(cJSON *obj)
{
	cJSON *spec = cJSON_GetObjectItem(obj, "spec");
	cJSON *names = cJSON_GetObjectItem(spec, "names");
	const char *kind = mk_json_get_string(names, "kind");
	cJSON *v;

	if (!cJSON_IsObject(spec))
		return;
	if (cJSON_IsObject(names) && kind && *kind) {
		if (mk_api_json_str_empty(names, "singular")) {
			_cleanup_free_ char *s = mk_strdup(kind);
			for (char *p = s; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			mk_json_set_string(names, "singular", s);
		}
		if (mk_api_json_str_empty(names, "listKind")) {
			_cleanup_free_ char *l = mk_strdup_printf("%sList", kind);
			mk_json_set_string(names, "listKind", l);
		}
	}
	if (!cJSON_IsObject(cJSON_GetObjectItem(spec, "conversion")))
		mk_json_set(spec, "conversion", cJSON_Parse("{\"strategy\":\"None\"}"));
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(spec, "versions"))
	{
		if (!cJSON_IsObject(v))
			continue;
		if (cJSON_GetArraySize(cJSON_GetObjectItem(v, "additionalPrinterColumns")) == 0)
			mk_json_set(v, "additionalPrinterColumns",
				    cJSON_Parse("[{\"name\":\"Age\",\"type\":\"date\","
						"\"jsonPath\":\".metadata.creationTimestamp\"}]"));
	}
}

static void check_label(cJSON *causes, const cJSON *obj, const char *key, const char *field,
			bool req)
{
	const cJSON *j = cJSON_GetObjectItem(obj, key);
	if (!j || (cJSON_IsString(j) && !*j->valuestring)) {
		if (req)
			mk_api_v_required(causes, field, NULL);
		return;
	}
	if (!cJSON_IsString(j)) {
		mk_api_v_invalid(causes, field, j, "must be a string");
		return;
	}
	const char *m = mk_api_check_dns1123_label(j->valuestring);
	if (m)
		mk_api_v_invalid(causes, field, j, m);
}

static bool path_under(const char *p, const char *prefix)
{
	return p && !strncmp(p, prefix, strlen(prefix)) && p[strlen(prefix)];
}

static void validate_version(cJSON *causes, const cJSON *v, int i)
{
	char f[160];
	const cJSON *schema = mk_json_get(v, "schema.openAPIV3Schema");
	const cJSON *sc = mk_json_get(v, "subresources.scale");
	const cJSON *col;
	int k = 0;

	snprintf(f, sizeof(f), "spec.versions[%d].name", i);
	check_label(causes, v, "name", f, true);
	snprintf(f, sizeof(f), "spec.versions[%d].schema.openAPIV3Schema", i);
	if (!cJSON_IsObject(schema))
		mk_api_v_required(causes, f, "schemas are required");
	else
		mk_api_crd_schema_check(schema, f, causes);
	if (sc) {
		const char *sp = mk_json_get_string(sc, "specReplicasPath");
		const char *stp = mk_json_get_string(sc, "statusReplicasPath");
		const char *lp = mk_json_get_string(sc, "labelSelectorPath");
		snprintf(f, sizeof(f), "spec.versions[%d].subresources.scale.specReplicasPath", i);
		if (!sp || !*sp)
			mk_api_v_required(causes, f, NULL);
		else if (!path_under(sp, ".spec."))
			mk_api_v_invalid(causes, f, cJSON_GetObjectItem(sc, "specReplicasPath"),
					 "should be a json path under .spec");
		snprintf(f, sizeof(f), "spec.versions[%d].subresources.scale.statusReplicasPath", i);
		if (!stp || !*stp)
			mk_api_v_required(causes, f, NULL);
		else if (!path_under(stp, ".status."))
			mk_api_v_invalid(causes, f, cJSON_GetObjectItem(sc, "statusReplicasPath"),
					 "should be a json path under .status");
		snprintf(f, sizeof(f), "spec.versions[%d].subresources.scale.labelSelectorPath", i);
		if (lp && *lp && !path_under(lp, ".spec.") && !path_under(lp, ".status."))
			mk_api_v_invalid(causes, f, cJSON_GetObjectItem(sc, "labelSelectorPath"),
					 "should be a json path under either .spec or .status");
	}
	k = 0;
	cJSON_ArrayForEach(col, cJSON_GetObjectItem(v, "selectableFields"))
	{
		const char *jp = mk_json_get_string(col, "jsonPath");
		snprintf(f, sizeof(f), "spec.versions[%d].selectableFields[%d].jsonPath", i, k++);
		if (!jp || !*jp)
			mk_api_v_required(causes, f, NULL);
		else if (jp[0] != '.' || strpbrk(jp, "[]*?@"))
			mk_api_v_invalid(causes, f, cJSON_GetObjectItem(col, "jsonPath"),
					 "must be a simple path to a field, such as .spec.color");
	}
	if (k > 8) {
		snprintf(f, sizeof(f), "spec.versions[%d].selectableFields", i);
		mk_api_v_too_many(causes, f, k, 8);
	}
	k = 0;
	cJSON_ArrayForEach(col, cJSON_GetObjectItem(v, "additionalPrinterColumns"))
	{
		static const char *const types[] = { "integer", "number", "string", "boolean", "date", NULL };
		const char *t = mk_json_get_string(col, "type");
		bool ok = false;
		snprintf(f, sizeof(f), "spec.versions[%d].additionalPrinterColumns[%d].name", i, k);
		if (mk_api_json_str_empty(col, "name"))
			mk_api_v_required(causes, f, NULL);
		snprintf(f, sizeof(f), "spec.versions[%d].additionalPrinterColumns[%d].type", i, k);
		for (size_t j = 0; t && types[j]; j++)
			ok |= !strcmp(t, types[j]);
		if (!t || !*t)
			mk_api_v_required(causes, f, NULL);
		else if (!ok)
			mk_api_v_not_supported(causes, f, t, types);
		snprintf(f, sizeof(f), "spec.versions[%d].additionalPrinterColumns[%d].jsonPath", i, k);
		if (mk_api_json_str_empty(col, "jsonPath"))
			mk_api_v_required(causes, f, NULL);
		k++;
	}
}

/* metadata.name is plural.group; group a domain with a dot. */
static void crd_validate_group(cJSON *causes, const cJSON *obj, const cJSON *spec)
{
	const char *group = mk_json_get_string(spec, "group");
	const char *plural = mk_json_get_string(spec, "names.plural");
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (name && plural && group) {
		_cleanup_free_ char *want = mk_strdup_printf("%s.%s", plural, group);
		if (strcmp(want, name))
			mk_api_v_invalid(causes, "metadata.name", mk_json_get(obj, "metadata.name"),
					 "must be spec.names.plural+\".\"+spec.group");
	}
	if (!group || !*group)
		mk_api_v_required(causes, "spec.group", NULL);
	else if (mk_api_check_dns1123_subdomain(group))
		mk_api_v_invalid(causes, "spec.group", cJSON_GetObjectItem(spec, "group"),
				 mk_api_check_dns1123_subdomain(group));
	else if (!strchr(group, '.'))
		mk_api_v_invalid(causes, "spec.group", cJSON_GetObjectItem(spec, "group"),
				 "should be a domain with at least one dot");
}

/* spec.names: plural, singular, kind, shortNames, listKind other than kind. */
static void crd_validate_names(cJSON *causes, const cJSON *names)
{
	const cJSON *it;
	int i = 0;
	if (!cJSON_IsObject(names)) {
		mk_api_v_required(causes, "spec.names", NULL);
		return;
	}
	check_label(causes, names, "plural", "spec.names.plural", true);
	check_label(causes, names, "singular", "spec.names.singular", false);
	if (mk_api_json_str_empty(names, "kind"))
		mk_api_v_required(causes, "spec.names.kind", NULL);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(names, "shortNames"))
	{
		char f[64];
		snprintf(f, sizeof(f), "spec.names.shortNames[%d]", i++);
		if (!cJSON_IsString(it) || mk_api_check_dns1123_label(it->valuestring))
			mk_api_v_invalid(causes, f, it,
					 cJSON_IsString(it) ? mk_api_check_dns1123_label(it->valuestring)
							    : "must be a string");
	}
	const char *kind = mk_json_get_string(names, "kind");
	const char *lk = mk_json_get_string(names, "listKind");
	if (kind && lk && !strcmp(kind, lk))
		mk_api_v_invalid(causes, "spec.names.listKind", cJSON_GetObjectItem(names, "listKind"),
				 "kind and listKind may not be the same");
}

/* spec.versions: at least one, unique names, each valid, exactly one storage
 * version and at least one served. */
static void crd_validate_versions(cJSON *causes, const cJSON *spec)
{
	const cJSON *vs = cJSON_GetObjectItem(spec, "versions"), *v;
	int i = 0, storage = 0, served = 0;
	if (cJSON_GetArraySize(vs) == 0)
		mk_api_v_invalid(causes, "spec.versions", vs, "must have exactly one version marked as storage version");
	cJSON_ArrayForEach(v, vs)
	{
		const cJSON *w;
		int j = 0;
		storage += cJSON_IsTrue(cJSON_GetObjectItem(v, "storage"));
		served += cJSON_IsTrue(cJSON_GetObjectItem(v, "served"));
		cJSON_ArrayForEach(w, vs)
		{
			if (j++ >= i)
				break;
			if (mk_api_json_same(cJSON_GetObjectItem(w, "name"), cJSON_GetObjectItem(v, "name"))) {
				char f[64];
				snprintf(f, sizeof(f), "spec.versions[%d].name", i);
				mk_api_v_duplicate(causes, f, cJSON_GetObjectItem(v, "name"));
				break;
			}
		}
		validate_version(causes, v, i++);
	}
	if (i > 0 && storage != 1)
		mk_api_v_invalid(causes, "spec.versions", vs,
				 "must have exactly one version marked as storage version");
	if (i > 0 && served == 0)
		mk_api_v_invalid(causes, "spec.versions", vs, "must have at least one version marked as served");
}

/* An update: scope is immutable, every stored version stays in spec.versions. */
static void crd_validate_update(cJSON *causes, const cJSON *spec, const cJSON *old)
{
	const cJSON *os = cJSON_GetObjectItem(old, "spec"), *it, *v;
	if (!mk_api_json_same(cJSON_GetObjectItem(spec, "scope"), cJSON_GetObjectItem(os, "scope")))
		mk_api_v_invalid(causes, "spec.scope", cJSON_GetObjectItem(spec, "scope"), "field is immutable");
	cJSON_ArrayForEach(it, mk_json_get(old, "status.storedVersions"))
	{
		bool found = false;
		cJSON_ArrayForEach(v, cJSON_GetObjectItem(spec, "versions"))
			found |= mk_api_json_same(cJSON_GetObjectItem(v, "name"), it);
		if (!found && cJSON_IsString(it))
			mk_api_v_invalid(causes, "status.storedVersions[0]", it, "must appear in spec.versions");
	}
}

static void crd_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItem(obj, "spec");
	const char *scope = mk_json_get_string(spec, "scope");
	static const char *const scopes[] = { "Cluster", "Namespaced", NULL };

	if (!cJSON_IsObject(spec)) {
		mk_api_v_required(causes, "spec", NULL);
		return;
	}
	crd_validate_group(causes, obj, spec);
	crd_validate_names(causes, cJSON_GetObjectItem(spec, "names"));
	if (!scope || !*scope)
		mk_api_v_required(causes, "spec.scope", NULL);
	else if (strcmp(scope, "Cluster") && strcmp(scope, "Namespaced"))
		mk_api_v_not_supported(causes, "spec.scope", scope, scopes);
	crd_validate_versions(causes, spec);
	const char *strategy = mk_json_get_string(spec, "conversion.strategy");
	static const char *const strategies[] = { "None", NULL };
	if (strategy && strcmp(strategy, "None"))
		mk_api_v_not_supported(causes, "spec.conversion.strategy", strategy, strategies);
	if (cJSON_IsTrue(cJSON_GetObjectItem(spec, "preserveUnknownFields")))
		mk_api_v_invalid(causes, "spec.preserveUnknownFields",
				 cJSON_GetObjectItem(spec, "preserveUnknownFields"),
				 "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
				 "spec.versions[*].schema instead");
	if (old)
		crd_validate_update(causes, spec, old);
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Created At", "date", "", "The time the definition was created (metadata.creationTimestamp).", 0 },
};

static void crd_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	(void)now;
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	/* kube-apiserver's default convertor prints the timestamp itself */
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.creationTimestamp"));
}

const struct mk_api_kind_ops mk_api_crd_ops = {
	.defaults = crd_defaults,
	.validate = crd_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = crd_cells,
};
