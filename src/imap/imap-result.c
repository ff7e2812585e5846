/* imap-result.c: SEARCH/SORT/ESEARCH answers written as the output drains (imap-result.h). */
#include "imap-result.h"

#include "imap-search.h"
#include "lib/buf.h"
#include "net/conn.h"

static void result_head(struct imap_cmd *cmd, struct imap_result *r, struct buf *out)
{
	if (!r->esearch) {
		buf_printf(out, "* %s", r->name);
		return;
	}
	/* a tag is an astring without '"' or '\', so quoting it is safe */
	buf_printf(out, "* ESEARCH (TAG \"%s\")%s", cmd->tag, cmd->uid ? " UID" : "");
	if (r->count > 0 && (r->ret & IMAP_SEARCH_RET_MIN))
		buf_printf(out, " MIN %u", r->number(r->ctx, 0));
	if (r->count > 0 && (r->ret & IMAP_SEARCH_RET_MAX))
		buf_printf(out, " MAX %u", r->number(r->ctx, r->count - 1));
	if (r->ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(out, " COUNT %zu", r->count);
	if (r->count > 0 && (r->ret & IMAP_SEARCH_RET_ALL))
		buf_append_str(out, " ALL ");
	else
		r->pos = r->count; /* no list to write */
}

int imap_result_write(struct imap_cmd *cmd, struct imap_result *r)
{
	struct conn *conn = imap_cmd_conn(cmd);
	struct buf out;
	buf_init(&out, (size_t)-2);
	if (!r->head_written) {
		r->head_written = true;
		result_head(cmd, r, &out);
	}
	while (r->pos < r->count) {
		if (out.len >= IMAP_RESULT_CHUNK) {
			if (conn_write(conn, out.data, out.len) < 0) {
				buf_free(&out);
				return -1;
			}
			buf_reset(&out);
			if (!imap_cmd_output_room(cmd)) {
				buf_free(&out);
				return 0;
			}
		}
		uint32_t a = r->number(r->ctx, r->pos);
		if (!r->esearch) {
			buf_printf(&out, " %u", a);
			r->pos++;
			continue;
		}
		/* sequence-set: numbers that follow each other upwards become a:b */
		size_t j = r->pos;
		uint32_t last = a;
		while (j + 1 < r->count) {
			uint32_t next = r->number(r->ctx, j + 1);
			if (next != last + 1)
				break;
			last = next;
			j++;
		}
		if (j == r->pos)
			buf_printf(&out, "%s%u", r->pos > 0 ? "," : "", a);
		else
			buf_printf(&out, "%s%u:%u", r->pos > 0 ? "," : "", a, last);
		r->pos = j + 1;
	}
	if (r->modseq != 0)
		buf_printf(&out, r->esearch ? " MODSEQ %llu" : " (MODSEQ %llu)",
			   (unsigned long long)r->modseq);
	buf_append_str(&out, "\r\n");
	int ret = conn_write(conn, out.data, out.len) < 0 ? -1 : 1;
	buf_free(&out);
	return ret;
}
