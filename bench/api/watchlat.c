/* Watch delivery latency: one connection watches the pods of a namespace while a
 * second one creates N pods one at a time; for each pod the time from the
 * create being acknowledged (201 received) to its ADDED event arriving.
 *
 * Usage: watchlat SERVER TOKEN CAFILE NAMESPACE [N]
 * Prints one "RESULT key=value ..." line (microseconds); exits 1 on failure.
 * libcurl directly (not pkg/client) so the figure covers only the server. */
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>
#include "minik8s/util.h"

#define MAX_N 100000
#define EVENT_TIMEOUT_NS (5ULL * 1000 * 1000 * 1000)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static uint64_t *event_ns;	/* [N + 1]; index N is the warm-up pod */
static int n_pods;
static int stop_watch;
static long events_seen, events_other;
static struct mk_buf line;

static const char *server, *token, *cafile, *ns;

static void set_common(CURL *c, struct curl_slist *hdrs)
{
	curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

static void handle_line(const char *text)
{
	_cleanup_cjson_ cJSON *ev = cJSON_Parse(text);
	const char *type = mk_json_get_string(ev, "type");
	const char *name = mk_json_get_string(ev, "object.metadata.name");
	uint64_t now = mk_time_mono_ns();
	int idx = -1;

	if (!type || !name)
		return;
	if (strcmp(type, "ADDED") == 0 && strcmp(name, "wl-warm") == 0)
		idx = n_pods;
	else if (strcmp(type, "ADDED") == 0 && mk_str_has_prefix(name, "wl-")) {
		char *end;
		long i = strtol(name + 3, &end, 10);
		if (*end == '\0' && i >= 0 && i < n_pods)
			idx = (int)i;
	}
	pthread_mutex_lock(&lock);
	if (idx >= 0 && event_ns[idx] == 0) {
		event_ns[idx] = now;
		events_seen++;
	} else {
		events_other++;
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static size_t on_watch_data(char *p, size_t size, size_t n, void *userdata)
{
	size_t len = size * n;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if (line.len)
				handle_line(line.data);
			line.len = 0;
			line.data[0] = '\0';
		} else {
			mk_buf_append(&line, p + i, 1);
		}
	}
	return len;
}

static int on_watch_progress(void *p, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	return __atomic_load_n(&stop_watch, __ATOMIC_SEQ_CST);
}

static void *watch_thread(void *arg)
{
	const char *rv = arg;
	CURL *c = curl_easy_init();
	_cleanup_free_ char *auth = mk_strdup_printf("Authorization: Bearer %s", token);
	_cleanup_free_ char *url = mk_strdup_printf(
		"%s/api/v1/namespaces/%s/pods?watch=true&resourceVersion=%s", server, ns, rv);
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	CURLcode r;

	mk_buf_init(&line);
	mk_buf_append(&line, "", 0);
	set_common(c, hdrs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	r = curl_easy_perform(c);
	if (r != CURLE_OK && r != CURLE_ABORTED_BY_CALLBACK)
		fprintf(stderr, "watchlat: watch ended: %s\n", curl_easy_strerror(r));
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		fprintf(stderr, "watchlat: watch answered HTTP %ld: %s\n", code, line.data);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return NULL;
}

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
	mk_buf_append(userdata, p, size * n);
	return size * n;
}

/* One request on the shared control handle; returns the HTTP status (0 on a
 * transport error) and the body in *body. */
static long request(CURL *c, const char *method, const char *path, const char *data,
		    struct mk_buf *body)
{
	_cleanup_free_ char *url = mk_strdup_printf("%s%s", server, path);
	CURLcode r;
	long code = 0;

	body->len = 0;
	mk_buf_append(body, "", 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	if (!data)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	r = curl_easy_perform(c);
	if (r != CURLE_OK) {
		fprintf(stderr, "watchlat: %s %s: %s\n", method, path, curl_easy_strerror(r));
		return 0;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

static char *pod_json(const char *name)
{
	return mk_strdup_printf(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		"\"labels\":{\"run\":\"%s\",\"app\":\"watchlat\"}},\"spec\":{\"containers\":"
		"[{\"name\":\"c\",\"image\":\"busybox:1.36\",\"command\":[\"sleep\",\"3600\"],"
		"\"resources\":{}}],\"restartPolicy\":\"Always\",\"dnsPolicy\":\"ClusterFirst\"},"
		"\"status\":{}}",
		name, name);
}

/* Waits until event_ns[idx] is set or the timeout passes; returns its time or 0. */
static uint64_t wait_event(int idx)
{
	struct timespec deadline;
	uint64_t t;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += EVENT_TIMEOUT_NS / 1000000000ULL;
	pthread_mutex_lock(&lock);
	while (event_ns[idx] == 0)
		if (pthread_cond_timedwait(&cond, &lock, &deadline) != 0)
			break;
	t = event_ns[idx];
	pthread_mutex_unlock(&lock);
	return t;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, int n, double p)
{
	int i = (int)(p / 100.0 * n + 0.999999) - 1;
	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s SERVER TOKEN CAFILE NAMESPACE [N]\n", argv[0]);
		return 2;
	}
	server = argv[1];
	token = argv[2];
	cafile = argv[3];
	ns = argv[4];
	n_pods = argc > 5 ? atoi(argv[5]) : 200;
	if (n_pods <= 0 || n_pods > MAX_N) {
		fprintf(stderr, "watchlat: N must be 1..%d\n", MAX_N);
		return 2;
	}
	event_ns = mk_malloc0(sizeof(uint64_t) * (size_t)(n_pods + 1));
	uint64_t *ack_lat = mk_malloc0(sizeof(uint64_t) * (size_t)n_pods);
	uint64_t *send_lat = mk_malloc0(sizeof(uint64_t) * (size_t)n_pods);
	uint64_t *create_lat = mk_malloc0(sizeof(uint64_t) * (size_t)n_pods);
	int early = 0, lost = 0, failed = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	_cleanup_free_ char *auth = mk_strdup_printf("Authorization: Bearer %s", token);
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	set_common(c, hdrs);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	struct mk_buf body;
	mk_buf_init(&body);

	/* start the watch at the collection's current revision: no replay of old pods */
	_cleanup_free_ char *list_path = mk_strdup_printf("/api/v1/namespaces/%s/pods?limit=1", ns);
	long code = request(c, "GET", list_path, NULL, &body);
	_cleanup_cjson_ cJSON *list = cJSON_Parse(body.data);
	const char *rv = mk_json_get_string(list, "metadata.resourceVersion");
	if (code != 200 || !rv) {
		fprintf(stderr, "watchlat: list answered %ld: %s\n", code, body.data);
		return 1;
	}
	pthread_t th;
	_cleanup_free_ char *rv_copy = mk_strdup(rv);
	pthread_create(&th, NULL, watch_thread, rv_copy);

	_cleanup_free_ char *pods_path = mk_strdup_printf("/api/v1/namespaces/%s/pods", ns);
	/* warm-up: proves the stream is established and delivering */
	_cleanup_free_ char *warm = pod_json("wl-warm");
	code = request(c, "POST", pods_path, warm, &body);
	if (code != 201 || wait_event(n_pods) == 0) {
		fprintf(stderr, "watchlat: warm-up pod: create %ld, event %s: %s\n", code,
			event_ns[n_pods] ? "seen" : "not seen within 5 s", body.data);
		return 1;
	}

	int done = 0;
	for (int i = 0; i < n_pods; i++) {
		char name[32];
		snprintf(name, sizeof(name), "wl-%d", i);
		_cleanup_free_ char *pod = pod_json(name);
		uint64_t t0 = mk_time_mono_ns();
		code = request(c, "POST", pods_path, pod, &body);
		uint64_t t_ack = mk_time_mono_ns();
		if (code != 201) {
			if (failed++ < 3)
				fprintf(stderr, "watchlat: create %s answered %ld: %s\n", name, code,
					body.data);
			continue;
		}
		uint64_t t_ev = wait_event(i);
		if (t_ev == 0) {
			lost++;
			continue;
		}
		if (t_ev < t_ack)
			early++;
		ack_lat[done] = t_ev > t_ack ? t_ev - t_ack : 0;
		send_lat[done] = t_ev - t0;
		create_lat[done] = t_ack - t0;
		done++;
	}
	__atomic_store_n(&stop_watch, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);

	if (done == 0) {
		fprintf(stderr, "watchlat: no event measured (failed %d, lost %d)\n", failed, lost);
		return 1;
	}
	qsort(ack_lat, (size_t)done, sizeof(uint64_t), cmp_u64);
	qsort(send_lat, (size_t)done, sizeof(uint64_t), cmp_u64);
	qsort(create_lat, (size_t)done, sizeof(uint64_t), cmp_u64);
	printf("RESULT n=%d measured=%d failed=%d lost=%d early=%d other_events=%ld "
	       "ack_p50_us=%llu ack_p99_us=%llu ack_max_us=%llu send_p50_us=%llu "
	       "send_p99_us=%llu create_p50_us=%llu create_p99_us=%llu\n",
	       n_pods, done, failed, lost, early, events_other,
	       (unsigned long long)pct(ack_lat, done, 50) / 1000,
	       (unsigned long long)pct(ack_lat, done, 99) / 1000,
	       (unsigned long long)ack_lat[done - 1] / 1000,
	       (unsigned long long)pct(send_lat, done, 50) / 1000,
	       (unsigned long long)pct(send_lat, done, 99) / 1000,
	       (unsigned long long)pct(create_lat, done, 50) / 1000,
	       (unsigned long long)pct(create_lat, done, 99) / 1000);
	mk_buf_release(&body);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	free(event_ns);
	free(ack_lat);
	free(send_lat);
	free(create_lat);
	return failed || lost ? 1 : 0;
}
