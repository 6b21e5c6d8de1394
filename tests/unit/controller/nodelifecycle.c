/* The node lifecycle controller and node leases: a node whose Lease in
 * kube-node-lease keeps being renewed stays Ready past the grace period even
 * though its status is never posted again; once the renewals stop it becomes
 * Unknown with the unreachable taint. */
#include <check.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "minik8s/api.h"
#include "fixture.h"

#define GRACE_MS 1500

static void setup(void)
{
	struct mk_controllers_options o = { .workers = 2, .node_monitor_grace_ms = GRACE_MS,
					    .pod_eviction_timeout_ms = 600000 };
	fx_setup_controllers_with(&o);
}

static void renew(const char *node)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	char ts[64], t[32];
	mk_time_format(tv.tv_sec, t, sizeof(t));
	t[strlen(t) - 1] = '\0'; /* drop the Z: a MicroTime has a fraction */
	snprintf(ts, sizeof(ts), "%s.%06ldZ", t, (long)tv.tv_usec);
	char *path = mk_strdup_printf("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", node);
	char *body = mk_strdup_printf("{\"spec\":{\"renewTime\":\"%s\"}}", ts);
	fx_patch(path, body);
	free(body);
	free(path);
}

static const char *ready_status(const cJSON *node)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(node, "status.conditions"))
	{
		if (!strcmp(mk_json_get_string(c, "type"), "Ready"))
			return mk_json_get_string(c, "status");
	}
	return NULL;
}

/* Ready=Unknown and the unreachable taint: two writes of the controller (the
 * status, then the taints, as in kube), so a reader may see one before the other */
static bool unknown_and_tainted(const cJSON *node, const void *unused)
{
	const char *s = ready_status(node);
	if (!s || strcmp(s, "Unknown"))
		return false;
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(node, "spec.taints"))
	{
		if (!strcmp(mk_json_get_string(t, "key") ?: "", "node.kubernetes.io/unreachable"))
			return true;
	}
	return false;
}

START_TEST(test_lease_keeps_node_ready)
{
	fx_node("n1", NULL, NULL);
	fx_create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
		  "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"n1\"},"
		  "\"spec\":{\"holderIdentity\":\"n1\",\"leaseDurationSeconds\":40}}");
	/* three grace periods of lease renewals only */
	for (int i = 0; i < 3 * GRACE_MS / 250; i++) {
		renew("n1");
		usleep(250000);
	}
	cJSON *n = fx_get("/api/v1/nodes/n1");
	ck_assert_str_eq(ready_status(n), "True");
	cJSON_Delete(n);
	/* silence: Unknown and tainted */
	cJSON_Delete(fx_wait("/api/v1/nodes/n1", unknown_and_tainted, NULL,
			     "Ready=Unknown and the unreachable taint after the renewals stop"));
}
END_TEST

static void setup_evict(void)
{
	struct mk_controllers_options o = { .workers = 2, .node_monitor_grace_ms = 1000,
					    .pod_eviction_timeout_ms = 1500 };
	fx_setup_controllers_with(&o);
}

static bool gone(const cJSON *pod, const void *unused)
{
	return pod == NULL;
}

/* A silent node's pods are evicted, except those tolerating its NoExecute taints
 * for good (what every DaemonSet pod carries). */
START_TEST(test_eviction_spares_tolerating_pods)
{
	fx_node("n2", NULL, NULL);
	fx_create("/api/v1/namespaces/default/pods",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"plain\"},\"spec\":"
		  "{\"nodeName\":\"n2\",\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	fx_create("/api/v1/namespaces/default/pods",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"daemon\"},\"spec\":"
		  "{\"nodeName\":\"n2\",\"tolerations\":[{\"key\":\"node.kubernetes.io/unreachable\","
		  "\"operator\":\"Exists\",\"effect\":\"NoExecute\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	fx_create("/api/v1/namespaces/default/pods",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"timed\"},\"spec\":"
		  "{\"nodeName\":\"n2\",\"tolerations\":[{\"key\":\"node.kubernetes.io/unreachable\","
		  "\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":1}],"
		  "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/plain", gone, NULL, "the plain pod evicted"));
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/timed", gone, NULL,
			     "the pod with tolerationSeconds evicted"));
	cJSON *p = fx_get("/api/v1/namespaces/default/pods/daemon");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(mk_json_get(p, "metadata.deletionTimestamp"));
	cJSON_Delete(p);
}
END_TEST

Suite *nodelifecycle_suite(void)
{
	Suite *s = suite_create("nodelifecycle");
	TCase *tc = tcase_create("lease");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, fx_teardown);
	tcase_add_test(tc, test_lease_keeps_node_ready);
	suite_add_tcase(s, tc);
	TCase *ev = tcase_create("eviction");
	tcase_set_timeout(ev, 30);
	tcase_add_checked_fixture(ev, setup_evict, fx_teardown);
	tcase_add_test(ev, test_eviction_spares_tolerating_pods);
	suite_add_tcase(s, ev);
	return s;
}
