/* The garbage collector: dependents of a deleted owner are deleted (background),
 * orphaned (their ownerReference removed, then the owner goes), or deleted
 * before the owner (foreground: the owner waits with its finalizer). */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

static char *owner(const char *name)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\"},"
				   "\"spec\":{\"ports\":[{\"port\":80}]}}",
				   name);
	fx_create("/api/v1/namespaces/default/services", j);
	free(j);
	char *path = mk_strdup_printf("/api/v1/namespaces/default/services/%s", name);
	cJSON *o = fx_get(path);
	char *uid = mk_strdup(mk_json_get_string(o, "metadata.uid"));
	cJSON_Delete(o);
	free(path);
	return uid;
}

static void dependent(const char *name, const char *owner_name, const char *uid)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
				   "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"%s\","
				   "\"uid\":\"%s\",\"blockOwnerDeletion\":true}]},"
				   "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
				   name, owner_name, uid);
	fx_create("/api/v1/namespaces/default/pods", j);
	free(j);
}

static bool gone(const cJSON *obj, const void *unused)
{
	return obj == NULL;
}

static bool no_owner_refs(const cJSON *obj, const void *unused)
{
	return obj && cJSON_GetArraySize(mk_json_get(obj, "metadata.ownerReferences")) == 0;
}

/* The controllers' pod informer has the pod: the scheduler (no nodes here) has
 * written its PodScheduled=False. Orphaning works from what the garbage collector
 * has seen, as kube-controller-manager's from its graph: a dependent it has not
 * seen yet when its owner goes is garbage then, there as here. */
static bool observed(const cJSON *obj, const void *unused)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(obj, "status.conditions"))
		if (!strcmp(mk_json_get_string(c, "type") ?: "", "PodScheduled"))
			return true;
	return false;
}

static void delete(const char *name, const char *policy)
{
	char *path = mk_strdup_printf("/api/v1/namespaces/default/services/%s", name);
	struct mk_error *err = NULL;
	if (mk_client_delete(fx_cli, path, policy, NULL, &err) < 0)
		ck_abort_msg("delete %s: %s", path, err->msg);
	free(path);
}

START_TEST(test_gc_background)
{
	char *uid = owner("bg");
	dependent("bg-1", "bg", uid);
	dependent("bg-2", "bg", uid);
	delete("bg", "Background");
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/bg-1", gone, NULL, "dependent deleted"));
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/bg-2", gone, NULL, "dependent deleted"));
	free(uid);
}
END_TEST

START_TEST(test_gc_orphan)
{
	char *uid = owner("or");
	dependent("or-1", "or", uid);
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/or-1", observed, NULL, "dependent seen"));
	delete("or", "Orphan");
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/or-1", no_owner_refs, NULL, "dependent orphaned"));
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/services/or", gone, NULL, "owner deleted after orphaning"));
	free(uid);
}
END_TEST

START_TEST(test_gc_foreground)
{
	char *uid = owner("fg");
	dependent("fg-1", "fg", uid);
	delete("fg", "Foreground");
	/* the owner waits (deletionTimestamp + foregroundDeletion) until the dependent is gone */
	cJSON *o = fx_get("/api/v1/namespaces/default/services/fg");
	if (o) {
		ck_assert_ptr_nonnull(mk_json_get(o, "metadata.deletionTimestamp"));
		cJSON_Delete(o);
	}
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/fg-1", gone, NULL, "dependent deleted first"));
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/services/fg", gone, NULL, "owner deleted last"));
	free(uid);
}
END_TEST

Suite *gc_suite(void)
{
	Suite *s = suite_create("gc");
	TCase *tc = tcase_create("gc");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_gc_background);
	tcase_add_test(tc, test_gc_orphan);
	tcase_add_test(tc, test_gc_foreground);
	suite_add_tcase(s, tc);
	return s;
}
