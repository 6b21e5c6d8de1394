/* The StatefulSet controller against a real API server: OrderedReady creates
 * web-0, then web-1 only once web-0 is Running and Ready, and so on, each pod with
 * its identity (hostname, subdomain, labels, owner); Parallel creates all at once;
 * a scale down removes the highest ordinal first and waits for it to be gone
 * before the next; a rolling update with a partition replaces only the pods at or
 * above it, highest first; a deleted pod comes back under the same name. Pods are
 * bound to a node in the template, so a deletion stays pending (deletionTimestamp)
 * until the test confirms it as a kubelet would. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

#define PODS "/api/v1/namespaces/default/pods"
#define STS "/apis/apps/v1/namespaces/default/statefulsets"

static long num(const cJSON *obj, const char *path, long def)
{
	const cJSON *j = mk_json_get(obj, path);
	return cJSON_IsNumber(j) ? (long)j->valuedouble : def;
}

static void create_sts(const char *name, int replicas, const char *policy)
{
	char *j = mk_strdup_printf(
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"%s\"},"
		"\"spec\":{\"replicas\":%d,\"serviceName\":\"nginx\",\"podManagementPolicy\":\"%s\","
		"\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},\"spec\":{\"nodeName\":\"n1\","
		"\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}}}}",
		name, replicas, policy, name, name);
	fx_create(STS, j);
	free(j);
}

/* "a b c": the names of the pods not being deleted, sorted */
static bool live_names(const cJSON *list, const void *arg)
{
	char buf[256] = "";
	const char *names[32];
	int n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
		if (!mk_json_get(it, "metadata.deletionTimestamp") && n < 32)
			names[n++] = mk_json_get_string(it, "metadata.name");
	for (int i = 0; i < n; i++)
		for (int k = i + 1; k < n; k++)
			if (strcmp(names[i], names[k]) > 0) {
				const char *t = names[i];
				names[i] = names[k];
				names[k] = t;
			}
	for (int i = 0; i < n; i++) {
		strncat(buf, i ? " " : "", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, names[i], sizeof(buf) - strlen(buf) - 1);
	}
	return !strcmp(buf, arg);
}

static bool is_deleting(const cJSON *pod, const void *arg)
{
	return pod && mk_json_get(pod, "metadata.deletionTimestamp") != NULL;
}

struct pod_not_uid {
	const char *uid;
};
static bool other_uid(const cJSON *pod, const void *arg)
{
	const struct pod_not_uid *w = arg;
	return pod && !mk_json_get(pod, "metadata.deletionTimestamp") &&
	       strcmp(mk_json_get_string(pod, "metadata.uid"), w->uid);
}

static bool exists_live(const cJSON *pod, const void *arg)
{
	return pod && !mk_json_get(pod, "metadata.deletionTimestamp");
}

/* status.replicas and observedGeneration reached: the controller made its pass */
struct want_status {
	int replicas, ready, updated;
};
static bool status_is(const cJSON *sts, const void *arg)
{
	const struct want_status *w = arg;
	return sts && (int)num(sts, "status.replicas", -1) == w->replicas &&
	       (int)num(sts, "status.readyReplicas", -1) == w->ready &&
	       (w->updated < 0 || (int)num(sts, "status.updatedReplicas", -1) == w->updated) &&
	       num(sts, "status.observedGeneration", -1) ==
		       num(sts, "metadata.generation", -2);
}

static char *pod_path(const char *name)
{
	return mk_strdup_printf(PODS "/%s", name);
}

static void ready(const char *name, int n)
{
	char ip[32];
	snprintf(ip, sizeof(ip), "10.244.0.%d", n + 10);
	fx_pod_running("default", name, ip, true);
}

/* What the kubelet does once a deleted pod's containers are gone. */
static void confirm_deleted(const char *name)
{
	char *path = mk_strdup_printf(PODS "/%s?gracePeriodSeconds=0", name);
	struct mk_error *err = NULL;
	if (mk_client_delete(fx_cli, path, NULL, NULL, &err) < 0 && err->code != 404)
		ck_abort_msg("delete %s: %s", path, err->msg);
	mk_error_free(&err);
	free(path);
}

static const char *label(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(mk_json_get(obj, "metadata.labels"), key));
}

START_TEST(test_sts_ordered_creation)
{
	fx_node("n1", NULL, NULL);
	create_sts("web", 3, "OrderedReady");
	cJSON_Delete(fx_wait(PODS, live_names, "web-0", "web-0 alone"));
	struct want_status s1 = { 1, 0, 1 };
	cJSON_Delete(fx_wait(STS "/web", status_is, &s1, "status: 1 replica, 0 ready"));
	/* the controller's pass is done and web-0 is not Ready: still web-0 alone */
	cJSON *list = fx_get(PODS);
	ck_assert(live_names(list, "web-0"));
	cJSON_Delete(list);

	cJSON *pod = fx_get(PODS "/web-0");
	ck_assert_str_eq(mk_json_get_string(pod, "spec.hostname"), "web-0");
	ck_assert_str_eq(mk_json_get_string(pod, "spec.subdomain"), "nginx");
	ck_assert_str_eq(label(pod, "statefulset.kubernetes.io/pod-name"), "web-0");
	ck_assert_str_eq(label(pod, "apps.kubernetes.io/pod-index"), "0");
	ck_assert_str_eq(label(pod, "app"), "web");
	const char *rev = label(pod, "controller-revision-hash");
	ck_assert_ptr_nonnull(rev);
	ck_assert(!strncmp(rev, "web-", 4));
	const cJSON *ref = mk_api_controller_ref(pod);
	ck_assert_str_eq(mk_json_get_string(ref, "kind"), "StatefulSet");
	ck_assert_str_eq(mk_json_get_string(ref, "name"), "web");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ref, "blockOwnerDeletion")));
	cJSON *sts = fx_get(STS "/web");
	ck_assert_str_eq(mk_json_get_string(sts, "status.updateRevision"), rev);
	ck_assert_str_eq(mk_json_get_string(sts, "status.currentRevision"), rev);
	cJSON_Delete(sts);
	cJSON_Delete(pod);

	/* Running but not Ready: still waiting */
	fx_pod_running("default", "web-0", "10.244.0.10", false);
	struct want_status s1b = { 1, 0, 1 };
	cJSON_Delete(fx_wait(STS "/web", status_is, &s1b, "status after web-0 Running"));
	list = fx_get(PODS);
	ck_assert(live_names(list, "web-0"));
	cJSON_Delete(list);

	ready("web-0", 0);
	cJSON_Delete(fx_wait(PODS, live_names, "web-0 web-1", "web-1 after web-0 is Ready"));
	struct want_status s2 = { 2, 1, 2 };
	cJSON_Delete(fx_wait(STS "/web", status_is, &s2, "status: 2 replicas, 1 ready"));
	list = fx_get(PODS);
	ck_assert(live_names(list, "web-0 web-1"));
	cJSON_Delete(list);
	ready("web-1", 1);
	cJSON_Delete(fx_wait(PODS, live_names, "web-0 web-1 web-2", "web-2 after web-1 is Ready"));
	ready("web-2", 2);
	struct want_status s3 = { 3, 3, 3 };
	cJSON_Delete(fx_wait(STS "/web", status_is, &s3, "status: 3 ready"));

	/* a deleted pod comes back with the same name */
	cJSON *old = fx_get(PODS "/web-1");
	char *old_uid = mk_strdup(mk_json_get_string(old, "metadata.uid"));
	cJSON_Delete(old);
	confirm_deleted("web-1");
	cJSON *back = fx_wait(PODS "/web-1", exists_live, NULL, "web-1 recreated");
	ck_assert_str_ne(mk_json_get_string(back, "metadata.uid"), old_uid);
	ck_assert_str_eq(mk_json_get_string(back, "spec.hostname"), "web-1");
	cJSON_Delete(back);
	free(old_uid);
}
END_TEST

START_TEST(test_sts_parallel)
{
	fx_node("n1", NULL, NULL);
	create_sts("db", 3, "Parallel");
	/* all three without any of them being Ready */
	cJSON_Delete(fx_wait(PODS, live_names, "db-0 db-1 db-2", "three pods at once"));
	struct want_status s = { 3, 0, 3 };
	cJSON_Delete(fx_wait(STS "/db", status_is, &s, "status: 3 replicas"));
}
END_TEST

static void three_ready(void)
{
	fx_node("n1", NULL, NULL);
	create_sts("web", 3, "OrderedReady");
	const char *want[] = { "web-0", "web-0 web-1", "web-0 web-1 web-2" };
	for (int i = 0; i < 3; i++) {
		cJSON_Delete(fx_wait(PODS, live_names, want[i], "ordered creation"));
		char name[16];
		snprintf(name, sizeof(name), "web-%d", i);
		ready(name, i);
	}
	struct want_status s = { 3, 3, 3 };
	cJSON_Delete(fx_wait(STS "/web", status_is, &s, "status: 3 ready"));
}

START_TEST(test_sts_scale_down_order)
{
	three_ready();
	fx_patch(STS "/web", "{\"spec\":{\"replicas\":1}}");
	cJSON_Delete(fx_wait(PODS "/web-2", is_deleting, NULL, "web-2 deleted first"));
	/* web-2 is still terminating: web-1 must wait for it */
	cJSON *sts = fx_wait(STS "/web", status_is, &(struct want_status){ 2, 2, -1 },
			     "status: 2 live replicas");
	cJSON_Delete(sts);
	cJSON *p1 = fx_get(PODS "/web-1");
	ck_assert_ptr_null(mk_json_get(p1, "metadata.deletionTimestamp"));
	cJSON_Delete(p1);
	confirm_deleted("web-2");
	cJSON_Delete(fx_wait(PODS "/web-1", is_deleting, NULL, "then web-1"));
	cJSON *p0 = fx_get(PODS "/web-0");
	ck_assert_ptr_null(mk_json_get(p0, "metadata.deletionTimestamp"));
	cJSON_Delete(p0);
	confirm_deleted("web-1");
	cJSON_Delete(fx_wait(PODS, live_names, "web-0", "web-0 remains"));
	struct want_status s = { 1, 1, 1 };
	cJSON_Delete(fx_wait(STS "/web", status_is, &s, "status: 1 replica"));
}
END_TEST

START_TEST(test_sts_partition)
{
	three_ready();
	cJSON *sts = fx_get(STS "/web");
	char *rev1 = mk_strdup(mk_json_get_string(sts, "status.currentRevision"));
	cJSON_Delete(sts);

	fx_patch(STS "/web", "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":2}},"
			     "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:2\"}]}}}}");
	cJSON_Delete(fx_wait(PODS "/web-2", is_deleting, NULL, "web-2 replaced first"));
	confirm_deleted("web-2");
	cJSON *p2 = fx_wait(PODS "/web-2", exists_live, NULL, "web-2 recreated");
	const char *rev2 = label(p2, "controller-revision-hash");
	ck_assert_str_ne(rev2, rev1);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(p2, "spec.containers"), 0), "image"),
			 "x:2");
	cJSON_Delete(p2);
	ready("web-2", 2);
	struct want_status s = { 3, 3, 1 };
	sts = fx_wait(STS "/web", status_is, &s, "1 updated replica");
	ck_assert_str_eq(mk_json_get_string(sts, "status.currentRevision"), rev1);
	ck_assert_int_eq((int)num(sts, "status.currentReplicas", -1), 2);
	cJSON_Delete(sts);
	/* below the partition nothing moves */
	for (int i = 0; i < 2; i++) {
		char *path = pod_path(i ? "web-1" : "web-0");
		cJSON *p = fx_get(path);
		ck_assert_ptr_null(mk_json_get(p, "metadata.deletionTimestamp"));
		ck_assert_str_eq(label(p, "controller-revision-hash"), rev1);
		cJSON_Delete(p);
		free(path);
	}

	/* a pod below the partition that is deleted comes back at the current revision */
	cJSON *o0 = fx_get(PODS "/web-0");
	char *uid0 = mk_strdup(mk_json_get_string(o0, "metadata.uid"));
	cJSON_Delete(o0);
	confirm_deleted("web-0");
	struct pod_not_uid nu = { uid0 };
	cJSON *n0 = fx_wait(PODS "/web-0", other_uid, &nu, "web-0 recreated");
	ck_assert_str_eq(label(n0, "controller-revision-hash"), rev1);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(n0, "spec.containers"), 0), "image"),
			 "x:1");
	cJSON_Delete(n0);
	free(uid0);
	ready("web-0", 0);
	/* the two revisions are ControllerRevisions owned by the set, numbered 1 and 2 */
	cJSON *revs = fx_get("/apis/apps/v1/namespaces/default/controllerrevisions");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(revs, "items")), 2);
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(revs, "items"))
	{
		const char *n = mk_json_get_string(it, "metadata.name");
		ck_assert_str_eq(mk_json_get_string(mk_api_controller_ref(it), "name"), "web");
		ck_assert_int_eq((int)num(it, "revision", -1), !strcmp(n, rev1) ? 1 : 2);
		ck_assert_ptr_nonnull(mk_json_get(it, "data.spec.template.spec.containers"));
	}
	cJSON_Delete(revs);

	/* partition 0: web-1, then web-0, each once the previous is Ready */
	fx_patch(STS "/web", "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":0}}}}");
	cJSON_Delete(fx_wait(PODS "/web-1", is_deleting, NULL, "web-1 next"));
	cJSON *p0 = fx_get(PODS "/web-0");
	ck_assert_ptr_null(mk_json_get(p0, "metadata.deletionTimestamp"));
	cJSON_Delete(p0);
	confirm_deleted("web-1");
	cJSON_Delete(fx_wait(PODS "/web-1", exists_live, NULL, "web-1 recreated"));
	ready("web-1", 1);
	cJSON_Delete(fx_wait(PODS "/web-0", is_deleting, NULL, "web-0 last"));
	confirm_deleted("web-0");
	cJSON_Delete(fx_wait(PODS "/web-0", exists_live, NULL, "web-0 recreated"));
	ready("web-0", 0);
	struct want_status done = { 3, 3, 3 };
	sts = fx_wait(STS "/web", status_is, &done, "all updated");
	/* the rollout is complete: the update revision is current */
	ck_assert_str_eq(mk_json_get_string(sts, "status.currentRevision"),
			 mk_json_get_string(sts, "status.updateRevision"));
	ck_assert_str_ne(mk_json_get_string(sts, "status.currentRevision"), rev1);
	cJSON_Delete(sts);
	free(rev1);
}
END_TEST


/* volumeClaimTemplates: the claim www-<set>-<ordinal> exists before its pod, is
 * mounted as the template's volume, belongs to nobody and stays when the pod, a
 * scale down and the set itself remove the pods. */
static bool has_claims(const cJSON *list, const void *arg)
{
	char buf[256] = "";
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		strncat(buf, buf[0] ? " " : "", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, mk_json_get_string(it, "metadata.name"), sizeof(buf) - strlen(buf) - 1);
	}
	return !strcmp(buf, arg);
}

START_TEST(test_sts_claims)
{
	fx_node("n1", NULL, NULL);
	fx_create(STS, "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"db\"},"
		       "\"spec\":{\"replicas\":2,\"serviceName\":\"db\",\"podManagementPolicy\":\"Parallel\","
		       "\"selector\":{\"matchLabels\":{\"app\":\"db\"}},"
		       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"db\"}},\"spec\":{\"nodeName\":\"n1\","
		       "\"containers\":[{\"name\":\"c\",\"image\":\"x:1\",\"volumeMounts\":[{\"name\":\"data\","
		       "\"mountPath\":\"/data\"}]}]}},\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\","
		       "\"labels\":{\"tier\":\"db\"}},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":"
		       "{\"requests\":{\"storage\":\"1Mi\"}}}}]}}");
	cJSON_Delete(fx_wait(PODS, live_names, "db-0 db-1", "two pods"));
	cJSON *pvcs = fx_get("/api/v1/namespaces/default/persistentvolumeclaims");
	ck_assert(has_claims(pvcs, "data-db-0 data-db-1"));
	const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(pvcs, "items"), 0);
	ck_assert_ptr_null(mk_json_get(c0, "metadata.ownerReferences"));
	ck_assert_str_eq(label(c0, "tier"), "db");
	ck_assert_str_eq(label(c0, "app"), "db");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(mk_json_get(c0, "spec.accessModes"), 0)),
			 "ReadWriteOnce");
	cJSON_Delete(pvcs);
	cJSON *pod = fx_get(PODS "/db-1");
	const cJSON *v, *vol = NULL;
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
		if (!strcmp(mk_json_get_string(v, "name"), "data"))
			vol = v;
	ck_assert_ptr_nonnull(vol);
	ck_assert_str_eq(mk_json_get_string(vol, "persistentVolumeClaim.claimName"), "data-db-1");
	cJSON_Delete(pod);

	/* scale down to 0: the pods go, the claims stay */
	fx_patch(STS "/db", "{\"spec\":{\"replicas\":0}}");
	for (int i = 0; i < 2; i++) {
		cJSON_Delete(fx_wait(i ? PODS "/db-0" : PODS "/db-1", is_deleting, NULL, "pod deleted"));
		confirm_deleted(i ? "db-0" : "db-1");
	}
	cJSON_Delete(fx_wait(PODS, live_names, "", "no pods"));
	pvcs = fx_get("/api/v1/namespaces/default/persistentvolumeclaims");
	ck_assert(has_claims(pvcs, "data-db-0 data-db-1"));
	cJSON_Delete(pvcs);
}
END_TEST

/* ordinals.start numbers the pods from there; persistentVolumeClaimRetentionPolicy
 * Delete: the set owns its claims (whenDeleted) and a pod removed by a scale
 * down takes its claims along (whenScaled), through the garbage collector. */
static bool gone(const cJSON *obj, const void *arg)
{
	return obj == NULL;
}

START_TEST(test_sts_ordinals_and_retention)
{
	fx_node("n1", NULL, NULL);
	fx_create(STS, "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"q\"},"
		       "\"spec\":{\"replicas\":2,\"podManagementPolicy\":\"Parallel\",\"ordinals\":{\"start\":5},"
		       "\"persistentVolumeClaimRetentionPolicy\":{\"whenDeleted\":\"Delete\",\"whenScaled\":\"Delete\"},"
		       "\"selector\":{\"matchLabels\":{\"app\":\"q\"}},"
		       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"q\"}},\"spec\":{\"nodeName\":\"n1\","
		       "\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}},\"volumeClaimTemplates\":[{\"metadata\":"
		       "{\"name\":\"d\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":"
		       "{\"requests\":{\"storage\":\"1Mi\"}}}}]}}");
	cJSON_Delete(fx_wait(PODS, live_names, "q-5 q-6", "pods from ordinal 5"));
	cJSON *p6 = fx_get(PODS "/q-6");
	ck_assert_str_eq(label(p6, "apps.kubernetes.io/pod-index"), "6");
	ck_assert_str_eq(mk_json_get_string(p6, "spec.hostname"), "q-6");
	cJSON_Delete(p6);
	cJSON *c5 = fx_get("/api/v1/namespaces/default/persistentvolumeclaims/d-q-5");
	ck_assert_ptr_nonnull(c5);
	ck_assert_str_eq(mk_json_get_string(mk_api_controller_ref(c5), "kind"), "StatefulSet");
	cJSON_Delete(c5);

	/* scale down: q-6 goes, and its claim with it */
	fx_patch(STS "/q", "{\"spec\":{\"replicas\":1}}");
	cJSON_Delete(fx_wait(PODS "/q-6", is_deleting, NULL, "q-6 deleted"));
	confirm_deleted("q-6");
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/persistentvolumeclaims/d-q-6", gone, NULL,
			     "the claim of q-6 goes with it"));
	cJSON *still = fx_get("/api/v1/namespaces/default/persistentvolumeclaims/d-q-5");
	ck_assert_ptr_nonnull(still);
	cJSON_Delete(still);
}
END_TEST

Suite *statefulset_suite(void)
{
	Suite *s = suite_create("statefulset");
	TCase *tc = tcase_create("statefulset");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_sts_ordered_creation);
	tcase_add_test(tc, test_sts_parallel);
	tcase_add_test(tc, test_sts_scale_down_order);
	tcase_add_test(tc, test_sts_partition);
	tcase_add_test(tc, test_sts_claims);
	tcase_add_test(tc, test_sts_ordinals_and_retention);
	suite_add_tcase(s, tc);
	return s;
}
