/* cmd-copy.c: COPY, UID COPY (RFC 9051 6.4.7) and MOVE, UID MOVE (RFC 9051 6.4.8, RFC 6851),
 * with COPYUID (RFC 4315). The store copies (or moves) all messages in one transaction:
 * bodies are shared, nothing is half done.
 * Traps: MOVE sends COPYUID in an untagged OK *before* the EXPUNGEs, and sends the EXPUNGEs
 * even for MOVE by sequence number (the session's own reply flush would hold them back for a
 * command that uses sequence numbers); the COPYUID sets can be long, so they are written
 * without the session's fixed-size line helpers. */
#include <string.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-store-error.h"
#include "imap-view.h"
#include "lib/log.h"
#include "net/conn.h"

#define COPY_RANGES_MAX 10000

static int copy_run(struct imap_cmd *cmd, bool move)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	const char *what = move ? (cmd->uid ? "UID MOVE" : "MOVE") : (cmd->uid ? "UID COPY" : "COPY");
	const char *raw, *name, *err;
	size_t raw_len;
	if (cmd->count != 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    !imap_arg_get_astring(&cmd->args[1], &raw, &raw_len)) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s needs a sequence set and a mailbox", what);
		return 1;
	}
	struct imap_seqset set;
	if (imap_seqset_parse(cmd->args[0].str, cmd->args[0].len, cmd->pool, COPY_RANGES_MAX, &set,
			      &err) < 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
		return 1;
	}
	uint32_t *idx;
	size_t n;
	bool bad;
	imap_session_seqset_resolve(s, &set, cmd->uid, cmd->pool, &idx, &n, &bad);
	if (bad) {
		imap_cmd_reply(cmd, "BAD", NULL, "Message sequence number out of range");
		return 1;
	}
	if (move && v->readonly) {
		imap_cmd_reply(cmd, "NO", "READ-ONLY", "The mailbox is read-only");
		return 1;
	}
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	struct store_mailbox *dst = pool_alloc(cmd->pool, sizeof(*dst));
	int ret = store_mailbox_get(s->store, name, dst);
	if (ret <= 0) {
		/* RFC 9051 6.4.7: never create it; TRYCREATE tells the client it may */
		imap_cmd_reply(cmd, "NO", ret < 0 ? "SERVERBUG" : "TRYCREATE",
			       ret < 0 ? "Cannot open the mailbox" : "No such mailbox");
		return 1;
	}
	size_t copied = 0;
	uint32_t uidvalidity = 0, *src_uids = NULL, *new_uids = NULL;
	if (n > 0) {
		uint32_t *uids = pool_alloc_array(cmd->pool, n, sizeof(uint32_t));
		src_uids = pool_alloc_array(cmd->pool, n, sizeof(uint32_t));
		new_uids = pool_alloc_array(cmd->pool, n, sizeof(uint32_t));
		for (size_t j = 0; j < n; j++)
			uids[j] = v->uids[idx[j]];
		if (store_copy(s->store, v->mb.id, uids, n, dst->id, move, src_uids, new_uids,
			       &copied, &uidvalidity, &err) < 0) {
			enum store_error e = store_last_error(s->store);
			if (e == STORE_ERR_INTERNAL)
				log_error("session %s: %s: %s", s->session_id, what, err);
			imap_cmd_reply(cmd, "NO", imap_store_error_code(e), "%s failed: %s", what,
				       e == STORE_ERR_LIMIT ? "too many keywords in the destination"
							    : "nothing was copied");
			return 1;
		}
	}
	/* RFC 9051 6.4.9: a UID COPY/MOVE of nothing is a success without COPYUID */
	const char *code = NULL;
	if (copied > 0)
		code = pool_printf(cmd->pool, "COPYUID %u %s %s", uidvalidity,
				   imap_seqset_format(cmd->pool, src_uids, copied),
				   imap_seqset_format(cmd->pool, new_uids, copied));
	if (!move) {
		imap_cmd_reply(cmd, "OK", code, "%s completed", what);
		return 1;
	}
	struct conn *conn = imap_cmd_conn(cmd);
	struct buf out;
	buf_init(&out, (size_t)-2);
	if (code != NULL)
		buf_printf(&out, "* OK [%s] Moved\r\n", code);
	/* RFC 6851 3.3: the EXPUNGEs (VANISHED with QRESYNC, 4.4) of the moved messages and
	 * any other pending ones */
	imap_view_flush(v, &out, true);
	if (out.len > 0)
		conn_write(conn, out.data, out.len);
	buf_free(&out);
	/* RFC 6851 4.4: the new HIGHESTMODSEQ once something moved (to CONDSTORE clients) */
	code = NULL;
	if (copied > 0 && s->condstore)
		code = pool_printf(cmd->pool, "HIGHESTMODSEQ %llu",
				   (unsigned long long)imap_view_highestmodseq(v));
	imap_cmd_reply(cmd, "OK", code, "%s completed", what);
	return 1;
}

int cmd_copy(struct imap_cmd *cmd)
{
	return copy_run(cmd, false);
}

int cmd_move(struct imap_cmd *cmd)
{
	return copy_run(cmd, true);
}
