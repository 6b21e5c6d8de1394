/* pods/binding: POST a Binding to bind a pod to a node, as kube-apiserver's
 * BindingREST (pkg/registry/core/pod/storage): one guaranteed update of the pod
 * that sets spec.nodeName, the Binding's annotations and PodScheduled=True in a
 * single durable write. That is one write where a PATCH of spec.nodeName and a
 * PATCH of the PodScheduled condition are two, and it refuses (409) a pod that
 * is bound already or being deleted, so a pod is never bound twice.
 *
 * Differences from kube-apiserver: an invalid target is a 422 Invalid Binding
 * with its field path (kube's aggregate error comes out as a 500). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "internal.h"

#define BINDING_RETRIES 8

/* 422 Invalid Binding: target.name required, target.kind Node if given */
static int binding_validate(struct mk_reply *rep, const char *name, const cJSON *b)
{
	const char *tk = mk_json_get_string(b, "target.kind");
	const char *tn = mk_json_get_string(b, "target.name");
	_cleanup_cjson_ cJSON *causes = cJSON_CreateArray();

	if (tk && *tk && strcmp(tk, "Node"))
		mk_api_cause_add(causes, "FieldValueNotSupported", "target.kind",
				 "Unsupported value: \"%s\": supported values: \"Node\"", tk);
	if (!tn || !*tn)
		mk_api_cause_add(causes, "FieldValueRequired", "target.name", "Required value");
	if (cJSON_GetArraySize(causes) == 0)
		return 0;
	const cJSON *c0 = cJSON_GetArrayItem(causes, 0);
	_cleanup_free_ char *msg = mk_strdup_printf("Binding \"%s\" is invalid: %s: %s", name,
						    mk_json_get_string(c0, "field"),
						    mk_json_get_string(c0, "message"));
	_cleanup_cjson_ cJSON *st =
		mk_api_status_new(422, "Invalid", msg, "Binding", name, TAKE_PTR(causes));
	mk_reply_json(rep, 422, st);
	return -1;
}

/* Sets PodScheduled=True on pod (kube's UpdatePodCondition: the transition time
 * moves only when the status changes). */
static void scheduled_true(cJSON *pod)
{
	cJSON *conds = mk_json_get(pod, "status.conditions");
	cJSON *c = NULL;
	char ts[32];

	if (!cJSON_IsArray(conds)) {
		conds = cJSON_CreateArray();
		mk_json_set(mk_json_ensure_object(pod, "status"), "conditions", conds);
	}
	cJSON_ArrayForEach(c, conds)
	{
		const char *t = mk_json_get_string(c, "type");
		if (t && !strcmp(t, "PodScheduled"))
			break;
	}
	const char *was = mk_json_get_string(c, "status");
	if (c && was && !strcmp(was, "True"))
		return;
	mk_time_format(time(NULL), ts, sizeof(ts));
	cJSON *nc = cJSON_CreateObject();
	cJSON_AddStringToObject(nc, "type", "PodScheduled");
	cJSON_AddStringToObject(nc, "status", "True");
	cJSON_AddNullToObject(nc, "lastProbeTime");
	cJSON_AddStringToObject(nc, "lastTransitionTime", ts);
	if (c)
		cJSON_ReplaceItemViaPointer(conds, c, nc);
	else
		cJSON_AddItemToArray(conds, nc);
}

/* The pod with the binding applied; 0, or -1 with a 409 in rep (kube's assignPod:
 * its errors are Conflicts on pods/binding). */
static int binding_apply(struct mk_reply *rep, const char *name, cJSON *pod, const cJSON *b)
{
	const char *why = NULL;
	_cleanup_free_ char *buf = NULL;
	const char *node = mk_json_get_string(pod, "spec.nodeName");

	if (mk_json_get(pod, "metadata.deletionTimestamp"))
		why = buf = mk_strdup_printf("pod %s is being deleted, cannot be assigned to a host", name);
	else if (node && *node)
		why = buf = mk_strdup_printf("pod %s is already assigned to node \"%s\"", name, node);
	else if (cJSON_GetArraySize(mk_json_get(pod, "spec.schedulingGates")) > 0)
		why = buf = mk_strdup_printf("pod %s has non-empty .spec.schedulingGates", name);
	if (why) {
		mk_reply_status(rep, 409, "pods/binding", name,
				"Operation cannot be fulfilled on pods/binding \"%s\": %s", name, why);
		return -1;
	}
	mk_json_set_string(mk_json_ensure_object(pod, "spec"), "nodeName",
			   mk_json_get_string(b, "target.name"));
	const cJSON *a;
	cJSON_ArrayForEach(a, mk_json_get(b, "metadata.annotations"))
	{
		if (!cJSON_IsString(a))
			continue;
		cJSON *ann = mk_json_ensure_object(mk_json_ensure_object(pod, "metadata"), "annotations");
		mk_json_set_string(ann, a->string, a->valuestring);
	}
	scheduled_true(pod);
	return 0;
}

/* The Binding's preconditions (metadata.uid, metadata.resourceVersion) against
 * the pod; 0, or -1 with a 409 in rep. */
static int binding_preconditions(struct mk_reply *rep, const char *name, const cJSON *pod,
				 const cJSON *b)
{
	const char *uid = mk_json_get_string(b, "metadata.uid");
	const char *rv = mk_json_get_string(b, "metadata.resourceVersion");
	const char *puid = mk_json_get_string(pod, "metadata.uid");
	const char *prv = mk_json_get_string(pod, "metadata.resourceVersion");

	if (uid && *uid && strcmp(uid, puid ? puid : "")) {
		mk_reply_status(rep, 409, "pods", name,
				"Operation cannot be fulfilled on pods \"%s\": Precondition failed: "
				"UID in precondition: %s, UID in object meta: %s",
				name, uid, puid ? puid : "");
		return -1;
	}
	if (rv && *rv && strcmp(rv, prv ? prv : "")) {
		mk_reply_status(rep, 409, "pods", name,
				"Operation cannot be fulfilled on pods \"%s\": Precondition failed: "
				"ResourceVersion in precondition: %s, ResourceVersion in object meta: %s",
				name, rv, prv ? prv : "");
		return -1;
	}
	return 0;
}

/* One attempt: read the pod, apply, store at the revision read. 0 done, 1 the pod
 * changed meanwhile (try again), -1 rep filled. */
static int binding_attempt(struct mk_request *req, struct mk_reply *rep, const cJSON *b, bool dry)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *json = NULL, *out = NULL;
	_cleanup_cjson_ cJSON *pod = NULL;
	uint64_t rv;

	if (mk_store_get(req->srv->store, mk_api_resource_store(r), req->ns, req->name, &json, &rv,
			 &err) < 0) {
		mk_reply_error(rep, r, req->name, err);
		return -1;
	}
	pod = cJSON_Parse(json);
	if (!pod) {
		mk_reply_status(rep, 500, "pods", req->name, "stored object is corrupt");
		return -1;
	}
	if (binding_preconditions(rep, req->name, pod, b) < 0 ||
	    binding_apply(rep, req->name, pod, b) < 0)
		return -1;
	if (dry)
		return 0;
	if (mk_store_update(req->srv->store, mk_api_resource_store(r), req->ns, req->name, rv, pod,
			    &out, NULL, &err) < 0) {
		if (err->code == ESTALE)
			return 1;
		mk_reply_error(rep, r, req->name, err);
		return -1;
	}
	return 0;
}

void mk_pods_binding_handle(struct mk_request *req, struct mk_reply *rep)
{
	if (strcmp(req->method, "POST")) {
		mk_reply_status(rep, 405, "pods", req->name, "method %s not allowed on pods/binding",
				req->method);
		return;
	}
	_cleanup_cjson_ cJSON *b = mk_request_body_object(req, rep, "Binding");
	if (!b)
		return;
	const char *kind = mk_json_get_string(b, "kind");
	if (kind && *kind && strcmp(kind, "Binding")) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the kind in the data (%s) does not match the expected kind (Binding)", kind);
		return;
	}
	const char *bn = mk_json_get_string(b, "metadata.name");
	if (!bn || strcmp(bn, req->name)) {
		mk_reply_status(rep, 400, NULL, NULL, "name in URL does not match name in Binding object");
		return;
	}
	if (binding_validate(rep, req->name, b) < 0)
		return;
	bool dry;
	if (mk_request_dry_run(req, rep, "CreateOptions", NULL, &dry) < 0)
		return;
	int rc = 1;
	for (int attempt = 0; rc == 1 && attempt < BINDING_RETRIES; attempt++)
		rc = binding_attempt(req, rep, b, dry);
	if (rc == 1) {
		struct mk_error e = { ESTALE, (char *)"conflict" };
		mk_reply_error(rep, req->res, req->name, &e);
	}
	if (rc != 0)
		return;
	_cleanup_cjson_ cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddObjectToObject(st, "metadata");
	cJSON_AddStringToObject(st, "status", "Success");
	cJSON_AddNumberToObject(st, "code", 201);
	mk_reply_json(rep, 201, st);
}
