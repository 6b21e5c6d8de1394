/* Admission of new objects, in kube-apiserver's order: the mutating steps before
 * the kind's validation (NamespaceLifecycle, LimitRanger's defaults), the validating
 * ones after it (LimitRanger's bounds, ResourceQuota). handlers.c calls the two
 * phases from its create path, so further admission steps line up here.
 *
 * ResourceQuota charges a create to every quota of the namespace it concerns before
 * the object is stored, as upstream's quota evaluator does: the quota's status.used
 * is written with its resourceVersion as precondition, so two creates racing for
 * the last unit cannot both pass (the loser re-reads and is refused); the quota
 * controller (pkg/controller/resourcequota.c) recomputes status.used from what is
 * really stored, which also returns what a create charged but did not store. */
#include <errno.h>
#include <string.h>
#include "minik8s/store.h"
#include "internal.h"

#define QUOTA_RETRIES 16

/* writers of quota usage in this server, one at a time: racing admissions then
 * meet no conflict among themselves (only with the controller) */
static pthread_mutex_t quota_mu = PTHREAD_MUTEX_INITIALIZER;

int mk_admission_namespace_lifecycle(struct mk_apiserver *srv, const struct mk_api_resource *r,
				     const char *ns, const char *name, struct mk_reply *rep)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *json = NULL;

	if (!r->namespaced)
		return 0;
	/* from the list cache (current with every namespace write acknowledged) */
	int cached = mk_listcache_get(srv, "namespaces", "", ns, &json);
	if (cached < 0) {
		mk_reply_status(rep, 404, "namespaces", ns, "namespaces \"%s\" not found", ns);
		return -1;
	}
	if (!cached && mk_store_get(srv->store, "namespaces", "", ns, &json, NULL, &err) < 0) {
		if (err->code == ENOENT)
			mk_reply_status(rep, 404, "namespaces", ns, "namespaces \"%s\" not found", ns);
		else
			mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
		return -1;
	}
	_cleanup_cjson_ cJSON *o = cJSON_Parse(json);
	if (!mk_json_get(o, "metadata.deletionTimestamp"))
		return 0;
	/* upstream's wording, with the NamespaceTerminating cause controllers look for */
	_cleanup_free_ char *qual = r->group[0] ? mk_strdup_printf("%s.%s", r->name, r->group)
						: mk_strdup(r->name);
	cJSON *causes = cJSON_CreateArray();
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "reason", "NamespaceTerminating");
	_cleanup_free_ char *cm = mk_strdup_printf("namespace %s is being terminated", ns);
	cJSON_AddStringToObject(c, "message", cm);
	cJSON_AddStringToObject(c, "field", "metadata.namespace");
	cJSON_AddItemToArray(causes, c);
	_cleanup_free_ char *msg = mk_strdup_printf(
		"%s \"%s\" is forbidden: unable to create new content in namespace %s because it "
		"is being terminated", qual, name ? name : "", ns);
	_cleanup_cjson_ cJSON *st = mk_api_status_new(403, "Forbidden", msg, r->name, name, causes);
	if (r->group[0])
		mk_json_set_string(cJSON_GetObjectItem(st, "details"), "group", r->group);
	mk_reply_json(rep, 403, st);
	return -1;
}

cJSON **mk_stored_objects_load(struct mk_apiserver *srv, const char *resource, const char *ns,
			       size_t *ret_n, struct mk_error **err)
{
	struct mk_store_list l = { 0 };
	if (!mk_listcache_load(srv, resource, ns, &l) &&
	    mk_store_list(srv->store, resource, ns, NULL, NULL, &l, err) < 0)
		return NULL;
	cJSON **v = mk_malloc0((l.n + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < l.n; i++) {
		cJSON *o = cJSON_Parse(l.items[i]);
		if (o)
			v[n++] = o;
	}
	mk_store_list_release(&l);
	*ret_n = n;
	return v;
}

void mk_stored_objects_free(cJSON **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(v[i]);
	free(v);
}

static int forbidden(const struct mk_api_resource *r, const cJSON *obj, const char *reason,
		     struct mk_error **err)
{
	const char *name = mk_json_get_string(obj, "metadata.name");
	_cleanup_free_ char *qual = r->group[0] ? mk_strdup_printf("%s.%s", r->name, r->group)
						: mk_strdup(r->name);
	return mk_error_set(err, 403, "%s \"%s\" is forbidden: %s", qual, name ? name : "", reason);
}

int mk_admission_mutate(struct mk_apiserver *srv, const struct mk_api_resource *r,
			const char *ns, cJSON *obj, struct mk_error **err)
{
	const struct mk_server_strategy *s = mk_strategy_of(r);
	if (!r->namespaced || !s->limits_default)
		return 0;
	/* LimitRanger (Admit): the defaults of every LimitRange (a pod's containers) */
	size_t n = 0;
	cJSON **lrs = mk_stored_objects_load(srv, "limitranges", ns, &n, err);
	if (!lrs)
		return -1;
	if (n)
		s->limits_default((const cJSON *const *)lrs, n, obj);
	mk_stored_objects_free(lrs, n);
	return 0;
}

/* ResourceQuota: charge obj to the namespace's quotas (nothing written when dry) */
static int admit_quota(struct mk_apiserver *srv, const struct mk_api_resource *r,
		       const char *ns, const cJSON *obj, const cJSON *old, bool dry,
		       struct mk_error **err)
{
	int ret = -1;

	pthread_mutex_lock(&quota_mu);
	for (int attempt = 0; attempt < QUOTA_RETRIES; attempt++) {
		size_t n = 0;
		cJSON **qs = mk_stored_objects_load(srv, "resourcequotas", ns, &n, err);
		if (!qs)
			goto out;
		cJSON *used[64] = { 0 };
		bool conflict = false;
		if (n > MK_ARRAY_SIZE(used))
			n = MK_ARRAY_SIZE(used);
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *msg = NULL;
			if (mk_api_quota_admit_update(qs[i], r->name, r->group, obj, old, &used[i],
						      &msg) < 0) {
				forbidden(r, obj, msg, err);
				for (size_t j = 0; j < n; j++)
					cJSON_Delete(used[j]);
				mk_stored_objects_free(qs, n);
				goto out;
			}
		}
		for (size_t i = 0; i < n && !dry; i++) {
			_cleanup_error_ struct mk_error *e = NULL;
			uint64_t rv = 0;
			const char *rvs = mk_json_get_string(qs[i], "metadata.resourceVersion");
			if (!used[i] || conflict)
				continue;
			if (rvs)
				rv = strtoull(rvs, NULL, 10);
			mk_json_set(mk_json_ensure_object(qs[i], "status"), "used", used[i]);
			used[i] = NULL;
			if (mk_store_update(srv->store, "resourcequotas", ns,
					    mk_json_get_string(qs[i], "metadata.name"), rv, qs[i], NULL,
					    NULL, &e) < 0) {
				if (e->code == ESTALE) {
					conflict = true; /* the controller wrote: count again */
					continue;
				}
				if (e->code == ENOENT)
					continue; /* the quota went away meanwhile */
				mk_error_set(err, e->code, "%s", e->msg);
				for (size_t j = 0; j < n; j++)
					cJSON_Delete(used[j]);
				mk_stored_objects_free(qs, n);
				goto out;
			}
		}
		for (size_t j = 0; j < n; j++)
			cJSON_Delete(used[j]);
		mk_stored_objects_free(qs, n);
		if (!conflict) {
			ret = 0;
			goto out;
		}
	}
	mk_error_set(err, 409, "Operation cannot be fulfilled on resourcequotas: the quotas of "
			       "namespace %s kept changing; try again", ns);
out:
	pthread_mutex_unlock(&quota_mu);
	return ret;
}

int mk_admission_validate(struct mk_apiserver *srv, const struct mk_api_resource *r,
			  const char *ns, const cJSON *obj, bool dry, struct mk_error **err)
{
	if (!r->namespaced)
		return 0;
	/* LimitRanger (Validate): the bounds of the kind (pods, claims) */
	const struct mk_server_strategy *s = mk_strategy_of(r);
	if (s->limits_check) {
		size_t n = 0;
		cJSON **lrs = mk_stored_objects_load(srv, "limitranges", ns, &n, err);
		if (!lrs)
			return -1;
		_cleanup_free_ char *msg = NULL;
		int rc = s->limits_check((const cJSON *const *)lrs, n, obj, &msg);
		mk_stored_objects_free(lrs, n);
		if (rc < 0)
			return forbidden(r, obj, msg, err);
	}
	return admit_quota(srv, r, ns, obj, NULL, dry, err);
}

int mk_admission_validate_update(struct mk_apiserver *srv, const struct mk_api_resource *r,
				 const char *ns, const cJSON *obj, const cJSON *old, bool dry,
				 struct mk_error **err)
{
	/* what an update can add to a quota: a service's node ports and load
	 * balancer, a claim's storage (pods change resources only through resize,
	 * which is not served) */
	if (!mk_strategy_of(r)->quota_on_update)
		return 0;
	return admit_quota(srv, r, ns, obj, old, dry, err);
}
