/* transport.c: non-blocking TCP and TLS for the load generator. Traps: source addresses are
 * bound with IP_BIND_ADDRESS_NO_PORT so the port is chosen at connect() time per destination
 * (otherwise bind() reserves a port for every destination and one source address runs out
 * near 28,000 connections); writes use MSG_NOSIGNAL; SSL_write must be retried with the same
 * buffer, which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER relaxes to "the same bytes". */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static char transport_err[256];

static const char *transport_errno(const char *what)
{
	snprintf(transport_err, sizeof(transport_err), "%s: %s", what, strerror(errno));
	return transport_err;
}

static const char *transport_ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char detail[160] = "";
	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	else if (errno != 0)
		snprintf(detail, sizeof(detail), "%s", strerror(errno));
	else
		snprintf(detail, sizeof(detail), "connection closed");
	ERR_clear_error();
	snprintf(transport_err, sizeof(transport_err), "%s: %s", what, detail);
	return transport_err;
}

SSL_CTX *transport_tls_ctx_create(const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = transport_ssl_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

void transport_init(struct transport *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

int transport_connect(struct transport *t, const struct sockaddr *dst, socklen_t dst_len,
		      const struct sockaddr *src, socklen_t src_len, const char **error_r)
{
	transport_init(t);
	t->fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		*error_r = transport_errno("socket");
		return -1;
	}
	int one = 1;
	(void)setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src != NULL) {
		if (src->sa_family == AF_INET)
			(void)setsockopt(t->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(t->fd, src, src_len) < 0) {
			*error_r = transport_errno("bind to the source address");
			transport_close(t);
			return -1;
		}
	}
	if (connect(t->fd, dst, dst_len) == 0)
		return 1;
	if (errno == EINPROGRESS) {
		t->want = TRANSPORT_WANT_WRITE;
		return 0;
	}
	*error_r = transport_errno("connect");
	transport_close(t);
	return -1;
}

int transport_connect_finish(struct transport *t, const char **error_r)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		errno = err;
		*error_r = transport_errno("connect");
		return -1;
	}
	t->want = 0;
	return 1;
}

int transport_tls_start(struct transport *t, SSL_CTX *ctx, const char **error_r)
{
	t->ssl = SSL_new(ctx);
	if (t->ssl == NULL || SSL_set_fd(t->ssl, t->fd) != 1) {
		*error_r = transport_ssl_error("SSL_new");
		return -1;
	}
	SSL_set_connect_state(t->ssl);
	return 1;
}

/* Map an SSL_* result that did not succeed. 0 would block (want set), -1 error. */
static int transport_ssl_result(struct transport *t, int ret, const char *what,
				const char **error_r)
{
	int e = SSL_get_error(t->ssl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		t->want = TRANSPORT_WANT_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		t->want = TRANSPORT_WANT_WRITE;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		t->eof = true;
		*error_r = "TLS connection closed";
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && errno == 0) {
			t->eof = true;
			*error_r = "connection closed";
			return -1;
		}
		/* fall through */
	default:
		*error_r = transport_ssl_error(what);
		return -1;
	}
}

int transport_tls_handshake(struct transport *t, const char **error_r)
{
	ERR_clear_error();
	errno = 0;
	int ret = SSL_do_handshake(t->ssl);
	if (ret == 1) {
		t->want = 0;
		return 1;
	}
	return transport_ssl_result(t, ret, "TLS handshake", error_r);
}

ssize_t transport_read(struct transport *t, void *buf, size_t len, const char **error_r)
{
	if (t->ssl != NULL) {
		size_t n = 0;
		ERR_clear_error();
		errno = 0;
		int ret = SSL_read_ex(t->ssl, buf, len, &n);
		if (ret == 1) {
			t->want = 0;
			return (ssize_t)n;
		}
		return transport_ssl_result(t, ret, "TLS read", error_r);
	}
	ssize_t n = read(t->fd, buf, len);
	if (n > 0)
		return n;
	if (n == 0) {
		t->eof = true;
		*error_r = "connection closed by the server";
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		t->want = TRANSPORT_WANT_READ;
		return 0;
	}
	*error_r = transport_errno("read");
	return -1;
}

ssize_t transport_writev(struct transport *t, const struct iovec *iov, int iovcnt,
			 const char **error_r)
{
	if (iovcnt <= 0)
		return 0;
	if (t->ssl != NULL) {
		/* one record at a time: SSL_write has no gather variant */
		size_t n = 0;
		size_t len = iov[0].iov_len > 16384 ? 16384 : iov[0].iov_len;
		ERR_clear_error();
		errno = 0;
		int ret = SSL_write_ex(t->ssl, iov[0].iov_base, len, &n);
		if (ret == 1) {
			t->want = 0;
			return (ssize_t)n;
		}
		return transport_ssl_result(t, ret, "TLS write", error_r);
	}
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n = sendmsg(t->fd, &msg, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		t->want = TRANSPORT_WANT_WRITE;
		return 0;
	}
	*error_r = transport_errno("write");
	return -1;
}

void transport_close(struct transport *t)
{
	if (t->ssl != NULL) {
		SSL_free(t->ssl);
		t->ssl = NULL;
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->want = 0;
}
