/* op-expunge.c: deleting one message the way clients do it: STORE +FLAGS.SILENT (\Deleted)
 * pipelined with UID EXPUNGE (RFC 4315) or, without UIDPLUS, EXPUNGE. Checks: the message
 * asked for is expunged, and in an exclusive mailbox nothing else is (every \Deleted message
 * the model knows of, for a plain EXPUNGE). */
#include "client-private.h"

#include <string.h>

#include "load-opts.h"

enum { K_STORE, K_EXPUNGE };

static void op_expunge_start(struct client *c)
{
	size_t n = client_pick_uids(c, 1, false, c->st.copy.uids);
	c->st.copy.n = n;
	if (n == 0) {
		client_cmd(c, K_STORE, "NOOP");
		return;
	}
	const char *set = client_uidset(c->st.copy.uids, n);
	client_cmd(c, K_STORE, "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
	if (c->caps & CAP_UIDPLUS)
		client_cmd(c, K_EXPUNGE, "UID EXPUNGE %s", set);
	else
		client_cmd(c, K_EXPUNGE, "EXPUNGE");
}

static bool op_expunge_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	if (cmd->kind == K_STORE && strcmp(r->name, "OK") == 0) {
		for (size_t i = 0; i < c->st.copy.n; i++) {
			size_t idx;
			if (model_find(&c->box, c->st.copy.uids[i], &idx))
				c->box.msgs[idx].flags |= MODEL_DELETED;
		}
	}
	return false;
}

static void op_expunge_finish(struct client *c)
{
	c->op_items = c->n_expunged;
	if (c->op_failed)
		return;
	for (size_t i = 0; i < c->st.copy.n; i++) {
		if (!client_was_expunged(c, c->st.copy.uids[i])) {
			client_fail(c, STATS_ERR_CHECK, "UID %u was not expunged", c->st.copy.uids[i]);
			return;
		}
	}
	if (client_opts(c)->shared || !(c->caps & CAP_UIDPLUS))
		return;
	if (c->n_expunged != c->st.copy.n || c->expunged_overflow)
		client_fail(c, STATS_ERR_CHECK, "UID EXPUNGE of %zu message(s) expunged %zu",
			    c->st.copy.n, c->n_expunged);
}

const struct op_hooks op_expunge_hooks = {
	.start = op_expunge_start,
	.tagged = op_expunge_tagged,
	.finish = op_expunge_finish,
};
