/* Helpers shared by the controllers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

void split_key(const char *key, char **ret_ns, char **ret_name)
{
	const char *slash = strchr(key, '/');
	if (!slash) {
		*ret_ns = mk_strdup("");
		*ret_name = mk_strdup(key);
		return;
	}
	*ret_ns = strndup(key, (size_t)(slash - key));
	if (!*ret_ns)
		abort();
	*ret_name = mk_strdup(slash + 1);
}

bool labels_match_map(const cJSON *sel, const cJSON *labels)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, sel)
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, it->string);
		if (!cJSON_IsString(it) || !cJSON_IsString(v) || strcmp(v->valuestring, it->valuestring))
			return false;
	}
	return true;
}

cJSON *find_condition(const cJSON *obj, const char *type)
{
	cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(obj, "status.conditions"))
	{
		const char *t = mk_json_get_string(c, "type");
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

bool has_deletion(const cJSON *obj)
{
	const char *d = mk_json_get_string(obj, "metadata.deletionTimestamp");
	return d && *d;
}

int json_int(const cJSON *obj, const char *path, int def)
{
	const cJSON *v = mk_json_get(obj, path);
	return cJSON_IsNumber(v) ? v->valueint : def;
}

cJSON *controller_ref_new(const cJSON *owner)
{
	cJSON *r = cJSON_CreateObject();
	const char *av = mk_json_get_string(owner, "apiVersion");
	const char *kind = mk_json_get_string(owner, "kind");
	cJSON_AddStringToObject(r, "apiVersion", av ? av : "apps/v1");
	cJSON_AddStringToObject(r, "kind", kind ? kind : "");
	cJSON_AddStringToObject(r, "name", mk_json_get_string(owner, "metadata.name"));
	cJSON_AddStringToObject(r, "uid", mk_json_get_string(owner, "metadata.uid"));
	cJSON_AddBoolToObject(r, "controller", 1);
	cJSON_AddBoolToObject(r, "blockOwnerDeletion", 1);
	return r;
}

void now_rfc3339(char buf[32])
{
	mk_time_format(time(NULL), buf, 32);
}


/* ---- public helpers ---------------------------------------------------------------- */

bool mk_controller_pod_ready(const cJSON *pod)
{
	cJSON *c = find_condition(pod, "Ready");
	const char *s = mk_json_get_string(c, "status");
	return s && !strcmp(s, "True");
}

void mk_controller_template_hash(const cJSON *template, uint32_t collision_count, char out[11])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	struct mk_buf b;

	mk_buf_init(&b);
	mk_json_canonical(template, &b);
	if (collision_count) {
		/* as Kubernetes: the count's 4 little-endian bytes follow the object */
		unsigned char le[4];
		for (int i = 0; i < 4; i++)
			le[i] = (collision_count >> (8 * i)) & 0xff;
		mk_buf_append(&b, le, sizeof(le));
	}
	uint32_t h = mk_fnv1a32(b.data, b.len);
	mk_buf_release(&b);
	char dec[11];
	snprintf(dec, sizeof(dec), "%u", h);
	size_t i;
	for (i = 0; dec[i]; i++)
		out[i] = alphabet[(unsigned char)dec[i] % (sizeof(alphabet) - 1)];
	out[i] = '\0';
}

int mk_controller_int_or_percent(const cJSON *v, int total, bool round_up, int def_pct)
{
	double pct;
	if (!v || cJSON_IsNull(v)) {
		pct = def_pct;
	} else if (cJSON_IsNumber(v)) {
		return v->valueint < 0 ? -1 : v->valueint;
	} else if (cJSON_IsString(v)) {
		char *end;
		long p = strtol(v->valuestring, &end, 10);
		if (end == v->valuestring || strcmp(end, "%") || p < 0)
			return -1;
		pct = (double)p;
	} else {
		return -1;
	}
	/* integer arithmetic as apimachinery's GetScaledValueFromIntOrPercent */
	long num = (long)pct * total;
	if (round_up)
		return (int)((num + 99) / 100);
	return (int)(num / 100);
}

long delete_collection(struct mk_controllers *ctl, const char *path)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *dpath = mk_strdup_printf("%s?propagationPolicy=Background", path);
	struct mk_client_request req = { .method = "DELETE", .path = dpath };
	struct mk_client_response res = { 0 };
	if (mk_client_do(ctl->c, &req, &res, &err) < 0)
		return -1;
	long code = res.code;
	mk_client_response_release(&res);
	return code;
}

int ctl_status_update(struct mk_controllers *ctl, int inf, const char *gv, const char *resource,
		      const cJSON *obj, const cJSON *status)
{
	if (cJSON_Compare(cJSON_GetObjectItem(obj, "status"), status, 1))
		return 0;
	_cleanup_cjson_ cJSON *body = cJSON_Duplicate(obj, 1);
	mk_json_set(body, "status", cJSON_Duplicate(status, 1));
	_cleanup_free_ char *path = mk_client_resource_path(gv, resource,
					     mk_json_get_string(obj, "metadata.namespace"),
					     mk_json_get_string(obj, "metadata.name"), "status");
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_update(ctl->c, path, body, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(ctl->inf[inf], res);
	return 0;
}

void endpoint_pod_ref(cJSON *ep, const cJSON *pod)
{
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	if (node && *node)
		cJSON_AddStringToObject(ep, "nodeName", node);
	cJSON *ref = cJSON_AddObjectToObject(ep, "targetRef");
	cJSON_AddStringToObject(ref, "kind", "Pod");
	cJSON_AddStringToObject(ref, "namespace", mk_json_get_string(pod, "metadata.namespace"));
	cJSON_AddStringToObject(ref, "name", mk_json_get_string(pod, "metadata.name"));
	cJSON_AddStringToObject(ref, "uid", mk_json_get_string(pod, "metadata.uid"));
}
