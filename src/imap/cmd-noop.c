/* cmd-noop.c: NOOP (RFC 9051 6.1.2): the way a client polls for mailbox updates, so the view
 * reads the store's changes even if no notice came (the reply flushes them). */
#include "imap-session-private.h"
#include "imap-view.h"

int cmd_noop(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "NOOP takes no arguments");
		return 1;
	}
	if (cmd->session->view != NULL)
		imap_view_sync(cmd->session->view, true);
	imap_cmd_reply(cmd, "OK", NULL, "NOOP completed");
	return 1;
}
