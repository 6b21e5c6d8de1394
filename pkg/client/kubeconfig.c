/* kubeconfig files: current-context -> cluster + user, the way kubectl reads
 * them (clientcmd), limited to the fields minik8s and k3s write. */
#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include "minik8s/client.h"
#include "internal.h"

/* the entry named name in a kubeconfig list ("clusters", "users", "contexts"),
 * returning its inner object ("cluster", "user", "context") */
static const cJSON *named(const cJSON *root, const char *list, const char *inner,
			  const char *name)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, list);
	const cJSON *e;
	cJSON_ArrayForEach(e, arr) {
		const char *n = mk_json_get_string(e, "name");
		if (n && !strcmp(n, name))
			return cJSON_GetObjectItemCaseSensitive(e, inner);
	}
	return NULL;
}

/* a path in a kubeconfig is relative to the kubeconfig's directory */
static char *resolve_path(const char *kubeconfig, const char *p)
{
	if (!p || !*p)
		return NULL;
	if (p[0] == '/')
		return mk_strdup(p);
	_cleanup_free_ char *copy = mk_strdup(kubeconfig);
	return mk_strdup_printf("%s/%s", dirname(copy), p);
}

static bool truthy(const cJSON *j)
{
	if (cJSON_IsBool(j))
		return cJSON_IsTrue(j);
	if (cJSON_IsString(j))
		return !strcmp(j->valuestring, "true");
	return false;
}

int mk_client_config_load_kubeconfig(const char *path, const char *context,
				     struct mk_client_config **ret, struct mk_error **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_cjson_ cJSON *docs = NULL;
	size_t len;
	int r;

	r = mk_fs_read_file(path, &text, &len, err);
	if (r < 0)
		return r;
	r = mk_yaml_parse_documents(text, len, &docs, err);
	if (r < 0)
		return mk_error_wrap(err, "kubeconfig '%s'", path);
	const cJSON *root = cJSON_GetArrayItem(docs, 0);
	if (!cJSON_IsObject(root))
		return mk_error_set(err, EINVAL, "kubeconfig '%s': not a mapping", path);

	const char *ctx_name = context && *context ? context
						   : mk_json_get_string(root, "current-context");
	if (!ctx_name || !*ctx_name)
		return mk_error_set(err, EINVAL, "kubeconfig '%s': no current-context set", path);
	const cJSON *ctx = named(root, "contexts", "context", ctx_name);
	if (!ctx)
		return mk_error_set(err, ENOENT, "kubeconfig '%s': context \"%s\" does not exist",
				    path, ctx_name);
	const char *cluster_name = mk_json_get_string(ctx, "cluster");
	const char *user_name = mk_json_get_string(ctx, "user");
	const cJSON *cluster = cluster_name ? named(root, "clusters", "cluster", cluster_name) : NULL;
	if (!cluster)
		return mk_error_set(err, ENOENT, "kubeconfig '%s': cluster \"%s\" does not exist",
				    path, cluster_name ? cluster_name : "");
	const char *server = mk_json_get_string(cluster, "server");
	if (!server || !*server)
		return mk_error_set(err, EINVAL, "kubeconfig '%s': cluster \"%s\" has no server",
				    path, cluster_name);

	struct mk_client_config *cfg = mk_client_config_new(server, NULL, NULL);
	cfg->insecure = truthy(cJSON_GetObjectItemCaseSensitive(cluster, "insecure-skip-tls-verify"));
	const char *ca_data = mk_json_get_string(cluster, "certificate-authority-data");
	if (ca_data && *ca_data) {
		if (mk_client_base64_decode(ca_data, &cfg->ca_data, &cfg->ca_data_len) < 0) {
			mk_client_config_free(cfg);
			return mk_error_set(err, EINVAL,
					    "kubeconfig '%s': certificate-authority-data is not base64",
					    path);
		}
	} else {
		cfg->ca_file = resolve_path(path, mk_json_get_string(cluster, "certificate-authority"));
	}
	const char *ns = mk_json_get_string(ctx, "namespace");
	cfg->namespace = ns && *ns ? mk_strdup(ns) : NULL;

	const cJSON *user = user_name ? named(root, "users", "user", user_name) : NULL;
	if (user_name && *user_name && !user) {
		mk_client_config_free(cfg);
		return mk_error_set(err, ENOENT, "kubeconfig '%s': user \"%s\" does not exist",
				    path, user_name);
	}
	const char *token = mk_json_get_string(user, "token");
	const char *token_file = mk_json_get_string(user, "tokenFile");
	if (token && *token) {
		cfg->token = mk_strdup(token);
	} else if (token_file && *token_file) {
		_cleanup_free_ char *tf = resolve_path(path, token_file);
		char *t = NULL;
		if (mk_fs_read_file(tf, &t, &len, err) < 0) {
			mk_client_config_free(cfg);
			return mk_error_wrap(err, "kubeconfig '%s': tokenFile", path);
		}
		while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
			t[--len] = '\0';
		cfg->token = t;
	}
	cfg->client_cert_file = resolve_path(path, mk_json_get_string(user, "client-certificate"));
	cfg->client_key_file = resolve_path(path, mk_json_get_string(user, "client-key"));
	*ret = cfg;
	return 0;
}

char *mk_client_kubeconfig_path(const char *explicit_path)
{
	struct stat st;

	if (explicit_path && *explicit_path)
		return mk_strdup(explicit_path);
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		/* a list like clientcmd's: the first file that exists, else the first entry */
		_cleanup_free_ char *copy = mk_strdup(env);
		char *save = NULL, *first = NULL;
		for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
			if (!*p)
				continue;
			if (!first)
				first = p;
			if (stat(p, &st) == 0)
				return mk_strdup(p);
		}
		if (first)
			return mk_strdup(first);
	}
	if (stat("/etc/minik8s/kubeconfig", &st) == 0)
		return mk_strdup("/etc/minik8s/kubeconfig");
	const char *home = getenv("HOME");
	return mk_strdup_printf("%s/.kube/config", home && *home ? home : "/root");
}
