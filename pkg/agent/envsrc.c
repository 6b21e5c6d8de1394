/* The ConfigMaps and Secrets a container reads its environment from: env[*].valueFrom
 * configMapKeyRef / secretKeyRef and envFrom configMapRef / secretRef, as the kubelet
 * resolves them (kubelet_pods.go makeEnvironmentVariables): fetched from the API
 * server with the node's credentials when the container starts; a missing object or
 * key is an error (the container waits in CreateContainerConfigError and is retried)
 * unless the reference is optional; envFrom keys that are not valid variable names
 * are skipped with an event. */
#include <errno.h>
#include <string.h>
#include "internal.h"

struct agent_envsrc_obj {
	bool secret;
	char *name;
	cJSON *obj; /* NULL: not found */
};

void agent_envsrc_release(struct agent_envsrc *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->objs[i].name);
		cJSON_Delete(s->objs[i].obj);
	}
	free(s->objs);
	s->objs = NULL;
	s->n = s->cap = 0;
}

/* The object (borrowed from the cache) or NULL when it does not exist. */
static int lookup(struct mk_agent *a, struct agent_envsrc *s, const char *ns, bool secret,
		  const char *name, const cJSON **ret, struct mk_error **err)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->objs[i].secret == secret && !strcmp(s->objs[i].name, name)) {
			*ret = s->objs[i].obj;
			return 0;
		}
	_cleanup_free_ char *path = mk_client_resource_path("v1", secret ? "secrets" : "configmaps",
							    ns, name, NULL);
	_cleanup_error_ struct mk_error *e = NULL;
	cJSON *obj = NULL;
	if (mk_client_get(a->c, path, &obj, &e) < 0) {
		if (e->code != 404) {
			*err = TAKE_PTR(e);
			return mk_error_wrap(err, "get %s \"%s\"", secret ? "secret" : "configmap", name);
		}
		obj = NULL;
	}
	MK_GROW(s->objs, s->cap, s->n + 1);
	s->objs[s->n++] = (struct agent_envsrc_obj){ secret, mk_strdup(name), obj };
	*ret = obj;
	return 0;
}

/* lookup, with a missing object an error unless the reference is optional
 * (then 0 and *ret NULL). */
static int lookup_required(struct mk_agent *a, struct agent_envsrc *s, const char *ns,
			   bool secret, const char *name, bool optional, const cJSON **ret,
			   struct mk_error **err)
{
	if (lookup(a, s, ns, secret, name, ret, err) < 0)
		return -1;
	if (!*ret && !optional)
		return mk_error_set(err, ENOENT, "%s \"%s\" not found",
				    secret ? "secret" : "configmap", name);
	return 0;
}

/* kubelet's check of envFrom names (IsEnvVarName): [-._a-zA-Z][-._a-zA-Z0-9]* */
static bool env_name_ok(const char *s)
{
	if (!s[0] || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

char *agent_object_value(const cJSON *obj, bool secret, const char *key, size_t *ret_len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(mk_json_get(obj, "data"), key);
	bool b64 = secret;
	if (!cJSON_IsString(v) && !secret) {
		v = cJSON_GetObjectItemCaseSensitive(mk_json_get(obj, "binaryData"), key);
		b64 = true;
	}
	if (!cJSON_IsString(v))
		return NULL;
	size_t len = strlen(v->valuestring);
	char *s;
	if (!b64) {
		s = mk_strdup(v->valuestring);
	} else {
		void *raw = NULL;
		if (mk_base64_decode(v->valuestring, &raw, &len) < 0)
			return NULL;
		s = mk_malloc0(len + 1);
		if (len)
			memcpy(s, raw, len);
		free(raw);
	}
	if (ret_len)
		*ret_len = len;
	return s;
}

int agent_envsrc_key(struct mk_agent *a, struct agent_envsrc *s, const cJSON *pod,
		     const cJSON *sel, bool secret, char **ret, struct mk_error **err)
{
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const char *name = mk_json_get_string(sel, "name");
	const char *key = mk_json_get_string(sel, "key");
	bool optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sel, "optional"));
	const cJSON *obj;

	*ret = NULL;
	if (!ns)
		ns = "default";
	if (!name || !key)
		return mk_error_set(err, EINVAL, "%s reference without a name or key",
				    secret ? "secret" : "configmap");
	if (lookup_required(a, s, ns, secret, name, optional, &obj, err) < 0)
		return -1;
	if (!obj)
		return 0; /* optional and missing */
	*ret = agent_object_value(obj, secret, key, NULL);
	if (!*ret && !optional)
		return mk_error_set(err, ENOENT, "couldn't find key %s in %s %s/%s", key,
				    secret ? "Secret" : "ConfigMap", ns, name);
	return 0;
}

int agent_envsrc_from(struct mk_agent *a, struct agent_envsrc *s, const cJSON *pod,
		      const cJSON *from,
		      void (*set)(void *ctx, const char *key, const char *value), void *ctx,
		      struct mk_error **err)
{
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(from, "configMapRef");
	bool secret = false;
	if (!ref || cJSON_IsNull(ref)) {
		ref = cJSON_GetObjectItemCaseSensitive(from, "secretRef");
		secret = true;
	}
	if (!cJSON_IsObject(ref))
		return 0;
	const char *name = mk_json_get_string(ref, "name");
	const char *prefix = mk_json_get_string(from, "prefix");
	bool optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "optional"));
	const cJSON *obj, *kv;
	if (!ns)
		ns = "default";
	if (!name)
		return mk_error_set(err, EINVAL, "envFrom without a name");
	if (lookup_required(a, s, ns, secret, name, optional, &obj, err) < 0)
		return -1;
	if (!obj)
		return 0; /* optional and missing */
	struct mk_buf bad;
	mk_buf_init(&bad);
	/* the kubelet takes a ConfigMap's data only (not binaryData) */
	cJSON_ArrayForEach(kv, mk_json_get(obj, "data"))
	{
		_cleanup_free_ char *k = mk_strdup_printf("%s%s", prefix ? prefix : "", kv->string);
		if (!env_name_ok(k)) {
			mk_buf_printf(&bad, "%s%s", bad.len ? ", " : "", k);
			continue;
		}
		_cleanup_free_ char *v = agent_object_value(obj, secret, kv->string, NULL);
		if (v)
			set(ctx, k, v);
	}
	if (bad.len)
		agent_event(a, pod, "Warning", "InvalidEnvironmentVariableNames",
			    "Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered "
			    "invalid environment variable names.",
			    bad.data, secret ? "secret" : "configMap", ns, name);
	mk_buf_release(&bad);
	return 0;
}
