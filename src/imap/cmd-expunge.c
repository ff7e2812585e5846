/* cmd-expunge.c: EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (6.4.9, UIDPLUS): remove \Deleted
 * messages (of the given UIDs), durable before the untagged EXPUNGEs (VANISHED after ENABLE
 * QRESYNC) and the tagged OK, which carries [HIGHESTMODSEQ] for a CONDSTORE session when
 * something was expunged (RFC 7162 3.2.7, 3.2.9). */
#include "imap-arg.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-view.h"
#include "lib/log.h"

static int expunge_count_cb(void *ctx, uint32_t uid)
{
	(*(size_t *)ctx)++;
	return 0;
}

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
	size_t n = v->count, k = 0;
	uint32_t *uids = pool_alloc_array(cmd->pool, n ? n : 1, sizeof(uint32_t));
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
		for (size_t j = 0; j < n; j++) {
			if (v->flags[idx[j]] & STORE_FLAG_DELETED)
				uids[k++] = v->uids[idx[j]];
		}
	} else {
		/* only the chunks whose count has a \Deleted message are read */
		const char *err;
		ssize_t r = imap_view_deleted_uids(v, uids, &err);
		if (r < 0) {
			log_error("session %s: EXPUNGE: %s", s->session_id, err);
			imap_cmd_reply(cmd, "NO", "SERVERBUG", "Expunge failed");
			return 1;
		}
		k = (size_t)r;
	}
	const char *err;
	size_t expunged = 0;
	if (k > 0 && store_expunge(s->store, v->mb.id, uids, k, expunge_count_cb, &expunged,
				   &err) < 0) {
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Expunge failed");
		return 1;
	}
	/* the view heard the expunges from the store; the reply flushes them first */
	const char *code = NULL;
	if (expunged > 0 && s->condstore) {
		/* the updates go out now, so the HIGHESTMODSEQ covers them all */
		imap_session_push_updates(s);
		code = pool_printf(cmd->pool, "HIGHESTMODSEQ %llu",
				   (unsigned long long)imap_view_highestmodseq(v));
	}
	imap_cmd_reply(cmd, "OK", code, "%s completed", cmd->uid ? "UID EXPUNGE" : "EXPUNGE");
	return 1;
}
