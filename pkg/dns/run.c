/* The node's DNS runner: informers on Services, Endpoints and Pods feed the
 * zone (each event is one incremental upsert or delete), then the responder
 * starts. Upstreams come from resolv.conf, minus our own addresses. */
#include <errno.h>
#include "internal.h"
#include "minik8s/client.h"

struct mk_dns {
	struct mk_dns_zone *zone;
	struct mk_dns_server *server;
	struct mk_informer *inf[3];
};

enum { KIND_SERVICE, KIND_ENDPOINTS, KIND_POD };
struct kind_handler {
	struct mk_dns *d;
	int kind;
};
static struct kind_handler handlers_of(struct mk_dns *d, int kind) { return (struct kind_handler){ d, kind }; }

static void on_event(const struct mk_object *old_obj, const struct mk_object *new_obj,
		     void *userdata)
{
	struct kind_handler *h = userdata;
	struct mk_dns_zone *z = h->d->zone;
	if (new_obj) {
		/* objects the API accepted always have a namespace and name; a
		 * malformed one is skipped (nothing to publish) */
		if (h->kind == KIND_SERVICE)
			mk_dns_zone_service_upsert(z, new_obj->json, NULL);
		else if (h->kind == KIND_ENDPOINTS)
			mk_dns_zone_endpoints_upsert(z, new_obj->json, NULL);
		else
			mk_dns_zone_pod_upsert(z, new_obj->json, NULL);
		return;
	}
	if (!old_obj)
		return;
	const char *ns = mk_json_get_string(old_obj->json, "metadata.namespace");
	const char *name = mk_json_get_string(old_obj->json, "metadata.name");
	if (!ns || !name)
		return;
	if (h->kind == KIND_SERVICE)
		mk_dns_zone_service_delete(z, ns, name);
	else if (h->kind == KIND_ENDPOINTS)
		mk_dns_zone_endpoints_delete(z, ns, name);
	else
		mk_dns_zone_pod_delete(z, ns, name);
}

/* handler userdata must outlive the informers: keep them in the runner */
struct mk_dns_full {
	struct mk_dns d;
	struct kind_handler h[3];
};

int mk_dns_start(struct mk_client *c, const struct mk_dns_options *opts, struct mk_dns **ret,
		 struct mk_error **err)
{
	static const char *const paths[3] = { "/api/v1/services", "/api/v1/endpoints",
					      "/api/v1/pods" };
	struct mk_dns_full *f = mk_malloc0(sizeof(*f));
	struct mk_dns *d = &f->d;
	struct mk_dns_zone_options zo = { opts->domain,
					  opts->ns_address ? opts->ns_address : "10.96.0.10", false };
	struct mk_dns_server_options so = opts->server;
	char **ups = NULL;
	int timeout = opts->sync_timeout_ms > 0 ? opts->sync_timeout_ms : 30000;

	if (mk_dns_zone_new(&zo, &d->zone, err) < 0)
		goto fail;
	for (int k = 0; k < 3; k++) {
		f->h[k] = handlers_of(d, k);
		d->inf[k] = mk_informer_new(c, paths[k]);
		mk_informer_add_handler(d->inf[k], on_event, &f->h[k]);
		if (mk_informer_start(d->inf[k], err) < 0)
			goto fail;
	}
	for (int k = 0; k < 3; k++)
		if (!mk_informer_wait_synced(d->inf[k], timeout)) {
			mk_error_set(err, ETIMEDOUT, "dns: informer '%s' did not sync in %d ms",
				     paths[k], timeout);
			goto fail;
		}
	if (!so.upstreams) {
		const char *rc = opts->resolv_conf ? opts->resolv_conf : "/etc/resolv.conf";
		if (*rc) {
			const char *skip[11];
			size_t n = 0;
			skip[n++] = zo.ns_address;
			for (const char *const *l = so.listen; l && *l && n < 9; l++)
				skip[n++] = *l;
			skip[n] = NULL;
			struct mk_error *e = NULL;
			if (mk_dns_resolv_conf_read(rc, skip, &ups, &e) < 0) {
				/* no resolv.conf: cluster names only */
				mk_error_free(&e);
				ups = NULL;
			}
			so.upstreams = (const char *const *)ups;
		}
	}
	int r = mk_dns_server_start(d->zone, &so, &d->server, err);
	mk_strv_free(ups);
	if (r < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	mk_dns_stop(d);
	return -1;
}

struct mk_dns_zone *mk_dns_get_zone(struct mk_dns *d) { return d->zone; }
struct mk_dns_server *mk_dns_get_server(struct mk_dns *d) { return d->server; }

void mk_dns_stop(struct mk_dns *d)
{
	if (!d)
		return;
	mk_dns_server_stop(d->server);
	for (int k = 0; k < 3; k++)
		mk_informer_free(d->inf[k]);
	mk_dns_zone_free(d->zone);
	free(d); /* d is the first member of struct mk_dns_full */
}
