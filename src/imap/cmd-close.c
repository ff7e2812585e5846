/* cmd-close.c: CLOSE (RFC 9051 6.4.1: silently expunge \Deleted messages if read-write) and
 * UNSELECT (6.4.2: no expunge). Both leave the selected state. */
#include <strings.h>

#include "imap-session-private.h"
#include "imap-view.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

int cmd_close(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s takes no arguments", cmd->name);
		return 1;
	}
	struct imap_view *v = s->view;
	if (strcasecmp(cmd->name, "CLOSE") == 0 && !v->readonly) {
		/* only the chunks whose count has a \Deleted message are read */
		uint32_t *uids = xcalloc(v->count ? v->count : 1, sizeof(uint32_t));
		const char *err;
		ssize_t n = imap_view_deleted_uids(v, uids, &err);
		if (n < 0)
			log_error("session %s: CLOSE expunge failed: %s", s->session_id, err);
		else if (n > 0 &&
			 store_expunge(s->store, v->mb.id, uids, (size_t)n, NULL, NULL, &err) < 0)
			log_error("session %s: CLOSE expunge failed: %s", s->session_id, err);
		free(uids);
	}
	imap_session_unselect(s);
	imap_cmd_reply(cmd, "OK", NULL, "%s completed", cmd->name);
	return 1;
}

int cmd_check(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "CHECK takes no arguments");
		return 1;
	}
	/* every change is already durable when it is acknowledged; like NOOP, CHECK reports
	 * the mailbox's updates */
	imap_view_sync(cmd->session->view, true);
	imap_cmd_reply(cmd, "OK", NULL, "CHECK completed");
	return 1;
}
