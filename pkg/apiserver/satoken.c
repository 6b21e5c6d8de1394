/* Service account tokens: JWTs (RFC 7519) signed RS256 (RSASSA-PKCS1-v1_5 with
 * SHA-256, RFC 7518 3.3) by a key the server keeps in its data dir, with the
 * claims kube-apiserver's TokenRequest puts in them (iss, sub, aud, exp, iat, nbf
 * and the kubernetes.io object naming the namespace, the service account and the
 * pod a token is bound to). Verification checks the signature, the time window,
 * the audience and then that the service account, and the bound pod, still exist
 * with the uids in the token (upstream's "legacy-less" bound token validation). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include "internal.h"

#define RSA_BITS 2048
#define MAX_TOKEN 8192
/* clock skew tolerated on nbf and exp, as upstream's validator (NotBefore/Expiry
 * with a leeway) */
#define LEEWAY 60

struct mk_satoken_key {
	gnutls_privkey_t priv;
	gnutls_pubkey_t pub;
	char kid[48];
};

void mk_satoken_key_free(struct mk_satoken_key *k)
{
	if (!k)
		return;
	if (k->priv)
		gnutls_privkey_deinit(k->priv);
	if (k->pub)
		gnutls_pubkey_deinit(k->pub);
	free(k);
}

/* JWS segments are base64url without padding (RFC 7515 2) */
static int b64url_decode(const char *s, size_t len, void **ret, size_t *ret_len)
{
	if (len > MAX_TOKEN)
		return -1;
	return mk_base64url_decode(s, len, ret, ret_len);
}

static int key_finish(struct mk_satoken_key *k, gnutls_x509_privkey_t x, struct mk_error **err)
{
	int r;
	if ((r = gnutls_privkey_init(&k->priv)) < 0 ||
	    (r = gnutls_privkey_import_x509(k->priv, x, GNUTLS_PRIVKEY_IMPORT_COPY)) < 0 ||
	    (r = gnutls_pubkey_init(&k->pub)) < 0 ||
	    (r = gnutls_pubkey_import_privkey(k->pub, k->priv, 0, 0)) < 0)
		return mk_error_set(err, EINVAL, "service account key: %s", gnutls_strerror(r));
	if (gnutls_pubkey_get_pk_algorithm(k->pub, NULL) != GNUTLS_PK_RSA)
		return mk_error_set(err, EINVAL, "service account key: not an RSA key");
	/* kid: base64url of the SHA-256 of the DER public key, as kube-apiserver */
	gnutls_datum_t der = { 0 };
	unsigned char h[32];
	if (gnutls_pubkey_export2(k->pub, GNUTLS_X509_FMT_DER, &der) >= 0) {
		gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, h);
		gnutls_free(der.data);
		_cleanup_free_ char *kid = mk_base64url_encode(h, sizeof(h));
		snprintf(k->kid, sizeof(k->kid), "%s", kid);
	}
	return 0;
}

int mk_satoken_key_load(const char *path, struct mk_satoken_key **ret, struct mk_error **err)
{
	struct mk_satoken_key *k = mk_malloc0(sizeof(*k));
	gnutls_x509_privkey_t x = NULL;
	_cleanup_free_ char *pem = NULL;
	size_t len = 0;
	int r = -1, g;

	if ((g = gnutls_x509_privkey_init(&x)) < 0) {
		mk_error_set(err, ENOMEM, "service account key: %s", gnutls_strerror(g));
		goto out;
	}
	if (path && mk_fs_read_file(path, &pem, &len, err) == 0) {
		gnutls_datum_t d = { (unsigned char *)pem, (unsigned)len };
		if ((g = gnutls_x509_privkey_import(x, &d, GNUTLS_X509_FMT_PEM)) < 0) {
			mk_error_set(err, EINVAL, "read '%s': %s", path, gnutls_strerror(g));
			goto out;
		}
	} else {
		if (path && (*err)->code != ENOENT)
			goto out;
		mk_error_free(err);
		if ((g = gnutls_x509_privkey_generate(x, GNUTLS_PK_RSA, RSA_BITS, 0)) < 0) {
			mk_error_set(err, EIO, "generate service account key: %s", gnutls_strerror(g));
			goto out;
		}
		if (path) {
			gnutls_datum_t out = { 0 };
			if ((g = gnutls_x509_privkey_export2(x, GNUTLS_X509_FMT_PEM, &out)) < 0) {
				mk_error_set(err, EIO, "export service account key: %s",
					     gnutls_strerror(g));
				goto out;
			}
			int w = mk_fs_write_file(path, out.data, out.size, 0600, err);
			gnutls_memset(out.data, 0, out.size);
			gnutls_free(out.data);
			if (w < 0)
				goto out;
		}
	}
	if (key_finish(k, x, err) < 0)
		goto out;
	*ret = TAKE_PTR(k);
	r = 0;
out:
	if (pem)
		explicit_bzero(pem, len);
	if (x)
		gnutls_x509_privkey_deinit(x);
	mk_satoken_key_free(k);
	return r;
}

char *mk_satoken_sign(const struct mk_satoken_key *k, const cJSON *claims, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *hdr = cJSON_CreateObject();
	cJSON_AddStringToObject(hdr, "alg", "RS256");
	if (k->kid[0])
		cJSON_AddStringToObject(hdr, "kid", k->kid);
	_cleanup_free_ char *h = cJSON_PrintUnformatted(hdr);
	_cleanup_free_ char *c = cJSON_PrintUnformatted(claims);
	_cleanup_free_ char *h64 = mk_base64url_encode(h, strlen(h));
	_cleanup_free_ char *c64 = mk_base64url_encode(c, strlen(c));
	_cleanup_free_ char *input = mk_strdup_printf("%s.%s", h64, c64);
	gnutls_datum_t data = { (unsigned char *)input, (unsigned)strlen(input) }, sig = { 0 };
	int g = gnutls_privkey_sign_data(k->priv, GNUTLS_DIG_SHA256, 0, &data, &sig);
	if (g < 0) {
		mk_error_set(err, EIO, "sign token: %s", gnutls_strerror(g));
		return NULL;
	}
	_cleanup_free_ char *s64 = mk_base64url_encode(sig.data, sig.size);
	gnutls_free(sig.data);
	return mk_strdup_printf("%s.%s", input, s64);
}

bool mk_satoken_looks_like(const char *token)
{
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	return !strncmp(token, "eyJ", 3) && d2 && !strchr(d2 + 1, '.') && strlen(token) < MAX_TOKEN;
}

static bool aud_has(const cJSON *aud, const char *want)
{
	const cJSON *a;
	if (cJSON_IsString(aud))
		return !strcmp(aud->valuestring, want);
	cJSON_ArrayForEach(a, aud)
	{
		if (cJSON_IsString(a) && !strcmp(a->valuestring, want))
			return true;
	}
	return false;
}

static cJSON *decode_part(const char *s, size_t len)
{
	_cleanup_free_ void *raw = NULL;
	size_t n = 0;
	if (b64url_decode(s, len, &raw, &n) < 0)
		return NULL;
	cJSON *j = cJSON_ParseWithLength(raw, n);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int mk_satoken_verify(const struct mk_satoken_key *k, const char *token, time_t now,
		      const char *audience, cJSON **ret_claims, struct mk_error **err)
{
	if (!mk_satoken_looks_like(token))
		return mk_error_set(err, EINVAL, "not a JWT");
	const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
	_cleanup_cjson_ cJSON *hdr = decode_part(token, d1 - token);
	if (!hdr)
		return mk_error_set(err, EINVAL, "malformed token header");
	const char *alg = mk_json_get_string(hdr, "alg");
	if (!alg || strcmp(alg, "RS256")) /* never "none", never another algorithm */
		return mk_error_set(err, EINVAL, "token algorithm '%s' not accepted",
				    alg ? alg : "");
	_cleanup_free_ void *sig = NULL;
	size_t sig_len = 0;
	if (b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &sig_len) < 0 || !sig_len)
		return mk_error_set(err, EINVAL, "malformed token signature");
	gnutls_datum_t data = { (unsigned char *)token, (unsigned)(d2 - token) };
	gnutls_datum_t sd = { sig, (unsigned)sig_len };
	if (gnutls_pubkey_verify_data2(k->pub, GNUTLS_SIGN_RSA_SHA256, 0, &data, &sd) < 0)
		return mk_error_set(err, EACCES, "invalid token signature");
	_cleanup_cjson_ cJSON *claims = decode_part(d1 + 1, d2 - d1 - 1);
	if (!claims)
		return mk_error_set(err, EINVAL, "malformed token claims");
	const char *iss = mk_json_get_string(claims, "iss");
	if (!iss || strcmp(iss, MK_SATOKEN_ISSUER))
		return mk_error_set(err, EACCES, "token issuer '%s' not accepted", iss ? iss : "");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
	if (!cJSON_IsNumber(exp) || (double)now > exp->valuedouble + LEEWAY)
		return mk_error_set(err, EACCES, "token has expired");
	if (nbf && (!cJSON_IsNumber(nbf) || (double)now + LEEWAY < nbf->valuedouble))
		return mk_error_set(err, EACCES, "token not valid yet");
	if (!aud_has(cJSON_GetObjectItemCaseSensitive(claims, "aud"), audience))
		return mk_error_set(err, EACCES, "token audiences do not include '%s'", audience);
	*ret_claims = TAKE_PTR(claims);
	return 0;
}

cJSON *mk_satoken_claims_new(const char *ns, const char *sa, const char *sa_uid,
			     const char *pod, const char *pod_uid, const cJSON *audiences,
			     time_t iat, time_t exp)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddItemToObject(c, "aud", cJSON_Duplicate(audiences, 1));
	cJSON_AddNumberToObject(c, "exp", (double)exp);
	cJSON_AddNumberToObject(c, "iat", (double)iat);
	cJSON_AddStringToObject(c, "iss", MK_SATOKEN_ISSUER);
	char jti[37];
	mk_uuid_v4(jti);
	cJSON_AddStringToObject(c, "jti", jti);
	cJSON *kio = cJSON_AddObjectToObject(c, "kubernetes.io");
	cJSON_AddStringToObject(kio, "namespace", ns);
	if (pod) {
		cJSON *p = cJSON_AddObjectToObject(kio, "pod");
		cJSON_AddStringToObject(p, "name", pod);
		cJSON_AddStringToObject(p, "uid", pod_uid);
	}
	cJSON *s = cJSON_AddObjectToObject(kio, "serviceaccount");
	cJSON_AddStringToObject(s, "name", sa);
	cJSON_AddStringToObject(s, "uid", sa_uid);
	cJSON_AddNumberToObject(c, "nbf", (double)iat);
	_cleanup_free_ char *sub = mk_strdup_printf("system:serviceaccount:%s:%s", ns, sa);
	cJSON_AddStringToObject(c, "sub", sub);
	return c;
}

/* the object's uid, when it exists and its deletion time (if any) has not passed:
 * a pod keeps its identity through its grace period, as upstream's validator */
static int live_uid(struct mk_store *store, const char *res, const char *ns, const char *name,
		    time_t now, char **ret_uid, struct mk_error **err)
{
	_cleanup_free_ char *json = NULL;
	if (mk_store_get(store, res, ns, name, &json, NULL, err) < 0)
		return -1;
	_cleanup_cjson_ cJSON *o = cJSON_Parse(json);
	const char *uid = mk_json_get_string(o, "metadata.uid");
	if (!uid)
		return mk_error_set(err, EINVAL, "%s/%s has no uid", res, name);
	const char *dt = mk_json_get_string(o, "metadata.deletionTimestamp");
	if (dt && mk_time_parse(dt) <= now)
		return mk_error_set(err, ENOENT, "%s \"%s\" is being deleted", res, name);
	*ret_uid = mk_strdup(uid);
	return 0;
}

int mk_satoken_authenticate(const struct mk_satoken_key *k, struct mk_store *store,
			    const char *token, time_t now, const char *audience, char **ret_ns,
			    char **ret_name, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *c = NULL;
	if (mk_satoken_verify(k, token, now, audience, &c, err) < 0)
		return -1;
	const cJSON *kio = cJSON_GetObjectItemCaseSensitive(c, "kubernetes.io");
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(kio, "serviceaccount");
	const cJSON *pod = cJSON_GetObjectItemCaseSensitive(kio, "pod");
	const char *ns = mk_json_get_string(kio, "namespace");
	const char *name = mk_json_get_string(sa, "name"), *uid = mk_json_get_string(sa, "uid");
	if (!ns || !name || !uid)
		return mk_error_set(err, EINVAL, "token names no service account");
	_cleanup_free_ char *cur = NULL;
	if (live_uid(store, "serviceaccounts", ns, name, now, &cur, err) < 0)
		return mk_error_wrap(err, "service account %s/%s", ns, name);
	if (strcmp(cur, uid))
		return mk_error_set(err, EACCES, "service account %s/%s has been recreated (uid %s, not %s)",
				    ns, name, cur, uid);
	if (pod) {
		const char *pn = mk_json_get_string(pod, "name"), *pu = mk_json_get_string(pod, "uid");
		_cleanup_free_ char *pcur = NULL;
		if (!pn || !pu)
			return mk_error_set(err, EINVAL, "malformed pod binding");
		if (live_uid(store, "pods", ns, pn, now, &pcur, err) < 0)
			return mk_error_wrap(err, "bound pod %s/%s", ns, pn);
		if (strcmp(pcur, pu))
			return mk_error_set(err, EACCES, "bound pod %s/%s has been recreated", ns, pn);
	}
	*ret_ns = mk_strdup(ns);
	*ret_name = mk_strdup(name);
	return 0;
}
