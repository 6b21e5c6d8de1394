/* minik8s proxy: the ClusterIP balancer. Services + Endpoints -> one nftables
 * table of our own ("ip minik8s") in the node's network namespace, programmed
 * over netlink (libnftnl + libmnl) in atomic batches.
 *
 * Layout (few chains, data in maps: DESIGN "Data plane notes"):
 *   map svc  { clusterIP . l4proto . port : verdict }   goto lb_N / reject / drop
 *            (LoadBalancer ingress addresses of Cluster-policy services too:
 *            goto xl_N); looked up first in chain services, so a ClusterIP's
 *            new connection costs one map lookup and no fib lookup
 *   map svx  the same for the LB addresses of externalTrafficPolicy Local
 *            services (goto lb_N), looked up after map scv
 *   map np   { l4proto . nodePort : verdict }           goto np_N (nl_N: Local)
 *   map ep   { ip . l4proto . port . index : endpointIP . endpointPort }
 *            (NodePorts use ip 0.0.0.0 and the node port; each frontend has
 *            its own endpoints: all, or this node's under a Local policy)
 *   map aff  { client . ip . l4proto . port : index }   dynamic, timeout
 *   chain lb_N  (one per distinct endpoint count N, not per service):
 *            dnat to (daddr . l4proto . dport . numgen random mod N) map @ep
 *   chains lba_N_T / np_N / npa_N_T: same with ClientIP affinity (timeout T
 *            seconds) and/or for NodePorts (fib daddr type local); xl_N (LB
 *            addresses) and np_N mark for masquerade, nl_N (Local NodePorts)
 *            does not, so the endpoint sees the client's address
 *   chain drop: a Local policy whose endpoints are all on other nodes
 *   map scv  { address . l4proto . port : verdict }     goto sc_N / scz_N
 *            the external frontends of Local services again, for traffic from
 *            the pods or the node itself (every endpoint, as kube-proxy does;
 *            their ep elements at index 0x80000000 + i)
 *   prerouting/output (nat, dstnat) jump services; postrouting (nat, srcnat)
 *            masquerades NodePort traffic, DNATed traffic that goes back out
 *            of the bridge it came in on (same-node pod -> service -> pod and
 *            hairpin, without br_netfilter), and pod egress leaving the
 *            cluster CIDR.
 * A change of one service costs a handful of set elements (plus, rarely, one
 * lb_N chain); a full sync replaces the table atomically in one batch.
 *
 * Thread-safety: a struct mk_proxy is used by one thread at a time (the runner
 * serialises its calls on one worker). Library code: nothing prints or exits.
 */
#ifndef MINIK8S_PROXY_H
#define MINIK8S_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"
#include "minik8s/client.h"

#define MK_PROXY_TABLE "minik8s"
#define MK_PROXY_DEFAULT_AFFINITY_TIMEOUT 10800 /* seconds, as Kubernetes */
#define MK_PROXY_MAX_ENDPOINTS 4096		  /* per service port */
/* Service annotation naming the node that holds a LoadBalancer pool address
 * (written by the servicelb controller, read by that node's balancer). */
#define MK_SERVICELB_NODE_ANN "servicelb.minik8s.io/node"

/* ---- desired state (pure model) ----------------------------------------------- */

struct mk_proxy_endpoint {
	uint32_t ip;	/* network byte order */
	uint16_t port;	/* host byte order */
};

struct mk_proxy_port {
	char *name;		/* service port name ("" when unnamed); owned */
	uint8_t protocol;	/* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	uint16_t port;		/* service port */
	uint16_t node_port;	/* 0: none */
	size_t n_endpoints;	/* ready endpoints, sorted, no duplicates */
	struct mk_proxy_endpoint *endpoints; /* owned */
	/* the subset of endpoints on this node (Endpoints addresses whose nodeName
	 * is the proxy's node), same order; used by the Local traffic policies */
	size_t n_local;
	struct mk_proxy_endpoint *local; /* owned */
};

struct mk_proxy_service {
	char *key;			/* "ns/name"; owned */
	uint32_t cluster_ip;		/* network byte order */
	uint32_t affinity_timeout;	/* ClientIP affinity timeout in seconds; 0: none */
	/* type LoadBalancer: status.loadBalancer.ingress[].ip (IPv4, sorted, no
	 * duplicates), each balanced on ip:port like the clusterIP */
	size_t n_lb_ips;
	uint32_t *lb_ips;		/* owned, network byte order */
	bool ext_local;			/* externalTrafficPolicy: Local (NodePort/LB only) */
	bool int_local;			/* internalTrafficPolicy: Local */
	uint16_t health_port;		/* healthCheckNodePort (with ext_local); 0: none */
	size_t n_ports;
	struct mk_proxy_port *ports;	/* owned */
};

/* A set of services (the whole desired state). */
struct mk_proxy_desired {
	size_t n, cap;
	struct mk_proxy_service **services; /* owned */
};

/* Builds the proxied view of a Service (JSON, borrowed) and its Endpoints
 * (JSON, borrowed, may be NULL: no endpoints). Service ports without a ready
 * endpoint port of the same name and protocol get 0 endpoints (rejected).
 * Returns 0 with *ret owned, or 0 with *ret NULL when the service is not
 * proxied (headless "None", ExternalName, no clusterIP, non-IPv4), or -1
 * (EINVAL) with *err for malformed objects. */
int mk_proxy_service_from_json(const cJSON *service, const cJSON *endpoints,
			       struct mk_proxy_service **ret, struct mk_error **err);
/* The same, for the proxy of node (borrowed; NULL: no endpoint is local):
 * fills each port's local endpoints from the addresses' nodeName. */
int mk_proxy_service_from_json_node(const cJSON *service, const cJSON *endpoints, const char *node,
				    struct mk_proxy_service **ret, struct mk_error **err);
/* Number of distinct local endpoint addresses of s (what the health check
 * node port reports as localEndpoints). */
size_t mk_proxy_service_local_count(const struct mk_proxy_service *s);
/* Deep copy (owned). */
struct mk_proxy_service *mk_proxy_service_dup(const struct mk_proxy_service *s);
/* true when a and b (either may be NULL) program the same rules. */
bool mk_proxy_service_equal(const struct mk_proxy_service *a, const struct mk_proxy_service *b);
void mk_proxy_service_free(struct mk_proxy_service *s); /* accepts NULL */

void mk_proxy_desired_init(struct mk_proxy_desired *d);
/* Moves s (owned) into d. */
void mk_proxy_desired_add(struct mk_proxy_desired *d, struct mk_proxy_service *s);
void mk_proxy_desired_release(struct mk_proxy_desired *d); /* frees the services */

/* ---- the programmer ------------------------------------------------------------ */

struct mk_proxy_options {
	int netns_fd;		/* netns to program (borrowed fd); -1: use netns_path */
	const char *netns_path;	/* e.g. "/run/netns/node1"; NULL with fd -1: the
				 * calling thread's netns */
	const char *cluster_cidr; /* pod CIDR for egress masquerade, "10.244.0.0/16";
				 * NULL: no egress masquerade rule */
	const char *bridge;	/* pod bridge name ("mk0"); NULL: no bridge rules */
	bool dry_run;		/* build batches but send nothing (tests, benchmarks) */
};

/* What the last sync or change did (counted while the batch was built). */
struct mk_proxy_stats {
	unsigned messages;	/* netlink messages in the batch (without begin/end) */
	unsigned elems_added;	/* set elements created */
	unsigned elems_deleted;	/* set elements deleted */
	unsigned chains_added, chains_deleted, rules_added;
	size_t bytes;		/* size of the batch */
	unsigned ct_deleted;	/* UDP conntrack entries flushed */
};

struct mk_proxy;

/* Opens netlink sockets inside the target netns. *ret owned (mk_proxy_free).
 * Nothing is programmed until mk_proxy_sync_full. */
int mk_proxy_new(const struct mk_proxy_options *opts, struct mk_proxy **ret,
		 struct mk_error **err);
void mk_proxy_free(struct mk_proxy *p); /* leaves the table in place; accepts NULL */

/* Replaces our table with the desired state in one atomic batch (add table,
 * delete table, recreate everything), converging whatever the kernel had.
 * d borrowed. On failure the proxy's record is marked stale (the next
 * mk_proxy_apply_change fails until a successful full sync). */
int mk_proxy_sync_full(struct mk_proxy *p, const struct mk_proxy_desired *d,
		       struct mk_error **err);
/* Brings the service key to svc (borrowed; NULL: the service is gone or not
 * proxied) with a batch of only the changed elements, computed against what
 * this proxy last programmed for key (it keeps that record, so callers need not
 * keep the old object). Removed UDP endpoints get their conntrack entries
 * flushed after the batch is committed. */
int mk_proxy_apply_change(struct mk_proxy *p, const char *key, const struct mk_proxy_service *svc,
			  struct mk_error **err);
/* Statistics of the last sync or change (borrowed). */
const struct mk_proxy_stats *mk_proxy_last_stats(const struct mk_proxy *p);
/* Number of services currently recorded as programmed. */
size_t mk_proxy_service_count(const struct mk_proxy *p);
/* 1 if our table exists in the kernel, 0 if not, -1 on error. */
int mk_proxy_table_exists(struct mk_proxy *p, struct mk_error **err);

/* Removes the LoadBalancer pool addresses recorded in state_file (see
 * mk_proxy_runner_options) from their interfaces, then the file; no error if
 * it does not exist: `minik8s down`. */
int mk_proxy_lb_addresses_remove(const char *state_file, struct mk_error **err);
/* Reads, in the calling thread's netns, what is programmed for cluster_ip
 * (network order): *ret (owned) is {"table", "present", "clusterIP",
 * "frontends": [{protocol, port, verdict, chain}] (map svc),
 * "endpoints": [{protocol, port, index, ip, targetPort, connections,
 * firstPacketBytes, activeConnections[, activePackets, activeBytes]}]} (map ep:
 * "connections" is the element's counter, bumped once per new connection by
 * the nat lookup; active* come from conntrack entries DNATed from cluster_ip,
 * packets/bytes only with nf_conntrack_acct on). Read-only; 0 or -1. */
int mk_proxy_kernel_read(uint32_t cluster_ip, cJSON **ret, struct mk_error **err);

/* Deletes our table from the netns (no error if absent): `minik8s down`. */
int mk_proxy_remove(const struct mk_proxy_options *opts, struct mk_error **err);

/* ---- the runner ------------------------------------------------------------------
 * Informers on services and endpoints (borrowed client, must outlive the
 * runner) feed a work queue keyed "ns/name"; one worker applies changes. A
 * monitor thread subscribed to nftables netlink notifications in the netns
 * queues a full resync when someone else changes or deletes our table (for
 * example `nft flush ruleset`); the runner also verifies the table every
 * resync_ms. */

struct mk_proxy_runner_options {
	struct mk_proxy_options proxy;
	unsigned resync_ms;	/* periodic check that our table exists; 0: 30 s */
	/* the node this balancer runs on (NULL: none; then nothing is local,
	 * no health check ports are served and no LB address is held) */
	const char *node_name;
	/* its InternalIP: LoadBalancer pool addresses held by this node are
	 * added to the interface that has it (NULL: none are) */
	const char *node_ip;
	/* file recording the pool addresses this node added ("IFNAME ADDRESS/32"
	 * lines), so that the next run and `minik8s down` remove what is left;
	 * NULL: none (the next run still removes known services' addresses) */
	const char *lb_state_file;
	/* the pods' cgroup parent (the runtime's, e.g. "/minik8s"): the socket
	 * LB's programs are attached to its cgroup2 directory (created if
	 * missing; never the root cgroup). NULL: no socket LB, everything goes
	 * through nftables. When the kernel refuses the programs, the runner
	 * logs why and runs with nftables alone. */
	const char *socklb_cgroup_parent;
};

struct mk_proxy_runner;

/* Starts informers, monitor and worker; waits (bounded, 30 s) for the caches
 * and performs the first full sync before returning. *ret owned (mk_proxy_stop). */
int mk_proxy_start(struct mk_client *c, const struct mk_proxy_runner_options *opts,
		   struct mk_proxy_runner **ret, struct mk_error **err);
/* Number of full syncs done so far (the first one included). Thread-safe. */
unsigned mk_proxy_runner_full_syncs(struct mk_proxy_runner *r);
/* Stops the threads and frees; leaves the table in place. Accepts NULL. */
void mk_proxy_stop(struct mk_proxy_runner *r);

/* ---- nftables batch buffer (shared with pkg/netpol) ----------------------------------- */

/* The netlink messages of one nftables transaction being built: a growable
 * buffer whose new bytes are zeroed (libnftnl writes attributes without
 * zeroing their padding). pkg/proxy and pkg/netpol build their batches in it;
 * it lives here as pkg/proxy is the larger user and pkg/netpol links it anyway. */
struct nlmsghdr;
struct mk_nlbuf {
	char *data;
	size_t len, cap;
	uint32_t seq; /* of the next message */
};
/* Room for need more bytes at the end (a pointer to it; moves data). Aborts
 * when out of memory, as mk_malloc0 does. */
char *mk_nlbuf_reserve(struct mk_nlbuf *b, size_t need);
/* Appends the message just built at mk_nlbuf_reserve's pointer. */
void mk_nlbuf_commit(struct mk_nlbuf *b, const struct nlmsghdr *nlh);
/* NFNL_MSG_BATCH_BEGIN / _END, with the next sequence numbers. */
void mk_nlbuf_batch_begin(struct mk_nlbuf *b);
void mk_nlbuf_batch_end(struct mk_nlbuf *b);
void mk_nlbuf_release(struct mk_nlbuf *b);
/* Whether table (family NFPROTO_*) exists, asked on nl (borrowed) with sequence
 * number seq: 1 yes, 0 no, -1 with *err. */
struct mnl_socket;
int mk_nft_table_exists(struct mnl_socket *nl, uint32_t seq, uint16_t family, const char *table,
			struct mk_error **err);


/* ---- socket-level balancing (eBPF, pkg/proxy/socklb.c) -------------------------
 * Pods' connect() / UDP sendmsg() to a ClusterIP:port are rewritten to an
 * endpoint inside the kernel's socket layer (cgroup sock_addr hooks on the pods'
 * cgroup2 subtree), so their packets skip the nft DNAT path. Only ClusterIP
 * frontends of TCP and UDP ports with at least one endpoint (the local ones under
 * internalTrafficPolicy Local) and no session affinity are handled; the rest, and
 * everything not sent from a pod (host processes, NodePorts, LB addresses,
 * external traffic), stays on the nftables path. */

/* One frontend the socket LB balances: ClusterIP . protocol . port and its
 * endpoints (borrowed from the service). */
struct mk_proxy_socklb_frontend {
	uint32_t ip;	/* network byte order */
	uint16_t port;	/* host byte order */
	uint8_t protocol;
	size_t n;
	const struct mk_proxy_endpoint *eps;
};

/* The frontends of s (NULL: none) the socket LB handles, at most max, into out;
 * returns their number. */
size_t mk_proxy_socklb_frontends(const struct mk_proxy_service *s,
				 struct mk_proxy_socklb_frontend *out, size_t max);

enum mk_proxy_socklb_op_kind {
	MK_SOCKLB_SET_BACKEND,	/* write endpoint ep at index of frontend fe */
	MK_SOCKLB_ADD_COUNTER,	/* create fe/ep's connection counter (0) */
	MK_SOCKLB_SET_FRONTEND,	/* write fe with count endpoints */
	MK_SOCKLB_DEL_FRONTEND,
	MK_SOCKLB_DEL_BACKEND,	/* delete index of fe */
	MK_SOCKLB_DEL_COUNTER,	/* delete fe/ep's counter */
};

struct mk_proxy_socklb_op {
	enum mk_proxy_socklb_op_kind kind;
	uint32_t fe_ip;		/* network byte order */
	uint16_t fe_port;	/* host byte order */
	uint8_t protocol;
	uint32_t index;		/* SET/DEL_BACKEND */
	uint32_t count;		/* SET_FRONTEND */
	struct mk_proxy_endpoint ep; /* SET_BACKEND, ADD/DEL_COUNTER */
};

/* The map writes that take the kernel from service old to new (either NULL),
 * in an order that keeps every state seen by a concurrent connect() valid: a
 * frontend's count only covers written backends (backends are written before
 * the count grows and deleted after it shrinks). *ret owned (free), *ret_n ops. */
void mk_proxy_socklb_plan(const struct mk_proxy_service *old, const struct mk_proxy_service *new,
			  struct mk_proxy_socklb_op **ret, size_t *ret_n);

/* The balancer itself (the runner makes one when socklb_cgroup_parent is set;
 * bench/proxy/proxyctl drives one directly). Used by one thread at a time. */
struct mk_proxy_socklb;
/* The cgroup2 directory of a cgroup parent as runc places it (absolute, or
 * relative to this process' cgroup2 cgroup) into *ret (owned); refuses the root
 * cgroup. 0 or -1 (ENOTSUP without a cgroup2 mount). */
int mk_proxy_socklb_cgroup_path(const char *parent, char **ret, struct mk_error **err);
/* Loads the programs and attaches them (BPF links, nothing pinned) to the
 * cgroup2 directory cgroup, created if missing. NULL with *err when the kernel
 * refuses. Owned: mk_proxy_socklb_free. */
struct mk_proxy_socklb *mk_proxy_socklb_new(const char *cgroup, struct mk_error **err);
/* Brings service key to svc (borrowed; NULL: gone or not proxied) in the maps,
 * computed against what this balancer last wrote for key. */
int mk_proxy_socklb_apply(struct mk_proxy_socklb *l, const char *key,
			  const struct mk_proxy_service *svc, struct mk_error **err);
/* The whole desired state (d borrowed); on failure the maps are emptied (the
 * nft path serves everything) and -1 returned, for a retry. */
int mk_proxy_socklb_sync_full(struct mk_proxy_socklb *l, const struct mk_proxy_desired *d,
			      struct mk_error **err);
/* The cgroup2 directory it is attached to (borrowed). */
const char *mk_proxy_socklb_cgroup(const struct mk_proxy_socklb *l);
/* Detaches (closes the links), frees maps and programs; accepts NULL. */
void mk_proxy_socklb_free(struct mk_proxy_socklb *l);

/* Reads the socket LB's programmed frontends and per-endpoint connection
 * counters for cluster_ip (network order) from the balancer running in this
 * process: *ret (owned) is {"attached", "cgroup", "frontends": [{protocol,
 * port, endpoints}], "endpoints": [{protocol, port, ip, targetPort,
 * connections}]}, or NULL when no socket LB runs here. 0 or -1. */
int mk_proxy_socklb_read(uint32_t cluster_ip, cJSON **ret, struct mk_error **err);

#endif
