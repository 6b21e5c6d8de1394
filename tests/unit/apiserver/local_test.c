/* The in-process transport (local.c) against a real API server (in-memory store):
 * the clients' URL names a port nobody listens on, so every answer here came
 * through the router without a socket. GET, LIST with an escaped selector,
 * CREATE (managedFields named after the User-Agent, dryRun honoured), 404 and 409
 * Status errors, a watch delivering ADDED then stopped by its callback, a watch
 * cancelled from another thread, and a --token-auth-file user without RBAC
 * rights refused (403) for a create and a watch, as over HTTP; an informer through
 * it caching objects without managedFields and with shared strings. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/apiserver.h"
#include "minik8s/client.h"
#include "minik8s/store.h"

#define ADMIN "local-unit-admin-token-0123456789"
#define BOB "local-unit-bob-token-0123456789"
#define CM_PATH "/api/v1/namespaces/default/configmaps"

static struct mk_store *store;
static struct mk_apiserver *srv;
static struct mk_client *admin, *bob;
static char tokfile[32];

/* a client whose HTTP transport could reach nothing (port 1), made in-process */
static struct mk_client *local_client(const char *token)
{
	struct mk_client_config *cfg = mk_client_config_new("https://127.0.0.1:1", token, NULL);
	struct mk_client *c = NULL;
	cfg->timeout_ms = 10000;
	cfg->user_agent = mk_strdup("local-unit-test/v1.0 (linux)");
	ck_assert_int_eq(mk_client_new(cfg, &c, NULL), 0);
	mk_client_config_free(cfg);
	mk_apiserver_local_attach(srv, c);
	return c;
}

static void setup(void)
{
	struct mk_store_options so = { .path = ":memory:" };
	snprintf(tokfile, sizeof(tokfile), "/tmp/mk-local-tokens-XXXXXX"); /* each run (CK_FORK=no) */
	int fd = mkstemp(tokfile);
	ck_assert_int_ge(fd, 0);
	const char line[] = BOB ",bob,u-2,\"devs\"\n";
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
			admin = local_client(ADMIN);
			bob = local_client(BOB);
			return;
		}
	}
	ck_abort_msg("no free port for the API server");
}

static void teardown(void)
{
	mk_client_free(admin);
	mk_client_free(bob);
	mk_apiserver_free(srv);
	mk_store_free(store);
	unlink(tokfile);
}

static cJSON *configmap(const char *name, const char *app)
{
	cJSON *o = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{},"
			       "\"data\":{\"k\":\"v\"}}");
	cJSON *md = cJSON_GetObjectItem(o, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON *labels = cJSON_AddObjectToObject(md, "labels");
	cJSON_AddStringToObject(labels, "app", app);
	return o;
}

static void create_cm(struct mk_client *c, const char *name, const char *app)
{
	cJSON *o = configmap(name, app);
	struct mk_error *err = NULL;
	if (mk_client_create(c, CM_PATH, o, NULL, &err) < 0)
		ck_abort_msg("create %s: %s", name, err->msg);
	cJSON_Delete(o);
}

START_TEST(test_get_list_create)
{
	cJSON *o = configmap("one", "a"), *got = NULL;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_client_create(admin, CM_PATH, o, &got, &err), 0);
	/* the write is named after the client's User-Agent, as over HTTP */
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(
				     mk_json_get(got, "metadata.managedFields"), 0), "manager"),
			 "local-unit-test");
	cJSON_Delete(got);
	/* a second create of the name: the Status of a 409 */
	ck_assert_int_eq(mk_client_create(admin, CM_PATH, o, NULL, &err), -1);
	ck_assert_int_eq(err->code, 409);
	ck_assert_ptr_nonnull(strstr(err->msg, "already exists"));
	mk_error_free(&err);
	cJSON_Delete(o);
	create_cm(admin, "two", "b");

	ck_assert_int_eq(mk_client_get(admin, CM_PATH "/one", &got, &err), 0);
	ck_assert_str_eq(mk_json_get_string(got, "data.k"), "v");
	cJSON_Delete(got);
	ck_assert_int_eq(mk_client_get(admin, CM_PATH "/nothere", &got, &err), -1);
	ck_assert_int_eq(err->code, 404);
	mk_error_free(&err);

	/* the query is decoded as libmicrohttpd decodes it: "app in (b,z)" */
	ck_assert_int_eq(mk_client_get(admin, CM_PATH "?labelSelector=app+in+%28b%2Cz%29", &got,
				       &err), 0);
	cJSON *items = cJSON_GetObjectItem(got, "items");
	ck_assert_int_eq(cJSON_GetArraySize(items), 1);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(items, 0), "metadata.name"), "two");
	cJSON_Delete(got);

	/* dryRun=All: answered, not stored */
	o = configmap("dry", "a");
	ck_assert_int_eq(mk_client_create(admin, CM_PATH "?dryRun=All", o, NULL, &err), 0);
	cJSON_Delete(o);
	ck_assert_int_eq(mk_client_get(admin, CM_PATH "/dry", NULL, &err), -1);
	ck_assert_int_eq(err->code, 404);
	mk_error_free(&err);

	/* a raw request: the status and content type come back as over HTTP */
	struct mk_client_request req = { .method = "GET", .path = "/api/v1/namespaces/default" };
	struct mk_client_response res = { 0 };
	ck_assert_int_eq(mk_client_do(admin, &req, &res, &err), 0);
	ck_assert_int_eq(res.code, 200);
	ck_assert_str_eq(res.content_type, "application/json");
	ck_assert_str_eq(mk_json_get_string(res.json, "kind"), "Namespace");
	mk_client_response_release(&res);
}
END_TEST

struct watch_seen {
	char names[8][64];
	int n;
	const char *stop_at;
};

static int on_event(const char *type, const cJSON *obj, void *ud)
{
	struct watch_seen *s = ud;
	if (strcmp(type, "ADDED") != 0 || s->n == 8)
		return 0;
	snprintf(s->names[s->n++], 64, "%s", mk_json_get_string(obj, "metadata.name"));
	return s->stop_at && !strcmp(s->names[s->n - 1], s->stop_at) ? -1 : 0;
}

static void *create_later(void *arg)
{
	(void)arg;
	usleep(100 * 1000);
	create_cm(admin, "late", "x");
	return NULL;
}

START_TEST(test_watch)
{
	struct mk_error *err = NULL;
	cJSON *list = NULL;

	create_cm(admin, "early", "x");
	ck_assert_int_eq(mk_client_get(admin, CM_PATH, &list, &err), 0);
	char *rv = mk_strdup(mk_json_get_string(list, "metadata.resourceVersion"));
	cJSON_Delete(list);

	/* from the list's version: only what comes after, until the callback stops */
	struct mk_client_watch *w = mk_client_watch_new();
	struct watch_seen seen = { .stop_at = "late" };
	pthread_t t;
	pthread_create(&t, NULL, create_later, NULL);
	int r = mk_client_watch_run(admin, w, CM_PATH, rv, 30, NULL, on_event, &seen, &err);
	pthread_join(t, NULL);
	ck_assert_msg(r == 0, "watch: %s", err ? err->msg : "?");
	ck_assert_int_eq(seen.n, 1);
	ck_assert_str_eq(seen.names[0], "late");
	ck_assert_str_ne(mk_client_watch_resource_version(w), rv);
	mk_client_watch_free(w);

	/* without a version: the current state first, as ADDED events */
	w = mk_client_watch_new();
	struct watch_seen all = { .stop_at = "late" };
	ck_assert_int_eq(mk_client_watch_run(admin, w, CM_PATH, NULL, 30, NULL, on_event, &all,
					     &err), 0);
	ck_assert_int_eq(all.n, 2);
	mk_client_watch_free(w);

	free(rv);
}
END_TEST

struct cancel_arg {
	struct mk_client_watch *w;
};

static void *cancel_later(void *arg)
{
	struct cancel_arg *a = arg;
	usleep(200 * 1000);
	mk_client_watch_cancel(a->w);
	return NULL;
}

START_TEST(test_watch_cancel)
{
	struct mk_error *err = NULL;
	struct mk_client_watch *w = mk_client_watch_new();
	struct watch_seen seen = { 0 };
	struct cancel_arg a = { w };
	pthread_t t;

	/* nothing happens in this namespace: only the cancel can end the watch before
	 * its 300 s timeout */
	pthread_create(&t, NULL, cancel_later, &a);
	int r = mk_client_watch_run(admin, w, "/api/v1/namespaces/kube-public/secrets", NULL, 300,
				    NULL, on_event, &seen, &err);
	pthread_join(t, NULL);
	ck_assert_int_eq(r, 0);
	ck_assert(mk_client_watch_cancelled(w));
	/* cancelled before it starts: returns at once */
	ck_assert_int_eq(mk_client_watch_run(admin, w, CM_PATH, NULL, 300, NULL, on_event, &seen,
					     &err), 0);
	mk_client_watch_free(w);
}
END_TEST

START_TEST(test_forbidden)
{
	struct mk_error *err = NULL;
	cJSON *o = configmap("bobs", "a");

	/* bob is authenticated (his token) but no binding grants him anything */
	ck_assert_int_eq(mk_client_create(bob, CM_PATH, o, NULL, &err), -1);
	ck_assert_int_eq(err->code, 403);
	ck_assert_msg(strstr(err->msg, "User \"bob\" cannot create resource \"configmaps\""),
		      "message: %s", err->msg);
	mk_error_free(&err);
	cJSON_Delete(o);

	struct mk_client_watch *w = mk_client_watch_new();
	struct watch_seen seen = { 0 };
	ck_assert_int_eq(mk_client_watch_run(bob, w, CM_PATH, NULL, 30, NULL, on_event, &seen,
					     &err), -1);
	ck_assert_int_eq(err->code, 403);
	ck_assert_ptr_nonnull(strstr(err->msg, "cannot watch resource"));
	mk_error_free(&err);
	mk_client_watch_free(w);

	/* a wrong token is nobody: 401 */
	struct mk_client *nobody = local_client("not-a-token-of-this-server");
	ck_assert_int_eq(mk_client_get(nobody, CM_PATH, NULL, &err), -1);
	ck_assert_int_eq(err->code, 401);
	mk_error_free(&err);
	mk_client_free(nobody);

	/* paths that need a connection are refused, not half-served */
	ck_assert_int_eq(mk_client_get(admin, "/api/v1/namespaces/default/pods/p/log", NULL, &err),
			 -1);
	ck_assert_int_eq(err->code, EPROTONOSUPPORT);
	mk_error_free(&err);
}
END_TEST


/* an informer through the transport, as the controllers run theirs: the list and
 * the watch, objects cached without managedFields (as compact text) */
START_TEST(test_informer_compact)
{
	struct mk_error *err = NULL;
	struct mk_informer *inf = mk_informer_new(admin, CM_PATH);
	mk_informer_strip_managed_fields(inf);
	mk_informer_share_strings(inf);
	create_cm(admin, "listed", "a");
	ck_assert_int_eq(mk_informer_start(inf, &err), 0);
	ck_assert_int_eq(mk_informer_wait_synced(inf, 20000), 1);
	create_cm(admin, "watched", "a-rather-long-label-value-here");

	struct mk_object *o = NULL;
	for (int i = 0; i < 200 && !o; i++) {
		o = mk_informer_get(inf, "default/watched");
		if (!o)
			usleep(50 * 1000);
	}
	ck_assert_ptr_nonnull(o);
	cJSON *md = cJSON_GetObjectItem(o->json, "metadata");
	ck_assert_ptr_null(cJSON_GetObjectItem(md, "managedFields"));
	cJSON *name = cJSON_GetObjectItem(md, "name");
	ck_assert_str_eq(name->valuestring, "watched");
	cJSON *app = mk_json_get(o->json, "metadata.labels.app");
	ck_assert(!(app->type & cJSON_IsReference));
	ck_assert_str_eq(app->valuestring, "a-rather-long-label-value-here");

	/* the same object as the server has it, but for managedFields */
	cJSON *srv_obj = NULL;
	ck_assert_int_eq(mk_client_get(admin, CM_PATH "/watched", &srv_obj, &err), 0);
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(srv_obj, "metadata"), "managedFields");
	ck_assert(cJSON_Compare(srv_obj, o->json, 1));
	/* a copy is the caller's to change and free */
	cJSON *copy = cJSON_Duplicate(o->json, 1);
	mk_json_set_string(cJSON_GetObjectItem(copy, "metadata"), "name", "changed");
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(copy, "data"), "k", cJSON_CreateString("w"));
	ck_assert_str_eq(mk_json_get_string(copy, "metadata.name"), "changed");
	ck_assert_str_eq(mk_json_get_string(o->json, "metadata.name"), "watched");
	ck_assert_str_eq(mk_json_get_string(o->json, "data.k"), "v");
	cJSON_Delete(copy);
	cJSON_Delete(srv_obj);
	mk_object_unref(o);
	ck_assert_ptr_nonnull((o = mk_informer_get(inf, "default/listed")));
	ck_assert_ptr_null(mk_json_get(o->json, "metadata.managedFields"));
	mk_object_unref(o);
	mk_informer_free(inf);
}
END_TEST

Suite *local_suite(void)
{
	Suite *s = suite_create("apiserver-local");
	TCase *tc = tcase_create("local");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_get_list_create);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_watch_cancel);
	tcase_add_test(tc, test_forbidden);
	tcase_add_test(tc, test_informer_compact);
	suite_add_tcase(s, tc);
	return s;
}
