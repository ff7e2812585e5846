/* cmd-id.c: ID (RFC 2971). The client's list is validated (at most 30 pairs, names up to 30
 * bytes, values up to 1024) and logged; we answer with our name and version. */
#include <stdio.h>
#include <string.h>

#include "imap-arg.h"
#include "imap-session-private.h"
#include "lib/log.h"

#define KURA_VERSION "0.1.0"

int cmd_id(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count != 1) {
		imap_cmd_reply(cmd, "BAD", NULL, "ID needs one argument: a list or NIL");
		return 1;
	}
	const struct imap_arg *arg = &cmd->args[0];
	if (arg->type == IMAP_ARG_LIST) {
		if (arg->count % 2 != 0 || arg->count > 60) {
			imap_cmd_reply(cmd, "BAD", NULL, "ID list must hold up to 30 field/value pairs");
			return 1;
		}
		char logbuf[300];
		size_t pos = 0;
		logbuf[0] = '\0';
		for (size_t i = 0; i < arg->count; i += 2) {
			const char *name, *value;
			size_t nlen, vlen;
			if (!imap_arg_get_string(&arg->list[i], &name, &nlen) ||
			    !imap_arg_get_nstring(&arg->list[i + 1], &value, &vlen) || nlen > 30 ||
			    vlen > 1024) {
				imap_cmd_reply(cmd, "BAD", NULL,
					       "ID fields are strings (up to 30 bytes) with string or NIL values (up to 1024 bytes)");
				return 1;
			}
			if (pos < sizeof(logbuf) - 1) {
				int n = snprintf(logbuf + pos, sizeof(logbuf) - pos, "%s%.*s=%.*s",
						 pos ? " " : "", (int)nlen, name,
						 value ? (int)(vlen > 64 ? 64 : vlen) : 3,
						 value ? value : "NIL");
				if (n > 0)
					pos += (size_t)n;
				if (pos >= sizeof(logbuf))
					pos = sizeof(logbuf) - 1;
			}
		}
		log_info("session %s: client ID: %s", s->session_id, logbuf);
	} else if (arg->type != IMAP_ARG_NIL) {
		imap_cmd_reply(cmd, "BAD", NULL, "ID needs a list or NIL");
		return 1;
	}
	imap_session_untagged(s, "ID (\"name\" \"kura\" \"version\" \"" KURA_VERSION "\")");
	imap_cmd_reply(cmd, "OK", NULL, "ID completed");
	return 1;
}
