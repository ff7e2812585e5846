/* cmd-search.c: SEARCH and UID SEARCH (RFC 9051 6.4.4, 7.3.4; RFC 3501 6.4.4, 7.2.5), with
 * ESEARCH result options (RFC 4731), SAVE and "$" (RFC 5182) and WITHIN (RFC 5032).
 *
 * The program is parsed (imap-search.c), its view-dependent keys (sequence sets, "$",
 * \Recent) turned into UID sets against this session's view, then the store runs it in slices
 * of SEARCH_SLICE_MS: between slices the command yields to the loop (imap_cmd_yield), so a
 * search of 100k messages never stalls the other sessions of the process. The answer is
 * written as the output drains: "* SEARCH n n ..." for IMAP4rev1 (without RETURN), "* ESEARCH"
 * for IMAP4rev2 and for RETURN; neither is ever built whole in memory.
 * Traps: the view does not change while the command runs (updates are only applied when
 * they are flushed, at the tagged reply), so the indexes kept between slices stay valid;
 * the store also returns messages the view does not show yet (appended meanwhile): they are
 * left out, as the client does not know them; the SAVE result is kept as UIDs. */
#include <stdlib.h>
#include <string.h>

#include "imap-result.h"
#include "imap-search.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-view.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/conn.h"
#include "store/store-search.h"

#define SEARCH_SLICE_MS 10

struct search_state {
	struct imap_search_query q;
	bool esearch;           /* answer with ESEARCH */
	unsigned ret;           /* what ESEARCH returns */
	struct store_search *search;
	uint32_t *idx;          /* view indexes of the matches, ascending */
	size_t count, alloc;
	size_t view_pos;        /* merge cursor into the view */
	struct imap_result res; /* the answer being written */
};

struct search_collect_ctx {
	struct search_state *st;
	const struct imap_view *view;
};

static int search_collect_view(void *ctx, uint32_t uid)
{
	struct search_collect_ctx *c = ctx;
	struct search_state *st = c->st;
	const struct imap_view *v = c->view;
	/* both ascending: advance the cursor */
	while (st->view_pos < v->count && v->uids[st->view_pos] < uid)
		st->view_pos++;
	if (st->view_pos >= v->count || v->uids[st->view_pos] != uid)
		return 0; /* not (yet) in this session's view */
	if (st->count == st->alloc) {
		size_t a = st->alloc ? st->alloc * 2 : 256, bytes;
		if (size_mul(a, sizeof(uint32_t), &bytes) < 0)
			xabort("search result overflow");
		st->idx = xrealloc(st->idx, bytes);
		st->alloc = a;
	}
	st->idx[st->count++] = (uint32_t)st->view_pos;
	return 0;
}

static void search_cleanup(struct imap_cmd *cmd)
{
	struct search_state *st = cmd->state;
	if (st == NULL)
		return;
	store_search_end(&st->search);
	free(st->idx);
	st->idx = NULL;
}

/* The number a result is known by: its UID for UID SEARCH, else its sequence number. */
static uint32_t search_number(const struct imap_cmd *cmd, const struct search_state *st,
			      size_t i)
{
	const struct imap_view *v = cmd->session->view;
	return cmd->uid ? v->uids[st->idx[i]] : st->idx[i] + 1;
}

/* RFC 5182 / RFC 9051 6.4.4.1: what "$" holds after SAVE. */
static void search_save(struct imap_cmd *cmd, struct search_state *st)
{
	struct imap_session *s = cmd->session;
	const struct imap_view *v = s->view;
	unsigned other = st->ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX |
				    IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT);
	uint32_t two[2];
	size_t n = 0;
	if (st->count > 0 && (other & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) == 0 &&
	    other != 0) {
		/* SAVE MIN, SAVE MAX, SAVE MIN MAX: only those */
		if (st->ret & IMAP_SEARCH_RET_MIN)
			two[n++] = v->uids[st->idx[0]];
		if ((st->ret & IMAP_SEARCH_RET_MAX) && (n == 0 || st->count > 1))
			two[n++] = v->uids[st->idx[st->count - 1]];
		imap_session_saved_set(s, two, n);
		return;
	}
	uint32_t *uids = xcalloc(st->count ? st->count : 1, sizeof(uint32_t));
	for (size_t i = 0; i < st->count; i++)
		uids[i] = v->uids[st->idx[i]];
	imap_session_saved_set(s, uids, st->count);
	free(uids);
}

/* RFC 7162 3.1.5, 3.1.6, RFC 4731 3.2: the highest MODSEQ of the messages returned (of the
 * MIN/MAX ones alone when only those are returned); 0 (nothing to say) without matches. */
static uint64_t search_modseq(const struct imap_cmd *cmd, const struct search_state *st)
{
	const struct imap_view *v = cmd->session->view;
	uint64_t m = 0;
	if (st->count == 0)
		return 0;
	if (imap_search_modseq_all(st->esearch, st->ret)) {
		for (size_t i = 0; i < st->count; i++)
			if (v->modseqs[st->idx[i]] > m)
				m = v->modseqs[st->idx[i]];
		return m;
	}
	if (st->ret & IMAP_SEARCH_RET_MIN)
		m = v->modseqs[st->idx[0]];
	if ((st->ret & IMAP_SEARCH_RET_MAX) && v->modseqs[st->idx[st->count - 1]] > m)
		m = v->modseqs[st->idx[st->count - 1]];
	return m;
}

static uint32_t search_result_number(void *ctx, size_t i)
{
	const struct imap_cmd *cmd = ctx;
	return search_number(cmd, cmd->state, i);
}

/* The answer: 1 written, 0 paused, -1 the connection is gone (no reply then). */
static int search_write(struct imap_cmd *cmd, struct search_state *st)
{
	if (!st->res.head_written) {
		st->res.name = "SEARCH";
		st->res.esearch = st->esearch;
		st->res.ret = st->ret;
		st->res.count = st->count;
		st->res.number = search_result_number;
		st->res.ctx = cmd;
	}
	return imap_result_write(cmd, &st->res);
}

static int search_resume_write(struct imap_cmd *cmd)
{
	struct search_state *st = cmd->state;
	int r = search_write(cmd, st);
	if (r <= 0)
		return r == 0 ? 0 : 1;
	imap_cmd_reply(cmd, "OK", NULL, "%s completed%s", cmd->uid ? "UID SEARCH" : "SEARCH",
		       (st->ret & IMAP_SEARCH_RET_SAVE) ? ", result saved" : "");
	return 1;
}

static int search_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct search_state *st = cmd->state;
	struct search_collect_ctx c = {.st = st, .view = s->view};
	const char *err;
	int r = store_search_run(st->search, SEARCH_SLICE_MS, search_collect_view, &c, &err);
	if (r == 0) {
		cmd->resume = search_run;
		imap_cmd_yield(cmd);
		return 0;
	}
	store_search_end(&st->search);
	if (r < 0) {
		log_error("session %s: SEARCH: %s", s->session_id, err);
		if (st->ret & IMAP_SEARCH_RET_SAVE)
			imap_session_saved_set(s, NULL, 0);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Search failed");
		return 1;
	}
	if (st->ret & IMAP_SEARCH_RET_SAVE)
		search_save(cmd, st);
	if (st->q.has_modseq)
		st->res.modseq = search_modseq(cmd, st);
	if (st->esearch && (st->ret & ~IMAP_SEARCH_RET_SAVE) == 0) {
		/* RFC 9051 6.4.4: SAVE alone suppresses the ESEARCH response */
		imap_cmd_reply(cmd, "OK", NULL, "%s completed, result saved",
			       cmd->uid ? "UID SEARCH" : "SEARCH");
		return 1;
	}
	int w = search_write(cmd, st);
	if (w == 0) {
		cmd->resume = search_resume_write;
		return 0;
	}
	if (w < 0)
		return 1; /* the connection is gone */
	imap_cmd_reply(cmd, "OK", NULL, "%s completed%s", cmd->uid ? "UID SEARCH" : "SEARCH",
		       (st->ret & IMAP_SEARCH_RET_SAVE) ? ", result saved" : "");
	return 1;
}

int cmd_search(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	struct search_state *st = pool_alloc(cmd->pool, sizeof(*st));
	const char *resp, *code, *err;
	if (imap_search_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, cmd->pool, &st->q,
			      &resp, &code, &err) < 0) {
		/* RFC 9051 6.4.4.1: a NO (not a BAD) to a SEARCH with SAVE empties "$" */
		if (strcmp(resp, "NO") == 0 && (st->q.ret & IMAP_SEARCH_RET_SAVE))
			imap_session_saved_set(s, NULL, 0);
		imap_cmd_reply(cmd, resp, code, "%s", err);
		return 1;
	}
	if (st->q.has_modseq)
		imap_session_enable_condstore(s); /* RFC 7162 3.1: a CONDSTORE enabling command */
	/* IMAP4rev2 answers ESEARCH always (RFC 9051 7.3.4), IMAP4rev1 when RETURN asked */
	st->esearch = s->enabled_rev2 || st->q.has_return;
	st->ret = st->q.has_return ? st->q.ret : IMAP_SEARCH_RET_ALL;
	/* the program may test any message's flags and sequence number: every chunk */
	if (imap_view_load_all(v, &err) < 0) {
		log_error("session %s: SEARCH: %s", s->session_id, err);
		if (st->ret & IMAP_SEARCH_RET_SAVE)
			imap_session_saved_set(s, NULL, 0);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Search failed");
		return 1;
	}
	imap_search_resolve(&st->q, v->uids, v->flags, IMAP_VIEW_RECENT, v->count, s->saved_uids,
			    s->saved_count, cmd->pool);
	if (store_search_begin(s->store, v->mb.id, st->q.root, &st->search, &err) < 0) {
		log_error("session %s: SEARCH: %s", s->session_id, err);
		if (st->ret & IMAP_SEARCH_RET_SAVE)
			imap_session_saved_set(s, NULL, 0);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Search failed");
		return 1;
	}
	cmd->state = st;
	cmd->cleanup = search_cleanup;
	return search_run(cmd);
}
