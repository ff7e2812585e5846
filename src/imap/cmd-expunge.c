/* cmd-expunge.c: EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (6.4.9, UIDPLUS): remove \Deleted
 * messages (of the given UIDs), durable before the untagged EXPUNGEs and the tagged OK. */
#include "imap-arg.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-view.h"

int cmd_expunge(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	if ((cmd->uid && (cmd->count != 1 || cmd->args[0].type != IMAP_ARG_ATOM)) ||
	    (!cmd->uid && cmd->count != 0)) {
		imap_cmd_reply(cmd, "BAD", NULL, cmd->uid ? "UID EXPUNGE needs a UID set"
							    : "EXPUNGE takes no arguments");
		return 1;
	}
	if (v->readonly) {
		imap_cmd_reply(cmd, "NO", "READ-ONLY", "The mailbox is read-only");
		return 1;
	}
	uint32_t *idx = NULL;
	size_t n = v->count;
	if (cmd->uid) {
		struct imap_seqset set;
		const char *err;
		bool bad;
		if (imap_seqset_parse(cmd->args[0].str, cmd->args[0].len, cmd->pool, 10000, &set,
				      &err) < 0) {
			imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
			return 1;
		}
		imap_session_seqset_resolve(s, &set, true, cmd->pool, &idx, &n, &bad);
	}
	uint32_t *uids = pool_alloc_array(cmd->pool, n ? n : 1, sizeof(uint32_t));
	size_t k = 0;
	for (size_t j = 0; j < n; j++) {
		size_t i = idx != NULL ? idx[j] : j;
		if (v->flags[i] & STORE_FLAG_DELETED)
			uids[k++] = v->uids[i];
	}
	const char *err;
	if (k > 0 && store_expunge(s->store, v->mb.id, uids, k, NULL, NULL, &err) < 0) {
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Expunge failed");
		return 1;
	}
	/* the view heard the expunges from the store; the reply flushes them first */
	imap_cmd_reply(cmd, "OK", NULL, "EXPUNGE completed");
	return 1;
}
