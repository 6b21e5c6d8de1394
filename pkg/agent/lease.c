/* The node's Lease in kube-node-lease (the kubelet's node lease controller): the
 * agent's heartbeat renews it every heartbeat period, which costs one small
 * write instead of rewriting the Node's status; the status itself is posted at
 * registration and then every STATUS_REPORT_MS (the kubelet's
 * nodeStatusReportFrequency, 5 min). The node lifecycle controller reads both.
 * The lease is owned by the Node, so it goes when the Node is deleted; a renew
 * that finds neither re-registers the node. */
#include <string.h>
#include "internal.h"

#define LEASE_NS "kube-node-lease"
#define LEASE_DURATION_S 40

static char *lease_path(struct mk_agent *a, bool collection)
{
	_cleanup_free_ char *esc = mk_client_escape(a->node_name);
	return collection ? mk_strdup("/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases")
			  : mk_strdup_printf("/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases/%s", esc);
}

static int create_lease(struct mk_agent *a, const char *now, struct mk_error **err)
{
	_cleanup_free_ char *esc = mk_client_escape(a->node_name);
	_cleanup_free_ char *npath = mk_strdup_printf("/api/v1/nodes/%s", esc);
	_cleanup_cjson_ cJSON *node = NULL;
	if (mk_client_get(a->c, npath, &node, err) < 0)
		return -1; /* 404: the node is gone, the caller re-registers */
	_cleanup_cjson_ cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(l, "kind", "Lease");
	cJSON *md = cJSON_AddObjectToObject(l, "metadata");
	cJSON_AddStringToObject(md, "name", a->node_name);
	cJSON_AddStringToObject(md, "namespace", LEASE_NS);
	cJSON *ref = cJSON_CreateObject();
	cJSON_AddStringToObject(ref, "apiVersion", "v1");
	cJSON_AddStringToObject(ref, "kind", "Node");
	cJSON_AddStringToObject(ref, "name", a->node_name);
	cJSON_AddStringToObject(ref, "uid", mk_json_get_string(node, "metadata.uid"));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"), ref);
	cJSON *spec = cJSON_AddObjectToObject(l, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", a->node_name);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", LEASE_DURATION_S);
	cJSON_AddStringToObject(spec, "renewTime", now);
	_cleanup_free_ char *path = lease_path(a, true);
	return mk_client_create(a->c, path, l, NULL, err);
}

/* As the kubelet compares the Node it reads with the status it would post: when
 * the stored Ready condition is not True (the node lifecycle controller marked
 * the node Unknown while this agent was away), post the status now. */
static int status_if_stale(struct mk_agent *a, struct mk_error **err)
{
	_cleanup_free_ char *esc = mk_client_escape(a->node_name);
	_cleanup_free_ char *npath = mk_strdup_printf("/api/v1/nodes/%s", esc);
	_cleanup_cjson_ cJSON *node = NULL;
	if (mk_client_get(a->c, npath, &node, err) < 0)
		return mk_error_code(*err) == 404 ? (mk_error_free(err), agent_node_heartbeat(a, err)) : -1;
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(node, "status.conditions"))
	{
		const char *type = mk_json_get_string(c, "type"), *st = mk_json_get_string(c, "status");
		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True") ? 0 : agent_node_heartbeat(a, err);
	}
	return agent_node_heartbeat(a, err);
}

int agent_node_lease_renew(struct mk_agent *a, struct mk_error **err)
{
	char now[64];
	mk_time_micro_now(now, sizeof(now));
	_cleanup_free_ char *path = lease_path(a, false);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *spec = cJSON_AddObjectToObject(patch, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", a->node_name);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", LEASE_DURATION_S);
	cJSON_AddStringToObject(spec, "renewTime", now);
	if (mk_client_patch(a->c, path, "application/merge-patch+json", patch, NULL, err) == 0)
		return status_if_stale(a, err);
	if (mk_error_code(*err) != 404)
		return -1;
	mk_error_free(err);
	if (create_lease(a, now, err) == 0 || mk_error_code(*err) == 409)
		return 0;
	if (mk_error_code(*err) != 404)
		return -1;
	/* the Node itself is gone: register it again, then the lease */
	mk_error_free(err);
	if (agent_node_heartbeat(a, err) < 0)
		return -1;
	return create_lease(a, now, err);
}
