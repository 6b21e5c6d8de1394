/* The store floor of bench/api: the same durable insert the API server makes for a
 * create — a row of the pod's JSON into an `objects`-shaped table and a row into an
 * `events`-shaped table, SQLite in WAL mode with synchronous=FULL — straight into
 * SQLite from one connection, for SECONDS seconds, BATCH inserts per commit (1: a
 * commit, so an fsync, per create; 16: what grouping the commits of 16 concurrent
 * clients can reach at best). Prints "RESULT inserts=N seconds=S per_s=R".
 *
 * Usage: floor_sqlite DB POD-JSON-FILE SECONDS BATCH */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void must(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "floor_sqlite: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: floor_sqlite DB POD-JSON-FILE SECONDS BATCH\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "re");
	if (!f)
		return 1;
	char pod[65536];
	size_t plen = fread(pod, 1, sizeof(pod) - 1, f);
	pod[plen] = '\0';
	fclose(f);
	double secs = atof(argv[3]);
	int batch = atoi(argv[4]) > 0 ? atoi(argv[4]) : 1;
	sqlite3 *db;
	must(NULL, sqlite3_open(argv[1], &db), "open");
	must(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			      "CREATE TABLE IF NOT EXISTS objects (resource TEXT NOT NULL, ns TEXT NOT NULL,"
			      " name TEXT NOT NULL, rv INTEGER NOT NULL, data TEXT NOT NULL,"
			      " PRIMARY KEY (resource, ns, name)) WITHOUT ROWID;"
			      "CREATE TABLE IF NOT EXISTS events (rv INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
			      " resource TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL);",
			      NULL, NULL, NULL), "schema");
	sqlite3_stmt *obj, *ev;
	must(db, sqlite3_prepare_v2(db, "INSERT INTO objects VALUES ('pods', 'bench', ?1, ?2, ?3)", -1, &obj, NULL), "prepare");
	must(db, sqlite3_prepare_v2(db, "INSERT INTO events VALUES (?2, 1, 'pods', 'bench', ?1, ?3)", -1, &ev, NULL), "prepare");
	long n = 0;
	double t0 = now(), t;
	do {
		must(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
		for (int i = 0; i < batch; i++, n++) {
			char name[32];
			snprintf(name, sizeof(name), "floor-%ld", n);
			sqlite3_stmt *st[] = { obj, ev };
			for (int k = 0; k < 2; k++) {
				sqlite3_bind_text(st[k], 1, name, -1, SQLITE_STATIC);
				sqlite3_bind_int64(st[k], 2, n + 1);
				sqlite3_bind_text(st[k], 3, pod, (int)plen, SQLITE_STATIC);
				must(db, sqlite3_step(st[k]), "insert");
				sqlite3_reset(st[k]);
			}
		}
		must(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
		t = now();
	} while (t - t0 < secs);
	printf("RESULT inserts=%ld seconds=%.3f per_s=%.0f\n", n, t - t0, n / (t - t0));
	sqlite3_finalize(obj);
	sqlite3_finalize(ev);
	sqlite3_close(db);
	return 0;
}
