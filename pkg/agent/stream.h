/* The node agent's streaming server (kubelet's :10250 role): container logs,
 * exec and attach over WebSocket (the channel protocols of minik8s/ws.h), for
 * the API server only. Also the WebSocket framing shared with the API server's
 * proxy and the built-in kubectl (RFC 6455).
 *
 *   GET /containerLogs/NS/POD/CONTAINER?follow=&tailLines=&previous=&timestamps=
 *       &limitBytes=&sinceSeconds=&sinceTime=
 *       200 text/plain: the messages of the container's CRI log, oldest first
 *   GET /exec/NS/POD/CONTAINER?command=..&command=..&stdin=&stdout=&stderr=&tty=
 *       Upgrade: websocket, Sec-WebSocket-Protocol: the client's list; we take
 *       the first we serve (v5.channel.k8s.io, v4.channel.k8s.io,
 *       v4.base64.channel.k8s.io, v3/v2.channel.k8s.io, channel.k8s.io,
 *       base64.channel.k8s.io; none named: channel.k8s.io) -> 101, then
 *       messages whose first byte is the channel: 0 stdin, 1 stdout, 2 stderr,
 *       3 status (sent once at the end: a Status object in v4/v5, the error
 *       text in older ones), 4 resize ({"Width":W,"Height":H}), 255 close (v5;
 *       payload: the channel closed, 0 = stdin EOF). A close frame (1000)
 *       follows the status.
 *   GET /attach/NS/POD/CONTAINER?stdin=&stdout=&stderr=&tty=
 *       the same protocols, to the container's own process through its shim
 *       (stdin only for a container with stdin: true); ends with Success when
 *       the container's output ends.
 *   GET /metrics/resource
 *       200 text/plain (Prometheus text 0.0.4): the kubelet's resource metrics,
 *       what metrics-server scrapes (stream_metrics.c): node_cpu_usage_seconds_total,
 *       node_memory_working_set_bytes, container_{cpu_usage_seconds_total,
 *       memory_working_set_bytes,start_time_seconds}{container,namespace,pod},
 *       pod_{cpu_usage_seconds_total,memory_working_set_bytes}{namespace,pod},
 *       resource_scrape_error; samples carry their timestamps (ms)
 *   GET|POST /portForward/NS/POD?ports=P,..
 *       WebSocket v4.channel.k8s.io, or an Upgrade: SPDY/3.1 with
 *       X-Stream-Protocol-Version: portforward.k8s.io (stream_portforward.c)
 *
 * Clients must present a TLS certificate signed by the cluster CA whose common
 * name is the API server's (MK_AGENT_STREAM_CLIENT_CN); anything else gets 401
 * (no or untrusted certificate) or 403 (another name). */
#ifndef MINIK8S_AGENT_STREAM_H
#define MINIK8S_AGENT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "minik8s/agent.h"
#include "minik8s/runtime.h"
#include "minik8s/util.h"
#include "minik8s/ws.h"

#define MK_AGENT_STREAM_CLIENT_CN "minik8s-apiserver"

/* Resolves a container of a pod to runtime container ids: *ret_current is the
 * running (or last) instance, *ret_previous the one before it (after a restart);
 * either may be set to NULL when there is none. Both owned by the caller.
 * Returns 0, or -1 with err (code ENOENT: no such pod or container). Called from
 * the server's connection threads, concurrently. */
typedef int (*mk_agent_stream_resolve_fn)(void *userdata, const char *ns, const char *pod,
					  const char *container, char **ret_current,
					  char **ret_previous, struct mk_error **err);

/* Resolves a pod to its uid and the path of its network namespace (*ret_netns NULL:
 * the node's, for hostNetwork pods), both owned by the caller, for port-forward.
 * Returns 0, or -1 with err (code ENOENT: no such pod on this node). */
typedef int (*mk_agent_stream_netns_fn)(void *userdata, const char *ns, const char *pod,
					char **ret_uid, char **ret_netns, struct mk_error **err);

/* One running container of a pod on the node, for /metrics/resource. */
struct mk_agent_stream_container {
	char *ns, *pod, *container, *cid; /* owned */
};
/* Lists the node's pod containers that have a runtime container (*ret owned: free
 * with mk_agent_stream_containers_free). Called from connection threads. */
typedef int (*mk_agent_stream_list_fn)(void *userdata, struct mk_agent_stream_container **ret,
				       size_t *ret_n, struct mk_error **err);
void mk_agent_stream_containers_free(struct mk_agent_stream_container *v, size_t n);

struct mk_agent_stream_options {
	const char *bind_address;  /* IPv4; NULL: 0.0.0.0 */
	uint16_t port;             /* 0: 10250 */
	const char *tls_cert_file; /* serving certificate and key (PEM). Both NULL: a */
	const char *tls_key_file;  /* self-signed one made in memory; paths that do not
				    * exist yet: a self-signed one written there */
	const char *client_ca_file; /* required: the cluster CA (PEM) clients must be
				     * signed by */
	const char *client_cn;     /* NULL: MK_AGENT_STREAM_CLIENT_CN */
	struct mk_runtime *runtime; /* borrowed; must outlive the server */
	mk_agent_stream_resolve_fn resolve;
	void *resolve_userdata;      /* also passed to resolve_netns */
	mk_agent_stream_netns_fn resolve_netns; /* NULL: port-forward answers 404 */
	mk_agent_stream_list_fn list_containers; /* NULL: /metrics/resource has the node only */
	unsigned max_sessions;     /* concurrent exec sessions and log streams; 0: 64 */
	const char *dns_address;   /* the node's cluster DNS (IPv4) /trace/service asks;
				    * NULL: no DNS answer in the trace */
};

struct mk_agent_stream;

/* Starts serving in background threads. *ret owned: mk_agent_stream_stop(). */
int mk_agent_stream_start(const struct mk_agent_stream_options *opts,
			  struct mk_agent_stream **ret, struct mk_error **err);
/* Ends every session (exec processes are killed), stops and frees. Accepts NULL. */
void mk_agent_stream_stop(struct mk_agent_stream *s);

#endif
