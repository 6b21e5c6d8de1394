/* Table output: columns and cells as a real cluster sends them to kubectl. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

/* 2026-11-26T07:17:17Z */
#define CREATED "2026-11-26T07:17:17Z"
static time_t now_plus(int s)
{
	return mk_time_parse(CREATED) + s;
}

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "bad test JSON: %s", s);
	return j;
}

static const struct mk_api_resource *res(const char *plural)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rs[i].name, plural) == 0)
			return &rs[i];
	ck_abort_msg("no resource %s", plural);
	return NULL;
}

/* Builds a one-row table for obj and returns the row's cells as compact JSON
 * (owned); checks the cell count matches the columns and the row object. */
static char *row_json(const char *plural, const char *obj_json, time_t now)
{
	const struct mk_api_resource *r = res(plural);
	cJSON *t = mk_api_table_new(r, true);
	cJSON *obj = parse(obj_json);
	mk_api_table_add_row(t, r, obj, now);
	cJSON *rows = cJSON_GetObjectItem(t, "rows");
	ck_assert_int_eq(cJSON_GetArraySize(rows), 1);
	cJSON *row = cJSON_GetArrayItem(rows, 0);
	cJSON *cells = cJSON_GetObjectItem(row, "cells");
	cJSON *cols = cJSON_GetObjectItem(t, "columnDefinitions");
	ck_assert_int_eq(cJSON_GetArraySize(cells), cJSON_GetArraySize(cols));
	/* integer columns carry numbers, the others strings */
	for (int i = 0; i < cJSON_GetArraySize(cols); i++) {
		const char *type = mk_json_get_string(cJSON_GetArrayItem(cols, i), "type");
		cJSON *cell = cJSON_GetArrayItem(cells, i);
		if (strcmp(type, "integer") == 0)
			ck_assert_msg(cJSON_IsNumber(cell), "cell %d not a number", i);
		else
			ck_assert_msg(cJSON_IsString(cell), "cell %d not a string", i);
	}
	cJSON *po = cJSON_GetObjectItem(row, "object");
	ck_assert_str_eq(mk_json_get_string(po, "kind"), "PartialObjectMetadata");
	ck_assert_str_eq(mk_json_get_string(po, "apiVersion"), "meta.k8s.io/v1");
	ck_assert(cJSON_Compare(cJSON_GetObjectItem(po, "metadata"), cJSON_GetObjectItem(obj, "metadata"), 1));
	char *p = cJSON_PrintUnformatted(cells);
	char *s = strdup(p);
	cJSON_free(p);
	cJSON_Delete(obj);
	cJSON_Delete(t);
	return s;
}

static void expect_row(const char *plural, const char *obj_json, time_t now, const char *want)
{
	char *got = row_json(plural, obj_json, now);
	ck_assert_msg(strcmp(got, want) == 0, "\n got %s\nwant %s", got, want);
	free(got);
}

static void expect_columns(const char *plural, const char *want_names, const char *want_prio)
{
	cJSON *t = mk_api_table_new(res(plural), true);
	char names[512] = "", prio[64] = "";
	cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(t, "columnDefinitions"))
	{
		if (names[0])
			strcat(names, "|");
		strcat(names, mk_json_get_string(c, "name"));
		strcat(prio, cJSON_GetObjectItem(c, "priority")->valueint ? "1" : "0");
		ck_assert_ptr_nonnull(mk_json_get_string(c, "description"));
		ck_assert_ptr_nonnull(mk_json_get_string(c, "format"));
	}
	ck_assert_str_eq(names, want_names);
	ck_assert_str_eq(prio, want_prio);
	cJSON_Delete(t);
}

START_TEST(test_table_shape)
{
	cJSON *t = mk_api_table_new(res("pods"), true);
	ck_assert_str_eq(mk_json_get_string(t, "kind"), "Table");
	ck_assert_str_eq(mk_json_get_string(t, "apiVersion"), "meta.k8s.io/v1");
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(t, "metadata")));
	ck_assert(cJSON_IsArray(cJSON_GetObjectItem(t, "rows")));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(t, "rows")), 0);
	cJSON *name = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "columnDefinitions"), 0);
	ck_assert_str_eq(mk_json_get_string(name, "name"), "Name");
	ck_assert_str_eq(mk_json_get_string(name, "type"), "string");
	ck_assert_str_eq(mk_json_get_string(name, "format"), "name");
	cJSON_Delete(t);

	t = mk_api_table_new(res("pods"), false);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(t, "columnDefinitions")));
	cJSON_Delete(t);
}
END_TEST

START_TEST(test_table_columns)
{
	expect_columns("pods", "Name|Ready|Status|Restarts|Age|IP|Node|Nominated Node|Readiness Gates",
		       "000001111");
	expect_columns("services", "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector", "0000001");
	expect_columns("deployments", "Name|Ready|Up-to-date|Available|Age|Containers|Images|Selector",
		       "00000111");
	expect_columns("replicasets", "Name|Desired|Current|Ready|Age|Containers|Images|Selector",
		       "00000111");
	expect_columns("namespaces", "Name|Status|Age", "000");
	expect_columns("nodes", "Name|Status|Roles|Age|Version|Internal-IP|External-IP|OS-Image|"
				"Kernel-Version|Container-Runtime", "0000011111");
	expect_columns("endpoints", "Name|Endpoints|Age", "000");
	expect_columns("events", "Last Seen|Type|Reason|Object|Subobject|Source|Message|First Seen|Count|Name",
		       "0000110111");
}
END_TEST

/* ---- pods ----------------------------------------------------------------------------- */

#define POD_META "\"metadata\":{\"name\":\"jumpbox\",\"namespace\":\"default\",\"creationTimestamp\":\"" CREATED "\",\"labels\":{\"run\":\"jumpbox\"}}"

START_TEST(test_pod_running)
{
	/* the pod of trace g1/g2 */
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"jumpbox\",\"image\":\"nginx\"}],"
		   "\"nodeName\":\"node1\"},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.0.5\","
		   "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":"
		   "\"jumpbox\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}}",
		   now_plus(5),
		   "[\"jumpbox\",\"1/1\",\"Running\",\"0\",\"5s\",\"10.244.0.5\",\"node1\",\"<none>\",\"<none>\"]");
}
END_TEST

START_TEST(test_pod_pending_no_status)
{
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}",
		   now_plus(200), "[\"jumpbox\",\"0/2\",\"Pending\",\"0\",\"3m20s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
}
END_TEST

START_TEST(test_pod_container_states)
{
	/* waiting reason wins, restarts summed with the last restart's age */
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
		   "\"nodeName\":\"n\"},\"status\":{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"10.244.1.2\"}],"
		   "\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"restartCount\":1,\"state\":{\"running\":{}},"
		   "\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-26T07:20:00Z\"}}},"
		   "{\"name\":\"b\",\"ready\":false,\"restartCount\":4,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},"
		   "\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-26T07:25:00Z\"}}}]}}",
		   mk_time_parse("2026-11-26T07:27:00Z"),
		   "[\"jumpbox\",\"1/2\",\"CrashLoopBackOff\",\"5 (2m ago)\",\"9m43s\",\"10.244.1.2\",\"n\",\"<none>\",\"<none>\"]");
	/* terminated with a reason, and without (exit code / signal) */
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Succeeded\","
		   "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"reason\":\"Completed\",\"exitCode\":0}}}]}}",
		   now_plus(60), "[\"jumpbox\",\"0/1\",\"Completed\",\"0\",\"60s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Failed\","
		   "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":3}}}]}}",
		   now_plus(60), "[\"jumpbox\",\"0/1\",\"ExitCode:3\",\"0\",\"60s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Failed\","
		   "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}}",
		   now_plus(60), "[\"jumpbox\",\"0/1\",\"Signal:9\",\"0\",\"60s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	/* status.reason overrides the phase */
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Failed\","
		   "\"reason\":\"Evicted\"}}",
		   now_plus(60), "[\"jumpbox\",\"0/1\",\"Evicted\",\"0\",\"60s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
}
END_TEST

START_TEST(test_pod_init_and_terminating)
{
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"i\"}],\"containers\":[{\"name\":\"a\"}]},"
		   "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i\",\"state\":{\"running\":{}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"Init:0/1\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"i\"}],\"containers\":[{\"name\":\"a\"}]},"
		   "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i\",\"restartCount\":2,"
		   "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"Init:CrashLoopBackOff\",\"2\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"i\"}],\"containers\":[{\"name\":\"a\"}]},"
		   "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":[{\"name\":\"i\","
		   "\"state\":{\"terminated\":{\"exitCode\":1}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"Init:ExitCode:1\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	/* deletionTimestamp on a running pod */
	expect_row("pods", "{\"metadata\":{\"name\":\"web2\",\"creationTimestamp\":\"" CREATED "\",\"deletionTimestamp\":"
		   "\"2026-11-26T07:17:18Z\"},\"spec\":{\"containers\":[{\"name\":\"web2\"}],\"nodeName\":\"node1\"},"
		   "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.0.5\",\"containerStatuses\":[{\"name\":\"web2\","
		   "\"ready\":true,\"state\":{\"running\":{}}}]}}",
		   now_plus(5), "[\"web2\",\"1/1\",\"Terminating\",\"0\",\"5s\",\"10.244.0.5\",\"node1\",\"<none>\",\"<none>\"]");
	/* readiness gates */
	expect_row("pods", "{" POD_META ",\"spec\":{\"containers\":[{\"name\":\"a\"}],\"readinessGates\":[{\"conditionType\":\"x\"},"
		   "{\"conditionType\":\"y\"}]},\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"x\",\"status\":\"True\"}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"Running\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"1/2\"]");
}
END_TEST


START_TEST(test_pod_init_progress)
{
	/* two init containers, the second one running: Init:1/2 */
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
		   "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
		   "{\"name\":\"i1\",\"ready\":true,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
		   "{\"name\":\"i2\",\"state\":{\"running\":{}}}],\"containerStatuses\":[{\"name\":\"a\","
		   "\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"Init:1/2\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	/* the first one still waiting to be created: Init:0/2 */
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
		   "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
		   "{\"name\":\"i1\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}},"
		   "{\"name\":\"i2\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"Init:0/2\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	/* failed under restartPolicy Never: Init:Error */
	expect_row("pods", "{" POD_META ",\"spec\":{\"restartPolicy\":\"Never\",\"initContainers\":[{\"name\":\"i1\"}],"
		   "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Failed\",\"initContainerStatuses\":["
		   "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":3,\"reason\":\"Error\"}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"Init:Error\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	/* every init container done, the app still waiting: its reason */
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],"
		   "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
		   "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}],"
		   "\"containerStatuses\":[{\"name\":\"a\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/1\",\"PodInitializing\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
}
END_TEST

START_TEST(test_pod_sidecar)
{
	/* a started, ready sidecar counts among the containers and the ready ones; its
	 * restarts count once the pod is initialized, the regular init's do not */
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"side\","
		   "\"restartPolicy\":\"Always\"}],\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Running\","
		   "\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"},{\"type\":\"Ready\",\"status\":\"True\"}],"
		   "\"initContainerStatuses\":[{\"name\":\"i1\",\"restartCount\":3,\"state\":{\"terminated\":{\"exitCode\":0,"
		   "\"reason\":\"Completed\"}}},{\"name\":\"side\",\"restartCount\":1,\"started\":true,\"ready\":true,"
		   "\"state\":{\"running\":{}}}],\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,"
		   "\"state\":{\"running\":{}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"2/2\",\"Running\",\"1\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	/* a sidecar not started yet holds the init sequence */
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"side\",\"restartPolicy\":\"Always\"},"
		   "{\"name\":\"i2\"}],\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\","
		   "\"initContainerStatuses\":[{\"name\":\"side\",\"started\":false,\"state\":{\"running\":{}}},"
		   "{\"name\":\"i2\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"0/2\",\"Init:0/2\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
	/* started: the next init container runs */
	expect_row("pods", "{" POD_META ",\"spec\":{\"initContainers\":[{\"name\":\"side\",\"restartPolicy\":\"Always\"},"
		   "{\"name\":\"i2\"}],\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\","
		   "\"initContainerStatuses\":[{\"name\":\"side\",\"started\":true,\"ready\":true,\"state\":{\"running\":{}}},"
		   "{\"name\":\"i2\",\"state\":{\"running\":{}}}]}}",
		   now_plus(1), "[\"jumpbox\",\"1/2\",\"Init:1/2\",\"0\",\"1s\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
}
END_TEST

START_TEST(test_age)
{
	expect_row("namespaces", "{\"metadata\":{\"name\":\"x\"},\"status\":{\"phase\":\"Active\"}}", now_plus(5),
		   "[\"x\",\"Active\",\"<unknown>\"]");
	expect_row("namespaces", "{\"metadata\":{\"name\":\"x\",\"creationTimestamp\":\"" CREATED "\"},\"status\":{\"phase\":\"Terminating\"}}",
		   now_plus(-30), "[\"x\",\"Terminating\",\"<invalid>\"]");
	expect_row("namespaces", "{\"metadata\":{\"name\":\"x\",\"creationTimestamp\":\"" CREATED "\"},\"status\":{\"phase\":\"Active\"}}",
		   now_plus(2 * 86400 + 3 * 3600), "[\"x\",\"Active\",\"2d3h\"]");
}
END_TEST

/* ---- services -------------------------------------------------------------------------- */

#define SVC_META "\"metadata\":{\"name\":\"php-echo\",\"namespace\":\"myns\",\"creationTimestamp\":\"" CREATED "\"}"

START_TEST(test_service_rows)
{
	/* trace gs/gs2 */
	expect_row("services", "{" SVC_META ",\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.3\",\"clusterIPs\":[\"10.96.0.3\"],"
		   "\"ports\":[{\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}],\"selector\":{\"app\":\"php-echo\"}}}",
		   now_plus(5), "[\"php-echo\",\"ClusterIP\",\"10.96.0.3\",\"<none>\",\"80/TCP\",\"5s\",\"app=php-echo\"]");
	expect_row("services", "{" SVC_META ",\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.4\","
		   "\"externalIPs\":[\"192.0.2.1\"],\"ports\":[{\"port\":80,\"protocol\":\"TCP\",\"nodePort\":30080},"
		   "{\"port\":53,\"protocol\":\"UDP\"}],\"selector\":{\"tier\":\"b\",\"app\":\"a\"}}}",
		   now_plus(5), "[\"php-echo\",\"NodePort\",\"10.96.0.4\",\"192.0.2.1\",\"80:30080/TCP,53/UDP\",\"5s\",\"app=a,tier=b\"]");
	expect_row("services", "{" SVC_META ",\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"None\"}}",
		   now_plus(5), "[\"php-echo\",\"ClusterIP\",\"None\",\"<none>\",\"<none>\",\"5s\",\"<none>\"]");
	expect_row("services", "{" SVC_META ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.9\","
		   "\"ports\":[{\"port\":443,\"protocol\":\"TCP\",\"nodePort\":31443}]},\"status\":{\"loadBalancer\":{}}}",
		   now_plus(5), "[\"php-echo\",\"LoadBalancer\",\"10.96.0.9\",\"<pending>\",\"443:31443/TCP\",\"5s\",\"<none>\"]");
	expect_row("services", "{" SVC_META ",\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.9\","
		   "\"ports\":[{\"port\":443,\"protocol\":\"TCP\"}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"203.0.113.7\"}]}}}",
		   now_plus(5), "[\"php-echo\",\"LoadBalancer\",\"10.96.0.9\",\"203.0.113.7\",\"443/TCP\",\"5s\",\"<none>\"]");
	expect_row("services", "{" SVC_META ",\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.com\"}}",
		   now_plus(5), "[\"php-echo\",\"ExternalName\",\"<none>\",\"example.com\",\"<none>\",\"5s\",\"<none>\"]");
}
END_TEST

/* ---- workloads ------------------------------------------------------------------------------ */

#define DEP_META "\"metadata\":{\"name\":\"web\",\"namespace\":\"myns\",\"creationTimestamp\":\"" CREATED "\"}"
#define DEP_SPEC(replicas) "\"spec\":{\"replicas\":" replicas ",\"selector\":{\"matchLabels\":{\"app\":\"web\"}}," \
	"\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.26\"},{\"name\":\"side\",\"image\":\"busybox\"}]}}}"

START_TEST(test_deployment_rows)
{
	expect_row("deployments", "{" DEP_META "," DEP_SPEC("4") ",\"status\":{\"replicas\":4,\"updatedReplicas\":4,"
		   "\"readyReplicas\":4,\"availableReplicas\":4}}", now_plus(5),
		   "[\"web\",\"4/4\",4,4,\"5s\",\"web,side\",\"nginx:1.26,busybox\",\"app=web\"]");
	expect_row("deployments", "{" DEP_META "," DEP_SPEC("3") "}", now_plus(5),
		   "[\"web\",\"0/3\",0,0,\"5s\",\"web,side\",\"nginx:1.26,busybox\",\"app=web\"]");
	/* selector with expressions, as labels.Selector prints it (sorted by key) */
	expect_row("deployments", "{" DEP_META ",\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"tier\":\"fe\"},"
		   "\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"prod\",\"dev\"]},"
		   "{\"key\":\"canary\",\"operator\":\"DoesNotExist\"},{\"key\":\"zone\",\"operator\":\"Exists\"},"
		   "{\"key\":\"arch\",\"operator\":\"NotIn\",\"values\":[\"arm\"]}]},\"template\":{\"spec\":{\"containers\":[]}}},"
		   "\"status\":{\"readyReplicas\":1}}", now_plus(5),
		   "[\"web\",\"1/1\",0,0,\"5s\",\"\",\"\",\"arch notin (arm),!canary,env in (dev,prod),tier=fe,zone\"]");
}
END_TEST

START_TEST(test_replicaset_rows)
{
	expect_row("replicasets", "{" DEP_META "," DEP_SPEC("3") ",\"status\":{\"replicas\":2,\"readyReplicas\":1}}",
		   now_plus(400), "[\"web\",3,2,1,\"6m40s\",\"web,side\",\"nginx:1.26,busybox\",\"app=web\"]");
	expect_row("replicasets", "{" DEP_META "," DEP_SPEC("0") "}",
		   now_plus(400), "[\"web\",0,0,0,\"6m40s\",\"web,side\",\"nginx:1.26,busybox\",\"app=web\"]");
}
END_TEST

/* ---- nodes, namespaces, endpoints, events ----------------------------------------------------- */

START_TEST(test_node_rows)
{
	expect_row("nodes", "{\"metadata\":{\"name\":\"node1\",\"creationTimestamp\":\"" CREATED "\","
		   "\"labels\":{\"node-role.kubernetes.io/control-plane\":\"\",\"node-role.kubernetes.io/worker\":\"\",\"kubernetes.io/hostname\":\"node1\"}},"
		   "\"status\":{\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\"},{\"type\":\"Ready\",\"status\":\"True\"}],"
		   "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1.10\"},{\"type\":\"Hostname\",\"address\":\"node1\"}],"
		   "\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0-minik8s\",\"osImage\":\"Debian GNU/Linux 12 (bookworm)\","
		   "\"kernelVersion\":\"6.1.0\",\"containerRuntimeVersion\":\"runc://1.1.5\"}}}",
		   now_plus(3600 * 5),
		   "[\"node1\",\"Ready\",\"control-plane,worker\",\"5h\",\"v1.32.0-minik8s\",\"192.168.1.10\",\"<none>\","
		   "\"Debian GNU/Linux 12 (bookworm)\",\"6.1.0\",\"runc://1.1.5\"]");
	expect_row("nodes", "{\"metadata\":{\"name\":\"node2\",\"creationTimestamp\":\"" CREATED "\"},\"spec\":{\"unschedulable\":true},"
		   "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}}",
		   now_plus(10),
		   "[\"node2\",\"NotReady,SchedulingDisabled\",\"<none>\",\"10s\",\"\",\"<none>\",\"<none>\",\"<unknown>\",\"<unknown>\",\"<unknown>\"]");
	expect_row("nodes", "{\"metadata\":{\"name\":\"node3\",\"creationTimestamp\":\"" CREATED "\",\"labels\":{\"kubernetes.io/role\":\"edge\"}}}",
		   now_plus(10),
		   "[\"node3\",\"Unknown\",\"edge\",\"10s\",\"\",\"<none>\",\"<none>\",\"<unknown>\",\"<unknown>\",\"<unknown>\"]");
}
END_TEST

START_TEST(test_endpoints_rows)
{
	expect_row("endpoints", "{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"" CREATED "\"},\"subsets\":[{"
		   "\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\"}],\"ports\":[{\"port\":80}]}]}",
		   now_plus(5), "[\"web\",\"10.0.0.1:80,10.0.0.2:80\",\"5s\"]");
	expect_row("endpoints", "{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"" CREATED "\"},\"subsets\":[{"
		   "\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.2\"},{\"ip\":\"10.0.0.3\"},{\"ip\":\"10.0.0.4\"}],"
		   "\"ports\":[{\"port\":80},{\"port\":443}]}]}",
		   now_plus(5), "[\"web\",\"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 5 more...\",\"5s\"]");
	expect_row("endpoints", "{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"" CREATED "\"}}",
		   now_plus(5), "[\"web\",\"<none>\",\"5s\"]");
	expect_row("endpoints", "{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"" CREATED "\"},\"subsets\":[{"
		   "\"notReadyAddresses\":[{\"ip\":\"10.0.0.1\"}],\"ports\":[{\"port\":80}]}]}",
		   now_plus(5), "[\"web\",\"<none>\",\"5s\"]");
	expect_row("endpoints", "{\"metadata\":{\"name\":\"headless\",\"creationTimestamp\":\"" CREATED "\"},\"subsets\":[{"
		   "\"addresses\":[{\"ip\":\"fd00::1\"}]}]}",
		   now_plus(5), "[\"headless\",\"fd00::1\",\"5s\"]");
	expect_row("endpoints", "{\"metadata\":{\"name\":\"v6\",\"creationTimestamp\":\"" CREATED "\"},\"subsets\":[{"
		   "\"addresses\":[{\"ip\":\"fd00::1\"}],\"ports\":[{\"port\":80}]}]}",
		   now_plus(5), "[\"v6\",\"[fd00::1]:80\",\"5s\"]");
}
END_TEST

START_TEST(test_event_rows)
{
	expect_row("events", "{\"metadata\":{\"name\":\"web.17a\",\"namespace\":\"default\",\"creationTimestamp\":\"" CREATED "\"},"
		   "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\",\"fieldPath\":\"spec.containers{web}\"},"
		   "\"reason\":\"Pulled\",\"message\":\" Successfully pulled image\\n\",\"type\":\"Normal\","
		   "\"source\":{\"component\":\"kubelet\",\"host\":\"node1\"},\"firstTimestamp\":\"" CREATED "\","
		   "\"lastTimestamp\":\"2026-11-26T07:18:17Z\",\"count\":3}",
		   mk_time_parse("2026-11-26T07:19:17Z"),
		   "[\"60s\",\"Normal\",\"Pulled\",\"pod/web\",\"spec.containers{web}\",\"kubelet, node1\","
		   "\"Successfully pulled image\",\"2m\",3,\"web.17a\"]");
	expect_row("events", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"},"
		   "\"involvedObject\":{\"kind\":\"Node\"},\"reason\":\"Starting\",\"reportingComponent\":\"minik8s\","
		   "\"eventTime\":\"" CREATED "\"}",
		   now_plus(30), "[\"30s\",\"\",\"Starting\",\"node\",\"\",\"minik8s\",\"\",\"30s\",1,\"e\"]");
}
END_TEST

/* mk_api_table_add_row_take (a list's rows: the metadata moved, not copied) writes
 * the same table, byte for byte, as mk_api_table_add_row, for every kind's cells */
START_TEST(test_rows_take_same_bytes)
{
	static const char *const cases[][2] = {
		{ "pods", "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"creationTimestamp\":\"" CREATED "\","
			  "\"labels\":{\"a\":\"b\"},\"managedFields\":[{\"manager\":\"kubectl\",\"fieldsV1\":{\"f:spec\":{}}}]},"
			  "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]},\"status\":{\"phase\":\"Pending\"}}" },
		{ "services", "{\"metadata\":{\"name\":\"s\",\"namespace\":\"ns\",\"creationTimestamp\":\"" CREATED "\"},"
			      "\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.0.0.1\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}}" },
		{ "namespaces", "{\"metadata\":{\"name\":\"n\",\"creationTimestamp\":\"" CREATED "\"},\"status\":{\"phase\":\"Active\"}}" },
		{ "configmaps", "{\"metadata\":{\"name\":\"c\",\"namespace\":\"ns\"},\"data\":{\"k\":\"v\"}}" },
		{ "pods", "{\"metadata\":7,\"spec\":{}}" }, /* no metadata object */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mk_api_resource *r = res(cases[i][0]);
		cJSON *a = mk_api_table_new(r, true), *b = mk_api_table_new(r, true);
		for (int k = 0; k < 3; k++) {
			cJSON *o1 = parse(cases[i][1]), *o2 = parse(cases[i][1]);
			mk_api_table_add_row(a, r, o1, now_plus(90));
			mk_api_table_add_row_take(b, r, o2, now_plus(90));
			cJSON_Delete(o1);
			cJSON_Delete(o2); /* the row owns what it took */
		}
		char *pa = cJSON_PrintUnformatted(a), *pb = cJSON_PrintUnformatted(b);
		ck_assert_str_eq(pb, pa);
		cJSON_free(pa);
		cJSON_free(pb);
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
}
END_TEST

START_TEST(test_rows_accumulate)
{
	const struct mk_api_resource *r = res("namespaces");
	cJSON *t = mk_api_table_new(r, true);
	cJSON *a = parse("{\"metadata\":{\"name\":\"a\",\"creationTimestamp\":\"" CREATED "\"},\"status\":{\"phase\":\"Active\"}}");
	cJSON *b = parse("{\"metadata\":{\"name\":\"b\",\"creationTimestamp\":\"" CREATED "\"},\"status\":{\"phase\":\"Active\"}}");
	mk_api_table_add_row(t, r, a, now_plus(1));
	mk_api_table_add_row(t, r, b, now_plus(1));
	cJSON *rows = cJSON_GetObjectItem(t, "rows");
	ck_assert_int_eq(cJSON_GetArraySize(rows), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "cells"), 0)->valuestring, "b");
	/* the table owns copies: the source objects can go */
	cJSON_Delete(a);
	cJSON_Delete(b);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "object"), "metadata.name"), "a");
	cJSON_Delete(t);

	/* unknown kinds: NAME AGE */
	t = mk_api_table_new(NULL, true);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(t, "columnDefinitions")), 2);
	a = parse("{\"metadata\":{\"name\":\"x\",\"creationTimestamp\":\"" CREATED "\"}}");
	mk_api_table_add_row(t, NULL, a, now_plus(7));
	char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells"));
	ck_assert_str_eq(s, "[\"x\",\"7s\"]");
	cJSON_free(s);
	cJSON_Delete(a);
	cJSON_Delete(t);
}
END_TEST

Suite *table_suite(void)
{
	Suite *s = suite_create("api-table");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, test_table_shape);
	tcase_add_test(tc, test_table_columns);
	tcase_add_test(tc, test_pod_running);
	tcase_add_test(tc, test_pod_pending_no_status);
	tcase_add_test(tc, test_pod_container_states);
	tcase_add_test(tc, test_pod_init_and_terminating);
	tcase_add_test(tc, test_pod_init_progress);
	tcase_add_test(tc, test_pod_sidecar);
	tcase_add_test(tc, test_age);
	tcase_add_test(tc, test_service_rows);
	tcase_add_test(tc, test_deployment_rows);
	tcase_add_test(tc, test_replicaset_rows);
	tcase_add_test(tc, test_node_rows);
	tcase_add_test(tc, test_endpoints_rows);
	tcase_add_test(tc, test_event_rows);
	tcase_add_test(tc, test_rows_accumulate);
	tcase_add_test(tc, test_rows_take_same_bytes);
	suite_add_tcase(s, tc);
	return s;
}
