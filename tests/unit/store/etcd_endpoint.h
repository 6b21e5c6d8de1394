/* The store suites on etcd: MINIK8S_TEST_STORE_ENDPOINT=http(s)://HOST:PORT
 * build/tests/unit-store (tests/e2e/store_etcd_unit.sh starts a member and runs it).
 * Every store of a test gets a key prefix of its own: ":memory:" a fresh one, a file
 * path one named after the path (a reopen finds its data again). etcd has one
 * revision for its whole keyspace, starting at 1: the tests check revisions relative
 * to the one their store opens at (R(n) in helpers.h). The etcd backend's own tests
 * are in tests/unit/etcd/store_test.c and tests/e2e/store_etcd.sh. */
#ifndef MK_TEST_STORE_ETCD_ENDPOINT_H
#define MK_TEST_STORE_ETCD_ENDPOINT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/util.h"

/* The endpoint (owned) for a store at path, or NULL: no etcd endpoint set. */
static inline char *etcd_endpoint_for(const char *path)
{
	static unsigned counter;
	const char *base = getenv("MINIK8S_TEST_STORE_ENDPOINT");
	if (!base || (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)))
		return NULL;
	char prefix[64];
	if (strcmp(path, ":memory:") == 0) {
		snprintf(prefix, sizeof(prefix), "/t-%d-%u-%u", (int)getpid(), counter++,
			 (unsigned)random());
	} else {
		uint32_t h = 2166136261u;
		for (const char *c = path; *c; c++)
			h = (h ^ (unsigned char)*c) * 16777619u;
		snprintf(prefix, sizeof(prefix), "/p-%08x", h);
	}
	/* the prefix goes on the first endpoint (pkg/store/etcd.c) */
	const char *comma = strchr(base, ',');
	if (!comma)
		return mk_strdup_printf("%s%s", base, prefix);
	return mk_strdup_printf("%.*s%s%s", (int)(comma - base), base, prefix, comma);
}

#endif
