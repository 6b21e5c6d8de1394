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

const cJSON *mk_json_find_named(const cJSON *obj, const char *const *paths, size_t n,
				const char *name)
{
	for (size_t i = 0; name && i < n; i++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, mk_json_get(obj, paths[i]))
		{
			const char *cn = mk_json_get_string(c, "name");
			if (cn && !strcmp(cn, name))
				return c;
		}
	}
	return NULL;
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

/* Replaces *s (a cJSON-owned string) by its UTF-8-sanitized copy when it needs one. */
static int fix_string(char **s, bool owned)
{
	if (!*s || mk_utf8_valid(*s, strlen(*s)))
		return 0;
	char *fixed = mk_utf8_sanitize(*s, strlen(*s), NULL);
	if (owned)
		cJSON_free(*s);
	*s = fixed; /* malloc'd, as cJSON's default allocator: cJSON_Delete frees it */
	return 1;
}

int mk_json_utf8_sanitize(cJSON *item)
{
	int n = 0;
	for (; item; item = item->next) {
		if (item->string && fix_string(&item->string, !(item->type & cJSON_StringIsConst))) {
			item->type &= ~cJSON_StringIsConst; /* the new key is ours to free */
			n++;
		}
		if (cJSON_IsString(item) || cJSON_IsRaw(item))
			n += fix_string(&item->valuestring, true);
		if (item->child)
			n += mk_json_utf8_sanitize(item->child);
	}
	return n;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int mk_json_fix_surrogates(char *text, size_t len)
{
	bool in_string = false;
	int fixed = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"') {
			in_string = !in_string;
			continue;
		}
		if (!in_string || text[i] != '\\')
			continue;
		if (i + 1 >= len)
			break;
		if (text[i + 1] != 'u' || i + 6 > len) {
			i++; /* \" \\ \n ...: the escaped character is no quote or escape */
			continue;
		}
		int cp = hex4(text + i + 2);
		if (cp < 0xd800 || cp > 0xdfff) {
			i += 5;
			continue;
		}
		if (cp <= 0xdbff && i + 12 <= len && text[i + 6] == '\\' && text[i + 7] == 'u') {
			int lo = hex4(text + i + 8);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				i += 11; /* a proper pair */
				continue;
			}
		}
		memcpy(text + i, "\\ufffd", 6); /* a lone half: U+FFFD, as Go's decoder */
		fixed++;
		i += 5;
	}
	return fixed;
}
