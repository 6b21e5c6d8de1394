/* Store benchmark: durable creates/s and latency percentiles through mk_store
 * (group commit) with 1 and 16 writer threads, and the watch latency (a create
 * started -> its ADDED event delivered to a store watch, p50/p99), on a datastore.
 *
 * Without -e: a fresh SQLite file per line, beside the anchor: plain SQLite with one
 * transaction per insert (WAL, synchronous=FULL, no batching), on the same disk in
 * the same run. With -e ENDPOINT: the same store figures on that datastore (what
 * mk_store_options.endpoint takes: sqlite://PATH, postgres://..., http://etcd list);
 * the anchors there are the engines' own clients (bench/store/run.sh).
 *
 * Usage: store_bench [-d DIR] [-n OPS_PER_CONFIG] [-w WATCH_EVENTS] [-e ENDPOINT]
 *                    [-l LABEL] [-o FILE]
 * DIR defaults to $TMPDIR or /var/tmp (a real disk: /dev/shm would hide fsync).
 * -o FILE: also appends the figures as "KEY VALUE" lines (creates_1, creates_16,
 * watch_p50_ms, watch_p99_ms, anchor_1, anchor_16) for bench/store/run.sh. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>
#include "minik8s/store.h"

struct run {
	const char *label;
	int threads;
	int ops; /* total */
	int anchor;
	const char *path;
	const char *endpoint; /* NULL: a fresh SQLite file at path */
	struct mk_store *s;
	const char *tmpl;  /* JSON text of the object */
	uint64_t *lat;	   /* ns, one per op */
	int failures;
	int next_tid;
	pthread_mutex_t lock;
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static char *make_template(void)
{
	/* a pod of about 1 KiB, the typical size of what the API server stores */
	static const char pod[] =
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"NAME\","
		"\"namespace\":\"default\",\"uid\":\"6f1c1f7e-2c1b-4c55-9f0e-8f4a5c2b9d11\","
		"\"creationTimestamp\":\"2026-11-26T08:24:15Z\",\"labels\":{\"app\":\"web\","
		"\"pod-template-hash\":\"5d4f8b7c9\"},\"ownerReferences\":[{\"apiVersion\":"
		"\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-5d4f8b7c9\",\"uid\":"
		"\"0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6\",\"controller\":true,"
		"\"blockOwnerDeletion\":true}]},\"spec\":{\"containers\":[{\"name\":\"web\","
		"\"image\":\"registry.local/nginx:1.25\",\"ports\":[{\"containerPort\":80,"
		"\"protocol\":\"TCP\"}],\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":"
		"\"128Mi\"},\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}},"
		"\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":"
		"\"File\",\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":\"Always\","
		"\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\","
		"\"serviceAccountName\":\"default\",\"nodeName\":\"node-1\",\"schedulerName\":"
		"\"default-scheduler\",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\","
		"\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]},"
		"\"status\":{\"phase\":\"Pending\",\"qosClass\":\"Burstable\"}}";
	return mk_strdup(pod);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	int tid, per, failures = 0;

	pthread_mutex_lock(&r->lock);
	tid = r->next_tid++;
	pthread_mutex_unlock(&r->lock);
	per = r->ops / r->threads;

	if (r->anchor) {
		if (sqlite3_open(r->path, &db) != SQLITE_OK)
			abort();
		sqlite3_busy_timeout(db, 10000);
		sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
		if (sqlite3_prepare_v2(db,
				       "INSERT INTO objects (resource, ns, name, rv, data)"
				       " VALUES ('pods', 'default', ?1, ?2, ?3)",
				       -1, &ins, NULL) != SQLITE_OK)
			abort();
	}
	for (int i = 0; i < per; i++) {
		char name[48];
		/* unique per line: a shared datastore keeps the lines before */
		snprintf(name, sizeof(name), "%s%d-t%02d-%06d", r->anchor ? "a" : "s", r->threads,
			 tid, i);
		cJSON *o = cJSON_Parse(r->tmpl);
		mk_json_set_string(cJSON_GetObjectItem(o, "metadata"), "name", name);
		_cleanup_cjson_str_ char *text = r->anchor ? cJSON_PrintUnformatted(o) : NULL;
		uint64_t t0 = mk_time_mono_ns();
		if (r->anchor) {
			/* autocommit: one transaction (and one fsync) per insert */
			sqlite3_bind_text(ins, 1, name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 2, i);
			sqlite3_bind_text(ins, 3, text, -1, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE)
				failures++;
			sqlite3_reset(ins);
		} else {
			struct mk_error *err = NULL;
			if (mk_store_create(r->s, "pods", "default", name, o, NULL, NULL, &err) < 0) {
				failures++;
				mk_error_free(&err);
			}
		}
		r->lat[tid * per + i] = mk_time_mono_ns() - t0;
		cJSON_Delete(o);
	}
	sqlite3_finalize(ins);
	sqlite3_close(db);
	pthread_mutex_lock(&r->lock);
	r->failures += failures;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static FILE *figures; /* -o */
static const char *backend = "sqlite";

static void figure(const char *key, double v)
{
	if (figures) {
		fprintf(figures, "%s %.2f\n", key, v);
		fflush(figures);
	}
}

static int run_one(const char *dir, const char *endpoint, const char *label, int threads,
		   int ops, int anchor, const char *tmpl)
{
	struct run r = { .label = label, .threads = threads, .ops = ops - ops % threads,
			 .anchor = anchor, .tmpl = tmpl, .endpoint = endpoint };
	char *path = mk_strdup_printf("%s/%s-%d.db", dir, anchor ? "anchor" : "store", threads);
	struct mk_error *err = NULL;
	pthread_t t[64];

	r.path = path;
	r.lat = mk_malloc0(sizeof(uint64_t) * (size_t)r.ops);
	pthread_mutex_init(&r.lock, NULL);
	if (anchor) {
		sqlite3 *db = NULL;
		sqlite3_open(path, &db);
		sqlite3_exec(db,
			     "PRAGMA journal_mode=WAL;"
			     "CREATE TABLE objects (resource TEXT NOT NULL, ns TEXT NOT NULL,"
			     " name TEXT NOT NULL, rv INTEGER NOT NULL, data TEXT NOT NULL,"
			     " PRIMARY KEY (resource, ns, name)) WITHOUT ROWID;",
			     NULL, NULL, NULL);
		sqlite3_close(db);
	} else {
		struct mk_store_options o = { .endpoint = endpoint, .path = path, .durable = 1 };
		if (mk_store_open(&o, &r.s, &err) < 0) {
			fprintf(stderr, "store_bench: %s\n", err->msg);
			return -1;
		}
	}

	uint64_t t0 = mk_time_mono_ns();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, &r);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double secs = (double)(mk_time_mono_ns() - t0) / 1e9;
	mk_store_free(r.s);

	qsort(r.lat, (size_t)r.ops, sizeof(uint64_t), cmp_u64);
	printf("%-10s %-50s %2d writers %6d ops %8.0f creates/s  p50 %6.2f ms  p99 %6.2f ms%s\n",
	       backend, label, threads, r.ops, r.ops / secs, r.lat[r.ops / 2] / 1e6,
	       r.lat[(size_t)r.ops * 99 / 100] / 1e6, r.failures ? "  (FAILURES)" : "");
	fflush(stdout);
	char key[32];
	snprintf(key, sizeof(key), "%s_%d", anchor ? "anchor" : "creates", threads);
	if (!r.failures)
		figure(key, r.ops / secs);
	free(r.lat);
	free(path);
	return r.failures ? -1 : 0;
}

/* The watch latency: one writer creates n pods one after the other in a namespace of
 * their own; a store watch opened before the first waits for each one's ADDED event.
 * Latency: mk_store_create called -> the event returned by mk_store_watch_next. */
static int run_watch(const char *dir, const char *endpoint, int n, const char *tmpl)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/watch.db", dir);
	struct mk_store_options o = { .endpoint = endpoint, .path = path, .durable = 1 };
	struct mk_store *s = NULL;
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	uint64_t *lat = mk_malloc0(sizeof(uint64_t) * (size_t)n);
	int failures = 0, done = 0;

	if (mk_store_open(&o, &s, &err) < 0 ||
	    mk_store_watch_new(s, "pods", "bench-watch", mk_store_revision(s), &w, &err) < 0) {
		fprintf(stderr, "store_bench: watch: %s\n", err->msg);
		mk_error_free(&err);
		mk_store_free(s);
		free(lat);
		return -1;
	}
	for (int i = 0; i < n && failures < 3; i++) {
		char name[48];
		snprintf(name, sizeof(name), "w-%06d", i);
		cJSON *obj = cJSON_Parse(tmpl);
		cJSON *md = cJSON_GetObjectItem(obj, "metadata");
		mk_json_set_string(md, "name", name);
		mk_json_set_string(md, "namespace", "bench-watch");
		uint64_t t0 = mk_time_mono_ns();
		if (mk_store_create(s, "pods", "bench-watch", name, obj, NULL, NULL, &err) < 0) {
			fprintf(stderr, "store_bench: watch create: %s\n", err->msg);
			mk_error_free(&err);
			failures++;
			cJSON_Delete(obj);
			continue;
		}
		cJSON_Delete(obj);
		/* bounded: an event missing for 30 s is a failure */
		for (;;) {
			struct mk_store_event *ev = NULL;
			int rc = mk_store_watch_next(w, 30000, &ev, &err);
			if (rc <= 0) {
				fprintf(stderr, "store_bench: watch: %s\n",
					rc < 0 ? err->msg : "no event in 30 s");
				mk_error_free(&err);
				failures++;
				break;
			}
			int mine = ev->type == MK_STORE_ADDED && strcmp(ev->name, name) == 0;
			mk_store_event_unref(ev);
			if (mine) {
				lat[done++] = mk_time_mono_ns() - t0;
				break;
			}
		}
	}
	mk_store_watch_free(w);
	mk_store_free(s);
	if (done > 0) {
		qsort(lat, (size_t)done, sizeof(uint64_t), cmp_u64);
		double p50 = lat[done / 2] / 1e6, p99 = lat[(size_t)done * 99 / 100] / 1e6;
		printf("%-10s %-50s %2d writer  %6d ops  watch event p50 %6.2f ms  p99 %6.2f ms%s\n",
		       backend, "create started -> ADDED from mk_store_watch_next", 1, done, p50,
		       p99, failures ? "  (FAILURES)" : "");
		fflush(stdout);
		if (!failures) {
			figure("watch_p50_ms", p50);
			figure("watch_p99_ms", p99);
		}
	}
	free(lat);
	return failures || done < n ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	const char *endpoint = NULL, *out = NULL;
	int ops = 4000, watch_n = 200, opt, rc = 0;

	while ((opt = getopt(argc, argv, "d:n:w:e:l:o:")) != -1) {
		if (opt == 'd')
			base = optarg;
		else if (opt == 'n')
			ops = atoi(optarg);
		else if (opt == 'w')
			watch_n = atoi(optarg);
		else if (opt == 'e')
			endpoint = optarg;
		else if (opt == 'l')
			backend = optarg;
		else if (opt == 'o')
			out = optarg;
		else {
			fprintf(stderr,
				"usage: %s [-d DIR] [-n OPS] [-w WATCH_EVENTS] [-e ENDPOINT] [-l LABEL]"
				" [-o FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (out && !(figures = fopen(out, "a"))) {
		fprintf(stderr, "store_bench: %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (watch_n < 1)
		watch_n = 1;
	if (ops < 16)
		ops = 16;
	char *dir = mk_strdup_printf("%s/minik8s-store-bench.XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "store_bench: mkdtemp in '%s': %s\n", base, strerror(errno));
		return 1;
	}
	char *tmpl = make_template();
	printf("store_bench: %s: up to %d durable creates per line, ~%zu-byte pods, %s %s\n",
	       backend, ops, strlen(tmpl), endpoint ? "on" : "in", endpoint ? endpoint : dir);
	const char *what = endpoint ? "mk_store_create (group commit)"
				    : "mk_store_create (group commit, synchronous=FULL)";
	rc |= run_one(dir, endpoint, what, 1, ops / 4, 0, tmpl);
	rc |= run_one(dir, endpoint, what, 16, ops, 0, tmpl);
	rc |= run_watch(dir, endpoint, watch_n, tmpl);
	if (!endpoint) {
		rc |= run_one(dir, NULL, "anchor: sqlite txn per insert (WAL, sync=FULL)", 1, ops / 4,
			      1, tmpl);
		rc |= run_one(dir, NULL, "anchor: sqlite txn per insert (WAL, sync=FULL)", 16, ops,
			      1, tmpl);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	free(tmpl);
	if (figures)
		fclose(figures);
	return rc ? 1 : 0;
}
