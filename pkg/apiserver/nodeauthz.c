/* The Node authorizer and NodeRestriction admission, as kube-apiserver applies them to
 * kubelets (plugin/pkg/auth/authorizer/node, plugin/pkg/admission/noderestriction).
 *
 * A node (system:node:NAME) may:
 *   - read (get/list/watch) nodes, pods, services, endpoints, endpointslices, and
 *     namespaces and networkpolicies (its service balancer, DNS responder and policy
 *     enforcer run in the agent: here they have no identity of their own);
 *   - create its Node, and update/patch/delete only its own Node and its status;
 *   - create, and get/update/patch/delete its own Lease in kube-node-lease;
 *   - update/patch the status of pods bound to it, and delete them;
 *   - create/update/patch events;
 *   - get the Secrets, ConfigMaps, PersistentVolumeClaims and PersistentVolumes the
 *     pods bound to it reference, and create tokens (serviceaccounts/token) for the
 *     service accounts those pods run as. kube-apiserver keeps a graph of these
 *     edges; here the store is asked at each request: the pods of the namespace
 *     bound to the node, then their references (as the graph's edges are built);
 *   - list/watch and patch (drop the cleanup finalizer of) local-path
 *     PersistentVolumes on this node: the agent is minik8s's local-path reclaimer;
 * nothing else. List and watch with fieldSelector=metadata.name=X count as a get of
 * X (kube-apiserver's RequestInfo does the same), which is how the agent watches
 * the single objects its pods use. */
#include <errno.h>
#include <string.h>
#include "internal.h"

#define NO_RELATIONSHIP_FMT "no relationship found between node '%s' and this object"

enum ref_kind { REF_SECRET, REF_CONFIGMAP, REF_PVC, REF_SA };

static bool str_is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool is_read(const char *v)
{
	return str_is(v, "get") || str_is(v, "list") || str_is(v, "watch");
}

/* env[].valueFrom and envFrom[] of one container referencing name */
static bool container_refs(const cJSON *c, enum ref_kind k, const char *name)
{
	const cJSON *e;
	const char *key = k == REF_SECRET ? "valueFrom.secretKeyRef.name" : "valueFrom.configMapKeyRef.name";
	const char *fkey = k == REF_SECRET ? "secretRef.name" : "configMapRef.name";
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env"))
		if (str_is(mk_json_get_string(e, key), name))
			return true;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "envFrom"))
		if (str_is(mk_json_get_string(e, fkey), name))
			return true;
	return false;
}

/* Whether pod references name as a k (the edges of kube's graph_populator). */
static bool pod_refs(const cJSON *pod, enum ref_kind k, const char *name)
{
	const cJSON *v, *s, *c;
	const char *pname = mk_json_get_string(pod, "metadata.name");

	if (k == REF_SA)
		return str_is(mk_json_get_string(pod, "spec.serviceAccountName"), name);
	if (k == REF_SECRET)
		cJSON_ArrayForEach(v, mk_json_get(pod, "spec.imagePullSecrets"))
			if (str_is(mk_json_get_string(v, "name"), name))
				return true;
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
	{
		switch (k) {
		case REF_SECRET:
			if (str_is(mk_json_get_string(v, "secret.secretName"), name) ||
			    str_is(mk_json_get_string(v, "csi.nodePublishSecretRef.name"), name))
				return true;
			break;
		case REF_CONFIGMAP:
			if (str_is(mk_json_get_string(v, "configMap.name"), name))
				return true;
			break;
		case REF_PVC: {
			if (str_is(mk_json_get_string(v, "persistentVolumeClaim.claimName"), name))
				return true;
			/* a generic ephemeral volume's claim is POD-VOLUME */
			const char *vn = mk_json_get_string(v, "name");
			if (mk_json_get(v, "ephemeral") && pname && vn) {
				_cleanup_free_ char *cn = mk_strdup_printf("%s-%s", pname, vn);
				if (!strcmp(cn, name))
					return true;
			}
			break;
		}
		default:
			break;
		}
		if (k != REF_SECRET && k != REF_CONFIGMAP)
			continue;
		cJSON_ArrayForEach(s, mk_json_get(v, "projected.sources"))
			if (str_is(mk_json_get_string(s, k == REF_SECRET ? "secret.name" : "configMap.name"),
				   name))
				return true;
	}
	if (k != REF_SECRET && k != REF_CONFIGMAP)
		return false;
	static const char *const lists[] = { "spec.containers", "spec.initContainers",
					     "spec.ephemeralContainers" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(lists); i++)
		cJSON_ArrayForEach(c, mk_json_get(pod, lists[i]))
			if (container_refs(c, k, name))
				return true;
	return false;
}

struct node_filter {
	const char *node;
	char *needle; /* "nodeName":"NODE" as the store writes it (a quick pre-check) */
};

static int on_node(const char *json, void *ud)
{
	const struct node_filter *f = ud;
	return strstr(json, f->needle) != NULL;
}

/* The pods bound to node in ns (NULL: every namespace), parsed; owned array. */
static size_t pods_on_node(struct mk_store *store, const char *node, const char *ns,
			   cJSON ***ret)
{
	struct node_filter f = { node, mk_strdup_printf("\"nodeName\":\"%s\"", node) };
	struct mk_store_list l = { 0 };
	_cleanup_error_ struct mk_error *err = NULL;
	size_t n = 0;

	*ret = NULL;
	if (mk_store_list(store, "pods", ns, on_node, &f, &l, &err) < 0) {
		free(f.needle);
		return 0;
	}
	free(f.needle);
	cJSON **v = mk_malloc0((l.n ? l.n : 1) * sizeof(*v));
	for (size_t i = 0; i < l.n; i++) {
		cJSON *p = cJSON_Parse(l.items[i]);
		if (p && str_is(mk_json_get_string(p, "spec.nodeName"), node))
			v[n++] = p;
		else
			cJSON_Delete(p);
	}
	mk_store_list_release(&l);
	*ret = v;
	return n;
}

static void pods_free(cJSON **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(v[i]);
	free(v);
}

/* Whether a pod of ns bound to node references name as k. */
static bool related(struct mk_store *store, const char *node, const char *ns, enum ref_kind k,
		    const char *name)
{
	cJSON **pods;
	bool found = false;
	if (!store || !node || !ns || !name)
		return false;
	size_t n = pods_on_node(store, node, ns, &pods);
	for (size_t i = 0; i < n && !found; i++)
		found = pod_refs(pods[i], k, name);
	pods_free(pods, n);
	return found;
}

static cJSON *get_object(struct mk_store *store, const char *res, const char *ns, const char *name)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (!store || mk_store_get(store, res, ns ? ns : "", name, &json, NULL, &err) < 0)
		return NULL;
	return cJSON_Parse(json);
}

/* A PersistentVolume is related through the claim (of a pod on node) bound to it. */
static bool pv_related(struct mk_store *store, const char *node, const char *pv)
{
	cJSON **pods;
	bool found = false;
	if (!store || !node || !pv)
		return false;
	size_t n = pods_on_node(store, node, NULL, &pods);
	for (size_t i = 0; i < n && !found; i++) {
		const char *ns = mk_json_get_string(pods[i], "metadata.namespace");
		const cJSON *v;
		cJSON_ArrayForEach(v, mk_json_get(pods[i], "spec.volumes"))
		{
			const char *cn = mk_json_get_string(v, "persistentVolumeClaim.claimName");
			if (!cn || !ns)
				continue;
			_cleanup_cjson_ cJSON *pvc = get_object(store, "persistentvolumeclaims", ns, cn);
			if (str_is(mk_json_get_string(pvc, "spec.volumeName"), pv)) {
				found = true;
				break;
			}
		}
	}
	pods_free(pods, n);
	return found;
}

/* A volume whose node affinity is this node alone (kubernetes.io/hostname In [node]):
 * the local-path provisioner's, which the agent reclaims. */
static bool pv_on_node(struct mk_store *store, const char *node, const char *pv)
{
	_cleanup_cjson_ cJSON *o = get_object(store, "persistentvolumes", NULL, pv);
	const cJSON *t, *e, *v;
	cJSON_ArrayForEach(t, mk_json_get(o, "spec.nodeAffinity.required.nodeSelectorTerms"))
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "matchExpressions"))
		{
			if (!str_is(mk_json_get_string(e, "key"), "kubernetes.io/hostname") ||
			    !str_is(mk_json_get_string(e, "operator"), "In"))
				continue;
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(e, "values"))
				if (cJSON_IsString(v) && !strcmp(v->valuestring, node))
					return true;
		}
	return false;
}

/* The pod ns/name is bound to node, or does not exist (the write then answers 404,
 * as NodeRestriction lets a write of a missing pod through to its NotFound: an
 * agent finishing a deletion twice must see that the pod is gone). */
static bool pod_on_node(struct mk_store *store, const char *node, const char *ns, const char *name)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (!store || !name)
		return false;
	if (mk_store_get(store, "pods", ns ? ns : "", name, &json, NULL, &err) < 0)
		return err->code == ENOENT;
	_cleanup_cjson_ cJSON *p = cJSON_Parse(json);
	return p && str_is(mk_json_get_string(p, "spec.nodeName"), node);
}

/* ---- the Node authorizer: one rule per resource ------------------------------------ */

enum node_verdict {
	NODE_ALLOW,
	NODE_DENY,   /* q->reason / q->reason_owned say why ("" unless set) */
	NODE_NO_REL, /* NO_RELATIONSHIP_FMT */
};

/* One request as the rules see it; v, r never NULL. */
struct node_query {
	const struct mk_authz_attrs *a;
	const char *v, *r, *node, *name, *sub;
	const char *reason;
	char *reason_owned;
};

static enum node_verdict deny_node(struct node_query *q, const char *why)
{
	q->reason_owned = mk_strdup_printf("node \"%s\" %s", q->node, why);
	return NODE_DENY;
}

/* Discovery, version, health: what every authenticated user may read. */
static bool nonresource_allowed(const struct mk_authz_attrs *a, const char *v)
{
	static const char *const paths[] = { "/api", "/apis", "/version", "/openapi",
					     "/healthz", "/livez", "/readyz" };
	if (!a->path || !str_is(v, "get"))
		return false;
	for (size_t i = 0; i < MK_ARRAY_SIZE(paths); i++) {
		size_t n = strlen(paths[i]);
		if (!strncmp(a->path, paths[i], n) && (!a->path[n] || a->path[n] == '/'))
			return true;
	}
	return false;
}

static enum node_verdict rule_pods(struct node_query *q)
{
	const char *v = q->v, *sub = q->sub, *name = q->name;
	if (!sub && is_read(v))
		return NODE_ALLOW;
	if (str_is(sub, "status") && (str_is(v, "update") || str_is(v, "patch") || str_is(v, "get"))) {
		/* no name: only a SelfSubjectAccessReview asks that (NodeRestriction
		 * checks the pod of a real write as well) */
		if (str_is(v, "get") || !name || pod_on_node(q->a->store, q->node, q->a->ns, name))
			return NODE_ALLOW;
		return deny_node(q, "can only update pod status for pods with spec.nodeName set to itself");
	}
	if (!sub && str_is(v, "delete") && name) {
		if (pod_on_node(q->a->store, q->node, q->a->ns, name))
			return NODE_ALLOW;
		return deny_node(q, "can only delete pods with spec.nodeName set to itself");
	}
	return NODE_NO_REL;
}

static enum node_verdict rule_nodes(struct node_query *q)
{
	const char *v = q->v, *sub = q->sub, *name = q->name;
	if ((!sub || str_is(sub, "status")) && is_read(v))
		return NODE_ALLOW;
	if (!sub && str_is(v, "create"))
		return NODE_ALLOW; /* NodeRestriction checks the name */
	if ((!sub || str_is(sub, "status")) &&
	    (str_is(v, "update") || str_is(v, "patch") || (!sub && str_is(v, "delete")))) {
		if (!name || !strcmp(name, q->node)) /* no name: an access review */
			return NODE_ALLOW;
		q->reason_owned = mk_strdup_printf("node \"%s\" is not allowed to modify node \"%s\"",
						   q->node, name);
		return NODE_DENY;
	}
	return NODE_NO_REL;
}

static enum node_verdict rule_leases(struct node_query *q)
{
	const char *v = q->v, *name = q->name;
	if (!str_is(q->a->ns, "kube-node-lease") || q->sub)
		return NODE_NO_REL;
	if (!name && (str_is(v, "create") || str_is(v, "update") || str_is(v, "patch")))
		return NODE_ALLOW; /* NodeRestriction checks the name (none: an access review) */
	if (name && !strcmp(name, q->node) &&
	    (str_is(v, "get") || str_is(v, "update") || str_is(v, "patch") || str_is(v, "delete")))
		return NODE_ALLOW;
	q->reason = "can only access node lease with the same name as the requesting node";
	return NODE_DENY;
}

static enum node_verdict rule_events(struct node_query *q)
{
	const char *v = q->v;
	bool ok = !q->sub && (str_is(v, "create") || str_is(v, "update") || str_is(v, "patch"));
	return ok ? NODE_ALLOW : NODE_DENY;
}

/* services, endpoints, endpointslices, namespaces, networkpolicies */
static enum node_verdict rule_read_only(struct node_query *q)
{
	return !q->sub && is_read(q->v) ? NODE_ALLOW : NODE_NO_REL;
}

/* secrets, configmaps, persistentvolumeclaims: those a pod on the node references */
static enum node_verdict rule_referenced(struct node_query *q)
{
	const char *r = q->r;
	enum ref_kind k = r[0] == 's' ? REF_SECRET : r[0] == 'c' ? REF_CONFIGMAP : REF_PVC;
	/* get, or a list/watch of one object (fieldSelector metadata.name) */
	if (!q->sub && is_read(q->v) && q->name && related(q->a->store, q->node, q->a->ns, k, q->name))
		return NODE_ALLOW;
	return NODE_NO_REL;
}

static enum node_verdict rule_serviceaccounts(struct node_query *q)
{
	if (str_is(q->sub, "token") && str_is(q->v, "create") && q->name &&
	    related(q->a->store, q->node, q->a->ns, REF_SA, q->name))
		return NODE_ALLOW;
	return NODE_NO_REL;
}

static enum node_verdict rule_persistentvolumes(struct node_query *q)
{
	const char *v = q->v, *name = q->name, *node = q->node;
	struct mk_store *store = q->a->store;
	if (q->sub)
		return NODE_NO_REL;
	if ((str_is(v, "list") || str_is(v, "watch")) && !name)
		return NODE_ALLOW; /* the local-path reclaimer's watch */
	if (name && is_read(v) && (pv_related(store, node, name) || pv_on_node(store, node, name)))
		return NODE_ALLOW;
	if (name && str_is(v, "patch") && pv_on_node(store, node, name))
		return NODE_ALLOW;
	return NODE_NO_REL;
}

static const struct {
	const char *resource;
	enum node_verdict (*check)(struct node_query *q);
} node_rules[] = {
	{ "pods", rule_pods },
	{ "nodes", rule_nodes },
	{ "leases", rule_leases },
	{ "events", rule_events },
	{ "services", rule_read_only },
	{ "endpoints", rule_read_only },
	{ "endpointslices", rule_read_only },
	{ "namespaces", rule_read_only },
	{ "networkpolicies", rule_read_only },
	{ "secrets", rule_referenced },
	{ "configmaps", rule_referenced },
	{ "persistentvolumeclaims", rule_referenced },
	{ "serviceaccounts", rule_serviceaccounts },
	{ "persistentvolumes", rule_persistentvolumes },
};

static enum node_verdict node_rule_check(struct node_query *q)
{
	/* exec, attach, port-forward and proxy are not reads (kube's Node authorizer) */
	if (q->sub && (str_is(q->sub, "portforward") || str_is(q->sub, "exec") ||
		       str_is(q->sub, "attach") || str_is(q->sub, "proxy")))
		return NODE_NO_REL;
	for (size_t i = 0; i < MK_ARRAY_SIZE(node_rules); i++)
		if (!strcmp(q->r, node_rules[i].resource))
			return node_rules[i].check(q);
	/* everything else: the node has no business there */
	return NODE_NO_REL;
}

bool mk_nodeauthz_allowed(const struct mk_authz_attrs *a, const char **ret_reason,
			  char **ret_reason_owned)
{
	struct node_query q = {
		.a = a,
		.v = a->verb ? a->verb : "",
		.r = a->resource ? a->resource : "",
		.node = a->node,
		.name = a->name,
		.sub = a->sub,
		.reason = "",
	};

	*ret_reason_owned = NULL;
	*ret_reason = "";
	if (!q.node) {
		*ret_reason = "the request carries no node identity";
		return false;
	}
	if (!*q.r) {
		if (nonresource_allowed(a, q.v))
			return true;
		*ret_reason = "a node may only read discovery paths";
		return false;
	}
	switch (node_rule_check(&q)) {
	case NODE_ALLOW:
		return true;
	case NODE_NO_REL:
		q.reason_owned = mk_strdup_printf(NO_RELATIONSHIP_FMT, q.node);
		break;
	case NODE_DENY:
		break;
	}
	*ret_reason_owned = q.reason_owned;
	*ret_reason = q.reason_owned ? q.reason_owned : q.reason;
	return false;
}

void mk_nodeauthz_forbid(struct mk_request *req, struct mk_reply *rep, const char *verb,
			 const char *reason)
{
	const struct mk_api_resource *r = req->res;
	const char *res = r ? r->name : "";
	const char *group = r ? r->group : "";
	_cleanup_free_ char *what = req->sub ? mk_strdup_printf("%s/%s", res, req->sub) : mk_strdup(res);
	_cleanup_free_ char *subject = req->name ? mk_strdup_printf("%s \"%s\"", res, req->name)
						 : mk_strdup(res);
	_cleanup_free_ char *scope = req->ns ? mk_strdup_printf("in the namespace \"%s\"", req->ns)
					     : mk_strdup("at the cluster scope");
	if (!r) {
		mk_reply_status(rep, 403, NULL, NULL,
				"forbidden: User \"%s\" cannot %s path \"%s\": %s",
				req->node_user ? req->node_user : "", verb, req->url, reason);
		return;
	}
	mk_reply_status(rep, 403, res, req->name,
			"%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" "
			"%s: %s",
			subject, req->node_user ? req->node_user : "", verb, what, group, scope, reason);
}

/* ---- NodeRestriction ---------------------------------------------------------------- */

#define RESTRICTED_PREFIX "node-restriction.kubernetes.io/"

/* The first label under node-restriction.kubernetes.io/ that differs between a
 * and b (either may be NULL), or NULL. */
static const char *restricted_label_change(const cJSON *a, const cJSON *b)
{
	const cJSON *l;
	cJSON_ArrayForEach(l, a)
	{
		if (!l->string || !mk_str_has_prefix(l->string, RESTRICTED_PREFIX))
			continue;
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(b, l->string);
		if (!o || !cJSON_Compare(o, l, 1))
			return l->string;
	}
	cJSON_ArrayForEach(l, b)
		if (l->string && mk_str_has_prefix(l->string, RESTRICTED_PREFIX) &&
		    !cJSON_GetObjectItemCaseSensitive(a, l->string))
			return l->string;
	return NULL;
}

int mk_noderestriction_admit(struct mk_request *req, struct mk_reply *rep, const cJSON *old,
			     const cJSON *obj)
{
	const char *node = req->node_name;
	const char *res = req->res ? req->res->name : "";
	if (req->caller != MK_CALLER_NODE || !node)
		return 0;
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (!strcmp(res, "nodes")) {
		if (!str_is(name, node)) {
			mk_reply_status(rep, 403, "nodes", name,
					"nodes \"%s\" is forbidden: node \"%s\" is not allowed to modify "
					"node \"%s\"", name ? name : "", node, name ? name : "");
			return -1;
		}
		const char *bad = restricted_label_change(mk_json_get(obj, "metadata.labels"),
							  mk_json_get(old, "metadata.labels"));
		if (bad) {
			mk_reply_status(rep, 403, "nodes", name,
					"nodes \"%s\" is forbidden: is not allowed to %s labels: %s",
					name, old ? "modify" : "set", bad);
			return -1;
		}
		return 0;
	}
	if (!strcmp(res, "leases") && str_is(req->ns, "kube-node-lease") && !str_is(name, node)) {
		mk_reply_status(rep, 403, "leases", name,
				"leases.coordination.k8s.io \"%s\" is forbidden: can only access node "
				"lease with the same name as the requesting node", name ? name : "");
		return -1;
	}
	if (!strcmp(res, "pods")) {
		/* pod status only, of its own pods: the binding must not move */
		const char *was = mk_json_get_string(old, "spec.nodeName");
		const char *now = mk_json_get_string(obj, "spec.nodeName");
		if (!str_is(was, node) || !str_is(now, node)) {
			mk_reply_status(rep, 403, "pods", name,
					"pods \"%s\" is forbidden: node \"%s\" can only update pod status "
					"for pods with spec.nodeName set to itself", name ? name : "", node);
			return -1;
		}
	}
	return 0;
}
