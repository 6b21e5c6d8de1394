/* Store lifecycle (open, schema, close), read connections, get and list. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"

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

char *store_key(const char *resource, const char *ns, const char *name)
{
	if (ns && *ns)
		return mk_strdup_printf("%s/%s/%s", resource, ns, name);
	return mk_strdup_printf("%s/%s", resource, name);
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
	struct store_rconn *c = mk_malloc0(sizeof(*c));
	int r;

	r = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
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

int store_rconn_get(struct mk_store *s, struct store_rconn **ret, struct mk_error **err)
{
	struct store_rconn *c = NULL;

	pthread_mutex_lock(&s->pool_lock);
	if (s->pool_closed) {
		pthread_mutex_unlock(&s->pool_lock);
		return mk_error_set(err, ECANCELED, "store is closing");
	}
	if (s->npool > 0)
		c = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_lock);
	if (c) {
		*ret = c;
		return 0;
	}
	return rconn_open(s, ret, err);
}

void store_rconn_put(struct mk_store *s, struct store_rconn *c)
{
	pthread_mutex_lock(&s->pool_lock);
	if (!s->pool_closed && s->npool < MK_STORE_POOL_MAX) {
		s->pool[s->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	rconn_close(c);
}

/* ---- open / close -------------------------------------------------------- */

static int make_temp_path(struct mk_store *s, struct mk_error **err)
{
	static const char *bases[] = { "/dev/shm", NULL };
	const char *tmpdir = getenv("TMPDIR");
	struct stat st;

	bases[1] = tmpdir && *tmpdir ? tmpdir : "/tmp";
	for (size_t i = 0; i < MK_ARRAY_SIZE(bases); i++) {
		if (stat(bases[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		char *dir = mk_strdup_printf("%s/minik8s-store.XXXXXX", bases[i]);
		if (mkdtemp(dir)) {
			s->tmp_dir = dir;
			s->path = mk_strdup_printf("%s/store.db", dir);
			return 0;
		}
		free(dir);
	}
	return mk_error_errno(err, errno, "store: create temporary directory");
}

static void remove_temp(struct mk_store *s)
{
	static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
	if (!s->tmp_dir)
		return;
	for (size_t i = 0; i < MK_ARRAY_SIZE(suffixes); i++) {
		_cleanup_free_ char *p = mk_strdup_printf("%s%s", s->path, suffixes[i]);
		unlink(p);
	}
	rmdir(s->tmp_dir);
}

static int open_writer(struct mk_store *s, struct mk_error **err)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = sqlite3_open_v2(s->path, &s->wdb,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r != SQLITE_OK)
		return mk_error_set(err, EIO, "store: open '%s': %s", s->path,
				    s->wdb ? sqlite3_errmsg(s->wdb) : "out of memory");
	sqlite3_busy_timeout(s->wdb, 5000);

	/* journal_mode answers with the mode in effect; anything but "wal" means the
	 * file system cannot do WAL (no shared memory) and readers would block writes */
	if (sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return mk_error_set(err, EIO, "store: open '%s': %s", s->path, sqlite3_errmsg(s->wdb));
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		mk_error_set(err, EIO, "store: open '%s': cannot use WAL (journal mode '%s')",
			     s->path, (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	st = NULL;

	if (exec(s->wdb, s->durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		 err) < 0 ||
	    exec(s->wdb, "PRAGMA foreign_keys=OFF", err) < 0 || exec(s->wdb, SCHEMA, err) < 0 ||
	    /* encryption at rest: the plain text of a row rewritten sealed does not linger
	     * in the page it leaves (FAST: zeroed within the page, no extra I/O) */
	    (s->n_encrypt && exec(s->wdb, "PRAGMA secure_delete=FAST", err) < 0))
		return mk_error_wrap(err, "open '%s'", s->path);

	/* the revision lives in meta so that it never goes backwards, even when the
	 * newest objects were deleted and their events compacted away */
	if (sqlite3_prepare_v2(s->wdb,
			       "SELECT (SELECT value FROM meta WHERE key='revision'),"
			       " (SELECT coalesce(max(rv), 0) FROM events),"
			       " (SELECT coalesce(min(rv), 0) FROM events)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return store_sqlite_error(err, s->wdb, "read revision");
	}
	uint64_t meta_rev = (uint64_t)sqlite3_column_int64(st, 0);
	uint64_t max_ev = (uint64_t)sqlite3_column_int64(st, 1);
	uint64_t min_ev = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	s->committed = meta_rev > max_ev ? meta_rev : max_ev;
	s->compacted = min_ev ? min_ev - 1 : s->committed;
	s->rev = s->committed;

	if (prepare(s->wdb, "BEGIN IMMEDIATE", &s->st_begin, err) < 0 ||
	    prepare(s->wdb, "COMMIT", &s->st_commit, err) < 0 ||
	    prepare(s->wdb, "ROLLBACK", &s->st_rollback, err) < 0 ||
	    prepare(s->wdb, "SAVEPOINT req", &s->st_savepoint, err) < 0 ||
	    prepare(s->wdb, "RELEASE req", &s->st_release, err) < 0 ||
	    prepare(s->wdb, "ROLLBACK TO req", &s->st_rollback_to, err) < 0 ||
	    prepare(s->wdb, "SELECT rv, data FROM objects WHERE resource=?1 AND ns=?2 AND name=?3",
		    &s->st_get, err) < 0 ||
	    prepare(s->wdb,
		    "INSERT INTO objects (resource, ns, name, rv, data) VALUES (?1, ?2, ?3, ?4, ?5)",
		    &s->st_insert, err) < 0 ||
	    prepare(s->wdb,
		    "UPDATE objects SET rv=?4, data=?5 WHERE resource=?1 AND ns=?2 AND name=?3",
		    &s->st_update, err) < 0 ||
	    prepare(s->wdb, "DELETE FROM objects WHERE resource=?1 AND ns=?2 AND name=?3",
		    &s->st_delete, err) < 0 ||
	    prepare(s->wdb,
		    "INSERT INTO events (rv, type, resource, ns, name, data)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		    &s->st_event, err) < 0 ||
	    prepare(s->wdb, "UPDATE meta SET value=?1 WHERE key='revision'", &s->st_meta, err) < 0 ||
	    prepare(s->wdb, "DELETE FROM events WHERE rv <= ?1", &s->st_compact, err) < 0)
		return -1;
	return 0;
}

static void close_writer(struct mk_store *s)
{
	sqlite3_stmt **sts[] = { &s->st_begin,	  &s->st_commit, &s->st_rollback, &s->st_savepoint,
				 &s->st_release,  &s->st_rollback_to,	 &s->st_get,
				 &s->st_insert,	  &s->st_update, &s->st_delete,	  &s->st_event,
				 &s->st_meta,	  &s->st_compact };
	for (size_t i = 0; i < MK_ARRAY_SIZE(sts); i++) {
		sqlite3_finalize(*sts[i]);
		*sts[i] = NULL;
	}
	if (s->wdb)
		sqlite3_close(s->wdb);
	s->wdb = NULL;
}

int mk_store_open(const struct mk_store_options *opts, struct mk_store **ret,
		  struct mk_error **err)
{
	struct mk_store *s;
	pthread_condattr_t ca;
	char nonce[33];

	if (!opts || !opts->path || !*opts->path)
		return mk_error_set(err, EINVAL, "store: no database path");
	if (!sqlite3_threadsafe())
		return mk_error_set(err, EIO, "store: sqlite3 is built without thread support");

	s = mk_malloc0(sizeof(*s));
	s->refs = 1;
	s->window = opts->event_window ? opts->event_window : MK_STORE_DEFAULT_WINDOW;
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
	pthread_mutex_init(&s->pool_lock, NULL);

	if (strcmp(opts->path, ":memory:") == 0) {
		/* An SQLite :memory: database is private to one connection, and a
		 * shared-cache one uses table locks instead of WAL snapshots; a file in a
		 * private temp dir (tmpfs if available) keeps the real WAL semantics. */
		s->durable = 0;
		if (make_temp_path(s, err) < 0)
			goto fail;
	} else {
		s->path = mk_strdup(opts->path);
	}

	if (open_writer(s, err) < 0 || store_events_load(s, err) < 0 ||
	    store_checkpointer_start(s, err) < 0 || store_committer_start(s, err) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	store_checkpointer_stop(s);
	close_writer(s);
	remove_temp(s);
	s->pool_closed = 1;
	store_unref(s);
	return -1;
}

void store_unref(struct mk_store *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	store_events_release(s);
	pthread_mutex_destroy(&s->q_lock);
	pthread_cond_destroy(&s->q_cond);
	pthread_mutex_destroy(&s->ev_lock);
	pthread_cond_destroy(&s->ev_cond);
	pthread_mutex_destroy(&s->pool_lock);
	free(s->path);
	free(s->tmp_dir);
	mk_strv_free(s->encrypt);
	explicit_bzero(s->key, sizeof(s->key));
	free(s);
}

void mk_store_free(struct mk_store *s)
{
	struct store_rconn *idle[MK_STORE_POOL_MAX];
	size_t n;

	if (!s)
		return;
	/* the committer finishes every queued write before it exits */
	store_committer_stop(s);
	store_checkpointer_stop(s);
	close_writer(s);

	pthread_mutex_lock(&s->ev_lock);
	s->closing = 1;
	pthread_cond_broadcast(&s->ev_cond);
	pthread_mutex_unlock(&s->ev_lock);

	pthread_mutex_lock(&s->pool_lock);
	s->pool_closed = 1;
	n = s->npool;
	memcpy(idle, s->pool, n * sizeof(idle[0]));
	s->npool = 0;
	pthread_mutex_unlock(&s->pool_lock);
	for (size_t i = 0; i < n; i++)
		rconn_close(idle[i]);

	remove_temp(s);
	store_unref(s);
}

uint64_t mk_store_revision(struct mk_store *s)
{
	return __atomic_load_n(&s->rev, __ATOMIC_ACQUIRE);
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

int mk_store_get(struct mk_store *s, const char *resource, const char *ns, const char *name,
		 char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	struct store_rconn *c;
	int r, ret = -1;

	if (!resource || !*resource || !name || !*name)
		return mk_error_set(err, EINVAL, "store: get needs a resource and a name");
	if (!ns)
		ns = "";
	if (store_rconn_get(s, &c, err) < 0)
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
	store_rconn_put(s, c);
	return ret;
}

int mk_store_list(struct mk_store *s, const char *resource, const char *ns,
		  mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		  struct mk_error **err)
{
	struct store_rconn *c;
	struct mk_store_list l = { 0 };
	size_t cap = 0;
	sqlite3_stmt *q;
	int r;

	if (!resource || !*resource)
		return mk_error_set(err, EINVAL, "store: list needs a resource");
	if (store_rconn_get(s, &c, err) < 0)
		return -1;

	/* one read transaction: the revision and the items come from the same WAL
	 * snapshot, so a watch started at l.rv misses nothing and repeats nothing */
	if (sqlite3_step(c->begin) != SQLITE_DONE) {
		sqlite3_reset(c->begin);
		store_sqlite_error(err, c->db, "list: begin");
		store_rconn_put(s, c);
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
	store_rconn_put(s, c);
	*ret = l;
	return 0;
fail:
	if (!sqlite3_get_autocommit(c->db)) {
		sqlite3_step(c->end);
		sqlite3_reset(c->end);
	}
	store_rconn_put(s, c);
	mk_store_list_release(&l);
	return -1;
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
