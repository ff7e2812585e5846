/* cmd-capability.c: CAPABILITY (RFC 9051 6.1.1). The list depends on state and TLS. */
#include "imap-session-private.h"

int cmd_capability(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "CAPABILITY takes no arguments");
		return 1;
	}
	imap_session_untagged(cmd->session, "CAPABILITY %s",
			      imap_session_capabilities(cmd->session));
	imap_cmd_reply(cmd, "OK", NULL, "CAPABILITY completed");
	return 1;
}
