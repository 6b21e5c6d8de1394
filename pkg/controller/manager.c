/* The controller manager: shared informers, one work queue + workers per
 * controller, start and stop. */
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define SYNC_TIMEOUT_MS 30000

/* ---- loops ------------------------------------------------------------------------ */

void ctl_loop_init(struct ctl_loop *l, struct mk_controllers *ctl, const char *name,
		   ctl_sync_fn sync, unsigned nworkers)
{
	memset(l, 0, sizeof(*l));
	l->name = name;
	l->ctl = ctl;
	l->sync = sync;
	l->nworkers = nworkers > MK_ARRAY_SIZE(l->threads) ? MK_ARRAY_SIZE(l->threads) : nworkers;
	l->q = mk_workqueue_new(5, 30000);
}

static void *worker_main(void *arg)
{
	struct ctl_loop *l = arg;
	char *key;
	while (mk_workqueue_get(l->q, -1, &key) == 1) {
		int r = l->sync(l->ctl, key);
		if (r < 0)
			mk_workqueue_add_rate_limited(l->q, key);
		else
			mk_workqueue_forget(l->q, key);
		mk_workqueue_done(l->q, key);
		free(key);
	}
	return NULL;
}

int ctl_loop_start(struct ctl_loop *l, struct mk_error **err)
{
	for (unsigned i = 0; i < l->nworkers; i++) {
		int r = pthread_create(&l->threads[i], NULL, l->run ? l->run : worker_main, l);
		if (r)
			return mk_error_errno(err, r, "%s: worker thread", l->name);
		l->started++;
	}
	return 0;
}

void ctl_loop_stop(struct ctl_loop *l)
{
	if (!l->q)
		return;
	mk_workqueue_shutdown(l->q);
	if (l->shutdown)
		l->shutdown(l);
	for (unsigned i = 0; i < l->started; i++)
		pthread_join(l->threads[i], NULL);
	l->started = 0;
}

void ctl_loop_release(struct ctl_loop *l)
{
	ctl_loop_stop(l);
	mk_workqueue_free(l->q);
	l->q = NULL;
}

/* ---- indexes ------------------------------------------------------------------------ */

/* Namespace of objects that have no controller reference (adoption candidates). */
static int index_orphan(const cJSON *obj, char **values, int max)
{
	if (mk_api_controller_ref(obj))
		return 0;
	return mk_index_namespace(obj, values, max);
}

/* ---- start / stop --------------------------------------------------------------------- */

/* The collection each shared informer lists and watches. */
static const char *const informer_paths[CTL_NINF] = {
	[CTL_PODS] = "/api/v1/pods",
	[CTL_NODES] = "/api/v1/nodes",
	[CTL_RS] = "/apis/apps/v1/replicasets",
	[CTL_DEPLOY] = "/apis/apps/v1/deployments",
	[CTL_SVC] = "/api/v1/services",
	[CTL_EP] = "/api/v1/endpoints",
	[CTL_NS] = "/api/v1/namespaces",
	[CTL_SLICE] = "/apis/discovery.k8s.io/v1/endpointslices",
	[CTL_LEASE] = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
	[CTL_DS] = "/apis/apps/v1/daemonsets",
	[CTL_CM] = "/api/v1/configmaps",
	[CTL_SECRET] = "/api/v1/secrets",
	[CTL_JOBS] = "/apis/batch/v1/jobs",
	[CTL_CRONJOBS] = "/apis/batch/v1/cronjobs",
	[CTL_PV] = "/api/v1/persistentvolumes",
	[CTL_PVC] = "/api/v1/persistentvolumeclaims",
	[CTL_SC] = "/apis/storage.k8s.io/v1/storageclasses",
	[CTL_STS] = "/apis/apps/v1/statefulsets",
	[CTL_CR] = "/apis/apps/v1/controllerrevisions",
	[CTL_CRD] = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
	[CTL_QUOTA] = "/api/v1/resourcequotas",
};

#define CTL_NLOOPS 19

/* Every controller loop of ctl, in start order, into loops[CTL_NLOOPS]. */
static void controller_loops(struct mk_controllers *ctl, struct ctl_loop *loops[CTL_NLOOPS])
{
	struct ctl_loop *all[] = { &ctl->sched, &ctl->bind, &ctl->sreport, &ctl->rs, &ctl->deploy,
				   &ctl->ep, &ctl->slice, &ctl->gc, &ctl->ns, &ctl->node, &ctl->ds,
				   &ctl->job, &ctl->cronjob, &ctl->pv, &ctl->pvc, &ctl->sts,
				   &ctl->crd, &ctl->quota, &ctl->slb };
	_Static_assert(MK_ARRAY_SIZE(all) == CTL_NLOOPS, "CTL_NLOOPS counts the loops");
	memcpy(loops, all, sizeof(all));
}

static void free_expect(void *p)
{
	free(p);
}

void mk_controllers_stop(struct mk_controllers *ctl)
{
	if (!ctl)
		return;
	struct ctl_loop *loops[CTL_NLOOPS];
	controller_loops(ctl, loops);
	for (size_t i = 0; i < CTL_NLOOPS; i++)
		if (loops[i]->q)
			mk_workqueue_shutdown(loops[i]->q);
	for (size_t i = 0; i < CTL_NLOOPS; i++)
		ctl_loop_stop(loops[i]);
	for (int i = 0; i < CTL_NINF; i++)
		mk_informer_stop(ctl->inf[i]);
	for (size_t i = 0; i < ctl->ndyn; i++)
		mk_informer_stop(ctl->dyn[i].inf);
	mk_event_recorder_free(ctl->rec);
	for (size_t i = 0; i < CTL_NLOOPS; i++)
		ctl_loop_release(loops[i]);
	for (int i = 0; i < CTL_NINF; i++)
		mk_informer_free(ctl->inf[i]);
	for (size_t i = 0; i < ctl->ndyn; i++) {
		mk_informer_free(ctl->dyn[i].inf);
		free(ctl->dyn[i].gv);
		free(ctl->dyn[i].resource);
		free(ctl->dyn[i].crd_uid);
	}
	pthread_mutex_destroy(&ctl->dyn_mu);
	sched_release(ctl);
	mk_hmap_release(&ctl->expect, free_expect);
	mk_hmap_release(&ctl->node_seen, free);
	pthread_mutex_destroy(&ctl->mu);
	free(ctl);
}

/* A new manager with opts (or the defaults) and its locks and maps ready. */
static struct mk_controllers *controllers_new(struct mk_client *c,
					      const struct mk_controllers_options *opts)
{
	struct mk_controllers *ctl = mk_malloc0(sizeof(*ctl));
	ctl->c = c;
	if (opts)
		ctl->opts = *opts;
	if (!ctl->opts.node_monitor_grace_ms)
		ctl->opts.node_monitor_grace_ms = 40000;
	if (!ctl->opts.pod_eviction_timeout_ms)
		ctl->opts.pod_eviction_timeout_ms = 300000;
	if (!ctl->opts.workers)
		ctl->opts.workers = 4;
	pthread_mutex_init(&ctl->mu, NULL);
	pthread_mutex_init(&ctl->dyn_mu, NULL);
	mk_hmap_init(&ctl->expect);
	mk_hmap_init(&ctl->node_seen);
	return ctl;
}

/* The shared informers (not started yet) and the indexes the controllers look up by. */
static void informers_create(struct mk_controllers *ctl)
{
	for (int i = 0; i < CTL_NINF; i++) {
		ctl->inf[i] = mk_informer_new(ctl->c, informer_paths[i]);
		/* no controller reads managedFields: the caches hold objects without them */
		mk_informer_strip_managed_fields(ctl->inf[i]);
		mk_informer_share_strings(ctl->inf[i]);
		mk_informer_add_index(ctl->inf[i], "uid", mk_index_uid);
		mk_informer_add_index(ctl->inf[i], "owner", mk_index_owner_uid);
		mk_informer_add_index(ctl->inf[i], "ns", mk_index_namespace);
	}
	mk_informer_add_index(ctl->inf[CTL_PODS], "node", mk_index_pod_node);
	mk_informer_add_index(ctl->inf[CTL_PODS], "ctl", mk_index_controller_uid);
	mk_informer_add_index(ctl->inf[CTL_PODS], "orphan", index_orphan);
	mk_informer_add_index(ctl->inf[CTL_RS], "ctl", mk_index_controller_uid);
	mk_informer_add_index(ctl->inf[CTL_RS], "orphan", index_orphan);
	mk_informer_add_index(ctl->inf[CTL_SLICE], "svc", mk_index_slice_service);
	mk_informer_add_index(ctl->inf[CTL_JOBS], "ctl", mk_index_controller_uid);
	mk_informer_add_index(ctl->inf[CTL_CR], "ctl", mk_index_controller_uid);
}

/* Each controller's queue and worker count (the workers start later). */
static void loops_init(struct mk_controllers *ctl)
{
	unsigned w = ctl->opts.workers;
	/* one scheduler worker: placement decisions are sequential, as in kube-scheduler;
	 * the binds (durable writes) run beside it, as kube-scheduler's binding cycle
	 * (a goroutine per pod there): SCHED_BINDERS in flight fill the store's group
	 * commits while the decisions go on */
	ctl_loop_init(&ctl->sched, ctl, "scheduler", sched_sync, ctl->opts.disable_scheduler ? 0 : 1);
	ctl_loop_init(&ctl->bind, ctl, "binder", sched_bind_sync,
		      ctl->opts.disable_scheduler ? 0 : SCHED_BINDERS);
	/* one reporter, paced (SCHED_REPORT_QPS): what fits nowhere is said, not hurried */
	ctl_loop_init(&ctl->sreport, ctl, "scheduler-reports", sched_report_sync,
		      ctl->opts.disable_scheduler ? 0 : 1);
	ctl_loop_init(&ctl->rs, ctl, "replicaset", rs_sync, w);
	ctl_loop_init(&ctl->deploy, ctl, "deployment", deploy_sync, w);
	ctl_loop_init(&ctl->ep, ctl, "endpoints", ep_sync, w);
	ctl_loop_init(&ctl->slice, ctl, "endpointslice", slice_sync, w);
	ctl_loop_init(&ctl->gc, ctl, "garbagecollector", gc_sync, w);
	ctl_loop_init(&ctl->ns, ctl, "namespace", ns_sync, 2);
	ctl_loop_init(&ctl->node, ctl, "nodelifecycle", node_sync, 1);
	ctl_loop_init(&ctl->ds, ctl, "daemonset", ds_sync, w);
	ctl_loop_init(&ctl->job, ctl, "job", job_sync, w);
	ctl_loop_init(&ctl->cronjob, ctl, "cronjob", cronjob_sync, 2);
	ctl_loop_init(&ctl->pv, ctl, "persistentvolume", pv_sync, 1);
	ctl_loop_init(&ctl->pvc, ctl, "persistentvolumeclaim", pvc_sync, 1);
	ctl_loop_init(&ctl->sts, ctl, "statefulset", sts_sync, w);
	ctl_loop_init(&ctl->crd, ctl, "customresourcecleanup", crd_sync, 1);
	ctl_loop_init(&ctl->quota, ctl, "resourcequota", quota_sync, 2);
	/* one worker: pool addresses are allocated one service at a time */
	ctl_loop_init(&ctl->slb, ctl, "servicelb", slb_sync, 1);
}

/* Each controller registers its informer handlers. */
static void controllers_setup(struct mk_controllers *ctl)
{
	if (!ctl->opts.disable_scheduler)
		sched_setup(ctl);
	rs_setup(ctl);
	deploy_setup(ctl);
	ep_setup(ctl);
	slice_setup(ctl);
	gc_setup(ctl);
	ns_setup(ctl);
	node_setup(ctl);
	ds_setup(ctl);
	job_setup(ctl);
	cronjob_setup(ctl);
	pv_setup(ctl);
	sts_setup(ctl);
	crd_setup(ctl);
	quota_setup(ctl);
	slb_setup(ctl);
}

/* Starts every informer and waits (SYNC_TIMEOUT_MS in all) for their caches. */
static int informers_start_synced(struct mk_controllers *ctl, struct mk_error **err)
{
	for (int i = 0; i < CTL_NINF; i++)
		if (mk_informer_start(ctl->inf[i], err) < 0)
			return -1;
	uint64_t end = mk_time_mono_ms() + SYNC_TIMEOUT_MS;
	for (int i = 0; i < CTL_NINF; i++) {
		uint64_t now = mk_time_mono_ms();
		if (!mk_informer_wait_synced(ctl->inf[i], now < end ? (int)(end - now) : 0))
			return mk_error_set(err, ETIMEDOUT, "controllers: cache of '%s' did not sync",
					    informer_paths[i]);
	}
	return 0;
}

int mk_controllers_start(struct mk_client *c, const struct mk_controllers_options *opts,
			 struct mk_controllers **ret, struct mk_error **err)
{
	struct mk_controllers *ctl = controllers_new(c, opts);
	informers_create(ctl);
	ctl->rec = mk_event_recorder_new(c);
	loops_init(ctl);
	if (slb_init(ctl, err) < 0)
		goto fail;
	controllers_setup(ctl);
	if (informers_start_synced(ctl, err) < 0)
		goto fail;
	struct ctl_loop *loops[CTL_NLOOPS];
	controller_loops(ctl, loops);
	for (size_t i = 0; i < CTL_NLOOPS; i++)
		if (ctl_loop_start(loops[i], err) < 0)
			goto fail;
	*ret = ctl;
	return 0;
fail:
	mk_controllers_stop(ctl);
	return -1;
}

/* ---- under leader election -------------------------------------------------------------- */

struct mk_controller_manager {
	struct mk_client *c;
	struct mk_controllers_options opts;
	struct mk_controllers *ctl; /* while leading; only the leader's runner thread touches it */
	struct mk_leader *leader;
};

static int manager_started(void *ctx)
{
	struct mk_controller_manager *m = ctx;
	_cleanup_error_ struct mk_error *e = NULL;
	return mk_controllers_start(m->c, &m->opts, &m->ctl, &e);
}

static void manager_stopped(void *ctx)
{
	struct mk_controller_manager *m = ctx;
	mk_controllers_stop(m->ctl);
	m->ctl = NULL;
}

int mk_controller_manager_start(struct mk_client *c, const struct mk_controllers_options *opts,
				const struct mk_leader_options *lopts,
				struct mk_controller_manager **ret, struct mk_error **err)
{
	struct mk_controller_manager *m = mk_malloc0(sizeof(*m));
	struct mk_leader_options lo = { 0 };
	m->c = c;
	if (opts)
		m->opts = *opts;
	if (lopts)
		lo = *lopts;
	if (!lo.ns)
		lo.ns = "kube-system";
	if (!lo.name)
		lo.name = "kube-controller-manager";
	lo.started_leading = manager_started;
	lo.stopped_leading = manager_stopped;
	lo.ctx = m;
	if (mk_leader_new(c, &lo, &m->leader, err) < 0 || mk_leader_run(m->leader, err) < 0) {
		mk_leader_free(m->leader);
		free(m);
		return -1;
	}
	*ret = m;
	return 0;
}

void mk_controller_manager_stop(struct mk_controller_manager *m)
{
	if (!m)
		return;
	mk_leader_free(m->leader); /* stops the controllers, then releases the Lease */
	free(m);
}
