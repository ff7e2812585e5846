/* lmtp-session.h: one LMTP connection's protocol state (RFC 2033; the ESMTP commands of
 * RFC 5321 with LHLO, and PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SMTPUTF8 and SIZE).
 *
 * The session parses commands from the connection's buffer, answers them, spools DATA to a
 * temporary file (lib/spool.h) through the decoder (lmtp-data.h), and asks its owner for what
 * lies outside the protocol through hooks: whether a recipient is a user (the owner asks the
 * auth process and answers later with lmtp_session_lookup_done) and the delivery to one
 * recipient (lmtp-delivery.h, in the owner because it owns the store handles).
 *
 * Ordering: commands are handled strictly in order; while a lookup is pending the session
 * reads nothing more (pipelined commands wait in the buffer), so replies come out in command
 * order as RFC 2920 requires. After the final "." each accepted recipient gets its reply in
 * RCPT order, flushed as soon as it and those before it are known (RFC 2033 5: "SHOULD send
 * each reply as soon as possible"); the owner delivers (the lmtp process in group commits
 * across its sessions) and answers a 250 only once the message is on stable storage for that
 * recipient.
 *
 * Limits: command lines LMTP_LINE_MAX (longer: 500 and the line is skipped unstored), the
 * message max_size (SIZE= above it: 552 at MAIL; data above it: read to the end, stored
 * nowhere, 552 per recipient), max_recipients per transaction (452 4.5.3 beyond), 20
 * erroneous commands (then 421), an idle timeout. Memory per connection is the connection's
 * buffers plus two small pools; DATA passes through a per-process scratch buffer. */
#ifndef KURA_LMTP_SESSION_H
#define KURA_LMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lmtp/lmtp-delivery.h"
#include "lmtp/lmtp-parser.h"
#include "lib/spool.h"
#include "net/conn.h"
#include "net/loop.h"

struct lmtp_settings {
	const char *hostname;
	uint64_t max_size;       /* append_limit; advertised as SIZE */
	unsigned max_recipients; /* per transaction; RFC 5321 4.5.3.1.8 asks for >= 100 */
	uint64_t timeout_ms;     /* idle timeout (RFC 5321 4.5.3.2.7: >= 5 minutes) */
	const char *spool_dir;
	const char *delimiters;  /* recipient_delimiter */
	bool detail_mailbox;     /* deliver user+detail into the mailbox "detail" if it exists */
};

/* An accepted recipient. */
struct lmtp_rcpt {
	const char *addr;   /* the address as sent (without <>) */
	const char *user;   /* the canonical user name the lookup found */
	const char *detail; /* the mailbox to prefer, or NULL */
};

/* The transaction being delivered (valid during the deliver hook). */
struct lmtp_txn {
	const char *helo;      /* sanitised LHLO argument */
	const char *mail_from; /* "" for the null sender */
	bool smtputf8;
	struct spool *spool;
	const struct lmtp_rcpt *rcpts;
	size_t rcpt_count;
};

struct lmtp_session;

struct lmtp_session_hooks {
	/* Which user, if any, is one of these names (in order)? Answer with
	 * lmtp_session_lookup_done(), now or later. */
	void (*lookup)(struct lmtp_session *s, const char *const *names, unsigned count);
	/* Deliver txn's message to txn->rcpts[i] (called once for each distinct destination of
	 * the transaction, all in one go); answer with lmtp_session_delivered(), now or later.
	 * txn stays valid until every recipient is answered or the session is closed. */
	void (*deliver)(struct lmtp_session *s, const struct lmtp_txn *txn, size_t i);
	/* The connection is over: the owner destroys the session. */
	void (*closed)(struct lmtp_session *s, const char *reason);
};

struct lmtp_session_params {
	struct loop *loop;
	struct conn *conn; /* taken over with its callbacks */
	const struct lmtp_settings *set;
	const struct lmtp_session_hooks *hooks;
	void *owner;
	const char *session_id;
	const char *remote_ip; /* NULL for the UNIX socket */
};

struct lmtp_session *lmtp_session_create(const struct lmtp_session_params *params);
/* Close the connection and free the session at the end of the loop batch. */
void lmtp_session_destroy(struct lmtp_session **s);
/* Send the greeting "220 HOSTNAME LMTP ..." and start reading. */
void lmtp_session_greet(struct lmtp_session *s);

/* The answer to the lookup hook: found 1 (user is the canonical name of names[index]),
 * 0 no such user, -1 temporary failure (auth unavailable). */
void lmtp_session_lookup_done(struct lmtp_session *s, int found, const char *user,
			      unsigned index);

/* The answer to the deliver hook for recipient i: its reply (sent in RCPT order, as soon as
 * those before it are answered). Ignored for a session no longer delivering. */
void lmtp_session_delivered(struct lmtp_session *s, size_t i, enum lmtp_delivery_status st);

/* Server shutdown: "421 4.3.2" and close, at once when idle, after the running delivery
 * otherwise. */
void lmtp_session_bye(struct lmtp_session *s);

void *lmtp_session_owner(struct lmtp_session *s);
const char *lmtp_session_id(const struct lmtp_session *s);
const char *lmtp_session_remote_ip(const struct lmtp_session *s);

#endif
