/* conn.c: buffered non-blocking connections with optional TLS. Traps: SSL_read can want a
 * write and SSL_write a read, so both directions are retried on any event; the input buffer is
 * only filled from a per-process scratch buffer, so an idle connection holds no read buffer;
 * conn_destroy defers the free so callbacks up the stack never touch freed memory. */
#include "conn.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

#define CONN_READ_CHUNK 16384

struct conn {
	struct loop *loop;
	int fd;
	struct loop_io *io;
	SSL *ssl;
	SSL_CTX *tls_ctx_pending;
	struct buf in, out;
	struct conn_limits limits;
	const struct conn_callbacks *cb;
	void *ctx;

	uint64_t idle_ms, last_activity;
	struct loop_timer *idle_timer;

	bool handshaking;
	bool ssl_read_wants_write, ssl_write_wants_read;
	bool paused, closing, closed, destroyed, detached, flush_scheduled, above_high;
	bool held; /* conn_hold_output: nothing is sent */
	bool write_shut; /* our side was shut down after a final reply: close by lingering */
	bool rcvbuf_raised;
	const char *close_reason;
};

static unsigned char conn_scratch[CONN_READ_CHUNK];

static void conn_update_events(struct conn *conn);
static void conn_do_write(struct conn *conn);

void conn_limits_default(struct conn_limits *limits)
{
	limits->in_max = 65536 + CONN_READ_CHUNK;
	limits->out_max = 4 * 1024 * 1024;
	limits->out_high = 256 * 1024;
	limits->out_low = 64 * 1024;
}

static void conn_report_closed(struct conn *conn, const char *reason)
{
	if (conn->closed || conn->destroyed)
		return;
	conn->closed = true;
	if (conn->io != NULL)
		loop_io_remove(&conn->io);
	loop_timer_remove(&conn->idle_timer);
	conn->cb->closed(conn->ctx, reason);
}

static void conn_idle_check(void *ctx)
{
	struct conn *conn = ctx;
	conn->idle_timer = NULL;
	if (conn->closed || conn->destroyed || conn->idle_ms == 0)
		return;
	uint64_t now = loop_now(conn->loop);
	uint64_t deadline = conn->last_activity + conn->idle_ms;
	if (now < deadline) {
		conn->idle_timer = loop_timer_add(conn->loop, deadline - now, conn_idle_check, conn);
		return;
	}
	if (conn->cb->timeout != NULL)
		conn->cb->timeout(conn->ctx);
	else
		conn_report_closed(conn, "idle timeout");
}

void conn_set_idle_timeout(struct conn *conn, uint64_t msecs)
{
	conn->idle_ms = msecs;
	conn->last_activity = loop_now(conn->loop);
	loop_timer_remove(&conn->idle_timer);
	if (msecs > 0)
		conn->idle_timer = loop_timer_add(conn->loop, msecs, conn_idle_check, conn);
}

static bool conn_want_read(const struct conn *conn)
{
	if (conn->closing || conn->closed || conn->tls_ctx_pending != NULL)
		return false;
	if (conn->handshaking || conn->ssl_write_wants_read)
		return true;
	if (conn->paused || conn->above_high || conn->in.len >= conn->limits.in_max)
		return false;
	return true;
}

static void conn_update_events(struct conn *conn)
{
	if (conn->io == NULL)
		return;
	unsigned ev = 0;
	if (conn_want_read(conn))
		ev |= LOOP_READ;
	if ((conn->out.len > 0 && !conn->handshaking && !conn->held) || conn->ssl_read_wants_write ||
	    (conn->handshaking && conn->ssl != NULL && SSL_want_write(conn->ssl)))
		ev |= LOOP_WRITE;
	loop_io_set(conn->io, ev);
}

static const char *conn_ssl_error(struct conn *conn, int ret, int *want_r)
{
	int err = SSL_get_error(conn->ssl, ret);
	*want_r = 0;
	switch (err) {
	case SSL_ERROR_WANT_READ:
		*want_r = LOOP_READ;
		return NULL;
	case SSL_ERROR_WANT_WRITE:
		*want_r = LOOP_WRITE;
		return NULL;
	case SSL_ERROR_ZERO_RETURN:
		return "TLS closed by peer";
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno == 0 || errno == EAGAIN ? "connection closed by peer" : strerror(errno);
	default: {
		static char msg[200];
		unsigned long e = ERR_get_error();
		ERR_clear_error();
		snprintf(msg, sizeof(msg), "TLS error: %s",
			 e != 0 ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown"
				: "protocol error");
		return msg;
	}
	}
}

static void conn_do_handshake(struct conn *conn)
{
	ERR_clear_error();
	int ret = SSL_do_handshake(conn->ssl);
	if (ret == 1) {
		conn->handshaking = false;
		return;
	}
	int want;
	const char *err = conn_ssl_error(conn, ret, &want);
	if (err != NULL)
		conn_report_closed(conn, err);
}

static void conn_begin_tls(struct conn *conn)
{
	SSL_CTX *ctx = conn->tls_ctx_pending;
	conn->tls_ctx_pending = NULL;
	conn->ssl = SSL_new(ctx);
	if (conn->ssl == NULL || SSL_set_fd(conn->ssl, conn->fd) != 1) {
		conn_report_closed(conn, "TLS setup failed");
		return;
	}
	SSL_set_accept_state(conn->ssl);
	conn->handshaking = true;
	conn_do_handshake(conn);
}

/* Read what is available into conn->in and hand it to the owner; then report an end of the
 * connection seen while reading (bytes that arrived before the EOF are delivered first).
 * When the buffer filled up and the owner consumed it (a literal streamed to a spool file), go
 * on reading, up to CONN_READ_BUDGET bytes per event: with only in_max (80 KiB) per turn of a
 * loop that serves 50 sessions and their fsyncs (100-700 ms a turn under load, measured), a
 * 4 MB APPEND took 50 turns, seconds. The budget keeps one sender from holding the loop.
 * Returns false when the connection ended. */
#define CONN_READ_BUDGET (1024 * 1024)
static bool conn_do_read(struct conn *conn)
{
	size_t total = 0;
	for (;;) {
		bool got = false, full = false;
		const char *end_reason = NULL;
		while (end_reason == NULL && conn_want_read(conn) && !conn->handshaking) {
			size_t room = conn->limits.in_max - conn->in.len;
			if (room > sizeof(conn_scratch))
				room = sizeof(conn_scratch);
			ssize_t n;
			if (conn->ssl != NULL) {
				ERR_clear_error();
				int ret = SSL_read(conn->ssl, conn_scratch, (int)room);
				conn->ssl_read_wants_write = false;
				if (ret <= 0) {
					int want;
					end_reason = conn_ssl_error(conn, ret, &want);
					if (want == LOOP_WRITE)
						conn->ssl_read_wants_write = true;
					break;
				}
				n = ret;
			} else {
				n = read(conn->fd, conn_scratch, room);
				if (n < 0) {
					if (errno == EINTR)
						continue;
					if (errno != EAGAIN)
						end_reason = strerror(errno);
					break;
				}
				if (n == 0) {
					end_reason = "connection closed by peer";
					break;
				}
			}
			if (buf_append(&conn->in, conn_scratch, (size_t)n) < 0)
				xabort("conn input overflow"); /* cannot happen: room was checked */
			got = true;
			total += (size_t)n;
			if (conn->ssl == NULL && (size_t)n < room)
				break;
			full = conn->in.len >= conn->limits.in_max;
		}
		if (got) {
			conn->last_activity = loop_now(conn->loop);
			conn->cb->input(conn->ctx);
			if (conn->destroyed || conn->closed)
				return false;
		}
		if (end_reason != NULL) {
			conn_report_closed(conn, end_reason);
			return false;
		}
		/* more only when the buffer's limit, not the socket, ended the reading */
		if (!full || total >= CONN_READ_BUDGET || !conn_want_read(conn))
			return true;
	}
}

static void conn_do_write(struct conn *conn)
{
	if (conn->held)
		return;
	while (conn->out.len > 0 && !conn->closed) {
		size_t len = conn->out.len;
		if (conn->ssl != NULL) {
			if (conn->handshaking)
				return;
			if (len > 16384)
				len = 16384;
			ERR_clear_error();
			int ret = SSL_write(conn->ssl, conn->out.data, (int)len);
			conn->ssl_write_wants_read = false;
			if (ret <= 0) {
				int want;
				const char *err = conn_ssl_error(conn, ret, &want);
				if (err != NULL) {
					conn_report_closed(conn, err);
					return;
				}
				if (want == LOOP_READ)
					conn->ssl_write_wants_read = true;
				break;
			}
			buf_consume(&conn->out, (size_t)ret);
		} else {
			ssize_t n = send(conn->fd, conn->out.data, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				conn_report_closed(conn, strerror(errno));
				return;
			}
			buf_consume(&conn->out, (size_t)n);
		}
	}
	if (conn->out.len == 0)
		buf_release(&conn->out);
	if (conn->above_high && conn->out.len <= conn->limits.out_low) {
		conn->above_high = false;
		if (conn->cb->drain != NULL && !conn->closed)
			conn->cb->drain(conn->ctx);
	}
	if (conn->closed || conn->destroyed)
		return;
	if (conn->out.len == 0 && conn->tls_ctx_pending != NULL)
		conn_begin_tls(conn);
	if (conn->out.len == 0 && conn->closing && !conn->closed) {
		if (conn->ssl != NULL && !conn->handshaking)
			(void)SSL_shutdown(conn->ssl);
		shutdown(conn->fd, SHUT_WR);
		conn->write_shut = true;
		conn_report_closed(conn, conn->close_reason);
	}
}

static void conn_io(void *ctx, unsigned events)
{
	struct conn *conn = ctx;
	if (conn->handshaking) {
		conn_do_handshake(conn);
		if (conn->closed)
			return;
	}
	if (events & (LOOP_READ | LOOP_ERROR) || conn->ssl_write_wants_read) {
		if (!conn_want_read(conn) && (events & LOOP_ERROR) && conn->out.len == 0) {
			conn_report_closed(conn, "connection reset");
			return;
		}
		if (!conn_do_read(conn))
			return;
	}
	if (conn->out.len > 0 || conn->tls_ctx_pending != NULL || conn->closing)
		conn_do_write(conn);
	if (conn->closed || conn->destroyed)
		return;
	/* buffered TLS records may hold more input than the socket shows */
	if (conn->ssl != NULL && !conn->handshaking && SSL_pending(conn->ssl) > 0 &&
	    conn_want_read(conn)) {
		if (!conn_do_read(conn))
			return;
	}
	if (conn->in.len == 0)
		buf_release(&conn->in);
	conn_update_events(conn);
}

struct conn *conn_create(struct loop *loop, int fd, const struct conn_limits *limits,
			 const struct conn_callbacks *cb, void *ctx)
{
	struct conn *conn = xcalloc(1, sizeof(*conn));
	conn->loop = loop;
	conn->fd = fd;
	conn->limits = *limits;
	conn->cb = cb;
	conn->ctx = ctx;
	buf_init(&conn->in, limits->in_max);
	buf_init(&conn->out, limits->out_max);
	fd_set_nonblock(fd);
	conn->io = loop_io_add(loop, fd, LOOP_READ, false, conn_io, conn);
	if (conn->io == NULL)
		xabort("cannot watch connection fd");
	conn->last_activity = loop_now(loop);
	return conn;
}

/* Lingering close. A reply sent just before closing (BYE, NO [TOOBIG] for a literal the
 * client is still sending) is lost if close() finds unread input: the kernel answers with a
 * RST, and the client's kernel drops whatever it had not yet handed to the client, the reply
 * included. So after shutdown(SHUT_WR) the fd stays open, its input read and thrown away, until
 * the peer closes too, CONN_LINGER_MS pass or CONN_LINGER_MAX bytes were discarded. */
#define CONN_LINGER_MS 2000
#define CONN_LINGER_MAX (1024 * 1024)

struct conn_linger {
	int fd;
	size_t discarded;
	struct loop_io *io;
	struct loop_timer *timer;
};

static void conn_linger_end(struct conn_linger *l)
{
	if (l->io != NULL)
		loop_io_remove(&l->io);
	if (l->timer != NULL)
		loop_timer_remove(&l->timer);
	close(l->fd);
	free(l);
}

static void conn_linger_timeout(void *ctx)
{
	struct conn_linger *l = ctx;
	l->timer = NULL; /* fired: gone */
	conn_linger_end(l);
}

static void conn_linger_read(void *ctx, unsigned events)
{
	struct conn_linger *l = ctx;
	(void)events;
	for (;;) {
		ssize_t n = read(l->fd, conn_scratch, sizeof(conn_scratch));
		if (n > 0) {
			l->discarded += (size_t)n;
			if (l->discarded <= CONN_LINGER_MAX)
				continue;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		}
		conn_linger_end(l); /* EOF, error or enough */
		return;
	}
}

void conn_linger(struct loop *loop, int fd)
{
	struct conn_linger *l = xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->io = loop_io_add(loop, fd, LOOP_READ, false, conn_linger_read, l);
	l->timer = loop_timer_add(loop, CONN_LINGER_MS, conn_linger_timeout, l);
	if (l->io == NULL)
		conn_linger_end(l);
}

static void conn_free(void *ctx)
{
	struct conn *conn = ctx;
	buf_free(&conn->in);
	buf_free(&conn->out);
	free(conn);
}

void conn_destroy(struct conn **connp)
{
	struct conn *conn = *connp;
	if (conn == NULL)
		return;
	*connp = NULL;
	if (conn->destroyed)
		return;
	conn->destroyed = true;
	conn->closed = true;
	if (conn->io != NULL)
		loop_io_remove(&conn->io);
	loop_timer_remove(&conn->idle_timer);
	if (conn->ssl != NULL) {
		SSL_free(conn->ssl);
		conn->ssl = NULL;
	}
	if (!conn->detached && conn->fd >= 0) {
		if (conn->write_shut)
			conn_linger(conn->loop, conn->fd);
		else
			close(conn->fd);
	}
	conn->fd = -1;
	buf_free(&conn->out);
	loop_defer(conn->loop, conn_free, conn);
}

void conn_set_callbacks(struct conn *conn, const struct conn_callbacks *cb, void *ctx)
{
	conn->cb = cb;
	conn->ctx = ctx;
}

/* A big literal is read only as fast as the loop comes back to this connection, and a mail
 * process's loop serves hundreds of sessions and their fsyncs (turns of 300 ms with 500
 * sessions, measured). The kernel's receive window grows with how fast the reader reads, so a
 * slow loop keeps it near tcp_rmem's default (128 KiB): a 4 MB APPEND took 30 turns, 12-16 s.
 * A receive buffer sized for the literal lets it arrive while the loop is elsewhere; it is a
 * limit, not an allocation (memory is used only by bytes actually queued), and SO_RCVBUF is
 * capped by net.core.rmem_max. */
#define CONN_RCVBUF_MIN (256 * 1024)
#define CONN_RCVBUF_MAX (2 * 1024 * 1024)
void conn_expect_input(struct conn *conn, uint64_t size)
{
	if (conn->fd < 0 || conn->closed || conn->rcvbuf_raised || size < CONN_RCVBUF_MIN)
		return;
	int want = size > CONN_RCVBUF_MAX ? CONN_RCVBUF_MAX : (int)size;
	int cur = 0;
	socklen_t len = sizeof(cur);
	conn->rcvbuf_raised = true;
	/* getsockopt reports twice what was set (the kernel's bookkeeping overhead) */
	if (getsockopt(conn->fd, SOL_SOCKET, SO_RCVBUF, &cur, &len) == 0 && cur / 2 >= want)
		return;
	(void)setsockopt(conn->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
}

struct buf *conn_input(struct conn *conn)
{
	return &conn->in;
}

static void conn_flush_deferred(void *ctx)
{
	struct conn *conn = ctx;
	conn->flush_scheduled = false;
	if (!conn->destroyed)
		conn_flush(conn);
}

int conn_write(struct conn *conn, const void *data, size_t len)
{
	if (conn->closed || conn->destroyed || conn->closing)
		return -1;
	if (buf_append(&conn->out, data, len) < 0) {
		log_error("connection output overflow (%zu bytes pending)", conn->out.len);
		conn_report_closed(conn, "output overflow");
		return -1;
	}
	if (conn->out.len > conn->limits.out_high)
		conn->above_high = true;
	if (!conn->flush_scheduled) {
		conn->flush_scheduled = true;
		/* the conn is freed by a deferred call queued later, so this one runs first */
		loop_defer(conn->loop, conn_flush_deferred, conn);
	}
	return 0;
}

int conn_write_str(struct conn *conn, const char *s)
{
	return conn_write(conn, s, strlen(s));
}

int conn_printf(struct conn *conn, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return conn_write(conn, small, (size_t)n);
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int ret = conn_write(conn, big, (size_t)n);
	free(big);
	return ret;
}

size_t conn_output_pending(const struct conn *conn)
{
	return conn->out.len;
}

bool conn_output_full(const struct conn *conn)
{
	return conn->above_high;
}

void conn_flush(struct conn *conn)
{
	if (conn->closed || conn->destroyed)
		return;
	if (conn->out.len > 0 || conn->tls_ctx_pending != NULL || conn->closing)
		conn_do_write(conn);
	if (!conn->closed && !conn->destroyed)
		conn_update_events(conn);
}

void conn_hold_output(struct conn *conn, bool hold)
{
	if (conn->held == hold)
		return;
	conn->held = hold;
	if (!hold)
		conn_flush(conn);
}

void conn_drop_output(struct conn *conn)
{
	buf_consume(&conn->out, conn->out.len);
	buf_release(&conn->out);
	conn->above_high = false;
}

void conn_pause_input(struct conn *conn, bool pause)
{
	if (conn->paused == pause)
		return;
	conn->paused = pause;
	conn_update_events(conn);
}

void conn_close_after_flush(struct conn *conn, const char *reason)
{
	if (conn->closed || conn->closing)
		return;
	conn->closing = true;
	conn->close_reason = reason;
	conn_flush(conn);
}

void conn_start_tls(struct conn *conn, SSL_CTX *ctx)
{
	conn->tls_ctx_pending = ctx;
	conn_flush(conn);
}

bool conn_is_tls(const struct conn *conn)
{
	return conn->ssl != NULL || conn->tls_ctx_pending != NULL;
}

SSL *conn_ssl(struct conn *conn)
{
	return conn->ssl;
}

int conn_detach_fd(struct conn *conn)
{
	if (conn->io != NULL)
		loop_io_remove(&conn->io);
	loop_timer_remove(&conn->idle_timer);
	conn->detached = true;
	conn->closed = true;
	return conn->fd;
}

int conn_fd(const struct conn *conn)
{
	return conn->fd;
}
