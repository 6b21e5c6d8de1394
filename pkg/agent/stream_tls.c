/* The streaming server's own serving certificate. Kubelet makes a self-signed
 * one when it is given none; the API server does not verify it (as
 * kube-apiserver without --kubelet-certificate-authority): what matters is that
 * the agent verifies the API server, which it does with the cluster CA. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "stream_internal.h"

#define LIFETIME (365 * 24 * 60 * 60)

static int gtls_err(struct mk_error **err, int r, const char *what)
{
	return mk_error_set(err, EIO, "%s: %s", what, gnutls_strerror(r));
}

int stream_tls_self_signed(const char *host, char **ret_cert_pem, char **ret_key_pem,
			   struct mk_error **err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kpem = { NULL, 0 }, cpem = { NULL, 0 };
	unsigned char serial[16], ip[16], keyid[64];
	size_t keyid_len = sizeof(keyid);
	int r, ret = -1;

	if ((r = gnutls_x509_privkey_init(&key)) < 0 ||
	    (r = gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA,
					       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
					       0, NULL, 0)) < 0) {
		gtls_err(err, r, "generate agent serving key");
		goto out;
	}
	mk_random_bytes(serial, sizeof(serial));
	serial[0] = (serial[0] & 0x7f) | 0x40;
	const char *cn = "minik8s-agent";
	if ((r = gnutls_x509_crt_init(&crt)) < 0 || (r = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (r = gnutls_x509_crt_set_activation_time(crt, time(NULL) - 3600)) < 0 ||
	    (r = gnutls_x509_crt_set_expiration_time(crt, time(NULL) + LIFETIME)) < 0 ||
	    (r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					       (unsigned)strlen(cn))) < 0 ||
	    (r = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (r = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, keyid, &keyid_len)) < 0 ||
	    (r = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len)) < 0 ||
	    (r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0) {
		gtls_err(err, r, "build agent serving certificate");
		goto out;
	}
	if (host && inet_pton(AF_INET, host, ip) == 1)
		r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
							 GNUTLS_FSAN_APPEND);
	else if (host && inet_pton(AF_INET6, host, ip) == 1)
		r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
							 GNUTLS_FSAN_APPEND);
	else if (host && *host)
		r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host,
							 (unsigned)strlen(host), GNUTLS_FSAN_APPEND);
	if (r < 0 || (r = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0) {
		gtls_err(err, r, "sign agent serving certificate");
		goto out;
	}
	if ((r = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem)) < 0 ||
	    (r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem)) < 0) {
		gtls_err(err, r, "export agent serving certificate");
		goto out;
	}
	*ret_cert_pem = mk_malloc0(cpem.size + 1);
	memcpy(*ret_cert_pem, cpem.data, cpem.size);
	*ret_key_pem = mk_malloc0(kpem.size + 1);
	memcpy(*ret_key_pem, kpem.data, kpem.size);
	ret = 0;
out:
	if (kpem.data) {
		explicit_bzero(kpem.data, kpem.size);
		gnutls_free(kpem.data);
	}
	gnutls_free(cpem.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return ret;
}

/* Only a certificate made for TLS clients may authenticate one: its extended key
 * usage must list clientAuth (or anyExtendedKeyUsage). A certificate without the
 * extension is refused too, although Go's crypto/x509 treats that as "any usage":
 * every certificate the cluster CA issues carries the extension, and the point is
 * that a serving certificate (serverAuth) or a CA cannot stand in for the API
 * server's client certificate. */
bool stream_tls_is_client_cert(gnutls_x509_crt_t crt)
{
	for (unsigned i = 0;; i++) {
		char oid[128];
		size_t len = sizeof(oid);
		unsigned critical = 0;
		int r = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &len, &critical);
		if (r == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* longer than any purpose we accept */
		if (r < 0)
			return false; /* no (more) purposes */
		if (!strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) || !strcmp(oid, GNUTLS_KP_ANY))
			return true;
	}
}
