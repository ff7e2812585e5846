/* op-copy.c: UID COPY of one to three messages and UID MOVE of one to the archive mailbox.
 * Checks: with UIDPLUS the COPYUID code (tagged for COPY, untagged before the expunges for
 * MOVE, RFC 6851 section 4.3) names exactly the source UIDs asked for and as many
 * destination UIDs; MOVE expunges exactly the messages moved. */
#include "client-private.h"

#include <string.h>

#include "load-opts.h"
#include "rng.h"
#include "uidset.h"

static void op_copy_start(struct client *c)
{
	size_t max = c->op == OP_MOVE ? 1 : 1 + rng_below(&c->rng, 3);
	size_t n = client_pick_uids(c, max, false, c->st.copy.uids);
	c->st.copy.n = n;
	c->op_items = n;
	if (n == 0) {
		client_cmd(c, 0, "NOOP");
		return;
	}
	client_cmd(c, 0, "UID %s %s %s", c->op == OP_MOVE ? "MOVE" : "COPY",
		   client_uidset(c->st.copy.uids, n), client_quote(client_opts(c)->archive));
}

static void op_copy_copyuid(struct client *c, const char *args)
{
	uint32_t dst[CLIENT_OP_UIDS];
	size_t n_dst = 0;
	const char *sp1 = strchr(args, ' ');
	const char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	c->st.copy.copyuid = true;
	if (sp2 == NULL ||
	    uidset_parse(sp1 + 1, (size_t)(sp2 - sp1 - 1), c->st.copy.got, CLIENT_OP_UIDS,
			 &c->st.copy.n_got) < 0 ||
	    uidset_parse(sp2 + 1, strlen(sp2 + 1), dst, CLIENT_OP_UIDS, &n_dst) < 0) {
		client_fail(c, STATS_ERR_CHECK, "malformed COPYUID: %s", args);
		return;
	}
	if (n_dst != c->st.copy.n_got)
		client_fail(c, STATS_ERR_CHECK, "COPYUID maps %zu source UIDs to %zu", c->st.copy.n_got,
			    n_dst);
}

static void op_copy_untagged(struct client *c, const struct imap_resp *r)
{
	if (c->op == OP_MOVE && r->is_status && r->code != NULL && strcmp(r->code, "COPYUID") == 0)
		op_copy_copyuid(c, r->code_args);
}

static bool op_copy_tagged(struct client *c, struct client_cmd *cmd, const struct imap_resp *r)
{
	(void)cmd;
	if (strcmp(r->name, "OK") == 0 && r->code != NULL && strcmp(r->code, "COPYUID") == 0)
		op_copy_copyuid(c, r->code_args);
	return false;
}

static void op_copy_finish(struct client *c)
{
	const struct load_opts *o = client_opts(c);
	if (c->op_failed || c->st.copy.n == 0)
		return;
	if ((c->caps & CAP_UIDPLUS) && !c->st.copy.copyuid) {
		client_fail(c, STATS_ERR_CHECK, "%s without COPYUID", op_name(c->op));
		return;
	}
	if (c->st.copy.copyuid) {
		uint32_t want[CLIENT_OP_UIDS];
		memcpy(want, c->st.copy.uids, c->st.copy.n * sizeof(want[0]));
		if (!uidset_equal(want, c->st.copy.n, c->st.copy.got, c->st.copy.n_got)) {
			client_fail(c, STATS_ERR_CHECK, "COPYUID source set %zu UIDs, asked for %zu",
				    c->st.copy.n_got, c->st.copy.n);
			return;
		}
	}
	if (c->op != OP_MOVE)
		return;
	for (size_t i = 0; i < c->st.copy.n; i++) {
		if (!client_was_expunged(c, c->st.copy.uids[i])) {
			client_fail(c, STATS_ERR_CHECK, "MOVE did not expunge UID %u",
				    c->st.copy.uids[i]);
			return;
		}
	}
	if (!o->shared && c->n_expunged != c->st.copy.n)
		client_fail(c, STATS_ERR_CHECK, "MOVE of %zu message(s) expunged %zu", c->st.copy.n,
			    c->n_expunged);
}

const struct op_hooks op_copy_hooks = {
	.start = op_copy_start,
	.tagged = op_copy_tagged,
	.finish = op_copy_finish,
};

const struct op_hooks op_move_hooks = {
	.start = op_copy_start,
	.untagged = op_copy_untagged,
	.tagged = op_copy_tagged,
	.finish = op_copy_finish,
};
