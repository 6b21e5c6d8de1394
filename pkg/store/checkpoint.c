/* WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside
 * the COMMIT that crosses the threshold, so one unlucky writer pays for copying
 * the whole WAL back into the database (the API benchmark's p99 spikes). Here the
 * writer connection has wal_autocheckpoint off, a WAL hook counts pages, and a
 * thread with its own connection runs PASSIVE checkpoints, which never block the
 * writer or the readers. The WAL restarts from the beginning once a checkpoint
 * has copied everything and no reader needs the old frames. */
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include "internal.h"

#define CHECKPOINT_PAGES 1000 /* ~4 MiB of WAL, SQLite's default threshold */

static int wal_hook(void *userdata, sqlite3 *db, const char *name, int pages)
{
	struct mk_store *s = userdata;
	if (pages >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&s->ckpt_lock);
		s->ckpt_wanted = 1;
		pthread_cond_signal(&s->ckpt_cond);
		pthread_mutex_unlock(&s->ckpt_lock);
	}
	return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
	struct mk_store *s = arg;

	pthread_mutex_lock(&s->ckpt_lock);
	while (!s->ckpt_stop) {
		if (!s->ckpt_wanted) {
			pthread_cond_wait(&s->ckpt_cond, &s->ckpt_lock);
			continue;
		}
		s->ckpt_wanted = 0;
		pthread_mutex_unlock(&s->ckpt_lock);
		int logged = 0, done = 0;
		sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &logged, &done);
		pthread_mutex_lock(&s->ckpt_lock);
	}
	pthread_mutex_unlock(&s->ckpt_lock);
	return NULL;
}

int store_checkpointer_start(struct mk_store *s, struct mk_error **err)
{
	pthread_mutex_init(&s->ckpt_lock, NULL);
	pthread_cond_init(&s->ckpt_cond, NULL);
	if (sqlite3_open_v2(s->path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return store_sqlite_error(err, s->ckpt_db, "open checkpoint connection");
	sqlite3_busy_timeout(s->ckpt_db, 1000);
	if (sqlite3_exec(s->wdb, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlite_error(err, s->wdb, "disable automatic checkpoints");
	sqlite3_wal_hook(s->wdb, wal_hook, s);
	int r = pthread_create(&s->ckpt_thread, NULL, checkpointer_main, s);
	if (r)
		return mk_error_errno(err, r, "store: start checkpoint thread");
	s->ckpt_started = 1;
	return 0;
}

void store_checkpointer_stop(struct mk_store *s)
{
	if (s->ckpt_started) {
		pthread_mutex_lock(&s->ckpt_lock);
		s->ckpt_stop = 1;
		pthread_cond_signal(&s->ckpt_cond);
		pthread_mutex_unlock(&s->ckpt_lock);
		pthread_join(s->ckpt_thread, NULL);
		s->ckpt_started = 0;
	}
	if (s->ckpt_db) {
		sqlite3_close(s->ckpt_db);
		s->ckpt_db = NULL;
	}
}
