/* The event recorder against a test server that keeps every write it gets:
 * client-go's EventCorrelator semantics (a repeat bumps count, lastTimestamp and
 * message by PATCH; ten distinct messages of one reason combine; the per-object
 * spam filter lets a burst of 25 through), and objects do not share limits. */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include "minik8s/client.h"
#include "testserver.h"

#define MAX_WRITES 256

struct write {
	char method[8];
	char target[256];
	cJSON *body;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct write writes[MAX_WRITES];
static int nwrites;
static const char *const EMPTY[] = { "{}", NULL };

static void handler(struct ts *t, const char *method, const char *target, const char *headers,
		    const char *body, struct ts_reply *r)
{
	pthread_mutex_lock(&mu);
	if (nwrites < MAX_WRITES) {
		struct write *w = &writes[nwrites++];
		snprintf(w->method, sizeof(w->method), "%s", method);
		snprintf(w->target, sizeof(w->target), "%s", target);
		w->body = cJSON_Parse(body);
	}
	pthread_mutex_unlock(&mu);
	r->status = !strcmp(method, "POST") ? 201 : 200;
	r->chunks = EMPTY;
}

static struct ts srv;
static struct mk_client *client;
static struct mk_event_recorder *rec;

static void setup(void)
{
	nwrites = 0;
	ts_start(&srv, handler, NULL);
	char *url = ts_url(&srv);
	struct mk_client_config *cfg = mk_client_config_new(url, "tok", NULL);
	ck_assert_int_eq(mk_client_new(cfg, &client, NULL), 0);
	mk_client_config_free(cfg);
	free(url);
	rec = mk_event_recorder_new(client);
}

static void teardown(void)
{
	mk_event_recorder_free(rec);
	mk_client_free(client);
	ts_stop(&srv);
	for (int i = 0; i < nwrites; i++)
		cJSON_Delete(writes[i].body);
}

static cJSON *pod(const char *name)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "apiVersion", "v1");
	cJSON_AddStringToObject(p, "kind", "Pod");
	cJSON *md = cJSON_AddObjectToObject(p, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", "ns1");
	char uid[64];
	snprintf(uid, sizeof(uid), "uid-%s", name);
	cJSON_AddStringToObject(md, "uid", uid);
	return p;
}

static int count(const char *method)
{
	int n = 0;
	for (int i = 0; i < nwrites; i++)
		n += !strcmp(writes[i].method, method);
	return n;
}

static void flush(void)
{
	ck_assert_int_eq(mk_event_recorder_flush(rec, 10000), 1);
}

/* The same event three times: one Event, then two PATCHes of it, count 2 and 3. */
START_TEST(test_repeat_bumps_count)
{
	cJSON *p = pod("a");
	for (int i = 0; i < 3; i++)
		mk_event_record(rec, "default-scheduler", p, "Warning", "FailedScheduling",
				"0/%d nodes are available", 0);
	flush();
	ck_assert_int_eq(nwrites, 3);
	ck_assert_str_eq(writes[0].method, "POST");
	ck_assert_str_eq(writes[0].target, "/api/v1/namespaces/ns1/events");
	const char *name = mk_json_get_string(writes[0].body, "metadata.name");
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(strncmp(name, "a.", 2), 0);
	ck_assert_int_eq(cJSON_GetObjectItem(writes[0].body, "count")->valueint, 1);
	char want[300];
	snprintf(want, sizeof(want), "/api/v1/namespaces/ns1/events/%s", name);
	for (int i = 1; i < 3; i++) {
		ck_assert_str_eq(writes[i].method, "PATCH");
		ck_assert_str_eq(writes[i].target, want);
		ck_assert_int_eq(cJSON_GetObjectItem(writes[i].body, "count")->valueint, i + 1);
		ck_assert_ptr_nonnull(mk_json_get_string(writes[i].body, "lastTimestamp"));
		ck_assert_str_eq(mk_json_get_string(writes[i].body, "message"), "0/0 nodes are available");
	}
	cJSON_Delete(p);
}
END_TEST

/* Ten distinct messages of one reason: the tenth and later are one combined Event,
 * bumped with each further message (client-go's EventAggregator). */
START_TEST(test_distinct_messages_combine)
{
	cJSON *p = pod("b");
	for (int i = 0; i < 12; i++)
		mk_event_record(rec, "default-scheduler", p, "Warning", "FailedScheduling", "message %d", i);
	flush();
	ck_assert_int_eq(nwrites, 12);
	for (int i = 0; i < 9; i++) {
		char want[32];
		snprintf(want, sizeof(want), "message %d", i);
		ck_assert_str_eq(writes[i].method, "POST");
		ck_assert_str_eq(mk_json_get_string(writes[i].body, "message"), want);
	}
	ck_assert_str_eq(writes[9].method, "POST");
	ck_assert_str_eq(mk_json_get_string(writes[9].body, "message"),
			 "(combined from similar events): message 9");
	ck_assert_str_eq(mk_json_get_string(writes[9].body, "reason"), "FailedScheduling");
	ck_assert_str_eq(writes[10].method, "PATCH");
	ck_assert_str_eq(writes[11].method, "PATCH");
	ck_assert_int_eq(cJSON_GetObjectItem(writes[11].body, "count")->valueint, 3);
	ck_assert_str_eq(mk_json_get_string(writes[11].body, "message"),
			 "(combined from similar events): message 11");
	/* another reason of the same object is not combined */
	mk_event_record(rec, "default-scheduler", p, "Normal", "Scheduled", "assigned");
	flush();
	ck_assert_int_eq(nwrites, 13);
	ck_assert_str_eq(mk_json_get_string(writes[12].body, "message"), "assigned");
	cJSON_Delete(p);
}
END_TEST

/* The spam filter: 25 events of one object go through (creates and bumps alike),
 * the rest are dropped; another object has its own bucket. */
START_TEST(test_spam_filter_per_object)
{
	cJSON *p = pod("c"), *q = pod("d");
	for (int i = 0; i < 40; i++)
		mk_event_record(rec, "kubelet", p, "Normal", "Pulled", "image pulled");
	flush();
	ck_assert_int_eq(nwrites, 25);
	ck_assert_int_eq(count("POST"), 1);
	ck_assert_int_eq(count("PATCH"), 24);
	ck_assert_int_eq(cJSON_GetObjectItem(writes[24].body, "count")->valueint, 25);
	for (int i = 0; i < 3; i++)
		mk_event_record(rec, "kubelet", q, "Normal", "Pulled", "image pulled");
	mk_event_record(rec, "kubelet", p, "Normal", "Pulled", "image pulled");
	flush();
	ck_assert_int_eq(nwrites, 28);
	/* d's three; c's forty-first had no token */
	ck_assert_str_eq(writes[25].method, "POST");
	ck_assert_str_eq(mk_json_get_string(writes[25].body, "involvedObject.name"), "d");
	for (int i = 26; i < 28; i++)
		ck_assert_msg(strstr(writes[i].target, "/events/d."), "%s", writes[i].target);
	cJSON_Delete(p);
	cJSON_Delete(q);
}
END_TEST

/* Many objects, one event each: every one is written (limits are per object). */
START_TEST(test_many_objects_each_written)
{
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i);
		cJSON *p = pod(name);
		mk_event_record(rec, "default-scheduler", p, "Warning", "FailedScheduling",
				"no nodes available to schedule pods");
		cJSON_Delete(p);
	}
	flush();
	ck_assert_int_eq(nwrites, 100);
	ck_assert_int_eq(count("POST"), 100);
}
END_TEST

Suite *events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("correlator");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_repeat_bumps_count);
	tcase_add_test(tc, test_distinct_messages_combine);
	tcase_add_test(tc, test_spam_filter_per_object);
	tcase_add_test(tc, test_many_objects_each_written);
	suite_add_tcase(s, tc);
	return s;
}
