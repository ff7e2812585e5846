/* cmd-logout.c: LOGOUT (RFC 9051 6.1.3): untagged BYE, tagged OK, then the server closes. */
#include "imap-session-private.h"

#include "lib/log.h"

int cmd_logout(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "LOGOUT takes no arguments");
		return 1;
	}
	imap_session_untagged(s, "BYE kura logging out");
	imap_cmd_reply(cmd, "OK", NULL, "LOGOUT completed");
	log_info("session %s: logout", s->session_id);
	s->state = IMAP_STATE_LOGOUT;
	s->closing = true;
	conn_close_after_flush(s->conn, "logout");
	return 1;
}
