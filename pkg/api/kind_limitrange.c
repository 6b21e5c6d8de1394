/* core/v1 LimitRange (limits): per-namespace defaults and bounds of the compute
 * resources of containers and pods and of the storage of claims. Defaults as
 * pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem (a Container item's default
 * limit is its max, its default request the default limit or else the min),
 * validation as ValidateLimitRange, and the arithmetic of the LimitRanger admission
 * plugin (plugin/pkg/admission/limitranger): container defaults, then min / max /
 * maxLimitRequestRatio checks worded as upstream's. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* dst[k] = src[k] for the keys of src that dst lacks */
static void fill_missing(cJSON *item, const char *dst_key, const cJSON *src)
{
	const cJSON *it;
	cJSON *dst = cJSON_GetObjectItemCaseSensitive(item, dst_key);
	cJSON_ArrayForEach(it, src)
	{
		if (!it->string || cJSON_GetObjectItemCaseSensitive(dst, it->string))
			continue;
		if (!cJSON_IsObject(dst)) {
			cJSON_DeleteItemFromObjectCaseSensitive(item, dst_key);
			dst = cJSON_AddObjectToObject(item, dst_key);
		}
		cJSON_AddItemToObject(dst, it->string, cJSON_Duplicate(it, 1));
	}
}

static void limitrange_defaults(cJSON *obj)
{
	cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(obj, "spec.limits"))
	{
		const char *t = mk_json_get_string(it, "type");
		if (!cJSON_IsObject(it) || !t || strcmp(t, "Container"))
			continue;
		fill_missing(it, "default", cJSON_GetObjectItemCaseSensitive(it, "max"));
		fill_missing(it, "defaultRequest", cJSON_GetObjectItemCaseSensitive(it, "default"));
		fill_missing(it, "defaultRequest", cJSON_GetObjectItemCaseSensitive(it, "min"));
	}
}

static bool qualified_name(const char *s)
{
	/* [prefix/]name, name: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? up to 63 */
	const char *n = strrchr(s, '/');
	n = n ? n + 1 : s;
	size_t len = strlen(n);
	if (!len || len > 63 || (n != s && n - s - 1 > 253) || (n != s && n - s - 1 == 0))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && ((i == 0 || i == len - 1) || !strchr("-_.", c)))
			return false;
	}
	return true;
}

static void v_resource_name(cJSON *causes, const char *type, const char *name, const char *field)
{
	cJSON *v = cJSON_CreateString(name);
	if (!qualified_name(name)) {
		mk_api_v_invalid(causes, field, v,
				 "name part must consist of alphanumeric characters, '-', '_' or '.', "
				 "and must start and end with an alphanumeric character");
	} else if (!strchr(name, '/') && type &&
		   (!strcmp(type, "Pod") || !strcmp(type, "Container")) &&
		   strcmp(name, "cpu") && strcmp(name, "memory") && strcmp(name, "ephemeral-storage") &&
		   strncmp(name, "hugepages-", 10)) {
		mk_api_v_invalid(causes, field, v, "must be a standard resource for containers");
	} else if (!strchr(name, '/') && type && !strcmp(type, "PersistentVolumeClaim") &&
		   strcmp(name, "storage")) {
		mk_api_v_invalid(causes, field, v, "must be a standard resource type or fully qualified");
	}
	cJSON_Delete(v);
}

/* canonical text of q into buf; its milli value, or -1 when malformed */
static bool q_get(const cJSON *map, const char *k, int64_t *ret, char *buf, size_t size)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(map, k);
	if (!q)
		return false;
	if (cJSON_IsNumber(q) || cJSON_IsString(q)) {
		char b[64];
		if (cJSON_IsNumber(q))
			snprintf(b, sizeof(b), "%.17g", q->valuedouble);
		if (mk_api_quantity_parse(cJSON_IsString(q) ? q->valuestring : b, ret, NULL) == 0) {
			if (buf)
				mk_api_quantity_canonical(q, buf, size);
			return true;
		}
	}
	return false;
}

static const char *const lr_maps[] = { "max", "min", "default", "defaultRequest",
				       "maxLimitRequestRatio" };

/* type: required, standard (Pod, Container, PersistentVolumeClaim) or qualified,
 * one item per type. */
static void item_type(cJSON *causes, const cJSON *limits, const cJSON *it, int i, const char *base)
{
	const char *type = mk_json_get_string(it, "type");
	char f[160];
	snprintf(f, sizeof(f), "%s.type", base);
	if (!type || !*type) {
		mk_api_v_required(causes, f, "");
	} else if (!qualified_name(type) ||
		   (!strchr(type, '/') && strcmp(type, "Pod") && strcmp(type, "Container") &&
		    strcmp(type, "PersistentVolumeClaim"))) {
		cJSON *v = cJSON_CreateString(type);
		mk_api_v_invalid(causes, f, v, "must be a standard limit type or fully qualified");
		cJSON_Delete(v);
	}
	for (int j = 0; type && j < i; j++) {
		const char *pt = mk_json_get_string(cJSON_GetArrayItem(limits, j), "type");
		if (pt && !strcmp(pt, type)) {
			cJSON *v = cJSON_CreateString(type);
			mk_api_v_duplicate(causes, f, v);
			cJSON_Delete(v);
			break;
		}
	}
}

/* The quantity maps: resource names and quantities; no defaults for Pod; a
 * PersistentVolumeClaim item bounds storage. */
static void item_maps(cJSON *causes, const cJSON *it, const char *base, const char *type, bool is_pod)
{
	char f[160];
	for (size_t m = 0; m < MK_ARRAY_SIZE(lr_maps); m++) {
		const cJSON *map = cJSON_GetObjectItemCaseSensitive(it, lr_maps[m]), *q;
		if (is_pod && (m == 2 || m == 3) && cJSON_GetArraySize(map) > 0) {
			snprintf(f, sizeof(f), "%s.%s", base, lr_maps[m]);
			mk_api_v_forbidden(causes, f, "may not be specified when `type` is 'Pod'");
			continue;
		}
		cJSON_ArrayForEach(q, map)
		{
			int64_t v;
			snprintf(f, sizeof(f), "%s.%s[%s]", base, lr_maps[m], q->string);
			v_resource_name(causes, type, q->string, f);
			if (!q_get(map, q->string, &v, NULL, 0))
				mk_api_v_invalid(causes, f, q,
						 "quantities must match the regular expression "
						 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
		}
	}
	if (type && !strcmp(type, "PersistentVolumeClaim") &&
	    !mk_json_get(it, "min.storage") && !mk_json_get(it, "max.storage")) {
		snprintf(f, sizeof(f), "%s.limits", base);
		mk_api_v_required(causes, f,
				  "either minimum or maximum storage value is required, but "
				  "neither was provided");
	}
}

/* The bounds of resource k in the item: min <= defaultRequest <= default <= max,
 * maxLimitRequestRatio at least 1 and at most max/min. */
static void item_bounds(cJSON *causes, const cJSON *it, const char *base, bool is_pod, const char *k)
{
	char f[160];
	int64_t mx, mn, df, dr, ra;
	char smx[32], smn[32], sdf[32], sdr[32], sra[32];
	const cJSON *jmx = cJSON_GetObjectItemCaseSensitive(it, "max");
	const cJSON *jmn = cJSON_GetObjectItemCaseSensitive(it, "min");
	const cJSON *jdf = is_pod ? NULL : cJSON_GetObjectItemCaseSensitive(it, "default");
	const cJSON *jdr = is_pod ? NULL : cJSON_GetObjectItemCaseSensitive(it, "defaultRequest");
	const cJSON *jra = cJSON_GetObjectItemCaseSensitive(it, "maxLimitRequestRatio");
	bool hmx = q_get(jmx, k, &mx, smx, sizeof(smx));
	bool hmn = q_get(jmn, k, &mn, smn, sizeof(smn));
	bool hdf = q_get(jdf, k, &df, sdf, sizeof(sdf));
	bool hdr = q_get(jdr, k, &dr, sdr, sizeof(sdr));
	bool hra = q_get(jra, k, &ra, sra, sizeof(sra));
	char msg[200];
#define LR_INVALID(map, jv, ...)                                                         \
	do {                                                                               \
		snprintf(f, sizeof(f), "%s.%s[%s]", base, map, k);                         \
		snprintf(msg, sizeof(msg), __VA_ARGS__);                                   \
		mk_api_v_invalid(causes, f, cJSON_GetObjectItemCaseSensitive(jv, k), msg); \
	} while (0)
	if (hmn && hmx && mn > mx)
		LR_INVALID("min", jmn, "min value %s is greater than max value %s", smn, smx);
	if (hdr && hmn && mn > dr)
		LR_INVALID("defaultRequest", jdr,
			   "min value %s is greater than default request value %s", smn, sdr);
	if (hdr && hmx && dr > mx)
		LR_INVALID("defaultRequest", jdr,
			   "default request value %s is greater than max value %s", sdr, smx);
	if (hdr && hdf && dr > df)
		LR_INVALID("defaultRequest", jdr,
			   "default request value %s is greater than default limit value %s", sdr, sdf);
	if (hdf && hmn && mn > df)
		LR_INVALID("default", jmn, "min value %s is greater than default value %s", smn, sdf);
	if (hdf && hmx && df > mx)
		LR_INVALID("default", jmx, "default value %s is greater than max value %s", sdf, smx);
	if (hra && ra < 1000)
		LR_INVALID("maxLimitRequestRatio", jra, "ratio %s is less than 1", sra);
	if (hra && hmn && hmx && mn > 0) {
		double lim = (double)mx / (double)mn;
		if ((double)ra / 1000.0 > lim)
			LR_INVALID("maxLimitRequestRatio", jra, "ratio %s is greater than max/min = %f", sra, lim);
	}
#undef LR_INVALID
}

static void limitrange_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *limits = mk_json_get(obj, "spec.limits"), *it;
	int i = 0;

	(void)old;
	if (limits && !cJSON_IsArray(limits)) {
		mk_api_v_invalid(causes, "spec.limits", limits, "must be a list");
		return;
	}
	cJSON_ArrayForEach(it, limits)
	{
		const char *type = mk_json_get_string(it, "type");
		char base[48];
		snprintf(base, sizeof(base), "spec.limits[%d]", i);
		item_type(causes, limits, it, i, base);
		bool is_pod = type && !strcmp(type, "Pod");
		item_maps(causes, it, base, type, is_pod);
		/* the bounds of each resource named anywhere in the item, once */
		for (size_t m = 0; m < MK_ARRAY_SIZE(lr_maps); m++) {
			const cJSON *q;
			cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(it, lr_maps[m]))
			{
				bool seen = false;
				for (size_t p = 0; p < m; p++)
					seen |= cJSON_GetObjectItemCaseSensitive(
							cJSON_GetObjectItemCaseSensitive(it, lr_maps[p]), q->string) != NULL;
				if (!seen)
					item_bounds(causes, it, base, is_pod, q->string);
			}
		}
		i++;
	}
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Created At", "date", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0 },
};

static void limitrange_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	(void)now;
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.creationTimestamp"));
}

const struct mk_api_kind_ops mk_api_limitrange_ops = {
	.defaults = limitrange_defaults,
	.validate = limitrange_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = limitrange_cells,
};

/* ---- LimitRanger admission ------------------------------------------------------------ */

/* The errors of one LimitRange, joined as utilerrors.NewAggregate prints them:
 * one alone as it is, several deduplicated in [a, b]. */
struct errs {
	char *v[64];
	size_t n;
};

static void errs_add(struct errs *e, char *msg)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->v[i], msg)) {
			free(msg);
			return;
		}
	if (e->n < MK_ARRAY_SIZE(e->v))
		e->v[e->n++] = msg;
	else
		free(msg);
}

static char *errs_take(struct errs *e)
{
	struct mk_buf b;
	if (!e->n)
		return NULL;
	mk_buf_init(&b);
	if (e->n > 1)
		mk_buf_puts(&b, "[");
	for (size_t i = 0; i < e->n; i++) {
		mk_buf_printf(&b, "%s%s", i ? ", " : "", e->v[i]);
		free(e->v[i]);
	}
	if (e->n > 1)
		mk_buf_puts(&b, "]");
	e->n = 0;
	return mk_buf_steal(&b);
}

/* canonical text of list[k] and its milli value */
static bool lq(const cJSON *list, const char *k, int64_t *v, char *buf)
{
	return q_get(list, k, v, buf, 32);
}

/* enf bounds k from below (min: the request is looked at first, then the limit) or
 * from above (max: the limit first, then the request), as upstream's
 * minConstraint and maxConstraint. */
static void bound_constraint(struct errs *e, bool is_min, const char *type, const char *k,
			     const cJSON *enf, const cJSON *req, const cJSON *lim)
{
	const char *word = is_min ? "minimum" : "maximum";
	const cJSON *first = is_min ? req : lim, *second = is_min ? lim : req;
	const char *fname = is_min ? "request" : "limit", *sname = is_min ? "limit" : "request";
	int64_t ev, fv, sv;
	char es[32], fs[32], ss[32];
	mk_api_quantity_canonical(enf, es, sizeof(es));
	if (mk_api_quantity_parse(es, &ev, NULL) < 0)
		return;
	if (!lq(first, k, &fv, fs))
		errs_add(e, mk_strdup_printf("%s %s usage per %s is %s.  No %s is specified", word, k,
					     type, es, fname));
	else if (is_min ? fv < ev : fv > ev)
		errs_add(e, mk_strdup_printf("%s %s usage per %s is %s, but %s is %s", word, k, type,
					     es, fname, fs));
	else if (lq(second, k, &sv, ss) && (is_min ? sv < ev : sv > ev))
		errs_add(e, mk_strdup_printf("%s %s usage per %s is %s, but %s is %s", word, k, type,
					     es, sname, ss));
}

static void max_request_constraint(struct errs *e, const char *type, const char *k,
				   const cJSON *enf, const cJSON *req)
{
	int64_t ev, rv;
	char es[32], rs[32];
	mk_api_quantity_canonical(enf, es, sizeof(es));
	if (mk_api_quantity_parse(es, &ev, NULL) < 0)
		return;
	if (!lq(req, k, &rv, rs))
		errs_add(e, mk_strdup_printf("maximum %s usage per %s is %s.  No request is specified",
					     k, type, es));
	else if (rv > ev)
		errs_add(e, mk_strdup_printf("maximum %s usage per %s is %s, but request is %s", k,
					     type, es, rs));
}

static void ratio_constraint(struct errs *e, const char *type, const char *k, const cJSON *enf,
			     const cJSON *req, const cJSON *lim)
{
	int64_t ev, rv = 0, lv = 0;
	char es[32], rs[32], ls[32];
	mk_api_quantity_canonical(enf, es, sizeof(es));
	if (mk_api_quantity_parse(es, &ev, NULL) < 0)
		return;
	if (!lq(req, k, &rv, rs) || rv == 0)
		errs_add(e, mk_strdup_printf("%s max limit to request ratio per %s is %s, but no "
					     "request is specified or request is 0", k, type, es));
	else if (!lq(lim, k, &lv, ls) || lv == 0)
		errs_add(e, mk_strdup_printf("%s max limit to request ratio per %s is %s, but no "
					     "limit is specified or limit is 0", k, type, es));
	else if ((double)lv / (double)rv * 1000.0 > (double)ev)
		errs_add(e, mk_strdup_printf("%s max limit to request ratio per %s is %s, but "
					     "provided ratio is %f", k, type, es,
					     (double)lv / (double)rv));
}

/* every check of item (its type named type) against one requests/limits pair */
static void check_item(struct errs *e, const cJSON *item, const char *type, const cJSON *req,
		       const cJSON *lim)
{
	const cJSON *q;
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(item, "min"))
		bound_constraint(e, true, type, q->string, q, req, lim);
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(item, "max"))
		bound_constraint(e, false, type, q->string, q, req, lim);
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(item, "maxLimitRequestRatio"))
		ratio_constraint(e, type, q->string, q, req, lim);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sets the missing entries of the container's resources.<which> from defs; appends
 * "a, b <what> for <prefix> NAME" to ann when it set any */
static void merge_defaults(cJSON *c, const char *which, const cJSON *defs, const char *what,
			   const char *prefix, struct mk_buf *ann)
{
	cJSON *res = mk_json_ensure_object(c, "resources");
	cJSON *list = cJSON_GetObjectItemCaseSensitive(res, which);
	const char *set[64];
	size_t n = 0;
	const cJSON *d;
	cJSON_ArrayForEach(d, defs)
	{
		if (cJSON_GetObjectItemCaseSensitive(list, d->string))
			continue;
		if (!cJSON_IsObject(list)) {
			cJSON_DeleteItemFromObjectCaseSensitive(res, which);
			list = cJSON_AddObjectToObject(res, which);
		}
		cJSON_AddItemToObject(list, d->string, cJSON_Duplicate(d, 1));
		if (n < MK_ARRAY_SIZE(set))
			set[n++] = d->string;
	}
	if (!n)
		return;
	qsort(set, n, sizeof(*set), cmp_str);
	if (ann->len)
		mk_buf_puts(ann, "; ");
	for (size_t i = 0; i < n; i++)
		mk_buf_printf(ann, "%s%s", i ? ", " : "", set[i]);
	mk_buf_printf(ann, " %s for %s %s", what, prefix, mk_json_get_string(c, "name") ?: "");
}

static const cJSON *item_of(const cJSON *lr, const char *type)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(lr, "spec.limits"))
	{
		const char *t = mk_json_get_string(it, "type");
		if (t && !strcmp(t, type))
			return it;
	}
	return NULL;
}

static const char *const lists[] = { "containers", "initContainers" };

void mk_api_limitranges_default_pod(const cJSON *const *lrs, size_t n, cJSON *pod)
{
	static const char *const prefixes[] = { "container", "init container" };
	cJSON *spec = mk_json_ensure_object(pod, "spec");

	/* mutation: each LimitRange's Container defaults, in turn (Admit) */
	for (size_t i = 0; i < n; i++) {
		const cJSON *ci = item_of(lrs[i], "Container");
		struct mk_buf ann;
		if (!ci)
			continue;
		mk_buf_init(&ann);
		for (size_t l = 0; l < 2; l++) {
			cJSON *c;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l]))
			{
				if (!cJSON_IsObject(c))
					continue;
				struct mk_buf one;
				mk_buf_init(&one);
				merge_defaults(c, "limits", cJSON_GetObjectItemCaseSensitive(ci, "default"),
					       "limit", prefixes[l], &one);
				struct mk_buf req;
				mk_buf_init(&req);
				merge_defaults(c, "requests",
					       cJSON_GetObjectItemCaseSensitive(ci, "defaultRequest"),
					       "request", prefixes[l], &req);
				/* upstream lists the requests a container got before its limits */
				if (req.len)
					mk_buf_printf(&ann, "%s%s", ann.len ? "; " : "", req.data);
				if (one.len)
					mk_buf_printf(&ann, "%s%s", ann.len ? "; " : "", one.data);
				mk_buf_release(&one);
				mk_buf_release(&req);
			}
		}
		if (ann.len) {
			cJSON *md = mk_json_ensure_object(pod, "metadata");
			cJSON *an = cJSON_GetObjectItemCaseSensitive(md, "annotations");
			if (!cJSON_IsObject(an)) {
				cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
				an = cJSON_AddObjectToObject(md, "annotations");
			}
			_cleanup_free_ char *v = mk_strdup_printf("LimitRanger plugin set: %s", ann.data);
			mk_json_set_string(an, "kubernetes.io/limit-ranger", v);
		}
		mk_buf_release(&ann);
	}
}

int mk_api_limitranges_check_pod(const cJSON *const *lrs, size_t n, const cJSON *pod,
				 char **ret_msg)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	/* the first LimitRange whose checks fail refuses (Validate) */
	for (size_t i = 0; i < n; i++) {
		struct errs e = { .n = 0 };
		const cJSON *it;
		cJSON_ArrayForEach(it, mk_json_get(lrs[i], "spec.limits"))
		{
			const char *t = mk_json_get_string(it, "type");
			if (!t)
				continue;
			if (!strcmp(t, "Container")) {
				for (size_t l = 0; l < 2; l++) {
					const cJSON *c;
					cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, lists[l]))
						check_item(&e, it, t, mk_json_get(c, "resources.requests"),
							   mk_json_get(c, "resources.limits"));
				}
			} else if (!strcmp(t, "Pod")) {
				_cleanup_cjson_ cJSON *req = mk_api_pod_resource_list(spec, "requests", true);
				_cleanup_cjson_ cJSON *lim = mk_api_pod_resource_list(spec, "limits", true);
				check_item(&e, it, t, req, lim);
			}
		}
		char *m = errs_take(&e);
		if (m) {
			*ret_msg = m;
			return -1;
		}
	}
	return 0;
}

int mk_api_limitranges_admit_pod(const cJSON *const *lrs, size_t n, cJSON *pod, char **ret_msg)
{
	mk_api_limitranges_default_pod(lrs, n, pod);
	return mk_api_limitranges_check_pod(lrs, n, pod, ret_msg);
}

int mk_api_limitranges_admit_pvc(const cJSON *const *lrs, size_t n, const cJSON *pvc,
				 char **ret_msg)
{
	const cJSON *req = mk_json_get(pvc, "spec.resources.requests");
	for (size_t i = 0; i < n; i++) {
		struct errs e = { .n = 0 };
		const cJSON *it = item_of(lrs[i], "PersistentVolumeClaim"), *q;
		if (!it)
			continue;
		_cleanup_cjson_ cJSON *none = cJSON_CreateObject();
		cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(it, "min"))
			bound_constraint(&e, true, "PersistentVolumeClaim", q->string, q, req, none);
		cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(it, "max"))
			max_request_constraint(&e, "PersistentVolumeClaim", q->string, q, req);
		char *m = errs_take(&e);
		if (m) {
			*ret_msg = m;
			return -1;
		}
	}
	return 0;
}
