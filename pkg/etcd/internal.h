/* pkg/etcd private: the client, its request path and the JSON helpers. */
#ifndef MINIK8S_ETCD_INTERNAL_H
#define MINIK8S_ETCD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <curl/curl.h>
#include "minik8s/etcd.h"

/* bound on one response (a range of many objects, a batch of watch events) */
#define ETCD_MAX_RESPONSE (256u << 20)

struct mk_etcd {
	char **endpoints;	/* without a trailing '/' */
	size_t n_endpoints;
	atomic_size_t current;	/* index requests go to first */
	char *cafile, *certfile, *keyfile;
	long timeout_ms, connect_timeout_ms;
	pthread_mutex_t lock;	/* guards pool */
	CURL **pool;		/* idle handles, their connections kept alive */
	size_t n_pool, cap_pool;
};

/* Sets the options every handle of c shares (TLS, connect timeout). */
void etcd_handle_setup(struct mk_etcd *c, CURL *h);

/* POSTs body to path ("/v3/kv/range") on the current endpoint, failing over as
 * etcd.h says (mutating: the request changes the store). *ret the decoded answer
 * (owned). Maps etcd's error answers to the codes of etcd.h. */
int etcd_call(struct mk_etcd *c, const char *path, const cJSON *body, bool mutating,
	      cJSON **ret, struct mk_error **err);

/* An error answer of the gateway ({"error","code","message"}) to a mk_error. */
int etcd_error_from_status(struct mk_error **err, long http_status, const cJSON *body);

/* JSON helpers: grpc-gateway writes int64 as strings and leaves zero values out. */
int64_t etcd_json_i64(const cJSON *o, const char *name);
void etcd_json_add_i64(cJSON *o, const char *name, int64_t v);
void etcd_json_add_bytes(cJSON *o, const char *name, const void *data, size_t len);
/* base64 field name of o, decoded (owned, NUL-terminated); "" when absent. -1 when
 * malformed. */
int etcd_json_bytes(const cJSON *o, const char *name, char **ret, size_t *ret_len);
int etcd_kv_parse(const cJSON *o, struct mk_etcd_kv *ret, struct mk_error **err);
/* "kvs", "more", "count" and the header's revision of a RangeResponse */
int etcd_range_parse(const cJSON *o, struct mk_etcd_range *ret, struct mk_error **err);
/* a range end as sent: NULL none, "" etcd's "\0" */
void etcd_json_add_range_end(cJSON *o, const char *range_end);

#endif
