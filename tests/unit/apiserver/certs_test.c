/* mk_apiserver_tls_ensure: CA and serving certificate generation, reuse and
 * re-issue, file modes, and a real TLS handshake (GnuTLS server through
 * libmicrohttpd, as the API server serves; OpenSSL-backed libcurl as client). */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include "minik8s/apiserver.h"

static char tmpdir[64];
static char *dir; /* tmpdir/tls: made by the function under test */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/minik8s-certs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	dir = mk_strdup_printf("%s/tls", tmpdir);
}

static void teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static char *path_of(const char *base, const char *name)
{
	return mk_strdup_printf("%s/%s", base, name);
}

static char *slurp(const char *base, const char *name)
{
	_cleanup_free_ char *p = path_of(base, name);
	struct mk_error *err = NULL;
	char *data = NULL;
	size_t len;

	if (mk_fs_read_file(p, &data, &len, &err) < 0)
		ck_abort_msg("read %s: %s", p, err->msg);
	return data;
}

static mode_t mode_of(const char *base, const char *name)
{
	_cleanup_free_ char *p = name ? path_of(base, name) : mk_strdup(base);
	struct stat st;

	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_mode & 07777;
}

static void ensure_ok(const char *d, const char *const *ips, const char *const *dns)
{
	struct mk_error *err = NULL;
	int r = mk_apiserver_tls_ensure(d, ips, dns, &err);
	ck_assert_msg(r == 0, "mk_apiserver_tls_ensure: %s", err ? err->msg : "?");
	ck_assert_ptr_null(err);
}

static gnutls_x509_crt_t load_crt(const char *base, const char *name)
{
	_cleanup_free_ char *pem = slurp(base, name);
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };

	ck_assert_int_ge(gnutls_x509_crt_init(&crt), 0);
	ck_assert_int_ge(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	return crt;
}

static gnutls_x509_privkey_t load_key(const char *base, const char *name)
{
	_cleanup_free_ char *pem = slurp(base, name);
	gnutls_x509_privkey_t key;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };

	ck_assert_int_ge(gnutls_x509_privkey_init(&key), 0);
	ck_assert_int_ge(gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM), 0);
	return key;
}

static void expect_cn(gnutls_x509_crt_t crt, const char *want)
{
	char cn[128];
	size_t len = sizeof(cn);

	ck_assert_int_ge(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn,
						       &len),
			 0);
	ck_assert_str_eq(cn, want);
}

static int has_ip_san(gnutls_x509_crt_t crt, const char *ip)
{
	unsigned char want[16], buf[64];
	size_t wlen = inet_pton(AF_INET, ip, want) == 1 ? 4 : 16;

	if (wlen == 16)
		ck_assert_int_eq(inet_pton(AF_INET6, ip, want), 1);
	for (unsigned seq = 0;; seq++) {
		size_t size = sizeof(buf);
		int t = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
		if (t < 0)
			return 0;
		if (t == GNUTLS_SAN_IPADDRESS && size == wlen && memcmp(buf, want, wlen) == 0)
			return 1;
	}
}

static int has_dns_san(gnutls_x509_crt_t crt, const char *name)
{
	char buf[256];

	for (unsigned seq = 0;; seq++) {
		size_t size = sizeof(buf);
		int t = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
		if (t < 0)
			return 0;
		if (t == GNUTLS_SAN_DNSNAME && strcmp(buf, name) == 0)
			return 1;
	}
}

static void expect_verifies(gnutls_x509_crt_t srv, gnutls_x509_crt_t ca)
{
	unsigned status = 1;

	ck_assert_int_ge(gnutls_x509_crt_verify(srv, &ca, 1, 0, &status), 0);
	ck_assert_msg(status == 0, "chain does not verify (status 0x%x)", status);
}

/* Runs a shell command and returns its stdout (owned). */
static char *run(const char *cmd, int *ret_status)
{
	FILE *f = popen(cmd, "r");
	struct mk_buf b;
	char chunk[4096];
	size_t n;

	ck_assert_ptr_nonnull(f);
	mk_buf_init(&b);
	mk_buf_append(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mk_buf_append(&b, chunk, n);
	*ret_status = pclose(f);
	return mk_buf_steal(&b);
}

static const char *const ips1[] = { "10.0.0.5", "0.0.0.0", "fd00::5", NULL };
static const char *const dns1[] = { "node1.example", "192.168.7.7", NULL };

START_TEST(test_fresh_ca_and_server_cert)
{
	ensure_ok(dir, ips1, dns1);

	ck_assert_int_eq(mode_of(dir, NULL), 0700);
	ck_assert_int_eq(mode_of(dir, "ca.key"), 0600);
	ck_assert_int_eq(mode_of(dir, "server.key"), 0600);
	ck_assert_int_eq(mode_of(dir, "ca.crt"), 0644);
	ck_assert_int_eq(mode_of(dir, "server.crt"), 0644);

	gnutls_x509_crt_t ca = load_crt(dir, "ca.crt"), srv = load_crt(dir, "server.crt");
	gnutls_x509_privkey_t ca_key = load_key(dir, "ca.key");
	unsigned crit = 0, usage = 0;
	gnutls_ecc_curve_t curve = 0;
	time_t now = time(NULL);

	/* CA: self-signed ECDSA P-256, CA:TRUE, keyCertSign, ~10 years */
	expect_cn(ca, "minik8s-ca");
	expect_verifies(ca, ca);
	ck_assert_int_gt(gnutls_x509_crt_get_ca_status(ca, &crit), 0);
	ck_assert_int_ge(gnutls_x509_crt_get_key_usage(ca, &usage, &crit), 0);
	ck_assert(usage & GNUTLS_KEY_KEY_CERT_SIGN);
	ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(ca, NULL), GNUTLS_PK_ECDSA);
	ck_assert_int_ge(gnutls_x509_crt_get_pk_ecc_raw(ca, &curve, NULL, NULL), 0);
	ck_assert_int_eq(curve, GNUTLS_ECC_CURVE_SECP256R1);
	ck_assert_int_eq(gnutls_x509_privkey_get_pk_algorithm(ca_key), GNUTLS_PK_ECDSA);
	time_t ca_days = (gnutls_x509_crt_get_expiration_time(ca) - now) / 86400;
	ck_assert_msg(ca_days >= 3648 && ca_days <= 3651, "CA valid for %ld days", (long)ca_days);

	/* serving certificate: issued by the CA, serverAuth, not a CA, ~1 year */
	expect_cn(srv, "minik8s-apiserver");
	expect_verifies(srv, ca);
	ck_assert_int_eq(gnutls_x509_crt_get_ca_status(srv, &crit), 0);
	char oid[128];
	size_t oid_len = sizeof(oid);
	int found_server_auth = 0;
	for (unsigned i = 0;; i++, oid_len = sizeof(oid)) {
		if (gnutls_x509_crt_get_key_purpose_oid(srv, i, oid, &oid_len, NULL) < 0)
			break;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0)
			found_server_auth = 1;
	}
	ck_assert(found_server_auth);
	time_t srv_days = (gnutls_x509_crt_get_expiration_time(srv) - now) / 86400;
	ck_assert_msg(srv_days >= 363 && srv_days <= 366, "server valid for %ld days",
		      (long)srv_days);

	/* SANs: the given ones, the always-present ones, never 0.0.0.0 */
	ck_assert(has_ip_san(srv, "127.0.0.1"));
	ck_assert(has_ip_san(srv, "10.0.0.5"));
	ck_assert(has_ip_san(srv, "fd00::5"));
	ck_assert(has_ip_san(srv, "192.168.7.7"));
	ck_assert(!has_ip_san(srv, "0.0.0.0"));
	ck_assert(!has_dns_san(srv, "192.168.7.7"));
	const char *names[] = { "localhost", "kubernetes", "kubernetes.default",
				"kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
				"node1.example" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++)
		ck_assert_msg(has_dns_san(srv, names[i]), "missing DNS SAN %s", names[i]);
	ck_assert(gnutls_x509_crt_check_hostname(srv, "kubernetes.default.svc"));
	ck_assert(!gnutls_x509_crt_check_hostname(srv, "evil.example"));

	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(srv);
	gnutls_x509_privkey_deinit(ca_key);
}
END_TEST

/* The OpenSSL CLI as an independent second opinion on the same files. */
START_TEST(test_openssl_agrees)
{
	int status;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		ck_abort_msg("openssl CLI not installed (apt-get install openssl)");
	ensure_ok(dir, ips1, dns1);

	_cleanup_free_ char *cmd = mk_strdup_printf("cd '%s' && openssl verify -CAfile ca.crt "
						    "server.crt 2>&1",
						    dir);
	_cleanup_free_ char *out = run(cmd, &status);
	ck_assert_msg(status == 0 && strstr(out, "server.crt: OK"), "openssl verify: %s", out);

	free(cmd);
	cmd = mk_strdup_printf("openssl x509 -noout -text -in '%s/server.crt'", dir);
	free(out);
	out = run(cmd, &status);
	ck_assert_int_eq(status, 0);
	const char *want[] = { "IP Address:127.0.0.1", "IP Address:10.0.0.5",
			       "IP Address:192.168.7.7", "DNS:kubernetes.default.svc.cluster.local",
			       "DNS:node1.example", "TLS Web Server Authentication",
			       "CA:FALSE", "Subject: CN = minik8s-apiserver",
			       "Issuer: CN = minik8s-ca", "ASN1 OID: prime256v1" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(want); i++)
		ck_assert_msg(strstr(out, want[i]), "x509 -text lacks '%s':\n%s", want[i], out);
	ck_assert_msg(!strstr(out, "IP Address:0.0.0.0"), "unspecified address in SANs");

	free(cmd);
	cmd = mk_strdup_printf("openssl x509 -noout -text -in '%s/ca.crt'", dir);
	free(out);
	out = run(cmd, &status);
	ck_assert_int_eq(status, 0);
	ck_assert_msg(strstr(out, "CA:TRUE"), "%s", out);
	ck_assert_msg(strstr(out, "Certificate Sign"), "%s", out);
	ck_assert_msg(strstr(out, "Subject: CN = minik8s-ca"), "%s", out);

	/* the keys belong to the certificates */
	free(cmd);
	cmd = mk_strdup_printf("cd '%s' && [ \"$(openssl pkey -in server.key -pubout)\" = "
			       "\"$(openssl x509 -in server.crt -noout -pubkey)\" ] && "
			       "[ \"$(openssl pkey -in ca.key -pubout)\" = "
			       "\"$(openssl x509 -in ca.crt -noout -pubkey)\" ] && echo same",
			       dir);
	free(out);
	out = run(cmd, &status);
	ck_assert_msg(status == 0 && strstr(out, "same"), "key/cert mismatch: %s", out);
}
END_TEST

START_TEST(test_second_call_keeps_everything)
{
	const char *files[] = { "ca.crt", "ca.key", "server.crt", "server.key" };
	char *before[4];

	ensure_ok(dir, ips1, dns1);
	for (int i = 0; i < 4; i++)
		before[i] = slurp(dir, files[i]);
	ensure_ok(dir, ips1, dns1);
	/* a subset of what the certificate names (and duplicates) needs nothing new */
	const char *const fewer_ips[] = { "10.0.0.5", "10.0.0.5", NULL };
	ensure_ok(dir, fewer_ips, NULL);
	for (int i = 0; i < 4; i++) {
		_cleanup_free_ char *after = slurp(dir, files[i]);
		ck_assert_msg(strcmp(before[i], after) == 0, "%s changed", files[i]);
		free(before[i]);
	}
}
END_TEST

START_TEST(test_new_san_reissues_server_cert_only)
{
	ensure_ok(dir, ips1, dns1);
	_cleanup_free_ char *ca_crt = slurp(dir, "ca.crt");
	_cleanup_free_ char *ca_key = slurp(dir, "ca.key");
	_cleanup_free_ char *srv_crt = slurp(dir, "server.crt");
	_cleanup_free_ char *srv_key = slurp(dir, "server.key");

	const char *const ips2[] = { "10.0.0.5", "10.0.0.6", NULL };
	ensure_ok(dir, ips2, dns1);
	_cleanup_free_ char *ca_crt2 = slurp(dir, "ca.crt");
	_cleanup_free_ char *ca_key2 = slurp(dir, "ca.key");
	_cleanup_free_ char *srv_crt2 = slurp(dir, "server.crt");
	_cleanup_free_ char *srv_key2 = slurp(dir, "server.key");
	ck_assert_str_eq(ca_crt, ca_crt2);
	ck_assert_str_eq(ca_key, ca_key2);
	ck_assert_str_ne(srv_crt, srv_crt2);
	ck_assert_str_ne(srv_key, srv_key2);
	ck_assert_int_eq(mode_of(dir, "server.key"), 0600);

	gnutls_x509_crt_t ca = load_crt(dir, "ca.crt"), srv = load_crt(dir, "server.crt");
	expect_verifies(srv, ca);
	ck_assert(has_ip_san(srv, "10.0.0.6"));
	ck_assert(has_ip_san(srv, "10.0.0.5"));
	ck_assert(has_dns_san(srv, "node1.example"));
	gnutls_x509_crt_deinit(srv);

	/* a new DNS name also re-issues */
	const char *const dns2[] = { "api.example", NULL };
	ensure_ok(dir, ips2, dns2);
	srv = load_crt(dir, "server.crt");
	expect_verifies(srv, ca);
	ck_assert(has_dns_san(srv, "api.example"));
	gnutls_x509_crt_deinit(srv);
	gnutls_x509_crt_deinit(ca);
	_cleanup_free_ char *ca_crt3 = slurp(dir, "ca.crt");
	ck_assert_str_eq(ca_crt, ca_crt3);
}
END_TEST

/* Writes DIR/server.{crt,key}: a certificate with every default SAN, signed by
 * DIR's CA, expiring in days. */
static void write_server_cert_expiring(const char *d, int days)
{
	gnutls_x509_crt_t ca = load_crt(d, "ca.crt"), crt;
	gnutls_x509_privkey_t ca_key = load_key(d, "ca.key"), key;
	gnutls_datum_t kpem, cpem;
	unsigned char serial[] = { 0x42 }, lo[] = { 127, 0, 0, 1 };
	struct mk_error *err = NULL;
	const char *names[] = { "localhost", "kubernetes", "kubernetes.default",
				"kubernetes.default.svc", "kubernetes.default.svc.cluster.local" };

	ck_assert_int_ge(gnutls_x509_privkey_init(&key), 0);
	ck_assert_int_ge(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
						      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
			 0);
	ck_assert_int_ge(gnutls_x509_crt_init(&crt), 0);
	gnutls_x509_crt_set_version(crt, 3);
	gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	gnutls_x509_crt_set_activation_time(crt, time(NULL) - 3600);
	gnutls_x509_crt_set_expiration_time(crt, time(NULL) + days * 86400);
	gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "old", 3);
	gnutls_x509_crt_set_key(crt, key);
	for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++)
		gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, names[i],
						     strlen(names[i]), GNUTLS_FSAN_APPEND);
	gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, lo, 4, GNUTLS_FSAN_APPEND);
	ck_assert_int_ge(gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0), 0);
	ck_assert_int_ge(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem), 0);
	ck_assert_int_ge(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem), 0);
	_cleanup_free_ char *kp = path_of(d, "server.key"), *cp = path_of(d, "server.crt");
	ck_assert_int_eq(mk_fs_write_file(kp, kpem.data, kpem.size, 0600, &err), 0);
	ck_assert_int_eq(mk_fs_write_file(cp, cpem.data, cpem.size, 0644, &err), 0);
	gnutls_free(kpem.data);
	gnutls_free(cpem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(key);
	gnutls_x509_privkey_deinit(ca_key);
}

START_TEST(test_expiring_cert_reissued)
{
	ensure_ok(dir, NULL, NULL);
	_cleanup_free_ char *ca_crt = slurp(dir, "ca.crt");

	/* 60 days left, every SAN present: kept as it is */
	write_server_cert_expiring(dir, 60);
	_cleanup_free_ char *kept = slurp(dir, "server.crt");
	ensure_ok(dir, NULL, NULL);
	_cleanup_free_ char *kept2 = slurp(dir, "server.crt");
	ck_assert_str_eq(kept, kept2);

	/* 10 days left: re-issued for a year */
	write_server_cert_expiring(dir, 10);
	_cleanup_free_ char *old = slurp(dir, "server.crt");
	ensure_ok(dir, NULL, NULL);
	_cleanup_free_ char *renewed = slurp(dir, "server.crt");
	ck_assert_str_ne(old, renewed);
	gnutls_x509_crt_t ca = load_crt(dir, "ca.crt"), srv = load_crt(dir, "server.crt");
	expect_verifies(srv, ca);
	expect_cn(srv, "minik8s-apiserver");
	ck_assert_int_gt(gnutls_x509_crt_get_expiration_time(srv), time(NULL) + 360 * 86400);
	_cleanup_free_ char *ca_crt2 = slurp(dir, "ca.crt");
	ck_assert_str_eq(ca_crt, ca_crt2);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(srv);
}
END_TEST

START_TEST(test_foreign_or_broken_server_cert_replaced)
{
	_cleanup_free_ char *other = mk_strdup_printf("%s/other", tmpdir);
	ensure_ok(dir, NULL, NULL);
	ensure_ok(other, NULL, NULL);

	/* a certificate from another CA (with its matching key) is replaced */
	_cleanup_free_ char *ocrt = slurp(other, "server.crt"), *okey = slurp(other, "server.key");
	_cleanup_free_ char *cp = path_of(dir, "server.crt"), *kp = path_of(dir, "server.key");
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_fs_write_file(cp, ocrt, strlen(ocrt), 0644, &err), 0);
	ck_assert_int_eq(mk_fs_write_file(kp, okey, strlen(okey), 0600, &err), 0);
	ensure_ok(dir, NULL, NULL);
	gnutls_x509_crt_t ca = load_crt(dir, "ca.crt"), srv = load_crt(dir, "server.crt");
	expect_verifies(srv, ca);
	gnutls_x509_crt_deinit(srv);

	/* a key that does not match the certificate is replaced */
	ck_assert_int_eq(mk_fs_write_file(kp, okey, strlen(okey), 0600, &err), 0);
	ensure_ok(dir, NULL, NULL);
	_cleanup_free_ char *key_now = slurp(dir, "server.key");
	ck_assert_str_ne(key_now, okey);
	srv = load_crt(dir, "server.crt");
	gnutls_x509_privkey_t k = load_key(dir, "server.key");
	unsigned char a[64], b[64];
	size_t al = sizeof(a), bl = sizeof(b);
	ck_assert_int_ge(gnutls_x509_crt_get_key_id(srv, 0, a, &al), 0);
	ck_assert_int_ge(gnutls_x509_privkey_get_key_id(k, 0, b, &bl), 0);
	ck_assert(al == bl && memcmp(a, b, al) == 0);
	gnutls_x509_crt_deinit(srv);
	gnutls_x509_privkey_deinit(k);

	/* garbage and a missing file are replaced too */
	ck_assert_int_eq(mk_fs_write_file(cp, "junk\n", 5, 0644, &err), 0);
	ensure_ok(dir, NULL, NULL);
	srv = load_crt(dir, "server.crt");
	expect_verifies(srv, ca);
	gnutls_x509_crt_deinit(srv);
	ck_assert_int_eq(unlink(kp), 0);
	ensure_ok(dir, NULL, NULL);
	ck_assert_int_eq(mode_of(dir, "server.key"), 0600);
	srv = load_crt(dir, "server.crt");
	expect_verifies(srv, ca);
	gnutls_x509_crt_deinit(srv);
	gnutls_x509_crt_deinit(ca);
}
END_TEST

START_TEST(test_ca_never_silently_replaced)
{
	struct mk_error *err = NULL;
	ensure_ok(dir, NULL, NULL);
	_cleanup_free_ char *ca_crt = slurp(dir, "ca.crt");
	_cleanup_free_ char *kp = path_of(dir, "ca.key");

	/* ca.key gone: an error, and ca.crt stays */
	ck_assert_int_eq(unlink(kp), 0);
	ck_assert_int_eq(mk_apiserver_tls_ensure(dir, NULL, NULL, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(err->code, ENOENT);
	ck_assert_ptr_nonnull(strstr(err->msg, "ca.key"));
	mk_error_free(&err);
	_cleanup_free_ char *ca_crt2 = slurp(dir, "ca.crt");
	ck_assert_str_eq(ca_crt, ca_crt2);

	/* a ca.key of another CA: an error too */
	_cleanup_free_ char *other = mk_strdup_printf("%s/other", tmpdir);
	ensure_ok(other, NULL, NULL);
	_cleanup_free_ char *okey = slurp(other, "ca.key");
	ck_assert_int_eq(mk_fs_write_file(kp, okey, strlen(okey), 0600, &err), 0);
	ck_assert_int_eq(mk_apiserver_tls_ensure(dir, NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);

	/* NULL err is allowed */
	ck_assert_int_eq(mk_apiserver_tls_ensure(dir, NULL, NULL, NULL), -1);
}
END_TEST

START_TEST(test_modes_tightened_and_bad_input)
{
	struct mk_error *err = NULL;
	ensure_ok(dir, NULL, NULL);
	_cleanup_free_ char *kp = path_of(dir, "ca.key"), *sp = path_of(dir, "server.key");
	ck_assert_int_eq(chmod(kp, 0644), 0);
	ck_assert_int_eq(chmod(sp, 0640), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ensure_ok(dir, NULL, NULL);
	ck_assert_int_eq(mode_of(dir, NULL), 0700);
	ck_assert_int_eq(mode_of(dir, "ca.key"), 0600);
	ck_assert_int_eq(mode_of(dir, "server.key"), 0600);

	const char *const bad_ip[] = { "10.0.0.300", NULL };
	ck_assert_int_eq(mk_apiserver_tls_ensure(dir, bad_ip, NULL, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_ptr_nonnull(strstr(err->msg, "10.0.0.300"));
	mk_error_free(&err);
	const char *const bad_dns[] = { "bad name", NULL };
	ck_assert_int_eq(mk_apiserver_tls_ensure(dir, NULL, bad_dns, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
}
END_TEST

/* ---- a real handshake --------------------------------------------------- */

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	static const char body[] = "ok";
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(2, (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
	mk_buf_append(userdata, p, size * n);
	return size * n;
}

/* GET https://HOST:port/ trusting cafile, HOST resolved to 127.0.0.1. */
static CURLcode get(const char *host, uint16_t port, const char *cafile, struct mk_buf *body)
{
	CURL *c = curl_easy_init();
	_cleanup_free_ char *url = mk_strdup_printf("https://%s:%u/", host, port);
	_cleanup_free_ char *res = mk_strdup_printf("%s:%u:127.0.0.1", host, port);
	struct curl_slist *resolve = NULL;
	CURLcode r;

	if (strcmp(host, "127.0.0.1") != 0)
		resolve = curl_slist_append(NULL, res);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	r = curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
	return r;
}

/* the address pods reach the API at, which the serving certificate must name */
START_TEST(test_kubernetes_service_ip)
{
	char ip[64];
	ck_assert_int_eq(mk_apiserver_kubernetes_service_ip("10.96.0.0/12", ip, sizeof(ip)), 0);
	ck_assert_str_eq(ip, "10.96.0.1");
	ck_assert_int_eq(mk_apiserver_kubernetes_service_ip("10.43.7.9/16", ip, sizeof(ip)), 0);
	ck_assert_str_eq(ip, "10.43.0.1");
	ck_assert_int_eq(mk_apiserver_kubernetes_service_ip("10.96.0.0", ip, sizeof(ip)), -1);
	ck_assert_int_eq(mk_apiserver_kubernetes_service_ip("nonsense/12", ip, sizeof(ip)), -1);
	ck_assert_int_eq(mk_apiserver_kubernetes_service_ip(NULL, ip, sizeof(ip)), -1);
}
END_TEST

START_TEST(test_tls_handshake)
{
	const char *const ips[] = { "127.0.0.1", NULL };
	ensure_ok(dir, ips, NULL);
	_cleanup_free_ char *other = mk_strdup_printf("%s/other", tmpdir);
	ensure_ok(other, NULL, NULL);
	_cleanup_free_ char *crt = slurp(dir, "server.crt"), *key = slurp(dir, "server.key");
	_cleanup_free_ char *cafile = path_of(dir, "ca.crt"), *other_ca = path_of(other, "ca.crt");

	ck_assert_msg(MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES,
		      "libmicrohttpd built without TLS");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL,
		answer, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_HTTPS_MEM_KEY, key,
		MHD_OPTION_HTTPS_MEM_CERT, crt, MHD_OPTION_END);
	ck_assert_msg(d != NULL, "MHD rejected the certificate or key");
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	ck_assert_ptr_nonnull(info);
	uint16_t port = info->port;
	ck_assert_int_ne(port, 0);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *good[] = { "127.0.0.1", "localhost", "kubernetes.default.svc",
			       "kubernetes.default.svc.cluster.local" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(good); i++) {
		struct mk_buf body;
		mk_buf_init(&body);
		mk_buf_append(&body, "", 0);
		CURLcode r = get(good[i], port, cafile, &body);
		ck_assert_msg(r == CURLE_OK, "GET via %s: %s", good[i], curl_easy_strerror(r));
		ck_assert_str_eq(body.data, "ok");
		mk_buf_release(&body);
	}

	/* a name the certificate does not carry, and a CA that did not sign it, fail */
	struct mk_buf body;
	mk_buf_init(&body);
	CURLcode r = get("not-in-cert.example", port, cafile, &body);
	ck_assert_msg(r == CURLE_PEER_FAILED_VERIFICATION, "wrong name: %s", curl_easy_strerror(r));
	r = get("127.0.0.1", port, other_ca, &body);
	ck_assert_msg(r == CURLE_PEER_FAILED_VERIFICATION, "wrong CA: %s", curl_easy_strerror(r));
	ck_assert_uint_eq(body.len, 0);
	mk_buf_release(&body);

	MHD_stop_daemon(d);
	curl_global_cleanup();
}
END_TEST

Suite *certs_suite(void)
{
	Suite *s = suite_create("certs");
	TCase *tc = tcase_create("tls_ensure");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fresh_ca_and_server_cert);
	tcase_add_test(tc, test_openssl_agrees);
	tcase_add_test(tc, test_second_call_keeps_everything);
	tcase_add_test(tc, test_new_san_reissues_server_cert_only);
	tcase_add_test(tc, test_expiring_cert_reissued);
	tcase_add_test(tc, test_foreign_or_broken_server_cert_replaced);
	tcase_add_test(tc, test_ca_never_silently_replaced);
	tcase_add_test(tc, test_modes_tightened_and_bad_input);
	tcase_add_test(tc, test_tls_handshake);
	tcase_add_test(tc, test_kubernetes_service_ip);
	suite_add_tcase(s, tc);
	return s;
}
