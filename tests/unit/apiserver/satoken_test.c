/* Service account tokens (satoken.c): RS256 JWTs signed and verified with a real
 * key; refused when expired, not yet valid, for another audience, tampered with,
 * signed by another key, with alg none, or naming a ServiceAccount or bound pod that
 * is gone or was recreated (a real in-memory store). The key file is made 0600 and
 * read back. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../../pkg/apiserver/internal.h"
#include "minik8s/store.h"

#define AUD MK_SATOKEN_API_AUDIENCE

static struct mk_satoken_key *key;
static struct mk_store *store;

static void setup(void)
{
	struct mk_error *err = NULL;
	struct mk_store_options so = { .path = ":memory:" };
	ck_assert_msg(mk_satoken_key_load(NULL, &key, &err) == 0, "key: %s", err ? err->msg : "");
	ck_assert_msg(mk_store_open(&so, &store, &err) == 0, "store: %s", err ? err->msg : "");
}

static void teardown(void)
{
	mk_satoken_key_free(key);
	mk_store_free(store);
	key = NULL;
	store = NULL;
}

static void put(const char *res, const char *ns, const char *name, const char *uid)
{
	struct mk_error *err = NULL;
	_cleanup_free_ char *j = mk_strdup_printf(
		"{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\"}}", name, ns, uid);
	_cleanup_cjson_ cJSON *o = cJSON_Parse(j);
	ck_assert_msg(mk_store_create(store, res, ns, name, o, NULL, NULL, &err) == 0, "create: %s",
		      err ? err->msg : "");
}

static void del(const char *res, const char *ns, const char *name)
{
	struct mk_error *err = NULL;
	ck_assert_msg(mk_store_delete(store, res, ns, name, 0, NULL, NULL, &err) == 0, "delete: %s",
		      err ? err->msg : "");
}

static char *mint(const struct mk_satoken_key *k, const char *aud, const char *pod,
		  const char *pod_uid, time_t iat, time_t exp)
{
	struct mk_error *err = NULL;
	_cleanup_cjson_ cJSON *auds = cJSON_CreateArray();
	cJSON_AddItemToArray(auds, cJSON_CreateString(aud));
	_cleanup_cjson_ cJSON *c =
		mk_satoken_claims_new("ns1", "sa1", "sa-uid-1", pod, pod_uid, auds, iat, exp);
	char *t = mk_satoken_sign(k, c, &err);
	ck_assert_msg(t, "sign: %s", err ? err->msg : "");
	return t;
}

/* 0 or the error code of mk_satoken_authenticate */
static int auth(const char *tok, time_t now, const char *aud)
{
	struct mk_error *err = NULL;
	char *ns = NULL, *name = NULL;
	int r = mk_satoken_authenticate(key, store, tok, now, aud, &ns, &name, &err);
	if (r == 0) {
		ck_assert_str_eq(ns, "ns1");
		ck_assert_str_eq(name, "sa1");
		free(ns);
		free(name);
		return 0;
	}
	ck_assert_ptr_nonnull(err);
	int code = err->code ? err->code : -1;
	mk_error_free(&err);
	return code;
}

START_TEST(satoken_roundtrip)
{
	time_t now = time(NULL);
	put("serviceaccounts", "ns1", "sa1", "sa-uid-1");
	_cleanup_free_ char *t = mint(key, AUD, NULL, NULL, now, now + 3600);
	ck_assert(mk_satoken_looks_like(t));
	ck_assert(!mk_satoken_looks_like("an-admin-token"));
	ck_assert_int_eq(auth(t, now, AUD), 0);

	struct mk_error *err = NULL;
	cJSON *c = NULL;
	ck_assert_int_eq(mk_satoken_verify(key, t, now, AUD, &c, &err), 0);
	ck_assert_str_eq(mk_json_get_string(c, "sub"), "system:serviceaccount:ns1:sa1");
	ck_assert_str_eq(mk_json_get_string(c, "iss"), MK_SATOKEN_ISSUER);
	ck_assert_int_eq((long)cJSON_GetObjectItem(c, "exp")->valuedouble, (long)(now + 3600));
	ck_assert_int_eq((long)cJSON_GetObjectItem(c, "nbf")->valuedouble, (long)now);
	cJSON_Delete(c);
}
END_TEST

START_TEST(satoken_time_window)
{
	time_t now = time(NULL);
	put("serviceaccounts", "ns1", "sa1", "sa-uid-1");
	_cleanup_free_ char *t = mint(key, AUD, NULL, NULL, now, now + 600);
	ck_assert_int_eq(auth(t, now + 599, AUD), 0);
	ck_assert_int_eq(auth(t, now + 600 + 3600, AUD), EACCES); /* expired */
	_cleanup_free_ char *f = mint(key, AUD, NULL, NULL, now + 7200, now + 9000);
	ck_assert_int_eq(auth(f, now, AUD), EACCES); /* not valid yet */
}
END_TEST

START_TEST(satoken_audience)
{
	time_t now = time(NULL);
	put("serviceaccounts", "ns1", "sa1", "sa-uid-1");
	_cleanup_free_ char *t = mint(key, "vault", NULL, NULL, now, now + 600);
	ck_assert_int_eq(auth(t, now, AUD), EACCES);
	ck_assert_int_eq(auth(t, now, "vault"), 0);
}
END_TEST

START_TEST(satoken_bad_signature)
{
	time_t now = time(NULL);
	struct mk_satoken_key *other = NULL;
	struct mk_error *err = NULL;
	put("serviceaccounts", "ns1", "sa1", "sa-uid-1");
	_cleanup_free_ char *t = mint(key, AUD, NULL, NULL, now, now + 600);

	/* one byte of the signature changed */
	_cleanup_free_ char *bad = mk_strdup(t);
	char *last = bad + strlen(bad) - 2;
	*last = *last == 'A' ? 'B' : 'A';
	ck_assert_int_eq(auth(bad, now, AUD), EACCES);

	/* the claims changed (another account), signature kept */
	_cleanup_cjson_ cJSON *auds = cJSON_Parse("[\"" AUD "\"]");
	_cleanup_cjson_ cJSON *c2 = mk_satoken_claims_new("ns1", "admin", "x", NULL, NULL, auds, now, now + 600);
	_cleanup_free_ char *t2 = mk_satoken_sign(key, c2, &err);
	const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
	const char *e1 = strchr(t2, '.'), *e2 = strrchr(t2, '.');
	_cleanup_free_ char *spliced = mk_strdup_printf("%.*s%.*s%s", (int)(d1 - t), t,
							(int)(e2 - e1), e1, d2);
	ck_assert_int_eq(auth(spliced, now, AUD), EACCES);

	/* signed by another key */
	ck_assert_int_eq(mk_satoken_key_load(NULL, &other, &err), 0);
	_cleanup_free_ char *t3 = mint(other, AUD, NULL, NULL, now, now + 600);
	ck_assert_int_eq(auth(t3, now, AUD), EACCES);
	mk_satoken_key_free(other);

	/* alg none: the header swapped, the signature dropped */
	_cleanup_free_ char *none = mk_strdup_printf("eyJhbGciOiJub25lIn0%.*s.", (int)(d2 - d1), d1);
	ck_assert_int_ne(auth(none, now, AUD), 0);
	ck_assert_int_ne(auth("eyJ.x.y", now, AUD), 0);
	ck_assert_int_ne(auth("eyJhbGciOiJSUzI1NiJ9.!!!.AAAA", now, AUD), 0);
}
END_TEST

START_TEST(satoken_deleted_account)
{
	time_t now = time(NULL);
	put("serviceaccounts", "ns1", "sa1", "sa-uid-1");
	_cleanup_free_ char *t = mint(key, AUD, NULL, NULL, now, now + 600);
	ck_assert_int_eq(auth(t, now, AUD), 0);
	del("serviceaccounts", "ns1", "sa1");
	ck_assert_int_eq(auth(t, now, AUD), ENOENT);
	put("serviceaccounts", "ns1", "sa1", "sa-uid-2"); /* same name, new account */
	ck_assert_int_eq(auth(t, now, AUD), EACCES);
}
END_TEST

START_TEST(satoken_bound_pod)
{
	time_t now = time(NULL);
	put("serviceaccounts", "ns1", "sa1", "sa-uid-1");
	put("pods", "ns1", "p1", "pod-uid-1");
	_cleanup_free_ char *t = mint(key, AUD, "p1", "pod-uid-1", now, now + 600);
	ck_assert_int_eq(auth(t, now, AUD), 0);
	del("pods", "ns1", "p1");
	ck_assert_int_eq(auth(t, now, AUD), ENOENT);
	put("pods", "ns1", "p1", "pod-uid-2");
	ck_assert_int_eq(auth(t, now, AUD), EACCES);
}
END_TEST

START_TEST(satoken_key_file)
{
	char dir[] = "/tmp/minik8s-satoken-XXXXXX";
	struct mk_error *err = NULL;
	struct mk_satoken_key *k1 = NULL, *k2 = NULL;
	struct stat sb;
	time_t now = time(NULL);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	_cleanup_free_ char *p = mk_strdup_printf("%s/sa.key", dir);
	ck_assert_msg(mk_satoken_key_load(p, &k1, &err) == 0, "%s", err ? err->msg : "");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(mk_satoken_key_load(p, &k2, &err), 0); /* read back, the same key */
	_cleanup_free_ char *t = mint(k1, AUD, NULL, NULL, now, now + 600);
	cJSON *c = NULL;
	ck_assert_int_eq(mk_satoken_verify(k2, t, now, AUD, &c, &err), 0);
	cJSON_Delete(c);
	mk_satoken_key_free(k1);
	mk_satoken_key_free(k2);
	unlink(p);
	rmdir(dir);
}
END_TEST

Suite *satoken_suite(void)
{
	Suite *s = suite_create("satoken");
	TCase *tc = tcase_create("jwt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, satoken_roundtrip);
	tcase_add_test(tc, satoken_time_window);
	tcase_add_test(tc, satoken_audience);
	tcase_add_test(tc, satoken_bad_signature);
	tcase_add_test(tc, satoken_deleted_account);
	tcase_add_test(tc, satoken_bound_pod);
	tcase_add_test(tc, satoken_key_file);
	suite_add_tcase(s, tc);
	return s;
}
