/* sha256, platforms, index selection and image config parsing. */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include "internal.h"

int img_sha256_init(struct sha256 *s)
{
	return gnutls_hash_init(&s->h, GNUTLS_DIG_SHA256) < 0 ? -1 : 0;
}

void img_sha256_update(struct sha256 *s, const void *data, size_t len)
{
	if (len)
		gnutls_hash(s->h, data, len);
}

static void hex_digest(const unsigned char *md, char out[72])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
}

void img_sha256_final(struct sha256 *s, char out[72])
{
	unsigned char md[32];
	gnutls_hash_deinit(s->h, md);
	s->h = NULL;
	hex_digest(md, out);
}

void img_sha256_abort(struct sha256 *s)
{
	if (s->h)
		gnutls_hash_deinit(s->h, NULL);
	s->h = NULL;
}

void mk_image_digest_bytes(const void *data, size_t len, char out[72])
{
	unsigned char md[32];
	gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, md);
	hex_digest(md, out);
}

void mk_image_platform_host(char *out, size_t size)
{
	struct utsname u;
	const char *arch = "amd64", *variant = NULL;

	if (uname(&u) == 0) {
		const char *m = u.machine;
		if (!strcmp(m, "x86_64"))
			arch = "amd64";
		else if (!strcmp(m, "aarch64") || !strcmp(m, "arm64"))
			arch = "arm64";
		else if (!strncmp(m, "armv7", 5))
			arch = "arm", variant = "v7";
		else if (!strncmp(m, "armv6", 5))
			arch = "arm", variant = "v6";
		else if (!strcmp(m, "i686") || !strcmp(m, "i386"))
			arch = "386";
		else
			arch = m; /* ppc64le, s390x, riscv64 match GOARCH */
	}
	snprintf(out, size, "linux/%s%s%s", arch, variant ? "/" : "", variant ? variant : "");
}

/* "linux/arm64/v8" and "linux/arm64" are the same platform (v8 is arm64's default) */
char *img_platform_normalize(const char *p)
{
	char host[64];
	if (!p || !*p) {
		mk_image_platform_host(host, sizeof(host));
		p = host;
	}
	if (!strcmp(p, "linux/arm64/v8"))
		return mk_strdup("linux/arm64");
	return mk_strdup(p);
}

char **img_json_strv(const cJSON *arr)
{
	const cJSON *it;
	char **v;
	size_t n = 0;

	if (!cJSON_IsArray(arr))
		return NULL;
	v = mk_malloc0(sizeof(char *) * ((size_t)cJSON_GetArraySize(arr) + 1));
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			v[n++] = mk_strdup(it->valuestring);
	return v;
}

int mk_image_index_select(const char *json, size_t len, const char *platform, char **ret_digest,
			  char **ret_media_type, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = cJSON_ParseWithLength(json, len);
	_cleanup_free_ char *want = img_platform_normalize(platform);
	const cJSON *m, *manifests;
	const cJSON *best = NULL;

	if (!doc)
		return mk_error_set(err, EINVAL, "image index is not valid JSON");
	manifests = cJSON_GetObjectItemCaseSensitive(doc, "manifests");
	if (!cJSON_IsArray(manifests))
		return mk_error_set(err, EINVAL, "image index has no manifests");
	cJSON_ArrayForEach(m, manifests)
	{
		const char *os = mk_json_get_string(m, "platform.os");
		const char *arch = mk_json_get_string(m, "platform.architecture");
		const char *variant = mk_json_get_string(m, "platform.variant");
		const char *digest = mk_json_get_string(m, "digest");
		const char *mt = mk_json_get_string(m, "mediaType");
		_cleanup_free_ char *have = NULL;

		if (!os || !arch || !mk_image_digest_valid(digest))
			continue; /* attestation manifests carry "unknown/unknown" or nothing */
		if (mt && mk_image_media_type_kind(mt) != MK_IMAGE_MT_MANIFEST)
			continue;
		{
			_cleanup_free_ char *raw = mk_strdup_printf(
				"%s/%s%s%s", os, arch, variant ? "/" : "", variant ? variant : "");
			have = img_platform_normalize(raw);
		}
		if (!strcmp(have, want)) {
			best = m;
			break;
		}
		/* "linux/arm" in the index matches a node asking "linux/arm/v7" only if
		 * nothing more specific exists: remember as fallback */
		if (!best && !variant && !strncmp(want, have, strlen(have)) &&
		    want[strlen(have)] == '/')
			best = m;
	}
	if (!best)
		return mk_error_set(err, ENOENT, "no manifest for platform %s in image index", want);
	*ret_digest = mk_strdup(mk_json_get_string(best, "digest"));
	if (ret_media_type) {
		const char *mt = mk_json_get_string(best, "mediaType");
		*ret_media_type = mk_strdup(mt ? mt : MK_IMAGE_MT_OCI_MANIFEST);
	}
	return 0;
}

void mk_image_config_free(struct mk_image_config *c)
{
	if (!c)
		return;
	mk_strv_free(c->entrypoint);
	mk_strv_free(c->cmd);
	mk_strv_free(c->env);
	free(c->working_dir);
	free(c->user);
	mk_strv_free(c->exposed_ports);
	free(c->os);
	free(c->architecture);
	mk_strv_free(c->diff_ids);
	free(c);
}

int mk_image_config_parse(const char *json, size_t len, struct mk_image_config **ret,
			  struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = cJSON_ParseWithLength(json, len);
	struct mk_image_config *c;
	const cJSON *cfg, *ports, *it;
	const char *s;

	if (!doc || !cJSON_IsObject(doc))
		return mk_error_set(err, EINVAL, "image config is not a JSON object");
	c = mk_malloc0(sizeof(*c));
	c->diff_ids = img_json_strv(mk_json_get(doc, "rootfs.diff_ids"));
	if (!c->diff_ids) {
		mk_image_config_free(c);
		return mk_error_set(err, EINVAL, "image config has no rootfs.diff_ids");
	}
	for (char **d = c->diff_ids; *d; d++)
		if (!mk_image_digest_valid(*d)) {
			mk_error_set(err, EINVAL, "image config has an invalid diff id '%s'", *d);
			mk_image_config_free(c);
			return -1;
		}
	c->os = mk_strdup(mk_json_get_string(doc, "os"));
	c->architecture = mk_strdup(mk_json_get_string(doc, "architecture"));
	cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");
	if (cJSON_IsObject(cfg)) {
		c->entrypoint = img_json_strv(cJSON_GetObjectItemCaseSensitive(cfg, "Entrypoint"));
		c->cmd = img_json_strv(cJSON_GetObjectItemCaseSensitive(cfg, "Cmd"));
		c->env = img_json_strv(cJSON_GetObjectItemCaseSensitive(cfg, "Env"));
		if ((s = mk_json_get_string(cfg, "WorkingDir")) && *s)
			c->working_dir = mk_strdup(s);
		if ((s = mk_json_get_string(cfg, "User")) && *s)
			c->user = mk_strdup(s);
		ports = cJSON_GetObjectItemCaseSensitive(cfg, "ExposedPorts");
		if (cJSON_IsObject(ports)) {
			size_t n = 0;
			c->exposed_ports = mk_malloc0(sizeof(char *) *
						      ((size_t)cJSON_GetArraySize(ports) + 1));
			cJSON_ArrayForEach(it, ports) c->exposed_ports[n++] = mk_strdup(it->string);
		}
	}
	*ret = c;
	return 0;
}
