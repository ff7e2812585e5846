/* op-append.c: APPEND of one mbox message to the selected mailbox (a client saving a sent or
 * draft message), and FILL, which brings a mailbox to a number of messages with batches of
 * MULTIAPPEND (RFC 3502) kept in flight --fill-window at a time. Literals are LITERAL+ when
 * offered (RFC 7888), else synchronizing: the data goes after the "+" (client.c).
 * Checks: APPENDUID (RFC 4315) is present when UIDPLUS is offered, names the mailbox's
 * UIDVALIDITY, a UID above every known one (APPEND) and as many UIDs as messages (FILL).
 * The appended message enters the model with its size and mbox index, so later FETCHes of it
 * are compared byte for byte. */
#include "client-private.h"

#include <string.h>

#include "load-opts.h"
#include "mbox.h"
#include "rng.h"
#include "uidset.h"

enum { K_APPEND, K_STATUS, K_BATCH };

#define FILL_BATCH_BYTES (8u * 1024 * 1024)

static void op_append_send(struct client *c, struct client_cmd *cmd, const struct mbox_msg *msg,
			   bool seen, bool first)
{
	bool litplus = (c->caps & CAP_LITERALPLUS) != 0;
	client_out(c, "%s%s{%zu%s}\r\n", first ? "" : " ", seen ? "(\\Seen) " : "", msg->len,
		   litplus ? "+" : "");
	if (litplus) {
		client_out_ref(c, msg->data, msg->len);
	} else {
		cmd->want_cont = true;
		cmd->cont_data = msg->data;
		cmd->cont_len = msg->len;
	}
}

static void op_append_start(struct client *c)
{
	const struct mbox *mb = client_mbox(c);
	uint32_t src = rng_below(&c->rng, (uint32_t)mb->count);
	bool seen = rng_percent(&c->rng, 30);
	c->st.append.src = src + 1;
	c->st.append.len = mb->msgs[src].len;
	c->st.append.seen = seen;
	c->op_items = 1;
	struct client_cmd *cmd = client_cmd_begin(c, K_APPEND);
	client_out(c, "APPEND %s ", client_quote(client_opts(c)->mailbox));
	op_append_send(c, cmd, &mb->msgs[src], seen, true);
	if (!cmd->want_cont)
		client_cmd_end(c);
}

/* "VALIDITY UIDSET" of APPENDUID into its parts. */
static bool op_append_uid(const char *args, uint32_t *validity_r, uint32_t *uids, size_t max,
			  size_t *n_r)
{
	const char *sp = strchr(args, ' ');
	if (sp == NULL || !imap_resp_u32(args, (size_t)(sp - args), validity_r))
		return false;
	return uidset_parse(sp + 1, strlen(sp + 1), uids, max, n_r) > 0;
}

static bool op_append_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	(void)cmd;
	if (strcmp(r->name, "OK") != 0)
		return false;
	bool has = r->code != NULL && strcmp(r->code, "APPENDUID") == 0;
	if (!has) {
		if (c->caps & CAP_UIDPLUS)
			client_fail(c, STATS_ERR_CHECK, "APPEND OK without APPENDUID");
		c->need_sync = true;
		return false;
	}
	uint32_t validity, uid;
	size_t n;
	if (!op_append_uid(r->code_args, &validity, &uid, 1, &n)) {
		client_fail(c, STATS_ERR_CHECK, "malformed APPENDUID: %s", r->code_args);
		return false;
	}
	if (c->selected && validity != c->uidvalidity) {
		client_fail(c, STATS_ERR_CHECK, "APPENDUID UIDVALIDITY %u, mailbox has %u", validity,
			    c->uidvalidity);
		return false;
	}
	if (uid <= model_max_uid(&c->box)) {
		client_fail(c, STATS_ERR_CHECK, "APPENDUID %u is not above UID %u", uid,
			    model_max_uid(&c->box));
		return false;
	}
	/* only when no other unknown message comes before it (the model stays a prefix) */
	if (c->exists <= c->box.count + 1 && !client_opts(c)->shared) {
		/* the flags the model expects: the server adds none but \Recent (ignored) */
		model_append(&c->box, uid, (uint32_t)c->st.append.len, c->st.append.src,
			     c->st.append.seen ? MODEL_SEEN : 0);
	} else {
		c->need_sync = true;
	}
	return false;
}

const struct op_hooks op_append_hooks = {
	.start = op_append_start,
	.tagged = op_append_tagged,
};

/* --- fill --- */

static void op_fill_start(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	const struct mbox *mb = client_mbox(c);
	c->st.fill.target = o->mode == LOAD_MODE_FILL ? o->fill : o->prefill;
	c->st.fill.next_src = (uint32_t)(((uint64_t)c->id * 7919) % mb->count);
	client_cmd(c, K_STATUS, "STATUS %s (MESSAGES)", client_quote(o->mailbox));
}

static void op_fill_untagged(struct client *c, const struct imap_resp *r)
{
	if (strcmp(r->name, "STATUS") != 0 || r->args == NULL || r->args->next == NULL)
		return;
	const struct imap_val *items = r->args->next;
	if (items->type != IMAP_VAL_LIST)
		return;
	for (const struct imap_val *k = items->list; k != NULL && k->next != NULL; k = k->next->next) {
		if (imap_val_is(k, "MESSAGES") && imap_val_u32(k->next, &c->st.fill.have))
			c->st.fill.status_done = true;
	}
}

static uint32_t op_fill_need(const struct client *c)
{
	return c->st.fill.target > c->st.fill.have ? c->st.fill.target - c->st.fill.have : 0;
}

static void op_fill_batch(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	const struct mbox *mb = client_mbox(c);
	bool multi = (c->caps & CAP_MULTIAPPEND) && (c->caps & CAP_LITERALPLUS);
	uint32_t left = op_fill_need(c) - c->st.fill.sent;
	uint32_t k = multi ? o->fill_batch : 1;
	if (k > left)
		k = left;
	struct client_cmd *cmd = client_cmd_begin(c, K_BATCH);
	client_out(c, "APPEND %s ", client_quote(o->mailbox));
	size_t bytes = 0;
	uint32_t i;
	for (i = 0; i < k && (i == 0 || bytes < FILL_BATCH_BYTES); i++) {
		const struct mbox_msg *msg = &mb->msgs[c->st.fill.next_src];
		c->st.fill.next_src = (uint32_t)((c->st.fill.next_src + 1) % mb->count);
		op_append_send(c, cmd, msg, (c->st.fill.sent + i) % 2 == 0, i == 0);
		bytes += msg->len;
	}
	cmd->count = i;
	c->st.fill.sent += i;
	if (!cmd->want_cont)
		client_cmd_end(c);
}

static void op_fill_more(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	bool pipeline = (c->caps & CAP_LITERALPLUS) != 0;
	unsigned window = pipeline ? o->fill_window : 1;
	while (c->st.fill.sent < op_fill_need(c) && c->op_pending < window && !c->op_failed &&
	       !c->stopping)
		op_fill_batch(c);
}

static bool op_fill_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	if (cmd->kind == K_STATUS)
		return false;
	bool ok = strcmp(r->name, "OK") == 0;
	enum stats_err err = strcmp(r->name, "BAD") == 0 ? STATS_ERR_BAD : STATS_ERR_NO;
	if (ok && (c->caps & CAP_UIDPLUS)) {
		uint32_t validity;
		uint32_t uids[1000];
		size_t n = 0;
		if (r->code == NULL || strcmp(r->code, "APPENDUID") != 0 ||
		    !op_append_uid(r->code_args, &validity, uids, 1000, &n) || n != cmd->count) {
			client_log_error(c, "APPEND of %u messages: APPENDUID missing or not %u UIDs (%s)",
					 cmd->count, cmd->count, r->code_args);
			ok = false;
			err = STATS_ERR_CHECK;
		}
	}
	if (!ok && err != STATS_ERR_CHECK)
		client_log_error(c, "APPEND of %u messages: %s %s", cmd->count, r->name, r->text);
	client_record(c, OP_FILL, cmd->start_us, cmd->count, ok, err);
	if (ok) {
		c->st.fill.acked += cmd->count;
	} else {
		/* stop sending; the ones in flight still finish */
		c->st.fill.sent = op_fill_need(c);
		c->prefilled = true;
	}
	/* a batch's reply makes room for the next one right away; this command keeps its slot
	 * until client.c retires it, so the new ones take others (window + 1 <= CLIENT_MAX_CMDS) */
	c->op_pending--;
	op_fill_more(c);
	c->op_pending++;
	return true;
}

static void op_fill_finish(struct client *c)
{
	if (!c->st.fill.status_done) {
		if (!c->op_failed)
			client_fail(c, STATS_ERR_CHECK, "STATUS without MESSAGES");
		c->prefilled = true; /* do not retry forever */
		return;
	}
	if (c->st.fill.sent == 0 && op_fill_need(c) > 0 && !c->stopping) {
		op_fill_more(c);
		return;
	}
	if (c->st.fill.acked >= op_fill_need(c) || c->op_failed)
		c->prefilled = true;
}

const struct op_hooks op_fill_hooks = {
	.start = op_fill_start,
	.untagged = op_fill_untagged,
	.tagged = op_fill_tagged,
	.finish = op_fill_finish,
	.self_recorded = true,
};
