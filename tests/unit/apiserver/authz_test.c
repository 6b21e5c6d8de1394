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

START_TEST(authz_node_restricted)
{
	ck_assert(may(MK_CALLER_NODE, "get", "pods", NULL, "p"));
	ck_assert(may(MK_CALLER_NODE, "list", "deployments", NULL, NULL));
	ck_assert(may(MK_CALLER_NODE, "watch", "services", NULL, NULL));
	ck_assert(may(MK_CALLER_NODE, "get", NULL, NULL, NULL)); /* non-resource GET */
	ck_assert(may(MK_CALLER_NODE, "create", "nodes", NULL, NULL));
	ck_assert(may(MK_CALLER_NODE, "patch", "nodes", "status", "n"));
	ck_assert(may(MK_CALLER_NODE, "create", "events", NULL, NULL));
	ck_assert(may(MK_CALLER_NODE, "update", "pods", "status", "p"));
	ck_assert(may(MK_CALLER_NODE, "delete", "pods", NULL, "p"));
	/* what the agent reads for env, volumes and imagePullSecrets */
	ck_assert(may(MK_CALLER_NODE, "get", "configmaps", NULL, "c"));
	ck_assert(may(MK_CALLER_NODE, "get", "secrets", NULL, "s"));
	ck_assert(!may(MK_CALLER_NODE, "create", "secrets", NULL, NULL));
	ck_assert(!may(MK_CALLER_NODE, "update", "configmaps", NULL, "c"));
	ck_assert(!may(MK_CALLER_NODE, "delete", "secrets", NULL, "s"));

	ck_assert(!may(MK_CALLER_NODE, "create", "pods", NULL, NULL));
	ck_assert(!may(MK_CALLER_NODE, "create", "pods", "status", "p"));
	ck_assert(!may(MK_CALLER_NODE, "update", "pods", NULL, "p"));
	ck_assert(!may(MK_CALLER_NODE, "delete", "pods", NULL, NULL));
	ck_assert(!may(MK_CALLER_NODE, "deletecollection", "pods", NULL, NULL));
	ck_assert(!may(MK_CALLER_NODE, "create", "namespaces", NULL, NULL));
	ck_assert(!may(MK_CALLER_NODE, "update", "deployments", "scale", "d"));
	ck_assert(!may(MK_CALLER_NODE, "*", "pods", NULL, NULL));
	/* volumes: the agent drops its cleanup finalizer, nothing more */
	ck_assert(may(MK_CALLER_NODE, "get", "persistentvolumeclaims", NULL, "c"));
	ck_assert(may(MK_CALLER_NODE, "patch", "persistentvolumes", NULL, "v"));
	ck_assert(!may(MK_CALLER_NODE, "patch", "persistentvolumes", "status", "v"));
	ck_assert(!may(MK_CALLER_NODE, "delete", "persistentvolumes", NULL, "v"));
	ck_assert(!may(MK_CALLER_NODE, "create", "persistentvolumes", NULL, NULL));
	ck_assert(!may(MK_CALLER_NODE, "patch", "persistentvolumeclaims", NULL, "c"));
	ck_assert(!may(MK_CALLER_NODE, "post", NULL, NULL, NULL));
	ck_assert(!may(MK_CALLER_NONE, "get", "pods", NULL, NULL));
}
END_TEST

/* service accounts and users: not this function's (RBAC decides, rbac_test.c) */
START_TEST(authz_serviceaccount_is_rbacs)
{
	struct mk_authz_attrs a = { .verb = "get", .path = "/api" };
	ck_assert(!mk_authz_allowed(MK_CALLER_SA, &a));
	ck_assert(!mk_authz_allowed(MK_CALLER_USER, &a));
	ck_assert(!may(MK_CALLER_SA, "create", "selfsubjectreviews", NULL, NULL));
	/* the node token: tokens for named accounts (the handler checks the pod binding) */
	ck_assert(may(MK_CALLER_NODE, "create", "serviceaccounts", "token", "default"));
	ck_assert(!may(MK_CALLER_NODE, "create", "serviceaccounts", NULL, NULL));
	ck_assert(!may(MK_CALLER_NODE, "delete", "serviceaccounts", NULL, "default"));
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
