/* Pure helpers of the node agent: resource quantities and the restart back-off.
 * (Pods, networking and runc are covered for real by tests/e2e/agent_pods.sh.) */
#include <check.h>
#include "minik8s/agent.h"

START_TEST(quantity_bytes)
{
	ck_assert_int_eq(mk_agent_quantity_parse("128Mi", 1), 128LL * 1024 * 1024);
	ck_assert_int_eq(mk_agent_quantity_parse("1Gi", 1), 1073741824LL);
	ck_assert_int_eq(mk_agent_quantity_parse("1G", 1), 1000000000LL);
	ck_assert_int_eq(mk_agent_quantity_parse("64k", 1), 64000);
	ck_assert_int_eq(mk_agent_quantity_parse("100", 1), 100);
	ck_assert_int_eq(mk_agent_quantity_parse("1.5Ki", 1), 1536);
}
END_TEST

START_TEST(quantity_cpu)
{
	ck_assert_int_eq(mk_agent_quantity_parse("500m", 1000), 500);
	ck_assert_int_eq(mk_agent_quantity_parse("2", 1000), 2000);
	ck_assert_int_eq(mk_agent_quantity_parse("0.25", 1000), 250);
	ck_assert_int_eq(mk_agent_quantity_parse("1m", 1000), 1);
}
END_TEST

START_TEST(quantity_bad)
{
	ck_assert_int_eq(mk_agent_quantity_parse(NULL, 1), -1);
	ck_assert_int_eq(mk_agent_quantity_parse("", 1), -1);
	ck_assert_int_eq(mk_agent_quantity_parse("12Qi", 1), -1);
	ck_assert_int_eq(mk_agent_quantity_parse("-1", 1), -1);
	ck_assert_int_eq(mk_agent_quantity_parse("Mi", 1), -1);
}
END_TEST

START_TEST(backoff_kubelet)
{
	/* first restart at once, then 10 s doubling, capped at 5 min */
	ck_assert_uint_eq(mk_agent_backoff_ms(1, 10000, 300000), 0);
	ck_assert_uint_eq(mk_agent_backoff_ms(2, 10000, 300000), 10000);
	ck_assert_uint_eq(mk_agent_backoff_ms(3, 10000, 300000), 20000);
	ck_assert_uint_eq(mk_agent_backoff_ms(4, 10000, 300000), 40000);
	ck_assert_uint_eq(mk_agent_backoff_ms(7, 10000, 300000), 300000);
	ck_assert_uint_eq(mk_agent_backoff_ms(100, 10000, 300000), 300000);
	ck_assert_uint_eq(mk_agent_backoff_ms(3, 1000, 4000), 2000);
	ck_assert_uint_eq(mk_agent_backoff_ms(5, 1000, 4000), 4000);
}
END_TEST

Suite *agent_suite(void)
{
	Suite *s = suite_create("agent");
	TCase *tc = tcase_create("helpers");
	tcase_add_test(tc, quantity_bytes);
	tcase_add_test(tc, quantity_cpu);
	tcase_add_test(tc, quantity_bad);
	tcase_add_test(tc, backoff_kubelet);
	suite_add_tcase(s, tc);
	return s;
}
