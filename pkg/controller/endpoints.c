/* Endpoints controller: for every service with a selector, an Endpoints object
 * of the same name listing the matching pods that have an IP — ready ones in
 * addresses, others in notReadyAddresses — with the service's ports resolved
 * per pod (a named targetPort is looked up in the pod's container ports; pods
 * without it are left out of that port's subset). Services without a selector
 * are not touched (their Endpoints are the user's). */
#include <string.h>
#include "internal.h"

static void on_svc(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	mk_workqueue_add(ctl->ep.q, (new ? new : old)->key);
}

void svc_enqueue_selecting(struct mk_controllers *ctl, const cJSON *pod, struct mk_workqueue *q)
{
	struct mk_object **svcs;
	size_t n = mk_informer_by_index(ctl->inf[CTL_SVC], "ns",
					mk_json_get_string(pod, "metadata.namespace"), &svcs);
	const cJSON *labels = mk_json_get(pod, "metadata.labels");
	for (size_t i = 0; i < n; i++) {
		const cJSON *sel = mk_json_get(svcs[i]->json, "spec.selector");
		if (cJSON_GetArraySize(sel) > 0 && labels_match_map(sel, labels))
			mk_workqueue_add(q, svcs[i]->key);
	}
	mk_object_list_free(svcs, n);
}

static bool pod_relevant_change(const cJSON *a, const cJSON *b)
{
	const char *paths[] = { "metadata.labels", "status.podIP", "spec.nodeName",
				"metadata.deletionTimestamp", "spec.containers", "spec.hostname",
				"spec.subdomain" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(paths); i++)
		if (!cJSON_Compare(mk_json_get(a, paths[i]), mk_json_get(b, paths[i]), 1))
			return true;
	return mk_controller_pod_ready(a) != mk_controller_pod_ready(b);
}

static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (old && new && !pod_relevant_change(old->json, new->json))
		return;
	if (old)
		svc_enqueue_selecting(ctl, old->json, ctl->ep.q);
	if (new)
		svc_enqueue_selecting(ctl, new->json, ctl->ep.q);
}

static void on_ep(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	/* someone else changed or removed it: put it back as it should be */
	const struct mk_object *o = new ? new : old;
	struct mk_object *svc = mk_informer_get(ctl->inf[CTL_SVC], o->key);
	if (svc) {
		mk_workqueue_add(ctl->ep.q, o->key);
		mk_object_unref(svc);
	}
}

void ep_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_SVC], on_svc, ctl);
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_EP], on_ep, ctl);
}

int svc_target_port(const cJSON *sp, const cJSON *pod)
{
	const cJSON *tp = cJSON_GetObjectItem(sp, "targetPort");
	if (!tp)
		tp = cJSON_GetObjectItem(sp, "port");
	if (cJSON_IsNumber(tp))
		return tp->valueint;
	if (!cJSON_IsString(tp))
		return 0;
	char *end;
	long n = strtol(tp->valuestring, &end, 10);
	if (*tp->valuestring && !*end)
		return (int)n;
	const char *proto = mk_json_get_string(sp, "protocol");
	const cJSON *c, *p;
	cJSON_ArrayForEach(c, mk_json_get(pod, "spec.containers"))
	{
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(c, "ports"))
		{
			const char *name = mk_json_get_string(p, "name");
			const char *pp = mk_json_get_string(p, "protocol");
			if (name && !strcmp(name, tp->valuestring) &&
			    !strcmp(pp ? pp : "TCP", proto ? proto : "TCP"))
				return json_int(p, "containerPort", 0);
		}
	}
	return 0;
}

cJSON *svc_pod_ports(const cJSON *svc, const cJSON *pod, bool empty_names)
{
	cJSON *ports = cJSON_CreateArray();
	const cJSON *sp;
	cJSON_ArrayForEach(sp, mk_json_get(svc, "spec.ports"))
	{
		int port = svc_target_port(sp, pod);
		if (!port)
			continue;
		cJSON *p = cJSON_CreateObject();
		const char *name = mk_json_get_string(sp, "name");
		const char *proto = mk_json_get_string(sp, "protocol");
		if ((name && *name) || empty_names)
			cJSON_AddStringToObject(p, "name", name ? name : "");
		cJSON_AddNumberToObject(p, "port", port);
		cJSON_AddStringToObject(p, "protocol", proto ? proto : "TCP");
		cJSON_AddItemToArray(ports, p);
	}
	return ports;
}

struct subset {
	char *ports_key; /* canonical ports JSON */
	cJSON *ports;
	cJSON *ready, *not_ready;
};

static int cmp_addr(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(mk_json_get_string(x, "ip"), mk_json_get_string(y, "ip"));
}

/* Sorts an array of addresses by IP (a stable order keeps updates minimal). */
static cJSON *sorted(cJSON *arr)
{
	int n = cJSON_GetArraySize(arr);
	cJSON **items = mk_malloc0(((size_t)n + 1) * sizeof(*items));
	for (int i = 0; i < n; i++)
		items[i] = cJSON_DetachItemFromArray(arr, 0);
	qsort(items, (size_t)n, sizeof(*items), cmp_addr);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, items[i]);
	free(items);
	return arr;
}

/* The pod's address under svc: its IP, its own DNS name under the service
 * (hostname.subdomain, as kube), its node and a reference to it. */
static cJSON *pod_address(const cJSON *svc, const cJSON *pod, const char *ip)
{
	cJSON *addr = cJSON_CreateObject();
	cJSON_AddStringToObject(addr, "ip", ip);
	const char *hn = mk_json_get_string(pod, "spec.hostname");
	const char *sd = mk_json_get_string(pod, "spec.subdomain");
	const char *sn = mk_json_get_string(svc, "metadata.name");
	if (hn && *hn && sd && sn && !strcmp(sd, sn))
		cJSON_AddStringToObject(addr, "hostname", hn);
	endpoint_pod_ref(addr, pod);
	return addr;
}

/* The subset of ports (taken), found by its canonical form or added. */
static struct subset *subset_for(struct subset **subs, size_t *nsub, size_t *cap, cJSON *ports)
{
	struct mk_buf kb;
	mk_buf_init(&kb);
	mk_json_canonical(ports, &kb);
	for (size_t j = 0; j < *nsub; j++)
		if (!strcmp((*subs)[j].ports_key, kb.data)) {
			mk_buf_release(&kb);
			cJSON_Delete(ports);
			return &(*subs)[j];
		}
	MK_GROW(*subs, *cap, *nsub + 1);
	struct subset *s = &(*subs)[(*nsub)++];
	s->ports_key = mk_buf_steal(&kb);
	s->ports = ports;
	s->ready = cJSON_CreateArray();
	s->not_ready = cJSON_CreateArray();
	return s;
}

/* The subsets as the API has them, in a stable order (by their ports, addresses by
 * IP); subs is consumed. */
static cJSON *subsets_json(struct subset *subs, size_t nsub)
{
	for (size_t a = 0; a + 1 < nsub; a++)
		for (size_t b = a + 1; b < nsub; b++)
			if (strcmp(subs[a].ports_key, subs[b].ports_key) > 0) {
				struct subset t = subs[a];
				subs[a] = subs[b];
				subs[b] = t;
			}
	cJSON *out = cJSON_CreateArray();
	for (size_t j = 0; j < nsub; j++) {
		cJSON *s = cJSON_CreateObject();
		if (cJSON_GetArraySize(subs[j].ready))
			cJSON_AddItemToObject(s, "addresses", sorted(subs[j].ready));
		else
			cJSON_Delete(subs[j].ready);
		if (cJSON_GetArraySize(subs[j].not_ready))
			cJSON_AddItemToObject(s, "notReadyAddresses", sorted(subs[j].not_ready));
		else
			cJSON_Delete(subs[j].not_ready);
		if (cJSON_GetArraySize(subs[j].ports))
			cJSON_AddItemToObject(s, "ports", subs[j].ports);
		else
			cJSON_Delete(subs[j].ports);
		cJSON_AddItemToArray(out, s);
		free(subs[j].ports_key);
	}
	free(subs);
	return out;
}

/* The service's subsets from the pods it selects that have an IP and are not
 * finished (terminating ones only with publishNotReadyAddresses), grouped by the
 * ports they resolve to. */
static cJSON *build_subsets(const cJSON *svc, struct mk_object **pods, size_t n)
{
	const cJSON *sel = mk_json_get(svc, "spec.selector");
	bool publish = cJSON_IsTrue(mk_json_get(svc, "spec.publishNotReadyAddresses"));
	struct subset *subs = NULL;
	size_t nsub = 0, subs_cap = 0;

	for (size_t i = 0; i < n; i++) {
		const cJSON *pod = pods[i]->json;
		const char *ip = mk_json_get_string(pod, "status.podIP");
		if (!ip || !*ip || !labels_match_map(sel, mk_json_get(pod, "metadata.labels")))
			continue;
		if (has_deletion(pod) && !publish)
			continue;
		const char *phase = mk_json_get_string(pod, "status.phase");
		if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
			continue;
		cJSON *ports = svc_pod_ports(svc, pod, false);
		if (!cJSON_GetArraySize(ports) && cJSON_GetArraySize(mk_json_get(svc, "spec.ports"))) {
			cJSON_Delete(ports);
			continue;
		}
		struct subset *sub = subset_for(&subs, &nsub, &subs_cap, ports);
		cJSON_AddItemToArray(publish || mk_controller_pod_ready(pod) ? sub->ready : sub->not_ready,
				     pod_address(svc, pod, ip));
	}
	return subsets_json(subs, nsub);
}

int ep_sync(struct mk_controllers *ctl, const char *key)
{
	_cleanup_free_ char *ns = NULL, *name = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	split_key(key, &ns, &name);
	struct mk_object *so = mk_informer_get(ctl->inf[CTL_SVC], key);
	struct mk_object *eo = mk_informer_get(ctl->inf[CTL_EP], key);
	int ret = 0;

	if (!so) {
		/* the service is gone: so are its endpoints (ours or not, as kube does) */
		if (eo) {
			_cleanup_free_ char *path = mk_client_resource_path("v1", "endpoints", ns, name, NULL);
			if (mk_client_delete(ctl->c, path, NULL, NULL, &err) < 0 && mk_error_code(err) != 404)
				ret = -1;
		}
		mk_object_unref(eo);
		return ret;
	}
	const cJSON *svc = so->json;
	const cJSON *sel = mk_json_get(svc, "spec.selector");
	if (!cJSON_GetArraySize(sel) || has_deletion(svc)) {
		mk_object_unref(so);
		mk_object_unref(eo);
		return 0;
	}
	struct mk_object **pods;
	size_t np = mk_informer_by_index(ctl->inf[CTL_PODS], "ns", ns, &pods);
	_cleanup_cjson_ cJSON *subsets = build_subsets(svc, pods, np);
	mk_object_list_free(pods, np);

	const cJSON *labels = mk_json_get(svc, "metadata.labels");
	if (eo) {
		const cJSON *cur = mk_json_get(eo->json, "subsets");
		bool same_subsets = cJSON_Compare(cur, subsets, 1) ||
				    (!cur && cJSON_GetArraySize(subsets) == 0);
		if (same_subsets && cJSON_Compare(mk_json_get(eo->json, "metadata.labels"), labels, 1))
			goto out;
		_cleanup_cjson_ cJSON *ep = cJSON_Duplicate(eo->json, 1);
		mk_json_set(ep, "subsets", cJSON_Duplicate(subsets, 1));
		cJSON *md = cJSON_GetObjectItem(ep, "metadata");
		if (labels)
			mk_json_set(md, "labels", cJSON_Duplicate(labels, 1));
		else
			cJSON_DeleteItemFromObject(md, "labels");
		_cleanup_free_ char *path = mk_client_resource_path("v1", "endpoints", ns, name, NULL);
		_cleanup_cjson_ cJSON *res = NULL;
		/* resourceVersion from the cache: a conflict means a newer state, retried */
		if (mk_client_update(ctl->c, path, ep, &res, &err) < 0) {
			ret = mk_error_code(err) == 404 ? 0 : -1;
			goto out;
		}
		mk_informer_assume(ctl->inf[CTL_EP], res);
	} else {
		_cleanup_cjson_ cJSON *ep = cJSON_CreateObject();
		cJSON_AddStringToObject(ep, "apiVersion", "v1");
		cJSON_AddStringToObject(ep, "kind", "Endpoints");
		cJSON *md = cJSON_AddObjectToObject(ep, "metadata");
		cJSON_AddStringToObject(md, "name", name);
		cJSON_AddStringToObject(md, "namespace", ns);
		if (labels)
			cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(labels, 1));
		cJSON_AddItemToObject(ep, "subsets", cJSON_Duplicate(subsets, 1));
		_cleanup_free_ char *path = mk_client_resource_path("v1", "endpoints", ns, NULL, NULL);
		_cleanup_cjson_ cJSON *res = NULL;
		if (mk_client_create(ctl->c, path, ep, &res, &err) < 0) {
			/* 409: created meanwhile (the cache will bring it: retry); 403: ns terminating */
			ret = mk_error_code(err) == 403 ? 0 : -1;
			goto out;
		}
		mk_informer_assume(ctl->inf[CTL_EP], res);
	}
out:
	mk_object_unref(so);
	mk_object_unref(eo);
	return ret;
}
