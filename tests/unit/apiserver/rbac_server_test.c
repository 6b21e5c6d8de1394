/* RBAC in a real API server (in-memory store, plain HTTP on 127.0.0.1): the
 * bootstrap policy, aggregation kept by the server on ClusterRole writes, a
 * --token-auth-file user denied then allowed by a RoleBinding the very next request
 * (the index is rebuilt before the write's reply), and escalation refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/apiserver.h"
#include "minik8s/client.h"
#include "minik8s/store.h"

#define ADMIN "rbac-unit-admin-token-0123456789"
#define ALICE "rbac-unit-alice-token-0123456789"

static struct mk_store *store;
static struct mk_apiserver *srv;
static struct mk_client *admin, *alice;
static char tokfile[] = "/tmp/mk-rbac-tokens-XXXXXX";

static struct mk_client *client_for(uint16_t port, const char *token)
{
	char *url = mk_strdup_printf("http://127.0.0.1:%u", port);
	struct mk_client_config *cfg = mk_client_config_new(url, token, NULL);
	struct mk_client *c = NULL;
	cfg->timeout_ms = 10000;
	ck_assert_int_eq(mk_client_new(cfg, &c, NULL), 0);
	mk_client_config_free(cfg);
	free(url);
	return c;
}

static void setup(void)
{
	struct mk_store_options so = { .path = ":memory:" };
	int fd = mkstemp(tokfile);
	ck_assert_int_ge(fd, 0);
	const char line[] = ALICE ",alice,u-1,\"devs\"\n";
	ck_assert_int_eq(write(fd, line, sizeof(line) - 1), (ssize_t)sizeof(line) - 1);
	close(fd);
	ck_assert_int_eq(mk_store_open(&so, &store, NULL), 0);
	for (int i = 0; i < 50; i++) {
		uint16_t port;
		mk_random_bytes(&port, sizeof(port));
		port = (uint16_t)(20000 + port % 40000);
		struct mk_apiserver_options ao = { .bind_address = "127.0.0.1", .port = port,
						   .admin_token = ADMIN, .token_auth_file = tokfile };
		struct mk_error *err = NULL;
		int r = mk_apiserver_start(&ao, store, &srv, &err);
		mk_error_free(&err);
		if (r == 0) {
			admin = client_for(port, ADMIN);
			alice = client_for(port, ALICE);
			return;
		}
	}
	ck_abort_msg("no free port for the API server");
}

static void teardown(void)
{
	mk_client_free(admin);
	mk_client_free(alice);
	mk_apiserver_free(srv);
	mk_store_free(store);
	unlink(tokfile);
}

static void create(struct mk_client *c, const char *path, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	struct mk_error *err = NULL;
	ck_assert_msg(o != NULL, "bad JSON %s", json);
	if (mk_client_create(c, path, o, NULL, &err) < 0)
		ck_abort_msg("create %s: %s", path, err->msg);
	cJSON_Delete(o);
}

/* HTTP status of c's GET path (200, or the error's code) */
static int get_code(struct mk_client *c, const char *path)
{
	cJSON *o = NULL;
	struct mk_error *err = NULL;
	int r = mk_client_get(c, path, &o, &err);
	int code = r < 0 ? err->code : 200;
	cJSON_Delete(o);
	mk_error_free(&err);
	return code;
}

static int create_code(struct mk_client *c, const char *path, const char *json, char **ret_msg)
{
	cJSON *o = cJSON_Parse(json);
	struct mk_error *err = NULL;
	int r = mk_client_create(c, path, o, NULL, &err);
	int code = r < 0 ? err->code : 201;
	if (ret_msg)
		*ret_msg = r < 0 ? mk_strdup(err->msg) : NULL;
	cJSON_Delete(o);
	mk_error_free(&err);
	return code;
}

static bool has_widget_rule(const char *role)
{
	char *path = mk_strdup_printf("/apis/rbac.authorization.k8s.io/v1/clusterroles/%s", role);
	cJSON *o = NULL, *r;
	ck_assert_int_eq(mk_client_get(admin, path, &o, NULL), 0);
	free(path);
	bool found = false;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(o, "rules"))
	{
		cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "apiGroups"), 0);
		found |= cJSON_IsString(g) && !strcmp(g->valuestring, "example.com");
	}
	cJSON_Delete(o);
	return found;
}

START_TEST(rbac_server_aggregation)
{
	ck_assert(!has_widget_rule("view"));
	create(admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles",
	       "{\"metadata\":{\"name\":\"widgets\",\"labels\":{"
	       "\"rbac.authorization.k8s.io/aggregate-to-view\":\"true\"}},\"rules\":[{"
	       "\"apiGroups\":[\"example.com\"],\"resources\":[\"widgets\"],\"verbs\":[\"get\"]}]}");
	/* view selects it; edit selects view, admin selects edit: the chain follows */
	ck_assert(has_widget_rule("view"));
	ck_assert(has_widget_rule("edit"));
	ck_assert(has_widget_rule("admin"));
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_delete(admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles/widgets",
					  NULL, NULL, &err), 0);
	ck_assert(!has_widget_rule("view"));
	ck_assert(!has_widget_rule("admin"));
}
END_TEST

START_TEST(rbac_server_bind_then_allowed)
{
	create(admin, "/api/v1/namespaces", "{\"metadata\":{\"name\":\"team\"}}");
	ck_assert_int_eq(get_code(alice, "/api/v1/namespaces/team/configmaps"), 403);
	ck_assert_int_eq(get_code(alice, "/api"), 200); /* system:discovery */
	create(admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
	       "{\"metadata\":{\"name\":\"devs-edit\"},\"roleRef\":{\"apiGroup\":"
	       "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"edit\"},"
	       "\"subjects\":[{\"kind\":\"Group\",\"name\":\"devs\"}]}");
	/* no wait: the next request sees the binding */
	ck_assert_int_eq(get_code(alice, "/api/v1/namespaces/team/configmaps"), 200);
	ck_assert_int_eq(get_code(alice, "/api/v1/namespaces/default/configmaps"), 403);
	ck_assert_int_eq(get_code(alice, "/api/v1/nodes"), 403);

	/* escalation: edit holds no roles at all (admin does) */
	char *msg = NULL;
	ck_assert_int_eq(create_code(alice, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
				     "{\"metadata\":{\"name\":\"r\"},\"rules\":[]}", &msg), 403);
	free(msg);
	create(admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
	       "{\"metadata\":{\"name\":\"alice-admin\"},\"roleRef\":{\"apiGroup\":"
	       "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"admin\"},"
	       "\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"}]}");
	ck_assert_int_eq(create_code(alice, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
				     "{\"metadata\":{\"name\":\"cm\"},\"rules\":[{\"apiGroups\":[\"\"],"
				     "\"resources\":[\"configmaps\"],\"verbs\":[\"get\"]}]}", NULL), 201);
	ck_assert_int_eq(create_code(alice, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
				     "{\"metadata\":{\"name\":\"nodes\"},\"rules\":[{\"apiGroups\":[\"\"],"
				     "\"resources\":[\"nodes\"],\"verbs\":[\"get\"]}]}", &msg), 403);
	ck_assert_msg(strstr(msg, "is attempting to grant RBAC permissions not currently held") &&
			      strstr(msg, "{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"get\"]}"),
		      "%s", msg);
	free(msg);
	ck_assert_int_eq(create_code(alice, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
				     "{\"metadata\":{\"name\":\"root\"},\"roleRef\":{\"apiGroup\":"
				     "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":"
				     "\"cluster-admin\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"}]}",
				     NULL), 403);
}
END_TEST

Suite *rbac_server_suite(void)
{
	Suite *s = suite_create("rbac_server");
	TCase *tc = tcase_create("rbac_server");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rbac_server_aggregation);
	tcase_add_test(tc, rbac_server_bind_then_allowed);
	suite_add_tcase(s, tc);
	return s;
}
