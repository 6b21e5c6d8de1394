/* Private helpers of the api package (not part of include/minik8s/api.h). */
#ifndef MINIK8S_API_INTERNAL_H
#define MINIK8S_API_INTERNAL_H

#include <stdbool.h>
#include <string.h>
#include "minik8s/api.h"

/* true if r is the resource of the given kind (r may be NULL). */
static inline bool mk_api_is_kind(const struct mk_api_resource *r, const char *kind)
{
	return r && r->kind && strcmp(r->kind, kind) == 0;
}

/* Number at path, or def when absent / not a number. */
static inline double mk_api_json_number(const cJSON *obj, const char *path, double def)
{
	const cJSON *j = mk_json_get(obj, path);
	return cJSON_IsNumber(j) ? j->valuedouble : def;
}

/* Sets key to item only when key is absent (or JSON null);
 * item is consumed either way. */
static inline void mk_api_json_default(cJSON *obj, const char *key, cJSON *item)
{
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cur && !cJSON_IsNull(cur)) {
		cJSON_Delete(item);
		return;
	}
	mk_json_set(obj, key, item);
}

/* true if the string at key is absent or "" (protobuf and kubectl send "" for unset). */
static inline bool mk_api_json_str_empty(const cJSON *obj, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	return !j || cJSON_IsNull(j) || (cJSON_IsString(j) && j->valuestring[0] == '\0');
}

/* The schema source text (schema_defs.c), parsed by schema.c. */
extern const char mk_api_schema_src[];

#endif
