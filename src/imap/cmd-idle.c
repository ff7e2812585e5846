/* cmd-idle.c: IDLE (RFC 9051 6.3.13, RFC 2177). The client waits for changes; the session
 * pushes the selected mailbox's updates as soon as the store says it changed (the view's
 * notify callback defers a flush to the end of the loop batch, so a burst of changes goes out
 * as one write), and reads nothing but DONE (imap-session.c). An idle session costs its view
 * and connection only: no timer, no thread. */
#include "imap-session-private.h"
#include "imap-view.h"
#include "net/conn.h"

int cmd_idle(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "IDLE takes no arguments");
		return 1;
	}
	conn_write_str(s->conn, "+ idling\r\n");
	if (s->view != NULL) {
		/* whatever changed before IDLE goes out now (EXPUNGE allowed) */
		imap_view_sync(s->view, true);
		imap_session_push_updates(s);
	}
	s->idling = true;
	return 0;
}
