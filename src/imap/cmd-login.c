/* cmd-login.c: LOGIN (RFC 9051 6.2.3). Checked by the auth process as SASL PLAIN with the
 * credentials as initial response, so there is one verification path. Refused without TLS
 * unless the operator allowed plaintext (LOGINDISABLED is then advertised). */
#include <string.h>

#include "imap-arg.h"
#include "imap-session-private.h"
#include "lib/buf.h"

int cmd_login(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	const char *user, *pass;
	size_t user_len, pass_len;
	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &user, &user_len) ||
	    !imap_arg_get_astring(&cmd->args[1], &pass, &pass_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "LOGIN needs a user name and a password");
		return 1;
	}
	if (!imap_session_plaintext_ok(s)) {
		imap_cmd_reply(cmd, "NO", "PRIVACYREQUIRED", "LOGIN is disabled before STARTTLS");
		return 1;
	}
	if (user_len == 0 || user_len > 255 || pass_len > 1024 ||
	    memchr(user, '\0', user_len) != NULL || memchr(pass, '\0', pass_len) != NULL) {
		imap_cmd_reply(cmd, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
		return 1;
	}
	struct buf ir;
	buf_init(&ir, user_len + pass_len + 2);
	buf_append_byte(&ir, 0);
	buf_append(&ir, user, user_len);
	buf_append_byte(&ir, 0);
	buf_append(&ir, pass, pass_len);
	s->auth_phase = IMAP_AUTH_WAIT_SERVER;
	s->auth_is_login = true;
	s->hooks->auth_begin(s, "PLAIN", ir.data, ir.len, true);
	buf_free_secure(&ir);
	return 0;
}
