/* The desired-state model: Service + Endpoints JSON -> struct mk_proxy_service. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "minik8s/proxy.h"

static int parse_protocol(const char *s, uint8_t *ret)
{
	if (!s || strcmp(s, "TCP") == 0)
		*ret = IPPROTO_TCP;
	else if (strcmp(s, "UDP") == 0)
		*ret = IPPROTO_UDP;
	else if (strcmp(s, "SCTP") == 0)
		*ret = IPPROTO_SCTP;
	else
		return -1;
	return 0;
}

static int port_number(const cJSON *v, bool allow_zero)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (d != (int)d || d < (allow_zero ? 0 : 1) || d > 65535)
		return -1;
	return (int)d;
}

static int ep_cmp(const void *a, const void *b)
{
	const struct mk_proxy_endpoint *x = a, *y = b;
	uint32_t xi = ntohl(x->ip), yi = ntohl(y->ip);
	if (xi != yi)
		return xi < yi ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static void ep_push(struct mk_proxy_endpoint **arr, size_t *n, size_t *cap, struct mk_proxy_endpoint e)
{
	MK_GROW(*arr, *cap, *n + 1);
	(*arr)[(*n)++] = e;
}

static void ep_sort_unique(struct mk_proxy_endpoint *arr, size_t *n)
{
	if (*n < 2)
		return;
	qsort(arr, *n, sizeof(*arr), ep_cmp);
	size_t w = 1;
	for (size_t i = 1; i < *n; i++)
		if (ep_cmp(&arr[i], &arr[w - 1]) != 0)
			arr[w++] = arr[i];
	*n = w;
}

/* Collects the ready endpoints of service port sp from the Endpoints object,
 * and those whose nodeName is node (when node is not NULL) into sp->local. */
static int collect_endpoints(const cJSON *endpoints, const char *node, struct mk_proxy_port *sp,
			     struct mk_error **err)
{
	const cJSON *subsets = endpoints ? cJSON_GetObjectItemCaseSensitive(endpoints, "subsets") : NULL;
	const cJSON *subset;
	size_t cap = 0, lcap = 0;

	cJSON_ArrayForEach(subset, subsets)
	{
		const cJSON *ports = cJSON_GetObjectItemCaseSensitive(subset, "ports");
		const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(subset, "addresses");
		const cJSON *ep;
		cJSON_ArrayForEach(ep, ports)
		{
			const char *name = mk_json_get_string(ep, "name");
			uint8_t proto;
			if (parse_protocol(mk_json_get_string(ep, "protocol"), &proto) < 0)
				continue;
			if (proto != sp->protocol || strcmp(name ? name : "", sp->name) != 0)
				continue;
			int port = port_number(cJSON_GetObjectItemCaseSensitive(ep, "port"), false);
			if (port < 0)
				return mk_error_set(err, EINVAL, "endpoints port '%s': bad port number",
						    sp->name);
			const cJSON *a;
			cJSON_ArrayForEach(a, addrs)
			{
				const char *ip = mk_json_get_string(a, "ip");
				const char *nn = mk_json_get_string(a, "nodeName");
				struct in_addr in;
				if (!ip || inet_pton(AF_INET, ip, &in) != 1)
					continue; /* IPv6 endpoints: not ours (ip6 table later) */
				if (sp->n_endpoints >= MK_PROXY_MAX_ENDPOINTS)
					return mk_error_set(err, EINVAL,
							    "service port '%s': more than %d endpoints",
							    sp->name, MK_PROXY_MAX_ENDPOINTS);
				struct mk_proxy_endpoint e = { .ip = in.s_addr, .port = port };
				ep_push(&sp->endpoints, &sp->n_endpoints, &cap, e);
				if (node && nn && strcmp(nn, node) == 0)
					ep_push(&sp->local, &sp->n_local, &lcap, e);
			}
		}
	}
	ep_sort_unique(sp->endpoints, &sp->n_endpoints);
	ep_sort_unique(sp->local, &sp->n_local);
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = ntohl(*(const uint32_t *)a), y = ntohl(*(const uint32_t *)b);
	return x < y ? -1 : x > y;
}

/* status.loadBalancer.ingress[].ip of a LoadBalancer service, IPv4 only */
static void collect_lb_ips(const cJSON *service, struct mk_proxy_service *s)
{
	const cJSON *ing;
	const cJSON *list = mk_json_get(service, "status.loadBalancer.ingress");
	int n = cJSON_GetArraySize(list);
	if (n <= 0)
		return;
	s->lb_ips = mk_malloc0((size_t)n * sizeof(*s->lb_ips));
	cJSON_ArrayForEach(ing, list)
	{
		const char *ip = mk_json_get_string(ing, "ip");
		const char *mode = mk_json_get_string(ing, "ipMode");
		struct in_addr in;
		/* ipMode Proxy: the balancer in front needs the traffic as sent to
		 * it, so kube-proxy leaves the address alone */
		if (mode && !strcmp(mode, "Proxy"))
			continue;
		if (ip && inet_pton(AF_INET, ip, &in) == 1 && in.s_addr != 0 && in.s_addr != INADDR_BROADCAST)
			s->lb_ips[s->n_lb_ips++] = in.s_addr;
	}
	if (s->n_lb_ips > 1) {
		qsort(s->lb_ips, s->n_lb_ips, sizeof(*s->lb_ips), u32_cmp);
		size_t w = 1;
		for (size_t i = 1; i < s->n_lb_ips; i++)
			if (s->lb_ips[i] != s->lb_ips[w - 1])
				s->lb_ips[w++] = s->lb_ips[i];
		s->n_lb_ips = w;
	}
}

int mk_proxy_service_from_json(const cJSON *service, const cJSON *endpoints,
			       struct mk_proxy_service **ret, struct mk_error **err)
{
	return mk_proxy_service_from_json_node(service, endpoints, NULL, ret, err);
}

/* The steps of mk_proxy_service_from_json_node: whether the service is ours to
 * proxy at all, its session affinity, its traffic policies and load balancer
 * addresses, then its ports with their endpoints. */

/* The service's IPv4 cluster IP into *ret, or false when kube-proxy leaves it
 * alone: ExternalName and headless services, and the node-local ones (served
 * on every node at a local address, the cluster DNS, see pkg/agent: no DNAT,
 * and no reject for their missing endpoints). */
static bool service_proxied(const cJSON *service, struct in_addr *ret)
{
	const char *type = mk_json_get_string(service, "spec.type");
	const char *cip = mk_json_get_string(service, "spec.clusterIP");
	const char *local = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		mk_json_get(service, "metadata.labels"), "minik8s.io/node-local"));
	if (local && !strcmp(local, "true"))
		return false;
	return !(type && strcmp(type, "ExternalName") == 0) && cip && *cip &&
	       strcmp(cip, "None") != 0 && inet_pton(AF_INET, cip, ret) == 1 && ret->s_addr != 0;
}

/* sessionAffinity ClientIP and its timeout (1 s to a day). */
static int service_affinity(const cJSON *service, struct mk_proxy_service *s,
			    struct mk_error **err)
{
	const char *aff = mk_json_get_string(service, "spec.sessionAffinity");
	if (!aff || strcmp(aff, "ClientIP") != 0)
		return 0;
	const cJSON *t = mk_json_get(service, "spec.sessionAffinityConfig.clientIP.timeoutSeconds");
	s->affinity_timeout = MK_PROXY_DEFAULT_AFFINITY_TIMEOUT;
	if (!t)
		return 0;
	if (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 86400)
		return mk_error_set(err, EINVAL, "service '%s': bad sessionAffinityConfig timeout",
				    s->key);
	s->affinity_timeout = (uint32_t)t->valuedouble;
	return 0;
}

/* The traffic policies, and a LoadBalancer's addresses and health check port.
 * Returns whether the service has node ports. */
static bool service_policies(const cJSON *service, const char *node, struct mk_proxy_service *s)
{
	const char *type = mk_json_get_string(service, "spec.type");
	bool node_ports = type && (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0);
	const char *etp = mk_json_get_string(service, "spec.externalTrafficPolicy");
	const char *itp = mk_json_get_string(service, "spec.internalTrafficPolicy");
	/* without a node name nothing is local: the policies would drop everything */
	s->ext_local = node && node_ports && etp && strcmp(etp, "Local") == 0;
	s->int_local = node && itp && strcmp(itp, "Local") == 0;
	if (type && strcmp(type, "LoadBalancer") == 0) {
		collect_lb_ips(service, s);
		const cJSON *hc = mk_json_get(service, "spec.healthCheckNodePort");
		if (s->ext_local && hc && port_number(hc, true) > 0)
			s->health_port = (uint16_t)hc->valuedouble;
	}
	return node_ports;
}

/* spec.ports, each with its endpoints (the local ones apart when node is set). */
static int service_ports(const cJSON *spec, const cJSON *endpoints, const char *node,
			 bool node_ports, struct mk_proxy_service *s, struct mk_error **err)
{
	const cJSON *ports = cJSON_GetObjectItemCaseSensitive(spec, "ports");
	int n = cJSON_GetArraySize(ports);
	s->ports = n > 0 ? mk_malloc0(n * sizeof(*s->ports)) : NULL;
	const cJSON *p;
	cJSON_ArrayForEach(p, ports)
	{
		struct mk_proxy_port *sp = &s->ports[s->n_ports++];
		const char *pname = mk_json_get_string(p, "name");
		sp->name = mk_strdup(pname ? pname : "");
		int port = port_number(cJSON_GetObjectItemCaseSensitive(p, "port"), false);
		int np = 0;
		if (node_ports && cJSON_GetObjectItemCaseSensitive(p, "nodePort"))
			np = port_number(cJSON_GetObjectItemCaseSensitive(p, "nodePort"), true);
		if (port < 0 || np < 0 ||
		    parse_protocol(mk_json_get_string(p, "protocol"), &sp->protocol) < 0)
			return mk_error_set(err, EINVAL, "service '%s': bad port '%s'", s->key,
					    sp->name);
		sp->port = port;
		sp->node_port = np;
		if (collect_endpoints(endpoints, node, sp, err) < 0)
			return mk_error_wrap(err, "service '%s'", s->key);
	}
	return 0;
}

int mk_proxy_service_from_json_node(const cJSON *service, const cJSON *endpoints, const char *node,
				    struct mk_proxy_service **ret, struct mk_error **err)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(service, "spec");
	const char *ns = mk_json_get_string(service, "metadata.namespace");
	const char *name = mk_json_get_string(service, "metadata.name");
	struct in_addr in;

	if (!name || !cJSON_IsObject(spec))
		return mk_error_set(err, EINVAL, "service without metadata.name or spec");
	*ret = NULL;
	if (!service_proxied(service, &in))
		return 0;
	struct mk_proxy_service *s = mk_malloc0(sizeof(*s));
	s->key = ns ? mk_strdup_printf("%s/%s", ns, name) : mk_strdup(name);
	s->cluster_ip = in.s_addr;
	if (service_affinity(service, s, err) < 0 ||
	    service_ports(spec, endpoints, node, service_policies(service, node, s), s, err) < 0) {
		mk_proxy_service_free(s);
		return -1;
	}
	*ret = s;
	return 0;
}

struct mk_proxy_service *mk_proxy_service_dup(const struct mk_proxy_service *s)
{
	if (!s)
		return NULL;
	struct mk_proxy_service *d = mk_malloc0(sizeof(*d));
	*d = *s;
	d->key = mk_strdup(s->key);
	d->lb_ips = NULL;
	if (s->n_lb_ips) {
		d->lb_ips = mk_malloc0(s->n_lb_ips * sizeof(*d->lb_ips));
		memcpy(d->lb_ips, s->lb_ips, s->n_lb_ips * sizeof(*d->lb_ips));
	}
	d->ports = s->n_ports ? mk_malloc0(s->n_ports * sizeof(*d->ports)) : NULL;
	for (size_t i = 0; i < s->n_ports; i++) {
		d->ports[i] = s->ports[i];
		d->ports[i].name = mk_strdup(s->ports[i].name);
		d->ports[i].endpoints = NULL;
		if (s->ports[i].n_endpoints) {
			size_t sz = s->ports[i].n_endpoints * sizeof(struct mk_proxy_endpoint);
			d->ports[i].endpoints = mk_malloc0(sz);
			memcpy(d->ports[i].endpoints, s->ports[i].endpoints, sz);
		}
		d->ports[i].local = NULL;
		if (s->ports[i].n_local) {
			size_t sz = s->ports[i].n_local * sizeof(struct mk_proxy_endpoint);
			d->ports[i].local = mk_malloc0(sz);
			memcpy(d->ports[i].local, s->ports[i].local, sz);
		}
	}
	return d;
}

bool mk_proxy_service_equal(const struct mk_proxy_service *a, const struct mk_proxy_service *b)
{
	if (!a || !b)
		return a == b;
	if (a->cluster_ip != b->cluster_ip || a->affinity_timeout != b->affinity_timeout ||
	    a->n_ports != b->n_ports || a->ext_local != b->ext_local || a->int_local != b->int_local ||
	    a->health_port != b->health_port || a->n_lb_ips != b->n_lb_ips)
		return false;
	for (size_t i = 0; i < a->n_lb_ips; i++)
		if (a->lb_ips[i] != b->lb_ips[i])
			return false;
	for (size_t i = 0; i < a->n_ports; i++) {
		const struct mk_proxy_port *x = &a->ports[i], *y = &b->ports[i];
		if (x->protocol != y->protocol || x->port != y->port || x->node_port != y->node_port ||
		    x->n_endpoints != y->n_endpoints || x->n_local != y->n_local)
			return false;
		for (size_t j = 0; j < x->n_local; j++)
			if (x->local[j].ip != y->local[j].ip || x->local[j].port != y->local[j].port)
				return false;
		for (size_t j = 0; j < x->n_endpoints; j++)
			if (x->endpoints[j].ip != y->endpoints[j].ip ||
			    x->endpoints[j].port != y->endpoints[j].port)
				return false;
	}
	return true;
}

void mk_proxy_service_free(struct mk_proxy_service *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_ports; i++) {
		free(s->ports[i].name);
		free(s->ports[i].endpoints);
		free(s->ports[i].local);
	}
	free(s->ports);
	free(s->lb_ips);
	free(s->key);
	free(s);
}

size_t mk_proxy_service_local_count(const struct mk_proxy_service *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_ports; i++)
		for (size_t j = 0; j < s->ports[i].n_local; j++) {
			bool seen = false;
			for (size_t k = 0; k <= i && !seen; k++)
				for (size_t l = 0; l < s->ports[k].n_local && !seen; l++) {
					if (k == i && l == j)
						break;
					seen = s->ports[k].local[l].ip == s->ports[i].local[j].ip;
				}
			if (!seen)
				n++;
		}
	return n;
}

void mk_proxy_desired_init(struct mk_proxy_desired *d)
{
	memset(d, 0, sizeof(*d));
}

void mk_proxy_desired_add(struct mk_proxy_desired *d, struct mk_proxy_service *s)
{
	MK_GROW(d->services, d->cap, d->n + 1);
	d->services[d->n++] = s;
}

void mk_proxy_desired_release(struct mk_proxy_desired *d)
{
	for (size_t i = 0; i < d->n; i++)
		mk_proxy_service_free(d->services[i]);
	free(d->services);
	memset(d, 0, sizeof(*d));
}
