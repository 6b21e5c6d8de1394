/* minik8s trace: the way a connection to a Service takes, as one JSON view
 * (`minik8s trace` and the /ui/ page both show it). Pure: the API objects and
 * what each node's agent read from its kernel go in, the view comes out. */
#ifndef MINIK8S_TRACE_H
#define MINIK8S_TRACE_H

#include <cjson/cJSON.h>

/* Builds the view of service (borrowed Service JSON) from slices (borrowed JSON
 * array of its EndpointSlices, may be NULL) and nodes (borrowed JSON object:
 * node name -> the agent's answer to /trace/service, i.e. {"kernel": the
 * mk_proxy_kernel_read view, "dns": {...}} or {"error": "text"}; may be NULL).
 * Returns an owned object:
 *   service {namespace, name, type, clusterIP}, dnsName, dns (first node's
 *   answer), nodes [{name, reachable, error?, tablePresent}],
 *   ports [{name, protocol, port, targetPort, frontends [{node, chain}],
 *           socketLB [{node, endpoints, cgroup}] (nodes whose socket LB
 *           balances the port for their pods),
 *           endpoints [{ip, port, pod, node, ready, connections (both paths),
 *                       natConnections, socketConnections,
 *                       activeConnections, perNode [{node, index, connections,
 *                       activeConnections} or {node, path "socketLB",
 *                       connections, socketConnections}]}]}],
 *   networkPolicy: "not evaluated" (a hook for the NetworkPolicy work).
 * Counters are summed over the nodes (each node balances its own clients). */
cJSON *mk_trace_build(const cJSON *service, const cJSON *slices, const cJSON *nodes);

/* The cluster DNS name of a service: NAME.NS.svc.cluster.local (owned). */
char *mk_trace_dns_name(const char *ns, const char *name);

#endif
