/* Tests for pkg/util: buffers, strings, errors, time, random, files, JSON. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include "minik8s/util.h"

/* ---- buffers and strings ---------------------------------------------------- */

START_TEST(test_buf)
{
	struct mk_buf b;
	mk_buf_init(&b);
	ck_assert_uint_eq(b.len, 0);
	char *empty = mk_buf_steal(&b);
	ck_assert_str_eq(empty, "");
	free(empty);

	mk_buf_puts(&b, "abc");
	mk_buf_append(&b, "d\0e", 3);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_int_eq(memcmp(b.data, "abcd\0e", 7), 0); /* NUL-terminated too */
	mk_buf_printf(&b, "-%d-%s", 42, "x");
	ck_assert_uint_eq(b.len, 11);
	ck_assert_str_eq(b.data + 6, "-42-x");

	/* longer than any initial room: formatting must grow the buffer */
	char big[3000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mk_buf_printf(&b, "[%s]", big);
	ck_assert_uint_eq(b.len, 11 + 2 + 2999);
	ck_assert_int_eq(b.data[11], '[');
	ck_assert_int_eq(b.data[11 + 1 + 2998], 'q');
	ck_assert_str_eq(b.data + b.len - 1, "]");
	ck_assert_uint_ge(b.cap, b.len + 1);

	for (int i = 0; i < 1000; i++)
		mk_buf_printf(&b, "%04d", i);
	ck_assert_uint_eq(b.len, 11 + 3001 + 4000);
	ck_assert_str_eq(b.data + b.len - 8, "09980999");

	size_t len = b.len;
	char *s = mk_buf_steal(&b);
	ck_assert_uint_eq(strlen(s + 7), len - 7);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(s);
	mk_buf_puts(&b, "again");
	ck_assert_str_eq(b.data, "again");
	mk_buf_release(&b);
	ck_assert_ptr_null(b.data);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_strings)
{
	ck_assert(mk_str_has_prefix("minik8s", "mini"));
	ck_assert(mk_str_has_prefix("minik8s", ""));
	ck_assert(!mk_str_has_prefix("mi", "mini"));
	ck_assert(!mk_str_has_prefix(NULL, "x"));
	ck_assert(mk_str_has_suffix("pods.yaml", ".yaml"));
	ck_assert(!mk_str_has_suffix("yaml", ".yaml"));
	ck_assert(!mk_str_has_suffix(NULL, "x"));
	ck_assert_ptr_null(mk_strdup(NULL));
	char *d = mk_strdup_printf("%s/%d", "a", 7);
	ck_assert_str_eq(d, "a/7");
	free(d);
	unsigned char *z = mk_malloc0(64);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(z[i], 0);
	free(z);
}
END_TEST

START_TEST(test_errors)
{
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_error_set(NULL, EINVAL, "ignored"), -1);
	ck_assert_int_eq(mk_error_set(&err, ENOENT, "open '%s'", "/x"), -1);
	ck_assert_int_eq(err->code, ENOENT);
	ck_assert_str_eq(err->msg, "open '/x'");
	/* the first error wins */
	ck_assert_int_eq(mk_error_set(&err, EIO, "second"), -1);
	ck_assert_int_eq(err->code, ENOENT);
	ck_assert_int_eq(mk_error_wrap(&err, "load %s", "config"), -1);
	ck_assert_str_eq(err->msg, "load config: open '/x'");
	mk_error_free(&err);
	ck_assert_ptr_null(err);
	mk_error_free(&err);
	mk_error_free(NULL);
	ck_assert_int_eq(mk_error_wrap(&err, "nothing to wrap"), -1);
	ck_assert_ptr_null(err);

	ck_assert_int_eq(mk_error_errno(&err, EACCES, "open '%s'", "/y"), -1);
	ck_assert_int_eq(err->code, EACCES);
	ck_assert_str_eq(err->msg, "open '/y': Permission denied");
	mk_error_free(&err);
}
END_TEST

/* ---- time -------------------------------------------------------------------- */

START_TEST(test_human_duration)
{
	/* k8s.io/apimachinery/pkg/util/duration.HumanDuration */
	static const struct {
		int64_t s;
		const char *want;
	} cases[] = {
		{ 0, "0s" },
		{ 1, "1s" },
		{ 59, "59s" },
		{ 70, "70s" },
		{ 119, "119s" },
		{ 120, "2m" },
		{ 150, "2m30s" },
		{ 190, "3m10s" },
		{ 599, "9m59s" },
		{ 600, "10m" },
		{ 610, "10m" },
		{ 70 * 60, "70m" },
		{ 3 * 3600 - 1, "179m" },
		{ 3 * 3600, "3h" },
		{ 3 * 3600 + 60, "3h1m" },
		{ 3 * 3600 + 61, "3h1m" },
		{ 8 * 3600 - 60, "7h59m" },
		{ 8 * 3600, "8h" },
		{ 8 * 3600 + 59 * 60, "8h" },
		{ 47 * 3600, "47h" },
		{ 48 * 3600, "2d" },
		{ 49 * 3600, "2d1h" },
		{ 8 * 86400 - 3600, "7d23h" },
		{ 8 * 86400, "8d" },
		{ (8 * 24 + 2) * 3600, "8d" },
		{ 367 * 86400, "367d" },
		{ 2 * 365 * 86400 - 1, "729d" },
		{ 2 * 365 * 86400, "2y" },
		{ (365 * 2 * 24 + 25) * 3600, "2y1d" },
		{ 3 * 365 * 86400 + 10 * 86400, "3y10d" },
		{ (365 * 8 * 24 + 2) * 3600, "8y" },
		{ 20LL * 365 * 86400 + 100 * 86400, "20y" },
		{ -1, "0s" },
	};
	char buf[32];
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		mk_time_human_duration(cases[i].s, buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, cases[i].want) == 0, "%lld: got %s, want %s",
			      (long long)cases[i].s, buf, cases[i].want);
	}
	/* a short buffer truncates instead of overflowing */
	char small[3] = "xx";
	mk_time_human_duration(3 * 3600 + 60, small, sizeof(small));
	ck_assert_str_eq(small, "3h");
}
END_TEST

START_TEST(test_time_format_parse)
{
	char buf[32];
	mk_time_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	mk_time_format(1795681455, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-26T08:24:15Z");
	ck_assert_int_eq(mk_time_parse(buf), 1795681455);

	ck_assert_int_eq(mk_time_parse("2026-11-26T08:24:15.123456Z"), 1795681455);
	ck_assert_int_eq(mk_time_parse("2026-11-26T10:24:15+02:00"), 1795681455);
	ck_assert_int_eq(mk_time_parse("2026-11-26T02:54:15-05:30"), 1795681455);
	ck_assert_int_eq(mk_time_parse("2026-11-26T08:24:15.5+00:00"), 1795681455);

	ck_assert_int_eq(mk_time_parse(NULL), -1);
	ck_assert_int_eq(mk_time_parse(""), -1);
	ck_assert_int_eq(mk_time_parse("2026-11-26"), -1);
	ck_assert_int_eq(mk_time_parse("2026-11-26T08:24:15"), -1);	 /* no zone */
	ck_assert_int_eq(mk_time_parse("2026-11-26T08:24:15Zjunk"), -1);
	ck_assert_int_eq(mk_time_parse("2026-11-26T08:24:15+0200"), -1);
	ck_assert_int_eq(mk_time_parse("2026-11-26T08:24:15+0a:00"), -1);
	ck_assert_int_eq(mk_time_parse("2026-11-26T08:24:15+02:x0"), -1);
	ck_assert_int_eq(mk_time_parse("yesterday"), -1);

	uint64_t a = mk_time_mono_ns(), b = mk_time_mono_ns();
	ck_assert_uint_ge(b, a);
}
END_TEST

/* ---- random ------------------------------------------------------------------ */

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

START_TEST(test_uuid)
{
	char u[37], v[37];
	for (int n = 0; n < 200; n++) {
		mk_uuid_v4(u);
		ck_assert_uint_eq(strlen(u), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				ck_assert_int_eq(u[i], '-');
			else
				ck_assert_msg(is_lower_hex(u[i]), "%s", u);
		}
		ck_assert_int_eq(u[14], '4');
		ck_assert_ptr_nonnull(strchr("89ab", u[19]));
	}
	mk_uuid_v4(v);
	ck_assert_str_ne(u, v);

	char hex[2 * 100 + 1];
	mk_random_hex(hex, 100);
	ck_assert_uint_eq(strlen(hex), 200);
	for (int i = 0; i < 200; i++)
		ck_assert(is_lower_hex(hex[i]));

	char suf[6];
	for (int n = 0; n < 100; n++) {
		mk_random_k8s_suffix(suf, 5);
		ck_assert_uint_eq(strlen(suf), 5);
		for (int i = 0; i < 5; i++)
			ck_assert_ptr_nonnull(strchr("bcdfghjklmnpqrstvwxz2456789", suf[i]));
	}
}
END_TEST

/* ---- files -------------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static char *tmpdir;

static void fs_setup(void)
{
	tmpdir = mk_strdup("/tmp/mk-util-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void fs_teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
}

static int count_entries(const char *dir)
{
	int n = 0;
	_cleanup_free_ char *cmd = mk_strdup_printf("ls -A '%s' | wc -l", dir);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

/* DIR/lock: one holder at a time (flock is per open file description, so a second
 * lock in this very process conflicts too), the holder's pid in the file and in
 * /proc/locks, released on close; a child that dies (kill -9) leaves no lock. */
START_TEST(test_fs_dir_lock)
{
	struct mk_error *err = NULL;
	int fd = -1, fd2 = -1;

	ck_assert_int_eq(mk_fs_dir_lock_holder(tmpdir), 0);
	ck_assert_int_eq(mk_fs_dir_lock(tmpdir, "data dir", &fd, &err), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mk_fs_dir_lock_holder(tmpdir), getpid());
	_cleanup_free_ char *path = mk_strdup_printf("%s/lock", tmpdir), *text = NULL;
	ck_assert_int_eq(mk_fs_read_file(path, &text, NULL, &err), 0);
	ck_assert_int_eq(atoi(text), getpid());
	ck_assert_int_eq(mk_fs_dir_lock(tmpdir, "data dir", &fd2, &err), -1);
	ck_assert_int_eq(err->code, EBUSY);
	_cleanup_free_ char *want = mk_strdup_printf("data dir %s is in use by pid %d", tmpdir,
						     (int)getpid());
	ck_assert_str_eq(err->msg, want);
	mk_error_free(&err);
	close(fd);
	ck_assert_int_eq(mk_fs_dir_lock_holder(tmpdir), 0);

	int pipefd[2];
	ck_assert_int_eq(pipe(pipefd), 0);
	pid_t child = fork();
	if (child == 0) {
		struct mk_error *e = NULL;
		int cfd;
		if (mk_fs_dir_lock(tmpdir, "run dir", &cfd, &e) < 0)
			_exit(1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	ck_assert_int_eq(mk_fs_dir_lock_holder(tmpdir), child);
	ck_assert_int_eq(mk_fs_dir_lock(tmpdir, "run dir", &fd2, &err), -1);
	mk_error_free(&err);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ck_assert_int_eq(mk_fs_dir_lock(tmpdir, "run dir", &fd2, &err), 0);
	close(fd2);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

START_TEST(test_fs_write_read)
{
	struct mk_error *err = NULL;
	_cleanup_free_ char *p = mk_strdup_printf("%s/token", tmpdir);
	char *data = NULL;
	size_t len = 0;
	struct stat st;

	umask(022);
	ck_assert_int_eq(mk_fs_write_file(p, "secret\n", 7, 0600, &err), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(mk_fs_read_file(p, &data, &len, &err), 0);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(data, "secret\n");
	free(data);

	/* replacing changes content and mode; a mode wider than the umask is kept */
	ck_assert_int_eq(mk_fs_write_file(p, "x\0y", 3, 0666, &err), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0666);
	ck_assert_int_eq(mk_fs_read_file(p, &data, &len, &err), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(data, "x\0y", 4), 0);
	free(data);
	ck_assert_int_eq(mk_fs_write_file(p, "", 0, 0640, &err), 0);
	ck_assert_int_eq(mk_fs_read_file(p, &data, NULL, &err), 0);
	ck_assert_str_eq(data, "");
	free(data);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	/* no temporary file left behind */
	ck_assert_int_eq(count_entries(tmpdir), 1);

	/* a big file */
	size_t n = 300000;
	char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	ck_assert_int_eq(mk_fs_write_file(p, big, n, 0600, &err), 0);
	ck_assert_int_eq(mk_fs_read_file(p, &data, &len, &err), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(memcmp(data, big, n), 0);
	free(data);
	free(big);

	_cleanup_free_ char *missing = mk_strdup_printf("%s/nope", tmpdir);
	ck_assert_int_eq(mk_fs_read_file(missing, &data, &len, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	ck_assert_ptr_nonnull(strstr(err->msg, "nope"));
	mk_error_free(&err);
	_cleanup_free_ char *nodir = mk_strdup_printf("%s/no/such/file", tmpdir);
	ck_assert_int_eq(mk_fs_write_file(nodir, "x", 1, 0600, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	ck_assert_int_eq(count_entries(tmpdir), 1);
}
END_TEST

struct fs_writer {
	const char *path;
	char byte;
	int failures;
};

static void *write_loop(void *arg)
{
	struct fs_writer *w = arg;
	char data[4096];
	memset(data, w->byte, sizeof(data));
	for (int i = 0; i < 200; i++) {
		struct mk_error *err = NULL;
		if (mk_fs_write_file(w->path, data, sizeof(data), 0600, &err) < 0) {
			w->failures++;
			mk_error_free(&err);
		}
	}
	return NULL;
}

/* Threads of one process replacing the same file: every write succeeds and the
 * result is always one whole version, never a mix. */
START_TEST(test_fs_write_concurrent)
{
	_cleanup_free_ char *p = mk_strdup_printf("%s/shared", tmpdir);
	struct fs_writer w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct fs_writer){ .path = p, .byte = (char)('a' + i) };
		ck_assert_int_eq(pthread_create(&t[i], NULL, write_loop, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].failures, 0);
	}
	char *data = NULL;
	size_t len = 0;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_fs_read_file(p, &data, &len, &err), 0);
	ck_assert_uint_eq(len, 4096);
	for (size_t i = 1; i < len; i++)
		ck_assert_int_eq(data[i], data[0]);
	free(data);
	ck_assert_int_eq(count_entries(tmpdir), 1);
}
END_TEST

START_TEST(test_fs_mkdir_p)
{
	struct mk_error *err = NULL;
	_cleanup_free_ char *p = mk_strdup_printf("%s/a/b/c", tmpdir);
	_cleanup_free_ char *slash = mk_strdup_printf("%s/x/y/", tmpdir);
	struct stat st;

	ck_assert_int_eq(mk_fs_mkdir_p(p, 0750, &err), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(mk_fs_mkdir_p(p, 0750, &err), 0); /* exists: fine */
	ck_assert_int_eq(mk_fs_mkdir_p(slash, 0755, &err), 0);
	ck_assert_int_eq(stat(slash, &st), 0);

	_cleanup_free_ char *file = mk_strdup_printf("%s/file", tmpdir);
	ck_assert_int_eq(mk_fs_write_file(file, "x", 1, 0600, &err), 0);
	_cleanup_free_ char *under = mk_strdup_printf("%s/file/sub", tmpdir);
	ck_assert_int_eq(mk_fs_mkdir_p(under, 0755, &err), -1);
	ck_assert_int_eq(err->code, ENOTDIR);
	mk_error_free(&err);
}
END_TEST

/* ---- JSON -------------------------------------------------------------------------- */

START_TEST(test_json)
{
	cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"x\"},"
			       "\"generation\":3},\"spec\":{\"containers\":[{\"name\":\"c\"}]},"
			       "\"kind\":\"Pod\"}");
	ck_assert_ptr_nonnull(o);

	ck_assert_str_eq(mk_json_get_string(o, "metadata.name"), "web");
	ck_assert_str_eq(mk_json_get_string(o, "metadata.labels.app"), "x");
	ck_assert_str_eq(mk_json_get_string(o, "kind"), "Pod");
	ck_assert_ptr_eq(mk_json_get(o, ""), o);
	ck_assert(cJSON_IsNumber(mk_json_get(o, "metadata.generation")));
	ck_assert_ptr_null(mk_json_get_string(o, "metadata.generation")); /* not a string */
	ck_assert_ptr_null(mk_json_get(o, "metadata.missing"));
	ck_assert_ptr_null(mk_json_get(o, "metadata.name.deeper"));
	ck_assert_ptr_null(mk_json_get(o, "spec.containers.name")); /* through an array */
	ck_assert_ptr_null(mk_json_get(o, "Metadata.name"));	     /* case-sensitive */
	ck_assert_ptr_null(mk_json_get(NULL, "a"));
	char longkey[400];
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	ck_assert_ptr_null(mk_json_get(o, longkey));

	cJSON *ann = mk_json_ensure_object(o, "metadata.annotations");
	ck_assert(cJSON_IsObject(ann));
	mk_json_set_string(ann, "a", "1");
	ck_assert_str_eq(mk_json_get_string(o, "metadata.annotations.a"), "1");
	ck_assert_ptr_eq(mk_json_ensure_object(o, "metadata.annotations"), ann);
	/* a non-object in the way is replaced */
	cJSON *name = mk_json_ensure_object(o, "kind.sub");
	ck_assert(cJSON_IsObject(mk_json_get(o, "kind")));
	ck_assert_ptr_eq(mk_json_get(o, "kind.sub"), name);

	/* set replaces in place, without duplicate keys */
	mk_json_set_string(cJSON_GetObjectItem(o, "metadata"), "name", "api");
	mk_json_set(cJSON_GetObjectItem(o, "metadata"), "generation", cJSON_CreateNumber(4));
	ck_assert_str_eq(mk_json_get_string(o, "metadata.name"), "api");
	ck_assert_int_eq(mk_json_get(o, "metadata.generation")->valueint, 4);
	int names = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "metadata"))
		names += strcmp(it->string, "name") == 0;
	ck_assert_int_eq(names, 1);
	cJSON_Delete(o);
}
END_TEST

/* Invalid UTF-8 reads as one U+FFFD per byte that starts no valid sequence, as Go's
 * utf8.DecodeRune (and so encoding/json) treats it. */
START_TEST(test_utf8)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },		/* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },		/* U+10FFFF */
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },
		{ "x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd" },		/* truncated */
		{ "\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd" },		/* overlong NUL */
		{ "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong '/' */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\x80z", "\xef\xbf\xbdz" },				/* lone continuation */
		{ "\xe2\x82\xac\xe2", "\xe2\x82\xac\xef\xbf\xbd" },	/* valid, then cut */
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		size_t n = 0;
		char *got = mk_utf8_sanitize(cases[i].in, strlen(cases[i].in), &n);
		ck_assert_msg(!strcmp(got, cases[i].out), "case %zu", i);
		ck_assert_uint_eq(n, strlen(cases[i].out));
		ck_assert(mk_utf8_valid(got, n));
		ck_assert_int_eq(mk_utf8_valid(cases[i].in, strlen(cases[i].in)),
				 !strcmp(cases[i].in, cases[i].out));
		free(got);
	}

	/* a JSON tree: values and keys, nested, in arrays */
	cJSON *j = cJSON_Parse("{\"a\xff\":{\"b\":[\"ok\",\"x\xfe\"]},\"c\":\"\xc3\"}");
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(mk_json_utf8_sanitize(j), 3);
	char *text = cJSON_PrintUnformatted(j);
	ck_assert_str_eq(text, "{\"a\xef\xbf\xbd\":{\"b\":[\"ok\",\"x\xef\xbf\xbd\"]},"
			       "\"c\":\"\xef\xbf\xbd\"}");
	ck_assert_int_eq(mk_json_utf8_sanitize(j), 0);
	free(text);
	cJSON_Delete(j);

	/* lone UTF-16 surrogate escapes read as U+FFFD; pairs, escaped backslashes and
	 * text outside strings are left alone */
	char doc[] = "{\"a\":\"x\\ud800y\",\"b\":\"\\udc00\",\"c\":\"\\ud83d\\ude00\","
		     "\"d\":\"\\\\ud800\",\"e\":\"\\ud800\\u0041\",\"f\":\"\\\"\\ud800\"}";
	ck_assert_int_eq(mk_json_fix_surrogates(doc, strlen(doc)), 4);
	ck_assert_str_eq(doc, "{\"a\":\"x\\ufffdy\",\"b\":\"\\ufffd\",\"c\":\"\\ud83d\\ude00\","
			      "\"d\":\"\\\\ud800\",\"e\":\"\\ufffd\\u0041\",\"f\":\"\\\"\\ufffd\"}");
	j = cJSON_Parse(doc);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(mk_json_get_string(j, "a"), "x\xef\xbf\xbdy");
	ck_assert_str_eq(mk_json_get_string(j, "c"), "\xf0\x9f\x98\x80");
	ck_assert_str_eq(mk_json_get_string(j, "d"), "\\ud800");
	cJSON_Delete(j);
}
END_TEST

Suite *util_suite(void)
{
	Suite *su = suite_create("util");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_buf);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_human_duration);
	tcase_add_test(tc, test_time_format_parse);
	tcase_add_test(tc, test_uuid);
	tcase_add_test(tc, test_json);
	suite_add_tcase(su, tc);

	TCase *fs = tcase_create("fs");
	tcase_add_checked_fixture(fs, fs_setup, fs_teardown);
	tcase_add_test(fs, test_fs_write_read);
	tcase_add_test(fs, test_fs_dir_lock);
	tcase_add_test(fs, test_fs_write_concurrent);
	tcase_add_test(fs, test_fs_mkdir_p);
	suite_add_tcase(su, fs);
	return su;
}
