/* cmd-append.c: APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502: all messages or none),
 * UIDPLUS (APPENDUID), APPENDLIMIT (RFC 7889: the parser refuses a bigger literal with
 * TOOBIG before it is sent) and literal8 (RFC 3516 BINARY). A message literal is in memory or,
 * past the session's in-memory budget, in the command's spool file, mapped here
 * (imap_cmd_literal): the store gets one contiguous range either way. */
#include <string.h>

#include "imap-arg.h"
#include "imap-flags.h"
#include "imap-mailbox.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-store-error.h"
#include "mail/date.h"

#define APPEND_MAX_MESSAGES 1000

int cmd_append(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	const char *raw, *name, *err;
	size_t raw_len;
	if (cmd->count < 2 || !imap_arg_get_astring(&cmd->args[0], &raw, &raw_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "APPEND needs a mailbox and a message literal");
		return 1;
	}
	struct store_append *msgs = pool_alloc_array(cmd->pool, cmd->count, sizeof(*msgs));
	size_t n = 0;
	for (size_t i = 1; i < cmd->count;) {
		struct store_append *m = &msgs[n];
		if (cmd->args[i].type == IMAP_ARG_LIST) {
			if (imap_flags_parse(cmd->args[i].list, cmd->args[i].count, cmd->pool,
					     &m->flags, (const char ***)&m->keywords,
					     &m->keyword_count, &err) < 0) {
				imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
				return 1;
			}
			i++;
		}
		if (i < cmd->count && cmd->args[i].type == IMAP_ARG_QUOTED) {
			if (!mail_date_parse_imap(cmd->args[i].str, cmd->args[i].len,
						  &m->internal_date, &m->internal_tz)) {
				imap_cmd_reply(cmd, "BAD", NULL, "Invalid date-time");
				return 1;
			}
			i++;
		}
		if (i >= cmd->count || (cmd->args[i].type != IMAP_ARG_LITERAL &&
					cmd->args[i].type != IMAP_ARG_LITERAL_SINK)) {
			imap_cmd_reply(cmd, "BAD", NULL, "APPEND needs the message as a literal");
			return 1;
		}
		if (cmd->args[i].len == 0) {
			imap_cmd_reply(cmd, "NO", NULL, "Refusing to store an empty message");
			return 1;
		}
		if (imap_cmd_literal(cmd, &cmd->args[i], &m->data, &m->size, &err) < 0) {
			imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot read the message: %s", err);
			return 1;
		}
		if (!cmd->args[i].literal8 && memchr(m->data, '\0', m->size)) {
			imap_cmd_reply(cmd, "NO", NULL, "NUL in a message needs a literal8");
			return 1;
		}
		i++;
		if (++n > APPEND_MAX_MESSAGES) {
			imap_cmd_reply(cmd, "NO", "LIMIT", "Too many messages in one APPEND");
			return 1;
		}
	}
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	struct store_mailbox mb;
	int ret = store_mailbox_get(s->store, name, &mb);
	if (ret <= 0) {
		imap_cmd_reply(cmd, "NO", ret < 0 ? "SERVERBUG" : "TRYCREATE",
			       ret < 0 ? "Cannot open the mailbox" : "No such mailbox");
		return 1;
	}
	uint32_t *uids = pool_alloc_array(cmd->pool, n, sizeof(uint32_t));
	uint32_t uidvalidity;
	if (store_append(s->store, mb.id, msgs, n, uids, &uidvalidity, &err) < 0) {
		imap_cmd_reply(cmd, "NO", imap_store_error_code(store_last_error(s->store)), "%s", err);
		return 1;
	}
	const char *code = pool_printf(cmd->pool, "APPENDUID %u %s", uidvalidity,
				       imap_seqset_format(cmd->pool, uids, n));
	imap_cmd_reply(cmd, "OK", code, "APPEND completed");
	return 1;
}
