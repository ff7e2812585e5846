/* op-search.c: UID SEARCH as clients use it: unread and flagged views, a size filter, and
 * subject/full-text searches from a search box. Checks: every UID returned exists; for the
 * flag and size searches in an exclusive mailbox the result is exactly the set the model
 * predicts (same count, each UID matching), so a search index that lags behind STORE or
 * APPEND is caught. Text searches can only be checked for returning existing UIDs. */
#include "client-private.h"

#include <string.h>

#include "load-opts.h"
#include "rng.h"

enum { SEARCH_UNSEEN, SEARCH_FLAGGED, SEARCH_LARGER, SEARCH_SUBJECT, SEARCH_TEXT };

#define SEARCH_LARGER_SIZE 10000

static const char *const search_words[] = {"report", "meeting", "invoice", "kura", "update"};

static bool op_search_matches(const struct client *c, const struct model_msg *m)
{
	switch (c->st.search.variant) {
	case SEARCH_UNSEEN: return !(m->flags & MODEL_SEEN);
	case SEARCH_FLAGGED: return (m->flags & MODEL_FLAGGED) != 0;
	case SEARCH_LARGER: return m->size > SEARCH_LARGER_SIZE;
	default: return true;
	}
}

static void op_search_start(struct client *c)
{
	unsigned r = rng_below(&c->rng, 100);
	unsigned v = r < 30 ? SEARCH_UNSEEN : r < 55 ? SEARCH_FLAGGED : r < 70 ? SEARCH_LARGER
		   : r < 85 ? SEARCH_SUBJECT : SEARCH_TEXT;
	c->st.search.variant = v;
	/* exact only when every announced message is known (with its size) and nobody else
	 * changes the mailbox */
	bool exact = !client_opts(c)->shared && c->box.count == c->exists && v <= SEARCH_LARGER;
	for (size_t i = 0; exact && v == SEARCH_LARGER && i < c->box.count; i++)
		exact = c->box.msgs[i].size != 0;
	c->st.search.exact = exact;
	if (exact) {
		for (size_t i = 0; i < c->box.count; i++)
			c->st.search.expected += op_search_matches(c, &c->box.msgs[i]);
	}
	const char *word = search_words[rng_below(&c->rng, 5)];
	switch (v) {
	case SEARCH_UNSEEN: client_cmd(c, 0, "UID SEARCH UNSEEN"); break;
	case SEARCH_FLAGGED: client_cmd(c, 0, "UID SEARCH FLAGGED"); break;
	case SEARCH_LARGER: client_cmd(c, 0, "UID SEARCH LARGER %d", SEARCH_LARGER_SIZE); break;
	case SEARCH_SUBJECT: client_cmd(c, 0, "UID SEARCH SUBJECT %s", client_quote(word)); break;
	default: client_cmd(c, 0, "UID SEARCH TEXT %s", client_quote(word)); break;
	}
}

static void op_search_untagged(struct client *c, const struct imap_resp *r)
{
	if (strcmp(r->name, "SEARCH") != 0)
		return;
	for (const struct imap_val *v = r->args; v != NULL; v = v->next) {
		uint32_t uid;
		size_t idx;
		if (!imap_val_u32(v, &uid)) {
			client_fail(c, STATS_ERR_CHECK, "SEARCH result is not a number");
			return;
		}
		c->st.search.results++;
		if (!model_find(&c->box, uid, &idx)) {
			if (uid > model_max_uid(&c->box) || client_opts(c)->shared)
				continue; /* not fetched yet */
			client_fail(c, STATS_ERR_CHECK, "SEARCH returned UID %u, which does not exist",
				    uid);
			return;
		}
		if (c->st.search.exact && !op_search_matches(c, &c->box.msgs[idx])) {
			client_fail(c, STATS_ERR_CHECK, "SEARCH returned UID %u, which does not match",
				    uid);
			return;
		}
	}
}

static void op_search_finish(struct client *c)
{
	c->op_items = c->st.search.results;
	if (c->st.search.exact && !c->op_failed && c->st.search.results != c->st.search.expected)
		client_fail(c, STATS_ERR_CHECK, "SEARCH found %u messages, expected %u",
			    c->st.search.results, c->st.search.expected);
}

const struct op_hooks op_search_hooks = {
	.start = op_search_start,
	.untagged = op_search_untagged,
	.finish = op_search_finish,
};
