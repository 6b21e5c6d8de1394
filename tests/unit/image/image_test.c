/* Unit tests for pkg/image: references, media types, whiteouts, index
 * selection, configs, pull policy, registries config and safe layer unpacking
 * (layers built here with libarchive's writer). */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "minik8s/image.h"

static char tmp[64];

static void setup(void)
{
	strcpy(tmp, "/tmp/mk-image-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static void ref_is(const char *in, const char *domain, const char *path, const char *tag,
		   const char *digest)
{
	struct mk_image_ref r;
	struct mk_error *e = NULL;
	ck_assert_msg(mk_image_ref_parse(in, &r, &e) == 0, "%s: %s", in, e ? e->msg : "");
	ck_assert_str_eq(r.domain, domain);
	ck_assert_str_eq(r.path, path);
	if (tag)
		ck_assert_str_eq(r.tag, tag);
	else
		ck_assert_ptr_null(r.tag);
	if (digest)
		ck_assert_str_eq(r.digest, digest);
	else
		ck_assert_ptr_null(r.digest);
	mk_image_ref_release(&r);
}

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_ref_parse)
{
	ref_is("nginx", "docker.io", "library/nginx", "latest", NULL);
	ref_is("nginx:1.25", "docker.io", "library/nginx", "1.25", NULL);
	ref_is("library/nginx", "docker.io", "library/nginx", "latest", NULL);
	ref_is("bitnami/nginx:1", "docker.io", "bitnami/nginx", "1", NULL);
	ref_is("docker.io/nginx", "docker.io", "library/nginx", "latest", NULL);
	ref_is("index.docker.io/library/nginx", "docker.io", "library/nginx", "latest", NULL);
	ref_is("127.0.0.1:5000/x/y:tag", "127.0.0.1:5000", "x/y", "tag", NULL);
	ref_is("localhost/x", "localhost", "x", "latest", NULL);
	ref_is("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", NULL);
	ref_is("x@" D64, "docker.io", "library/x", NULL, D64);
	ref_is("q.io/a/b:t@" D64, "q.io", "a/b", "t", D64);
}
END_TEST

START_TEST(test_ref_invalid)
{
	static const char *bad[] = { "", "Nginx", "nginx:", "nginx:a/b", "x@sha256:1234",
				     "x@md5:0123", "a//b", "-a", "a:b:c", "nginx:-x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mk_image_ref r;
		struct mk_error *e = NULL;
		ck_assert_msg(mk_image_ref_parse(bad[i], &r, &e) < 0, "'%s' accepted", bad[i]);
		ck_assert_int_eq(e->code, EINVAL);
		mk_error_free(&e);
	}
}
END_TEST

START_TEST(test_ref_format)
{
	char *s = mk_image_ref_normalize("nginx", NULL);
	ck_assert_str_eq(s, "docker.io/library/nginx:latest");
	free(s);
	s = mk_image_ref_normalize("127.0.0.1:5000/x/y@" D64, NULL);
	ck_assert_str_eq(s, "127.0.0.1:5000/x/y@" D64);
	free(s);
	ck_assert(mk_image_digest_valid(D64));
	ck_assert(!mk_image_digest_valid("sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"));
}
END_TEST

START_TEST(test_media_types)
{
	ck_assert_int_eq(mk_image_media_type_kind(MK_IMAGE_MT_OCI_INDEX), MK_IMAGE_MT_INDEX);
	ck_assert_int_eq(mk_image_media_type_kind(MK_IMAGE_MT_DOCKER_LIST), MK_IMAGE_MT_INDEX);
	ck_assert_int_eq(mk_image_media_type_kind(MK_IMAGE_MT_OCI_MANIFEST), MK_IMAGE_MT_MANIFEST);
	ck_assert_int_eq(mk_image_media_type_kind(MK_IMAGE_MT_DOCKER_MANIFEST "; charset=utf-8"),
			 MK_IMAGE_MT_MANIFEST);
	ck_assert_int_eq(mk_image_media_type_kind(MK_IMAGE_MT_DOCKER_CONFIG), MK_IMAGE_MT_CONFIG);
	ck_assert_int_eq(mk_image_media_type_kind("application/vnd.oci.image.layer.v1.tar+gzip"),
			 MK_IMAGE_MT_LAYER);
	ck_assert_int_eq(mk_image_media_type_kind("application/vnd.oci.image.layer.v1.tar+zstd"),
			 MK_IMAGE_MT_LAYER);
	ck_assert_int_eq(mk_image_media_type_kind("application/vnd.oci.image.layer.v1.tar"),
			 MK_IMAGE_MT_LAYER);
	ck_assert_int_eq(mk_image_media_type_kind("application/vnd.docker.image.rootfs.diff.tar.gzip"),
			 MK_IMAGE_MT_LAYER);
	ck_assert_int_eq(mk_image_media_type_kind("application/vnd.oci.image.layer.v1.tar+bzip9"),
			 MK_IMAGE_MT_UNKNOWN);
	ck_assert_int_eq(mk_image_media_type_kind("application/vnd.docker.distribution.manifest.v1+prettyjws"),
			 MK_IMAGE_MT_UNKNOWN);
	ck_assert_int_eq(mk_image_media_type_kind("application/json"), MK_IMAGE_MT_UNKNOWN);
	ck_assert_int_eq(mk_image_media_type_kind(NULL), MK_IMAGE_MT_UNKNOWN);
}
END_TEST

START_TEST(test_whiteout_classify)
{
	char *t = NULL;
	ck_assert_int_eq(mk_image_whiteout_classify("a/b/.wh.c", &t), MK_IMAGE_WHITEOUT_FILE);
	ck_assert_str_eq(t, "a/b/c");
	free(t);
	ck_assert_int_eq(mk_image_whiteout_classify(".wh.top", &t), MK_IMAGE_WHITEOUT_FILE);
	ck_assert_str_eq(t, "top");
	free(t);
	ck_assert_int_eq(mk_image_whiteout_classify("d/.wh..wh..opq", &t), MK_IMAGE_WHITEOUT_OPAQUE);
	ck_assert_str_eq(t, "d");
	free(t);
	ck_assert_int_eq(mk_image_whiteout_classify(".wh..wh..opq", &t), MK_IMAGE_WHITEOUT_OPAQUE);
	ck_assert_str_eq(t, "");
	free(t);
	ck_assert_int_eq(mk_image_whiteout_classify(".wh..wh.plnk/123", NULL), MK_IMAGE_WHITEOUT_NONE);
	ck_assert_int_eq(mk_image_whiteout_classify("x/.wh..wh.aufs", NULL), MK_IMAGE_WHITEOUT_META);
	ck_assert_int_eq(mk_image_whiteout_classify("a/b.wh.c", NULL), MK_IMAGE_WHITEOUT_NONE);
	ck_assert_int_eq(mk_image_whiteout_classify("a/.wh.", NULL), MK_IMAGE_WHITEOUT_META);
}
END_TEST

static const char *index_json =
	"{\"schemaVersion\":2,\"manifests\":["
	"{\"mediaType\":\"" MK_IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"" MK_IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
	"{\"mediaType\":\"" MK_IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"sha256:3333333333333333333333333333333333333333333333333333333333333333\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
	"{\"mediaType\":\"" MK_IMAGE_MT_OCI_MANIFEST "\",\"digest\":\"sha256:4444444444444444444444444444444444444444444444444444444444444444\",\"size\":1,\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}";

START_TEST(test_index_select)
{
	char *d = NULL, *mt = NULL;
	struct mk_error *e = NULL;
	char host[32];

	ck_assert_int_eq(mk_image_index_select(index_json, strlen(index_json), "linux/amd64", &d, &mt, &e), 0);
	ck_assert_str_eq(d, "sha256:2222222222222222222222222222222222222222222222222222222222222222");
	ck_assert_str_eq(mt, MK_IMAGE_MT_OCI_MANIFEST);
	free(d), free(mt);
	ck_assert_int_eq(mk_image_index_select(index_json, strlen(index_json), "linux/arm64", &d, NULL, &e), 0);
	ck_assert_str_eq(d, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
	free(d);
	ck_assert_int_eq(mk_image_index_select(index_json, strlen(index_json), "linux/arm/v7", &d, NULL, &e), 0);
	ck_assert_str_eq(d, "sha256:3333333333333333333333333333333333333333333333333333333333333333");
	free(d);
	ck_assert_int_lt(mk_image_index_select(index_json, strlen(index_json), "linux/s390x", &d, NULL, &e), 0);
	ck_assert_int_eq(e->code, ENOENT);
	mk_error_free(&e);
	mk_image_platform_host(host, sizeof(host));
	ck_assert(strncmp(host, "linux/", 6) == 0);
	ck_assert_int_lt(mk_image_index_select("[", 1, NULL, &d, NULL, &e), 0);
	mk_error_free(&e);
}
END_TEST

START_TEST(test_config_parse)
{
	const char *j = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/ep\"],"
			"\"Cmd\":[\"a\",\"b\"],\"Env\":[\"A=1\"],\"WorkingDir\":\"/w\",\"User\":\"1000\","
			"\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}}},\"rootfs\":{\"type\":\"layers\","
			"\"diff_ids\":[\"" D64 "\"]}}";
	struct mk_image_config *c = NULL;
	struct mk_error *e = NULL;

	ck_assert_int_eq(mk_image_config_parse(j, strlen(j), &c, &e), 0);
	ck_assert_str_eq(c->entrypoint[0], "/ep");
	ck_assert_ptr_null(c->entrypoint[1]);
	ck_assert_str_eq(c->cmd[1], "b");
	ck_assert_str_eq(c->env[0], "A=1");
	ck_assert_str_eq(c->working_dir, "/w");
	ck_assert_str_eq(c->user, "1000");
	ck_assert_str_eq(c->exposed_ports[0], "80/tcp");
	ck_assert_str_eq(c->exposed_ports[1], "53/udp");
	ck_assert_str_eq(c->diff_ids[0], D64);
	ck_assert_str_eq(c->architecture, "amd64");
	mk_image_config_free(c);
	ck_assert_int_lt(mk_image_config_parse("{}", 2, &c, &e), 0);
	mk_error_free(&e);
}
END_TEST

START_TEST(test_pull_policy)
{
	enum mk_image_pull_policy p;
	struct mk_error *e = NULL;

	ck_assert_int_eq(mk_image_pull_policy_parse(NULL, "nginx", &p, &e), 0);
	ck_assert_int_eq(p, MK_IMAGE_PULL_ALWAYS);
	ck_assert_int_eq(mk_image_pull_policy_parse("", "nginx:latest", &p, &e), 0);
	ck_assert_int_eq(p, MK_IMAGE_PULL_ALWAYS);
	ck_assert_int_eq(mk_image_pull_policy_parse(NULL, "nginx:1.25", &p, &e), 0);
	ck_assert_int_eq(p, MK_IMAGE_PULL_IF_NOT_PRESENT);
	ck_assert_int_eq(mk_image_pull_policy_parse(NULL, "nginx@" D64, &p, &e), 0);
	ck_assert_int_eq(p, MK_IMAGE_PULL_IF_NOT_PRESENT);
	ck_assert_int_eq(mk_image_pull_policy_parse("Never", "nginx", &p, &e), 0);
	ck_assert_int_eq(p, MK_IMAGE_PULL_NEVER);
	ck_assert_int_lt(mk_image_pull_policy_parse("Sometimes", "nginx", &p, &e), 0);
	mk_error_free(&e);
	ck_assert(mk_image_pull_policy_should_pull(MK_IMAGE_PULL_ALWAYS, 1));
	ck_assert(mk_image_pull_policy_should_pull(MK_IMAGE_PULL_IF_NOT_PRESENT, 0));
	ck_assert(!mk_image_pull_policy_should_pull(MK_IMAGE_PULL_IF_NOT_PRESENT, 1));
	ck_assert(!mk_image_pull_policy_should_pull(MK_IMAGE_PULL_NEVER, 0));
}
END_TEST

START_TEST(test_ensure_reasons)
{
	struct mk_image_store *s = NULL;
	struct mk_error *e = NULL;
	const char *reason = NULL;
	char dir[128], cfg[128];
	struct mk_image_pull_opts o = { .timeout_s = 5 };
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/images", tmp);
	ck_assert_int_eq(mk_image_store_open(dir, &s, &e), 0);
	ck_assert_int_lt(mk_image_ensure(s, "busybox:1", MK_IMAGE_PULL_NEVER, NULL, NULL, &reason, &e), 0);
	ck_assert_str_eq(reason, MK_IMAGE_REASON_NEVER_PULL);
	ck_assert_str_eq(e->msg, "Container image \"busybox:1\" is not present with pull policy of Never");
	mk_error_free(&e);
	ck_assert_int_lt(mk_image_ensure(s, "Bad:Name", MK_IMAGE_PULL_ALWAYS, NULL, NULL, &reason, &e), 0);
	ck_assert_str_eq(reason, MK_IMAGE_REASON_INVALID_NAME);
	mk_error_free(&e);
	/* a plain-HTTP registry on a closed loopback port: the pull fails */
	snprintf(cfg, sizeof(cfg), "%s/registries.yaml", tmp);
	f = fopen(cfg, "w");
	fputs("configs:\n  \"127.0.0.1:1\":\n    insecure: true\n", f);
	fclose(f);
	o.registries_config = cfg;
	ck_assert_int_lt(mk_image_ensure(s, "127.0.0.1:1/x:1", MK_IMAGE_PULL_IF_NOT_PRESENT, &o, NULL,
					 &reason, &e), 0);
	ck_assert_str_eq(reason, MK_IMAGE_REASON_PULL_ERROR);
	ck_assert_msg(strstr(e->msg, "failed to pull image \"127.0.0.1:1/x:1\": GET http://127.0.0.1:1/v2/x/manifests/1"),
		      "%s", e->msg);
	mk_error_free(&e);
	mk_image_store_free(s);
}
END_TEST

START_TEST(test_registries_load)
{
	char p[128];
	cJSON *c = NULL;
	struct mk_error *e = NULL;
	FILE *f;

	snprintf(p, sizeof(p), "%s/r.yaml", tmp);
	f = fopen(p, "w");
	fputs("mirrors:\n  docker.io:\n    endpoint:\n      - \"http://127.0.0.1:5000\"\n"
	      "configs:\n  \"127.0.0.1:5000\":\n    insecure: true\n    auth: {username: u, password: \"p\"}\n", f);
	fclose(f);
	ck_assert_int_eq(mk_image_registries_load(p, &c, &e), 0);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "mirrors"),
										      "docker.io"), "endpoint"), 0)->valuestring,
			 "http://127.0.0.1:5000");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "configs"),
								     "127.0.0.1:5000"), "insecure")));
	cJSON_Delete(c);
	snprintf(p, sizeof(p), "%s/missing.yaml", tmp);
	ck_assert_int_lt(mk_image_registries_load(p, &c, &e), 0);
	ck_assert_int_eq(e->code, ENOENT);
	mk_error_free(&e);
}
END_TEST

/* ---- layers built with libarchive's writer ---- */

struct ent {
	const char *name;
	int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, or 1 for a hardlink */
	const char *data; /* file content / link target */
};

static void write_layer(const char *path, const struct ent *ents, size_t n, int zstd)
{
	struct archive *a = archive_write_new();
	ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (zstd)
		ck_assert_int_eq(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	else
		ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_uid(e, 1234);
		archive_entry_set_gid(e, 5678);
		if (ents[i].type == 1) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, ents[i].data);
		} else if (ents[i].type == AE_IFLNK) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, ents[i].data);
			archive_entry_set_perm(e, 0777);
		} else if (ents[i].type == AE_IFDIR) {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0750);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0640);
			archive_entry_set_size(e, (la_int64_t)strlen(ents[i].data));
		}
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (ents[i].type == AE_IFREG)
			archive_write_data(a, ents[i].data, strlen(ents[i].data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static char *path_in(const char *rel)
{
	return mk_strdup_printf("%s/%s", tmp, rel);
}

START_TEST(test_unpack_basic_and_whiteouts)
{
	const struct ent ents[] = {
		{ "./etc/", AE_IFDIR, NULL },
		{ "./etc/hostname", AE_IFREG, "box\n" },
		{ "etc/link", AE_IFLNK, "hostname" },
		{ "etc/hard", 1, "etc/hostname" },
		{ "deep/a/b/c", AE_IFREG, "c" },
		{ "gone/.wh.file", AE_IFREG, "" },
		{ "opq/.wh..wh..opq", AE_IFREG, "" },
		{ "opq/kept", AE_IFREG, "k" },
	};
	_cleanup_free_ char *layer = path_in("l.tgz"), *dest = path_in("root"), *p = NULL;
	struct mk_error *e = NULL;
	char diff[72], x[8];
	struct stat st;

	for (int zstd = 0; zstd <= 1; zstd++) {
		write_layer(layer, ents, sizeof(ents) / sizeof(ents[0]), zstd);
		ck_assert_msg(mk_image_layer_unpack(layer, dest, NULL, diff, &e) == 0, "%s", e ? e->msg : "");
		p = path_in("root/etc/hostname");
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_uid, 1234);
		ck_assert_int_eq(st.st_gid, 5678);
		ck_assert_int_eq(st.st_mode & 07777, 0640);
		ck_assert_int_eq(st.st_nlink, 2); /* etc/hard */
		free(p);
		p = path_in("root/etc");
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_mode & 07777, 0750);
		free(p);
		p = path_in("root/etc/link");
		ck_assert_int_eq(lstat(p, &st), 0);
		ck_assert(S_ISLNK(st.st_mode));
		free(p);
		p = path_in("root/deep/a/b/c");
		ck_assert_int_eq(access(p, F_OK), 0);
		free(p);
		p = path_in("root/gone/file"); /* overlayfs whiteout: char 0/0 */
		ck_assert_int_eq(lstat(p, &st), 0);
		ck_assert(S_ISCHR(st.st_mode));
		ck_assert_int_eq(st.st_rdev, makedev(0, 0));
		free(p);
		p = path_in("root/gone/.wh.file");
		ck_assert_int_ne(access(p, F_OK), 0);
		free(p);
		p = path_in("root/opq");
		ck_assert_int_eq(getxattr(p, "trusted.overlay.opaque", x, sizeof(x)), 1);
		ck_assert_int_eq(x[0], 'y');
		free(p);
		p = path_in("root/opq/.wh..wh..opq");
		ck_assert_int_ne(access(p, F_OK), 0);
		free(p);
		p = NULL;
		/* the same content gives the same diff id whatever the compression;
		 * a wrong expected diff id is refused and leaves nothing behind */
		p = path_in("root2");
		ck_assert_int_lt(mk_image_layer_unpack(layer, p, D64, NULL, &e), 0);
		ck_assert_int_eq(e->code, EILSEQ);
		mk_error_free(&e);
		ck_assert_int_ne(access(p, F_OK), 0);
		free(p);
		p = mk_strdup_printf("rm -rf '%s'", dest);
		ck_assert_int_eq(system(p), 0);
		free(p);
		p = NULL;
	}
}
END_TEST

START_TEST(test_unpack_escapes)
{
	_cleanup_free_ char *outside = path_in("outside"), *layer = path_in("l.tgz");
	_cleanup_free_ char *abs_target = mk_strdup_printf("%s/secret", outside);
	_cleanup_free_ char *dotdot = mk_strdup_printf("../../../../../..%s/secret", outside);
	struct ent sym[] = {
		{ "esc", AE_IFLNK, outside },
		{ "rel", AE_IFLNK, "../../../../../../../.." },
		{ "rel/tmp-file", AE_IFREG, "x" },
	};
	struct ent dots[] = { { "../evil", AE_IFREG, "x" } };
	struct ent hard_abs[] = { { "h", 1, abs_target } };
	struct ent hard_dots[] = { { "h", 1, dotdot } };
	struct ent through[] = { { "esc", AE_IFLNK, outside }, { "esc/evil", AE_IFREG, "x" } };
	struct mk_error *e = NULL;
	struct stat st;
	char *p;
	int i = 0;
	struct {
		struct ent *ents;
		size_t n;
		int ok;
	} cases[] = {
		{ sym, 3, 1 }, { dots, 1, 0 }, { hard_abs, 1, 0 }, { hard_dots, 1, 0 }, { through, 2, 0 },
	};

	ck_assert_int_eq(mkdir(outside, 0755), 0);
	p = mk_strdup_printf("%s/secret", outside);
	{
		FILE *f = fopen(p, "w");
		fputs("secret", f);
		fclose(f);
	}
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		_cleanup_free_ char *dest = mk_strdup_printf("%s/r%d", tmp, i++);
		write_layer(layer, cases[c].ents, cases[c].n, 0);
		if (cases[c].ok) {
			ck_assert_msg(mk_image_layer_unpack(layer, dest, NULL, NULL, &e) == 0, "case %zu: %s", c,
				      e ? e->msg : "");
		} else {
			ck_assert_msg(mk_image_layer_unpack(layer, dest, NULL, NULL, &e) < 0, "case %zu unpacked", c);
			mk_error_free(&e);
		}
	}
	/* nothing new outside, the secret untouched and not linked */
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_nlink, 1);
	ck_assert_int_eq(st.st_size, 6);
	free(p);
	p = mk_strdup_printf("%s/evil", outside);
	ck_assert_int_ne(access(p, F_OK), 0);
	free(p);
	p = mk_strdup_printf("%s/evil", tmp);
	ck_assert_int_ne(access(p, F_OK), 0);
	free(p);
	/* "rel/tmp-file" resolved to the layer root */
	p = path_in("r0/tmp-file");
	ck_assert_int_eq(access(p, F_OK), 0);
	free(p);
}
END_TEST

START_TEST(test_store_empty)
{
	struct mk_image_store *s = NULL;
	struct mk_error *e = NULL;
	struct mk_image_info *list = NULL, info;
	size_t n = 1;
	int count = -1;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/images", tmp);
	ck_assert_int_eq(mk_image_store_open(dir, &s, &e), 0);
	ck_assert_int_eq(mk_image_list(s, &list, &n, &e), 0);
	ck_assert_int_eq(n, 0);
	mk_image_info_list_free(list, n);
	ck_assert_int_lt(mk_image_get(s, "nginx", &info, &e), 0);
	ck_assert_int_eq(e->code, ENOENT);
	mk_error_free(&e);
	ck_assert_int_lt(mk_image_remove(s, "nginx", &e), 0);
	mk_error_free(&e);
	snprintf(dir, sizeof(dir), "%s/no-such-dir", tmp);
	ck_assert_int_eq(mk_image_import_dir(s, dir, &count, &e), 0);
	ck_assert_int_eq(count, 0);
	mk_image_store_free(s);
}
END_TEST

/* imagePullSecrets: docker config JSON (auths with auth or username/password, and
 * the legacy .dockercfg shape) into credentials */
START_TEST(test_credentials_parse)
{
	struct mk_image_credential *c = NULL;
	size_t n = 0;
	struct mk_error *err = NULL;
	/* auth = base64("puller:pw:with:colons") */
	const char *cfg = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"cHVsbGVyOnB3OndpdGg6Y29sb25z\"},"
			  "\"https://index.docker.io/v1/\":{\"username\":\"hub\",\"password\":\"h\"},"
			  "\"nologin.example\":{}}}";
	ck_assert_int_eq(mk_image_credentials_parse(cfg, strlen(cfg), &c, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(c[0].registry, "127.0.0.1:5000");
	ck_assert_str_eq(c[0].username, "puller");
	ck_assert_str_eq(c[0].password, "pw:with:colons");
	ck_assert_str_eq(c[1].registry, "https://index.docker.io/v1/");
	ck_assert_str_eq(c[1].username, "hub");
	/* a second document appends (several imagePullSecrets) */
	const char *legacy = "{\"reg.example\":{\"auth\":\"dTpw\"}}";
	ck_assert_int_eq(mk_image_credentials_parse(legacy, strlen(legacy), &c, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(c[2].registry, "reg.example");
	ck_assert_str_eq(c[2].username, "u");
	ck_assert_str_eq(c[2].password, "p");
	ck_assert_int_eq(mk_image_credentials_parse("[1]", 3, &c, &n, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	ck_assert_uint_eq(n, 3);
	mk_image_credentials_free(c, n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("image");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ref_parse);
	tcase_add_test(tc, test_ref_invalid);
	tcase_add_test(tc, test_ref_format);
	tcase_add_test(tc, test_media_types);
	tcase_add_test(tc, test_whiteout_classify);
	tcase_add_test(tc, test_index_select);
	tcase_add_test(tc, test_config_parse);
	tcase_add_test(tc, test_pull_policy);
	tcase_add_test(tc, test_ensure_reasons);
	tcase_add_test(tc, test_registries_load);
	tcase_add_test(tc, test_credentials_parse);
	tcase_add_test(tc, test_unpack_basic_and_whiteouts);
	tcase_add_test(tc, test_unpack_escapes);
	tcase_add_test(tc, test_store_empty);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
