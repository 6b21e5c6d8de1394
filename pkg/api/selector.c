/* Label selectors (k8s.io/apimachinery/pkg/labels: the string syntax and
 * metav1.LabelSelector) and field selectors (k8s.io/apimachinery/pkg/fields). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

/* ---- label key / value syntax ---------------------------------------------- */

/* Key and value rules are validation's (mk_api_check_label_key/_value), so a
 * selector accepts exactly the labels objects may carry. */

/* ---- label selectors -------------------------------------------------------- */

enum label_op { OP_IN, OP_NOT_IN, OP_EXISTS, OP_NOT_EXISTS, OP_GT, OP_LT };

struct requirement {
	char *key;
	enum label_op op;
	char **values; /* mk_strv: NULL-terminated, n_values long */
	size_t n_values;
};

struct mk_label_selector {
	struct requirement *reqs;
	size_t n, cap;
};

static void requirement_release(struct requirement *r)
{
	free(r->key);
	mk_strv_free(r->values);
}

void mk_label_selector_free(struct mk_label_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		requirement_release(&sel->reqs[i]);
	free(sel->reqs);
	free(sel);
}

static struct requirement *selector_add(struct mk_label_selector *sel, const char *key,
					enum label_op op)
{
	MK_GROW(sel->reqs, sel->cap, sel->n + 1);
	struct requirement *r = &sel->reqs[sel->n++];
	*r = (struct requirement){ .key = mk_strdup(key), .op = op };
	return r;
}

static void requirement_add_value(struct requirement *r, const char *v)
{
	for (size_t i = 0; i < r->n_values; i++)
		if (strcmp(r->values[i], v) == 0)
			return; /* a set */
	mk_strv_push(&r->values, &r->n_values, mk_strdup(v));
}

static bool parse_int64(const char *s, long long *ret)
{
	char *end;
	if (!*s)
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

/* The checks of labels.NewRequirement. */
static int requirement_check(const struct requirement *r, struct mk_error **err)
{
	const char *why = mk_api_check_label_key(r->key);
	if (why)
		return mk_error_set(err, EINVAL,
				    "unable to parse requirement: key: Invalid value: \"%s\": %s",
				    r->key, why);
	switch (r->op) {
	case OP_IN:
	case OP_NOT_IN:
		if (r->n_values == 0)
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: values: Invalid value: []: for "
					    "'in', 'notin' operators, values set can't be empty");
		break;
	case OP_EXISTS:
	case OP_NOT_EXISTS:
		if (r->n_values)
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: values: Invalid value: \"%s\": "
					    "values set must be empty for exists and does not exist",
					    r->values[0]);
		break;
	case OP_GT:
	case OP_LT: {
		long long v;
		if (r->n_values != 1)
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: values: for 'Gt', 'Lt' "
					    "operators, exactly one value is required");
		if (!parse_int64(r->values[0], &v))
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: values[0]: Invalid value: "
					    "\"%s\": for 'Gt', 'Lt' operators, the value must be an "
					    "integer",
					    r->values[0]);
		return 0;
	}
	}
	for (size_t i = 0; i < r->n_values; i++) {
		why = mk_api_check_label_value(r->values[i]);
		if (why)
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: values[%zu]: Invalid value: "
					    "\"%s\": %s",
					    i, r->values[i], why);
	}
	return 0;
}

/* The lexer of labels.Parse: identifiers run up to whitespace or one of =!(),<> */
enum token { T_END, T_IDENT, T_COMMA, T_OPEN, T_CLOSE, T_EQ, T_DEQ, T_NEQ, T_NOT, T_GT, T_LT };

struct lexer {
	const char *s;
	size_t pos;
	char lit[512]; /* text of the last token, for messages and identifiers */
	bool too_long;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	return c && strchr("=!(),<>", c) != NULL;
}

static enum token lex(struct lexer *l)
{
	const char *s = l->s;

	while (is_space(s[l->pos]))
		l->pos++;
	const char *c = s + l->pos;
	if (!*c) {
		snprintf(l->lit, sizeof(l->lit), "%s", "end of string");
		return T_END;
	}
	if (is_special(*c)) {
		static const struct {
			const char *text;
			enum token tok;
		} ops[] = { { "!=", T_NEQ }, { "==", T_DEQ }, { "=", T_EQ },	{ "!", T_NOT },
			    { "(", T_OPEN }, { ")", T_CLOSE }, { ",", T_COMMA }, { ">", T_GT },
			    { "<", T_LT } };
		for (size_t i = 0; i < MK_ARRAY_SIZE(ops); i++) {
			size_t n = strlen(ops[i].text);
			if (strncmp(c, ops[i].text, n) == 0) {
				snprintf(l->lit, sizeof(l->lit), "%s", ops[i].text);
				l->pos += n;
				return ops[i].tok;
			}
		}
	}
	size_t n = 0;
	while (c[n] && !is_space(c[n]) && !is_special(c[n]))
		n++;
	l->too_long = n >= sizeof(l->lit);
	snprintf(l->lit, sizeof(l->lit), "%.*s", (int)n, c);
	l->pos += n;
	return T_IDENT;
}

static enum token peek(struct lexer *l)
{
	struct lexer save = *l;
	enum token t = lex(l);
	*l = save;
	return t;
}

/* An identifier too long for a key or value (> 253 + 1 + 63) is invalid anyway. */
static int ident_check(struct lexer *l, struct mk_error **err)
{
	if (l->too_long)
		return mk_error_set(err, EINVAL,
				    "unable to parse requirement: identifier too long at position %zu",
				    l->pos);
	return 0;
}

/* "(a, b)"; an empty slot is the empty string, as labels.Parse has it. */
static int parse_values(struct lexer *l, struct requirement *r, struct mk_error **err)
{
	enum token t = lex(l);

	if (t != T_OPEN)
		return mk_error_set(err, EINVAL,
				    "unable to parse requirement: found '%s', expected: '('", l->lit);
	if (peek(l) == T_CLOSE) {
		lex(l);
		requirement_add_value(r, "");
		return 0;
	}
	for (;;) {
		t = lex(l);
		if (t == T_IDENT) {
			if (ident_check(l, err) < 0)
				return -1;
			requirement_add_value(r, l->lit);
			t = lex(l);
		} else {
			requirement_add_value(r, "");
		}
		if (t == T_CLOSE)
			return 0;
		if (t != T_COMMA)
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: found '%s', expected: ',', ')' "
					    "or identifier",
					    l->lit);
		if (peek(l) == T_CLOSE) {
			lex(l);
			requirement_add_value(r, "");
			return 0;
		}
	}
}

static int parse_requirement(struct lexer *l, struct mk_label_selector *sel,
			     struct mk_error **err)
{
	enum token t = lex(l);
	struct requirement *r;

	if (t == T_NOT) {
		if (lex(l) != T_IDENT)
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: found '%s', expected: "
					    "identifier after '!'",
					    l->lit);
		if (ident_check(l, err) < 0)
			return -1;
		r = selector_add(sel, l->lit, OP_NOT_EXISTS);
		return requirement_check(r, err);
	}
	if (t != T_IDENT)
		return mk_error_set(err, EINVAL,
				    "unable to parse requirement: found '%s', expected: !, "
				    "identifier, or 'end of string'",
				    l->lit);
	if (ident_check(l, err) < 0)
		return -1;
	char key[sizeof(l->lit)];
	memcpy(key, l->lit, sizeof(key));

	t = peek(l);
	if (t == T_END || t == T_COMMA) {
		r = selector_add(sel, key, OP_EXISTS);
		return requirement_check(r, err);
	}
	t = lex(l);
	switch (t) {
	case T_EQ:
	case T_DEQ:
	case T_NEQ:
	case T_GT:
	case T_LT: {
		enum label_op op = t == T_NEQ ? OP_NOT_IN : t == T_GT ? OP_GT : t == T_LT ? OP_LT : OP_IN;
		r = selector_add(sel, key, op);
		t = peek(l);
		if (t == T_END || t == T_COMMA) {
			requirement_add_value(r, "");
		} else if (lex(l) == T_IDENT) {
			if (ident_check(l, err) < 0)
				return -1;
			requirement_add_value(r, l->lit);
		} else {
			return mk_error_set(err, EINVAL,
					    "unable to parse requirement: found '%s', expected: "
					    "identifier",
					    l->lit);
		}
		return requirement_check(r, err);
	}
	case T_IDENT:
		if (!strcmp(l->lit, "in") || !strcmp(l->lit, "notin")) {
			r = selector_add(sel, key, l->lit[0] == 'i' ? OP_IN : OP_NOT_IN);
			if (parse_values(l, r, err) < 0)
				return -1;
			return requirement_check(r, err);
		}
		/* fall through */
	default:
		return mk_error_set(err, EINVAL,
				    "unable to parse requirement: found '%s', expected: in, notin, "
				    "=, ==, !=, gt, lt",
				    l->lit);
	}
}

int mk_label_selector_parse(const char *s, struct mk_label_selector **ret,
			    struct mk_error **err)
{
	struct mk_label_selector *sel = mk_malloc0(sizeof(*sel));
	struct lexer l = { .s = s ? s : "" };

	if (peek(&l) != T_END) {
		for (;;) {
			if (parse_requirement(&l, sel, err) < 0)
				goto fail;
			enum token t = lex(&l);
			if (t == T_END)
				break;
			if (t != T_COMMA) {
				mk_error_set(err, EINVAL,
					     "found '%s', expected: ',' or 'end of string'", l.lit);
				goto fail;
			}
		}
	}
	*ret = sel;
	return 0;
fail:
	mk_label_selector_free(sel);
	return -1;
}

/* The steps of mk_label_selector_from_json (metav1.LabelSelectorAsSelector):
 * matchLabels become "In" requirements of one value, then each of
 * matchExpressions a requirement, checked as the string form's are. */

static int selector_add_match_labels(struct mk_label_selector *sel, const cJSON *ml,
				     struct mk_error **err)
{
	const cJSON *c;
	if (!ml || cJSON_IsNull(ml))
		return 0;
	if (!cJSON_IsObject(ml))
		return mk_error_set(err, EINVAL, "matchLabels must be an object");
	cJSON_ArrayForEach(c, ml)
	{
		if (!cJSON_IsString(c))
			return mk_error_set(err, EINVAL, "matchLabels: value of '%s' must be a string",
					    c->string);
		struct requirement *r = selector_add(sel, c->string, OP_IN);
		requirement_add_value(r, c->valuestring);
		if (requirement_check(r, err) < 0)
			return -1;
	}
	return 0;
}

static int label_op_parse(const char *op, enum label_op *ret, struct mk_error **err)
{
	static const struct {
		const char *name;
		enum label_op op;
	} ops[] = { { "In", OP_IN },
		    { "NotIn", OP_NOT_IN },
		    { "Exists", OP_EXISTS },
		    { "DoesNotExist", OP_NOT_EXISTS } };
	for (size_t i = 0; i < MK_ARRAY_SIZE(ops); i++)
		if (!strcmp(op, ops[i].name)) {
			*ret = ops[i].op;
			return 0;
		}
	return mk_error_set(err, EINVAL, "\"%s\" is not a valid label selector operator", op);
}

/* matchExpressions[i] (c): key, operator, values. */
static int selector_add_expression(struct mk_label_selector *sel, const cJSON *c, size_t i,
				   struct mk_error **err)
{
	const char *key = mk_json_get_string(c, "key");
	const char *op = mk_json_get_string(c, "operator");
	const cJSON *values = cJSON_GetObjectItemCaseSensitive(c, "values"), *v;
	enum label_op lop = OP_IN;

	if (!cJSON_IsObject(c) || !key)
		return mk_error_set(err, EINVAL, "matchExpressions[%zu].key: Required value", i);
	if (!op)
		return mk_error_set(err, EINVAL, "matchExpressions[%zu].operator: Required value", i);
	if (label_op_parse(op, &lop, err) < 0)
		return -1;
	if (values && !cJSON_IsNull(values) && !cJSON_IsArray(values))
		return mk_error_set(err, EINVAL, "matchExpressions[%zu].values must be a list", i);
	struct requirement *r = selector_add(sel, key, lop);
	const cJSON *list = cJSON_IsArray(values) ? values : NULL;
	cJSON_ArrayForEach(v, list)
	{
		if (!cJSON_IsString(v))
			return mk_error_set(err, EINVAL, "matchExpressions[%zu].values must be strings",
					    i);
		requirement_add_value(r, v->valuestring);
	}
	return requirement_check(r, err);
}

int mk_label_selector_from_json(const cJSON *json, struct mk_label_selector **ret,
				struct mk_error **err)
{
	struct mk_label_selector *sel = mk_malloc0(sizeof(*sel));
	const cJSON *me, *c;
	size_t i = 0;

	if (!json || cJSON_IsNull(json))
		goto done;
	if (!cJSON_IsObject(json)) {
		mk_error_set(err, EINVAL, "label selector must be an object");
		goto fail;
	}
	if (selector_add_match_labels(sel, cJSON_GetObjectItemCaseSensitive(json, "matchLabels"),
				      err) < 0)
		goto fail;
	me = cJSON_GetObjectItemCaseSensitive(json, "matchExpressions");
	if (cJSON_IsNull(me))
		me = NULL;
	if (me && !cJSON_IsArray(me)) {
		mk_error_set(err, EINVAL, "matchExpressions must be a list");
		goto fail;
	}
	cJSON_ArrayForEach(c, me)
		if (selector_add_expression(sel, c, i++, err) < 0)
			goto fail;
done:
	*ret = sel;
	return 0;
fail:
	mk_label_selector_free(sel);
	return -1;
}

static bool requirement_has(const struct requirement *r, const char *v)
{
	for (size_t i = 0; i < r->n_values; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

bool mk_label_selector_matches(const struct mk_label_selector *sel, const cJSON *labels)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const struct requirement *r = &sel->reqs[i];
		const cJSON *l = cJSON_IsObject(labels)
					 ? cJSON_GetObjectItemCaseSensitive(labels, r->key)
					 : NULL;
		/* a non-string label value can match no value (labels are strings) */
		const char *v = cJSON_IsString(l) ? l->valuestring : NULL;
		bool ok;
		switch (r->op) {
		case OP_IN:
			ok = v && requirement_has(r, v);
			break;
		case OP_NOT_IN:
			ok = !l || !v || !requirement_has(r, v);
			break;
		case OP_EXISTS:
			ok = l != NULL;
			break;
		case OP_NOT_EXISTS:
			ok = l == NULL;
			break;
		default: { /* OP_GT, OP_LT */
			long long have, want;
			ok = v && parse_int64(v, &have) && parse_int64(r->values[0], &want) &&
			     (r->op == OP_GT ? have > want : have < want);
			break;
		}
		}
		if (!ok)
			return false;
	}
	return true;
}

bool mk_label_selector_empty(const struct mk_label_selector *sel)
{
	return !sel || sel->n == 0;
}

/* ---- field selectors -------------------------------------------------------- */

struct field_term {
	char *path;
	bool not_equal;
	char *value;
};

struct mk_field_selector {
	struct field_term *terms;
	size_t n, cap;
};

void mk_field_selector_free(struct mk_field_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->terms[i].path);
		free(sel->terms[i].value);
	}
	free(sel->terms);
	free(sel);
}

/* fields.UnescapeValue: "\\", "\," and "\=" are escapes; a bare ',' or '=' is an
 * error, as is any other escape. */
static int unescape_value(const char *s, size_t n, char **ret, struct mk_error **err)
{
	char *out = mk_malloc0(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\') {
			if (i + 1 >= n || !strchr("\\,=", s[i + 1])) {
				mk_error_set(err, EINVAL,
					     "invalid field selector: invalid escape sequence: \\%.1s",
					     i + 1 < n ? s + i + 1 : "");
				free(out);
				return -1;
			}
			*o++ = s[++i];
		} else if (s[i] == ',' || s[i] == '=') {
			mk_error_set(err, EINVAL, "invalid field selector: unescaped character %c",
				     s[i]);
			free(out);
			return -1;
		} else {
			*o++ = s[i];
		}
	}
	*ret = out;
	return 0;
}

static int parse_term(struct mk_field_selector *sel, const char *term, size_t n,
		      struct mk_error **err)
{
	/* the first "!=", "==" or "=", in that order of preference at each position */
	for (size_t i = 0; i < n; i++) {
		size_t oplen = 0;
		bool neq = false;
		if (i + 1 < n && term[i] == '!' && term[i + 1] == '=')
			oplen = 2, neq = true;
		else if (i + 1 < n && term[i] == '=' && term[i + 1] == '=')
			oplen = 2;
		else if (term[i] == '=')
			oplen = 1;
		if (!oplen)
			continue;

		size_t b = 0, e = i;
		while (b < e && is_space(term[b]))
			b++;
		while (e > b && is_space(term[e - 1]))
			e--;
		if (b == e)
			break;
		char *value;
		if (unescape_value(term + i + oplen, n - i - oplen, &value, err) < 0)
			return -1;
		MK_GROW(sel->terms, sel->cap, sel->n + 1);
		sel->terms[sel->n++] = (struct field_term){
			.path = strndup(term + b, e - b), .not_equal = neq, .value = value
		};
		if (!sel->terms[sel->n - 1].path)
			abort();
		return 0;
	}
	return mk_error_set(err, EINVAL, "invalid selector: '%.*s'; can't understand '%.*s'",
			    (int)n, term, (int)n, term);
}

int mk_field_selector_parse(const char *s, struct mk_field_selector **ret,
			    struct mk_error **err)
{
	struct mk_field_selector *sel = mk_malloc0(sizeof(*sel));
	size_t start = 0, i = 0;

	s = s ? s : "";
	/* split on commas not escaped by a backslash; empty terms are skipped */
	for (;; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
			continue;
		}
		if (s[i] != ',' && s[i] != '\0')
			continue;
		size_t n = i - start;
		bool blank = true;
		for (size_t k = start; k < i; k++)
			blank = blank && is_space(s[k]);
		if (!blank && parse_term(sel, s + start, n, err) < 0) {
			mk_field_selector_free(sel);
			return -1;
		}
		if (!s[i])
			break;
		start = i + 1;
	}
	*ret = sel;
	return 0;
}

/* The field as text: strings as they are, numbers and booleans as JSON prints
 * them, absent or null as "". */
static char *field_text(const cJSON *obj, const char *path)
{
	const cJSON *v = mk_json_get(obj, path);

	if (!v || cJSON_IsNull(v))
		return mk_strdup("");
	if (cJSON_IsString(v))
		return mk_strdup(v->valuestring);
	char *p = cJSON_PrintUnformatted(v);
	char *r = mk_strdup(p ? p : "");
	cJSON_free(p);
	return r;
}

/* value fits the text of a JSON document verbatim (no escapes) */
static bool plain_value(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '.' || *v == '-' || *v == '_' || *v == ':'))
			return false;
	return true;
}

/* json (unformatted, as cJSON prints) has key: value, the value a string or a bare
 * number/boolean, somewhere */
static bool text_has(const char *json, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);
	for (const char *p = json; (p = strstr(p, key)); p += kl) {
		if (p == json || p[-1] != '"' || p[kl] != '"' || p[kl + 1] != ':')
			continue;
		const char *v = p + kl + 2;
		bool quoted = *v == '"';
		v += quoted;
		if (strncmp(v, value, vl) != 0)
			continue;
		char end = v[vl];
		if (quoted ? end == '"' : (end == ',' || end == '}' || end == ']'))
			return true;
	}
	return false;
}

bool mk_field_selector_may_match_text(const struct mk_field_selector *sel, const char *json)
{
	if (!sel || !json)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const struct field_term *t = &sel->terms[i];
		if (t->not_equal || !plain_value(t->value))
			continue;
		const char *key = strrchr(t->path, '.');
		key = key ? key + 1 : t->path;
		if (*key && !text_has(json, key, t->value))
			return false;
	}
	return true;
}

const char *mk_field_selector_equal_value(const struct mk_field_selector *sel, const char *path)
{
	for (size_t i = 0; sel && i < sel->n; i++)
		if (!sel->terms[i].not_equal && !strcmp(sel->terms[i].path, path))
			return sel->terms[i].value;
	return NULL;
}

bool mk_field_selector_matches(const struct mk_field_selector *sel, const cJSON *obj)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const struct field_term *t = &sel->terms[i];
		_cleanup_free_ char *have = field_text(obj, t->path);
		bool eq = strcmp(have, t->value) == 0;
		if (eq == t->not_equal)
			return false;
	}
	return true;
}
