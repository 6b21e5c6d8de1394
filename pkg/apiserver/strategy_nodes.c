/* Nodes on the server: a new node gets a pod CIDR of the cluster's (services.c
 * keeps the allocator), given back when the node goes, with its credential
 * (nodecred.c: the name is free again). */
#include "internal.h"

static int reserve(struct mk_apiserver *srv, cJSON *node, cJSON **ret_causes,
		   struct mk_error **err)
{
	if (mk_nodes_allocate_cidr(srv, node, err) == 0)
		return 0;
	if ((*err)->code == 422) { /* the podCIDR asked for is not to be had */
		*ret_causes = cJSON_CreateArray();
		mk_api_cause_add(*ret_causes, "FieldValueInvalid", "spec.podCIDR", "%s", (*err)->msg);
		mk_error_free(err);
	}
	return -1;
}

static void removed(struct mk_apiserver *srv, const char *name)
{
	mk_nodecred_forget(srv, name);
}

static const char *const field_selectors[] = { "spec.unschedulable", NULL };

const struct mk_server_strategy mk_strategy_nodes = {
	.group = "",
	.resource = "nodes",
	.reserve = reserve,
	.release = mk_nodes_release_cidr,
	.removed = removed,
	.field_selectors = field_selectors,
};
