/* Snapshots of the SQLite store: an online copy with SQLite's backup API, and a
 * restore that keeps revisions moving forward (see store.h).
 *
 * The backup copies the whole database in one sqlite3_backup_step(-1), which holds
 * one read transaction on the source for its duration: in WAL mode the server's
 * writer goes on committing meanwhile, and the copy is the database as of one
 * commit (a consistent cut: objects, events and the revision agree). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "minik8s/store.h"

static int db_error(struct mk_error **err, sqlite3 *db, const char *what, const char *path)
{
	return mk_error_set(err, EIO, "%s '%s': %s", what, path,
			    db ? sqlite3_errmsg(db) : "out of memory");
}

static int db_open(const char *path, int flags, sqlite3 **ret, struct mk_error **err)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		db_error(err, db, "open", path);
		sqlite3_close(db);
		return -1;
	}
	/* a running server's commits hold the write lock only briefly */
	sqlite3_busy_timeout(db, 10000);
	*ret = db;
	return 0;
}

static int db_exec(sqlite3 *db, const char *sql, const char *path, struct mk_error **err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		mk_error_set(err, EIO, "'%s': %.40s: %s", path, sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* the revision as the SQLite backend computes it at open (sqlite.c): the meta row,
 * or the newest event if that is newer; and the objects */
static int db_describe(sqlite3 *db, const char *path, bool check,
		       struct mk_store_snapshot_info *ret, struct mk_error **err)
{
	sqlite3_stmt *st = NULL;
	if (check) {
		if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW) {
			mk_error_set(err, EINVAL, "'%s' is not a SQLite database: %s", path,
				     sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		const char *ok = (const char *)sqlite3_column_text(st, 0);
		if (!ok || strcmp(ok, "ok") != 0) {
			mk_error_set(err, EINVAL, "'%s' is damaged: %s", path, ok ? ok : "?");
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT (SELECT value FROM meta WHERE key='revision'),"
			       " (SELECT coalesce(max(rv), 0) FROM events),"
			       " (SELECT count(*) FROM objects),"
			       " (SELECT value FROM meta WHERE key='schema')",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		mk_error_set(err, EINVAL, "'%s' is not a minik8s store: %s", path,
			     sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	if (sqlite3_column_type(st, 0) == SQLITE_NULL || sqlite3_column_int64(st, 3) != 1) {
		sqlite3_finalize(st);
		return mk_error_set(err, EINVAL, "'%s' is not a minik8s store (no revision or "
					 "an unknown schema)", path);
	}
	uint64_t meta_rev = (uint64_t)sqlite3_column_int64(st, 0);
	uint64_t max_ev = (uint64_t)sqlite3_column_int64(st, 1);
	ret->revision = meta_rev > max_ev ? meta_rev : max_ev;
	ret->objects = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	return 0;
}

static int file_size(const char *path, uint64_t *ret, struct mk_error **err)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return mk_error_errno(err, errno, "stat '%s'", path);
	*ret = (uint64_t)sb.st_size;
	return 0;
}

int mk_store_snapshot_inspect(const char *path, struct mk_store_snapshot_info *ret,
			      struct mk_error **err)
{
	struct mk_store_snapshot_info info = { 0 };
	sqlite3 *db = NULL;
	struct stat sb;

	if (stat(path, &sb) < 0)
		return mk_error_errno(err, errno, "'%s'", path);
	if (!S_ISREG(sb.st_mode))
		return mk_error_set(err, EINVAL, "'%s' is not a regular file", path);
	/* read-write without create: a store in WAL mode cannot always be opened
	 * read-only (its -shm), and nothing is written here */
	if (db_open(path, SQLITE_OPEN_READWRITE, &db, err) < 0)
		return -1;
	int r = db_describe(db, path, true, &info, err);
	sqlite3_close(db);
	if (r < 0 || file_size(path, &info.size, err) < 0)
		return -1;
	*ret = info;
	return 0;
}

static int fsync_path(const char *path, bool dir, struct mk_error **err)
{
	_cleanup_close_ int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return mk_error_errno(err, errno, "fsync '%s'", path);
	return 0;
}

static int fsync_parent(const char *path, struct mk_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		abort();
	return fsync_path(dirname(copy), true, err);
}

/* copies src (open) into the new file tmp (0600), as a single file (journal mode
 * DELETE), and leaves it closed */
static int backup_into(sqlite3 *src, const char *src_path, const char *tmp,
		       struct mk_error **err)
{
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
				      0600);
	if (fd < 0)
		return mk_error_errno(err, errno, "create '%s'", tmp);
	sqlite3 *dst = NULL;
	if (db_open(tmp, SQLITE_OPEN_READWRITE, &dst, err) < 0)
		return -1;
	int r = -1;
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		db_error(err, dst, "backup into", tmp);
		goto out;
	}
	int rc;
	/* all pages in one step, one read transaction; retried while the source is
	 * briefly locked (a checkpoint) */
	for (int tries = 0; (rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
			    rc == SQLITE_LOCKED;
	     tries++) {
		if (tries >= 100)
			break;
		sqlite3_sleep(100);
	}
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		mk_error_set(err, EIO, "backup of '%s': %s", src_path,
			     rc == SQLITE_DONE ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		goto out;
	}
	if (db_exec(dst, "PRAGMA journal_mode=DELETE", tmp, err) < 0)
		goto out;
	r = 0;
out:
	if (sqlite3_close(dst) != SQLITE_OK && r == 0)
		r = db_error(err, dst, "close", tmp);
	return r;
}

int mk_store_snapshot_save(const char *db, const char *path, struct mk_store_snapshot_info *ret,
			   struct mk_error **err)
{
	struct mk_store_snapshot_info info = { 0 };
	struct stat sb;
	sqlite3 *src = NULL;

	if (stat(db, &sb) < 0)
		return mk_error_errno(err, errno, "datastore '%s'", db);
	if (lstat(path, &sb) == 0)
		return mk_error_set(err, EEXIST, "snapshot '%s' already exists", path);
	_cleanup_free_ char *tmp = mk_strdup_printf("%s.part", path);
	unlink(tmp);
	if (db_open(db, SQLITE_OPEN_READWRITE, &src, err) < 0)
		return -1;
	int r = db_describe(src, db, false, &info, err);
	if (r == 0)
		r = backup_into(src, db, tmp, err);
	sqlite3_close(src);
	sqlite3 *copy = NULL;
	/* what the copy holds (its own revision: the source moved on meanwhile) */
	if (r == 0 && db_open(tmp, SQLITE_OPEN_READWRITE, &copy, err) == 0) {
		r = db_describe(copy, tmp, true, &info, err);
		sqlite3_close(copy);
	} else if (r == 0) {
		r = -1;
	}
	if (r == 0 && (fsync_path(tmp, false, err) < 0 || file_size(tmp, &info.size, err) < 0))
		r = -1;
	if (r == 0 && rename(tmp, path) < 0)
		r = mk_error_errno(err, errno, "rename '%s'", tmp);
	if (r < 0) {
		unlink(tmp);
		return -1;
	}
	if (fsync_parent(path, err) < 0)
		return -1;
	*ret = info;
	return 0;
}

int mk_store_snapshot_restore(const char *path, const char *db, struct mk_store_snapshot_info *ret,
			      struct mk_error **err)
{
	struct mk_store_snapshot_info snap = { 0 }, cur = { 0 };
	struct stat sb;

	if (mk_store_snapshot_inspect(path, &snap, err) < 0)
		return -1;
	/* the revision the data dir's store reached: the restored one continues past it */
	if (stat(db, &sb) == 0) {
		sqlite3 *old = NULL;
		if (db_open(db, SQLITE_OPEN_READWRITE, &old, err) < 0)
			return -1;
		int r = db_describe(old, db, false, &cur, err);
		sqlite3_close(old);
		if (r < 0)
			return mk_error_wrap(err, "the current datastore (move it away to restore "
						  "into an empty one)");
	} else if (errno != ENOENT) {
		return mk_error_errno(err, errno, "stat '%s'", db);
	}
	uint64_t rev = snap.revision > cur.revision ? snap.revision : cur.revision;

	_cleanup_free_ char *tmp = mk_strdup_printf("%s.restore", db);
	unlink(tmp);
	sqlite3 *src = NULL, *t = NULL;
	if (db_open(path, SQLITE_OPEN_READONLY, &src, err) < 0)
		return -1;
	int r = backup_into(src, path, tmp, err);
	sqlite3_close(src);
	if (r == 0 && db_open(tmp, SQLITE_OPEN_READWRITE, &t, err) == 0) {
		char sql[160];
		snprintf(sql, sizeof(sql),
			 "BEGIN; UPDATE meta SET value=%llu WHERE key='revision';"
			 " DELETE FROM events; COMMIT;",
			 (unsigned long long)rev);
		r = db_exec(t, sql, tmp, err);
		if (r == 0)
			r = db_describe(t, tmp, false, &snap, err);
		sqlite3_close(t);
	} else if (r == 0) {
		r = -1;
	}
	if (r == 0 && (fsync_path(tmp, false, err) < 0 || file_size(tmp, &snap.size, err) < 0))
		r = -1;
	if (r < 0) {
		unlink(tmp);
		return -1;
	}
	/* the old store's WAL and index belong to the old file: gone before the new
	 * file takes its name, or SQLite would replay them into it */
	const char *sfx[] = { "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(sfx); i++) {
		_cleanup_free_ char *p = mk_strdup_printf("%s%s", db, sfx[i]);
		if (unlink(p) < 0 && errno != ENOENT) {
			mk_error_errno(err, errno, "remove '%s'", p);
			unlink(tmp);
			return -1;
		}
	}
	if (rename(tmp, db) < 0) {
		mk_error_errno(err, errno, "rename '%s'", tmp);
		unlink(tmp);
		return -1;
	}
	if (fsync_parent(db, err) < 0)
		return -1;
	*ret = snap;
	return 0;
}
