/* cmd-noop.c: NOOP (RFC 9051 6.1.2). Later it also reports mailbox updates. */
#include "imap-session-private.h"

int cmd_noop(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "NOOP takes no arguments");
		return 1;
	}
	imap_cmd_reply(cmd, "OK", NULL, "NOOP completed");
	return 1;
}
