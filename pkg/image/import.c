/* Imports of OCI image layouts (image-spec image-layout.md) and docker-save
 * archives. Tarballs are first extracted with the same safe extractor as
 * layers into DIR/tmp, then every file is opened with RESOLVE_IN_ROOT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "internal.h"

struct src {
	int root_fd;
};

static int copy_into(int fd, struct blob_writer *w, const char *what, struct mk_error **err)
{
	char buf[128 * 1024];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mk_error_errno(err, errno, "read '%s'", what);
		}
		if (n == 0)
			return 0;
		if (img_blob_writer_write(w, buf, (size_t)n) < 0)
			return 0; /* commit reports the writer's failure */
	}
}

/* OCI layout: blobs/<alg>/<hex> */
static int fetch_oci(void *ctx, const char *digest, int64_t size, struct blob_writer *w,
		     struct mk_error **err)
{
	struct src *src = ctx;
	_cleanup_free_ char *rel = mk_strdup_printf("blobs/sha256/%s", digest + 7);
	_cleanup_close_ int fd = img_open_in_root(src->root_fd, rel, O_RDONLY, 0);
	if (fd < 0)
		return mk_error_errno(err, errno, "open '%s' in image layout", rel);
	return copy_into(fd, w, rel, err);
}

static int read_in_root(int root_fd, const char *rel, size_t max, char **ret, size_t *ret_len,
			struct mk_error **err)
{
	_cleanup_close_ int fd = img_open_in_root(root_fd, rel, O_RDONLY, 0);
	struct mk_buf b;
	char buf[65536];

	if (fd < 0)
		return mk_error_errno(err, errno, "open '%s'", rel);
	mk_buf_init(&b);
	mk_buf_append(&b, "", 0);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mk_buf_release(&b);
			return mk_error_errno(err, errno, "read '%s'", rel);
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			mk_buf_release(&b);
			return mk_error_set(err, E2BIG, "'%s' too large", rel);
		}
		mk_buf_append(&b, buf, (size_t)n);
	}
	*ret_len = b.len;
	*ret = mk_buf_steal(&b);
	return 0;
}

/* a blob of the layout, verified against its digest */
static int read_oci_blob(int root_fd, const char *digest, size_t max, char **ret, size_t *ret_len,
			 struct mk_error **err)
{
	_cleanup_free_ char *rel = NULL;
	char got[72];

	if (!mk_image_digest_valid(digest))
		return mk_error_set(err, EINVAL, "invalid digest '%s' in image layout", digest ? digest : "");
	rel = mk_strdup_printf("blobs/sha256/%s", digest + 7);
	if (read_in_root(root_fd, rel, max, ret, ret_len, err) < 0)
		return -1;
	mk_image_digest_bytes(*ret, *ret_len, got);
	if (strcmp(got, digest)) {
		free(*ret);
		*ret = NULL;
		return mk_error_set(err, EILSEQ, "blob %s in image layout has digest %s", digest, got);
	}
	return 0;
}

/* name for an index entry: full references as is; a bare tag joins default_repo */
static char *entry_name(const cJSON *desc, const char *default_repo, struct mk_error **err)
{
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(desc, "annotations");
	/* annotation keys contain dots: look them up as keys, not as paths */
	const char *refname = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(ann, "org.opencontainers.image.ref.name"));
	const char *cname = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(ann, "io.containerd.image.name"));

	if (cname)
		return mk_image_ref_normalize(cname, err);
	if (refname && (strchr(refname, '/') || strchr(refname, ':') || strchr(refname, '@')))
		return mk_image_ref_normalize(refname, err);
	if (default_repo) {
		_cleanup_free_ char *full = mk_strdup_printf("%s:%s", default_repo, refname ? refname : "latest");
		return mk_image_ref_normalize(full, err);
	}
	if (refname)
		mk_error_set(err, EINVAL, "image layout names '%s' without a repository (give one)", refname);
	else
		mk_error_set(err, EINVAL, "image layout entry has no name (give a repository)");
	return NULL;
}

static int import_oci(struct mk_image_store *s, int root_fd, const char *default_repo,
		      const char *platform, char ***ret_names, struct mk_error **err)
{
	_cleanup_free_ char *idx = NULL;
	_cleanup_cjson_ cJSON *doc = NULL;
	const cJSON *d;
	size_t len, nnames = 0;
	char **names;
	struct src src = { root_fd };
	int r = 0;

	if (read_in_root(root_fd, "index.json", MK_IMAGE_MAX_MANIFEST, &idx, &len, err) < 0)
		return -1;
	doc = cJSON_ParseWithLength(idx, len);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "manifests")))
		return mk_error_set(err, EINVAL, "index.json has no manifests");
	names = mk_malloc0(sizeof(char *) *
			   ((size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "manifests")) + 1));
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "manifests"))
	{
		_cleanup_free_ char *name = NULL, *raw = NULL, *child = NULL;
		const char *digest = mk_json_get_string(d, "digest");
		const char *mt = mk_json_get_string(d, "mediaType");
		char index_digest[72] = "";

		name = entry_name(d, default_repo, err);
		if (!name || read_oci_blob(root_fd, digest, MK_IMAGE_MAX_MANIFEST, &raw, &len, err) < 0) {
			r = -1;
			break;
		}
		if (!mt) {
			_cleanup_cjson_ cJSON *m = cJSON_ParseWithLength(raw, len);
			mt = cJSON_GetObjectItemCaseSensitive(m, "manifests") ? MK_IMAGE_MT_OCI_INDEX
									      : MK_IMAGE_MT_OCI_MANIFEST;
		}
		if (mk_image_media_type_kind(mt) == MK_IMAGE_MT_INDEX) {
			memcpy(index_digest, digest, 72);
			if (mk_image_index_select(raw, len, platform, &child, NULL, err) < 0 ||
			    img_store_blob_put_bytes(s, raw, len, index_digest, err) < 0) {
				r = -1;
				break;
			}
			free(raw);
			raw = NULL;
			if (read_oci_blob(root_fd, child, MK_IMAGE_MAX_MANIFEST, &raw, &len, err) < 0) {
				r = -1;
				break;
			}
		}
		if (img_store_ingest_manifest(s, name, raw, len, *index_digest ? index_digest : NULL,
					  fetch_oci, &src, NULL, err) < 0) {
			mk_error_wrap(err, "import '%s'", name);
			r = -1;
			break;
		}
		names[nnames++] = TAKE_PTR(name);
	}
	if (r == 0 && nnames == 0)
		r = mk_error_set(err, EINVAL, "image layout contains no image");
	if (r < 0 || !ret_names)
		mk_strv_free(names);
	else
		*ret_names = names;
	return r;
}

/* copies root/rel into the store; out gets the digest (checked if expect) */
static int put_file(struct mk_image_store *s, int root_fd, const char *rel, const char *expect,
		    char out[72], int64_t *ret_size, struct mk_error **err)
{
	_cleanup_close_ int fd = img_open_in_root(root_fd, rel, O_RDONLY, 0);
	struct blob_writer w;
	char got[72];

	if (fd < 0)
		return mk_error_errno(err, errno, "open '%s' in archive", rel);
	if (img_blob_writer_open(s, -1, &w, err) < 0)
		return -1;
	if (copy_into(fd, &w, rel, err) < 0) {
		img_blob_writer_abort(&w);
		return -1;
	}
	*ret_size = w.written;
	/* the digest of a local file is whatever it hashes to; the layer's content
	 * is checked against the config's diff ids when unpacking */
	if (img_blob_writer_finish(s, &w, got, err) < 0)
		return -1;
	if (expect && strcmp(expect, got))
		return mk_error_set(err, EILSEQ, "'%s' has digest %s, want %s", rel, got, expect);
	memcpy(out, got, 72);
	return 0;
}

/* One docker save entry as a Docker schema 2 manifest (*ret_raw, owned by cJSON),
 * its config and layer files copied into the store as blobs. */
static int docker_manifest(struct mk_image_store *s, int root_fd, const cJSON *img,
			   char **ret_raw, char ret_cfg_digest[72], struct mk_error **err)
{
	const char *cfg_path = mk_json_get_string(img, "Config");
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(img, "Layers"), *l;
	_cleanup_cjson_ cJSON *m = NULL;
	cJSON *c, *ls;
	int64_t size;

	if (!cfg_path || !cJSON_IsArray(layers))
		return mk_error_set(err, EINVAL, "manifest.json entry lacks Config or Layers");
	if (put_file(s, root_fd, cfg_path, NULL, ret_cfg_digest, &size, err) < 0)
		return -1;
	m = cJSON_CreateObject();
	cJSON_AddNumberToObject(m, "schemaVersion", 2);
	cJSON_AddStringToObject(m, "mediaType", MK_IMAGE_MT_DOCKER_MANIFEST);
	c = cJSON_AddObjectToObject(m, "config");
	cJSON_AddStringToObject(c, "mediaType", MK_IMAGE_MT_DOCKER_CONFIG);
	cJSON_AddNumberToObject(c, "size", (double)size);
	cJSON_AddStringToObject(c, "digest", ret_cfg_digest);
	ls = cJSON_AddArrayToObject(m, "layers");
	cJSON_ArrayForEach(l, layers)
	{
		char d[72];
		cJSON *desc;
		if (!cJSON_IsString(l))
			return mk_error_set(err, EINVAL, "manifest.json: bad layer entry");
		if (put_file(s, root_fd, l->valuestring, NULL, d, &size, err) < 0)
			return -1;
		desc = cJSON_CreateObject();
		cJSON_AddStringToObject(desc, "mediaType", "application/vnd.docker.image.rootfs.diff.tar");
		cJSON_AddNumberToObject(desc, "size", (double)size);
		cJSON_AddStringToObject(desc, "digest", d);
		cJSON_AddItemToArray(ls, desc);
	}
	*ret_raw = cJSON_PrintUnformatted(m);
	return 0;
}

/* Records the manifest raw under every RepoTag of the entry (default_repo:latest
 * when it has none), each name pushed on *names. */
static int docker_tag(struct mk_image_store *s, const cJSON *tags, const char *default_repo,
		      const char *cfg_digest, const char *raw, char ***names, size_t *nnames,
		      struct mk_error **err)
{
	const cJSON *t;

	if (cJSON_GetArraySize(tags) == 0) {
		if (!default_repo)
			return mk_error_set(err, EINVAL,
					    "docker archive image %s has no RepoTags (give a repository)",
					    cfg_digest);
		_cleanup_free_ char *latest = mk_strdup_printf("%s:latest", default_repo);
		char *n = mk_image_ref_normalize(latest, err);
		if (!n)
			return -1;
		mk_strv_push(names, nnames, n);
		if (img_store_ingest_manifest(s, n, raw, strlen(raw), NULL, NULL, NULL, NULL, err) < 0)
			return -1;
	}
	cJSON_ArrayForEach(t, tags)
	{
		char *n = cJSON_IsString(t) ? mk_image_ref_normalize(t->valuestring, err) : NULL;
		if (!n || img_store_ingest_manifest(s, n, raw, strlen(raw), NULL, NULL, NULL, NULL, err) < 0) {
			free(n);
			return -1;
		}
		mk_strv_push(names, nnames, n);
	}
	return 0;
}

/* docker save: manifest.json = [{"Config": "x.json", "RepoTags": [..], "Layers": [..]}] */
static int import_docker(struct mk_image_store *s, int root_fd, const char *default_repo,
			 char ***ret_names, struct mk_error **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_cjson_ cJSON *doc = NULL;
	_cleanup_strv_ char **names = NULL;
	const cJSON *img;
	size_t len, nnames = 0;

	if (read_in_root(root_fd, "manifest.json", MK_IMAGE_MAX_MANIFEST, &text, &len, err) < 0)
		return -1;
	doc = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsArray(doc))
		return mk_error_set(err, EINVAL, "manifest.json is not an array");
	cJSON_ArrayForEach(img, doc)
	{
		_cleanup_cjson_str_ char *raw = NULL;
		char cfg_digest[72];

		if (docker_manifest(s, root_fd, img, &raw, cfg_digest, err) < 0 ||
		    docker_tag(s, cJSON_GetObjectItemCaseSensitive(img, "RepoTags"), default_repo,
			       cfg_digest, raw, &names, &nnames, err) < 0)
			return -1;
	}
	if (ret_names) {
		if (!names) /* an empty manifest.json: no names, still a vector */
			names = mk_malloc0(sizeof(char *));
		*ret_names = TAKE_PTR(names);
	}
	return 0;
}

int mk_image_import(struct mk_image_store *s, const char *path, const char *default_repo,
		    const char *platform, char ***ret_names, struct mk_error **err)
{
	_cleanup_close_ int root_fd = -1, gc = -1, probe = -1;
	_cleanup_free_ char *tmp = NULL;
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return mk_error_errno(err, errno, "import '%s'", path);
	gc = img_store_lock(s, "gc.lock", LOCK_SH, err); /* keeps our tmp dir from the collector */
	if (gc < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			return mk_error_errno(err, errno, "open '%s'", path);
	} else {
		char ignored[72];
		tmp = mk_strdup_printf("%s/tmp/import-XXXXXX", s->dir);
		if (!mkdtemp(tmp))
			return mk_error_errno(err, errno, "mkdtemp '%s'", tmp);
		root_fd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0 || img_extract_archive(path, root_fd, EXTRACT_GENERIC, ignored, err) < 0) {
			if (root_fd < 0)
				mk_error_errno(err, errno, "open '%s'", tmp);
			mk_error_wrap(err, "import '%s'", path);
			img_remove_tree(tmp);
			return -1;
		}
	}
	if ((probe = img_open_in_root(root_fd, "index.json", O_RDONLY, 0)) >= 0) {
		r = import_oci(s, root_fd, default_repo, platform, ret_names, err);
	} else if ((probe = img_open_in_root(root_fd, "manifest.json", O_RDONLY, 0)) >= 0) {
		r = import_docker(s, root_fd, default_repo, ret_names, err);
	} else {
		r = mk_error_set(err, EINVAL,
				 "'%s' is neither an OCI image layout (index.json) nor a docker-save archive (manifest.json)",
				 path);
	}
	if (tmp)
		img_remove_tree(tmp);
	return r;
}

static int archive_name(const char *n)
{
	return mk_str_has_suffix(n, ".tar") || mk_str_has_suffix(n, ".tar.gz") ||
	       mk_str_has_suffix(n, ".tgz") || mk_str_has_suffix(n, ".tar.zst");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mk_image_import_dir(struct mk_image_store *s, const char *dir, int *ret_count,
			struct mk_error **err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **files = NULL;
	size_t n = 0, cap = 0;
	int count = 0, r = 0;

	if (!d) {
		if (errno == ENOENT) {
			if (ret_count)
				*ret_count = 0;
			return 0;
		}
		return mk_error_errno(err, errno, "open '%s'", dir);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !archive_name(de->d_name))
			continue;
		MK_GROW(files, cap, n + 1);
		files[n++] = mk_strdup_printf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (n)
		qsort(files, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		_cleanup_free_ char *stamp = NULL;
		struct mk_error *e = NULL;

		if (stat(files[i], &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		stamp = mk_strdup_printf("%lld:%lld.%09ld", (long long)st.st_size,
					 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		if (img_store_imported(s, files[i], stamp, 1, &e) == 1)
			continue;
		if (!e && mk_image_import(s, files[i], NULL, NULL, NULL, &e) == 0 &&
		    img_store_imported(s, files[i], stamp, 0, &e) >= 0) {
			count++;
			continue;
		}
		if (r == 0 && err && !*err) {
			*err = e;
			e = NULL;
		}
		r = -1;
		mk_error_free(&e);
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	if (ret_count)
		*ret_count = count;
	return r;
}
