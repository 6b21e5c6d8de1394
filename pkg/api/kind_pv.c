/* core/v1 PersistentVolume: defaults, validation and Table columns as
 * kube-apiserver has them (pkg/apis/core/v1/defaults.go, core/validation's
 * ValidatePersistentVolume, printers.go). Also the helpers the claim and the
 * class share: access modes and storage sizes. */
#include <string.h>
#include "internal.h"

static const char *const access_modes[] = { "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
					    "ReadWriteOncePod", NULL };
static const char *const volume_modes[] = { "Block", "Filesystem", NULL };
static const char *const reclaim_policies[] = { "Delete", "Recycle", "Retain", NULL };
static const char *const node_ops[] = { "DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn", NULL };

/* PV sources minik8s knows of (one of them must be set, and only one). */
static const char *const sources[] = { "hostPath", "local", "nfs", "csi", "iscsi", "fc",
				       "awsElasticBlockStore", "gcePersistentDisk", "azureDisk",
				       "azureFile", "cephfs", "rbd", "glusterfs", "flexVolume" };

static bool in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

bool mk_api_json_same(const cJSON *a, const cJSON *b)
{
	bool na = !a || cJSON_IsNull(a), nb = !b || cJSON_IsNull(b);
	if (na || nb)
		return na && nb;
	return cJSON_Compare(a, b, 1);
}

void mk_api_v_access_modes(cJSON *causes, const cJSON *modes, const char *field)
{
	char f[128];
	const cJSON *m;
	bool rwop = false;
	int n = 0;

	if (cJSON_GetArraySize(modes) == 0) {
		mk_api_v_required(causes, field, "at least 1 access mode is required");
		return;
	}
	cJSON_ArrayForEach(m, modes)
	{
		snprintf(f, sizeof(f), "%s", field);
		if (!cJSON_IsString(m)) {
			mk_api_v_invalid(causes, f, m, "must be a string");
			continue;
		}
		if (!in_list(m->valuestring, access_modes))
			mk_api_v_not_supported(causes, f, m->valuestring, access_modes);
		rwop |= !strcmp(m->valuestring, "ReadWriteOncePod");
		n++;
	}
	if (rwop && n > 1)
		mk_api_cause_add(causes, "FieldValueForbidden", field,
				 "Forbidden: may not use ReadWriteOncePod with other access modes");
}

void mk_api_v_enum(cJSON *causes, const cJSON *obj, const char *key, const char *field,
		   const char *const *allowed)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v))
		return;
	if (!cJSON_IsString(v))
		mk_api_v_invalid(causes, field, v, "must be a string");
	else if (!in_list(v->valuestring, allowed))
		mk_api_v_not_supported(causes, field, v->valuestring, allowed);
}

void mk_api_v_class_name(cJSON *causes, const cJSON *obj, const char *field)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, "storageClassName");
	if (!c || cJSON_IsNull(c))
		return;
	if (!cJSON_IsString(c))
		mk_api_v_invalid(causes, field, c, "must be a string");
	else if (c->valuestring[0] && mk_api_check_dns1123_subdomain(c->valuestring))
		mk_api_v_invalid(causes, field, c, mk_api_check_dns1123_subdomain(c->valuestring));
}

void mk_api_v_positive_quantity(cJSON *causes, const cJSON *q, const char *field)
{
	int64_t v = mk_api_quantity_value(q);
	if (v < 0 && !(cJSON_IsString(q) && q->valuestring[0] == '-'))
		mk_api_v_invalid(causes, field, q,
				 "quantities must match the regular expression "
				 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	else if (v <= 0)
		mk_api_v_invalid(causes, field, q, "must be greater than zero");
}

/* kubectl's short form: RWO,ROX,RWX,RWOP in that order, each once. */
char *mk_api_access_modes_string(const cJSON *modes)
{
	static const struct {
		const char *mode, *abbr;
	} ab[] = { { "ReadWriteOnce", "RWO" }, { "ReadOnlyMany", "ROX" },
		   { "ReadWriteMany", "RWX" }, { "ReadWriteOncePod", "RWOP" } };
	struct mk_buf b;
	mk_buf_init(&b);
	for (size_t i = 0; i < MK_ARRAY_SIZE(ab); i++) {
		const cJSON *m;
		cJSON_ArrayForEach(m, modes)
		{
			if (cJSON_IsString(m) && !strcmp(m->valuestring, ab[i].mode)) {
				mk_buf_printf(&b, "%s%s", b.len ? "," : "", ab[i].abbr);
				break;
			}
		}
	}
	char *s = mk_strdup(b.data ? b.data : "");
	mk_buf_release(&b);
	return s;
}

/* ---- PersistentVolume -------------------------------------------------------- */

/* true when a component of path is ".." */
static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static void pv_defaults(cJSON *obj)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (cJSON_IsObject(spec)) {
		mk_api_json_default(spec, "persistentVolumeReclaimPolicy", cJSON_CreateString("Retain"));
		mk_api_json_default(spec, "volumeMode", cJSON_CreateString("Filesystem"));
	}
	mk_api_default_phase(obj, "Pending");
}

static void validate_node_selector(cJSON *causes, const cJSON *ns, const char *base)
{
	char f[256];
	const cJSON *terms = cJSON_GetObjectItemCaseSensitive(ns, "nodeSelectorTerms");
	int nt = cJSON_GetArraySize(terms);
	snprintf(f, sizeof(f), "%s.nodeSelectorTerms", base);
	if (nt == 0) {
		mk_api_v_required(causes, f, "must have at least one node selector term");
		return;
	}
	for (int i = 0; i < nt; i++) {
		const cJSON *t = cJSON_GetArrayItem(terms, i);
		const char *kinds[] = { "matchExpressions", "matchFields" };
		for (size_t k = 0; k < MK_ARRAY_SIZE(kinds); k++) {
			const cJSON *e;
			int j = 0;
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, kinds[k]))
			{
				char eb[200];
				snprintf(eb, sizeof(eb), "%s.nodeSelectorTerms[%d].%s[%d]", base, i,
					 kinds[k], j++);
				const cJSON *key = cJSON_GetObjectItemCaseSensitive(e, "key");
				const cJSON *op = cJSON_GetObjectItemCaseSensitive(e, "operator");
				int nv = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "values"));
				snprintf(f, sizeof(f), "%s.key", eb);
				if (!cJSON_IsString(key) || !key->valuestring[0])
					mk_api_v_required(causes, f, NULL);
				else if (mk_api_check_label_key(key->valuestring))
					mk_api_v_invalid(causes, f, key, mk_api_check_label_key(key->valuestring));
				snprintf(f, sizeof(f), "%s.operator", eb);
				if (!cJSON_IsString(op) || !op->valuestring[0]) {
					mk_api_v_required(causes, f, NULL);
					continue;
				}
				if (!in_list(op->valuestring, node_ops)) {
					mk_api_v_invalid(causes, f, op, "not a valid selector operator");
					continue;
				}
				snprintf(f, sizeof(f), "%s.values", eb);
				const char *o = op->valuestring;
				if ((!strcmp(o, "In") || !strcmp(o, "NotIn")) && nv == 0)
					mk_api_v_required(causes, f,
							  "must be specified when `operator` is 'In' or 'NotIn'");
				else if ((!strcmp(o, "Exists") || !strcmp(o, "DoesNotExist")) && nv > 0)
					mk_api_cause_add(causes, "FieldValueForbidden", f,
							 "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
				else if ((!strcmp(o, "Gt") || !strcmp(o, "Lt")) && nv != 1)
					mk_api_v_required(causes, f,
							  "must be specified single value when `operator` is 'Lt' or 'Gt'");
			}
		}
	}
}

/* spec.capacity: storage only, a positive quantity. */
static void pv_validate_capacity(cJSON *causes, const cJSON *spec)
{
	const cJSON *cap = cJSON_GetObjectItemCaseSensitive(spec, "capacity");
	const cJSON *c;
	static const char *const storage_only[] = { "storage", NULL };

	if (cJSON_GetArraySize(cap) == 0) {
		mk_api_v_required(causes, "spec.capacity", NULL);
	} else if (!cJSON_GetObjectItemCaseSensitive(cap, "storage") || cJSON_GetArraySize(cap) > 1) {
		cJSON_ArrayForEach(c, cap) if (strcmp(c->string, "storage"))
			mk_api_v_not_supported(causes, "spec.capacity", c->string, storage_only);
		if (!cJSON_GetObjectItemCaseSensitive(cap, "storage"))
			mk_api_v_required(causes, "spec.capacity[storage]", NULL);
	}
	cJSON_ArrayForEach(c, cap)
	{
		char f[128];
		snprintf(f, sizeof(f), "spec.capacity[%s]", c->string);
		if (!strcmp(c->string, "storage"))
			mk_api_v_positive_quantity(causes, c, f);
	}
}

/* The volume source: exactly one; hostPath and local paths absolute, without '..'. */
static void pv_validate_source(cJSON *causes, const cJSON *spec)
{
	int nsrc = 0;
	for (size_t i = 0; i < MK_ARRAY_SIZE(sources); i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(spec, sources[i]);
		if (!s || cJSON_IsNull(s))
			continue;
		if (nsrc++) {
			char f[64];
			snprintf(f, sizeof(f), "spec.%s", sources[i]);
			mk_api_cause_add(causes, "FieldValueForbidden", f,
					 "Forbidden: may not specify more than 1 volume type");
		}
	}
	if (nsrc == 0)
		mk_api_v_required(causes, "spec", "must specify a volume type");
	const char *keys[] = { "hostPath", "local" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(spec, keys[i]);
		if (!src || cJSON_IsNull(src))
			continue;
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(src, "path");
		char f[64];
		snprintf(f, sizeof(f), "spec.%s.path", keys[i]);
		if (!cJSON_IsString(p) || !p->valuestring[0])
			mk_api_v_required(causes, f, NULL);
		else if (p->valuestring[0] != '/')
			mk_api_v_invalid(causes, f, p, "must be an absolute path");
		else if (has_dotdot(p->valuestring))
			mk_api_v_invalid(causes, f, p, "must not contain '..'");
	}
}

/* An update: the source, volumeMode and a set nodeAffinity are immutable. */
static void pv_validate_update(cJSON *causes, const cJSON *spec, const cJSON *old)
{
	const cJSON *ospec = cJSON_GetObjectItemCaseSensitive(old, "spec");
	for (size_t i = 0; i < MK_ARRAY_SIZE(sources); i++) {
		if (!mk_api_json_same(cJSON_GetObjectItemCaseSensitive(spec, sources[i]),
				      cJSON_GetObjectItemCaseSensitive(ospec, sources[i]))) {
			mk_api_cause_add(causes, "FieldValueForbidden", "spec.persistentvolumesource",
					 "Forbidden: spec.persistentvolumesource is immutable after creation");
			break;
		}
	}
	const cJSON *vm = cJSON_GetObjectItemCaseSensitive(spec, "volumeMode");
	if (!mk_api_json_same(vm, cJSON_GetObjectItemCaseSensitive(ospec, "volumeMode")))
		mk_api_v_invalid(causes, "spec.volumeMode", vm, "field is immutable");
	const cJSON *na = cJSON_GetObjectItemCaseSensitive(spec, "nodeAffinity");
	const cJSON *ona = cJSON_GetObjectItemCaseSensitive(ospec, "nodeAffinity");
	if (ona && !cJSON_IsNull(ona) && !mk_api_json_same(na, ona))
		mk_api_v_invalid(causes, "spec.nodeAffinity", na, "field is immutable");
}

static void pv_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	pv_validate_capacity(causes, spec);
	mk_api_v_access_modes(causes, cJSON_GetObjectItemCaseSensitive(spec, "accessModes"),
			      "spec.accessModes");
	mk_api_v_enum(causes, spec, "persistentVolumeReclaimPolicy",
		      "spec.persistentVolumeReclaimPolicy", reclaim_policies);
	mk_api_v_enum(causes, spec, "volumeMode", "spec.volumeMode", volume_modes);
	mk_api_v_class_name(causes, spec, "spec.storageClassName");
	pv_validate_source(causes, spec);
	const cJSON *na = cJSON_GetObjectItemCaseSensitive(spec, "nodeAffinity");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(na, "required");
	if (req && !cJSON_IsNull(req))
		validate_node_selector(causes, req, "spec.nodeAffinity.required");
	const cJSON *local = cJSON_GetObjectItemCaseSensitive(spec, "local");
	if (local && !cJSON_IsNull(local) && (!req || cJSON_IsNull(req)))
		mk_api_v_required(causes, "spec.nodeAffinity", "Local volume requires node affinity");
	const cJSON *cr = cJSON_GetObjectItemCaseSensitive(spec, "claimRef");
	if (cJSON_IsObject(cr)) {
		const cJSON *cn = cJSON_GetObjectItemCaseSensitive(cr, "name");
		if (!cJSON_IsString(cn) || !cn->valuestring[0])
			mk_api_v_required(causes, "spec.claimRef.name", NULL);
		const cJSON *cns = cJSON_GetObjectItemCaseSensitive(cr, "namespace");
		if (!cJSON_IsString(cns) || !cns->valuestring[0])
			mk_api_v_required(causes, "spec.claimRef.namespace", NULL);
	}
	if (old)
		pv_validate_update(causes, spec, old);
}

static const struct mk_api_column pv_columns[] = {
	MK_API_NAME_COL,
	{ "Capacity", "string", "", "The size of the volume (spec.capacity.storage).", 0 },
	{ "Access Modes", "string", "", "How the volume can be mounted (RWO, ROX, RWX, RWOP).", 0 },
	{ "Reclaim Policy", "string", "", "What happens to the volume when its claim goes.", 0 },
	{ "Status", "string", "", "The phase of the volume.", 0 },
	{ "Claim", "string", "", "The claim bound to the volume, as namespace/name.", 0 },
	{ "StorageClass", "string", "", "The class of the volume.", 0 },
	{ "VolumeAttributesClass", "string", "", "The VolumeAttributesClass of the volume.", 0 },
	{ "Reason", "string", "", "Why the volume is in its phase (status.reason).", 0 },
	MK_API_AGE_COL,
	{ "VolumeMode", "string", "", "Filesystem or Block.", 1 },
};

static void pv_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const char *phase = mk_json_get_string(obj, "status.phase");
	const char *cns = mk_json_get_string(spec, "claimRef.namespace");
	const char *cn = mk_json_get_string(spec, "claimRef.name");
	const cJSON *cap = mk_json_get(spec, "capacity.storage");
	const char *vac = mk_json_get_string(spec, "volumeAttributesClassName");
	const char *vm = mk_json_get_string(spec, "volumeMode");
	_cleanup_free_ char *modes = mk_api_access_modes_string(cJSON_GetObjectItemCaseSensitive(spec, "accessModes"));
	_cleanup_free_ char *claim = cn ? mk_strdup_printf("%s/%s", cns ? cns : "", cn) : NULL;
	_cleanup_free_ char *capn = cJSON_IsNumber(cap) ? mk_strdup_printf("%g", cap->valuedouble) : NULL;

	if (mk_json_get(obj, "metadata.deletionTimestamp"))
		phase = "Terminating";
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, capn ? capn : cJSON_IsString(cap) ? cap->valuestring : "0");
	mk_api_cell_str(cells, modes);
	mk_api_cell_str(cells, mk_json_get_string(spec, "persistentVolumeReclaimPolicy"));
	mk_api_cell_str(cells, phase);
	mk_api_cell_str(cells, claim);
	mk_api_cell_str(cells, mk_json_get_string(spec, "storageClassName"));
	mk_api_cell_str(cells, vac ? vac : "<unset>");
	mk_api_cell_str(cells, mk_json_get_string(obj, "status.reason"));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_api_cell_str(cells, vm ? vm : "<unset>");
}

const struct mk_api_kind_ops mk_api_pv_ops = {
	.defaults = pv_defaults,
	.validate = pv_validate,
	.columns = pv_columns,
	.ncolumns = MK_ARRAY_SIZE(pv_columns),
	.cells = pv_cells,
};
