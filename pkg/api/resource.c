/* The resource registry: every kind the API server serves, in discovery order.
 * Facts (plural, shortNames, scope, verbs) mirror a real cluster's
 * APIResourceList, which kubectl caches and relies on for short names. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

static const char *const verbs_all[] = { "create", "delete", "deletecollection", "get",
					 "list",   "patch",  "update",		 "watch", NULL };

static const char *const sn_ns[] = { "ns", NULL };
static const char *const sn_po[] = { "po", NULL };
static const char *const sn_svc[] = { "svc", NULL };
static const char *const sn_ep[] = { "ep", NULL };
static const char *const sn_no[] = { "no", NULL };
static const char *const sn_ev[] = { "ev", NULL };
static const char *const sn_deploy[] = { "deploy", NULL };
static const char *const sn_rs[] = { "rs", NULL };
static const char *const sn_ds[] = { "ds", NULL };
static const char *const sn_cm[] = { "cm", NULL };
static const char *const sn_cj[] = { "cj", NULL };
static const char *const sn_sts[] = { "sts", NULL };
static const char *const sn_pv[] = { "pv", NULL };
static const char *const sn_pvc[] = { "pvc", NULL };
static const char *const sn_sc[] = { "sc", NULL };
static const char *const sn_sa[] = { "sa", NULL };
static const char *const sn_crd[] = { "crd", "crds", NULL };
static const char *const cat_all[] = { "all", NULL };
#define ST_EMPTY "{}"
static const char *const sn_limits[] = { "limits", NULL };
static const char *const sn_quota[] = { "quota", NULL };
static const char *const sn_netpol[] = { "netpol", NULL };

#define CORE(plural, sing, k, nsd, sn, st)                                                  \
	{ .name = plural, .singular = sing, .kind = k, .group = "", .version = "v1",        \
	  .group_version = "v1", .namespaced = nsd, .short_names = sn, .verbs = verbs_all, \
	  .has_status = st, .has_scale = false }
/* the kinds of `kubectl get all`, with their facts */
#define CORE_X(plural, sing, k, sn, gen, st0)                                               \
	{ .name = plural, .singular = sing, .kind = k, .group = "", .version = "v1",        \
	  .group_version = "v1", .namespaced = true, .short_names = sn, .verbs = verbs_all, \
	  .has_status = true, .spec_generation = gen, .initial_status = st0,                \
	  .categories = cat_all }
#define APPS(plural, sing, k, sn)                                                            \
	{ .name = plural, .singular = sing, .kind = k, .group = "apps", .version = "v1",     \
	  .group_version = "apps/v1", .namespaced = true, .short_names = sn,                 \
	  .verbs = verbs_all, .has_status = true, .has_scale = true,                         \
	  .spec_generation = true, .initial_status = ST_EMPTY, .categories = cat_all }

/* rbac.authorization.k8s.io/v1: no short names, as upstream */
#define RBAC(plural, sing, k, nsd, o)                                                      \
	{ .name = plural, .singular = sing, .kind = k, .group = "rbac.authorization.k8s.io", \
	  .version = "v1", .group_version = "rbac.authorization.k8s.io/v1", .namespaced = nsd, \
	  .verbs = verbs_all, .ops = o }

static const struct mk_api_resource resources[] = {
	CORE("namespaces", "namespace", "Namespace", false, sn_ns, true),
	CORE_X("pods", "pod", "Pod", sn_po, true, "{\"phase\":\"Pending\"}"),
	CORE_X("services", "service", "Service", sn_svc, false, "{\"loadBalancer\":{}}"),
	CORE("endpoints", "endpoints", "Endpoints", true, sn_ep, false),
	CORE("nodes", "node", "Node", false, sn_no, true),
	CORE("events", "event", "Event", true, sn_ev, false),
	APPS("deployments", "deployment", "Deployment", sn_deploy),
	APPS("replicasets", "replicaset", "ReplicaSet", sn_rs),
	{ .name = "endpointslices", .singular = "endpointslice", .kind = "EndpointSlice",
	  .group = "discovery.k8s.io", .version = "v1", .group_version = "discovery.k8s.io/v1",
	  .namespaced = true, .verbs = verbs_all, .ops = &mk_api_endpointslice_ops },
	{ .name = "leases", .singular = "lease", .kind = "Lease", .group = "coordination.k8s.io",
	  .version = "v1", .group_version = "coordination.k8s.io/v1", .namespaced = true,
	  .verbs = verbs_all, .ops = &mk_api_lease_ops },
	{ .name = "daemonsets", .singular = "daemonset", .kind = "DaemonSet", .group = "apps",
	  .version = "v1", .group_version = "apps/v1", .namespaced = true, .short_names = sn_ds,
	  .verbs = verbs_all, .has_status = true, .ops = &mk_api_daemonset_ops,
	  .spec_generation = true, .categories = cat_all,
	  .initial_status = "{\"currentNumberScheduled\":0,\"numberMisscheduled\":0,"
			    "\"desiredNumberScheduled\":0,\"numberReady\":0}" },
	{ .name = "configmaps", .singular = "configmap", .kind = "ConfigMap", .group = "",
	  .version = "v1", .group_version = "v1", .namespaced = true, .short_names = sn_cm,
	  .verbs = verbs_all, .ops = &mk_api_configmap_ops },
	{ .name = "secrets", .singular = "secret", .kind = "Secret", .group = "", .version = "v1",
	  .group_version = "v1", .namespaced = true, .verbs = verbs_all, .ops = &mk_api_secret_ops,
	  .encrypt_at_rest = true },
	{ .name = "serviceaccounts", .singular = "serviceaccount", .kind = "ServiceAccount",
	  .group = "", .version = "v1", .group_version = "v1", .namespaced = true,
	  .short_names = sn_sa, .verbs = verbs_all, .ops = &mk_api_serviceaccount_ops },
	{ .name = "jobs", .singular = "job", .kind = "Job", .group = "batch", .version = "v1",
	  .group_version = "batch/v1", .namespaced = true, .verbs = verbs_all,
	  .has_status = true, .ops = &mk_api_job_ops, .spec_generation = true,
	  .initial_status = ST_EMPTY, .categories = cat_all },
	{ .name = "cronjobs", .singular = "cronjob", .kind = "CronJob", .group = "batch",
	  .version = "v1", .group_version = "batch/v1", .namespaced = true, .short_names = sn_cj,
	  .verbs = verbs_all, .has_status = true, .ops = &mk_api_cronjob_ops,
	  .spec_generation = true, .initial_status = ST_EMPTY, .categories = cat_all },
	{ .name = "statefulsets", .singular = "statefulset", .kind = "StatefulSet", .group = "apps",
	  .version = "v1", .group_version = "apps/v1", .namespaced = true, .short_names = sn_sts,
	  .verbs = verbs_all, .has_status = true, .has_scale = true, .ops = &mk_api_statefulset_ops,
	  .spec_generation = true, .initial_status = "{\"replicas\":0,\"availableReplicas\":0}",
	  .categories = cat_all },
	{ .name = "controllerrevisions", .singular = "controllerrevision", .kind = "ControllerRevision",
	  .group = "apps", .version = "v1", .group_version = "apps/v1", .namespaced = true,
	  .verbs = verbs_all, .ops = &mk_api_controllerrevision_ops },
	{ .name = "persistentvolumes", .singular = "persistentvolume", .kind = "PersistentVolume",
	  .group = "", .version = "v1", .group_version = "v1", .namespaced = false,
	  .short_names = sn_pv, .verbs = verbs_all, .has_status = true, .ops = &mk_api_pv_ops,
	  .initial_status = "null" /* Pending, by the defaults */ },
	{ .name = "persistentvolumeclaims", .singular = "persistentvolumeclaim",
	  .kind = "PersistentVolumeClaim", .group = "", .version = "v1", .group_version = "v1",
	  .namespaced = true, .short_names = sn_pvc, .verbs = verbs_all, .has_status = true,
	  .ops = &mk_api_pvc_ops, .initial_status = "null" },
	{ .name = "storageclasses", .singular = "storageclass", .kind = "StorageClass",
	  .group = "storage.k8s.io", .version = "v1", .group_version = "storage.k8s.io/v1",
	  .namespaced = false, .short_names = sn_sc, .verbs = verbs_all,
	  .ops = &mk_api_storageclass_ops },
	RBAC("roles", "role", "Role", true, &mk_api_role_ops),
	RBAC("clusterroles", "clusterrole", "ClusterRole", false, &mk_api_clusterrole_ops),
	RBAC("rolebindings", "rolebinding", "RoleBinding", true, &mk_api_rolebinding_ops),
	RBAC("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false,
	     &mk_api_clusterrolebinding_ops),
	{ .name = "customresourcedefinitions", .singular = "customresourcedefinition",
	  .kind = "CustomResourceDefinition", .group = "apiextensions.k8s.io", .version = "v1",
	  .group_version = "apiextensions.k8s.io/v1", .namespaced = false, .short_names = sn_crd,
	  .verbs = verbs_all, .has_status = true, .ops = &mk_api_crd_ops,
	  .spec_generation = true, .categories = NULL },
	{ .name = "limitranges", .singular = "limitrange", .kind = "LimitRange", .group = "",
	  .version = "v1", .group_version = "v1", .namespaced = true, .short_names = sn_limits,
	  .verbs = verbs_all, .ops = &mk_api_limitrange_ops },
	{ .name = "resourcequotas", .singular = "resourcequota", .kind = "ResourceQuota",
	  .group = "", .version = "v1", .group_version = "v1", .namespaced = true,
	  .short_names = sn_quota, .verbs = verbs_all, .has_status = true,
	  .ops = &mk_api_resourcequota_ops,
	  .initial_status = "null" /* the quota controller fills it */ },
	{ .name = "networkpolicies", .singular = "networkpolicy", .kind = "NetworkPolicy",
	  .group = "networking.k8s.io", .version = "v1", .group_version = "networking.k8s.io/v1",
	  .namespaced = true, .short_names = sn_netpol, .verbs = verbs_all,
	  .ops = &mk_api_networkpolicy_ops },
};

/* The current snapshot, published by crd.c; NULL: the built-in rows only. */
static const struct mk_api_snapshot *current;

void mk_api_snapshot_publish(const struct mk_api_snapshot *s)
{
	__atomic_store_n(&current, s, __ATOMIC_RELEASE);
}

const struct mk_api_resource *mk_api_builtin_resources(size_t *n)
{
	*n = MK_ARRAY_SIZE(resources);
	return resources;
}

uint64_t mk_api_resources_generation(void)
{
	const struct mk_api_snapshot *s = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
	return s ? s->gen : 0;
}

const struct mk_api_resource *mk_api_resources(size_t *n)
{
	const struct mk_api_snapshot *s = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
	if (!s) {
		if (n)
			*n = MK_ARRAY_SIZE(resources);
		return resources;
	}
	if (n)
		*n = s->n;
	return s->rows;
}

const struct mk_api_resource *mk_api_resource_find(const char *group, const char *version,
						   const char *name)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	if (!version || !name)
		return NULL;
	if (!group)
		group = "";
	for (size_t i = 0; i < n; i++) {
		const struct mk_api_resource *r = &rs[i];
		if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
		    strcmp(r->name, name) == 0)
			return r;
	}
	return NULL;
}

const struct mk_api_resource *mk_api_resource_by_kind(const char *api_version,
						      const char *kind)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	if (!api_version || !kind)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct mk_api_resource *r = &rs[i];
		if (strcmp(r->group_version, api_version) == 0 && strcmp(r->kind, kind) == 0)
			return r;
	}
	return NULL;
}

const cJSON *mk_api_controller_ref(const cJSON *obj)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, mk_json_get(obj, "metadata.ownerReferences"))
	{
		if (cJSON_IsTrue(cJSON_GetObjectItem(r, "controller")))
			return r;
	}
	return NULL;
}

