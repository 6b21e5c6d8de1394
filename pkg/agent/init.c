/* Init containers and the pod phase: the pure rules the pod sync (pod.c) applies.
 *
 * Init containers run one at a time in spec order, each to completion, before any
 * app container starts. A sidecar (an init container with restartPolicy Always)
 * is not waited for to complete but to be started (running, startup probe passed),
 * then keeps running beside the app containers. See the Kubernetes documentation
 * "Init Containers" and "Sidecar Containers", and the kubelet's
 * computeInitContainerActions / getPhase for the rules followed here. */
#include <stdbool.h>
#include <stddef.h>
#include "minik8s/agent.h"

enum mk_agent_init_step mk_agent_init_next(const struct mk_agent_init_view *v, size_t n,
					   size_t *ret_index)
{
	for (size_t i = 0; i < n; i++) {
		*ret_index = i;
		if (v[i].sidecar) {
			if (v[i].started)
				continue;
			return v[i].running ? MK_AGENT_INIT_WAIT : MK_AGENT_INIT_START;
		}
		if (v[i].completed)
			continue;
		if (v[i].failed)
			return MK_AGENT_INIT_FAILED;
		return v[i].running ? MK_AGENT_INIT_WAIT : MK_AGENT_INIT_START;
	}
	*ret_index = n;
	return MK_AGENT_INIT_DONE;
}

const char *mk_agent_pod_phase(const struct mk_agent_phase_input *in)
{
	if (in->init_failed)
		return "Failed"; /* restartPolicy Never: the init container is not retried */
	if (!in->initialized)
		return "Pending";
	if (in->apps > 0 && in->apps_done == in->apps)
		return in->apps_failed ? "Failed" : "Succeeded";
	if (in->apps_pending > 0)
		return "Pending";
	return "Running";
}
