/* The shared idioms: string vectors, growable arrays, FNV-1a, the hash table. */
#include <check.h>
#include "minik8s/util.h"

START_TEST(test_strv)
{
	char **v = NULL;
	size_t n = 0;
	ck_assert_uint_eq(mk_strv_len(v), 0);
	mk_strv_push(&v, &n, mk_strdup("a"));
	mk_strv_push(&v, &n, mk_strdup("b"));
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(mk_strv_len(v), 2);
	ck_assert_str_eq(v[1], "b");
	ck_assert_ptr_null(v[2]);
	mk_strv_free(v);
	mk_strv_free(NULL);
	{
		_cleanup_strv_ char **w = NULL;
		size_t m = 0;
		mk_strv_push(&w, &m, mk_strdup("freed by the cleanup attribute"));
	}
}
END_TEST

START_TEST(test_grow)
{
	int *a = NULL;
	size_t cap = 0;
	for (int i = 0; i < 1000; i++) {
		MK_GROW(a, cap, (size_t)i + 1);
		a[i] = i;
	}
	ck_assert_uint_ge(cap, 1000);
	ck_assert_uint_eq(cap & (cap - 1), 0); /* doubled from 8: a power of two */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(a[i], i);
	size_t before = cap;
	MK_GROW(a, cap, 10); /* enough room already: unchanged */
	ck_assert_uint_eq(cap, before);
	free(a);
}
END_TEST

START_TEST(test_fnv1a)
{
	/* reference values of the FNV-1a specification */
	ck_assert_uint_eq(mk_fnv1a32("", 0), 0x811c9dc5u);
	ck_assert_uint_eq(mk_fnv1a32_str("a"), 0xe40c292cu);
	ck_assert_uint_eq(mk_fnv1a32_str("foobar"), 0xbf9cf968u);
	ck_assert_uint_eq(mk_fnv1a64_str(""), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(mk_fnv1a64_str("a"), 0xaf63dc4c8601ec8cULL);
	ck_assert_uint_eq(mk_fnv1a64_str("foobar"), 0x85944171f73967e8ULL);
}
END_TEST

START_TEST(test_hmap)
{
	struct mk_hmap m;
	char key[16];
	mk_hmap_init(&m);
	for (uintptr_t i = 1; i <= 500; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		ck_assert_ptr_null(mk_hmap_put(&m, key, (void *)i));
	}
	ck_assert_uint_eq(m.n, 500);
	ck_assert_ptr_eq(mk_hmap_get(&m, "k77"), (void *)77);
	ck_assert_ptr_eq(mk_hmap_put(&m, "k77", (void *)7), (void *)77);
	ck_assert(mk_hmap_has(&m, "k500"));
	ck_assert(!mk_hmap_has(&m, "k501"));
	ck_assert_ptr_eq(mk_hmap_del(&m, "k1"), (void *)1);
	ck_assert_ptr_null(mk_hmap_del(&m, "k1"));
	size_t seen = 0;
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	while (mk_hmap_iter_next(&m, &it))
		seen++;
	ck_assert_uint_eq(seen, 499);
	mk_hmap_release(&m, NULL);
}
END_TEST

Suite *collections_suite(void)
{
	Suite *su = suite_create("collections");
	TCase *tc = tcase_create("collections");
	tcase_add_test(tc, test_strv);
	tcase_add_test(tc, test_grow);
	tcase_add_test(tc, test_fnv1a);
	tcase_add_test(tc, test_hmap);
	suite_add_tcase(su, tc);
	return su;
}
