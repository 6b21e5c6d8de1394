/* Helpers shared by the store tests. */
#ifndef MK_TEST_STORE_HELPERS_H
#define MK_TEST_STORE_HELPERS_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "minik8s/store.h"
#include "etcd_endpoint.h"

/* MINIK8S_TEST_STORE_ENDPOINT=postgres://...: the suites run on that database
 * (tests/e2e/store_postgres.sh starts one). Every store of a test gets a schema of
 * its own: ":memory:" a fresh one, a file path one named after the path (a reopen
 * finds its data again). */
static inline const char *test_endpoint(void)
{
	const char *e = getenv("MINIK8S_TEST_STORE_ENDPOINT");
	return e && *e ? e : NULL;
}

static inline char *pg_endpoint_for(const char *path)
{
	static unsigned counter;
	const char *base = test_endpoint();
	char schema[64];
	if (strcmp(path, ":memory:") == 0) {
		snprintf(schema, sizeof(schema), "t_%d_%u_%u", (int)getpid(), counter++,
			 (unsigned)random());
	} else {
		uint32_t h = 2166136261u;
		for (const char *c = path; *c; c++)
			h = (h ^ (unsigned char)*c) * 16777619u;
		snprintf(schema, sizeof(schema), "p_%08x", h);
	}
	PGconn *c = PQconnectdb(base);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect %s: %s", base, PQerrorMessage(c));
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", schema);
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return mk_strdup_printf("%s%soptions=-csearch_path%%3D%s", base,
				strchr(base, '?') ? "&" : "?", schema);
}

static inline int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* A fresh temp dir; removed by tmpdir_remove. */
static inline char *tmpdir_new(void)
{
	char *d = mk_strdup("/tmp/mk-store-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static inline void tmpdir_remove(char *d)
{
	if (!d)
		return;
	nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

/* always SQLite, whatever the endpoint (tests that read the database file) */
static inline struct mk_store *store_open_sqlite(const char *path, size_t window)
{
	struct mk_store_options o = { .path = path, .durable = 0, .event_window = window };
	struct mk_store *s = NULL;
	struct mk_error *err = NULL;
	int r = mk_store_open(&o, &s, &err);
	ck_assert_msg(r == 0, "open %s: %s", path, err ? err->msg : "?");
	return s;
}

static inline struct mk_store *store_open_at(const char *path, size_t window)
{
	struct mk_store_options o = { .path = path, .durable = 0, .event_window = window };
	struct mk_store *s = NULL;
	struct mk_error *err = NULL;
	/* http(s)://: etcd (etcd_endpoint.h); else PostgreSQL */
	char *ep = etcd_endpoint_for(path);
	if (!ep && test_endpoint())
		ep = pg_endpoint_for(path);
	o.endpoint = ep;
	int r = mk_store_open(&o, &s, &err);
	ck_assert_msg(r == 0, "open %s: %s", ep ? ep : path, err ? err->msg : "?");
	free(ep);
	return s;
}

static inline cJSON *make_obj(const char *name, const char *ns, const char *extra)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	if (ns && *ns)
		cJSON_AddStringToObject(m, "namespace", ns);
	cJSON_AddStringToObject(o, "kind", "Pod");
	if (extra)
		cJSON_AddStringToObject(o, "extra", extra);
	return o;
}

/* Creates resource/ns/name and returns its revision; fails the test on error. */
static inline uint64_t must_create(struct mk_store *s, const char *res, const char *ns,
				   const char *name, const char *extra)
{
	cJSON *o = make_obj(name, ns, extra);
	struct mk_error *err = NULL;
	uint64_t rv = 0;
	int r = mk_store_create(s, res, ns, name, o, NULL, &rv, &err);
	ck_assert_msg(r == 0, "create %s/%s: %s", res, name, err ? err->msg : "?");
	cJSON_Delete(o);
	return rv;
}

static inline const char *rv_of(cJSON *o)
{
	return mk_json_get_string(o, "metadata.resourceVersion");
}

/* Revisions relative to the one a test's store opens at (`base`): 0 on SQLite and
 * PostgreSQL (a store of its own), etcd's current revision on etcd, which has one
 * revision for its whole keyspace (starting at 1). resourceVersions are opaque to
 * clients (compared for equality and order only), so the tests check differences. */
#define R(n) (base + (uint64_t)(n))
/* rv as a decimal string (one of 8 rotating buffers) */
static inline const char *rvstr(uint64_t rv)
{
	static __thread char buf[8][48];
	static __thread unsigned i;
	char *b = buf[i++ % 8];
	snprintf(b, sizeof(buf[0]), "%llu", (unsigned long long)rv);
	return b;
}
/* the JSON member "resourceVersion":"rv" (rotating buffers as rvstr) */
static inline const char *rvfield(uint64_t rv)
{
	static __thread char buf[8][64];
	static __thread unsigned i;
	char *b = buf[i++ % 8];
	snprintf(b, sizeof(buf[0]), "\"resourceVersion\":\"%llu\"", (unsigned long long)rv);
	return b;
}

#endif
