/* The shared idioms: string vectors, growable arrays, FNV-1a, the hash table. */
#include <check.h>
#include <stdarg.h>
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

/* Binary keys with NUL bytes, borrowed from the value they key (the DNS zone's
 * use): equal prefixes or embedded zeros must not collide, and replacing a value
 * takes the new value's key. */
struct bval {
	struct mk_hmap_bytes key;
	uint8_t name[8];
	int id;
};

static int freed;
static void bval_free(void *p)
{
	freed++;
	free(p);
}

static struct bval *bval_new(const void *name, size_t len, int id)
{
	struct bval *v = mk_malloc0(sizeof(*v));
	memcpy(v->name, name, len);
	v->key = (struct mk_hmap_bytes){ v->name, len };
	v->id = id;
	return v;
}

START_TEST(test_hmap_bytes)
{
	struct mk_hmap m;
	mk_hmap_init_type(&m, &mk_hmap_type_bytes);
	struct bval *a = bval_new("\0a\0", 3, 1), *b = bval_new("\0a", 2, 2);
	struct bval *c = bval_new("\0b\0", 3, 3);
	ck_assert_ptr_null(mk_hmap_put(&m, &a->key, a));
	ck_assert_ptr_null(mk_hmap_put(&m, &b->key, b));
	ck_assert_ptr_null(mk_hmap_put(&m, &c->key, c));
	ck_assert_uint_eq(m.n, 3);
	struct mk_hmap_bytes probe = { "\0a\0", 3 };
	ck_assert_ptr_eq(mk_hmap_get(&m, &probe), a);
	ck_assert_ptr_eq(mk_hmap_get_hashed(&m, &probe, mk_hmap_hash(&m, &probe)), a);
	probe.len = 2;
	ck_assert_ptr_eq(mk_hmap_get(&m, &probe), b);
	probe.len = 1;
	ck_assert(!mk_hmap_has(&m, &probe));

	/* replacing a: the entry now borrows a2's key, so freeing a is safe */
	struct bval *a2 = bval_new("\0a\0", 3, 4);
	ck_assert_ptr_eq(mk_hmap_put(&m, &a2->key, a2), a);
	free(a);
	probe.len = 3;
	ck_assert_ptr_eq(mk_hmap_get(&m, &probe), a2);
	ck_assert_ptr_eq(mk_hmap_find(&m, &probe)->key_ptr, &a2->key);

	ck_assert_ptr_eq(mk_hmap_del(&m, &c->key), c);
	free(c);
	ck_assert_uint_eq(m.n, 2);
	freed = 0;
	mk_hmap_release(&m, bval_free);
	ck_assert_int_eq(freed, 2);
	ck_assert_ptr_null(m.type);
}
END_TEST

/* A typed table that copies its keys (key_dup/key_free): a caller's key buffer
 * may change after the put. */
static void *dup_bytes(const void *key)
{
	const struct mk_hmap_bytes *k = key;
	struct mk_hmap_bytes *c = mk_malloc0(sizeof(*c) + k->len);
	memcpy(c + 1, k->data, k->len);
	c->data = c + 1;
	c->len = k->len;
	return c;
}

START_TEST(test_hmap_typed_copy)
{
	struct mk_hmap_type t = { 0 };
	t.hash = mk_hmap_type_bytes.hash;
	t.equal = mk_hmap_type_bytes.equal;
	t.key_dup = dup_bytes;
	t.key_free = free;
	struct mk_hmap m;
	mk_hmap_init_type(&m, &t);
	char buf[4] = "xyz";
	struct mk_hmap_bytes k = { buf, 3 };
	for (uintptr_t i = 0; i < 100; i++) {
		buf[0] = (char)('A' + i % 50);
		buf[1] = (char)('a' + i / 50);
		ck_assert_ptr_null(mk_hmap_put(&m, &k, (void *)(i + 1)));
	}
	/* the table kept copies: the keys are found by content, not by buf */
	memcpy(buf, "Baz", 3);
	ck_assert_ptr_eq(mk_hmap_get(&m, &k), (void *)2);
	memcpy(buf, "Bbz", 3);
	ck_assert_ptr_eq(mk_hmap_get(&m, &k), (void *)52);
	memcpy(buf, "Bcz", 3);
	ck_assert_ptr_null(mk_hmap_get(&m, &k));
	ck_assert_ptr_eq(mk_hmap_del(&m, &(struct mk_hmap_bytes){ "Aaz", 3 }), (void *)1);
	ck_assert_uint_eq(m.n, 99);
	mk_hmap_release(&m, NULL); /* key_free on the 99 copies; ASan/valgrind check */
}
END_TEST

/* RFC 4648 test vectors, standard and URL-safe unpadded; the URL decoder is
 * strict like Go's RawURLEncoding. */
START_TEST(test_base64)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const std[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy" };
	static const char *const url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(in); i++) {
		_cleanup_free_ char *e = mk_base64_encode(in[i], strlen(in[i]));
		_cleanup_free_ char *u = mk_base64url_encode(in[i], strlen(in[i]));
		ck_assert_str_eq(e, std[i]);
		ck_assert_str_eq(u, url[i]);
		_cleanup_free_ void *d = NULL;
		size_t n = 99;
		ck_assert_int_eq(mk_base64url_decode(u, strlen(u), &d, &n), 0);
		ck_assert_uint_eq(n, strlen(in[i]));
		ck_assert_int_eq(memcmp(d, in[i], n), 0);
	}
	/* bytes that differ between the alphabets: 0xfb 0xff -> "+/8=" / "-_8" */
	static const unsigned char hi[] = { 0xfb, 0xff };
	_cleanup_free_ char *e = mk_base64_encode(hi, 2), *u = mk_base64url_encode(hi, 2);
	ck_assert_str_eq(e, "+/8=");
	ck_assert_str_eq(u, "-_8");
	_cleanup_free_ void *d = NULL;
	size_t n = 0;
	ck_assert_int_eq(mk_base64url_decode("-_8", 3, &d, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(memcmp(d, hi, 2), 0);
	void *bad = NULL;
	ck_assert_int_eq(mk_base64url_decode("+/8", 3, &bad, &n), -1);
	ck_assert_int_eq(mk_base64url_decode("Zg==", 4, &bad, &n), -1);
	ck_assert_int_eq(mk_base64url_decode("Zm 9v", 5, &bad, &n), -1);
	ck_assert_int_eq(mk_base64url_decode("Zm9vY", 5, &bad, &n), -1); /* len % 4 == 1 */
	ck_assert_int_eq(mk_base64url_decode("Zm*v", 4, &bad, &n), -1);
	ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(test_json_find_named)
{
	_cleanup_cjson_ cJSON *pod = cJSON_Parse(
		"{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"image\":\"x\"}],"
		"\"initContainers\":[{\"name\":\"a\",\"image\":\"2\"},{\"name\":\"b\"}]}}");
	static const char *const both[] = { "spec.containers", "spec.initContainers" };
	static const char *const init[] = { "spec.initContainers", "spec.missing" };

	ck_assert_ptr_nonnull(pod);
	/* the first list wins; then the next list is searched */
	ck_assert_str_eq(mk_json_get_string(mk_json_find_named(pod, both, 2, "a"), "image"), "1");
	ck_assert_str_eq(mk_json_get_string(mk_json_find_named(pod, init, 2, "a"), "image"), "2");
	ck_assert_ptr_nonnull(mk_json_find_named(pod, both, 2, "b"));
	ck_assert_ptr_null(mk_json_find_named(pod, both, 1, "b"));
	ck_assert_ptr_null(mk_json_find_named(pod, both, 2, "c"));
	ck_assert_ptr_null(mk_json_find_named(pod, both, 2, NULL));
}
END_TEST

static void buf_add(struct mk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_add(struct mk_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mk_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

START_TEST(test_buf_vprintf)
{
	struct mk_buf b;
	char big[1000];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	mk_buf_init(&b);
	buf_add(&b, "%s-%d", "short", 7);
	ck_assert_str_eq(b.data, "short-7");
	/* longer than the room at hand: formatted again from the copied va_list */
	buf_add(&b, "[%s]%d", big, 42);
	ck_assert_uint_eq(b.len, 7 + 1 + 999 + 1 + 2);
	ck_assert_str_eq(b.data + b.len - 4, "z]42");
	mk_buf_release(&b);
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
	tcase_add_test(tc, test_hmap_bytes);
	tcase_add_test(tc, test_hmap_typed_copy);
	tcase_add_test(tc, test_base64);
	tcase_add_test(tc, test_json_find_named);
	tcase_add_test(tc, test_buf_vprintf);
	suite_add_tcase(su, tc);
	return su;
}
