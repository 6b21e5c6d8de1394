/* The server's RBAC policy: the identity of each request (tokens, the static token
 * file, impersonation), the default ClusterRoles and bindings of kube-apiserver's
 * bootstrap policy (reconciled at start), ClusterRole aggregation, the in-memory
 * index every request is authorized against (rebuilt after each write to an RBAC
 * kind, so a request never reads the store to be authorized), the 403s in
 * kube-apiserver's words and escalation prevention on writes of roles and bindings. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "minik8s/store.h"
#include "internal.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"
#define AUTOUPDATE "rbac.authorization.kubernetes.io/autoupdate"
#define MAX_IMPERSONATE_GROUPS 32

struct mk_rbac {
	pthread_rwlock_t lock;	 /* guards idx */
	struct mk_rbac_index *idx;
	pthread_mutex_t refresh; /* one rebuild at a time */
};

/* ---- the bootstrap policy (upstream plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
 * the part this server has resources for), in our own JSON ---------------------- */

#define RW "\"create\",\"delete\",\"deletecollection\",\"patch\",\"update\""
#define RO "\"get\",\"list\",\"watch\""
#define LBL(k) "\"labels\":{\"kubernetes.io/bootstrapping\":\"rbac-defaults\"" k "}"
#define ANN "\"annotations\":{\"" AUTOUPDATE "\":\"true\"}"
#define AGG(to) ",\"rbac.authorization.k8s.io/aggregate-to-" to "\":\"true\""
#define SEL(to) \
	"\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":{" \
	"\"rbac.authorization.k8s.io/aggregate-to-" to "\":\"true\"}}]}"

static const char *const bootstrap_roles[] = {
	"{\"metadata\":{\"name\":\"cluster-admin\"," LBL("") "," ANN "},\"rules\":["
	"{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
	"{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]}",

	"{\"metadata\":{\"name\":\"admin\"," LBL("") "," ANN "}," SEL("admin") "}",
	"{\"metadata\":{\"name\":\"edit\"," LBL(AGG("admin")) "," ANN "}," SEL("edit") "}",
	"{\"metadata\":{\"name\":\"view\"," LBL(AGG("edit")) "," ANN "}," SEL("view") "}",

	"{\"metadata\":{\"name\":\"system:aggregate-to-admin\"," LBL(AGG("admin")) "," ANN "},"
	"\"rules\":["
	"{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"localsubjectaccessreviews\"],"
	"\"verbs\":[\"create\"]},"
	"{\"apiGroups\":[\"rbac.authorization.k8s.io\"],\"resources\":[\"rolebindings\",\"roles\"],"
	"\"verbs\":[" RW "," RO "]}]}",

	"{\"metadata\":{\"name\":\"system:aggregate-to-edit\"," LBL(AGG("edit")) "," ANN "},"
	"\"rules\":["
	"{\"apiGroups\":[\"\"],\"resources\":[\"pods/attach\",\"pods/exec\",\"pods/portforward\","
	"\"pods/proxy\",\"secrets\",\"services/proxy\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts\"],\"verbs\":[\"impersonate\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/attach\",\"pods/exec\","
	"\"pods/portforward\",\"pods/proxy\"],\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"pods/eviction\"],\"verbs\":[\"create\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"events\",\"persistentvolumeclaims\","
	"\"replicationcontrollers\",\"replicationcontrollers/scale\",\"secrets\",\"serviceaccounts\","
	"\"services\",\"services/proxy\"],\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts/token\"],\"verbs\":[\"create\"]},"
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"daemonsets\",\"deployments\","
	"\"deployments/rollback\",\"deployments/scale\",\"replicasets\",\"replicasets/scale\","
	"\"statefulsets\",\"statefulsets/scale\"],\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\"],"
	"\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"jobs\"],\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"policy\"],\"resources\":[\"poddisruptionbudgets\"],\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"networkpolicies\"],"
	"\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],\"verbs\":[" RW "]}]}",

	"{\"metadata\":{\"name\":\"system:aggregate-to-view\"," LBL(AGG("view")) "," ANN "},"
	"\"rules\":["
	"{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"endpoints\",\"persistentvolumeclaims\","
	"\"persistentvolumeclaims/status\",\"pods\",\"replicationcontrollers\","
	"\"replicationcontrollers/scale\",\"serviceaccounts\",\"services\",\"services/status\"],"
	"\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"bindings\",\"events\",\"limitranges\","
	"\"namespaces/status\",\"pods/log\",\"pods/status\",\"replicationcontrollers/status\","
	"\"resourcequotas\",\"resourcequotas/status\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"namespaces\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"controllerrevisions\",\"daemonsets\","
	"\"daemonsets/status\",\"deployments\",\"deployments/scale\",\"deployments/status\","
	"\"replicasets\",\"replicasets/scale\",\"replicasets/status\",\"statefulsets\","
	"\"statefulsets/scale\",\"statefulsets/status\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"autoscaling\"],\"resources\":[\"horizontalpodautoscalers\","
	"\"horizontalpodautoscalers/status\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"cronjobs\",\"cronjobs/status\",\"jobs\","
	"\"jobs/status\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"policy\"],\"resources\":[\"poddisruptionbudgets\","
	"\"poddisruptionbudgets/status\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"ingresses\",\"ingresses/status\","
	"\"networkpolicies\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"metrics.k8s.io\"],\"resources\":[\"pods\",\"nodes\"],\"verbs\":[" RO "]}]}",

	"{\"metadata\":{\"name\":\"system:discovery\"," LBL("") "," ANN "},\"rules\":["
	"{\"nonResourceURLs\":[\"/api\",\"/api/*\",\"/apis\",\"/apis/*\",\"/healthz\",\"/livez\","
	"\"/openapi\",\"/openapi/*\",\"/readyz\",\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]}",

	"{\"metadata\":{\"name\":\"system:basic-user\"," LBL("") "," ANN "},\"rules\":["
	"{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":[\"selfsubjectaccessreviews\","
	"\"selfsubjectrulesreviews\"],\"verbs\":[\"create\"]},"
	"{\"apiGroups\":[\"authentication.k8s.io\"],\"resources\":[\"selfsubjectreviews\"],"
	"\"verbs\":[\"create\"]}]}",

	"{\"metadata\":{\"name\":\"system:public-info-viewer\"," LBL("") "," ANN "},\"rules\":["
	"{\"nonResourceURLs\":[\"/healthz\",\"/livez\",\"/readyz\",\"/version\",\"/version/\"],"
	"\"verbs\":[\"get\"]}]}",
};

#define CRB(name, role, subjects)                                                        \
	"{\"metadata\":{\"name\":\"" name "\"," LBL("") "," ANN "},\"roleRef\":{\"apiGroup\":" \
	"\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"" role "\"},"      \
	"\"subjects\":[" subjects "]}"
#define GROUP(g) "{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":\"" g "\"}"

static const char *const bootstrap_bindings[] = {
	CRB("cluster-admin", "cluster-admin", GROUP("system:masters")),
	CRB("system:discovery", "system:discovery", GROUP("system:authenticated")),
	CRB("system:basic-user", "system:basic-user", GROUP("system:authenticated")),
	CRB("system:public-info-viewer", "system:public-info-viewer",
	    GROUP("system:authenticated") "," GROUP("system:unauthenticated")),
};

/* Makes obj (a bootstrap object of resource) when absent; an existing one marked
 * autoupdate gets the rules (subjects) it lacks, as kube-apiserver's reconciliation
 * at start (extra ones stay). */
static int reconcile(struct mk_apiserver *srv, const char *resource, const char *kind,
		     const char *text, struct mk_error **err)
{
	const struct mk_api_resource *r = mk_api_resource_find(RBAC_GROUP, "v1", resource);
	_cleanup_cjson_ cJSON *obj = cJSON_Parse(text);
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	const char *name = mk_json_get_string(obj, "metadata.name");
	const char *list = !strcmp(resource, "clusterroles") ? "rules" : "subjects";

	if (!obj || !name)
		return mk_error_set(err, EINVAL, "bootstrap policy: bad %s", kind);
	if (mk_store_get(srv->store, resource, "", name, &json, NULL, &e) == 0) {
		_cleanup_cjson_ cJSON *cur = cJSON_Parse(json);
		const char *au = mk_json_get_string(cur, "metadata.annotations." AUTOUPDATE);
		cJSON *want = cJSON_GetObjectItem(obj, list), *have, *it;
		bool changed = false;
		if (!cur || !au || strcmp(au, "true") || !cJSON_IsArray(want))
			return 0;
		have = cJSON_GetObjectItem(cur, list);
		if (!cJSON_IsArray(have)) {
			have = cJSON_CreateArray();
			mk_json_set(cur, list, have);
		}
		cJSON_ArrayForEach(it, want)
		{
			bool found = false;
			const cJSON *h;
			cJSON_ArrayForEach(h, have)
			{
				found |= cJSON_Compare(h, it, 1);
			}
			if (!found) {
				cJSON_AddItemToArray(have, cJSON_Duplicate(it, 1));
				changed = true;
			}
		}
		if (changed && mk_store_update(srv->store, resource, "", name, 0, cur, NULL, NULL,
					       err) < 0)
			return mk_error_wrap(err, "%s '%s'", kind, name);
		return 0;
	}
	if (e->code != ENOENT)
		return mk_error_set(err, e->code, "%s", e->msg);
	/* the policy's metadata (labels, annotations) and body after the skeleton's */
	_cleanup_cjson_ cJSON *made = mk_api_object_new(RBAC_GROUP "/v1", kind, NULL, name);
	cJSON *md = cJSON_GetObjectItem(made, "metadata");
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(obj, "metadata"))
		if (strcmp(it->string, "name"))
			cJSON_AddItemToObject(md, it->string, cJSON_Duplicate(it, 1));
	cJSON_ArrayForEach(it, obj)
		if (strcmp(it->string, "metadata") && strcmp(it->string, "apiVersion") &&
		    strcmp(it->string, "kind"))
			cJSON_AddItemToObject(made, it->string, cJSON_Duplicate(it, 1));
	mk_api_default(r, made);
	if (mk_store_create(srv->store, resource, "", name, made, NULL, NULL, err) < 0 &&
	    (*err)->code != EEXIST)
		return mk_error_wrap(err, "%s '%s'", kind, name);
	mk_error_free(err);
	return 0;
}

/* ---- aggregation and the index ------------------------------------------------ */

/* One pass of the aggregation controller over every ClusterRole: those with an
 * aggregationRule get the union of the selected roles' rules. Returns whether a
 * role changed (then another pass: aggregated roles feed others, admin <- edit). */
static bool aggregate_once(struct mk_apiserver *srv)
{
	struct mk_store_list l = { 0 };
	_cleanup_error_ struct mk_error *err = NULL;
	bool changed = false;

	if (mk_store_list(srv->store, "clusterroles", NULL, NULL, NULL, &l, &err) < 0)
		return false;
	cJSON **roles = mk_malloc0((l.n + 1) * sizeof(*roles));
	for (size_t i = 0; i < l.n; i++)
		roles[i] = cJSON_Parse(l.items[i]);
	for (size_t i = 0; i < l.n; i++) {
		if (!roles[i] || !cJSON_IsObject(mk_json_get(roles[i], "aggregationRule")))
			continue;
		cJSON *rules = mk_rbac_aggregate_rules(roles[i], (const cJSON *const *)roles, l.n);
		if (cJSON_Compare(rules, cJSON_GetObjectItem(roles[i], "rules"), 1) ||
		    (!cJSON_GetArraySize(rules) && !cJSON_GetArraySize(cJSON_GetObjectItem(roles[i], "rules")))) {
			cJSON_Delete(rules);
			continue;
		}
		_cleanup_cjson_ cJSON *upd = cJSON_Duplicate(roles[i], 1);
		mk_json_set(upd, "rules", rules);
		const char *name = mk_json_get_string(upd, "metadata.name");
		_cleanup_error_ struct mk_error *e = NULL;
		if (mk_store_update(srv->store, "clusterroles", "", name, 0, upd, NULL, NULL, &e) < 0)
			mk_log(MK_LOG_WARN, "apiserver", "aggregate clusterrole '%s': %s", name, e->msg);
		else
			changed = true;
	}
	for (size_t i = 0; i < l.n; i++)
		cJSON_Delete(roles[i]);
	free(roles);
	mk_store_list_release(&l);
	return changed;
}

static struct mk_rbac_index *build_index(struct mk_apiserver *srv)
{
	static const char *const resources[] = { "roles", "clusterroles", "rolebindings",
						 "clusterrolebindings" };
	struct mk_rbac_index *x = mk_rbac_index_new();
	for (size_t k = 0; k < MK_ARRAY_SIZE(resources); k++) {
		struct mk_store_list l = { 0 };
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_store_list(srv->store, resources[k], NULL, NULL, NULL, &l, &err) < 0) {
			mk_log(MK_LOG_WARN, "apiserver", "rbac: list %s: %s", resources[k], err->msg);
			continue;
		}
		for (size_t i = 0; i < l.n; i++) {
			_cleanup_cjson_ cJSON *o = cJSON_Parse(l.items[i]);
			if (o)
				mk_rbac_index_add(x, resources[k], o);
		}
		mk_store_list_release(&l);
	}
	mk_rbac_index_seal(x);
	return x;
}

void mk_rbac_refresh(struct mk_apiserver *srv, bool aggregate)
{
	struct mk_rbac *p = srv->rbac;
	if (!p)
		return;
	pthread_mutex_lock(&p->refresh);
	for (int i = 0; aggregate && i < 8 && aggregate_once(srv); i++)
		;
	struct mk_rbac_index *x = build_index(srv), *old;
	pthread_rwlock_wrlock(&p->lock);
	old = p->idx;
	p->idx = x;
	pthread_rwlock_unlock(&p->lock);
	pthread_mutex_unlock(&p->refresh);
	mk_rbac_index_free(old);
}

int mk_rbac_start(struct mk_apiserver *srv, struct mk_error **err)
{
	for (size_t i = 0; i < MK_ARRAY_SIZE(bootstrap_roles); i++)
		if (reconcile(srv, "clusterroles", "ClusterRole", bootstrap_roles[i], err) < 0)
			return -1;
	for (size_t i = 0; i < MK_ARRAY_SIZE(bootstrap_bindings); i++)
		if (reconcile(srv, "clusterrolebindings", "ClusterRoleBinding",
			      bootstrap_bindings[i], err) < 0)
			return -1;
	struct mk_rbac *p = mk_malloc0(sizeof(*p));
	pthread_rwlock_init(&p->lock, NULL);
	pthread_mutex_init(&p->refresh, NULL);
	srv->rbac = p;
	mk_rbac_refresh(srv, true);
	return 0;
}

void mk_rbac_free(struct mk_apiserver *srv)
{
	struct mk_rbac *p = srv->rbac;
	for (size_t i = 0; i < srv->ntoken_users; i++) {
		free(srv->token_users[i].token);
		mk_user_info_release(&srv->token_users[i].ui);
	}
	free(srv->token_users);
	srv->token_users = NULL;
	srv->ntoken_users = srv->token_users_cap = 0;
	if (!p)
		return;
	mk_rbac_index_free(p->idx);
	pthread_rwlock_destroy(&p->lock);
	pthread_mutex_destroy(&p->refresh);
	free(p);
	srv->rbac = NULL;
}

/* ---- decisions ------------------------------------------------------------------ */

bool mk_rbac_allowed(struct mk_apiserver *srv, const struct mk_user_info *u,
		     const struct mk_authz_attrs *a, char **ret_reason)
{
	/* system:masters: kube-apiserver's privileged group, allowed before RBAC */
	if (mk_user_info_in_group(u, "system:masters")) {
		if (ret_reason)
			*ret_reason = mk_strdup("allowed to the system:masters group");
		return true;
	}
	if (!srv->rbac)
		return false;
	pthread_rwlock_rdlock(&srv->rbac->lock);
	bool ok = mk_rbac_index_allows(srv->rbac->idx, u, a, ret_reason);
	pthread_rwlock_unlock(&srv->rbac->lock);
	return ok;
}

cJSON *mk_rbac_rules_of(struct mk_apiserver *srv, const struct mk_user_info *u, const char *ns)
{
	if (!srv->rbac)
		return cJSON_CreateArray();
	pthread_rwlock_rdlock(&srv->rbac->lock);
	cJSON *r = mk_rbac_index_rules(srv->rbac->idx, u, ns);
	pthread_rwlock_unlock(&srv->rbac->lock);
	return r;
}

static cJSON *role_rules(struct mk_apiserver *srv, const char *ns, const char *name)
{
	if (!srv->rbac)
		return NULL;
	pthread_rwlock_rdlock(&srv->rbac->lock);
	cJSON *r = mk_rbac_index_role_rules(srv->rbac->idx, ns, name);
	pthread_rwlock_unlock(&srv->rbac->lock);
	return r;
}

bool mk_authz_request(struct mk_request *req, const struct mk_authz_attrs *a, char **ret_reason)
{
	switch (req->caller) {
	case MK_CALLER_ADMIN:
		if (ret_reason)
			*ret_reason = mk_strdup("the admin token may do everything");
		return true;
	case MK_CALLER_NODE: {
		/* the chain, as kube-apiserver's: the Node authorizer allows or has no
		 * opinion, then RBAC decides (the groups system:nodes and
		 * system:authenticated) */
		struct mk_authz_attrs na = *a;
		na.node = req->node_name;
		na.store = req->srv->store;
		if (mk_authz_allowed(MK_CALLER_NODE, &na)) {
			if (ret_reason)
				*ret_reason = mk_strdup("allowed by the Node authorizer");
			return true;
		}
		return mk_rbac_allowed(req->srv, &req->ui, a, ret_reason);
	}
	case MK_CALLER_NONE:
		return false;
	default:
		return mk_rbac_allowed(req->srv, &req->ui, a, ret_reason);
	}
}

static void reply_forbidden(struct mk_reply *rep, const char *group, const char *resource,
			    const char *name, const char *msg)
{
	_cleanup_cjson_ cJSON *st = mk_api_status_new(403, "Forbidden", msg, resource,
						      name && *name ? name : NULL, NULL);
	if (group && *group)
		mk_json_set_string(mk_json_get(st, "details"), "group", group);
	mk_reply_json(rep, 403, st);
}

void mk_rbac_forbid(struct mk_request *req, struct mk_reply *rep, const struct mk_authz_attrs *a)
{
	_cleanup_free_ char *msg =
		mk_rbac_forbidden_message(req->ui.name ? req->ui.name : "system:anonymous", a);
	reply_forbidden(rep, a->resource ? a->group : NULL, a->resource, a->name, msg);
}

/* ---- identity ------------------------------------------------------------------- */

static bool token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	for (size_t i = 0; i < la && i < lb; i++) /* constant time over the shorter */
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

const struct mk_token_user *mk_rbac_token_user(struct mk_apiserver *srv, const char *token)
{
	for (size_t i = 0; i < srv->ntoken_users; i++)
		if (token_equal(srv->token_users[i].token, token))
			return &srv->token_users[i];
	return NULL;
}

/* One CSV field at *p (quoted with "" escapes, or bare up to ','); owned. */
static char *csv_field(const char **p)
{
	const char *s = *p;
	struct mk_buf b;
	mk_buf_init(&b);
	if (*s == '"') {
		s++;
		while (*s) {
			if (*s == '"' && s[1] == '"') {
				mk_buf_append(&b, "\"", 1);
				s += 2;
			} else if (*s == '"') {
				s++;
				break;
			} else {
				mk_buf_append(&b, s++, 1);
			}
		}
	} else {
		size_t l = strcspn(s, ",");
		mk_buf_append(&b, s, l);
		s += l;
	}
	if (*s == ',')
		s++;
	*p = s;
	if (!b.data)
		return mk_strdup("");
	return b.data;
}

int mk_rbac_token_file_load(struct mk_apiserver *srv, const char *path, struct mk_error **err)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;
	unsigned lineno = 0;

	if (mk_fs_read_file(path, &text, NULL, err) < 0)
		return mk_error_wrap(err, "token auth file");
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		size_t l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[--l] = 0;
		if (!l || line[0] == '#')
			continue;
		const char *p = line;
		_cleanup_free_ char *tok = csv_field(&p), *user = csv_field(&p), *uid = csv_field(&p);
		_cleanup_free_ char *groups = *p ? csv_field(&p) : mk_strdup("");
		if (!*tok || !*user)
			return mk_error_set(err, EINVAL,
					    "token auth file '%s' line %u: want token,user,uid[,\"groups\"]",
					    path, lineno);
		MK_GROW(srv->token_users, srv->token_users_cap, srv->ntoken_users + 1);
		struct mk_token_user *t = &srv->token_users[srv->ntoken_users++];
		memset(t, 0, sizeof(*t));
		t->token = TAKE_PTR(tok);
		t->ui.name = TAKE_PTR(user);
		t->ui.uid = *uid ? mk_strdup(uid) : NULL;
		char *gs = NULL;
		for (char *g = strtok_r(groups, ",", &gs); g; g = strtok_r(NULL, ",", &gs))
			if (*g)
				mk_user_info_add_group(&t->ui, g);
	}
	return 0;
}

struct header_values {
	char **v;
	size_t n;
	const char *key;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct header_values *h = cls;
	(void)kind;
	if (key && value && !strcasecmp(key, h->key) && h->n < MAX_IMPERSONATE_GROUPS)
		mk_strv_push(&h->v, &h->n, mk_strdup(value));
	return MHD_YES;
}

static const char sa_prefix[] = "system:serviceaccount:";

/* req->ui from the authenticated caller (before impersonation); false for
 * nobody. */
static bool caller_identity(struct mk_request *req)
{
	struct mk_user_info *u = &req->ui;

	mk_user_info_release(u);
	switch (req->caller) {
	case MK_CALLER_ADMIN:
		u->name = mk_strdup("system:admin");
		mk_user_info_add_group(u, "system:masters");
		break;
	case MK_CALLER_NODE: /* a node's own credential (nodecred.c) */
		u->name = mk_strdup(req->node_user);
		mk_user_info_add_group(u, "system:nodes");
		break;
	case MK_CALLER_BOOTSTRAP: /* the join token */
		u->name = mk_strdup("system:bootstrap:node-join");
		mk_user_info_add_group(u, "system:bootstrappers");
		break;
	case MK_CALLER_SA: {
		_cleanup_free_ char *nsg = mk_strdup_printf("system:serviceaccounts:%s", req->sa_ns);
		u->name = mk_strdup(req->sa_user);
		mk_user_info_add_group(u, "system:serviceaccounts");
		mk_user_info_add_group(u, nsg);
		break;
	}
	case MK_CALLER_USER:
		if (req->token_user)
			mk_user_info_copy(u, &req->token_user->ui);
		break;
	case MK_CALLER_NONE:
		return false;
	}
	mk_user_info_add_group(u, "system:authenticated");
	return true;
}

/* Impersonation: each Impersonate-* header authorized to the real identity with
 * the impersonate verb (users, groups, serviceaccounts, uids), as kube-apiserver;
 * then req->ui is the impersonated user's. -1 with rep filled. */
static int impersonate(struct mk_request *req, struct mk_reply *rep)
{
	struct mk_user_info *u = &req->ui;
	const char *as = mk_request_header(req, "Impersonate-User");
	const char *as_uid = mk_request_header(req, "Impersonate-Uid");
	struct header_values groups = { .key = "Impersonate-Group" };
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, &groups);
	_cleanup_strv_ char **gv = groups.v;
	if (!as && !gv && !as_uid)
		return 0;
	if (!as || !*as) {
		mk_reply_status(rep, 400, NULL, NULL,
				"requested %s without impersonating a user",
				gv ? "group impersonation" : "uid impersonation");
		return -1;
	}
	struct mk_authz_attrs a = { .verb = "impersonate", .group = "" };
	_cleanup_free_ char *sa_ns = NULL;
	const char *sa_name = NULL;
	if (!strncmp(as, sa_prefix, sizeof(sa_prefix) - 1) &&
	    strchr(as + sizeof(sa_prefix) - 1, ':')) {
		const char *rest = as + sizeof(sa_prefix) - 1, *colon = strchr(rest, ':');
		sa_ns = mk_strdup_printf("%.*s", (int)(colon - rest), rest);
		sa_name = colon + 1;
		a.resource = "serviceaccounts";
		a.ns = sa_ns;
		a.name = sa_name;
	} else {
		a.resource = "users";
		a.name = as;
	}
	if (!mk_authz_request(req, &a, NULL)) {
		mk_rbac_forbid(req, rep, &a);
		return -1;
	}
	for (size_t i = 0; gv && gv[i]; i++) {
		struct mk_authz_attrs ga = { .verb = "impersonate", .group = "",
					     .resource = "groups", .name = gv[i] };
		if (!mk_authz_request(req, &ga, NULL)) {
			mk_rbac_forbid(req, rep, &ga);
			return -1;
		}
	}
	if (as_uid) {
		struct mk_authz_attrs ua = { .verb = "impersonate", .group = "authentication.k8s.io",
					     .resource = "uids", .name = as_uid };
		if (!mk_authz_request(req, &ua, NULL)) {
			mk_rbac_forbid(req, rep, &ua);
			return -1;
		}
	}
	struct mk_user_info nu = { 0 };
	nu.name = mk_strdup(as);
	nu.uid = as_uid ? mk_strdup(as_uid) : NULL;
	if (sa_ns) {
		_cleanup_free_ char *nsg = mk_strdup_printf("system:serviceaccounts:%s", sa_ns);
		mk_user_info_add_group(&nu, "system:serviceaccounts");
		mk_user_info_add_group(&nu, nsg);
	}
	for (size_t i = 0; gv && gv[i]; i++)
		mk_user_info_add_group(&nu, gv[i]);
	if (strcmp(as, "system:anonymous"))
		mk_user_info_add_group(&nu, "system:authenticated");
	mk_user_info_release(u);
	*u = nu;
	/* from here on the request is the impersonated user's, authorized by RBAC */
	req->caller = MK_CALLER_USER;
	return 0;
}

int mk_rbac_identify(struct mk_request *req, struct mk_reply *rep)
{
	if (!caller_identity(req))
		return 0;
	return impersonate(req, rep);
}

/* ---- escalation prevention ------------------------------------------------------ */

static int escalation_refused(struct mk_request *req, struct mk_reply *rep, const char *name,
			      const char *missing)
{
	_cleanup_free_ char *groups = mk_user_info_groups_quoted(&req->ui);
	_cleanup_free_ char *msg = mk_strdup_printf(
		"%s.%s \"%s\" is forbidden: user \"%s\" (groups=%s) is attempting to grant RBAC "
		"permissions not currently held:\n%s",
		req->res->name, RBAC_GROUP, name, req->ui.name, groups, missing);
	reply_forbidden(rep, RBAC_GROUP, req->res->name, name, msg);
	return -1;
}

int mk_rbac_admit(struct mk_request *req, struct mk_reply *rep, const cJSON *obj,
		  const cJSON *old)
{
	const struct mk_api_resource *r = req->res;
	const char *name = mk_json_get_string(obj, "metadata.name");

	if (!r || strcmp(r->group, RBAC_GROUP) || !name)
		return 0;
	bool ns_scoped = r->namespaced;
	/* the admin token and system:masters hold everything (EscalationAllowed) */
	if (req->caller == MK_CALLER_ADMIN || mk_user_info_in_group(&req->ui, "system:masters"))
		return 0;
	const char *ns = ns_scoped ? req->ns : NULL;

	if (!strcmp(r->name, "roles") || !strcmp(r->name, "clusterroles")) {
		struct mk_authz_attrs a = { .verb = "escalate", .group = RBAC_GROUP,
					    .resource = r->name, .name = name, .ns = ns };
		if (mk_authz_request(req, &a, NULL))
			return 0;
		if (cJSON_IsObject(cJSON_GetObjectItem(obj, "aggregationRule")) ||
		    (old && cJSON_IsObject(cJSON_GetObjectItem(old, "aggregationRule")))) {
			_cleanup_free_ char *msg = mk_strdup_printf(
				"clusterroles.%s \"%s\" is forbidden: must have cluster-admin "
				"privileges to use the aggregationRule", RBAC_GROUP, name);
			reply_forbidden(rep, RBAC_GROUP, r->name, name, msg);
			return -1;
		}
		const cJSON *rules = cJSON_GetObjectItem(obj, "rules");
		if (old && cJSON_Compare(rules, cJSON_GetObjectItem(old, "rules"), 1))
			return 0;
		_cleanup_cjson_ cJSON *owner = mk_rbac_rules_of(req->srv, &req->ui, ns);
		_cleanup_free_ char *missing = mk_rbac_rules_uncovered(owner, rules);
		return missing ? escalation_refused(req, rep, name, missing) : 0;
	}
	/* bindings: the roleRef never changes, so only a create grants anything */
	if (old)
		return 0;
	const char *rk = mk_json_get_string(obj, "roleRef.kind");
	const char *rn = mk_json_get_string(obj, "roleRef.name");
	if (!rk || !rn)
		return 0;
	bool cluster_ref = !strcmp(rk, "ClusterRole");
	struct mk_authz_attrs a = { .verb = "bind", .group = RBAC_GROUP,
				    .resource = cluster_ref ? "clusterroles" : "roles",
				    .name = rn, .ns = ns };
	if (mk_authz_request(req, &a, NULL))
		return 0;
	_cleanup_cjson_ cJSON *rules = role_rules(req->srv, cluster_ref ? NULL : ns, rn);
	if (!rules) {
		_cleanup_free_ char *msg = mk_strdup_printf("%s.%s \"%s\" not found",
							    cluster_ref ? "clusterroles" : "roles",
							    RBAC_GROUP, rn);
		_cleanup_cjson_ cJSON *st = mk_api_status_new(
			404, "NotFound", msg, cluster_ref ? "clusterroles" : "roles", rn, NULL);
		mk_json_set_string(mk_json_get(st, "details"), "group", RBAC_GROUP);
		mk_reply_json(rep, 404, st);
		return -1;
	}
	_cleanup_cjson_ cJSON *owner = mk_rbac_rules_of(req->srv, &req->ui, ns);
	_cleanup_free_ char *missing = mk_rbac_rules_uncovered(owner, rules);
	return missing ? escalation_refused(req, rep, name, missing) : 0;
}
