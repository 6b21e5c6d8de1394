/* Validation of what a pod spec asks of the node, as kube-apiserver's
 * ValidatePodSpec checks it: resource quantities (well formed, not negative,
 * requests within limits, ValidateResourceRequirements) and security contexts
 * (ids in range, privileged or CAP_SYS_ADMIN against allowPrivilegeEscalation
 * false, ValidateSecurityContext / ValidatePodSecurityContext). */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define QUANTITY_RE                                                                                \
	"quantities must match the regular expression "                                            \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

/* a quantity field: 0 with *ret_milli, -1 (cause added) when malformed or negative */
static int quantity(cJSON *causes, const cJSON *v, const char *field, int64_t *ret_milli)
{
	char buf[64];
	const char *s = NULL;
	if (cJSON_IsString(v)) {
		s = v->valuestring;
	} else if (cJSON_IsNumber(v)) {
		snprintf(buf, sizeof(buf), "%.17g", v->valuedouble);
		s = buf;
	}
	if (!s || mk_api_quantity_parse(s, ret_milli, NULL) < 0) {
		if (causes)
			mk_api_v_invalid(causes, field, v, QUANTITY_RE);
		return -1;
	}
	if (*ret_milli < 0) {
		if (causes)
			mk_api_v_invalid(causes, field, v, "must be greater than or equal to 0");
		return -1;
	}
	return 0;
}

static void resources(cJSON *causes, const cJSON *res, const char *base)
{
	char f[320];
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(res, "limits");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(res, "requests");
	const cJSON *q;
	cJSON_ArrayForEach(q, lim)
	{
		int64_t v;
		snprintf(f, sizeof(f), "%s.resources.limits[%s]", base, q->string);
		quantity(causes, q, f, &v);
	}
	cJSON_ArrayForEach(q, req)
	{
		int64_t v, l;
		snprintf(f, sizeof(f), "%s.resources.requests[%s]", base, q->string);
		if (quantity(causes, q, f, &v) < 0)
			continue;
		const cJSON *lq = cJSON_GetObjectItemCaseSensitive(lim, q->string);
		if (!lq || quantity(NULL, lq, f, &l) < 0 || v <= l)
			continue;
		char detail[160];
		snprintf(detail, sizeof(detail), "must be less than or equal to %s limit of %s",
			 q->string, cJSON_IsString(lq) ? lq->valuestring : "the limit");
		mk_api_v_invalid(causes, f, q, detail);
	}
}

static void ids(cJSON *causes, const cJSON *sc, const char *base)
{
	static const char *const keys[] = {"runAsUser", "runAsGroup", "fsGroup"};
	char f[320];
	for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(sc, keys[i]);
		if (!v || cJSON_IsNull(v))
			continue;
		snprintf(f, sizeof(f), "%s.%s", base, keys[i]);
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 2147483647.0 ||
		    v->valuedouble != (double)(int64_t)v->valuedouble)
			mk_api_v_invalid(causes, f, v,
					 "must be between 0 and 2147483647, inclusive");
	}
	const cJSON *g;
	size_t k = 0;
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(sc, "supplementalGroups"))
	{
		snprintf(f, sizeof(f), "%s.supplementalGroups[%zu]", base, k++);
		if (!cJSON_IsNumber(g) || g->valuedouble < 0 || g->valuedouble > 2147483647.0)
			mk_api_v_invalid(causes, f, g,
					 "must be between 0 and 2147483647, inclusive");
	}
}

void mk_api_v_container_node_asks(cJSON *causes, const cJSON *c, const char *base)
{
	char f[320];
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "resources");
	if (cJSON_IsObject(res))
		resources(causes, res, base);
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(c, "securityContext");
	if (!cJSON_IsObject(sc))
		return;
	snprintf(f, sizeof(f), "%s.securityContext", base);
	ids(causes, sc, f);
	const cJSON *ape = cJSON_GetObjectItemCaseSensitive(sc, "allowPrivilegeEscalation");
	if (!cJSON_IsFalse(ape))
		return;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sc, "privileged")))
		mk_api_v_invalid(causes, f, sc,
				 "cannot set `allowPrivilegeEscalation` to false and "
				 "`privileged` to true");
	const cJSON *cap;
	cJSON_ArrayForEach(
	    cap,
	    mk_json_get(sc, "capabilities.add")) if (cJSON_IsString(cap) &&
						     (!strcmp(cap->valuestring, "SYS_ADMIN") ||
						      !strcmp(cap->valuestring, "CAP_SYS_ADMIN")))
	    mk_api_v_invalid(causes, f, sc,
			     "cannot set `allowPrivilegeEscalation` to false "
			     "and `capabilities.Add` CAP_SYS_ADMIN");
}

void mk_api_v_pod_node_asks(cJSON *causes, const cJSON *spec, const char *prefix)
{
	char f[320];
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(spec, "securityContext");
	if (cJSON_IsObject(sc)) {
		snprintf(f, sizeof(f), "%s.securityContext", prefix);
		ids(causes, sc, f);
	}
}
