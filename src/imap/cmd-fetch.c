/* cmd-fetch.c: FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9, 7.5.2; RFC 3501 RFC822.*; RFC 3516;
 * RFC 7162: MODSEQ, the CHANGEDSINCE and VANISHED modifiers).
 * The response streams: a message's response is rendered (all but its literals' bytes) into a
 * text with pieces pointing at body streams, written while the output has room; at the
 * high-water mark the position (message, piece, offset in the text or literal) is kept in
 * cmd->state and the command resumes when the output drains.
 * Traps: between calls the body file of an unfinished message stays open (st->body_fd; the
 * command's cleanup closes it if the session drops the command), so a message expunged by
 * another session meanwhile is still sent whole; the text of an unfinished message is kept in
 * the command's pool. \Seen is set in batches before the
 * messages are rendered; the view takes them as this session's own change (this FETCH
 * reports the new FLAGS itself). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap-arg.h"
#include "imap-fetch.h"
#include "imap-seqset.h"
#include "imap-session-private.h"
#include "imap-view.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "mail/date.h"
#include "net/conn.h"
#include "store/store.h"

#define FETCH_CHUNK (64 * 1024)
#define FETCH_SEEN_BATCH 512
#define FETCH_RANGES_MAX 10000

struct fetch_piece {
	size_t text_off, text_len; /* text written first */
	int stream;                /* then this stream's window, or -1 */
};

struct fetch_state {
	struct imap_fetch_request req;
	uint32_t *idx;          /* view indexes, ascending */
	size_t count;
	size_t next;            /* position in idx of the current / next message */
	uint8_t *newly_seen;    /* per position: this FETCH set \Seen */
	bool add_modseq;        /* CHANGEDSINCE: MODSEQ goes along though not asked for */
	size_t seen_done;       /* positions below this had \Seen handled */
	bool cte_failed;

	/* the message being written */
	bool in_msg;
	int body_fd;            /* its body between calls, or -1 */
	struct imap_fetch_stream *streams;
	struct fetch_piece *pieces;
	size_t piece_count;
	size_t piece, piece_pos;  /* progress: piece, bytes of its text written */
	bool in_stream;           /* its text is written, its stream is under way */
	char *saved_text;         /* the text of an unfinished message between calls */
	size_t saved_len, saved_cap;
};

/* this FETCH reports the new FLAGS itself */
static int fetch_seen_cb(void *ctx, const struct store_msg *msg)
{
	imap_view_own_change(ctx, msg);
	return 0;
}

/* Set \Seen on the next batch of messages that lack it (RFC 9051 6.4.5: BODY[], BINARY[],
 * RFC822, RFC822.TEXT). One transaction per batch keeps a FETCH 1:* BODY[] from paying an
 * fsync per message. */
static int fetch_mark_seen(struct imap_cmd *cmd, struct fetch_state *st)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	size_t end = st->next + FETCH_SEEN_BATCH < st->count ? st->next + FETCH_SEEN_BATCH
							      : st->count;
	uint32_t uids[FETCH_SEEN_BATCH];
	size_t n = 0;
	for (size_t pos = st->next; pos < end; pos++) {
		size_t i = st->idx[pos];
		if ((v->flags[i] & STORE_FLAG_SEEN) == 0) {
			uids[n++] = v->uids[i];
			st->newly_seen[pos] = 1;
		}
	}
	st->seen_done = end;
	if (n == 0)
		return 0;
	struct store_flag_change change = {.mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN};
	const char *err;
	int ret = store_set_flags(s->store, v->mb.id, uids, n, &change, fetch_seen_cb, NULL, v,
				  &err);
	if (ret < 0)
		log_error("session %s: FETCH cannot set \\Seen: %s", s->session_id, err);
	return ret;
}

static void fetch_piece_end(struct fetch_state *st, struct buf *text, size_t *start, int stream)
{
	struct fetch_piece *p = &st->pieces[st->piece_count++];
	p->text_off = *start;
	p->text_len = text->len - *start;
	p->stream = stream;
	*start = text->len;
}

/* Render the response of the message at st->next into text (pieces and streams set).
 * 1 ready (a body file opened into *fd_r if needed), 0 skip the message (expunged meanwhile,
 * or a BINARY of an unknown encoding), -1 store error. */
static int fetch_prepare(struct imap_cmd *cmd, struct fetch_state *st, struct pool *scratch,
			 struct buf *text, int *fd_r)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	const struct imap_fetch_request *req = &st->req;
	size_t i = st->idx[st->next];
	uint32_t uid = v->uids[i];
	struct store_msg_info info;
	const char *err;
	memset(&info, 0, sizeof(info));
	if (req->needs_info) {
		int r = store_message_info(s->store, v->mb.id, uid, scratch, &info, &err);
		if (r <= 0) {
			if (r < 0)
				log_error("session %s: FETCH of UID %u: %s", s->session_id, uid, err);
			/* expunged by another session: RFC 9051 allows leaving it out */
			return r;
		}
	}
	struct imap_fetch_msg msg;
	int fd = -1;
	if (req->needs_body) {
		fd = store_body_open(s->store, info.body_id, &err);
		if (fd < 0) {
			if (store_last_error(s->store) == STORE_ERR_NOT_FOUND)
				return 0;
			log_error("session %s: FETCH of UID %u: %s", s->session_id, uid, err);
			return -1;
		}
	}
	imap_fetch_msg_init(&msg, fd, info.size, scratch);
	msg.parts = info.parts;
	msg.parts_size = info.parts_size;

	st->piece_count = 0;
	size_t start = 0;
	/* the per-message numbers without printf: FETCH 1:* (FLAGS) writes 100k lines */
	buf_append_str(text, "* ");
	buf_append_u64(text, (uint64_t)i + 1);
	buf_append_str(text, " FETCH (");
	bool first = true;
	/* RFC 9051 6.4.9: a UID command's FETCH responses always carry UID */
	if (cmd->uid && !req->has_uid) {
		buf_append_str(text, "UID ");
		buf_append_u64(text, uid);
		first = false;
	}
	int ret = 1;
	for (size_t k = 0; k < req->count && ret == 1; k++) {
		const struct imap_fetch_item *item = &req->items[k];
		if (!first)
			buf_append_byte(text, ' ');
		first = false;
		switch (item->kind) {
		case IMAP_FETCH_FLAGS:
			buf_append_str(text, "FLAGS ");
			imap_view_flags_append(v, text, v->flags[i], v->keywords[i]);
			break;
		case IMAP_FETCH_UID:
			buf_append_str(text, "UID ");
			buf_append_u64(text, uid);
			break;
		case IMAP_FETCH_MODSEQ:
			buf_append_str(text, "MODSEQ (");
			buf_append_u64(text, v->modseqs[i]);
			buf_append_byte(text, ')');
			break;
		case IMAP_FETCH_INTERNALDATE: {
			char date[MAIL_DATE_IMAP_SIZE];
			mail_date_format_imap(info.internal_date, info.internal_tz, date);
			buf_printf(text, "INTERNALDATE \"%s\"", date);
			break;
		}
		case IMAP_FETCH_RFC822_SIZE:
			buf_printf(text, "RFC822.SIZE %llu", (unsigned long long)info.size);
			break;
		case IMAP_FETCH_ENVELOPE:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE: {
			/* IMAP4rev1 has no syntax for message/global: the store keeps a
			 * rendering for it */
			const char *str = item->kind == IMAP_FETCH_ENVELOPE ? info.envelope
					  : item->kind == IMAP_FETCH_BODY
						  ? (s->enabled_rev2 ? info.body : info.body_rev1)
						  : (s->enabled_rev2 ? info.bodystructure
								     : info.bodystructure_rev1);
			if (str == NULL) {
				/* NIL is no valid envelope or body structure */
				log_error("session %s: FETCH of UID %u: no cached %s",
					  s->session_id, uid, item->name);
				ret = -1;
				break;
			}
			buf_printf(text, "%s %s", item->name, str);
			break;
		}
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE: {
			struct imap_fetch_stream *fs = &st->streams[k];
			enum imap_fetch_result r = imap_fetch_stream_init(fs, item, &msg, &err);
			if (r == IMAP_FETCH_UNKNOWN_CTE) {
				/* RFC 3516 4.3: NO [UNKNOWN-CTE]; the other messages still go */
				st->cte_failed = true;
				ret = 0;
				break;
			}
			if (r != IMAP_FETCH_OK) {
				log_error("session %s: FETCH of UID %u: %s", s->session_id, uid, err);
				ret = -1;
				break;
			}
			if (item->kind == IMAP_FETCH_BINARY_SIZE) {
				buf_printf(text, "%s %llu", item->name,
					   (unsigned long long)fs->total);
				break;
			}
			buf_printf(text, "%s ", item->name);
			imap_fetch_stream_head(fs, text);
			if (fs->src != IMAP_FETCH_SRC_NIL && fs->size > 0)
				fetch_piece_end(st, text, &start, (int)k);
			break;
		}
		}
	}
	imap_fetch_msg_deinit(&msg);
	if (ret != 1) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	bool seen_now = st->newly_seen != NULL && st->newly_seen[st->next];
	if (seen_now && !req->has_flags) {
		/* RFC 9051 6.4.5: the flags changed, so they go along */
		buf_append_str(text, " FLAGS ");
		imap_view_flags_append(v, text, v->flags[i], v->keywords[i]);
	}
	/* RFC 7162 3.2.4: a FETCH that set \Seen reports it with UID and MODSEQ to a CONDSTORE
	 * client; 3.1.4.1: CHANGEDSINCE implies MODSEQ */
	if (seen_now && s->condstore && !req->has_uid && !cmd->uid)
		buf_printf(text, " UID %u", uid);
	if (!req->has_modseq && (st->add_modseq || (seen_now && s->condstore)))
		buf_printf(text, " MODSEQ (%llu)", (unsigned long long)v->modseqs[i]);
	buf_append_str(text, ")\r\n");
	fetch_piece_end(st, text, &start, -1);
	*fd_r = fd;
	return 1;
}

/* Write the current message's pieces while the output has room. 1 done, 0 paused, -1 error
 * (the literal cannot be completed), -2 the connection is gone. */
static int fetch_write(struct imap_cmd *cmd, struct fetch_state *st, const struct buf *text,
		       struct buf *chunk, int fd)
{
	struct conn *conn = imap_cmd_conn(cmd);
	while (st->piece < st->piece_count) {
		const struct fetch_piece *p = &st->pieces[st->piece];
		if (!st->in_stream) {
			while (st->piece_pos < p->text_len) {
				size_t n = p->text_len - st->piece_pos;
				if (n > FETCH_CHUNK)
					n = FETCH_CHUNK;
				if (conn_write(conn, text->data + p->text_off + st->piece_pos, n) < 0)
					return -2;
				st->piece_pos += n;
				if (st->piece_pos < p->text_len && !imap_cmd_output_room(cmd))
					return 0;
			}
			st->in_stream = true;
		}
		if (p->stream >= 0) {
			struct imap_fetch_stream *fs = &st->streams[p->stream];
			for (;;) {
				if (!imap_cmd_output_room(cmd))
					return 0;
				const char *err;
				buf_reset(chunk);
				int r = imap_fetch_stream_read(fs, fd, chunk, FETCH_CHUNK, &err);
				if (r < 0) {
					log_error("session %s: FETCH: %s", cmd->session->session_id,
						  err);
					return -1;
				}
				if (chunk->len > 0 && conn_write(conn, chunk->data, chunk->len) < 0)
					return -2;
				if (r == 1)
					break;
			}
		}
		st->piece++;
		st->piece_pos = 0;
		st->in_stream = false;
	}
	return 1;
}

/* Keep the text of an unfinished message in the command's pool (reused between pauses). */
static void fetch_save_text(struct imap_cmd *cmd, struct fetch_state *st, const struct buf *text)
{
	if (text->len > st->saved_cap) {
		st->saved_cap = text->len > 2 * st->saved_cap ? text->len : 2 * st->saved_cap;
		st->saved_text = pool_alloc(cmd->pool, st->saved_cap);
	}
	if (text->len > 0)
		memmove(st->saved_text, text->data, text->len);
	st->saved_len = text->len;
}

static int fetch_run(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct fetch_state *st = cmd->state;
	struct pool *scratch = pool_create(16 * 1024);
	struct buf text, chunk;
	buf_init(&text, (size_t)-2);
	buf_init(&chunk, FETCH_CHUNK + 1024);
	int fd = -1, ret = 1;
	const char *no_code = NULL, *no_text = NULL;

	if (st->in_msg) {
		buf_append(&text, st->saved_text, st->saved_len);
		fd = st->body_fd;
		st->body_fd = -1;
	}
	for (;;) {
		if (!st->in_msg) {
			if (st->next == st->count)
				break;
			if (!imap_cmd_output_room(cmd)) {
				ret = 0;
				break;
			}
			pool_clear(scratch);
			buf_reset(&text);
			if (st->newly_seen != NULL && st->next >= st->seen_done &&
			    fetch_mark_seen(cmd, st) < 0) {
				no_code = "SERVERBUG";
				no_text = "Cannot set \\Seen";
				break;
			}
			int r = fetch_prepare(cmd, st, scratch, &text, &fd);
			if (r == 0) {
				st->next++;
				continue;
			}
			if (r < 0) {
				no_code = "SERVERBUG";
				no_text = "Cannot read a message";
				break;
			}
			st->in_msg = true;
			st->piece = 0;
			st->piece_pos = 0;
			st->in_stream = false;
		}
		int r = fetch_write(cmd, st, &text, &chunk, fd);
		if (r == 0) {
			ret = 0;
			break;
		}
		if (r == -1) {
			imap_session_bye(s, "Cannot read a message being sent");
			goto out;
		}
		if (r == -2)
			goto out;
		st->in_msg = false;
		if (fd >= 0)
			close(fd);
		fd = -1;
		st->next++;
	}
	if (ret == 0) {
		if (st->in_msg) {
			fetch_save_text(cmd, st, &text);
			st->body_fd = fd;
			fd = -1;
		}
		cmd->resume = fetch_run;
	} else if (no_code != NULL) {
		imap_cmd_reply(cmd, "NO", no_code, "%s", no_text);
	} else if (st->cte_failed) {
		imap_cmd_reply(cmd, "NO", "UNKNOWN-CTE", "Cannot decode a part's transfer encoding");
	} else {
		imap_cmd_reply(cmd, "OK", NULL, "%s completed", cmd->uid ? "UID FETCH" : "FETCH");
	}
out:
	if (fd >= 0)
		close(fd);
	buf_free(&text);
	buf_free(&chunk);
	pool_destroy(&scratch);
	return ret;
}

static void fetch_cleanup(struct imap_cmd *cmd)
{
	struct fetch_state *st = cmd->state;
	if (st != NULL && st->body_fd >= 0) {
		close(st->body_fd);
		st->body_fd = -1;
	}
}

/* fetch-modifiers (RFC 4466 2.4) = SP "(" fetch-modifier *(SP fetch-modifier) ")". kura knows
 * CHANGEDSINCE mod-sequence-value (RFC 7162 3.1.4.1) and VANISHED (3.2.6: UID FETCH only,
 * after ENABLE QRESYNC, with CHANGEDSINCE); each at most once. NULL, or the BAD text. */
static const char *fetch_parse_modifiers(struct imap_cmd *cmd, const struct imap_arg *list,
					 uint64_t *changedsince_r, bool *vanished_r)
{
	*changedsince_r = 0;
	*vanished_r = false;
	if (list->count == 0)
		return "Empty FETCH modifier list";
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (imap_arg_atom_equals(a, "CHANGEDSINCE")) {
			uint64_t modseq;
			if (*changedsince_r != 0)
				return "CHANGEDSINCE given twice";
			/* mod-sequence-value: 1 .. 2^63-1 */
			if (i + 1 == list->count ||
			    !imap_arg_get_number64(&list->list[i + 1], &modseq) || modseq == 0)
				return "CHANGEDSINCE needs a mod-sequence value";
			*changedsince_r = modseq;
			i++;
		} else if (imap_arg_atom_equals(a, "VANISHED")) {
			if (*vanished_r)
				return "VANISHED given twice";
			*vanished_r = true;
		} else {
			return "Unknown FETCH modifier";
		}
	}
	if (*vanished_r && !cmd->uid)
		return "VANISHED is a UID FETCH modifier (RFC 7162 3.2.6)";
	if (*vanished_r && !cmd->session->qresync)
		return "VANISHED needs ENABLE QRESYNC first";
	if (*vanished_r && *changedsince_r == 0)
		return "VANISHED needs CHANGEDSINCE";
	return NULL;
}

/* UID FETCH ... (CHANGEDSINCE n VANISHED): "* VANISHED (EARLIER) uid-set" of the UIDs of the set
 * expunged after n, before any FETCH response (RFC 7162 3.2.6). kura keeps every expunge's
 * MODSEQ (the store never drops them), so this is exact. */
static int fetch_send_vanished(struct imap_cmd *cmd, const struct imap_seqset *set,
			       uint64_t since)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	/* "*" is the highest UID in the mailbox (RFC 9051 6.4.9), but an expunged UID may lie
	 * above every UID left, and the client's "1:*" means all it knows. A VANISHED (EARLIER)
	 * may name any UID (3.2.10), so a range with "*" covers both readings: from the lower of
	 * its number and the highest UID, up to the top. */
	uint32_t max_uid = v->count > 0 ? v->uids[v->count - 1] : 0;
	struct imap_seqset wide = {
		.ranges = pool_alloc_array(cmd->pool, set->count ? set->count : 1,
					   sizeof(struct imap_seq_range)),
		.count = set->count,
	};
	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (r.lo == IMAP_SEQ_STAR || r.hi == IMAP_SEQ_STAR) {
			uint32_t n = r.lo == IMAP_SEQ_STAR ? r.hi : r.lo;
			r.lo = n < max_uid ? n : max_uid;
			r.hi = IMAP_SEQ_STAR;
		}
		wide.ranges[i] = r;
	}
	struct imap_seq_range *ranges;
	size_t range_count;
	imap_seqset_normalize(&wide, UINT32_MAX, cmd->pool, &ranges, &range_count);
	struct buf out;
	buf_init(&out, (size_t)-2);
	const char *err;
	int ret = imap_view_vanished_earlier(v, since, ranges, range_count, 0, &out, &err);
	if (ret < 0)
		log_error("session %s: FETCH VANISHED: %s", s->session_id, err);
	else if (out.len > 0)
		conn_write(imap_cmd_conn(cmd), out.data, out.len);
	buf_free(&out);
	return ret < 0 ? -1 : 0;
}

int cmd_fetch(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	struct imap_view *v = s->view;
	const char *err;
	uint64_t changedsince = 0;
	bool vanished = false;
	if (cmd->count == 3 && cmd->args[2].type == IMAP_ARG_LIST) {
		err = fetch_parse_modifiers(cmd, &cmd->args[2], &changedsince, &vanished);
		if (err != NULL) {
			imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
			return 1;
		}
	} else if (cmd->count != 2) {
		imap_cmd_reply(cmd, "BAD", NULL, "FETCH needs a sequence set and data items");
		return 1;
	}
	if (cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_cmd_reply(cmd, "BAD", NULL, "FETCH needs a sequence set and data items");
		return 1;
	}
	struct imap_seqset set;
	if (imap_seqset_parse(cmd->args[0].str, cmd->args[0].len, cmd->pool, FETCH_RANGES_MAX,
			      &set, &err) < 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
		return 1;
	}
	struct fetch_state *st = pool_alloc(cmd->pool, sizeof(*st));
	st->body_fd = -1;
	if (imap_fetch_parse(&cmd->args[1], s->enabled_rev2, cmd->pool, &st->req, &err) < 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "%s", err);
		return 1;
	}
	bool bad;
	imap_session_seqset_resolve(s, &set, cmd->uid, cmd->pool, &st->idx, &st->count, &bad);
	if (bad) {
		imap_cmd_reply(cmd, "BAD", NULL, "Message sequence number out of range");
		return 1;
	}
	/* RFC 7162 3.1: MODSEQ and CHANGEDSINCE are CONDSTORE enabling */
	if (st->req.has_modseq || changedsince != 0)
		imap_session_enable_condstore(s);
	if (changedsince != 0) {
		/* 3.1.4.1: only the messages changed after it, and their MODSEQ */
		size_t w = 0;
		for (size_t k = 0; k < st->count; k++)
			if (v->modseqs[st->idx[k]] > changedsince)
				st->idx[w++] = st->idx[k];
		st->count = w;
		st->add_modseq = true;
	}
	if (vanished && fetch_send_vanished(cmd, &set, changedsince) < 0) {
		imap_cmd_reply(cmd, "NO", "SERVERBUG", "Cannot read the expunged messages");
		return 1;
	}
	st->streams = pool_alloc_array(cmd->pool, st->req.count, sizeof(*st->streams));
	st->pieces = pool_alloc_array(cmd->pool, st->req.count + 1, sizeof(*st->pieces));
	if (st->req.sets_seen && !v->readonly && st->count > 0)
		st->newly_seen = pool_alloc(cmd->pool, st->count);
	cmd->state = st;
	cmd->cleanup = fetch_cleanup;
	return fetch_run(cmd);
}
