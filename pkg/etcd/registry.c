/* Kubernetes objects in etcd as kube-apiserver lays them out: keys
 * /registry/PATH/[NS/]NAME, values the object's JSON without its resourceVersion
 * (the key's mod_revision is the resourceVersion), watch events as a Kubernetes
 * watch tells them. */
#include <errno.h>
#include <string.h>
#include "internal.h"

/* Resources whose path is not their name (kube-apiserver's ResourcePrefix of
 * pkg/registry/.../storage; custom resources are "plural.group" -> group/plural). */
static const struct {
	const char *resource, *path;
} paths[] = {
	{ "nodes", "minions" },
	{ "services", "services/specs" },
	{ "endpoints", "services/endpoints" },
	{ "ingresses", "ingress" },
	{ "customresourcedefinitions", "apiextensions.k8s.io/customresourcedefinitions" },
	{ "apiservices", "apiregistration.k8s.io/apiservices" },
};

static char *resource_path(const char *resource)
{
	for (size_t i = 0; i < MK_ARRAY_SIZE(paths); i++)
		if (!strcmp(paths[i].resource, resource))
			return mk_strdup(paths[i].path);
	const char *dot = strchr(resource, '.');
	if (dot)
		return mk_strdup_printf("%s/%.*s", dot + 1, (int)(dot - resource), resource);
	return mk_strdup(resource);
}

char *mk_etcd_registry_key(const char *prefix, const char *resource, const char *ns,
			   const char *name)
{
	_cleanup_free_ char *path = resource_path(resource);
	size_t plen = strlen(prefix);
	while (plen && prefix[plen - 1] == '/')
		plen--;
	if (!name) {
		if (ns && *ns)
			return mk_strdup_printf("%.*s/%s/%s/", (int)plen, prefix, path, ns);
		return mk_strdup_printf("%.*s/%s/", (int)plen, prefix, path);
	}
	if (ns && *ns)
		return mk_strdup_printf("%.*s/%s/%s/%s", (int)plen, prefix, path, ns, name);
	return mk_strdup_printf("%.*s/%s/%s", (int)plen, prefix, path, name);
}

int mk_etcd_registry_key_parse(const char *prefix, const char *key, char **ret_resource,
			       char **ret_ns, char **ret_name, struct mk_error **err)
{
	size_t plen = strlen(prefix);
	while (plen && prefix[plen - 1] == '/')
		plen--;
	if (strncmp(key, prefix, plen) || key[plen] != '/')
		return mk_error_set(err, EINVAL, "etcd key '%s' is not under '%.*s'", key,
				    (int)plen, prefix);
	const char *p = key + plen + 1, *rest = NULL;
	_cleanup_free_ char *resource = NULL;
	for (size_t i = 0; i < MK_ARRAY_SIZE(paths) && !resource; i++) {
		size_t l = strlen(paths[i].path);
		if (!strncmp(p, paths[i].path, l) && p[l] == '/') {
			resource = mk_strdup(paths[i].resource);
			rest = p + l + 1;
		}
	}
	if (!resource) {
		const char *slash = strchr(p, '/');
		if (!slash || slash == p)
			return mk_error_set(err, EINVAL, "etcd key '%s': no object path", key);
		if (memchr(p, '.', (size_t)(slash - p))) {
			/* a custom resource: GROUP/PLURAL/... */
			const char *s2 = strchr(slash + 1, '/');
			if (!s2 || s2 == slash + 1)
				return mk_error_set(err, EINVAL, "etcd key '%s': no object path", key);
			resource = mk_strdup_printf("%.*s.%.*s", (int)(s2 - slash - 1), slash + 1,
						    (int)(slash - p), p);
			rest = s2 + 1;
		} else {
			resource = mk_strdup_printf("%.*s", (int)(slash - p), p);
			rest = slash + 1;
		}
	}
	const char *s = strchr(rest, '/');
	_cleanup_free_ char *ns = NULL, *name = NULL;
	if (!s) {
		ns = mk_strdup("");
		name = mk_strdup(rest);
	} else {
		ns = mk_strdup_printf("%.*s", (int)(s - rest), rest);
		name = mk_strdup(s + 1);
	}
	if (!*name || strchr(name, '/') || (s && !*ns))
		return mk_error_set(err, EINVAL, "etcd key '%s': not RESOURCE/[NS/]NAME", key);
	*ret_resource = TAKE_PTR(resource);
	*ret_ns = TAKE_PTR(ns);
	*ret_name = TAKE_PTR(name);
	return 0;
}

int mk_etcd_object_encode(const char *json, size_t len, char **ret, size_t *ret_len,
			  struct mk_error **err)
{
	_cleanup_cjson_ cJSON *o = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(o))
		return mk_error_set(err, EINVAL, "etcd object: not a JSON object");
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
						"resourceVersion");
	char *text = cJSON_PrintUnformatted(o);
	if (!text)
		abort();
	/* owned with free(), as everything else of the package */
	*ret = mk_strdup(text);
	cJSON_free(text);
	if (ret_len)
		*ret_len = strlen(*ret);
	return 0;
}

int mk_etcd_object_decode(const char *value, size_t len, int64_t rv, char **ret,
			  struct mk_error **err)
{
	_cleanup_cjson_ cJSON *o = cJSON_ParseWithLength(value, len);
	if (!cJSON_IsObject(o))
		return mk_error_set(err, EIO, "etcd object at revision %lld: not a JSON object",
				    (long long)rv);
	cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	if (!cJSON_IsObject(m)) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "metadata");
		m = cJSON_AddObjectToObject(o, "metadata");
	}
	char num[24];
	snprintf(num, sizeof(num), "%lld", (long long)rv);
	cJSON_DeleteItemFromObjectCaseSensitive(m, "resourceVersion");
	cJSON_AddStringToObject(m, "resourceVersion", num);
	char *text = cJSON_PrintUnformatted(o);
	if (!text)
		abort();
	*ret = mk_strdup(text);
	cJSON_free(text);
	return 0;
}

void mk_etcd_object_event_release(struct mk_etcd_object_event *ev)
{
	if (!ev)
		return;
	free(ev->resource);
	free(ev->ns);
	free(ev->name);
	free(ev->json);
	free(ev->old_json);
	memset(ev, 0, sizeof(*ev));
}

int mk_etcd_object_event_from(const char *prefix, const struct mk_etcd_event *ev,
			      struct mk_etcd_object_event *ret, struct mk_error **err)
{
	struct mk_etcd_object_event o = { 0 };
	if (mk_etcd_registry_key_parse(prefix, ev->kv.key, &o.resource, &o.ns, &o.name, err) < 0)
		return -1;
	o.rv = ev->kv.mod_revision;
	int r = 0;
	if (ev->type == MK_ETCD_EVENT_DELETE) {
		o.type = MK_ETCD_OBJECT_DELETED;
		if (!ev->prev_kv.key) {
			mk_etcd_object_event_release(&o);
			return mk_error_set(err, EINVAL,
					    "etcd delete of '%s' without its previous pair",
					    ev->kv.key);
		}
		/* the last state at the revision of the deletion, as a DELETED event of
		 * kube-apiserver */
		r = mk_etcd_object_decode(ev->prev_kv.value, ev->prev_kv.value_len, o.rv, &o.json,
					  err);
	} else {
		o.type = ev->kv.create_revision == ev->kv.mod_revision ? MK_ETCD_OBJECT_ADDED
								       : MK_ETCD_OBJECT_MODIFIED;
		r = mk_etcd_object_decode(ev->kv.value, ev->kv.value_len, o.rv, &o.json, err);
		if (r == 0 && o.type == MK_ETCD_OBJECT_MODIFIED && ev->prev_kv.key)
			r = mk_etcd_object_decode(ev->prev_kv.value, ev->prev_kv.value_len,
						  ev->prev_kv.mod_revision, &o.old_json, err);
	}
	if (r < 0) {
		mk_etcd_object_event_release(&o);
		return mk_error_wrap(err, "event of '%s'", ev->kv.key);
	}
	*ret = o;
	return 0;
}
