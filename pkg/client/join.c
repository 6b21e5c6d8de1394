/* Joining a cluster with a k3s-style token: "K10<sha256 of the CA>::node:<secret>"
 * (the server's DATA/node-token) or the bare secret. The CA comes from the
 * server's public /cacerts, fetched without verification and then trusted only if
 * its hash is the one in the token. */
#include <errno.h>
#include <string.h>
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
