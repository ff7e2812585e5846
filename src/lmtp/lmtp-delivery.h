/* lmtp-delivery.h: local delivery of one spooled message into one user's store. Shared by the
 * LMTP process (once per accepted recipient) and `kura deliver`.
 *
 * What is stored: the trace fields kura prepends (Return-Path, Delivered-To, and over LMTP a
 * Received field, in Dovecot's forms: "Return-Path: <sender>", "Delivered-To: address"),
 * followed by the spooled bytes. The mailbox is the preferred one (the address's detail, or
 * `kura deliver -m`) when it exists, else INBOX; a mailbox deleted between the lookup and the
 * append is retried as INBOX. The append goes through store_append, so it returns only after
 * the message is on stable storage, and every session of the user (IDLE included) hears of it
 * through the store's change notification.
 *
 * Quotas: the store has none yet. lmtp_deliver() asks lmtp_delivery_over_quota() first; once
 * the store tracks quota, that answer makes the delivery OVERQUOTA (552 5.2.2 over LMTP). */
#ifndef KURA_LMTP_DELIVERY_H
#define KURA_LMTP_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/spool.h"
#include "store/store.h"

enum lmtp_delivery_status {
	LMTP_DELIVERED = 0,
	LMTP_DELIVERY_TEMPFAIL,  /* store or I/O failure: 451 4.3.0 / EX_TEMPFAIL */
	LMTP_DELIVERY_OVERQUOTA, /* 552 5.2.2 */
	LMTP_DELIVERY_TOOBIG,    /* 552 5.3.4 */
};

struct lmtp_delivery {
	const char *return_path;  /* envelope sender ("" = null sender); NULL: no Return-Path */
	const char *delivered_to; /* recipient address; NULL: no Delivered-To */
	const char *received;     /* a whole Received field with its CRLF, or NULL */
	const char *mailbox;      /* preferred mailbox; NULL: INBOX */
	uint64_t max_size;        /* largest message (append_limit), not counting the
				   prepended fields; 0: no limit */
};

struct lmtp_delivery_result {
	enum lmtp_delivery_status status;
	char mailbox[STORE_MAILBOX_NAME_MAX + 1]; /* where it went */
	uint32_t uidvalidity, uid;
	const char *error;                        /* for the log; valid until the next call */
};

/* Deliver the spool's message. Returns 0 when delivered, -1 otherwise (r says why). */
int lmtp_deliver(struct store *store, struct spool *spool, const struct lmtp_delivery *d,
		 struct lmtp_delivery_result *r);

/* The parts of lmtp_deliver, for the lmtp process's group commit (store.h, store-stage.c),
 * which writes one message once for all its recipients:
 * the trace fields of d (return_path, delivered_to, received) appended to prefix; */
void lmtp_delivery_prefix(struct buf *prefix, const struct lmtp_delivery *d);
/* prefix + the spool as one range (valid until the next view of the spool), TOOBIG when the
 * spooled message is over max_size (0: no limit); -1 with r set; */
int lmtp_delivery_view(struct spool *spool, const struct buf *prefix, uint64_t max_size,
		       const unsigned char **data_r, size_t *size_r,
		       struct lmtp_delivery_result *r);
/* and the delivery of those bytes into the mailbox d asks for (d's trace fields and max_size
 * are not used here): with staged, through store_append_staged (durable only after the
 * caller's store_stage_sync), without, through store_append. */
struct lmtp_staged {
	struct store_stage *stage;
	const struct store_staged *body;
	bool created; /* store_stage_link made the file */
};
int lmtp_deliver_bytes(struct store *store, const unsigned char *data, size_t size,
		       const struct lmtp_staged *staged, const struct lmtp_delivery *d,
		       struct lmtp_delivery_result *r);

/* The quota hook (see above): always false for now. */
bool lmtp_delivery_over_quota(struct store *store, uint64_t size);

/* Append a Received field (RFC 5321 4.4) for an LMTP delivery to out:
 *   Received: from HELO ([IP])            -- "(local)" for the UNIX socket (ip NULL)
 *   \tby HOSTNAME with LMTP id SESSION    -- UTF8LMTP when SMTPUTF8 was used (RFC 6531 4.3)
 *   \t(envelope-from <SENDER>)
 *   \tfor <RCPT>; DATE                     -- "for" only when rcpt is not NULL
 * All strings must be free of CR and LF (the parser and lmtp_helo_sanitize see to it). */
void lmtp_received_field(struct buf *out, const char *helo, const char *ip, const char *hostname,
			 const char *session_id, const char *sender, const char *rcpt, bool utf8,
			 time_t now);

#endif
