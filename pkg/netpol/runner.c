/* The runner: informers on NetworkPolicies, Pods and Namespaces -> one work
 * queue key -> the worker rebuilds the model and applies it (an element diff
 * unless the policies changed); every resync_ms it checks that the tables are
 * still there (`nft flush ruleset` by someone) and reprograms them if not. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "minik8s/netpol.h"

#define KEY_SYNC "sync"
#define KEY_CHECK "check"
#define SYNC_TIMEOUT_MS 30000

struct mk_netpol_runner {
	struct mk_netpol *np;
	char *node;
	struct mk_informer *pol, *pods, *ns;
	struct mk_workqueue *q;
	pthread_t worker, ticker;
	bool worker_started, ticker_started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stopping;
	unsigned resync_ms;
	unsigned applies; /* atomic */
};

static void on_event(const struct mk_object *old_obj, const struct mk_object *new_obj, void *userdata)
{
	struct mk_netpol_runner *r = userdata;
	mk_workqueue_add(r->q, KEY_SYNC);
}

static const cJSON **jsons(struct mk_object **objs, size_t n)
{
	const cJSON **j = calloc(n ? n : 1, sizeof(*j));
	if (!j)
		abort();
	for (size_t i = 0; i < n; i++)
		j[i] = objs[i]->json;
	return j;
}

static int sync_all(struct mk_netpol_runner *r, struct mk_error **err)
{
	struct mk_object **pol = NULL, **pods = NULL, **ns = NULL;
	size_t npol = mk_informer_list(r->pol, &pol);
	size_t npods = mk_informer_list(r->pods, &pods);
	size_t nns = mk_informer_list(r->ns, &ns);
	const cJSON **jp = jsons(pol, npol), **jd = jsons(pods, npods), **jn = jsons(ns, nns);
	struct mk_netpol_input in = { .node = r->node, .policies = jp, .npolicies = npol,
				      .pods = jd, .npods = npods, .namespaces = jn, .nnamespaces = nns };
	struct mk_netpol_ruleset rs;
	int rc = mk_netpol_model_build(&in, &rs, err);
	if (rc == 0)
		rc = mk_netpol_apply(r->np, &rs, err);
	if (rc == 0) {
		const struct mk_netpol_stats *st = mk_netpol_last_stats(r->np);
		mk_log(MK_LOG_DEBUG, "netpol", "%s: %zu sets, %zu rules, +%u -%u elements",
		       st->full ? "tables replaced" : "elements", rs.nsets, rs.nrules,
		       st->elems_added, st->elems_deleted);
		__atomic_add_fetch(&r->applies, 1, __ATOMIC_SEQ_CST);
	}
	mk_netpol_ruleset_release(&rs);
	free(jp);
	free(jd);
	free(jn);
	mk_object_list_free(pol, npol);
	mk_object_list_free(pods, npods);
	mk_object_list_free(ns, nns);
	return rc;
}

static void *worker_main(void *arg)
{
	struct mk_netpol_runner *r = arg;
	char *key;
	while (mk_workqueue_get(r->q, -1, &key) == 1) {
		_cleanup_error_ struct mk_error *err = NULL;
		int rc = 0;
		if (strcmp(key, KEY_CHECK) == 0) {
			int e = mk_netpol_table_exists(r->np, &err);
			if (e == 0) {
				mk_log(MK_LOG_WARN, "netpol", "table '%s' is gone: reprogram", MK_NETPOL_TABLE);
				mk_netpol_invalidate(r->np);
				rc = sync_all(r, &err);
			} else if (e < 0) {
				rc = -1;
			}
		} else {
			rc = sync_all(r, &err);
		}
		if (rc < 0) {
			mk_log(MK_LOG_WARN, "netpol", "%s: %s", key, err ? err->msg : "failed");
			mk_workqueue_add_rate_limited(r->q, KEY_SYNC);
		} else {
			mk_workqueue_forget(r->q, key);
		}
		mk_workqueue_done(r->q, key);
		free(key);
	}
	return NULL;
}

static void *ticker_main(void *arg)
{
	struct mk_netpol_runner *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += r->resync_ms / 1000;
		ts.tv_nsec += (long)(r->resync_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&r->cond, &r->mu, &ts) == ETIMEDOUT && !r->stopping)
			mk_workqueue_add(r->q, KEY_CHECK);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int mk_netpol_start(struct mk_client *c, const struct mk_netpol_runner_options *o,
		    struct mk_netpol_runner **ret, struct mk_error **err)
{
	struct mk_netpol_runner *r = mk_malloc0(sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->resync_ms = o->resync_ms ? o->resync_ms : 1000;
	r->node = mk_strdup(o->node_name ? o->node_name : "");
	if (mk_netpol_new(&o->np, &r->np, err) < 0)
		goto fail;
	r->q = mk_workqueue_new(100, 10000);
	r->pol = mk_informer_new(c, "/apis/networking.k8s.io/v1/networkpolicies");
	r->pods = mk_informer_new(c, "/api/v1/pods");
	r->ns = mk_informer_new(c, "/api/v1/namespaces");
	mk_informer_add_handler(r->pol, on_event, r);
	mk_informer_add_handler(r->pods, on_event, r);
	mk_informer_add_handler(r->ns, on_event, r);
	if (mk_informer_start(r->pol, err) < 0 || mk_informer_start(r->pods, err) < 0 ||
	    mk_informer_start(r->ns, err) < 0)
		goto fail;
	/* the tables an earlier agent left stay in force until the caches are
	 * complete: programming a partial view could open a denied flow */
	if (!mk_informer_wait_synced(r->pol, SYNC_TIMEOUT_MS) ||
	    !mk_informer_wait_synced(r->pods, SYNC_TIMEOUT_MS) ||
	    !mk_informer_wait_synced(r->ns, SYNC_TIMEOUT_MS)) {
		mk_error_set(err, ETIMEDOUT, "netpol: caches did not sync");
		goto fail;
	}
	if (sync_all(r, err) < 0)
		goto fail;
	if (pthread_create(&r->worker, NULL, worker_main, r)) {
		mk_error_set(err, EAGAIN, "netpol: worker thread");
		goto fail;
	}
	r->worker_started = true;
	if (pthread_create(&r->ticker, NULL, ticker_main, r)) {
		mk_error_set(err, EAGAIN, "netpol: ticker thread");
		goto fail;
	}
	r->ticker_started = true;
	*ret = r;
	return 0;
fail:
	mk_netpol_stop(r);
	return mk_error_wrap(err, "start network policy");
}

unsigned mk_netpol_runner_applies(struct mk_netpol_runner *r)
{
	return __atomic_load_n(&r->applies, __ATOMIC_SEQ_CST);
}

void mk_netpol_stop(struct mk_netpol_runner *r)
{
	if (!r)
		return;
	mk_client_stop_signal(&r->mu, &r->cond, &r->stopping);
	if (r->ticker_started)
		pthread_join(r->ticker, NULL);
	mk_informer_stop(r->pol);
	mk_informer_stop(r->pods);
	mk_informer_stop(r->ns);
	if (r->q)
		mk_workqueue_shutdown(r->q);
	if (r->worker_started)
		pthread_join(r->worker, NULL);
	mk_informer_free(r->pol);
	mk_informer_free(r->pods);
	mk_informer_free(r->ns);
	mk_workqueue_free(r->q);
	mk_netpol_free(r->np);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r->node);
	free(r);
}
