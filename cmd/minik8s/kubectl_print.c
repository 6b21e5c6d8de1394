/* Output helpers of the built-in kubectl: kubectl's tabwriter, Go-style JSON,
 * YAML, labels, ages, and reading manifests from files. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "kubectl.h"

/* ---- tabwriter ----------------------------------------------------------------------- */

void tabwriter_init(struct tabwriter *tw, int minwidth, int padding, bool remember)
{
	memset(tw, 0, sizeof(*tw));
	mk_buf_init(&tw->buf);
	tw->minwidth = minwidth;
	tw->padding = padding;
	tw->remember = remember;
}

void tabwriter_release(struct tabwriter *tw)
{
	mk_buf_release(&tw->buf);
}

void tabwriter_printf(struct tabwriter *tw, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mk_buf_vprintf(&tw->buf, fmt, ap);
	va_end(ap);
}

struct tw_line {
	char **cells;
	int n;
};

/* width in runes, as Go's tabwriter counts */
static int rune_width(const char *s)
{
	int w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

struct tw_state {
	struct tabwriter *tw;
	struct tw_line *lines;
	int nlines;
	int widths[64];
	int nwidths;
	bool trailing_nl;
	FILE *out;
};

static void write_lines(struct tw_state *st, int line0, int line1)
{
	for (int i = line0; i < line1; i++) {
		struct tw_line *l = &st->lines[i];
		for (int j = 0; j < l->n; j++) {
			fputs(l->cells[j], st->out);
			if (j < l->n - 1 && j < st->nwidths) {
				int pad = st->widths[j] - rune_width(l->cells[j]);
				for (int p = 0; p < pad; p++)
					fputc(' ', st->out);
			}
		}
		/* the final line of a flush has no newline if the text had none */
		if (i < st->nlines - 1 || st->trailing_nl)
			fputc('\n', st->out);
	}
}

/* Go's tabwriter.format: column blocks are runs of consecutive lines that
 * have a tab-terminated cell in this column. */
static void format(struct tw_state *st, int line0, int line1)
{
	int column = st->nwidths;
	for (int this = line0; this < line1; this++) {
		if (column >= st->lines[this].n - 1)
			continue;
		write_lines(st, line0, this);
		line0 = this;
		int width = st->tw->minwidth;
		for (; this < line1; this++) {
			struct tw_line *l = &st->lines[this];
			if (column >= l->n - 1)
				break;
			int w = rune_width(l->cells[column]) + st->tw->padding;
			if (w > width)
				width = w;
		}
		if (st->tw->remember && column < 64) {
			if (column < st->tw->nwidths && st->tw->widths[column] > width)
				width = st->tw->widths[column];
			if (column >= st->tw->nwidths) {
				for (int c = st->tw->nwidths; c < column; c++)
					st->tw->widths[c] = 0;
				st->tw->nwidths = column + 1;
			}
			st->tw->widths[column] = width;
		}
		if (st->nwidths < 64)
			st->widths[st->nwidths++] = width;
		format(st, line0, this);
		st->nwidths--;
		line0 = this;
	}
	write_lines(st, line0, line1);
}

void tabwriter_flush(struct tabwriter *tw, FILE *out)
{
	if (!tw->buf.len)
		return;
	char *text = tw->buf.data;
	size_t len = tw->buf.len;
	bool trailing_nl = text[len - 1] == '\n';
	if (trailing_nl)
		text[--len] = '\0';
	struct tw_state st = { .tw = tw, .out = out, .trailing_nl = trailing_nl };
	/* split into lines and cells (in place) */
	size_t cap = 0;
	char *p = text;
	for (;;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		MK_GROW(st.lines, cap, (size_t)st.nlines + 1);
		struct tw_line *l = &st.lines[st.nlines++];
		size_t ccap = 0;
		l->cells = NULL;
		l->n = 0;
		char *c = p;
		for (;;) {
			char *tab = strchr(c, '\t');
			if (tab)
				*tab = '\0';
			MK_GROW(l->cells, ccap, (size_t)l->n + 1);
			l->cells[l->n++] = c;
			if (!tab)
				break;
			c = tab + 1;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	format(&st, 0, st.nlines);
	for (int i = 0; i < st.nlines; i++)
		free(st.lines[i].cells);
	free(st.lines);
	tw->buf.len = 0;
	tw->buf.data[0] = '\0';
	fflush(out);
}

/* ---- JSON like Go's encoding/json ------------------------------------------------------ */

static int cmp_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static void json_string(struct mk_buf *b, const char *s)
{
	mk_buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': mk_buf_puts(b, "\\\""); break;
		case '\\': mk_buf_puts(b, "\\\\"); break;
		case '\n': mk_buf_puts(b, "\\n"); break;
		case '\r': mk_buf_puts(b, "\\r"); break;
		case '\t': mk_buf_puts(b, "\\t"); break;
		case '<': mk_buf_puts(b, "\\u003c"); break;
		case '>': mk_buf_puts(b, "\\u003e"); break;
		case '&': mk_buf_puts(b, "\\u0026"); break;
		default:
			if (*p < 0x20)
				mk_buf_printf(b, "\\u%04x", *p);
			else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
				mk_buf_printf(b, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
				p += 2;
			} else
				mk_buf_append(b, p, 1);
		}
	}
	mk_buf_puts(b, "\"");
}

static void json_number(struct mk_buf *b, double v)
{
	char num[64];
	if (!isfinite(v))
		snprintf(num, sizeof(num), "null");
	else if (v == floor(v) && fabs(v) < 1e18)
		snprintf(num, sizeof(num), "%.0f", v);
	else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(num, sizeof(num), "%.*g", prec, v);
			if (strtod(num, NULL) == v)
				break;
		}
	}
	mk_buf_puts(b, num);
}

static void indent(struct mk_buf *b, int depth)
{
	for (int i = 0; i < depth; i++)
		mk_buf_puts(b, "    ");
}

/* the members of object v sorted by key, as kubectl prints them; owned (NULL when
 * there are none) */
static const cJSON **members_sorted(const cJSON *v, int *ret_n)
{
	int n = cJSON_GetArraySize(v), i = 0;
	const cJSON **items = n ? mk_malloc0(sizeof(*items) * (size_t)n) : NULL;
	const cJSON *c;
	cJSON_ArrayForEach(c, v)
		items[i++] = c;
	if (n)
		qsort(items, (size_t)n, sizeof(*items), cmp_keys);
	*ret_n = n;
	return items;
}

/* a string, number, boolean or null */
static void json_scalar(struct mk_buf *b, const cJSON *v)
{
	if (cJSON_IsString(v))
		json_string(b, v->valuestring);
	else if (cJSON_IsNumber(v))
		json_number(b, v->valuedouble);
	else if (cJSON_IsBool(v))
		mk_buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
	else
		mk_buf_puts(b, "null");
}

static void json_compact(struct mk_buf *b, const cJSON *v)
{
	if (cJSON_IsObject(v)) {
		int n;
		const cJSON **items = members_sorted(v, &n);
		mk_buf_puts(b, "{");
		for (int i = 0; i < n; i++) {
			if (i)
				mk_buf_puts(b, ",");
			json_string(b, items[i]->string ? items[i]->string : "");
			mk_buf_puts(b, ":");
			json_compact(b, items[i]);
		}
		mk_buf_puts(b, "}");
		free(items);
	} else if (cJSON_IsArray(v)) {
		mk_buf_puts(b, "[");
		int i = 0;
		const cJSON *c;
		cJSON_ArrayForEach(c, v) {
			if (i++)
				mk_buf_puts(b, ",");
			json_compact(b, c);
		}
		mk_buf_puts(b, "]");
	} else {
		json_scalar(b, v);
	}
}

char *kubectl_json_compact(const cJSON *v)
{
	struct mk_buf b;
	mk_buf_init(&b);
	json_compact(&b, v);
	return mk_buf_steal(&b);
}

static void json_value(struct mk_buf *b, const cJSON *v, int depth)
{
	if (cJSON_IsObject(v)) {
		int n;
		const cJSON **items = members_sorted(v, &n);
		if (!n) {
			mk_buf_puts(b, "{}");
			return;
		}
		mk_buf_puts(b, "{\n");
		for (int i = 0; i < n; i++) {
			indent(b, depth + 1);
			json_string(b, items[i]->string ? items[i]->string : "");
			mk_buf_puts(b, ": ");
			json_value(b, items[i], depth + 1);
			mk_buf_puts(b, i < n - 1 ? ",\n" : "\n");
		}
		indent(b, depth);
		mk_buf_puts(b, "}");
		free(items);
	} else if (cJSON_IsArray(v)) {
		int n = cJSON_GetArraySize(v);
		if (!n) {
			mk_buf_puts(b, "[]");
			return;
		}
		mk_buf_puts(b, "[\n");
		int i = 0;
		const cJSON *c;
		cJSON_ArrayForEach(c, v) {
			indent(b, depth + 1);
			json_value(b, c, depth + 1);
			mk_buf_puts(b, ++i < n ? ",\n" : "\n");
		}
		indent(b, depth);
		mk_buf_puts(b, "]");
	} else {
		json_scalar(b, v);
	}
}

void kubectl_print_json(FILE *out, const cJSON *v)
{
	struct mk_buf b;
	mk_buf_init(&b);
	json_value(&b, v, 0);
	mk_buf_puts(&b, "\n");
	fwrite(b.data, 1, b.len, out);
	mk_buf_release(&b);
}

int kubectl_print_yaml(FILE *out, const cJSON *v)
{
	_cleanup_error_ struct mk_error *err = NULL;
	char *y = mk_yaml_emit(v, &err);
	if (!y) {
		fprintf(stderr, "error: %s\n", err->msg);
		return 1;
	}
	fputs(y, out);
	free(y);
	return 0;
}

/* ---- small formatters -------------------------------------------------------------------- */

cJSON *kubectl_labels_parse(const char *s)
{
	cJSON *l = cJSON_CreateObject();
	_cleanup_free_ char *copy = mk_strdup(s);
	char *save = NULL;
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			cJSON_Delete(l);
			return NULL;
		}
		*eq = '\0';
		mk_json_set_string(l, kv, eq + 1);
	}
	return l;
}

char *kubectl_labels_string(const cJSON *labels)
{
	struct mk_buf b;
	mk_buf_init(&b);
	int n = cJSON_GetArraySize(labels);
	if (!cJSON_IsObject(labels) || n == 0)
		return mk_strdup("<none>");
	const cJSON **items = mk_malloc0(sizeof(*items) * (size_t)n);
	int i = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, labels)
		items[i++] = c;
	qsort(items, (size_t)n, sizeof(*items), cmp_keys);
	for (i = 0; i < n; i++)
		mk_buf_printf(&b, "%s%s=%s", i ? "," : "", items[i]->string,
			      cJSON_IsString(items[i]) ? items[i]->valuestring : "");
	free(items);
	return mk_buf_steal(&b);
}

void kubectl_age(const char *ts, char *buf, size_t size)
{
	time_t t = ts ? mk_time_parse(ts) : (time_t)-1;
	if (t == (time_t)-1) {
		snprintf(buf, size, "<unknown>");
		return;
	}
	int64_t d = (int64_t)(time(NULL) - t);
	if (d < 0)
		d = 0;
	mk_time_human_duration(d, buf, size);
}

/* ---- manifests ------------------------------------------------------------------------------ */

static int add_objects(cJSON *out, cJSON *docs, const char *source)
{
	cJSON *d;
	cJSON_ArrayForEach(d, docs) {
		if (cJSON_IsNull(d))
			continue;
		if (!cJSON_IsObject(d)) {
			fprintf(stderr, "error: error validating \"%s\": not an object\n", source);
			return 1;
		}
		const char *kind = mk_json_get_string(d, "kind");
		if (kind && mk_str_has_suffix(kind, "List") &&
		    cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d, "items"))) {
			if (add_objects(out, cJSON_GetObjectItemCaseSensitive(d, "items"), source))
				return 1;
			continue;
		}
		if (!kind || !mk_json_get_string(d, "apiVersion")) {
			fprintf(stderr,
				"error: error validating data: [apiVersion not set, kind not set] in \"%s\"\n",
				source);
			return 1;
		}
		cJSON_AddItemToArray(out, cJSON_Duplicate(d, 1));
	}
	return 0;
}

static int read_one(const char *path, cJSON *out)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	size_t len = 0;

	if (!strcmp(path, "-")) {
		struct mk_buf b;
		mk_buf_init(&b);
		char chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			mk_buf_append(&b, chunk, n);
		len = b.len;
		text = b.data ? mk_buf_steal(&b) : mk_strdup("");
	} else if (mk_fs_read_file(path, &text, &len, &err) < 0) {
		fprintf(stderr, "error: %s\n", err->msg);
		return 1;
	}
	_cleanup_cjson_ cJSON *docs = NULL;
	if (mk_yaml_parse_documents(text, len, &docs, &err) < 0) {
		fprintf(stderr, "error: error parsing %s: %s\n", !strcmp(path, "-") ? "STDIN" : path,
			err->msg);
		return 1;
	}
	return add_objects(out, docs, path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kubectl_read_manifests(struct kflag_list *files, cJSON **ret)
{
	_cleanup_cjson_ cJSON *out = cJSON_CreateArray();
	for (int i = 0; i < files->n; i++) {
		const char *f = files->v[i];
		struct stat st;
		if (strcmp(f, "-") != 0 && stat(f, &st) < 0) {
			fprintf(stderr, "error: the path \"%s\" does not exist\n", f);
			return 1;
		}
		if (strcmp(f, "-") != 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(f);
			if (!d) {
				fprintf(stderr, "error: open '%s': %s\n", f, strerror(errno));
				return 1;
			}
			char **names = NULL;
			int n = 0;
			size_t cap = 0;
			struct dirent *de;
			while ((de = readdir(d))) {
				if (!mk_str_has_suffix(de->d_name, ".yaml") &&
				    !mk_str_has_suffix(de->d_name, ".yml") &&
				    !mk_str_has_suffix(de->d_name, ".json"))
					continue;
				MK_GROW(names, cap, (size_t)n + 1);
				names[n++] = mk_strdup_printf("%s/%s", f, de->d_name);
			}
			closedir(d);
			if (n)
				qsort(names, (size_t)n, sizeof(char *), cmp_str);
			int r = 0;
			for (int j = 0; j < n; j++) {
				if (!r)
					r = read_one(names[j], out);
				free(names[j]);
			}
			free(names);
			if (r)
				return r;
			continue;
		}
		if (read_one(f, out))
			return 1;
	}
	*ret = TAKE_PTR(out);
	return 0;
}
