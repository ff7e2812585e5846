/* cmd-store.c: STORE and UID STORE (RFC 9051 6.4.6, 6.4.9): FLAGS, +FLAGS, -FLAGS and their
 * .SILENT forms, and the UNCHANGEDSINCE modifier (RFC 7162 3.1.3). The change is made in
 * batches of up to STORE_BATCH UIDs (one durable transaction and one MODSEQ each: a STORE of
 * 100k messages is one fsync), told to the view as this session's own
 * (imap_view_own_change), and the new flags are reported here as untagged FETCH responses
 * (unless .SILENT), rendered from the view as the output drains: of a batch only a bit per
 * message is kept, and 100k responses never sit in memory at once.
 * With CONDSTORE enabled every FETCH carries UID and MODSEQ (RFC 7162 3.2.4), and .SILENT
 * still reports the new MODSEQ of each message it changed (of each that passed the test, with
 * UNCHANGEDSINCE: 3.1.3); messages that failed UNCHANGEDSINCE go into [MODIFIED set].
 * Traps: a batch's responses are written before the next batch changes anything, so a pause
 * only ever holds one batch; new keywords are announced (FLAGS) before the FETCHes that use
 * them; before each batch the view reads what others changed (and reports it with their
 * MODSEQs), or a change of theirs to a message of the batch would hide behind ours; a failed
 * batch leaves earlier batches done (STORE is not atomic in RFC 9051). */
#include <string.h>
#include <strings.h>

#include "imap-arg.h"
#include "imap-flags.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-store-error.h"
#include "imap-view.h"
#include "lib/log.h"
#include "net/conn.h"

/* store_set_flags changes the packed state in memory, well under a microsecond a message:
 * one batch holds the mail process's loop for some tens of milliseconds at most */
#define STORE_BATCH 131072
#define STORE_RANGES_MAX 10000

struct store_state {
	struct imap_view *view;
	struct store_flag_change change;
	bool silent;
	bool conditional;        /* UNCHANGEDSINCE given (its value may be 0) */
	uint32_t *uids;
	size_t count, pos;       /* UIDs, and how many were given to the store so far */
	/* the last batch: uids[batch, pos); bit j of report: report uids[batch + j] */
	size_t batch, res_pos;
	uint8_t *report;
	size_t view_hint, out_hint; /* imap_view_find_from: in the callbacks, in the output */
	size_t cb_hint;             /* the batch index after the last callback's */
	uint32_t *failed;        /* UIDs that failed UNCHANGEDSINCE, ascending */
	size_t failed_count, failed_alloc;
	struct pool *pool;
};

static int store_changed_cb(void *ctx, const struct store_msg *msg)
{
	struct store_state *st = ctx;
	struct imap_view *v = st->view;
	ssize_t i = imap_view_find_from(v, msg->uid, &st->view_hint);
	/* the store reports every message of the batch that passed, changed or not */
	bool changed = i >= 0 && msg->modseq > v->modseqs[i];
	if (i >= 0)
		imap_view_own_change_at(v, (size_t)i, msg);
	bool report = !st->silent || (v->condstore && (st->conditional || changed));
	if (!report)
		return 0;
	/* the batch's UIDs are ascending, and so are the callbacks: try the next one first */
	size_t lo = st->batch + st->cb_hint, hi = st->pos;
	if (lo >= hi || st->uids[lo] != msg->uid)
		lo = st->batch;
	while (lo < hi && st->uids[lo] != msg->uid) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->uids[mid] < msg->uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < st->pos && st->uids[lo] == msg->uid) {
		st->report[(lo - st->batch) / 8] |= (uint8_t)(1u << ((lo - st->batch) % 8));
		st->cb_hint = lo - st->batch + 1;
	}
	return 0;
}

static void store_failed_add(struct store_state *st, uint32_t uid)
{
	if (st->failed_count == st->failed_alloc) {
		size_t alloc = st->failed_alloc ? st->failed_alloc * 2 : 64;
		uint32_t *more = pool_alloc_array(st->pool, alloc, sizeof(*more));
		if (st->failed_count > 0)
			memcpy(more, st->failed, st->failed_count * sizeof(*more));
		st->failed = more;
		st->failed_alloc = alloc;
	}
	st->failed[st->failed_count++] = uid;
}

/* RFC 7162 3.1.3: the message changed after UNCHANGEDSINCE; its new state reaches the client
 * through the view (an untagged FETCH at the next flush) if the client did not know it */
static int store_failed_cb(void *ctx, const struct store_msg *msg)
{
	store_failed_add(ctx, msg->uid);
	return 0;
}

/* "tag OK [MODIFIED set]": sequence numbers for STORE, UIDs for UID STORE (3.1.3) */
static const char *store_modified_code(struct imap_cmd *cmd, struct store_state *st)
{
	if (st->failed_count == 0)
		return NULL;
	const uint32_t *nums = st->failed;
	size_t n = st->failed_count;
	if (!cmd->uid) {
		/* no EXPUNGE is sent during STORE, so these numbers are the client's */
		uint32_t *seqs = pool_alloc_array(cmd->pool, n, sizeof(*seqs));
		size_t k = 0;
		for (size_t j = 0; j < n; j++) {
			ssize_t i = imap_view_find(st->view, st->failed[j]);
			if (i >= 0)
				seqs[k++] = (uint32_t)i + 1;
		}
		nums = seqs;
		n = k;
	}
	if (n == 0)
		return NULL;
	return pool_printf(cmd->pool, "MODIFIED %s", imap_seqset_format(cmd->pool, nums, n));
}

static int store_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	struct store_state *st = cmd->state;
	struct conn *conn = imap_cmd_conn(cmd);
	struct buf out;
	buf_init(&out, (size_t)-2);
	for (;;) {
		while (st->batch + st->res_pos < st->pos) {
			if (!imap_cmd_output_room(cmd)) {
				buf_free(&out);
				cmd->resume = store_run;
				return 0;
			}
			/* a few KiB at a time between checks of the output; the state reported is
			 * the view's, which took this STORE's result (imap_view_own_change) and
			 * anything newer another session did since */
			buf_reset(&out);
			while (st->batch + st->res_pos < st->pos && out.len < 16 * 1024) {
				size_t j = st->res_pos++;
				if ((st->report[j / 8] & (1u << (j % 8))) == 0)
					continue;
				uint32_t uid = st->uids[st->batch + j];
				ssize_t i = imap_view_find_from(v, uid, &st->out_hint);
				if (i < 0)
					continue;
				/* one line per message, 100k at a time: no printf */
				buf_append_str(&out, "* ");
				buf_append_u64(&out, (uint64_t)i + 1);
				buf_append_str(&out, " FETCH (");
				const char *sep = "";
				/* RFC 7162 3.2.4: UID and MODSEQ go to a CONDSTORE client */
				if (cmd->uid || v->condstore) {
					buf_append_str(&out, "UID ");
					buf_append_u64(&out, uid);
					sep = " ";
				}
				if (!st->silent) {
					buf_append_str(&out, sep);
					buf_append_str(&out, "FLAGS ");
					imap_view_flags_append(v, &out, v->flags[i], v->keywords[i]);
					sep = " ";
				}
				if (v->condstore) {
					buf_append_str(&out, sep);
					buf_append_str(&out, "MODSEQ (");
					buf_append_u64(&out, v->modseqs[i]);
					buf_append_byte(&out, ')');
				}
				buf_append_str(&out, ")\r\n");
			}
			if (out.len > 0 && conn_write(conn, out.data, out.len) < 0) {
				buf_free(&out);
				return 1;
			}
		}
		if (st->pos == st->count)
			break;
		size_t n = st->count - st->pos < STORE_BATCH ? st->count - st->pos : STORE_BATCH;
		const char *err;
		/* what others changed first, with their MODSEQs (never EXPUNGE here, RFC 9051
		 * 7.4.1) */
		imap_view_sync(v, true);
		buf_reset(&out);
		if (imap_view_flush(v, &out, false) > 0 && conn_write(conn, out.data, out.len) < 0) {
			buf_free(&out);
			return 1;
		}
		/* the callbacks mark uids[batch, pos) to report */
		st->batch = st->pos;
		st->pos += n;
		st->res_pos = st->view_hint = st->out_hint = st->cb_hint = 0;
		memset(st->report, 0, (n + 7) / 8);
		int ret = store_set_flags(s->store, v->mb.id, st->uids + st->batch, n, &st->change,
					  store_changed_cb, store_failed_cb, st, &err);
		if (ret < 0) {
			enum store_error e = store_last_error(s->store);
			if (e == STORE_ERR_INTERNAL)
				log_error("session %s: STORE: %s", s->session_id, err);
			buf_free(&out);
			imap_cmd_reply(cmd, "NO", imap_store_error_code(e), "%s",
				       e == STORE_ERR_LIMIT ? "Too many keywords in this mailbox"
							    : "STORE failed");
			return 1;
		}
		/* FLAGS for new keywords (the store may define one even if no message took it,
		 * which no listener hears of: hence the forced sync) and other sessions' updates
		 * before our FETCHes; never EXPUNGE here (RFC 9051 7.4.1) */
		imap_view_sync(v, true);
		buf_reset(&out);
		if (imap_view_flush(v, &out, false) > 0 && conn_write(conn, out.data, out.len) < 0) {
			buf_free(&out);
			return 1;
		}
	}
	buf_free(&out);
	const char *code = store_modified_code(cmd, st);
	if (code != NULL)
		imap_cmd_reply(cmd, "OK", code, "Conditional %s failed for some messages",
			       cmd->uid ? "UID STORE" : "STORE");
	else
		imap_cmd_reply(cmd, "OK", NULL, "%s completed", cmd->uid ? "UID STORE" : "STORE");
	return 1;
}

/* store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) */
static bool store_parse_item(const struct imap_arg *arg, enum store_flag_mode *mode_r,
			     bool *silent_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	const char *p = arg->str;
	size_t len = arg->len;
	*mode_r = STORE_FLAGS_REPLACE;
	if (len > 0 && (p[0] == '+' || p[0] == '-')) {
		*mode_r = p[0] == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		p++;
		len--;
	}
	if (len == 5 && strncasecmp(p, "FLAGS", 5) == 0) {
		*silent_r = false;
		return true;
	}
	if (len == 12 && strncasecmp(p, "FLAGS.SILENT", 12) == 0) {
		*silent_r = true;
		return true;
	}
	return false;
}

/* store-modifiers (RFC 4466 2.5) = SP "(" store-modifier *(SP store-modifier) ")"; kura knows
 * UNCHANGEDSINCE mod-sequence-valzer (RFC 7162 3.1.3), at most once. NULL, or the BAD text. */
static const char *store_parse_modifiers(const struct imap_arg *list, struct store_state *st)
{
	if (list->count == 0)
		return "Empty STORE modifier list";
	for (size_t i = 0; i < list->count; i++) {
		if (!imap_arg_atom_equals(&list->list[i], "UNCHANGEDSINCE"))
			return "Unknown STORE modifier";
		if (st->conditional)
			return "UNCHANGEDSINCE given twice";
		/* mod-sequence-valzer: 0 .. 2^63-1 */
		if (i + 1 == list->count ||
		    !imap_arg_get_number64(&list->list[i + 1], &st->change.unchanged_since))
			return "UNCHANGEDSINCE needs a mod-sequence value";
		st->conditional = true;
		i++;
	}
	return NULL;
}

int cmd_store(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	const char *err;
	struct store_state *st = pool_alloc(cmd->pool, sizeof(*st));
	st->view = v;
	st->pool = cmd->pool;
	/* STORE set [(modifiers)] item flags */
	size_t item = 1;
	if (cmd->count >= 2 && cmd->args[1].type == IMAP_ARG_LIST) {
		err = store_parse_modifiers(&cmd->args[1], st);
		if (err != NULL) {
			imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
			return 1;
		}
		item = 2;
	}
	if (cmd->count < item + 2 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_cmd_reply(cmd, "BAD", NULL, "STORE needs a sequence set, an item and flags");
		return 1;
	}
	if (!store_parse_item(&cmd->args[item], &st->change.mode, &st->silent)) {
		imap_cmd_reply(cmd, "BAD", NULL, "STORE item must be [+|-]FLAGS[.SILENT]");
		return 1;
	}
	struct imap_seqset set;
	if (imap_seqset_parse(cmd->args[0].str, cmd->args[0].len, cmd->pool, STORE_RANGES_MAX,
			      &set, &err) < 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
		return 1;
	}
	/* (flag-list / (flag *(SP flag))) */
	const struct imap_arg *flags = &cmd->args[item + 1];
	size_t flag_count = cmd->count - item - 1;
	if (cmd->args[item + 1].type == IMAP_ARG_LIST) {
		if (cmd->count != item + 2) {
			imap_cmd_reply(cmd, "BAD", NULL, "Unexpected arguments after the flag list");
			return 1;
		}
		flags = cmd->args[item + 1].list;
		flag_count = cmd->args[item + 1].count;
	}
	const char **keywords;
	if (imap_flags_parse(flags, flag_count, cmd->pool, &st->change.flags, &keywords,
			     &st->change.keyword_count, &err) < 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
		return 1;
	}
	st->change.keywords = keywords;
	if (v->readonly) {
		imap_cmd_reply(cmd, "NO", "READ-ONLY", "The mailbox is read-only");
		return 1;
	}
	uint32_t *idx;
	size_t n;
	bool bad;
	imap_session_seqset_resolve(s, &set, cmd->uid, cmd->pool, &idx, &n, &bad);
	if (bad) {
		imap_cmd_reply(cmd, "BAD", NULL, "Message sequence number out of range");
		return 1;
	}
	/* RFC 7162 3.1: UNCHANGEDSINCE is CONDSTORE enabling */
	if (st->conditional)
		imap_session_enable_condstore(s);
	st->uids = pool_alloc_array(cmd->pool, n ? n : 1, sizeof(uint32_t));
	for (size_t j = 0; j < n; j++)
		st->uids[j] = v->uids[idx[j]];
	st->count = n;
	if (st->conditional && st->change.unchanged_since == 0) {
		/* RFC 7162 3.1.3: UNCHANGEDSINCE 0 fails for every message (every message has a
		 * MODSEQ of at least 1; to the store 0 means "no test") */
		for (size_t j = 0; j < n; j++)
			store_failed_add(st, st->uids[j]);
		st->count = 0;
	}
	st->report = pool_alloc(cmd->pool, (n < STORE_BATCH ? n : STORE_BATCH) / 8 + 1);
	cmd->state = st;
	return store_run(cmd);
}
