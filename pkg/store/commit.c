/* The write path of the core: callers' requests go through one queue to one
 * committer thread, which hands them to the backend in batches (group commit: the
 * requests that queued up while the previous batch was being made durable go
 * together, so concurrent writers share one durable transaction).
 *
 * Callers serialise their object in their own thread with a per-store random
 * placeholder as metadata.resourceVersion; the backend only splices the decimal
 * revision into the text (store_splice_rv), so the committer's critical path is the
 * engine alone. */
#include <errno.h>
#include <string.h>
#include "internal.h"

#define MK_STORE_PUBLISH_WAIT_MS 10000 /* a write waits this long for its event */

struct batch {
	struct store_req *reqs[MK_STORE_BATCH_MAX];
	size_t n;
};

void req_fail(struct store_req *q, int code, char *msg /* moved */)
{
	q->code = code;
	free(q->msg);
	q->msg = msg;
}

char *store_splice_rv(const struct store_req *q, uint64_t rv)
{
	char digits[24];
	int nd = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)rv);
	size_t tail = q->json_len - q->ph_off - q->ph_len;
	char *out = malloc(q->ph_off + (size_t)nd + tail + 1);
	if (!out)
		abort();
	memcpy(out, q->json, q->ph_off);
	memcpy(out + q->ph_off, digits, (size_t)nd);
	memcpy(out + q->ph_off + nd, q->json + q->ph_off + q->ph_len, tail);
	out[q->ph_off + nd + tail] = '\0';
	return out;
}

/* The DELETED event carries the last state with the deletion's revision. */
char *store_deleted_json(const char *data, uint64_t rv)
{
	_cleanup_cjson_ cJSON *o = cJSON_Parse(data);
	char digits[24];
	if (!cJSON_IsObject(o))
		return NULL;
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)rv);
	mk_json_set_string(mk_json_ensure_object(o, "metadata"), "resourceVersion", digits);
	_cleanup_cjson_str_ char *p = cJSON_PrintUnformatted(o);
	return p ? mk_strdup(p) : NULL;
}

static void *committer_main(void *arg)
{
	struct mk_store *s = arg;
	struct batch *b = mk_malloc0(sizeof(*b));

	pthread_mutex_lock(&s->q_lock);
	for (;;) {
		while (!s->q_head && !s->stopping)
			pthread_cond_wait(&s->q_cond, &s->q_lock);
		if (!s->q_head)
			break; /* stopping and drained */
		b->n = 0;
		while (s->q_head && b->n < MK_STORE_BATCH_MAX) {
			b->reqs[b->n++] = s->q_head;
			s->q_head = s->q_head->next;
		}
		if (!s->q_head)
			s->q_tail = &s->q_head;
		pthread_mutex_unlock(&s->q_lock);

		s->ops->write_batch(s, b->reqs, b->n);

		pthread_mutex_lock(&s->q_lock);
		for (size_t i = 0; i < b->n; i++) {
			b->reqs[i]->done = 1;
			pthread_cond_signal(&b->reqs[i]->cond);
		}
	}
	pthread_mutex_unlock(&s->q_lock);
	free(b);
	return NULL;
}

int store_committer_start(struct mk_store *s, struct mk_error **err)
{
	int r = pthread_create(&s->committer, NULL, committer_main, s);
	if (r != 0)
		return mk_error_errno(err, r, "store: start committer thread");
	s->committer_started = 1;
	return 0;
}

void store_committer_stop(struct mk_store *s)
{
	if (!s->committer_started)
		return;
	pthread_mutex_lock(&s->q_lock);
	s->stopping = 1;
	pthread_cond_signal(&s->q_cond);
	pthread_mutex_unlock(&s->q_lock);
	pthread_join(s->committer, NULL);
	s->committer_started = 0;
}

/* Queues q and sleeps until the committer has answered it. The committer answers
 * every request it takes, and takes every queued one before it exits. */
static int submit(struct mk_store *s, struct store_req *q, struct mk_error **err)
{
	pthread_cond_init(&q->cond, NULL);
	pthread_mutex_lock(&s->q_lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->q_lock);
		pthread_cond_destroy(&q->cond);
		return mk_error_set(err, ECANCELED, "store is closing");
	}
	q->next = NULL;
	*s->q_tail = q;
	s->q_tail = &q->next;
	pthread_cond_signal(&s->q_cond);
	while (!q->done)
		pthread_cond_wait(&q->cond, &s->q_lock);
	pthread_mutex_unlock(&s->q_lock);
	pthread_cond_destroy(&q->cond);
	if (q->code) {
		mk_error_set(err, q->code, "%s", q->msg);
		free(q->msg);
		return -1;
	}
	/* a backend that publishes from a feed of its own: the write is acknowledged
	 * (durable) either way; waiting makes it visible to watches and to
	 * mk_store_revision on return, as with the backends that publish on commit */
	if (!s->ops->publishes_on_commit)
		store_wait_rev(s, q->rv, MK_STORE_PUBLISH_WAIT_MS);
	return 0;
}

static void finish(struct store_req *q, char **ret_json, uint64_t *ret_rv)
{
	if (ret_json)
		*ret_json = mk_strdup(q->ev->json);
	if (ret_rv)
		*ret_rv = q->rv;
	mk_store_event_unref(q->ev);
}

static int write_object(struct mk_store *s, enum store_op op, const char *resource,
			const char *ns, const char *name, uint64_t expect_rv, cJSON *obj,
			char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	struct store_req q = { .op = op, .resource = resource, .ns = ns ? ns : "",
			       .name = name, .expect_rv = expect_rv };
	_cleanup_cjson_ cJSON *old_rv = NULL;
	_cleanup_cjson_str_ char *json = NULL;
	cJSON *meta;
	char *ph;
	int r;

	if (!resource || !*resource || !name || !*name)
		return mk_error_set(err, EINVAL, "store: write needs a resource and a name");
	if (!cJSON_IsObject(obj))
		return mk_error_set(err, EINVAL, "store: object is not a JSON object");

	meta = mk_json_ensure_object(obj, "metadata");
	old_rv = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion"), 1);
	mk_json_set_string(meta, "resourceVersion", s->placeholder);
	json = cJSON_PrintUnformatted(obj);
	if (!json)
		abort();
	ph = strstr(json, s->placeholder);
	if (!ph)
		abort(); /* cJSON prints strings of [a-z0-9-] verbatim */
	q.json = json;
	q.json_len = strlen(json);
	q.ph_off = (size_t)(ph - json);
	q.ph_len = strlen(s->placeholder);

	r = submit(s, &q, err);
	if (r < 0) {
		if (old_rv)
			mk_json_set(meta, "resourceVersion", TAKE_PTR(old_rv));
		else
			cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
		return -1;
	}
	char digits[24];
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)q.rv);
	mk_json_set_string(meta, "resourceVersion", digits);
	finish(&q, ret_json, ret_rv);
	return 0;
}

int mk_store_create(struct mk_store *s, const char *resource, const char *ns, const char *name,
		    cJSON *obj, char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	return write_object(s, STORE_OP_CREATE, resource, ns, name, 0, obj, ret_json, ret_rv,
			    err);
}

int mk_store_update(struct mk_store *s, const char *resource, const char *ns, const char *name,
		    uint64_t expect_rv, cJSON *obj, char **ret_json, uint64_t *ret_rv,
		    struct mk_error **err)
{
	return write_object(s, STORE_OP_UPDATE, resource, ns, name, expect_rv, obj, ret_json,
			    ret_rv, err);
}

int mk_store_delete(struct mk_store *s, const char *resource, const char *ns, const char *name,
		    uint64_t expect_rv, char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	struct store_req q = { .op = STORE_OP_DELETE, .resource = resource, .ns = ns ? ns : "",
			       .name = name, .expect_rv = expect_rv };

	if (!resource || !*resource || !name || !*name)
		return mk_error_set(err, EINVAL, "store: delete needs a resource and a name");
	if (submit(s, &q, err) < 0)
		return -1;
	finish(&q, ret_json, ret_rv);
	return 0;
}
