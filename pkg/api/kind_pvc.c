/* core/v1 PersistentVolumeClaim: defaults, validation and Table columns as
 * kube-apiserver has them (core/v1 defaults.go, core/validation's
 * ValidatePersistentVolumeClaim and ...Update, printers.go). The default
 * storage class is filled in by the API server at create (it reads the
 * classes: pkg/apiserver), as the DefaultStorageClass admission plugin does. */
#include <string.h>
#include "internal.h"

static const char *const volume_modes[] = { "Block", "Filesystem", NULL };

static void pvc_defaults(cJSON *obj)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (cJSON_IsObject(spec))
		mk_api_json_default(spec, "volumeMode", cJSON_CreateString("Filesystem"));
	mk_api_default_phase(obj, "Pending");
}

/* A claim's spec (also a StatefulSet's volumeClaimTemplates[*].spec); base is the
 * path of the spec ("spec"). */
void mk_api_v_pvc_spec(cJSON *causes, const cJSON *spec, const char *base)
{
	char f[256];
	if (!cJSON_IsObject(spec)) {
		mk_api_v_required(causes, base, NULL);
		return;
	}
	snprintf(f, sizeof(f), "%s.accessModes", base);
	mk_api_v_access_modes(causes, cJSON_GetObjectItemCaseSensitive(spec, "accessModes"), f);
	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(spec, "selector");
	if (sel && !cJSON_IsNull(sel)) {
		struct mk_label_selector *ls = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		snprintf(f, sizeof(f), "%s.selector", base);
		if (mk_label_selector_from_json(sel, &ls, &err) < 0)
			mk_api_v_invalid(causes, f, sel, err && err->msg ? err->msg : "invalid selector");
		mk_label_selector_free(ls);
	}
	const cJSON *st = mk_json_get(spec, "resources.requests.storage");
	if (!st || cJSON_IsNull(st)) {
		snprintf(f, sizeof(f), "%s.resources[storage]", base);
		mk_api_v_required(causes, f, NULL);
	} else {
		snprintf(f, sizeof(f), "%s.resources.requests[storage]", base);
		mk_api_v_positive_quantity(causes, st, f);
	}
	const cJSON *lim = mk_json_get(spec, "resources.limits.storage");
	if (lim && !cJSON_IsNull(lim)) {
		snprintf(f, sizeof(f), "%s.resources.limits[storage]", base);
		mk_api_v_positive_quantity(causes, lim, f);
	}
	snprintf(f, sizeof(f), "%s.storageClassName", base);
	mk_api_v_class_name(causes, spec, f);
	snprintf(f, sizeof(f), "%s.volumeMode", base);
	mk_api_v_enum(causes, spec, "volumeMode", f, volume_modes);
	const cJSON *vn = cJSON_GetObjectItemCaseSensitive(spec, "volumeName");
	if (cJSON_IsString(vn) && vn->valuestring[0] && mk_api_check_dns1123_subdomain(vn->valuestring)) {
		snprintf(f, sizeof(f), "%s.volumeName", base);
		mk_api_v_invalid(causes, f, vn, mk_api_check_dns1123_subdomain(vn->valuestring));
	}
}

static void pvc_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	mk_api_v_pvc_spec(causes, spec, "spec");
	if (!old)
		return;
	/* Immutable once created: the binder may set volumeName once, a claim made
	 * before any default class existed may get a class, and a bound claim may
	 * ask for more storage (never less). */
	const cJSON *ospec = cJSON_GetObjectItemCaseSensitive(old, "spec");
	_cleanup_cjson_ cJSON *a = cJSON_Duplicate(ospec, 1);
	_cleanup_cjson_ cJSON *b = cJSON_Duplicate(spec, 1);
	if (!cJSON_IsObject(a) || !cJSON_IsObject(b))
		return;
	if (mk_api_json_str_empty(ospec, "volumeName")) {
		cJSON_DeleteItemFromObjectCaseSensitive(a, "volumeName");
		cJSON_DeleteItemFromObjectCaseSensitive(b, "volumeName");
	}
	const cJSON *osc = cJSON_GetObjectItemCaseSensitive(ospec, "storageClassName");
	if ((!osc || cJSON_IsNull(osc)) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(spec, "storageClassName")))
		cJSON_DeleteItemFromObjectCaseSensitive(b, "storageClassName");
	bool bound = !strcmp(mk_json_get_string(obj, "status.phase") ?: "", "Bound");
	const cJSON *ns = mk_json_get(spec, "resources.requests.storage");
	const cJSON *os = mk_json_get(ospec, "resources.requests.storage");
	if (bound) {
		cJSON *breq = mk_json_get(b, "resources.requests");
		if (cJSON_IsObject(breq) && os)
			mk_json_set(breq, "storage", cJSON_Duplicate(os, 1));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(a, "volumeAttributesClassName");
	cJSON_DeleteItemFromObjectCaseSensitive(b, "volumeAttributesClassName");
	if (!cJSON_Compare(a, b, 1))
		mk_api_cause_add(causes, "FieldValueForbidden", "spec",
				 "Forbidden: spec is immutable after creation except resources.requests "
				 "and volumeAttributesClassName for bound claims");
	int64_t nv = mk_api_quantity_value(ns), ov = mk_api_quantity_value(os);
	if (nv >= 0 && ov >= 0 && nv < ov)
		mk_api_cause_add(causes, "FieldValueForbidden", "spec.resources.requests.storage",
				 "Forbidden: field can not be less than previous value");
}

static const struct mk_api_column pvc_columns[] = {
	MK_API_NAME_COL,
	{ "Status", "string", "", "The phase of the claim.", 0 },
	{ "Volume", "string", "", "The volume bound to the claim.", 0 },
	{ "Capacity", "string", "", "The size of the bound volume.", 0 },
	{ "Access Modes", "string", "", "How the bound volume can be mounted.", 0 },
	{ "StorageClass", "string", "", "The class of the claim.", 0 },
	{ "VolumeAttributesClass", "string", "", "The VolumeAttributesClass of the claim.", 0 },
	MK_API_AGE_COL,
	{ "VolumeMode", "string", "", "Filesystem or Block.", 1 },
};

static void pvc_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const char *phase = mk_json_get_string(obj, "status.phase");
	const char *vn = mk_json_get_string(spec, "volumeName");
	const char *vac = mk_json_get_string(spec, "volumeAttributesClassName");
	const char *vm = mk_json_get_string(spec, "volumeMode");
	_cleanup_free_ char *modes = NULL, *capn = NULL;
	const char *cap = "";

	if (vn && *vn) {
		const cJSON *c = mk_json_get(obj, "status.capacity.storage");
		modes = mk_api_access_modes_string(mk_json_get(obj, "status.accessModes"));
		if (cJSON_IsNumber(c))
			cap = capn = mk_strdup_printf("%g", c->valuedouble);
		else if (cJSON_IsString(c))
			cap = c->valuestring;
		else
			cap = "0";
	}
	if (mk_json_get(obj, "metadata.deletionTimestamp"))
		phase = "Terminating";
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, phase);
	mk_api_cell_str(cells, vn);
	mk_api_cell_str(cells, cap);
	mk_api_cell_str(cells, modes);
	mk_api_cell_str(cells, mk_json_get_string(spec, "storageClassName"));
	mk_api_cell_str(cells, vac ? vac : "<unset>");
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_api_cell_str(cells, vm ? vm : "<unset>");
}

const struct mk_api_kind_ops mk_api_pvc_ops = {
	.defaults = pvc_defaults,
	.validate = pvc_validate,
	.columns = pvc_columns,
	.ncolumns = MK_ARRAY_SIZE(pvc_columns),
	.cells = pvc_cells,
};
