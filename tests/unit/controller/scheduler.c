/* The scheduler: given nodes (labels, taints, cordon) and pending pods, each pod is
 * bound to a node it fits (nodeSelector, NoSchedule taints unless tolerated,
 * unschedulable unless tolerated), replicas spread over the nodes, and a pod that
 * fits nowhere gets PodScheduled=False / Unschedulable. */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

static bool bound(const cJSON *pod, const void *unused)
{
	const char *n = mk_json_get_string(pod, "spec.nodeName");
	return n && *n;
}

static bool unschedulable(const cJSON *pod, const void *unused)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
	{
		if (!strcmp(mk_json_get_string(c, "type"), "PodScheduled"))
			return !strcmp(mk_json_get_string(c, "status"), "False") &&
			       !strcmp(mk_json_get_string(c, "reason") ?: "", "Unschedulable");
	}
	return false;
}

/* The status of the pod's PodScheduled condition, or "" */
static const char *scheduled_status(const cJSON *pod)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
	{
		if (!strcmp(mk_json_get_string(c, "type") ?: "", "PodScheduled"))
			return mk_json_get_string(c, "status") ?: "";
	}
	return "";
}

static void pod(const char *name, const char *extra_spec)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
				   "\"labels\":{\"app\":\"s\"}},\"spec\":{%s%s\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
				   name, extra_spec ? extra_spec : "", extra_spec ? "," : "");
	fx_create("/api/v1/namespaces/default/pods", j);
	free(j);
}

static char *node_of(const char *name)
{
	char *path = mk_strdup_printf("/api/v1/namespaces/default/pods/%s", name);
	cJSON *p = fx_wait(path, bound, NULL, "spec.nodeName set");
	char *n = mk_strdup(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);
	free(path);
	return n;
}

START_TEST(test_scheduler_filters_and_spreads)
{
	fx_node("ssd", "{\"disk\":\"ssd\"}", NULL);
	fx_node("plain", NULL, NULL);
	fx_node("gpu", "{\"gpu\":\"yes\"}", "[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]");
	fx_node("cordoned", NULL, NULL);
	fx_patch("/api/v1/nodes/cordoned", "{\"spec\":{\"unschedulable\":true}}");

	pod("want-ssd", "\"nodeSelector\":{\"disk\":\"ssd\"}");
	pod("want-gpu-tolerates", "\"nodeSelector\":{\"gpu\":\"yes\"},\"tolerations\":[{\"key\":\"dedicated\","
				  "\"operator\":\"Equal\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]");
	pod("want-gpu-no-toleration", "\"nodeSelector\":{\"gpu\":\"yes\"}");
	char name[32];
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "free-%d", i);
		pod(name, NULL);
	}

	char *n = node_of("want-ssd");
	ck_assert_str_eq(n, "ssd");
	free(n);
	cJSON *b = fx_get("/api/v1/namespaces/default/pods/want-ssd");
	ck_assert_str_eq(scheduled_status(b), "True");
	cJSON_Delete(b);
	n = node_of("want-gpu-tolerates");
	ck_assert_str_eq(n, "gpu");
	free(n);
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/want-gpu-no-toleration", unschedulable, NULL,
			     "PodScheduled=False/Unschedulable"));
	cJSON *p = fx_get("/api/v1/namespaces/default/pods/want-gpu-no-toleration");
	ck_assert_ptr_null(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);

	/* the six free pods go only to the untainted, schedulable nodes, spread */
	int on_ssd = 0, on_plain = 0;
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "free-%d", i);
		n = node_of(name);
		ck_assert_msg(!strcmp(n, "ssd") || !strcmp(n, "plain"), "%s bound to %s", name, n);
		on_ssd += !strcmp(n, "ssd");
		on_plain += !strcmp(n, "plain");
		free(n);
	}
	ck_assert_int_ge(on_ssd, 2);
	ck_assert_int_ge(on_plain, 2);
}
END_TEST

static bool too_many_pods(const cJSON *pod, const void *unused)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
	{
		if (!strcmp(mk_json_get_string(c, "type"), "PodScheduled"))
			return strstr(mk_json_get_string(c, "message") ?: "", "1 Too many pods") != NULL;
	}
	return false;
}

/* The node's capacity comes from the cached totals: a pod that fits nowhere
 * waits in the unschedulable set and is bound once a bound pod is deleted. */
START_TEST(test_scheduler_deleted_pod_frees_capacity)
{
	fx_node("one", NULL, NULL);
	fx_patch("/api/v1/nodes/one/status", "{\"status\":{\"allocatable\":{\"pods\":\"1\",\"cpu\":\"1\"}}}");
	pod("first", NULL);
	char *n = node_of("first");
	ck_assert_str_eq(n, "one");
	free(n);
	pod("second", NULL);
	cJSON *p = fx_wait("/api/v1/namespaces/default/pods/second", too_many_pods, NULL,
			   "PodScheduled=False: 0/1 nodes are available: 1 Too many pods");
	ck_assert_ptr_null(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);

	/* deleting first (at once: no kubelet here to finish a graceful delete) frees
	 * the node: second goes back from the unschedulable set */
	_cleanup_error_ struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_delete(fx_cli, "/api/v1/namespaces/default/pods/first?gracePeriodSeconds=0",
					  NULL, NULL, &err), 0);
	cJSON *gone = fx_get("/api/v1/namespaces/default/pods/first");
	ck_assert_ptr_null(gone);
	n = node_of("second");
	ck_assert_str_eq(n, "one");
	free(n);
	/* the binding wrote PodScheduled=True over the False in the same write */
	p = fx_get("/api/v1/namespaces/default/pods/second");
	ck_assert_str_eq(scheduled_status(p), "True");
	cJSON_Delete(p);
}
END_TEST

/* ---- pods/binding (the API the binder uses), without the controllers --------- */

/* POSTs a Binding of pod name to node (uid: a precondition, or NULL) at path
 * (NULL: the pod's binding path); the HTTP code, *ret_body the reply (owned). */
static long post_binding(const char *path, const char *name, const char *node, const char *uid,
			 char **ret_body)
{
	_cleanup_free_ char *p = path ? mk_strdup(path)
				       : mk_strdup_printf("/api/v1/namespaces/default/pods/%s/binding", name);
	_cleanup_free_ char *body = mk_strdup_printf(
		"{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"%s\"%s%s%s},"
		"\"target\":{\"kind\":\"Node\",\"name\":\"%s\"}}",
		name, uid ? ",\"uid\":\"" : "", uid ? uid : "", uid ? "\"" : "", node);
	struct mk_client_request req = { .method = "POST", .path = p, .body = body };
	struct mk_client_response res = { 0 };
	_cleanup_error_ struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_do(fx_cli, &req, &res, &err), 0);
	long code = res.code;
	if (ret_body)
		*ret_body = mk_strdup(res.body ? res.body : "");
	mk_client_response_release(&res);
	return code;
}

static void expect_binding(const char *name, const char *node, long code, const char *in_body)
{
	_cleanup_free_ char *body = NULL;
	long got = post_binding(NULL, name, node, NULL, &body);
	ck_assert_msg(got == code, "binding %s: HTTP %ld, want %ld: %s", name, got, code, body);
	ck_assert_msg(strstr(body, in_body), "binding %s: '%s' not in %s", name, in_body, body);
}

START_TEST(test_binding_api)
{
	pod("b1", NULL);
	/* dry run: accepted, nothing written */
	_cleanup_free_ char *body = NULL;
	ck_assert_int_eq(post_binding("/api/v1/namespaces/default/pods/b1/binding?dryRun=All", "b1",
				      "n1", NULL, &body), 201);
	cJSON *p = fx_get("/api/v1/namespaces/default/pods/b1");
	ck_assert_ptr_null(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);
	/* an unknown dryRun value is refused as on every write (it was a real write) */
	free(body);
	body = NULL;
	ck_assert_int_eq(post_binding("/api/v1/namespaces/default/pods/b1/binding?dryRun=Some", "b1",
				      "n1", NULL, &body), 422);
	ck_assert_ptr_nonnull(strstr(body, "supported values"));
	p = fx_get("/api/v1/namespaces/default/pods/b1");
	ck_assert_ptr_null(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);

	expect_binding("b1", "n1", 201, "\"status\":\"Success\"");
	p = fx_get("/api/v1/namespaces/default/pods/b1");
	ck_assert_str_eq(mk_json_get_string(p, "spec.nodeName"), "n1");
	ck_assert_str_eq(scheduled_status(p), "True");
	cJSON_Delete(p);
	/* never bound twice: to another node or the same */
	expect_binding("b1", "n2", 409, "pod b1 is already assigned to node \\\"n1\\\"");
	expect_binding("b1", "n1", 409, "\"reason\":\"Conflict\"");
	expect_binding("missing", "n1", 404, "pods \\\"missing\\\" not found");
	expect_binding("b1", "", 422, "\"field\":\"target.name\"");
	/* the name of the URL and of the Binding differ */
	pod("b2", NULL);
	free(body);
	body = NULL;
	ck_assert_int_eq(post_binding("/api/v1/namespaces/default/pods/b2/binding", "b1", "n1", NULL,
				      &body), 400);
	/* a uid precondition of another pod */
	free(body);
	body = NULL;
	ck_assert_int_eq(post_binding(NULL, "b2", "n1", "not-the-uid", &body), 409);
	ck_assert_ptr_nonnull(strstr(body, "Precondition failed: UID in precondition: not-the-uid"));
	/* gated, being deleted */
	pod("gated", "\"schedulingGates\":[{\"name\":\"g\"}]");
	expect_binding("gated", "n1", 409, "has non-empty .spec.schedulingGates");
	fx_create("/api/v1/namespaces/default/pods",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"going\","
		  "\"finalizers\":[\"example.com/hold\"]},\"spec\":{\"containers\":[{\"name\":\"c\","
		  "\"image\":\"x\"}]}}");
	_cleanup_error_ struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_delete(fx_cli, "/api/v1/namespaces/default/pods/going", NULL, NULL, &err), 0);
	expect_binding("going", "n1", 409, "is being deleted, cannot be assigned to a host");
	/* only POST */
	struct mk_client_request req = { .method = "GET", .path = "/api/v1/namespaces/default/pods/b2/binding" };
	struct mk_client_response res = { 0 };
	ck_assert_int_eq(mk_client_do(fx_cli, &req, &res, &err), 0);
	ck_assert_int_eq(res.code, 405);
	mk_client_response_release(&res);
}
END_TEST

struct racer {
	const char *node;
	long code;
};

static void *race_main(void *p)
{
	struct racer *r = p;
	r->code = post_binding(NULL, "raced", r->node, NULL, NULL);
	return NULL;
}

/* binders racing for one pod: exactly one wins, the others get 409 */
START_TEST(test_binding_races)
{
	pod("raced", NULL);
	enum { N = 8 };
	struct racer rs[N];
	pthread_t th[N];
	char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "node-%d", i);
		rs[i] = (struct racer){ .node = names[i] };
		pthread_create(&th[i], NULL, race_main, &rs[i]);
	}
	int won = -1, conflicts = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (rs[i].code == 201) {
			ck_assert_int_eq(won, -1);
			won = i;
		} else {
			ck_assert_int_eq(rs[i].code, 409);
			conflicts++;
		}
	}
	ck_assert_int_ge(won, 0);
	ck_assert_int_eq(conflicts, N - 1);
	cJSON *p = fx_get("/api/v1/namespaces/default/pods/raced");
	ck_assert_str_eq(mk_json_get_string(p, "spec.nodeName"), names[won]);
	cJSON_Delete(p);
}
END_TEST

Suite *scheduler_suite(void)
{
	Suite *s = suite_create("scheduler");
	TCase *tc = tcase_create("scheduler");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_scheduler_filters_and_spreads);
	tcase_add_test(tc, test_scheduler_deleted_pod_frees_capacity);
	suite_add_tcase(s, tc);
	TCase *api = tcase_create("binding");
	tcase_set_timeout(api, 30);
	tcase_add_checked_fixture(api, fx_setup, fx_teardown);
	tcase_add_test(api, test_binding_api);
	tcase_add_test(api, test_binding_races);
	suite_add_tcase(s, api);
	return s;
}
