/* minik8s netpol: NetworkPolicy (networking.k8s.io/v1) enforced in the kernel on
 * every node, for the pods of that node. Pods, Namespaces and NetworkPolicies
 * -> a ruleset (sets of addresses and rules over them, pkg/netpol/model.c) ->
 * nftables over netlink (libnftnl + libmnl) in atomic batches.
 *
 * Where the packets are judged. The proxy turns br_netfilter off in the node's
 * namespace (and this kernel may have no bridge conntrack), so frames between
 * two pods of one node are bridged by mk0 and never meet the IPv4 hooks. Our
 * table `bridge minik8s-netpol` therefore diverts them: at bridge prerouting, a
 * unicast IPv4 frame between two pod addresses that the bridge would forward
 * to another port gets mk0's MAC as destination and packet type
 * host, so it is routed by the node (and tracked by conntrack) like traffic to
 * other nodes and through ClusterIPs. The match is on the bridge's own subnet
 * (the node's pod CIDR; the cluster CIDR if the bridge has no address), so a
 * bridge of another agent in the same namespace is left alone. Our table `inet minik8s-netpol` then judges:
 *   forward (filter, priority 0, after the proxy's DNAT: pod addresses):
 *     ct state established,related accept     (replies; policy changes keep
 *                                               established connections)
 *     ip saddr @egr_iso jump egress           (source on this node isolated)
 *     ip daddr @ing_iso jump ingress          (destination on this node isolated)
 *   input: the same egress check for pods reaching the node itself (the
 *     cluster DNS responder lives on every node at the kube-dns ClusterIP).
 *   ingress / egress: one rule per (policy rule, port, peer) matching sets
 *     shared by selector: subject pods, peer pods, ipBlock ranges with their
 *     excepts, address . protocol . port (named ports resolved per pod); a
 *     match accepts (ingress) or returns (egress); the chain ends with drop.
 * So egress is enforced on the source's node, ingress on the destination's.
 * Traffic from the node to its pods (probes) is not judged, as upstream allows.
 *
 * Set and rule names depend only on the policies: a pod or namespace change
 * (labels, a new pod) changes set elements only, sent as a diff of the sets the
 * kept model touched against what was programmed; a policy change replaces both
 * tables in one atomic batch. The
 * tables stay when the agent stops, so a restart opens no window; the first
 * sync of the next agent replaces them atomically.
 *
 * Thread-safety: a struct mk_netpol is used by one thread (the runner's worker).
 * Library code: nothing prints or exits. IPv4 only (as the rest of minik8s). */
#ifndef MINIK8S_NETPOL_H
#define MINIK8S_NETPOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"
#include "minik8s/client.h"

#define MK_NETPOL_TABLE "minik8s-netpol"

/* ---- the model (pure) ----------------------------------------------------------- */

enum mk_netpol_set_type {
	MK_NETPOL_SET_ADDR,	 /* ipv4_addr, exact */
	MK_NETPOL_SET_RANGES,	 /* ipv4_addr, intervals */
	MK_NETPOL_SET_ADDR_PORT, /* ipv4_addr . inet_proto . inet_service, exact */
};

struct mk_netpol_range {
	uint32_t lo, hi; /* host byte order, inclusive */
};

struct mk_netpol_addr_port {
	uint32_t addr; /* host byte order */
	uint8_t proto; /* IPPROTO_TCP / UDP / SCTP */
	uint16_t port;
};

struct mk_netpol_set {
	char name[40];
	enum mk_netpol_set_type type;
	size_t n;			  /* elements, sorted, no duplicates or overlaps */
	uint32_t *addrs;		  /* ADDR (owned) */
	struct mk_netpol_range *ranges;	  /* RANGES (owned), merged */
	struct mk_netpol_addr_port *aps;  /* ADDR_PORT (owned) */
	/* 0, or a process-wide stamp of the elements: two sets with the same
	 * nonzero gen hold the same elements (the programmer skips them). */
	uint64_t gen;
};

/* One rule of chain ingress or egress. Ingress: daddr in subject, saddr in peer,
 * the port on the destination; egress: saddr in subject, daddr in peer. Sets
 * are shared between rules: a subject set per (namespace, podSelector), a peer
 * set per (namespace scope, podSelector) and per ipBlock, a named-port set per
 * (the pods it is resolved on, name, protocol); a rule with several peers is
 * one rule per peer. */
struct mk_netpol_rule {
	bool egress;
	int subject;	   /* set index: the local pods the policy selects */
	int peer;	   /* set index (ADDR: pods, RANGES: ipBlock), -1: any address */
	uint8_t proto;	   /* 0: every protocol and port */
	uint16_t port_lo, port_hi; /* with proto and named -1; 0-65535: every port */
	int named;	   /* set index (ADDR_PORT): daddr . proto . dport; -1: none */
	char *origin;	   /* "ns/policy ingress[0] ports[1]" (owned) */
};

/* Sets 0 and 1 are always ing_iso and egr_iso: the local pods isolated for
 * ingress and for egress. */
struct mk_netpol_ruleset {
	size_t nsets, nrules;
	struct mk_netpol_set *sets;   /* owned */
	struct mk_netpol_rule *rules; /* owned, in chain order */
};
#define MK_NETPOL_SET_ING_ISO 0
#define MK_NETPOL_SET_EGR_ISO 1

/* What the model is built from: the JSON objects (borrowed) of every
 * NetworkPolicy, Pod and Namespace of the cluster, and this node's name (a
 * pod is local when its spec.nodeName is node). Pods without status.podIP,
 * with hostNetwork, or Succeeded/Failed are not policy subjects or peers. */
struct mk_netpol_input {
	const char *node;
	const cJSON *const *policies;
	size_t npolicies;
	const cJSON *const *pods;
	size_t npods;
	const cJSON *const *namespaces;
	size_t nnamespaces;
};

/* Builds the ruleset from scratch (the full rebuild); malformed policies are
 * skipped (they cannot pass the API server's validation). 0, or -1 with *err.
 * *ret initialised either way. */
int mk_netpol_model_build(const struct mk_netpol_input *in, struct mk_netpol_ruleset *ret,
			  struct mk_error **err);

/* The model kept between events (the runner's): the same ruleset as
 * mk_netpol_model_build over the same objects, brought up to date per event.
 * A pod event costs one selector match per set, a namespace label change that
 * for each of its pods, a policy change a rebuild of the sets and rules from
 * the policies in which only sets with a new selector are filled from the pods.
 * Objects are borrowed for the call; keys are the informer's ("ns/name" for
 * pods and policies, the name for namespaces). */
struct mk_netpol_model;
struct mk_netpol_model *mk_netpol_model_new(const char *node); /* owned; empty */
void mk_netpol_model_free(struct mk_netpol_model *m);		/* accepts NULL */
/* Replaces everything the model knows with in (in->node is ignored: the
 * model's node counts). The start-up path. */
int mk_netpol_model_load(struct mk_netpol_model *m, const struct mk_netpol_input *in,
			 struct mk_error **err);
/* obj NULL: deleted. true when the ruleset may have changed. */
bool mk_netpol_model_set_pod(struct mk_netpol_model *m, const char *key, const cJSON *pod);
bool mk_netpol_model_set_namespace(struct mk_netpol_model *m, const char *name, const cJSON *ns);
bool mk_netpol_model_set_policy(struct mk_netpol_model *m, const char *key, const cJSON *pol);
/* The current ruleset (borrowed; valid until the next call on m). */
const struct mk_netpol_ruleset *mk_netpol_model_ruleset(const struct mk_netpol_model *m);
void mk_netpol_ruleset_release(struct mk_netpol_ruleset *rs);
/* true when a and b have the same sets (names and types) and rules: only
 * elements differ. */
bool mk_netpol_ruleset_same_shape(const struct mk_netpol_ruleset *a,
				  const struct mk_netpol_ruleset *b);
/* What the kernel rules decide for a new connection (addresses in host byte
 * order, proto IPPROTO_*, port the destination port; 0 for ICMP): the same
 * evaluation, for the tests. */
bool mk_netpol_ruleset_allows(const struct mk_netpol_ruleset *rs, uint32_t src, uint32_t dst,
			      uint8_t proto, uint16_t port);
/* Index of the set named name, or -1. */
int mk_netpol_ruleset_find_set(const struct mk_netpol_ruleset *rs, const char *name);

/* ---- the programmer --------------------------------------------------------------- */

struct mk_netpol_options {
	int netns_fd;		  /* netns to program (borrowed); -1: netns_path */
	const char *netns_path;	  /* NULL with fd -1: the calling thread's netns */
	const char *cluster_cidr; /* "10.244.0.0/16": diverted when the bridge has no address */
	const char *bridge;	  /* the pod bridge ("mk0") */
	bool dry_run;		  /* build batches but send nothing (benchmarks) */
};

struct mk_netpol_stats {
	unsigned messages;	 /* netlink messages in the last batch */
	unsigned elems_added, elems_deleted;
	unsigned rules_added;
	bool full;		 /* the last batch replaced the tables */
	size_t bytes;
};

struct mk_netpol;

int mk_netpol_new(const struct mk_netpol_options *opts, struct mk_netpol **ret,
		  struct mk_error **err);
void mk_netpol_free(struct mk_netpol *np); /* leaves the tables; accepts NULL */
/* Brings the kernel to rs (borrowed): element diff when the shape is the one
 * programmed last, else both tables replaced in one atomic batch. */
int mk_netpol_apply(struct mk_netpol *np, const struct mk_netpol_ruleset *rs,
		    struct mk_error **err);
/* Forgets what was programmed: the next apply replaces the tables. */
void mk_netpol_invalidate(struct mk_netpol *np);
const struct mk_netpol_stats *mk_netpol_last_stats(const struct mk_netpol *np);
/* 1 if our inet table exists, 0 if not, -1 on error. */
int mk_netpol_table_exists(struct mk_netpol *np, struct mk_error **err);
/* Deletes both tables (no error when absent): `minik8s down`. */
int mk_netpol_remove(const struct mk_netpol_options *opts, struct mk_error **err);

/* ---- the runner ------------------------------------------------------------------
 * Informers on NetworkPolicies, Pods and Namespaces (borrowed client) queue the
 * object's key; the worker updates the model it keeps (struct mk_netpol_model)
 * for that object and applies the ruleset (a burst of keys once); every
 * resync_ms it checks that the table is there (someone may flush the ruleset). */
struct mk_netpol_runner_options {
	struct mk_netpol_options np;
	const char *node_name;
	unsigned resync_ms; /* 0: 1 s (two netlink GETs: a flushed ruleset must not
			     * leave the pods open for long) */
};
struct mk_netpol_runner;
/* Starts the informers, waits (bounded) for them and programs the first
 * ruleset before returning. */
int mk_netpol_start(struct mk_client *c, const struct mk_netpol_runner_options *o,
		    struct mk_netpol_runner **ret, struct mk_error **err);
/* Number of applies done (thread-safe). */
unsigned mk_netpol_runner_applies(struct mk_netpol_runner *r);
void mk_netpol_stop(struct mk_netpol_runner *r); /* leaves the tables; accepts NULL */

#endif
