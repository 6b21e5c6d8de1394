/* minik8s image: a content-addressed image store, Registry HTTP API v2 pulls,
 * OCI-layout / docker-save imports, safe layer unpacking and an overlayfs rootfs
 * per container.
 *
 * Store layout (DIR is usually DATA/images):
 *   DIR/blobs/sha256/<hex>          manifests, configs, layer blobs (verified)
 *   DIR/layers/sha256/<diffid>/     one unpacked layer, shared by every image that
 *                                   uses it; whiteouts in overlayfs form
 *   DIR/refs.json                   name -> image record, written atomically
 *   DIR/locks/                      flock(2) files: refs, gc, one per pulled name
 *   DIR/tmp/                        downloads and unpacks in progress
 *
 * Thread-safety: a store handle may be shared by threads; every operation takes
 * the file locks it needs, so several processes may also share one DIR. */
#ifndef MINIK8S_IMAGE_H
#define MINIK8S_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "minik8s/util.h"

/* ---- media types ---------------------------------------------------------- */

#define MK_IMAGE_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MK_IMAGE_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MK_IMAGE_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MK_IMAGE_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MK_IMAGE_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MK_IMAGE_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

enum mk_image_mt_kind {
	MK_IMAGE_MT_UNKNOWN = 0,
	MK_IMAGE_MT_INDEX,    /* OCI index or Docker manifest list */
	MK_IMAGE_MT_MANIFEST, /* OCI or Docker v2 schema 2 image manifest */
	MK_IMAGE_MT_CONFIG,
	MK_IMAGE_MT_LAYER, /* any tar layer: plain, gzip or zstd, OCI or Docker */
};
/* Classifies a media type string (NULL -> UNKNOWN). Parameters after ';' are ignored. */
enum mk_image_mt_kind mk_image_media_type_kind(const char *media_type);

/* ---- references ------------------------------------------------------------ */

/* A parsed image reference, normalised like Docker: "nginx" is
 * domain "docker.io", path "library/nginx", tag "latest". All strings owned. */
struct mk_image_ref {
	char *domain; /* "docker.io", "127.0.0.1:5000", ... */
	char *path;   /* "library/nginx" */
	char *tag;    /* NULL when only a digest was given */
	char *digest; /* "sha256:<64 hex>" or NULL */
};
/* Parses and normalises s into *ret (embedded; release with _release). A missing
 * tag and digest means tag "latest". Errors: EINVAL with a message. */
int mk_image_ref_parse(const char *s, struct mk_image_ref *ret, struct mk_error **err);
void mk_image_ref_release(struct mk_image_ref *r);
/* "domain/path:tag", "domain/path@digest" or "domain/path:tag@digest". Owned. */
char *mk_image_ref_format(const struct mk_image_ref *r);
/* Normalised name string for s (as _format of _parse); NULL with *err on error. Owned. */
char *mk_image_ref_normalize(const char *s, struct mk_error **err);

/* ---- digests --------------------------------------------------------------- */

/* 1 if s is "sha256:" followed by exactly 64 lowercase hex digits. */
int mk_image_digest_valid(const char *s);
/* sha256 of data as "sha256:<hex>" into out[72]. */
void mk_image_digest_bytes(const void *data, size_t len, char out[72]);

/* ---- manifests and configs ------------------------------------------------- */

/* Platform of a node, e.g. "linux/amd64", "linux/arm/v7". Returns the platform
 * of the running host into out (>= 32 bytes). */
void mk_image_platform_host(char *out, size_t size);

/* From an index/list document (raw JSON), the digest of the manifest for
 * platform ("os/arch[/variant]"; NULL = host). *ret_digest and *ret_media_type
 * owned. ENOENT when no entry matches. */
int mk_image_index_select(const char *json, size_t len, const char *platform, char **ret_digest,
			  char **ret_media_type, struct mk_error **err);

/* The runtime-relevant part of an image config, parsed. Arrays NULL-terminated
 * (NULL when absent); everything owned by the struct. */
struct mk_image_config {
	char **entrypoint;
	char **cmd;
	char **env;           /* "KEY=value" */
	char *working_dir;    /* NULL if unset */
	char *user;           /* NULL if unset */
	char **exposed_ports; /* "80/tcp" */
	char *os, *architecture;
	char **diff_ids; /* rootfs.diff_ids, bottom first */
};
/* Parses a config blob. EINVAL when it is not JSON or lacks rootfs.diff_ids. */
int mk_image_config_parse(const char *json, size_t len, struct mk_image_config **ret,
			  struct mk_error **err);
void mk_image_config_free(struct mk_image_config *c);

/* ---- whiteouts --------------------------------------------------------------- */

enum mk_image_whiteout {
	MK_IMAGE_WHITEOUT_NONE = 0,
	MK_IMAGE_WHITEOUT_FILE,   /* DIR/.wh.NAME: NAME deleted from lower layers */
	MK_IMAGE_WHITEOUT_OPAQUE, /* DIR/.wh..wh..opq: DIR's lower contents hidden */
	MK_IMAGE_WHITEOUT_META,   /* other .wh..wh.* (aufs metadata): ignored */
};
/* Classifies a layer path ("a/b/.wh.c"). For FILE, *ret_target (owned) is the
 * deleted path ("a/b/c"); for OPAQUE, the directory ("a/b", "" for the root).
 * ret_target may be NULL. */
enum mk_image_whiteout mk_image_whiteout_classify(const char *path, char **ret_target);

/* ---- layers ------------------------------------------------------------------ */

/* Extracts the layer blob at layer_path (tar, tar+gzip or tar+zstd) into the
 * directory dest (created; must not exist), never writing outside it: every
 * path is resolved with openat2(RESOLVE_IN_ROOT), ".." names are refused,
 * numeric uid/gid, modes, mtimes and xattrs kept. Whiteouts become overlayfs
 * whiteouts (char device 0/0 for .wh.NAME, trusted.overlay.opaque=y on the
 * directory for .wh..wh..opq), so stacking layer dirs as overlay lowerdirs
 * honours them across layers. If expected_diff_id is not NULL the sha256 of
 * the uncompressed stream must match (EILSEQ otherwise, dest removed).
 * ret_diff_id (may be NULL) gets the computed diff id. */
int mk_image_layer_unpack(const char *layer_path, const char *dest, const char *expected_diff_id,
			  char ret_diff_id[72], struct mk_error **err);

/* ---- the store ------------------------------------------------------------------ */

struct mk_image_store;

/* Opens (creating if needed) the store at dir. *ret owned; free with _free. */
int mk_image_store_open(const char *dir, struct mk_image_store **ret, struct mk_error **err);
void mk_image_store_free(struct mk_image_store *s);
/* The store's directory (borrowed). */
const char *mk_image_store_dir(const struct mk_image_store *s);

/* One image known by a name in the store. All strings owned. */
struct mk_image_info {
	char *name;       /* "docker.io/library/nginx:latest" or ".../nginx@sha256:..." */
	char *repository; /* "docker.io/library/nginx" */
	char *tag;        /* "latest", or NULL for digest-only names */
	char *id;         /* config digest "sha256:..." (Docker's image ID) */
	char *manifest_digest;
	int64_t size; /* sum of the compressed layer and config sizes, bytes */
};
void mk_image_info_release(struct mk_image_info *i);
void mk_image_info_list_free(struct mk_image_info *list, size_t n);

/* Every name in the store, sorted by name. *ret (owned) may be NULL when n == 0. */
int mk_image_list(struct mk_image_store *s, struct mk_image_info **ret, size_t *ret_n,
		  struct mk_error **err);
/* Looks ref up (a name, normalised first, or an image ID / manifest digest, or a
 * unique ID prefix of >= 6 hex digits). ENOENT when absent. *ret embedded. */
int mk_image_get(struct mk_image_store *s, const char *ref, struct mk_image_info *ret,
		 struct mk_error **err);
/* Removes the name ref (or every name of an image ID) and garbage-collects
 * blobs and layers no name uses any more. ENOENT when absent. The caller must
 * not remove images whose layers are mounted by running containers. */
int mk_image_remove(struct mk_image_store *s, const char *ref, struct mk_error **err);
/* The parsed config of a stored image (ref as for mk_image_get). *ret owned. */
int mk_image_config_get(struct mk_image_store *s, const char *ref, struct mk_image_config **ret,
			struct mk_error **err);

/* ---- pull --------------------------------------------------------------------------- */

/* Registry credentials (a pod's imagePullSecrets): basic auth for registry, a
 * host[:port] as written in a docker config's "auths" (an "https://" prefix and a
 * path are ignored; index.docker.io and registry-1.docker.io stand for docker.io). */
struct mk_image_credential {
	const char *registry;
	const char *username, *password;
};

struct mk_image_pull_opts {
	const char *platform;          /* "os/arch[/variant]"; NULL = host */
	const char *registries_config; /* registries.yaml path; NULL = none */
	long timeout_s;                /* per HTTP request (0 = 300 s) */
	/* used for a registry whose registries config has no auth; the first match wins */
	const struct mk_image_credential *creds;
	size_t n_creds;
};
/* Credentials from a docker config JSON document (the .dockerconfigjson of a
 * kubernetes.io/dockerconfigjson Secret: {"auths":{HOST:{"auth":base64(user:pass)}
 * or {"username","password"}}}; a legacy .dockercfg without "auths" too), appended to
 * *creds / *n (strings owned by the array: free with mk_image_credentials_free). */
int mk_image_credentials_parse(const char *json, size_t len, struct mk_image_credential **creds,
			       size_t *n, struct mk_error **err);
void mk_image_credentials_free(struct mk_image_credential *creds, size_t n);
/* Pulls ref from its registry (mirrors and plain-HTTP registries from the
 * registries config, anonymous bearer tokens or basic auth from it), verifies
 * every digest, unpacks new layers and records the name. Concurrent pulls of
 * one name wait for each other. *ret_id (owned, may be NULL) gets the image ID. */
int mk_image_pull(struct mk_image_store *s, const char *ref, const struct mk_image_pull_opts *opts,
		  char **ret_id, struct mk_error **err);

/* registries config (k3s-like registries.yaml, or the same document as JSON):
 *   mirrors:
 *     docker.io:
 *       endpoint: ["http://127.0.0.1:5000", "https://mirror.example"]
 *   configs:
 *     "127.0.0.1:5000":
 *       insecure: true            # plain HTTP
 *       tls: { insecure_skip_verify: true, ca_file: /path/ca.pem }
 *       auth: { username: u, password: p }
 * Loaded into a cJSON tree (owned) normalised to that shape. ENOENT if absent. */
int mk_image_registries_load(const char *path, cJSON **ret, struct mk_error **err);

/* ---- import ---------------------------------------------------------------------------- */

/* Imports an OCI image layout (directory or tar archive, optionally compressed)
 * or a docker-save archive. Names come from org.opencontainers.image.ref.name
 * (a bare tag "T" becomes default_repo:T when default_repo is given, else is
 * an error) or from RepoTags. *ret_names (owned, NULL-terminated, may be NULL)
 * lists the imported names. */
int mk_image_import(struct mk_image_store *s, const char *path, const char *default_repo,
		    const char *platform, char ***ret_names, struct mk_error **err);
/* Imports every *.tar, *.tar.gz, *.tgz, *.tar.zst file in dir that was not
 * imported before with the same size and mtime (remembered in the store).
 * A missing dir is not an error. *ret_count (may be NULL) = files imported.
 * Continues past a bad file; returns the first error after trying all. */
int mk_image_import_dir(struct mk_image_store *s, const char *dir, int *ret_count,
			struct mk_error **err);
/* Frees a NULL-terminated string array; accepts NULL. */

/* ---- rootfs ---------------------------------------------------------------------------- */

/* Mounts an overlayfs at container_dir/rootfs with the image's layers as
 * lowerdir (top first) and container_dir/upper, container_dir/work (created)
 * as upperdir/workdir. The image must be in the store. *ret_rootfs (owned, may
 * be NULL) gets the mount point path. Mounting twice is EBUSY. */
int mk_image_rootfs_mount(struct mk_image_store *s, const char *image_ref,
			  const char *container_dir, char **ret_rootfs, struct mk_error **err);
/* Unmounts container_dir/rootfs (lazily if busy); not mounted is fine. With
 * remove set, also deletes rootfs, upper and work. */
int mk_image_rootfs_unmount(const char *container_dir, int remove, struct mk_error **err);

/* ---- imagePullPolicy ---------------------------------------------------------------------- */

enum mk_image_pull_policy {
	MK_IMAGE_PULL_ALWAYS,
	MK_IMAGE_PULL_IF_NOT_PRESENT,
	MK_IMAGE_PULL_NEVER,
};
/* Parses "Always" / "IfNotPresent" / "Never"; NULL or "" gives the Kubernetes
 * default for image (Always when the tag is "latest" or absent and there is no
 * digest, IfNotPresent otherwise). EINVAL for anything else. */
int mk_image_pull_policy_parse(const char *s, const char *image, enum mk_image_pull_policy *ret,
			       struct mk_error **err);
/* Whether the policy requires a pull given whether the image is present. */
int mk_image_pull_policy_should_pull(enum mk_image_pull_policy p, int present);

/* Reasons for container status "waiting.reason", as the kubelet reports them. */
#define MK_IMAGE_REASON_INVALID_NAME "InvalidImageName"
#define MK_IMAGE_REASON_PULL_ERROR "ErrImagePull"
#define MK_IMAGE_REASON_NEVER_PULL "ErrImageNeverPull"

/* Makes image available according to policy: pulls when needed. On failure
 * returns -1, *ret_reason gets one of the MK_IMAGE_REASON_* (static) and *err a
 * message fit for the pod status ("Container image \"x\" is not present with
 * pull policy of Never", "failed to pull image \"x\": ..."). *ret_id (owned,
 * may be NULL) gets the image ID on success. */
int mk_image_ensure(struct mk_image_store *s, const char *image, enum mk_image_pull_policy policy,
		    const struct mk_image_pull_opts *opts, char **ret_id, const char **ret_reason,
		    struct mk_error **err);

#endif
