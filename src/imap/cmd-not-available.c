/* cmd-not-available.c: mailbox commands before the store exists (issue 3). They are real IMAP
 * commands, so they get a clear NO rather than "unknown command". */
#include "imap-session-private.h"

int cmd_not_available(struct imap_cmd *cmd)
{
	imap_cmd_reply(cmd, "NO", "UNAVAILABLE", "Mailbox access is not available in this version of kura yet");
	return 1;
}
