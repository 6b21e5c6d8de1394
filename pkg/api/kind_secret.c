/* core/v1 Secret: defaults, validation and Table columns as kube-apiserver has
 * them (pkg/apis/core/v1 defaults, pkg/apis/core/validation ValidateSecret and
 * ValidateSecretUpdate, the printer's NAME TYPE DATA AGE). stringData is a
 * write-only convenience: merged into data (base64) on every write and dropped,
 * as the API server's conversion does. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define SA_NAME_ANNOTATION "kubernetes.io/service-account.name"

/* type defaults to Opaque; stringData values override data's and go away */
static void secret_defaults(cJSON *obj)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
	if (!t || cJSON_IsNull(t) || (cJSON_IsString(t) && !t->valuestring[0]))
		mk_json_set_string(obj, "type", "Opaque");

	cJSON *sd = cJSON_GetObjectItemCaseSensitive(obj, "stringData");
	if (!sd)
		return;
	if (cJSON_IsObject(sd) && sd->child) {
		cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
		if (!cJSON_IsObject(data)) {
			cJSON_DeleteItemFromObjectCaseSensitive(obj, "data");
			data = cJSON_AddObjectToObject(obj, "data");
		}
		const cJSON *v;
		cJSON_ArrayForEach(v, sd)
		{
			if (!cJSON_IsString(v))
				continue;
			_cleanup_free_ char *b = mk_base64_encode(v->valuestring, strlen(v->valuestring));
			cJSON_DeleteItemFromObjectCaseSensitive(data, v->string);
			cJSON_AddItemToObject(data, v->string, cJSON_CreateString(b));
		}
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "stringData");
}

static const cJSON *data_key(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "data"), key);
	return cJSON_IsString(v) ? v : NULL;
}

static void require_key(cJSON *causes, const cJSON *obj, const char *key)
{
	char f[128];
	if (data_key(obj, key))
		return;
	snprintf(f, sizeof(f), "data[%s]", key);
	mk_api_v_required(causes, f, NULL);
}

/* .dockerconfigjson / .dockercfg hold JSON, base64-encoded in data */
static void require_json(cJSON *causes, const cJSON *obj, const char *key)
{
	const cJSON *v = data_key(obj, key);
	_cleanup_free_ void *raw = NULL;
	size_t n = 0;
	char f[128];
	if (!v) {
		require_key(causes, obj, key);
		return;
	}
	if (mk_api_base64_check(v->valuestring, NULL) >= 0 || mk_base64_decode(v->valuestring, &raw, &n) < 0)
		return; /* reported as bad base64 already */
	_cleanup_free_ char *text = mk_malloc0(n + 1);
	memcpy(text, raw, n);
	_cleanup_cjson_ cJSON *j = cJSON_ParseWithLength(text, n);
	if (!j) {
		snprintf(f, sizeof(f), "data[%s]", key);
		mk_api_cause_add(causes, "FieldValueInvalid", f,
				 "Invalid value: \"<secret contents redacted>\": invalid character "
				 "in JSON: not a valid JSON document");
	}
}

static void secret_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
	const cJSON *imm = cJSON_GetObjectItemCaseSensitive(obj, "immutable");
	const char *type = cJSON_IsString(t) ? t->valuestring : "";
	size_t total = 0;

	mk_api_validate_config_map_field(causes, data, "data", true, &total);
	if (total > MK_API_MAX_CONFIG_SIZE)
		mk_api_cause_add(causes, "FieldValueTooLong", "data",
				 "Too long: may not be more than %d bytes", MK_API_MAX_CONFIG_SIZE);
	if (t && !cJSON_IsNull(t) && !cJSON_IsString(t))
		mk_api_v_invalid(causes, "type", t, "must be a string");
	if (imm && !cJSON_IsNull(imm) && !cJSON_IsBool(imm))
		mk_api_v_invalid(causes, "immutable", imm, "must be a boolean");

	if (!strcmp(type, "kubernetes.io/service-account-token")) {
		/* mk_json_get splits paths on '.', so the annotation is looked up by hand */
		const cJSON *ann = mk_json_get(obj, "metadata.annotations");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(ann, SA_NAME_ANNOTATION);
		if (!cJSON_IsString(a) || !a->valuestring[0])
			mk_api_v_required(causes, "metadata.annotations[" SA_NAME_ANNOTATION "]", NULL);
	} else if (!strcmp(type, "kubernetes.io/dockercfg")) {
		require_json(causes, obj, ".dockercfg");
	} else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
		require_json(causes, obj, ".dockerconfigjson");
	} else if (!strcmp(type, "kubernetes.io/basic-auth")) {
		if (!data_key(obj, "username") && !data_key(obj, "password")) {
			require_key(causes, obj, "username");
			require_key(causes, obj, "password");
		}
	} else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
		require_key(causes, obj, "ssh-privatekey");
	} else if (!strcmp(type, "kubernetes.io/tls")) {
		require_key(causes, obj, "tls.key");
		require_key(causes, obj, "tls.crt");
	}

	if (old)
		mk_api_v_immutable(causes, "type", t, cJSON_GetObjectItemCaseSensitive(old, "type"));
	static const char *const locked[] = { "data", NULL };
	mk_api_validate_immutable_data(causes, obj, old, locked);
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Type", "string", "", "The type of the secret.", 0 },
	{ "Data", "integer", "", "The number of keys in the secret.", 0 },
	MK_API_AGE_COL,
};

static void secret_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, "data");
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, mk_json_get_string(obj, "type"));
	cJSON_AddItemToArray(cells, cJSON_CreateNumber(cJSON_IsObject(d) ? cJSON_GetArraySize(d) : 0));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_secret_ops = {
	.defaults = secret_defaults,
	.validate = secret_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = secret_cells,
};
