/* cmd-store.c: STORE and UID STORE (RFC 9051 6.4.6, 6.4.9): FLAGS, +FLAGS, -FLAGS and their
 * .SILENT forms. The change is made in batches of UIDs (one durable transaction each), told to
 * the view as this session's own (imap_view_own_change), and the new flags are reported here as untagged FETCH responses (unless
 * .SILENT), written as the output drains: 100k responses never sit in memory at once.
 * Traps: a batch's responses are written before the next batch changes anything, so a pause
 * only ever holds one batch; new keywords are announced (FLAGS) before the FETCHes that use
 * them; a failed batch leaves earlier batches done (STORE is not atomic in RFC 9051). */
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

#define STORE_BATCH 1024
#define STORE_RANGES_MAX 10000

struct store_state {
	struct imap_view *view;
	struct store_flag_change change;
	bool silent;
	uint32_t *uids;
	size_t count, pos;       /* UIDs, and how many were given to the store so far */
	struct store_msg *res;   /* the last batch's new states */
	size_t res_count, res_pos;
};

static int store_changed_cb(void *ctx, const struct store_msg *msg)
{
	struct store_state *st = ctx;
	imap_view_own_change(st->view, msg);
	if (!st->silent && st->res_count < STORE_BATCH)
		st->res[st->res_count++] = *msg;
	return 0;
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
		while (st->res_pos < st->res_count) {
			if (!imap_cmd_output_room(cmd)) {
				buf_free(&out);
				cmd->resume = store_run;
				return 0;
			}
			/* a few KiB at a time between checks of the output */
			buf_reset(&out);
			while (st->res_pos < st->res_count && out.len < 16 * 1024) {
				const struct store_msg *m = &st->res[st->res_pos++];
				ssize_t i = imap_view_find(v, m->uid);
				if (i < 0)
					continue;
				buf_printf(&out, "* %zd FETCH (", i + 1);
				if (cmd->uid)
					buf_printf(&out, "UID %u ", m->uid);
				buf_append_str(&out, "FLAGS ");
				imap_view_flags_append(v, &out, m->flags | (v->flags[i] & IMAP_VIEW_RECENT),
						       m->keywords);
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
		st->res_count = st->res_pos = 0;
		int ret = store_set_flags(s->store, v->mb.id, st->uids + st->pos, n, &st->change,
					  store_changed_cb, NULL, st, &err);
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
		st->pos += n;
		/* FLAGS for new keywords (and other sessions' updates) before our FETCHes;
		 * never EXPUNGE here (RFC 9051 7.4.1) */
		buf_reset(&out);
		if (imap_view_flush(v, &out, false) > 0 && conn_write(conn, out.data, out.len) < 0) {
			buf_free(&out);
			return 1;
		}
	}
	buf_free(&out);
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

int cmd_store(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	const char *err;
	if (cmd->count >= 2 && cmd->args[1].type == IMAP_ARG_LIST) {
		/* store-modifiers (UNCHANGEDSINCE) come with CONDSTORE */
		imap_cmd_reply(cmd, "BAD", NULL, "STORE modifiers are not supported");
		return 1;
	}
	if (cmd->count < 3 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_cmd_reply(cmd, "BAD", NULL, "STORE needs a sequence set, an item and flags");
		return 1;
	}
	struct store_state *st = pool_alloc(cmd->pool, sizeof(*st));
	st->view = v;
	if (!store_parse_item(&cmd->args[1], &st->change.mode, &st->silent)) {
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
	const struct imap_arg *flags = &cmd->args[2];
	size_t flag_count = cmd->count - 2;
	if (cmd->args[2].type == IMAP_ARG_LIST) {
		if (cmd->count != 3) {
			imap_cmd_reply(cmd, "BAD", NULL, "Unexpected arguments after the flag list");
			return 1;
		}
		flags = cmd->args[2].list;
		flag_count = cmd->args[2].count;
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
	st->uids = pool_alloc_array(cmd->pool, n ? n : 1, sizeof(uint32_t));
	for (size_t j = 0; j < n; j++)
		st->uids[j] = v->uids[idx[j]];
	st->count = n;
	st->res = pool_alloc_array(cmd->pool, STORE_BATCH, sizeof(*st->res));
	cmd->state = st;
	return store_run(cmd);
}
