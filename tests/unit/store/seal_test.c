/* Encryption at rest: rows of the resources named in the options are sealed in both
 * tables (the database file holds no plaintext), reads, lists and watches (live and
 * replayed from the table after a reopen) see plain JSON, rows written before
 * encryption read and are sealed on their next write, a store without the key
 * refuses to read sealed rows, a moved row does not open, and the key file. */
#include <sqlite3.h>
#include <sys/stat.h>
#include "helpers.h"

static const char *const secrets_only[] = { "secrets", NULL };
#define PLAIN "hunter2-plaintext-marker"

static struct mk_store *open_keyed(const char *path, const unsigned char *key,
				   const char *const *encrypt)
{
	struct mk_store_options o = { .path = path, .key = key, .encrypt = encrypt };
	struct mk_store *s = NULL;
	struct mk_error *err = NULL;
	int r = mk_store_open(&o, &s, &err);
	ck_assert_msg(r == 0, "open %s: %s", path, err ? err->msg : "?");
	return s;
}

/* Concatenated data column of every row of table for resource (SQL read, no store). */
static char *raw_rows(const char *path, const char *table, const char *resource)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct mk_buf b;
	_cleanup_free_ char *sql = mk_strdup_printf("SELECT data FROM %s WHERE resource=?1", table);
	mk_buf_init(&b);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		mk_buf_printf(&b, "%s\n", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	mk_buf_puts(&b, "");
	return mk_buf_steal(&b);
}

/* true if the file (database, WAL) contains needle */
static bool file_has(const char *path, const char *needle)
{
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	if (mk_fs_read_file(path, &data, &n, NULL) < 0)
		return false;
	return memmem(data, n, needle, strlen(needle)) != NULL;
}

START_TEST(test_sealed_rows_plain_reads)
{
	char *dir = tmpdir_new();
	_cleanup_free_ char *path = mk_strdup_printf("%s/state.db", dir);
	_cleanup_free_ char *wal = mk_strdup_printf("%s-wal", path);
	unsigned char key[MK_STORE_KEY_LEN];
	memset(key, 7, sizeof(key));
	struct mk_error *err = NULL;
	char *json = NULL;

	/* a secret written before encryption was on */
	struct mk_store *s = store_open_sqlite(path, 0);
	must_create(s, "secrets", "default", "old", PLAIN "-old");
	mk_store_free(s);
	_cleanup_free_ char *raw0 = raw_rows(path, "objects", "secrets");
	ck_assert_ptr_nonnull(strstr(raw0, PLAIN "-old"));

	s = open_keyed(path, key, secrets_only);
	struct mk_store_watch *w = NULL;
	ck_assert_int_eq(mk_store_watch_new(s, "secrets", NULL, mk_store_revision(s), &w, &err), 0);
	/* the old row reads as it is */
	ck_assert_int_eq(mk_store_get(s, "secrets", "default", "old", &json, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(json, PLAIN "-old"));
	free(json);
	/* new secrets and the old one on its next write are sealed; pods are not */
	must_create(s, "secrets", "default", "new", PLAIN "-new");
	must_create(s, "pods", "default", "p", "pod-visible");
	cJSON *o = make_obj("old", "default", PLAIN "-old2");
	ck_assert_int_eq(mk_store_update(s, "secrets", "default", "old", 0, o, NULL, NULL, &err), 0);
	cJSON_Delete(o);

	/* the live watch sees plain objects, the MODIFIED one with its plain old state */
	struct mk_store_event *ev = NULL;
	ck_assert_int_eq(mk_store_watch_next(w, 5000, &ev, &err), 1);
	ck_assert_ptr_nonnull(strstr(ev->json, PLAIN "-new"));
	mk_store_event_unref(ev);
	ck_assert_int_eq(mk_store_watch_next(w, 5000, &ev, &err), 1);
	ck_assert_int_eq(ev->type, MK_STORE_MODIFIED);
	ck_assert_ptr_nonnull(strstr(ev->json, PLAIN "-old2"));
	ck_assert_ptr_nonnull(strstr(ev->old_json, PLAIN "-old"));
	mk_store_event_unref(ev);
	mk_store_watch_free(w);

	/* get and list decrypt; a list filter sees plain JSON */
	ck_assert_int_eq(mk_store_get(s, "secrets", "default", "new", &json, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(json, PLAIN "-new"));
	free(json);
	struct mk_store_list l = { 0 };
	ck_assert_int_eq(mk_store_list(s, "secrets", NULL, NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_ptr_nonnull(strstr(l.items[0], PLAIN "-new"));
	ck_assert_ptr_nonnull(strstr(l.items[1], PLAIN "-old2"));
	mk_store_list_release(&l);
	ck_assert_int_eq(mk_store_delete(s, "secrets", "default", "new", 0, &json, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(json, PLAIN "-new"));
	free(json);
	mk_store_free(s);

	/* on disk: every secret row sealed (objects and events but the one of the
	 * create before encryption), pods in the clear */
	_cleanup_free_ char *objs = raw_rows(path, "objects", "secrets");
	ck_assert_ptr_null(strstr(objs, PLAIN));
	ck_assert_ptr_nonnull(strstr(objs, "k8s:enc:aesgcm:v1:key1:"));
	_cleanup_free_ char *evs = raw_rows(path, "events", "secrets");
	ck_assert_ptr_null(strstr(evs, PLAIN "-new"));
	ck_assert_ptr_null(strstr(evs, PLAIN "-old2"));
	_cleanup_free_ char *pods = raw_rows(path, "objects", "pods");
	ck_assert_ptr_nonnull(strstr(pods, "pod-visible"));
	ck_assert(!file_has(wal, PLAIN "-new") && !file_has(path, PLAIN "-new"));

	/* reopened with the key: events replayed from the table are plain */
	s = open_keyed(path, key, secrets_only);
	ck_assert_int_eq(mk_store_watch_new(s, "secrets", NULL, 1, &w, &err), 0);
	int seen_new = 0;
	while (mk_store_watch_next(w, 200, &ev, &err) == 1) {
		ck_assert_ptr_null(strstr(ev->json, "k8s:enc:"));
		seen_new += strstr(ev->json, PLAIN "-new") != NULL;
		mk_store_event_unref(ev);
	}
	ck_assert_int_eq(seen_new, 2); /* ADDED and DELETED */
	mk_store_watch_free(w);
	mk_store_free(s);

	/* without the key: sealed rows do not read, and the store does not open (its
	 * event ring holds sealed events) */
	struct mk_store_options o2 = { .path = path };
	s = NULL;
	ck_assert_int_eq(mk_store_open(&o2, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "no key"));
	mk_error_free(&err);
	/* with a wrong key neither */
	unsigned char bad[MK_STORE_KEY_LEN];
	memset(bad, 8, sizeof(bad));
	struct mk_store_options o3 = { .path = path, .key = bad };
	ck_assert_int_eq(mk_store_open(&o3, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "cannot decrypt"));
	mk_error_free(&err);

	/* the key without the list: reads still open, writes go in the clear */
	s = open_keyed(path, key, NULL);
	o = make_obj("old", "default", PLAIN "-old3");
	ck_assert_int_eq(mk_store_update(s, "secrets", "default", "old", 0, o, NULL, NULL, &err), 0);
	cJSON_Delete(o);
	mk_store_free(s);
	_cleanup_free_ char *objs2 = raw_rows(path, "objects", "secrets");
	ck_assert_ptr_nonnull(strstr(objs2, PLAIN "-old3"));
	tmpdir_remove(dir);
}
END_TEST

/* A sealed value copied onto another object's row does not open (the additional
 * data names the object). */
START_TEST(test_moved_row_refused)
{
	char *dir = tmpdir_new();
	_cleanup_free_ char *path = mk_strdup_printf("%s/state.db", dir);
	unsigned char key[MK_STORE_KEY_LEN];
	memset(key, 3, sizeof(key));
	struct mk_error *err = NULL;
	char *json = NULL;

	struct mk_store *s = open_keyed(path, key, secrets_only);
	must_create(s, "secrets", "default", "a", "value-a");
	must_create(s, "secrets", "default", "b", "value-b");
	mk_store_free(s);

	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "UPDATE objects SET data=(SELECT data FROM objects WHERE name='a')"
				      " WHERE name='b'; DELETE FROM events;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	s = open_keyed(path, key, secrets_only);
	ck_assert_int_eq(mk_store_get(s, "secrets", "default", "a", &json, NULL, &err), 0);
	free(json);
	ck_assert_int_eq(mk_store_get(s, "secrets", "default", "b", &json, NULL, &err), -1);
	ck_assert_int_eq(err->code, EIO);
	mk_error_free(&err);
	struct mk_store_list l = { 0 };
	ck_assert_int_eq(mk_store_list(s, "secrets", "default", NULL, NULL, &l, &err), -1);
	mk_error_free(&err);
	mk_store_free(s);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(test_key_file)
{
	char *dir = tmpdir_new();
	_cleanup_free_ char *path = mk_strdup_printf("%s/k.key", dir);
	unsigned char k1[MK_STORE_KEY_LEN], k2[MK_STORE_KEY_LEN];
	bool found = true;
	struct mk_error *err = NULL;
	struct stat st;

	ck_assert_int_eq(mk_store_key_load(path, false, k1, &found, &err), 0);
	ck_assert(!found);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(mk_store_key_load(path, true, k1, &found, &err), 0);
	ck_assert(found);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(mk_store_key_load(path, true, k2, &found, &err), 0);
	ck_assert(found && memcmp(k1, k2, sizeof(k1)) == 0);
	/* two keys made are not the same */
	_cleanup_free_ char *p2 = mk_strdup_printf("%s/k2.key", dir);
	ck_assert_int_eq(mk_store_key_load(p2, true, k2, &found, &err), 0);
	ck_assert(memcmp(k1, k2, sizeof(k1)) != 0);
	/* a damaged file is refused */
	ck_assert_int_eq(mk_fs_write_file(p2, "c2hvcnQ=\n", 9, 0600, &err), 0);
	ck_assert_int_eq(mk_store_key_load(p2, true, k2, &found, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	tmpdir_remove(dir);
}
END_TEST

Suite *seal_suite(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("seal");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sealed_rows_plain_reads);
	tcase_add_test(tc, test_moved_row_refused);
	tcase_add_test(tc, test_key_file);
	suite_add_tcase(s, tc);
	return s;
}
