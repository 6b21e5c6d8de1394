/* The scheduler's resource filter (kube-scheduler's NodeResourcesFit and its
 * pod count check): the sum of what the node's non-terminated pods request plus
 * what this pod requests must stay within the node's allocatable cpu and memory,
 * and the node must have room for one more pod. Requests are counted as
 * PodRequests counts them (mk_api_pod_requests). */
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/controller.h"

static bool terminated(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

int mk_controller_sched_fit(const cJSON *pod, const cJSON *node, const cJSON *const *node_pods,
			    size_t n_node_pods, const char *reasons[3])
{
	const cJSON *alloc = mk_json_get(node, "status.allocatable");
	int n = 0;
	int64_t used_cpu = 0, used_mem = 0, count = 0;

	for (size_t i = 0; i < n_node_pods; i++) {
		if (!node_pods[i] || terminated(node_pods[i]))
			continue;
		int64_t c, m;
		mk_api_pod_requests(mk_json_get(node_pods[i], "spec"), &c, &m);
		used_cpu = used_cpu > INT64_MAX - c ? INT64_MAX : used_cpu + c;
		used_mem = used_mem > INT64_MAX - m ? INT64_MAX : used_mem + m;
		count++;
	}
	/* a node that reports no allocatable (an old agent) is not limited by it */
	if (!cJSON_IsObject(alloc))
		return 0;
	const cJSON *pods_q = cJSON_GetObjectItemCaseSensitive(alloc, "pods");
	if (pods_q) {
		int64_t max_pods = mk_api_resource_list_milli(alloc, "pods") / 1000;
		if (count + 1 > max_pods)
			reasons[n++] = "Too many pods";
	}
	int64_t cpu, mem;
	mk_api_pod_requests(mk_json_get(pod, "spec"), &cpu, &mem);
	if (cpu > 0 && cJSON_GetObjectItemCaseSensitive(alloc, "cpu") &&
	    cpu > mk_api_resource_list_milli(alloc, "cpu") - used_cpu)
		reasons[n++] = "Insufficient cpu";
	if (mem > 0 && cJSON_GetObjectItemCaseSensitive(alloc, "memory") &&
	    mem > mk_api_resource_list_milli(alloc, "memory") / 1000 - used_mem)
		reasons[n++] = "Insufficient memory";
	return n;
}
