/* Cluster bootstrap data on a shared datastore (k3s keeps the same in its datastore,
 * encrypted with the token): see mk_apiserver_cluster_bootstrap in apiserver.h.
 *
 * The record is one store object, resource "minik8s-bootstrap", name "cluster" (no
 * API resource: the API never serves it). Its "sealed" field is the base64 of a
 * 12-byte nonce, the AES-256-GCM ciphertext of {"files":{RELPATH: TEXT, ...}} and the
 * tag; the key is PBKDF2-HMAC-SHA256 of the token with the record's salt. */
#include <errno.h>
#include <string.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include "internal.h"

#define BOOT_RESOURCE "minik8s-bootstrap"
#define BOOT_NAME "cluster"
#define BOOT_AAD "minik8s cluster bootstrap v1"
#define PBKDF2_ITER 100000
#define SALT_LEN 16
#define NONCE_LEN 12
#define TAG_LEN 16

/* The files, relative to the data dir, and their modes. The secrets key is
 * optional (a cluster without --secrets-encryption has none). */
static const struct {
	const char *rel;
	mode_t mode;
	bool optional;
} files[] = {
	{ "tls/ca.crt", 0644, false },
	{ "tls/ca.key", 0600, false },
	{ "tls/sa.key", 0600, false },
	{ "token", 0600, false },
	{ "node-secret", 0600, false },
	{ "cred/secrets-encryption.key", 0600, true },
};
#define SECRETS_KEY_FILE "cred/secrets-encryption.key"

static int derive_key(const char *token, const unsigned char *salt, size_t salt_len,
		      unsigned iter, unsigned char key[32], struct mk_error **err)
{
	gnutls_datum_t k = { (unsigned char *)token, (unsigned)strlen(token) };
	gnutls_datum_t s = { (unsigned char *)salt, (unsigned)salt_len };
	int r = gnutls_pbkdf2(GNUTLS_MAC_SHA256, &k, &s, iter, key, 32);
	if (r < 0)
		return mk_error_set(err, EIO, "derive the bootstrap key: %s", gnutls_strerror(r));
	return 0;
}

/* An AES-256-GCM handle keyed from token and salt (the key is wiped once used). */
static int cipher_open(const char *token, const void *salt, size_t salt_len, unsigned iter,
		       gnutls_aead_cipher_hd_t *h, struct mk_error **err)
{
	unsigned char key[32];
	if (derive_key(token, salt, salt_len, iter, key, err) < 0)
		return -1;
	gnutls_datum_t k = { key, sizeof(key) };
	int r = gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM, &k);
	explicit_bzero(key, sizeof(key));
	if (r < 0)
		return mk_error_set(err, EIO, "AES-256-GCM: %s", gnutls_strerror(r));
	return 0;
}

/* The record for plain (the files' JSON) sealed under token. */
static cJSON *seal(const char *token, const char *plain, struct mk_error **err)
{
	unsigned char salt[SALT_LEN];
	size_t plen = strlen(plain), clen = plen + TAG_LEN;
	_cleanup_free_ unsigned char *buf = mk_malloc0(NONCE_LEN + clen);
	gnutls_aead_cipher_hd_t h;

	if (gnutls_rnd(GNUTLS_RND_NONCE, salt, sizeof(salt)) < 0 ||
	    gnutls_rnd(GNUTLS_RND_NONCE, buf, NONCE_LEN) < 0) {
		mk_error_set(err, EIO, "no random bytes");
		return NULL;
	}
	if (cipher_open(token, salt, sizeof(salt), PBKDF2_ITER, &h, err) < 0)
		return NULL;
	int r = gnutls_aead_cipher_encrypt(h, buf, NONCE_LEN, BOOT_AAD, strlen(BOOT_AAD), TAG_LEN,
				       plain, plen, buf + NONCE_LEN, &clen);
	gnutls_aead_cipher_deinit(h);
	if (r < 0) {
		mk_error_set(err, EIO, "seal the bootstrap data: %s", gnutls_strerror(r));
		return NULL;
	}
	cJSON *rec = mk_api_object_new("minik8s.io/v1", "ClusterBootstrap", NULL, BOOT_NAME);
	_cleanup_free_ char *salt64 = mk_base64_encode(salt, sizeof(salt));
	_cleanup_free_ char *sealed64 = mk_base64_encode(buf, NONCE_LEN + clen);
	cJSON_AddStringToObject(rec, "kdf", "pbkdf2-sha256");
	cJSON_AddNumberToObject(rec, "iterations", PBKDF2_ITER);
	cJSON_AddStringToObject(rec, "salt", salt64);
	cJSON_AddStringToObject(rec, "sealed", sealed64);
	return rec;
}

/* The files' JSON of a record (owned), or NULL with EACCES when token does not open
 * it. */
static cJSON *unseal(const cJSON *rec, const char *token, struct mk_error **err)
{
	const char *salt64 = mk_json_get_string(rec, "salt");
	const char *sealed64 = mk_json_get_string(rec, "sealed");
	const cJSON *it = cJSON_GetObjectItem(rec, "iterations");
	_cleanup_free_ void *salt = NULL, *sealed = NULL;
	size_t salt_len = 0, n = 0;
	gnutls_aead_cipher_hd_t h;

	if (!salt64 || !sealed64 || !cJSON_IsNumber(it) || it->valuedouble < 1 ||
	    it->valuedouble > 1e8 || mk_base64_decode(salt64, &salt, &salt_len) < 0 ||
	    mk_base64_decode(sealed64, &sealed, &n) < 0 || n < NONCE_LEN + TAG_LEN) {
		mk_error_set(err, EIO, "the datastore's cluster bootstrap data is malformed");
		return NULL;
	}
	if (cipher_open(token, salt, salt_len, (unsigned)it->valuedouble, &h, err) < 0)
		return NULL;
	size_t plen = n - NONCE_LEN;
	_cleanup_free_ char *out = mk_malloc0(plen + 1);
	int r = gnutls_aead_cipher_decrypt(h, sealed, NONCE_LEN, BOOT_AAD, strlen(BOOT_AAD), TAG_LEN,
					   (unsigned char *)sealed + NONCE_LEN, n - NONCE_LEN, out,
					   &plen);
	gnutls_aead_cipher_deinit(h);
	if (r < 0) {
		mk_error_set(err, EACCES,
			     "the datastore holds another cluster's bootstrap data, sealed with "
			     "another token: give this cluster's --token (the first server's join "
			     "secret, the part after '::node:' in its DIR/node-token)");
		return NULL;
	}
	out[plen] = '\0';
	cJSON *j = cJSON_Parse(out);
	explicit_bzero(out, plen);
	if (!cJSON_IsObject(cJSON_GetObjectItem(j, "files"))) {
		cJSON_Delete(j);
		mk_error_set(err, EIO, "the datastore's cluster bootstrap data is malformed");
		return NULL;
	}
	return j;
}

/* Reads DIR/REL into *ret (trimmed of nothing: files are kept byte for byte);
 * 0 when it does not exist. */
static int read_opt(const char *dir, const char *rel, char **ret, struct mk_error **err)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/%s", dir, rel);
	struct mk_error *e = NULL;
	if (mk_fs_read_file(path, ret, NULL, &e) == 0)
		return 1;
	if (e->code == ENOENT) {
		mk_error_free(&e);
		return 0;
	}
	mk_error_set(err, e->code, "%s", e->msg);
	mk_error_free(&e);
	return -1;
}

/* Writes the record's files into DIR (those that differ). */
static int apply(const char *dir, const cJSON *plain, struct mk_error **err)
{
	const cJSON *fs = cJSON_GetObjectItem(plain, "files");
	for (size_t i = 0; i < MK_ARRAY_SIZE(files); i++) {
		/* not mk_json_get_string: the names hold dots */
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(fs, files[i].rel));
		if (!text) {
			if (files[i].optional)
				continue;
			return mk_error_set(err, EIO, "the datastore's cluster bootstrap data has "
					    "no '%s'", files[i].rel);
		}
		_cleanup_free_ char *have = NULL;
		int r = read_opt(dir, files[i].rel, &have, err);
		if (r < 0)
			return -1;
		if (r > 0 && !strcmp(have, text))
			continue;
		_cleanup_free_ char *path = mk_strdup_printf("%s/%s", dir, files[i].rel);
		_cleanup_free_ char *parent = mk_strdup(path);
		*strrchr(parent, '/') = '\0';
		if (mk_fs_mkdir_p(parent, 0700, err) < 0 ||
		    mk_fs_write_file(path, text, strlen(text), files[i].mode, err) < 0)
			return -1;
		if (r > 0)
			mk_log(MK_LOG_WARN, "apiserver", "%s replaced by the cluster's (datastore)", path);
	}
	return 0;
}

/* A first server's files: the local ones, made where missing. */
static cJSON *collect(const struct mk_apiserver_cluster_options *o, struct mk_error **err)
{
	const char *dir = o->data_dir;
	_cleanup_free_ char *tls = mk_strdup_printf("%s/tls", dir);
	_cleanup_free_ char *sa = mk_strdup_printf("%s/sa.key", tls);
	_cleanup_free_ char *cred = mk_strdup_printf("%s/cred", dir);
	_cleanup_free_ char *skey = mk_strdup_printf("%s/" SECRETS_KEY_FILE, dir);
	struct mk_satoken_key *k = NULL;
	unsigned char key[MK_STORE_KEY_LEN];
	bool found = false;

	if (mk_fs_mkdir_p(dir, 0700, err) < 0)
		return NULL;
	for (size_t i = 0; i < 2; i++) {
		const char *rel = i ? "node-secret" : "token";
		_cleanup_free_ char *have = NULL;
		int r = read_opt(dir, rel, &have, err);
		if (r < 0)
			return NULL;
		if (r > 0 && !(i && o->token))
			continue;
		char tok[65];
		mk_random_hex(tok, 32);
		_cleanup_free_ char *line = mk_strdup_printf("%s\n", i && o->token ? o->token : tok);
		_cleanup_free_ char *path = mk_strdup_printf("%s/%s", dir, rel);
		if (mk_fs_write_file(path, line, strlen(line), 0600, err) < 0)
			return NULL;
	}
	if (mk_apiserver_tls_ca_ensure(tls, err) < 0 || mk_satoken_key_load(sa, &k, err) < 0)
		return NULL;
	mk_satoken_key_free(k);
	if (o->secrets_encryption && mk_fs_mkdir_p(cred, 0700, err) < 0)
		return NULL;
	if (mk_store_key_load(skey, o->secrets_encryption, key, &found, err) < 0)
		return NULL;
	explicit_bzero(key, sizeof(key));

	cJSON *plain = cJSON_CreateObject();
	cJSON *fs = cJSON_AddObjectToObject(plain, "files");
	for (size_t i = 0; i < MK_ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *text = NULL;
		int r = read_opt(dir, files[i].rel, &text, err);
		if (r < 0 || (r == 0 && !files[i].optional)) {
			if (r == 0)
				mk_error_set(err, ENOENT, "'%s/%s' is missing", dir, files[i].rel);
			cJSON_Delete(plain);
			return NULL;
		}
		if (r > 0)
			cJSON_AddStringToObject(fs, files[i].rel, text);
	}
	return plain;
}

/* The token a server seals or opens with: the given one, else DIR/node-secret's. */
static int cluster_token(const struct mk_apiserver_cluster_options *o, char **ret,
			 struct mk_error **err)
{
	if (o->token) {
		*ret = mk_strdup(o->token);
		return 1;
	}
	int r = read_opt(o->data_dir, "node-secret", ret, err);
	if (r > 0)
		(*ret)[strcspn(*ret, "\r\n")] = '\0';
	return r;
}

static int publish(struct mk_store *store, const struct mk_apiserver_cluster_options *o,
		   cJSON *plain, uint64_t expect_rv, struct mk_error **err)
{
	_cleanup_free_ char *token = NULL, *text = NULL;
	if (cluster_token(o, &token, err) <= 0)
		return mk_error_set(err, EIO, "no cluster token in '%s/node-secret'", o->data_dir);
	text = cJSON_PrintUnformatted(plain);
	_cleanup_cjson_ cJSON *rec = seal(token, text, err);
	explicit_bzero(text, strlen(text));
	if (!rec)
		return -1;
	if (expect_rv)
		return mk_store_update(store, BOOT_RESOURCE, "", BOOT_NAME, expect_rv, rec, NULL,
				       NULL, err);
	return mk_store_create(store, BOOT_RESOURCE, "", BOOT_NAME, rec, NULL, NULL, err);
}

/* A cluster bootstrapped without a secrets key gets one when a server asks for
 * encryption (else that server alone would seal Secrets with a key of its own). */
static int add_secrets_key(struct mk_store *store, const struct mk_apiserver_cluster_options *o,
			   cJSON *plain, uint64_t rv, struct mk_error **err)
{
	_cleanup_free_ char *skey = mk_strdup_printf("%s/" SECRETS_KEY_FILE, o->data_dir);
	_cleanup_free_ char *cred = mk_strdup_printf("%s/cred", o->data_dir);
	_cleanup_free_ char *text = NULL;
	unsigned char key[MK_STORE_KEY_LEN];
	bool found = false;

	if (mk_fs_mkdir_p(cred, 0700, err) < 0 ||
	    mk_store_key_load(skey, true, key, &found, err) < 0)
		return -1;
	explicit_bzero(key, sizeof(key));
	if (read_opt(o->data_dir, SECRETS_KEY_FILE, &text, err) <= 0)
		return -1;
	cJSON_AddStringToObject(cJSON_GetObjectItem(plain, "files"), SECRETS_KEY_FILE, text);
	return publish(store, o, plain, rv, err);
}

int mk_apiserver_cluster_bootstrap(struct mk_store *store,
				   const struct mk_apiserver_cluster_options *o,
				   struct mk_error **err)
{
	/* a lost race (create-if-absent or update) is retried from the winner's data */
	for (int attempt = 0; attempt < 5; attempt++) {
		_cleanup_free_ char *json = NULL, *token = NULL;
		_cleanup_error_ struct mk_error *e = NULL;
		uint64_t rv = 0;

		if (mk_store_get(store, BOOT_RESOURCE, "", BOOT_NAME, &json, &rv, &e) < 0) {
			if (e->code != ENOENT)
				return mk_error_set(err, e->code, "read cluster bootstrap data: %s",
						    e->msg);
			mk_error_free(&e);
			_cleanup_cjson_ cJSON *plain = collect(o, err);
			if (!plain)
				return -1;
			if (publish(store, o, plain, 0, &e) == 0) {
				mk_log(MK_LOG_INFO, "apiserver", "cluster bootstrap data stored in "
				       "the datastore (sealed with the cluster token)");
				return 0;
			}
			if (e->code != EEXIST)
				return mk_error_set(err, e->code, "store cluster bootstrap data: %s",
						    e->msg);
			continue; /* another first server won: take its data */
		}
		int r = cluster_token(o, &token, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return mk_error_set(err, EACCES, "the datastore holds a cluster's bootstrap "
					    "data: start with that cluster's --token (the first "
					    "server's join secret)");
		_cleanup_cjson_ cJSON *rec = cJSON_Parse(json);
		_cleanup_cjson_ cJSON *plain = unseal(rec, token, err);
		if (!plain)
			return -1;
		if (o->secrets_encryption &&
		    !cJSON_GetObjectItem(cJSON_GetObjectItem(plain, "files"), SECRETS_KEY_FILE)) {
			if (add_secrets_key(store, o, plain, rv, &e) < 0) {
				if (e && e->code == ESTALE)
					continue;
				return mk_error_set(err, e ? e->code : EIO, "%s",
						    e ? e->msg : "add the secrets key");
			}
		}
		if (apply(o->data_dir, plain, err) < 0)
			return -1;
		mk_log(MK_LOG_INFO, "apiserver", "cluster bootstrap data loaded from the datastore");
		return 1;
	}
	return mk_error_set(err, EAGAIN, "cluster bootstrap data kept changing under us");
}
