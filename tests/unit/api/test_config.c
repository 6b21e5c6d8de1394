/* ConfigMap and Secret through the generic entry points: defaults (Secret type,
 * stringData merged into data), validation with field paths as kube-apiserver
 * words them (config keys, base64, size, Secret types, immutable), Table cells,
 * and a container's env sources. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "../../../pkg/api/internal.h"

static const struct mk_api_resource *res(const char *plural)
{
	const struct mk_api_resource *r = mk_api_resource_find("", "v1", plural);
	ck_assert_ptr_nonnull(r);
	return r;
}

static cJSON *parse(const char *json)
{
	cJSON *o = cJSON_Parse(json);
	ck_assert_msg(o != NULL, "bad test JSON: %s", json);
	return o;
}

/* "field: message" of every cause, joined by " | "; NULL when valid */
static char *check(const char *plural, const char *json, const char *old_json)
{
	const struct mk_api_resource *r = res(plural);
	cJSON *o = parse(json), *old = old_json ? parse(old_json) : NULL, *causes = NULL;
	mk_api_default(r, o);
	if (old)
		mk_api_default(r, old);
	int rc = mk_api_validate(r, o, old, &causes);
	cJSON_Delete(o);
	cJSON_Delete(old);
	if (rc == 0)
		return NULL;
	struct mk_buf b;
	const cJSON *c;
	mk_buf_init(&b);
	cJSON_ArrayForEach(c, causes)
	{
		mk_buf_printf(&b, "%s%s: %s", b.len ? " | " : "", mk_json_get_string(c, "field"),
			      mk_json_get_string(c, "message"));
	}
	cJSON_Delete(causes);
	return mk_buf_steal(&b);
}

#define META "\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"}"

static void expect_valid(const char *plural, const char *json, const char *old)
{
	char *e = check(plural, json, old);
	ck_assert_msg(e == NULL, "unexpected causes: %s", e);
}

static void expect_causes(const char *plural, const char *json, const char *old, const char *want)
{
	char *e = check(plural, json, old);
	ck_assert_msg(e != NULL, "valid, want: %s", want);
	ck_assert_str_eq(e, want);
	free(e);
}

START_TEST(test_config_keys)
{
	expect_valid("configmaps", "{" META ",\"data\":{\"a\":\"1\",\"b.c-d_E\":\"x\"},\"binaryData\":{\"bin\":\"AP8=\"}}", NULL);
	expect_causes("configmaps", "{" META ",\"data\":{\"a b\":\"1\"}}", NULL,
		      "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric "
		      "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
		      "regex used for validation is '[-._a-zA-Z0-9]+')");
	expect_causes("configmaps", "{" META ",\"data\":{\"..\":\"1\",\"..x\":\"2\"}}", NULL,
		      "data[..]: Invalid value: \"..\": must not be '..' | "
		      "data[..x]: Invalid value: \"..x\": must not start with '..'");
	expect_causes("configmaps", "{" META ",\"data\":{\"k\":\"1\"},\"binaryData\":{\"k\":\"MQ==\"}}", NULL,
		      "data[k]: Invalid value: \"k\": duplicate of key present in binaryData");
	expect_causes("configmaps", "{" META ",\"binaryData\":{\"k\":\"MQ\"}}", NULL,
		      "binaryData[k]: Invalid value: \"<value redacted>\": illegal base64 data at input byte 2");
}
END_TEST

START_TEST(test_base64_strict)
{
	size_t n = 0;
	ck_assert_int_eq(mk_api_base64_check("", &n), -1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mk_api_base64_check("cEBzcw==", &n), -1);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(mk_api_base64_check("YWJj", &n), -1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(mk_api_base64_check("YW\nJj\r\n", &n), -1);
	ck_assert_int_eq(mk_api_base64_check("YWJ=", &n), -1);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(mk_api_base64_check("abc", NULL), 3);	   /* short */
	ck_assert_int_eq(mk_api_base64_check("ab!d", NULL), 2);	   /* bad byte */
	ck_assert_int_eq(mk_api_base64_check("a===", NULL), 1);	   /* too much padding */
	ck_assert_int_eq(mk_api_base64_check("YQ==YQ==", NULL), 4); /* data after padding */
	ck_assert_int_eq(mk_api_base64_check("YQ=x", NULL), 3);
}
END_TEST

START_TEST(test_size_limit)
{
	size_t big = 1024 * 1024 + 1;
	char *v = malloc(big + 1);
	memset(v, 'a', big);
	v[big] = '\0';
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "{" META ",\"data\":{\"k\":\"%s\"}}", v);
	expect_causes("configmaps", b.data, NULL, ": Too long: may not be more than 1048576 bytes");
	mk_buf_release(&b);
	/* a Secret counts decoded bytes: 4/3 of the limit in base64 is too much */
	char *enc = mk_base64_encode(v, big);
	mk_buf_init(&b);
	mk_buf_printf(&b, "{" META ",\"data\":{\"k\":\"%s\"}}", enc);
	expect_causes("secrets", b.data, NULL, "data: Too long: may not be more than 1048576 bytes");
	mk_buf_release(&b);
	free(enc);
	enc = mk_base64_encode(v, big - 2);
	mk_buf_init(&b);
	mk_buf_printf(&b, "{" META ",\"data\":{\"k\":\"%s\"}}", enc);
	expect_valid("secrets", b.data, NULL);
	mk_buf_release(&b);
	free(enc);
	free(v);
}
END_TEST

START_TEST(test_secret_defaults)
{
	const struct mk_api_resource *r = res("secrets");
	cJSON *o = parse("{" META ",\"data\":{\"a\":\"eA==\",\"b\":\"eQ==\"},\"stringData\":{\"b\":\"plain text\",\"c\":\"\"}}");
	mk_api_default(r, o);
	ck_assert_str_eq(mk_json_get_string(o, "type"), "Opaque");
	ck_assert_ptr_null(mk_json_get(o, "stringData"));
	ck_assert_str_eq(mk_json_get_string(o, "data.a"), "eA==");
	ck_assert_str_eq(mk_json_get_string(o, "data.b"), "cGxhaW4gdGV4dA==");
	ck_assert_str_eq(mk_json_get_string(o, "data.c"), "");
	cJSON_Delete(o);
	/* stringData alone makes data */
	o = parse("{" META ",\"type\":\"kubernetes.io/basic-auth\",\"stringData\":{\"username\":\"u\"}}");
	mk_api_default(r, o);
	ck_assert_str_eq(mk_json_get_string(o, "data.username"), "dQ==");
	ck_assert_str_eq(mk_json_get_string(o, "type"), "kubernetes.io/basic-auth");
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_secret_types)
{
	expect_causes("secrets", "{" META ",\"data\":{\"x\":\"abc\"}}", NULL,
		      "data[x]: Invalid value: \"<value redacted>\": illegal base64 data at input byte 3");
	expect_causes("secrets", "{" META ",\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"eA==\"}}", NULL,
		      "data[tls.key]: Required value");
	expect_valid("secrets", "{" META ",\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"eA==\",\"tls.key\":\"eQ==\"}}", NULL);
	expect_causes("secrets", "{" META ",\"type\":\"kubernetes.io/dockerconfigjson\"}", NULL,
		      "data[.dockerconfigjson]: Required value");
	/* {"auths" */
	expect_causes("secrets", "{" META ",\"type\":\"kubernetes.io/dockerconfigjson\",\"data\":{\".dockerconfigjson\":\"eyJhdXRocyI=\"}}", NULL,
		      "data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": invalid "
		      "character in JSON: not a valid JSON document");
	/* {"auths":{}} */
	expect_valid("secrets", "{" META ",\"type\":\"kubernetes.io/dockerconfigjson\",\"data\":{\".dockerconfigjson\":\"eyJhdXRocyI6e319\"}}", NULL);
	expect_causes("secrets", "{" META ",\"type\":\"kubernetes.io/service-account-token\"}", NULL,
		      "metadata.annotations[kubernetes.io/service-account.name]: Required value");
	expect_valid("secrets", "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"annotations\":"
				"{\"kubernetes.io/service-account.name\":\"default\"}},"
				"\"type\":\"kubernetes.io/service-account-token\"}", NULL);
	expect_causes("secrets", "{" META ",\"type\":\"kubernetes.io/basic-auth\"}", NULL,
		      "data[username]: Required value | data[password]: Required value");
	expect_valid("secrets", "{" META ",\"type\":\"example.com/custom\"}", NULL);
}
END_TEST

START_TEST(test_immutable)
{
	const char *old_cm = "{" META ",\"data\":{\"a\":\"1\"},\"immutable\":true}";
	/* metadata may change; data and immutable may not */
	expect_valid("configmaps", "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"labels\":{\"l\":\"v\"}},"
				   "\"data\":{\"a\":\"1\"},\"immutable\":true}", old_cm);
	expect_causes("configmaps", "{" META ",\"data\":{\"a\":\"2\"},\"immutable\":true}", old_cm,
		      "data: Forbidden: field is immutable when `immutable` is set");
	expect_causes("configmaps", "{" META ",\"data\":{\"a\":\"1\"},\"binaryData\":{\"b\":\"eA==\"},\"immutable\":true}", old_cm,
		      "binaryData: Forbidden: field is immutable when `immutable` is set");
	expect_causes("configmaps", "{" META ",\"data\":{\"a\":\"1\"}}", old_cm,
		      "immutable: Forbidden: field is immutable when `immutable` is set");
	/* not immutable yet: anything goes, including turning it on */
	expect_valid("configmaps", "{" META ",\"data\":{\"a\":\"2\"},\"immutable\":true}", "{" META ",\"data\":{\"a\":\"1\"}}");

	const char *old_s = "{" META ",\"data\":{\"a\":\"eA==\"},\"immutable\":true}";
	/* stringData is data too */
	expect_causes("secrets", "{" META ",\"data\":{\"a\":\"eA==\"},\"stringData\":{\"a\":\"y\"},\"immutable\":true}", old_s,
		      "data: Forbidden: field is immutable when `immutable` is set");
	expect_valid("secrets", "{" META ",\"data\":{\"a\":\"eA==\"},\"stringData\":{\"a\":\"x\"},\"immutable\":true}", old_s);
	/* type never changes */
	expect_causes("secrets", "{" META ",\"type\":\"example.com/other\"}", "{" META "}",
		      "type: Invalid value: \"example.com/other\": field is immutable");
}
END_TEST

START_TEST(test_tables)
{
	const struct mk_api_resource *cm = res("configmaps"), *sec = res("secrets");
	cJSON *t = mk_api_table_new(cm, true);
	cJSON *o = parse("{" META ",\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"c\":\"eA==\"}}");
	mk_api_table_add_row(t, cm, o, time(NULL));
	const cJSON *cols = cJSON_GetObjectItem(t, "columnDefinitions");
	ck_assert_int_eq(cJSON_GetArraySize(cols), 3);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cols, 1), "name"), "Data");
	const cJSON *cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	ck_assert_int_eq(cJSON_GetArrayItem(cells, 1)->valueint, 3);
	cJSON_Delete(o);
	cJSON_Delete(t);

	t = mk_api_table_new(sec, true);
	o = parse("{" META ",\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"\",\"tls.key\":\"\"}}");
	mk_api_table_add_row(t, sec, o, time(NULL));
	cols = cJSON_GetObjectItem(t, "columnDefinitions");
	ck_assert_int_eq(cJSON_GetArraySize(cols), 4);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cols, 1), "name"), "Type");
	cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 1)->valuestring, "kubernetes.io/tls");
	ck_assert_int_eq(cJSON_GetArrayItem(cells, 2)->valueint, 2);
	cJSON_Delete(o);
	cJSON_Delete(t);
	ck_assert(sec->encrypt_at_rest && !cm->encrypt_at_rest);
	ck_assert_str_eq(cm->short_names[0], "cm");
}
END_TEST

#define POD(env) \
	"{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"," env "}]}}"

START_TEST(test_env_sources)
{
	expect_valid("pods", POD("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"k\",\"optional\":true}}},"
				 "{\"name\":\"B\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}],"
				 "\"envFrom\":[{\"prefix\":\"P_\",\"configMapRef\":{\"name\":\"cm\"}},{\"secretRef\":{\"name\":\"s\",\"optional\":true}}]"),
		     NULL);
	expect_causes("pods", POD("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cm\",\"key\":\"a b\"}}}]"), NULL,
		      "spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Invalid value: \"a b\": a valid config key must consist of "
		      "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
		      "validation is '[-._a-zA-Z0-9]+')");
	expect_causes("pods", POD("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"key\":\"k\"}}}]"), NULL,
		      "spec.containers[0].env[0].valueFrom.secretKeyRef.name: Required value");
	expect_causes("pods", POD("\"env\":[{\"name\":\"A\",\"value\":\"v\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"},"
				  "\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"}}}]"), NULL,
		      "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time | "
		      "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty");
	expect_causes("pods", POD("\"envFrom\":[{\"prefix\":\"1X\",\"configMapRef\":{\"name\":\"c\"}},{}]"), NULL,
		      "spec.containers[0].envFrom[0].prefix: Invalid value: \"1X\": a valid environment variable name must consist of "
		      "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or "
		      "'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*') | "
		      "spec.containers[0].envFrom[1]: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`");
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_config_keys);
	tcase_add_test(tc, test_base64_strict);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_secret_defaults);
	tcase_add_test(tc, test_secret_types);
	tcase_add_test(tc, test_immutable);
	tcase_add_test(tc, test_tables);
	tcase_add_test(tc, test_env_sources);
	suite_add_tcase(s, tc);
	return s;
}
