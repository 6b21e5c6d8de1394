/* coordination.k8s.io/v1 Lease: what nodes heartbeat through (kube-node-lease)
 * and what a leader holds. Validation as kube-apiserver's (pkg/apis/coordination):
 * a positive leaseDurationSeconds, a non-negative leaseTransitions. */
#include <string.h>
#include "internal.h"

static void lease_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity");
	if (d && !cJSON_IsNull(d) && (!cJSON_IsNumber(d) || d->valuedouble <= 0 || d->valuedouble != (double)d->valueint))
		mk_api_v_invalid(causes, "spec.leaseDurationSeconds", d, "must be greater than 0");
	if (t && !cJSON_IsNull(t) && (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble != (double)t->valueint))
		mk_api_v_invalid(causes, "spec.leaseTransitions", t, "must be greater than or equal to 0");
	if (h && !cJSON_IsNull(h) && !cJSON_IsString(h))
		mk_api_v_invalid(causes, "spec.holderIdentity", h, "must be a string");
	const char *keys[] = { "acquireTime", "renewTime" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(spec, keys[i]);
		char f[32];
		snprintf(f, sizeof(f), "spec.%s", keys[i]);
		if (ts && !cJSON_IsNull(ts) && (!cJSON_IsString(ts) || mk_time_parse(ts->valuestring) == (time_t)-1))
			mk_api_v_invalid(causes, f, ts, "must be an RFC 3339 time");
	}
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Holder", "string", "", "The holder of the lease (spec.holderIdentity).", 0 },
	MK_API_AGE_COL,
};

static void lease_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, mk_json_get_string(obj, "spec.holderIdentity"));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_lease_ops = {
	.validate = lease_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = lease_cells,
};
