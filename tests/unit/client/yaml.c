/* YAML <-> JSON: typing of scalars, multi-document streams, kubectl-like output. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "minik8s/client.h"

static cJSON *parse(const char *text)
{
	cJSON *docs = NULL;
	struct mk_error *err = NULL;
	int r = mk_yaml_parse_documents(text, strlen(text), &docs, &err);
	ck_assert_msg(r == 0, "parse failed: %s", err ? err->msg : "?");
	return docs;
}

static char *compact(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(test_scalar_typing)
{
	cJSON *docs = parse("a: 3\n"
			    "b: \"3\"\n"
			    "c: '3'\n"
			    "d: true\n"
			    "e: \"true\"\n"
			    "f: null\n"
			    "g: ~\n"
			    "h:\n"
			    "i: 1.5\n"
			    "j: 0x1F\n"
			    "k: -7\n"
			    "l: 1e3\n"
			    "m: 3abc\n"
			    "n: False\n"
			    "o: !!str 42\n"
			    "p: yes\n"
			    "q: 0o17\n"
			    "r: .inf\n"
			    "s: 10.244.0.0/16\n"
			    "t: |\n  line1\n  line2\n");
	cJSON *d = cJSON_GetArrayItem(docs, 0);
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(d, "a")));
	ck_assert_int_eq(cJSON_GetObjectItem(d, "a")->valueint, 3);
	ck_assert_str_eq(cJSON_GetObjectItem(d, "b")->valuestring, "3");
	ck_assert_str_eq(cJSON_GetObjectItem(d, "c")->valuestring, "3");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(d, "d")));
	ck_assert_str_eq(cJSON_GetObjectItem(d, "e")->valuestring, "true");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(d, "f")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(d, "g")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(d, "h")));
	ck_assert(cJSON_GetObjectItem(d, "i")->valuedouble == 1.5);
	ck_assert_int_eq(cJSON_GetObjectItem(d, "j")->valueint, 31);
	ck_assert_int_eq(cJSON_GetObjectItem(d, "k")->valueint, -7);
	ck_assert(cJSON_GetObjectItem(d, "l")->valuedouble == 1000);
	ck_assert_str_eq(cJSON_GetObjectItem(d, "m")->valuestring, "3abc");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(d, "n")));
	ck_assert_str_eq(cJSON_GetObjectItem(d, "o")->valuestring, "42");
	ck_assert_str_eq(cJSON_GetObjectItem(d, "p")->valuestring, "yes");
	ck_assert_int_eq(cJSON_GetObjectItem(d, "q")->valueint, 15);
	ck_assert(cJSON_GetObjectItem(d, "r")->valuedouble > 1e308);
	ck_assert_str_eq(cJSON_GetObjectItem(d, "s")->valuestring, "10.244.0.0/16");
	ck_assert_str_eq(cJSON_GetObjectItem(d, "t")->valuestring, "line1\nline2\n");
	cJSON_Delete(docs);
}
END_TEST

START_TEST(test_multi_document)
{
	cJSON *docs = parse("---\n"
			    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"
			    "---\n"
			    "# only a comment\n"
			    "---\n"
			    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
			    "spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n"
			    "      - name: web\n        image: nginx:1.25\n        env:\n"
			    "        - name: N\n          value: \"3\"\n"
			    "...\n");
	ck_assert_int_eq(cJSON_GetArraySize(docs), 2);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(docs, 0), "kind"), "Namespace");
	cJSON *dep = cJSON_GetArrayItem(docs, 1);
	ck_assert_int_eq(mk_json_get(dep, "spec.replicas")->valueint, 3);
	cJSON *c = cJSON_GetArrayItem(mk_json_get(dep, "spec.template.spec.containers"), 0);
	ck_assert_str_eq(mk_json_get_string(c, "image"), "nginx:1.25");
	cJSON *env = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "env"), 0);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(env, "value")));
	ck_assert_str_eq(mk_json_get_string(env, "value"), "3");
	cJSON_Delete(docs);
}
END_TEST

START_TEST(test_json_is_yaml_and_anchors)
{
	cJSON *docs = parse("{\"kind\": \"List\", \"items\": [{\"a\": 1}, {\"b\": \"x\"}]}");
	char *s = compact(cJSON_GetArrayItem(docs, 0));
	ck_assert_str_eq(s, "{\"kind\":\"List\",\"items\":[{\"a\":1},{\"b\":\"x\"}]}");
	cJSON_free(s);
	cJSON_Delete(docs);

	docs = parse("base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\nref: *b\n");
	s = compact(cJSON_GetArrayItem(docs, 0));
	ck_assert_str_eq(s, "{\"base\":{\"x\":1,\"y\":2},\"other\":{\"x\":1,\"y\":3},"
			    "\"ref\":{\"x\":1,\"y\":2}}");
	cJSON_free(s);
	cJSON_Delete(docs);
}
END_TEST

START_TEST(test_syntax_error)
{
	cJSON *docs = NULL;
	struct mk_error *err = NULL;
	const char *bad = "a: [1, 2\nb: c\n";
	ck_assert_int_lt(mk_yaml_parse_documents(bad, strlen(bad), &docs, &err), 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_msg(strstr(err->msg, "yaml: line"), "msg: %s", err->msg);
	ck_assert_ptr_null(docs);
	mk_error_free(&err);
}
END_TEST

START_TEST(test_emit_kubectl_style)
{
	const char *json =
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"jumpbox\","
		"\"labels\":{\"run\":\"jumpbox\"},\"annotations\":{\"num\":\"3\",\"b\":\"true\","
		"\"yv\":\"yes\",\"n\":\"no\",\"e\":\"\",\"multi\":\"{\\\"a\\\":1}\\n\"}},"
		"\"spec\":{\"containers\":[{\"name\":\"jumpbox\",\"image\":\"nginx\","
		"\"resources\":{},\"args\":[],\"ports\":[{\"containerPort\":80}]}],"
		"\"restartPolicy\":\"Always\",\"x\":null,\"t\":true,\"f\":1.5}}";
	cJSON *j = cJSON_Parse(json);
	struct mk_error *err = NULL;
	char *y = mk_yaml_emit(j, &err);
	ck_assert_ptr_nonnull(y);
	ck_assert_str_eq(y, "apiVersion: v1\n"
			    "kind: Pod\n"
			    "metadata:\n"
			    "  annotations:\n"
			    "    b: \"true\"\n"
			    "    e: \"\"\n"
			    "    multi: |\n"
			    "      {\"a\":1}\n"
			    "    \"n\": \"no\"\n"
			    "    num: \"3\"\n"
			    "    yv: \"yes\"\n"
			    "  labels:\n"
			    "    run: jumpbox\n"
			    "  name: jumpbox\n"
			    "spec:\n"
			    "  containers:\n"
			    "  - args: []\n"
			    "    image: nginx\n"
			    "    name: jumpbox\n"
			    "    ports:\n"
			    "    - containerPort: 80\n"
			    "    resources: {}\n"
			    "  f: 1.5\n"
			    "  restartPolicy: Always\n"
			    "  t: true\n"
			    "  x: null\n");
	/* and it reads back to the same JSON */
	cJSON *docs = parse(y);
	ck_assert(cJSON_Compare(cJSON_GetArrayItem(docs, 0), j, 1));
	cJSON_Delete(docs);
	free(y);
	cJSON_Delete(j);
}
END_TEST

START_TEST(test_round_trip_tricky_strings)
{
	const char *json = "{\"a\":\"*\",\"b\":\"- x\",\"c\":\"key: value\",\"d\":\"null\","
			   "\"e\":\"~\",\"f\":\"0x10\",\"g\":\"1e3\",\"h\":\" lead\","
			   "\"i\":\"trail \",\"j\":\"#hash\",\"k\":\"a\\tb\",\"l\":\"ünïcode\","
			   "\"m\":\"12:30\",\"n\":\"on\",\"o\":\"-1\",\"p\":\"[x]\",\"q\":\"@x\","
			   "\"r\":\"line1\\nline2\",\"s\":\"3.0\",\"t\":\"'q'\",\"u\":\"\\\"dq\\\"\"}";
	cJSON *j = cJSON_Parse(json);
	ck_assert_ptr_nonnull(j);
	char *y = mk_yaml_emit(j, NULL);
	ck_assert_ptr_nonnull(y);
	cJSON *docs = parse(y);
	ck_assert_msg(cJSON_Compare(cJSON_GetArrayItem(docs, 0), j, 1), "round trip of:\n%s", y);
	cJSON_Delete(docs);
	free(y);
	cJSON_Delete(j);
}
END_TEST

START_TEST(test_emit_key_order)
{
	cJSON *j = cJSON_Parse("{\"b10\":1,\"b9\":2,\"a\":3,\"_x\":4,\"B\":5}");
	char *y = mk_yaml_emit(j, NULL);
	/* go-yaml: non-letters first, digit runs by value, then byte order of letters */
	ck_assert_str_eq(y, "_x: 4\nB: 5\na: 3\nb9: 2\nb10: 1\n");
	free(y);
	cJSON_Delete(j);

	j = cJSON_Parse("[1,\"two\",[],{}]");
	y = mk_yaml_emit(j, NULL);
	ck_assert_str_eq(y, "- 1\n- two\n- []\n- {}\n");
	free(y);
	cJSON_Delete(j);
}
END_TEST

/* found by tests/fuzz/fuzz_yaml.c: mapping keys printed as text doubled their
 * escapes at every nesting level (exponential); kubectl refuses such keys */
START_TEST(test_collection_keys_refused)
{
	const char *cases[] = { "{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{a: 1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}\n",
				"? [1, 2]\n: x\n", "a: &m {b: 1}\n*m : 2\n" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		cJSON *docs = NULL;
		struct mk_error *err = NULL;
		ck_assert_int_lt(mk_yaml_parse_documents(cases[i], strlen(cases[i]), &docs, &err), 0);
		ck_assert_msg(strstr(err->msg, "unsupported map key"), "msg: %s", err->msg);
		ck_assert_ptr_null(docs);
		mk_error_free(&err);
	}
}
END_TEST

/* go-yaml's digit-run comparison on runs longer than an int64 (UBSan found the
 * signed overflow): no crash, a stable order */
START_TEST(test_emit_key_order_long_digits)
{
	cJSON *j = cJSON_Parse("{\"a55555555555555555555\":1,\"a5\":2}");
	char *y = mk_yaml_emit(j, NULL);
	ck_assert_ptr_nonnull(y);
	ck_assert_ptr_nonnull(strstr(y, "a5: 2\n"));
	free(y);
	cJSON_Delete(j);
}
END_TEST

/* fuzz_yaml: a literal "<<" key (here from a "!"-tagged scalar) must not come back
 * as a merge key */
START_TEST(test_emit_quotes_merge_key)
{
	cJSON *j = cJSON_Parse("{\"<<\":{\"b\":1},\"a\":2}"), *back = NULL;
	char *y = mk_yaml_emit(j, NULL);
	ck_assert_ptr_nonnull(y);
	ck_assert_int_eq(mk_yaml_parse_documents(y, strlen(y), &back, NULL), 0);
	ck_assert_msg(cJSON_Compare(cJSON_GetArrayItem(back, 0), j, true), "read back: %s", y);
	free(y);
	cJSON_Delete(back);
	cJSON_Delete(j);
}
END_TEST

Suite *yaml_suite(void)
{
	Suite *s = suite_create("yaml");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_scalar_typing);
	tcase_add_test(tc, test_multi_document);
	tcase_add_test(tc, test_json_is_yaml_and_anchors);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_emit_kubectl_style);
	tcase_add_test(tc, test_round_trip_tricky_strings);
	tcase_add_test(tc, test_emit_key_order);
	tcase_add_test(tc, test_collection_keys_refused);
	tcase_add_test(tc, test_emit_key_order_long_digits);
	tcase_add_test(tc, test_emit_quotes_merge_key);
	suite_add_tcase(s, tc);
	return s;
}
