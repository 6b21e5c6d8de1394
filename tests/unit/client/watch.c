/* Watch streams: the line splitter with chunk boundaries anywhere, and
 * mk_client_watch_run against a real chunked HTTP stream. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/client.h"
#include "testserver.h"

struct lines {
	char *got[16];
	int n;
	int stop_after;
};

static int collect(const char *line, size_t len, void *userdata)
{
	struct lines *l = userdata;
	ck_assert_int_lt(l->n, 16);
	l->got[l->n++] = strndup(line, len);
	if (l->stop_after && l->n == l->stop_after)
		return -7;
	return 0;
}

static void lines_free(struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->got[i]);
	l->n = 0;
}

static const char *STREAM = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
			    "\n"
			    "{\"type\":\"MODIFIED\",\"object\":{\"b\":\"x\\ny\"}}\r\n"
			    "{\"type\":\"DELETED\",\"object\":{}}";

static void check_three(struct lines *l)
{
	ck_assert_int_eq(l->n, 3);
	ck_assert_str_eq(l->got[0], "{\"type\":\"ADDED\",\"object\":{\"a\":1}}");
	ck_assert_str_eq(l->got[1], "{\"type\":\"MODIFIED\",\"object\":{\"b\":\"x\\ny\"}}");
	ck_assert_str_eq(l->got[2], "{\"type\":\"DELETED\",\"object\":{}}");
}

START_TEST(test_splitter_every_boundary)
{
	size_t n = strlen(STREAM);
	/* every pair of cut points: three chunks of every possible size */
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct lines l = { 0 };
			struct mk_client_line_splitter s;
			mk_client_line_splitter_init(&s, 0, collect, &l);
			ck_assert_int_eq(mk_client_line_splitter_feed(&s, STREAM, i), 0);
			ck_assert_int_eq(mk_client_line_splitter_feed(&s, STREAM + i, j - i), 0);
			ck_assert_int_eq(mk_client_line_splitter_feed(&s, STREAM + j, n - j), 0);
			ck_assert_int_eq(mk_client_line_splitter_finish(&s), 0);
			check_three(&l);
			lines_free(&l);
			mk_client_line_splitter_release(&s);
		}
	}
	/* byte by byte */
	struct lines l = { 0 };
	struct mk_client_line_splitter s;
	mk_client_line_splitter_init(&s, 0, collect, &l);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(mk_client_line_splitter_feed(&s, STREAM + i, 1), 0);
	ck_assert_int_eq(l.n, 2); /* the last line has no newline yet */
	ck_assert_int_eq(mk_client_line_splitter_finish(&s), 0);
	check_three(&l);
	lines_free(&l);
	mk_client_line_splitter_release(&s);
}
END_TEST

START_TEST(test_splitter_limits_and_stop)
{
	struct lines l = { 0 };
	struct mk_client_line_splitter s;
	mk_client_line_splitter_init(&s, 8, collect, &l);
	ck_assert_int_eq(mk_client_line_splitter_feed(&s, "1234\n12345678\n", 14), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(mk_client_line_splitter_feed(&s, "12345", 5), 0);
	ck_assert_int_eq(mk_client_line_splitter_feed(&s, "6789", 4), -1);
	ck_assert_int_eq(errno, E2BIG);
	mk_client_line_splitter_release(&s);
	lines_free(&l);

	l.stop_after = 1;
	mk_client_line_splitter_init(&s, 0, collect, &l);
	ck_assert_int_eq(mk_client_line_splitter_feed(&s, "a\nb\nc\n", 6), -7);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.got[0], "a");
	mk_client_line_splitter_release(&s);
	lines_free(&l);
}
END_TEST

/* ---- against a real stream ------------------------------------------------------- */

struct events {
	char types[16][16];
	char names[16][32];
	int n;
	int stop_after;
	struct mk_client_watch *cancel_after_first;
};

static int on_event(const char *type, const cJSON *obj, void *userdata)
{
	struct events *e = userdata;
	ck_assert_int_lt(e->n, 16);
	snprintf(e->types[e->n], 16, "%s", type);
	const char *name = mk_json_get_string(obj, "metadata.name");
	snprintf(e->names[e->n], 32, "%s", name ? name : "");
	e->n++;
	if (e->cancel_after_first)
		mk_client_watch_cancel(e->cancel_after_first);
	if (e->stop_after && e->n == e->stop_after)
		return -1;
	return 0;
}

static const char *const EVENTS_SPLIT[] = {
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"6\"}}}\n{\"ty",
	"pe\":\"MODIFIED\",\"object\":{\"metadata\":{\"na",
	"me\":\"b\",\"resourceVersion\":\"7\"}}}",
	"\n",
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"}}}\n",
	NULL,
};

static const char *const EVENT_GONE[] = {
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"6\"}}}\n",
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
	"\"message\":\"too old resource version: 1 (5)\",\"reason\":\"Expired\",\"code\":410}}\n",
	NULL,
};

static const char *const STATUS_403[] = {
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	"\"message\":\"pods is forbidden: nope\",\"reason\":\"Forbidden\",\"code\":403}",
	NULL,
};

static void handler(struct ts *t, const char *method, const char *target, const char *headers,
		    const char *body, struct ts_reply *r)
{
	r->chunked = true;
	if (strstr(target, "/gone")) {
		r->chunks = EVENT_GONE;
	} else if (strstr(target, "/forbidden")) {
		r->chunked = false;
		r->status = 403;
		r->chunks = STATUS_403;
	} else if (strstr(target, "/hold")) {
		r->chunks = EVENTS_SPLIT;
		r->hold_open = true;
	} else {
		r->chunks = EVENTS_SPLIT;
		r->delay_ms = 20;
	}
}

static struct ts srv;
static struct mk_client *client;

static void setup(void)
{
	ts_start(&srv, handler, NULL);
	char *url = ts_url(&srv);
	struct mk_client_config *cfg = mk_client_config_new(url, "tok", NULL);
	ck_assert_int_eq(mk_client_new(cfg, &client, NULL), 0);
	mk_client_config_free(cfg);
	free(url);
}

static void teardown(void)
{
	mk_client_free(client);
	ts_stop(&srv);
}

START_TEST(test_watch_stream_split_events)
{
	struct mk_client_watch *w = mk_client_watch_new();
	struct events e = { 0 };
	struct mk_error *err = NULL;
	int r = mk_client_watch_run(client, w, "/api/v1/namespaces/ns/pods?labelSelector=a%3Db", "5",
				    30, NULL, on_event, &e, &err);
	ck_assert_msg(r == 0, "%s", err ? err->msg : "");
	ck_assert_int_eq(e.n, 4);
	ck_assert_str_eq(e.types[0], "ADDED");
	ck_assert_str_eq(e.names[0], "a");
	ck_assert_str_eq(e.types[1], "MODIFIED");
	ck_assert_str_eq(e.names[1], "b");
	ck_assert_str_eq(e.types[2], "BOOKMARK");
	ck_assert_str_eq(e.types[3], "DELETED");
	ck_assert_str_eq(mk_client_watch_resource_version(w), "10");
	ck_assert_msg(strstr(srv.last_target, "labelSelector=a%3Db&watch=true"), "%s", srv.last_target);
	ck_assert_msg(strstr(srv.last_target, "resourceVersion=5"), "%s", srv.last_target);
	ck_assert_msg(strstr(srv.last_target, "timeoutSeconds=30"), "%s", srv.last_target);
	ck_assert_msg(strstr(srv.last_headers, "Authorization: Bearer tok"), "%s", srv.last_headers);
	ck_assert(!mk_client_watch_cancelled(w));
	mk_client_watch_free(w);
}
END_TEST

/* A callback may keep the decoded object instead of copying it: the object it
 * takes is the one it was handed, a second take finds nothing, and the taken
 * objects outlive the run. */
struct taker {
	struct mk_client_watch *w;
	cJSON *kept[8];
	int n;
	bool same, second_null;
};

static int on_take(const char *type, const cJSON *obj, void *ud)
{
	struct taker *t = ud;
	cJSON *own = mk_client_watch_take_object(t->w);
	t->same = own == obj;
	t->second_null = mk_client_watch_take_object(t->w) == NULL;
	if (t->n < 8)
		t->kept[t->n++] = own;
	return t->same && t->second_null ? 0 : -1;
}

START_TEST(test_watch_take_object)
{
	struct taker t = { .w = mk_client_watch_new() };
	ck_assert_ptr_null(mk_client_watch_take_object(t.w)); /* outside a callback */
	ck_assert_int_eq(mk_client_watch_run(client, t.w, "/api/v1/pods", NULL, 0, NULL, on_take, &t, NULL), 0);
	ck_assert(t.same);
	ck_assert(t.second_null);
	ck_assert_int_eq(t.n, 4);
	ck_assert_str_eq(mk_json_get_string(t.kept[0], "metadata.name"), "a");
	ck_assert_str_eq(mk_json_get_string(t.kept[1], "metadata.name"), "b");
	ck_assert_str_eq(mk_client_watch_resource_version(t.w), "10");
	for (int i = 0; i < t.n; i++)
		cJSON_Delete(t.kept[i]);
	mk_client_watch_free(t.w);
}
END_TEST

START_TEST(test_watch_callback_stops)
{
	struct mk_client_watch *w = mk_client_watch_new();
	struct events e = { .stop_after = 2 };
	ck_assert_int_eq(mk_client_watch_run(client, w, "/hold", NULL, 0, NULL, on_event, &e, NULL), 0);
	ck_assert_int_eq(e.n, 2);
	ck_assert_str_eq(mk_client_watch_resource_version(w), "7");
	mk_client_watch_free(w);
}
END_TEST

struct canceller {
	struct mk_client_watch *w;
	pthread_t th;
};

static void *cancel_later(void *p)
{
	struct canceller *c = p;
	usleep(300000);
	mk_client_watch_cancel(c->w);
	return NULL;
}

START_TEST(test_watch_cancel_from_other_thread)
{
	struct canceller c = { .w = mk_client_watch_new() };
	struct events e = { 0 };
	pthread_create(&c.th, NULL, cancel_later, &c);
	/* the server holds the stream open (up to 20 s): only the cancel ends it */
	uint64_t t0 = mk_time_mono_ns();
	ck_assert_int_eq(mk_client_watch_run(client, c.w, "/hold", NULL, 0, NULL, on_event, &e, NULL),
			 0);
	pthread_join(c.th, NULL);
	ck_assert(mk_client_watch_cancelled(c.w));
	ck_assert_int_eq(e.n, 4);
	ck_assert_msg(mk_time_mono_ns() - t0 < 15ull * 1000000000, "cancel did not end the watch");
	/* cancelled: a new run returns at once until reset */
	ck_assert_int_eq(mk_client_watch_run(client, c.w, "/hold", NULL, 0, NULL, on_event, &e, NULL),
			 0);
	ck_assert_int_eq(e.n, 4);
	mk_client_watch_reset(c.w);
	ck_assert(!mk_client_watch_cancelled(c.w));
	/* resume from the last resourceVersion, cancelling from the callback */
	e.cancel_after_first = c.w;
	ck_assert_int_eq(mk_client_watch_run(client, c.w, "/hold",
					     mk_client_watch_resource_version(c.w), 0, NULL,
					     on_event, &e, NULL),
			 0);
	ck_assert_msg(strstr(srv.last_target, "resourceVersion=10"), "%s", srv.last_target);
	ck_assert_int_ge(e.n, 5);
	mk_client_watch_free(c.w);
}
END_TEST

START_TEST(test_watch_errors)
{
	struct mk_client_watch *w = mk_client_watch_new();
	struct events e = { 0 };
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_watch_run(client, w, "/gone", "1", 0, NULL, on_event, &e, &err), -1);
	ck_assert_int_eq(err->code, 410);
	ck_assert_str_eq(err->msg, "too old resource version: 1 (5)");
	ck_assert_int_eq(e.n, 2);
	ck_assert_str_eq(e.types[1], "ERROR");
	mk_error_free(&err);

	e.n = 0;
	ck_assert_int_eq(mk_client_watch_run(client, w, "/forbidden", NULL, 0, NULL, on_event, &e, &err),
			 -1);
	ck_assert_int_eq(err->code, 403);
	ck_assert_str_eq(err->msg, "pods is forbidden: nope");
	ck_assert_int_eq(e.n, 0);
	mk_error_free(&err);
	mk_client_watch_free(w);
}
END_TEST

Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("splitter");
	tcase_add_test(tc, test_splitter_every_boundary);
	tcase_add_test(tc, test_splitter_limits_and_stop);
	suite_add_tcase(s, tc);
	tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_watch_stream_split_events);
	tcase_add_test(tc, test_watch_callback_stops);
	tcase_add_test(tc, test_watch_take_object);
	tcase_add_test(tc, test_watch_cancel_from_other_thread);
	tcase_add_test(tc, test_watch_errors);
	suite_add_tcase(s, tc);
	return s;
}
