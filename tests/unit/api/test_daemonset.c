/* DaemonSet through the generic entry points: apps/v1 defaults, validation with
 * field paths as kube-apiserver words them, the immutable selector, Table columns
 * and cells as kubectl prints them, the resource row (short name, /status, no
 * /scale). */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

static const struct mk_api_resource *ds(void)
{
	return mk_api_resource_find("apps", "v1", "daemonsets");
}

static cJSON *parse(const char *json)
{
	cJSON *o = cJSON_Parse(json);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* "field:reason field:reason ..." of the causes */
static char *causes_of(const char *json, const char *old_json)
{
	cJSON *o = parse(json), *old = old_json ? parse(old_json) : NULL;
	mk_api_default(ds(), o);
	if (old)
		mk_api_default(ds(), old);
	cJSON *causes = NULL;
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	if (mk_api_validate(ds(), o, old, &causes) < 0) {
		const cJSON *c;
		cJSON_ArrayForEach(c, causes)
			mk_buf_printf(&b, "%s%s:%s", b.len ? " " : "", mk_json_get_string(c, "field"),
				      mk_json_get_string(c, "reason"));
	}
	cJSON_Delete(causes);
	cJSON_Delete(o);
	cJSON_Delete(old);
	return mk_buf_steal(&b);
}

#define DS_JSON(spec_extra, tmpl_spec_extra, sel, labels)                                          \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"agent\",\"namespace\":" \
	"\"default\"},\"spec\":{" spec_extra "\"selector\":{\"matchLabels\":" sel "},\"template\":"    \
	"{\"metadata\":{\"labels\":" labels "},\"spec\":{" tmpl_spec_extra "\"containers\":[{\"name\":"  \
	"\"c\",\"image\":\"busybox\"}]}}}}"
#define GOOD DS_JSON("", "", "{\"app\":\"a\"}", "{\"app\":\"a\"}")

START_TEST(test_ds_resource_and_defaults)
{
	const struct mk_api_resource *r = ds();
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->kind, "DaemonSet");
	ck_assert_str_eq(r->short_names[0], "ds");
	ck_assert(r->has_status);
	ck_assert(!r->has_scale);
	ck_assert(r->namespaced);

	cJSON *o = parse(GOOD);
	mk_api_default(r, o);
	ck_assert_str_eq(mk_json_get_string(o, "spec.updateStrategy.type"), "RollingUpdate");
	ck_assert_int_eq(mk_json_get(o, "spec.updateStrategy.rollingUpdate.maxUnavailable")->valueint, 1);
	ck_assert_int_eq(mk_json_get(o, "spec.updateStrategy.rollingUpdate.maxSurge")->valueint, 0);
	ck_assert_int_eq(mk_json_get(o, "spec.revisionHistoryLimit")->valueint, 10);
	/* the pod template's own defaults */
	ck_assert_str_eq(mk_json_get_string(o, "spec.template.spec.restartPolicy"), "Always");
	ck_assert_str_eq(mk_json_get_string(o, "spec.template.spec.dnsPolicy"), "ClusterFirst");
	cJSON *causes = NULL;
	ck_assert_int_eq(mk_api_validate(r, o, NULL, &causes), 0);
	cJSON_Delete(o);

	/* OnDelete gets no rollingUpdate; a given maxUnavailable is kept */
	o = parse(DS_JSON("\"updateStrategy\":{\"type\":\"OnDelete\"},", "", "{\"app\":\"a\"}", "{\"app\":\"a\"}"));
	mk_api_default(r, o);
	ck_assert_ptr_null(mk_json_get(o, "spec.updateStrategy.rollingUpdate"));
	cJSON_Delete(o);
	o = parse(DS_JSON("\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":\"20%\"}},", "",
			  "{\"app\":\"a\"}", "{\"app\":\"a\"}"));
	mk_api_default(r, o);
	ck_assert_str_eq(mk_json_get_string(o, "spec.updateStrategy.rollingUpdate.maxUnavailable"), "20%");
	ck_assert_str_eq(mk_json_get_string(o, "spec.updateStrategy.type"), "RollingUpdate");
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_ds_validation_fields)
{
	char *f;
	f = causes_of(DS_JSON("", "", "{\"app\":\"a\"}", "{\"app\":\"b\"}"), NULL);
	ck_assert_str_eq(f, "spec.template.metadata.labels:FieldValueInvalid");
	free(f);
	f = causes_of(DS_JSON("", "", "{}", "{\"app\":\"b\"}"), NULL);
	ck_assert_str_eq(f, "spec.selector:FieldValueInvalid");
	free(f);
	f = causes_of("{\"metadata\":{\"name\":\"agent\",\"namespace\":\"default\"},\"spec\":{\"template\":{}}}", NULL);
	ck_assert_str_eq(f, "spec.selector:FieldValueRequired spec.template.spec.containers:FieldValueRequired");
	free(f);
	f = causes_of(DS_JSON("", "\"restartPolicy\":\"OnFailure\",", "{\"app\":\"a\"}", "{\"app\":\"a\"}"), NULL);
	ck_assert_str_eq(f, "spec.template.spec.restartPolicy:FieldValueNotSupported");
	free(f);
	f = causes_of(DS_JSON("", "\"activeDeadlineSeconds\":5,", "{\"app\":\"a\"}", "{\"app\":\"a\"}"), NULL);
	ck_assert_str_eq(f, "spec.template.spec.activeDeadlineSeconds:FieldValueForbidden");
	free(f);
	f = causes_of(DS_JSON("\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":0,"
			      "\"maxSurge\":0}},", "", "{\"app\":\"a\"}", "{\"app\":\"a\"}"), NULL);
	ck_assert_str_eq(f, "spec.updateStrategy.rollingUpdate.maxUnavailable:FieldValueInvalid");
	free(f);
	f = causes_of(DS_JSON("\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":\"150%\",\"maxSurge\":-1}},",
			      "", "{\"app\":\"a\"}", "{\"app\":\"a\"}"), NULL);
	ck_assert_str_eq(f, "spec.updateStrategy.rollingUpdate.maxUnavailable:FieldValueInvalid "
			    "spec.updateStrategy.rollingUpdate.maxSurge:FieldValueInvalid");
	free(f);
	f = causes_of(DS_JSON("\"updateStrategy\":{\"type\":\"Sometimes\"},", "", "{\"app\":\"a\"}", "{\"app\":\"a\"}"), NULL);
	ck_assert_str_eq(f, "spec.updateStrategy.type:FieldValueNotSupported");
	free(f);
	f = causes_of(DS_JSON("\"minReadySeconds\":-1,\"revisionHistoryLimit\":-2,", "", "{\"app\":\"a\"}",
			      "{\"app\":\"a\"}"), NULL);
	ck_assert_str_eq(f, "spec.minReadySeconds:FieldValueInvalid spec.revisionHistoryLimit:FieldValueInvalid");
	free(f);
	/* maxSurge alone (maxUnavailable 0) is fine */
	f = causes_of(DS_JSON("\"updateStrategy\":{\"rollingUpdate\":{\"maxUnavailable\":0,\"maxSurge\":\"10%\"}},",
			      "", "{\"app\":\"a\"}", "{\"app\":\"a\"}"), NULL);
	ck_assert_str_eq(f, "");
	free(f);
	/* the selector cannot change; the template can */
	f = causes_of(DS_JSON("", "", "{\"app\":\"a\",\"x\":\"y\"}", "{\"app\":\"a\",\"x\":\"y\"}"), GOOD);
	ck_assert_str_eq(f, "spec.selector:FieldValueInvalid");
	free(f);
	f = causes_of(DS_JSON("", "", "{\"app\":\"a\"}", "{\"app\":\"a\",\"v\":\"2\"}"), GOOD);
	ck_assert_str_eq(f, "");
	free(f);
}
END_TEST

START_TEST(test_ds_table)
{
	cJSON *t = mk_api_table_new(ds(), true);
	const cJSON *c;
	struct mk_buf b;
	mk_buf_init(&b);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(t, "columnDefinitions"))
		mk_buf_printf(&b, "%s%s%s", b.len ? "," : "", mk_json_get_string(c, "name"),
			      mk_json_get(c, "priority")->valueint ? "*" : "");
	ck_assert_str_eq(b.data, "Name,Desired,Current,Ready,Up-to-date,Available,Node Selector,Age,"
				 "Containers*,Images*,Selector*");
	mk_buf_release(&b);

	cJSON *o = parse(DS_JSON("", "\"nodeSelector\":{\"role\":\"edge\",\"disk\":\"ssd\"},",
				 "{\"app\":\"a\"}", "{\"app\":\"a\"}"));
	cJSON_AddItemToObject(o, "status", parse("{\"desiredNumberScheduled\":4,\"currentNumberScheduled\":3,"
						 "\"numberReady\":2,\"updatedNumberScheduled\":1,\"numberAvailable\":2}"));
	mk_api_table_add_row(t, ds(), o, 0);
	char *cells = cJSON_PrintUnformatted(mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells"));
	ck_assert_str_eq(cells, "[\"agent\",4,3,2,1,2,\"disk=ssd,role=edge\",\"<unknown>\",\"c\",\"busybox\",\"app=a\"]");
	cJSON_free(cells);
	cJSON_Delete(o);
	cJSON_Delete(t);
}
END_TEST

Suite *daemonset_suite(void)
{
	Suite *s = suite_create("daemonset");
	TCase *tc = tcase_create("daemonset");
	tcase_add_test(tc, test_ds_resource_and_defaults);
	tcase_add_test(tc, test_ds_validation_fields);
	tcase_add_test(tc, test_ds_table);
	suite_add_tcase(s, tc);
	return s;
}
