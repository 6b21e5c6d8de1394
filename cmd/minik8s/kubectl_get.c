/* kubectl get: server-side Tables printed the way kubectl aligns them,
 * -o json|yaml|name|wide, selectors, and -w watches. */
#include <ctype.h>
#include <string.h>
#include "commands.h"
#include "kubectl.h"

static const char GET_HELP[] =
	"Display one or many resources.\n\n"
	"Examples:\n"
	"  minik8s kubectl get pods\n"
	"  minik8s kubectl get deploy web -o yaml\n"
	"  minik8s kubectl get svc -A -o wide\n"
	"  minik8s kubectl get pods -l app=web -w\n\n"
	"Options:\n"
	"  -A, --all-namespaces        list across all namespaces\n"
	"      --field-selector SEL    filter by fields (metadata.name=x,status.phase=Running)\n"
	"  -l, --selector SEL          filter by labels (app=web,tier!=db)\n"
	"  -o, --output FORMAT         json|yaml|name|wide\n"
	"      --show-labels           show all labels as the last column\n"
	"      --no-headers            do not print the header row\n"
	"      --ignore-not-found      do not fail for missing named objects\n"
	"  -w, --watch                 after listing, watch for changes\n"
	"      --watch-only            watch for changes without listing first\n\n"
	"Usage:\n  minik8s kubectl get TYPE[,TYPE...] [NAME...] [options]\n"
	"  minik8s kubectl get TYPE/NAME... [options]\n";

struct get_opts {
	const char *output;
	const char *selector;
	const char *field_selector;
	bool watch, watch_only, all_ns, show_labels, no_headers, ignore_not_found;
	long chunk_size;
};

struct table_printer {
	struct tabwriter tw;
	bool wide, all_ns, show_labels, no_headers;
	const char *kind_prefix;	/* "deployment.apps" when several types are listed */
	bool header_printed;
	cJSON *columns;			/* owned */
	int rows;
};

static void tp_init(struct table_printer *tp, const struct get_opts *o)
{
	memset(tp, 0, sizeof(*tp));
	tabwriter_init(&tp->tw, 6, 3, true);
	tp->wide = o->output && !strcmp(o->output, "wide");
	tp->all_ns = o->all_ns;
	tp->show_labels = o->show_labels;
	tp->no_headers = o->no_headers;
}

static void tp_release(struct table_printer *tp)
{
	tabwriter_release(&tp->tw);
	cJSON_Delete(tp->columns);
}

static bool column_shown(const struct table_printer *tp, const cJSON *col)
{
	const cJSON *prio = cJSON_GetObjectItemCaseSensitive(col, "priority");
	return tp->wide || !cJSON_IsNumber(prio) || prio->valueint == 0;
}

static void print_header(struct table_printer *tp)
{
	if (tp->header_printed || tp->no_headers || !tp->columns)
		return;
	tp->header_printed = true;
	bool first = true;
	if (tp->all_ns) {
		tabwriter_printf(&tp->tw, "NAMESPACE");
		first = false;
	}
	const cJSON *col;
	cJSON_ArrayForEach(col, tp->columns) {
		if (!column_shown(tp, col))
			continue;
		const char *name = mk_json_get_string(col, "name");
		_cleanup_free_ char *up = mk_strdup(name ? name : "");
		for (char *p = up; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		tabwriter_printf(&tp->tw, "%s%s", first ? "" : "\t", up);
		first = false;
	}
	if (tp->show_labels)
		tabwriter_printf(&tp->tw, "%sLABELS", first ? "" : "\t");
	tabwriter_printf(&tp->tw, "\n");
}

static void print_cell(struct tabwriter *tw, const cJSON *cell)
{
	if (cJSON_IsString(cell)) {
		tabwriter_printf(tw, "%s", cell->valuestring);
	} else if (cJSON_IsNumber(cell)) {
		double v = cell->valuedouble;
		if (v == (double)(long long)v)
			tabwriter_printf(tw, "%lld", (long long)v);
		else
			tabwriter_printf(tw, "%g", v);
	} else if (cJSON_IsBool(cell)) {
		tabwriter_printf(tw, "%s", cJSON_IsTrue(cell) ? "true" : "false");
	} else if (cJSON_IsArray(cell) || cJSON_IsObject(cell)) {
		char *s = cJSON_PrintUnformatted(cell);
		tabwriter_printf(tw, "%s", s);
		cJSON_free(s);
	}
	/* null: empty cell */
}

/* Adds the rows of a Table (columns taken from it the first time). */
static void tp_add_table(struct table_printer *tp, const cJSON *table)
{
	const cJSON *cols = cJSON_GetObjectItemCaseSensitive(table, "columnDefinitions");
	if (!tp->columns && cJSON_IsArray(cols) && cJSON_GetArraySize(cols) > 0)
		tp->columns = cJSON_Duplicate(cols, 1);
	const cJSON *row;
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(table, "rows")) {
		print_header(tp);
		tp->rows++;
		bool first = true;
		const cJSON *meta = mk_json_get(cJSON_GetObjectItemCaseSensitive(row, "object"), "metadata");
		if (tp->all_ns) {
			const char *ns = mk_json_get_string(meta, "namespace");
			tabwriter_printf(&tp->tw, "%s", ns ? ns : "");
			first = false;
		}
		const cJSON *cells = cJSON_GetObjectItemCaseSensitive(row, "cells");
		int i = 0;
		const cJSON *cell;
		cJSON_ArrayForEach(cell, cells) {
			const cJSON *col = cJSON_GetArrayItem(tp->columns, i);
			i++;
			if (!col)
				break; /* more cells than columns */
			if (!column_shown(tp, col))
				continue;
			if (!first)
				tabwriter_printf(&tp->tw, "\t");
			first = false;
			const char *fmt = mk_json_get_string(col, "format");
			if (tp->kind_prefix && fmt && !strcmp(fmt, "name"))
				tabwriter_printf(&tp->tw, "%s/", tp->kind_prefix);
			print_cell(&tp->tw, cell);
		}
		if (tp->show_labels) {
			_cleanup_free_ char *l =
				kubectl_labels_string(cJSON_GetObjectItemCaseSensitive(meta, "labels"));
			tabwriter_printf(&tp->tw, "%s%s", first ? "" : "\t", l);
		}
		tabwriter_printf(&tp->tw, "\n");
	}
}

/* A server that ignores the Table Accept: print NAME AGE from the objects. */
static cJSON *table_from_objects(const cJSON *body)
{
	cJSON *t = cJSON_CreateObject();
	cJSON *cols = cJSON_AddArrayToObject(t, "columnDefinitions");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "name", "Name");
	cJSON_AddStringToObject(c, "format", "name");
	cJSON_AddItemToArray(cols, c);
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "name", "Age");
	cJSON_AddItemToArray(cols, c);
	cJSON *rows = cJSON_AddArrayToObject(t, "rows");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(body, "items");
	cJSON *single = NULL;
	if (!cJSON_IsArray(items)) {
		single = cJSON_CreateArray();
		cJSON_AddItemReferenceToArray(single, (cJSON *)body);
		items = single;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, items) {
		cJSON *row = cJSON_CreateObject();
		cJSON *cells = cJSON_AddArrayToObject(row, "cells");
		const char *name = mk_json_get_string(it, "metadata.name");
		char age[32];
		kubectl_age(mk_json_get_string(it, "metadata.creationTimestamp"), age, sizeof(age));
		cJSON_AddItemToArray(cells, cJSON_CreateString(name ? name : ""));
		cJSON_AddItemToArray(cells, cJSON_CreateString(age));
		cJSON *obj = cJSON_AddObjectToObject(row, "object");
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(it, "metadata");
		cJSON_AddItemToObject(obj, "metadata", meta ? cJSON_Duplicate(meta, 1) : cJSON_CreateObject());
		cJSON_AddItemToArray(rows, row);
	}
	cJSON_Delete(single);
	return t;
}

static bool is_table(const cJSON *j)
{
	const char *kind = mk_json_get_string(j, "kind");
	return kind && !strcmp(kind, "Table");
}

static void add_body(struct table_printer *tp, const cJSON *body)
{
	if (is_table(body)) {
		tp_add_table(tp, body);
	} else {
		_cleanup_cjson_ cJSON *t = table_from_objects(body);
		tp_add_table(tp, t);
	}
}

static char *build_query(const struct get_opts *o, const char *extra_field, bool list)
{
	struct mk_buf b;
	mk_buf_init(&b);
	if (o->selector && *o->selector) {
		_cleanup_free_ char *e = mk_client_escape(o->selector);
		mk_buf_printf(&b, "%slabelSelector=%s", b.len ? "&" : "", e);
	}
	if ((o->field_selector && *o->field_selector) || extra_field) {
		_cleanup_free_ char *fs = NULL;
		if (o->field_selector && *o->field_selector && extra_field)
			fs = mk_strdup_printf("%s,%s", o->field_selector, extra_field);
		else
			fs = mk_strdup(extra_field ? extra_field : o->field_selector);
		_cleanup_free_ char *e = mk_client_escape(fs);
		mk_buf_printf(&b, "%sfieldSelector=%s", b.len ? "&" : "", e);
	}
	if (list)
		mk_buf_printf(&b, "%slimit=%ld", b.len ? "&" : "", o->chunk_size > 0 ? o->chunk_size : 500);
	return b.data ? mk_buf_steal(&b) : mk_strdup("");
}

/* items of a list response with kind/apiVersion filled in, as kubectl prints them */
static void add_list_items(cJSON *items, const cJSON *list, const struct kres *r)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		cJSON *d = cJSON_Duplicate(it, 1);
		if (!cJSON_GetObjectItemCaseSensitive(d, "apiVersion")) {
			_cleanup_free_ char *gv = *r->group ? mk_strdup_printf("%s/%s", r->group, r->version)
							    : mk_strdup(r->version);
			cJSON_AddStringToObject(d, "apiVersion", gv);
		}
		if (!cJSON_GetObjectItemCaseSensitive(d, "kind"))
			cJSON_AddStringToObject(d, "kind", r->kind);
		cJSON_AddItemToArray(items, d);
	}
}

static void print_name(const struct kres *r, const cJSON *obj)
{
	char disp[160];
	const char *name = mk_json_get_string(obj, "metadata.name");
	printf("%s/%s\n", kres_display(r, disp, sizeof(disp)), name ? name : "");
}

/* kubectl (>= 1.21) leaves managedFields out of -o json|yaml unless asked */
static void hide_managed_fields(cJSON *obj)
{
	cJSON *it;
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
						"managedFields");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(obj, "items"))
		hide_managed_fields(it);
}

static int print_object_output(const char *output, const struct kres *r, const cJSON *obj_in)
{
	_cleanup_cjson_ cJSON *obj = cJSON_Duplicate(obj_in, 1);
	hide_managed_fields(obj);
	if (!strcmp(output, "json")) {
		kubectl_print_json(stdout, obj);
	} else if (!strcmp(output, "yaml")) {
		return kubectl_print_yaml(stdout, obj);
	} else if (!strcmp(output, "name")) {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(obj, "items");
		if (cJSON_IsArray(items)) {
			const cJSON *it;
			cJSON_ArrayForEach(it, items)
				print_name(r, it);
		} else {
			print_name(r, obj);
		}
	}
	return 0;
}

/* ---- watch ----------------------------------------------------------------------------------- */

struct watch_ctx {
	struct table_printer *tp;
	const struct get_opts *o;
	const struct kres *r;
	bool table;
	bool first_yaml;
};

static int on_watch_event(const char *type, const cJSON *obj, void *userdata)
{
	struct watch_ctx *w = userdata;
	if (!strcmp(type, "BOOKMARK") || !strcmp(type, "ERROR"))
		return 0;
	if (w->table) {
		add_body(w->tp, obj);
		tabwriter_flush(&w->tp->tw, stdout);
		return 0;
	}
	if (!strcmp(w->o->output, "yaml")) {
		if (!w->first_yaml)
			printf("---\n");
		w->first_yaml = false;
	}
	print_object_output(w->o->output, w->r, obj);
	fflush(stdout);
	return 0;
}

static int run_watch(struct kubectl *k, const struct kres *r, const char *ns,
		     const struct get_opts *o, const char *name, const char *rv,
		     struct table_printer *tp, bool table, bool printed_any)
{
	_cleanup_free_ char *field = name ? mk_strdup_printf("metadata.name=%s", name) : NULL;
	_cleanup_free_ char *query = build_query(o, field, false);
	_cleanup_free_ char *path = kres_path(r, ns, NULL, NULL, query);
	struct mk_client_watch *w = mk_client_watch_new();
	_cleanup_error_ struct mk_error *err = NULL;
	struct watch_ctx ctx = { .tp = tp, .o = o, .r = r, .table = table,
				 .first_yaml = !printed_any };
	if (kubectl_connect(k)) {
		mk_client_watch_free(w);
		return 1;
	}
	/* like kubectl, --request-timeout bounds the watch too: the server ends it */
	int timeout_s = k->request_timeout_ms > 0 ? (int)((k->request_timeout_ms + 999) / 1000) : 0;
	int ret = mk_client_watch_run(k->client, w, path, rv, timeout_s, table ? TABLE_ACCEPT : NULL,
				      on_watch_event, &ctx, &err);
	mk_client_watch_free(w);
	if (ret < 0) {
		if (err->code >= 400) {
			const char *reason = err->code == 410 ? "Expired" : err->code == 404 ? "NotFound"
										      : NULL;
			if (reason)
				fprintf(stderr, "Error from server (%s): %s\n", reason, err->msg);
			else
				fprintf(stderr, "Error from server: %s\n", err->msg);
			return 1;
		}
		return kubectl_print_error(k, err);
	}
	return 0;
}

/* ---- one type ------------------------------------------------------------------------------- */

/* collect: with several types and -o json|yaml, the objects go there and are
 * printed as one List at the end, as kubectl does */
static int get_type(struct kubectl *k, const struct kres *r, char **names, int nnames,
		    const struct get_opts *o, bool multi_type, bool *printed, cJSON *collect)
{
	const char *output = o->output ? o->output : "";
	bool table = !*output || !strcmp(output, "wide");
	const char *ns = (o->all_ns || !r->namespaced) ? NULL : k->ns;
	struct table_printer tp;
	char disp[160];
	int rc = 0;

	if (*output && strcmp(output, "wide") != 0 && strcmp(output, "json") != 0 &&
	    strcmp(output, "yaml") != 0 && strcmp(output, "name") != 0)
		return cmd_usage_error("kubectl get",
				       "unable to match a printer suitable for the output format \"%s\", "
				       "allowed formats are: json,name,wide,yaml",
				       output);
	if (nnames && o->all_ns) {
		/* kubectl: a resource cannot be retrieved by name across all namespaces */
		fprintf(stderr, "error: a resource cannot be retrieved by name across all namespaces\n");
		return 1;
	}
	tp_init(&tp, o);
	if (multi_type)
		tp.kind_prefix = kres_display(r, disp, sizeof(disp));

	_cleanup_cjson_ cJSON *objects = cJSON_CreateArray(); /* for json/yaml/name */
	char list_rv[64] = "";
	bool printed_any = false;

	if (!o->watch_only) {
		if (nnames == 0) {
			_cleanup_free_ char *query = build_query(o, NULL, true);
			_cleanup_free_ char *path = kres_path(r, ns, NULL, NULL, query);
			struct mk_client_response res = { 0 };
			if (kubectl_do(k, "GET", path, table ? TABLE_ACCEPT : NULL, NULL, NULL, &res)) {
				tp_release(&tp);
				return 1;
			}
			if (res.code != 200) {
				rc = kubectl_server_error(&res);
				mk_client_response_release(&res);
				tp_release(&tp);
				return rc;
			}
			const char *rv = mk_json_get_string(res.json, "metadata.resourceVersion");
			snprintf(list_rv, sizeof(list_rv), "%s", rv ? rv : "");
			if (table)
				add_body(&tp, res.json);
			else
				add_list_items(objects, res.json, r);
			mk_client_response_release(&res);
		} else {
			for (int i = 0; i < nnames; i++) {
				_cleanup_free_ char *path = kres_path(r, ns, names[i], NULL, NULL);
				struct mk_client_response res = { 0 };
				if (kubectl_do(k, "GET", path, table ? TABLE_ACCEPT : NULL, NULL, NULL, &res)) {
					rc = 1;
					continue;
				}
				if (res.code == 404 && o->ignore_not_found) {
					/* skip */
				} else if (res.code != 200) {
					rc = kubectl_server_error(&res);
				} else if (table) {
					add_body(&tp, res.json);
				} else {
					cJSON_AddItemToArray(objects, TAKE_PTR(res.json));
				}
				mk_client_response_release(&res);
			}
		}
		if (table) {
			if (tp.rows > 0 && multi_type && *printed)
				printf("\n");
			tabwriter_flush(&tp.tw, stdout);
			printed_any = tp.rows > 0;
		} else if (!strcmp(output, "name")) {
			const cJSON *it;
			cJSON_ArrayForEach(it, objects)
				print_name(r, it);
			printed_any = cJSON_GetArraySize(objects) > 0;
		} else if (collect && !o->watch) {
			cJSON *it;
			while ((it = cJSON_DetachItemFromArray(objects, 0)))
				cJSON_AddItemToArray(collect, it);
		} else if (nnames == 1 && cJSON_GetArraySize(objects) == 1 && !o->watch) {
			rc |= print_object_output(output, r, cJSON_GetArrayItem(objects, 0));
			printed_any = true;
		} else if (nnames == 0 || cJSON_GetArraySize(objects) > 0) {
			cJSON *list = cJSON_CreateObject();
			cJSON_AddStringToObject(list, "apiVersion", "v1");
			cJSON_AddItemReferenceToObject(list, "items", objects);
			cJSON_AddStringToObject(list, "kind", "List");
			cJSON *meta = cJSON_AddObjectToObject(list, "metadata");
			cJSON_AddStringToObject(meta, "resourceVersion", "");
			if (!(o->watch && cJSON_GetArraySize(objects) == 0))
				rc |= print_object_output(output, r, list);
			printed_any = cJSON_GetArraySize(objects) > 0;
			cJSON_Delete(list);
		}
		if (printed_any)
			*printed = true;
		bool empty = table ? tp.rows == 0 : cJSON_GetArraySize(objects) == 0;
		if (empty && nnames == 0 && !o->watch && !multi_type) {
			if (ns)
				fprintf(stderr, "No resources found in %s namespace.\n", ns);
			else
				fprintf(stderr, "No resources found\n");
		}
	}
	if (o->watch || o->watch_only) {
		if (nnames > 1) {
			tp_release(&tp);
			fprintf(stderr, "error: watch is only supported on individual resources and resource collections, but %d resources were found\n",
				nnames);
			return 1;
		}
		fflush(stdout);
		rc |= run_watch(k, r, ns, o, nnames ? names[0] : NULL, *list_rv ? list_rv : NULL, &tp,
				table, printed_any);
	}
	tp_release(&tp);
	return rc;
}

int kubectl_get(struct kubectl *k, int argc, char **argv)
{
	struct get_opts o = { 0 };
	bool help;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "output", 'o', KF_STRING, &o.output, NULL },
		{ "selector", 'l', KF_STRING, &o.selector, NULL },
		{ "field-selector", 0, KF_STRING, &o.field_selector, NULL },
		{ "watch", 'w', KF_BOOL, &o.watch, NULL },
		{ "watch-only", 0, KF_BOOL, &o.watch_only, NULL },
		{ "all-namespaces", 'A', KF_BOOL, &o.all_ns, NULL },
		{ "show-labels", 0, KF_BOOL, &o.show_labels, NULL },
		{ "no-headers", 0, KF_BOOL, &o.no_headers, NULL },
		{ "ignore-not-found", 0, KF_BOOL, &o.ignore_not_found, NULL },
		{ "chunk-size", 0, KF_INT, &o.chunk_size, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int r = kflags_parse("kubectl get", argc, argv, flags, &help, &a);
	if (r)
		return r;
	if (help) {
		fputs(GET_HELP, stdout);
		kargs_release(&a);
		return 0;
	}
	if (a.n == 0) {
		kargs_release(&a);
		fprintf(stderr, "You must specify the type of resource to get (pods, services, deployments, "
				"replicasets, endpoints, events, namespaces, nodes or all).\n\n"
				"error: Required resource not specified.\n");
		return 1;
	}
	if (kubectl_connect(k)) {
		kargs_release(&a);
		return 1;
	}
	bool printed = false;
	int rc = 0;
	if (strchr(a.v[0], '/')) {
		/* TYPE/NAME ... */
		for (int i = 0; i < a.n; i++) {
			char *slash = strchr(a.v[i], '/');
			if (!slash) {
				kargs_release(&a);
				return cmd_usage_error("kubectl get",
						       "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form");
			}
			*slash = '\0';
			struct kres res;
			if (kubectl_resolve(k, a.v[i], &res)) {
				rc = 1;
				continue;
			}
			char *name = slash + 1;
			rc |= get_type(k, &res, &name, 1, &o, a.n > 1, &printed, NULL);
		}
		kargs_release(&a);
		return rc;
	}
	_cleanup_free_ char *types = mk_strdup(a.v[0]);
	bool multi = strchr(types, ',') != NULL || !strcmp(types, "all");
	bool as_list = multi && o.output && (!strcmp(o.output, "json") || !strcmp(o.output, "yaml"));
	_cleanup_cjson_ cJSON *collect = as_list ? cJSON_CreateArray() : NULL;
	char *save = NULL;
	for (char *t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "all")) {
			/* the "all" category: every type that lists it in discovery */
			struct kres *all = NULL;
			int n = 0;
			if (kubectl_expand_category(k, "all", &all, &n)) {
				rc = 1;
				continue;
			}
			multi = true;
			for (int i = 0; i < n; i++)
				rc |= get_type(k, &all[i], a.v + 1, a.n - 1, &o, true, &printed, collect);
			free(all);
			continue;
		}
		struct kres res;
		if (kubectl_resolve(k, t, &res)) {
			rc = 1;
			continue;
		}
		rc |= get_type(k, &res, a.v + 1, a.n - 1, &o, multi, &printed, collect);
	}
	if (collect) {
		cJSON *list = cJSON_CreateObject();
		cJSON_AddStringToObject(list, "apiVersion", "v1");
		cJSON_AddItemReferenceToObject(list, "items", collect);
		cJSON_AddStringToObject(list, "kind", "List");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(list, "metadata"), "resourceVersion", "");
		struct kres none = { 0 };
		rc |= print_object_output(o.output, &none, list);
		cJSON_Delete(list);
		printed = true;
	}
	if (multi && !printed && !o.watch) {
		const char *ns = o.all_ns ? NULL : k->ns;
		if (ns)
			fprintf(stderr, "No resources found in %s namespace.\n", ns);
		else
			fprintf(stderr, "No resources found\n");
	}
	kargs_release(&a);
	return rc;
}
