/* Validation as the real API server does it (k8s.io/kubernetes/pkg/apis/core/validation,
 * apps/validation and apimachinery's util/validation), for the fields minik8s
 * serves. Causes carry the same reasons, field paths and message bodies as
 * Kubernetes' field.Error ("Required value", `Invalid value: "x": ...`,
 * `Unsupported value: "x": supported values: ...`), so kubectl prints them alike. */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

/* ---- name checks (apimachinery/pkg/util/validation) ----------------------- */

#define DNS1123_LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_LABEL_MSG                                                                   \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or " \
	"'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or " \
	"'123-abc', regex used for validation is '" DNS1123_LABEL_FMT "')"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define DNS1123_SUBDOMAIN_MSG                                                                \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
	"'-' or '.', and must start and end with an alphanumeric character (e.g. "           \
	"'example.com', regex used for validation is '" DNS1123_SUBDOMAIN_FMT "')"
#define DNS1035_LABEL_FMT "[a-z]([-a-z0-9]*[a-z0-9])?"
#define DNS1035_LABEL_MSG                                                                  \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start " \
	"with an alphabetic character, and end with an alphanumeric character (e.g. "        \
	"'my-name',  or 'abc-123', regex used for validation is '" DNS1035_LABEL_FMT "')"
#define QUALIFIED_NAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QUALIFIED_NAME_BODY                                                              \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end " \
	"with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "    \
	"regex used for validation is '" QUALIFIED_NAME_FMT "')"
#define LABEL_VALUE_MSG                                                                   \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', " \
	"'_' or '.', and must start and end with an alphanumeric character (e.g. "           \
	"'MyValue',  or 'my_value',  or '12345', regex used for validation is '("            \
	QUALIFIED_NAME_FMT ")?')"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static bool dns_label_ok(const char *s, size_t n)
{
	if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

const char *mk_api_check_dns1123_label(const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	if (n > 63)
		return "must be no more than 63 characters";
	return dns_label_ok(s, n) ? NULL : DNS1123_LABEL_MSG;
}

const char *mk_api_check_dns1123_subdomain(const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	if (n > 253)
		return "must be no more than 253 characters";
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!dns_label_ok(p, len))
			return DNS1123_SUBDOMAIN_MSG;
		if (!dot)
			return NULL;
		p = dot + 1;
	}
}

static const char *check_dns1035_label(const char *s)
{
	size_t n = strlen(s);
	if (n > 63)
		return "must be no more than 63 characters";
	if (!dns_label_ok(s, n) || !(s[0] >= 'a' && s[0] <= 'z'))
		return DNS1035_LABEL_MSG;
	return NULL;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n) */
static bool qualified_ok(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

const char *mk_api_check_label_key(const char *s)
{
	if (!s)
		s = "";
	const char *slash = strchr(s, '/');
	const char *name = s;
	if (slash) {
		if (strchr(slash + 1, '/'))
			return "a qualified name " QUALIFIED_NAME_BODY
			       " with an optional DNS subdomain prefix and '/' (e.g. "
			       "'example.com/MyName')";
		if (slash == s)
			return "prefix part must be non-empty";
		size_t plen = (size_t)(slash - s);
		char prefix[256];
		if (plen > 253)
			return "prefix part must be no more than 253 characters";
		memcpy(prefix, s, plen);
		prefix[plen] = '\0';
		if (mk_api_check_dns1123_subdomain(prefix))
			return "prefix part " DNS1123_SUBDOMAIN_MSG;
		name = slash + 1;
	}
	size_t n = strlen(name);
	if (n == 0)
		return "name part must be non-empty";
	if (n > 63)
		return "name part must be no more than 63 characters";
	if (!qualified_ok(name, n))
		return "name part " QUALIFIED_NAME_BODY;
	return NULL;
}

const char *mk_api_check_label_value(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s);
	if (n > 63)
		return "must be no more than 63 characters";
	if (n > 0 && !qualified_ok(s, n))
		return LABEL_VALUE_MSG;
	return NULL;
}

/* IANA_SVC_NAME (RFC 6335), as IsValidPortName */
static const char *check_port_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;
	if (n > 15)
		return "must be no more than 15 characters";
	for (size_t i = 0; i < n; i++) {
		if (!lower_alnum(s[i]) && s[i] != '-')
			return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
	}
	if (strstr(s, "--"))
		return "must not contain consecutive hyphens";
	if (!letter)
		return "must contain at least one letter (a-z)";
	if (n > 0 && (s[0] == '-' || s[n - 1] == '-'))
		return "must not begin or end with a hyphen";
	return NULL;
}

static const char *check_env_name(const char *s)
{
	if (!s[0] || isdigit((unsigned char)s[0]))
		goto bad;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			goto bad;
	return NULL;
bad:
	return "a valid environment variable name must consist of alphabetic characters, "
	       "digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',"
	       "  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
	       "'[-._a-zA-Z][-._a-zA-Z0-9]*')";
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* ---- causes ------------------------------------------------------------------ */

#define R_REQUIRED "FieldValueRequired"
#define R_INVALID "FieldValueInvalid"
#define R_NOT_SUPPORTED "FieldValueNotSupported"
#define R_DUPLICATE "FieldValueDuplicate"
#define R_FORBIDDEN "FieldValueForbidden"
#define R_NOT_FOUND "FieldValueNotFound"
#define R_TOO_LONG "FieldValueTooLong"

/* Go's %q of a string, enough for messages: quotes, backslashes, control bytes. */
static char *quote(const char *s)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			mk_buf_printf(&b, "\\%c", *p);
		else if (*p == '\n')
			mk_buf_puts(&b, "\\n");
		else if (*p == '\t')
			mk_buf_puts(&b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			mk_buf_printf(&b, "\\x%02x", *p);
		else
			mk_buf_append(&b, p, 1);
	}
	mk_buf_puts(&b, "\"");
	return mk_buf_steal(&b);
}

/* The value of a cJSON node as Kubernetes prints it in "Invalid value: V". */
static char *value_repr(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return mk_strdup("null");
	if (cJSON_IsString(v))
		return quote(v->valuestring);
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15)
			return mk_strdup_printf("%lld", (long long)v->valuedouble);
		return mk_strdup_printf("%g", v->valuedouble);
	}
	char *p = cJSON_PrintUnformatted(v);
	char *s = mk_strdup(p ? p : "");
	cJSON_free(p);
	return s;
}

static void required(cJSON *causes, const char *field, const char *detail)
{
	if (detail && detail[0])
		mk_api_cause_add(causes, R_REQUIRED, field, "Required value: %s", detail);
	else
		mk_api_cause_add(causes, R_REQUIRED, field, "Required value");
}

static void invalid(cJSON *causes, const char *field, const cJSON *value, const char *detail)
{
	_cleanup_free_ char *v = value_repr(value);
	mk_api_cause_add(causes, R_INVALID, field, "Invalid value: %s: %s", v, detail);
}

static void invalid_str(cJSON *causes, const char *field, const char *value, const char *detail)
{
	_cleanup_free_ char *v = quote(value ? value : "");
	mk_api_cause_add(causes, R_INVALID, field, "Invalid value: %s: %s", v, detail);
}

static void invalid_num(cJSON *causes, const char *field, double value, const char *detail)
{
	mk_api_cause_add(causes, R_INVALID, field, "Invalid value: %lld: %s", (long long)value,
			 detail);
}

/* supported: NULL-terminated list, printed quoted and comma-separated */
static void not_supported(cJSON *causes, const char *field, const char *value,
			  const char *const *supported)
{
	struct mk_buf b;
	_cleanup_free_ char *v = quote(value ? value : "");
	mk_buf_init(&b);
	for (size_t i = 0; supported[i]; i++)
		mk_buf_printf(&b, "%s\"%s\"", i ? ", " : "", supported[i]);
	mk_api_cause_add(causes, R_NOT_SUPPORTED, field, "Unsupported value: %s: supported values: %s",
			 v, b.data ? b.data : "");
	mk_buf_release(&b);
}

static void duplicate(cJSON *causes, const char *field, const cJSON *value)
{
	_cleanup_free_ char *v = value_repr(value);
	mk_api_cause_add(causes, R_DUPLICATE, field, "Duplicate value: %s", v);
}

static void forbidden(cJSON *causes, const char *field, const char *detail)
{
	mk_api_cause_add(causes, R_FORBIDDEN, field, "Forbidden: %s", detail);
}

static void not_found(cJSON *causes, const char *field, const char *value)
{
	_cleanup_free_ char *v = quote(value);
	mk_api_cause_add(causes, R_NOT_FOUND, field, "Not found: %s", v);
}

/* Field path builder: fixed buffers are enough since paths only hold our own
 * names and indexes. */
#define PATH_MAX_LEN 256
static char *pathf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static char *pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return buf;
}
#define P(buf, ...) pathf(buf, sizeof(buf), __VA_ARGS__)
static void check_sa_token(cJSON *causes, const cJSON *x, const char *sb);

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static bool in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* String member: NULL if absent or null; a non-string is reported Invalid and
 * also returns NULL with *bad set. */
static const char *get_str(cJSON *causes, const cJSON *obj, const char *key,
			   const char *field, bool *bad)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!j || cJSON_IsNull(j))
		return NULL;
	if (!cJSON_IsString(j)) {
		invalid(causes, field, j, "must be a string");
		if (bad)
			*bad = true;
		return NULL;
	}
	return j->valuestring;
}

/* Integer member: false if absent/null; non-integers reported Invalid. */
static bool get_int(cJSON *causes, const cJSON *obj, const char *key, const char *field,
		    long long *ret)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!j || cJSON_IsNull(j))
		return false;
	if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) ||
	    fabs(j->valuedouble) > 9e15) {
		invalid(causes, field, j, "must be an integer");
		return false;
	}
	*ret = (long long)j->valuedouble;
	return true;
}

static void check_port_range(cJSON *causes, const char *field, long long port)
{
	if (port < 1 || port > 65535)
		invalid_num(causes, field, (double)port, "must be between 1 and 65535, inclusive");
}

/* ---- metadata ------------------------------------------------------------------ */

static void validate_labels(cJSON *causes, const cJSON *labels, const char *field)
{
	const cJSON *l;
	if (!labels || cJSON_IsNull(labels))
		return;
	if (!cJSON_IsObject(labels)) {
		invalid(causes, field, labels, "must be an object of strings");
		return;
	}
	cJSON_ArrayForEach(l, labels)
	{
		const char *msg = mk_api_check_label_key(l->string);
		if (msg)
			invalid_str(causes, field, l->string, msg);
		if (!cJSON_IsString(l)) {
			invalid(causes, field, l, "must be a string");
			continue;
		}
		msg = mk_api_check_label_value(l->valuestring);
		if (msg)
			invalid_str(causes, field, l->valuestring, msg);
	}
}

#define ANNOTATIONS_MAX_BYTES (256 * 1024)

static void validate_annotations(cJSON *causes, const cJSON *ann, const char *field)
{
	const cJSON *a;
	size_t total = 0;
	if (!ann || cJSON_IsNull(ann))
		return;
	if (!cJSON_IsObject(ann)) {
		invalid(causes, field, ann, "must be an object of strings");
		return;
	}
	cJSON_ArrayForEach(a, ann)
	{
		/* keys are checked case-insensitively, as ValidateAnnotations lowers them */
		_cleanup_free_ char *lower = mk_strdup(a->string);
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		const char *msg = mk_api_check_label_key(lower);
		if (msg)
			invalid_str(causes, field, a->string, msg);
		if (!cJSON_IsString(a)) {
			invalid(causes, field, a, "must be a string");
			continue;
		}
		total += strlen(a->string) + strlen(a->valuestring);
	}
	if (total > ANNOTATIONS_MAX_BYTES)
		mk_api_cause_add(causes, R_TOO_LONG, field, "Too long: may not be more than %d bytes",
				 ANNOTATIONS_MAX_BYTES);
}

enum name_rule { NAME_SUBDOMAIN, NAME_LABEL, NAME_DNS1035, NAME_PATH_SEGMENT };

/* path.IsValidPathSegmentName: the names RBAC kinds take (system:basic-user) */
static const char *check_path_segment(const char *s)
{
	if (!strcmp(s, "."))
		return "may not be '.'";
	if (!strcmp(s, ".."))
		return "may not be '..'";
	if (strchr(s, '/'))
		return "may not contain '/'";
	if (strchr(s, '%'))
		return "may not contain '%'";
	return NULL;
}

static void validate_object_meta(cJSON *causes, const cJSON *meta, const char *prefix,
				 enum name_rule rule, int namespaced)
{
	char f[PATH_MAX_LEN];
	const char *name = get_str(causes, meta, "name", P(f, "%s.name", prefix), NULL);

	if (!name || !name[0]) {
		/* generateName is resolved by the server before validation */
		required(causes, P(f, "%s.name", prefix), "name or generateName is required");
	} else {
		const char *msg = rule == NAME_LABEL	  ? mk_api_check_dns1123_label(name)
				  : rule == NAME_DNS1035 ? check_dns1035_label(name)
				  : rule == NAME_PATH_SEGMENT ? check_path_segment(name)
							 : mk_api_check_dns1123_subdomain(name);
		if (msg)
			invalid_str(causes, P(f, "%s.name", prefix), name, msg);
	}

	/* namespaced < 0: an embedded template, whose namespace is not checked */
	if (namespaced >= 0) {
		const char *ns = get_str(causes, meta, "namespace", P(f, "%s.namespace", prefix), NULL);
		if (namespaced && (!ns || !ns[0])) {
			required(causes, P(f, "%s.namespace", prefix), NULL);
		} else if (namespaced) {
			const char *msg = mk_api_check_dns1123_label(ns);
			if (msg)
				invalid_str(causes, P(f, "%s.namespace", prefix), ns, msg);
		} else if (ns && ns[0]) {
			forbidden(causes, P(f, "%s.namespace", prefix), "not allowed on this type");
		}
	}
	validate_labels(causes, cJSON_GetObjectItemCaseSensitive(meta, "labels"),
			P(f, "%s.labels", prefix));
	validate_annotations(causes, cJSON_GetObjectItemCaseSensitive(meta, "annotations"),
			     P(f, "%s.annotations", prefix));
}

static void immutable_string(cJSON *causes, const cJSON *obj, const cJSON *old,
			     const char *key, const char *field, bool absent_ok)
{
	const char *n = mk_json_get_string(obj, key);
	const char *o = mk_json_get_string(old, key);
	if ((!n || !n[0]) && absent_ok)
		return;
	if (strcmp(n ? n : "", o ? o : "") != 0)
		invalid_str(causes, field, n ? n : "", "field is immutable");
}

static void validate_object_meta_update(cJSON *causes, const cJSON *meta, const cJSON *old_meta)
{
	immutable_string(causes, meta, old_meta, "name", "metadata.name", false);
	/* the server fills an omitted namespace from the URL, uid and creationTimestamp
	 * from the stored object */
	immutable_string(causes, meta, old_meta, "namespace", "metadata.namespace", true);
	immutable_string(causes, meta, old_meta, "uid", "metadata.uid", true);
	immutable_string(causes, meta, old_meta, "creationTimestamp", "metadata.creationTimestamp",
			 true);
}

/* ---- label selectors ------------------------------------------------------------ */

static const char *const selector_ops[] = { "In", "NotIn", "Exists", "DoesNotExist", NULL };

static void validate_label_selector(cJSON *causes, const cJSON *sel, const char *prefix)
{
	char f[PATH_MAX_LEN];
	const cJSON *e;
	size_t i = 0;

	validate_labels(causes, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"),
			P(f, "%s.matchLabels", prefix));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"))
	{
		char base[PATH_MAX_LEN];
		P(base, "%s.matchExpressions[%zu]", prefix, i++);
		const char *key = get_str(causes, e, "key", P(f, "%s.key", base), NULL);
		const char *op = get_str(causes, e, "operator", P(f, "%s.operator", base), NULL);
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(e, "values");
		int nvalues = cJSON_IsArray(values) ? cJSON_GetArraySize(values) : 0;

		if (!key || !key[0])
			required(causes, P(f, "%s.key", base), NULL);
		else if (mk_api_check_label_key(key))
			invalid_str(causes, P(f, "%s.key", base), key, mk_api_check_label_key(key));
		if (!op || !op[0]) {
			required(causes, P(f, "%s.operator", base), NULL);
		} else if (!in_list(op, selector_ops)) {
			invalid_str(causes, P(f, "%s.operator", base), op, "not a valid selector operator");
		} else if ((strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) && nvalues == 0) {
			required(causes, P(f, "%s.values", base),
				 "must be specified when `operator` is 'In' or 'NotIn'");
		} else if ((strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) &&
			   nvalues > 0) {
			forbidden(causes, P(f, "%s.values", base),
				  "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
		}
		const cJSON *v;
		cJSON_ArrayForEach(v, values)
		{
			const char *msg = cJSON_IsString(v) ? mk_api_check_label_value(v->valuestring)
							    : "must be a string";
			if (msg)
				invalid(causes, P(f, "%s.values", base), v, msg);
		}
	}
}

static bool array_has_string(const cJSON *arr, const char *s)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, arr)
	{
		if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0)
			return true;
	}
	return false;
}

/* metav1.LabelSelector semantics over a labels object (the selector was validated). */
static bool selector_matches(const cJSON *sel, const cJSON *labels)
{
	const cJSON *m, *e;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"))
	{
		/* not mk_json_get: label keys contain dots */
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(labels, m->string);
		if (!cJSON_IsString(m) || !cJSON_IsString(l) ||
		    strcmp(l->valuestring, m->valuestring) != 0)
			return false;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"))
	{
		const char *key = mk_json_get_string(e, "key");
		const char *op = mk_json_get_string(e, "operator");
		if (!key || !op)
			return false;
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(labels, key);
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(e, "values");
		bool has = cJSON_IsString(l);
		if (strcmp(op, "In") == 0 && !(has && array_has_string(values, l->valuestring)))
			return false;
		if (strcmp(op, "NotIn") == 0 && has && array_has_string(values, l->valuestring))
			return false;
		if (strcmp(op, "Exists") == 0 && !has)
			return false;
		if (strcmp(op, "DoesNotExist") == 0 && has)
			return false;
	}
	return true;
}

static bool selector_empty(const cJSON *sel)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels")) == 0 &&
	       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions")) == 0;
}

/* ---- pods ---------------------------------------------------------------------- */

static const char *const restart_policies[] = { "Always", "OnFailure", "Never", NULL };
static const char *const restart_always[] = { "Always", NULL };
static const char *const dns_policies[] = { "ClusterFirstWithHostNet", "ClusterFirst", "Default",
					    "None", NULL };
static const char *const pull_policies[] = { "Always", "IfNotPresent", "Never", NULL };

/* A small set of names seen so far (container, volume, port names), borrowed. */
struct name_set {
	const char *names[256];
	size_t n;
};

static bool name_set_add(struct name_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return false;
	if (s->n < MK_ARRAY_SIZE(s->names))
		s->names[s->n++] = name;
	return true;
}

static bool name_set_has(const struct name_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static void validate_container_ports(cJSON *causes, const cJSON *ports, const char *base)
{
	char f[PATH_MAX_LEN];
	const cJSON *port;
	size_t i = 0;
	struct name_set names = { .n = 0 };

	cJSON_ArrayForEach(port, ports)
	{
		char pb[PATH_MAX_LEN];
		long long v;
		P(pb, "%s.ports[%zu]", base, i++);
		const char *name = get_str(causes, port, "name", P(f, "%s.name", pb), NULL);
		if (name && name[0]) {
			const char *msg = check_port_name(name);
			if (msg)
				invalid_str(causes, P(f, "%s.name", pb), name, msg);
			else if (!name_set_add(&names, name))
				duplicate(causes, P(f, "%s.name", pb),
					  cJSON_GetObjectItemCaseSensitive(port, "name"));
		}
		if (!get_int(causes, port, "containerPort", P(f, "%s.containerPort", pb), &v) || v == 0)
			required(causes, P(f, "%s.containerPort", pb), NULL);
		else
			check_port_range(causes, P(f, "%s.containerPort", pb), v);
		if (get_int(causes, port, "hostPort", P(f, "%s.hostPort", pb), &v) && v != 0)
			check_port_range(causes, P(f, "%s.hostPort", pb), v);
		const char *proto = get_str(causes, port, "protocol", P(f, "%s.protocol", pb), NULL);
		if (!proto || !proto[0])
			required(causes, P(f, "%s.protocol", pb), NULL);
		else if (!in_list(proto, protocols))
			not_supported(causes, P(f, "%s.protocol", pb), proto, protocols);
		const char *hip = get_str(causes, port, "hostIP", P(f, "%s.hostIP", pb), NULL);
		if (hip && hip[0] && !is_ip(hip))
			invalid_str(causes, P(f, "%s.hostIP", pb), hip,
				    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	}
}

/* A relative path without a '..' element (kube's validateLocalDescendingPath);
 * false when it is not, the cause added. */
static bool check_descending_path(cJSON *causes, const char *field, const char *p)
{
	if (p[0] == '/') {
		invalid_str(causes, field, p, "must be a relative path");
		return false;
	}
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 2 && !strncmp(s, "..", 2)) {
			invalid_str(causes, field, p, "must not contain '..'");
			return false;
		}
		s += n + (s[n] == '/');
	}
	return true;
}

/* subPath / subPathExpr: a local descending path (kube's validateLocalDescendingPath);
 * the agent checks the expanded subPathExpr and symlinks again */
static void validate_sub_path(cJSON *causes, const cJSON *vm, const char *mb)
{
	static const char *const keys[] = { "subPath", "subPathExpr" };
	char f[PATH_MAX_LEN];
	for (size_t k = 0; k < MK_ARRAY_SIZE(keys); k++) {
		const char *sp = get_str(causes, vm, keys[k], P(f, "%s.%s", mb, keys[k]), NULL);
		if (sp && *sp)
			check_descending_path(causes, f, sp);
	}
	if (!mk_api_json_str_empty(vm, "subPath") && !mk_api_json_str_empty(vm, "subPathExpr"))
		invalid_str(causes, P(f, "%s.subPathExpr", mb), mk_json_get_string(vm, "subPathExpr"),
			    "subPathExpr and subPath are mutually exclusive");
}

static void validate_container(cJSON *causes, const cJSON *c, const char *base,
			       struct name_set *container_names, const struct name_set *volumes)
{
	char f[PATH_MAX_LEN];
	bool bad = false;

	if (!cJSON_IsObject(c)) {
		invalid(causes, base, c, "must be an object");
		return;
	}
	const char *name = get_str(causes, c, "name", P(f, "%s.name", base), &bad);
	if (!name || !name[0]) {
		if (!bad)
			required(causes, P(f, "%s.name", base), NULL);
	} else {
		const char *msg = mk_api_check_dns1123_label(name);
		if (msg)
			invalid_str(causes, P(f, "%s.name", base), name, msg);
		else if (!name_set_add(container_names, name))
			duplicate(causes, P(f, "%s.name", base),
				  cJSON_GetObjectItemCaseSensitive(c, "name"));
	}

	bad = false;
	const char *image = get_str(causes, c, "image", P(f, "%s.image", base), &bad);
	if (!image || !image[0]) {
		if (!bad)
			required(causes, P(f, "%s.image", base), NULL);
	} else if (isspace((unsigned char)image[0]) ||
		   isspace((unsigned char)image[strlen(image) - 1])) {
		invalid_str(causes, P(f, "%s.image", base), image,
			    "must not have leading or trailing whitespace");
	}

	const char *pp = get_str(causes, c, "imagePullPolicy", P(f, "%s.imagePullPolicy", base), NULL);
	if (pp && pp[0] && !in_list(pp, pull_policies))
		not_supported(causes, P(f, "%s.imagePullPolicy", base), pp, pull_policies);

	validate_container_ports(causes, cJSON_GetObjectItemCaseSensitive(c, "ports"), base);

	const cJSON *env;
	size_t i = 0;
	cJSON_ArrayForEach(env, cJSON_GetObjectItemCaseSensitive(c, "env"))
	{
		char eb[PATH_MAX_LEN];
		P(eb, "%s.env[%zu]", base, i++);
		const char *en = get_str(causes, env, "name", P(f, "%s.name", eb), NULL);
		if (!en || !en[0])
			required(causes, P(f, "%s.name", eb), NULL);
		else if (check_env_name(en))
			invalid_str(causes, P(f, "%s.name", eb), en, check_env_name(en));
	}
	mk_api_validate_env_sources(causes, c, base, check_env_name);

	const cJSON *vm;
	i = 0;
	cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(c, "volumeMounts"))
	{
		char mb[PATH_MAX_LEN];
		P(mb, "%s.volumeMounts[%zu]", base, i++);
		const char *vn = get_str(causes, vm, "name", P(f, "%s.name", mb), NULL);
		if (!vn || !vn[0])
			required(causes, P(f, "%s.name", mb), NULL);
		else if (!name_set_has(volumes, vn))
			not_found(causes, P(f, "%s.name", mb), vn);
		if (mk_api_json_str_empty(vm, "mountPath"))
			required(causes, P(f, "%s.mountPath", mb), NULL);
		validate_sub_path(causes, vm, mb);
	}
	mk_api_v_container_node_asks(causes, c, base); /* resources, securityContext */
}

static const char *const probe_fields[] = { "livenessProbe", "readinessProbe", "startupProbe",
					    "lifecycle", NULL };
static const char *const always_only[] = { "Always", NULL };

static bool member_set(const cJSON *c, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
	return v && !cJSON_IsNull(v) && !(cJSON_IsObject(v) && !v->child) &&
	       !(cJSON_IsArray(v) && !v->child);
}

/* Init containers: restartPolicy Always makes a sidecar; only sidecars may have
 * probes and lifecycle hooks (a regular one must run to completion). */
static void validate_init_container(cJSON *causes, const cJSON *c, const char *base)
{
	char f[PATH_MAX_LEN];
	if (!cJSON_IsObject(c))
		return;
	const char *rp = get_str(causes, c, "restartPolicy", P(f, "%s.restartPolicy", base), NULL);
	bool sidecar = rp && !strcmp(rp, "Always");
	if (rp && !sidecar)
		not_supported(causes, f, rp, always_only);
	for (size_t k = 0; !sidecar && probe_fields[k]; k++)
		if (member_set(c, probe_fields[k]))
			forbidden(causes, P(f, "%s.%s", base, probe_fields[k]),
				  "may not be set for init containers without restartPolicy=Always");
}

/* Ephemeral containers: no ports, probes, lifecycle, resources or restartPolicy
 * (kube's allow-list of EphemeralContainerCommon fields); a target must name one
 * of the pod's regular or init containers. */
static void validate_ephemeral_container(cJSON *causes, const cJSON *c, const char *base,
					 const struct name_set *targets)
{
	static const char *const not_allowed[] = { "ports",	   "livenessProbe", "readinessProbe",
						   "startupProbe", "lifecycle",	    "resources",
						   "resizePolicy", "restartPolicy", NULL };
	char f[PATH_MAX_LEN];
	if (!cJSON_IsObject(c))
		return;
	for (size_t k = 0; not_allowed[k]; k++)
		if (member_set(c, not_allowed[k]))
			forbidden(causes, P(f, "%s.%s", base, not_allowed[k]),
				  "cannot be set for an Ephemeral Container");
	const cJSON *vm;
	size_t i = 0;
	cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(c, "volumeMounts"))
	{
		if (!mk_api_json_str_empty(vm, "subPath"))
			forbidden(causes, P(f, "%s.volumeMounts[%zu].subPath", base, i),
				  "cannot be set for an Ephemeral Container");
		i++;
	}
	const char *t = get_str(causes, c, "targetContainerName", P(f, "%s.targetContainerName", base),
				NULL);
	if (t && t[0] && !name_set_has(targets, t))
		not_found(causes, f, t);
}

/* ---- volume sources (kube's validateVolumeSource, the parts the agent serves) ---- */

/* items[].path and the like: kube's validateLocalNonReservedPath */
static void check_item_path(cJSON *causes, const char *field, const char *p)
{
	if (!p || !p[0]) {
		required(causes, field, NULL);
		return;
	}
	if (check_descending_path(causes, field, p) && !strncmp(p, "..", 2))
		invalid_str(causes, field, p, "must not start with '..'");
}

static void check_mode(cJSON *causes, const cJSON *obj, const char *key, const char *field)
{
	long long m;
	if (get_int(causes, obj, key, field, &m) && (m < 0 || m > 0777))
		invalid_num(causes, field, (double)m,
			    "must be a number between 0 and 0777 (octal), both inclusive");
}

/* The source of one downwardAPI item: a fieldRef (to a field the kubelet
 * publishes) or a resourceFieldRef, exactly one. */
static void check_downward_ref(cJSON *causes, const cJSON *it, const char *ib)
{
	static const char *const paths[] = { "metadata.annotations", "metadata.labels",
					     "metadata.name", "metadata.namespace", "metadata.uid",
					     NULL };
	char f[PATH_MAX_LEN];
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(it, "fieldRef");
	const cJSON *rr = cJSON_GetObjectItemCaseSensitive(it, "resourceFieldRef");

	if (fr && rr) {
		invalid(causes, ib, it, "fieldRef and resourceFieldRef can not be specified simultaneously");
	} else if (fr) {
		const char *fp = get_str(causes, fr, "fieldPath", P(f, "%s.fieldRef.fieldPath", ib), NULL);
		if (!fp || !fp[0])
			required(causes, f, NULL);
		else if (!in_list(fp, paths) &&
			 !((!strncmp(fp, "metadata.labels['", 17) ||
			    !strncmp(fp, "metadata.annotations['", 22)) &&
			   strlen(fp) > 2 && !strcmp(fp + strlen(fp) - 2, "']")))
			not_supported(causes, f, fp, paths);
	} else if (rr) {
		const char *res = get_str(causes, rr, "resource",
					  P(f, "%s.resourceFieldRef.resource", ib), NULL);
		if (!res || !res[0])
			required(causes, f, NULL);
	} else {
		required(causes, ib, "one of fieldRef or resourceFieldRef");
	}
}

/* items of a configMap or secret source (key, path, mode), or of a downwardAPI
 * one (path, mode, and the field it publishes) */
static void check_items(cJSON *causes, const cJSON *src, const char *base, bool downward)
{
	char f[PATH_MAX_LEN];
	const cJSON *it;
	size_t i = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(src, "items"))
	{
		char ib[PATH_MAX_LEN];
		P(ib, "%s.items[%zu]", base, i++);
		if (!downward) {
			const char *k = get_str(causes, it, "key", P(f, "%s.key", ib), NULL);
			if (!k || !k[0])
				required(causes, f, NULL);
		}
		check_item_path(causes, P(f, "%s.path", ib), get_str(causes, it, "path", f, NULL));
		check_mode(causes, it, "mode", P(f, "%s.mode", ib));
		if (downward)
			check_downward_ref(causes, it, ib);
	}
}

static void validate_volume_source(cJSON *causes, const cJSON *v, const char *vb)
{
	static const char *const kinds[] = {
		"hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
		"secret", "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume",
		"cinder", "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap",
		"vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
		"portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image", NULL };
	char f[PATH_MAX_LEN];
	size_t n = 0;
	for (size_t k = 0; kinds[k]; k++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, kinds[k]);
		if (!s || cJSON_IsNull(s))
			continue;
		if (n++)
			forbidden(causes, P(f, "%s.%s", vb, kinds[k]),
				  "may not specify more than 1 volume type");
	}
	const cJSON *s;
	if ((s = cJSON_GetObjectItemCaseSensitive(v, "configMap"))) {
		const char *nm = get_str(causes, s, "name", P(f, "%s.configMap.name", vb), NULL);
		if (!nm || !nm[0])
			required(causes, f, NULL);
		check_mode(causes, s, "defaultMode", P(f, "%s.configMap.defaultMode", vb));
		check_items(causes, s, P(f, "%s.configMap", vb), false);
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(v, "secret"))) {
		const char *nm = get_str(causes, s, "secretName", P(f, "%s.secret.secretName", vb), NULL);
		if (!nm || !nm[0])
			required(causes, f, NULL);
		check_mode(causes, s, "defaultMode", P(f, "%s.secret.defaultMode", vb));
		check_items(causes, s, P(f, "%s.secret", vb), false);
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(v, "downwardAPI"))) {
		check_mode(causes, s, "defaultMode", P(f, "%s.downwardAPI.defaultMode", vb));
		check_items(causes, s, P(f, "%s.downwardAPI", vb), true);
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(v, "projected"))) {
		const cJSON *src;
		size_t i = 0;
		check_mode(causes, s, "defaultMode", P(f, "%s.projected.defaultMode", vb));
		cJSON_ArrayForEach(src, cJSON_GetObjectItemCaseSensitive(s, "sources"))
		{
			char sb[PATH_MAX_LEN];
			const cJSON *x;
			P(sb, "%s.projected.sources[%zu]", vb, i++);
			if ((x = cJSON_GetObjectItemCaseSensitive(src, "configMap"))) {
				char b[PATH_MAX_LEN];
				check_items(causes, x, P(b, "%s.configMap", sb), false);
			}
			if ((x = cJSON_GetObjectItemCaseSensitive(src, "secret"))) {
				char b[PATH_MAX_LEN];
				check_items(causes, x, P(b, "%s.secret", sb), false);
			}
			if ((x = cJSON_GetObjectItemCaseSensitive(src, "downwardAPI"))) {
				char b[PATH_MAX_LEN];
				check_items(causes, x, P(b, "%s.downwardAPI", sb), true);
			}
			if ((x = cJSON_GetObjectItemCaseSensitive(src, "serviceAccountToken")))
				check_sa_token(causes, x, sb);
		}
	}
}

/* a projected serviceAccountToken source (upstream validateProjectionSources) */
static void check_sa_token(cJSON *causes, const cJSON *x, const char *sb)
{
	char b[PATH_MAX_LEN];
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(x, "path");
	const cJSON *es = cJSON_GetObjectItemCaseSensitive(x, "expirationSeconds");
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(x, "audience");

	P(b, "%s.serviceAccountToken.path", sb);
	if (!cJSON_IsString(path) || !path->valuestring[0])
		required(causes, b, NULL);
	else if (path->valuestring[0] == '/' || strstr(path->valuestring, ".."))
		mk_api_cause_add(causes, "FieldValueInvalid", b,
				 "Invalid value: \"%s\": must be a relative path without '..'",
				 path->valuestring);
	P(b, "%s.serviceAccountToken.expirationSeconds", sb);
	if (es && !cJSON_IsNull(es)) {
		if (!cJSON_IsNumber(es))
			mk_api_cause_add(causes, "FieldValueInvalid", b, "Invalid value: must be an integer");
		else if (es->valuedouble < 600)
			mk_api_cause_add(causes, "FieldValueInvalid", b,
					 "Invalid value: %.0f: may not specify a duration less than 10 "
					 "minutes", es->valuedouble);
		else if (es->valuedouble > 4294967296.0)
			mk_api_cause_add(causes, "FieldValueInvalid", b,
					 "Invalid value: %.0f: may not specify a duration larger than "
					 "2^32 seconds", es->valuedouble);
	}
	P(b, "%s.serviceAccountToken.audience", sb);
	if (aud && !cJSON_IsNull(aud) && !cJSON_IsString(aud))
		mk_api_cause_add(causes, "FieldValueInvalid", b, "Invalid value: must be a string");
}

/* The steps of validate_pod_spec, in upstream's order (ValidatePodSpec): the
 * volumes, the containers of the three kinds, the policies, where it runs. */

/* Each volume's name (a DNS label, unique in the pod; collected into volumes
 * for the containers' mounts) and its source. */
static void validate_pod_volumes(cJSON *causes, const cJSON *spec, const char *prefix,
				 struct name_set *volumes)
{
	char f[PATH_MAX_LEN];
	const cJSON *v;
	size_t i = 0;

	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(spec, "volumes"))
	{
		char vb[PATH_MAX_LEN];
		P(vb, "%s.volumes[%zu]", prefix, i++);
		const char *vn = get_str(causes, v, "name", P(f, "%s.name", vb), NULL);
		if (!vn || !vn[0]) {
			required(causes, P(f, "%s.name", vb), NULL);
		} else if (mk_api_check_dns1123_label(vn)) {
			invalid_str(causes, P(f, "%s.name", vb), vn, mk_api_check_dns1123_label(vn));
		} else if (!name_set_add(volumes, vn)) {
			duplicate(causes, P(f, "%s.name", vb), cJSON_GetObjectItemCaseSensitive(v, "name"));
		}
		validate_volume_source(causes, v, vb);
	}
}

/* The containers (at least one; no restartPolicy of their own), the init
 * containers, then the ephemeral ones, which may target the other two. Names
 * are unique across all three. */
static void validate_pod_containers(cJSON *causes, const cJSON *spec, const char *prefix,
				    const struct name_set *volumes)
{
	char f[PATH_MAX_LEN], cb[PATH_MAX_LEN];
	struct name_set containers = { .n = 0 };
	const cJSON *c;
	size_t i = 0;

	const cJSON *list = cJSON_GetObjectItemCaseSensitive(spec, "containers");
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
		required(causes, P(f, "%s.containers", prefix), NULL);
		list = NULL;
	}
	cJSON_ArrayForEach(c, list)
		validate_container(causes, c, P(cb, "%s.containers[%zu]", prefix, i++), &containers,
				   volumes);
	i = 0;
	list = cJSON_GetObjectItemCaseSensitive(spec, "initContainers");
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(c, list)
	{
		validate_container(causes, c, P(cb, "%s.initContainers[%zu]", prefix, i),
				   &containers, volumes);
		validate_init_container(causes, c, P(cb, "%s.initContainers[%zu]", prefix, i));
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
	{
		if (cJSON_IsObject(c) && cJSON_GetObjectItemCaseSensitive(c, "restartPolicy"))
			forbidden(causes, P(cb, "%s.containers[%zu].restartPolicy", prefix, i),
				  "may not be set for non-init containers");
		i++;
	}
	/* targets: the regular and init containers (names before the ephemeral ones) */
	struct name_set targets = containers;
	i = 0;
	list = cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers");
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(c, list)
	{
		validate_container(causes, c, P(cb, "%s.ephemeralContainers[%zu]", prefix, i),
				   &containers, volumes);
		validate_ephemeral_container(causes, c, cb, &targets);
		i++;
	}
}

/* restartPolicy (one of allowed_restart), dnsPolicy and the two durations. */
static void validate_pod_policies(cJSON *causes, const cJSON *spec, const char *prefix,
				  const char *const *allowed_restart)
{
	char f[PATH_MAX_LEN];
	long long n;

	const char *rp = get_str(causes, spec, "restartPolicy", P(f, "%s.restartPolicy", prefix), NULL);
	if (!rp || !rp[0])
		required(causes, P(f, "%s.restartPolicy", prefix), NULL);
	else if (!in_list(rp, allowed_restart))
		not_supported(causes, P(f, "%s.restartPolicy", prefix), rp, allowed_restart);

	const char *dp = get_str(causes, spec, "dnsPolicy", P(f, "%s.dnsPolicy", prefix), NULL);
	if (!dp || !dp[0])
		required(causes, P(f, "%s.dnsPolicy", prefix), NULL);
	else if (!in_list(dp, dns_policies))
		not_supported(causes, P(f, "%s.dnsPolicy", prefix), dp, dns_policies);

	if (get_int(causes, spec, "terminationGracePeriodSeconds",
		    P(f, "%s.terminationGracePeriodSeconds", prefix), &n) && n < 0)
		invalid_num(causes, f, (double)n, "must be greater than or equal to 0");
	if (get_int(causes, spec, "activeDeadlineSeconds", P(f, "%s.activeDeadlineSeconds", prefix),
		    &n) && (n < 1 || n > 2147483647LL))
		invalid_num(causes, f, (double)n, "must be between 1 and 2147483647, inclusive");
}

/* Where and as what the pod runs: nodeSelector, nodeName, hostname, subdomain. */
static void validate_pod_placement(cJSON *causes, const cJSON *spec, const char *prefix)
{
	char f[PATH_MAX_LEN];

	validate_labels(causes, cJSON_GetObjectItemCaseSensitive(spec, "nodeSelector"),
			P(f, "%s.nodeSelector", prefix));
	const char *node = get_str(causes, spec, "nodeName", P(f, "%s.nodeName", prefix), NULL);
	if (node && node[0] && mk_api_check_dns1123_subdomain(node))
		invalid_str(causes, f, node, mk_api_check_dns1123_subdomain(node));
	const char *hn = get_str(causes, spec, "hostname", P(f, "%s.hostname", prefix), NULL);
	if (hn && hn[0] && mk_api_check_dns1123_label(hn))
		invalid_str(causes, f, hn, mk_api_check_dns1123_label(hn));
	const char *sd = get_str(causes, spec, "subdomain", P(f, "%s.subdomain", prefix), NULL);
	if (sd && sd[0] && mk_api_check_dns1123_label(sd))
		invalid_str(causes, f, sd, mk_api_check_dns1123_label(sd));
}

static void validate_pod_spec(cJSON *causes, const cJSON *spec, const char *prefix,
			      const char *const *allowed_restart)
{
	struct name_set volumes = { .n = 0 };

	if (!cJSON_IsObject(spec)) {
		required(causes, prefix, NULL);
		return;
	}
	mk_api_v_pod_node_asks(causes, spec, prefix); /* securityContext */
	validate_pod_volumes(causes, spec, prefix, &volumes);
	validate_pod_containers(causes, spec, prefix, &volumes);
	validate_pod_policies(causes, spec, prefix, allowed_restart);
	validate_pod_placement(causes, spec, prefix);
}

#define POD_UPDATE_MSG                                                                       \
	"pod updates may not change fields other than `spec.containers[*].image`,"           \
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "    \
	"(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "     \
	"(allow it to be set to 1 if it was previously negative)"

/* Copies the images of old's list into new's list (same index), the mutable part. */
static void munge_images(cJSON *spec, const cJSON *old_spec, const char *key)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(spec, key);
	const cJSON *old_list = cJSON_GetObjectItemCaseSensitive(old_spec, key);
	if (!cJSON_IsArray(list) || !cJSON_IsArray(old_list) ||
	    cJSON_GetArraySize(list) != cJSON_GetArraySize(old_list))
		return;
	for (int i = 0; i < cJSON_GetArraySize(list); i++) {
		cJSON *c = cJSON_GetArrayItem(list, i);
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(old_list, i),
								    "image");
		if (!cJSON_IsObject(c))
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(c, "image");
		if (img)
			cJSON_AddItemToObject(c, "image", cJSON_Duplicate(img, 1));
	}
}

static void copy_member(cJSON *dst, const cJSON *src, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
	cJSON_DeleteItemFromObjectCaseSensitive(dst, key);
	if (v)
		cJSON_AddItemToObject(dst, key, cJSON_Duplicate(v, 1));
}

static void validate_pod_update(cJSON *causes, const cJSON *spec, const cJSON *old_spec)
{
	long long n, o;
	bool has_n, has_o;

	if (!cJSON_IsObject(spec) || !cJSON_IsObject(old_spec))
		return;
	has_n = get_int(NULL, spec, "activeDeadlineSeconds", NULL, &n);
	has_o = get_int(NULL, old_spec, "activeDeadlineSeconds", NULL, &o);
	if (has_o && !has_n)
		mk_api_cause_add(causes, R_INVALID, "spec.activeDeadlineSeconds",
				 "Invalid value: \"null\": must not update from a positive integer to nil value");
	else if (has_o && has_n && n > o)
		invalid_num(causes, "spec.activeDeadlineSeconds", (double)n,
			    "must be less than or equal to previous value");

	/* ephemeral containers: additions only (ValidatePodEphemeralContainersUpdate) */
	const cJSON *eold, *enew;
	cJSON_ArrayForEach(eold, cJSON_GetObjectItemCaseSensitive(old_spec, "ephemeralContainers"))
	{
		const char *name = mk_json_get_string(eold, "name");
		size_t i = 0;
		bool found = false;
		cJSON_ArrayForEach(enew, cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers"))
		{
			const char *nn = mk_json_get_string(enew, "name");
			if (name && nn && !strcmp(name, nn)) {
				found = true;
				break;
			}
			i++;
		}
		char f[PATH_MAX_LEN], d[PATH_MAX_LEN];
		if (!found) {
			P(d, "existing ephemeral containers \"%s\" may not be removed", name ? name : "");
			forbidden(causes, "spec.ephemeralContainers", d);
		} else if (!cJSON_Compare(eold, enew, true)) {
			P(d, "existing ephemeral containers \"%s\" may not be changed", name ? name : "");
			forbidden(causes, P(f, "spec.ephemeralContainers[%zu]", i), d);
		}
	}

	_cleanup_cjson_ cJSON *munged = cJSON_Duplicate(spec, 1);
	copy_member(munged, old_spec, "ephemeralContainers");
	munge_images(munged, old_spec, "containers");
	munge_images(munged, old_spec, "initContainers");
	copy_member(munged, old_spec, "activeDeadlineSeconds");

	/* tolerations: additions only */
	const cJSON *tol = cJSON_GetObjectItemCaseSensitive(spec, "tolerations");
	const cJSON *old_tol = cJSON_GetObjectItemCaseSensitive(old_spec, "tolerations");
	bool kept = true;
	const cJSON *t;
	cJSON_ArrayForEach(t, old_tol)
	{
		bool found = false;
		const cJSON *u;
		cJSON_ArrayForEach(u, tol) found = found || cJSON_Compare(t, u, true);
		kept = kept && found;
	}
	if (kept)
		copy_member(munged, old_spec, "tolerations");

	/* terminationGracePeriodSeconds may become 1 if it was negative */
	if (get_int(NULL, old_spec, "terminationGracePeriodSeconds", NULL, &o) && o < 0 &&
	    get_int(NULL, spec, "terminationGracePeriodSeconds", NULL, &n) && n == 1)
		copy_member(munged, old_spec, "terminationGracePeriodSeconds");

	/* spec.nodeName is not among the mutable fields, even on an unbound pod: as in
	 * kube-apiserver, a pod is bound through pods/binding (pkg/apiserver/binding.c)
	 * or created with spec.nodeName set */
	if (!cJSON_Compare(munged, old_spec, true))
		forbidden(causes, "spec", POD_UPDATE_MSG);
}

/* ---- services ------------------------------------------------------------------ */

static const char *const service_types[] = { "ClusterIP", "ExternalName", "LoadBalancer",
					     "NodePort", NULL };
static const char *const affinities[] = { "ClientIP", "None", NULL };
static const char *const traffic_policies[] = { "Cluster", "Local", NULL };

#define NODE_PORT_MIN 30000
#define NODE_PORT_MAX 32767

static void validate_service_port(cJSON *causes, const cJSON *port, const char *pb, bool multi,
				  const char *type, struct name_set *names)
{
	char f[PATH_MAX_LEN];
	long long v;
	const char *name = get_str(causes, port, "name", P(f, "%s.name", pb), NULL);

	if (!name || !name[0]) {
		if (multi)
			required(causes, P(f, "%s.name", pb), NULL);
	} else if (mk_api_check_dns1123_label(name)) {
		invalid_str(causes, P(f, "%s.name", pb), name, mk_api_check_dns1123_label(name));
	} else if (!name_set_add(names, name)) {
		duplicate(causes, P(f, "%s.name", pb), cJSON_GetObjectItemCaseSensitive(port, "name"));
	}

	if (!get_int(causes, port, "port", P(f, "%s.port", pb), &v))
		v = 0;
	check_port_range(causes, P(f, "%s.port", pb), v);

	const char *proto = get_str(causes, port, "protocol", P(f, "%s.protocol", pb), NULL);
	if (!proto || !proto[0])
		required(causes, P(f, "%s.protocol", pb), NULL);
	else if (!in_list(proto, protocols))
		not_supported(causes, P(f, "%s.protocol", pb), proto, protocols);

	const cJSON *tp = cJSON_GetObjectItemCaseSensitive(port, "targetPort");
	P(f, "%s.targetPort", pb);
	if (cJSON_IsString(tp)) {
		const char *msg = check_port_name(tp->valuestring);
		if (msg)
			invalid(causes, f, tp, msg);
	} else if (tp && !cJSON_IsNull(tp)) {
		if (get_int(causes, port, "targetPort", f, &v))
			check_port_range(causes, f, v);
	}

	if (get_int(causes, port, "nodePort", P(f, "%s.nodePort", pb), &v) && v != 0) {
		if (strcmp(type, "ClusterIP") == 0 || strcmp(type, "ExternalName") == 0) {
			char d[128];
			snprintf(d, sizeof(d), "may not be used when `type` is '%s'", type);
			forbidden(causes, f, d);
		} else if (v < 1 || v > 65535) {
			check_port_range(causes, f, v);
		} else if (v < NODE_PORT_MIN || v > NODE_PORT_MAX) {
			char d[128];
			snprintf(d, sizeof(d),
				 "provided port is not in the valid range. The range of valid ports is %d-%d",
				 NODE_PORT_MIN, NODE_PORT_MAX);
			invalid_num(causes, f, (double)v, d);
		}
	}
}

/* spec.ports: required unless ExternalName or headless; each port valid; the
 * same port and protocol not twice. */
static void validate_service_ports(cJSON *causes, const cJSON *spec, const char *type, bool ports_optional)
{
	const cJSON *ports = cJSON_GetObjectItemCaseSensitive(spec, "ports");
	int nports = cJSON_IsArray(ports) ? cJSON_GetArraySize(ports) : 0;
	if (nports == 0 && !ports_optional)
		required(causes, "spec.ports", NULL);
	struct name_set names = { .n = 0 };
	for (int i = 0; i < nports; i++) {
		const cJSON *port = cJSON_GetArrayItem(ports, i);
		char pb[PATH_MAX_LEN];
		P(pb, "spec.ports[%d]", i);
		validate_service_port(causes, port, pb, nports > 1, type, &names);
		/* the same port and protocol twice */
		for (int j = 0; j < i; j++) {
			const cJSON *prev = cJSON_GetArrayItem(ports, j);
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(port, "port");
			const cJSON *b = cJSON_GetObjectItemCaseSensitive(prev, "port");
			const char *pa = mk_json_get_string(port, "protocol");
			const char *pbp = mk_json_get_string(prev, "protocol");
			if (cJSON_IsNumber(a) && cJSON_IsNumber(b) && a->valuedouble == b->valuedouble &&
			    strcmp(pa ? pa : "TCP", pbp ? pbp : "TCP") == 0) {
				_cleanup_cjson_ cJSON *dup = cJSON_CreateObject();
				cJSON_AddNumberToObject(dup, "port", a->valuedouble);
				cJSON_AddStringToObject(dup, "protocol", pa ? pa : "TCP");
				duplicate(causes, pb, dup);
				break;
			}
		}
	}
}

/* sessionAffinity, the traffic policies (external only for NodePort and
 * LoadBalancer), healthCheckNodePort (only a LoadBalancer with the Local policy
 * has one, as kube-apiserver). */
static void validate_service_policies(cJSON *causes, const cJSON *spec, const char *type)
{
	const char *aff = get_str(causes, spec, "sessionAffinity", "spec.sessionAffinity", NULL);
	if (aff && aff[0] && !in_list(aff, affinities))
		not_supported(causes, "spec.sessionAffinity", aff, affinities);
	const char *etp = get_str(causes, spec, "externalTrafficPolicy", "spec.externalTrafficPolicy",
				  NULL);
	if (etp && etp[0]) {
		if (strcmp(type, "NodePort") != 0 && strcmp(type, "LoadBalancer") != 0)
			invalid_str(causes, "spec.externalTrafficPolicy", etp,
				    "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
		else if (!in_list(etp, traffic_policies))
			not_supported(causes, "spec.externalTrafficPolicy", etp, traffic_policies);
	}
	const char *itp = get_str(causes, spec, "internalTrafficPolicy", "spec.internalTrafficPolicy",
				  NULL);
	if (itp && itp[0] && !in_list(itp, traffic_policies))
		not_supported(causes, "spec.internalTrafficPolicy", itp, traffic_policies);
	long long hc;
	if (get_int(causes, spec, "healthCheckNodePort", "spec.healthCheckNodePort", &hc) && hc != 0) {
		if (strcmp(type, "LoadBalancer") != 0 || !etp || strcmp(etp, "Local") != 0)
			invalid_num(causes, "spec.healthCheckNodePort", (double)hc,
				    "may only be set when `type` is 'LoadBalancer' and "
				    "`externalTrafficPolicy` is 'Local'");
		else if (hc < 1 || hc > 65535)
			invalid_num(causes, "spec.healthCheckNodePort", (double)hc,
				    "must be between 1 and 65535, inclusive");
	}
}

static void validate_service(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	char f[PATH_MAX_LEN];
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		required(causes, "spec", NULL);
		return;
	}
	const char *type = get_str(causes, spec, "type", "spec.type", NULL);
	if (!type || !type[0]) {
		required(causes, "spec.type", NULL);
		type = "ClusterIP";
	} else if (!in_list(type, service_types)) {
		not_supported(causes, "spec.type", type, service_types);
	}
	bool external_name = strcmp(type, "ExternalName") == 0;
	const char *cip = get_str(causes, spec, "clusterIP", "spec.clusterIP", NULL);
	bool headless = cip && strcmp(cip, "None") == 0;

	if (cip && cip[0] && !headless && !is_ip(cip))
		invalid_str(causes, "spec.clusterIP", cip,
			    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	if (external_name) {
		const char *en = get_str(causes, spec, "externalName", "spec.externalName", NULL);
		if (!en || !en[0])
			required(causes, "spec.externalName", NULL);
		else if (mk_api_check_dns1123_subdomain(en))
			invalid_str(causes, "spec.externalName", en, mk_api_check_dns1123_subdomain(en));
	}

	validate_service_ports(causes, spec, type, external_name || headless);

	validate_labels(causes, cJSON_GetObjectItemCaseSensitive(spec, "selector"), "spec.selector");

	validate_service_policies(causes, spec, type);

	if (old) {
		/* an allocated clusterIP stays: a new value is a change, an omitted one
		 * is filled back from the stored object by the server (as
		 * kube-apiserver's patchAllocatedValues does) */
		const char *old_cip = mk_json_get_string(old, "spec.clusterIP");
		if (old_cip && old_cip[0] && cip && cip[0] && strcmp(old_cip, cip) != 0 &&
		    !external_name)
			invalid_str(causes, P(f, "spec.clusterIP"), cip, "field is immutable");
	}
}

/* ---- deployments and replicasets --------------------------------------------- */

#define PERCENT_MSG                                                                       \
	"a valid percent string must be a numeric string followed by an ending '%' (e.g. " \
	"'1%',  or '93%', regex used for validation is '[0-9]+%')"

/* IntOrString >= 0 or "N%"; *ret_zero set when the value is 0 or "0%" */
static void validate_int_or_percent(cJSON *causes, const cJSON *v, const char *field,
				    bool max_100, bool *ret_zero)
{
	*ret_zero = false;
	if (!v || cJSON_IsNull(v)) {
		*ret_zero = true;
		return;
	}
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != floor(v->valuedouble))
			invalid(causes, field, v, "must be an integer");
		else if (v->valuedouble < 0)
			invalid(causes, field, v, "must be greater than or equal to 0");
		*ret_zero = v->valuedouble == 0;
		return;
	}
	if (!cJSON_IsString(v)) {
		invalid(causes, field, v, "must be an integer or percentage");
		return;
	}
	const char *s = v->valuestring;
	size_t n = strlen(s);
	bool ok = n >= 2 && s[n - 1] == '%';
	for (size_t i = 0; ok && i + 1 < n; i++)
		ok = isdigit((unsigned char)s[i]);
	if (!ok) {
		invalid(causes, field, v, PERCENT_MSG);
		return;
	}
	long pct = strtol(s, NULL, 10);
	if (max_100 && pct > 100)
		invalid(causes, field, v, "must not be greater than 100%");
	*ret_zero = pct == 0;
}

static void validate_strategy(cJSON *causes, const cJSON *spec)
{
	static const char *const types[] = { "Recreate", "RollingUpdate", NULL };
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(spec, "strategy");
	const char *type = get_str(causes, st, "type", "spec.strategy.type", NULL);
	const cJSON *ru = cJSON_GetObjectItemCaseSensitive(st, "rollingUpdate");

	if (!type || !type[0]) {
		required(causes, "spec.strategy.type", NULL);
		return;
	}
	if (!in_list(type, types)) {
		not_supported(causes, "spec.strategy.type", type, types);
		return;
	}
	if (strcmp(type, "Recreate") == 0) {
		if (ru && !cJSON_IsNull(ru))
			forbidden(causes, "spec.strategy.rollingUpdate",
				  "may not be specified when strategy `type` is 'Recreate'");
		return;
	}
	if (!cJSON_IsObject(ru)) {
		required(causes, "spec.strategy.rollingUpdate",
			 "this should be defaulted and never be nil");
		return;
	}
	bool unavail_zero, surge_zero;
	const cJSON *mu = cJSON_GetObjectItemCaseSensitive(ru, "maxUnavailable");
	validate_int_or_percent(causes, mu, "spec.strategy.rollingUpdate.maxUnavailable", true,
				&unavail_zero);
	validate_int_or_percent(causes, cJSON_GetObjectItemCaseSensitive(ru, "maxSurge"),
				"spec.strategy.rollingUpdate.maxSurge", false, &surge_zero);
	if (unavail_zero && surge_zero)
		invalid(causes, "spec.strategy.rollingUpdate.maxUnavailable", mu,
			"may not be 0 when `maxSurge` is 0");
}

static void validate_workload(cJSON *causes, const cJSON *obj, const cJSON *old, bool deployment)
{
	long long n, min_ready = 0;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		required(causes, "spec", NULL);
		return;
	}

	if (get_int(causes, spec, "replicas", "spec.replicas", &n) && n < 0)
		invalid_num(causes, "spec.replicas", (double)n, "must be greater than or equal to 0");
	if (get_int(causes, spec, "minReadySeconds", "spec.minReadySeconds", &min_ready) &&
	    min_ready < 0)
		invalid_num(causes, "spec.minReadySeconds", (double)min_ready,
			    "must be greater than or equal to 0");

	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(spec, "selector");
	/* upstream words the empty selector "for deployment" for ReplicaSets too */
	mk_api_v_workload_template(causes, spec, "deployment", NULL);

	if (deployment) {
		validate_strategy(causes, spec);
		if (get_int(causes, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", &n) &&
		    n < 0)
			invalid_num(causes, "spec.revisionHistoryLimit", (double)n,
				    "must be greater than or equal to 0");
		if (get_int(causes, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds",
			    &n)) {
			if (n < 0)
				invalid_num(causes, "spec.progressDeadlineSeconds", (double)n,
					    "must be greater than or equal to 0");
			else if (n <= min_ready)
				invalid_num(causes, "spec.progressDeadlineSeconds", (double)n,
					    "must be greater than minReadySeconds");
		}
	}

	if (old) {
		const cJSON *old_sel = mk_json_get(old, "spec.selector");
		if (old_sel && sel && !cJSON_Compare(old_sel, sel, true))
			invalid(causes, "spec.selector", sel, "field is immutable");
	}
}

/* ---- namespaces, nodes, endpoints, events -------------------------------------- */

static void validate_namespace(cJSON *causes, const cJSON *obj)
{
	const cJSON *fin;
	size_t i = 0;
	cJSON_ArrayForEach(fin, mk_json_get(obj, "spec.finalizers"))
	{
		char f[PATH_MAX_LEN];
		P(f, "spec.finalizers[%zu]", i++);
		if (!cJSON_IsString(fin))
			invalid(causes, f, fin, "must be a string");
		else if (mk_api_check_label_key(fin->valuestring))
			invalid(causes, f, fin, mk_api_check_label_key(fin->valuestring));
	}
}

static void validate_node(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const char *cidr = mk_json_get_string(obj, "spec.podCIDR");
	if (cidr && cidr[0]) {
		char ip[64];
		const char *slash = strchr(cidr, '/');
		char *end = NULL;
		long prefix = slash ? strtol(slash + 1, &end, 10) : -1;
		size_t n = slash ? (size_t)(slash - cidr) : 0;
		bool ok = slash && n < sizeof(ip) && end && !*end && end != slash + 1;
		if (ok) {
			memcpy(ip, cidr, n);
			ip[n] = '\0';
			ok = is_ip(ip) && prefix >= 0 && prefix <= (strchr(ip, ':') ? 128 : 32);
		}
		if (!ok)
			invalid_str(causes, "spec.podCIDR", cidr,
				    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
	}
	if (old) {
		const char *old_cidr = mk_json_get_string(old, "spec.podCIDR");
		if (old_cidr && old_cidr[0] && strcmp(old_cidr, cidr ? cidr : "") != 0)
			forbidden(causes, "spec.podCIDRs",
				  "node updates may not change podCIDR except from \"\" to valid");
	}
}

static void validate_endpoint_addresses(cJSON *causes, const cJSON *list, const char *base)
{
	const cJSON *a;
	size_t i = 0;
	cJSON_ArrayForEach(a, list)
	{
		char f[PATH_MAX_LEN];
		P(f, "%s[%zu].ip", base, i++);
		const char *ip = get_str(causes, a, "ip", f, NULL);
		if (!ip || !ip[0])
			required(causes, f, NULL);
		else if (!is_ip(ip))
			invalid_str(causes, f, ip,
				    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
	}
}

static void validate_endpoints(cJSON *causes, const cJSON *obj)
{
	const cJSON *subset;
	size_t s = 0;
	cJSON_ArrayForEach(subset, cJSON_GetObjectItemCaseSensitive(obj, "subsets"))
	{
		char sb[PATH_MAX_LEN], f[PATH_MAX_LEN];
		P(sb, "subsets[%zu]", s++);
		validate_endpoint_addresses(causes, cJSON_GetObjectItemCaseSensitive(subset, "addresses"),
					    P(f, "%s.addresses", sb));
		validate_endpoint_addresses(causes,
					    cJSON_GetObjectItemCaseSensitive(subset, "notReadyAddresses"),
					    P(f, "%s.notReadyAddresses", sb));
		const cJSON *ports = cJSON_GetObjectItemCaseSensitive(subset, "ports");
		int nports = cJSON_GetArraySize(ports);
		struct name_set names = { .n = 0 };
		for (int i = 0; i < nports; i++) {
			const cJSON *port = cJSON_GetArrayItem(ports, i);
			char pb[PATH_MAX_LEN];
			long long v = 0;
			P(pb, "%s.ports[%d]", sb, i);
			const char *name = get_str(causes, port, "name", P(f, "%s.name", pb), NULL);
			if (!name || !name[0]) {
				if (nports > 1)
					required(causes, P(f, "%s.name", pb), NULL);
			} else if (mk_api_check_dns1123_label(name)) {
				invalid_str(causes, P(f, "%s.name", pb), name,
					    mk_api_check_dns1123_label(name));
			} else if (!name_set_add(&names, name)) {
				duplicate(causes, P(f, "%s.name", pb),
					  cJSON_GetObjectItemCaseSensitive(port, "name"));
			}
			get_int(causes, port, "port", P(f, "%s.port", pb), &v);
			check_port_range(causes, f, v);
			const char *proto = get_str(causes, port, "protocol", P(f, "%s.protocol", pb), NULL);
			if (!proto || !proto[0])
				required(causes, f, NULL);
			else if (!in_list(proto, protocols))
				not_supported(causes, f, proto, protocols);
		}
	}
}

static void validate_event(cJSON *causes, const cJSON *obj)
{
	const cJSON *io = cJSON_GetObjectItemCaseSensitive(obj, "involvedObject");
	if (!cJSON_IsObject(io)) {
		required(causes, "involvedObject", NULL);
		return;
	}
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	const char *ions = mk_json_get_string(io, "namespace");
	if (ions && ions[0] && strcmp(ions, ns ? ns : "") != 0)
		invalid_str(causes, "involvedObject.namespace", ions, "does not match event.namespace");
	const char *type = mk_json_get_string(obj, "type");
	static const char *const types[] = { "Normal", "Warning", NULL };
	if (type && type[0] && !in_list(type, types))
		not_supported(causes, "type", type, types);
}

/* ---- entry point ----------------------------------------------------------------- */

int mk_api_validate(const struct mk_api_resource *r, const cJSON *obj, const cJSON *old,
		    cJSON **ret_causes)
{
	_cleanup_cjson_ cJSON *causes = cJSON_CreateArray();

	if (!r || !cJSON_IsObject(obj)) {
		mk_api_cause_add(causes, R_INVALID, "", "Invalid value: the object must be a JSON object");
		goto out;
	}
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(meta)) {
		required(causes, "metadata", NULL);
	} else {
		enum name_rule rule = mk_api_is_kind(r, "Namespace") ? NAME_LABEL
				      : mk_api_is_kind(r, "Service") ? NAME_DNS1035
				      : !strcmp(r->group, "rbac.authorization.k8s.io") ? NAME_PATH_SEGMENT
								     : NAME_SUBDOMAIN;
		validate_object_meta(causes, meta, "metadata", rule, r->namespaced ? 1 : 0);
		if (old)
			validate_object_meta_update(causes, meta,
						    cJSON_GetObjectItemCaseSensitive(old, "metadata"));
	}

	if (r->crd) {
		mk_api_cr_validate(r, causes, obj, old);
	} else if (mk_api_is_kind(r, "Pod")) {
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
		validate_pod_spec(causes, spec, "spec", restart_policies);
		if (!old && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "ephemeralContainers")) > 0)
			forbidden(causes, "spec.ephemeralContainers", "cannot be set on create");
		if (old)
			validate_pod_update(causes, spec, cJSON_GetObjectItemCaseSensitive(old, "spec"));
	} else if (mk_api_is_kind(r, "Service")) {
		validate_service(causes, obj, old);
	} else if (mk_api_is_kind(r, "Deployment")) {
		validate_workload(causes, obj, old, true);
	} else if (mk_api_is_kind(r, "ReplicaSet")) {
		validate_workload(causes, obj, old, false);
	} else if (mk_api_is_kind(r, "Namespace")) {
		validate_namespace(causes, obj);
	} else if (mk_api_is_kind(r, "Node")) {
		validate_node(causes, obj, old);
	} else if (mk_api_is_kind(r, "Endpoints")) {
		validate_endpoints(causes, obj);
	} else if (mk_api_is_kind(r, "Event")) {
		validate_event(causes, obj);
	} else if (r->ops && r->ops->validate) {
		r->ops->validate(causes, obj, old);
	}

out:
	if (cJSON_GetArraySize(causes) == 0)
		return 0;
	if (ret_causes)
		*ret_causes = TAKE_PTR(causes);
	return -1;
}

/* ---- the cause builders, for the kinds' own files (internal.h) ------------------ */

void mk_api_v_required(cJSON *causes, const char *field, const char *detail)
{
	required(causes, field, detail);
}

void mk_api_v_invalid(cJSON *causes, const char *field, const cJSON *value, const char *detail)
{
	invalid(causes, field, value, detail);
}

void mk_api_v_not_supported(cJSON *causes, const char *field, const char *value,
			    const char *const *supported)
{
	not_supported(causes, field, value, supported);
}

void mk_api_v_duplicate(cJSON *causes, const char *field, const cJSON *value)
{
	duplicate(causes, field, value);
}

void mk_api_v_too_many(cJSON *causes, const char *field, int have, int max)
{
	mk_api_cause_add(causes, "FieldValueTooMany", field, "Too many: %d: must have at most %d items",
			 have, max);
}

void mk_api_v_non_negative(cJSON *causes, const cJSON *parent, const char *key, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, key);
	if (!v || cJSON_IsNull(v))
		return;
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble)
		invalid(causes, field, v, "must be an integer");
	else if (v->valuedouble < 0)
		invalid(causes, field, v, "must be greater than or equal to 0");
}

void mk_api_v_immutable(cJSON *causes, const char *field, const cJSON *value, const cJSON *old_value)
{
	if (!cJSON_Compare(value, old_value, 1))
		invalid(causes, field, value, "field is immutable");
}

/* ---- pod templates, for the workload kinds' own files (internal.h) -------------- */

void mk_api_v_selector_template(cJSON *causes, const cJSON *spec, const cJSON *old_spec,
				const char *kind_word)
{
	mk_api_v_workload_template(causes, spec, kind_word, NULL);
	if (old_spec) {
		const cJSON *sel = cJSON_GetObjectItemCaseSensitive(spec, "selector");
		const cJSON *old_sel = cJSON_GetObjectItemCaseSensitive(old_spec, "selector");
		if (old_sel && sel && !cJSON_Compare(old_sel, sel, true))
			invalid(causes, "spec.selector", sel, "field is immutable");
	}
}

void mk_api_v_int_or_percent(cJSON *causes, const cJSON *v, const char *field, bool *ret_zero)
{
	validate_int_or_percent(causes, v, field, true, ret_zero);
}

void mk_api_v_forbidden(cJSON *causes, const char *field, const char *detail)
{
	forbidden(causes, field, detail);
}

void mk_api_v_pod_template(cJSON *causes, const cJSON *tmpl, const char *prefix,
			   const char *const *allowed_restart)
{
	char f[PATH_MAX_LEN];
	if (!cJSON_IsObject(tmpl)) {
		required(causes, prefix, NULL);
		return;
	}
	validate_labels(causes, mk_json_get(tmpl, "metadata.labels"), P(f, "%s.metadata.labels", prefix));
	validate_annotations(causes, mk_json_get(tmpl, "metadata.annotations"),
			     P(f, "%s.metadata.annotations", prefix));
	validate_pod_spec(causes, cJSON_GetObjectItemCaseSensitive(tmpl, "spec"), P(f, "%s.spec", prefix),
			  allowed_restart);
	if (cJSON_GetArraySize(mk_json_get(tmpl, "spec.ephemeralContainers")) > 0)
		forbidden(causes, P(f, "%s.spec.ephemeralContainers", prefix),
			  "ephemeral containers not allowed in pod template");
}

bool mk_api_v_label_selector(cJSON *causes, const cJSON *sel, const char *field)
{
	int before = cJSON_GetArraySize(causes);
	if (!cJSON_IsObject(sel)) {
		invalid(causes, field, sel, "must be a label selector object");
		return false;
	}
	validate_label_selector(causes, sel, field);
	return cJSON_GetArraySize(causes) == before;
}

bool mk_api_selector_matches_json(const cJSON *sel, const cJSON *labels)
{
	return selector_matches(sel, labels);
}

/* A workload's selector and pod template, for the kinds' own files (the checks
 * validate_workload makes, worded for kind `what`): the selector is required,
 * not empty and matches the template's labels; the pod spec is validated with
 * restartPolicy Always only and extra_volumes (an array of volumes, may be NULL)
 * added to its volumes, e.g. the claims a StatefulSet makes from its templates. */
void mk_api_v_workload_template(cJSON *causes, const cJSON *spec, const char *what,
				const cJSON *extra_volumes)
{
	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(spec, "selector");
	const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(spec, "template");
	const cJSON *tlabels = mk_json_get(tmpl, "metadata.labels");
	size_t before = (size_t)cJSON_GetArraySize(causes);
	bool sel_ok = false;
	char msg[80];

	if (!sel || cJSON_IsNull(sel)) {
		required(causes, "spec.selector", NULL);
	} else if (!cJSON_IsObject(sel)) {
		invalid(causes, "spec.selector", sel, "must be a label selector object");
	} else {
		validate_label_selector(causes, sel, "spec.selector");
		snprintf(msg, sizeof(msg), "empty selector is invalid for %s", what);
		if (selector_empty(sel))
			invalid(causes, "spec.selector", sel, msg);
		else
			sel_ok = (size_t)cJSON_GetArraySize(causes) == before;
	}
	if (!cJSON_IsObject(tmpl)) {
		required(causes, "spec.template", NULL);
		return;
	}
	validate_labels(causes, tlabels, "spec.template.metadata.labels");
	validate_annotations(causes, mk_json_get(tmpl, "metadata.annotations"),
			     "spec.template.metadata.annotations");
	if (sel_ok && !selector_matches(sel, tlabels)) {
		_cleanup_cjson_ cJSON *empty = cJSON_CreateObject();
		invalid(causes, "spec.template.metadata.labels", tlabels ? tlabels : empty,
			"`selector` does not match template `labels`");
	}
	const cJSON *pspec = cJSON_GetObjectItemCaseSensitive(tmpl, "spec");
	_cleanup_cjson_ cJSON *copy = NULL;
	if (cJSON_IsObject(pspec) && cJSON_GetArraySize(extra_volumes) > 0) {
		copy = cJSON_Duplicate(pspec, 1);
		cJSON *vols = cJSON_GetObjectItemCaseSensitive(copy, "volumes");
		if (!cJSON_IsArray(vols)) {
			vols = cJSON_CreateArray();
			mk_json_set(copy, "volumes", vols);
		}
		const cJSON *v;
		cJSON_ArrayForEach(v, extra_volumes)
			cJSON_AddItemToArray(vols, cJSON_Duplicate(v, 1));
		pspec = copy;
	}
	validate_pod_spec(causes, pspec, "spec.template.spec", restart_always);
	if (cJSON_GetArraySize(mk_json_get(tmpl, "spec.ephemeralContainers")) > 0)
		forbidden(causes, "spec.template.spec.ephemeralContainers",
			  "ephemeral containers not allowed in pod template");
}

const char *mk_api_check_port_name(const char *s)
{
	return check_port_name(s);
}
