/* ResourceQuota controller (kube-controller-manager's resourcequota controller):
 * keeps each quota's status.hard (= spec.hard) and status.used (what the objects of
 * its namespace that match its scopes really use, from the shared informers;
 * quota.c says what an object counts for). The API server charges creates to the
 * quota at admission (pkg/apiserver/admission.c); this controller recomputes when
 * a quota is new or its spec changes, when objects go away or pods finish
 * (replenishment), and every RESYNC_MS, which also returns what a create charged
 * but never stored. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define RESYNC_MS 60000

/* the kinds counted from an informer: resource, group and its informer */
static const struct {
	const char *resource, *group;
	int inf;
} counted[] = {
	{ "pods", "", CTL_PODS },
	{ "services", "", CTL_SVC },
	{ "configmaps", "", CTL_CM },
	{ "secrets", "", CTL_SECRET },
	{ "persistentvolumeclaims", "", CTL_PVC },
	{ "resourcequotas", "", CTL_QUOTA },
	{ "endpoints", "", CTL_EP },
	{ "deployments", "apps", CTL_DEPLOY },
	{ "replicasets", "apps", CTL_RS },
	{ "daemonsets", "apps", CTL_DS },
	{ "statefulsets", "apps", CTL_STS },
	{ "controllerrevisions", "apps", CTL_CR },
	{ "jobs", "batch", CTL_JOBS },
	{ "cronjobs", "batch", CTL_CRONJOBS },
	{ "endpointslices", "discovery.k8s.io", CTL_SLICE },
};

static void enqueue_namespace(struct mk_controllers *ctl, const char *ns)
{
	struct mk_object **qs;
	size_t n;
	if (!ns)
		return;
	n = mk_informer_by_index(ctl->inf[CTL_QUOTA], "ns", ns, &qs);
	for (size_t i = 0; i < n; i++)
		mk_workqueue_add(ctl->quota.q, qs[i]->key);
	if (n)
		mk_object_list_free(qs, n);
}

static void on_quota(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (!new)
		return;
	/* its own status writes (and the API server's charges) need no recount */
	if (old && cJSON_Compare(mk_json_get(new->json, "spec"), mk_json_get(old->json, "spec"), 1) &&
	    cJSON_Compare(mk_json_get(new->json, "spec.hard"), mk_json_get(new->json, "status.hard"), 1))
		return;
	mk_workqueue_add(ctl->quota.q, new->key);
}

/* a and b equal, absent counting as JSON null */
static bool same(const cJSON *a, const cJSON *b)
{
	if ((!a || cJSON_IsNull(a)) && (!b || cJSON_IsNull(b)))
		return true;
	return a && b && cJSON_Compare(a, b, 1);
}

static bool terminal(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

/* replenishment: usage that goes away (deleted objects, finished pods, services
 * of another type, claims resized) */
static void on_object(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const struct mk_object *o = new ? new : old;
	bool recount = !new;
	if (old && new) {
		recount = (terminal(new->json) && !terminal(old->json)) ||
			  !same(mk_json_get(old->json, "spec.type"), mk_json_get(new->json, "spec.type")) ||
			  !same(mk_json_get(old->json, "spec.resources.requests"),
					mk_json_get(new->json, "spec.resources.requests"));
	}
	if (recount && o)
		enqueue_namespace(ctl, mk_json_get_string(o->json, "metadata.namespace"));
}

void quota_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_QUOTA], on_quota, ctl);
	for (size_t i = 0; i < MK_ARRAY_SIZE(counted); i++)
		if (counted[i].inf != CTL_QUOTA)
			mk_informer_add_handler(ctl->inf[counted[i].inf], on_object, ctl);
}

/* count/<resource>[.<group>] of a kind without an informer here: a list request */
static int count_listed(struct mk_controllers *ctl, const char *key, const char *ns,
			cJSON *used)
{
	_cleanup_free_ char *res = mk_strdup(key + 6);
	char *dot = strchr(res, '.');
	const char *group = "";
	if (dot) {
		*dot = 0;
		group = dot + 1;
	}
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rs[i].name, res) || strcmp(rs[i].group, group) || !rs[i].namespaced)
			continue;
		_cleanup_free_ char *path = mk_client_resource_path(rs[i].group_version, rs[i].name,
								    ns, NULL, NULL);
		_cleanup_cjson_ cJSON *list = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_get(ctl->c, path, &list, &err) < 0)
			return -1;
		char v[32];
		snprintf(v, sizeof(v), "%d", cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")));
		mk_json_set_string(used, key, v);
		return 0;
	}
	return 0; /* a kind not served: 0 */
}

int quota_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *qo = mk_informer_get(ctl->inf[CTL_QUOTA], key);
	if (!qo)
		return 0;
	const cJSON *q = qo->json, *it;
	const cJSON *hard = mk_json_get(q, "spec.hard");
	const char *ns = mk_json_get_string(q, "metadata.namespace");
	_cleanup_cjson_ cJSON *used = cJSON_CreateObject();
	int ret = 0;

	/* every constrained resource starts at 0 */
	cJSON_ArrayForEach(it, hard)
		if (it->string)
			mk_json_set_string(used, it->string, "0");
	for (size_t i = 0; i < MK_ARRAY_SIZE(counted); i++) {
		bool wanted = false;
		cJSON_ArrayForEach(it, hard)
			wanted |= it->string && mk_api_quota_tracks(it->string, counted[i].resource,
								     counted[i].group);
		if (!wanted)
			continue;
		struct mk_object **objs;
		size_t n = mk_informer_by_index(ctl->inf[counted[i].inf], "ns", ns, &objs);
		_cleanup_cjson_ cJSON *sum = cJSON_CreateObject();
		for (size_t j = 0; j < n; j++) {
			if (!mk_api_quota_matches(q, counted[i].resource, objs[j]->json))
				continue;
			_cleanup_cjson_ cJSON *u = mk_api_quota_usage(counted[i].resource,
								       counted[i].group, objs[j]->json);
			mk_api_rl_add(sum, u);
		}
		if (n)
			mk_object_list_free(objs, n);
		cJSON_ArrayForEach(it, sum)
			if (cJSON_GetObjectItemCaseSensitive(hard, it->string))
				mk_json_set(used, it->string, cJSON_Duplicate(it, 1));
	}
	/* object counts of the other kinds */
	cJSON_ArrayForEach(it, hard)
	{
		bool known = false;
		if (!it->string || strncmp(it->string, "count/", 6))
			continue;
		for (size_t i = 0; i < MK_ARRAY_SIZE(counted); i++)
			known |= mk_api_quota_tracks(it->string, counted[i].resource, counted[i].group);
		if (!known && count_listed(ctl, it->string, ns, used) < 0)
			ret = -1;
	}
	if (ret == 0 && !(cJSON_Compare(mk_json_get(q, "status.hard"), hard, 1) &&
			  cJSON_Compare(mk_json_get(q, "status.used"), used, 1))) {
		_cleanup_cjson_ cJSON *body = cJSON_Duplicate(q, 1);
		cJSON *st = cJSON_CreateObject();
		cJSON_AddItemToObject(st, "hard", hard ? cJSON_Duplicate(hard, 1) : cJSON_CreateObject());
		cJSON_AddItemToObject(st, "used", cJSON_Duplicate(used, 1));
		mk_json_set(body, "status", st);
		_cleanup_free_ char *path = mk_client_resource_path(
			"v1", "resourcequotas", ns, mk_json_get_string(q, "metadata.name"), "status");
		_cleanup_error_ struct mk_error *err = NULL;
		_cleanup_cjson_ cJSON *res = NULL;
		/* resourceVersion as precondition: a charge the API server made meanwhile
		 * is not overwritten; the conflict retries the count */
		if (mk_client_update(ctl->c, path, body, &res, &err) < 0) {
			if (mk_error_code(err) != 404)
				ret = -1;
		} else {
			mk_informer_assume(ctl->inf[CTL_QUOTA], res);
		}
	}
	mk_object_unref(qo);
	if (ret == 0)
		mk_workqueue_add_after(ctl->quota.q, key, RESYNC_MS);
	return ret;
}
