/* Bindings/s through the server with nothing else going on (run by
 * bench/sched/run.sh against a `minik8s server` that has no nodes yet):
 *
 *  1. create PODS pods in namespace "held" (16 clients); with no node, the
 *     scheduler finds each one unschedulable (PodScheduled=False, a
 *     FailedScheduling event) and parks it. The run waits until every pod shows
 *     PodScheduled=False and the events stop growing, so the scheduler is idle;
 *  2. start the hollow agent (AGENT-CMD, output to LOG): its nodes come up, the
 *     scheduler moves the parked pods back and binds them all. Measured, as
 *     kube-scheduler's scheduler_perf measures throughput with no creates
 *     competing: from the first binding to the last (seen on a watch), and from
 *     the agent's start to the last.
 * Prints "key value" lines, the agent's pid among them (it keeps running: the
 * caller stops it).
 *
 * Usage: bindbench URL TOKEN CAFILE PODS LOG AGENT-CMD [ARGS...] */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/client.h"

#define CREATORS 16
#define NS "held"
#define PODS_PATH "/api/v1/namespaces/" NS "/pods"

static struct mk_client *cli;
static int npods;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct mk_hmap bound_set, parked_set;
static int nbound, nparked;
static uint64_t t_first_bound, t_all_bound;
static atomic_int next_pod;

static uint64_t now_us(void) { return mk_time_mono_ns() / 1000; }

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bindbench: %s: %s\n", what, msg ? msg : "?");
	exit(1);
}

static bool unschedulable(const cJSON *pod)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
	{
		const char *t = mk_json_get_string(c, "type"), *s = mk_json_get_string(c, "status");
		if (t && s && !strcmp(t, "PodScheduled") && !strcmp(s, "False"))
			return true;
	}
	return false;
}

static int on_pod(const char *type, const cJSON *pod, void *ud)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	if (!name || (strcmp(type, "ADDED") && strcmp(type, "MODIFIED")))
		return 0;
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	pthread_mutex_lock(&mu);
	if (node && *node && !mk_hmap_has(&bound_set, name)) {
		mk_hmap_put(&bound_set, name, NULL);
		if (nbound++ == 0)
			t_first_bound = now_us();
		if (nbound == npods)
			t_all_bound = now_us();
	}
	if (unschedulable(pod) && !mk_hmap_has(&parked_set, name)) {
		mk_hmap_put(&parked_set, name, NULL);
		nparked++;
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	return 0;
}

struct watcher {
	struct mk_client_watch *w;
	char *rv;
	pthread_t th;
};

static void *watch_main(void *p)
{
	struct watcher *w = p;
	const char *rv = w->rv;
	while (!mk_client_watch_cancelled(w->w)) {
		struct mk_error *err = NULL;
		mk_client_watch_run(cli, w->w, PODS_PATH, rv, 300, NULL, on_pod, NULL, &err);
		mk_error_free(&err);
		rv = mk_client_watch_resource_version(w->w);
	}
	return NULL;
}

/* The number of objects at path (a list of one, and its remainingItemCount). */
static long count(const char *path)
{
	cJSON *l = NULL;
	struct mk_error *err = NULL;
	_cleanup_free_ char *p = mk_strdup_printf("%s?limit=1", path);
	if (mk_client_get(cli, p, &l, &err) < 0)
		die("list", err->msg);
	long n = cJSON_GetArraySize(cJSON_GetObjectItem(l, "items"));
	cJSON *rem = mk_json_get(l, "metadata.remainingItemCount");
	if (cJSON_IsNumber(rem))
		n += (long)rem->valuedouble;
	cJSON_Delete(l);
	return n;
}

static void *creator_main(void *unused)
{
	for (;;) {
		int i = atomic_fetch_add(&next_pod, 1);
		if (i >= npods)
			return NULL;
		char body[512];
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"h-%d\","
			 "\"labels\":{\"app\":\"held\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
			 "\"image\":\"registry.k8s.io/pause:3.10\"}]}}", i);
		struct mk_client_request req = { .method = "POST", .path = PODS_PATH, .body = body };
		struct mk_client_response res = { 0 };
		struct mk_error *err = NULL;
		if (mk_client_do(cli, &req, &res, &err) < 0 || res.code != 201)
			die("create", err ? err->msg : res.body);
		mk_client_response_release(&res);
	}
}

/* Waits (at most ms) until pred holds under mu; false on time-out. */
static bool wait_for(bool (*pred)(void), int ms)
{
	struct timespec ts;
	mk_time_mono_deadline(&ts, ms);
	pthread_mutex_lock(&mu);
	while (!pred() && pthread_cond_timedwait(&cond, &mu, &ts) != ETIMEDOUT)
		;
	bool ok = pred();
	pthread_mutex_unlock(&mu);
	return ok;
}

static bool all_parked(void) { return nparked >= npods; }
static bool all_bound(void) { return nbound >= npods; }

/* Until the scheduler's FailedScheduling events stop growing (its recorder
 * writes them after the pods' status; it drops some when its queue is full, so
 * after 3 s a steady count short of PODS will do too): at most 120 s. */
static void events_settle(void)
{
	long last = -1;
	for (int i = 0; i < 240; i++) {
		long n = count("/api/v1/namespaces/" NS "/events");
		if (n == last && (n >= npods || i >= 6))
			return;
		last = n;
		usleep(500000);
	}
}

static pid_t agent_start(char **argv, const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: bindbench URL TOKEN CAFILE PODS LOG AGENT-CMD [ARGS...]\n");
		return 2;
	}
	npods = atoi(argv[4]);
	struct mk_client_config *cfg = mk_client_config_new(argv[1], argv[2], argv[3]);
	cfg->timeout_ms = 120000;
	struct mk_error *err = NULL;
	if (mk_client_new(cfg, &cli, &err) < 0)
		die("client", err->msg);
	mk_time_cond_init(&cond);
	mk_hmap_init(&bound_set);
	mk_hmap_init(&parked_set);
	cJSON *ns = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" NS "\"}}");
	if (mk_client_create(cli, "/api/v1/namespaces", ns, NULL, &err) < 0 && err->code != 409)
		die("namespace", err->msg);
	mk_error_free(&err);
	cJSON_Delete(ns);

	struct watcher obs = { .w = mk_client_watch_new() };
	cJSON *l = NULL;
	if (mk_client_get(cli, PODS_PATH "?limit=1", &l, &err) < 0)
		die("list", err->msg);
	obs.rv = mk_strdup(mk_json_get_string(l, "metadata.resourceVersion") ?: "0");
	cJSON_Delete(l);
	pthread_create(&obs.th, NULL, watch_main, &obs);

	uint64_t t0 = now_us();
	pthread_t th[CREATORS];
	for (int i = 0; i < CREATORS; i++)
		pthread_create(&th[i], NULL, creator_main, NULL);
	for (int i = 0; i < CREATORS; i++)
		pthread_join(th[i], NULL);
	printf("held_create_per_s %.0f\n", npods / ((now_us() - t0) / 1e6));
	if (!wait_for(all_parked, 600000))
		die("parking", "not every pod was found unschedulable in 600 s");
	events_settle();

	uint64_t t_agent = now_us();
	pid_t agent = agent_start(argv + 6, argv[5]);
	printf("agent_pid %d\n", (int)agent);
	fflush(stdout);
	if (!wait_for(all_bound, 900000))
		die("binding", "not every pod was bound in 900 s");
	pthread_mutex_lock(&mu);
	uint64_t first = t_first_bound, last = t_all_bound;
	pthread_mutex_unlock(&mu);
	printf("held_bind_per_s %.0f\n", npods / ((last - first) / 1e6));
	printf("held_first_bind_ms %.0f\n", (first - t_agent) / 1000.0);
	printf("held_bind_from_agent_per_s %.0f\n", npods / ((last - t_agent) / 1e6));
	fflush(stdout);
	mk_client_watch_cancel(obs.w);
	pthread_join(obs.th, NULL);
	mk_client_watch_free(obs.w);
	free(obs.rv);
	mk_client_free(cli);
	mk_client_config_free(cfg);
	return 0;
}
