/* conn.h: a non-blocking stream connection with bounded input and output buffers, optional
 * TLS (implicit or STARTTLS), backpressure and an idle timeout.
 *
 * The owner reads from conn_input() in its input callback and consumes what it used. Output is
 * appended with conn_write() and flushed at the end of the current loop batch (or at once with
 * conn_flush()). While the output holds more than out_high bytes, or the owner paused input,
 * nothing more is read from the socket: a client that does not read its responses cannot make
 * us buffer without bound. Buffers are freed whenever they are empty, and OpenSSL releases its
 * own (SSL_MODE_RELEASE_BUFFERS), so an idle connection costs little memory.
 *
 * Lifetime: conn_destroy() closes at once and frees at a safe point (after the current batch),
 * so it may be called from any callback, including the conn's own. The closed callback reports
 * the end of the connection (peer EOF, error, TLS failure, or a conn_close_after_flush()
 * finishing); the owner then calls conn_destroy(). */
#ifndef KURA_NET_CONN_H
#define KURA_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "lib/buf.h"
#include "net/loop.h"

struct conn;

struct conn_callbacks {
	void (*input)(void *ctx);                      /* new bytes in conn_input() */
	void (*drain)(void *ctx);                      /* output fell below out_low; may be NULL */
	void (*closed)(void *ctx, const char *reason); /* connection is over */
	void (*timeout)(void *ctx);                    /* idle timeout; may be NULL (= closed) */
};

struct conn_limits {
	size_t in_max;   /* input buffer maximum */
	size_t out_max;  /* output buffer hard maximum: exceeding it is a bug, the conn closes */
	size_t out_high; /* stop reading while more output than this is pending */
	size_t out_low;  /* call drain once output falls to this */
};

void conn_limits_default(struct conn_limits *limits);

/* Take ownership of fd (made non-blocking). */
struct conn *conn_create(struct loop *loop, int fd, const struct conn_limits *limits,
			 const struct conn_callbacks *cb, void *ctx);
void conn_destroy(struct conn **conn);
/* Hand the connection to a new owner (callbacks and their ctx). */
void conn_set_callbacks(struct conn *conn, const struct conn_callbacks *cb, void *ctx);

struct buf *conn_input(struct conn *conn);
/* The owner expects about size more bytes soon (a big literal it streams to a file): from
 * 256 KiB on, the socket's receive buffer is raised towards it (at most 2 MiB, once per
 * connection) so the bytes can arrive while the loop serves others. A hint; nothing fails. */
void conn_expect_input(struct conn *conn, uint64_t size);
/* Append output. 0, or -1 if out_max would be exceeded (the conn is then closed: "output
 * overflow"). */
int conn_write(struct conn *conn, const void *data, size_t len);
int conn_write_str(struct conn *conn, const char *s);
int conn_printf(struct conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes not yet written to the socket (or TLS). */
size_t conn_output_pending(const struct conn *conn);
/* True while more than out_high bytes are pending: the owner should stop producing output
 * until its drain callback runs (which is then guaranteed). */
bool conn_output_full(const struct conn *conn);
/* Try to write now. */
void conn_flush(struct conn *conn);

/* Stop/resume reading on the owner's behalf (e.g. while waiting for another process). Input
 * already buffered stays in conn_input(): after resuming, the owner processes it itself. */
void conn_pause_input(struct conn *conn, bool pause);
/* Hold: what is written stays buffered, nothing is sent (a reply that must wait for a sync);
 * released: sent. */
void conn_hold_output(struct conn *conn, bool hold);
/* Forget the buffered output (held output that must never be sent). */
void conn_drop_output(struct conn *conn);
/* Flush the output, then shut down and report closed(reason). No further input is read. */
void conn_close_after_flush(struct conn *conn, const char *reason);
/* Close an fd whose writing side is shut down without losing what was sent (see conn.c): its
 * input is discarded until the peer closes, for at most 2 s and 1 MiB. conn_destroy does this
 * for a connection closed by conn_close_after_flush. */
void conn_linger(struct loop *loop, int fd);

/* Start TLS as a server once the pending plaintext output is flushed (STARTTLS: the tagged OK
 * goes out in plaintext first). Until the handshake completes nothing is read into the input
 * buffer; the caller must have discarded its plaintext input (CVE-2021-33515 class). */
void conn_start_tls(struct conn *conn, SSL_CTX *ctx);
bool conn_is_tls(const struct conn *conn);
SSL *conn_ssl(struct conn *conn);

/* Idle timeout in ms (0: none), restarted by every byte read. */
void conn_set_idle_timeout(struct conn *conn, uint64_t msecs);

/* Give up the fd (plaintext connections only; for handing a session to another process): the
 * conn stops watching it and will not close it. Returns the fd. The input buffer stays
 * readable until conn_destroy(). */
int conn_detach_fd(struct conn *conn);
int conn_fd(const struct conn *conn);

#endif
