/* Several servers in one client ("URL,URL"): a refused connection moves the client
 * to the next server, the request (a write too: it never reached a server) is sent
 * there, and later requests and watches stay there; a bad URL in the list is
 * refused. Real HTTP servers (testserver.c). */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "minik8s/client.h"
#include "testserver.h"

static const char *const OK[] = { "{\"kind\":\"Status\",\"status\":\"Success\"}", NULL };
static const char *const EVENTS[] = {
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
	"\"resourceVersion\":\"7\"}}}\n", NULL };

static void handler(struct ts *t, const char *method, const char *target, const char *headers,
		    const char *body, struct ts_reply *r)
{
	r->status = !strcmp(method, "POST") ? 201 : 200;
	r->chunks = strstr(target, "watch=true") ? EVENTS : OK;
}

/* a port nobody listens on */
static int dead_port(void)
{
	struct ts tmp;
	ts_start(&tmp, handler, NULL);
	int port = tmp.port;
	ts_stop(&tmp);
	return port;
}

static int on_event(const char *type, const cJSON *obj, void *userdata)
{
	(*(int *)userdata)++;
	return 0;
}

START_TEST(test_moves_to_the_next_server)
{
	struct ts live;
	struct mk_client *c = NULL;
	struct mk_error *err = NULL;
	ts_start(&live, handler, NULL);
	char *dead = mk_strdup_printf("http://127.0.0.1:%d", dead_port());
	char *up = ts_url(&live);
	char *list = mk_strdup_printf("%s/, %s", dead, up);
	struct mk_client_config *cfg = mk_client_config_new(list, "tok", NULL);
	ck_assert_int_eq(mk_client_new(cfg, &c, &err), 0);
	ck_assert_str_eq(mk_client_server(c), dead);

	/* a POST refused by the first server is sent to the second */
	cJSON *body = cJSON_CreateObject();
	ck_assert_int_eq(mk_client_create(c, "/api/v1/namespaces/default/configmaps", body, NULL,
					  &err), 0);
	cJSON_Delete(body);
	ck_assert_str_eq(mk_client_server(c), up);
	ck_assert_int_eq(live.requests, 1);
	ck_assert_int_eq(mk_client_get(c, "/api", NULL, &err), 0);
	ck_assert_int_eq(live.requests, 2);

	/* a watch goes to the server in use */
	struct mk_client_watch *w = mk_client_watch_new();
	int events = 0;
	mk_client_watch_run(c, w, "/api/v1/pods", "5", 0, NULL, on_event, &events, &err);
	mk_error_free(&err);
	mk_client_watch_free(w);
	ck_assert_int_eq(events, 1);
	ck_assert_ptr_nonnull(strstr(live.last_target, "resourceVersion=5"));

	/* both gone: the error is the transport's, and the client keeps a server */
	ts_stop(&live);
	ck_assert_int_eq(mk_client_get(c, "/api", NULL, &err), -1);
	ck_assert_int_eq(err->code, ECONNREFUSED);
	mk_error_free(&err);
	ck_assert_ptr_nonnull(mk_client_server(c));

	mk_client_free(c);
	mk_client_config_free(cfg);
	free(list);
	free(up);
	free(dead);
}
END_TEST

START_TEST(test_bad_list)
{
	struct mk_client *c = NULL;
	struct mk_error *err = NULL;
	struct mk_client_config *cfg = mk_client_config_new("https://a:6443,ftp://b", NULL, NULL);
	ck_assert_int_lt(mk_client_new(cfg, &c, &err), 0);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_ptr_nonnull(strstr(err->msg, "ftp://b"));
	mk_error_free(&err);
	mk_client_config_free(cfg);
	cfg = mk_client_config_new(",,", NULL, NULL);
	ck_assert_int_lt(mk_client_new(cfg, &c, &err), 0);
	mk_error_free(&err);
	mk_client_config_free(cfg);
}
END_TEST

Suite *failover_suite(void)
{
	Suite *s = suite_create("failover");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_moves_to_the_next_server);
	tcase_add_test(tc, test_bad_list);
	suite_add_tcase(s, tc);
	return s;
}
