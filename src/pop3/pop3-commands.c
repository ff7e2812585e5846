/* pop3-commands.c: the command table (plain data: keyword, handler, states) and the commands
 * valid in every state: CAPA (RFC 2449 5), QUIT (RFC 1939 5 and 6: UPDATE), NOOP. */
#include "pop3-session-private.h"

#include <string.h>

#include "lib/log.h"

static const struct pop3_command_def pop3_commands[] = {
	{"CAPA", pop3_cmd_capa, POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION},
	{"QUIT", pop3_cmd_quit, POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION},
	{"USER", pop3_cmd_user, POP3_STATE_AUTHORIZATION},
	{"PASS", pop3_cmd_pass, POP3_STATE_AUTHORIZATION},
	{"AUTH", pop3_cmd_auth, POP3_STATE_AUTHORIZATION},
	{"STLS", pop3_cmd_stls, POP3_STATE_AUTHORIZATION},
	{"STAT", pop3_cmd_stat, POP3_STATE_TRANSACTION},
	{"LIST", pop3_cmd_list, POP3_STATE_TRANSACTION},
	{"UIDL", pop3_cmd_uidl, POP3_STATE_TRANSACTION},
	{"RETR", pop3_cmd_retr, POP3_STATE_TRANSACTION},
	{"TOP", pop3_cmd_top, POP3_STATE_TRANSACTION},
	{"DELE", pop3_cmd_dele, POP3_STATE_TRANSACTION},
	{"RSET", pop3_cmd_rset, POP3_STATE_TRANSACTION},
	{"NOOP", pop3_cmd_noop, POP3_STATE_TRANSACTION},
};

const struct pop3_command_def *pop3_command_find(const char *keyword)
{
	for (size_t i = 0; i < sizeof(pop3_commands) / sizeof(pop3_commands[0]); i++) {
		if (strcmp(pop3_commands[i].name, keyword) == 0)
			return &pop3_commands[i];
	}
	return NULL;
}

int pop3_cmd_capa(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 0) {
		pop3_bad(s, "CAPA takes no arguments");
		return 1;
	}
	pop3_ok(s, "Capability list follows");
	conn_write_str(s->conn, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->state == POP3_STATE_AUTHORIZATION) {
		/* the same rule as IMAP's LOGINDISABLED: no mechanism at all before TLS unless
		 * plaintext authentication is allowed on this connection */
		if (pop3_session_plaintext_ok(s))
			conn_write_str(s->conn, "USER\r\nSASL PLAIN SCRAM-SHA-256\r\n");
		if (!s->tls && s->set->tls_ctx != NULL)
			conn_write_str(s->conn, "STLS\r\n");
	}
	conn_write_str(s->conn, "IMPLEMENTATION kura\r\n.\r\n");
	return 1;
}

int pop3_cmd_noop(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 0) {
		pop3_bad(s, "NOOP takes no arguments");
		return 1;
	}
	pop3_ok(s, "Done");
	return 1;
}

int pop3_cmd_quit(struct pop3_session *s, const struct pop3_cmd_line *cmd)
{
	if (cmd->arg_count != 0) {
		pop3_bad(s, "QUIT takes no arguments");
		return 1;
	}
	if (s->state == POP3_STATE_AUTHORIZATION) {
		pop3_ok(s, "Logging out");
		pop3_session_close(s, "QUIT");
		return 1;
	}
	/* RFC 1939 6: the UPDATE state; +OK only once the expunge is on stable storage */
	s->state = POP3_STATE_UPDATE;
	uint32_t removed = 0;
	const char *err;
	if (pop3_maildrop_update(s->md, &removed, &err) < 0) {
		log_error("session %s: UPDATE failed for %s: %s", s->session_id, s->user, err);
		pop3_err(s, "SYS/TEMP", "Some deleted messages not removed: %s", err);
		pop3_session_close(s, "QUIT (update failed)");
		return 1;
	}
	if (s->md->deleted_count > 0)
		log_info("session %s: %s deleted %u of %u messages", s->session_id, s->user,
			 removed, s->md->deleted_count);
	pop3_ok(s, "Logging out, %u messages deleted", s->md->deleted_count);
	pop3_session_close(s, "QUIT");
	return 1;
}
