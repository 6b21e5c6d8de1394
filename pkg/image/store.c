/* The content-addressed store: blobs, unpacked layers, the refs index, locks and
 * garbage collection. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "internal.h"

int mk_image_store_open(const char *dir, struct mk_image_store **ret, struct mk_error **err)
{
	static const char *subdirs[] = { "blobs/sha256", "layers/sha256", "locks", "tmp" };
	struct mk_image_store *s;

	for (size_t i = 0; i < MK_ARRAY_SIZE(subdirs); i++) {
		_cleanup_free_ char *p = mk_strdup_printf("%s/%s", dir, subdirs[i]);
		if (mk_fs_mkdir_p(p, 0700, err) < 0)
			return mk_error_wrap(err, "open image store");
	}
	s = mk_malloc0(sizeof(*s));
	s->dir = mk_strdup(dir);
	*ret = s;
	return 0;
}

void mk_image_store_free(struct mk_image_store *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s);
}

const char *mk_image_store_dir(const struct mk_image_store *s)
{
	return s->dir;
}

char *img_store_blob_path(struct mk_image_store *s, const char *digest)
{
	return mk_strdup_printf("%s/blobs/sha256/%s", s->dir, digest + 7);
}

char *img_store_layer_path(struct mk_image_store *s, const char *diff_id)
{
	return mk_strdup_printf("%s/layers/sha256/%s", s->dir, diff_id + 7);
}

int img_store_blob_exists(struct mk_image_store *s, const char *digest)
{
	_cleanup_free_ char *p = img_store_blob_path(s, digest);
	return access(p, F_OK) == 0;
}

int img_store_lock(struct mk_image_store *s, const char *name, int op, struct mk_error **err)
{
	_cleanup_free_ char *p = mk_strdup_printf("%s/locks/%s", s->dir, name);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return mk_error_errno(err, errno, "open lock '%s'", p);
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return mk_error_set(err, EWOULDBLOCK, "lock '%s' busy", p);
		return mk_error_errno(err, e, "lock '%s'", p);
	}
	return fd;
}

/* ---- blob writer ---- */

int img_blob_writer_open(struct mk_image_store *s, int64_t limit, struct blob_writer *w,
		     struct mk_error **err)
{
	memset(w, 0, sizeof(*w));
	w->tmp_path = mk_strdup_printf("%s/tmp/blob-XXXXXX", s->dir);
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		int e = errno;
		free(w->tmp_path);
		w->tmp_path = NULL;
		return mk_error_errno(err, e, "create temporary blob in '%s/tmp'", s->dir);
	}
	if (img_sha256_init(&w->hash) < 0) {
		img_blob_writer_abort(w);
		return mk_error_set(err, EIO, "sha256 unavailable");
	}
	w->limit = limit;
	return 0;
}

int img_blob_writer_write(struct blob_writer *w, const void *data, size_t len)
{
	size_t off = 0;
	if (w->failed)
		return -1;
	if (w->limit >= 0 && w->written + (int64_t)len > w->limit) {
		w->failed = E2BIG;
		return -1;
	}
	while (off < len) {
		ssize_t n = write(w->fd, (const char *)data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->failed = errno;
			return -1;
		}
		off += (size_t)n;
	}
	img_sha256_update(&w->hash, data, len);
	w->written += (int64_t)len;
	return 0;
}

void img_blob_writer_abort(struct blob_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	w->tmp_path = NULL;
	img_sha256_abort(&w->hash);
}

static int commit_rename(struct mk_image_store *s, struct blob_writer *w, const char *digest,
			 struct mk_error **err)
{
	_cleanup_free_ char *dest = img_store_blob_path(s, digest);

	if (fdatasync(w->fd) < 0 || fchmod(w->fd, 0644) < 0 || rename(w->tmp_path, dest) < 0) {
		int e = errno;
		img_blob_writer_abort(w);
		return mk_error_errno(err, e, "store blob %s", digest);
	}
	close(w->fd);
	w->fd = -1;
	free(w->tmp_path);
	w->tmp_path = NULL;
	return 0;
}

static int writer_failed(struct blob_writer *w, const char *what, struct mk_error **err)
{
	int e = w->failed;
	img_blob_writer_abort(w);
	if (e == E2BIG)
		return mk_error_set(err, E2BIG, "blob %s is larger than expected", what);
	return mk_error_errno(err, e, "write blob %s", what);
}

int img_blob_writer_commit(struct mk_image_store *s, struct blob_writer *w, const char *digest,
		       int64_t size, struct mk_error **err)
{
	char got[72];

	if (w->failed)
		return writer_failed(w, digest, err);
	img_sha256_final(&w->hash, got);
	if (strcmp(got, digest) != 0) {
		img_blob_writer_abort(w);
		return mk_error_set(err, EILSEQ, "blob digest mismatch: got %s, want %s", got, digest);
	}
	if (size >= 0 && w->written != size) {
		img_blob_writer_abort(w);
		return mk_error_set(err, EILSEQ, "blob %s size mismatch: got %lld, want %lld", digest,
				    (long long)w->written, (long long)size);
	}
	return commit_rename(s, w, digest, err);
}

int img_blob_writer_finish(struct mk_image_store *s, struct blob_writer *w, char out[72],
		       struct mk_error **err)
{
	if (w->failed)
		return writer_failed(w, "being imported", err);
	img_sha256_final(&w->hash, out);
	if (img_store_blob_exists(s, out)) {
		img_blob_writer_abort(w);
		return 0;
	}
	return commit_rename(s, w, out, err);
}

int img_store_blob_put_bytes(struct mk_image_store *s, const void *data, size_t len, char out[72],
			 struct mk_error **err)
{
	struct blob_writer w;
	mk_image_digest_bytes(data, len, out);
	if (img_store_blob_exists(s, out))
		return 0;
	if (img_blob_writer_open(s, -1, &w, err) < 0)
		return -1;
	img_blob_writer_write(&w, data, len);
	return img_blob_writer_commit(s, &w, out, (int64_t)len, err);
}

int img_store_blob_read(struct mk_image_store *s, const char *digest, size_t max, char **ret,
		    size_t *ret_len, struct mk_error **err)
{
	_cleanup_free_ char *p = img_store_blob_path(s, digest);
	_cleanup_free_ char *data = NULL;
	struct stat st;
	size_t len;
	char got[72];

	if (stat(p, &st) < 0)
		return mk_error_errno(err, errno, "blob %s", digest);
	if ((size_t)st.st_size > max)
		return mk_error_set(err, E2BIG, "blob %s too large (%lld bytes)", digest,
				    (long long)st.st_size);
	if (mk_fs_read_file(p, &data, &len, err) < 0)
		return -1;
	mk_image_digest_bytes(data, len, got);
	if (strcmp(got, digest))
		return mk_error_set(err, EILSEQ, "blob %s is corrupted in the store (sha256 %s)", digest,
				    got);
	*ret = TAKE_PTR(data);
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* ---- refs index ---- */

static int refs_load(struct mk_image_store *s, cJSON **ret, struct mk_error **err)
{
	_cleanup_free_ char *p = mk_strdup_printf("%s/refs.json", s->dir);
	_cleanup_free_ char *data = NULL;
	size_t len;
	cJSON *doc;

	if (access(p, F_OK) < 0) {
		doc = cJSON_CreateObject();
	} else {
		if (mk_fs_read_file(p, &data, &len, err) < 0)
			return -1;
		doc = cJSON_ParseWithLength(data, len);
		if (!cJSON_IsObject(doc)) {
			cJSON_Delete(doc);
			return mk_error_set(err, EINVAL, "'%s' is not a JSON object", p);
		}
	}
	mk_json_ensure_object(doc, "images");
	mk_json_ensure_object(doc, "imported");
	*ret = doc;
	return 0;
}

static int refs_save(struct mk_image_store *s, cJSON *doc, struct mk_error **err)
{
	_cleanup_free_ char *p = mk_strdup_printf("%s/refs.json", s->dir);
	_cleanup_cjson_str_ char *text = cJSON_Print(doc);
	return mk_fs_write_file(p, text, strlen(text), 0600, err);
}

/* Applies fn to the refs document under the refs lock, saving when fn returns 1. */
static int refs_update(struct mk_image_store *s, int (*fn)(cJSON *doc, void *ctx, struct mk_error **),
		       void *ctx, struct mk_error **err)
{
	_cleanup_close_ int lk = img_store_lock(s, "refs.lock", LOCK_EX, err);
	_cleanup_cjson_ cJSON *doc = NULL;
	int r;

	if (lk < 0 || refs_load(s, &doc, err) < 0)
		return -1;
	r = fn(doc, ctx, err);
	if (r == 1)
		r = refs_save(s, doc, err);
	return r;
}

static int refs_read(struct mk_image_store *s, cJSON **ret, struct mk_error **err)
{
	_cleanup_close_ int lk = img_store_lock(s, "refs.lock", LOCK_SH, err);
	if (lk < 0)
		return -1;
	return refs_load(s, ret, err);
}

struct set_ctx {
	const char *name;
	cJSON *record;
};

static int set_record(cJSON *doc, void *ctx, struct mk_error **err)
{
	struct set_ctx *c = ctx;
	mk_json_set(cJSON_GetObjectItemCaseSensitive(doc, "images"), c->name, c->record);
	c->record = NULL;
	return 1;
}

/* ---- ingest ---- */

static int ensure_blob(struct mk_image_store *s, const char *digest, int64_t size, blob_fetch_fn fetch,
		       void *ctx, struct mk_error **err)
{
	struct blob_writer w;
	if (img_store_blob_exists(s, digest))
		return 0;
	if (!fetch)
		return mk_error_set(err, ENOENT, "blob %s missing", digest);
	if (img_blob_writer_open(s, size, &w, err) < 0)
		return -1;
	if (fetch(ctx, digest, size, &w, err) < 0) {
		img_blob_writer_abort(&w);
		return -1;
	}
	return img_blob_writer_commit(s, &w, digest, size, err);
}

static int ensure_layer(struct mk_image_store *s, const char *blob_digest, const char *diff_id,
			struct mk_error **err)
{
	_cleanup_free_ char *dest = img_store_layer_path(s, diff_id);
	_cleanup_free_ char *blob = img_store_blob_path(s, blob_digest);
	_cleanup_free_ char *tmp = mk_strdup_printf("%s/tmp/layer-XXXXXX", s->dir);
	_cleanup_free_ char *unpacked = NULL;
	int r = 0;

	if (access(dest, F_OK) == 0)
		return 0;
	if (!mkdtemp(tmp))
		return mk_error_errno(err, errno, "mkdtemp '%s'", tmp);
	unpacked = mk_strdup_printf("%s/l", tmp);
	if (mk_image_layer_unpack(blob, unpacked, diff_id, NULL, err) < 0) {
		r = -1;
	} else if (rename(unpacked, dest) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
		/* EEXIST/ENOTEMPTY: a concurrent unpack of the same layer won; it is identical */
		r = mk_error_errno(err, errno, "rename layer into '%s'", dest);
	}
	img_remove_tree(tmp);
	return r;
}

/* A schema 2 image manifest (Docker's or OCI's) with a config and layers. */
static int manifest_check(const cJSON *m, const char **ret_cfg_digest, const cJSON **ret_layers,
			  struct mk_error **err)
{
	const char *mt, *cfg_digest;
	const cJSON *layers;

	if (!cJSON_IsObject(m))
		return mk_error_set(err, EINVAL, "image manifest is not a JSON object");
	mt = mk_json_get_string(m, "mediaType");
	if (mt && mk_image_media_type_kind(mt) != MK_IMAGE_MT_MANIFEST)
		return mk_error_set(err, EINVAL, "unsupported manifest media type '%s'", mt);
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "schemaVersion")) ||
	    cJSON_GetObjectItemCaseSensitive(m, "schemaVersion")->valueint != 2)
		return mk_error_set(err, EINVAL, "unsupported manifest schema version (want 2)");
	cfg_digest = mk_json_get_string(m, "config.digest");
	layers = cJSON_GetObjectItemCaseSensitive(m, "layers");
	if (!mk_image_digest_valid(cfg_digest) || !cJSON_IsArray(layers))
		return mk_error_set(err, EINVAL, "image manifest lacks config or layers");
	*ret_cfg_digest = cfg_digest;
	*ret_layers = layers;
	return 0;
}

/* The config blob (fetched when missing, bounded) parsed into *ret_cfg (owned,
 * also on failure), with as many diff ids as the manifest has layers. *total
 * grows by its size. */
static int ingest_config(struct mk_image_store *s, const cJSON *m, const char *cfg_digest,
			 blob_fetch_fn fetch, void *ctx, struct mk_image_config **ret_cfg,
			 int64_t *total, struct mk_error **err)
{
	const cJSON *sz = mk_json_get(m, "config.size");
	int64_t size = cJSON_IsNumber(sz) ? (int64_t)sz->valuedouble : -1;
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(m, "layers");
	_cleanup_free_ char *config = NULL;
	size_t ncfg, i;

	if (size > MK_IMAGE_MAX_CONFIG)
		return mk_error_set(err, E2BIG, "image config too large");
	if (ensure_blob(s, cfg_digest, size, fetch, ctx, err) < 0)
		return mk_error_wrap(err, "config %s", cfg_digest);
	*total += size > 0 ? size : 0;
	if (img_store_blob_read(s, cfg_digest, MK_IMAGE_MAX_CONFIG, &config, &ncfg, err) < 0 ||
	    mk_image_config_parse(config, ncfg, ret_cfg, err) < 0)
		return -1;
	for (i = 0; (*ret_cfg)->diff_ids[i]; i++)
		;
	if (i != (size_t)cJSON_GetArraySize(layers))
		return mk_error_set(err, EINVAL, "manifest has %d layers but config has %zu diff ids",
				    cJSON_GetArraySize(layers), i);
	return 0;
}

/* Every layer fetched and unpacked (unless its diff id is unpacked already),
 * listed in record's "layers" and "diffIds"; *total grows by their sizes. */
static int ingest_layers(struct mk_image_store *s, const cJSON *layers,
			 const struct mk_image_config *cfg, blob_fetch_fn fetch, void *ctx,
			 cJSON *record, int64_t *total, struct mk_error **err)
{
	cJSON *blobs = cJSON_AddArrayToObject(record, "layers");
	cJSON *diffs = cJSON_AddArrayToObject(record, "diffIds");
	const cJSON *l;
	size_t i = 0;

	cJSON_ArrayForEach(l, layers)
	{
		const char *d = mk_json_get_string(l, "digest");
		const char *lmt = mk_json_get_string(l, "mediaType");
		const cJSON *sz = cJSON_GetObjectItemCaseSensitive(l, "size");
		int64_t size = cJSON_IsNumber(sz) ? (int64_t)sz->valuedouble : -1;
		const char *diff_id = cfg->diff_ids[i++];
		_cleanup_free_ char *lpath = img_store_layer_path(s, diff_id);

		if (!mk_image_digest_valid(d))
			return mk_error_set(err, EINVAL, "layer %zu has an invalid digest", i - 1);
		if (lmt && mk_image_media_type_kind(lmt) != MK_IMAGE_MT_LAYER)
			return mk_error_set(err, EINVAL, "layer %s has unsupported media type '%s'", d,
					    lmt);
		*total += size > 0 ? size : 0;
		cJSON_AddItemToArray(blobs, cJSON_CreateString(d));
		cJSON_AddItemToArray(diffs, cJSON_CreateString(diff_id));
		if (access(lpath, F_OK) == 0)
			continue; /* already unpacked, possibly from another compression */
		/* one fetch and unpack of a layer at a time: concurrent pulls of the same
		 * image (pods starting together, other processes) wait for the first one
		 * and find the layer unpacked */
		_cleanup_free_ char *lname = mk_strdup_printf("layer-%s.lock", diff_id);
		for (char *c = lname; *c; c++)
			if (*c == ':' || *c == '/')
				*c = '-';
		_cleanup_close_ int lk = img_store_lock(s, lname, LOCK_EX, err);
		if (lk < 0)
			return -1;
		if (access(lpath, F_OK) == 0)
			continue;
		if (ensure_blob(s, d, size, fetch, ctx, err) < 0 || ensure_layer(s, d, diff_id, err) < 0)
			return mk_error_wrap(err, "layer %s", d);
	}
	return 0;
}

/* Stores the manifest itself and writes record (moved in) as name's. */
static int record_commit(struct mk_image_store *s, const char *name, const char *raw,
			 size_t raw_len, const char *cfg_digest, const char *index_digest,
			 cJSON *record, int64_t total, struct mk_error **err)
{
	struct set_ctx c = { name, record };
	char mdigest[72];

	if (img_store_blob_put_bytes(s, raw, raw_len, mdigest, err) < 0) {
		cJSON_Delete(record);
		return -1;
	}
	mk_json_set_string(record, "manifest", mdigest);
	mk_json_set_string(record, "config", cfg_digest);
	if (index_digest)
		mk_json_set_string(record, "index", index_digest);
	cJSON_AddNumberToObject(record, "size", (double)total);
	if (refs_update(s, set_record, &c, err) < 0) {
		cJSON_Delete(c.record);
		return -1;
	}
	return 0;
}

int img_store_ingest_manifest(struct mk_image_store *s, const char *name, const char *raw,
			  size_t raw_len, const char *index_digest, blob_fetch_fn fetch, void *ctx,
			  char **ret_id, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *m = cJSON_ParseWithLength(raw, raw_len);
	_cleanup_close_ int gc = -1;
	struct mk_image_config *cfg = NULL;
	const cJSON *layers = NULL;
	const char *cfg_digest = NULL;
	cJSON *record = NULL;
	int64_t total = 0;
	int r = -1;

	if (manifest_check(m, &cfg_digest, &layers, err) < 0)
		return -1;
	/* shared: no garbage collection (which takes it exclusively) runs meanwhile */
	gc = img_store_lock(s, "gc.lock", LOCK_SH, err);
	if (gc < 0)
		return -1;
	if (ingest_config(s, m, cfg_digest, fetch, ctx, &cfg, &total, err) < 0)
		goto out;
	record = cJSON_CreateObject();
	if (ingest_layers(s, layers, cfg, fetch, ctx, record, &total, err) < 0)
		goto out;
	if (record_commit(s, name, raw, raw_len, cfg_digest, index_digest, TAKE_PTR(record), total,
			  err) < 0)
		goto out;
	if (ret_id)
		*ret_id = mk_strdup(cfg_digest);
	r = 0;
out:
	cJSON_Delete(record);
	mk_image_config_free(cfg);
	return r;
}

/* ---- queries ---- */

void mk_image_info_release(struct mk_image_info *i)
{
	if (!i)
		return;
	free(i->name);
	free(i->repository);
	free(i->tag);
	free(i->id);
	free(i->manifest_digest);
	memset(i, 0, sizeof(*i));
}

void mk_image_info_list_free(struct mk_image_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		mk_image_info_release(&list[i]);
	free(list);
}

static void info_from_record(const char *name, const cJSON *rec, struct mk_image_info *i)
{
	struct mk_image_ref r;
	const cJSON *sz = cJSON_GetObjectItemCaseSensitive(rec, "size");

	memset(i, 0, sizeof(*i));
	i->name = mk_strdup(name);
	if (mk_image_ref_parse(name, &r, NULL) == 0) {
		i->repository = mk_strdup_printf("%s/%s", r.domain, r.path);
		i->tag = mk_strdup(r.tag);
		mk_image_ref_release(&r);
	} else {
		i->repository = mk_strdup(name);
	}
	i->id = mk_strdup(mk_json_get_string(rec, "config"));
	i->manifest_digest = mk_strdup(mk_json_get_string(rec, "manifest"));
	i->size = cJSON_IsNumber(sz) ? (int64_t)sz->valuedouble : 0;
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct mk_image_info *)a)->name, ((const struct mk_image_info *)b)->name);
}

int mk_image_list(struct mk_image_store *s, struct mk_image_info **ret, size_t *ret_n,
		  struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = NULL;
	const cJSON *images, *it;
	struct mk_image_info *list;
	size_t n = 0;

	if (refs_read(s, &doc, err) < 0)
		return -1;
	images = cJSON_GetObjectItemCaseSensitive(doc, "images");
	list = mk_malloc0(sizeof(*list) * ((size_t)cJSON_GetArraySize(images) + 1));
	cJSON_ArrayForEach(it, images) info_from_record(it->string, it, &list[n++]);
	qsort(list, n, sizeof(*list), cmp_info);
	*ret = list;
	*ret_n = n;
	return 0;
}

/* true if ref (maybe "sha256:"-prefixed hex, >= 6 digits) prefixes digest */
static int id_matches(const char *ref, const char *digest)
{
	const char *hex = mk_str_has_prefix(ref, "sha256:") ? ref + 7 : ref;
	size_t n = strlen(hex);
	if (!digest || n < 6 || n > 64 || strspn(hex, "0123456789abcdef") != n)
		return 0;
	return !strncmp(digest + 7, hex, n);
}

/* Finds records for ref: the name, or every name whose ID/manifest matches.
 * Returns a new array (borrowed items) of matching record items. */
static int find_records(cJSON *doc, const char *ref, const cJSON ***ret, size_t *ret_n,
			struct mk_error **err)
{
	const cJSON *images = cJSON_GetObjectItemCaseSensitive(doc, "images"), *it;
	_cleanup_free_ char *name = mk_image_ref_normalize(ref, NULL);
	const cJSON **found = mk_malloc0(sizeof(*found) * ((size_t)cJSON_GetArraySize(images) + 1));
	const char *id = NULL;
	size_t n = 0;

	if (name && (it = cJSON_GetObjectItemCaseSensitive(images, name))) {
		found[n++] = it;
	} else {
		cJSON_ArrayForEach(it, images)
		{
			const char *cfg = mk_json_get_string(it, "config");
			if (!id_matches(ref, cfg) && !id_matches(ref, mk_json_get_string(it, "manifest")))
				continue;
			if (id && strcmp(id, cfg)) {
				free(found);
				return mk_error_set(err, EINVAL, "image ID prefix '%s' is ambiguous", ref);
			}
			id = cfg;
			found[n++] = it;
		}
	}
	if (!n) {
		free(found);
		return mk_error_set(err, ENOENT, "image '%s' not found", ref);
	}
	*ret = found;
	*ret_n = n;
	return 0;
}

/* The record ref names (the first of those a short ID prefix matches): *ret_doc
 * the owned refs document, *ret_rec borrowed from it. */
static int record_get(struct mk_image_store *s, const char *ref, cJSON **ret_doc,
		      const cJSON **ret_rec, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = NULL;
	_cleanup_free_ const cJSON **found = NULL;
	size_t n;

	if (refs_read(s, &doc, err) < 0 || find_records(doc, ref, &found, &n, err) < 0)
		return -1;
	*ret_rec = found[0];
	*ret_doc = TAKE_PTR(doc);
	return 0;
}

int mk_image_get(struct mk_image_store *s, const char *ref, struct mk_image_info *ret,
		 struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = NULL;
	const cJSON *rec;

	if (record_get(s, ref, &doc, &rec, err) < 0)
		return -1;
	info_from_record(rec->string, rec, ret);
	return 0;
}

/* borrowed record copy for mount: diff ids top last */
int img_store_image_layers(struct mk_image_store *s, const char *ref, char ***ret_diff_ids,
		       struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = NULL;
	const cJSON *rec;

	if (record_get(s, ref, &doc, &rec, err) < 0)
		return -1;
	*ret_diff_ids = img_json_strv(cJSON_GetObjectItemCaseSensitive(rec, "diffIds"));
	if (!*ret_diff_ids)
		return mk_error_set(err, EINVAL, "image '%s' has no layers recorded", ref);
	return 0;
}

int mk_image_config_get(struct mk_image_store *s, const char *ref, struct mk_image_config **ret,
			struct mk_error **err)
{
	struct mk_image_info info;
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	if (mk_image_get(s, ref, &info, err) < 0)
		return -1;
	r = img_store_blob_read(s, info.id, MK_IMAGE_MAX_CONFIG, &data, &len, err);
	if (r == 0)
		r = mk_image_config_parse(data, len, ret, err);
	mk_image_info_release(&info);
	return r;
}

/* ---- removal and garbage collection ---- */

static int remove_records(cJSON *doc, void *ctx, struct mk_error **err)
{
	const char *ref = ctx;
	_cleanup_free_ const cJSON **found = NULL;
	cJSON *images = cJSON_GetObjectItemCaseSensitive(doc, "images");
	size_t n;

	if (find_records(doc, ref, &found, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(images, found[i]->string);
	return 1;
}

static int in_set(const cJSON *set, const char *hex)
{
	return cJSON_GetObjectItemCaseSensitive(set, hex) != NULL;
}

static void sweep(const char *dir, const cJSON *keep)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || in_set(keep, de->d_name))
			continue;
		img_remove_tree_at(dirfd(d), de->d_name);
	}
	closedir(d);
}

static void gc(struct mk_image_store *s)
{
	_cleanup_close_ int lk = img_store_lock(s, "gc.lock", LOCK_EX | LOCK_NB, NULL);
	_cleanup_cjson_ cJSON *doc = NULL, *blobs = NULL, *layers = NULL;
	const cJSON *it, *x;
	_cleanup_free_ char *bdir = NULL, *ldir = NULL, *tdir = NULL;

	/* busy: a pull or import is in progress; the next removal collects */
	if (lk < 0 || refs_read(s, &doc, NULL) < 0)
		return;
	blobs = cJSON_CreateObject();
	layers = cJSON_CreateObject();
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "images"))
	{
		static const char *keys[] = { "manifest", "config", "index" };
		for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
			const char *d = mk_json_get_string(it, keys[i]);
			if (mk_image_digest_valid(d) && !in_set(blobs, d + 7))
				cJSON_AddTrueToObject(blobs, d + 7);
		}
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(it, "layers"))
			if (mk_image_digest_valid(x->valuestring) && !in_set(blobs, x->valuestring + 7))
				cJSON_AddTrueToObject(blobs, x->valuestring + 7);
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(it, "diffIds"))
			if (mk_image_digest_valid(x->valuestring) && !in_set(layers, x->valuestring + 7))
				cJSON_AddTrueToObject(layers, x->valuestring + 7);
	}
	bdir = mk_strdup_printf("%s/blobs/sha256", s->dir);
	ldir = mk_strdup_printf("%s/layers/sha256", s->dir);
	tdir = mk_strdup_printf("%s/tmp", s->dir);
	sweep(bdir, blobs);
	sweep(ldir, layers);
	sweep(tdir, NULL); /* nothing is in progress while we hold the gc lock */
}

int mk_image_remove(struct mk_image_store *s, const char *ref, struct mk_error **err)
{
	if (refs_update(s, remove_records, (void *)ref, err) < 0)
		return -1;
	gc(s);
	return 0;
}

/* ---- import bookkeeping for mk_image_import_dir ---- */

struct imported_ctx {
	const char *path, *stamp;
	int check; /* 1: only compare */
	int found;
};

static int imported_fn(cJSON *doc, void *ctx, struct mk_error **err)
{
	struct imported_ctx *c = ctx;
	cJSON *imp = cJSON_GetObjectItemCaseSensitive(doc, "imported");
	/* keys are paths with dots: no mk_json_get (it walks dotted paths) */
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(imp, c->path);
	const char *have = cJSON_IsString(h) ? h->valuestring : NULL;
	if (c->check) {
		c->found = have && !strcmp(have, c->stamp);
		return 0;
	}
	mk_json_set_string(imp, c->path, c->stamp);
	return 1;
}

int img_store_imported(struct mk_image_store *s, const char *path, const char *stamp, int check,
		   struct mk_error **err)
{
	struct imported_ctx c = { path, stamp, check, 0 };
	if (refs_update(s, imported_fn, &c, err) < 0)
		return -1;
	return c.found;
}
