/* rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding.
 * Defaults as upstream's rbac/v1 defaults (a binding's roleRef.apiGroup and its
 * subjects' apiGroup), validation as pkg/apis/rbac/validation (rules need verbs and
 * either resources with API groups or, in ClusterRoles only, non-resource URLs;
 * subjects are User/Group/ServiceAccount; the roleRef cannot change), and the
 * printer's columns (NAME CREATED AT for roles; NAME ROLE AGE, with -o wide USERS
 * GROUPS SERVICEACCOUNTS, for bindings). */
#include <stdio.h>
#include <string.h>
#include "internal.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

/* a list of strings at obj[key] (absent is fine); false when it is not one */
static bool string_list(cJSON *causes, const cJSON *obj, const char *key, const char *field)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
	if (!l || cJSON_IsNull(l))
		return true;
	if (!cJSON_IsArray(l)) {
		mk_api_v_invalid(causes, field, l, "must be a list of strings");
		return false;
	}
	cJSON_ArrayForEach(it, l)
	{
		if (!cJSON_IsString(it)) {
			mk_api_v_invalid(causes, field, it, "must be a string");
			return false;
		}
	}
	return true;
}

static int list_len(const cJSON *obj, const char *key)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsArray(l) ? cJSON_GetArraySize(l) : 0;
}

static void validate_rules(cJSON *causes, const cJSON *obj, bool namespaced)
{
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(obj, "rules"), *rule;
	char f[96];
	int i = 0;

	if (!rules || cJSON_IsNull(rules))
		return;
	if (!cJSON_IsArray(rules)) {
		mk_api_v_invalid(causes, "rules", rules, "must be a list");
		return;
	}
	cJSON_ArrayForEach(rule, rules)
	{
		static const char *const keys[] = { "verbs", "apiGroups", "resources",
						     "resourceNames", "nonResourceURLs" };
		bool ok = cJSON_IsObject(rule);
		snprintf(f, sizeof(f), "rules[%d]", i);
		if (!ok)
			mk_api_v_invalid(causes, f, rule, "must be an object");
		for (size_t k = 0; ok && k < MK_ARRAY_SIZE(keys); k++) {
			snprintf(f, sizeof(f), "rules[%d].%s", i, keys[k]);
			ok = string_list(causes, rule, keys[k], f);
		}
		if (!ok) {
			i++;
			continue;
		}
		if (!list_len(rule, "verbs")) {
			snprintf(f, sizeof(f), "rules[%d].verbs", i);
			mk_api_v_required(causes, f, "verbs must contain at least one value");
		}
		if (list_len(rule, "nonResourceURLs")) {
			const cJSON *urls = cJSON_GetObjectItemCaseSensitive(rule, "nonResourceURLs");
			snprintf(f, sizeof(f), "rules[%d].nonResourceURLs", i);
			if (namespaced)
				mk_api_v_invalid(causes, f, urls,
						 "namespaced rules cannot apply to non-resource URLs");
			if (list_len(rule, "apiGroups") || list_len(rule, "resources"))
				mk_api_v_invalid(causes, f, urls,
						 "rules cannot apply to both regular resources and "
						 "non-resource URLs");
		} else {
			if (!list_len(rule, "apiGroups")) {
				snprintf(f, sizeof(f), "rules[%d].apiGroups", i);
				mk_api_v_required(causes, f,
						  "resource rules must supply at least one api group");
			}
			if (!list_len(rule, "resources")) {
				snprintf(f, sizeof(f), "rules[%d].resources", i);
				mk_api_v_required(causes, f,
						  "resource rules must supply at least one resource");
			}
		}
		i++;
	}
}

static void role_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	(void)old;
	validate_rules(causes, obj, true);
}

static void clusterrole_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *ar = cJSON_GetObjectItemCaseSensitive(obj, "aggregationRule");
	(void)old;
	validate_rules(causes, obj, false);
	if (!ar || cJSON_IsNull(ar))
		return;
	if (!cJSON_IsObject(ar)) {
		mk_api_v_invalid(causes, "aggregationRule", ar, "must be an object");
		return;
	}
	const cJSON *sels = cJSON_GetObjectItemCaseSensitive(ar, "clusterRoleSelectors"), *sel;
	if (!cJSON_IsArray(sels) || !cJSON_GetArraySize(sels)) {
		mk_api_v_required(causes, "aggregationRule.clusterRoleSelectors",
				  "at least one clusterRoleSelector required if aggregationRule is "
				  "non-nil");
		return;
	}
	int i = 0;
	char f[96];
	cJSON_ArrayForEach(sel, sels)
	{
		snprintf(f, sizeof(f), "aggregationRule.clusterRoleSelectors[%d]", i++);
		mk_api_v_label_selector(causes, sel, f);
	}
}

static void binding_validate(cJSON *causes, const cJSON *obj, const cJSON *old, bool cluster)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(obj, "roleRef");
	const cJSON *subjects = cJSON_GetObjectItemCaseSensitive(obj, "subjects"), *s;
	static const char *const ref_kinds_ns[] = { "Role", "ClusterRole", NULL };
	static const char *const ref_kinds_cluster[] = { "ClusterRole", NULL };
	static const char *const rbac_group[] = { RBAC_GROUP, NULL };
	static const char *const core_group[] = { "", NULL };
	static const char *const subject_kinds[] = { "ServiceAccount", "User", "Group", NULL };
	char f[96];

	if (!cJSON_IsObject(ref)) {
		mk_api_v_required(causes, "roleRef", NULL);
	} else {
		const char *g = mk_json_get_string(ref, "apiGroup");
		const char *k = mk_json_get_string(ref, "kind");
		const char *n = mk_json_get_string(ref, "name");
		if (!g || strcmp(g, RBAC_GROUP))
			mk_api_v_not_supported(causes, "roleRef.apiGroup", g ? g : "", rbac_group);
		const char *const *kinds = cluster ? ref_kinds_cluster : ref_kinds_ns;
		bool kind_ok = false;
		for (size_t i = 0; k && kinds[i]; i++)
			kind_ok |= !strcmp(k, kinds[i]);
		if (!kind_ok)
			mk_api_v_not_supported(causes, "roleRef.kind", k ? k : "", kinds);
		if (!n || !*n)
			mk_api_v_required(causes, "roleRef.name", NULL);
		else if (strchr(n, '/') || strchr(n, '%') || !strcmp(n, ".") || !strcmp(n, ".."))
			mk_api_v_invalid(causes, "roleRef.name", cJSON_GetObjectItem(ref, "name"),
					 "may not be '.' or '..' or contain '/' or '%'");
	}
	if (old && !cJSON_Compare(ref, cJSON_GetObjectItemCaseSensitive(old, "roleRef"), 1))
		mk_api_v_invalid(causes, "roleRef", ref, "cannot change roleRef");

	if (!subjects || cJSON_IsNull(subjects))
		return;
	if (!cJSON_IsArray(subjects)) {
		mk_api_v_invalid(causes, "subjects", subjects, "must be a list");
		return;
	}
	int i = 0;
	cJSON_ArrayForEach(s, subjects)
	{
		const char *k = mk_json_get_string(s, "kind");
		const char *n = mk_json_get_string(s, "name");
		const char *g = mk_json_get_string(s, "apiGroup");
		const char *ns = mk_json_get_string(s, "namespace");
		snprintf(f, sizeof(f), "subjects[%d].name", i);
		if (!n || !*n)
			mk_api_v_required(causes, f, NULL);
		snprintf(f, sizeof(f), "subjects[%d].kind", i);
		if (!k || (strcmp(k, "ServiceAccount") && strcmp(k, "User") && strcmp(k, "Group"))) {
			mk_api_v_not_supported(causes, f, k ? k : "", subject_kinds);
		} else if (!strcmp(k, "ServiceAccount")) {
			snprintf(f, sizeof(f), "subjects[%d].apiGroup", i);
			if (g && *g)
				mk_api_v_not_supported(causes, f, g, core_group);
			if (n && *n && mk_api_check_dns1123_subdomain(n)) {
				snprintf(f, sizeof(f), "subjects[%d].name", i);
				mk_api_v_invalid(causes, f, cJSON_GetObjectItem(s, "name"),
						 mk_api_check_dns1123_subdomain(n));
			}
			snprintf(f, sizeof(f), "subjects[%d].namespace", i);
			if (cluster && (!ns || !*ns))
				mk_api_v_required(causes, f, NULL);
		} else {
			snprintf(f, sizeof(f), "subjects[%d].apiGroup", i);
			if (!g || strcmp(g, RBAC_GROUP))
				mk_api_v_not_supported(causes, f, g ? g : "", rbac_group);
		}
		i++;
	}
}

static void rolebinding_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	binding_validate(causes, obj, old, false);
}

static void clusterrolebinding_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	binding_validate(causes, obj, old, true);
}

/* SetDefaults_RoleBinding / _Subject: the RBAC group on roleRef, users and groups */
static void binding_defaults(cJSON *obj)
{
	cJSON *ref = cJSON_GetObjectItemCaseSensitive(obj, "roleRef"), *s;
	if (cJSON_IsObject(ref)) {
		const char *g = mk_json_get_string(ref, "apiGroup");
		if (!g || !*g)
			mk_json_set_string(ref, "apiGroup", RBAC_GROUP);
	}
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(obj, "subjects"))
	{
		const char *k = mk_json_get_string(s, "kind");
		const char *g = mk_json_get_string(s, "apiGroup");
		if (!cJSON_IsObject(s) || !k || (g && *g))
			continue;
		if (!strcmp(k, "User") || !strcmp(k, "Group"))
			mk_json_set_string(s, "apiGroup", RBAC_GROUP);
		else if (!strcmp(k, "ServiceAccount") && !g)
			mk_json_set_string(s, "apiGroup", "");
	}
}

static const struct mk_api_column role_columns[] = {
	MK_API_NAME_COL,
	{ "Created At", "date", "", "When the object was created (metadata.creationTimestamp).", 0 },
};

static void role_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	(void)now;
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.creationTimestamp"));
}

static const struct mk_api_column binding_columns[] = {
	MK_API_NAME_COL,
	{ "Role", "string", "", "The role granted (roleRef), as Kind/name.", 0 },
	MK_API_AGE_COL,
	{ "Users", "string", "", "The users the role is granted to.", 1 },
	{ "Groups", "string", "", "The groups the role is granted to.", 1 },
	{ "ServiceAccounts", "string", "", "The service accounts the role is granted to.", 1 },
};

static void binding_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *s;
	struct mk_buf users, groups, sas;
	const char *rk = mk_json_get_string(obj, "roleRef.kind");
	const char *rn = mk_json_get_string(obj, "roleRef.name");
	_cleanup_free_ char *role = mk_strdup_printf("%s/%s", rk ? rk : "", rn ? rn : "");

	mk_buf_init(&users);
	mk_buf_init(&groups);
	mk_buf_init(&sas);
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(obj, "subjects"))
	{
		const char *k = mk_json_get_string(s, "kind"), *n = mk_json_get_string(s, "name");
		const char *ns = mk_json_get_string(s, "namespace");
		struct mk_buf *b = !k ? NULL
				   : !strcmp(k, "User") ? &users
				   : !strcmp(k, "Group") ? &groups
				   : !strcmp(k, "ServiceAccount") ? &sas
								   : NULL;
		if (!b || !n)
			continue;
		if (b->len)
			mk_buf_append(b, ",", 1);
		if (b == &sas && ns && *ns)
			mk_buf_printf(b, "%s:%s", ns, n);
		else
			mk_buf_append(b, n, strlen(n));
	}
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, role);
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_api_cell_str(cells, users.len ? users.data : "");
	mk_api_cell_str(cells, groups.len ? groups.data : "");
	mk_api_cell_str(cells, sas.len ? sas.data : "");
	mk_buf_release(&users);
	mk_buf_release(&groups);
	mk_buf_release(&sas);
}

const struct mk_api_kind_ops mk_api_role_ops = {
	.validate = role_validate,
	.columns = role_columns,
	.ncolumns = MK_ARRAY_SIZE(role_columns),
	.cells = role_cells,
};

const struct mk_api_kind_ops mk_api_clusterrole_ops = {
	.validate = clusterrole_validate,
	.columns = role_columns,
	.ncolumns = MK_ARRAY_SIZE(role_columns),
	.cells = role_cells,
};

const struct mk_api_kind_ops mk_api_rolebinding_ops = {
	.defaults = binding_defaults,
	.validate = rolebinding_validate,
	.columns = binding_columns,
	.ncolumns = MK_ARRAY_SIZE(binding_columns),
	.cells = binding_cells,
};

const struct mk_api_kind_ops mk_api_clusterrolebinding_ops = {
	.defaults = binding_defaults,
	.validate = clusterrolebinding_validate,
	.columns = binding_columns,
	.ncolumns = MK_ARRAY_SIZE(binding_columns),
	.cells = binding_cells,
};
