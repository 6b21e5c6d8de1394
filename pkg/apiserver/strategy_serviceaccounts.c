/* ServiceAccounts and the root CA ConfigMap on the server: the TokenRequest
 * subresource, and a deleted default ServiceAccount or kube-root-ca.crt comes
 * back (serviceaccounts.c), as kube-controller-manager's controllers make them. */
#include "internal.h"

static void sa_deleted(struct mk_apiserver *srv, const char *ns, const char *name)
{
	mk_serviceaccounts_deleted(srv, "serviceaccounts", ns, name);
}

static void cm_deleted(struct mk_apiserver *srv, const char *ns, const char *name)
{
	mk_serviceaccounts_deleted(srv, "configmaps", ns, name);
}

static const struct mk_subresource sa_subresources[] = {
	{ .name = "token", .handle = mk_serviceaccounts_token },
	{ .name = NULL },
};

const struct mk_server_strategy mk_strategy_serviceaccounts = {
	.group = "",
	.resource = "serviceaccounts",
	.deleted = sa_deleted,
	.subresources = sa_subresources,
};

const struct mk_server_strategy mk_strategy_configmaps = {
	.group = "",
	.resource = "configmaps",
	.deleted = cm_deleted,
};
