/* The Deployment controller: a Deployment gets a ReplicaSet named after its
 * template hash, labelled pod-template-hash, revision 1, with the Deployment's
 * replicas; a template change makes a second ReplicaSet with revision 2 while the
 * first stays (history); a replica change reaches the current ReplicaSet. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

#define RS_LIST "/apis/apps/v1/namespaces/default/replicasets"

struct want_rs {
	int count;
	const char *revision; /* a ReplicaSet with this revision must exist */
	int replicas;	      /* ... with these spec.replicas (-1: any) */
};

static const cJSON *rs_with_revision(const cJSON *list, const char *rev)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		/* the key has dots: not a mk_json_get path */
		const cJSON *r = cJSON_GetObjectItem(mk_json_get(it, "metadata.annotations"),
						     "deployment.kubernetes.io/revision");
		if (cJSON_IsString(r) && !strcmp(r->valuestring, rev))
			return it;
	}
	return NULL;
}

static bool rs_state(const cJSON *list, const void *arg)
{
	const struct want_rs *w = arg;
	if (cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")) != w->count)
		return false;
	const cJSON *rs = rs_with_revision(list, w->revision);
	if (!rs)
		return false;
	const cJSON *n = mk_json_get(rs, "spec.replicas");
	return w->replicas < 0 || (cJSON_IsNumber(n) && n->valueint == w->replicas);
}

START_TEST(test_deployment_revisions)
{
	fx_create("/apis/apps/v1/namespaces/default/deployments",
		  "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
		  "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		  "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
		  "[{\"name\":\"c\",\"image\":\"x:1\"}]}}}}");
	struct want_rs w1 = { 1, "1", 2 };
	cJSON *list = fx_wait(RS_LIST, rs_state, &w1, "one ReplicaSet, revision 1, 2 replicas");
	const cJSON *rs = rs_with_revision(list, "1");
	const char *hash = mk_json_get_string(mk_json_get(rs, "metadata.labels"), "pod-template-hash");
	ck_assert_ptr_nonnull(hash);
	char *want_name = mk_strdup_printf("web-%s", hash);
	ck_assert_str_eq(mk_json_get_string(rs, "metadata.name"), want_name);
	ck_assert_str_eq(mk_json_get_string(mk_api_controller_ref(rs), "kind"), "Deployment");
	free(want_name);
	cJSON_Delete(list);

	/* scale: the current ReplicaSet follows */
	fx_patch("/apis/apps/v1/namespaces/default/deployments/web", "{\"spec\":{\"replicas\":3}}");
	struct want_rs w2 = { 1, "1", 3 };
	cJSON_Delete(fx_wait(RS_LIST, rs_state, &w2, "revision 1 scaled to 3"));

	/* a new template: a second ReplicaSet, revision 2; the first is kept */
	fx_patch("/apis/apps/v1/namespaces/default/deployments/web",
		 "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:2\"}]}}}}");
	struct want_rs w3 = { 2, "2", -1 };
	list = fx_wait(RS_LIST, rs_state, &w3, "two ReplicaSets, the new one revision 2");
	rs = rs_with_revision(list, "2");
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(rs, "spec.template.spec.containers"), 0),
					     "image"),
			 "x:2");
	cJSON_Delete(list);
}
END_TEST

Suite *deployment_suite(void)
{
	Suite *s = suite_create("deployment");
	TCase *tc = tcase_create("deployment");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_deployment_revisions);
	suite_add_tcase(s, tc);
	return s;
}
