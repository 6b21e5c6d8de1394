/* The SQLite backend: the default embedded store.
 *
 * Schema: objects (the current state, one row per key), events (one row per
 * revision, the watch history, compacted to the window) and meta (the revision, so
 * that it never goes backwards even when the newest objects were deleted and their
 * events compacted away).
 *
 * Writes: write_batch runs on the core's committer thread, which alone uses wdb and
 * its statements; a batch is one transaction with a savepoint per request, so a
 * failing request does not abort the others and concurrent writers share one fsync.
 * Callers serialise their object in their own thread with the placeholder; the
 * committer only splices the decimal revision into the text, so its critical path is
 * SQLite alone. Compaction of the events table rides along with a write transaction
 * so it costs no extra fsync.
 *
 * Reads use their own connections (WAL, pooled), so reads never wait for writes. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "sqlite.h"

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS objects ("
	" resource TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
	" rv INTEGER NOT NULL, data TEXT NOT NULL,"
	" PRIMARY KEY (resource, ns, name)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS events ("
	" rv INTEGER PRIMARY KEY, type INTEGER NOT NULL, resource TEXT NOT NULL,"
	" ns TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1);"
	"INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);";

int store_sqlite_error(struct mk_error **err, sqlite3 *db, const char *what)
{
	return mk_error_set(err, EIO, "store: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

static int exec(sqlite3 *db, const char *sql, struct mk_error **err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		mk_error_set(err, EIO, "store: '%.60s': %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct mk_error **err)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
		return mk_error_set(err, EIO, "store: prepare '%.60s': %s", sql, sqlite3_errmsg(db));
	return 0;
}

/* ---- read connections --------------------------------------------------- */

static void rconn_close(struct store_rconn *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->list_ns);
	sqlite3_finalize(c->list_all);
	sqlite3_finalize(c->rev);
	sqlite3_finalize(c->events);
	sqlite3_finalize(c->begin);
	sqlite3_finalize(c->end);
	sqlite3_close(c->db);
	free(c);
}

static int rconn_open(struct mk_store *s, struct store_rconn **ret, struct mk_error **err)
{
	struct store_sqlite *d = s->be;
	struct store_rconn *c = mk_malloc0(sizeof(*c));
	int r;

	r = sqlite3_open_v2(d->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r != SQLITE_OK) {
		store_sqlite_error(err, c->db, "open read connection");
		rconn_close(c);
		return -1;
	}
	sqlite3_busy_timeout(c->db, 5000);
	if (exec(c->db, "PRAGMA query_only=1", err) < 0 ||
	    prepare(c->db, "SELECT rv, data FROM objects WHERE resource=?1 AND ns=?2 AND name=?3",
		    &c->get, err) < 0 ||
	    prepare(c->db,
		    "SELECT data, ns, name FROM objects WHERE resource=?1 AND ns=?2 ORDER BY ns, name",
		    &c->list_ns, err) < 0 ||
	    prepare(c->db, "SELECT data, ns, name FROM objects WHERE resource=?1 ORDER BY ns, name",
		    &c->list_all, err) < 0 ||
	    prepare(c->db, "SELECT value FROM meta WHERE key='revision'", &c->rev, err) < 0 ||
	    prepare(c->db,
		    "SELECT rv, type, resource, ns, name, data FROM events"
		    " WHERE rv > ?1 AND rv < ?2 ORDER BY rv LIMIT ?3",
		    &c->events, err) < 0 ||
	    prepare(c->db, "BEGIN", &c->begin, err) < 0 ||
	    prepare(c->db, "COMMIT", &c->end, err) < 0) {
		rconn_close(c);
		return -1;
	}
	*ret = c;
	return 0;
}

static int rconn_get(struct mk_store *s, struct store_rconn **ret, struct mk_error **err)
{
	struct store_sqlite *d = s->be;
	struct store_rconn *c = NULL;

	pthread_mutex_lock(&d->pool_lock);
	if (d->pool_closed) {
		pthread_mutex_unlock(&d->pool_lock);
		return mk_error_set(err, ECANCELED, "store is closing");
	}
	if (d->npool > 0)
		c = d->pool[--d->npool];
	pthread_mutex_unlock(&d->pool_lock);
	if (c) {
		*ret = c;
		return 0;
	}
	return rconn_open(s, ret, err);
}

static void rconn_put(struct mk_store *s, struct store_rconn *c)
{
	struct store_sqlite *d = s->be;
	pthread_mutex_lock(&d->pool_lock);
	if (!d->pool_closed && d->npool < MK_STORE_POOL_MAX) {
		d->pool[d->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&d->pool_lock);
	rconn_close(c);
}

/* ---- open / close -------------------------------------------------------- */

static int make_temp_path(struct mk_store *s, struct mk_error **err)
{
	struct store_sqlite *d = s->be;
	static const char *bases[] = { "/dev/shm", NULL };
	const char *tmpdir = getenv("TMPDIR");
	struct stat st;

	bases[1] = tmpdir && *tmpdir ? tmpdir : "/tmp";
	for (size_t i = 0; i < MK_ARRAY_SIZE(bases); i++) {
		if (stat(bases[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		char *dir = mk_strdup_printf("%s/minik8s-store.XXXXXX", bases[i]);
		if (mkdtemp(dir)) {
			d->tmp_dir = dir;
			d->path = mk_strdup_printf("%s/store.db", dir);
			return 0;
		}
		free(dir);
	}
	return mk_error_errno(err, errno, "store: create temporary directory");
}

static void remove_temp(struct mk_store *s)
{
	struct store_sqlite *d = s->be;
	static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
	if (!d->tmp_dir)
		return;
	for (size_t i = 0; i < MK_ARRAY_SIZE(suffixes); i++) {
		_cleanup_free_ char *p = mk_strdup_printf("%s%s", d->path, suffixes[i]);
		unlink(p);
	}
	rmdir(d->tmp_dir);
}

/* journal_mode answers with the mode in effect; anything but "wal" means the file
 * system cannot do WAL (no shared memory) and readers would block writes */
static int writer_wal(struct store_sqlite *d, struct mk_error **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(d->wdb, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return mk_error_set(err, EIO, "store: open '%s': %s", d->path, sqlite3_errmsg(d->wdb));
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		mk_error_set(err, EIO, "store: open '%s': cannot use WAL (journal mode '%s')",
			     d->path, (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* the revision lives in meta so that it never goes backwards, even when the newest
 * objects were deleted and their events compacted away */
static int writer_revision(struct mk_store *s, struct store_sqlite *d, struct mk_error **err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(d->wdb,
			       "SELECT (SELECT value FROM meta WHERE key='revision'),"
			       " (SELECT coalesce(max(rv), 0) FROM events),"
			       " (SELECT coalesce(min(rv), 0) FROM events)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return store_sqlite_error(err, d->wdb, "read revision");
	}
	uint64_t meta_rev = (uint64_t)sqlite3_column_int64(st, 0);
	uint64_t max_ev = (uint64_t)sqlite3_column_int64(st, 1);
	uint64_t min_ev = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	s->committed = meta_rev > max_ev ? meta_rev : max_ev;
	s->compacted = min_ev ? min_ev - 1 : s->committed;
	s->rev = s->committed;
	return 0;
}

/* the writer's statements, prepared once */
static int writer_prepare(struct store_sqlite *d, struct mk_error **err)
{
	if (prepare(d->wdb, "BEGIN IMMEDIATE", &d->st_begin, err) < 0 ||
	    prepare(d->wdb, "COMMIT", &d->st_commit, err) < 0 ||
	    prepare(d->wdb, "ROLLBACK", &d->st_rollback, err) < 0 ||
	    prepare(d->wdb, "SAVEPOINT req", &d->st_savepoint, err) < 0 ||
	    prepare(d->wdb, "RELEASE req", &d->st_release, err) < 0 ||
	    prepare(d->wdb, "ROLLBACK TO req", &d->st_rollback_to, err) < 0 ||
	    prepare(d->wdb, "SELECT rv, data FROM objects WHERE resource=?1 AND ns=?2 AND name=?3",
		    &d->st_get, err) < 0 ||
	    prepare(d->wdb,
		    "INSERT INTO objects (resource, ns, name, rv, data) VALUES (?1, ?2, ?3, ?4, ?5)",
		    &d->st_insert, err) < 0 ||
	    prepare(d->wdb,
		    "UPDATE objects SET rv=?4, data=?5 WHERE resource=?1 AND ns=?2 AND name=?3",
		    &d->st_update, err) < 0 ||
	    prepare(d->wdb, "DELETE FROM objects WHERE resource=?1 AND ns=?2 AND name=?3",
		    &d->st_delete, err) < 0 ||
	    prepare(d->wdb,
		    "INSERT INTO events (rv, type, resource, ns, name, data)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		    &d->st_event, err) < 0 ||
	    prepare(d->wdb, "UPDATE meta SET value=?1 WHERE key='revision'", &d->st_meta, err) < 0 ||
	    prepare(d->wdb, "DELETE FROM events WHERE rv <= ?1", &d->st_compact, err) < 0)
		return -1;
	return 0;
}

static int open_writer(struct mk_store *s, struct mk_error **err)
{
	struct store_sqlite *d = s->be;
	int r;

	r = sqlite3_open_v2(d->path, &d->wdb,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r != SQLITE_OK)
		return mk_error_set(err, EIO, "store: open '%s': %s", d->path,
				    d->wdb ? sqlite3_errmsg(d->wdb) : "out of memory");
	sqlite3_busy_timeout(d->wdb, 5000);
	if (writer_wal(d, err) < 0)
		return -1;
	if (exec(d->wdb, s->durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		 err) < 0 ||
	    exec(d->wdb, "PRAGMA foreign_keys=OFF", err) < 0 || exec(d->wdb, SCHEMA, err) < 0 ||
	    /* encryption at rest: the plain text of a row rewritten sealed does not linger
	     * in the page it leaves (FAST: zeroed within the page, no extra I/O) */
	    (s->n_encrypt && exec(d->wdb, "PRAGMA secure_delete=FAST", err) < 0))
		return mk_error_wrap(err, "open '%s'", d->path);
	if (writer_revision(s, d, err) < 0)
		return -1;
	return writer_prepare(d, err);
}

static void close_writer(struct mk_store *s)
{
	struct store_sqlite *d = s->be;
	sqlite3_stmt **sts[] = { &d->st_begin,	  &d->st_commit, &d->st_rollback, &d->st_savepoint,
				 &d->st_release,  &d->st_rollback_to,	 &d->st_get,
				 &d->st_insert,	  &d->st_update, &d->st_delete,	  &d->st_event,
				 &d->st_meta,	  &d->st_compact };
	for (size_t i = 0; i < MK_ARRAY_SIZE(sts); i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
	if (d->wdb)
		sqlite3_close(d->wdb);
	d->wdb = NULL;
}


/* ---- reads ----------------------------------------------------------------- */

static void bind_key(sqlite3_stmt *st, const char *resource, const char *ns, const char *name)
{
	sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
	if (ns)
		sqlite3_bind_text(st, 2, ns, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
}

static int sqlite_get(struct mk_store *s, const char *resource, const char *ns, const char *name,
		      char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	struct store_rconn *c;
	int r, ret = -1;

	if (rconn_get(s, &c, err) < 0)
		return -1;
	bind_key(c->get, resource, ns, name);
	r = sqlite3_step(c->get);
	if (r == SQLITE_ROW) {
		if (ret_rv)
			*ret_rv = (uint64_t)sqlite3_column_int64(c->get, 0);
		ret = 0;
		if (ret_json && store_unseal(s, resource, ns, name,
					     (const char *)sqlite3_column_text(c->get, 1), ret_json,
					     err) < 0)
			ret = -1;
	} else if (r == SQLITE_DONE) {
		_cleanup_free_ char *key = store_key(resource, ns, name);
		mk_error_set(err, ENOENT, "object '%s' not found", key);
	} else {
		store_sqlite_error(err, c->db, "get");
	}
	sqlite3_reset(c->get);
	sqlite3_clear_bindings(c->get);
	rconn_put(s, c);
	return ret;
}

static int sqlite_list(struct mk_store *s, const char *resource, const char *ns,
		       mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		       struct mk_error **err)
{
	struct store_rconn *c;
	struct mk_store_list l = { 0 };
	size_t cap = 0;
	sqlite3_stmt *q;
	int r;

	if (rconn_get(s, &c, err) < 0)
		return -1;

	/* one read transaction: the revision and the items come from the same WAL
	 * snapshot, so a watch started at l.rv misses nothing and repeats nothing */
	if (sqlite3_step(c->begin) != SQLITE_DONE) {
		sqlite3_reset(c->begin);
		store_sqlite_error(err, c->db, "list: begin");
		rconn_put(s, c);
		return -1;
	}
	sqlite3_reset(c->begin);
	r = sqlite3_step(c->rev);
	if (r == SQLITE_ROW)
		l.rv = (uint64_t)sqlite3_column_int64(c->rev, 0);
	sqlite3_reset(c->rev);
	if (r != SQLITE_ROW) {
		store_sqlite_error(err, c->db, "list: read revision");
		goto fail;
	}

	q = ns ? c->list_ns : c->list_all;
	bind_key(q, resource, ns, NULL);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		char *data = NULL;
		if (store_unseal(s, resource, (const char *)sqlite3_column_text(q, 1),
				 (const char *)sqlite3_column_text(q, 2),
				 (const char *)sqlite3_column_text(q, 0), &data, err) < 0)
			break;
		if (filter && !filter(data, userdata)) {
			free(data);
			continue;
		}
		MK_GROW(l.items, cap, l.n + 1);
		l.items[l.n++] = data;
	}
	if (r == SQLITE_ROW) { /* a row that did not open */
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		goto fail;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (r != SQLITE_DONE) {
		store_sqlite_error(err, c->db, "list");
		goto fail;
	}
	sqlite3_step(c->end);
	sqlite3_reset(c->end);
	rconn_put(s, c);
	*ret = l;
	return 0;
fail:
	if (!sqlite3_get_autocommit(c->db)) {
		sqlite3_step(c->end);
		sqlite3_reset(c->end);
	}
	rconn_put(s, c);
	mk_store_list_release(&l);
	return -1;
}


static int step_done(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : -1;
}

static void req_fail_sqlite(struct mk_store *s, struct store_req *q, const char *what)
{
	struct store_sqlite *d = s->be;
	req_fail(q, EIO, mk_strdup_printf("store: %s: %s", what, sqlite3_errmsg(d->wdb)));
}

static void bind_req(sqlite3_stmt *st, const struct store_req *q)
{
	sqlite3_bind_text(st, 1, q->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, q->name, -1, SQLITE_STATIC);
}

/* Reads the stored revision and (if ret_data) data. 1 found, 0 absent, -1 error. */
static int lookup(struct mk_store *s, struct store_req *q, uint64_t *ret_rv, char **ret_data)
{
	struct store_sqlite *d = s->be;
	int r;
	bind_req(d->st_get, q);
	r = sqlite3_step(d->st_get);
	if (r == SQLITE_ROW) {
		*ret_rv = (uint64_t)sqlite3_column_int64(d->st_get, 0);
		if (ret_data) {
			struct mk_error *e = NULL;
			if (store_unseal(s, q->resource, q->ns, q->name,
					 (const char *)sqlite3_column_text(d->st_get, 1), ret_data,
					 &e) < 0) {
				sqlite3_reset(d->st_get);
				req_fail(q, e->code, mk_strdup(e->msg));
				mk_error_free(&e);
				return -1;
			}
		}
	}
	sqlite3_reset(d->st_get);
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

/* Applies one request inside the open transaction at revision rv. */
/* The row steps of apply_one: each writes the object's row at rv and leaves the
 * event's JSON in *json (and its sealed form in *sealed when encrypted at rest),
 * both owned by the caller also on failure. -1 after req_fail. */
static int row_create(struct mk_store *s, struct store_req *q, uint64_t rv, char **json,
		      char **sealed)
{
	struct store_sqlite *d = s->be;
	*json = store_splice_rv(q, rv);
	*sealed = store_seal(s, q->resource, q->ns, q->name, *json);
	bind_req(d->st_insert, q);
	sqlite3_bind_int64(d->st_insert, 4, (sqlite3_int64)rv);
	sqlite3_bind_text(d->st_insert, 5, *sealed ? *sealed : *json, -1, SQLITE_STATIC);
	int r = sqlite3_step(d->st_insert);
	sqlite3_reset(d->st_insert);
	if (r == SQLITE_CONSTRAINT &&
	    sqlite3_extended_errcode(d->wdb) == SQLITE_CONSTRAINT_PRIMARYKEY) {
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
	struct store_sqlite *d = s->be;
	if (check_current(s, q, old) < 0)
		return -1;
	*json = store_splice_rv(q, rv);
	*sealed = store_seal(s, q->resource, q->ns, q->name, *json);
	bind_req(d->st_update, q);
	sqlite3_bind_int64(d->st_update, 4, (sqlite3_int64)rv);
	sqlite3_bind_text(d->st_update, 5, *sealed ? *sealed : *json, -1, SQLITE_STATIC);
	if (step_done(d->st_update) < 0) {
		req_fail_sqlite(s, q, "update");
		return -1;
	}
	return 0;
}

/* The event of a delete carries the last state, at rv. */
static int row_delete(struct mk_store *s, struct store_req *q, uint64_t rv, char **json,
		      char **sealed, char **old)
{
	struct store_sqlite *d = s->be;
	if (check_current(s, q, old) < 0)
		return -1;
	*json = store_deleted_json(*old, rv);
	if (!*json) {
		char *key = store_key(q->resource, q->ns, q->name);
		req_fail(q, EIO, mk_strdup_printf("store: object '%s' is not valid JSON", key));
		free(key);
		return -1;
	}
	bind_req(d->st_delete, q);
	if (step_done(d->st_delete) < 0) {
		req_fail_sqlite(s, q, "delete");
		return -1;
	}
	*sealed = store_seal(s, q->resource, q->ns, q->name, *json);
	return 0;
}

static int apply_one(struct mk_store *s, struct store_req *q, uint64_t rv)
{
	struct store_sqlite *d = s->be;
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

	sqlite3_bind_int64(d->st_event, 1, (sqlite3_int64)rv);
	sqlite3_bind_int(d->st_event, 2, (int)type);
	sqlite3_bind_text(d->st_event, 3, q->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(d->st_event, 4, q->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(d->st_event, 5, q->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(d->st_event, 6, sealed ? sealed : json, -1, SQLITE_STATIC);
	if (step_done(d->st_event) < 0) {
		req_fail_sqlite(s, q, "record event");
		return -1;
	}
	q->rv = rv;
	q->ev = store_event_new(rv, type, q->resource, q->ns, q->name, TAKE_PTR(json));
	if (type == MK_STORE_MODIFIED)
		q->ev->old_json = TAKE_PTR(old);
	return 0;
}

static void undo_success(struct store_req **reqs, size_t n, const char *msg)
{
	for (size_t i = 0; i < n; i++) {
		struct store_req *q = reqs[i];
		if (q->code)
			continue;
		mk_store_event_unref(q->ev);
		q->ev = NULL;
		q->rv = 0;
		req_fail(q, EIO, mk_strdup_printf("store: commit: %s", msg));
	}
}

static void sqlite_write_batch(struct mk_store *s, struct store_req **reqs, size_t n)
{
	struct store_sqlite *d = s->be;
	struct mk_store_event *evs[MK_STORE_BATCH_MAX];
	uint64_t next = s->committed, compacted = s->compacted;
	size_t nev = 0;

	if (step_done(d->st_begin) < 0) {
		for (size_t i = 0; i < n; i++)
			req_fail_sqlite(s, reqs[i], "begin");
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
		sqlite3_bind_int64(d->st_compact, 1, (sqlite3_int64)upto);
		if (step_done(d->st_compact) == 0)
			s->compacted = upto;
	}

	for (size_t i = 0; i < n; i++) {
		struct store_req *q = reqs[i];
		if (sqlite3_get_autocommit(d->wdb)) {
			/* an I/O error rolled the whole transaction back */
			req_fail(q, EIO, mk_strdup_printf("store: transaction aborted: %s",
							  sqlite3_errmsg(d->wdb)));
			continue;
		}
		if (step_done(d->st_savepoint) < 0) {
			req_fail_sqlite(s, q, "savepoint");
			continue;
		}
		if (apply_one(s, q, next + 1) == 0) {
			step_done(d->st_release);
			next++;
		} else {
			step_done(d->st_rollback_to);
			step_done(d->st_release);
		}
	}

	if (sqlite3_get_autocommit(d->wdb)) {
		undo_success(reqs, n, sqlite3_errmsg(d->wdb));
		s->compacted = compacted;
		return;
	}
	if (next > s->committed) {
		sqlite3_bind_int64(d->st_meta, 1, (sqlite3_int64)next);
		if (step_done(d->st_meta) < 0) {
			char *m = mk_strdup(sqlite3_errmsg(d->wdb));
			step_done(d->st_rollback);
			s->compacted = compacted;
			undo_success(reqs, n, m);
			free(m);
			return;
		}
	}
	if (step_done(d->st_commit) < 0) {
		char *m = mk_strdup(sqlite3_errmsg(d->wdb));
		if (!sqlite3_get_autocommit(d->wdb))
			step_done(d->st_rollback);
		undo_success(reqs, n, m);
		free(m);
		s->compacted = compacted; /* the compaction was rolled back too */
		return;
	}
	s->committed = next;

	for (size_t i = 0; i < n; i++)
		if (reqs[i]->ev)
			evs[nev++] = store_event_ref(reqs[i]->ev);
	store_events_publish(s, evs, nev);
}


/* ---- events (watch history) ---------------------------------------------------- */

/* NULL with *err when the row's object cannot be opened (encryption at rest) */
static struct mk_store_event *event_from_row(struct mk_store *s, sqlite3_stmt *st,
					     struct mk_error **err)
{
	const char *res = (const char *)sqlite3_column_text(st, 2);
	const char *ns = (const char *)sqlite3_column_text(st, 3);
	const char *name = (const char *)sqlite3_column_text(st, 4);
	char *json = NULL;
	if (store_unseal(s, res, ns, name, (const char *)sqlite3_column_text(st, 5), &json, err) < 0)
		return NULL;
	return store_event_new((uint64_t)sqlite3_column_int64(st, 0),
			       (enum mk_store_event_type)sqlite3_column_int(st, 1), res, ns, name,
			       json);
}

static int sqlite_events(struct mk_store *s, uint64_t after, uint64_t below, size_t max,
			 struct mk_store_event **out, size_t *ret_n, struct mk_error **err)
{
	struct store_rconn *c;
	size_t n = 0;
	int r = SQLITE_DONE;

	if (rconn_get(s, &c, err) < 0)
		return -1;
	sqlite3_bind_int64(c->events, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(c->events, 2, below ? (sqlite3_int64)below : INT64_MAX);
	sqlite3_bind_int64(c->events, 3, (sqlite3_int64)max);
	while (n < max && (r = sqlite3_step(c->events)) == SQLITE_ROW) {
		struct mk_store_event *ev = event_from_row(s, c->events, err);
		if (!ev)
			break;
		out[n++] = ev;
	}
	if (n < max && r == SQLITE_ROW) { /* a row that did not open */
		sqlite3_reset(c->events);
		rconn_put(s, c);
		goto fail;
	}
	sqlite3_reset(c->events);
	if (n < max && r != SQLITE_DONE) {
		store_sqlite_error(err, c->db, "read events");
		rconn_put(s, c);
		goto fail;
	}
	rconn_put(s, c);
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		mk_store_event_unref(out[i]);
	return -1;
}

/* ---- open / close ---------------------------------------------------------------- */

static void sqlite_close(struct mk_store *s)
{
	struct store_sqlite *d = s->be;
	struct store_rconn *idle[MK_STORE_POOL_MAX];
	size_t n;

	if (!d)
		return;
	store_checkpointer_stop(d);
	close_writer(s);

	pthread_mutex_lock(&d->pool_lock);
	d->pool_closed = 1;
	n = d->npool;
	memcpy(idle, d->pool, n * sizeof(idle[0]));
	d->npool = 0;
	pthread_mutex_unlock(&d->pool_lock);
	for (size_t i = 0; i < n; i++)
		rconn_close(idle[i]);

	remove_temp(s);
	pthread_mutex_destroy(&d->pool_lock);
	free(d->path);
	free(d->tmp_dir);
	free(d);
	s->be = NULL;
}

static int sqlite_open(struct mk_store *s, const char *target, struct mk_error **err)
{
	struct store_sqlite *d = mk_malloc0(sizeof(*d));

	if (!*target)
		return mk_error_set(err, EINVAL, "store: no database path");
	if (!sqlite3_threadsafe())
		return mk_error_set(err, EIO, "store: sqlite3 is built without thread support");
	s->be = d;
	pthread_mutex_init(&d->pool_lock, NULL);
	if (strcmp(target, ":memory:") == 0) {
		/* An SQLite :memory: database is private to one connection, and a
		 * shared-cache one uses table locks instead of WAL snapshots; a file in a
		 * private temp dir (tmpfs if available) keeps the real WAL semantics. */
		s->durable = 0;
		if (make_temp_path(s, err) < 0)
			goto fail;
	} else {
		d->path = mk_strdup(target);
	}
	if (open_writer(s, err) < 0 || store_checkpointer_start(d, err) < 0)
		goto fail;
	return 0;
fail:
	sqlite_close(s);
	return -1;
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.write_batch = sqlite_write_batch,
	.get = sqlite_get,
	.list = sqlite_list,
	.events = sqlite_events,
	.publishes_on_commit = 1,
};
