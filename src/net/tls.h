/* tls.h: OpenSSL 3 setup for kura's server side: a self-signed certificate made on first start,
 * the server SSL_CTX (TLS 1.2+ only, forward-secret AEAD suites, small memory footprint), and
 * helpers for error and session log lines. The connections themselves live in net/conn.h.
 *
 * Error strings: *error_r, when set, points to a static buffer of this module that stays valid
 * until the next call of a function in this module. Not thread-safe (each process sets TLS up
 * from its single thread). */
#ifndef KURA_NET_TLS_H
#define KURA_NET_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* Make sure a certificate and its key exist.
 * - Both files exist: nothing is read or changed; returns 0 (tls_server_ctx_create checks them).
 * - Neither exists: generates an ECDSA P-256 key and a self-signed X.509 v3 certificate
 *   (SHA-256, random 128-bit serial, valid from now - 1 h for 825 days, CN=hostname,
 *   subjectAltName DNS:hostname, DNS:localhost, IP:127.0.0.1, IP:::1, CA:FALSE, keyUsage
 *   digitalSignature, extendedKeyUsage serverAuth) and writes the key (mode 0600) then the
 *   certificate (mode 0644, less what the umask removes), each atomically. If the certificate
 *   cannot be written, the new key is removed again.
 * - Only one exists: error, the operator's file is left alone.
 * hostname is a DNS name (letters, digits, '-', '.'; at most 64 bytes, the CN limit) or an IPv4
 * or IPv6 literal (then an IP: name instead of DNS:). The folders must already exist.
 * Not safe against a second process running it on the same paths at the same moment (the master
 * runs it once at startup). Returns 0, or -1 with *error_r set. */
int tls_cert_ensure(const char *cert_path, const char *key_path, const char *hostname,
		    const char **error_r);

/* Create a server context: TLS 1.2 minimum; TLS 1.2 suites ECDHE with AES-GCM or
 * ChaCha20-Poly1305 only, server preference; TLS 1.3 default suites; no compression, no
 * renegotiation; session cache of 1024 entries; SSL_MODE_RELEASE_BUFFERS (idle connections hold
 * no record buffers), SSL_MODE_ENABLE_PARTIAL_WRITE and SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER.
 * cert_path is a PEM chain (leaf first), key_path its PEM private key; they must match.
 * ca_path NULL: no client certificates are asked for. Otherwise a PEM file of CA certificates:
 * a client certificate is requested but not required; a client that sends none still completes
 * the handshake (SSL_get0_peer_certificate() is then NULL), one that sends a certificate that
 * does not verify against ca_path (or is not meant for client auth) fails the handshake. So a
 * peer certificate on an established connection has been verified.
 * Returns the context (free with tls_ctx_destroy), or NULL with *error_r set. */
SSL_CTX *tls_server_ctx_create(const char *cert_path, const char *key_path, const char *ca_path,
			       const char **error_r);
/* Drop our reference (connections hold their own) and set *ctx to NULL; NULL-safe. */
void tls_ctx_destroy(SSL_CTX **ctx);

/* Empty this thread's OpenSSL error queue and describe it for a log line: the last (outermost)
 * error, followed by the first (the root cause) when they differ, or "no OpenSSL error". The
 * string is in a static buffer, valid until the next call. */
const char *tls_error_string(void);

/* Write "<protocol> <cipher>" of an established connection, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384",
 * into out (always NUL-terminated if out_size > 0, truncated if too small). Before the
 * handshake has chosen a cipher, the cipher reads "(none)". */
void tls_session_describe(SSL *ssl, char *out, size_t out_size);

#endif
