/* Node placement predicates shared by the scheduler and the DaemonSet controller:
 * a pod's required node affinity (nodeSelector and
 * requiredDuringSchedulingIgnoredDuringExecution nodeSelectorTerms, as
 * k8s.io/component-helpers/scheduling/corev1/nodeaffinity evaluates them), a
 * toleration against a taint (ToleratesTaint), and whether a daemon pod should
 * run on a node (the DaemonSet controller's NodeShouldRunDaemonPod). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static bool string_in(const cJSON *values, const char *s)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, values)
		if (cJSON_IsString(v) && s && !strcmp(v->valuestring, s))
			return true;
	return false;
}

static bool parse_int(const char *s, long long *ret)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

/* One NodeSelectorRequirement against value (NULL: the key is absent). */
static bool requirement_holds(const cJSON *req, const char *value)
{
	const char *op = mk_json_get_string(req, "operator");
	const cJSON *values = cJSON_GetObjectItemCaseSensitive(req, "values");
	if (!op)
		return false;
	if (!strcmp(op, "In"))
		return value && string_in(values, value);
	if (!strcmp(op, "NotIn"))
		return !value || !string_in(values, value);
	if (!strcmp(op, "Exists"))
		return value != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return value == NULL;
	if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
		long long have, want;
		const cJSON *v0 = cJSON_GetArrayItem(values, 0);
		if (cJSON_GetArraySize(values) != 1 || !cJSON_IsString(v0) ||
		    !parse_int(value, &have) || !parse_int(v0->valuestring, &want))
			return false;
		return op[0] == 'G' ? have > want : have < want;
	}
	return false; /* unknown operator: validation refuses it; never match */
}

/* A NodeSelectorTerm: every expression (labels) and field (metadata.name) holds; a
 * term with neither matches nothing. */
static bool term_matches(const cJSON *term, const cJSON *node)
{
	const cJSON *exprs = cJSON_GetObjectItemCaseSensitive(term, "matchExpressions");
	const cJSON *fields = cJSON_GetObjectItemCaseSensitive(term, "matchFields");
	const cJSON *labels = mk_json_get(node, "metadata.labels");
	const cJSON *r;
	if (cJSON_GetArraySize(exprs) == 0 && cJSON_GetArraySize(fields) == 0)
		return false;
	cJSON_ArrayForEach(r, exprs)
	{
		const char *key = mk_json_get_string(r, "key");
		/* not mk_json_get: label keys contain dots */
		const cJSON *l = key ? cJSON_GetObjectItemCaseSensitive(labels, key) : NULL;
		if (!requirement_holds(r, cJSON_IsString(l) ? l->valuestring : NULL))
			return false;
	}
	cJSON_ArrayForEach(r, fields)
	{
		const char *key = mk_json_get_string(r, "key");
		if (!key || strcmp(key, "metadata.name"))
			return false; /* the only field selector nodes support */
		if (!requirement_holds(r, mk_json_get_string(node, "metadata.name")))
			return false;
	}
	return true;
}

bool mk_controller_node_affinity_matches(const cJSON *pod_spec, const cJSON *node)
{
	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(pod_spec, "nodeSelector");
	if (sel && !labels_match_map(sel, mk_json_get(node, "metadata.labels")))
		return false;
	const cJSON *req = mk_json_get(pod_spec, "affinity.nodeAffinity");
	req = cJSON_GetObjectItemCaseSensitive(req, "requiredDuringSchedulingIgnoredDuringExecution");
	if (!req || cJSON_IsNull(req))
		return true;
	const cJSON *term;
	cJSON_ArrayForEach(term, cJSON_GetObjectItemCaseSensitive(req, "nodeSelectorTerms"))
		if (term_matches(term, node))
			return true;
	return false; /* terms are ORed; none (or no terms at all) matched */
}

bool mk_controller_tolerates_taint(const cJSON *tolerations, const cJSON *taint)
{
	const char *key = mk_json_get_string(taint, "key");
	const char *value = mk_json_get_string(taint, "value");
	const char *effect = mk_json_get_string(taint, "effect");
	const cJSON *t;
	cJSON_ArrayForEach(t, tolerations)
	{
		const char *tk = mk_json_get_string(t, "key");
		const char *op = mk_json_get_string(t, "operator");
		const char *tv = mk_json_get_string(t, "value");
		const char *te = mk_json_get_string(t, "effect");
		bool exists = op && !strcmp(op, "Exists");
		if (te && *te && strcmp(te, effect ? effect : ""))
			continue;
		if (tk && *tk && strcmp(tk, key ? key : ""))
			continue;
		if ((!tk || !*tk) && !exists)
			continue; /* an empty key needs Exists */
		if (exists || !strcmp(tv ? tv : "", value ? value : ""))
			return true;
	}
	return false;
}

bool mk_controller_daemon_should_run(const cJSON *pod_spec, const cJSON *node,
				     bool *ret_should_continue)
{
	*ret_should_continue = false;
	const char *want = mk_json_get_string(pod_spec, "nodeName");
	if (want && *want && strcmp(want, mk_json_get_string(node, "metadata.name") ?: ""))
		return false;
	if (!mk_controller_node_affinity_matches(pod_spec, node))
		return false;
	const cJSON *tols = cJSON_GetObjectItemCaseSensitive(pod_spec, "tolerations");
	bool run = true;
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(node, "spec.taints"))
	{
		const char *e = mk_json_get_string(t, "effect");
		if (!e || (strcmp(e, "NoSchedule") && strcmp(e, "NoExecute")))
			continue; /* PreferNoSchedule only weighs */
		if (mk_controller_tolerates_taint(tols, t))
			continue;
		if (!strcmp(e, "NoExecute"))
			return false; /* evicts a running pod too */
		run = false; /* NoSchedule: a pod already there may stay */
	}
	*ret_should_continue = true;
	return run;
}
