/* minik8s controller: the scheduler and the controllers (replicaset, deployment,
 * endpoints, garbage collector, namespace, node lifecycle, daemonset). The client
 * machinery they use (informers, work queues, the event recorder) is in
 * minik8s/client.h.
 *
 * Everything here is an API client (DESIGN principle 2): informers list + watch
 * into a local cache and call handlers, handlers put keys on work queues, and
 * workers reconcile one key at a time against the cache (principle 3: level
 * triggered, a restart loses nothing). A change costs work proportional to the
 * change (principle 5): caches have secondary indexes (pods by node, by owner).
 *
 * Thread-safety is stated per object. Library code: nothing prints or exits.
 */
#ifndef MINIK8S_CONTROLLER_H
#define MINIK8S_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"
#include "minik8s/client.h"

/* ---- helpers shared by the controllers (pure) --------------------------------- */

/* Kubernetes' pod template hash: FNV-32a over the canonical (sorted keys) JSON of
 * template, plus collision_count when non-zero, rendered as the decimal value
 * mapped onto "bcdfghjklmnpqrstvwxz2456789" (at most 10 chars). out >= 11 bytes. */
void mk_controller_template_hash(const cJSON *template, uint32_t collision_count, char out[11]);
/* Resolves an IntOrString ("25%" or 3) against total; round_up picks ceil. Returns
 * the value, or -1 if malformed. NULL yields def_pct percent. */
int mk_controller_int_or_percent(const cJSON *v, int total, bool round_up, int def_pct);
/* true when the pod has condition Ready=True. */
bool mk_controller_pod_ready(const cJSON *pod);
/* true when node satisfies the pod spec's nodeSelector and its required node
 * affinity (nodeSelectorTerms ORed; matchExpressions on labels with In, NotIn,
 * Exists, DoesNotExist, Gt, Lt; matchFields on metadata.name). */
bool mk_controller_node_affinity_matches(const cJSON *pod_spec, const cJSON *node);
/* true when one of tolerations (a JSON array, may be NULL) tolerates taint. */
bool mk_controller_tolerates_taint(const cJSON *tolerations, const cJSON *taint);
/* Whether a daemon pod with pod_spec should be placed on node (spec.nodeName,
 * node affinity, every NoSchedule/NoExecute taint tolerated), and in
 * *ret_should_continue whether one already there may stay (untolerated NoSchedule
 * taints do not evict; NoExecute ones do). */
bool mk_controller_daemon_should_run(const cJSON *pod_spec, const cJSON *node,
				     bool *ret_should_continue);
/* CronJob scheduling (cronjob.c): the most recent time c fires in (earliest, now]
 * in zone tz, or 0 when none; *ret_missed counts those times (stopping at 101),
 * *ret_next is the first time after now (-1: none). */
struct mk_cron;
struct mk_tz;
int64_t mk_controller_cron_most_recent(const struct mk_cron *c, const struct mk_tz *tz,
				       int64_t earliest, int64_t now, int *ret_missed,
				       int64_t *ret_next);

/* The scheduler's NodeResourcesFit filter: whether pod fits on node beside
 * node_pods (the pods bound or being bound to it; terminated ones are skipped),
 * against node status.allocatable (cpu, memory, pods). Writes the failing
 * reasons ("Too many pods", "Insufficient cpu", "Insufficient memory"; static
 * strings) into reasons[0..3) and returns their count (0: it fits). */
int mk_controller_sched_fit(const cJSON *pod, const cJSON *node, const cJSON *const *node_pods,
			    size_t n_node_pods, const char *reasons[3]);


/* ---- the controller manager ----------------------------------------------------- */

struct mk_controllers_options {
	/* node lifecycle: a node whose heartbeat has not changed for grace gets
	 * Ready=Unknown and the unreachable taint; after eviction_timeout more its
	 * pods are deleted. 0: 40 s / 300 s. */
	unsigned node_monitor_grace_ms;
	unsigned pod_eviction_timeout_ms;
	unsigned workers;		/* workers per controller; 0: 4 */
	bool disable_scheduler;		/* when an external scheduler binds pods */
	/* LoadBalancer addresses: NULL, node-address mode (every Ready node's
	 * InternalIP); an IPv4 CIDR (/16../32): one address of it per service,
	 * held by one Ready node (servicelb.c). Borrowed for start only. */
	const char *lb_pool;
};

struct mk_controllers;

/* Starts the informers, the scheduler and every controller on client c
 * (borrowed; must outlive the controllers). Waits (bounded, 30 s) for the
 * caches to sync. *ret owned (mk_controllers_stop). */
int mk_controllers_start(struct mk_client *c, const struct mk_controllers_options *opts,
			 struct mk_controllers **ret, struct mk_error **err);
/* Stops every thread (promptly: watches are cancelled, queues shut down) and frees.
 * Accepts NULL. */
void mk_controllers_stop(struct mk_controllers *ctl);

/* ---- leader election on a Lease (leader.c), as client-go's leaderelection ------------
 * tryAcquireOrRenew: the Lease is created if missing; a holder other than us is
 * respected while the record we last saw changing is younger (by our own clock) than
 * its leaseDurationSeconds; an empty holderIdentity (a released Lease) or an expired
 * one is taken at once, with leaseTransitions + 1; we renew our own keeping
 * acquireTime. Writes carry the resourceVersion read, so of two candidates one wins.
 * A leader that cannot renew for renew_deadline, or that sees another live holder,
 * stops leading. acquireTime/renewTime are RFC 3339 with microseconds (MicroTime). */
struct mk_leader_options {
	const char *ns, *name;	   /* the Lease, e.g. kube-system/kube-controller-manager */
	const char *identity;	   /* holderIdentity; NULL: HOSTNAME_<uuid> (client-go's) */
	unsigned lease_duration_s; /* 0: 15 */
	unsigned renew_deadline_ms; /* 0: 10000 */
	unsigned retry_period_ms;  /* 0: 2000 (renewals and acquire attempts) */
	/* called from the elector's runner thread (never concurrently, never both
	 * pending): leading began / ended; started returns < 0 to be retried later */
	int (*started_leading)(void *ctx);
	void (*stopped_leading)(void *ctx);
	void *ctx;
	uint64_t (*clock_ms)(void); /* monotonic clock; NULL: mk_time_mono_ms (tests fake it) */
};

struct mk_leader;

/* A candidate on client c (borrowed, must outlive it); does nothing until
 * mk_leader_run or mk_leader_try. *ret owned (mk_leader_free). */
int mk_leader_new(struct mk_client *c, const struct mk_leader_options *opts,
		  struct mk_leader **ret, struct mk_error **err);
/* One tryAcquireOrRenew: 1 we hold the Lease now, 0 someone else does (or a write
 * conflicted), -1 the API failed. Does not call the callbacks. */
int mk_leader_try(struct mk_leader *l, struct mk_error **err);
/* Gives the Lease up if we hold it (holderIdentity "", leaseDurationSeconds 1), so a
 * successor need not wait for it to expire. */
int mk_leader_release(struct mk_leader *l, struct mk_error **err);
bool mk_leader_is_leader(struct mk_leader *l);
const char *mk_leader_identity(const struct mk_leader *l); /* borrowed */
/* Starts the elector and runner threads: acquire, renew every retry period, call
 * started_leading / stopped_leading as leadership comes and goes. */
int mk_leader_run(struct mk_leader *l, struct mk_error **err);
/* Stops the threads; if leading, calls stopped_leading, then releases the Lease.
 * Accepts NULL. */
void mk_leader_free(struct mk_leader *l);

/* The controller manager under leader election: mk_controllers_start while this
 * process holds kube-system/kube-controller-manager, mk_controllers_stop when it
 * loses it (the server keeps running; it tries to acquire again). The scheduler
 * runs inside the controller manager here, so the one Lease covers it. */
struct mk_controller_manager;
int mk_controller_manager_start(struct mk_client *c, const struct mk_controllers_options *opts,
				const struct mk_leader_options *lopts,
				struct mk_controller_manager **ret, struct mk_error **err);
/* Stops the controllers and releases the Lease. Accepts NULL. */
void mk_controller_manager_stop(struct mk_controller_manager *m);

#endif
