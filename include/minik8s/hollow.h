/* Hollow nodes (the idea of kubemark's hollow kubelet): N simulated nodes in one
 * process, each a real API client of its own, so the control plane can be measured
 * at 100 or 1,000 nodes on one machine.
 *
 * Each hollow node does what a kubelet does to the API and nothing to the host:
 *   - asks for its own node credential (system:node:NAME, like a real agent: the
 *     Node authorizer limits it to its own objects) and registers its Node
 *     (capacity, nodeInfo, the label minik8s.io/hollow=true, InternalIP the
 *     given address);
 *   - renews its Lease in kube-node-lease (renewals spread over the period);
 *   - watches the pods bound to it (its own informer: fieldSelector
 *     spec.nodeName=NAME, so the API server fans out one watch per node as it does
 *     for real kubelets) and reports each as Running and Ready with an address from
 *     its pod CIDR, without running anything;
 *   - deletes its pods marked for deletion (grace period 0, uid precondition), as
 *     the kubelet does once their containers are gone.
 * Nothing is created on the host: no network namespace, container or route. The
 * nodes stay registered when the process stops (as with a stopped agent: the node
 * lifecycle controller marks them NotReady). Library code: nothing here prints. */
#ifndef MINIK8S_HOLLOW_H
#define MINIK8S_HOLLOW_H

#include <stdint.h>
#include "minik8s/client.h"
#include "minik8s/util.h"

#define MK_HOLLOW_LABEL "minik8s.io/hollow"

/* Everything borrowed (copied by mk_hollow_start). */
struct mk_hollow_options {
	unsigned count;		 /* nodes, >= 1 */
	const char *prefix;	 /* node names PREFIX-0 .. PREFIX-(count-1); NULL: "hollow" */
	const char *node_ip;	 /* every node's InternalIP; NULL: 127.0.0.1 */
	const char *cred_dir;	 /* node credentials kept here (0600); required */
	unsigned heartbeat_ms;	 /* Lease renewal period; 0: 10 s */
	unsigned workers;	 /* pod status writers; 0: 4 */
	unsigned max_pods;	 /* status.capacity.pods; 0: 110 */
};

struct mk_hollow_stats {
	unsigned nodes;		  /* registered */
	uint64_t pods_running;	  /* pods reported Running (cumulative) */
	uint64_t pods_deleted;	  /* pods deleted after their deletion mark */
	uint64_t lease_renewals;
	uint64_t write_errors;
};

struct mk_hollow;

/* Registers the nodes with bootstrap (a client config holding the join token or
 * an admin token; each node gets a copy with its own credential) and starts them.
 * Returns when every node is registered and watching. *ret owned (mk_hollow_stop). */
int mk_hollow_start(const struct mk_client_config *bootstrap, const struct mk_hollow_options *o,
		    struct mk_hollow **ret, struct mk_error **err);
void mk_hollow_get_stats(struct mk_hollow *h, struct mk_hollow_stats *ret);
/* Stops every thread and frees. Nodes stay registered. Accepts NULL. */
void mk_hollow_stop(struct mk_hollow *h);

#endif
