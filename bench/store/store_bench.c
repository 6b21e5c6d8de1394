/* Store write benchmark: durable creates/s and latency percentiles through
 * mk_store (group commit) with 1 and 16 writer threads, beside the anchor: plain
 * SQLite with one transaction per insert (WAL, synchronous=FULL, no batching),
 * on the same disk in the same run.
 *
 * Usage: store_bench [-d DIR] [-n OPS_PER_CONFIG]
 * DIR defaults to $TMPDIR or /var/tmp (a real disk: /dev/shm would hide fsync). */
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
		snprintf(name, sizeof(name), "%s-t%02d-%06d", r->anchor ? "a" : "s", tid, i);
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

static int run_one(const char *dir, const char *label, int threads, int ops, int anchor,
		   const char *tmpl)
{
	struct run r = { .label = label, .threads = threads, .ops = ops - ops % threads,
			 .anchor = anchor, .tmpl = tmpl };
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
		struct mk_store_options o = { .path = path, .durable = 1 };
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
	printf("%-52s %2d writers %6d ops %8.0f creates/s  p50 %6.2f ms  p99 %6.2f ms%s\n",
	       label, threads, r.ops, r.ops / secs, r.lat[r.ops / 2] / 1e6,
	       r.lat[(size_t)r.ops * 99 / 100] / 1e6, r.failures ? "  (FAILURES)" : "");
	fflush(stdout);
	free(r.lat);
	free(path);
	return r.failures ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	int ops = 4000, opt, rc = 0;

	while ((opt = getopt(argc, argv, "d:n:")) != -1) {
		if (opt == 'd')
			base = optarg;
		else if (opt == 'n')
			ops = atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-d DIR] [-n OPS]\n", argv[0]);
			return 2;
		}
	}
	if (ops < 16)
		ops = 16;
	char *dir = mk_strdup_printf("%s/minik8s-store-bench.XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "store_bench: mkdtemp in '%s': %s\n", base, strerror(errno));
		return 1;
	}
	char *tmpl = make_template();
	printf("store_bench: %d durable creates per line, ~%zu-byte pods, in %s\n", ops,
	       strlen(tmpl), dir);
	rc |= run_one(dir, "mk_store_create (group commit, synchronous=FULL)", 1, ops / 4, 0, tmpl);
	rc |= run_one(dir, "mk_store_create (group commit, synchronous=FULL)", 16, ops, 0, tmpl);
	rc |= run_one(dir, "anchor: sqlite txn per insert (WAL, sync=FULL)", 1, ops / 4, 1, tmpl);
	rc |= run_one(dir, "anchor: sqlite txn per insert (WAL, sync=FULL)", 16, ops, 1, tmpl);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	free(tmpl);
	return rc ? 1 : 0;
}
