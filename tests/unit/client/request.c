/* Requests: status codes, Status errors, bodies and headers, keep-alive,
 * several threads sharing one client. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/client.h"
#include "testserver.h"

static const char *const POD[] = { "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"p\"}}", NULL };
static const char *const NOTFOUND[] = {
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	"\"message\":\"pods \\\"x\\\" not found\",\"reason\":\"NotFound\",\"code\":404,"
	"\"details\":{\"name\":\"x\",\"kind\":\"pods\"}}", NULL };
static const char *const EXISTS[] = {
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	"\"message\":\"pods \\\"p\\\" already exists\",\"reason\":\"AlreadyExists\",\"code\":409}", NULL };
static const char *const PLAIN[] = { "404 page not found\n", NULL };

static __thread char echo_buf[9000];
static const char *echo_chunks[2];

static void handler(struct ts *t, const char *method, const char *target, const char *headers,
		    const char *body, struct ts_reply *r)
{
	if (!strcmp(target, "/api/v1/namespaces/default/pods/p")) {
		r->chunks = POD;
	} else if (!strcmp(target, "/api/v1/namespaces/default/pods/x")) {
		r->status = 404;
		r->chunks = NOTFOUND;
	} else if (!strcmp(target, "/exists")) {
		r->status = 409;
		r->chunks = EXISTS;
	} else if (!strcmp(target, "/plain")) {
		r->status = 404;
		r->content_type = "text/plain";
		r->chunks = PLAIN;
	} else if (!strcmp(target, "/echo")) {
		/* echoes method and body back as JSON */
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "method", method);
		cJSON_AddStringToObject(j, "body", body);
		char *s = cJSON_PrintUnformatted(j);
		snprintf(echo_buf, sizeof(echo_buf), "%s", s);
		cJSON_free(s);
		cJSON_Delete(j);
		echo_chunks[0] = echo_buf;
		echo_chunks[1] = NULL;
		r->status = !strcmp(method, "POST") ? 201 : 200;
		r->chunks = echo_chunks;
	} else {
		r->status = 500;
	}
}

static struct ts srv;
static struct mk_client *client;

static void setup(void)
{
	ts_start(&srv, handler, NULL);
	char *url = ts_url(&srv);
	struct mk_client_config *cfg = mk_client_config_new(url, "tok", NULL);
	ck_assert_int_eq(mk_client_new(cfg, &client, NULL), 0);
	mk_client_config_free(cfg);
	free(url);
}

static void teardown(void)
{
	mk_client_free(client);
	ts_stop(&srv);
}

START_TEST(test_get_and_errors)
{
	cJSON *obj = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_get(client, "/api/v1/namespaces/default/pods/p", &obj, &err), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "metadata.name"), "p");
	cJSON_Delete(obj);
	ck_assert_msg(strstr(srv.last_headers, "Authorization: Bearer tok\r\n"), "%s", srv.last_headers);
	ck_assert_msg(strstr(srv.last_headers, "Accept: application/json\r\n"), "%s", srv.last_headers);

	obj = NULL;
	ck_assert_int_eq(mk_client_get(client, "/api/v1/namespaces/default/pods/x", &obj, &err), -1);
	ck_assert_ptr_null(obj);
	ck_assert_int_eq(err->code, 404);
	ck_assert_str_eq(err->msg, "pods \"x\" not found");
	mk_error_free(&err);

	struct mk_client_request req = { .method = "GET", .path = "/exists" };
	struct mk_client_response res = { 0 };
	ck_assert_int_eq(mk_client_do(client, &req, &res, &err), 0);
	ck_assert_int_eq(res.code, 409);
	ck_assert_str_eq(mk_client_response_reason(&res), "AlreadyExists");
	ck_assert_int_eq(mk_client_response_error(&res, &err), -1);
	ck_assert_str_eq(err->msg, "pods \"p\" already exists");
	mk_error_free(&err);
	mk_client_response_release(&res);

	req.path = "/plain";
	ck_assert_int_eq(mk_client_do(client, &req, &res, &err), 0);
	ck_assert_int_eq(res.code, 404);
	ck_assert_ptr_null(res.json);
	ck_assert_str_eq(res.body, "404 page not found\n");
	ck_assert_str_eq(res.content_type, "text/plain");
	ck_assert_str_eq(mk_client_response_reason(&res), "NotFound");
	mk_client_response_error(&res, &err);
	ck_assert_str_eq(err->msg, "the server could not find the requested resource");
	mk_error_free(&err);
	mk_client_response_release(&res);
	/* all of it over one kept-alive connection */
	ck_assert_int_eq(srv.connections, 1);
	ck_assert_int_eq(srv.requests, 4);
}
END_TEST

START_TEST(test_bodies)
{
	cJSON *obj = NULL;
	cJSON *body = cJSON_Parse("{\"spec\":{\"replicas\":3}}");
	ck_assert_int_eq(mk_client_create(client, "/echo", body, &obj, NULL), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "method"), "POST");
	ck_assert_str_eq(mk_json_get_string(obj, "body"), "{\"spec\":{\"replicas\":3}}");
	ck_assert_msg(strstr(srv.last_headers, "Content-Type: application/json\r\n"), "%s",
		      srv.last_headers);
	cJSON_Delete(obj);
	ck_assert_int_eq(mk_client_patch(client, "/echo", "application/strategic-merge-patch+json",
					 body, &obj, NULL), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "method"), "PATCH");
	ck_assert_msg(strstr(srv.last_headers,
			     "Content-Type: application/strategic-merge-patch+json\r\n"), "%s",
		      srv.last_headers);
	cJSON_Delete(obj);
	ck_assert_int_eq(mk_client_update(client, "/echo", body, &obj, NULL), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "method"), "PUT");
	cJSON_Delete(obj);
	ck_assert_int_eq(mk_client_delete(client, "/echo", "Background", &obj, NULL), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "method"), "DELETE");
	ck_assert_str_eq(mk_json_get_string(obj, "body"), "{\"propagationPolicy\":\"Background\"}");
	cJSON_Delete(obj);
	ck_assert_int_eq(mk_client_delete(client, "/echo", NULL, &obj, NULL), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "body"), "");
	cJSON_Delete(obj);
	ck_assert_int_eq(mk_client_get(client, "/echo", &obj, NULL), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "method"), "GET");
	cJSON_Delete(obj);
	cJSON_Delete(body);
	ck_assert_int_eq(srv.connections, 1);
}
END_TEST

static void *hammer(void *p)
{
	long ok = 0;
	for (int i = 0; i < 25; i++) {
		cJSON *obj = NULL;
		struct mk_error *err = NULL;
		if (mk_client_get(p, "/api/v1/namespaces/default/pods/p", &obj, &err) == 0 &&
		    !strcmp(mk_json_get_string(obj, "metadata.name"), "p"))
			ok++;
		cJSON_Delete(obj);
		mk_error_free(&err);
	}
	return (void *)ok;
}

START_TEST(test_threads_share_client)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, client);
	for (int i = 0; i < 4; i++) {
		void *ok;
		pthread_join(th[i], &ok);
		ck_assert_int_eq((long)ok, 25);
	}
	/* one keep-alive connection per thread */
	ck_assert_int_eq(srv.connections, 4);
	ck_assert_int_eq(srv.requests, 100);
}
END_TEST

START_TEST(test_transport_errors)
{
	struct mk_client *c = NULL;
	struct mk_error *err = NULL;
	struct mk_client_config *cfg = mk_client_config_new("ftp://x", NULL, NULL);
	ck_assert_int_lt(mk_client_new(cfg, &c, &err), 0);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	mk_client_config_free(cfg);

	/* a port nobody listens on: bind one, close it */
	struct ts tmp;
	ts_start(&tmp, handler, NULL);
	int port = tmp.port;
	ts_stop(&tmp);
	char *url = mk_strdup_printf("http://127.0.0.1:%d", port);
	cfg = mk_client_config_new(url, NULL, NULL);
	ck_assert_int_eq(mk_client_new(cfg, &c, NULL), 0);
	ck_assert_int_eq(mk_client_get(c, "/x", NULL, &err), -1);
	ck_assert_int_eq(err->code, ECONNREFUSED);
	mk_error_free(&err);
	mk_client_free(c);
	mk_client_config_free(cfg);
	free(url);

	char *e = mk_client_escape("app in (a,b)");
	ck_assert_str_eq(e, "app%20in%20%28a%2Cb%29");
	free(e);
}
END_TEST

Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_get_and_errors);
	tcase_add_test(tc, test_bodies);
	tcase_add_test(tc, test_threads_share_client);
	tcase_add_test(tc, test_transport_errors);
	suite_add_tcase(s, tc);
	return s;
}
