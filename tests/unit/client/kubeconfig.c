/* kubeconfig loading with temp files */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/client.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/mk-kubeconfig-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *write_tmp(const char *name, const char *content)
{
	char *p = mk_strdup_printf("%s/%s", dir, name);
	ck_assert_int_eq(mk_fs_write_file(p, content, strlen(content), 0600, NULL), 0);
	return p;
}

/* "hello CA\n" in base64 */
#define CA_B64 "aGVsbG8gQ0EK"

START_TEST(test_current_context)
{
	char *p = write_tmp("config",
			    "apiVersion: v1\n"
			    "kind: Config\n"
			    "clusters:\n"
			    "- name: other\n"
			    "  cluster:\n"
			    "    server: https://10.0.0.1:6443\n"
			    "- name: minik8s\n"
			    "  cluster:\n"
			    "    server: https://127.0.0.1:6443/\n"
			    "    certificate-authority-data: " CA_B64 "\n"
			    "users:\n"
			    "- name: admin\n"
			    "  user:\n"
			    "    token: s3cr3t\n"
			    "contexts:\n"
			    "- name: minik8s\n"
			    "  context:\n"
			    "    cluster: minik8s\n"
			    "    user: admin\n"
			    "    namespace: demo\n"
			    "current-context: minik8s\n");
	struct mk_client_config *cfg = NULL;
	struct mk_error *err = NULL;
	ck_assert_msg(mk_client_config_load_kubeconfig(p, NULL, &cfg, &err) == 0, "%s",
		      err ? err->msg : "");
	ck_assert_str_eq(cfg->server, "https://127.0.0.1:6443");
	ck_assert_str_eq(cfg->token, "s3cr3t");
	ck_assert_int_eq(cfg->ca_data_len, 9);
	ck_assert(memcmp(cfg->ca_data, "hello CA\n", 9) == 0);
	ck_assert_ptr_null(cfg->ca_file);
	ck_assert_str_eq(cfg->namespace, "demo");
	ck_assert(!cfg->insecure);
	mk_client_config_free(cfg);
	free(p);
}
END_TEST

START_TEST(test_named_context_token_file_ca_file)
{
	char *tok = write_tmp("token", "tok-from-file\n");
	free(tok);
	char *p = write_tmp("config.json",
			    "{\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h:1\","
			    "\"certificate-authority\":\"ca.crt\",\"insecure-skip-tls-verify\":true}}],"
			    "\"users\":[{\"name\":\"u\",\"user\":{\"tokenFile\":\"token\"}}],"
			    "\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"nope\",\"user\":\"u\"}},"
			    "{\"name\":\"b\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
			    "\"current-context\":\"a\"}");
	struct mk_client_config *cfg = NULL;
	struct mk_error *err = NULL;
	/* the current context names a missing cluster */
	ck_assert_int_lt(mk_client_config_load_kubeconfig(p, NULL, &cfg, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	ck_assert_msg(strstr(err->msg, "cluster \"nope\" does not exist"), "%s", err->msg);
	mk_error_free(&err);
	ck_assert_int_eq(mk_client_config_load_kubeconfig(p, "b", &cfg, &err), 0);
	ck_assert_str_eq(cfg->server, "https://h:1");
	ck_assert_str_eq(cfg->token, "tok-from-file");
	char *ca = mk_strdup_printf("%s/ca.crt", dir);
	ck_assert_str_eq(cfg->ca_file, ca);
	ck_assert(cfg->insecure);
	ck_assert_ptr_null(cfg->namespace);
	struct mk_client_config *dup = mk_client_config_dup(cfg);
	ck_assert_str_eq(dup->ca_file, ca);
	ck_assert(dup->insecure);
	mk_client_config_free(dup);
	free(ca);
	mk_client_config_free(cfg);
	/* missing context */
	ck_assert_int_lt(mk_client_config_load_kubeconfig(p, "zz", &cfg, &err), 0);
	ck_assert_msg(strstr(err->msg, "context \"zz\" does not exist"), "%s", err->msg);
	mk_error_free(&err);
	free(p);
}
END_TEST

START_TEST(test_errors)
{
	struct mk_client_config *cfg = NULL;
	struct mk_error *err = NULL;
	char *missing = mk_strdup_printf("%s/none", dir);
	ck_assert_int_lt(mk_client_config_load_kubeconfig(missing, NULL, &cfg, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	free(missing);
	char *p = write_tmp("bad", "clusters: [\n");
	ck_assert_int_lt(mk_client_config_load_kubeconfig(p, NULL, &cfg, &err), 0);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	free(p);
	p = write_tmp("nocur", "clusters: []\n");
	ck_assert_int_lt(mk_client_config_load_kubeconfig(p, NULL, &cfg, &err), 0);
	ck_assert_msg(strstr(err->msg, "no current-context"), "%s", err->msg);
	mk_error_free(&err);
	free(p);
	p = write_tmp("badb64",
		      "clusters:\n- name: c\n  cluster:\n    server: https://x\n"
		      "    certificate-authority-data: '***'\n"
		      "contexts:\n- name: c\n  context: {cluster: c}\ncurrent-context: c\n");
	ck_assert_int_lt(mk_client_config_load_kubeconfig(p, NULL, &cfg, &err), 0);
	ck_assert_msg(strstr(err->msg, "not base64"), "%s", err->msg);
	mk_error_free(&err);
	free(p);
}
END_TEST

START_TEST(test_path_order)
{
	char *p = mk_client_kubeconfig_path("/x/explicit");
	ck_assert_str_eq(p, "/x/explicit");
	free(p);
	char *exists = write_tmp("k2", "x: 1\n");
	char *env = mk_strdup_printf("/nonexistent/k1:%s", exists);
	setenv("KUBECONFIG", env, 1);
	p = mk_client_kubeconfig_path(NULL);
	ck_assert_str_eq(p, exists);
	free(p);
	setenv("KUBECONFIG", "/nonexistent/k1:/nonexistent/k3", 1);
	p = mk_client_kubeconfig_path("");
	ck_assert_str_eq(p, "/nonexistent/k1");
	free(p);
	unsetenv("KUBECONFIG");
	setenv("HOME", dir, 1);
	p = mk_client_kubeconfig_path(NULL);
	if (access("/etc/minik8s/kubeconfig", F_OK) == 0) {
		ck_assert_str_eq(p, "/etc/minik8s/kubeconfig");
	} else {
		char *want = mk_strdup_printf("%s/.kube/config", dir);
		ck_assert_str_eq(p, want);
		free(want);
	}
	free(p);
	free(env);
	free(exists);
}
END_TEST

Suite *kubeconfig_suite(void)
{
	Suite *s = suite_create("kubeconfig");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_current_context);
	tcase_add_test(tc, test_named_context_token_file_ca_file);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_path_order);
	suite_add_tcase(s, tc);
	return s;
}
