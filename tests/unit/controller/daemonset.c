/* The DaemonSet controller against a real API server (and the real scheduler):
 * nodes and a DaemonSet in, the daemon pods out. One pod per node that matches the
 * nodeSelector and whose NoSchedule taints the pod tolerates (cordoned nodes
 * included: daemon pods tolerate unschedulable), pinned by node affinity and bound
 * by the scheduler; a node that joins gets its pod, a node that stops matching
 * loses it. Rolling update with maxUnavailable 1 replaces one node at a time;
 * with maxSurge 1 the new pod runs beside the old until ready; OnDelete replaces
 * only deleted pods; orphans matching the selector are adopted, pods relabelled
 * away released. And the pure predicates (node affinity, taints). */
#include <check.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/api.h"
#include "minik8s/controller.h"
#include "fixture.h"

#define PODS "/api/v1/namespaces/default/pods"
#define DS "/apis/apps/v1/namespaces/default/daemonsets"

static void make_ds(const char *name, const char *strategy, const char *node_selector)
{
	char *j = mk_strdup_printf(
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"%s\"},"
		"\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},%s%s"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},\"spec\":{%s%s"
		"\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}}}}",
		name, name, strategy ? strategy : "", strategy ? "," : "", name,
		node_selector ? node_selector : "", node_selector ? "," : "");
	fx_create(DS, j);
	free(j);
}

/* The daemon pods' nodes, sorted and comma-joined ("" when none); live pods only
 * (terminating ones are left out) unless all. */
static void pod_nodes(const cJSON *list, bool all, char *out, size_t size)
{
	const char *names[64];
	size_t n = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
	{
		if (!all && mk_json_get(p, "metadata.deletionTimestamp"))
			continue;
		const char *node = mk_json_get_string(p, "spec.nodeName");
		if (n < 64)
			names[n++] = node && *node ? node : "?";
	}
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			const char *t = names[k];
			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", names[i]);
}

static bool live_pods_on(const cJSON *list, const void *arg)
{
	char buf[512];
	pod_nodes(list, false, buf, sizeof(buf));
	return !strcmp(buf, arg);
}

static double num(const cJSON *obj, const char *path, double def)
{
	const cJSON *j = mk_json_get(obj, path);
	return cJSON_IsNumber(j) ? j->valuedouble : def;
}

static bool status_is(const cJSON *ds, const void *arg)
{
	/* "desired current ready updated available misscheduled" */
	char buf[128];
	snprintf(buf, sizeof(buf), "%d %d %d %d %d %d",
		 (int)num(ds, "status.desiredNumberScheduled", -1),
		 (int)num(ds, "status.currentNumberScheduled", -1),
		 (int)num(ds, "status.numberReady", -1),
		 (int)num(ds, "status.updatedNumberScheduled", -1),
		 (int)num(ds, "status.numberAvailable", -1),
		 (int)num(ds, "status.numberMisscheduled", -1));
	return !strcmp(buf, arg) &&
	       num(ds, "status.observedGeneration", -1) ==
		       num(ds, "metadata.generation", -2);
}

static bool has_toleration(const cJSON *pod, const char *key, const char *effect)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(pod, "spec.tolerations"))
	{
		if (!strcmp(mk_json_get_string(t, "key") ?: "", key) &&
		    !strcmp(mk_json_get_string(t, "effect") ?: "", effect) &&
		    !strcmp(mk_json_get_string(t, "operator") ?: "", "Exists"))
			return true;
	}
	return false;
}

START_TEST(test_ds_placement)
{
	fx_node("n1", "{\"role\":\"worker\"}", NULL);
	fx_node("n2", "{\"role\":\"worker\"}", "[{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":\"NoSchedule\"}]");
	fx_node("n3", NULL, NULL);
	fx_node("n4", "{\"role\":\"worker\"}", NULL);
	fx_patch("/api/v1/nodes/n4", "{\"spec\":{\"unschedulable\":true}}");
	make_ds("agent", NULL, "\"nodeSelector\":{\"role\":\"worker\"}");

	/* n1 and the cordoned n4; not the tainted n2, not the unlabelled n3 */
	cJSON *list = fx_wait(PODS "?labelSelector=app%3Dagent", live_pods_on, "n1,n4",
			      "daemon pods bound to n1 and n4");
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
	{
		const cJSON *ref = mk_api_controller_ref(p);
		ck_assert_str_eq(mk_json_get_string(ref, "kind"), "DaemonSet");
		ck_assert_str_eq(mk_json_get_string(ref, "name"), "agent");
		ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ref, "blockOwnerDeletion")));
		const cJSON *h = cJSON_GetObjectItem(mk_json_get(p, "metadata.labels"), "controller-revision-hash");
		ck_assert(cJSON_IsString(h) && h->valuestring[0]);
		ck_assert(has_toleration(p, "node.kubernetes.io/not-ready", "NoExecute"));
		ck_assert(has_toleration(p, "node.kubernetes.io/unreachable", "NoExecute"));
		ck_assert(has_toleration(p, "node.kubernetes.io/unschedulable", "NoSchedule"));
		ck_assert(has_toleration(p, "node.kubernetes.io/memory-pressure", "NoSchedule"));
		/* pinned to its node by affinity, as upstream creates daemon pods */
		const cJSON *term = cJSON_GetArrayItem(
			mk_json_get(p, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"), 0);
		const cJSON *mf = cJSON_GetArrayItem(cJSON_GetObjectItem(term, "matchFields"), 0);
		ck_assert_str_eq(mk_json_get_string(mf, "key"), "metadata.name");
		ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(mf, "values"), 0)->valuestring,
				 mk_json_get_string(p, "spec.nodeName"));
	}
	cJSON_Delete(list);
	cJSON_Delete(fx_wait(DS "/agent", status_is, "2 2 0 2 0 0", "status desired 2, current 2"));

	/* a node that joins gets its pod */
	fx_node("n5", "{\"role\":\"worker\"}", NULL);
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dagent", live_pods_on, "n1,n4,n5",
			     "a pod on the new node n5"));
	/* a node that stops matching loses it */
	fx_patch("/api/v1/nodes/n1", "{\"metadata\":{\"labels\":{\"role\":null}}}");
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dagent", live_pods_on, "n4,n5",
			     "the pod on n1 deleted"));
	/* an untolerated NoExecute taint evicts */
	fx_patch("/api/v1/nodes/n4", "{\"spec\":{\"taints\":[{\"key\":\"evict\",\"effect\":\"NoExecute\"}]}}");
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dagent", live_pods_on, "n5",
			     "the pod on n4 evicted"));
	/* a toleration in the template lets the pod onto the tainted n2 */
	fx_patch(DS "/agent", "{\"spec\":{\"template\":{\"spec\":{\"tolerations\":[{\"key\":\"dedicated\","
			      "\"operator\":\"Equal\",\"value\":\"db\",\"effect\":\"NoSchedule\"}]}}}}");
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dagent", live_pods_on, "n2,n5",
			     "a pod on n2 once the taint is tolerated"));
}
END_TEST

/* Marks every live, bound daemon pod of app that is not ready yet Running+Ready. */
static void ready_all(const char *app)
{
	char *path = mk_strdup_printf(PODS "?labelSelector=app%%3D%s", app);
	cJSON *list = fx_get(path);
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
	{
		const char *node = mk_json_get_string(p, "spec.nodeName");
		if (mk_json_get(p, "metadata.deletionTimestamp") || !node || !*node ||
		    mk_controller_pod_ready(p))
			continue;
		fx_pod_running("default", mk_json_get_string(p, "metadata.name"), "10.0.0.9", true);
	}
	cJSON_Delete(list);
	free(path);
}

struct roll {
	const char *old_hash;
	int min_available;  /* the invariant: available (old live or new ready) pods */
	int want_new_ready; /* stop when this many new pods are ready */
	int violations;
};

static bool roll_step(const cJSON *list, const void *arg)
{
	struct roll *r = (struct roll *)arg;
	int avail = 0, new_ready = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
	{
		const char *h = mk_json_get_string(cJSON_GetObjectItem(mk_json_get(p, "metadata.labels"),
								       "controller-revision-hash"), "");
		bool live = !mk_json_get(p, "metadata.deletionTimestamp");
		bool is_old = h && !strcmp(h, r->old_hash);
		if (live && mk_controller_pod_ready(p))
			avail++;
		if (live && !is_old && mk_controller_pod_ready(p))
			new_ready++;
	}
	if (avail < r->min_available)
		r->violations++;
	return new_ready >= r->want_new_ready;
}

static char *first_hash(const char *app)
{
	char *path = mk_strdup_printf(PODS "?labelSelector=app%%3D%s", app);
	cJSON *list = fx_get(path);
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
	char *h = mk_strdup(mk_json_get_string(cJSON_GetObjectItem(mk_json_get(p, "metadata.labels"),
								   "controller-revision-hash"), ""));
	cJSON_Delete(list);
	free(path);
	return h;
}

/* Rolls app to image x:2 step by step, readying new pods as they come; checks
 * that at least min_available pods stay ready at every observation. */
static void roll(const char *app, int nodes, int min_available)
{
	char *path = mk_strdup_printf(PODS "?labelSelector=app%%3D%s", app);
	char *dspath = mk_strdup_printf(DS "/%s", app);
	char *old = first_hash(app);
	fx_patch(dspath, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:2\"}]}}}}");
	struct roll r = { .old_hash = old, .min_available = min_available };
	for (int step = 1; step <= nodes; step++) {
		r.want_new_ready = step;
		/* wait for the next new pod to exist and be bound, then ready it */
		for (int i = 0; i < 500; i++) {
			cJSON *l = fx_get(path);
			bool done = roll_step(l, &r);
			cJSON_Delete(l);
			if (done)
				break;
			ready_all(app);
			usleep(20000);
		}
		cJSON *list = fx_get(path);
		ck_assert_msg(roll_step(list, &r), "step %d of the rollout never completed", step);
		cJSON_Delete(list);
	}
	ck_assert_int_eq(r.violations, 0);
	char want[64];
	snprintf(want, sizeof(want), "%d %d %d %d %d 0", nodes, nodes, nodes, nodes, nodes);
	cJSON_Delete(fx_wait(dspath, status_is, want, "rolled out: all updated and available"));
	free(old);
	free(dspath);
	free(path);
}

START_TEST(test_ds_rolling_max_unavailable)
{
	fx_node("a", NULL, NULL);
	fx_node("b", NULL, NULL);
	fx_node("c", NULL, NULL);
	make_ds("ru", NULL, NULL);
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dru", live_pods_on, "a,b,c", "3 pods"));
	ready_all("ru");
	cJSON_Delete(fx_wait(DS "/ru", status_is, "3 3 3 3 3 0", "3 ready"));
	/* maxUnavailable 1 (the default): never fewer than 2 ready */
	roll("ru", 3, 2);
}
END_TEST

START_TEST(test_ds_rolling_max_surge)
{
	fx_node("a", NULL, NULL);
	fx_node("b", NULL, NULL);
	make_ds("su", "\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1,"
		      "\"maxUnavailable\":0}}", NULL);
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dsu", live_pods_on, "a,b", "2 pods"));
	ready_all("su");
	cJSON_Delete(fx_wait(DS "/su", status_is, "2 2 2 2 2 0", "2 ready"));
	/* maxUnavailable 0: every node keeps a ready pod throughout */
	roll("su", 2, 2);
}
END_TEST

static bool image_on_all(const cJSON *list, const void *arg)
{
	int n = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
	{
		if (mk_json_get(p, "metadata.deletionTimestamp"))
			continue;
		const cJSON *c = cJSON_GetArrayItem(mk_json_get(p, "spec.containers"), 0);
		if (strcmp(mk_json_get_string(c, "image") ?: "", arg))
			return false;
		n++;
	}
	return n == 2;
}

START_TEST(test_ds_on_delete)
{
	fx_node("a", NULL, NULL);
	fx_node("b", NULL, NULL);
	make_ds("od", "\"updateStrategy\":{\"type\":\"OnDelete\"}", NULL);
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dod", live_pods_on, "a,b", "2 pods"));
	ready_all("od");
	fx_patch(DS "/od", "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x:2\"}]}}}}");
	/* the controller saw the new generation: nothing updated, nothing deleted */
	cJSON_Delete(fx_wait(DS "/od", status_is, "2 2 2 0 2 0", "generation observed, 0 updated"));
	cJSON *list = fx_get(PODS "?labelSelector=app%3Dod");
	ck_assert(image_on_all(list, "x:1"));
	/* a deleted pod comes back with the new template */
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
	char *node = mk_strdup(mk_json_get_string(p, "spec.nodeName"));
	char *path = mk_strdup_printf(PODS "/%s", mk_json_get_string(p, "metadata.name"));
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_delete(fx_cli, path, NULL, NULL, &err), 0);
	cJSON_Delete(list);
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dod", live_pods_on, "a,b", "the pod replaced"));
	list = fx_get(PODS "?labelSelector=app%3Dod");
	int x2 = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
	{
		if (mk_json_get(p, "metadata.deletionTimestamp"))
			continue;
		const char *img = mk_json_get_string(cJSON_GetArrayItem(mk_json_get(p, "spec.containers"), 0), "image");
		if (!strcmp(img, "x:2")) {
			x2++;
			ck_assert_str_eq(mk_json_get_string(p, "spec.nodeName"), node);
		}
	}
	ck_assert_int_eq(x2, 1);
	cJSON_Delete(list);
	free(path);
	free(node);
}
END_TEST

static bool owned_by_ds(const cJSON *pod, const void *name)
{
	const cJSON *ref = mk_api_controller_ref(pod);
	return ref && !strcmp(mk_json_get_string(ref, "kind") ?: "", "DaemonSet") &&
	       !strcmp(mk_json_get_string(ref, "name") ?: "", name);
}

static bool terminating(const cJSON *pod, const void *unused)
{
	return pod && mk_json_get(pod, "metadata.deletionTimestamp");
}

static bool not_owned(const cJSON *pod, const void *unused)
{
	return pod && !mk_api_controller_ref(pod);
}

START_TEST(test_ds_adopt_release)
{
	fx_node("a", NULL, NULL);
	fx_node("b", NULL, NULL);
	/* a pod left behind (kubectl delete ds --cascade=orphan), already on node a */
	fx_create(PODS, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"stray\",\"labels\":"
			"{\"app\":\"ad\"}},\"spec\":{\"nodeName\":\"a\",\"containers\":[{\"name\":\"c\",\"image\":\"x:1\"}]}}");
	make_ds("ad", NULL, NULL);
	cJSON_Delete(fx_wait(PODS "/stray", owned_by_ds, "ad", "the orphan adopted"));
	/* it lacks the current template's hash: rolled like an old pod (it is not
	 * available, so at once), a new one takes node a */
	cJSON_Delete(fx_wait(PODS "/stray", terminating, NULL, "the adopted old pod replaced"));
	cJSON *list = fx_wait(PODS "?labelSelector=app%3Dad", live_pods_on, "a,b", "one pod per node");
	const cJSON *p, *on_b = NULL;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
		if (!strcmp(mk_json_get_string(p, "spec.nodeName"), "b"))
			on_b = p;
	ck_assert_ptr_nonnull(on_b);
	/* a pod relabelled out of the selector is released, and its node gets a new one */
	char *path = mk_strdup_printf(PODS "/%s", mk_json_get_string(on_b, "metadata.name"));
	fx_patch(path, "{\"metadata\":{\"labels\":{\"app\":\"debug\"}}}");
	cJSON_Delete(fx_wait(path, not_owned, NULL, "the relabelled pod released"));
	cJSON_Delete(fx_wait(PODS "?labelSelector=app%3Dad", live_pods_on, "a,b", "node b gets a new pod"));
	free(path);
	cJSON_Delete(list);
}
END_TEST

/* ---- pure predicates ---- */

static cJSON *node_json(const char *name, const char *labels, const char *taints)
{
	char *j = mk_strdup_printf("{\"metadata\":{\"name\":\"%s\",\"labels\":%s},\"spec\":{\"taints\":%s}}",
				   name, labels, taints ? taints : "[]");
	cJSON *n = cJSON_Parse(j);
	free(j);
	return n;
}

static bool affinity(const char *spec_json, const cJSON *node)
{
	cJSON *s = cJSON_Parse(spec_json);
	ck_assert_ptr_nonnull(s);
	bool r = mk_controller_node_affinity_matches(s, node);
	cJSON_Delete(s);
	return r;
}

#define REQ(terms) \
	"{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":" terms "}}}}"

START_TEST(test_node_affinity)
{
	cJSON *n = node_json("w1", "{\"zone\":\"a\",\"cores\":\"8\",\"ssd\":\"\"}", NULL);
	ck_assert(affinity("{}", n));
	ck_assert(affinity("{\"nodeSelector\":{\"zone\":\"a\"}}", n));
	ck_assert(!affinity("{\"nodeSelector\":{\"zone\":\"b\"}}", n));
	ck_assert(affinity(REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"b\",\"a\"]}]}]"), n));
	ck_assert(!affinity(REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}]"), n));
	ck_assert(affinity(REQ("[{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}]"), n));
	ck_assert(affinity(REQ("[{\"matchExpressions\":[{\"key\":\"ssd\",\"operator\":\"Exists\"}]}]"), n));
	ck_assert(!affinity(REQ("[{\"matchExpressions\":[{\"key\":\"ssd\",\"operator\":\"DoesNotExist\"}]}]"), n));
	ck_assert(affinity(REQ("[{\"matchExpressions\":[{\"key\":\"cores\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}]"), n));
	ck_assert(!affinity(REQ("[{\"matchExpressions\":[{\"key\":\"cores\",\"operator\":\"Lt\",\"values\":[\"4\"]}]}]"), n));
	ck_assert(!affinity(REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Gt\",\"values\":[\"4\"]}]}]"), n));
	/* expressions of a term are ANDed, terms ORed; an empty term matches nothing */
	ck_assert(!affinity(REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\"]},"
				"{\"key\":\"cores\",\"operator\":\"Lt\",\"values\":[\"4\"]}]}]"), n));
	ck_assert(affinity(REQ("[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"z\"]}]},"
			       "{\"matchExpressions\":[{\"key\":\"cores\",\"operator\":\"Gt\",\"values\":[\"7\"]}]}]"), n));
	ck_assert(!affinity(REQ("[{}]"), n));
	ck_assert(!affinity(REQ("[]"), n));
	/* matchFields on metadata.name */
	ck_assert(affinity(REQ("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"w1\"]}]}]"), n));
	ck_assert(!affinity(REQ("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"w2\"]}]}]"), n));
	ck_assert(!affinity(REQ("[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"NotIn\",\"values\":[\"w1\"]}]}]"), n));
	/* nodeSelector and affinity both apply */
	ck_assert(!affinity("{\"nodeSelector\":{\"zone\":\"b\"},\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			    "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}]}}}}", n));
	cJSON_Delete(n);
}
END_TEST

START_TEST(test_daemon_should_run)
{
	cJSON *ns = node_json("t", "{}", "[{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoSchedule\"}]");
	cJSON *ne = node_json("t", "{}", "[{\"key\":\"k\",\"value\":\"v\",\"effect\":\"NoExecute\"}]");
	cJSON *np = node_json("t", "{}", "[{\"key\":\"k\",\"value\":\"v\",\"effect\":\"PreferNoSchedule\"}]");
	cJSON *none = cJSON_Parse("{\"containers\":[]}");
	cJSON *eq = cJSON_Parse("{\"tolerations\":[{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\"}]}");
	cJSON *wrong = cJSON_Parse("{\"tolerations\":[{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"w\"}]}");
	cJSON *all = cJSON_Parse("{\"tolerations\":[{\"operator\":\"Exists\"}]}");
	cJSON *ns_only = cJSON_Parse("{\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]}");
	bool cont;
	/* NoSchedule: not placed, but a pod already there stays */
	ck_assert(!mk_controller_daemon_should_run(none, ns, &cont));
	ck_assert(cont);
	/* NoExecute: not placed and evicted */
	ck_assert(!mk_controller_daemon_should_run(none, ne, &cont));
	ck_assert(!cont);
	/* PreferNoSchedule does not keep a daemon pod away */
	ck_assert(mk_controller_daemon_should_run(none, np, &cont));
	ck_assert(mk_controller_daemon_should_run(eq, ns, &cont) && cont);
	ck_assert(mk_controller_daemon_should_run(eq, ne, &cont) && cont);
	ck_assert(!mk_controller_daemon_should_run(wrong, ns, &cont));
	ck_assert(mk_controller_daemon_should_run(all, ne, &cont) && cont);
	ck_assert(mk_controller_daemon_should_run(ns_only, ns, &cont));
	ck_assert(!mk_controller_daemon_should_run(ns_only, ne, &cont));
	ck_assert(!cont);
	/* spec.nodeName restricts to that node */
	cJSON *named = cJSON_Parse("{\"nodeName\":\"other\"}");
	ck_assert(!mk_controller_daemon_should_run(named, np, &cont));
	cJSON *nodes[] = { ns, ne, np, none, eq, wrong, all, ns_only, named };
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		cJSON_Delete(nodes[i]);
}
END_TEST

Suite *daemonset_suite(void)
{
	Suite *s = suite_create("daemonset");
	TCase *tc = tcase_create("daemonset");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_ds_placement);
	tcase_add_test(tc, test_ds_rolling_max_unavailable);
	tcase_add_test(tc, test_ds_rolling_max_surge);
	tcase_add_test(tc, test_ds_on_delete);
	tcase_add_test(tc, test_ds_adopt_release);
	suite_add_tcase(s, tc);
	TCase *pure = tcase_create("predicates");
	tcase_add_test(pure, test_node_affinity);
	tcase_add_test(pure, test_daemon_should_run);
	suite_add_tcase(s, pure);
	return s;
}
