/* The per-resource strategies of the server (internal.h, struct
 * mk_server_strategy): one file per kind with server-side behaviour
 * (strategy_KIND.c), found here by resource. handlers.c asks for the strategy of
 * a request's resource and calls its hooks, so that no generic handler names a
 * kind, as kube-apiserver's generic registry calls each kind's RESTStrategy. */
#include <string.h>
#include "internal.h"

/* Kinds whose only server-side fact is the field selectors kube-apiserver
 * registers for them. */
static const char *const event_fields[] = { "involvedObject.kind", "involvedObject.namespace",
					    "involvedObject.name", "involvedObject.uid",
					    "involvedObject.apiVersion",
					    "involvedObject.resourceVersion",
					    "involvedObject.fieldPath", "reason",
					    "reportingComponent", "source", "type", NULL };
static const struct mk_server_strategy events = { .group = "", .resource = "events",
						  .field_selectors = event_fields };
static const char *const replicaset_fields[] = { "status.replicas", NULL };
static const struct mk_server_strategy replicasets = { .group = "apps",
						       .resource = "replicasets",
						       .field_selectors = replicaset_fields };

static const struct mk_server_strategy *const strategies[] = {
	&mk_strategy_pods,	    &mk_strategy_services,	  &mk_strategy_nodes,
	&mk_strategy_namespaces,    &mk_strategy_serviceaccounts, &mk_strategy_configmaps,
	&mk_strategy_roles,	    &mk_strategy_clusterroles,	  &mk_strategy_rolebindings,
	&mk_strategy_clusterrolebindings, &mk_strategy_crds,	  &mk_strategy_pvcs,
	&events,
	&replicasets,
};

/* no hooks: the generic registry's behaviour only */
static const struct mk_server_strategy plain = { .group = "", .resource = "" };

const struct mk_server_strategy *mk_strategy_of(const struct mk_api_resource *r)
{
	/* a custom resource may share a built-in plural in its own group; it gets
	 * none of the built-in's handling */
	if (!r || r->crd)
		return &plain;
	for (size_t i = 0; i < MK_ARRAY_SIZE(strategies); i++)
		if (!strcmp(strategies[i]->resource, r->name) &&
		    !strcmp(strategies[i]->group, r->group))
			return strategies[i];
	return &plain;
}

const struct mk_subresource *mk_strategy_subresource(const struct mk_server_strategy *s,
						     const char *name)
{
	for (const struct mk_subresource *sr = s->subresources; sr && sr->name; sr++)
		if (!strcmp(sr->name, name))
			return sr;
	return NULL;
}

bool mk_subresource_serves(const struct mk_subresource *sr, const char *method)
{
	size_t n = strlen(method);
	if (!sr->methods)
		return true;
	for (const char *p = sr->methods; (p = strstr(p, method)); p += n)
		if ((p == sr->methods || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}
