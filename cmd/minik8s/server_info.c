/* What `minik8s status` tells about a server: DATA/server-info.json, written by
 * `minik8s server` once it serves (its pid, API URL, kubeconfig, leader-election
 * identity and datastore, the latter without a password), and the cluster's
 * current leader, the holder of the Lease kube-system/kube-controller-manager. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "minik8s/client.h"
#include "minik8s/util.h"

/* endpoint without its password: "scheme://user:PASS@..." -> "scheme://user:***@...",
 * libpq "password=PASS" -> "password=***" (owned) */
static char *redact(const char *endpoint)
{
	struct mk_buf b;
	mk_buf_init(&b);
	const char *p = endpoint, *at = strchr(endpoint, '@'), *sch = strstr(endpoint, "://");
	if (sch && at && at > sch) {
		const char *colon = memchr(sch + 3, ':', (size_t)(at - sch - 3));
		if (colon) {
			mk_buf_printf(&b, "%.*s:***", (int)(colon - endpoint), endpoint);
			p = at;
		}
	}
	for (const char *q; (q = strstr(p, "password="));) {
		mk_buf_printf(&b, "%.*spassword=***", (int)(q - p), p);
		p = q + strlen("password=");
		p += strcspn(p, " &");
	}
	mk_buf_printf(&b, "%s", p);
	return mk_buf_steal(&b);
}

char *cmd_datastore_describe(const char *endpoint, const char *sqlite_path)
{
	if (!endpoint || !*endpoint)
		return mk_strdup_printf("sqlite %s (embedded)", sqlite_path);
	if (!strncmp(endpoint, "sqlite://", 9))
		return mk_strdup_printf("sqlite %s (embedded)", endpoint + 9);
	_cleanup_free_ char *r = redact(endpoint);
	if (!strncmp(endpoint, "http://", 7) || !strncmp(endpoint, "https://", 8))
		return mk_strdup_printf("etcd %s", r);
	return mk_strdup_printf("postgres %s", r);
}

int cmd_server_info_write(const char *data_dir, const char *url, const char *kubeconfig,
			  const char *identity, const char *datastore, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "pid", (double)getpid());
	cJSON_AddStringToObject(j, "url", url);
	cJSON_AddStringToObject(j, "kubeconfig", kubeconfig);
	cJSON_AddStringToObject(j, "identity", identity ? identity : "");
	cJSON_AddStringToObject(j, "datastore", datastore);
	_cleanup_free_ char *text = cJSON_Print(j);
	_cleanup_free_ char *path = mk_strdup_printf("%s/server-info.json", data_dir);
	return mk_fs_write_file(path, text, strlen(text), 0600, err);
}

/* DATA/server-info.json when its server still runs, else NULL. */
static cJSON *server_info(const char *data_dir)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/server-info.json", data_dir);
	_cleanup_free_ char *text = NULL;
	if (mk_fs_read_file(path, &text, NULL, NULL) < 0)
		return NULL;
	cJSON *j = cJSON_Parse(text);
	const cJSON *pid = cJSON_GetObjectItem(j, "pid");
	if (!cJSON_IsNumber(pid) || pid->valuedouble < 1 ||
	    (kill((pid_t)pid->valuedouble, 0) < 0 && errno == ESRCH)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

pid_t cmd_server_info_pid(const char *data_dir)
{
	_cleanup_cjson_ cJSON *j = server_info(data_dir);
	return j ? (pid_t)cJSON_GetObjectItem(j, "pid")->valuedouble : 0;
}

char *cmd_server_info_kubeconfig(const char *data_dir)
{
	_cleanup_cjson_ cJSON *j = server_info(data_dir);
	const char *k = j ? mk_json_get_string(j, "kubeconfig") : NULL;
	return k ? mk_strdup(k) : NULL;
}

void cmd_status_server(const char *data_dir, const char *kcfg)
{
	_cleanup_cjson_ cJSON *j = server_info(data_dir);
	if (!j)
		return;
	const char *id = mk_json_get_string(j, "identity");
	printf("  datastore:  %s\n", mk_json_get_string(j, "datastore") ?: "?");
	printf("  server:     %s (identity %s)\n", mk_json_get_string(j, "url") ?: "?",
	       id && *id ? id : "-");

	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *path = mk_client_kubeconfig_path(kcfg ? kcfg
						: mk_json_get_string(j, "kubeconfig"));
	struct mk_client_config *cfg = NULL;
	struct mk_client *c = NULL;
	_cleanup_cjson_ cJSON *lease = NULL;
	if (mk_client_config_load_kubeconfig(path, NULL, &cfg, &err) < 0 ||
	    mk_client_new(cfg, &c, &err) < 0 ||
	    mk_client_get(c, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
			  "kube-controller-manager", &lease, &err) < 0) {
		printf("  leader:     unknown (%s)\n", err ? err->msg : "?");
	} else {
		const char *h = mk_json_get_string(lease, "spec.holderIdentity");
		printf("  leader:     %s%s (Lease kube-system/kube-controller-manager, renewed %s)\n",
		       h && *h ? h : "none", h && id && !strcmp(h, id) ? " (this server)" : "",
		       mk_json_get_string(lease, "spec.renewTime") ?: "never");
	}
	mk_client_free(c);
	mk_client_config_free(cfg);
}
