/* The RBAC kinds on the server: a write rebuilds the policy index before the
 * reply goes, so the next request sees it (rbac_policy.c), after ClusterRole
 * aggregation when a ClusterRole was written. Escalation prevention is
 * admission (mk_rbac_admit). */
#include "internal.h"

static void written(struct mk_request *req, struct mk_reply *rep)
{
	mk_rbac_refresh(req->srv, false);
}

static void clusterrole_written(struct mk_request *req, struct mk_reply *rep)
{
	mk_rbac_refresh(req->srv, true);
}

#define RBAC_GROUP "rbac.authorization.k8s.io"

const struct mk_server_strategy mk_strategy_roles = {
	.group = RBAC_GROUP, .resource = "roles", .written = written
};
const struct mk_server_strategy mk_strategy_clusterroles = {
	.group = RBAC_GROUP, .resource = "clusterroles", .written = clusterrole_written
};
const struct mk_server_strategy mk_strategy_rolebindings = {
	.group = RBAC_GROUP, .resource = "rolebindings", .written = written
};
const struct mk_server_strategy mk_strategy_clusterrolebindings = {
	.group = RBAC_GROUP, .resource = "clusterrolebindings", .written = written
};
