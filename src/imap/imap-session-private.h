/* imap-session-private.h: the session structure, shared by imap-session.c and the cmd-*.c
 * handlers only. Nothing outside src/imap includes it. */
#ifndef KURA_IMAP_SESSION_PRIVATE_H
#define KURA_IMAP_SESSION_PRIVATE_H

#include "imap/imap-command.h"
#include "imap/imap-session.h"
#include "imap/imap-seqset.h"
#include "lib/buf.h"
#include "lib/spool.h"

enum imap_auth_phase {
	IMAP_AUTH_NONE,
	IMAP_AUTH_WAIT_SERVER, /* request sent to the auth process */
	IMAP_AUTH_WAIT_CLIENT, /* "+ challenge" sent, waiting for the client's line */
};

struct imap_session {
	struct loop *loop;
	struct conn *conn;
	const struct imap_settings *set;
	const struct imap_session_hooks *hooks;
	void *owner;
	enum imap_state state;
	char *session_id;
	char *remote_ip;
	char *user;
	bool tls;
	bool enabled_rev2;
	bool utf8_accept;         /* ENABLE UTF8=ACCEPT */
	bool condstore;           /* RFC 7162 3.1: a CONDSTORE enabling command ran */
	bool qresync;             /* ENABLE QRESYNC (RFC 7162 3.2.3) */
	struct store *store;
	struct imap_view *view;   /* selected state */
	bool closing;     /* BYE/LOGOUT sent, waiting for the flush */
	/* the last command's commits are being synced: its reply is held, nothing more runs */
	struct session_sync *sync_wait;
	bool in_input;    /* re-entrancy guard for the input loop */
	bool handed_off;  /* logged_in hook ran: the owner is taking the session apart */

	struct imap_parser *parser;
	struct pool *cmd_pool;
	struct imap_cmd cmd;        /* the command being executed */
	bool cmd_pending;           /* cmd returned 0 */
	bool idling;                /* IDLE: waiting for DONE, pushing updates */
	bool idle_push_queued;      /* a deferred push is on the loop */
	enum imap_auth_phase auth_phase;
	bool auth_is_login;         /* the exchange was started by LOGIN, not AUTHENTICATE */
	struct loop_timer *yield_timer; /* a sliced command resumes at the next loop turn */
	/* the literals of the command being parsed or run (settings spool_dir, append_mem_max):
	 * bytes kept in memory so far, and the spool file the bigger ones went to (NULL until
	 * one did); released when the command is over */
	size_t literal_mem;
	struct spool *literal_spool;

	/* SEARCHRES (RFC 5182, RFC 9051 6.4.4.1): the last SEARCH RETURN (SAVE) result as
	 * UIDs, ascending (so an expunged message simply drops out); reset with the selection */
	uint32_t *saved_uids;
	size_t saved_count;
};

/* Mailbox names go to and from this client in UTF-8 (else modified UTF-7). */
static inline bool imap_session_utf8(const struct imap_session *s)
{
	return s->enabled_rev2 || s->utf8_accept;
}
/* The selected mailbox may have changed (the view's notify callback): during IDLE the
 * updates are written at the end of the loop batch. */
void imap_session_view_changed(void *ctx);
/* Write the selected mailbox's queued updates now (EXPUNGE allowed). */
void imap_session_push_updates(struct imap_session *s);

/* A CONDSTORE enabling command (RFC 7162 3.1) is running: from now on every untagged FETCH
 * carries MODSEQ. The first one with a mailbox selected writes "* OK [HIGHESTMODSEQ n]". */
void imap_session_enable_condstore(struct imap_session *s);
/* ENABLE QRESYNC (implies CONDSTORE): VANISHED instead of EXPUNGE from now on. */
void imap_session_enable_qresync(struct imap_session *s);

/* Leave the selected state (CLOSE, UNSELECT, a new SELECT, logout). */
void imap_session_unselect(struct imap_session *s);

/* SEARCHRES: replace the saved result (uids ascending; count 0 empties it). */
void imap_session_saved_set(struct imap_session *s, const uint32_t *uids, size_t count);
/* A sequence set of a command, resolved against the view: "$" to the saved result (RFC 5182:
 * the saved messages, whether the command takes UIDs or sequence numbers), anything else
 * through imap_seqset_resolve. Same results as imap_seqset_resolve. */
int imap_session_seqset_resolve(struct imap_session *s, const struct imap_seqset *set,
				bool by_uid, struct pool *pool, uint32_t **idx_r, size_t *count_r,
				bool *bad_r);

/* The bytes of a message literal of the running command: an IMAP_ARG_LITERAL's, or an
 * IMAP_ARG_LITERAL_SINK's from the command's spool file (mapped at the first call: page-cache
 * pages, not the process's anonymous memory). Valid until the command is over. 0, or -1 with
 * *error_r (static). */
int imap_cmd_literal(struct imap_cmd *cmd, const struct imap_arg *arg,
		     const unsigned char **data_r, size_t *size_r, const char **error_r);

/* The capability list for the current state, without "* CAPABILITY " (static buffer). */
const char *imap_session_capabilities(struct imap_session *s);
/* Does this connection allow plaintext mechanisms / LOGIN now? */
bool imap_session_plaintext_ok(const struct imap_session *s);

#endif
