/* Pods on the server: ServiceAccount admission, LimitRanger's defaults and
 * bounds, graceful deletion (a pod bound to a node goes when its agent, or a force
 * delete, sets the grace to 0), the ephemeralcontainers and binding (binding.c)
 * subresources, and the streaming subresources proxied to the pod's node agent
 * (proxy.c, portforward.c). */
#include <string.h>
#include "internal.h"

/* Sets dst's spec.ephemeralContainers to src's (or removes it). */
static void copy_ephemeral(cJSON *dst, const cJSON *src)
{
	const cJSON *ec = mk_json_get(src, "spec.ephemeralContainers");
	cJSON *spec = mk_json_ensure_object(dst, "spec");
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "ephemeralContainers");
	if (ec)
		cJSON_AddItemToObject(spec, "ephemeralContainers", cJSON_Duplicate(ec, 1));
}

/* ephemeral containers change only through their subresource */
static void update_prepare(const cJSON *old, cJSON *obj)
{
	copy_ephemeral(obj, old);
}

/* pods/ephemeralcontainers writes spec.ephemeralContainers and nothing else
 * (kube's EphemeralContainersStrategy) */
static void ephemeral_write(cJSON *obj, const cJSON *sent)
{
	copy_ephemeral(obj, sent);
}

/* a pod on a node gets its grace period (DeleteOptions', else the spec's, else
 * 30 s) for the agent to stop it; an unscheduled one goes at once */
static long delete_grace(const cJSON *pod, long requested)
{
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	if (!node || !*node)
		return 0;
	cJSON *tg = mk_json_get(pod, "spec.terminationGracePeriodSeconds");
	return requested >= 0 ? requested : cJSON_IsNumber(tg) ? (long)tg->valuedouble : 30;
}

static bool holds(const cJSON *pod)
{
	cJSON *g = mk_json_get(pod, "metadata.deletionGracePeriodSeconds");
	return !cJSON_IsNumber(g) || g->valuedouble != 0;
}

/* LimitRanger's container defaults; the QoS class is then the one of the pod as
 * admitted (upstream computes it in PrepareForCreate, after mutating admission) */
static void limits_default(const cJSON *const *lrs, size_t n, cJSON *pod)
{
	mk_api_limitranges_default_pod(lrs, n, pod);
	mk_json_set_string(mk_json_ensure_object(pod, "status"), "qosClass",
			   mk_api_pod_qos_class(cJSON_GetObjectItemCaseSensitive(pod, "spec")));
}

static const struct mk_subresource subresources[] = {
	{ .name = "ephemeralcontainers", .write = ephemeral_write, .typed = true,
	  .methods = "GET HEAD PUT PATCH" },
	{ .name = "binding", .handle = mk_pods_binding_handle },
	{ .name = "log", .handle = mk_proxy_pod_log },
	{ .name = "exec", .handle = mk_proxy_pod_exec },
	{ .name = "attach", .handle = mk_proxy_pod_exec },
	{ .name = "portforward", .handle = mk_proxy_pod_portforward },
	{ .name = NULL },
};

static const char *const field_selectors[] = {
	"spec.nodeName",  "spec.restartPolicy", "spec.schedulerName",
	"spec.serviceAccountName", "spec.hostNetwork", "status.phase",
	"status.podIP",	  "status.podIPs",	"status.nominatedNodeName",
	NULL,
};

const struct mk_server_strategy mk_strategy_pods = {
	.group = "",
	.resource = "pods",
	.admit = mk_serviceaccounts_admit_pod,
	.limits_default = limits_default,
	.limits_check = mk_api_limitranges_check_pod,
	.update_prepare = update_prepare,
	.delete_grace = delete_grace,
	.holds = holds,
	.subresources = subresources,
	.field_selectors = field_selectors,
};
