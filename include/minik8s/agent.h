/* minik8s agent: the node agent (the kubelet's job).
 *
 * An API client like every other part (DESIGN principle 2). It
 *   - registers its Node (addresses, capacity, nodeInfo, podCIDR read back from the
 *     API server, which assigns one) and keeps the Ready condition fresh with a
 *     heartbeat,
 *   - watches the pods bound to it (fieldSelector spec.nodeName=NODE) into an
 *     informer cache and reconciles each pod by uid on a work queue (principle 3):
 *     sandbox (network namespace, veth on the node bridge, an address from the
 *     node's pod CIDR, /etc/hosts, /etc/resolv.conf, hostname), images
 *     (imagePullPolicy, ErrImagePull / ImagePullBackOff), containers through the
 *     runc runtime (one overlay rootfs each), restartPolicy with the kubelet's
 *     back-off, readiness and liveness probes, and the pod status,
 *   - terminates pods marked for deletion (SIGTERM, grace period, SIGKILL),
 *     removes everything they had on the node, then deletes them from the API,
 *   - carries pods' traffic to the other nodes with a flannel-style backend
 *     (overlay.c, routes.c): routes to their pod CIDRs via their InternalIPs on one
 *     L2, through the VXLAN device mk-vxlan to nodes on other networks, runs the
 *     node's ClusterIP balancer (pkg/proxy) and cluster DNS responder (pkg/dns),
 *   - at start, adopts what a previous agent left running for pods that still
 *     exist and removes everything else (containers, namespaces, addresses, pod
 *     directories, veths).
 *
 * On-disk layout (paths from struct mk_agent_options):
 *   DATA/images/            image store (include/minik8s/image.h)
 *   DATA/ipam/pods.ipam     the pod address allocator (keyed by pod uid)
 *   DATA/podcidr            the node's pod CIDR, asked for again on re-registration
 *   DATA/pods/<uid>/        hosts, resolv.conf, hostname; containers/<id>/ rootfs
 *                           volumes/<name>/ (emptyDir, configMap, secret, ...; tmpfs
 *                           for medium Memory, secret and projected volumes),
 *                           volume-subpaths/<container>/<n> (subPath bind mounts)
 *   RUN/runc                runc --root
 *   RUN/containers/<id>/    runtime state, container logs (include/minik8s/runtime.h)
 *   NETNS/mkp-<uid>         the pods' network namespaces
 * Container ids are "<pod uid>-<8 hex of the container name>-<restart count>".
 *
 * Threads: the pod informer, the sync workers, a heartbeat/resync thread, an exit
 * watcher (pidfds of the containers' shims), the runtime's reaper and the event
 * recorder. Library code: nothing here prints or exits. */
#ifndef MINIK8S_AGENT_H
#define MINIK8S_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include "minik8s/util.h"
#include "minik8s/client.h"

#define MK_AGENT_KUBELET_VERSION "v1.32.0-minik8s"
#define MK_AGENT_DEFAULT_DATA_DIR "/var/lib/minik8s"
#define MK_AGENT_DEFAULT_RUN_DIR "/run/minik8s"
#define MK_AGENT_DEFAULT_CGROUP_PARENT "/minik8s"
#define MK_AGENT_DEFAULT_CLUSTER_DNS "10.96.0.10"
#define MK_AGENT_DEFAULT_CLUSTER_DOMAIN "cluster.local"
#define MK_AGENT_MAX_PODS 110
/* the log/exec port every node serves (the kubelet's), unless its Node says otherwise */
#define MK_AGENT_STREAM_DEFAULT_PORT 10250

/* Everything borrowed (copied by mk_agent_start). */
struct mk_agent_options {
	const char *node_name;	       /* required */
	const char *node_ip;	       /* InternalIP; NULL: the first non-loopback IPv4
					* address of this network namespace, else 127.0.0.1 */
	const char *data_dir;	       /* NULL: MK_AGENT_DEFAULT_DATA_DIR */
	const char *run_dir;	       /* NULL: MK_AGENT_DEFAULT_RUN_DIR (<= 60 bytes) */
	const char *netns_dir;	       /* NULL: RUN/netns */
	const char *cgroup_parent;     /* NULL: MK_AGENT_DEFAULT_CGROUP_PARENT */
	const char *bridge;	       /* NULL: "mk0" */
	const char *cluster_dns;       /* NULL: MK_AGENT_DEFAULT_CLUSTER_DNS */
	const char *cluster_domain;    /* NULL: MK_AGENT_DEFAULT_CLUSTER_DOMAIN */
	const char *registries_config; /* NULL: DATA/registries.yaml if it exists */
	const char *runc_path;	       /* NULL: runc from PATH */
	const char *images_dir;	       /* archives imported at start; NULL: DATA/agent/images */
	unsigned backoff_base_ms;      /* container restart and image pull back-off: first
					* delay, doubling up to backoff_max_ms; 0: 10 s */
	unsigned backoff_max_ms;       /* 0: 300 s */
	unsigned heartbeat_ms;	       /* node Lease renewal; 0: 10 s (status: every 5 min) */
	unsigned resync_ms;	       /* every pod re-synced at least this often; 0: 10 s */
	unsigned workers;	       /* pod sync workers; 0: 32 (a burst of pods starts
					* together, as the kubelet runs one worker per pod) */
	uint16_t stream_port;	       /* log/exec server port (pkg/agent/stream.h); 0: 10250 */
	const char *stream_address;    /* its bind address; NULL: 0.0.0.0 */
	const char *stream_client_ca;  /* cluster CA file the API server's client
					* certificate is checked against; NULL: no server */
	bool disable_stream;	       /* do not start the log/exec server */
	const char *cluster_cidr;      /* pods of every node (egress masquerade); NULL:
					* "10.244.0.0/16" */
	bool disable_proxy;	       /* no ClusterIP balancer (nftables) on this node */
	bool disable_socket_lb;	       /* no socket-level balancing (eBPF on the pods'
					* cgroup, pkg/proxy/socklb.c): pods' ClusterIP
					* traffic goes through nftables DNAT too */
	bool disable_network_policy;   /* no NetworkPolicy enforcement (pkg/netpol) here */
	bool disable_dns;	       /* no cluster DNS responder on this node */
	/* how pods reach pods on other nodes (k3s' --flannel-backend): "vxlan",
	 * "host-gw", "none" or "wireguard-native" (refused: see README); NULL: the
	 * cluster's choice (the net-conf the server's node publishes), else vxlan
	 * with direct routes to peers on the same subnet (flannel's DirectRouting) */
	const char *flannel_backend;
	const char *flannel_iface;     /* underlay link; NULL: the one holding node_ip */
	bool flannel_publish;	       /* publish flannel_backend as the cluster's choice
					* (the server's own agent) */
};

struct mk_agent;

/* Registers the node, starts every thread, waits (bounded, 30 s) for the pod
 * cache and adopts or removes what an earlier agent left. c is borrowed and must
 * outlive the agent. Makes this process a child subreaper. *ret owned
 * (mk_agent_stop). */
int mk_agent_start(struct mk_client *c, const struct mk_agent_options *opts,
		   struct mk_agent **ret, struct mk_error **err);
/* Checks what can be checked before anything starts: the flannel backend (an
 * unknown name; wireguard-native: EOPNOTSUPP, saying whether the kernel lacks
 * WireGuard). mk_agent_start checks the same. */
int mk_agent_options_check(const struct mk_agent_options *opts, struct mk_error **err);
/* Stops the agent's threads and frees it. Pods keep running (a new agent adopts
 * them). Accepts NULL. */
void mk_agent_stop(struct mk_agent *a);

/* The pod CIDR the node got (borrowed, valid for the agent's lifetime). */
const char *mk_agent_pod_cidr(const struct mk_agent *a);

/* Removes what an agent with these options made on this machine, running or not
 * (`minik8s down`): containers and shims, pod overlay and namespace mounts, pod
 * network namespaces and their veths, the bridge, the cluster DNS address, routes
 * to other nodes, the VXLAN device mk-vxlan, the nftables table, the cgroup parent
 * and the run directory. The data directory (state, images) is left alone. Best
 * effort: every step is tried; returns -1 with the first error if any failed. */
int mk_agent_node_teardown(const struct mk_agent_options *opts, struct mk_error **err);

/* ---- helpers (pure; exported for tests) ------------------------------------ */

/* A Kubernetes resource quantity ("128Mi", "1G", "500m", "2", "1.5") scaled by
 * milli (1000 for CPU in millicores, 1 for bytes). -1 if malformed. */
int64_t mk_agent_quantity_parse(const char *s, int milli);
/* The back-off before restart number n (n >= 1 restarts done so far): 0 for the
 * first restart, then base, 2*base, ... capped at max (the kubelet's rule). */
uint64_t mk_agent_backoff_ms(unsigned restarts, unsigned base_ms, unsigned max_ms);
/* The Services whose variables a container gets (the kubelet's getServiceEnvVarMap):
 * kubernetes (default/kubernetes, may be NULL) always, unless links and ns_services
 * (the pod's namespace's, a JSON array) holds its own "kubernetes"; all of ns_services
 * with a ClusterIP when links (spec.enableServiceLinks not false). New array, owned. */
cJSON *mk_agent_service_env_pick(const cJSON *kubernetes, const cJSON *ns_services, bool links);
/* Calls set for each variable the kubelet derives from services (a JSON array):
 * NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME], NAME_PORT[_<port>_<PROTO>[_PROTO,
 * _PORT, _ADDR]] (envvars.FromServices). Pure. */
void mk_agent_service_env(const cJSON *services,
			  void (*set)(void *ctx, const char *name, const char *value), void *ctx);

/* ---- what a pod spec asks of the node (security.c, resources.c) ---------------- */

/* A container's effective securityContext as the runtime applies it. */
struct mk_agent_security {
	uint32_t uid, gid;
	uint32_t *groups;	/* additional gids, sorted, owned */
	size_t n_groups;
	char **caps;		/* "CAP_X" list, NULL-terminated (maybe empty), owned */
	bool privileged;
	bool no_new_privileges;	/* allowPrivilegeEscalation: false */
	bool readonly_rootfs;
	int64_t fs_group;	/* pod's fsGroup, -1 if none */
};
/* Resolves container c of pod: the container's securityContext over the pod's,
 * the image's user (image_user, "uid[:gid]" or "name[:group]", looked up in
 * ROOTFS/etc/passwd and /etc/group; rootfs may be NULL), supplementalGroups,
 * fsGroup, capabilities (containerd's defaults; add/drop, "ALL"), privileged,
 * allowPrivilegeEscalation, readOnlyRootFilesystem. EPERM with the kubelet's
 * message when runAsNonRoot forbids the user (a CreateContainerConfigError);
 * EINVAL for an unknown image user. *ret owned: mk_agent_security_release. */
int mk_agent_security_resolve(const cJSON *pod, const cJSON *c, const char *image_user,
			      const char *rootfs, struct mk_agent_security *ret, struct mk_error **err);
void mk_agent_security_release(struct mk_agent_security *s);
/* containerd's default capability set and every capability (static lists). */
const char *const *mk_agent_caps_default(void);
const char *const *mk_agent_caps_all(void);
/* fsGroup on a volume directory: every file gets group fs_group and group
 * read/write (readonly: read), directories setgid (kubelet SetVolumeOwnership).
 * on_root_mismatch: fsGroupChangePolicy OnRootMismatch (skip when the root is
 * already right). fs_group < 0: nothing. */
int mk_agent_volume_ownership_set(const char *dir, int64_t fs_group, bool on_root_mismatch,
				  bool readonly, struct mk_error **err);

/* A container's cgroup limits from its resources (the kubelet's
 * calculateLinuxResources): memory limit in bytes (0 none), CPU shares from the
 * request (the limit when no request; 2 when neither), CFS quota from the limit
 * (period 100000 us; 0 none, at least 1000). */
struct mk_agent_limits {
	int64_t memory;
	uint64_t cpu_shares;
	int64_t cpu_quota;
	uint64_t cpu_period;
};
void mk_agent_limits_compute(const cJSON *c, struct mk_agent_limits *ret);
/* Node status.allocatable from status.capacity, as a kubelet with k3s' defaults
 * computes it: no kube/system reservations, minus the hard eviction thresholds
 * (memory.available 100Mi, nodefs.available 10%); cpu and pods as they are.
 * Owned. */
cJSON *mk_agent_node_allocatable(const cJSON *capacity);
/* cgroup v2 cpu.weight for CPU shares (runc's conversion of the kubelet's shares). */
uint64_t mk_agent_cpu_weight(uint64_t shares);

/* One init container as the init sequence sees it (kubelet's
 * computeInitContainerActions, reduced to a single node agent). */
struct mk_agent_init_view {
	bool sidecar;	      /* restartPolicy: Always */
	bool running;	      /* its runtime container runs now */
	bool started;	      /* running and its startup probe (if any) succeeded */
	bool completed;	      /* exited 0: never runs again */
	bool failed;	      /* exited non-zero and will not be restarted */
};
enum mk_agent_init_step {
	MK_AGENT_INIT_DONE,   /* every regular one completed, every sidecar started */
	MK_AGENT_INIT_WAIT,   /* *ret_index runs (or starts up): wait for it */
	MK_AGENT_INIT_START,  /* *ret_index is next: start or restart it */
	MK_AGENT_INIT_FAILED, /* *ret_index failed for good: the pod fails */
};
/* The next step of the init sequence over v[0..n) in spec order. */
enum mk_agent_init_step mk_agent_init_next(const struct mk_agent_init_view *v, size_t n,
					   size_t *ret_index);

/* Counts the pod phase is computed from (kubelet getPhase). Sidecars and
 * ephemeral containers are not counted among the apps. */
struct mk_agent_phase_input {
	bool init_failed;     /* an init container failed under restartPolicy Never */
	bool initialized;     /* the init sequence is done */
	int apps;	      /* spec.containers */
	int apps_pending;     /* never started yet */
	int apps_done;	      /* terminated for good */
	int apps_failed;      /* of those, with a non-zero exit code */
};
/* "Pending", "Running", "Succeeded" or "Failed" (static string). */
const char *mk_agent_pod_phase(const struct mk_agent_phase_input *in);

/* ---- pod volumes (volume.c) -------------------------------------------------------
 * configMap, secret, downwardAPI and projected volumes are directories the agent
 * writes the way the kubelet's atomic writer does, so a running container sees an
 * update as a whole: the files live in a timestamped directory "..2026_12_04_...",
 * a symlink "..data" names the current one and is replaced by rename(2), and each
 * top-level name of the payload is a symlink "KEY -> ..data/KEY". */
struct mk_agent_volume_file {
	const char *path;	/* relative to the volume's root (mk_agent_volume_path_check) */
	const void *data;
	size_t len;
	unsigned mode;		/* permission bits, 0..0777 */
};
/* Makes DIR hold exactly files[0..n): unchanged when the current ..data directory
 * has the same paths, contents, modes and group (*ret_changed false), else a new
 * timestamped directory, the ..data swap, the top-level symlinks, stale symlinks
 * and the old directory removed. DIR is created if missing. gid >= 0 (the pod's
 * fsGroup): the group of the files and directories written. */
int mk_agent_volume_write_atomic(const char *dir, const struct mk_agent_volume_file *files,
				 size_t n, long gid, bool *ret_changed, struct mk_error **err);
/* NULL if path may name a file in a volume (relative, no ".." element, not
 * starting with ".."), else why not (static string). */
const char *mk_agent_volume_path_check(const char *path);
/* A label or annotation map as a downwardAPI file: key="value" lines sorted by key,
 * values quoted as Go's %q, joined by newlines. Owned result. */
char *mk_agent_volume_map_format(const cJSON *map);
/* Whether a projected service account token issued at issued_ms that expires at
 * expires_ms (wall ms) is to be requested again at now_ms: once 80% of its lifetime
 * has passed, or when older than 24 h (the kubelet's token manager). */
bool mk_agent_volume_token_due(int64_t issued_ms, int64_t expires_ms, int64_t now_ms);

#endif
