/* pop3-cmd-auth.c: the AUTHORIZATION state's credentials: USER/PASS (RFC 1939 7), AUTH
 * (RFC 5034, SASL through the auth process, initial response allowed) and STLS (RFC 2595 4).
 * PASS becomes SASL PLAIN with the credentials as initial response, so there is one
 * verification path (as IMAP's LOGIN). Plaintext authentication is refused before TLS unless
 * the operator allowed it on this connection, exactly as for IMAP. */
#include "pop3-session-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

static const char *const pop3_auth_mechs[] = {"PLAIN", "SCRAM-SHA-256"};

static bool auth_allowed(struct pop3_session *s)
{
	if (pop3_session_plaintext_ok(s))
		return true;
	pop3_err(s, "AUTH", "Plaintext authentication disallowed on non-secure connections, "
			    "use STLS");
	return false;
}

int pop3_cmd_user(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 1 || cmd->args_bad) {
		/* names with spaces are not POP3 user names (RFC 1939 7: one argument) */
		pop3_bad(s, "USER needs one argument");
		return 1;
	}
	if (!auth_allowed(s))
		return 1;
	free(s->user_arg);
	s->user_arg = xstrdup(cmd->args[0]);
	pop3_ok(s, "Send your password");
	return 1;
}

int pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (s->user_arg == NULL) {
		pop3_bad(s, "No user name given, use USER first");
		return 1;
	}
	/* RFC 1939 7: the password is the rest of the line, spaces included */
	if (cmd->rest_len == 0) {
		pop3_bad(s, "PASS needs a password");
		return 1;
	}
	char *user = s->user_arg;
	s->user_arg = NULL;
	if (!auth_allowed(s)) {
		free(user);
		return 1;
	}
	size_t ulen = strlen(user);
	if (memchr(cmd->rest, '\0', cmd->rest_len) != NULL || ulen > 255) {
		free(user);
		pop3_err(s, "AUTH", "Authentication failed");
		return 1;
	}
	struct buf ir;
	buf_init(&ir, ulen + cmd->rest_len + 2);
	buf_append_byte(&ir, 0);
	buf_append(&ir, user, ulen);
	buf_append_byte(&ir, 0);
	buf_append(&ir, cmd->rest, cmd->rest_len);
	free(user);
	s->auth_phase = POP3_AUTH_WAIT_SERVER;
	s->auth_is_pass = true;
	s->hooks->auth_begin(s, "PLAIN", ir.data, ir.len, true);
	buf_free_secure(&ir);
	return 0;
}

int pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count == 0) {
		/* the listing of RFC 1734's clients (Outlook and others still ask this way) */
		pop3_ok(s, "Mechanisms follow");
		if (pop3_session_plaintext_ok(s)) {
			for (size_t i = 0; i < sizeof(pop3_auth_mechs) / sizeof(pop3_auth_mechs[0]); i++)
				conn_printf(s->conn, "%s\r\n", pop3_auth_mechs[i]);
		}
		conn_write_str(s->conn, ".\r\n");
		return 1;
	}
	if (cmd->arg_count > 2) {
		pop3_bad(s, "AUTH needs a mechanism and optionally an initial response");
		return 1;
	}
	const char *mech = NULL;
	for (size_t i = 0; i < sizeof(pop3_auth_mechs) / sizeof(pop3_auth_mechs[0]); i++) {
		if (cmd->args[0] != NULL && strcasecmp(cmd->args[0], pop3_auth_mechs[i]) == 0)
			mech = pop3_auth_mechs[i];
	}
	if (mech == NULL) {
		pop3_err(s, NULL, "Unsupported authentication mechanism");
		return 1;
	}
	if (!auth_allowed(s))
		return 1;
	/* the initial response may be longer than an argument: take it from the line */
	const char *ir_text = NULL;
	size_t ir_len = 0;
	if (cmd->arg_count == 2) {
		ir_text = cmd->rest + strlen(cmd->args[0]);
		while (*ir_text == ' ')
			ir_text++;
		ir_len = cmd->rest_len - (size_t)(ir_text - cmd->rest);
	}
	struct buf ir;
	buf_init(&ir, POP3_SASL_LINE_MAX);
	bool has_ir = ir_text != NULL;
	/* "=" is an empty initial response (RFC 5034 4) */
	if (has_ir && !(ir_len == 1 && ir_text[0] == '=') &&
	    base64_decode(&ir, ir_text, ir_len) < 0) {
		buf_free_secure(&ir);
		pop3_bad(s, "Invalid base64 in initial response");
		return 1;
	}
	s->auth_phase = POP3_AUTH_WAIT_SERVER;
	s->auth_is_pass = false;
	s->hooks->auth_begin(s, mech, ir.data != NULL ? ir.data : (const unsigned char *)"",
			     ir.len, has_ir);
	buf_free_secure(&ir);
	return 0;
}

int pop3_cmd_stls(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 0) {
		pop3_bad(s, "STLS takes no arguments");
		return 1;
	}
	if (s->tls) {
		pop3_err(s, NULL, "TLS is already active");
		return 1;
	}
	if (s->set->tls_ctx == NULL) {
		pop3_err(s, NULL, "TLS is not available");
		return 1;
	}
	pop3_ok(s, "Begin TLS negotiation now");
	/* RFC 2595 4 and CVE-2021-33515 class: whatever was pipelined after STLS came in
	 * plaintext and is discarded, and the client starts over (USER is forgotten) */
	struct buf *in = conn_input(s->conn);
	if (in->len > 0)
		log_info("session %s: discarding %zu bytes pipelined after STLS", s->session_id,
			 in->len);
	buf_reset(in);
	free(s->user_arg);
	s->user_arg = NULL;
	s->tls = true;
	conn_start_tls(s->conn, s->set->tls_ctx);
	return 1;
}
