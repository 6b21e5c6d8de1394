/* core/v1 ResourceQuota (quota): limits on what a namespace holds. Validation as
 * kube-apiserver's ValidateResourceQuota (standard or fully qualified resource
 * names, quantities >= 0, whole numbers for object counts, known and compatible
 * scopes), `kubectl get quota` columns as upstream's printer (REQUEST and LIMIT
 * "name: used/hard" per resource, limits.* in LIMIT). Usage and the admission
 * check: quota.c. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static const char *const std_names[] = {
	"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers", "cpu", "memory",
	"ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
	"requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
};
static const char *const int_names[] = {
	"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
};
static const char *const scopes[] = { "Terminating", "NotTerminating", "BestEffort",
				      "NotBestEffort", "PriorityClass",
				      "CrossNamespacePodAffinity", NULL };

static bool in_list(const char *s, const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, l[i]))
			return true;
	return false;
}

static void v_hard(cJSON *causes, const cJSON *hard, const char *base)
{
	const cJSON *q;
	char f[300];
	cJSON_ArrayForEach(q, hard)
	{
		const char *k = q->string;
		int64_t v;
		snprintf(f, sizeof(f), "%s[%s]", base, k);
		if (!strchr(k, '/') && !in_list(k, std_names, MK_ARRAY_SIZE(std_names)) &&
		    strncmp(k, "requests.hugepages-", 19) && strncmp(k, "hugepages-", 10)) {
			cJSON *n = cJSON_CreateString(k);
			mk_api_v_invalid(causes, f, n, "must be a standard resource for quota");
			cJSON_Delete(n);
			continue;
		}
		char b[64];
		if (cJSON_IsNumber(q))
			snprintf(b, sizeof(b), "%.17g", q->valuedouble);
		if ((!cJSON_IsString(q) && !cJSON_IsNumber(q)) ||
		    mk_api_quantity_parse(cJSON_IsString(q) ? q->valuestring : b, &v, NULL) < 0) {
			mk_api_v_invalid(causes, f, q,
					 "quantities must match the regular expression "
					 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
			continue;
		}
		if (v < 0)
			mk_api_v_invalid(causes, f, q, "must be greater than or equal to 0");
		else if ((in_list(k, int_names, MK_ARRAY_SIZE(int_names)) || !strncmp(k, "count/", 6)) &&
			 v % 1000)
			mk_api_v_invalid(causes, f, q, "must be an integer");
	}
}

/* a pod-only scope may only limit what pods use */
static bool pod_resource(const char *k)
{
	static const char *const pr[] = { "pods", "count/pods", "cpu", "memory", "ephemeral-storage",
					  "requests.cpu", "requests.memory",
					  "requests.ephemeral-storage", "limits.cpu", "limits.memory",
					  "limits.ephemeral-storage" };
	return in_list(k, pr, MK_ARRAY_SIZE(pr)) || !strncmp(k, "requests.hugepages-", 19);
}

static void v_scope(cJSON *causes, const char *scope, const cJSON *hard, const char *field,
		    bool *term, bool *notterm, bool *be, bool *notbe)
{
	if (!in_list(scope, scopes, MK_ARRAY_SIZE(scopes) - 1)) {
		mk_api_v_not_supported(causes, field, scope, scopes);
		return;
	}
	*term |= !strcmp(scope, "Terminating");
	*notterm |= !strcmp(scope, "NotTerminating");
	*be |= !strcmp(scope, "BestEffort");
	*notbe |= !strcmp(scope, "NotBestEffort");
	const cJSON *q;
	cJSON_ArrayForEach(q, hard)
	{
		bool ok = !strcmp(scope, "BestEffort")
				  ? (!strcmp(q->string, "pods") || !strcmp(q->string, "count/pods"))
				  : pod_resource(q->string);
		if (!ok) {
			char f[300];
			snprintf(f, sizeof(f), "spec.hard[%s]", q->string);
			cJSON *v = cJSON_CreateString(q->string);
			mk_api_v_invalid(causes, f, v, "unsupported scope applied to resource");
			cJSON_Delete(v);
		}
	}
}

static void quota_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *hard = mk_json_get(obj, "spec.hard"), *it;
	bool term = false, notterm = false, be = false, notbe = false;
	int i = 0;
	char f[160];

	(void)old;
	if (hard && !cJSON_IsObject(hard))
		mk_api_v_invalid(causes, "spec.hard", hard, "must be a map of quantities");
	v_hard(causes, hard, "spec.hard");
	cJSON_ArrayForEach(it, mk_json_get(obj, "spec.scopes"))
	{
		snprintf(f, sizeof(f), "spec.scopes[%d]", i++);
		if (!cJSON_IsString(it))
			mk_api_v_invalid(causes, f, it, "must be a string");
		else
			v_scope(causes, it->valuestring, hard, f, &term, &notterm, &be, &notbe);
	}
	i = 0;
	cJSON_ArrayForEach(it, mk_json_get(obj, "spec.scopeSelector.matchExpressions"))
	{
		static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist", NULL };
		const char *sn = mk_json_get_string(it, "scopeName");
		const char *op = mk_json_get_string(it, "operator");
		char base[96];
		snprintf(base, sizeof(base), "spec.scopeSelector.matchExpressions[%d]", i++);
		snprintf(f, sizeof(f), "%s.scopeName", base);
		if (!sn || !*sn)
			mk_api_v_required(causes, f, "");
		else
			v_scope(causes, sn, hard, f, &term, &notterm, &be, &notbe);
		snprintf(f, sizeof(f), "%s.operator", base);
		if (!op || !*op)
			mk_api_v_required(causes, f, "");
		else if (!in_list(op, ops, 4))
			mk_api_v_not_supported(causes, f, op, ops);
		else if (sn && strcmp(sn, "PriorityClass") && (!strcmp(op, "In") || !strcmp(op, "NotIn")))
			mk_api_v_invalid(causes, f, cJSON_GetObjectItemCaseSensitive(it, "operator"),
					 "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
					 "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
					 "ResourceQuotaScopeNotBestEffort or "
					 "ResourceQuotaScopeCrossNamespacePodAffinity");
	}
	if ((term && notterm) || (be && notbe))
		mk_api_v_invalid(causes, "spec.scopes", mk_json_get(obj, "spec.scopes"),
				 "conflicting scopes");
	v_hard(causes, mk_json_get(obj, "status.hard"), "status.hard");
	v_hard(causes, mk_json_get(obj, "status.used"), "status.used");
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	MK_API_AGE_COL,
	{ "Request", "string", "", "Request represents a minimum amount of cpu/memory that a container may consume.", 0 },
	{ "Limit", "string", "", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.", 0 },
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void quota_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *hard = mk_json_get(obj, "spec.hard"), *it;
	const cJSON *shard = mk_json_get(obj, "status.hard"), *used = mk_json_get(obj, "status.used");
	const char *names[256];
	size_t n = 0;
	struct mk_buf rq, lm;

	cJSON_ArrayForEach(it, hard)
		if (it->string && n < MK_ARRAY_SIZE(names))
			names[n++] = it->string;
	qsort(names, n, sizeof(*names), cmp_str);
	mk_buf_init(&rq);
	mk_buf_init(&lm);
	mk_buf_puts(&rq, "");
	mk_buf_puts(&lm, "");
	for (size_t i = 0; i < n; i++) {
		struct mk_buf *w = !strncmp(names[i], "limits.", 7) ? &lm : &rq;
		char u[32], h[32];
		const cJSON *uq = cJSON_GetObjectItemCaseSensitive(used, names[i]);
		const cJSON *hq = cJSON_GetObjectItemCaseSensitive(shard, names[i]);
		/* a missing quantity prints as Go's zero Quantity does */
		if (uq)
			mk_api_quantity_canonical(uq, u, sizeof(u));
		if (hq)
			mk_api_quantity_canonical(hq, h, sizeof(h));
		mk_buf_printf(w, "%s%s: %s/%s", w->len ? ", " : "", names[i], uq ? u : "0",
			      hq ? h : "0");
	}
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_api_cell_str(cells, rq.data);
	mk_api_cell_str(cells, lm.data);
	mk_buf_release(&rq);
	mk_buf_release(&lm);
}

const struct mk_api_kind_ops mk_api_resourcequota_ops = {
	.validate = quota_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = quota_cells,
};
