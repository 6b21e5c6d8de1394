#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/util.h"

cJSON *mk_json_get(const cJSON *obj, const char *path)
{
	const char *p = path;
	char key[256];

	while (obj && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (!cJSON_IsObject(obj))
			return NULL;
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		p = dot ? dot + 1 : p + n;
	}
	return (cJSON *)obj;
}

const char *mk_json_get_string(const cJSON *obj, const char *path)
{
	cJSON *j = mk_json_get(obj, path);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

cJSON *mk_json_ensure_object(cJSON *obj, const char *path)
{
	const char *p = path;
	char key[256];

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			abort();
		memcpy(key, p, n);
		key[n] = '\0';
		cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
		if (!cJSON_IsObject(c)) {
			c = cJSON_CreateObject();
			mk_json_set(obj, key, c);
		}
		obj = c;
		p = dot ? dot + 1 : p + n;
	}
	return obj;
}

void mk_json_set(cJSON *obj, const char *key, cJSON *item)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
	else
		cJSON_AddItemToObject(obj, key, item);
}

void mk_json_set_string(cJSON *obj, const char *key, const char *value)
{
	mk_json_set(obj, key, cJSON_CreateString(value));
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

void mk_json_canonical(const cJSON *v, struct mk_buf *b)
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
			mk_json_canonical(cJSON_GetObjectItemCaseSensitive(v, keys[i]), b);
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
			mk_json_canonical(it, b);
		}
		mk_buf_puts(b, "]");
	} else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
		   fabs(v->valuedouble) < 1e15) {
		mk_buf_printf(b, "%lld", (long long)v->valuedouble);
	} else {
		put_leaf(b, v);
	}
}
