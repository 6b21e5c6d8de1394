/* See fixture.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/apiserver.h"
#include "minik8s/store.h"
#include "fixture.h"

#define TOKEN "unit-test-token-0123456789"

struct mk_client *fx_cli;
struct mk_controllers *fx_ctl;
static struct mk_store *store;
static struct mk_apiserver *srv;

static int start_api(uint16_t port)
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

void fx_setup(void)
{
	struct mk_store_options so = { .path = ":memory:" };
	ck_assert_int_eq(mk_store_open(&so, &store, NULL), 0);
	for (int i = 0; i < 50; i++) {
		uint16_t port;
		mk_random_bytes(&port, sizeof(port));
		port = (uint16_t)(20000 + port % 40000);
		if (start_api(port) == 0) {
			char *url = mk_strdup_printf("http://127.0.0.1:%u", port);
			struct mk_client_config *cfg = mk_client_config_new(url, TOKEN, NULL);
			cfg->timeout_ms = 10000;
			ck_assert_int_eq(mk_client_new(cfg, &fx_cli, NULL), 0);
			mk_client_config_free(cfg);
			free(url);
			return;
		}
	}
	ck_abort_msg("no free port for the API server");
}

void fx_setup_controllers_with(const struct mk_controllers_options *o)
{
	fx_setup();
	struct mk_error *err = NULL;
	if (mk_controllers_start(fx_cli, o, &fx_ctl, &err) < 0)
		ck_abort_msg("controllers start: %s", err->msg);
}

void fx_setup_controllers(void)
{
	struct mk_controllers_options o = { .workers = 2 };
	fx_setup_controllers_with(&o);
}

void fx_teardown(void)
{
	mk_controllers_stop(fx_ctl);
	fx_ctl = NULL;
	mk_client_free(fx_cli);
	mk_apiserver_free(srv);
	mk_store_free(store);
}

void fx_create(const char *path, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	struct mk_error *err = NULL;
	ck_assert_msg(o != NULL, "bad test JSON: %s", json);
	if (mk_client_create(fx_cli, path, o, NULL, &err) < 0)
		ck_abort_msg("create %s: %s", path, err->msg);
	cJSON_Delete(o);
}

void fx_patch(const char *path, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	struct mk_error *err = NULL;
	ck_assert_msg(o != NULL, "bad test JSON: %s", json);
	if (mk_client_patch(fx_cli, path, "application/merge-patch+json", o, NULL, &err) < 0)
		ck_abort_msg("patch %s: %s", path, err->msg);
	cJSON_Delete(o);
}

cJSON *fx_get(const char *path)
{
	cJSON *o = NULL;
	struct mk_error *err = NULL;
	if (mk_client_get(fx_cli, path, &o, &err) < 0) {
		int code = err->code;
		if (code != 404)
			ck_abort_msg("get %s: %s", path, err->msg);
		mk_error_free(&err);
		return NULL;
	}
	return o;
}

cJSON *fx_wait(const char *path, fx_pred_fn pred, const void *arg, const char *what)
{
	for (int i = 0; i < 500; i++) {
		cJSON *o = fx_get(path);
		if (pred(o, arg))
			return o;
		cJSON_Delete(o);
		usleep(20000);
	}
	cJSON *last = fx_get(path);
	char *s = last ? cJSON_PrintUnformatted(last) : NULL;
	ck_abort_msg("%s: %s never held; last: %s", path, what, s ? s : "(none)");
	return NULL;
}

void fx_node(const char *name, const char *labels_json, const char *taints_json)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\","
				   "\"labels\":%s},\"spec\":{\"taints\":%s}}",
				   name, labels_json ? labels_json : "{}", taints_json ? taints_json : "[]");
	fx_create("/api/v1/nodes", j);
	free(j);
	char *path = mk_strdup_printf("/api/v1/nodes/%s/status", name);
	fx_patch(path, "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	free(path);
}

void fx_pod_running(const char *ns, const char *name, const char *ip, bool ready)
{
	char *path = mk_strdup_printf("/api/v1/namespaces/%s/pods/%s/status", ns, name);
	char *j = mk_strdup_printf("{\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\",\"podIPs\":[{\"ip\":\"%s\"}],"
				   "\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
				   ip, ip, ready ? "True" : "False");
	fx_patch(path, j);
	free(j);
	free(path);
}
