/* Private helpers of the api package (not part of include/minik8s/api.h). */
#ifndef MINIK8S_API_INTERNAL_H
#define MINIK8S_API_INTERNAL_H

#include <stdbool.h>
#include <string.h>
#include "minik8s/api.h"

/* true if r is the resource of the given kind (r may be NULL). */
static inline bool mk_api_is_kind(const struct mk_api_resource *r, const char *kind)
{
	return r && r->kind && strcmp(r->kind, kind) == 0;
}

/* Number at path, or def when absent / not a number. */
static inline double mk_api_json_number(const cJSON *obj, const char *path, double def)
{
	const cJSON *j = mk_json_get(obj, path);
	return cJSON_IsNumber(j) ? j->valuedouble : def;
}

/* Sets key to item only when key is absent (or JSON null);
 * item is consumed either way. */
static inline void mk_api_json_default(cJSON *obj, const char *key, cJSON *item)
{
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cur && !cJSON_IsNull(cur)) {
		cJSON_Delete(item);
		return;
	}
	mk_json_set(obj, key, item);
}

/* true if the string at key is absent or "" (protobuf and kubectl send "" for unset). */
static inline bool mk_api_json_str_empty(const cJSON *obj, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	return !j || cJSON_IsNull(j) || (cJSON_IsString(j) && j->valuestring[0] == '\0');
}

/* v as compact JSON text, owned (free); "null" if it cannot be printed. For
 * values quoted in messages and annotations. */
static inline char *mk_api_json_text(const cJSON *v)
{
	char *t = cJSON_PrintUnformatted(v);
	char *r = mk_strdup(t ? t : "null");
	cJSON_free(t);
	return r;
}

/* status.phase of obj defaulted to phase when empty, status created when it
 * is not an object: a new volume's or claim's first phase. */
static inline void mk_api_default_phase(cJSON *obj, const char *phase)
{
	cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	if (!cJSON_IsObject(st)) {
		st = cJSON_CreateObject();
		mk_json_set(obj, "status", st);
	}
	if (mk_api_json_str_empty(st, "phase"))
		mk_json_set_string(st, "phase", phase);
}

/* The schema source texts, parsed by schema.c in this order: the core one
 * (schema_defs.c), then one per area of kinds (schema_<area>.c), so a new kind
 * adds its types in its own file. */
extern const char mk_api_schema_src[];
extern const char mk_api_schema_src_config[];	    /* ConfigMap, Secret */
extern const char mk_api_schema_src_storage[];	    /* PV, PVC, StorageClass */
extern const char mk_api_schema_src_daemonset[];   /* DaemonSet */
extern const char mk_api_schema_src_statefulset[]; /* StatefulSet */
extern const char mk_api_schema_src_batch[];	    /* Job, CronJob */
extern const char mk_api_schema_src_metrics[];	    /* metrics.k8s.io */
extern const char mk_api_schema_src_serviceaccount[]; /* ServiceAccount, TokenRequest */
extern const char mk_api_schema_src_rbac[];	/* Role, ClusterRole, bindings, reviews */
extern const char mk_api_schema_src_apiextensions[]; /* CustomResourceDefinition */
extern const char mk_api_schema_src_admission[];   /* LimitRange, ResourceQuota */
extern const char mk_api_schema_src_networking[];   /* NetworkPolicy */
static const char *const mk_api_schema_srcs[] = {
	mk_api_schema_src,	     mk_api_schema_src_config, mk_api_schema_src_storage,
	mk_api_schema_src_daemonset, mk_api_schema_src_statefulset, mk_api_schema_src_batch,
	mk_api_schema_src_metrics, mk_api_schema_src_serviceaccount,
	mk_api_schema_src_rbac,
	mk_api_schema_src_apiextensions,
	mk_api_schema_src_admission,
	mk_api_schema_src_networking,
};
/* ---- per-kind strategies -------------------------------------------------------
 * A kind that has its own file (pkg/api/kind_*.c) describes itself with one of
 * these; the generic defaulting, validation and Table code call it, so adding a
 * kind is a file and a line in the resource table, not a branch in each. */
struct mk_api_column {
	const char *name, *type, *format, *description;
	int priority; /* 1: shown by kubectl only with -o wide */
};
#define MK_API_NAME_COL { "Name", "string", "name", "Name of the object, unique within its namespace and kind.", 0 }
#define MK_API_AGE_COL { "Age", "string", "", "Time since the object was created (metadata.creationTimestamp).", 0 }

struct mk_api_kind_ops {
	void (*defaults)(cJSON *obj);					 /* may be NULL */
	void (*validate)(cJSON *causes, const cJSON *obj, const cJSON *old); /* old NULL on create */
	const struct mk_api_column *columns;
	size_t ncolumns;
	void (*cells)(cJSON *cells, const cJSON *obj, time_t now);	 /* one per column */
};

extern const struct mk_api_kind_ops mk_api_endpointslice_ops;
extern const struct mk_api_kind_ops mk_api_lease_ops;
extern const struct mk_api_kind_ops mk_api_daemonset_ops;
extern const struct mk_api_kind_ops mk_api_configmap_ops;
extern const struct mk_api_kind_ops mk_api_secret_ops;
extern const struct mk_api_kind_ops mk_api_serviceaccount_ops; /* kind_serviceaccount.c */

/* ConfigMap and Secret rules shared by both kinds (kind_configmap.c). */
#define MK_API_MAX_CONFIG_SIZE (1024 * 1024) /* data of one ConfigMap or Secret */
/* NULL if s is a valid config key ([-._a-zA-Z0-9]+, not '.', '..' or '..*'). */
const char *mk_api_check_config_key(const char *s);
/* -1 if s is strict padded standard base64 (*ret_len the decoded size, if not
 * NULL), else the offset of the first bad byte. */
long mk_api_base64_check(const char *s, size_t *ret_len);
/* Checks the keys (and with base64 the values) of the map m at field, adding the
 * value bytes to *total. */
void mk_api_validate_config_map_field(cJSON *causes, const cJSON *m, const char *field,
				      bool base64, size_t *total);
/* With old immutable: immutable and the fields listed may not change. */
void mk_api_validate_immutable_data(cJSON *causes, const cJSON *obj, const cJSON *old,
				    const char *const *fields);
/* A container's env[*].valueFrom and envFrom[*] (base: the container's path). */
void mk_api_validate_env_sources(cJSON *causes, const cJSON *container, const char *base,
				 const char *(*check_env_name)(const char *));
extern const struct mk_api_kind_ops mk_api_job_ops;	/* kind_job.c */
extern const struct mk_api_kind_ops mk_api_cronjob_ops; /* kind_cronjob.c */
extern const struct mk_api_kind_ops mk_api_statefulset_ops;
extern const struct mk_api_kind_ops mk_api_controllerrevision_ops;
extern const struct mk_api_kind_ops mk_api_pv_ops;
extern const struct mk_api_kind_ops mk_api_pvc_ops;
extern const struct mk_api_kind_ops mk_api_storageclass_ops;
/* kind_rbac.c */
extern const struct mk_api_kind_ops mk_api_role_ops;
extern const struct mk_api_kind_ops mk_api_clusterrole_ops;
extern const struct mk_api_kind_ops mk_api_rolebinding_ops;
extern const struct mk_api_kind_ops mk_api_clusterrolebinding_ops;
extern const struct mk_api_kind_ops mk_api_crd_ops; /* kind_crd.c */

/* The resource table's snapshots (resource.c, crd.c): immutable once published,
 * never freed (see api.h). */
struct mk_api_snapshot {
	uint64_t gen;
	const struct mk_api_snapshot *prev; /* the retired ones, kept (see api.h) */
	size_t n;
	struct mk_api_resource rows[];
};
void mk_api_snapshot_publish(const struct mk_api_snapshot *s);
const struct mk_api_resource *mk_api_builtin_resources(size_t *n);
/* Custom resources' strategy (crd.c): defaults and validation from the
 * version's schema, Table columns from additionalPrinterColumns. */
void mk_api_cr_default(const struct mk_api_resource *r, cJSON *obj);
void mk_api_cr_validate(const struct mk_api_resource *r, cJSON *causes, const cJSON *obj,
			const cJSON *old);
const struct mk_api_column *mk_api_cr_columns(const struct mk_api_resource *r, size_t *n);
void mk_api_cr_cells(const struct mk_api_resource *r, cJSON *cells, const cJSON *obj,
		     time_t now);
/* A simple JSONPath (.a.b, .a[0], .a[?(@.k=="v")].b) in obj: the first match
 * (borrowed) or NULL. */
const cJSON *mk_api_jsonpath_get(const cJSON *obj, const char *path);
/* Adds to defs (an OpenAPI definitions / components.schemas object) the schema
 * of every custom kind served, named as kube-apiserver names them (the group
 * reversed: "com.example.stable.v1.CronTab"), and its list. */
void mk_api_cr_openapi_add(cJSON *defs, const char *ref_prefix, bool v3);
/* The openAPIV3Schema of the custom kind group/version/kind, or NULL (borrowed). */
const cJSON *mk_api_cr_schema(const char *group, const char *version, const char *kind);
extern const struct mk_api_kind_ops mk_api_limitrange_ops;	/* kind_limitrange.c */
extern const struct mk_api_kind_ops mk_api_resourcequota_ops; /* kind_resourcequota.c */
extern const struct mk_api_kind_ops mk_api_networkpolicy_ops; /* kind_networkpolicy.c */
/* NULL if s is a valid port name (IANA_SVC_NAME), else why not (validate.c). */
const char *mk_api_check_port_name(const char *s);

/* Storage checks shared by PV, PVC and StorageClass (kind_pv.c, kind_pvc.c). */
/* a and b equal, absent and JSON null counting as the same (cJSON_Compare says
 * two NULLs differ). */
bool mk_api_json_same(const cJSON *a, const cJSON *b);
void mk_api_v_access_modes(cJSON *causes, const cJSON *modes, const char *field);
void mk_api_v_enum(cJSON *causes, const cJSON *obj, const char *key, const char *field,
		   const char *const *allowed);
void mk_api_v_class_name(cJSON *causes, const cJSON *obj, const char *field);
void mk_api_v_positive_quantity(cJSON *causes, const cJSON *q, const char *field);
/* A claim's spec at path base ("spec", or a StatefulSet's template spec path). */
void mk_api_v_pvc_spec(cJSON *causes, const cJSON *spec, const char *base);
/* "RWO,ROX,RWX,RWOP" as kubectl abbreviates access modes (owned). */
char *mk_api_access_modes_string(const cJSON *modes);

/* Table cells (table.c). */
void mk_api_cell_str(cJSON *cells, const char *s);
void mk_api_cell_age(cJSON *cells, const char *timestamp, time_t now);
void mk_api_cell_int(cJSON *cells, long long v);
/* labels.FormatLabels ("k=v,..." sorted, "<none>" when empty) */
void mk_api_cell_labels(cJSON *cells, const cJSON *labels);
/* metav1.FormatLabelSelector ("<none>" when empty) */
void mk_api_cell_selector(cJSON *cells, const cJSON *sel);
/* two cells: the containers' names and images, comma-joined */
void mk_api_cell_containers_images(cJSON *cells, const cJSON *containers);

/* The -o wide cells of a workload: Containers, Images (of spec.template) and
 * Selector (spec.selector), spec being the workload's spec. */
void mk_api_cell_workload_wide(cJSON *cells, const cJSON *spec);

/* Pod templates of workloads (defaults.c): the pod spec defaults (restartPolicy
 * Always when unset, as SetDefaults_PodSpec). */
void mk_api_default_pod_template(cJSON *tmpl);

/* Validation causes worded as kube-apiserver's field errors (validate.c). */
void mk_api_v_required(cJSON *causes, const char *field, const char *detail);
void mk_api_v_invalid(cJSON *causes, const char *field, const cJSON *value, const char *detail);
void mk_api_v_not_supported(cJSON *causes, const char *field, const char *value,
			    const char *const *supported);
void mk_api_v_duplicate(cJSON *causes, const char *field, const cJSON *value);
void mk_api_v_too_many(cJSON *causes, const char *field, int have, int max);
/* parent.key, when present and not null: an integer, not negative (field names it). */
void mk_api_v_non_negative(cJSON *causes, const cJSON *parent, const char *key, const char *field);
/* A pod template at prefix ("spec.template"): its labels, annotations and pod
 * spec, with restartPolicy one of allowed_restart (NULL-terminated). */
void mk_api_v_pod_template(cJSON *causes, const cJSON *tmpl, const char *prefix,
			   const char *const *allowed_restart);
/* A JobSpec at prefix (kind_job.c): "spec" of a Job (is_job: the selector is
 * required), "spec.jobTemplate.spec" of a CronJob. */
void mk_api_v_job_spec(cJSON *causes, const cJSON *spec, const char *prefix, bool is_job);
/* A metav1.LabelSelector at field; true if it was valid. */
bool mk_api_v_label_selector(cJSON *causes, const cJSON *sel, const char *field);
/* true when the label selector (JSON) selects labels. */
bool mk_api_selector_matches_json(const cJSON *sel, const cJSON *labels);
/* Field is immutable: a Invalid cause when old and new differ. */
void mk_api_v_immutable(cJSON *causes, const char *field, const cJSON *value, const cJSON *old_value);
void mk_api_v_forbidden(cJSON *causes, const char *field, const char *detail);
/* spec.selector (required, non-empty, matching the template's labels, immutable
 * when old_spec is given) and spec.template (a pod template with restartPolicy
 * Always), as the apps kinds validate them; kind_word ends "empty selector is
 * invalid for ...". */
void mk_api_v_selector_template(cJSON *causes, const cJSON *spec, const cJSON *old_spec,
				const char *kind_word);
/* IntOrString >= 0 or "N%" (at most 100%); *ret_zero when 0, "0%" or absent. */
void mk_api_v_int_or_percent(cJSON *causes, const cJSON *v, const char *field, bool *ret_zero);

/* validate_podres.c: resources and securityContext of a container at base
 * ("spec.containers[0]") and of the pod spec at prefix ("spec") */
void mk_api_v_container_node_asks(cJSON *causes, const cJSON *c, const char *base);
void mk_api_v_pod_node_asks(cJSON *causes, const cJSON *spec, const char *prefix);
/* IntOrString >= 0 or "N%" (at most 100% with max_100); *ret_zero: it is 0 or 0%. */
/* A workload's spec.selector and spec.template, the template's volumes extended
 * by extra_volumes (a StatefulSet's claims) (validate.c). */
void mk_api_v_workload_template(cJSON *causes, const cJSON *spec, const char *what,
				const cJSON *extra_volumes);

#endif
