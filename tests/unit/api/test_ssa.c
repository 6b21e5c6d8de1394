/* Tests for pkg/api/ssa.c: field sets (fieldsV1), managedFields of Update writes and
 * server-side apply (merge by list types, conflicts, force, removal of fields no
 * longer applied), with the built-in Deployment and Service schemas and an OpenAPI v3
 * schema as a custom resource would bring. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"

/* JSON with single quotes for readability: 'a' -> "a". */
static cJSON *J(const char *s)
{
	char *d = mk_strdup(s);
	for (char *c = d; *c; c++)
		if (*c == '\'')
			*c = '"';
	cJSON *j = cJSON_Parse(d);
	ck_assert_msg(j != NULL, "test JSON does not parse: %s", d);
	free(d);
	return j;
}

static struct mk_ssa_schema deploy_schema(void)
{
	struct mk_ssa_schema s;
	ck_assert_int_eq(mk_api_ssa_schema_builtin("apps", "v1", "Deployment", &s, NULL), 0);
	return s;
}

static const struct mk_api_managed_op op_a = { "kubectl", "apps/v1", NULL, "2026-01-01T00:00:00Z" };
static const struct mk_api_managed_op op_b = { "other", "apps/v1", NULL, "2026-01-01T00:00:01Z" };

#define DEPLOY(REPLICAS, CONTAINERS)                                                            \
	"{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web','labels':{'app':'web'}}," \
	"'spec':{'replicas':" REPLICAS ",'selector':{'matchLabels':{'app':'web'}},"                  \
	"'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':[" CONTAINERS "]}}}}"

/* The fieldsV1 of the entry of manager/operation in obj, or NULL. */
static const cJSON *entry(const cJSON *obj, const char *manager, const char *operation)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, mk_json_get(obj, "metadata.managedFields"))
	{
		if (!strcmp(mk_json_get_string(e, "manager"), manager) &&
		    !strcmp(mk_json_get_string(e, "operation"), operation))
			return e;
	}
	return NULL;
}

static bool owns(const cJSON *obj, const char *manager, const char *operation, const char *path)
{
	const cJSON *e = entry(obj, manager, operation);
	struct mk_api_fieldset *fs = NULL;
	if (!e || mk_api_fieldset_from_json(cJSON_GetObjectItem(e, "fieldsV1"), &fs, NULL) < 0)
		return false;
	bool r = mk_api_fieldset_has(fs, path);
	mk_api_fieldset_free(fs);
	return r;
}

START_TEST(test_fieldset_extraction)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *obj = J(DEPLOY("2", "{'name':'nginx','image':'nginx','ports':[{'containerPort':80}],"
				    "'args':['a','b'],'env':[{'name':'A','value':'1'}]}"));
	struct mk_api_fieldset *fs = NULL;
	ck_assert_int_eq(mk_api_fieldset_from_object(&s, obj, &fs, NULL), 0);
	cJSON *j = mk_api_fieldset_to_json(fs);
	cJSON *c = mk_json_get(j, "f:spec.f:template.f:spec.f:containers");
	cJSON *item = cJSON_GetObjectItem(c, "k:{\"name\":\"nginx\"}");
	ck_assert_ptr_nonnull(item);
	/* the item is a member itself ("."), beside its fields */
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(item, "."));
	/* ports by containerPort and protocol, protocol defaulted to TCP */
	ck_assert_ptr_nonnull(mk_json_get(item, "f:ports"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(mk_json_get(item, "f:ports"),
						  "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"));
	/* an atomic list and an atomic struct are leaves */
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(item, "f:args")), 0);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(j, "f:spec.f:selector")), 0);
	/* labels are a map: its keys are members */
	ck_assert_ptr_nonnull(mk_json_get(j, "f:metadata.f:labels.f:app"));
	ck_assert(mk_api_fieldset_has(fs, ".spec.template.spec.containers[name=\"nginx\"].image"));
	ck_assert(mk_api_fieldset_has(
		fs, ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"]"));
	ck_assert(mk_api_fieldset_has(fs, ".spec.template.spec.containers[name=\"nginx\"].env[name=\"A\"].value"));
	ck_assert(!mk_api_fieldset_has(fs, ".spec.template.spec"));

	/* fieldsV1 round trip */
	struct mk_api_fieldset *back = NULL;
	ck_assert_int_eq(mk_api_fieldset_from_json(j, &back, NULL), 0);
	cJSON *j2 = mk_api_fieldset_to_json(back);
	ck_assert(cJSON_Compare(j, j2, 1));
	cJSON_Delete(j2);
	mk_api_fieldset_free(back);
	cJSON_Delete(j);
	mk_api_fieldset_free(fs);
	cJSON_Delete(obj);
}
END_TEST

START_TEST(test_fieldset_duplicate_key_refused)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *obj = J(DEPLOY("1", "{'name':'a','image':'x'},{'name':'a','image':'y'}"));
	struct mk_api_fieldset *fs = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_lt(mk_api_fieldset_from_object(&s, obj, &fs, &err), 0);
	ck_assert_ptr_nonnull(strstr(err->msg, "duplicate entries for key [name=\"a\"]"));
	mk_error_free(&err);
	cJSON_Delete(obj);
}
END_TEST

START_TEST(test_update_records_manager)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *obj = J(DEPLOY("1", "{'name':'nginx','image':'nginx'}"));
	struct mk_api_managed_op create = { "kubectl-create", "apps/v1", NULL, "2026-01-01T00:00:00Z" };
	ck_assert_int_eq(mk_api_managed_update(&s, NULL, obj, NULL, &create, NULL), 0);
	ck_assert(owns(obj, "kubectl-create", "Update", ".spec.replicas"));
	ck_assert(owns(obj, "kubectl-create", "Update", ".metadata.labels.app"));
	ck_assert(!owns(obj, "kubectl-create", "Update", ".metadata.name"));
	ck_assert_str_eq(mk_json_get_string(entry(obj, "kubectl-create", "Update"), "time"),
			 "2026-01-01T00:00:00Z");

	/* a scale by someone else takes replicas from the creator */
	cJSON *next = cJSON_Duplicate(obj, 1);
	cJSON_ReplaceItemInObject(mk_json_get(next, "spec"), "replicas", cJSON_CreateNumber(5));
	struct mk_api_managed_op scale = { "kubectl-scale", "apps/v1", "scale", "2026-01-01T00:00:09Z" };
	ck_assert_int_eq(mk_api_managed_update(&s, obj, next, NULL, &scale, NULL), 0);
	ck_assert(owns(next, "kubectl-scale", "Update", ".spec.replicas"));
	ck_assert(!owns(next, "kubectl-create", "Update", ".spec.replicas"));
	ck_assert(owns(next, "kubectl-create", "Update", ".spec.template.spec.containers[name=\"nginx\"].image"));
	ck_assert_str_eq(mk_json_get_string(entry(next, "kubectl-scale", "Update"), "subresource"), "scale");

	/* a write that changes nothing records nothing new */
	cJSON *same = cJSON_Duplicate(next, 1);
	struct mk_api_managed_op noop = { "nobody", "apps/v1", NULL, "2026-01-01T00:00:10Z" };
	ck_assert_int_eq(mk_api_managed_update(&s, next, same, NULL, &noop, NULL), 0);
	ck_assert_ptr_null(entry(same, "nobody", "Update"));

	/* a client sending an empty list resets them: only this write's fields remain */
	cJSON *reset = cJSON_Duplicate(next, 1);
	cJSON *empty = cJSON_CreateArray();
	ck_assert_int_eq(mk_api_managed_update(&s, next, reset, empty, &noop, NULL), 0);
	ck_assert_ptr_null(mk_json_get(reset, "metadata.managedFields"));
	cJSON_Delete(empty);
	cJSON_Delete(reset);
	cJSON_Delete(same);
	cJSON_Delete(next);
	cJSON_Delete(obj);
}
END_TEST

/* applies cfg (JSON text) as op onto *live (replaced); returns the rc */
static int apply(const struct mk_ssa_schema *s, cJSON **live, const char *cfg,
		 const struct mk_api_managed_op *op, bool force, cJSON **ret_status)
{
	cJSON *c = J(cfg), *out = NULL;
	struct mk_error *err = NULL;
	int r = mk_api_managed_apply(s, *live, c, force, op, &out, ret_status, &err);
	ck_assert_msg(r >= 0, "apply failed: %s", err ? err->msg : "");
	if (r == 0) {
		cJSON_Delete(*live);
		*live = out;
	}
	cJSON_Delete(c);
	return r;
}

START_TEST(test_apply_two_managers_conflict_force)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *live = NULL, *st = NULL;
	ck_assert_int_eq(apply(&s, &live, DEPLOY("2", "{'name':'nginx','image':'nginx:1'}"), &op_a, false, &st), 0);
	ck_assert_int_eq((int)mk_json_get(live, "spec.replicas")->valuedouble, 2);
	ck_assert(owns(live, "kubectl", "Apply", ".spec.replicas"));

	/* same values: shared, no conflict */
	ck_assert_int_eq(apply(&s, &live, DEPLOY("2", "{'name':'nginx','image':'nginx:1'}"), &op_b, false, &st), 0);
	ck_assert(owns(live, "other", "Apply", ".spec.replicas"));
	ck_assert(owns(live, "kubectl", "Apply", ".spec.replicas"));

	/* another value: 409 with the field and the manager */
	ck_assert_int_eq(apply(&s, &live, DEPLOY("3", "{'name':'nginx','image':'nginx:1'}"), &op_b, false, &st), 1);
	ck_assert_int_eq((int)mk_json_get(st, "code")->valuedouble, 409);
	ck_assert_str_eq(mk_json_get_string(st, "reason"), "Conflict");
	ck_assert_str_eq(mk_json_get_string(st, "message"),
			 "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas");
	const cJSON *cause = cJSON_GetArrayItem(mk_json_get(st, "details.causes"), 0);
	ck_assert_str_eq(mk_json_get_string(cause, "type"), "FieldManagerConflict");
	ck_assert_str_eq(mk_json_get_string(cause, "field"), ".spec.replicas");
	ck_assert_str_eq(mk_json_get_string(cause, "message"), "conflict with \"kubectl\"");
	cJSON_Delete(st);
	st = NULL;
	ck_assert_int_eq((int)mk_json_get(live, "spec.replicas")->valuedouble, 2);

	/* force takes the field */
	ck_assert_int_eq(apply(&s, &live, DEPLOY("3", "{'name':'nginx','image':'nginx:1'}"), &op_b, true, &st), 0);
	ck_assert_int_eq((int)mk_json_get(live, "spec.replicas")->valuedouble, 3);
	ck_assert(owns(live, "other", "Apply", ".spec.replicas"));
	ck_assert(!owns(live, "kubectl", "Apply", ".spec.replicas"));
	ck_assert(owns(live, "kubectl", "Apply", ".spec.template.spec.containers[name=\"nginx\"].image"));
	cJSON_Delete(live);
}
END_TEST

START_TEST(test_apply_conflict_with_updater_names_version)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *live = J(DEPLOY("1", "{'name':'nginx','image':'nginx'}")), *st = NULL;
	struct mk_api_managed_op upd = { "kubectl-edit", "apps/v1", NULL, "2026-01-01T00:00:00Z" };
	ck_assert_int_eq(mk_api_managed_update(&s, NULL, live, NULL, &upd, NULL), 0);
	ck_assert_int_eq(apply(&s, &live, DEPLOY("4", "{'name':'nginx','image':'httpd'}"), &op_a, false, &st), 1);
	ck_assert_str_eq(mk_json_get_string(st, "message"),
			 "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n"
			 "- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image");
	cJSON_Delete(st);
	cJSON_Delete(live);
}
END_TEST

START_TEST(test_apply_list_map_merge)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *live = NULL, *st = NULL;
	ck_assert_int_eq(apply(&s, &live, DEPLOY("1", "{'name':'a','image':'a','ports':[{'containerPort':80}]}"),
			       &op_a, false, &st), 0);
	/* another manager adds a container and a port of container a: merged by key */
	ck_assert_int_eq(apply(&s, &live,
			       DEPLOY("1", "{'name':'a','ports':[{'containerPort':80,'protocol':'UDP'}]},"
					   "{'name':'b','image':'b'}"),
			       &op_b, false, &st), 0);
	cJSON *cs = mk_json_get(live, "spec.template.spec.containers");
	ck_assert_int_eq(cJSON_GetArraySize(cs), 2);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cs, 0), "image"), "a");
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cs, 1), "name"), "b");
	/* 80/TCP and 80/UDP are two items */
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(cJSON_GetArrayItem(cs, 0), "ports")), 2);
	cJSON_Delete(live);
}
END_TEST

START_TEST(test_apply_removes_dropped_fields)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *live = NULL, *st = NULL;
	ck_assert_int_eq(apply(&s, &live,
			       DEPLOY("1", "{'name':'a','image':'a','env':[{'name':'X','value':'1'},"
					   "{'name':'Y','value':'2'}]},{'name':'b','image':'b'}"),
			       &op_a, false, &st), 0);
	/* b owned by someone else too: it stays; env Y and container-level fields
	 * only kubectl applied go */
	ck_assert_int_eq(apply(&s, &live, DEPLOY("1", "{'name':'b','image':'b'}"), &op_b, false, &st), 0);
	ck_assert_int_eq(apply(&s, &live,
			       DEPLOY("1", "{'name':'a','image':'a','env':[{'name':'X','value':'1'}]}"),
			       &op_a, false, &st), 0);
	cJSON *cs = mk_json_get(live, "spec.template.spec.containers");
	ck_assert_int_eq(cJSON_GetArraySize(cs), 2);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(cJSON_GetArrayItem(cs, 0), "env")), 1);
	ck_assert_int_eq(apply(&s, &live, DEPLOY("1", "{'name':'a','image':'a'}"), &op_a, false, &st), 0);
	cs = mk_json_get(live, "spec.template.spec.containers");
	ck_assert_ptr_null(mk_json_get(cJSON_GetArrayItem(cs, 0), "env"));
	/* dropped fields another applier co-owns stay (labels.app, replicas: "other"
	 * applied them too); a label kubectl alone applied goes */
	ck_assert_int_eq(apply(&s, &live,
			       "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web',"
			       "'labels':{'tier':'web'}},'spec':{'selector':{'matchLabels':{'app':'web'}},"
			       "'template':{'metadata':{'labels':{'app':'web'}},'spec':{'containers':"
			       "[{'name':'a','image':'a'}]}}}}",
			       &op_a, false, &st), 0);
	ck_assert_str_eq(mk_json_get_string(live, "metadata.labels.tier"), "web");
	ck_assert_str_eq(mk_json_get_string(live, "metadata.labels.app"), "web");
	ck_assert_ptr_nonnull(mk_json_get(live, "spec.replicas"));
	ck_assert_int_eq(apply(&s, &live,
			       "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'web'},"
			       "'spec':{'selector':{'matchLabels':{'app':'web'}},'template':{'metadata':"
			       "{'labels':{'app':'web'}},'spec':{'containers':[{'name':'a','image':'a'}]}}}}",
			       &op_a, false, &st), 0);
	ck_assert_ptr_null(mk_json_get(live, "metadata.labels.tier"));
	ck_assert_str_eq(mk_json_get_string(live, "metadata.labels.app"), "web");
	cJSON_Delete(live);
}
END_TEST

START_TEST(test_apply_upgrades_client_side_apply)
{
	struct mk_ssa_schema s = deploy_schema();
	cJSON *live = J(DEPLOY("2", "{'name':'nginx','image':'nginx'}")), *st = NULL;
	/* as client-side kubectl apply leaves it: its annotation and Update entry */
	cJSON *ann = cJSON_CreateObject();
	cJSON_AddStringToObject(ann, "kubectl.kubernetes.io/last-applied-configuration",
				"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
				"\"spec\":{\"replicas\":2}}");
	cJSON_AddItemToObject(mk_json_get(live, "metadata"), "annotations", ann);
	struct mk_api_managed_op csa = { "kubectl-client-side-apply", "apps/v1", NULL, "2026-01-01T00:00:00Z" };
	ck_assert_int_eq(mk_api_managed_update(&s, NULL, live, NULL, &csa, NULL), 0);
	/* a field last applied with the value it still has: taken over */
	ck_assert_int_eq(apply(&s, &live, DEPLOY("5", "{'name':'nginx','image':'nginx'}"), &op_a, false, &st), 0);
	ck_assert_int_eq((int)mk_json_get(live, "spec.replicas")->valuedouble, 5);
	/* and the annotation follows the applied configuration */
	const char *la = cJSON_GetObjectItem(mk_json_get(live, "metadata.annotations"),
					     "kubectl.kubernetes.io/last-applied-configuration")->valuestring;
	ck_assert_ptr_nonnull(strstr(la, "\"replicas\":5"));
	/* another manager gets no such pass */
	ck_assert_int_eq(apply(&s, &live, DEPLOY("6", "{'name':'nginx','image':'nginx'}"), &op_b, false, &st), 1);
	cJSON_Delete(st);
	cJSON_Delete(live);
}
END_TEST

START_TEST(test_service_ports_keys)
{
	struct mk_ssa_schema s;
	ck_assert_int_eq(mk_api_ssa_schema_builtin("", "v1", "Service", &s, NULL), 0);
	cJSON *obj = J("{'spec':{'ports':[{'port':53,'protocol':'UDP'},{'port':53}]}}");
	struct mk_api_fieldset *fs = NULL;
	ck_assert_int_eq(mk_api_fieldset_from_object(&s, obj, &fs, NULL), 0);
	ck_assert(mk_api_fieldset_has(fs, ".spec.ports[port=53,protocol=\"UDP\"]"));
	ck_assert(mk_api_fieldset_has(fs, ".spec.ports[port=53,protocol=\"TCP\"].port"));
	mk_api_fieldset_free(fs);
	cJSON_Delete(obj);
}
END_TEST

START_TEST(test_openapi_schema)
{
	/* a custom resource's schema with a list-map and a set */
	cJSON *sch = J("{'type':'object','properties':{'spec':{'type':'object','properties':{"
		       "'items':{'type':'array','x-kubernetes-list-type':'map','x-kubernetes-list-map-keys':['id'],"
		       "'items':{'type':'object','properties':{'id':{'type':'string'},'v':{'type':'integer'}}}},"
		       "'tags':{'type':'array','x-kubernetes-list-type':'set','items':{'type':'string'}},"
		       "'blob':{'type':'array','items':{'type':'string'}}}}}}");
	struct mk_ssa_schema s;
	mk_api_ssa_schema_openapi(sch, &s);
	cJSON *live = NULL, *st = NULL;
	struct mk_api_managed_op a = { "a", "example.com/v1", NULL, "2026-01-01T00:00:00Z" };
	struct mk_api_managed_op b = { "b", "example.com/v1", NULL, "2026-01-01T00:00:00Z" };
	ck_assert_int_eq(apply(&s, &live, "{'spec':{'items':[{'id':'x','v':1}],'tags':['t1'],'blob':['1']}}", &a, false, &st), 0);
	ck_assert_int_eq(apply(&s, &live, "{'spec':{'items':[{'id':'y','v':2}],'tags':['t2'],'blob':['2']}}", &b, false, &st), 1);
	cJSON_Delete(st);
	ck_assert_int_eq(apply(&s, &live, "{'spec':{'items':[{'id':'y','v':2}],'tags':['t2']}}", &b, false, &st), 0);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(live, "spec.items")), 2);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(live, "spec.tags")), 2);
	ck_assert(owns(live, "b", "Apply", ".spec.tags[=\"t2\"]"));
	cJSON_Delete(live);
	cJSON_Delete(sch);
}
END_TEST

START_TEST(test_update_managers_capped)
{
	struct mk_ssa_schema s;
	ck_assert_int_eq(mk_api_ssa_schema_builtin("", "v1", "ConfigMap", &s, NULL), 0);
	cJSON *obj = J("{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'c'},'data':{}}");
	for (int i = 0; i < 12; i++) {
		cJSON *next = cJSON_Duplicate(obj, 1);
		char key[16], mgr[24], now[40];
		snprintf(key, sizeof(key), "k%02d", i);
		snprintf(mgr, sizeof(mgr), "writer-%02d", i);
		snprintf(now, sizeof(now), "2026-01-01T00:00:%02dZ", i);
		cJSON_AddStringToObject(mk_json_get(next, "data"), key, "v");
		struct mk_api_managed_op op = { mgr, "v1", NULL, now };
		ck_assert_int_eq(mk_api_managed_update(&s, obj, next, NULL, &op, NULL), 0);
		cJSON_Delete(obj);
		obj = next;
	}
	/* 10 Update entries: the three oldest writers merged into ancient-changes */
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(obj, "metadata.managedFields")), 10);
	ck_assert(owns(obj, "ancient-changes", "Update", ".data.k00"));
	ck_assert(owns(obj, "ancient-changes", "Update", ".data.k02"));
	ck_assert(owns(obj, "writer-03", "Update", ".data.k03"));
	ck_assert_ptr_null(entry(obj, "writer-00", "Update"));
	cJSON_Delete(obj);
}
END_TEST

Suite *ssa_suite(void)
{
	Suite *s = suite_create("ssa");
	TCase *tc = tcase_create("fieldset");
	tcase_add_test(tc, test_fieldset_extraction);
	tcase_add_test(tc, test_fieldset_duplicate_key_refused);
	tcase_add_test(tc, test_service_ports_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("managed");
	tcase_add_test(tc, test_update_records_manager);
	tcase_add_test(tc, test_update_managers_capped);
	tcase_add_test(tc, test_apply_two_managers_conflict_force);
	tcase_add_test(tc, test_apply_conflict_with_updater_names_version);
	tcase_add_test(tc, test_apply_list_map_merge);
	tcase_add_test(tc, test_apply_removes_dropped_fields);
	tcase_add_test(tc, test_apply_upgrades_client_side_apply);
	tcase_add_test(tc, test_openapi_schema);
	suite_add_tcase(s, tc);
	return s;
}
