/* Private state of the SQLite backend (sqlite.c, checkpoint.c). */
#ifndef MINIK8S_STORE_SQLITE_H
#define MINIK8S_STORE_SQLITE_H

#include <sqlite3.h>
#include "internal.h"

#define MK_STORE_POOL_MAX 32 /* idle read connections kept open */

struct store_rconn {
	sqlite3 *db;
	sqlite3_stmt *get, *list_ns, *list_all, *rev, *events, *begin, *end;
};

struct store_sqlite {
	char *path;
	char *tmp_dir; /* ":memory:" stores live in a private temp dir */

	/* the committer's connection (only its thread touches wdb and the statements) */
	sqlite3 *wdb;
	sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_savepoint, *st_release,
		*st_rollback_to, *st_get, *st_insert, *st_update, *st_delete, *st_event,
		*st_meta, *st_compact;

	/* background WAL checkpoints (checkpoint.c) */
	sqlite3 *ckpt_db;
	pthread_t ckpt_thread;
	int ckpt_started, ckpt_wanted, ckpt_stop;
	int ckpt_running; /* the thread is copying (the writer may wait: ckpt_idle) */
	pthread_mutex_t ckpt_lock;
	pthread_cond_t ckpt_cond, ckpt_idle;

	/* read connections; pool_lock guards them */
	pthread_mutex_t pool_lock;
	struct store_rconn *pool[MK_STORE_POOL_MAX];
	size_t npool;
	int pool_closed;
};

int store_sqlite_error(struct mk_error **err, sqlite3 *db, const char *what);

/* checkpoint.c: start after the writer connection is set up; stop before it closes */
int store_checkpointer_start(struct store_sqlite *d, struct mk_error **err);
void store_checkpointer_stop(struct store_sqlite *d);

#endif
