/* Per-node credentials (k3s's node password, as a bearer token). The join token
 * only bootstraps: with it an agent asks POST /v1-minik8s/node-credential for a
 * credential bound to its node name, keeps it (0600) and uses it from then on; the
 * server knows the node as system:node:NAME (group system:nodes) and the Node
 * authorizer (nodeauthz.c) limits it to what that node needs.
 *
 * The token is "mknode:NAME:SECRET" (SECRET: 32 random bytes in hex). The server
 * keeps only the SHA-256 of SECRET, in the Secret kube-system/NAME.node-password.minik8s
 * (k3s keeps its node password hashes in kube-system/NAME.node-password.k3s). A name
 * that has a credential cannot be claimed again with the join token: the node must
 * be deleted first (deleting a Node drops its credential, handlers.c), which is how
 * k3s refuses a second node with an existing node's name. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

#define CRED_SUFFIX ".node-password.minik8s"
#define CRED_TYPE "minik8s.io/node-password"
#define CRED_NS "kube-system"

static char *cred_secret_name(const char *node)
{
	return mk_strdup_printf("%s" CRED_SUFFIX, node);
}

/* The stored hash of node's secret (owned), or NULL when it has none. */
static char *stored_hash(struct mk_apiserver *srv, const char *node)
{
	_cleanup_free_ char *name = cred_secret_name(node), *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_store_get(srv->store, "secrets", CRED_NS, name, &json, NULL, &err) < 0)
		return NULL;
	_cleanup_cjson_ cJSON *sec = cJSON_Parse(json);
	const char *type = mk_json_get_string(sec, "type");
	const char *b64 = mk_json_get_string(sec, "data.hash");
	if (!type || strcmp(type, CRED_TYPE) || !b64)
		return NULL;
	void *raw = NULL;
	size_t n = 0;
	if (mk_base64_decode(b64, &raw, &n) < 0)
		return NULL;
	char *h = mk_malloc0(n + 1);
	memcpy(h, raw, n);
	free(raw);
	return h;
}

static bool equal_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = 0;
	if (la != lb)
		return false;
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int mk_nodecred_authenticate(struct mk_apiserver *srv, const char *token, char **ret_node)
{
	size_t pl = strlen(MK_NODECRED_PREFIX);
	if (strncmp(token, MK_NODECRED_PREFIX, pl))
		return 0;
	const char *name = token + pl, *colon = strrchr(name, ':');
	if (!colon || colon == name || (size_t)(colon - name) > 253 || !colon[1])
		return 0;
	_cleanup_free_ char *node = strndup(name, (size_t)(colon - name));
	if (!node)
		abort();
	if (mk_api_check_dns1123_subdomain(node))
		return 0;
	_cleanup_free_ char *want = stored_hash(srv, node);
	char got[65];
	if (!want)
		return 0;
	mk_sha256_hex(colon + 1, strlen(colon + 1), got);
	if (!equal_ct(got, want))
		return 0;
	*ret_node = TAKE_PTR(node);
	return 1;
}

int mk_nodecred_issue(struct mk_apiserver *srv, const char *node, char **ret_token,
		      struct mk_error **err)
{
	const char *bad = mk_api_check_dns1123_subdomain(node);
	if (bad)
		return mk_error_set(err, 422, "node name \"%s\": %s", node, bad);
	if (strlen(node) + strlen(CRED_SUFFIX) > 253)
		return mk_error_set(err, 422, "node name \"%s\": must be no more than %zu characters",
				    node, 253 - strlen(CRED_SUFFIX));
	char secret[65], hash[65];
	mk_random_hex(secret, 32);
	mk_sha256_hex(secret, strlen(secret), hash);
	_cleanup_free_ char *name = cred_secret_name(node), *b64 = mk_base64_encode(hash, 64);
	_cleanup_cjson_ cJSON *sec = mk_api_object_new("v1", "Secret", CRED_NS, name);
	cJSON *md = cJSON_GetObjectItem(sec, "metadata");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"), "minik8s.io/node", node);
	cJSON_AddStringToObject(sec, "type", CRED_TYPE);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(sec, "data"), "hash", b64);
	/* create, never update: an existing credential is the name's owner */
	pthread_mutex_lock(&srv->cred_lock);
	int r = mk_store_create(srv->store, "secrets", CRED_NS, name, sec, NULL, NULL, err);
	pthread_mutex_unlock(&srv->cred_lock);
	if (r < 0) {
		if ((*err)->code == EEXIST) {
			mk_error_free(err);
			return mk_error_set(err, EEXIST,
					    "node \"%s\" is already registered with another credential: "
					    "a node may not take an existing node's name (delete the node "
					    "first: kubectl delete node %s)",
					    node, node);
		}
		return mk_error_wrap(err, "node credential of \"%s\"", node);
	}
	*ret_token = mk_strdup_printf(MK_NODECRED_PREFIX "%s:%s", node, secret);
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

void mk_nodecred_forget(struct mk_apiserver *srv, const char *node)
{
	_cleanup_free_ char *name = cred_secret_name(node);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_store_delete(srv->store, "secrets", CRED_NS, name, 0, NULL, NULL, &err) < 0 &&
	    err->code != ENOENT)
		mk_log(MK_LOG_WARN, "apiserver", "node credential of %s: %s", node, err->msg);
}

/* POST /v1-minik8s/node-credential {"nodeName": NAME} with the join token:
 * {"nodeName": NAME, "token": TOKEN}. A node that has one already is refused (409). */
bool mk_nodecred_handle(struct mk_request *req, struct mk_reply *rep)
{
	if (strcmp(req->url, MK_NODECRED_PATH))
		return false;
	if (strcmp(req->method, "POST")) {
		mk_reply_status(rep, 405, NULL, NULL, "only POST is supported on %s", MK_NODECRED_PATH);
		return true;
	}
	if (req->caller != MK_CALLER_BOOTSTRAP && req->caller != MK_CALLER_ADMIN) {
		mk_reply_status(rep, 403, NULL, NULL,
				"%s is forbidden: only the join token may ask for a node credential",
				MK_NODECRED_PATH);
		return true;
	}
	_cleanup_cjson_ cJSON *body =
		req->body.len ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
	const char *node = mk_json_get_string(body, "nodeName");
	if (!node || !*node) {
		mk_reply_status(rep, 400, NULL, NULL,
				"the body must be a JSON object with the string nodeName");
		return true;
	}
	_cleanup_free_ char *token = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_nodecred_issue(req->srv, node, &token, &err) < 0) {
		if (err->code == EEXIST)
			mk_reply_status(rep, 409, "nodes", node, "%s", err->msg);
		else if (err->code == 422)
			mk_reply_status(rep, 422, "nodes", node, "%s", err->msg);
		else
			mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
		return true;
	}
	mk_log(MK_LOG_INFO, "apiserver", "issued a node credential for %s", node);
	_cleanup_cjson_ cJSON *out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "nodeName", node);
	cJSON_AddStringToObject(out, "token", token);
	mk_reply_json(rep, 201, out);
	explicit_bzero(token, strlen(token));
	return true;
}
