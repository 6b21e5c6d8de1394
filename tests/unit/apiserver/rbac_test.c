/* The RBAC authorizer as a table: rules x requests -> allow/deny (wildcards,
 * resourceNames, subresources, nonResourceURLs, namespaces of RoleBindings,
 * subjects), request attributes from URLs, the 403 wording, aggregation and the
 * escalation coverage check. */
#include <check.h>
#include <string.h>
#include "../../../pkg/apiserver/internal.h"

static const char *const objects[][2] = {
	{ "clusterroles", "{\"metadata\":{\"name\":\"reader\"},\"rules\":["
			  "{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/log\"],"
			  "\"verbs\":[\"get\",\"list\"]},"
			  "{\"apiGroups\":[\"apps\"],\"resources\":[\"*\"],\"verbs\":[\"watch\"]}]}" },
	{ "clusterroles", "{\"metadata\":{\"name\":\"all\"},\"rules\":["
			  "{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
			  "{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]}" },
	{ "clusterroles", "{\"metadata\":{\"name\":\"urls\"},\"rules\":["
			  "{\"nonResourceURLs\":[\"/healthz\",\"/apis/*\"],\"verbs\":[\"get\"]}]}" },
	{ "clusterroles", "{\"metadata\":{\"name\":\"scaler\"},\"rules\":["
			  "{\"apiGroups\":[\"apps\"],\"resources\":[\"*/scale\"],"
			  "\"verbs\":[\"update\"]}]}" },
	{ "roles", "{\"metadata\":{\"name\":\"cm-one\",\"namespace\":\"team\"},\"rules\":["
		   "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
		   "\"resourceNames\":[\"one\"],\"verbs\":[\"get\",\"update\"]}]}" },
	{ "roles", "{\"metadata\":{\"name\":\"cm-one\",\"namespace\":\"other\"},\"rules\":["
		   "{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"*\"]}]}" },
	/* alice reads pods everywhere */
	{ "clusterrolebindings", "{\"metadata\":{\"name\":\"alice-reader\"},\"roleRef\":{"
				 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\","
				 "\"name\":\"reader\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"}]}" },
	/* group ops: everything in namespace team only */
	{ "rolebindings", "{\"metadata\":{\"name\":\"ops-all\",\"namespace\":\"team\"},\"roleRef\":{"
			  "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\","
			  "\"name\":\"all\"},\"subjects\":[{\"kind\":\"Group\",\"name\":\"ops\"}]}" },
	/* the SA team:robot (namespace from the binding) gets cm-one in team */
	{ "rolebindings", "{\"metadata\":{\"name\":\"robot\",\"namespace\":\"team\"},\"roleRef\":{"
			  "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\","
			  "\"name\":\"cm-one\"},\"subjects\":[{\"kind\":\"ServiceAccount\","
			  "\"name\":\"robot\"}]}" },
	/* bob: URLs and the scaler, cluster-wide */
	{ "clusterrolebindings", "{\"metadata\":{\"name\":\"bob\"},\"roleRef\":{"
				 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\","
				 "\"name\":\"urls\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]}" },
	{ "clusterrolebindings", "{\"metadata\":{\"name\":\"bob2\"},\"roleRef\":{"
				 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\","
				 "\"name\":\"scaler\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]}" },
	/* a binding to a role that does not exist grants nothing */
	{ "clusterrolebindings", "{\"metadata\":{\"name\":\"ghost\"},\"roleRef\":{"
				 "\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\","
				 "\"name\":\"missing\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"carol\"}]}" },
};

static struct mk_rbac_index *index_new(void)
{
	struct mk_rbac_index *x = mk_rbac_index_new();
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		cJSON *o = cJSON_Parse(objects[i][1]);
		ck_assert_msg(o != NULL, "object %zu parses", i);
		mk_rbac_index_add(x, objects[i][0], o);
		cJSON_Delete(o);
	}
	mk_rbac_index_seal(x);
	return x;
}

struct row {
	const char *user, *group; /* group: an extra group, or NULL */
	const char *verb, *api_group, *resource, *sub, *name, *ns, *path;
	bool want;
};

static const struct row table[] = {
	/* resources, verbs, namespaces */
	{ "alice", NULL, "get", "", "pods", NULL, "p", "default", NULL, true },
	{ "alice", NULL, "list", "", "pods", NULL, NULL, NULL, NULL, true }, /* all namespaces */
	{ "alice", NULL, "delete", "", "pods", NULL, "p", "default", NULL, false },
	{ "alice", NULL, "get", "apps", "pods", NULL, "p", "default", NULL, false }, /* group */
	{ "alice", NULL, "get", "", "services", NULL, "s", "default", NULL, false },
	/* subresources: pods/log listed, pods/exec not, pods does not cover pods/log */
	{ "alice", NULL, "get", "", "pods", "log", "p", "default", NULL, true },
	{ "alice", NULL, "get", "", "pods", "exec", "p", "default", NULL, false },
	/* resource wildcard within a group */
	{ "alice", NULL, "watch", "apps", "deployments", NULL, NULL, "x", NULL, true },
	{ "alice", NULL, "watch", "apps", "deployments", "scale", "d", "x", NULL, true },
	{ "alice", NULL, "watch", "batch", "jobs", NULL, NULL, "x", NULL, false },
	/* star-slash-sub: scale of any apps resource, nothing else */
	{ "bob", NULL, "update", "apps", "deployments", "scale", "d", "x", NULL, true },
	{ "bob", NULL, "update", "apps", "statefulsets", "scale", "s", "x", NULL, true },
	{ "bob", NULL, "update", "apps", "deployments", NULL, "d", "x", NULL, false },
	{ "bob", NULL, "update", "apps", "deployments", "status", "d", "x", NULL, false },
	/* non-resource URLs, with the star suffix */
	{ "bob", NULL, "get", NULL, NULL, NULL, NULL, NULL, "/healthz", true },
	{ "bob", NULL, "get", NULL, NULL, NULL, NULL, NULL, "/healthz/ping", false },
	{ "bob", NULL, "get", NULL, NULL, NULL, NULL, NULL, "/apis/apps/v1", true },
	{ "bob", NULL, "get", NULL, NULL, NULL, NULL, NULL, "/apis", false },
	{ "bob", NULL, "post", NULL, NULL, NULL, NULL, NULL, "/healthz", false },
	{ "alice", NULL, "get", NULL, NULL, NULL, NULL, NULL, "/healthz", false },
	/* a ClusterRole bound by a RoleBinding: that namespace only, no URLs */
	{ "dave", "ops", "delete", "apps", "deployments", NULL, "d", "team", NULL, true },
	{ "dave", "ops", "create", "", "secrets", NULL, NULL, "team", NULL, true },
	{ "dave", "ops", "create", "", "secrets", NULL, NULL, "other", NULL, false },
	{ "dave", "ops", "list", "", "pods", NULL, NULL, NULL, NULL, false },
	{ "dave", "ops", "get", "", "nodes", NULL, "n", NULL, NULL, false },
	{ "dave", "ops", "get", NULL, NULL, NULL, NULL, NULL, "/healthz", false },
	{ "dave", NULL, "create", "", "secrets", NULL, NULL, "team", NULL, false },
	/* resourceNames: the named object only; never a list or a create */
	{ "system:serviceaccount:team:robot", NULL, "get", "", "configmaps", NULL, "one", "team",
	  NULL, true },
	{ "system:serviceaccount:team:robot", NULL, "update", "", "configmaps", NULL, "one",
	  "team", NULL, true },
	{ "system:serviceaccount:team:robot", NULL, "get", "", "configmaps", NULL, "two", "team",
	  NULL, false },
	{ "system:serviceaccount:team:robot", NULL, "list", "", "configmaps", NULL, NULL, "team",
	  NULL, false },
	/* the Role of the binding's namespace, not the same-named one elsewhere */
	{ "system:serviceaccount:team:robot", NULL, "get", "", "secrets", NULL, "s", "team", NULL,
	  false },
	{ "system:serviceaccount:team:robot", NULL, "get", "", "configmaps", NULL, "one", "other",
	  NULL, false },
	/* another namespace's robot, a user named like the account's short name */
	{ "system:serviceaccount:other:robot", NULL, "get", "", "configmaps", NULL, "one", "team",
	  NULL, false },
	{ "robot", NULL, "get", "", "configmaps", NULL, "one", "team", NULL, false },
	{ "system:serviceaccount:team:robot2", NULL, "get", "", "configmaps", NULL, "one", "team",
	  NULL, false },
	/* a binding to a missing role */
	{ "carol", NULL, "get", "", "pods", NULL, "p", "default", NULL, false },
	{ "nobody", NULL, "get", "", "pods", NULL, "p", "default", NULL, false },
};

START_TEST(rbac_table)
{
	struct mk_rbac_index *x = index_new();
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct row *r = &table[i];
		char *groups[] = { (char *)"system:authenticated", (char *)r->group, NULL };
		struct mk_user_info u = { .name = (char *)r->user, .groups = groups,
					  .ngroups = r->group ? 2 : 1 };
		struct mk_authz_attrs a = { .verb = r->verb, .group = r->api_group,
					    .resource = r->resource, .sub = r->sub,
					    .name = r->name, .ns = r->ns, .path = r->path };
		char *reason = NULL;
		bool got = mk_rbac_index_allows(x, &u, &a, &reason);
		ck_assert_msg(got == r->want, "row %zu: %s %s %s/%s%s%s %s in %s: got %d", i,
			      r->user, r->verb, r->api_group ? r->api_group : "",
			      r->resource ? r->resource : r->path, r->sub ? "/" : "",
			      r->sub ? r->sub : "", r->name ? r->name : "", r->ns ? r->ns : "-",
			      got);
		ck_assert(got == (reason != NULL));
		free(reason);
	}
	mk_rbac_index_free(x);
}
END_TEST

START_TEST(rbac_reason_and_rules)
{
	struct mk_rbac_index *x = index_new();
	char *g[] = { (char *)"ops", NULL };
	struct mk_user_info u = { .name = (char *)"dave", .groups = g, .ngroups = 1 };
	struct mk_authz_attrs a = { .verb = "get", .group = "", .resource = "pods", .ns = "team" };
	char *reason = NULL;
	ck_assert(mk_rbac_index_allows(x, &u, &a, &reason));
	ck_assert_str_eq(reason, "RBAC: allowed by RoleBinding \"ops-all/team\" of ClusterRole "
				 "\"all\" to Group \"ops\"");
	free(reason);
	/* rules: in team both of "all"; cluster-wide nothing */
	cJSON *rules = mk_rbac_index_rules(x, &u, "team");
	ck_assert_int_eq(cJSON_GetArraySize(rules), 2);
	cJSON_Delete(rules);
	rules = mk_rbac_index_rules(x, &u, NULL);
	ck_assert_int_eq(cJSON_GetArraySize(rules), 0);
	cJSON_Delete(rules);
	ck_assert_ptr_null(mk_rbac_index_role_rules(x, NULL, "missing"));
	rules = mk_rbac_index_role_rules(x, "team", "cm-one");
	ck_assert_int_eq(cJSON_GetArraySize(rules), 1);
	cJSON_Delete(rules);
	mk_rbac_index_free(x);
}
END_TEST

struct url_row {
	const char *method, *url;
	bool watch;
	const char *verb, *group, *resource, *sub, *name, *ns, *path;
};

static const struct url_row urls[] = {
	{ "GET", "/api/v1/namespaces/default/pods", false, "list", "", "pods", NULL, NULL,
	  "default", NULL },
	{ "GET", "/api/v1/namespaces/default/pods", true, "watch", "", "pods", NULL, NULL,
	  "default", NULL },
	{ "GET", "/api/v1/namespaces/default/pods/p/log?follow=1", false, "get", "", "pods", "log",
	  "p", "default", NULL },
	{ "POST", "/apis/apps/v1/namespaces/x/deployments", false, "create", "apps",
	  "deployments", NULL, NULL, "x", NULL },
	{ "PUT", "/apis/apps/v1/namespaces/x/deployments/d/scale", false, "update", "apps",
	  "deployments", "scale", "d", "x", NULL },
	{ "DELETE", "/api/v1/namespaces/x/configmaps", false, "deletecollection", "",
	  "configmaps", NULL, NULL, "x", NULL },
	{ "PATCH", "/api/v1/nodes/n1/status", false, "patch", "", "nodes", "status", "n1", NULL,
	  NULL },
	{ "GET", "/api/v1/namespaces/kube-system", false, "get", "", "namespaces", NULL,
	  "kube-system", "kube-system", NULL },
	{ "PUT", "/api/v1/namespaces/x/finalize", false, "update", "", "namespaces", "finalize",
	  "x", "x", NULL },
	{ "GET", "/api/v1/pods", false, "list", "", "pods", NULL, NULL, NULL, NULL },
	{ "GET", "/api/v1/namespaces/d/pods/p/proxy/a/b/c/d", false, "get", "", "pods", "proxy",
	  "p", "d", NULL },
	{ "GET", "/api", false, "get", NULL, NULL, NULL, NULL, NULL, "/api" },
	{ "GET", "/api/v1", false, "get", NULL, NULL, NULL, NULL, NULL, "/api/v1" },
	{ "GET", "/apis/apps/v1", false, "get", NULL, NULL, NULL, NULL, NULL, "/apis/apps/v1" },
	{ "POST", "/metrics", false, "post", NULL, NULL, NULL, NULL, NULL, "/metrics" },
};

static void eq0(const char *what, size_t i, const char *got, const char *want)
{
	ck_assert_msg((!got && !want) || (got && want && !strcmp(got, want)),
		      "url row %zu %s: got '%s', want '%s'", i, what, got ? got : "(null)",
		      want ? want : "(null)");
}

START_TEST(rbac_request_attrs)
{
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		const struct url_row *r = &urls[i];
		char *scratch = NULL;
		struct mk_authz_attrs a;
		mk_authz_attrs_from_request(r->method, r->url, r->watch, &scratch, &a);
		eq0("verb", i, a.verb, r->verb);
		eq0("group", i, a.group, r->group);
		eq0("resource", i, a.resource, r->resource);
		eq0("sub", i, a.sub, r->sub);
		eq0("name", i, a.name, r->name);
		eq0("ns", i, a.ns, r->ns);
		if (r->path)
			eq0("path", i, a.path, r->path);
		free(scratch);
	}
}
END_TEST

START_TEST(rbac_forbidden_words)
{
	struct mk_authz_attrs a = { .verb = "list", .group = "", .resource = "pods",
				    .ns = "default" };
	char *m = mk_rbac_forbidden_message("system:serviceaccount:default:x", &a);
	ck_assert_str_eq(m, "pods is forbidden: User \"system:serviceaccount:default:x\" cannot "
			    "list resource \"pods\" in API group \"\" in the namespace \"default\"");
	free(m);
	struct mk_authz_attrs b = { .verb = "get", .group = "apps", .resource = "deployments",
				    .sub = "scale", .name = "d" };
	m = mk_rbac_forbidden_message("alice", &b);
	ck_assert_str_eq(m, "deployments.apps \"d\" is forbidden: User \"alice\" cannot get "
			    "resource \"deployments/scale\" in API group \"apps\" at the cluster "
			    "scope");
	free(m);
	struct mk_authz_attrs c = { .verb = "get", .path = "/metrics" };
	m = mk_rbac_forbidden_message("alice", &c);
	ck_assert_str_eq(m, "forbidden: User \"alice\" cannot get path \"/metrics\"");
	free(m);
}
END_TEST

START_TEST(rbac_aggregation)
{
	cJSON *roles[4];
	roles[0] = cJSON_Parse("{\"metadata\":{\"name\":\"agg\"},\"aggregationRule\":{"
			       "\"clusterRoleSelectors\":[{\"matchLabels\":{\"a\":\"1\"}},"
			       "{\"matchLabels\":{\"b\":\"1\"}}]},\"rules\":[]}");
	roles[1] = cJSON_Parse("{\"metadata\":{\"name\":\"p1\",\"labels\":{\"a\":\"1\"}},\"rules\":["
			       "{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]}]}");
	roles[2] = cJSON_Parse("{\"metadata\":{\"name\":\"p2\",\"labels\":{\"b\":\"1\"}},\"rules\":["
			       "{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]},"
			       "{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],\"verbs\":[\"list\"]}]}");
	roles[3] = cJSON_Parse("{\"metadata\":{\"name\":\"p3\",\"labels\":{\"a\":\"2\"}},\"rules\":["
			       "{\"apiGroups\":[\"\"],\"resources\":[\"nodes\"],\"verbs\":[\"get\"]}]}");
	cJSON *rules = mk_rbac_aggregate_rules(roles[0], (const cJSON *const *)roles, 4);
	/* p1's rule, p2's two with the duplicate once; p3 not selected */
	ck_assert_int_eq(cJSON_GetArraySize(rules), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(cJSON_GetArrayItem(rules, 1), "resources"), 0)
				 ->valuestring,
			 "secrets");
	cJSON_Delete(rules);
	for (int i = 0; i < 4; i++)
		cJSON_Delete(roles[i]);
}
END_TEST

static char *uncovered(const char *owner, const char *servant)
{
	cJSON *o = cJSON_Parse(owner), *s = cJSON_Parse(servant);
	ck_assert(o && s);
	char *m = mk_rbac_rules_uncovered(o, s);
	cJSON_Delete(o);
	cJSON_Delete(s);
	return m;
}

START_TEST(rbac_escalation_coverage)
{
	const char *owner = "[{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/*\"],"
			    "\"verbs\":[\"get\",\"list\"]},"
			    "{\"apiGroups\":[\"apps\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
			    "{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
			    "\"resourceNames\":[\"one\"],\"verbs\":[\"get\"]},"
			    "{\"nonResourceURLs\":[\"/logs/*\"],\"verbs\":[\"get\"]}]";
	/* covered: subsets, wildcard owners, sub of pods/star, named object */
	ck_assert_ptr_null(uncovered(owner, "[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
					    "\"verbs\":[\"get\"]}]"));
	ck_assert_ptr_null(uncovered(owner, "[{\"apiGroups\":[\"\"],\"resources\":[\"pods/log\"],"
					    "\"verbs\":[\"list\"]}]"));
	ck_assert_ptr_null(uncovered(owner, "[{\"apiGroups\":[\"apps\"],\"resources\":[\"*\"],"
					    "\"verbs\":[\"*\"]}]"));
	ck_assert_ptr_null(uncovered(owner, "[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
					    "\"resourceNames\":[\"one\"],\"verbs\":[\"get\"]}]"));
	ck_assert_ptr_null(uncovered(owner, "[{\"nonResourceURLs\":[\"/logs/x\"],\"verbs\":[\"get\"]}]"));
	ck_assert_ptr_null(uncovered(owner, "[]"));
	/* not covered: a wildcard verb, another group, all configmaps, a URL */
	char *m = uncovered(owner, "[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
				   "\"verbs\":[\"get\",\"delete\",\"create\"]}]");
	ck_assert_str_eq(m, "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"create\"]}");
	free(m);
	m = uncovered(owner, "[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"*\"]}]");
	ck_assert_str_eq(m, "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"*\"]}");
	free(m);
	m = uncovered(owner, "[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
			     "\"verbs\":[\"get\"]}]");
	ck_assert_str_eq(m, "{APIGroups:[\"\"], Resources:[\"configmaps\"], Verbs:[\"get\"]}");
	free(m);
	m = uncovered(owner, "[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
			     "\"resourceNames\":[\"two\"],\"verbs\":[\"get\"]}]");
	ck_assert_str_eq(m, "{APIGroups:[\"\"], Resources:[\"configmaps\"], "
			    "ResourceNames:[\"two\"], Verbs:[\"get\"]}");
	free(m);
	m = uncovered(owner, "[{\"apiGroups\":[\"batch\",\"apps\"],\"resources\":[\"jobs\"],"
			     "\"verbs\":[\"get\"]},{\"nonResourceURLs\":[\"/metrics\"],"
			     "\"verbs\":[\"get\"]}]");
	ck_assert_str_eq(m, "{APIGroups:[\"batch\"], Resources:[\"jobs\"], Verbs:[\"get\"]}\n"
			    "{NonResourceURLs:[\"/metrics\"], Verbs:[\"get\"]}");
	free(m);
}
END_TEST

Suite *rbac_suite(void)
{
	Suite *s = suite_create("rbac");
	TCase *tc = tcase_create("rbac");
	tcase_add_test(tc, rbac_table);
	tcase_add_test(tc, rbac_reason_and_rules);
	tcase_add_test(tc, rbac_request_attrs);
	tcase_add_test(tc, rbac_forbidden_words);
	tcase_add_test(tc, rbac_aggregation);
	tcase_add_test(tc, rbac_escalation_coverage);
	suite_add_tcase(s, tc);
	return s;
}
