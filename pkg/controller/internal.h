/* Private helpers of the controller package. */
#ifndef MINIK8S_CONTROLLER_INTERNAL_H
#define MINIK8S_CONTROLLER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "minik8s/controller.h"

/* ---- the manager (manager.c) and its controllers --------------------------------- */

/* The shared informers, one per resource the controllers read (an enum, so a new
 * one is a line). */
enum {
	CTL_PODS,
	CTL_NODES,
	CTL_RS,
	CTL_DEPLOY,
	CTL_SVC,
	CTL_EP,
	CTL_NS,
	CTL_SLICE,
	CTL_LEASE, /* kube-node-lease only */
	CTL_DS,
	CTL_CM,	    /* for the garbage collector only */
	CTL_SECRET, /* for the garbage collector only */
	CTL_JOBS,
	CTL_CRONJOBS,
	CTL_PV,
	CTL_PVC,
	CTL_SC,
	CTL_STS,
	CTL_CR, /* controllerrevisions (StatefulSet history) */
	CTL_CRD, /* customresourcedefinitions (crd.c) */
	CTL_QUOTA, /* resourcequotas (resourcequota.c) */
	CTL_NINF
};

struct ctl_loop;
typedef int (*ctl_sync_fn)(struct mk_controllers *ctl, const char *key);

/* A work queue with its workers. */
struct ctl_loop {
	const char *name;
	struct mk_controllers *ctl;
	struct mk_workqueue *q;
	ctl_sync_fn sync;
	void *(*run)(void *loop); /* the worker's main, when not the work queue's */
	void (*shutdown)(struct ctl_loop *l); /* wakes run's threads to stop */
	unsigned nworkers;
	pthread_t threads[16];
	unsigned started;
};

/* Replica set expectations: creates/deletes issued but not yet seen by the cache. */
struct expectation {
	int adds, dels;
	uint64_t stamp_ms;
};

struct gc_source {
	struct mk_controllers *ctl;
	int idx;
};

/* Informers made at run time for the kinds of CustomResourceDefinitions (crd.c),
 * which the garbage collector walks after the CTL_* ones (index CTL_NINF + i).
 * Slots are filled under dyn_mu and published by the count (atomic); they are
 * never removed while the manager runs (a deleted kind's informer is stopped). */
#define CTL_MAX_DYN 64
struct ctl_dyn_informer {
	struct mk_informer *inf;
	char *gv, *resource, *crd_uid;
	bool namespaced, stopped;
};

struct mk_controllers {
	struct mk_client *c;
	struct gc_source gc_src[CTL_NINF];
	struct gc_source dyn_src[CTL_MAX_DYN];
	struct ctl_dyn_informer dyn[CTL_MAX_DYN];
	size_t ndyn;		/* read with __atomic_load_n */
	pthread_mutex_t dyn_mu;
	struct mk_controllers_options opts;
	struct mk_informer *inf[CTL_NINF];
	struct mk_event_recorder *rec;

	struct ctl_loop sched, bind, rs, deploy, ep, slice, gc, ns, node;
	struct ctl_loop sreport; /* scheduler.c: unschedulable pods' reports, paced */
	double sreport_tokens;	 /* its token bucket (its one worker's alone) */
	uint64_t sreport_last_ns;
	struct ctl_loop ds;
	struct ctl_loop job, cronjob; /* job.c, cronjob.c */
	struct ctl_loop pv, pvc; /* persistent volume binder and local-path provisioner */
	struct ctl_loop sts;
	struct ctl_loop crd; /* crd.c: a deleted definition's objects */
	struct ctl_loop quota; /* resourcequota.c */
	struct ctl_loop slb; /* servicelb.c */
	uint32_t slb_net, slb_mask; /* --lb-pool, host order; mask 0: node-address mode */

	struct sched_queue *sq;	  /* scheduler: pods to place (sched_queue.c) */
	struct sched_cache *scache; /* scheduler: node totals and assumed pods (sched_cache.c) */

	pthread_mutex_t mu;	/* guards the maps below */
	struct mk_hmap expect;	/* rs key -> struct expectation */
	struct mk_hmap node_seen;	/* node name -> struct node_health */
};

/* Loops: start workers / stop. */
void ctl_loop_init(struct ctl_loop *l, struct mk_controllers *ctl, const char *name,
		   ctl_sync_fn sync, unsigned nworkers);
int ctl_loop_start(struct ctl_loop *l, struct mk_error **err);
void ctl_loop_stop(struct ctl_loop *l);
void ctl_loop_release(struct ctl_loop *l);

/* Per-controller setup: registers handlers on the informers (before start). */
/* binder workers: bindings in flight at once (manager.c) */
#define SCHED_BINDERS 32
/* Unschedulable pods' reports (PodScheduled=False and a FailedScheduling Event):
 * at most SCHED_REPORT_QPS a second after a burst of SCHED_REPORT_BURST, the
 * defaults of kube-scheduler's API client (clientConnection qps 50, burst 100),
 * so a flood of pods that fit nowhere costs the API a bounded share of its writes
 * and the reports trail, as kube-scheduler's do. */
#define SCHED_REPORT_QPS 50
#define SCHED_REPORT_BURST 100
void sched_setup(struct mk_controllers *ctl);
void rs_setup(struct mk_controllers *ctl);
void deploy_setup(struct mk_controllers *ctl);
void ep_setup(struct mk_controllers *ctl);
void slice_setup(struct mk_controllers *ctl);
void gc_setup(struct mk_controllers *ctl);
void ns_setup(struct mk_controllers *ctl);
void node_setup(struct mk_controllers *ctl);
void ds_setup(struct mk_controllers *ctl);
void job_setup(struct mk_controllers *ctl);
void cronjob_setup(struct mk_controllers *ctl);
void pv_setup(struct mk_controllers *ctl);
void sts_setup(struct mk_controllers *ctl);
void crd_setup(struct mk_controllers *ctl);
/* The garbage collector's handler for an informer (gc.c), for crd.c's dynamic ones. */
void gc_watch_informer(struct mk_controllers *ctl, struct mk_informer *inf, struct gc_source *src);
int crd_sync(struct mk_controllers *ctl, const char *key);
void quota_setup(struct mk_controllers *ctl);
int quota_sync(struct mk_controllers *ctl, const char *key);
void slb_setup(struct mk_controllers *ctl);
/* Parses opts.lb_pool into slb_net/slb_mask; -1 (EINVAL) when malformed. */
int slb_init(struct mk_controllers *ctl, struct mk_error **err);
int slb_sync(struct mk_controllers *ctl, const char *key);

int sched_sync(struct mk_controllers *ctl, const char *key);
/* The scheduler's thread (the sched loop's worker, fed by ctl->sq) and the hook
 * that wakes it to stop; both set by sched_setup. */
void *sched_main(void *arg);
void sched_shutdown(struct ctl_loop *l);
/* Frees the scheduler's queue and cache (after its loop stopped). */
void sched_release(struct mk_controllers *ctl);
int sched_bind_sync(struct mk_controllers *ctl, const char *key);
int sched_report_sync(struct mk_controllers *ctl, const char *key);
int rs_sync(struct mk_controllers *ctl, const char *key);
int deploy_sync(struct mk_controllers *ctl, const char *key);
int ep_sync(struct mk_controllers *ctl, const char *key);
int slice_sync(struct mk_controllers *ctl, const char *key);
int gc_sync(struct mk_controllers *ctl, const char *key);
int ns_sync(struct mk_controllers *ctl, const char *key);
int node_sync(struct mk_controllers *ctl, const char *key);
int ds_sync(struct mk_controllers *ctl, const char *key);
int job_sync(struct mk_controllers *ctl, const char *key);
int cronjob_sync(struct mk_controllers *ctl, const char *key);
int pv_sync(struct mk_controllers *ctl, const char *key);
int pvc_sync(struct mk_controllers *ctl, const char *key);

/* Whether the persistent volume pv can be reached from node (its
 * spec.nodeAffinity.required; true without one, false for a NULL node) (pv.c). */
bool pv_node_ok(const cJSON *pv, const cJSON *node);
int sts_sync(struct mk_controllers *ctl, const char *key);

/* Port number that service port sp (its targetPort, a number or a container port
 * name) reaches on pod, or 0 when the pod does not have it (endpoints.c). */
int svc_target_port(const cJSON *sp, const cJSON *pod);
/* The service's ports as they resolve on pod ([{name, port, protocol}], owned);
 * ports the pod lacks are left out; unnamed ports get "name": "" with
 * empty_names (EndpointSlice) and no name otherwise (Endpoints). */
cJSON *svc_pod_ports(const cJSON *svc, const cJSON *pod, bool empty_names);
/* Adds to q the services of pod's namespace whose selector matches its labels. */
void svc_enqueue_selecting(struct mk_controllers *ctl, const cJSON *pod, struct mk_workqueue *q);

/* rs expectations (replicaset.c), used by handlers */
void rs_expect_observed(struct mk_controllers *ctl, const char *rs_key, bool add);

/* ---- small shared helpers (util.c) ---------------------------------------------- */

/* Splits "ns/name" into its parts (owned). Cluster-scoped "name": ns = "". */
void split_key(const char *key, char **ret_ns, char **ret_name);
/* true when labels (object) contain every key=value of the map sel (object). */
bool labels_match_map(const cJSON *sel, const cJSON *labels);
/* Condition of type in obj.status.conditions (borrowed) or NULL. */
cJSON *find_condition(const cJSON *obj, const char *type);
bool has_deletion(const cJSON *obj);
int json_int(const cJSON *obj, const char *path, int def);
/* Builds an ownerReference (owned) pointing at owner as controller. */
cJSON *controller_ref_new(const cJSON *owner);
/* DELETE of the collection at path with background propagation (dependents go
 * with their owners); the HTTP status, or -1 when the request failed. */
long delete_collection(struct mk_controllers *ctl, const char *path);
/* An endpoint's (Endpoints address, EndpointSlice endpoint) nodeName, when pod
 * has one, and targetRef to pod. */
void endpoint_pod_ref(cJSON *ep, const cJSON *pod);
/* now as RFC 3339 into buf[32]. */
void now_rfc3339(char buf[32]);
/* Writes status (borrowed) as obj's status subresource, of resource in gv and kept
 * by informer inf, unless obj already has it; the answer goes into the cache. An
 * update carrying the cached resourceVersion: a stale cache gets a conflict (-1,
 * retried). A gone object is no error. */
int ctl_status_update(struct mk_controllers *ctl, int inf, const char *gv, const char *resource,
		      const cJSON *obj, const cJSON *status);

/* ---- the scheduler's queue (sched_queue.c) ---------------------------------------- */

/* kube-scheduler's PriorityQueue: activeQ (priority, then arrival), backoffQ and
 * the unschedulable pods; thread-safe. */
struct sched_queue;
enum sched_outcome {
	SCHED_DONE,	     /* assumed, bound, or no longer wants a node: forget the pod */
	SCHED_UNSCHEDULABLE, /* fits nowhere: wait for a move event (or 5 minutes) */
	SCHED_ERROR,	     /* failed otherwise: retry after the back-off */
};
struct sched_queue *sched_queue_new(void);
void sched_queue_free(struct sched_queue *q);
/* For tests: the clock (ms, monotonic) the queue reads. */
void sched_queue_set_clock(struct sched_queue *q, uint64_t (*now)(void *ud), void *ud);
/* A pending pod added or updated (key copied): a new one joins activeQ; an
 * unschedulable one goes back (backoffQ while its back-off runs). */
void sched_queue_add(struct sched_queue *q, const char *key, int32_t priority);
/* A pod whose bind failed: back to the queue after a back-off. */
void sched_queue_add_failed(struct sched_queue *q, const char *key, int32_t priority);
/* The pod is gone or no longer pending. */
void sched_queue_delete(struct sched_queue *q, const char *key);
/* An event that may make unschedulable pods fit: all of them go back. */
void sched_queue_move_all(struct sched_queue *q);
/* The next pod to try (*ret_key owned) and its cycle: 1; 0 after timeout_ms (-1:
 * none); -1 once shut down. The pod is in flight until sched_queue_done. */
int sched_queue_pop(struct sched_queue *q, int timeout_ms, char **ret_key, uint64_t *ret_cycle);
void sched_queue_done(struct sched_queue *q, const char *key, uint64_t cycle,
		      enum sched_outcome outcome);
void sched_queue_shutdown(struct sched_queue *q);
void sched_queue_counts(struct sched_queue *q, size_t *ret_active, size_t *ret_backoff,
			size_t *ret_unsched);

/* ---- the scheduler's cache (sched_cache.c) ------------------------------------------ */

/* A node as the scheduler sees it: parsed once per node change, totals kept by
 * every pod change. */
struct sched_node {
	char *name;
	struct mk_object *obj; /* the node (a ref); NULL: gone, pods still counted */
	bool has_alloc;	       /* reports status.allocatable */
	int64_t alloc_cpu, alloc_mem, alloc_pods; /* millicores, bytes, count; -1: absent */
	bool ready, unschedulable;
	const cJSON *taints;	  /* spec.taints inside obj, NULL when none */
	int64_t req_cpu, req_mem; /* requests of its non-terminated pods, bound or assumed */
	long npods;
	size_t live_idx;
	size_t id; /* small and stable while the node is cached: indexes owner counts */
};
struct sched_cache;
struct sched_cache *sched_cache_new(void);
void sched_cache_free(struct sched_cache *c);
/* A node transition from the node informer. */
void sched_cache_node_update(struct sched_cache *c, const struct mk_object *old,
			     const struct mk_object *new);
/* A pod transition from the pod informer (old, new: NULL when absent); with
 * drop_assumed, the assumption on key ends first (the cache shows the bind). */
void sched_cache_pod_update(struct sched_cache *c, const char *key, const cJSON *old,
			    const cJSON *new, bool drop_assumed);
/* The scheduler placed pod key on node: counted there until forgotten. */
void sched_cache_assume(struct sched_cache *c, const char *key, const cJSON *pod, const char *node);
void sched_cache_forget(struct sched_cache *c, const char *key);
/* The node pod key is assumed onto (owned), or NULL. */
char *sched_cache_assumed_node(struct sched_cache *c, const char *key);
/* An unschedulable pod's latest report (its message) for the scheduler's reporter
 * to write (put_new: unless one waits already); take returns it once (owned), or
 * NULL. */
void sched_cache_report_put(struct sched_cache *c, const char *key, const char *msg);
void sched_cache_report_put_new(struct sched_cache *c, const char *key, const char *msg);
char *sched_cache_report_take(struct sched_cache *c, const char *key);
/* The nodes that exist, sorted by name (borrowed, valid while locked) and, per controller uid, its
 * pods on a node; call between lock and unlock. */
void sched_cache_lock(struct sched_cache *c);
void sched_cache_unlock(struct sched_cache *c);
size_t sched_cache_nodes(struct sched_cache *c, struct sched_node *const **ret);
long sched_cache_owner_count(struct sched_cache *c, const char *owner, const char *node);
/* The same for every node at once: counts indexed by sched_node.id, *ret_n of them
 * (NULL, 0 when the owner has no pods); borrowed while locked. */
const long *sched_cache_owner_counts(struct sched_cache *c, const char *owner, size_t *ret_n);
/* One decision for a pod without volume claims, on the cache's nodes (scheduler.c):
 * the chosen node (owned), or NULL and, when ret_why, the reason (owned). For
 * bench/sched, which measures the decision loop in process. */
char *sched_pick_node(struct sched_cache *c, const cJSON *pod, char **ret_why);
/* NodeResourcesFit on totals (sched_fit.c): reasons as mk_controller_sched_fit. */
int sched_node_fit(const struct sched_node *n, int64_t cpu, int64_t mem, const char *reasons[3]);

#endif
