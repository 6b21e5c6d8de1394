/* The authorizer behind requests and SelfSubjectAccessReview. */
#include <check.h>
#include "../../../pkg/apiserver/internal.h"

static bool may(enum mk_caller who, const char *verb, const char *res, const char *sub,
		const char *name)
{
	struct mk_authz_attrs a = { .verb = verb, .resource = res, .sub = sub, .name = name };
	return mk_authz_allowed(who, &a);
}

START_TEST(authz_admin_everything)
{
	ck_assert(may(MK_CALLER_ADMIN, "create", "deployments", NULL, NULL));
	ck_assert(may(MK_CALLER_ADMIN, "*", "*", NULL, NULL));
	ck_assert(may(MK_CALLER_ADMIN, "deletecollection", "namespaces", NULL, NULL));
	ck_assert(may(MK_CALLER_ADMIN, "post", NULL, NULL, NULL));
}
END_TEST

/* a node without the store (no pod -> object relationships to follow): the rules
 * that need none; nodeauthz_test.c follows the relationships */
static bool node_may(const char *verb, const char *res, const char *sub, const char *name,
		     const char *ns)
{
	struct mk_authz_attrs a = { .verb = verb, .resource = res, .sub = sub, .name = name,
				    .ns = ns, .node = "n" };
	return mk_authz_allowed(MK_CALLER_NODE, &a);
}

START_TEST(authz_node_restricted)
{
	ck_assert(node_may("get", "pods", NULL, "p", "default"));
	ck_assert(node_may("watch", "services", NULL, NULL, NULL));
	ck_assert(node_may("list", "endpointslices", NULL, NULL, NULL));
	ck_assert(!node_may("list", "deployments", NULL, NULL, NULL));
	ck_assert(node_may("create", "nodes", NULL, NULL, NULL));
	ck_assert(node_may("patch", "nodes", "status", "n", NULL));
	ck_assert(!node_may("patch", "nodes", "status", "other", NULL));
	ck_assert(node_may("create", "events", NULL, NULL, "default"));
	ck_assert(node_may("update", "leases", NULL, "n", "kube-node-lease"));
	ck_assert(!node_may("update", "leases", NULL, "other", "kube-node-lease"));
	ck_assert(!node_may("update", "leases", NULL, "n", "default"));
	/* no pod of the node references these */
	ck_assert(!node_may("get", "configmaps", NULL, "c", "default"));
	ck_assert(!node_may("get", "secrets", NULL, "s", "default"));
	ck_assert(!node_may("list", "secrets", NULL, NULL, "default"));
	ck_assert(!node_may("update", "pods", "status", "p", "default"));
	ck_assert(!node_may("delete", "pods", NULL, "p", "default"));
	ck_assert(!node_may("create", "secrets", NULL, NULL, "default"));
	ck_assert(!node_may("update", "configmaps", NULL, "c", "default"));

	ck_assert(!node_may("create", "pods", NULL, NULL, "default"));
	ck_assert(!node_may("create", "pods", "status", "p", "default"));
	ck_assert(!node_may("update", "pods", NULL, "p", "default"));
	ck_assert(!node_may("delete", "pods", NULL, NULL, "default"));
	ck_assert(!node_may("deletecollection", "pods", NULL, NULL, "default"));
	ck_assert(!node_may("create", "namespaces", NULL, NULL, NULL));
	ck_assert(!node_may("update", "deployments", "scale", "d", "default"));
	ck_assert(!node_may("*", "pods", NULL, NULL, NULL));
	ck_assert(!node_may("get", "pods", "exec", "p", "default"));
	ck_assert(!node_may("patch", "persistentvolumes", "status", "v", NULL));
	ck_assert(!node_may("delete", "persistentvolumes", NULL, "v", NULL));
	ck_assert(!node_may("create", "persistentvolumes", NULL, NULL, NULL));
	ck_assert(!node_may("patch", "persistentvolumeclaims", NULL, "c", "default"));
	/* no node identity: nothing */
	ck_assert(!may(MK_CALLER_NODE, "get", "pods", NULL, "p"));
	ck_assert(!may(MK_CALLER_NONE, "get", "pods", NULL, NULL));
	/* the join token bootstraps: RBAC gives it discovery and self review */
	ck_assert(!may(MK_CALLER_BOOTSTRAP, "get", "pods", NULL, "p"));
	ck_assert(!may(MK_CALLER_BOOTSTRAP, "create", "nodes", NULL, NULL));
}
END_TEST

/* service accounts and users: not this function's (RBAC decides, rbac_test.c) */
START_TEST(authz_serviceaccount_is_rbacs)
{
	struct mk_authz_attrs a = { .verb = "get", .path = "/api" };
	ck_assert(!mk_authz_allowed(MK_CALLER_SA, &a));
	ck_assert(!mk_authz_allowed(MK_CALLER_USER, &a));
	ck_assert(!mk_authz_allowed(MK_CALLER_BOOTSTRAP, &a));
	ck_assert(!may(MK_CALLER_SA, "create", "selfsubjectreviews", NULL, NULL));
	/* a node: no tokens for accounts none of its pods runs as (nodeauthz_test.c) */
	ck_assert(!node_may("create", "serviceaccounts", "token", "default", "default"));
	ck_assert(!node_may("create", "serviceaccounts", NULL, NULL, "default"));
	ck_assert(!node_may("delete", "serviceaccounts", NULL, "default", "default"));
}
END_TEST

Suite *authz_suite(void)
{
	Suite *s = suite_create("authz");
	TCase *tc = tcase_create("authz");
	tcase_add_test(tc, authz_admin_everything);
	tcase_add_test(tc, authz_node_restricted);
	tcase_add_test(tc, authz_serviceaccount_is_rbacs);
	suite_add_tcase(s, tc);
	return s;
}
