/* EndpointSlice controller (discovery.k8s.io/v1), as kube-controller-manager's:
 * for every service with a selector, slices labelled kubernetes.io/service-name
 * and managed-by this controller, owned by the service, listing every matching
 * pod that has an IP (ready, serving and terminating as conditions), grouped by
 * the ports the service's targetPorts resolve to on the pod, at most 100
 * endpoints a slice, in IP order. A service with no endpoints keeps one empty
 * placeholder slice. Slices are updated in place where they can be (an update
 * per changed slice), extra ones deleted. Slices of other managers are left alone.
 * The key of the work queue is the service's. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define MAX_PER_SLICE 100
#define LABEL_SERVICE "kubernetes.io/service-name"
#define LABEL_MANAGED "endpointslice.kubernetes.io/managed-by"
#define MANAGER "endpointslice-controller.k8s.io"
#define GV "discovery.k8s.io/v1"

static void on_svc(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	mk_workqueue_add(ctl->slice.q, (new ? new : old)->key);
}

static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (old)
		svc_enqueue_selecting(ctl, old->json, ctl->slice.q);
	if (new)
		svc_enqueue_selecting(ctl, new->json, ctl->slice.q);
}

static void on_slice(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const cJSON *s = (new ? new : old)->json;
	const cJSON *svc = cJSON_GetObjectItem(mk_json_get(s, "metadata.labels"), LABEL_SERVICE);
	if (!cJSON_IsString(svc))
		return;
	char *key = mk_strdup_printf("%s/%s", mk_json_get_string(s, "metadata.namespace"), svc->valuestring);
	mk_workqueue_add(ctl->slice.q, key);
	free(key);
}

void slice_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_SVC], on_svc, ctl);
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_SLICE], on_slice, ctl);
}

static bool managed(const cJSON *slice)
{
	const cJSON *v = cJSON_GetObjectItem(mk_json_get(slice, "metadata.labels"), LABEL_MANAGED);
	return cJSON_IsString(v) && !strcmp(v->valuestring, MANAGER);
}

/* One group of endpoints sharing their resolved ports. */
struct group {
	char *key;    /* canonical JSON of ports */
	cJSON *ports; /* [{name, port, protocol}] */
	cJSON *eps;   /* endpoints */
};

static int cmp_ep(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "addresses"), 0)->valuestring,
		      cJSON_GetArrayItem(cJSON_GetObjectItem(y, "addresses"), 0)->valuestring);
}

static cJSON *endpoint_of(const cJSON *pod, const char *ip, bool publish)
{
	bool ready = mk_controller_pod_ready(pod), terminating = has_deletion(pod);
	cJSON *ep = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(ep, "addresses"), cJSON_CreateString(ip));
	cJSON *c = cJSON_AddObjectToObject(ep, "conditions");
	/* as kube: ready means serving and not terminating; publishNotReadyAddresses
	 * makes every endpoint ready */
	cJSON_AddBoolToObject(c, "ready", publish || (ready && !terminating));
	cJSON_AddBoolToObject(c, "serving", publish || ready);
	cJSON_AddBoolToObject(c, "terminating", terminating);
	endpoint_pod_ref(ep, pod);
	return ep;
}

/* The service's pods grouped by resolved ports; groups sorted by key, endpoints by IP. */
static struct group *build_groups(const cJSON *svc, struct mk_object **pods, size_t n, size_t *ret_n)
{
	const cJSON *sel = mk_json_get(svc, "spec.selector");
	bool publish = cJSON_IsTrue(mk_json_get(svc, "spec.publishNotReadyAddresses"));
	struct group *g = NULL;
	size_t ng = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		const cJSON *pod = pods[i]->json;
		const char *ip = mk_json_get_string(pod, "status.podIP");
		const char *phase = mk_json_get_string(pod, "status.phase");
		if (!ip || !*ip || !labels_match_map(sel, mk_json_get(pod, "metadata.labels")))
			continue;
		if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
			continue;
		cJSON *ports = svc_pod_ports(svc, pod, true);
		struct mk_buf kb;
		mk_buf_init(&kb);
		mk_json_canonical(ports, &kb);
		size_t j;
		for (j = 0; j < ng && strcmp(g[j].key, kb.data); j++)
			;
		if (j == ng) {
			MK_GROW(g, cap, ng + 1);
			g[ng++] = (struct group){ mk_buf_steal(&kb), ports, cJSON_CreateArray() };
		} else {
			mk_buf_release(&kb);
			cJSON_Delete(ports);
		}
		cJSON *ep = endpoint_of(pod, ip, publish);
		/* the pod's own DNS name under the service (hostname.subdomain), as kube */
		const char *hn = mk_json_get_string(pod, "spec.hostname");
		const char *sd = mk_json_get_string(pod, "spec.subdomain");
		const char *sn = mk_json_get_string(svc, "metadata.name");
		if (hn && *hn && sd && sn && !strcmp(sd, sn))
			cJSON_AddStringToObject(ep, "hostname", hn);
		cJSON_AddItemToArray(g[j].eps, ep);
	}
	for (size_t j = 0; j < ng; j++) {
		int m = cJSON_GetArraySize(g[j].eps);
		cJSON **items = mk_malloc0(((size_t)m + 1) * sizeof(*items));
		for (int k = 0; k < m; k++)
			items[k] = cJSON_DetachItemFromArray(g[j].eps, 0);
		qsort(items, (size_t)m, sizeof(*items), cmp_ep);
		for (int k = 0; k < m; k++)
			cJSON_AddItemToArray(g[j].eps, items[k]);
		free(items);
	}
	for (size_t a = 0; a + 1 < ng; a++)
		for (size_t b = a + 1; b < ng; b++)
			if (strcmp(g[a].key, g[b].key) > 0) {
				struct group t = g[a];
				g[a] = g[b];
				g[b] = t;
			}
	*ret_n = ng;
	return g;
}

static void groups_free(struct group *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(g[i].key);
		cJSON_Delete(g[i].ports);
		cJSON_Delete(g[i].eps);
	}
	free(g);
}

/* A new slice body for svc (no name: generateName). */
static cJSON *slice_new(const cJSON *svc)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "apiVersion", GV);
	cJSON_AddStringToObject(s, "kind", "EndpointSlice");
	cJSON *md = cJSON_AddObjectToObject(s, "metadata");
	char *gen = mk_strdup_printf("%s-", mk_json_get_string(svc, "metadata.name"));
	cJSON_AddStringToObject(md, "generateName", gen);
	free(gen);
	cJSON_AddStringToObject(md, "namespace", mk_json_get_string(svc, "metadata.namespace"));
	cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
	cJSON *ref = cJSON_CreateObject();
	cJSON_AddStringToObject(ref, "apiVersion", "v1");
	cJSON_AddStringToObject(ref, "kind", "Service");
	cJSON_AddStringToObject(ref, "name", mk_json_get_string(svc, "metadata.name"));
	cJSON_AddStringToObject(ref, "uid", mk_json_get_string(svc, "metadata.uid"));
	cJSON_AddBoolToObject(ref, "controller", true);
	cJSON_AddBoolToObject(ref, "blockOwnerDeletion", true);
	cJSON_AddItemToArray(refs, ref);
	cJSON_AddStringToObject(s, "addressType", "IPv4");
	return s;
}

/* Sets the labels, ports and endpoints slice s must have; true if it changed. */
static bool slice_fill(cJSON *s, const cJSON *svc, const cJSON *ports, cJSON *eps)
{
	cJSON *want_labels = cJSON_Duplicate(mk_json_get(svc, "metadata.labels"), 1);
	if (!want_labels)
		want_labels = cJSON_CreateObject();
	mk_json_set_string(want_labels, LABEL_SERVICE, mk_json_get_string(svc, "metadata.name"));
	mk_json_set_string(want_labels, LABEL_MANAGED, MANAGER);
	const char *cip = mk_json_get_string(svc, "spec.clusterIP");
	if (cip && !strcmp(cip, "None"))
		mk_json_set_string(want_labels, "service.kubernetes.io/headless", "");
	cJSON *md = cJSON_GetObjectItem(s, "metadata");
	bool changed = !cJSON_Compare(cJSON_GetObjectItem(md, "labels"), want_labels, 1) ||
		       !cJSON_Compare(cJSON_GetObjectItem(s, "ports"), ports, 1) ||
		       !cJSON_Compare(cJSON_GetObjectItem(s, "endpoints"), eps, 1);
	mk_json_set(md, "labels", want_labels);
	mk_json_set(s, "ports", cJSON_Duplicate(ports, 1));
	mk_json_set(s, "endpoints", eps);
	return changed;
}

static int cmp_name(const void *a, const void *b)
{
	const struct mk_object *x = *(struct mk_object *const *)a, *y = *(struct mk_object *const *)b;
	return strcmp(mk_json_get_string(x->json, "metadata.name"), mk_json_get_string(y->json, "metadata.name"));
}

static int delete_slice(struct mk_controllers *ctl, const cJSON *s, struct mk_error **err)
{
	_cleanup_free_ char *path = mk_client_resource_path(GV, "endpointslices", mk_json_get_string(s, "metadata.namespace"),
							    mk_json_get_string(s, "metadata.name"), NULL);
	if (mk_client_delete(ctl->c, path, NULL, NULL, err) < 0 && mk_error_code(*err) != 404)
		return -1;
	return 0;
}

int slice_sync(struct mk_controllers *ctl, const char *key)
{
	_cleanup_free_ char *ns = NULL, *name = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	split_key(key, &ns, &name);
	struct mk_object *so = mk_informer_get(ctl->inf[CTL_SVC], key);
	struct mk_object **have;
	size_t nhave = mk_informer_by_index(ctl->inf[CTL_SLICE], "svc", key, &have);
	size_t nmine = 0;
	for (size_t i = 0; i < nhave; i++) /* keep ours, in name order */
		if (managed(have[i]->json))
			have[nmine++] = have[i];
		else
			mk_object_unref(have[i]);
	if (nmine > 1)
		qsort(have, nmine, sizeof(*have), cmp_name);
	int ret = 0;

	if (!so || !cJSON_GetArraySize(mk_json_get(so->json, "spec.selector")) || has_deletion(so->json)) {
		/* no service, or not ours to fill: our slices go (the GC would too) */
		for (size_t i = 0; i < nmine && (!so || !has_deletion(so->json)); i++)
			if (delete_slice(ctl, have[i]->json, &err) < 0)
				ret = -1;
		mk_object_list_free(have, nmine);
		mk_object_unref(so);
		return ret;
	}

	struct mk_object **pods;
	size_t np = mk_informer_by_index(ctl->inf[CTL_PODS], "ns", ns, &pods);
	size_t ng = 0;
	struct group *g = build_groups(so->json, pods, np, &ng);
	mk_object_list_free(pods, np);

	/* the desired slices: each group in chunks; an empty placeholder if none */
	size_t used = 0;
	_cleanup_cjson_ cJSON *empty_ports = cJSON_CreateArray();
	for (size_t j = 0; j < ng || (ng == 0 && j == 0); j++) {
		const cJSON *ports = ng ? g[j].ports : empty_ports;
		int total = ng ? cJSON_GetArraySize(g[j].eps) : 0;
		for (int off = 0; off < total || (total == 0 && off == 0); off += MAX_PER_SLICE) {
			cJSON *eps = cJSON_CreateArray();
			for (int k = off; k < total && k < off + MAX_PER_SLICE; k++)
				cJSON_AddItemToArray(eps, cJSON_Duplicate(cJSON_GetArrayItem(g[j].eps, k), 1));
			_cleanup_cjson_ cJSON *res = NULL;
			if (used < nmine) {
				_cleanup_cjson_ cJSON *s = cJSON_Duplicate(have[used]->json, 1);
				const cJSON *cur = have[used]->json;
				used++;
				if (!slice_fill(s, so->json, ports, eps))
					continue;
				_cleanup_free_ char *path = mk_client_resource_path(
					GV, "endpointslices", ns, mk_json_get_string(cur, "metadata.name"), NULL);
				/* resourceVersion from the cache: a conflict is retried with newer state */
				if (mk_client_update(ctl->c, path, s, &res, &err) < 0) {
					ret = -1;
					goto out;
				}
			} else {
				_cleanup_cjson_ cJSON *s = slice_new(so->json);
				slice_fill(s, so->json, ports, eps);
				_cleanup_free_ char *path = mk_client_resource_path(GV, "endpointslices", ns, NULL, NULL);
				if (mk_client_create(ctl->c, path, s, &res, &err) < 0) {
					ret = mk_error_code(err) == 403 ? 0 : -1; /* 403: namespace terminating */
					goto out;
				}
			}
			mk_informer_assume(ctl->inf[CTL_SLICE], res);
		}
	}
	for (; used < nmine; used++)
		if (delete_slice(ctl, have[used]->json, &err) < 0)
			ret = -1;
out:
	groups_free(g, ng);
	mk_object_list_free(have, nmine);
	mk_object_unref(so);
	return ret;
}
