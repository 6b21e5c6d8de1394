/* Tests for pkg/api/selector.c: label selectors (string syntax and
 * metav1.LabelSelector JSON) and field selectors. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"

/* JSON with single quotes for readability. */
static cJSON *J(const char *s)
{
	char *d = mk_strdup(s);
	for (char *c = d; *c; c++)
		if (*c == '\'')
			*c = '"';
	cJSON *j = cJSON_Parse(d);
	ck_assert_msg(j != NULL, "test JSON does not parse: %s", d);
	free(d);
	return j;
}

/* ---- label selector string syntax: matching ------------------------------------ */

static const struct {
	const char *selector;
	const char *labels; /* NULL: no labels at all */
	bool match;
} label_cases[] = {
	{ "", NULL, true },
	{ "", "{'a':'b'}", true },
	{ "   ", "{}", true },
	{ "a=b", "{'a':'b'}", true },
	{ "a=b", "{'a':'c'}", false },
	{ "a=b", "{}", false },
	{ "a=b", NULL, false },
	{ "a==b", "{'a':'b','x':'y'}", true },
	{ "a==b", "{'A':'b'}", false },
	{ "a!=b", "{'a':'b'}", false },
	{ "a!=b", "{'a':'c'}", true },
	{ "a!=b", "{}", true },
	{ "a!=b", NULL, true },
	{ "a in (b,c)", "{'a':'c'}", true },
	{ "a in (b,c)", "{'a':'d'}", false },
	{ "a in (b,c)", "{}", false },
	{ "a notin (b,c)", "{}", true },
	{ "a notin (b,c)", "{'a':'b'}", false },
	{ "a notin (b,c)", "{'a':'x'}", true },
	{ "a", "{'a':''}", true },
	{ "a", "{'b':'a'}", false },
	{ "!a", "{}", true },
	{ "!a", "{'a':'x'}", false },
	{ "a=", "{'a':''}", true },
	{ "a=", "{'a':'x'}", false },
	{ "a=", "{}", false },
	{ "a in ()", "{'a':''}", true },
	{ "a in (b,,c)", "{'a':''}", true },
	{ "a in (in,notin)", "{'a':'notin'}", true },
	{ "in=notin", "{'in':'notin'}", true },
	{ "a=b,c!=d", "{'a':'b','c':'e'}", true },
	{ "a=b,c!=d", "{'a':'b','c':'d'}", false },
	{ "a=b,c!=d", "{'c':'e'}", false },
	{ "  a = b ,  c in ( x , y ) , !d  ", "{'a':'b','c':'y'}", true },
	{ "  a = b ,  c in ( x , y ) , !d  ", "{'a':'b','c':'y','d':''}", false },
	{ "\ta\t==\tb\n", "{'a':'b'}", true },
	{ "app=web,tier in (frontend, cache),!legacy", "{'app':'web','tier':'cache'}", true },
	{ "app=web,tier in (frontend, cache),!legacy", "{'app':'web','tier':'db'}", false },
	{ "app.kubernetes.io/name=nginx", "{'app.kubernetes.io/name':'nginx'}", true },
	{ "app.kubernetes.io/name=nginx", "{'name':'nginx'}", false },
	{ "example.com/My_Key.x-1=Va.l_u-E9", "{'example.com/My_Key.x-1':'Va.l_u-E9'}", true },
	{ "x>5", "{'x':'10'}", true },
	{ "x>5", "{'x':'5'}", false },
	{ "x>5", "{'x':'abc'}", false },
	{ "x>5", "{}", false },
	{ "x<5", "{'x':'-3'}", true },
	{ "a!=b", "{'a':1}", true }, /* a non-string value is no string value */
	{ "a=1", "{'a':1}", false },
};

START_TEST(test_label_cases)
{
	struct mk_label_selector *sel = NULL;
	struct mk_error *err = NULL;
	cJSON *labels = label_cases[_i].labels ? J(label_cases[_i].labels) : NULL;

	ck_assert_msg(mk_label_selector_parse(label_cases[_i].selector, &sel, &err) == 0,
		      "parse '%s': %s", label_cases[_i].selector, err ? err->msg : "?");
	ck_assert_msg(mk_label_selector_matches(sel, labels) == label_cases[_i].match,
		      "'%s' on %s: expected %s", label_cases[_i].selector,
		      label_cases[_i].labels ? label_cases[_i].labels : "no labels",
		      label_cases[_i].match ? "match" : "no match");
	mk_label_selector_free(sel);
	cJSON_Delete(labels);
}
END_TEST

START_TEST(test_label_empty)
{
	struct mk_label_selector *sel = NULL;

	ck_assert_int_eq(mk_label_selector_parse("", &sel, NULL), 0);
	ck_assert(mk_label_selector_empty(sel));
	mk_label_selector_free(sel);
	ck_assert_int_eq(mk_label_selector_parse("a", &sel, NULL), 0);
	ck_assert(!mk_label_selector_empty(sel));
	mk_label_selector_free(sel);
	mk_label_selector_free(NULL);
}
END_TEST

/* ---- label selector string syntax: errors ------------------------------------- */

static const struct {
	const char *selector;
	const char *message; /* a part of the error message */
} label_errors[] = {
	{ "a=b c", "found 'c', expected: ',' or 'end of string'" },
	{ "=b", "unable to parse requirement: found '='" },
	{ "a in b", "expected: '('" },
	{ "a in (b", "expected: ',', ')' or identifier" },
	{ "a notin (b c)", "found 'c'" },
	{ "a=(b)", "found '(', expected: identifier" },
	{ "!", "identifier after '!'" },
	{ "!a=b", "found '='" },
	{ "a,", "unable to parse requirement" },
	{ ",a", "unable to parse requirement" },
	{ "a foo b", "expected: in, notin, =, ==, !=, gt, lt" },
	{ "Inv@lid=x", "name part must consist of alphanumeric characters" },
	{ "-a=b", "name part must consist of alphanumeric characters" },
	{ "a_=b", "name part must consist" },
	{ "a=b@d", "a valid label must be an empty string or consist of" },
	{ "a=-b", "a valid label must be an empty string" },
	{ "a in (x,y_)", "values[1]: Invalid value: \"y_\"" },
	{ "a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "must be no more than 63 characters" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=b",
	  "name part must be no more than 63 characters" },
	{ "Example.com/a=b", "prefix part a lowercase RFC 1123 subdomain" },
	{ "example..com/a=b", "prefix part a lowercase RFC 1123 subdomain" },
	{ "/a=b", "prefix part must be non-empty" },
	{ "a/=b", "name part must be non-empty" },
	{ "a/b/c=d", "a qualified name must consist of" },
	{ "x>abc", "the value must be an integer" },
	{ "x>", "the value must be an integer" },
	{ "x<(1)", "found '('" },
};

START_TEST(test_label_errors)
{
	struct mk_label_selector *sel = NULL;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_label_selector_parse(label_errors[_i].selector, &sel, &err), -1);
	ck_assert_ptr_null(sel);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_msg(strstr(err->msg, label_errors[_i].message) != NULL,
		      "'%s': message '%s' lacks '%s'", label_errors[_i].selector, err->msg,
		      label_errors[_i].message);
	mk_error_free(&err);
}
END_TEST

START_TEST(test_label_error_prefix)
{
	struct mk_label_selector *sel = NULL;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_label_selector_parse("a=b,Inv@lid", &sel, &err), -1);
	ck_assert_str_eq(err->msg, "unable to parse requirement: key: Invalid value: \"Inv@lid\": "
				   "name part must consist of alphanumeric characters, '-', '_' or "
				   "'.', and must start and end with an alphanumeric character "
				   "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
				   "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
	mk_error_free(&err);
}
END_TEST

/* ---- metav1.LabelSelector ----------------------------------------------------- */

static const struct {
	const char *selector; /* NULL: a NULL cJSON */
	const char *labels;
	bool match;
} json_cases[] = {
	{ NULL, "{'a':'b'}", true },
	{ "{}", "{}", true },
	{ "null", "{'x':'y'}", true },
	{ "{'matchLabels':{'app':'web'}}", "{'app':'web','pod-template-hash':'abc'}", true },
	{ "{'matchLabels':{'app':'web'}}", "{'app':'db'}", false },
	{ "{'matchLabels':{'app':'web','tier':'fe'}}", "{'app':'web'}", false },
	{ "{'matchLabels':{}}", "{}", true },
	{ "{'matchExpressions':[{'key':'env','operator':'In','values':['prod','stage']}]}",
	  "{'env':'stage'}", true },
	{ "{'matchExpressions':[{'key':'env','operator':'In','values':['prod','stage']}]}",
	  "{'env':'dev'}", false },
	{ "{'matchExpressions':[{'key':'env','operator':'NotIn','values':['prod']}]}", "{}", true },
	{ "{'matchExpressions':[{'key':'env','operator':'NotIn','values':['prod']}]}",
	  "{'env':'prod'}", false },
	{ "{'matchExpressions':[{'key':'gpu','operator':'Exists'}]}", "{'gpu':''}", true },
	{ "{'matchExpressions':[{'key':'gpu','operator':'Exists','values':[]}]}", "{}", false },
	{ "{'matchExpressions':[{'key':'gpu','operator':'DoesNotExist'}]}", "{}", true },
	{ "{'matchExpressions':[{'key':'gpu','operator':'DoesNotExist'}]}", "{'gpu':'1'}", false },
	{ "{'matchLabels':{'app':'web'},'matchExpressions':[{'key':'env','operator':'In',"
	  "'values':['prod']}]}",
	  "{'app':'web','env':'prod'}", true },
	{ "{'matchLabels':{'app':'web'},'matchExpressions':[{'key':'env','operator':'In',"
	  "'values':['prod']}]}",
	  "{'env':'prod'}", false },
};

START_TEST(test_label_json_cases)
{
	cJSON *js = json_cases[_i].selector ? J(json_cases[_i].selector) : NULL;
	cJSON *labels = J(json_cases[_i].labels);
	struct mk_label_selector *sel = NULL;
	struct mk_error *err = NULL;

	ck_assert_msg(mk_label_selector_from_json(js, &sel, &err) == 0, "%s: %s",
		      json_cases[_i].selector ? json_cases[_i].selector : "NULL",
		      err ? err->msg : "?");
	ck_assert_msg(mk_label_selector_matches(sel, labels) == json_cases[_i].match,
		      "%s on %s", json_cases[_i].selector ? json_cases[_i].selector : "NULL",
		      json_cases[_i].labels);
	mk_label_selector_free(sel);
	cJSON_Delete(js);
	cJSON_Delete(labels);
}
END_TEST

START_TEST(test_label_json_empty)
{
	struct mk_label_selector *sel = NULL;
	cJSON *js = J("{}");

	ck_assert_int_eq(mk_label_selector_from_json(NULL, &sel, NULL), 0);
	ck_assert(mk_label_selector_empty(sel));
	mk_label_selector_free(sel);
	ck_assert_int_eq(mk_label_selector_from_json(js, &sel, NULL), 0);
	ck_assert(mk_label_selector_empty(sel));
	mk_label_selector_free(sel);
	cJSON_Delete(js);
}
END_TEST

static const struct {
	const char *selector;
	const char *message;
} json_errors[] = {
	{ "{'matchExpressions':[{'key':'a','operator':'Equals','values':['x']}]}",
	  "\"Equals\" is not a valid label selector operator" },
	{ "{'matchExpressions':[{'key':'a','operator':'Gt','values':['1']}]}",
	  "\"Gt\" is not a valid label selector operator" },
	{ "{'matchExpressions':[{'key':'a','operator':'In','values':[]}]}", "can't be empty" },
	{ "{'matchExpressions':[{'key':'a','operator':'In'}]}", "can't be empty" },
	{ "{'matchExpressions':[{'key':'a','operator':'Exists','values':['x']}]}",
	  "values set must be empty" },
	{ "{'matchExpressions':[{'operator':'Exists'}]}", "key: Required value" },
	{ "{'matchExpressions':[{'key':'a'}]}", "operator: Required value" },
	{ "{'matchExpressions':[{'key':'a','operator':'In','values':[1]}]}", "must be strings" },
	{ "{'matchExpressions':{'key':'a'}}", "must be a list" },
	{ "{'matchLabels':{'a':'b c'}}", "a valid label must be" },
	{ "{'matchLabels':{'a b':'c'}}", "name part must consist" },
	{ "{'matchLabels':{'a':1}}", "must be a string" },
	{ "{'matchLabels':['a']}", "matchLabels must be an object" },
	{ "'app=web'", "label selector must be an object" },
};

START_TEST(test_label_json_errors)
{
	cJSON *js = J(json_errors[_i].selector);
	struct mk_label_selector *sel = NULL;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_label_selector_from_json(js, &sel, &err), -1);
	ck_assert_ptr_null(sel);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_msg(strstr(err->msg, json_errors[_i].message) != NULL, "%s: '%s' lacks '%s'",
		      json_errors[_i].selector, err->msg, json_errors[_i].message);
	mk_error_free(&err);
	cJSON_Delete(js);
}
END_TEST

/* ---- field selectors ---------------------------------------------------------- */

static const char pod[] =
	"{'kind':'Pod','metadata':{'name':'web-1','namespace':'default'},"
	"'spec':{'nodeName':'node-a','priority':0,'hostNetwork':false},"
	"'status':{'phase':'Running','podIP':'10.244.0.5'}}";

static const struct {
	const char *selector, *object;
	bool match;
} field_cases[] = {
	{ "", pod, true },
	{ "metadata.name=web-1", pod, true },
	{ "metadata.name==web-1", pod, true },
	{ "metadata.name=web-2", pod, false },
	{ "metadata.name!=web-2", pod, true },
	{ "metadata.name!=web-1", pod, false },
	{ "metadata.namespace=default,status.phase!=Running", pod, false },
	{ "metadata.namespace=default,status.phase!=Succeeded", pod, true },
	{ "metadata.namespace=default,status.phase=Running,spec.nodeName=node-a", pod, true },
	{ "spec.nodeName=node-b", pod, false },
	/* an absent field compares as "" (the scheduler's unscheduled pods) */
	{ "spec.nodeName=", "{'spec':{}}", true },
	{ "spec.nodeName=", pod, false },
	{ "spec.nodeName!=", pod, true },
	{ "spec.schedulerName=x", pod, false },
	/* numbers and booleans as JSON text */
	{ "spec.priority=0", pod, true },
	{ "spec.hostNetwork=false", pod, true },
	{ "spec.unschedulable=true", "{'spec':{'unschedulable':true}}", true },
	{ "spec.unschedulable!=true", "{'spec':{}}", true },
	{ "spec.unschedulable!=true", "{'spec':{'unschedulable':true}}", false },
	{ "spec.replicas=3", "{'spec':{'replicas':3}}", true },
	{ "involvedObject.name=web,involvedObject.kind=Pod",
	  "{'involvedObject':{'kind':'Pod','name':'web'},'reason':'Pulled'}", true },
	{ "involvedObject.name=web", "{'involvedObject':{'kind':'Pod','name':'web2'}}", false },
	/* escapes */
	{ "metadata.name=a\\,b", "{'metadata':{'name':'a,b'}}", true },
	{ "metadata.name=a\\=b\\\\", "{'metadata':{'name':'a=b\\\\'}}", true },
	/* empty terms are skipped, the key may be padded */
	{ "metadata.name=web-1,", pod, true },
	{ ",, metadata.name =web-1", pod, true },
	/* the first operator wins: key "a", value "b" under !=, then "=" */
	{ "status.phase!=Pending", pod, true },
};

START_TEST(test_field_cases)
{
	struct mk_field_selector *sel = NULL;
	struct mk_error *err = NULL;
	cJSON *obj = J(field_cases[_i].object);

	ck_assert_msg(mk_field_selector_parse(field_cases[_i].selector, &sel, &err) == 0,
		      "parse '%s': %s", field_cases[_i].selector, err ? err->msg : "?");
	ck_assert_msg(mk_field_selector_matches(sel, obj) == field_cases[_i].match, "'%s'",
		      field_cases[_i].selector);
	/* the text pre-test never refuses what matches */
	char *text = cJSON_PrintUnformatted(obj);
	if (field_cases[_i].match)
		ck_assert_msg(mk_field_selector_may_match_text(sel, text), "'%s' on %s",
			      field_cases[_i].selector, text);
	cJSON_free(text);
	mk_field_selector_free(sel);
	cJSON_Delete(obj);
}
END_TEST

static const struct {
	const char *selector, *message;
} field_errors[] = {
	{ "metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'" },
	{ "a=b,c", "can't understand 'c'" },
	{ "=x", "invalid selector" },
	{ "a=b\\x", "invalid escape sequence" },
	{ "a=b\\", "invalid escape sequence" },
	{ "a=b=c", "unescaped character =" },
	{ "a==b=c", "unescaped character =" },
};

START_TEST(test_field_errors)
{
	struct mk_field_selector *sel = NULL;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_field_selector_parse(field_errors[_i].selector, &sel, &err), -1);
	ck_assert_ptr_null(sel);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_msg(strstr(err->msg, field_errors[_i].message) != NULL, "'%s': '%s' lacks '%s'",
		      field_errors[_i].selector, err->msg, field_errors[_i].message);
	mk_error_free(&err);
}
END_TEST

/* the text pre-test refuses what cannot match an equality on a plain value */
START_TEST(test_field_text_refuses)
{
	struct mk_field_selector *sel = NULL;
	struct mk_error *err = NULL;
	const char *pod = "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"node-a\","
			  "\"replicas\":3,\"x\":{\"nodeName\":\"node-c\"}}}";

	ck_assert_int_eq(mk_field_selector_parse("spec.nodeName=node-b", &sel, &err), 0);
	ck_assert(!mk_field_selector_may_match_text(sel, pod));
	/* a prefix of the value, or the value under another key, is no match */
	ck_assert(!mk_field_selector_may_match_text(sel, "{\"spec\":{\"nodeName\":\"node-bb\"}}"));
	ck_assert(!mk_field_selector_may_match_text(sel, "{\"spec\":{\"xnodeName\":\"node-b\"}}"));
	mk_field_selector_free(sel);
	/* the key elsewhere in the text: parse and look (true) */
	ck_assert_int_eq(mk_field_selector_parse("spec.nodeName=node-c", &sel, &err), 0);
	ck_assert(mk_field_selector_may_match_text(sel, pod));
	mk_field_selector_free(sel);
	/* numbers, inequalities and empty values are left to the parsed test */
	ck_assert_int_eq(mk_field_selector_parse("spec.replicas=3", &sel, &err), 0);
	ck_assert(mk_field_selector_may_match_text(sel, pod));
	mk_field_selector_free(sel);
	ck_assert_int_eq(mk_field_selector_parse("spec.nodeName!=node-a,spec.x=", &sel, &err), 0);
	ck_assert(mk_field_selector_may_match_text(sel, pod));
	mk_field_selector_free(sel);
}
END_TEST

Suite *selector_suite(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("label");
	tcase_add_loop_test(tc, test_label_cases, 0, (int)MK_ARRAY_SIZE(label_cases));
	tcase_add_test(tc, test_label_empty);
	tcase_add_loop_test(tc, test_label_errors, 0, (int)MK_ARRAY_SIZE(label_errors));
	tcase_add_test(tc, test_label_error_prefix);
	tcase_add_loop_test(tc, test_label_json_cases, 0, (int)MK_ARRAY_SIZE(json_cases));
	tcase_add_test(tc, test_label_json_empty);
	tcase_add_loop_test(tc, test_label_json_errors, 0, (int)MK_ARRAY_SIZE(json_errors));
	suite_add_tcase(s, tc);

	tc = tcase_create("field");
	tcase_add_loop_test(tc, test_field_cases, 0, (int)MK_ARRAY_SIZE(field_cases));
	tcase_add_loop_test(tc, test_field_errors, 0, (int)MK_ARRAY_SIZE(field_errors));
	tcase_add_test(tc, test_field_text_refuses);
	suite_add_tcase(s, tc);
	return s;
}
