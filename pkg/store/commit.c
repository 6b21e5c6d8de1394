/* Writes: one committer thread applies every queued request in one transaction
 * (group commit), one SAVEPOINT per request so a failing request (EEXIST, ESTALE,
 * ENOENT) does not abort the others. Concurrent writers thus share one fsync.
 *
 * Callers serialise their object in their own thread with a per-store random
 * placeholder as metadata.resourceVersion; the committer only splices the decimal
 * revision into the text, so the committer's critical path is SQLite alone. */
#include <errno.h>
#include <string.h>
#include "internal.h"

struct batch {
	struct store_req *reqs[MK_STORE_BATCH_MAX];
	size_t n;
};

static int step_done(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : -1;
}

static void req_fail(struct store_req *q, int code, char *msg /* moved */)
{
	q->code = code;
	free(q->msg);
	q->msg = msg;
}

static void req_fail_sqlite(struct mk_store *s, struct store_req *q, const char *what)
{
	req_fail(q, EIO, mk_strdup_printf("store: %s: %s", what, sqlite3_errmsg(s->wdb)));
}

static void bind_key(sqlite3_stmt *st, const struct store_req *q)
{
	sqlite3_bind_text(st, 1, q->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, q->name, -1, SQLITE_STATIC);
}

/* Reads the stored revision and (if ret_data) data. 1 found, 0 absent, -1 error. */
static int lookup(struct mk_store *s, struct store_req *q, uint64_t *ret_rv, char **ret_data)
{
	int r;
	bind_key(s->st_get, q);
	r = sqlite3_step(s->st_get);
	if (r == SQLITE_ROW) {
		*ret_rv = (uint64_t)sqlite3_column_int64(s->st_get, 0);
		if (ret_data) {
			struct mk_error *e = NULL;
			if (store_unseal(s, q->resource, q->ns, q->name,
					 (const char *)sqlite3_column_text(s->st_get, 1), ret_data,
					 &e) < 0) {
				sqlite3_reset(s->st_get);
				req_fail(q, e->code, mk_strdup(e->msg));
				mk_error_free(&e);
				return -1;
			}
		}
	}
	sqlite3_reset(s->st_get);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	req_fail_sqlite(s, q, "read");
	return -1;
}

/* Checks existence and expect_rv for update/delete; 0 ok, -1 request failed. */
static int check_current(struct mk_store *s, struct store_req *q, char **ret_data)
{
	uint64_t cur = 0;
	int r = lookup(s, q, &cur, ret_data);
	if (r < 0)
		return -1;
	if (r == 0) {
		char *key = store_key(q->resource, q->ns, q->name);
		req_fail(q, ENOENT, mk_strdup_printf("object '%s' not found", key));
		free(key);
		return -1;
	}
	if (q->expect_rv && q->expect_rv != cur) {
		char *key = store_key(q->resource, q->ns, q->name);
		req_fail(q, ESTALE,
			 mk_strdup_printf("object '%s' has been modified: resourceVersion is %llu, "
					  "not %llu",
					  key, (unsigned long long)cur,
					  (unsigned long long)q->expect_rv));
		free(key);
		if (ret_data) {
			free(*ret_data);
			*ret_data = NULL;
		}
		return -1;
	}
	return 0;
}

static char *splice_rv(const struct store_req *q, uint64_t rv)
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
static char *deleted_json(const char *data, uint64_t rv)
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

/* Applies one request inside the open transaction at revision rv. */
/* The row steps of apply_one: each writes the object's row at rv and leaves the
 * event's JSON in *json (and its sealed form in *sealed when encrypted at rest),
 * both owned by the caller also on failure. -1 after req_fail. */
static int row_create(struct mk_store *s, struct store_req *q, uint64_t rv, char **json,
		      char **sealed)
{
	*json = splice_rv(q, rv);
	*sealed = store_seal(s, q->resource, q->ns, q->name, *json);
	bind_key(s->st_insert, q);
	sqlite3_bind_int64(s->st_insert, 4, (sqlite3_int64)rv);
	sqlite3_bind_text(s->st_insert, 5, *sealed ? *sealed : *json, -1, SQLITE_STATIC);
	int r = sqlite3_step(s->st_insert);
	sqlite3_reset(s->st_insert);
	if (r == SQLITE_CONSTRAINT &&
	    sqlite3_extended_errcode(s->wdb) == SQLITE_CONSTRAINT_PRIMARYKEY) {
		char *key = store_key(q->resource, q->ns, q->name);
		req_fail(q, EEXIST, mk_strdup_printf("object '%s' already exists", key));
		free(key);
		return -1;
	}
	if (r != SQLITE_DONE) {
		req_fail_sqlite(s, q, "insert");
		return -1;
	}
	return 0;
}

/* The previous state lands in *old: it rides along in the event, so watchers
 * filtering by labels turn a change into ADDED/DELETED with it. */
static int row_update(struct mk_store *s, struct store_req *q, uint64_t rv, char **json,
		      char **sealed, char **old)
{
	if (check_current(s, q, old) < 0)
		return -1;
	*json = splice_rv(q, rv);
	*sealed = store_seal(s, q->resource, q->ns, q->name, *json);
	bind_key(s->st_update, q);
	sqlite3_bind_int64(s->st_update, 4, (sqlite3_int64)rv);
	sqlite3_bind_text(s->st_update, 5, *sealed ? *sealed : *json, -1, SQLITE_STATIC);
	if (step_done(s->st_update) < 0) {
		req_fail_sqlite(s, q, "update");
		return -1;
	}
	return 0;
}

/* The event of a delete carries the last state, at rv. */
static int row_delete(struct mk_store *s, struct store_req *q, uint64_t rv, char **json,
		      char **sealed, char **old)
{
	if (check_current(s, q, old) < 0)
		return -1;
	*json = deleted_json(*old, rv);
	if (!*json) {
		char *key = store_key(q->resource, q->ns, q->name);
		req_fail(q, EIO, mk_strdup_printf("store: object '%s' is not valid JSON", key));
		free(key);
		return -1;
	}
	bind_key(s->st_delete, q);
	if (step_done(s->st_delete) < 0) {
		req_fail_sqlite(s, q, "delete");
		return -1;
	}
	*sealed = store_seal(s, q->resource, q->ns, q->name, *json);
	return 0;
}

static int apply_one(struct mk_store *s, struct store_req *q, uint64_t rv)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_free_ char *old = NULL;
	_cleanup_free_ char *sealed = NULL; /* what the rows hold when encrypted at rest */
	enum mk_store_event_type type;
	int r;

	switch (q->op) {
	case STORE_OP_CREATE:
		type = MK_STORE_ADDED;
		r = row_create(s, q, rv, &json, &sealed);
		break;
	case STORE_OP_UPDATE:
		type = MK_STORE_MODIFIED;
		r = row_update(s, q, rv, &json, &sealed, &old);
		break;
	case STORE_OP_DELETE:
		type = MK_STORE_DELETED;
		r = row_delete(s, q, rv, &json, &sealed, &old);
		break;
	default:
		abort();
	}
	if (r < 0)
		return -1;

	sqlite3_bind_int64(s->st_event, 1, (sqlite3_int64)rv);
	sqlite3_bind_int(s->st_event, 2, (int)type);
	sqlite3_bind_text(s->st_event, 3, q->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->st_event, 4, q->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->st_event, 5, q->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->st_event, 6, sealed ? sealed : json, -1, SQLITE_STATIC);
	if (step_done(s->st_event) < 0) {
		req_fail_sqlite(s, q, "record event");
		return -1;
	}
	q->rv = rv;
	q->ev = store_event_new(rv, type, q->resource, q->ns, q->name, TAKE_PTR(json));
	if (type == MK_STORE_MODIFIED)
		q->ev->old_json = TAKE_PTR(old);
	return 0;
}

static void undo_success(struct batch *b, const char *msg)
{
	for (size_t i = 0; i < b->n; i++) {
		struct store_req *q = b->reqs[i];
		if (q->code)
			continue;
		mk_store_event_unref(q->ev);
		q->ev = NULL;
		q->rv = 0;
		req_fail(q, EIO, mk_strdup_printf("store: commit: %s", msg));
	}
}

static void run_batch(struct mk_store *s, struct batch *b)
{
	struct mk_store_event *evs[MK_STORE_BATCH_MAX];
	uint64_t next = s->committed, compacted = s->compacted;
	size_t nev = 0;

	if (step_done(s->st_begin) < 0) {
		for (size_t i = 0; i < b->n; i++)
			req_fail_sqlite(s, b->reqs[i], "begin");
		return;
	}

	/* compaction rides along with a write transaction so it costs no extra fsync;
	 * rows are dropped in steps so one commit never deletes a huge range */
	uint64_t target = s->committed > s->window ? s->committed - s->window : 0;
	uint64_t step = s->window / 8 < MK_STORE_COMPACT_MAX ? s->window / 8 : MK_STORE_COMPACT_MAX;
	if (step == 0)
		step = 1;
	if (target > s->compacted && target - s->compacted >= step) {
		uint64_t upto = s->compacted + 4 * step < target ? s->compacted + 4 * step : target;
		sqlite3_bind_int64(s->st_compact, 1, (sqlite3_int64)upto);
		if (step_done(s->st_compact) == 0)
			s->compacted = upto;
	}

	for (size_t i = 0; i < b->n; i++) {
		struct store_req *q = b->reqs[i];
		if (sqlite3_get_autocommit(s->wdb)) {
			/* an I/O error rolled the whole transaction back */
			req_fail(q, EIO, mk_strdup_printf("store: transaction aborted: %s",
							  sqlite3_errmsg(s->wdb)));
			continue;
		}
		if (step_done(s->st_savepoint) < 0) {
			req_fail_sqlite(s, q, "savepoint");
			continue;
		}
		if (apply_one(s, q, next + 1) == 0) {
			step_done(s->st_release);
			next++;
		} else {
			step_done(s->st_rollback_to);
			step_done(s->st_release);
		}
	}

	if (sqlite3_get_autocommit(s->wdb)) {
		undo_success(b, sqlite3_errmsg(s->wdb));
		s->compacted = compacted;
		return;
	}
	if (next > s->committed) {
		sqlite3_bind_int64(s->st_meta, 1, (sqlite3_int64)next);
		if (step_done(s->st_meta) < 0) {
			char *m = mk_strdup(sqlite3_errmsg(s->wdb));
			step_done(s->st_rollback);
			s->compacted = compacted;
			undo_success(b, m);
			free(m);
			return;
		}
	}
	if (step_done(s->st_commit) < 0) {
		char *m = mk_strdup(sqlite3_errmsg(s->wdb));
		if (!sqlite3_get_autocommit(s->wdb))
			step_done(s->st_rollback);
		undo_success(b, m);
		free(m);
		s->compacted = compacted; /* the compaction was rolled back too */
		return;
	}
	s->committed = next;

	for (size_t i = 0; i < b->n; i++)
		if (b->reqs[i]->ev)
			evs[nev++] = store_event_ref(b->reqs[i]->ev);
	store_events_publish(s, evs, nev);
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

		run_batch(s, b);

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
