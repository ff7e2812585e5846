/* cmd-enable.c: ENABLE (RFC 5161, RFC 9051 6.3.1). Unknown capabilities are ignored; the
 * untagged ENABLED lists only what this command newly enabled. */
#include <strings.h>

#include "imap-arg.h"
#include "imap-session-private.h"

int cmd_enable(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count == 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "ENABLE needs at least one capability");
		return 1;
	}
	bool rev2 = false;
	for (size_t i = 0; i < cmd->count; i++) {
		if (!imap_arg_is_atom(&cmd->args[i])) {
			imap_cmd_reply(cmd, "BAD", NULL, "ENABLE arguments must be capability names");
			return 1;
		}
		if (strcasecmp(cmd->args[i].str, "IMAP4rev2") == 0)
			rev2 = true;
	}
	if (rev2 && !s->enabled_rev2) {
		s->enabled_rev2 = true;
		imap_session_untagged(s, "ENABLED IMAP4rev2");
	} else {
		imap_session_untagged(s, "ENABLED");
	}
	imap_cmd_reply(cmd, "OK", NULL, "ENABLE completed");
	return 1;
}
