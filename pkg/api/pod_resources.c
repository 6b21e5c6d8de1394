/* Resource quantities and what a pod spec asks of a node: the exact parser of
 * Kubernetes' resource.Quantity ("128Mi", "500m", "1e3", "0.5Gi"), a pod's
 * effective requests as the scheduler sums them (k8s.io/component-helpers
 * resource.PodRequests: app containers and sidecars together, the largest init
 * container step, the overhead) and the QoS class (pkg/apis/core/helper/qos
 * GetPodQOS). Arithmetic is on integers (__int128), never floating point, so
 * "0.1" and "100m" compare equal as they do upstream. */
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"

typedef __int128 i128;
#define I64_MAX ((i128)INT64_MAX)

/* m * 10^e (e may be negative: rounded up, as Quantity.MilliValue rounds),
 * saturated to +/-INT64_MAX. */
static int64_t scale10(i128 m, int e)
{
	bool neg = m < 0;
	if (neg)
		m = -m;
	for (; e > 0 && m; e--) {
		if (m > I64_MAX)
			break;
		m *= 10;
	}
	if (e > 0 && m)
		m = I64_MAX + 1; /* still growing: saturate */
	for (; e < 0 && m; e++) {
		/* round up away from zero for positives (and toward zero for
		 * negatives, which matches ceil) */
		i128 q = m / 10, r = m % 10;
		m = q + (!neg && r ? 1 : 0);
	}
	if (m > I64_MAX)
		m = I64_MAX;
	return (int64_t)(neg ? -m : m);
}

/* The suffix of a quantity: a binary (Ki..Ei: *ret_bin, a power of 2) or decimal
 * (n..E: *ret_dec, a power of 10) SI suffix, none, or a decimal exponent (1e3,
 * 5E-2); false when it is none of them. */
static bool suffix_parse(const char *p, int *ret_bin, int *ret_dec)
{
	static const struct {
		const char *sfx;
		int bin, dec;
	} sfx[] = {
	    {"Ki", 10, 0}, {"Mi", 20, 0}, {"Gi", 30, 0}, {"Ti", 40, 0},
	    {"Pi", 50, 0}, {"Ei", 60, 0}, {"n", 0, -9},	 {"u", 0, -6},
	    {"m", 0, -3},  {"", 0, 0},	  {"k", 0, 3},	 {"M", 0, 6},
	    {"G", 0, 9},   {"T", 0, 12},  {"P", 0, 15},	 {"E", 0, 18},
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(sfx); i++)
		if (!strcmp(p, sfx[i].sfx)) {
			*ret_bin = sfx[i].bin;
			*ret_dec = sfx[i].dec;
			return true;
		}
	if ((*p != 'e' && *p != 'E') || !p[1])
		return false;
	const char *q = p + 1;
	bool eneg = false;
	if (*q == '+' || *q == '-')
		eneg = *q++ == '-';
	if (!*q)
		return false;
	long v = 0;
	for (; *q; q++) {
		if (*q < '0' || *q > '9' || v > 1000)
			return false;
		v = v * 10 + (*q - '0');
	}
	*ret_dec = (int)(eneg ? -v : v);
	return true;
}

int mk_api_quantity_parse(const char *s, int64_t *ret_milli, struct mk_error **err)
{
	const char *p = s;
	i128 m = 0;
	int digits = 0, frac = 0, bin = 0, dec = 0;
	bool neg = false, dot = false;

	if (!s || !*s)
		return mk_error_set(err, EINVAL, "quantity must not be empty");
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	int seen = 0; /* digits seen, zeros included */
	for (;; p++) {
		if (*p >= '0' && *p <= '9') {
			seen++;
			/* 30 significant digits are far beyond any int64 milli value */
			if ((m || *p != '0') && ++digits > 30)
				return mk_error_set(err, EINVAL, "quantity '%s': too many digits",
						    s);
			m = m * 10 + (*p - '0');
			if (dot)
				frac++;
		} else if (*p == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	if (!seen)
		return mk_error_set(err, EINVAL,
				    "quantity '%s': quantities must match the regular "
				    "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
				    s);
	if (!suffix_parse(p, &bin, &dec))
		return mk_error_set(err, EINVAL, "quantity '%s': unable to parse quantity's suffix", s);
	/* the binary factor first: it is exact and keeps precision */
	for (; bin > 0; bin--) {
		if (m > I64_MAX * 1000000000000LL) {
			/* saturating here cannot be undone by a negative dec of a
			 * binary suffix (dec is 0 then) */
			m = I64_MAX * 1000000000000LL;
			break;
		}
		m *= 2;
	}
	if (neg)
		m = -m;
	*ret_milli = scale10(m, dec - frac + 3);
	return 0;
}

int mk_api_quantity_parse_value(const char *s, int64_t *ret, struct mk_error **err)
{
	int64_t milli;
	if (mk_api_quantity_parse(s, &milli, err) < 0)
		return -1;
	/* Quantity.Value() rounds up */
	*ret = milli / 1000 + (milli % 1000 > 0 ? 1 : 0);
	return 0;
}

/* A quantity in JSON: a string, or a plain number (kubectl sends strings, a raw
 * client may send numbers). 0 if absent; -1 when malformed. */
static int json_milli(const cJSON *v, int64_t *ret)
{
	*ret = 0;
	if (!v)
		return 0;
	if (cJSON_IsNumber(v)) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%.17g", v->valuedouble);
		return mk_api_quantity_parse(buf, ret, NULL);
	}
	if (!cJSON_IsString(v))
		return -1;
	return mk_api_quantity_parse(v->valuestring, ret, NULL);
}

int64_t mk_api_resource_list_milli(const cJSON *list, const char *name)
{
	int64_t v;
	if (json_milli(cJSON_GetObjectItemCaseSensitive(list, name), &v) < 0 || v < 0)
		return 0;
	return v;
}

/* ---- pod requests ---------------------------------------------------------------- */

struct req {
	int64_t cpu, mem; /* milli-units */
};

static int64_t sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static void req_add(struct req *a, struct req b)
{
	a->cpu = sat_add(a->cpu, b.cpu);
	a->mem = sat_add(a->mem, b.mem);
}

static void req_max(struct req *a, struct req b)
{
	if (b.cpu > a->cpu)
		a->cpu = b.cpu;
	if (b.mem > a->mem)
		a->mem = b.mem;
}

static struct req container_req(const cJSON *c)
{
	const cJSON *r = mk_json_get(c, "resources.requests");
	return (struct req){mk_api_resource_list_milli(r, "cpu"),
			    mk_api_resource_list_milli(r, "memory")};
}

void mk_api_pod_requests(const cJSON *spec, int64_t *ret_cpu_milli, int64_t *ret_mem_bytes)
{
	struct req sum = {0}, sidecars = {0}, init_max = {0};
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
	    req_add(&sum, container_req(c));
	/* init containers run one at a time, beside the sidecars started before
	 * them; sidecars then keep running beside the app containers */
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"))
	{
		struct req r = container_req(c);
		const char *rp = mk_json_get_string(c, "restartPolicy");
		if (rp && !strcmp(rp, "Always")) {
			req_add(&sum, r);
			req_add(&sidecars, r);
			r = sidecars;
		} else {
			req_add(&r, sidecars);
		}
		req_max(&init_max, r);
	}
	req_max(&sum, init_max);
	const cJSON *oh = mk_json_get(spec, "overhead");
	req_add(&sum, (struct req){mk_api_resource_list_milli(oh, "cpu"),
				   mk_api_resource_list_milli(oh, "memory")});
	*ret_cpu_milli = sum.cpu;
	*ret_mem_bytes = sum.mem / 1000 + (sum.mem % 1000 ? 1 : 0);
}

/* ---- QoS --------------------------------------------------------------------------- */

static const char *const qos_resources[] = {"cpu", "memory"};

const char *mk_api_pod_qos_class(const cJSON *spec)
{
	/* totals per resource over every init and app container (ephemeral ones
	 * have no resources); only positive quantities count */
	int64_t req[2] = {0}, lim[2] = {0};
	bool has_req[2] = {false}, has_lim[2] = {false};
	bool guaranteed = true;
	static const char *const lists[] = {"initContainers", "containers"};
	for (size_t l = 0; l < MK_ARRAY_SIZE(lists); l++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l]))
		{
			const cJSON *rq = mk_json_get(c, "resources.requests");
			const cJSON *lm = mk_json_get(c, "resources.limits");
			int found = 0;
			for (size_t k = 0; k < MK_ARRAY_SIZE(qos_resources); k++) {
				int64_t v = mk_api_resource_list_milli(rq, qos_resources[k]);
				if (v > 0) {
					req[k] = sat_add(req[k], v);
					has_req[k] = true;
				}
				v = mk_api_resource_list_milli(lm, qos_resources[k]);
				if (v > 0) {
					lim[k] = sat_add(lim[k], v);
					has_lim[k] = true;
					found++;
				}
			}
			/* a container without both cpu and memory limits is not guaranteed */
			if (found != (int)MK_ARRAY_SIZE(qos_resources))
				guaranteed = false;
		}
	}
	int n_req = 0, n_lim = 0;
	for (size_t k = 0; k < MK_ARRAY_SIZE(qos_resources); k++) {
		n_req += has_req[k];
		n_lim += has_lim[k];
	}
	if (!n_req && !n_lim)
		return "BestEffort";
	if (guaranteed) {
		for (size_t k = 0; k < MK_ARRAY_SIZE(qos_resources); k++)
			if (has_req[k] && (!has_lim[k] || lim[k] != req[k]))
				guaranteed = false;
	}
	return guaranteed && n_req == n_lim ? "Guaranteed" : "Burstable";
}
