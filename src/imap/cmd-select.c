/* cmd-select.c: SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3; RFC 3501 6.3.1 for IMAP4rev1) with
 * the select parameters of RFC 7162: CONDSTORE (3.1.8) and QRESYNC (3.2.5).
 * A failed SELECT leaves the session unselected (the old mailbox is closed either way); a
 * SELECT with bad syntax (BAD) is not executed at all, so the old mailbox stays selected.
 * QRESYNC: after the usual responses come "* VANISHED (EARLIER)" for the known UIDs expunged
 * since the client's MODSEQ, then "* n FETCH (UID FLAGS MODSEQ)" for those changed since; the
 * FETCHes are written as the output drains (a resync of a big mailbox may name every message).
 * Traps: seq-match-data is checked against the view as loaded (the sequence numbers the client
 * is about to learn); NOMODSEQ never happens: every kura mailbox keeps MODSEQs. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-arg.h"
#include "imap-mailbox.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-view.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "net/conn.h"

#define SELECT_RANGES_MAX 10000

/* The QRESYNC select parameter (RFC 7162 3.2.5 and section 7). */
struct select_qresync {
	uint32_t uidvalidity;
	uint64_t modseq;
	bool has_known_uids;
	struct imap_seqset known_uids;
	bool has_seq_match;
	struct imap_seqset known_seqs, known_seq_uids;
};

struct select_state {
	struct select_qresync q;
	struct imap_seq_range *known; /* normalized known UIDs */
	size_t known_count;
	size_t next;                  /* view index of the next message to consider */
	bool examine;
};

/* A set that may not hold "*" or "$" (known-uids, known-sequence-set, known-uid-set). */
static bool select_parse_set(const struct imap_arg *arg, struct pool *pool,
			     struct imap_seqset *set_r)
{
	const char *err;
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(arg->str, arg->len, pool, SELECT_RANGES_MAX, set_r, &err) < 0 ||
	    set_r->is_saved)
		return false;
	for (size_t i = 0; i < set_r->count; i++)
		if (set_r->ranges[i].lo == IMAP_SEQ_STAR || set_r->ranges[i].hi == IMAP_SEQ_STAR)
			return false;
	return true;
}

/* How many numbers the set names, and whether they are in ascending order as written. */
static uint64_t select_set_size(const struct imap_seqset *set, bool *ascending_r)
{
	uint64_t total = 0;
	uint32_t last = 0;
	*ascending_r = true;
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		uint32_t lo = r->lo < r->hi ? r->lo : r->hi, hi = r->lo < r->hi ? r->hi : r->lo;
		if (i > 0 && lo <= last)
			*ascending_r = false;
		last = hi;
		total += (uint64_t)(hi - lo) + 1;
	}
	return total;
}

/* QRESYNC (uidvalidity mod-sequence-value [known-uids] [seq-match-data]). NULL, or the BAD
 * text. */
static const char *select_parse_qresync(const struct imap_arg *arg, struct pool *pool,
					struct select_qresync *q)
{
	memset(q, 0, sizeof(*q));
	if (arg->type != IMAP_ARG_LIST || arg->count < 2 || arg->count > 4)
		return "QRESYNC needs (uidvalidity modseq [known-uids] [seq-match-data])";
	const struct imap_arg *a = arg->list;
	if (!imap_arg_get_nz_number(&a[0], &q->uidvalidity))
		return "Invalid QRESYNC UIDVALIDITY";
	if (!imap_arg_get_number64(&a[1], &q->modseq) || q->modseq == 0)
		return "Invalid QRESYNC mod-sequence value";
	for (size_t i = 2; i < arg->count; i++) {
		if (a[i].type == IMAP_ARG_LIST) {
			/* seq-match-data = "(" known-sequence-set SP known-uid-set ")" */
			if (q->has_seq_match || a[i].count != 2 ||
			    !select_parse_set(&a[i].list[0], pool, &q->known_seqs) ||
			    !select_parse_set(&a[i].list[1], pool, &q->known_seq_uids))
				return "Invalid QRESYNC sequence match data";
			bool asc_seqs, asc_uids;
			uint64_t nseqs = select_set_size(&q->known_seqs, &asc_seqs);
			uint64_t nuids = select_set_size(&q->known_seq_uids, &asc_uids);
			if (nseqs != nuids)
				return "QRESYNC sequence match data: the sets differ in size";
			if (!asc_seqs || !asc_uids)
				return "QRESYNC sequence match data must be in ascending order";
			q->has_seq_match = true;
		} else {
			if (q->has_known_uids || q->has_seq_match ||
			    !select_parse_set(&a[i], pool, &q->known_uids))
				return "Invalid QRESYNC known UIDs";
			q->has_known_uids = true;
		}
	}
	return NULL;
}

/* select-params (RFC 4466 2.1) = SP "(" select-param *(SP select-param) ")". NULL, or the BAD
 * text. */
static const char *select_parse_params(struct imap_cmd *cmd, const struct imap_arg *list,
				       bool *condstore_r, bool *qresync_r, struct select_qresync *q)
{
	*condstore_r = *qresync_r = false;
	if (list->count == 0)
		return "Empty SELECT parameter list";
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (imap_arg_atom_equals(a, "CONDSTORE")) {
			if (*condstore_r)
				return "CONDSTORE given twice";
			*condstore_r = true;
		} else if (imap_arg_atom_equals(a, "QRESYNC")) {
			if (*qresync_r)
				return "QRESYNC given twice";
			/* RFC 7162 3.2.5: BAD unless ENABLE QRESYNC came first */
			if (!cmd->session->qresync)
				return "QRESYNC needs ENABLE QRESYNC first";
			if (i + 1 == list->count)
				return "QRESYNC needs its parameters";
			const char *err = select_parse_qresync(&list->list[i + 1], cmd->pool, q);
			if (err != NULL)
				return err;
			*qresync_r = true;
			i++;
		} else {
			return "Unknown SELECT parameter";
		}
	}
	return NULL;
}

/* Walks the numbers of a set in the order written (each range from low to high). */
struct select_set_walk {
	const struct imap_seqset *set;
	size_t range;
	uint64_t off;
};

/* The next number, or 0 at the end. */
static uint32_t select_set_next(struct select_set_walk *w)
{
	if (w->range == w->set->count)
		return 0;
	const struct imap_seq_range *r = &w->set->ranges[w->range];
	uint32_t lo = r->lo < r->hi ? r->lo : r->hi, hi = r->lo < r->hi ? r->hi : r->lo;
	uint32_t v = (uint32_t)(lo + w->off);
	if (v == hi) {
		w->range++;
		w->off = 0;
	} else {
		w->off++;
	}
	return v;
}

/* RFC 7162 3.2.5.2: the highest UID up to which the client knows every expunge: the pairs are
 * compared in order with the mailbox as loaded, up to the first that does not match. At most
 * one step per message of the mailbox, whatever the sets' sizes. */
static uint32_t select_seq_match(const struct select_qresync *q, struct imap_view *v)
{
	const char *err;
	struct select_set_walk seqs = {.set = &q->known_seqs};
	struct select_set_walk uids = {.set = &q->known_seq_uids};
	uint32_t known_upto = 0, seq, uid;
	while ((seq = select_set_next(&seqs)) != 0 && (uid = select_set_next(&uids)) != 0) {
		if (seq > v->count || imap_view_load_range(v, seq - 1, seq, &err) < 0 ||
		    v->uids[seq - 1] != uid)
			break;
		known_upto = uid;
	}
	return known_upto;
}

/* "* VANISHED (EARLIER) uid-set": the known UIDs expunged after the client's MODSEQ (exact:
 * the "too old mod-sequence" case of 3.2.5.2 cannot arise); seq-match-data only narrows it. */
static int select_send_vanished(struct imap_cmd *cmd, struct select_state *st)
{
	struct imap_session *s = cmd->session;
	uint32_t above = st->q.has_seq_match ? select_seq_match(&st->q, s->view) : 0;
	struct buf out;
	buf_init(&out, (size_t)-2);
	const char *err;
	int ret = imap_view_vanished_earlier(s->view, st->q.modseq, st->known, st->known_count,
					     above, &out, &err);
	if (ret < 0)
		log_error("session %s: QRESYNC: %s", s->session_id, err);
	else if (out.len > 0)
		conn_write(imap_cmd_conn(cmd), out.data, out.len);
	buf_free(&out);
	return ret;
}

static void select_reply(struct imap_cmd *cmd, bool examine)
{
	imap_cmd_reply(cmd, "OK", examine ? "READ-ONLY" : "READ-WRITE", "%s completed",
		       examine ? "EXAMINE" : "SELECT");
}

/* The QRESYNC FETCHes: the known messages changed after the client's MODSEQ, with UID, FLAGS
 * and MODSEQ (3.2.5.1), while the output has room. */
static int select_qresync_fetch(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	struct select_state *st = cmd->state;
	struct buf out;
	buf_init(&out, (size_t)-2);
	while (st->next < v->count) {
		if (!imap_cmd_output_room(cmd)) {
			buf_free(&out);
			cmd->resume = select_qresync_fetch;
			return 0;
		}
		buf_reset(&out);
		for (; st->next < v->count && out.len < 16 * 1024; st->next++) {
			size_t i = st->next;
			if (v->modseqs[i] <= st->q.modseq ||
			    !imap_seqset_ranges_contain(st->known, st->known_count, v->uids[i]))
				continue;
			buf_printf(&out, "* %zu FETCH (UID %u FLAGS ", i + 1, v->uids[i]);
			imap_view_flags_append(v, &out, v->flags[i], v->keywords[i]);
			buf_printf(&out, " MODSEQ (%llu))\r\n", (unsigned long long)v->modseqs[i]);
		}
		if (out.len > 0 && conn_write(imap_cmd_conn(cmd), out.data, out.len) < 0)
			break;
	}
	buf_free(&out);
	select_reply(cmd, st->examine);
	return 1;
}

/* RFC 7162 3.2.5: what changed since the client's state, if its UIDVALIDITY still holds. */
static int select_qresync(struct imap_cmd *cmd, struct select_state *st)
{
	struct imap_view *v = cmd->session->view;
	const char *err;
	if (st->q.uidvalidity != v->mb.uidvalidity) {
		/* 3.2.5: ignore the rest, as if nothing changed */
		select_reply(cmd, st->examine);
		return 1;
	}
	/* the FETCHes below look at every message's MODSEQ */
	if (imap_view_load_all(v, &err) < 0) {
		log_error("session %s: QRESYNC: %s", cmd->session->session_id, err);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot read the mailbox");
		return 1;
	}
	if (st->q.has_known_uids) {
		imap_seqset_normalize(&st->q.known_uids, 0, cmd->pool, &st->known,
				      &st->known_count);
	} else if (v->mb.uidnext > 1) {
		/* 3.2.5.1: no known-uids means 1:<UIDNEXT-1>; an empty set for a mailbox that
		 * never held a message */
		st->known = pool_alloc(cmd->pool, sizeof(*st->known));
		st->known->lo = 1;
		st->known->hi = v->mb.uidnext - 1;
		st->known_count = 1;
	}
	/* before any FETCH (3.2.6, which 3.2.5.1 makes apply) */
	if (select_send_vanished(cmd, st) < 0) {
		/* the mailbox is selected; the client resyncs without the expunges */
		log_error("session %s: QRESYNC without VANISHED (EARLIER)",
			  cmd->session->session_id);
	}
	cmd->state = st;
	return select_qresync_fetch(cmd);
}

int cmd_select(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	bool examine = strcasecmp(cmd->name, "EXAMINE") == 0;
	const char *raw, *name, *err;
	size_t raw_len;
	if (cmd->count < 1 || cmd->count > 2 ||
	    !imap_arg_get_astring(&cmd->args[0], &raw, &raw_len) ||
	    (cmd->count == 2 && cmd->args[1].type != IMAP_ARG_LIST)) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s needs one mailbox name", cmd->name);
		return 1;
	}
	/* every parameter is checked before anything changes (RFC 7162 3.2.5) */
	struct select_state *st = pool_alloc(cmd->pool, sizeof(*st));
	st->examine = examine;
	bool condstore = false, qresync = false;
	if (cmd->count == 2) {
		err = select_parse_params(cmd, &cmd->args[1], &condstore, &qresync, &st->q);
		if (err != NULL) {
			imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
			return 1;
		}
	}
	bool was_selected = s->view != NULL;
	imap_session_unselect(s);
	/* RFC 7162 3.2.11, RFC 9051 7.1: responses after it are the new mailbox's */
	if (was_selected)
		imap_session_untagged(s, "OK [CLOSED] Previous mailbox closed");
	/* RFC 7162 3.1: the CONDSTORE parameter is CONDSTORE enabling (QRESYNC was enabled) */
	if (condstore)
		imap_session_enable_condstore(s);
	if (imap_mailbox_from_client(raw, raw_len, imap_session_utf8(s), false, cmd->pool, &name,
				     &err) < 0) {
		imap_cmd_reply(cmd, "NO", "CANNOT", "%s", err);
		return 1;
	}
	struct store_mailbox mb;
	int ret = store_mailbox_get(s->store, name, &mb);
	if (ret <= 0) {
		if (ret < 0)
			imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot open the mailbox");
		else
			imap_cmd_reply(cmd, "NO", "NONEXISTENT", "No such mailbox");
		return 1;
	}
	struct imap_view *view = xcalloc(1, sizeof(*view));
	if (imap_view_open(view, s->store, &mb, examine, !s->enabled_rev2, &err) < 0) {
		free(view);
		log_error("session %s: cannot load %s: %s", s->session_id, name, err);
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot open the mailbox");
		return 1;
	}
	view->notify = imap_session_view_changed;
	view->notify_ctx = s;
	view->condstore = s->condstore;
	view->qresync = s->qresync;
	s->view = view;
	s->state = IMAP_STATE_SELECTED;

	struct buf out;
	buf_init(&out, (size_t)-2);
	buf_printf(&out, "* %zu EXISTS\r\n", view->count);
	if (!s->enabled_rev2) {
		/* IMAP4rev1: RECENT (RFC 9051 dropped it) and the first unseen message */
		buf_printf(&out, "* %zu RECENT\r\n", view->recent_count);
		/* from the chunks' counts: only the chunk holding it is read */
		ssize_t unseen = imap_view_first_unseen(view);
		if (unseen >= 0)
			buf_printf(&out, "* OK [UNSEEN %zd] First unseen message\r\n", unseen + 1);
	}
	/* the view's mailbox row: read with the counts it reports (one snapshot) */
	buf_printf(&out, "* OK [UIDVALIDITY %u] UIDs valid\r\n", view->mb.uidvalidity);
	buf_printf(&out, "* OK [UIDNEXT %u] Predicted next UID\r\n", view->mb.uidnext);
	/* RFC 7162 3.1.2.1: once CONDSTORE is enabled; never NOMODSEQ (3.1.2.2): every kura
	 * mailbox keeps MODSEQs, at least 1 (store.h) */
	if (s->condstore)
		buf_printf(&out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			   (unsigned long long)imap_view_highestmodseq(view));
	buf_append_str(&out, "* FLAGS ");
	imap_view_mailbox_flags_append(view, &out);
	buf_append_str(&out, "\r\n* OK [PERMANENTFLAGS ");
	imap_view_permanent_flags_append(view, &out);
	buf_append_str(&out, "] Flags permitted\r\n");
	if (s->enabled_rev2) {
		buf_append_str(&out, "* LIST () \"/\" ");
		imap_mailbox_to_client(&out, mb.name, true);
		buf_append_str(&out, "\r\n");
	}
	conn_write(s->conn, out.data, out.len);
	buf_free(&out);
	if (qresync)
		return select_qresync(cmd, st);
	select_reply(cmd, examine);
	return 1;
}
