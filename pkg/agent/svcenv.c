/* The service environment of a container, as the kubelet builds it
 * (kubelet_pods.go getServiceEnvVarMap + pkg/kubelet/envvars FromServices): the
 * "kubernetes" Service of the default namespace always, and, when the pod's
 * spec.enableServiceLinks is not false, every Service of the pod's namespace that
 * exists when the container starts. Each Service with a ClusterIP gives
 * NAME_SERVICE_HOST, NAME_SERVICE_PORT (first port), NAME_SERVICE_PORT_<PORTNAME> per
 * named port and the docker-link variables NAME_PORT, NAME_PORT_<port>_<PROTO>(_PROTO,
 * _PORT, _ADDR); NAME is the Service name upper-cased with '-' turned into '_'.
 * Headless and ExternalName Services (no ClusterIP) give nothing. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* makeEnvVariableName: upper case, '-' -> '_' (owned) */
static char *env_name(const char *s)
{
	char *r = mk_strdup(s);
	for (char *p = r; *p; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	return r;
}

static int port_of(const cJSON *port)
{
	const cJSON *p = cJSON_GetObjectItem(port, "port");
	return cJSON_IsNumber(p) ? p->valueint : 0;
}

static bool cluster_ip_set(const cJSON *svc)
{
	const char *ip = mk_json_get_string(svc, "spec.clusterIP");
	return ip && *ip && strcmp(ip, "None") != 0;
}

static void set_fmt(void (*set)(void *, const char *, const char *), void *ctx,
		    const char *value, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_fmt(void (*set)(void *, const char *, const char *), void *ctx,
		    const char *value, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *k = NULL;
	if (vasprintf(&k, fmt, ap) < 0)
		abort();
	va_end(ap);
	set(ctx, k, value);
}

void mk_agent_service_env(const cJSON *services,
			  void (*set)(void *ctx, const char *name, const char *value), void *ctx)
{
	const cJSON *svc, *p;
	cJSON_ArrayForEach(svc, services)
	{
		const char *name = mk_json_get_string(svc, "metadata.name");
		const char *ip = mk_json_get_string(svc, "spec.clusterIP");
		const cJSON *ports = mk_json_get(svc, "spec.ports");
		if (!name || !cluster_ip_set(svc) || cJSON_GetArraySize(ports) < 1)
			continue;
		_cleanup_free_ char *pre = env_name(name);
		char num[16];
		set_fmt(set, ctx, ip, "%s_SERVICE_HOST", pre);
		snprintf(num, sizeof(num), "%d", port_of(cJSON_GetArrayItem(ports, 0)));
		set_fmt(set, ctx, num, "%s_SERVICE_PORT", pre);
		cJSON_ArrayForEach(p, ports)
		{
			const char *pname = mk_json_get_string(p, "name");
			if (!pname || !*pname)
				continue;
			_cleanup_free_ char *pn = env_name(pname);
			snprintf(num, sizeof(num), "%d", port_of(p));
			set_fmt(set, ctx, num, "%s_SERVICE_PORT_%s", pre, pn);
		}
		/* docker links; an IPv6 ClusterIP is bracketed in URLs (net.JoinHostPort) */
		bool v6 = strchr(ip, ':') != NULL;
		bool first = true;
		cJSON_ArrayForEach(p, ports)
		{
			int port = port_of(p);
			const char *proto = mk_json_get_string(p, "protocol");
			char lower[16], upper[16];
			snprintf(upper, sizeof(upper), "%s", proto && *proto ? proto : "TCP");
			size_t j;
			for (j = 0; upper[j]; j++) {
				upper[j] = (char)toupper((unsigned char)upper[j]);
				lower[j] = (char)tolower((unsigned char)upper[j]);
			}
			lower[j] = '\0';
			snprintf(num, sizeof(num), "%d", port);
			_cleanup_free_ char *url = mk_strdup_printf("%s://%s%s%s:%d", lower,
				v6 ? "[" : "", ip, v6 ? "]" : "", port);
			if (first)
				set_fmt(set, ctx, url, "%s_PORT", pre);
			first = false;
			set_fmt(set, ctx, url, "%s_PORT_%d_%s", pre, port, upper);
			set_fmt(set, ctx, lower, "%s_PORT_%d_%s_PROTO", pre, port, upper);
			set_fmt(set, ctx, num, "%s_PORT_%d_%s_PORT", pre, port, upper);
			set_fmt(set, ctx, ip, "%s_PORT_%d_%s_ADDR", pre, port, upper);
		}
	}
}

cJSON *mk_agent_service_env_pick(const cJSON *kubernetes, const cJSON *ns_services, bool links)
{
	cJSON *out = cJSON_CreateArray();
	bool shadowed = false;
	const cJSON *svc;
	if (links)
		cJSON_ArrayForEach(svc, ns_services)
		{
			if (!cluster_ip_set(svc))
				continue;
			/* a "kubernetes" Service of the pod's own namespace wins over the
			 * default one (the kubelet's map keeps the namespace's) */
			const char *n = mk_json_get_string(svc, "metadata.name");
			if (n && !strcmp(n, "kubernetes"))
				shadowed = true;
			cJSON_AddItemToArray(out, cJSON_Duplicate(svc, 1));
		}
	if (kubernetes && !shadowed && cluster_ip_set(kubernetes))
		cJSON_InsertItemInArray(out, 0, cJSON_Duplicate(kubernetes, 1));
	return out;
}

/* The kubelet reads Services from an informer too, so containers start (and restart)
 * while the API server is away; until the first list is in it refuses, as it does. */
int agent_svcenv_start(struct mk_agent *a, struct mk_error **err)
{
	a->services = mk_informer_new(a->c, "/api/v1/services");
	mk_informer_add_index(a->services, "ns", mk_index_namespace);
	if (mk_informer_start(a->services, err) < 0)
		return mk_error_wrap(err, "agent: services");
	if (!mk_informer_wait_synced(a->services, 30000))
		return mk_error_set(err, ETIMEDOUT, "agent: the service list did not arrive within 30 s");
	return 0;
}

void agent_svcenv_stop(struct mk_agent *a)
{
	if (a->services)
		mk_informer_stop(a->services);
	mk_informer_free(a->services);
	a->services = NULL;
}

int agent_svcenv_add(struct mk_agent *a, const cJSON *pod,
		     void (*set)(void *ctx, const char *name, const char *value), void *ctx,
		     struct mk_error **err)
{
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	bool links = !cJSON_IsFalse(mk_json_get(pod, "spec.enableServiceLinks"));

	if (!a->services || !mk_informer_has_synced(a->services))
		return mk_error_set(err, EAGAIN, "services have not yet been read at least once, "
						 "cannot construct envvars");
	struct mk_object *kube = mk_informer_get(a->services, "default/kubernetes");
	struct mk_object **objs = NULL;
	size_t n = links && ns ? mk_informer_by_index(a->services, "ns", ns, &objs) : 0;
	_cleanup_cjson_ cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemReferenceToArray(list, objs[i]->json);
	_cleanup_cjson_ cJSON *picked = mk_agent_service_env_pick(kube ? kube->json : NULL, list, links);
	mk_agent_service_env(picked, set, ctx);
	mk_object_list_free(objs, n);
	mk_object_unref(kube);
	return 0;
}
