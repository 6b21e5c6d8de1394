/* apps/v1 DaemonSet: one pod per qualifying node (pkg/controller/daemonset.c).
 * Defaults as apps/v1 SetDefaults_DaemonSet (updateStrategy RollingUpdate with
 * maxUnavailable 1 and maxSurge 0, revisionHistoryLimit 10, the pod template's
 * defaults); validation as pkg/apis/apps/validation ValidateDaemonSet; columns as
 * kube-apiserver's printer (printDaemonSet). */
#include <math.h>
#include <string.h>
#include "internal.h"

static void daemonset_defaults(cJSON *obj)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec))
		return;
	cJSON *st = cJSON_GetObjectItemCaseSensitive(spec, "updateStrategy");
	if (!st || cJSON_IsNull(st)) {
		st = cJSON_CreateObject();
		mk_json_set(spec, "updateStrategy", st);
	}
	if (cJSON_IsObject(st)) {
		if (mk_api_json_str_empty(st, "type"))
			mk_json_set(st, "type", cJSON_CreateString("RollingUpdate"));
		const char *type = mk_json_get_string(st, "type");
		if (type && strcmp(type, "RollingUpdate") == 0) {
			cJSON *ru = cJSON_GetObjectItemCaseSensitive(st, "rollingUpdate");
			if (!ru || cJSON_IsNull(ru)) {
				ru = cJSON_CreateObject();
				mk_json_set(st, "rollingUpdate", ru);
			}
			if (cJSON_IsObject(ru)) {
				mk_api_json_default(ru, "maxUnavailable", cJSON_CreateNumber(1));
				mk_api_json_default(ru, "maxSurge", cJSON_CreateNumber(0));
			}
		}
	}
	mk_api_json_default(spec, "revisionHistoryLimit", cJSON_CreateNumber(10));
	mk_api_default_pod_template(cJSON_GetObjectItemCaseSensitive(spec, "template"));
}

/* An optional non-negative integer at spec.key. */
static void non_negative(cJSON *causes, const cJSON *spec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
	char f[64];
	snprintf(f, sizeof(f), "spec.%s", key);
	if (!v || cJSON_IsNull(v))
		return;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		mk_api_v_invalid(causes, f, v, "must be an integer");
	else if (v->valuedouble < 0)
		mk_api_v_invalid(causes, f, v, "must be greater than or equal to 0");
}

static void validate_update_strategy(cJSON *causes, const cJSON *spec)
{
	static const char *const types[] = { "OnDelete", "RollingUpdate", NULL };
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(spec, "updateStrategy");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(st, "type");
	const cJSON *ru = cJSON_GetObjectItemCaseSensitive(st, "rollingUpdate");

	if (!cJSON_IsString(type) || !type->valuestring[0]) {
		mk_api_v_required(causes, "spec.updateStrategy.type", NULL);
		return;
	}
	if (strcmp(type->valuestring, "OnDelete") == 0)
		return;
	if (strcmp(type->valuestring, "RollingUpdate") != 0) {
		mk_api_v_not_supported(causes, "spec.updateStrategy.type", type->valuestring, types);
		return;
	}
	if (!cJSON_IsObject(ru)) {
		mk_api_v_required(causes, "spec.updateStrategy.rollingUpdate", NULL);
		return;
	}
	bool unavail_zero, surge_zero;
	const cJSON *mu = cJSON_GetObjectItemCaseSensitive(ru, "maxUnavailable");
	mk_api_v_int_or_percent(causes, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable",
				&unavail_zero);
	mk_api_v_int_or_percent(causes, cJSON_GetObjectItemCaseSensitive(ru, "maxSurge"),
				"spec.updateStrategy.rollingUpdate.maxSurge", &surge_zero);
	if (unavail_zero && surge_zero) {
		_cleanup_cjson_ cJSON *zero = cJSON_CreateNumber(0);
		mk_api_v_invalid(causes, "spec.updateStrategy.rollingUpdate.maxUnavailable",
				 mu ? mu : zero, "may not be 0 when `maxSurge` is 0");
	}
}

static void daemonset_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		mk_api_v_required(causes, "spec", NULL);
		return;
	}
	mk_api_v_selector_template(causes, spec, old ? mk_json_get(old, "spec") : NULL,
				   "daemonset");
	if (mk_json_get(spec, "template.spec.activeDeadlineSeconds"))
		mk_api_v_forbidden(causes, "spec.template.spec.activeDeadlineSeconds",
				   "activeDeadlineSeconds in DaemonSet is not Supported");
	non_negative(causes, spec, "minReadySeconds");
	non_negative(causes, spec, "revisionHistoryLimit");
	non_negative(causes, spec, "templateGeneration");
	validate_update_strategy(causes, spec);
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Desired", "integer", "", "The number of nodes that should be running the daemon pod.", 0 },
	{ "Current", "integer", "", "The number of nodes running at least one daemon pod that should.", 0 },
	{ "Ready", "integer", "", "The number of nodes whose daemon pod is ready.", 0 },
	{ "Up-to-date", "integer", "", "The number of nodes running the daemon pod of the current template.", 0 },
	{ "Available", "integer", "", "The number of nodes whose daemon pod is available (ready for minReadySeconds).", 0 },
	{ "Node Selector", "string", "", "The node selector of the pod template.", 0 },
	MK_API_AGE_COL,
	{ "Containers", "string", "", "Names of the containers in the pod template.", 1 },
	{ "Images", "string", "", "Images of the containers in the pod template.", 1 },
	{ "Selector", "string", "", "Label selector of the daemon pods.", 1 },
};

static void daemonset_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_int(cells, (long long)mk_api_json_number(status, "desiredNumberScheduled", 0));
	mk_api_cell_int(cells, (long long)mk_api_json_number(status, "currentNumberScheduled", 0));
	mk_api_cell_int(cells, (long long)mk_api_json_number(status, "numberReady", 0));
	mk_api_cell_int(cells, (long long)mk_api_json_number(status, "updatedNumberScheduled", 0));
	mk_api_cell_int(cells, (long long)mk_api_json_number(status, "numberAvailable", 0));
	mk_api_cell_labels(cells, mk_json_get(spec, "template.spec.nodeSelector"));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_api_cell_containers_images(cells, mk_json_get(spec, "template.spec.containers"));
	mk_api_cell_selector(cells, cJSON_GetObjectItemCaseSensitive(spec, "selector"));
}

const struct mk_api_kind_ops mk_api_daemonset_ops = {
	.defaults = daemonset_defaults,
	.validate = daemonset_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = daemonset_cells,
};
