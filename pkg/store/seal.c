/* Encryption at rest (`minik8s server --secrets-encryption`): the stored JSON of the
 * resources the server names (Secrets) is sealed with AES-256-GCM before it reaches
 * SQLite, in the objects table and in the events table alike, and opened again on
 * every read, so watch events and lists carry plain objects.
 *
 * A sealed row is text: "k8s:enc:aesgcm:v1:key1:" and the base64 of a random
 * 12-byte nonce, the ciphertext and the 16-byte tag (kube-apiserver's aesgcm
 * provider marks its values with the same kind of prefix). The additional data is
 * "resource/namespace/name", so a sealed value copied onto another object's row
 * does not open. Rows without the prefix (written before encryption was turned on)
 * read as they are and are sealed on their next write. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include "internal.h"

#define PREFIX "k8s:enc:aesgcm:v1:key1:"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define NONCE_LEN 12
#define TAG_LEN 16

bool store_seals(const struct mk_store *s, const char *resource)
{
	for (size_t i = 0; s->has_key && i < s->n_encrypt; i++)
		if (!strcmp(s->encrypt[i], resource))
			return true;
	return false;
}

static char *aad(const char *resource, const char *ns, const char *name)
{
	return mk_strdup_printf("%s/%s/%s", resource, ns ? ns : "", name ? name : "");
}

char *store_seal(const struct mk_store *s, const char *resource, const char *ns, const char *name,
		 const char *json)
{
	/* the committer's path for every write: nothing to do for most resources */
	if (!store_seals(s, resource))
		return NULL;

	gnutls_aead_cipher_hd_t h;
	gnutls_datum_t k = { (unsigned char *)s->key, MK_STORE_KEY_LEN };
	size_t plen = strlen(json), clen = plen + TAG_LEN;
	_cleanup_free_ unsigned char *buf = mk_malloc0(NONCE_LEN + clen);
	_cleanup_free_ char *ad = aad(resource, ns, name);
	/* nothing here can fail short of a broken library: abort rather than store
	 * a secret in the clear */
	if (gnutls_rnd(GNUTLS_RND_NONCE, buf, NONCE_LEN) < 0 ||
	    gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) < 0)
		abort();
	int r = gnutls_aead_cipher_encrypt(h, buf, NONCE_LEN, ad, strlen(ad), TAG_LEN, json, plen,
					   buf + NONCE_LEN, &clen);
	gnutls_aead_cipher_deinit(h);
	if (r < 0)
		abort();
	_cleanup_free_ char *b64 = mk_base64_encode(buf, NONCE_LEN + clen);
	return mk_strdup_printf("%s%s", PREFIX, b64);
}

int store_unseal(const struct mk_store *s, const char *resource, const char *ns, const char *name,
		 const char *text, char **ret, struct mk_error **err)
{
	_cleanup_free_ void *raw = NULL;
	size_t n = 0;

	if (!text || strncmp(text, PREFIX, PREFIX_LEN) != 0) {
		*ret = mk_strdup(text ? text : "");
		return 0;
	}
	if (!s->has_key)
		return mk_error_set(err, EIO,
				    "object '%s/%s/%s' is encrypted at rest and the server has no key "
				    "(run it with --secrets-encryption)",
				    resource, ns ? ns : "", name ? name : "");
	if (mk_base64_decode(text + PREFIX_LEN, &raw, &n) < 0 || n < NONCE_LEN + TAG_LEN)
		return mk_error_set(err, EIO, "object '%s/%s/%s': malformed encrypted value", resource,
				    ns ? ns : "", name ? name : "");
	gnutls_aead_cipher_hd_t h;
	gnutls_datum_t k = { (unsigned char *)s->key, MK_STORE_KEY_LEN };
	_cleanup_free_ char *ad = aad(resource, ns, name);
	size_t plen = n - NONCE_LEN;
	char *out = mk_malloc0(plen + 1);
	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) < 0)
		abort();
	int r = gnutls_aead_cipher_decrypt(h, raw, NONCE_LEN, ad, strlen(ad), TAG_LEN,
					   (unsigned char *)raw + NONCE_LEN, n - NONCE_LEN, out, &plen);
	gnutls_aead_cipher_deinit(h);
	if (r < 0) {
		free(out);
		return mk_error_set(err, EIO,
				    "object '%s/%s/%s': cannot decrypt (wrong key or damaged value): %s",
				    resource, ns ? ns : "", name ? name : "", gnutls_strerror(r));
	}
	out[plen] = '\0';
	*ret = out;
	return 0;
}

int mk_store_key_load(const char *path, bool create, unsigned char key[MK_STORE_KEY_LEN],
		      bool *ret_found, struct mk_error **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ void *raw = NULL;
	size_t n = 0;

	*ret_found = false;
	if (access(path, F_OK) != 0) {
		if (errno != ENOENT)
			return mk_error_errno(err, errno, "access '%s'", path);
		if (!create)
			return 0;
		unsigned char k[MK_STORE_KEY_LEN];
		if (gnutls_rnd(GNUTLS_RND_KEY, k, sizeof(k)) < 0)
			return mk_error_set(err, EIO, "no random bytes for a key");
		_cleanup_free_ char *b64 = mk_base64_encode(k, sizeof(k));
		_cleanup_free_ char *line = mk_strdup_printf("%s\n", b64);
		if (mk_fs_write_file(path, line, strlen(line), 0600, err) < 0)
			return -1;
		memcpy(key, k, sizeof(k));
		*ret_found = true;
		return 0;
	}
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		chmod(path, st.st_mode & 0700); /* a key readable by others is no secret */
	if (mk_fs_read_file(path, &text, NULL, err) < 0)
		return -1;
	text[strcspn(text, "\r\n")] = '\0';
	if (mk_base64_decode(text, &raw, &n) < 0 || n != MK_STORE_KEY_LEN)
		return mk_error_set(err, EINVAL, "key file '%s': want the base64 of %d bytes", path,
				    MK_STORE_KEY_LEN);
	memcpy(key, raw, MK_STORE_KEY_LEN);
	*ret_found = true;
	return 0;
}
