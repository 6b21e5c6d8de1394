/* Custom resources: structural schema validation, pruning, defaulting and the
 * structural check (tables of schema / value / expected result), the CRD kind's
 * defaults and validation, and the dynamic resource table (a definition becomes
 * served rows; removing it keeps old rows readable). */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

static cJSON *parse(const char *json)
{
	cJSON *o = cJSON_Parse(json);
	ck_assert_msg(o != NULL, "bad JSON in test: %s", json);
	return o;
}

/* "field: message|field: message" of causes, in order */
static char *causes_text(const cJSON *causes)
{
	struct mk_buf b;
	const cJSON *c;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	cJSON_ArrayForEach(c, causes)
		mk_buf_printf(&b, "%s%s: %s", b.len ? "|" : "", mk_json_get_string(c, "field"),
			      mk_json_get_string(c, "message"));
	return mk_buf_steal(&b);
}

/* ---- validation ---------------------------------------------------------------- */

static const struct {
	const char *schema, *value, *want;
} validate_cases[] = {
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{\"replicas\":{\"type\":\"integer\"}}}}}",
	  "{\"spec\":{\"replicas\":\"string\"}}",
	  "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}}}", "{\"n\":1.5}",
	  "n: Invalid value: \"number\": n in body must be of type integer: \"number\"" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\"}}}", "{\"n\":3}", "" },
	{ "{\"type\":\"object\",\"required\":[\"a\",\"b\"],\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}}}",
	  "{\"a\":\"x\"}", "b: Required value" },
	{ "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}}}", "{\"s\":\"c\"}",
	  "s: Unsupported value: \"c\": supported values: \"a\", \"b\"" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":5}}}", "{\"n\":0}",
	  "n: Invalid value: 0: n in body should be greater than or equal to 1" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":5}}}", "{\"n\":6}",
	  "n: Invalid value: 6: n in body should be less than or equal to 5" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":1,\"exclusiveMinimum\":true}}}",
	  "{\"n\":1}", "n: Invalid value: 1: n in body should be greater than 1" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"maximum\":5,\"exclusiveMaximum\":true}}}",
	  "{\"n\":5}", "n: Invalid value: 5: n in body should be less than 5" },
	{ "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":4}}}",
	  "{\"s\":\"ab\"}", "s: Invalid value: \"ab\": s in body should be at least 3 chars long" },
	{ "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":4}}}",
	  "{\"s\":\"abcde\"}", "s: Too long: may not be more than 4 bytes" },
	{ "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\"}}}",
	  "{\"s\":\"A1\"}", "s: Invalid value: \"A1\": s in body should match '^[a-z]+$'" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"minItems\":2,\"items\":{\"type\":\"string\"}}}}",
	  "{\"l\":[\"a\"]}", "l: Invalid value: [\"a\"]: l in body should have at least 2 items" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"maxItems\":1,\"items\":{\"type\":\"string\"}}}}",
	  "{\"l\":[\"a\",\"b\"]}", "l: Too many: 2: must have at most 1 items" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"uniqueItems\":true,\"items\":{\"type\":\"string\"}}}}",
	  "{\"l\":[\"a\",\"b\",\"a\"]}", "l[2]: Duplicate value: \"a\"" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{\"type\":\"integer\"}}}}",
	  "{\"l\":[1,1]}", "l[1]: Duplicate value: 1" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"name\"],"
	  "\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"v\":{\"type\":\"integer\"}}}}}}",
	  "{\"l\":[{\"name\":\"a\",\"v\":1},{\"name\":\"b\"},{\"name\":\"a\",\"v\":2}]}", "l[2]: Duplicate value: {\"name\":\"a\"}" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}}}",
	  "{\"l\":[1,\"x\"]}", "l[1]: Invalid value: \"string\": l[1] in body must be of type integer: \"string\"" },
	{ "{\"type\":\"object\",\"properties\":{\"m\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}}}",
	  "{\"m\":{\"a\":1,\"b\":\"x\"}}", "m.b: Invalid value: \"string\": m.b in body must be of type integer: \"string\"" },
	{ "{\"type\":\"object\",\"properties\":{\"p\":{\"x-kubernetes-int-or-string\":true}}}", "{\"p\":\"80%\"}", "" },
	{ "{\"type\":\"object\",\"properties\":{\"p\":{\"x-kubernetes-int-or-string\":true}}}", "{\"p\":8}", "" },
	{ "{\"type\":\"object\",\"properties\":{\"p\":{\"x-kubernetes-int-or-string\":true}}}", "{\"p\":true}",
	  "p: Invalid value: \"boolean\": p in body must be of type integer,string: \"boolean\"" },
	{ "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"nullable\":true}}}", "{\"s\":null}", "" },
	{ "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"}}}", "{\"s\":null}",
	  "s: Invalid value: \"null\": s in body must be of type string: \"null\"" },
	{ "{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"string\",\"format\":\"date-time\"}}}",
	  "{\"t\":\"yesterday\"}", "t: Invalid value: \"yesterday\": t in body must be of type date-time: \"yesterday\"" },
	{ "{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"string\",\"format\":\"date-time\"}}}",
	  "{\"t\":\"2026-01-02T03:04:05Z\"}", "" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"format\":\"int32\"}}}", "{\"n\":4294967296}",
	  "n: Invalid value: 4294967296: n in body must be of type int32: 4294967296" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"format\":\"int64\"}}}", "{\"n\":4294967296}", "" },
	{ "{\"type\":\"object\",\"properties\":{\"e\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,"
	  "\"x-kubernetes-preserve-unknown-fields\":true}}}",
	  "{\"e\":{\"metadata\":{}}}", "e.apiVersion: Required value: must not be empty|e.kind: Required value: must not be empty" },
	/* apiVersion, kind and metadata at the root are not the schema's business */
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\"}}}",
	  "{\"apiVersion\":\"x/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"a\"},\"spec\":{}}", "" },
};

START_TEST(test_validate_table)
{
	for (size_t i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++) {
		_cleanup_cjson_ cJSON *s = parse(validate_cases[i].schema);
		_cleanup_cjson_ cJSON *v = parse(validate_cases[i].value);
		_cleanup_cjson_ cJSON *causes = cJSON_CreateArray();
		mk_api_crd_schema_validate(s, v, "", causes);
		_cleanup_free_ char *got = causes_text(causes);
		ck_assert_msg(!strcmp(got, validate_cases[i].want), "case %zu: got '%s', want '%s'", i, got,
			      validate_cases[i].want);
	}
}
END_TEST

/* ---- pruning ------------------------------------------------------------------------ */

static const struct {
	const char *schema, *in, *out, *unknown;
} prune_cases[] = {
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}}}",
	  "{\"apiVersion\":\"x/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"n\"},\"spec\":{\"a\":\"1\",\"b\":2},\"extra\":true}",
	  "{\"apiVersion\":\"x/v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"n\"},\"spec\":{\"a\":\"1\"}}",
	  "spec.b,extra" },
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,"
	  "\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"string\"}}}}}}}",
	  "{\"spec\":{\"a\":{\"k\":\"v\",\"drop\":1},\"free\":{\"x\":1}}}",
	  "{\"spec\":{\"a\":{\"k\":\"v\"},\"free\":{\"x\":1}}}", "spec.a.drop" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"string\"}}}}}}",
	  "{\"l\":[{\"n\":\"a\",\"x\":1},{\"y\":2}]}", "{\"l\":[{\"n\":\"a\"},{}]}", "l[0].x,l[1].y" },
	{ "{\"type\":\"object\",\"properties\":{\"m\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"string\"}}}}}}",
	  "{\"m\":{\"one\":{\"k\":\"v\",\"z\":0}}}", "{\"m\":{\"one\":{\"k\":\"v\"}}}", "m.one.z" },
	{ "{\"type\":\"object\",\"properties\":{\"e\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,"
	  "\"properties\":{\"spec\":{\"type\":\"object\"}}}}}",
	  "{\"e\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{},\"spec\":{},\"junk\":1}}",
	  "{\"e\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{},\"spec\":{}}}", "e.junk" },
};

START_TEST(test_prune_table)
{
	for (size_t i = 0; i < sizeof(prune_cases) / sizeof(prune_cases[0]); i++) {
		_cleanup_cjson_ cJSON *s = parse(prune_cases[i].schema);
		_cleanup_cjson_ cJSON *v = parse(prune_cases[i].in);
		_cleanup_cjson_ cJSON *want = parse(prune_cases[i].out);
		_cleanup_cjson_ cJSON *unknown = cJSON_CreateArray();
		/* listing only leaves the object alone */
		mk_api_crd_schema_prune(s, v, "", unknown, false, true);
		_cleanup_cjson_ cJSON *orig = parse(prune_cases[i].in);
		ck_assert_msg(cJSON_Compare(v, orig, 1), "case %zu: listing changed the object", i);
		struct mk_buf b;
		const cJSON *u;
		mk_buf_init(&b);
		mk_buf_puts(&b, "");
		cJSON_ArrayForEach(u, unknown)
			mk_buf_printf(&b, "%s%s", b.len ? "," : "", u->valuestring);
		ck_assert_msg(!strcmp(b.data, prune_cases[i].unknown), "case %zu: unknown '%s', want '%s'", i,
			      b.data, prune_cases[i].unknown);
		mk_buf_release(&b);
		mk_api_crd_schema_prune(s, v, "", NULL, true, true);
		_cleanup_free_ char *got = cJSON_PrintUnformatted(v);
		ck_assert_msg(cJSON_Compare(v, want, 1), "case %zu: pruned to %s, want %s", i, got,
			      prune_cases[i].out);
	}
}
END_TEST

/* ---- defaults -------------------------------------------------------------------------- */

static const struct {
	const char *schema, *in, *out;
} default_cases[] = {
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{\"r\":{\"type\":\"integer\",\"default\":1},"
	  "\"s\":{\"type\":\"string\",\"default\":\"x\"}}}}}",
	  "{\"spec\":{\"s\":\"set\"}}", "{\"spec\":{\"s\":\"set\",\"r\":1}}" },
	/* an absent parent object gets no defaults below it, a default object does */
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{\"r\":{\"type\":\"integer\",\"default\":1}}}}}",
	  "{}", "{}" },
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"default\":{},\"properties\":{\"r\":{\"type\":\"integer\",\"default\":1}}}}}",
	  "{}", "{\"spec\":{\"r\":1}}" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"string\",\"default\":\"TCP\"}}}}}}",
	  "{\"l\":[{},{\"p\":\"UDP\"}]}", "{\"l\":[{\"p\":\"TCP\"},{\"p\":\"UDP\"}]}" },
	/* null for a non-nullable field with a default: the default */
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"default\":3}}}", "{\"n\":null}", "{\"n\":3}" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"nullable\":true,\"default\":3}}}", "{\"n\":null}",
	  "{\"n\":null}" },
};

START_TEST(test_default_table)
{
	for (size_t i = 0; i < sizeof(default_cases) / sizeof(default_cases[0]); i++) {
		_cleanup_cjson_ cJSON *s = parse(default_cases[i].schema);
		_cleanup_cjson_ cJSON *v = parse(default_cases[i].in);
		_cleanup_cjson_ cJSON *want = parse(default_cases[i].out);
		mk_api_crd_schema_default(s, v);
		_cleanup_free_ char *got = cJSON_PrintUnformatted(v);
		ck_assert_msg(cJSON_Compare(v, want, 1), "case %zu: got %s, want %s", i, got,
			      default_cases[i].out);
	}
}
END_TEST

/* ---- structural check --------------------------------------------------------------------- */

static const struct {
	const char *schema, *want;
} structural_cases[] = {
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}}}", "" },
	{ "{\"properties\":{\"spec\":{\"type\":\"object\"}}}", "S.type: Required value: must not be empty at the root" },
	{ "{\"type\":\"string\"}", "S.type: Invalid value: \"string\": must be object at the root" },
	{ "{\"type\":\"object\",\"properties\":{\"spec\":{\"properties\":{\"a\":{\"type\":\"string\"}}}}}",
	  "S.properties[spec].type: Required value: must not be empty for specified object fields" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\"}}}",
	  "S.properties[l].items: Required value: must be specified" },
	{ "{\"type\":\"object\",\"properties\":{\"p\":{\"x-kubernetes-int-or-string\":true},\"f\":{\"x-kubernetes-preserve-unknown-fields\":true}}}", "" },
	{ "{\"type\":\"object\",\"properties\":{\"r\":{\"$ref\":\"#/x\"}}}",
	  "S.properties[r].type: Required value: must not be empty for specified object fields|S.properties[r].$ref: Forbidden: $ref is not supported" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"default\":\"x\"}}}",
	  "S.properties[n].default: Invalid value: \"string\": S.properties[n].default in body must be of type integer: \"string\"" },
	{ "{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\",\"properties\":{\"labels\":{\"type\":\"object\"}}}}}",
	  "S.properties[metadata].properties[labels]: Forbidden: must not be specified" },
	{ "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\",\"items\":{\"type\":\"object\"}}}}",
	  "S.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map" },
	{ "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"thing\"}}}",
	  "S.properties[x].type: Unsupported value: \"thing\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"" },
};

START_TEST(test_structural_table)
{
	for (size_t i = 0; i < sizeof(structural_cases) / sizeof(structural_cases[0]); i++) {
		_cleanup_cjson_ cJSON *s = parse(structural_cases[i].schema);
		_cleanup_cjson_ cJSON *causes = cJSON_CreateArray();
		mk_api_crd_schema_check(s, "S", causes);
		_cleanup_free_ char *got = causes_text(causes);
		ck_assert_msg(!strcmp(got, structural_cases[i].want), "case %zu: got '%s', want '%s'", i, got,
			      structural_cases[i].want);
	}
}
END_TEST

/* ---- the CRD kind and the dynamic table ------------------------------------------------------- */

#define WIDGETS_CRD                                                                                    \
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","              \
	"\"metadata\":{\"name\":\"widgets.test.io\",\"uid\":\"u-1\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"}," \
	"\"spec\":{\"group\":\"test.io\",\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"kind\":\"Widget\"," \
	"\"shortNames\":[\"wd\"]},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"           \
	"\"subresources\":{\"status\":{}},"                                                                 \
	"\"additionalPrinterColumns\":[{\"name\":\"Size\",\"type\":\"integer\",\"jsonPath\":\".spec.size\"}," \
	"{\"name\":\"Ready\",\"type\":\"string\",\"jsonPath\":\".status.conditions[?(@.type==\\\"Ready\\\")].status\"}]," \
	"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","  \
	"\"properties\":{\"size\":{\"type\":\"integer\",\"default\":2,\"maximum\":9}}},"                      \
	"\"status\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}}},"               \
	"{\"name\":\"v2beta1\",\"served\":true,\"storage\":false,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\"," \
	"\"x-kubernetes-preserve-unknown-fields\":true}}}]}}"

START_TEST(test_crd_kind)
{
	const struct mk_api_resource *r = mk_api_resource_find("apiextensions.k8s.io", "v1",
							       "customresourcedefinitions");
	ck_assert_ptr_nonnull(r);
	ck_assert(mk_api_is_crd_kind(r));
	_cleanup_cjson_ cJSON *crd = parse(WIDGETS_CRD);
	cJSON *causes = NULL;
	mk_api_default(r, crd);
	ck_assert_str_eq(mk_json_get_string(crd, "spec.names.singular"), "widget");
	ck_assert_str_eq(mk_json_get_string(crd, "spec.names.listKind"), "WidgetList");
	ck_assert_str_eq(mk_json_get_string(crd, "spec.conversion.strategy"), "None");
	/* a version without printer columns gets Age */
	const cJSON *v2 = cJSON_GetArrayItem(mk_json_get(crd, "spec.versions"), 1);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cJSON_GetObjectItem(v2, "additionalPrinterColumns"), 0),
					    "jsonPath"), ".metadata.creationTimestamp");
	ck_assert_int_eq(mk_api_validate(r, crd, NULL, &causes), 0);

	_cleanup_cjson_ cJSON *bad = cJSON_Duplicate(crd, 1);
	mk_json_set_string(cJSON_GetObjectItem(bad, "spec"), "scope", "Galaxy");
	mk_json_set(cJSON_GetArrayItem(mk_json_get(bad, "spec.versions"), 1), "storage", cJSON_CreateTrue());
	mk_json_set_string(cJSON_GetObjectItem(bad, "metadata"), "name", "gadgets.test.io");
	ck_assert_int_eq(mk_api_validate(r, bad, NULL, &causes), -1);
	_cleanup_free_ char *got = causes_text(causes);
	cJSON_Delete(causes);
	ck_assert_msg(strstr(got, "metadata.name: Invalid value: \"gadgets.test.io\": must be spec.names.plural+\".\"+spec.group"), "%s", got);
	ck_assert_msg(strstr(got, "spec.scope: Unsupported value: \"Galaxy\""), "%s", got);
	ck_assert_msg(strstr(got, "spec.versions: Invalid value:"), "%s", got);
	ck_assert_msg(strstr(got, "must have exactly one version marked as storage version"), "%s", got);
	/* scope is immutable */
	_cleanup_cjson_ cJSON *upd = cJSON_Duplicate(crd, 1);
	mk_json_set_string(cJSON_GetObjectItem(upd, "spec"), "scope", "Cluster");
	ck_assert_int_eq(mk_api_validate(r, upd, crd, &causes), -1);
	_cleanup_free_ char *got2 = causes_text(causes);
	cJSON_Delete(causes);
	ck_assert_msg(strstr(got2, "spec.scope: Invalid value: \"Cluster\": field is immutable"), "%s", got2);
}
END_TEST

START_TEST(test_registry)
{
	const struct mk_api_resource *crdr = mk_api_resource_find("apiextensions.k8s.io", "v1",
								  "customresourcedefinitions");
	_cleanup_cjson_ cJSON *crd = parse(WIDGETS_CRD);
	mk_api_default(crdr, crd);
	uint64_t g0 = mk_api_resources_generation();

	/* not established yet: not served */
	cJSON *list[1] = { crd };
	mk_api_crd_registry_set(list, 1);
	ck_assert_ptr_null(mk_api_resource_find("test.io", "v1", "widgets"));
	mk_api_crd_status(crd, NULL, 0);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(crd, "status.conditions"), 1), "type"),
			 "Established");
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(crd, "status.storedVersions"), 0)->valuestring, "v1");
	uint64_t g1 = mk_api_crd_registry_set(list, 1);
	ck_assert_uint_gt(g1, g0);
	ck_assert_uint_eq(mk_api_resources_generation(), g1);

	const struct mk_api_resource *w = mk_api_resource_find("test.io", "v1", "widgets");
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(w->crd);
	ck_assert_str_eq(mk_api_resource_store(w), "widgets.test.io");
	ck_assert_str_eq(w->kind, "Widget");
	ck_assert_str_eq(w->singular, "widget");
	ck_assert(w->namespaced && w->has_status && !w->has_scale && w->spec_generation);
	ck_assert_str_eq(w->short_names[0], "wd");
	ck_assert_ptr_eq(mk_api_resource_by_kind("test.io/v1", "Widget"), w);
	const struct mk_api_resource *w2 = mk_api_resource_find("test.io", "v2beta1", "widgets");
	ck_assert_ptr_nonnull(w2);
	ck_assert_str_eq(mk_api_resource_store(w2), "widgets.test.io");

	/* the schema through the generic entry points */
	_cleanup_cjson_ cJSON *obj = parse("{\"apiVersion\":\"test.io/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"a\","
					   "\"namespace\":\"default\"},\"spec\":{}}");
	mk_api_default(w, obj);
	ck_assert_int_eq((int)mk_json_get(obj, "spec.size")->valuedouble, 2);
	cJSON *causes = NULL;
	ck_assert_int_eq(mk_api_validate(w, obj, NULL, &causes), 0);
	cJSON_SetNumberValue(mk_json_get(obj, "spec.size"), 10);
	ck_assert_int_eq(mk_api_validate(w, obj, NULL, &causes), -1);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(causes, 0), "field"), "spec.size");
	cJSON_Delete(causes);

	/* Table: NAME + the printer columns, a JSONPath filter included */
	_cleanup_cjson_ cJSON *t = mk_api_table_new(w, true);
	_cleanup_cjson_ cJSON *o2 = parse("{\"metadata\":{\"name\":\"b\"},\"spec\":{\"size\":4},"
					  "\"status\":{\"conditions\":[{\"type\":\"Other\",\"status\":\"False\"},"
					  "{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	mk_api_table_add_row(t, w, o2, 0);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "columnDefinitions"), 1), "name"),
			 "Size");
	cJSON *cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	ck_assert_int_eq(cJSON_GetArraySize(cells), 3);
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 0)->valuestring, "b");
	ck_assert_int_eq((int)cJSON_GetArrayItem(cells, 1)->valuedouble, 4);
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 2)->valuestring, "True");

	/* served at another version: apiVersion rewritten */
	_cleanup_free_ char *s = mk_api_cr_from_storage(w2, "{\"apiVersion\":\"test.io/v1\",\"kind\":\"Widget\",\"spec\":{}}");
	ck_assert_ptr_nonnull(strstr(s, "\"apiVersion\":\"test.io/v2beta1\""));

	/* removed: no longer found, the row held stays readable */
	mk_api_crd_registry_set(NULL, 0);
	ck_assert_ptr_null(mk_api_resource_find("test.io", "v1", "widgets"));
	ck_assert_str_eq(w->kind, "Widget");
	ck_assert_str_eq(mk_api_crd_name(w->crd), "widgets.test.io");
	/* built-in kinds are untouched */
	ck_assert_ptr_nonnull(mk_api_resource_find("", "v1", "pods"));
}
END_TEST

START_TEST(test_name_conflict)
{
	_cleanup_cjson_ cJSON *a = parse(WIDGETS_CRD);
	_cleanup_cjson_ cJSON *b = parse(WIDGETS_CRD);
	mk_json_set_string(cJSON_GetObjectItem(b, "metadata"), "uid", "u-2");
	mk_json_set_string(cJSON_GetObjectItem(b, "metadata"), "name", "gizmos.test.io");
	mk_json_set_string(mk_json_get(b, "spec.names"), "plural", "gizmos");
	cJSON_DeleteItemFromObject(mk_json_get(b, "spec.names"), "shortNames");
	mk_api_crd_status(a, NULL, 0);
	cJSON *older[1] = { a };
	mk_api_crd_status(b, older, 1); /* same kind Widget in the group */
	const cJSON *c;
	const char *na = NULL, *est = NULL;
	cJSON_ArrayForEach(c, mk_json_get(b, "status.conditions"))
	{
		if (!strcmp(mk_json_get_string(c, "type"), "NamesAccepted"))
			na = mk_json_get_string(c, "reason");
		if (!strcmp(mk_json_get_string(c, "type"), "Established"))
			est = mk_json_get_string(c, "status");
	}
	ck_assert_str_eq(na, "KindConflict");
	ck_assert_str_eq(est, "False");
}
END_TEST

START_TEST(test_jsonpath_cells)
{
	/* printer columns print objects as JSON and a missing value as null */
	_cleanup_cjson_ cJSON *crd = parse(WIDGETS_CRD);
	mk_api_default(mk_api_resource_find("apiextensions.k8s.io", "v1", "customresourcedefinitions"), crd);
	mk_api_crd_status(crd, NULL, 0);
	cJSON *list[1] = { crd };
	mk_api_crd_registry_set(list, 1);
	const struct mk_api_resource *w = mk_api_resource_find("test.io", "v1", "widgets");
	ck_assert_ptr_nonnull(w);
	_cleanup_cjson_ cJSON *t = mk_api_table_new(w, false);
	_cleanup_cjson_ cJSON *o = parse("{\"metadata\":{\"name\":\"c\"},\"spec\":{}}");
	mk_api_table_add_row(t, w, o, 0);
	cJSON *cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	ck_assert(cJSON_IsNull(cJSON_GetArrayItem(cells, 1)));
	ck_assert(cJSON_IsNull(cJSON_GetArrayItem(cells, 2)));
	mk_api_crd_registry_set(NULL, 0);
}
END_TEST

Suite *crd_schema_suite(void)
{
	Suite *s = suite_create("crd_schema");
	TCase *tc = tcase_create("crd");
	tcase_add_test(tc, test_validate_table);
	tcase_add_test(tc, test_prune_table);
	tcase_add_test(tc, test_default_table);
	tcase_add_test(tc, test_structural_table);
	tcase_add_test(tc, test_crd_kind);
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_name_conflict);
	tcase_add_test(tc, test_jsonpath_cells);
	suite_add_tcase(s, tc);
	return s;
}
