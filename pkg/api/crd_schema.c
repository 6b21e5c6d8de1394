/* Structural schemas of custom resources (openAPIV3Schema): validation of a value
 * with kube-apiserver's wording (apiextensions-apiserver's schema validation over
 * kube-openapi: "spec.replicas in body must be of type integer: \"string\""),
 * defaulting, pruning of unknown fields, and the check that a definition's schema
 * is structural. CEL rules (x-kubernetes-validations) are not evaluated. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define R_INVALID "FieldValueInvalid"

/* no libm: the binary does not link it */
static bool is_integral(double d)
{
	return d > -9.007199254740992e15 && d < 9.007199254740992e15 && d == (double)(long long)d;
}

static const char *type_of(const cJSON *v)
{
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsObject(v))
		return "object";
	if (cJSON_IsNumber(v))
		return is_integral(v->valuedouble) ? "integer" : "number";
	return "unknown";
}

static bool flag(const cJSON *s, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, key));
}

static char *child_path(const char *path, const char *key)
{
	return path[0] ? mk_strdup_printf("%s.%s", path, key) : mk_strdup(key);
}

/* "Invalid value: V: PATH in body DETAIL" */
static void invalid_body(cJSON *causes, const char *path, const cJSON *v, const char *detail)
{
	_cleanup_free_ char *r = mk_api_json_text(v);
	mk_api_cause_add(causes, R_INVALID, path, "Invalid value: %s: %s in body %s", r,
			 path[0] ? path : "<root>", detail);
}

static bool type_matches(const char *want, const cJSON *v)
{
	const char *t = type_of(v);
	if (!strcmp(want, t))
		return true;
	return !strcmp(want, "number") && !strcmp(t, "integer");
}

static bool is_date_time(const char *s)
{
	return mk_time_parse(s) != (time_t)-1;
}

static bool is_date(const char *s)
{
	int y, m, d;
	char tail;
	return sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && strlen(s) == 10 && m >= 1 &&
	       m <= 12 && d >= 1 && d <= 31;
}

static bool is_base64(const char *s)
{
	return mk_api_base64_check(s, NULL) == -1;
}

/* Checks format (the ones kube-openapi validates); NULL if fine, else the type
 * name used in the message. */
static const char *format_error(const char *fmt, const cJSON *v)
{
	if (!fmt)
		return NULL;
	if (cJSON_IsNumber(v)) {
		if (!strcmp(fmt, "int32") && (v->valuedouble > 2147483647.0 || v->valuedouble < -2147483648.0))
			return "int32";
		return NULL;
	}
	if (!cJSON_IsString(v))
		return NULL;
	const char *s = v->valuestring;
	if (!strcmp(fmt, "date-time") && !is_date_time(s))
		return "date-time";
	if (!strcmp(fmt, "date") && !is_date(s))
		return "date";
	if (!strcmp(fmt, "byte") && !is_base64(s))
		return "byte";
	return NULL;
}

static bool pattern_matches(const char *pattern, const char *s, bool *ret_bad)
{
	regex_t re;
	*ret_bad = false;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
		*ret_bad = true;
		return true;
	}
	bool ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static double num(const cJSON *s, const char *key, bool *have)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(s, key);
	*have = cJSON_IsNumber(j);
	return *have ? j->valuedouble : 0;
}

static void validate(const cJSON *s, const cJSON *v, const char *path, cJSON *causes, bool root);

static void validate_list_type(const cJSON *s, const cJSON *v, const char *path, cJSON *causes)
{
	const char *lt = mk_json_get_string(s, "x-kubernetes-list-type");
	bool unique = flag(s, "uniqueItems") || (lt && !strcmp(lt, "set"));
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(s, "x-kubernetes-list-map-keys");
	int i = 0;
	const cJSON *a;

	if (!unique && !(lt && !strcmp(lt, "map")))
		return;
	cJSON_ArrayForEach(a, v)
	{
		const cJSON *b;
		int j = 0;
		cJSON_ArrayForEach(b, v)
		{
			if (j++ >= i)
				break;
			bool same;
			if (lt && !strcmp(lt, "map")) {
				const cJSON *k;
				same = cJSON_IsObject(a) && cJSON_IsObject(b);
				cJSON_ArrayForEach(k, keys)
					if (cJSON_IsString(k))
						same = same && mk_api_json_same(cJSON_GetObjectItemCaseSensitive(a, k->valuestring),
										cJSON_GetObjectItemCaseSensitive(b, k->valuestring));
			} else {
				same = cJSON_Compare(a, b, 1);
			}
			if (same) {
				_cleanup_free_ char *p = mk_strdup_printf("%s[%d]", path, i);
				_cleanup_free_ char *r = NULL;
				if (lt && !strcmp(lt, "map")) {
					/* the key fields, as kube prints them */
					cJSON *kv = cJSON_CreateObject();
					const cJSON *k;
					cJSON_ArrayForEach(k, keys)
						if (cJSON_IsString(k) && cJSON_GetObjectItemCaseSensitive(a, k->valuestring))
							cJSON_AddItemToObject(kv, k->valuestring,
									      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, k->valuestring), 1));
					r = mk_api_json_text(kv);
					cJSON_Delete(kv);
				} else {
					r = mk_api_json_text(a);
				}
				mk_api_cause_add(causes, "FieldValueDuplicate", p, "Duplicate value: %s", r);
				break;
			}
		}
		i++;
	}
}

/* How many causes validating v against s would add (for anyOf/oneOf/not). */
static int count_errors(const cJSON *s, const cJSON *v, const char *path)
{
	_cleanup_cjson_ cJSON *c = cJSON_CreateArray();
	validate(s, v, path, c, false);
	return cJSON_GetArraySize(c);
}

/* null, and the type (x-kubernetes-int-or-string: integer or string); false when
 * validation of v stops here. */
static bool value_type(const cJSON *s, const cJSON *v, const char *path, cJSON *causes)
{
	const char *type = mk_json_get_string(s, "type");
	if (cJSON_IsNull(v)) {
		if (flag(s, "nullable") || (!type && flag(s, "x-kubernetes-preserve-unknown-fields")))
			return false;
		if (type) {
			_cleanup_free_ char *d = mk_strdup_printf("must be of type %s: \"null\"", type);
			mk_api_cause_add(causes, R_INVALID, path, "Invalid value: \"null\": %s in body %s",
					 path[0] ? path : "<root>", d);
		}
		return false;
	}
	if (flag(s, "x-kubernetes-int-or-string")) {
		if (!cJSON_IsString(v) && strcmp(type_of(v), "integer")) {
			_cleanup_free_ char *d =
				mk_strdup_printf("must be of type integer,string: \"%s\"", type_of(v));
			mk_api_cause_add(causes, R_INVALID, path, "Invalid value: \"%s\": %s in body %s",
					 type_of(v), path[0] ? path : "<root>", d);
			return false;
		}
	} else if (type && *type && !type_matches(type, v)) {
		_cleanup_free_ char *d = mk_strdup_printf("must be of type %s: \"%s\"", type, type_of(v));
		mk_api_cause_add(causes, R_INVALID, path, "Invalid value: \"%s\": %s in body %s", type_of(v),
				 path[0] ? path : "<root>", d);
		return false;
	}
	return true;
}

/* enum, and format. */
static void value_enum_format(const cJSON *s, const cJSON *v, const char *path, cJSON *causes)
{
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
	if (cJSON_IsArray(en) && cJSON_GetArraySize(en) > 0) {
		const cJSON *e;
		bool ok = false;
		cJSON_ArrayForEach(e, en)
			ok |= cJSON_Compare(e, v, 1);
		if (!ok) {
			struct mk_buf b;
			_cleanup_free_ char *r = mk_api_json_text(v);
			mk_buf_init(&b);
			mk_buf_puts(&b, "");
			cJSON_ArrayForEach(e, en)
			{
				_cleanup_free_ char *er = mk_api_json_text(e);
				mk_buf_printf(&b, "%s%s", b.len ? ", " : "", er);
			}
			mk_api_cause_add(causes, "FieldValueNotSupported", path,
					 "Unsupported value: %s: supported values: %s", r, b.data);
			mk_buf_release(&b);
		}
	}
	const char *ferr = format_error(mk_json_get_string(s, "format"), v);
	if (ferr) {
		_cleanup_free_ char *r = mk_api_json_text(v);
		_cleanup_free_ char *d = mk_strdup_printf("must be of type %s: %s", ferr, r);
		invalid_body(causes, path, v, d);
	}
}

/* minimum, maximum (exclusive or not), multipleOf. */
static void value_number(const cJSON *s, const cJSON *v, const char *path, cJSON *causes)
{
	char d[128];
	bool have;
	double x = num(s, "minimum", &have);
	if (have) {
		bool ex = flag(s, "exclusiveMinimum");
		if (ex ? v->valuedouble <= x : v->valuedouble < x) {
			snprintf(d, sizeof(d), "should be greater than %s%.15g", ex ? "" : "or equal to ", x);
			invalid_body(causes, path, v, d);
		}
	}
	x = num(s, "maximum", &have);
	if (have) {
		bool ex = flag(s, "exclusiveMaximum");
		if (ex ? v->valuedouble >= x : v->valuedouble > x) {
			snprintf(d, sizeof(d), "should be less than %s%.15g", ex ? "" : "or equal to ", x);
			invalid_body(causes, path, v, d);
		}
	}
	x = num(s, "multipleOf", &have);
	if (have && x > 0 && !is_integral(v->valuedouble / x)) {
		snprintf(d, sizeof(d), "should be a multiple of %.15g", x);
		invalid_body(causes, path, v, d);
	}
}

/* maxLength, minLength (in characters), pattern. */
static void value_string(const cJSON *s, const cJSON *v, const char *path, cJSON *causes)
{
	size_t chars = 0;
	char d[160];
	bool have;
	for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++)
		chars += (*p & 0xC0) != 0x80;
	double x = num(s, "maxLength", &have);
	if (have && (double)chars > x)
		mk_api_cause_add(causes, "FieldValueTooLong", path,
				 "Too long: may not be more than %.0f bytes", x);
	x = num(s, "minLength", &have);
	if (have && (double)chars < x) {
		snprintf(d, sizeof(d), "should be at least %.0f chars long", x);
		invalid_body(causes, path, v, d);
	}
	const char *pat = mk_json_get_string(s, "pattern");
	bool bad;
	if (pat && !pattern_matches(pat, v->valuestring, &bad) && !bad) {
		_cleanup_free_ char *dd = mk_strdup_printf("should match '%s'", pat);
		invalid_body(causes, path, v, dd);
	}
}

/* maxItems, minItems, x-kubernetes-list-type, then each item against items. */
static void value_array(const cJSON *s, const cJSON *v, const char *path, cJSON *causes)
{
	int n = cJSON_GetArraySize(v), i = 0;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
	const cJSON *it;
	bool have;
	double x = num(s, "maxItems", &have);
	if (have && n > x)
		mk_api_cause_add(causes, "FieldValueTooMany", path,
				 "Too many: %d: must have at most %.0f items", n, x);
	x = num(s, "minItems", &have);
	if (have && n < x) {
		char d[96];
		snprintf(d, sizeof(d), "should have at least %.0f items", x);
		invalid_body(causes, path, v, d);
	}
	validate_list_type(s, v, path, causes);
	cJSON_ArrayForEach(it, v)
	{
		_cleanup_free_ char *p = mk_strdup_printf("%s[%d]", path, i++);
		if (cJSON_IsObject(items))
			validate(items, it, p, causes, false);
	}
}

/* required (and apiVersion, kind of an embedded resource), maxProperties, then each
 * member against its property or additionalProperties; at the root and in an
 * embedded resource apiVersion, kind and metadata are not the schema's. */
static void value_object(const cJSON *s, const cJSON *v, const char *path, cJSON *causes, bool root)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *ap = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
	const cJSON *req, *m;
	bool embedded = flag(s, "x-kubernetes-embedded-resource");
	cJSON_ArrayForEach(req, cJSON_GetObjectItemCaseSensitive(s, "required"))
	{
		if (!cJSON_IsString(req) || cJSON_GetObjectItemCaseSensitive(v, req->valuestring))
			continue;
		_cleanup_free_ char *p = child_path(path, req->valuestring);
		mk_api_cause_add(causes, "FieldValueRequired", p, "Required value");
	}
	if (embedded) {
		const char *keys[] = { "apiVersion", "kind" };
		for (size_t k = 0; k < MK_ARRAY_SIZE(keys); k++) {
			const char *sv = mk_json_get_string(v, keys[k]);
			if (sv && *sv)
				continue;
			_cleanup_free_ char *p = child_path(path, keys[k]);
			mk_api_cause_add(causes, "FieldValueRequired", p,
					 "Required value: must not be empty");
		}
	}
	bool have;
	double x = num(s, "maxProperties", &have);
	if (have && cJSON_GetArraySize(v) > x)
		mk_api_cause_add(causes, "FieldValueTooMany", path,
				 "Too many: %d: must have at most %.0f items", cJSON_GetArraySize(v), x);
	cJSON_ArrayForEach(m, v)
	{
		if ((root || embedded) && (!strcmp(m->string, "apiVersion") || !strcmp(m->string, "kind") ||
					   !strcmp(m->string, "metadata")))
			continue;
		_cleanup_free_ char *p = child_path(path, m->string);
		const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, m->string);
		if (ps)
			validate(ps, m, p, causes, false);
		else if (cJSON_IsObject(ap))
			validate(ap, m, p, causes, false);
	}
}

/* allOf, anyOf, oneOf, not. */
static void value_combinators(const cJSON *s, const cJSON *v, const char *path, cJSON *causes, bool root)
{
	const cJSON *sub;
	cJSON_ArrayForEach(sub, cJSON_GetObjectItemCaseSensitive(s, "allOf"))
		validate(sub, v, path, causes, root);
	const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
	if (cJSON_GetArraySize(any) > 0) {
		bool ok = false;
		cJSON_ArrayForEach(sub, any)
			ok |= count_errors(sub, v, path) == 0;
		if (!ok)
			invalid_body(causes, path, v, "should match at least one schema in anyOf");
	}
	const cJSON *one = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
	if (cJSON_GetArraySize(one) > 0) {
		int ok = 0;
		cJSON_ArrayForEach(sub, one)
			ok += count_errors(sub, v, path) == 0;
		if (ok != 1)
			invalid_body(causes, path, v, "must validate one and only one schema (oneOf)");
	}
	const cJSON *not = cJSON_GetObjectItemCaseSensitive(s, "not");
	if (cJSON_IsObject(not) && count_errors(not, v, path) == 0)
		invalid_body(causes, path, v, "must not validate the schema (not)");
}

static void validate(const cJSON *s, const cJSON *v, const char *path, cJSON *causes, bool root)
{
	if (!cJSON_IsObject(s) || !v || !value_type(s, v, path, causes))
		return;
	value_enum_format(s, v, path, causes);
	if (cJSON_IsNumber(v))
		value_number(s, v, path, causes);
	if (cJSON_IsString(v))
		value_string(s, v, path, causes);
	if (cJSON_IsArray(v))
		value_array(s, v, path, causes);
	if (cJSON_IsObject(v))
		value_object(s, v, path, causes, root);
	value_combinators(s, v, path, causes, root);
}

void mk_api_crd_schema_validate(const cJSON *schema, const cJSON *v, const char *path,
				cJSON *causes)
{
	validate(schema, v, path ? path : "", causes, !path || !path[0]);
}

/* ---- defaults ---------------------------------------------------------------- */

void mk_api_crd_schema_default(const cJSON *s, cJSON *v)
{
	if (!cJSON_IsObject(s) || !v)
		return;
	if (cJSON_IsObject(v)) {
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
		const cJSON *ap = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
		const cJSON *p;
		cJSON_ArrayForEach(p, props)
		{
			const cJSON *def = cJSON_GetObjectItemCaseSensitive(p, "default");
			cJSON *cur = cJSON_GetObjectItemCaseSensitive(v, p->string);
			/* a null for a non-nullable field with a default gets the default */
			if (def && (!cur || (cJSON_IsNull(cur) && !flag(p, "nullable"))))
				mk_json_set(v, p->string, cJSON_Duplicate(def, 1));
		}
		cJSON *m;
		cJSON_ArrayForEach(m, v)
		{
			const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, m->string);
			if (ps)
				mk_api_crd_schema_default(ps, m);
			else if (cJSON_IsObject(ap))
				mk_api_crd_schema_default(ap, m);
		}
	} else if (cJSON_IsArray(v)) {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
		cJSON *it;
		cJSON_ArrayForEach(it, v)
			mk_api_crd_schema_default(items, it);
	}
}

/* ---- pruning --------------------------------------------------------------------- */

void mk_api_crd_schema_prune(const cJSON *s, cJSON *v, const char *path, cJSON *unknown,
			     bool prune, bool root)
{
	if (!cJSON_IsObject(s) || !v)
		return;
	if (!path)
		path = "";
	if (cJSON_IsArray(v)) {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
		cJSON *it;
		int i = 0;
		cJSON_ArrayForEach(it, v)
		{
			_cleanup_free_ char *p = mk_strdup_printf("%s[%d]", path, i++);
			if (cJSON_IsObject(items))
				mk_api_crd_schema_prune(items, it, p, unknown, prune, false);
		}
		return;
	}
	if (!cJSON_IsObject(v))
		return;
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *ap = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
	bool keep_all = flag(s, "x-kubernetes-preserve-unknown-fields") || cJSON_IsTrue(ap);
	bool embedded = root || flag(s, "x-kubernetes-embedded-resource");
	cJSON *m = v->child;
	while (m) {
		cJSON *next = m->next;
		_cleanup_free_ char *p = child_path(path, m->string);
		const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, m->string);
		if (embedded && (!strcmp(m->string, "apiVersion") || !strcmp(m->string, "kind") ||
				 !strcmp(m->string, "metadata"))) {
			/* ObjectMeta is the built-in schema's business */
		} else if (ps) {
			mk_api_crd_schema_prune(ps, m, p, unknown, prune, false);
		} else if (cJSON_IsObject(ap)) {
			mk_api_crd_schema_prune(ap, m, p, unknown, prune, false);
		} else if (!keep_all) {
			if (unknown)
				cJSON_AddItemToArray(unknown, cJSON_CreateString(p));
			if (prune)
				cJSON_Delete(cJSON_DetachItemViaPointer(v, m));
		}
		m = next;
	}
}

/* ---- structural check ------------------------------------------------------------- */

static void check_node(const cJSON *s, const char *path, cJSON *causes, bool root, bool typed_parent);

/* type: a known one, object at the root, empty with x-kubernetes-int-or-string,
 * required except under int-or-string or preserve-unknown-fields. */
static void node_type(const cJSON *s, const char *path, cJSON *causes, bool root)
{
	static const char *const types[] = { "array", "boolean", "integer", "number", "object", "string", NULL };
	const char *type = mk_json_get_string(s, "type");
	bool ios = flag(s, "x-kubernetes-int-or-string");
	bool pres = flag(s, "x-kubernetes-preserve-unknown-fields");
	_cleanup_free_ char *tp = mk_strdup_printf("%s.type", path);
	if (type && *type) {
		bool ok = false;
		for (size_t i = 0; types[i]; i++)
			ok |= !strcmp(types[i], type);
		if (!ok)
			mk_api_v_not_supported(causes, tp, type, types);
		if (root && strcmp(type, "object"))
			mk_api_cause_add(causes, R_INVALID, tp, "Invalid value: \"%s\": must be object at the root", type);
		if (ios)
			mk_api_cause_add(causes, "FieldValueForbidden", tp,
					 "Forbidden: must be empty if x-kubernetes-int-or-string is true");
	} else if (root) {
		mk_api_cause_add(causes, "FieldValueRequired", tp, "Required value: must not be empty at the root");
	} else if (!ios && !pres) {
		mk_api_cause_add(causes, "FieldValueRequired", tp,
				 "Required value: must not be empty for specified object fields");
	}
}

/* The child schemas: properties (at the root, metadata may restrict only name and
 * generateName), additionalProperties (not beside properties), items (required for
 * an array). */
static void node_children(const cJSON *s, const char *path, cJSON *causes, bool root)
{
	const char *type = mk_json_get_string(s, "type");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *ap = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
	const cJSON *j;
	if (props && ap && !cJSON_IsFalse(ap)) {
		_cleanup_free_ char *p = mk_strdup_printf("%s.additionalProperties", path);
		mk_api_cause_add(causes, "FieldValueForbidden", p,
				 "Forbidden: additionalProperties and properties are mutual exclusive");
	}
	cJSON_ArrayForEach(j, props)
	{
		_cleanup_free_ char *p = mk_strdup_printf("%s.properties[%s]", path, j->string);
		if (root && !strcmp(j->string, "metadata")) {
			/* only name and generateName may be restricted; the rest is ObjectMeta */
			const cJSON *mp;
			cJSON_ArrayForEach(mp, cJSON_GetObjectItemCaseSensitive(j, "properties"))
				if (strcmp(mp->string, "name") && strcmp(mp->string, "generateName")) {
					_cleanup_free_ char *q = mk_strdup_printf("%s.properties[%s]", p, mp->string);
					mk_api_cause_add(causes, "FieldValueForbidden", q, "Forbidden: must not be specified");
				}
		}
		check_node(j, p, causes, false, true);
	}
	if (cJSON_IsObject(ap)) {
		_cleanup_free_ char *p = mk_strdup_printf("%s.additionalProperties", path);
		check_node(ap, p, causes, false, true);
	}
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
	if (type && !strcmp(type, "array")) {
		_cleanup_free_ char *p = mk_strdup_printf("%s.items", path);
		if (!cJSON_IsObject(items))
			mk_api_cause_add(causes, "FieldValueRequired", p, "Required value: must be specified");
		else
			check_node(items, p, causes, false, true);
	}
}

/* x-kubernetes-list-type: known, on arrays only, map with map keys. */
static void node_list_type(const cJSON *s, const char *path, cJSON *causes)
{
	static const char *const lts[] = { "atomic", "set", "map", NULL };
	const char *type = mk_json_get_string(s, "type");
	const char *lt = mk_json_get_string(s, "x-kubernetes-list-type");
	if (!lt)
		return;
	_cleanup_free_ char *p = mk_strdup_printf("%s.x-kubernetes-list-type", path);
	if (strcmp(lt, "atomic") && strcmp(lt, "set") && strcmp(lt, "map"))
		mk_api_v_not_supported(causes, p, lt, lts);
	if (!type || strcmp(type, "array"))
		mk_api_cause_add(causes, R_INVALID, p, "Invalid value: \"%s\": must only be used if type is array", lt);
	if (!strcmp(lt, "map") && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "x-kubernetes-list-map-keys")) == 0) {
		_cleanup_free_ char *q = mk_strdup_printf("%s.x-kubernetes-list-map-keys", path);
		mk_api_cause_add(causes, "FieldValueRequired", q,
				 "Required value: must not be empty if x-kubernetes-list-type is map");
	}
}

/* default validates against its own schema; allOf/anyOf/oneOf carry value
 * validation only (types live in the structural part). */
static void node_default_combinators(const cJSON *s, const char *path, cJSON *causes)
{
	const cJSON *def = cJSON_GetObjectItemCaseSensitive(s, "default");
	const cJSON *j;
	if (def) {
		_cleanup_free_ char *p = mk_strdup_printf("%s.default", path);
		_cleanup_cjson_ cJSON *c = cJSON_CreateArray();
		validate(s, def, p, c, false);
		const cJSON *e;
		cJSON_ArrayForEach(e, c)
			cJSON_AddItemToArray(causes, cJSON_Duplicate(e, 1));
	}
	const char *subs[] = { "allOf", "anyOf", "oneOf" };
	for (size_t k = 0; k < MK_ARRAY_SIZE(subs); k++) {
		int i = 0;
		cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(s, subs[k]))
		{
			if (cJSON_GetObjectItemCaseSensitive(j, "type") || cJSON_GetObjectItemCaseSensitive(j, "default")) {
				_cleanup_free_ char *p = mk_strdup_printf("%s.%s[%d]", path, subs[k], i);
				mk_api_cause_add(causes, "FieldValueForbidden", p,
						 "Forbidden: must not specify type or default");
			}
			i++;
		}
	}
}

static void check_node(const cJSON *s, const char *path, cJSON *causes, bool root, bool typed_parent)
{
	(void)typed_parent;
	if (!cJSON_IsObject(s)) {
		mk_api_cause_add(causes, R_INVALID, path, "Invalid value: must be a schema object");
		return;
	}
	node_type(s, path, causes, root);
	if (cJSON_GetObjectItemCaseSensitive(s, "$ref")) {
		_cleanup_free_ char *p = mk_strdup_printf("%s.$ref", path);
		mk_api_cause_add(causes, "FieldValueForbidden", p, "Forbidden: $ref is not supported");
	}
	node_children(s, path, causes, root);
	node_list_type(s, path, causes);
	node_default_combinators(s, path, causes);
}

void mk_api_crd_schema_check(const cJSON *schema, const char *path, cJSON *causes)
{
	check_node(schema, path, causes, true, false);
}
