/* A small YAML -> cJSON converter (libyaml events) for registries.yaml. Plain
 * scalars true/false/null and numbers get their JSON types; quoted stay strings. */
#include <errno.h>
#include <string.h>
#include <yaml.h>
#include "internal.h"

static cJSON *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	char *end;
	double d;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(v);
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes"))
		return cJSON_CreateTrue();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "no"))
		return cJSON_CreateFalse();
	if (!strcmp(v, "null") || !strcmp(v, "~") || !*v)
		return cJSON_CreateNull();
	d = strtod(v, &end);
	if (*v && !*end && strspn(v, "+-0123456789.eE") == strlen(v))
		return cJSON_CreateNumber(d);
	return cJSON_CreateString(v);
}

/* parses one node starting at *ev (already fetched); returns it or NULL */
static cJSON *node(yaml_parser_t *p, yaml_event_t *ev, int depth)
{
	cJSON *out = NULL;
	yaml_event_t k, v;

	if (depth > 64)
		return NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return scalar(ev);
	case YAML_SEQUENCE_START_EVENT:
		out = cJSON_CreateArray();
		for (;;) {
			cJSON *item;
			if (!yaml_parser_parse(p, &v))
				goto fail;
			if (v.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&v);
				return out;
			}
			item = node(p, &v, depth + 1);
			yaml_event_delete(&v);
			if (!item)
				goto fail;
			cJSON_AddItemToArray(out, item);
		}
	case YAML_MAPPING_START_EVENT:
		out = cJSON_CreateObject();
		for (;;) {
			cJSON *item;
			if (!yaml_parser_parse(p, &k))
				goto fail;
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				return out;
			}
			if (k.type != YAML_SCALAR_EVENT || !yaml_parser_parse(p, &v)) {
				yaml_event_delete(&k);
				goto fail;
			}
			item = node(p, &v, depth + 1);
			yaml_event_delete(&v);
			if (!item) {
				yaml_event_delete(&k);
				goto fail;
			}
			mk_json_set(out, (const char *)k.data.scalar.value, item);
			yaml_event_delete(&k);
		}
	default:
		return NULL; /* aliases and the like are not supported */
	}
fail:
	cJSON_Delete(out);
	return NULL;
}

int img_yaml_to_json(const char *text, size_t len, cJSON **ret, struct mk_error **err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	cJSON *doc = NULL;
	int r = -1;

	if (!yaml_parser_initialize(&p))
		return mk_error_set(err, ENOMEM, "yaml parser");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			mk_error_set(err, EINVAL, "yaml: %s at line %zu", p.problem ? p.problem : "error",
				     p.problem_mark.line + 1);
			goto out;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (!doc && (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
			     ev.type == YAML_SCALAR_EVENT)) {
			doc = node(&p, &ev, 0);
			if (!doc) {
				yaml_event_delete(&ev);
				mk_error_set(err, EINVAL, "yaml: unsupported or invalid document");
				goto out;
			}
		}
		yaml_event_delete(&ev);
	}
	*ret = doc ? doc : cJSON_CreateObject();
	doc = NULL;
	r = 0;
out:
	cJSON_Delete(doc);
	yaml_parser_delete(&p);
	return r;
}

int mk_image_registries_load(const char *path, cJSON **ret, struct mk_error **err)
{
	_cleanup_free_ char *data = NULL;
	cJSON *doc;
	size_t len;

	if (mk_fs_read_file(path, &data, &len, err) < 0)
		return -1;
	if (img_yaml_to_json(data, len, &doc, err) < 0)
		return mk_error_wrap(err, "registries config '%s'", path);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return mk_error_set(err, EINVAL, "registries config '%s' is not a mapping", path);
	}
	mk_json_ensure_object(doc, "mirrors");
	mk_json_ensure_object(doc, "configs");
	*ret = doc;
	return 0;
}
