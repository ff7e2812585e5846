/* cmd-rename.c: RENAME (RFC 9051 6.3.6): children move along; renaming INBOX moves its
 * messages to the new mailbox and leaves INBOX empty. */
#include <string.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-session-private.h"
#include "imap-store-error.h"

int cmd_rename(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	const char *raw1, *raw2, *from, *to, *err;
	size_t len1, len2;
	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &raw1, &len1) ||
	    !imap_arg_get_astring(&cmd->args[1], &raw2, &len2)) {
		imap_cmd_reply(cmd, "BAD", NULL, "RENAME needs two mailbox names");
		return 1;
	}
	if (imap_mailbox_from_client(raw1, len1, imap_session_utf8(s), false, cmd->pool, &from,
				     &err) < 0 ||
	    imap_mailbox_from_client(raw2, len2, imap_session_utf8(s), false, cmd->pool, &to,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	if (strcmp(to, "INBOX") == 0) {
		imap_cmd_reply(cmd, "NO", "ALREADYEXISTS", "INBOX always exists");
		return 1;
	}
	if (store_mailbox_rename(s->store, from, to, &err) < 0) {
		imap_cmd_reply(cmd, "NO", imap_store_error_code(store_last_error(s->store)), "%s", err);
		return 1;
	}
	imap_cmd_reply(cmd, "OK", NULL, "RENAME completed");
	return 1;
}
