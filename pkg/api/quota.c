/* Quota arithmetic: canonical quantity text, ResourceLists (JSON objects of
 * quantity strings) added and compared exactly, what an object counts against a
 * ResourceQuota (kube-apiserver's quota evaluators, pkg/quota/v1/evaluator/core and
 * the generic object count evaluator) and the ResourceQuota admission check
 * (plugin/pkg/admission/resourcequota/controller.go checkRequest). Pure functions:
 * the API server (pkg/apiserver/admission.c) and the quota controller
 * (pkg/controller/resourcequota.c) read and write the objects. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

/* ---- quantities ----------------------------------------------------------------- */

static bool is_binary_text(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 2 && s[n - 1] == 'i' && strchr("KMGTPE", s[n - 2]);
}

void mk_api_quantity_format(int64_t milli, bool binary, char *buf, size_t size)
{
	bool neg = milli < 0;
	uint64_t m = neg ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
	const char *sign = neg ? "-" : "";

	if (m == 0) {
		snprintf(buf, size, "0");
		return;
	}
	if (m % 1000) {
		/* a fraction of a unit: DecimalSI milli-units in every format */
		snprintf(buf, size, "%s%llum", sign, (unsigned long long)m);
		return;
	}
	uint64_t v = m / 1000;
	if (binary && v >= 1024) {
		static const char *const bs[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
		int k = 0;
		while (k < 6 && v % 1024 == 0) {
			v /= 1024;
			k++;
		}
		snprintf(buf, size, "%s%llu%s", sign, (unsigned long long)v, bs[k]);
		return;
	}
	static const char *const ds[] = { "", "k", "M", "G", "T", "P", "E" };
	int k = 0;
	while (k < 6 && v % 1000 == 0) {
		v /= 1000;
		k++;
	}
	snprintf(buf, size, "%s%llu%s", sign, (unsigned long long)v, ds[k]);
}

/* milli-units of q (string or number); -1 when malformed. *binary: its form */
static int q_milli(const cJSON *q, int64_t *ret, bool *binary)
{
	if (binary)
		*binary = false;
	if (cJSON_IsString(q)) {
		if (binary)
			*binary = is_binary_text(q->valuestring);
		return mk_api_quantity_parse(q->valuestring, ret, NULL);
	}
	if (cJSON_IsNumber(q)) {
		char b[64];
		snprintf(b, sizeof(b), "%.17g", q->valuedouble);
		return mk_api_quantity_parse(b, ret, NULL);
	}
	return -1;
}

void mk_api_quantity_canonical(const cJSON *q, char *buf, size_t size)
{
	int64_t v;
	bool bin;
	if (q_milli(q, &v, &bin) < 0) {
		snprintf(buf, size, "%s", "");
		return;
	}
	mk_api_quantity_format(v, bin, buf, size);
}

/* ---- ResourceLists ------------------------------------------------------------------ */

static void rl_set(cJSON *rl, const char *k, int64_t milli, bool binary)
{
	char b[32];
	mk_api_quantity_format(milli, binary, b, sizeof(b));
	mk_json_set_string(rl, k, b);
}

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* dst[k] = op(dst[k], v) for every k of add; op 0: sum, 1: max */
static void rl_combine(cJSON *dst, const cJSON *add, int op)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, add)
	{
		int64_t v, cur;
		bool vb, cb;
		if (!it->string || q_milli(it, &v, &vb) < 0)
			continue;
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(dst, it->string);
		if (!c || q_milli(c, &cur, &cb) < 0) {
			rl_set(dst, it->string, v, vb);
			continue;
		}
		/* the sum keeps the form of the first addend, as Quantity.Add */
		if (op == 0)
			rl_set(dst, it->string, sat_add(cur, v), cb);
		else if (v > cur)
			rl_set(dst, it->string, v, vb);
	}
}

void mk_api_rl_add(cJSON *dst, const cJSON *add)
{
	rl_combine(dst, add, 0);
}

cJSON *mk_api_pod_resource_list(const cJSON *spec, const char *which, bool exclude_overhead)
{
	cJSON *sum = cJSON_CreateObject();
	_cleanup_cjson_ cJSON *sidecars = cJSON_CreateObject(), *init_max = cJSON_CreateObject();
	const cJSON *c;
	char path[32];

	snprintf(path, sizeof(path), "resources.%s", which);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
		rl_combine(sum, mk_json_get(c, path), 0);
	/* init containers run one at a time beside the sidecars started before them */
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"))
	{
		const cJSON *own = mk_json_get(c, path);
		const char *rp = mk_json_get_string(c, "restartPolicy");
		_cleanup_cjson_ cJSON *step = cJSON_CreateObject();
		if (rp && !strcmp(rp, "Always")) {
			rl_combine(sum, own, 0);
			rl_combine(sidecars, own, 0);
			rl_combine(step, sidecars, 0);
		} else {
			rl_combine(step, own, 0);
			rl_combine(step, sidecars, 0);
		}
		rl_combine(init_max, step, 1);
	}
	rl_combine(sum, init_max, 1);
	const cJSON *oh = cJSON_GetObjectItemCaseSensitive(spec, "overhead");
	if (!exclude_overhead && cJSON_IsObject(oh)) {
		if (!strcmp(which, "requests")) {
			rl_combine(sum, oh, 0);
		} else {
			/* overhead adds to the limits that are set only */
			const cJSON *it;
			cJSON_ArrayForEach(it, oh)
				if (it->string && cJSON_GetObjectItemCaseSensitive(sum, it->string)) {
					_cleanup_cjson_ cJSON *one = cJSON_CreateObject();
					cJSON_AddItemToObject(one, it->string, cJSON_Duplicate(it, 1));
					rl_combine(sum, one, 0);
				}
		}
	}
	return sum;
}

/* ---- usage --------------------------------------------------------------------------- */

static bool pod_terminal(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

static void set_count(cJSON *rl, const char *k, int64_t n)
{
	rl_set(rl, k, n * 1000, false);
}

/* requests.X and limits.X (and X itself for requests) of the compute resources */
static void pod_compute_usage(cJSON *out, const cJSON *requests, const cJSON *limits)
{
	static const char *const names[] = { "cpu", "memory", "ephemeral-storage" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(requests, names[i]);
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(limits, names[i]);
		char k[64];
		if (r) {
			mk_json_set(out, names[i], cJSON_Duplicate(r, 1));
			snprintf(k, sizeof(k), "requests.%s", names[i]);
			mk_json_set(out, k, cJSON_Duplicate(r, 1));
		}
		if (l) {
			snprintf(k, sizeof(k), "limits.%s", names[i]);
			mk_json_set(out, k, cJSON_Duplicate(l, 1));
		}
	}
	/* hugepages and extended resources: requests.<name> */
	const cJSON *it;
	cJSON_ArrayForEach(it, requests)
	{
		bool std = false;
		for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++)
			std |= !strcmp(it->string, names[i]);
		if (!std) {
			char k[300];
			snprintf(k, sizeof(k), "requests.%s", it->string);
			mk_json_set(out, k, cJSON_Duplicate(it, 1));
		}
	}
}

cJSON *mk_api_quota_usage(const char *resource, const char *group, const cJSON *obj)
{
	cJSON *u = cJSON_CreateObject();
	char k[300];

	snprintf(k, sizeof(k), "count/%s%s%s", resource, group && *group ? "." : "",
		 group ? group : "");
	set_count(u, k, 1);
	if (group && *group)
		return u;
	if (!strcmp(resource, "pods")) {
		if (pod_terminal(obj))
			return u; /* only the object count: a finished pod uses nothing */
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
		_cleanup_cjson_ cJSON *req = mk_api_pod_resource_list(spec, "requests", false);
		_cleanup_cjson_ cJSON *lim = mk_api_pod_resource_list(spec, "limits", false);
		set_count(u, "pods", 1);
		pod_compute_usage(u, req, lim);
	} else if (!strcmp(resource, "services")) {
		const char *type = mk_json_get_string(obj, "spec.type");
		const cJSON *ports = mk_json_get(obj, "spec.ports"), *p;
		int nports = cJSON_GetArraySize(ports), np = 0, lb = 0;
		set_count(u, "services", 1);
		if (type && !strcmp(type, "NodePort")) {
			np = nports;
		} else if (type && !strcmp(type, "LoadBalancer")) {
			lb = 1;
			if (cJSON_IsFalse(mk_json_get(obj, "spec.allocateLoadBalancerNodePorts"))) {
				cJSON_ArrayForEach(p, ports)
					np += cJSON_GetObjectItemCaseSensitive(p, "nodePort") != NULL;
			} else {
				np = nports;
			}
		}
		set_count(u, "services.loadbalancers", lb);
		set_count(u, "services.nodeports", np);
	} else if (!strcmp(resource, "configmaps") || !strcmp(resource, "secrets") ||
		   !strcmp(resource, "resourcequotas") ||
		   !strcmp(resource, "replicationcontrollers")) {
		set_count(u, resource, 1);
	} else if (!strcmp(resource, "persistentvolumeclaims")) {
		const cJSON *st = mk_json_get(obj, "spec.resources.requests.storage");
		const char *sc = mk_json_get_string(obj, "spec.storageClassName");
		set_count(u, "persistentvolumeclaims", 1);
		if (st)
			mk_json_set(u, "requests.storage", cJSON_Duplicate(st, 1));
		if (sc && *sc) {
			snprintf(k, sizeof(k), "%s.storageclass.storage.k8s.io/persistentvolumeclaims", sc);
			set_count(u, k, 1);
			if (st) {
				snprintf(k, sizeof(k), "%s.storageclass.storage.k8s.io/requests.storage", sc);
				mk_json_set(u, k, cJSON_Duplicate(st, 1));
			}
		}
	}
	return u;
}

bool mk_api_quota_tracks(const char *name, const char *resource, const char *group)
{
	char k[300];
	snprintf(k, sizeof(k), "count/%s%s%s", resource, group && *group ? "." : "",
		 group ? group : "");
	if (!strcmp(name, k))
		return true;
	if (group && *group)
		return false;
	if (!strcmp(resource, "pods")) {
		static const char *const pr[] = { "pods", "cpu", "memory", "ephemeral-storage",
						   "requests.cpu", "requests.memory",
						   "requests.ephemeral-storage", "limits.cpu",
						   "limits.memory", "limits.ephemeral-storage" };
		for (size_t i = 0; i < MK_ARRAY_SIZE(pr); i++)
			if (!strcmp(name, pr[i]))
				return true;
		/* hugepages and extended resources (requests.<domain>/<name>) */
		return !strncmp(name, "requests.hugepages-", 19) ||
		       (!strncmp(name, "requests.", 9) && strchr(name, '/'));
	}
	if (!strcmp(resource, "services"))
		return !strcmp(name, "services") || !strcmp(name, "services.nodeports") ||
		       !strcmp(name, "services.loadbalancers");
	if (!strcmp(resource, "persistentvolumeclaims")) {
		const char *p = strstr(name, ".storageclass.storage.k8s.io/");
		return !strcmp(name, "persistentvolumeclaims") || !strcmp(name, "requests.storage") ||
		       (p && (!strcmp(p + 29, "persistentvolumeclaims") ||
			      !strcmp(p + 29, "requests.storage")));
	}
	return !strcmp(name, resource) &&
	       (!strcmp(resource, "configmaps") || !strcmp(resource, "secrets") ||
		!strcmp(resource, "resourcequotas") || !strcmp(resource, "replicationcontrollers"));
}

/* ---- scopes --------------------------------------------------------------------------- */

static bool scope_matches(const char *scope, const char *op, const cJSON *pod)
{
	bool terminating = cJSON_IsNumber(mk_json_get(pod, "spec.activeDeadlineSeconds"));
	bool best_effort = !strcmp(mk_api_pod_qos_class(cJSON_GetObjectItemCaseSensitive(pod, "spec")),
				   "BestEffort");
	bool m;
	if (!strcmp(scope, "Terminating"))
		m = terminating;
	else if (!strcmp(scope, "NotTerminating"))
		m = !terminating;
	else if (!strcmp(scope, "BestEffort"))
		m = best_effort;
	else if (!strcmp(scope, "NotBestEffort"))
		m = !best_effort;
	else
		return false; /* PriorityClass, CrossNamespacePodAffinity: not served */
	/* Exists (and a bare scope) matches; DoesNotExist inverts */
	return op && !strcmp(op, "DoesNotExist") ? !m : m;
}

bool mk_api_quota_matches(const cJSON *quota, const char *resource, const cJSON *obj)
{
	const cJSON *scopes = mk_json_get(quota, "spec.scopes");
	const cJSON *exprs = mk_json_get(quota, "spec.scopeSelector.matchExpressions");
	const cJSON *it;
	bool is_pod = !strcmp(resource, "pods");

	cJSON_ArrayForEach(it, scopes)
		if (!is_pod || !cJSON_IsString(it) || !scope_matches(it->valuestring, NULL, obj))
			return false;
	cJSON_ArrayForEach(it, exprs)
	{
		const char *sn = mk_json_get_string(it, "scopeName");
		if (!is_pod || !sn || !scope_matches(sn, mk_json_get_string(it, "operator"), obj))
			return false;
	}
	return true;
}

/* ---- admission -------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "k=v,k=v" of rl restricted to names (sorted), as upstream's prettyPrint */
static void pretty(struct mk_buf *b, const cJSON *rl, char **names, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(rl, names[i]);
		char v[32];
		if (!q)
			continue;
		mk_api_quantity_canonical(q, v, sizeof(v));
		mk_buf_printf(b, "%s%s=%s", w++ ? "," : "", names[i], v);
	}
}

/* The containers (and init containers) lacking a request or limit the quota
 * restricts: "must specify limits.cpu for: c1,c2; requests.memory for: c1" */
static char *missing_constraints(const cJSON *pod, char **restricted, size_t nr)
{
	static const char *const vset[] = { "cpu", "memory", "requests.cpu", "requests.memory",
					     "limits.cpu", "limits.memory" };
	struct mk_buf b;
	bool any = false;
	mk_buf_init(&b);
	mk_buf_puts(&b, "must specify ");
	/* restricted is sorted, so the resources come out sorted as upstream's */
	for (size_t i = 0; i < nr; i++) {
		bool v = false;
		for (size_t j = 0; j < MK_ARRAY_SIZE(vset); j++)
			v |= !strcmp(restricted[i], vset[j]);
		if (!v)
			continue;
		char *names[256];
		size_t nn = 0;
		static const char *const lists[] = { "containers", "initContainers" };
		for (size_t l = 0; l < 2; l++) {
			const cJSON *c;
			cJSON_ArrayForEach(c, mk_json_get(pod, lists[l] == lists[0] ? "spec.containers"
									     : "spec.initContainers"))
			{
				_cleanup_cjson_ cJSON *u = cJSON_CreateObject();
				pod_compute_usage(u, mk_json_get(c, "resources.requests"),
						  mk_json_get(c, "resources.limits"));
				const char *cn = mk_json_get_string(c, "name");
				if (!cJSON_GetObjectItemCaseSensitive(u, restricted[i]) && cn && nn < 256) {
					bool dup = false;
					for (size_t x = 0; x < nn; x++)
						dup |= !strcmp(names[x], cn);
					if (!dup)
						names[nn++] = (char *)cn;
				}
			}
		}
		if (!nn)
			continue;
		qsort(names, nn, sizeof(*names), cmp_str);
		mk_buf_printf(&b, "%s%s for: ", any ? "; " : "", restricted[i]);
		for (size_t x = 0; x < nn; x++)
			mk_buf_printf(&b, "%s%s", x ? "," : "", names[x]);
		any = true;
	}
	if (!any) {
		mk_buf_release(&b);
		return NULL;
	}
	return mk_buf_steal(&b);
}

int mk_api_quota_admit(const cJSON *quota, const char *resource, const char *group,
		       const cJSON *obj, cJSON **ret_used, char **ret_msg)
{
	return mk_api_quota_admit_update(quota, resource, group, obj, NULL, ret_used, ret_msg);
}

/* The steps of mk_api_quota_admit_update, as upstream's quota evaluator: what
 * the quota restricts, the pod's missing requests and limits, a usage not yet
 * computed, the charge of the object (of its growth, on update), then the new
 * usage against the hard limits. */

/* The names in status.hard the quota restricts for this kind, sorted (a quota
 * the controller has not seen yet restricts nothing, as upstream). */
static size_t quota_restricted(const cJSON *hard, const char *resource, const char *group,
			       char **restricted, size_t max)
{
	const cJSON *it;
	size_t nr = 0;

	cJSON_ArrayForEach(it, hard)
		if (it->string && nr < max && mk_api_quota_tracks(it->string, resource, group))
			restricted[nr++] = it->string;
	qsort(restricted, nr, sizeof(*restricted), cmp_str);
	return nr;
}

/* The controller has not computed usage of a restricted name yet: upstream
 * refuses too. Returns the message, or NULL when all is known. */
static char *quota_status_unknown(const char *qn, const cJSON *used, char **restricted,
				  size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		if (cJSON_GetObjectItemCaseSensitive(used, restricted[i]))
			continue;
		struct mk_buf b;
		mk_buf_init(&b);
		for (size_t j = 0; j < nr; j++)
			mk_buf_printf(&b, "%s%s", j ? "," : "", restricted[j]);
		char *msg = mk_strdup_printf("status unknown for quota: %s, resources: %s", qn,
					     b.data);
		mk_buf_release(&b);
		return msg;
	}
	return NULL;
}

/* The usage obj adds: all of it on create; on update what it adds over old
 * (upstream subtracts the old usage, and the zeros and decreases then charge
 * nothing). Owned by the caller. */
static cJSON *quota_charge(const char *resource, const char *group, const cJSON *obj,
			   const cJSON *old)
{
	cJSON *delta = mk_api_quota_usage(resource, group, obj);
	if (!old)
		return delta;
	_cleanup_cjson_ cJSON *prev = mk_api_quota_usage(resource, group, old);
	const cJSON *p;
	cJSON_ArrayForEach(p, prev)
	{
		int64_t pv, nv;
		bool nb;
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(delta, p->string);
		if (q_milli(p, &pv, NULL) < 0 || !n || q_milli(n, &nv, &nb) < 0)
			continue;
		rl_set(delta, p->string, nv > pv ? nv - pv : 0, nb);
	}
	return delta;
}

/* The part of delta this quota limits, zeros dropped, into req. A negative
 * usage is refused (*ret_msg, -1). */
static int quota_request(const cJSON *hard, const cJSON *delta, cJSON *req, char **ret_msg)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, delta)
	{
		int64_t v;
		if (!cJSON_GetObjectItemCaseSensitive(hard, it->string) || q_milli(it, &v, NULL) < 0)
			continue;
		if (v < 0) {
			*ret_msg = mk_strdup_printf("quota usage is negative for resource(s): %s",
						    it->string);
			return -1;
		}
		if (v)
			cJSON_AddItemToObject(req, it->string, cJSON_Duplicate(it, 1));
	}
	return 0;
}

/* The names of req whose new usage newu goes over hard, as upstream words the
 * refusal; NULL when everything fits. */
static char *quota_exceeded(const char *qn, const cJSON *req, const cJSON *used,
			    const cJSON *newu, const cJSON *hard)
{
	char *exceeded[128];
	size_t ne = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, req)
	{
		int64_t nv, hv;
		if (q_milli(cJSON_GetObjectItemCaseSensitive(newu, it->string), &nv, NULL) < 0 ||
		    q_milli(cJSON_GetObjectItemCaseSensitive(hard, it->string), &hv, NULL) < 0)
			continue;
		if (nv > hv && ne < MK_ARRAY_SIZE(exceeded))
			exceeded[ne++] = it->string;
	}
	if (!ne)
		return NULL;
	struct mk_buf b;
	qsort(exceeded, ne, sizeof(*exceeded), cmp_str);
	mk_buf_init(&b);
	mk_buf_printf(&b, "exceeded quota: %s, requested: ", qn);
	pretty(&b, req, exceeded, ne);
	mk_buf_puts(&b, ", used: ");
	pretty(&b, used, exceeded, ne);
	mk_buf_puts(&b, ", limited: ");
	pretty(&b, hard, exceeded, ne);
	return mk_buf_steal(&b);
}

int mk_api_quota_admit_update(const cJSON *quota, const char *resource, const char *group,
			      const cJSON *obj, const cJSON *old, cJSON **ret_used, char **ret_msg)
{
	const char *qn = mk_json_get_string(quota, "metadata.name");
	const cJSON *hard = mk_json_get(quota, "status.hard");
	const cJSON *used = mk_json_get(quota, "status.used");
	char *restricted[128];
	size_t nr;

	*ret_used = NULL;
	*ret_msg = NULL;
	if (!qn || !mk_api_quota_matches(quota, resource, obj))
		return 0;
	nr = quota_restricted(hard, resource, group, restricted, MK_ARRAY_SIZE(restricted));
	if (!nr)
		return 0;
	if (!strcmp(resource, "pods") && (!group || !*group)) {
		_cleanup_free_ char *m = missing_constraints(obj, restricted, nr);
		if (m) {
			*ret_msg = mk_strdup_printf("failed quota: %s: %s", qn, m);
			return -1;
		}
	}
	*ret_msg = quota_status_unknown(qn, used, restricted, nr);
	if (*ret_msg)
		return -1;
	_cleanup_cjson_ cJSON *delta = quota_charge(resource, group, obj, old);
	_cleanup_cjson_ cJSON *req = cJSON_CreateObject();
	if (quota_request(hard, delta, req, ret_msg) < 0)
		return -1;
	if (!cJSON_GetArraySize(req))
		return 0;
	_cleanup_cjson_ cJSON *newu = cJSON_Duplicate(used, 1);
	if (!cJSON_IsObject(newu)) {
		cJSON_Delete(newu);
		newu = cJSON_CreateObject();
	}
	mk_api_rl_add(newu, req);
	*ret_msg = quota_exceeded(qn, req, used, newu, hard);
	if (*ret_msg)
		return -1;
	*ret_used = TAKE_PTR(newu);
	return 0;
}
