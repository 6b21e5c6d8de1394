/* The atomic writer of configMap/secret/downwardAPI/projected volumes, on a temp
 * dir: layout (..data -> timestamped dir, KEY -> ..data/KEY), modes, the swap on
 * change and nothing written when nothing changed, stale names removed; item path
 * checks; the downward API map format. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "minik8s/agent.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mk-vol-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	char *data = NULL;
	if (mk_fs_read_file(path, &data, NULL, NULL) < 0)
		return NULL;
	return data;
}

static char *link_of(const char *rel)
{
	char path[256];
	static char buf[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/* timestamped generations ("..2026_...") in dir */
static int generations(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && de->d_name[1] == '.' && de->d_name[2] >= '0' &&
		    de->d_name[2] <= '9')
			n++;
	closedir(d);
	return n;
}

START_TEST(layout_and_modes)
{
	struct mk_agent_volume_file f[] = {
		{ "game.properties", "lives=3\n", 8, 0644 },
		{ "conf/ui.ini", "color=blue", 10, 0400 },
	};
	bool changed = false;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 2, -1, &changed, &err), 0);
	ck_assert(changed);
	/* ..data names a timestamped directory of this year's format */
	char *ts = link_of("..data");
	ck_assert_ptr_nonnull(ts);
	ck_assert(strncmp(ts, "..20", 4) == 0);
	ck_assert_int_eq(strlen(ts) > strlen("..2026_12_04_15_36_45."), 1);
	ck_assert_str_eq(link_of("game.properties"), "..data/game.properties");
	ck_assert_str_eq(link_of("conf"), "..data/conf");
	char *s = slurp("game.properties");
	ck_assert_str_eq(s, "lives=3\n");
	free(s);
	s = slurp("conf/ui.ini");
	ck_assert_str_eq(s, "color=blue");
	free(s);
	char path[256];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/conf/ui.ini", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0400);
	snprintf(path, sizeof(path), "%s/game.properties", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0644);
	ck_assert_int_eq(generations(), 1);
}
END_TEST

START_TEST(unchanged_is_not_rewritten)
{
	struct mk_agent_volume_file f[] = { { "a", "1", 1, 0644 } };
	bool changed = true;
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, -1, &changed, NULL), 0);
	char first[256];
	snprintf(first, sizeof(first), "%s", link_of("..data"));
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, -1, &changed, NULL), 0);
	ck_assert(!changed);
	ck_assert_str_eq(link_of("..data"), first);
	/* a mode change alone is a change */
	f[0].mode = 0600;
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, -1, &changed, NULL), 0);
	ck_assert(changed);
	ck_assert_str_ne(link_of("..data"), first);
}
END_TEST

START_TEST(update_swaps_and_cleans)
{
	struct mk_agent_volume_file v1[] = { { "a", "old", 3, 0644 }, { "b", "bee", 3, 0644 } };
	struct mk_agent_volume_file v2[] = { { "a", "new", 3, 0644 }, { "c", "sea", 3, 0644 } };
	bool changed = false;
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, v1, 2, -1, &changed, NULL), 0);
	char first[256];
	snprintf(first, sizeof(first), "%s", link_of("..data"));
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, v2, 2, -1, &changed, NULL), 0);
	ck_assert(changed);
	ck_assert_str_ne(link_of("..data"), first);
	char *s = slurp("a");
	ck_assert_str_eq(s, "new");
	free(s);
	s = slurp("c");
	ck_assert_str_eq(s, "sea");
	free(s);
	/* b is gone (its symlink too), the old generation is removed */
	ck_assert_ptr_null(link_of("b"));
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, first);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(generations(), 1);
	/* an empty payload leaves only ..data */
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, NULL, 0, -1, &changed, NULL), 0);
	ck_assert_ptr_null(link_of("a"));
	ck_assert_ptr_nonnull(link_of("..data"));
}
END_TEST

START_TEST(group_owned)
{
	/* fsGroup: the files and the generation belong to the group; a group change
	 * alone is a change */
	struct mk_agent_volume_file f[] = { { "d/k", "v", 1, 0440 } };
	long g = (long)getegid();
	bool changed = false;
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, g, &changed, NULL), 0);
	char path[256];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/d/k", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_gid, (gid_t)g);
	ck_assert_uint_eq(sb.st_mode & 07777, 0440);
	snprintf(path, sizeof(path), "%s/d", dir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_gid, (gid_t)g);
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, g, &changed, NULL), 0);
	ck_assert(!changed);
	if (geteuid() == 0) {
		ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, g + 4242, &changed, NULL), 0);
		ck_assert(changed);
		snprintf(path, sizeof(path), "%s/d/k", dir);
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert_uint_eq(sb.st_gid, (gid_t)(g + 4242));
	}
}
END_TEST

START_TEST(leftovers_of_a_crash)
{
	/* a half-written generation and a stale ..data_tmp from an interrupted run */
	char path[256];
	snprintf(path, sizeof(path), "%s/..2020_01_01_00_00_00.123", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/..data_tmp", dir);
	ck_assert_int_eq(symlink("nowhere", path), 0);
	struct mk_agent_volume_file f[] = { { "k", "v", 1, 0644 } };
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, -1, NULL, NULL), 0);
	ck_assert_int_eq(generations(), 1);
	char *s = slurp("k");
	ck_assert_str_eq(s, "v");
	free(s);
}
END_TEST

START_TEST(bad_paths)
{
	static const char *const bad[] = { "", "/etc/passwd", "../x", "a/../../x", "..data", "a//b",
					   "./a", "a/." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(mk_agent_volume_path_check(bad[i]) != NULL, "%s", bad[i]);
		struct mk_agent_volume_file f[] = { { bad[i], "x", 1, 0644 } };
		struct mk_error *err = NULL;
		ck_assert_int_eq(mk_agent_volume_write_atomic(dir, f, 1, -1, NULL, &err), -1);
		ck_assert_int_eq(err->code, EINVAL);
		mk_error_free(&err);
	}
	ck_assert_ptr_null(mk_agent_volume_path_check("a/b..c/d"));
	ck_assert_ptr_null(mk_agent_volume_path_check("key.txt"));
	struct mk_agent_volume_file dup[] = { { "a", "1", 1, 0644 }, { "a", "2", 1, 0644 } };
	struct mk_agent_volume_file mode[] = { { "a", "1", 1, 01000 } };
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, dup, 2, -1, NULL, NULL), -1);
	ck_assert_int_eq(mk_agent_volume_write_atomic(dir, mode, 1, -1, NULL, NULL), -1);
	/* nothing was written */
	ck_assert_ptr_null(link_of("..data"));
}
END_TEST

START_TEST(map_format)
{
	cJSON *m = cJSON_Parse("{\"zone\":\"eu\",\"app\":\"web\",\"q\":\"a\\\"b\\\\c\\n\"}");
	char *s = mk_agent_volume_map_format(m);
	ck_assert_str_eq(s, "app=\"web\"\nq=\"a\\\"b\\\\c\\n\"\nzone=\"eu\"");
	free(s);
	cJSON_Delete(m);
	s = mk_agent_volume_map_format(NULL);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

/* projected service account tokens: asked for again at 80% of their lifetime */
START_TEST(token_refresh_due)
{
	const int64_t t0 = 1700000000000LL, h = 3600 * 1000LL;
	ck_assert(!mk_agent_volume_token_due(t0, t0 + h, t0));
	ck_assert(!mk_agent_volume_token_due(t0, t0 + h, t0 + h * 79 / 100));
	ck_assert(mk_agent_volume_token_due(t0, t0 + h, t0 + h * 8 / 10));
	ck_assert(mk_agent_volume_token_due(t0, t0 + h, t0 + h + 1)); /* expired */
	ck_assert(!mk_agent_volume_token_due(t0, t0 + 600000, t0 + 479000)); /* 10 min token */
	ck_assert(mk_agent_volume_token_due(t0, t0 + 600000, t0 + 480000));
	ck_assert(mk_agent_volume_token_due(t0, t0 + 48 * h, t0 + 24 * h)); /* a day old */
	ck_assert(mk_agent_volume_token_due(t0, t0, t0)); /* no lifetime at all */
}
END_TEST

TCase *agent_volume_tcase(void)
{
	TCase *tc = tcase_create("volumes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, layout_and_modes);
	tcase_add_test(tc, unchanged_is_not_rewritten);
	tcase_add_test(tc, update_swaps_and_cleans);
	tcase_add_test(tc, group_owned);
	tcase_add_test(tc, leftovers_of_a_crash);
	tcase_add_test(tc, bad_paths);
	tcase_add_test(tc, map_format);
	tcase_add_test(tc, token_refresh_due);
	return tc;
}
