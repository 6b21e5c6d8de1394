/* Objects: create/get/update/delete, optimistic concurrency, list, revisions. */
#include "helpers.h"

START_TEST(test_create_get)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	cJSON *o = make_obj("web", "default", "x");
	char *json = NULL, *got = NULL;
	uint64_t rv = 0, grv = 0;

	uint64_t base = mk_store_revision(s);
	ck_assert_int_eq(mk_store_create(s, "pods", "default", "web", o, &json, &rv, &err), 0);
	ck_assert_uint_eq(rv, R(1));
	ck_assert_str_eq(rv_of(o), rvstr(R(1)));
	ck_assert_uint_eq(mk_store_revision(s), R(1));

	cJSON *stored = cJSON_Parse(json);
	ck_assert_str_eq(rv_of(stored), rvstr(R(1)));
	ck_assert_str_eq(mk_json_get_string(stored, "metadata.name"), "web");
	ck_assert_str_eq(mk_json_get_string(stored, "extra"), "x");
	cJSON_Delete(stored);

	ck_assert_int_eq(mk_store_get(s, "pods", "default", "web", &got, &grv, &err), 0);
	ck_assert_str_eq(got, json);
	ck_assert_uint_eq(grv, R(1));
	free(got);

	/* other keys do not find it */
	ck_assert_int_eq(mk_store_get(s, "pods", "other", "web", &got, &grv, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	ck_assert_ptr_nonnull(strstr(err->msg, "pods/other/web"));
	mk_error_free(&err);
	ck_assert_int_eq(mk_store_get(s, "services", "default", "web", &got, &grv, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);

	free(json);
	cJSON_Delete(o);
	mk_store_free(s);
}
END_TEST

START_TEST(test_create_exists)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	cJSON *o = make_obj("web", "default", "second");
	uint64_t rv = 0;
	uint64_t base = mk_store_revision(s);

	must_create(s, "pods", "default", "web", "first");
	cJSON_AddStringToObject(cJSON_GetObjectItem(o, "metadata"), "resourceVersion", "77");
	ck_assert_int_eq(mk_store_create(s, "pods", "default", "web", o, NULL, &rv, &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	ck_assert_ptr_nonnull(strstr(err->msg, "already exists"));
	mk_error_free(&err);
	/* the caller's object is left as it was, the revision did not move */
	ck_assert_str_eq(rv_of(o), "77");
	ck_assert_uint_eq(mk_store_revision(s), R(1));

	/* the same name in another namespace or resource is a different object */
	ck_assert_uint_eq(must_create(s, "pods", "kube-system", "web", NULL), R(2));
	ck_assert_uint_eq(must_create(s, "services", "default", "web", NULL), R(3));

	char *got = NULL;
	ck_assert_int_eq(mk_store_get(s, "pods", "default", "web", &got, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(got, "\"first\""));
	free(got);
	cJSON_Delete(o);
	mk_store_free(s);
}
END_TEST

START_TEST(test_update_conflict)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	uint64_t base = mk_store_revision(s);
	uint64_t rv0 = must_create(s, "deployments", "default", "api", "v1");
	cJSON *o = make_obj("api", "default", "v2");
	char *json = NULL;
	uint64_t rv = 0;

	/* stale expectation */
	ck_assert_int_eq(mk_store_update(s, "deployments", "default", "api", rv0 + 5, o, &json,
					 &rv, &err),
			 -1);
	ck_assert_int_eq(err->code, ESTALE);
	mk_error_free(&err);
	ck_assert_ptr_null(rv_of(o)); /* restored: it had none */

	/* matching expectation */
	ck_assert_int_eq(mk_store_update(s, "deployments", "default", "api", rv0, o, &json, &rv,
					 &err),
			 0);
	ck_assert_uint_eq(rv, rv0 + 1);
	ck_assert_str_eq(rv_of(o), rvstr(R(2)));
	ck_assert_ptr_nonnull(strstr(json, rvfield(R(2))));
	ck_assert_ptr_nonnull(strstr(json, "\"v2\""));
	free(json);

	/* the old revision is now stale */
	ck_assert_int_eq(mk_store_update(s, "deployments", "default", "api", rv0, o, NULL, NULL,
					 &err),
			 -1);
	ck_assert_int_eq(err->code, ESTALE);
	mk_error_free(&err);

	/* expect_rv 0 is unconditional */
	ck_assert_int_eq(mk_store_update(s, "deployments", "default", "api", 0, o, NULL, &rv, &err),
			 0);
	ck_assert_uint_eq(rv, R(3));

	/* missing object */
	ck_assert_int_eq(mk_store_update(s, "deployments", "default", "nope", 0, o, NULL, NULL,
					 &err),
			 -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	ck_assert_uint_eq(mk_store_revision(s), R(3));

	uint64_t grv = 0;
	ck_assert_int_eq(mk_store_get(s, "deployments", "default", "api", NULL, &grv, &err), 0);
	ck_assert_uint_eq(grv, R(3));
	cJSON_Delete(o);
	mk_store_free(s);
}
END_TEST

START_TEST(test_delete)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	char *json = NULL;
	uint64_t rv = 0;

	uint64_t base = mk_store_revision(s);
	uint64_t rv0 = must_create(s, "pods", "default", "web", "last-state");
	must_create(s, "pods", "default", "other", NULL);

	ck_assert_int_eq(mk_store_delete(s, "pods", "default", "web", rv0 + 1, &json, &rv, &err),
			 -1);
	ck_assert_int_eq(err->code, ESTALE);
	mk_error_free(&err);

	ck_assert_int_eq(mk_store_delete(s, "pods", "default", "web", rv0, &json, &rv, &err), 0);
	ck_assert_uint_eq(rv, R(3));
	cJSON *d = cJSON_Parse(json);
	ck_assert_str_eq(rv_of(d), rvstr(R(3)));
	ck_assert_str_eq(mk_json_get_string(d, "extra"), "last-state");
	cJSON_Delete(d);
	free(json);

	ck_assert_int_eq(mk_store_get(s, "pods", "default", "web", &json, NULL, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	ck_assert_int_eq(mk_store_delete(s, "pods", "default", "web", 0, NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);

	/* the name can be reused */
	ck_assert_uint_eq(must_create(s, "pods", "default", "web", NULL), R(4));
	mk_store_free(s);
}
END_TEST

START_TEST(test_cluster_scoped)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	uint64_t rv = 0;

	must_create(s, "nodes", NULL, "n1", NULL);
	ck_assert_int_eq(mk_store_get(s, "nodes", "", "n1", NULL, &rv, &err), 0);
	ck_assert_int_eq(mk_store_get(s, "nodes", NULL, "n1", NULL, &rv, &err), 0);
	cJSON *o = make_obj("n1", NULL, NULL);
	ck_assert_int_eq(mk_store_create(s, "nodes", "", "n1", o, NULL, NULL, &err), -1);
	cJSON_Delete(o);
	ck_assert_int_eq(err->code, EEXIST);
	ck_assert_ptr_nonnull(strstr(err->msg, "'nodes/n1'"));
	mk_error_free(&err);
	mk_store_free(s);
}
END_TEST

static int keep_with_extra(const char *json, void *ud)
{
	int *calls = ud;
	(*calls)++;
	return strstr(json, "\"extra\":\"keep\"") != NULL;
}

static void list_names(struct mk_store_list *l, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		cJSON *o = cJSON_Parse(l->items[i]);
		const char *ns = mk_json_get_string(o, "metadata.namespace");
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s/%s", i ? "," : "", ns ? ns : "",
			 mk_json_get_string(o, "metadata.name"));
		cJSON_Delete(o);
	}
}

START_TEST(test_list_order_filter)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	struct mk_store_list l = { 0 };
	char names[512];
	int calls = 0;
	uint64_t base = mk_store_revision(s);

	must_create(s, "pods", "b", "z", "keep");
	must_create(s, "pods", "a", "y", NULL);
	must_create(s, "pods", "b", "a", NULL);
	must_create(s, "services", "a", "svc", NULL);
	must_create(s, "pods", "a", "b", "keep");
	must_create(s, "pods", "c", "m", "keep");
	must_create(s, "pods", "a", "a-1", NULL);

	ck_assert_int_eq(mk_store_list(s, "pods", NULL, NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 6);
	ck_assert_uint_eq(l.rv, R(7));
	list_names(&l, names, sizeof(names));
	ck_assert_str_eq(names, "a/a-1,a/b,a/y,b/a,b/z,c/m");
	mk_store_list_release(&l);

	ck_assert_int_eq(mk_store_list(s, "pods", "b", NULL, NULL, &l, &err), 0);
	list_names(&l, names, sizeof(names));
	ck_assert_str_eq(names, "b/a,b/z");
	mk_store_list_release(&l);

	ck_assert_int_eq(mk_store_list(s, "pods", NULL, keep_with_extra, &calls, &l, &err), 0);
	list_names(&l, names, sizeof(names));
	ck_assert_str_eq(names, "a/b,b/z,c/m");
	ck_assert_int_eq(calls, 6);
	mk_store_list_release(&l);

	ck_assert_int_eq(mk_store_list(s, "pods", "nowhere", NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(l.rv, R(7));
	mk_store_list_release(&l);

	/* the list revision is the store's revision even when the newest write was to
	 * another resource */
	must_create(s, "services", "a", "svc2", NULL);
	ck_assert_int_eq(mk_store_list(s, "pods", "a", NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(l.rv, R(8));
	mk_store_list_release(&l);
	mk_store_free(s);
}
END_TEST

/* items of a list as "NS/NAME@RV=EXTRA", comma-separated */
static void list_states(struct mk_store_list *l, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		cJSON *o = cJSON_Parse(l->items[i]);
		const char *ns = mk_json_get_string(o, "metadata.namespace");
		const char *extra = mk_json_get_string(o, "extra");
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s/%s@%s=%s", i ? "," : "", ns ? ns : "",
			 mk_json_get_string(o, "metadata.name"), rv_of(o), extra ? extra : "");
		cJSON_Delete(o);
	}
}

static int extra_is_v1(const char *json, void *ud)
{
	(void)ud;
	return strstr(json, "\"extra\":\"v1\"") != NULL;
}

/* a list at an older revision (resourceVersionMatch=Exact): the objects as they were */
START_TEST(test_list_at_revision)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	struct mk_store_list l = { 0 };
	char got[1024], want[1024];
	uint64_t base = mk_store_revision(s);

	must_create(s, "pods", "a", "x", "v1");	     /* R1 */
	must_create(s, "pods", "b", "y", "v1");	     /* R2 */
	must_create(s, "services", "a", "x", "svc"); /* R3 */
	cJSON *o = make_obj("x", "a", "v2");
	ck_assert_int_eq(mk_store_update(s, "pods", "a", "x", R(1), o, NULL, NULL, &err), 0); /* R4 */
	cJSON_Delete(o);
	ck_assert_int_eq(mk_store_delete(s, "pods", "b", "y", 0, NULL, NULL, &err), 0); /* R5 */
	must_create(s, "pods", "a", "w", "v1");			    /* R6 */

	struct {
		uint64_t rv;
		const char *ns;
		const char *want; /* #1..#6: R(1)..R(6) as decimals */
	} cases[] = {
		{ 1, NULL, "a/x@#1=v1" },
		{ 2, NULL, "a/x@#1=v1,b/y@#2=v1" },
		{ 3, NULL, "a/x@#1=v1,b/y@#2=v1" },
		{ 4, NULL, "a/x@#4=v2,b/y@#2=v1" },
		{ 5, NULL, "a/x@#4=v2" },
		{ 6, NULL, "a/w@#6=v1,a/x@#4=v2" },
		{ 3, "b", "b/y@#2=v1" },
		{ 5, "b", "" },
	};
	char r[7][24];
	for (int i = 1; i <= 6; i++)
		snprintf(r[i], sizeof(r[i]), "%llu", (unsigned long long)R(i));
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		ck_assert_msg(mk_store_list_at(s, "pods", cases[i].ns, R(cases[i].rv), NULL, NULL, &l,
					       &err) == 0,
			      "list at R(%llu): %s", (unsigned long long)cases[i].rv,
			      err ? err->msg : "?");
		ck_assert_uint_eq(l.rv, R(cases[i].rv));
		list_states(&l, got, sizeof(got));
		want[0] = '\0';
		for (const char *p = cases[i].want; *p; p++) {
			size_t len = strlen(want);
			if (p[0] == '#' && p[1] >= '1' && p[1] <= '6')
				snprintf(want + len, sizeof(want) - len, "%s", r[*++p - '0']);
			else
				snprintf(want + len, sizeof(want) - len, "%c", *p);
		}
		ck_assert_msg(!strcmp(got, want), "list at R(%llu) ns %s: got '%s', want '%s'",
			      (unsigned long long)cases[i].rv, cases[i].ns ? cases[i].ns : "*", got,
			      want);
		mk_store_list_release(&l);
		/* the same from a newest list the caller has read (paging's continue) */
		ck_assert_int_eq(mk_store_list(s, "pods", cases[i].ns, NULL, NULL, &l, &err), 0);
		ck_assert_int_eq(mk_store_list_at_from(s, "pods", cases[i].ns, R(cases[i].rv), &l,
						       &err), 0);
		list_states(&l, got, sizeof(got));
		ck_assert_msg(!strcmp(got, want), "list from newest at R(%llu): got '%s', want '%s'",
			      (unsigned long long)cases[i].rv, got, want);
		mk_store_list_release(&l);
	}
	/* the filter sees the old states */
	ck_assert_int_eq(mk_store_list_at(s, "pods", NULL, R(3), extra_is_v1, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 2);
	mk_store_list_release(&l);
	ck_assert_int_eq(mk_store_list_at(s, "pods", NULL, R(5), extra_is_v1, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 0);
	mk_store_list_release(&l);
	/* 0: the newest */
	ck_assert_int_eq(mk_store_list_at(s, "pods", NULL, 0, NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.rv, R(6));
	ck_assert_uint_eq(l.n, 2);
	mk_store_list_release(&l);
	/* the future */
	ck_assert_int_eq(mk_store_list_at(s, "pods", NULL, R(7), NULL, NULL, &l, &err), -1);
	ck_assert_int_eq(err->code, EOVERFLOW);
	mk_error_free(&err);
	mk_store_free(s);
}
END_TEST

/* with a 5-event window: too old is ERANGE (410 Gone) */
START_TEST(test_list_at_compacted)
{
	struct mk_store *s = store_open_at(":memory:", 5);
	struct mk_error *err = NULL;
	struct mk_store_list l = { 0 };
	uint64_t base = mk_store_revision(s);
	_cleanup_free_ char *etcd = etcd_endpoint_for(":memory:");

	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%02d", i);
		must_create(s, "pods", "default", name, "v1");
	}
	/* PostgreSQL's feed compacts after it publishes (asynchronously): bounded wait */
	int rc = 0;
	for (int i = 0; i < 100; i++) {
		rc = mk_store_list_at(s, "pods", NULL, R(2), NULL, NULL, &l, &err);
		if (rc < 0)
			break;
		mk_store_list_release(&l);
		usleep(50 * 1000);
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(err->code, ERANGE);
	ck_assert_ptr_nonnull(strstr(err->msg, "too old resource version"));
	mk_error_free(&err);
	/* inside the window: the objects created since are left out, the older ones
	 * (whose own events are compacted) are as they are now */
	ck_assert_int_eq(mk_store_list_at(s, "pods", NULL, R(17), NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 17);
	mk_store_list_release(&l);
	/* an object changed after the revision whose state then is compacted */
	cJSON *o = make_obj("p00", "default", "v2");
	ck_assert_int_eq(mk_store_update(s, "pods", "default", "p00", 0, o, NULL, NULL, &err), 0);
	cJSON_Delete(o);
	rc = mk_store_list_at(s, "pods", NULL, R(18), NULL, NULL, &l, &err);
	if (etcd) {
		/* etcd keeps every revision of the window, whatever the key */
		ck_assert_msg(rc == 0, "%s", err ? err->msg : "?");
		ck_assert_uint_eq(l.n, 18);
		cJSON *first = cJSON_Parse(l.items[0]);
		ck_assert_str_eq(rv_of(first), rvstr(R(1)));
		cJSON_Delete(first);
		mk_store_list_release(&l);
	} else if (rc == 0) {
		/* PostgreSQL rolls back through events read back with their previous
		 * state: p00 at R18 is its update's old object (created at R1) */
		ck_assert_uint_eq(l.n, 18);
		cJSON *first = cJSON_Parse(l.items[0]);
		ck_assert_str_eq(rv_of(first), rvstr(R(1)));
		cJSON_Delete(first);
		mk_store_list_release(&l);
	} else {
		/* SQLite's event log keeps no previous state: p00's state at R18 was
		 * its event R1, compacted */
		ck_assert_int_eq(err->code, ERANGE);
		mk_error_free(&err);
	}
	mk_store_free(s);
}
END_TEST

START_TEST(test_revision_survives_reopen)
{
	char *dir = tmpdir_new();
	char *path = mk_strdup_printf("%s/state.db", dir);
	struct mk_error *err = NULL;
	struct mk_store *s = store_open_at(path, 2);
	uint64_t base = mk_store_revision(s);

	for (int i = 0; i < 6; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i);
		must_create(s, "pods", "default", name, NULL);
	}
	/* the newest writes are deletions, and with a 2-event window the events of
	 * every create are compacted away */
	for (int i = 0; i < 6; i++) {
		char name[32];
		snprintf(name, sizeof(name), "p%d", i);
		ck_assert_int_eq(mk_store_delete(s, "pods", "default", name, 0, NULL, NULL, &err), 0);
	}
	ck_assert_uint_eq(mk_store_revision(s), R(12));
	mk_store_free(s);

	s = store_open_at(path, 2);
	ck_assert_uint_eq(mk_store_revision(s), R(12));
	struct mk_store_list l = { 0 };
	ck_assert_int_eq(mk_store_list(s, "pods", NULL, NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(l.rv, R(12));
	mk_store_list_release(&l);
	ck_assert_uint_eq(must_create(s, "pods", "default", "again", NULL), R(13));
	mk_store_free(s);

	s = store_open_at(path, 100);
	ck_assert_uint_eq(mk_store_revision(s), R(13));
	char *json = NULL;
	ck_assert_int_eq(mk_store_get(s, "pods", "default", "again", &json, NULL, &err), 0);
	ck_assert_ptr_nonnull(strstr(json, rvfield(R(13))));
	free(json);
	mk_store_free(s);
	free(path);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(test_memory_stores_independent)
{
	struct mk_store *a = store_open_at(":memory:", 0);
	struct mk_store *b = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	uint64_t base = mk_store_revision(b);

	must_create(a, "pods", "default", "only-in-a", NULL);
	ck_assert_int_eq(mk_store_get(b, "pods", "default", "only-in-a", NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	ck_assert_uint_eq(mk_store_revision(b), R(0));
	mk_store_free(a);
	mk_store_free(b);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct mk_error *err = NULL;
	cJSON *arr = cJSON_CreateArray();

	ck_assert_int_eq(mk_store_create(s, "pods", "default", "x", arr, NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	ck_assert_int_eq(mk_store_get(s, "pods", "default", "", NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	cJSON_Delete(arr);

	struct mk_store_options o = { .path = "/nonexistent-dir/x/state.db" };
	struct mk_store *bad = NULL;
	ck_assert_int_eq(mk_store_open(&o, &bad, &err), -1);
	ck_assert_int_eq(err->code, EIO);
	ck_assert_ptr_nonnull(strstr(err->msg, "/nonexistent-dir/x/state.db"));
	mk_error_free(&err);
	mk_store_free(s);
}
END_TEST

Suite *object_suite(void)
{
	Suite *su = suite_create("store-objects");
	TCase *tc = tcase_create("objects");
	tcase_add_test(tc, test_create_get);
	tcase_add_test(tc, test_create_exists);
	tcase_add_test(tc, test_update_conflict);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_cluster_scoped);
	tcase_add_test(tc, test_list_order_filter);
	tcase_add_test(tc, test_list_at_revision);
	tcase_add_test(tc, test_list_at_compacted);
	tcase_add_test(tc, test_revision_survives_reopen);
	tcase_add_test(tc, test_memory_stores_independent);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(su, tc);
	return su;
}
