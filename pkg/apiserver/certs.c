/* TLS material for the API server: a cluster CA made once and a serving
 * certificate re-issued whenever the wanted subject alternative names change or
 * the certificate nears its end (k3s and kubeadm do the same on start).
 *
 * GnuTLS does the crypto (libmicrohttpd serves with it too). Keys are ECDSA P-256
 * in SEC1 PEM ("EC PRIVATE KEY"), the form kubeadm writes. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "minik8s/apiserver.h"

#define CA_CN "minik8s-ca"
#define SERVER_CN "minik8s-apiserver"
#define DAY_SECONDS (24 * 60 * 60)
#define CA_LIFETIME (3650 * DAY_SECONDS)
#define SERVER_LIFETIME (365 * DAY_SECONDS)
#define RENEW_BEFORE (30 * DAY_SECONDS)
/* activation in the past tolerates clocks a little behind ours (kubeadm: 5 min) */
#define BACKDATE (60 * 60)
#define MAX_SANS 256

static const char *const default_dns_names[] = {
	"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
};

static inline void crt_deinitp(gnutls_x509_crt_t *c)
{
	if (*c)
		gnutls_x509_crt_deinit(*c);
}
static inline void key_deinitp(gnutls_x509_privkey_t *k)
{
	if (*k)
		gnutls_x509_privkey_deinit(*k);
}
static inline void datum_freep(gnutls_datum_t *d)
{
	gnutls_free(d->data);
	d->data = NULL;
}
#define _cleanup_crt_ _cleanup_(crt_deinitp)
#define _cleanup_key_ _cleanup_(key_deinitp)
#define _cleanup_datum_ _cleanup_(datum_freep)

/* The SANs the serving certificate must carry. */
struct san_set {
	unsigned char ip[MAX_SANS][16];
	size_t ip_len[MAX_SANS];
	size_t n_ip;
	const char *dns[MAX_SANS]; /* borrowed */
	size_t n_dns;
};

static int gtls_error(struct mk_error **err, int r, const char *what)
{
	return mk_error_set(err, EIO, "%s: %s", what, gnutls_strerror(r));
}

/* Parses s as an IPv4 or IPv6 address into out; returns its length or 0. */
static size_t parse_ip(const char *s, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) == 1)
		return 16;
	return 0;
}

static int add_ip(struct san_set *s, const unsigned char *ip, size_t len, struct mk_error **err)
{
	static const unsigned char zero[16];

	/* the unspecified address (a bind-all listen address) names no host */
	if (memcmp(ip, zero, len) == 0)
		return 0;
	for (size_t i = 0; i < s->n_ip; i++)
		if (s->ip_len[i] == len && memcmp(s->ip[i], ip, len) == 0)
			return 0;
	if (s->n_ip >= MAX_SANS)
		return mk_error_set(err, EINVAL, "too many IP subject alternative names (max %d)",
				    MAX_SANS);
	memcpy(s->ip[s->n_ip], ip, len);
	s->ip_len[s->n_ip++] = len;
	return 0;
}

static int add_dns(struct san_set *s, const char *name, struct mk_error **err)
{
	size_t len = strlen(name);

	if (len == 0 || len > 253 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
						"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.*") != len)
		return mk_error_set(err, EINVAL, "invalid DNS subject alternative name '%s'", name);
	for (size_t i = 0; i < s->n_dns; i++)
		if (strcasecmp(s->dns[i], name) == 0)
			return 0;
	if (s->n_dns >= MAX_SANS)
		return mk_error_set(err, EINVAL, "too many DNS subject alternative names (max %d)",
				    MAX_SANS);
	s->dns[s->n_dns++] = name;
	return 0;
}

static int build_sans(struct san_set *s, const char *const *ips, const char *const *dns_names,
		      struct mk_error **err)
{
	unsigned char ip[16];
	size_t len;

	memset(s, 0, sizeof(*s));
	len = parse_ip("127.0.0.1", ip);
	if (add_ip(s, ip, len, err) < 0)
		return -1;
	for (size_t i = 0; ips && ips[i]; i++) {
		if (!ips[i][0])
			continue;
		len = parse_ip(ips[i], ip);
		if (len == 0)
			return mk_error_set(err, EINVAL, "invalid IP address '%s'", ips[i]);
		if (add_ip(s, ip, len, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < MK_ARRAY_SIZE(default_dns_names); i++)
		if (add_dns(s, default_dns_names[i], err) < 0)
			return -1;
	for (size_t i = 0; dns_names && dns_names[i]; i++) {
		if (!dns_names[i][0])
			continue;
		/* --tls-san takes names and addresses alike (k3s): an address is an IP SAN */
		len = parse_ip(dns_names[i], ip);
		if (len ? add_ip(s, ip, len, err) < 0 : add_dns(s, dns_names[i], err) < 0)
			return -1;
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

/* 1 and the contents when path exists, 0 when it does not, -1 on other errors. */
static int read_if_exists(const char *path, char **ret, size_t *ret_len, struct mk_error **err)
{
	struct mk_error *e = NULL;

	if (mk_fs_read_file(path, ret, ret_len, &e) < 0) {
		int missing = e->code == ENOENT;
		if (!missing) {
			mk_error_set(err, e->code, "%s", e->msg);
		}
		mk_error_free(&e);
		return missing ? 0 : -1;
	}
	return 1;
}

/* Loads a PEM file into *ret. Returns 1 when loaded, 0 when the file does not
 * exist or does not parse (the caller decides whether to regenerate), -1 on an
 * I/O error. */
/* read_if_exists, the text as a gnutls datum. */
static int read_pem(const char *path, char **ret_pem, gnutls_datum_t *ret_d, struct mk_error **err)
{
	size_t len;
	int r = read_if_exists(path, ret_pem, &len, err);
	if (r > 0) {
		ret_d->data = (unsigned char *)*ret_pem;
		ret_d->size = (unsigned)len;
	}
	return r;
}

static int load_crt(const char *path, gnutls_x509_crt_t *ret, struct mk_error **err)
{
	_cleanup_free_ char *pem = NULL;
	_cleanup_crt_ gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d;
	int r = read_pem(path, &pem, &d, err);

	if (r <= 0)
		return r;
	if ((r = gnutls_x509_crt_init(&crt)) < 0)
		return gtls_error(err, r, "init certificate");
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0)
		return 0;
	*ret = TAKE_PTR(crt);
	return 1;
}

static int load_key(const char *path, gnutls_x509_privkey_t *ret, struct mk_error **err)
{
	_cleanup_free_ char *pem = NULL;
	_cleanup_key_ gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t d;
	int r = read_pem(path, &pem, &d, err);

	if (r <= 0)
		return r;
	if ((r = gnutls_x509_privkey_init(&key)) < 0) {
		explicit_bzero(pem, d.size);
		return gtls_error(err, r, "init private key");
	}
	r = gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM);
	explicit_bzero(pem, d.size);
	if (r < 0)
		return 0;
	*ret = TAKE_PTR(key);
	return 1;
}

/* 1 when key is the private half of crt's public key. */
static int key_matches(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);

	if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0)
		return 0;
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* 1 when the serving certificate can be kept: signed by ca, matching its key,
 * valid for more than RENEW_BEFORE, and naming every wanted SAN. */
static int server_crt_usable(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
			     gnutls_x509_crt_t ca, const struct san_set *want)
{
	unsigned status = 0;
	time_t now = time(NULL);
	char buf[512];

	if (!key_matches(crt, key))
		return 0;
	if (gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) < 0 || status != 0)
		return 0;
	if (gnutls_x509_crt_get_expiration_time(crt) < now + RENEW_BEFORE ||
	    gnutls_x509_crt_get_activation_time(crt) > now)
		return 0;

	int have_ip[MAX_SANS] = { 0 }, have_dns[MAX_SANS] = { 0 };
	for (unsigned seq = 0;; seq++) {
		size_t size = sizeof(buf) - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (type < 0)
			return 0;
		if (type == GNUTLS_SAN_IPADDRESS) {
			for (size_t i = 0; i < want->n_ip; i++)
				if (want->ip_len[i] == size && memcmp(want->ip[i], buf, size) == 0)
					have_ip[i] = 1;
		} else if (type == GNUTLS_SAN_DNSNAME) {
			buf[size] = '\0';
			for (size_t i = 0; i < want->n_dns; i++)
				if (strcasecmp(want->dns[i], buf) == 0)
					have_dns[i] = 1;
		}
	}
	for (size_t i = 0; i < want->n_ip; i++)
		if (!have_ip[i])
			return 0;
	for (size_t i = 0; i < want->n_dns; i++)
		if (!have_dns[i])
			return 0;
	return 1;
}

/* ---- issuing ------------------------------------------------------------ */

static int new_key(gnutls_x509_privkey_t *ret, struct mk_error **err)
{
	_cleanup_key_ gnutls_x509_privkey_t key = NULL;
	int r;

	if ((r = gnutls_x509_privkey_init(&key)) < 0)
		return gtls_error(err, r, "init private key");
	r = gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA,
					  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
					  NULL, 0);
	if (r < 0)
		return gtls_error(err, r, "generate ECDSA P-256 key");
	*ret = TAKE_PTR(key);
	return 0;
}

/* A new certificate for key with a random serial, CN and validity set. */
static int new_crt(gnutls_x509_privkey_t key, const char *cn, time_t not_after,
		   gnutls_x509_crt_t *ret, struct mk_error **err)
{
	_cleanup_crt_ gnutls_x509_crt_t crt = NULL;
	unsigned char serial[16], keyid[64];
	size_t keyid_len = sizeof(keyid);
	int r;

	if ((r = gnutls_x509_crt_init(&crt)) < 0)
		return gtls_error(err, r, "init certificate");
	/* RFC 5280 4.1.2.2: positive, at most 20 octets; keep the top bit clear and
	 * the first octet non-zero so the DER encoding is exactly 16 octets */
	mk_random_bytes(serial, sizeof(serial));
	serial[0] = (serial[0] & 0x7f) | 0x40;
	if ((r = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (r = gnutls_x509_crt_set_activation_time(crt, time(NULL) - BACKDATE)) < 0 ||
	    (r = gnutls_x509_crt_set_expiration_time(crt, not_after)) < 0 ||
	    (r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					       (unsigned)strlen(cn))) < 0 ||
	    (r = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (r = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, keyid, &keyid_len)) < 0 ||
	    (r = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len)) < 0)
		return gtls_error(err, r, "build certificate");
	*ret = TAKE_PTR(crt);
	return 0;
}

static int write_pair(const char *dir, const char *name, gnutls_x509_crt_t crt,
		      gnutls_x509_privkey_t key, struct mk_error **err)
{
	_cleanup_datum_ gnutls_datum_t kpem = { NULL, 0 };
	_cleanup_datum_ gnutls_datum_t cpem = { NULL, 0 };
	_cleanup_free_ char *kpath = mk_strdup_printf("%s/%s.key", dir, name);
	_cleanup_free_ char *cpath = mk_strdup_printf("%s/%s.crt", dir, name);
	int r;

	if ((r = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem)) < 0)
		return gtls_error(err, r, "export private key");
	if ((r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem)) < 0)
		return gtls_error(err, r, "export certificate");
	/* key first: a crash in between leaves a certificate that does not match
	 * its key, which the next start detects and replaces */
	r = mk_fs_write_file(kpath, kpem.data, kpem.size, 0600, err);
	explicit_bzero(kpem.data, kpem.size);
	if (r < 0)
		return -1;
	return mk_fs_write_file(cpath, cpem.data, cpem.size, 0644, err);
}

static int issue_ca(const char *dir, gnutls_x509_crt_t *ret_crt, gnutls_x509_privkey_t *ret_key,
		    struct mk_error **err)
{
	_cleanup_key_ gnutls_x509_privkey_t key = NULL;
	_cleanup_crt_ gnutls_x509_crt_t crt = NULL;
	int r;

	if (new_key(&key, err) < 0 || new_crt(key, CA_CN, time(NULL) + CA_LIFETIME, &crt, err) < 0)
		return -1;
	if ((r = gnutls_x509_crt_set_basic_constraints(crt, 1, -1)) < 0 ||
	    (r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
							    GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (r = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
		return gtls_error(err, r, "self-sign CA certificate");
	if (write_pair(dir, "ca", crt, key, err) < 0)
		return -1;
	*ret_crt = TAKE_PTR(crt);
	*ret_key = TAKE_PTR(key);
	return 0;
}

/* A new key and an end-entity certificate for cn issued by ca (not signed yet):
 * not after SERVER_LIFETIME nor the issuer's end, CA:FALSE, digitalSignature, the
 * extended key usage purpose_oid, the issuer's key id. what: "serving", "client". */
static int new_leaf(gnutls_x509_crt_t ca, const char *cn, const char *purpose_oid,
		    const char *what, gnutls_x509_privkey_t *ret_key, gnutls_x509_crt_t *ret_crt,
		    struct mk_error **err)
{
	_cleanup_key_ gnutls_x509_privkey_t key = NULL;
	_cleanup_crt_ gnutls_x509_crt_t crt = NULL;
	unsigned char ca_keyid[64];
	size_t ca_keyid_len = sizeof(ca_keyid);
	time_t not_after = time(NULL) + SERVER_LIFETIME;
	time_t ca_end = gnutls_x509_crt_get_expiration_time(ca);
	int r;

	/* never outlive the issuer */
	if (ca_end != (time_t)-1 && ca_end < not_after)
		not_after = ca_end;
	if (new_key(&key, err) < 0 || new_crt(key, cn, not_after, &crt, err) < 0)
		return -1;
	if ((r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (r = gnutls_x509_crt_set_key_purpose_oid(crt, purpose_oid, 0)) < 0)
		return mk_error_set(err, EIO, "build %s certificate: %s", what, gnutls_strerror(r));
	if (gnutls_x509_crt_get_subject_key_id(ca, ca_keyid, &ca_keyid_len, NULL) >= 0 &&
	    (r = gnutls_x509_crt_set_authority_key_id(crt, ca_keyid, ca_keyid_len)) < 0)
		return gtls_error(err, r, "set authority key id");
	*ret_key = TAKE_PTR(key);
	*ret_crt = TAKE_PTR(crt);
	return 0;
}

static int issue_server(const char *dir, gnutls_x509_crt_t ca, gnutls_x509_privkey_t ca_key,
			const struct san_set *sans, struct mk_error **err)
{
	_cleanup_key_ gnutls_x509_privkey_t key = NULL;
	_cleanup_crt_ gnutls_x509_crt_t crt = NULL;
	int r;

	if (new_leaf(ca, SERVER_CN, GNUTLS_KP_TLS_WWW_SERVER, "serving", &key, &crt, err) < 0)
		return -1;
	for (size_t i = 0; i < sans->n_dns; i++)
		if ((r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, sans->dns[i],
							      (unsigned)strlen(sans->dns[i]),
							      GNUTLS_FSAN_APPEND)) < 0)
			return gtls_error(err, r, "add DNS subject alternative name");
	for (size_t i = 0; i < sans->n_ip; i++)
		if ((r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, sans->ip[i],
							      (unsigned)sans->ip_len[i],
							      GNUTLS_FSAN_APPEND)) < 0)
			return gtls_error(err, r, "add IP subject alternative name");
	if ((r = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0)
		return gtls_error(err, r, "sign serving certificate");
	return write_pair(dir, "server", crt, key, err);
}

/* ---- the entry point ----------------------------------------------------- */

/* The cluster CA in dir: loaded, or made when there is no ca.crt at all. The CA is
 * the cluster's identity (kubeconfigs and joined nodes trust it): a ca.crt without
 * its usable key is an error for a human to resolve, never replaced. */
static int ca_ensure(const char *dir, gnutls_x509_crt_t *ret_ca, gnutls_x509_privkey_t *ret_key,
		     struct mk_error **err)
{
	_cleanup_free_ char *ca_crt_path = mk_strdup_printf("%s/ca.crt", dir);
	_cleanup_free_ char *ca_key_path = mk_strdup_printf("%s/ca.key", dir);
	_cleanup_crt_ gnutls_x509_crt_t ca = NULL;
	_cleanup_key_ gnutls_x509_privkey_t ca_key = NULL;
	unsigned status = 0;
	int r;

	if (mk_fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	/* the directory may predate us with a looser mode */
	if (chmod(dir, 0700) < 0)
		return mk_error_errno(err, errno, "chmod '%s'", dir);
	r = load_crt(ca_crt_path, &ca, err);
	if (r < 0)
		return -1;
	if (r == 0 && access(ca_crt_path, F_OK) == 0)
		return mk_error_set(err, EINVAL, "'%s' is not a PEM certificate", ca_crt_path);
	if (r == 0) {
		if (issue_ca(dir, &ca, &ca_key, err) < 0)
			return mk_error_wrap(err, "create cluster CA in '%s'", dir);
	} else {
		r = load_key(ca_key_path, &ca_key, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return mk_error_set(err, ENOENT,
					    "'%s' exists but '%s' is missing or not a PEM key",
					    ca_crt_path, ca_key_path);
		if (!key_matches(ca, ca_key))
			return mk_error_set(err, EINVAL, "'%s' does not match '%s'", ca_key_path,
					    ca_crt_path);
		if (gnutls_x509_crt_get_ca_status(ca, NULL) <= 0 ||
		    gnutls_x509_crt_verify(ca, &ca, 1, 0, &status) < 0 || status != 0)
			return mk_error_set(err, EINVAL,
					    "'%s' is not a valid self-signed CA certificate "
					    "(expired or not CA:TRUE)",
					    ca_crt_path);
		if (chmod(ca_key_path, 0600) < 0)
			return mk_error_errno(err, errno, "chmod '%s'", ca_key_path);
	}
	if (ret_ca)
		*ret_ca = TAKE_PTR(ca);
	if (ret_key)
		*ret_key = TAKE_PTR(ca_key);
	return 0;
}

int mk_apiserver_tls_ca_ensure(const char *dir, struct mk_error **err)
{
	return ca_ensure(dir, NULL, NULL, err);
}

int mk_apiserver_tls_ensure(const char *dir, const char *const *ips,
			    const char *const *dns_names, struct mk_error **err)
{
	_cleanup_free_ struct san_set *sans = mk_malloc0(sizeof(*sans));
	_cleanup_free_ char *srv_crt_path = mk_strdup_printf("%s/server.crt", dir);
	_cleanup_free_ char *srv_key_path = mk_strdup_printf("%s/server.key", dir);
	_cleanup_crt_ gnutls_x509_crt_t ca = NULL, srv = NULL;
	_cleanup_key_ gnutls_x509_privkey_t ca_key = NULL, srv_key = NULL;

	if (build_sans(sans, ips, dns_names, err) < 0)
		return -1;
	if (ca_ensure(dir, &ca, &ca_key, err) < 0)
		return -1;
	if (load_crt(srv_crt_path, &srv, err) < 0 || load_key(srv_key_path, &srv_key, err) < 0)
		return -1;
	if (srv && srv_key && server_crt_usable(srv, srv_key, ca, sans)) {
		if (chmod(srv_key_path, 0600) < 0)
			return mk_error_errno(err, errno, "chmod '%s'", srv_key_path);
		return 0;
	}
	if (issue_server(dir, ca, ca_key, sans, err) < 0)
		return mk_error_wrap(err, "issue serving certificate in '%s'", dir);
	return 0;
}

/* ---- the API server's client certificate (for the agents' streaming servers) ---- */

static int issue_client(const char *dir, const char *name, const char *cn, gnutls_x509_crt_t ca,
			gnutls_x509_privkey_t ca_key, struct mk_error **err)
{
	_cleanup_key_ gnutls_x509_privkey_t key = NULL;
	_cleanup_crt_ gnutls_x509_crt_t crt = NULL;
	int r;

	if (new_leaf(ca, cn, GNUTLS_KP_TLS_WWW_CLIENT, "client", &key, &crt, err) < 0)
		return -1;
	if ((r = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0)
		return gtls_error(err, r, "sign client certificate");
	return write_pair(dir, name, crt, key, err);
}

int mk_apiserver_tls_client_ensure(const char *dir, const char *name, const char *cn,
				   struct mk_error **err)
{
	_cleanup_free_ char *ca_crt_path = mk_strdup_printf("%s/ca.crt", dir);
	_cleanup_free_ char *ca_key_path = mk_strdup_printf("%s/ca.key", dir);
	_cleanup_free_ char *crt_path = mk_strdup_printf("%s/%s.crt", dir, name);
	_cleanup_free_ char *key_path = mk_strdup_printf("%s/%s.key", dir, name);
	_cleanup_crt_ gnutls_x509_crt_t ca = NULL, crt = NULL;
	_cleanup_key_ gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	unsigned status = 0;
	char have_cn[256];
	size_t have_cn_len = sizeof(have_cn);

	if (load_crt(ca_crt_path, &ca, err) < 0 || load_key(ca_key_path, &ca_key, err) < 0)
		return -1;
	if (!ca || !ca_key || !key_matches(ca, ca_key))
		return mk_error_set(err, ENOENT, "no usable cluster CA in '%s' (run "
				    "mk_apiserver_tls_ensure first)", dir);
	if (load_crt(crt_path, &crt, err) < 0 || load_key(key_path, &key, err) < 0)
		return -1;
	/* kept when it matches its key, chains to the CA, names cn and is not near
	 * its end */
	if (crt && key && key_matches(crt, key) &&
	    gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) >= 0 && status == 0 &&
	    gnutls_x509_crt_get_expiration_time(crt) >= time(NULL) + RENEW_BEFORE &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, have_cn,
					  &have_cn_len) >= 0 &&
	    !strcmp(have_cn, cn))
		return 0;
	if (issue_client(dir, name, cn, ca, ca_key, err) < 0)
		return mk_error_wrap(err, "issue client certificate '%s' in '%s'", name, dir);
	return 0;
}
