/* YAML <-> JSON with libyaml: manifests in (core-schema typing of plain
 * scalars), kubectl -o yaml out (go-yaml's choices: sorted keys, block
 * style, quoting of strings that would read back as something else). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "minik8s/client.h"

#define MAX_DEPTH 512

/* ---- scalar typing ------------------------------------------------------------ */

static bool is_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int bool_word(const char *s)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(s, t[i]))
			return 1;
		if (!strcmp(s, f[i]))
			return 0;
	}
	return -1;
}

/* YAML 1.1 booleans that YAML 1.2 reads as strings: go-yaml v2 (kubectl)
 * still reads them as booleans, so they are quoted on output. */
static bool yaml11_bool_word(const char *s)
{
	static const char *const w[] = { "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No",
					 "NO", "on", "On", "ON", "off", "Off", "OFF" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(w); i++)
		if (!strcmp(s, w[i]))
			return true;
	return false;
}

static bool all_digits(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s) && *s != '_')
			return false;
	return true;
}

/* Core-schema number: returns true and *ret when s is an int or a float. */
static bool parse_number(const char *s, double *ret)
{
	const char *p = s;
	bool neg = false;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (!*p)
		return false;
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
		*ret = neg ? -INFINITY : INFINITY;
		return true;
	}
	if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
		*ret = NAN;
		return true;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		if (!all_digits(p + 2, "0123456789abcdefABCDEF"))
			return false;
		*ret = (double)strtoull(p + 2, NULL, 16) * (neg ? -1 : 1);
		return true;
	}
	if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
		if (!all_digits(p + 2, "01234567"))
			return false;
		*ret = (double)strtoull(p + 2, NULL, 8) * (neg ? -1 : 1);
		return true;
	}
	if (p[0] == '0' && p[1] == 'b') {
		if (!all_digits(p + 2, "01"))
			return false;
		*ret = (double)strtoull(p + 2, NULL, 2) * (neg ? -1 : 1);
		return true;
	}
	/* decimal int or float: digits [. digits] [e[+-]digits], at least one digit */
	const char *q = p;
	size_t digits = 0;
	while ((*q >= '0' && *q <= '9') || *q == '_') {
		digits += *q != '_';
		q++;
	}
	if (*q == '.') {
		q++;
		while (*q >= '0' && *q <= '9') {
			digits++;
			q++;
		}
	}
	if (!digits)
		return false;
	if (*q == 'e' || *q == 'E') {
		q++;
		if (*q == '+' || *q == '-')
			q++;
		if (!(*q >= '0' && *q <= '9'))
			return false;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (*q)
		return false;
	if (strchr(p, '_')) {
		char tmp[128];
		size_t o = 0;
		for (const char *x = s; *x && o < sizeof(tmp) - 1; x++)
			if (*x != '_')
				tmp[o++] = *x;
		tmp[o] = '\0';
		*ret = strtod(tmp, NULL);
	} else {
		*ret = strtod(s, NULL);
	}
	return true;
}

/* ---- parse ---------------------------------------------------------------------- */

/* Event-based: the document API gives untagged scalars the !!str tag, which
 * would make "!!str 42" and "42" indistinguishable. */

struct anchor {
	char *name;
	cJSON *value;
	struct anchor *next;
};

struct parse_ctx {
	yaml_parser_t parser;
	struct anchor *anchors;
	struct mk_error **err;
};

static void anchors_free(struct parse_ctx *p)
{
	while (p->anchors) {
		struct anchor *a = p->anchors;
		p->anchors = a->next;
		free(a->name);
		cJSON_Delete(a->value);
		free(a);
	}
}

static void anchor_add(struct parse_ctx *p, const yaml_char_t *name, const cJSON *v)
{
	if (!name)
		return;
	struct anchor *a = mk_malloc0(sizeof(*a));
	a->name = mk_strdup((const char *)name);
	a->value = cJSON_Duplicate(v, 1);
	a->next = p->anchors; /* newest first: a redefined anchor shadows the old one */
	p->anchors = a;
}

static int parse_error(struct parse_ctx *p)
{
	return mk_error_set(p->err, EINVAL, "yaml: line %zu: %s", p->parser.problem_mark.line + 1,
			    p->parser.problem ? p->parser.problem : "syntax error");
}

static cJSON *typed_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	double d;

	if (tag && strcmp(tag, "!") != 0) {
		if (!strcmp(tag, YAML_STR_TAG))
			return cJSON_CreateString(v);
		if (!strcmp(tag, YAML_NULL_TAG))
			return cJSON_CreateNull();
		if (!strcmp(tag, YAML_BOOL_TAG))
			return cJSON_CreateBool(bool_word(v) == 1);
		if ((!strcmp(tag, YAML_INT_TAG) || !strcmp(tag, YAML_FLOAT_TAG)) &&
		    parse_number(v, &d))
			return cJSON_CreateNumber(d);
		/* unknown tags (!!binary, custom): keep the text */
		return cJSON_CreateString(v);
	}
	if (tag || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(v);
	if (is_null_word(v))
		return cJSON_CreateNull();
	int b = bool_word(v);
	if (b >= 0)
		return cJSON_CreateBool(b);
	if (parse_number(v, &d))
		return cJSON_CreateNumber(d);
	return cJSON_CreateString(v);
}

static cJSON *parse_node(struct parse_ctx *p, yaml_event_t *ev, int depth);

/* A copy of the anchored node an alias names (*ev consumed). */
static cJSON *parse_alias(struct parse_ctx *p, yaml_event_t *ev)
{
	cJSON *out = NULL;
	const char *name = (const char *)ev->data.alias.anchor;
	for (struct anchor *a = p->anchors; a; a = a->next)
		if (!strcmp(a->name, name)) {
			out = cJSON_Duplicate(a->value, 1);
			break;
		}
	if (!out)
		mk_error_set(p->err, EINVAL, "yaml: line %zu: unknown anchor '%s' referenced",
			     ev->start_mark.line + 1, name);
	yaml_event_delete(ev);
	return out;
}

/* The next event into *e; -1 with *p->err. */
static int next_event(struct parse_ctx *p, yaml_event_t *e)
{
	if (yaml_parser_parse(&p->parser, e))
		return 0;
	parse_error(p);
	return -1;
}

/* The items of a sequence, up to its end, into out. */
static int parse_sequence(struct parse_ctx *p, cJSON *out, int depth)
{
	for (;;) {
		yaml_event_t e;
		if (next_event(p, &e) < 0)
			return -1;
		if (e.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&e);
			return 0;
		}
		cJSON *c = parse_node(p, &e, depth + 1);
		if (!c)
			return -1;
		cJSON_AddItemToArray(out, c);
	}
}

/* A mapping key as JSON object keys must be: a string's text, "null", or the
 * text of a number or bool; mappings and sequences are refused, as
 * sigs.k8s.io/yaml (kubectl) refuses them (printing them as text keys would also
 * double their escapes at every level). k is consumed. */
static char *map_key(struct parse_ctx *p, cJSON *k, size_t kline)
{
	char *key;
	if (cJSON_IsObject(k) || cJSON_IsArray(k)) {
		const char *what = cJSON_IsObject(k) ? "mapping" : "sequence";
		cJSON_Delete(k);
		mk_error_set(p->err, EINVAL, "yaml: line %zu: unsupported map key: a %s", kline, what);
		return NULL;
	}
	if (cJSON_IsString(k)) {
		key = mk_strdup(k->valuestring);
	} else if (cJSON_IsNull(k)) {
		key = mk_strdup("null");
	} else {
		char *t = cJSON_PrintUnformatted(k);
		key = mk_strdup(t);
		cJSON_free(t);
	}
	cJSON_Delete(k);
	return key;
}

/* The entries of a mapping, up to its end, into out: "<<: *base" merges the keys
 * not set explicitly; a later duplicate key wins, as in go-yaml's map decoding. */
static int parse_mapping(struct parse_ctx *p, cJSON *out, int depth)
{
	for (;;) {
		yaml_event_t e;
		if (next_event(p, &e) < 0)
			return -1;
		if (e.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&e);
			return 0;
		}
		bool merge = e.type == YAML_SCALAR_EVENT && !e.data.scalar.tag &&
			     e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			     !strcmp((const char *)e.data.scalar.value, "<<");
		size_t kline = e.start_mark.line + 1;
		cJSON *k = parse_node(p, &e, depth + 1);
		if (!k)
			return -1;
		_cleanup_free_ char *key = map_key(p, k, kline);
		if (!key || next_event(p, &e) < 0)
			return -1;
		cJSON *v = parse_node(p, &e, depth + 1);
		if (!v)
			return -1;
		if (merge && cJSON_IsObject(v)) {
			cJSON *c;
			cJSON_ArrayForEach(c, v)
				if (!cJSON_GetObjectItemCaseSensitive(out, c->string))
					cJSON_AddItemToObject(out, c->string, cJSON_Duplicate(c, 1));
			cJSON_Delete(v);
		} else {
			mk_json_set(out, key, v);
		}
	}
}

/* Parses the node that starts with *ev (consumed); returns it or NULL with *p->err. */
static cJSON *parse_node(struct parse_ctx *p, yaml_event_t *ev, int depth)
{
	cJSON *out = NULL;
	_cleanup_free_ char *anchor = NULL;
	int r;

	if (depth >= MAX_DEPTH) {
		yaml_event_delete(ev);
		mk_error_set(p->err, EINVAL, "yaml: document nested too deeply");
		return NULL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return parse_alias(p, ev);
	case YAML_SCALAR_EVENT:
		out = typed_scalar(ev);
		anchor_add(p, ev->data.scalar.anchor, out);
		yaml_event_delete(ev);
		return out;
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor)
			anchor = mk_strdup((const char *)ev->data.sequence_start.anchor);
		yaml_event_delete(ev);
		out = cJSON_CreateArray();
		r = parse_sequence(p, out, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor)
			anchor = mk_strdup((const char *)ev->data.mapping_start.anchor);
		yaml_event_delete(ev);
		out = cJSON_CreateObject();
		r = parse_mapping(p, out, depth);
		break;
	default:
		mk_error_set(p->err, EINVAL, "yaml: line %zu: unexpected event",
			     ev->start_mark.line + 1);
		yaml_event_delete(ev);
		return NULL;
	}
	if (r < 0) {
		cJSON_Delete(out);
		return NULL;
	}
	anchor_add(p, (yaml_char_t *)anchor, out);
	return out;
}

int mk_yaml_parse_documents(const char *text, size_t len, cJSON **ret, struct mk_error **err)
{
	struct parse_ctx p = { .err = err };
	_cleanup_cjson_ cJSON *docs = cJSON_CreateArray();
	int r = 0;

	if (!yaml_parser_initialize(&p.parser))
		return mk_error_set(err, ENOMEM, "yaml: cannot initialize parser");
	yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);
	for (bool end = false; !end;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p.parser, &ev)) {
			r = parse_error(&p);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			end = true;
			yaml_event_delete(&ev);
			break;
		case YAML_DOCUMENT_START_EVENT: {
			yaml_event_delete(&ev);
			yaml_event_t root;
			if (!yaml_parser_parse(&p.parser, &root)) {
				r = parse_error(&p);
				end = true;
				break;
			}
			/* an empty document ("---" alone, or only comments) is a null: skip it */
			bool empty = root.type == YAML_SCALAR_EVENT && !root.data.scalar.tag &&
				     root.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
				     is_null_word((const char *)root.data.scalar.value);
			cJSON *j = parse_node(&p, &root, 0);
			if (!j) {
				r = -1;
				end = true;
				break;
			}
			if (empty)
				cJSON_Delete(j);
			else
				cJSON_AddItemToArray(docs, j);
			anchors_free(&p); /* anchors do not cross documents */
			break;
		}
		default:
			/* STREAM_START, DOCUMENT_END */
			yaml_event_delete(&ev);
			break;
		}
	}
	anchors_free(&p);
	yaml_parser_delete(&p.parser);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(docs);
	return 0;
}

/* ---- emit ----------------------------------------------------------------------- */

static bool is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* go-yaml v2's keyList.Less on strings: letters after non-letters, runs of
 * digits compared by value. */
static int goyaml_key_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	for (size_t i = 0; i < la && i < lb; i++) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
		if (ca == cb)
			continue;
		bool al = is_letter(ca), bl = is_letter(cb);
		if (al && bl)
			return ca < cb ? -1 : 1;
		if (al || bl)
			return bl ? -1 : 1;
		/* go-yaml's int arithmetic wraps on long digit runs: unsigned here, as
		 * signed overflow would be undefined, compared as signed like Go */
		unsigned long long an = 0, bn = 0;
		size_t ai, bi;
		if (ca == '0' || cb == '0') {
			for (size_t j = i; j-- > 0 && is_digit((unsigned char)a[j]);) {
				if (a[j] != '0') {
					an = 1;
					bn = 1;
					break;
				}
			}
		}
		for (ai = i; ai < la && is_digit((unsigned char)a[ai]); ai++)
			an = an * 10 + (unsigned)(a[ai] - '0');
		for (bi = i; bi < lb && is_digit((unsigned char)b[bi]); bi++)
			bn = bn * 10 + (unsigned)(b[bi] - '0');
		if (an != bn)
			return (long long)an < (long long)bn ? -1 : 1;
		if (ai != bi)
			return ai < bi ? -1 : 1;
		return ca < cb ? -1 : 1;
	}
	return la < lb ? -1 : la > lb ? 1 : 0;
}

static int cmp_items(const void *x, const void *y)
{
	const cJSON *a = *(const cJSON *const *)x, *b = *(const cJSON *const *)y;
	return goyaml_key_cmp(a->string ? a->string : "", b->string ? b->string : "");
}

static size_t digits_at(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && is_digit((unsigned char)s[n]))
		n++;
	return n;
}

/* YAML 1.1 timestamps ("2026-11-26", "2026-11-26T08:37:59Z", with a space
 * or fractions or an offset): go-yaml reads them as times, so quote them. */
static bool looks_like_timestamp(const char *s)
{
	size_t n = digits_at(s, 4);
	if (n != 4 || s[4] != '-')
		return false;
	s += 5;
	n = digits_at(s, 2);
	if (!n || s[n] != '-')
		return false;
	s += n + 1;
	n = digits_at(s, 2);
	if (!n)
		return false;
	s += n;
	if (!*s)
		return true;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return false;
	s++;
	n = digits_at(s, 2);
	return n && s[n] == ':';
}

/* Would this string, emitted plain, read back as something other than itself? */
static bool needs_quotes(const char *s)
{
	double d;
	if (is_null_word(s) || bool_word(s) >= 0 || yaml11_bool_word(s) || parse_number(s, &d) ||
	    looks_like_timestamp(s))
		return true;
	/* go-yaml v2 also reads base-60 numbers ("1:20"), "=" and the merge key "<<"
	 * specially (an unquoted "<<" key would merge its value when read back) */
	if (!strcmp(s, "=") || !strcmp(s, "<<"))
		return true;
	bool sexa = *s && strchr(s, ':');
	for (const char *p = s; *p && sexa; p++)
		if (!is_digit((unsigned char)*p) && *p != ':' && *p != '.' && *p != '_')
			sexa = false;
	return sexa;
}

static void format_number(double v, char *buf, size_t size)
{
	if (isnan(v))
		snprintf(buf, size, ".nan");
	else if (isinf(v))
		snprintf(buf, size, v > 0 ? ".inf" : "-.inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, size, "%.0f", v);
	else {
		/* shortest representation that reads back the same */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

static int emit_scalar(yaml_emitter_t *em, const char *tag, const char *value, size_t len,
		       yaml_scalar_style_t style, bool plain_implicit)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)value,
					  (int)len, plain_implicit, 1, style))
		return -1;
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_value(yaml_emitter_t *em, const cJSON *v, int depth)
{
	yaml_event_t ev;
	char num[64];

	if (depth > MAX_DEPTH)
		return -1;
	if (cJSON_IsObject(v)) {
		size_t n = (size_t)cJSON_GetArraySize(v);
		if (!yaml_mapping_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_MAP_TAG, 1,
							 n ? YAML_BLOCK_MAPPING_STYLE
							   : YAML_FLOW_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		const cJSON **items = n ? mk_malloc0(n * sizeof(*items)) : NULL;
		size_t i = 0;
		const cJSON *c;
		cJSON_ArrayForEach(c, v)
			items[i++] = c;
		if (n)
			qsort(items, n, sizeof(*items), cmp_items);
		for (i = 0; i < n; i++) {
			const char *k = items[i]->string ? items[i]->string : "";
			if (emit_scalar(em, YAML_STR_TAG, k, strlen(k),
					needs_quotes(k) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
							: YAML_PLAIN_SCALAR_STYLE,
					!needs_quotes(k)) < 0 ||
			    emit_value(em, items[i], depth + 1) < 0) {
				free(items);
				return -1;
			}
		}
		free(items);
		if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	}
	if (cJSON_IsArray(v)) {
		int n = cJSON_GetArraySize(v);
		if (!yaml_sequence_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_SEQ_TAG, 1,
							  n ? YAML_BLOCK_SEQUENCE_STYLE
							    : YAML_FLOW_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		const cJSON *c;
		cJSON_ArrayForEach(c, v)
			if (emit_value(em, c, depth + 1) < 0)
				return -1;
		if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
			return -1;
		return 0;
	}
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
		if (strchr(s, '\n'))
			style = YAML_LITERAL_SCALAR_STYLE;
		else if (needs_quotes(s))
			style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		return emit_scalar(em, YAML_STR_TAG, s, strlen(s), style,
				   style == YAML_PLAIN_SCALAR_STYLE);
	}
	if (cJSON_IsBool(v))
		return emit_scalar(em, YAML_BOOL_TAG, cJSON_IsTrue(v) ? "true" : "false",
				   cJSON_IsTrue(v) ? 4 : 5, YAML_PLAIN_SCALAR_STYLE, true);
	if (cJSON_IsNumber(v)) {
		format_number(v->valuedouble, num, sizeof(num));
		return emit_scalar(em, YAML_INT_TAG, num, strlen(num), YAML_PLAIN_SCALAR_STYLE,
				   true);
	}
	/* null, raw, invalid */
	return emit_scalar(em, YAML_NULL_TAG, "null", 4, YAML_PLAIN_SCALAR_STYLE, true);
}

static int write_buf(void *data, unsigned char *buffer, size_t size)
{
	mk_buf_append(data, buffer, size);
	return 1;
}

char *mk_yaml_emit(const cJSON *value, struct mk_error **err)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	struct mk_buf out;

	mk_buf_init(&out);
	if (!yaml_emitter_initialize(&em)) {
		mk_error_set(err, ENOMEM, "yaml: cannot initialize emitter");
		return NULL;
	}
	yaml_emitter_set_output(&em, write_buf, &out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, 80);
	yaml_emitter_set_indent(&em, 2);
	int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
		 yaml_emitter_emit(&em, &ev) &&
		 yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
		 yaml_emitter_emit(&em, &ev) && emit_value(&em, value, 0) == 0 &&
		 yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
		 yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
		 yaml_emitter_flush(&em);
	if (!ok) {
		mk_error_set(err, EINVAL, "yaml: cannot emit: %s",
			     em.problem ? em.problem : "value not representable");
		yaml_emitter_delete(&em);
		mk_buf_release(&out);
		return NULL;
	}
	yaml_emitter_delete(&em);
	if (!out.data)
		mk_buf_puts(&out, "null\n");
	return mk_buf_steal(&out);
}
