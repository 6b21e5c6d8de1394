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

char *res_path(const char *group_version, const char *resource, const char *ns, const char *name,
	       const char *sub)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "%s/%s", strchr(group_version, '/') ? "/apis" : "/api", group_version);
	if (ns && *ns)
		mk_buf_printf(&b, "/namespaces/%s", ns);
	mk_buf_printf(&b, "/%s", resource);
	if (name)
		mk_buf_printf(&b, "/%s", name);
	if (sub)
		mk_buf_printf(&b, "/%s", sub);
	return mk_buf_steal(&b);
}

/* ---- public helpers ---------------------------------------------------------------- */

bool mk_controller_pod_ready(const cJSON *pod)
{
	cJSON *c = find_condition(pod, "Ready");
	const char *s = mk_json_get_string(c, "status");
	return s && !strcmp(s, "True");
}

const cJSON *mk_controller_ref(const cJSON *obj)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, mk_json_get(obj, "metadata.ownerReferences"))
	{
		if (cJSON_IsTrue(cJSON_GetObjectItem(r, "controller")))
			return r;
	}
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_leaf(struct mk_buf *b, const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	mk_buf_puts(b, s ? s : "null");
	cJSON_free(s);
}

void mk_controller_canonical_json(const cJSON *v, struct mk_buf *b)
{
	if (cJSON_IsObject(v)) {
		int n = cJSON_GetArraySize(v), i = 0;
		const char **keys = mk_malloc0(((size_t)n + 1) * sizeof(char *));
		const cJSON *it;
		cJSON_ArrayForEach(it, v) keys[i++] = it->string;
		qsort(keys, (size_t)n, sizeof(char *), cmp_str);
		mk_buf_puts(b, "{");
		for (i = 0; i < n; i++) {
			cJSON *k = cJSON_CreateString(keys[i]);
			put_leaf(b, k);
			cJSON_Delete(k);
			mk_buf_puts(b, ":");
			mk_controller_canonical_json(cJSON_GetObjectItemCaseSensitive(v, keys[i]), b);
			if (i + 1 < n)
				mk_buf_puts(b, ",");
		}
		mk_buf_puts(b, "}");
		free(keys);
	} else if (cJSON_IsArray(v)) {
		const cJSON *it;
		bool first = true;
		mk_buf_puts(b, "[");
		cJSON_ArrayForEach(it, v)
		{
			if (!first)
				mk_buf_puts(b, ",");
			first = false;
			mk_controller_canonical_json(it, b);
		}
		mk_buf_puts(b, "]");
	} else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
		   fabs(v->valuedouble) < 1e15) {
		mk_buf_printf(b, "%lld", (long long)v->valuedouble);
	} else {
		put_leaf(b, v);
	}
}

void mk_controller_template_hash(const cJSON *template, uint32_t collision_count, char out[11])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	struct mk_buf b;
	uint32_t h = 2166136261u;

	mk_buf_init(&b);
	mk_controller_canonical_json(template, &b);
	for (size_t i = 0; i < b.len; i++) {
		h ^= (unsigned char)b.data[i];
		h *= 16777619u;
	}
	mk_buf_release(&b);
	if (collision_count) {
		/* as Kubernetes: the count's 4 little-endian bytes follow the object */
		for (int i = 0; i < 4; i++) {
			h ^= (collision_count >> (8 * i)) & 0xff;
			h *= 16777619u;
		}
	}
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

int mk_controller_parse_duration(const char *s, unsigned *ret_ms, struct mk_error **err)
{
	char *end;
	double v = s ? strtod(s, &end) : 0;
	double mul;
	if (!s || end == s || v < 0)
		return mk_error_set(err, EINVAL, "invalid duration '%s'", s ? s : "");
	if (!*end || !strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else
		return mk_error_set(err, EINVAL, "invalid duration '%s' (want e.g. 500ms, 40s, 5m)", s);
	if (v * mul > 4e9)
		return mk_error_set(err, ERANGE, "duration '%s' is too long", s);
	*ret_ms = (unsigned)(v * mul);
	return 0;
}
