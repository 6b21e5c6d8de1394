/* apps/v1 StatefulSet: defaults as SetDefaults_StatefulSet (pkg/apis/apps/v1),
 * validation as ValidateStatefulSet / ValidateStatefulSetUpdate
 * (pkg/apis/apps/validation) and the Table columns kube-apiserver prints. One
 * difference: upstream leaves the template's pod spec unchecked (the claim
 * templates would fail its volume mount checks); here it is validated with the
 * claims the controller adds as volumes, so a bad template is refused up front
 * instead of failing every pod creation. */
#include <string.h>
#include "internal.h"

static const char *const pod_policies[] = { "OrderedReady", "Parallel", NULL };
static const char *const retention[] = { "Delete", "Retain", NULL };

static cJSON *object_member(cJSON *obj, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!c || cJSON_IsNull(c)) {
		c = cJSON_CreateObject();
		mk_json_set(obj, key, c);
	}
	return cJSON_IsObject(c) ? c : NULL;
}

static void sts_defaults(cJSON *obj)
{
	cJSON *spec = object_member(obj, "spec");
	if (!spec)
		return;
	if (mk_api_json_str_empty(spec, "podManagementPolicy"))
		mk_json_set_string(spec, "podManagementPolicy", "OrderedReady");
	cJSON *us = object_member(spec, "updateStrategy");
	if (us) {
		if (mk_api_json_str_empty(us, "type"))
			mk_json_set_string(us, "type", "RollingUpdate");
		const char *t = mk_json_get_string(us, "type");
		if (t && !strcmp(t, "RollingUpdate")) {
			cJSON *ru = object_member(us, "rollingUpdate");
			if (ru)
				mk_api_json_default(ru, "partition", cJSON_CreateNumber(0));
		}
	}
	/* StatefulSetAutoDeletePVC (on by default since 1.27): both Retain */
	cJSON *pol = object_member(spec, "persistentVolumeClaimRetentionPolicy");
	if (pol) {
		if (mk_api_json_str_empty(pol, "whenDeleted"))
			mk_json_set_string(pol, "whenDeleted", "Retain");
		if (mk_api_json_str_empty(pol, "whenScaled"))
			mk_json_set_string(pol, "whenScaled", "Retain");
	}
	mk_api_json_default(spec, "replicas", cJSON_CreateNumber(1));
	mk_api_json_default(spec, "revisionHistoryLimit", cJSON_CreateNumber(10));
	mk_api_default_pod_template(cJSON_GetObjectItemCaseSensitive(spec, "template"));
}

static void one_of(cJSON *causes, const cJSON *parent, const char *key, const char *field,
		   const char *const *allowed, bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0])) {
		if (required)
			mk_api_v_required(causes, field, NULL);
		return;
	}
	bool ok = false;
	for (size_t i = 0; cJSON_IsString(v) && allowed[i]; i++)
		ok |= !strcmp(v->valuestring, allowed[i]);
	if (!ok)
		mk_api_v_not_supported(causes, field, cJSON_IsString(v) ? v->valuestring : "", allowed);
}

static void validate_update_strategy(cJSON *causes, const cJSON *spec)
{
	const cJSON *us = cJSON_GetObjectItemCaseSensitive(spec, "updateStrategy");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(us, "type");
	const cJSON *ru = cJSON_GetObjectItemCaseSensitive(us, "rollingUpdate");
	char msg[96];

	if (!cJSON_IsString(type) || !type->valuestring[0]) {
		mk_api_v_required(causes, "spec.updateStrategy", NULL);
		return;
	}
	if (!strcmp(type->valuestring, "OnDelete")) {
		if (ru && !cJSON_IsNull(ru))
			mk_api_v_invalid(causes, "spec.updateStrategy.rollingUpdate", ru,
					 "only allowed for updateStrategy 'RollingUpdate'");
		return;
	}
	if (strcmp(type->valuestring, "RollingUpdate")) {
		snprintf(msg, sizeof(msg), "must be '%s' or '%s'", "RollingUpdate", "OnDelete");
		mk_api_v_invalid(causes, "spec.updateStrategy", type, msg);
		return;
	}
	if (!ru || cJSON_IsNull(ru))
		return;
	mk_api_v_non_negative(causes, ru, "partition", "spec.updateStrategy.rollingUpdate.partition");
	const cJSON *mu = cJSON_GetObjectItemCaseSensitive(ru, "maxUnavailable");
	if (mu && !cJSON_IsNull(mu)) {
		bool zero = false;
		size_t before = (size_t)cJSON_GetArraySize(causes);
		mk_api_v_int_or_percent(causes, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable",
					&zero);
		if ((size_t)cJSON_GetArraySize(causes) == before && zero)
			mk_api_v_invalid(causes, "spec.updateStrategy.rollingUpdate.maxUnavailable", mu,
					 "must be greater than 0");
	}
}

/* The claim templates (their names become volumes of the pod template, added
 * to *vols). Each needs a name and a spec valid for a claim (kind_pvc.c). */
static void validate_claim_templates(cJSON *causes, const cJSON *spec, cJSON *vols)
{
	const cJSON *vcts = cJSON_GetObjectItemCaseSensitive(spec, "volumeClaimTemplates");
	const cJSON *t;
	char f[128];
	int i = 0;

	if (vcts && !cJSON_IsNull(vcts) && !cJSON_IsArray(vcts)) {
		mk_api_v_invalid(causes, "spec.volumeClaimTemplates", vcts, "must be a list");
		return;
	}
	cJSON_ArrayForEach(t, vcts)
	{
		const char *name = mk_json_get_string(t, "metadata.name");
		snprintf(f, sizeof(f), "spec.volumeClaimTemplates[%d].metadata.name", i);
		if (!name || !name[0]) {
			mk_api_v_required(causes, f, "name or generateName is required");
		} else if (mk_api_check_dns1123_subdomain(name)) {
			mk_api_v_invalid(causes, f, mk_json_get(t, "metadata.name"),
					 mk_api_check_dns1123_subdomain(name));
		} else {
			cJSON *v = cJSON_CreateObject();
			cJSON_AddStringToObject(v, "name", name);
			cJSON_AddStringToObject(cJSON_AddObjectToObject(v, "persistentVolumeClaim"),
						"claimName", name);
			cJSON_AddItemToArray(vols, v);
		}
		snprintf(f, sizeof(f), "spec.volumeClaimTemplates[%d].spec", i);
		mk_api_v_pvc_spec(causes, cJSON_GetObjectItemCaseSensitive(t, "spec"), f);
		i++;
	}
}

static void sts_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		mk_api_v_required(causes, "spec", NULL);
		return;
	}
	const cJSON *pmp = cJSON_GetObjectItemCaseSensitive(spec, "podManagementPolicy");
	if (!cJSON_IsString(pmp) || !pmp->valuestring[0]) {
		mk_api_v_required(causes, "spec.podManagementPolicy", NULL);
	} else if (strcmp(pmp->valuestring, pod_policies[0]) && strcmp(pmp->valuestring, pod_policies[1])) {
		mk_api_v_invalid(causes, "spec.podManagementPolicy", pmp,
				 "must be 'OrderedReady' or 'Parallel'");
	}
	validate_update_strategy(causes, spec);
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(spec, "persistentVolumeClaimRetentionPolicy");
	one_of(causes, pol, "whenDeleted", "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
	       retention, false);
	one_of(causes, pol, "whenScaled", "spec.persistentVolumeClaimRetentionPolicy.whenScaled",
	       retention, false);
	mk_api_v_non_negative(causes, spec, "replicas", "spec.replicas");
	mk_api_v_non_negative(causes, spec, "minReadySeconds", "spec.minReadySeconds");
	mk_api_v_non_negative(causes, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
	mk_api_v_non_negative(causes, cJSON_GetObjectItemCaseSensitive(spec, "ordinals"), "start",
		     "spec.ordinals.start");
	const cJSON *svc = cJSON_GetObjectItemCaseSensitive(spec, "serviceName");
	if (cJSON_IsString(svc) && svc->valuestring[0] && mk_api_check_dns1123_label(svc->valuestring))
		mk_api_v_invalid(causes, "spec.serviceName", svc,
				 mk_api_check_dns1123_label(svc->valuestring));

	_cleanup_cjson_ cJSON *vols = cJSON_CreateArray();
	validate_claim_templates(causes, spec, vols);
	mk_api_v_workload_template(causes, spec, "statefulset", vols);
	const cJSON *ads = mk_json_get(spec, "template.spec.activeDeadlineSeconds");
	if (ads && !cJSON_IsNull(ads))
		mk_api_v_forbidden(causes, "spec.template.spec.activeDeadlineSeconds",
				   "activeDeadlineSeconds in StatefulSet is not Supported");

	if (!old)
		return;
	/* ValidateStatefulSetUpdate: only these fields may change */
	static const char *const mutable_fields[] = { "replicas", "ordinals", "template",
						      "updateStrategy", "revisionHistoryLimit",
						      "persistentVolumeClaimRetentionPolicy",
						      "minReadySeconds" };
	const cJSON *old_spec = cJSON_GetObjectItemCaseSensitive(old, "spec");
	_cleanup_cjson_ cJSON *a = cJSON_Duplicate(spec, 1);
	_cleanup_cjson_ cJSON *b = cJSON_IsObject(old_spec) ? cJSON_Duplicate(old_spec, 1)
							    : cJSON_CreateObject();
	for (size_t i = 0; i < MK_ARRAY_SIZE(mutable_fields); i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(a, mutable_fields[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(b, mutable_fields[i]);
	}
	if (!cJSON_Compare(a, b, 1))
		mk_api_v_forbidden(causes, "spec",
				   "updates to statefulset spec for fields other than 'replicas', "
				   "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
				   "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
				   "forbidden");
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Ready", "string", "", "Number of the pods with ready state out of the desired replicas.", 0 },
	MK_API_AGE_COL,
	{ "Containers", "string", "", "Names of each container in the template.", 1 },
	{ "Images", "string", "", "Images referenced by each container in the template.", 1 },
};

static void sts_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	char buf[64];
	const cJSON *c;
	struct mk_buf names, images;

	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	snprintf(buf, sizeof(buf), "%d/%d", (int)mk_api_json_number(obj, "status.readyReplicas", 0),
		 (int)mk_api_json_number(obj, "spec.replicas", 0));
	mk_api_cell_str(cells, buf);
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_buf_init(&names);
	mk_buf_init(&images);
	mk_buf_puts(&names, "");
	mk_buf_puts(&images, "");
	cJSON_ArrayForEach(c, mk_json_get(obj, "spec.template.spec.containers"))
	{
		const char *n = mk_json_get_string(c, "name"), *im = mk_json_get_string(c, "image");
		mk_buf_printf(&names, "%s%s", names.len ? "," : "", n ? n : "");
		mk_buf_printf(&images, "%s%s", images.len ? "," : "", im ? im : "");
	}
	mk_api_cell_str(cells, names.data);
	mk_api_cell_str(cells, images.data);
	mk_buf_release(&names);
	mk_buf_release(&images);
}

const struct mk_api_kind_ops mk_api_statefulset_ops = {
	.defaults = sts_defaults,
	.validate = sts_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = sts_cells,
};
