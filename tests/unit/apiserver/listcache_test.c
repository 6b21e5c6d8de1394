/* The list cache's shared pieces (listcache.c): the fieldsV1 of managedFields
 * entries are kept once for every object that has the same one, and lists still
 * return each object as the store holds it; a fieldsV1 that differs in one place
 * shares its other chunks (compared item by item with the
 * store's own list), with paging and a label selector (which reads the whole
 * text); an object with a new shape adds a piece; deleting every object lets
 * go of every piece, and texts read from the cache before the deletes (as
 * admission reads them) stay whole. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/apiserver.h"
#include "minik8s/client.h"
#include "minik8s/store.h"
#include "../../../pkg/apiserver/internal.h"

#define ADMIN "listcache-unit-admin-token-0123456789"
#define CM_PATH "/api/v1/namespaces/default/configmaps"
#define N 40

static struct mk_store *store;
static struct mk_apiserver *srv;
static struct mk_client *admin;

static void setup(void)
{
	struct mk_store_options so = { .path = ":memory:" };
	ck_assert_int_eq(mk_store_open(&so, &store, NULL), 0);
	for (int i = 0; i < 50; i++) {
		uint16_t port;
		mk_random_bytes(&port, sizeof(port));
		port = (uint16_t)(20000 + port % 40000);
		struct mk_apiserver_options ao = { .bind_address = "127.0.0.1", .port = port,
						   .admin_token = ADMIN };
		struct mk_error *err = NULL;
		int r = mk_apiserver_start(&ao, store, &srv, &err);
		mk_error_free(&err);
		if (r == 0) {
			struct mk_client_config *cfg =
				mk_client_config_new("https://127.0.0.1:1", ADMIN, NULL);
			cfg->timeout_ms = 10000;
			ck_assert_int_eq(mk_client_new(cfg, &admin, NULL), 0);
			mk_client_config_free(cfg);
			mk_apiserver_local_attach(srv, admin);
			return;
		}
	}
	ck_abort_msg("no free port for the API server");
}

static void teardown(void)
{
	mk_client_free(admin);
	mk_apiserver_free(srv);
	mk_store_free(store);
}

static void create_cm(const char *name, const char *app, const char *key)
{
	struct mk_error *err = NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "apiVersion", "v1");
	cJSON_AddStringToObject(o, "kind", "ConfigMap");
	cJSON *md = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"), "app", app);
	cJSON *data = cJSON_AddObjectToObject(o, "data");
	cJSON_AddStringToObject(data, key, "some value");
	cJSON_AddStringToObject(data, "another-key-to-make-fieldsV1-long", "x");
	ck_assert_msg(mk_client_create(admin, CM_PATH, o, NULL, &err) == 0, "create %s: %s", name,
		      err ? err->msg : "");
	cJSON_Delete(o);
}

/* Every item of the list at path equals the store's text of that object. */
static int check_against_store(const char *path)
{
	struct mk_error *err = NULL;
	cJSON *list = NULL;
	ck_assert_int_eq(mk_client_get(admin, path, &list, &err), 0);
	struct mk_store_list l = { 0 };
	ck_assert_int_eq(mk_store_list(store, "configmaps", "default", NULL, NULL, &l, &err), 0);
	int n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		const char *name = mk_json_get_string(it, "metadata.name");
		bool found = false;
		for (size_t i = 0; i < l.n && !found; i++) {
			cJSON *s = cJSON_Parse(l.items[i]);
			if (!strcmp(mk_json_get_string(s, "metadata.name"), name)) {
				found = true;
				ck_assert_msg(cJSON_Compare(s, it, 1), "%s differs from the store", name);
				ck_assert(cJSON_GetArraySize(mk_json_get(it, "metadata.managedFields")) > 0);
			}
			cJSON_Delete(s);
		}
		ck_assert_msg(found, "%s not in the store", name);
		n++;
	}
	mk_store_list_release(&l);
	cJSON_Delete(list);
	return n;
}

static int list_len(const char *path)
{
	cJSON *list = NULL;
	ck_assert_int_eq(mk_client_get(admin, path, &list, NULL), 0);
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(list, "items"));
	cJSON_Delete(list);
	return n;
}

START_TEST(test_pieces_shared)
{
	char name[32];
	ck_assert_int_eq(list_len(CM_PATH), 0); /* the cache follows configmaps from here */
	ck_assert_uint_eq(mk_listcache_pieces(), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "cm-%02d", i);
		create_cm(name, i % 2 ? "odd" : "even", "the-same-key");
	}
	ck_assert_int_eq(check_against_store(CM_PATH), N);
	/* N objects with one fieldsV1 (two alike except a label's value): its
	 * chunks once */
	size_t shared = mk_listcache_pieces();
	ck_assert_uint_ge(shared, 1);
	ck_assert_uint_le(shared, 4);

	/* pages and a selector read the whole texts */
	ck_assert_int_eq(check_against_store(CM_PATH "?labelSelector=app%3Dodd"), N / 2);
	cJSON *page = NULL;
	ck_assert_int_eq(mk_client_get(admin, CM_PATH "?limit=7", &page, NULL), 0);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 7);
	ck_assert_ptr_nonnull(mk_json_get_string(page, "metadata.continue"));
	cJSON_Delete(page);

	/* another shape: another piece */
	create_cm("other", "odd", "a-different-key");
	ck_assert_int_eq(check_against_store(CM_PATH), N + 1);
	ck_assert_uint_gt(mk_listcache_pieces(), shared);
}
END_TEST

static void create_big(int i)
{
	struct mk_error *err = NULL;
	char k[64];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "apiVersion", "v1");
	cJSON_AddStringToObject(o, "kind", "ConfigMap");
	snprintf(k, sizeof(k), "big-%02d", i);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "metadata"), "name", k);
	cJSON *data = cJSON_AddObjectToObject(o, "data");
	for (int j = 0; j < 120; j++) {
		/* one key in the middle differs between the objects, as a pod's
		 * kube-api-access-xxxxx volume does */
		if (j == 60)
			snprintf(k, sizeof(k), "key-%03d-this-one-differs-per-object-%02d", j, i);
		else
			snprintf(k, sizeof(k), "key-%03d-long-enough-to-fill-fieldsV1", j);
		cJSON_AddStringToObject(data, k, "v");
	}
	ck_assert_msg(mk_client_create(admin, CM_PATH, o, NULL, &err) == 0, "create: %s",
		      err ? err->msg : "");
	cJSON_Delete(o);
}

/* a fieldsV1 that differs in one place: the chunks around it are shared */
START_TEST(test_chunks_shared)
{
	ck_assert_int_eq(list_len(CM_PATH), 0);
	create_big(0);
	ck_assert_int_eq(check_against_store(CM_PATH), 1);
	size_t one = mk_listcache_pieces();
	ck_assert_uint_ge(one, 8); /* ~5 KB of fieldsV1 in chunks of at most ~1 KB */
	for (int i = 1; i < 10; i++)
		create_big(i);
	ck_assert_int_eq(check_against_store(CM_PATH), 10);
	/* each more object adds the chunks around its own key, not its ~20 */
	ck_assert_uint_le(mk_listcache_pieces(), one + 9 * 3);
}
END_TEST

START_TEST(test_pieces_released)
{
	struct mk_error *err = NULL;
	char name[96];
	ck_assert_int_eq(list_len(CM_PATH), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "cm-%02d", i);
		create_cm(name, "a", i < N / 2 ? "first-key" : "second-key");
	}
	ck_assert_int_eq(check_against_store(CM_PATH), N);
	ck_assert_uint_ge(mk_listcache_pieces(), 2);

	/* read from the cache before the objects go */
	struct mk_store_list held = { 0 };
	ck_assert_int_eq(mk_listcache_load(srv, "configmaps", "default", &held), 1);
	ck_assert_uint_eq(held.n, N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), CM_PATH "/cm-%02d", i);
		ck_assert_int_eq(mk_client_delete(admin, name, NULL, NULL, &err), 0);
	}
	for (int i = 0; i < 100 && list_len(CM_PATH); i++)
		usleep(20 * 1000);
	ck_assert_int_eq(list_len(CM_PATH), 0);
	ck_assert_uint_eq(mk_listcache_pieces(), 0);
	for (size_t i = 0; i < held.n; i++) {
		cJSON *o = cJSON_Parse(held.items[i]);
		ck_assert_ptr_nonnull(mk_json_get(o, "metadata.managedFields"));
		ck_assert_ptr_nonnull(strstr(held.items[i], "\"fieldsV1\":{"));
		cJSON_Delete(o);
	}
	mk_store_list_release(&held);
}
END_TEST

Suite *listcache_suite(void)
{
	Suite *s = suite_create("apiserver-listcache");
	TCase *tc = tcase_create("pieces");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pieces_shared);
	tcase_add_test(tc, test_pieces_released);
	tcase_add_test(tc, test_chunks_shared);
	suite_add_tcase(s, tc);
	return s;
}
