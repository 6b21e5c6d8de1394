/* GET /metrics/resource: the node's and its containers' CPU and memory in the
 * Prometheus text format, the kubelet's resource metrics endpoint that
 * metrics-server scrapes (the API server's metrics.k8s.io does here). Figures come
 * from pkg/runtime's stats (cgroups of each container, /proc for the node); a pod's
 * figures are the sum of its running containers'. Each sample carries the time it
 * was read (ms), which the scraper uses to compute rates. */
#include <string.h>
#include "stream_internal.h"

void mk_agent_stream_containers_free(struct mk_agent_stream_container *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].ns);
		free(v[i].pod);
		free(v[i].container);
		free(v[i].cid);
	}
	free(v);
}

/* a label value with \, " and newlines escaped (exposition format 0.0.4) */
static void put_label(struct mk_buf *b, const char *key, const char *v, bool first)
{
	mk_buf_printf(b, "%s%s=\"", first ? "" : ",", key);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			mk_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			mk_buf_append(b, "\\n", 2);
		else
			mk_buf_append(b, v, 1);
	}
	mk_buf_append(b, "\"", 1);
}

static void put_seconds(struct mk_buf *b, uint64_t ns)
{
	mk_buf_printf(b, " %llu.%09llu", (unsigned long long)(ns / 1000000000ULL),
		      (unsigned long long)(ns % 1000000000ULL));
}

static void put_header(struct mk_buf *b, const char *name, const char *type, const char *help)
{
	mk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct pod_sum {
	const char *ns, *pod;
	uint64_t cpu, mem;
	int64_t ts;
	bool has_cpu, has_mem;
};

/* One scrape: the containers, their stats (ok[i]: read), their pods' sums. */
struct scrape {
	struct mk_agent_stream_container *cs;
	size_t n;
	struct mk_runtime_stats *st;
	bool *ok;
	struct pod_sum *pods;
	size_t npods;
};

/* Reads every container's stats and sums them per pod. */
static void scrape_containers(struct mk_agent_stream *s, struct scrape *sc)
{
	size_t n = sc->n;
	sc->st = mk_malloc0((n ? n : 1) * sizeof(*sc->st));
	sc->ok = mk_malloc0((n ? n : 1) * sizeof(*sc->ok));
	sc->pods = mk_malloc0((n ? n : 1) * sizeof(*sc->pods));
	for (size_t i = 0; i < n; i++) {
		const struct mk_agent_stream_container *c = &sc->cs[i];
		const struct mk_runtime_stats *st = &sc->st[i];
		sc->ok[i] = mk_runtime_container_stats_get(s->rt, c->cid, &sc->st[i], NULL) == 0;
		if (!sc->ok[i])
			continue;
		size_t j = 0;
		while (j < sc->npods && (strcmp(sc->pods[j].ns, c->ns) || strcmp(sc->pods[j].pod, c->pod)))
			j++;
		if (j == sc->npods)
			sc->pods[sc->npods++] = (struct pod_sum){ .ns = c->ns, .pod = c->pod };
		struct pod_sum *p = &sc->pods[j];
		p->cpu += st->cpu_usage_ns;
		p->mem += st->memory_working_set;
		p->has_cpu |= st->has_cpu;
		p->has_mem |= st->has_memory;
		if (st->timestamp_ns > p->ts)
			p->ts = st->timestamp_ns;
	}
}

static void put_containers(struct mk_buf *b, const struct scrape *sc)
{
	static const struct {
		const char *name, *type, *help;
		int what; /* 0 cpu, 1 memory, 2 start time */
	} ctr_metrics[] = {
	    {"container_cpu_usage_seconds_total", "counter",
	     "Cumulative cpu time consumed by the container in core-seconds", 0},
	    {"container_memory_working_set_bytes", "gauge",
	     "Current working set of the container in bytes", 1},
	    {"container_start_time_seconds", "gauge",
	     "Start time of the container since unix epoch in seconds", 2},
	};
	for (size_t m = 0; m < MK_ARRAY_SIZE(ctr_metrics); m++) {
		put_header(b, ctr_metrics[m].name, ctr_metrics[m].type, ctr_metrics[m].help);
		for (size_t i = 0; i < sc->n; i++) {
			const struct mk_runtime_stats *st = &sc->st[i];
			int w = ctr_metrics[m].what;
			if (!sc->ok[i] || (w == 0 && !st->has_cpu) || (w == 1 && !st->has_memory))
				continue;
			mk_buf_printf(b, "%s{", ctr_metrics[m].name);
			put_label(b, "container", sc->cs[i].container, true);
			put_label(b, "namespace", sc->cs[i].ns, false);
			put_label(b, "pod", sc->cs[i].pod, false);
			mk_buf_append(b, "}", 1);
			if (w == 0)
				put_seconds(b, st->cpu_usage_ns);
			else if (w == 1)
				mk_buf_printf(b, " %llu", (unsigned long long)st->memory_working_set);
			else
				put_seconds(b, (uint64_t)st->started_ns);
			mk_buf_printf(b, " %lld\n", (long long)(st->timestamp_ns / 1000000));
		}
	}
}

static void put_node(struct mk_buf *b, const struct mk_runtime_stats *node)
{
	put_header(b, "node_cpu_usage_seconds_total", "counter",
		   "Cumulative cpu time consumed by the node in core-seconds");
	mk_buf_append(b, "node_cpu_usage_seconds_total", 28);
	put_seconds(b, node->cpu_usage_ns);
	mk_buf_printf(b, " %lld\n", (long long)(node->timestamp_ns / 1000000));
	put_header(b, "node_memory_working_set_bytes", "gauge",
		   "Current working set of the node in bytes");
	mk_buf_printf(b, "node_memory_working_set_bytes %llu %lld\n",
		      (unsigned long long)node->memory_working_set,
		      (long long)(node->timestamp_ns / 1000000));
}

static void put_pods(struct mk_buf *b, const struct scrape *sc)
{
	for (int m = 0; m < 2; m++) {
		const char *name =
		    m ? "pod_memory_working_set_bytes" : "pod_cpu_usage_seconds_total";
		put_header(b, name, m ? "gauge" : "counter",
			   m ? "Current working set of the pod in bytes"
			     : "Cumulative cpu time consumed by the pod in core-seconds");
		for (size_t j = 0; j < sc->npods; j++) {
			const struct pod_sum *p = &sc->pods[j];
			if (m ? !p->has_mem : !p->has_cpu)
				continue;
			mk_buf_printf(b, "%s{", name);
			put_label(b, "namespace", p->ns, true);
			put_label(b, "pod", p->pod, false);
			mk_buf_append(b, "}", 1);
			if (m)
				mk_buf_printf(b, " %llu", (unsigned long long)p->mem);
			else
				put_seconds(b, p->cpu);
			mk_buf_printf(b, " %lld\n", (long long)(p->ts / 1000000));
		}
	}
}

void stream_metrics_handle(struct stream_request *req, struct stream_reply *rep)
{
	struct mk_agent_stream *s = req->srv;
	struct scrape sc = { 0 };
	struct mk_runtime_stats node = {0};
	_cleanup_error_ struct mk_error *err = NULL;

	if (s->list_containers && s->list_containers(s->resolve_userdata, &sc.cs, &sc.n, &err) < 0) {
		stream_reply_status(rep, 500, "list containers: %s", err->msg);
		return;
	}
	scrape_containers(s, &sc);
	bool scrape_error = mk_runtime_node_stats_get(&node, NULL) < 0;

	struct mk_buf b;
	mk_buf_init(&b);
	put_containers(&b, &sc);
	if (!scrape_error)
		put_node(&b, &node);
	put_pods(&b, &sc);
	put_header(&b, "resource_scrape_error", "gauge",
		   "1 if there was an error while getting container metrics, 0 otherwise");
	mk_buf_printf(&b, "resource_scrape_error %d\n", scrape_error ? 1 : 0);

	free(sc.st);
	free(sc.ok);
	free(sc.pods);
	mk_agent_stream_containers_free(sc.cs, sc.n);
	rep->code = 200;
	rep->resp = MHD_create_response_from_buffer(b.len, b.data ? b.data : (char *)"",
						    MHD_RESPMEM_MUST_COPY);
	mk_buf_release(&b);
	if (rep->resp)
		MHD_add_response_header(rep->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; version=0.0.4; charset=utf-8");
}
