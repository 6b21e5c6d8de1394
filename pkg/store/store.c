/* The store's core: open (choosing the backend from the endpoint), close, reads. */
#include <errno.h>
#include <string.h>
#include "internal.h"

char *store_key(const char *resource, const char *ns, const char *name)
{
	if (ns && *ns)
		return mk_strdup_printf("%s/%s/%s", resource, ns, name);
	return mk_strdup_printf("%s/%s", resource, name);
}

/* The backend named by the endpoint's scheme; *ret_target what the backend opens. */
static int pick_backend(const struct mk_store_options *opts, const struct store_backend **ret,
			const char **ret_target, struct mk_error **err)
{
	const char *ep = opts->endpoint;

	if (!ep || !*ep) {
		if (!opts->path || !*opts->path)
			return mk_error_set(err, EINVAL, "store: no database path");
		*ret = &store_backend_sqlite;
		*ret_target = opts->path;
		return 0;
	}
	if (strncmp(ep, "sqlite://", 9) == 0) {
		*ret = &store_backend_sqlite;
		*ret_target = ep + 9;
		return 0;
	}
	if (strncmp(ep, "postgres://", 11) == 0 || strncmp(ep, "postgresql://", 13) == 0 ||
	    /* a libpq key=value connection string */
	    (strstr(ep, "://") == NULL && strchr(ep, '=') != NULL)) {
		*ret = &store_backend_postgres;
		*ret_target = ep;
		return 0;
	}
	/* etcd v3: the comma-separated client URLs (pkg/store/etcd.c) */
	if (strncmp(ep, "http://", 7) == 0 || strncmp(ep, "https://", 8) == 0) {
		*ret = &store_backend_etcd;
		*ret_target = ep;
		return 0;
	}
	const char *colon = strstr(ep, "://");
	return mk_error_set(err, EINVAL,
			    "store: unknown datastore endpoint scheme '%.*s' (want sqlite://, "
			    "postgres:// or http(s):// for etcd)",
			    colon ? (int)(colon - ep) : (int)strlen(ep), ep);
}

int mk_store_open(const struct mk_store_options *opts, struct mk_store **ret,
		  struct mk_error **err)
{
	struct mk_store *s;
	pthread_condattr_t ca;
	char nonce[33];
	const struct store_backend *ops = NULL;
	const char *target = NULL;

	if (!opts)
		return mk_error_set(err, EINVAL, "store: no options");
	if (pick_backend(opts, &ops, &target, err) < 0)
		return -1;

	s = mk_malloc0(sizeof(*s));
	s->refs = 1;
	s->window = opts->event_window ? opts->event_window : MK_STORE_DEFAULT_WINDOW;
	s->ring_bytes_max = opts->event_ring_bytes ? opts->event_ring_bytes : MK_STORE_RING_BYTES;
	s->durable = opts->durable;
	if (opts->key) {
		s->has_key = true;
		memcpy(s->key, opts->key, MK_STORE_KEY_LEN);
		for (size_t i = 0; opts->encrypt && opts->encrypt[i]; i++)
			mk_strv_push(&s->encrypt, &s->n_encrypt, mk_strdup(opts->encrypt[i]));
	}
	mk_random_hex(nonce, 16);
	snprintf(s->placeholder, sizeof(s->placeholder), "mkrv-%s", nonce);
	pthread_mutex_init(&s->q_lock, NULL);
	pthread_cond_init(&s->q_cond, NULL);
	s->q_tail = &s->q_head;
	pthread_mutex_init(&s->ev_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ev_cond, &ca);
	pthread_condattr_destroy(&ca);
	mk_hmap_init(&s->res_rev);
	s->ops = ops;
	s->datastore_cafile = mk_strdup(opts->cafile);
	s->datastore_certfile = mk_strdup(opts->certfile);
	s->datastore_keyfile = mk_strdup(opts->keyfile);

	if (ops->open(s, target, err) < 0) {
		store_unref(s);
		return -1;
	}
	s->be_open = 1;
	if (store_events_load(s, err) < 0 || (ops->start && ops->start(s, err) < 0) ||
	    store_committer_start(s, err) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	mk_store_free(s);
	return -1;
}

void store_unref(struct mk_store *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	store_events_release(s);
	mk_hmap_release(&s->res_rev, NULL);
	pthread_mutex_destroy(&s->q_lock);
	pthread_cond_destroy(&s->q_cond);
	pthread_mutex_destroy(&s->ev_lock);
	pthread_cond_destroy(&s->ev_cond);
	mk_strv_free(s->encrypt);
	free(s->datastore_cafile);
	free(s->datastore_certfile);
	free(s->datastore_keyfile);
	explicit_bzero(s->key, sizeof(s->key));
	free(s);
}

void mk_store_free(struct mk_store *s)
{
	if (!s)
		return;
	/* the committer finishes every queued write before it exits */
	store_committer_stop(s);

	pthread_mutex_lock(&s->ev_lock);
	s->closing = 1;
	pthread_cond_broadcast(&s->ev_cond);
	store_watches_wake_all(s, s->rev + 1);
	pthread_mutex_unlock(&s->ev_lock);

	if (s->be_open)
		s->ops->close(s);
	s->be_open = 0;
	store_unref(s);
}

uint64_t mk_store_revision(struct mk_store *s)
{
	return __atomic_load_n(&s->rev, __ATOMIC_ACQUIRE);
}

/* ---- reads ----------------------------------------------------------------- */

int mk_store_get(struct mk_store *s, const char *resource, const char *ns, const char *name,
		 char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	if (!resource || !*resource || !name || !*name)
		return mk_error_set(err, EINVAL, "store: get needs a resource and a name");
	return s->ops->get(s, resource, ns ? ns : "", name, ret_json, ret_rv, err);
}

int mk_store_list(struct mk_store *s, const char *resource, const char *ns,
		  mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		  struct mk_error **err)
{
	if (!resource || !*resource)
		return mk_error_set(err, EINVAL, "store: list needs a resource");
	return s->ops->list(s, resource, ns, filter, userdata, ret, err);
}

void mk_store_list_release(struct mk_store_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}
