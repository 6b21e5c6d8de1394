/* The scheduler's resource filter (kube-scheduler's NodeResourcesFit and its
 * pod count check): the sum of what the node's non-terminated pods request plus
 * what this pod requests must stay within the node's allocatable cpu and memory,
 * and the node must have room for one more pod. Requests are counted as
 * PodRequests counts them (mk_api_pod_requests). */
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/controller.h"
#include "internal.h"

static bool terminated(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

/* The filter on a node's totals (from the scheduler's cache or counted below):
 * cpu in millicores, memory in bytes. */
int sched_node_fit(const struct sched_node *n, int64_t cpu, int64_t mem, const char *reasons[3])
{
	int k = 0;
	/* a node that reports no allocatable (an old agent) is not limited by it */
	if (!n->has_alloc)
		return 0;
	if (n->alloc_pods >= 0 && n->npods + 1 > n->alloc_pods)
		reasons[k++] = "Too many pods";
	if (cpu > 0 && n->alloc_cpu >= 0 && cpu > n->alloc_cpu - n->req_cpu)
		reasons[k++] = "Insufficient cpu";
	if (mem > 0 && n->alloc_mem >= 0 && mem > n->alloc_mem - n->req_mem)
		reasons[k++] = "Insufficient memory";
	return k;
}

int mk_controller_sched_fit(const cJSON *pod, const cJSON *node, const cJSON *const *node_pods,
			    size_t n_node_pods, const char *reasons[3])
{
	const cJSON *alloc = mk_json_get(node, "status.allocatable");
	struct sched_node n = { .has_alloc = cJSON_IsObject(alloc), .alloc_cpu = -1, .alloc_mem = -1,
				.alloc_pods = -1 };

	for (size_t i = 0; i < n_node_pods; i++) {
		if (!node_pods[i] || terminated(node_pods[i]))
			continue;
		int64_t c, m;
		mk_api_pod_requests(mk_json_get(node_pods[i], "spec"), &c, &m);
		n.req_cpu = n.req_cpu > INT64_MAX - c ? INT64_MAX : n.req_cpu + c;
		n.req_mem = n.req_mem > INT64_MAX - m ? INT64_MAX : n.req_mem + m;
		n.npods++;
	}
	if (n.has_alloc) {
		if (cJSON_GetObjectItemCaseSensitive(alloc, "pods"))
			n.alloc_pods = mk_api_resource_list_milli(alloc, "pods") / 1000;
		if (cJSON_GetObjectItemCaseSensitive(alloc, "cpu"))
			n.alloc_cpu = mk_api_resource_list_milli(alloc, "cpu");
		if (cJSON_GetObjectItemCaseSensitive(alloc, "memory"))
			n.alloc_mem = mk_api_resource_list_milli(alloc, "memory") / 1000;
	}
	int64_t cpu, mem;
	mk_api_pod_requests(mk_json_get(pod, "spec"), &cpu, &mem);
	return sched_node_fit(&n, cpu, mem, reasons);
}
