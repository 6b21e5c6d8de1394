/* WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside
 * the COMMIT that crosses the threshold, so one unlucky writer pays for copying
 * the whole WAL back into the database (the API benchmark's p99 spikes). Here the
 * writer connection has wal_autocheckpoint off, a WAL hook counts pages, and a
 * thread with its own connection runs PASSIVE checkpoints, which never block the
 * writer or the readers. The WAL restarts from the beginning once a checkpoint has
 * copied everything and no reader needs the old frames; when it runs long
 * (CATCHUP_PAGES), the writer itself copies the rest between two commits. */
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include "sqlite.h"

#define CHECKPOINT_PAGES 1000 /* ~4 MiB of WAL, SQLite's default threshold */
/* A writer that never pauses keeps the background's PASSIVE checkpoints from ever
 * reaching the end of the WAL (frames arrive while they copy), and the WAL
 * restarts only after one has: under a steady stream of commits it grew without
 * bound (184 MB beside a 51 MB database in the store's unit test on a loaded
 * machine). Past this many pages the committer runs a PASSIVE checkpoint itself,
 * from the WAL hook after its commit: nothing is appended while it copies, so it
 * reaches the end (the background has copied most of it already) and the next
 * commit starts the WAL from its beginning; journal_size_limit then gives the
 * file back. (A RESTART checkpoint from the background thread did the same by
 * holding the writer while it waited, in the busy handler's sleeps of up to
 * 100 ms, for every reader to finish: the create benchmark's p99 went from
 * 19-24 ms to 29-93 ms.) */
#define CATCHUP_PAGES (8 * CHECKPOINT_PAGES)
/* Writers faster than the disk takes the checkpoints' copies: the background's
 * checkpoint, busy copying, keeps the writer's catch-up out while the WAL grows
 * (to 150 MB in the store's unit test, eight writers that never pause). Past this
 * many pages the writer waits for it, then catches up: the writers go at the
 * checkpoints' pace, and the WAL stays under ~64 MiB. */
#define LIMIT_PAGES (2 * CATCHUP_PAGES)
#define WAL_SIZE_LIMIT "33554432" /* bytes the WAL file keeps after a restart */

static int wal_hook(void *userdata, sqlite3 *db, const char *name, int pages)
{
	struct store_sqlite *d = userdata;
	if (pages >= CATCHUP_PAGES) {
		/* busy (the background is copying) or short of the end (a reader holds
		 * old frames): the next commit tries again, or past LIMIT_PAGES waits */
		int logged = 0, done = 0;
		int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &logged, &done);
		if (rc == SQLITE_BUSY && pages >= LIMIT_PAGES) {
			pthread_mutex_lock(&d->ckpt_lock);
			while (d->ckpt_running)
				pthread_cond_wait(&d->ckpt_idle, &d->ckpt_lock);
			pthread_mutex_unlock(&d->ckpt_lock);
			sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &logged, &done);
		}
	} else if (pages >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&d->ckpt_lock);
		d->ckpt_wanted = 1;
		pthread_cond_signal(&d->ckpt_cond);
		pthread_mutex_unlock(&d->ckpt_lock);
	}
	return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
	struct store_sqlite *d = arg;

	pthread_mutex_lock(&d->ckpt_lock);
	while (!d->ckpt_stop) {
		if (!d->ckpt_wanted) {
			pthread_cond_wait(&d->ckpt_cond, &d->ckpt_lock);
			continue;
		}
		d->ckpt_wanted = 0;
		d->ckpt_running = 1;
		pthread_mutex_unlock(&d->ckpt_lock);
		sqlite3_wal_checkpoint_v2(d->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&d->ckpt_lock);
		d->ckpt_running = 0;
		pthread_cond_broadcast(&d->ckpt_idle);
	}
	pthread_mutex_unlock(&d->ckpt_lock);
	return NULL;
}

int store_checkpointer_start(struct store_sqlite *d, struct mk_error **err)
{
	pthread_mutex_init(&d->ckpt_lock, NULL);
	pthread_cond_init(&d->ckpt_cond, NULL);
	pthread_cond_init(&d->ckpt_idle, NULL);
	if (sqlite3_open_v2(d->path, &d->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return store_sqlite_error(err, d->ckpt_db, "open checkpoint connection");
	sqlite3_busy_timeout(d->ckpt_db, 1000);
	/* A connection that has not read the database yet does not know it is in WAL
	 * mode: sqlite3_wal_checkpoint_v2 on it returns SQLITE_OK having done nothing
	 * (-1 frames), so the WAL grew without end (633 MB beside a 4 KB database in
	 * bench/scale; every read walked its index, sqlite3WalFindFrame 13 % of the
	 * server at 1,000 nodes). Reading the journal mode opens it in WAL mode. */
	if (sqlite3_exec(d->ckpt_db, "PRAGMA journal_mode", NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlite_error(err, d->ckpt_db, "checkpoint connection: read the journal mode");
	if (sqlite3_exec(d->wdb, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlite_error(err, d->wdb, "disable automatic checkpoints");
	if (sqlite3_exec(d->wdb, "PRAGMA journal_size_limit=" WAL_SIZE_LIMIT, NULL, NULL, NULL) !=
	    SQLITE_OK)
		return store_sqlite_error(err, d->wdb, "limit the WAL file's size");
	sqlite3_wal_hook(d->wdb, wal_hook, d);
	int r = pthread_create(&d->ckpt_thread, NULL, checkpointer_main, d);
	if (r)
		return mk_error_errno(err, r, "store: start checkpoint thread");
	d->ckpt_started = 1;
	return 0;
}

void store_checkpointer_stop(struct store_sqlite *d)
{
	if (d->ckpt_started) {
		pthread_mutex_lock(&d->ckpt_lock);
		d->ckpt_stop = 1;
		pthread_cond_signal(&d->ckpt_cond);
		pthread_mutex_unlock(&d->ckpt_lock);
		pthread_join(d->ckpt_thread, NULL);
		d->ckpt_started = 0;
	}
	if (d->ckpt_db) {
		sqlite3_close(d->ckpt_db);
		d->ckpt_db = NULL;
	}
}
