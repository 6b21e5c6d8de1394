/* Defaulting, as the real API server's SetDefaults_* functions for core/v1 and
 * apps/v1 do (k8s.io/kubernetes/pkg/apis/{core,apps}/v1/defaults.go), plus the
 * few values the registry strategies fill on create (Pod phase and QoS class,
 * Service IP families, Namespace phase). Only absent (or null / "" for
 * strings) fields are filled; explicit values are kept. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

static void default_str(cJSON *obj, const char *key, const char *value)
{
	if (mk_api_json_str_empty(obj, key))
		mk_json_set_string(obj, key, value);
}

static void default_num(cJSON *obj, const char *key, double value)
{
	mk_api_json_default(obj, key, cJSON_CreateNumber(value));
}

/* Object member key, created (as {}) if absent; NULL if obj is not an object or
 * the member has another type (left alone: validation reports it). */
static cJSON *child_object(cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!c || cJSON_IsNull(c)) {
		c = cJSON_CreateObject();
		mk_json_set(obj, key, c);
	}
	return cJSON_IsObject(c) ? c : NULL;
}

/* Always for ":latest" or no tag, IfNotPresent for other tags and digests
 * (SetDefaults_Container). */
static const char *image_pull_policy(const char *image)
{
	if (!image || strchr(image, '@'))
		return "IfNotPresent";
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(image, ':');
	if (!colon || (slash && colon < slash))
		return "Always";
	return strcmp(colon + 1, "latest") == 0 ? "Always" : "IfNotPresent";
}

static void default_probe(cJSON *probe)
{
	if (!cJSON_IsObject(probe))
		return;
	default_num(probe, "timeoutSeconds", 1);
	default_num(probe, "periodSeconds", 10);
	default_num(probe, "successThreshold", 1);
	default_num(probe, "failureThreshold", 3);
	cJSON *http = cJSON_GetObjectItemCaseSensitive(probe, "httpGet");
	if (cJSON_IsObject(http)) {
		default_str(http, "path", "/");
		default_str(http, "scheme", "HTTP");
	}
}

static void default_container(cJSON *c, bool host_network, bool is_pod)
{
	if (!cJSON_IsObject(c))
		return;
	default_str(c, "terminationMessagePath", "/dev/termination-log");
	default_str(c, "terminationMessagePolicy", "File");
	default_str(c, "imagePullPolicy", image_pull_policy(mk_json_get_string(c, "image")));

	cJSON *port;
	cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(c, "ports"))
	{
		if (!cJSON_IsObject(port))
			continue;
		default_str(port, "protocol", "TCP");
		/* host network: the container port is the host port */
		cJSON *cp = cJSON_GetObjectItemCaseSensitive(port, "containerPort");
		if (host_network && cJSON_IsNumber(cp) &&
		    mk_api_json_number(port, "hostPort", 0) == 0)
			mk_json_set(port, "hostPort", cJSON_CreateNumber(cp->valuedouble));
	}

	cJSON *env;
	cJSON_ArrayForEach(env, cJSON_GetObjectItemCaseSensitive(c, "env"))
	{
		cJSON *fr = mk_json_get(env, "valueFrom.fieldRef");
		if (cJSON_IsObject(fr))
			default_str(fr, "apiVersion", "v1");
	}

	cJSON *res = child_object(c, "resources");
	/* SetDefaults_Pod: requests default to limits (not for templates) */
	if (is_pod && res) {
		cJSON *limits = cJSON_GetObjectItemCaseSensitive(res, "limits");
		if (cJSON_IsObject(limits) && cJSON_GetArraySize(limits) > 0) {
			cJSON *req = child_object(res, "requests");
			cJSON *l;
			cJSON_ArrayForEach(l, limits)
			{
				if (req && !cJSON_GetObjectItemCaseSensitive(req, l->string))
					cJSON_AddItemToObject(req, l->string, cJSON_Duplicate(l, 1));
			}
		}
	}

	default_probe(cJSON_GetObjectItemCaseSensitive(c, "livenessProbe"));
	default_probe(cJSON_GetObjectItemCaseSensitive(c, "readinessProbe"));
	default_probe(cJSON_GetObjectItemCaseSensitive(c, "startupProbe"));
}

static const char *const volume_sources[] = {
	"hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
	"secret", "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume",
	"cinder", "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap",
	"vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
	"portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
};

static void default_volume(cJSON *v)
{
	if (!cJSON_IsObject(v))
		return;
	bool has_source = false;
	for (size_t i = 0; i < MK_ARRAY_SIZE(volume_sources); i++)
		if (cJSON_GetObjectItemCaseSensitive(v, volume_sources[i]))
			has_source = true;
	if (!has_source)
		cJSON_AddItemToObject(v, "emptyDir", cJSON_CreateObject());

	static const char *const with_mode[] = { "secret", "configMap", "downwardAPI",
						 "projected" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(with_mode); i++) {
		cJSON *src = cJSON_GetObjectItemCaseSensitive(v, with_mode[i]);
		if (cJSON_IsObject(src))
			default_num(src, "defaultMode", 0644);
	}
	cJSON *hp = cJSON_GetObjectItemCaseSensitive(v, "hostPath");
	if (cJSON_IsObject(hp))
		default_str(hp, "type", "");
}

static void default_pod_spec(cJSON *spec, bool is_pod)
{
	if (!cJSON_IsObject(spec))
		return;
	default_str(spec, "dnsPolicy", "ClusterFirst");
	default_str(spec, "restartPolicy", "Always");
	default_num(spec, "terminationGracePeriodSeconds", 30);
	default_str(spec, "schedulerName", "default-scheduler");
	child_object(spec, "securityContext");
	if (is_pod)
		mk_api_json_default(spec, "enableServiceLinks", cJSON_CreateTrue());

	bool host_network = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "hostNetwork"));
	cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
		default_container(c, host_network, is_pod);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"))
		default_container(c, host_network, is_pod);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers"))
		default_container(c, host_network, is_pod);
	cJSON *v;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(spec, "volumes"))
		default_volume(v);
}

static void default_pod(cJSON *obj)
{
	cJSON *spec = child_object(obj, "spec");
	default_pod_spec(spec, true);
	cJSON *status = child_object(obj, "status");
	if (status) {
		default_str(status, "phase", "Pending");
		default_str(status, "qosClass", mk_api_pod_qos_class(spec));
	}
}

static void default_template(cJSON *spec)
{
	cJSON *tmpl = child_object(spec, "template");
	if (!tmpl)
		return;
	default_pod_spec(child_object(tmpl, "spec"), false);
}

void mk_api_default_pod_template(cJSON *tmpl)
{
	if (cJSON_IsObject(tmpl))
		default_pod_spec(child_object(tmpl, "spec"), false);
}

static void default_deployment(cJSON *obj)
{
	cJSON *spec = child_object(obj, "spec");
	if (!spec)
		return;
	default_num(spec, "replicas", 1);
	cJSON *strategy = child_object(spec, "strategy");
	if (strategy) {
		default_str(strategy, "type", "RollingUpdate");
		const char *type = mk_json_get_string(strategy, "type");
		if (type && strcmp(type, "RollingUpdate") == 0) {
			cJSON *ru = child_object(strategy, "rollingUpdate");
			if (ru) {
				mk_api_json_default(ru, "maxUnavailable", cJSON_CreateString("25%"));
				mk_api_json_default(ru, "maxSurge", cJSON_CreateString("25%"));
			}
		}
	}
	default_num(spec, "revisionHistoryLimit", 10);
	default_num(spec, "progressDeadlineSeconds", 600);
	default_template(spec);
}

static void default_replicaset(cJSON *obj)
{
	cJSON *spec = child_object(obj, "spec");
	if (!spec)
		return;
	default_num(spec, "replicas", 1);
	default_template(spec);
}

static bool is_zero_port(const cJSON *j)
{
	return !j || cJSON_IsNull(j) || (cJSON_IsNumber(j) && j->valuedouble == 0) ||
	       (cJSON_IsString(j) && j->valuestring[0] == '\0');
}

static void default_service(cJSON *obj)
{
	cJSON *spec = child_object(obj, "spec");
	if (!spec)
		return;
	default_str(spec, "type", "ClusterIP");
	default_str(spec, "sessionAffinity", "None");
	const char *type = mk_json_get_string(spec, "type");
	const char *affinity = mk_json_get_string(spec, "sessionAffinity");
	bool external_name = type && strcmp(type, "ExternalName") == 0;

	cJSON *port;
	cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(spec, "ports"))
	{
		if (!cJSON_IsObject(port))
			continue;
		default_str(port, "protocol", "TCP");
		cJSON *p = cJSON_GetObjectItemCaseSensitive(port, "port");
		if (cJSON_IsNumber(p) &&
		    is_zero_port(cJSON_GetObjectItemCaseSensitive(port, "targetPort")))
			mk_json_set(port, "targetPort", cJSON_CreateNumber(p->valuedouble));
	}
	if (type && (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0))
		default_str(spec, "externalTrafficPolicy", "Cluster");
	if (type && strcmp(type, "LoadBalancer") == 0)
		mk_api_json_default(spec, "allocateLoadBalancerNodePorts", cJSON_CreateTrue());
	if (affinity && strcmp(affinity, "ClientIP") == 0) {
		cJSON *cfg = child_object(spec, "sessionAffinityConfig");
		cJSON *cip = child_object(cfg, "clientIP");
		if (cip)
			default_num(cip, "timeoutSeconds", 10800);
	}
	if (!external_name) {
		default_str(spec, "internalTrafficPolicy", "Cluster");
		/* the registry's single-stack IPv4 choice, and clusterIPs mirroring
		 * clusterIP (either one given fills the other) */
		default_str(spec, "ipFamilyPolicy", "SingleStack");
		if (!cJSON_GetObjectItemCaseSensitive(spec, "ipFamilies")) {
			cJSON *fam = cJSON_CreateArray();
			cJSON_AddItemToArray(fam, cJSON_CreateString("IPv4"));
			cJSON_AddItemToObject(spec, "ipFamilies", fam);
		}
		const char *cip = mk_json_get_string(spec, "clusterIP");
		cJSON *cips = cJSON_GetObjectItemCaseSensitive(spec, "clusterIPs");
		if (cip && cip[0] && (!cJSON_IsArray(cips) || cJSON_GetArraySize(cips) == 0)) {
			cJSON *arr = cJSON_CreateArray();
			cJSON_AddItemToArray(arr, cJSON_CreateString(cip));
			mk_json_set(spec, "clusterIPs", arr);
		} else if ((!cip || !cip[0]) && cJSON_IsArray(cips) &&
			   cJSON_IsString(cJSON_GetArrayItem(cips, 0))) {
			mk_json_set_string(spec, "clusterIP",
					   cJSON_GetArrayItem(cips, 0)->valuestring);
		}
	}
	cJSON *status = child_object(obj, "status");
	if (status)
		child_object(status, "loadBalancer");
}

static void default_namespace(cJSON *obj)
{
	cJSON *spec = child_object(obj, "spec");
	if (spec && !cJSON_GetObjectItemCaseSensitive(spec, "finalizers")) {
		cJSON *f = cJSON_CreateArray();
		cJSON_AddItemToArray(f, cJSON_CreateString("kubernetes"));
		cJSON_AddItemToObject(spec, "finalizers", f);
	}
	cJSON *status = child_object(obj, "status");
	if (status)
		default_str(status, "phase", "Active");
	/* SetDefaults_Namespace: the immutable name label (since 1.21) */
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (name && name[0]) {
		cJSON *labels = child_object(child_object(obj, "metadata"), "labels");
		if (labels)
			mk_json_set_string(labels, "kubernetes.io/metadata.name", name);
	}
}

static void default_node(cJSON *obj)
{
	/* SetDefaults_NodeStatus: allocatable defaults to capacity */
	cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	cJSON *cap = cJSON_GetObjectItemCaseSensitive(status, "capacity");
	if (cJSON_IsObject(cap) && !cJSON_GetObjectItemCaseSensitive(status, "allocatable"))
		cJSON_AddItemToObject(status, "allocatable", cJSON_Duplicate(cap, 1));
}

static void default_endpoints(cJSON *obj)
{
	cJSON *subset;
	cJSON_ArrayForEach(subset, cJSON_GetObjectItemCaseSensitive(obj, "subsets"))
	{
		cJSON *port;
		cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(subset, "ports"))
		{
			if (cJSON_IsObject(port))
				default_str(port, "protocol", "TCP");
		}
	}
}

void mk_api_default(const struct mk_api_resource *r, cJSON *obj)
{
	if (!r || !cJSON_IsObject(obj))
		return;
	if (r->crd)
		mk_api_cr_default(r, obj);
	else if (mk_api_is_kind(r, "Pod"))
		default_pod(obj);
	else if (mk_api_is_kind(r, "Service"))
		default_service(obj);
	else if (mk_api_is_kind(r, "Deployment"))
		default_deployment(obj);
	else if (mk_api_is_kind(r, "ReplicaSet"))
		default_replicaset(obj);
	else if (mk_api_is_kind(r, "Namespace"))
		default_namespace(obj);
	else if (mk_api_is_kind(r, "Node"))
		default_node(obj);
	else if (mk_api_is_kind(r, "Endpoints"))
		default_endpoints(obj);
	else if (r->ops && r->ops->defaults)
		r->ops->defaults(obj);
}

