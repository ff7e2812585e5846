/* pop3-cmd-mail.c: the TRANSACTION state's listing and marking commands (RFC 1939 5, 7):
 * STAT, LIST, UIDL (RFC 1939 7 optional command), DELE, RSET. A LIST or UIDL of every
 * message is written while the output has room and resumes when it drains (a maildrop of
 * 100k messages is megabytes of listing). */
#include "pop3-session-private.h"

static int cmd_listing_resume(struct pop3_session *s, bool uidl)
{
	struct pop3_maildrop *md = s->md;
	char uid[POP3_UIDL_LEN + 1];
	while (s->list_pos < md->count) {
		if (conn_output_full(s->conn))
			return 0;
		uint32_t i = s->list_pos++;
		const struct pop3_msg *m = &md->msgs[i];
		if (m->deleted)
			continue; /* RFC 1939 5: messages marked as deleted are not listed */
		if (uidl) {
			pop3_uidl(md->uidvalidity, m->uid, uid);
			conn_printf(s->conn, "%u %s\r\n", i + 1, uid);
		} else {
			conn_printf(s->conn, "%u %llu\r\n", i + 1, (unsigned long long)m->size);
		}
	}
	conn_write_str(s->conn, ".\r\n");
	return 1;
}

static int cmd_list_resume(struct pop3_session *s)
{
	return cmd_listing_resume(s, false);
}

static int cmd_uidl_resume(struct pop3_session *s)
{
	return cmd_listing_resume(s, true);
}

static int cmd_listing(struct pop3_session *s, const struct pop3_cmd_line *cmd, bool uidl)
{
	if (cmd->arg_count > 1 || cmd->args_bad) {
		pop3_bad(s, uidl ? "UIDL takes at most one argument"
				 : "LIST takes at most one argument");
		return 1;
	}
	if (cmd->arg_count == 1) {
		uint32_t n;
		const struct pop3_msg *m = pop3_session_msg_arg(s, cmd->args[0], &n);
		if (m == NULL)
			return 1;
		if (uidl) {
			char uid[POP3_UIDL_LEN + 1];
			pop3_uidl(s->md->uidvalidity, m->uid, uid);
			pop3_ok(s, "%u %s", n, uid);
		} else {
			pop3_ok(s, "%u %llu", n, (unsigned long long)m->size);
		}
		return 1;
	}
	if (uidl)
		pop3_ok(s, "Unique-ID listing follows");
	else
		pop3_ok(s, "%u messages (%llu octets)", s->md->count - s->md->deleted_count,
			(unsigned long long)(s->md->total_size - s->md->deleted_size));
	s->list_pos = 0;
	if (cmd_listing_resume(s, uidl) == 1)
		return 1;
	s->resume = uidl ? cmd_uidl_resume : cmd_list_resume;
	return 0;
}

int pop3_cmd_list(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	return cmd_listing(s, cmd, false);
}

int pop3_cmd_uidl(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	return cmd_listing(s, cmd, true);
}

int pop3_cmd_stat(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 0) {
		pop3_bad(s, "STAT takes no arguments");
		return 1;
	}
	pop3_ok(s, "%u %llu", s->md->count - s->md->deleted_count,
		(unsigned long long)(s->md->total_size - s->md->deleted_size));
	return 1;
}

int pop3_cmd_dele(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 1 || cmd->args_bad) {
		pop3_bad(s, "DELE needs a message number");
		return 1;
	}
	uint32_t n;
	if (pop3_session_msg_arg(s, cmd->args[0], &n) == NULL)
		return 1;
	/* only a mark: the message goes in the UPDATE state, at QUIT (RFC 1939 6) */
	pop3_maildrop_mark(s->md, n);
	pop3_ok(s, "Message %u deleted", n);
	return 1;
}

int pop3_cmd_rset(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 0) {
		pop3_bad(s, "RSET takes no arguments");
		return 1;
	}
	pop3_maildrop_unmark_all(s->md);
	pop3_ok(s, "%u messages (%llu octets)", s->md->count,
		(unsigned long long)s->md->total_size);
	return 1;
}
