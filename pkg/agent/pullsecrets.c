/* A pod's imagePullSecrets as the kubelet reads them: Secrets of type
 * kubernetes.io/dockerconfigjson (.dockerconfigjson) or kubernetes.io/dockercfg
 * (.dockercfg) in the pod's namespace, fetched with the node's credentials when an
 * image is to be pulled; their registry logins go to the puller. A Secret that is
 * missing is reported with an event and the pull goes on without it, as the
 * kubelet does. */
#include <string.h>
#include "internal.h"

void agent_creds_release(struct agent_creds *c)
{
	mk_image_credentials_free(c->v, c->n);
	c->v = NULL;
	c->n = 0;
}

void agent_pull_credentials(struct mk_agent *a, const cJSON *pod, struct agent_creds *ret)
{
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const cJSON *ref;
	struct mk_buf missing;

	mk_buf_init(&missing);
	cJSON_ArrayForEach(ref, mk_json_get(pod, "spec.imagePullSecrets"))
	{
		const char *name = mk_json_get_string(ref, "name");
		if (!name || !*name)
			continue;
		_cleanup_free_ char *path = mk_client_resource_path("v1", "secrets", ns ? ns : "default",
								    name, NULL);
		_cleanup_error_ struct mk_error *err = NULL;
		_cleanup_cjson_ cJSON *sec = NULL;
		if (mk_client_get(a->c, path, &sec, &err) < 0) {
			mk_buf_printf(&missing, "%s%s", missing.len ? ", " : "", name);
			continue;
		}
		const char *type = mk_json_get_string(sec, "type");
		const char *key = NULL;
		if (type && !strcmp(type, "kubernetes.io/dockerconfigjson"))
			key = ".dockerconfigjson";
		else if (type && !strcmp(type, "kubernetes.io/dockercfg"))
			key = ".dockercfg";
		const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(mk_json_get(sec, "data"), key) : NULL;
		if (!cJSON_IsString(v))
			continue;
		_cleanup_free_ void *raw = NULL;
		size_t n = 0;
		if (mk_base64_decode(v->valuestring, &raw, &n) < 0 ||
		    mk_image_credentials_parse(raw, n, &ret->v, &ret->n, &err) < 0)
			mk_log(MK_LOG_WARN, "agent", "image pull secret %s/%s: %s", ns, name,
			       err ? err->msg : "bad base64");
	}
	if (missing.len)
		agent_event(a, pod, "Warning", "FailedToRetrieveImagePullSecret",
			    "Unable to retrieve some image pull secrets (%s); attempting to pull the "
			    "image may not succeed.",
			    missing.data);
	mk_buf_release(&missing);
}
