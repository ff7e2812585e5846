/* imap-session.h: one IMAP connection's protocol state, in whichever process holds it.
 *
 * The same session code runs in the login process (not authenticated state: CAPABILITY, NOOP,
 * LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ID) and in the mail process (authenticated state and
 * later selected state). What lies outside the protocol (asking the auth process, handing the
 * session to a mail process, tearing down) goes through the hooks the owning daemon supplies.
 *
 * Input is processed command by command from the connection's buffer; a command that must wait
 * (AUTHENTICATE waiting for the auth process) leaves the rest of the input buffered and the
 * connection paused until it completes. Output obeys the connection's backpressure. */
#ifndef KURA_IMAP_SESSION_H
#define KURA_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "imap/imap-parser.h"
#include "lib/pool.h"
#include "net/conn.h"
#include "net/loop.h"

struct store;
struct store_syncer;

enum imap_state {
	IMAP_STATE_NOT_AUTH = 0x1,
	IMAP_STATE_AUTH = 0x2,
	IMAP_STATE_SELECTED = 0x4,
	IMAP_STATE_LOGOUT = 0x8,
};

struct imap_session;

struct imap_session_hooks {
	/* Start a SASL exchange in the auth process (not-authenticated state). Later the owner
	 * calls imap_session_auth_challenge() or imap_session_auth_result(). */
	void (*auth_begin)(struct imap_session *s, const char *mech, const unsigned char *ir,
			   size_t ir_len, bool has_ir);
	void (*auth_continue)(struct imap_session *s, const unsigned char *resp, size_t len);
	void (*auth_abort)(struct imap_session *s);
	/* Authentication succeeded: the owner hands the session over and destroys it. The tag
	 * is the LOGIN/AUTHENTICATE command's; the receiving side sends the tagged OK. */
	void (*logged_in)(struct imap_session *s, const char *user, const char *tag);
	/* The connection is over (LOGOUT, error, timeout): the owner destroys the session. */
	void (*closed)(struct imap_session *s, const char *reason);
};

struct imap_settings {
	SSL_CTX *tls_ctx;          /* STARTTLS offered when set and the connection is plain */
	bool plaintext_auth;       /* LOGIN / PLAIN allowed on this connection without TLS */
	uint64_t timeout_preauth_ms;
	uint64_t timeout_idle_ms;
	size_t max_line;
	size_t preauth_literal_max;
	size_t literal_max;        /* authenticated state, commands other than APPEND */
	size_t append_limit;
	/* APPEND's message literals: the first append_mem_max bytes of one command stay in
	 * memory, every literal that would go over is streamed to a spool file in spool_dir (an
	 * unlinked temporary file, lib/spool.h) and mapped for the store. NULL: all in memory
	 * (the login process, where APPEND is not allowed anyway). */
	const char *spool_dir;
	size_t append_mem_max;
	/* Group commit (store.h, "deferred syncs"): a command's commits are synced on this
	 * syncer, shared with the other sessions' commits in flight, and its tagged reply (with
	 * the untagged ones still buffered) held until then. NULL: every commit syncs itself. */
	struct store_syncer *syncer;
};

struct imap_session_params {
	struct loop *loop;
	struct conn *conn;          /* the session takes it over (and its callbacks) */
	const struct imap_settings *set;
	const struct imap_session_hooks *hooks;
	void *owner;                /* for the hooks: imap_session_owner() */
	enum imap_state state;
	const char *session_id;
	const char *remote_ip;
	const char *user;           /* authenticated state */
	bool tls;                   /* the client connection is TLS (relayed by login) */
	bool enabled_rev2;          /* carried over when handed off after ENABLE (never, pre-auth) */
	struct store *store;        /* authenticated state: the user's store (shared, not owned) */
};

struct imap_session *imap_session_create(const struct imap_session_params *params);
/* Take the connection away from the session (login: the relay keeps it after the hand-off);
 * the session must be destroyed next. */
struct conn *imap_session_take_conn(struct imap_session *s);
/* Free the session and its connection (unless taken or detached first). Safe from callbacks:
 * the memory is freed at the end of the loop batch. */
void imap_session_destroy(struct imap_session **s);

/* Process what is in the connection's input buffer (e.g. bytes pipelined after LOGIN that the
 * login process passed on). */
void imap_session_resume(struct imap_session *s);

/* Untagged greeting "* OK [CAPABILITY ...] ..." (login process, new connection). */
void imap_session_greet(struct imap_session *s);
/* Mail process, after the hand-off: "tag OK [CAPABILITY ...] Logged in", then resume. */
void imap_session_logged_in(struct imap_session *s, const char *tag);

/* Replies from the auth process for the running AUTHENTICATE/LOGIN. */
void imap_session_auth_challenge(struct imap_session *s, const unsigned char *data, size_t len);
/* ok: hooks->logged_in follows. Otherwise code ("AUTHENTICATIONFAILED", "UNAVAILABLE", ...)
 * and msg go into the tagged NO. */
void imap_session_auth_result(struct imap_session *s, bool ok, const char *user,
			      const char *code, const char *msg);

/* "* BYE reason" and close once flushed (server shutdown). */
void imap_session_bye(struct imap_session *s, const char *reason);

void *imap_session_owner(struct imap_session *s);
struct conn *imap_session_conn(struct imap_session *s);
const char *imap_session_id(const struct imap_session *s);
const char *imap_session_remote_ip(const struct imap_session *s);
const char *imap_session_user(const struct imap_session *s);
enum imap_state imap_session_state(const struct imap_session *s);

#endif
