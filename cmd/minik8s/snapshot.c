/* minik8s etcd-snapshot: k3s's command for backups of the datastore.
 *
 * SQLite (the embedded store): save is an online copy of DATA/state.db while the
 * server runs (pkg/store/snapshot.c); restore puts a snapshot in place of the store of
 * a stopped server (the data dir's lock says whether one runs).
 * etcd: save streams the v3 maintenance snapshot of one member (what `etcdctl
 * snapshot save` writes); restore is etcd's own (`etcdctl snapshot restore`, then the
 * members started on the restored data dirs), which this command does not run.
 * Each saved file gets a metadata line in DIR/.metadata/NAME (JSON: backend,
 * revision, objects, size, creation time), which ls reads. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "commands.h"
#include "minik8s/etcd.h"
#include "minik8s/store.h"
#include "minik8s/util.h"

#define DEFAULT_DATA_DIR "/var/lib/minik8s"

struct snap_flags {
	const char *data_dir, *dir, *name, *endpoint;
	const char *cafile, *certfile, *keyfile;
	_Bool json;
	char *dir_owned;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: minik8s etcd-snapshot COMMAND [FLAGS]\n\n"
		"Snapshots of the datastore (k3s's command; named after etcd, also for SQLite).\n\n"
		"Commands:\n"
		"  save [NAME]   save a snapshot NAME-HOST-UNIXTIME into --dir; with SQLite an\n"
		"                online, consistent copy of the store while the server runs; with\n"
		"                etcd (--datastore-endpoint http(s)://...) the v3 snapshot of one\n"
		"                member (etcd's /v3/maintenance/snapshot, its SHA-256 checked)\n"
		"  restore PATH  (SQLite) replace the store of a stopped server by the snapshot\n"
		"                PATH (a file, or a NAME in --dir); refused while a server holds\n"
		"                the data dir. Revisions continue past both the snapshot's and the\n"
		"                replaced store's; older resourceVersions get 410 Gone.\n"
		"                etcd snapshots are restored by etcd: `etcdctl snapshot restore\n"
		"                PATH --data-dir NEW` per member, then the members started on NEW\n"
		"  ls            list the snapshots in --dir (name, location, size, creation time,\n"
		"                revision, backend)\n"
		"  delete NAME...  remove snapshots (and their metadata) from --dir\n\n"
		"Flags:\n"
		"  --name NAME                 save: the name's prefix (default on-demand)\n"
		"  --dir DIR                   where snapshots are (default DATA/db/snapshots)\n"
		"  --data-dir DIR              the server's state directory (default " DEFAULT_DATA_DIR ")\n"
		"  --datastore-endpoint URL    the server's datastore: none or sqlite://PATH (SQLite,\n"
		"                              default DATA/state.db), http(s)://HOST:2379[,...] (etcd)\n"
		"  --datastore-cafile FILE     etcd over https: the members' CA\n"
		"  --datastore-certfile FILE   etcd: client certificate\n"
		"  --datastore-keyfile FILE    etcd: its key\n"
		"  -o, --output json           ls: one JSON object per line\n"
		"  --help                      this text\n\n"
		"Snapshot files are 0600. With --secrets-encryption, keep DATA/cred/secrets-encryption.key\n"
		"with the snapshots: encrypted Secrets cannot be read without it.\n");
}

static int fail(const char *what, struct mk_error *e)
{
	fprintf(stderr, "minik8s etcd-snapshot %s: %s\n", what, e && e->msg ? e->msg : "failed");
	mk_error_free(&e);
	return 1;
}

enum backend { BE_SQLITE, BE_ETCD, BE_POSTGRES };

static enum backend backend_of(const char *ep)
{
	if (!ep || !*ep || !strncmp(ep, "sqlite://", 9))
		return BE_SQLITE;
	if (!strncmp(ep, "http://", 7) || !strncmp(ep, "https://", 8))
		return BE_ETCD;
	return BE_POSTGRES;
}

static char *sqlite_path(const struct snap_flags *f)
{
	if (f->endpoint && !strncmp(f->endpoint, "sqlite://", 9))
		return strdup(f->endpoint + 9);
	return mk_strdup_printf("%s/state.db", f->data_dir);
}

/* a snapshot name: one path component of printable characters */
static bool name_ok(const char *n)
{
	if (!*n || *n == '.' || strlen(n) > 200)
		return false;
	for (const char *p = n; *p; p++)
		if (*p == '/' || (unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static void rfc3339(time_t t, char buf[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_meta(const struct snap_flags *f, const char *name, const char *path,
		      const char *backend, const struct mk_store_snapshot_info *info, bool has_rev,
		      uint64_t rev_min, time_t created, struct mk_error **err)
{
	_cleanup_free_ char *mdir = mk_strdup_printf("%s/.metadata", f->dir);
	_cleanup_free_ char *mpath = mk_strdup_printf("%s/%s", mdir, name);
	_cleanup_cjson_ cJSON *m = cJSON_CreateObject();
	char ts[32];
	rfc3339(created, ts);
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "location", path);
	cJSON_AddStringToObject(m, "backend", backend);
	if (has_rev)
		cJSON_AddNumberToObject(m, "revision", (double)info->revision);
	else if (rev_min) /* etcd: written to during the stream, between the two */
		cJSON_AddNumberToObject(m, "revisionMin", (double)rev_min),
		cJSON_AddNumberToObject(m, "revisionMax", (double)info->revision);
	if (!strcmp(backend, "sqlite"))
		cJSON_AddNumberToObject(m, "objects", (double)info->objects);
	cJSON_AddNumberToObject(m, "size", (double)info->size);
	cJSON_AddStringToObject(m, "created", ts);
	_cleanup_cjson_str_ char *text = cJSON_PrintUnformatted(m);
	_cleanup_free_ char *line = mk_strdup_printf("%s\n", text);
	if (mk_fs_mkdir_p(mdir, 0700, err) < 0)
		return -1;
	return mk_fs_write_file(mpath, line, strlen(line), 0600, err);
}

/* the revision etcd's keyspace is at (a count-only range's header) */
static int etcd_revision(struct mk_etcd *c, int64_t *ret, struct mk_error **err)
{
	struct mk_etcd_range_options o = { .range_end = "", .count_only = true };
	struct mk_etcd_range r = { 0 };
	if (mk_etcd_range(c, "\x01", &o, &r, err) < 0)
		return -1;
	*ret = r.revision;
	mk_etcd_range_release(&r);
	return 0;
}

static int save_etcd(const struct snap_flags *f, const char *path, const char *tmp,
		     struct mk_store_snapshot_info *info, bool *has_rev, uint64_t *rev_min,
		     struct mk_error **err)
{
	_cleanup_strv_ char **eps = NULL;
	struct mk_etcd *c = NULL;
	if (mk_etcd_endpoints_parse(f->endpoint, &eps, err) < 0)
		return -1;
	/* a path on the first URL is the store's key prefix, not part of the URL */
	for (char **p = eps; *p; p++) {
		char *slash = strchr(strstr(*p, "://") + 3, '/');
		if (slash)
			*slash = '\0';
	}
	struct mk_etcd_options o = { .endpoints = (const char *const *)eps,
				     .cafile = f->cafile,
				     .certfile = f->certfile,
				     .keyfile = f->keyfile };
	if (mk_etcd_new(&o, &c, err) < 0)
		return -1;
	int r = -1;
	int64_t before = 0, after = 0;
	_cleanup_close_ int fd = -1;
	if (etcd_revision(c, &before, err) < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		mk_error_errno(err, errno, "create '%s'", tmp);
		goto out;
	}
	if (mk_etcd_snapshot(c, fd, &info->size, err) < 0 || etcd_revision(c, &after, err) < 0)
		goto out;
	if (fsync(fd) < 0) {
		mk_error_errno(err, errno, "fsync '%s'", tmp);
		goto out;
	}
	/* the stream does not say its revision: known when no write came meanwhile */
	*has_rev = before == after;
	*rev_min = (uint64_t)before;
	info->revision = (uint64_t)after;
	if (rename(tmp, path) < 0) {
		mk_error_errno(err, errno, "rename '%s'", tmp);
		goto out;
	}
	r = 0;
out:
	if (r < 0)
		unlink(tmp);
	mk_etcd_free(c);
	return r;
}

static int do_save(struct snap_flags *f, int argc, char **argv)
{
	struct mk_error *e = NULL;
	const char *prefix = f->name ? f->name : "on-demand";
	if (argc > 1) {
		if (argc > 2 || f->name)
			return cmd_usage_error("etcd-snapshot save", "expected at most one NAME");
		prefix = argv[1];
	}
	if (!name_ok(prefix))
		return cmd_usage_error("etcd-snapshot save", "invalid snapshot name '%s'", prefix);
	enum backend be = backend_of(f->endpoint);
	if (be == BE_POSTGRES) {
		fprintf(stderr, "minik8s etcd-snapshot save: a PostgreSQL datastore is backed up "
				"by PostgreSQL (pg_dump), not by this command\n");
		return 1;
	}
	char host[64] = "";
	if (gethostname(host, sizeof(host) - 1) < 0 || !name_ok(host))
		snprintf(host, sizeof(host), "node");
	time_t now = time(NULL);
	_cleanup_free_ char *name = mk_strdup_printf("%s-%s-%lld", prefix, host, (long long)now);
	_cleanup_free_ char *path = mk_strdup_printf("%s/%s", f->dir, name);
	_cleanup_free_ char *tmp = mk_strdup_printf("%s.part", path);
	struct mk_store_snapshot_info info = { 0 };
	bool has_rev = true;
	uint64_t rev_min = 0;
	if (mk_fs_mkdir_p(f->dir, 0700, &e) < 0)
		return fail("save", e);
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "minik8s etcd-snapshot save: '%s' already exists\n", path);
		return 1;
	}
	if (be == BE_SQLITE) {
		_cleanup_free_ char *db = sqlite_path(f);
		if (mk_store_snapshot_save(db, path, &info, &e) < 0)
			return fail("save", e);
	} else if (save_etcd(f, path, tmp, &info, &has_rev, &rev_min, &e) < 0) {
		return fail("save", e);
	}
	if (write_meta(f, name, path, be == BE_SQLITE ? "sqlite" : "etcd", &info, has_rev, rev_min, now,
		       &e) < 0)
		return fail("save", e);
	printf("Snapshot %s saved: %s (%llu bytes", name, path, (unsigned long long)info.size);
	if (be == BE_SQLITE)
		printf(", %llu objects", (unsigned long long)info.objects);
	if (has_rev)
		printf(", revision %llu)\n", (unsigned long long)info.revision);
	else
		printf(", revision %llu..%llu: written to meanwhile)\n",
		       (unsigned long long)rev_min, (unsigned long long)info.revision);
	return 0;
}

static int do_restore(struct snap_flags *f, int argc, char **argv)
{
	struct mk_error *e = NULL;
	if (argc != 2)
		return cmd_usage_error("etcd-snapshot restore", "expected one PATH");
	enum backend be = backend_of(f->endpoint);
	if (be == BE_ETCD) {
		fprintf(stderr, "minik8s etcd-snapshot restore: an etcd snapshot is restored by etcd: "
				"'etcdctl snapshot restore %s --data-dir NEW' for each member, then "
				"the members started on NEW (see README, Datastore)\n",
			argv[1]);
		return 1;
	}
	if (be == BE_POSTGRES) {
		fprintf(stderr, "minik8s etcd-snapshot restore: a PostgreSQL datastore is restored "
				"by PostgreSQL (pg_restore), not by this command\n");
		return 1;
	}
	_cleanup_free_ char *path = NULL;
	if (!strchr(argv[1], '/') && access(argv[1], F_OK) < 0)
		path = mk_strdup_printf("%s/%s", f->dir, argv[1]); /* a NAME in --dir */
	else
		path = strdup(argv[1]);
	struct stat sb;
	if (stat(f->data_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "minik8s etcd-snapshot restore: data dir '%s': %s\n", f->data_dir,
			stat(f->data_dir, &sb) < 0 ? strerror(errno) : "not a directory");
		return 1;
	}
	/* the server's own lock: held, no server can start on the data dir meanwhile */
	_cleanup_close_ int lock = -1;
	if (mk_fs_dir_lock(f->data_dir, "data dir", &lock, &e) < 0) {
		if (e->code == EBUSY) {
			fprintf(stderr, "minik8s etcd-snapshot restore: %s: stop the server first\n",
				e->msg);
			mk_error_free(&e);
			return 1;
		}
		return fail("restore", e);
	}
	_cleanup_free_ char *db = sqlite_path(f);
	struct mk_store_snapshot_info info = { 0 };
	if (mk_store_snapshot_restore(path, db, &info, &e) < 0)
		return fail("restore", e);
	printf("Restored %s into %s: %llu objects, revision %llu (the next write takes %llu)\n",
	       path, db, (unsigned long long)info.objects, (unsigned long long)info.revision,
	       (unsigned long long)info.revision + 1);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_ls(struct snap_flags *f, int argc, char **argv)
{
	if (argc > 1)
		return cmd_usage_error("etcd-snapshot ls", "unexpected argument '%s'", argv[1]);
	DIR *d = opendir(f->dir);
	if (!d) {
		if (errno == ENOENT)
			return f->json ? 0 : (printf("No snapshots in %s\n", f->dir), 0);
		fprintf(stderr, "minik8s etcd-snapshot ls: '%s': %s\n", f->dir, strerror(errno));
		return 1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || (l > 5 && !strcmp(de->d_name + l - 5, ".part")))
			continue;
		_cleanup_free_ char *p = mk_strdup_printf("%s/%s", f->dir, de->d_name);
		struct stat sb;
		if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		MK_GROW(names, cap, n + 1);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	if (!f->json)
		printf("%-44s %-56s %10s %-20s %9s %s\n", "Name", "Location", "Size", "Created",
		       "Revision", "Backend");
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *p = mk_strdup_printf("%s/%s", f->dir, names[i]);
		_cleanup_free_ char *mp = mk_strdup_printf("%s/.metadata/%s", f->dir, names[i]);
		_cleanup_free_ char *text = NULL;
		_cleanup_cjson_ cJSON *m = NULL;
		size_t len;
		struct stat sb;
		if (mk_fs_read_file(mp, &text, &len, NULL) == 0)
			m = cJSON_Parse(text);
		if (!m)
			m = cJSON_CreateObject();
		/* the file as it is now (the metadata's copy may be stale or missing) */
		if (stat(p, &sb) == 0) {
			cJSON_DeleteItemFromObject(m, "size");
			cJSON_AddNumberToObject(m, "size", (double)sb.st_size);
			if (!cJSON_GetObjectItem(m, "created")) {
				char ts[32];
				rfc3339(sb.st_mtime, ts);
				cJSON_AddStringToObject(m, "created", ts);
			}
		}
		cJSON_DeleteItemFromObject(m, "name");
		cJSON_AddStringToObject(m, "name", names[i]);
		cJSON_DeleteItemFromObject(m, "location");
		cJSON_AddStringToObject(m, "location", p);
		if (f->json) {
			_cleanup_cjson_str_ char *o = cJSON_PrintUnformatted(m);
			printf("%s\n", o);
		} else {
			const cJSON *rv = cJSON_GetObjectItem(m, "revision");
			const char *be = cJSON_GetStringValue(cJSON_GetObjectItem(m, "backend"));
			char rvs[24] = "-";
			if (cJSON_IsNumber(rv))
				snprintf(rvs, sizeof(rvs), "%.0f", rv->valuedouble);
			printf("%-44s %-56s %10.0f %-20s %9s %s\n", names[i], p,
			       cJSON_GetNumberValue(cJSON_GetObjectItem(m, "size")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(m, "created")), rvs,
			       be ? be : "-");
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

static int do_delete(struct snap_flags *f, int argc, char **argv)
{
	int rc = 0;
	if (argc < 2 && !f->name)
		return cmd_usage_error("etcd-snapshot delete", "expected one or more NAMEs");
	for (int i = f->name ? 0 : 1; i < argc; i++) {
		const char *name = i == 0 ? f->name : argv[i];
		if (!name_ok(name)) {
			fprintf(stderr, "minik8s etcd-snapshot delete: invalid snapshot name '%s'\n",
				name);
			rc = 1;
			continue;
		}
		_cleanup_free_ char *p = mk_strdup_printf("%s/%s", f->dir, name);
		_cleanup_free_ char *mp = mk_strdup_printf("%s/.metadata/%s", f->dir, name);
		if (unlink(p) < 0) {
			fprintf(stderr, "minik8s etcd-snapshot delete: '%s': %s\n", p, strerror(errno));
			rc = 1;
			continue;
		}
		unlink(mp);
		printf("Snapshot %s deleted\n", name);
	}
	return rc;
}

int cmd_etcd_snapshot(int argc, char **argv)
{
	enum { O_NAME = 256, O_DIR, O_DATA, O_EP, O_CA, O_CERT, O_KEY };
	static const struct option opts[] = {
		{ "name", required_argument, NULL, O_NAME },
		{ "dir", required_argument, NULL, O_DIR },
		{ "etcd-snapshot-dir", required_argument, NULL, O_DIR },
		{ "data-dir", required_argument, NULL, O_DATA },
		{ "datastore-endpoint", required_argument, NULL, O_EP },
		{ "datastore-cafile", required_argument, NULL, O_CA },
		{ "datastore-certfile", required_argument, NULL, O_CERT },
		{ "datastore-keyfile", required_argument, NULL, O_KEY },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct snap_flags f = { .data_dir = DEFAULT_DATA_DIR };
	int c;

	opterr = 0;
	optind = 1;
	/* flags anywhere (k3s: after the subcommand); positionals keep their order */
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case O_NAME: f.name = optarg; break;
		case O_DIR: f.dir = optarg; break;
		case O_DATA: f.data_dir = optarg; break;
		case O_EP: f.endpoint = optarg; break;
		case O_CA: f.cafile = optarg; break;
		case O_CERT: f.certfile = optarg; break;
		case O_KEY: f.keyfile = optarg; break;
		case 'o':
			if (strcmp(optarg, "json"))
				return cmd_usage_error("etcd-snapshot",
						       "unknown output format '%s' (want json)",
						       optarg);
			f.json = 1;
			break;
		case 'h': usage(stdout); return 0;
		default: return cmd_bad_flag("etcd-snapshot", argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cmd_usage_error("etcd-snapshot", "expected a command (save, restore, ls, delete)");
	/* argv[0] is the subcommand; the rest its arguments */
	_cleanup_free_ char *dir = NULL;
	if (!f.dir)
		f.dir = dir = mk_strdup_printf("%s/db/snapshots", f.data_dir);
	const char *sub = argv[0];
	if (!strcmp(sub, "save"))
		return do_save(&f, argc, argv);
	if (!strcmp(sub, "restore"))
		return do_restore(&f, argc, argv);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return do_ls(&f, argc, argv);
	if (!strcmp(sub, "delete") || !strcmp(sub, "rm"))
		return do_delete(&f, argc, argv);
	return cmd_usage_error("etcd-snapshot", "unknown command '%s' (want save, restore, ls, delete)",
			       sub);
}
