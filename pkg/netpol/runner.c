/* The runner: informers on NetworkPolicies, Pods and Namespaces -> one work
 * queue key per object ("pod:ns/name", "ns:name", "pol:ns/name") -> the worker
 * brings the model it keeps (struct mk_netpol_model) up to date for that object
 * and applies the ruleset (an element diff of the sets the change touched,
 * unless the policies changed); when more keys wait, the apply waits for them
 * (key "apply"). Every resync_ms it checks that the tables are still there
 * (`nft flush ruleset` by someone) and reprograms them if not. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "minik8s/netpol.h"

#define KEY_APPLY "apply"
#define KEY_CHECK "check"
#define SYNC_TIMEOUT_MS 30000

struct mk_netpol_runner {
	struct mk_netpol *np;
	struct mk_netpol_model *model; /* the worker's */
	bool dirty;		       /* the worker's: the model changed since the last apply */
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

static void queue_key(struct mk_netpol_runner *r, const char *prefix, const struct mk_object *o)
{
	char *key = mk_strdup_printf("%s%s", prefix, o->key);
	mk_workqueue_add(r->q, key);
	free(key);
}

static void on_pod(const struct mk_object *old_obj, const struct mk_object *new_obj, void *userdata)
{
	queue_key(userdata, "pod:", new_obj ? new_obj : old_obj);
}

static void on_ns(const struct mk_object *old_obj, const struct mk_object *new_obj, void *userdata)
{
	queue_key(userdata, "ns:", new_obj ? new_obj : old_obj);
}

static void on_pol(const struct mk_object *old_obj, const struct mk_object *new_obj, void *userdata)
{
	queue_key(userdata, "pol:", new_obj ? new_obj : old_obj);
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

/* The model from the complete caches: the start-up path. */
static void load_all(struct mk_netpol_runner *r)
{
	struct mk_object **pol = NULL, **pods = NULL, **ns = NULL;
	size_t npol = mk_informer_list(r->pol, &pol);
	size_t npods = mk_informer_list(r->pods, &pods);
	size_t nns = mk_informer_list(r->ns, &ns);
	const cJSON **jp = jsons(pol, npol), **jd = jsons(pods, npods), **jn = jsons(ns, nns);
	struct mk_netpol_input in = { .node = r->node, .policies = jp, .npolicies = npol,
				      .pods = jd, .npods = npods, .namespaces = jn, .nnamespaces = nns };
	mk_netpol_model_load(r->model, &in, NULL);
	r->dirty = true;
	free(jp);
	free(jd);
	free(jn);
	mk_object_list_free(pol, npol);
	mk_object_list_free(pods, npods);
	mk_object_list_free(ns, nns);
}

static int apply_model(struct mk_netpol_runner *r, struct mk_error **err)
{
	const struct mk_netpol_ruleset *rs = mk_netpol_model_ruleset(r->model);
	if (mk_netpol_apply(r->np, rs, err) < 0)
		return -1;
	r->dirty = false;
	const struct mk_netpol_stats *st = mk_netpol_last_stats(r->np);
	mk_log(MK_LOG_DEBUG, "netpol", "%s: %zu sets, %zu rules, +%u -%u elements",
	       st->full ? "tables replaced" : "elements", rs->nsets, rs->nrules, st->elems_added,
	       st->elems_deleted);
	__atomic_add_fetch(&r->applies, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* Brings the model up to date for one object key. */
static void update_model(struct mk_netpol_runner *r, const char *key)
{
	struct mk_informer *inf = !strncmp(key, "pod:", 4) ? r->pods : !strncmp(key, "ns:", 3) ? r->ns : r->pol;
	const char *k = strchr(key, ':') + 1;
	struct mk_object *o = mk_informer_get(inf, k);
	const cJSON *j = o ? o->json : NULL;
	bool changed;
	if (inf == r->pods)
		changed = mk_netpol_model_set_pod(r->model, k, j);
	else if (inf == r->ns)
		changed = mk_netpol_model_set_namespace(r->model, k, j);
	else
		changed = mk_netpol_model_set_policy(r->model, k, j);
	r->dirty |= changed;
	mk_object_unref(o);
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
				r->dirty = true; /* until the tables are back */
				rc = apply_model(r, &err);
			} else if (e < 0) {
				rc = -1;
			}
		} else {
			if (strcmp(key, KEY_APPLY) != 0)
				update_model(r, key);
			/* a burst of events is applied once, after its last key */
			if (r->dirty && mk_workqueue_len(r->q) > 0 && strcmp(key, KEY_APPLY) != 0)
				mk_workqueue_add(r->q, KEY_APPLY);
			else if (r->dirty)
				rc = apply_model(r, &err);
		}
		if (rc < 0) {
			mk_log(MK_LOG_WARN, "netpol", "%s: %s", key, err ? err->msg : "failed");
			mk_workqueue_add_rate_limited(r->q, KEY_APPLY);
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
		mk_time_mono_deadline(&ts, r->resync_ms);
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
	r->model = mk_netpol_model_new(r->node);
	if (mk_netpol_new(&o->np, &r->np, err) < 0)
		goto fail;
	r->q = mk_workqueue_new(100, 10000);
	r->pol = mk_informer_new(c, "/apis/networking.k8s.io/v1/networkpolicies");
	r->pods = mk_informer_new(c, "/api/v1/pods");
	r->ns = mk_informer_new(c, "/api/v1/namespaces");
	mk_informer_add_handler(r->pol, on_pol, r);
	mk_informer_add_handler(r->pods, on_pod, r);
	mk_informer_add_handler(r->ns, on_ns, r);
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
	load_all(r);
	if (apply_model(r, err) < 0)
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
	mk_netpol_model_free(r->model);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r->node);
	free(r);
}
