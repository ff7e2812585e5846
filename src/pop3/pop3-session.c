/* pop3-session.c: the per-connection command loop: frame lines, dispatch by state, reply.
 * Traps: a hook may start tearing the session down while we are inside the loop, so the
 * session is freed only at a safe point (deferred); an AUTH exchange reads raw lines, not
 * commands; output backpressure stops the loop and the drain callback restarts it; an
 * over-long line is dropped as it arrives, never stored. */
#include "pop3-session-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/secure.h"
#include "lib/xmalloc.h"

static void session_input(struct pop3_session *s);

static void session_conn_input(void *ctx)
{
	session_input(ctx);
}

static void session_conn_closed(void *ctx, const char *reason)
{
	struct pop3_session *s = ctx;
	if (s->handed_off)
		return;
	if (s->auth_phase != POP3_AUTH_NONE && s->hooks->auth_abort != NULL)
		s->hooks->auth_abort(s);
	s->auth_phase = POP3_AUTH_NONE;
	s->handed_off = true; /* no more hooks after closed */
	s->hooks->closed(s, reason);
}

static void session_conn_timeout(void *ctx)
{
	struct pop3_session *s = ctx;
	log_info("session %s: idle timeout", s->session_id);
	/* RFC 1939 3: the autologout timer ends the session without entering UPDATE */
	pop3_session_bye(s, "Disconnected for inactivity");
}

static const struct conn_callbacks session_conn_callbacks = {
	.input = session_conn_input,
	.drain = session_conn_input,
	.closed = session_conn_closed,
	.timeout = session_conn_timeout,
};

struct pop3_session *pop3_session_create(const struct pop3_session_params *p)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	s->loop = p->loop;
	s->conn = p->conn;
	s->set = p->set;
	s->hooks = p->hooks;
	s->owner = p->owner;
	s->state = p->state;
	s->session_id = xstrdup(p->session_id);
	s->remote_ip = xstrdup(p->remote_ip != NULL ? p->remote_ip : "unknown");
	s->user = p->user != NULL ? xstrdup(p->user) : NULL;
	s->tls = p->tls;
	s->store = p->store;
	s->body_fd = -1;
	conn_set_callbacks(s->conn, &session_conn_callbacks, s);
	conn_set_idle_timeout(s->conn, s->state == POP3_STATE_AUTHORIZATION
					       ? s->set->timeout_preauth_ms
					       : s->set->timeout_idle_ms);
	return s;
}

static void session_free(void *ctx)
{
	struct pop3_session *s = ctx;
	pop3_retr_cleanup(s);
	pop3_maildrop_free(&s->md);
	free(s->user_arg);
	free(s->session_id);
	free(s->remote_ip);
	free(s->user);
	free(s);
}

void pop3_session_destroy(struct pop3_session **sp)
{
	struct pop3_session *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	s->handed_off = true;
	s->closing = true;
	pop3_retr_cleanup(s);
	if (s->conn != NULL)
		conn_destroy(&s->conn);
	loop_defer(s->loop, session_free, s);
}

struct conn *pop3_session_take_conn(struct pop3_session *s)
{
	struct conn *conn = s->conn;
	s->conn = NULL;
	s->handed_off = true;
	return conn;
}

void *pop3_session_owner(struct pop3_session *s)
{
	return s->owner;
}

struct conn *pop3_session_conn(struct pop3_session *s)
{
	return s->conn;
}

const char *pop3_session_id(const struct pop3_session *s)
{
	return s->session_id;
}

const char *pop3_session_user(const struct pop3_session *s)
{
	return s->user;
}

bool pop3_session_plaintext_ok(const struct pop3_session *s)
{
	return s->tls || s->set->plaintext_auth;
}

/* --- responses --- */

static void session_status(struct pop3_session *s, const char *status, const char *code,
			   const char *fmt, va_list ap)
{
	char text[512];
	vsnprintf(text, sizeof(text), fmt, ap);
	/* RFC 2449 4: a status line is at most 512 octets with its CRLF */
	conn_printf(s->conn, "%s%s%s%s%s%.480s\r\n", status, code != NULL || text[0] ? " " : "",
		    code != NULL ? "[" : "", code != NULL ? code : "", code != NULL ? "] " : "", text);
}

void pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	session_status(s, "+OK", NULL, fmt, ap);
	va_end(ap);
}

void pop3_err(struct pop3_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	session_status(s, "-ERR", code, fmt, ap);
	va_end(ap);
}

void pop3_session_close(struct pop3_session *s, const char *reason)
{
	s->closing = true;
	conn_close_after_flush(s->conn, reason);
}

void pop3_bad(struct pop3_session *s, const char *text)
{
	pop3_err(s, NULL, "%s", text);
	if (++s->errors >= POP3_ERRORS_MAX) {
		pop3_err(s, NULL, "Too many bad commands, closing connection");
		log_info("session %s: too many bad commands", s->session_id);
		pop3_session_close(s, "too many bad commands");
	}
}

struct pop3_msg *pop3_session_msg_arg(struct pop3_session *s, const char *arg, uint32_t *n_r)
{
	uint32_t n;
	if (pop3_parse_number(arg, false, &n) < 0) {
		pop3_bad(s, "Invalid message number");
		return NULL;
	}
	if (n > s->md->count) {
		pop3_err(s, NULL, "There is no message %u", n);
		return NULL;
	}
	struct pop3_msg *m = pop3_maildrop_get(s->md, n);
	if (m == NULL) {
		pop3_err(s, NULL, "Message %u is deleted", n);
		return NULL;
	}
	*n_r = n;
	return m;
}

void pop3_session_greet(struct pop3_session *s)
{
	pop3_ok(s, "kura ready.");
}

void pop3_session_logged_in(struct pop3_session *s)
{
	const char *err = "no store";
	if (s->store == NULL || pop3_maildrop_open(s->store, &s->md, &err) < 0) {
		log_error("session %s: cannot open the maildrop of %s: %s", s->session_id, s->user,
			  err);
		pop3_session_bye(s, "Cannot open your maildrop, try again later");
		return;
	}
	pop3_ok(s, "Logged in, %u messages (%llu octets).", s->md->count,
		(unsigned long long)s->md->total_size);
	session_input(s);
}

void pop3_session_bye(struct pop3_session *s, const char *reason)
{
	if (s->closing || s->handed_off || s->conn == NULL)
		return;
	/* in the middle of a multi-line response a status line would read as its content */
	bool mid_response = s->resume != NULL;
	pop3_retr_cleanup(s);
	s->resume = NULL;
	if (!mid_response)
		pop3_err(s, "SYS/TEMP", "%s", reason);
	pop3_session_close(s, reason);
}

/* --- the SASL exchange driven by the auth process --- */

void pop3_session_auth_challenge(struct pop3_session *s, const unsigned char *data, size_t len)
{
	if (s->auth_phase != POP3_AUTH_WAIT_SERVER)
		return;
	if (s->auth_is_pass) {
		/* PASS is PLAIN with the whole answer up front: a challenge is a failure */
		s->hooks->auth_abort(s);
		pop3_session_auth_result(s, false, NULL, "AUTHENTICATIONFAILED",
					 "Authentication failed");
		return;
	}
	struct buf b;
	buf_init(&b, 4 + (len + 2) / 3 * 4 + 2);
	buf_append_str(&b, "+ ");
	base64_encode(&b, data, len);
	buf_append_str(&b, "\r\n");
	conn_write(s->conn, b.data, b.len);
	buf_free_secure(&b);
	s->auth_phase = POP3_AUTH_WAIT_CLIENT;
	conn_pause_input(s->conn, false);
	session_input(s);
}

void pop3_session_auth_result(struct pop3_session *s, bool ok, const char *user,
			      const char *code, const char *msg)
{
	if (s->auth_phase == POP3_AUTH_NONE)
		return;
	s->auth_phase = POP3_AUTH_NONE;
	if (ok) {
		log_info("session %s: authenticated as %s from %s", s->session_id, user,
			 s->remote_ip);
		/* the hook destroys the session, or calls pop3_session_bye if it cannot hand over */
		s->hooks->logged_in(s, user);
		return;
	}
	/* RFC 3206: [AUTH] for credentials, [SYS/TEMP] for a failure of ours */
	const char *rc = NULL;
	if (code != NULL && strcmp(code, "AUTHENTICATIONFAILED") == 0)
		rc = "AUTH";
	else if (code != NULL && strcmp(code, "UNAVAILABLE") == 0)
		rc = "SYS/TEMP";
	pop3_err(s, rc, "%s", msg);
	log_info("session %s: authentication failed from %s: %s", s->session_id, s->remote_ip,
		 msg);
	conn_pause_input(s->conn, false);
	session_input(s);
}

/* A client line during AUTH: base64 response or "*" to cancel (RFC 5034 4). */
static void session_auth_line(struct pop3_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		s->hooks->auth_abort(s);
		s->auth_phase = POP3_AUTH_NONE;
		pop3_err(s, NULL, "Authentication cancelled");
		return;
	}
	struct buf dec;
	buf_init(&dec, len);
	if (base64_decode(&dec, line, len) < 0) {
		buf_free_secure(&dec);
		s->hooks->auth_abort(s);
		s->auth_phase = POP3_AUTH_NONE;
		pop3_bad(s, "Invalid base64 in SASL response");
		return;
	}
	s->auth_phase = POP3_AUTH_WAIT_SERVER;
	conn_pause_input(s->conn, true);
	s->hooks->auth_continue(s, dec.data != NULL ? dec.data : (const unsigned char *)"",
				dec.len);
	buf_free_secure(&dec);
}

/* --- the command loop --- */

static void session_dispatch(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_cmd_line cmd;
	const char *err;
	if (pop3_cmd_parse(line, len, &cmd, &err) < 0) {
		pop3_bad(s, err);
		return;
	}
	if (len > POP3_CMD_LINE_MAX && strcmp(cmd.keyword, "AUTH") != 0) {
		pop3_bad(s, "Command line too long");
		return;
	}
	const struct pop3_command_def *def = pop3_command_find(cmd.keyword);
	if (def == NULL) {
		pop3_bad(s, "Unknown command");
		return;
	}
	if ((def->states & s->state) == 0) {
		pop3_bad(s, s->state == POP3_STATE_AUTHORIZATION
				    ? "Not allowed before authentication"
				    : "Not allowed after authentication");
		return;
	}
	log_debug("session %s: command %s", s->session_id, def->name);
	if (def->func(s, &cmd) == 0 && s->auth_phase == POP3_AUTH_WAIT_SERVER)
		conn_pause_input(s->conn, true);
}

static void session_input(struct pop3_session *s)
{
	if (s->in_input || s->conn == NULL)
		return;
	s->in_input = true;
	struct buf *in = conn_input(s->conn);
	static char line[POP3_SASL_LINE_MAX + 1];
	while (!s->closing && !s->handed_off) {
		if (conn_output_full(s->conn))
			break; /* backpressure: the drain callback brings us back */
		if (s->auth_phase == POP3_AUTH_WAIT_SERVER)
			break;
		if (s->resume != NULL) {
			if (s->resume(s) == 0)
				break;
			s->resume = NULL;
			continue;
		}
		if (s->skipping) {
			unsigned char *lf = in->len > 0 ? memchr(in->data, '\n', in->len) : NULL;
			if (lf == NULL) {
				buf_reset(in);
				break;
			}
			buf_consume(in, (size_t)(lf - in->data) + 1);
			s->skipping = false;
			if (s->auth_phase == POP3_AUTH_WAIT_CLIENT) {
				s->hooks->auth_abort(s);
				s->auth_phase = POP3_AUTH_NONE;
			}
			pop3_bad(s, "Line too long");
			continue;
		}
		size_t len = 0, consumed = 0;
		int ret = pop3_line_next(in->data, in->len, POP3_SASL_LINE_MAX, &len, &consumed);
		if (ret == 0)
			break;
		if (ret < 0) {
			s->skipping = true;
			continue;
		}
		memcpy(line, in->data, len);
		line[len] = '\0';
		buf_consume(in, consumed);
		if (s->auth_phase == POP3_AUTH_WAIT_CLIENT)
			session_auth_line(s, line, len);
		else
			session_dispatch(s, line, len);
		secure_zero(line, len); /* PASS and SASL lines hold secrets */
	}
	if (!s->handed_off && s->conn != NULL && in->len == 0)
		buf_release(in);
	s->in_input = false;
}
