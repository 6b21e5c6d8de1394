/* ServiceLB: the addresses of type LoadBalancer services, without extra pods
 * (k3s's ServiceLB and kube-proxy between them, in one controller and the
 * node's balancer).
 *
 * Node-address mode (the default, as k3s's ServiceLB): status.loadBalancer.ingress
 * lists the InternalIP of every Ready node ({ip, ipMode: VIP}, sorted); each
 * node's balancer then takes NODE_IP:port to the endpoints. Two services cannot
 * both have the same port and protocol on the node addresses: as with k3s, whose
 * svclb pod would not fit beside the first, the later one (by creation time, then
 * name) stays pending with an empty ingress list.
 *
 * Pool mode (`minik8s server --lb-pool CIDR`): each service gets one address of
 * the pool (spec.loadBalancerIP when it is in the pool and free; else the one it
 * already has; else the lowest free one). The allocation lives in the service's
 * own status, so it survives restarts and is released with the service or its
 * type change; one worker allocates, so no address is given twice. The node
 * that holds the address (adds it to its interface and announces it, see
 * pkg/proxy/lbaddr.c) is written in the annotation MK_SERVICELB_NODE_ANN: among
 * the Ready nodes the one with the highest hash of (address, node name)
 * (rendezvous hashing: deterministic, and only the addresses of a node that
 * goes away move).
 *
 * Services with spec.loadBalancerClass are another implementation's: left alone,
 * as upstream's service controller does. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "minik8s/proxy.h"
#include "internal.h"

#define COMPONENT "service-lb-controller"

static bool is_lb(const cJSON *svc)
{
	const char *type = mk_json_get_string(svc, "spec.type");
	return type && !strcmp(type, "LoadBalancer");
}

static bool ours(const cJSON *svc)
{
	const char *cls = mk_json_get_string(svc, "spec.loadBalancerClass");
	return is_lb(svc) && !(cls && *cls) && !has_deletion(svc);
}

static void enqueue_lb_services(struct mk_controllers *ctl)
{
	struct mk_object **svcs;
	size_t n = mk_informer_list(ctl->inf[CTL_SVC], &svcs);
	for (size_t i = 0; i < n; i++)
		if (is_lb(svcs[i]->json) || mk_json_get(svcs[i]->json, "status.loadBalancer.ingress"))
			mk_workqueue_add(ctl->slb.q, svcs[i]->key);
	mk_object_list_free(svcs, n);
}

static void on_svc(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const struct mk_object *o = new ? new : old;
	if (new && old && cJSON_Compare(mk_json_get(old->json, "spec"), mk_json_get(new->json, "spec"), 1) &&
	    cJSON_Compare(mk_json_get(old->json, "status"), mk_json_get(new->json, "status"), 1) &&
	    cJSON_Compare(mk_json_get(old->json, "metadata.annotations"),
			  mk_json_get(new->json, "metadata.annotations"), 1))
		return;
	if (!is_lb(o->json) && !(old && is_lb(old->json)) &&
	    !mk_json_get(o->json, "status.loadBalancer.ingress"))
		return;
	/* a change of one service can free a port or an address for another */
	if (!new || !old || !is_lb(new->json) ||
	    !cJSON_Compare(mk_json_get(old->json, "spec.ports"), mk_json_get(new->json, "spec.ports"), 1))
		enqueue_lb_services(ctl);
	else
		mk_workqueue_add(ctl->slb.q, o->key);
}

static bool node_ready(const cJSON *node)
{
	const char *st = mk_json_get_string(find_condition(node, "Ready"), "status");
	return st && !strcmp(st, "True") && !has_deletion(node);
}

static const char *internal_ip(const cJSON *node)
{
	const cJSON *a;
	cJSON_ArrayForEach(a, mk_json_get(node, "status.addresses"))
	{
		const char *t = mk_json_get_string(a, "type");
		if (t && !strcmp(t, "InternalIP"))
			return mk_json_get_string(a, "address");
	}
	return NULL;
}

static void on_node(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (old && new && node_ready(old->json) == node_ready(new->json) &&
	    cJSON_Compare(mk_json_get(old->json, "status.addresses"),
			  mk_json_get(new->json, "status.addresses"), 1))
		return; /* heartbeats */
	enqueue_lb_services(ctl);
}

void slb_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_SVC], on_svc, ctl);
	mk_informer_add_handler(ctl->inf[CTL_NODES], on_node, ctl);
}

/* ---- node-address mode ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* true when svc a was there before b (creation time, then namespace/name) */
static bool older(const cJSON *a, const cJSON *b)
{
	const char *ta = mk_json_get_string(a, "metadata.creationTimestamp");
	const char *tb = mk_json_get_string(b, "metadata.creationTimestamp");
	int c = strcmp(ta ? ta : "", tb ? tb : "");
	if (c)
		return c < 0;
	_cleanup_free_ char *ka = mk_strdup_printf("%s/%s", mk_json_get_string(a, "metadata.namespace"),
						   mk_json_get_string(a, "metadata.name"));
	_cleanup_free_ char *kb = mk_strdup_printf("%s/%s", mk_json_get_string(b, "metadata.namespace"),
						   mk_json_get_string(b, "metadata.name"));
	return strcmp(ka, kb) < 0;
}

static bool ports_overlap(const cJSON *a, const cJSON *b)
{
	const cJSON *p, *q;
	cJSON_ArrayForEach(p, mk_json_get(a, "spec.ports"))
	{
		const char *pp = mk_json_get_string(p, "protocol");
		cJSON_ArrayForEach(q, mk_json_get(b, "spec.ports"))
		{
			const char *qp = mk_json_get_string(q, "protocol");
			if (json_int(p, "port", -1) == json_int(q, "port", -2) &&
			    !strcmp(pp ? pp : "TCP", qp ? qp : "TCP"))
				return true;
		}
	}
	return false;
}

/* The ingress list of node-address mode (owned): every Ready node's InternalIP,
 * or [] when an older LoadBalancer service has one of svc's ports. */
static cJSON *node_ingress(struct mk_controllers *ctl, const cJSON *svc)
{
	cJSON *out = cJSON_CreateArray();
	struct mk_object **objs;
	size_t n = mk_informer_list(ctl->inf[CTL_SVC], &objs);
	bool blocked = false;
	const char *uid = mk_json_get_string(svc, "metadata.uid");
	for (size_t i = 0; i < n && !blocked; i++) {
		const cJSON *o = objs[i]->json;
		const char *ou = mk_json_get_string(o, "metadata.uid");
		if (!ours(o) || (ou && uid && !strcmp(ou, uid)))
			continue;
		blocked = older(o, svc) && ports_overlap(o, svc);
	}
	mk_object_list_free(objs, n);
	if (blocked)
		return out;
	n = mk_informer_list(ctl->inf[CTL_NODES], &objs);
	const char **ips = mk_malloc0((n + 1) * sizeof(*ips));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *ip = internal_ip(objs[i]->json);
		struct in_addr a;
		if (node_ready(objs[i]->json) && ip && inet_pton(AF_INET, ip, &a) == 1)
			ips[k++] = ip;
	}
	qsort(ips, k, sizeof(*ips), cmp_str);
	for (size_t i = 0; i < k; i++) {
		if (i && !strcmp(ips[i], ips[i - 1]))
			continue;
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "ip", ips[i]);
		cJSON_AddStringToObject(e, "ipMode", "VIP");
		cJSON_AddItemToArray(out, e);
	}
	free(ips);
	mk_object_list_free(objs, n);
	return out;
}

/* ---- pool mode ---------------------------------------------------------------------- */

static bool in_pool(const struct mk_controllers *ctl, const char *ip, uint32_t *ret)
{
	struct in_addr a;
	if (!ip || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	uint32_t h = ntohl(a.s_addr);
	if ((h & ctl->slb_mask) != ctl->slb_net)
		return false;
	/* not the network or broadcast address of a pool wider than /31 */
	if (ctl->slb_mask < 0xfffffffeu && (h == ctl->slb_net || h == (ctl->slb_net | ~ctl->slb_mask)))
		return false;
	if (ret)
		*ret = h;
	return true;
}

/* The pool address another of our LB services holds, if it is ip */
static bool taken(struct mk_controllers *ctl, const cJSON *svc, const char *ip)
{
	struct mk_object **objs;
	size_t n = mk_informer_list(ctl->inf[CTL_SVC], &objs);
	const char *uid = mk_json_get_string(svc, "metadata.uid");
	bool t = false;
	for (size_t i = 0; i < n && !t; i++) {
		const cJSON *o = objs[i]->json;
		const char *ou = mk_json_get_string(o, "metadata.uid");
		if (!ours(o) || (ou && uid && !strcmp(ou, uid)))
			continue;
		const cJSON *e;
		cJSON_ArrayForEach(e, mk_json_get(o, "status.loadBalancer.ingress"))
		{
			const char *x = mk_json_get_string(e, "ip");
			if (x && !strcmp(x, ip))
				t = true;
		}
	}
	mk_object_list_free(objs, n);
	return t;
}

/* The pool address for svc into buf[16]: 0, or -1 when the pool is full. A
 * current address keeps priority over a differing spec.loadBalancerIP only when
 * that one is taken (so a changed request moves the service when it can). */
static int pool_address(struct mk_controllers *ctl, const cJSON *svc, char buf[16])
{
	const char *want = mk_json_get_string(svc, "spec.loadBalancerIP");
	const cJSON *e;
	if (want && *want && in_pool(ctl, want, NULL) && !taken(ctl, svc, want)) {
		snprintf(buf, 16, "%s", want);
		return 0;
	}
	cJSON_ArrayForEach(e, mk_json_get(svc, "status.loadBalancer.ingress"))
	{
		const char *ip = mk_json_get_string(e, "ip");
		if (in_pool(ctl, ip, NULL) && !taken(ctl, svc, ip)) {
			snprintf(buf, 16, "%s", ip);
			return 0;
		}
	}
	uint32_t size = ~ctl->slb_mask + 1u;
	uint32_t first = size > 2 ? 1 : 0, last = size > 2 ? size - 2 : size - 1;
	/* bounded: a pool is at most a /16 (checked at start) */
	for (uint32_t i = first; i <= last; i++) {
		struct in_addr a = { .s_addr = htonl(ctl->slb_net + i) };
		inet_ntop(AF_INET, &a, buf, 16);
		if (!taken(ctl, svc, buf))
			return 0;
	}
	return -1;
}

static uint64_t fnv64(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *s = a; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h = (h ^ 0) * 1099511628211ull;
	for (const char *s = b; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The Ready node that holds ip (owned), NULL when none is Ready. */
static char *holder(struct mk_controllers *ctl, const char *ip)
{
	struct mk_object **objs;
	size_t n = mk_informer_list(ctl->inf[CTL_NODES], &objs);
	const char *best = NULL;
	uint64_t bh = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = mk_json_get_string(objs[i]->json, "metadata.name");
		if (!name || !node_ready(objs[i]->json))
			continue;
		uint64_t h = fnv64(ip, name);
		if (!best || h > bh || (h == bh && strcmp(name, best) < 0)) {
			best = name;
			bh = h;
		}
	}
	char *r = best ? mk_strdup(best) : NULL;
	mk_object_list_free(objs, n);
	return r;
}

/* ---- sync ---------------------------------------------------------------------------- */

static int put_status(struct mk_controllers *ctl, const struct mk_object *so, cJSON *ingress)
{
	_cleanup_free_ char *ns = NULL, *name = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	split_key(so->key, &ns, &name);
	_cleanup_cjson_ cJSON *obj = cJSON_Duplicate(so->json, 1);
	cJSON *lb = mk_json_ensure_object(mk_json_ensure_object(obj, "status"), "loadBalancer");
	if (cJSON_GetArraySize(ingress) > 0)
		mk_json_set(lb, "ingress", ingress);
	else {
		cJSON_Delete(ingress);
		cJSON_DeleteItemFromObjectCaseSensitive(lb, "ingress");
	}
	_cleanup_free_ char *path = mk_client_resource_path("v1", "services", ns, name, "status");
	_cleanup_cjson_ cJSON *res = NULL;
	if (mk_client_update(ctl->c, path, obj, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1; /* 409: retried with the newer one */
	mk_informer_assume(ctl->inf[CTL_SVC], res);
	return 0;
}

static int put_holder(struct mk_controllers *ctl, const struct mk_object *so, const char *node)
{
	_cleanup_free_ char *ns = NULL, *name = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	split_key(so->key, &ns, &name);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"), "annotations");
	if (node)
		cJSON_AddStringToObject(ann, MK_SERVICELB_NODE_ANN, node);
	else
		cJSON_AddNullToObject(ann, MK_SERVICELB_NODE_ANN);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "services", ns, name, NULL);
	_cleanup_cjson_ cJSON *res = NULL;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(ctl->inf[CTL_SVC], res);
	return 0;
}

int slb_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *so = mk_informer_get(ctl->inf[CTL_SVC], key);
	_cleanup_free_ char *node = NULL;
	int ret = 0;
	if (!so)
		return 0; /* deleted: its pool address is free with it */
	const cJSON *svc = so->json;
	const cJSON *cur = mk_json_get(svc, "status.loadBalancer.ingress");
	const char *cls = mk_json_get_string(svc, "spec.loadBalancerClass");
	const char *cur_holder = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(mk_json_get(svc, "metadata.annotations"), MK_SERVICELB_NODE_ANN));

	if (!is_lb(svc)) {
		/* type changed away from LoadBalancer: release its address, as
		 * upstream's service controller clears the status */
		if (cJSON_GetArraySize(cur) > 0)
			ret = put_status(ctl, so, cJSON_CreateArray());
		if (ret == 0 && cur_holder)
			ret = put_holder(ctl, so, NULL);
		goto out;
	}
	if ((cls && *cls) || has_deletion(svc))
		goto out;
	cJSON *want;
	if (ctl->slb_mask) {
		char ip[16];
		want = cJSON_CreateArray();
		if (pool_address(ctl, svc, ip) == 0) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "ip", ip);
			cJSON_AddStringToObject(e, "ipMode", "VIP");
			cJSON_AddItemToArray(want, e);
			node = holder(ctl, ip);
		} else {
			mk_event_record(ctl->rec, COMPONENT, svc, "Warning", "AllocationFailed",
					"no free address in the load balancer pool %s", ctl->opts.lb_pool);
		}
	} else {
		want = node_ingress(ctl, svc);
	}
	if (!cJSON_Compare(want, cur ? cur : (cJSON *)NULL, 1) &&
	    !(cJSON_GetArraySize(want) == 0 && cJSON_GetArraySize(cur) == 0)) {
		ret = put_status(ctl, so, want);
		if (ret == 0)
			mk_event_record(ctl->rec, COMPONENT, svc, "Normal", "UpdatedLoadBalancer",
					"Updated LoadBalancer with new IPs");
	} else {
		cJSON_Delete(want);
	}
	if (ret == 0 && !(node == cur_holder || (node && cur_holder && !strcmp(node, cur_holder))))
		ret = put_holder(ctl, so, node);
out:
	mk_object_unref(so);
	return ret;
}

int slb_init(struct mk_controllers *ctl, struct mk_error **err)
{
	const char *pool = ctl->opts.lb_pool;
	if (!pool || !*pool)
		return 0;
	char buf[32];
	const char *slash = strchr(pool, '/');
	struct in_addr a;
	char *end;
	if (!slash || (size_t)(slash - pool) >= sizeof(buf))
		return mk_error_set(err, EINVAL, "bad load balancer pool '%s': want ADDRESS/BITS", pool);
	memcpy(buf, pool, (size_t)(slash - pool));
	buf[slash - pool] = '\0';
	long bits = strtol(slash + 1, &end, 10);
	if (*end || bits < 16 || bits > 32 || inet_pton(AF_INET, buf, &a) != 1)
		return mk_error_set(err, EINVAL, "bad load balancer pool '%s': want an IPv4 CIDR of /16 to /32",
				    pool);
	ctl->slb_mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
	ctl->slb_net = ntohl(a.s_addr) & ctl->slb_mask;
	return 0;
}
