/* transport.h: one client socket, plain TCP or TLS (OpenSSL), always non-blocking.
 *
 * Every call returns at once. When one would block, it returns 0 and sets t->want to the
 * events (TRANSPORT_WANT_READ/WRITE) to wait for; with TLS a read can want a write and the
 * other way round. Errors return -1 with a message in *error_r (static storage, valid until
 * the next call); a clean end of stream is -1 with t->eof set. */
#ifndef KURA_LOAD_TRANSPORT_H
#define KURA_LOAD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

#define TRANSPORT_WANT_READ 0x1u
#define TRANSPORT_WANT_WRITE 0x2u

struct transport {
	int fd;
	SSL *ssl;
	unsigned want;
	bool eof;
};

/* A client context: TLS 1.2+, no certificate verification (benchmarks run against
 * self-signed certificates), small buffers released when idle. NULL with *error_r. */
SSL_CTX *transport_tls_ctx_create(const char **error_r);

void transport_init(struct transport *t);
/* Start a connection to dst from src (NULL: any address). 1 connected, 0 in progress (wait
 * for TRANSPORT_WANT_WRITE, then transport_connect_finish), -1 error. */
int transport_connect(struct transport *t, const struct sockaddr *dst, socklen_t dst_len,
		      const struct sockaddr *src, socklen_t src_len, const char **error_r);
int transport_connect_finish(struct transport *t, const char **error_r);
/* Begin TLS on the connected socket; then call transport_tls_handshake until it returns 1. */
int transport_tls_start(struct transport *t, SSL_CTX *ctx, const char **error_r);
int transport_tls_handshake(struct transport *t, const char **error_r);

/* > 0 bytes read, 0 would block, -1 error or end of stream (t->eof). */
ssize_t transport_read(struct transport *t, void *buf, size_t len, const char **error_r);
/* >= 0 bytes written (0: would block), -1 error. */
ssize_t transport_writev(struct transport *t, const struct iovec *iov, int iovcnt,
			 const char **error_r);
void transport_close(struct transport *t);

#endif
