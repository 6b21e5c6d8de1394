/* Watches: live events, resume, window, cancel, close, DELETED content. */
#include <pthread.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "helpers.h"

static struct mk_store_event *must_next(struct mk_store_watch *w)
{
	struct mk_store_event *ev = NULL;
	struct mk_error *err = NULL;
	int r = mk_store_watch_next(w, 5000, &ev, &err);
	ck_assert_msg(r == 1, "watch_next returned %d: %s", r, err ? err->msg : "timeout");
	return ev;
}

static void expect_no_event(struct mk_store_watch *w, int timeout_ms)
{
	struct mk_store_event *ev = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_store_watch_next(w, timeout_ms, &ev, &err), 0);
}

START_TEST(test_watch_live)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	uint64_t base = mk_store_revision(s);

	must_create(s, "pods", "default", "before", NULL);
	ck_assert_int_eq(mk_store_watch_new(s, "pods", NULL, 0, &w, &err), 0);
	expect_no_event(w, 0);
	expect_no_event(w, 50);
	must_create(s, "services", "default", "svc", NULL);
	must_create(s, "pods", "default", "after", NULL);

	struct mk_store_event *ev = must_next(w);
	ck_assert_uint_eq(ev->rv, R(3));
	ck_assert_int_eq(ev->type, MK_STORE_ADDED);
	ck_assert_str_eq(mk_store_event_type_name(ev->type), "ADDED");
	ck_assert_str_eq(ev->resource, "pods");
	ck_assert_str_eq(ev->ns, "default");
	ck_assert_str_eq(ev->name, "after");
	ck_assert_ptr_nonnull(strstr(ev->json, rvfield(R(3))));
	mk_store_event_unref(ev);
	expect_no_event(w, 0);
	mk_store_watch_free(w);
	mk_store_free(s);
}
END_TEST

START_TEST(test_watch_resume_filter)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_store_watch *all = NULL, *ns = NULL;
	struct mk_error *err = NULL;
	uint64_t base = mk_store_revision(s);

	must_create(s, "pods", "a", "p1", NULL);	 /* 1 */
	must_create(s, "pods", "b", "p2", NULL);	 /* 2 */
	must_create(s, "pods", "a", "p3", NULL);	 /* 3 */
	must_create(s, "services", "a", "s1", NULL); /* 4 */
	must_create(s, "pods", "b", "p4", NULL);	 /* 5 */

	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(1), &all, &err), 0);
	ck_assert_int_eq(mk_store_watch_new(s, "pods", "b", R(1), &ns, &err), 0);
	for (uint64_t rv = R(2); rv <= R(5); rv++) {
		struct mk_store_event *ev = must_next(all);
		ck_assert_uint_eq(ev->rv, rv);
		mk_store_event_unref(ev);
	}
	expect_no_event(all, 0);
	struct mk_store_event *ev = must_next(ns);
	ck_assert_uint_eq(ev->rv, R(2));
	mk_store_event_unref(ev);
	ev = must_next(ns);
	ck_assert_uint_eq(ev->rv, R(5));
	ck_assert_str_eq(ev->name, "p4");
	mk_store_event_unref(ev);
	expect_no_event(ns, 0);

	/* resuming at the current revision is fine and sees only new events */
	struct mk_store_watch *cur = NULL;
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(5), &cur, &err), 0);
	expect_no_event(cur, 0);
	must_create(s, "pods", "b", "p5", NULL);
	ev = must_next(cur);
	ck_assert_uint_eq(ev->rv, R(6));
	mk_store_event_unref(ev);
	mk_store_watch_free(cur);
	mk_store_watch_free(all);
	mk_store_watch_free(ns);
	mk_store_free(s);
}
END_TEST

START_TEST(test_watch_resume_after_restart)
{
	char *dir = tmpdir_new();
	char *path = mk_strdup_printf("%s/state.db", dir);
	struct mk_store *s = store_open_at(path, 0);
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	uint64_t base = mk_store_revision(s);

	for (int i = 0; i < 10; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i);
		must_create(s, "pods", "default", name, NULL);
	}
	ck_assert_int_eq(mk_store_delete(s, "pods", "default", "p0", 0, NULL, NULL, &err), 0);
	mk_store_free(s);

	s = store_open_at(path, 0);
	ck_assert_int_eq(mk_store_watch_new(s, "pods", NULL, R(3), &w, &err), 0);
	for (uint64_t rv = R(4); rv <= R(11); rv++) {
		struct mk_store_event *ev = must_next(w);
		ck_assert_uint_eq(ev->rv, rv);
		ck_assert_int_eq(ev->type, rv == R(11) ? MK_STORE_DELETED : MK_STORE_ADDED);
		mk_store_event_unref(ev);
	}
	expect_no_event(w, 0);
	mk_store_watch_free(w);
	mk_store_free(s);
	free(path);
	tmpdir_remove(dir);
}
END_TEST

/* More events than the in-memory ring holds: the old ones come from the table. */
START_TEST(test_watch_resume_from_table)
{
	struct mk_store *s = store_open_at(":memory:", 20000);
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	const int n = 9000;
	uint64_t base = mk_store_revision(s);

	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%05d", i);
		must_create(s, "pods", i % 2 ? "odd" : "even", name, NULL);
	}
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(10), &w, &err), 0);
	for (uint64_t rv = R(11); rv <= R(n); rv++) {
		struct mk_store_event *ev = must_next(w);
		ck_assert_uint_eq(ev->rv, rv);
		char name[32];
		snprintf(name, sizeof(name), "p%05d", (int)(rv - base) - 1);
		ck_assert_str_eq(ev->name, name);
		mk_store_event_unref(ev);
	}
	expect_no_event(w, 0);
	mk_store_watch_free(w);

	/* filtered, from the table and then the ring */
	ck_assert_int_eq(mk_store_watch_new(s, "pods", "odd", R(1), &w, &err), 0);
	int count = 0;
	struct mk_store_event *ev = NULL;
	while (mk_store_watch_next(w, 0, &ev, &err) == 1) {
		ck_assert_str_eq(ev->ns, "odd");
		ck_assert_uint_eq((ev->rv - base) % 2, 0);
		count++;
		mk_store_event_unref(ev);
	}
	ck_assert_ptr_null(err);
	ck_assert_int_eq(count, n / 2);
	mk_store_watch_free(w);
	mk_store_free(s);
}
END_TEST

START_TEST(test_watch_window_erange)
{
	char *dir = tmpdir_new();
	char *path = mk_strdup_printf("%s/state.db", dir);
	struct mk_store *s = store_open_at(path, 5);
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	uint64_t base = mk_store_revision(s);

	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i);
		must_create(s, "pods", "default", name, NULL);
	}
	/* kept: 16..20 */
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(2), &w, &err), -1);
	ck_assert_int_eq(err->code, ERANGE);
	mk_error_free(&err);
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(14), &w, &err), -1);
	ck_assert_int_eq(err->code, ERANGE);
	mk_error_free(&err);
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(15), &w, &err), 0);
	struct mk_store_event *ev = must_next(w);
	ck_assert_uint_eq(ev->rv, R(16));
	mk_store_event_unref(ev);
	mk_store_watch_free(w);

	/* a watcher that does not keep up falls out of the window */
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, 0, &w, &err), 0);
	for (int i = 0; i < 10; i++) {
		char name[32];
		snprintf(name, sizeof(name), "q%d", i);
		must_create(s, "pods", "default", name, NULL);
	}
	ev = NULL;
	ck_assert_int_eq(mk_store_watch_next(w, 100, &ev, &err), -1);
	ck_assert_int_eq(err->code, ERANGE);
	mk_error_free(&err);
	mk_store_watch_free(w);
	mk_store_free(s);

	/* the same after a restart: the window comes from the table */
	s = store_open_at(path, 5);
	ck_assert_uint_eq(mk_store_revision(s), R(30));
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(20), &w, &err), -1);
	ck_assert_int_eq(err->code, ERANGE);
	mk_error_free(&err);
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, R(25), &w, &err), 0);
	ev = must_next(w);
	ck_assert_uint_eq(ev->rv, R(26));
	mk_store_event_unref(ev);
	mk_store_watch_free(w);
	mk_store_free(s);

	/* and the table itself was compacted (in batches: not more than a few windows) */
	_cleanup_free_ char *etcd_ep = etcd_endpoint_for(path);
	if (etcd_ep) {
		/* etcd compacts its own history (the backend asks it to): the 410s
		 * above are what a client sees of it */
	} else if (test_endpoint()) {
		/* PostgreSQL: compaction runs on the feed thread, asynchronously; what
		 * must hold at any time is that no row at or below the recorded
		 * compacted revision is superseded history or a deletion */
		_cleanup_free_ char *ep = pg_endpoint_for(path);
		PGconn *c = PQconnectdb(ep);
		ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
		PGresult *r = PQexec(c, "SELECT count(*) FROM minik8s_rev r WHERE r.id <="
					" (SELECT value FROM minik8s_meta WHERE key='compacted') AND"
					" (r.deleted = 1 OR EXISTS (SELECT 1 FROM minik8s_rev n WHERE"
					" n.resource = r.resource AND n.ns = r.ns AND n.name = r.name"
					" AND n.id > r.id AND n.id <= (SELECT value FROM minik8s_meta"
					" WHERE key='compacted')))");
		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		ck_assert_str_eq(PQgetvalue(r, 0, 0), "0");
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*), min(rv) FROM events", -1,
						    &st, NULL),
				 SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_int_le(sqlite3_column_int(st, 0), 10);
		ck_assert_int_ge(sqlite3_column_int(st, 0), 5);
		ck_assert_int_le(sqlite3_column_int(st, 1), 26);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	free(path);
	tmpdir_remove(dir);
}
END_TEST

struct waiter {
	struct mk_store_watch *w;
	int r, code;
};

static void *wait_thread(void *arg)
{
	struct waiter *wt = arg;
	struct mk_store_event *ev = NULL;
	struct mk_error *err = NULL;
	wt->r = mk_store_watch_next(wt->w, -1, &ev, &err);
	wt->code = err ? err->code : 0;
	mk_error_free(&err);
	mk_store_event_unref(ev);
	return NULL;
}

START_TEST(test_watch_cancel)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct waiter wt = { 0 };
	struct mk_error *err = NULL;
	pthread_t t;

	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, 0, &wt.w, &err), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &wt), 0);
	usleep(100 * 1000); /* let it block; cancel must work either way */
	mk_store_watch_cancel(wt.w);
	pthread_join(t, NULL);
	ck_assert_int_eq(wt.r, -1);
	ck_assert_int_eq(wt.code, ECANCELED);
	mk_store_watch_free(wt.w);
	mk_store_free(s);
}
END_TEST

START_TEST(test_store_free_wakes_watchers)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct waiter wt[3] = { 0 };
	struct mk_error *err = NULL;
	pthread_t t[3];

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(mk_store_watch_new(s, i ? "pods" : NULL, NULL, 0, &wt[i].w, &err),
				 0);
		ck_assert_int_eq(pthread_create(&t[i], NULL, wait_thread, &wt[i]), 0);
	}
	usleep(100 * 1000);
	mk_store_free(s);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(wt[i].r, -1);
		ck_assert_int_eq(wt[i].code, ECANCELED);
		mk_store_watch_free(wt[i].w);
	}
}
END_TEST

START_TEST(test_deleted_event)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	char *json = NULL;
	uint64_t rv = 0;
	uint64_t base = mk_store_revision(s);

	ck_assert_int_eq(mk_store_watch_new(s, "pods", "default", 0, &w, &err), 0);
	must_create(s, "pods", "default", "web", "created");
	cJSON *o = make_obj("web", "default", "updated");
	ck_assert_int_eq(mk_store_update(s, "pods", "default", "web", R(1), o, NULL, NULL, &err), 0);
	cJSON_Delete(o);
	ck_assert_int_eq(mk_store_delete(s, "pods", "default", "web", R(2), &json, &rv, &err), 0);
	ck_assert_uint_eq(rv, R(3));

	struct mk_store_event *ev = must_next(w);
	ck_assert_int_eq(ev->type, MK_STORE_ADDED);
	mk_store_event_unref(ev);
	ev = must_next(w);
	ck_assert_int_eq(ev->type, MK_STORE_MODIFIED);
	ck_assert_str_eq(mk_store_event_type_name(ev->type), "MODIFIED");
	ck_assert_ptr_nonnull(strstr(ev->json, "\"updated\""));
	mk_store_event_unref(ev);
	ev = must_next(w);
	ck_assert_int_eq(ev->type, MK_STORE_DELETED);
	ck_assert_str_eq(mk_store_event_type_name(ev->type), "DELETED");
	ck_assert_uint_eq(ev->rv, R(3));
	ck_assert_str_eq(ev->json, json);
	cJSON *d = cJSON_Parse(ev->json);
	ck_assert_str_eq(rv_of(d), rvstr(R(3)));
	ck_assert_str_eq(mk_json_get_string(d, "extra"), "updated");
	ck_assert_str_eq(mk_json_get_string(d, "metadata.name"), "web");
	cJSON_Delete(d);
	mk_store_event_unref(ev);
	free(json);
	mk_store_watch_free(w);
	mk_store_free(s);
}
END_TEST

/* The ring keeps no more than event_ring_bytes of event text (but always the
 * newest event): a watcher from before it reads the older events from the
 * backend, in order and without a gap, as one behind the ring by count does. */
START_TEST(test_ring_bytes_bound)
{
	struct mk_store_options o = { .path = ":memory:", .event_window = 1000, .event_ring_bytes = 16384 };
	struct mk_store *s = NULL;
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	char *ep = etcd_endpoint_for(":memory:");
	if (!ep && test_endpoint())
		ep = pg_endpoint_for(":memory:");
	o.endpoint = ep;
	ck_assert_int_eq(mk_store_open(&o, &s, &err), 0);
	free(ep);
	/* a watch from revision 0 starts now: watch after a first write */
	uint64_t base = must_create(s, "secrets", "default", "first", NULL);
	char extra[1001];
	memset(extra, 'x', 1000);
	extra[1000] = 0;
	const int n = 100;
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "c%03d", i);
		must_create(s, "configmaps", "default", name, extra);
	}
	size_t events, bytes;
	mk_store_ring_usage(s, &events, &bytes);
	ck_assert_uint_le(bytes, 16384);
	ck_assert_uint_gt(events, 0);
	ck_assert_uint_lt(events, n);
	ck_assert_int_eq(mk_store_watch_new(s, "configmaps", NULL, base, &w, &err), 0);
	for (int i = 0; i < n; i++) {
		struct mk_store_event *ev = must_next(w);
		char name[32];
		snprintf(name, sizeof(name), "c%03d", i);
		ck_assert_str_eq(ev->name, name);
		ck_assert_ptr_nonnull(strstr(ev->json, extra));
		mk_store_event_unref(ev);
	}
	expect_no_event(w, 0);
	mk_store_watch_free(w);
	mk_store_free(s);
}
END_TEST

/* ---- hints and targeted wakeups ------------------------------------------- */

/* A pod on node (NULL: unscheduled) with an optional label nodeName=label: the key
 * elsewhere in the text. */
static cJSON *pod_on(const char *name, const char *node, const char *label)
{
	cJSON *o = make_obj(name, "default", NULL);
	if (label)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_GetObjectItem(o, "metadata"),
								"labels"),
					"nodeName", label);
	cJSON *spec = cJSON_AddObjectToObject(o, "spec");
	if (node)
		cJSON_AddStringToObject(spec, "nodeName", node);
	return o;
}

static uint64_t put_pod(struct mk_store *s, const char *name, const char *node, const char *label,
			uint64_t expect_rv)
{
	cJSON *o = pod_on(name, node, label);
	struct mk_error *err = NULL;
	uint64_t rv = 0;
	int r = expect_rv ? mk_store_update(s, "pods", "default", name, expect_rv, o, NULL, &rv, &err)
			  : mk_store_create(s, "pods", "default", name, o, NULL, &rv, &err);
	ck_assert_msg(r == 0, "put %s: %s", name, err ? err->msg : "?");
	cJSON_Delete(o);
	return rv;
}

static void expect_event(struct mk_store_watch *w, uint64_t rv, enum mk_store_event_type type)
{
	struct mk_store_event *ev = must_next(w);
	ck_assert_uint_eq(ev->rv, rv);
	ck_assert_int_eq(ev->type, type);
	mk_store_event_unref(ev);
}

static struct mk_store_watch *node_watch(struct mk_store *s, const char *node, uint64_t after)
{
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_store_watch_new(s, "pods", NULL, after, &w, &err), 0);
	mk_store_watch_hint_key(w, "nodeName", node);
	return w;
}

/* A node's watch gets its pods' events, the one moving a pod off it (the value
 * only in old_json) and the deletion, and not the other nodes' pods; a label with
 * the same key only adds events; a name hint and other resources are unaffected. */
START_TEST(test_watch_hint_node)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_store_watch *a = node_watch(s, "node-a", 0), *b = node_watch(s, "node-b", 0);
	struct mk_store_watch *all = NULL, *svc = NULL, *named = NULL;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_store_watch_new(s, "pods", NULL, 0, &all, &err), 0);
	ck_assert_int_eq(mk_store_watch_new(s, "services", NULL, 0, &svc, &err), 0);
	ck_assert_int_eq(mk_store_watch_new(s, "pods", "default", 0, &named, &err), 0);
	mk_store_watch_hint_name(named, "web");

	uint64_t r1 = put_pod(s, "other", "node-b", NULL, 0);
	uint64_t r2 = put_pod(s, "web", NULL, NULL, 0);	  /* unscheduled */
	uint64_t r3 = put_pod(s, "web", "node-a", NULL, r2); /* bound to a */
	uint64_t r4 = put_pod(s, "web", "node-b", NULL, r3); /* moved off a */
	uint64_t r5 = put_pod(s, "lbl", "node-b", "node-a", 0); /* node-a only as a label */
	uint64_t r6 = must_create(s, "services", "default", "svc", NULL);
	uint64_t r7 = 0;
	char *json = NULL;
	ck_assert_int_eq(mk_store_delete(s, "pods", "default", "web", r4, &json, &r7, &err), 0);
	free(json);

	expect_event(a, r3, MK_STORE_MODIFIED);
	expect_event(a, r4, MK_STORE_MODIFIED);
	expect_event(a, r5, MK_STORE_ADDED);
	expect_no_event(a, 50);
	expect_event(b, r1, MK_STORE_ADDED);
	expect_event(b, r4, MK_STORE_MODIFIED);
	expect_event(b, r5, MK_STORE_ADDED);
	expect_event(b, r7, MK_STORE_DELETED);
	expect_no_event(b, 0);
	expect_event(named, r2, MK_STORE_ADDED);
	expect_event(named, r3, MK_STORE_MODIFIED);
	expect_event(named, r4, MK_STORE_MODIFIED);
	expect_event(named, r7, MK_STORE_DELETED);
	expect_no_event(named, 0);
	uint64_t want[] = { r1, r2, r3, r4, r5, r7 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct mk_store_event *ev = must_next(all);
		ck_assert_uint_eq(ev->rv, want[i]);
		mk_store_event_unref(ev);
	}
	expect_no_event(all, 0);
	expect_event(svc, r6, MK_STORE_ADDED);
	expect_no_event(svc, 0);
	mk_store_watch_free(a);
	mk_store_watch_free(b);
	mk_store_watch_free(all);
	mk_store_watch_free(svc);
	mk_store_watch_free(named);
	mk_store_free(s);
}
END_TEST

/* A value that cannot be read plainly (escaped) reaches every node's watch. */
START_TEST(test_watch_hint_unreadable)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_store_watch *a = node_watch(s, "node-a", 0);
	uint64_t r1 = put_pod(s, "odd", "node\"x", NULL, 0);
	uint64_t r2 = put_pod(s, "mine", "node-a", NULL, 0);
	expect_event(a, r1, MK_STORE_ADDED);
	expect_event(a, r2, MK_STORE_ADDED);
	expect_no_event(a, 0);
	mk_store_watch_free(a);
	mk_store_free(s);
}
END_TEST

struct hinted_waiter {
	struct mk_store_watch *w;
	int r, code;
	uint64_t rv;
	char name[32];
};

static void *hinted_wait_thread(void *arg)
{
	struct hinted_waiter *wt = arg;
	struct mk_store_event *ev = NULL;
	struct mk_error *err = NULL;
	wt->r = mk_store_watch_next(wt->w, -1, &ev, &err);
	wt->code = err ? err->code : 0;
	if (ev) {
		wt->rv = ev->rv;
		snprintf(wt->name, sizeof(wt->name), "%s", ev->name);
	}
	mk_error_free(&err);
	mk_store_event_unref(ev);
	return NULL;
}

/* Watchers blocked in next are woken by their own events: each node's waiter
 * returns its node's pod, though the other nodes' pods came first, and far more
 * of them than the event window (a waiter skips what does not concern it
 * instead of falling behind the window). */
START_TEST(test_watch_hint_blocked_wakeup)
{
	struct mk_store *s = store_open_at(":memory:", 64);
	struct hinted_waiter wt[4] = { 0 };
	pthread_t t[4];
	char node[32], name[32];

	for (int i = 0; i < 4; i++) {
		snprintf(node, sizeof(node), "node-%d", i);
		wt[i].w = node_watch(s, node, 0);
		ck_assert_int_eq(pthread_create(&t[i], NULL, hinted_wait_thread, &wt[i]), 0);
	}
	usleep(100 * 1000); /* let them block; the result is the same either way */
	for (int j = 0; j < 200; j++) {
		snprintf(name, sizeof(name), "filler-%d", j);
		put_pod(s, name, "node-9", NULL, 0);
	}
	uint64_t rv[4];
	for (int i = 3; i >= 0; i--) {
		snprintf(node, sizeof(node), "node-%d", i);
		snprintf(name, sizeof(name), "pod-%d", i);
		rv[i] = put_pod(s, name, node, NULL, 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(wt[i].r == 1, "waiter %d: %d (code %d)", i, wt[i].r, wt[i].code);
		ck_assert_uint_eq(wt[i].rv, rv[i]);
		snprintf(name, sizeof(name), "pod-%d", i);
		ck_assert_str_eq(wt[i].name, name);
		expect_no_event(wt[i].w, 0);
	}
	/* cancel and close reach hinted waiters too */
	ck_assert_int_eq(pthread_create(&t[0], NULL, hinted_wait_thread, &wt[0]), 0);
	ck_assert_int_eq(pthread_create(&t[1], NULL, hinted_wait_thread, &wt[1]), 0);
	usleep(100 * 1000);
	mk_store_watch_cancel(wt[0].w);
	pthread_join(t[0], NULL);
	ck_assert_int_eq(wt[0].r, -1);
	ck_assert_int_eq(wt[0].code, ECANCELED);
	for (int i = 0; i < 4; i++)
		if (i != 1)
			mk_store_watch_free(wt[i].w);
	mk_store_free(s);
	pthread_join(t[1], NULL);
	ck_assert_int_eq(wt[1].r, -1);
	ck_assert_int_eq(wt[1].code, ECANCELED);
	mk_store_watch_free(wt[1].w);
}
END_TEST

/* A hinted watcher behind the ring reads the table and still gets exactly its
 * node's pods, in order. */
START_TEST(test_watch_hint_from_table)
{
	struct mk_store *s = store_open_at(":memory:", 20000);
	const int n = 9000;
	uint64_t base = mk_store_revision(s);
	char name[32];

	put_pod(s, "first", "node-a", NULL, 0); /* R(1): resuming after it (0 is "now") */
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "p%05d", i);
		put_pod(s, name, i % 3 ? "node-x" : "node-a", NULL, 0);
	}
	struct mk_store_watch *w = node_watch(s, "node-a", R(1));
	for (int i = 0; i < n; i += 3) {
		struct mk_store_event *ev = must_next(w);
		snprintf(name, sizeof(name), "p%05d", i);
		ck_assert_str_eq(ev->name, name);
		ck_assert_uint_eq(ev->rv, R(i + 2));
		mk_store_event_unref(ev);
	}
	expect_no_event(w, 0);
	mk_store_watch_free(w);
	mk_store_free(s);
}
END_TEST

/* SQLite: the background checkpointer copies the WAL into the database and the
 * WAL restarts, so the WAL stays bounded while the data grows (it was never
 * checkpointed: a 4 KB database beside a WAL as large as all writes). */
/* A SQLite store in a temp dir of its own, with its WAL file's path. */
struct wal_store {
	char *dir, *path, *wal;
	struct mk_store *s;
};

/* false (nothing opened) when the suite runs on another backend than SQLite */
static bool wal_store_open(struct wal_store *f)
{
	_cleanup_free_ char *etcd_ep = etcd_endpoint_for("x");
	if (test_endpoint() || etcd_ep)
		return false; /* SQLite's own WAL */
	f->dir = tmpdir_new();
	f->path = mk_strdup_printf("%s/state.db", f->dir);
	f->wal = mk_strdup_printf("%s-wal", f->path);
	f->s = store_open_at(f->path, 0);
	return true;
}

static void wal_store_close(struct wal_store *f)
{
	mk_store_free(f->s);
	free(f->wal);
	free(f->path);
	tmpdir_remove(f->dir);
}

/* Writers that never pause, faster than the checkpoints' copies: the WAL still
 * restarts, and its file stays under the store's bound (16,000 pages) while
 * ~200 MB of rows and events go through it (without the writer's own catch-up it
 * grew as long as they wrote). */
struct steady_writer {
	struct mk_store *s;
	int id, n, failed;
	int *finished; /* writers done, atomic */
};

static void *steady_write(void *arg)
{
	struct steady_writer *w = arg;
	char big[2048], name[32];
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (int i = 0; i < w->n; i++) {
		snprintf(name, sizeof(name), "s%d-%05d", w->id, i);
		cJSON *o = make_obj(name, "default", big);
		struct mk_error *err = NULL;
		uint64_t rv;
		if (mk_store_create(w->s, "configmaps", "default", name, o, NULL, &rv, &err) < 0)
			w->failed++;
		mk_error_free(&err);
		cJSON_Delete(o);
	}
	__atomic_add_fetch(w->finished, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

START_TEST(test_sqlite_wal_bounded_under_steady_writes)
{
	struct wal_store f;
	if (!wal_store_open(&f))
		return;
	struct mk_store *s = f.s;
	const char *path = f.path, *wal = f.wal;
	struct steady_writer w[8];
	pthread_t t[8];
	int finished = 0;
	for (int i = 0; i < 8; i++) {
		w[i] = (struct steady_writer){ .s = s, .id = i, .n = 3000, .finished = &finished };
		ck_assert_int_eq(pthread_create(&t[i], NULL, steady_write, &w[i]), 0);
	}
	/* the WAL's largest size while they write, sampled every 5 ms */
	off_t most = 0;
	while (__atomic_load_n(&finished, __ATOMIC_SEQ_CST) < 8) {
		struct stat st;
		if (stat(wal, &st) == 0 && st.st_size > most)
			most = st.st_size;
		usleep(5 * 1000);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].failed, 0);
	}
	struct stat db_st;
	ck_assert_int_eq(stat(path, &db_st), 0);
	ck_assert_msg(db_st.st_size > 40 * 1024 * 1024, "database %lld bytes: not checkpointed",
		      (long long)db_st.st_size);
	/* past 16,000 pages (~64 MiB) the writer waits for the background's copy and
	 * catches up: the bound, and a group commit's pages (553 MB without the
	 * catch-up, 150 MB with it when it never waited) */
	ck_assert_msg(most <= 72 * 1024 * 1024, "WAL reached %lld bytes beside a database of %lld",
		      (long long)most, (long long)db_st.st_size);
	wal_store_close(&f);
}
END_TEST

START_TEST(test_sqlite_wal_checkpointed)
{
	struct wal_store f;
	if (!wal_store_open(&f))
		return;
	struct mk_store *s = f.s;
	const char *path = f.path, *wal = f.wal;
	char big[2048], name[32];
	struct stat db_st, wal_st;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	/* ~24 MB of rows and events, six times the checkpoint threshold */
	for (int i = 0; i < 6000; i++) {
		snprintf(name, sizeof(name), "c%05d", i);
		must_create(s, "configmaps", "default", name, big);
	}
	/* the checkpoint runs on its own thread: wait for it to catch up */
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(stat(path, &db_st), 0);
		if (db_st.st_size > 12 * 1024 * 1024)
			break;
		usleep(100 * 1000);
	}
	ck_assert_msg(db_st.st_size > 12 * 1024 * 1024, "database %lld bytes: not checkpointed",
		      (long long)db_st.st_size);
	/* once the writer pauses, the WAL restarts and its file goes back to at most
	 * the store's limit (32 MiB), however far a loaded machine let it run ahead;
	 * a small commit a try gives the checkpointer its signal and the WAL its
	 * restart (bounded: 30 s) */
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(stat(wal, &wal_st), 0);
		if (wal_st.st_size <= 32 * 1024 * 1024)
			break;
		snprintf(name, sizeof(name), "w%05d", i);
		must_create(s, "configmaps", "default", name, "x");
		usleep(100 * 1000);
	}
	ck_assert_msg(wal_st.st_size <= 32 * 1024 * 1024, "WAL %lld bytes beside a database of %lld",
		      (long long)wal_st.st_size, (long long)db_st.st_size);
	wal_store_close(&f);
}
END_TEST

Suite *watch_suite(void)
{
	Suite *su = suite_create("store-watch");
	TCase *tc = tcase_create("watch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_watch_live);
	tcase_add_test(tc, test_watch_resume_filter);
	tcase_add_test(tc, test_watch_resume_after_restart);
	tcase_add_test(tc, test_watch_resume_from_table);
	tcase_add_test(tc, test_watch_window_erange);
	tcase_add_test(tc, test_watch_cancel);
	tcase_add_test(tc, test_store_free_wakes_watchers);
	tcase_add_test(tc, test_deleted_event);
	tcase_add_test(tc, test_ring_bytes_bound);
	tcase_add_test(tc, test_watch_hint_node);
	tcase_add_test(tc, test_watch_hint_unreadable);
	tcase_add_test(tc, test_watch_hint_blocked_wakeup);
	tcase_add_test(tc, test_watch_hint_from_table);
	tcase_add_test(tc, test_sqlite_wal_checkpointed);
	tcase_add_test(tc, test_sqlite_wal_bounded_under_steady_writes);
	suite_add_tcase(su, tc);
	return su;
}
