/* Container lifecycle hooks: preStop before a container is stopped, as the
 * kubelet's killContainer runs it — inside the grace period (the hook gets
 * what is left of it), then SIGTERM, then SIGKILL at the deadline, with at
 * least 2 s between SIGTERM and SIGKILL once a hook used the period up
 * (minimumGracePeriodInSeconds). Handlers: exec (in the container, through
 * the runtime), httpGet (from the node to the pod's address) and sleep. */
#include <string.h>
#include <time.h>
#include "internal.h"

#define MIN_GRACE_MS 2000

int64_t agent_prestop_run(struct mk_agent *a, const cJSON *pod, const cJSON *c, const char *cid,
			  const char *pod_ip, int64_t deadline_ms)
{
	const cJSON *h = mk_json_get(c, "lifecycle.preStop");
	const char *name = mk_json_get_string(c, "name");
	const char *pname = mk_json_get_string(pod, "metadata.name");
	int64_t left = deadline_ms - agent_now_ms();
	if (!cJSON_IsObject(h) || !cid || left <= 0)
		return deadline_ms;

	const cJSON *sl = mk_json_get(h, "sleep.seconds");
	if (cJSON_IsNumber(sl)) {
		int64_t ms = (int64_t)sl->valuedouble * 1000;
		if (ms > left)
			ms = left;
		if (ms > 0) {
			struct timespec ts = {.tv_sec = ms / 1000,
					      .tv_nsec = (ms % 1000) * 1000000};
			while (nanosleep(&ts, &ts) < 0)
				;
		}
	} else {
		const char *kind = cJSON_GetObjectItem(h, "exec")	 ? "Exec"
				   : cJSON_GetObjectItem(h, "httpGet")	 ? "HTTP"
				   : cJSON_GetObjectItem(h, "tcpSocket") ? "TCP"
									 : NULL;
		if (!kind)
			return deadline_ms;
		/* the probe runner does the work; the hook's timeout is the grace left */
		_cleanup_cjson_ cJSON *probe = cJSON_Duplicate(h, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(probe, "timeoutSeconds");
		cJSON_AddNumberToObject(probe, "timeoutSeconds", (double)((left + 999) / 1000));
		_cleanup_free_ char *msg = NULL;
		if (agent_probe_run(a, probe, c, pod_ip && *pod_ip ? pod_ip : "127.0.0.1", cid,
				    &msg) != PROBE_SUCCESS)
			agent_event(a, pod, "Warning", "FailedPreStopHook",
				    "%s lifecycle hook for Container \"%s\" in Pod \"%s\" failed - "
				    "error: %s",
				    kind, name ? name : "", pname ? pname : "", msg ? msg : "");
	}
	int64_t min = agent_now_ms() + MIN_GRACE_MS;
	return deadline_ms < min ? min : deadline_ms;
}
