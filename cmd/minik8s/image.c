/* minik8s image: manage the node's image store (ls, pull, import, rm, and the
 * inspect/mount/unmount helpers used for debugging and tests). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "minik8s/image.h"

#define DEFAULT_DATA_DIR "/var/lib/minik8s"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: minik8s image [--data-dir DIR] COMMAND [ARGS...]\n\n"
		"Manage container images in DIR/images (default " DEFAULT_DATA_DIR "/images).\n\n"
		"Commands:\n"
		"  ls [-q] [--digests]            list images: REPOSITORY TAG IMAGE-ID SIZE\n"
		"  pull [--platform OS/ARCH] [--registries FILE] IMAGE\n"
		"                                 pull from a registry (Registry API v2); mirrors and\n"
		"                                 plain-HTTP registries from FILE (default\n"
		"                                 DIR/registries.yaml when it exists)\n"
		"  import [--name REPO] [--platform OS/ARCH] FILE|DIR...\n"
		"                                 import OCI image layouts (dir or tar) or docker-save\n"
		"                                 archives; REPO names layouts that only carry a tag\n"
		"  import --dir DIR               import every new *.tar[.gz|.zst] in DIR\n"
		"  rm IMAGE...                    remove names (or image IDs) and unused data\n"
		"  inspect IMAGE                  print the image's runtime config as JSON\n"
		"  mount IMAGE CONTAINER_DIR      overlay-mount the image at CONTAINER_DIR/rootfs\n"
		"  unmount [--remove] CONTAINER_DIR\n\n"
		"Options:\n"
		"  --data-dir DIR                 state directory (default " DEFAULT_DATA_DIR ")\n"
		"  -h, --help                     show this help\n");
}

static int fail(const char *what, struct mk_error *e)
{
	fprintf(stderr, "minik8s image %s: %s\n", what, e && e->msg ? e->msg : "failed");
	mk_error_free(&e);
	return 1;
}

static void human_size(int64_t n, char *buf, size_t size)
{
	/* decimal units as docker images shows them */
	if (n < 1000)
		snprintf(buf, size, "%lldB", (long long)n);
	else if (n < 1000 * 1000)
		snprintf(buf, size, "%.3gkB", n / 1e3);
	else if (n < 1000LL * 1000 * 1000)
		snprintf(buf, size, "%.3gMB", n / 1e6);
	else
		snprintf(buf, size, "%.3gGB", n / 1e9);
}

static int do_ls(struct mk_image_store *s, int argc, char **argv)
{
	static const struct option opts[] = { { "quiet", no_argument, NULL, 'q' },
					      { "digests", no_argument, NULL, 'd' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct mk_image_info *list = NULL;
	struct mk_error *e = NULL;
	size_t n;
	int c, quiet = 0, digests = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		if (c == 'q')
			quiet = 1;
		else if (c == 'd')
			digests = 1;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return cmd_usage_error("image ls", "bad option");
	}
	if (optind < argc)
		return cmd_usage_error("image ls", "unexpected argument '%s'", argv[optind]);
	if (mk_image_list(s, &list, &n, &e) < 0)
		return fail("ls", e);
	if (!quiet)
		printf(digests ? "%-40s %-20s %-72s %-13s %s\n" : "%-40s %-20s %-13s %s\n", "REPOSITORY",
		       "TAG", digests ? "DIGEST" : "IMAGE-ID", digests ? "IMAGE-ID" : "SIZE", "SIZE");
	for (size_t i = 0; i < n; i++) {
		char size[32];
		if (quiet) {
			printf("%.12s\n", list[i].id + 7);
			continue;
		}
		human_size(list[i].size, size, sizeof(size));
		if (digests)
			printf("%-40s %-20s %-72s %-13.12s %s\n", list[i].repository,
			       list[i].tag ? list[i].tag : "<none>", list[i].manifest_digest, list[i].id + 7,
			       size);
		else
			printf("%-40s %-20s %-13.12s %s\n", list[i].repository,
			       list[i].tag ? list[i].tag : "<none>", list[i].id + 7, size);
	}
	mk_image_info_list_free(list, n);
	return 0;
}

static int do_pull(struct mk_image_store *s, const char *data_dir, int argc, char **argv)
{
	static const struct option opts[] = { { "platform", required_argument, NULL, 'p' },
					      { "registries", required_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct mk_image_pull_opts po = { 0 };
	struct mk_error *e = NULL;
	_cleanup_free_ char *def = mk_strdup_printf("%s/registries.yaml", data_dir);
	_cleanup_free_ char *id = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'p')
			po.platform = optarg;
		else if (c == 'r')
			po.registries_config = optarg;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return cmd_usage_error("image pull", "bad option");
	}
	if (optind + 1 != argc)
		return cmd_usage_error("image pull", "expected one IMAGE");
	if (!po.registries_config && access(def, F_OK) == 0)
		po.registries_config = def;
	if (mk_image_pull(s, argv[optind], &po, &id, &e) < 0)
		return fail("pull", e);
	{
		_cleanup_free_ char *name = mk_image_ref_normalize(argv[optind], NULL);
		printf("%s %s\n", name, id);
	}
	return 0;
}

static int do_import(struct mk_image_store *s, int argc, char **argv)
{
	static const struct option opts[] = { { "name", required_argument, NULL, 'n' },
					      { "platform", required_argument, NULL, 'p' },
					      { "dir", required_argument, NULL, 'd' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *name = NULL, *platform = NULL, *dir = NULL;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'p')
			platform = optarg;
		else if (c == 'd')
			dir = optarg;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return cmd_usage_error("image import", "bad option");
	}
	if (dir) {
		struct mk_error *e = NULL;
		int count = 0;
		if (optind != argc)
			return cmd_usage_error("image import", "--dir takes no FILE arguments");
		if (mk_image_import_dir(s, dir, &count, &e) < 0) {
			printf("imported %d archive(s)\n", count);
			return fail("import", e);
		}
		printf("imported %d archive(s)\n", count);
		return 0;
	}
	if (optind >= argc)
		return cmd_usage_error("image import", "expected FILE");
	for (int i = optind; i < argc; i++) {
		struct mk_error *e = NULL;
		char **names = NULL;
		if (mk_image_import(s, argv[i], name, platform, &names, &e) < 0) {
			rc = fail("import", e);
			continue;
		}
		for (char **n = names; *n; n++)
			printf("%s\n", *n);
		mk_strv_free(names);
	}
	return rc;
}

static int do_rm(struct mk_image_store *s, int argc, char **argv)
{
	int rc = 0;
	if (argc < 2)
		return cmd_usage_error("image rm", "expected IMAGE");
	for (int i = 1; i < argc; i++) {
		struct mk_error *e = NULL;
		if (mk_image_remove(s, argv[i], &e) < 0)
			rc = fail("rm", e);
		else
			printf("Deleted: %s\n", argv[i]);
	}
	return rc;
}

static cJSON *strv_json(char **v)
{
	cJSON *a;
	if (!v)
		return cJSON_CreateNull();
	a = cJSON_CreateArray();
	for (; *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

static int do_inspect(struct mk_image_store *s, int argc, char **argv)
{
	struct mk_image_config *c = NULL;
	struct mk_image_info info;
	struct mk_error *e = NULL;
	_cleanup_cjson_ cJSON *j = cJSON_CreateObject();
	_cleanup_cjson_str_ char *text = NULL;

	if (argc != 2)
		return cmd_usage_error("image inspect", "expected one IMAGE");
	if (mk_image_get(s, argv[1], &info, &e) < 0 || mk_image_config_get(s, argv[1], &c, &e) < 0)
		return fail("inspect", e);
	cJSON_AddStringToObject(j, "name", info.name);
	cJSON_AddStringToObject(j, "id", info.id);
	cJSON_AddStringToObject(j, "manifest", info.manifest_digest);
	cJSON_AddNumberToObject(j, "size", (double)info.size);
	cJSON_AddItemToObject(j, "entrypoint", strv_json(c->entrypoint));
	cJSON_AddItemToObject(j, "cmd", strv_json(c->cmd));
	cJSON_AddItemToObject(j, "env", strv_json(c->env));
	cJSON_AddItemToObject(j, "workingDir", c->working_dir ? cJSON_CreateString(c->working_dir) : cJSON_CreateNull());
	cJSON_AddItemToObject(j, "user", c->user ? cJSON_CreateString(c->user) : cJSON_CreateNull());
	cJSON_AddItemToObject(j, "exposedPorts", strv_json(c->exposed_ports));
	cJSON_AddItemToObject(j, "os", c->os ? cJSON_CreateString(c->os) : cJSON_CreateNull());
	cJSON_AddItemToObject(j, "architecture",
			      c->architecture ? cJSON_CreateString(c->architecture) : cJSON_CreateNull());
	cJSON_AddItemToObject(j, "diffIds", strv_json(c->diff_ids));
	text = cJSON_Print(j);
	printf("%s\n", text);
	mk_image_config_free(c);
	mk_image_info_release(&info);
	return 0;
}

static int do_mount(struct mk_image_store *s, int argc, char **argv)
{
	struct mk_error *e = NULL;
	_cleanup_free_ char *rootfs = NULL;
	if (argc != 3)
		return cmd_usage_error("image mount", "expected IMAGE CONTAINER_DIR");
	if (mk_image_rootfs_mount(s, argv[1], argv[2], &rootfs, &e) < 0)
		return fail("mount", e);
	printf("%s\n", rootfs);
	return 0;
}

static int do_unmount(int argc, char **argv)
{
	struct mk_error *e = NULL;
	int remove = argc == 3 && !strcmp(argv[1], "--remove");
	if (argc != 2 + remove)
		return cmd_usage_error("image unmount", "expected [--remove] CONTAINER_DIR");
	if (mk_image_rootfs_unmount(argv[1 + remove], remove, &e) < 0)
		return fail("unmount", e);
	return 0;
}

int cmd_image(int argc, char **argv)
{
	static const struct option opts[] = { { "data-dir", required_argument, NULL, 'd' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *data_dir = DEFAULT_DATA_DIR;
	struct mk_image_store *s = NULL;
	struct mk_error *e = NULL;
	_cleanup_free_ char *dir = NULL;
	const char *sub;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'd')
			data_dir = optarg;
		else if (c == 'h')
			return usage(stdout), 0;
		else
			return cmd_usage_error("image", "bad option");
	}
	if (optind >= argc)
		return cmd_usage_error("image", "expected a command (ls, pull, import, rm)");
	sub = argv[optind];
	argc -= optind;
	argv += optind;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage(stdout), 0;
	if (!strcmp(sub, "unmount"))
		return do_unmount(argc, argv);
	if (strcmp(sub, "ls") && strcmp(sub, "list") && strcmp(sub, "pull") && strcmp(sub, "import") &&
	    strcmp(sub, "rm") && strcmp(sub, "inspect") && strcmp(sub, "mount"))
		return cmd_usage_error("image", "unknown command '%s'", sub);
	dir = mk_strdup_printf("%s/images", data_dir);
	if (mk_image_store_open(dir, &s, &e) < 0)
		return fail(sub, e);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		rc = do_ls(s, argc, argv);
	else if (!strcmp(sub, "pull"))
		rc = do_pull(s, data_dir, argc, argv);
	else if (!strcmp(sub, "import"))
		rc = do_import(s, argc, argv);
	else if (!strcmp(sub, "rm"))
		rc = do_rm(s, argc, argv);
	else if (!strcmp(sub, "inspect"))
		rc = do_inspect(s, argc, argv);
	else
		rc = do_mount(s, argc, argv);
	mk_image_store_free(s);
	return rc;
}
