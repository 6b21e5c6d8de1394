/* The pure half of metrics.k8s.io (metrics.h): the Prometheus text parser for the
 * agents' /metrics/resource, rates between the last two scrapes of a node as
 * metrics-server computes them, and the spellings of Quantity and Duration. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "metrics.h"

/* ---- parser ------------------------------------------------------------------- */

void mk_metrics_batch_release(struct mk_metrics_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->c[i].ns);
		free(b->c[i].pod);
		free(b->c[i].name);
	}
	free(b->c);
	memset(b, 0, sizeof(*b));
}

enum metric { M_NONE, M_NODE_CPU, M_NODE_MEM, M_CTR_CPU, M_CTR_MEM, M_CTR_START };

static enum metric metric_of(const char *name, size_t len)
{
	static const struct {
		const char *name;
		enum metric m;
	} known[] = {
	    {"node_cpu_usage_seconds_total", M_NODE_CPU},
	    {"node_memory_working_set_bytes", M_NODE_MEM},
	    {"container_cpu_usage_seconds_total", M_CTR_CPU},
	    {"container_memory_working_set_bytes", M_CTR_MEM},
	    {"container_start_time_seconds", M_CTR_START},
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(known); i++)
		if (strlen(known[i].name) == len && !memcmp(known[i].name, name, len))
			return known[i].m;
	return M_NONE;
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Parses {k="v",...} at *p (just after '{'); keeps container/namespace/pod. */
static bool parse_labels(const char **p, const char *end, char **ctr, char **ns, char **pod)
{
	const char *s = *p;

	for (;;) {
		while (s < end && (*s == ' ' || *s == ','))
			s++;
		if (s < end && *s == '}') {
			*p = s + 1;
			return true;
		}
		const char *k = s;
		while (s < end && name_char(*s, s == k) && *s != ':')
			s++;
		size_t kl = (size_t)(s - k);
		if (!kl || s >= end || *s != '=' || s + 1 >= end || s[1] != '"')
			return false;
		s += 2;
		struct mk_buf v;
		mk_buf_init(&v);
		while (s < end && *s != '"') {
			char c = *s++;
			if (c == '\\') {
				if (s >= end) {
					mk_buf_release(&v);
					return false;
				}
				c = *s++;
				if (c == 'n')
					c = '\n';
				else if (c != '\\' && c != '"') {
					mk_buf_release(&v);
					return false;
				}
			}
			mk_buf_append(&v, &c, 1);
		}
		if (s >= end) {
			mk_buf_release(&v);
			return false;
		}
		s++; /* closing quote */
		char **dst = kl == 9 && !memcmp(k, "container", 9)   ? ctr
			     : kl == 9 && !memcmp(k, "namespace", 9) ? ns
			     : kl == 3 && !memcmp(k, "pod", 3)	     ? pod
								     : NULL;
		if (dst) {
			free(*dst);
			*dst = v.data ? mk_buf_steal(&v) : mk_strdup("");
		}
		mk_buf_release(&v);
		if (s < end && *s != ',' && *s != '}' && *s != ' ')
			return false;
	}
}

static struct mk_metrics_point *container_point(struct mk_metrics_batch *b, const char *ns,
						const char *pod, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->c[i].ns, ns) && !strcmp(b->c[i].pod, pod) &&
		    !strcmp(b->c[i].name, name))
			return &b->c[i].p;
	MK_GROW(b->c, b->cap, b->n + 1);
	struct mk_metrics_container_point *c = &b->c[b->n++];
	*c = (struct mk_metrics_container_point){
	    .ns = mk_strdup(ns), .pod = mk_strdup(pod), .name = mk_strdup(name)};
	return &c->p;
}

static void skip_blanks(const char **s, const char *end)
{
	while (*s < end && (**s == ' ' || **s == '\t'))
		(*s)++;
}

/* The value and the optional timestamp that end a sample line (after the name and
 * labels): "VALUE [TIMESTAMP]". false: malformed. */
static bool parse_value_ts(const char *s, const char *end, int64_t default_ts, double *ret_v,
			   int64_t *ret_ts)
{
	char num[64];
	size_t nl = 0;
	skip_blanks(&s, end);
	while (s < end && *s != ' ' && *s != '\t' && nl < sizeof(num) - 1)
		num[nl++] = *s++;
	num[nl] = '\0';
	char *e;
	double v = strtod(num, &e);
	if (!nl || *e)
		return false;
	skip_blanks(&s, end);
	int64_t ts = default_ts;
	if (s < end) {
		char tsb[32];
		size_t tl = 0;
		while (s < end && *s != ' ' && *s != '\t' && tl < sizeof(tsb) - 1)
			tsb[tl++] = *s++;
		tsb[tl] = '\0';
		errno = 0;
		long long t = strtoll(tsb, &e, 10);
		if (*e || errno)
			return false;
		ts = t;
		skip_blanks(&s, end);
		if (s < end)
			return false;
	}
	*ret_v = v;
	*ret_ts = ts;
	return true;
}

/* Records sample v of metric m (at ts) into the node's or the container's point. */
static void record_sample(struct mk_metrics_batch *b, enum metric m, double v, int64_t ts,
			  const char *ctr, const char *ns, const char *pod)
{
	if (m == M_NONE || isnan(v) || isinf(v) || v < 0 || v > 1.8e19)
		return; /* not ours, or no usable figure */
	struct mk_metrics_point *p;
	if (m == M_NODE_CPU || m == M_NODE_MEM) {
		b->has_node = true;
		p = &b->node;
	} else {
		if (!ctr || !ns || !pod || !*ctr || !*ns || !*pod)
			return;
		p = container_point(b, ns, pod, ctr);
	}
	switch (m) {
	case M_NODE_CPU:
	case M_CTR_CPU:
		p->cpu_ns = (uint64_t)(v * 1e9 + 0.5);
		p->has_cpu = true;
		p->ts_ms = ts; /* the CPU sample's time is the point's (metrics-server) */
		break;
	case M_NODE_MEM:
	case M_CTR_MEM:
		p->mem_bytes = (uint64_t)(v + 0.5);
		p->has_mem = true;
		if (!p->has_cpu)
			p->ts_ms = ts;
		break;
	case M_CTR_START:
		p->start_ms = (int64_t)(v * 1e3 + 0.5);
		break;
	default:
		break;
	}
}

/* One sample line: NAME[{LABELS}] VALUE [TIMESTAMP]. -1: malformed. */
static int parse_line(const char *s, const char *end, int64_t default_ts,
		      struct mk_metrics_batch *b)
{
	_cleanup_free_ char *ctr = NULL, *ns = NULL, *pod = NULL;
	const char *name = s;
	double v;
	int64_t ts;

	while (s < end && name_char(*s, s == name))
		s++;
	if (s == name)
		return -1;
	enum metric m = metric_of(name, (size_t)(s - name));
	if (s < end && *s == '{') {
		s++;
		if (!parse_labels(&s, end, &ctr, &ns, &pod))
			return -1;
	}
	if (s >= end || (*s != ' ' && *s != '\t'))
		return -1;
	if (!parse_value_ts(s, end, default_ts, &v, &ts))
		return -1;
	record_sample(b, m, v, ts, ctr, ns, pod);
	return 0;
}

int mk_metrics_parse(const char *text, size_t len, int64_t default_ts_ms,
		     struct mk_metrics_batch *ret, struct mk_error **err)
{
	struct mk_metrics_batch b = {0};
	const char *s = text, *end = text + len;
	unsigned lineno = 0;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		lineno++;
		const char *p = s;
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		const char *q = le;
		while (q > p && (q[-1] == '\r' || q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if (p < q && *p != '#' && parse_line(p, q, default_ts_ms, &b) < 0) {
			mk_metrics_batch_release(&b);
			return mk_error_set(err, EINVAL,
					    "metrics text line %u: cannot parse '%.*s'", lineno,
					    (int)((q - p) > 80 ? 80 : (q - p)), p);
		}
		s = nl ? nl + 1 : end;
	}
	/* points with only a start time (no usage) are of no use */
	size_t k = 0;
	for (size_t i = 0; i < b.n; i++) {
		if (b.c[i].p.has_cpu || b.c[i].p.has_mem) {
			b.c[k++] = b.c[i];
		} else {
			free(b.c[i].ns);
			free(b.c[i].pod);
			free(b.c[i].name);
		}
	}
	b.n = k;
	*ret = b;
	return 0;
}

/* ---- rates -------------------------------------------------------------------- */

bool mk_metrics_rate(const struct mk_metrics_point *prev, const struct mk_metrics_point *last,
		     struct mk_metrics_usage *ret)
{
	if (!prev->has_cpu || !last->has_cpu || !last->has_mem)
		return false;
	if (last->ts_ms <= prev->ts_ms || last->cpu_ns < prev->cpu_ns)
		return false;
	if (last->start_ms && prev->start_ms && last->start_ms < prev->start_ms)
		return false;
	int64_t window = last->ts_ms - prev->ts_ms;
	double rate = (double)(last->cpu_ns - prev->cpu_ns) * 1e3 / (double)window;
	*ret = (struct mk_metrics_usage){.cpu_nanocores = (uint64_t)rate,
					 .mem_bytes = last->mem_bytes,
					 .ts_ms = last->ts_ms,
					 .window_ms = window};
	return true;
}

/* Below this age a container's first sample is not measured from its start: the
 * figure would be too noisy (metrics-server's freshContainerMinMetricsResolution). */
#define FRESH_MIN_MS 10000

static const struct mk_metrics_container_point *
find_point(const struct mk_metrics_batch *b, const struct mk_metrics_container_point *c)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (!strcmp(b->c[i].name, c->name) && !strcmp(b->c[i].pod, c->pod) &&
		    !strcmp(b->c[i].ns, c->ns))
			return &b->c[i];
	return NULL;
}

static bool container_usage(const struct mk_metrics_batch *prev,
			    const struct mk_metrics_container_point *c, int64_t resolution_ms,
			    struct mk_metrics_usage *ret)
{
	const struct mk_metrics_point *l = &c->p;
	int64_t age = l->ts_ms - l->start_ms;

	/* a fresh container: from its start, when CPU was 0 */
	if (l->start_ms > 0 && age > 0 && age < resolution_ms && age >= FRESH_MIN_MS) {
		struct mk_metrics_point start = {.ts_ms = l->start_ms,
						 .start_ms = l->start_ms,
						 .has_cpu = true,
						 .has_mem = true};
		return mk_metrics_rate(&start, l, ret);
	}
	const struct mk_metrics_container_point *p = find_point(prev, c);
	if (!p)
		return false;
	/* restarted in between: the counters began again */
	if (l->start_ms && p->p.start_ms && l->start_ms != p->p.start_ms)
		return false;
	return mk_metrics_rate(&p->p, l, ret);
}

void mk_metrics_compute(const struct mk_metrics_batch *prev, const struct mk_metrics_batch *last,
			int64_t resolution_ms, struct mk_metrics_node_usage *ret)
{
	struct mk_metrics_node_usage u = {0};

	if (prev && prev->has_node && last->has_node)
		u.has_node = mk_metrics_rate(&prev->node, &last->node, &u.node);
	bool *done = mk_malloc0((last->n ? last->n : 1) * sizeof(bool));
	u.pods = mk_malloc0((last->n ? last->n : 1) * sizeof(*u.pods));
	for (size_t i = 0; i < last->n; i++) {
		if (done[i])
			continue;
		const struct mk_metrics_container_point *first = &last->c[i];
		struct mk_metrics_pod_usage pu = {0};
		bool complete = true;
		pu.c = mk_malloc0((last->n - i) * sizeof(*pu.c));
		for (size_t j = i; j < last->n; j++) {
			const struct mk_metrics_container_point *c = &last->c[j];
			if (done[j] || strcmp(c->ns, first->ns) || strcmp(c->pod, first->pod))
				continue;
			done[j] = true;
			struct mk_metrics_usage cu;
			if (!complete || !container_usage(prev, c, resolution_ms, &cu)) {
				complete = false;
				continue;
			}
			pu.c[pu.n++] = (struct mk_metrics_container_usage){
			    .name = mk_strdup(c->name), .u = cu};
			if (pu.n == 1 || cu.ts_ms < pu.ts_ms) {
				pu.ts_ms = cu.ts_ms;
				pu.window_ms = cu.window_ms;
			}
		}
		if (!complete || !pu.n) {
			for (size_t k = 0; k < pu.n; k++)
				free(pu.c[k].name);
			free(pu.c);
			continue;
		}
		pu.ns = mk_strdup(first->ns);
		pu.pod = mk_strdup(first->pod);
		u.pods[u.npods++] = pu;
	}
	free(done);
	*ret = u;
}

void mk_metrics_node_usage_release(struct mk_metrics_node_usage *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->npods; i++) {
		for (size_t k = 0; k < u->pods[i].n; k++)
			free(u->pods[i].c[k].name);
		free(u->pods[i].c);
		free(u->pods[i].ns);
		free(u->pods[i].pod);
	}
	free(u->pods);
	memset(u, 0, sizeof(*u));
}

/* ---- spellings ---------------------------------------------------------------- */

/* value * 10^exp10 in canonical DecimalSI: the largest exponent (a multiple of 3)
 * that keeps the mantissa an integer. */
static void decimal_si(uint64_t v, int exp10, char *buf, size_t size)
{
	static const struct {
		int e;
		const char *suffix;
	} suffixes[] = {{-9, "n"}, {-6, "u"}, {-3, "m"}, {0, ""},   {3, "k"},
			{6, "M"},  {9, "G"},  {12, "T"}, {15, "P"}, {18, "E"}};
	if (v == 0) {
		snprintf(buf, size, "0");
		return;
	}
	while (v % 1000 == 0 && exp10 < 18) {
		v /= 1000;
		exp10 += 3;
	}
	const char *sfx = "";
	for (size_t i = 0; i < MK_ARRAY_SIZE(suffixes); i++)
		if (suffixes[i].e == exp10)
			sfx = suffixes[i].suffix;
	snprintf(buf, size, "%llu%s", (unsigned long long)v, sfx);
}

void mk_metrics_quantity_cpu(uint64_t nanocores, char *buf, size_t size)
{
	decimal_si(nanocores, -9, buf, size);
}

void mk_metrics_quantity_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const suffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	size_t i = 0;

	/* below 1024 resource.Quantity falls back to DecimalSI */
	if (bytes < 1024) {
		decimal_si(bytes, 0, buf, size);
		return;
	}
	while (bytes % 1024 == 0 && i < MK_ARRAY_SIZE(suffixes) - 1) {
		bytes /= 1024;
		i++;
	}
	snprintf(buf, size, "%llu%s", (unsigned long long)bytes, suffixes[i]);
}

void mk_metrics_duration(int64_t ms, char *buf, size_t size)
{
	const char *sign = "";
	uint64_t u;

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	if (ms < 0) {
		sign = "-";
		u = (uint64_t)(-(ms + 1)) + 1;
	} else {
		u = (uint64_t)ms;
	}
	if (u < 1000) {
		snprintf(buf, size, "%s%llums", sign, (unsigned long long)u);
		return;
	}
	uint64_t h = u / 3600000, m = (u / 60000) % 60, s = (u / 1000) % 60, frac = u % 1000;
	char sec[32];
	if (frac) {
		snprintf(sec, sizeof(sec), "%llu.%03llu", (unsigned long long)s,
			 (unsigned long long)frac);
		size_t l = strlen(sec);
		while (sec[l - 1] == '0')
			sec[--l] = '\0';
	} else {
		snprintf(sec, sizeof(sec), "%llu", (unsigned long long)s);
	}
	if (h)
		snprintf(buf, size, "%s%lluh%llum%ss", sign, (unsigned long long)h,
			 (unsigned long long)m, sec);
	else if (m)
		snprintf(buf, size, "%s%llum%ss", sign, (unsigned long long)m, sec);
	else
		snprintf(buf, size, "%s%ss", sign, sec);
}
