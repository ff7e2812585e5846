/* cmd-status.c: STATUS (RFC 9051 6.3.11; HIGHESTMODSEQ, RFC 7162 3.1.7). */
#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-session-private.h"
#include "imap-status.h"

int cmd_status(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	const char *raw, *name, *err;
	size_t raw_len;
	unsigned items;
	if (cmd->count != 2 || !imap_arg_get_astring(&cmd->args[0], &raw, &raw_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "STATUS needs a mailbox name and a list of items");
		return 1;
	}
	if (imap_status_parse(&cmd->args[1], !s->enabled_rev2, &items) < 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "Unknown or missing STATUS items");
		return 1;
	}
	if (items & IMAP_STATUS_HIGHESTMODSEQ)
		imap_session_enable_condstore(s); /* RFC 7162 3.1: a CONDSTORE enabling command */
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	struct store_mailbox mb;
	int ret = store_mailbox_get(s->store, name, &mb);
	if (ret <= 0) {
		imap_cmd_reply(cmd, "NO", ret < 0 ? "SERVERBUG" : "NONEXISTENT",
			       ret < 0 ? "Cannot read the mailbox" : "No such mailbox");
		return 1;
	}
	struct buf out;
	buf_init(&out, (size_t)-2);
	imap_status_render(&out, s->store, &mb, items, imap_session_utf8(s), s->set->append_limit);
	conn_write(s->conn, out.data, out.len);
	buf_free(&out);
	imap_cmd_reply(cmd, "OK", NULL, "STATUS completed");
	return 1;
}
