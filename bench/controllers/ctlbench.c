/* Controller benchmark client (run by bench/controllers/run.sh against a running
 * `minik8s server` with its controllers):
 *
 *  1. scale: a deployment on one Ready node is scaled from 1 to N replicas; a simulated
 *     kubelet (a pod watch that gives each newly bound pod an IP and Ready=True, one PATCH
 *     each) stands in for the agent. Reported: time from the scale PATCH to all N pods
 *     created and bound (seen on the pod watch), and to deployment status readyReplicas=N
 *     (seen on the deployment watch) — the latter includes the simulated kubelet's writes.
 *  2. endpoints: one pod is flipped Ready=False then Ready=True; reported is the time from
 *     the Ready=True PATCH to the Endpoints watch showing its IP in addresses (repeated).
 *
 * Usage: ctlbench URL TOKEN CAFILE N ROUNDS
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "minik8s/client.h"
#include "../lib/watch.h"

static struct mk_client *cli;
static int want_n;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char *bound[4096];
static int nbound, ipseq;
static uint64_t t_bound, t_ready;
static int ready_now;
static char ep_ready[65536];	/* " ip ip ... " of the Endpoints' ready addresses */

static uint64_t now_ns(void) { return mk_time_mono_ns(); }

static void set_ready(const char *name, const char *ip, bool ready)
{
	char ts[32];
	mk_time_format(time(NULL), ts, sizeof(ts));
	char *path = mk_strdup_printf("/api/v1/namespaces/default/pods/%s/status", name);
	char *body = mk_strdup_printf(
		"{\"status\":{%s%s%s\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\","
		"\"lastTransitionTime\":\"%s\"}]}}",
		ip ? "\"podIP\":\"" : "", ip ? ip : "", ip ? "\"," : "", ready ? "True" : "False", ts);
	cJSON *patch = cJSON_Parse(body);
	struct mk_error *err = NULL;
	if (mk_client_patch(cli, path, "application/strategic-merge-patch+json", patch, NULL, &err) < 0) {
		fprintf(stderr, "patch %s: %s\n", path, err->msg);
		mk_error_free(&err);
	}
	cJSON_Delete(patch);
	free(body);
	free(path);
}

/* the simulated kubelet + bound counter */
static int on_pod(const char *type, const cJSON *pod, void *ud)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED"))
		return 0;
	if (!node || !*node || mk_json_get(pod, "metadata.deletionTimestamp"))
		return 0;
	pthread_mutex_lock(&mu);
	int seen = 0;
	for (int i = 0; i < nbound; i++)
		if (!strcmp(bound[i], name))
			seen = 1;
	if (!seen && nbound < 4096) {
		bound[nbound++] = mk_strdup(name);
		if (nbound == want_n && !t_bound)
			t_bound = now_ns();
	}
	int n = ++ipseq;
	pthread_mutex_unlock(&mu);
	if (!mk_json_get_string(pod, "status.podIP")) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.244.%d.%d", n / 250, n % 250 + 2);
		set_ready(name, ip, true);
	}
	return 0;
}

static int on_deploy(const char *type, const cJSON *d, void *ud)
{
	const cJSON *r = mk_json_get(d, "status.readyReplicas");
	pthread_mutex_lock(&mu);
	ready_now = cJSON_IsNumber(r) ? r->valueint : 0;
	if (ready_now == want_n && want_n > 1 && !t_ready)
		t_ready = now_ns();
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	return 0;
}

static int on_ep(const char *type, const cJSON *ep, void *ud)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, " ");
	const cJSON *s, *a;
	cJSON_ArrayForEach(s, mk_json_get(ep, "subsets"))
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(s, "addresses"))
			mk_buf_printf(&b, "%s ", mk_json_get_string(a, "ip"));
	pthread_mutex_lock(&mu);
	snprintf(ep_ready, sizeof(ep_ready), "%s", b.data);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	mk_buf_release(&b);
	return 0;
}

/* waits (bounded) until pred() holds; 1 ok, 0 timeout */
static int wait_for(int (*pred)(void *), void *arg, int timeout_ms)
{
	struct timespec ts = bench_deadline(timeout_ms);
	pthread_mutex_lock(&mu);
	int ok;
	while (!(ok = pred(arg)))
		if (pthread_cond_timedwait(&cond, &mu, &ts) == ETIMEDOUT)
			break;
	ok = pred(arg);
	pthread_mutex_unlock(&mu);
	return ok;
}

static int pred_ready(void *arg) { return ready_now >= *(int *)arg; }
static int pred_ep_has(void *arg)
{
	char needle[64];
	snprintf(needle, sizeof(needle), " %s ", (const char *)arg);
	return strstr(ep_ready, needle) != NULL;
}
static int pred_ep_lacks(void *arg) { return !pred_ep_has(arg); }

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: ctlbench URL TOKEN CAFILE N ROUNDS\n");
		return 2;
	}
	int n = atoi(argv[4]), rounds = atoi(argv[5]);
	struct mk_client_config *cfg = mk_client_config_new(argv[1], argv[2], argv[3]);
	struct mk_error *err = NULL;
	cfg->timeout_ms = 30000;
	if (mk_client_new(cfg, &cli, &err) < 0) {
		fprintf(stderr, "client: %s\n", err->msg);
		return 1;
	}
	mk_client_config_free(cfg);

	struct bench_watch wp, wd, we;
	bench_watch_start(&wp, cli, "/api/v1/namespaces/default/pods", on_pod);
	bench_watch_start(&wd, cli, "/apis/apps/v1/namespaces/default/deployments?fieldSelector=metadata.name%3Dbench", on_deploy);
	bench_watch_start(&we, cli, "/api/v1/namespaces/default/endpoints?fieldSelector=metadata.name%3Dbench", on_ep);

	cJSON *d = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"bench\"},"
			       "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"bench\"}},"
			       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"bench\"}},\"spec\":{\"containers\":"
			       "[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]}}}}");
	cJSON *svc = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"bench\"},"
				 "\"spec\":{\"selector\":{\"app\":\"bench\"},\"ports\":[{\"port\":80,\"targetPort\":\"http\"}]}}");
	if (mk_client_create(cli, "/apis/apps/v1/namespaces/default/deployments", d, NULL, &err) < 0 ||
	    mk_client_create(cli, "/api/v1/namespaces/default/services", svc, NULL, &err) < 0) {
		fprintf(stderr, "create: %s\n", err->msg);
		return 1;
	}
	cJSON_Delete(d);
	cJSON_Delete(svc);
	int one = 1;
	if (!wait_for(pred_ready, &one, 20000)) {
		fprintf(stderr, "the first replica never became ready\n");
		return 1;
	}

	/* 1. scale 1 -> n */
	pthread_mutex_lock(&mu);
	want_n = n;
	pthread_mutex_unlock(&mu);
	cJSON *sc = cJSON_CreateObject();
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(sc, "spec"), "replicas", n);
	uint64_t t0 = now_ns();
	if (mk_client_patch(cli, "/apis/apps/v1/namespaces/default/deployments/bench/scale",
			    "application/merge-patch+json", sc, NULL, &err) < 0) {
		fprintf(stderr, "scale: %s\n", err->msg);
		return 1;
	}
	cJSON_Delete(sc);
	if (!wait_for(pred_ready, &n, 120000)) {
		fprintf(stderr, "only %d/%d ready after 120 s\n", ready_now, n);
		return 1;
	}
	printf("scale 1->%d: all pods created+bound %.1f ms, deployment %d/%d ready %.1f ms\n", n,
	       (t_bound - t0) / 1e6, n, n, (t_ready - t0) / 1e6);

	/* 2. endpoint update latency: pod Ready -> Endpoints address */
	uint64_t *lat = calloc((size_t)rounds, sizeof(*lat));
	int ok = 0;
	for (int r = 0; r < rounds; r++) {
		char name[256], ip[64];
		pthread_mutex_lock(&mu);
		snprintf(name, sizeof(name), "%s", bound[r % nbound]);
		pthread_mutex_unlock(&mu);
		char *path = mk_strdup_printf("/api/v1/namespaces/default/pods/%s", name);
		cJSON *pod = NULL;
		if (mk_client_get(cli, path, &pod, &err) < 0) {
			mk_error_free(&err);
			free(path);
			continue;
		}
		snprintf(ip, sizeof(ip), "%s", mk_json_get_string(pod, "status.podIP") ?: "");
		cJSON_Delete(pod);
		free(path);
		set_ready(name, NULL, false);
		if (!wait_for(pred_ep_lacks, ip, 10000))
			continue;
		uint64_t s = now_ns();
		set_ready(name, NULL, true);
		if (!wait_for(pred_ep_has, ip, 10000))
			continue;
		lat[ok++] = now_ns() - s;
	}
	qsort(lat, (size_t)ok, sizeof(*lat), cmp_u64);
	if (ok)
		printf("endpoints: pod Ready -> address in Endpoints (watch), %d rounds: p50 %.2f ms, p90 %.2f ms, max %.2f ms\n",
		       ok, lat[ok / 2] / 1e6, lat[(ok * 9) / 10 < ok ? (ok * 9) / 10 : ok - 1] / 1e6, lat[ok - 1] / 1e6);
	else
		printf("endpoints: no round completed\n");
	free(lat);
	bench_watch_stop(&wp);
	bench_watch_stop(&wd);
	bench_watch_stop(&we);
	mk_client_free(cli);
	return ok ? 0 : 1;
}
