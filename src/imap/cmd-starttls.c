/* cmd-starttls.c: STARTTLS (RFC 9051 6.2.1). Everything the client pipelined after the
 * command is discarded before the handshake (CVE-2021-33515 class: plaintext injected by a
 * man in the middle must never be executed as if it came over TLS). */
#include "imap-session-private.h"

#include "lib/log.h"

int cmd_starttls(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->session;
	if (cmd->count != 0) {
		imap_cmd_reply(cmd, "BAD", NULL, "STARTTLS takes no arguments");
		return 1;
	}
	if (s->tls) {
		imap_cmd_reply(cmd, "BAD", NULL, "TLS is already active");
		return 1;
	}
	if (s->set->tls_ctx == NULL) {
		imap_cmd_reply(cmd, "NO", NULL, "TLS is not available");
		return 1;
	}
	imap_cmd_reply(cmd, "OK", NULL, "Begin TLS negotiation now");
	struct buf *in = conn_input(s->conn);
	if (in->len > 0)
		log_info("session %s: discarding %zu bytes pipelined after STARTTLS", s->session_id,
			 in->len);
	buf_reset(in);
	imap_parser_reset(s->parser);
	s->tls = true;
	conn_start_tls(s->conn, s->set->tls_ctx);
	return 1;
}
