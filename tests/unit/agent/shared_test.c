/* The helpers the agent shares with the controllers: metav1.MicroTime for its
 * Lease (pkg/util/microtime.c) and the finalizer check of its volume reclaim
 * (pkg/api/meta.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "minik8s/api.h"
#include "minik8s/util.h"

START_TEST(micro_time_now)
{
	char buf[64];
	time_t before = time(NULL);
	mk_time_micro_now(buf, sizeof(buf));
	time_t after = time(NULL);
	/* 2026-11-26T08:24:15.123456Z */
	ck_assert_uint_eq(strlen(buf), 27);
	ck_assert_int_eq(buf[10], 'T');
	ck_assert_int_eq(buf[19], '.');
	ck_assert_int_eq(buf[26], 'Z');
	for (int i = 20; i < 26; i++)
		ck_assert_msg(buf[i] >= '0' && buf[i] <= '9', "fraction digit %d in %s", i, buf);
	time_t t = mk_time_parse(buf);
	ck_assert_msg(t >= before && t <= after, "%s is not now", buf);
	/* a short buffer truncates */
	char small[11];
	mk_time_micro_now(small, sizeof(small));
	ck_assert_uint_eq(strlen(small), 10);
}
END_TEST

START_TEST(finalizer_has)
{
	cJSON *o = cJSON_Parse("{\"metadata\":{\"finalizers\":[\"a/b\",7,\"kubernetes.io/pv-protection\"]}}");
	ck_assert_ptr_nonnull(o);
	ck_assert(mk_api_finalizer_has(o, "kubernetes.io/pv-protection"));
	ck_assert(mk_api_finalizer_has(o, "a/b"));
	ck_assert(!mk_api_finalizer_has(o, "a"));
	ck_assert(!mk_api_finalizer_has(o, "7"));
	cJSON_Delete(o);
	o = cJSON_Parse("{\"metadata\":{\"name\":\"x\"}}");
	ck_assert(!mk_api_finalizer_has(o, "a/b"));
	cJSON_Delete(o);
	ck_assert(!mk_api_finalizer_has(NULL, "a/b"));
}
END_TEST

TCase *agent_shared_tcase(void)
{
	TCase *tc = tcase_create("shared");
	tcase_add_test(tc, micro_time_now);
	tcase_add_test(tc, finalizer_has);
	return tc;
}
