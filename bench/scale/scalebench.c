/* Scale benchmark client (run by bench/scale/run.sh against a `minik8s server` with
 * its controllers and scheduler and a `minik8s agent --hollow NODES`):
 *
 *  1. create: PODS pods POSTed by 16 clients into namespace "scale" (unscheduled):
 *     creates/s and the request latency p50/p99;
 *  2. schedule: from the first POST until every pod is bound (seen on a watch):
 *     bindings/s over the whole run, and the time after the last create;
 *  3. running: until the hollow nodes report every pod Running;
 *  4. list: GET of all PODS pods in one response, and in pages of 500 (kubectl's
 *     chunk size), beside the floor: the same rows read straight from the
 *     server's SQLite file with a JSON array built around them (DB argument);
 *  5. fan-out: WATCHERS watches on the namespace; a label patch of one pod, 10
 *     times: time until every watcher has the event (p50 and max over rounds).
 * Prints "key value" lines for run.sh.
 *
 * Usage: scalebench URL TOKEN CAFILE PODS WATCHERS DB */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/client.h"

#define CREATORS 16
#define ROUNDS 10

static struct mk_client *cli;
static int npods, nwatchers;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct mk_hmap bound_set, running_set;
static int nbound, nrunning;
static uint64_t t_all_bound, t_all_running;
static atomic_int next_pod;
static uint64_t *lat_us;

static uint64_t now_us(void) { return mk_time_mono_ns() / 1000; }

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, int n, int p)
{
	if (n <= 0)
		return 0;
	int i = (int)((long)n * p / 100);
	return v[i >= n ? n - 1 : i];
}

/* ---- the observer watch: bound and running counts -------------------------------- */

static int on_pod(const char *type, const cJSON *pod, void *ud)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	if (!name || (strcmp(type, "ADDED") && strcmp(type, "MODIFIED")))
		return 0;
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	const char *phase = mk_json_get_string(pod, "status.phase");
	pthread_mutex_lock(&mu);
	if (node && !mk_hmap_has(&bound_set, name)) {
		mk_hmap_put(&bound_set, name, NULL);
		if (++nbound == npods)
			t_all_bound = now_us();
	}
	if (phase && !strcmp(phase, "Running") && !mk_hmap_has(&running_set, name)) {
		mk_hmap_put(&running_set, name, NULL);
		if (++nrunning == npods)
			t_all_running = now_us();
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	return 0;
}

struct watcher {
	const char *path;
	mk_client_watch_fn fn;
	void *ud;
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
		mk_client_watch_run(cli, w->w, w->path, rv, 300, NULL, w->fn, w->ud, &err);
		mk_error_free(&err);
		rv = mk_client_watch_resource_version(w->w);
	}
	return NULL;
}

static char *list_rv(void)
{
	cJSON *l = NULL;
	struct mk_error *err = NULL;
	if (mk_client_get(cli, "/api/v1/namespaces/scale/pods?limit=1", &l, &err) < 0) {
		fprintf(stderr, "scalebench: list: %s\n", err->msg);
		exit(1);
	}
	char *rv = mk_strdup(mk_json_get_string(l, "metadata.resourceVersion") ?: "0");
	cJSON_Delete(l);
	return rv;
}

static void watcher_start(struct watcher *w, const char *path, mk_client_watch_fn fn, void *ud)
{
	w->path = path;
	w->fn = fn;
	w->ud = ud;
	w->w = mk_client_watch_new();
	w->rv = list_rv();
	pthread_create(&w->th, NULL, watch_main, w);
}

static void watcher_stop(struct watcher *w)
{
	mk_client_watch_cancel(w->w);
	pthread_join(w->th, NULL);
	mk_client_watch_free(w->w);
	free(w->rv);
}

/* ---- creates ---------------------------------------------------------------------- */

static void *creator_main(void *unused)
{
	for (;;) {
		int i = atomic_fetch_add(&next_pod, 1);
		if (i >= npods)
			return NULL;
		char body[512];
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p-%d\","
			 "\"labels\":{\"app\":\"scale\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
			 "\"image\":\"registry.k8s.io/pause:3.10\"}]}}", i);
		struct mk_client_request req = { .method = "POST",
						  .path = "/api/v1/namespaces/scale/pods", .body = body };
		struct mk_client_response res = { 0 };
		struct mk_error *err = NULL;
		uint64_t t0 = now_us();
		if (mk_client_do(cli, &req, &res, &err) < 0 || res.code != 201) {
			fprintf(stderr, "scalebench: create p-%d: %s (HTTP %ld)\n", i,
				err ? err->msg : res.body, res.code);
			exit(1);
		}
		lat_us[i] = now_us() - t0;
		mk_client_response_release(&res);
	}
}

/* ---- list --------------------------------------------------------------------------- */

static double list_once(const char *path, size_t *bytes, int *items)
{
	uint64_t t0 = now_us();
	char *cont = NULL;
	*bytes = 0;
	*items = 0;
	do {
		char *p = cont ? mk_strdup_printf("%s&continue=%s", path, cont) : mk_strdup(path);
		struct mk_client_request req = { .method = "GET", .path = p };
		struct mk_client_response res = { 0 };
		struct mk_error *err = NULL;
		if (mk_client_do(cli, &req, &res, &err) < 0 || res.code != 200) {
			fprintf(stderr, "scalebench: list: %s\n", err ? err->msg : res.body);
			exit(1);
		}
		*bytes += res.body_len;
		*items += cJSON_GetArraySize(cJSON_GetObjectItem(res.json, "items"));
		free(cont);
		const char *c = mk_json_get_string(res.json, "metadata.continue");
		cont = c && *c ? mk_client_escape(c) : NULL;
		mk_client_response_release(&res);
		free(p);
	} while (cont);
	return (double)(now_us() - t0) / 1000.0;
}

/* The floor: the same rows out of SQLite, joined into one JSON array and parsed as
 * list_once parses what the server sends (the client's share of both figures). */
static double list_floor(const char *db, size_t *bytes)
{
	uint64_t t0 = now_us();
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT data FROM objects WHERE resource = 'pods' AND ns = 'scale' "
			       "ORDER BY name", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "scalebench: sqlite %s: %s\n", db, h ? sqlite3_errmsg(h) : "?");
		exit(1);
	}
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "{\"items\":[");
	bool first = true;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!first)
			mk_buf_puts(&b, ",");
		first = false;
		mk_buf_puts(&b, (const char *)sqlite3_column_text(st, 0));
	}
	mk_buf_puts(&b, "]}");
	*bytes = b.len;
	cJSON *parsed = cJSON_ParseWithLength(b.data, b.len);
	if (cJSON_GetArraySize(cJSON_GetObjectItem(parsed, "items")) != npods) {
		fprintf(stderr, "scalebench: sqlite %s: not %d pods\n", db, npods);
		exit(1);
	}
	cJSON_Delete(parsed);
	sqlite3_finalize(st);
	sqlite3_close(h);
	mk_buf_release(&b);
	return (double)(now_us() - t0) / 1000.0;
}

/* ---- fan-out ------------------------------------------------------------------------- */

struct fan {
	int round;	 /* the label value this watcher saw last on p-0 */
	uint64_t t;	 /* when */
};
static struct fan *fans;

static int on_fan(const char *type, const cJSON *pod, void *ud)
{
	struct fan *f = ud;
	const char *name = mk_json_get_string(pod, "metadata.name");
	const char *r = mk_json_get_string(pod, "metadata.labels.round");
	if (!name || strcmp(name, "p-0") || !r)
		return 0;
	pthread_mutex_lock(&mu);
	f->round = atoi(r);
	f->t = now_us();
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	return 0;
}

static void fanout(uint64_t *ret_p50, uint64_t *ret_max)
{
	struct watcher *ws = mk_malloc0((size_t)nwatchers * sizeof(*ws));
	fans = mk_malloc0((size_t)nwatchers * sizeof(*fans));
	for (int i = 0; i < nwatchers; i++)
		watcher_start(&ws[i], "/api/v1/namespaces/scale/pods", on_fan, &fans[i]);
	usleep(500000); /* every watch connected */
	uint64_t all[ROUNDS];
	for (int r = 1; r <= ROUNDS; r++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"metadata\":{\"labels\":{\"round\":\"%d\"}}}", r);
		cJSON *patch = cJSON_Parse(body);
		struct mk_error *err = NULL;
		uint64_t t0 = now_us();
		if (mk_client_patch(cli, "/api/v1/namespaces/scale/pods/p-0",
				    "application/merge-patch+json", patch, NULL, &err) < 0) {
			fprintf(stderr, "scalebench: patch: %s\n", err->msg);
			exit(1);
		}
		cJSON_Delete(patch);
		struct timespec ts;
		mk_time_mono_deadline(&ts, 30000);
		pthread_mutex_lock(&mu);
		for (;;) {
			int seen = 0;
			for (int i = 0; i < nwatchers; i++)
				seen += fans[i].round == r;
			if (seen == nwatchers || pthread_cond_timedwait(&cond, &mu, &ts) == ETIMEDOUT)
				break;
		}
		uint64_t worst = 0;
		for (int i = 0; i < nwatchers; i++)
			if (fans[i].round == r && fans[i].t - t0 > worst)
				worst = fans[i].t - t0;
			else if (fans[i].round != r)
				worst = 30000000;
		pthread_mutex_unlock(&mu);
		all[r - 1] = worst;
	}
	for (int i = 0; i < nwatchers; i++)
		watcher_stop(&ws[i]);
	qsort(all, ROUNDS, sizeof(all[0]), cmp_u64);
	*ret_p50 = all[ROUNDS / 2];
	*ret_max = all[ROUNDS - 1];
	free(ws);
	free(fans);
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: scalebench URL TOKEN CAFILE PODS WATCHERS DB\n");
		return 2;
	}
	npods = atoi(argv[4]);
	nwatchers = atoi(argv[5]);
	struct mk_client_config *cfg = mk_client_config_new(argv[1], argv[2], argv[3]);
	cfg->timeout_ms = 120000;
	struct mk_error *err = NULL;
	if (mk_client_new(cfg, &cli, &err) < 0) {
		fprintf(stderr, "scalebench: %s\n", err->msg);
		return 1;
	}
	mk_time_cond_init(&cond);
	mk_hmap_init(&bound_set);
	mk_hmap_init(&running_set);
	lat_us = mk_malloc0((size_t)npods * sizeof(*lat_us));
	cJSON *ns = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"scale\"}}");
	if (mk_client_create(cli, "/api/v1/namespaces", ns, NULL, &err) < 0 && err->code != 409) {
		fprintf(stderr, "scalebench: namespace: %s\n", err->msg);
		return 1;
	}
	mk_error_free(&err);
	cJSON_Delete(ns);

	struct watcher obs;
	watcher_start(&obs, "/api/v1/namespaces/scale/pods", on_pod, NULL);
	uint64_t t0 = now_us();
	pthread_t th[CREATORS];
	for (int i = 0; i < CREATORS; i++)
		pthread_create(&th[i], NULL, creator_main, NULL);
	for (int i = 0; i < CREATORS; i++)
		pthread_join(th[i], NULL);
	uint64_t t_created = now_us();
	qsort(lat_us, (size_t)npods, sizeof(*lat_us), cmp_u64);
	printf("create_per_s %.0f\n", npods / ((t_created - t0) / 1e6));
	printf("create_p50_ms %.2f\ncreate_p99_ms %.2f\n", pct(lat_us, npods, 50) / 1000.0,
	       pct(lat_us, npods, 99) / 1000.0);
	fflush(stdout);

	struct timespec ts;
	mk_time_mono_deadline(&ts, 900000);
	pthread_mutex_lock(&mu);
	while (nrunning < npods && pthread_cond_timedwait(&cond, &mu, &ts) != ETIMEDOUT)
		;
	int b = nbound, r = nrunning;
	pthread_mutex_unlock(&mu);
	if (b < npods || r < npods) {
		fprintf(stderr, "scalebench: after 900 s %d bound, %d running of %d\n", b, r, npods);
		return 1;
	}
	printf("bind_per_s %.0f\n", npods / ((t_all_bound - t0) / 1e6));
	printf("bind_after_last_create_ms %.0f\n",
	       t_all_bound > t_created ? (t_all_bound - t_created) / 1000.0 : 0.0);
	printf("all_running_s %.2f\n", (t_all_running - t0) / 1e6);
	fflush(stdout);
	watcher_stop(&obs);

	size_t bytes, fbytes;
	int items;
	double full = list_once("/api/v1/namespaces/scale/pods?resourceVersion=", &bytes, &items);
	printf("list_full_ms %.0f\nlist_full_mb %.1f\nlist_items %d\n", full, bytes / 1e6, items);
	double paged = list_once("/api/v1/namespaces/scale/pods?limit=500", &bytes, &items);
	printf("list_paged_ms %.0f\n", paged);
	double floor = list_floor(argv[6], &fbytes);
	printf("list_floor_ms %.0f\nlist_floor_mb %.1f\n", floor, fbytes / 1e6);
	fflush(stdout);

	uint64_t p50, max;
	fanout(&p50, &max);
	printf("fanout_watchers %d\nfanout_p50_ms %.1f\nfanout_max_ms %.1f\n", nwatchers, p50 / 1000.0,
	       max / 1000.0);
	mk_client_free(cli);
	mk_client_config_free(cfg);
	return 0;
}
