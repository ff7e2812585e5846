/* pop3-maildrop.h: a POP3 session's maildrop (RFC 1939 4-6): INBOX as it was at login, the
 * deletion marks, and the UPDATE state, over the store.
 *
 * The message list (UID, size, \Seen) is read at open in one snapshot and never changes
 * during the session: message numbers stay valid (RFC 1939 7: "message numbers ... do not
 * change during the session"). Messages that others add later appear in the next session;
 * a message expunged by another session meanwhile is still listed, RETR/TOP of it fails with
 * -ERR (pop3_maildrop_open_body returns 0), and a DELE of it is a no-op at UPDATE.
 *
 * No lock is taken (like Dovecot's default): concurrent POP3 and IMAP sessions of a user are
 * safe because every change goes through the store's transactions, and a body file opened for
 * RETR stays readable after an expunge removes it.
 *
 * Memory: 16 bytes per message of INBOX. Return convention of store.h. */
#ifndef KURA_POP3_MAILDROP_H
#define KURA_POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct pop3_msg {
	uint32_t uid;
	uint8_t seen;
	uint8_t deleted; /* marked by DELE */
	uint64_t size;   /* the stored size: what LIST and STAT report (RFC 1939 5) */
};

struct pop3_maildrop {
	struct store *store; /* shared with the user's other sessions, not owned */
	uint64_t mailbox_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	uint32_t count;
	uint32_t deleted_count;
	uint64_t total_size;   /* of all messages */
	uint64_t deleted_size; /* of the marked ones */
};

/* Take the snapshot of INBOX. 0, or -1 with *error_r (the store's message). */
int pop3_maildrop_open(struct store *store, struct pop3_maildrop **md_r, const char **error_r);
void pop3_maildrop_free(struct pop3_maildrop **md);

/* Message n (1-based) if it exists and is not marked deleted, else NULL. */
struct pop3_msg *pop3_maildrop_get(struct pop3_maildrop *md, uint32_t n);
/* DELE (the caller checked pop3_maildrop_get) and RSET. */
void pop3_maildrop_mark(struct pop3_maildrop *md, uint32_t n);
void pop3_maildrop_unmark_all(struct pop3_maildrop *md);

/* Open message n's body for reading: 1 with *fd_r (the caller closes it), 0 the message was
 * expunged by another session since the snapshot, -1 error with *error_r. */
int pop3_maildrop_open_body(struct pop3_maildrop *md, uint32_t n, int *fd_r,
			    const char **error_r);
/* RETR sets \Seen (as Dovecot does), durably, unless the snapshot says it is set already. */
int pop3_maildrop_set_seen(struct pop3_maildrop *md, uint32_t n, const char **error_r);

/* The UPDATE state (RFC 1939 6): expunge the marked messages in one transaction (the call
 * IMAP EXPUNGE uses, so IDLE sessions see it). Returns after the commit is on disk: 0, or -1
 * with *error_r (nothing was removed). *removed_r: how many were really removed (the others
 * were gone already). */
int pop3_maildrop_update(struct pop3_maildrop *md, uint32_t *removed_r, const char **error_r);

#endif
