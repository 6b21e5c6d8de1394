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



START_TEST(init_sequence)
{
	size_t i = 99;
	/* nothing to run */
	ck_assert_int_eq(mk_agent_init_next(NULL, 0, &i), MK_AGENT_INIT_DONE);
	/* the first one that has not completed is started, then waited for */
	struct mk_agent_init_view v[3] = { { .completed = true }, { 0 }, { 0 } };
	ck_assert_int_eq(mk_agent_init_next(v, 3, &i), MK_AGENT_INIT_START);
	ck_assert_uint_eq(i, 1);
	v[1].running = true;
	ck_assert_int_eq(mk_agent_init_next(v, 3, &i), MK_AGENT_INIT_WAIT);
	ck_assert_uint_eq(i, 1);
	/* a failure for good stops the sequence */
	v[1].running = false;
	v[1].failed = true;
	ck_assert_int_eq(mk_agent_init_next(v, 3, &i), MK_AGENT_INIT_FAILED);
	ck_assert_uint_eq(i, 1);
	v[1].failed = false;
	v[1].completed = true;
	v[2].completed = true;
	ck_assert_int_eq(mk_agent_init_next(v, 3, &i), MK_AGENT_INIT_DONE);
	ck_assert_uint_eq(i, 3);
}
END_TEST

START_TEST(init_sidecars)
{
	size_t i = 99;
	/* a sidecar is waited for until started, not until completed */
	struct mk_agent_init_view v[2] = { { .sidecar = true }, { 0 } };
	ck_assert_int_eq(mk_agent_init_next(v, 2, &i), MK_AGENT_INIT_START);
	ck_assert_uint_eq(i, 0);
	v[0].running = true; /* startup probe still failing */
	ck_assert_int_eq(mk_agent_init_next(v, 2, &i), MK_AGENT_INIT_WAIT);
	ck_assert_uint_eq(i, 0);
	v[0].started = true;
	ck_assert_int_eq(mk_agent_init_next(v, 2, &i), MK_AGENT_INIT_START);
	ck_assert_uint_eq(i, 1);
	v[1].completed = true;
	ck_assert_int_eq(mk_agent_init_next(v, 2, &i), MK_AGENT_INIT_DONE);
	/* a sidecar that exited before the pod was initialized is started again */
	v[0].running = v[0].started = false;
	ck_assert_int_eq(mk_agent_init_next(v, 2, &i), MK_AGENT_INIT_START);
	ck_assert_uint_eq(i, 0);
}
END_TEST

START_TEST(pod_phase)
{
	struct mk_agent_phase_input in = { .initialized = false, .apps = 1, .apps_pending = 1 };
	ck_assert_str_eq(mk_agent_pod_phase(&in), "Pending");
	in.init_failed = true;
	ck_assert_str_eq(mk_agent_pod_phase(&in), "Failed");
	in = (struct mk_agent_phase_input){ .initialized = true, .apps = 2, .apps_pending = 1 };
	ck_assert_str_eq(mk_agent_pod_phase(&in), "Pending");
	in.apps_pending = 0;
	ck_assert_str_eq(mk_agent_pod_phase(&in), "Running");
	in.apps_done = 1;
	ck_assert_str_eq(mk_agent_pod_phase(&in), "Running");
	in.apps_done = 2;
	ck_assert_str_eq(mk_agent_pod_phase(&in), "Succeeded");
	in.apps_failed = 1;
	ck_assert_str_eq(mk_agent_pod_phase(&in), "Failed");
}
END_TEST

TCase *agent_volume_tcase(void); /* volume_test.c */
TCase *agent_svcenv_tcase(void); /* svcenv_test.c */
TCase *agent_shared_tcase(void); /* shared_test.c */

Suite *agent_suite(void)
{
	Suite *s = suite_create("agent");
	TCase *tc = tcase_create("helpers");
	tcase_add_test(tc, quantity_bytes);
	tcase_add_test(tc, quantity_cpu);
	tcase_add_test(tc, quantity_bad);
	tcase_add_test(tc, backoff_kubelet);
	tcase_add_test(tc, init_sequence);
	tcase_add_test(tc, init_sidecars);
	tcase_add_test(tc, pod_phase);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, agent_volume_tcase());
	suite_add_tcase(s, agent_svcenv_tcase());
	suite_add_tcase(s, agent_shared_tcase());
	return s;
}
