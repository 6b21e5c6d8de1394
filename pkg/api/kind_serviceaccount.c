/* core/v1 ServiceAccount: the identity a pod runs as. Validation as
 * kube-apiserver's ValidateServiceAccount (the secret and imagePullSecret
 * references need names); the printer's NAME SECRETS AGE. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

static void check_refs(cJSON *causes, const cJSON *obj, const char *field)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, field), *it;
	char f[96];
	int i = 0;

	if (!l || cJSON_IsNull(l))
		return;
	if (!cJSON_IsArray(l)) {
		mk_api_v_invalid(causes, field, l, "must be a list");
		return;
	}
	cJSON_ArrayForEach(it, l)
	{
		snprintf(f, sizeof(f), "%s[%d].name", field, i++);
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
		if (!cJSON_IsString(n) || !n->valuestring[0])
			mk_api_v_required(causes, f, NULL);
	}
}

static void sa_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *am = cJSON_GetObjectItemCaseSensitive(obj, "automountServiceAccountToken");
	(void)old;
	check_refs(causes, obj, "secrets");
	check_refs(causes, obj, "imagePullSecrets");
	if (am && !cJSON_IsNull(am) && !cJSON_IsBool(am))
		mk_api_v_invalid(causes, "automountServiceAccountToken", am, "must be a boolean");
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Secrets", "string", "", "The number of secrets the service account lists.", 0 },
	MK_API_AGE_COL,
};

static void sa_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "secrets");
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	cJSON_AddItemToArray(cells, cJSON_CreateNumber(cJSON_IsArray(s) ? cJSON_GetArraySize(s) : 0));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_serviceaccount_ops = {
	.validate = sa_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = sa_cells,
};
