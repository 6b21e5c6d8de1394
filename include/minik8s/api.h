/* minik8s api: the object model over cJSON.
 *
 * Resource registry (kinds, discovery facts), defaulting, validation, label and
 * field selectors, merge / JSON / strategic-merge patch, Status errors, Table
 * output, and the protobuf request decoder. All functions are pure: no I/O, no
 * globals that change. Objects are cJSON trees; ownership is stated per function.
 */
#ifndef MINIK8S_API_H
#define MINIK8S_API_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"

/* ---- resources ------------------------------------------------------------ */

struct mk_api_resource {
	const char *name;		/* plural, "pods"; also the store key */
	const char *singular;		/* "pod" */
	const char *kind;		/* "Pod" */
	const char *group;		/* "" (core) or "apps" */
	const char *version;		/* "v1" */
	const char *group_version;	/* "v1" or "apps/v1" (apiVersion) */
	bool namespaced;
	const char *const *short_names;	/* NULL-terminated, may be NULL */
	const char *const *verbs;	/* NULL-terminated */
	bool has_status;		/* has a /status subresource */
	bool has_scale;			/* has a /scale subresource */
	/* The kind's strategy (defaults, validation, table), in its own file
	 * pkg/api/kind_*.c; NULL for the kinds the generic code still handles. */
	const struct mk_api_kind_ops *ops;
	/* Stored encrypted when the server runs with --secrets-encryption. */
	bool encrypt_at_rest;
	/* Kind facts the generic handlers read instead of naming kinds (issue 16):
	 * metadata.generation counts spec changes; the status a new object starts
	 * with (JSON text; "null" drops the client's; NULL keeps it); the discovery
	 * categories ("all"), NULL-terminated, may be NULL. */
	bool spec_generation;
	const char *initial_status;
	const char *const *categories;
	/* Custom resources (pkg/api/crd.c): the store collection ("plural.group", so a
	 * custom "pods" never meets the built-in one; NULL: name) and the definition
	 * the row was made from (NULL for built-in kinds). */
	const char *store_key;
	const struct mk_api_crd *crd;
};

/* All resources served, in discovery order; *n set to the count. */
const struct mk_api_resource *mk_api_resources(size_t *n);
/* Looks up by group ("" core), version and plural name; NULL if unknown. */
const struct mk_api_resource *mk_api_resource_find(const char *group, const char *version,
						   const char *name);
/* Looks up by kind ("Deployment") and apiVersion ("apps/v1"); NULL if unknown. */
const struct mk_api_resource *mk_api_resource_by_kind(const char *api_version,
						      const char *kind);

/* The store collection of r: r->store_key, or r->name for built-in kinds. */
static inline const char *mk_api_resource_store(const struct mk_api_resource *r)
{
	return r->store_key ? r->store_key : r->name;
}
/* Generation of the resource table: bumped each time the served custom
 * resources change (0: the built-in rows only); a cache of anything derived
 * from the table is valid while it stays the same. */
uint64_t mk_api_resources_generation(void);

/* ---- custom resources (crd.c, crd_schema.c) -------------------------------- */

/* The resource table is dynamic: the built-in rows plus one row per served
 * version of every established CustomResourceDefinition. It is an immutable
 * snapshot published with an atomic pointer store (readers take no lock and
 * never block: a lookup is a load and a scan); writers serialise on a mutex and
 * build a new snapshot. A row handed out stays valid for the life of the
 * process: retired snapshots are kept (a few KB per CRD change, which is rare),
 * so no reader needs a reference count. */

/* Replaces the custom rows by those of crds (n CustomResourceDefinition objects,
 * borrowed). Only established versions are served (status condition Established
 * True, set by mk_api_crd_status). Returns the new generation. */
uint64_t mk_api_crd_registry_set(cJSON *const *crds, size_t n);
/* Recomputes crd's status (borrowed others: the other stored CRDs, n of them) as
 * kube-apiextensions' controllers would: acceptedNames and NamesAccepted (a plural
 * or kind taken in the group by an older CRD is a conflict), Established,
 * storedVersions (the storage version added), Terminating while it is being
 * deleted. obj mutated. */
void mk_api_crd_status(cJSON *crd, cJSON *const *others, size_t n);
/* The CRD of a custom resource row: its name ("plural.group") and storage version. */
const char *mk_api_crd_name(const struct mk_api_crd *c);
const char *mk_api_crd_storage_version(const struct mk_api_crd *c);
/* The served version object (spec.versions[i]) of the row r, or NULL (borrowed). */
const cJSON *mk_api_crd_version(const struct mk_api_resource *r);
/* The Warning header text of a deprecated version ("299 - ..."), owned, or NULL. */
char *mk_api_crd_deprecation_warning(const struct mk_api_resource *r);
/* Scale subresource paths of r (".spec.replicas"...), NULL when not set. */
const char *mk_api_crd_scale_path(const struct mk_api_resource *r, const char *which);
/* Whether the definition is being deleted (its kind takes no new objects). */
bool mk_api_crd_terminating(const struct mk_api_crd *c);
/* true for the CustomResourceDefinition resource itself. */
static inline bool mk_api_is_crd_kind(const struct mk_api_resource *r)
{
	return r && !r->crd && !strcmp(r->name, "customresourcedefinitions") &&
	       !strcmp(r->group, "apiextensions.k8s.io");
}
/* A stored custom resource (text) as served by row r: apiVersion set to r's
 * (conversion None) and the schema's defaults applied, as kube-apiserver does on
 * read. Owned text, or NULL when json does not parse. */
char *mk_api_cr_from_storage(const struct mk_api_resource *r, const char *json);
/* Sets obj's apiVersion to the storage version of r's definition. */
void mk_api_cr_to_storage(const struct mk_api_resource *r, cJSON *obj);
/* Whether obj's metadata.finalizers holds name (meta.c). */
bool mk_api_finalizer_has(const cJSON *obj, const char *name);
/* A new object the server makes itself (meta.c), ready for the store: apiVersion,
 * kind, metadata.name, metadata.namespace (ns NULL: cluster-scoped, none), a fresh
 * metadata.uid and creationTimestamp (now). Owned. */
cJSON *mk_api_object_new(const char *api_version, const char *kind, const char *ns,
			 const char *name);
/* The finalizer that makes a CRD delete its objects before it goes. */
#define MK_API_CRD_CLEANUP_FINALIZER "customresourcecleanup.apiextensions.k8s.io"

/* Structural schemas (openAPIV3Schema), crd_schema.c. path: the field path of v
 * ("" for the root). Causes worded as kube-apiserver's ("spec.replicas: Invalid
 * value: \"string\": spec.replicas in body must be of type integer: \"string\""). */
void mk_api_crd_schema_validate(const cJSON *schema, const cJSON *v, const char *path,
				cJSON *causes);
/* Applies the schema's defaults to v (absent fields below present objects). */
void mk_api_crd_schema_default(const cJSON *schema, cJSON *v);
/* The fields of v the schema does not know (x-kubernetes-preserve-unknown-fields
 * keeps them), appended to unknown (paths, may be NULL); removed with prune. At
 * the root (and of x-kubernetes-embedded-resource objects) apiVersion, kind and
 * metadata are always known. */
void mk_api_crd_schema_prune(const cJSON *schema, cJSON *v, const char *path, cJSON *unknown,
			     bool prune, bool root);
/* Checks that schema is structural and uses only what minik8s supports;
 * causes appended under path. */
void mk_api_crd_schema_check(const cJSON *schema, const char *path, cJSON *causes);

/* ---- Status errors -------------------------------------------------------- */

/* Builds a meta/v1 Status failure object (owned by caller):
 * {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
 *  "message":..,"reason":..,"code":..,"details":{"name":..,"kind":..,"causes":..}}
 * kind/name may be NULL (details omitted when both NULL and causes NULL); causes
 * (a JSON array of {reason,message,field}) is moved in, may be NULL. */
cJSON *mk_api_status_new(int code, const char *reason, const char *message,
			 const char *details_kind, const char *details_name, cJSON *causes);
/* Reason string for an HTTP code: 400 BadRequest, 401 Unauthorized, 403 Forbidden,
 * 404 NotFound, 405 MethodNotAllowed, 406 NotAcceptable, 409 Conflict,
 * 410 Gone (reason "Expired"), 413 RequestEntityTooLarge, 415 UnsupportedMediaType,
 * 422 Invalid, 429 TooManyRequests, 500 InternalError, 503 ServiceUnavailable. */
const char *mk_api_status_reason(int code);
/* Appends {"reason":reason,"message":message,"field":field} to causes (an array). */
void mk_api_cause_add(cJSON *causes, const char *reason, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- defaulting and validation ------------------------------------------ */

/* Fills defaults the way the real API server does for kind r (e.g. Pod:
 * restartPolicy Always, dnsPolicy ClusterFirst, terminationGracePeriodSeconds 30,
 * container imagePullPolicy (Always for :latest / no tag, else IfNotPresent),
 * terminationMessagePath/Policy, port protocol TCP; Service: type ClusterIP,
 * sessionAffinity None, port protocol TCP, targetPort = port; Deployment:
 * replicas 1, strategy RollingUpdate 25%/25%, revisionHistoryLimit 10,
 * progressDeadlineSeconds 600, template defaults as Pod; ReplicaSet alike;
 * Namespace: status.phase Active, spec.finalizers ["kubernetes"]). obj mutated. */
void mk_api_default(const struct mk_api_resource *r, cJSON *obj);

/* Validates obj (after defaulting) for kind r. old is the stored object on update
 * (NULL on create), used for immutable fields (metadata.name/namespace/uid,
 * Service spec.clusterIP once set, Deployment/ReplicaSet spec.selector, Pod spec
 * except containers[*].image, ...). Checks metadata.name (DNS-1123 subdomain, or
 * label for namespaces/services), labels and annotations syntax, required fields
 * (containers with name+image, unique container names, ports in range, deployment
 * selector non-empty and matching template labels, service ports, ...).
 * Returns 0 if valid; else -1 and *ret_causes (owned, a JSON array of causes with
 * field paths like "spec.containers[0].image"). */
int mk_api_validate(const struct mk_api_resource *r, const cJSON *obj, const cJSON *old,
		    cJSON **ret_causes);

/* Name checks (Kubernetes' apimachinery validation rules). Return NULL if valid,
 * else a static message such as "a lowercase RFC 1123 subdomain must consist of ...". */
const char *mk_api_check_dns1123_subdomain(const char *s);
const char *mk_api_check_dns1123_label(const char *s);
const char *mk_api_check_label_key(const char *s);	/* qualified name with optional prefix */
const char *mk_api_check_label_value(const char *s);

/* ---- selectors ------------------------------------------------------------ */

struct mk_label_selector;
/* Parses the string form: "a=b", "a==b", "a!=b", "a in (x,y)", "a notin (x)",
 * "a", "!a", comma-separated (AND). Empty string matches everything.
 * *ret owned (mk_label_selector_free). EINVAL with a message on syntax errors. */
int mk_label_selector_parse(const char *s, struct mk_label_selector **ret,
			    struct mk_error **err);
/* From a metav1.LabelSelector JSON ({matchLabels, matchExpressions}). NULL or {}
 * selects everything. */
int mk_label_selector_from_json(const cJSON *sel, struct mk_label_selector **ret,
				struct mk_error **err);
/* labels: the metadata.labels object (may be NULL = no labels). */
bool mk_label_selector_matches(const struct mk_label_selector *sel, const cJSON *labels);
bool mk_label_selector_empty(const struct mk_label_selector *sel);
void mk_label_selector_free(struct mk_label_selector *sel);

struct mk_field_selector;
/* Parses "metadata.name=x,metadata.namespace!=y,spec.nodeName=n,status.phase==Running".
 * Any dotted path is accepted; values compare as strings (numbers/bools rendered). */
int mk_field_selector_parse(const char *s, struct mk_field_selector **ret,
			    struct mk_error **err);
bool mk_field_selector_matches(const struct mk_field_selector *sel, const cJSON *obj);
/* A test on an object's JSON text (unformatted, as cJSON prints it) before it is
 * parsed: false only when sel cannot match it (an equality term on a plain value,
 * such as spec.nodeName=NODE, whose key: value the text lacks). Watches with a
 * node's field selector skip the other nodes' pods with it. */
bool mk_field_selector_may_match_text(const struct mk_field_selector *sel, const char *json);
/* The value sel requires path to equal (its first `=` or `==` term on path), or
 * NULL: what a watch hints to the store (mk_store_watch_hint_*). */
const char *mk_field_selector_equal_value(const struct mk_field_selector *sel, const char *path);
void mk_field_selector_free(struct mk_field_selector *sel);

/* ---- patch ---------------------------------------------------------------- */

/* RFC 7386 JSON merge patch applied to *target (replaced in place; *target may be
 * freed and a new tree stored). patch borrowed. */
int mk_api_patch_merge(cJSON **target, const cJSON *patch, struct mk_error **err);
/* RFC 6902 JSON patch (add, remove, replace, move, copy, test); patch must be an
 * array. EINVAL on a malformed patch or a failed "test"; *target unchanged then. */
int mk_api_patch_json(cJSON **target, const cJSON *patch, struct mk_error **err);
/* Kubernetes strategic merge patch for kind r: lists of objects merge by their
 * merge key (containers/initContainers/env/volumes/imagePullSecrets by "name",
 * container ports by "containerPort", service ports by "port", volumeMounts by
 * "mountPath", conditions by "type", ownerReferences by "uid"), honouring
 * "$patch: delete|replace|merge", "$setElementOrder/FIELD", "$deleteFromPrimitiveList/FIELD",
 * "$retainKeys"; other lists are replaced; null deletes a key. */
int mk_api_patch_strategic(const struct mk_api_resource *r, cJSON **target,
			   const cJSON *patch, struct mk_error **err);

/* ---- Table output (meta.k8s.io/v1 Table) ------------------------------- */

/* New Table for kind r (owned). With column_definitions true, the
 * columnDefinitions are those of a real cluster (priority 1 for -o wide ones):
 *  pods NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED\ NODE READINESS\ GATES
 *  services NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR
 *  deployments NAME READY UP-TO-DATE AVAILABLE AGE | CONTAINERS IMAGES SELECTOR
 *  replicasets NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR
 *  namespaces NAME STATUS AGE;  nodes NAME STATUS ROLES AGE VERSION | INTERNAL-IP
 *  EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME;  endpoints NAME ENDPOINTS AGE;
 *  events LAST\ SEEN TYPE REASON OBJECT MESSAGE;  jobs NAME STATUS COMPLETIONS DURATION
 *  AGE | CONTAINERS IMAGES SELECTOR;  cronjobs NAME SCHEDULE TIMEZONE SUSPEND ACTIVE
 *  LAST\ SCHEDULE AGE | CONTAINERS IMAGES SELECTOR;  others NAME AGE.
 * "rows" starts empty; metadata.resourceVersion is set by the caller. */
cJSON *mk_api_table_new(const struct mk_api_resource *r, bool column_definitions);
/* Appends a row for obj (borrowed) with cells formatted as kubectl expects
 * (AGE from metadata.creationTimestamp relative to now), and "object" a
 * PartialObjectMetadata (apiVersion meta.k8s.io/v1, metadata copied). */
void mk_api_table_add_row(cJSON *table, const struct mk_api_resource *r, const cJSON *obj,
			  time_t now);
/* The same, with obj's metadata moved into the row instead of copied (obj loses
 * it): for a list, whose objects are parsed for their row and dropped. */
void mk_api_table_add_row_take(cJSON *table, const struct mk_api_resource *r, cJSON *obj,
			       time_t now);

/* ---- quantities ---------------------------------------------------------- */

/* The value of a resource.Quantity (a string such as "1Gi", "500M", "2", or a JSON
 * number), rounded up to a whole unit (bytes for storage); -1 when q is not a
 * quantity or is out of range. q borrowed. */
int64_t mk_api_quantity_value(const cJSON *q);
/* true when the StorageClass sc carries storageclass.kubernetes.io/is-default-class
 * (or the beta annotation) "true". */
bool mk_api_storageclass_is_default(const cJSON *sc);
/* The built-in class and its provisioner (pkg/controller/pv.c), named as in k3s. */
#define MK_API_LOCAL_PATH_CLASS "local-path"
#define MK_API_LOCAL_PATH_PROVISIONER "rancher.io/local-path"
/* Node annotation where a node's agent publishes its local-path directory
 * (DATA_DIR/storage); the provisioner puts the node's volumes there. */
#define MK_API_LOCAL_PATH_DIR_ANN "minik8s.io/local-path-dir"
/* Finalizer of provisioned volumes: the agent of the volume's node removes it
 * once it has removed the volume's directory. */
#define MK_API_LOCAL_PATH_FINALIZER "minik8s.io/local-path-cleanup"
/* Claim annotation: the node the scheduler chose for the first pod using a
 * WaitForFirstConsumer claim (kube-scheduler's volume binding). */
#define MK_API_SELECTED_NODE_ANN "volume.kubernetes.io/selected-node"

/* ---- request bodies ----------------------------------------------------- */

/* Removes, in every object of the tree v, each member that a later member of the
 * same name overrides, as Go's encoding/json (so kube-apiserver) decodes them: the
 * last one wins. Applied to decoded request bodies before anything reads them. */
void mk_api_json_dedupe(cJSON *v);

/* ---- protobuf ------------------------------------------------------------- */

/* Decodes a Kubernetes protobuf request body ("k8s\0" magic + runtime.Unknown) for
 * the kinds kubectl sends as protobuf (Namespace, Deployment, Service, Pod,
 * ReplicaSet, SelfSubjectAccessReview, SelfSubjectReview, ResourceQuota, ...) into the equivalent JSON
 * object (owned), with apiVersion and kind set from the typeMeta. Zero values (empty strings, 0, empty maps) are treated as absent.
 * EINVAL with a message on malformed input or an unsupported kind. */
int mk_api_protobuf_decode(const void *data, size_t len, cJSON **ret_obj,
			   struct mk_error **err);

/* ---- query parameters ----------------------------------------------------- */

/* A boolean query parameter as kube-apiserver converts it (Convert_Slice_string_To_bool):
 * absent (NULL) is false, "0" and "false" in any case are false, any other value,
 * the empty one included ("?watch" or "?watch="), is true. */
bool mk_api_query_bool(const char *value);

/* ---- schemas (OpenAPI) ---------------------------------------------------- */

/* One source (pkg/api/schema_defs.c) describes every kind served: its fields, their
 * types, list/patch semantics and descriptions. Names are the upstream definition
 * names ("io.k8s.api.core.v1.Pod"). The source is parsed once, on first use. */

/* Checks the schema source: it parses, every referenced type is defined, every
 * served resource and subresource kind has a schema. 0, or -1 with a message. */
int mk_api_schema_check(struct mk_error **err);
/* Definition name of a kind (group "" for core), or NULL if it has no schema. */
const char *mk_api_schema_kind_name(const char *group, const char *version, const char *kind);
/* Type of the field at a dotted path below a kind ("spec.containers.image"; lists
 * and maps are stepped through), as written in the source ("[]io.k8s.api.core.v1.
 * Container", "string", "map[]string"), or NULL if there is no such field. Owned. */
char *mk_api_schema_field_type(const char *group, const char *version, const char *kind,
			       const char *path);
/* OpenAPI v3 components.schemas object with every definition (owned); references
 * are "#/components/schemas/NAME". */
cJSON *mk_api_schema_v3_components(void);
/* Swagger 2.0 document with every definition and no paths (owned); references are
 * "#/definitions/NAME". */
cJSON *mk_api_schema_v2_document(void);
/* Encodes a document from mk_api_schema_v2_document as the protobuf
 * openapi_v2.Document (gnostic) kubectl asks for with Accept
 * application/com.github.proto-openapi.spec.v2@v1.0+protobuf. *ret owned. */
int mk_api_schema_v2_protobuf(const cJSON *doc, char **ret, size_t *ret_len,
			      struct mk_error **err);
/* Strict field validation: the paths of fields of obj that the kind's schema does
 * not know ("spec.containers[0].imagePullPolicyy"), in document order, as a JSON
 * array of strings (owned; empty when none). Free-form fields are not descended. */
cJSON *mk_api_schema_unknown_fields(const char *group, const char *version, const char *kind,
				    const cJSON *obj);
/* Removes the fields of obj the kind's schema does not know, as kube-apiserver's
 * decoder drops them, except the paths listed in keep (a JSON array of strings as
 * returned above; may be NULL). */
void mk_api_schema_prune_unknown(const char *group, const char *version, const char *kind,
				 cJSON *obj, const cJSON *keep);
/* The ownerReference of obj with controller: true, or NULL (borrowed). */
const cJSON *mk_api_controller_ref(const cJSON *obj);

/* ---- resource quantities and pod resources (pod_resources.c) --------------- */

/* Parses a resource.Quantity ("128Mi", "500m", "1.5", "1e3", "2Gi") into its
 * value times 1000, rounded up (Quantity.MilliValue), saturated at INT64_MAX.
 * EINVAL when malformed. */
int mk_api_quantity_parse(const char *s, int64_t *ret_milli, struct mk_error **err);
/* The same, as the value rounded up (Quantity.Value): bytes for memory. */
int mk_api_quantity_parse_value(const char *s, int64_t *ret, struct mk_error **err);
/* list[name] (a ResourceList entry: string or number) in milli-units; 0 when
 * absent, malformed or negative. */
int64_t mk_api_resource_list_milli(const cJSON *list, const char *name);
/* What a pod spec requests of a node, as the scheduler counts it: app containers
 * and sidecars together, or the largest init container step if more, plus
 * spec.overhead (component-helpers resource.PodRequests). */
void mk_api_pod_requests(const cJSON *spec, int64_t *ret_cpu_milli, int64_t *ret_mem_bytes);
/* status.qosClass of a pod with this spec: "Guaranteed", "Burstable" or
 * "BestEffort" (static string; GetPodQOS over cpu and memory). */
const char *mk_api_pod_qos_class(const cJSON *spec);

/* ---- server-side apply and managedFields (pkg/api/ssa.c) ------------------- */

/* How server-side apply sees a node of a kind's schema (sigs.k8s.io/structured-
 * merge-diff): a scalar, a struct with named fields, a map with free keys (both
 * merged key by key), an atomic value (replaced whole), a list of scalars merged as
 * a set (x-kubernetes-list-type: set), a list of objects merged by the values of
 * keys (x-kubernetes-list-type: map, x-kubernetes-list-map-keys), or a free-form
 * value (x-kubernetes-preserve-unknown-fields: objects merge, lists are atomic). */
enum mk_ssa_shape {
	MK_SSA_SCALAR,
	MK_SSA_STRUCT,
	MK_SSA_MAP,
	MK_SSA_ATOMIC,
	MK_SSA_LIST_SET,
	MK_SSA_LIST_MAP,
	MK_SSA_UNTYPED,
};

struct mk_ssa_type {
	enum mk_ssa_shape shape;
	const char *keys;	 /* MK_SSA_LIST_MAP: "name" or "containerPort,protocol" */
	const cJSON *key_list;	 /* or the same as a JSON array of strings */
	const void *ref, *ref2;	 /* the schema provider's handles (borrowed) */
};

/* A kind's schema for server-side apply. The built-in kinds get one from
 * mk_api_ssa_schema_builtin; a custom resource plugs in its OpenAPI v3 schema with
 * mk_api_ssa_schema_openapi (or any provider filling these callbacks). */
struct mk_ssa_schema {
	struct mk_ssa_type root;
	/* Type of member name of a STRUCT or MAP node: returns 1 for a named field
	 * of a struct, 0 for a value of a map, -1 for a field the schema does not
	 * declare (then *ret is MK_SSA_UNTYPED). */
	int (*child)(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const char *name,
		     struct mk_ssa_type *ret);
	/* Type of the items of a LIST_SET or LIST_MAP node. */
	void (*elem)(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
		     struct mk_ssa_type *ret);
	/* The default of list-map key field key of a LIST_MAP node's items (JSON text,
	 * such as "\"TCP\"" for ports' protocol), or NULL; may itself be NULL. */
	const char *(*key_default)(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
				   const char *key);
	const void *data;	 /* provider data (borrowed) */
};

/* The schema of a served kind (from pkg/api/schema_defs.c). ENOENT if none. */
int mk_api_ssa_schema_builtin(const char *group, const char *version, const char *kind,
			      struct mk_ssa_schema *ret, struct mk_error **err);
/* A schema from an OpenAPI v3 structural schema (a CRD version's
 * openAPIV3Schema): properties, additionalProperties, items, x-kubernetes-list-type,
 * x-kubernetes-list-map-keys, x-kubernetes-map-type, x-kubernetes-preserve-unknown-
 * fields and defaults of list-map keys. openapi is borrowed and must outlive *ret. */
void mk_api_ssa_schema_openapi(const cJSON *openapi, struct mk_ssa_schema *ret);

/* A set of field paths, as metadata.managedFields[].fieldsV1 encodes it. */
struct mk_api_fieldset;
void mk_api_fieldset_free(struct mk_api_fieldset *s);	/* accepts NULL */
/* The fields a (partial) object sets: what an applier owns (typed ToFieldSet).
 * EINVAL on a list-map item without a key or a duplicated key. *ret owned. */
int mk_api_fieldset_from_object(const struct mk_ssa_schema *s, const cJSON *obj,
				struct mk_api_fieldset **ret, struct mk_error **err);
/* Parses / encodes fieldsV1 ("f:spec": {"f:replicas": {}}, "k:{...}", "v:...", "."). */
int mk_api_fieldset_from_json(const cJSON *fields_v1, struct mk_api_fieldset **ret,
			      struct mk_error **err);
cJSON *mk_api_fieldset_to_json(const struct mk_api_fieldset *s); /* owned */
/* The member paths in upstream's notation (".spec.containers[name=\"a\"].image"),
 * as a JSON array of strings (owned). */
cJSON *mk_api_fieldset_paths(const struct mk_api_fieldset *s);
/* Whether path (upstream notation, as above) is a member. */
bool mk_api_fieldset_has(const struct mk_api_fieldset *s, const char *path);

/* One write as the field manager records it. */
struct mk_api_managed_op {
	const char *manager;	 /* fieldManager, or the User-Agent's product */
	const char *api_version; /* "apps/v1" */
	const char *subresource; /* "status", "scale", ... or NULL */
	const char *now;	 /* RFC 3339 time of the write */
};

/* Records an Update (create, update, patch) in obj's metadata.managedFields: the
 * fields the write added or changed (old -> obj, old NULL for a create) become
 * the manager's, and leave every other manager's set, as kube-apiserver's field
 * manager does. sent is the managedFields the client sent (NULL when absent or for
 * subresources): an empty list (or [{}]) resets them, a valid non-empty one
 * replaces the stored ones. Returns 0; on an undecodable stored value the entries
 * are dropped (UpdateNoErrors). */
int mk_api_managed_update(const struct mk_ssa_schema *s, const cJSON *old, cJSON *obj,
			  const cJSON *sent, const struct mk_api_managed_op *op,
			  struct mk_error **err);

/* Server-side apply of config (a partial object, borrowed) onto live (NULL: the
 * object does not exist yet): merges by the schema's list and map types, removes
 * what the manager applied before and no longer applies when no one else owns it,
 * and records the manager's Apply entry. Returns 0 with *ret_obj (owned; the live
 * object, unchanged, when the apply changes nothing); 1 with *ret_status (owned,
 * a 409 Conflict Status with a cause per field) when fields owned by others would
 * change and force is false; -1 with EINVAL for a config that cannot be merged. */
int mk_api_managed_apply(const struct mk_ssa_schema *s, const cJSON *live, const cJSON *config,
			 bool force, const struct mk_api_managed_op *op, cJSON **ret_obj,
			 cJSON **ret_status, struct mk_error **err);

/* ---- admission arithmetic: LimitRange and ResourceQuota (limitrange.c, quota.c) -- */

/* The canonical text of a quantity of milli-units, as resource.Quantity.String()
 * writes it: BinarySI ("1536Mi", "1Gi", plain below 1024) when binary, else
 * DecimalSI ("500m", "1", "2k"). buf of at least 32 bytes. */
void mk_api_quantity_format(int64_t milli, bool binary, char *buf, size_t size);
/* The canonical text of the quantity q (a string or number), keeping its binary
 * or decimal form; "" when malformed. buf of at least 32 bytes. */
void mk_api_quantity_canonical(const cJSON *q, char *buf, size_t size);
/* ResourceLists (JSON objects name -> quantity string) as upstream's quota helpers
 * (k8s.io/apiserver/pkg/quota/v1): dst[k] += v for every k of add. */
void mk_api_rl_add(cJSON *dst, const cJSON *add);
/* A pod's summed requests or limits (which: "requests" or "limits") over every
 * resource name, as component-helpers resource.PodRequests / PodLimits (sidecars,
 * the largest init step; spec.overhead unless exclude_overhead). Owned. */
cJSON *mk_api_pod_resource_list(const cJSON *spec, const char *which, bool exclude_overhead);

/* LimitRanger admission of a new pod (kube-apiserver's plugin/pkg/admission/
 * limitranger) against the namespace's LimitRanges lrs[0..n): the containers get
 * the Container defaults (limits from default, requests from defaultRequest; the
 * kubernetes.io/limit-ranger annotation says what was set), then every min / max /
 * maxLimitRequestRatio of the Container and Pod items is checked. -1 with the
 * reason (owned, without the 'pods "x" is forbidden: ' head) in *ret_msg. */
int mk_api_limitranges_admit_pod(const cJSON *const *lrs, size_t n, cJSON *pod, char **ret_msg);
/* Its two halves: the defaults (Admit) and the checks (Validate). */
void mk_api_limitranges_default_pod(const cJSON *const *lrs, size_t n, cJSON *pod);
int mk_api_limitranges_check_pod(const cJSON *const *lrs, size_t n, const cJSON *pod,
				 char **ret_msg);
/* The same for a new PersistentVolumeClaim (min / max of requests.storage). */
int mk_api_limitranges_admit_pvc(const cJSON *const *lrs, size_t n, const cJSON *pvc,
				 char **ret_msg);

/* What obj of resource (plural) and group counts against a quota (its usage, a
 * ResourceList, owned): object counts count/<resource>[.<group>] for every kind and
 * the legacy names (pods, services, configmaps, secrets, persistentvolumeclaims,
 * resourcequotas), compute resources of non-terminal pods (requests.cpu, cpu,
 * limits.cpu, memory alike, ephemeral-storage), services.nodeports /
 * services.loadbalancers, requests.storage and per-class claim usage. */
cJSON *mk_api_quota_usage(const char *resource, const char *group, const cJSON *obj);
/* Whether quota (a ResourceQuota) applies to obj of resource: its scopes and
 * scopeSelector (Terminating, NotTerminating, BestEffort, NotBestEffort) match pods
 * only. */
bool mk_api_quota_matches(const cJSON *quota, const char *resource, const cJSON *obj);
/* The ResourceQuota admission check of a new obj against quota (status.hard /
 * status.used): 0 with *ret_used the quota's new status.used (owned; NULL when the
 * quota is not concerned), or -1 with the reason (owned) in *ret_msg: "failed quota:
 * q: must specify limits.cpu for: c1", "status unknown for quota: q, resources:
 * pods", "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2". */
int mk_api_quota_admit(const cJSON *quota, const char *resource, const char *group,
		       const cJSON *obj, cJSON **ret_used, char **ret_msg);
/* The same for an update of old to obj: charged what the update adds (a service
 * becoming a NodePort or LoadBalancer, a claim growing). */
int mk_api_quota_admit_update(const cJSON *quota, const char *resource, const char *group,
			      const cJSON *obj, const cJSON *old, cJSON **ret_used, char **ret_msg);
/* Whether quota constrains usage name (a key of spec.hard) for objects of
 * resource/group. */
bool mk_api_quota_tracks(const char *name, const char *resource, const char *group);

#endif
