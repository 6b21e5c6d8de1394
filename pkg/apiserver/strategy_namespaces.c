/* Namespaces on the server: a new one gets its default ServiceAccount; default,
 * kube-system and kube-public may not be deleted; deletion either goes through
 * the namespace controller (Terminating, spec.finalizers, the finalize
 * subresource) or, without it, takes the contents along at once; a namespace
 * write rebuilds the RBAC index (its deletion takes its roles along). */
#include <errno.h>
#include <string.h>
#include "internal.h"

static void created(struct mk_apiserver *srv, const char *name)
{
	_cleanup_error_ struct mk_error *err = NULL;
	/* as kube-controller-manager's serviceaccount controller */
	if (mk_serviceaccounts_ensure_default(srv, name, &err) < 0)
		mk_log(MK_LOG_WARN, "apiserver", "%s", err->msg);
}

static int delete_refuse(struct mk_request *req, struct mk_reply *rep)
{
	static const char *const kept[] = { "default", "kube-system", "kube-public" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(kept); i++) {
		if (strcmp(req->name, kept[i]))
			continue;
		mk_reply_status(rep, 403, "namespaces", req->name,
				"namespaces \"%s\" is forbidden: this namespace may not be deleted",
				req->name);
		return -1;
	}
	return 0;
}

/* under the namespace controller, a namespace is marked Terminating and ends
 * through its finalizer */
static bool delete_mark(struct mk_apiserver *srv, cJSON *ns)
{
	if (!srv->namespace_controller)
		return false;
	mk_json_set_string(mk_json_ensure_object(ns, "status"), "phase", "Terminating");
	return true;
}

static bool holds(const cJSON *ns)
{
	return cJSON_GetArraySize(mk_json_get(ns, "spec.finalizers")) > 0;
}

/* Without the namespace controller, everything in namespace ns is deleted
 * synchronously, which keeps `kubectl delete namespace` true. */
static int purge(struct mk_apiserver *srv, const char *ns, struct mk_error **err)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);

	if (srv->namespace_controller)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct mk_store_list l = { 0 };
		if (!rs[i].namespaced)
			continue;
		if (mk_store_list(srv->store, mk_api_resource_store(&rs[i]), ns, NULL, NULL, &l, err) < 0)
			return -1;
		for (size_t j = 0; j < l.n; j++) {
			_cleanup_cjson_ cJSON *o = cJSON_Parse(l.items[j]);
			const char *nm = mk_json_get_string(o, "metadata.name");
			_cleanup_error_ struct mk_error *e = NULL;
			if (nm && mk_resource_delete_one(srv, &rs[i], ns, nm, 0, NULL, &e) < 0 &&
			    e->code != ENOENT) {
				mk_store_list_release(&l);
				return mk_error_set(err, e->code, "%s", e->msg);
			}
		}
		mk_store_list_release(&l);
	}
	return 0;
}

static void written(struct mk_request *req, struct mk_reply *rep)
{
	mk_rbac_refresh(req->srv, false);
}

/* namespaces/finalize writes spec.finalizers and nothing else */
static void finalize_write(cJSON *obj, const cJSON *sent)
{
	cJSON *fin = mk_json_get(sent, "spec.finalizers");
	cJSON *spec = mk_json_ensure_object(obj, "spec");
	if (fin)
		mk_json_set(spec, "finalizers", cJSON_Duplicate(fin, 1));
	else
		cJSON_DeleteItemFromObject(spec, "finalizers");
}

static const struct mk_subresource subresources[] = {
	{ .name = "finalize", .write = finalize_write, .methods = "PUT" },
	{ .name = NULL },
};

static const char *const field_selectors[] = { "status.phase", NULL };

const struct mk_server_strategy mk_strategy_namespaces = {
	.group = "",
	.resource = "namespaces",
	.created = created,
	.delete_refuse = delete_refuse,
	.delete_mark = delete_mark,
	.holds = holds,
	.purge = purge,
	.no_delete_collection = true,
	.written = written,
	.subresources = subresources,
	.field_selectors = field_selectors,
};
