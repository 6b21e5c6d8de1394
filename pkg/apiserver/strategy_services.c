/* Services on the server: the ClusterIP and node ports a Service has or needs
 * are reserved with it (services.c keeps the allocators) and given back when it
 * goes or drops them; an update that omits them keeps them, and a type change
 * drops what belonged to the old type. */
#include <string.h>
#include "internal.h"

/* An update that omits allocated addresses keeps them, as kube-apiserver does:
 * clients (kubectl apply, edit) often send a service back without clusterIP or
 * nodePort. Changing them is refused by validation (immutable). */
static void keep_service_addresses(const cJSON *old, cJSON *obj)
{
	cJSON *spec = mk_json_ensure_object(obj, "spec");
	const char *oip = mk_json_get_string(old, "spec.clusterIP");
	const char *nip = mk_json_get_string(obj, "spec.clusterIP");
	cJSON *p;

	if (oip && (!nip || !*nip)) {
		mk_json_set_string(spec, "clusterIP", oip);
		cJSON *ips = mk_json_get(old, "spec.clusterIPs");
		if (ips)
			mk_json_set(spec, "clusterIPs", cJSON_Duplicate(ips, 1));
	}
	/* node ports only while the new type has them (kube-apiserver's
	 * patchAllocatedValues), so that a type change to ClusterIP validates */
	const char *type = mk_json_get_string(obj, "spec.type");
	const char *etp = mk_json_get_string(obj, "spec.externalTrafficPolicy");
	bool lb = type && !strcmp(type, "LoadBalancer");
	if (!lb && !(type && !strcmp(type, "NodePort")))
		return;
	cJSON *ohc = mk_json_get(old, "spec.healthCheckNodePort");
	if (lb && etp && !strcmp(etp, "Local") && cJSON_IsNumber(ohc) &&
	    !cJSON_GetObjectItem(spec, "healthCheckNodePort"))
		mk_json_set(spec, "healthCheckNodePort", cJSON_Duplicate(ohc, 1));
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(spec, "ports"))
	{
		cJSON *np = cJSON_GetObjectItem(p, "nodePort"), *op;
		if (cJSON_IsNumber(np) && np->valueint)
			continue;
		cJSON_ArrayForEach(op, mk_json_get(old, "spec.ports"))
		{
			cJSON *onp = cJSON_GetObjectItem(op, "nodePort");
			if (cJSON_IsNumber(onp) &&
			    cJSON_Compare(cJSON_GetObjectItem(op, "port"), cJSON_GetObjectItem(p, "port"), 1))
				mk_json_set(p, "nodePort", cJSON_Duplicate(onp, 1));
		}
	}
}

/* A type change drops the fields of the old type that the client sent back
 * unchanged (kube-apiserver's dropTypeDependentFields), so that `kubectl patch
 * -p '{"spec":{"type":"ClusterIP"}}'` on a LoadBalancer validates; the node
 * ports dropped are released once the update is stored. */
static void drop_type_dependent_fields(const cJSON *old, cJSON *obj)
{
	const char *ot = mk_json_get_string(old, "spec.type");
	const char *nt = mk_json_get_string(obj, "spec.type");
	cJSON *spec = cJSON_GetObjectItem(obj, "spec");
	if (!ot || !nt || !strcmp(ot, nt) || !spec)
		return;
	bool ext_old = !strcmp(ot, "NodePort") || !strcmp(ot, "LoadBalancer");
	bool ext_new = !strcmp(nt, "NodePort") || !strcmp(nt, "LoadBalancer");
	bool lb_new = !strcmp(nt, "LoadBalancer");
	const char *same[] = { "externalTrafficPolicy", "healthCheckNodePort",
			       "allocateLoadBalancerNodePorts", "loadBalancerClass" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(same); i++) {
		bool keep = i == 0 ? ext_new : lb_new;
		if (i == 1) {
			const char *etp = mk_json_get_string(obj, "spec.externalTrafficPolicy");
			keep = lb_new && etp && !strcmp(etp, "Local");
		}
		if (!keep && cJSON_Compare(cJSON_GetObjectItem(spec, same[i]),
					   mk_json_get(old, "spec") ? cJSON_GetObjectItem(mk_json_get(old, "spec"), same[i])
								    : NULL, 1))
			cJSON_DeleteItemFromObject(spec, same[i]);
	}
	if (!ext_old || ext_new)
		return;
	cJSON *p, *op;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(spec, "ports"))
	{
		cJSON *np = cJSON_GetObjectItem(p, "nodePort");
		if (!np)
			continue;
		cJSON_ArrayForEach(op, mk_json_get(old, "spec.ports"))
		{
			if (cJSON_Compare(cJSON_GetObjectItem(op, "port"), cJSON_GetObjectItem(p, "port"), 1) &&
			    cJSON_Compare(cJSON_GetObjectItem(op, "nodePort"), np, 1)) {
				cJSON_DeleteItemFromObject(p, "nodePort");
				break;
			}
		}
	}
}

/* an update keeps the allocated addresses the client omitted and drops the
 * old type's fields */
static void update_prepare(const cJSON *old, cJSON *obj)
{
	drop_type_dependent_fields(old, obj);
	keep_service_addresses(old, obj);
}

static const char *const field_selectors[] = { "spec.clusterIP", "spec.type", NULL };

const struct mk_server_strategy mk_strategy_services = {
	.group = "",
	.resource = "services",
	.check = mk_services_check,
	.reserve = mk_services_allocate,
	.release = mk_services_release,
	.update_prepare = update_prepare,
	.update_reserve = mk_services_allocate_update,
	.update_release = mk_services_release_dropped,
	.quota_on_update = true,
	.field_selectors = field_selectors,
};
