/* cmd-enable.c: ENABLE (RFC 5161, RFC 9051 6.3.1): IMAP4rev2, CONDSTORE and QRESYNC (RFC 7162
 * 3.1, 3.2.3; QRESYNC implies CONDSTORE). Unknown capabilities are ignored; the untagged
 * ENABLED lists, in the order the client named them, only what this command newly enabled
 * (CONDSTORE enabled earlier by another CONDSTORE enabling command is not new). IMAP4rev2 is
 * not enabled while a mailbox is selected. */
#include <strings.h>

#include "imap-arg.h"
#include "imap-session-private.h"
#include "lib/buf.h"

int cmd_enable(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count == 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "ENABLE needs at least one capability");
		return 1;
	}
	bool rev2 = false, condstore = false, qresync = false;
	for (size_t i = 0; i < cmd->count; i++) {
		if (!imap_arg_is_atom(&cmd->args[i])) {
			imap_cmd_reply(cmd, "BAD", NULL, "ENABLE arguments must be capability names");
			return 1;
		}
	}
	/* what was on before this command: "ENABLE QRESYNC CONDSTORE" enables and lists both */
	bool had_rev2 = s->enabled_rev2, had_condstore = s->condstore, had_qresync = s->qresync;
	struct buf out;
	buf_init(&out, 256);
	buf_append_str(&out, "ENABLED");
	for (size_t i = 0; i < cmd->count; i++) {
		const struct imap_arg *a = &cmd->args[i];
		/* RFC 9051 6.3.1: only before a mailbox is selected; a session that has one
		 * open stays IMAP4rev1 (its view tracks \Recent, its responses are rev1's) */
		if (imap_arg_atom_equals(a, "IMAP4rev2") && !had_rev2 && !rev2 &&
		    s->state != IMAP_STATE_SELECTED) {
			rev2 = true;
			buf_append_str(&out, " IMAP4rev2");
		} else if (imap_arg_atom_equals(a, "CONDSTORE") && !had_condstore && !condstore) {
			condstore = true;
			buf_append_str(&out, " CONDSTORE");
		} else if (imap_arg_atom_equals(a, "QRESYNC") && !had_qresync && !qresync) {
			qresync = true;
			buf_append_str(&out, " QRESYNC");
		}
	}
	if (rev2)
		s->enabled_rev2 = true;
	/* with a mailbox selected (clients should not, RFC 9051 6.3.1) this may write
	 * "* OK [HIGHESTMODSEQ n]" first (RFC 7162 3.1) */
	if (qresync)
		imap_session_enable_qresync(s);
	else if (condstore)
		imap_session_enable_condstore(s);
	imap_session_untagged(s, "%.*s", (int)out.len, (const char *)out.data);
	buf_free(&out);
	imap_cmd_reply(cmd, "OK", NULL, "ENABLE completed");
	return 1;
}
