/* Joining a cluster with a k3s-style token: "K10<sha256 of the CA>::node:<secret>"
 * (the server's DATA/node-token) or the bare secret. The CA comes from the
 * server's public /cacerts, fetched without verification and then trusted only if
 * its hash is the one in the token. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/client.h"

int mk_client_join_config(const char *server, const char *token, const char *ca_path,
			  struct mk_client_config **ret, bool *ret_verified, struct mk_error **err)
{
	_cleanup_free_ char *secret = NULL;
	char want[65] = "", got[65];
	struct mk_client *c = NULL;
	struct mk_client_response res = { 0 };
	int rc = -1;

	if (!server || !*server || !token || !*token)
		return mk_error_set(err, EINVAL, "a server URL and a token are required to join");
	if (!strncmp(token, "K10", 3)) {
		const char *sep = strstr(token, "::");
		const char *colon = sep ? strrchr(sep + 2, ':') : NULL;
		if (!sep || sep - token != 3 + 64 || !colon || !colon[1])
			return mk_error_set(err, EINVAL,
					    "malformed join token: want K10<sha256>::node:<secret> "
					    "(the server's node-token file) or the bare secret");
		memcpy(want, token + 3, 64);
		want[64] = '\0';
		secret = mk_strdup(colon + 1);
	} else {
		secret = mk_strdup(token);
	}

	struct mk_client_config *boot = mk_client_config_new(server, NULL, NULL);
	boot->insecure = true; /* trust comes from the hash below */
	boot->timeout_ms = 10000;
	if (mk_client_new(boot, &c, err) < 0) {
		mk_client_config_free(boot);
		return -1;
	}
	mk_client_config_free(boot);
	struct mk_client_request req = { .method = "GET", .path = "/cacerts", .accept = "*/*" };
	if (mk_client_do(c, &req, &res, err) < 0) {
		mk_error_wrap(err, "fetch the cluster CA from %s", server);
		goto out;
	}
	if (res.code != 200 || !strstr(res.body, "BEGIN CERTIFICATE")) {
		mk_error_set(err, EPROTO, "%s/cacerts answered HTTP %ld without a certificate", server,
			     res.code);
		goto out;
	}
	mk_sha256_hex(res.body, res.body_len, got);
	if (want[0] && strcmp(want, got)) {
		mk_error_set(err, EPERM,
			     "the CA served by %s does not match the join token (sha256 %s, token "
			     "says %s): wrong server or token",
			     server, got, want);
		goto out;
	}
	if (mk_fs_write_file(ca_path, res.body, res.body_len, 0644, err) < 0)
		goto out;
	*ret = mk_client_config_new(server, secret, ca_path);
	if (ret_verified)
		*ret_verified = want[0] != '\0';
	rc = 0;
out:
	mk_client_response_release(&res);
	mk_client_free(c);
	return rc;
}

#define NODE_CRED_PREFIX "mknode:"

/* What the server says the token is: 1 it is system:node:NODE, 0 it is refused
 * (401) or someone else, -1 the server could not be asked. */
static int credential_valid(const struct mk_client_config *cfg, const char *token,
			    const char *node, struct mk_error **err)
{
	struct mk_client_config *cc = mk_client_config_dup(cfg);
	struct mk_client *c = NULL;
	struct mk_client_response res = { 0 };
	_cleanup_free_ char *want = mk_strdup_printf("system:node:%s", node);
	int rc = -1;

	free(cc->token);
	cc->token = mk_strdup(token);
	if (mk_client_new(cc, &c, err) < 0)
		goto out;
	struct mk_client_request req = {
		.method = "POST",
		.path = "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		.body = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}",
	};
	if (mk_client_do(c, &req, &res, err) < 0)
		goto out;
	const char *user = mk_json_get_string(res.json, "status.userInfo.username");
	rc = res.code == 201 && user && !strcmp(user, want) ? 1 : 0;
	if (!rc && res.code != 401 && res.code != 201) {
		mk_error_set(err, EPROTO, "the server answered HTTP %ld to a self review", res.code);
		rc = -1;
	}
out:
	mk_client_response_release(&res);
	mk_client_free(c);
	mk_client_config_free(cc);
	return rc;
}

int mk_client_node_credential(struct mk_client_config *cfg, const char *node, const char *path,
			      struct mk_error **err)
{
	_cleanup_free_ char *kept = NULL, *body = NULL, *dir = mk_strdup(path), *line = NULL;
	struct mk_client *c = NULL;
	struct mk_client_response res = { 0 };
	int rc = -1;

	if (!node || !*node)
		return mk_error_set(err, EINVAL, "a node name is required for a node credential");
	if (cfg->token && !strncmp(cfg->token, NODE_CRED_PREFIX, strlen(NODE_CRED_PREFIX)))
		return 0;
	if (access(path, F_OK) == 0) {
		if (mk_fs_read_file(path, &kept, NULL, err) < 0)
			return mk_error_wrap(err, "node credential");
		kept[strcspn(kept, "\r\n")] = '\0';
		_cleanup_free_ char *prefix = mk_strdup_printf(NODE_CRED_PREFIX "%s:", node);
		if (mk_str_has_prefix(kept, prefix)) {
			_cleanup_error_ struct mk_error *e = NULL;
			int v = credential_valid(cfg, kept, node, &e);
			if (v != 0) { /* valid, or the server cannot say: keep using it */
				free(cfg->token);
				cfg->token = TAKE_PTR(kept);
				return 0;
			}
		}
		/* the server does not know it (its node was deleted, its data purged),
		 * or it is another node's: ask for a new one */
	}
	if (!cfg->token || !*cfg->token)
		return mk_error_set(err, EINVAL, "no join token to ask for a node credential with");
	if (mk_client_new(cfg, &c, err) < 0)
		return -1;
	_cleanup_cjson_ cJSON *rq = cJSON_CreateObject();
	cJSON_AddStringToObject(rq, "nodeName", node);
	body = cJSON_PrintUnformatted(rq);
	struct mk_client_request req = { .method = "POST", .path = "/v1-minik8s/node-credential",
					 .body = body };
	if (mk_client_do(c, &req, &res, err) < 0) {
		mk_error_wrap(err, "ask %s for a node credential", cfg->server);
		goto out;
	}
	const char *tok = mk_json_get_string(res.json, "token");
	if (res.code != 201 || !tok) {
		const char *msg = mk_json_get_string(res.json, "message");
		mk_error_set(err, res.code == 409 ? EEXIST : EPERM,
			     "the server refused a node credential for \"%s\" (HTTP %ld): %s", node,
			     res.code, msg ? msg : res.body);
		goto out;
	}
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mk_fs_mkdir_p(dir, 0700, err) < 0)
			goto out;
	}
	line = mk_strdup_printf("%s\n", tok);
	if (mk_fs_write_file(path, line, strlen(line), 0600, err) < 0) {
		mk_error_wrap(err, "keep the node credential");
		explicit_bzero(line, strlen(line));
		goto out;
	}
	explicit_bzero(line, strlen(line));
	free(cfg->token);
	cfg->token = mk_strdup(tok);
	rc = 0;
out:
	mk_client_response_release(&res);
	mk_client_free(c);
	return rc;
}
