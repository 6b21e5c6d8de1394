/* pkg/image private helpers shared by its files. */
#ifndef MINIK8S_IMAGE_INTERNAL_H
#define MINIK8S_IMAGE_INTERNAL_H

#include <gnutls/crypto.h>
#include "minik8s/image.h"

/* limits on what a registry or an archive may make us hold in memory */
#define MK_IMAGE_MAX_MANIFEST (4 << 20)
#define MK_IMAGE_MAX_CONFIG (16 << 20)

struct mk_image_store {
	char *dir;
};

/* ---- streaming sha256 ---- */
struct sha256 {
	gnutls_hash_hd_t h;
};
int img_sha256_init(struct sha256 *s);
void img_sha256_update(struct sha256 *s, const void *data, size_t len);
/* finishes into "sha256:<hex>" and releases */
void img_sha256_final(struct sha256 *s, char out[72]);
void img_sha256_abort(struct sha256 *s);

/* ---- blob writer: a temp file in DIR/tmp, hashed while written, renamed into
 * blobs/sha256/ only when the digest matches ---- */
struct blob_writer {
	int fd;
	char *tmp_path;
	struct sha256 hash;
	int64_t written, limit; /* limit < 0: none */
	int failed;
};
int img_blob_writer_open(struct mk_image_store *s, int64_t limit, struct blob_writer *w,
		     struct mk_error **err);
int img_blob_writer_write(struct blob_writer *w, const void *data, size_t len);
/* verifies digest (and size when size >= 0) and renames into place */
int img_blob_writer_commit(struct mk_image_store *s, struct blob_writer *w, const char *digest,
		       int64_t size, struct mk_error **err);
/* stores under the computed digest (written to out) */
int img_blob_writer_finish(struct mk_image_store *s, struct blob_writer *w, char out[72],
		       struct mk_error **err);
void img_blob_writer_abort(struct blob_writer *w);

/* path of a blob / unpacked layer (owned) */
char *img_store_blob_path(struct mk_image_store *s, const char *digest);
char *img_store_layer_path(struct mk_image_store *s, const char *diff_id);
int img_store_blob_exists(struct mk_image_store *s, const char *digest);
/* reads a blob fully, verifying its digest again; max bytes */
int img_store_blob_read(struct mk_image_store *s, const char *digest, size_t max, char **ret,
		    size_t *ret_len, struct mk_error **err);
/* stores bytes as a blob under their own digest (out[72] receives it) */
int img_store_blob_put_bytes(struct mk_image_store *s, const void *data, size_t len, char out[72],
			 struct mk_error **err);

/* flock helpers: returns fd (>= 0) holding the lock */
int img_store_lock(struct mk_image_store *s, const char *name, int op, struct mk_error **err);

/* ---- ingest: the common path of pull and import ---- */
/* Fetches one blob into w (the store verifies and commits it). */
typedef int (*blob_fetch_fn)(void *ctx, const char *digest, int64_t size, struct blob_writer *w,
			     struct mk_error **err);
/* Stores the image manifest (raw bytes, digest already verified by the caller
 * or computed here), fetching config and layers missing from the store,
 * unpacking new layers, then records name -> image. ret_id (owned) optional. */
int img_store_ingest_manifest(struct mk_image_store *s, const char *name, const char *raw,
			  size_t raw_len, const char *index_digest, blob_fetch_fn fetch,
			  void *ctx, char **ret_id, struct mk_error **err);

/* diff ids (bottom first, owned strv) of a stored image */
int img_store_image_layers(struct mk_image_store *s, const char *ref, char ***ret_diff_ids,
		       struct mk_error **err);
/* import_dir bookkeeping: check=1 returns 1 if path was imported with stamp;
 * check=0 records it */
int img_store_imported(struct mk_image_store *s, const char *path, const char *stamp, int check,
		   struct mk_error **err);

/* ---- JSON helpers ---- */
char **img_json_strv(const cJSON *arr); /* array of strings -> owned strv, NULL if not array */
char *img_platform_normalize(const char *p);

/* ---- safe tar extraction (unpack.c) ---- */
/* flags for img_extract_archive */
#define EXTRACT_OVERLAY_WHITEOUTS 1 /* convert .wh. entries */
#define EXTRACT_GENERIC 2           /* not a layer: regular files, dirs, symlinks only, no owners */
int img_extract_archive(const char *archive_path, int root_fd, int flags,
		    char ret_diff_id[72], struct mk_error **err);
/* open a path inside root (RESOLVE_IN_ROOT); flags for openat2 */
int img_open_in_root(int root_fd, const char *path, int flags, mode_t mode);
/* rm -rf relative to dirfd */
int img_remove_tree_at(int dirfd, const char *name);
int img_remove_tree(const char *path);

/* ---- YAML -> cJSON (yaml.c) ---- */
int img_yaml_to_json(const char *text, size_t len, cJSON **ret, struct mk_error **err);

#endif
