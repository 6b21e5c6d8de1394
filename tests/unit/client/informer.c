/* Informer and controller manager against a real in-process API server (plain
 * HTTP on 127.0.0.1, :memory: store): list + watch into the cache, handlers,
 * indexes, prompt stop; the replica set controller creating pods. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/apiserver.h"
#include "minik8s/client.h"
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

static void setup_window(size_t window)
{
	struct mk_store_options so = { .path = ":memory:", .event_window = window };
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

static void setup(void)
{
	setup_window(0);
}

static void setup_small(void)
{
	setup_window(8);
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

static void mkpod(const char *name, const char *node)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},"
				   "\"spec\":{%s%s%s\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
				   name, node ? "\"nodeName\":\"" : "", node ? node : "", node ? "\"," : "");
	create("/api/v1/namespaces/default/pods", j);
	free(j);
}

/* events seen by a handler, as "ADD a", "UPDATE a", "DELETE a" */
struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char log[4096];
};

static void on_event(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct rec *r = ud;
	const char *what = !old ? "ADD" : !new ? "DELETE" : "UPDATE";
	const char *name = mk_json_get_string((new ? new : old)->json, "metadata.name");
	pthread_mutex_lock(&r->mu);
	size_t l = strlen(r->log);
	snprintf(r->log + l, sizeof(r->log) - l, "%s %s;", what, name);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

static int wait_log(struct rec *r, const char *want)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&r->mu);
	while (!strstr(r->log, want))
		if (pthread_cond_timedwait(&r->cond, &r->mu, &ts) == ETIMEDOUT)
			break;
	int ok = strstr(r->log, want) != NULL;
	pthread_mutex_unlock(&r->mu);
	return ok;
}

START_TEST(test_list_watch_cache)
{
	struct rec r = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	mkpod("a", "n1");
	struct mk_informer *inf = mk_informer_new(cli, "/api/v1/pods");
	mk_informer_add_index(inf, "node", mk_index_pod_node);
	mk_informer_add_handler(inf, on_event, &r);
	ck_assert_int_eq(mk_informer_start(inf, NULL), 0);
	ck_assert_int_eq(mk_informer_wait_synced(inf, 5000), 1);
	ck_assert(wait_log(&r, "ADD a;"));
	struct mk_object *o = mk_informer_get(inf, "default/a");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(mk_json_get_string(o->json, "spec.nodeName"), "n1");
	mk_object_unref(o);

	mkpod("b", NULL);
	mkpod("c", "n1");
	ck_assert(wait_log(&r, "ADD c;"));
	ck_assert_uint_eq(mk_informer_len(inf), 3);
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", "n1"), 2);
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", ""), 1);

	/* an update moves b in the index */
	cJSON *patch = cJSON_Parse("{\"spec\":{\"nodeName\":\"n1\"}}");
	ck_assert_int_eq(mk_client_patch(cli, "/api/v1/namespaces/default/pods/b",
					 "application/merge-patch+json", patch, NULL, NULL), 0);
	cJSON_Delete(patch);
	ck_assert(wait_log(&r, "UPDATE b;"));
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", "n1"), 3);
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", ""), 0);
	struct mk_object **objs;
	size_t n = mk_informer_by_index(inf, "node", "n1", &objs);
	ck_assert_uint_eq(n, 3);
	mk_object_list_free(objs, n);

	/* unbound pods are deleted at once: a DELETED event */
	mkpod("d", NULL);
	ck_assert_int_eq(mk_client_delete(cli, "/api/v1/namespaces/default/pods/d", NULL, NULL, NULL), 0);
	ck_assert(wait_log(&r, "DELETE d;"));
	ck_assert_ptr_null(mk_informer_get(inf, "default/d"));

	/* stop is prompt although the watch is idle */
	uint64_t t0 = mk_time_mono_ns();
	mk_informer_stop(inf);
	ck_assert_uint_lt((mk_time_mono_ns() - t0) / 1000000, 2000);
	mk_informer_free(inf);
}
END_TEST

START_TEST(test_sync_times_out_without_server)
{
	struct mk_client_config *cfg = mk_client_config_new("http://127.0.0.1:1", TOKEN, NULL);
	struct mk_client *c;
	ck_assert_int_eq(mk_client_new(cfg, &c, NULL), 0);
	mk_client_config_free(cfg);
	struct mk_informer *inf = mk_informer_new(c, "/api/v1/pods");
	ck_assert_int_eq(mk_informer_start(inf, NULL), 0);
	ck_assert_int_eq(mk_informer_wait_synced(inf, 300), 0);
	mk_informer_free(inf);
	mk_client_free(c);
}
END_TEST

/* ---- a TCP relay between the client and the API server, to cut connections ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

struct relay {
	int lfd;
	uint16_t port;
	pthread_t th;
	pthread_mutex_t mu;
	int conns[64][2];
	int n;
	int cut;	/* 1: refuse and close everything */
	int stop;
};

static void *relay_pump(void *p)
{
	int *fds = p, a = fds[0], b = fds[1];
	char buf[16384];
	struct pollfd pf[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	free(fds);
	for (;;) {
		if (poll(pf, 2, 200) < 0)
			break;
		int done = 0;
		for (int i = 0; i < 2 && !done; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(pf[i].fd, buf, sizeof(buf));
			/* MSG_NOSIGNAL: a peer that closed first must not kill the test with SIGPIPE */
			if (n <= 0 || send(pf[1 - i].fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				done = 1;
		}
		if (done || (pf[0].revents | pf[1].revents) & POLLNVAL)
			break;
	}
	shutdown(a, SHUT_RDWR);
	shutdown(b, SHUT_RDWR);
	return NULL;
}

static void *relay_main(void *p)
{
	struct relay *r = p;
	for (;;) {
		int c = accept(r->lfd, NULL, NULL);
		if (c < 0)
			break;
		pthread_mutex_lock(&r->mu);
		int cut = r->cut, stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop) {
			close(c);
			break;
		}
		if (cut) {
			close(c);
			continue;
		}
		int u = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(u, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(c);
			close(u);
			continue;
		}
		pthread_mutex_lock(&r->mu);
		if (r->cut) { /* cut while we connected: relay_cut could not see this one */
			pthread_mutex_unlock(&r->mu);
			close(c);
			close(u);
			continue;
		}
		if (r->n < 64) {
			r->conns[r->n][0] = c;
			r->conns[r->n][1] = u;
			r->n++;
		}
		pthread_mutex_unlock(&r->mu);
		int *fds = malloc(2 * sizeof(int));
		fds[0] = c;
		fds[1] = u;
		pthread_t th;
		pthread_create(&th, NULL, relay_pump, fds);
		pthread_detach(th);
	}
	return NULL;
}

static void relay_start(struct relay *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(sa);
	ck_assert_int_eq(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(r->lfd, 64), 0);
	getsockname(r->lfd, (struct sockaddr *)&sa, &l);
	r->port = ntohs(sa.sin_port);
	pthread_create(&r->th, NULL, relay_main, r);
}

/* Closes every relayed connection; new ones are refused while cut. */
static void relay_cut(struct relay *r, int cut)
{
	pthread_mutex_lock(&r->mu);
	r->cut = cut;
	if (cut) {
		for (int i = 0; i < r->n; i++) {
			shutdown(r->conns[i][0], SHUT_RDWR);
			shutdown(r->conns[i][1], SHUT_RDWR);
		}
		r->n = 0;
	}
	pthread_mutex_unlock(&r->mu);
}

static void relay_stop(struct relay *r)
{
	relay_cut(r, 1);
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_mutex_unlock(&r->mu);
	shutdown(r->lfd, SHUT_RDWR);
	pthread_join(r->th, NULL);
	close(r->lfd);
}

/* The watch breaks while more changes happen than the store keeps: the resumed
 * watch gets 410 Expired, the informer relists, and a pod deleted meanwhile is
 * delivered as a delete. */
START_TEST(test_relist_after_410)
{
	struct rec r = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct relay rl;
	relay_start(&rl);
	char *url = mk_strdup_printf("http://127.0.0.1:%u", rl.port);
	struct mk_client_config *cfg = mk_client_config_new(url, TOKEN, NULL);
	struct mk_client *rc;
	cfg->timeout_ms = 5000;
	ck_assert_int_eq(mk_client_new(cfg, &rc, NULL), 0);
	mk_client_config_free(cfg);
	free(url);

	mkpod("keep", NULL);
	mkpod("gone", NULL);
	struct mk_informer *inf = mk_informer_new(rc, "/api/v1/pods");
	mk_informer_add_handler(inf, on_event, &r);
	ck_assert_int_eq(mk_informer_start(inf, NULL), 0);
	ck_assert_int_eq(mk_informer_wait_synced(inf, 5000), 1);
	ck_assert(wait_log(&r, "ADD gone;"));

	relay_cut(&rl, 1);
	/* behind the informer's back: a delete and more writes than the window keeps */
	ck_assert_int_eq(mk_client_delete(cli, "/api/v1/namespaces/default/pods/gone", NULL, NULL, NULL), 0);
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "x%d", i);
		mkpod(name, NULL);
		char *p = mk_strdup_printf("/api/v1/namespaces/default/pods/%s", name);
		ck_assert_int_eq(mk_client_delete(cli, p, NULL, NULL, NULL), 0);
		free(p);
	}
	relay_cut(&rl, 0);
	mkpod("after", NULL);
	ck_assert(wait_log(&r, "DELETE gone;"));
	ck_assert(wait_log(&r, "ADD after;"));
	struct mk_object *o = mk_informer_get(inf, "default/keep");
	ck_assert_ptr_nonnull(o);
	mk_object_unref(o);
	ck_assert_ptr_null(mk_informer_get(inf, "default/gone"));
	/* intermediate pods, created and deleted while cut, were never seen */
	ck_assert_ptr_null(strstr(r.log, "x1;"));
	mk_informer_free(inf);
	mk_client_free(rc);
	relay_stop(&rl);
}
END_TEST

Suite *informer_suite(void)
{
	Suite *s = suite_create("informer");
	TCase *tc = tcase_create("apiserver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_list_watch_cache);
	suite_add_tcase(s, tc);
	TCase *t3 = tcase_create("relist");
	tcase_add_checked_fixture(t3, setup_small, teardown);
	tcase_set_timeout(t3, 30);
	tcase_add_test(t3, test_relist_after_410);
	suite_add_tcase(s, t3);
	TCase *t2 = tcase_create("offline");
	tcase_add_test(t2, test_sync_times_out_without_server);
	suite_add_tcase(s, t2);
	return s;
}
