/* Persistent volumes: the binder (the smallest Available volume of the claim's
 * class with its access modes, size and selector; claimRef, phases, annotations),
 * reclaim (Retain: Released and kept; Delete: deleted), the local-path provisioner
 * (WaitForFirstConsumer waits for the scheduler's selected node, Immediate picks a
 * Ready node; path, node affinity, reclaim policy and cleanup finalizer), and the
 * scheduler's part (a pod follows its volume's node affinity; a missing claim keeps
 * it Pending with a message naming the claim). Real API server, real controllers. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

#define PVS "/api/v1/persistentvolumes"
#define PVCS "/api/v1/namespaces/default/persistentvolumeclaims"
#define PODS "/api/v1/namespaces/default/pods"

static bool str_at(const cJSON *obj, const void *arg)
{
	/* arg: "path=value" */
	const char *eq = strchr(arg, '=');
	char path[128];
	snprintf(path, sizeof(path), "%.*s", (int)(eq - (const char *)arg), (const char *)arg);
	const char *v = mk_json_get_string(obj, path);
	return v && !strcmp(v, eq + 1);
}

static bool gone(const cJSON *obj, const void *unused)
{
	return obj == NULL;
}

static bool deleting(const cJSON *obj, const void *unused)
{
	return obj && mk_json_get(obj, "metadata.deletionTimestamp");
}

static bool has_items(const cJSON *list, const void *unused)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")) > 0;
}

static bool unschedulable(const cJSON *pod, const void *unused)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
		if (!strcmp(mk_json_get_string(c, "type"), "PodScheduled"))
			return !strcmp(mk_json_get_string(c, "status"), "False");
	return false;
}

static void pv(const char *name, const char *size, const char *modes, const char *cls,
	       const char *extra_spec, const char *labels)
{
	char *j = mk_strdup_printf(
		"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":\"%s\",\"labels\":%s},"
		"\"spec\":{\"capacity\":{\"storage\":\"%s\"},\"accessModes\":%s,\"storageClassName\":\"%s\","
		"\"hostPath\":{\"path\":\"/srv/%s\"}%s%s}}",
		name, labels ? labels : "{}", size, modes, cls, name, extra_spec ? "," : "",
		extra_spec ? extra_spec : "");
	fx_create(PVS, j);
	free(j);
}

static void claim(const char *name, const char *size, const char *cls_member, const char *extra)
{
	char *j = mk_strdup_printf(
		"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"%s\"},"
		"\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"%s\"}}"
		"%s%s%s%s}}",
		name, size, cls_member ? "," : "", cls_member ? cls_member : "", extra ? "," : "",
		extra ? extra : "");
	fx_create(PVCS, j);
	free(j);
}

static void pod_with_claim(const char *name, const char *claim_name)
{
	char *j = mk_strdup_printf(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},\"spec\":{"
		"\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":[{\"name\":\"d\",\"mountPath\":\"/d\"}]}],"
		"\"volumes\":[{\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"%s\"}}]}}",
		name, claim_name);
	fx_create(PODS, j);
	free(j);
}

static void storage_node(const char *name)
{
	char *labels = mk_strdup_printf("{\"kubernetes.io/hostname\":\"%s\"}", name);
	fx_node(name, labels, NULL);
	char *path = mk_strdup_printf("/api/v1/nodes/%s", name);
	char *p = mk_strdup_printf("{\"metadata\":{\"annotations\":{\"" MK_API_LOCAL_PATH_DIR_ANN
				   "\":\"/data/%s/storage\"}}}", name);
	fx_patch(path, p);
	free(p);
	free(path);
	free(labels);
}

static void del(const char *path)
{
	struct mk_error *err = NULL;
	ck_assert_msg(mk_client_delete(fx_cli, path, NULL, NULL, &err) == 0, "delete %s: %s", path,
		      err ? err->msg : "");
}

START_TEST(test_binder_picks_smallest_fit_and_retains)
{
	pv("small", "1Gi", "[\"ReadWriteOnce\"]", "manual", NULL, NULL);
	pv("mid", "3Gi", "[\"ReadWriteOnce\",\"ReadOnlyMany\"]", "manual", NULL, "{\"tier\":\"gold\"}");
	pv("big", "5Gi", "[\"ReadWriteOnce\"]", "manual", NULL, "{\"tier\":\"gold\"}");
	pv("rox", "2Gi", "[\"ReadOnlyMany\"]", "manual", NULL, "{\"tier\":\"gold\"}");
	pv("other", "2Gi", "[\"ReadWriteOnce\"]", "other", NULL, "{\"tier\":\"gold\"}");
	pv("silver", "2Gi", "[\"ReadWriteOnce\"]", "manual", NULL, "{\"tier\":\"silver\"}");
	cJSON_Delete(fx_wait(PVS "/small", str_at, "status.phase=Available", "small Available"));
	claim("c", "2Gi", "\"storageClassName\":\"manual\"", "\"selector\":{\"matchLabels\":{\"tier\":\"gold\"}}");

	cJSON *c = fx_wait(PVCS "/c", str_at, "status.phase=Bound", "claim Bound");
	ck_assert_str_eq(mk_json_get_string(c, "spec.volumeName"), "mid");
	ck_assert_str_eq(mk_json_get_string(c, "status.capacity.storage"), "3Gi");
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(c, "status.accessModes")), 2);
	const cJSON *ann = mk_json_get(c, "metadata.annotations");
	ck_assert_str_eq(cJSON_GetObjectItem(ann, "pv.kubernetes.io/bind-completed")->valuestring, "yes");
	ck_assert_str_eq(cJSON_GetObjectItem(ann, "pv.kubernetes.io/bound-by-controller")->valuestring, "yes");
	char *uid = mk_strdup(mk_json_get_string(c, "metadata.uid"));
	cJSON_Delete(c);

	cJSON *v = fx_wait(PVS "/mid", str_at, "status.phase=Bound", "mid Bound");
	ck_assert_str_eq(mk_json_get_string(v, "spec.claimRef.uid"), uid);
	ck_assert_str_eq(mk_json_get_string(v, "spec.claimRef.namespace"), "default");
	ck_assert_str_eq(mk_json_get_string(v, "spec.claimRef.name"), "c");
	ck_assert_str_eq(mk_json_get_string(v, "spec.persistentVolumeReclaimPolicy"), "Retain");
	cJSON_Delete(v);
	free(uid);
	const char *others[] = { PVS "/small", PVS "/big", PVS "/rox", PVS "/other", PVS "/silver" };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		v = fx_wait(others[i], str_at, "status.phase=Available", "other volumes stay Available");
		ck_assert_ptr_null(mk_json_get(v, "spec.claimRef"));
		cJSON_Delete(v);
	}

	/* Retain: the claim goes, the volume is Released and stays */
	del(PVCS "/c");
	cJSON_Delete(fx_wait(PVS "/mid", str_at, "status.phase=Released", "mid Released"));
	/* a new claim of the same name does not get the Released volume */
	claim("c", "2Gi", "\"storageClassName\":\"manual\"", "\"selector\":{\"matchLabels\":{\"tier\":\"gold\"}}");
	c = fx_wait(PVCS "/c", str_at, "status.phase=Bound", "new claim Bound");
	ck_assert_str_eq(mk_json_get_string(c, "spec.volumeName"), "big");
	cJSON_Delete(c);
	v = fx_get(PVS "/mid");
	ck_assert_str_eq(mk_json_get_string(v, "status.phase"), "Released");
	cJSON_Delete(v);
}
END_TEST

START_TEST(test_static_delete_policy_and_prebound)
{
	pv("gone", "1Gi", "[\"ReadWriteOnce\"]", "", "\"persistentVolumeReclaimPolicy\":\"Delete\"", NULL);
	/* reserved for claim "mine" by the administrator */
	pv("reserved", "1Gi", "[\"ReadWriteOnce\"]", "",
	   "\"claimRef\":{\"namespace\":\"default\",\"name\":\"mine\"}", NULL);
	cJSON_Delete(fx_wait(PVS "/reserved", str_at, "status.phase=Available", "reserved Available"));
	/* an empty class asks for no class (no default class is filled in) */
	claim("d", "1Gi", "\"storageClassName\":\"\"", NULL);
	cJSON *c = fx_wait(PVCS "/d", str_at, "status.phase=Bound", "claim d Bound");
	ck_assert_str_eq(mk_json_get_string(c, "spec.volumeName"), "gone");
	cJSON_Delete(c);
	claim("mine", "1Gi", "\"storageClassName\":\"\"", NULL);
	c = fx_wait(PVCS "/mine", str_at, "status.phase=Bound", "claim mine Bound");
	ck_assert_str_eq(mk_json_get_string(c, "spec.volumeName"), "reserved");
	cJSON_Delete(c);

	del(PVCS "/d");
	fx_wait(PVS "/gone", gone, NULL, "Delete: the volume is deleted");
}
END_TEST

START_TEST(test_local_path_wait_for_first_consumer)
{
	storage_node("n1");
	storage_node("n2");
	claim("data", "1Gi", NULL, NULL);
	cJSON *c = fx_get(PVCS "/data");
	ck_assert_str_eq(mk_json_get_string(c, "spec.storageClassName"), MK_API_LOCAL_PATH_CLASS);
	char *uid = mk_strdup(mk_json_get_string(c, "metadata.uid"));
	cJSON_Delete(c);

	/* without a consumer nothing is provisioned */
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/events?fieldSelector=reason%3DWaitForFirstConsumer",
			     has_items, NULL, "WaitForFirstConsumer event"));
	cJSON *l = fx_get(PVS);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(l, "items")), 0);
	cJSON_Delete(l);

	pod_with_claim("user", "data");
	c = fx_wait(PVCS "/data", str_at, "status.phase=Bound", "claim Bound after the pod came");
	const cJSON *node_j = cJSON_GetObjectItem(mk_json_get(c, "metadata.annotations"), MK_API_SELECTED_NODE_ANN);
	const char *node = cJSON_IsString(node_j) ? node_j->valuestring : NULL;
	ck_assert_ptr_nonnull(node);
	char *sel = mk_strdup(node);
	char *pvname = mk_strdup_printf("pvc-%s", uid);
	ck_assert_str_eq(mk_json_get_string(c, "spec.volumeName"), pvname);
	cJSON_Delete(c);

	char *pvpath = mk_strdup_printf(PVS "/%s", pvname);
	cJSON *v = fx_wait(pvpath, str_at, "status.phase=Bound", "provisioned volume Bound");
	char *want = mk_strdup_printf("/data/%s/storage/%s_default_data", sel, pvname);
	ck_assert_str_eq(mk_json_get_string(v, "spec.hostPath.path"), want);
	const cJSON *term = cJSON_GetArrayItem(mk_json_get(v, "spec.nodeAffinity.required.nodeSelectorTerms"), 0);
	const cJSON *req = cJSON_GetArrayItem(cJSON_GetObjectItem(term, "matchExpressions"), 0);
	ck_assert_str_eq(mk_json_get_string(req, "key"), "kubernetes.io/hostname");
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(req, "values"), 0)->valuestring, sel);
	ck_assert_str_eq(mk_json_get_string(v, "spec.persistentVolumeReclaimPolicy"), "Delete");
	ck_assert_str_eq(mk_json_get_string(v, "spec.storageClassName"), MK_API_LOCAL_PATH_CLASS);
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(v, "metadata.finalizers"), 0)->valuestring,
			 MK_API_LOCAL_PATH_FINALIZER);
	cJSON_Delete(v);

	/* the pod goes where its volume is */
	char *bound_to = mk_strdup_printf("spec.nodeName=%s", sel);
	cJSON_Delete(fx_wait(PODS "/user", str_at, bound_to, "pod bound to the volume's node"));

	/* Delete: once the claim is gone the volume is deleted, held by the cleanup
	 * finalizer for the node's agent (not running here) */
	del(PODS "/user?gracePeriodSeconds=0");
	del(PVCS "/data");
	v = fx_wait(pvpath, deleting, NULL, "volume being deleted");
	ck_assert_str_eq(mk_json_get_string(v, "status.phase"), "Released");
	cJSON_Delete(v);
	fx_patch(pvpath, "{\"metadata\":{\"finalizers\":null}}");
	fx_wait(pvpath, gone, NULL, "volume gone once the finalizer is removed");
	free(bound_to);
	free(want);
	free(pvpath);
	free(pvname);
	free(sel);
	free(uid);
}
END_TEST

START_TEST(test_immediate_class_and_scheduling)
{
	storage_node("only");
	fx_create("/apis/storage.k8s.io/v1/storageclasses",
		  "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"fast\"},"
		  "\"provisioner\":\"" MK_API_LOCAL_PATH_PROVISIONER "\",\"reclaimPolicy\":\"Retain\"}");
	claim("now", "1Gi", "\"storageClassName\":\"fast\"", NULL);
	cJSON *c = fx_wait(PVCS "/now", str_at, "status.phase=Bound", "Immediate claim bound without a pod");
	char *pvpath = mk_strdup_printf(PVS "/%s", mk_json_get_string(c, "spec.volumeName"));
	cJSON_Delete(c);
	cJSON *v = fx_get(pvpath);
	ck_assert_str_eq(mk_json_get_string(v, "spec.persistentVolumeReclaimPolicy"), "Retain");
	cJSON_Delete(v);

	/* a volume with affinity to node "far" pulls its pod there */
	storage_node("far");
	pv("pinned", "1Gi", "[\"ReadWriteOnce\"]", "manual",
	   "\"nodeAffinity\":{\"required\":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":"
	   "\"kubernetes.io/hostname\",\"operator\":\"In\",\"values\":[\"far\"]}]}]}}", NULL);
	claim("pin", "1Gi", "\"storageClassName\":\"manual\"", NULL);
	cJSON_Delete(fx_wait(PVCS "/pin", str_at, "status.phase=Bound", "pin Bound"));
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		pod_with_claim(name, "pin");
		char *path = mk_strdup_printf(PODS "/%s", name);
		cJSON_Delete(fx_wait(path, str_at, "spec.nodeName=far", "pod on the volume's node"));
		free(path);
	}

	/* pvc-protection: a claim in use stays until its pods are gone */
	cJSON *pc = fx_get(PVCS "/pin");
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(pc, "metadata.finalizers"), 0)->valuestring,
			 "kubernetes.io/pvc-protection");
	cJSON_Delete(pc);
	del(PVCS "/pin");
	pc = fx_wait(PVCS "/pin", deleting, NULL, "claim in use: Terminating");
	cJSON_Delete(pc);
	for (int i = 0; i < 3; i++) {
		char path[128];
		snprintf(path, sizeof(path), PODS "/p%d?gracePeriodSeconds=0", i);
		del(path);
	}
	fx_wait(PVCS "/pin", gone, NULL, "claim gone once no pod uses it");
	cJSON_Delete(fx_wait(PVS "/pinned", str_at, "status.phase=Released", "pinned Released"));

	/* a missing claim: unschedulable, the message names it */
	pod_with_claim("lost", "nope");
	cJSON *p = fx_wait(PODS "/lost", unschedulable, NULL, "PodScheduled=False");
	const cJSON *cond;
	const char *msg = NULL;
	cJSON_ArrayForEach(cond, mk_json_get(p, "status.conditions"))
		if (!strcmp(mk_json_get_string(cond, "type"), "PodScheduled"))
			msg = mk_json_get_string(cond, "message");
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strstr(msg, "persistentvolumeclaim \"nope\" not found"), "message: %s", msg);
	ck_assert_ptr_null(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);
	free(pvpath);
}
END_TEST

static bool has_node(const cJSON *pod, const void *unused)
{
	const char *n = mk_json_get_string(pod, "spec.nodeName");
	return n && *n;
}

START_TEST(test_claim_appearing_schedules_pod)
{
	storage_node("solo");
	pod_with_claim("waiting", "later");
	cJSON_Delete(fx_wait(PODS "/waiting", unschedulable, NULL, "unschedulable without its claim"));
	claim("later", "1Gi", NULL, NULL);
	cJSON_Delete(fx_wait(PODS "/waiting", has_node, NULL, "scheduled once the claim exists"));
	cJSON_Delete(fx_wait(PVCS "/later", str_at, "status.phase=Bound", "claim Bound"));
}
END_TEST

Suite *pv_suite(void)
{
	Suite *s = suite_create("persistentvolume");
	TCase *tc = tcase_create("persistentvolume");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_binder_picks_smallest_fit_and_retains);
	tcase_add_test(tc, test_static_delete_policy_and_prebound);
	tcase_add_test(tc, test_local_path_wait_for_first_consumer);
	tcase_add_test(tc, test_immediate_class_and_scheduling);
	tcase_add_test(tc, test_claim_appearing_schedules_pod);
	suite_add_tcase(s, tc);
	return s;
}
