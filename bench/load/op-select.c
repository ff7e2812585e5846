/* op-select.c: SELECT of the worked-on mailbox and the UID FETCH that brings the client's
 * model up to date, pipelined as real clients do; SYNC is that UID FETCH alone, after EXISTS
 * announced messages the client does not know. Traps: before SELECT's tagged reply EXISTS is
 * an absolute count, not a change (client.c looks at in_select); "UID FETCH n:*" with n above
 * every UID still returns the last message (RFC 9051 6.4.8: "*" is the largest UID), which
 * the generic check then finds consistent with the model. */
#include "client-private.h"

#include <string.h>

#include "load-opts.h"

enum { K_SELECT, K_FETCH };

static void op_select_fetch_cmd(struct client *c, uint32_t from)
{
	client_cmd(c, K_FETCH, "UID FETCH %u:* (UID FLAGS RFC822.SIZE)", from);
}

static void op_select_start(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	c->st.select.full = !c->selected || c->need_full_sync;
	c->st.select.no_fetch = o->mode != LOAD_MODE_MIX;
	c->st.select.in_select = true;
	c->selected = false;
	if (c->st.select.full)
		model_rebuild_begin(&c->box);
	client_cmd(c, K_SELECT, "SELECT %s", client_quote(o->mailbox));
	if (!c->st.select.no_fetch)
		op_select_fetch_cmd(c, c->st.select.full ? 1 : model_max_uid(&c->box) + 1);
}

static void op_sync_start(struct client *c)
{
	c->st.select.sync_only = true;
	op_select_fetch_cmd(c, model_max_uid(&c->box) + 1);
}

static void op_select_fetch(struct client *c, uint32_t seq, const struct fetch_attrs *a)
{
	if (!a->has_uid) {
		client_fail(c, STATS_ERR_CHECK, "UID FETCH response without UID (message %u)", seq);
		return;
	}
	if (seq <= c->box.count)
		return; /* known: client.c compared the UID */
	if (seq != c->box.count + 1) {
		client_fail(c, STATS_ERR_CHECK, "FETCH of message %u came before message %zu", seq,
			    c->box.count + 1);
		return;
	}
	if (model_append(&c->box, a->uid, a->has_size ? a->size : 0, 0,
			 a->has_flags ? a->flags : 0) < 0)
		client_fail(c, STATS_ERR_CHECK, "message %u has UID %u, not above UID %u", seq,
			    a->uid, model_max_uid(&c->box));
	c->op_items++;
}

static bool op_select_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	if (cmd->kind != K_SELECT)
		return false;
	c->st.select.in_select = false;
	if (strcmp(r->name, "OK") != 0)
		return false;
	c->selected = true;
	/* without the full rebuild the model must still be a prefix of the mailbox */
	if (!c->st.select.full && c->exists < c->box.count && !client_opts(c)->shared)
		client_fail(c, STATS_ERR_CHECK, "SELECT: EXISTS %u, but %zu messages are known",
			    c->exists, c->box.count);
	return false;
}

static void op_select_finish(struct client *c)
{
	if (c->st.select.full)
		model_rebuild_end(&c->box);
	if (!c->st.select.sync_only && !c->selected)
		return;
	c->need_sync = false;
	if (c->st.select.no_fetch) {
		c->need_full_sync = false;
		return;
	}
	if (c->box.count < c->exists && !client_opts(c)->shared)
		client_fail(c, STATS_ERR_CHECK,
			    "after UID FETCH %zu messages are known, but EXISTS says %u", c->box.count,
			    c->exists);
	if (!c->op_failed)
		c->need_full_sync = false;
}

const struct op_hooks op_select_hooks = {
	.start = op_select_start,
	.fetch = op_select_fetch,
	.tagged = op_select_tagged,
	.finish = op_select_finish,
};

const struct op_hooks op_sync_hooks = {
	.start = op_sync_start,
	.fetch = op_select_fetch,
	.finish = op_select_finish,
};
