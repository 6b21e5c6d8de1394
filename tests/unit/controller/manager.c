/* The controller manager against a real API server on an in-memory store: the
 * controllers start, reconcile and stop promptly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/api.h"
#include "minik8s/apiserver.h"
#include "minik8s/client.h"
#include "minik8s/controller.h"
#include "minik8s/store.h"

#define TOKEN "unit-test-token-0123456789"

static struct mk_store *store;
static struct mk_apiserver *srv;
static struct mk_client *cli;
static uint16_t port;

static int start_api(void)
{
	struct mk_apiserver_options ao = { .bind_address = "127.0.0.1", .port = port,
					   .admin_token = TOKEN, .namespace_controller = true };
	struct mk_error *err = NULL;
	int r = mk_apiserver_start(&ao, store, &srv, &err);
	if (r < 0 && getenv("MK_TEST_DEBUG"))
		fprintf(stderr, "apiserver start: %s\n", err->msg);
	mk_error_free(&err);
	return r;
}

static void setup(void)
{
	struct mk_store_options so = { .path = ":memory:", .event_window = 0 };
	ck_assert_int_eq(mk_store_open(&so, &store, NULL), 0);
	for (int i = 0; i < 50; i++) {
		mk_random_bytes(&port, sizeof(port));
		port = (uint16_t)(20000 + port % 40000);
		if (start_api() == 0) {
			char *url = mk_strdup_printf("http://127.0.0.1:%u", port);
			struct mk_client_config *cfg = mk_client_config_new(url, TOKEN, NULL);
			cfg->timeout_ms = 10000;
			ck_assert_int_eq(mk_client_new(cfg, &cli, NULL), 0);
			mk_client_config_free(cfg);
			free(url);
			return;
		}
	}
	ck_abort_msg("no free port for the API server");
}

static void teardown(void)
{
	mk_client_free(cli);
	mk_apiserver_free(srv);
	mk_store_free(store);
}

static void create(const char *path, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	struct mk_error *err = NULL;
	ck_assert_ptr_nonnull(o);
	if (mk_client_create(cli, path, o, NULL, &err) < 0)
		ck_abort_msg("create %s: %s", path, err->msg);
	cJSON_Delete(o);
}

static int count_owned_pods(void)
{
	cJSON *list = NULL;
	ck_assert_int_eq(mk_client_get(cli, "/api/v1/namespaces/default/pods?labelSelector=app%3Drs", &list, NULL), 0);
	int n = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		const cJSON *ref = mk_api_controller_ref(it);
		if (ref && !strcmp(mk_json_get_string(ref, "kind"), "ReplicaSet") &&
		    !strncmp(mk_json_get_string(it, "metadata.name"), "rs-", 3))
			n++;
	}
	cJSON_Delete(list);
	return n;
}

START_TEST(test_manager_replicaset)
{
	struct mk_controllers *ctl = NULL;
	struct mk_controllers_options o = { .workers = 2 };
	struct mk_error *err = NULL;
	if (mk_controllers_start(cli, &o, &ctl, &err) < 0)
		ck_abort_msg("start: %s", err->msg);
	create("/apis/apps/v1/namespaces/default/replicasets",
	       "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"rs\"},"
	       "\"spec\":{\"replicas\":4,\"selector\":{\"matchLabels\":{\"app\":\"rs\"}},"
	       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"rs\"}},\"spec\":{\"containers\":"
	       "[{\"name\":\"c\",\"image\":\"x\"}]}}}}");
	int n = 0;
	for (int i = 0; i < 100 && (n = count_owned_pods()) != 4; i++)
		usleep(50000);
	ck_assert_int_eq(n, 4);
	/* no duplicates after the caches settle */
	usleep(300000);
	ck_assert_int_eq(count_owned_pods(), 4);
	cJSON *rs = NULL;
	for (int i = 0; i < 100; i++) {
		cJSON_Delete(rs);
		rs = NULL;
		ck_assert_int_eq(mk_client_get(cli, "/apis/apps/v1/namespaces/default/replicasets/rs", &rs, NULL), 0);
		if (cJSON_IsNumber(mk_json_get(rs, "status.replicas")) && mk_json_get(rs, "status.replicas")->valueint == 4)
			break;
		usleep(50000);
	}
	ck_assert_int_eq(mk_json_get(rs, "status.replicas")->valueint, 4);
	cJSON_Delete(rs);
	uint64_t t0 = mk_time_mono_ns();
	mk_controllers_stop(ctl);
	ck_assert_uint_lt((mk_time_mono_ns() - t0) / 1000000, 3000);
}
END_TEST

Suite *manager_suite(void)
{
	Suite *s = suite_create("manager");
	TCase *tc = tcase_create("manager");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_manager_replicaset);
	suite_add_tcase(s, tc);
	return s;
}
