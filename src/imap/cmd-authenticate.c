/* cmd-authenticate.c: AUTHENTICATE (RFC 9051 6.2.2) with SASL-IR (RFC 4959). The SASL
 * mechanism runs in the auth process; here we only move base64 between client and it. */
#include <string.h>
#include <strings.h>

#include "imap-arg.h"
#include "imap-session-private.h"
#include "lib/base64.h"

static const char *const auth_mechs[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256"};

int cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count < 1 || cmd->count > 2 || !imap_arg_is_atom(&cmd->args[0]) ||
	    (cmd->count == 2 && !imap_arg_is_atom(&cmd->args[1]))) {
		imap_cmd_reply(cmd, "BAD", NULL,
			       "AUTHENTICATE needs a mechanism and optionally an initial response");
		return 1;
	}
	const char *mech = NULL;
	for (size_t i = 0; i < sizeof(auth_mechs) / sizeof(auth_mechs[0]); i++) {
		if (strcasecmp(cmd->args[0].str, auth_mechs[i]) == 0)
			mech = auth_mechs[i];
	}
	if (mech == NULL) {
		imap_cmd_reply(cmd, "NO", NULL, "Unsupported authentication mechanism");
		return 1;
	}
	if (!imap_session_plaintext_ok(s)) {
		imap_cmd_reply(cmd, "NO", "PRIVACYREQUIRED", "Authentication is disabled before STARTTLS");
		return 1;
	}
	struct buf ir;
	buf_init(&ir, 8192);
	bool has_ir = cmd->count == 2;
	if (has_ir) {
		const struct imap_arg *arg = &cmd->args[1];
		/* "=" is an empty initial response (RFC 4959) */
		if (!(arg->len == 1 && arg->str[0] == '=') &&
		    base64_decode(&ir, arg->str, arg->len) < 0) {
			buf_free_secure(&ir);
			imap_cmd_reply(cmd, "BAD", NULL, "Invalid base64 in initial response");
			return 1;
		}
	}
	s->auth_phase = IMAP_AUTH_WAIT_SERVER;
	s->auth_is_login = false;
	s->hooks->auth_begin(s, mech, ir.data != NULL ? ir.data : (const unsigned char *)"", ir.len,
			     has_ir);
	buf_free_secure(&ir);
	return 0;
}
