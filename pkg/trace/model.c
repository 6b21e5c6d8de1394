/* The trace view (trace.h): Service + EndpointSlices + each node's kernel
 * state -> rows per service port and endpoint. Pure JSON in, JSON out. */
#include <string.h>
#include "minik8s/trace.h"
#include "minik8s/util.h"

char *mk_trace_dns_name(const char *ns, const char *name)
{
	return mk_strdup_printf("%s.%s.svc.cluster.local", name, ns);
}

static const char *str_or(const cJSON *o, const char *path, const char *def)
{
	const char *s = mk_json_get_string(o, path);
	return s ? s : def;
}

static int num_or(const cJSON *o, const char *path, int def)
{
	const cJSON *n = mk_json_get(o, path);
	return cJSON_IsNumber(n) ? n->valueint : def;
}

static double dbl(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* The slice port that serves the service port sp (same name and protocol, as
 * the EndpointSlice controller names them); NULL when absent. */
static const cJSON *slice_port(const cJSON *slice, const char *name, const char *proto)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, mk_json_get(slice, "ports"))
	{
		if (!strcmp(str_or(p, "name", ""), name) && !strcmp(str_or(p, "protocol", "TCP"), proto))
			return p;
	}
	return NULL;
}

static bool ready(const cJSON *ep)
{
	const cJSON *r = mk_json_get(ep, "conditions.ready");
	return !r || cJSON_IsTrue(r); /* unset means ready (discovery/v1) */
}

static void add_endpoint(cJSON *arr, const cJSON *ep, const char *ip, int port, const cJSON *nodes,
			 const char *proto, int svc_port)
{
	cJSON *x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "ip", ip);
	cJSON_AddNumberToObject(x, "port", port);
	const char *kind = mk_json_get_string(ep, "targetRef.kind");
	const char *pod = kind && !strcmp(kind, "Pod") ? mk_json_get_string(ep, "targetRef.name") : NULL;
	if (pod)
		cJSON_AddStringToObject(x, "pod", pod);
	else
		cJSON_AddNullToObject(x, "pod");
	const char *node = mk_json_get_string(ep, "nodeName");
	if (node)
		cJSON_AddStringToObject(x, "node", node);
	else
		cJSON_AddNullToObject(x, "node");
	cJSON_AddBoolToObject(x, "ready", ready(ep));
	double conns = 0, active = 0, sock = 0;
	cJSON *per = cJSON_CreateArray();
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes)
	{
		const cJSON *k;
		cJSON_ArrayForEach(k, mk_json_get(n, "kernel.endpoints"))
		{
			if (strcmp(str_or(k, "protocol", ""), proto) || num_or(k, "port", -1) != svc_port ||
			    strcmp(str_or(k, "ip", ""), ip) || num_or(k, "targetPort", -1) != port)
				continue;
			cJSON *y = cJSON_CreateObject();
			cJSON_AddStringToObject(y, "node", n->string);
			cJSON_AddNumberToObject(y, "index", num_or(k, "index", 0));
			cJSON_AddNumberToObject(y, "connections", dbl(k, "connections"));
			cJSON_AddNumberToObject(y, "activeConnections", dbl(k, "activeConnections"));
			cJSON_AddItemToArray(per, y);
			conns += dbl(k, "connections");
			active += dbl(k, "activeConnections");
		}
		/* the pods' connections the node's socket LB sent straight to it */
		cJSON_ArrayForEach(k, mk_json_get(n, "kernel.socketLB.endpoints"))
		{
			if (strcmp(str_or(k, "protocol", ""), proto) || num_or(k, "port", -1) != svc_port ||
			    strcmp(str_or(k, "ip", ""), ip) || num_or(k, "targetPort", -1) != port)
				continue;
			cJSON *y = cJSON_CreateObject();
			cJSON_AddStringToObject(y, "node", n->string);
			cJSON_AddStringToObject(y, "path", "socketLB");
			cJSON_AddNumberToObject(y, "connections", dbl(k, "connections"));
			cJSON_AddNumberToObject(y, "socketConnections", dbl(k, "connections"));
			cJSON_AddItemToArray(per, y);
			sock += dbl(k, "connections");
		}
	}
	/* connections: by either path; natConnections: DNATed by nftables
	 * (map ep counters); socketConnections: connect()/sendmsg() calls the
	 * socket LB rewrote to this endpoint */
	cJSON_AddNumberToObject(x, "connections", conns + sock);
	cJSON_AddNumberToObject(x, "natConnections", conns);
	cJSON_AddNumberToObject(x, "socketConnections", sock);
	cJSON_AddNumberToObject(x, "activeConnections", active);
	cJSON_AddBoolToObject(x, "programmed", cJSON_GetArraySize(per) > 0);
	cJSON_AddItemToObject(x, "perNode", per);
	cJSON_AddItemToArray(arr, x);
}

/* "nodes": per node whether its agent answered and has the table; "dns": the
 * first node's DNS view (or null). */
static void add_nodes(cJSON *o, const cJSON *nodes)
{
	cJSON *dns = NULL;
	cJSON *nl = cJSON_AddArrayToObject(o, "nodes");
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes)
	{
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", n->string);
		const char *e = mk_json_get_string(n, "error");
		cJSON_AddBoolToObject(x, "reachable", !e);
		if (e)
			cJSON_AddStringToObject(x, "error", e);
		cJSON_AddBoolToObject(x, "tablePresent", cJSON_IsTrue(mk_json_get(n, "kernel.present")));
		cJSON_AddItemToArray(nl, x);
		const cJSON *d = mk_json_get(n, "dns");
		if (!dns && cJSON_IsObject(d)) {
			dns = cJSON_Duplicate(d, 1);
			cJSON_AddStringToObject(dns, "node", n->string);
		}
	}
	if (dns)
		cJSON_AddItemToObject(o, "dns", dns);
	else
		cJSON_AddNullToObject(o, "dns");
}

/* The kernel frontends (node, chain) every node has for protocol/port. */
static void add_frontends(cJSON *p, const cJSON *nodes, const char *proto, int port)
{
	cJSON *fr = cJSON_AddArrayToObject(p, "frontends");
	const cJSON *n;
	cJSON_ArrayForEach(n, nodes)
	{
		const cJSON *f;
		cJSON_ArrayForEach(f, mk_json_get(n, "kernel.frontends"))
		{
			if (strcmp(str_or(f, "protocol", ""), proto) || num_or(f, "port", -1) != port)
				continue;
			cJSON *y = cJSON_CreateObject();
			cJSON_AddStringToObject(y, "node", n->string);
			cJSON_AddStringToObject(y, "chain", str_or(f, "chain", ""));
			cJSON_AddItemToArray(fr, y);
		}
	}
	/* the nodes whose socket LB balances this frontend for their pods */
	cJSON *sl = cJSON_AddArrayToObject(p, "socketLB");
	cJSON_ArrayForEach(n, nodes)
	{
		const cJSON *f;
		cJSON_ArrayForEach(f, mk_json_get(n, "kernel.socketLB.frontends"))
		{
			if (strcmp(str_or(f, "protocol", ""), proto) || num_or(f, "port", -1) != port)
				continue;
			cJSON *y = cJSON_CreateObject();
			cJSON_AddStringToObject(y, "node", n->string);
			cJSON_AddNumberToObject(y, "endpoints", num_or(f, "endpoints", 0));
			cJSON_AddStringToObject(y, "cgroup", str_or(n, "kernel.socketLB.cgroup", ""));
			cJSON_AddItemToArray(sl, y);
		}
	}
}

/* The endpoints of the slices' port that matches the service port (by name and
 * protocol), each with what the nodes' kernels hold for it. */
static void add_endpoints(cJSON *p, const cJSON *slices, const cJSON *nodes, const char *pname,
			  const char *proto, int port)
{
	cJSON *eps = cJSON_AddArrayToObject(p, "endpoints");
	const cJSON *sl;
	cJSON_ArrayForEach(sl, slices)
	{
		const cJSON *slp = slice_port(sl, pname, proto);
		if (!slp)
			continue;
		int eport = num_or(slp, "port", 0);
		const cJSON *ep;
		cJSON_ArrayForEach(ep, mk_json_get(sl, "endpoints"))
		{
			const cJSON *a;
			cJSON_ArrayForEach(a, mk_json_get(ep, "addresses"))
			{
				if (cJSON_IsString(a))
					add_endpoint(eps, ep, a->valuestring, eport, nodes, proto, port);
			}
		}
	}
}

/* One entry per service port: its spec, frontends and endpoints. */
static void add_ports(cJSON *o, const cJSON *svc, const cJSON *slices, const cJSON *nodes)
{
	cJSON *ports = cJSON_AddArrayToObject(o, "ports");
	const cJSON *sp;
	cJSON_ArrayForEach(sp, mk_json_get(svc, "spec.ports"))
	{
		const char *pname = str_or(sp, "name", "");
		const char *proto = str_or(sp, "protocol", "TCP");
		int port = num_or(sp, "port", 0);
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "name", pname);
		cJSON_AddStringToObject(p, "protocol", proto);
		cJSON_AddNumberToObject(p, "port", port);
		const cJSON *tp = mk_json_get(sp, "targetPort");
		if (tp)
			cJSON_AddItemToObject(p, "targetPort", cJSON_Duplicate(tp, 1));
		if (num_or(sp, "nodePort", 0))
			cJSON_AddNumberToObject(p, "nodePort", num_or(sp, "nodePort", 0));
		add_frontends(p, nodes, proto, port);
		add_endpoints(p, slices, nodes, pname, proto, port);
		cJSON_AddItemToArray(ports, p);
	}
}

cJSON *mk_trace_build(const cJSON *svc, const cJSON *slices, const cJSON *nodes)
{
	cJSON *o = cJSON_CreateObject();
	const char *ns = str_or(svc, "metadata.namespace", "default");
	const char *name = str_or(svc, "metadata.name", "");
	const char *cip = str_or(svc, "spec.clusterIP", "");
	cJSON *s = cJSON_AddObjectToObject(o, "service");
	cJSON_AddStringToObject(s, "namespace", ns);
	cJSON_AddStringToObject(s, "name", name);
	cJSON_AddStringToObject(s, "type", str_or(svc, "spec.type", "ClusterIP"));
	cJSON_AddStringToObject(s, "clusterIP", cip);
	_cleanup_free_ char *dn = mk_trace_dns_name(ns, name);
	cJSON_AddStringToObject(o, "dnsName", dn);
	add_nodes(o, nodes);
	add_ports(o, svc, slices, nodes);
	/* NetworkPolicy verdicts are not part of the view yet (see README) */
	cJSON_AddStringToObject(o, "networkPolicy", "not evaluated");
	return o;
}
