/* storage.k8s.io/v1 StorageClass: defaults, validation and Table columns as
 * kube-apiserver has them (pkg/apis/storage/v1/defaults.go, storage/validation,
 * printers.go). The class marked with storageclass.kubernetes.io/is-default-class
 * is the one claims without a class get. */
#include <string.h>
#include "internal.h"

#define DEFAULT_ANN "storageclass.kubernetes.io/is-default-class"
#define BETA_DEFAULT_ANN "storageclass.beta.kubernetes.io/is-default-class"
#define MAX_PARAMETERS_BYTES (256 * 1024)
#define MAX_PARAMETERS 512

static const char *const reclaim_policies[] = { "Delete", "Retain", NULL };
static const char *const binding_modes[] = { "Immediate", "WaitForFirstConsumer", NULL };

bool mk_api_storageclass_is_default(const cJSON *sc)
{
	const cJSON *ann = mk_json_get(sc, "metadata.annotations");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ann, DEFAULT_ANN);
	if (!v)
		v = cJSON_GetObjectItemCaseSensitive(ann, BETA_DEFAULT_ANN);
	return cJSON_IsString(v) && !strcmp(v->valuestring, "true");
}

static void sc_defaults(cJSON *obj)
{
	mk_api_json_default(obj, "reclaimPolicy", cJSON_CreateString("Delete"));
	mk_api_json_default(obj, "volumeBindingMode", cJSON_CreateString("Immediate"));
}

static void sc_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "provisioner");
	if (!cJSON_IsString(p) || !p->valuestring[0])
		mk_api_v_required(causes, "provisioner", NULL);
	else if (mk_api_check_label_key(p->valuestring))
		mk_api_v_invalid(causes, "provisioner", p, mk_api_check_label_key(p->valuestring));
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(obj, "parameters"), *kv;
	size_t total = 0;
	int n = 0;
	cJSON_ArrayForEach(kv, params)
	{
		n++;
		total += strlen(kv->string) + (cJSON_IsString(kv) ? strlen(kv->valuestring) : 0);
		if (!kv->string[0])
			mk_api_v_invalid(causes, "parameters", kv, "field can not be empty.");
	}
	if (n > MAX_PARAMETERS)
		mk_api_v_too_many(causes, "parameters", n, MAX_PARAMETERS);
	if (total > MAX_PARAMETERS_BYTES)
		mk_api_cause_add(causes, "FieldValueTooLong", "parameters",
				 "Too long: may not be more than %d bytes", MAX_PARAMETERS_BYTES);
	mk_api_v_enum(causes, obj, "reclaimPolicy", "reclaimPolicy", reclaim_policies);
	const cJSON *bm = cJSON_GetObjectItemCaseSensitive(obj, "volumeBindingMode");
	if (!bm || cJSON_IsNull(bm))
		mk_api_v_required(causes, "volumeBindingMode", NULL);
	else
		mk_api_v_enum(causes, obj, "volumeBindingMode", "volumeBindingMode", binding_modes);
	const cJSON *ave = cJSON_GetObjectItemCaseSensitive(obj, "allowVolumeExpansion");
	if (ave && !cJSON_IsNull(ave) && !cJSON_IsBool(ave))
		mk_api_v_invalid(causes, "allowVolumeExpansion", ave, "must be a boolean");
	if (!old)
		return;
	if (!mk_api_json_same(params, cJSON_GetObjectItemCaseSensitive(old, "parameters")))
		mk_api_cause_add(causes, "FieldValueForbidden", "parameters",
				 "Forbidden: updates to parameters are forbidden.");
	if (!mk_api_json_same(p, cJSON_GetObjectItemCaseSensitive(old, "provisioner")))
		mk_api_cause_add(causes, "FieldValueForbidden", "provisioner",
				 "Forbidden: updates to provisioner are forbidden.");
	if (!mk_api_json_same(cJSON_GetObjectItemCaseSensitive(obj, "reclaimPolicy"),
			      cJSON_GetObjectItemCaseSensitive(old, "reclaimPolicy")))
		mk_api_cause_add(causes, "FieldValueForbidden", "reclaimPolicy",
				 "Forbidden: updates to reclaimPolicy are forbidden.");
	if (!mk_api_json_same(bm, cJSON_GetObjectItemCaseSensitive(old, "volumeBindingMode")))
		mk_api_v_invalid(causes, "volumeBindingMode", bm, "field is immutable");
}

static const struct mk_api_column sc_columns[] = {
	MK_API_NAME_COL,
	{ "Provisioner", "string", "", "Name of the provisioner that makes the volumes.", 0 },
	{ "ReclaimPolicy", "string", "", "Reclaim policy of the volumes made.", 0 },
	{ "VolumeBindingMode", "string", "", "When claims of the class are bound.", 0 },
	{ "AllowVolumeExpansion", "string", "", "Whether claims of the class may grow.", 0 },
	MK_API_AGE_COL,
};

static void sc_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const char *name = mk_json_get_string(obj, "metadata.name");
	const char *rp = mk_json_get_string(obj, "reclaimPolicy");
	const char *bm = mk_json_get_string(obj, "volumeBindingMode");
	_cleanup_free_ char *shown = mk_api_storageclass_is_default(obj)
					     ? mk_strdup_printf("%s (default)", name ? name : "")
					     : NULL;
	mk_api_cell_str(cells, shown ? shown : name);
	mk_api_cell_str(cells, mk_json_get_string(obj, "provisioner"));
	mk_api_cell_str(cells, rp ? rp : "Delete");
	mk_api_cell_str(cells, bm ? bm : "Immediate");
	cJSON_AddItemToArray(cells, cJSON_CreateBool(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		obj, "allowVolumeExpansion"))));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_storageclass_ops = {
	.defaults = sc_defaults,
	.validate = sc_validate,
	.columns = sc_columns,
	.ncolumns = MK_ARRAY_SIZE(sc_columns),
	.cells = sc_cells,
};
