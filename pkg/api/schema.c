/* Schemas of the served kinds, from the one source in schema_defs.c: parsed once into
 * definitions, then turned into OpenAPI v3 components, a Swagger 2.0 document (JSON
 * or gnostic protobuf), field type lookups (tests) and strict field validation.
 *
 * The shapes follow what kube-apiserver publishes, which kubectl relies on:
 * definitions named like "io.k8s.api.core.v1.Pod", x-kubernetes-group-version-kind
 * on the kinds, field references wrapped in allOf in v3 (so a field can carry its own
 * description), x-kubernetes-patch-strategy / -patch-merge-key / -list-type /
 * -list-map-keys on lists, and a <Kind>List for every served resource. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct field {
	char *name, *type, *desc;
	char *merge_key;	/* strategic-merge key, or NULL */
	char *map_keys;		/* "a,b": x-kubernetes-list-map-keys, or NULL */
	const char *list_type;	/* "atomic", "set", "map", or NULL */
	bool req;
	const struct def *bdef;	/* definition of the base type, or NULL (set after parsing) */
	struct mk_ssa_type ssa;	/* the field's type for server-side apply (set after parsing) */
};

struct def {
	char *name, *desc;
	bool scalar;
	char *stype, *format;	/* scalars */
	char *group, *version, *kind;	/* kinds; NULL otherwise */
	bool atomic;			/* x-kubernetes-map-type: atomic (server-side apply) */
	struct field *f;
	size_t nf, fcap;
};

static struct def *defs;
static size_t ndefs, defs_cap;
static char *parse_err;
static pthread_once_t parse_once = PTHREAD_ONCE_INIT;

/* "core.v1.Pod" -> "io.k8s.api.core.v1.Pod" and the apimachinery names. */
static char *expand_name(const char *s)
{
	if (!strncmp(s, "meta.", 5))
		return mk_strdup_printf("io.k8s.apimachinery.pkg.apis.%s", s);
	if (!strncmp(s, "resource.", 9))
		return mk_strdup_printf("io.k8s.apimachinery.pkg.api.%s", s);
	if (!strncmp(s, "intstr.", 7))
		return mk_strdup_printf("io.k8s.apimachinery.pkg.util.%s", s);
	if (!strncmp(s, "metrics.", 8)) /* metrics.k8s.io's types live in k8s.io/metrics */
		return mk_strdup_printf("io.k8s.metrics.pkg.apis.%s", s);
	return mk_strdup_printf("io.k8s.api.%s", s);
}

static bool is_primitive(const char *t)
{
	static const char *const p[] = { "string", "int32", "int64", "bool", "double", "object",
					 NULL };
	for (const char *const *x = p; *x; x++)
		if (!strcmp(*x, t))
			return true;
	return false;
}

/* A field type as written ("[]core.v1.Container") with the names expanded. */
static char *expand_type(const char *t)
{
	if (!strncmp(t, "[]", 2)) {
		_cleanup_free_ char *in = expand_type(t + 2);
		return mk_strdup_printf("[]%s", in);
	}
	if (!strncmp(t, "map[]", 5)) {
		_cleanup_free_ char *in = expand_type(t + 5);
		return mk_strdup_printf("map[]%s", in);
	}
	if (is_primitive(t))
		return mk_strdup(t);
	return expand_name(t);
}

static struct def *find_def(const char *name)
{
	for (size_t i = 0; i < ndefs; i++)
		if (!strcmp(defs[i].name, name))
			return &defs[i];
	return NULL;
}

static struct def *new_def(void)
{
	MK_GROW(defs, defs_cap, ndefs + 1);
	memset(&defs[ndefs], 0, sizeof(*defs));
	return &defs[ndefs++];
}

static struct field *new_field(struct def *d)
{
	MK_GROW(d->f, d->fcap, d->nf + 1);
	memset(&d->f[d->nf], 0, sizeof(*d->f));
	return &d->f[d->nf++];
}

/* Splits "head : description" in place; returns the description ("" if none). */
static char *split_desc(char *line)
{
	char *c = strstr(line, " : ");
	if (!c)
		return line + strlen(line);
	*c = '\0';
	return c + 3;
}

static int parse_line(char *line, struct def **cur, unsigned lineno)
{
	char *desc, *save = NULL, *tok;

	if (!strncmp(line, "type ", 5) || !strncmp(line, "scalar ", 7)) {
		bool scalar = line[0] == 's';
		desc = split_desc(line);
		strtok_r(line, " ", &save);
		char *name = strtok_r(NULL, " ", &save);
		if (!name)
			goto bad;
		struct def *d = new_def();
		d->name = expand_name(name);
		d->desc = mk_strdup(desc);
		d->scalar = scalar;
		while ((tok = strtok_r(NULL, " ", &save))) {
			if (scalar && !d->stype) {
				d->stype = mk_strdup(tok);
			} else if (scalar && !d->format) {
				d->format = mk_strdup(tok);
			} else if (!scalar && !strncmp(tok, "gvk=", 4)) {
				char *g = tok + 4, *v = strchr(g, '/'), *k = v ? strchr(v + 1, '/') : NULL;
				if (!k)
					goto bad;
				*v++ = '\0';
				*k++ = '\0';
				d->group = mk_strdup(strcmp(g, "core") ? g : "");
				d->version = mk_strdup(v);
				d->kind = mk_strdup(k);
			} else {
				goto bad;
			}
		}
		if (scalar && !d->stype)
			goto bad;
		*cur = scalar ? NULL : d;
		return 0;
	}
	if (strncmp(line, "  ", 2) || !*cur)
		goto bad;
	desc = split_desc(line);
	char *name = strtok_r(line + 2, " ", &save), *type = strtok_r(NULL, " ", &save);
	if (!name || !type)
		goto bad;
	struct field *f = new_field(*cur);
	f->name = mk_strdup(name);
	f->type = expand_type(type);
	f->desc = mk_strdup(desc);
	while ((tok = strtok_r(NULL, " ", &save))) {
		if (!strcmp(tok, "req")) {
			f->req = true;
		} else if (!strncmp(tok, "merge=", 6)) {
			f->merge_key = mk_strdup(tok + 6);
			if (!f->list_type)
				f->list_type = "map";
		} else if (!strncmp(tok, "keys=", 5)) {
			f->map_keys = mk_strdup(tok + 5);
			f->list_type = "map";
		} else if (!strcmp(tok, "set")) {
			f->list_type = "set";
		} else if (!strcmp(tok, "atomic")) {
			f->list_type = "atomic";
		} else {
			goto bad;
		}
	}
	if (f->list_type && !strcmp(f->list_type, "map") && !f->map_keys)
		f->map_keys = mk_strdup(f->merge_key);
	if (f->list_type && strncmp(f->type, "[]", 2))
		goto bad;
	return 0;
bad:
	free(parse_err);
	parse_err = mk_strdup_printf("schema source line %u: cannot parse", lineno);
	return -1;
}

/* A <Kind>List for every served resource kind. */
static void add_lists(void)
{
	size_t n, base = ndefs;
	const struct mk_api_resource *rs = mk_api_resources(&n);

	for (size_t i = 0; i < n; i++) {
		const char *kn = NULL;
		for (size_t j = 0; j < base; j++)
			if (defs[j].kind && !strcmp(defs[j].kind, rs[i].kind) &&
			    !strcmp(defs[j].group, rs[i].group) &&
			    !strcmp(defs[j].version, rs[i].version))
				kn = defs[j].name;
		if (!kn)
			continue;
		char *item_name = mk_strdup(kn);
		struct def *d = new_def();
		d->name = mk_strdup_printf("%sList", item_name);
		d->desc = mk_strdup_printf("A list of %s objects.", rs[i].kind);
		d->group = mk_strdup(rs[i].group);
		d->version = mk_strdup(rs[i].version);
		d->kind = mk_strdup_printf("%sList", rs[i].kind);
		struct {
			const char *name, *desc;
			char *type;
			bool req;
		} fs[] = {
			{ "apiVersion", "Version of the schema this list follows.", mk_strdup("string"),
			  false },
			{ "items", "The objects.", mk_strdup_printf("[]%s", item_name), true },
			{ "kind", "The kind of object (a list kind).", mk_strdup("string"), false },
			{ "metadata", "Standard list metadata.",
			  mk_strdup("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"), false },
		};
		for (size_t k = 0; k < MK_ARRAY_SIZE(fs); k++) {
			struct field *f = new_field(d);
			f->name = mk_strdup(fs[k].name);
			f->desc = mk_strdup(fs[k].desc);
			f->type = fs[k].type;
			f->req = fs[k].req;
		}
		free(item_name);
	}
}

/* Structs kube-openapi marks x-kubernetes-map-type: atomic (+structType=atomic):
 * server-side apply replaces them whole. */
static const char *const atomic_structs[] = {
	"io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
	"io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
	"io.k8s.api.core.v1.ObjectReference",
	"io.k8s.api.core.v1.LocalObjectReference",
	"io.k8s.api.core.v1.ConfigMapKeySelector",
	"io.k8s.api.core.v1.SecretKeySelector",
	"io.k8s.api.core.v1.ConfigMapEnvSource",
	"io.k8s.api.core.v1.SecretEnvSource",
	"io.k8s.api.core.v1.ObjectFieldSelector",
	"io.k8s.api.core.v1.ResourceFieldSelector",
	"io.k8s.api.core.v1.NodeSelector",
	"io.k8s.api.core.v1.NodeSelectorTerm",
	"io.k8s.api.core.v1.TopologySelectorTerm",
	"io.k8s.api.core.v1.TypedLocalObjectReference",
	"io.k8s.api.core.v1.TypedObjectReference",
};

static struct def *find_def(const char *name);
static const char *base_type(const char *t);

/* Field types resolved once, so server-side apply walks the schema without
 * looking definitions up by name. */
static void ssa_resolve(const char *t, const char *list_type, const char *keys,
			const struct def *bdef, struct mk_ssa_type *ret);

static void resolve_bases(void)
{
	for (size_t i = 0; i < ndefs; i++) {
		for (size_t j = 0; j < MK_ARRAY_SIZE(atomic_structs); j++)
			if (!strcmp(defs[i].name, atomic_structs[j]))
				defs[i].atomic = true;
		for (size_t j = 0; j < defs[i].nf; j++)
			defs[i].f[j].bdef = find_def(base_type(defs[i].f[j].type));
	}
	for (size_t i = 0; i < ndefs; i++)
		for (size_t j = 0; j < defs[i].nf; j++) {
			struct field *f = &defs[i].f[j];
			ssa_resolve(f->type, f->list_type, f->map_keys, f->bdef, &f->ssa);
		}
}

static void parse(void)
{
	for (size_t i = 0; i < MK_ARRAY_SIZE(mk_api_schema_srcs); i++) {
		_cleanup_free_ char *src = mk_strdup(mk_api_schema_srcs[i]);
		struct def *cur = NULL;
		unsigned lineno = 0;
		char *save = NULL;

		for (char *line = strtok_r(src, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			lineno++;
			if (line[0] == '#' || !line[strspn(line, " ")])
				continue;
			if (parse_line(line, &cur, lineno) < 0)
				return;
		}
	}
	add_lists();
	resolve_bases();
}

static int ensure_parsed(struct mk_error **err)
{
	pthread_once(&parse_once, parse);
	if (parse_err)
		return mk_error_set(err, EINVAL, "%s", parse_err);
	return 0;
}

/* Element type of a field type once lists and maps are stepped through. */
static const char *base_type(const char *t)
{
	for (;;) {
		if (!strncmp(t, "[]", 2))
			t += 2;
		else if (!strncmp(t, "map[]", 5))
			t += 5;
		else
			return t;
	}
}

int mk_api_schema_check(struct mk_error **err)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);

	if (ensure_parsed(err) < 0)
		return -1;
	for (size_t i = 0; i < ndefs; i++)
		for (size_t j = 0; j < defs[i].nf; j++) {
			const char *b = base_type(defs[i].f[j].type);
			if (!is_primitive(b) && !find_def(b))
				return mk_error_set(err, ENOENT, "field '%s' of '%s' has undefined type '%s'",
						    defs[i].f[j].name, defs[i].name, b);
		}
	for (size_t i = 0; i < n; i++) {
		if (rs[i].crd) /* schemas of custom kinds come from their definitions */
			continue;
		if (!mk_api_schema_kind_name(rs[i].group, rs[i].version, rs[i].kind))
			return mk_error_set(err, ENOENT, "kind '%s' of '%s' has no schema", rs[i].kind,
					    rs[i].group_version);
		_cleanup_free_ char *list = mk_strdup_printf("%sList", rs[i].kind);
		if (!mk_api_schema_kind_name(rs[i].group, rs[i].version, list))
			return mk_error_set(err, ENOENT, "kind '%s' of '%s' has no schema", list,
					    rs[i].group_version);
		if (rs[i].has_scale && !mk_api_schema_kind_name("autoscaling", "v1", "Scale"))
			return mk_error_set(err, ENOENT, "kind 'Scale' of 'autoscaling/v1' has no schema");
	}
	return 0;
}

static const struct def *kind_def(const char *group, const char *version, const char *kind)
{
	if (ensure_parsed(NULL) < 0)
		return NULL;
	for (size_t i = 0; i < ndefs; i++)
		if (defs[i].kind && !strcmp(defs[i].kind, kind) && !strcmp(defs[i].group, group) &&
		    !strcmp(defs[i].version, version))
			return &defs[i];
	return NULL;
}

const char *mk_api_schema_kind_name(const char *group, const char *version, const char *kind)
{
	const struct def *d = kind_def(group, version, kind);
	return d ? d->name : NULL;
}

static const struct field *find_field(const struct def *d, const char *name)
{
	for (size_t i = 0; d && i < d->nf; i++)
		if (!strcmp(d->f[i].name, name))
			return &d->f[i];
	return NULL;
}

char *mk_api_schema_field_type(const char *group, const char *version, const char *kind,
			       const char *path)
{
	const struct def *d = kind_def(group, version, kind);
	_cleanup_free_ char *p = mk_strdup(path);
	const char *type = NULL;
	char *save = NULL;

	if (!d)
		return NULL;
	for (char *seg = strtok_r(p, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
		if (!d)
			return NULL;
		const struct field *f = find_field(d, seg);
		if (!f)
			return NULL;
		type = f->type;
		d = find_def(base_type(type));
		if (d && d->scalar)
			d = NULL;
	}
	return type ? mk_strdup(type) : NULL;
}

/* ---- OpenAPI documents --------------------------------------------------------- */

struct flavour {
	const char *ref_prefix;	/* "#/components/schemas/" or "#/definitions/" */
	bool v3;
};

static cJSON *ref_schema(const struct flavour *fl, const char *name)
{
	cJSON *s = cJSON_CreateObject();
	_cleanup_free_ char *ref = mk_strdup_printf("%s%s", fl->ref_prefix, name);
	cJSON_AddStringToObject(s, "$ref", ref);
	return s;
}

/* Schema of a type string; field_level: the reference may sit beside a description
 * (v3 wraps it in allOf, as kube-apiserver does). */
static cJSON *type_schema(const struct flavour *fl, const char *t, bool field_level)
{
	cJSON *s;

	if (!strncmp(t, "[]", 2)) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "type", "array");
		cJSON_AddItemToObject(s, "items", type_schema(fl, t + 2, false));
		return s;
	}
	if (!strncmp(t, "map[]", 5)) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "type", "object");
		cJSON_AddItemToObject(s, "additionalProperties", type_schema(fl, t + 5, false));
		return s;
	}
	s = cJSON_CreateObject();
	if (!strcmp(t, "string")) {
		cJSON_AddStringToObject(s, "type", "string");
	} else if (!strcmp(t, "int32") || !strcmp(t, "int64")) {
		cJSON_AddStringToObject(s, "type", "integer");
		cJSON_AddStringToObject(s, "format", t);
	} else if (!strcmp(t, "bool")) {
		cJSON_AddStringToObject(s, "type", "boolean");
	} else if (!strcmp(t, "double")) {
		cJSON_AddStringToObject(s, "type", "number");
		cJSON_AddStringToObject(s, "format", "double");
	} else if (!strcmp(t, "object")) {
		cJSON_AddStringToObject(s, "type", "object");
		if (fl->v3)
			cJSON_AddBoolToObject(s, "x-kubernetes-preserve-unknown-fields", true);
	} else if (fl->v3 && field_level) {
		cJSON *all = cJSON_AddArrayToObject(s, "allOf");
		cJSON_AddItemToArray(all, ref_schema(fl, t));
	} else {
		cJSON_Delete(s);
		return ref_schema(fl, t);
	}
	return s;
}

static cJSON *comma_list(const char *csv)
{
	cJSON *a = cJSON_CreateArray();
	_cleanup_free_ char *c = mk_strdup(csv);
	char *save = NULL;
	for (char *k = strtok_r(c, ",", &save); k; k = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(a, cJSON_CreateString(k));
	return a;
}

static cJSON *field_schema(const struct flavour *fl, const struct field *f)
{
	cJSON *s = type_schema(fl, f->type, true);

	if (f->desc[0])
		cJSON_AddStringToObject(s, "description", f->desc);
	if (f->merge_key) {
		cJSON_AddStringToObject(s, "x-kubernetes-patch-merge-key", f->merge_key);
		cJSON_AddStringToObject(s, "x-kubernetes-patch-strategy", "merge");
	} else if (f->list_type && !strcmp(f->list_type, "set")) {
		cJSON_AddStringToObject(s, "x-kubernetes-patch-strategy", "merge");
	}
	if (f->list_type) {
		if (f->map_keys)
			cJSON_AddItemToObject(s, "x-kubernetes-list-map-keys", comma_list(f->map_keys));
		cJSON_AddStringToObject(s, "x-kubernetes-list-type", f->list_type);
	}
	return s;
}

static cJSON *def_schema(const struct flavour *fl, const struct def *d)
{
	cJSON *s = cJSON_CreateObject();

	cJSON_AddStringToObject(s, "description", d->desc);
	if (d->scalar) {
		_cleanup_free_ char *types = mk_strdup(d->stype);
		char *alt = strchr(types, '|');
		if (alt)
			*alt++ = '\0';
		/* "string|integer": v3 says either (oneOf, no type, so kubectl explain
		 * names the type, <IntOrString>); v2 has only the first */
		if (alt && fl->v3) {
			cJSON *one = cJSON_AddArrayToObject(s, "oneOf");
			cJSON *t = cJSON_CreateObject();
			cJSON_AddStringToObject(t, "type", types);
			cJSON_AddItemToArray(one, t);
			t = cJSON_CreateObject();
			cJSON_AddStringToObject(t, "type", alt);
			cJSON_AddItemToArray(one, t);
		} else {
			cJSON_AddStringToObject(s, "type", types);
		}
		if (d->format)
			cJSON_AddStringToObject(s, "format", d->format);
		if (d->format && !strcmp(d->format, "int-or-string") && fl->v3)
			cJSON_AddBoolToObject(s, "x-kubernetes-int-or-string", true);
		return s;
	}
	cJSON_AddStringToObject(s, "type", "object");
	cJSON *props = cJSON_AddObjectToObject(s, "properties");
	cJSON *req = cJSON_CreateArray();
	for (size_t i = 0; i < d->nf; i++) {
		cJSON_AddItemToObject(props, d->f[i].name, field_schema(fl, &d->f[i]));
		if (d->f[i].req)
			cJSON_AddItemToArray(req, cJSON_CreateString(d->f[i].name));
	}
	if (cJSON_GetArraySize(req))
		cJSON_AddItemToObject(s, "required", req);
	else
		cJSON_Delete(req);
	if (d->kind) {
		cJSON *gvks = cJSON_AddArrayToObject(s, "x-kubernetes-group-version-kind");
		cJSON *g = cJSON_CreateObject();
		cJSON_AddStringToObject(g, "group", d->group);
		cJSON_AddStringToObject(g, "kind", d->kind);
		cJSON_AddStringToObject(g, "version", d->version);
		cJSON_AddItemToArray(gvks, g);
	}
	return s;
}

static cJSON *all_defs(const struct flavour *fl)
{
	cJSON *o = cJSON_CreateObject();

	if (ensure_parsed(NULL) < 0)
		return o;
	for (size_t i = 0; i < ndefs; i++)
		cJSON_AddItemToObject(o, defs[i].name, def_schema(fl, &defs[i]));
	/* the custom kinds served now, from their definitions */
	mk_api_cr_openapi_add(o, fl->ref_prefix, fl->v3);
	return o;
}

cJSON *mk_api_schema_v3_components(void)
{
	static const struct flavour fl = { "#/components/schemas/", true };
	return all_defs(&fl);
}

cJSON *mk_api_schema_v2_document(void)
{
	static const struct flavour fl = { "#/definitions/", false };
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "swagger", "2.0");
	cJSON *info = cJSON_AddObjectToObject(doc, "info");
	cJSON_AddStringToObject(info, "title", "Kubernetes");
	cJSON_AddStringToObject(info, "version", "v1.32.0");
	cJSON_AddObjectToObject(doc, "paths");
	cJSON_AddItemToObject(doc, "definitions", all_defs(&fl));
	return doc;
}

/* ---- gnostic protobuf ---------------------------------------------------------- */
/* Field numbers of openapi_v2.proto (github.com/google/gnostic). Only what the
 * documents above contain is encoded; vendor extensions carry their value as YAML
 * text (JSON is YAML), which is how kube-openapi reads them. */

static void pb_varint(struct mk_buf *b, uint64_t v)
{
	unsigned char c[10];
	size_t n = 0;
	do {
		c[n] = v & 0x7f;
		v >>= 7;
		if (v)
			c[n] |= 0x80;
		n++;
	} while (v);
	mk_buf_append(b, c, n);
}

static void pb_bytes(struct mk_buf *b, unsigned field, const void *data, size_t len)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, len);
	mk_buf_append(b, data ? data : "", len);
}

static void pb_string(struct mk_buf *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

/* Appends the sub-message in sub (then released) as field. */
static void pb_message(struct mk_buf *b, unsigned field, struct mk_buf *sub)
{
	pb_bytes(b, field, sub->data, sub->len);
	mk_buf_release(sub);
	mk_buf_init(sub);
}

static void pb_schema(struct mk_buf *b, const cJSON *s);

static void pb_named_schemas(struct mk_buf *b, const cJSON *obj)
{
	const cJSON *it;
	struct mk_buf named, val;
	mk_buf_init(&named);
	mk_buf_init(&val);
	cJSON_ArrayForEach(it, obj)
	{
		pb_string(&named, 1, it->string);
		pb_schema(&val, it);
		pb_message(&named, 2, &val);
		pb_message(b, 1, &named);
	}
}

static void pb_schema(struct mk_buf *b, const cJSON *s)
{
	const cJSON *it;
	struct mk_buf sub, sub2;
	mk_buf_init(&sub);
	mk_buf_init(&sub2);

	cJSON_ArrayForEach(it, s)
	{
		const char *k = it->string;
		if (!strcmp(k, "$ref")) {
			pb_string(b, 1, it->valuestring);
		} else if (!strcmp(k, "format")) {
			pb_string(b, 2, it->valuestring);
		} else if (!strcmp(k, "description")) {
			pb_string(b, 4, it->valuestring);
		} else if (!strcmp(k, "required")) {
			const cJSON *r;
			cJSON_ArrayForEach(r, it) pb_string(b, 19, r->valuestring);
		} else if (!strcmp(k, "additionalProperties")) {
			pb_schema(&sub2, it);
			pb_message(&sub, 1, &sub2);
			pb_message(b, 21, &sub);
		} else if (!strcmp(k, "type")) {
			pb_string(&sub, 1, it->valuestring);
			pb_message(b, 22, &sub);
		} else if (!strcmp(k, "items")) {
			pb_schema(&sub2, it);
			pb_message(&sub, 1, &sub2);
			pb_message(b, 23, &sub);
		} else if (!strcmp(k, "properties")) {
			pb_named_schemas(&sub, it);
			pb_message(b, 25, &sub);
		} else if (!strncmp(k, "x-", 2)) {
			char *y = cJSON_PrintUnformatted(it);
			pb_string(&sub2, 2, y);
			cJSON_free(y);
			pb_string(&sub, 1, k);
			pb_message(&sub, 2, &sub2);
			pb_message(b, 31, &sub);
		}
	}
}

int mk_api_schema_v2_protobuf(const cJSON *doc, char **ret, size_t *ret_len,
			      struct mk_error **err)
{
	struct mk_buf b, sub;
	const char *sw = mk_json_get_string(doc, "swagger");
	const cJSON *defs_json = mk_json_get(doc, "definitions");

	if (!sw || !cJSON_IsObject(defs_json))
		return mk_error_set(err, EINVAL, "not a swagger 2.0 document");
	mk_buf_init(&b);
	mk_buf_init(&sub);
	pb_string(&b, 1, sw);
	const char *title = mk_json_get_string(doc, "info.title");
	const char *version = mk_json_get_string(doc, "info.version");
	if (title)
		pb_string(&sub, 1, title);
	if (version)
		pb_string(&sub, 2, version);
	pb_message(&b, 2, &sub);
	pb_message(&b, 8, &sub); /* paths: none */
	pb_named_schemas(&sub, defs_json);
	pb_message(&b, 9, &sub);
	*ret_len = b.len;
	*ret = mk_buf_steal(&b);
	return 0;
}

/* ---- strict field validation --------------------------------------------------- */

static bool listed(const cJSON *a, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, s))
			return true;
	return false;
}

/* Collects the unknown fields below obj (of type) into out; with prune, also removes
 * them from obj, except those listed in keep. */
static void unknown_walk(cJSON *obj, const char *type, const char *path, cJSON *out, bool prune,
			 const cJSON *keep)
{
	if (!obj)
		return;
	if (!strncmp(type, "[]", 2)) {
		cJSON *it;
		int i = 0;
		if (!cJSON_IsArray(obj))
			return;
		cJSON_ArrayForEach(it, obj)
		{
			_cleanup_free_ char *p = mk_strdup_printf("%s[%d]", path, i++);
			unknown_walk(it, type + 2, p, out, prune, keep);
		}
		return;
	}
	if (!strncmp(type, "map[]", 5)) {
		cJSON *it;
		if (!cJSON_IsObject(obj))
			return;
		cJSON_ArrayForEach(it, obj)
		{
			_cleanup_free_ char *p = mk_strdup_printf("%s.%s", path, it->string);
			unknown_walk(it, type + 5, p, out, prune, keep);
		}
		return;
	}
	const struct def *d = is_primitive(type) ? NULL : find_def(type);
	if (!d || d->scalar || !cJSON_IsObject(obj))
		return;
	cJSON *it = obj->child;
	while (it) {
		cJSON *next = it->next;
		_cleanup_free_ char *p =
			path[0] ? mk_strdup_printf("%s.%s", path, it->string) : mk_strdup(it->string);
		const struct field *f = find_field(d, it->string);
		if (!f) {
			if (out)
				cJSON_AddItemToArray(out, cJSON_CreateString(p));
			if (prune && !listed(keep, p))
				cJSON_Delete(cJSON_DetachItemViaPointer(obj, it));
		} else {
			unknown_walk(it, f->type, p, out, prune, keep);
		}
		it = next;
	}
}

#define OBJECT_META "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

cJSON *mk_api_schema_unknown_fields(const char *group, const char *version, const char *kind,
				    const cJSON *obj)
{
	cJSON *out = cJSON_CreateArray();
	const struct def *d = kind_def(group, version, kind);

	if (d)
		unknown_walk((cJSON *)obj, d->name, "", out, false, NULL);
	else if (mk_api_cr_schema(group, version, kind)) {
		/* custom kinds: their schema, and ObjectMeta for metadata */
		unknown_walk(cJSON_GetObjectItem(obj, "metadata"), OBJECT_META, "metadata", out, false,
			     NULL);
		mk_api_crd_schema_prune(mk_api_cr_schema(group, version, kind), (cJSON *)obj, "", out,
					false, true);
	}
	return out;
}

void mk_api_schema_prune_unknown(const char *group, const char *version, const char *kind,
				 cJSON *obj, const cJSON *keep)
{
	const struct def *d = kind_def(group, version, kind);

	if (d) {
		unknown_walk(obj, d->name, "", NULL, true, keep);
	} else if (mk_api_cr_schema(group, version, kind)) {
		/* custom resources: unknown fields always go (kube prunes them whatever
		 * fieldValidation says); keep is for fields already stored */
		unknown_walk(cJSON_GetObjectItem(obj, "metadata"), OBJECT_META, "metadata", NULL, true,
			     keep);
		mk_api_crd_schema_prune(mk_api_cr_schema(group, version, kind), obj, "", NULL,
					true, true);
	}
}

/* ---- server-side apply view ----------------------------------------------------- */
/* ref is the rest of a field's type string ("[]X", "map[]X", "X"), ref2 the
 * definition of its base type X. */

static void ssa_resolve(const char *t, const char *list_type, const char *keys,
			const struct def *bdef, struct mk_ssa_type *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->ref2 = bdef;
	if (!strncmp(t, "[]", 2)) {
		ret->ref = t + 2;
		if (list_type && !strcmp(list_type, "map") && keys) {
			ret->shape = MK_SSA_LIST_MAP;
			ret->keys = keys;
		} else if (list_type && !strcmp(list_type, "set")) {
			ret->shape = MK_SSA_LIST_SET;
		} else {
			ret->shape = MK_SSA_ATOMIC; /* lists without a list type are atomic */
		}
	} else if (!strncmp(t, "map[]", 5)) {
		ret->ref = t + 5;
		ret->shape = MK_SSA_MAP;
	} else if (!strcmp(t, "object")) {
		ret->shape = MK_SSA_UNTYPED;
	} else if (!bdef || bdef->scalar || is_primitive(t)) {
		ret->shape = MK_SSA_SCALAR;
	} else {
		ret->shape = bdef->atomic ? MK_SSA_ATOMIC : MK_SSA_STRUCT;
	}
}

static int ssa_child(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const char *name,
		     struct mk_ssa_type *ret)
{
	(void)s;
	if (t->shape == MK_SSA_STRUCT) {
		const struct field *f = find_field(t->ref2, name);
		if (f) {
			*ret = f->ssa;
			return 1;
		}
		memset(ret, 0, sizeof(*ret));
		ret->shape = MK_SSA_UNTYPED;
		return -1;
	}
	if (t->shape == MK_SSA_MAP) {
		ssa_resolve(t->ref, NULL, NULL, t->ref2, ret);
		return 0;
	}
	memset(ret, 0, sizeof(*ret));
	ret->shape = MK_SSA_UNTYPED;
	return 0;
}

static void ssa_elem(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
		     struct mk_ssa_type *ret)
{
	(void)s;
	if (t->ref) {
		ssa_resolve(t->ref, NULL, NULL, t->ref2, ret);
		return;
	}
	memset(ret, 0, sizeof(*ret));
	ret->shape = MK_SSA_UNTYPED;
}

/* Ports are keyed by number and protocol, which defaults to TCP (+default="TCP"). */
static const char *ssa_key_default(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
				   const char *key)
{
	(void)s;
	(void)t;
	return !strcmp(key, "protocol") ? "\"TCP\"" : NULL;
}

int mk_api_ssa_schema_builtin(const char *group, const char *version, const char *kind,
			      struct mk_ssa_schema *ret, struct mk_error **err)
{
	const struct def *d = kind_def(group, version, kind);

	if (!d)
		return mk_error_set(err, ENOENT, "no schema for kind '%s' of '%s%s%s'", kind, group,
				    group[0] ? "/" : "", version);
	memset(ret, 0, sizeof(*ret));
	ret->root.shape = MK_SSA_STRUCT;
	ret->root.ref2 = d;
	ret->child = ssa_child;
	ret->elem = ssa_elem;
	ret->key_default = ssa_key_default;
	return 0;
}
