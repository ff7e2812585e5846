/* test-tls.c: unit tests for net/tls: the generated certificate (files, modes, key type, names,
 * validity, extensions), never overwriting an operator's file, and real handshakes in memory
 * (a BIO pair driven by a loop, no threads, no network) against the server context. */
#include "net/tls.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/test.h"

static char test_dir[64];

static void test_path(char *out, size_t out_size, const char *name)
{
	snprintf(out, out_size, "%s/%s", test_dir, name);
}

/* Read a whole small file into a malloc'd buffer; NULL if it cannot be read. */
static char *test_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *data = malloc(65536);
	size_t n = data != NULL ? fread(data, 1, 65536, f) : 0;
	fclose(f);
	*len_r = n;
	return data;
}

static bool test_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static X509 *test_load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static EVP_PKEY *test_load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static void test_cert_generate(void)
{
	char cert[128], key[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");

	CHECK(tls_cert_ensure(cert, key, "mail.example.test", &error) == 0);
	struct stat st;
	CHECK(stat(key, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	CHECK(stat(cert, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644);

	EVP_PKEY *pkey = test_load_key(key);
	X509 *x = test_load_cert(cert);
	CHECK(pkey != NULL && x != NULL);
	if (pkey == NULL || x == NULL)
		goto out;

	char group[64];
	size_t group_len = 0;
	CHECK(EVP_PKEY_is_a(pkey, "EC"));
	CHECK(EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) == 1);
	CHECK_STR(group, "prime256v1");
	CHECK(X509_check_private_key(x, pkey) == 1);
	CHECK(X509_verify(x, pkey) == 1); /* self-signed */
	CHECK(X509_get_signature_nid(x) == NID_ecdsa_with_SHA256);
	CHECK(X509_get_version(x) == X509_VERSION_3);

	/* Names: CN, and SANs that a client's hostname check accepts. */
	char cn[128] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	CHECK_STR(cn, "mail.example.test");
	CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0);
	CHECK(X509_check_host(x, "mail.example.test", 0, 0, NULL) == 1);
	CHECK(X509_check_host(x, "localhost", 0, 0, NULL) == 1);
	CHECK(X509_check_ip_asc(x, "127.0.0.1", 0) == 1);
	CHECK(X509_check_ip_asc(x, "::1", 0) == 1);
	CHECK(X509_check_host(x, "other.example.test", 0, 0, NULL) == 0);
	CHECK(X509_check_ip_asc(x, "192.0.2.1", 0) == 0);
	GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	CHECK(sans != NULL && sk_GENERAL_NAME_num(sans) == 4);
	GENERAL_NAMES_free(sans);

	/* Extensions. */
	uint32_t flags = X509_get_extension_flags(x);
	CHECK((flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) == 0);
	CHECK(X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE);
	CHECK(X509_get_extended_key_usage(x) == XKU_SSL_SERVER);
	CHECK(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0) == 1);

	/* Serial: positive, random 128 bits (fewer than 65 significant bits: p = 2^-64). */
	BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	CHECK(serial != NULL && !BN_is_negative(serial) && BN_num_bits(serial) > 64 &&
	      BN_num_bits(serial) <= 128);
	BN_free(serial);

	/* Valid now: from about an hour ago, for exactly 825 days. */
	const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
	CHECK(X509_cmp_current_time(nb) < 0);
	CHECK(X509_cmp_current_time(na) > 0);
	int days = -1, secs = -1;
	CHECK(ASN1_TIME_diff(&days, &secs, nb, na) == 1 && days == 825 && secs == 0);
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
	CHECK(ASN1_TIME_diff(&days, &secs, nb, now) == 1 && days == 0 && secs >= 3590 &&
	      secs <= 3610);
	ASN1_TIME_free(now);
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
}

static void test_cert_idempotent(void)
{
	char cert[128], key[128];
	const char *error = NULL;
	struct stat c1, k1, c2, k2;
	size_t clen1 = 0, klen1 = 0, clen2 = 0, klen2 = 0;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");

	CHECK(stat(cert, &c1) == 0 && stat(key, &k1) == 0);
	char *cdata1 = test_read_file(cert, &clen1), *kdata1 = test_read_file(key, &klen1);
	CHECK(tls_cert_ensure(cert, key, "other.example.test", &error) == 0);
	CHECK(stat(cert, &c2) == 0 && stat(key, &k2) == 0);
	char *cdata2 = test_read_file(cert, &clen2), *kdata2 = test_read_file(key, &klen2);
	CHECK(c1.st_ino == c2.st_ino && k1.st_ino == k2.st_ino);
	CHECK(c1.st_mtim.tv_sec == c2.st_mtim.tv_sec && c1.st_mtim.tv_nsec == c2.st_mtim.tv_nsec);
	CHECK(cdata1 != NULL && cdata2 != NULL && kdata1 != NULL && kdata2 != NULL);
	if (cdata1 != NULL && cdata2 != NULL && kdata1 != NULL && kdata2 != NULL) {
		CHECK(clen1 > 0 && clen1 == clen2 && memcmp(cdata1, cdata2, clen1) == 0);
		CHECK(klen1 > 0 && klen1 == klen2 && memcmp(kdata1, kdata2, klen1) == 0);
	}
	free(cdata1);
	free(cdata2);
	free(kdata1);
	free(kdata2);
}

static void test_cert_one_missing(void)
{
	char cert[128], key[128], src[128];
	const char *error = NULL;
	size_t len = 0, len2 = 0;

	/* Only a certificate: error, no key is written, the certificate is untouched. */
	test_path(src, sizeof(src), "a.crt");
	test_path(cert, sizeof(cert), "only.crt");
	test_path(key, sizeof(key), "only.key");
	char *data = test_read_file(src, &len);
	CHECK(data != NULL);
	if (data == NULL)
		return;
	FILE *f = fopen(cert, "wb");
	CHECK(f != NULL && fwrite(data, 1, len, f) == len);
	if (f != NULL)
		fclose(f);
	CHECK(tls_cert_ensure(cert, key, "localhost", &error) == -1);
	CHECK(error != NULL && strstr(error, "only.crt exists") != NULL);
	CHECK(!test_exists(key));
	char *after = test_read_file(cert, &len2);
	CHECK(after != NULL && len2 == len && memcmp(after, data, len) == 0);
	free(after);
	unlink(cert);

	/* Only a key: the same. */
	f = fopen(key, "wb");
	CHECK(f != NULL && fputs("operator's key\n", f) >= 0);
	if (f != NULL)
		fclose(f);
	error = NULL;
	CHECK(tls_cert_ensure(cert, key, "localhost", &error) == -1);
	CHECK(error != NULL && strstr(error, "only.key exists") != NULL);
	CHECK(!test_exists(cert));
	after = test_read_file(key, &len2);
	CHECK(after != NULL && len2 == 15 && memcmp(after, "operator's key\n", 15) == 0);
	free(after);
	unlink(key);

	/* A dangling symlink counts as existing: we neither write through nor replace it. */
	CHECK(symlink("/nonexistent/kura-test", key) == 0);
	CHECK(tls_cert_ensure(cert, key, "localhost", &error) == -1);
	CHECK(!test_exists(cert));
	unlink(key);
	free(data);
}

static void test_cert_hostnames(void)
{
	char cert[128], key[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "h.crt");
	test_path(key, sizeof(key), "h.key");

	static const char *const bad[] = {
		"", "a,DNS:evil.test", "-a.test", "a-.test", "a..test", ".a.test", "a.test.",
		"*.example.test", "host name", "h\xc3\xa9.test",
		"a123456789b123456789c123456789d123456789e123456789f123456789.test",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK(tls_cert_ensure(cert, key, bad[i], &error) == -1 && error != NULL);
		CHECK(!test_exists(cert) && !test_exists(key));
	}

	/* An IP literal becomes an IP SAN; the loopback names are still there. */
	CHECK(tls_cert_ensure(cert, key, "192.0.2.7", &error) == 0);
	X509 *x = test_load_cert(cert);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(X509_check_ip_asc(x, "192.0.2.7", 0) == 1);
		CHECK(X509_check_host(x, "localhost", 0, 0, NULL) == 1);
		CHECK(X509_check_ip_asc(x, "::1", 0) == 1);
		X509_free(x);
	}
	unlink(cert);
	unlink(key);

	/* The certificate cannot be written: the key written just before is removed again, so
	 * the next start is not stuck with only one of the two. */
	char nodir_cert[160];
	test_path(nodir_cert, sizeof(nodir_cert), "no-such-dir/h.crt");
	error = NULL;
	CHECK(tls_cert_ensure(nodir_cert, key, "localhost", &error) == -1);
	CHECK(error != NULL && strstr(error, "no-such-dir/h.crt") != NULL);
	CHECK(!test_exists(key));

	/* "localhost" is not listed twice. */
	CHECK(tls_cert_ensure(cert, key, "localhost", &error) == 0);
	x = test_load_cert(cert);
	CHECK(x != NULL);
	if (x != NULL) {
		GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		CHECK(sans != NULL && sk_GENERAL_NAME_num(sans) == 3);
		GENERAL_NAMES_free(sans);
		X509_free(x);
	}
	unlink(cert);
	unlink(key);
}

/* ---- handshakes in memory ---- */

struct test_peer {
	SSL_CTX *ctx;
	SSL *ssl;
	int err_reason; /* ERR_GET_REASON of the first failure, 0 if none */
	bool done, failed;
};

static bool test_cert_requested;

static int test_client_cert_cb(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	test_cert_requested = true;
	return 0; /* no certificate */
}

static SSL_CTX *test_client_ctx(const char *trust_path)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	if (SSL_CTX_load_verify_locations(ctx, trust_path, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* Connect client and server SSLs through a BIO pair. */
static void test_connect(struct test_peer *client, struct test_peer *server, const char *host)
{
	BIO *cb = NULL, *sb = NULL;
	client->ssl = SSL_new(client->ctx);
	server->ssl = SSL_new(server->ctx);
	CHECK(client->ssl != NULL && server->ssl != NULL);
	CHECK(BIO_new_bio_pair(&cb, 0, &sb, 0) == 1);
	SSL_set_bio(client->ssl, cb, cb);
	SSL_set_bio(server->ssl, sb, sb);
	SSL_set_connect_state(client->ssl);
	SSL_set_accept_state(server->ssl);
	CHECK(SSL_set_tlsext_host_name(client->ssl, host) == 1);
	CHECK(SSL_set1_host(client->ssl, host) == 1);
}

static void test_step(struct test_peer *p)
{
	if (p->done || p->failed)
		return;
	ERR_clear_error();
	int r = SSL_do_handshake(p->ssl);
	if (r == 1) {
		p->done = true;
		return;
	}
	int e = SSL_get_error(p->ssl, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		p->failed = true;
		p->err_reason = ERR_GET_REASON(ERR_peek_error());
		ERR_clear_error();
	}
}

/* Drive both sides until both finished or one failed; 1 ok, -1 failed. */
static int test_handshake(struct test_peer *client, struct test_peer *server)
{
	for (int i = 0; i < 50; i++) {
		test_step(client);
		test_step(server);
		if (client->failed || server->failed)
			return -1;
		if (client->done && server->done)
			return 1;
	}
	return -1;
}

static void test_peer_free(struct test_peer *p)
{
	SSL_free(p->ssl);
	p->ssl = NULL;
}

/* Send len bytes from one side and read them on the other. */
static void test_transfer(SSL *from, SSL *to, const char *data)
{
	char buf[256];
	size_t len = strlen(data), got = 0;
	CHECK(SSL_write(from, data, (int)len) == (int)len);
	for (int i = 0; i < 10 && got < len; i++) {
		int r = SSL_read(to, buf + got, (int)(sizeof(buf) - got));
		if (r > 0)
			got += (size_t)r;
		else
			CHECK(SSL_get_error(to, r) == SSL_ERROR_WANT_READ);
	}
	CHECK_MEM(buf, got, data, len);
}

static void test_handshake_ok(void)
{
	char cert[128], key[128], desc[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");

	struct test_peer server = { 0 }, client = { 0 };
	server.ctx = tls_server_ctx_create(cert, key, NULL, &error);
	CHECK(server.ctx != NULL);
	client.ctx = test_client_ctx(cert);
	CHECK(client.ctx != NULL);
	if (server.ctx == NULL || client.ctx == NULL)
		goto out;
	CHECK(SSL_CTX_get_min_proto_version(server.ctx) == TLS1_2_VERSION);
	CHECK(SSL_CTX_sess_get_cache_size(server.ctx) == 1024);
	CHECK((SSL_CTX_get_mode(server.ctx) & SSL_MODE_RELEASE_BUFFERS) != 0);
	CHECK((SSL_CTX_get_options(server.ctx) & SSL_OP_NO_RENEGOTIATION) != 0);
	CHECK(SSL_CTX_get_verify_mode(server.ctx) == SSL_VERIFY_NONE);
	SSL_CTX_set_client_cert_cb(client.ctx, test_client_cert_cb);
	test_cert_requested = false;

	test_connect(&client, &server, "localhost");
	/* Before the handshake there is no cipher yet. */
	tls_session_describe(server.ssl, desc, sizeof(desc));
	CHECK(strstr(desc, "(none)") != NULL);
	CHECK(test_handshake(&client, &server) == 1);
	CHECK(SSL_get_verify_result(client.ssl) == X509_V_OK);
	CHECK(SSL_version(server.ssl) >= TLS1_2_VERSION);
	CHECK(SSL_version(server.ssl) == TLS1_3_VERSION);
	CHECK(!test_cert_requested); /* no ca_path: no CertificateRequest */
	CHECK(SSL_get_current_compression(server.ssl) == NULL);

	tls_session_describe(server.ssl, desc, sizeof(desc));
	CHECK(strncmp(desc, "TLSv1.3 TLS_", 12) == 0);
	char small[8];
	tls_session_describe(server.ssl, small, sizeof(small));
	CHECK_STR(small, "TLSv1.3");

	test_transfer(client.ssl, server.ssl, "a1 NOOP\r\n");
	test_transfer(server.ssl, client.ssl, "a1 OK NOOP completed\r\n");
	test_transfer(client.ssl, server.ssl, "a2 LOGOUT\r\n");
out:
	test_peer_free(&client);
	test_peer_free(&server);
	SSL_CTX_free(client.ctx);
	tls_ctx_destroy(&server.ctx);
	CHECK(server.ctx == NULL);
	tls_ctx_destroy(&server.ctx); /* NULL-safe */
}

static void test_handshake_hostname_mismatch(void)
{
	char cert[128], key[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");

	struct test_peer server = { 0 }, client = { 0 };
	server.ctx = tls_server_ctx_create(cert, key, NULL, &error);
	client.ctx = test_client_ctx(cert);
	CHECK(server.ctx != NULL && client.ctx != NULL);
	if (server.ctx != NULL && client.ctx != NULL) {
		test_connect(&client, &server, "evil.example.test");
		CHECK(test_handshake(&client, &server) == -1);
		CHECK(client.failed);
		CHECK(SSL_get_verify_result(client.ssl) == X509_V_ERR_HOSTNAME_MISMATCH);
	}
	test_peer_free(&client);
	test_peer_free(&server);
	SSL_CTX_free(client.ctx);
	tls_ctx_destroy(&server.ctx);
}

static void test_handshake_tls12(void)
{
	char cert[128], key[128], desc[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");

	struct test_peer server = { 0 }, client = { 0 };
	server.ctx = tls_server_ctx_create(cert, key, NULL, &error);
	client.ctx = test_client_ctx(cert);
	CHECK(server.ctx != NULL && client.ctx != NULL);
	if (server.ctx == NULL || client.ctx == NULL)
		goto out;

	/* TLS 1.2 negotiates an ECDHE AEAD suite, the server's first choice. */
	CHECK(SSL_CTX_set_max_proto_version(client.ctx, TLS1_2_VERSION) == 1);
	test_connect(&client, &server, "localhost");
	CHECK(test_handshake(&client, &server) == 1);
	tls_session_describe(server.ssl, desc, sizeof(desc));
	CHECK_STR(desc, "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256");
	test_transfer(client.ssl, server.ssl, "x\r\n");
	test_transfer(server.ssl, client.ssl, "y\r\n");
	test_peer_free(&client);
	test_peer_free(&server);

	/* A TLS 1.2 client that offers only CBC suites gets nothing. */
	CHECK(SSL_CTX_set_cipher_list(client.ctx, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA") ==
	      1);
	client.done = client.failed = server.done = server.failed = false;
	test_connect(&client, &server, "localhost");
	CHECK(test_handshake(&client, &server) == -1);
	CHECK(server.failed && server.err_reason == SSL_R_NO_SHARED_CIPHER);
out:
	test_peer_free(&client);
	test_peer_free(&server);
	SSL_CTX_free(client.ctx);
	tls_ctx_destroy(&server.ctx);
}

static void test_handshake_tls11_refused(void)
{
	char cert[128], key[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");

	struct test_peer server = { 0 }, client = { 0 };
	server.ctx = tls_server_ctx_create(cert, key, NULL, &error);
	client.ctx = test_client_ctx(cert);
	CHECK(server.ctx != NULL && client.ctx != NULL);
	if (server.ctx != NULL && client.ctx != NULL) {
		/* Let the client really offer TLS 1.1 (system policy may forbid it), so it is
		 * the server that refuses. */
		SSL_CTX_set_security_level(client.ctx, 0);
		CHECK(SSL_CTX_set_cipher_list(client.ctx, "DEFAULT:@SECLEVEL=0") == 1);
		CHECK(SSL_CTX_set_min_proto_version(client.ctx, TLS1_VERSION) == 1);
		CHECK(SSL_CTX_set_max_proto_version(client.ctx, TLS1_1_VERSION) == 1);
		test_connect(&client, &server, "localhost");
		CHECK(test_handshake(&client, &server) == -1);
		CHECK(server.failed && server.err_reason == SSL_R_UNSUPPORTED_PROTOCOL);
	}
	test_peer_free(&client);
	test_peer_free(&server);
	SSL_CTX_free(client.ctx);
	tls_ctx_destroy(&server.ctx);
}

/* A self-signed client certificate for "alice" with extendedKeyUsage clientAuth. */
static int test_make_client_cert(const char *cert_path, const char *key_path)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	int ret = -1;
	if (pkey == NULL || x == NULL)
		goto out;
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"alice", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "clientAuth");
	if (ext == NULL)
		goto out;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto out;
	FILE *f = fopen(cert_path, "w");
	if (f == NULL)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	if (f == NULL)
		goto out;
	PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

static void test_handshake_client_certs(void)
{
	char cert[128], key[128], ca[128], ckey[128], desc[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");
	test_path(ca, sizeof(ca), "alice.crt");
	test_path(ckey, sizeof(ckey), "alice.key");
	CHECK(test_make_client_cert(ca, ckey) == 0);

	struct test_peer server = { 0 }, client = { 0 };
	server.ctx = tls_server_ctx_create(cert, key, ca, &error);
	client.ctx = test_client_ctx(cert);
	CHECK(server.ctx != NULL && client.ctx != NULL);
	if (server.ctx == NULL || client.ctx == NULL)
		goto out;
	CHECK(SSL_CTX_get_verify_mode(server.ctx) == SSL_VERIFY_PEER);

	/* Requested, not required: a client without a certificate gets in. */
	SSL_CTX_set_client_cert_cb(client.ctx, test_client_cert_cb);
	test_cert_requested = false;
	test_connect(&client, &server, "localhost");
	CHECK(test_handshake(&client, &server) == 1);
	CHECK(test_cert_requested);
	CHECK(SSL_get0_peer_certificate(server.ssl) == NULL);
	test_transfer(client.ssl, server.ssl, "a1 CAPABILITY\r\n");
	test_peer_free(&client);
	test_peer_free(&server);
	SSL_CTX_free(client.ctx);

	/* A client certificate that verifies is accepted and visible to the server. */
	client = (struct test_peer){ 0 };
	server.done = server.failed = false;
	client.ctx = test_client_ctx(cert);
	CHECK(client.ctx != NULL);
	if (client.ctx == NULL)
		goto out;
	CHECK(SSL_CTX_use_certificate_file(client.ctx, ca, SSL_FILETYPE_PEM) == 1);
	CHECK(SSL_CTX_use_PrivateKey_file(client.ctx, ckey, SSL_FILETYPE_PEM) == 1);
	test_connect(&client, &server, "localhost");
	CHECK(test_handshake(&client, &server) == 1);
	CHECK(SSL_get_verify_result(server.ssl) == X509_V_OK);
	X509 *peer = SSL_get0_peer_certificate(server.ssl);
	CHECK(peer != NULL);
	if (peer != NULL) {
		char cn[64] = "";
		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
					  sizeof(cn));
		CHECK_STR(cn, "alice");
	}
	tls_session_describe(server.ssl, desc, sizeof(desc));
	CHECK(strncmp(desc, "TLSv1.3 ", 8) == 0);
	test_peer_free(&client);
	test_peer_free(&server);
	SSL_CTX_free(client.ctx);

	/* A certificate that does not verify (the server's own: not from the CA file, and for
	 * serverAuth only) fails the handshake instead of being silently ignored. */
	client = (struct test_peer){ 0 };
	server.done = server.failed = false;
	client.ctx = test_client_ctx(cert);
	CHECK(client.ctx != NULL);
	if (client.ctx == NULL)
		goto out;
	CHECK(SSL_CTX_use_certificate_file(client.ctx, cert, SSL_FILETYPE_PEM) == 1);
	CHECK(SSL_CTX_use_PrivateKey_file(client.ctx, key, SSL_FILETYPE_PEM) == 1);
	test_connect(&client, &server, "localhost");
	CHECK(test_handshake(&client, &server) == -1);
	CHECK(server.failed);
	CHECK(SSL_get_verify_result(server.ssl) != X509_V_OK);
out:
	test_peer_free(&client);
	test_peer_free(&server);
	SSL_CTX_free(client.ctx);
	tls_ctx_destroy(&server.ctx);
	unlink(ca);
	unlink(ckey);
}

static void test_ctx_errors(void)
{
	char cert[128], key[128], cert2[128], key2[128], missing[128];
	const char *error = NULL;
	test_path(cert, sizeof(cert), "a.crt");
	test_path(key, sizeof(key), "a.key");
	test_path(cert2, sizeof(cert2), "b.crt");
	test_path(key2, sizeof(key2), "b.key");
	test_path(missing, sizeof(missing), "missing.pem");
	CHECK(tls_cert_ensure(cert2, key2, "localhost", &error) == 0);

	SSL_CTX *ctx = tls_server_ctx_create(missing, key, NULL, &error);
	CHECK(ctx == NULL && error != NULL && strstr(error, "missing.pem") != NULL);
	error = NULL;
	ctx = tls_server_ctx_create(cert, missing, NULL, &error);
	CHECK(ctx == NULL && error != NULL && strstr(error, "missing.pem") != NULL);
	error = NULL;
	ctx = tls_server_ctx_create(cert, key2, NULL, &error); /* key of another cert */
	CHECK(ctx == NULL && error != NULL && strstr(error, "b.key") != NULL);
	error = NULL;
	ctx = tls_server_ctx_create(cert, key, missing, &error);
	CHECK(ctx == NULL && error != NULL && strstr(error, "missing.pem") != NULL);
	error = NULL;
	ctx = tls_server_ctx_create(key, key, NULL, &error); /* a key is no certificate */
	CHECK(ctx == NULL && error != NULL);
	CHECK(ERR_peek_error() == 0); /* the queue was drained into the message */

	/* tls_error_string with an empty queue. */
	CHECK_STR(tls_error_string(), "no OpenSSL error");
	unlink(cert2);
	unlink(key2);
}

static void test_cleanup(void)
{
	DIR *d = opendir(test_dir);
	if (d != NULL) {
		struct dirent *de;
		char path[PATH_MAX];
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", test_dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(test_dir);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(test_dir, sizeof(test_dir), "%s/kura-test-tls.XXXXXX",
		 tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(test_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	umask(022);

	TEST_RUN(test_cert_generate);
	TEST_RUN(test_cert_idempotent);
	TEST_RUN(test_cert_one_missing);
	TEST_RUN(test_cert_hostnames);
	TEST_RUN(test_handshake_ok);
	TEST_RUN(test_handshake_hostname_mismatch);
	TEST_RUN(test_handshake_tls12);
	TEST_RUN(test_handshake_tls11_refused);
	TEST_RUN(test_handshake_client_certs);
	TEST_RUN(test_ctx_errors);
	test_cleanup();
	return test_finish();
}
