/* The key-value calls: range, put, delete, txn, compare-and-swap, compaction, leases. */
#include <errno.h>
#include <string.h>
#include "internal.h"

void mk_etcd_range_release(struct mk_etcd_range *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		mk_etcd_kv_release(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

static int kvs_parse(const cJSON *arr, struct mk_etcd_range *r, struct mk_error **err)
{
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (!n)
		return 0;
	r->kvs = mk_malloc0(n * sizeof(*r->kvs));
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) {
		if (etcd_kv_parse(it, &r->kvs[r->n], err) < 0)
			return -1;
		r->n++;
	}
	return 0;
}

int etcd_range_parse(const cJSON *o, struct mk_etcd_range *ret, struct mk_error **err)
{
	struct mk_etcd_range r = { 0 };
	if (kvs_parse(cJSON_GetObjectItemCaseSensitive(o, "kvs"), &r, err) < 0) {
		mk_etcd_range_release(&r);
		return -1;
	}
	r.more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "more"));
	r.count = etcd_json_i64(o, "count");
	r.revision = etcd_json_i64(cJSON_GetObjectItemCaseSensitive(o, "header"), "revision");
	*ret = r;
	return 0;
}

static cJSON *range_request(const char *key, const char *range_end, int64_t revision,
			    int64_t limit)
{
	cJSON *b = cJSON_CreateObject();
	etcd_json_add_bytes(b, "key", key, strlen(key));
	etcd_json_add_range_end(b, range_end);
	if (revision)
		etcd_json_add_i64(b, "revision", revision);
	if (limit)
		etcd_json_add_i64(b, "limit", limit);
	return b;
}

int mk_etcd_range(struct mk_etcd *c, const char *key,
		  const struct mk_etcd_range_options *opts, struct mk_etcd_range *ret,
		  struct mk_error **err)
{
	static const struct mk_etcd_range_options none = { 0 };
	if (!opts)
		opts = &none;
	if (opts->revision < 0 || opts->limit < 0)
		return mk_error_set(err, EINVAL, "etcd range '%s': negative revision or limit", key);
	_cleanup_cjson_ cJSON *b = range_request(key, opts->range_end, opts->revision, opts->limit);
	if (opts->keys_only)
		cJSON_AddTrueToObject(b, "keys_only");
	if (opts->count_only)
		cJSON_AddTrueToObject(b, "count_only");
	if (opts->serializable)
		cJSON_AddTrueToObject(b, "serializable");
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/kv/range", b, false, &a, err) < 0)
		return mk_error_wrap(err, "range '%s'", key);
	return etcd_range_parse(a, ret, err);
}

int mk_etcd_get(struct mk_etcd *c, const char *key, struct mk_etcd_kv *ret_kv,
		int64_t *ret_revision, struct mk_error **err)
{
	struct mk_etcd_range r = { 0 };
	if (mk_etcd_range(c, key, NULL, &r, err) < 0)
		return -1;
	if (!r.n) {
		mk_etcd_range_release(&r);
		return mk_error_set(err, ENOENT, "etcd key '%s' not found", key);
	}
	if (ret_revision)
		*ret_revision = r.revision;
	if (ret_kv) {
		*ret_kv = r.kvs[0];
		memset(&r.kvs[0], 0, sizeof(r.kvs[0]));
	}
	mk_etcd_range_release(&r);
	return 0;
}

int mk_etcd_put(struct mk_etcd *c, const char *key, const void *value, size_t value_len,
		int64_t lease, int64_t *ret_revision, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	etcd_json_add_bytes(b, "key", key, strlen(key));
	etcd_json_add_bytes(b, "value", value, value_len);
	if (lease)
		etcd_json_add_i64(b, "lease", lease);
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/kv/put", b, true, &a, err) < 0)
		return mk_error_wrap(err, "put '%s'", key);
	if (ret_revision)
		*ret_revision =
			etcd_json_i64(cJSON_GetObjectItemCaseSensitive(a, "header"), "revision");
	return 0;
}

int mk_etcd_delete_range(struct mk_etcd *c, const char *key, const char *range_end,
			 int64_t *ret_deleted, int64_t *ret_revision, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *b = range_request(key, range_end, 0, 0);
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/kv/deleterange", b, true, &a, err) < 0)
		return mk_error_wrap(err, "delete '%s'", key);
	if (ret_deleted)
		*ret_deleted = etcd_json_i64(a, "deleted");
	if (ret_revision)
		*ret_revision =
			etcd_json_i64(cJSON_GetObjectItemCaseSensitive(a, "header"), "revision");
	return 0;
}

/* ---- txn --------------------------------------------------------------------- */

void mk_etcd_txn_release(struct mk_etcd_txn *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		mk_etcd_range_release(&t->results[i].range);
	free(t->results);
	memset(t, 0, sizeof(*t));
}

static const char *const cmp_targets[] = { "VERSION", "CREATE", "MOD", "VALUE", "LEASE" };
static const char *const cmp_fields[] = { "version", "create_revision", "mod_revision",
					  "value", "lease" };
static const char *const cmp_results[] = { "EQUAL", "GREATER", "LESS", "NOT_EQUAL" };

static int ops_add(cJSON *b, const char *name, const struct mk_etcd_op *ops, size_t n,
		   struct mk_error **err)
{
	cJSON *arr = cJSON_AddArrayToObject(b, name);
	for (size_t i = 0; i < n; i++) {
		const struct mk_etcd_op *op = &ops[i];
		if (!op->key)
			return mk_error_set(err, EINVAL, "etcd txn: %s op %zu without a key", name, i);
		cJSON *req = cJSON_CreateObject(), *r;
		cJSON_AddItemToArray(arr, req);
		switch (op->type) {
		case MK_ETCD_OP_RANGE:
			cJSON_AddItemToObject(req, "request_range",
					      r = range_request(op->key, op->range_end, 0, op->limit));
			break;
		case MK_ETCD_OP_PUT:
			r = cJSON_AddObjectToObject(req, "request_put");
			etcd_json_add_bytes(r, "key", op->key, strlen(op->key));
			etcd_json_add_bytes(r, "value", op->value, op->value_len);
			if (op->lease)
				etcd_json_add_i64(r, "lease", op->lease);
			if (op->prev_kv)
				cJSON_AddTrueToObject(r, "prev_kv");
			break;
		case MK_ETCD_OP_DELETE:
			cJSON_AddItemToObject(req, "request_delete_range",
					      r = range_request(op->key, op->range_end, 0, 0));
			if (op->prev_kv)
				cJSON_AddTrueToObject(r, "prev_kv");
			break;
		default:
			return mk_error_set(err, EINVAL, "etcd txn: %s op %zu of unknown type", name, i);
		}
	}
	return 0;
}

static int op_result_parse(const cJSON *o, struct mk_etcd_op_result *ret, struct mk_error **err)
{
	const cJSON *r;
	if ((r = cJSON_GetObjectItemCaseSensitive(o, "response_range"))) {
		ret->type = MK_ETCD_OP_RANGE;
		return etcd_range_parse(r, &ret->range, err);
	}
	if ((r = cJSON_GetObjectItemCaseSensitive(o, "response_put"))) {
		ret->type = MK_ETCD_OP_PUT;
		const cJSON *prev = cJSON_GetObjectItemCaseSensitive(r, "prev_kv");
		ret->range.revision =
			etcd_json_i64(cJSON_GetObjectItemCaseSensitive(r, "header"), "revision");
		if (prev) {
			ret->range.kvs = mk_malloc0(sizeof(*ret->range.kvs));
			if (etcd_kv_parse(prev, &ret->range.kvs[0], err) < 0)
				return -1;
			ret->range.n = ret->range.count = 1;
		}
		return 0;
	}
	if ((r = cJSON_GetObjectItemCaseSensitive(o, "response_delete_range"))) {
		ret->type = MK_ETCD_OP_DELETE;
		ret->deleted = etcd_json_i64(r, "deleted");
		ret->range.revision =
			etcd_json_i64(cJSON_GetObjectItemCaseSensitive(r, "header"), "revision");
		if (kvs_parse(cJSON_GetObjectItemCaseSensitive(r, "prev_kvs"), &ret->range, err) < 0)
			return -1;
		ret->range.count = (int64_t)ret->range.n;
		return 0;
	}
	/* an op whose answer is all zero values is written as {} (a put without
	 * prev_kv, say): its kind is not in the answer; the caller knows it */
	ret->type = MK_ETCD_OP_PUT;
	return 0;
}

int mk_etcd_txn(struct mk_etcd *c, const struct mk_etcd_compare *cmp, size_t n_cmp,
		const struct mk_etcd_op *success, size_t n_success,
		const struct mk_etcd_op *failure, size_t n_failure, struct mk_etcd_txn *ret,
		struct mk_error **err)
{
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	cJSON *ca = cJSON_AddArrayToObject(b, "compare");
	bool mutating = false;
	for (size_t i = 0; i < n_cmp; i++) {
		if (!cmp[i].key || (unsigned)cmp[i].target >= MK_ARRAY_SIZE(cmp_targets) ||
		    (unsigned)cmp[i].result >= MK_ARRAY_SIZE(cmp_results))
			return mk_error_set(err, EINVAL, "etcd txn: compare %zu is malformed", i);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToArray(ca, o);
		etcd_json_add_bytes(o, "key", cmp[i].key, strlen(cmp[i].key));
		cJSON_AddStringToObject(o, "target", cmp_targets[cmp[i].target]);
		cJSON_AddStringToObject(o, "result", cmp_results[cmp[i].result]);
		if (cmp[i].target == MK_ETCD_CMP_VALUE)
			etcd_json_add_bytes(o, "value", cmp[i].value, cmp[i].value_len);
		else
			etcd_json_add_i64(o, cmp_fields[cmp[i].target], cmp[i].number);
	}
	if (ops_add(b, "success", success, n_success, err) < 0 ||
	    ops_add(b, "failure", failure, n_failure, err) < 0)
		return -1;
	for (size_t i = 0; i < n_success; i++)
		mutating |= success[i].type != MK_ETCD_OP_RANGE;
	for (size_t i = 0; i < n_failure; i++)
		mutating |= failure[i].type != MK_ETCD_OP_RANGE;
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/kv/txn", b, mutating, &a, err) < 0)
		return mk_error_wrap(err, "txn");
	struct mk_etcd_txn t = { 0 };
	t.succeeded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "succeeded"));
	t.revision = etcd_json_i64(cJSON_GetObjectItemCaseSensitive(a, "header"), "revision");
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(a, "responses");
	const struct mk_etcd_op *ran = t.succeeded ? success : failure;
	size_t n_ran = t.succeeded ? n_success : n_failure;
	size_t n = (size_t)cJSON_GetArraySize(rs);
	if (n != n_ran)
		return mk_error_set(err, EIO, "etcd txn: %zu answers for %zu ops", n, n_ran);
	if (n)
		t.results = mk_malloc0(n * sizeof(*t.results));
	const cJSON *it;
	cJSON_ArrayForEach(it, rs) {
		if (op_result_parse(it, &t.results[t.n], err) < 0) {
			t.n++;
			mk_etcd_txn_release(&t);
			return -1;
		}
		t.results[t.n].type = ran[t.n].type;
		t.n++;
	}
	*ret = t;
	return 0;
}

/* The current pair of key after a failed compare (the failure branch read it). */
static void take_current(struct mk_etcd_txn *t, struct mk_etcd_kv *ret_current)
{
	if (!ret_current)
		return;
	memset(ret_current, 0, sizeof(*ret_current));
	if (t->n && t->results[0].range.n) {
		*ret_current = t->results[0].range.kvs[0];
		memset(&t->results[0].range.kvs[0], 0, sizeof(struct mk_etcd_kv));
	}
}

int mk_etcd_cas_put(struct mk_etcd *c, const char *key, const void *value,
		    size_t value_len, int64_t expect_mod_revision, int64_t lease,
		    int64_t *ret_revision, struct mk_etcd_kv *ret_current,
		    struct mk_error **err)
{
	if (expect_mod_revision < 0)
		return mk_error_set(err, EINVAL, "etcd put '%s': negative revision", key);
	/* create: create_revision == 0 (the key does not exist), as kube-apiserver's
	 * etcd3 store; update: mod_revision == the one read */
	struct mk_etcd_compare cmp = {
		.key = key,
		.target = expect_mod_revision ? MK_ETCD_CMP_MOD : MK_ETCD_CMP_CREATE,
		.result = MK_ETCD_CMP_EQUAL,
		.number = expect_mod_revision,
	};
	struct mk_etcd_op put = { .type = MK_ETCD_OP_PUT, .key = key, .value = value,
				  .value_len = value_len, .lease = lease };
	struct mk_etcd_op get = { .type = MK_ETCD_OP_RANGE, .key = key };
	_cleanup_(mk_etcd_txn_release) struct mk_etcd_txn t = { 0 };
	if (mk_etcd_txn(c, &cmp, 1, &put, 1, &get, 1, &t, err) < 0)
		return -1;
	if (t.succeeded) {
		if (ret_revision)
			*ret_revision = t.revision;
		return 0;
	}
	bool exists = t.n && t.results[0].range.n;
	int64_t cur = exists ? t.results[0].range.kvs[0].mod_revision : 0;
	take_current(&t, ret_current);
	if (!expect_mod_revision)
		return mk_error_set(err, EEXIST, "etcd key '%s' exists (mod_revision %lld)", key,
				    (long long)cur);
	if (!exists)
		return mk_error_set(err, ENOENT, "etcd key '%s' not found", key);
	return mk_error_set(err, ESTALE, "etcd key '%s' is at mod_revision %lld, not %lld", key,
			    (long long)cur, (long long)expect_mod_revision);
}

int mk_etcd_cas_delete(struct mk_etcd *c, const char *key, int64_t expect_mod_revision,
		       struct mk_etcd_kv *ret_prev, int64_t *ret_revision,
		       struct mk_etcd_kv *ret_current, struct mk_error **err)
{
	if (expect_mod_revision < 0)
		return mk_error_set(err, EINVAL, "etcd delete '%s': negative revision", key);
	/* without an expected revision: the key must exist (mod_revision > 0) */
	struct mk_etcd_compare cmp = {
		.key = key,
		.target = MK_ETCD_CMP_MOD,
		.result = expect_mod_revision ? MK_ETCD_CMP_EQUAL : MK_ETCD_CMP_GREATER,
		.number = expect_mod_revision,
	};
	struct mk_etcd_op del = { .type = MK_ETCD_OP_DELETE, .key = key, .prev_kv = true };
	struct mk_etcd_op get = { .type = MK_ETCD_OP_RANGE, .key = key };
	_cleanup_(mk_etcd_txn_release) struct mk_etcd_txn t = { 0 };
	if (mk_etcd_txn(c, &cmp, 1, &del, 1, &get, 1, &t, err) < 0)
		return -1;
	if (t.succeeded) {
		if (ret_revision)
			*ret_revision = t.revision;
		if (ret_prev) {
			memset(ret_prev, 0, sizeof(*ret_prev));
			if (t.n && t.results[0].range.n) {
				*ret_prev = t.results[0].range.kvs[0];
				memset(&t.results[0].range.kvs[0], 0, sizeof(struct mk_etcd_kv));
			}
		}
		return 0;
	}
	bool exists = t.n && t.results[0].range.n;
	int64_t cur = exists ? t.results[0].range.kvs[0].mod_revision : 0;
	take_current(&t, ret_current);
	if (!exists)
		return mk_error_set(err, ENOENT, "etcd key '%s' not found", key);
	return mk_error_set(err, ESTALE, "etcd key '%s' is at mod_revision %lld, not %lld", key,
			    (long long)cur, (long long)expect_mod_revision);
}

int mk_etcd_compact(struct mk_etcd *c, int64_t revision, bool physical,
		    struct mk_error **err)
{
	if (revision <= 0)
		return mk_error_set(err, EINVAL, "etcd compact: revision %lld", (long long)revision);
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	etcd_json_add_i64(b, "revision", revision);
	if (physical)
		cJSON_AddTrueToObject(b, "physical");
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/kv/compaction", b, true, &a, err) < 0)
		return mk_error_wrap(err, "compact at %lld", (long long)revision);
	return 0;
}

/* ---- leases ------------------------------------------------------------------ */

int mk_etcd_lease_grant(struct mk_etcd *c, int64_t ttl_s, int64_t *ret_id,
			int64_t *ret_ttl, struct mk_error **err)
{
	if (ttl_s <= 0)
		return mk_error_set(err, EINVAL, "etcd lease: TTL %lld", (long long)ttl_s);
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	etcd_json_add_i64(b, "TTL", ttl_s);
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/lease/grant", b, true, &a, err) < 0)
		return mk_error_wrap(err, "lease grant");
	const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "error"));
	if (e && *e)
		return mk_error_set(err, EIO, "etcd lease grant: %s", e);
	*ret_id = etcd_json_i64(a, "ID");
	if (ret_ttl)
		*ret_ttl = etcd_json_i64(a, "TTL");
	return 0;
}

int mk_etcd_lease_keepalive(struct mk_etcd *c, int64_t id, int64_t *ret_ttl,
			    struct mk_error **err)
{
	/* a streaming call: the gateway answers {"result": LeaseKeepAliveResponse}
	 * once per request object; one object sent, one answer, then the end */
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	etcd_json_add_i64(b, "ID", id);
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/lease/keepalive", b, true, &a, err) < 0)
		return mk_error_wrap(err, "lease %lld keepalive", (long long)id);
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(a, "result");
	if (!res)
		return etcd_error_from_status(err, 200, cJSON_GetObjectItemCaseSensitive(a, "error"));
	/* etcd answers TTL 0 (left out) for a lease that is gone */
	int64_t ttl = etcd_json_i64(res, "TTL");
	if (ttl <= 0)
		return mk_error_set(err, ENOENT, "etcd lease %lld not found", (long long)id);
	if (ret_ttl)
		*ret_ttl = ttl;
	return 0;
}

int mk_etcd_lease_revoke(struct mk_etcd *c, int64_t id, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	etcd_json_add_i64(b, "ID", id);
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/lease/revoke", b, true, &a, err) < 0)
		return mk_error_wrap(err, "lease %lld revoke", (long long)id);
	return 0;
}

int mk_etcd_lease_ttl(struct mk_etcd *c, int64_t id, int64_t *ret_ttl, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	etcd_json_add_i64(b, "ID", id);
	_cleanup_cjson_ cJSON *a = NULL;
	if (etcd_call(c, "/v3/lease/timetolive", b, false, &a, err) < 0)
		return mk_error_wrap(err, "lease %lld", (long long)id);
	int64_t ttl = etcd_json_i64(a, "TTL");
	if (ttl < 0)
		return mk_error_set(err, ENOENT, "etcd lease %lld not found", (long long)id);
	*ret_ttl = ttl;
	return 0;
}

/* ---- whole ranges, compaction steps -------------------------------------------- */

int mk_etcd_range_all(struct mk_etcd *c, const char *key, const char *range_end,
		      int64_t revision, int64_t page_size, struct mk_etcd_range *ret,
		      struct mk_error **err)
{
	if (page_size <= 0)
		page_size = 500;
	struct mk_etcd_range all = { 0 };
	size_t cap = 0;
	_cleanup_free_ char *from = mk_strdup(key);
	struct mk_etcd_range_options o = { .range_end = range_end, .revision = revision,
					   .limit = page_size };
	/* bounded by the range's size: each page moves past its last key */
	for (;;) {
		struct mk_etcd_range page = { 0 };
		if (mk_etcd_range(c, from, &o, &page, err) < 0) {
			mk_etcd_range_release(&all);
			return -1;
		}
		/* the first page fixes the revision of the others */
		if (!o.revision)
			o.revision = page.revision;
		all.revision = o.revision;
		MK_GROW(all.kvs, cap, all.n + page.n);
		if (page.n)
			memcpy(all.kvs + all.n, page.kvs, page.n * sizeof(*page.kvs));
		all.n += page.n;
		bool more = page.more && page.n;
		free(from);
		/* the next page starts just after the last key: key + "\x01" (no key
		 * holds a NUL byte, so none lies between the two) */
		from = more ? mk_strdup_printf("%s\x01", page.kvs[page.n - 1].key) : NULL;
		free(page.kvs);
		if (!more)
			break;
	}
	all.count = (int64_t)all.n;
	*ret = all;
	return 0;
}

int mk_etcd_compact_step(struct mk_etcd *c, const char *key, int64_t *clock, int64_t *rev,
			 int64_t *ret_compacted, struct mk_error **err)
{
	if (ret_compacted)
		*ret_compacted = 0;
	char value[24];
	snprintf(value, sizeof(value), "%lld", (long long)*rev);
	/* the key's version counts the steps taken by every server: the one whose
	 * clock matches it takes this step */
	struct mk_etcd_compare cmp = { .key = key, .target = MK_ETCD_CMP_VERSION,
				       .result = MK_ETCD_CMP_EQUAL, .number = *clock };
	struct mk_etcd_op put = { .type = MK_ETCD_OP_PUT, .key = key, .value = value,
				  .value_len = strlen(value) };
	struct mk_etcd_op get = { .type = MK_ETCD_OP_RANGE, .key = key };
	_cleanup_(mk_etcd_txn_release) struct mk_etcd_txn t = { 0 };
	if (mk_etcd_txn(c, &cmp, 1, &put, 1, &get, 1, &t, err) < 0)
		return mk_error_wrap(err, "compaction step");
	int64_t seen = *rev;
	*rev = t.revision;
	if (!t.succeeded) {
		/* another server stepped: follow its clock */
		*clock = t.n && t.results[0].range.n ? t.results[0].range.kvs[0].version : 0;
		return 0;
	}
	*clock += 1;
	/* the first step only records where the history stands */
	if (!seen)
		return 0;
	struct mk_error *e = NULL;
	if (mk_etcd_compact(c, seen, false, &e) < 0) {
		/* already compacted there (by an operator, say): not an error */
		bool done = e->code == ERANGE;
		if (!done && err && !*err)
			*err = TAKE_PTR(e);
		mk_error_free(&e);
		return done ? 0 : -1;
	}
	if (ret_compacted)
		*ret_compacted = seen;
	return 0;
}
