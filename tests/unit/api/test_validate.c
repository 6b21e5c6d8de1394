/* Validation: name checks and per-kind rules, valid and invalid, with the causes
 * (reason, field, message) a real API server returns. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "bad test JSON: %s", s);
	return j;
}

/* Defaults then validates json (and old, also defaulted) as kind; returns the causes
 * (owned) or NULL when valid. */
static cJSON *run(const char *gv, const char *kind, const char *json, const char *old_json)
{
	const struct mk_api_resource *r = mk_api_resource_by_kind(gv, kind);
	ck_assert_ptr_nonnull(r);
	cJSON *obj = parse(json);
	cJSON *old = old_json ? parse(old_json) : NULL;
	cJSON *causes = NULL;
	mk_api_default(r, obj);
	if (old)
		mk_api_default(r, old);
	int rc = mk_api_validate(r, obj, old, &causes);
	ck_assert_int_eq(rc, causes ? -1 : 0);
	cJSON_Delete(obj);
	cJSON_Delete(old);
	return causes;
}

static char *dump(const cJSON *j)
{
	return j ? cJSON_PrintUnformatted(j) : strdup("null");
}

static void expect_valid(const char *gv, const char *kind, const char *json, const char *old)
{
	cJSON *causes = run(gv, kind, json, old);
	if (causes) {
		char *s = dump(causes);
		ck_abort_msg("%s should be valid, got %s", json, s);
	}
}

/* Expects a cause with reason and field whose message contains msg. */
static void expect_cause(const char *gv, const char *kind, const char *json, const char *old,
			 const char *reason, const char *field, const char *msg)
{
	cJSON *causes = run(gv, kind, json, old);
	const cJSON *c;
	bool found = false;
	ck_assert_msg(causes != NULL, "%s should be invalid (%s)", json, field);
	cJSON_ArrayForEach(c, causes)
	{
		const char *r = mk_json_get_string(c, "reason");
		const char *f = mk_json_get_string(c, "field");
		const char *m = mk_json_get_string(c, "message");
		if (r && f && m && strcmp(r, reason) == 0 && strcmp(f, field) == 0 && strstr(m, msg))
			found = true;
	}
	if (!found) {
		char *s = dump(causes);
		ck_abort_msg("want %s %s \"%s\", got %s", reason, field, msg, s);
	}
	cJSON_Delete(causes);
}

#define REQ "FieldValueRequired"
#define INV "FieldValueInvalid"
#define UNS "FieldValueNotSupported"
#define DUP "FieldValueDuplicate"
#define FORB "FieldValueForbidden"

/* ---- name checks ------------------------------------------------------------------ */

START_TEST(test_dns1123_label)
{
	ck_assert_ptr_null(mk_api_check_dns1123_label("a"));
	ck_assert_ptr_null(mk_api_check_dns1123_label("my-name"));
	ck_assert_ptr_null(mk_api_check_dns1123_label("123-abc"));
	ck_assert_ptr_null(mk_api_check_dns1123_label("abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abc"));
	ck_assert_str_eq(mk_api_check_dns1123_label("abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcd"),
			 "must be no more than 63 characters");
	const char *m = mk_api_check_dns1123_label("Foo");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m, "a lowercase RFC 1123 label must consist of lower case alphanumeric "
			    "characters or '-', and must start and end with an alphanumeric character "
			    "(e.g. 'my-name',  or '123-abc', regex used for validation is "
			    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
	ck_assert_ptr_nonnull(mk_api_check_dns1123_label(""));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_label("-a"));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_label("a-"));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_label("a.b"));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_label("a_b"));
}
END_TEST

START_TEST(test_dns1123_subdomain)
{
	ck_assert_ptr_null(mk_api_check_dns1123_subdomain("example.com"));
	ck_assert_ptr_null(mk_api_check_dns1123_subdomain("a"));
	ck_assert_ptr_null(mk_api_check_dns1123_subdomain("web-7d4b9c.1"));
	ck_assert_str_eq(mk_api_check_dns1123_subdomain("Foo_bar"),
			 "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
			 "characters, '-' or '.', and must start and end with an alphanumeric "
			 "character (e.g. 'example.com', regex used for validation is "
			 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
	ck_assert_ptr_nonnull(mk_api_check_dns1123_subdomain("a..b"));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_subdomain(".a"));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_subdomain("a."));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_subdomain("a.-b"));
	ck_assert_ptr_nonnull(mk_api_check_dns1123_subdomain(""));
	char big[300];
	memset(big, 'a', 254);
	big[254] = '\0';
	ck_assert_str_eq(mk_api_check_dns1123_subdomain(big), "must be no more than 253 characters");
}
END_TEST

START_TEST(test_label_key_value)
{
	ck_assert_ptr_null(mk_api_check_label_key("app"));
	ck_assert_ptr_null(mk_api_check_label_key("MyName"));
	ck_assert_ptr_null(mk_api_check_label_key("my.name_x-1"));
	ck_assert_ptr_null(mk_api_check_label_key("kubernetes.io/metadata.name"));
	ck_assert_ptr_null(mk_api_check_label_key("example.com/MyName"));
	ck_assert_str_eq(mk_api_check_label_key("/a"), "prefix part must be non-empty");
	ck_assert_str_eq(mk_api_check_label_key("a/"), "name part must be non-empty");
	ck_assert_str_eq(mk_api_check_label_key(""), "name part must be non-empty");
	ck_assert_ptr_nonnull(strstr(mk_api_check_label_key("Bad_/x"), "prefix part a lowercase RFC 1123 subdomain"));
	ck_assert_ptr_nonnull(strstr(mk_api_check_label_key("a/b/c"), "a qualified name must consist of"));
	ck_assert_ptr_nonnull(strstr(mk_api_check_label_key("bad key"),
				     "name part must consist of alphanumeric characters"));
	ck_assert_ptr_nonnull(mk_api_check_label_key("-a"));
	ck_assert_str_eq(mk_api_check_label_key("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
			 "name part must be no more than 63 characters");

	ck_assert_ptr_null(mk_api_check_label_value(""));
	ck_assert_ptr_null(mk_api_check_label_value("MyValue"));
	ck_assert_ptr_null(mk_api_check_label_value("my_value.1-x"));
	ck_assert_ptr_nonnull(strstr(mk_api_check_label_value("a b"),
				     "a valid label must be an empty string or consist of"));
	ck_assert_ptr_nonnull(mk_api_check_label_value("a/b"));
	ck_assert_ptr_nonnull(mk_api_check_label_value("_a"));
	ck_assert_str_eq(mk_api_check_label_value("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
			 "must be no more than 63 characters");
}
END_TEST

/* ---- metadata ----------------------------------------------------------------------- */

#define NS_META(name) "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\""
#define CONTAINER "{\"name\":\"c\",\"image\":\"nginx\"}"
#define POD_WITH(meta_extra, spec) \
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\"," NS_META("p") meta_extra "},\"spec\":{" spec "}}"
#define POD(spec) POD_WITH("", spec)
#define GOOD_POD POD("\"containers\":[" CONTAINER "]")

START_TEST(test_meta_name)
{
	expect_valid("v1", "Pod", GOOD_POD, NULL);
	expect_cause("v1", "Pod", "{\"metadata\":{\"namespace\":\"default\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     NULL, REQ, "metadata.name", "Required value: name or generateName is required");
	expect_cause("v1", "Pod", "{\"metadata\":{\"name\":\"Foo_bar\",\"namespace\":\"default\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     NULL, INV, "metadata.name",
		     "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of");
	/* subdomains are fine for pods, not for namespaces (label) or services (DNS-1035) */
	expect_valid("v1", "Pod", "{\"metadata\":{\"name\":\"a.b\",\"namespace\":\"default\"},\"spec\":{\"containers\":[" CONTAINER "]}}", NULL);
	expect_cause("v1", "Namespace", "{\"metadata\":{\"name\":\"a.b\"}}", NULL, INV,
		     "metadata.name", "a lowercase RFC 1123 label must consist of");
	expect_valid("v1", "Namespace", "{\"metadata\":{\"name\":\"myns\"}}", NULL);
	expect_cause("v1", "Service", "{\"metadata\":{\"name\":\"1abc\",\"namespace\":\"default\"},"
		     "\"spec\":{\"ports\":[{\"port\":80}]}}", NULL, INV, "metadata.name", "a DNS-1035 label");
	expect_valid("v1", "Node", "{\"metadata\":{\"name\":\"node-1.example.com\"}}", NULL);
	expect_cause("v1", "Node", "{\"metadata\":{\"name\":\"Node_1\"}}", NULL, INV, "metadata.name",
		     "RFC 1123 subdomain");
}
END_TEST

START_TEST(test_meta_namespace)
{
	expect_cause("v1", "Pod", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     NULL, REQ, "metadata.namespace", "Required value");
	expect_cause("v1", "Pod", "{\"metadata\":{\"name\":\"p\",\"namespace\":\"Bad\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     NULL, INV, "metadata.namespace", "RFC 1123 label");
	expect_cause("v1", "Namespace", "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"}}",
		     NULL, FORB, "metadata.namespace", "Forbidden: not allowed on this type");
}
END_TEST

START_TEST(test_meta_labels_annotations)
{
	expect_valid("v1", "Pod", POD_WITH(",\"labels\":{\"app\":\"web\",\"example.com/tier\":\"\"},"
		     "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\",\"A\":\"x y\"}",
		     "\"containers\":[" CONTAINER "]"), NULL);
	expect_cause("v1", "Pod", POD_WITH(",\"labels\":{\"bad key\":\"v\"}", "\"containers\":[" CONTAINER "]"),
		     NULL, INV, "metadata.labels", "Invalid value: \"bad key\": name part must consist of");
	expect_cause("v1", "Pod", POD_WITH(",\"labels\":{\"k\":\"bad value\"}", "\"containers\":[" CONTAINER "]"),
		     NULL, INV, "metadata.labels", "Invalid value: \"bad value\": a valid label must be");
	expect_cause("v1", "Pod", POD_WITH(",\"labels\":{\"k\":5}", "\"containers\":[" CONTAINER "]"),
		     NULL, INV, "metadata.labels", "must be a string");
	expect_cause("v1", "Pod", POD_WITH(",\"annotations\":{\"a/b/c\":\"v\"}", "\"containers\":[" CONTAINER "]"),
		     NULL, INV, "metadata.annotations", "a qualified name must consist of");
}
END_TEST

START_TEST(test_meta_annotations_size)
{
	size_t n = 256 * 1024;
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	/* key "a" + 256 KiB value is one byte over the limit */
	char *json = NULL;
	ck_assert_int_gt(asprintf(&json, POD_WITH(",\"annotations\":{\"a\":\"%s\"}", "\"containers\":[" CONTAINER "]"), big), 0);
	expect_cause("v1", "Pod", json, NULL, "FieldValueTooLong", "metadata.annotations",
		     "Too long: may not be more than 262144 bytes");
	free(json);
	big[n - 1] = '\0';
	ck_assert_int_gt(asprintf(&json, POD_WITH(",\"annotations\":{\"a\":\"%s\"}", "\"containers\":[" CONTAINER "]"), big), 0);
	expect_valid("v1", "Pod", json, NULL);
	free(json);
	free(big);
}
END_TEST

START_TEST(test_meta_immutable_on_update)
{
	const char *old = "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u1\","
			  "\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},\"spec\":{\"containers\":[" CONTAINER "]}}";
	expect_valid("v1", "Pod", old, old);
	/* omitted uid/creationTimestamp/namespace are filled by the server */
	expect_valid("v1", "Pod", GOOD_POD, old);
	expect_cause("v1", "Pod", "{\"metadata\":{\"name\":\"q\",\"namespace\":\"default\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     old, INV, "metadata.name", "Invalid value: \"q\": field is immutable");
	expect_cause("v1", "Pod", "{\"metadata\":{\"name\":\"p\",\"namespace\":\"other\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     old, INV, "metadata.namespace", "field is immutable");
	expect_cause("v1", "Pod", "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u2\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     old, INV, "metadata.uid", "field is immutable");
	expect_cause("v1", "Pod", "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"creationTimestamp\":\"2027-01-01T00:00:00Z\"},\"spec\":{\"containers\":[" CONTAINER "]}}",
		     old, INV, "metadata.creationTimestamp", "field is immutable");
}
END_TEST

/* ---- pods --------------------------------------------------------------------------- */

START_TEST(test_pod_containers)
{
	expect_cause("v1", "Pod", POD("\"containers\":[]"), NULL, REQ, "spec.containers", "Required value");
	expect_cause("v1", "Pod", POD(""), NULL, REQ, "spec.containers", "Required value");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\"}]"), NULL, REQ,
		     "spec.containers[0].image", "Required value");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"\"}]"), NULL, REQ,
		     "spec.containers[0].image", "Required value");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\" nginx\"}]"), NULL, INV,
		     "spec.containers[0].image", "must not have leading or trailing whitespace");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"image\":\"nginx\"}]"), NULL, REQ,
		     "spec.containers[0].name", "Required value");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"Web\",\"image\":\"nginx\"}]"), NULL, INV,
		     "spec.containers[0].name", "Invalid value: \"Web\": a lowercase RFC 1123 label");
	expect_cause("v1", "Pod", POD("\"containers\":[" CONTAINER "," CONTAINER "]"), NULL, DUP,
		     "spec.containers[1].name", "Duplicate value: \"c\"");
	expect_cause("v1", "Pod", POD("\"initContainers\":[" CONTAINER "],\"containers\":[" CONTAINER "]"), NULL, DUP,
		     "spec.initContainers[0].name", "Duplicate value: \"c\"");
	expect_cause("v1", "Pod", POD("\"initContainers\":[{\"name\":\"i\"}],\"containers\":[" CONTAINER "]"), NULL, REQ,
		     "spec.initContainers[0].image", "Required value");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"imagePullPolicy\":\"Sometimes\"}]"),
		     NULL, UNS, "spec.containers[0].imagePullPolicy",
		     "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
	expect_valid("v1", "Pod", POD("\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox\"}],"
		     "\"containers\":[" CONTAINER ",{\"name\":\"d\",\"image\":\"x:1\"}]"), NULL);
}
END_TEST

START_TEST(test_pod_ports)
{
	expect_valid("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":["
		     "{\"containerPort\":80,\"name\":\"http\"},{\"containerPort\":65535,\"protocol\":\"UDP\"},"
		     "{\"containerPort\":9,\"protocol\":\"SCTP\",\"hostPort\":9}]}]"), NULL);
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":70000}]}]"),
		     NULL, INV, "spec.containers[0].ports[0].containerPort",
		     "Invalid value: 70000: must be between 1 and 65535, inclusive");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":-1}]}]"),
		     NULL, INV, "spec.containers[0].ports[0].containerPort", "must be between 1 and 65535");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"name\":\"p\"}]}]"),
		     NULL, REQ, "spec.containers[0].ports[0].containerPort", "Required value");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":80,\"protocol\":\"HTTP\"}]}]"),
		     NULL, UNS, "spec.containers[0].ports[0].protocol",
		     "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":80,\"hostPort\":70000}]}]"),
		     NULL, INV, "spec.containers[0].ports[0].hostPort", "must be between 1 and 65535");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":80,\"name\":\"HTTP\"}]}]"),
		     NULL, INV, "spec.containers[0].ports[0].name", "must contain only alpha-numeric characters");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":80,\"name\":\"a\"},{\"containerPort\":81,\"name\":\"a\"}]}]"),
		     NULL, DUP, "spec.containers[0].ports[1].name", "Duplicate value: \"a\"");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":\"80\"}]}]"),
		     NULL, INV, "spec.containers[0].ports[0].containerPort", "must be an integer");
}
END_TEST

START_TEST(test_pod_policies)
{
	expect_valid("v1", "Pod", POD("\"restartPolicy\":\"OnFailure\",\"containers\":[" CONTAINER "]"), NULL);
	expect_valid("v1", "Pod", POD("\"restartPolicy\":\"Never\",\"dnsPolicy\":\"None\",\"containers\":[" CONTAINER "]"), NULL);
	expect_cause("v1", "Pod", POD("\"restartPolicy\":\"Sometimes\",\"containers\":[" CONTAINER "]"), NULL, UNS,
		     "spec.restartPolicy",
		     "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
	expect_cause("v1", "Pod", POD("\"dnsPolicy\":\"Nope\",\"containers\":[" CONTAINER "]"), NULL, UNS,
		     "spec.dnsPolicy", "Unsupported value: \"Nope\"");
	expect_cause("v1", "Pod", POD("\"activeDeadlineSeconds\":0,\"containers\":[" CONTAINER "]"), NULL, INV,
		     "spec.activeDeadlineSeconds", "must be between 1 and 2147483647, inclusive");
	expect_cause("v1", "Pod", POD("\"terminationGracePeriodSeconds\":-5,\"containers\":[" CONTAINER "]"), NULL, INV,
		     "spec.terminationGracePeriodSeconds", "must be greater than or equal to 0");
	expect_cause("v1", "Pod", POD("\"nodeSelector\":{\"k\":\"a b\"},\"containers\":[" CONTAINER "]"), NULL, INV,
		     "spec.nodeSelector", "a valid label must be");
	expect_cause("v1", "Pod", POD("\"nodeName\":\"Bad_Node\",\"containers\":[" CONTAINER "]"), NULL, INV,
		     "spec.nodeName", "RFC 1123 subdomain");
}
END_TEST

START_TEST(test_pod_volumes_env)
{
	expect_valid("v1", "Pod", POD("\"volumes\":[{\"name\":\"data\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\","
		     "\"env\":[{\"name\":\"MY_VAR.x-1\",\"value\":\"v\"}],"
		     "\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/data\"}]}]"), NULL);
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":\"/d\"}]}]"),
		     NULL, "FieldValueNotFound", "spec.containers[0].volumeMounts[0].name", "Not found: \"data\"");
	expect_cause("v1", "Pod", POD("\"volumes\":[{\"name\":\"data\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":[{\"name\":\"data\"}]}]"),
		     NULL, REQ, "spec.containers[0].volumeMounts[0].mountPath", "Required value");
	expect_cause("v1", "Pod", POD("\"volumes\":[{\"name\":\"v\"},{\"name\":\"v\"}],\"containers\":[" CONTAINER "]"),
		     NULL, DUP, "spec.volumes[1].name", "Duplicate value: \"v\"");
	expect_cause("v1", "Pod", POD("\"volumes\":[{\"emptyDir\":{}}],\"containers\":[" CONTAINER "]"),
		     NULL, REQ, "spec.volumes[0].name", "Required value");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":[{\"name\":\"1X\"}]}]"),
		     NULL, INV, "spec.containers[0].env[0].name", "a valid environment variable name");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"env\":[{\"value\":\"v\"}]}]"),
		     NULL, REQ, "spec.containers[0].env[0].name", "Required value");
}
END_TEST

#define OLD_POD                                                                               \
	"{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u\"},\"spec\":{"    \
	"\"activeDeadlineSeconds\":100,\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}]," \
	"\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}"

/* volume sources the agent serves, and sub-paths (kube's messages and field paths) */
#define VPOD(vol, mount) \
	POD("\"volumes\":[" vol "],\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"," \
	    "\"volumeMounts\":[" mount "]}]")
#define VM "{\"name\":\"v\",\"mountPath\":\"/m\"}"
START_TEST(test_pod_volume_sources)
{
	expect_valid("v1", "Pod", VPOD("{\"name\":\"v\",\"configMap\":{\"name\":\"c\",\"defaultMode\":420,"
				       "\"items\":[{\"key\":\"k\",\"path\":\"a/b\",\"mode\":256}]}}", VM), NULL);
	expect_valid("v1", "Pod", VPOD("{\"name\":\"v\",\"projected\":{\"sources\":[{\"downwardAPI\":{\"items\":"
				       "[{\"path\":\"l\",\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}}]}}]}}",
				       "{\"name\":\"v\",\"mountPath\":\"/m\",\"subPath\":\"x/y\"}"), NULL);
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"configMap\":{\"name\":\"c\",\"defaultMode\":4095}}", VM),
		     NULL, INV, "spec.volumes[0].configMap.defaultMode",
		     "Invalid value: 4095: must be a number between 0 and 0777 (octal), both inclusive");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"configMap\":{}}", VM), NULL, REQ,
		     "spec.volumes[0].configMap.name", "Required value");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"secret\":{\"items\":[{\"key\":\"k\",\"path\":\"../x\"}]}}", VM),
		     NULL, INV, "spec.volumes[0].secret.items[0].path", "must not contain '..'");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"secret\":{\"secretName\":\"s\",\"items\":[{\"path\":\"x\"}]}}", VM),
		     NULL, REQ, "spec.volumes[0].secret.items[0].key", "Required value");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"downwardAPI\":{\"items\":[{\"path\":\"n\",\"fieldRef\":"
				       "{\"fieldPath\":\"spec.nodeName\"}}]}}", VM),
		     NULL, UNS, "spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath",
		     "Unsupported value: \"spec.nodeName\": supported values: \"metadata.annotations\"");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"emptyDir\":{},\"hostPath\":{\"path\":\"/x\"}}", VM),
		     NULL, FORB, "spec.volumes[0].emptyDir", "may not specify more than 1 volume type");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"emptyDir\":{}}",
				       "{\"name\":\"v\",\"mountPath\":\"/m\",\"subPath\":\"/etc\"}"),
		     NULL, INV, "spec.containers[0].volumeMounts[0].subPath", "must be a relative path");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"emptyDir\":{}}",
				       "{\"name\":\"v\",\"mountPath\":\"/m\",\"subPath\":\"a/../../b\"}"),
		     NULL, INV, "spec.containers[0].volumeMounts[0].subPath", "must not contain '..'");
	expect_cause("v1", "Pod", VPOD("{\"name\":\"v\",\"emptyDir\":{}}",
				       "{\"name\":\"v\",\"mountPath\":\"/m\",\"subPath\":\"a\",\"subPathExpr\":\"b\"}"),
		     NULL, INV, "spec.containers[0].volumeMounts[0].subPathExpr", "mutually exclusive");
}
END_TEST

START_TEST(test_pod_update)
{
	/* image, activeDeadlineSeconds (down), tolerations (added), labels: allowed */
	expect_valid("v1", "Pod",
		     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"labels\":{\"x\":\"y\"}},\"spec\":{"
		     "\"activeDeadlineSeconds\":50,\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"},"
		     "{\"key\":\"b\",\"operator\":\"Exists\"}],\"containers\":[{\"name\":\"c\",\"image\":\"nginx:2\"}]}}",
		     OLD_POD);
	/* binding an unbound pod by an update: forbidden (pods/binding does it) */
	expect_cause("v1", "Pod",
		     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{\"nodeName\":\"node1\","
		     "\"activeDeadlineSeconds\":100,\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}],"
		     "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}",
		     OLD_POD, FORB, "spec", "pod updates may not change fields");
	expect_cause("v1", "Pod",
		     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{"
		     "\"activeDeadlineSeconds\":100,\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}],"
		     "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\",\"ports\":[{\"containerPort\":80}]}]}}",
		     OLD_POD, FORB, "spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`");
	expect_cause("v1", "Pod",
		     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{"
		     "\"activeDeadlineSeconds\":100,"
		     "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}",
		     OLD_POD, FORB, "spec", "pod updates may not change fields");
	expect_cause("v1", "Pod",
		     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{"
		     "\"activeDeadlineSeconds\":200,\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}],"
		     "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}",
		     OLD_POD, INV, "spec.activeDeadlineSeconds", "must be less than or equal to previous value");
	const char *bound = "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{\"nodeName\":\"n1\","
			    "\"containers\":[" CONTAINER "]}}";
	expect_cause("v1", "Pod",
		     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},\"spec\":{\"nodeName\":\"n2\","
		     "\"containers\":[" CONTAINER "]}}", bound, FORB, "spec", "pod updates may not change");
}
END_TEST


/* ---- init, sidecar and ephemeral containers ------------------------------------------------ */

#define APP "{\"name\":\"app\",\"image\":\"nginx\"}"
#define PROBE "{\"exec\":{\"command\":[\"true\"]}}"

START_TEST(test_pod_init_containers)
{
	/* regular init containers and a sidecar with probes */
	expect_valid("v1", "Pod", POD("\"initContainers\":[{\"name\":\"i1\",\"image\":\"x\"},"
				      "{\"name\":\"side\",\"image\":\"x\",\"restartPolicy\":\"Always\","
				      "\"startupProbe\":" PROBE ",\"readinessProbe\":" PROBE "}],"
				      "\"containers\":[" APP "]"), NULL);
	expect_cause("v1", "Pod", POD("\"initContainers\":[{\"name\":\"i1\",\"image\":\"x\",\"restartPolicy\":\"OnFailure\"}],"
				      "\"containers\":[" APP "]"),
		     NULL, UNS, "spec.initContainers[0].restartPolicy",
		     "Unsupported value: \"OnFailure\": supported values: \"Always\"");
	expect_cause("v1", "Pod", POD("\"initContainers\":[{\"name\":\"i1\",\"image\":\"x\"},{\"name\":\"i2\",\"image\":\"x\","
				      "\"readinessProbe\":" PROBE "}],\"containers\":[" APP "]"),
		     NULL, FORB, "spec.initContainers[1].readinessProbe",
		     "Forbidden: may not be set for init containers without restartPolicy=Always");
	expect_cause("v1", "Pod", POD("\"initContainers\":[{\"name\":\"i1\",\"image\":\"x\",\"lifecycle\":{\"postStart\":"
				      "{\"exec\":{\"command\":[\"true\"]}}}}],\"containers\":[" APP "]"),
		     NULL, FORB, "spec.initContainers[0].lifecycle", "may not be set for init containers");
	expect_cause("v1", "Pod", POD("\"containers\":[{\"name\":\"app\",\"image\":\"x\",\"restartPolicy\":\"Always\"}]"),
		     NULL, FORB, "spec.containers[0].restartPolicy", "may not be set for non-init containers");
	/* names are unique over init and app containers */
	expect_cause("v1", "Pod", POD("\"initContainers\":[{\"name\":\"app\",\"image\":\"x\"}],\"containers\":[" APP "]"),
		     NULL, DUP, "spec.initContainers[0].name", "Duplicate value: \"app\"");
}
END_TEST

#define OLD_APP_POD "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u\"},\"spec\":{" \
	"\"initContainers\":[{\"name\":\"init\",\"image\":\"x\"}],\"containers\":[" APP "]%s}}"
#define DEBUGGER(name, extra) "{\"name\":\"" name "\",\"image\":\"busybox\"" extra "}"

static char *pod_eph(const char *eph)
{
	char *buf = malloc(4096);
	char extra[2048] = "";
	if (eph)
		snprintf(extra, sizeof(extra), ",\"ephemeralContainers\":[%s]", eph);
	snprintf(buf, 4096, OLD_APP_POD, extra);
	return buf;
}

START_TEST(test_pod_ephemeral_containers)
{
	char *old = pod_eph(NULL);
	char *one = pod_eph(DEBUGGER("dbg", ",\"targetContainerName\":\"app\",\"command\":[\"sh\"]"));
	char *two = pod_eph(DEBUGGER("dbg", ",\"targetContainerName\":\"app\",\"command\":[\"sh\"]") ","
			    DEBUGGER("dbg2", ""));
	char *changed = pod_eph(DEBUGGER("dbg", ",\"targetContainerName\":\"app\",\"command\":[\"ls\"]"));
	char *removed = pod_eph(DEBUGGER("dbg2", ""));
	char *bad_target = pod_eph(DEBUGGER("dbg", ",\"targetContainerName\":\"nope\""));
	char *self_target = pod_eph(DEBUGGER("dbg", ",\"targetContainerName\":\"dbg\""));
	char *ports = pod_eph(DEBUGGER("dbg", ",\"ports\":[{\"containerPort\":80}]"));
	char *probe = pod_eph(DEBUGGER("dbg", ",\"livenessProbe\":" PROBE));
	char *res = pod_eph(DEBUGGER("dbg", ",\"resources\":{\"limits\":{\"cpu\":\"1\"}}"));
	char *dup = pod_eph(DEBUGGER("app", ""));
	char *noimg = pod_eph("{\"name\":\"dbg\"}");

	/* additions are allowed, on top of earlier ones too */
	expect_valid("v1", "Pod", one, old);
	expect_valid("v1", "Pod", two, one);
	/* an init container is a valid target as well */
	char *init_target = pod_eph(DEBUGGER("dbg", ",\"targetContainerName\":\"init\""));
	expect_valid("v1", "Pod", init_target, old);
	/* never on create */
	expect_cause("v1", "Pod", one, NULL, FORB, "spec.ephemeralContainers", "cannot be set on create");
	/* existing ones are neither changed nor removed */
	expect_cause("v1", "Pod", changed, one, FORB, "spec.ephemeralContainers[0]",
		     "existing ephemeral containers \"dbg\" may not be changed");
	expect_cause("v1", "Pod", removed, one, FORB, "spec.ephemeralContainers",
		     "existing ephemeral containers \"dbg\" may not be removed");
	expect_cause("v1", "Pod", bad_target, old, "FieldValueNotFound",
		     "spec.ephemeralContainers[0].targetContainerName", "Not found: \"nope\"");
	expect_cause("v1", "Pod", self_target, old, "FieldValueNotFound",
		     "spec.ephemeralContainers[0].targetContainerName", "Not found: \"dbg\"");
	expect_cause("v1", "Pod", ports, old, FORB, "spec.ephemeralContainers[0].ports",
		     "cannot be set for an Ephemeral Container");
	expect_cause("v1", "Pod", probe, old, FORB, "spec.ephemeralContainers[0].livenessProbe",
		     "cannot be set for an Ephemeral Container");
	expect_cause("v1", "Pod", res, old, FORB, "spec.ephemeralContainers[0].resources",
		     "cannot be set for an Ephemeral Container");
	expect_cause("v1", "Pod", dup, old, DUP, "spec.ephemeralContainers[0].name", "Duplicate value: \"app\"");
	expect_cause("v1", "Pod", noimg, old, REQ, "spec.ephemeralContainers[0].image", "Required value");
	/* never in a pod template */
	expect_cause("apps/v1", "Deployment",
		     "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"selector\":"
		     "{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		     "\"spec\":{\"containers\":[" APP "],\"ephemeralContainers\":[" DEBUGGER("dbg", "") "]}}}}",
		     NULL, FORB, "spec.template.spec.ephemeralContainers",
		     "ephemeral containers not allowed in pod template");
	free(old), free(one), free(two), free(changed), free(removed), free(bad_target);
	free(self_target), free(ports), free(probe), free(res), free(dup), free(noimg), free(init_target);
}
END_TEST

/* ---- services ------------------------------------------------------------------------------ */

#define SVC(spec) "{\"kind\":\"Service\",\"apiVersion\":\"v1\"," NS_META("web") "},\"spec\":{" spec "}}"

START_TEST(test_service_valid)
{
	expect_valid("v1", "Service", SVC("\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]"), NULL);
	expect_valid("v1", "Service", SVC("\"type\":\"NodePort\",\"ports\":[{\"name\":\"http\",\"port\":80,"
		     "\"nodePort\":30080},{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\",\"targetPort\":\"dns-udp\"}]"), NULL);
	expect_valid("v1", "Service", SVC("\"clusterIP\":\"None\",\"selector\":{\"app\":\"web\"}"), NULL);
	expect_valid("v1", "Service", SVC("\"type\":\"ExternalName\",\"externalName\":\"example.com\""), NULL);
	expect_valid("v1", "Service", SVC("\"clusterIP\":\"10.96.0.10\",\"ports\":[{\"port\":53,\"protocol\":\"UDP\",\"name\":\"udp\"},"
		     "{\"port\":53,\"protocol\":\"TCP\",\"name\":\"tcp\"}]") , NULL);
}
END_TEST

START_TEST(test_service_invalid)
{
	expect_cause("v1", "Service", SVC("\"selector\":{\"app\":\"web\"}"), NULL, REQ, "spec.ports", "Required value");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"port\":0}]"), NULL, INV, "spec.ports[0].port",
		     "Invalid value: 0: must be between 1 and 65535, inclusive");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"port\":65536}]"), NULL, INV, "spec.ports[0].port",
		     "must be between 1 and 65535");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"port\":80},{\"name\":\"b\",\"port\":81}]"), NULL, REQ,
		     "spec.ports[0].name", "Required value");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"a\",\"port\":81}]"), NULL, DUP,
		     "spec.ports[1].name", "Duplicate value: \"a\"");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":80}]"), NULL, DUP,
		     "spec.ports[1]", "Duplicate value");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"name\":\"Http\",\"port\":80}]"), NULL, INV,
		     "spec.ports[0].name", "RFC 1123 label");
	expect_cause("v1", "Service", SVC("\"type\":\"Magic\",\"ports\":[{\"port\":80}]"), NULL, UNS, "spec.type",
		     "Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"port\":80,\"protocol\":\"ICMP\"}]"), NULL, UNS,
		     "spec.ports[0].protocol", "supported values: \"SCTP\", \"TCP\", \"UDP\"");
	expect_cause("v1", "Service", SVC("\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":80}]"), NULL, INV,
		     "spec.ports[0].nodePort", "The range of valid ports is 30000-32767");
	expect_cause("v1", "Service", SVC("\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":32768}]"), NULL, INV,
		     "spec.ports[0].nodePort", "The range of valid ports is 30000-32767");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"port\":80,\"nodePort\":30080}]"), NULL, FORB,
		     "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"port\":80,\"targetPort\":70000}]"), NULL, INV,
		     "spec.ports[0].targetPort", "must be between 1 and 65535");
	expect_cause("v1", "Service", SVC("\"ports\":[{\"port\":80,\"targetPort\":\"not--valid\"}]"), NULL, INV,
		     "spec.ports[0].targetPort", "must not contain consecutive hyphens");
	expect_cause("v1", "Service", SVC("\"selector\":{\"app\":\"a b\"},\"ports\":[{\"port\":80}]"), NULL, INV,
		     "spec.selector", "a valid label must be");
	expect_cause("v1", "Service", SVC("\"sessionAffinity\":\"Sticky\",\"ports\":[{\"port\":80}]"), NULL, UNS,
		     "spec.sessionAffinity", "supported values: \"ClientIP\", \"None\"");
	expect_cause("v1", "Service", SVC("\"clusterIP\":\"10.96.0.300\",\"ports\":[{\"port\":80}]"), NULL, INV,
		     "spec.clusterIP", "must be a valid IP address");
	expect_cause("v1", "Service", SVC("\"type\":\"ExternalName\""), NULL, REQ, "spec.externalName", "Required value");
	expect_cause("v1", "Service", SVC("\"type\":\"ExternalName\",\"externalName\":\"Bad_Name\""), NULL, INV,
		     "spec.externalName", "RFC 1123 subdomain");
}
END_TEST

START_TEST(test_service_update)
{
	const char *old = SVC("\"clusterIP\":\"10.96.0.5\",\"ports\":[{\"port\":80}]");
	expect_valid("v1", "Service", SVC("\"clusterIP\":\"10.96.0.5\",\"ports\":[{\"port\":81}]"), old);
	/* omitted: the server fills the allocated IP back in */
	expect_valid("v1", "Service", SVC("\"ports\":[{\"port\":80}]"), old);
	expect_cause("v1", "Service", SVC("\"clusterIP\":\"10.96.0.6\",\"clusterIPs\":[\"10.96.0.6\"],\"ports\":[{\"port\":80}]"), old, INV,
		     "spec.clusterIP", "Invalid value: \"10.96.0.6\": field is immutable");
}
END_TEST

/* ---- deployments and replicasets ------------------------------------------------------------ */

#define DEPLOY(spec) "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\"," NS_META("web") "},\"spec\":{" spec "}}"
#define SEL_WEB "\"selector\":{\"matchLabels\":{\"app\":\"web\"}}"
#define TMPL(labels, spec) "\"template\":{\"metadata\":{\"labels\":" labels "},\"spec\":{" spec "}}"
#define TMPL_WEB TMPL("{\"app\":\"web\"}", "\"containers\":[" CONTAINER "]")

START_TEST(test_deployment_valid)
{
	expect_valid("apps/v1", "Deployment", DEPLOY("\"replicas\":3," SEL_WEB "," TMPL_WEB), NULL);
	expect_valid("apps/v1", "Deployment", DEPLOY("\"replicas\":0,\"selector\":{\"matchExpressions\":[{\"key\":\"app\","
		     "\"operator\":\"In\",\"values\":[\"web\",\"api\"]},{\"key\":\"canary\",\"operator\":\"DoesNotExist\"}]},"
		     TMPL("{\"app\":\"web\",\"tier\":\"x\"}", "\"containers\":[" CONTAINER "]")), NULL);
	expect_valid("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"strategy\":{\"type\":\"Recreate\"}"), NULL);
	expect_valid("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"strategy\":{\"type\":\"RollingUpdate\","
		     "\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":\"100%\"}}"), NULL);
}
END_TEST

START_TEST(test_deployment_selector)
{
	expect_cause("apps/v1", "Deployment", DEPLOY(TMPL_WEB), NULL, REQ, "spec.selector", "Required value");
	expect_cause("apps/v1", "Deployment", DEPLOY("\"selector\":{}," TMPL_WEB), NULL, INV, "spec.selector",
		     "empty selector is invalid for deployment");
	expect_cause("apps/v1", "Deployment", DEPLOY("\"selector\":{\"matchLabels\":{\"app\":\"other\"}}," TMPL_WEB), NULL, INV,
		     "spec.template.metadata.labels", "`selector` does not match template `labels`");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL("{}", "\"containers\":[" CONTAINER "]")), NULL, INV,
		     "spec.template.metadata.labels", "`selector` does not match template `labels`");
	expect_cause("apps/v1", "Deployment", DEPLOY("\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"NotIn\","
		     "\"values\":[\"web\"]}]}," TMPL_WEB), NULL, INV, "spec.template.metadata.labels", "does not match");
	expect_cause("apps/v1", "Deployment", DEPLOY("\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Like\"}]},"
		     TMPL_WEB), NULL, INV, "spec.selector.matchExpressions[0].operator", "not a valid selector operator");
	expect_cause("apps/v1", "Deployment", DEPLOY("\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\"}]},"
		     TMPL_WEB), NULL, REQ, "spec.selector.matchExpressions[0].values", "Required value");
	expect_cause("apps/v1", "Deployment", DEPLOY("\"selector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\","
		     "\"values\":[\"x\"]}]}," TMPL_WEB), NULL, FORB, "spec.selector.matchExpressions[0].values", "may not be specified");
	expect_cause("apps/v1", "Deployment", DEPLOY("\"selector\":{\"matchLabels\":{\"bad key\":\"web\"}}," TMPL_WEB), NULL, INV,
		     "spec.selector.matchLabels", "name part must consist");
}
END_TEST

START_TEST(test_deployment_fields)
{
	expect_cause("apps/v1", "Deployment", DEPLOY("\"replicas\":-1," SEL_WEB "," TMPL_WEB), NULL, INV, "spec.replicas",
		     "Invalid value: -1: must be greater than or equal to 0");
	/* a missing template is an empty one (as in Go, it is not a pointer) */
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB), NULL, INV, "spec.template.metadata.labels",
		     "Invalid value: {}: `selector` does not match template `labels`");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB), NULL, REQ, "spec.template.spec.containers",
		     "Required value");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL("{\"app\":\"web\"}", "\"containers\":[{\"name\":\"web\"}]")),
		     NULL, REQ, "spec.template.spec.containers[0].image", "Required value");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL("{\"app\":\"web\"}", "\"containers\":[]")),
		     NULL, REQ, "spec.template.spec.containers", "Required value");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL("{\"app\":\"web\"}", "\"restartPolicy\":\"Never\",\"containers\":[" CONTAINER "]")),
		     NULL, UNS, "spec.template.spec.restartPolicy", "Unsupported value: \"Never\": supported values: \"Always\"");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL("{\"app\":\"web\"}", "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":0}]}]")),
		     NULL, REQ, "spec.template.spec.containers[0].ports[0].containerPort", "Required value");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"strategy\":{\"type\":\"Blue\"}"), NULL, UNS,
		     "spec.strategy.type", "supported values: \"Recreate\", \"RollingUpdate\"");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"strategy\":{\"type\":\"Recreate\",\"rollingUpdate\":{}}"), NULL, FORB,
		     "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"strategy\":{\"type\":\"RollingUpdate\","
		     "\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":\"0%\"}}"), NULL, INV,
		     "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"strategy\":{\"type\":\"RollingUpdate\","
		     "\"rollingUpdate\":{\"maxUnavailable\":\"150%\"}}"), NULL, INV,
		     "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"strategy\":{\"type\":\"RollingUpdate\","
		     "\"rollingUpdate\":{\"maxSurge\":\"x%\"}}"), NULL, INV,
		     "spec.strategy.rollingUpdate.maxSurge", "a valid percent string");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"revisionHistoryLimit\":-1"), NULL, INV,
		     "spec.revisionHistoryLimit", "must be greater than or equal to 0");
	expect_cause("apps/v1", "Deployment", DEPLOY(SEL_WEB "," TMPL_WEB ",\"minReadySeconds\":10,\"progressDeadlineSeconds\":5"), NULL, INV,
		     "spec.progressDeadlineSeconds", "must be greater than minReadySeconds");
}
END_TEST

START_TEST(test_deployment_update)
{
	const char *old = DEPLOY("\"replicas\":1," SEL_WEB "," TMPL_WEB);
	expect_valid("apps/v1", "Deployment", DEPLOY("\"replicas\":5," SEL_WEB "," TMPL_WEB), old);
	expect_cause("apps/v1", "Deployment",
		     DEPLOY("\"selector\":{\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}},"
			    TMPL("{\"app\":\"web\",\"v\":\"2\"}", "\"containers\":[" CONTAINER "]")),
		     old, INV, "spec.selector", "field is immutable");
}
END_TEST

#define RS(spec) "{\"kind\":\"ReplicaSet\",\"apiVersion\":\"apps/v1\"," NS_META("web-abc") "},\"spec\":{" spec "}}"

START_TEST(test_replicaset)
{
	expect_valid("apps/v1", "ReplicaSet", RS("\"replicas\":2," SEL_WEB "," TMPL_WEB), NULL);
	expect_cause("apps/v1", "ReplicaSet", RS(TMPL_WEB), NULL, REQ, "spec.selector", "Required value");
	expect_cause("apps/v1", "ReplicaSet", RS("\"replicas\":-2," SEL_WEB "," TMPL_WEB), NULL, INV, "spec.replicas",
		     "must be greater than or equal to 0");
	expect_cause("apps/v1", "ReplicaSet", RS("\"selector\":{\"matchLabels\":{\"app\":\"x\"}}," TMPL_WEB), NULL, INV,
		     "spec.template.metadata.labels", "`selector` does not match template `labels`");
	expect_cause("apps/v1", "ReplicaSet", RS(SEL_WEB "," TMPL("{\"app\":\"web\"}", "\"containers\":[{\"image\":\"x\"}]")),
		     NULL, REQ, "spec.template.spec.containers[0].name", "Required value");
	expect_cause("apps/v1", "ReplicaSet", RS("\"selector\":{\"matchLabels\":{\"app\":\"web\",\"h\":\"1\"}},"
		     TMPL("{\"app\":\"web\",\"h\":\"1\"}", "\"containers\":[" CONTAINER "]")),
		     RS(SEL_WEB "," TMPL_WEB), INV, "spec.selector", "field is immutable");
}
END_TEST

/* ---- namespaces, nodes, endpoints, events ----------------------------------------------------- */

START_TEST(test_other_kinds)
{
	expect_cause("v1", "Namespace", "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"finalizers\":[\"bad finalizer\"]}}",
		     NULL, INV, "spec.finalizers[0]", "name part must consist");
	expect_valid("v1", "Node", "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\"}}", NULL);
	expect_cause("v1", "Node", "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.244.1.0\"}}", NULL, INV,
		     "spec.podCIDR", "must be a valid CIDR value");
	expect_cause("v1", "Node", "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.244.2.0/24\"}}",
		     "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\"}}", FORB,
		     "spec.podCIDRs", "node updates may not change podCIDR");
	expect_valid("v1", "Node", "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\"}}",
		     "{\"metadata\":{\"name\":\"n1\"},\"spec\":{}}");

	expect_valid("v1", "Endpoints", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":[{"
		     "\"addresses\":[{\"ip\":\"10.244.0.5\"}],\"notReadyAddresses\":[{\"ip\":\"fd00::1\"}],\"ports\":[{\"port\":80}]}]}", NULL);
	expect_valid("v1", "Endpoints", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"}}", NULL);
	expect_cause("v1", "Endpoints", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":[{"
		     "\"addresses\":[{\"ip\":\"10.244.0.500\"}],\"ports\":[{\"port\":80}]}]}", NULL, INV,
		     "subsets[0].addresses[0].ip", "must be a valid IP address");
	expect_cause("v1", "Endpoints", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":[{"
		     "\"addresses\":[{}],\"ports\":[{\"port\":80}]}]}", NULL, REQ, "subsets[0].addresses[0].ip", "Required value");
	expect_cause("v1", "Endpoints", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":[{"
		     "\"addresses\":[{\"ip\":\"10.0.0.1\"}],\"ports\":[{\"port\":80},{\"name\":\"b\",\"port\":0}]}]}", NULL, REQ,
		     "subsets[0].ports[0].name", "Required value");
	expect_cause("v1", "Endpoints", "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":[{"
		     "\"addresses\":[{\"ip\":\"10.0.0.1\"}],\"ports\":[{\"name\":\"b\",\"port\":0}]}]}", NULL, INV,
		     "subsets[0].ports[0].port", "must be between 1 and 65535");

	expect_valid("v1", "Event", "{\"metadata\":{\"name\":\"web.17a\",\"namespace\":\"default\"},\"type\":\"Normal\","
		     "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\",\"namespace\":\"default\"}}", NULL);
	expect_cause("v1", "Event", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"}}", NULL, REQ,
		     "involvedObject", "Required value");
	expect_cause("v1", "Event", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"},"
		     "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\",\"namespace\":\"other\"}}", NULL, INV,
		     "involvedObject.namespace", "does not match event.namespace");
	expect_cause("v1", "Event", "{\"metadata\":{\"name\":\"e\",\"namespace\":\"default\"},\"type\":\"Bad\","
		     "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web\"}}", NULL, UNS, "type", "supported values: \"Normal\", \"Warning\"");
}
END_TEST

START_TEST(test_not_an_object)
{
	const struct mk_api_resource *r = mk_api_resource_by_kind("v1", "Pod");
	cJSON *arr = cJSON_CreateArray();
	cJSON *causes = NULL;
	ck_assert_int_eq(mk_api_validate(r, arr, NULL, &causes), -1);
	ck_assert_int_ge(cJSON_GetArraySize(causes), 1);
	cJSON_Delete(causes);
	cJSON_Delete(arr);
	/* missing metadata */
	cJSON *o = cJSON_Parse("{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	causes = NULL;
	ck_assert_int_eq(mk_api_validate(r, o, NULL, &causes), -1);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(causes, 0), "field"), "metadata");
	cJSON_Delete(causes);
	cJSON_Delete(o);
}
END_TEST

Suite *validate_suite(void)
{
	Suite *s = suite_create("api-validate");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, test_dns1123_label);
	tcase_add_test(tc, test_dns1123_subdomain);
	tcase_add_test(tc, test_label_key_value);
	suite_add_tcase(s, tc);

	tc = tcase_create("metadata");
	tcase_add_test(tc, test_meta_name);
	tcase_add_test(tc, test_meta_namespace);
	tcase_add_test(tc, test_meta_labels_annotations);
	tcase_add_test(tc, test_meta_annotations_size);
	tcase_add_test(tc, test_meta_immutable_on_update);
	tcase_add_test(tc, test_not_an_object);
	suite_add_tcase(s, tc);

	tc = tcase_create("pods");
	tcase_add_test(tc, test_pod_containers);
	tcase_add_test(tc, test_pod_ports);
	tcase_add_test(tc, test_pod_policies);
	tcase_add_test(tc, test_pod_volumes_env);
	tcase_add_test(tc, test_pod_volume_sources);
	tcase_add_test(tc, test_pod_update);
	tcase_add_test(tc, test_pod_init_containers);
	tcase_add_test(tc, test_pod_ephemeral_containers);
	suite_add_tcase(s, tc);

	tc = tcase_create("services");
	tcase_add_test(tc, test_service_valid);
	tcase_add_test(tc, test_service_invalid);
	tcase_add_test(tc, test_service_update);
	suite_add_tcase(s, tc);

	tc = tcase_create("workloads");
	tcase_add_test(tc, test_deployment_valid);
	tcase_add_test(tc, test_deployment_selector);
	tcase_add_test(tc, test_deployment_fields);
	tcase_add_test(tc, test_deployment_update);
	tcase_add_test(tc, test_replicaset);
	suite_add_tcase(s, tc);

	tc = tcase_create("others");
	tcase_add_test(tc, test_other_kinds);
	suite_add_tcase(s, tc);
	return s;
}
