/* cmd-select.c: SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3; RFC 3501 6.3.1 for IMAP4rev1).
 * A failed SELECT leaves the session unselected (the old mailbox is closed either way). */
#include <stdlib.h>
#include <strings.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-session-private.h"
#include "imap-view.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

int cmd_select(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	bool examine = strcasecmp(cmd->name, "EXAMINE") == 0;
	const char *raw, *name, *err;
	size_t raw_len;
	if (cmd->count != 1 || !imap_arg_get_astring(&cmd->args[0], &raw, &raw_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s needs one mailbox name", cmd->name);
		return 1;
	}
	bool was_selected = s->view != NULL;
	imap_session_unselect(s);
	if (was_selected)
		imap_session_untagged(s, "OK [CLOSED] Previous mailbox closed");
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	struct store_mailbox mb;
	int ret = store_mailbox_get(s->store, name, &mb);
	if (ret <= 0) {
		if (ret < 0)
			imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot open the mailbox");
		else
			imap_cmd_reply(cmd, "NO", "NONEXISTENT", "No such mailbox");
		return 1;
	}
	struct imap_view *view = xcalloc(1, sizeof(*view));
	if (imap_view_open(view, s->store, &mb, examine, !s->enabled_rev2, &err) < 0) {
		free(view);
		log_error("session %s: cannot load %s: %s", s->session_id, name, err);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot open the mailbox");
		return 1;
	}
	view->notify = imap_session_view_changed;
	view->notify_ctx = s;
	s->view = view;
	s->state = IMAP_STATE_SELECTED;

	struct buf out;
	buf_init(&out, (size_t)-2);
	buf_printf(&out, "* %zu EXISTS\r\n", view->count);
	if (!s->enabled_rev2) {
		/* IMAP4rev1: RECENT (RFC 9051 dropped it) and the first unseen message */
		buf_printf(&out, "* %zu RECENT\r\n", view->recent_count);
		for (size_t i = 0; i < view->count; i++) {
			if ((view->flags[i] & STORE_FLAG_SEEN) == 0) {
				buf_printf(&out, "* OK [UNSEEN %zu] First unseen message\r\n", i + 1);
				break;
			}
		}
	}
	buf_printf(&out, "* OK [UIDVALIDITY %u] UIDs valid\r\n", mb.uidvalidity);
	buf_printf(&out, "* OK [UIDNEXT %u] Predicted next UID\r\n", mb.uidnext);
	buf_append_str(&out, "* FLAGS ");
	imap_view_mailbox_flags_append(view, &out);
	buf_append_str(&out, "\r\n* OK [PERMANENTFLAGS ");
	imap_view_permanent_flags_append(view, &out);
	buf_append_str(&out, "] Flags permitted\r\n");
	if (s->enabled_rev2) {
		buf_append_str(&out, "* LIST () \"/\" ");
		imap_mailbox_to_client(&out, mb.name, true);
		buf_append_str(&out, "\r\n");
	}
	conn_write(s->conn, out.data, out.len);
	buf_free(&out);
	imap_cmd_reply(cmd, "OK", examine ? "READ-ONLY" : "READ-WRITE", "%s completed",
		       examine ? "EXAMINE" : "SELECT");
	return 1;
}
