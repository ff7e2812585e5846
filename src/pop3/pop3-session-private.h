/* pop3-session-private.h: the session structure and the command table, shared by
 * pop3-session.c and the pop3-cmd-*.c handlers only. */
#ifndef KURA_POP3_SESSION_PRIVATE_H
#define KURA_POP3_SESSION_PRIVATE_H

#include "pop3/pop3-body.h"
#include "pop3/pop3-maildrop.h"
#include "pop3/pop3-parser.h"
#include "pop3/pop3-session.h"

enum pop3_auth_phase {
	POP3_AUTH_NONE,
	POP3_AUTH_WAIT_SERVER, /* request sent to the auth process */
	POP3_AUTH_WAIT_CLIENT, /* "+ challenge" sent, waiting for the client's line */
};

struct pop3_session {
	struct loop *loop;
	struct conn *conn;
	const struct pop3_settings *set;
	const struct pop3_session_hooks *hooks;
	void *owner;
	enum pop3_state state;
	char *session_id;
	char *remote_ip;
	char *user;
	bool tls;
	struct store *store;
	struct pop3_maildrop *md;   /* TRANSACTION */

	bool closing;     /* the last response is written, waiting for the flush */
	bool in_input;    /* re-entrancy guard for the input loop */
	bool handed_off;  /* logged_in or closed hook ran: no more hooks */
	bool skipping;    /* discarding the rest of an over-long line */
	unsigned errors;  /* erroneous commands so far */
	char *user_arg;   /* USER's name, waiting for PASS */
	enum pop3_auth_phase auth_phase;
	bool auth_is_pass;  /* the exchange was started by PASS, not AUTH */

	/* a command producing long output: called again while the output has room, until it
	 * returns 1 */
	int (*resume)(struct pop3_session *s);
	uint32_t list_pos;  /* LIST/UIDL listing: the next message index */
	int body_fd;        /* RETR/TOP: the open body file, or -1 */
	uint64_t body_off;
	struct pop3_body body;
};

/* 1: done (the response was written); 0: continues (auth exchange, or s->resume set). */
typedef int pop3_cmd_func(struct pop3_session *s, const struct pop3_cmd_line *cmd);

struct pop3_command_def {
	const char *name;
	pop3_cmd_func *func;
	unsigned states;  /* enum pop3_state bits */
};
/* NULL if the keyword (upper case) is not a command kura knows. */
const struct pop3_command_def *pop3_command_find(const char *keyword);

/* "+OK text" / "-ERR [code] text" (code may be NULL). */
void pop3_ok(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_err(struct pop3_session *s, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* -ERR for a malformed command: counts towards POP3_ERRORS_MAX. */
void pop3_bad(struct pop3_session *s, const char *text);
/* Does this connection allow plaintext authentication now (TLS, or allowed by policy)? */
bool pop3_session_plaintext_ok(const struct pop3_session *s);
/* Write the response and close after the flush (QUIT). */
void pop3_session_close(struct pop3_session *s, const char *reason);
/* The message a numeric argument names, with the -ERR written if there is none. */
struct pop3_msg *pop3_session_msg_arg(struct pop3_session *s, const char *arg, uint32_t *n_r);

/* Handlers: AUTHORIZATION (pop3-cmd-auth.c), TRANSACTION (pop3-cmd-mail.c), RETR/TOP
 * (pop3-cmd-retr.c), both states (pop3-commands.c). */
pop3_cmd_func pop3_cmd_capa, pop3_cmd_quit, pop3_cmd_noop, pop3_cmd_user, pop3_cmd_pass,
	pop3_cmd_auth, pop3_cmd_stls, pop3_cmd_stat, pop3_cmd_list, pop3_cmd_uidl,
	pop3_cmd_dele, pop3_cmd_rset, pop3_cmd_retr, pop3_cmd_top;
/* Release what a running RETR/TOP holds (the session ends meanwhile). */
void pop3_retr_cleanup(struct pop3_session *s);

#endif
