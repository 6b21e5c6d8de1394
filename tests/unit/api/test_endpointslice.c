/* EndpointSlice through the generic entry points: defaults, validation with
 * field paths, Table cells as kubectl prints them. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

static const struct mk_api_resource *slice(void)
{
	return mk_api_resource_find("discovery.k8s.io", "v1", "endpointslices");
}

static cJSON *parse(const char *json)
{
	cJSON *o = cJSON_Parse(json);
	ck_assert_ptr_nonnull(o);
	return o;
}

static char *fields(cJSON *causes)
{
	struct mk_buf b;
	const cJSON *c;
	mk_buf_init(&b);
	cJSON_ArrayForEach(c, causes)
	{
		mk_buf_printf(&b, "%s%s", b.len ? " " : "", mk_json_get_string(c, "field"));
	}
	return mk_buf_steal(&b);
}

#define GOOD                                                                                      \
	"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"web-abc\"," \
	"\"namespace\":\"default\"},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.0.5\"]," \
	"\"conditions\":{\"ready\":true},\"nodeName\":\"node1\"},{\"addresses\":[\"10.244.0.6\"]}," \
	"{\"addresses\":[\"10.244.0.7\"]},{\"addresses\":[\"10.244.0.8\"]}],\"ports\":[{\"port\":80},{\"name\":\"dns\"," \
	"\"port\":53,\"protocol\":\"UDP\"}]}"

START_TEST(test_slice_defaults_and_valid)
{
	ck_assert_ptr_nonnull(slice());
	cJSON *o = parse(GOOD);
	mk_api_default(slice(), o);
	const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "ports"), 0);
	ck_assert_str_eq(mk_json_get_string(p0, "protocol"), "TCP");
	ck_assert_str_eq(mk_json_get_string(p0, "name"), "");
	cJSON *causes = NULL;
	ck_assert_int_eq(mk_api_validate(slice(), o, NULL, &causes), 0);
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_slice_invalid_fields)
{
	cJSON *o = parse("{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
			 "{\"name\":\"x\",\"namespace\":\"default\"},\"addressType\":\"IPv4\",\"endpoints\":"
			 "[{\"addresses\":[]},{\"addresses\":[\"fe80::1\"]}],\"ports\":[{\"name\":\"a\",\"port\":70000},"
			 "{\"name\":\"a\",\"port\":1,\"protocol\":\"ICMP\"}]}");
	cJSON *causes = NULL;
	ck_assert_int_eq(mk_api_validate(slice(), o, NULL, &causes), -1);
	char *f = fields(causes);
	ck_assert_str_eq(f, "endpoints[0].addresses endpoints[1].addresses[0] ports[0].port ports[1].name "
			    "ports[1].protocol");
	free(f);
	cJSON_Delete(causes);
	cJSON_Delete(o);

	o = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"},\"addressType\":\"IPX\"}");
	causes = NULL;
	ck_assert_int_eq(mk_api_validate(slice(), o, NULL, &causes), -1);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(causes, 0), "reason"), "FieldValueNotSupported");
	cJSON_Delete(causes);
	cJSON_Delete(o);

	/* addressType is immutable */
	cJSON *old = parse(GOOD), *upd = parse(GOOD);
	cJSON_ReplaceItemInObject(upd, "addressType", cJSON_CreateString("IPv6"));
	cJSON_ReplaceItemInObject(upd, "endpoints", cJSON_CreateArray());
	causes = NULL;
	ck_assert_int_eq(mk_api_validate(slice(), upd, old, &causes), -1);
	f = fields(causes);
	ck_assert_str_eq(f, "addressType");
	free(f);
	cJSON_Delete(causes);
	cJSON_Delete(old);
	cJSON_Delete(upd);
}
END_TEST

START_TEST(test_slice_table)
{
	cJSON *t = mk_api_table_new(slice(), true);
	const cJSON *defs = cJSON_GetObjectItem(t, "columnDefinitions");
	ck_assert_int_eq(cJSON_GetArraySize(defs), 5);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(defs, 3), "name"), "Endpoints");
	cJSON *o = parse(GOOD);
	mk_api_table_add_row(t, slice(), o, time(NULL));
	const cJSON *cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 1)->valuestring, "IPv4");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 2)->valuestring, "80,53");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 3)->valuestring, "10.244.0.5,10.244.0.6,10.244.0.7 + 1 more...");
	cJSON_Delete(o);
	cJSON_Delete(t);
}
END_TEST

Suite *endpointslice_suite(void)
{
	Suite *s = suite_create("endpointslice");
	TCase *tc = tcase_create("endpointslice");
	tcase_add_test(tc, test_slice_defaults_and_valid);
	tcase_add_test(tc, test_slice_invalid_fields);
	tcase_add_test(tc, test_slice_table);
	suite_add_tcase(s, tc);
	return s;
}
