/* Image references, normalised as Docker does (distribution/reference):
 * "nginx" -> docker.io/library/nginx:latest. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include "internal.h"

int mk_image_digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return 0;
	for (const char *p = s + 7; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return 0;
	return 1;
}

/* path component: [a-z0-9]+ separated by ".", "_", "__" or "-"+ */
static int component_valid(const char *c, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)c[0]) || !isalnum((unsigned char)c[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)c[i];
		if (isdigit(ch) || (ch >= 'a' && ch <= 'z'))
			continue;
		if (ch == '.' || ch == '_' || ch == '-') {
			if (i + 1 < n && ch == '.' && !isalnum((unsigned char)c[i + 1]))
				return 0;
			continue;
		}
		return 0;
	}
	return 1;
}

static int tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return 0;
	return 1;
}

static int domain_valid(const char *d)
{
	const char *port = strrchr(d, ':');
	if (!*d || d[0] == ':' || d[0] == '.' || d[0] == '-')
		return 0;
	/* host[:port], the port numeric ("[::1]:5000" style IPv6 too) */
	if (port && !strchr(port, ']') && (!port[1] || strspn(port + 1, "0123456789") != strlen(port + 1)))
		return 0;
	for (const char *p = d; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
			return 0;
	return 1;
}

void mk_image_ref_release(struct mk_image_ref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

int mk_image_ref_parse(const char *s, struct mk_image_ref *ret, struct mk_error **err)
{
	struct mk_image_ref r = { 0 };
	_cleanup_free_ char *buf = NULL;
	char *at, *slash, *colon, *name;

	if (!s || !*s)
		return mk_error_set(err, EINVAL, "invalid image reference '': empty");
	if (strlen(s) > 255 + 72 + 130)
		return mk_error_set(err, EINVAL, "invalid image reference: too long");
	buf = mk_strdup(s);
	at = strchr(buf, '@');
	if (at) {
		*at = '\0';
		if (!mk_image_digest_valid(at + 1))
			return mk_error_set(err, EINVAL, "invalid image reference '%s': bad digest", s);
		r.digest = mk_strdup(at + 1);
	}
	name = buf;
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_valid(colon + 1)) {
			mk_image_ref_release(&r);
			return mk_error_set(err, EINVAL, "invalid image reference '%s': bad tag", s);
		}
		r.tag = mk_strdup(colon + 1);
	}
	slash = strchr(name, '/');
	if (slash && (memchr(name, '.', (size_t)(slash - name)) ||
		      memchr(name, ':', (size_t)(slash - name)) ||
		      (slash - name == 9 && !strncmp(name, "localhost", 9)))) {
		*slash = '\0';
		r.domain = mk_strdup(name);
		name = slash + 1;
		if (!domain_valid(r.domain)) {
			mk_image_ref_release(&r);
			return mk_error_set(err, EINVAL, "invalid image reference '%s': bad registry", s);
		}
		if (!strcmp(r.domain, "index.docker.io")) {
			free(r.domain);
			r.domain = mk_strdup("docker.io");
		}
	} else {
		r.domain = mk_strdup("docker.io");
	}
	/* every path component must be valid */
	for (const char *c = name;;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (!component_valid(c, n)) {
			mk_image_ref_release(&r);
			return mk_error_set(err, EINVAL,
					    "invalid image reference '%s': repository name must be lowercase alphanumerics separated by '.', '_', '-' and '/'",
					    s);
		}
		if (!e)
			break;
		c = e + 1;
	}
	if (!strcmp(r.domain, "docker.io") && !strchr(name, '/'))
		r.path = mk_strdup_printf("library/%s", name);
	else
		r.path = mk_strdup(name);
	if (strlen(r.domain) + strlen(r.path) + 1 > 255) {
		mk_image_ref_release(&r);
		return mk_error_set(err, EINVAL, "invalid image reference '%s': name too long", s);
	}
	if (!r.tag && !r.digest)
		r.tag = mk_strdup("latest");
	*ret = r;
	return 0;
}

char *mk_image_ref_format(const struct mk_image_ref *r)
{
	return mk_strdup_printf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
				r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *mk_image_ref_normalize(const char *s, struct mk_error **err)
{
	struct mk_image_ref r;
	char *out;
	if (mk_image_ref_parse(s, &r, err) < 0)
		return NULL;
	out = mk_image_ref_format(&r);
	mk_image_ref_release(&r);
	return out;
}

enum mk_image_mt_kind mk_image_media_type_kind(const char *mt)
{
	static const struct {
		const char *prefix;
		enum mk_image_mt_kind kind;
	} table[] = {
		{ MK_IMAGE_MT_OCI_INDEX, MK_IMAGE_MT_INDEX },
		{ MK_IMAGE_MT_DOCKER_LIST, MK_IMAGE_MT_INDEX },
		{ MK_IMAGE_MT_OCI_MANIFEST, MK_IMAGE_MT_MANIFEST },
		{ MK_IMAGE_MT_DOCKER_MANIFEST, MK_IMAGE_MT_MANIFEST },
		{ MK_IMAGE_MT_OCI_CONFIG, MK_IMAGE_MT_CONFIG },
		{ MK_IMAGE_MT_DOCKER_CONFIG, MK_IMAGE_MT_CONFIG },
		{ "application/vnd.oci.image.layer.v1.tar", MK_IMAGE_MT_LAYER },
		{ "application/vnd.oci.image.layer.nondistributable.v1.tar", MK_IMAGE_MT_LAYER },
		{ "application/vnd.docker.image.rootfs.diff.tar", MK_IMAGE_MT_LAYER },
		{ "application/vnd.docker.image.rootfs.foreign.diff.tar", MK_IMAGE_MT_LAYER },
	};
	size_t n;

	if (!mt)
		return MK_IMAGE_MT_UNKNOWN;
	n = strcspn(mt, "; ");
	for (size_t i = 0; i < MK_ARRAY_SIZE(table); i++) {
		size_t pl = strlen(table[i].prefix);
		if (table[i].kind == MK_IMAGE_MT_LAYER) {
			/* the layer types take a compression suffix */
			const char *suf = mt + pl;
			size_t sl = n - pl;
			if (n >= pl && !strncmp(mt, table[i].prefix, pl) &&
			    (sl == 0 ||
			     (sl == 5 && (!strncmp(suf, "+gzip", 5) || !strncmp(suf, "+zstd", 5) ||
					  !strncmp(suf, ".gzip", 5) || !strncmp(suf, ".zstd", 5)))))
				return MK_IMAGE_MT_LAYER;
		} else if (n == pl && !strncmp(mt, table[i].prefix, pl)) {
			return table[i].kind;
		}
	}
	return MK_IMAGE_MT_UNKNOWN;
}

enum mk_image_whiteout mk_image_whiteout_classify(const char *path, char **ret_target)
{
	const char *base = strrchr(path, '/');
	size_t dirlen;

	base = base ? base + 1 : path;
	dirlen = base > path ? (size_t)(base - path - 1) : 0;
	if (strncmp(base, ".wh.", 4) != 0)
		return MK_IMAGE_WHITEOUT_NONE;
	if (!strcmp(base, ".wh..wh..opq")) {
		if (ret_target)
			*ret_target = strndup(path, dirlen);
		return MK_IMAGE_WHITEOUT_OPAQUE;
	}
	if (!strncmp(base, ".wh..wh.", 8))
		return MK_IMAGE_WHITEOUT_META;
	if (!base[4] || !strcmp(base + 4, ".") || !strcmp(base + 4, ".."))
		return MK_IMAGE_WHITEOUT_META; /* nothing sensible to delete */
	if (ret_target)
		*ret_target = dirlen ? mk_strdup_printf("%.*s/%s", (int)dirlen, path, base + 4)
				     : mk_strdup(base + 4);
	return MK_IMAGE_WHITEOUT_FILE;
}
