/* DaemonSet benchmark client (run by bench/daemonset/run.sh against a running
 * `minik8s server` with its controllers and scheduler), on NODES simulated Ready
 * nodes. A simulated kubelet (a pod watch) gives each newly bound pod an IP and
 * Ready=True with one PATCH, and removes terminating pods (DELETE with
 * gracePeriodSeconds=0), which is what the node agents would do.
 *
 *  1. direct: NODES pods created straight through the API, one per node (pinned by
 *     the same node affinity a daemon pod carries, so the scheduler does the same
 *     work): time from the first POST to all NODES Ready (seen on the pod watch).
 *  2. daemonset: a DaemonSet created: time to all NODES daemon pods Ready, and to
 *     the DaemonSet's status reporting numberAvailable = NODES.
 *  3. rollout: the DaemonSet's template changed (maxUnavailable 1, the default, and
 *     then 10%): time until status shows every node updated and available.
 *
 * Usage: dsbench URL TOKEN CAFILE NODES
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "minik8s/client.h"
#include "../lib/watch.h"

static struct mk_client *cli;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ipseq;
static int ready_direct, ready_ds; /* Ready pods by app label */
static int ds_gen, ds_obs, ds_avail, ds_updated, ds_desired;

static uint64_t now_ns(void) { return mk_time_mono_ns(); }

static double num(const cJSON *obj, const char *path)
{
	const cJSON *j = mk_json_get(obj, path);
	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static void api_patch(const char *path, const char *body)
{
	cJSON *patch = cJSON_Parse(body);
	struct mk_error *err = NULL;
	if (mk_client_patch(cli, path, "application/strategic-merge-patch+json", patch, NULL, &err) < 0) {
		if (err->code != 404)
			fprintf(stderr, "patch %s: %s\n", path, err->msg);
		mk_error_free(&err);
	}
	cJSON_Delete(patch);
}

static const char *app_of(const cJSON *pod)
{
	return mk_json_get_string(mk_json_get(pod, "metadata.labels"), "app") ?: "";
}

static bool is_ready(const cJSON *pod)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
		if (!strcmp(mk_json_get_string(c, "type") ?: "", "Ready"))
			return !strcmp(mk_json_get_string(c, "status") ?: "", "True");
	return false;
}

/* Ready pods per app: name -> app, kept from the watch (adds and removals). */
static struct mk_hmap readyset;

static void count(const char *name, const char *app, bool ready)
{
	bool had = mk_hmap_has(&readyset, name);
	if (ready == had)
		return;
	int d = ready ? 1 : -1;
	if (ready)
		mk_hmap_put(&readyset, name, mk_strdup(app));
	else
		free(mk_hmap_del(&readyset, name));
	if (!strcmp(app, "direct"))
		ready_direct += d;
	else if (!strcmp(app, "ds"))
		ready_ds += d;
	pthread_cond_broadcast(&cond);
}

/* the simulated kubelet */
static int on_pod(const char *type, const cJSON *pod, void *ud)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	bool deleting = mk_json_get(pod, "metadata.deletionTimestamp") != NULL;
	pthread_mutex_lock(&mu);
	count(name, app_of(pod), !strcmp(type, "DELETED") ? false : is_ready(pod) && !deleting);
	int n = ++ipseq;
	pthread_mutex_unlock(&mu);
	if (!strcmp(type, "DELETED") || !node || !*node)
		return 0;
	char *path = mk_strdup_printf("/api/v1/namespaces/default/pods/%s", name);
	if (deleting) {
		char *p = mk_strdup_printf("%s?gracePeriodSeconds=0", path);
		struct mk_error *err = NULL;
		if (mk_client_delete(cli, p, NULL, NULL, &err) < 0)
			mk_error_free(&err);
		free(p);
	} else if (!mk_json_get_string(pod, "status.podIP")) {
		char ts[32], *st = mk_strdup_printf("%s/status", path);
		mk_time_format(time(NULL), ts, sizeof(ts));
		char *body = mk_strdup_printf(
			"{\"status\":{\"podIP\":\"10.244.%d.%d\",\"phase\":\"Running\",\"conditions\":[{\"type\":"
			"\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"%s\"}]}}",
			(n / 250) % 250, n % 250 + 2, ts);
		api_patch(st, body);
		free(body);
		free(st);
	}
	free(path);
	return 0;
}

static int on_ds(const char *type, const cJSON *ds, void *ud)
{
	pthread_mutex_lock(&mu);
	ds_gen = (int)num(ds, "metadata.generation");
	ds_obs = (int)num(ds, "status.observedGeneration");
	ds_avail = (int)num(ds, "status.numberAvailable");
	ds_updated = (int)num(ds, "status.updatedNumberScheduled");
	ds_desired = (int)num(ds, "status.desiredNumberScheduled");
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	return 0;
}

/* waits (bounded) until pred() holds; 1 ok, 0 timeout */
static int wait_for(int (*pred)(int), int n, int timeout_ms)
{
	struct timespec ts = bench_deadline(timeout_ms);
	pthread_mutex_lock(&mu);
	int ok;
	while (!(ok = pred(n)))
		if (pthread_cond_timedwait(&cond, &mu, &ts) == ETIMEDOUT)
			break;
	ok = pred(n);
	pthread_mutex_unlock(&mu);
	return ok;
}

static int pred_direct(int n) { return ready_direct >= n; }
static int pred_ds_pods(int n) { return ready_ds >= n; }
static int pred_ds_avail(int n) { return ds_obs == ds_gen && ds_desired == n && ds_avail == n; }
static int min_gen; /* the generation a rollout waits for */
static int pred_rolled(int n)
{
	return ds_gen >= min_gen && ds_obs == ds_gen && ds_desired == n && ds_updated == n && ds_avail == n;
}

static int create(const char *path, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	struct mk_error *err = NULL;
	int r = mk_client_create(cli, path, o, NULL, &err);
	if (r < 0) {
		fprintf(stderr, "create %s: %s\n", path, err->msg);
		mk_error_free(&err);
	}
	cJSON_Delete(o);
	return r;
}

static double ms(uint64_t a, uint64_t b) { return (b - a) / 1e6; }

static int rollout(int n, int version, const char *max_unavailable)
{
	char *body = mk_strdup_printf(
		"{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":%s}},\"template\":{\"spec\":"
		"{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":[{\"name\":\"V\",\"value\":\"%d\"}]}]}}}}",
		max_unavailable, version);
	pthread_mutex_lock(&mu);
	min_gen = ds_gen + 1;
	pthread_mutex_unlock(&mu);
	uint64_t t0 = now_ns();
	api_patch("/apis/apps/v1/namespaces/default/daemonsets/ds", body);
	free(body);
	/* the status must be of the new generation (min_gen) */
	if (!wait_for(pred_rolled, n, 300000)) {
		fprintf(stderr, "rollout: %d/%d updated, %d available after 300 s\n", ds_updated, n, ds_avail);
		return -1;
	}
	uint64_t t1 = now_ns();
	printf("daemonset rollout, maxUnavailable %s: all %d nodes updated+available %.1f ms (%.1f ms per node)\n",
	       max_unavailable, n, ms(t0, t1), ms(t0, t1) / n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: dsbench URL TOKEN CAFILE NODES\n");
		return 2;
	}
	int n = atoi(argv[4]);
	struct mk_client_config *cfg = mk_client_config_new(argv[1], argv[2], argv[3]);
	struct mk_error *err = NULL;
	cfg->timeout_ms = 30000;
	if (n < 1 || mk_client_new(cfg, &cli, &err) < 0) {
		fprintf(stderr, "client: %s\n", err ? err->msg : "NODES must be >= 1");
		return 1;
	}
	mk_client_config_free(cfg);
	mk_hmap_init(&readyset);

	char ts[32];
	mk_time_format(time(NULL), ts, sizeof(ts));
	for (int i = 0; i < n; i++) {
		char *j = mk_strdup_printf(
			"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"bench-%03d\"},"
			"\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\","
			"\"lastHeartbeatTime\":\"%s\",\"lastTransitionTime\":\"%s\"}]}}", i, ts, ts);
		int r = create("/api/v1/nodes", j);
		free(j);
		if (r < 0)
			return 1;
	}

	struct bench_watch wp, wd;
	bench_watch_start(&wp, cli, "/api/v1/namespaces/default/pods", on_pod);
	bench_watch_start(&wd, cli, "/apis/apps/v1/namespaces/default/daemonsets?fieldSelector=metadata.name%3Dds", on_ds);

	/* 1. the same number of pods straight through the API */
	uint64_t t0 = now_ns();
	for (int i = 0; i < n; i++) {
		char *j = mk_strdup_printf(
			"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"direct-%03d\",\"labels\":{\"app\":\"direct\"}},"
			"\"spec\":{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
			"{\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":"
			"[\"bench-%03d\"]}]}]}}},\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}", i, i);
		int r = create("/api/v1/namespaces/default/pods", j);
		free(j);
		if (r < 0)
			return 1;
	}
	uint64_t t_posted = now_ns();
	if (!wait_for(pred_direct, n, 120000)) {
		fprintf(stderr, "direct: only %d/%d ready after 120 s\n", ready_direct, n);
		return 1;
	}
	uint64_t t1 = now_ns();
	printf("direct: %d pods POSTed one by one %.1f ms, all Ready %.1f ms\n", n, ms(t0, t_posted), ms(t0, t1));

	/* 2. the daemonset */
	t0 = now_ns();
	if (create("/apis/apps/v1/namespaces/default/daemonsets",
		   "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"ds\"},"
		   "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"ds\"}},\"template\":{\"metadata\":"
		   "{\"labels\":{\"app\":\"ds\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}") < 0)
		return 1;
	if (!wait_for(pred_ds_pods, n, 120000)) {
		fprintf(stderr, "daemonset: only %d/%d pods ready after 120 s\n", ready_ds, n);
		return 1;
	}
	t1 = now_ns();
	if (!wait_for(pred_ds_avail, n, 60000)) {
		fprintf(stderr, "daemonset: status shows %d/%d available after 60 s\n", ds_avail, n);
		return 1;
	}
	uint64_t t2 = now_ns();
	printf("daemonset: %d pods Ready %.1f ms, status numberAvailable=%d %.1f ms\n", n, ms(t0, t1), n,
	       ms(t0, t2));

	/* 3. rollouts */
	int rc = rollout(n, 2, "1") < 0 || rollout(n, 3, "\"10%\"") < 0 ? 1 : 0;
	bench_watch_stop(&wp);
	bench_watch_stop(&wd);
	mk_client_free(cli);
	return rc;
}
