/* What the server makes at start, as a cluster has it from the first moment: the
 * default namespaces, the kubernetes Service (and its Endpoints, following this
 * run's address), kube-system/kube-dns, and the objects of storage.c,
 * serviceaccounts.c and crds.c. Not a handler: it names the kinds it makes. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include "internal.h"

static int bootstrap_kubernetes_service(struct mk_apiserver *srv, struct mk_error **err);
static int bootstrap_kube_dns(struct mk_apiserver *srv, struct mk_error **err);

int mk_apiserver_bootstrap(struct mk_apiserver *srv, struct mk_error **err)
{
	struct mk_store *store = srv->store;
	static const char *const namespaces[] = { "default", "kube-system", "kube-public",
						  "kube-node-lease" };
	const struct mk_api_resource *r = mk_api_resource_find("", "v1", "namespaces");

	for (size_t i = 0; i < MK_ARRAY_SIZE(namespaces); i++) {
		_cleanup_free_ char *json = NULL;
		_cleanup_error_ struct mk_error *e = NULL;
		if (mk_store_get(store, "namespaces", "", namespaces[i], &json, NULL, &e) == 0)
			continue;
		if (e->code != ENOENT)
			return mk_error_set(err, e->code, "%s", e->msg);
		_cleanup_cjson_ cJSON *ns = mk_api_object_new("v1", "Namespace", NULL, namespaces[i]);
		cJSON *md = cJSON_GetObjectItem(ns, "metadata");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"),
					"kubernetes.io/metadata.name", namespaces[i]);
		mk_resource_prepare_new(r, ns, "");
		mk_api_default(r, ns);
		if (mk_store_create(store, "namespaces", "", namespaces[i], ns, NULL, NULL, err) < 0 &&
		    (*err)->code != EEXIST)
			return -1;
		mk_error_free(err);
	}
	if (bootstrap_kubernetes_service(srv, err) < 0 || mk_storage_bootstrap(srv, err) < 0 ||
	    mk_serviceaccounts_bootstrap(srv, err) < 0)
		return -1;
	if (bootstrap_kube_dns(srv, err) < 0)
		return -1;
	/* the custom resources of the stored definitions are served from the start */
	return mk_crds_sync(srv, err);
}

/* kube-system/kube-dns at the cluster DNS address. Every node answers it itself
 * (pkg/dns on a local address, see pkg/agent), so it has no selector and no
 * endpoints; the label tells the balancers to leave it alone. */
static int bootstrap_kube_dns(struct mk_apiserver *srv, struct mk_error **err)
{
	const struct mk_api_resource *rs = mk_api_resource_find("", "v1", "services");
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	cJSON *causes = NULL;

	if (mk_store_get(srv->store, "services", "kube-system", "kube-dns", &json, NULL, &e) == 0)
		return 0;
	if (e->code != ENOENT)
		return mk_error_set(err, e->code, "%s", e->msg);
	_cleanup_cjson_ cJSON *svc = cJSON_Parse(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"kube-dns\","
		"\"labels\":{\"k8s-app\":\"kube-dns\",\"kubernetes.io/name\":\"minik8s-dns\","
		"\"minik8s.io/node-local\":\"true\"}},\"spec\":{\"ports\":["
		"{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\",\"targetPort\":53},"
		"{\"name\":\"dns-tcp\",\"port\":53,\"protocol\":\"TCP\",\"targetPort\":53}],"
		"\"sessionAffinity\":\"None\",\"type\":\"ClusterIP\"}}");
	mk_json_set_string(cJSON_GetObjectItem(svc, "spec"), "clusterIP", srv->cluster_dns);
	mk_resource_prepare_new(rs, svc, "kube-system");
	mk_api_default(rs, svc);
	if (mk_services_allocate(srv, svc, &causes, err) < 0) {
		const char *m = causes ? mk_json_get_string(cJSON_GetArrayItem(causes, 0), "message") : NULL;
		if (!*err)
			mk_error_set(err, EINVAL, "%s", m ? m : "cannot allocate it");
		cJSON_Delete(causes);
		return mk_error_wrap(err, "kube-dns service at %s", srv->cluster_dns);
	}
	if (mk_store_create(srv->store, "services", "kube-system", "kube-dns", svc, NULL, NULL,
			    err) < 0) {
		mk_services_release(srv, svc);
		return -1;
	}
	return 0;
}

/* The "kubernetes" service (first address of the service CIDR, port 443) and its
 * endpoints pointing at this API server, as every cluster has them. */
static int bootstrap_kubernetes_service(struct mk_apiserver *srv, struct mk_error **err)
{
	const struct mk_api_resource *rs = mk_api_resource_find("", "v1", "services");
	const struct mk_api_resource *re = mk_api_resource_find("", "v1", "endpoints");
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	char ip[16];
	struct in_addr a = { .s_addr = htonl(srv->svc_base + 1) };

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	if (mk_store_get(srv->store, "services", "default", "kubernetes", &json, NULL, &e) < 0) {
		if (e->code != ENOENT)
			return mk_error_set(err, e->code, "%s", e->msg);
		_cleanup_cjson_ cJSON *svc = cJSON_Parse(
			"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
			"\"kubernetes\",\"labels\":{\"component\":\"apiserver\",\"provider\":"
			"\"kubernetes\"}},\"spec\":{\"ports\":[{\"name\":\"https\",\"port\":443,"
			"\"protocol\":\"TCP\"}],\"sessionAffinity\":\"None\",\"type\":\"ClusterIP\"}}");
		cJSON *causes = NULL;
		cJSON_AddNumberToObject(cJSON_GetArrayItem(mk_json_get(svc, "spec.ports"), 0),
					"targetPort", srv->port);
		mk_json_set_string(cJSON_GetObjectItem(svc, "spec"), "clusterIP", ip);
		mk_resource_prepare_new(rs, svc, "default");
		mk_api_default(rs, svc);
		if (mk_services_allocate(srv, svc, &causes, err) < 0) {
			cJSON_Delete(causes);
			if (!*err)
				mk_error_set(err, EEXIST, "address %s is taken by another service", ip);
			return mk_error_wrap(err, "kubernetes service");
		}
		if (mk_store_create(srv->store, "services", "default", "kubernetes", svc, NULL, NULL,
				    err) < 0) {
			mk_services_release(srv, svc);
			return -1;
		}
	}
	/* endpoints follow the advertise address and port of this run */
	_cleanup_cjson_ cJSON *ep = mk_api_object_new("v1", "Endpoints", "default", "kubernetes");
	cJSON *md = cJSON_GetObjectItem(ep, "metadata");
	cJSON_AddItemToObject(md, "labels",
			      cJSON_Parse("{\"endpointslice.kubernetes.io/skip-mirror\":\"true\"}"));
	cJSON *sub = cJSON_CreateObject();
	cJSON *addr = cJSON_CreateObject();
	cJSON_AddStringToObject(addr, "ip", srv->advertise_address);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(sub, "addresses"), addr);
	cJSON *port = cJSON_CreateObject();
	cJSON_AddStringToObject(port, "name", "https");
	cJSON_AddNumberToObject(port, "port", srv->port);
	cJSON_AddStringToObject(port, "protocol", "TCP");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(sub, "ports"), port);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(ep, "subsets"), sub);
	_cleanup_free_ char *old = NULL;
	mk_error_free(&e);
	if (mk_store_get(srv->store, "endpoints", "default", "kubernetes", &old, NULL, &e) < 0) {
		mk_resource_prepare_new(re, ep, "default");
		return mk_store_create(srv->store, "endpoints", "default", "kubernetes", ep, NULL,
				       NULL, err);
	}
	_cleanup_cjson_ cJSON *oep = cJSON_Parse(old);
	if (oep && !cJSON_Compare(cJSON_GetObjectItem(oep, "subsets"),
				  cJSON_GetObjectItem(ep, "subsets"), 1)) {
		mk_json_set(oep, "subsets", cJSON_Duplicate(cJSON_GetObjectItem(ep, "subsets"), 1));
		return mk_store_update(srv->store, "endpoints", "default", "kubernetes", 0, oep, NULL,
				       NULL, err);
	}
	return 0;
}
