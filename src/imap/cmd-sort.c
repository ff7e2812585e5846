/* cmd-sort.c: SORT and UID SORT (RFC 5256), with ESORT's RETURN options (RFC 5267 3), SAVE
 * (RFC 5182) and DISPLAYFROM/DISPLAYTO (RFC 5957).
 *
 * Three phases, each resumable: the search (store_search_run in slices, as SEARCH), the sort
 * (store_sort_run: the keys stored at delivery are read in slices, then ordered in memory),
 * the answer ("* SORT n ..." or, with RETURN, one "* ESEARCH", written as the output drains).
 * Traps: the view does not change while the command runs (updates wait for the tagged reply),
 * so the sequence numbers computed at the end are the ones the client knows; ESORT's ALL keeps
 * the sort order and uses a range only for numbers that follow each other upwards (RFC 5267
 * 3.2); MIN and MAX are the first and last in sort order, not the smallest numbers. */
#include <stdlib.h>
#include <string.h>

#include "imap-result.h"
#include "imap-search.h"
#include "imap-session-private.h"
#include "imap-view.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/conn.h"
#include "store/store-search.h"

#define SORT_SLICE_MS 10

struct sort_state {
	struct imap_sort_query q;
	unsigned ret;              /* ESORT return options (has_return) */
	struct store_search *search;
	struct store_sort *sort;
	uint32_t *uids;            /* matches, ascending */
	size_t count, alloc;
	size_t view_pos;
	const uint32_t *sorted;    /* owned by sort */
	uint32_t *numbers;         /* what the client sees, in sort order */
	size_t sorted_count;
	struct imap_result res;    /* the answer being written */
};

static int sort_collect(void *ctx, uint32_t uid)
{
	struct imap_cmd *cmd = ctx;
	struct sort_state *st = cmd->state;
	const struct imap_view *v = cmd->session->view;
	while (st->view_pos < v->count && v->uids[st->view_pos] < uid)
		st->view_pos++;
	if (st->view_pos >= v->count || v->uids[st->view_pos] != uid)
		return 0; /* not in this session's view */
	if (st->count == st->alloc) {
		size_t a = st->alloc ? st->alloc * 2 : 256, bytes;
		if (size_mul(a, sizeof(uint32_t), &bytes) < 0)
			xabort("sort result overflow");
		st->uids = xrealloc(st->uids, bytes);
		st->alloc = a;
	}
	st->uids[st->count++] = uid;
	return 0;
}

static void sort_cleanup(struct imap_cmd *cmd)
{
	struct sort_state *st = cmd->state;
	if (st == NULL)
		return;
	store_search_end(&st->search);
	store_sort_end(&st->sort);
	free(st->uids);
	free(st->numbers);
	st->uids = st->numbers = NULL;
}

static const char *sort_name(const struct imap_cmd *cmd)
{
	return cmd->uid ? "UID SORT" : "SORT";
}

static int sort_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* RFC 5182: "$" after SORT RETURN (SAVE ...) */
static void sort_save(struct imap_cmd *cmd, struct sort_state *st)
{
	struct imap_session *s = cmd->session;
	unsigned other = st->ret & ~IMAP_SEARCH_RET_SAVE;
	if (st->sorted_count > 0 && other != 0 &&
	    (other & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) == 0) {
		uint32_t two[2];
		size_t n = 0;
		if (st->ret & IMAP_SEARCH_RET_MIN)
			two[n++] = st->sorted[0];
		if ((st->ret & IMAP_SEARCH_RET_MAX) && (n == 0 || st->sorted_count > 1))
			two[n++] = st->sorted[st->sorted_count - 1];
		if (n == 2 && two[0] > two[1]) {
			uint32_t t = two[0];
			two[0] = two[1];
			two[1] = t;
		}
		imap_session_saved_set(s, two, n);
		return;
	}
	/* the saved result is a set: the sorted UIDs in ascending order */
	uint32_t *set = xcalloc(st->sorted_count ? st->sorted_count : 1, sizeof(uint32_t));
	if (st->sorted_count > 0)
		memcpy(set, st->sorted, st->sorted_count * sizeof(uint32_t));
	qsort(set, st->sorted_count, sizeof(uint32_t), sort_uid_cmp);
	imap_session_saved_set(s, set, st->sorted_count);
	free(set);
}

static uint32_t sort_result_number(void *ctx, size_t i)
{
	const struct sort_state *st = ctx;
	return st->numbers[i];
}

/* 1 done, 0 paused, -1 the connection is gone */
static int sort_write(struct imap_cmd *cmd, struct sort_state *st)
{
	if (!st->res.head_written) {
		st->res.name = "SORT";
		st->res.esearch = st->q.search.has_return;
		st->res.ret = st->ret;
		st->res.count = st->sorted_count;
		st->res.number = sort_result_number;
		st->res.ctx = st;
	}
	return imap_result_write(cmd, &st->res);
}

static int sort_resume_write(struct imap_cmd *cmd)
{
	struct sort_state *st = cmd->state;
	int r = sort_write(cmd, st);
	if (r <= 0)
		return r == 0 ? 0 : 1;
	imap_cmd_reply(cmd, "OK", NULL, "%s completed%s", sort_name(cmd),
		       (st->ret & IMAP_SEARCH_RET_SAVE) ? ", result saved" : "");
	return 1;
}

static int sort_fail(struct imap_cmd *cmd, struct sort_state *st, const char *err)
{
	log_error("session %s: SORT: %s", cmd->session->session_id, err);
	if (st->ret & IMAP_SEARCH_RET_SAVE)
		imap_session_saved_set(cmd->session, NULL, 0);
	imap_cmd_reply(cmd, "NO", "SERVERBUG", "Sort failed");
	return 1;
}

static int sort_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct sort_state *st = cmd->state;
	struct imap_view *v = s->view;
	const char *err;
	if (st->search != NULL) {
		int r = store_search_run(st->search, SORT_SLICE_MS, sort_collect, cmd, &err);
		if (r == 0)
			goto yield;
		store_search_end(&st->search);
		if (r < 0)
			return sort_fail(cmd, st, err);
		if (store_sort_begin(s->store, v->mb.id, st->q.criteria, st->q.count, st->uids,
				     st->count, &st->sort, &err) < 0)
			return sort_fail(cmd, st, err);
	}
	if (st->numbers == NULL) {
		int r = store_sort_run(st->sort, SORT_SLICE_MS, &st->sorted, &st->sorted_count, &err);
		if (r == 0)
			goto yield;
		if (r < 0)
			return sort_fail(cmd, st, err);
		st->numbers = xcalloc(st->sorted_count ? st->sorted_count : 1, sizeof(uint32_t));
		/* RFC 7162 3.1.9/3.1.10, RFC 4731 3.2: MODSEQ of all returned, or of MIN/MAX
		 * (the first and last in sort order) when only those are returned */
		bool all = imap_search_modseq_all(st->q.search.has_return, st->ret);
		for (size_t i = 0; i < st->sorted_count; i++) {
			ssize_t k = imap_view_find(v, st->sorted[i]);
			st->numbers[i] = cmd->uid ? st->sorted[i] : (uint32_t)(k + 1);
			bool counts = all || (i == 0 && (st->ret & IMAP_SEARCH_RET_MIN)) ||
				      (i + 1 == st->sorted_count && (st->ret & IMAP_SEARCH_RET_MAX));
			if (st->q.search.has_modseq && counts && k >= 0 &&
			    v->modseqs[k] > st->res.modseq)
				st->res.modseq = v->modseqs[k];
		}
		if (st->ret & IMAP_SEARCH_RET_SAVE)
			sort_save(cmd, st);
		if (st->q.search.has_return && (st->ret & ~IMAP_SEARCH_RET_SAVE) == 0) {
			/* SAVE alone: no ESEARCH (RFC 5182, RFC 9051 6.4.4) */
			imap_cmd_reply(cmd, "OK", NULL, "%s completed, result saved", sort_name(cmd));
			return 1;
		}
	}
	cmd->resume = sort_resume_write;
	return sort_resume_write(cmd);
yield:
	cmd->resume = sort_run;
	imap_cmd_yield(cmd);
	return 0;
}

int cmd_sort(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	struct sort_state *st = pool_alloc(cmd->pool, sizeof(*st));
	const char *resp, *code, *err;
	if (imap_sort_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, cmd->pool, &st->q,
			    &resp, &code, &err) < 0) {
		/* RFC 5182: a NO to a SAVE command empties "$", a BAD leaves it */
		if (strcmp(resp, "NO") == 0 && (st->q.search.ret & IMAP_SEARCH_RET_SAVE))
			imap_session_saved_set(s, NULL, 0);
		imap_cmd_reply(cmd, resp, code, "%s", err);
		return 1;
	}
	st->ret = st->q.search.ret;
	if (st->q.search.has_modseq)
		imap_session_enable_condstore(s); /* RFC 7162 3.1: a CONDSTORE enabling command */
	/* the program may test any message's flags and sequence number: every chunk */
	if (imap_view_load_all(v, &err) < 0) {
		log_error("session %s: SORT: %s", s->session_id, err);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot read the mailbox");
		return 1;
	}
	imap_search_resolve(&st->q.search, v->uids, v->flags, IMAP_VIEW_RECENT, v->count,
			    s->saved_uids, s->saved_count, cmd->pool);
	cmd->state = st;
	cmd->cleanup = sort_cleanup;
	if (store_search_begin(s->store, v->mb.id, st->q.search.root, &st->search, &err) < 0)
		return sort_fail(cmd, st, err);
	return sort_run(cmd);
}
