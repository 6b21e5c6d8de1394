/* core/v1 ConfigMap, and the rules ConfigMaps and Secrets share: validation as
 * kube-apiserver's (pkg/apis/core/validation ValidateConfigMap and the config-key
 * rule of IsConfigMapKey), the `immutable` lock on updates, Table columns as
 * kube-apiserver prints them (NAME DATA AGE). Also the checks of a container's
 * env sources that name ConfigMaps and Secrets (valueFrom, envFrom). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define MAX_KEY_LEN 253

static const char immutable_msg[] = "Forbidden: field is immutable when `immutable` is set";

const char *mk_api_check_config_key(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MAX_KEY_LEN)
		return n ? "must be no more than 253 characters"
			 : "a valid config key must consist of alphanumeric characters, '-', '_' or "
			   "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
			   "validation is '[-._a-zA-Z0-9]+')";
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return "a valid config key must consist of alphanumeric characters, '-', '_' "
			       "or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
			       "for validation is '[-._a-zA-Z0-9]+')";
	}
	if (!strcmp(s, "."))
		return "must not be '.'";
	if (!strcmp(s, ".."))
		return "must not be '..'";
	if (!strncmp(s, "..", 2))
		return "must not start with '..'";
	return NULL;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict standard base64 as Go's encoding/base64 StdEncoding decodes []byte
 * fields: padding required, '\r' and '\n' skipped, nothing after the padding.
 * Returns -1 and the decoded length when valid, else the offset of the bad byte. */
long mk_api_base64_check(const char *s, size_t *ret_len)
{
	size_t q = 0, out = 0;
	long i;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '\r' || c == '\n')
			continue;
		if (c != '=') {
			if (b64_value(c) < 0)
				return i;
			q = (q + 1) % 4;
			if (q == 0)
				out += 3;
			continue;
		}
		/* padding: "xx==" or "xxx=", then the end */
		if (q < 2)
			return i;
		out += q - 1;
		size_t need = 4 - q;
		for (; s[i] && need; i++) {
			if (s[i] == '\r' || s[i] == '\n')
				continue;
			if (s[i] != '=')
				return i;
			need--;
		}
		if (need)
			return i;
		for (; s[i]; i++)
			if (s[i] != '\r' && s[i] != '\n')
				return i;
		q = 0;
		break;
	}
	if (q)
		return i;
	if (ret_len)
		*ret_len = out;
	return -1;
}

/* data / binaryData / stringData keys; adds the bytes to *total. */
void mk_api_validate_config_map_field(cJSON *causes, const cJSON *m, const char *field,
				      bool base64, size_t *total)
{
	const cJSON *v;
	char f[320];
	if (!m || cJSON_IsNull(m))
		return;
	if (!cJSON_IsObject(m)) {
		mk_api_v_invalid(causes, field, m, "must be an object of string values");
		return;
	}
	cJSON_ArrayForEach(v, m)
	{
		snprintf(f, sizeof(f), "%s[%s]", field, v->string);
		const char *why = mk_api_check_config_key(v->string);
		if (why) {
			cJSON *k = cJSON_CreateString(v->string);
			mk_api_v_invalid(causes, f, k, why);
			cJSON_Delete(k);
		}
		if (!cJSON_IsString(v)) {
			if (!cJSON_IsNull(v))
				mk_api_v_invalid(causes, f, v, "must be a string");
			continue;
		}
		if (base64) {
			size_t n = 0;
			long at = mk_api_base64_check(v->valuestring, &n);
			if (at >= 0) {
				char why2[80];
				snprintf(why2, sizeof(why2), "illegal base64 data at input byte %ld", at);
				mk_api_cause_add(causes, "FieldValueInvalid", f,
						 "Invalid value: \"<value redacted>\": %s", why2);
			}
			*total += n;
		} else {
			*total += strlen(v->valuestring);
		}
	}
}

/* immutable: once true, data and binaryData (Secret: data) are locked and
 * immutable cannot go back (ValidateConfigMapUpdate / ValidateSecretUpdate). */
void mk_api_validate_immutable_data(cJSON *causes, const cJSON *obj, const cJSON *old,
				    const char *const *fields)
{
	if (!old || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(old, "immutable")))
		return;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "immutable")))
		mk_api_cause_add(causes, "FieldValueForbidden", "immutable", "%s", immutable_msg);
	for (size_t i = 0; fields[i]; i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, fields[i]);
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(old, fields[i]);
		bool ea = !a || cJSON_IsNull(a) || (cJSON_IsObject(a) && !a->child);
		bool eb = !b || cJSON_IsNull(b) || (cJSON_IsObject(b) && !b->child);
		if (ea && eb)
			continue;
		if (ea != eb || !cJSON_Compare(a, b, 1))
			mk_api_cause_add(causes, "FieldValueForbidden", fields[i], "%s", immutable_msg);
	}
}

static void configmap_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
	const cJSON *bin = cJSON_GetObjectItemCaseSensitive(obj, "binaryData");
	const cJSON *imm = cJSON_GetObjectItemCaseSensitive(obj, "immutable");
	size_t total = 0;
	const cJSON *v;

	mk_api_validate_config_map_field(causes, data, "data", false, &total);
	mk_api_validate_config_map_field(causes, bin, "binaryData", true, &total);
	if (cJSON_IsObject(bin))
		cJSON_ArrayForEach(v, data)
		{
			if (!cJSON_GetObjectItemCaseSensitive(bin, v->string))
				continue;
			char f[320];
			snprintf(f, sizeof(f), "data[%s]", v->string);
			cJSON *k = cJSON_CreateString(v->string);
			mk_api_v_invalid(causes, f, k, "duplicate of key present in binaryData");
			cJSON_Delete(k);
		}
	if (total > MK_API_MAX_CONFIG_SIZE)
		mk_api_cause_add(causes, "FieldValueTooLong", "",
				 "Too long: may not be more than %d bytes", MK_API_MAX_CONFIG_SIZE);
	if (imm && !cJSON_IsNull(imm) && !cJSON_IsBool(imm))
		mk_api_v_invalid(causes, "immutable", imm, "must be a boolean");
	static const char *const locked[] = { "data", "binaryData", NULL };
	mk_api_validate_immutable_data(causes, obj, old, locked);
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Data", "integer", "", "The number of keys (data and binaryData).", 0 },
	MK_API_AGE_COL,
};

static void configmap_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	int n = 0;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, "data");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "binaryData");
	if (cJSON_IsObject(d))
		n += cJSON_GetArraySize(d);
	if (cJSON_IsObject(b))
		n += cJSON_GetArraySize(b);
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	cJSON_AddItemToArray(cells, cJSON_CreateNumber(n));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_configmap_ops = {
	.validate = configmap_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = configmap_cells,
};

/* ---- a container's env sources (validateEnvVarValueFrom, validateEnvFrom) ---- */

static void key_selector(cJSON *causes, const cJSON *sel, const char *base)
{
	char f[512];
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(sel, "name");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(sel, "key");
	snprintf(f, sizeof(f), "%s.name", base);
	if (!cJSON_IsString(name) || !name->valuestring[0])
		mk_api_v_required(causes, f, NULL);
	else if (mk_api_check_dns1123_subdomain(name->valuestring))
		mk_api_v_invalid(causes, f, name, mk_api_check_dns1123_subdomain(name->valuestring));
	snprintf(f, sizeof(f), "%s.key", base);
	if (!cJSON_IsString(key) || !key->valuestring[0])
		mk_api_v_required(causes, f, NULL);
	else if (mk_api_check_config_key(key->valuestring))
		mk_api_v_invalid(causes, f, key, mk_api_check_config_key(key->valuestring));
}

void mk_api_validate_env_sources(cJSON *causes, const cJSON *container, const char *base,
				 const char *(*check_env_name)(const char *))
{
	char f[400], eb[300];
	const cJSON *e;
	size_t i = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(container, "env"))
	{
		const cJSON *vf = cJSON_GetObjectItemCaseSensitive(e, "valueFrom");
		snprintf(eb, sizeof(eb), "%s.env[%zu].valueFrom", base, i++);
		if (!cJSON_IsObject(vf))
			continue;
		static const char *const srcs[] = { "fieldRef", "resourceFieldRef",
						    "configMapKeyRef", "secretKeyRef" };
		int nsrc = 0;
		for (size_t k = 0; k < MK_ARRAY_SIZE(srcs); k++) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(vf, srcs[k]);
			if (!s || cJSON_IsNull(s))
				continue;
			nsrc++;
			if (k >= 2) {
				snprintf(f, sizeof(f), "%s.%s", eb, srcs[k]);
				key_selector(causes, s, f);
			}
		}
		if (nsrc == 0)
			mk_api_cause_add(causes, "FieldValueInvalid", eb,
					 "Invalid value: \"\": must specify one of: `fieldRef`, "
					 "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
		else if (nsrc > 1)
			mk_api_cause_add(causes, "FieldValueInvalid", eb,
					 "Invalid value: \"\": may not have more than one field "
					 "specified at a time");
		const cJSON *val = cJSON_GetObjectItemCaseSensitive(e, "value");
		if (cJSON_IsString(val) && val->valuestring[0])
			mk_api_cause_add(causes, "FieldValueInvalid", eb,
					 "Invalid value: \"\": may not be specified when `value` is "
					 "not empty");
	}

	i = 0;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(container, "envFrom"))
	{
		snprintf(eb, sizeof(eb), "%s.envFrom[%zu]", base, i++);
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "prefix");
		if (cJSON_IsString(p) && p->valuestring[0] && check_env_name(p->valuestring)) {
			snprintf(f, sizeof(f), "%s.prefix", eb);
			mk_api_v_invalid(causes, f, p, check_env_name(p->valuestring));
		}
		int nsrc = 0;
		static const char *const refs[] = { "configMapRef", "secretRef" };
		for (size_t k = 0; k < MK_ARRAY_SIZE(refs); k++) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, refs[k]);
			if (!r || cJSON_IsNull(r))
				continue;
			nsrc++;
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "name");
			snprintf(f, sizeof(f), "%s.%s.name", eb, refs[k]);
			if (!cJSON_IsString(name) || !name->valuestring[0])
				mk_api_v_required(causes, f, NULL);
			else if (mk_api_check_dns1123_subdomain(name->valuestring))
				mk_api_v_invalid(causes, f, name,
						 mk_api_check_dns1123_subdomain(name->valuestring));
		}
		if (nsrc == 0)
			mk_api_cause_add(causes, "FieldValueInvalid", eb,
					 "Invalid value: \"\": must specify one of: `configMapRef` or "
					 "`secretRef`");
		else if (nsrc > 1)
			mk_api_cause_add(causes, "FieldValueInvalid", eb,
					 "Invalid value: \"\": may not have more than one field "
					 "specified at a time");
	}
}
