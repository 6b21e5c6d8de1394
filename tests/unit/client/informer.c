/* Informer and controller manager against a real in-process API server (plain
 * HTTP on 127.0.0.1, :memory: store): list + watch into the cache, handlers,
 * indexes, prompt stop; the replica set controller creating pods. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

	/* an update (the binding) moves b in the index */
	cJSON *binding = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":"
				     "{\"name\":\"b\"},\"target\":{\"kind\":\"Node\",\"name\":\"n1\"}}");
	ck_assert_int_eq(mk_client_create(cli, "/api/v1/namespaces/default/pods/b/binding", binding,
					  NULL, NULL), 0);
	cJSON_Delete(binding);
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

static void set_label(const char *pod, const char *value)
{
	char *j = mk_strdup_printf("{\"metadata\":{\"labels\":{\"v\":\"%s\"}}}", value);
	cJSON *patch = cJSON_Parse(j);
	char *path = mk_strdup_printf("/api/v1/namespaces/default/pods/%s", pod);
	ck_assert_int_eq(mk_client_patch(cli, path, "application/merge-patch+json", patch, NULL, NULL), 0);
	cJSON_Delete(patch);
	free(path);
	free(j);
}

static const char *label(const struct mk_object *o)
{
	return mk_json_get_string(o->json, "metadata.labels.v");
}

/* handler that keeps a ref to every old and new object it is given */
struct kept {
	pthread_mutex_t mu;
	struct mk_object *objs[64];
	int n;
};

static void on_keep(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct kept *k = ud;
	pthread_mutex_lock(&k->mu);
	if (k->n < 62) {
		k->objs[k->n++] = mk_object_ref((struct mk_object *)old);
		k->objs[k->n++] = mk_object_ref((struct mk_object *)new);
	}
	pthread_mutex_unlock(&k->mu);
}

/* The cache holds text, and parsed trees for at most max_trees objects: without
 * kept trees every reader gets its own fresh tree (refs 1), which the reader may
 * even modify without touching the cache or other readers; with them readers
 * share the kept one. Either stays as it was when the cache moves on (update,
 * delete). Handlers see the
 * old object of an update or delete as it was cached, and may keep refs. Index
 * lookups follow updates (a value moved, a value kept, several values per
 * object) and deletes. */
static void objects_case(size_t max_trees)
{
	struct rec r = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct kept k = { .mu = PTHREAD_MUTEX_INITIALIZER };
	mkpod("a", NULL); /* unbound: deleted at once */
	mkpod("b", "n2");
	set_label("a", "1");
	struct mk_informer *inf = mk_informer_new(cli, "/api/v1/pods");
	mk_informer_strip_managed_fields(inf);
	mk_informer_set_max_trees(inf, max_trees);
	mk_informer_add_index(inf, "node", mk_index_pod_node);
	mk_informer_add_index(inf, "ns", mk_index_namespace);
	mk_informer_add_index(inf, "owner", mk_index_owner_uid);
	/* on_keep first: when on_event logs a change, on_keep has seen it */
	mk_informer_add_handler(inf, on_keep, &k);
	mk_informer_add_handler(inf, on_event, &r);
	ck_assert_int_eq(mk_informer_start(inf, NULL), 0);
	ck_assert_int_eq(mk_informer_wait_synced(inf, 5000), 1);
	ck_assert(wait_log(&r, "ADD b;"));

	struct mk_object *a1 = mk_informer_get(inf, "default/a");
	struct mk_object *a2 = mk_informer_get(inf, "default/a");
	ck_assert_ptr_nonnull(a1);
	ck_assert_ptr_nonnull(a2);
	if (max_trees) {
		/* the kept tree: one object, shared by refs */
		ck_assert_ptr_eq(a1, a2);
		ck_assert_int_ge(a1->refs, 3);
	} else {
		ck_assert_ptr_ne(a1, a2);
		ck_assert_ptr_ne(a1->json, a2->json);
		ck_assert_int_eq(a1->refs, 1);
	}
	ck_assert_str_eq(a1->key, "default/a");
	ck_assert(cJSON_Compare(a1->json, a2->json, 1));
	ck_assert_str_eq(label(a1), "1");
	ck_assert_ptr_null(mk_json_get(a1->json, "metadata.managedFields"));
	if (!max_trees) {
		/* parsed per call: a reader's changes stay its own */
		cJSON_ReplaceItemInObject(cJSON_GetObjectItem(a2->json, "metadata"), "labels",
					  cJSON_Parse("{\"v\":\"mine\"}"));
		struct mk_object *a3 = mk_informer_get(inf, "default/a");
		ck_assert_str_eq(label(a3), "1");
		mk_object_unref(a3);
	}
	mk_object_unref(a2);

	/* an update: the held snapshot is unchanged, the cache has the new one */
	set_label("a", "2");
	ck_assert(wait_log(&r, "UPDATE a;"));
	ck_assert_str_eq(label(a1), "1");
	a2 = mk_informer_get(inf, "default/a");
	ck_assert_str_eq(label(a2), "2");
	ck_assert_str_ne(mk_json_get_string(a1->json, "metadata.resourceVersion"),
			 mk_json_get_string(a2->json, "metadata.resourceVersion"));
	mk_object_unref(a2);
	/* the handler's old object was the cached one, label 1; new label 2 */
	pthread_mutex_lock(&k.mu);
	int found = 0;
	for (int i = 0; i + 1 < k.n; i += 2)
		if (k.objs[i] && k.objs[i + 1] && !strcmp(k.objs[i + 1]->key, "default/a") &&
		    !strcmp(label(k.objs[i]) ?: "", "1") && !strcmp(label(k.objs[i + 1]) ?: "", "2"))
			found = 1;
	pthread_mutex_unlock(&k.mu);
	ck_assert(found);

	/* list and index lookups give fresh, correct objects */
	struct mk_object **objs;
	size_t n = mk_informer_list(inf, &objs);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (!max_trees)
			ck_assert_int_eq(objs[i]->refs, 1);
		ck_assert_str_eq(objs[i]->key, !strcmp(mk_json_get_string(objs[i]->json, "metadata.name"), "a")
							? "default/a" : "default/b");
	}
	mk_object_list_free(objs, n);
	n = mk_informer_by_index(inf, "node", "n2", &objs);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(objs[0]->key, "default/b");
	mk_object_list_free(objs, n);
	ck_assert_uint_eq(mk_informer_index_count(inf, "ns", "default"), 2);

	/* a delete: lookups no longer find it; snapshots and the handler's refs live on */
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", ""), 1);
	ck_assert_int_eq(mk_client_delete(cli, "/api/v1/namespaces/default/pods/a", NULL, NULL, NULL), 0);
	ck_assert(wait_log(&r, "DELETE a;"));
	ck_assert_ptr_null(mk_informer_get(inf, "default/a"));
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", ""), 0);
	ck_assert_uint_eq(mk_informer_by_index(inf, "node", "", &objs), 0);
	ck_assert_ptr_null(objs);
	ck_assert_uint_eq(mk_informer_index_count(inf, "ns", "default"), 1);
	ck_assert_str_eq(label(a1), "1");
	mk_object_unref(a1);

	/* an object with several values in one index (two owners) */
	create("/api/v1/namespaces/default/pods",
	       "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"o\",\"ownerReferences\":["
	       "{\"apiVersion\":\"v1\",\"kind\":\"X\",\"name\":\"x\",\"uid\":\"u1\"},"
	       "{\"apiVersion\":\"v1\",\"kind\":\"Y\",\"name\":\"y\",\"uid\":\"u2\"}]},"
	       "\"spec\":{\"nodeName\":\"n2\",\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	ck_assert(wait_log(&r, "ADD o;"));
	ck_assert_uint_eq(mk_informer_index_count(inf, "owner", "u1"), 1);
	ck_assert_uint_eq(mk_informer_index_count(inf, "owner", "u2"), 1);
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", "n2"), 2);
	/* an update that keeps its index values: lookups still find it, with the new text */
	set_label("o", "3");
	ck_assert(wait_log(&r, "UPDATE o;"));
	n = mk_informer_by_index(inf, "owner", "u2", &objs);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(label(objs[0]), "3");
	mk_object_list_free(objs, n);
	n = mk_informer_by_index(inf, "node", "n2", &objs);
	ck_assert_uint_eq(n, 2);
	mk_object_list_free(objs, n);

	/* assume: a newer object the caller wrote replaces the cached one; an older does not */
	struct mk_object *b = mk_informer_get(inf, "default/b");
	cJSON *nb = cJSON_Duplicate(b->json, 1);
	char rv[32];
	snprintf(rv, sizeof(rv), "%llu",
		 strtoull(mk_json_get_string(b->json, "metadata.resourceVersion"), NULL, 10) + 1000000);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(nb, "metadata"), "resourceVersion", cJSON_CreateString(rv));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(nb, "spec"), "nodeName", cJSON_CreateString("n3"));
	mk_informer_assume(inf, nb);
	struct mk_object *b2 = mk_informer_get(inf, "default/b");
	ck_assert_str_eq(mk_json_get_string(b2->json, "spec.nodeName"), "n3");
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", "n3"), 1);
	ck_assert_uint_eq(mk_informer_index_count(inf, "node", "n2"), 1);
	mk_informer_assume(inf, b->json); /* older: ignored */
	mk_object_unref(b2);
	b2 = mk_informer_get(inf, "default/b");
	ck_assert_str_eq(mk_json_get_string(b2->json, "spec.nodeName"), "n3");
	mk_object_unref(b2);
	mk_object_unref(b);
	cJSON_Delete(nb);

	/* n2's set went back to its one key (kept without a set): it is o's, and
	 * follows o's updates */
	n = mk_informer_by_index(inf, "node", "n2", &objs);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(objs[0]->key, "default/o");
	mk_object_list_free(objs, n);
	set_label("o", "4");
	for (int i = 0; i < 250; i++) {
		struct mk_object *o4 = mk_informer_get(inf, "default/o");
		bool seen = o4 && !strcmp(label(o4) ?: "", "4");
		mk_object_unref(o4);
		if (seen)
			break;
		usleep(20 * 1000);
	}
	n = mk_informer_by_index(inf, "node", "n2", &objs);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(label(objs[0]), "4");
	mk_object_list_free(objs, n);
	n = mk_informer_by_index(inf, "owner", "u1", &objs);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(label(objs[0]), "4");
	mk_object_list_free(objs, n);

	mk_informer_free(inf);
	for (int i = 0; i < k.n; i++)
		mk_object_unref(k.objs[i]);
}

START_TEST(test_objects_parsed)
{
	objects_case(0);
}
END_TEST

START_TEST(test_objects_kept)
{
	objects_case(512);
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
	tcase_add_test(tc, test_objects_parsed);
	tcase_add_test(tc, test_objects_kept);
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
