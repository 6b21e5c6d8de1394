/* Service address allocation, done at create time as kube-apiserver's service
 * registry does: ClusterIPs from the service CIDR and NodePorts from 30000-32767.
 * Each allocation is a record in the store (internal resources "_serviceips" and
 * "_servicenodeports", not served over HTTP) named by the address; creating a record
 * is atomic, so two services never get the same address, across restarts too. A
 * repair pass at start releases records whose service is gone (a crash between
 * allocating and storing the service). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "internal.h"

#define IPS "_serviceips"
#define PORTS "_servicenodeports"
#define NODEPORT_MIN 30000
#define NODEPORT_MAX 32767

int mk_services_parse_cidr(const char *cidr, uint32_t *ret_base, uint32_t *ret_size)
{
	char buf[64];
	const char *slash = strchr(cidr ? cidr : "", '/');
	struct in_addr a;
	char *end;

	if (!slash || (size_t)(slash - cidr) >= sizeof(buf))
		return -1;
	memcpy(buf, cidr, (size_t)(slash - cidr));
	buf[slash - cidr] = '\0';
	long bits = strtol(slash + 1, &end, 10);
	if (*end || bits < 8 || bits > 30 || inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	uint32_t mask = bits == 0 ? 0 : ~0u << (32 - bits);
	*ret_base = ntohl(a.s_addr) & mask;
	*ret_size = 1u << (32 - bits);
	return 0;
}

static void ip_string(uint32_t ip, char out[16])
{
	struct in_addr a = { .s_addr = htonl(ip) };
	inet_ntop(AF_INET, &a, out, 16);
}

/* "namespace/name/uid" of the object holding an allocation */
static char *owner_of(const cJSON *svc)
{
	const char *ns = mk_json_get_string(svc, "metadata.namespace");
	return mk_strdup_printf("%s/%s/%s", ns ? ns : "",
				mk_json_get_string(svc, "metadata.name"),
				mk_json_get_string(svc, "metadata.uid"));
}

/* Creates the record kind/name for svc; EEXIST if taken. */
static int reserve(struct mk_apiserver *srv, const char *kind, const char *name,
		   const cJSON *svc, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *rec = cJSON_CreateObject();
	_cleanup_free_ char *owner = owner_of(svc);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(rec, "metadata"), "name", name);
	cJSON_AddStringToObject(rec, "owner", owner);
	return mk_store_create(srv->store, kind, "", name, rec, NULL, NULL, err);
}

static void unreserve(struct mk_apiserver *srv, const char *kind, const char *name)
{
	_cleanup_error_ struct mk_error *err = NULL;
	mk_store_delete(srv->store, kind, "", name, 0, NULL, NULL, &err);
}

static bool needs_node_ports(const char *type)
{
	return type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
}

/* Releases everything allocated for svc (on delete, or to undo a failed create). */
void mk_services_release(struct mk_apiserver *srv, const cJSON *svc)
{
	const char *ip = mk_json_get_string(svc, "spec.clusterIP");
	cJSON *p;

	if (ip && *ip && strcmp(ip, "None"))
		unreserve(srv, IPS, ip);
	cJSON_ArrayForEach(p, mk_json_get(svc, "spec.ports"))
	{
		cJSON *np = cJSON_GetObjectItem(p, "nodePort");
		if (cJSON_IsNumber(np) && np->valueint) {
			char b[16];
			snprintf(b, sizeof(b), "%d", np->valueint);
			unreserve(srv, PORTS, b);
		}
	}
	cJSON *hc = mk_json_get(svc, "spec.healthCheckNodePort");
	if (cJSON_IsNumber(hc) && hc->valueint) {
		char b[16];
		snprintf(b, sizeof(b), "%d", hc->valueint);
		unreserve(srv, PORTS, b);
	}
}

static int fail_invalid(cJSON **causes, const char *field, const char *fmt, const char *v,
			const char *extra);

static bool has_node_port(const cJSON *svc, int np)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, mk_json_get(svc, "spec.ports"))
	{
		const cJSON *v = cJSON_GetObjectItem(p, "nodePort");
		if (cJSON_IsNumber(v) && v->valueint == np)
			return true;
	}
	return false;
}

void mk_services_release_dropped(struct mk_apiserver *srv, const cJSON *old, const cJSON *svc)
{
	const cJSON *p;
	char b[16];
	cJSON_ArrayForEach(p, mk_json_get(old, "spec.ports"))
	{
		const cJSON *np = cJSON_GetObjectItem(p, "nodePort");
		if (cJSON_IsNumber(np) && np->valueint && !has_node_port(svc, np->valueint)) {
			snprintf(b, sizeof(b), "%d", np->valueint);
			unreserve(srv, PORTS, b);
		}
	}
	const cJSON *ohc = mk_json_get(old, "spec.healthCheckNodePort");
	const cJSON *nhc = mk_json_get(svc, "spec.healthCheckNodePort");
	if (cJSON_IsNumber(ohc) && ohc->valueint && !(cJSON_IsNumber(nhc) && nhc->valueint == ohc->valueint)) {
		snprintf(b, sizeof(b), "%d", ohc->valueint);
		unreserve(srv, PORTS, b);
	}
}

static bool needs_health_port(const cJSON *svc);
static int allocate_health_port(struct mk_apiserver *srv, cJSON *svc, cJSON **ret_causes,
				struct mk_error **err);

/* Reserves a free node port for port entry p of svc (from a random start, so
 * that two servers' guesses rarely meet) and sets its nodePort; -1 with *err. */
static int allocate_node_port(struct mk_apiserver *srv, const cJSON *svc, cJSON *p,
			      struct mk_error **err)
{
	uint32_t start;
	char b[16];

	mk_random_bytes(&start, sizeof(start));
	for (int i = 0; i <= NODEPORT_MAX - NODEPORT_MIN; i++) {
		int port = NODEPORT_MIN + (int)((start + (uint32_t)i) %
						(NODEPORT_MAX - NODEPORT_MIN + 1));
		snprintf(b, sizeof(b), "%d", port);
		if (reserve(srv, PORTS, b, svc, err) == 0) {
			mk_json_set(p, "nodePort", cJSON_CreateNumber(port));
			return 0;
		}
		if ((*err)->code != EEXIST)
			return -1;
		mk_error_free(err);
	}
	return mk_error_set(err, 500, "no NodePort is free in %d-%d", NODEPORT_MIN, NODEPORT_MAX);
}

int mk_services_allocate_update(struct mk_apiserver *srv, const cJSON *old, cJSON *svc,
				cJSON **ret_causes, struct mk_error **err)
{
	*ret_causes = NULL;
	if (!needs_node_ports(mk_json_get_string(svc, "spec.type")))
		return 0;
	cJSON *p;
	char b[16];
	cJSON_ArrayForEach(p, mk_json_get(svc, "spec.ports"))
	{
		cJSON *np = cJSON_GetObjectItem(p, "nodePort");
		if (cJSON_IsNumber(np) && np->valueint) {
			if (has_node_port(old, np->valueint))
				continue;
			snprintf(b, sizeof(b), "%d", np->valueint);
			if (reserve(srv, PORTS, b, svc, err) == 0)
				continue;
			if ((*err)->code == EEXIST) {
				mk_error_free(err);
				fail_invalid(ret_causes, "spec.ports[].nodePort",
					     "Invalid value: %s: provided port is already allocated%s", b, "");
			}
			cJSON_DeleteItemFromObject(p, "nodePort"); /* not ours: not released below */
			goto undo;
		}
		if (allocate_node_port(srv, svc, p, err) < 0)
			goto undo;
	}
	const cJSON *ohc = mk_json_get(old, "spec.healthCheckNodePort");
	const cJSON *nhc = mk_json_get(svc, "spec.healthCheckNodePort");
	if (needs_health_port(svc) &&
	    !(cJSON_IsNumber(nhc) && nhc->valueint && cJSON_IsNumber(ohc) && ohc->valueint == nhc->valueint) &&
	    allocate_health_port(srv, svc, ret_causes, err) < 0) {
		cJSON_DeleteItemFromObject(mk_json_get(svc, "spec"), "healthCheckNodePort");
		goto undo;
	}
	return 0;
undo:
	/* what this call reserved: in svc, not in old */
	mk_services_release_dropped(srv, svc, old);
	return -1;
}

/* type LoadBalancer with externalTrafficPolicy Local: kube-apiserver allocates
 * spec.healthCheckNodePort from the NodePort range (the agents answer on it) */
static bool needs_health_port(const cJSON *svc)
{
	const char *type = mk_json_get_string(svc, "spec.type");
	const char *etp = mk_json_get_string(svc, "spec.externalTrafficPolicy");
	return type && !strcmp(type, "LoadBalancer") && etp && !strcmp(etp, "Local");
}

/* Reserves spec.healthCheckNodePort (or a free one, then set) for svc. */
static int allocate_health_port(struct mk_apiserver *srv, cJSON *svc, cJSON **ret_causes,
				struct mk_error **err)
{
	cJSON *spec = mk_json_ensure_object(svc, "spec");
	cJSON *hc = cJSON_GetObjectItem(spec, "healthCheckNodePort");
	char b[16];
	if (cJSON_IsNumber(hc) && hc->valueint) {
		if (hc->valueint < NODEPORT_MIN || hc->valueint > NODEPORT_MAX) {
			snprintf(b, sizeof(b), "%d", hc->valueint);
			return fail_invalid(ret_causes, "spec.healthCheckNodePort",
					    "Invalid value: %s: provided port is not in the valid range. "
					    "The range of valid ports is 30000-32767%s", b, "");
		}
		snprintf(b, sizeof(b), "%d", hc->valueint);
		if (reserve(srv, PORTS, b, svc, err) == 0)
			return 0;
		if ((*err)->code != EEXIST)
			return -1;
		mk_error_free(err);
		return fail_invalid(ret_causes, "spec.healthCheckNodePort",
				    "Invalid value: %s: provided port is already allocated%s", b, "");
	}
	uint32_t start;
	mk_random_bytes(&start, sizeof(start));
	for (int i = 0; i <= NODEPORT_MAX - NODEPORT_MIN; i++) {
		int port = NODEPORT_MIN + (int)((start + (uint32_t)i) % (NODEPORT_MAX - NODEPORT_MIN + 1));
		snprintf(b, sizeof(b), "%d", port);
		if (reserve(srv, PORTS, b, svc, err) == 0) {
			mk_json_set(spec, "healthCheckNodePort", cJSON_CreateNumber(port));
			return 0;
		}
		if ((*err)->code != EEXIST)
			return -1;
		mk_error_free(err);
	}
	return mk_error_set(err, 500, "no NodePort is free in %d-%d", NODEPORT_MIN, NODEPORT_MAX);
}

static int fail_invalid(cJSON **causes, const char *field, const char *fmt, const char *v,
			const char *extra)
{
	if (!*causes)
		*causes = cJSON_CreateArray();
	mk_api_cause_add(*causes, "FieldValueInvalid", field, fmt, v, extra);
	return -1;
}

/* Reserves the ClusterIP svc asks for (want, a.b.c.d): 422 when it is malformed,
 * outside the service CIDR or taken. */
static int reserve_wanted_ip(struct mk_apiserver *srv, cJSON *svc, const char *want,
			     cJSON **ret_causes, struct mk_error **err)
{
	struct in_addr a;
	uint32_t ip;
	if (inet_pton(AF_INET, want, &a) != 1)
		return fail_invalid(ret_causes, "spec.clusterIPs[0]",
				    "Invalid value: \"%s\": must be a valid IP address%s", want, "");
	ip = ntohl(a.s_addr);
	if (ip <= srv->svc_base || ip >= srv->svc_base + srv->svc_size - 1)
		return fail_invalid(ret_causes, "spec.clusterIPs[0]",
				    "Invalid value: \"%s\": the provided IP is not in the valid "
				    "range. The range of valid IPs is %s", want, srv->service_cidr);
	if (reserve(srv, IPS, want, svc, err) < 0) {
		if ((*err)->code != EEXIST)
			return -1;
		mk_error_free(err);
		return fail_invalid(ret_causes, "spec.clusterIPs[0]",
				    "Invalid value: \"%s\": provided IP is already allocated%s",
				    want, "");
	}
	return 0;
}

/* Reserves a free ClusterIP for svc into ipbuf[16]: a random start, then linear
 * probing; the first 16 addresses stay for well-known services (kubernetes .1,
 * kube-dns .10) as Kubernetes does. */
static int reserve_free_ip(struct mk_apiserver *srv, cJSON *svc, char *ipbuf, struct mk_error **err)
{
	uint32_t span = srv->svc_size - 2, start;
	uint32_t lo = span > 64 ? 16 : 1;
	mk_random_bytes(&start, sizeof(start));
	for (uint32_t i = 0; i + lo < span + 1; i++) {
		uint32_t off = lo + (start + i) % (span + 1 - lo);
		ip_string(srv->svc_base + off, ipbuf);
		if (reserve(srv, IPS, ipbuf, svc, err) == 0)
			return 0;
		if ((*err)->code != EEXIST)
			return -1;
		mk_error_free(err);
		if (i > 4096)
			break;
	}
	return mk_error_set(err, 500, "no ClusterIP is free in %s", srv->service_cidr);
}

/* Reserves every spec.ports[].nodePort svc asks for, a free one for those without,
 * and the health check port when it needs one. */
static int allocate_new_node_ports(struct mk_apiserver *srv, cJSON *svc, cJSON *spec,
				   cJSON **ret_causes, struct mk_error **err)
{
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(spec, "ports"))
	{
		cJSON *np = cJSON_GetObjectItem(p, "nodePort");
		char b[16];
		if (cJSON_IsNumber(np) && np->valueint) {
			snprintf(b, sizeof(b), "%d", np->valueint);
			if (reserve(srv, PORTS, b, svc, err) < 0) {
				if ((*err)->code != EEXIST)
					return -1;
				mk_error_free(err);
				return fail_invalid(ret_causes, "spec.ports[].nodePort",
						    "Invalid value: %s: provided port is already allocated%s",
						    b, "");
			}
			continue;
		}
		if (allocate_node_port(srv, svc, p, err) < 0)
			return -1;
	}
	if (needs_health_port(svc) && allocate_health_port(srv, svc, ret_causes, err) < 0) {
		/* nothing of it is reserved: keep the undo from releasing another's port */
		cJSON_DeleteItemFromObject(spec, "healthCheckNodePort");
		return -1;
	}
	return 0;
}

/* Releases the node ports of svc whose record svc owns (what this call reserved). */
static void release_owned_node_ports(struct mk_apiserver *srv, cJSON *svc, cJSON *spec)
{
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(spec, "ports"))
	{
		cJSON *np = cJSON_GetObjectItem(p, "nodePort");
		char b[16];
		_cleanup_free_ char *json = NULL;
		_cleanup_free_ char *owner = owner_of(svc);
		_cleanup_error_ struct mk_error *e = NULL;
		if (!cJSON_IsNumber(np) || !np->valueint)
			continue;
		snprintf(b, sizeof(b), "%d", np->valueint);
		if (mk_store_get(srv->store, PORTS, "", b, &json, NULL, &e) == 0 && strstr(json, owner))
			unreserve(srv, PORTS, b);
	}
}

/* Allocates the ClusterIP and NodePorts of a new service (svc mutated). On failure
 * everything reserved so far is released; returns -1 with *ret_causes (422) or *err. */
int mk_services_allocate(struct mk_apiserver *srv, cJSON *svc, cJSON **ret_causes,
			 struct mk_error **err)
{
	const char *type = mk_json_get_string(svc, "spec.type");
	const char *want = mk_json_get_string(svc, "spec.clusterIP");
	cJSON *spec = mk_json_ensure_object(svc, "spec");
	char ipbuf[16] = "";
	bool have_ip = false;

	*ret_causes = NULL;
	if (type && !strcmp(type, "ExternalName"))
		return 0;
	if (want && !strcmp(want, "None")) {
		mk_json_set(spec, "clusterIPs", cJSON_Parse("[\"None\"]"));
	} else {
		if (want && *want) {
			if (reserve_wanted_ip(srv, svc, want, ret_causes, err) < 0)
				return -1;
			snprintf(ipbuf, sizeof(ipbuf), "%s", want);
		} else if (reserve_free_ip(srv, svc, ipbuf, err) < 0) {
			return -1;
		}
		have_ip = true;
		cJSON *ips = cJSON_CreateArray();
		cJSON_AddItemToArray(ips, cJSON_CreateString(ipbuf));
		mk_json_set_string(spec, "clusterIP", ipbuf);
		mk_json_set(spec, "clusterIPs", ips);
		mk_json_set(spec, "ipFamilies", cJSON_Parse("[\"IPv4\"]"));
		mk_json_set_string(spec, "ipFamilyPolicy", "SingleStack");
	}
	if (!needs_node_ports(type))
		return 0;
	if (allocate_new_node_ports(srv, svc, spec, ret_causes, err) == 0)
		return 0;
	release_owned_node_ports(srv, svc, spec);
	if (have_ip)
		unreserve(srv, IPS, ipbuf);
	return -1;
}

/* True when the allocation record kind/name exists. */
static bool reserved(struct mk_apiserver *srv, const char *kind, const char *name)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	return mk_store_get(srv->store, kind, "", name, &json, NULL, &e) == 0;
}

int mk_services_check(struct mk_apiserver *srv, const cJSON *svc, cJSON **ret_causes)
{
	const char *type = mk_json_get_string(svc, "spec.type");
	const char *want = mk_json_get_string(svc, "spec.clusterIP");
	cJSON *p;

	*ret_causes = NULL;
	if (type && !strcmp(type, "ExternalName"))
		return 0;
	if (want && *want && strcmp(want, "None")) {
		struct in_addr a;
		if (inet_pton(AF_INET, want, &a) != 1)
			return fail_invalid(ret_causes, "spec.clusterIPs[0]",
					    "Invalid value: \"%s\": must be a valid IP address%s", want, "");
		uint32_t ip = ntohl(a.s_addr);
		if (ip <= srv->svc_base || ip >= srv->svc_base + srv->svc_size - 1)
			return fail_invalid(ret_causes, "spec.clusterIPs[0]",
					    "Invalid value: \"%s\": the provided IP is not in the valid "
					    "range. The range of valid IPs is %s", want, srv->service_cidr);
		if (reserved(srv, IPS, want))
			return fail_invalid(ret_causes, "spec.clusterIPs[0]",
					    "Invalid value: \"%s\": provided IP is already allocated%s",
					    want, "");
	}
	if (!needs_node_ports(type))
		return 0;
	cJSON_ArrayForEach(p, mk_json_get(svc, "spec.ports"))
	{
		cJSON *np = cJSON_GetObjectItem(p, "nodePort");
		char b[16];
		if (!cJSON_IsNumber(np) || !np->valueint)
			continue;
		snprintf(b, sizeof(b), "%d", np->valueint);
		if (reserved(srv, PORTS, b))
			return fail_invalid(ret_causes, "spec.ports[].nodePort",
					    "Invalid value: %s: provided port is already allocated%s", b, "");
	}
	cJSON *hc = mk_json_get(svc, "spec.healthCheckNodePort");
	if (needs_health_port(svc) && cJSON_IsNumber(hc) && hc->valueint) {
		char b[16];
		snprintf(b, sizeof(b), "%d", hc->valueint);
		if (reserved(srv, PORTS, b))
			return fail_invalid(ret_causes, "spec.healthCheckNodePort",
					    "Invalid value: %s: provided port is already allocated%s", b, "");
	}
	return 0;
}

/* Drops allocation records whose service or node no longer exists (or is another one). */
int mk_services_repair(struct mk_apiserver *srv, struct mk_error **err)
{
	static const char *const kinds[][2] = { { IPS, "services" }, { PORTS, "services" },
						{ "_podcidrs", "nodes" } };
	for (size_t k = 0; k < MK_ARRAY_SIZE(kinds); k++) {
		struct mk_store_list l = { 0 };
		if (mk_store_list(srv->store, kinds[k][0], "", NULL, NULL, &l, err) < 0)
			return -1;
		for (size_t i = 0; i < l.n; i++) {
			_cleanup_cjson_ cJSON *rec = cJSON_Parse(l.items[i]);
			const char *owner = mk_json_get_string(rec, "owner");
			const char *name = mk_json_get_string(rec, "metadata.name");
			_cleanup_free_ char *ns = NULL, *json = NULL;
			_cleanup_error_ struct mk_error *e = NULL;
			bool keep = false;
			if (!owner || !name)
				continue;
			const char *s1 = strchr(owner, '/');
			const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
			if (s1 && s2) {
				ns = mk_strdup(owner);
				ns[s1 - owner] = '\0';
				char *svcname = ns + (s1 - owner) + 1;
				svcname[s2 - s1 - 1] = '\0';
				if (mk_store_get(srv->store, kinds[k][1], ns, svcname, &json, NULL, &e) == 0) {
					_cleanup_cjson_ cJSON *svc = cJSON_Parse(json);
					const char *uid = mk_json_get_string(svc, "metadata.uid");
					keep = uid && !strcmp(uid, s2 + 1);
				}
			}
			if (!keep)
				unreserve(srv, kinds[k][0], name);
		}
		mk_store_list_release(&l);
	}
	return 0;
}

/* ---- node pod CIDRs ------------------------------------------------------------
 * Node.spec.podCIDR is assigned when a node is created without one (the job of
 * kube-controller-manager's node IPAM in Kubernetes; here synchronous, like the
 * ClusterIPs above): one /24 per node from the cluster CIDR, recorded as
 * "_podcidrs" so no two nodes ever share one. Released when the node is deleted. */
#define CIDRS "_podcidrs"

int mk_nodes_allocate_cidr(struct mk_apiserver *srv, cJSON *node, struct mk_error **err)
{
	cJSON *spec = mk_json_ensure_object(node, "spec");
	const char *want = mk_json_get_string(node, "spec.podCIDR");
	const char *name = mk_json_get_string(node, "metadata.name");
	char cidr[24];

	if (want && *want) {
		uint32_t b, sz;
		if (mk_services_parse_cidr(want, &b, &sz) < 0)
			return mk_error_set(err, 422, "Invalid value: \"%s\"", want);
		if (reserve(srv, CIDRS, want, node, err) < 0) {
			if ((*err)->code != EEXIST)
				return -1;
			mk_error_free(err);
			_cleanup_free_ char *json = NULL;
			_cleanup_error_ struct mk_error *e = NULL;
			/* the same node re-registering keeps its CIDR */
			if (mk_store_get(srv->store, CIDRS, "", want, &json, NULL, &e) == 0 && name) {
				_cleanup_cjson_ cJSON *rec = cJSON_Parse(json);
				const char *owner = mk_json_get_string(rec, "owner");
				_cleanup_free_ char *pfx = mk_strdup_printf("/%s/", name);
				if (owner && strstr(owner, pfx))
					goto set;
			}
			return mk_error_set(err, 422, "Invalid value: \"%s\": already "
					    "allocated to another node", want);
		}
		goto set;
	}
	uint32_t blocks = srv->cluster_size >> 8;
	for (uint32_t i = 0; i < blocks; i++) {
		char ip[16];
		ip_string(srv->cluster_base + (i << 8), ip);
		snprintf(cidr, sizeof(cidr), "%s/24", ip);
		if (reserve(srv, CIDRS, cidr, node, err) == 0) {
			want = cidr;
			goto set;
		}
		if ((*err)->code != EEXIST)
			return -1;
		mk_error_free(err);
	}
	return mk_error_set(err, 500, "no /24 is free in the cluster CIDR %s", srv->cluster_cidr);
set:;
	_cleanup_free_ char *w = mk_strdup(want);
	mk_json_set_string(spec, "podCIDR", w);
	cJSON *arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, cJSON_CreateString(w));
	mk_json_set(spec, "podCIDRs", arr);
	return 0;
}

/* Releases the node's CIDR record if this very node (same uid) holds it. */
void mk_nodes_release_cidr(struct mk_apiserver *srv, const cJSON *node)
{
	const char *c = mk_json_get_string(node, "spec.podCIDR");
	_cleanup_free_ char *json = NULL, *owner = owner_of(node);
	_cleanup_error_ struct mk_error *e = NULL;

	if (!c || !*c || mk_store_get(srv->store, CIDRS, "", c, &json, NULL, &e) < 0)
		return;
	_cleanup_cjson_ cJSON *rec = cJSON_Parse(json);
	const char *o = mk_json_get_string(rec, "owner");
	if (o && !strcmp(o, owner))
		unreserve(srv, CIDRS, c);
}

int mk_apiserver_kubernetes_service_ip(const char *service_cidr, char *buf, size_t size)
{
	uint32_t base, n;
	if (mk_services_parse_cidr(service_cidr, &base, &n) < 0 || n < 4)
		return -1;
	struct in_addr a = { .s_addr = htonl(base + 1) };
	return inet_ntop(AF_INET, &a, buf, (socklen_t)size) ? 0 : -1;
}
