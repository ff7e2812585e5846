/* cmd-delete.c: DELETE (RFC 9051 6.3.5). INBOX cannot be deleted; children survive. */
#include <string.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-session-private.h"
#include "imap-store-error.h"
#include "imap-view.h"

int cmd_delete(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	const char *raw, *name, *err;
	size_t raw_len;
	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &raw, &raw_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "DELETE needs a mailbox name");
		return 1;
	}
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	if (strcmp(name, "INBOX") == 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "INBOX cannot be deleted");
		return 1;
	}
	if (s->view != NULL && strcmp(s->view->mb.name, name) == 0)
		imap_session_unselect(s);
	if (store_mailbox_delete(s->store, name, &err) < 0) {
		imap_cmd_reply(cmd, "NO", imap_store_error_code(store_last_error(s->store)), "%s", err);
		return 1;
	}
	imap_cmd_reply(cmd, "OK", NULL, "DELETE completed");
	return 1;
}
