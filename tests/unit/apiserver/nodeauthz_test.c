/* The Node authorizer's decisions (nodeauthz.c) against a real in-memory store:
 * node a vs pods bound to node b, objects referenced by a's pods or not (volumes,
 * projected sources, env, envFrom, init containers, imagePullSecrets, claims and
 * their volumes, service accounts), own Node vs another, NodeRestriction, and the
 * node credentials (nodecred.c). */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "../../../pkg/apiserver/internal.h"
#include "minik8s/store.h"

static struct mk_store *store;

static void put(const char *res, const char *ns, const char *name, const char *json)
{
	struct mk_error *err = NULL;
	cJSON *o = cJSON_Parse(json);
	ck_assert_msg(o, "bad fixture json for %s", name);
	ck_assert_msg(mk_store_create(store, res, ns, name, o, NULL, NULL, &err) == 0, "create %s: %s",
		      name, err ? err->msg : "");
	cJSON_Delete(o);
}

static void setup(void)
{
	struct mk_error *err = NULL;
	struct mk_store_options so = { .path = ":memory:" };
	ck_assert_msg(mk_store_open(&so, &store, &err) == 0, "store: %s", err ? err->msg : "");
	put("pods", "default", "pa",
	    "{\"metadata\":{\"name\":\"pa\",\"namespace\":\"default\"},\"spec\":{"
	    "\"nodeName\":\"a\",\"serviceAccountName\":\"runner\","
	    "\"imagePullSecrets\":[{\"name\":\"pull\"}],"
	    "\"volumes\":[{\"name\":\"v1\",\"secret\":{\"secretName\":\"s-vol\"}},"
	    "{\"name\":\"v2\",\"projected\":{\"sources\":[{\"configMap\":{\"name\":\"cm-proj\"}},"
	    "{\"secret\":{\"name\":\"s-proj\"}}]}},"
	    "{\"name\":\"v3\",\"persistentVolumeClaim\":{\"claimName\":\"claim1\"}},"
	    "{\"name\":\"v4\",\"configMap\":{\"name\":\"cm-vol\"}}],"
	    "\"initContainers\":[{\"name\":\"i\",\"env\":[{\"name\":\"X\",\"valueFrom\":"
	    "{\"secretKeyRef\":{\"name\":\"s-init\",\"key\":\"k\"}}}]}],"
	    "\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"Y\",\"valueFrom\":"
	    "{\"configMapKeyRef\":{\"name\":\"cm-env\",\"key\":\"k\"}}}],"
	    "\"envFrom\":[{\"secretRef\":{\"name\":\"s-envfrom\"}}]}]}}");
	put("pods", "default", "pb",
	    "{\"metadata\":{\"name\":\"pb\",\"namespace\":\"default\"},\"spec\":{"
	    "\"nodeName\":\"b\",\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"s-b\"}}],"
	    "\"containers\":[{\"name\":\"c\"}]}}");
	/* a pod not bound yet references s-pending: no node may read it */
	put("pods", "default", "pending",
	    "{\"metadata\":{\"name\":\"pending\",\"namespace\":\"default\"},\"spec\":{"
	    "\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"s-pending\"}}],"
	    "\"containers\":[{\"name\":\"c\"}]}}");
	put("persistentvolumeclaims", "default", "claim1",
	    "{\"metadata\":{\"name\":\"claim1\",\"namespace\":\"default\"},"
	    "\"spec\":{\"volumeName\":\"pv1\"}}");
	put("persistentvolumes", "", "pv1", "{\"metadata\":{\"name\":\"pv1\"},\"spec\":{}}");
	put("persistentvolumes", "", "local-b",
	    "{\"metadata\":{\"name\":\"local-b\"},\"spec\":{\"nodeAffinity\":{\"required\":{"
	    "\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"kubernetes.io/hostname\","
	    "\"operator\":\"In\",\"values\":[\"b\"]}]}]}}}}");
}

static void teardown(void)
{
	mk_store_free(store);
	store = NULL;
}

/* may NODE VERB RESOURCE SUB NAME NS */
static bool may(const char *node, const char *verb, const char *res, const char *sub,
		const char *name, const char *ns)
{
	struct mk_authz_attrs a = { .verb = verb, .resource = res, .sub = sub, .name = name,
				    .ns = ns, .node = node, .store = store };
	const char *why = NULL;
	_cleanup_free_ char *owned = NULL;
	bool ok = mk_nodeauthz_allowed(&a, &why, &owned);
	ck_assert(why != NULL);
	/* the same answer through the authorizer every request goes through */
	ck_assert(ok == mk_authz_allowed(MK_CALLER_NODE, &a));
	return ok;
}

static const char *reason(const char *node, const char *verb, const char *res, const char *sub,
			  const char *name, const char *ns)
{
	static char buf[256];
	struct mk_authz_attrs a = { .verb = verb, .resource = res, .sub = sub, .name = name,
				    .ns = ns, .node = node, .store = store };
	const char *why = NULL;
	_cleanup_free_ char *owned = NULL;
	ck_assert(!mk_nodeauthz_allowed(&a, &why, &owned));
	snprintf(buf, sizeof(buf), "%s", why);
	return buf;
}

START_TEST(nodeauthz_secrets_by_relationship)
{
	static const char *const of_a[] = { "s-vol", "s-proj", "s-init", "s-envfrom", "pull" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(of_a); i++) {
		ck_assert_msg(may("a", "get", "secrets", NULL, of_a[i], "default"), "%s", of_a[i]);
		ck_assert_msg(!may("b", "get", "secrets", NULL, of_a[i], "default"), "%s", of_a[i]);
		/* the same name in another namespace is another object */
		ck_assert_msg(!may("a", "get", "secrets", NULL, of_a[i], "other"), "%s", of_a[i]);
	}
	ck_assert(may("b", "get", "secrets", NULL, "s-b", "default"));
	ck_assert(!may("a", "get", "secrets", NULL, "s-b", "default"));
	ck_assert(!may("a", "get", "secrets", NULL, "unrelated", "default"));
	ck_assert(!may("a", "get", "secrets", NULL, "s-pending", "default"));
	ck_assert_str_eq(reason("a", "get", "secrets", NULL, "unrelated", "default"),
			 "no relationship found between node 'a' and this object");
	/* a single-object list/watch (fieldSelector metadata.name) is a get; a list is not */
	ck_assert(may("a", "watch", "secrets", NULL, "s-vol", "default"));
	ck_assert(may("a", "list", "secrets", NULL, "s-vol", "default"));
	ck_assert(!may("a", "list", "secrets", NULL, NULL, "default"));
	ck_assert(!may("a", "watch", "secrets", NULL, NULL, NULL));
	/* reading is all: no writes even to its own pods' secrets */
	ck_assert(!may("a", "update", "secrets", NULL, "s-vol", "default"));
	ck_assert(!may("a", "delete", "secrets", NULL, "s-vol", "default"));
}
END_TEST

START_TEST(nodeauthz_configmaps_and_volumes)
{
	ck_assert(may("a", "get", "configmaps", NULL, "cm-vol", "default"));
	ck_assert(may("a", "get", "configmaps", NULL, "cm-proj", "default"));
	ck_assert(may("a", "get", "configmaps", NULL, "cm-env", "default"));
	ck_assert(!may("b", "get", "configmaps", NULL, "cm-vol", "default"));
	/* a secret's name is no configmap reference, nor the reverse */
	ck_assert(!may("a", "get", "configmaps", NULL, "s-vol", "default"));
	ck_assert(!may("a", "get", "secrets", NULL, "cm-vol", "default"));
	/* claims and the volumes bound to them */
	ck_assert(may("a", "get", "persistentvolumeclaims", NULL, "claim1", "default"));
	ck_assert(!may("b", "get", "persistentvolumeclaims", NULL, "claim1", "default"));
	ck_assert(may("a", "get", "persistentvolumes", NULL, "pv1", NULL));
	ck_assert(!may("b", "get", "persistentvolumes", NULL, "pv1", NULL));
	/* local-path volumes of a node: its agent reclaims them */
	ck_assert(may("b", "patch", "persistentvolumes", NULL, "local-b", NULL));
	ck_assert(!may("a", "patch", "persistentvolumes", NULL, "local-b", NULL));
	ck_assert(!may("a", "patch", "persistentvolumes", NULL, "pv1", NULL));
	ck_assert(!may("b", "delete", "persistentvolumes", NULL, "local-b", NULL));
}
END_TEST

START_TEST(nodeauthz_pods_nodes_tokens)
{
	/* status and deletion: pods bound to the node only */
	ck_assert(may("a", "patch", "pods", "status", "pa", "default"));
	ck_assert(may("a", "update", "pods", "status", "pa", "default"));
	ck_assert(!may("a", "patch", "pods", "status", "pb", "default"));
	ck_assert(!may("a", "patch", "pods", "status", "pending", "default"));
	ck_assert(may("a", "delete", "pods", NULL, "pa", "default"));
	ck_assert(!may("a", "delete", "pods", NULL, "pb", "default"));
	ck_assert(!may("a", "patch", "pods", NULL, "pa", "default"));
	/* a pod that is gone: through to the 404 (an agent finishing a deletion twice) */
	ck_assert(may("a", "delete", "pods", NULL, "gone", "default"));
	ck_assert(may("a", "patch", "pods", "status", "gone", "default"));
	ck_assert_str_eq(reason("a", "patch", "pods", "status", "pb", "default"),
			 "node \"a\" can only update pod status for pods with spec.nodeName set to "
			 "itself");
	/* reads of pods are not restricted (DNS and the balancer read every pod) */
	ck_assert(may("a", "get", "pods", NULL, "pb", "default"));
	ck_assert(may("a", "list", "pods", NULL, NULL, NULL));
	ck_assert(!may("a", "get", "pods", "exec", "pa", "default"));
	ck_assert(!may("a", "create", "pods", "portforward", "pa", "default"));
	/* its own Node, not another */
	ck_assert(may("a", "patch", "nodes", NULL, "a", NULL));
	ck_assert(may("a", "patch", "nodes", "status", "a", NULL));
	ck_assert(may("a", "delete", "nodes", NULL, "a", NULL));
	ck_assert(!may("a", "patch", "nodes", "status", "b", NULL));
	ck_assert(!may("a", "update", "nodes", NULL, "b", NULL));
	ck_assert(!may("a", "delete", "nodes", NULL, "b", NULL));
	ck_assert(may("a", "get", "nodes", NULL, "b", NULL));
	ck_assert_str_eq(reason("a", "patch", "nodes", "status", "b", NULL),
			 "node \"a\" is not allowed to modify node \"b\"");
	/* its own Lease */
	ck_assert(may("a", "update", "leases", NULL, "a", "kube-node-lease"));
	ck_assert(!may("a", "update", "leases", NULL, "b", "kube-node-lease"));
	/* tokens: for the account its pods run as */
	ck_assert(may("a", "create", "serviceaccounts", "token", "runner", "default"));
	ck_assert(!may("b", "create", "serviceaccounts", "token", "runner", "default"));
	ck_assert(!may("a", "create", "serviceaccounts", "token", "default", "default"));
	ck_assert(!may("a", "get", "serviceaccounts", NULL, "runner", "default"));
	/* nothing else */
	ck_assert(!may("a", "list", "deployments", NULL, NULL, NULL));
	ck_assert(!may("a", "create", "namespaces", NULL, NULL, NULL));
	ck_assert(!may("a", "get", "roles", NULL, "r", "default"));
}
END_TEST

static unsigned admit(const char *node, const char *res, const char *ns, const char *old_json,
		      const char *new_json)
{
	struct mk_request req = { .caller = MK_CALLER_NODE,
				  .node_name = (char *)node,
				  .res = mk_api_resource_find(res[0] == 'l' ? "coordination.k8s.io" : "",
							      "v1", res),
				  .ns = (char *)ns };
	struct mk_reply rep = { 0 };
	ck_assert(req.res);
	_cleanup_cjson_ cJSON *old = old_json ? cJSON_Parse(old_json) : NULL;
	_cleanup_cjson_ cJSON *obj = cJSON_Parse(new_json);
	int r = mk_noderestriction_admit(&req, &rep, old, obj);
	ck_assert((r < 0) == (rep.code == 403));
	free(rep.body);
	return rep.code;
}

START_TEST(noderestriction_admission)
{
	const char *plain = "{\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}}}";
	const char *restricted =
		"{\"metadata\":{\"name\":\"a\",\"labels\":{\"node-restriction.kubernetes.io/z\":\"1\"}}}";
	ck_assert_uint_eq(admit("a", "nodes", NULL, NULL, plain), 0);
	ck_assert_uint_eq(admit("a", "nodes", NULL, NULL, "{\"metadata\":{\"name\":\"b\"}}"), 403);
	ck_assert_uint_eq(admit("a", "nodes", NULL, NULL, restricted), 403);
	ck_assert_uint_eq(admit("a", "nodes", NULL, plain, restricted), 403);
	/* dropping one is a change too; keeping one set by the admin is not */
	ck_assert_uint_eq(admit("a", "nodes", NULL, restricted, plain), 403);
	ck_assert_uint_eq(admit("a", "nodes", NULL, restricted, restricted), 0);
	ck_assert_uint_eq(admit("a", "leases", "kube-node-lease", NULL, "{\"metadata\":{\"name\":\"a\"}}"), 0);
	ck_assert_uint_eq(admit("a", "leases", "kube-node-lease", NULL, "{\"metadata\":{\"name\":\"b\"}}"), 403);
	const char *pa = "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"a\"}}";
	const char *pb = "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"b\"}}";
	ck_assert_uint_eq(admit("a", "pods", "default", pa, pa), 0);
	ck_assert_uint_eq(admit("a", "pods", "default", pb, pb), 403);
	ck_assert_uint_eq(admit("a", "pods", "default", pa, pb), 403);
	/* other callers are not the plugin's business */
	struct mk_request req = { .caller = MK_CALLER_ADMIN,
				  .res = mk_api_resource_find("", "v1", "nodes") };
	struct mk_reply rep = { 0 };
	_cleanup_cjson_ cJSON *o = cJSON_Parse(restricted);
	ck_assert_int_eq(mk_noderestriction_admit(&req, &rep, NULL, o), 0);
}
END_TEST

/* Node credentials (nodecred.c): issued once per name, only the hash kept, checked
 * in constant time, dropped with the Node. */
START_TEST(nodecred_issue_authenticate_forget)
{
	struct mk_apiserver srv = { .store = store };
	struct mk_error *err = NULL;
	char *tok = NULL, *node = NULL, *again = NULL;

	pthread_mutex_init(&srv.cred_lock, NULL);
	ck_assert_msg(mk_nodecred_issue(&srv, "n1", &tok, &err) == 0, "%s", err ? err->msg : "");
	ck_assert(mk_str_has_prefix(tok, MK_NODECRED_PREFIX "n1:"));
	ck_assert_int_eq(strlen(tok), strlen(MK_NODECRED_PREFIX "n1:") + 64);
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, tok, &node), 1);
	ck_assert_str_eq(node, "n1");
	free(node);
	node = NULL;
	/* the secret is nowhere in the store: only its hash */
	char *json = NULL;
	ck_assert(mk_store_get(store, "secrets", "kube-system", "n1.node-password.minik8s", &json,
			       NULL, &err) == 0);
	ck_assert(strstr(json, strrchr(tok, ':') + 1) == NULL);
	free(json);
	/* a changed secret, another node's name, a malformed token: not a node */
	char *bad = mk_strdup(tok);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, bad, &node), 0);
	free(bad);
	bad = mk_strdup_printf(MK_NODECRED_PREFIX "n2:%s", strrchr(tok, ':') + 1);
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, bad, &node), 0);
	free(bad);
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, MK_NODECRED_PREFIX ":x", &node), 0);
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, "mknode:n1:", &node), 0);
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, "eyJ.x.y", &node), 0);
	/* the name is taken */
	ck_assert_int_eq(mk_nodecred_issue(&srv, "n1", &again, &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);
	ck_assert_int_eq(mk_nodecred_issue(&srv, "Not_A_Name", &again, &err), -1);
	ck_assert_int_eq(err->code, 422);
	mk_error_free(&err);
	/* the Node deleted: the credential goes, the name is free */
	mk_nodecred_forget(&srv, "n1");
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, tok, &node), 0);
	ck_assert_msg(mk_nodecred_issue(&srv, "n1", &again, &err) == 0, "%s", err ? err->msg : "");
	ck_assert_str_ne(again, tok);
	ck_assert_int_eq(mk_nodecred_authenticate(&srv, again, &node), 1);
	free(node);
	free(again);
	free(tok);
	pthread_mutex_destroy(&srv.cred_lock);
}
END_TEST

Suite *nodeauthz_suite(void)
{
	Suite *s = suite_create("nodeauthz");
	TCase *tc = tcase_create("nodeauthz");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, nodeauthz_secrets_by_relationship);
	tcase_add_test(tc, nodeauthz_configmaps_and_volumes);
	tcase_add_test(tc, nodeauthz_pods_nodes_tokens);
	tcase_add_test(tc, noderestriction_admission);
	tcase_add_test(tc, nodecred_issue_authenticate_forget);
	suite_add_tcase(s, tc);
	return s;
}
