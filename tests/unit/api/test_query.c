/* Boolean query parameters as kube-apiserver converts them. */
#include <check.h>
#include "minik8s/api.h"

START_TEST(query_bool_false_values)
{
	ck_assert(!mk_api_query_bool(NULL));
	ck_assert(!mk_api_query_bool("false"));
	ck_assert(!mk_api_query_bool("False"));
	ck_assert(!mk_api_query_bool("FALSE"));
	ck_assert(!mk_api_query_bool("fAlSe"));
	ck_assert(!mk_api_query_bool("0"));
}
END_TEST

START_TEST(query_bool_true_values)
{
	/* the Python client sends "True"; "?watch" and "?watch=" are true as well */
	ck_assert(mk_api_query_bool("true"));
	ck_assert(mk_api_query_bool("True"));
	ck_assert(mk_api_query_bool("TRUE"));
	ck_assert(mk_api_query_bool("1"));
	ck_assert(mk_api_query_bool(""));
	ck_assert(mk_api_query_bool("yes"));
	ck_assert(mk_api_query_bool("00"));
	ck_assert(mk_api_query_bool("false "));
	ck_assert(mk_api_query_bool("no"));
}
END_TEST

Suite *query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *tc = tcase_create("bool");
	tcase_add_test(tc, query_bool_false_values);
	tcase_add_test(tc, query_bool_true_values);
	suite_add_tcase(s, tc);
	return s;
}
