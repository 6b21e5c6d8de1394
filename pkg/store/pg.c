/* The PostgreSQL backend (libpq), after kine: the datastore is one table of
 * revisions, several servers may share it, and each one's watch feed sees the writes
 * of all of them.
 *
 * Schema (in the connection's current schema):
 *   minik8s_rev(id, resource, ns, name, created, deleted, prev_revision, value): one
 *     row per write; id is the revision (resourceVersion). The current state of a key
 *     is its newest row, absent when that row is a deletion. value is what
 *     store_seal returned (or the plain JSON); a deletion row holds the object's last
 *     state with the deletion's revision (what the DELETED event carries).
 *   minik8s_meta('revision' | 'compacted', value).
 *
 * Revisions without holes, in commit order. kine takes id from a sequence, which
 * hands out values at insert time and never gives back the ones of rolled-back
 * transactions; a poller that sees id N+2 before N+1 cannot tell a hole from a
 * transaction still running, so kine waits and then inserts a "gap" row to claim
 * the id (making the late writer fail). Here every write transaction of every
 * server first locks the 'revision' row of minik8s_meta (UPDATE ... RETURNING),
 * takes the next ids from it, and writes the new value before COMMIT. Row locks are
 * released only after the commit is visible, so the transactions that write rows
 * are serialised in id order: once a snapshot sees revision N, it sees every row
 * <= N, and a failed or rolled-back transaction leaves no id behind. The cost is
 * that the servers' write transactions do not overlap; each one is a whole group
 * commit (one transaction for all the requests that queued meanwhile).
 *
 * Compare-and-swap: under that lock, the newest row of the key is read and the new
 * row inserted with prev_revision = its id, in the same transaction (READ
 * COMMITTED takes a fresh snapshot per statement, after the lock was granted, so it
 * sees the other servers' last commit).
 *
 * Watch feed: the committer publishes its own batch at once when nothing of
 * another server came between (the feed is at the batch's base revision); a thread
 * of this server reads rows with id > the last one published,
 * in id order, and publishes them to the core's ring (store_events_publish); it is
 * woken by NOTIFY minik8s_rev (sent by the writing transaction, delivered at
 * commit, from every server), by this server's committer right after a commit, and
 * by a 1 s timer if a notification was lost (reconnect). The same thread compacts:
 * it drops the rows older than revision - window that a newer row (also older than
 * that) supersedes, and the deletion rows older than it, as kine does, and records
 * the compacted revision; reading history at or below it is refused (410).
 *
 * Reads use pooled connections of their own. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "internal.h"

#define PG_POOL_MAX 16
#define PG_FEED_ROWS 1024     /* rows read per feed query */
#define PG_FEED_POLL_MS 1000  /* the feed looks even without a notification */
#define PG_RECONNECT_MS 500

static const char SCHEMA[] =
	"SELECT pg_advisory_xact_lock(7268526575);" /* servers starting together */
	"CREATE TABLE IF NOT EXISTS minik8s_rev ("
	" id bigint PRIMARY KEY,"
	" resource text COLLATE \"C\" NOT NULL, ns text COLLATE \"C\" NOT NULL,"
	" name text COLLATE \"C\" NOT NULL,"
	" created smallint NOT NULL, deleted smallint NOT NULL,"
	" prev_revision bigint NOT NULL, value text NOT NULL);"
	"CREATE INDEX IF NOT EXISTS minik8s_rev_key ON minik8s_rev (resource, ns, name, id);"
	"CREATE TABLE IF NOT EXISTS minik8s_meta (key text PRIMARY KEY, value bigint NOT NULL);"
	"INSERT INTO minik8s_meta (key, value) VALUES ('revision', 0), ('compacted', 0)"
	" ON CONFLICT (key) DO NOTHING;";

static const char Q_NEWEST[] =
	"SELECT id, deleted, value FROM minik8s_rev WHERE resource=$1 AND ns=$2 AND name=$3"
	" ORDER BY id DESC LIMIT 1";
static const char Q_EVENTS[] =
	"SELECT r.id, r.resource, r.ns, r.name, r.created, r.deleted, r.value,"
	" CASE WHEN r.created = 0 AND r.deleted = 0 THEN p.value END"
	" FROM minik8s_rev r LEFT JOIN minik8s_rev p ON p.id = r.prev_revision"
	" WHERE r.id > $1 AND r.id < $2"
	" AND $1 >= (SELECT value FROM minik8s_meta WHERE key='compacted')"
	" ORDER BY r.id LIMIT $3";

struct store_pg {
	char *conninfo;

	PGconn *wc; /* the committer's connection (committer thread only) */

	/* the feed thread and its connection */
	PGconn *fc;
	pthread_t feed;
	int feed_started;
	int wake_fd; /* eventfd: committed / stop */
	int stop;    /* atomic */
	uint64_t compacted;

	pthread_mutex_t pool_lock;
	PGconn *pool[PG_POOL_MAX];
	size_t npool;
	int pool_closed;
};

/* first line of libpq's message, without the trailing newline */
static int pg_error(struct mk_error **err, int code, const char *what, const char *msg)
{
	size_t n = msg ? strcspn(msg, "\n") : 0;
	return mk_error_set(err, code, "store: %s: %.*s", what, (int)n, msg ? msg : "");
}

/* library code does not print: the server's NOTICEs ("relation already exists,
 * skipping") are dropped instead of going to stderr */
static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int connect_db(const char *conninfo, PGconn **ret, struct mk_error **err)
{
	PGconn *c = PQconnectdb(conninfo);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		pg_error(err, EIO, "connect to postgres", c ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return -1;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	*ret = c;
	return 0;
}

/* Runs sql (no parameters, no rows wanted). */
static int exec_cmd(PGconn *c, const char *sql, struct mk_error **err)
{
	PGresult *r = PQexec(c, sql);
	int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
	if (!ok)
		pg_error(err, EIO, "postgres", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params)
{
	return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
}

static uint64_t col_u64(const PGresult *r, int row, int col)
{
	return (uint64_t)strtoull(PQgetvalue(r, row, col), NULL, 10);
}

/* ---- read connections ----------------------------------------------------------- */

static int rconn_get(struct mk_store *s, PGconn **ret, struct mk_error **err)
{
	struct store_pg *d = s->be;
	PGconn *c = NULL;

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
	return connect_db(d->conninfo, ret, err);
}

static void rconn_put(struct mk_store *s, PGconn *c)
{
	struct store_pg *d = s->be;

	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) {
		PQfinish(c); /* broken or left inside a transaction: not reused */
		return;
	}
	pthread_mutex_lock(&d->pool_lock);
	if (!d->pool_closed && d->npool < PG_POOL_MAX) {
		d->pool[d->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&d->pool_lock);
	PQfinish(c);
}

/* ---- reads -------------------------------------------------------------------------- */

static int pg_get(struct mk_store *s, const char *resource, const char *ns, const char *name,
		  char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	const char *p[] = { resource, ns, name };
	PGconn *c;
	int ret = -1;

	if (rconn_get(s, &c, err) < 0)
		return -1;
	PGresult *r = query(c, Q_NEWEST, 3, p);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(err, EIO, "get", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	} else if (PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 1), "0") != 0) {
		_cleanup_free_ char *key = store_key(resource, ns, name);
		mk_error_set(err, ENOENT, "object '%s' not found", key);
	} else {
		ret = 0;
		if (ret_json && store_unseal(s, resource, ns, name, PQgetvalue(r, 0, 2), ret_json,
					     err) < 0)
			ret = -1;
		else if (ret_rv)
			*ret_rv = col_u64(r, 0, 0);
	}
	PQclear(r);
	rconn_put(s, c);
	return ret;
}

static int pg_list(struct mk_store *s, const char *resource, const char *ns,
		   mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		   struct mk_error **err)
{
	static const char q_ns[] =
		"SELECT ns, name, value FROM (SELECT DISTINCT ON (ns, name) ns, name, deleted, value"
		" FROM minik8s_rev WHERE resource=$1 AND ns=$2 ORDER BY ns, name, id DESC) k"
		" WHERE deleted = 0 ORDER BY ns, name";
	static const char q_all[] =
		"SELECT ns, name, value FROM (SELECT DISTINCT ON (ns, name) ns, name, deleted, value"
		" FROM minik8s_rev WHERE resource=$1 ORDER BY ns, name, id DESC) k"
		" WHERE deleted = 0 ORDER BY ns, name";
	const char *p[] = { resource, ns };
	struct mk_store_list l = { 0 };
	size_t cap = 0;
	PGresult *r = NULL;
	PGconn *c;

	if (rconn_get(s, &c, err) < 0)
		return -1;
	/* one snapshot: the revision and the items agree, so a watch started at l.rv
	 * misses nothing and repeats nothing */
	if (exec_cmd(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0)
		goto fail;
	r = PQexec(c, "SELECT value FROM minik8s_meta WHERE key='revision'");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pg_error(err, EIO, "list: read revision", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		goto fail;
	}
	l.rv = col_u64(r, 0, 0);
	PQclear(r);
	r = query(c, ns ? q_ns : q_all, ns ? 2 : 1, p);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_error(err, EIO, "list", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		goto fail;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		char *data = NULL;
		if (store_unseal(s, resource, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				 PQgetvalue(r, i, 2), &data, err) < 0)
			goto fail;
		if (filter && !filter(data, userdata)) {
			free(data);
			continue;
		}
		MK_GROW(l.items, cap, l.n + 1);
		l.items[l.n++] = data;
	}
	PQclear(r);
	r = NULL;
	if (exec_cmd(c, "COMMIT", err) < 0)
		goto fail;
	rconn_put(s, c);
	*ret = l;
	return 0;
fail:
	PQclear(r);
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		exec_cmd(c, "ROLLBACK", NULL);
	rconn_put(s, c);
	mk_store_list_release(&l);
	return -1;
}

/* rows of Q_EVENTS into events; -1 if a row cannot be opened */
static int events_from_result(struct mk_store *s, PGresult *r, struct mk_store_event **out,
			      size_t *ret_n, struct mk_error **err)
{
	size_t n = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *res = PQgetvalue(r, i, 1), *ns = PQgetvalue(r, i, 2),
			   *name = PQgetvalue(r, i, 3);
		enum mk_store_event_type type = strcmp(PQgetvalue(r, i, 4), "0") != 0 ? MK_STORE_ADDED
						: strcmp(PQgetvalue(r, i, 5), "0") != 0 ? MK_STORE_DELETED
											: MK_STORE_MODIFIED;
		char *json = NULL, *old = NULL;
		if (store_unseal(s, res, ns, name, PQgetvalue(r, i, 6), &json, err) < 0 ||
		    (!PQgetisnull(r, i, 7) &&
		     store_unseal(s, res, ns, name, PQgetvalue(r, i, 7), &old, err) < 0)) {
			free(json);
			for (size_t j = 0; j < n; j++)
				mk_store_event_unref(out[j]);
			return -1;
		}
		out[n] = store_event_new(col_u64(r, i, 0), type, res, ns, name, json);
		out[n++]->old_json = old;
	}
	*ret_n = n;
	return 0;
}

static int read_events(struct mk_store *s, PGconn *c, uint64_t after, uint64_t below, size_t max,
		       struct mk_store_event **out, size_t *ret_n, struct mk_error **err)
{
	char a[24], b[24], m[24];
	const char *p[] = { a, b, m };
	snprintf(a, sizeof(a), "%" PRIu64, after);
	snprintf(b, sizeof(b), "%" PRIu64, below ? below : (uint64_t)INT64_MAX);
	snprintf(m, sizeof(m), "%zu", max);
	PGresult *r = query(c, Q_EVENTS, 3, p);
	int ret;
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
		ret = pg_error(err, EIO, "read events", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	else
		ret = events_from_result(s, r, out, ret_n, err);
	PQclear(r);
	return ret;
}

static int pg_events(struct mk_store *s, uint64_t after, uint64_t below, size_t max,
		     struct mk_store_event **out, size_t *ret_n, struct mk_error **err)
{
	PGconn *c;
	if (rconn_get(s, &c, err) < 0)
		return -1;
	int r = read_events(s, c, after, below, max, out, ret_n, err);
	rconn_put(s, c);
	return r;
}

/* ---- writes (committer thread) ---------------------------------------------------- */

static void wake_feed(struct store_pg *d)
{
	uint64_t one = 1;
	if (write(d->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: the feed has wake-ups pending anyway */
	}
}

/* The newest row of q's key: 1 found (live), 0 absent or deleted, -1 failed (q failed). */
static int newest(PGconn *c, struct mk_store *s, struct store_req *q, uint64_t *ret_rv,
		  char **ret_data)
{
	const char *p[] = { q->resource, q->ns, q->name };
	PGresult *r = query(c, Q_NEWEST, 3, p);
	int ret = 0;

	*ret_rv = 0;
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		req_fail(q, EIO,
			 mk_strdup_printf("store: read: %.200s",
					  r ? PQresultErrorMessage(r) : PQerrorMessage(c)));
		ret = -1;
	} else if (PQntuples(r) == 1) {
		*ret_rv = col_u64(r, 0, 0); /* also for a deletion: the new row's prev_revision */
		if (strcmp(PQgetvalue(r, 0, 1), "0") == 0) {
			ret = 1;
			if (ret_data) {
				struct mk_error *e = NULL;
				if (store_unseal(s, q->resource, q->ns, q->name, PQgetvalue(r, 0, 2),
						 ret_data, &e) < 0) {
					req_fail(q, e->code, mk_strdup(e->msg));
					mk_error_free(&e);
					ret = -1;
				}
			}
		}
	}
	PQclear(r);
	return ret;
}

static void fail_key(struct store_req *q, int code, const char *fmt)
{
	char *key = store_key(q->resource, q->ns, q->name);
	req_fail(q, code, mk_strdup_printf(fmt, key));
	free(key);
}

/* Create and update in one round trip: the compare-and-swap is the insert's
 * condition on the key's newest row, which the statement also returns (the old
 * state for the event, the reason of a refusal). 0 applied; -1 q failed. */
static int apply_put(struct mk_store *s, PGconn *c, struct store_req *q, uint64_t rv, int *broken)
{
	static const char sql[] =
		"WITH cur AS (SELECT id, deleted, value FROM minik8s_rev"
		"  WHERE resource=$2 AND ns=$3 AND name=$4 ORDER BY id DESC LIMIT 1),"
		" ins AS (INSERT INTO minik8s_rev (id, resource, ns, name, created, deleted,"
		"  prev_revision, value)"
		"  SELECT $1::bigint, $2, $3, $4, $5::smallint, 0, coalesce((SELECT id FROM cur), 0), $6"
		"  WHERE CASE WHEN $5::smallint = 1"
		"   THEN NOT EXISTS (SELECT 1 FROM cur WHERE deleted = 0)"
		"   ELSE EXISTS (SELECT 1 FROM cur WHERE deleted = 0"
		"    AND ($7::bigint = 0 OR id = $7::bigint)) END"
		"  RETURNING id)"
		" SELECT (SELECT count(*) FROM ins), cur.id, cur.deleted, cur.value"
		" FROM (SELECT 1) one LEFT JOIN cur ON true";
	int create = q->op == STORE_OP_CREATE;
	char *json = store_splice_rv(q, rv);
	_cleanup_free_ char *sealed = store_seal(s, q->resource, q->ns, q->name, json);
	char srv[24], sexp[24];
	snprintf(srv, sizeof(srv), "%" PRIu64, rv);
	snprintf(sexp, sizeof(sexp), "%" PRIu64, q->expect_rv);
	const char *p[] = { srv, q->resource, q->ns, q->name, create ? "1" : "0",
			    sealed ? sealed : json, sexp };
	PGresult *r = query(c, sql, 7, p);

	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		req_fail(q, EIO,
			 mk_strdup_printf("store: write: %.200s",
					  r ? PQresultErrorMessage(r) : PQerrorMessage(c)));
		PQclear(r);
		free(json);
		*broken = 1;
		return -1;
	}
	int live = !PQgetisnull(r, 0, 1) && strcmp(PQgetvalue(r, 0, 2), "0") == 0;
	if (strcmp(PQgetvalue(r, 0, 0), "1") != 0) {
		free(json);
		if (create)
			fail_key(q, EEXIST, "object '%s' already exists");
		else if (!live)
			fail_key(q, ENOENT, "object '%s' not found");
		else {
			char *key = store_key(q->resource, q->ns, q->name);
			req_fail(q, ESTALE,
				 mk_strdup_printf("object '%s' has been modified: resourceVersion "
						  "is %s, not %llu",
						  key, PQgetvalue(r, 0, 1),
						  (unsigned long long)q->expect_rv));
			free(key);
		}
		PQclear(r);
		return -1;
	}
	char *old = NULL;
	if (!create) {
		struct mk_error *e = NULL;
		if (store_unseal(s, q->resource, q->ns, q->name, PQgetvalue(r, 0, 3), &old, &e) < 0) {
			/* the row is written: its event goes without the old state */
			mk_error_free(&e);
			old = NULL;
		}
	}
	PQclear(r);
	q->rv = rv;
	q->ev = store_event_new(rv, create ? MK_STORE_ADDED : MK_STORE_MODIFIED, q->resource, q->ns,
				q->name, json);
	q->ev->old_json = old;
	return 0;
}

/* The write's preconditions against the key's newest row (found, at revision cur):
 * create wants none, update and delete want one at expect_rv when it is set.
 * 0 to go on; -1 with q failed. */
static int apply_check(struct store_req *q, int found, uint64_t cur)
{
	int code = 0;
	char *msg = NULL, *key = store_key(q->resource, q->ns, q->name);

	if (q->op == STORE_OP_CREATE && found) {
		code = EEXIST;
		msg = mk_strdup_printf("object '%s' already exists", key);
	} else if (q->op != STORE_OP_CREATE && !found) {
		code = ENOENT;
		msg = mk_strdup_printf("object '%s' not found", key);
	} else if (q->op != STORE_OP_CREATE && q->expect_rv && q->expect_rv != cur) {
		code = ESTALE;
		msg = mk_strdup_printf("object '%s' has been modified: resourceVersion is %llu, "
				       "not %llu",
				       key, (unsigned long long)cur, (unsigned long long)q->expect_rv);
	}
	free(key);
	if (!code)
		return 0;
	req_fail(q, code, msg);
	return -1;
}

/* Inserts the row of revision rv (previous revision cur) holding value. 0, or -1
 * with q failed and the transaction broken. */
static int insert_row(PGconn *c, struct store_req *q, uint64_t rv, uint64_t cur,
		      enum mk_store_event_type type, const char *value)
{
	char srv[24], sprev[24];
	snprintf(srv, sizeof(srv), "%" PRIu64, rv);
	snprintf(sprev, sizeof(sprev), "%" PRIu64, cur);
	const char *p[] = { srv,
			    q->resource,
			    q->ns,
			    q->name,
			    type == MK_STORE_ADDED ? "1" : "0",
			    type == MK_STORE_DELETED ? "1" : "0",
			    sprev,
			    value };
	PGresult *r = query(c,
			    "INSERT INTO minik8s_rev (id, resource, ns, name, created, deleted,"
			    " prev_revision, value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			    8, p);
	int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		req_fail(q, EIO,
			 mk_strdup_printf("store: insert: %.200s",
					  r ? PQresultErrorMessage(r) : PQerrorMessage(c)));
	PQclear(r);
	return ok ? 0 : -1;
}

/* Applies q at revision rv inside the open transaction. 0 applied; -1 q failed (a
 * logical failure leaves the transaction usable; *broken set when it does not). */
static int apply_one(struct mk_store *s, PGconn *c, struct store_req *q, uint64_t rv, int *broken)
{
	_cleanup_free_ char *json = NULL, *old = NULL, *sealed = NULL;
	enum mk_store_event_type type;
	uint64_t cur = 0;
	int found = newest(c, s, q, &cur, q->op == STORE_OP_CREATE ? NULL : &old);

	if (found < 0) {
		*broken = q->code == EIO;
		return -1;
	}
	if (apply_check(q, found, cur) < 0)
		return -1;
	switch (q->op) {
	case STORE_OP_CREATE:
		type = MK_STORE_ADDED;
		json = store_splice_rv(q, rv);
		break;
	case STORE_OP_UPDATE:
		type = MK_STORE_MODIFIED;
		json = store_splice_rv(q, rv);
		break;
	case STORE_OP_DELETE:
		type = MK_STORE_DELETED;
		json = store_deleted_json(old, rv);
		if (!json) {
			char *key = store_key(q->resource, q->ns, q->name);
			req_fail(q, EIO, mk_strdup_printf("store: object '%s' is not valid JSON", key));
			free(key);
			return -1;
		}
		break;
	default:
		abort();
	}
	sealed = store_seal(s, q->resource, q->ns, q->name, json);
	if (insert_row(c, q, rv, cur, type, sealed ? sealed : json) < 0) {
		*broken = 1;
		return -1;
	}
	q->rv = rv;
	q->ev = store_event_new(rv, type, q->resource, q->ns, q->name, TAKE_PTR(json));
	if (type == MK_STORE_MODIFIED)
		q->ev->old_json = TAKE_PTR(old);
	return 0;
}

static void fail_all(struct store_req **reqs, size_t n, const char *what, const char *msg)
{
	size_t len = msg ? strcspn(msg, "\n") : 0;
	for (size_t i = 0; i < n; i++) {
		struct store_req *q = reqs[i];
		mk_store_event_unref(q->ev);
		q->ev = NULL;
		q->rv = 0;
		if (q->code)
			continue; /* its own answer (EEXIST, ESTALE, ...) stands */
		req_fail(q, EIO, mk_strdup_printf("store: %s: %.*s", what, (int)len, msg ? msg : ""));
	}
}

/* the committer's connection, (re)made when lost */
static int writer_conn(struct mk_store *s, struct mk_error **err)
{
	struct store_pg *d = s->be;
	if (d->wc && PQstatus(d->wc) == CONNECTION_OK)
		return 0;
	if (d->wc) {
		PQreset(d->wc);
		if (PQstatus(d->wc) == CONNECTION_OK)
			goto setup;
		PQfinish(d->wc);
		d->wc = NULL;
	}
	if (connect_db(d->conninfo, &d->wc, err) < 0)
		return -1;
setup:
	/* without durability (tests): no wait for the WAL flush at commit */
	if (!s->durable && exec_cmd(d->wc, "SET synchronous_commit = off", err) < 0)
		return -1;
	return 0;
}

static void pg_write_batch(struct mk_store *s, struct store_req **reqs, size_t n)
{
	struct store_pg *d = s->be;
	struct mk_error *e = NULL;
	PGresult *r = NULL;
	uint64_t base, next;
	int broken = 0;

	if (writer_conn(s, &e) < 0) {
		fail_all(reqs, n, "connect", e->msg);
		mk_error_free(&e);
		return;
	}
	PGconn *c = d->wc;
	/* the lock that orders every server's write transactions (see the top),
	 * in the round trip of BEGIN */
	r = PQexec(c, "BEGIN; UPDATE minik8s_meta SET value = value WHERE key='revision'"
		      " RETURNING value");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fail_all(reqs, n, "lock revision", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		goto rollback;
	}
	base = next = col_u64(r, 0, 0);
	PQclear(r);
	r = NULL;

	for (size_t i = 0; i < n && !broken; i++)
		if ((reqs[i]->op == STORE_OP_DELETE ? apply_one : apply_put)(s, c, reqs[i], next + 1,
									     &broken) == 0)
			next++;
	if (broken) {
		fail_all(reqs, n, "transaction aborted", PQerrorMessage(c));
		goto rollback;
	}
	/* the new revision, the notification and COMMIT in one round trip */
	char sql[160];
	if (next > base)
		snprintf(sql, sizeof(sql),
			 "UPDATE minik8s_meta SET value=%" PRIu64 " WHERE key='revision';"
			 " NOTIFY minik8s_rev; COMMIT",
			 next);
	else
		snprintf(sql, sizeof(sql), "COMMIT");
	r = PQexec(c, sql);
	/* COMMIT of a failed transaction answers ROLLBACK, not an error */
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		/* a connection lost during COMMIT leaves the outcome unknown: the
		 * callers get an error, as etcd's clients do for a timed-out request */
		fail_all(reqs, n, "commit", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		goto rollback;
	}
	PQclear(r);
	s->committed = next;
	if (next > base) {
		/* when this server's feed is at base (no other server wrote since), the
		 * batch's events are the next ones: published at once, so the writers do
		 * not wait for the feed's round trip; otherwise the feed delivers them in
		 * order after the other servers' writes */
		struct mk_store_event **evs = mk_malloc0(n * sizeof(*evs));
		size_t nev = 0;
		for (size_t i = 0; i < n; i++)
			if (reqs[i]->ev)
				evs[nev++] = store_event_ref(reqs[i]->ev);
		if (store_events_publish_next(s, evs, nev) < nev)
			wake_feed(d);
		free(evs);
	}
	return;
rollback:
	PQclear(r);
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		exec_cmd(c, "ROLLBACK", NULL);
}

/* ---- the feed: publishes every server's writes, compacts -------------------------- */

static int feed_conn(struct mk_store *s)
{
	struct store_pg *d = s->be;
	if (d->fc && PQstatus(d->fc) == CONNECTION_OK)
		return 0;
	PQfinish(d->fc);
	d->fc = NULL;
	if (connect_db(d->conninfo, &d->fc, NULL) < 0)
		return -1;
	if (exec_cmd(d->fc, "LISTEN minik8s_rev", NULL) < 0) {
		PQfinish(d->fc);
		d->fc = NULL;
		return -1;
	}
	return 0;
}

/* Reads and publishes what is new. 1 if a full page was read (more may follow). */
static int feed_once(struct mk_store *s)
{
	struct store_pg *d = s->be;
	struct mk_store_event *evs[PG_FEED_ROWS];
	size_t n = 0;
	uint64_t rev = mk_store_revision(s);

	if (read_events(s, d->fc, rev, 0, PG_FEED_ROWS, evs, &n, NULL) < 0)
		return 0;
	if (n == 0) {
		/* nothing after rev: either nothing new, or rev is at or below the
		 * compacted revision (this server fell that far behind) */
		PGresult *r = PQexec(d->fc, "SELECT (SELECT value FROM minik8s_meta WHERE key='revision'),"
					    " (SELECT value FROM minik8s_meta WHERE key='compacted')");
		if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			uint64_t cur = col_u64(r, 0, 0), comp = col_u64(r, 0, 1);
			if (rev < comp && cur > rev) {
				/* the history between is gone: skip to it; watchers behind
				 * get 410 when they read it (events refuses after < compacted) */
				store_events_reset(s, comp);
				PQclear(r);
				return 1;
			}
		}
		PQclear(r);
		return 0;
	}
	/* ids have no holes but where compaction removed rows this server never read */
	if (evs[0]->rv > mk_store_revision(s) + 1)
		store_events_reset(s, evs[0]->rv - 1);
	/* the committer may have published some of them meanwhile: those are skipped */
	store_events_publish_next(s, evs, n);
	return n == PG_FEED_ROWS;
}

static void compact(struct mk_store *s)
{
	struct store_pg *d = s->be;
	uint64_t rev = mk_store_revision(s);
	uint64_t target = rev > s->window ? rev - s->window : 0;
	uint64_t step = s->window / 8 < MK_STORE_COMPACT_MAX ? s->window / 8 : MK_STORE_COMPACT_MAX;

	if (step == 0)
		step = 1;
	if (target <= d->compacted || target - d->compacted < step)
		return;
	uint64_t upto = d->compacted + 4 * step < target ? d->compacted + 4 * step : target;
	char v[24];
	const char *p[] = { v };
	snprintf(v, sizeof(v), "%" PRIu64, upto);
	/* the recorded revision first: a reader of history below it is refused from
	 * the moment rows may be missing */
	PGresult *r = query(d->fc,
			    "WITH m AS (UPDATE minik8s_meta SET value = GREATEST(value, $1::bigint)"
			    " WHERE key='compacted' RETURNING value)"
			    " DELETE FROM minik8s_rev r WHERE r.id <= $1::bigint AND (r.deleted = 1 OR"
			    " EXISTS (SELECT 1 FROM minik8s_rev n WHERE n.resource = r.resource AND"
			    " n.ns = r.ns AND n.name = r.name AND n.id > r.id AND n.id <= $1::bigint))",
			    1, p);
	if (r && PQresultStatus(r) == PGRES_COMMAND_OK)
		d->compacted = upto;
	PQclear(r);
}

static void *feed_main(void *arg)
{
	struct mk_store *s = arg;
	struct store_pg *d = s->be;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		if (feed_conn(s) < 0) {
			struct pollfd pf = { .fd = d->wake_fd, .events = POLLIN };
			poll(&pf, 1, PG_RECONNECT_MS);
			uint64_t v;
			if (pf.revents & POLLIN && read(d->wake_fd, &v, sizeof(v)) < 0) {
			}
			continue;
		}
		if (feed_once(s) > 0)
			continue; /* a full page: read on before waiting */
		compact(s);

		/* notifications libpq already read with a query's answer do not make
		 * the socket readable again: look at them before sleeping */
		int pending = 0;
		PGnotify *nt;
		PQconsumeInput(d->fc);
		while ((nt = PQnotifies(d->fc))) {
			PQfreemem(nt);
			pending = 1;
		}
		if (pending)
			continue;

		struct pollfd pf[2] = { { .fd = d->wake_fd, .events = POLLIN },
					{ .fd = PQsocket(d->fc), .events = POLLIN } };
		if (poll(pf, 2, PG_FEED_POLL_MS) < 0 && errno != EINTR)
			continue;
		if (pf[0].revents & POLLIN) {
			uint64_t v;
			if (read(d->wake_fd, &v, sizeof(v)) < 0) {
			}
		}
		if (pf[1].revents) {
			PQconsumeInput(d->fc);
			while ((nt = PQnotifies(d->fc)))
				PQfreemem(nt);
		}
	}
	return NULL;
}

static int pg_start(struct mk_store *s, struct mk_error **err)
{
	struct store_pg *d = s->be;
	int r = pthread_create(&d->feed, NULL, feed_main, s);
	if (r)
		return mk_error_errno(err, r, "store: start postgres feed thread");
	d->feed_started = 1;
	return 0;
}

/* ---- open / close ------------------------------------------------------------------ */

static void pg_close(struct mk_store *s)
{
	struct store_pg *d = s->be;
	PGconn *idle[PG_POOL_MAX];
	size_t n;

	if (!d)
		return;
	if (d->feed_started) {
		__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
		wake_feed(d);
		pthread_join(d->feed, NULL);
	}
	PQfinish(d->fc);
	PQfinish(d->wc);
	pthread_mutex_lock(&d->pool_lock);
	d->pool_closed = 1;
	n = d->npool;
	memcpy(idle, d->pool, n * sizeof(idle[0]));
	d->npool = 0;
	pthread_mutex_unlock(&d->pool_lock);
	for (size_t i = 0; i < n; i++)
		PQfinish(idle[i]);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	pthread_mutex_destroy(&d->pool_lock);
	free(d->conninfo);
	free(d);
	s->be = NULL;
}

static int pg_open(struct mk_store *s, const char *target, struct mk_error **err)
{
	struct store_pg *d = mk_malloc0(sizeof(*d));
	PGresult *r = NULL;

	d->conninfo = mk_strdup(target);
	d->wake_fd = -1;
	pthread_mutex_init(&d->pool_lock, NULL);
	s->be = d;

	/* a malformed connection string fails here with libpq's own words */
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(target, &perr);
	if (!opts) {
		pg_error(err, EINVAL, "datastore endpoint", perr ? perr : "out of memory");
		PQfreemem(perr);
		goto fail;
	}
	PQconninfoFree(opts);

	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wake_fd < 0) {
		mk_error_errno(err, errno, "store: eventfd");
		goto fail;
	}
	if (writer_conn(s, err) < 0)
		goto fail;
	if (exec_cmd(d->wc, "BEGIN", err) < 0 || exec_cmd(d->wc, SCHEMA, err) < 0 ||
	    exec_cmd(d->wc, "COMMIT", err) < 0) {
		mk_error_wrap(err, "create schema");
		goto fail;
	}
	r = PQexec(d->wc, "SELECT (SELECT value FROM minik8s_meta WHERE key='revision'),"
			  " (SELECT value FROM minik8s_meta WHERE key='compacted')");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pg_error(err, EIO, "read revision", r ? PQresultErrorMessage(r) : PQerrorMessage(d->wc));
		goto fail;
	}
	s->committed = col_u64(r, 0, 0);
	d->compacted = col_u64(r, 0, 1);
	s->compacted = d->compacted;
	PQclear(r);
	return 0;
fail:
	PQclear(r);
	pg_close(s);
	return -1;
}

const struct store_backend store_backend_postgres = {
	.name = "postgres",
	.open = pg_open,
	.start = pg_start,
	.close = pg_close,
	.write_batch = pg_write_batch,
	.get = pg_get,
	.list = pg_list,
	.events = pg_events,
	.publishes_on_commit = 0,
};
