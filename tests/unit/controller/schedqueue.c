/* The scheduler's queue (priority, arrival, back-off, the unschedulable set) on a
 * clock the test moves, and its cache of per-node totals (pods bound, assumed,
 * deleted, terminated) read through the resource filter. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "../../../pkg/controller/internal.h"

static uint64_t fake_now;

static uint64_t fake_clock(void *ud)
{
	return fake_now;
}

static struct sched_queue *queue(void)
{
	struct sched_queue *q = sched_queue_new();
	fake_now = 1000000;
	sched_queue_set_clock(q, fake_clock, NULL);
	return q;
}

/* The next key without waiting (owned), or NULL; *cycle set. */
static char *pop(struct sched_queue *q, uint64_t *cycle)
{
	char *k = NULL;
	uint64_t c = 0;
	int r = sched_queue_pop(q, 0, &k, &c);
	ck_assert_int_ge(r, 0);
	if (cycle)
		*cycle = c;
	return r == 1 ? k : NULL;
}

static void expect_pop(struct sched_queue *q, const char *want, uint64_t *cycle)
{
	char *k = pop(q, cycle);
	if (!want) {
		ck_assert_msg(k == NULL, "popped '%s', expected nothing", k);
		return;
	}
	ck_assert_msg(k != NULL, "nothing popped, expected '%s'", want);
	ck_assert_str_eq(k, want);
	free(k);
}

static void expect_counts(struct sched_queue *q, size_t a, size_t b, size_t u)
{
	size_t na, nb, nu;
	sched_queue_counts(q, &na, &nb, &nu);
	ck_assert_uint_eq(na, a);
	ck_assert_uint_eq(nb, b);
	ck_assert_uint_eq(nu, u);
}

START_TEST(test_queue_priority_then_fifo)
{
	struct sched_queue *q = queue();
	sched_queue_add(q, "ns/a", 0);
	sched_queue_add(q, "ns/b", 10);
	sched_queue_add(q, "ns/c", 0);
	sched_queue_add(q, "ns/d", 10);
	sched_queue_add(q, "ns/e", -5);
	sched_queue_add(q, "ns/f", 0);
	/* an update raising a queued pod's priority moves it up, keeping its arrival */
	sched_queue_add(q, "ns/f", 20);
	sched_queue_add(q, "ns/a", 0); /* a second add of a queued pod changes nothing */
	expect_counts(q, 6, 0, 0);
	const char *order[] = {"ns/f", "ns/b", "ns/d", "ns/a", "ns/c", "ns/e"};
	for (size_t i = 0; i < 6; i++) {
		uint64_t cycle;
		expect_pop(q, order[i], &cycle);
		sched_queue_done(q, order[i], cycle, SCHED_DONE);
	}
	expect_pop(q, NULL, NULL);
	expect_counts(q, 0, 0, 0);
	sched_queue_free(q);
}
END_TEST

START_TEST(test_queue_many_in_order)
{
	/* a heap, not a list: 2,000 pods of 7 priorities come out sorted, FIFO within one */
	struct sched_queue *q = queue();
	char key[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "ns/p%04d", i);
		sched_queue_add(q, key, (i * 7919) % 7);
	}
	int last_prio = 1000, last_i = -1;
	for (int n = 0; n < 2000; n++) {
		uint64_t cycle;
		char *k = pop(q, &cycle);
		ck_assert_ptr_nonnull(k);
		int i = atoi(k + 4), prio = (i * 7919) % 7;
		ck_assert_int_le(prio, last_prio);
		if (prio == last_prio)
			ck_assert_int_gt(i, last_i);
		last_prio = prio;
		last_i = i;
		sched_queue_done(q, k, cycle, SCHED_DONE);
		free(k);
	}
	expect_pop(q, NULL, NULL);
	sched_queue_free(q);
}
END_TEST

START_TEST(test_queue_backoff_doubles_to_ten_seconds)
{
	struct sched_queue *q = queue();
	uint64_t cycle;
	sched_queue_add(q, "ns/a", 0);
	/* errors: back-offs of 1, 2, 4, 8, 10, 10 s */
	const uint64_t want[] = {1000, 2000, 4000, 8000, 10000, 10000};
	for (size_t i = 0; i < MK_ARRAY_SIZE(want); i++) {
		expect_pop(q, "ns/a", &cycle);
		sched_queue_done(q, "ns/a", cycle, SCHED_ERROR);
		expect_counts(q, 0, 1, 0);
		fake_now += want[i] - 1;
		expect_pop(q, NULL, NULL);
		fake_now += 1;
	}
	expect_pop(q, "ns/a", &cycle);
	/* a success forgets the attempts: the next failure waits 1 s again */
	sched_queue_done(q, "ns/a", cycle, SCHED_DONE);
	sched_queue_add(q, "ns/a", 0);
	expect_pop(q, "ns/a", &cycle);
	sched_queue_done(q, "ns/a", cycle, SCHED_ERROR);
	fake_now += 999;
	expect_pop(q, NULL, NULL);
	fake_now += 1;
	expect_pop(q, "ns/a", &cycle);
	sched_queue_free(q);
}
END_TEST

START_TEST(test_queue_unschedulable_moved_back_on_event)
{
	struct sched_queue *q = queue();
	uint64_t ca, cb;
	sched_queue_add(q, "ns/a", 0);
	sched_queue_add(q, "ns/b", 0);
	expect_pop(q, "ns/a", &ca);
	expect_pop(q, "ns/b", &cb);
	sched_queue_done(q, "ns/a", ca, SCHED_UNSCHEDULABLE);
	sched_queue_done(q, "ns/b", cb, SCHED_UNSCHEDULABLE);
	expect_counts(q, 0, 0, 2);
	/* no event: they stay, however long the back-off was */
	fake_now += 60000;
	expect_pop(q, NULL, NULL);
	expect_counts(q, 0, 0, 2);
	/* a node is added: both go back to activeQ (their back-off is over) */
	sched_queue_move_all(q);
	expect_counts(q, 2, 0, 0);
	expect_pop(q, "ns/a", &ca);
	expect_pop(q, "ns/b", &cb);
	sched_queue_done(q, "ns/a", ca, SCHED_UNSCHEDULABLE);
	sched_queue_done(q, "ns/b", cb, SCHED_DONE);
	/* an event during a's back-off (2 s now): to backoffQ, active when it ends */
	sched_queue_move_all(q);
	expect_counts(q, 0, 1, 0);
	expect_pop(q, NULL, NULL);
	fake_now += 2000;
	expect_pop(q, "ns/a", &ca);
	sched_queue_free(q);
}
END_TEST

START_TEST(test_queue_event_while_in_flight)
{
	struct sched_queue *q = queue();
	uint64_t c;
	/* a node added while the pod is tried: its failure must not park it */
	sched_queue_add(q, "ns/a", 0);
	expect_pop(q, "ns/a", &c);
	sched_queue_move_all(q);
	sched_queue_done(q, "ns/a", c, SCHED_UNSCHEDULABLE);
	expect_counts(q, 0, 1, 0);
	fake_now += 1000;
	expect_pop(q, "ns/a", &c);
	/* no event this time: parked */
	sched_queue_done(q, "ns/a", c, SCHED_UNSCHEDULABLE);
	expect_counts(q, 0, 0, 1);
	/* an update of the parked pod brings it back (after its back-off) */
	sched_queue_add(q, "ns/a", 0);
	expect_counts(q, 0, 1, 0);
	fake_now += 2000;
	expect_pop(q, "ns/a", &c);
	/* an update while in flight: not parked either */
	sched_queue_add(q, "ns/a", 0);
	sched_queue_done(q, "ns/a", c, SCHED_UNSCHEDULABLE);
	expect_counts(q, 0, 1, 0);
	/* deleted while in flight: gone after done */
	fake_now += 10000;
	expect_pop(q, "ns/a", &c);
	sched_queue_delete(q, "ns/a");
	sched_queue_done(q, "ns/a", c, SCHED_UNSCHEDULABLE);
	expect_counts(q, 0, 0, 0);
	expect_pop(q, NULL, NULL);
	sched_queue_free(q);
}
END_TEST

START_TEST(test_queue_unschedulable_flushed_after_five_minutes)
{
	struct sched_queue *q = queue();
	uint64_t c;
	sched_queue_add(q, "ns/a", 0);
	sched_queue_add(q, "ns/gone", 0);
	expect_pop(q, "ns/a", &c);
	sched_queue_done(q, "ns/a", c, SCHED_UNSCHEDULABLE);
	sched_queue_delete(q, "ns/gone");
	fake_now += 5 * 60 * 1000 - 1;
	expect_pop(q, NULL, NULL);
	fake_now += 1000;
	expect_pop(q, "ns/a", &c);
	sched_queue_free(q);
}
END_TEST

/* Pods parked at different times come back each when its own 5 minutes are up,
 * in that order; deletes and updates out of the middle of unschedulablePods leave
 * the rest in order. */
START_TEST(test_queue_unschedulable_flushed_in_order)
{
	struct sched_queue *q = queue();
	uint64_t c;
	const char *keys[] = { "ns/a", "ns/b", "ns/c", "ns/d", "ns/e" };
	for (int i = 0; i < 5; i++) {
		sched_queue_add(q, keys[i], 0);
		expect_pop(q, keys[i], &c);
		sched_queue_done(q, keys[i], c, SCHED_UNSCHEDULABLE);
		fake_now += 10000; /* parked 10 s apart */
	}
	expect_counts(q, 0, 0, 5);
	sched_queue_delete(q, "ns/b");	/* gone out of the middle */
	sched_queue_add(q, "ns/d", 0);	/* updated: back (its back-off is over) */
	expect_counts(q, 1, 0, 3);
	expect_pop(q, "ns/d", &c);
	sched_queue_done(q, "ns/d", c, SCHED_DONE);
	/* a was parked at t0: due at t0 + 5 min, c (t0 + 20 s) not yet */
	fake_now = 1000000 + 5 * 60 * 1000;
	expect_pop(q, "ns/a", &c);
	sched_queue_done(q, "ns/a", c, SCHED_DONE);
	expect_pop(q, NULL, NULL);
	expect_counts(q, 0, 0, 2);
	fake_now += 20000;
	expect_pop(q, "ns/c", &c);
	sched_queue_done(q, "ns/c", c, SCHED_DONE);
	expect_pop(q, NULL, NULL);
	fake_now += 20000;
	expect_pop(q, "ns/e", &c);
	expect_counts(q, 0, 0, 0);
	sched_queue_free(q);
}
END_TEST

/* Many parked pods: one move event brings every one of them back, once each. */
START_TEST(test_queue_move_all_many)
{
	struct sched_queue *q = queue();
	uint64_t c;
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "ns/p%d", i);
		sched_queue_add(q, key, 0);
		expect_pop(q, key, &c);
		sched_queue_done(q, key, c, SCHED_UNSCHEDULABLE);
	}
	expect_counts(q, 0, 0, 1000);
	fake_now += 2000;
	sched_queue_move_all(q);
	expect_counts(q, 1000, 0, 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "ns/p%d", i);
		expect_pop(q, key, &c);
		sched_queue_done(q, key, c, i % 2 ? SCHED_DONE : SCHED_UNSCHEDULABLE);
	}
	expect_counts(q, 0, 0, 500);
	sched_queue_move_all(q); /* within their 2 s back-off now: to backoffQ */
	expect_counts(q, 0, 500, 0);
	sched_queue_free(q);
}
END_TEST

START_TEST(test_queue_bind_failure_backs_off)
{
	struct sched_queue *q = queue();
	uint64_t c;
	sched_queue_add(q, "ns/a", 0);
	expect_pop(q, "ns/a", &c);
	sched_queue_done(q, "ns/a", c, SCHED_DONE); /* assumed, handed to a binder */
	sched_queue_add_failed(q, "ns/a", 0);	    /* the bind failed */
	expect_counts(q, 0, 1, 0);
	expect_pop(q, NULL, NULL);
	fake_now += 1000;
	expect_pop(q, "ns/a", &c);
	sched_queue_free(q);
}
END_TEST

/* ---- the cache ------------------------------------------------------------------------- */

static struct mk_object *obj(const char *key, const char *json)
{
	struct mk_object *o = mk_malloc0(sizeof(*o));
	o->json = cJSON_Parse(json);
	ck_assert_ptr_nonnull(o->json);
	o->key = mk_strdup(key);
	o->refs = 1;
	return o;
}

static struct mk_object *node_obj(const char *name, const char *alloc)
{
	char *j = mk_strdup_printf("{\"metadata\":{\"name\":\"%s\"},\"status\":{\"allocatable\":%s,"
				   "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
				   name, alloc);
	struct mk_object *o = obj(name, j);
	free(j);
	return o;
}

/* A pod (owned) on node ("" unbound) requesting cpu, in phase, of owner uid (or NULL). */
static cJSON *pod_json(const char *node, const char *cpu, const char *phase, const char *owner)
{
	char own[200] = "";
	if (owner)
		snprintf(own, sizeof(own),
			 ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
			 "\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"%s\",\"controller\":true}]",
			 owner);
	char *j =
	    mk_strdup_printf("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\"%s},\"spec\":{"
			     "\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\",\"image\":\"x\","
			     "\"resources\":{\"requests\":{\"cpu\":\"%s\",\"memory\":\"1Mi\"}}}]},"
			     "\"status\":{\"phase\":\"%s\"}}",
			     own, node, cpu, phase);
	cJSON *p = cJSON_Parse(j);
	free(j);
	ck_assert_ptr_nonnull(p);
	return p;
}

static const struct sched_node *cached(struct sched_cache *c, const char *name)
{
	struct sched_node *const *v;
	size_t n = sched_cache_nodes(c, &v);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i]->name, name))
			return v[i];
	return NULL;
}

/* How many reasons node name gives for a pod asking cpu millicores. */
static int fit(struct sched_cache *c, const char *name, int64_t cpu)
{
	const char *why[3];
	sched_cache_lock(c);
	const struct sched_node *n = cached(c, name);
	ck_assert_ptr_nonnull(n);
	int r = sched_node_fit(n, cpu, 1 << 20, why);
	sched_cache_unlock(c);
	return r;
}

static long npods(struct sched_cache *c, const char *name)
{
	sched_cache_lock(c);
	const struct sched_node *n = cached(c, name);
	long r = n ? n->npods : -1;
	sched_cache_unlock(c);
	return r;
}

START_TEST(test_cache_totals_follow_pods)
{
	struct sched_cache *c = sched_cache_new();
	struct mk_object *n1 = node_obj("n1", "{\"cpu\":\"1\",\"memory\":\"1Gi\",\"pods\":\"2\"}");
	sched_cache_node_update(c, NULL, n1);
	ck_assert_int_eq(fit(c, "n1", 600), 0);

	cJSON *p1 = pod_json("n1", "500m", "Running", "rs-1");
	cJSON *p2 = pod_json("n1", "500m", "Running", "rs-1");
	sched_cache_pod_update(c, "ns/p1", NULL, p1, true);
	sched_cache_pod_update(c, "ns/p2", NULL, p2, true);
	ck_assert_int_eq(npods(c, "n1"), 2);
	ck_assert_int_eq(sched_cache_owner_count(c, "rs-1", "n1"), 2);
	ck_assert_int_eq(fit(c, "n1", 100), 2); /* too many pods, insufficient cpu */

	/* a pod deleted frees its node's capacity */
	sched_cache_pod_update(c, "ns/p1", p1, NULL, true);
	ck_assert_int_eq(npods(c, "n1"), 1);
	ck_assert_int_eq(fit(c, "n1", 500), 0);
	ck_assert_int_eq(fit(c, "n1", 501), 1);
	ck_assert_int_eq(sched_cache_owner_count(c, "rs-1", "n1"), 1);

	/* a pod that terminates frees it too; an update that changes nothing does not */
	cJSON *p2b = pod_json("n1", "500m", "Running", "rs-1");
	sched_cache_pod_update(c, "ns/p2", p2, p2b, true);
	ck_assert_int_eq(npods(c, "n1"), 1);
	cJSON *p2c = pod_json("n1", "500m", "Succeeded", "rs-1");
	sched_cache_pod_update(c, "ns/p2", p2b, p2c, true);
	ck_assert_int_eq(npods(c, "n1"), 0);
	ck_assert_int_eq(fit(c, "n1", 1000), 0);
	ck_assert_int_eq(sched_cache_owner_count(c, "rs-1", "n1"), 0);

	cJSON_Delete(p1);
	cJSON_Delete(p2);
	cJSON_Delete(p2b);
	cJSON_Delete(p2c);
	mk_object_unref(n1);
	sched_cache_free(c);
}
END_TEST

START_TEST(test_cache_assume_counts_once)
{
	struct sched_cache *c = sched_cache_new();
	struct mk_object *n1 = node_obj("n1", "{\"cpu\":\"1\",\"pods\":\"10\"}");
	sched_cache_node_update(c, NULL, n1);
	cJSON *pending = pod_json("", "400m", "Pending", "rs-2");
	sched_cache_pod_update(c, "ns/a", NULL, pending, false);
	ck_assert_int_eq(npods(c, "n1"), 0);
	/* assumed: counted before the informer shows the bind */
	sched_cache_assume(c, "ns/a", pending, "n1");
	char *an = sched_cache_assumed_node(c, "ns/a");
	ck_assert_str_eq(an, "n1");
	free(an);
	ck_assert_int_eq(npods(c, "n1"), 1);
	ck_assert_int_eq(fit(c, "n1", 700), 1);
	ck_assert_int_eq(sched_cache_owner_count(c, "rs-2", "n1"), 1);
	/* the bind seen: the assumption ends, the pod is counted once */
	cJSON *bound = pod_json("n1", "400m", "Pending", "rs-2");
	sched_cache_pod_update(c, "ns/a", pending, bound, true);
	ck_assert_ptr_null(sched_cache_assumed_node(c, "ns/a"));
	ck_assert_int_eq(npods(c, "n1"), 1);
	ck_assert_int_eq(sched_cache_owner_count(c, "rs-2", "n1"), 1);
	/* a failed bind forgets: nothing left */
	sched_cache_assume(c, "ns/b", pending, "n1");
	ck_assert_int_eq(npods(c, "n1"), 2);
	sched_cache_forget(c, "ns/b");
	ck_assert_int_eq(npods(c, "n1"), 1);
	ck_assert_int_eq(fit(c, "n1", 600), 0);

	/* a node deleted leaves the decision loop; its pods stay counted if it returns */
	sched_cache_node_update(c, n1, NULL);
	sched_cache_lock(c);
	ck_assert_ptr_null(cached(c, "n1"));
	sched_cache_unlock(c);
	sched_cache_node_update(c, NULL, n1);
	ck_assert_int_eq(npods(c, "n1"), 1);

	cJSON_Delete(pending);
	cJSON_Delete(bound);
	mk_object_unref(n1);
	sched_cache_free(c);
}
END_TEST

Suite *schedqueue_suite(void)
{
	Suite *s = suite_create("schedqueue");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_queue_priority_then_fifo);
	tcase_add_test(tc, test_queue_many_in_order);
	tcase_add_test(tc, test_queue_backoff_doubles_to_ten_seconds);
	tcase_add_test(tc, test_queue_unschedulable_moved_back_on_event);
	tcase_add_test(tc, test_queue_event_while_in_flight);
	tcase_add_test(tc, test_queue_unschedulable_flushed_after_five_minutes);
	tcase_add_test(tc, test_queue_bind_failure_backs_off);
	tcase_add_test(tc, test_queue_unschedulable_flushed_in_order);
	tcase_add_test(tc, test_queue_move_all_many);
	tcase_add_test(tc, test_cache_totals_follow_pods);
	tcase_add_test(tc, test_cache_assume_counts_once);
	suite_add_tcase(s, tc);
	return s;
}
