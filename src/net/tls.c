/* tls.c: OpenSSL 3 server setup: first-start self-signed certificate, the server SSL_CTX, and
 * log helpers. Traps: an existing key or certificate is never overwritten (only both missing
 * means "generate"); the key PEM goes through secure memory and is written 0600 before the
 * certificate; SAN names are built as GENERAL_NAMEs, never from a config string a hostname
 * could inject into. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/fdutil.h"

#define TLS_CERT_DAYS 825 /* the longest validity Apple clients accept for a server cert */
#define TLS_CN_MAX 64     /* RFC 5280 ub-common-name */
#define TLS_SESSION_CACHE 1024

/* TLS 1.2 only: ECDHE for forward secrecy, AEAD only (Mozilla "intermediate" without DHE).
 * TLS 1.3 suites are OpenSSL's defaults, all AEAD. */
#define TLS_CIPHERS_TLS12                                                                 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                      \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                      \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static char tls_errbuf[512];

static const char *tls_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format into the module's error buffer and return it (for *error_r). */
static const char *tls_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tls_errbuf, sizeof(tls_errbuf), fmt, ap);
	va_end(ap);
	return tls_errbuf;
}

static void tls_error_format(char *out, size_t out_size, unsigned long e, const char *data,
			     int flags)
{
	const char *lib = ERR_lib_error_string(e);
	const char *reason = ERR_reason_error_string(e);
	char code[32];
	if (ERR_SYSTEM_ERROR(e)) {
		/* The reason is an errno value; the library name adds nothing. */
		lib = NULL;
		reason = strerror(ERR_GET_REASON(e));
	} else if (reason == NULL) {
		snprintf(code, sizeof(code), "error %d", ERR_GET_REASON(e));
		reason = code;
	}
	bool has_data = (flags & ERR_TXT_STRING) != 0 && data != NULL && data[0] != '\0';
	snprintf(out, out_size, "%s%s%s%s%s%s", lib != NULL ? lib : "", lib != NULL ? ": " : "",
		 reason, has_data ? " (" : "", has_data ? data : "", has_data ? ")" : "");
}

const char *tls_error_string(void)
{
	static char msg[512];
	char first[240] = "", last[240] = "";
	unsigned long e, first_e = 0, last_e = 0;
	const char *data;
	int flags;

	/* Format each entry as it is popped: its data string belongs to the error queue. */
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (first_e == 0) {
			first_e = e;
			tls_error_format(first, sizeof(first), e, data, flags);
		} else {
			last_e = e;
			tls_error_format(last, sizeof(last), e, data, flags);
		}
	}
	if (first_e == 0)
		snprintf(msg, sizeof(msg), "no OpenSSL error");
	else if (last_e == 0 || strcmp(first, last) == 0)
		snprintf(msg, sizeof(msg), "%s", first);
	else
		snprintf(msg, sizeof(msg), "%s (cause: %s)", last, first);
	return msg;
}

void tls_session_describe(SSL *ssl, char *out, size_t out_size)
{
	if (out_size == 0)
		return;
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	snprintf(out, out_size, "%s %s", SSL_get_version(ssl),
		 cipher != NULL ? SSL_CIPHER_get_name(cipher) : "(none)");
}

/* ---- certificate generation ---- */

/* 1 if path exists (lstat: a dangling symlink counts, we will not write through or over it),
 * 0 if not, -1 on another error. */
static int tls_path_exists(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* A host name as DNS labels: letters, digits and inner '-', no empty label. */
static bool tls_hostname_is_dns(const char *name)
{
	size_t label = 0;
	char prev = '.';
	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;
		if (c == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		prev = c;
	}
	return label > 0 && prev != '-';
}

static int tls_san_add(GENERAL_NAMES *names, int type, const void *data, size_t len)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_DNS ? ASN1_IA5STRING_new() : ASN1_OCTET_STRING_new();
	if (gn == NULL || s == NULL || ASN1_STRING_set(s, data, (int)len) != 1) {
		ASN1_STRING_free(s);
		GENERAL_NAME_free(gn);
		return -1;
	}
	GENERAL_NAME_set0_value(gn, type, s);
	if (sk_GENERAL_NAME_push(names, gn) <= 0) {
		GENERAL_NAME_free(gn);
		return -1;
	}
	return 0;
}

/* subjectAltName: the host name (DNS or IP), then localhost, 127.0.0.1 and ::1, without
 * repeating the host name if it is one of those. */
static int tls_cert_add_san(X509 *x, const char *hostname, int host_type,
			    const unsigned char *host_ip, size_t host_ip_len)
{
	static const unsigned char ip4_loop[4] = { 127, 0, 0, 1 };
	static const unsigned char ip6_loop[16] = { [15] = 1 };
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int ret = -1;

	if (names == NULL)
		return -1;
	if (host_type == GEN_DNS) {
		if (tls_san_add(names, GEN_DNS, hostname, strlen(hostname)) < 0)
			goto out;
	} else if (!(host_ip_len == 4 && memcmp(host_ip, ip4_loop, 4) == 0) &&
		   !(host_ip_len == 16 && memcmp(host_ip, ip6_loop, 16) == 0)) {
		if (tls_san_add(names, GEN_IPADD, host_ip, host_ip_len) < 0)
			goto out;
	}
	if (!(host_type == GEN_DNS && strcasecmp(hostname, "localhost") == 0) &&
	    tls_san_add(names, GEN_DNS, "localhost", 9) < 0)
		goto out;
	if (tls_san_add(names, GEN_IPADD, ip4_loop, 4) < 0 ||
	    tls_san_add(names, GEN_IPADD, ip6_loop, 16) < 0)
		goto out;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1)
		ret = 0;
out:
	GENERAL_NAMES_free(names);
	return ret;
}

static int tls_cert_add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* Random positive non-zero 128-bit serial (RFC 5280 4.1.2.2: at most 20 octets). */
static int tls_cert_set_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int ret = -1;
	do {
		BN_free(bn);
		bn = NULL;
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			return -1;
		bn = BN_bin2bn(raw, sizeof(raw), NULL);
		if (bn == NULL)
			return -1;
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		ret = 0;
	BN_free(bn);
	return ret;
}

static X509 *tls_cert_build(EVP_PKEY *key, const char *hostname, int host_type,
			    const unsigned char *host_ip, size_t host_ip_len)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	X509V3_CTX v3;
	time_t now = time(NULL);

	if (x == NULL)
		return NULL;
	name = X509_NAME_new();
	if (name == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    tls_cert_set_serial(x) < 0 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_CERT_DAYS, -3600, &now) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1)
		goto fail;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (tls_cert_add_san(x, hostname, host_type, host_ip, host_ip_len) < 0 ||
	    tls_cert_add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    tls_cert_add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") < 0 ||
	    tls_cert_add_ext(x, &v3, NID_ext_key_usage, "serverAuth") < 0 ||
	    tls_cert_add_ext(x, &v3, NID_subject_key_identifier, "hash") < 0)
		goto fail;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto fail;
	X509_NAME_free(name);
	return x;
fail:
	X509_NAME_free(name);
	X509_free(x);
	return NULL;
}

/* Write a memory BIO's contents to path atomically with mode. */
static int tls_bio_write_file(BIO *bio, const char *path, int mode, const char **error_r)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	if (len <= 0) {
		*error_r = tls_fail("%s: empty PEM output", path);
		return -1;
	}
	if (file_write_atomic(path, data, (size_t)len, mode) < 0) {
		*error_r = tls_fail("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int tls_cert_generate(const char *cert_path, const char *key_path, const char *hostname,
			     int host_type, const unsigned char *host_ip, size_t host_ip_len,
			     const char **error_r)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *key_bio = NULL, *cert_bio = NULL;
	int ret = -1;

	ERR_clear_error();
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL) {
		*error_r = tls_fail("generating a P-256 key: %s", tls_error_string());
		goto out;
	}
	x = tls_cert_build(key, hostname, host_type, host_ip, host_ip_len);
	if (x == NULL) {
		*error_r = tls_fail("building the certificate: %s", tls_error_string());
		goto out;
	}
	/* The key PEM lives in secure memory: wiped when freed, also across reallocations. */
	key_bio = BIO_new(BIO_s_secmem());
	cert_bio = BIO_new(BIO_s_mem());
	if (key_bio == NULL || cert_bio == NULL ||
	    PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cert_bio, x) != 1) {
		*error_r = tls_fail("writing PEM: %s", tls_error_string());
		goto out;
	}
	if (tls_bio_write_file(key_bio, key_path, 0600, error_r) < 0)
		goto out;
	if (tls_bio_write_file(cert_bio, cert_path, 0644, error_r) < 0) {
		/* Leave neither file, so the next start generates again instead of refusing. */
		unlink(key_path);
		goto out;
	}
	ret = 0;
out:
	BIO_free(key_bio);
	BIO_free(cert_bio);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

int tls_cert_ensure(const char *cert_path, const char *key_path, const char *hostname,
		    const char **error_r)
{
	int cert_exists = tls_path_exists(cert_path);
	if (cert_exists < 0) {
		*error_r = tls_fail("%s: %s", cert_path, strerror(errno));
		return -1;
	}
	int key_exists = tls_path_exists(key_path);
	if (key_exists < 0) {
		*error_r = tls_fail("%s: %s", key_path, strerror(errno));
		return -1;
	}
	if (cert_exists && key_exists)
		return 0;
	if (cert_exists || key_exists) {
		*error_r = tls_fail("%s exists but %s does not; not generating a certificate over "
				    "an existing file (remove it or provide both)",
				    cert_exists ? cert_path : key_path,
				    cert_exists ? key_path : cert_path);
		return -1;
	}

	unsigned char ip[16];
	size_t ip_len = 0;
	int host_type;
	if (inet_pton(AF_INET, hostname, ip) == 1) {
		host_type = GEN_IPADD;
		ip_len = 4;
	} else if (inet_pton(AF_INET6, hostname, ip) == 1) {
		host_type = GEN_IPADD;
		ip_len = 16;
	} else if (strlen(hostname) <= TLS_CN_MAX && tls_hostname_is_dns(hostname)) {
		host_type = GEN_DNS;
	} else {
		*error_r = tls_fail("invalid host name for the certificate: '%.*s' (letters, digits, "
				    "'-' and '.', at most %d bytes, or an IP address)",
				    100, hostname, TLS_CN_MAX);
		return -1;
	}
	return tls_cert_generate(cert_path, key_path, hostname, host_type, ip, ip_len, error_r);
}

/* ---- server context ---- */

SSL_CTX *tls_server_ctx_create(const char *cert_path, const char *key_path, const char *ca_path,
			       const char **error_r)
{
	static const unsigned char sid_ctx[] = "kura";
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_fail("SSL_CTX_new: %s", tls_error_string());
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_TLS12) != 1) {
		*error_r = tls_fail("TLS settings: %s", tls_error_string());
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Release buffers: an idle connection then holds no 16+ KiB record buffers (DESIGN.md:
	 * an idle TLS connection costs at most 32 KiB). Partial writes and a moving write buffer
	 * suit conn.c, which writes from a buffer that may be compacted between retries. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, TLS_SESSION_CACHE);
	/* Needed for resumption once client certificates are requested; harmless otherwise. */
	if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1) {
		*error_r = tls_fail("TLS settings: %s", tls_error_string());
		goto fail;
	}

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		*error_r = tls_fail("certificate %s: %s", cert_path, tls_error_string());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_fail("private key %s: %s", key_path, tls_error_string());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_fail("private key %s does not match certificate %s: %s", key_path,
				    cert_path, tls_error_string());
		goto fail;
	}

	if (ca_path != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_path, NULL) != 1) {
			*error_r = tls_fail("client CA file %s: %s", ca_path, tls_error_string());
			goto fail;
		}
		/* Names sent in the CertificateRequest, so a client picks a matching cert. */
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_path);
		if (names == NULL) {
			*error_r = tls_fail("client CA file %s: no certificates: %s", ca_path,
					    tls_error_string());
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		/* Request, don't require: without FAIL_IF_NO_PEER_CERT a client without a
		 * certificate still gets in (and authenticates by password); with the default
		 * verify callback a certificate that is sent but does not verify aborts the
		 * handshake, so a peer certificate that is present has been verified. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	ERR_clear_error();
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_destroy(SSL_CTX **ctx)
{
	if (*ctx == NULL)
		return;
	SSL_CTX_free(*ctx);
	*ctx = NULL;
}
