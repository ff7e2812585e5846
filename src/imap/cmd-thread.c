/* cmd-thread.c: THREAD and UID THREAD (RFC 5256 BASE.6.4.THREAD), algorithms ORDEREDSUBJECT
 * and REFERENCES (imap-thread.c).
 *
 * Phases like SORT's, each in slices: the search, the threading keys read
 * (store_thread_run), the threads built and rendered (imap_thread_step), then the
 * "* THREAD" response written as the output drains.
 * Traps: the view does not change while the command runs, so the numbers written are the
 * ones the client knows; THREAD has no RETURN options (no ESEARCH form, no SAVE). */
#include <stdlib.h>
#include <string.h>

#include "imap-search.h"
#include "imap-session-private.h"
#include "imap-thread.h"
#include "imap-view.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/conn.h"
#include "store/store-search.h"

#define THREAD_SLICE_MS 10
#define THREAD_WRITE_CHUNK (16 * 1024)

struct thread_state {
	struct imap_thread_query q;
	struct store_search *search;
	struct store_sort *reader;
	uint32_t *uids;            /* matches, ascending */
	size_t count, alloc;
	size_t view_pos;
	struct imap_thread *th;    /* the threading under way */
	struct pool *th_pool;
	uint32_t *numbers;
	struct buf text;           /* the rendered response */
	bool rendered;
	size_t pos;                /* bytes of text written */
};

static int thread_collect(void *ctx, uint32_t uid)
{
	struct imap_cmd *cmd = ctx;
	struct thread_state *st = cmd->state;
	const struct imap_view *v = cmd->session->view;
	while (st->view_pos < v->count && v->uids[st->view_pos] < uid)
		st->view_pos++;
	if (st->view_pos >= v->count || v->uids[st->view_pos] != uid)
		return 0;
	if (st->count == st->alloc) {
		size_t a = st->alloc ? st->alloc * 2 : 256, bytes;
		if (size_mul(a, sizeof(uint32_t), &bytes) < 0)
			xabort("thread result overflow");
		st->uids = xrealloc(st->uids, bytes);
		st->alloc = a;
	}
	st->uids[st->count++] = uid;
	return 0;
}

static void thread_cleanup(struct imap_cmd *cmd)
{
	struct thread_state *st = cmd->state;
	if (st == NULL)
		return;
	store_search_end(&st->search);
	imap_thread_end(&st->th);
	store_sort_end(&st->reader);
	pool_destroy(&st->th_pool);
	free(st->uids);
	free(st->numbers);
	st->uids = st->numbers = NULL;
	buf_free(&st->text);
}

static int thread_fail(struct imap_cmd *cmd, const char *err)
{
	log_error("session %s: THREAD: %s", cmd->session->session_id, err);
	imap_cmd_reply(cmd, "NO", "SERVERBUG", "Thread failed");
	return 1;
}

static int thread_resume_write(struct imap_cmd *cmd)
{
	struct thread_state *st = cmd->state;
	struct conn *conn = imap_cmd_conn(cmd);
	while (st->pos < st->text.len) {
		if (!imap_cmd_output_room(cmd))
			return 0;
		size_t n = st->text.len - st->pos;
		if (n > THREAD_WRITE_CHUNK)
			n = THREAD_WRITE_CHUNK;
		if (conn_write(conn, st->text.data + st->pos, n) < 0)
			return 1; /* the connection is gone */
		st->pos += n;
	}
	imap_cmd_reply(cmd, "OK", NULL, "%s completed", cmd->uid ? "UID THREAD" : "THREAD");
	return 1;
}

static int thread_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct thread_state *st = cmd->state;
	struct imap_view *v = s->view;
	const char *err;
	if (st->search != NULL) {
		int r = store_search_run(st->search, THREAD_SLICE_MS, thread_collect, cmd, &err);
		if (r == 0)
			goto yield;
		store_search_end(&st->search);
		if (r < 0)
			return thread_fail(cmd, err);
		if (store_thread_begin(s->store, v->mb.id, st->uids, st->count, &st->reader,
				       &err) < 0)
			return thread_fail(cmd, err);
	}
	if (st->th == NULL && !st->rendered) {
		const struct store_thread_msg *msgs;
		size_t n;
		int r = store_thread_run(st->reader, THREAD_SLICE_MS, &msgs, &n, &err);
		if (r == 0)
			goto yield;
		if (r < 0)
			return thread_fail(cmd, err);
		st->numbers = xcalloc(n ? n : 1, sizeof(uint32_t));
		for (size_t i = 0; i < n; i++)
			st->numbers[i] = cmd->uid ? msgs[i].uid
						  : (uint32_t)(imap_view_find(v, msgs[i].uid) + 1);
		st->th_pool = pool_create(64 * 1024);
		st->th = imap_thread_begin(st->q.alg, msgs, st->numbers, n, st->th_pool);
		buf_append_str(&st->text, "* THREAD");
		goto yield;
	}
	if (!st->rendered) {
		if (imap_thread_step(st->th, THREAD_SLICE_MS, &st->text) == 0)
			goto yield;
		buf_append_str(&st->text, "\r\n");
		imap_thread_end(&st->th);
		store_sort_end(&st->reader);
		pool_destroy(&st->th_pool);
		st->rendered = true;
	}
	cmd->resume = thread_resume_write;
	return thread_resume_write(cmd);
yield:
	cmd->resume = thread_run;
	imap_cmd_yield(cmd);
	return 0;
}

int cmd_thread(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	struct thread_state *st = pool_alloc(cmd->pool, sizeof(*st));
	const char *resp, *code, *err;
	buf_init(&st->text, (size_t)-2);
	if (imap_thread_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, cmd->pool, &st->q,
			      &resp, &code, &err) < 0) {
		imap_cmd_reply(cmd, resp, code, "%s", err);
		return 1;
	}
	/* RFC 7162 3.1.9: THREAD answers are unchanged by MODSEQ, which still enables CONDSTORE */
	if (st->q.search.has_modseq)
		imap_session_enable_condstore(s);
	/* the program may test any message's flags and sequence number: every chunk */
	if (imap_view_load_all(v, &err) < 0) {
		buf_free(&st->text);
		log_error("session %s: THREAD: %s", s->session_id, err);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot read the mailbox");
		return 1;
	}
	imap_search_resolve(&st->q.search, v->uids, v->flags, IMAP_VIEW_RECENT, v->count,
			    s->saved_uids, s->saved_count, cmd->pool);
	cmd->state = st;
	cmd->cleanup = thread_cleanup;
	if (store_search_begin(s->store, v->mb.id, st->q.search.root, &st->search, &err) < 0)
		return thread_fail(cmd, err);
	return thread_run(cmd);
}
