/* Private to the node agent's files (all of pkg/agent but the streaming server). */
#ifndef MINIK8S_AGENT_INTERNAL_H
#define MINIK8S_AGENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "minik8s/agent.h"
#include "minik8s/client.h"
#include "minik8s/image.h"
#include "minik8s/net.h"
#include "minik8s/runtime.h"

#define AGENT_COMPONENT "kubelet"
#define NETNS_PREFIX "mkp-"
#define UID_LEN 36

/* One container of a pod as the agent tracks it. Touched only by the worker that
 * holds the pod's key, except cid/prev_cid, which the stream resolver reads under
 * agent->mu (writers take it too). */
enum ctr_kind {
	CTR_APP,	/* spec.containers */
	CTR_INIT,	/* spec.initContainers (sidecar when restartPolicy: Always) */
	CTR_EPHEMERAL,	/* spec.ephemeralContainers (added through the subresource) */
};

struct ctr_state {
	char *name;
	enum ctr_kind kind;
	bool sidecar;	      /* an init container with restartPolicy Always */
	char *cid;	      /* current runtime container, or NULL */
	char *prev_cid;	      /* the exited instance before it (logs --previous) */
	unsigned restarts;    /* restartCount */
	unsigned crashes;     /* exits counted for the back-off (reset after long runs) */
	cJSON *last_term;     /* terminated state of prev_cid (status lastState), owned */
	cJSON *term;	      /* terminated state of cid once it exited, owned */
	bool done;	      /* exited and not to be restarted */
	char *image_id;	      /* imageID for the status */
	/* image pulls */
	unsigned pull_failures;
	int64_t pull_retry_ms;	 /* wall ms; no pull before */
	int64_t pull_failed_ms;	 /* wall ms of the last failure */
	bool pull_backoff_evented; /* BackOff event sent for the last failure */
	char *pull_error;	 /* "REASON: MESSAGE" of the last failed pull, for the back-off */
	char *wait_reason;	 /* waiting reason/message when no container runs */
	char *wait_message;
	/* start failures (CreateContainerError / RunContainerError) */
	int64_t start_retry_ms;
	/* probes */
	bool ready;
	int ready_ok, ready_bad, live_bad;
	int64_t next_ready_ms, next_live_ms; /* wall ms */
	bool startup_done;    /* startupProbe succeeded (or there is none) */
	int startup_bad;
	int64_t next_startup_ms;
	char *probed_cid;     /* probe counters belong to this container */
	char *watched_cid;    /* exit watcher registered for this container */
	bool killed_by_probe;
};

struct pod_state {
	struct pod_state *next;
	char *uid, *ns, *name;
	char ip[MK_NET_IP_STRLEN];
	bool files_written;
	bool net_down;	      /* terminal pod: network released */
	bool torn_down;	      /* deleted: everything removed, API delete sent */
	char *start_time;     /* status.startTime */
	bool initialized;     /* every init container completed (or sidecar started) once:
			       * init containers never run again */
	bool apps_done;	      /* every app container finished for good: sidecars stop */
	/* c[]: init containers, then app containers, then ephemeral containers, each in
	 * spec order; ephemeral ones are appended (under mu) as the spec gains them */
	size_t n, c_cap;      /* containers in c, allocated elements of c */
	struct ctr_state *c;
	struct agent_sa_token *tokens; /* projected service account tokens (volume.c) */
	/* a new sandbox's network (namespace, veth), wired by a thread of its own
	 * while the containers' root file systems are prepared; joined before a
	 * container is created and at the end of the sync that started it */
	struct agent_net_job *net_job;
};

struct mk_agent {
	struct mk_client *c;
	/* options (owned copies) */
	char *node_name, *node_ip, *data_dir, *run_dir, *netns_dir, *cgroup_parent, *bridge;
	char *cluster_dns, *cluster_domain, *registries_config, *images_dir;
	unsigned backoff_base_ms, backoff_max_ms, heartbeat_ms, resync_ms, workers;

	char *pod_cidr;
	char gateway[MK_NET_IP_STRLEN];
	int prefix;
	char *ready_since;     /* lastTransitionTime of the node conditions */
	cJSON *node_static;    /* addresses, capacity, nodeInfo, ... (status without conditions) */

	struct mk_runtime *rt;
	struct mk_image_store *images;
	struct mk_net_sock *node_sock;
	struct mk_net_ipam *ipam;
	struct mk_informer *pods;
	struct mk_informer *services; /* the service variables of containers (svcenv.c) */
	struct mk_workqueue *q;
	struct mk_event_recorder *rec;
	void *stream;	       /* struct mk_agent_stream * */
	struct mk_proxy_runner *proxy; /* the node's ClusterIP balancer */
	struct mk_netpol_runner *netpol; /* NetworkPolicy enforcement (pkg/netpol) */
	struct agent_routes *routes;   /* other nodes' pod CIDRs (routes.c) */
	struct agent_overlay *overlay; /* the flannel-style backend (overlay.c) */
	unsigned pod_mtu;	       /* MTU of new pods' veths; 0: kernel default */
	struct agent_pvc *pvc;	       /* local-path volumes of this node (pvc.c) */
	struct mk_dns *dns;	       /* the node's cluster DNS responder */
	/* the ConfigMaps and Secrets the pods' volumes use, one single-object watch
	 * each (volume.c) */
	pthread_mutex_t src_mu;
	struct agent_source *sources;
	bool dns_addr_added;	       /* cluster DNS address put on this node by us */

	pthread_mutex_t mu;    /* guards states, stopping, the adoption snapshot */
	pthread_cond_t cond;
	bool stopping;
	struct pod_state *states;
	struct mk_runtime_container_info *adopt; /* containers found at start */
	size_t n_adopt;

	pthread_t *worker_threads;
	pthread_t heartbeat_thread;
	bool heartbeat_started;
	/* exit watcher */
	int epfd, wakefd;
	pthread_t watcher_thread;
	bool watcher_started;
	pthread_mutex_t watch_mu;
	struct watch_entry *watches;
};

/* node.c */
int agent_node_register(struct mk_agent *a, struct mk_error **err);
/* GOARCH of a uname machine ("x86_64" -> "amd64"; unknown ones as they are). */
const char *agent_go_arch(const char *machine);
/* A new Node object (owned) with the labels every node has: hostname, os and
 * arch; also for hollow nodes (hollow.c). */
cJSON *agent_node_object_new(const char *name, const char *arch);
int agent_node_heartbeat(struct mk_agent *a, struct mk_error **err);
/* Renews the node's Lease in kube-node-lease (creating it, and registering the
 * node again if it was deleted). lease.c */
int agent_node_lease_renew(struct mk_agent *a, struct mk_error **err);
/* How often the node's status is posted when the lease carries the heartbeat. */
#define AGENT_STATUS_REPORT_MS (5 * 60 * 1000)

/* pod.c */
int agent_pod_sync(struct mk_agent *a, const char *uid);
/* The pod object of uid from the cache (ref) or NULL. */
struct mk_object *agent_pod_get(struct mk_agent *a, const char *uid);
void agent_pod_state_free(struct pod_state *s);

/* sandbox.c */
char *agent_pod_dir(struct mk_agent *a, const char *uid);
bool agent_host_network(const cJSON *pod);
void agent_netns_name(const char *uid, char out[64]);
/* Address, /etc files, then the network: a namespace or veth still to make is
 * made by a thread of its own (st->net_job; agent_sandbox_net_wait/finish). */
int agent_sandbox_ensure(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			 struct mk_error **err);
/* Releases the network (veth, namespace, address) of uid. */
void agent_sandbox_net_release(struct mk_agent *a, const char *uid);
/* Waits for the network job agent_sandbox_ensure started, if any: 0 wired (or
 * nothing pending), -1 with a copy of its error. The result is kept. */
int agent_sandbox_net_wait(struct pod_state *st, struct mk_error **err);
/* The same, then the job is forgotten (its error moved into *err). */
int agent_sandbox_net_finish(struct pod_state *st, struct mk_error **err);
/* Removes every trace of pod uid on the node: containers (grace 0), rootfs
 * mounts, pod directory, network. */
void agent_pod_teardown(struct mk_agent *a, const char *uid);
/* Start-up reconciliation against the pods in the cache. */
void agent_reconcile(struct mk_agent *a);
int agent_rm_rf(const char *path);

/* probe.c */
enum probe_result { PROBE_SUCCESS, PROBE_FAILURE };
/* Runs one probe (httpGet, tcpSocket or exec). *ret_msg owned (failure detail). */
enum probe_result agent_probe_run(struct mk_agent *a, const cJSON *probe, const cJSON *container,
				  const char *pod_ip, const char *cid, char **ret_msg);

/* lifecycle.c: runs c's lifecycle.preStop (exec, httpGet, sleep) in container
 * cid, bounded by deadline_ms (wall ms); a failure is a FailedPreStopHook
 * event. Returns the deadline for SIGKILL: deadline_ms, or 2 s from now when
 * the hook left less. Nothing to do: deadline_ms. */
int64_t agent_prestop_run(struct mk_agent *a, const cJSON *pod, const cJSON *c, const char *cid,
			  const char *pod_ip, int64_t deadline_ms);

/* security.c: fsGroup on the host directory of pod volume name when its kind
 * takes it (emptyDir, configMap, secret, downwardAPI, projected, claims; not
 * hostPath), honouring fsGroupChangePolicy. */
int agent_volume_fsgroup_set(const cJSON *pod, const char *name, const char *path,
			     int64_t fs_group, struct mk_error **err);

/* watch.c: exit watcher */
int agent_watcher_start(struct mk_agent *a, struct mk_error **err);
void agent_watcher_stop(struct mk_agent *a);
/* Enqueues uid once the process pid exits (pidfd). */
void agent_watch_pid(struct mk_agent *a, const char *uid, pid_t pid);

/* helpers */
void agent_event(struct mk_agent *a, const cJSON *pod, const char *type, const char *reason,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int64_t agent_now_ms(void);
/* Frees a pod's cached service account tokens (volume.c). */
void agent_sa_tokens_free(struct agent_sa_token *t);
void agent_time_ns_format(int64_t ns, char *buf, size_t size);

/* envsrc.c: ConfigMaps and Secrets read by a container's env / envFrom. One cache per
 * container start, so each object is fetched once (agent_envsrc_release frees it). */
struct agent_envsrc_obj;
struct agent_envsrc {
	struct agent_envsrc_obj *objs;
	size_t n, cap;
};
void agent_envsrc_release(struct agent_envsrc *s);
/* The value of key in a ConfigMap (data, else binaryData decoded) or a Secret (data,
 * decoded): owned and NUL-terminated (a NUL inside ends it for the environment),
 * its length in *ret_len (may be NULL); NULL when the key is absent or not valid
 * base64. For env (envsrc.c) and for configMap / secret volumes (volume.c). */
char *agent_object_value(const cJSON *obj, bool secret, const char *key, size_t *ret_len);
/* A configMapKeyRef / secretKeyRef (sel): *ret the value (owned), NULL when skipped
 * (optional and missing); -1 with the kubelet's message when missing and required. */
int agent_envsrc_key(struct mk_agent *a, struct agent_envsrc *s, const cJSON *pod,
		     const cJSON *sel, bool secret, char **ret, struct mk_error **err);
/* One envFrom entry: calls set for each (prefixed) key that is a valid name. */
int agent_envsrc_from(struct mk_agent *a, struct agent_envsrc *s, const cJSON *pod,
		      const cJSON *from,
		      void (*set)(void *ctx, const char *key, const char *value), void *ctx,
		      struct mk_error **err);

/* svcenv.c: the service variables of a container of pod, from the agent's Service
 * informer as the container starts (Services made later are not in it, as with the
 * kubelet); EAGAIN before the first list. _start waits (bounded) for that list. */
int agent_svcenv_start(struct mk_agent *a, struct mk_error **err);
void agent_svcenv_stop(struct mk_agent *a);
int agent_svcenv_add(struct mk_agent *a, const cJSON *pod,
		     void (*set)(void *ctx, const char *name, const char *value), void *ctx,
		     struct mk_error **err);

/* pullsecrets.c: the registry logins of a pod's imagePullSecrets */
struct agent_creds {
	struct mk_image_credential *v;
	size_t n;
};
void agent_creds_release(struct agent_creds *c);
void agent_pull_credentials(struct mk_agent *a, const cJSON *pod, struct agent_creds *ret);

/* overlay.c: the backend that carries pod traffic between nodes (flannel's
 * host-gw / vxlan / none, k3s' --flannel-backend). _validate runs before anything
 * else (an unknown backend, or wireguard-native: a clear error); _init after the
 * node bridge exists: picks the backend (the flag, else the cluster's published
 * net-conf, else vxlan with direct routing), the underlay link, the pods' MTU, and
 * publishes the node's flannel annotations. */
enum agent_backend {
	AGENT_BACKEND_VXLAN,   /* every peer through mk-vxlan */
	AGENT_BACKEND_HOST_GW, /* routes via the peers' addresses (one L2 only) */
	AGENT_BACKEND_NONE,    /* no cross-node routes: the user brings a CNI */
};
/* How to reach one peer node. */
enum agent_peer_path { AGENT_PEER_SKIP, AGENT_PEER_DIRECT, AGENT_PEER_VXLAN, AGENT_PEER_UNREACHABLE };
#define AGENT_VXLAN_DEV "mk-vxlan"
int agent_overlay_validate(const struct mk_agent_options *o, struct mk_error **err);
int agent_overlay_init(struct mk_agent *a, const struct mk_agent_options *o, struct mk_error **err);
void agent_overlay_free(struct mk_agent *a);
/* false for backend none: routes.c leaves every route alone. */
bool agent_overlay_routes_managed(struct mk_agent *a);
/* The path to a peer whose InternalIP is ip. */
enum agent_peer_path agent_overlay_peer_path(struct mk_agent *a, const char *ip);
/* The peer's VTEP (the .0 of its pod CIDR), VTEP MAC and underlay address from its
 * annotations; -1 when it has not published them (yet). */
int agent_overlay_peer_vtep(const cJSON *node, const char *cidr, char vtep[MK_NET_IP_STRLEN],
			    char mac[MK_NET_MAC_STRLEN], char pub[MK_NET_IP_STRLEN]);
/* Creates mk-vxlan if needed (with this node's VTEP address) and publishes its
 * MAC; 0 when ready. */
int agent_overlay_vxlan_ensure(struct mk_agent *a, struct mk_error **err);
/* A warning (log and Node event) once per peer and address. */
void agent_overlay_warn_once(struct mk_agent *a, const char *peer, const char *ip);

/* routes.c: cross-node pod routes from the Node informer */
int agent_routes_start(struct mk_agent *a, const char *cluster_cidr, struct mk_error **err);
void agent_routes_stop(struct mk_agent *a);

/* pvc.c: persistentVolumeClaim volumes and the removal of this node's deleted
 * local-path volumes. agent_pvc_volume resolves a pod volume (borrowed) to the
 * host directory of its bound volume (*ret_path owned, created 0777) and its
 * readOnly; EAGAIN while the claim is not bound. */
int agent_pvc_volume(struct mk_agent *a, const cJSON *pod, const cJSON *vol, char **ret_path,
		     bool *ret_read_only, struct mk_error **err);
/* Whether the pod's volume named name is a claim mounted readOnly. */
bool agent_pvc_read_only(const cJSON *pod, const char *name);
/* DATA_DIR/storage (owned): where this node's provisioned volumes live. */
char *agent_pvc_dir(struct mk_agent *a);
int agent_pvc_start(struct mk_agent *a, struct mk_error **err);
void agent_pvc_resync(struct mk_agent *a);
void agent_pvc_stop(struct mk_agent *a);
/* true if CIDR inner lies within CIDR outer ("10.244.3.0/24" in "10.244.0.0/16") */
bool agent_cidr_within(const char *outer, const char *inner);

/* volume.c: configMap, secret, downwardAPI and projected volumes, emptyDir on
 * tmpfs, subPath mounts */
/* true for the volumes whose files the agent writes (configMap, secret,
 * downwardAPI, projected): mounted read-only, refreshed on updates */
bool agent_volume_is_projected(const cJSON *vol);
/* Writes (or refreshes) such a volume of the pod under its pod directory; *ret_path
 * owned. EAGAIN: a referenced object does not exist (yet); the container waits. */
int agent_volume_project(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			 const cJSON *vol, char **ret_path, struct mk_error **err);
/* emptyDir at path: medium Memory becomes a tmpfs (sizeLimit as its size). */
int agent_volume_empty_dir(struct mk_agent *a, const cJSON *vol, const char *path,
			   struct mk_error **err);
/* Bind-mounts sub (resolved beneath vol_path, symlinks included) at a host path of
 * the pod's own for mount index idx of container ctr; *ret_path owned. */
int agent_volume_subpath(struct mk_agent *a, const char *uid, const char *ctr, size_t idx,
			 const char *vol_path, const char *sub, char **ret_path,
			 struct mk_error **err);
/* Rewrites the projected volumes already set up, from the current objects. */
void agent_volumes_refresh(struct mk_agent *a, struct pod_state *st, const cJSON *pod);
/* Unmounts everything under the pod's directory (tmpfs volumes, subPath binds). */
void agent_volumes_unmount(struct mk_agent *a, const char *uid);
/* ConfigMap and Secret informers: a change enqueues the pods that use it. */
int agent_volumes_start(struct mk_agent *a, struct mk_error **err);
void agent_volumes_stop(struct mk_agent *a);
/* Stops watching the ConfigMaps and Secrets no pod of this node uses any more
 * (every resync). */
void agent_volumes_gc(struct mk_agent *a);

#endif
