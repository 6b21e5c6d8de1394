/* Leader election (pkg/controller/leader.c) against a real API server on an
 * in-memory store, with a fake monotonic clock: a first candidate creates and then
 * renews the Lease; a second does not take a live one; it takes it once it has not
 * changed for leaseDurationSeconds (leaseTransitions + 1), and the first then sees
 * it lost; a released Lease (holderIdentity "") is taken at once; the runner calls
 * started/stopped as leadership comes and goes. */
#include <check.h>
#include <string.h>
#include <unistd.h>
#include "fixture.h"

#define LEASE "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager"

static uint64_t fake_ms = 1000000;
static uint64_t fake_clock(void)
{
	return fake_ms;
}

static struct mk_leader *candidate(const char *id)
{
	struct mk_leader_options o = { .ns = "kube-system", .name = "kube-controller-manager",
				       .identity = id, .clock_ms = fake_clock };
	struct mk_leader *l = NULL;
	ck_assert_int_eq(mk_leader_new(fx_cli, &o, &l, NULL), 0);
	return l;
}

static int try(struct mk_leader *l)
{
	struct mk_error *err = NULL;
	int r = mk_leader_try(l, &err);
	if (r < 0)
		ck_abort_msg("try: %s", err->msg);
	return r;
}

static cJSON *spec(void)
{
	cJSON *l = fx_get(LEASE);
	ck_assert_ptr_nonnull(l);
	cJSON *s = cJSON_DetachItemFromObject(l, "spec");
	cJSON_Delete(l);
	return s;
}

static const char *str(const cJSON *s, const char *k)
{
	const char *v = mk_json_get_string(s, k);
	return v ? v : "";
}

/* the Lease's holderIdentity now (a static copy) */
static const char *holder_now(void)
{
	static char buf[128];
	cJSON *s = spec();
	snprintf(buf, sizeof(buf), "%s", str(s, "holderIdentity"));
	cJSON_Delete(s);
	return buf;
}

static int num(const cJSON *s, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(s, k);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

START_TEST(test_acquire_renew_expire_release)
{
	struct mk_leader *a = candidate("host-a_1"), *b = candidate("host-b_2");

	/* acquire: the Lease is created with our identity */
	ck_assert_int_eq(try(a), 1);
	ck_assert(mk_leader_is_leader(a));
	cJSON *s1 = spec();
	ck_assert_str_eq(str(s1, "holderIdentity"), "host-a_1");
	ck_assert_int_eq(num(s1, "leaseDurationSeconds"), 15);
	ck_assert_int_eq(num(s1, "leaseTransitions"), 0);
	/* MicroTime: 2006-01-02T15:04:05.000000Z */
	ck_assert_int_eq(strlen(str(s1, "renewTime")), 27);
	ck_assert_str_eq(str(s1, "acquireTime"), str(s1, "renewTime"));

	/* a live lease is not taken */
	ck_assert_int_eq(try(b), 0);
	ck_assert(!mk_leader_is_leader(b));

	/* renew: renewTime moves, acquireTime and transitions stay */
	usleep(2000);
	fake_ms += 2000;
	ck_assert_int_eq(try(a), 1);
	cJSON *s2 = spec();
	ck_assert_str_eq(str(s2, "holderIdentity"), "host-a_1");
	ck_assert_str_eq(str(s2, "acquireTime"), str(s1, "acquireTime"));
	ck_assert_str_ne(str(s2, "renewTime"), str(s1, "renewTime"));
	ck_assert_int_eq(num(s2, "leaseTransitions"), 0);

	/* b sees the renewal change the record: it counts 15 s from then, by its clock */
	fake_ms += 14000;
	ck_assert_int_eq(try(b), 0);
	fake_ms += 14000;
	ck_assert_int_eq(try(b), 0); /* 14 s without a change: still live */
	fake_ms += 1500;
	ck_assert_int_eq(try(b), 1); /* 15.5 s: expired, b takes it */
	ck_assert(mk_leader_is_leader(b));
	cJSON *s3 = spec();
	ck_assert_str_eq(str(s3, "holderIdentity"), "host-b_2");
	ck_assert_int_eq(num(s3, "leaseTransitions"), 1);
	ck_assert_str_ne(str(s3, "acquireTime"), str(s1, "acquireTime"));

	/* a, back, sees another live holder: no longer leader, and does not take it */
	ck_assert_int_eq(try(a), 0);
	ck_assert(!mk_leader_is_leader(a));
	ck_assert_str_eq(holder_now(), "host-b_2");

	/* release: holder cleared, so a takes it at once (no expiry wait) */
	ck_assert_int_eq(mk_leader_release(b, NULL), 0);
	cJSON *s4 = spec();
	ck_assert_str_eq(str(s4, "holderIdentity"), "");
	ck_assert_int_eq(num(s4, "leaseTransitions"), 1);
	ck_assert(!mk_leader_is_leader(b));
	ck_assert_int_eq(try(a), 1);
	cJSON *s5 = spec();
	ck_assert_str_eq(str(s5, "holderIdentity"), "host-a_1");
	ck_assert_int_eq(num(s5, "leaseTransitions"), 2);

	/* releasing a lease we do not hold changes nothing */
	ck_assert_int_eq(mk_leader_release(b, NULL), 0);
	ck_assert_str_eq(holder_now(), "host-a_1");

	cJSON_Delete(s1);
	cJSON_Delete(s2);
	cJSON_Delete(s3);
	cJSON_Delete(s4);
	cJSON_Delete(s5);
	mk_leader_free(b);
	mk_leader_free(a);
}
END_TEST

/* ---- the threads: callbacks follow leadership ---- */

struct calls {
	int started, stopped;
};

static int on_start(void *ctx)
{
	__atomic_add_fetch(&((struct calls *)ctx)->started, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void on_stop(void *ctx)
{
	__atomic_add_fetch(&((struct calls *)ctx)->stopped, 1, __ATOMIC_SEQ_CST);
}

static bool wait_count(int *p, int want)
{
	for (int i = 0; i < 500; i++) {
		if (__atomic_load_n(p, __ATOMIC_SEQ_CST) == want)
			return true;
		usleep(10000);
	}
	return false;
}

static bool holder_is(const cJSON *lease, const void *want)
{
	const char *h = mk_json_get_string(lease, "spec.holderIdentity");
	return h && !strcmp(h, want);
}

START_TEST(test_run_callbacks)
{
	struct calls calls = { 0 };
	struct mk_leader_options o = { .ns = "kube-system", .name = "kube-controller-manager",
				       .identity = "me_1", .retry_period_ms = 50,
				       .lease_duration_s = 1, .started_leading = on_start,
				       .stopped_leading = on_stop, .ctx = &calls };
	struct mk_leader *l = NULL;
	ck_assert_int_eq(mk_leader_new(fx_cli, &o, &l, NULL), 0);
	ck_assert_int_eq(mk_leader_run(l, NULL), 0);
	ck_assert_msg(wait_count(&calls.started, 1), "started_leading not called");
	cJSON_Delete(fx_wait(LEASE, holder_is, "me_1", "the Lease held by me_1"));

	/* another identity takes the Lease with a fresh record: we stop leading */
	fx_patch(LEASE, "{\"spec\":{\"holderIdentity\":\"other_2\",\"leaseDurationSeconds\":1}}");
	ck_assert_msg(wait_count(&calls.stopped, 1), "stopped_leading not called");
	ck_assert_int_eq(calls.started, 1);
	/* nobody renews other_2's record: after 1 s it is ours again */
	ck_assert_msg(wait_count(&calls.started, 2), "not leading again after expiry");
	cJSON *lease = fx_wait(LEASE, holder_is, "me_1", "the Lease taken back");
	ck_assert_int_eq(num(cJSON_GetObjectItem(lease, "spec"), "leaseTransitions"), 1);
	cJSON_Delete(lease);

	/* free: stopped, then released */
	mk_leader_free(l);
	ck_assert_int_eq(calls.stopped, 2);
	ck_assert_str_eq(holder_now(), "");
}
END_TEST

/* part of the manager suite (manager.c): the manager runs under this election */
TCase *leader_tcase(void)
{
	TCase *tc = tcase_create("leader");
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_acquire_renew_expire_release);
	tcase_add_test(tc, test_run_callbacks);
	return tc;
}
