/* libFuzzer target for the API server's request body path without HTTP (make fuzz).
 * The first input byte picks the resource (its kind, as the URL would) and the
 * operation; the rest is the body:
 *   create:  JSON (duplicate names resolved as Go does) or protobuf decode, apiVersion/kind, defaulting, validation;
 *   update:  the same, validated against a stored object of the kind (immutable
 *            fields);
 *   patch:   merge, JSON (RFC 6902) or strategic merge patch of the stored object,
 *            then defaulting and validation of the result.
 * Invariants: nothing crashes or leaks; a rejection carries causes that are objects
 * with string reason/message/field and turn into a printable Status; an accepted
 * object prints and parses back to the same tree; a failed patch leaves an error
 * with a message (a failed JSON patch: the stored object unchanged). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A valid stored object per resource (as the server keeps them after create). */
static const char *stored_json(const struct mk_api_resource *r)
{
	if (!strcmp(r->name, "pods"))
		return "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\","
		       "\"namespace\":\"default\",\"uid\":\"6b1f3f0e-2b7a-4c55-9a43-7d0d1c7c0a11\","
		       "\"resourceVersion\":\"7\",\"labels\":{\"app\":\"web\"}},\"spec\":{"
		       "\"containers\":[{\"name\":\"c\",\"image\":\"busybox:1.36\",\"ports\":[{"
		       "\"containerPort\":80}],\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}],"
		       "\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\",\"conditions\":[{"
		       "\"type\":\"Ready\",\"status\":\"True\"}]}}";
	if (!strcmp(r->name, "services"))
		return "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\","
		       "\"namespace\":\"default\",\"resourceVersion\":\"8\"},\"spec\":{\"selector\":{"
		       "\"app\":\"web\"},\"clusterIP\":\"10.96.0.20\",\"clusterIPs\":[\"10.96.0.20\"],"
		       "\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}";
	if (!strcmp(r->name, "deployments") || !strcmp(r->name, "replicasets"))
		return "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
		       "\"resourceVersion\":\"9\",\"generation\":1},\"spec\":{\"replicas\":2,"
		       "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{"
		       "\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
		       "\"image\":\"busybox:1.36\"}]}}}}";
	if (!strcmp(r->name, "nodes"))
		return "{\"metadata\":{\"name\":\"n1\",\"labels\":{\"kubernetes.io/hostname\":\"n1\"}},"
		       "\"spec\":{\"podCIDR\":\"10.244.1.0/24\"},\"status\":{\"conditions\":[{"
		       "\"type\":\"Ready\",\"status\":\"True\"}]}}";
	if (!strcmp(r->name, "endpoints"))
		return "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":[{"
		       "\"addresses\":[{\"ip\":\"10.244.0.5\"}],\"ports\":[{\"port\":8080}]}]}";
	if (!strcmp(r->name, "namespaces"))
		return "{\"metadata\":{\"name\":\"demo\"},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
		       "\"status\":{\"phase\":\"Active\"}}";
	return "{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"}}";
}

static void set_type(const struct mk_api_resource *r, cJSON *obj)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "kind");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "apiVersion");
	cJSON_AddStringToObject(obj, "kind", r->kind);
	cJSON_AddStringToObject(obj, "apiVersion", r->group_version);
}

static void check_causes(const struct mk_api_resource *r, cJSON *causes)
{
	const cJSON *c;
	char *s;

	if (!cJSON_IsArray(causes) || cJSON_GetArraySize(causes) == 0)
		abort();
	cJSON_ArrayForEach(c, causes) {
		const cJSON *re = cJSON_GetObjectItemCaseSensitive(c, "reason");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "message");
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "field");
		if (!cJSON_IsString(re) || !cJSON_IsString(m) || !cJSON_IsString(f) || !*re->valuestring)
			abort();
	}
	cJSON *st = mk_api_status_new(422, "Invalid", "invalid", r->kind, "x", causes);
	s = cJSON_PrintUnformatted(st);
	if (!s)
		abort();
	cJSON_free(s);
	cJSON_Delete(st);
}

/* defaulting + validation; an accepted object must print and parse back equal */
static void admit(const struct mk_api_resource *r, cJSON *obj, const cJSON *old)
{
	cJSON *causes = NULL;

	mk_api_default(r, obj);
	if (mk_api_validate(r, obj, old, &causes) < 0) {
		check_causes(r, causes);
		return;
	}
	if (causes)
		abort();
	char *s = cJSON_PrintUnformatted(obj);
	if (!s)
		abort();
	cJSON *back = cJSON_Parse(s);
	cJSON_free(s);
	if (!back || !cJSON_Compare(back, obj, true))
		abort();
	cJSON_Delete(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	struct mk_error *err = NULL;
	cJSON *body = NULL;

	if (size < 1)
		return 0;
	const struct mk_api_resource *r = &rs[(data[0] & 0x0f) % n];
	int op = (data[0] >> 4) % 6;
	data++, size--;

	if (op == 1) { /* create with a protobuf body */
		if (mk_api_protobuf_decode(data, size, &body, &err) < 0) {
			if (!err || !err->msg)
				abort();
			mk_error_free(&err);
			return 0;
		}
	} else {
		body = cJSON_ParseWithLength((const char *)data, size);
		mk_api_json_dedupe(body); /* as the server's decode does */
	}
	if (!body)
		return 0;
	if (op <= 2) {
		if (cJSON_IsObject(body)) {
			cJSON *old = op == 2 ? cJSON_Parse(stored_json(r)) : NULL;
			if (old)
				set_type(r, old);
			set_type(r, body);
			admit(r, body, old);
			cJSON_Delete(old);
		}
		cJSON_Delete(body);
		return 0;
	}

	cJSON *old = cJSON_Parse(stored_json(r));
	cJSON *doc;
	int rc;
	if (!old)
		abort();
	set_type(r, old);
	doc = cJSON_Duplicate(old, true);
	if (op == 3)
		rc = mk_api_patch_merge(&doc, body, &err);
	else if (op == 4)
		rc = mk_api_patch_json(&doc, body, &err);
	else
		rc = mk_api_patch_strategic(r, &doc, body, &err);
	if (rc < 0) {
		/* JSON patch is all-or-nothing (mk_api_patch_json) */
		if (!err || !err->msg || !doc || (op == 4 && !cJSON_Compare(doc, old, true)))
			abort();
		mk_error_free(&err);
	} else if (doc && cJSON_IsObject(doc)) {
		set_type(r, doc);
		admit(r, doc, old);
	}
	cJSON_Delete(doc);
	cJSON_Delete(old);
	cJSON_Delete(body);
	return 0;
}
