/* mk_apiserver_cluster_bootstrap (the cluster's identity sealed in the store with the
 * token, loaded by later servers) on a real store (SQLite in memory), and
 * mk_apiserver_endpoints_from_leases (the kubernetes Endpoints of the live servers). */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include "minik8s/api.h"
#include "minik8s/apiserver.h"

static char tmpdir[64];
static struct mk_store *store;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/minik8s-cluster-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	struct mk_store_options so = { .path = ":memory:" };
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_store_open(&so, &store, &err), 0);
}

static void teardown(void)
{
	mk_store_free(store);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *dir_of(const char *name)
{
	return mk_strdup_printf("%s/%s", tmpdir, name);
}

static char *file(const char *dir, const char *rel)
{
	_cleanup_free_ char *p = mk_strdup_printf("%s/%s", dir, rel);
	char *text = NULL;
	struct mk_error *err = NULL;
	if (mk_fs_read_file(p, &text, NULL, &err) < 0) {
		mk_error_free(&err);
		return NULL;
	}
	return text;
}

static int boot(const char *dir, const char *token, bool enc, struct mk_error **err)
{
	struct mk_apiserver_cluster_options o = { .data_dir = dir, .token = token,
						  .secrets_encryption = enc };
	return mk_apiserver_cluster_bootstrap(store, &o, err);
}

static void assert_same(const char *a, const char *b, const char *rel)
{
	_cleanup_free_ char *x = file(a, rel), *y = file(b, rel);
	ck_assert_msg(x && y, "%s missing", rel);
	ck_assert_str_eq(x, y);
}

START_TEST(test_second_server_loads_the_first_ones)
{
	_cleanup_free_ char *a = dir_of("a"), *b = dir_of("b");
	struct mk_error *err = NULL;
	ck_assert_int_eq(boot(a, "cluster-token-0123456789", false, &err), 0);
	ck_assert_int_eq(boot(b, "cluster-token-0123456789", false, &err), 1);
	static const char *const rels[] = { "tls/ca.crt", "tls/ca.key", "tls/sa.key", "token",
					    "node-secret" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(rels); i++)
		assert_same(a, b, rels[i]);
	_cleanup_free_ char *ns = file(b, "node-secret");
	ck_assert_str_eq(ns, "cluster-token-0123456789\n");
	/* keys are 0600 */
	_cleanup_free_ char *kp = mk_strdup_printf("%s/tls/ca.key", b);
	struct stat st;
	ck_assert_int_eq(stat(kp, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* the stored record holds no key material in the clear */
	_cleanup_free_ char *json = NULL;
	ck_assert_int_eq(mk_store_get(store, "minik8s-bootstrap", "", "cluster", &json, NULL, &err), 0);
	ck_assert_ptr_null(strstr(json, "PRIVATE KEY"));
	ck_assert_ptr_null(strstr(json, "cluster-token-0123456789"));
	/* a restart without --token opens it with DIR/node-secret */
	ck_assert_int_eq(boot(b, NULL, false, &err), 1);
}
END_TEST

START_TEST(test_wrong_or_no_token_is_refused)
{
	_cleanup_free_ char *a = dir_of("a"), *c = dir_of("c"), *d = dir_of("d");
	struct mk_error *err = NULL;
	ck_assert_int_eq(boot(a, "cluster-token-0123456789", false, &err), 0);
	ck_assert_int_eq(boot(c, "another-token-0123456789", false, &err), -1);
	ck_assert_int_eq(err->code, EACCES);
	ck_assert_ptr_nonnull(strstr(err->msg, "another token"));
	mk_error_free(&err);
	_cleanup_free_ char *ca = file(c, "tls/ca.crt");
	ck_assert_ptr_null(ca);
	ck_assert_int_eq(boot(d, NULL, false, &err), -1);
	ck_assert_int_eq(err->code, EACCES);
	mk_error_free(&err);
}
END_TEST

START_TEST(test_first_server_keeps_its_local_identity)
{
	/* a server that ran before (its own CA) moving to the shared store publishes it */
	_cleanup_free_ char *a = dir_of("a"), *tls = mk_strdup_printf("%s/tls", a);
	_cleanup_free_ char *b = dir_of("b");
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_fs_mkdir_p(a, 0700, &err), 0);
	ck_assert_int_eq(mk_apiserver_tls_ca_ensure(tls, &err), 0);
	_cleanup_free_ char *before = file(a, "tls/ca.crt");
	ck_assert_int_eq(boot(a, "cluster-token-0123456789", false, &err), 0);
	_cleanup_free_ char *after = file(a, "tls/ca.crt");
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(boot(b, "cluster-token-0123456789", false, &err), 1);
	assert_same(a, b, "tls/ca.crt");
}
END_TEST

START_TEST(test_secrets_key_added_and_shared)
{
	_cleanup_free_ char *a = dir_of("a"), *b = dir_of("b"), *c = dir_of("c");
	struct mk_error *err = NULL;
	ck_assert_int_eq(boot(a, "cluster-token-0123456789", false, &err), 0);
	_cleanup_free_ char *none = file(a, "cred/secrets-encryption.key");
	ck_assert_ptr_null(none);
	/* b asks for encryption: the cluster gets a key, c (without the flag) loads it */
	ck_assert_int_eq(boot(b, "cluster-token-0123456789", true, &err), 1);
	ck_assert_int_eq(boot(c, "cluster-token-0123456789", false, &err), 1);
	assert_same(b, c, "cred/secrets-encryption.key");
}
END_TEST

struct racer {
	char *dir;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct mk_error *err = NULL;
	r->rc = boot(r->dir, "cluster-token-0123456789", false, &err);
	if (err)
		fprintf(stderr, "racer %s: %s\n", r->dir, err->msg);
	mk_error_free(&err);
	return NULL;
}

START_TEST(test_two_first_servers_at_once)
{
	/* both make an identity; the store's create-if-absent keeps one, the loser
	 * loads it over its own */
	struct racer r[2] = { { dir_of("a"), -2 }, { dir_of("b"), -2 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(r[0].rc + r[1].rc, 1); /* one published (0), one loaded (1) */
	assert_same(r[0].dir, r[1].dir, "tls/ca.crt");
	assert_same(r[0].dir, r[1].dir, "tls/ca.key");
	assert_same(r[0].dir, r[1].dir, "token");
	free(r[0].dir);
	free(r[1].dir);
}
END_TEST

static cJSON *lease(const char *name, const char *addr, const char *renew, int dur, bool labeled)
{
	cJSON *l = mk_api_object_new("coordination.k8s.io/v1", "Lease", "kube-system", name);
	cJSON *md = cJSON_GetObjectItem(l, "metadata");
	if (labeled)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"),
					"apiserver.kubernetes.io/identity", "kube-apiserver");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"),
				"minik8s.io/advertise-address", addr);
	cJSON *spec = cJSON_AddObjectToObject(l, "spec");
	cJSON_AddStringToObject(spec, "renewTime", renew);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", dur);
	return l;
}

START_TEST(test_endpoints_from_leases)
{
	time_t now = mk_time_parse("2026-12-05T10:00:00.000000Z");
	_cleanup_cjson_ cJSON *ls = cJSON_CreateArray();
	cJSON_AddItemToArray(ls, lease("s3", "10.0.0.3:6443", "2026-12-05T09:59:55.000000Z", 15, true));
	cJSON_AddItemToArray(ls, lease("s1", "10.0.0.1:6443", "2026-12-05T09:59:58.000000Z", 15, true));
	/* expired */
	cJSON_AddItemToArray(ls, lease("s2", "10.0.0.2:6443", "2026-12-05T09:59:40.000000Z", 15, true));
	/* another port */
	cJSON_AddItemToArray(ls, lease("s4", "10.0.0.4:7443", "2026-12-05T09:59:59.000000Z", 15, true));
	/* not a server's Lease (a node's, the controllers') */
	cJSON_AddItemToArray(ls, lease("n1", "10.0.0.9:6443", "2026-12-05T09:59:59.000000Z", 15, false));
	/* malformed addresses */
	cJSON_AddItemToArray(ls, lease("x1", "nohost", "2026-12-05T09:59:59.000000Z", 15, true));
	cJSON_AddItemToArray(ls, lease("x2", "name:6443", "2026-12-05T09:59:59.000000Z", 15, true));
	_cleanup_cjson_ cJSON *sub = mk_apiserver_endpoints_from_leases(ls, now);
	_cleanup_free_ char *got = cJSON_PrintUnformatted(sub);
	ck_assert_str_eq(got,
		"[{\"addresses\":[{\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.3\"}],"
		"\"ports\":[{\"name\":\"https\",\"port\":6443,\"protocol\":\"TCP\"}]},"
		"{\"addresses\":[{\"ip\":\"10.0.0.4\"}],"
		"\"ports\":[{\"name\":\"https\",\"port\":7443,\"protocol\":\"TCP\"}]}]");
	/* nothing live: no subsets */
	_cleanup_cjson_ cJSON *none = mk_apiserver_endpoints_from_leases(ls, now + 3600);
	ck_assert_int_eq(cJSON_GetArraySize(none), 0);
}
END_TEST

Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("bootstrap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_second_server_loads_the_first_ones);
	tcase_add_test(tc, test_wrong_or_no_token_is_refused);
	tcase_add_test(tc, test_first_server_keeps_its_local_identity);
	tcase_add_test(tc, test_secrets_key_added_and_shared);
	tcase_add_test(tc, test_two_first_servers_at_once);
	suite_add_tcase(s, tc);
	TCase *te = tcase_create("endpoints");
	tcase_add_test(te, test_endpoints_from_leases);
	suite_add_tcase(s, te);
	return s;
}
