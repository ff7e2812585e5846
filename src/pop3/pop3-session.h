/* pop3-session.h: one POP3 connection's protocol state (RFC 1939, RFC 2449 CAPA and response
 * codes, RFC 5034 AUTH, RFC 2595 STLS), in whichever process holds it.
 *
 * Like imap-session.h: the same code runs in the login process (the AUTHORIZATION state:
 * CAPA, USER/PASS, AUTH, STLS, QUIT) and in the mail process (TRANSACTION and UPDATE: STAT,
 * LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT). What lies outside the protocol (the auth
 * process, the hand-off, tearing down) goes through the owner's hooks.
 *
 * Input is read line by line from the connection's buffer and commands run strictly in order
 * (PIPELINING, RFC 2449 6.6). A command that must wait (AUTH/PASS for the auth process)
 * leaves the rest buffered and pauses the connection. Long output (RETR, TOP, a LIST or UIDL
 * of every message) is produced while the connection's output is below its high-water mark
 * and resumes when it drains, so memory stays bounded whatever the message size.
 *
 * Limits: command lines of POP3_CMD_LINE_MAX bytes (AUTH and SASL responses
 * POP3_SASL_LINE_MAX); longer lines are answered -ERR and skipped without being stored; after
 * POP3_ERRORS_MAX erroneous commands the connection is closed; an idle timeout (the settings'
 * pre-auth one, then timeout_idle, at least 10 minutes: RFC 1939 3). */
#ifndef KURA_POP3_SESSION_H
#define KURA_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "net/conn.h"
#include "net/loop.h"

#define POP3_ERRORS_MAX 20

struct store;

enum pop3_state {
	POP3_STATE_AUTHORIZATION = 0x1,
	POP3_STATE_TRANSACTION = 0x2,
	POP3_STATE_UPDATE = 0x4,
};

struct pop3_session;

struct pop3_session_hooks {
	/* Start a SASL exchange in the auth process (AUTHORIZATION). The owner answers later
	 * with pop3_session_auth_challenge() or pop3_session_auth_result(). */
	void (*auth_begin)(struct pop3_session *s, const char *mech, const unsigned char *ir,
			   size_t ir_len, bool has_ir);
	void (*auth_continue)(struct pop3_session *s, const unsigned char *resp, size_t len);
	void (*auth_abort)(struct pop3_session *s);
	/* Authenticated: the owner hands the session over (the receiving side sends the +OK)
	 * or, if it cannot, calls pop3_session_bye(). */
	void (*logged_in)(struct pop3_session *s, const char *user);
	/* The connection is over (QUIT, error, timeout): the owner destroys the session. */
	void (*closed)(struct pop3_session *s, const char *reason);
};

struct pop3_settings {
	SSL_CTX *tls_ctx;      /* STLS offered when set and the connection is plain */
	bool plaintext_auth;   /* USER/PASS and SASL allowed on this connection without TLS */
	uint64_t timeout_preauth_ms;
	uint64_t timeout_idle_ms;
};

struct pop3_session_params {
	struct loop *loop;
	struct conn *conn;     /* the session takes it over (and its callbacks) */
	const struct pop3_settings *set;
	const struct pop3_session_hooks *hooks;
	void *owner;
	enum pop3_state state; /* AUTHORIZATION (login) or TRANSACTION (mail process) */
	const char *session_id;
	const char *remote_ip;
	const char *user;      /* TRANSACTION */
	bool tls;
	struct store *store;   /* TRANSACTION: the user's store (shared, not owned) */
};

struct pop3_session *pop3_session_create(const struct pop3_session_params *params);
/* Take the connection away (login: the TLS relay keeps it); destroy the session next. */
struct conn *pop3_session_take_conn(struct pop3_session *s);
/* Free the session and its connection (unless taken). Safe from callbacks: the memory goes at
 * the end of the loop batch. A session destroyed in TRANSACTION deletes nothing (RFC 1939 6:
 * only QUIT enters UPDATE). */
void pop3_session_destroy(struct pop3_session **s);

/* "+OK kura ready." (login process, new connection). */
void pop3_session_greet(struct pop3_session *s);
/* Mail process, after the hand-off: take INBOX's snapshot, answer the PASS/AUTH with +OK (or
 * -ERR [SYS/TEMP] and close if the store cannot be read), then run the pipelined input. */
void pop3_session_logged_in(struct pop3_session *s);

/* Replies from the auth process for the running PASS/AUTH. */
void pop3_session_auth_challenge(struct pop3_session *s, const unsigned char *data, size_t len);
/* ok: hooks->logged_in follows. Otherwise code ("AUTHENTICATIONFAILED", "UNAVAILABLE", or
 * NULL) picks the response code of the -ERR ([AUTH], [SYS/TEMP]; RFC 3206). */
void pop3_session_auth_result(struct pop3_session *s, bool ok, const char *user,
			      const char *code, const char *msg);

/* "-ERR [SYS/TEMP] reason" and close once flushed (shutdown, a failed hand-off). Nothing is
 * deleted. */
void pop3_session_bye(struct pop3_session *s, const char *reason);

void *pop3_session_owner(struct pop3_session *s);
struct conn *pop3_session_conn(struct pop3_session *s);
const char *pop3_session_id(const struct pop3_session *s);
const char *pop3_session_user(const struct pop3_session *s);

#endif
