/* Pod startup latency: create N pods bound to a node at once, and time each from
 * its create request to the first watch event that shows it Running. Repeats
 * ROUNDS times (deleting the pods and waiting until they are gone in between) and
 * prints p50/p99 in milliseconds.
 * Usage: podlat SERVER TOKEN CA_FILE NODE IMAGE COUNT ROUNDS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/client.h"
#include "minik8s/util.h"

#define MAX_PODS 256

struct run {
	int n;
	char names[MAX_PODS][32];
	uint64_t created[MAX_PODS], running[MAX_PODS];
	int seen;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct mk_client *c;
	struct mk_client_watch *w;
	bool watching;
};

static int on_event(const char *type, const cJSON *obj, void *ud)
{
	struct run *r = ud;
	uint64_t now = mk_time_mono_ns();
	const char *name = mk_json_get_string(obj, "metadata.name");
	const char *phase = mk_json_get_string(obj, "status.phase");
	if (!name || !phase || strcmp(phase, "Running") || strcmp(type, "MODIFIED"))
		return 0;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->names[i], name) && !r->running[i]) {
			r->running[i] = now;
			r->seen++;
			pthread_cond_broadcast(&r->cond);
		}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static void *watch_main(void *arg)
{
	struct run *r = arg;
	struct mk_error *err = NULL;
	pthread_mutex_lock(&r->mu);
	r->watching = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	/* from "now": resourceVersion unset would replay the current state as ADDED */
	mk_client_watch_run(r->c, r->w, "/api/v1/namespaces/bench/pods", NULL, 600, NULL, on_event, r,
			    &err);
	mk_error_free(&err);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int count_pods(struct mk_client *c)
{
	cJSON *l = NULL;
	struct mk_error *err = NULL;
	if (mk_client_get(c, "/api/v1/namespaces/bench/pods", &l, &err) < 0) {
		mk_error_free(&err);
		return -1;
	}
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(l, "items"));
	cJSON_Delete(l);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: podlat SERVER TOKEN CA NODE IMAGE COUNT ROUNDS\n");
		return 2;
	}
	int count = atoi(argv[6]), rounds = atoi(argv[7]);
	if (count < 1 || count > MAX_PODS || rounds < 1)
		return 2;
	struct mk_client_config *cfg = mk_client_config_new(argv[1], argv[2], argv[3]);
	struct mk_client *c = NULL;
	struct mk_error *err = NULL;
	if (mk_client_new(cfg, &c, &err) < 0) {
		fprintf(stderr, "podlat: %s\n", err->msg);
		return 1;
	}
	cJSON *ns = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench\"}}");
	mk_client_create(c, "/api/v1/namespaces", ns, NULL, &err);
	mk_error_free(&err);
	cJSON_Delete(ns);

	uint64_t *lat = calloc((size_t)count * (size_t)rounds, sizeof(uint64_t));
	size_t nl = 0;
	for (int round = 0; round < rounds; round++) {
		struct run r = { .n = count, .c = c };
		pthread_mutex_init(&r.mu, NULL);
		pthread_cond_init(&r.cond, NULL);
		r.w = mk_client_watch_new();
		pthread_t t;
		pthread_create(&t, NULL, watch_main, &r);
		pthread_mutex_lock(&r.mu);
		while (!r.watching)
			pthread_cond_wait(&r.cond, &r.mu);
		pthread_mutex_unlock(&r.mu);
		usleep(100000); /* let the watch request reach the server */
		for (int i = 0; i < count; i++) {
			snprintf(r.names[i], sizeof(r.names[i]), "p%d-%d", round, i);
			char *body = mk_strdup_printf(
				"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},"
				"\"spec\":{\"nodeName\":\"%s\",\"terminationGracePeriodSeconds\":1,"
				"\"containers\":[{\"name\":\"c\",\"image\":\"%s\",\"imagePullPolicy\":\"Never\","
				"\"command\":[\"httpd\",\"-f\",\"-p\",\"80\"]}]}}",
				r.names[i], argv[4], argv[5]);
			cJSON *pod = cJSON_Parse(body);
			free(body);
			r.created[i] = mk_time_mono_ns();
			if (mk_client_create(c, "/api/v1/namespaces/bench/pods", pod, NULL, &err) < 0) {
				fprintf(stderr, "podlat: create: %s\n", err->msg);
				return 1;
			}
			cJSON_Delete(pod);
		}
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 120;
		pthread_mutex_lock(&r.mu);
		while (r.seen < count)
			if (pthread_cond_timedwait(&r.cond, &r.mu, &dl))
				break;
		pthread_mutex_unlock(&r.mu);
		mk_client_watch_cancel(r.w);
		pthread_join(t, NULL);
		mk_client_watch_free(r.w);
		if (r.seen < count) {
			fprintf(stderr, "podlat: only %d of %d pods Running after 120 s\n", r.seen, count);
			return 1;
		}
		for (int i = 0; i < count; i++)
			lat[nl++] = r.running[i] - r.created[i];
		for (int i = 0; i < count; i++) {
			char *p = mk_strdup_printf("/api/v1/namespaces/bench/pods/%s", r.names[i]);
			mk_client_delete(c, p, NULL, NULL, &err);
			mk_error_free(&err);
			free(p);
		}
		for (int i = 0; i < 600 && count_pods(c) != 0; i++)
			usleep(100000);
	}
	qsort(lat, nl, sizeof(*lat), cmp_u64);
	size_t p99 = (nl * 99 + 99) / 100;
	printf("%.1f %.1f %zu\n", lat[(nl - 1) / 2] / 1e6, lat[(p99 ? p99 : 1) - 1] / 1e6, nl);
	free(lat);
	mk_client_free(c);
	mk_client_config_free(cfg);
	return 0;
}
