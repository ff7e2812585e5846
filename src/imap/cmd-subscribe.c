/* cmd-subscribe.c: SUBSCRIBE and UNSUBSCRIBE (RFC 9051 6.3.7, 6.3.8). Subscriptions are names;
 * a mailbox need not exist to be subscribed or unsubscribed. */
#include <strings.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-session-private.h"
#include "imap-store-error.h"

int cmd_subscribe(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	bool on = strcasecmp(cmd->name, "SUBSCRIBE") == 0;
	const char *raw, *name, *err;
	size_t raw_len;
	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &raw, &raw_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s needs a mailbox name", cmd->name);
		return 1;
	}
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	if (store_subscribe(s->store, name, on, &err) < 0) {
		imap_cmd_reply(cmd, "NO", imap_store_error_code(store_last_error(s->store)), "%s", err);
		return 1;
	}
	imap_cmd_reply(cmd, "OK", NULL, "%s completed", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	return 1;
}

int cmd_namespace(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "NAMESPACE takes no arguments");
		return 1;
	}
	/* RFC 2342 / RFC 9051 6.3.10: one personal namespace, no shared ones yet */
	imap_session_untagged(cmd->session, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_cmd_reply(cmd, "OK", NULL, "NAMESPACE completed");
	return 1;
}
