/* Duplicate member names in request bodies resolve as Go's encoding/json does. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

static void check_dedupe(const char *in, const char *want)
{
	cJSON *j = cJSON_Parse(in);
	ck_assert_ptr_nonnull(j);
	mk_api_json_dedupe(j);
	char *got = cJSON_PrintUnformatted(j);
	ck_assert_str_eq(got, want);
	cJSON_free(got);
	cJSON_Delete(j);
}

START_TEST(test_dedupe_last_wins)
{
	/* the fuzzer's case: validation read the first "spec", Go clients the last */
	check_dedupe("{\"spec\":\"Node\",\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"x\"}}",
		     "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"x\"}}");
	check_dedupe("{\"a\":1,\"b\":2,\"a\":3,\"a\":{\"c\":1,\"c\":[{\"d\":1,\"d\":2}]}}",
		     "{\"b\":2,\"a\":{\"c\":[{\"d\":2}]}}");
	/* names are case-sensitive; nothing else changes */
	check_dedupe("{\"A\":1,\"a\":2,\"l\":[1,{\"x\":{}}]}", "{\"A\":1,\"a\":2,\"l\":[1,{\"x\":{}}]}");
	mk_api_json_dedupe(NULL);
}
END_TEST

START_TEST(test_dedupe_many_members)
{
	/* a large object stays linearithmic: 20000 members, every name twice */
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "{");
	for (int i = 0; i < 20000; i++)
		mk_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i % 10000, i);
	mk_buf_puts(&b, "}");
	cJSON *j = cJSON_Parse(b.data);
	ck_assert_ptr_nonnull(j);
	mk_api_json_dedupe(j);
	ck_assert_int_eq(cJSON_GetArraySize(j), 10000);
	ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "k7")->valueint, 10007);
	cJSON_Delete(j);
	mk_buf_release(&b);
}
END_TEST

Suite *dedupe_suite(void)
{
	Suite *s = suite_create("dedupe");
	TCase *tc = tcase_create("dedupe");
	tcase_add_test(tc, test_dedupe_last_wins);
	tcase_add_test(tc, test_dedupe_many_members);
	suite_add_tcase(s, tc);
	return s;
}
