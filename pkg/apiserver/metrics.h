/* metrics.k8s.io/v1beta1 (metrics.c, metrics_calc.c): what metrics-server does, built
 * in. The API server scrapes every Ready node's agent (/metrics/resource on :10250,
 * the kubelet's resource metrics in the Prometheus text format) once per resolution
 * (15 s by default), keeps the last two samples of each node, and serves CPU rates
 * and memory working sets as NodeMetrics and PodMetrics, read-only. Nothing is
 * stored in the database.
 *
 * The pure half (metrics_calc.c, unit tested): the text parser, the rate
 * computation between two samples, and the Quantity and Duration spellings. */
#ifndef MINIK8S_APISERVER_METRICS_H
#define MINIK8S_APISERVER_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "minik8s/util.h"

#define MK_METRICS_GROUP "metrics.k8s.io"
#define MK_METRICS_VERSION "v1beta1"
#define MK_METRICS_GROUP_VERSION "metrics.k8s.io/v1beta1"
#define MK_METRICS_DEFAULT_RESOLUTION_MS 15000u

/* One sample of a node or a container, as scraped. */
struct mk_metrics_point {
	int64_t ts_ms;	    /* when it was read (the samples' timestamp) */
	int64_t start_ms;   /* container start time; 0 for the node or unknown */
	uint64_t cpu_ns;    /* cumulative CPU time */
	uint64_t mem_bytes; /* working set */
	bool has_cpu, has_mem;
};

struct mk_metrics_container_point {
	char *ns, *pod, *name; /* owned */
	struct mk_metrics_point p;
};

/* Everything one scrape of a node gave. */
struct mk_metrics_batch {
	bool has_node;
	struct mk_metrics_point node;
	struct mk_metrics_container_point *c; /* owned, n of them */
	size_t n, cap;
};

/* Parses the Prometheus text of /metrics/resource into *ret (release with
 * mk_metrics_batch_release): node_cpu_usage_seconds_total,
 * node_memory_working_set_bytes, container_cpu_usage_seconds_total,
 * container_memory_working_set_bytes and container_start_time_seconds (labels
 * container, namespace, pod); other metrics and comments are skipped. Samples
 * without a timestamp take default_ts_ms. A malformed line is EINVAL, with its
 * number. */
int mk_metrics_parse(const char *text, size_t len, int64_t default_ts_ms,
		     struct mk_metrics_batch *ret, struct mk_error **err);
void mk_metrics_batch_release(struct mk_metrics_batch *b);

/* A usage computed between two samples: CPU in nanocores over [ts - window, ts],
 * memory the later sample's working set. */
struct mk_metrics_usage {
	uint64_t cpu_nanocores;
	uint64_t mem_bytes;
	int64_t ts_ms, window_ms;
};

/* The rate between prev and last: false when it cannot be computed (a sample
 * lacks CPU or memory, last is not newer, the counter went down, the container
 * restarted in between). */
bool mk_metrics_rate(const struct mk_metrics_point *prev, const struct mk_metrics_point *last,
		     struct mk_metrics_usage *ret);

struct mk_metrics_container_usage {
	char *name; /* owned */
	struct mk_metrics_usage u;
};

struct mk_metrics_pod_usage {
	char *ns, *pod;			      /* owned */
	int64_t ts_ms, window_ms;	      /* of its container with the earliest sample */
	struct mk_metrics_container_usage *c; /* owned */
	size_t n;
};

/* The usage of one node and its pods from its last two scrapes (prev may be NULL:
 * only containers younger than one resolution yet at least 10 s old get a figure,
 * measured from their start, as metrics-server does). A pod is listed only when
 * every container of it in last has a figure. */
struct mk_metrics_node_usage {
	bool has_node;
	struct mk_metrics_usage node;
	struct mk_metrics_pod_usage *pods; /* owned */
	size_t npods;
};
void mk_metrics_compute(const struct mk_metrics_batch *prev, const struct mk_metrics_batch *last,
			int64_t resolution_ms, struct mk_metrics_node_usage *ret);
void mk_metrics_node_usage_release(struct mk_metrics_node_usage *u);

/* Quantities as Kubernetes spells them canonically: CPU nanocores in DecimalSI
 * ("123456n", "5m", "2"), bytes in BinarySI ("12345Ki", "1Mi", "1000" below 1024
 * stays decimal: "1k"). */
void mk_metrics_quantity_cpu(uint64_t nanocores, char *buf, size_t size);
void mk_metrics_quantity_bytes(uint64_t bytes, char *buf, size_t size);
/* A duration as Go's time.Duration.String() prints it ("15.012s", "1m0.5s",
 * "500ms", "0s"), the form of metav1.Duration in JSON. */
void mk_metrics_duration(int64_t ms, char *buf, size_t size);

/* ---- the server part (metrics.c) ---------------------------------------------- */

struct mk_apiserver;
struct mk_request;
struct mk_reply;
struct mk_metrics;

/* Starts the scraper of srv (needs the kubelet client certificate; without it,
 * nothing is scraped and every list is empty). resolution_ms 0: the default. */
int mk_metrics_start(struct mk_apiserver *srv, unsigned resolution_ms, struct mk_metrics **ret,
		     struct mk_error **err);
/* Stops the scraper and frees. Accepts NULL. */
void mk_metrics_free(struct mk_metrics *m);
/* Serves /apis/metrics.k8s.io/... (false: not a metrics path). The caller has
 * authenticated the request. */
bool mk_metrics_handle(struct mk_request *req, struct mk_reply *rep);
/* Discovery (discovery.c): the group and resource documents of metrics.k8s.io
 * and its OpenAPI v3 document; false if path is none of them. */
bool mk_metrics_discovery_handle(struct mk_request *req, const char *path, struct mk_reply *rep);
/* The APIGroup entry of /apis (owned). */
cJSON *mk_metrics_discovery_group(void);
/* The path of the group's OpenAPI v3 document ("apis/metrics.k8s.io/v1beta1") and
 * its serverRelativeURL with a hash of the content (owned). */
#define MK_METRICS_OPENAPI_KEY "apis/" MK_METRICS_GROUP_VERSION
char *mk_metrics_openapi_url(void);

#endif
